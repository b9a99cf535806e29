/* cpu.h - the CPU backend of the op layer: the reference kernels, one per op
 * of gs/ops/ops.h with the same arguments (ops.c dispatches to them), and
 * the switch of the AVX2 kernels picked at run time (cpu_x86.c).
 * Pointers are host memory; weights must be F32 (converted at load). */
#ifndef GS_OPS_CPU_H
#define GS_OPS_CPU_H

#include "gs/ops/ops.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

gs_status gs_conv2d_cpu(const gs_ctx *c, const gs_conv2d_params *p, const float *x, int n, int h, int w,
                        const gs_wt *weight, const float *bias, float *y, int relu);
size_t gs_conv2d_workspace_cpu(const gs_ctx *c, const gs_conv2d_params *p, int n, int h, int w);
gs_status gs_conv_transpose2d_cpu(const gs_ctx *c, const float *x, int n, int cin, int h, int w, const gs_wt *weight,
                                  const float *bias, int cout, int k, float *y);
size_t gs_conv_transpose2d_workspace_cpu(const gs_ctx *c, int cin, int h, int w, int cout, int k);
gs_status gs_maxpool2d_cpu(const gs_ctx *c, const float *x, int n, int ch, int h, int w, int k, int stride, int pad,
                           int ceil_mode, float *y);
gs_status gs_concat_channels_cpu(const gs_ctx *c, const float *const *srcs, const int *chans, int count, int n,
                                 size_t hw, float *y);
gs_status gs_bias_add_cpu(const gs_ctx *c, float *x, int n, int ch, size_t hw, const float *bias);
gs_status gs_resize_bilinear_ac_cpu(const gs_ctx *c, const float *x, int n, int ch, int h, int w, float *y, int ho,
                                    int wo);
gs_status gs_resize_bicubic_cpu(const gs_ctx *c, const float *x, int ch, int h, int w, float *y, int ho, int wo,
                                double scale_h, double scale_w);
gs_status gs_unary_cpu(const gs_ctx *c, gs_unary_kind f, const float *x, float *y, size_t n);
gs_status gs_add_cpu(const gs_ctx *c, float *y, const float *x, size_t n, size_t rows);
gs_status gs_add_scaled_cpu(const gs_ctx *c, float *x, const float *r, const float *gamma, size_t rows, int dim);
gs_status gs_swiglu_cpu(const gs_ctx *c, const float *x, size_t rows, int hid, float *y);
gs_status gs_transpose_cpu(const gs_ctx *c, const float *x, int n, size_t rows, size_t cols, float *y);
gs_status gs_copy2d_cpu(const gs_ctx *c, float *dst, size_t dst_ld, const float *src, size_t src_ld, size_t rows,
                        size_t cols);
gs_status gs_find_outside_cpu(const gs_ctx *c, const float *x, size_t n, float lo, float hi, size_t *first);
gs_status gs_layernorm_cpu(const gs_ctx *c, const float *x, float *y, size_t rows, int dim, const float *w,
                           const float *b, float eps);
gs_status gs_layernorm_channels_cpu(const gs_ctx *c, float *x, int n, int ch, size_t hw, const float *w,
                                    const float *b, float eps);
size_t gs_layernorm_channels_workspace_cpu(const gs_ctx *c, int ch);
gs_status gs_linear_cpu(const gs_ctx *c, const float *x, size_t rows, int in, const gs_wt *weight, const float *bias,
                        int out, float *y);
gs_status gs_attention_cpu(const gs_ctx *c, const float *q, const float *k, const float *v, int heads, int n, int hd,
                           float scale, float *out);
size_t gs_attention_workspace_cpu(const gs_ctx *c, int heads, int n, int hd);
gs_status gs_split_heads_cpu(const gs_ctx *c, const float *qkv, int T, int heads, int hd, int n, int t0, float *q,
                             float *k, float *v);
gs_status gs_rope2d_cpu(const gs_ctx *c, float *x, int heads, int n, int hd, const int *pos_y, const int *pos_x,
                        float base);
