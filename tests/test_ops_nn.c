/* test_ops_nn.c - the transformer ops (gs/ops/cpu_nn.c) against straightforward
 * double-precision references on random inputs (linear in both thread
 * splits, attention across query blocks and with huge logits, RoPE, bicubic)
 * and against torch itself for RoPE and bicubic
 * (tests/golden/ops/ops_goldens.safetensors, made by tools/make_ops_goldens.py). */
#include "tests/test.h"
#include "tests/test_ops_calls.h"
#include "data/safetensors.h"
#include "gs/ops/cpu.h"

#include <stdlib.h>

#define OPS_GOLDEN "tests/golden/ops/ops_goldens.safetensors"

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rand_buf(size_t n, unsigned seed) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand(&seed);
    return p;
}

/* max |a - b| / max(max |b|, 1e-6) */
static double rel_err(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d)) d = e; /* NaN propagates */
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return d / (m > 1e-6 ? m : 1e-6);
}

static void linear_case(size_t rows, int in, int out, int bias, unsigned seed) {
    float *x = rand_buf(rows * in, seed), *w = rand_buf((size_t)out * in, seed + 1), *b = rand_buf(out, seed + 2);
    float *y = malloc(rows * out * sizeof *y), *r = malloc(rows * out * sizeof *r);
    for (size_t i = 0; i < rows; i++)
        for (int o = 0; o < out; o++) {
            double acc = bias ? b[o] : 0.0;
            for (int k = 0; k < in; k++) acc += (double)x[i * in + k] * w[(size_t)o * in + k];
            r[i * out + o] = (float)acc;
        }
    CHECK_OK(t_linear(x, rows, in, w, bias ? b : NULL, out, y));
    double e = rel_err(y, r, rows * out);
    CHECK_MSG(e < 1e-5, "linear %zux%d->%d bias %d: rel err %g", rows, in, out, bias, e);
    free(x), free(w), free(b), free(y), free(r);
}

TEST(ops_nn_linear_matches_double_reference) {
    const int threads = gs_num_threads();
    gs_set_num_threads(2); /* both thread splits, whatever the machine */
    linear_case(1, 40, 70, 1, 1);      /* one row: the small-product path */
    linear_case(3, 700, 1000, 1, 2);   /* few rows, many outputs: split over outputs */
    linear_case(301, 80, 96, 1, 3);    /* many rows: split over rows, ragged last chunk */
    linear_case(257, 33, 17, 0, 4);    /* no bias, odd sizes */
    linear_case(5, 1, 1, 1, 5);
    float x = 1, w = 1, y;
    CHECK_ERR(t_linear(&x, 1, 0, &w, NULL, 1, &y), "linear");
    CHECK_ERR(t_linear(NULL, 1, 1, &w, NULL, 1, &y), "linear");
    CHECK_OK(t_linear(NULL, 0, 1, &w, NULL, 1, NULL)); /* zero rows: nothing to do */
    gs_set_num_threads(threads);
}

/* softmax(q k^T * scale) v in double, out [n, heads*hd] */
static void attn_ref(const float *q, const float *k, const float *v, int heads, int n, int hd, double scale,
                     float *out) {
    double *s = malloc((size_t)n * sizeof *s);
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < n; i++) {
            const float *qi = q + ((size_t)h * n + i) * hd;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j < n; j++) {
                double d = 0;
                for (int c = 0; c < hd; c++) d += (double)qi[c] * k[((size_t)h * n + j) * hd + c];
                s[j] = d * scale;
                if (s[j] > mx) mx = s[j];
            }
            for (int j = 0; j < n; j++) sum += (s[j] = exp(s[j] - mx));
            for (int c = 0; c < hd; c++) {
                double acc = 0;
                for (int j = 0; j < n; j++) acc += s[j] * v[((size_t)h * n + j) * hd + c];
                out[(size_t)i * heads * hd + h * hd + c] = (float)(acc / sum);
            }
        }
    free(s);
}

