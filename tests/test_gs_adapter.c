/* test_gs_adapter.c - DA3's GaussianAdapter against the reference (golden gs.*
 * tensors of tests/golden/da3, made by the official code), its quirks on
 * hand-made inputs, geometry (Gaussians land on their pixels, the posed
 * Sim(3) scale), bad inputs, and DA3's PLY-export selection. */
#include "tests/test.h"
#include "data/align.h"
#include "data/cameras.h"
#include "data/safetensors.h"
#include "heads/gs_adapter.h"

#include <dirent.h>
#include <stdlib.h>

/* ---- golden parity ------------------------------------------------------------------ */
static const char *golden_dir(void) {
    const char *e = getenv("GS_GOLDEN_DA3"); /* lets a developer point at other reference files */
    return e && *e ? e : "tests/golden/da3";
}

static const float *tensor_f32(const gs_safetensors *st, const char *name, int ndim, const int64_t *shape) {
    const gs_st_tensor *t = gs_st_find(st, name);
    if (!t || t->dtype != GS_F32 || t->ndim != ndim) return NULL;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i]) return NULL;
    return (const float *)t->data;
}

typedef struct {
    double max_abs, max_rel; /* rel = |a-b| / max(|b|, 1) */
} errs;
static errs compare(const float *a, const float *b, int64_t n) {
    errs e = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]), r = d / fmax(fabs((double)b[i]), 1.0);
        if (!(d <= e.max_abs)) e.max_abs = d;
        if (!(r <= e.max_rel)) e.max_rel = r;
    }
    return e;
}

static int verbose(void) { return getenv("GS_TEST_VERBOSE") != NULL; }

/* The posed case: the Sim(3) scale against evo's (gs.pose_scale_raw, before
 * the clamp) from the predicted (cam.extrinsics) and the normalised input
 * (input.extrinsics_norm) cameras. Returns 1 when checked. */
static int check_pose_scale(const gs_safetensors *st, const char *path, int64_t S, const float *w2c,
                            const float *gt) {
    int64_t one = 1;
    const float *raw = tensor_f32(st, "gs.pose_scale_raw", 1, &one), *cl = tensor_f32(st, "gs.pose_scale", 1, &one);
    if (!raw || !w2c || !gt) return 0;
    double un, s = gs_gaussian_pose_scale(w2c, gt, (int)S, &un);
    if (verbose()) printf("    %s pose scale %.9g (reference %.9g), clamped %.9g\n", path, un, raw[0], s);
    CHECK_MSG(fabs(un - raw[0]) <= 1e-5 * fabs(raw[0]), "%s: Umeyama scale %.9g, reference %.9g", path, un,
              (double)raw[0]);
    if (cl) CHECK_NEAR(s, cl[0], 1e-6 * fabs(cl[0]));
    return 1;
}

