/* preprocess.c - Depth Anything 3 input preprocessing (see preprocess.h).
 *
 * Everything here must give the reference's bytes, so the float arithmetic is
 * spelled out operation by operation: products and sums are rounded where the
 * reference rounds them, fused multiply-adds (fmaf) appear exactly where the
 * reference's machine code fuses, and nothing relies on the compiler's choice
 * (the build uses -std=c11, i.e. -ffp-contract=off, and SSE float math).
 *
 * Sources of each rule:
 *  - OpenCV imgproc/src/resize.cpp (INTER_AREA tables, the area fast path and
 *    its 2x2 case, the generic separable cubic with 11-bit coefficients and the
 *    SSE vertical pass) - read, not copied.
 *  - Intel IPP's cubic resize, which pip's opencv-python uses for uint8
 *    INTER_CUBIC: a model worked out by probing cv2 (float32 impulse responses
 *    give the exact coefficients; random uint8 images the operation order):
 *      t   = (float)frac((d + 0.5) * src/dst - 0.5),  tq = (t + 1.0f) - 1.0f
 *      w_k = (float)keys_a=-0.75(|tq + 1 - k|) evaluated in double
 *      interior outputs:  H = fma(p0,w0, p3*w3) + fma(p1,w1, p2*w2)
 *                         V = fma(h0,w0, h1*w1) + fma(h2,w2, h3*w3)
 *      outputs whose horizontal or vertical window leaves the image:
 *                         H = fma(p3,w3, fma(p2,w2, fma(p0,w0, p1*w1)))
 *                         V = (h0*w0 + h2*w2) + (h1*w1 + h3*w3)
 *      rounding to nearest even, clamped to [0, 255]; images under 4 pixels in
 *      either direction are refused by IPP and cv2 runs its own code instead.
 *    (tests/test_preprocess.c checks it against cv2 bytes stored by
 *    tools/make_preprocess_goldens.py.)
 */
#include "backbone/preprocess.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define CN 3 /* RGB */

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static uint8_t sat_u8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static int nthreads_for(int64_t work) {
#ifdef _OPENMP
    int n = omp_get_max_threads();
    /* small images are not worth waking threads for */
    int64_t most = work / 65536 + 1;
    return n < most ? n : (int)most;
#else
    (void)work;
    return 1;
#endif
}

/* ================================================================================
 * INTER_CUBIC, IPP model
 * ================================================================================ */

/* Keys cubic, a = -0.75, |x| <= 1 and 1 <= |x| <= 2 */
static double keys_in(double x) { return 1.25 * x * x * x - 2.25 * x * x + 1.0; }
static double keys_out(double x) { return -0.75 * x * x * x + 3.75 * x * x - 6.0 * x + 3.0; }

typedef struct {
    int idx[4];   /* clamped source pixel of each tap */
    float w[4];
    int border;   /* window leaves the image */
} ipp_tap;

static void ipp_taps(int sn, int dn, ipp_tap *t) {
    double scale = (double)sn / (double)dn;
    for (int d = 0; d < dn; d++) {
        double fx = ((double)d + 0.5) * scale - 0.5;
        double fl = floor(fx);
        int s = (int)fl;
        float tf = (float)(fx - fl);
        float x1 = tf + 1.0f;
        float tq = x1 - 1.0f; /* t on a 2^-23 grid, as IPP sees it */
        t[d].w[0] = (float)keys_out((double)x1);
        t[d].w[1] = (float)keys_in((double)tq);
        t[d].w[2] = (float)keys_in((double)(1.0f - tq));
        t[d].w[3] = (float)keys_out((double)(2.0f - tq));
        for (int k = 0; k < 4; k++) t[d].idx[k] = clampi(s - 1 + k, 0, sn - 1);
        t[d].border = s < 1 || s + 2 >= sn;
    }
}

enum { ROW_MIX = 0, ROW_BORDER = 1 };

/* Horizontal pass of one source row. ROW_MIX: interior formula where the
 * column window is inside, border formula elsewhere (rows feeding interior
 * outputs); ROW_BORDER: border formula everywhere (rows feeding outputs whose
 * vertical window leaves the image). */
static inline __attribute__((always_inline)) void ipp_hrow_body(const uint8_t *srow, const ipp_tap *xt, int dw,
                                                                int kind, float *out) { // [dw, 3]
    for (int dx = 0; dx < dw; dx++) {
        const ipp_tap *t = &xt[dx];
        const uint8_t *p0 = srow + (size_t)t->idx[0] * CN, *p1 = srow + (size_t)t->idx[1] * CN;
        const uint8_t *p2 = srow + (size_t)t->idx[2] * CN, *p3 = srow + (size_t)t->idx[3] * CN;
        float *o = out + (size_t)dx * CN;
        if (kind == ROW_MIX && !t->border) {
            for (int c = 0; c < CN; c++)
                o[c] = fmaf((float)p0[c], t->w[0], (float)p3[c] * t->w[3]) +
                       fmaf((float)p1[c], t->w[1], (float)p2[c] * t->w[2]);
        } else {
            for (int c = 0; c < CN; c++)
                o[c] = fmaf((float)p3[c], t->w[3],
                            fmaf((float)p2[c], t->w[2], fmaf((float)p0[c], t->w[0], (float)p1[c] * t->w[1])));
        }
    }
}

