/* test_view.c - `gs view`: the GSV1 scene data (against the .splat writer),
 * the cameras JSON, the page, the HTTP server (routes, path traversal, Host
 * check, loopback by default, shutdown, slow clients), --html, and the page
 * itself in a real headless Chromium, compared with our CPU rasterizer.
 *
 * The browser test drives Chromium through --remote-debugging-pipe (Chrome
 * DevTools Protocol as NUL-separated JSON on fds 3 and 4): --screenshot with
 * --virtual-time-budget does not work here, because virtual time does not
 * wait for the page's sort worker, so the screenshot would be taken before
 * the first sorted frame. It skips when no chromium binary is installed. */
#include "tests/test.h"
#include "gs/view/view.h"
#include "data/image.h"
#include "data/scene.h"
#include "eval/metrics.h"
#include "raster/raster.h"
#include "raster/trajectory.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

/* ---- helpers ------------------------------------------------------------------ */

/* 5 splats: 4 valid with distinct sizes (so the .splat writer's order is
 * known) and one with a zero quaternion, which the viewer must drop. */
static void small_scene(gs_scene *s) {
    gs_scene_alloc(s, 5, 1);
    for (int i = 0; i < 5; i++) {
        s->means[3 * i] = 0.25f * (float)i - 0.5f;
        s->means[3 * i + 1] = -0.1f * (float)i;
        s->means[3 * i + 2] = 3.0f + 0.5f * (float)i;
        for (int k = 0; k < 3; k++) s->scales[3 * i + k] = 0.05f * (float)(i + 1) * (float)(k + 1);
        s->opacities[i] = 0.2f * (float)i + 0.1f;
        float q[4] = {0.9f, 0.1f * (float)i, -0.2f, 0.3f};
        memcpy(s->rotations + 4 * i, q, sizeof q);
        for (int c = 0; c < 3; c++) s->sh[(size_t)i * 4 * 3 + c] = 0.4f * (float)(c - 1) + 0.3f * (float)i - 0.5f;
        for (int k = 3; k < 12; k++) s->sh[(size_t)i * 12 + k] = 0.05f; /* degree 1: ignored by the viewer */
    }
    float zero[4] = {0, 0, 0, 0};
    memcpy(s->rotations + 4 * 2, zero, sizeof zero);
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int b64val(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decode n base64 characters; returns malloc'ed bytes or NULL. */
static uint8_t *b64_decode(const char *s, size_t n, size_t *out_n) {
    uint8_t *o = malloc(n / 4 * 3 + 3);
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; o && i < n; i++) {
        if (s[i] == '=') break;
        int v = b64val(s[i]);
        if (v < 0) { free(o); return NULL; }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) { bits -= 8; o[k++] = (uint8_t)(acc >> bits); }
    }
    *out_n = k;
    return o;
}

static uint8_t *gunzip_mem(const uint8_t *in, size_t n, size_t expect) {
    uint8_t *o = malloc(expect + 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!o || inflateInit2(&z, 15 + 16) != Z_OK) { free(o); return NULL; }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = o;
    z.avail_out = (uInt)expect + 1;
    int rc = inflate(&z, Z_FINISH);
    size_t got = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END || got != expect) { free(o); return NULL; }
    return o;
}

static int count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* ---- GSV1 ----------------------------------------------------------------------- */

TEST(view_pack_known_values_and_splat_parity) {
    gs_scene s;
    small_scene(&s);
    uint8_t *p = NULL;
    size_t n = 0;
    int64_t kept = 0;
    CHECK_OK(gs_view_pack(&s, &p, &n, &kept));
    CHECK_EQ_INT(kept, 4);
    CHECK_EQ_INT(n, 32 + 32 * 4);
    CHECK(p && !memcmp(p, "GSV1", 4));
    CHECK_EQ_INT(rd32(p + 4), 1);
    CHECK_EQ_INT(rd32(p + 8), 4);
    CHECK_EQ_INT(rd32(p + 12), 1);
    for (int k = 16; k < 32; k++) CHECK_EQ_INT(p[k], 0);
    /* splat 0 by hand: dc (-0.9, -0.5, -0.1) -> (0.5 + C0 dc) * 255 truncated */
    const uint8_t *rgba = p + 32 + 24 * 4, *rot = p + 32 + 28 * 4;
    CHECK_EQ_INT(rgba[0], 62);  /* (0.5 - 0.253885) * 255 = 62.76 */
    CHECK_EQ_INT(rgba[1], 91);  /* (0.5 - 0.141047) * 255 = 91.53 */
    CHECK_EQ_INT(rgba[2], 120); /* (0.5 - 0.028209) * 255 = 120.31 */
    CHECK_EQ_INT(rgba[3], 25);  /* 0.1 * 255 = 25.5 */
    /* q = (0.9, 0, -0.2, 0.3) / 0.9695 -> q * 128 + 128 truncated */
    CHECK_EQ_INT(rot[0], 246);
    CHECK_EQ_INT(rot[1], 128);
    CHECK_EQ_INT(rot[2], 101);
    CHECK_EQ_INT(rot[3], 167);
    float f[3];
    memcpy(f, p + 32 + 12 * 3, 12); /* kept splat 3 is scene splat 4 (2 was dropped) */
    CHECK_NEAR(f[0], 0.5, 0);
    CHECK_NEAR(f[2], 5.0, 0);
    memcpy(f, p + 32 + 12 * 4 + 12 * 3, 12);
    CHECK_NEAR(f[2], 0.75, 1e-6);

    /* the same bytes as our .splat writer, which orders by size * opacity
     * (descending: scene splats 4, 3, 1, 0; the invalid 2 it leaves out too) */
    const char *path = gs_test_tmp("pack.splat");
    CHECK_OK(gs_splat_write(path, &s));
    uint8_t *sp = NULL;
    size_t sn = 0;
    CHECK_OK(gs_read_file(path, 1 << 20, &sp, &sn));
    CHECK_EQ_INT(sn, 4 * 32);
    const int order[4] = {4, 3, 1, 0}, packed_index[5] = {0, 1, -1, 2, 3};
    for (int r = 0; sp && p && r < 4; r++) {
        int j = packed_index[order[r]];
        const uint8_t *row = sp + 32 * r;
        CHECK(!memcmp(row, p + 32 + 12 * j, 12));
        CHECK(!memcmp(row + 12, p + 32 + 12 * 4 + 12 * j, 12));
        CHECK(!memcmp(row + 24, p + 32 + 24 * 4 + 4 * j, 4));
        CHECK(!memcmp(row + 28, p + 32 + 28 * 4 + 4 * j, 4));
    }
    free(sp);
    free(p);

    /* NaN position and negative scale are dropped too; an empty scene packs to a header */
    s.means[0] = NAN;
    s.scales[3 * 1 + 1] = -1;
    CHECK_OK(gs_view_pack(&s, &p, &n, &kept));
    CHECK_EQ_INT(kept, 2);
    free(p);
    gs_scene_free(&s);
    gs_scene e;
    CHECK_OK(gs_scene_alloc(&e, 0, 0));
    CHECK_OK(gs_view_pack(&e, &p, &n, NULL));
    CHECK_EQ_INT(n, 32);
    free(p);
    gs_scene_free(&e);
    gs_scene bad = {0};
    bad.n = 3;
    CHECK_ERR(gs_view_pack(&bad, &p, &n, NULL), "invalid scene");
    CHECK(p == NULL);
}