/* Runs every case with gs.* tensors; returns how many ran. */
static int run_golden_cases(int want_posed) {
    DIR *dir = opendir(golden_dir());
    if (!dir) return 0;
    int ran = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        size_t L = strlen(de->d_name);
        if (L < 12 || strcmp(de->d_name + L - 12, ".safetensors")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", golden_dir(), de->d_name);
        gs_safetensors st;
        if (gs_st_open(&st, path) != GS_OK) continue;
        const char *ig = gs_st_meta(&st, "infer_gs"), *po = gs_st_meta(&st, "posed");
        int posed = po && !strcmp(po, "1");
        const gs_st_tensor *mt = gs_st_find(&st, "gs.means");
        if (!ig || strcmp(ig, "1") || !mt || mt->ndim != 2 || posed != want_posed) {
            gs_st_close(&st);
            continue;
        }
        int64_t G = mt->shape[0];
        const gs_st_tensor *dt = gs_st_find(&st, "head.depth");
        CHECK_MSG(dt && dt->ndim == 3 && dt->shape[0] * dt->shape[1] * dt->shape[2] == G,
                  "%s: head.depth missing or not [S,H,W] with S*H*W = %lld", path, (long long)G);
        if (!dt || dt->ndim != 3) { gs_st_close(&st); continue; }
        int64_t S = dt->shape[0], H = dt->shape[1], W = dt->shape[2];
        int64_t shw[3] = {S, H, W}, shwc[4] = {S, H, W, 37}, s34[3] = {S, 3, 4}, s33[3] = {S, 3, 3}, s44[3] = {S, 4, 4};
        const char *ext = "cam.extrinsics", *intr = "cam.intrinsics";
        if (!gs_st_find(&st, ext)) ext = "ray_pose.extrinsics", intr = "ray_pose.intrinsics";
        gs_adapter_input in = {(int)S, (int)H, (int)W, tensor_f32(&st, "gs.raw", 4, shwc),
                               tensor_f32(&st, "gs.conf", 3, shw), (const float *)dt->data,
                               tensor_f32(&st, ext, 3, s34), tensor_f32(&st, intr, 3, s33), NULL, NULL};
        float *gt = NULL;
        if (posed) {
            const float *g44 = tensor_f32(&st, "input.extrinsics_norm", 3, s44);
            CHECK_MSG(g44 != NULL, "%s: posed case without input.extrinsics_norm [S,4,4]", path);
            if (g44) {
                gt = malloc((size_t)S * 12 * sizeof(float));
                for (int64_t v = 0; v < S; v++) memcpy(gt + 12 * v, g44 + 16 * v, 12 * sizeof(float));
                in.gt_w2c = gt;
                ran += check_pose_scale(&st, path, S, in.w2c, gt);
            }
        }
        /* the posed golden may omit gs.raw (only the scale is then checked) */
        CHECK_MSG(posed || in.raw, "%s: gs.raw missing or not [S,H,W,37]", path);
        CHECK_MSG(in.conf && in.w2c && in.K, "%s: missing gs.conf / %s / %s", path, ext, intr);
        gs_gaussians g;
        if (in.raw && in.conf && in.w2c && in.K && (!posed || gt)) {
            CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &g));
            int64_t s3[2] = {G, 3}, s4[2] = {G, 4}, s39[3] = {G, 3, 9};
            struct { const char *name; const float *ours; int nd; const int64_t *sh; int64_t n; } cmp[5] = {
                {"gs.means", g.means, 2, s3, G * 3},        {"gs.scales", g.scales, 2, s3, G * 3},
                {"gs.rotations", g.rotations, 2, s4, G * 4}, {"gs.harmonics", g.harmonics, 3, s39, G * 27},
                {"gs.opacities", g.opacities, 1, &G, G}};
            for (int k = 0; k < 5; k++) {
                const float *ref = tensor_f32(&st, cmp[k].name, cmp[k].nd, cmp[k].sh);
                CHECK_MSG(ref != NULL || posed, "%s: %s missing or mis-shaped", path, cmp[k].name);
                if (!ref) continue;
                errs e = compare(cmp[k].ours, ref, cmp[k].n);
                if (verbose())
                    printf("    %s %-13s max abs %.3g  max rel %.3g\n", de->d_name, cmp[k].name, e.max_abs, e.max_rel);
                CHECK_MSG(e.max_rel <= 1e-5, "%s: %s differs from the reference: max abs %.3g, max rel %.3g", path,
                          cmp[k].name, e.max_abs, e.max_rel);
            }
            gs_gaussians_free(&g);
            ran++;
        }
        free(gt);
        gs_st_close(&st);
    }
    closedir(dir);
    return ran;
}

TEST(gs_adapter_matches_reference_goldens) {
    if (!run_golden_cases(0)) GOLDEN_MISSING("GS case (infer_gs=1, gs.means) in tests/golden/da3");
}

TEST(gs_adapter_matches_reference_goldens_posed) {
    if (!run_golden_cases(1)) GOLDEN_MISSING("posed GS case in tests/golden/da3");
}

/* ---- hand-made inputs ---------------------------------------------------------------- */
typedef struct {
    int S, H, W;
    float *raw, *conf, *depth, *w2c, *K;
} toy;

static void toy_free(toy *t) {
    free(t->raw);
    free(t->conf);
    free(t->depth);
    free(t->w2c);
    free(t->K);
}

