/* test_splat.c - antimatter15 .splat: byte layout against known values,
 * round trips within the 8-bit quantisation, writer order, bad sizes. */
#include "tests/test.h"
#include "data/scene.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t g_rng = 12345;
static double urand(void) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(g_rng >> 11) / 9007199254740992.0;
}
static float urange(double a, double b) { return (float)(a + (b - a) * urand()); }

static gs_status read_path(const char *path, gs_scene *s, uint8_t **raw, size_t *n) {
    gs_status st = gs_read_file(path, (size_t)1 << 28, raw, n);
    if (st) return st;
    return gs_splat_read_mem(*raw, *n, path, s);
}

TEST(splat_read_known_bytes) {
    uint8_t b[64] = {0};
    float pos[3] = {1.5f, -2.0f, 1e-3f}, sc[3] = {0.25f, 2.0f, 1e-4f};
    memcpy(b, pos, 12);
    memcpy(b + 12, sc, 12);
    b[24] = 255; b[25] = 0; b[26] = 128; b[27] = 51;
    b[28] = 128 + 64; b[29] = 128; b[30] = 128 - 48; b[31] = 128; /* (0.5, 0, -0.375, 0) -> (0.8, 0, -0.6, 0) */
    /* second splat: all rotation bytes 128 = zero quaternion */
    memcpy(b + 44, sc, 12);
    memset(b + 60, 128, 4);
    gs_scene s;
    CHECK_OK(gs_splat_read_mem(b, 64, "k.splat", &s));
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.sh_degree, 0);
    if (s.n == 2) {
        CHECK_NEAR(s.means[0], 1.5, 0);
        CHECK_NEAR(s.means[2], 1e-3f, 0);
        CHECK_NEAR(s.scales[1], 2.0, 0); /* linear on disk and in memory */
        CHECK_NEAR(s.scales[2], 1e-4f, 0);
        CHECK_NEAR(s.sh[0], 0.5 / 0.28209479177387814, 1e-6);  /* 255: colour 1 */
        CHECK_NEAR(s.sh[1], -0.5 / 0.28209479177387814, 1e-6); /* 0: colour 0 */
        CHECK_NEAR(s.sh[2], (128 / 255.0 - 0.5) / 0.28209479177387814, 1e-6);
        CHECK_NEAR(s.opacities[0], 0.2, 1e-7);
        CHECK_NEAR(s.rotations[0], 0.8, 1e-7);
        CHECK_NEAR(s.rotations[1], 0, 0);
        CHECK_NEAR(s.rotations[2], -0.6, 1e-7);
        CHECK_NEAR(s.rotations[3], 0, 0);
        for (int c = 0; c < 4; c++) CHECK_NEAR(s.rotations[4 + c], 0, 0);
        CHECK_EQ_INT(gs_scene_count_invalid(&s), 1); /* the zero quaternion */
    }
    gs_scene_free(&s);
}

