/* ops.c - the dispatch of the op layer (ops.h): each op checks its context
 * and runs the kernel of the context's backend, the CPU's (gs/ops/cpu.h) or
 * the CUDA one (gs/ops/cuda.h); an op without a kernel on that backend
 * fails with GS_ERR_UNSUPPORTED naming it. Workspace queries answer for the
 * backend that will run the op. */
#include "gs/ops/ops.h"

#include "gs/ops/cpu.h"
#include "gs/ops/cuda.h"

static gs_status no_ctx(const char *op) { return gs_error(GS_ERR_INVALID, "%s: no op context", op); }

static gs_status no_kernel(const char *op) {
#ifdef GS_HAVE_CUDA
    return gs_error(GS_ERR_UNSUPPORTED, "%s: no CUDA kernel yet (run it with --device cpu)", op);
#else
    return gs_error(GS_ERR_UNSUPPORTED, "%s: this build has no CUDA support", op);
#endif
}

#define ON_CPU(c) ((c)->device != GS_DEVICE_CUDA)
/* the CUDA kernel in a CUDA build; elsewhere the "no CUDA support" error */
#ifdef GS_HAVE_CUDA
#define CUDA_RUN(call, op) return call
#define CUDA_SIZE(call) return call
#else
#define CUDA_RUN(call, op) return no_kernel(op)
#define CUDA_SIZE(call) return 0
#endif

gs_status gs_conv2d(const gs_ctx *c, const gs_conv2d_params *p, const float *x, int n, int h, int w,
                    const gs_wt *weight, const float *bias, float *y, int relu) {
    if (!c) return no_ctx("conv2d");
    if (ON_CPU(c)) return gs_conv2d_cpu(c, p, x, n, h, w, weight, bias, y, relu);
    CUDA_RUN(gs_conv2d_cuda(c, p, x, n, h, w, weight, bias, y, relu), "conv2d");
}

size_t gs_conv2d_workspace(const gs_ctx *c, const gs_conv2d_params *p, int n, int h, int w) {
    if (!c) return 0;
    if (ON_CPU(c)) return gs_conv2d_workspace_cpu(c, p, n, h, w);
    CUDA_SIZE(gs_conv2d_workspace_cuda(c, p, n, h, w));
}

gs_status gs_conv_transpose2d(const gs_ctx *c, const float *x, int n, int cin, int h, int w, const gs_wt *weight,
                              const float *bias, int cout, int k, float *y) {
    if (!c) return no_ctx("conv_transpose2d");
    if (ON_CPU(c)) return gs_conv_transpose2d_cpu(c, x, n, cin, h, w, weight, bias, cout, k, y);
    return no_kernel("conv_transpose2d");
}

size_t gs_conv_transpose2d_workspace(const gs_ctx *c, int cin, int h, int w, int cout, int k) {
    if (!c) return 0;
    if (ON_CPU(c)) return gs_conv_transpose2d_workspace_cpu(c, cin, h, w, cout, k);
    return 0;
}

gs_status gs_maxpool2d(const gs_ctx *c, const float *x, int n, int ch, int h, int w, int k, int stride, int pad,
                       int ceil_mode, float *y) {
    if (!c) return no_ctx("maxpool2d");
    if (ON_CPU(c)) return gs_maxpool2d_cpu(c, x, n, ch, h, w, k, stride, pad, ceil_mode, y);
    CUDA_RUN(gs_maxpool2d_cuda(c, x, n, ch, h, w, k, stride, pad, ceil_mode, y), "maxpool2d");
}

gs_status gs_concat_channels(const gs_ctx *c, const float *const *srcs, const int *chans, int count, int n,
                             size_t hw, float *y) {
    if (!c) return no_ctx("concat_channels");
    if (ON_CPU(c)) return gs_concat_channels_cpu(c, srcs, chans, count, n, hw, y);
    CUDA_RUN(gs_concat_channels_cuda(c, srcs, chans, count, n, hw, y), "concat_channels");
}

gs_status gs_bias_add(const gs_ctx *c, float *x, int n, int ch, size_t hw, const float *bias) {
    if (!c) return no_ctx("bias_add");
    if (ON_CPU(c)) return gs_bias_add_cpu(c, x, n, ch, hw, bias);
    CUDA_RUN(gs_bias_add_cuda(c, x, n, ch, hw, bias), "bias_add");
}

gs_status gs_resize_bilinear_ac(const gs_ctx *c, const float *x, int n, int ch, int h, int w, float *y, int ho,
                                int wo) {
    if (!c) return no_ctx("resize_bilinear_ac");
    if (ON_CPU(c)) return gs_resize_bilinear_ac_cpu(c, x, n, ch, h, w, y, ho, wo);
    return no_kernel("resize_bilinear_ac");
}

