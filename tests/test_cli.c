/* test_cli.c - the `gs` command as a user runs it: help, exit codes, and
 * `gs info` on real and broken files. Needs GS_BIN (set by `make test`). */
#include "tests/test.h"
#include "gs/core/runtime.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/scene.h"
#include "raster/raster.h"

#include <stdlib.h>
#include <sys/wait.h>

/* Run `gs ARGS`, capture stdout+stderr into *out (malloc'ed); return exit code. */


TEST(cli_help_and_unknown_command) {
    NEED_GS_BIN();
    char *out;
    CHECK_EQ_INT(gs_test_run_gs("--help", &out), 0);
    CHECK(out && strstr(out, "info"));
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("info --help", &out), 0);
    CHECK(out && strstr(out, "usage: gs info"));
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("frobnicate", &out), 2);
    CHECK(out && strstr(out, "unknown command 'frobnicate'"));
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("", &out), 2);
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("info", &out), 2);
    CHECK(out && strstr(out, "no FILE"));
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("--version", &out), 0);
    CHECK(out && strstr(out, "cuda:"));
    free(out);
}

TEST(cli_info_and_convert_real_files) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    char *out, args[2048];
    snprintf(args, sizeof args, "info %s", gs_test_data("splats/guitar.compressed.ply"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "PlayCanvas compressed PLY, 90854 splats, SH degree 0"));
    free(out);
    /* compressed PLY -> SPZ -> PLY -> .splat: the count survives every step */
    const char *spz = gs_test_tmp("guitar.spz"), *ply = gs_test_tmp("guitar.ply"), *spl = gs_test_tmp("guitar.splat");
    snprintf(args, sizeof args, "convert %s %s", gs_test_data("splats/guitar.compressed.ply"), spz);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "convert %s %s && %s convert %s %s", spz, ply, getenv("GS_BIN"), ply, spl);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "info %s %s %s", spz, ply, spl);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "Niantic SPZ, 90854 splats"));
    CHECK(out && strstr(out, "INRIA 3DGS PLY, 90854 splats"));
    CHECK(out && strstr(out, "antimatter15 .splat, 90854 splats"));
    free(out);
    /* cameras: transforms.json -> our JSON -> COLMAP text, 13 views each time */
    const char *js = gs_test_tmp("lego_cams.json"), *col = gs_test_tmp("lego_colmap_cli");
    snprintf(args, sizeof args, "convert %s %s && %s convert %s %s && %s info %s %s",
             gs_test_data("scenes/lego/transforms_train.json"), js, getenv("GS_BIN"), js, col, getenv("GS_BIN"), js, col);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "(gs-cameras JSON), 13 views"));
    CHECK(out && strstr(out, "(COLMAP text model), 13 views"));
    CHECK(out && strstr(out, "fx 1111.11"));
    free(out);
}

