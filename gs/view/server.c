/* server.c - the small HTTP/1.1 server behind `gs view`: GET/HEAD of a
 * fixed set of routes (view.h), one request per connection, a detached thread
 * per connection up to a bound (slow clients: see conn_slot), loopback unless
 * told otherwise. Nothing is read from the file system on a client's behalf
 * except the download files this server wrote itself into its private
 * temporary folder. */
#include "gs/view/view.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_DOWNLOADS 3
static const char *const k_dl_ext[N_DOWNLOADS] = {"ply", "splat", "spz"};
/* SPZ version 3 (gzip): the newest that the common web viewers read. */
#define VIEW_SPZ_VERSION 3
/* Sending a response may take `timeout` seconds plus its size at this rate
 * (bytes/s): a 100 MB download may take about 1.7 h, a client that reads
 * slower than a 2G phone line cannot hold a slot for longer. */
#define VIEW_MIN_SEND_RATE 16384.0
/* Connections younger than this (seconds) are not evicted: their heads may
 * still be on the way, as in a burst of a browser's parallel requests. */
#define VIEW_EVICT_AGE 0.25

/* Slow clients (slowloris) and the bounded connection table:
 *  - a connection has `timeout` seconds from its accept to send its whole
 *    request head: one deadline, not one per recv, so trickling a byte now
 *    and then does not extend it. Late heads are answered 408.
 *  - answering has a deadline too: at most `timeout` seconds without any
 *    progress, and `timeout` + size / VIEW_MIN_SEND_RATE in all.
 *  - when every slot is taken and another connection waits in the listen
 *    backlog, the connection that has waited longest for its head (and at
 *    least VIEW_EVICT_AGE) is evicted, answered 408: its reading side is
 *    shut (shutdown(SHUT_RD) wakes the poll of its thread; what has arrived
 *    is still read, so a complete head is still served). Connections that
 *    are answering a request are never evicted, the send deadlines bound
 *    them. So however many slots clients hold without sending a head, a
 *    newcomer waits for one eviction only (about VIEW_EVICT_AGE at worst),
 *    and new connections only push out ones that are slow to send a head.
 *    The newcomer itself is then the youngest, evicted last. */
enum { SLOT_HEAD, SLOT_BUSY }; /* reading the request head / answering it */
typedef struct {
    int fd;       /* -1 when the slot is free */
    int state;    /* SLOT_* */
    int evicted;  /* its reading side was shut to make room */
    uint64_t seq; /* order of arrival */
    double since; /* gs_now() at accept */
} conn_slot;

struct gs_view_server {
    int fd;
    int port;
    int loopback;
    char url[320];
    char title[256];
    char base[256];
    const gs_scene *scene;
    uint8_t *packed;
    size_t packed_n;
    char *cams_json;
    size_t cams_n;
    char *page;
    size_t page_n;
    pthread_mutex_t mu;     /* guards everything below */
    pthread_cond_t cv;
    char tmpdir[4096];      /* "" until the first download */
    int tmp_slot[N_DOWNLOADS + 1]; /* its files and itself in the signal cleanup table */
    int dl_ready[N_DOWNLOADS];
    int active, max_conn;
    conn_slot *conn;        /* [max_conn] */
    uint64_t accepted;      /* connections accepted so far */
    double timeout;         /* head deadline from accept; longest send stall */
    gs_view_log_fn log;
    void *log_ctx;
};

