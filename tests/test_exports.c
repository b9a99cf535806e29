/* test_exports.c - Gaussian exports: the writers leave invalid splats out
 * (one warning per file, the same splats in PLY, .splat and .spz, the scene
 * untouched), the SPZ default version, the export defaults of `gs infer --gs`
 * and `gs nvs` (the official gs_ply selection, computed here independently),
 * their option checks before the model loads, and `gs convert` (reads every
 * splat file gs writes, its messages and output names). CLI tests need
 * GS_BIN (make test), ../shared/data and the tiny golden checkpoints. */
#include "tests/test.h"
#include "gs/model/da3.h"
#include "heads/gs_adapter.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/scene.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define FERN "scenes/fern/images_8/"
#define TINY_GS "tests/golden/da3/tiny-giant"

/* ---- helpers ------------------------------------------------------------------ */

static char g_warn[8192];
static int g_nwarn;

static void collect_warn(void *ctx, const char *msg) {
    (void)ctx;
    size_t l = strlen(g_warn);
    snprintf(g_warn + l, sizeof g_warn - l, "%s\n", msg);
    g_nwarn++;
}
static void warn_begin(void) {
    g_warn[0] = 0;
    g_nwarn = 0;
    gs_set_warn_handler(collect_warn, NULL);
}
static void warn_end(void) { gs_set_warn_handler(NULL, NULL); }

static uint32_t g_rng = 2463534242u;
static float urand(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return (float)(g_rng >> 8) / 16777216.0f;
}

/* n valid splats of SH degree deg in [-1,1]^3 */
static void valid_scene(gs_scene *s, int64_t n, int deg) {
    CHECK_OK(gs_scene_alloc(s, n, deg));
    int kc = gs_sh_coeffs(deg) * 3;
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) {
            s->means[3 * i + k] = 2 * urand() - 1;
            s->scales[3 * i + k] = expf(-5 + 4 * urand());
        }
        float q[4], nn = 0;
        for (int k = 0; k < 4; k++) { q[k] = 2 * urand() - 1; nn += q[k] * q[k]; }
        for (int k = 0; k < 4; k++) s->rotations[4 * i + k] = q[k] / sqrtf(nn);
        s->opacities[i] = 0.05f + 0.9f * urand();
        for (int k = 0; k < kc; k++) s->sh[i * kc + k] = urand() - 0.5f;
    }
}

/* The SPZ version in a file's header (gzip or NGSP); -1 when unreadable. */
static int spz_file_version(const char *path) {
    uint8_t h[16];
    gzFile f = gzopen(path, "rb"); /* reads plain files as they are, too */
    if (!f) return -1;
    int got = gzread(f, h, sizeof h);
    gzclose(f);
    if (got != (int)sizeof h || memcmp(h, "NGSP", 4)) return -1;
    return (int)(h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24);
}

static int cmp_xyz(const void *a, const void *b) {
    const float *x = a, *y = b;
    for (int k = 0; k < 3; k++)
        if (x[k] != y[k]) return x[k] < y[k] ? -1 : 1;
    return 0;
}

/* ---- the writers ---------------------------------------------------------------- */

/* A scene with invalid splats of every kind, written in every format: the
 * files hold exactly the valid splats (same count, same positions within each
 * format's quantisation), one warning per file, the scene is not changed. */
