/* test_eval_scene.c - `gs eval --scene`: render a splat scene at the cameras
 * of a held-out split and score it. Round trips (a render saved as ground
 * truth scores PSNR inf / SSIM 1 / LPIPS 0 once quantised like the PNG; a
 * moved camera scores worse), agreement with scoring saved renders through
 * the directory evaluation, pairing by name and by order, every pairing
 * error, and the real data: a trained splat scene (guitar), the lego test
 * split (RGBA ground truth) and the fern LLFF poses. */
#include "tests/test_scenes.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/scene.h"
#include "eval/metrics.h"
#include "raster/raster.h"
#include "raster/trajectory.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

static gs_camera make_cam(const char *name, int w, int h, double f) {
    gs_camera c = test_pinhole(w, h, f);
    snprintf(c.name, sizeof c.name, "%s", name);
    return c;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { return test_frand(&rng); }

/* n coloured splats in a box in front of an identity camera (z 3..6) */
static void synth_scene(gs_scene *s, int n) {
    rng = 0x9E3779B97F4A7C15ull;
    CHECK_OK(gs_scene_alloc(s, n, 1));
    const int k = gs_sh_coeffs(1) * 3;
    for (int i = 0; i < n; i++) {
        s->means[3 * i] = 2.4f * frand() - 1.2f;
        s->means[3 * i + 1] = 1.8f * frand() - 0.9f;
        s->means[3 * i + 2] = 3 + 3 * frand();
        for (int a = 0; a < 3; a++) s->scales[3 * i + a] = 0.04f + 0.15f * frand();
        for (int a = 0; a < 4; a++) s->rotations[4 * i + a] = frand() - 0.5f;
        s->opacities[i] = 0.3f + 0.7f * frand();
        for (int j = 0; j < k; j++) s->sh[(size_t)i * k + j] = j < 3 ? 3.0f * (frand() - 0.5f) : 0.4f * (frand() - 0.5f);
    }
}

/* Render cam over bg and write it as an 8-bit PNG (what a data set holds). */
static void render_png(const gs_scene *s, const gs_camera *cam, const float bg[3], const char *path) {
    gs_raster_opts o;
    gs_raster_opts_default(&o);
    memcpy(o.bg, bg, sizeof o.bg);
    gs_raster_out r;
    CHECK_OK(gs_render_cpu(s, cam, &o, &r));
    gs_image im = {r.width, r.height, 3, 8, r.rgb};
    CHECK_OK(gs_image_write_png(path, &im, 8));
    gs_raster_out_free(&r);
}

static const gs_eval_row *row_named(const gs_eval_report *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].name, name)) return &r->rows[i];
    return NULL;
}

static int lpips_available(gs_eval_options *o) {
    if (!gs_test_data_dir()) return 0;
    o->lpips_weights = gs_test_data("lpips/lpips_alex_v0.1.safetensors");
    return 1;
}