/* S views of H x W; raw all zero except the rotation (1,0,0,0); depth 2;
 * conf 0.5; identity pose; fx=10, fy=12, cx=W/2+0.3, cy=H/2-0.2. */
static void toy_make(toy *t, int S, int H, int W) {
    int64_t G = (int64_t)S * H * W;
    t->S = S, t->H = H, t->W = W;
    t->raw = calloc((size_t)G * 37, sizeof(float));
    t->conf = malloc((size_t)G * sizeof(float));
    t->depth = malloc((size_t)G * sizeof(float));
    t->w2c = calloc((size_t)S * 12, sizeof(float));
    t->K = calloc((size_t)S * 9, sizeof(float));
    for (int64_t g = 0; g < G; g++) {
        t->raw[g * 37 + 5] = 1;
        t->conf[g] = 0.5f;
        t->depth[g] = 2;
    }
    for (int v = 0; v < S; v++) {
        float *E = t->w2c + 12 * v, *K = t->K + 9 * v;
        E[0] = E[5] = E[10] = 1;
        K[0] = 10, K[4] = 12, K[2] = W / 2.0f + 0.3f, K[5] = H / 2.0f - 0.2f, K[8] = 1;
    }
}

static gs_adapter_input toy_input(const toy *t) {
    gs_adapter_input in = {t->S, t->H, t->W, t->raw, t->conf, t->depth, t->w2c, t->K, NULL, NULL};
    return in;
}

/* w2c of a camera with camera-to-world rotation Rc and centre C */
static void set_pose(float *E, const double Rc[9], const double C[3]) {
    for (int a = 0; a < 3; a++) {
        for (int b = 0; b < 3; b++) E[a * 4 + b] = (float)Rc[b * 3 + a];
        E[a * 4 + 3] = (float)-(Rc[0 * 3 + a] * C[0] + Rc[1 * 3 + a] * C[1] + Rc[2 * 3 + a] * C[2]);
    }
}

TEST(gs_adapter_rotation_quirk_identity_pose) {
    /* With R_c2w = I the stored 4-vector is the normalised raw (a0..a3) moved
     * to (a3, a0, a1, a2) with slot 3 made >= 0: read as w,x,y,z by the
     * renderer, the raw was effectively x,y,z,w. */
    toy t;
    toy_make(&t, 1, 2, 2);
    const float raws[4][4] = {{0.1f, 0.2f, 0.3f, 0.9f}, {0.5f, -0.4f, -0.6f, 0.2f}, {-2, 1, 3, -1}, {0, 0, 0, 5}};
    for (int g = 0; g < 4; g++) memcpy(t.raw + g * 37 + 5, raws[g], sizeof raws[g]);
    gs_adapter_input in = toy_input(&t);
    gs_gaussians G;
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G));
    for (int g = 0; g < 4; g++) {
        const float *a = raws[g];
        double n = sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2] + a[3] * a[3]);
        double sgn = a[2] < 0 ? -1 : 1;
        double want[4] = {sgn * a[3] / n, sgn * a[0] / n, sgn * a[1] / n, sgn * a[2] / n};
        for (int k = 0; k < 4; k++) CHECK_NEAR(G.rotations[4 * g + k], want[k], 2e-7);
    }
    /* the scene takes the 4-vector verbatim as w,x,y,z */
    gs_scene sc;
    CHECK_OK(gs_gaussians_to_scene(&G, 2, &sc));
    CHECK(memcmp(sc.rotations, G.rotations, 16 * sizeof(float)) == 0);
    gs_scene_free(&sc);
    gs_gaussians_free(&G);
    toy_free(&t);
}

