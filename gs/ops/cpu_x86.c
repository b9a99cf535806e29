/* cpu_x86.c - AVX2 + FMA kernels of the op layer, picked at run time where
 * the CPU has them (ops.h: gs_ops_simd); the portable code in cpu_nn.c and
 * cpu_elem.c stays the reference they are tested against.
 *
 * Attention here is the flash form (one pass over the keys with a running
 * row maximum and sum, as torch's CPU flash kernel): per head and block of
 * ATT_MQ query rows, the keys are visited in blocks of ATT_KB; scores, their
 * exponentials and the output accumulator stay in a few tens of KiB per
 * thread instead of a block x n score matrix, and K is packed once per call
 * into 16-key panels for a 6 x 16 register-blocked product. */
#include "gs/ops/cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GS_X86 1
#include <immintrin.h>
#endif

static int g_simd = -1; /* -1 until first asked */

static int cpu_has_avx2_fma(void) {
#ifdef GS_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

int gs_ops_simd(void) {
    int s = __atomic_load_n(&g_simd, __ATOMIC_RELAXED);
    if (s < 0) {
        const char *e = getenv("GS_SIMD");
        s = cpu_has_avx2_fma() && !(e && !strcmp(e, "0"));
        __atomic_store_n(&g_simd, s, __ATOMIC_RELAXED);
    }
    return s;
}

int gs_ops_set_simd(int on) {
    const int s = on && cpu_has_avx2_fma();
    __atomic_store_n(&g_simd, s, __ATOMIC_RELAXED);
    return s;
}

#ifdef GS_X86

#define ATT_MQ 48  /* query rows per task: 8 tiles of 6 */
#define ATT_KB 256 /* keys per block */
#define ATT_MR 6
#define ATT_NR 16
#define AVX2 __attribute__((target("avx2,fma")))

/* exp(x) for x <= 0 on eight lanes: the same range reduction and Cephes
 * polynomial as exp4_nonpos in cpu_nn.c (within 2 ulp of expf); below -87.3,
 * -inf included, the result is 0. */
static inline AVX2 __m256 exp8_nonpos(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    const __m256 keep = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    x = _mm256_max_ps(x, lo);
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    const __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), magic), magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_fmadd_ps(r, _mm256_set1_ps(1.9875691500e-4f), _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(bits)), keep);
}

/* The 6 x 16 register tile of both products: accumulators cR0, cR1 of row
 * R (columns 0-7, 8-15); b0, b1 the current 16-wide row of the right-hand
 * operand; a row of the left-hand one is broadcast one value at a time. */
#define TILE_DECL __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51
#define TILE_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define TILE_FMA(r, src)                                 \
    do {                                                 \
        const __m256 a_ = _mm256_broadcast_ss(src);      \
        c##r##0 = _mm256_fmadd_ps(a_, b0, c##r##0);      \
        c##r##1 = _mm256_fmadd_ps(a_, b1, c##r##1);      \
    } while (0)

/* s [6, 16] (row stride lds) = q [6, hd] (row stride hd) x panel^T, panel
 * [hd, 16] (16 keys, dimension-major). */
static inline AVX2 void qk_tile(const float *q, int hd, const float *kp, float *s, int lds) {
    TILE_DECL;
#define ZERO(r) c##r##0 = c##r##1 = _mm256_setzero_ps();
    TILE_ROWS(ZERO)
#undef ZERO
    for (int d = 0; d < hd; d++) {
        const __m256 b0 = _mm256_loadu_ps(kp + d * ATT_NR), b1 = _mm256_loadu_ps(kp + d * ATT_NR + 8);
#define STEP(r) TILE_FMA(r, q + r * hd + d);
        TILE_ROWS(STEP)
#undef STEP
    }
#define STORE(r) _mm256_storeu_ps(s + r * lds, c##r##0), _mm256_storeu_ps(s + r * lds + 8, c##r##1);
    TILE_ROWS(STORE)
#undef STORE
}

/* o [6, 16] (row stride ldo) += p [6, kb] (row stride ldp) x v [kb, 16] (row
 * stride ldv). */
static inline AVX2 void pv_tile(const float *p, int ldp, const float *v, int ldv, int kb, float *o, int ldo) {
    TILE_DECL;
#define LOAD(r) c##r##0 = _mm256_loadu_ps(o + r * ldo), c##r##1 = _mm256_loadu_ps(o + r * ldo + 8);
    TILE_ROWS(LOAD)
#undef LOAD
    for (int j = 0; j < kb; j++) {
        const float *vj = v + (size_t)j * ldv;
        const __m256 b0 = _mm256_loadu_ps(vj), b1 = _mm256_loadu_ps(vj + 8);
#define STEP(r) TILE_FMA(r, p + r * ldp + j);
        TILE_ROWS(STEP)
#undef STEP
    }
#define STORE(r) _mm256_storeu_ps(o + r * ldo, c##r##0), _mm256_storeu_ps(o + r * ldo + 8, c##r##1);
    TILE_ROWS(STORE)
#undef STORE
}

