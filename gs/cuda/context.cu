/* context.cu - the CUDA context every GPU user of libgs shares (gs/cuda/cuda.h:
 * device 0, one non-blocking stream, an optional cuBLAS handle), device
 * memory and copies, the cuBLAS loader and the growable device buffers of
 * gs/cuda/cuda_common.cuh. */
#include "gs/cuda/cuda_common.cuh"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs/core/device.h"

gs_status gs_cuda_check(cudaError_t e, const char *what) {
    if (e == cudaSuccess) return GS_OK;
    cudaGetLastError();
    return gs_error(GS_ERR_DEVICE, "cuda: %s: %s", what, cudaGetErrorString(e));
}

gs_status gs_cublas_check(cublasStatus_t st, const char *what) {
    if (st == CUBLAS_STATUS_SUCCESS) return GS_OK;
    return gs_error(GS_ERR_DEVICE, "cublas: %s failed (status %d)", what, (int)st);
}

/* ---- cuBLAS loader ------------------------------------------------------------- */
#define GS_STR_(x) #x
#define GS_STR(x) GS_STR_(x)

static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static gs_cublas_api g_blas;
static const char *g_blas_error; /* why it could not be opened; NULL when it was */

static void cublas_open(void) {
    static char why[512];
    const char *names[2] = {"libcublas.so." GS_STR(CUBLAS_VER_MAJOR), "libcublas.so"};
    void *lib = NULL;
    for (int i = 0; i < 2 && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "cannot open %s: %s", names[0], e ? e : "not found");
        g_blas_error = why;
        return;
    }
    gs_cublas_api t;
    struct {
        const char *sym;
        void **slot;
    } want[] = {{"cublasCreate_v2", (void **)&t.create},
                {"cublasDestroy_v2", (void **)&t.destroy},
                {"cublasSetStream_v2", (void **)&t.set_stream},
                {"cublasSetMathMode", (void **)&t.set_math_mode},
                {"cublasSgemmStridedBatched", (void **)&t.sgemm_strided_batched}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        *want[i].slot = dlsym(lib, want[i].sym);
        if (!*want[i].slot) {
            snprintf(why, sizeof why, "%s has no %s", names[0], want[i].sym);
            g_blas_error = why;
            return; /* the library stays open: harmless, and it may be in use elsewhere */
        }
    }
    g_blas = t;
}

const gs_cublas_api *gs_cublas(void) {
    pthread_once(&g_blas_once, cublas_open);
    if (g_blas_error) {
        gs_error(GS_ERR_DEVICE, "cublas: %s", g_blas_error);
        return NULL;
    }
    return &g_blas;
}

extern "C" gs_status gs_cuda_blas_load(void) { return gs_cublas() ? GS_OK : GS_ERR_DEVICE; }

