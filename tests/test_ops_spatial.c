/* test_ops_spatial.c - the DPT heads' resampling ops (gs/ops/cpu_spatial.c):
 * ConvTranspose2d with kernel == stride and align_corners bilinear resizing,
 * against hand-computed values and direct double-precision evaluations of
 * their torch definitions (batches, channels, odd sizes, 1-pixel axes). */
#include "tests/test.h"
#include "tests/test_ops_calls.h"
#include "gs/ops/ops.h"

#include <stdlib.h>

static float srand_f(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* torch.nn.ConvTranspose2d(stride=k, padding=0) by its scatter definition:
 * every input pixel adds x * W[c][o] into the k x k block it owns. */
static void convt_ref(const float *x, int n, int cin, int h, int w, const float *wt, const float *b, int cout, int k,
                      float *y) {
    const int ho = h * k, wo = w * k;
    double *acc = calloc((size_t)n * cout * ho * wo, sizeof *acc);
    for (int bi = 0; bi < n; bi++)
        for (int c = 0; c < cin; c++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    for (int o = 0; o < cout; o++)
                        for (int u = 0; u < k; u++)
                            for (int v = 0; v < k; v++)
                                acc[(((size_t)bi * cout + o) * ho + i * k + u) * wo + j * k + v] +=
                                    (double)x[(((size_t)bi * cin + c) * h + i) * w + j] *
                                    wt[((c * cout + o) * k + u) * k + v];
    for (int bi = 0; bi < n; bi++)
        for (int o = 0; o < cout; o++)
            for (size_t p = 0; p < (size_t)ho * wo; p++) {
                size_t q = ((size_t)bi * cout + o) * ho * wo + p;
                y[q] = (float)(acc[q] + (b ? b[o] : 0.0));
            }
    free(acc);
}

/* align_corners=True bilinear, blended in double; the source coordinate
 * src = dst * (in-1)/(out-1) is formed in float as torch does (scale
 * rounded to float, then one float product): a double coordinate differs
 * by up to ~1e-6 px on 100-pixel axes. */
static void bilinear_ref(const float *x, int planes, int h, int w, float *y, int ho, int wo) {
    for (int pc = 0; pc < planes; pc++)
        for (int i = 0; i < ho; i++)
            for (int j = 0; j < wo; j++) {
                double sy = ho > 1 ? (double)((float)(h - 1) / (float)(ho - 1) * (float)i) : 0.0;
                double sx = wo > 1 ? (double)((float)(w - 1) / (float)(wo - 1) * (float)j) : 0.0;
                int y0 = (int)sy, x0 = (int)sx;
                if (y0 > h - 1) y0 = h - 1;
                if (x0 > w - 1) x0 = w - 1;
                int y1 = y0 < h - 1 ? y0 + 1 : y0, x1 = x0 < w - 1 ? x0 + 1 : x0;
                double ly = sy - y0, lx = sx - x0;
                const float *s = x + (size_t)pc * h * w;
                double v = (1 - ly) * ((1 - lx) * s[y0 * w + x0] + lx * s[y0 * w + x1]) +
                           ly * ((1 - lx) * s[y1 * w + x0] + lx * s[y1 * w + x1]);
                y[((size_t)pc * ho + i) * wo + j] = (float)v;
            }
}

TEST(ops_spatial_convt_hand_computed) {
    /* one pixel of value 2, kernel [[1,2],[3,4]], bias 0.5 */
    const float x[1] = {2.0f}, wt[4] = {1, 2, 3, 4}, b[1] = {0.5f};
    float y[4];
    CHECK_OK(t_conv_transpose2d(x, 1, 1, 1, 1, wt, b, 1, 2, y));
    CHECK_NEAR(y[0], 2.5, 1e-6);
    CHECK_NEAR(y[1], 4.5, 1e-6);
    CHECK_NEAR(y[2], 6.5, 1e-6);
    CHECK_NEAR(y[3], 8.5, 1e-6);
    /* two input channels, two output channels, 1x2 input, k = 1 would be a
     * 1x1 conv: y[o] = sum_c W[c][o] x[c]; weight layout is [cin, cout] */
    const float x2[4] = {1, 2, /* c1 */ 3, 4};
    const float w2[4] = {1, 10, /* c1 -> o0, o1 */ 100, 1000};
    float y2[4];
    CHECK_OK(t_conv_transpose2d(x2, 1, 2, 1, 2, w2, NULL, 2, 1, y2));
    CHECK_NEAR(y2[0], 1 * 1 + 3 * 100, 1e-4);
    CHECK_NEAR(y2[1], 2 * 1 + 4 * 100, 1e-4);
    CHECK_NEAR(y2[2], 1 * 10 + 3 * 1000, 1e-3);
    CHECK_NEAR(y2[3], 2 * 10 + 4 * 1000, 1e-3);
}

TEST(ops_spatial_convt_matches_definition) {
    const struct { int n, cin, cout, h, w, k, bias; } cases[] = {
        {2, 5, 3, 3, 4, 4, 1}, {1, 7, 7, 5, 2, 2, 1}, {3, 2, 4, 1, 1, 4, 0}, {1, 33, 17, 9, 7, 2, 1},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int n = cases[ci].n, cin = cases[ci].cin, cout = cases[ci].cout, h = cases[ci].h, w = cases[ci].w,
                  k = cases[ci].k;
        size_t nx = (size_t)n * cin * h * w, nw = (size_t)cin * cout * k * k, ny = (size_t)n * cout * h * k * w * k;
        float *x = malloc(nx * 4), *wt = malloc(nw * 4), *b = malloc((size_t)cout * 4), *y = malloc(ny * 4),
              *r = malloc(ny * 4);
        unsigned s = 7u + (unsigned)ci;
        for (size_t i = 0; i < nx; i++) x[i] = srand_f(&s);
        for (size_t i = 0; i < nw; i++) wt[i] = srand_f(&s);
        for (int i = 0; i < cout; i++) b[i] = srand_f(&s);
        const float *bp = cases[ci].bias ? b : NULL;
        CHECK_OK(t_conv_transpose2d(x, n, cin, h, w, wt, bp, cout, k, y));
        convt_ref(x, n, cin, h, w, wt, bp, cout, k, r);
        double md = 0;
        for (size_t i = 0; i < ny; i++) md = fmax(md, fabs((double)y[i] - r[i]));
        CHECK_MSG(md < 2e-5, "case %zu: max diff %g", ci, md);
        free(x), free(wt), free(b), free(y), free(r);
    }
}

TEST(ops_spatial_convt_rejects_bad_arguments) {
    float x[4] = {0}, wt[4] = {0}, y[16];
    CHECK_ERR(t_conv_transpose2d(x, 1, 1, 2, 2, wt, NULL, 1, 0, y), "conv_transpose2d");
    CHECK_ERR(t_conv_transpose2d(x, 0, 1, 2, 2, wt, NULL, 1, 2, y), "bad arguments");
    CHECK_ERR(t_conv_transpose2d(NULL, 1, 1, 2, 2, wt, NULL, 1, 2, y), "bad arguments");
    CHECK_ERR(t_conv_transpose2d(x, 1, 1, 1 << 20, 1 << 20, wt, NULL, 1, 2, y), "too large");
}

TEST(ops_spatial_bilinear_hand_computed) {
    /* 2x2 -> 3x3 with align_corners: corners kept, midpoints averaged */
    const float x[4] = {0, 1, 2, 3};
    float y[9];
    gs_resize_bilinear_ac(&g_test_cpu, x, 1, 1, 2, 2, y, 3, 3);
    const float want[9] = {0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3};
    for (int i = 0; i < 9; i++) CHECK_NEAR(y[i], want[i], 1e-6);
    /* 1x3 -> 1x5: src = j * 2/4 */
    const float l[3] = {0, 10, 40};
    float o[5];
    gs_resize_bilinear_ac(&g_test_cpu, l, 1, 1, 1, 3, o, 1, 5);
    const float lw[5] = {0, 5, 10, 25, 40};
    for (int i = 0; i < 5; i++) CHECK_NEAR(o[i], lw[i], 1e-5);
    /* to a single pixel: align_corners takes the top-left sample */
    float one;
    gs_resize_bilinear_ac(&g_test_cpu, x, 1, 1, 2, 2, &one, 1, 1);
    CHECK_NEAR(one, 0.0, 0);
    /* from a single pixel: constant */
    const float c = 3.25f;
    float cc[6];
    gs_resize_bilinear_ac(&g_test_cpu, &c, 1, 1, 1, 1, cc, 2, 3);
    for (int i = 0; i < 6; i++) CHECK_NEAR(cc[i], 3.25, 0);
    /* the x2 of refinenet1 on a 2-row map: rows 0, 1/3, 2/3, 1 */
    const float r2[2] = {0, 3};
    float r4[4];
    gs_resize_bilinear_ac(&g_test_cpu, r2, 1, 1, 2, 1, r4, 4, 1);
    for (int i = 0; i < 4; i++) CHECK_NEAR(r4[i], i, 1e-6);
}

TEST(ops_spatial_bilinear_matches_definition) {
    const struct { int n, c, h, w, ho, wo; } cases[] = {
        {2, 3, 5, 6, 10, 12}, {1, 4, 9, 12, 126, 168}, {1, 2, 7, 5, 3, 2}, {3, 1, 1, 6, 4, 11}, {1, 5, 18, 24, 36, 48},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const int planes = cases[ci].n * cases[ci].c, h = cases[ci].h, w = cases[ci].w, ho = cases[ci].ho,
                  wo = cases[ci].wo;
        float *x = malloc((size_t)planes * h * w * 4), *y = malloc((size_t)planes * ho * wo * 4),
              *r = malloc((size_t)planes * ho * wo * 4);
        unsigned s = 99u + (unsigned)ci;
        for (size_t i = 0; i < (size_t)planes * h * w; i++) x[i] = srand_f(&s) * 4.0f;
        gs_resize_bilinear_ac(&g_test_cpu, x, cases[ci].n, cases[ci].c, h, w, y, ho, wo);
        bilinear_ref(x, planes, h, w, r, ho, wo);
        double md = 0;
        for (size_t i = 0; i < (size_t)planes * ho * wo; i++) md = fmax(md, fabs((double)y[i] - r[i]));
        CHECK_MSG(md < 2e-6, "case %zu: max diff %g", ci, md);
        free(x), free(y), free(r);
    }
}
