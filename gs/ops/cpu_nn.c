/* cpu_nn.c - CPU transformer ops of the op layer (ops.h): linear layers as
 * OpenBLAS sgemm split over OpenMP threads, block-wise softmax attention
 * (never an n x n matrix), DA3's 2D rotary embedding and torch's bicubic
 * resize with an explicit scale factor (the ViT positional-embedding
 * interpolation).
 *
 * Threading follows cpu_conv.c: OpenBLAS runs single-threaded and the work is
 * split over OpenMP threads, because the two pools' idle workers busy-wait
 * against each other otherwise. */
#include "gs/ops/cpu.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

static int max_threads(void) { return gs_cpu_threads(); }


/* y[r0..r1) = x W^T + b over a slab of rows (bias first, then beta = 1). */
static void linear_rows(const float *x, size_t r0, size_t r1, int in, const float *weight, const float *bias,
                        int out, float *y) {
    for (size_t r = r0; r < r1;) {
        /* cblas takes int sizes: at most INT_MAX / out rows per call */
        size_t m = r1 - r;
        const size_t cap = (size_t)(INT_MAX / out);
        if (m > cap) m = cap;
        float *yr = y + r * (size_t)out;
        if (bias)
            for (size_t i = 0; i < m; i++) memcpy(yr + i * (size_t)out, bias, (size_t)out * sizeof *yr);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, out, in, 1.0f, x + r * (size_t)in, in,
                    weight, in, bias ? 1.0f : 0.0f, yr, out);
        r += m;
    }
}

gs_status gs_linear_cpu(const gs_ctx *ctx, const float *x, size_t rows, int in, const gs_wt *weight_view,
                        const float *bias, int out, float *y) {
    (void)ctx;
    const float *weight = gs_cpu_wt(weight_view, "linear");
    if (!weight) return GS_ERR_INVALID;
    if (weight_view->ndim != 2 || weight_view->shape[0] != out || weight_view->shape[1] != in)
        return gs_error(GS_ERR_INVALID, "linear: weight is not [%d, %d]", out, in);
    if (in < 1 || out < 1 || (rows && (!x || !y)))
        return gs_error(GS_ERR_INVALID, "linear: bad arguments (rows %zu, in %d, out %d)", rows, in, out);
    if (!rows) return GS_OK;
    pthread_once(&g_blas_once, blas_single_thread);
    const int nt = max_threads();
    const double flops = (double)rows * in * out;
    if (nt <= 1 || flops < 2e6) {
        linear_rows(x, 0, rows, in, weight, bias, out, y);
        return GS_OK;
    }
    if (rows >= (size_t)nt * 8) {
        /* rows over threads, in multiples of 8 so that sgemm keeps full panels */
#pragma omp parallel num_threads(nt)
        {
            size_t r0, r1;
            gs_cpu_thread_span(rows, 8, &r0, &r1);
            if (r0 < r1) linear_rows(x, r0, r1, in, weight, bias, out, y);
        }
        return GS_OK;
    }
    /* few rows (a camera token, one view of a tiny image): split the outputs */
#pragma omp parallel num_threads(nt)
    {
        size_t lo, hi;
        gs_cpu_thread_span((size_t)out, 16, &lo, &hi);
        const int o0 = (int)lo, o1 = (int)hi;
        if (o0 < o1) {
            for (size_t r = 0; r < rows; r++) {
                float *yr = y + r * (size_t)out + o0;
                if (bias) memcpy(yr, bias + o0, (size_t)(o1 - o0) * sizeof *yr);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, o1 - o0, in, 1.0f, x, in,
                        weight + (size_t)o0 * in, in, bias ? 1.0f : 0.0f, y + o0, out);
        }
    }
    return GS_OK;
}

/* Query rows per attention block: big enough for sgemm to run at speed, small
 * enough that the block x n score matrix of a long global sequence stays a few
 * MiB per thread. */
#define ATTN_BLOCK 64

