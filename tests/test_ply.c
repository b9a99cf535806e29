/* test_ply.c - INRIA and PlayCanvas compressed PLY: round trips, name-based
 * property lookup, SH channel-major mapping, the real guitar.compressed.ply
 * decoded independently, and malformed input. */
#include "tests/test.h"
#include "data/scene.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------------ */

typedef struct { uint8_t *p; size_t n, cap; } buf_t;

static void b_put(buf_t *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 256;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_fmt(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void b_fmt(buf_t *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    b_put(b, tmp, (size_t)n);
}
static void b_f32(buf_t *b, float v) { b_put(b, &v, 4); }
static void b_f64(buf_t *b, double v) { b_put(b, &v, 8); }
static void b_u8(buf_t *b, uint8_t v) { b_put(b, &v, 1); }
static void b_i16(buf_t *b, int16_t v) { b_put(b, &v, 2); }
static void b_i32(buf_t *b, int32_t v) { b_put(b, &v, 4); }
static void b_u32(buf_t *b, uint32_t v) { b_put(b, &v, 4); }

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double urand(void) { /* [0,1), deterministic */
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(g_rng >> 11) / 9007199254740992.0;
}
static float urange(double a, double b) { return (float)(a + (b - a) * urand()); }

static void random_scene(gs_scene *s, int64_t n, int deg) {
    CHECK_OK(gs_scene_alloc(s, n, deg));
    int k = gs_sh_coeffs(deg);
    for (int64_t i = 0; i < n; i++) {
        for (int c = 0; c < 3; c++) {
            s->means[3 * i + c] = urange(-5, 5);
            s->scales[3 * i + c] = (float)exp(urange(-6, 1));
        }
        double q[4], nn = 0;
        for (int c = 0; c < 4; c++) { q[c] = urange(-1, 1); nn += q[c] * q[c]; }
        for (int c = 0; c < 4; c++) s->rotations[4 * i + c] = (float)(q[c] / sqrt(nn));
        s->opacities[i] = urange(0.01, 0.99);
        for (int j = 0; j < k * 3; j++) s->sh[(size_t)i * k * 3 + j] = urange(-1, 1);
    }
}

static gs_status read_path(const char *path, gs_scene *s) {
    uint8_t *d;
    size_t n;
    gs_status st = gs_read_file(path, (size_t)1 << 30, &d, &n);
    if (st) return st;
    st = gs_ply_read_mem(d, n, path, s);
    free(d);
    return st;
}

static gs_status read_buf(const buf_t *b, gs_scene *s) { return gs_ply_read_mem(b->p, b->n, "hand.ply", s); }

/* An error with the expected status whose message names the file and the problem. */
#define CHECK_FAILS(expr, code, needle)                                                         \
    do {                                                                                        \
        gs_clear_error();                                                                       \
        gs_status st_ = (expr);                                                                 \
        CHECK_MSG(st_ == (code), "%s: status %d, expected %d (%s)", #expr, st_, code, gs_last_error()); \
        CHECK_MSG(strstr(gs_last_error(), needle) != NULL, "%s: \"%s\" lacks \"%s\"", #expr,     \
                  gs_last_error(), needle);                                                     \
        CHECK_MSG(strstr(gs_last_error(), "hand.ply") != NULL, "%s: \"%s\" does not name the file", \
                  #expr, gs_last_error());                                                      \
    } while (0)

static const char *HDR0 = "ply\nformat binary_little_endian 1.0\n";

/* ---- INRIA: writer + reader ------------------------------------------------------- */

TEST(ply_roundtrip_degrees_0_to_3) {
    for (int deg = 0; deg <= 3; deg++) {
        gs_scene a, b;
        random_scene(&a, 300, deg);
        a.antialiased = deg & 1;
        const char *p = gs_test_tmp("rt.ply");
        CHECK_OK(gs_ply_write(p, &a));
        CHECK_OK(read_path(p, &b));
        CHECK_EQ_INT(b.n, 300);
        CHECK_EQ_INT(b.sh_degree, deg);
        CHECK_EQ_INT(b.antialiased, deg & 1);
        int k = gs_sh_coeffs(deg);
        int bad_exact = 0;
        double es = 0, eo = 0, er = 0;
        for (int64_t i = 0; i < a.n && b.n == a.n; i++) {
            for (int c = 0; c < 3; c++) {
                bad_exact += a.means[3 * i + c] != b.means[3 * i + c];
                es = fmax(es, fabs(b.scales[3 * i + c] / a.scales[3 * i + c] - 1));
            }
            for (int j = 0; j < 3 * k; j++) bad_exact += a.sh[i * 3 * k + j] != b.sh[i * 3 * k + j];
            eo = fmax(eo, fabs(a.opacities[i] - b.opacities[i]));
            for (int c = 0; c < 4; c++) er = fmax(er, fabs(a.rotations[4 * i + c] - b.rotations[4 * i + c]));
        }
        CHECK_EQ_INT(bad_exact, 0); /* positions and SH are stored as float: bit exact */
        /* log(s), |log s| <= 6, rounded to float: abs error <= 6*2^-24 = 3.6e-7, which exp
         * turns into that relative error, plus one float rounding (6e-8) */
        CHECK_MSG(es < 1e-6, "deg %d: scale relative error %g", deg, es);
        /* logit(o) for o in [0.01,0.99] has |logit| <= 4.6: float error <= 2.7e-7, times
         * sigmoid' <= 0.25, plus float rounding of o (6e-8) */
        CHECK_MSG(eo < 3e-7, "deg %d: opacity error %g", deg, eo);
        /* unit quaternions re-normalised: a few ulp */
        CHECK_MSG(er < 3e-7, "deg %d: rotation error %g", deg, er);
        CHECK_EQ_INT(gs_scene_count_invalid(&b), 0);
        /* file size = header + n * (17 + 3(K-1)) floats */
        uint8_t *d;
        size_t n;
        CHECK_OK(gs_read_file(p, 1 << 24, &d, &n));
        const char *eh = strstr((const char *)d, "end_header\n");
        CHECK(eh != NULL);
        if (eh) CHECK_EQ_INT(n - (size_t)(eh + 11 - (const char *)d), 300 * 4 * (17 + 3 * (k - 1)));
        free(d);
        gs_scene_free(&a);
        gs_scene_free(&b);
    }
}

TEST(ply_writer_layout_is_inria) {
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 2, 1));
    s.antialiased = 1;
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < 3; c++) s.sh[k * 3 + c] = (float)(10 * k + c); /* splat 0 */
    s.means[0] = 1.5f;
    s.scales[0] = 2.0f; s.scales[1] = 1.0f; s.scales[2] = 0.5f;
    s.opacities[0] = 0.0f; /* clamped to 1e-6 before the logit */
    s.opacities[1] = 1.0f;
    s.scales[3] = s.scales[4] = s.scales[5] = 1.0f;
    const char *p = gs_test_tmp("layout.ply");
    CHECK_OK(gs_ply_write(p, &s));
    uint8_t *d;
    size_t n;
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &n));
    const char *want =
        "ply\nformat binary_little_endian 1.0\ncomment antialiased 1\nelement vertex 2\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property float nx\nproperty float ny\nproperty float nz\n"
        "property float f_dc_0\nproperty float f_dc_1\nproperty float f_dc_2\n"
        "property float f_rest_0\nproperty float f_rest_1\nproperty float f_rest_2\n"
        "property float f_rest_3\nproperty float f_rest_4\nproperty float f_rest_5\n"
        "property float f_rest_6\nproperty float f_rest_7\nproperty float f_rest_8\n"
        "property float opacity\nproperty float scale_0\nproperty float scale_1\nproperty float scale_2\n"
        "property float rot_0\nproperty float rot_1\nproperty float rot_2\nproperty float rot_3\n"
        "end_header\n";
    size_t hl = strlen(want);
    CHECK(n == hl + 2 * 26 * 4);
    CHECK(n >= hl && memcmp(d, want, hl) == 0);
    if (n == hl + 2 * 26 * 4) {
        float r[26];
        memcpy(r, d + hl, sizeof r);
        CHECK_NEAR(r[0], 1.5, 0);
        CHECK_NEAR(r[3], 0, 0); /* nx */
        CHECK_NEAR(r[6], 0, 0); /* f_dc_0 = sh[0][R] */
        CHECK_NEAR(r[8], 2, 0); /* f_dc_2 */
        /* channel-major: f_rest_{c*3 + k-1} = sh[k][c] = 10k + c */
        CHECK_NEAR(r[9 + 0], 10, 0);  /* R, k=1 */
        CHECK_NEAR(r[9 + 2], 30, 0);  /* R, k=3 */
        CHECK_NEAR(r[9 + 3], 11, 0);  /* G, k=1 */
        CHECK_NEAR(r[9 + 7], 22, 0);  /* B, k=2 */
        CHECK_NEAR(r[9 + 8], 32, 0);  /* B, k=3 */
        CHECK_NEAR(r[18], log(1e-6 / (1 - 1e-6)), 1e-4); /* finite logit of a clamped 0 */
        CHECK_NEAR(r[19], log(2.0), 1e-7);
        CHECK_NEAR(r[20], 0, 0);
        CHECK_NEAR(r[21], log(0.5), 1e-7);
        CHECK_NEAR(r[22], 1, 0); /* rot_0 = w of the identity */
        CHECK_NEAR(r[23] + r[24] + r[25], 0, 0);
        float o1;
        memcpy(&o1, d + hl + 26 * 4 + 18 * 4, 4);
        CHECK(isfinite(o1) && o1 > 13 && o1 < 14);
    }
    free(d);
    gs_scene b;
    CHECK_OK(read_path(p, &b));
    /* clamped to [1e-6, 1-1e-6] on write; float(1-1e-6) is 1 - 1.013e-6 */
    CHECK_NEAR(b.opacities[0], 0, 1.1e-6);
    CHECK_NEAR(b.opacities[1], 1, 1.1e-6);
    gs_scene_free(&b);
    gs_scene_free(&s);
}