/* ---- request parsing ------------------------------------------------------------ */
static void set_error(gs_view_response *r, int status, const char *reason) {
    r->status = status;
    r->content_type = "text/plain; charset=utf-8";
    r->body = NULL;
    r->body_len = 0;
    r->file[0] = 0;
    r->filename[0] = 0;
    r->is_page = 0;
    snprintf(r->reason, sizeof r->reason, "%s", reason);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Loopback names a browser on this machine uses: localhost, 127.x.y.z, [::1]. */
static int host_is_loopback(const char *h, size_t n) {
    while (n && (*h == ' ' || *h == '\t')) { h++; n--; }
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t')) n--;
    size_t name_n = n;
    if (n && h[0] == '[') {
        const char *close = memchr(h, ']', n);
        if (!close) return 0;
        size_t k = (size_t)(close - h) + 1;
        if (k < n && h[k] != ':') return 0;
        return k == 5 && !memcmp(h, "[::1]", 5);
    }
    const char *colon = memchr(h, ':', n);
    if (colon) {
        name_n = (size_t)(colon - h);
        for (const char *p = colon + 1; p < h + n; p++)
            if (*p < '0' || *p > '9') return 0;
    }
    if (name_n == 9 && !strncasecmp(h, "localhost", 9)) return 1;
    if (name_n < 4 || name_n > 15 || memcmp(h, "127.", 4)) return 0;
    char buf[16];
    memcpy(buf, h, name_n);
    buf[name_n] = 0;
    struct in_addr a;
    return inet_pton(AF_INET, buf, &a) == 1;
}

/* The drawable splats (SPZ cannot store the others); a view of the scene
 * itself when all are. */
static gs_status drawable_scene(const gs_scene *s, gs_scene *out, int *owned) {
    int64_t n = 0;
    for (int64_t i = 0; i < s->n; i++) n += gs_view_splat_valid(s, i);
    *owned = 0;
    if (n == s->n) { *out = *s; return GS_OK; }
    gs_status st = gs_scene_alloc(out, n, s->sh_degree);
    if (st) return st;
    *owned = 1;
    out->antialiased = s->antialiased;
    const size_t k = (size_t)gs_sh_coeffs(s->sh_degree) * 3;
    int64_t j = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (!gs_view_splat_valid(s, i)) continue;
        memcpy(out->means + 3 * j, s->means + 3 * i, 3 * sizeof(float));
        memcpy(out->scales + 3 * j, s->scales + 3 * i, 3 * sizeof(float));
        memcpy(out->rotations + 4 * j, s->rotations + 4 * i, 4 * sizeof(float));
        out->opacities[j] = s->opacities[i];
        memcpy(out->sh + k * (size_t)j, s->sh + k * (size_t)i, k * sizeof(float));
        j++;
    }
    return GS_OK;
}

static gs_status ensure_download(gs_view_server *srv, int which, char *path, size_t n) {
    gs_status st = GS_OK;
    pthread_mutex_lock(&srv->mu);
    if (!srv->tmpdir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(srv->tmpdir, sizeof srv->tmpdir, "%s/gs-view-XXXXXX", t && t[0] ? t : "/tmp");
        if (!mkdtemp(srv->tmpdir)) {
            st = gs_error(GS_ERR_IO, "%s: cannot create a temporary folder for downloads: %s", srv->tmpdir, strerror(errno));
            srv->tmpdir[0] = 0;
        } else { /* a signal that stops gs view removes the folder too */
            char f[4200];
            for (int k = 0; k < N_DOWNLOADS; k++) {
                snprintf(f, sizeof f, "%s/scene.%s", srv->tmpdir, k_dl_ext[k]);
                srv->tmp_slot[k] = gs_cleanup_add(f, 0);
            }
            srv->tmp_slot[N_DOWNLOADS] = gs_cleanup_add(srv->tmpdir, 1);
        }
    }
    if (!st) {
        if (snprintf(path, n, "%s/scene.%s", srv->tmpdir, k_dl_ext[which]) >= (int)n)
            st = gs_error(GS_ERR_INVALID, "%s: temporary folder name too long", srv->tmpdir);
        else if (!srv->dl_ready[which]) {
            gs_scene d;
            int owned = 0;
            st = drawable_scene(srv->scene, &d, &owned);
            if (!st) st = which == 2 ? gs_spz_write(path, &d, VIEW_SPZ_VERSION) : gs_scene_write(path, &d);
            if (owned) gs_scene_free(&d);
            if (!st) srv->dl_ready[which] = 1;
        }
    }
    pthread_mutex_unlock(&srv->mu);
    return st;
}