TEST(eval_scene_round_trip_and_moved_camera) {
    gs_scene s;
    synth_scene(&s, 150);
    const float white[3] = {1, 1, 1};
    char gt[512], p[1024];
    snprintf(gt, sizeof gt, "%s", gs_test_tmp("rt_gt"));
    CHECK_OK(gs_mkdirs(gt));
    gs_camera cam_list[2] = {make_cam("./test/view_a", 96, 72, 80), make_cam("view_b.jpg", 96, 72, 90)};
    cam_list[1].t[1] = 0.2; /* a second, different view */
    gs_cameras cams = {2, cam_list};
    render_png(&s, &cam_list[0], white, gs_path_join(p, sizeof p, gt, "view_a.png"));
    render_png(&s, &cam_list[1], white, gs_path_join(p, sizeof p, gt, "view_b.png"));

    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = lpips_available(&o);
    gs_eval_scene_options so;
    gs_eval_scene_options_default(&so);
    so.quantize8 = 1;
    so.scene_name = "synthetic";
    gs_eval_report r;
    /* quantised like the PNG: the very same pixels */
    CHECK_OK(gs_eval_scene(&s, &cams, gt, &o, &so, &r));
    CHECK_EQ_INT(r.n, 2);
    CHECK_STR(r.rows[0].name, "view_a.png"); /* "./test/view_a" -> view_a.png */
    CHECK_STR(r.rows[1].name, "view_b.png"); /* "view_b.jpg" -> view_b.png by stem */
    for (int i = 0; i < r.n; i++) {
        CHECK(isinf(r.rows[i].psnr) && r.rows[i].psnr > 0);
        CHECK(r.rows[i].ssim == 1.0);
        if (o.lpips) CHECK(r.rows[i].lpips == 0.0);
        CHECK_EQ_INT(r.rows[i].width, 96);
    }
    CHECK(r.scene_mode && !strcmp(r.pairing, "by name") && r.n_cameras_without_gt == 0 && r.n_gt_without_camera == 0);
    CHECK(r.render_seconds > 0);
    gs_eval_report_free(&r);

    /* float renders: only the 8-bit rounding of the ground truth differs
     * (uniform error of 1/255 width: about 58.9 dB) */
    so.quantize8 = 0;
    CHECK_OK(gs_eval_scene(&s, &cams, gt, &o, &so, &r));
    CHECK(r.rows[0].psnr > 54 && r.rows[0].psnr < 70);
    CHECK(r.rows[0].ssim > 0.999 && r.rows[0].ssim < 1.0);
    gs_eval_report_free(&r);

    /* a moved camera: worse on every metric */
    cam_list[0].t[0] += 0.08;
    so.quantize8 = 1;
    CHECK_OK(gs_eval_scene(&s, &cams, gt, &o, &so, &r));
    const gs_eval_row *a = row_named(&r, "view_a.png"), *b = row_named(&r, "view_b.png");
    CHECK(a && b);
    if (a && b) {
        CHECK(isfinite(a->psnr) && a->psnr < 35 && a->psnr > 8);
        CHECK(a->ssim < 0.98);
        if (o.lpips) CHECK(a->lpips > 0.005);
        CHECK(isinf(b->psnr)); /* the other camera did not move */
        CHECK_NEAR(r.mean_ssim, (a->ssim + 1.0) / 2, 1e-15);
    }
    gs_eval_report_free(&r);
    gs_scene_free(&s);
}

TEST(eval_scene_saved_renders_score_like_the_directory_evaluation) {
    gs_scene s;
    synth_scene(&s, 120);
    const float black[3] = {0, 0, 0};
    char gt[512], saved[512], p[1024];
    snprintf(gt, sizeof gt, "%s", gs_test_tmp("sv_gt"));
    snprintf(saved, sizeof saved, "%s", gs_test_tmp("sv_renders/nested"));
    CHECK_OK(gs_mkdirs(gt));
    gs_camera cam_list[3] = {make_cam("c0", 64, 48, 60), make_cam("c1", 64, 48, 60), make_cam("c2", 64, 48, 55)};
    for (int i = 0; i < 3; i++) {
        char n[32];
        snprintf(n, sizeof n, "c%d.png", i);
        render_png(&s, &cam_list[i], black, gs_path_join(p, sizeof p, gt, n));
        cam_list[i].t[0] = 0.03 * (i + 1); /* then move each camera a little */
    }
    gs_cameras cams = {3, cam_list};
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = 0;
    o.bg[0] = o.bg[1] = o.bg[2] = 0;
    gs_eval_scene_options so;
    gs_eval_scene_options_default(&so);
    so.quantize8 = 1;
    so.save_dir = saved;
    gs_eval_report rs, rd;
    CHECK_OK(gs_eval_scene(&s, &cams, gt, &o, &so, &rs));
    CHECK_OK(gs_eval_dirs(saved, gt, &o, &rd)); /* gs eval --pred saved --gt gt */
    CHECK_EQ_INT(rs.n, 3);
    CHECK_EQ_INT(rd.n, 3);
    for (int i = 0; i < 3 && i < rs.n && i < rd.n; i++) {
        CHECK_STR(rs.rows[i].name, rd.rows[i].name);
        CHECK(rs.rows[i].psnr == rd.rows[i].psnr && rs.rows[i].ssim == rd.rows[i].ssim);
        CHECK(isfinite(rs.rows[i].psnr));
    }
    /* the further a camera moved, the lower the PSNR */
    CHECK(rs.rows[0].psnr > rs.rows[1].psnr && rs.rows[1].psnr > rs.rows[2].psnr);
    /* JSON names the scene, the pairing and the device */
    const char *jp = gs_test_tmp("scene_report.json");
    CHECK_OK(gs_eval_write_json(&rs, jp));
    uint8_t *text;
    size_t n;
    CHECK_OK(gs_read_file(jp, 1 << 20, &text, &n));
    CHECK(strstr((char *)text, "\"pairing\":\t\"by name\"") != NULL);
    CHECK(strstr((char *)text, "\"device\":\t\"cpu (") != NULL);
    CHECK(strstr((char *)text, "\"render_seconds\"") != NULL);
    free(text);
    gs_eval_report_free(&rs);
    gs_eval_report_free(&rd);
    gs_scene_free(&s);
}

