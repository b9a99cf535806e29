/* test_ops_cuda.c - every kernel of gs/ops/cuda.h against its CPU twin (the
 * same public op of gs/ops/ops.h on a CPU context), on fresh random inputs
 * with odd sizes: convolutions (3x3 stride 2 padding 1 on 17x13, 1x1, 11x11
 * stride 4 as AlexNet's first layer, rectangular kernels, 1 to 3 images,
 * outputs spaced by y_batch, two convolutions into the halves of one map as
 * LPIPS's fire modules do, the banded im2col path), max-pool (floor and ceil
 * mode, padding, NaN inputs), channel concatenation, bias add and every
 * unary map. Outputs are poisoned with NaN before each run, so an element
 * that is not written fails, and the gaps that y_batch leaves must stay NaN.
 *
 * Tolerances. Convolutions: both sides sum the same float products in
 * different orders (OpenBLAS vs cuBLAS tiles, no TF32 on either); each
 * element must be within 1e-5 of (|CPU value| + the RMS of the CPU output):
 * a relative bound, with the output's scale as its floor for values that
 * cancel to near zero (their error is that of the sum's terms, not of the
 * result). Max-pool, concat, bias add and ReLU are exact (bit equal, NaN
 * where NaN). GELU, SiLU and the sigmoid are computed in double on both
 * sides (the CPU's portable kernels, picked here with gs_ops_set_simd(0)),
 * exp in float (CUDA's expf is within 2 ulps, glibc's within 1): 1e-5
 * relative, with 1e-37 as the floor for results that underflow.
 *
 * Without a usable GPU the GPU tests skip; with GS_REQUIRE_CUDA=1 in the
 * environment (a GPU session) they fail instead. What runs everywhere: the
 * workspace plan of the convolution (host code) and the message of a CUDA
 * context that cannot be had. */
#include "tests/test_scenes.h"
#include "gs/core/device.h"
#include "gs/cuda/cuda.h"
#include "gs/ops/ops.h"
#include "gs/ops/cpu.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define TOL_CONV 1e-5
#define TOL_MAP 1e-5

#ifdef GS_HAVE_CUDA
static uint64_t rs = 0xC0FFEE1234567ull;
static float srand1(void) { return 2.0f * test_frand(&rs) - 1.0f; } /* [-1, 1) */

static int verbose(void) { return getenv("GS_TEST_VERBOSE") != NULL; }


static float *host_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) abort();
    return p;
}

static void fill_random(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * srand1();
}