/* Round to nearest, ties to even (the default rounding mode), and saturate:
 * adding and removing 1.5 * 2^23 leaves an integer-valued float. */
static inline uint8_t round_u8(float v) {
    v = v < -1.0f ? -1.0f : v > 256.0f ? 256.0f : v;
    v = (v + 12582912.0f) - 12582912.0f;
    return (uint8_t)(v < 0.0f ? 0 : v > 255.0f ? 255 : (int)v);
}

/* Vertical pass of one output row from the four horizontal rows r. */
static inline __attribute__((always_inline)) void ipp_vrow_body(float *const *r, const ipp_tap *ty, const ipp_tap *xt,
                                                                int dw, uint8_t *o) { // -> [dw, 3]
    const float w0 = ty->w[0], w1 = ty->w[1], w2 = ty->w[2], w3 = ty->w[3];
    for (int dx = 0; dx < dw; dx++) {
        size_t e = (size_t)dx * CN;
        if (!ty->border && !xt[dx].border) {
            for (int c = 0; c < CN; c++)
                o[e + c] = round_u8(fmaf(r[0][e + c], w0, r[1][e + c] * w1) + fmaf(r[2][e + c], w2, r[3][e + c] * w3));
        } else {
            for (int c = 0; c < CN; c++)
                o[e + c] = round_u8((r[0][e + c] * w0 + r[2][e + c] * w2) + (r[1][e + c] * w1 + r[3][e + c] * w3));
        }
    }
}

/* fmaf is a library call unless the compiler may use the FMA instruction;
 * on x86-64 a second copy is built for CPUs that have it (same results:
 * fmaf is exactly rounded either way). */
typedef void (*hrow_fn)(const uint8_t *, const ipp_tap *, int, int, float *);
typedef void (*vrow_fn)(float *const *, const ipp_tap *, const ipp_tap *, int, uint8_t *);
static void ipp_hrow(const uint8_t *s, const ipp_tap *xt, int dw, int kind, float *out) {
    ipp_hrow_body(s, xt, dw, kind, out);
}
static void ipp_vrow(float *const *r, const ipp_tap *ty, const ipp_tap *xt, int dw, uint8_t *o) {
    ipp_vrow_body(r, ty, xt, dw, o);
}
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("fma"))) static void ipp_hrow_fma(const uint8_t *s, const ipp_tap *xt, int dw, int kind,
                                                        float *out) {
    ipp_hrow_body(s, xt, dw, kind, out);
}
__attribute__((target("fma"))) static void ipp_vrow_fma(float *const *r, const ipp_tap *ty, const ipp_tap *xt, int dw,
                                                        uint8_t *o) {
    ipp_vrow_body(r, ty, xt, dw, o);
}
static int cpu_has_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("fma");
}
#else
#define ipp_hrow_fma ipp_hrow
#define ipp_vrow_fma ipp_vrow
static int cpu_has_fma(void) { return 0; }
#endif

typedef struct {
    int sy[8], kind[8];
    float *buf[8];
} row_cache;

/* The horizontal rows for taps yi[0..3] of one kind, computing missing ones
 * into slots that hold none of the four. */
static void cache_get(row_cache *rc, hrow_fn hrow, const uint8_t *src, int sw, const ipp_tap *xt, int dw,
                      const int *yi, int kind, float **rows) {
    for (int k = 0; k < 4; k++) {
        int hit = -1;
        for (int s = 0; s < 8; s++)
            if (rc->sy[s] == yi[k] && rc->kind[s] == kind) { hit = s; break; }
        if (hit < 0) {
            for (int s = 0; s < 8 && hit < 0; s++) {
                int needed = 0;
                for (int j = 0; j < 4; j++)
                    if (rc->sy[s] == yi[j] && rc->kind[s] == kind) needed = 1;
                /* first choice: an empty slot or a row of the other kind */
                if (!needed && (rc->kind[s] != kind || rc->sy[s] < 0)) hit = s;
            }
            for (int s = 0; s < 8 && hit < 0; s++) {
                int needed = 0;
                for (int j = 0; j < 4; j++)
                    if (rc->sy[s] == yi[j] && rc->kind[s] == kind) needed = 1;
                if (!needed) hit = s;
            }
            hrow(src + (size_t)yi[k] * sw * CN, xt, dw, kind, rc->buf[hit]);
            rc->sy[hit] = yi[k];
            rc->kind[hit] = kind;
        }
        rows[k] = rc->buf[hit];
    }
}