TEST(ply_properties_by_name_any_order_and_type) {
    /* gsplat/Brush-style: no normals, shuffled order, doubles, integer types, extras */
    static const struct { const char *type, *name; } props[] = {
        {"double", "rot_2"},   {"float", "f_rest_5"}, {"uchar", "red"},      {"float", "f_dc_1"},
        {"double", "x"},       {"float", "f_rest_0"}, {"float", "f_rest_8"}, {"short", "scale_2"},
        {"float", "opacity"},  {"float", "f_rest_1"}, {"float", "f_rest_2"}, {"float", "f_rest_3"},
        {"float64", "y"},      {"float", "f_rest_4"}, {"float", "f_dc_0"},   {"float", "f_rest_6"},
        {"float", "f_rest_7"}, {"int", "extra_id"},   {"float32", "z"},      {"float", "f_dc_2"},
        {"double", "scale_0"}, {"char", "scale_1"},   {"float", "rot_0"},    {"float", "rot_1"},
        {"float", "rot_3"},    {"float", "nx"},
    };
    enum { NP = sizeof props / sizeof props[0] };
    buf_t b = {0};
    b_fmt(&b, "%scomment hand made\ncomment SplatRenderMode: mip\nelement vertex 2\n", HDR0);
    for (int i = 0; i < NP; i++) b_fmt(&b, "property %s %s\n", props[i].type, props[i].name);
    b_fmt(&b, "end_header\n");
    for (int v = 0; v < 2; v++) {
        for (int i = 0; i < NP; i++) {
            const char *nm = props[i].name, *ty = props[i].type;
            double val;
            if (!strncmp(nm, "f_rest_", 7)) val = 0.5 * atoi(nm + 7) - 2 + v;
            else if (!strcmp(nm, "x")) val = 1.5 + v;
            else if (!strcmp(nm, "y")) val = 0.1; /* a double that float can't hold */
            else if (!strcmp(nm, "z")) val = -7.25;
            else if (!strncmp(nm, "f_dc_", 5)) val = 0.25 * (atoi(nm + 5) + 1) - v;
            else if (!strcmp(nm, "opacity")) val = v ? 2.0 : 0.0;
            else if (!strcmp(nm, "scale_0")) val = v ? -1.0 : 0.0;
            else if (!strcmp(nm, "scale_1")) val = -2;
            else if (!strcmp(nm, "scale_2")) val = 1;
            else if (!strcmp(nm, "rot_0")) val = v ? 0 : 2;
            else if (!strcmp(nm, "rot_1")) val = v ? 3 : 0;
            else if (!strcmp(nm, "rot_3")) val = v ? 4 : 0;
            else if (!strcmp(nm, "red")) val = 200;
            else if (!strcmp(nm, "extra_id")) val = -12345;
            else val = 0; /* rot_2, nx */
            if (!strcmp(ty, "double") || !strcmp(ty, "float64")) b_f64(&b, val);
            else if (!strcmp(ty, "uchar")) b_u8(&b, (uint8_t)val);
            else if (!strcmp(ty, "short")) b_i16(&b, (int16_t)val);
            else if (!strcmp(ty, "char")) b_u8(&b, (uint8_t)(int8_t)val);
            else if (!strcmp(ty, "int")) b_i32(&b, (int32_t)val);
            else b_f32(&b, (float)val);
        }
    }
    gs_scene s;
    CHECK_OK(read_buf(&b, &s));
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(s.sh_degree, 1);
    CHECK_EQ_INT(s.antialiased, 1);
    if (s.n == 2) {
        CHECK_NEAR(s.means[0], 1.5, 0);
        CHECK_NEAR(s.means[1], (float)0.1, 0);
        CHECK_NEAR(s.means[2], -7.25, 0);
        CHECK_NEAR(s.means[3], 2.5, 0);
        CHECK_NEAR(s.sh[0], 0.25, 0);
        CHECK_NEAR(s.sh[2], 0.75, 0);
        CHECK_NEAR(s.sh[12 + 1], 0.5 - 1, 0); /* splat 1, f_dc_1 */
        /* sh[k][c] = f_rest_{c*3 + k-1} = 0.5*(3c + k-1) - 2 (+1 for splat 1) */
        CHECK_NEAR(s.sh[1 * 3 + 0], -2.0, 0);
        CHECK_NEAR(s.sh[2 * 3 + 0], -1.5, 0);
        CHECK_NEAR(s.sh[1 * 3 + 1], -0.5, 0);
        CHECK_NEAR(s.sh[3 * 3 + 2], 2.0, 0);
        CHECK_NEAR(s.sh[12 + 3 * 3 + 2], 3.0, 0);
        CHECK_NEAR(s.opacities[0], 0.5, 0);
        CHECK_NEAR(s.opacities[1], 1 / (1 + exp(-2.0)), 1e-7);
        CHECK_NEAR(s.scales[0], 1.0, 0);
        CHECK_NEAR(s.scales[1], exp(-2.0), 1e-7);
        CHECK_NEAR(s.scales[2], exp(1.0), 3e-7);
        CHECK_NEAR(s.scales[3], exp(-1.0), 1e-7);
        CHECK_NEAR(s.rotations[0], 1, 0);
        CHECK_NEAR(s.rotations[1] + s.rotations[2] + s.rotations[3], 0, 0);
        CHECK_NEAR(s.rotations[4], 0, 0);
        CHECK_NEAR(s.rotations[5], 0.6, 1e-7);
        CHECK_NEAR(s.rotations[6], 0, 0);
        CHECK_NEAR(s.rotations[7], 0.8, 1e-7);
    }
    CHECK_EQ_INT(gs_scene_count_invalid(&s), 0);
    gs_scene_free(&s);
    free(b.p);
}

