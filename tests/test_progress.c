/* test_progress.c - progress with an ETA: the network's on_progress sequence
 * on the tiny golden models (monotonic, every backbone block and each head
 * reported, ends at done == total, the numbers unchanged by it), the ETA
 * arithmetic and the meter's lines under a fake clock, and the CLI's lines
 * (gs infer, gs render) with stderr not a terminal, and none with --quiet. */
#include "tests/test.h"
#include "gs/core/progress.h"
#include "gs/model/da3.h"
#include "data/cameras.h"
#include "data/scene.h"

#include <stdlib.h>
#include <string.h>

#define GOLD "tests/golden/da3/"
#define MAX_CALLS 4096

/* ---- the network's sequence ------------------------------------------------------ */

typedef struct {
    int n;
    char stage[MAX_CALLS][32];
    int64_t done[MAX_CALLS], total[MAX_CALLS];
} calls;

static void record(void *ctx, const char *stage, int64_t done, int64_t total) {
    calls *c = ctx;
    if (c->n >= MAX_CALLS) return;
    snprintf(c->stage[c->n], sizeof c->stage[c->n], "%s", stage);
    c->done[c->n] = done;
    c->total[c->n] = total;
    c->n++;
}

/* Reports in `stage` that advanced done. */
static int advances_in(const calls *c, const char *stage) {
    int k = 0;
    for (int i = 1; i < c->n; i++) k += !strcmp(c->stage[i], stage) && c->done[i] > c->done[i - 1];
    return k;
}

static int has_stage(const calls *c, const char *stage) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->stage[i], stage)) return 1;
    return 0;
}

static void images(gs_image *im, int S) {
    for (int v = 0; v < S; v++) {
        CHECK_OK(gs_image_alloc(&im[v], 84, 70, 3));
        for (size_t i = 0; im[v].data && i < (size_t)84 * 70 * 3; i++)
            im[v].data[i] = (float)((i * 7 + 13 * (size_t)v) % 251) / 251.0f;
    }
}

static void no_dump(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    (void)ctx, (void)name, (void)data, (void)ndim, (void)shape;
}

/* One forward of `model` with the recorder; checks the sequence and that
 * the depth equals a run without it. */