static void attn_case(int heads, int n, int hd, float qmul, unsigned seed) {
    const double tol = qmul > 10 ? 2e-4 : 2e-5;
    size_t sz = (size_t)heads * n * hd;
    float *q = rand_buf(sz, seed), *k = rand_buf(sz, seed + 1), *v = rand_buf(sz, seed + 2);
    for (size_t i = 0; i < sz; i++) q[i] *= qmul;
    float *o = malloc(sz * sizeof *o), *r = malloc(sz * sizeof *r);
    const float scale = 1.0f / sqrtf((float)hd);
    attn_ref(q, k, v, heads, n, hd, scale, r);
    CHECK_OK(t_attention(q, k, v, heads, n, hd, scale, o));
    int finite = 1;
    for (size_t i = 0; i < sz; i++) finite &= isfinite(o[i]) != 0;
    CHECK_MSG(finite, "attention %dx%dx%d: non-finite output", heads, n, hd);
    double e = rel_err(o, r, sz);
    CHECK_MSG(e < tol, "attention heads %d n %d hd %d qmul %g: rel err %g", heads, n, hd, qmul, e);
    free(q), free(k), free(v), free(o), free(r);
}

TEST(ops_nn_attention_matches_double_reference) {
    /* both kernels: the AVX2 flash form (cpu_x86.c; head dims that are
     * multiples of 16) where the CPU has it, then the portable one */
    const int had = gs_ops_simd();
    for (int simd = 1; simd >= 0; simd--) {
        if (gs_ops_set_simd(simd) != simd) {
            printf("    (this CPU has no AVX2 + FMA: the vector attention kernel is not tested)\n");
            continue;
        }
        attn_case(3, 150, 16, 1.0f, 10);  /* three query blocks, the last partial */
        attn_case(2, 64, 8, 1.0f, 11);    /* exactly one block */
        attn_case(1, 1, 4, 1.0f, 12);     /* one token: output = v */
        attn_case(1, 1, 16, 1.0f, 14);
        /* DA3's head dim; 3 key blocks of 256, the last with a partial
         * 16-key panel; 7 query blocks of 48, the last partial */
        attn_case(2, 563, 64, 1.0f, 15);
        attn_case(1, 97, 128, 3.0f, 16);
        /* logits in the thousands: needs the max subtraction; float logits of
         * that size carry ~1e-4 absolute error, so exp() does too */
        attn_case(4, 70, 32, 400.0f, 13);
        attn_case(2, 300, 64, 60.0f, 17); /* the running maximum jumps between key blocks */
    }
    gs_ops_set_simd(had);
    /* a NaN score poisons its row only, as in torch */
    float q[2 * 4] = {1, 0, 0, 0, NAN, 0, 0, 0}, k[2 * 4] = {1, 1, 0, 0, 0, 1, 0, 0}, v[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8};
    float out[2 * 4];
    CHECK_OK(t_attention(q, k, v, 1, 2, 4, 0.5f, out));
    CHECK(isfinite(out[0]) && isnan(out[4]));
    CHECK_NEAR(out[0], (1 * exp(0.5) + 5 * 1) / (exp(0.5) + 1), 1e-6);
    float z = 0, o;
    CHECK_ERR(t_attention(&z, &z, &z, 0, 1, 1, 1.0f, &o), "attention");
    CHECK_ERR(t_attention(&z, &z, &z, 1, 1, 1, NAN, &o), "attention");
}

/* RoPE straight from the definition in ops.h, in double */
static void rope_ref(float *x, int heads, int n, int hd, const int *py, const int *px, double base) {
    const int q = hd / 4;
    for (int h = 0; h < heads; h++)
        for (int t = 0; t < n; t++)
            for (int half = 0; half < 2; half++) {
                float *v = x + ((size_t)h * n + t) * hd + half * 2 * q;
                const int p = half ? px[t] : py[t];
                for (int j = 0; j < q; j++) {
                    double th = p * pow(base, -2.0 * j / (2 * q));
                    double a = v[j], b = v[j + q];
                    v[j] = (float)(a * cos(th) - b * sin(th));
                    v[j + q] = (float)(b * cos(th) + a * sin(th));
                }
            }
}