static void fill_nan(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

/* a == b bit for bit, or both NaN */
static int same_float(float a, float b) { return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0; }

/* ---- the GPU side: a context, device copies ------------------------------------- */
typedef struct {
    gs_cuda_ctx *cu;
    gs_ctx gpu;
    gs_arena ws; /* device workspace, sized per op to exactly what it asks for */
} rig;

static int rig_open(rig *r) {
    memset(r, 0, sizeof *r);
    CHECK_OK(gs_cuda_ctx_create(&r->cu, 1));
    if (!r->cu) return 0;
    r->gpu.device = GS_DEVICE_CUDA;
    r->gpu.cuda = r->cu;
    r->gpu.ws = NULL;
    return 1;
}

static void rig_close(rig *r) {
    gs_arena_destroy(&r->ws);
    gs_cuda_ctx_free(r->cu);
}

/* A device workspace of exactly `bytes` for the next op (none when 0). */
static int rig_workspace(rig *r, size_t bytes) {
    gs_arena_destroy(&r->ws);
    r->gpu.ws = NULL;
    if (!bytes) return 1;
    CHECK_OK(gs_arena_create(&r->ws, GS_DEVICE_CUDA, bytes, "test workspace"));
    if (!r->ws.base) return 0;
    CHECK_EQ_INT(r->ws.size, bytes); /* the plan is already rounded: nothing to spare */
    r->gpu.ws = &r->ws;
    return 1;
}

/* a device copy of host[0..n) (NULL host: n NaNs) */
static float *dev_copy(rig *r, const float *host, size_t n) {
    void *d = NULL;
    CHECK_OK(gs_cuda_alloc(&d, (n ? n : 1) * sizeof(float), "test buffer"));
    if (!d) return NULL;
    float *tmp = NULL;
    if (!host) {
        tmp = host_floats(n);
        fill_nan(tmp, n);
        host = tmp;
    }
    CHECK_OK(gs_cuda_upload(r->cu, d, host, n * sizeof(float)));
    free(tmp);
    return d;
}

static void dev_fetch(rig *r, float *host, const float *dev, size_t n) {
    CHECK_OK(gs_ctx_sync(&r->gpu));
    CHECK_OK(gs_cuda_download(r->cu, host, dev, n * sizeof(float)));
}
#endif

/* ---- runs everywhere ------------------------------------------------------------ */
TEST(ops_cuda_context_without_a_gpu_says_why) {
#ifdef GS_HAVE_CUDA
    if (gs_cuda_device_count() > 0) {
        gs_cuda_ctx *c = NULL;
        CHECK_OK(gs_cuda_ctx_create(&c, 1));
        if (!c) return;
        CHECK(strstr(gs_cuda_ctx_name(c), "sm_") != NULL);
        CHECK_STR(gs_cuda_unusable_reason(), "");
        /* copies round-trip; an impossible allocation is an out-of-memory error naming its use */
        float in[5] = {1, -2, 3.5f, NAN, 1e30f}, out[5];
        void *d = NULL;
        CHECK_OK(gs_cuda_alloc(&d, sizeof in, "round trip"));
        CHECK_OK(gs_cuda_upload(c, d, in, sizeof in));
        CHECK_OK(gs_cuda_download(c, out, d, sizeof in));
        for (int i = 0; i < 5; i++) CHECK(same_float(in[i], out[i]));
        gs_cuda_free(d);
        void *big = NULL;
        CHECK_ERR(gs_cuda_alloc(&big, (size_t)1 << 50, "a petabyte"), "a petabyte");
        CHECK(big == NULL);
        CHECK_OK(gs_cuda_ctx_sync(c)); /* the failed allocation left no error behind */
        gs_cuda_ctx_free(c);
        gs_test_rerun_without_gpu(__FILE__, __LINE__, "ops_cuda_context_without_a_gpu_says_why");
        return;
    }
    /* no GPU: the context cannot be had, and the CUDA runtime's reason is said */
    const char *why = gs_cuda_unusable_reason();
    CHECK(why != NULL && why[0] != '\0');
    gs_cuda_ctx *c = (gs_cuda_ctx *)1;
    CHECK_ERR(gs_cuda_ctx_create(&c, 1), "no usable CUDA device");
    CHECK(c == NULL);
    CHECK(strstr(gs_last_error(), why) != NULL);
    char buf[512];
    CHECK(gs_cuda_describe(buf, sizeof buf) != GS_OK);
    CHECK(strstr(buf, why) != NULL);
    gs_cuda_ctx_free(NULL); /* harmless */
#else
    /* an op on a CUDA context in a build without CUDA */
    gs_ctx c;
    memset(&c, 0, sizeof c);
    c.device = GS_DEVICE_CUDA;
    float x = 1.0f;
    CHECK_ERR(gs_unary(&c, GS_UNARY_RELU, &x, &x, 1), "no CUDA support");
#endif
}

/* The convolution's scratch is planned on the host: none for a pointwise
 * convolution, all output rows when they fit the band budget (256 MiB), else
 * whole rows up to it, never less than one row; rounded as the arena
 * rounds. */
TEST(ops_cuda_conv2d_workspace_is_banded) {
#ifdef GS_HAVE_CUDA
    gs_ctx c;
    memset(&c, 0, sizeof c);
    c.device = GS_DEVICE_CUDA;
    const size_t budget = (size_t)256 << 20;
    const gs_conv2d_params pw = {16, 9, 1, 1, 1, 1, 0, 0, 0};
    CHECK_EQ_INT(gs_conv2d_workspace(&c, &pw, 3, 9, 7), 0);
    /* 3x3 stride 2 padding 1 on 17x13 (wo 9, ho 7), 5 channels, 2 images: all rows */
    const gs_conv2d_params p1 = {5, 7, 3, 3, 2, 2, 1, 1, 0};
    CHECK_EQ_INT(gs_conv2d_workspace(&c, &p1, 2, 13, 17), gs_arena_round((size_t)2 * 45 * 7 * 9 * sizeof(float)));
    /* a 1x1 kernel with stride 2 is not pointwise: it needs columns */
    const gs_conv2d_params p2 = {3, 4, 1, 1, 2, 2, 0, 0, 0};
    CHECK_EQ_INT(gs_conv2d_workspace(&c, &p2, 1, 9, 9), gs_arena_round((size_t)3 * 25 * sizeof(float)));
    /* VGG's widest layer at 1080p, the pair: banded under the budget, whole rows */
    const gs_conv2d_params vgg = {512, 512, 3, 3, 1, 1, 1, 1, 0};
    const size_t row = (size_t)2 * 512 * 9 * 1920 * sizeof(float);
    const size_t ws = gs_conv2d_workspace(&c, &vgg, 2, 1080, 1920);
    CHECK(ws <= budget && ws >= row);
    CHECK_EQ_INT(ws, gs_arena_round(budget / row * row));
    /* one row over the budget: exactly one row */
    const gs_conv2d_params wide = {1024, 8, 5, 5, 1, 1, 2, 2, 0};
    const size_t row2 = (size_t)3 * 1024 * 25 * 1000 * sizeof(float);
    CHECK(row2 > budget);
    CHECK_EQ_INT(gs_conv2d_workspace(&c, &wide, 3, 4, 1000), gs_arena_round(row2));
    /* nothing for what cannot run */
    const gs_conv2d_params big = {1, 1, 5, 5, 1, 1, 0, 0, 0};
    CHECK_EQ_INT(gs_conv2d_workspace(&c, &big, 1, 3, 3), 0);
#else
    NEED_CUDA(); /* fails with GS_REQUIRE_CUDA=1, else skips: this build has no CUDA */
#endif
}

#ifdef GS_HAVE_CUDA
/* ---- convolution --------------------------------------------------------------- */
typedef struct {
    int cin, cout, kh, kw, sh, sw, ph, pw;
    int n, h, w;
    size_t gap; /* floats between one image's output and the next: y_batch = c_out*ho*wo + gap */
    int bias, relu;
} conv_case;

/* Worst |got - want| / (|want| + rms(want)) over the images' outputs (y_batch
 * apart); a NaN where a number is wanted (or the reverse) counts as infinite.
 * The gaps between the images must still hold NaN in both. */
static double conv_worst(const float *got, const float *want, int n, size_t out_sz, size_t yb, int *gaps_ok) {
    double ss = 0;
    for (int b = 0; b < n; b++)
        for (size_t i = 0; i < out_sz; i++) ss += (double)want[b * yb + i] * want[b * yb + i];
    const double rms = sqrt(ss / ((double)n * out_sz));
    double worst = 0;
    *gaps_ok = 1;
    for (int b = 0; b < n; b++) {
        for (size_t i = 0; i < out_sz; i++) {
            const double g = got[b * yb + i], w = want[b * yb + i];
            const double r = isfinite(g) && isfinite(w) ? fabs(g - w) / (fabs(w) + rms) : INFINITY;
            if (!(r <= worst)) worst = r;
        }
        if (b + 1 < n)
            for (size_t i = out_sz; i < yb; i++)
                if (!isnan(got[b * yb + i]) || !isnan(want[b * yb + i])) *gaps_ok = 0;
    }
    return worst;
}

/* One convolution on both backends; returns the worst relative error. */
static double run_conv(rig *r, const conv_case *k) {
    const int ho = gs_conv2d_out_size(k->h, k->kh, k->sh, k->ph), wo = gs_conv2d_out_size(k->w, k->kw, k->sw, k->pw);
    CHECK(ho > 0 && wo > 0);
    if (ho < 1 || wo < 1) return INFINITY;
    const size_t out_sz = (size_t)k->cout * ho * wo, yb = out_sz + k->gap;
    const size_t nx = (size_t)k->n * k->cin * k->h * k->w, nw = (size_t)k->cout * k->cin * k->kh * k->kw;
    const size_t ny = (size_t)(k->n - 1) * yb + out_sz;
    const gs_conv2d_params p = {k->cin, k->cout, k->kh, k->kw, k->sh, k->sw, k->ph, k->pw, k->gap ? yb : 0};
    float *x = host_floats(nx), *wt = host_floats(nw), *bias = host_floats((size_t)k->cout);
    float *y_cpu = host_floats(ny), *y_gpu = host_floats(ny);
    fill_random(x, nx, 1.0f);
    fill_random(wt, nw, 1.0f / sqrtf((float)(k->cin * k->kh * k->kw)));
    fill_random(bias, (size_t)k->cout, 0.5f);
    fill_nan(y_cpu, ny);
    fill_nan(y_gpu, ny);
    double worst = INFINITY;
    /* CPU */
    gs_arena hws;
    gs_ctx cpu = gs_ctx_cpu(NULL);
    const size_t need_cpu = gs_conv2d_workspace(&cpu, &p, k->n, k->h, k->w);
    CHECK_OK(gs_arena_create(&hws, GS_DEVICE_CPU, need_cpu, "cpu workspace"));
    cpu = gs_ctx_cpu(&hws);
    const gs_wt hw = gs_wt_f32(wt, 4, k->cout, k->cin, k->kh, k->kw);
    CHECK_OK(gs_conv2d(&cpu, &p, x, k->n, k->h, k->w, &hw, k->bias ? bias : NULL, y_cpu, k->relu));
    gs_arena_destroy(&hws);
    /* GPU, with a workspace of exactly the planned size */
    const size_t need = gs_conv2d_workspace(&r->gpu, &p, k->n, k->h, k->w);
    float *dx = dev_copy(r, x, nx), *dw = dev_copy(r, wt, nw), *db = dev_copy(r, bias, (size_t)k->cout);
    float *dy = dev_copy(r, NULL, ny);
    if (dx && dw && db && dy && rig_workspace(r, need)) {
        const gs_wt dwt = gs_wt_f32(dw, 4, k->cout, k->cin, k->kh, k->kw);
        CHECK_OK(gs_conv2d(&r->gpu, &p, dx, k->n, k->h, k->w, &dwt, k->bias ? db : NULL, dy, k->relu));
        if (need) {
            CHECK_EQ_INT(r->ws.peak, need); /* took exactly what it asked for */
            CHECK_EQ_INT(r->ws.used, 0);    /* and gave it back */
        }
        dev_fetch(r, y_gpu, dy, ny);
        int gaps_ok;
        worst = conv_worst(y_gpu, y_cpu, k->n, out_sz, yb, &gaps_ok);
        CHECK_MSG(gaps_ok, "conv %dx%d s%d,%d p%d,%d n %d: y_batch gaps were written", k->kh, k->kw, k->sh, k->sw,
                  k->ph, k->pw, k->n);
    }
    gs_cuda_free(dx), gs_cuda_free(dw), gs_cuda_free(db), gs_cuda_free(dy);
    free(x), free(wt), free(bias), free(y_cpu), free(y_gpu);
    return worst;
}

TEST(ops_cuda_conv2d_matches_cpu) {
    NEED_CUDA();
    rig r;
    if (!rig_open(&r)) return;
    static const conv_case cases[] = {
        /* cin cout kh kw sh sw ph pw  n   h   w  gap bias relu */
        {5, 7, 3, 3, 2, 2, 1, 1, 1, 13, 17, 0, 1, 1},
        {5, 7, 3, 3, 2, 2, 1, 1, 2, 13, 17, 0, 1, 0},
        {5, 7, 3, 3, 2, 2, 1, 1, 3, 13, 17, 5, 0, 1},
        {16, 9, 1, 1, 1, 1, 0, 0, 1, 7, 9, 0, 1, 1},   /* pointwise: the GEMM on the input */
        {16, 9, 1, 1, 1, 1, 0, 0, 3, 7, 9, 11, 1, 1},  /* pointwise, spaced outputs */
        {3, 4, 1, 1, 2, 2, 0, 0, 2, 9, 9, 0, 1, 0},    /* 1x1 stride 2: columns */
        {3, 8, 11, 11, 4, 4, 2, 2, 2, 45, 67, 0, 1, 1}, /* AlexNet's first layer */
        {3, 8, 11, 11, 4, 4, 2, 2, 3, 45, 67, 7, 1, 1},
        {4, 6, 1, 3, 1, 2, 0, 1, 2, 9, 10, 3, 1, 0},   /* rectangular kernel, stride, padding */
        {6, 5, 5, 5, 1, 1, 2, 2, 3, 6, 7, 0, 0, 0},    /* no bias, no relu: the bare product */
        {7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1},    /* 1x1 input, padded 3x3 */
        {64, 8, 3, 3, 1, 1, 1, 1, 2, 120, 1000, 0, 1, 1}, /* 58 rows per band: 3 bands */
    };
    double worst_all = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const conv_case *k = &cases[i];
        const double e = run_conv(&r, k);
        CHECK_MSG(e <= TOL_CONV, "conv %d->%d %dx%d s%d,%d p%d,%d n %d on %dx%d (gap %zu): worst relative error %.3g",
                  k->cin, k->cout, k->kh, k->kw, k->sh, k->sw, k->ph, k->pw, k->n, k->w, k->h, k->gap, e);
        if (e > worst_all) worst_all = e;
    }
    if (verbose()) printf("    conv2d: worst relative error %.3g (tolerance %g)\n", worst_all, TOL_CONV);
    rig_close(&r);
}