/* exp(x) for x <= 0 (scores minus their row maximum) on four lanes at once
 * (GCC/clang vector extensions: plain loops with a bit-cast do not
 * vectorise): 2^n * p(r) with n = round(x / ln 2), r = x - n ln 2 (ln 2 split
 * in two) and Cephes' degree-5 expf polynomial, within 2 ulp of expf; below
 * -87.3 the result is 0 (expf gives < 1.2e-38 there). */
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f exp4_nonpos(v4f x) {
    const v4f lo = {-87.33654f, -87.33654f, -87.33654f, -87.33654f};
    const v4i keep = x >= lo; /* all ones where in range */
    x = (v4f)(((v4i)x & keep) | ((v4i)lo & ~keep));
    const v4f magic = {12582912.0f, 12582912.0f, 12582912.0f, 12582912.0f}; /* 1.5 * 2^23: round to nearest */
    const v4f n = (x * 1.44269504088896341f + magic) - magic;
    const v4f r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
    v4f p = r * 1.9875691500e-4f + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const v4i bits = (__builtin_convertvector(n, v4i) + 127) << 23; /* 2^n, n in [-126, 0] */
    return (v4f)((v4i)(p * (v4f)bits) & keep);
}

/* In place: row = exp(row - max(row)); returns 1 / sum. A NaN or infinite
 * score makes the row NaN, as in torch. */
static float softmax_row(float *row, int n) {
    /* max and a NaN/Inf probe (x * 0 is NaN exactly for those), four lanes */
    v4f m4 = {row[0], row[0], row[0], row[0]}, bad4 = {0, 0, 0, 0};
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        v4f v;
        memcpy(&v, row + j, sizeof v);
        const v4i gt = v > m4;
        m4 = (v4f)(((v4i)v & gt) | ((v4i)m4 & ~gt));
        bad4 += v * 0.0f;
    }
    float mx = m4[0], bad = (bad4[0] + bad4[1]) + (bad4[2] + bad4[3]);
    for (int l = 1; l < 4; l++) mx = m4[l] > mx ? m4[l] : mx;
    for (; j < n; j++) {
        mx = row[j] > mx ? row[j] : mx;
        bad += row[j] * 0.0f;
    }
    if (bad != 0.0f) {
        for (j = 0; j < n; j++) row[j] = NAN;
        return NAN;
    }
    v4f acc = {0, 0, 0, 0};
    for (j = 0; j + 4 <= n; j += 4) {
        v4f v;
        memcpy(&v, row + j, sizeof v);
        v = exp4_nonpos(v - mx);
        memcpy(row + j, &v, sizeof v);
        acc += v;
    }
    if (j < n) {
        v4f v = {mx, mx, mx, mx}; /* unused lanes: exp(0), never a huge argument */
        memcpy(&v, row + j, (size_t)(n - j) * sizeof(float));
        v = exp4_nonpos(v - mx);
        for (int l = 0; l < n - j; l++) {
            row[j + l] = v[l];
            acc[l] += v[l];
        }
    }
    return 1.0f / ((acc[0] + acc[1]) + (acc[2] + acc[3]));
}

size_t gs_attention_workspace_cpu(const gs_ctx *ctx, int heads, int n, int hd) {
    (void)ctx;
    if (heads < 1 || n < 1 || hd < 1) return 0;
    const int T = gs_cpu_threads();
    const size_t portable = gs_arena_round((size_t)T * ATTN_BLOCK * n * sizeof(float));
    const size_t x86 = gs_attention_x86_workspace(heads, n, hd, T);
    return portable > x86 ? portable : x86;
}