gs_status gs_resize_bicubic(const gs_ctx *c, const float *x, int ch, int h, int w, float *y, int ho, int wo,
                            double scale_h, double scale_w) {
    if (!c) return no_ctx("resize_bicubic");
    if (ON_CPU(c)) return gs_resize_bicubic_cpu(c, x, ch, h, w, y, ho, wo, scale_h, scale_w);
    return no_kernel("resize_bicubic");
}

gs_status gs_unary(const gs_ctx *c, gs_unary_kind f, const float *x, float *y, size_t n) {
    if (!c) return no_ctx("unary");
    if (ON_CPU(c)) return gs_unary_cpu(c, f, x, y, n);
    CUDA_RUN(gs_unary_cuda(c, f, x, y, n), "unary");
}

gs_status gs_add(const gs_ctx *c, float *y, const float *x, size_t n, size_t rows) {
    if (!c) return no_ctx("add");
    if (ON_CPU(c)) return gs_add_cpu(c, y, x, n, rows);
    return no_kernel("add");
}

gs_status gs_add_scaled(const gs_ctx *c, float *x, const float *r, const float *gamma, size_t rows, int dim) {
    if (!c) return no_ctx("add_scaled");
    if (ON_CPU(c)) return gs_add_scaled_cpu(c, x, r, gamma, rows, dim);
    return no_kernel("add_scaled");
}

gs_status gs_swiglu(const gs_ctx *c, const float *x, size_t rows, int hid, float *y) {
    if (!c) return no_ctx("swiglu");
    if (ON_CPU(c)) return gs_swiglu_cpu(c, x, rows, hid, y);
    return no_kernel("swiglu");
}

gs_status gs_transpose(const gs_ctx *c, const float *x, int n, size_t rows, size_t cols, float *y) {
    if (!c) return no_ctx("transpose");
    if (ON_CPU(c)) return gs_transpose_cpu(c, x, n, rows, cols, y);
    return no_kernel("transpose");
}

gs_status gs_copy2d(const gs_ctx *c, float *dst, size_t dst_ld, const float *src, size_t src_ld, size_t rows,
                    size_t cols) {
    if (!c) return no_ctx("copy2d");
    if (ON_CPU(c)) return gs_copy2d_cpu(c, dst, dst_ld, src, src_ld, rows, cols);
    return no_kernel("copy2d");
}

gs_status gs_find_outside(const gs_ctx *c, const float *x, size_t n, float lo, float hi, size_t *first) {
    if (!c) return no_ctx("find_outside");
    if (ON_CPU(c)) return gs_find_outside_cpu(c, x, n, lo, hi, first);
    return no_kernel("find_outside");
}

gs_status gs_layernorm(const gs_ctx *c, const float *x, float *y, size_t rows, int dim, const float *w,
                       const float *b, float eps) {
    if (!c) return no_ctx("layernorm");
    if (ON_CPU(c)) return gs_layernorm_cpu(c, x, y, rows, dim, w, b, eps);
    return no_kernel("layernorm");
}

gs_status gs_layernorm_channels(const gs_ctx *c, float *x, int n, int ch, size_t hw, const float *w,
                                const float *b, float eps) {
    if (!c) return no_ctx("layernorm_channels");
    if (ON_CPU(c)) return gs_layernorm_channels_cpu(c, x, n, ch, hw, w, b, eps);
    return no_kernel("layernorm_channels");
}

size_t gs_layernorm_channels_workspace(const gs_ctx *c, int ch) {
    if (!c) return 0;
    if (ON_CPU(c)) return gs_layernorm_channels_workspace_cpu(c, ch);
    return 0;
}

gs_status gs_linear(const gs_ctx *c, const float *x, size_t rows, int in, const gs_wt *weight, const float *bias,
                    int out, float *y) {
    if (!c) return no_ctx("linear");
    if (ON_CPU(c)) return gs_linear_cpu(c, x, rows, in, weight, bias, out, y);
    return no_kernel("linear");
}

gs_status gs_attention(const gs_ctx *c, const float *q, const float *k, const float *v, int heads, int n, int hd,
                       float scale, float *out) {
    if (!c) return no_ctx("attention");
    if (ON_CPU(c)) return gs_attention_cpu(c, q, k, v, heads, n, hd, scale, out);
    return no_kernel("attention");
}

size_t gs_attention_workspace(const gs_ctx *c, int heads, int n, int hd) {
    if (!c) return 0;
    if (ON_CPU(c)) return gs_attention_workspace_cpu(c, heads, n, hd);
    return 0;
}

gs_status gs_split_heads(const gs_ctx *c, const float *qkv, int T, int heads, int hd, int n, int t0, float *q,
                         float *k, float *v) {
    if (!c) return no_ctx("split_heads");
    if (ON_CPU(c)) return gs_split_heads_cpu(c, qkv, T, heads, hd, n, t0, q, k, v);
    return no_kernel("split_heads");
}