void gs_view_handle(gs_view_server *srv, const char *req, size_t len, gs_view_response *r) {
    memset(r, 0, sizeof *r);
    if (len > GS_VIEW_MAX_REQUEST) { set_error(r, 431, "request head too large"); return; }
    if (!req || memchr(req, 0, len)) { set_error(r, 400, "malformed request"); return; }
    const char *eol = memchr(req, '\n', len);
    if (!eol) { set_error(r, 400, "malformed request line"); return; }
    size_t line_n = (size_t)(eol - req);
    if (line_n && req[line_n - 1] == '\r') line_n--;
    /* METHOD SP TARGET SP VERSION */
    const char *sp1 = memchr(req, ' ', line_n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', line_n - (size_t)(sp1 + 1 - req)) : NULL;
    if (!sp1 || !sp2 || sp2 == sp1 + 1 || memchr(sp2 + 1, ' ', line_n - (size_t)(sp2 + 1 - req))) {
        set_error(r, 400, "malformed request line");
        return;
    }
    size_t method_n = (size_t)(sp1 - req), target_n = (size_t)(sp2 - sp1 - 1), version_n = line_n - (size_t)(sp2 + 1 - req);
    const char *target = sp1 + 1, *version = sp2 + 1;
    if (version_n != 8 || (memcmp(version, "HTTP/1.1", 8) && memcmp(version, "HTTP/1.0", 8))) {
        set_error(r, 400, "unsupported HTTP version");
        return;
    }
    int get = method_n == 3 && !memcmp(req, "GET", 3), head = method_n == 4 && !memcmp(req, "HEAD", 4);
    if (!get && !head) { set_error(r, 405, "only GET and HEAD are served"); return; }
    r->head_only = head;

    /* headers: only Host matters (DNS rebinding: a page from elsewhere that
     * resolves its own name to 127.0.0.1 must not read the scene) */
    int n_host = 0, host_ok = 1;
    for (const char *p = eol + 1; p < req + len;) {
        const char *e = memchr(p, '\n', (size_t)(req + len - p));
        size_t n = e ? (size_t)(e - p) : (size_t)(req + len - p);
        if (n && p[n - 1] == '\r') n--;
        if (n == 0) break;
        if (n >= 5 && !strncasecmp(p, "host:", 5)) {
            n_host++;
            if (srv->loopback && !host_is_loopback(p + 5, n - 5)) host_ok = 0;
        }
        if (!e) break;
        p = e + 1;
    }
    if (n_host > 1) { set_error(r, 400, "more than one Host header"); return; }
    if (!host_ok) { set_error(r, 403, "this server answers only requests for a loopback host name"); return; }

    if (target_n == 0 || target[0] != '/') { set_error(r, 400, "only origin-form request targets (/path) are served"); return; }
    if (target_n > 2048) { set_error(r, 414, "request target too long"); return; }
    for (size_t i = 0; i < target_n; i++)
        if (target[i] == '?' || target[i] == '#') { target_n = i; break; }
    char path[2049];
    size_t pn = 0;
    for (size_t i = 0; i < target_n; i++) {
        char c = target[i];
        if (c == '%') {
            int hi = i + 2 < target_n ? hexval(target[i + 1]) : -1, lo = i + 2 < target_n ? hexval(target[i + 2]) : -1;
            if (hi < 0 || lo < 0) { set_error(r, 400, "bad percent-encoding in the path"); return; }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if ((unsigned char)c < 0x20 || c == 0x7f || c == '\\') { set_error(r, 400, "control character or backslash in the path"); return; }
        path[pn++] = c;
    }
    path[pn] = 0;
    /* no "." or ".." segments, encoded or not, and nothing is served from disk anyway */
    for (const char *s = path; *s;) {
        const char *e = strchr(s + 1, '/');
        size_t n = e ? (size_t)(e - s - 1) : strlen(s + 1);
        if ((n == 1 && s[1] == '.') || (n == 2 && s[1] == '.' && s[2] == '.')) {
            set_error(r, 400, "path traversal refused");
            return;
        }
        if (!e) break;
        s = e;
    }

    r->status = 200;
    if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
        r->content_type = "text/html; charset=utf-8";
        r->body = (const uint8_t *)srv->page;
        r->body_len = srv->page_n;
        r->is_page = 1;
    } else if (!strcmp(path, "/scene.bin")) {
        r->content_type = "application/octet-stream";
        r->body = srv->packed;
        r->body_len = srv->packed_n;
    } else if (!strcmp(path, "/cameras.json")) {
        r->content_type = "application/json";
        r->body = (const uint8_t *)srv->cams_json;
        r->body_len = srv->cams_n;
    } else if (!strncmp(path, "/download/", 10) && path[10] && !strchr(path + 10, '/')) {
        const char *dot = strrchr(path + 10, '.');
        int which = -1;
        for (int k = 0; dot && k < N_DOWNLOADS; k++)
            if (!strcasecmp(dot + 1, k_dl_ext[k])) which = k;
        if (which < 0) { set_error(r, 404, "downloads are .ply, .splat or .spz"); return; }
        if (ensure_download(srv, which, r->file, sizeof r->file)) {
            char msg[200];
            snprintf(msg, sizeof msg, "cannot write the download: %s", gs_last_error());
            set_error(r, 500, msg);
            return;
        }
        r->content_type = "application/octet-stream";
        snprintf(r->filename, sizeof r->filename, "%s.%s", srv->base, k_dl_ext[which]);
    } else {
        set_error(r, 404, "not found");
    }
}

/* ---- sockets ------------------------------------------------------------------------ */
/* Connection sockets are non-blocking; every wait is a poll with a deadline. */

/* Wait for `events` on fd until gs_now() reaches `until`: 1 when ready (or
 * hung up: the next recv/send tells), 0 at the deadline, -1 on error. */
static int wait_fd(int fd, short events, double until) {
    for (;;) {
        double left = until - gs_now();
        if (left <= 0) return 0;
        struct pollfd p = {fd, events, 0};
        int k = poll(&p, 1, left > 1e6 ? 1000000000 : (int)(left * 1000) + 1);
        if (k > 0) return 1;
        if (k < 0 && errno != EINTR) return -1;
    }
}

/* At most `stall` seconds without progress, and done by `until`. */
static int send_all(int fd, const void *data, size_t n, double stall, double until) {
    const char *p = data;
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            double t = gs_now() + stall;
            if (wait_fd(fd, POLLOUT, t < until ? t : until) > 0) continue;
        }
        return -1;
    }
    return 0;
}