static void check_sequence(const char *model, int S, int infer_gs, int ray, int posed, int dump, const char *const *stages) {
    char dir[256];
    snprintf(dir, sizeof dir, GOLD "%s", model);
    char st_path[300];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    if (!gs_file_exists(st_path)) {
        gs_test_fail(__FILE__, __LINE__, "tracked golden %s is missing (run from the repository root)", st_path);
        return;
    }
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, dir, NULL));
    if (gs_test_failed()) return;
    gs_image im[4];
    images(im, S);
    float *w2c = NULL, *K = NULL;
    if (posed) { /* cameras on a line, looking down +z */
        w2c = calloc((size_t)S * 16, sizeof *w2c);
        K = calloc((size_t)S * 9, sizeof *K);
        for (int v = 0; w2c && K && v < S; v++) {
            float *E = w2c + 16 * v, *k = K + 9 * v;
            E[0] = E[5] = E[10] = E[15] = 1.0f;
            E[3] = -0.3f * v, E[7] = 0.1f * v * v;
            k[0] = k[4] = 80.0f, k[2] = im[v].width / 2.0f, k[5] = 35.0f, k[8] = 1.0f;
        }
    }
    gs_da3_options o;
    gs_da3_options_default(&o);
    o.process_res = 98;
    o.infer_gs = infer_gs;
    o.use_ray_pose = ray;
    gs_dump dd = {no_dump, NULL};
    if (dump) o.dump = &dd;
    gs_da3_prediction p0, p1;
    CHECK_OK(gs_da3_infer(&m, im, S, w2c, K, &o, &p0));
    calls *c = calloc(1, sizeof *c);
    o.on_progress = record;
    o.progress_ctx = c;
    CHECK_OK(gs_da3_infer(&m, im, S, w2c, K, &o, &p1));
    if (gs_test_failed() || !c) goto out;
    /* the numbers do not change */
    CHECK(p0.S == p1.S && p0.H == p1.H && p0.W == p1.W);
    CHECK_MSG(!memcmp(p0.depth, p1.depth, (size_t)p0.S * p0.H * p0.W * sizeof(float)), "%s: depth changed", model);
    CHECK_EQ_INT(p0.gaussians.n, p1.gaussians.n);
    if (p0.gaussians.n == p1.gaussians.n && p0.gaussians.n)
        CHECK_MSG(!memcmp(p0.gaussians.means, p1.gaussians.means, (size_t)p0.gaussians.n * 3 * sizeof(float)),
                  "%s: Gaussians changed", model);
    /* preprocessing first, with no total yet; then one fixed total */
    CHECK_MSG(c->n > 3, "%s: %d calls", model, c->n);
    CHECK_STR(c->stage[0], "preprocess");
    CHECK_EQ_INT(c->done[0], 0);
    CHECK_EQ_INT(c->total[0], 0);
    const int64_t total = gs_da3_work(&m, p1.S, p1.H, p1.W, posed, &o);
    CHECK_MSG(total > 0, "%s: gs_da3_work %lld", model, (long long)total);
    for (int i = 1; i < c->n; i++) {
        CHECK_MSG(c->total[i] == total, "%s: call %d (%s) total %lld, gs_da3_work %lld", model, i, c->stage[i],
                  (long long)c->total[i], (long long)total);
        CHECK_MSG(c->done[i] >= c->done[i - 1] && c->done[i] <= c->total[i], "%s: call %d (%s): done %lld after %lld",
                  model, i, c->stage[i], (long long)c->done[i], (long long)c->done[i - 1]);
    }
    CHECK_MSG(c->done[c->n - 1] == total, "%s: ends at %lld of %lld", model, (long long)c->done[c->n - 1],
              (long long)total);
    /* every block, once */
    CHECK_MSG(advances_in(c, "backbone") == m.cfg.net.depth, "%s: %d backbone steps, %d blocks", model,
              advances_in(c, "backbone"), m.cfg.net.depth);
    if (m.cfg.nested)
        CHECK_MSG(advances_in(c, "metric backbone") == m.cfg.metric.depth, "%s: %d metric backbone steps", model,
                  advances_in(c, "metric backbone"));
    /* each head, progressing within it (after its convolutions, one view at a time) */
    CHECK_MSG(advances_in(c, "head") >= (dump ? 1 : 2 * S), "%s: %d head steps", model, advances_in(c, "head"));
    if (infer_gs) CHECK_MSG(advances_in(c, "gaussians") >= 2 * S, "%s: %d Gaussian steps", model, advances_in(c, "gaussians"));
    for (int k = 0; stages[k]; k++) CHECK_MSG(has_stage(c, stages[k]), "%s: no stage \"%s\"", model, stages[k]);
    /* the backbone's steps are in proportion to the blocks' costs */
    double b = 0;
    for (int i = 0; i < m.cfg.net.depth; i++) b += gs_vit_block_cost(&m.net.vit, p1.S, p1.H, p1.W, i);
    int64_t first = -1, last = -1;
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->stage[i], "backbone")) {
            if (first < 0) first = c->done[i];
            last = c->done[i];
        }
    CHECK_MSG(fabs((double)(last - first) - b) <= m.cfg.net.depth, "%s: backbone %lld units, blocks %.0f", model,
              (long long)(last - first), b);
out:
    gs_da3_prediction_free(&p0);
    gs_da3_prediction_free(&p1);
    for (int v = 0; v < S; v++) gs_image_free(&im[v]);
    free(c);
    free(w2c);
    free(K);
    gs_da3_free(&m);
}

TEST(progress_anyview_sequence) {
    const char *st[] = {"backbone", "head", "cameras", NULL};
    check_sequence("tiny-anyview", 2, 0, 0, 0, 0, st);
}

TEST(progress_anyview_posed_ray_sequence) {
    const char *st[] = {"camera encoder", "backbone", "head", "cameras", NULL};
    check_sequence("tiny-anyview", 3, 0, 1, 1, 0, st);
}

TEST(progress_anyview_dump_sequence) {
    const char *st[] = {"backbone", "head", "cameras", NULL};
    check_sequence("tiny-anyview", 2, 0, 0, 0, 1, st); /* the heads run all views as one chunk */
}

TEST(progress_mono_sequence) {
    const char *st[] = {"backbone", "head", "sky", NULL};
    check_sequence("tiny-mono", 1, 0, 0, 0, 0, st);
}

TEST(progress_nested_sequence) {
    const char *st[] = {"backbone", "head", "cameras", "metric backbone", "metric head", "metric scale", NULL};
    check_sequence("tiny-nested", 2, 0, 0, 0, 0, st);
}

TEST(progress_giant_gaussians_sequence) {
    const char *st[] = {"backbone", "head", "cameras", "gaussians", NULL};
    check_sequence("tiny-giant", 2, 1, 0, 0, 0, st);
}

/* The cost model follows the architecture: a global block costs more than a
 * local one with several views, and the backbone dominates da3-large's
 * forward as in docs/da3-architecture.md §10 (682 of 1250 GFLOP, the head's
 * aux branch skipped: 682 vs 212 by FLOP; the head's convolutions are
 * weighted 1.8x). Bound from the key list, so no weights are needed. */
