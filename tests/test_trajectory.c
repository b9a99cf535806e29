/* test_trajectory.c - Depth Anything 3's trajectory modes against goldens made
 * by DA3's own code (tools/make_trajectory_goldens.py ->
 * tests/golden/trajectory/vN.safetensors), plus the frame-count rules,
 * resampling and bad inputs.
 *
 * Tolerances: the reference runs mostly in float32 (poses, smoothing,
 * get_fov), ours in double, so agreement is to float32 rounding. c2w, w2c and
 * Kn: |ours - golden| <= 1e-5 (the scenes are a few units across, so float32
 * steps are ~2e-7 per operation). Pixel K: relative 1e-5 (the reference's
 * float32 acos in get_fov has ~1e-7 absolute error on the angle). */
#include "tests/test.h"
#include "data/safetensors.h"
#include "raster/trajectory.h"

#include <stdlib.h>
#include <sys/wait.h>

#define GDIR "tests/golden/trajectory/"

static const float *tensor_f32(const gs_safetensors *st, const char *name, int64_t *rows, int64_t cols) {
    const gs_st_tensor *t = gs_st_find(st, name);
    if (!t) { gs_test_fail(__FILE__, __LINE__, "golden tensor %s missing", name); return NULL; }
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    if (t->dtype != GS_F32 || t->ndim < 2 || n % cols) {
        gs_test_fail(__FILE__, __LINE__, "golden tensor %s has an unexpected shape", name);
        return NULL;
    }
    *rows = n / cols;
    return (const float *)t->data;
}

/* the input cameras of a golden set */
static int load_set(const char *name, gs_safetensors *st, gs_cameras *cams) {
    char path[256];
    snprintf(path, sizeof path, GDIR "%s.safetensors", name);
    if (gs_st_open(st, path)) { gs_test_fail(__FILE__, __LINE__, "%s", gs_last_error()); return 0; }
    int64_t n, nk;
    const float *w2c = tensor_f32(st, "in.w2c", &n, 16), *K = tensor_f32(st, "in.K", &nk, 9);
    const char *ws = gs_st_meta(st, "width"), *hs = gs_st_meta(st, "height");
    if (!w2c || !K || n != nk || !ws || !hs) return 0;
    cams->n = (int)n;
    cams->cams = calloc((size_t)n, sizeof(gs_camera));
    for (int i = 0; i < n; i++) {
        gs_camera *c = &cams->cams[i];
        for (int r = 0; r < 3; r++) {
            for (int k = 0; k < 3; k++) c->R[r * 3 + k] = w2c[i * 16 + r * 4 + k];
            c->t[r] = w2c[i * 16 + r * 4 + 3];
        }
        c->fx = K[i * 9]; c->fy = K[i * 9 + 4]; c->cx = K[i * 9 + 2]; c->cy = K[i * 9 + 5];
        c->width = atoi(ws);
        c->height = atoi(hs);
        c->has_pose = 1;
    }
    return 1;
}

typedef struct { double c2w, w2c, kn, k; } errs;

static void check_mode(const char *set, gs_safetensors *st, const gs_cameras *in, gs_traj_mode m, errs *worst) {
    const char *mn = gs_traj_mode_name(m);
    char key[4][64];
    snprintf(key[0], 64, "%s.c2w", mn);
    snprintf(key[1], 64, "%s.w2c", mn);
    snprintf(key[2], 64, "%s.Kn", mn);
    snprintf(key[3], 64, "%s.K", mn);
    if (!gs_st_find(st, key[0])) return;
    int64_t n[4];
    const float *gc = tensor_f32(st, key[0], &n[0], 12), *gw = tensor_f32(st, key[1], &n[1], 12);
    const float *gkn = tensor_f32(st, key[2], &n[2], 4), *gk = tensor_f32(st, key[3], &n[3], 4);
    if (!gc || !gw || !gkn || !gk) return;
    gs_traj_path p;
    gs_status s = gs_traj_da3_path(in, m, &p);
    CHECK_MSG(s == GS_OK, "%s %s: %s", set, mn, gs_last_error());
    if (s) return;
    CHECK_MSG(p.n == n[0], "%s %s: %d frames, DA3 has %lld", set, mn, p.n, (long long)n[0]);
    gs_cameras cams;
    CHECK_OK(gs_traj_to_cameras(&p, in->cams[0].width, in->cams[0].height, 0, mn, &cams));
    errs e = {0, 0, 0, 0};
    for (int f = 0; f < p.n && f < n[0]; f++) {
        const gs_camera *c = &cams.cams[f];
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 4; k++) {
                e.c2w = fmax(e.c2w, fabs(p.c2w[f * 16 + r * 4 + k] - gc[f * 12 + r * 4 + k]));
                double w = k < 3 ? c->R[r * 3 + k] : c->t[r];
                e.w2c = fmax(e.w2c, fabs(w - gw[f * 12 + r * 4 + k]));
            }
        double ours[4] = {c->fx, c->fy, c->cx, c->cy};
        for (int k = 0; k < 4; k++) {
            e.kn = fmax(e.kn, fabs(p.kn[f * 4 + k] - gkn[f * 4 + k]));
            e.k = fmax(e.k, fabs(ours[k] - gk[f * 4 + k]) / fmax(1.0, fabs(gk[f * 4 + k])));
        }
    }
    CHECK_MSG(e.c2w <= 1e-5 && e.w2c <= 1e-5 && e.kn <= 1e-5 && e.k <= 1e-5,
              "%s %s: max error c2w %.3g w2c %.3g Kn %.3g K(rel) %.3g", set, mn, e.c2w, e.w2c, e.kn, e.k);
    worst->c2w = fmax(worst->c2w, e.c2w);
    worst->w2c = fmax(worst->w2c, e.w2c);
    worst->kn = fmax(worst->kn, e.kn);
    worst->k = fmax(worst->k, e.k);
    gs_cameras_free(&cams);
    gs_traj_path_free(&p);
}

