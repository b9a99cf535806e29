/* ops.h - a small layer of neural-network operations shared by the project's
 * CNNs: the LPIPS backbones of the evaluator now, the Depth Anything 3 network
 * later. CPU versions live in ops_cpu.c (OpenBLAS for the matrix products);
 * CUDA twins are meant to get the same signatures with a _cuda suffix and
 * device pointers.
 *
 * Layout: every activation is float32, NCHW, contiguous: element
 * x[((n*C + c)*H + y)*W + x]. Weights are OIHW, as in PyTorch. The caller
 * allocates outputs; gs_conv2d_out_size / gs_pool_out_size give their size.
 * Semantics follow torch.nn.Conv2d (dilation 1, groups 1, zero padding) and
 * torch.nn.MaxPool2d (padding never contributes, ceil_mode as torch: the last
 * window must start inside the input or its left padding).
 *
 * Threading: the CPU ops split their work, matrix products included, over
 * OpenMP threads and set OpenBLAS to a single thread on first use (the two
 * thread pools busy-wait against each other otherwise; 2x slower measured).
 * Code that calls cblas directly after that gets single-threaded OpenBLAS. */
#ifndef GS_OPS_H
#define GS_OPS_H

#include "gs/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int c_in, c_out;       /* channels */
    int kh, kw;            /* kernel size */
    int stride_h, stride_w;
    int pad_h, pad_w;      /* zero padding on each side */
} gs_conv2d_params;

/* Output length along one axis: (in + 2 pad - k) / stride + 1, or 0 when the
 * (padded) input is shorter than the kernel or an argument is out of range. */
int gs_conv2d_out_size(int in, int k, int stride, int pad);
/* Max-pool output length along one axis (torch rules, see above); 0 when
 * invalid (input too small, pad > k/2, ...). */
int gs_pool_out_size(int in, int k, int stride, int pad, int ceil_mode);

/* Convolution: x [n, c_in, h, w], weight [c_out, c_in, kh, kw], bias [c_out]
 * or NULL, y [n, c_out, ho, wo] with ho/wo from gs_conv2d_out_size.
 *   y[b][o][i][j] = bias[o] + sum_{c,u,v} weight[o][c][u][v] *
 *                   x[b][c][i*stride_h - pad_h + u][j*stride_w - pad_w + v]
 * (x is 0 outside the image). relu != 0 applies max(0, .) to the result.
 * Implemented as im2col + sgemm over bands of output rows so the column
 * buffer stays bounded (a 1x1 stride-1 convolution skips im2col). Fails
 * with GS_ERR_INVALID on bad parameters, GS_ERR_NOMEM on allocation. */
gs_status gs_conv2d_cpu(const gs_conv2d_params *p, const float *x, int n, int h, int w,
                        const float *weight, const float *bias, float *y, int relu);

/* In place: x[b][c][...] += bias[c] for x [n, c, hw]. */
void gs_bias_add_cpu(float *x, int n, int c, size_t hw, const float *bias);
/* In place: x = max(x, 0) over count elements. */
void gs_relu_cpu(float *x, size_t count);

/* Max pool with a square k x k window: x [n, c, h, w] -> y [n, c, ho, wo],
 * ho = gs_pool_out_size(h, k, stride, pad, ceil_mode), likewise wo. */
gs_status gs_maxpool2d_cpu(const float *x, int n, int c, int h, int w, int k, int stride, int pad,
                           int ceil_mode, float *y);

/* Concatenate along channels: srcs[i] is [n, chans[i], hw]; y is
 * [n, sum(chans), hw]. */
void gs_concat_channels_cpu(const float *const *srcs, const int *chans, int count, int n, size_t hw,
                            float *y);

#ifdef __cplusplus
}
#endif
#endif