/* LPIPS's fire module: a 1x1 and a 3x3 convolution of the same squeeze
 * output written into the two halves of each image's concatenated map. */
TEST(ops_cuda_conv2d_fills_concatenated_halves) {
    NEED_CUDA();
    rig r;
    if (!rig_open(&r)) return;
    const int n = 2, cin = 6, e = 5, h = 11, w = 13;
    const size_t P = (size_t)h * w, cat = (size_t)2 * e * P, nx = (size_t)n * cin * P, ny = (size_t)n * cat;
    const gs_conv2d_params p1 = {cin, e, 1, 1, 1, 1, 0, 0, cat}, p3 = {cin, e, 3, 3, 1, 1, 1, 1, cat};
    float *x = host_floats(nx), *w1 = host_floats((size_t)e * cin), *w3 = host_floats((size_t)e * cin * 9);
    float *b1 = host_floats(e), *b3 = host_floats(e), *y_cpu = host_floats(ny), *y_gpu = host_floats(ny);
    fill_random(x, nx, 1.0f);
    fill_random(w1, (size_t)e * cin, 0.4f);
    fill_random(w3, (size_t)e * cin * 9, 0.15f);
    fill_random(b1, e, 0.3f);
    fill_random(b3, e, 0.3f);
    fill_nan(y_cpu, ny);
    gs_arena hws;
    gs_ctx cpu = gs_ctx_cpu(NULL);
    CHECK_OK(gs_arena_create(&hws, GS_DEVICE_CPU, gs_conv2d_workspace(&cpu, &p3, n, h, w), "cpu workspace"));
    cpu = gs_ctx_cpu(&hws);
    const gs_wt hw1 = gs_wt_f32(w1, 4, e, cin, 1, 1), hw3 = gs_wt_f32(w3, 4, e, cin, 3, 3);
    CHECK_OK(gs_conv2d(&cpu, &p1, x, n, h, w, &hw1, b1, y_cpu, 1));
    CHECK_OK(gs_conv2d(&cpu, &p3, x, n, h, w, &hw3, b3, y_cpu + (size_t)e * P, 1));
    gs_arena_destroy(&hws);
    float *dx = dev_copy(&r, x, nx), *dw1 = dev_copy(&r, w1, (size_t)e * cin);
    float *dw3 = dev_copy(&r, w3, (size_t)e * cin * 9);
    float *db1 = dev_copy(&r, b1, e), *db3 = dev_copy(&r, b3, e), *dy = dev_copy(&r, NULL, ny);
    if (dx && dw1 && dw3 && db1 && db3 && dy && rig_workspace(&r, gs_conv2d_workspace(&r.gpu, &p3, n, h, w))) {
        const gs_wt dwt1 = gs_wt_f32(dw1, 4, e, cin, 1, 1), dwt3 = gs_wt_f32(dw3, 4, e, cin, 3, 3);
        CHECK_OK(gs_conv2d(&r.gpu, &p1, dx, n, h, w, &dwt1, db1, dy, 1));
        CHECK_OK(gs_conv2d(&r.gpu, &p3, dx, n, h, w, &dwt3, db3, dy + (size_t)e * P, 1));
        dev_fetch(&r, y_gpu, dy, ny);
        int gaps_ok; /* no gaps here: the two convolutions tile the whole map */
        const double err = conv_worst(y_gpu, y_cpu, 1, ny, ny, &gaps_ok);
        CHECK_MSG(err <= TOL_CONV, "fire halves: worst relative error %.3g", err);
        for (size_t i = 0; i < ny; i++)
            if (isnan(y_gpu[i])) {
                CHECK_MSG(0, "fire halves: element %zu of the concatenated map was not written", i);
                break;
            }
    }
    gs_cuda_free(dx), gs_cuda_free(dw1), gs_cuda_free(dw3), gs_cuda_free(db1), gs_cuda_free(db3), gs_cuda_free(dy);
    free(x), free(w1), free(w3), free(b1), free(b3), free(y_cpu), free(y_gpu);
    rig_close(&r);
}

