/* cpu_conv.c - CPU versions of the shared CNN operations (see ops.h):
 * convolution as im2col + OpenBLAS sgemm, bias, ReLU, max-pool, channel
 * concatenation.
 *
 * Threading: everything, matrix products included, is spread over OpenMP
 * threads; OpenBLAS itself is set to one thread. With both pools active,
 * OpenMP's and OpenBLAS's idle workers busy-wait on the cores the other pool
 * needs: LPIPS-alex at 504x378 ran 2x slower on 2 cores that way. */
#include "gs/ops/cpu.h"

#include <cblas.h>
#include <float.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Largest im2col band, in floats (16 MiB): large enough that sgemm runs at
 * full speed, small enough that a 1080p VGG layer does not need gigabytes. */
#define COL_BAND_FLOATS ((size_t)4 << 20)

static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

/* C[M x N] = A[M x K] B[K x N] (row-major, leading dimensions given), split
 * over the OpenMP threads along N (or M when N is narrow). */
static void sgemm_par(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc) {
    pthread_once(&g_blas_once, blas_single_thread);
    const int nt = gs_cpu_threads();
    if (nt <= 1 || (double)M * N * K < 2e6) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
        return;
    }
    const int split_n = N >= 64 * nt || N >= M;
#pragma omp parallel num_threads(nt)
    {
        size_t lo, hi; /* whole SIMD panels when splitting N */
        gs_cpu_thread_span((size_t)(split_n ? N : M), split_n ? 16 : 1, &lo, &hi);
        const int b0 = (int)lo, b1 = (int)hi;
        if (b1 > b0) {
            if (split_n)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, b1 - b0, K, 1.0f, A, lda, B + b0, ldb, 0.0f,
                            C + b0, ldc);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b1 - b0, N, K, 1.0f, A + (size_t)b0 * lda, lda,
                            B, ldb, 0.0f, C + (size_t)b0 * ldc, ldc);
        }
    }
}

int gs_conv2d_out_size(int in, int k, int stride, int pad) {
    if (in < 1 || k < 1 || stride < 1 || pad < 0) return 0;
    long span = (long)in + 2L * pad - k;
    if (span < 0) return 0;
    long out = span / stride + 1;
    return out > INT_MAX ? 0 : (int)out;
}

int gs_pool_out_size(int in, int k, int stride, int pad, int ceil_mode) {
    if (in < 1 || k < 1 || stride < 1 || pad < 0 || pad > k / 2) return 0;
    /* torch pooling_output_shape: floor division (rounding down, also for a
     * negative numerator), so in ceil mode a window larger than the input
     * still gives one output */
    long num = (long)in + 2L * pad - k + (ceil_mode ? stride - 1 : 0);
    long q = num >= 0 ? num / stride : -((-num + stride - 1) / stride);
    long out = q + 1;
    /* the last window must start inside the input or the left padding */
    if (ceil_mode && (out - 1) * stride >= (long)in + pad) out--;
    return out < 1 || out > INT_MAX ? 0 : (int)out;
}

gs_status gs_bias_add_cpu(const gs_ctx *ctx, float *x, int n, int c, size_t hw, const float *bias) {
    (void)ctx;
    if (!x || n < 0 || c < 0) return gs_error(GS_ERR_INVALID, "bias_add: bad arguments (n %d, channels %d)", n, c);
    if (!bias) return GS_OK;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            float *p = x + ((size_t)b * c + ch) * hw;
            const float v = bias[ch];
            for (size_t i = 0; i < hw; i++) p[i] += v;
        }
    return GS_OK;
}

/* Rows [r0, r1) of the im2col matrix of one image: col[k][(r - r0)*wo + j]
 * with k = (c*kh + u)*kw + v. */
static void im2col_band(const gs_conv2d_params *p, const float *x, int h, int w, int wo, int r0, int r1,
                        float *col) {
    const int K = p->c_in * p->kh * p->kw;
    const size_t band = (size_t)(r1 - r0) * wo;
#pragma omp parallel for schedule(static)
    for (int k = 0; k < K; k++) {
        const int v = k % p->kw, u = (k / p->kw) % p->kh, c = k / (p->kw * p->kh);
        const float *xc = x + (size_t)c * h * w;
        float *dst = col + (size_t)k * band;
        for (int r = r0; r < r1; r++) {
            const int yy = r * p->stride_h - p->pad_h + u;
            float *d = dst + (size_t)(r - r0) * wo;
            if (yy < 0 || yy >= h) {
                memset(d, 0, (size_t)wo * sizeof *d);
                continue;
            }
            const float *src = xc + (size_t)yy * w;
            /* columns j whose tap lands inside the row: 0 <= j*s - pad + v < w */
            int j = 0;
            for (; j < wo && j * p->stride_w - p->pad_w + v < 0; j++) d[j] = 0.0f;
            if (p->stride_w == 1) {
                int jend = w + p->pad_w - v; /* first j past the right edge */
                if (jend > wo) jend = wo;
                if (jend > j) {
                    memcpy(d + j, src + j - p->pad_w + v, (size_t)(jend - j) * sizeof *d);
                    j = jend;
                }
            } else {
                for (; j < wo; j++) {
                    const int xx = j * p->stride_w - p->pad_w + v;
                    if (xx >= w) break;
                    d[j] = src[xx];
                }
            }
            for (; j < wo; j++) d[j] = 0.0f;
        }
    }
}