TEST(view_cameras_json_round_trip) {
    gs_cameras c = {0};
    c.n = 3;
    c.cams = calloc(3, sizeof *c.cams);
    for (int i = 0; i < 3; i++) {
        gs_camera *k = &c.cams[i];
        double q[4] = {cos(0.3 * i), sin(0.3 * i) * 0.6, sin(0.3 * i) * 0.8, 0};
        gs_quat_to_rotmat(q, k->R);
        k->t[0] = 0.1 * i; k->t[1] = -1.0 / 3.0; k->t[2] = 4;
        k->fx = 500.123456789; k->fy = 501; k->cx = 320.5; k->cy = 240.25;
        k->width = 640; k->height = 480;
        k->has_pose = i != 1; /* camera 1: intrinsics only, left out */
        snprintf(k->name, sizeof k->name, "img</script>%d.png", i);
    }
    char *js = NULL;
    size_t n = 0;
    CHECK_OK(gs_view_cameras_json(&c, &js, &n));
    CHECK(js && n == strlen(js));
    gs_cameras back = {0};
    CHECK_OK(gs_cameras_read_json_mem(js, n, "view.json", ".", &back, NULL));
    CHECK_EQ_INT(back.n, 2);
    for (int i = 0; i < back.n && i < 2; i++) {
        const gs_camera *a = &c.cams[i == 0 ? 0 : 2], *b = &back.cams[i];
        for (int k = 0; k < 9; k++) CHECK_NEAR(a->R[k], b->R[k], 0);
        for (int k = 0; k < 3; k++) CHECK_NEAR(a->t[k], b->t[k], 0);
        CHECK_NEAR(a->fx, b->fx, 0);
        CHECK_NEAR(a->cy, b->cy, 0);
        CHECK_STR(a->name, b->name);
    }
    gs_cameras_free(&back);
    free(js);
    CHECK_OK(gs_view_cameras_json(NULL, &js, &n));
    CHECK(js && strstr(js, "\"cameras\":[]"));
    free(js);
    c.cams[0].fx = NAN;
    CHECK_ERR(gs_view_cameras_json(&c, &js, &n), "camera 0");
    CHECK(js == NULL);
    gs_cameras_free(&c);
}

/* ---- the page -------------------------------------------------------------------- */

TEST(view_page_inlines_scripts_and_escapes) {
    size_t n1 = 0, n2 = 0, n3 = 0;
    const char *idx = gs_view_asset("index.html", &n1), *js = gs_view_asset("viewer.js", &n2),
               *wk = gs_view_asset("sort_worker.js", &n3);
    CHECK(idx && js && wk);
    CHECK(gs_view_asset("../../etc/passwd", NULL) == NULL);
    if (!idx || !js || !wk) return;
    CHECK(strlen(idx) == n1 && strlen(js) == n2 && strlen(wk) == n3);
    CHECK(strstr(idx, "<!--GS:SCRIPTS-->") && strstr(js, "getContext('webgl2'"));

    gs_scene s;
    small_scene(&s);
    uint8_t *packed = NULL;
    size_t pn = 0;
    CHECK_OK(gs_view_pack(&s, &packed, &pn, NULL));
    const char *cams = "{\"format\":\"gs-cameras\",\"version\":1,\"cameras\":[{\"name\":\"</script><b>x\"}]}";
    gs_view_page_opts o = {"a<b>&\"c</script>", "my scene/../x", 0};
    char *html = NULL;
    size_t hn = 0;
    CHECK_OK(gs_view_page(&o, cams, packed, pn, &html, &hn));
    CHECK(html && strlen(html) == hn);
    if (html) {
        CHECK(strstr(html, "<title>a&lt;b&gt;&amp;&quot;c&lt;/script&gt; - gs view</title>"));
        CHECK(!strstr(html, "{{TITLE}}") && !strstr(html, "<!--GS:"));
        CHECK(strstr(html, "Content-Security-Policy"));
        CHECK(strstr(html, "\"mode\":\"server\""));
        CHECK(strstr(html, "\"downloadBase\":\"my_scene_.._x\""));
        CHECK(strstr(html, "\\u003c/script>\\u003cb>x"));
        /* exactly the four inlined scripts close: nothing a value could inject */
        int closes = 0;
        for (const char *p = html; (p = strstr(p, "</script>")); p++) closes++;
        CHECK_EQ_INT(closes, 3);
        CHECK(strstr(html, js) != NULL);
        CHECK(!strstr(html, "id=\"gs-data\""));
    }
    free(html);

    /* stand-alone: the embedded data is base64(gzip(GSV1)) */
    o.standalone = 1;
    CHECK_OK(gs_view_page(&o, NULL, packed, pn, &html, &hn));
    const char *tag = html ? strstr(html, "<script id=\"gs-data\" type=\"application/octet-stream\">") : NULL;
    CHECK(tag != NULL);
    if (tag) {
        const char *b = strchr(tag, '>') + 1, *e = strstr(b, "</script>");
        size_t gzn = 0;
        uint8_t *gz = e ? b64_decode(b, (size_t)(e - b), &gzn) : NULL;
        CHECK(gz && gzn > 18 && gz[0] == 0x1f && gz[1] == 0x8b);
        uint8_t *raw = gz ? gunzip_mem(gz, gzn, pn) : NULL;
        CHECK(raw && !memcmp(raw, packed, pn));
        free(raw);
        free(gz);
        CHECK(strstr(html, "\"mode\":\"standalone\""));
    }
    free(html);
    CHECK_ERR(gs_view_page(&o, NULL, NULL, 0, &html, &hn), "needs the scene data");
    CHECK_ERR(gs_view_page(&o, "{not json", packed, pn, &html, &hn), "cameras JSON");
    CHECK(html == NULL);
    free(packed);
    gs_scene_free(&s);
}

/* ---- the server without sockets ------------------------------------------------- */

typedef struct { const char *req; int status; } req_case;