static const char *status_text(int s) {
    switch (s) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    default: return "Internal Server Error";
    }
}

static const char k_page_csp[] =
    "default-src 'none'; script-src 'unsafe-inline'; worker-src blob:; style-src 'unsafe-inline'; "
    "img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/* Returns the body bytes sent (or -1 when the client went away or was too
 * slow). `timeout`: the longest stall, and the base of the overall deadline. */
static long long send_response(int fd, const gs_view_response *r, double timeout) {
    char reason_body[sizeof r->reason + 2];
    const uint8_t *body = r->body;
    size_t body_n = r->body_len;
    int file_fd = -1;
    if (r->status != 200) {
        body_n = (size_t)snprintf(reason_body, sizeof reason_body, "%s\n", r->reason);
        body = (const uint8_t *)reason_body;
    } else if (r->file[0]) {
        struct stat st;
        file_fd = open(r->file, O_RDONLY | O_CLOEXEC);
        if (file_fd < 0 || fstat(file_fd, &st) || st.st_size < 0) {
            if (file_fd >= 0) close(file_fd);
            gs_view_response e = *r;
            set_error(&e, 500, "cannot open the download file");
            return send_response(fd, &e, timeout);
        }
        body_n = (size_t)st.st_size;
    }
    char h[1400];
    int hn = snprintf(h, sizeof h,
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
                      "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n%s%s%s%s%s%s%s"
                      "Connection: close\r\n\r\n",
                      r->status, status_text(r->status), r->content_type ? r->content_type : "text/plain", body_n,
                      r->is_page ? "Content-Security-Policy: " : "", r->is_page ? k_page_csp : "", r->is_page ? "\r\n" : "",
                      r->filename[0] ? "Content-Disposition: attachment; filename=\"" : "", r->filename,
                      r->filename[0] ? "\"\r\n" : "", r->status == 405 ? "Allow: GET, HEAD\r\n" : "");
    long long sent = -1;
    const double until = gs_now() + timeout + (double)(body_n + (size_t)(hn > 0 ? hn : 0)) / VIEW_MIN_SEND_RATE;
    if (hn > 0 && (size_t)hn < sizeof h && !send_all(fd, h, (size_t)hn, timeout, until)) {
        if (r->head_only) sent = 0;
        else if (file_fd >= 0) {
            static const size_t CH = 1 << 16;
            char *buf = malloc(CH);
            size_t left = body_n;
            while (buf && left) {
                ssize_t k = read(file_fd, buf, left < CH ? left : CH);
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0 || send_all(fd, buf, (size_t)k, timeout, until)) break;
                left -= (size_t)k;
            }
            free(buf);
            if (!left) sent = (long long)body_n;
        } else if (!send_all(fd, body, body_n, timeout, until)) {
            sent = (long long)body_n;
        }
    }
    if (file_fd >= 0) close(file_fd);
    return sent;
}

