/* test_eval_nvs.c - the novel-view evaluation protocol (gs/nvs/eval_nvs.h,
 * `gs eval-nvs`): view selection against hand-worked cases and an
 * independent farthest-point sampling, the Sim(3) alignment on cameras with
 * a known transform (in isolation and through the whole protocol), the whole
 * run on fern and lego with the tiny random GS model (structure, files,
 * determinism, metrics recomputed from the written renders), and bad input.
 * The random model's renders are meaningless, so only structure and
 * consistency are asserted on real scenes, never quality. */
#include "tests/test.h"
#include "gs/nvs/eval_nvs.h"
#include "data/align.h"
#include "data/cameras.h"
#include "data/image.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TINY_GS "tests/golden/da3/tiny-giant"
#define TINY_ANY "tests/golden/da3/tiny-anyview"
#define FERN_POSES "scenes/fern/poses_bounds.npy"
#define LEGO_TRAIN "scenes/lego/transforms_train.json"

/* A camera at centre C looking along +z (identity rotation). */
static gs_camera cam_at(double x, double y, double z) {
    gs_camera c;
    memset(&c, 0, sizeof c);
    c.R[0] = c.R[4] = c.R[8] = 1;
    c.t[0] = -x;
    c.t[1] = -y;
    c.t[2] = -z;
    c.fx = c.fy = 100;
    c.cx = 32;
    c.cy = 24;
    c.width = 64;
    c.height = 48;
    c.has_pose = 1;
    return c;
}

/* Rotation about a unit axis by angle a (Rodrigues). */
static void axis_angle(double ax, double ay, double az, double a, double R[9]) {
    double n = sqrt(ax * ax + ay * ay + az * az);
    ax /= n, ay /= n, az /= n;
    double c = cos(a), s = sin(a), C = 1 - c;
    double M[9] = {c + ax * ax * C, ax * ay * C - az * s, ax * az * C + ay * s,
                   ay * ax * C + az * s, c + ay * ay * C, ay * az * C - ax * s,
                   az * ax * C - ay * s, az * ay * C + ax * s, c + az * az * C};
    memcpy(R, M, sizeof M);
}

TEST(eval_nvs_select_views_hand_worked) {
    /* centres on a line at x = 0..7 */
    gs_camera cams[8];
    for (int i = 0; i < 8; i++) cams[i] = cam_at(i, 0, 0);
    int ctx[8], tgt[8], nc, nt;
    gs_nvs_split_opts o;
    gs_nvs_split_opts_default(&o);
    CHECK_EQ_INT(o.num_context, 4);
    /* FPS of 3 from view 0: 0, then 7 (farthest), then 3 (3 and 4 are both 3
     * from {0, 7}; the tie goes to the lower index) */
    o.num_context = 3;
    CHECK_OK(gs_nvs_select_views(cams, 8, &o, ctx, &nc, tgt, &nt));
    CHECK_EQ_INT(nc, 3);
    CHECK_EQ_INT(nt, 5);
    if (nc == 3) CHECK(ctx[0] == 0 && ctx[1] == 3 && ctx[2] == 7);
    const int rest[5] = {1, 2, 4, 5, 6};
    for (int i = 0; i < 5 && nt == 5; i++) CHECK_EQ_INT(tgt[i], rest[i]);
    /* every:4 holds out 0 and 4 first; FPS over {1,2,3,5,6,7} from 1: 7, then 3
     * (distance 2, tied with 5, lower index) */
    o.target_mode = GS_NVS_TARGETS_EVERY;
    o.target_every = 4;
    CHECK_OK(gs_nvs_select_views(cams, 8, &o, ctx, &nc, tgt, &nt));
    CHECK(nc == 3 && ctx[0] == 1 && ctx[1] == 3 && ctx[2] == 7);
    CHECK(nt == 2 && tgt[0] == 0 && tgt[1] == 4);
    /* explicit context with every:4: the held-out view 4 is a context view and is dropped */
    const int c2[2] = {4, 6};
    o.context = c2;
    o.n_context = 2;
    CHECK_OK(gs_nvs_select_views(cams, 8, &o, ctx, &nc, tgt, &nt));
    CHECK(nc == 2 && ctx[0] == 4 && ctx[1] == 6);
    CHECK(nt == 1 && tgt[0] == 0);
    /* rest with a cap of 2 over the 6 others {0,1,2,3,5,7}: evenly spaced j*6/2 -> 0, 3 */
    o.target_mode = GS_NVS_TARGETS_REST;
    o.max_targets = 2;
    CHECK_OK(gs_nvs_select_views(cams, 8, &o, ctx, &nc, tgt, &nt));
    CHECK(nt == 2 && tgt[0] == 0 && tgt[1] == 3);
    /* a target list with FPS picking the context among the others */
    const int tl[2] = {0, 7};
    gs_nvs_split_opts_default(&o);
    o.num_context = 2;
    o.target_mode = GS_NVS_TARGETS_LIST;
    o.targets = tl;
    o.n_targets = 2;
    CHECK_OK(gs_nvs_select_views(cams, 8, &o, ctx, &nc, tgt, &nt));
    CHECK(nc == 2 && ctx[0] == 1 && ctx[1] == 6);
    CHECK(nt == 2 && tgt[0] == 0 && tgt[1] == 7);
    /* every context and target set is disjoint */
    for (int i = 0; i < nc; i++)
        for (int j = 0; j < nt; j++) CHECK(ctx[i] != tgt[j]);
}