TEST(exports_writers_leave_out_invalid_splats) {
    gs_scene s;
    valid_scene(&s, 40, 2);
    const int kc = gs_sh_coeffs(2) * 3;
    s.means[3 * 1 + 1] = NAN;           /* 1: NaN mean */
    s.scales[3 * 3 + 2] = -0.01f;       /* 3: negative scale (depth + offset <= 0) */
    s.sh[5 * kc + 4 * 3 + 1] = NAN;     /* 5: NaN SH in band 1 */
    memset(s.rotations + 4 * 7, 0, 16); /* 7: zero quaternion */
    s.opacities[9] = NAN;               /* 9: NaN opacity */
    s.scales[3 * 10] = INFINITY;        /* 10: infinite scale (exp of a huge log) */
    s.opacities[12] = 1.5f;             /* 12: opacity over 1 */
    const int bad[] = {1, 3, 5, 7, 9, 10, 12};
    const int nbad = 7, nvalid = 40 - nbad;
    CHECK_EQ_INT(gs_scene_count_invalid(&s), nbad);
    /* a byte copy, to see that the writers leave the scene alone */
    size_t bytes[5] = {40 * 3 * 4, 40 * 3 * 4, 40 * 4 * 4, 40 * 4, (size_t)40 * kc * 4};
    float *arrays[5] = {s.means, s.scales, s.rotations, s.opacities, s.sh};
    uint8_t *copy[5];
    for (int a = 0; a < 5; a++) {
        copy[a] = malloc(bytes[a]);
        memcpy(copy[a], arrays[a], bytes[a]);
    }
    /* the valid splats' positions, in scene order */
    float want[40 * 3];
    int m = 0;
    for (int i = 0; i < 40; i++) {
        int is_bad = 0;
        for (int j = 0; j < nbad; j++) is_bad |= bad[j] == i;
        if (!is_bad) memcpy(want + 3 * m++, s.means + 3 * i, 12);
    }
    CHECK_EQ_INT(m, nvalid);
    static const char *names[] = {"inv.ply", "inv.splat", "inv2.spz", "inv3.spz", "inv4.spz"};
    for (int f = 0; f < 5; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s", gs_test_tmp(names[f]));
        warn_begin();
        gs_status st = f == 0 ? gs_ply_write(path, &s) : f == 1 ? gs_splat_write(path, &s) : gs_spz_write(path, &s, f);
        warn_end();
        CHECK_MSG(st == GS_OK, "%s: %s", names[f], gs_last_error());
        if (st) continue;
        CHECK_MSG(g_nwarn == 1, "%s: %d warnings: %s", names[f], g_nwarn, g_warn);
        char msg[1200];
        snprintf(msg, sizeof msg, "%s: 7 of 40 Gaussians are invalid", path);
        CHECK_MSG(strstr(g_warn, msg) && strstr(g_warn, "were not written"), "%s: warning \"%s\"", names[f], g_warn);
        CHECK_MSG(strstr(g_warn, "1 non-finite position") && strstr(g_warn, "2 non-positive or non-finite scale") &&
                      strstr(g_warn, "1 zero or non-finite quaternion") && strstr(g_warn, "2 opacity not in [0, 1]") &&
                      strstr(g_warn, "1 non-finite SH"),
                  "%s: reasons in \"%s\"", names[f], g_warn);
        gs_scene r;
        CHECK_OK(gs_scene_read(path, &r, NULL));
        if (gs_test_failed()) { gs_scene_free(&r); continue; }
        CHECK_EQ_INT(r.n, nvalid);
        CHECK_EQ_INT(gs_scene_count_invalid(&r), 0);
        CHECK_EQ_INT(r.sh_degree, f == 1 ? 0 : 2);
        if (r.n != nvalid) { gs_scene_free(&r); continue; }
        if (f == 1) { /* .splat reorders by size x opacity: compare the sorted sets, exactly */
            float a[40 * 3], b[40 * 3];
            memcpy(a, want, sizeof(float) * 3 * nvalid);
            memcpy(b, r.means, sizeof(float) * 3 * nvalid);
            qsort(a, (size_t)nvalid, 12, cmp_xyz);
            qsort(b, (size_t)nvalid, 12, cmp_xyz);
            CHECK(!memcmp(a, b, sizeof(float) * 3 * nvalid));
        } else { /* scene order; PLY exact, SPZ 12 fractional bits */
            double tol = f == 0 ? 0 : 0.5 / 4096 + 1e-7, e = 0;
            for (int k = 0; k < 3 * nvalid; k++) e = fmax(e, fabs(r.means[k] - want[k]));
            CHECK_MSG(e <= tol, "%s: positions differ by %g", names[f], e);
        }
        gs_scene_free(&r);
    }
    for (int a = 0; a < 5; a++) {
        CHECK_MSG(!memcmp(copy[a], arrays[a], bytes[a]), "the writers changed scene array %d", a);
        free(copy[a]);
    }
    gs_scene_free(&s);
}

TEST(exports_writers_refuse_scenes_without_valid_splats) {
    gs_scene s, e;
    valid_scene(&s, 3, 0);
    for (int i = 0; i < 3; i++) s.scales[3 * i] = -1; /* every splat invalid */
    CHECK_OK(gs_scene_alloc(&e, 0, 1));
    static const char *exts[] = {"ply", "splat", "spz"};
    for (int f = 0; f < 3; f++) {
        char p[1024], q[1024];
        snprintf(p, sizeof p, "%s.%s", gs_test_tmp("allbad"), exts[f]);
        snprintf(q, sizeof q, "%s.%s", gs_test_tmp("empty"), exts[f]);
        CHECK_ERR(gs_scene_write(p, &s), "all 3 Gaussians are invalid");
        CHECK_MSG(strstr(gs_last_error(), p) != NULL, "error does not name %s: %s", p, gs_last_error());
        CHECK_MSG(!gs_file_exists(p), "%s was written", p);
        CHECK_ERR(gs_scene_write(q, &e), "no Gaussians");
        CHECK_MSG(!gs_file_exists(q), "%s was written", q);
    }
    gs_scene_free(&s);
    gs_scene_free(&e);
}