typedef struct {
    gs_view_server *srv;
    int fd, slot;
    double since; /* gs_now() at accept */
} conn_arg;

static void log_request(gs_view_server *srv, const char *req, size_t n, const gs_view_response *r, long long sent) {
    if (!srv->log) return;
    char line[512], first[200];
    size_t k = 0;
    for (size_t i = 0; i < n && req[i] != '\r' && req[i] != '\n' && k + 1 < sizeof first; i++)
        first[k++] = (req[i] >= 0x20 && req[i] < 0x7f) ? req[i] : '?';
    first[k] = 0;
    if (r->status == 200)
        snprintf(line, sizeof line, "%.200s -> %d%s", first, r->status, sent < 0 ? " (client went away)" : "");
    else
        snprintf(line, sizeof line, "%.200s -> %d %.200s", k ? first : "-", r->status, r->reason);
    srv->log(srv->log_ctx, line);
}

enum { HEAD_COMPLETE, HEAD_TOO_LARGE, HEAD_TIMEOUT, HEAD_CLOSED };

/* The request head into req[GS_VIEW_MAX_REQUEST + 1], up to its blank line,
 * by `until` (one deadline for the whole head). Returns HEAD_*. */
static int read_head(int fd, char *req, size_t *len, double until) {
    size_t n = 0;
    int ret = HEAD_CLOSED;
    for (;;) {
        ssize_t k = recv(fd, req + n, GS_VIEW_MAX_REQUEST + 1 - n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = wait_fd(fd, POLLIN, until);
            if (w > 0) continue;
            if (w == 0) ret = HEAD_TIMEOUT;
            break;
        }
        if (k <= 0) break; /* closed by the client, by stop, or evicted */
        size_t from = n > 3 ? n - 3 : 0;
        n += (size_t)k;
        int complete = 0;
        for (size_t i = from; i + 1 < n && !complete; i++)
            if (req[i] == '\n' && (req[i + 1] == '\n' || (req[i + 1] == '\r' && i + 2 < n && req[i + 2] == '\n'))) complete = 1;
        if (complete) { ret = HEAD_COMPLETE; break; }
        if (n > GS_VIEW_MAX_REQUEST) { ret = HEAD_TOO_LARGE; break; }
    }
    *len = n;
    return ret;
}

/* A head that did not come: 408 for the deadline or an eviction, nothing
 * for a client that hung up (or the server stopping). */