TEST(eval_scene_pairing_reports_and_errors) {
    gs_scene s;
    synth_scene(&s, 40);
    const float white[3] = {1, 1, 1};
    char gt[512], p[1024];
    snprintf(gt, sizeof gt, "%s", gs_test_tmp("pe_gt"));
    CHECK_OK(gs_mkdirs(gt));
    gs_camera cam_list[3] = {make_cam("a", 40, 30, 40), make_cam("b", 40, 30, 40), make_cam("c", 40, 30, 40)};
    render_png(&s, &cam_list[0], white, gs_path_join(p, sizeof p, gt, "a.png"));
    render_png(&s, &cam_list[1], white, gs_path_join(p, sizeof p, gt, "b.png"));
    render_png(&s, &cam_list[1], white, gs_path_join(p, sizeof p, gt, "b_depth.png")); /* no camera: only listed */
    gs_cameras cams = {3, cam_list};
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = 0;
    gs_eval_scene_options so;
    gs_eval_scene_options_default(&so);
    gs_eval_report r;
    /* camera c has no image: an error naming it and the unused image */
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "1 of 3 cameras without a ground-truth image");
    CHECK(strstr(gs_last_error(), ": c (") && strstr(gs_last_error(), "b_depth.png"));
    /* --skip-missing: scored without it, both lists in the report */
    so.allow_missing_gt = 1;
    CHECK_OK(gs_eval_scene(&s, &cams, gt, &o, &so, &r));
    CHECK_EQ_INT(r.n, 2);
    CHECK_EQ_INT(r.n_cameras_without_gt, 1);
    CHECK_STR(r.cameras_without_gt, "c");
    CHECK_EQ_INT(r.n_gt_without_camera, 1);
    CHECK_STR(r.gt_without_camera, "b_depth.png");
    gs_eval_report_free(&r);
    so.allow_missing_gt = 0;
    cams.n = 2;
    /* two cameras naming one image */
    snprintf(cam_list[1].name, sizeof cam_list[1].name, "x/a.jpg");
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "several cameras share the ground-truth image a.png");
    snprintf(cam_list[1].name, sizeof cam_list[1].name, "b");
    /* a stem that fits two images (a PNG named .jpg: content decides the decoder) */
    render_png(&s, &cam_list[0], white, gs_path_join(p, sizeof p, gt, "a.jpg"));
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "1 camera matches several images");
    CHECK(strstr(gs_last_error(), ": a") != NULL);
    remove(gs_path_join(p, sizeof p, gt, "a.jpg"));
    /* size mismatch between camera and image */
    cam_list[1].width = 41;
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "camera 1 (b) is 41x30 but its ground truth b.png is 40x30");
    cam_list[1].width = 40;
    /* a camera without a pose */
    cam_list[1].has_pose = 0;
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "camera 1 (b) has intrinsics only");
    cam_list[1].has_pose = 1;
    /* unnamed cameras: paired in order when the counts agree, else an error */
    cam_list[0].name[0] = cam_list[1].name[0] = 0;
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "the 2 cameras have no names and");
    CHECK(strstr(gs_last_error(), "holds 3 images") != NULL);
    remove(gs_path_join(p, sizeof p, gt, "b_depth.png"));
    CHECK_OK(gs_eval_scene(&s, &cams, gt, &o, &so, &r));
    CHECK(strstr(r.pairing, "by order") != NULL);
    CHECK_STR(r.rows[0].name, "a.png");
    CHECK(isinf(r.rows[0].psnr) || r.rows[0].psnr > 50);
    gs_eval_report_free(&r);
    /* one unnamed camera among named ones cannot be paired */
    snprintf(cam_list[0].name, sizeof cam_list[0].name, "a");
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "camera 1 (no name)");
    snprintf(cam_list[1].name, sizeof cam_list[1].name, "b");
    /* missing or empty folders, bad arguments */
    CHECK_ERR(gs_eval_scene(&s, &cams, gs_test_tmp("pe_none"), &o, &so, &r), "not a directory");
    CHECK_OK(gs_mkdirs(gs_test_tmp("pe_empty")));
    CHECK_ERR(gs_eval_scene(&s, &cams, gs_test_tmp("pe_empty"), &o, &so, &r), "no images");
    cams.n = 0;
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "no cameras");
    cams.n = 2;
    o.bg[1] = NAN;
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "background is not finite");
    o.bg[1] = 1;
    o.psnr = o.ssim = 0;
    CHECK_ERR(gs_eval_scene(&s, &cams, gt, &o, &so, &r), "no metric selected");
    gs_scene_free(&s);
}