TEST(ops_nn_rope_matches_definition) {
    const int heads = 2, ph = 5, pw = 6, n = 1 + ph * pw, hd = 64;
    int py[1 + 30], px[1 + 30];
    py[0] = px[0] = 0;
    for (int i = 0; i < ph * pw; i++) py[1 + i] = i / pw + 1, px[1 + i] = i % pw + 1;
    size_t sz = (size_t)heads * n * hd;
    float *x = rand_buf(sz, 21), *r = malloc(sz * sizeof *r);
    memcpy(r, x, sz * sizeof *r);
    t_rope2d(x, heads, n, hd, py, px, 100.0f);
    rope_ref(r, heads, n, hd, py, px, 100.0);
    CHECK(rel_err(x, r, sz) < 1e-6);
    /* position 0 is the identity: token 0 unchanged */
    float *x0 = rand_buf(sz, 21);
    for (int h = 0; h < heads; h++)
        for (int c = 0; c < hd; c++) CHECK_NEAR(x[(size_t)h * n * hd + c], x0[(size_t)h * n * hd + c], 0);
    /* the y half moves with pos_y only: swap the roles and the halves differ */
    float *a = rand_buf(sz, 22), *b = rand_buf(sz, 22);
    t_rope2d(a, heads, n, hd, py, px, 100.0f);
    t_rope2d(b, heads, n, hd, px, py, 100.0f);
    CHECK(fabsf(a[(size_t)7 * hd + 1] - b[(size_t)7 * hd + 1]) > 1e-4f); /* token 7: y=2, x=1 */
    /* a negative position: the table starts at the smallest one */
    py[4] = -3;
    memcpy(a, x0, sz * sizeof *a);
    memcpy(b, x0, sz * sizeof *b);
    t_rope2d(a, heads, n, hd, py, px, 100.0f);
    rope_ref(b, heads, n, hd, py, px, 100.0);
    CHECK(rel_err(a, b, sz) < 1e-6);
    free(x), free(r), free(x0), free(a), free(b);
}

/* torch's bicubic (A = -0.75, align_corners False, scale inside) in double */
static double cubic_w(double x) {
    const double A = -0.75;
    x = fabs(x);
    if (x <= 1) return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2) return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
}

static void bicubic_ref(const float *x, int c, int h, int w, float *y, int ho, int wo, double sh, double sw) {
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < ho; i++)
            for (int j = 0; j < wo; j++) {
                double sy = (i + 0.5) / sh - 0.5, sx = (j + 0.5) / sw - 0.5;
                int y0 = (int)floor(sy), x0 = (int)floor(sx);
                double acc = 0;
                for (int a = -1; a <= 2; a++)
                    for (int b = -1; b <= 2; b++) {
                        int yy = y0 + a, xx = x0 + b;
                        yy = yy < 0 ? 0 : yy >= h ? h - 1 : yy;
                        xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
                        acc += cubic_w(sy - (y0 + a)) * cubic_w(sx - (x0 + b)) * x[((size_t)ch * h + yy) * w + xx];
                    }
                y[((size_t)ch * ho + i) * wo + j] = (float)acc;
            }
}

TEST(ops_nn_bicubic_matches_definition) {
    struct { int h, w, ho, wo; double sh, sw; } cs[] = {
        {37, 37, 36, 27, 36.1 / 37, 27.1 / 37}, {37, 37, 3, 40, 3.1 / 37, 40.1 / 37}, {5, 4, 11, 9, 2.3, 2.4},
        {1, 1, 2, 3, 2, 3}};
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        const int c = 3;
        float *x = rand_buf((size_t)c * cs[k].h * cs[k].w, 30 + (unsigned)k);
        size_t no = (size_t)c * cs[k].ho * cs[k].wo;
        float *y = malloc(no * sizeof *y), *r = malloc(no * sizeof *r);
        gs_resize_bicubic(&g_test_cpu, x, c, cs[k].h, cs[k].w, y, cs[k].ho, cs[k].wo, cs[k].sh, cs[k].sw);
        bicubic_ref(x, c, cs[k].h, cs[k].w, r, cs[k].ho, cs[k].wo, cs[k].sh, cs[k].sw);
        /* the source position is a float in torch (and here): ~36 * 2^-24 of
         * position error moves the weights by a few 1e-6 */
        double e = rel_err(y, r, no);
        CHECK_MSG(e < 2e-5, "bicubic case %zu: rel err %g", k, e);
        free(x), free(y), free(r);
    }
    /* a constant stays constant (weights sum to 1, clamped taps) */
    float one[12], out[30];
    for (int i = 0; i < 12; i++) one[i] = 2.5f;
    gs_resize_bicubic(&g_test_cpu, one, 1, 3, 4, out, 5, 6, 5.0 / 3, 1.5);
    for (int i = 0; i < 30; i++) CHECK_NEAR(out[i], 2.5, 1e-5);
}