/* A PLY with every INRIA property as float; f_rest_j = 100 + j; the scale
 * properties listed in `scales` (2DGS files lack scale_2). */
static void build_plain(buf_t *b, int nrest, int with_normals, int nscales, int n) {
    b_fmt(b, "%selement vertex %d\nproperty float x\nproperty float y\nproperty float z\n", HDR0, n);
    if (with_normals) b_fmt(b, "property float nx\nproperty float ny\nproperty float nz\n");
    b_fmt(b, "property float f_dc_0\nproperty float f_dc_1\nproperty float f_dc_2\n");
    for (int j = 0; j < nrest; j++) b_fmt(b, "property float f_rest_%d\n", j);
    b_fmt(b, "property float opacity\n");
    for (int j = 0; j < nscales; j++) b_fmt(b, "property float scale_%d\n", j);
    b_fmt(b, "property float rot_0\nproperty float rot_1\nproperty float rot_2\nproperty float rot_3\nend_header\n");
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < 3; c++) b_f32(b, (float)(i + c));
        if (with_normals) for (int c = 0; c < 3; c++) b_f32(b, 0);
        for (int c = 0; c < 3; c++) b_f32(b, 0.1f * (float)c);
        for (int j = 0; j < nrest; j++) b_f32(b, (float)(100 + j));
        b_f32(b, 1.0f);
        for (int j = 0; j < nscales; j++) b_f32(b, (float)(-1 - j));
        b_f32(b, 1); b_f32(b, 0); b_f32(b, 0); b_f32(b, 0);
    }
}