TEST(eval_nvs_select_views_errors) {
    gs_camera cams[5];
    for (int i = 0; i < 5; i++) cams[i] = cam_at(i, i * i, 0);
    int ctx[5], tgt[5], nc, nt;
    gs_nvs_split_opts o;
    gs_nvs_split_opts_default(&o);
    const int out_of_range[2] = {1, 5}, twice[2] = {2, 2}, all[5] = {0, 1, 2, 3, 4}, neg[1] = {-1};
    o.context = out_of_range;
    o.n_context = 2;
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "context view 5 is out of range");
    o.context = neg;
    o.n_context = 1;
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "out of range");
    o.context = twice;
    o.n_context = 2;
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "listed twice");
    o.context = all;
    o.n_context = 5;
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "no target views");
    CHECK_EQ_INT(nc, 0);
    /* FPS asked for more views than are left */
    gs_nvs_split_opts_default(&o);
    o.num_context = 5; /* possible, but leaves nothing to score */
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "no target views");
    o.num_context = 6;
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "cannot choose 6 context views");
    o.num_context = 2;
    o.target_mode = GS_NVS_TARGETS_EVERY;
    o.target_every = 1; /* everything held out */
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "0 of the 5 views are not targets");
    o.target_every = 0;
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "at least 1");
    /* a list naming a context view */
    const int c1[1] = {3}, t1[2] = {1, 3};
    o.context = c1;
    o.n_context = 1;
    o.target_mode = GS_NVS_TARGETS_LIST;
    o.targets = t1;
    o.n_targets = 2;
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "view 3 is both a context view and a target");
    o.n_targets = 0;
    CHECK_ERR(gs_nvs_select_views(cams, 5, &o, ctx, &nc, tgt, &nt), "target list is empty");
}

/* gt cameras scattered in space with varied orientations; pred = T(gt). */
static void make_pair(gs_camera *gt, gs_camera *pred, int n, const gs_sim3 *T) {
    for (int i = 0; i < n; i++) {
        gt[i] = cam_at(1.5 * cos(1.1 * i), 0.7 * sin(0.9 * i) + 0.2 * i, 0.3 * i * i - 1.0);
        double R[9];
        axis_angle(0.3 + i, 1.0, -0.5 * i, 0.2 + 0.35 * i, R);
        double C[3];
        gs_camera_center(&gt[i], C);
        memcpy(gt[i].R, R, sizeof R);
        for (int a = 0; a < 3; a++) gt[i].t[a] = -(R[3 * a] * C[0] + R[3 * a + 1] * C[1] + R[3 * a + 2] * C[2]);
        pred[i] = gt[i];
    }
    gs_cameras_apply_sim3(pred, n, T);
}

static void check_same_sim3(const gs_sim3 *A, const gs_sim3 *B, double tol) {
    CHECK_NEAR(A->s, B->s, tol * B->s);
    for (int k = 0; k < 9; k++) CHECK_NEAR(A->R[k], B->R[k], tol);
    for (int k = 0; k < 3; k++) CHECK_NEAR(A->t[k], B->t[k], tol * (1 + fabs(B->t[k])));
}