TEST(trajectory_da3_modes_match_goldens) {
    static const char *sets[] = {"v1", "v2", "v5", "v12", "v60", "v150"};
    errs worst = {0, 0, 0, 0};
    int checked = 0;
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
        gs_safetensors st;
        gs_cameras in = {0};
        if (!load_set(sets[i], &st, &in)) return;
        for (int m = 0; m < GS_TRAJ_ORBIT; m++) {
            char key[64];
            snprintf(key, sizeof key, "%s.c2w", gs_traj_mode_name((gs_traj_mode)m));
            checked += gs_st_find(&st, key) != NULL;
            check_mode(sets[i], &st, &in, (gs_traj_mode)m, &worst);
        }
        gs_cameras_free(&in);
        gs_st_close(&st);
    }
    CHECK_EQ_INT(checked, 2 + 5 + 8 + 6 + 3 + 1);
    if (getenv("GS_TEST_VERBOSE"))
        fprintf(stderr, "trajectory goldens: max |err| c2w %.3g w2c %.3g Kn %.3g, K rel %.3g\n", worst.c2w, worst.w2c,
                worst.kn, worst.k);
}

TEST(trajectory_frame_count_rules) {
    /* DA3's inter_len: 8; 240//(S-1) beyond 18 s at 24 fps; 48//(S-1) under 2 s */
    CHECK_EQ_INT(gs_traj_inter_len(2), 48);
    CHECK_EQ_INT(gs_traj_inter_len(5), 12);
    CHECK_EQ_INT(gs_traj_inter_len(7), 8);  /* 48 exactly: neither rule */
    CHECK_EQ_INT(gs_traj_inter_len(12), 8);
    CHECK_EQ_INT(gs_traj_inter_len(55), 8); /* 432: not more than 18 s */
    CHECK_EQ_INT(gs_traj_inter_len(56), 4); /* 440 > 432: 240 // 55 */
    CHECK_EQ_INT(gs_traj_inter_len(300), 1);
    /* cv2.getGaussianKernel(k, -1): the binomial tables up to 9, then sigma = 0.3((k-1)/2 - 1) + 0.8 */
    double k[51];
    gs_traj_gaussian_kernel(9, k);
    CHECK_NEAR(k[0], 4 / 256.0, 0);
    CHECK_NEAR(k[4], 60 / 256.0, 0);
    gs_traj_gaussian_kernel(11, k); /* sigma 2: w(5)/w(0) = exp(-25/8) */
    CHECK_NEAR(k[0] / k[5], exp(-25.0 / 8), 1e-6);
    gs_traj_gaussian_kernel(51, k);
    double s = 0;
    for (int i = 0; i < 51; i++) s += k[i];
    CHECK_NEAR(s, 1, 1e-6);
}