/* A trained scene from the shared data: render two orbit views, keep them as
 * ground truth, score them, then score a shifted orbit. */
TEST(eval_scene_real_splats_round_trip) {
    REQUIRE_DATA();
    gs_scene s;
    CHECK_OK(gs_scene_read(gs_test_data("splats/guitar.compressed.ply"), &s, NULL));
    if (!s.n) return;
    gs_cameras orbit = {0};
    CHECK_OK(gs_orbit_path(&s, NULL, 6, 128, 96, &orbit));
    if (orbit.n != 6) {
        gs_scene_free(&s);
        return;
    }
    gs_camera cam_list[2] = {orbit.cams[0], orbit.cams[3]};
    snprintf(cam_list[0].name, sizeof cam_list[0].name, "orbit_0");
    snprintf(cam_list[1].name, sizeof cam_list[1].name, "orbit_3");
    gs_cameras cams = {2, cam_list};
    char gt[512], p[1024];
    snprintf(gt, sizeof gt, "%s", gs_test_tmp("guitar_gt"));
    CHECK_OK(gs_mkdirs(gt));
    const float black[3] = {0, 0, 0};
    render_png(&s, &cam_list[0], black, gs_path_join(p, sizeof p, gt, "orbit_0.png"));
    render_png(&s, &cam_list[1], black, gs_path_join(p, sizeof p, gt, "orbit_3.png"));
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = lpips_available(&o);
    o.bg[0] = o.bg[1] = o.bg[2] = 0;
    gs_eval_scene_options so;
    gs_eval_scene_options_default(&so);
    so.quantize8 = 1;
    gs_eval_report r;
    CHECK_OK(gs_eval_scene(&s, &cams, gt, &o, &so, &r));
    CHECK_EQ_INT(r.n, 2);
    for (int i = 0; i < r.n; i++) CHECK(isinf(r.rows[i].psnr) && r.rows[i].ssim == 1.0 && !(r.rows[i].lpips > 0));
    gs_eval_report_free(&r);
    /* the neighbouring orbit views instead: a real scene seen from elsewhere */
    cam_list[0] = orbit.cams[1];
    cam_list[1] = orbit.cams[4];
    snprintf(cam_list[0].name, sizeof cam_list[0].name, "orbit_0");
    snprintf(cam_list[1].name, sizeof cam_list[1].name, "orbit_3");
    CHECK_OK(gs_eval_scene(&s, &cams, gt, &o, &so, &r));
    for (int i = 0; i < r.n; i++) {
        CHECK(isfinite(r.rows[i].psnr) && r.rows[i].psnr < 40);
        CHECK(r.rows[i].ssim < 0.99);
        if (o.lpips) CHECK(r.rows[i].lpips > 0.01);
    }
    gs_eval_report_free(&r);
    gs_cameras_free(&orbit);
    gs_scene_free(&s);
}

/* The lego test split: real camera names ("./test/r_0"), 800x800 RGBA ground
 * truth composited over the background. */