gs_status gs_attention_cpu(const gs_ctx *ctx, const float *q, const float *k, const float *v, int heads, int n,
                           int hd, float scale, float *out) {
    if (heads < 1 || n < 1 || hd < 1 || !q || !k || !v || !out || !isfinite(scale))
        return gs_error(GS_ERR_INVALID, "attention: bad arguments (heads %d, tokens %d, head dim %d)", heads, n,
                        hd);
    if ((size_t)heads * hd > INT_MAX)
        return gs_error(GS_ERR_INVALID, "attention: %d heads x %d dims is too wide", heads, hd);
    const int T = max_threads();
    const size_t mark = gs_ws_mark(ctx);
    const size_t x86_bytes = gs_attention_x86_workspace(heads, n, hd, T);
    if (x86_bytes) {
        float *ws = gs_ws_take(ctx, x86_bytes, "attention workspace");
        if (!ws) return GS_ERR_NOMEM;
        const int done = gs_attention_x86(q, k, v, heads, n, hd, scale, out, ws, T);
        gs_ws_release(ctx, mark);
        if (done) return GS_OK;
    }
    pthread_once(&g_blas_once, blas_single_thread);
    float *scores = gs_ws_take(ctx, (size_t)T * ATTN_BLOCK * n * sizeof *scores, "attention scores");
    if (!scores) return GS_ERR_NOMEM;
    const int nblk = (n + ATTN_BLOCK - 1) / ATTN_BLOCK;
    const size_t tasks = (size_t)heads * nblk;
    const int ld = heads * hd;
    /* a tiny problem runs on one thread: waking the team costs more */
#pragma omp parallel num_threads(T) if ((double)heads * n * n * hd > 2e5)
    {
        float *sc = scores + (size_t)gs_cpu_thread_id() * ATTN_BLOCK * n;
#pragma omp for schedule(dynamic, 1)
        for (size_t task = 0; task < tasks; task++) {
            const int h = (int)(task / (size_t)nblk), b = (int)(task % (size_t)nblk);
            const int r0 = b * ATTN_BLOCK, m = n - r0 < ATTN_BLOCK ? n - r0 : ATTN_BLOCK;
            const float *qh = q + ((size_t)h * n + r0) * hd;
            const float *kh = k + (size_t)h * n * hd, *vh = v + (size_t)h * n * hd;
            // sc [m, n] = scale * q k^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, hd, scale, qh, hd, kh, hd, 0.0f, sc, n);
            float inv[ATTN_BLOCK];
            for (int i = 0; i < m; i++) inv[i] = softmax_row(sc + (size_t)i * n, n);
            // out[r0.., h*hd..] [m, hd] = softmax v
            float *o = out + (size_t)r0 * ld + (size_t)h * hd;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, hd, n, 1.0f, sc, n, vh, hd, 0.0f, o, ld);
            for (int i = 0; i < m; i++)
                for (int d = 0; d < hd; d++) o[(size_t)i * ld + d] *= inv[i];
        }
    }
    gs_ws_release(ctx, mark);
    return GS_OK;
}

gs_status gs_split_heads_cpu(const gs_ctx *ctx, const float *qkv, int T, int heads, int hd, int n, int t0, float *q,
                             float *k, float *v) {
    (void)ctx;
    if (!qkv || !q || !k || !v || T < 0 || heads < 1 || hd < 1 || t0 < 0 || t0 + T > n)
        return gs_error(GS_ERR_INVALID, "split_heads: bad arguments (%d tokens at %d of %d)", T, t0, n);
    const size_t C = (size_t)heads * hd;
    // [T, 3, heads, hd] -> q/k/v [heads, n, hd] at token offset t0
#pragma omp parallel for schedule(static) if ((size_t)T * C * 3 > ((size_t)1 << 15))
    for (int t = 0; t < T; t++)
        for (int h = 0; h < heads; h++) {
            const size_t dst = ((size_t)h * n + (size_t)t0 + t) * hd;
            const float *src = qkv + (size_t)t * 3 * C + (size_t)h * hd;
            memcpy(q + dst, src, (size_t)hd * sizeof(float));
            memcpy(k + dst, src + C, (size_t)hd * sizeof(float));
            memcpy(v + dst, src + 2 * C, (size_t)hd * sizeof(float));
        }
    return GS_OK;
}

