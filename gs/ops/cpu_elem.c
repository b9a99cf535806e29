/* cpu_elem.c - CPU element-wise ops and normalisations of the op layer
 * (ops.h): LayerNorm over tokens or over channels, the unary maps, adds
 * (broadcast, LayerScale), SwiGLU, batched transpose, strided copies and
 * the non-finite search. Row statistics are accumulated in double so that the
 * result does not depend on the thread split and stays within float rounding
 * of torch's float32 LayerNorm. */
#include "gs/ops/cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many elements a loop runs on one thread: waking the team costs
 * more than the work. */
#define PAR_MIN ((size_t)1 << 15)

static void layernorm_row(const float *x, float *y, int dim, size_t stride, const float *w,
                          const float *b, float eps) {
    double s = 0.0;
    for (int i = 0; i < dim; i++) s += x[(size_t)i * stride];
    double mean = s / dim, v = 0.0;
    for (int i = 0; i < dim; i++) {
        double d = x[(size_t)i * stride] - mean;
        v += d * d;
    }
    double inv = 1.0 / sqrt(v / dim + (double)eps);
    for (int i = 0; i < dim; i++) {
        float t = (float)((x[(size_t)i * stride] - mean) * inv);
        if (w) t *= w[i];
        if (b) t += b[i];
        y[(size_t)i * stride] = t;
    }
}

gs_status gs_layernorm_cpu(const gs_ctx *ctx, const float *x, float *y, size_t rows, int dim, const float *w,
                           const float *b, float eps) {
    (void)ctx;
    if (!x || !y || dim < 1) return gs_error(GS_ERR_INVALID, "layernorm: bad arguments (dim %d)", dim);
    if (gs_layernorm_x86(x, y, rows, dim, w, b, eps)) return GS_OK;
#pragma omp parallel for schedule(static) if (rows * (size_t)dim > PAR_MIN)
    for (size_t r = 0; r < rows; r++) layernorm_row(x + r * (size_t)dim, y + r * (size_t)dim, dim, 1, w, b, eps);
    return GS_OK;
}

int gs_cpu_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}


size_t gs_layernorm_channels_workspace_cpu(const gs_ctx *ctx, int c) {
    (void)ctx;
    return gs_arena_round((size_t)gs_cpu_threads() * (size_t)(c > 0 ? c : 0) * sizeof(float));
}

gs_status gs_layernorm_channels_cpu(const gs_ctx *ctx, float *x, int n, int c, size_t hw, const float *w,
                                    const float *b, float eps) {
    if (!x || n < 1 || c < 1) return gs_error(GS_ERR_INVALID, "layernorm_channels: bad arguments (n %d, c %d)", n, c);
    /* Strided access over channels is slow for large c: each thread gathers
     * a pixel's channel vector into its own slice of the workspace. */
    const int T = gs_cpu_threads();
    const size_t mark = gs_ws_mark(ctx);
    float *bufs = gs_ws_take(ctx, (size_t)T * c * sizeof *bufs, "layernorm_channels buffers");
    if (!bufs) return GS_ERR_NOMEM;
#pragma omp parallel num_threads(T) if ((size_t)n * c * hw > PAR_MIN)
    {
        float *buf = bufs + (size_t)gs_cpu_thread_id() * c;
#pragma omp for schedule(static) collapse(2)
        for (int i = 0; i < n; i++)
            for (size_t p = 0; p < hw; p++) {
                float *base = x + (size_t)i * c * hw + p;
                for (int ch = 0; ch < c; ch++) buf[ch] = base[(size_t)ch * hw];
                layernorm_row(buf, buf, c, 1, w, b, eps);
                for (int ch = 0; ch < c; ch++) base[(size_t)ch * hw] = buf[ch];
            }
    }
    gs_ws_release(ctx, mark);
    return GS_OK;
}

static void gelu_portable(const float *x, float *y, size_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] * 0.70710678118654752440)));
}