static int head_error(gs_view_server *srv, int head, int evicted, gs_view_response *r) {
    memset(r, 0, sizeof *r);
    char msg[120];
    if (evicted && head != HEAD_TIMEOUT)
        snprintf(msg, sizeof msg, "the server is busy: idle connections make room for new ones");
    else if (head == HEAD_TIMEOUT)
        snprintf(msg, sizeof msg, "request head not complete within %g s", srv->timeout);
    else
        return 0;
    set_error(r, 408, msg);
    return 1;
}

static void *conn_main(void *p) {
    conn_arg a = *(conn_arg *)p;
    free(p);
    gs_view_server *srv = a.srv;
    char *req = malloc(GS_VIEW_MAX_REQUEST + 1);
    size_t n = 0;
    int head = req ? read_head(a.fd, req, &n, a.since + srv->timeout) : HEAD_CLOSED;
    pthread_mutex_lock(&srv->mu);
    int evicted = srv->conn[a.slot].evicted;
    if (head == HEAD_COMPLETE || head == HEAD_TOO_LARGE) srv->conn[a.slot].state = SLOT_BUSY;
    pthread_mutex_unlock(&srv->mu);
    gs_view_response *r = req ? malloc(sizeof *r) : NULL;
    if (r) {
        int answer = 1;
        if (head == HEAD_COMPLETE || head == HEAD_TOO_LARGE) gs_view_handle(srv, req, n, r);
        else answer = head_error(srv, head, evicted, r);
        if (answer) {
            long long sent = send_response(a.fd, r, srv->timeout);
            log_request(srv, req, n, r, sent);
        }
        free(r);
    }
    free(req);
    pthread_mutex_lock(&srv->mu);
    srv->conn[a.slot] = (conn_slot){-1, SLOT_HEAD, 0, 0, 0};
    srv->active--;
    shutdown(a.fd, SHUT_WR);
    close(a.fd);
    pthread_cond_broadcast(&srv->cv);
    pthread_mutex_unlock(&srv->mu);
    return NULL;
}

/* Another connection waits and every slot is taken: evict the connection
 * that has waited longest for its request head, if it has waited at least
 * VIEW_EVICT_AGE and no eviction is still under way; then wait up to 100 ms
 * for a free slot. Returns 1 when one is free, 0 when not yet, -1 when every
 * slot is answering a request (nothing to evict: the newcomer gets a 503).
 * Called with srv->mu held. */
static int make_room(gs_view_server *srv) {
    if (srv->active < srv->max_conn) return 1;
    conn_slot *oldest = NULL;
    int pending = 0;
    for (int i = 0; i < srv->max_conn; i++) {
        conn_slot *c = &srv->conn[i];
        if (c->fd < 0 || c->state != SLOT_HEAD) continue;
        if (c->evicted) pending = 1;
        else if (!oldest || c->seq < oldest->seq) oldest = c;
    }
    /* every slot answering a request (slow downloads): the newcomer is told
     * to come back rather than left in the backlog */
    if (!pending && !oldest) return -1;
    if (!pending && oldest && gs_now() - oldest->since >= VIEW_EVICT_AGE) {
        oldest->evicted = 1;
        shutdown(oldest->fd, SHUT_RD);
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100000000L;
    if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
    pthread_cond_timedwait(&srv->cv, &srv->mu, &ts);
    return srv->active < srv->max_conn;
}

gs_status gs_view_server_bound_address(const gs_view_server *srv, char *buf, size_t n, int *is_loopback) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(srv->fd, (struct sockaddr *)&ss, &sl))
        return gs_error(GS_ERR_IO, "view server: getsockname: %s", strerror(errno));
    int lb = 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        lb = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
        if (buf && !inet_ntop(AF_INET, &a->sin_addr, buf, (socklen_t)n)) return gs_error(GS_ERR_INVALID, "view server: address buffer too small");
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        lb = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
             (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
        if (buf && !inet_ntop(AF_INET6, &a->sin6_addr, buf, (socklen_t)n)) return gs_error(GS_ERR_INVALID, "view server: address buffer too small");
    } else {
        return gs_error(GS_ERR_UNSUPPORTED, "view server: unexpected address family %d", (int)ss.ss_family);
    }
    if (is_loopback) *is_loopback = lb;
    return GS_OK;
}