TEST(ops_cuda_conv2d_rejects_what_the_cpu_rejects) {
    NEED_CUDA();
    rig r;
    if (!rig_open(&r)) return;
    float *d = dev_copy(&r, NULL, 64);
    if (d) {
        const gs_conv2d_params p = {1, 1, 5, 5, 1, 1, 0, 0, 0};
        const gs_wt wt = gs_wt_f32(d, 4, 1, 1, 5, 5);
        CHECK_ERR(gs_conv2d(&r.gpu, &p, d, 1, 3, 3, &wt, NULL, d, 0), "too small");
        const gs_conv2d_params q = {1, 2, 1, 1, 1, 1, 0, 0, 5}; /* y_batch under one image's output (2*4*4) */
        const gs_wt wq = gs_wt_f32(d, 4, 2, 1, 1, 1);
        CHECK_ERR(gs_conv2d(&r.gpu, &q, d, 2, 4, 4, &wq, NULL, d, 0), "y_batch");
        gs_wt bf = gs_wt_f32(d, 4, 2, 1, 1, 1);
        bf.dtype = GS_BF16;
        const gs_conv2d_params q2 = {1, 2, 1, 1, 1, 1, 0, 0, 0};
        CHECK_ERR(gs_conv2d(&r.gpu, &q2, d, 1, 4, 4, &bf, NULL, d, 0), "F32");
        const gs_wt w_bad = gs_wt_f32(d, 4, 3, 1, 1, 1); /* 3 output channels for a 2-channel convolution */
        CHECK_ERR(gs_conv2d(&r.gpu, &q2, d, 1, 4, 4, &w_bad, NULL, d, 0), "weight is not [2, 1, 1, 1]");
        const gs_conv2d_params p3 = {1, 1, 3, 3, 1, 1, 1, 1, 0}; /* no workspace in the context */
        const gs_wt w3 = gs_wt_f32(d, 4, 1, 1, 3, 3);
        CHECK(gs_conv2d(&r.gpu, &p3, d, 1, 4, 4, &w3, NULL, d + 32, 0) != GS_OK);
        CHECK_OK(gs_ctx_sync(&r.gpu)); /* nothing was queued that fails later */
    }
    gs_cuda_free(d);
    rig_close(&r);
}