gs_status gs_unary_cpu(const gs_ctx *ctx, gs_unary_kind f, const float *x, float *y, size_t n) {
    (void)ctx;
    if (!n) return GS_OK;
    if (!x || !y) return gs_error(GS_ERR_INVALID, "unary: missing input or output");
    switch (f) {
    case GS_UNARY_RELU:
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return GS_OK;
    case GS_UNARY_GELU:
        if (y != x) memcpy(y, x, n * sizeof *y);
        if (!gs_gelu_x86(y, n)) gelu_portable(y, y, n);
        return GS_OK;
    case GS_UNARY_SILU:
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = (float)(x[i] / (1.0 + exp(-(double)x[i])));
        return GS_OK;
    case GS_UNARY_SIGMOID:
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
        return GS_OK;
    case GS_UNARY_EXP:
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
        return GS_OK;
    case GS_UNARY_EXP_PLUS1:
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = expf(x[i]) + 1.0f;
        return GS_OK;
    }
    return gs_error(GS_ERR_INVALID, "unary: unknown function %d", (int)f);
}

gs_status gs_add_cpu(const gs_ctx *ctx, float *y, const float *x, size_t n, size_t rows) {
    (void)ctx;
    if (!n || !rows) return GS_OK;
    if (!x || !y) return gs_error(GS_ERR_INVALID, "add: missing input or output");
    if (rows == 1) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] += x[i];
        return GS_OK;
    }
#pragma omp parallel for schedule(static) if (n * rows > PAR_MIN)
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < n; i++) y[r * n + i] += x[i];
    return GS_OK;
}

gs_status gs_add_scaled_cpu(const gs_ctx *ctx, float *x, const float *r, const float *gamma, size_t rows, int dim) {
    (void)ctx;
    if (!x || !r || !gamma || dim < 1) return gs_error(GS_ERR_INVALID, "add_scaled: bad arguments (dim %d)", dim);
#pragma omp parallel for schedule(static) if (rows * dim > PAR_MIN)
    for (size_t t = 0; t < rows; t++)
        for (int c = 0; c < dim; c++) x[t * dim + c] += r[t * dim + c] * gamma[c];
    return GS_OK;
}

gs_status gs_swiglu_cpu(const gs_ctx *ctx, const float *x, size_t rows, int hid, float *y) {
    (void)ctx;
    if (!x || !y || hid < 1) return gs_error(GS_ERR_INVALID, "swiglu: bad arguments (hidden %d)", hid);
#pragma omp parallel for schedule(static) if (rows * hid > PAR_MIN)
    for (size_t t = 0; t < rows; t++) {
        const float *r = x + t * 2 * hid;
        float *o = y + t * hid;
        for (int j = 0; j < hid; j++) {
            const float a = r[j];
            o[j] = (float)(a / (1.0 + exp(-(double)a))) * r[hid + j];
        }
    }
    return GS_OK;
}

gs_status gs_transpose_cpu(const gs_ctx *ctx, const float *x, int n, size_t rows, size_t cols, float *y) {
    (void)ctx;
    if (!x || !y || x == y || n < 0) return gs_error(GS_ERR_INVALID, "transpose: bad arguments");
    /* 32x32 blocks keep both sides in cache. */
    const size_t B = 32;
    for (int i = 0; i < n; i++) {
        const float *xs = x + (size_t)i * rows * cols;
        float *ys = y + (size_t)i * rows * cols;
#pragma omp parallel for schedule(static) collapse(2) if (rows * cols > PAR_MIN)
        for (size_t r0 = 0; r0 < rows; r0 += B)
            for (size_t c0 = 0; c0 < cols; c0 += B) {
                size_t r1 = r0 + B < rows ? r0 + B : rows, c1 = c0 + B < cols ? c0 + B : cols;
                for (size_t r = r0; r < r1; r++)
                    for (size_t c = c0; c < c1; c++) ys[c * rows + r] = xs[r * cols + c];
            }
    }
    return GS_OK;
}