TEST(view_http_routes_traversal_and_host) {
    gs_scene s;
    small_scene(&s);
    gs_view_server *srv = NULL;
    gs_view_server_opts o = {0};
    o.port = 0;
    o.download_base = "small";
    CHECK_OK(gs_view_server_open(&srv, &o, &s, NULL));
    if (!srv) { gs_scene_free(&s); return; }
    static const req_case cases[] = {
        {"GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", 200},
        {"GET /index.html?x=1#y HTTP/1.1\r\nHost: localhost:80\r\n\r\n", 200},
        {"GET /scene.bin HTTP/1.0\r\n\r\n", 200},
        {"GET /cameras.json HTTP/1.1\r\nhost: [::1]:9\r\n\r\n", 200},
        {"HEAD / HTTP/1.1\r\n\r\n", 200},
        {"GET /%73cene.bin HTTP/1.1\r\n\r\n", 200},
        {"GET /../../etc/passwd HTTP/1.1\r\n\r\n", 400},
        {"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n", 400},
        {"GET /%2E%2E%2f%2E%2E%2fetc%2fpasswd HTTP/1.1\r\n\r\n", 400},
        {"GET /download/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\n\r\n", 400},
        {"GET /download/../../scene.ply HTTP/1.1\r\n\r\n", 400},
        {"GET /./scene.bin HTTP/1.1\r\n\r\n", 400},
        {"GET /.. HTTP/1.1\r\n\r\n", 400},
        {"GET /..\\..\\etc\\passwd HTTP/1.1\r\n\r\n", 400},
        {"GET /%5c..%5cetc HTTP/1.1\r\n\r\n", 400},
        {"GET /a%00b HTTP/1.1\r\n\r\n", 400},
        {"GET /%zz HTTP/1.1\r\n\r\n", 400},
        {"GET /% HTTP/1.1\r\n\r\n", 400},
        {"GET /etc/passwd HTTP/1.1\r\n\r\n", 404},
        {"GET //etc/passwd HTTP/1.1\r\n\r\n", 404},
        {"GET /tmp HTTP/1.1\r\n\r\n", 404},
        {"GET /download/ HTTP/1.1\r\n\r\n", 404},
        {"GET /download/x.exe HTTP/1.1\r\n\r\n", 404},
        {"GET /download/a/b.ply HTTP/1.1\r\n\r\n", 404},
        {"GET /...hidden HTTP/1.1\r\n\r\n", 404},
        {"GET http://example.com/ HTTP/1.1\r\n\r\n", 400},
        {"GET etc/passwd HTTP/1.1\r\n\r\n", 400},
        {"GET * HTTP/1.1\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405},
        {"DELETE /scene.bin HTTP/1.1\r\n\r\n", 405},
        {"GET / HTTP/2.0\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400},
        {"GET  / HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1 x\r\n\r\n", 400},
        {"garbage", 400},
        {"", 400},
        {"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n", 403},
        {"GET / HTTP/1.1\r\nHost: 127.0.0.1.evil.example\r\n\r\n", 403},
        {"GET / HTTP/1.1\r\nHost: localhost.evil.example:80\r\n\r\n", 403},
        {"GET / HTTP/1.1\r\nHost: [::1].evil\r\n\r\n", 403},
        {"GET / HTTP/1.1\r\nHost: 127.0.0.1:80x\r\n\r\n", 403},
        {"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        gs_view_response r;
        gs_view_handle(srv, cases[i].req, strlen(cases[i].req), &r);
        CHECK_MSG(r.status == cases[i].status, "request %zu \"%.40s\": status %d, expected %d (%s)", i, cases[i].req,
                  r.status, cases[i].status, r.reason);
        if (r.status != 200) CHECK(r.body == NULL && !r.file[0] && r.reason[0]);
    }
    gs_view_response r;
    gs_view_handle(srv, cases[0].req, strlen(cases[0].req), &r);
    CHECK(r.is_page && r.body && strstr((const char *)r.body, "<canvas") && !strncmp(r.content_type, "text/html", 9));
    gs_view_handle(srv, cases[2].req, strlen(cases[2].req), &r);
    CHECK_EQ_INT(r.body_len, 32 + 32 * 4);
    CHECK(r.body && !memcmp(r.body, "GSV1", 4));
    gs_view_handle(srv, cases[4].req, strlen(cases[4].req), &r);
    CHECK(r.head_only);
    /* a request head over the bound */
    char *big = malloc(GS_VIEW_MAX_REQUEST + 100);
    memset(big, 'a', GS_VIEW_MAX_REQUEST + 100);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    gs_view_handle(srv, big, GS_VIEW_MAX_REQUEST + 100, &r);
    CHECK_EQ_INT(r.status, 431);
    free(big);
    /* downloads: written once by our writers, named after download_base */
    static const char *const dl[] = {"ply", "splat", "spz"};
    for (int k = 0; k < 3; k++) {
        char req[128];
        snprintf(req, sizeof req, "GET /download/whatever.%s HTTP/1.1\r\n\r\n", dl[k]);
        gs_view_handle(srv, req, strlen(req), &r);
        CHECK_EQ_INT(r.status, 200);
        char want[32];
        snprintf(want, sizeof want, "small.%s", dl[k]);
        CHECK_STR(r.filename, want);
        gs_scene back;
        gs_scene_format fmt;
        CHECK_OK(gs_scene_read(r.file, &back, &fmt));
        CHECK_EQ_INT(back.n, 4); /* the drawable splats, as the page shows */
        CHECK_EQ_INT(fmt, k == 0 ? GS_FMT_PLY : k == 1 ? GS_FMT_SPLAT : GS_FMT_SPZ);
        CHECK_EQ_INT(back.sh_degree, k == 1 ? 0 : 1); /* .splat holds DC only */
        /* the .splat writer puts the biggest splat (scene splat 4, z = 5) first */
        if (back.n == 4) CHECK_NEAR(back.means[k == 1 ? 2 : 3 * 3 + 2], 5.0, k == 2 ? 1e-3 : 0);
        gs_scene_free(&back);
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", r.file);
    gs_view_server_close(srv);
    CHECK(!gs_file_exists(tmp)); /* the temporary downloads go with the server */
    gs_scene_free(&s);
}

/* The download files follow the rules the common web viewers' loaders
 * impose (docs/viewers.md): splat-transform's strict PLY header keywords,
 * GaussianSplats3D's and Spark's data offset right after "end_header\n",
 * antimatter15's 10 KB header; SPZ v3 in one gzip member whose size is
 * exactly header + attributes, positions in RUB fixed point (Spark reads
 * v1-v3 only, GaussianSplats3D v1-v2). */
TEST(view_downloads_meet_third_party_loader_rules) {
    gs_scene s;
    small_scene(&s);
    gs_view_server *srv = NULL;
    CHECK_OK(gs_view_server_open(&srv, NULL, &s, NULL));
    if (!srv) { gs_scene_free(&s); return; }
    gs_view_response r;
    const char *req = "GET /download/s.ply HTTP/1.1\r\n\r\n";
    gs_view_handle(srv, req, strlen(req), &r);
    uint8_t *d = NULL;
    size_t n = 0;
    CHECK_OK(gs_read_file(r.file, 1 << 20, &d, &n));
    const char *end = d ? strstr((char *)d, "end_header\n") : NULL;
    CHECK(end && end - (char *)d < 10240);
    if (end) {
        size_t hb = (size_t)(end - (char *)d) + 11;
        int line_no = 0, n_elem = 0, n_prop = 0, n_rest = 0, bad = 0;
        for (char *p = (char *)d; p < end;) {
            char *e = strchr(p, '\n');
            char line[256];
            snprintf(line, sizeof line, "%.*s", (int)(e - p), p);
            char w[4][64];
            int words = sscanf(line, "%63s %63s %63s %63s", w[0], w[1], w[2], w[3]);
            if (line_no == 0) bad |= strcmp(line, "ply") != 0;
            else if (line_no == 1) bad |= strcmp(line, "format binary_little_endian 1.0") != 0;
            else if (!strcmp(w[0], "comment")) {}
            else if (!strcmp(w[0], "element")) { n_elem++; bad |= words != 3 || strcmp(w[1], "vertex") || atoi(w[2]) != 4; }
            else if (!strcmp(w[0], "property")) {
                n_prop++;
                bad |= words != 3 || strcmp(w[1], "float");
                n_rest += !strncmp(w[2], "f_rest_", 7);
            } else bad = 1;
            CHECK_MSG(!bad, "PLY header line %d \"%s\"", line_no, line);
            line_no++;
            p = e + 1;
        }
        CHECK_EQ_INT(n_elem, 1);
        CHECK_EQ_INT(n_rest, 9); /* degree 1, channel-major f_rest_0..8 */
        CHECK_EQ_INT(n_prop, 17 + 9);
        CHECK_EQ_INT(n - hb, (size_t)4 * 4 * n_prop);
    }
    free(d);
    req = "GET /download/s.spz HTTP/1.1\r\n\r\n";
    gs_view_handle(srv, req, strlen(req), &r);
    CHECK_OK(gs_read_file(r.file, 1 << 20, &d, &n));
    CHECK(d && n > 2 && d[0] == 0x1f && d[1] == 0x8b);
    const size_t want = 16 + 4 * (9 + 1 + 3 + 3 + 4 + 9);
    uint8_t *raw = d ? gunzip_mem(d, n, want) : NULL; /* fails unless exactly `want` bytes */
    CHECK(raw != NULL);
    if (raw) {
        CHECK_EQ_INT(rd32(raw), 0x5053474e);
        CHECK_EQ_INT(rd32(raw + 4), 3);
        CHECK_EQ_INT(rd32(raw + 8), 4);
        CHECK_EQ_INT(raw[12], 1);
        CHECK_EQ_INT(raw[13], 12);
        CHECK_EQ_INT(raw[14], 0);
        CHECK_EQ_INT(raw[15], 0);
        /* the last splat is scene splat 4 at (0.5, -0.4, 5): RUB (0.5, 0.4, -5) x 4096 */
        const uint8_t *p = raw + 16 + 9 * 3;
        int32_t v[3];
        for (int k = 0; k < 3; k++) {
            uint32_t u = (uint32_t)p[3 * k] | (uint32_t)p[3 * k + 1] << 8 | (uint32_t)p[3 * k + 2] << 16;
            v[k] = (int32_t)(u << 8) >> 8;
        }
        CHECK_EQ_INT(v[0], 2048);
        CHECK_EQ_INT(v[1], 1638);
        CHECK_EQ_INT(v[2], -20480);
    }
    free(raw);
    free(d);
    gs_view_server_close(srv);
    gs_scene_free(&s);
}

TEST(view_server_binds_loopback_unless_told) {
    gs_scene s;
    small_scene(&s);
    gs_view_server *srv = NULL;
    char addr[64];
    int lb = 0;
    CHECK_OK(gs_view_server_open(&srv, NULL, &s, NULL)); /* no options: loopback, any free port */
    if (srv) {
        CHECK_OK(gs_view_server_bound_address(srv, addr, sizeof addr, &lb));
        CHECK_STR(addr, "127.0.0.1");
        gs_view_server_close(srv);
    }
    srv = NULL;
    gs_view_server_opts o = {0};
    CHECK_OK(gs_view_server_open(&srv, &o, &s, NULL));
    if (srv) {
        CHECK_OK(gs_view_server_bound_address(srv, addr, sizeof addr, &lb));
        CHECK_STR(addr, "127.0.0.1");
        CHECK_EQ_INT(lb, 1);
        CHECK(gs_view_server_port(srv) > 0);
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", gs_view_server_port(srv));
        CHECK_STR(gs_view_server_url(srv), url);
        /* the same port twice: a clear error */
        gs_view_server *two = NULL;
        gs_view_server_opts o2 = {0};
        o2.port = gs_view_server_port(srv);
        CHECK_ERR(gs_view_server_open(&two, &o2, &s, NULL), "another program uses it");
        CHECK(two == NULL);
        gs_view_server_close(srv);
    }
    /* only when asked: every interface, and then no Host check */
    o.host = "0.0.0.0";
    srv = NULL;
    CHECK_OK(gs_view_server_open(&srv, &o, &s, NULL));
    if (srv) {
        CHECK_OK(gs_view_server_bound_address(srv, addr, sizeof addr, &lb));
        CHECK_STR(addr, "0.0.0.0");
        CHECK_EQ_INT(lb, 0);
        gs_view_response r;
        const char *req = "GET / HTTP/1.1\r\nHost: 192.168.1.20:8080\r\n\r\n";
        gs_view_handle(srv, req, strlen(req), &r);
        CHECK_EQ_INT(r.status, 200);
        gs_view_server_close(srv);
    }
    o.host = "192.0.2.1"; /* TEST-NET-1: not an address of this machine */
    CHECK_ERR(gs_view_server_open(&srv, &o, &s, NULL), "cannot listen on 192.0.2.1");
    o.host = NULL;
    o.port = 70000;
    CHECK_ERR(gs_view_server_open(&srv, &o, &s, NULL), "out of range");
    gs_scene_free(&s);
}

/* ---- the server over sockets ----------------------------------------------------- */

typedef struct {
    gs_view_server *srv;
    volatile sig_atomic_t stop;
    gs_status st;
} server_thread;

static void *server_main(void *p) {
    server_thread *t = p;
    t->st = gs_view_server_run(t->srv, &t->stop);
    return NULL;
}

/* rcvbuf > 0: a small receive buffer (set before connecting, so the window
 * stays small), for clients that must stall a large answer. */
static int connect_port_rcvbuf(int port, int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a)) { close(fd); fd = -1; }
    return fd;
}
static int connect_port(int port) { return connect_port_rcvbuf(port, 0); }

/* Send a request and read the whole response (the server closes); NULL when
 * nothing came for `wait` seconds at a time. */
static char *http_get_wait(int port, const char *req, size_t *n, int wait) {
    int fd = connect_port(port);
    if (fd < 0) return NULL;
    struct timeval tv = {wait, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0) { close(fd); return NULL; }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) { cap *= 2; char *q = realloc(buf, cap); if (!q) break; buf = q; }
        ssize_t k = recv(fd, buf + len, cap - len - 1, 0);
        if (k <= 0) break;
        len += (size_t)k;
    }
    close(fd);
    buf[len] = 0;
    *n = len;
    return buf;
}