/* ---- max-pool -------------------------------------------------------------------- */
TEST(ops_cuda_maxpool2d_matches_cpu) {
    NEED_CUDA();
    rig r;
    if (!rig_open(&r)) return;
    static const struct {
        int n, ch, h, w, k, stride, pad, ceil_mode;
    } cases[] = {
        {2, 3, 13, 17, 3, 2, 0, 1}, /* squeezenet: ceil mode, odd sizes */
        {1, 4, 7, 9, 2, 2, 0, 0},   /* vgg: floor mode drops the odd last row/column */
        {3, 2, 10, 10, 3, 2, 1, 1}, /* padding and ceil mode */
        {2, 3, 11, 6, 3, 1, 1, 0},  /* stride 1, padding */
        {1, 2, 2, 2, 3, 2, 0, 1},   /* a window larger than the input (ceil mode: one output) */
        {2, 5, 46, 93, 3, 2, 0, 0}, /* alexnet after conv1 */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int n = cases[c].n, ch = cases[c].ch, h = cases[c].h, w = cases[c].w, k = cases[c].k;
        const int st = cases[c].stride, pad = cases[c].pad, cm = cases[c].ceil_mode;
        const int ho = gs_pool_out_size(h, k, st, pad, cm), wo = gs_pool_out_size(w, k, st, pad, cm);
        CHECK(ho > 0 && wo > 0);
        if (ho < 1 || wo < 1) continue;
        const size_t nx = (size_t)n * ch * h * w, ny = (size_t)n * ch * ho * wo;
        float *x = host_floats(nx), *y_cpu = host_floats(ny), *y_gpu = host_floats(ny);
        fill_random(x, nx, 3.0f);
        /* NaN wins wherever it falls in a window; -inf never does */
        for (size_t i = 0; i < nx; i += 37) x[i] = NAN;
        for (size_t i = 11; i < nx; i += 29) x[i] = -INFINITY;
        fill_nan(y_cpu, ny);
        gs_ctx cpu = gs_ctx_cpu(NULL);
        CHECK_OK(gs_maxpool2d(&cpu, x, n, ch, h, w, k, st, pad, cm, y_cpu));
        float *dx = dev_copy(&r, x, nx), *dy = dev_copy(&r, NULL, ny);
        if (dx && dy) {
            CHECK_OK(gs_maxpool2d(&r.gpu, dx, n, ch, h, w, k, st, pad, cm, dy));
            dev_fetch(&r, y_gpu, dy, ny);
            size_t bad = 0, nans = 0;
            for (size_t i = 0; i < ny; i++) {
                bad += !same_float(y_gpu[i], y_cpu[i]);
                nans += isnan(y_cpu[i]) != 0;
            }
            CHECK_MSG(bad == 0, "maxpool k%d s%d p%d ceil %d on %dx%d: %zu of %zu outputs differ", k, st, pad, cm, w,
                      h, bad, ny);
            CHECK(nans > 0 && nans < ny); /* the NaN inputs reached some outputs, not all */
        }
        gs_cuda_free(dx), gs_cuda_free(dy);
        free(x), free(y_cpu), free(y_gpu);
    }
    rig_close(&r);
}