TEST(cli_bad_input_is_reported_with_the_file_name) {
    NEED_GS_BIN();
    char *out, args[1024];
    const char *bad = gs_test_tmp("broken.ply");
    CHECK_OK(gs_write_file_atomic(bad, "ply\nformat binary_little_endian 1.0\nelement vertex 1000000\nproperty float x\nend_header\n", 86));
    snprintf(args, sizeof args, "info %s", bad);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK(out && strstr(out, "broken.ply") && strstr(out, "error"));
    free(out);
    snprintf(args, sizeof args, "info %s", gs_test_tmp("does_not_exist.spz"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK(out && strstr(out, "does_not_exist.spz"));
    free(out);
    snprintf(args, sizeof args, "convert %s %s", bad, gs_test_tmp("out.spz"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    free(out);
    CHECK(!gs_file_exists(gs_test_tmp("out.spz"))); /* nothing half-written */
    CHECK_EQ_INT(gs_test_run_gs("convert --sh-degree 7 a.ply b.ply", &out), 2);
    CHECK(out && strstr(out, "--sh-degree"));
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("info --bogus x", &out), 2);
    free(out);
}

TEST(cli_render_cameras_orbit_and_video) {
    NEED_GS_BIN();
    /* a tiny scene: a red splat in front of the identity camera */
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 2, 0));
    for (int i = 0; i < 2; i++) {
        s.means[3 * i + 2] = 4 + i;
        s.means[3 * i] = 0.2f * i;
        for (int k = 0; k < 3; k++) s.scales[3 * i + k] = 0.3f;
        s.opacities[i] = 0.9f;
        s.sh[3 * i + i] = 1.5f; /* red, then green */
    }
    const char *ply = gs_test_tmp("two.ply"), *cams = gs_test_tmp("two_cams.json"), *dir = gs_test_tmp("two_out");
    CHECK_OK(gs_ply_write(ply, &s));
    gs_cameras c = {1, calloc(1, sizeof(gs_camera))};
    c.cams[0].R[0] = c.cams[0].R[4] = c.cams[0].R[8] = 1;
    c.cams[0].fx = c.cams[0].fy = 40;
    c.cams[0].cx = 24; c.cams[0].cy = 16;
    c.cams[0].width = 48; c.cams[0].height = 32;
    c.cams[0].has_pose = 1;
    snprintf(c.cams[0].name, sizeof c.cams[0].name, "images/front.jpg");
    CHECK_OK(gs_cameras_write_json(cams, &c));
    char args[2048], *out;
    snprintf(args, sizeof args, "render %s --cameras %s --out %s --depth --bg 0,0,1 --quiet", ply, cams, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    /* the PNG equals the library render, quantised */
    gs_image im;
    char p[1200];
    snprintf(p, sizeof p, "%s/front.png", dir);
    CHECK_OK(gs_image_read(p, &im));
    gs_raster_opts o;
    gs_raster_opts_default(&o);
    o.bg[2] = 1;
    gs_raster_out r;
    CHECK_OK(gs_render_cpu(&s, &c.cams[0], &o, &r));
    double maxd = 0;
    for (int i = 0; im.data && i < 48 * 32 * 3; i++) {
        float v = r.rgb[i] < 0 ? 0 : r.rgb[i] > 1 ? 1 : r.rgb[i];
        maxd = fmax(maxd, fabs(im.data[i] - v));
    }
    CHECK_MSG(maxd <= 0.5 / 255 + 1e-6, "PNG differs from the render by %g", maxd);
    CHECK(im.data && im.data[(16 * 48 + 24) * 3] > 0.5); /* red in the middle */
    gs_image_free(&im);
    float *d = NULL;
    int w, h;
    snprintf(p, sizeof p, "%s/depth/front.exr", dir);
    CHECK_OK(gs_exr_read_depth(p, &d, &w, &h));
    CHECK(d && w == 48 && h == 32 && fabs(d[16 * 48 + 24] - r.depth[16 * 48 + 24]) < 1e-6 && d[16 * 48 + 24] > 3.9);
    free(d);
    gs_raster_out_free(&r);
    /* an orbit around the scene, with a video when ffmpeg is present */
    int have_ffmpeg = system("command -v ffmpeg >/dev/null 2>&1") == 0;
    snprintf(args, sizeof args, "render %s --trajectory orbit --frames 6 --width 40 --height 30 --out %s/orbit %s%s --quiet", ply,
             dir, have_ffmpeg ? "--video " : "", have_ffmpeg ? gs_test_tmp("orbit.mp4") : "");
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(p, sizeof p, "%s/orbit/00005.png", dir);
    CHECK(gs_file_exists(p));
    if (have_ffmpeg) CHECK(gs_file_exists(gs_test_tmp("orbit.mp4")));
    /* errors: unknown trajectory, missing --out, cameras without poses */
    snprintf(args, sizeof args, "render %s --trajectory spiral --out %s", ply, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "spiral"));
    free(out);
    snprintf(args, sizeof args, "render %s --cameras %s", ply, cams);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    free(out);
    if (gs_test_data_dir()) {
        snprintf(args, sizeof args, "render %s --cameras %s --out %s/x", ply, gs_test_data("scenes/fern/sparse/0"), dir);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
        CHECK(out && strstr(out, "no pose"));
        free(out);
        snprintf(p, sizeof p, "%s/x", dir);
        CHECK_MSG(!gs_file_exists(p), "the failed render left its output folder behind");
    }
    gs_cameras_free(&c);
    gs_scene_free(&s);
}

static int read_png(const char *dir, const char *name, gs_image *im) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    memset(im, 0, sizeof *im);
    return gs_image_read(p, im) == GS_OK;
}

