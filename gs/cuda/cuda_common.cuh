/* cuda_common.cuh - what the .cu files of libgs share among themselves (C++,
 * CUDA builds only; C code sees gs/cuda/cuda.h): the one checked-call macro,
 * the definition of the context of cuda.h, the cuBLAS entry points (opened
 * with dlopen, once), growable device buffers with a byte count for peak
 * reports, and launch-size helpers. Implemented in gs/cuda/context.cu. */
#ifndef GS_CUDA_COMMON_CUH
#define GS_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "gs/cuda/cuda.h"

/* ---- errors ------------------------------------------------------------------ */
/* GS_OK for cudaSuccess; else GS_ERR_DEVICE with "cuda: <what>: <the CUDA
 * runtime's text>", after clearing the error so that a non-sticky one is not
 * blamed on the next call. */
gs_status gs_cuda_check(cudaError_t e, const char *what);

#define GS_CU(call, what)                                                  \
    do {                                                                   \
        cudaError_t gs_cu_e_ = (call);                                     \
        if (gs_cu_e_ != cudaSuccess) return gs_cuda_check(gs_cu_e_, what); \
    } while (0)

/* After a kernel launch: a bad configuration (grid too large, no kernel
 * image for this GPU) is reported here, naming the kernel; faults inside the
 * kernel surface at the next synchronisation. */
static inline gs_status gs_cuda_launched(const char *what) { return gs_cuda_check(cudaGetLastError(), what); }
#define GS_CU_LAUNCHED(what) GS_CU(cudaGetLastError(), what)

/* ---- context ----------------------------------------------------------------- */
struct gs_cuda_ctx {
    int device;            /* CUDA device id (0) */
    char name[256];        /* "NVIDIA H200, sm_90" */
    cudaStream_t stream;   /* non-blocking: everything of this context is queued here, in order */
    cublasHandle_t blas;   /* on `stream`, CUBLAS_DEFAULT_MATH (no TF32); NULL when created without */
};

/* ---- cuBLAS ------------------------------------------------------------------ */
/* cuBLAS is opened on first use instead of being linked: a linked libcublas
 * (with libcublasLt) puts ~200 MiB of resident pages into every gs process,
 * CPU-only runs included. The entry points are looked up by their exported
 * names (the _v2 ones behind the header's macros) in libcublas.so.<the
 * major version of the headers>, else libcublas.so. */
typedef struct {
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
} gs_cublas_api;

/* The table, opened once (pthread_once; needs no GPU); NULL with the error
 * set ("cublas: cannot open libcublas.so.13: ...") when it cannot be had.
 * gs_cuda_blas_load() (gs/cuda/cuda.h) is the C face of the same check. */
const gs_cublas_api *gs_cublas(void);
/* GS_OK, or GS_ERR_DEVICE "cublas: <what> failed (status N)". */
gs_status gs_cublas_check(cublasStatus_t st, const char *what);

/* ---- growable device buffers ---------------------------------------------- */
/* Device bytes held by one owner (a renderer, an evaluation context) now and
 * at most, for its memory report. */
typedef struct {
    size_t cur, peak;
} gs_cuda_usage;

typedef struct {
    void *p;
    size_t cap; /* bytes allocated */
} gs_dbuf;

/* Make b hold at least `bytes` (its contents are not kept when it grows).
 * A growing buffer allocates bytes * slack (slack >= 1 avoids reallocating
 * every frame for sizes that creep up; at least 256 bytes) and waits for the
 * device before freeing the old block, which queued work may still read.
 * `use` (may be NULL) counts the bytes held. GS_ERR_NOMEM (out of device
 * memory) or GS_ERR_DEVICE naming `what` and the size. */
gs_status gs_dbuf_reserve(gs_dbuf *b, size_t bytes, double slack, gs_cuda_usage *use, const char *what);
void gs_dbuf_free(gs_dbuf *b, gs_cuda_usage *use);

/* ---- launches -------------------------------------------------------------- */
#define GS_CUDA_BLOCK 256        /* threads per block of the 1D kernels */
#define GS_CUDA_MAX_GRID_Y 65535 /* gridDim.y / gridDim.z limit */

/* Blocks of GS_CUDA_BLOCK threads covering n items, at least 1, at most cap
 * (kernels loop over what a capped grid does not cover). */
static inline unsigned gs_cuda_blocks(size_t n, unsigned cap) {
    const size_t b = (n + GS_CUDA_BLOCK - 1) / GS_CUDA_BLOCK;
    return (unsigned)(b < 1 ? 1 : (b > cap ? cap : b));
}

#endif