TEST(progress_costs_follow_the_architecture) {
    gs_da3_config cfg;
    CHECK_OK(gs_da3_config_named("da3-large", &cfg));
    if (gs_test_failed()) return;
    gs_vit vit;
    memset(&vit, 0, sizeof vit);
    vit.cfg = cfg.net;
    const int H = 378, W = 504;
    double b1 = 0;
    for (int i = 0; i < cfg.net.depth; i++) b1 += gs_vit_block_cost(&vit, 1, H, W, i);
    /* §10.1: 681.9 GFLOP for one view; the element term adds a few percent */
    CHECK_MSG(b1 > 681.9e9 && b1 < 1.05 * 681.9e9, "da3-large backbone cost %.1f G", b1 / 1e9);
    const int g = cfg.net.alt_start + 1, l = cfg.net.alt_start; /* alt_start is even: odd blocks after it are global */
    CHECK(gs_vit_block_cost(&vit, 8, H, W, g) > gs_vit_block_cost(&vit, 8, H, W, l) * 1.05);
    CHECK_NEAR(gs_vit_block_cost(&vit, 1, H, W, g), gs_vit_block_cost(&vit, 1, H, W, l), 1.0);
    /* S = 8: 0.90 T a view (§10.1 multi-view table) */
    double b8 = 0;
    for (int i = 0; i < cfg.net.depth; i++) b8 += gs_vit_block_cost(&vit, 8, H, W, i);
    CHECK_MSG(b8 / 8 > 0.88e12 && b8 / 8 < 1.0e12, "da3-large backbone, 8 views: %.1f G a view", b8 / 8e9);
    CHECK(gs_vit_block_cost(&vit, 1, H, W, -1) == 0.0 && gs_vit_block_cost(&vit, 1, H, W, cfg.net.depth) == 0.0);
}

/* ---- the ETA arithmetic and the meter ------------------------------------------------ */

TEST(progress_eta_arithmetic) {
    CHECK_NEAR(gs_eta(10.0, 25, 100), 30.0, 1e-12);
    CHECK_NEAR(gs_eta(3.0, 1, 4), 9.0, 1e-12);
    CHECK_NEAR(gs_eta(5.0, 100, 100), 0.0, 0.0);
    CHECK_NEAR(gs_eta(5.0, 0, 100), -1.0, 0.0);   /* nothing done: unknown */
    CHECK_NEAR(gs_eta(5.0, 10, 0), -1.0, 0.0);    /* no total: unknown */
    CHECK_NEAR(gs_eta(NAN, 10, 20), -1.0, 0.0);
    char b[32];
    CHECK_STR(gs_format_duration(0.44, b, sizeof b), "0.4 s");
    CHECK_STR(gs_format_duration(12.34, b, sizeof b), "12.3 s");
    CHECK_STR(gs_format_duration(59.96, b, sizeof b), "1 min 00 s");
    CHECK_STR(gs_format_duration(245.0, b, sizeof b), "4 min 05 s");
    CHECK_STR(gs_format_duration(7380.0, b, sizeof b), "2 h 03 min");
    CHECK_STR(gs_format_duration(-1.0, b, sizeof b), "?");
}

static double g_fake_now;
static double fake_clock(void) { return g_fake_now; }

/* The meter's output for a scripted run under the fake clock. */
static char *meter_script(int tty, int quiet) {
    const char *path = gs_test_tmp(tty ? "meter_tty.txt" : "meter_log.txt");
    FILE *f = fopen(path, "w+");
    CHECK(f != NULL);
    if (!f) return NULL;
    gs_meter m;
    g_fake_now = 100.0;
    gs_meter_begin(&m, "gs x", quiet);
    m.clock = fake_clock;
    m.out = f;
    m.tty = tty;
    m.t0 = 100.0;
    gs_meter_update(&m, "preprocess", 0, 0);   /* t 0: no total yet */
    g_fake_now = 101.0;
    gs_meter_update(&m, "backbone", 0, 1000);  /* t 1: the measure starts */
    g_fake_now = 102.0;
    gs_meter_update(&m, "backbone", 100, 1000); /* 100 in 1 s: 9 s left */
    g_fake_now = 102.05;
    gs_meter_update(&m, "backbone", 150, 1000); /* same tenth; a tty: within 0.1 s */
    g_fake_now = 107.0;
    gs_meter_update(&m, "head", 600, 1000);    /* 600 in 6 s: 4 s left */
    g_fake_now = 108.0;
    gs_meter_update(&m, "head", 790, 1000);    /* 790 in 7 s: 1.9 s left */
    g_fake_now = 111.0;
    gs_meter_update(&m, "head", 1000, 1000);
    g_fake_now = 111.5;
    gs_meter_stage(&m, "writing");
    gs_meter_end(&m);
    fclose(f);
    uint8_t *d = NULL;
    size_t n = 0;
    CHECK_OK(gs_read_file(path, 1 << 16, &d, &n));
    return (char *)d;
}

