/* test_da3_camera.c - the DA3 camera modules (heads/camera.h): the camera
 * decoder and encoder and the extrinsics normalisation against the
 * official code's tensors (tests/golden/da3, tools/make_da3_goldens.py),
 * the ray -> pose solver on exact synthetic ray maps (with and without
 * outliers) and loosely on the official one, quaternion helpers against
 * hand values and round trips, and bad inputs. */
#include "tests/test.h"
#include "heads/camera.h"
#include "heads/dpt.h"
#include "data/safetensors.h"
#include "tests/da3_golden.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    gs_da3_config cfg;
    gs_weights w;
} gmodel;

static int gmodel_open(gmodel *m, const char *name) {
    char path[256];
    memset(m, 0, sizeof *m);
    snprintf(path, sizeof path, DA3_GOLDEN_DIR "%s/config.json", name);
    if (gs_da3_config_load(path, &m->cfg) != GS_OK) return 0;
    snprintf(path, sizeof path, DA3_GOLDEN_DIR "%s/model.safetensors", name);
    return gs_weights_open(&m->w, path) == GS_OK;
}

/* ---- rotation helpers ------------------------------------------------------------- */

TEST(da3_camera_quaternion_hand_values) {
    float q[4], R[9];
    const float I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    gs_mat_to_quat(I, q);
    CHECK(q[0] == 0 && q[1] == 0 && q[2] == 0 && q[3] == 1);
    /* 180 degrees about x: w = 0, the x candidate wins */
    const float Rx[9] = {1, 0, 0, 0, -1, 0, 0, 0, -1};
    gs_mat_to_quat(Rx, q);
    CHECK_NEAR(q[0], 1, 1e-7);
    CHECK_NEAR(q[1], 0, 1e-7);
    CHECK_NEAR(q[2], 0, 1e-7);
    CHECK_NEAR(q[3], 0, 1e-7);
    /* 90 degrees about z */
    const float Rz[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1};
    gs_mat_to_quat(Rz, q);
    CHECK_NEAR(q[2], sqrt(0.5), 1e-7);
    CHECK_NEAR(q[3], sqrt(0.5), 1e-7);
    CHECK_NEAR(q[0], 0, 1e-7);
    /* w >= 0: -q gives the same matrix and the same quaternion back */
    const float qn[4] = {0, 0, -(float)sqrt(0.5), -(float)sqrt(0.5)};
    gs_quat_to_mat(qn, R);
    for (int i = 0; i < 9; i++) CHECK_NEAR(R[i], Rz[i], 1e-6);
    /* quat_to_mat normalises: (0, 0, 0, 2) is the identity */
    const float q2[4] = {0, 0, 0, 2};
    gs_quat_to_mat(q2, R);
    for (int i = 0; i < 9; i++) CHECK_NEAR(R[i], I[i], 0);
    /* affine inverse of [Rz | (1, 2, 3)]: [Rz^T | -Rz^T t] = [.. | (-2, 1, -3)] */
    const float A[12] = {0, -1, 0, 1, 1, 0, 0, 2, 0, 0, 1, 3};
    float B[12];
    gs_affine_inverse(A, B);
    CHECK_NEAR(B[3], -2, 1e-7);
    CHECK_NEAR(B[7], 1, 1e-7);
    CHECK_NEAR(B[11], -3, 1e-7);
    CHECK_NEAR(B[1], 1, 0);
    CHECK_NEAR(B[4], -1, 0);
}

static float urand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