/* Output rows per im2col band: the whole output when the column matrix fits
 * COL_BAND_FLOATS, else as many rows as do (at least one). */
static int band_rows_for(size_t K, int ho, int wo) {
    size_t rows = COL_BAND_FLOATS / (K * (size_t)wo);
    if (rows < 1) rows = 1;
    return rows < (size_t)ho ? (int)rows : ho;
}

static int is_pointwise(const gs_conv2d_params *p) {
    return p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 && p->pad_w == 0;
}

size_t gs_conv2d_workspace_cpu(const gs_ctx *ctx, const gs_conv2d_params *p, int n, int h, int w) {
    (void)ctx, (void)n;
    if (!p || is_pointwise(p)) return 0;
    const int ho = gs_conv2d_out_size(h, p->kh, p->stride_h, p->pad_h);
    const int wo = gs_conv2d_out_size(w, p->kw, p->stride_w, p->pad_w);
    if (ho < 1 || wo < 1 || p->c_in < 1) return 0;
    const size_t K = (size_t)p->c_in * p->kh * p->kw;
    return gs_arena_round(K * (size_t)band_rows_for(K, ho, wo) * wo * sizeof(float));
}

gs_status gs_conv2d_cpu(const gs_ctx *ctx, const gs_conv2d_params *p, const float *x, int n, int h, int w,
                        const gs_wt *weight_view, const float *bias, float *y, int relu) {
    const float *weight = gs_cpu_wt(weight_view, "conv2d");
    if (!p || !x || !weight || !y || n < 1 || p->c_in < 1 || p->c_out < 1)
        return gs_error(GS_ERR_INVALID, "conv2d: bad arguments (n %d, c_in %d, c_out %d)", n,
                        p ? p->c_in : 0, p ? p->c_out : 0);
    const int ho = gs_conv2d_out_size(h, p->kh, p->stride_h, p->pad_h);
    const int wo = gs_conv2d_out_size(w, p->kw, p->stride_w, p->pad_w);
    if (ho < 1 || wo < 1)
        return gs_error(GS_ERR_INVALID,
                        "conv2d: input %dx%d is too small for a %dx%d kernel (stride %d,%d, padding %d,%d)", w,
                        h, p->kw, p->kh, p->stride_w, p->stride_h, p->pad_w, p->pad_h);
    const size_t K = (size_t)p->c_in * p->kh * p->kw, howo = (size_t)ho * wo;
    if (K > INT_MAX || howo > INT_MAX || (size_t)h * w > INT_MAX)
        return gs_error(GS_ERR_INVALID, "conv2d: %dx%dx%d input too large for one product", p->c_in, w, h);
    if (weight_view->ndim != 4 || weight_view->shape[0] != p->c_out || weight_view->shape[1] != p->c_in ||
        weight_view->shape[2] != p->kh || weight_view->shape[3] != p->kw)
        return gs_error(GS_ERR_INVALID, "conv2d: weight is not [%d, %d, %d, %d]", p->c_out, p->c_in, p->kh, p->kw);
    const size_t in_sz = (size_t)p->c_in * h * w, out_sz = p->y_batch ? p->y_batch : (size_t)p->c_out * howo;
    if (out_sz < (size_t)p->c_out * howo)
        return gs_error(GS_ERR_INVALID, "conv2d: output batch stride %zu is below the %zu floats of one image",
                        out_sz, (size_t)p->c_out * howo);
    const int pointwise = is_pointwise(p);
    float *col = NULL;
    int band_rows = ho;
    const size_t mark = gs_ws_mark(ctx);
    if (!pointwise) {
        band_rows = band_rows_for(K, ho, wo);
        col = gs_ws_take(ctx, K * (size_t)band_rows * wo * sizeof *col, "conv2d column buffer");
        if (!col) return GS_ERR_NOMEM;
    }
    for (int b = 0; b < n; b++) {
        const float *xb = x + (size_t)b * in_sz;
        float *yb = y + (size_t)b * out_sz;
        if (pointwise) {
            sgemm_par(p->c_out, (int)howo, (int)K, weight, (int)K, xb, (int)howo, yb, (int)howo);
            continue;
        }
        for (int r0 = 0; r0 < ho; r0 += band_rows) {
            const int r1 = r0 + band_rows < ho ? r0 + band_rows : ho;
            const int nb = (r1 - r0) * wo;
            im2col_band(p, xb, h, w, wo, r0, r1, col);
            sgemm_par(p->c_out, nb, (int)K, weight, (int)K, col, nb, yb + (size_t)r0 * wo, (int)howo);
        }
    }
    gs_ws_release(ctx, mark);
    if (bias || relu) {
        const int c_out = p->c_out;
#pragma omp parallel for collapse(2) schedule(static)
        for (int b = 0; b < n; b++)
            for (int o = 0; o < c_out; o++) {
                float *q = y + (size_t)b * out_sz + (size_t)o * howo;
                const float bv = bias ? bias[o] : 0.0f;
                if (relu)
                    for (size_t i = 0; i < howo; i++) {
                        const float v = q[i] + bv;
                        q[i] = v > 0.0f ? v : 0.0f;
                    }
                else
                    for (size_t i = 0; i < howo; i++) q[i] += bv;
            }
    }
    return GS_OK;
}