TEST(eval_nvs_align_known_sim3) {
    gs_sim3 T;
    axis_angle(1, -2, 0.5, 2.1, T.R);
    T.s = 0.037; /* DA3 frames are small against metric ground truth */
    T.t[0] = 0.4, T.t[1] = -1.25, T.t[2] = 3.0;
    gs_camera gt[6], pred[6];
    make_pair(gt, pred, 6, &T);
    gs_nvs_alignment a;
    CHECK_OK(gs_nvs_align(gt, pred, 6, &a));
    CHECK_EQ_INT(a.method, GS_NVS_ALIGN_UMEYAMA);
    check_same_sim3(&a.T, &T, 1e-9);
    CHECK(a.rmse_gt < 1e-9 && a.rmse_pred < 1e-11 && a.rot_max_deg < 1e-6);
    CHECK(a.spread_gt > 0.5);
    CHECK_NEAR(a.spread_pred, T.s * a.spread_gt, 1e-12);
    const double spread6 = a.spread_pred;

    /* two views (or centres on a line): the centres leave the rotation about
     * their line free; the camera orientations fix it */
    CHECK_OK(gs_nvs_align(gt, pred, 2, &a));
    CHECK_EQ_INT(a.method, GS_NVS_ALIGN_ROTATION);
    check_same_sim3(&a.T, &T, 1e-9);
    CHECK(a.rmse_pred < 1e-12 && a.rot_max_deg < 1e-6);
    gs_camera lg[3], lp[3];
    for (int i = 0; i < 3; i++) {
        lg[i] = gt[i];
        double C[3] = {0.5 * i, 1.0 * i, -0.25 * i}; /* collinear */
        for (int r = 0; r < 3; r++) lg[i].t[r] = -(lg[i].R[3 * r] * C[0] + lg[i].R[3 * r + 1] * C[1] + lg[i].R[3 * r + 2] * C[2]);
        lp[i] = lg[i];
    }
    gs_cameras_apply_sim3(lp, 3, &T);
    CHECK_OK(gs_nvs_align(lg, lp, 3, &a));
    CHECK_EQ_INT(a.method, GS_NVS_ALIGN_ROTATION);
    check_same_sim3(&a.T, &T, 1e-9);

    /* one predicted centre moved by d along x (about 1% of the predicted
     * spread): Umeyama spreads the residual, so 0 < rmse_pred < d, and the
     * GT-unit figures are the predicted ones / s */
    make_pair(gt, pred, 6, &T);
    const double d = 0.01 * spread6;
    double C[3];
    gs_camera_center(&pred[2], C);
    C[0] += d;
    for (int r = 0; r < 3; r++) pred[2].t[r] = -(pred[2].R[3 * r] * C[0] + pred[2].R[3 * r + 1] * C[1] + pred[2].R[3 * r + 2] * C[2]);
    CHECK_OK(gs_nvs_align(gt, pred, 6, &a));
    CHECK(a.rmse_pred > 0.1 * d / sqrt(6.0) && a.rmse_pred < d);
    CHECK(a.max_pred < d && a.max_pred >= a.rmse_pred);
    CHECK_NEAR(a.rmse_gt, a.rmse_pred / a.T.s, 1e-12 * a.rmse_gt);
    CHECK_NEAR(a.rmse_rel, a.rmse_pred / a.spread_pred, 1e-15);
    CHECK_MSG(a.rot_max_deg > 0 && a.rot_max_deg < 1.0, "rotation error %g deg", a.rot_max_deg); /* small refit */

    /* bad input */
    CHECK_ERR(gs_nvs_align(gt, pred, 1, &a), "at least 2 context views");
    gs_camera same[3] = {cam_at(1, 2, 3), cam_at(1, 2, 3), cam_at(1, 2, 3)};
    CHECK_ERR(gs_nvs_align(same, pred, 3, &a), "ground-truth camera centres of the 3 context views coincide");
    CHECK_ERR(gs_nvs_align(gt, same, 3, &a), "predicted camera centres");
    gs_camera bad = gt[0];
    bad.t[1] = NAN;
    gs_camera two[2] = {bad, gt[1]};
    CHECK_ERR(gs_nvs_align(two, pred, 2, &a), "non-finite");
}

/* ---- the whole protocol on real scenes ------------------------------------------- */

/* Farthest-point sampling written out independently: start at view 0, add
 * the view farthest from the chosen set (ties: lowest index). */
static void naive_fps(const gs_cameras *c, int k, int *chosen_mask) {
    const int n = c->n;
    double C[64][3];
    for (int i = 0; i < n && i < 64; i++) gs_camera_center(&c->cams[i], C[i]);
    memset(chosen_mask, 0, (size_t)n * sizeof *chosen_mask);
    chosen_mask[0] = 1;
    for (int m = 1; m < k; m++) {
        int best = -1;
        double bd = -1;
        for (int i = 0; i < n; i++) {
            if (chosen_mask[i]) continue;
            double dmin = INFINITY;
            for (int j = 0; j < n; j++)
                if (chosen_mask[j]) {
                    double dx = C[i][0] - C[j][0], dy = C[i][1] - C[j][1], dz = C[i][2] - C[j][2];
                    dmin = fmin(dmin, sqrt(dx * dx + dy * dy + dz * dz));
                }
            if (dmin > bd) bd = dmin, best = i;
        }
        chosen_mask[best] = 1;
    }
}

static cJSON *read_json(const char *path) {
    uint8_t *data = NULL;
    size_t n = 0;
    if (gs_read_file(path, 1 << 22, &data, &n)) return NULL;
    cJSON *j = cJSON_Parse((const char *)data);
    free(data);
    return j;
}

static const cJSON *jget(const cJSON *o, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const cJSON *cur = o;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
    return cur;
}

static int jfinite(const cJSON *o, const char *path) {
    const cJSON *v = jget(o, path);
    return v && cJSON_IsNumber(v) && isfinite(v->valuedouble);
}

/* The written render against the ground truth: PSNR recomputed from the PNG
 * (8-bit rounding of the float render costs well under 0.1 dB at these
 * error levels). */
static void check_render_file(const char *dir, const gs_nvs_scene *sc, const gs_nvs_target_row *row) {
    char path[1200];
    snprintf(path, sizeof path, "%s/renders/%s.png", dir, row->name);
    gs_image r, g;
    CHECK_OK(gs_image_read(path, &r));
    CHECK_OK(gs_nvs_scene_image(sc, row->index, &g));
    if (gs_test_failed()) return;
    CHECK_EQ_INT(r.width, sc->width);
    CHECK_EQ_INT(r.height, sc->height);
    CHECK_EQ_INT(r.channels, 3);
    double p;
    CHECK_OK(gs_psnr(&r, &g, &p));
    CHECK_NEAR(p, row->psnr, 0.05);
    gs_image_free(&r);
    gs_image_free(&g);
}

