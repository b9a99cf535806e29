/* fileio.c - bounded whole-file reads, read-only memory maps, atomic writes
 * (temporary file + fsync + rename) and small path helpers. */
#include "gs/core/runtime.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t m) {
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISDIR(m)) return "a folder";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "a special file";
}

/* stat() first, so that nothing is opened that could block (a FIFO without a
 * writer) or act on open (a device); then open without blocking and check
 * that the file opened is still that regular file. */
gs_status gs_open_regular(const char *path, int *fd_out) {
    *fd_out = -1;
    struct stat sb, fb;
    if (stat(path, &sb) != 0) return gs_error(GS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return gs_error(GS_ERR_IO, "%s: is %s, not a regular file", path, file_kind(sb.st_mode));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return gs_error(GS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &fb) != 0 || !S_ISREG(fb.st_mode) || fb.st_ino != sb.st_ino || fb.st_dev != sb.st_dev) {
        close(fd);
        return gs_error(GS_ERR_IO, "%s: changed while being opened (not a regular file now)", path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
        close(fd);
        return gs_error(GS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    *fd_out = fd;
    return GS_OK;
}

gs_status gs_fopen_regular(const char *path, FILE **out) {
    *out = NULL;
    int fd;
    gs_status st = gs_open_regular(path, &fd);
    if (st) return st;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return gs_error(GS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    *out = f;
    return GS_OK;
}

gs_status gs_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size) {
    *data = NULL;
    *size = 0;
    int fd;
    gs_status st = gs_open_regular(path, &fd);
    if (st) return st;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return gs_error(GS_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if ((uint64_t)sb.st_size > max_bytes) {
        close(fd);
        return gs_error(GS_ERR_FORMAT, "%s: file is %lld bytes, over the %zu-byte limit for this kind of file",
                        path, (long long)sb.st_size, max_bytes);
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *buf = gs_malloc(n + 1, 1, path);
    if (!buf) { close(fd); return GS_ERR_NOMEM; }
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            st = gs_error(GS_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            break;
        }
        if (k == 0) {
            st = gs_error(GS_ERR_IO, "%s: the file became shorter while being read (%zu of %zu bytes); was it "
                          "rewritten meanwhile?", path, got, n);
            break;
        }
        got += (size_t)k;
    }
    close(fd);
    if (st) { free(buf); return st; }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return GS_OK;
}

gs_status gs_mmap_open(gs_mmap *m, const char *path) {
    memset(m, 0, sizeof *m);
    m->fd = -1;
    m->slot = -1;
    int fd;
    gs_status st = gs_open_regular(path, &fd);
    if (st) return st;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        close(fd);
        return gs_error(GS_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    m->size = (size_t)sb.st_size;
    m->fd = fd;
    if (m->size == 0) { m->data = (const uint8_t *)""; return GS_OK; }
    void *p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        m->fd = -1;
        return gs_error(GS_ERR_IO, "%s: mmap failed: %s", path, strerror(errno));
    }
    m->data = p;
    m->slot = gs_map_register(p, m->size, path);
    return GS_OK;
}

void gs_mmap_close(gs_mmap *m) {
    if (m->data && m->size) {
        gs_map_unregister(m->slot);
        munmap((void *)m->data, m->size);
    }
    if (m->fd >= 0) close(m->fd);
    memset(m, 0, sizeof *m);
    m->fd = -1;
    m->slot = -1;
}

gs_status gs_afile_open(gs_afile *a, const char *path) {
    static int counter;
    memset(a, 0, sizeof *a);
    size_t n = strlen(path) + 64;
    a->path = strdup(path);
    a->tmp = malloc(n);
    if (!a->path || !a->tmp) { free(a->path); free(a->tmp); return gs_error(GS_ERR_NOMEM, "%s: out of memory", path); }
    snprintf(a->tmp, n, "%s.tmp.%d.%d", path, (int)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    a->slot = gs_cleanup_add(a->tmp, 0); /* before the file exists: a signal cannot miss it */
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        gs_status st = gs_error(GS_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        gs_cleanup_remove(a->slot);
        free(a->path); free(a->tmp);
        memset(a, 0, sizeof *a);
        return st;
    }
    return GS_OK;
}

gs_status gs_afile_write(gs_afile *a, const void *data, size_t n) {
    if (!a->f) return gs_error(GS_ERR_INVALID, "write to a closed file");
    if (n && fwrite(data, 1, n, a->f) != n) return gs_error(GS_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
    return GS_OK;
}

gs_status gs_afile_commit(gs_afile *a) {
    gs_status st = GS_OK;
    if (!a->f) return gs_error(GS_ERR_INVALID, "commit of a closed file");
    if (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0)
        st = gs_error(GS_ERR_IO, "%s: write failed: %s", a->path, strerror(errno));
    if (fclose(a->f) != 0 && !st) st = gs_error(GS_ERR_IO, "%s: close failed: %s", a->path, strerror(errno));
    a->f = NULL;
    if (!st && rename(a->tmp, a->path) != 0) st = gs_error(GS_ERR_IO, "%s: rename failed: %s", a->path, strerror(errno));
    if (st) remove(a->tmp);
    gs_cleanup_remove(a->slot);
    free(a->path); free(a->tmp);
    memset(a, 0, sizeof *a);
    return st;
}

void gs_afile_abort(gs_afile *a) {
    if (a->f) { fclose(a->f); remove(a->tmp); gs_cleanup_remove(a->slot); }
    free(a->path); free(a->tmp);
    memset(a, 0, sizeof *a);
}

gs_status gs_write_file_atomic(const char *path, const void *data, size_t n) {
    gs_afile a;
    gs_status st = gs_afile_open(&a, path);
    if (st) return st;
    st = gs_afile_write(&a, data, n);
    if (st) { gs_afile_abort(&a); return st; }
    return gs_afile_commit(&a);
}

int gs_file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

const char *gs_exe_dir(void) {
    static char dir[4096];
    static int done;
    if (!done) {
        done = 1;
        char *p = realpath("/proc/self/exe", NULL);
        char *slash = p ? strrchr(p, '/') : NULL;
        if (slash && (size_t)(slash - p) < sizeof dir) {
            memcpy(dir, p, (size_t)(slash - p));
            dir[slash - p] = 0;
            if (!dir[0]) dir[0] = '/', dir[1] = 0; /* a program in / */
        }
        free(p);
    }
    return dir;
}

int gs_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

const char *gs_path_ext(const char *path, char *buf, size_t bufsize) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (!bufsize) return "";
    buf[0] = 0;
    if (!dot) return buf;
    size_t i = 0;
    for (; dot[i] && i + 1 < bufsize; i++) buf[i] = (char)tolower((unsigned char)dot[i]);
    buf[i] = 0;
    return buf;
}

int gs_path_ends_with(const char *path, const char *suffix) {
    size_t n = strlen(path), m = strlen(suffix);
    return n >= m && strcasecmp(path + n - m, suffix) == 0;
}

char *gs_path_join(char *buf, size_t n, const char *dir, const char *name) {
    size_t d = strlen(dir);
    if (d && dir[d - 1] == '/') snprintf(buf, n, "%s%s", dir, name);
    else snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

gs_status gs_mkdirs(const char *path) {
    char tmp[4096];
    if (strlen(path) >= sizeof tmp) return gs_error(GS_ERR_INVALID, "%s: path too long", path);
    strcpy(tmp, path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return gs_error(GS_ERR_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return gs_error(GS_ERR_IO, "%s: cannot create directory: %s", tmp, strerror(errno));
    if (!gs_is_dir(tmp)) return gs_error(GS_ERR_IO, "%s: exists and is not a directory", tmp);
    return GS_OK;
}

char *gs_path_stem(const char *path, char *buf, size_t n) {
    const char *b = strrchr(path, '/');
    snprintf(buf, n, "%s", b ? b + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
    return buf;
}