gs_status gs_maxpool2d_cpu(const gs_ctx *ctx, const float *x, int n, int c, int h, int w, int k, int stride,
                           int pad, int ceil_mode, float *y) {
    (void)ctx;
    const int ho = gs_pool_out_size(h, k, stride, pad, ceil_mode);
    const int wo = gs_pool_out_size(w, k, stride, pad, ceil_mode);
    if (!x || !y || n < 1 || c < 1 || k < 1 || stride < 1)
        return gs_error(GS_ERR_INVALID, "maxpool2d: bad arguments (n %d, c %d, window %d, stride %d)", n, c, k, stride);
    if (pad < 0 || pad > k / 2)
        return gs_error(GS_ERR_INVALID, "maxpool2d: padding %d must be between 0 and half the %dx%d window", pad, k, k);
    if (ho < 1 || wo < 1)
        return gs_error(GS_ERR_INVALID, "maxpool2d: input %dx%d is too small for a %dx%d window (stride %d, padding %d)",
                        w, h, k, k, stride, pad);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++) {
            const float *xc = x + ((size_t)b * c + ch) * h * w;
            float *yc = y + ((size_t)b * c + ch) * ho * wo;
            for (int i = 0; i < ho; i++) {
                int y0 = i * stride - pad, y1 = y0 + k;
                if (y0 < 0) y0 = 0;
                if (y1 > h) y1 = h;
                for (int j = 0; j < wo; j++) {
                    int x0 = j * stride - pad, x1 = x0 + k;
                    if (x0 < 0) x0 = 0;
                    if (x1 > w) x1 = w;
                    float m = -FLT_MAX;
                    int any = 0;
                    for (int yy = y0; yy < y1; yy++)
                        for (int xx = x0; xx < x1; xx++) {
                            const float v = xc[(size_t)yy * w + xx];
                            /* NaN wins, as in torch */
                            if (!any || v > m || v != v) m = v;
                            any = 1;
                            if (m != m) goto done;
                        }
                done:
                    yc[(size_t)i * wo + j] = m;
                }
            }
        }
    return GS_OK;
}

gs_status gs_concat_channels_cpu(const gs_ctx *ctx, const float *const *srcs, const int *chans, int count, int n,
                                 size_t hw, float *y) {
    (void)ctx;
    if (!srcs || !chans || !y || count < 1 || n < 1)
        return gs_error(GS_ERR_INVALID, "concat_channels: bad arguments (%d inputs, n %d)", count, n);
    int total = 0;
    for (int i = 0; i < count; i++) {
        if (!srcs[i] || chans[i] < 0) return gs_error(GS_ERR_INVALID, "concat_channels: bad input %d", i);
        total += chans[i];
    }
    for (int b = 0; b < n; b++) {
        float *dst = y + (size_t)b * total * hw;
        for (int i = 0; i < count; i++) {
            const size_t len = (size_t)chans[i] * hw;
            memcpy(dst, srcs[i] + (size_t)b * len, len * sizeof *dst);
            dst += len;
        }
    }
    return GS_OK;
}