TEST(gs_adapter_rotation_quirk_rotated_pose) {
    /* Independent chain with the Hamilton helpers of data/cameras.h:
     * R_cam = rotation of the quaternion (w,x,y,z) = (a2, a3, a0, a1),
     * R_w = R_c2w R_cam, stored = (x, y, z, w) of R_w with w >= 0. */
    toy t;
    toy_make(&t, 2, 1, 3);
    double Rc[2][9], C[3] = {0.5, -1, 2};
    double q0[4] = {0.9, 0.1, -0.3, 0.2}, q1[4] = {-0.2, 0.7, 0.1, 0.6};
    gs_quat_to_rotmat(q0, Rc[0]);
    gs_quat_to_rotmat(q1, Rc[1]);
    for (int v = 0; v < 2; v++) set_pose(t.w2c + 12 * v, Rc[v], C);
    const float raws[3][4] = {{0.3f, -0.5f, 0.1f, 0.8f}, {1, 2, 3, 4}, {-0.7f, 0.2f, -0.1f, 0.05f}};
    for (int g = 0; g < 6; g++) memcpy(t.raw + g * 37 + 5, raws[g % 3], sizeof raws[0]);
    gs_adapter_input in = toy_input(&t);
    gs_gaussians G;
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G));
    double worst = 0;
    for (int g = 0; g < 6; g++) {
        /* the float pose round-trips through w2c; use the float-exact c2w */
        const float *E = t.w2c + 12 * (g / 3);
        double Rcf[9], Rcam[9], Rw[9], q[4];
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) Rcf[a * 3 + b] = E[b * 4 + a];
        const float *a = raws[g % 3];
        double qa[4] = {a[2], a[3], a[0], a[1]};
        gs_quat_to_rotmat(qa, Rcam);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                Rw[i * 3 + j] = Rcf[i * 3] * Rcam[j] + Rcf[i * 3 + 1] * Rcam[3 + j] + Rcf[i * 3 + 2] * Rcam[6 + j];
        gs_rotmat_to_quat(Rw, q);
        double sgn = q[0] < 0 ? -1 : 1, want[4] = {sgn * q[1], sgn * q[2], sgn * q[3], sgn * q[0]};
        for (int k = 0; k < 4; k++) worst = fmax(worst, fabs(G.rotations[4 * g + k] - want[k]));
        CHECK(G.rotations[4 * g + 3] >= 0);
    }
    CHECK_NEAR(worst, 0, 1e-6);
    gs_gaussians_free(&G);
    toy_free(&t);
}

TEST(gs_adapter_gaussians_land_on_their_pixels) {
    /* zero offsets: every mean projects back to its pixel centre and lies at
     * distance `depth` from the camera centre (depth along the unit ray) */
    toy t;
    toy_make(&t, 3, 5, 7);
    double C[3][3] = {{0, 0, 0}, {1, 0.2, -0.3}, {-0.5, 1, 0.4}};
    double qs[3][4] = {{1, 0, 0, 0}, {0.9, 0.2, -0.1, 0.3}, {0.3, -0.8, 0.4, 0.2}};
    gs_camera cams[3];
    for (int v = 0; v < 3; v++) {
        double R[9];
        gs_quat_to_rotmat(qs[v], R);
        set_pose(t.w2c + 12 * v, R, C[v]);
        memset(&cams[v], 0, sizeof cams[v]);
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) cams[v].R[a * 3 + b] = t.w2c[12 * v + a * 4 + b];
            cams[v].t[a] = t.w2c[12 * v + a * 4 + 3];
        }
        cams[v].fx = t.K[9 * v], cams[v].fy = t.K[9 * v + 4], cams[v].cx = t.K[9 * v + 2], cams[v].cy = t.K[9 * v + 5];
    }
    for (int64_t g = 0; g < 3 * 5 * 7; g++) t.depth[g] = 1.5f + 0.01f * (float)g;
    gs_adapter_input in = toy_input(&t);
    gs_gaussians G;
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G));
    CHECK_NEAR(G.pose_scale, 1, 0);
    double worst_px = 0, worst_d = 0;
    for (int v = 0; v < 3; v++)
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 7; j++) {
                int64_t g = ((int64_t)v * 5 + i) * 7 + j;
                double X[3] = {G.means[3 * g], G.means[3 * g + 1], G.means[3 * g + 2]}, uv[2], z, Cc[3];
                CHECK(gs_camera_project(&cams[v], X, uv, &z));
                worst_px = fmax(worst_px, fmax(fabs(uv[0] - (j + 0.5)), fabs(uv[1] - (i + 0.5))));
                gs_camera_center(&cams[v], Cc);
                double d = sqrt((X[0] - Cc[0]) * (X[0] - Cc[0]) + (X[1] - Cc[1]) * (X[1] - Cc[1]) +
                                (X[2] - Cc[2]) * (X[2] - Cc[2]));
                worst_d = fmax(worst_d, fabs(d - t.depth[g]));
            }
    CHECK_NEAR(worst_px, 0, 1e-4);
    CHECK_NEAR(worst_d, 0, 1e-5);
    /* offsets: +1 px in x, -0.5 px in y, +0.25 depth, at view 0 pixel (2, 3) */
    int64_t g = 2 * 7 + 3;
    t.raw[g * 37 + 0] = 1, t.raw[g * 37 + 1] = -0.5f, t.raw[g * 37 + 36] = 0.25f;
    gs_gaussians G2;
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G2));
    double X[3] = {G2.means[3 * g], G2.means[3 * g + 1], G2.means[3 * g + 2]}, uv[2], z;
    CHECK(gs_camera_project(&cams[0], X, uv, &z));
    CHECK_NEAR(uv[0], 4.5, 1e-4);
    CHECK_NEAR(uv[1], 2.0, 1e-4);
    CHECK_NEAR(sqrt(X[0] * X[0] + X[1] * X[1] + X[2] * X[2]), t.depth[g] + 0.25, 1e-5);
    gs_gaussians_free(&G2);
    gs_gaussians_free(&G);
    toy_free(&t);
}