static gs_status resize_cubic_ipp(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    ipp_tap *xt = gs_malloc((size_t)dw + (size_t)dh, sizeof *xt, "cubic resize tables");
    if (!xt) return GS_ERR_NOMEM;
    ipp_tap *yt = xt + dw;
    ipp_taps(sw, dw, xt);
    ipp_taps(sh, dh, yt);
    int nt = nthreads_for((int64_t)dw * dh * 16);
    size_t rowlen = (size_t)dw * CN;
    float *bufs = gs_malloc((size_t)nt * 8, rowlen * sizeof(float), "cubic resize rows");
    if (!bufs) { free(xt); return GS_ERR_NOMEM; }
    int fma_hw = cpu_has_fma();
    hrow_fn hrow = fma_hw ? ipp_hrow_fma : ipp_hrow;
    vrow_fn vrow = fma_hw ? ipp_vrow_fma : ipp_vrow;
#pragma omp parallel num_threads(nt)
    {
        int tid = 0, n = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        n = omp_get_num_threads();
#endif
        row_cache rc;
        for (int s = 0; s < 8; s++) {
            rc.sy[s] = -1;
            rc.kind[s] = -1;
            rc.buf[s] = bufs + ((size_t)tid * 8 + s) * rowlen;
        }
        int y0 = (int)((int64_t)dh * tid / n), y1 = (int)((int64_t)dh * (tid + 1) / n);
        for (int dy = y0; dy < y1; dy++) {
            const ipp_tap *ty = &yt[dy];
            float *r[4];
            cache_get(&rc, hrow, src, sw, xt, dw, ty->idx, ty->border ? ROW_BORDER : ROW_MIX, r);
            vrow(r, ty, xt, dw, dst + (size_t)dy * rowlen);
        }
    }
    free(bufs);
    free(xt);
    return GS_OK;
}

/* ================================================================================
 * INTER_CUBIC, OpenCV's own code (11-bit fixed-point taps)
 * ================================================================================ */

#define COEF_BITS 11
#define COEF_SCALE (1 << COEF_BITS)

