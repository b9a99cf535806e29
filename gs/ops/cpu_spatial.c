/* cpu_spatial.c - the spatial resampling ops of the DPT heads (ops.h):
 * ConvTranspose2d with kernel == stride (the x4 / x2 resize layers) and
 * bilinear resizing with align_corners=True (fusion blocks, final upsample).
 *
 * The transposed convolution with kernel == stride has no overlapping taps,
 * so it is one matrix product per image, Z[(o,u,v), p] = sum_c W[c][(o,u,v)]
 * x[c][p], followed by a scatter of Z into the k x k blocks of the output. */
#include "gs/ops/cpu.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>

static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

size_t gs_conv_transpose2d_workspace_cpu(const gs_ctx *ctx, int cin, int h, int w, int cout, int k) {
    (void)ctx, (void)cin;
    if (h < 1 || w < 1 || cout < 1 || k < 1) return 0;
    return gs_arena_round((size_t)cout * k * k * (size_t)h * w * sizeof(float));
}

gs_status gs_conv_transpose2d_cpu(const gs_ctx *ctx, const float *x, int n, int cin, int h, int w,
                                  const gs_wt *weight_view, const float *bias, int cout, int k, float *y) {
    const float *weight = gs_cpu_wt(weight_view, "conv_transpose2d");
    if (weight && (weight_view->ndim != 4 || weight_view->shape[0] != cin || weight_view->shape[1] != cout ||
                   weight_view->shape[2] != k || weight_view->shape[3] != k))
        return gs_error(GS_ERR_INVALID, "conv_transpose2d: weight is not [%d, %d, %d, %d]", cin, cout, k, k);
    if (!x || !weight || !y || n < 1 || cin < 1 || cout < 1 || h < 1 || w < 1 || k < 1)
        return gs_error(GS_ERR_INVALID, "conv_transpose2d: bad arguments (n %d, cin %d, cout %d, %dx%d, k %d)", n,
                        cin, cout, w, h, k);
    const size_t hw = (size_t)h * w, M = (size_t)cout * k * k;
    if (hw > INT_MAX || M > INT_MAX || (size_t)h * k > INT_MAX || (size_t)w * k > INT_MAX)
        return gs_error(GS_ERR_INVALID, "conv_transpose2d: %dx%dx%d input with k %d too large", cout, w, h, k);
    const size_t mark = gs_ws_mark(ctx);
    float *z = gs_ws_take(ctx, M * hw * sizeof *z, "conv_transpose2d product");
    if (!z) return GS_ERR_NOMEM;
    pthread_once(&g_blas_once, blas_single_thread);
    const int ho = h * k, wo = w * k;
    for (int b = 0; b < n; b++) {
        const float *xb = x + (size_t)b * cin * hw;
        float *yb = y + (size_t)b * cout * (size_t)ho * wo;
        /* z [M, hw] = W^T [M, cin] * x [cin, hw]; W is [cin, M] row-major.
         * Columns (pixels) are split over the threads. */
#pragma omp parallel if ((double)M * hw * cin > 2e6)
        {
            size_t c0, c1;
            gs_cpu_thread_span(hw, 16, &c0, &c1);
            if (c1 > c0)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)(c1 - c0), cin, 1.0f, weight,
                            (int)M, xb + c0, (int)hw, 0.0f, z + c0, (int)hw);
        }
        /* y[o][i*k+u][j*k+v] = z[(o*k+u)*k+v][i*w+j] + bias[o] */
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)cout * ho * wo > 65536)
        for (int o = 0; o < cout; o++)
            for (int yy = 0; yy < ho; yy++) {
                const int i = yy / k, u = yy % k;
                const float bv = bias ? bias[o] : 0.0f;
                float *dst = yb + ((size_t)o * ho + yy) * wo;
                for (int v = 0; v < k; v++) {
                    const float *src = z + ((size_t)(o * k + u) * k + v) * hw + (size_t)i * w;
                    for (int j = 0; j < w; j++) dst[j * k + v] = src[j] + bv;
                }
            }
    }
    gs_ws_release(ctx, mark);
    return GS_OK;
}

/* Source index and weight along one axis, as torch's upsample_bilinear2d
 * with align_corners=True: scale (in-1)/(out-1) in float, src = scale*dst,
 * i0 = floor(src), i1 = min(i0+1, in-1), lambda = src - i0. */
typedef struct {
    int i0, i1;
    float l0, l1;
} lerp_tap;

#define TAPS_MAX 4096 /* 64 KiB of column taps */

static lerp_tap lerp_tap_at(int in, int out, int d) {
    const float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    const float src = scale * (float)d;
    lerp_tap t;
    t.i0 = (int)src;
    if (t.i0 > in - 1) t.i0 = in - 1;
    t.i1 = t.i0 < in - 1 ? t.i0 + 1 : t.i0;
    t.l1 = src - (float)t.i0;
    if (t.l1 < 0.0f) t.l1 = 0.0f;
    if (t.l1 > 1.0f) t.l1 = 1.0f;
    t.l0 = 1.0f - t.l1;
    return t;
}

gs_status gs_resize_bilinear_ac_cpu(const gs_ctx *ctx, const float *x, int n, int c, int h, int w, float *y, int ho,
                                    int wo) {
    (void)ctx;
    if (!x || !y || n < 1 || c < 1 || h < 1 || w < 1 || ho < 1 || wo < 1)
        return gs_error(GS_ERR_INVALID, "resize_bilinear: bad arguments (%d x %d channels, %dx%d -> %dx%d)", n, c, w,
                        h, wo, ho);
    /* column taps are shared by every row: a table on the stack for output
     * widths up to TAPS_MAX, recomputed per pixel beyond */
    lerp_tap taps[TAPS_MAX];
    const lerp_tap *tx = wo <= TAPS_MAX ? taps : NULL;
    for (int xx = 0; tx && xx < wo; xx++) taps[xx] = lerp_tap_at(w, wo, xx);
    const size_t planes = (size_t)n * c;
#pragma omp parallel for collapse(2) schedule(static) if (planes * ho * wo > 65536)
    for (size_t pc = 0; pc < planes; pc++)
        for (int yy = 0; yy < ho; yy++) {
            const lerp_tap a = lerp_tap_at(h, ho, yy);
            const float *s = x + pc * (size_t)h * w;
            const float *r0 = s + (size_t)a.i0 * w, *r1 = s + (size_t)a.i1 * w;
            float *d = y + (pc * ho + yy) * (size_t)wo;
            for (int xx = 0; xx < wo; xx++) {
                const lerp_tap b = tx ? tx[xx] : lerp_tap_at(w, wo, xx);
                d[xx] = a.l0 * (b.l0 * r0[b.i0] + b.l1 * r0[b.i1]) + a.l1 * (b.l0 * r1[b.i0] + b.l1 * r1[b.i1]);
            }
        }
    return GS_OK;
}