TEST(gs_adapter_scales_sh_opacity_formulas) {
    toy t;
    toy_make(&t, 1, 2, 3);
    float *r = t.raw; /* Gaussian 0 */
    r[2] = 0, r[3] = 2, r[4] = -30;
    for (int k = 0; k < 27; k++) r[9 + k] = (float)(k + 1);
    const float ps[6] = {1e-3f, 0.3f, 1.0f, 0.0f, 0.999f, 1e-8f};
    /* torch: map_pdf_to_opacity(p) in float32 (not the identity for small p) */
    const float want_op[6] = {0.0009999936446547508f, 0.30000001192092896f, 1.0f, 0.0f, 0.9990000128746033f,
                              4.999999969612645e-09f};
    for (int g = 0; g < 6; g++) t.conf[g] = ps[g];
    gs_adapter_input in = toy_input(&t);
    gs_gaussians G;
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G));
    for (int g = 0; g < 6; g++) CHECK_EQ_INT(G.opacities[g] == want_op[g], 1);
    double mult = 0.1 * (1.0 / 10 + 1.0 / 12), d = 2;
    CHECK_NEAR(G.scales[0], (1e-5 + (30 - 1e-5) * 0.5) * d * mult, 1e-6);
    CHECK_NEAR(G.scales[1], (1e-5 + (30 - 1e-5) / (1 + exp(-2.0))) * d * mult, 1e-6);
    CHECK_NEAR(G.scales[2], (1e-5 + (30 - 1e-5) / (1 + exp(30.0))) * d * mult, 1e-12);
    /* identity pose: SH is raw (colour-major c*9+k) times the mask */
    const double mask[9] = {1, .025, .025, .025, .00625, .00625, .00625, .00625, .00625};
    for (int c = 0; c < 3; c++)
        for (int k = 0; k < 9; k++) CHECK_NEAR(G.harmonics[c * 9 + k], (c * 9 + k + 1) * mask[k], 1e-6);
    /* scene: coefficient-major (n, K, 3); degree 0 keeps only DC */
    gs_scene sc;
    CHECK_OK(gs_gaussians_to_scene(&G, 2, &sc));
    CHECK_EQ_INT(sc.sh_degree, 2);
    CHECK_NEAR(sc.sh[4 * 3 + 1], G.harmonics[9 + 4], 0); /* coefficient 4 of green */
    CHECK_NEAR(sc.sh[2], G.harmonics[18], 0);           /* DC of blue */
    gs_scene_free(&sc);
    CHECK_OK(gs_gaussians_to_scene(&G, 0, &sc));
    CHECK_EQ_INT(sc.sh_degree, 0);
    CHECK_NEAR(sc.sh[3 * 1 + 0], G.harmonics[27], 0);
    gs_scene_free(&sc);
    CHECK_ERR(gs_gaussians_to_scene(&G, 3, &sc), "SH degree 3");
    gs_gaussians_free(&G);
    toy_free(&t);
}

