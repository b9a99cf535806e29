/* test_ops.c - the shared CNN ops (gs/ops/ops.h) against hand-computed values and
 * a naive direct convolution: padding, stride, rectangular kernels, batches,
 * the banded im2col path, both ways of splitting the product over threads,
 * max-pool floor/ceil modes, concat, bad shapes. */
#include "tests/test.h"
#include "tests/test_ops_calls.h"
#include "gs/ops/ops.h"

#include <stdlib.h>

/* direct convolution, in double, as the definition in ops.h states */
static void conv_ref(const gs_conv2d_params *p, const float *x, int n, int h, int w, const float *wt, const float *b,
                     int relu, float *y) {
    const int ho = gs_conv2d_out_size(h, p->kh, p->stride_h, p->pad_h);
    const int wo = gs_conv2d_out_size(w, p->kw, p->stride_w, p->pad_w);
    for (int bi = 0; bi < n; bi++)
        for (int o = 0; o < p->c_out; o++)
            for (int i = 0; i < ho; i++)
                for (int j = 0; j < wo; j++) {
                    double acc = b ? b[o] : 0.0;
                    for (int c = 0; c < p->c_in; c++)
                        for (int u = 0; u < p->kh; u++)
                            for (int v = 0; v < p->kw; v++) {
                                const int yy = i * p->stride_h - p->pad_h + u, xx = j * p->stride_w - p->pad_w + v;
                                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                                acc += (double)wt[((o * p->c_in + c) * p->kh + u) * p->kw + v] *
                                       x[(((size_t)bi * p->c_in + c) * h + yy) * w + xx];
                            }
                    if (relu && acc < 0) acc = 0;
                    y[(((size_t)bi * p->c_out + o) * ho + i) * wo + j] = (float)acc;
                }
}

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

TEST(ops_out_sizes_follow_torch) {
    CHECK_EQ_INT(gs_conv2d_out_size(378, 11, 4, 2), 93); /* AlexNet conv1 on fern */
    CHECK_EQ_INT(gs_conv2d_out_size(504, 11, 4, 2), 125);
    CHECK_EQ_INT(gs_conv2d_out_size(5, 3, 2, 1), 3);
    CHECK_EQ_INT(gs_conv2d_out_size(2, 5, 1, 1), 0);     /* padded input shorter than the kernel */
    CHECK_EQ_INT(gs_conv2d_out_size(2, 5, 1, 2), 2);
    CHECK_EQ_INT(gs_conv2d_out_size(8, 3, 0, 1), 0);     /* bad stride */
    CHECK_EQ_INT(gs_pool_out_size(5, 3, 2, 0, 0), 2);
    CHECK_EQ_INT(gs_pool_out_size(5, 3, 2, 0, 1), 2);
    CHECK_EQ_INT(gs_pool_out_size(7, 3, 2, 0, 1), 3);
    CHECK_EQ_INT(gs_pool_out_size(8, 3, 2, 0, 1), 4);
    CHECK_EQ_INT(gs_pool_out_size(8, 3, 2, 0, 0), 3);
    CHECK_EQ_INT(gs_pool_out_size(6, 3, 2, 0, 0), 2);
    CHECK_EQ_INT(gs_pool_out_size(6, 3, 2, 0, 1), 3);
    /* ceil mode never starts a window in the right padding: torch gives 2 */
    CHECK_EQ_INT(gs_pool_out_size(5, 3, 3, 1, 1), 2);
    CHECK_EQ_INT(gs_pool_out_size(93, 3, 2, 0, 0), 46);
    CHECK_EQ_INT(gs_pool_out_size(2, 3, 2, 0, 0), 0);
    CHECK_EQ_INT(gs_pool_out_size(2, 3, 2, 0, 1), 1);   /* torch: a clipped window in ceil mode */
    CHECK_EQ_INT(gs_pool_out_size(1, 3, 2, 0, 1), 0);
    CHECK_EQ_INT(gs_pool_out_size(8, 3, 2, 2, 0), 0);    /* pad > k/2 is invalid in torch */
}