TEST(ply_frest_channel_major_mapping) {
    buf_t b = {0};
    build_plain(&b, 24, 1, 3, 2); /* degree 2: K-1 = 8 per channel */
    gs_scene s;
    CHECK_OK(read_buf(&b, &s));
    CHECK_EQ_INT(s.sh_degree, 2);
    if (s.n == 2) {
        const float *sh = s.sh + 9 * 3; /* splat 1 */
        CHECK_NEAR(sh[1 * 3 + 0], 100, 0); /* f_rest_0: R, k=1 */
        CHECK_NEAR(sh[1 * 3 + 1], 108, 0); /* f_rest_8: G, k=1 */
        CHECK_NEAR(sh[1 * 3 + 2], 116, 0); /* f_rest_16: B, k=1 */
        CHECK_NEAR(sh[2 * 3 + 0], 101, 0); /* f_rest_1: R, k=2 */
        CHECK_NEAR(sh[3 * 3 + 1], 110, 0); /* f_rest_10: G, k=3 */
        CHECK_NEAR(sh[8 * 3 + 2], 123, 0); /* f_rest_23: B, k=8 */
        int bad = 0;
        for (int k = 1; k < 9; k++)
            for (int c = 0; c < 3; c++) bad += sh[k * 3 + c] != 100 + c * 8 + (k - 1);
        CHECK_EQ_INT(bad, 0);
        CHECK_NEAR(sh[1], 0.1f, 0);
        CHECK_NEAR(s.means[3], 1, 0);
        CHECK_NEAR(s.scales[3 + 2], exp(-3.0), 1e-8);
        CHECK_NEAR(s.opacities[1], 1 / (1 + exp(-1.0)), 1e-7);
    }
    gs_scene_free(&s);
    free(b.p);
}

TEST(ply_degree4_keeps_three_bands) {
    buf_t b = {0};
    build_plain(&b, 72, 1, 3, 1); /* degree 4: K-1 = 24 per channel on disk */
    gs_scene s;
    CHECK_OK(read_buf(&b, &s));
    CHECK_EQ_INT(s.sh_degree, 3);
    if (s.n == 1) {
        CHECK_NEAR(s.sh[1 * 3 + 1], 124, 0);  /* G, k=1 = f_rest_24 */
        CHECK_NEAR(s.sh[15 * 3 + 0], 114, 0); /* R, k=15 = f_rest_14 */
        CHECK_NEAR(s.sh[15 * 3 + 2], 162, 0); /* B, k=15 = f_rest_62 */
    }
    gs_scene_free(&s);
    free(b.p);
}

TEST(ply_dc_only_and_2dgs) {
    buf_t b = {0};
    build_plain(&b, 0, 0, 3, 3); /* DA3/gsplat: DC only, no normals */
    gs_scene s;
    CHECK_OK(read_buf(&b, &s));
    CHECK_EQ_INT(s.n, 3);
    CHECK_EQ_INT(s.sh_degree, 0);
    CHECK_NEAR(s.sh[3 * 2 + 2], 0.2f, 0);
    CHECK_NEAR(s.means[3 * 2 + 2], 4, 0);
    CHECK_EQ_INT(gs_scene_count_invalid(&s), 0);
    gs_scene_free(&s);
    free(b.p);
    /* 2DGS: no scale_2; the flat axis becomes 1e-3 of the smaller of the others */
    b = (buf_t){0};
    build_plain(&b, 9, 1, 2, 2);
    CHECK_OK(read_buf(&b, &s));
    CHECK_EQ_INT(s.sh_degree, 1);
    CHECK_NEAR(s.scales[0], exp(-1.0), 1e-7);
    CHECK_NEAR(s.scales[1], exp(-2.0), 1e-8);
    CHECK_NEAR(s.scales[2], 1e-3 * exp(-2.0), 1e-11);
    CHECK_EQ_INT(gs_scene_count_invalid(&s), 0);
    gs_scene_free(&s);
    free(b.p);
}

TEST(ply_nan_inf_kept_and_counted_invalid) {
    buf_t b = {0};
    build_plain(&b, 0, 1, 3, 4);
    size_t data = b.n - 4 * 17 * 4;
    float nan = NAN, inf = INFINITY, zero = 0;
    memcpy(b.p + data + 0 * 68 + 4, &nan, 4);        /* splat 0: y = NaN */
    memcpy(b.p + data + 1 * 68 + 10 * 4, &inf, 4);   /* splat 1: scale_0 = +inf (log) */
    for (int c = 0; c < 4; c++) memcpy(b.p + data + 2 * 68 + (13 + c) * 4, &zero, 4); /* splat 2: q = 0 */
    gs_scene s;
    CHECK_OK(read_buf(&b, &s));
    CHECK_EQ_INT(s.n, 4);
    if (s.n == 4) {
        CHECK(isnan(s.means[1]));
        CHECK(isinf(s.scales[3]));
        CHECK(s.rotations[8] == 0 && s.rotations[9] == 0 && s.rotations[10] == 0 && s.rotations[11] == 0);
        CHECK_EQ_INT(gs_scene_count_invalid(&s), 3);
    }
    gs_scene_free(&s);
    free(b.p);
}

/* ---- malformed input ---------------------------------------------------------------- */

static gs_status read_str(const char *text, gs_scene *s) {
    return gs_ply_read_mem((const uint8_t *)text, strlen(text), "hand.ply", s);
}