static int files_equal(const char *a, const char *b) {
    uint8_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int eq = !gs_read_file(a, 1 << 26, &x, &nx) && !gs_read_file(b, 1 << 26, &y, &ny) && nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return eq;
}

TEST(eval_nvs_fern_end_to_end) {
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, TINY_GS, NULL));
    if (gs_test_failed()) return;
    char cams[1024], dir1[1024], dir2[1024], path[1200];
    snprintf(cams, sizeof cams, "%s", gs_test_data(FERN_POSES));
    snprintf(dir1, sizeof dir1, "%s", gs_test_tmp("nvs_fern1"));
    snprintf(dir2, sizeof dir2, "%s", gs_test_tmp("nvs_fern2"));
    gs_nvs_eval_opts o;
    gs_nvs_eval_opts_default(&o);
    o.cameras_path = cams;
    o.llff_factor = 8;
    o.out_dir = dir1;
    o.process_res = 56;
    o.split.num_context = 3;
    o.split.max_targets = 2;
    o.quiet = 1;
    CHECK_OK(gs_eval_metrics_parse("psnr,ssim", &o.eval));
    o.eval.device = GS_DEVICE_CPU;
    gs_nvs_eval_report r1, r2;
    CHECK_OK(gs_nvs_evaluate(&m, &o, &r1));
    if (gs_test_failed()) { gs_da3_free(&m); return; }
    o.out_dir = dir2;
    CHECK_OK(gs_nvs_evaluate(&m, &o, &r2));
    if (gs_test_failed()) { gs_nvs_eval_report_free(&r1); gs_da3_free(&m); return; }

    /* the scene and the split */
    CHECK_EQ_INT(r1.n_views, 20);
    CHECK(r1.width == 504 && r1.height == 378);
    CHECK(r1.bg[0] == 0.0f); /* RGB data: black, as DA3's renderer */
    CHECK_STR(r1.context_mode, "fps");
    CHECK_STR(r1.target_mode, "rest");
    gs_cameras gc;
    gs_camera_read_opts ro = {8};
    CHECK_OK(gs_cameras_read(cams, &ro, &gc, NULL));
    int mask[20] = {0};
    if (gc.n == 20) naive_fps(&gc, 3, mask);
    CHECK_EQ_INT(r1.n_context, 3);
    for (int i = 0; i < r1.n_context; i++) CHECK_MSG(mask[r1.context[i]], "context view %d is not FPS's", r1.context[i]);
    CHECK_EQ_INT(r1.n_targets_before_cap, 17);
    CHECK_EQ_INT(r1.n_targets, 2);
    int rest[20], nr = 0;
    for (int v = 0; v < 20; v++)
        if (!mask[v]) rest[nr++] = v;
    CHECK_EQ_INT(nr, 17);
    /* cap 2 of 17: rest[0], rest[8] */
    if (r1.n_targets == 2 && nr == 17) CHECK(r1.targets[0] == rest[0] && r1.targets[1] == rest[8]);
    for (int i = 0; i < r1.n_context; i++)
        for (int j = 0; j < r1.n_targets; j++) CHECK(r1.context[i] != r1.targets[j]);
    CHECK(r1.net_width == 56 && r1.net_height == 42);
    CHECK_EQ_INT(r1.n_gaussians, 3 * 56 * 42);
    CHECK(r1.ref_index >= 0 && r1.ref_index < 3);
    /* the alignment measures what it says: recompute it from the cameras */
    gs_camera gt_ctx[3], pr[3];
    for (int i = 0; i < 3; i++) {
        gt_ctx[i] = gc.cams[r1.context[i]];
        memset(&pr[i], 0, sizeof pr[i]);
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) pr[i].R[3 * a + b] = r1.pred_context_w2c[12 * i + 4 * a + b];
            pr[i].t[a] = r1.pred_context_w2c[12 * i + 4 * a + 3];
        }
    }
    gs_align_error ae;
    CHECK_OK(gs_camera_alignment_error(pr, gt_ctx, 3, 1, &ae));
    CHECK_NEAR(ae.rmse, r1.align.rmse_pred, 1e-9 * (1 + ae.rmse));
    CHECK_NEAR(ae.T.s, r1.align.T.s, 1e-9 * ae.T.s);
    CHECK(isfinite(r1.align.rmse_gt) && isfinite(r1.align.rot_mean_deg) && r1.align.rmse_rel <= 1.0 + 1e-9);
    /* metrics, and the renders on disk reproduce them */
    for (int j = 0; j < r1.n_targets; j++) {
        CHECK(isfinite(r1.rows[j].psnr) && r1.rows[j].psnr > 0);
        CHECK(r1.rows[j].ssim > -1 && r1.rows[j].ssim <= 1);
        CHECK(isnan(r1.rows[j].lpips));
    }
    gs_nvs_scene sc;
    CHECK_OK(gs_nvs_scene_load(cams, NULL, 8, GS_NVS_BG_AUTO, &sc));
    for (int j = 0; j < r1.n_targets && !gs_test_failed(); j++) check_render_file(dir1, &sc, &r1.rows[j]);
    gs_nvs_scene_free(&sc);
    CHECK_NEAR(r1.mean_psnr, (r1.rows[0].psnr + r1.rows[1].psnr) / 2, 1e-12);
    /* contact sheet: 3 tiles per row, one row per target, 1200 px wide at most */
    gs_image cs;
    snprintf(path, sizeof path, "%s/contact_sheet.png", dir1);
    CHECK_OK(gs_image_read(path, &cs));
    CHECK(cs.width <= 1200 && cs.width > 600);
    int tw = (cs.width - 16) / 3, th = (int)lround(378.0 * tw / 504);
    CHECK_EQ_INT(cs.height, 2 * th + 12);
    gs_image_free(&cs);

    /* determinism: same numbers, same files */
    CHECK(memcmp(r1.context, r2.context, sizeof(int) * 3) == 0);
    CHECK(memcmp(&r1.align.T, &r2.align.T, sizeof r1.align.T) == 0);
    for (int j = 0; j < r1.n_targets; j++) {
        CHECK(r1.rows[j].psnr == r2.rows[j].psnr && r1.rows[j].ssim == r2.rows[j].ssim);
        char a[1200], b[1200];
        snprintf(a, sizeof a, "%s/renders/%s.png", dir1, r1.rows[j].name);
        snprintf(b, sizeof b, "%s/renders/%s.png", dir2, r1.rows[j].name);
        CHECK_MSG(files_equal(a, b), "%s differs between two runs", r1.rows[j].name);
    }
    snprintf(path, sizeof path, "%s/contact_sheet.png", dir1);
    char p2[1200];
    snprintf(p2, sizeof p2, "%s/contact_sheet.png", dir2);
    CHECK(files_equal(path, p2));

    /* metrics.json: present, complete, finite */
    snprintf(path, sizeof path, "%s/metrics.json", dir1);
    CHECK_OK(gs_nvs_write_json(&r1, path));
    cJSON *j = read_json(path);
    CHECK(j != NULL);
    if (j) {
        CHECK_STR(cJSON_GetStringValue(jget(j, "format")), "gs-eval-nvs");
        CHECK(jfinite(j, "metrics.psnr") && jfinite(j, "metrics.ssim") && !jget(j, "metrics.lpips"));
        const char *fin[] = {"alignment.scale", "alignment.centre_rmse_gt", "alignment.centre_rmse_pred",
                             "alignment.centre_rmse_relative", "alignment.rotation_mean_deg",
                             "alignment.rotation_max_deg", "network.gaussians", "timings_s.total",
                             "timings_s.network", "timings_s.render", "scene.width"};
        for (size_t k = 0; k < sizeof fin / sizeof fin[0]; k++) CHECK_MSG(jfinite(j, fin[k]), "%s missing or not finite", fin[k]);
        CHECK_EQ_INT(cJSON_GetArraySize(jget(j, "context.indices")), 3);
        CHECK_EQ_INT(cJSON_GetArraySize(jget(j, "context.predicted_cameras")), 3);
        const cJSON *pt = jget(j, "per_target");
        CHECK_EQ_INT(cJSON_GetArraySize(pt), 2);
        const cJSON *t0 = cJSON_GetArrayItem(pt, 0);
        CHECK(t0 && jfinite(t0, "psnr") && jfinite(t0, "ssim"));
        CHECK(t0 && jget(t0, "index") && (int)jget(t0, "index")->valuedouble == r1.targets[0]);
        CHECK_STR(cJSON_GetStringValue(jget(j, "alignment.method")), "umeyama");
        cJSON_Delete(j);
    }
    gs_cameras_free(&gc);
    gs_nvs_eval_report_free(&r1);
    gs_nvs_eval_report_free(&r2);
    gs_da3_free(&m);
}

