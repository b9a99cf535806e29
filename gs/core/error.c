/* error.c - status codes and the per-thread last-error message, plus the
 * bounded allocators every parser uses for sizes that come from files. */
#include "gs/core/runtime.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_err[8192];

gs_status gs_error(gs_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_err, sizeof g_err, fmt, ap);
    va_end(ap);
    return st;
}

gs_status gs_error_prefix(gs_status st, const char *fmt, ...) {
    char pre[256], old[sizeof g_err];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, g_err, sizeof old);
    size_t k = strlen(pre);
    if (k > sizeof g_err - 3) k = sizeof g_err - 3;
    memcpy(g_err, pre, k);
    memcpy(g_err + k, ": ", 2);
    size_t room = sizeof g_err - k - 3;
    size_t m = strnlen(old, room);
    memcpy(g_err + k + 2, old, m);
    g_err[k + 2 + m] = 0;
    return st;
}

const char *gs_last_error(void) { return g_err[0] ? g_err : "no error recorded"; }
void gs_clear_error(void) { g_err[0] = 0; }

const char *gs_status_name(gs_status st) {
    switch (st) {
    case GS_OK: return "ok";
    case GS_ERR_IO: return "i/o error";
    case GS_ERR_FORMAT: return "format error";
    case GS_ERR_INVALID: return "invalid argument";
    case GS_ERR_NOMEM: return "out of memory";
    case GS_ERR_UNSUPPORTED: return "unsupported";
    case GS_ERR_DEVICE: return "device error";
    case GS_ERR_NOT_FOUND: return "not found";
    }
    return "unknown status";
}

int gs_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

static void *alloc_impl(size_t n, size_t size, const char *what, int zero) {
    size_t total;
    if (!gs_mul_ok(n, size, &total) || total > GS_MAX_ALLOC) {
        gs_error(GS_ERR_NOMEM, "%s: refusing to allocate %zu x %zu bytes (over the %zu GiB bound)",
                 what ? what : "allocation", n, size, GS_MAX_ALLOC >> 30);
        return NULL;
    }
    if (total == 0) total = 1;
    void *p = zero ? calloc(1, total) : malloc(total);
    if (!p) gs_error(GS_ERR_NOMEM, "%s: out of memory allocating %zu bytes", what ? what : "allocation", total);
    return p;
}

void *gs_malloc(size_t n, size_t size, const char *what) { return alloc_impl(n, size, what, 0); }
void *gs_calloc(size_t n, size_t size, const char *what) { return alloc_impl(n, size, what, 1); }

/* ---- warnings ------------------------------------------------------------------ */
static gs_warn_fn g_warn_fn;
static void *g_warn_ctx;

void gs_set_warn_handler(gs_warn_fn fn, void *ctx) {
    g_warn_fn = fn;
    g_warn_ctx = ctx;
}

void gs_warn(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (g_warn_fn) g_warn_fn(g_warn_ctx, msg);
    else fprintf(stderr, "gs: warning: %s\n", msg);
}