TEST(gs_adapter_pose_scale_from_gt_cameras) {
    toy t;
    toy_make(&t, 4, 2, 2);
    double Cs[4][3] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0.5}, {0.3, -0.2, 1}};
    double R[9];
    double q[4] = {0.8, 0.1, 0.3, -0.2};
    gs_quat_to_rotmat(q, R);
    float gt[48], far_[48];
    for (int v = 0; v < 4; v++) {
        set_pose(t.w2c + 12 * v, R, Cs[v]);
        double C2[3] = {2 * Cs[v][0] + 5, 2 * Cs[v][1], 2 * Cs[v][2] - 1}, C10[3] = {10 * Cs[v][0], 10 * Cs[v][1],
                                                                                      10 * Cs[v][2]};
        set_pose(gt + 12 * v, R, C2);
        set_pose(far_ + 12 * v, R, C10);
    }
    gs_adapter_input in = toy_input(&t);
    gs_gaussians G0, G;
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G0));
    in.gt_w2c = gt;
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G));
    CHECK_NEAR(G.pose_scale, 2, 1e-6);
    /* c2w translation and depth are both scaled: means scale about the origin,
     * scales double */
    for (int64_t g = 0; g < G.n; g++)
        for (int k = 0; k < 3; k++) {
            CHECK_NEAR(G.means[3 * g + k], 2 * G0.means[3 * g + k], 1e-5);
            CHECK_NEAR(G.scales[3 * g + k], 2 * G0.scales[3 * g + k], 1e-6);
        }
    gs_gaussians_free(&G);
    in.gt_w2c = far_; /* scale 10 clamps to 3 */
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G));
    CHECK_NEAR(G.pose_scale, 3, 0);
    gs_gaussians_free(&G);
    in.gt_w2c = t.w2c; /* identical to the prediction: no alignment */
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G));
    CHECK_NEAR(G.pose_scale, 1, 0);
    gs_gaussians_free(&G);
    /* one view: Umeyama is undefined, DA3 falls back to 1 */
    in.views = 1;
    in.gt_w2c = gt + 12;
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G));
    CHECK_NEAR(G.pose_scale, 1, 0);
    gs_gaussians_free(&G);
    gs_gaussians_free(&G0);
    toy_free(&t);
}

TEST(gs_adapter_rejects_bad_input) {
    toy t;
    toy_make(&t, 2, 2, 2);
    gs_adapter_input in = toy_input(&t);
    gs_gaussians G;
    gs_adapter_input b = in;
    b.raw = NULL;
    CHECK_ERR(gs_gaussian_adapter(&g_test_cpu, &b, &G), "missing input");
    b = in;
    b.views = 0;
    CHECK_ERR(gs_gaussian_adapter(&g_test_cpu, &b, &G), "bad size");
    b = in;
    b.width = 1 << 20;
    CHECK_ERR(gs_gaussian_adapter(&g_test_cpu, &b, &G), "bad size");
    t.raw[37 + 20] = NAN;
    CHECK_ERR(gs_gaussian_adapter(&g_test_cpu, &in, &G), "Gaussian 1 channel 20");
    t.raw[37 + 20] = 0;
    t.conf[3] = 1.5f;
    CHECK_ERR(gs_gaussian_adapter(&g_test_cpu, &in, &G), "conf[3]");
    t.conf[3] = 0.5f;
    t.depth[5] = INFINITY;
    CHECK_ERR(gs_gaussian_adapter(&g_test_cpu, &in, &G), "depth");
    t.depth[5] = 1;
    t.K[9 + 0] = 0; /* fx = 0 in view 1 */
    CHECK_ERR(gs_gaussian_adapter(&g_test_cpu, &in, &G), "view 1 are singular");
    t.K[9 + 0] = 10;
    t.w2c[12 + 1] = 0.5f; /* not a rotation */
    CHECK_ERR(gs_gaussian_adapter(&g_test_cpu, &in, &G), "not orthonormal");
    t.w2c[12 + 1] = 0;
    CHECK_ERR(gs_gaussian_adapter(&g_test_cpu, &in, NULL), "NULL");
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, &G)); /* restored input is fine */
    gs_gaussians_free(&G);
    toy_free(&t);
}