TEST(splat_writer_bytes_and_order) {
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 3, 2)); /* SH bands above DC are dropped */
    float sc[3][3] = {{0.1f, 0.1f, 0.1f}, {1, 1, 1}, {0.5f, 0.5f, 0.5f}};
    float op[3] = {1.0f, 0.5f, 0.0f}; /* keys 1e-3, 0.5, 0 -> file order 1, 0, 2 */
    for (int i = 0; i < 3; i++) {
        for (int c = 0; c < 3; c++) { s.means[3 * i + c] = (float)(10 * i + c); s.scales[3 * i + c] = sc[i][c]; }
        s.opacities[i] = op[i];
    }
    /* splat 1: dc for colours 0.21, 1.3 (clipped), -0.1 (clipped); rotation (1,1,1,1)/2 */
    s.sh[9 * 3 + 0] = (float)((0.21 - 0.5) / GS_SH_C0);
    s.sh[9 * 3 + 1] = (float)((1.3 - 0.5) / GS_SH_C0);
    s.sh[9 * 3 + 2] = (float)((-0.1 - 0.5) / GS_SH_C0);
    for (int c = 0; c < 4; c++) s.rotations[4 + c] = 0.5f;
    s.rotations[8] = -1; /* splat 2: w = -1 */
    const char *p = gs_test_tmp("w.splat");
    CHECK_OK(gs_splat_write(p, &s));
    uint8_t *d;
    size_t n;
    gs_scene r;
    CHECK_OK(read_path(p, &r, &d, &n));
    CHECK_EQ_INT(n, 96);
    if (n == 96) {
        float f[6];
        memcpy(f, d, 24);
        CHECK_NEAR(f[0], 10, 0); /* the biggest, most opaque splat first */
        CHECK_NEAR(f[3], 1, 0);
        memcpy(f, d + 32, 24);
        CHECK_NEAR(f[0], 0, 0);
        CHECK_NEAR(f[5], 0.1f, 0);
        memcpy(f, d + 64, 4);
        CHECK_NEAR(f[0], 20, 0);
        /* 0.21*255 = 53.55 truncated, clipped to 255 and 0, alpha 0.5*255 = 127.5 truncated */
        CHECK_EQ_INT(d[24], 53);
        CHECK_EQ_INT(d[25], 255);
        CHECK_EQ_INT(d[26], 0);
        CHECK_EQ_INT(d[27], 127);
        for (int c = 0; c < 4; c++) CHECK_EQ_INT(d[28 + c], 192); /* 0.5*128+128 */
        CHECK_EQ_INT(d[32 + 27], 255);
        CHECK_EQ_INT(d[32 + 28], 255); /* identity: 1*128+128 = 256 clipped */
        CHECK_EQ_INT(d[32 + 29], 128);
        CHECK_EQ_INT(d[64 + 27], 0);
        CHECK_EQ_INT(d[64 + 28], 0);   /* w = -1 */
        /* dc 0 -> colour 0.5 -> 127 */
        CHECK_EQ_INT(d[32 + 24], 127);
    }
    CHECK_EQ_INT(r.sh_degree, 0);
    CHECK_NEAR(r.rotations[4], 1, 0); /* identity: bytes (255,128,128,128) renormalise to exactly 1 */
    free(d);
    gs_scene_free(&r);
    gs_scene_free(&s);
}

TEST(splat_roundtrip_within_quantization) {
    const int64_t N = 400;
    gs_scene a, b;
    CHECK_OK(gs_scene_alloc(&a, N, 1));
    for (int64_t i = 0; i < N; i++) {
        for (int c = 0; c < 3; c++) {
            a.means[3 * i + c] = urange(-50, 50);
            a.scales[3 * i + c] = (float)exp(urange(-8, 2));
        }
        double q[4], nn = 0;
        for (int c = 0; c < 4; c++) { q[c] = urange(-1, 1); nn += q[c] * q[c]; }
        for (int c = 0; c < 4; c++) a.rotations[4 * i + c] = (float)(q[c] / sqrt(nn));
        a.opacities[i] = urange(0, 1);
        for (int c = 0; c < 12; c++) a.sh[12 * i + c] = urange(-1.7, 1.7); /* colour inside [0,1] */
    }
    const char *p = gs_test_tmp("rt.splat");
    CHECK_OK(gs_splat_write(p, &a));
    uint8_t *d;
    size_t n;
    CHECK_OK(read_path(p, &b, &d, &n));
    free(d);
    CHECK_EQ_INT(b.n, N);
    CHECK_EQ_INT(b.sh_degree, 0);
    int unmatched = 0, scale_bad = 0;
    double ec = 0, eo = 0, eq = 0, mindot = 1;
    for (int64_t j = 0; j < b.n; j++) {
        int64_t i = -1; /* the writer reorders: find the source splat by its exact position */
        for (int64_t t = 0; t < N && i < 0; t++)
            if (!memcmp(a.means + 3 * t, b.means + 3 * j, 12)) i = t;
        if (i < 0) { unmatched++; continue; }
        scale_bad += memcmp(a.scales + 3 * i, b.scales + 3 * j, 12) != 0;
        for (int c = 0; c < 3; c++) ec = fmax(ec, fabs(a.sh[12 * i + c] - b.sh[3 * j + c]));
        eo = fmax(eo, fabs(a.opacities[i] - b.opacities[j]));
        double dot = 0;
        for (int c = 0; c < 4; c++) {
            eq = fmax(eq, fabs(a.rotations[4 * i + c] - b.rotations[4 * j + c]));
            dot += a.rotations[4 * i + c] * b.rotations[4 * j + c];
        }
        mindot = fmin(mindot, dot);
    }
    CHECK_EQ_INT(unmatched, 0); /* positions exact */
    CHECK_EQ_INT(scale_bad, 0); /* scales are float32 too */
    /* truncation to 8 bits: colour error < 1/255, i.e. dc error < 1/(255 C0) = 0.0139 */
    CHECK_MSG(ec < 1 / (255 * 0.28209479177387814), "dc error %g", ec);
    CHECK_MSG(eo < 1 / 255.0, "opacity error %g", eo);
    /* each component loses < 1/128 to truncation, so |q'-q| < 2/128 and after
     * renormalising < 4/128; 1 - dot = |q'-q|^2/2 */
    CHECK_MSG(eq < 4 / 128.0, "rotation error %g", eq);
    CHECK_MSG(mindot > 1 - 0.5 * (4 / 128.0) * (4 / 128.0), "rotation dot %g", mindot);
    CHECK_EQ_INT(gs_scene_count_invalid(&b), 0);
    /* order: scale product x opacity never increases through the file */
    int order_bad = 0;
    for (int64_t j = 1; j < b.n; j++) {
        const float *s0 = b.scales + 3 * (j - 1), *s1 = b.scales + 3 * j;
        /* opacities were truncated to bytes; compare with the byte-level slack */
        double k0 = (double)s0[0] * s0[1] * s0[2] * (b.opacities[j - 1] + 1 / 255.0);
        double k1 = (double)s1[0] * s1[1] * s1[2] * b.opacities[j];
        order_bad += k1 > k0 * (1 + 1e-6);
    }
    CHECK_EQ_INT(order_bad, 0);
    gs_scene_free(&a);
    gs_scene_free(&b);
}