static void cubic_coeffs_ocv(float x, float *c) {
    const float A = -0.75f;
    c[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
    c[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
    c[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
    c[3] = 1.f - c[0] - c[1] - c[2];
}

static short sat_s16_round(float v) {
    long r = lrintf(v);
    return (short)(r < -32768 ? -32768 : r > 32767 ? 32767 : r);
}

static gs_status resize_cubic_ocv(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    const int width = dw * CN;
    double scale_x = 1. / ((double)dw / sw), scale_y = 1. / ((double)dh / sh);
    int *xofs = gs_malloc((size_t)width + (size_t)dh, sizeof(int), "cubic resize tables");
    short *alpha = gs_malloc((size_t)width * 4 + (size_t)dh * 4, sizeof(short), "cubic resize tables");
    int *hbuf = gs_malloc((size_t)4, (size_t)width * sizeof(int), "cubic resize rows");
    if (!xofs || !alpha || !hbuf) { free(xofs); free(alpha); free(hbuf); return GS_ERR_NOMEM; }
    int *yofs = xofs + width;
    short *beta = alpha + (size_t)width * 4;
    int xmin = 0, xmax = dw;
    float cb[4];
    for (int dx = 0; dx < dw; dx++) {
        float fx = (float)(((double)dx + 0.5) * scale_x - 0.5);
        int sx = (int)floorf(fx);
        fx -= (float)sx;
        if (sx < 1) xmin = dx + 1;
        if (sx + 2 >= sw && dx < xmax) xmax = dx;
        for (int k = 0; k < CN; k++) xofs[dx * CN + k] = sx * CN + k;
        cubic_coeffs_ocv(fx, cb);
        for (int c = 0; c < CN; c++)
            for (int k = 0; k < 4; k++) alpha[(size_t)(dx * CN + c) * 4 + k] = sat_s16_round(cb[k] * COEF_SCALE);
    }
    for (int dy = 0; dy < dh; dy++) {
        float fy = (float)(((double)dy + 0.5) * scale_y - 0.5);
        int sy = (int)floorf(fy);
        fy -= (float)sy;
        yofs[dy] = sy;
        cubic_coeffs_ocv(fy, cb);
        for (int k = 0; k < 4; k++) beta[dy * 4 + k] = sat_s16_round(cb[k] * COEF_SCALE);
    }
    const int swidth = sw * CN, emin = xmin * CN, emax = xmax * CN;
    int cached[4] = {-1, -1, -1, -1};
    for (int dy = 0; dy < dh; dy++) {
        int *rows[4];
        for (int k = 0; k < 4; k++) {
            int sy = clampi(yofs[dy] - 1 + k, 0, sh - 1);
            int *row = hbuf + (size_t)k * width;
            rows[k] = row;
            if (cached[k] == sy) continue;
            cached[k] = sy;
            const uint8_t *S = src + (size_t)sy * swidth;
            for (int e = 0; e < width; e++) {
                const short *a = alpha + (size_t)e * 4;
                int sx = xofs[e] - CN, v = 0;
                if (e >= emin && e < emax) {
                    v = S[sx] * a[0] + S[sx + CN] * a[1] + S[sx + 2 * CN] * a[2] + S[sx + 3 * CN] * a[3];
                } else {
                    for (int j = 0; j < 4; j++) {
                        int sxj = sx + j * CN;
                        while (sxj < 0) sxj += CN;
                        while (sxj >= swidth) sxj -= CN;
                        v += S[sxj] * a[j];
                    }
                }
                row[e] = v;
            }
        }
        const short *b = beta + (size_t)dy * 4;
        uint8_t *D = dst + (size_t)dy * width;
        /* OpenCV's 128-bit SIMD vertical pass: whole blocks of 8 values in
         * float32 (nested multiply-adds, not fused), the rest in integers */
        const int vend = width / 8 * 8;
        const float sc = 1.f / (COEF_SCALE * COEF_SCALE);
        const float b0 = b[0] * sc, b1 = b[1] * sc, b2 = b[2] * sc, b3 = b[3] * sc;
        int x = 0;
        for (; x < vend; x++) {
            float t = (float)rows[3][x] * b3;
            t = (float)rows[2][x] * b2 + t;
            t = (float)rows[1][x] * b1 + t;
            t = (float)rows[0][x] * b0 + t;
            D[x] = round_u8(t);
        }
        for (; x < width; x++) {
            int v = rows[0][x] * b[0] + rows[1][x] * b[1] + rows[2][x] * b[2] + rows[3][x] * b[3];
            D[x] = sat_u8((v + (1 << (2 * COEF_BITS - 1))) >> (2 * COEF_BITS));
        }
    }
    free(hbuf);
    free(alpha);
    free(xofs);
    return GS_OK;
}

/* ================================================================================
 * INTER_AREA (shrinking)
 * ================================================================================ */

/* resizeAreaFast_: integer factors; 2x2 rounds (sum + 2) >> 2, others
 * rint((float)sum * (1.f/area)). */
static gs_status resize_area_fast(const uint8_t *src, int sw, uint8_t *dst, int dw, int dh, int isx, int isy) {
    const int area = isx * isy;
    const float scale = 1.f / (float)area;
    const size_t sstride = (size_t)sw * CN, dstride = (size_t)dw * CN;
    int nt = nthreads_for((int64_t)dw * dh * area);
    int *accs = gs_malloc((size_t)nt, dstride * sizeof(int), "area resize rows");
    if (!accs) return GS_ERR_NOMEM;
#pragma omp parallel num_threads(nt)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        int *acc = accs + (size_t)tid * dstride;
#pragma omp for schedule(static)
        for (int dy = 0; dy < dh; dy++) {
            const uint8_t *S = src + (size_t)dy * isy * sstride;
            uint8_t *D = dst + (size_t)dy * dstride;
            if (isx == 2 && isy == 2) {
                const uint8_t *N = S + sstride;
                for (int dx = 0; dx < dw; dx++)
                    for (int c = 0; c < CN; c++) {
                        size_t i = (size_t)dx * 2 * CN + c;
                        D[(size_t)dx * CN + c] = (uint8_t)((S[i] + S[i + CN] + N[i] + N[i + CN] + 2) >> 2);
                    }
                continue;
            }
            /* integer sums, so their order does not matter: walk the rows in memory order */
            memset(acc, 0, dstride * sizeof(int));
            for (int y = 0; y < isy; y++) {
                const uint8_t *p = S + (size_t)y * sstride;
                for (int dx = 0; dx < dw; dx++) {
                    int *a = acc + (size_t)dx * CN;
                    for (int x = 0; x < isx; x++, p += CN) {
                        a[0] += p[0];
                        a[1] += p[1];
                        a[2] += p[2];
                    }
                }
            }
            for (size_t e = 0; e < dstride; e++) D[e] = round_u8((float)acc[e] * scale);
        }
    }
    free(accs);
    return GS_OK;
}

typedef struct {
    int di, si;
    float alpha;
} area_tab;

/* computeResizeAreaTab (OpenCV asserts at most 2*ssize entries; cap is larger
 * and checked before every cell, which emits at most (int)scale + 3) */
static int area_tabs(int ssize, int dsize, int cn, double scale, area_tab *tab, size_t cap) {
    int k = 0;
    for (int dx = 0; dx < dsize; dx++) {
        if ((size_t)k + (size_t)scale + 3 > cap) return -1;
        double fsx1 = dx * scale;
        double fsx2 = fsx1 + scale;
        double cell = scale < ssize - fsx1 ? scale : ssize - fsx1;
        int sx1 = (int)ceil(fsx1), sx2 = (int)floor(fsx2);
        if (sx2 > ssize - 1) sx2 = ssize - 1;
        if (sx1 > sx2) sx1 = sx2;
        if (sx1 - fsx1 > 1e-3) {
            tab[k].di = dx * cn; tab[k].si = (sx1 - 1) * cn; tab[k].alpha = (float)((sx1 - fsx1) / cell); k++;
        }
        for (int sx = sx1; sx < sx2; sx++) {
            tab[k].di = dx * cn; tab[k].si = sx * cn; tab[k].alpha = (float)(1.0 / cell); k++;
        }
        if (fsx2 - sx2 > 1e-3) {
            double part = fsx2 - sx2 < 1. ? fsx2 - sx2 : 1.;
            if (part > cell) part = cell;
            tab[k].di = dx * cn; tab[k].si = sx2 * cn; tab[k].alpha = (float)(part / cell); k++;
        }
    }
    return k;
}

/* resizeArea_<uchar, float>: per source row a float32 horizontal sum in table
 * order, then per output row sum = b0*buf0, sum = sum + bj*bufj. */
static gs_status resize_area_general(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh, double scale_x,
                                     double scale_y) {
    const size_t capx = ((size_t)sw + dw) * 2 + 8, capy = ((size_t)sh + dh) * 2 + 8;
    area_tab *xt = gs_malloc(capx + capy, sizeof *xt, "area resize tables");
    int *ofs = gs_malloc((size_t)dh + 1, sizeof(int), "area resize tables");
    if (!xt || !ofs) { free(xt); free(ofs); return GS_ERR_NOMEM; }
    area_tab *yt = xt + capx;
    int nx = area_tabs(sw, dw, CN, scale_x, xt, capx);
    int ny = area_tabs(sh, dh, 1, scale_y, yt, capy);
    if (nx < 0 || ny < 0) {
        free(xt);
        free(ofs);
        return gs_error(GS_ERR_INVALID, "resize %dx%d -> %dx%d: area table overflow", sw, sh, dw, dh);
    }
    for (int k = 0, dy = 0; k < ny; k++)
        if (k == 0 || yt[k].di != yt[k - 1].di) ofs[dy++] = k;
    ofs[dh] = ny;
    const size_t width = (size_t)dw * CN;
    int nt = nthreads_for((int64_t)sw * sh);
    float *bufs = gs_malloc((size_t)nt * 2, width * sizeof(float), "area resize rows");
    if (!bufs) { free(xt); free(ofs); return GS_ERR_NOMEM; }
#pragma omp parallel num_threads(nt)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *buf = bufs + (size_t)tid * 2 * width, *sum = buf + width;
#pragma omp for schedule(static)
        for (int dy = 0; dy < dh; dy++) {
            for (int j = ofs[dy]; j < ofs[dy + 1]; j++) {
                const uint8_t *S = src + (size_t)yt[j].si * sw * CN;
                float beta = yt[j].alpha;
                memset(buf, 0, width * sizeof(float));
                for (int k = 0; k < nx; k++) {
                    const area_tab *t = &xt[k];
                    for (int c = 0; c < CN; c++) buf[t->di + c] = buf[t->di + c] + (float)S[t->si + c] * t->alpha;
                }
                if (j == ofs[dy])
                    for (size_t e = 0; e < width; e++) sum[e] = beta * buf[e];
                else
                    for (size_t e = 0; e < width; e++) sum[e] = sum[e] + beta * buf[e];
            }
            uint8_t *D = dst + (size_t)dy * width;
            for (size_t e = 0; e < width; e++) D[e] = round_u8(sum[e]);
        }
    }
    free(bufs);
    free(ofs);
    free(xt);
    return GS_OK;
}

static gs_status resize_area(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
    double scale_x = 1. / ((double)dw / sw), scale_y = 1. / ((double)dh / sh);
    if (!(scale_x >= 1 && scale_y >= 1))
        return gs_error(GS_ERR_UNSUPPORTED,
                        "resize %dx%d -> %dx%d: INTER_AREA only shrinks (OpenCV switches to bilinear when growing)", sw,
                        sh, dw, dh);
    int isx = (int)lrint(scale_x), isy = (int)lrint(scale_y);
    if (fabs(scale_x - isx) < DBL_EPSILON && fabs(scale_y - isy) < DBL_EPSILON)
        return resize_area_fast(src, sw, dst, dw, dh, isx, isy);
    return resize_area_general(src, sw, sh, dst, dw, dh, scale_x, scale_y);
}

/* ================================================================================
 * public resize
 * ================================================================================ */

gs_status gs_da3_resize_u8(const uint8_t *src, int w, int h, uint8_t *dst, int nw, int nh, int method) {
    if (!src || !dst) return gs_error(GS_ERR_INVALID, "resize: NULL image");
    if (w < 1 || h < 1 || nw < 1 || nh < 1 || w > GS_IMAGE_MAX_DIM || h > GS_IMAGE_MAX_DIM ||
        nw > GS_IMAGE_MAX_DIM || nh > GS_IMAGE_MAX_DIM || (int64_t)w * h > GS_IMAGE_MAX_PIXELS ||
        (int64_t)nw * nh > GS_IMAGE_MAX_PIXELS)
        return gs_error(GS_ERR_INVALID, "resize %dx%d -> %dx%d: size out of range (1..%d per side, %lld pixels)", w, h,
                        nw, nh, GS_IMAGE_MAX_DIM, (long long)GS_IMAGE_MAX_PIXELS);
    if (method != GS_DA3_INTER_CUBIC && method != GS_DA3_INTER_CUBIC_OCV && method != GS_DA3_INTER_AREA)
        return gs_error(GS_ERR_INVALID, "resize: unknown interpolation %d (cubic %d, area %d, opencv cubic %d)", method,
                        GS_DA3_INTER_CUBIC, GS_DA3_INTER_AREA, GS_DA3_INTER_CUBIC_OCV);
    if (nw == w && nh == h) {
        memcpy(dst, src, (size_t)w * h * CN);
        return GS_OK;
    }
    if (method == GS_DA3_INTER_AREA) return resize_area(src, w, h, dst, nw, nh);
    if (method == GS_DA3_INTER_CUBIC && w >= 4 && h >= 4) return resize_cubic_ipp(src, w, h, dst, nw, nh);
    return resize_cubic_ocv(src, w, h, dst, nw, nh);
}

/* ================================================================================
 * sizes
 * ================================================================================ */

static const char *const method_names[] = {"upper_bound_resize", "lower_bound_resize", "upper_bound_crop",
                                           "lower_bound_crop"};

gs_status gs_da3_resize_method_parse(const char *name, gs_da3_resize_method *out) {
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, method_names[i])) {
            *out = (gs_da3_resize_method)i;
            return GS_OK;
        }
    return gs_error(GS_ERR_INVALID,
                    "process_res_method '%s': unknown (upper_bound_resize, lower_bound_resize, upper_bound_crop, "
                    "lower_bound_crop)",
                    name ? name : "(null)");
}