TEST(ply_bad_headers) {
    gs_scene s;
    CHECK_FAILS(gs_ply_read_mem((const uint8_t *)"", 0, "hand.ply", &s), GS_ERR_FORMAT, "bad magic");
    CHECK(s.n == 0 && s.means == NULL); /* left empty */
    CHECK_FAILS(read_str("plx\nformat binary_little_endian 1.0\n", &s), GS_ERR_FORMAT, "bad magic");
    CHECK_FAILS(read_str("ply extra\nformat binary_little_endian 1.0\n", &s), GS_ERR_FORMAT, "bad magic");
    CHECK_FAILS(read_str("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n", &s),
                GS_ERR_UNSUPPORTED, "'ascii' is not supported");
    CHECK_FAILS(read_str("ply\nformat binary_big_endian 1.0\nelement vertex 0\nproperty float x\nend_header\n", &s),
                GS_ERR_UNSUPPORTED, "binary_big_endian");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 2.0\nend_header\n", &s), GS_ERR_UNSUPPORTED, "version");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\n", &s),
                GS_ERR_FORMAT, "no end_header");
    CHECK_FAILS(read_str("ply\nelement vertex 0\nproperty float x\nend_header\n", &s), GS_ERR_FORMAT,
                "no format line");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nend_header\n", &s), GS_ERR_FORMAT, "no elements");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nproperty float x\nend_header\n", &s), GS_ERR_FORMAT,
                "before any element");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nelement vertex -5\nend_header\n", &s),
                GS_ERR_FORMAT, "bad count '-5'");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty half x\nend_header\n", &s),
                GS_ERR_FORMAT, "unknown PLY property type 'half'");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nelement vertex 0\nproperty float x\n"
                         "element face 0\nproperty list uchar int vertex_indices\nend_header\n", &s),
                GS_ERR_UNSUPPORTED, "list property 'vertex_indices'");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nelement vertex 0\nproperty float x\n"
                         "property double x\nend_header\n", &s),
                GS_ERR_FORMAT, "'x' declared twice");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nelement vertex 0\nbogus 1\nend_header\n", &s),
                GS_ERR_FORMAT, "unknown PLY header keyword 'bogus'");
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nelement face 0\nproperty float x\nend_header\n", &s),
                GS_ERR_FORMAT, "no 'vertex' element");
    /* header longer than 64 KiB */
    buf_t b = {0};
    b_fmt(&b, "%s", HDR0);
    for (int i = 0; i < 3000; i++) b_fmt(&b, "comment padding padding padding\n");
    b_fmt(&b, "element vertex 0\nproperty float x\nend_header\n");
    CHECK_FAILS(read_buf(&b, &s), GS_ERR_FORMAT, "no end_header within 65536");
    free(b.p);
}

TEST(ply_missing_and_bad_properties) {
    gs_scene s;
    const char *props[] = {"x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1",
                           "rot_0", "rot_1", "rot_2", "rot_3"};
    for (int drop = 0; drop < 13; drop++) { /* every required property, one at a time */
        buf_t b = {0};
        b_fmt(&b, "%selement vertex 1\n", HDR0);
        for (int i = 0; i < 13; i++)
            if (i != drop) b_fmt(&b, "property float %s\n", props[i]);
        b_fmt(&b, "end_header\n");
        for (int i = 0; i < 12; i++) b_f32(&b, 0);
        char want[64];
        snprintf(want, sizeof want, "no property '%s'", props[drop]);
        CHECK_FAILS(read_buf(&b, &s), GS_ERR_FORMAT, want);
        free(b.p);
    }
    buf_t b = {0};
    build_plain(&b, 7, 1, 3, 1);
    CHECK_FAILS(read_buf(&b, &s), GS_ERR_FORMAT, "7 f_rest_* properties");
    free(b.p);
    /* 9 f_rest but f_rest_3 renamed f_rest_9: a gap */
    b = (buf_t){0};
    build_plain(&b, 9, 1, 3, 1);
    char *g = memmem(b.p, b.n, "f_rest_3\n", 9);
    CHECK(g != NULL);
    if (g) g[7] = '9';
    CHECK_FAILS(read_buf(&b, &s), GS_ERR_FORMAT, "no property 'f_rest_3'");
    free(b.p);
}

TEST(ply_huge_count_fails_fast) {
    gs_scene s;
    CHECK_FAILS(read_str("ply\nformat binary_little_endian 1.0\nelement vertex 999999999999999999\n"
                         "property float x\nend_header\n0123456789",
                         &s),
                GS_ERR_FORMAT, "truncated: PLY element 'vertex'");
    /* 2^31 splats of 248 bytes, in a 1 KB file */
    buf_t b = {0};
    build_plain(&b, 45, 1, 3, 3);
    char *c = memmem(b.p, b.n, "vertex 3\n", 9);
    CHECK(c != NULL);
    buf_t b2 = {0};
    if (c) {
        b_put(&b2, b.p, (size_t)((uint8_t *)c - b.p));
        b_fmt(&b2, "vertex 2147483648\n");
        b_put(&b2, c + 9, b.n - (size_t)((uint8_t *)c + 9 - b.p));
        CHECK_FAILS(read_buf(&b2, &s), GS_ERR_FORMAT, "2147483648 rows of 248 bytes");
    }
    free(b.p);
    free(b2.p);
}