/* ---- export selection ------------------------------------------------------------------ */
TEST(gs_quantile_matches_torch) {
    /* values printed by torch.quantile(x, q) (float32, linear) */
    float a[10], v;
    for (int i = 0; i < 10; i++) a[i] = (float)(10 - i);
    CHECK_OK(gs_quantile_linear_f32(a, 10, 0.9f, &v));
    CHECK_EQ_INT(v == 9.09999942779541f, 1);
    float b[5] = {3, 1, 2, 5, 4};
    CHECK_OK(gs_quantile_linear_f32(b, 5, 0.9f, &v));
    CHECK_EQ_INT(v == 4.599999904632568f, 1);
    float c[7] = {0.1f, 0.7f, 0.3f, 0.2f, 0.9f, 0.5f, 0.4f};
    CHECK_OK(gs_quantile_linear_f32(c, 7, 0.9f, &v));
    CHECK_EQ_INT(v == 0.7799999713897705f, 1);
    CHECK_OK(gs_quantile_linear_f32(c, 7, 0.75f, &v));
    CHECK_EQ_INT(v == 0.6000000238418579f, 1);
    float d[24];
    for (int i = 0; i < 24; i++) d[i] = 0.5f * (float)i;
    CHECK_OK(gs_quantile_linear_f32(d, 24, 0.9f, &v));
    CHECK_EQ_INT(v == 10.34999942779541f, 1);
    /* cases where a plain float32 rank / unfused lerp would be one ulp off */
    float e[8] = {-5.99f, 4.41f, -2.61f, -0.22f, -9.92f, 2.34f, 6.59f, 3.27f};
    CHECK_OK(gs_quantile_linear_f32(e, 8, 0.9f, &v));
    CHECK_EQ_INT(v == 5.063999652862549f, 1);
    float h[6] = {-4.65f, 9.28f, 7.59f, -6.27f, 0.19f, 8.78f};
    CHECK_OK(gs_quantile_linear_f32(h, 6, 0.99f, &v));
    CHECK_EQ_INT(v == 9.255000114440918f, 1);
    CHECK_EQ_INT(c[1] == 0.7f, 1); /* input untouched */
    CHECK_ERR(gs_quantile_linear_f32(c, 7, 1.5f, &v), "not in [0, 1]");
    c[2] = NAN;
    CHECK_ERR(gs_quantile_linear_f32(c, 7, 0.5f, &v), "non-finite");
}

/* Gaussians of an S x H x W toy where Gaussian g has means.x = g (an id). */
static void export_toy(gs_gaussians *G, toy *t, int S, int H, int W) {
    toy_make(t, S, H, W);
    gs_adapter_input in = toy_input(t);
    CHECK_OK(gs_gaussian_adapter(&g_test_cpu, &in, G));
    for (int64_t g = 0; g < G->n; g++) G->means[3 * g] = (float)g;
}