gs_status gs_rope2d(const gs_ctx *c, float *x, int heads, int n, int hd, const int *pos_y, const int *pos_x,
                    float base) {
    if (!c) return no_ctx("rope2d");
    if (ON_CPU(c)) return gs_rope2d_cpu(c, x, heads, n, hd, pos_y, pos_x, base);
    return no_kernel("rope2d");
}

size_t gs_rope2d_workspace(const gs_ctx *c, int hd, int span) {
    if (!c) return 0;
    if (ON_CPU(c)) return gs_rope2d_workspace_cpu(c, hd, span);
    return 0;
}

gs_status gs_patchify(const gs_ctx *c, const float *img, int H, int W, int p, float *col) {
    if (!c) return no_ctx("patchify");
    if (ON_CPU(c)) return gs_patchify_cpu(c, img, H, W, p, col);
    return no_kernel("patchify");
}

gs_status gs_uv_embed(const gs_ctx *c, float *pe, int ch, int hh, int ww, int H, int W) {
    if (!c) return no_ctx("uv_embed");
    if (ON_CPU(c)) return gs_uv_embed_cpu(c, pe, ch, hh, ww, H, W);
    return no_kernel("uv_embed");
}

size_t gs_uv_embed_workspace(const gs_ctx *c, int ch, int hh, int ww) {
    if (!c) return 0;
    if (ON_CPU(c)) return gs_uv_embed_workspace_cpu(c, ch, hh, ww);
    return 0;
}

gs_status gs_pose_decode(const gs_ctx *c, const float *pose, int S, int H, int W, float *w2c, float *K) {
    if (!c) return no_ctx("pose_decode");
    if (ON_CPU(c)) return gs_pose_decode_cpu(c, pose, S, H, W, w2c, K);
    return no_kernel("pose_decode");
}

gs_status gs_pose_encode(const gs_ctx *c, const float *w2c, const float *K, int S, int H, int W, float *pose) {
    if (!c) return no_ctx("pose_encode");
    if (ON_CPU(c)) return gs_pose_encode_cpu(c, w2c, K, S, H, W, pose);
    return no_kernel("pose_encode");
}

gs_status gs_gs_adapt(const gs_ctx *c, const gs_gs_view *views, int S, int H, int W, const float *raw,
                      const float *conf, const float *depth, double scale, float *means, float *scales,
                      float *rotations, float *harmonics, float *opacities) {
    if (!c) return no_ctx("gs_adapt");
    if (ON_CPU(c))
        return gs_gs_adapt_cpu(c, views, S, H, W, raw, conf, depth, scale, means, scales, rotations, harmonics,
                               opacities);
    return no_kernel("gs_adapt");
}

gs_status gs_scale(const gs_ctx *c, float *x, size_t n, size_t rows, const double *s, int divide) {
    if (!c) return no_ctx("scale");
    if (ON_CPU(c)) return gs_scale_cpu(c, x, n, rows, s, divide);
    return no_kernel("scale");
}

gs_status gs_mask_below(const gs_ctx *c, const float *x, size_t n, float t, unsigned char *mask, size_t *count) {
    if (!c) return no_ctx("mask_below");
    if (ON_CPU(c)) return gs_mask_below_cpu(c, x, n, t, mask, count);
    return no_kernel("mask_below");
}

gs_status gs_fill_unmasked(const gs_ctx *c, float *x, const unsigned char *mask, size_t n, float value) {
    if (!c) return no_ctx("fill_unmasked");
    if (ON_CPU(c)) return gs_fill_unmasked_cpu(c, x, mask, n, value);
    return no_kernel("fill_unmasked");
}

gs_status gs_quantile(const gs_ctx *c, const float *x, const unsigned char *mask, size_t n, double q, float *out) {
    if (!c) return no_ctx("quantile");
    if (ON_CPU(c)) return gs_quantile_cpu(c, x, mask, n, q, out);
    return no_kernel("quantile");
}

size_t gs_quantile_workspace(const gs_ctx *c, size_t n) {
    if (!c) return 0;
    if (ON_CPU(c)) return gs_quantile_workspace_cpu(c, n);
    return 0;
}

gs_status gs_metric_scale_sums(const gs_ctx *c, const float *metric, const float *depth, const float *conf,
                               float conf_min, const unsigned char *mask, size_t n, double *num, double *den) {
    if (!c) return no_ctx("metric_scale_sums");
    if (ON_CPU(c)) return gs_metric_scale_sums_cpu(c, metric, depth, conf, conf_min, mask, n, num, den);
    return no_kernel("metric_scale_sums");
}