TEST(ply_truncated_at_every_length) {
    gs_scene a, s;
    random_scene(&a, 3, 1);
    const char *p = gs_test_tmp("trunc.ply");
    CHECK_OK(gs_ply_write(p, &a));
    gs_scene_free(&a);
    uint8_t *d;
    size_t n;
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &n));
    size_t hl = (size_t)(strstr((const char *)d, "end_header\n") + 11 - (const char *)d);
    int ok = 0, named = 0, truncated = 0;
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact size so ASan sees any over-read */
        memcpy(copy, d, len);
        gs_clear_error();
        gs_status st = gs_ply_read_mem(copy, len, "cut.ply", &s);
        ok += st == GS_OK;
        named += strstr(gs_last_error(), "cut.ply") != NULL;
        if (len >= hl) truncated += strstr(gs_last_error(), "truncated: PLY element 'vertex'") != NULL;
        gs_scene_free(&s);
        free(copy);
    }
    CHECK_EQ_INT(ok, 0);
    CHECK_EQ_INT(named, n);
    CHECK_EQ_INT(truncated, n - hl);
    CHECK_OK(gs_ply_read_mem(d, n, "cut.ply", &s));
    CHECK_EQ_INT(s.n, 3);
    gs_scene_free(&s);
    free(d);
}

/* ---- compressed PLY ------------------------------------------------------------------ */

static uint32_t q_unorm(double t, int bits) {
    double m = (double)((1u << bits) - 1);
    double v = floor(t * m + 0.5);
    return (uint32_t)(v < 0 ? 0 : v > m ? m : v);
}

/* Independent encoder following the spec: smallest three of (w,x,y,z), each
 * stored as q*(sqrt2/2)+0.5 in 10 bits after making the largest positive. */
static uint32_t pack_rot(const double q[4]) {
    int big = 0;
    for (int j = 1; j < 4; j++)
        if (fabs(q[j]) > fabs(q[big])) big = j;
    double sgn = q[big] < 0 ? -1 : 1;
    uint32_t v = (uint32_t)big;
    for (int j = 0; j < 4; j++)
        if (j != big) v = (v << 10) | q_unorm(sgn * q[j] * sqrt(0.5) + 0.5, 10);
    return v;
}

/* n splats, 12-float chunks (no colour range) or 18, optional sh of nrest bytes */
static void build_compressed(buf_t *b, int n, int nchunks, int color_range, int nrest, int sh_rows) {
    b_fmt(b, "%scomment synthetic\nelement chunk %d\n", HDR0, nchunks);
    const char *cn[] = {"min_x", "min_y", "min_z", "max_x", "max_y", "max_z", "min_scale_x", "min_scale_y",
                        "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z", "min_r", "min_g", "min_b",
                        "max_r", "max_g", "max_b"};
    int ncf = color_range ? 18 : 12;
    for (int i = 0; i < ncf; i++) b_fmt(b, "property float %s\n", cn[i]);
    b_fmt(b, "element vertex %d\nproperty uint packed_position\nproperty uint packed_rotation\n"
             "property uint packed_scale\nproperty uint packed_color\n", n);
    if (nrest) {
        b_fmt(b, "element sh %d\n", sh_rows);
        for (int j = 0; j < nrest; j++) b_fmt(b, "property uchar f_rest_%d\n", j);
    }
    b_fmt(b, "end_header\n");
    for (int c = 0; c < nchunks; c++) {
        float v[18] = {-1, -2, -3, 1, 2, 3, -5, -6, -7, 0, 1, 2, 0.1f, 0.2f, 0.3f, 0.9f, 0.8f, 0.7f};
        for (int a = 0; a < 6; a++) v[a] += 10.0f * (float)c;
        for (int i = 0; i < ncf; i++) b_f32(b, v[i]);
    }
    for (int i = 0; i < n; i++) {
        b_u32(b, ((uint32_t)(i % 2048) << 21) | ((uint32_t)((i * 7) % 1024) << 11) | (uint32_t)((i * 13) % 2048));
        double th = 0.01 * i, q[4] = {cos(th), sin(th) * 0.6, -sin(th) * 0.8, 0};
        if (i % 3 == 1) { double t = q[0]; q[0] = q[2]; q[2] = -t; } /* other largest components */
        if (i % 3 == 2) { double t = q[0]; q[0] = q[3]; q[3] = t; }
        b_u32(b, pack_rot(q));
        b_u32(b, ((uint32_t)2047 << 21) | ((uint32_t)0 << 11) | 1024u);
        b_u32(b, (255u << 24) | (0u << 16) | (128u << 8) | 51u);
    }
    for (int i = 0; i < sh_rows; i++)
        for (int j = 0; j < nrest; j++) b_u8(b, (uint8_t)(j == 0 ? 0 : j == 1 ? 255 : j == 2 ? 128 : (i + j) & 255));
}