TEST(da3_camera_quaternion_round_trips) {
    unsigned s = 12345;
    double worst_q = 0, worst_r = 0, worst_inv = 0;
    for (int t = 0; t < 2000; t++) {
        float q[4], n = 0;
        for (int i = 0; i < 4; i++) q[i] = urand(&s), n += q[i] * q[i];
        if (n < 1e-3f) continue;
        if (t % 7 == 0) q[3] = 0.0f;   /* 180-degree rotations */
        n = 0;
        for (int i = 0; i < 4; i++) n += q[i] * q[i];
        float qs = sqrtf(n), sign = q[3] < 0 ? -1.0f : 1.0f;
        float R[9], back[9], q2[4];
        gs_quat_to_mat(q, R);
        gs_mat_to_quat(R, q2);
        if (t % 7) /* away from w = 0 the sign convention makes q2 = +-q exactly determined */
            for (int i = 0; i < 4; i++) worst_q = fmax(worst_q, fabs(q2[i] - sign * q[i] / qs));
        gs_quat_to_mat(q2, back);
        for (int i = 0; i < 9; i++) worst_r = fmax(worst_r, fabs(back[i] - R[i]));
        CHECK(q2[3] >= 0.0f);
        float A[12], B[12], C[12];
        for (int r = 0; r < 3; r++) {
            memcpy(A + 4 * r, R + 3 * r, 12);
            A[4 * r + 3] = urand(&s) * 10.0f;
        }
        gs_affine_inverse(A, B);
        gs_affine_inverse(B, C);
        for (int i = 0; i < 12; i++) worst_inv = fmax(worst_inv, fabs(C[i] - A[i]));
    }
    /* 180-degree cases may come back as -q with w = 0; compare matrices there */
    CHECK_MSG(worst_r < 2e-6, "quat -> mat -> quat -> mat: %g", worst_r);
    CHECK_MSG(worst_inv < 1e-5, "affine_inverse twice: %g", worst_inv);
    CHECK_MSG(worst_q < 1e-6, "quat -> mat -> quat: %g", worst_q); /* measured 1.8e-7 */
}

/* ---- CameraDec -------------------------------------------------------------------- */

typedef struct {
    float *p;
    size_t n;
} pose_grab;

static void grab_pose(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    pose_grab *g = ctx;
    if (strcmp(name, "cam.pose_enc") || ndim != 2) return;
    g->n = (size_t)shape[0] * (size_t)shape[1];
    g->p = malloc(g->n * sizeof *g->p);
    memcpy(g->p, data, g->n * sizeof *g->p);
}

static void cam_dec_case(const char *cname) {
    da3_golden c;
    if (!da3_golden_open(&c, cname)) GOLDEN_MISSING(cname);
    gmodel m;
    const char *mname = gs_st_meta(&c.st, "model");
    if (!mname || !gmodel_open(&m, mname)) {
        CHECK_MSG(0, "%s: cannot open model", cname);
        gs_st_close(&c.st);
        return;
    }
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%scam_dec.", m.cfg.prefix);
    gs_cam_dec dec;
    CHECK_OK(gs_cam_dec_bind(&dec, &m.w, prefix, m.cfg.net.head_dim_in));
    size_t n = 0;
    float *tok = da3_golden_f32(&c, "backbone.cam_token.3", &n);
    float *ge = da3_golden_f32(&c, "cam.extrinsics", NULL), *gk = da3_golden_f32(&c, "cam.intrinsics", NULL),
          *gp = da3_golden_f32(&c, "cam.pose_enc", NULL);
    CHECK(tok && ge && gk && n == (size_t)c.S * m.cfg.net.head_dim_in);
    float *e = calloc((size_t)c.S * 12, 4), *k = calloc((size_t)c.S * 9, 4);
    /* the pose encoding comes through the dump hook */
    pose_grab pg = {NULL, 0};
    gs_dump d = {grab_pose, &pg};
    if (tok && ge && gk) {
        CHECK_OK(gs_cam_dec_forward(&g_test_cpu, &dec, tok, c.S, c.H, c.W, e, k, &d));
        const double re = da3_rel_err(e, ge, (size_t)c.S * 12, NULL), rk = da3_rel_err(k, gk, (size_t)c.S * 9, NULL);
        CHECK_MSG(re <= 1e-5, "%s: cam.extrinsics relative error %g", cname, re);
        CHECK_MSG(rk <= 1e-5, "%s: cam.intrinsics relative error %g", cname, rk);
        const double rp = gp && pg.p && pg.n == (size_t)c.S * 9 ? da3_rel_err(pg.p, gp, pg.n, NULL) : 1.0;
        CHECK_MSG(rp <= 1e-5, "%s: cam.pose_enc relative error %g", cname, rp);
        printf("    %-22s cam_dec: pose_enc %.2e, extrinsics %.2e, intrinsics %.2e\n", cname, rp, re, rk);
    }
    free(pg.p);
    free(tok), free(ge), free(gk), free(gp), free(e), free(k);
    gs_weights_close(&m.w);
    gs_st_close(&c.st);
}