const char *gs_da3_resize_method_name(gs_da3_resize_method m) {
    return (unsigned)m < 4 ? method_names[m] : "?";
}

static int nearest_multiple(int x, int p) {
    int down = x / p * p, up = down + p;
    return up - x <= x - down ? up : down;
}

gs_status gs_da3_plan_size(int w, int h, int process_res, gs_da3_resize_method m, gs_da3_plan *p) {
    memset(p, 0, sizeof *p);
    if ((unsigned)m > GS_DA3_LOWER_BOUND_CROP) return gs_error(GS_ERR_INVALID, "preprocess: unknown method %d", (int)m);
    if (process_res < GS_DA3_PATCH || process_res > GS_DA3_MAX_PROCESS_RES)
        return gs_error(GS_ERR_INVALID, "process_res %d: must be between %d and %d", process_res, GS_DA3_PATCH,
                        GS_DA3_MAX_PROCESS_RES);
    if (w < 1 || h < 1 || w > GS_IMAGE_MAX_DIM || h > GS_IMAGE_MAX_DIM || (int64_t)w * h > GS_IMAGE_MAX_PIXELS)
        return gs_error(GS_ERR_INVALID, "image %dx%d: size out of range", w, h);
    int upper = m == GS_DA3_UPPER_BOUND_RESIZE || m == GS_DA3_UPPER_BOUND_CROP;
    int by_resize = m == GS_DA3_UPPER_BOUND_RESIZE || m == GS_DA3_LOWER_BOUND_RESIZE;
    p->orig_w = w;
    p->orig_h = h;
    p->bound_w = w;
    p->bound_h = h;
    p->bound_interp = GS_DA3_INTER_NONE;
    p->fix_interp = GS_DA3_INTER_NONE;
    int side = upper ? (w > h ? w : h) : (w < h ? w : h);
    if (side != process_res) {
        double scale = (double)process_res / (double)side;
        double nw = rint((double)w * scale), nh = rint((double)h * scale); /* Python round: ties to even */
        if (nw > GS_IMAGE_MAX_DIM || nh > GS_IMAGE_MAX_DIM || nw * nh > (double)GS_IMAGE_MAX_PIXELS)
            return gs_error(GS_ERR_INVALID,
                            "image %dx%d: %s to %d gives %.0fx%.0f, over the size limit (image too elongated?)", w,
                            h, upper ? "longest side" : "shortest side", process_res, nw, nh);
        p->bound_w = nw < 1 ? 1 : (int)nw;
        p->bound_h = nh < 1 ? 1 : (int)nh;
        p->bound_interp = scale > 1.0 ? GS_DA3_INTER_CUBIC : GS_DA3_INTER_AREA;
    }
    int bw = p->bound_w, bh = p->bound_h;
    if (by_resize) {
        int fw = nearest_multiple(bw, GS_DA3_PATCH), fh = nearest_multiple(bh, GS_DA3_PATCH);
        p->final_w = fw < 1 ? 1 : fw;
        p->final_h = fh < 1 ? 1 : fh;
        if (p->final_w != bw || p->final_h != bh)
            p->fix_interp = p->final_w > bw || p->final_h > bh ? GS_DA3_INTER_CUBIC : GS_DA3_INTER_AREA;
    } else {
        p->final_w = bw / GS_DA3_PATCH * GS_DA3_PATCH;
        p->final_h = bh / GS_DA3_PATCH * GS_DA3_PATCH;
        p->crop_left = (bw - p->final_w) / 2;
        p->crop_top = (bh - p->final_h) / 2;
    }
    /* lower_bound_* bound the shortest side: an elongated photo would get a
     * network input far past process_res on its long side */
    if ((int64_t)p->final_w * p->final_h > (int64_t)GS_DA3_MAX_PROCESS_RES * GS_DA3_MAX_PROCESS_RES)
        return gs_error(GS_ERR_INVALID,
                        "image %dx%d: process_res %d (%s) gives a %dx%d network input, over the %dx%d pixels gs "
                        "processes (%d tokens a view); use a smaller --process-res or upper_bound_resize",
                        w, h, process_res, method_names[m], p->final_w, p->final_h, GS_DA3_MAX_PROCESS_RES,
                        GS_DA3_MAX_PROCESS_RES, (GS_DA3_MAX_PROCESS_RES / GS_DA3_PATCH) * (GS_DA3_MAX_PROCESS_RES / GS_DA3_PATCH));
    if (p->final_w < GS_DA3_PATCH || p->final_h < GS_DA3_PATCH || p->final_w % GS_DA3_PATCH ||
        p->final_h % GS_DA3_PATCH)
        return gs_error(GS_ERR_INVALID,
                        "image %dx%d: process_res %d (%s) gives %dx%d, below one %d-pixel patch on a side (image too "
                        "small or too elongated)",
                        w, h, process_res, method_names[m], p->final_w, p->final_h, GS_DA3_PATCH);
    return GS_OK;
}