gs_status gs_view_server_open(gs_view_server **out, const gs_view_server_opts *o, const gs_scene *s,
                              const gs_cameras *cams) {
    *out = NULL;
    gs_view_server_opts def = {0};
    if (!o) o = &def;
    const char *host = o->host && o->host[0] ? o->host : "127.0.0.1";
    if (o->port < 0 || o->port > 65535) return gs_error(GS_ERR_INVALID, "view server: port %d out of range (0-65535)", o->port);
    if (o->max_connections < 0 || o->max_connections > 1024)
        return gs_error(GS_ERR_INVALID, "view server: max_connections %d out of range (1-1024)", o->max_connections);
    if (o->io_timeout < 0 || o->io_timeout > 3600 || o->io_timeout != o->io_timeout)
        return gs_error(GS_ERR_INVALID, "view server: io_timeout %g out of range (0-3600 s)", o->io_timeout);
    gs_view_server *srv = gs_calloc(1, sizeof *srv, "view server");
    if (!srv) return GS_ERR_NOMEM;
    srv->fd = -1;
    srv->scene = s;
    srv->max_conn = o->max_connections ? o->max_connections : 16;
    srv->timeout = o->io_timeout > 0 ? o->io_timeout : 15;
    srv->log = o->log;
    srv->log_ctx = o->log_ctx;
    snprintf(srv->title, sizeof srv->title, "%s", o->title && o->title[0] ? o->title : "scene");
    gs_view_safe_name(o->download_base ? o->download_base : "scene", srv->base, sizeof srv->base);
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->cv, NULL);
    srv->conn = gs_malloc((size_t)srv->max_conn, sizeof *srv->conn, "view server connections");
    gs_status st = srv->conn ? GS_OK : GS_ERR_NOMEM;
    for (int i = 0; !st && i < srv->max_conn; i++) srv->conn[i] = (conn_slot){-1, SLOT_HEAD, 0, 0, 0};
    if (!st) st = gs_view_pack(s, &srv->packed, &srv->packed_n, NULL);
    if (!st) st = gs_view_cameras_json(cams, &srv->cams_json, &srv->cams_n);
    gs_view_page_opts po = {srv->title, srv->base, 0};
    if (!st) st = gs_view_page(&po, srv->cams_json, srv->packed, srv->packed_n, &srv->page, &srv->page_n);
    if (st) { gs_view_server_close(srv); return st; }

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", o->port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai) {
        gs_view_server_close(srv);
        return gs_error(GS_ERR_INVALID, "view server: cannot resolve host '%s': %s", host, gai_strerror(gai));
    }
    int err = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) { err = errno; continue; }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
            err = errno;
            close(fd);
            continue;
        }
        srv->fd = fd;
        break;
    }
    freeaddrinfo(res);
    if (srv->fd < 0) {
        gs_view_server_close(srv);
        return gs_error(GS_ERR_IO, "view server: cannot listen on %s port %d: %s%s", host, o->port, strerror(err),
                        err == EADDRINUSE ? " (another program uses it; pick another --port, or 0 for any free one)" : "");
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char addr[INET6_ADDRSTRLEN] = "";
    st = gs_view_server_bound_address(srv, addr, sizeof addr, &srv->loopback);
    if (!st && getsockname(srv->fd, (struct sockaddr *)&ss, &sl)) st = gs_error(GS_ERR_IO, "view server: getsockname: %s", strerror(errno));
    if (st) { gs_view_server_close(srv); return st; }
    srv->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
    int v6 = ss.ss_family == AF_INET6;
    /* a wildcard address is not something to type into a browser */
    if (!strcmp(addr, "0.0.0.0")) snprintf(addr, sizeof addr, "127.0.0.1");
    if (!strcmp(addr, "::")) snprintf(addr, sizeof addr, "::1");
    snprintf(srv->url, sizeof srv->url, "http://%s%s%s:%d/", v6 ? "[" : "", addr, v6 ? "]" : "", srv->port);
    *out = srv;
    return GS_OK;
}