/* Ground-truth cameras that are an exact, known Sim(3) of the predicted
 * cameras: the protocol must recover that transform with no error. The
 * unposed prediction depends only on the context images, so a second run on
 * the same images predicts the same cameras. */
TEST(eval_nvs_recovers_known_alignment) {
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, TINY_GS, NULL));
    if (gs_test_failed()) return;
    char cams[1024], imgs[1024], json[1024];
    snprintf(cams, sizeof cams, "%s", gs_test_data(FERN_POSES));
    snprintf(imgs, sizeof imgs, "%s", gs_test_data("scenes/fern/images_8"));
    snprintf(json, sizeof json, "%s", gs_test_tmp("nvs_known.json"));
    const int context[3] = {0, 1, 2};
    gs_nvs_eval_opts o;
    gs_nvs_eval_opts_default(&o);
    o.cameras_path = cams;
    o.llff_factor = 8;
    o.process_res = 56;
    o.split.context = context;
    o.split.n_context = 3;
    o.split.max_targets = 1;
    o.quiet = 1;
    CHECK_OK(gs_eval_metrics_parse("psnr", &o.eval));
    o.eval.device = GS_DEVICE_CPU;
    gs_nvs_eval_report r1, r2;
    CHECK_OK(gs_nvs_evaluate(&m, &o, &r1));
    if (gs_test_failed()) { gs_da3_free(&m); return; }
    CHECK_STR(r1.context_mode, "list");
    CHECK(r1.context[0] == 0 && r1.context[1] == 1 && r1.context[2] == 2);
    CHECK_EQ_INT(r1.targets[0], 3);

    /* synthetic ground truth: 5 views named after fern's images; the context
     * views are Tinv(predicted), so T = Tinv^-1 maps them back exactly */
    gs_sim3 T, Tinv;
    axis_angle(0.2, 1, -0.4, 0.8, T.R);
    T.s = 0.05;
    T.t[0] = 0.01, T.t[1] = 0.02, T.t[2] = -0.03;
    gs_sim3_inverse(&T, &Tinv);
    gs_cameras gc, syn;
    gs_camera_read_opts ro = {8};
    CHECK_OK(gs_cameras_read(cams, &ro, &gc, NULL));
    syn.n = 5;
    syn.cams = calloc(5, sizeof *syn.cams);
    if (gs_test_failed() || !syn.cams) { free(syn.cams); gs_nvs_eval_report_free(&r1); gs_da3_free(&m); return; }
    for (int i = 0; i < 5; i++) {
        syn.cams[i] = gc.cams[i]; /* intrinsics and size of the images */
        if (i < 3)
            for (int a = 0; a < 3; a++) {
                for (int b = 0; b < 3; b++) syn.cams[i].R[3 * a + b] = r1.pred_context_w2c[12 * i + 4 * a + b];
                syn.cams[i].t[a] = r1.pred_context_w2c[12 * i + 4 * a + 3];
            }
        snprintf(syn.cams[i].name, sizeof syn.cams[i].name, "image%03d.png", i);
    }
    gs_cameras_apply_sim3(syn.cams, 3, &Tinv);
    CHECK_OK(gs_cameras_write_json(json, &syn));
    o.cameras_path = json;
    o.images_dir = imgs;
    o.llff_factor = 0;
    CHECK_OK(gs_nvs_evaluate(&m, &o, &r2));
    if (!gs_test_failed()) {
        CHECK_STR(r2.pairing, "by name");
        CHECK_EQ_INT(r2.n_views, 5);
        CHECK_EQ_INT(r2.align.method, GS_NVS_ALIGN_UMEYAMA);
        /* the predicted cameras are float32: agreement to float precision */
        check_same_sim3(&r2.align.T, &T, 2e-5);
        CHECK_MSG(r2.align.rmse_rel < 1e-5, "relative centre RMSE %g", r2.align.rmse_rel);
        CHECK_MSG(r2.align.rot_max_deg < 0.01, "rotation error %g deg", r2.align.rot_max_deg);
        /* same context images -> the same prediction */
        CHECK(memcmp(r1.pred_context_w2c, r2.pred_context_w2c, 36 * sizeof(float)) == 0);
        CHECK(r2.n_targets == 1 && r2.targets[0] == 3);
        gs_nvs_eval_report_free(&r2);
    }
    gs_cameras_free(&gc);
    free(syn.cams);
    gs_nvs_eval_report_free(&r1);
    gs_da3_free(&m);
}