TEST(ply_compressed_synthetic) {
    buf_t b = {0};
    build_compressed(&b, 300, 2, 0, 9, 300);
    CHECK_EQ_INT(gs_scene_detect(b.p, b.n, "x.ply"), GS_FMT_COMPRESSED_PLY);
    gs_scene s;
    CHECK_OK(read_buf(&b, &s));
    CHECK_EQ_INT(s.n, 300);
    CHECK_EQ_INT(s.sh_degree, 1);
    if (s.n == 300) {
        double emax = 0;
        for (int i = 0; i < 300; i++) {
            double off = 10.0 * (i / 256);
            emax = fmax(emax, fabs(s.means[3 * i + 0] - (off - 1 + 2.0 * (i % 2048) / 2047)));
            emax = fmax(emax, fabs(s.means[3 * i + 1] - (off - 2 + 4.0 * ((i * 7) % 1024) / 1023)));
            emax = fmax(emax, fabs(s.means[3 * i + 2] - (off - 3 + 6.0 * ((i * 13) % 2048) / 2047)));
        }
        CHECK(emax < 2e-6);
        CHECK_NEAR(s.means[256 * 3], 9 + 2.0 * 256 / 2047, 2e-6); /* second chunk */
        /* log scales: x at max (0), y at min (-6), z at 1024/2047 between -7 and 2 */
        CHECK_NEAR(s.scales[0], 1.0, 1e-6);
        CHECK_NEAR(s.scales[1], exp(-6.0), 1e-8);
        CHECK_NEAR(s.scales[2], exp(-7 + 9.0 * 1024 / 2047), 1e-6);
        /* no colour range: R byte 255 -> 1, G 0 -> 0, B 128 -> 128/255 */
        CHECK_NEAR(s.sh[0], 0.5 / GS_SH_C0, 1e-6);
        CHECK_NEAR(s.sh[1], -0.5 / GS_SH_C0, 1e-6);
        CHECK_NEAR(s.sh[2], (128.0 / 255 - 0.5) / GS_SH_C0, 1e-6);
        CHECK_NEAR(s.opacities[5], 0.2, 1e-7);
        /* sh bytes: 0 -> -4, 255 -> +4, 128 -> (128.5/256 - 0.5)*8; f_rest_0..2 are R, k=1..3 */
        CHECK_NEAR(s.sh[7 * 12 + 1 * 3 + 0], -4, 0);
        CHECK_NEAR(s.sh[7 * 12 + 2 * 3 + 0], 4, 0);
        CHECK_NEAR(s.sh[7 * 12 + 3 * 3 + 0], 0.015625, 0);
        CHECK_NEAR(s.sh[7 * 12 + 1 * 3 + 1], ((7 + 3 + 0.5) / 256 - 0.5) * 8, 1e-6); /* f_rest_3: G, k=1 */
        /* rotations decode to the encoded quaternion (up to sign) within 10-bit steps */
        double emr = 0;
        for (int i = 0; i < 300; i++) {
            double th = 0.01 * i, q[4] = {cos(th), sin(th) * 0.6, -sin(th) * 0.8, 0};
            if (i % 3 == 1) { double t = q[0]; q[0] = q[2]; q[2] = -t; }
            if (i % 3 == 2) { double t = q[0]; q[0] = q[3]; q[3] = t; }
            double dot = 0;
            for (int c = 0; c < 4; c++) dot += q[c] * s.rotations[4 * i + c];
            double sg = dot < 0 ? -1 : 1;
            for (int c = 0; c < 4; c++) emr = fmax(emr, fabs(sg * s.rotations[4 * i + c] - q[c]));
        }
        /* each stored component is off by at most half a step (sqrt2/1023/2 = 7e-4); the
         * recomputed largest one and the renormalisation add about as much again */
        CHECK_MSG(emr < 2e-3, "rotation error %g", emr);
    }
    CHECK_EQ_INT(gs_scene_count_invalid(&s), 0);
    gs_scene_free(&s);
    free(b.p);
    /* with a colour range: R 255 -> max_r 0.9, G 0 -> min_g 0.2 */
    b = (buf_t){0};
    build_compressed(&b, 10, 1, 1, 0, 0);
    CHECK_OK(read_buf(&b, &s));
    CHECK_EQ_INT(s.sh_degree, 0);
    CHECK_NEAR(s.sh[0], (0.9f - 0.5) / GS_SH_C0, 1e-6);
    CHECK_NEAR(s.sh[1], (0.2f - 0.5) / GS_SH_C0, 1e-6);
    CHECK_NEAR(s.sh[2], (0.3f + (0.7f - 0.3f) * 128.0 / 255 - 0.5) / GS_SH_C0, 1e-6);
    gs_scene_free(&s);
    free(b.p);
}

TEST(ply_compressed_bad_input) {
    gs_scene s;
    buf_t b = {0};
    build_compressed(&b, 300, 1, 1, 0, 0);
    CHECK_FAILS(read_buf(&b, &s), GS_ERR_FORMAT, "chunk count mismatch: 1 chunks for 300 splats (expected 2)");
    free(b.p);
    b = (buf_t){0};
    build_compressed(&b, 10, 1, 1, 9, 9);
    CHECK_FAILS(read_buf(&b, &s), GS_ERR_FORMAT, "'sh' element has 9 rows for 10 splats");
    free(b.p);
    b = (buf_t){0};
    build_compressed(&b, 10, 1, 1, 7, 10);
    CHECK_FAILS(read_buf(&b, &s), GS_ERR_FORMAT, "7 f_rest_*");
    free(b.p);
    b = (buf_t){0};
    build_compressed(&b, 10, 1, 1, 0, 0);
    char *p = memmem(b.p, b.n, "uint packed_scale", 17);
    if (p) memcpy(p, "int  ", 5); /* signed int is 4 bytes too: accepted */
    CHECK_OK(read_buf(&b, &s));
    gs_scene_free(&s);
    p = memmem(b.p, b.n, "max_g\n", 6);
    if (p) p[4] = 'q';
    CHECK_FAILS(read_buf(&b, &s), GS_ERR_FORMAT, "no property 'max_g'");
    free(b.p);
    b = (buf_t){0};
    build_compressed(&b, 10, 1, 0, 9, 10);
    p = memmem(b.p, b.n, "property uint packed_color", 26);
    if (p) memcpy(p + 9, "float", 5); /* "property floatpacked_color" -> malformed */
    CHECK_FAILS(read_buf(&b, &s), GS_ERR_FORMAT, "malformed PLY property line");
    free(b.p);
    /* truncated everywhere */
    b = (buf_t){0};
    build_compressed(&b, 20, 1, 1, 9, 20);
    int ok = 0;
    for (size_t len = 0; len < b.n; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, b.p, len);
        ok += gs_ply_read_mem(copy, len, "cut.ply", &s) == GS_OK;
        gs_scene_free(&s);
        free(copy);
    }
    CHECK_EQ_INT(ok, 0);
    CHECK_OK(read_buf(&b, &s));
    gs_scene_free(&s);
    free(b.p);
}

/* ---- the real file ---------------------------------------------------------------------- */