int gs_view_server_port(const gs_view_server *srv) { return srv ? srv->port : 0; }
const char *gs_view_server_url(const gs_view_server *srv) { return srv ? srv->url : ""; }

/* Accept one connection and answer 503 at once (a short reply fits in an
 * empty socket buffer: the send does not wait), then close it. */
static void refuse_busy(gs_view_server *srv) {
    int cfd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (cfd < 0) {
        if (errno == EMFILE || errno == ENFILE) usleep(100000);
        return;
    }
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                               "Retry-After: 5\r\nContent-Length: 53\r\nConnection: close\r\n\r\n"
                               "the viewer is busy with downloads: retry in a moment\n";
    ssize_t k = send(cfd, busy, sizeof busy - 1, MSG_NOSIGNAL);
    (void)k;
    close(cfd);
    if (srv->log) srv->log(srv->log_ctx, "- -> 503 every slot is sending a response");
}

gs_status gs_view_server_run(gs_view_server *srv, volatile sig_atomic_t *stop) {
    if (!srv || srv->fd < 0) return gs_error(GS_ERR_INVALID, "view server: not open");
    while (!(stop && *stop)) {
        struct pollfd pfd = {srv->fd, POLLIN, 0};
        int k = poll(&pfd, 1, 100);
        if (k <= 0) continue; /* timeout, or EINTR from the stop signal */
        pthread_mutex_lock(&srv->mu);
        int room = make_room(srv);
        pthread_mutex_unlock(&srv->mu);
        if (!room) continue;
        if (room < 0) {
            refuse_busy(srv);
            continue;
        }
        int cfd = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) {
            if (errno == EMFILE || errno == ENFILE) usleep(100000);
            continue;
        }
        conn_arg *a = malloc(sizeof *a);
        pthread_mutex_lock(&srv->mu);
        int slot = -1;
        for (int i = 0; i < srv->max_conn; i++)
            if (srv->conn[i].fd < 0) { slot = i; break; }
        pthread_t th;
        pthread_attr_t attr;
        int started = 0;
        if (a && slot >= 0 && !pthread_attr_init(&attr)) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            double now = gs_now();
            *a = (conn_arg){srv, cfd, slot, now};
            srv->conn[slot] = (conn_slot){cfd, SLOT_HEAD, 0, ++srv->accepted, now};
            srv->active++;
            if (pthread_create(&th, &attr, conn_main, a)) {
                srv->conn[slot].fd = -1;
                srv->active--;
            } else {
                started = 1;
            }
            pthread_attr_destroy(&attr);
        }
        pthread_mutex_unlock(&srv->mu);
        if (!started) { free(a); close(cfd); }
    }
    /* stop: end the transfers in flight, then wait for their threads */
    pthread_mutex_lock(&srv->mu);
    for (int i = 0; i < srv->max_conn; i++)
        if (srv->conn[i].fd >= 0) shutdown(srv->conn[i].fd, SHUT_RDWR);
    while (srv->active > 0) pthread_cond_wait(&srv->cv, &srv->mu);
    pthread_mutex_unlock(&srv->mu);
    return GS_OK;
}

void gs_view_server_close(gs_view_server *srv) {
    if (!srv) return;
    if (srv->fd >= 0) close(srv->fd);
    if (srv->tmpdir[0]) {
        char p[4200];
        for (int k = 0; k < N_DOWNLOADS; k++) {
            snprintf(p, sizeof p, "%s/scene.%s", srv->tmpdir, k_dl_ext[k]);
            unlink(p);
        }
        rmdir(srv->tmpdir);
        for (int k = 0; k <= N_DOWNLOADS; k++) gs_cleanup_remove(srv->tmp_slot[k]);
    }
    pthread_mutex_destroy(&srv->mu);
    pthread_cond_destroy(&srv->cv);
    free(srv->conn);
    free(srv->packed);
    free(srv->cams_json);
    free(srv->page);
    free(srv);
}
