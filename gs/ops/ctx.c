/* ctx.c - contexts and arenas of the op layer (ops.h): host or device
 * memory blocks handed out in stack order, the workspace an op takes its
 * scratch from, and copies to and from the context's memory. */
#include "gs/ops/ops.h"

#include "gs/cuda/cuda.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef GS_HAVE_CUDA
gs_status gs_cuda_blas_load(void) {
    return gs_error(GS_ERR_UNSUPPORTED, "cublas: this build has no CUDA support (nvcc was not found at build time)");
}
#endif

size_t gs_arena_round(size_t bytes) { return (bytes + GS_ARENA_ALIGN - 1) / GS_ARENA_ALIGN * GS_ARENA_ALIGN; }

gs_status gs_arena_create(gs_arena *a, gs_device dev, size_t bytes, const char *what) {
    memset(a, 0, sizeof *a);
    bytes = gs_arena_round(bytes ? bytes : 1);
    if (dev == GS_DEVICE_CUDA) {
#ifdef GS_HAVE_CUDA
        void *p = NULL;
        gs_status st = gs_cuda_alloc(&p, bytes, what);
        if (st != GS_OK) return st;
        a->base = p;
        a->on_device = 1;
#else
        return gs_error(GS_ERR_UNSUPPORTED, "%s: this build has no CUDA support", what);
#endif
    } else {
        if (bytes > GS_MAX_ALLOC)
            return gs_error(GS_ERR_NOMEM, "%s: %.1f MiB is over the %.0f GiB allocation bound", what,
                            (double)bytes / (1 << 20), (double)GS_MAX_ALLOC / (1 << 30));
        a->base = aligned_alloc(GS_ARENA_ALIGN, bytes);
        if (!a->base)
            return gs_error(GS_ERR_NOMEM, "%s: cannot allocate %.1f MiB of memory", what, (double)bytes / (1 << 20));
    }
    a->size = bytes;
    return GS_OK;
}

void gs_arena_destroy(gs_arena *a) {
    if (!a) return;
#ifdef GS_HAVE_CUDA
    if (a->on_device) gs_cuda_free(a->base);
    else
#endif
        free(a->base);
    memset(a, 0, sizeof *a);
}

void gs_arena_counting(gs_arena *a) {
    memset(a, 0, sizeof *a);
    a->counting = 1;
    a->size = SIZE_MAX;
}

void *gs_arena_take(gs_arena *a, size_t bytes, const char *what) {
    static max_align_t dummy; /* what a counting arena hands out: never used */
    if (!a) {
        gs_error(GS_ERR_NOMEM, "%s: no arena to take %zu bytes from", what, bytes);
        return NULL;
    }
    const size_t r = gs_arena_round(bytes);
    if (r < bytes || r > a->size - a->used) {
        gs_error(GS_ERR_NOMEM, "%s: %.2f MiB do not fit in the %.2f MiB left of a %.2f MiB plan", what,
                 (double)bytes / (1 << 20), (double)(a->size - a->used) / (1 << 20), (double)a->size / (1 << 20));
        return NULL;
    }
    void *p = a->counting ? (void *)&dummy : (void *)(a->base + a->used);
    a->used += r;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

float *gs_arena_floats(gs_arena *a, size_t n, const char *what) {
    size_t bytes;
    if (!gs_mul_ok(n, sizeof(float), &bytes)) {
        gs_error(GS_ERR_NOMEM, "%s: %zu floats overflow", what, n);
        return NULL;
    }
    return gs_arena_take(a, bytes, what);
}

void gs_arena_trim(gs_arena *a) {
    if (!a || !a->base || a->on_device || a->counting) return;
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const uintptr_t lo = ((uintptr_t)(a->base + a->used) + page - 1) / page * page;
    const uintptr_t hi = (uintptr_t)(a->base + a->size) / page * page;
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED); /* advice only: a failure changes nothing */
}

size_t gs_arena_mark(const gs_arena *a) { return a ? a->used : 0; }

void gs_arena_release(gs_arena *a, size_t mark) {
    if (a && mark <= a->used) a->used = mark;
}

gs_ctx gs_ctx_cpu(gs_arena *ws) {
    gs_ctx c;
    memset(&c, 0, sizeof c);
    c.device = GS_DEVICE_CPU;
    c.ws = ws;
    return c;
}

gs_status gs_ctx_with_workspace(const gs_ctx *c, size_t bytes, const char *what, gs_ctx *out, gs_arena *own) {
    memset(own, 0, sizeof *own);
    if (!c) return gs_error(GS_ERR_INVALID, "%s: no op context", what);
    *out = *c;
    if (!c->ws) {
        gs_status st = gs_arena_create(own, c->device, bytes, what);
        if (st == GS_OK) out->ws = own;
        return st;
    }
    if (!c->ws->counting && c->ws->size - c->ws->used < bytes)
        return gs_error(GS_ERR_NOMEM, "%s: the plan of %zu bytes does not fit in the %zu bytes left of the workspace",
                        what, bytes, c->ws->size - c->ws->used);
    return GS_OK;
}

void *gs_ws_take(const gs_ctx *c, size_t bytes, const char *what) {
    if (!c->ws) {
        gs_error(GS_ERR_INVALID, "%s: the op needs %.2f MiB of workspace and its context has none", what,
                 (double)bytes / (1 << 20));
        return NULL;
    }
    return gs_arena_take(c->ws, bytes, what);
}

size_t gs_ws_mark(const gs_ctx *c) { return gs_arena_mark(c->ws); }
void gs_ws_release(const gs_ctx *c, size_t mark) { gs_arena_release(c->ws, mark); }

gs_status gs_ctx_sync(const gs_ctx *c) {
#ifdef GS_HAVE_CUDA
    if (c->device == GS_DEVICE_CUDA) return gs_cuda_ctx_sync(c->cuda);
#endif
    (void)c;
    return GS_OK;
}

/* a copy between host memory and the context's (up: host -> context) */
static gs_status ctx_copy(const gs_ctx *c, void *dst, const void *src, size_t bytes, int up) {
#ifdef GS_HAVE_CUDA
    if (c->device == GS_DEVICE_CUDA)
        return up ? gs_cuda_upload(c->cuda, dst, src, bytes) : gs_cuda_download(c->cuda, dst, src, bytes);
#endif
    (void)c, (void)up;
    if (bytes) memcpy(dst, src, bytes);
    return GS_OK;
}

gs_status gs_ctx_upload(const gs_ctx *c, void *dst, const void *host, size_t bytes) {
    return ctx_copy(c, dst, host, bytes, 1);
}

gs_status gs_ctx_download(const gs_ctx *c, void *host, const void *src, size_t bytes) {
    return ctx_copy(c, host, src, bytes, 0);
}

gs_wt gs_wt_f32(const float *data, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    gs_wt w;
    memset(&w, 0, sizeof w);
    w.data = data;
    w.dtype = GS_F32;
    w.ndim = ndim;
    w.shape[0] = d0, w.shape[1] = d1, w.shape[2] = d2, w.shape[3] = d3;
    return w;
}