static gs_cameras arc_cameras(int n, int w, int h) {
    gs_cameras c = {n, calloc((size_t)n, sizeof(gs_camera))};
    for (int i = 0; i < n; i++) {
        double a = -0.5 + 1.0 * i / (n > 1 ? n - 1 : 1), C[3] = {2 * sin(a), 0, -2 * cos(a) + 1};
        /* looking at (0,0,1): z = (target - C)/|.|, y down */
        double z[3] = {-C[0], 0, 1 - C[2]}, nz = sqrt(z[0] * z[0] + z[2] * z[2]);
        z[0] /= nz; z[2] /= nz;
        double x[3] = {z[2], 0, -z[0]}, y[3] = {0, 1, 0};
        double c2w[16] = {x[0], y[0], z[0], C[0], x[1], y[1], z[1], C[1], x[2], y[2], z[2], C[2], 0, 0, 0, 1};
        gs_camera *cm = &c.cams[i];
        gs_camera_set_c2w(cm, c2w);
        cm->has_pose = 1;
        cm->width = w; cm->height = h;
        cm->fx = cm->fy = 0.9 * w;
        cm->cx = w / 2.0; cm->cy = h / 2.0;
    }
    return c;
}

TEST(trajectory_frames_option_and_sizes) {
    gs_cameras in = arc_cameras(6, 64, 48), out;
    gs_traj_opts o;
    gs_traj_opts_default(&o);
    CHECK_OK(gs_trajectory(&in, NULL, &o, &out)); /* extend: inter_len 48//5 = 9, 5*8+1 = 41 frames, +38 wander +36 dolly */
    CHECK_EQ_INT(out.n, 41 + 38 + 36);
    CHECK_STR(out.cams[0].name, "extend_00000");
    gs_cameras_free(&out);
    o.mode = GS_TRAJ_INTERPOLATE;
    o.n_frames = 100;
    o.width = 320; o.height = 240;
    CHECK_OK(gs_trajectory(&in, NULL, &o, &out));
    CHECK_EQ_INT(out.n, 100);
    /* resampling keeps the ends: frame 0 is view 0, the last frame the last view; K scales with the size */
    double C0[3], Cl[3], Ci0[3], Cil[3];
    gs_camera_center(&out.cams[0], C0);
    gs_camera_center(&out.cams[99], Cl);
    gs_camera_center(&in.cams[0], Ci0);
    gs_camera_center(&in.cams[5], Cil);
    for (int k = 0; k < 3; k++) {
        CHECK_NEAR(C0[k], Ci0[k], 1e-9);
        CHECK_NEAR(Cl[k], Cil[k], 1e-9);
    }
    CHECK_NEAR(out.cams[50].fx, 0.9 * 320, 1e-6);
    CHECK_NEAR(out.cams[50].cx, 160, 0);
    /* consecutive resampled frames move by similar steps (no jumps) */
    double maxstep = 0, minstep = 1e9;
    for (int i = 1; i < 100; i++) {
        double a[3], b[3];
        gs_camera_center(&out.cams[i - 1], a);
        gs_camera_center(&out.cams[i], b);
        double d = sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
        maxstep = fmax(maxstep, d);
        minstep = fmin(minstep, d);
    }
    CHECK(maxstep < 0.06);
    gs_cameras_free(&out);
    o.mode = GS_TRAJ_WANDER;
    o.n_frames = 50;
    CHECK_OK(gs_trajectory(&in, NULL, &o, &out));
    CHECK_EQ_INT(out.n, 50); /* 48 around the view + the view at both ends */
    gs_cameras_free(&out);
    o.mode = GS_TRAJ_DOLLY_ZOOM;
    o.n_frames = 0;
    CHECK_OK(gs_trajectory(&in, NULL, &o, &out));
    CHECK_EQ_INT(out.n, 120);
    /* dolly zoom: moves back along the look axis by up to 2 and shrinks the focal by 30/32 */
    CHECK_NEAR(out.cams[0].fx, 0.9 * 320, 1e-3);
    double Cm[3];
    gs_camera_center(&out.cams[60], Cm); /* t = 2*60/119: z = (1 - cos(pi t))/2 * 2 */
    double tt = 2.0 * 60 / 119, z = 0.5 * (1 - cos(M_PI * tt)) * 2;
    CHECK_NEAR(out.cams[60].fx, 0.9 * 320 * 30 / (30 + z), 1e-6 * 320);
    double back = 0;
    for (int k = 0; k < 3; k++) back += (Cm[k] - Ci0[k]) * (-in.cams[0].R[6 + k]);
    CHECK_NEAR(back, z, 1e-9);
    gs_cameras_free(&out);
    /* one view: every DA3 mode becomes wander (122 frames), as DA3's export does */
    gs_cameras one = {1, in.cams};
    o.mode = GS_TRAJ_EXTEND;
    CHECK_OK(gs_trajectory(&one, NULL, &o, &out));
    CHECK_EQ_INT(out.n, 122);
    CHECK_STR(out.cams[0].name, "wander_00000");
    gs_cameras_free(&out);
    /* original / smooth render one frame per view */
    o.mode = GS_TRAJ_SMOOTH;
    o.n_frames = 7;
    CHECK_ERR(gs_trajectory(&in, NULL, &o, &out), "one frame per input view");
    o.n_frames = 6;
    CHECK_OK(gs_trajectory(&in, NULL, &o, &out));
    gs_cameras_free(&out);
    gs_cameras_free(&in);
}