static char *http_get(int port, const char *req, size_t *n) { return http_get_wait(port, req, n, 10); }

/* What fd receives until the server closes it (or 2 s pass without data). */
static size_t recv_rest(int fd, char *buf, size_t cap) {
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t len = 0;
    for (ssize_t k; len + 1 < cap && (k = recv(fd, buf + len, cap - len - 1, 0)) > 0;) len += (size_t)k;
    buf[len] = 0;
    return len;
}

/* fd has data or end of file waiting (does not wait). */
static int readable_now(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

TEST(view_server_sockets_and_shutdown) {
    gs_scene s;
    small_scene(&s);
    server_thread t = {0};
    CHECK_OK(gs_view_server_open(&t.srv, NULL, &s, NULL));
    if (!t.srv) { gs_scene_free(&s); return; }
    int port = gs_view_server_port(t.srv);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, server_main, &t), 0);
    /* an idle connection must not hold up the others */
    int idle = connect_port(port);
    CHECK(idle >= 0);
    size_t n = 0;
    char *resp = http_get(port, "GET /scene.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &n);
    CHECK(resp && !strncmp(resp, "HTTP/1.1 200 OK\r\n", 17));
    CHECK(resp && strstr(resp, "Content-Length: 160\r\n") && strstr(resp, "Connection: close\r\n"));
    const char *body = resp ? strstr(resp, "\r\n\r\n") : NULL;
    CHECK(body && n - (size_t)(body + 4 - resp) == 160 && !memcmp(body + 4, "GSV1", 4));
    free(resp);
    resp = http_get(port, "GET /../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &n);
    CHECK(resp && !strncmp(resp, "HTTP/1.1 400 ", 13) && !strstr(resp, "root:"));
    free(resp);
    resp = http_get(port, "GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n", &n);
    CHECK(resp && !strncmp(resp, "HTTP/1.1 400 ", 13));
    free(resp);
    resp = http_get(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &n);
    CHECK(resp && strstr(resp, "Content-Security-Policy: default-src 'none'") && strstr(resp, "<canvas"));
    free(resp);
    resp = http_get(port, "GET /download/x.splat HTTP/1.1\r\n\r\n", &n);
    CHECK(resp && strstr(resp, "Content-Disposition: attachment; filename=\"scene.splat\"\r\n") &&
          strstr(resp, "Content-Length: 128\r\n")); /* 4 drawable splats */
    free(resp);
    /* stop with the idle connection still open: returns promptly */
    double t0 = gs_now();
    t.stop = 1;
    pthread_join(th, NULL);
    /* a liveness check, not a speed one: the server polls its stop flag, so a
     * stop that takes this long means it is stuck in a blocking call */
    CHECK_MSG(gs_now() - t0 < 30, "server took %.1f s to stop", gs_now() - t0);
    CHECK_OK(t.st);
    if (idle >= 0) {
        char c;
        struct timeval tv = {5, 0};
        setsockopt(idle, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        errno = 0;
        CHECK(recv(idle, &c, 1, 0) == 0 && errno == 0); /* closed by the server, not a timeout */
        close(idle);
    }
    gs_view_server_close(t.srv);
    int late = connect_port(port); /* the listening socket is gone */
    CHECK(late < 0);
    if (late >= 0) close(late);
    gs_scene_free(&s);
}

/* Issue 17 (slowloris). The head of a request has one deadline counted from
 * accept: a client that sends a byte every 0.2 s, well inside the 0.8 s
 * timeout that used to apply to each recv, is answered 408 and closed at
 * the deadline instead of holding its slot for as long as it likes. */
TEST(view_server_head_deadline_is_total_not_per_recv) {
    gs_scene s;
    small_scene(&s);
    server_thread t = {0};
    gs_view_server_opts o = {0};
    o.io_timeout = 0.8;
    CHECK_OK(gs_view_server_open(&t.srv, &o, &s, NULL));
    if (!t.srv) { gs_scene_free(&s); return; }
    int port = gs_view_server_port(t.srv);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, server_main, &t), 0);

    /* a head in a few pieces inside the deadline is served as usual */
    int fd = connect_port(port);
    CHECK(fd >= 0);
    static const char *const pieces[] = {"GET /scene.bin HT", "TP/1.1\r\nHost: 127.0.0.1\r\n", "\r\n"};
    for (int i = 0; fd >= 0 && i < 3; i++) {
        CHECK(send(fd, pieces[i], strlen(pieces[i]), MSG_NOSIGNAL) > 0);
        usleep(100000);
    }
    char resp[4096];
    if (fd >= 0) {
        recv_rest(fd, resp, sizeof resp);
        CHECK_MSG(!strncmp(resp, "HTTP/1.1 200 OK\r\n", 17), "got '%.40s'", resp);
        close(fd);
    }

    /* a byte every 0.2 s: never a stall of 0.8 s, but no head by the deadline */
    static const char slow[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    fd = connect_port(port);
    CHECK(fd >= 0);
    double t0 = gs_now(), closed_after = -1;
    resp[0] = 0;
    for (size_t i = 0; fd >= 0 && closed_after < 0 && gs_now() - t0 < 5;) {
        if (i + 1 < sizeof slow && send(fd, slow + i, 1, MSG_NOSIGNAL) == 1) i++;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 200) <= 0) continue;
        recv_rest(fd, resp, sizeof resp);
        closed_after = gs_now() - t0;
    }
    CHECK_MSG(closed_after >= 0.7 && closed_after < 4, "a trickling client was closed after %.2f s (-1: not in 5 s)",
              closed_after);
    CHECK_MSG(!strncmp(resp, "HTTP/1.1 408 Request Timeout\r\n", 30), "got '%.40s'", resp);
    if (fd >= 0) close(fd);
    t.stop = 1;
    pthread_join(th, NULL);
    CHECK_OK(t.st);
    gs_view_server_close(t.srv);
    gs_scene_free(&s);
}