TEST(exports_spz_default_version_is_3) {
    gs_scene s;
    valid_scene(&s, 10, 1);
    const char *p0 = gs_test_tmp("dflt0.spz"), *p1 = gs_test_tmp("dflt1.spz");
    CHECK_OK(gs_spz_write(p0, &s, 0));
    CHECK_OK(gs_scene_write(p1, &s));
    CHECK_EQ_INT(GS_SPZ_DEFAULT_VERSION, 3);
    CHECK_EQ_INT(spz_file_version(p0), 3);
    CHECK_EQ_INT(spz_file_version(p1), 3);
    for (int v = 2; v <= 4; v++) {
        const char *p = gs_test_tmp("v.spz");
        CHECK_OK(gs_spz_write(p, &s, v));
        CHECK_EQ_INT(spz_file_version(p), v);
    }
    gs_scene_free(&s);
}

/* ---- gs nvs / gs infer --gs ------------------------------------------------------ */

#define RES 140 /* 3 views of 140x105: the tiny model then predicts some negative scales */

static const char *photos(void) {
    static char buf[2048];
    snprintf(buf, sizeof buf, "%s %s %s", gs_test_data(FERN "image000.png"), gs_test_data(FERN "image010.png"),
             gs_test_data(FERN "image005.png"));
    return buf;
}

/* Runs `gs nvs` on the three photos with extra options into a fresh folder
 * under the test directory; returns the exit status, output in *out. */
static int run_nvs(const char *dir, const char *extra, char **out) {
    char args[4096];
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res %d --no-video --threads 2 %s --out %s",
             photos(), RES, extra, dir);
    return gs_test_run_gs(args, out);
}

static int64_t file_splats(const char *dir, const char *name, int *degree) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    gs_scene s;
    if (gs_scene_read(path, &s, NULL)) return -1;
    int64_t n = s.n, bad = gs_scene_count_invalid(&s);
    if (degree) *degree = s.sh_degree;
    gs_scene_free(&s);
    return bad ? -2 : n;
}

/* The official selection (gsply_helpers.save_gaussian_ply with gs.py's
 * arguments: prune_border_gs, prune_by_depth_percent 0.9), counted here from
 * the library's prediction without the export code: per view, rows
 * [int(8/256 H), H - that), the same for columns, depth <= the view's
 * torch.quantile(0.9); then the valid ones among them. */
typedef struct { int64_t all_valid, border_valid, official_valid, official_invalid; } expect_counts;

static void expected_counts(expect_counts *e) {
    memset(e, 0, sizeof *e);
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, TINY_GS, NULL));
    if (gs_test_failed()) return;
    gs_image im[3];
    const char *names[3] = {FERN "image000.png", FERN "image010.png", FERN "image005.png"};
    for (int i = 0; i < 3; i++) CHECK_OK(gs_image_read(gs_test_data(names[i]), &im[i]));
    gs_da3_options o;
    gs_da3_options_default(&o);
    o.process_res = RES;
    o.infer_gs = 1;
    o.quiet = 1;
    gs_da3_prediction p;
    CHECK_OK(gs_da3_infer(&m, im, 3, NULL, NULL, &o, &p));
    if (!gs_test_failed()) {
        gs_scene full;
        CHECK_OK(gs_gaussians_to_scene(&p.gaussians, 2, &full));
        const int H = p.H, W = p.W, tr = (int)(8.0 / 256 * H), tc = (int)(8.0 / 256 * W);
        CHECK(tr > 0 && tc > 0);
        const int64_t HW = (int64_t)H * W;
        for (int v = 0; v < p.S && !gs_test_failed(); v++) {
            float thr;
            CHECK_OK(gs_quantile_linear_f32(p.depth + v * HW, HW, 0.9f, &thr));
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    int64_t g = v * HW + (int64_t)y * W + x;
                    int ok = gs_scene_splat_valid(&full, g);
                    int inside = y >= tr && y < H - tr && x >= tc && x < W - tc;
                    e->all_valid += ok;
                    e->border_valid += ok && inside;
                    if (inside && p.depth[g] <= thr) {
                        e->official_valid += ok;
                        e->official_invalid += !ok;
                    }
                }
        }
        gs_scene_free(&full);
    }
    gs_da3_prediction_free(&p);
    for (int i = 0; i < 3; i++) gs_image_free(&im[i]);
    gs_da3_free(&m);
}