static const float *golden(const gs_safetensors *st, const char *name, size_t want) {
    const gs_st_tensor *t = gs_st_find(st, name);
    if (!t || t->dtype != GS_F32 || t->end - t->begin != want * 4) {
        gs_test_fail(__FILE__, __LINE__, "%s: golden %s missing or mis-sized", OPS_GOLDEN, name);
        return NULL;
    }
    return (const float *)t->data;
}

TEST(ops_nn_rope_and_bicubic_match_torch) {
    REQUIRE_GOLDEN(OPS_GOLDEN);
    gs_safetensors st;
    CHECK_OK(gs_st_open(&st, OPS_GOLDEN));
    if (gs_test_failed()) return;
    const char *cases[] = {"pe_5x7", "pe_36x27", "pe_40x38", "up_4x6"};
    for (int k = 0; k < 4; k++) {
        char key[64], in_name[96], out_name[96];
        snprintf(key, sizeof key, "bicubic.%s", cases[k]);
        const char *m = gs_st_meta(&st, key);
        double sh = 0, sw = 0;
        int ho = 0, wo = 0;
        CHECK(m && sscanf(m, "%lf %lf %d %d", &sh, &sw, &ho, &wo) == 4);
        snprintf(in_name, sizeof in_name, "%s.in", key);
        snprintf(out_name, sizeof out_name, "%s.out", key);
        const gs_st_tensor *ti = gs_st_find(&st, in_name);
        if (!ti || ti->ndim != 3 || ho < 1 || wo < 1) {
            CHECK_MSG(0, "golden %s malformed", key);
            continue;
        }
        const int c = (int)ti->shape[0], h = (int)ti->shape[1], w = (int)ti->shape[2];
        const float *x = golden(&st, in_name, (size_t)c * h * w);
        const float *ref = golden(&st, out_name, (size_t)c * ho * wo);
        if (!x || !ref) continue;
        float *y = malloc((size_t)c * ho * wo * sizeof *y);
        gs_resize_bicubic(&g_test_cpu, x, c, h, w, y, ho, wo, sh, sw);
        double e = rel_err(y, ref, (size_t)c * ho * wo);
        CHECK_MSG(e < 1e-6, "bicubic %s vs torch: rel err %g", cases[k], e);
        free(y);
    }
    const gs_st_tensor *tr = gs_st_find(&st, "rope.in");
    if (tr && tr->ndim == 3) {
        const int heads = (int)tr->shape[0], n = (int)tr->shape[1], hd = (int)tr->shape[2];
        const size_t sz = (size_t)heads * n * hd;
        const float *x = golden(&st, "rope.in", sz), *ref = golden(&st, "rope.out", sz);
        const float *pos = golden(&st, "rope.pos", (size_t)n * 2);
        if (x && ref && pos) {
            float *y = malloc(sz * sizeof *y);
            int *py = malloc((size_t)n * sizeof *py), *px = malloc((size_t)n * sizeof *px);
            for (int t = 0; t < n; t++) py[t] = (int)pos[2 * t], px[t] = (int)pos[2 * t + 1];
            memcpy(y, x, sz * sizeof *y);
            t_rope2d(y, heads, n, hd, py, px, 100.0f);
            double e = rel_err(y, ref, sz);
            CHECK_MSG(e < 1e-6, "rope vs torch: rel err %g", e);
            free(y), free(py), free(px);
        }
    } else {
        CHECK_MSG(0, "golden rope.in missing");
    }
    gs_st_close(&st);
}

/* GELU: the portable kernel is the exact 0.5 x (1 + erf(x / sqrt 2)) to float
 * rounding; the AVX2 one (cpu_x86.c) follows torch's vectorised erf
 * (Abramowitz-Stegun 7.1.26, |error| <= 1.5e-7), so it is held to that
 * formula tightly and to the exact GELU within the formula's bound. */
static double gelu_as(double x) {
    const double z = fabs(x) / sqrt(2.0), t = 1.0 / (1.0 + 0.3275911 * z);
    const double r = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    const double e = 1.0 - r * exp(-z * z);
    return 0.5 * x * (1.0 + (x < 0 ? -e : e));
}