TEST(da3_camera_dec_s1) { cam_dec_case("anyview_s1"); }
TEST(da3_camera_dec_s4_reordered) { cam_dec_case("anyview_s4_saddle"); }
TEST(da3_camera_dec_s3_first) { cam_dec_case("anyview_s3_first"); }
TEST(da3_camera_dec_bf16) { cam_dec_case("anyview_bf16_s2"); }
TEST(da3_camera_dec_giant) { cam_dec_case("giant_gs_s2"); }
TEST(da3_camera_dec_nested) { cam_dec_case("nested_s2"); }

/* ---- extrinsics normalisation + CameraEnc ----------------------------------------- */

static void posed_case(const char *cname) {
    da3_golden c;
    if (!da3_golden_open(&c, cname)) GOLDEN_MISSING(cname);
    gmodel m;
    if (!gmodel_open(&m, gs_st_meta(&c.st, "model"))) {
        CHECK(0);
        gs_st_close(&c.st);
        return;
    }
    float *ext = da3_golden_f32(&c, "input.extrinsics", NULL), *gn = da3_golden_f32(&c, "input.extrinsics_norm", NULL),
          *K = da3_golden_f32(&c, "input.intrinsics", NULL), *gt = da3_golden_f32(&c, "cam_enc.tokens", NULL);
    CHECK(ext && gn && K && gt);
    const int S = c.S, C = m.cfg.net.embed_dim;
    float *norm = calloc((size_t)S * 16, 4), *tok = calloc((size_t)S * C, 4);
    if (ext && gn && K && gt) {
        CHECK_OK(gs_da3_normalize_extrinsics(ext, S, norm));
        const double rn = da3_rel_err(norm, gn, (size_t)S * 16, NULL);
        CHECK_MSG(rn <= 1e-5, "input.extrinsics_norm relative error %g", rn);
        /* in place gives the same */
        float *inplace = malloc((size_t)S * 16 * 4);
        memcpy(inplace, ext, (size_t)S * 16 * 4);
        CHECK_OK(gs_da3_normalize_extrinsics(inplace, S, inplace));
        CHECK(da3_rel_err(inplace, norm, (size_t)S * 16, NULL) == 0);
        free(inplace);

        char prefix[96];
        snprintf(prefix, sizeof prefix, "%scam_enc.", m.cfg.prefix);
        gs_cam_enc enc;
        CHECK_OK(gs_cam_enc_bind(&enc, &m.w, prefix, C, m.cfg.net.cam_enc_heads));
        CHECK_OK(gs_cam_enc_forward(&g_test_cpu, &enc, gn, K, S, c.H, c.W, tok, NULL));
        const double rt = da3_rel_err(tok, gt, (size_t)S * C, NULL);
        CHECK_MSG(rt <= 1e-5, "cam_enc.tokens relative error %g", rt);
        printf("    %-22s extrinsics_norm %.2e, cam_enc.tokens %.2e\n", cname, rn, rt);
        /* the tokens depend on all views (attention across S): dropping
         * view 2 changes the tokens of views 0 and 1 */
        float *tok2 = calloc((size_t)2 * C, 4);
        CHECK_OK(gs_cam_enc_forward(&g_test_cpu, &enc, gn, K, 2, c.H, c.W, tok2, NULL));
        CHECK(da3_rel_err(tok2, tok, (size_t)2 * C, NULL) > 1e-4);
        free(tok2);
        /* bad inputs */
        float badK[9 * 8];
        memcpy(badK, K, (size_t)S * 9 * 4);
        badK[0] = 0;
        CHECK_ERR(gs_cam_enc_forward(&g_test_cpu, &enc, gn, badK, S, c.H, c.W, tok, NULL), "focal lengths");
        badK[0] = NAN;
        CHECK_ERR(gs_cam_enc_forward(&g_test_cpu, &enc, gn, badK, S, c.H, c.W, tok, NULL), "non-finite");
        CHECK_ERR(gs_cam_enc_forward(&g_test_cpu, &enc, gn, K, 0, c.H, c.W, tok, NULL), "bad arguments");
        CHECK_ERR(gs_cam_enc_bind(&enc, &m.w, prefix, C, 5), "bad sizes");
    }
    free(ext), free(gn), free(K), free(gt), free(norm), free(tok);
    gs_weights_close(&m.w);
    gs_st_close(&c.st);
}