static float rdf(const uint8_t *p) { float v; memcpy(&v, p, 4); return v; }
static uint32_t rdu(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

TEST(ply_guitar_compressed_real) {
    REQUIRE_DATA();
    const char *path = gs_test_data("splats/guitar.compressed.ply");
    uint8_t *d;
    size_t n;
    CHECK_OK(gs_read_file(path, 1 << 26, &d, &n));
    if (gs_test_failed()) return;
    gs_scene s;
    CHECK_OK(gs_ply_read_mem(d, n, path, &s));
    CHECK_EQ_INT(s.n, 90854);
    CHECK_EQ_INT(s.sh_degree, 0);
    CHECK_EQ_INT(s.antialiased, 0);
    CHECK_EQ_INT(gs_scene_count_invalid(&s), 0);
    /* layout: header, 355 chunks of 18 floats, 90854 * 4 uints, nothing else */
    const char *eh = memmem(d, 4096, "end_header\n", 11);
    CHECK(eh != NULL);
    if (!eh || s.n != 90854) { free(d); gs_scene_free(&s); return; }
    size_t hl = (size_t)(eh + 11 - (const char *)d);
    CHECK_EQ_INT(n, hl + 355 * 72 + 90854 * 16);
    const uint8_t *chunks = d + hl, *verts = chunks + 355 * 72;
    int nonunit = 0, badop = 0, outside = 0;
    for (int64_t i = 0; i < s.n; i++) {
        const float *q = s.rotations + 4 * i;
        nonunit += fabs(sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]) - 1) > 1e-6;
        badop += !(s.opacities[i] >= 0 && s.opacities[i] <= 1);
        const uint8_t *c = chunks + (i / 256) * 72;
        for (int a = 0; a < 3; a++)
            outside += s.means[3 * i + a] < rdf(c + 4 * a) - 1e-5f || s.means[3 * i + a] > rdf(c + 12 + 4 * a) + 1e-5f;
    }
    CHECK_EQ_INT(nonunit, 0);
    CHECK_EQ_INT(badop, 0);
    CHECK_EQ_INT(outside, 0);
    /* decode splats 0 and 1000 by hand, in float, from the spec */
    const int pick[2] = {0, 1000};
    for (int t = 0; t < 2; t++) {
        int i = pick[t];
        const uint8_t *c = chunks + (i / 256) * 72, *v = verts + i * 16;
        uint32_t pp = rdu(v), pr = rdu(v + 4), ps = rdu(v + 8), pc = rdu(v + 12);
        float fx = (float)(pp >> 21) / 2047.f, fy = (float)((pp >> 11) & 1023) / 1023.f, fz = (float)(pp & 2047) / 2047.f;
        float tt[3] = {fx, fy, fz};
        float sx = (float)(ps >> 21) / 2047.f, sy = (float)((ps >> 11) & 1023) / 1023.f, sz = (float)(ps & 2047) / 2047.f;
        float ts[3] = {sx, sy, sz};
        for (int a = 0; a < 3; a++) {
            float lo = rdf(c + 4 * a), hi = rdf(c + 12 + 4 * a);
            CHECK_NEAR(s.means[3 * i + a], lo + (hi - lo) * tt[a], 1e-5 * (1 + fabs(hi)));
            float slo = rdf(c + 24 + 4 * a), shi = rdf(c + 36 + 4 * a);
            CHECK_NEAR(s.scales[3 * i + a], expf(slo + (shi - slo) * ts[a]), 1e-5 * s.scales[3 * i + a]);
            float clo = rdf(c + 48 + 4 * a), chi = rdf(c + 60 + 4 * a);
            float col = clo + (chi - clo) * (float)((pc >> (24 - 8 * a)) & 255) / 255.f;
            CHECK_NEAR(s.sh[3 * i + a], (col - 0.5f) / 0.2820948f, 1e-5);
        }
        CHECK_NEAR(s.opacities[i], (pc & 255) / 255.0, 1e-7);
        float rest[3], ss = 0;
        for (int j = 0; j < 3; j++) {
            rest[j] = ((float)((pr >> (20 - 10 * j)) & 1023) / 1023.f - 0.5f) * 1.41421356f;
            ss += rest[j] * rest[j];
        }
        float q[4];
        int big = (int)(pr >> 30);
        for (int j = 0, r = 0; j < 4; j++) q[j] = j == big ? sqrtf(fmaxf(0, 1 - ss)) : rest[r++];
        float qn = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        for (int j = 0; j < 4; j++) CHECK_NEAR(s.rotations[4 * i + j], q[j] / qn, 1e-5);
    }
    /* as INRIA PLY and back: the same scene */
    const char *p = gs_test_tmp("guitar.ply");
    CHECK_OK(gs_ply_write(p, &s));
    gs_scene b;
    CHECK_OK(read_path(p, &b));
    CHECK_EQ_INT(b.n, s.n);
    if (b.n == s.n) {
        double em = 0, es = 0, eo = 0;
        for (int64_t i = 0; i < s.n; i++) {
            for (int a = 0; a < 3; a++) {
                em = fmax(em, fabs(b.means[3 * i + a] - s.means[3 * i + a]));
                es = fmax(es, fabs(b.scales[3 * i + a] / s.scales[3 * i + a] - 1));
            }
            eo = fmax(eo, fabs(b.opacities[i] - s.opacities[i]));
        }
        CHECK_NEAR(em, 0, 0);
        CHECK(es < 2e-6);
        CHECK(eo < 1.1e-6); /* opacity 0 and 1 are clamped by 1e-6 on write */
        CHECK_EQ_INT(gs_scene_count_invalid(&b), 0);
    }
    gs_scene_free(&b);
    gs_scene_free(&s);
    free(d);
}