TEST(ops_gelu_exact_and_vectorised) {
    enum { N = 4011 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < 4001; i++) x[i] = -12.0f + 24.0f * (float)i / 4000.0f;
    const float special[10] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e30f, -1e30f, 3.3e-3f, -0.77f, INFINITY, NAN};
    memcpy(x + 4001, special, sizeof special); /* N % 8 = 3: the vector tail too */
    const int had = gs_ops_simd();
    for (int simd = 0; simd <= 1; simd++) {
        if (gs_ops_set_simd(simd) != simd) {
            printf("    (this CPU has no AVX2 + FMA: the vector GELU is not tested)\n");
            continue;
        }
        memcpy(y, x, N * sizeof *y);
        gs_unary(&g_test_cpu, GS_UNARY_GELU, y, y, N);
        double worst_exact = 0, worst_as = 0;
        for (int i = 0; i < N - 2; i++) {
            const double xi = x[i], ex = 0.5 * xi * (1.0 + erf(xi / sqrt(2.0)));
            /* the float 1 + erf cancels for x << 0: up to |x| / 2 ulp(1) absolute */
            const double d_ex = fabs(y[i] - ex) / (1.2e-7 * fabs(ex) + simd * fabs(xi) * (0.5 * 1.5e-7 + 1.2e-7) + 1e-30);
            const double d_as = fabs(y[i] - gelu_as(xi)) / (2.4e-7 * fabs(gelu_as(xi)) + fabs(xi) * 1.2e-7 + 1e-30);
            if (!(d_ex <= worst_exact)) worst_exact = d_ex;
            if (simd && !(d_as <= worst_as)) worst_as = d_as;
        }
        CHECK_MSG(worst_exact <= 1.0, "gelu (simd %d): %.3g of the bound from the exact GELU", simd, worst_exact);
        if (simd) CHECK_MSG(worst_as <= 1.0, "vector gelu: %.3g of the bound from torch's formula", worst_as);
        CHECK(isinf(y[N - 2]) && y[N - 2] > 0);
        CHECK(isnan(y[N - 1]));
        CHECK(y[4000] == 12.0f && y[0] <= 0.0f && y[0] > -1e-30f);
    }
    gs_ops_set_simd(had);
    free(x), free(y);
}

/* the AVX2 row LayerNorm against the portable one: the same double
 * accumulation in another order, so equal within an ulp of the output */
TEST(ops_layernorm_vector_matches_portable) {
    const int had = gs_ops_simd();
    if (gs_ops_set_simd(1) != 1) {
        gs_ops_set_simd(had);
        TEST_SKIP("this CPU has no AVX2 + FMA");
    }
    const int dims[4] = {384, 1024, 13, 64};
    for (int c = 0; c < 4; c++) {
        const int dim = dims[c], rows = 37;
        float *x = rand_buf((size_t)rows * dim, 30 + c), *w = rand_buf(dim, 40 + c), *b = rand_buf(dim, 50 + c);
        for (int i = 0; i < rows * dim; i++) x[i] = x[i] * 3.0f + 100.0f * (c == 1); /* a large mean too */
        float *y0 = malloc((size_t)rows * dim * sizeof *y0), *y1 = malloc((size_t)rows * dim * sizeof *y1);
        for (int affine = 0; affine < 2; affine++) {
            gs_ops_set_simd(0);
            gs_layernorm(&g_test_cpu, x, y0, rows, dim, affine ? w : NULL, affine ? b : NULL, 1e-6f);
            gs_ops_set_simd(1);
            memcpy(y1, x, (size_t)rows * dim * sizeof *y1);
            gs_layernorm(&g_test_cpu, y1, y1, rows, dim, affine ? w : NULL, affine ? b : NULL, 1e-6f); /* in place */
            double worst = 0;
            for (int i = 0; i < rows * dim; i++) {
                const double d = fabs((double)y1[i] - y0[i]) / (fabs(y0[i]) * 1.2e-7 + 1e-7);
                if (!(d <= worst)) worst = d;
            }
            CHECK_MSG(worst <= 1.0, "layernorm dim %d affine %d: %.3g ulp-ish apart", dim, affine, worst);
            /* and it is a LayerNorm: row 0 has mean 0, variance 1 before the affine part */
            if (!affine) {
                double m = 0, v = 0;
                for (int i = 0; i < dim; i++) m += y1[i];
                m /= dim;
                for (int i = 0; i < dim; i++) v += (y1[i] - m) * (y1[i] - m);
                CHECK_NEAR(m, 0.0, 1e-6);
                CHECK_NEAR(v / dim, 1.0, 1e-5);
            }
        }
        free(x), free(w), free(b), free(y0), free(y1);
    }
    gs_ops_set_simd(had);
}