/* One more byte of a never-ending header to each open fds[i], every 50 ms
 * for `secs` seconds. */
static void trickle(const int *fds, int n, double secs) {
    for (double t0 = gs_now(); gs_now() - t0 < secs;) {
        for (int i = 0; i < n; i++)
            if (fds[i] >= 0) send(fds[i], "s", 1, MSG_NOSIGNAL);
        usleep(50000);
    }
}

/* Issue 17: max_connections clients that trickle heads that never end (and
 * a timeout far longer than the test) must not lock out a normal GET: the
 * connection that has waited longest for its head makes room (408). Twice:
 * a slow client that takes the freed slot is younger than the others. */
TEST(view_server_slow_heads_do_not_starve_others) {
    gs_scene s;
    small_scene(&s);
    server_thread t = {0};
    gs_view_server_opts o = {0};
    o.max_connections = 4;
    o.io_timeout = 60;
    CHECK_OK(gs_view_server_open(&t.srv, &o, &s, NULL));
    if (!t.srv) { gs_scene_free(&s); return; }
    int port = gs_view_server_port(t.srv);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, server_main, &t), 0);
    int slow[5] = {-1, -1, -1, -1, -1}; /* [4] joins after the first round */
    for (int i = 0; i < 4; i++) {
        slow[i] = connect_port(port);
        CHECK(slow[i] >= 0);
        if (slow[i] >= 0) CHECK(send(slow[i], "GET / HTTP/1.1\r\nHo", 18, MSG_NOSIGNAL) == 18);
        trickle(slow, i + 1, 0.05); /* accepted one after the other */
    }
    trickle(slow, 4, 0.2);
    for (int i = 0; i < 4; i++) CHECK_MSG(slow[i] < 0 || !readable_now(slow[i]), "slow client %d was answered early", i);

    for (int round = 0; round < 2; round++) {
        if (round == 1) { /* the freed slot: taken by another slow head */
            slow[4] = connect_port(port);
            CHECK(slow[4] >= 0);
            if (slow[4] >= 0) CHECK(send(slow[4], "GET / HTTP/1.1\r\nHo", 18, MSG_NOSIGNAL) == 18);
            trickle(slow + 1, 4, 0.2);
        }
        size_t n = 0;
        double t0 = gs_now();
        char *resp = http_get_wait(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &n, 5);
        double took = gs_now() - t0;
        CHECK_MSG(resp && !strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) && strstr(resp, "<canvas"),
                  "round %d: GET / with every slot held by slow heads got '%.40s' after %.2f s", round,
                  resp ? resp : "(nothing)", took);
        CHECK_MSG(took < 3, "round %d: GET / took %.2f s", round, took);
        free(resp);
        /* the oldest slow head was the one evicted, the younger ones wait on */
        char buf[512];
        if (slow[round] >= 0) {
            recv_rest(slow[round], buf, sizeof buf);
            CHECK_MSG(!strncmp(buf, "HTTP/1.1 408 Request Timeout\r\n", 30), "evicted client %d got '%.40s'", round, buf);
        }
        for (int i = round + 1; i < 4 + round; i++)
            CHECK_MSG(slow[i] < 0 || !readable_now(slow[i]), "slow client %d was evicted too", i);
    }
    t.stop = 1;
    pthread_join(th, NULL);
    CHECK_OK(t.st);
    for (int i = 0; i < 5; i++)
        if (slow[i] >= 0) close(slow[i]);
    gs_view_server_close(t.srv);
    gs_scene_free(&s);
}