gs_status gs_patchify_cpu(const gs_ctx *ctx, const float *img, int H, int W, int p, float *col) {
    (void)ctx;
    if (!img || !col || p < 1 || H < p || W < p || H % p || W % p)
        return gs_error(GS_ERR_INVALID, "patchify: %dx%d is not a multiple of the %d-pixel patch", W, H, p);
    const int ph = H / p, pw = W / p, K = 3 * p * p;
#pragma omp parallel for schedule(static) if ((size_t)ph * pw * K > ((size_t)1 << 15))
    for (int t = 0; t < ph * pw; t++) {
        const int py = t / pw, px = t % pw;
        float *dst = col + (size_t)t * K;
        for (int c = 0; c < 3; c++)
            for (int u = 0; u < p; u++)
                memcpy(dst + (c * p + u) * p, img + ((size_t)c * H + (size_t)py * p + u) * W + (size_t)px * p,
                       (size_t)p * sizeof *dst);
    }
    return GS_OK;
}

/* cos and sin of pos * inv_freq[j], inv_freq[j] = 1 / base^(2j / half), in
 * float32 as rope.py builds its tables. */
static void rope_angle(int pos, int j, int half, float base, float *c, float *s) {
    const float expo = (float)(2 * j) / (float)half;
    const float inv = 1.0f / (float)pow((double)base, (double)expo);
    const float ang = (float)pos * inv;
    *c = (float)cos((double)ang);
    *s = (float)sin((double)ang);
}

/* Rotate-half pair (j, j + quarter) inside one half of a head vector. */
static inline void rope_pair(float *t, int j, int quarter, float c, float s) {
    const float a = t[j], b = t[j + quarter];
    t[j] = a * c - b * s;
    t[j + quarter] = b * c + a * s;
}

size_t gs_rope2d_workspace_cpu(const gs_ctx *ctx, int hd, int span) {
    (void)ctx;
    if (hd < 4 || span < 0 || span >= 65536) return 0;
    return gs_arena_round((size_t)(span + 1) * 2 * (hd / 4) * sizeof(float));
}

gs_status gs_rope2d_cpu(const gs_ctx *ctx, float *x, int heads, int n, int hd, const int *pos_y, const int *pos_x,
                        float base) {
    if (!x || !pos_y || !pos_x || heads < 1 || n < 1 || hd < 4 || hd % 4)
        return gs_error(GS_ERR_INVALID, "rope2d: bad arguments (heads %d, tokens %d, head dim %d)", heads, n, hd);
    const int quarter = hd / 4, half = hd / 2;
    /* Positions are few (patch grid + 1): a cos/sin table per position
     * value replaces n * hd/2 trig calls by (span + 1) * hd/4. */
    int maxp = pos_y[0], minp = pos_y[0];
    for (int t = 0; t < n; t++) {
        if (pos_y[t] > maxp) maxp = pos_y[t];
        if (pos_x[t] > maxp) maxp = pos_x[t];
        if (pos_y[t] < minp) minp = pos_y[t];
        if (pos_x[t] < minp) minp = pos_x[t];
    }
    if ((long)maxp - minp >= 65536)
        return gs_error(GS_ERR_INVALID, "rope2d: positions %d..%d span more than 65536 values", minp, maxp);
    const int span = maxp - minp;
    const size_t mark = gs_ws_mark(ctx);
    float *tab = gs_ws_take(ctx, (size_t)(span + 1) * 2 * quarter * sizeof *tab, "rope2d table");
    if (!tab) return GS_ERR_NOMEM; // [span + 1][cos quarter | sin quarter], row p - minp
    for (int p = 0; p <= span; p++)
        for (int j = 0; j < quarter; j++)
            rope_angle(minp + p, j, half, base, &tab[(size_t)p * 2 * quarter + j],
                       &tab[(size_t)p * 2 * quarter + quarter + j]);
#pragma omp parallel for schedule(static) if ((size_t)n * heads * hd > ((size_t)1 << 15))
    for (int t = 0; t < n; t++)
        for (int j = 0; j < quarter; j++) {
            const float *ty = tab + (size_t)(pos_y[t] - minp) * 2 * quarter;
            const float *tx = tab + (size_t)(pos_x[t] - minp) * 2 * quarter;
            const float cy = ty[j], sy = ty[quarter + j], cx = tx[j], sx = tx[quarter + j];
            for (int h = 0; h < heads; h++) {
                float *v = x + ((size_t)h * n + t) * hd;
                rope_pair(v, j, quarter, cy, sy);        /* first half: y */
                rope_pair(v + half, j, quarter, cx, sx); /* second half: x */
            }
        }
    gs_ws_release(ctx, mark);
    return GS_OK;
}