/* ---- concat, bias add ------------------------------------------------------------ */
TEST(ops_cuda_concat_and_bias_add_match_cpu) {
    NEED_CUDA();
    rig r;
    if (!rig_open(&r)) return;
    enum { COUNT = 4, N = 3, HW = 37 };
    const int chans[COUNT] = {2, 5, 1, 3};
    const int total = 11;
    float *src[COUNT], *dsrc[COUNT];
    int ok = 1;
    for (int i = 0; i < COUNT; i++) {
        const size_t len = (size_t)N * chans[i] * HW;
        src[i] = host_floats(len);
        fill_random(src[i], len, 1.0f);
        dsrc[i] = dev_copy(&r, src[i], len);
        ok &= dsrc[i] != NULL;
    }
    const size_t ny = (size_t)N * total * HW;
    float *y_cpu = host_floats(ny), *y_gpu = host_floats(ny), *bias = host_floats(total);
    fill_random(bias, total, 2.0f);
    fill_nan(y_cpu, ny);
    gs_ctx cpu = gs_ctx_cpu(NULL);
    CHECK_OK(gs_concat_channels(&cpu, (const float *const *)src, chans, COUNT, N, HW, y_cpu));
    float *dy = dev_copy(&r, NULL, ny), *db = dev_copy(&r, bias, total);
    if (ok && dy && db) {
        CHECK_OK(gs_concat_channels(&r.gpu, (const float *const *)dsrc, chans, COUNT, N, HW, dy));
        dev_fetch(&r, y_gpu, dy, ny);
        size_t bad = 0;
        for (size_t i = 0; i < ny; i++) bad += !same_float(y_gpu[i], y_cpu[i]) || isnan(y_cpu[i]);
        CHECK_MSG(bad == 0, "concat: %zu of %zu elements differ or are unwritten", bad, ny);
        /* bias add on the concatenated map, in place: one float add per element, exact */
        CHECK_OK(gs_bias_add(&cpu, y_cpu, N, total, HW, bias));
        CHECK_OK(gs_bias_add(&r.gpu, dy, N, total, HW, db));
        dev_fetch(&r, y_gpu, dy, ny);
        bad = 0;
        for (size_t i = 0; i < ny; i++) bad += !same_float(y_gpu[i], y_cpu[i]);
        CHECK_MSG(bad == 0, "bias add: %zu of %zu elements differ", bad, ny);
        CHECK(y_cpu[HW] == src[0][HW] + bias[1]); /* image 0, channel 1, pixel 0: the CPU did add */
    }
    for (int i = 0; i < COUNT; i++) free(src[i]), gs_cuda_free(dsrc[i]);
    gs_cuda_free(dy), gs_cuda_free(db);
    free(y_cpu), free(y_gpu), free(bias);
    rig_close(&r);
}