TEST(eval_nvs_lego_posed_end_to_end) {
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, TINY_GS, NULL));
    if (gs_test_failed()) return;
    char cams[1024], dir[1024];
    snprintf(cams, sizeof cams, "%s", gs_test_data(LEGO_TRAIN));
    snprintf(dir, sizeof dir, "%s", gs_test_tmp("nvs_lego"));
    gs_nvs_eval_opts o;
    gs_nvs_eval_opts_default(&o);
    o.cameras_path = cams;
    o.out_dir = dir;
    o.process_res = 56;
    o.split.num_context = 3;
    o.split.target_mode = GS_NVS_TARGETS_EVERY;
    o.split.target_every = 4; /* views 0, 4, 8, 12 held out */
    o.split.max_targets = 1;
    o.posed = 1;
    o.quiet = 1;
    CHECK_OK(gs_eval_metrics_parse("psnr", &o.eval));
    o.eval.device = GS_DEVICE_CPU;
    gs_nvs_eval_report r;
    CHECK_OK(gs_nvs_evaluate(&m, &o, &r));
    if (gs_test_failed()) { gs_da3_free(&m); return; }
    CHECK_EQ_INT(r.n_views, 13);
    CHECK(r.width == 800 && r.height == 800);
    CHECK(r.bg[0] == 1.0f && r.bg[2] == 1.0f); /* RGBA: white, as NeRF-synthetic */
    CHECK_STR(r.target_mode, "every:4");
    CHECK_EQ_INT(r.n_targets_before_cap, 4);
    CHECK(r.n_targets == 1 && r.targets[0] == 0);
    /* FPS over the views not held out, starting at the first of them (1) */
    CHECK_EQ_INT(r.context[0], 1);
    for (int i = 0; i < r.n_context; i++) CHECK_MSG(r.context[i] % 4 != 0, "held-out view %d used as context", r.context[i]);
    CHECK(r.posed == 1 && isfinite(r.pose_scale) && r.pose_scale >= 1.0 / 3 - 1e-9 && r.pose_scale <= 3 + 1e-9);
    CHECK(isfinite(r.align.rmse_gt) && isfinite(r.align.rot_mean_deg));
    CHECK_STR(r.rows[0].name, "r_0");
    /* the render against the ground truth composited over white */
    gs_nvs_scene sc;
    CHECK_OK(gs_nvs_scene_load(cams, NULL, 0, GS_NVS_BG_AUTO, &sc));
    if (!gs_test_failed()) {
        CHECK(sc.has_alpha);
        gs_image g;
        CHECK_OK(gs_nvs_scene_image(&sc, 0, &g));
        /* a corner pixel of r_0 is transparent: white after compositing */
        if (!gs_test_failed()) CHECK(g.channels == 3 && g.data[0] == 1.0f && g.data[1] == 1.0f);
        gs_image_free(&g);
        check_render_file(dir, &sc, &r.rows[0]);
        gs_nvs_scene_free(&sc);
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/contact_sheet.png", dir);
    CHECK(gs_file_exists(path));
    gs_nvs_eval_report_free(&r);
    gs_da3_free(&m);
}