TEST(view_server_busy_with_downloads_answers_503) {
    /* downloads far larger than the loopback socket buffers, to clients that
     * do not read: every slot stays busy sending */
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 400000, 0));
    for (int64_t i = 0; i < s.n; i++) {
        s.means[3 * i] = (float)(i % 1000) * 1e-3f;
        s.means[3 * i + 1] = (float)(i / 1000) * 1e-3f;
        s.means[3 * i + 2] = 2;
        for (int k = 0; k < 3; k++) s.scales[3 * i + k] = 0.01f;
        s.opacities[i] = 0.5f;
    }
    server_thread t = {0};
    gs_view_server_opts o = {0};
    o.max_connections = 2;
    o.io_timeout = 60;
    CHECK_OK(gs_view_server_open(&t.srv, &o, &s, NULL));
    if (!t.srv) { gs_scene_free(&s); return; }
    int port = gs_view_server_port(t.srv);
    pthread_t th;
    CHECK_EQ_INT(pthread_create(&th, NULL, server_main, &t), 0);
    int dl[2];
    for (int i = 0; i < 2; i++) {
        dl[i] = connect_port_rcvbuf(port, 4096);
        CHECK(dl[i] >= 0);
        const char *req = "GET /download/scene.ply HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        if (dl[i] >= 0) CHECK(send(dl[i], req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req));
    }
    usleep(1500000); /* both heads read, both answers stalled on full buffers */
    size_t n = 0;
    double t0 = gs_now();
    char *resp = http_get_wait(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &n, 5);
    double took = gs_now() - t0;
    CHECK_MSG(resp && !strncmp(resp, "HTTP/1.1 503 Service Unavailable\r\n", 34) && strstr(resp, "Retry-After:"),
              "GET / while both slots send downloads got '%.40s' after %.2f s", resp ? resp : "(nothing)", took);
    CHECK_MSG(took < 2, "the 503 took %.2f s", took);
    free(resp);
    /* the downloads themselves were not disturbed: one reads its answer */
    char head[64] = {0};
    if (dl[0] >= 0) {
        struct timeval tv = {5, 0};
        setsockopt(dl[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        CHECK(recv(dl[0], head, sizeof head - 1, MSG_WAITALL) > 0);
        CHECK_MSG(!strncmp(head, "HTTP/1.1 200 OK\r\n", 17), "download got '%.40s'", head);
    }
    for (int i = 0; i < 2; i++)
        if (dl[i] >= 0) close(dl[i]);
    t.stop = 1;
    pthread_join(th, NULL);
    CHECK_OK(t.st);
    gs_view_server_close(t.srv);
    gs_scene_free(&s);
}

/* ---- the command ------------------------------------------------------------------ */



TEST(view_cli_html_is_complete_and_atomic) {
    NEED_GS_BIN();
    gs_scene s;
    small_scene(&s);
    const char *dir = gs_test_tmp("html_out");
    gs_mkdirs(dir);
    const char *scene = gs_test_tmp("html_scene.ply");
    CHECK_OK(gs_ply_write(scene, &s));
    char html[4200], cmd[9000], *out = NULL;
    snprintf(html, sizeof html, "%s/view.html", dir);
    CHECK_OK(gs_write_file_atomic(html, "old", 3));
    snprintf(cmd, sizeof cmd, "%s view --html %s %s 2>&1", getenv("GS_BIN"), html, scene);
    CHECK_EQ_INT(gs_test_run(cmd, &out), 0);
    CHECK(out && strstr(out, "4 splats")); /* the PLY writer left out the zero quaternion */
    free(out);
    uint8_t *d = NULL;
    size_t n = 0;
    CHECK_OK(gs_read_file(html, 1 << 26, &d, &n));
    CHECK(d && strstr((char *)d, "<canvas") && strstr((char *)d, "id=\"gs-data\"") &&
          strstr((char *)d, "\"mode\":\"standalone\"") && strstr((char *)d, "\"downloadBase\":\"html_scene\""));
    free(d);
    CHECK_EQ_INT(count_dir_entries(dir), 1); /* no temporary file left beside it */
    /* failures: no output */
    snprintf(cmd, sizeof cmd, "%s view --html %s/missing/dir/v.html %s 2>&1", getenv("GS_BIN"), dir, scene);
    CHECK_EQ_INT(gs_test_run(cmd, &out), 1);
    CHECK(out && strstr(out, "missing/dir"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s view --html %s/bad.html %s/nonexistent.ply 2>&1", getenv("GS_BIN"), dir, dir);
    CHECK_EQ_INT(gs_test_run(cmd, &out), 1);
    CHECK(out && strstr(out, "nonexistent.ply"));
    free(out);
    CHECK(!gs_file_exists(gs_test_tmp("html_out/bad.html")));
    CHECK_EQ_INT(count_dir_entries(dir), 1);
    snprintf(cmd, sizeof cmd, "%s view 2>&1", getenv("GS_BIN"));
    CHECK_EQ_INT(gs_test_run(cmd, &out), 2);
    CHECK(out && strstr(out, "no SCENE"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s view --port 99999 %s 2>&1", getenv("GS_BIN"), scene);
    CHECK_EQ_INT(gs_test_run(cmd, &out), 2);
    CHECK(out && strstr(out, "--port takes 0-65535"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s view --help 2>&1", getenv("GS_BIN"));
    CHECK_EQ_INT(gs_test_run(cmd, &out), 0);
    CHECK(out && strstr(out, "usage: gs view") && strstr(out, "--host ADDR"));
    free(out);
    gs_scene_free(&s);
}

TEST(view_cli_serves_until_sigint) {
    NEED_GS_BIN();
    gs_scene s;
    small_scene(&s);
    const char *scene = gs_test_tmp("sigint_scene.spz");
    s.rotations[4 * 2] = 1; /* SPZ cannot store the zero quaternion */
    CHECK_OK(gs_spz_write(scene, &s, 0));
    gs_scene_free(&s);
    int out[2];
    if (pipe(out)) { CHECK(0); return; }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        close(out[1]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);
        execl(getenv("GS_BIN"), "gs", "view", "--port", "0", "--no-open", "--quiet", scene, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char url[256] = "";
    size_t k = 0;
    struct pollfd pfd = {out[0], POLLIN, 0};
    double t0 = gs_now();
    while (k + 1 < sizeof url && gs_now() - t0 < 10 && poll(&pfd, 1, 200) >= 0) {
        if (!(pfd.revents & (POLLIN | POLLHUP))) continue;
        ssize_t r = read(out[0], url + k, 1);
        if (r <= 0 || url[k] == '\n') break;
        k++;
    }
    url[k] = 0;
    int port = 0;
    CHECK_MSG(sscanf(url, "http://127.0.0.1:%d/", &port) == 1 && port > 0, "URL line \"%s\"", url);
    size_t n = 0;
    char *resp = port ? http_get(port, "GET /cameras.json HTTP/1.1\r\nHost: localhost\r\n\r\n", &n) : NULL;
    CHECK(resp && !strncmp(resp, "HTTP/1.1 200", 12) && strstr(resp, "\"cameras\":[]"));
    free(resp);
    kill(pid, SIGINT);
    int status = 0;
    pid_t w = 0;
    for (t0 = gs_now(); (w = waitpid(pid, &status, WNOHANG)) == 0 && gs_now() - t0 < 5;) usleep(20000);
    CHECK_MSG(w == pid, "gs view did not stop within 5 s of SIGINT");
    if (w != pid) { kill(pid, SIGKILL); waitpid(pid, &status, 0); }
    else CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(out[0]);
}

/* ---- the page in a real browser ----------------------------------------------------- */

/* A minimal Chrome DevTools Protocol client over --remote-debugging-pipe. */
typedef struct {
    pid_t pid;
    int to, from;     /* our ends: write commands, read replies/events */
    char *buf;        /* unparsed bytes from the browser */
    size_t n, cap;
    int next_id;
    char session[128];
    char errors[2048]; /* JavaScript exceptions and console errors, as they came */
} cdp;

static const char *find_chromium(void) {
    static char found[512];
    const char *env = getenv("GS_CHROMIUM");
    if (env && env[0]) return access(env, X_OK) == 0 ? env : NULL;
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"};
    const char *path = getenv("PATH");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
            const char *e = strchr(p, ':');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            snprintf(found, sizeof found, "%.*s/%s", (int)len, p, names[i]);
            if (len && access(found, X_OK) == 0) return found;
            p += len + (e ? 1 : 0);
        }
    }
    return NULL;
}

static int cdp_start(cdp *c, const char *chromium, const char *profile, int w, int h) {
    memset(c, 0, sizeof *c);
    int in[2], out[2]; /* in: we write, chromium reads on fd 3; out: chromium writes fd 4 */
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) return -1;
    char size[64], prof[4200];
    snprintf(size, sizeof size, "--window-size=%d,%d", w, h);
    snprintf(prof, sizeof prof, "--user-data-dir=%s", profile);
    c->pid = fork();
    if (c->pid == 0) {
        /* move the pipe ends above 4 first so the dup2s cannot clobber each other */
        int r = fcntl(in[0], F_DUPFD, 10), wr = fcntl(out[1], F_DUPFD, 10);
        dup2(r, 3);
        dup2(wr, 4);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) { dup2(devnull, 0); dup2(devnull, 1); dup2(devnull, 2); }
        execl(chromium, chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
              "--enable-unsafe-swiftshader", "--remote-debugging-pipe", "--no-first-run", "--no-default-browser-check",
              "--disable-extensions", "--disable-background-networking", "--disable-sync", "--mute-audio",
              "--hide-scrollbars", "--disable-dev-shm-usage", size, prof, "about:blank", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->to = in[1];
    c->from = out[0];
    return c->pid > 0 ? 0 : -1;
}

static void note_event(cdp *c, const cJSON *m) {
    const cJSON *method = cJSON_GetObjectItem(m, "method"), *params = cJSON_GetObjectItem(m, "params");
    if (!cJSON_IsString(method) || !params) return;
    char line[600] = "";
    if (!strcmp(method->valuestring, "Runtime.exceptionThrown")) {
        const cJSON *d = cJSON_GetObjectItem(params, "exceptionDetails");
        const cJSON *ex = d ? cJSON_GetObjectItem(d, "exception") : NULL;
        const cJSON *desc = ex ? cJSON_GetObjectItem(ex, "description") : NULL;
        const cJSON *text = d ? cJSON_GetObjectItem(d, "text") : NULL;
        snprintf(line, sizeof line, "exception: %s; ", cJSON_IsString(desc) ? desc->valuestring : cJSON_IsString(text) ? text->valuestring : "?");
    } else if (!strcmp(method->valuestring, "Runtime.consoleAPICalled")) {
        const cJSON *type = cJSON_GetObjectItem(params, "type");
        const cJSON *args = cJSON_GetObjectItem(params, "args");
        const cJSON *a0 = args ? cJSON_GetArrayItem(args, 0) : NULL;
        const cJSON *v = a0 ? cJSON_GetObjectItem(a0, "value") : NULL;
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "error"))
            snprintf(line, sizeof line, "console.error: %s; ", cJSON_IsString(v) ? v->valuestring : "?");
    } else if (!strcmp(method->valuestring, "Log.entryAdded")) {
        const cJSON *e = cJSON_GetObjectItem(params, "entry");
        const cJSON *level = e ? cJSON_GetObjectItem(e, "level") : NULL, *text = e ? cJSON_GetObjectItem(e, "text") : NULL;
        if (cJSON_IsString(level) && !strcmp(level->valuestring, "error"))
            snprintf(line, sizeof line, "log error: %s; ", cJSON_IsString(text) ? text->valuestring : "?");
    }
    size_t used = strlen(c->errors);
    snprintf(c->errors + used, sizeof c->errors - used, "%s", line);
}

/* Send a command and wait (up to `timeout` s) for its reply; events that
 * arrive meanwhile are noted. Returns the reply (cJSON_Delete it) or NULL. */
static cJSON *cdp_call(cdp *c, const char *method, cJSON *params, int with_session, double timeout) {
    int id = ++c->next_id;
    cJSON *m = cJSON_CreateObject();
    cJSON_AddNumberToObject(m, "id", id);
    cJSON_AddStringToObject(m, "method", method);
    cJSON_AddItemToObject(m, "params", params ? params : cJSON_CreateObject());
    if (with_session) cJSON_AddStringToObject(m, "sessionId", c->session);
    char *text = cJSON_PrintUnformatted(m);
    cJSON_Delete(m);
    size_t len = strlen(text) + 1; /* with the NUL separator */
    int ok = 1;
    for (size_t off = 0; ok && off < len;) {
        ssize_t k = write(c->to, text + off, len - off);
        if (k < 0 && errno == EINTR) continue;
        ok = k > 0;
        off += ok ? (size_t)k : 0;
    }
    free(text);
    if (!ok) return NULL;
    double t0 = gs_now();
    for (;;) {
        char *z;
        while ((z = c->buf ? memchr(c->buf, 0, c->n) : NULL)) {
            cJSON *r = cJSON_Parse(c->buf);
            size_t used = (size_t)(z - c->buf) + 1;
            memmove(c->buf, c->buf + used, c->n - used);
            c->n -= used;
            if (!r) continue;
            const cJSON *rid = cJSON_GetObjectItem(r, "id");
            if (cJSON_IsNumber(rid) && rid->valueint == id) return r;
            note_event(c, r);
            cJSON_Delete(r);
        }
        double left = timeout - (gs_now() - t0);
        if (left <= 0) return NULL;
        struct pollfd pfd = {c->from, POLLIN, 0};
        if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0) continue;
        if (c->n + 65536 > c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 1 << 20;
            while (cap < c->n + 65536) cap *= 2;
            char *q = realloc(c->buf, cap);
            if (!q) return NULL;
            c->buf = q;
            c->cap = cap;
        }
        ssize_t k = read(c->from, c->buf + c->n, c->cap - c->n);
        if (k <= 0) return NULL; /* the browser went away */
        c->n += (size_t)k;
    }
}

static const cJSON *result_item(const cJSON *r, const char *key) {
    const cJSON *res = r ? cJSON_GetObjectItem(r, "result") : NULL;
    return res ? cJSON_GetObjectItem(res, key) : NULL;
}

static void cdp_stop(cdp *c) {
    if (c->pid > 0) {
        cJSON *r = cdp_call(c, "Browser.close", NULL, 0, 5);
        cJSON_Delete(r);
        close(c->to);
        close(c->from);
        int status;
        double t0 = gs_now();
        while (waitpid(c->pid, &status, WNOHANG) == 0) {
            if (gs_now() - t0 > 5) { kill(c->pid, SIGKILL); waitpid(c->pid, &status, 0); break; }
            usleep(20000);
        }
    }
    free(c->buf);
    c->buf = NULL;
}

/* Open a page target and attach to it; 0 on success. */
static int cdp_open_page(cdp *c, int w, int h) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "url", "about:blank");
    cJSON *r = cdp_call(c, "Target.createTarget", p, 0, 30);
    const cJSON *tid = result_item(r, "targetId");
    cJSON *a = NULL;
    if (cJSON_IsString(tid)) {
        p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "targetId", tid->valuestring);
        cJSON_AddBoolToObject(p, "flatten", 1);
        a = cdp_call(c, "Target.attachToTarget", p, 0, 10);
    }
    cJSON_Delete(r);
    const cJSON *sid = result_item(a, "sessionId");
    int ok = cJSON_IsString(sid);
    if (ok) snprintf(c->session, sizeof c->session, "%s", sid->valuestring);
    cJSON_Delete(a);
    if (!ok) return -1;
    cJSON_Delete(cdp_call(c, "Runtime.enable", NULL, 1, 10));
    cJSON_Delete(cdp_call(c, "Log.enable", NULL, 1, 10));
    cJSON_Delete(cdp_call(c, "Page.enable", NULL, 1, 10));
    p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "width", w);
    cJSON_AddNumberToObject(p, "height", h);
    cJSON_AddNumberToObject(p, "deviceScaleFactor", 1);
    cJSON_AddBoolToObject(p, "mobile", 0);
    cJSON_Delete(cdp_call(c, "Emulation.setDeviceMetricsOverride", p, 1, 10));
    return 0;
}