/* ---- unary maps ------------------------------------------------------------------ */
TEST(ops_cuda_unary_matches_cpu) {
    NEED_CUDA();
    rig r;
    if (!rig_open(&r)) return;
    static const float special[] = {0.0f, -0.0f, 1e-8f, -1e-8f, 0.5f, -0.5f, 3.0f, -3.0f, 20.0f, -20.0f,
                                    85.0f, -85.0f, 100.0f, -120.0f, INFINITY, -INFINITY};
    const size_t ns = sizeof special / sizeof special[0], n = 4099 + ns;
    float *x = host_floats(n), *y_cpu = host_floats(n), *y_gpu = host_floats(n);
    fill_random(x, n - ns, 12.0f);
    memcpy(x + n - ns, special, sizeof special);
    float *dx = dev_copy(&r, x, n), *dy = dev_copy(&r, NULL, n);
    static const char *const names[] = {"relu", "gelu", "silu", "sigmoid", "exp", "exp+1"};
    const int simd = gs_ops_set_simd(0); /* the CPU's portable kernels: the reference formulas */
    float *poison = host_floats(n);
    fill_nan(poison, n);
    for (int f = GS_UNARY_RELU; f <= GS_UNARY_EXP_PLUS1 && dx && dy; f++) {
        fill_nan(y_cpu, n);
        gs_ctx cpu = gs_ctx_cpu(NULL);
        CHECK_OK(gs_unary(&cpu, (gs_unary_kind)f, x, y_cpu, n));
        if (f == GS_UNARY_GELU || f == GS_UNARY_EXP) { /* in place (y == x), on a fresh copy of the input */
            CHECK_OK(gs_cuda_upload(r.cu, dy, x, n * sizeof(float)));
            CHECK_OK(gs_unary(&r.gpu, (gs_unary_kind)f, dy, dy, n));
        } else {
            CHECK_OK(gs_cuda_upload(r.cu, dy, poison, n * sizeof(float)));
            CHECK_OK(gs_unary(&r.gpu, (gs_unary_kind)f, dx, dy, n));
        }
        dev_fetch(&r, y_gpu, dy, n);
        double worst = 0;
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            const double g = y_gpu[i], c = y_cpu[i];
            double e;
            if (f == GS_UNARY_RELU || !isfinite(c) || !isfinite(g))
                e = same_float(y_gpu[i], y_cpu[i]) ? 0 : INFINITY;
            else
                e = fabs(g - c) / (fabs(c) + 1e-37);
            if (!(e <= worst)) worst = e, at = i;
        }
        CHECK_MSG(worst <= (f == GS_UNARY_RELU ? 0 : TOL_MAP),
                  "%s: worst relative error %.3g at x = %.9g (%.9g vs cpu %.9g)", names[f], worst, x[at], y_gpu[at],
                  y_cpu[at]);
        if (verbose()) printf("    %s: worst relative error %.3g\n", names[f], worst);
    }
    free(poison);
    gs_ops_set_simd(simd);
    CHECK_ERR(gs_unary(&r.gpu, (gs_unary_kind)99, dx, dy, n), "unknown");
    gs_cuda_free(dx), gs_cuda_free(dy);
    free(x), free(y_cpu), free(y_gpu);
    rig_close(&r);
}
#endif