TEST(ops_conv2d_hand_computed) {
    float x[9];
    for (int i = 0; i < 9; i++) x[i] = (float)(i + 1); /* 3x3: 1..9 */
    float y[4];
    /* 2x2 kernel [[1,2],[3,4]], no padding, bias 0.5 */
    const gs_conv2d_params p1 = {1, 1, 2, 2, 1, 1, 0, 0, 0};
    const float k1[4] = {1, 2, 3, 4}, b1 = 0.5f;
    CHECK_OK(t_conv2d(&p1, x, 1, 3, 3, k1, &b1, y, 0));
    CHECK_NEAR(y[0], 37.5, 0);
    CHECK_NEAR(y[1], 47.5, 0);
    CHECK_NEAR(y[2], 67.5, 0);
    CHECK_NEAR(y[3], 77.5, 0);
    /* 3x3 box, padding 1, stride 2: windows centred on the corners */
    const gs_conv2d_params p2 = {1, 1, 3, 3, 2, 2, 1, 1, 0};
    float k2[9];
    for (int i = 0; i < 9; i++) k2[i] = 1.0f;
    CHECK_OK(t_conv2d(&p2, x, 1, 3, 3, k2, NULL, y, 0));
    CHECK_NEAR(y[0], 12, 0);
    CHECK_NEAR(y[1], 16, 0);
    CHECK_NEAR(y[2], 24, 0);
    CHECK_NEAR(y[3], 28, 0);
    /* 1x3 kernel along a 1x5 row, stride 2, padding 1 on the width only */
    const gs_conv2d_params p3 = {1, 1, 1, 3, 1, 2, 0, 1, 0};
    const float row[5] = {1, 2, 3, 4, 5}, k3[3] = {1, 1, 1};
    CHECK_EQ_INT(gs_conv2d_out_size(5, 3, 2, 1), 3);
    CHECK_OK(t_conv2d(&p3, row, 1, 1, 5, k3, NULL, y, 0));
    CHECK_NEAR(y[0], 3, 0);
    CHECK_NEAR(y[1], 9, 0);
    CHECK_NEAR(y[2], 9, 0);
}

TEST(ops_conv2d_pointwise_channels_batch_relu) {
    /* 2 images x 2 channels x 2x2; w = [[1,1],[2,-1]], bias [0, 1]:
     * out0 = a + b, out1 = relu(2a - b + 1) */
    const float x[16] = {1, 2, 3, 4, 10, 20, 30, 40, /* image 0: a, b */
                         -1, -2, -3, -4, 1, 1, 1, 1};  /* image 1 */
    const float w[4] = {1, 1, 2, -1}, b[2] = {0, 1};
    const gs_conv2d_params p = {2, 2, 1, 1, 1, 1, 0, 0, 0};
    float y[16];
    CHECK_OK(t_conv2d(&p, x, 2, 2, 2, w, b, y, 1));
    const float want[16] = {11, 22, 33, 44, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], want[i], 0);
    for (int i = 8; i < 12; i++) CHECK_NEAR(y[i], 0, 0); /* -1+1 ... all <= 0 */
    CHECK_NEAR(y[8], 0, 0);
    /* image 1, out1 = 2a - b + 1 = -2, -4, -6, -8 -> 0 after relu */
    for (int i = 12; i < 16; i++) CHECK_NEAR(y[i], 0, 0);
    CHECK_OK(t_conv2d(&p, x, 2, 2, 2, w, b, y, 0));
    CHECK_NEAR(y[4], 2 * 1 - 10 + 1, 0);
    CHECK_NEAR(y[8], -1 + 1, 0);
    CHECK_NEAR(y[12], -2 - 1 + 1, 0);
    CHECK_NEAR(y[15], -8 - 1 + 1, 0);
}