/* ================================================================================
 * pixels in and out
 * ================================================================================ */

gs_status gs_da3_image_to_rgb8(const gs_image *im, uint8_t **rgb) {
    *rgb = NULL;
    if (!im || !im->data) return gs_error(GS_ERR_INVALID, "preprocess: image has no pixels");
    if (im->width < 1 || im->height < 1 || im->width > GS_IMAGE_MAX_DIM || im->height > GS_IMAGE_MAX_DIM ||
        (int64_t)im->width * im->height > GS_IMAGE_MAX_PIXELS)
        return gs_error(GS_ERR_INVALID, "preprocess: image size %dx%d out of range", im->width, im->height);
    if (im->channels < 1 || im->channels > 4)
        return gs_error(GS_ERR_INVALID, "preprocess: image has %d channels (1..4 supported)", im->channels);
    size_t n = (size_t)im->width * im->height;
    uint8_t *out = gs_malloc(n, CN, "RGB image");
    if (!out) return GS_ERR_NOMEM;
    const int ch = im->channels, wide = im->bit_depth == 16, nc = ch >= 3 ? 3 : 1;
    int bad = 0;
    int nt = nthreads_for((int64_t)n);
    (void)nt; /* unused without OpenMP */
    if (ch == 3 && !wide) { /* the common case, as one flat loop the compiler vectorises */
        const float *f = im->data;
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : bad)
        for (size_t i = 0; i < n * 3; i++) {
            float v = f[i];
            bad |= v != v;
            v = v >= 0.0f ? v : 0.0f;
            v = v <= 1.0f ? v : 1.0f;
            out[i] = (uint8_t)(int)((v * 255.0f + 12582912.0f) - 12582912.0f);
        }
    } else
