/* cuda.h - the CUDA backend of the op layer (gs/ops/cuda_*.cu, built only
 * where nvcc is found): kernels with the arguments of their gs/ops/ops.h op,
 * all pointers device memory, queued on the context's stream (c->cuda).
 * ops.c dispatches to them; an op without a CUDA kernel here fails with
 * GS_ERR_UNSUPPORTED on a CUDA context. Each kernel is tested against its
 * CPU twin in tests/test_ops_cuda.c. Today: what LPIPS needs (convolution
 * with bias/ReLU, max-pool, channel concatenation, bias add, the unary
 * maps); the network's ops come with the CUDA network. */
#ifndef GS_OPS_CUDA_H
#define GS_OPS_CUDA_H

#include "gs/ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef GS_HAVE_CUDA
/* im2col + cuBLAS SGEMM (plain FP32, no TF32) over bands of output rows, all
 * n images in one strided-batched GEMM per band; F32 weights. */
gs_status gs_conv2d_cuda(const gs_ctx *c, const gs_conv2d_params *p, const float *x, int n, int h, int w,
                         const gs_wt *weight, const float *bias, float *y, int relu);
size_t gs_conv2d_workspace_cuda(const gs_ctx *c, const gs_conv2d_params *p, int n, int h, int w);
gs_status gs_maxpool2d_cuda(const gs_ctx *c, const float *x, int n, int ch, int h, int w, int k, int stride, int pad,
                            int ceil_mode, float *y);
gs_status gs_concat_channels_cuda(const gs_ctx *c, const float *const *srcs, const int *chans, int count, int n,
                                  size_t hw, float *y);
gs_status gs_bias_add_cuda(const gs_ctx *c, float *x, int n, int ch, size_t hw, const float *bias);
gs_status gs_unary_cuda(const gs_ctx *c, gs_unary_kind f, const float *x, float *y, size_t n);
#endif

#ifdef __cplusplus
}
#endif
#endif