/* One row of a score block, kbp entries (the padding already -inf): folds
 * the block into the running maximum *mx and sum *l, leaves exp(s - max) in
 * s and returns the factor the earlier accumulator must be scaled by. */
static inline AVX2 float softmax_update(float *s, int kbp, float *mx, float *l) {
    __m256 m8 = _mm256_loadu_ps(s);
    for (int j = 8; j < kbp; j += 8) m8 = _mm256_max_ps(m8, _mm256_loadu_ps(s + j));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m8), _mm256_extractf128_ps(m8, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const float bm = _mm_cvtss_f32(m4), nm = bm > *mx ? bm : *mx;
    const float corr = *mx == -INFINITY ? 0.0f : expf(*mx - nm);
    const __m256 sub = _mm256_set1_ps(nm);
    __m256 acc = _mm256_setzero_ps();
    for (int j = 0; j < kbp; j += 8) {
        const __m256 e = exp8_nonpos(_mm256_sub_ps(_mm256_loadu_ps(s + j), sub));
        _mm256_storeu_ps(s + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    __m128 a4 = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    a4 = _mm_add_ps(a4, _mm_movehl_ps(a4, a4));
    a4 = _mm_add_ss(a4, _mm_shuffle_ps(a4, a4, 1));
    *l = *l * corr + _mm_cvtss_f32(a4);
    *mx = nm;
    return corr;
}

typedef struct {
    float *qs;  /* [ATT_MQ, hd] scaled queries (rows past the block are 0) */
    float *o;   /* [ATT_MQ, hd] accumulator */
    float *s;   /* [ATT_MQ, ATT_KB] scores, then their exponentials */
    float mx[ATT_MQ], l[ATT_MQ];
} att_work;

/* One task: query rows r0 .. r0+m of one head against all n keys. kp is
 * this head's packed K, v its [n, hd] values; out row stride ld. */
static AVX2 void attn_task(att_work *w, const float *q, const float *kp, const float *v, int n, int hd,
                           float scale, int r0, int m, float *out, int ld) {
    const int mp = (m + ATT_MR - 1) / ATT_MR * ATT_MR;
    for (int i = 0; i < mp; i++)
        for (int d = 0; d < hd; d++) w->qs[i * hd + d] = i < m ? q[(size_t)(r0 + i) * hd + d] * scale : 0.0f;
    memset(w->o, 0, (size_t)mp * hd * sizeof *w->o);
    for (int i = 0; i < mp; i++) w->mx[i] = -INFINITY, w->l[i] = 0.0f;
    for (int j0 = 0; j0 < n; j0 += ATT_KB) {
        const int kb = n - j0 < ATT_KB ? n - j0 : ATT_KB, kbp = (kb + ATT_NR - 1) / ATT_NR * ATT_NR;
        for (int p = 0; p < kbp; p += ATT_NR) {
            const float *panel = kp + (size_t)(j0 + p) * hd;
            for (int i = 0; i < mp; i += ATT_MR) qk_tile(w->qs + i * hd, hd, panel, w->s + i * ATT_KB + p, ATT_KB);
        }
        for (int i = 0; i < mp; i++) {
            float *row = w->s + i * ATT_KB;
            for (int j = kb; j < kbp; j++) row[j] = -INFINITY;
            const float corr = softmax_update(row, kbp, &w->mx[i], &w->l[i]);
            if (corr != 1.0f) {
                const __m256 c8 = _mm256_set1_ps(corr);
                float *o = w->o + i * hd;
                for (int d = 0; d < hd; d += 8) _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(o + d), c8));
            }
        }
        for (int c = 0; c < hd; c += ATT_NR)
            for (int i = 0; i < mp; i += ATT_MR)
                pv_tile(w->s + i * ATT_KB, ATT_KB, v + (size_t)j0 * hd + c, hd, kb, w->o + i * hd + c, hd);
    }
    for (int i = 0; i < m; i++) {
        const float inv = 1.0f / w->l[i];
        float *dst = out + (size_t)(r0 + i) * ld;
        for (int d = 0; d < hd; d++) dst[d] = w->o[i * hd + d] * inv;
    }
}