size_t gs_rope2d_workspace_cpu(const gs_ctx *c, int hd, int span);
gs_status gs_patchify_cpu(const gs_ctx *c, const float *img, int H, int W, int p, float *col);
gs_status gs_scale_cpu(const gs_ctx *c, float *x, size_t n, size_t rows, const double *s, int divide);
gs_status gs_mask_below_cpu(const gs_ctx *c, const float *x, size_t n, float t, unsigned char *mask, size_t *count);
gs_status gs_fill_unmasked_cpu(const gs_ctx *c, float *x, const unsigned char *mask, size_t n, float value);
gs_status gs_quantile_cpu(const gs_ctx *c, const float *x, const unsigned char *mask, size_t n, double q, float *out);
size_t gs_quantile_workspace_cpu(const gs_ctx *c, size_t n);
gs_status gs_metric_scale_sums_cpu(const gs_ctx *c, const float *metric, const float *depth, const float *conf,
                                   float conf_min, const unsigned char *mask, size_t n, double *num, double *den);
gs_status gs_uv_embed_cpu(const gs_ctx *c, float *pe, int ch, int hh, int ww, int H, int W);
size_t gs_uv_embed_workspace_cpu(const gs_ctx *c, int ch, int hh, int ww);
gs_status gs_pose_decode_cpu(const gs_ctx *c, const float *pose, int S, int H, int W, float *w2c, float *K);
gs_status gs_pose_encode_cpu(const gs_ctx *c, const float *w2c, const float *K, int S, int H, int W, float *pose);
gs_status gs_gs_adapt_cpu(const gs_ctx *c, const gs_gs_view *views, int S, int H, int W, const float *raw,
                          const float *conf, const float *depth, double scale, float *means, float *scales,
                          float *rotations, float *harmonics, float *opacities);

/* The calling thread's number in its OpenMP team (0 outside one). */
static inline int gs_cpu_thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* [*lo, *hi) of len items for the calling thread of its team: equal chunks
 * rounded up to a multiple of align (a power of two); empty for the last
 * threads when the items run out. */
static inline void gs_cpu_thread_span(size_t len, size_t align, size_t *lo, size_t *hi) {
    size_t t = 0, T = 1;
#ifdef _OPENMP
    t = (size_t)omp_get_thread_num(), T = (size_t)omp_get_num_threads();
#endif
    const size_t chunk = ((len + T - 1) / T + align - 1) & ~(align - 1);
    *lo = t * chunk < len ? t * chunk : len;
    *hi = *lo + chunk < len ? *lo + chunk : len;
}

/* The F32 data of a weight view, or NULL with an error naming the op when
 * the view is missing or of another dtype (the CPU converts at load). */
static inline const float *gs_cpu_wt(const gs_wt *w, const char *op) {
    if (!w || !w->data) {
        gs_error(GS_ERR_INVALID, "%s: missing weight", op);
        return NULL;
    }
    if (w->dtype != GS_F32) {
        gs_error(GS_ERR_UNSUPPORTED, "%s: the CPU backend takes F32 weights, not %s", op, gs_dtype_name(w->dtype));
        return NULL;
    }
    return (const float *)w->data;
}

/* Vector kernels (cpu_x86.c): gs_ops_simd() is 1 where the CPU has AVX2 +
 * FMA and neither GS_SIMD=0 in the environment nor gs_ops_set_simd(0) turned
 * them off; the portable kernels are their reference in the tests.
 * gs_ops_set_simd returns what is in effect afterwards. Behind the portable
 * kernels: gs_attention_x86 (flash-form attention, K packed into kpack,
 * per-thread scratch in work; sizes from gs_attention_x86_workspace),
 * gs_gelu_x86 (torch's vectorised GELU), gs_layernorm_x86 (row LayerNorm,
 * the same double accumulation); each returns 0, having written nothing
 * useful, where it does not apply. */
int gs_ops_simd(void);
int gs_ops_set_simd(int on);
size_t gs_attention_x86_workspace(int heads, int n, int hd, int threads);
int gs_attention_x86(const float *q, const float *k, const float *v, int heads, int n, int hd, float scale,
                     float *out, float *ws, int threads);
int gs_gelu_x86(float *x, size_t n);
int gs_layernorm_x86(const float *x, float *y, size_t rows, int dim, const float *w, const float *b, float eps);
/* OpenMP threads the CPU kernels plan their per-thread scratch for. */
int gs_cpu_threads(void);

#ifdef __cplusplus
}
#endif
#endif