TEST(da3_camera_normalize_and_encode_posed) { posed_case("anyview_posed_s3"); }
TEST(da3_camera_normalize_and_encode_giant) { posed_case("giant_gs_posed_s3"); }

TEST(da3_camera_normalize_lower_median_and_clamp) {
    /* 4 cameras, identity rotations, centres at distance 0 (view 0), 1, 3, 5
     * from view 0: the lower median of {0, 1, 3, 5} is 1 (not 2) */
    float ext[4 * 16], out[4 * 16];
    const float cx[4] = {0.5f, 1.5f, 3.5f, 5.5f};
    for (int s = 0; s < 4; s++) {
        float *e = ext + 16 * s;
        memset(e, 0, 64);
        e[0] = e[5] = e[10] = e[15] = 1;
        e[3] = -cx[s]; /* w2c t = -C */
    }
    CHECK_OK(gs_da3_normalize_extrinsics(ext, 4, out));
    CHECK_NEAR(out[3], 0, 1e-7);
    CHECK_NEAR(out[16 + 3], -1.0, 1e-6);
    CHECK_NEAR(out[32 + 3], -3.0, 1e-6);
    CHECK_NEAR(out[48 + 3], -5.0, 1e-6);
    /* all cameras within 0.05: the median is clamped to 0.1 */
    for (int s = 0; s < 4; s++) ext[16 * s + 3] = -0.01f * s;
    CHECK_OK(gs_da3_normalize_extrinsics(ext, 4, out));
    CHECK_NEAR(out[48 + 3], -0.3, 1e-6);
    /* a rotated view 0 becomes the identity */
    float e2[2 * 16] = {0};
    const float Rz[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1};
    for (int r = 0; r < 3; r++) memcpy(e2 + 4 * r, Rz + 3 * r, 12);
    e2[3] = 2, e2[15] = 1;
    e2[16] = e2[21] = e2[26] = e2[31] = 1;
    float o2[32];
    CHECK_OK(gs_da3_normalize_extrinsics(e2, 2, o2));
    for (int i = 0; i < 16; i++) CHECK_NEAR(o2[i], (i % 5 == 0) ? 1 : 0, 1e-6);
    /* bad inputs */
    ext[5] = NAN;
    CHECK_ERR(gs_da3_normalize_extrinsics(ext, 4, out), "view 0 has a non-finite value");
    ext[5] = 1;
    ext[16 + 14] = 1;
    CHECK_ERR(gs_da3_normalize_extrinsics(ext, 4, out), "view 1: bottom row");
    CHECK_ERR(gs_da3_normalize_extrinsics(ext, 0, out), "bad arguments");
}

/* ---- ray -> pose -------------------------------------------------------------------- */

/* Exact ray map of a camera with R_c2w, centre C, focal (fx, fy) pixels and
 * principal point at the image centre, at h x w for an H x W image:
 * d = R_c2w [x_ndc / fx', y_ndc / fy', 1], x_ndc = (j + 0.5) / w * 2 - 1.
 * (The official get_extrinsic_from_camray recovers such a map to 3e-7 in R
 * and 1e-5 px in K, checked once with the reference code.) */
static void synth_rays(const double Rc2w[9], const double C[3], double fx, double fy, int h, int w, int H, int W,
                       float *ray, float *conf) {
    const double fnx = 2.0 * fx / W, fny = 2.0 * fy / H;   /* focal in NDC units */
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            const double xn = (j + 0.5) / w * 2 - 1, yn = (i + 0.5) / h * 2 - 1;
            const double dc[3] = {xn / fnx, yn / fny, 1.0};
            float *r = ray + ((size_t)i * w + j) * 6;
            for (int a = 0; a < 3; a++) {
                r[a] = (float)(Rc2w[a * 3] * dc[0] + Rc2w[a * 3 + 1] * dc[1] + Rc2w[a * 3 + 2] * dc[2]);
                r[3 + a] = (float)C[a];
            }
            conf[(size_t)i * w + j] = 1.0f + (float)((i * 7 + j * 3) % 11);
        }
}