/* Write a small RGB PNG. */
static void write_png(const char *path, int w, int h) {
    gs_image im;
    if (gs_image_alloc(&im, w, h, 3)) return;
    for (int i = 0; i < w * h * 3; i++) im.data[i] = (float)(i % 7) / 7.0f;
    CHECK_OK(gs_image_write_png(path, &im, 8));
    gs_image_free(&im);
}

static void write_cams(const char *path, const int (*sizes)[2], int n) {
    gs_cameras c = {n, calloc((size_t)n, sizeof(gs_camera))};
    for (int i = 0; c.cams && i < n; i++) {
        c.cams[i] = cam_at(i, 0.5 * i * i, 0);
        c.cams[i].width = sizes[i][0];
        c.cams[i].height = sizes[i][1];
        snprintf(c.cams[i].name, sizeof c.cams[i].name, "v%d.png", i);
    }
    CHECK_OK(gs_cameras_write_json(path, &c));
    free(c.cams);
}

TEST(eval_nvs_bad_inputs) {
    gs_nvs_scene sc;
    char dir[1024], cams[1200], p[1200];
    snprintf(dir, sizeof dir, "%s", gs_test_tmp("nvs_bad"));
    CHECK_OK(gs_mkdirs(dir));
    /* images missing */
    const int same[3][2] = {{32, 24}, {32, 24}, {32, 24}};
    snprintf(cams, sizeof cams, "%s/cams.json", dir);
    write_cams(cams, same, 3);
    CHECK_ERR(gs_nvs_scene_load(cams, NULL, 0, GS_NVS_BG_AUTO, &sc), "no image for camera 0 ('v0.png')");
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/v%d.png", dir, i);
        write_png(p, 32, 24);
    }
    CHECK_OK(gs_nvs_scene_load(cams, NULL, 0, GS_NVS_BG_AUTO, &sc));
    CHECK(sc.bg[0] == 0.0f && !sc.has_alpha);
    gs_nvs_scene_free(&sc);
    CHECK_ERR(gs_nvs_scene_load(cams, "/nonexistent-folder", 0, GS_NVS_BG_AUTO, &sc), "not a folder");
    /* images of different sizes (each matching its camera) */
    const int mixed[3][2] = {{32, 24}, {40, 30}, {32, 24}};
    write_cams(cams, mixed, 3);
    snprintf(p, sizeof p, "%s/v1.png", dir);
    write_png(p, 40, 30);
    CHECK_ERR(gs_nvs_scene_load(cams, NULL, 0, GS_NVS_BG_AUTO, &sc), "images of different sizes");
    /* an image that does not match its camera */
    write_cams(cams, same, 3);
    CHECK_ERR(gs_nvs_scene_load(cams, NULL, 0, GS_NVS_BG_AUTO, &sc), "camera 1 is 32x24 but its image");
    /* a corrupt image */
    CHECK_OK(gs_write_file_atomic(p, "not a png", 9));
    CHECK_ERR(gs_nvs_scene_load(cams, NULL, 0, GS_NVS_BG_AUTO, &sc), "v1.png");
    CHECK_ERR(gs_nvs_scene_load(NULL, NULL, 0, GS_NVS_BG_AUTO, &sc), "no camera file");
    snprintf(p, sizeof p, "%s/missing.json", dir);
    CHECK_ERR(gs_nvs_scene_load(p, NULL, 0, GS_NVS_BG_AUTO, &sc), "missing.json");

    if (!gs_test_data_dir()) return;
    /* LLFF without the factor: the hint names it */
    char poses[1024];
    snprintf(poses, sizeof poses, "%s", gs_test_data(FERN_POSES));
    CHECK_ERR(gs_nvs_scene_load(poses, NULL, 0, GS_NVS_BG_AUTO, &sc), "--llff-factor 8");
    /* unnamed cameras and a folder with another image count */
    CHECK_ERR(gs_nvs_scene_load(poses, dir, 8, GS_NVS_BG_AUTO, &sc), "holds 3 images");
    if (!gs_file_exists(TINY_ANY "/model.safetensors") || !gs_file_exists(TINY_GS "/model.safetensors")) return;
    /* a model without the 3DGS head */
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, TINY_ANY, NULL));
    gs_nvs_eval_opts o;
    gs_nvs_eval_opts_default(&o);
    o.cameras_path = poses;
    o.llff_factor = 8;
    o.quiet = 1;
    if (!gs_test_failed()) {
        CHECK_ERR(gs_nvs_evaluate(&m, &o, &(gs_nvs_eval_report){0}), "da3-giant or da3nested-giant-large");
        gs_da3_free(&m);
    }
    /* split errors through the protocol (before the network runs) */
    CHECK_OK(gs_da3_load(&m, TINY_GS, NULL));
    if (gs_test_failed()) return;
    gs_nvs_eval_report r;
    const int bad_ctx[2] = {3, 20}, one[1] = {5}, all20[20] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                                                 16, 17, 18, 19};
    o.split.context = bad_ctx;
    o.split.n_context = 2;
    CHECK_ERR(gs_nvs_evaluate(&m, &o, &r), "context view 20 is out of range (the scene has views 0..19)");
    o.split.context = all20;
    o.split.n_context = 20;
    CHECK_ERR(gs_nvs_evaluate(&m, &o, &r), "no target views");
    o.split.context = one;
    o.split.n_context = 1;
    CHECK_ERR(gs_nvs_evaluate(&m, &o, &r), "at least 2 context views");
    o.split.context = NULL;
    CHECK_OK(gs_eval_metrics_parse("lpips", &o.eval));
    o.eval.lpips_weights = "/nonexistent/lpips.safetensors";
    CHECK_ERR(gs_nvs_evaluate(&m, &o, &r), "LPIPS weights file not found");
    gs_da3_free(&m);
}