TEST(progress_meter_lines_in_a_log) {
    char *s = meter_script(0, 0);
    if (!s) return;
    const char *want =
        "gs x: preprocess ... (0.0 s)\n"
        "gs x: backbone ... (1.0 s, 0%)\n"
        "gs x: 10% (backbone), 2.0 s, eta 9.0 s\n"
        "gs x: head ... (7.0 s, 60%, eta 4.0 s)\n"
        "gs x: 79% (head), 8.0 s, eta 1.9 s\n"
        "gs x: 100% (11.0 s)\n"
        "gs x: writing ... (11.5 s)\n";
    CHECK_STR(s, want);
    free(s);
    s = meter_script(0, 1);
    CHECK_MSG(s && !*s, "quiet meter printed: %s", s ? s : "");
    free(s);
}

TEST(progress_meter_one_line_on_a_terminal) {
    char *s = meter_script(1, 0);
    if (!s) return;
    int cr = 0, nl = 0;
    for (const char *p = s; *p; p++) cr += *p == '\r', nl += *p == '\n';
    /* drawn at t 0, 1, 2, 7, 8 and 11 (102.05 is within 0.1 s of 102), then
     * the line is closed for the "writing" line */
    CHECK_MSG(cr == 6, "%d redraws in: %s", cr, s);
    CHECK_EQ_INT(nl, 2);
    CHECK(strstr(s, "\rgs x: backbone  10%  2.0 s, eta 9.0 s") != NULL);
    CHECK(strstr(s, "\rgs x: head  60%  7.0 s, eta 4.0 s") != NULL);
    CHECK(strstr(s, "\rgs x: head 100%  11.0 s") != NULL);
    CHECK(strstr(s, "\ngs x: writing ... (11.5 s)\n") != NULL);
    CHECK(strstr(s, "15%") == NULL); /* throttled */
    free(s);
}

/* ---- the CLI ------------------------------------------------------------------------ */

#define FERN "scenes/fern/images_8/"

TEST(progress_cli_infer_lines_with_eta) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(GOLD "tiny-anyview/model.safetensors");
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "infer --model " GOLD "tiny-anyview %s %s --process-res 98 --out %s",
             gs_test_data(FERN "image000.png"), gs_test_data(FERN "image007.png"), gs_test_tmp("pinfer"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    /* stage lines with the percent and ETA, and the end */
    CHECK_MSG(out && strstr(out, "gs infer: backbone ... (") && strstr(out, "gs infer: head ... (") &&
                  strstr(out, "%, eta ") && strstr(out, "gs infer: 100% ("),
              "%s", out ? out : "");
    CHECK_MSG(out && !strchr(out, '\r'), "a \\r in a log: %s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "infer --model " GOLD "tiny-anyview %s --process-res 98 --out %s --quiet",
             gs_test_data(FERN "image000.png"), gs_test_tmp("pinfer_q"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && !strstr(out, "eta") && !strstr(out, "%") && !strstr(out, "backbone"), "%s", out ? out : "");
    free(out);
}

TEST(progress_cli_render_frames_with_eta) {
    NEED_GS_BIN();
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 2, 0));
    if (gs_test_failed()) return;
    for (int i = 0; i < 2; i++) {
        s.means[3 * i + 2] = 4 + i;
        for (int k = 0; k < 3; k++) s.scales[3 * i + k] = 0.3f;
        s.opacities[i] = 0.9f;
        s.sh[3 * i + i] = 1.5f;
    }
    const char *ply = gs_test_tmp("prog_two.ply");
    CHECK_OK(gs_ply_write(ply, &s));
    gs_scene_free(&s);
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "render %s --trajectory orbit --frames 5 --width 40 --height 30 --out %s", ply,
             gs_test_tmp("prog_orbit"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    /* frame i of 5 with the time and an ETA, then the last frame */
    CHECK_MSG(out && strstr(out, "render: 1/5 (20%) ") && strstr(out, ", eta ") && strstr(out, "render: 5/5 (100%)"),
              "%s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "render %s --trajectory orbit --frames 5 --width 40 --height 30 --out %s --quiet", ply,
             gs_test_tmp("prog_orbit_q"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && !strstr(out, "eta") && !strstr(out, "1/5"), "%s", out ? out : "");
    free(out);
}