TEST(ops_conv2d_matches_direct_reference) {
    /* shapes that hit every path: stride 4 with big kernel (AlexNet conv1),
     * 5x5 pad 2, 3x3 pad 1 with odd sizes, a 1x1 with stride 2 (not
     * pointwise), and a wide image whose im2col needs several bands */
    const struct { gs_conv2d_params p; int n, h, w; } cfg[] = {
        {{3, 5, 11, 11, 4, 4, 2, 2, 0}, 1, 45, 67},
        {{4, 6, 5, 5, 1, 1, 2, 2, 0}, 2, 9, 13},
        {{3, 2, 3, 3, 1, 1, 1, 1, 0}, 1, 7, 5},
        {{2, 3, 1, 1, 2, 2, 0, 0, 0}, 1, 7, 8},
        {{2, 3, 3, 2, 2, 1, 0, 1, 0}, 1, 6, 9},
        {{3, 2, 3, 3, 1, 1, 1, 1, 0}, 1, 300, 2100},
        {{256, 96, 3, 3, 1, 1, 1, 1, 0}, 1, 4, 6},   /* narrow output, many channels: split along M */
        {{64, 96, 1, 1, 1, 1, 0, 0, 0}, 2, 40, 50},  /* pointwise, split along N */
    };
    unsigned seed = 12345;
    for (size_t t = 0; t < sizeof cfg / sizeof cfg[0]; t++) {
        const gs_conv2d_params *p = &cfg[t].p;
        const int n = cfg[t].n, h = cfg[t].h, w = cfg[t].w;
        const int ho = gs_conv2d_out_size(h, p->kh, p->stride_h, p->pad_h);
        const int wo = gs_conv2d_out_size(w, p->kw, p->stride_w, p->pad_w);
        const size_t nx = (size_t)n * p->c_in * h * w, nw = (size_t)p->c_out * p->c_in * p->kh * p->kw;
        const size_t ny = (size_t)n * p->c_out * ho * wo;
        float *x = malloc(nx * sizeof *x), *wt = malloc(nw * sizeof *wt), *b = malloc(p->c_out * sizeof *b);
        float *y = malloc(ny * sizeof *y), *r = malloc(ny * sizeof *r);
        for (size_t i = 0; i < nx; i++) x[i] = frand(&seed);
        for (size_t i = 0; i < nw; i++) wt[i] = frand(&seed);
        for (int i = 0; i < p->c_out; i++) b[i] = frand(&seed);
        const int relu = (int)(t & 1);
        CHECK_OK(t_conv2d(p, x, n, h, w, wt, b, y, relu));
        conv_ref(p, x, n, h, w, wt, b, relu, r);
        double maxd = 0;
        for (size_t i = 0; i < ny; i++) maxd = fmax(maxd, fabs((double)y[i] - r[i]));
        /* float32 products summed in another order: error grows like sqrt(K); a wrong
         * index gives errors of order 1 */
        const double tol = 1e-5 * sqrt((double)p->c_in * p->kh * p->kw) + 1e-5;
        CHECK_MSG(maxd < tol, "config %zu: max |conv - reference| = %g (tolerance %g)", t, maxd, tol);
        free(x), free(wt), free(b), free(y), free(r);
    }
}

TEST(ops_conv2d_rejects_bad_shapes) {
    float x[4] = {0}, w[9] = {0}, y[4];
    const gs_conv2d_params p = {1, 1, 3, 3, 1, 1, 0, 0, 0};
    CHECK_ERR(t_conv2d(&p, x, 1, 2, 2, w, NULL, y, 0), "too small");
    const gs_conv2d_params q = {1, 1, 3, 3, 0, 1, 1, 1, 0};
    CHECK_ERR(t_conv2d(&q, x, 1, 2, 2, w, NULL, y, 0), "stride 1,0");
    const gs_conv2d_params z = {0, 1, 1, 1, 1, 1, 0, 0, 0};
    CHECK_ERR(t_conv2d(&z, x, 1, 2, 2, w, NULL, y, 0), "c_in 0");
    CHECK_ERR(t_conv2d(&p, x, 0, 4, 4, w, NULL, y, 0), "n 0");
}