#pragma omp parallel for num_threads(nt) schedule(static) reduction(| : bad)
    for (int y = 0; y < im->height; y++) {
        const float *f = im->data + (size_t)y * im->width * ch;
        uint8_t *o = out + (size_t)y * im->width * CN;
        for (int x = 0; x < im->width; x++, f += ch, o += CN) {
            for (int c = 0; c < nc; c++) {
                float v = f[c];
                bad |= v != v;
                v = v >= 0.0f ? v : 0.0f; /* NaN -> 0, reported below */
                v = v <= 1.0f ? v : 1.0f;
                if (wide) {
                    /* round half even, as lrintf; exact below 2^22 */
                    int q = (int)((v * 65535.0f + 12582912.0f) - 12582912.0f);
                    /* PIL: mode I;16 -> RGB saturates; RGB;16 / LA;16 keep the high byte */
                    o[c] = ch == 1 ? (uint8_t)(q > 255 ? 255 : q) : (uint8_t)(q >> 8);
                } else {
                    o[c] = (uint8_t)(int)((v * 255.0f + 12582912.0f) - 12582912.0f);
                }
            }
            if (nc == 1) o[1] = o[2] = o[0];
        }
    }
    if (bad) {
        free(out);
        return gs_error(GS_ERR_INVALID, "preprocess: image %dx%d has NaN pixels", im->width, im->height);
    }
    *rgb = out;
    return GS_OK;
}

static const float k_mean[3] = {0.485f, 0.456f, 0.406f};
static const float k_std[3] = {0.229f, 0.224f, 0.225f};

void gs_da3_normalize(const uint8_t *rgb, int w, int h, float *chw) {
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) lut[c][v] = ((float)v / 255.0f - k_mean[c]) / k_std[c];
    size_t n = (size_t)w * h;
    for (int c = 0; c < 3; c++) {
        float *o = chw + (size_t)c * n;
        for (size_t i = 0; i < n; i++) o[i] = lut[c][rgb[i * CN + c]];
    }
}

void gs_da3_denormalize(const float *chw, int w, int h, uint8_t *rgb) {
    static const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225};
    size_t n = (size_t)w * h;
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < n; i++) {
            double v = (double)chw[(size_t)c * n + i] * sd[c];
            v = v + mean[c];
            v = v < 0 ? 0 : v > 1 ? 1 : v; /* NaN stays NaN */
            v = v * 255.0;
            rgb[i * CN + c] = v == v ? (uint8_t)v : 0;
        }
}

/* ================================================================================
 * one image, then a batch
 * ================================================================================ */

static void scale_K(float *K, int ow, int oh, int nw, int nh) {
    if (!K) return;
    float sx = (float)((double)nw / (double)ow), sy = (float)((double)nh / (double)oh);
    for (int j = 0; j < 3; j++) K[j] *= sx;
    for (int j = 0; j < 3; j++) K[3 + j] *= sy;
}

static void crop_rgb(const uint8_t *src, int w, uint8_t *dst, int nw, int nh, int left, int top) {
    for (int y = 0; y < nh; y++)
        memcpy(dst + (size_t)y * nw * CN, src + ((size_t)(y + top) * w + left) * CN, (size_t)nw * CN);
}