/* torch's cubic convolution weights (A = -0.75) for fraction t in [0, 1). */
static void cubic_weights(float t, float w[4]) {
    const float A = -0.75f;
    float x = t + 1.0f;
    w[0] = ((A * x - 5.0f * A) * x + 8.0f * A) * x - 4.0f * A;
    x = t;
    w[1] = ((A + 2.0f) * x - (A + 3.0f)) * x * x + 1.0f;
    x = 1.0f - t;
    w[2] = ((A + 2.0f) * x - (A + 3.0f)) * x * x + 1.0f;
    x = 2.0f - t;
    w[3] = ((A * x - 5.0f * A) * x + 8.0f * A) * x - 4.0f * A;
}

/* Taps and weights of output index o along one axis, as torch computes
 * them: the reciprocal scale rounded to float, src = rs * (o + 0.5) - 0.5
 * evaluated in double and rounded to float (area_pixel_compute_source_index
 * for cubic: no clamp at 0), fraction and weights in float, indices clamped
 * to [0, in - 1]. */
static void cubic_taps(int in, float rs, int o, int idx[4], float wt[4]) {
    const float src = (float)((double)rs * (o + 0.5) - 0.5);
    const float fl = floorf(src);
    const int i0 = (int)fl;
    cubic_weights(src - fl, wt);
    for (int k = 0; k < 4; k++) {
        const int i = i0 - 1 + k;
        idx[k] = i < 0 ? 0 : (i > in - 1 ? in - 1 : i);
    }
}

gs_status gs_resize_bicubic_cpu(const gs_ctx *ctx, const float *x, int c, int h, int w, float *y, int ho, int wo,
                                double scale_h, double scale_w) {
    (void)ctx;
    if (!x || !y || c < 1 || h < 1 || w < 1 || ho < 1 || wo < 1)
        return gs_error(GS_ERR_INVALID, "resize_bicubic: bad arguments (%d channels, %dx%d -> %dx%d)", c, w, h, wo, ho);
    const float rsh = scale_h > 0.0 ? (float)(1.0 / scale_h) : (float)h / (float)ho;
    const float rsw = scale_w > 0.0 ? (float)(1.0 / scale_w) : (float)w / (float)wo;
    /* taps are recomputed per output pixel (a few flops): no buffer */
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)c * ho * wo > ((size_t)1 << 14))
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < ho; i++) {
            const float *xc = x + (size_t)ch * h * w;
            float *yr = y + ((size_t)ch * ho + i) * wo;
            int iy[4], ix[4];
            float wy[4], wx[4];
            cubic_taps(h, rsh, i, iy, wy);
            for (int j = 0; j < wo; j++) {
                cubic_taps(w, rsw, j, ix, wx);
                /* rows first, each a 4-tap sum along x, as torch nests them */
                float acc = 0.0f;
                for (int a = 0; a < 4; a++) {
                    const float *r = xc + (size_t)iy[a] * w;
                    const float row = r[ix[0]] * wx[0] + r[ix[1]] * wx[1] + r[ix[2]] * wx[2] + r[ix[3]] * wx[3];
                    acc += row * wy[a];
                }
                yr[j] = acc;
            }
        }
    return GS_OK;
}