TEST(ops_maxpool_floor_ceil_padding) {
    float x[36], y[9];
    for (int i = 0; i < 36; i++) x[i] = (float)i; /* 6x6: 0..35, the max of a window is its bottom-right */
    CHECK_OK(gs_maxpool2d(&g_test_cpu, x, 1, 1, 6, 6, 3, 2, 0, 0, y));
    const float floor_want[4] = {14, 16, 26, 28};
    for (int i = 0; i < 4; i++) CHECK_NEAR(y[i], floor_want[i], 0);
    /* ceil mode adds a partial last window (columns/rows 4..5) on each axis */
    CHECK_OK(gs_maxpool2d(&g_test_cpu, x, 1, 1, 6, 6, 3, 2, 0, 1, y));
    const float ceil_want[9] = {14, 16, 17, 26, 28, 29, 32, 34, 35};
    for (int i = 0; i < 9; i++) CHECK_NEAR(y[i], ceil_want[i], 0);
    /* 5 = 2*2 + 3 fits exactly: ceil mode adds nothing */
    CHECK_OK(gs_maxpool2d(&g_test_cpu, x, 1, 1, 5, 5, 3, 2, 0, 1, y));
    CHECK_NEAR(y[0], 12, 0);
    CHECK_NEAR(y[3], 24, 0);
    /* padding never wins, even over negative values */
    float neg[9];
    for (int i = 0; i < 9; i++) neg[i] = -(float)(i + 1); /* -1..-9 */
    CHECK_OK(gs_maxpool2d(&g_test_cpu, neg, 1, 1, 3, 3, 3, 1, 1, 0, y));
    const float pad_want[9] = {-1, -1, -2, -1, -1, -2, -4, -4, -5};
    for (int i = 0; i < 9; i++) CHECK_NEAR(y[i], pad_want[i], 0);
    /* 2x2 stride 2 (VGG), two channels and two images: each plane separately */
    float x4[32], y4[8];
    for (int i = 0; i < 32; i++) x4[i] = (float)((i * 7) % 16);
    CHECK_OK(gs_maxpool2d(&g_test_cpu, x4, 2, 2, 2, 4, 2, 2, 0, 0, y4));
    for (int pl = 0; pl < 4; pl++)
        for (int j = 0; j < 2; j++) {
            const float *q = x4 + pl * 8;
            float m = fmaxf(fmaxf(q[2 * j], q[2 * j + 1]), fmaxf(q[4 + 2 * j], q[4 + 2 * j + 1]));
            CHECK_NEAR(y4[pl * 2 + j], m, 0);
        }
    /* NaN propagates as in torch */
    x[6] = NAN;
    CHECK_OK(gs_maxpool2d(&g_test_cpu, x, 1, 1, 5, 5, 3, 2, 0, 0, y));
    CHECK(isnan(y[0]));
    CHECK_NEAR(y[3], 24, 0);
    CHECK_ERR(gs_maxpool2d(&g_test_cpu, x, 1, 1, 2, 2, 3, 2, 0, 0, y), "too small");
    CHECK_ERR(gs_maxpool2d(&g_test_cpu, x, 1, 1, 5, 5, 3, 2, 2, 0, y), "padding 2");
}

TEST(ops_concat_bias_relu) {
    /* n=2, a has 1 channel, b has 2, hw=2 */
    const float a[4] = {1, 2, 3, 4}, b[8] = {10, 11, 12, 13, 20, 21, 22, 23};
    const float *srcs[2] = {a, b};
    const int chans[2] = {1, 2};
    float y[12];
    gs_concat_channels(&g_test_cpu, srcs, chans, 2, 2, 2, y);
    const float want[12] = {1, 2, 10, 11, 12, 13, 3, 4, 20, 21, 22, 23};
    for (int i = 0; i < 12; i++) CHECK_NEAR(y[i], want[i], 0);
    const float bias[3] = {-100, 0.5f, -12.5f};
    gs_bias_add(&g_test_cpu, y, 2, 3, 2, bias);
    CHECK_NEAR(y[0], -99, 0);
    CHECK_NEAR(y[3], 11.5, 0);
    CHECK_NEAR(y[11], 10.5, 0);
    CHECK_NEAR(y[10], 9.5, 0);
    gs_unary(&g_test_cpu, GS_UNARY_RELU, y, y, 12);
    CHECK_NEAR(y[0], 0, 0);
    CHECK_NEAR(y[6], 0, 0);
    CHECK_NEAR(y[4], 0, 0); /* 12 - 12.5 */
    CHECK_NEAR(y[5], 0.5, 0);
    CHECK_NEAR(y[3], 11.5, 0);
}