TEST(cli_exports_default_to_the_official_selection) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    expect_counts e;
    expected_counts(&e);
    if (gs_test_failed()) return;
    /* the selection holds invalid Gaussians, so that leaving them out is tested */
    CHECK(e.official_invalid > 0);
    CHECK(e.official_valid < e.border_valid && e.border_valid < e.all_valid);
    char *out = NULL;
    int deg = -1;
    const char *d1 = gs_test_tmp("dflt");
    CHECK_EQ_INT(run_nvs(d1, "", &out), 0);
    CHECK_EQ_INT(file_splats(d1, "gaussians.ply", &deg), e.official_valid);
    CHECK_EQ_INT(deg, 2); /* the predicted degree, unless --sh-dc-only */
    CHECK_MSG(out && strstr(out, "official") && strstr(out, "--keep-all-gaussians"), "%s", out ? out : "");
    free(out);
    const char *d2 = gs_test_tmp("keepall");
    CHECK_EQ_INT(run_nvs(d2, "--keep-all-gaussians", &out), 0);
    CHECK_EQ_INT(file_splats(d2, "gaussians.ply", NULL), e.all_valid);
    free(out);
    const char *d3 = gs_test_tmp("border");
    CHECK_EQ_INT(run_nvs(d3, "--max-depth-percentile 100 --sh-dc-only", &out), 0);
    CHECK_EQ_INT(file_splats(d3, "gaussians.ply", &deg), e.border_valid);
    CHECK_EQ_INT(deg, 0);
    free(out);
    /* gs infer --gs writes the same selection through the same code */
    char args[4096];
    const char *d4 = gs_test_tmp("inferdflt");
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s --process-res %d --gs --max-points 0 --export ply,spz --out %s",
             photos(), RES, d4);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_EQ_INT(file_splats(d4, "gaussians.ply", &deg), e.official_valid);
    CHECK_EQ_INT(file_splats(d4, "gaussians.spz", NULL), e.official_valid);
    CHECK_EQ_INT(deg, 2);
    CHECK_MSG(out && strstr(out, "wrote") && strstr(out, "SPZ v3"), "%s", out ? out : "");
    free(out);
    const char *d5 = gs_test_tmp("inferall");
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s --process-res %d --gs --max-points 0 --keep-all-gaussians --out %s",
             photos(), RES, d5);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_EQ_INT(file_splats(d5, "gaussians.ply", NULL), e.all_valid);
    free(out);
}