/* Evaluate a JavaScript expression to a string (into out). */
static void cdp_eval(cdp *c, const char *expr, char *out, size_t n) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "expression", expr);
    cJSON_AddBoolToObject(p, "returnByValue", 1);
    cJSON *r = cdp_call(c, "Runtime.evaluate", p, 1, 10);
    const cJSON *res = result_item(r, "result");
    const cJSON *v = res ? cJSON_GetObjectItem(res, "value") : NULL;
    snprintf(out, n, "%s", cJSON_IsString(v) ? v->valuestring : "");
    cJSON_Delete(r);
}

static const char k_status_js[] =
    "(document.documentElement.dataset.status || '') + "
    "(document.documentElement.dataset.error ? ': ' + document.documentElement.dataset.error : '')";

/* Load url and wait (up to 45 s) until the page sets data-status ("ok" or
 * "error: ..."); status gets it, or says that nothing came. */
static void cdp_load(cdp *c, const char *url, char *status, size_t n) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "url", url);
    cJSON_Delete(cdp_call(c, "Page.navigate", p, 1, 30));
    snprintf(status, n, "no status after 45 s");
    for (double t0 = gs_now(); gs_now() - t0 < 45; usleep(100000)) {
        char v[512];
        cdp_eval(c, k_status_js, v, sizeof v);
        if (v[0]) { snprintf(status, n, "%s", v); break; }
    }
}

/* A screenshot as an image (gs_image_free it); width 0 when it failed. */
static gs_image cdp_screenshot(cdp *c) {
    gs_image im = {0};
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "format", "png");
    cJSON *r = cdp_call(c, "Page.captureScreenshot", p, 1, 30);
    const cJSON *data = result_item(r, "data");
    size_t n = 0;
    uint8_t *png = cJSON_IsString(data) ? b64_decode(data->valuestring, strlen(data->valuestring), &n) : NULL;
    if (png && gs_image_read_mem(png, n, "screenshot.png", &im)) memset(&im, 0, sizeof im);
    free(png);
    cJSON_Delete(r);
    return im;
}

static void cdp_mouse(cdp *c, const char *type, double x, double y, int buttons) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "type", type);
    cJSON_AddNumberToObject(p, "x", x);
    cJSON_AddNumberToObject(p, "y", y);
    if (strcmp(type, "mouseMoved")) { cJSON_AddStringToObject(p, "button", "left"); cJSON_AddNumberToObject(p, "clickCount", 1); }
    cJSON_AddNumberToObject(p, "buttons", buttons);
    cJSON_Delete(cdp_call(c, "Input.dispatchMouseEvent", p, 1, 10));
}

static void cdp_key(cdp *c, const char *key, const char *code, int vk) {
    static const char *const types[2] = {"keyDown", "keyUp"};
    for (int i = 0; i < 2; i++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "type", types[i]);
        cJSON_AddStringToObject(p, "key", key);
        cJSON_AddStringToObject(p, "code", code);
        cJSON_AddNumberToObject(p, "windowsVirtualKeyCode", vk);
        cJSON_Delete(cdp_call(c, "Input.dispatchKeyEvent", p, 1, 10));
    }
}

/* The screenshot's RGB as floats [H][W][3] (malloc'ed). */
static float *image_rgb(const gs_image *im) {
    float *rgb = malloc(sizeof(float) * 3 * (size_t)im->width * im->height);
    for (int i = 0; rgb && i < im->width * im->height; i++)
        for (int c = 0; c < 3; c++) rgb[3 * i + c] = im->data[i * im->channels + c];
    return rgb;
}