gs_status gs_da3_process_rgb8(const uint8_t *rgb, int w, int h, int process_res, gs_da3_resize_method m, float *K,
                              uint8_t **out, gs_da3_plan *plan) {
    *out = NULL;
    gs_status st = gs_da3_plan_size(w, h, process_res, m, plan);
    if (st) return st;
    if (K)
        for (int i = 0; i < 9; i++)
            if (!isfinite(K[i])) return gs_error(GS_ERR_INVALID, "preprocess: intrinsics have NaN/Inf values");
    const int bw = plan->bound_w, bh = plan->bound_h, fw = plan->final_w, fh = plan->final_h;
    uint8_t *bound = NULL;
    const uint8_t *cur = rgb;
    if (plan->bound_interp != GS_DA3_INTER_NONE) {
        bound = gs_malloc((size_t)bw * bh, CN, "resized image");
        if (!bound) return GS_ERR_NOMEM;
        st = gs_da3_resize_u8(rgb, w, h, bound, bw, bh, plan->bound_interp);
        if (st) { free(bound); return st; }
        cur = bound;
    }
    scale_K(K, w, h, bw, bh);
    uint8_t *fin = gs_malloc((size_t)fw * fh, CN, "processed image");
    if (!fin) { free(bound); return GS_ERR_NOMEM; }
    if (plan->fix_interp != GS_DA3_INTER_NONE) {
        st = gs_da3_resize_u8(cur, bw, bh, fin, fw, fh, plan->fix_interp);
        if (st) { free(bound); free(fin); return st; }
    } else {
        crop_rgb(cur, bw, fin, fw, fh, plan->crop_left, plan->crop_top);
    }
    if (m == GS_DA3_UPPER_BOUND_RESIZE || m == GS_DA3_LOWER_BOUND_RESIZE) {
        scale_K(K, bw, bh, fw, fh);
    } else if (K) {
        K[2] -= (float)plan->crop_left;
        K[5] -= (float)plan->crop_top;
    }
    free(bound);
    *out = fin;
    return GS_OK;
}

gs_status gs_da3_preprocess(const gs_image *imgs, int S, int process_res, gs_da3_resize_method m, const float *K_in,
                            float **images, int *H, int *W, float *K_out, int *cropped) {
    *images = NULL;
    *H = *W = 0;
    if (cropped) *cropped = 0;
    if (!imgs || S < 1) return gs_error(GS_ERR_INVALID, "preprocess: no images");
    if (K_in && !K_out) return gs_error(GS_ERR_INVALID, "preprocess: intrinsics given but no output for them");
    uint8_t **views = gs_calloc((size_t)S, sizeof *views, "preprocess views");
    gs_da3_plan *plans = gs_calloc((size_t)S, sizeof *plans, "preprocess views");
    float *K = K_in ? gs_malloc((size_t)S * 9, sizeof(float), "intrinsics") : NULL;
    gs_status st = GS_OK;
    if (!views || !plans || (K_in && !K)) { st = GS_ERR_NOMEM; goto done; }
    if (K) memcpy(K, K_in, (size_t)S * 9 * sizeof(float));
    int minw = 0, minh = 0, mixed = 0;
    for (int s = 0; s < S; s++) {
        uint8_t *rgb = NULL;
        st = gs_da3_image_to_rgb8(&imgs[s], &rgb);
        if (!st) st = gs_da3_process_rgb8(rgb, imgs[s].width, imgs[s].height, process_res, m, K ? K + 9 * s : NULL,
                                          &views[s], &plans[s]);
        free(rgb);
        if (st) { gs_error_prefix(st, "view %d", s); goto done; }
        int fw = plans[s].final_w, fh = plans[s].final_h;
        if (s && (fw != plans[0].final_w || fh != plans[0].final_h)) mixed = 1;
        if (!s || fw < minw) minw = fw;
        if (!s || fh < minh) minh = fh;
    }
    size_t plane = (size_t)minw * minh;
    float *out = gs_malloc((size_t)S * 3, plane * sizeof(float), "preprocessed images");
    uint8_t *tmp = mixed ? gs_malloc(plane, CN, "cropped view") : NULL;
    if (!out || (mixed && !tmp)) { free(out); free(tmp); st = GS_ERR_NOMEM; goto done; }
    for (int s = 0; s < S; s++) {
        const uint8_t *v = views[s];
        if (mixed) {
            int left = (plans[s].final_w - minw) / 2, top = (plans[s].final_h - minh) / 2;
            crop_rgb(views[s], plans[s].final_w, tmp, minw, minh, left, top);
            v = tmp;
            if (K) { K[9 * s + 2] -= (float)left; K[9 * s + 5] -= (float)top; }
        }
        gs_da3_normalize(v, minw, minh, out + (size_t)s * 3 * plane);
    }
    free(tmp);
    if (K) memcpy(K_out, K, (size_t)S * 9 * sizeof(float));
    *images = out;
    *H = minh;
    *W = minw;
    if (cropped) *cropped = mixed;
done:
    if (views)
        for (int s = 0; s < S; s++) free(views[s]);
    free(views);
    free(plans);
    free(K);
    return st;
}