TEST(cli_exports_same_splats_in_every_format) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char *out = NULL;
    const char *d = gs_test_tmp("formats");
    CHECK_EQ_INT(run_nvs(d, "--export ply,splat,spz", &out), 0);
    /* one warning per file, naming it and the count */
    static const char *files[] = {"gaussians.ply", "gaussians.splat", "gaussians.spz"};
    for (int f = 0; f < 3; f++) {
        char needle[1200];
        snprintf(needle, sizeof needle, "%s/%s: ", d, files[f]);
        int lines = 0;
        for (const char *p = out; p && (p = strstr(p, needle)); p += strlen(needle)) {
            const char *eol = strchr(p, '\n');
            const char *inv = strstr(p, "Gaussians are invalid");
            lines += inv && (!eol || inv < eol);
        }
        CHECK_MSG(lines == 1, "%s: %d warnings in %s", files[f], lines, out ? out : "");
    }
    CHECK_MSG(out && strstr(out, "wrote") && strstr(out, "Niantic SPZ v3"), "%s", out ? out : "");
    free(out);
    gs_scene a, b, c;
    char pa[1100], pb[1100], pc[1100];
    snprintf(pa, sizeof pa, "%s/gaussians.ply", d);
    snprintf(pb, sizeof pb, "%s/gaussians.splat", d);
    snprintf(pc, sizeof pc, "%s/gaussians.spz", d);
    CHECK_OK(gs_scene_read(pa, &a, NULL));
    CHECK_OK(gs_scene_read(pb, &b, NULL));
    CHECK_OK(gs_scene_read(pc, &c, NULL));
    if (gs_test_failed()) return;
    CHECK(a.n > 1000);
    CHECK_EQ_INT(b.n, a.n);
    CHECK_EQ_INT(c.n, a.n);
    CHECK_EQ_INT(gs_scene_count_invalid(&a), 0);
    CHECK_EQ_INT(gs_scene_count_invalid(&b), 0);
    CHECK_EQ_INT(gs_scene_count_invalid(&c), 0);
    if (b.n == a.n && c.n == a.n) {
        double e = 0;
        for (int64_t k = 0; k < 3 * a.n; k++) e = fmax(e, fabs(a.means[k] - c.means[k]));
        CHECK_MSG(e <= 0.5 / 4096 + 1e-6, "SPZ positions differ from the PLY's by %g", e);
        float *x = malloc((size_t)a.n * 12), *y = malloc((size_t)a.n * 12);
        memcpy(x, a.means, (size_t)a.n * 12);
        memcpy(y, b.means, (size_t)a.n * 12);
        qsort(x, (size_t)a.n, 12, cmp_xyz);
        qsort(y, (size_t)a.n, 12, cmp_xyz);
        CHECK_MSG(!memcmp(x, y, (size_t)a.n * 12), ".splat positions are not the PLY's");
        free(x);
        free(y);
    }
    gs_scene_free(&a);
    gs_scene_free(&b);
    gs_scene_free(&c);
    /* --spz-version writes that version and says so */
    const char *d2 = gs_test_tmp("spz2");
    CHECK_EQ_INT(run_nvs(d2, "--export spz --spz-version 2", &out), 0);
    CHECK_MSG(out && strstr(out, "Niantic SPZ v2"), "%s", out ? out : "");
    free(out);
    snprintf(pc, sizeof pc, "%s/gaussians.spz", d2);
    CHECK_EQ_INT(spz_file_version(pc), 2);
}

TEST(cli_exports_options_checked_before_the_model) {
    NEED_GS_BIN();
    char args[2048], *out = NULL;
    const char *dir = gs_test_tmp("never");
    const char *bad[][2] = {
        {"nvs --model /nonexistent/model photo.png --export ply,obj", "unknown format 'obj' (supported: ply, splat, spz, glb, glb-spz)"},
        {"nvs --model /nonexistent/model photo.png --export ply,ply", "'ply' is listed twice"},
        {"nvs --model /nonexistent/model photo.png --export ply,", "empty entry"},
        {"nvs --model /nonexistent/model photo.png --spz-version 5", "--spz-version takes 2, 3 or 4"},
        {"infer --model /nonexistent/model photo.png --gs --export glb2", "unknown format 'glb2'"},
        {"infer --model /nonexistent/model photo.png --export ply", "need --gs"},
        {"infer --model /nonexistent/model photo.png --keep-all-gaussians", "need --gs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "%s --out %s", bad[i][0], dir);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
        CHECK_MSG(out && strstr(out, bad[i][1]), "%s: %s", bad[i][0], out ? out : "");
        free(out);
        CHECK_MSG(!gs_file_exists(dir), "%s made %s", bad[i][0], dir);
    }
    /* the help says the defaults */
    static const char *cmds[] = {"nvs --help", "infer --help"};
    for (int c = 0; c < 2; c++) {
        CHECK_EQ_INT(gs_test_run_gs(cmds[c], &out), 0);
        CHECK_MSG(out && strstr(out, "--keep-all-gaussians") && strstr(out, "90th depth percentile") &&
                      strstr(out, "8/256") && strstr(out, "--spz-version N") && strstr(out, "3 (default") &&
                      strstr(out, "GaussianSplats3D") && !strstr(out, "--prune-border"),
                  "%s: %s", cmds[c], out ? out : "");
        free(out);
    }
}

/* ---- gs convert -------------------------------------------------------------------- */

TEST(cli_convert_reads_every_splat_file_gs_writes) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char *out = NULL, args[4096];
    const char *d = gs_test_tmp("conv_src");
    CHECK_EQ_INT(run_nvs(d, "--export ply,splat,spz", &out), 0);
    free(out);
    int64_t n = file_splats(d, "gaussians.ply", NULL);
    CHECK(n > 1000);
    /* every format and SPZ version gs writes, through gs convert and back */
    static const char *chain[][2] = {
        {"gaussians.ply", "c.spz --spz-version 2"}, {"c.spz", "c2.ply"},
        {"gaussians.ply", "c4.spz --spz-version 4"}, {"c4.spz", "c4.ply"},
        {"gaussians.spz", "c3.ply"}, {"gaussians.splat", "cs.ply"}, {"gaussians.ply", "c.splat"},
        {"c.splat", "cs2.spz"},
    };
    for (size_t i = 0; i < sizeof chain / sizeof chain[0]; i++) {
        char dst[256];
        snprintf(dst, sizeof dst, "%s", chain[i][1]);
        char *sp = strchr(dst, ' ');
        if (sp) *sp = 0;
        snprintf(args, sizeof args, "convert %s/%s %s/%s", d, chain[i][0], d, chain[i][1]);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
        CHECK_MSG(out && strstr(out, "->"), "%s: %s", args, out ? out : "");
        free(out);
        CHECK_EQ_INT(file_splats(d, dst, NULL), n);
    }
    /* the cameras gs writes: to JSON and to a COLMAP text folder */
    snprintf(args, sizeof args, "convert %s/cameras.json %s/cams_colmap", d, d);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "convert %s/cams_colmap %s/cams_back.json", d, d);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    char p[1100];
    snprintf(p, sizeof p, "%s/cams_back.json", d);
    gs_cameras c;
    CHECK_OK(gs_cameras_read(p, NULL, &c, NULL));
    CHECK_EQ_INT(c.n, 3);
    gs_cameras_free(&c);
}