static void rot_xyz(double ax, double ay, double az, double R[9]) {
    const double cx = cos(ax), sx = sin(ax), cy = cos(ay), sy = sin(ay), cz = cos(az), sz = sin(az);
    const double Rx[9] = {1, 0, 0, 0, cx, -sx, 0, sx, cx}, Ry[9] = {cy, 0, sy, 0, 1, 0, -sy, 0, cy},
                 Rz[9] = {cz, -sz, 0, sz, cz, 0, 0, 0, 1};
    double T[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            T[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) T[i * 3 + j] += Ry[i * 3 + k] * Rx[k * 3 + j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            R[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) R[i * 3 + j] += Rz[i * 3 + k] * T[k * 3 + j];
        }
}

TEST(da3_camera_ray_pose_synthetic_exact) {
    const int S = 3, h = 16, w = 24, H = 28, W = 42;
    const size_t N = (size_t)h * w;
    float *ray = malloc((size_t)S * N * 6 * 4), *conf = malloc((size_t)S * N * 4);
    double R[3][9], C[3][3] = {{0, 0, 0}, {0.5, -0.2, 0.1}, {-1.0, 0.3, 0.7}}, F[3][2] = {{30, 31}, {25, 25}, {40, 36}};
    rot_xyz(0, 0, 0, R[0]);
    rot_xyz(0.1, -0.3, 0.05, R[1]);
    rot_xyz(-0.2, 0.25, -0.1, R[2]);
    for (int s = 0; s < S; s++) synth_rays(R[s], C[s], F[s][0], F[s][1], h, w, H, W, ray + s * N * 6, conf + s * N);
    /* 10% outliers of view 2 with low confidence: RANSAC must ignore them */
    unsigned seed = 3;
    for (size_t k = 0; k < N; k += 10) {
        float *r = ray + 2 * N * 6 + k * 6;
        /* at least 0.5 off in x (d_z ~ 1), beyond the 0.2 inlier radius */
        const float dx = urand(&seed);
        r[0] += dx < 0 ? dx - 0.5f : dx + 0.5f;
        r[1] += urand(&seed);
        conf[2 * N + k] = 1.0f;
    }
    float e[3 * 12], K[3 * 9], e2[3 * 12], K2[3 * 9];
    CHECK_OK(gs_ray_pose(ray, conf, S, h, w, H, W, 42, e, K, NULL));
    for (int s = 0; s < S; s++) {
        const float *es = e + 12 * s, *ks = K + 9 * s;
        double dr = 0, dt = 0;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) dr = fmax(dr, fabs(es[i * 4 + j] - R[s][j * 3 + i])); /* w2c R = R_c2w^T */
        for (int i = 0; i < 3; i++) {
            double t = 0;
            for (int j = 0; j < 3; j++) t -= R[s][j * 3 + i] * C[s][j];
            dt = fmax(dt, fabs(es[i * 4 + 3] - t));
        }
        CHECK_MSG(dr < 1e-4, "view %d: rotation error %g", s, dr);
        CHECK_MSG(dt < 1e-4, "view %d: translation error %g", s, dt);
        CHECK_NEAR(ks[0], F[s][0], 1e-3 * F[s][0]);
        CHECK_NEAR(ks[4], F[s][1], 1e-3 * F[s][1]);
        CHECK_NEAR(ks[2], W / 2.0, 1e-3);
        CHECK_NEAR(ks[5], H / 2.0, 1e-3);
        CHECK(ks[1] == 0 && ks[3] == 0 && ks[6] == 0 && ks[7] == 0 && ks[8] == 1);
        printf("    ray_pose view %d: R err %.1e, t err %.1e, fx %.5f (%.0f), cx %.5f\n", s, dr, dt, ks[0], F[s][0], ks[2]);
    }
    /* deterministic: the same seed gives the same bits */
    CHECK_OK(gs_ray_pose(ray, conf, S, h, w, H, W, 42, e2, K2, NULL));
    CHECK(!memcmp(e, e2, sizeof e) && !memcmp(K, K2, sizeof K));
    /* bad inputs */
    CHECK_ERR(gs_ray_pose(ray, conf, S, 2, 3, H, W, 42, e, K, NULL), "too small");
    CHECK_ERR(gs_ray_pose(ray, conf, 0, h, w, H, W, 42, e, K, NULL), "bad arguments");
    conf[5] = NAN;
    CHECK_ERR(gs_ray_pose(ray, conf, S, h, w, H, W, 42, e, K, NULL), "non-finite");
    for (size_t k = 0; k < N; k++) conf[N + k] = 0.0f;
    CHECK_ERR(gs_ray_pose(ray, conf, S, h, w, H, W, 42, e, K, NULL), "non-finite");
    conf[5] = 1.0f;
    CHECK_ERR(gs_ray_pose(ray, conf, S, h, w, H, W, 42, e, K, NULL), "view 1 has no usable ray");
    free(ray), free(conf);
}