/* torch's float GELU on AVX2 CPUs, 0.5 x (1 + erf(x / sqrt 2)), with erf as
 * its Vectorized<float>::erf computes it (Abramowitz-Stegun 7.1.26: t = 1 /
 * (1 + p |z|), a degree-5 polynomial in t times exp(-z^2), within 1.5e-7 of
 * erf) in the same order, so that the MLP activations follow the reference
 * to the last bit or one ulp rather than being more exact than it. */
static inline AVX2 __m256 gelu8(__m256 x) {
    const __m256 sgn = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    const __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752440f));
    const __m256 zs = _mm256_and_ps(sgn, z), az = _mm256_xor_ps(zs, z);
    const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), az, one));
    __m256 r = _mm256_fmadd_ps(_mm256_set1_ps(1.061405429f), t, _mm256_set1_ps(-1.453152027f));
    r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(1.421413741f));
    r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(-0.284496736f));
    r = _mm256_fmadd_ps(r, t, _mm256_set1_ps(0.254829592f));
    const __m256 e = _mm256_xor_ps(sgn, exp8_nonpos(_mm256_xor_ps(sgn, _mm256_mul_ps(z, z))));
    const __m256 erf = _mm256_xor_ps(zs, _mm256_fmadd_ps(_mm256_mul_ps(e, t), r, one));
    return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), _mm256_add_ps(one, erf));
}

static AVX2 void gelu_span(float *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu8(_mm256_loadu_ps(x + i)));
    if (i < n) {
        float tail[8] = {0};
        memcpy(tail, x + i, (n - i) * sizeof *x);
        _mm256_storeu_ps(tail, gelu8(_mm256_loadu_ps(tail)));
        memcpy(x + i, tail, (n - i) * sizeof *x);
    }
}

int gs_gelu_x86(float *x, size_t n) {
    if (!gs_ops_simd()) return 0;
    const size_t chunk = 1u << 14, nc = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n > (1u << 15))
    for (size_t c = 0; c < nc; c++) gelu_span(x + c * chunk, c * chunk + chunk < n ? chunk : n - c * chunk);
    return 1;
}

/* LayerNorm of one contiguous row as layernorm_row in cpu_elem.c computes
 * it: mean and variance accumulated in double (here on 4 + 4 lanes), y =
 * float((x - mean) / std), then * w and + b in float (no fused multiply-add,
 * as the portable code compiles under ISO C). */
static inline AVX2 double hsum4d(__m256d v) {
    __m128d a = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(a, _mm_unpackhi_pd(a, a)));
}

static AVX2 void layernorm_row8(const float *x, float *y, int dim, const float *w, const float *b, float eps) {
    const int d8 = dim & ~7;
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    for (int i = 0; i < d8; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double s = hsum4d(_mm256_add_pd(s0, s1));
    for (int i = d8; i < dim; i++) s += x[i];
    const double mean = s / dim;
    const __m256d m4 = _mm256_set1_pd(mean);
    s0 = _mm256_setzero_pd(), s1 = s0;
    for (int i = 0; i < d8; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256d a = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), m4);
        const __m256d c = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), m4);
        s0 = _mm256_add_pd(s0, _mm256_mul_pd(a, a));
        s1 = _mm256_add_pd(s1, _mm256_mul_pd(c, c));
    }
    double var = hsum4d(_mm256_add_pd(s0, s1));
    for (int i = d8; i < dim; i++) var += (x[i] - mean) * (x[i] - mean);
    const double inv = 1.0 / sqrt(var / dim + (double)eps);
    const __m256d i4 = _mm256_set1_pd(inv);
    for (int i = 0; i < d8; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), m4), i4));
        const __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), m4), i4));
        __m256 t = _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
        if (w) t = _mm256_mul_ps(t, _mm256_loadu_ps(w + i));
        if (b) t = _mm256_add_ps(t, _mm256_loadu_ps(b + i));
        _mm256_storeu_ps(y + i, t);
    }
    for (int i = d8; i < dim; i++) {
        float t = (float)((x[i] - mean) * inv);
        if (w) t *= w[i];
        if (b) t += b[i];
        y[i] = t;
    }
}

int gs_layernorm_x86(const float *x, float *y, size_t rows, int dim, const float *w, const float *b, float eps) {
    if (!gs_ops_simd() || dim < 8) return 0;
#pragma omp parallel for schedule(static) if (rows * (size_t)dim > (1u << 15))
    for (size_t r = 0; r < rows; r++) layernorm_row8(x + r * (size_t)dim, y + r * (size_t)dim, dim, w, b, eps);
    return 1;
}