TEST(gs_export_border_and_depth_pruning) {
    toy t;
    gs_gaussians G;
    export_toy(&G, &t, 3, 64, 40); /* trims: int(8/256*64) = 2 rows, int(8/256*40) = 1 col */
    int64_t HW = 64 * 40;
    for (int v = 0; v < 3; v++)
        for (int64_t p = 0; p < HW; p++) t.depth[v * HW + p] = (float)((p * 7919) % HW) + 0.5f * v; /* a permutation */
    gs_gs_export_opts o;
    gs_gs_export_opts_default(&o);
    CHECK_EQ_INT(o.views_interval, 1);
    CHECK_EQ_INT(o.dc_only, 1);
    gs_scene sc;
    gs_gs_export_info info;
    CHECK_OK(gs_gaussians_export_scene(&G, t.depth, &o, &sc, &info));
    CHECK_EQ_INT(info.trim_rows, 2);
    CHECK_EQ_INT(info.trim_cols, 1);
    CHECK_EQ_INT(info.border_emptied, 0);
    CHECK_EQ_INT(sc.sh_degree, 0);
    /* threshold: torch.quantile of 0..2559 (+0.5 v) at 0.9 */
    CHECK_NEAR(info.depth_threshold[0], 2303.1, 1e-3);
    int64_t expect = 0, mismatch = 0, o2 = 0;
    for (int v = 0; v < 3; v++)
        for (int i = 0; i < 64; i++)
            for (int j = 0; j < 40; j++) {
                int64_t g = v * HW + i * 40 + j;
                int in_border = i >= 2 && i < 62 && j >= 1 && j < 39;
                if (in_border && t.depth[g] <= info.depth_threshold[v]) {
                    expect++;
                    if (o2 < sc.n && sc.means[3 * o2++] != (float)g) mismatch++;
                }
            }
    CHECK_EQ_INT(sc.n, expect);
    CHECK_EQ_INT(mismatch, 0);
    CHECK(expect > 0.85 * 3 * 60 * 38 && expect < 0.95 * 3 * 60 * 38);
    gs_scene_free(&sc);
    /* every second view, no depth pruning, degree 2 kept */
    o.views_interval = 2;
    o.depth_quantile = 1;
    o.dc_only = 0;
    CHECK_OK(gs_gaussians_export_scene(&G, t.depth, &o, &sc, &info));
    CHECK_EQ_INT(sc.n, 2 * 60 * 38);
    CHECK_EQ_INT(sc.sh_degree, 2);
    CHECK_NEAR(sc.means[3 * (60 * 38)], 2 * HW + 2 * 40 + 1, 0); /* first kept of view 2 */
    gs_scene_free(&sc);
    o.views_interval = 0;
    CHECK_ERR(gs_gaussians_export_scene(&G, t.depth, &o, &sc, &info), "interval");
    o.views_interval = 1;
    t.depth[7] = NAN;
    CHECK_ERR(gs_gaussians_export_scene(&G, t.depth, &o, &sc, &info), "pixel 7");
    gs_gaussians_free(&G);
    toy_free(&t);
}

TEST(gs_export_small_image_border_quirk) {
    toy t;
    gs_gaussians G;
    export_toy(&G, &t, 2, 16, 48); /* int(8/256*16) = 0 rows: DA3's [0:-0] keeps nothing */
    gs_gs_export_opts o;
    gs_gs_export_opts_default(&o);
    gs_scene sc;
    gs_gs_export_info info;
    CHECK_OK(gs_gaussians_export_scene(&G, t.depth, &o, &sc, &info));
    CHECK_EQ_INT(info.trim_rows, 0);
    CHECK_EQ_INT(info.trim_cols, 1);
    CHECK_EQ_INT(info.border_emptied, 1);
    CHECK_EQ_INT(sc.n, 0);
    gs_scene_free(&sc);
    o.fix_small_border = 1; /* our opt-in fix: no row trim, 1 column trimmed */
    o.depth_quantile = 1;
    CHECK_OK(gs_gaussians_export_scene(&G, t.depth, &o, &sc, &info));
    CHECK_EQ_INT(info.border_emptied, 0);
    CHECK_EQ_INT(sc.n, 2 * 16 * 46);
    gs_scene_free(&sc);
    o.prune_border = 0;
    CHECK_OK(gs_gaussians_export_scene(&G, t.depth, &o, &sc, &info));
    CHECK_EQ_INT(sc.n, 2 * 16 * 48);
    gs_scene_free(&sc);
    /* constant depth: the quantile equals it and nothing is depth-pruned */
    o.depth_quantile = 0.9f;
    CHECK_OK(gs_gaussians_export_scene(&G, t.depth, &o, &sc, &info));
    CHECK_EQ_INT(sc.n, 2 * 16 * 48);
    gs_scene_free(&sc);
    gs_gaussians_free(&G);
    toy_free(&t);
}
