/* cuda.h - what every CUDA user of libgs shares, callable from C: one
 * context per user (device, stream, cuBLAS handle), device memory, copies.
 * Implemented in the .cu files of gs/cuda/ (CUDA builds only); gs/cuda/cuda_common.cuh
 * holds what the .cu files share among themselves (the checked-call macro,
 * the cuBLAS loader, growable device buffers). */
#ifndef GS_CUDA_CUDA_H
#define GS_CUDA_CUDA_H

#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gs_cuda_ctx gs_cuda_ctx;

/* Opens cuBLAS (dlopen, on first call; every context with BLAS does it):
 * GS_OK when libcublas and the entry points the CUDA ops use were found;
 * needs no GPU. GS_ERR_UNSUPPORTED in a build without CUDA. */
gs_status gs_cuda_blas_load(void);

#ifdef GS_HAVE_CUDA
/* Device 0, a non-blocking stream and (with blas != 0) a cuBLAS handle on
 * it in plain FP32 math; GS_ERR_DEVICE with the CUDA runtime's own error
 * text when there is no usable GPU. */
gs_status gs_cuda_ctx_create(gs_cuda_ctx **out, int blas);
void gs_cuda_ctx_free(gs_cuda_ctx *c);
/* "NVIDIA H200, sm_90" */
const char *gs_cuda_ctx_name(const gs_cuda_ctx *c);
gs_status gs_cuda_ctx_sync(const gs_cuda_ctx *c);
/* cudaMalloc / cudaFree with errors naming `what` and the size */
gs_status gs_cuda_alloc(void **p, size_t bytes, const char *what);
void gs_cuda_free(void *p);
/* Copies on the context's stream, waited for before returning. */
gs_status gs_cuda_upload(const gs_cuda_ctx *c, void *dst, const void *host, size_t bytes);
gs_status gs_cuda_download(const gs_cuda_ctx *c, void *host, const void *src, size_t bytes);
#endif

#ifdef __cplusplus
}
#endif
#endif