TEST(eval_scene_lego_split_pairs_and_composites) {
    REQUIRE_DATA();
    gs_cameras all = {0};
    CHECK_OK(gs_cameras_read(gs_test_data("scenes/lego/transforms_test.json"), NULL, &all, NULL));
    if (all.n < 2) return;
    /* a small grey-brown blob where the lego model stands */
    gs_scene s;
    rng = 12345;
    CHECK_OK(gs_scene_alloc(&s, 200, 0));
    for (int i = 0; i < 200; i++) {
        for (int a = 0; a < 3; a++) s.means[3 * i + a] = 1.2f * frand() - 0.6f, s.scales[3 * i + a] = 0.05f + 0.1f * frand();
        s.opacities[i] = 0.8f;
        for (int c = 0; c < 3; c++) s.sh[3 * i + c] = (0.6f + 0.2f * frand() - 0.5f) / GS_SH_C0;
    }
    gs_cameras two = {2, all.cams};
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = 0;
    gs_eval_scene_options so;
    gs_eval_scene_options_default(&so);
    gs_eval_report r;
    CHECK_OK(gs_eval_scene(&s, &two, gs_test_data("scenes/lego/test"), &o, &so, &r));
    CHECK_EQ_INT(r.n, 2);
    CHECK_STR(r.rows[0].name, "r_0.png");
    CHECK_EQ_INT(r.rows[0].width, 800);
    CHECK_EQ_INT(r.rows[0].channels, 3);
    CHECK_EQ_INT(r.n_gt_without_camera, 4); /* the other four test images */
    /* the same number from the pieces: our render over white against the
     * RGBA image composited over white */
    gs_raster_opts ro;
    gs_raster_opts_default(&ro);
    ro.bg[0] = ro.bg[1] = ro.bg[2] = 1;
    gs_raster_out out;
    CHECK_OK(gs_render_cpu(&s, &all.cams[0], &ro, &out));
    gs_image gt, flat, pred = {out.width, out.height, 3, 32, out.rgb};
    CHECK_OK(gs_image_read(gs_test_data("scenes/lego/test/r_0.png"), &gt));
    CHECK_EQ_INT(gt.channels, 4);
    CHECK_OK(gs_eval_flatten(&gt, ro.bg, &flat));
    for (size_t i = 0; i < (size_t)out.width * out.height * 3; i++) out.rgb[i] = fminf(fmaxf(out.rgb[i], 0.0f), 1.0f);
    double v;
    CHECK_OK(gs_psnr(&pred, &flat, &v));
    CHECK_NEAR(r.rows[0].psnr, v, 0);
    CHECK(v > 8 && v < 30);
    const double white_psnr = r.rows[0].psnr;
    gs_eval_report_free(&r);
    /* over black, the renders' background changes with it */
    o.ssim = 0;
    o.bg[0] = o.bg[1] = o.bg[2] = 0;
    CHECK_OK(gs_eval_scene(&s, &two, gs_test_data("scenes/lego/test"), &o, &so, &r));
    CHECK(r.n == 2 && r.rows[0].psnr != white_psnr && isfinite(r.rows[0].psnr));
    gs_eval_report_free(&r);
    /* the training cameras have no image in the test folder */
    gs_cameras train = {0};
    CHECK_OK(gs_cameras_read(gs_test_data("scenes/lego/transforms_train.json"), NULL, &train, NULL));
    CHECK_ERR(gs_eval_scene(&s, &train, gs_test_data("scenes/lego/test"), &o, &so, &r), "without a ground-truth image");
    CHECK(strstr(gs_last_error(), "r_8") != NULL);
    gs_cameras_free(&train);
    gs_image_free(&gt), gs_image_free(&flat);
    gs_raster_out_free(&out);
    gs_cameras_free(&all);
    gs_scene_free(&s);
}

/* LLFF poses have no names: the 20 fern cameras take the 20 sorted images. */
TEST(eval_scene_fern_llff_pairs_in_order) {
    REQUIRE_DATA();
    gs_cameras cams = {0};
    gs_camera_read_opts ro = {8};
    CHECK_OK(gs_cameras_read(gs_test_data("scenes/fern/poses_bounds.npy"), &ro, &cams, NULL));
    CHECK_EQ_INT(cams.n, 20);
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 1, 0));
    s.scales[0] = s.scales[1] = s.scales[2] = 0.1f;
    s.opacities[0] = 0.0f; /* nothing visible: the renders are the background */
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = 0;
    o.ssim = 0;
    gs_eval_report r;
    CHECK_OK(gs_eval_scene(&s, &cams, gs_test_data("scenes/fern/images_8"), &o, NULL, &r));
    CHECK_EQ_INT(r.n, 20);
    if (r.n == 20) {
        CHECK_STR(r.rows[0].name, "image000.png");
        CHECK_STR(r.rows[19].name, "image019.png");
        CHECK_EQ_INT(r.rows[7].width, 504);
        CHECK_EQ_INT(r.rows[7].height, 378);
        /* a white render against a photo: PSNR = -10 log10 mean (1 - x)^2 */
        gs_image im;
        CHECK_OK(gs_image_read(gs_test_data("scenes/fern/images_8/image007.png"), &im));
        double se = 0;
        for (size_t i = 0; i < (size_t)im.width * im.height * 3; i++) se += (1.0 - im.data[i]) * (1.0 - im.data[i]);
        CHECK_NEAR(r.rows[7].psnr, -10 * log10(se / ((double)im.width * im.height * 3)), 1e-9);
        gs_image_free(&im);
    }
    CHECK(strstr(r.pairing, "by order") != NULL);
    gs_eval_report_free(&r);
    /* without the factor the cameras are 4032x3024 */
    gs_cameras full = {0};
    CHECK_OK(gs_cameras_read(gs_test_data("scenes/fern/poses_bounds.npy"), NULL, &full, NULL));
    CHECK_ERR(gs_eval_scene(&s, &full, gs_test_data("scenes/fern/images_8"), &o, NULL, &r),
              "camera 0 (unnamed) is 4032x3024 but its ground truth image000.png is 504x378");
    gs_cameras_free(&full);
    gs_cameras_free(&cams);
    gs_scene_free(&s);
}