/* ---- context --------------------------------------------------------------------- */
extern "C" gs_status gs_cuda_ctx_create(gs_cuda_ctx **out, int blas) {
    *out = NULL;
    if (gs_cuda_device_count() < 1)
        return gs_error(GS_ERR_DEVICE, "no usable CUDA device (%s)", gs_cuda_unusable_reason());
    gs_cuda_ctx *c = (gs_cuda_ctx *)calloc(1, sizeof *c);
    if (!c) return gs_error(GS_ERR_NOMEM, "cuda: out of host memory for a context");
    c->device = 0;
    cudaDeviceProp p;
    gs_status s = gs_cuda_check(cudaSetDevice(c->device), "selecting device 0");
    if (!s) s = gs_cuda_check(cudaGetDeviceProperties(&p, c->device), "reading the device properties");
    if (!s) s = gs_cuda_check(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), "creating a stream");
    if (!s) snprintf(c->name, sizeof c->name, "%.200s, sm_%d%d", p.name, p.major, p.minor);
    if (!s && blas) {
        const gs_cublas_api *b = gs_cublas();
        if (!b) s = GS_ERR_DEVICE;
        if (!s && (s = gs_cublas_check(b->create(&c->blas), "cublasCreate"))) c->blas = NULL;
        if (!s) s = gs_cublas_check(b->set_stream(c->blas, c->stream), "cublasSetStream");
        /* plain FP32 products: TF32 would cost LPIPS its 1e-4 agreement with the CPU */
        if (!s) s = gs_cublas_check(b->set_math_mode(c->blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    }
    if (s) {
        gs_cuda_ctx_free(c);
        return s;
    }
    *out = c;
    return GS_OK;
}

extern "C" void gs_cuda_ctx_free(gs_cuda_ctx *c) {
    if (!c) return;
    if (c->stream) cudaStreamSynchronize(c->stream);
    if (c->blas) g_blas.destroy(c->blas); /* a handle exists only when the table was loaded */
    if (c->stream) cudaStreamDestroy(c->stream);
    cudaGetLastError(); /* nothing left over for the next user */
    free(c);
}

extern "C" const char *gs_cuda_ctx_name(const gs_cuda_ctx *c) { return c ? c->name : "none"; }

extern "C" gs_status gs_cuda_ctx_sync(const gs_cuda_ctx *c) {
    if (!c) return gs_error(GS_ERR_INVALID, "cuda: no context");
    GS_CU(cudaStreamSynchronize(c->stream), "running the queued work");
    return GS_OK;
}

/* ---- memory ------------------------------------------------------------------------ */
static gs_status alloc_error(cudaError_t e, size_t bytes, const char *what) {
    cudaGetLastError();
    return gs_error(e == cudaErrorMemoryAllocation ? GS_ERR_NOMEM : GS_ERR_DEVICE,
                    "cuda: cannot allocate %.1f MiB of device memory for %s: %s", (double)bytes / (1 << 20),
                    what ? what : "a buffer", cudaGetErrorString(e));
}

extern "C" gs_status gs_cuda_alloc(void **p, size_t bytes, const char *what) {
    *p = NULL;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *p = NULL;
        return alloc_error(e, bytes, what);
    }
    return GS_OK;
}

extern "C" void gs_cuda_free(void *p) {
    if (p) cudaFree(p);
}

extern "C" gs_status gs_cuda_upload(const gs_cuda_ctx *c, void *dst, const void *host, size_t bytes) {
    if (!c) return gs_error(GS_ERR_INVALID, "cuda: upload without a context");
    if (!bytes) return GS_OK;
    GS_CU(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, c->stream), "copying to the device");
    GS_CU(cudaStreamSynchronize(c->stream), "copying to the device");
    return GS_OK;
}

extern "C" gs_status gs_cuda_download(const gs_cuda_ctx *c, void *host, const void *src, size_t bytes) {
    if (!c) return gs_error(GS_ERR_INVALID, "cuda: download without a context");
    if (!bytes) return GS_OK;
    GS_CU(cudaMemcpyAsync(host, src, bytes, cudaMemcpyDeviceToHost, c->stream), "copying from the device");
    GS_CU(cudaStreamSynchronize(c->stream), "copying from the device");
    return GS_OK;
}

/* ---- growable buffers --------------------------------------------------------------- */
void gs_dbuf_free(gs_dbuf *b, gs_cuda_usage *use) {
    if (b->p) {
        cudaFree(b->p);
        if (use) use->cur -= b->cap;
    }
    b->p = NULL;
    b->cap = 0;
}

gs_status gs_dbuf_reserve(gs_dbuf *b, size_t bytes, double slack, gs_cuda_usage *use, const char *what) {
    if (b->p && bytes <= b->cap) return GS_OK;
    if (b->p) {
        cudaDeviceSynchronize(); /* queued kernels may still read the old block */
        gs_dbuf_free(b, use);
    }
    size_t want = slack > 1 ? (size_t)((double)bytes * slack) : bytes;
    if (want < bytes) want = bytes;
    if (want < 256) want = 256;
    cudaError_t e = cudaMalloc(&b->p, want);
    if (e != cudaSuccess) {
        b->p = NULL;
        return alloc_error(e, want, what);
    }
    b->cap = want;
    if (use) {
        use->cur += want;
        if (use->cur > use->peak) use->peak = use->cur;
    }
    return GS_OK;
}