/* Confidence of the rays a pose explains: rays whose direction, projected
 * (d_x/d_z, d_y/d_z), lies within 0.2 (NDC) of H [x, y, 1] with H = R_c2w L,
 * L the lower-triangular NDC intrinsics the solver reports (1/f', pp - 1). */
static double explained(const float *ray, const float *conf, int h, int w, int H, int W, const float *e, const float *K) {
    const double fx = 2.0 * K[0] / W, fy = 2.0 * K[4] / H, px = 2.0 * K[2] / W - 1, py = 2.0 * K[5] / H - 1;
    const double L[9] = {1 / fx, 0, 0, 0, 1 / fy, 0, px, py, 1};
    double Hm[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            Hm[i * 3 + j] = 0;
            for (int k = 0; k < 3; k++) Hm[i * 3 + j] += e[k * 4 + i] * L[k * 3 + j]; /* R_c2w = R_w2c^T */
        }
    double score = 0;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            const float *r = ray + ((size_t)i * w + j) * 6;
            if (!(fabsf(r[2]) > 1e-4f)) continue;
            const double x = (j + 0.5) / w * 2 - 1, y = (i + 0.5) / h * 2 - 1;
            const double pz = Hm[6] * x + Hm[7] * y + Hm[8];
            const double ex = (Hm[0] * x + Hm[1] * y + Hm[2]) / pz - r[0] / r[2];
            const double ey = (Hm[3] * x + Hm[4] * y + Hm[5]) / pz - r[1] / r[2];
            if (sqrt(ex * ex + ey * ey) < 0.2) score += conf[(size_t)i * w + j];
        }
    return score;
}

/* The official ray map of the tiny random-weight model is no camera's ray
 * field: the reference's own result swings with its torch.randperm seed
 * (fx from 94 to 1465 px over seeds 0-5; the share of ray confidence its
 * pose explains, as measured below, ranges 0.5-4.2% (view 0) and 0.8-6.8%
 * (view 1) over seeds 0-19, the golden's seed 5 giving 2.6% and 4.8%). So
 * R and K cannot be compared value by value. Compared instead: the
 * confidence-weighted mean centre, which does not depend on the RANSAC
 * (1e-5); that R is a rotation; and, loosely, that our pose explains at
 * least 0.15x the confidence the golden pose explains (the reference's
 * worst seed reaches 0.19x; a broken solver explains ~none). */