TEST(view_browser_renders_like_the_rasterizer) {
    const char *chromium = find_chromium();
    if (!chromium) TEST_SKIP("no chromium in PATH (Debian: apt-get install chromium); set GS_CHROMIUM to use another");
    REQUIRE_DATA();
    gs_scene s;
    CHECK_OK(gs_scene_read(gs_test_data("splats/guitar.compressed.ply"), &s, NULL));
    if (!s.n) return;
    const int W = 320, H = 240;
    gs_cameras orbit = {0};
    CHECK_OK(gs_orbit_path(&s, NULL, 8, W, H, &orbit));
    gs_camera *cam = &orbit.cams[1];
    cam->fx *= 2.5; /* zoom in: the orbit frames the guitar with much black around it */
    cam->fy *= 2.5;
    gs_raster_opts ro;
    gs_raster_opts_default(&ro);
    gs_raster_out ref;
    CHECK_OK(gs_render_cpu(&s, cam, &ro, &ref));
    /* the stand-alone page of the same scene, for the second half */
    const char *html = gs_test_tmp("browser_view.html");
    CHECK_OK(gs_view_write_html(html, &s, NULL, "guitar", "guitar"));

    server_thread t = {0};
    CHECK_OK(gs_view_server_open(&t.srv, NULL, &s, NULL));
    pthread_t th;
    if (!t.srv || pthread_create(&th, NULL, server_main, &t)) {
        gs_view_server_close(t.srv);
        gs_raster_out_free(&ref); gs_cameras_free(&orbit); gs_scene_free(&s);
        CHECK(0);
        return;
    }
    char query[1024];
    int k = snprintf(query, sizeof query, "?ui=0&frusta=0&dpr=1&bg=0,0,0&view=%d,%d,%.17g,%.17g,%.17g,%.17g", W, H, cam->fx,
                     cam->fy, cam->cx, cam->cy);
    for (int i = 0; i < 9; i++) k += snprintf(query + k, sizeof query - (size_t)k, ",%.17g", cam->R[i]);
    for (int i = 0; i < 3; i++) k += snprintf(query + k, sizeof query - (size_t)k, ",%.17g", cam->t[i]);
    for (char *q = query; (q = strchr(q, '+'));) { /* "1e+20": '+' would read as a space */
        memmove(q + 3, q + 1, strlen(q + 1) + 1);
        memcpy(q, "%2B", 3);
    }
    char url[1400], status[512];
    snprintf(url, sizeof url, "%s%s", gs_view_server_url(t.srv), query);

    double t0 = gs_now();
    cdp c;
    int up = !cdp_start(&c, chromium, gs_test_tmp("chromium-profile"), W, H) && !cdp_open_page(&c, W, H);
    CHECK_MSG(up, "could not start %s with --remote-debugging-pipe", chromium);
    gs_image shot = {0}, moved = {0}, solo = {0};
    char sort_ms[32] = "";
    if (up) {
        cdp_load(&c, url, status, sizeof status);
        CHECK_MSG(!strcmp(status, "ok"), "page status \"%s\"", status);
        cdp_eval(&c, "document.documentElement.dataset.sortMs || ''", sort_ms, sizeof sort_ms);
        shot = cdp_screenshot(&c);
        /* the controls move the camera: a drag (orbit), then fly mode (each
         * event waits for a SwiftShader frame, so only a few) */
        cdp_mouse(&c, "mousePressed", 160, 120, 1);
        cdp_mouse(&c, "mouseMoved", 220, 140, 1);
        cdp_mouse(&c, "mouseReleased", 220, 140, 0);
        cdp_key(&c, "f", "KeyF", 70);
        char v[512];
        for (double t1 = gs_now(); gs_now() - t1 < 20; usleep(100000)) {
            cdp_eval(&c, "document.getElementById('stats').textContent", v, sizeof v);
            if (strstr(v, "; fly") && !strstr(v, "exact")) break;
        }
        CHECK_MSG(strstr(v, "; fly") && !strstr(v, "exact"), "panel after input: \"%s\"", v);
        usleep(500000);
        cdp_eval(&c, k_status_js, status, sizeof status);
        CHECK_MSG(!strcmp(status, "ok"), "page status after input \"%s\"", status);
        moved = cdp_screenshot(&c);
        /* the stand-alone file: same camera, data from the embedded base64 gzip */
        snprintf(url, sizeof url, "file://%s%s", html, query);
        cdp_load(&c, url, status, sizeof status);
        CHECK_MSG(!strcmp(status, "ok"), "stand-alone page status \"%s\"", status);
        solo = cdp_screenshot(&c);
        CHECK_MSG(!c.errors[0], "JavaScript errors: %s", c.errors);
        cdp_stop(&c);
    }
    double secs = gs_now() - t0;
    t.stop = 1;
    pthread_join(th, NULL);
    gs_view_server_close(t.srv);

    if (shot.data && shot.width == W && shot.height == H && shot.channels >= 3) {
        float *rgb = image_rgb(&shot);
        /* not blank: a good part of the frame is covered, with varied colours */
        int covered = 0;
        double mean = 0, var = 0;
        for (int i = 0; i < W * H; i++) {
            double l = (rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2]) / 3;
            covered += l > 0.02;
            mean += l;
        }
        mean /= W * H;
        for (int i = 0; i < W * H; i++) {
            double l = (rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2]) / 3 - mean;
            var += l * l;
        }
        double cover = (double)covered / (W * H), sd = sqrt(var / (W * H)), psnr = 0;
        CHECK_MSG(cover > 0.2, "only %.1f%% of the screenshot is covered", 100 * cover);
        CHECK_MSG(sd > 0.05, "screenshot is nearly uniform (sd %.4f)", sd);
        CHECK_OK(gs_psnr_f32(rgb, ref.rgb, W, H, 3, &psnr));
        /* the same over the pixels the scene covers, so the black border does not flatter it */
        double se = 0;
        int nm = 0;
        for (int i = 0; i < W * H; i++) {
            if (!(ref.alpha[i] > 0.05f)) continue;
            nm++;
            for (int ch = 0; ch < 3; ch++) {
                double v = ref.rgb[3 * i + ch] < 0 ? 0 : ref.rgb[3 * i + ch] > 1 ? 1 : ref.rgb[3 * i + ch];
                se += (rgb[3 * i + ch] - v) * (rgb[3 * i + ch] - v);
            }
        }
        double psnr_covered = nm && se > 0 ? 10 * log10(3.0 * nm / se) : 0;
        /* Measured (Chromium 156, SwiftShader): 43.6 dB over the frame, 40.4 dB
         * over the covered pixels. The page quantises colour, opacity and
         * rotation to 8 bits (.splat), blends back to front in an 8-bit
         * framebuffer and sorts once globally; a transposed rotation gives
         * 16.5 dB, so 30 dB separates a faithful render from a wrong one. */
        CHECK_MSG(psnr > 30, "browser vs rasterizer PSNR %.2f dB (<= 30)", psnr);
        CHECK_MSG(nm > W * H / 5 && psnr_covered > 30, "browser vs rasterizer PSNR over %d covered pixels %.2f dB (<= 30)",
                  nm, psnr_covered);
        double p_moved = 0, p_solo = 0;
        float *m = moved.width == W && moved.height == H ? image_rgb(&moved) : NULL;
        float *so = solo.width == W && solo.height == H ? image_rgb(&solo) : NULL;
        CHECK_MSG(m && !gs_psnr_f32(m, rgb, W, H, 3, &p_moved) && p_moved < 25,
                  "the view did not change after drag/fly input (PSNR %.1f dB to the first)", p_moved);
        CHECK_MSG(so && !gs_psnr_f32(so, rgb, W, H, 3, &p_solo) && p_solo > 50,
                  "stand-alone page differs from the served one (PSNR %.1f dB)", p_solo);
        fprintf(stderr, "    [browser vs CPU rasterizer: %.2f dB PSNR, %.2f dB over the %.0f%% covered; stand-alone page "
                        "%.1f dB to the served one; sort %s ms; %.1f s]\n",
                psnr, psnr_covered, 100.0 * nm / (W * H), p_solo, sort_ms, secs);
        free(m);
        free(so);
        free(rgb);
    } else {
        CHECK_MSG(0, "screenshot missing or %dx%d, expected %dx%d", shot.width, shot.height, W, H);
    }
    gs_image_free(&shot);
    gs_image_free(&moved);
    gs_image_free(&solo);
    gs_raster_out_free(&ref);
    gs_cameras_free(&orbit);
    gs_scene_free(&s);
}