/* 1 when any value is NaN or infinite (those rows go to the portable path,
 * which poisons exactly the affected rows, as torch does). */
static int any_nonfinite(const float *x, size_t n) {
    float acc = 0.0f;
    for (size_t i = 0; i < n; i++) acc += x[i] * 0.0f;
    return acc != 0.0f;
}

static size_t att_pack_floats(int heads, int n, int hd) {
    const int np = (n + ATT_NR - 1) / ATT_NR * ATT_NR;
    return ((size_t)heads * np * hd + 15) / 16 * 16; /* whole 64-byte lines */
}

static size_t att_thread_floats(int hd) { return ((size_t)ATT_MQ * (2 * hd + ATT_KB) + 15) / 16 * 16; }

size_t gs_attention_x86_workspace(int heads, int n, int hd, int threads) {
    if (!gs_ops_simd() || hd % ATT_NR || hd > 256 || heads < 1 || n < 1 || threads < 1) return 0;
    return gs_arena_round((att_pack_floats(heads, n, hd) + (size_t)threads * att_thread_floats(hd)) * sizeof(float));
}

int gs_attention_x86(const float *q, const float *k, const float *v, int heads, int n, int hd, float scale,
                     float *out, float *ws, int threads) {
    if (!gs_ops_simd() || hd % ATT_NR || hd > 256 || !ws || threads < 1) return 0;
    const size_t sz = (size_t)heads * n * hd;
    if (any_nonfinite(q, sz) || any_nonfinite(k, sz)) return 0;
    const int np = (n + ATT_NR - 1) / ATT_NR * ATT_NR, panels = np / ATT_NR;
    /* K [heads, n, hd] -> [heads, panels, hd, 16], keys past n are 0; the
     * workspace (64-byte aligned) holds the panels, then each thread's
     * scratch */
    float *kp = ws, *thread_bufs = ws + att_pack_floats(heads, n, hd);
    const size_t ptasks = (size_t)heads * panels;
#pragma omp parallel for schedule(static) if (sz > 65536)
    for (size_t t = 0; t < ptasks; t++) {
        const int h = (int)(t / (size_t)panels), p = (int)(t % (size_t)panels);
        float *dst = kp + ((size_t)h * np + (size_t)p * ATT_NR) * hd;
        for (int jj = 0; jj < ATT_NR; jj++) {
            const int j = p * ATT_NR + jj;
            const float *src = k + ((size_t)h * n + j) * hd;
            for (int d = 0; d < hd; d++) dst[d * ATT_NR + jj] = j < n ? src[d] : 0.0f;
        }
    }
    const int nqb = (n + ATT_MQ - 1) / ATT_MQ;
    const size_t tasks = (size_t)heads * nqb;
    const int ld = heads * hd;
#pragma omp parallel num_threads(threads) if ((double)heads * n * n * hd > 2e5)
    {
        att_work w;
        float *buf = thread_bufs + (size_t)gs_cpu_thread_id() * att_thread_floats(hd);
        w.qs = buf, w.o = buf + (size_t)ATT_MQ * hd, w.s = buf + (size_t)2 * ATT_MQ * hd;
#pragma omp for schedule(dynamic, 1)
        for (size_t t = 0; t < tasks; t++) {
            const int h = (int)(t / (size_t)nqb), b = (int)(t % (size_t)nqb);
            const int r0 = b * ATT_MQ, m = n - r0 < ATT_MQ ? n - r0 : ATT_MQ;
            attn_task(&w, q + (size_t)h * n * hd, kp + (size_t)h * np * hd, v + (size_t)h * n * hd, n, hd, scale,
                      r0, m, out + (size_t)h * hd, ld);
        }
    }
    return 1;
}

#else /* not x86-64 */

int gs_layernorm_x86(const float *x, float *y, size_t rows, int dim, const float *w, const float *b, float eps) {
    (void)x, (void)y, (void)rows, (void)dim, (void)w, (void)b, (void)eps;
    return 0;
}

int gs_gelu_x86(float *x, size_t n) {
    (void)x, (void)n;
    return 0;
}

size_t gs_attention_x86_workspace(int heads, int n, int hd, int threads) {
    (void)heads, (void)n, (void)hd, (void)threads;
    return 0;
}

int gs_attention_x86(const float *q, const float *k, const float *v, int heads, int n, int hd, float scale,
                     float *out, float *ws, int threads) {
    (void)q, (void)k, (void)v, (void)heads, (void)n, (void)hd, (void)scale, (void)out, (void)ws, (void)threads;
    return 0;
}

#endif