TEST(trajectory_bad_inputs) {
    gs_cameras in = arc_cameras(3, 64, 48), out;
    gs_traj_opts o;
    gs_traj_opts_default(&o);
    gs_traj_mode m;
    CHECK_ERR(gs_traj_mode_parse("spiral", &m), "unknown");
    CHECK_OK(gs_traj_mode_parse("dolly_zoom", &m));
    CHECK_EQ_INT(m, GS_TRAJ_DOLLY_ZOOM);
    o.mode = GS_TRAJ_WOBBLE_INTER;
    CHECK_ERR(gs_trajectory(&in, NULL, &o, &out), "at least 4 views");
    o.mode = GS_TRAJ_EXTEND;
    CHECK_ERR(gs_trajectory(NULL, NULL, &o, &out), "needs input cameras");
    o.n_frames = -1;
    CHECK_ERR(gs_trajectory(&in, NULL, &o, &out), "frame count");
    o.n_frames = 0;
    o.width = 100;
    CHECK_ERR(gs_trajectory(&in, NULL, &o, &out), "both or neither");
    o.width = 0;
    in.cams[1].t[0] = NAN;
    CHECK_ERR(gs_trajectory(&in, NULL, &o, &out), "camera 1");
    in.cams[1].t[0] = 0;
    in.cams[2].fx = 0;
    CHECK_ERR(gs_trajectory(&in, NULL, &o, &out), "camera 2");
    in.cams[2].fx = 50;
    in.cams[0].has_pose = 0;
    CHECK_ERR(gs_trajectory(&in, NULL, &o, &out), "no pose");
    in.cams[0].has_pose = 1;
    o.mode = GS_TRAJ_WANDER;
    o.n_frames = 2;
    CHECK_ERR(gs_trajectory(&in, NULL, &o, &out), "at least 3 frames");
    /* orbit without cameras or splats */
    o.mode = GS_TRAJ_ORBIT;
    o.n_frames = 0;
    CHECK_ERR(gs_trajectory(NULL, NULL, &o, &out), "nothing to orbit");
    gs_traj_path p = {0};
    CHECK_ERR(gs_traj_da3_path(&in, GS_TRAJ_ORBIT, &p), "not a Depth Anything 3 mode");
    gs_cameras_free(&in);
}

/* ---- through the command line ------------------------------------------------------ */


TEST(trajectory_gs_render_da3_modes) {
    if (!getenv("GS_BIN")) TEST_SKIP("GS_BIN not set (run through make test)");
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 3, 0));
    for (int i = 0; i < 3; i++) {
        s.means[3 * i] = 0.3f * (i - 1);
        s.means[3 * i + 2] = 1;
        for (int k = 0; k < 3; k++) s.scales[3 * i + k] = 0.2f;
        s.opacities[i] = 0.8f;
    }
    const char *ply = gs_test_tmp("traj.ply"), *cams = gs_test_tmp("traj_cams.json"), *dir = gs_test_tmp("traj_out");
    CHECK_OK(gs_ply_write(ply, &s));
    gs_cameras in = arc_cameras(3, 40, 30);
    CHECK_OK(gs_cameras_write_json(cams, &in));
    char args[4096], *out, p[4200];
    snprintf(args, sizeof args, "render %s --cameras %s --trajectory interpolate --frames 5 --out %s --quiet", ply, cams, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(p, sizeof p, "%s/00004.png", dir);
    CHECK(gs_file_exists(p));
    snprintf(p, sizeof p, "%s/00005.png", dir);
    CHECK(!gs_file_exists(p));
    /* DA3 modes need input views; wobble_inter needs four; unknown modes are usage errors */
    snprintf(args, sizeof args, "render %s --trajectory extend --out %s", ply, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "--cameras"));
    free(out);
    snprintf(args, sizeof args, "render %s --cameras %s --trajectory wobble_inter --out %s --quiet", ply, cams, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK(out && strstr(out, "at least 4 views"));
    free(out);
    snprintf(args, sizeof args, "render %s --cameras %s --trajectory helix --out %s", ply, cams, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "helix"));
    free(out);
    gs_cameras_free(&in);
    gs_scene_free(&s);
}