gs_status gs_copy2d_cpu(const gs_ctx *ctx, float *dst, size_t dst_ld, const float *src, size_t src_ld, size_t rows,
                        size_t cols) {
    (void)ctx;
    if (!rows || !cols) return GS_OK;
    if (!dst || !src || dst_ld < cols || (src_ld && src_ld < cols))
        return gs_error(GS_ERR_INVALID, "copy2d: bad arguments (%zu x %zu, strides %zu / %zu)", rows, cols, dst_ld,
                        src_ld);
#pragma omp parallel for schedule(static) if (rows * cols > PAR_MIN)
    for (size_t r = 0; r < rows; r++) memcpy(dst + r * dst_ld, src + r * src_ld, cols * sizeof *dst);
    return GS_OK;
}

gs_status gs_find_outside_cpu(const gs_ctx *ctx, const float *x, size_t n, float lo, float hi, size_t *first) {
    (void)ctx;
    if (!first || (n && !x)) return gs_error(GS_ERR_INVALID, "find_outside: bad arguments");
    size_t at = n;
#pragma omp parallel for schedule(static) reduction(min : at) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= lo && x[i] <= hi) && i < at) at = i;
    *first = at;
    return GS_OK;
}

gs_status gs_scale_cpu(const gs_ctx *ctx, float *x, size_t n, size_t rows, const double *s, int divide) {
    (void)ctx;
    if (!n || !rows) return GS_OK;
    if (!x || !s) return gs_error(GS_ERR_INVALID, "scale: missing input or factors");
    for (size_t r = 0; r < rows; r++) {
        float *xr = x + r * n;
        const double f = s[r];
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
        for (size_t i = 0; i < n; i++) xr[i] = divide ? (float)(xr[i] / f) : (float)(xr[i] * f);
    }
    return GS_OK;
}

gs_status gs_mask_below_cpu(const gs_ctx *ctx, const float *x, size_t n, float t, unsigned char *mask, size_t *count) {
    (void)ctx;
    if ((n && (!x || !mask)) || !count) return gs_error(GS_ERR_INVALID, "mask_below: bad arguments");
    size_t k = 0;
#pragma omp parallel for schedule(static) reduction(+ : k) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) k += mask[i] = x[i] < t;
    *count = k;
    return GS_OK;
}

gs_status gs_fill_unmasked_cpu(const gs_ctx *ctx, float *x, const unsigned char *mask, size_t n, float value) {
    (void)ctx;
    if (n && (!x || !mask)) return gs_error(GS_ERR_INVALID, "fill_unmasked: bad arguments");
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++)
        if (!mask[i]) x[i] = value;
    return GS_OK;
}

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

size_t gs_quantile_workspace_cpu(const gs_ctx *ctx, size_t n) {
    (void)ctx;
    return gs_arena_round((n ? n : 1) * sizeof(float));
}

gs_status gs_quantile_cpu(const gs_ctx *ctx, const float *x, const unsigned char *mask, size_t n, double q, float *out) {
    if (!x || !out || !(q >= 0 && q <= 1)) return gs_error(GS_ERR_INVALID, "quantile: bad arguments (q %g)", q);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += !mask || mask[i];
    if (!k) return gs_error(GS_ERR_INVALID, "quantile of an empty set");
    const size_t mark = gs_ws_mark(ctx);
    float *v = gs_ws_take(ctx, k * sizeof *v, "quantile buffer");
    if (!v) return GS_ERR_NOMEM;
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (!mask || mask[i]) v[k++] = x[i];
    qsort(v, k, sizeof *v, cmp_float);
    const double pos = q * (double)(k - 1);
    const size_t lo = (size_t)floor(pos), hi = lo + 1 < k ? lo + 1 : lo;
    const float frac = (float)(pos - (double)lo);
    *out = v[lo] + frac * (v[hi] - v[lo]); /* torch.lerp in float: a + w (b - a) */
    gs_ws_release(ctx, mark);
    return GS_OK;
}