/* ---- the command ------------------------------------------------------------------ */

TEST(eval_scene_command_line) {
    if (!getenv("GS_BIN")) TEST_SKIP("GS_BIN not set (run through make test)");
    gs_scene s;
    synth_scene(&s, 80);
    const char *scene = gs_test_tmp("cli_scene.ply"), *camf = gs_test_tmp("cli_cams.json");
    char gt[512], saved[512], p[1024], args[4096], *out;
    snprintf(gt, sizeof gt, "%s", gs_test_tmp("cli_gt"));
    snprintf(saved, sizeof saved, "%s", gs_test_tmp("cli_saved"));
    CHECK_OK(gs_mkdirs(gt));
    CHECK_OK(gs_scene_write(scene, &s));
    gs_scene back;
    CHECK_OK(gs_scene_read(scene, &back, NULL)); /* render what the command will read */
    gs_camera cam_list[2] = {make_cam("one.png", 48, 40, 50), make_cam("two.png", 48, 40, 45)};
    gs_cameras cams = {2, cam_list};
    CHECK_OK(gs_cameras_write_json(camf, &cams));
    gs_cameras cams_back = {0};
    CHECK_OK(gs_cameras_read(camf, NULL, &cams_back, NULL));
    const float white[3] = {1, 1, 1};
    for (int i = 0; i < 2 && cams_back.n == 2; i++)
        render_png(&back, &cams_back.cams[i], white, gs_path_join(p, sizeof p, gt, cam_list[i].name));
    snprintf(args, sizeof args,
             "eval --scene %s --cameras %s --gt %s --metrics psnr,ssim --quantize --quiet --device cpu "
             "--save-renders %s --json %s",
             scene, camf, gt, saved, gs_test_tmp("cli_scene.json"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "one.png") && strstr(out, "inf") && strstr(out, "2 views rendered and scored"));
    free(out);
    CHECK(gs_file_exists(gs_path_join(p, sizeof p, saved, "two.png")));
    uint8_t *js;
    size_t n;
    CHECK_OK(gs_read_file(gs_test_tmp("cli_scene.json"), 1 << 20, &js, &n));
    CHECK(strstr((char *)js, "\"scene\":") && strstr((char *)js, "cli_scene.ply"));
    free(js);
    /* the saved renders scored as a folder give the same table */
    snprintf(args, sizeof args, "eval --pred %s --gt %s --metrics psnr,ssim --device cpu", saved, gt);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "inf"));
    free(out);
    /* an image without camera is a note; a camera without image an error */
    render_png(&back, &cams_back.cams[0], white, gs_path_join(p, sizeof p, gt, "three.png"));
    snprintf(args, sizeof args, "eval --scene %s --cameras %s --gt %s --metrics psnr --quiet", scene, camf, gt);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "1 ground-truth image had no camera") && strstr(out, "three.png"));
    free(out);
    remove(gs_path_join(p, sizeof p, gt, "two.png"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK(out && strstr(out, "without a ground-truth image") && strstr(out, "two.png"));
    free(out);
    snprintf(args, sizeof args, "eval --scene %s --cameras %s --gt %s --metrics psnr --quiet --skip-missing", scene,
             camf, gt);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "1 camera had no ground-truth image"));
    free(out);
    /* usage errors */
    snprintf(args, sizeof args, "eval --scene %s --gt %s", scene, gt);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "--scene needs --cameras"));
    free(out);
    snprintf(args, sizeof args, "eval --pred %s --gt %s --quantize", saved, gt);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "go with --scene"));
    free(out);
    snprintf(args, sizeof args, "eval --scene %s --cameras %s --gt %s", gs_test_tmp("missing.ply"), camf, gt);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK(out && strstr(out, "missing.ply"));
    free(out);
    gs_cameras_free(&cams_back);
    gs_scene_free(&back);
    gs_scene_free(&s);
}