TEST(da3_camera_ray_pose_golden) {
    da3_golden c;
    if (!da3_golden_open(&c, "anyview_ray_s2")) GOLDEN_MISSING("anyview_ray_s2");
    size_t nr = 0;
    float *ray = da3_golden_f32(&c, "head.ray", &nr), *conf = da3_golden_f32(&c, "head.ray_conf", NULL),
          *ge = da3_golden_f32(&c, "ray_pose.extrinsics", NULL), *gk = da3_golden_f32(&c, "ray_pose.intrinsics", NULL);
    const gs_st_tensor *t = gs_st_find(&c.st, "head.ray");
    CHECK(ray && conf && ge && gk && t);
    if (ray && conf && ge && gk && t) {
        const int S = c.S, h = (int)t->shape[1], w = (int)t->shape[2];
        float *e = calloc((size_t)S * 12, 4), *K = calloc((size_t)S * 9, 4);
        CHECK_OK(gs_ray_pose(ray, conf, S, h, w, c.H, c.W, 42, e, K, NULL));
        for (int s = 0; s < S; s++) {
            const float *es = e + s * 12, *gs_ = ge + s * 12;
            double cm[3], cg[3], dc = 0, sc = 0, orth = 0;
            for (int i = 0; i < 3; i++) {
                cm[i] = cg[i] = 0;
                for (int j = 0; j < 3; j++) {
                    cm[i] -= es[j * 4 + i] * es[j * 4 + 3];
                    cg[i] -= gs_[j * 4 + i] * gs_[j * 4 + 3];
                }
                dc = fmax(dc, fabs(cm[i] - cg[i]));
                sc = fmax(sc, fabs(cg[i]));
            }
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    double dot = 0;
                    for (int k = 0; k < 3; k++) dot += es[i * 4 + k] * es[j * 4 + k];
                    orth = fmax(orth, fabs(dot - (i == j)));
                }
            const float *rs = ray + (size_t)s * h * w * 6, *cs = conf + (size_t)s * h * w;
            double total = 0;
            for (int k = 0; k < h * w; k++) total += cs[k];
            const double ours = explained(rs, cs, h, w, c.H, c.W, es, K + s * 9);
            const double ref = explained(rs, cs, h, w, c.H, c.W, gs_, gk + s * 9);
            printf("    golden ray view %d: centre diff %.1e (|C| %.2f); explained confidence ours %.1f%%, "
                   "reference %.1f%%; fx %.1f vs %.1f\n",
                   s, dc, sc, 100 * ours / total, 100 * ref / total, K[s * 9], gk[s * 9]);
            CHECK_MSG(dc <= 1e-5 * fmax(sc, 1.0), "view %d: centre differs by %g", s, dc);
            CHECK_MSG(orth <= 1e-5, "view %d: R is not orthonormal (%g)", s, orth);
            CHECK_MSG(ours >= 0.15 * ref, "view %d: our pose explains %.3g, the reference's %.3g", s, ours, ref);
            CHECK(K[s * 9] > 0 && K[s * 9 + 4] > 0);
        }
        free(e), free(K);
    }
    free(ray), free(conf), free(ge), free(gk);
    gs_st_close(&c.st);
}

/* ---- bad inputs -------------------------------------------------------------------- */

TEST(da3_camera_missing_keys_and_bad_tokens) {
    const char *src = DA3_GOLDEN_DIR "tiny-anyview/model.safetensors";
    REQUIRE_GOLDEN(src);
    /* drop cam_dec.fc_qvec.bias and cam_enc.trunk.2.ls1.gamma */
    gs_safetensors st;
    CHECK_OK(gs_st_open(&st, src));
    gs_st_writer *wr = gs_st_writer_new();
    for (int i = 0; i < st.n; i++) {
        const gs_st_tensor *t = &st.tensors[i];
        if (strstr(t->name, "cam_dec.fc_qvec.bias") || strstr(t->name, "cam_enc.trunk.2.ls1.gamma")) continue;
        CHECK_OK(gs_st_writer_add(wr, t->name, t->dtype, t->ndim, t->shape, t->data));
    }
    const char *path = gs_test_tmp("cam_broken.safetensors");
    CHECK_OK(gs_st_writer_save(wr, path));
    gs_st_writer_free(wr);
    gs_st_close(&st);
    gs_weights w;
    CHECK_OK(gs_weights_open(&w, path));
    gs_cam_dec dec;
    gs_cam_enc enc;
    CHECK_ERR(gs_cam_dec_bind(&dec, &w, "model.cam_dec.", 64), "missing key model.cam_dec.fc_qvec.bias");
    CHECK_ERR(gs_cam_enc_bind(&enc, &w, "model.cam_enc.", 32, 16), "missing key model.cam_enc.trunk.2.ls1.gamma");
    float tok[64] = {0}, e[12], K[9];
    CHECK_ERR(gs_cam_dec_forward(&g_test_cpu, &dec, tok, 1, 28, 28, e, K, NULL), "not bound");
    gs_weights_close(&w);

    /* wrong width: every cam_dec tensor is named with its shapes */
    CHECK_OK(gs_weights_open(&w, src));
    CHECK_ERR(gs_cam_dec_bind(&dec, &w, "model.cam_dec.", 48), "model.cam_dec.backbone.0.weight has shape [64, 64], expected [48, 48]");
    CHECK_OK(gs_cam_dec_bind(&dec, &w, "model.cam_dec.", 64));
    tok[3] = NAN;
    CHECK_ERR(gs_cam_dec_forward(&g_test_cpu, &dec, tok, 1, 28, 28, e, K, NULL), "non-finite camera token");
    tok[3] = 0;
    CHECK_ERR(gs_cam_dec_forward(&g_test_cpu, &dec, tok, 0, 28, 28, e, K, NULL), "bad arguments");
    gs_weights_close(&w);
}