static double image_maxdiff(const gs_image *a, const gs_image *b) {
    if (!a->data || !b->data || a->width != b->width || a->height != b->height || a->channels != b->channels) return 1e9;
    double m = 0;
    for (size_t i = 0; i < (size_t)a->width * a->height * a->channels; i++) m = fmax(m, fabs(a->data[i] - b->data[i]));
    return m;
}

TEST(cli_render_frame_names_scene_flags_depth_scale_and_options) {
    NEED_GS_BIN();
    /* a soft splat: the antialiased mode changes its look */
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 3, 0));
    for (int i = 0; i < 3; i++) {
        s.means[3 * i] = 0.3f * (i - 1);
        s.means[3 * i + 2] = 4 + i;
        for (int k = 0; k < 3; k++) s.scales[3 * i + k] = i == 1 ? 0.004f : 0.25f; /* one sub-pixel splat */
        s.opacities[i] = 0.8f;
        s.sh[3 * i + i] = 1.5f;
    }
    const char *plain = gs_test_tmp("flags_plain.ply"), *flagged = gs_test_tmp("flags_aa.ply");
    CHECK_OK(gs_ply_write(plain, &s));
    s.antialiased = 1;
    CHECK_OK(gs_ply_write(flagged, &s));
    /* two cameras whose images share a file name in different folders; the second further back */
    gs_cameras c = {2, calloc(2, sizeof(gs_camera))};
    for (int i = 0; i < 2; i++) {
        gs_camera *k = &c.cams[i];
        k->R[0] = k->R[4] = k->R[8] = 1;
        k->t[2] = i ? 1.5 : 0;
        k->fx = k->fy = 60;
        k->cx = 24; k->cy = 16;
        k->width = 48; k->height = 32;
        k->has_pose = 1;
        snprintf(k->name, sizeof k->name, "%s/r_0.png", i ? "b" : "a");
    }
    const char *cams = gs_test_tmp("flags_cams.json");
    CHECK_OK(gs_cameras_write_json(cams, &c));
    const char *d1 = gs_test_tmp("flags_out_plain"), *d2 = gs_test_tmp("flags_out_aa"), *d3 = gs_test_tmp("flags_out_aa2");
    char args[2048], *out;
    snprintf(args, sizeof args, "render %s --cameras %s --out %s --depth --quiet", plain, cams, d1);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "render %s --cameras %s --out %s --quiet", flagged, cams, d2);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "antialiased"));
    free(out);
    snprintf(args, sizeof args, "render %s --cameras %s --out %s --antialiased --quiet", plain, cams, d3);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    /* r_0 twice: numbered frames, not one overwriting the other */
    char p[1200];
    snprintf(p, sizeof p, "%s/r_0.png", d1);
    CHECK(!gs_file_exists(p));
    gs_image a, b, e;
    CHECK(read_png(d1, "00000.png", &a) && read_png(d1, "00001.png", &b));
    CHECK(image_maxdiff(&a, &b) > 0.05); /* two different views */
    gs_image_free(&b);
    /* the scene's antialiased flag: as --antialiased, and unlike the plain render */
    CHECK(read_png(d2, "00000.png", &b) && read_png(d3, "00000.png", &e));
    CHECK_MSG(image_maxdiff(&b, &e) == 0, "flagged scene differs from --antialiased by %g", image_maxdiff(&b, &e));
    CHECK(image_maxdiff(&a, &b) > 1.5 / 255);
    gs_image_free(&a); gs_image_free(&b); gs_image_free(&e);
    /* depth PNGs share the first frame's colour scale */
    gs_raster_opts o;
    gs_raster_opts_default(&o);
    gs_raster_out r0, r1;
    s.antialiased = 0;
    CHECK_OK(gs_render_cpu(&s, &c.cams[0], &o, &r0));
    CHECK_OK(gs_render_cpu(&s, &c.cams[1], &o, &r1));
    float lo = 0, hi = 0;
    CHECK(gs_depth_colour_range(r0.depth, r0.alpha, 48 * 32, &lo, &hi));
    CHECK_MSG(lo > 3 && lo < 4 && hi > 4 && hi < 8, "depth range [%g, %g]", lo, hi);
    gs_image want, got;
    CHECK_OK(gs_colorize(r1.depth, 48, 32, lo, hi, 1, &want));
    CHECK(read_png(d1, "depth/00001.png", &got));
    CHECK_MSG(image_maxdiff(&want, &got) <= 0.5 / 255 + 1e-6, "second depth PNG not on the first frame's scale (%g)",
              image_maxdiff(&want, &got));
    gs_image_free(&want); gs_image_free(&got);
    gs_raster_out_free(&r0); gs_raster_out_free(&r1);
    /* option errors */
    const char *bad[] = {"--bg 0,0,2", "--bg 0,0,1x", "--bg 0,0", "--bg -0.1,0,0", "--video-depth"};
    for (int i = 0; i < 5; i++) {
        snprintf(args, sizeof args, "render %s --cameras %s --out %s %s", plain, cams, gs_test_tmp("flags_never"), bad[i]);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
        CHECK_MSG(out && strstr(out, i < 4 ? "--bg" : "--video"), "%s: %s", bad[i], out ? out : "");
        free(out);
    }
    CHECK(!gs_file_exists(gs_test_tmp("flags_never")));
    gs_cameras_free(&c);
    gs_scene_free(&s);
}

