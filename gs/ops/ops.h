/* ops.h - a small layer of neural-network operations shared by the project's
 * CNNs: the LPIPS backbones of the evaluator now, the Depth Anything 3 network
 * later. CPU versions live in cpu_conv.c (OpenBLAS for the matrix products);
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

#include "gs/core/runtime.h"

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

/* ---- element-wise and normalisation (cpu_elem.c) ----------------------------- */
/* LayerNorm over the last axis of x [rows, dim] (torch.nn.LayerNorm, biased
 * variance, computed in double per row); y may alias x; w/b NULL = no affine. */
void gs_layernorm_cpu(const float *x, float *y, size_t rows, int dim, const float *w, const float *b,
                      float eps);
/* LayerNorm over the channels of every pixel of x [n, c, hw], in place (the
 * "channels-last LayerNorm" of a permuted NCHW map). */
void gs_layernorm_channels_cpu(float *x, int n, int c, size_t hw, const float *w, const float *b,
                               float eps);
void gs_gelu_cpu(float *x, size_t n);    /* exact GELU: 0.5 x (1 + erf(x / sqrt 2)) */
void gs_silu_cpu(float *x, size_t n);    /* x * sigmoid(x) */
void gs_sigmoid_cpu(float *x, size_t n);
void gs_exp_cpu(float *x, size_t n);
void gs_add_cpu(float *y, const float *x, size_t n);   /* y += x */
/* Per-row transpose of n matrices: x [n, rows, cols] -> y [n, cols, rows]
 * (tokens [n, P, C] <-> maps [n, C, P]). y must not alias x. */
void gs_transpose_cpu(const float *x, int n, size_t rows, size_t cols, float *y);

/* ---- transformer ops (cpu_nn.c) -------------------------------------------- */
/* torch.nn.Linear: y [rows, out] = x [rows, in] * weight^T + bias; weight
 * [out, in]; bias may be NULL. y must not alias x. */
gs_status gs_linear_cpu(const float *x, size_t rows, int in, const float *weight, const float *bias,
                        int out, float *y);
/* Softmax attention without mask, as torch scaled_dot_product_attention:
 * q, k, v [heads, n, hd] contiguous; out [n, heads * hd] (token-major, head
 * h at columns h*hd..), out = softmax(q k^T * scale) v per head. Works on
 * blocks of query rows: memory is O(block * n), never n x n. */
gs_status gs_attention_cpu(const float *q, const float *k, const float *v, int heads, int n, int hd,
                           float scale, float *out);
/* Vector kernels (cpu_x86.c): gs_ops_simd() is 1 where the CPU has AVX2 +
 * FMA and neither GS_SIMD=0 in the environment nor gs_ops_set_simd(0) turned
 * them off; the portable kernels are their reference in the tests.
 * gs_ops_set_simd returns what is in effect afterwards. Behind the portable
 * entry points: gs_attention_x86 (flash-form attention), gs_gelu_x86 (torch's
 * vectorised GELU), gs_layernorm_x86 (row LayerNorm, the same double
 * accumulation); each returns 0, having written nothing useful, where it
 * does not apply. */
int gs_ops_simd(void);
int gs_ops_set_simd(int on);
int gs_attention_x86(const float *q, const float *k, const float *v, int heads, int n, int hd, float scale,
                     float *out);
int gs_gelu_x86(float *x, size_t n);
int gs_layernorm_x86(const float *x, float *y, size_t rows, int dim, const float *w, const float *b, float eps);
/* 2D rotary embedding of DA3 (rope.py, rotate-half within each half), in
 * place on x [heads, n, hd]: the first hd/2 dims rotate with pos_y[t], the
 * last hd/2 with pos_x[t]; inv_freq[j] = base^(-2j / (hd/2)), pairs (j, j+hd/4)
 * inside a half. */
void gs_rope2d_cpu(float *x, int heads, int n, int hd, const int *pos_y, const int *pos_x, float base);
/* torch F.interpolate(mode="bicubic", align_corners=False, antialias=False)
 * with an explicit scale factor used inside the kernel:
 * src = (dst + 0.5) / scale - 0.5, A = -0.75, taps clamped to the border.
 * x [c, h, w] -> y [c, ho, wo]. */
void gs_resize_bicubic_cpu(const float *x, int c, int h, int w, float *y, int ho, int wo,
                           double scale_h, double scale_w);

/* ---- spatial ops of the DPT heads (cpu_spatial.c) ----------------------------- */
/* torch.nn.ConvTranspose2d with kernel == stride == k, padding 0:
 * x [n, cin, h, w] -> y [n, cout, h*k, w*k]; weight [cin, cout, k, k] (torch
 * layout); bias [cout] or NULL. */
gs_status gs_conv_transpose2d_cpu(const float *x, int n, int cin, int h, int w, const float *weight,
                                  const float *bias, int cout, int k, float *y);
/* F.interpolate(mode="bilinear", align_corners=True): x [n, c, h, w] ->
 * y [n, c, ho, wo], src = dst * (in - 1) / (out - 1). */
void gs_resize_bilinear_ac_cpu(const float *x, int n, int c, int h, int w, float *y, int ho, int wo);

#ifdef __cplusplus
}
#endif
#endif