TEST(eval_nvs_cli) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char args[3000], cams[1024], *out = NULL;
    const char *dir = gs_test_tmp("nvs_cli");
    snprintf(cams, sizeof cams, "%s", gs_test_data(FERN_POSES));
    /* one target with all three metrics (LPIPS when its weights are here) */
    char lp[1024];
    int have_lpips = gs_lpips_find_weights(GS_LPIPS_ALEX, lp, sizeof lp) == GS_OK;
    snprintf(args, sizeof args,
             "eval-nvs --model " TINY_GS " --cameras %s --llff-factor 8 --out %s --process-res 56 --context 0,9,19 "
             "--targets every:5 --max-targets 1 --metrics %s --threads 2",
             cams, dir, have_lpips ? "psnr,ssim,lpips" : "psnr,ssim");
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "mean") && strstr(out, "alignment") && strstr(out, "timings:"), "output: %s",
              out ? out : "");
    /* every:5 holds out 0, 5, 10, 15; 0 is a context view and is dropped */
    CHECK_MSG(out && strstr(out, "targets    every:5: 1 of 3"), "output: %s", out ? out : "");
    free(out);
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.json", dir);
    cJSON *j = read_json(path);
    CHECK(j != NULL);
    if (j) {
        CHECK(jfinite(j, "metrics.psnr") && jfinite(j, "metrics.ssim"));
        if (have_lpips) CHECK(jfinite(j, "metrics.lpips"));
        CHECK_EQ_INT(cJSON_GetArraySize(jget(j, "targets.indices")), 1);
        CHECK_EQ_INT((int)cJSON_GetArrayItem(jget(j, "targets.indices"), 0)->valuedouble, 5);
        cJSON_Delete(j);
    }
    snprintf(path, sizeof path, "%s/renders/image005.png", dir);
    CHECK(gs_file_exists(path));
    snprintf(path, sizeof path, "%s/contact_sheet.png", dir);
    CHECK(gs_file_exists(path));
    /* a rerun into the folder: refused, then with --overwrite the earlier renders go (target 10, not 5) */
    char rerun[2800];
    snprintf(rerun, sizeof rerun,
             "eval-nvs --model " TINY_GS " --cameras %s --llff-factor 8 --out %s --process-res 56 --context 0,9,19 "
             "--targets 10 --metrics psnr --threads 2 --quiet", cams, dir);
    CHECK_EQ_INT(gs_test_run_gs(rerun, &out), 1);
    CHECK_MSG(out && strstr(out, "--overwrite"), "output: %s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "%s --overwrite", rerun);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(path, sizeof path, "%s/renders/image005.png", dir);
    CHECK_MSG(!gs_file_exists(path), "%s stayed beside the new run", path);
    snprintf(path, sizeof path, "%s/renders/image010.png", dir);
    CHECK(gs_file_exists(path));

    /* errors: exit 1 with the reason, usage errors exit 2 */
    dir = gs_test_tmp("nvs_cli_err");
    snprintf(args, sizeof args, "eval-nvs --model " TINY_ANY " --cameras %s --llff-factor 8 --out %s", cams, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "da3-giant"), "output: %s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "eval-nvs --model " TINY_GS " --cameras %s --out %s --context 0,x", cams, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "--context"));
    free(out);
    snprintf(args, sizeof args, "eval-nvs --model " TINY_GS " --cameras %s --out %s --targets every:0", cams, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    free(out);
    snprintf(args, sizeof args, "eval-nvs --model " TINY_GS " --out %s", dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "--cameras FILE is required"));
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("eval-nvs --help", &out), 0);
    CHECK(out && strstr(out, "farthest-point"));
    free(out);
}