TEST(cli_eval_tables_and_errors) {
    NEED_GS_BIN();
    char *out, args[2048], p[1200];
    const char *pred = gs_test_tmp("ev_pred"), *gt = gs_test_tmp("ev_gt");
    CHECK_OK(gs_mkdirs(pred));
    CHECK_OK(gs_mkdirs(gt));
    gs_image a, b;
    CHECK_OK(gs_image_alloc(&a, 24, 20, 3));
    CHECK_OK(gs_image_alloc(&b, 24, 20, 3));
    for (int i = 0; i < 24 * 20 * 3; i++) { a.data[i] = (float)((i * 37) % 256) / 255.0f; b.data[i] = a.data[i]; }
    for (int i = 0; i < 24 * 20 * 3; i += 2) b.data[i] = a.data[i] > 0.5f ? a.data[i] - 0.1f : a.data[i] + 0.1f;
    snprintf(p, sizeof p, "%s/x.png", gt);  CHECK_OK(gs_image_write_png(p, &a, 8));
    snprintf(p, sizeof p, "%s/x.png", pred); CHECK_OK(gs_image_write_png(p, &b, 8));
    snprintf(p, sizeof p, "%s/same.png", gt);  CHECK_OK(gs_image_write_png(p, &a, 8));
    snprintf(p, sizeof p, "%s/same.png", pred); CHECK_OK(gs_image_write_png(p, &a, 8));
    snprintf(args, sizeof args, "eval --pred %s --gt %s --metrics psnr,ssim --json %s", pred, gt, gs_test_tmp("ev.json"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "same.png") && strstr(out, "inf"));
    free(out);
    uint8_t *js;
    size_t n;
    CHECK_OK(gs_read_file(gs_test_tmp("ev.json"), 1 << 20, &js, &n));
    CHECK(strstr((char *)js, "\"x.png\"") != NULL);
    free(js);
    snprintf(p, sizeof p, "%s/only_gt.png", gt); CHECK_OK(gs_image_write_png(p, &a, 8));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0); /* listed; an error with --strict */
    CHECK(out && strstr(out, "only_gt"));
    free(out);
    strncat(args, " --strict", sizeof args - strlen(args) - 1);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK(out && strstr(out, "only_gt"));
    free(out);
    gs_image_free(&a);
    gs_image_free(&b);
}