TEST(cli_convert_messages_and_output_names) {
    NEED_GS_BIN();
    gs_scene s;
    valid_scene(&s, 50, 2);
    s.scales[7] = -1; /* one invalid */
    const char *ply = gs_test_tmp("cm.ply");
    warn_begin();
    CHECK_OK(gs_ply_write(ply, &s));
    warn_end();
    gs_scene_free(&s);
    char args[2048], *out = NULL, p[1100];
    /* the input's SH degree, then the output's */
    snprintf(p, sizeof p, "%s", gs_test_tmp("cm0.spz"));
    snprintf(args, sizeof args, "convert --sh-degree 0 %s %s", ply, p);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "(INRIA 3DGS PLY, 49 splats, SH degree 2) ->") &&
                  strstr(out, "(Niantic SPZ v3, 49 splats, SH degree 0)"),
              "%s", out ? out : "");
    free(out);
    CHECK_EQ_INT(spz_file_version(p), 3);
    /* COLMAP text is a folder: an OUT named .txt is refused, nothing made */
    const char *cams = gs_test_tmp("cm_cams.json");
    gs_camera cam;
    memset(&cam, 0, sizeof cam);
    cam.R[0] = cam.R[4] = cam.R[8] = 1;
    cam.fx = cam.fy = 50;
    cam.cx = 32;
    cam.cy = 24;
    cam.width = 64;
    cam.height = 48;
    cam.has_pose = 1;
    snprintf(cam.name, sizeof cam.name, "a.png");
    gs_cameras c = {1, &cam};
    CHECK_OK(gs_cameras_write_json(cams, &c));
    const char *txt = gs_test_tmp("cm_out.txt");
    snprintf(args, sizeof args, "convert %s %s", cams, txt);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK_MSG(out && strstr(out, txt) && strstr(out, "folder"), "%s", out ? out : "");
    free(out);
    CHECK_MSG(!gs_file_exists(txt) && !gs_is_dir(txt), "%s was made", txt);
    /* an unknown output extension blames OUT and lists what is supported */
    const char *xyz = gs_test_tmp("cm_out.xyz");
    snprintf(args, sizeof args, "convert %s %s", ply, xyz);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK_MSG(out && strstr(out, xyz) && strstr(out, ".ply, .splat, .spz or .glb") && !strstr(out, "cm.ply:"), "%s",
              out ? out : "");
    free(out);
    snprintf(args, sizeof args, "convert %s %s", cams, xyz);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK_MSG(out && strstr(out, xyz) && strstr(out, "'.xyz'") && strstr(out, ".json"), "%s", out ? out : "");
    free(out);
    CHECK(!gs_file_exists(xyz) && !gs_is_dir(xyz));
    /* the help names the default SPZ version and who reads it */
    CHECK_EQ_INT(gs_test_run_gs("convert --help", &out), 0);
    CHECK_MSG(out && strstr(out, "version 3 by default") && strstr(out, "GaussianSplats3D"), "%s", out ? out : "");
    free(out);
}