TEST(splat_bad_sizes) {
    uint8_t buf[97] = {0};
    gs_scene s;
    CHECK_ERR(gs_splat_read_mem(buf, 0, "e.splat", &s), "e.splat: empty");
    size_t bad[] = {1, 31, 33, 63, 65, 97};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[64];
        const char *w = want;
        snprintf(want, sizeof want, "t.splat: .splat size %zu is not a multiple of 32", bad[i]);
        CHECK_ERR(gs_splat_read_mem(buf, bad[i], "t.splat", &s), w);
        CHECK(s.n == 0 && s.means == NULL);
    }
    CHECK_OK(gs_splat_read_mem(buf, 96, "t.splat", &s));
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(gs_scene_count_invalid(&s), 3); /* zero scales, zero quaternions */
    gs_scene_free(&s);
    gs_scene z;
    CHECK_OK(gs_scene_alloc(&z, 0, 0));
    CHECK_ERR(gs_splat_write(gs_test_tmp("z.splat"), &z), "no Gaussians");
    CHECK(!gs_file_exists(gs_test_tmp("z.splat")));
    gs_scene_free(&z);
}

TEST(splat_nonfinite_left_out) {
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 3, 0));
    for (int c = 0; c < 9; c++) s.scales[c] = 1;
    s.opacities[0] = s.opacities[1] = s.opacities[2] = 1;
    s.rotations[0] = NAN;  /* splat 0: NaN quaternion */
    s.means[4] = INFINITY; /* splat 1: infinite position */
    s.means[6] = 2.5f;     /* splat 2: the valid one */
    const char *p = gs_test_tmp("nan.splat");
    CHECK_OK(gs_splat_write(p, &s));
    uint8_t *d;
    size_t n;
    gs_scene r;
    CHECK_OK(read_path(p, &r, &d, &n));
    CHECK_EQ_INT(r.n, 1);
    CHECK_EQ_INT(gs_scene_count_invalid(&r), 0);
    if (r.n == 1) CHECK_NEAR(r.means[0], 2.5, 0);
    free(d);
    gs_scene_free(&r);
    /* nothing valid: an error and no file */
    s.means[6] = NAN;
    const char *q = gs_test_tmp("nan2.splat");
    CHECK_ERR(gs_splat_write(q, &s), "all 3 Gaussians are invalid");
    CHECK(!gs_file_exists(q));
    gs_scene_free(&s);
}
