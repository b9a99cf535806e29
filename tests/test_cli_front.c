/* test_cli_front.c - what `gs infer`, `gs nvs` and `gs render` do before any
 * work and around their output folders: option errors before the model is
 * loaded (nothing written), the .gs-outputs record and --overwrite, the mode
 * gs nvs says it renders, DA3's video layout (depth right of the RGB by
 * default) and the trajectory cameras written beside the video. Through the
 * `gs` binary on the tiny golden checkpoint; needs GS_BIN (make test). */
#include "tests/test.h"
#include "data/cameras.h"
#include "data/image.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#define TINY_GS "tests/golden/da3/tiny-giant"

static int have_ffmpeg(void) { return system("ffmpeg -version > /dev/null 2>&1") == 0; }

/* n small photos photoN.png in the test folder; their paths, space-separated, into buf */
static void photos(int n, char *buf, size_t size) {
    buf[0] = 0;
    for (int k = 0; k < n; k++) {
        char name[64];
        snprintf(name, sizeof name, "front-photo%d.png", k);
        const char *p = gs_test_tmp(name);
        if (!gs_file_exists(p)) {
            gs_image im;
            if (gs_image_alloc(&im, 56, 42, 3)) return;
            for (size_t i = 0; i < (size_t)56 * 42 * 3; i++) im.data[i] = (float)((i * (k + 3)) % 11) / 11.0f;
            if (gs_image_write_png(p, &im, 8)) { gs_image_free(&im); return; }
            gs_image_free(&im);
        }
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", k ? " " : "", p);
    }
}

static int n_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Errors the options alone decide come before the model loads: with a model
 * that does not exist, the option is named (not the model), nothing is made,
 * and it is quick. */
TEST(cli_front_option_errors_before_the_model) {
    NEED_GS_BIN();
    char ph3[2048], ph1[1024], args[4096], *out = NULL;
    photos(3, ph3, sizeof ph3);
    photos(1, ph1, sizeof ph1);
    const char *dir = gs_test_tmp("front-early");
    struct {
        const char *opts, *photos, *needle;
        int rc;
    } cases[] = {
        {"--trajectory wobble_inter", ph3, "wobble_inter", 2},   /* needs 4 views */
        {"--export ply,foo", ph1, "--export", 2},                 /* unknown format */
        {"--trajectory original --frames 7", ph3, "--frames", 2}, /* one frame per view */
        {"--save-frames --no-video", ph1, "--save-frames", 2},
        {"--video-size 8192x64", ph1, "--video-size", 2},         /* 2x8192+8 wide with the depth */
        {"--vis-depth side", ph1, "--vis-depth", 2},
        {"--video-quality best", ph1, "--video-quality", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(args, sizeof args, "nvs --model /nonexistent/model %s %s --out %s", cases[i].photos, cases[i].opts, dir);
        double t0 = gs_now();
        int rc = gs_test_run_gs(args, &out);
        CHECK_MSG(rc == cases[i].rc && out && strstr(out, cases[i].needle) && !strstr(out, "/nonexistent/model"),
                  "%s: exit %d: %s", cases[i].opts, rc, out ? out : "");
        CHECK_MSG(gs_now() - t0 < 5.0, "%s: took %.1f s", cases[i].opts, gs_now() - t0);
        CHECK_MSG(!gs_file_exists(dir), "%s: %s was made", cases[i].opts, dir);
        free(out);
        out = NULL;
    }
    /* the same with the real model: still nothing written (today gaussians.ply came first) */
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --export ply,foo --out %s", ph1, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    free(out);
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --trajectory wobble_inter --out %s", ph3, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK_MSG(out && strstr(out, "needs at least 4 views") && !strstr(out, "network"), "%s", out ? out : "");
    free(out);
    CHECK_MSG(!gs_file_exists(dir), "%s was made", dir);
    /* ffmpeg missing when the video is wanted: said before the model (PATH without it) */
    snprintf(args, sizeof args, "nvs --model /nonexistent/model %s --out %s", ph1, dir);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "PATH=/nonexistent-bin %s %s 2>&1", getenv("GS_BIN"), args);
    int rc = gs_test_run(cmd, &out);
    CHECK_MSG(rc == 1 && out && strstr(out, "ffmpeg") && !strstr(out, "/nonexistent/model"), "exit %d: %s", rc,
              out ? out : "");
    free(out);
    /* an output folder that cannot be made */
    const char *file = gs_test_tmp("front-a-file");
    CHECK_OK(gs_write_file_atomic(file, "x", 1));
    snprintf(args, sizeof args, "infer --model /nonexistent/model %s --out %s/sub", ph1, file);
    rc = gs_test_run_gs(args, &out);
    CHECK_MSG(rc != 0 && out && strstr(out, "--out") && !strstr(out, "/nonexistent/model"), "exit %d: %s", rc,
              out ? out : "");
    free(out);
    /* gs render: an impossible trajectory is refused before the scene is read */
    const char *cams = gs_test_tmp("front-cams.json");
    gs_cameras c = {0, NULL};
    c.cams = calloc(2, sizeof *c.cams);
    c.n = 2;
    for (int k = 0; c.cams && k < 2; k++) {
        gs_camera *q = &c.cams[k];
        q->width = 56; q->height = 42; q->fx = q->fy = 50; q->cx = 28; q->cy = 21;
        q->R[0] = q->R[4] = q->R[8] = 1;
        q->t[0] = 0.1 * k;
        q->has_pose = 1;
        snprintf(q->name, sizeof q->name, "v%d", k);
    }
    CHECK_OK(gs_cameras_write_json(cams, &c));
    gs_cameras_free(&c);
    snprintf(args, sizeof args, "render /nonexistent/scene.ply --cameras %s --trajectory wobble_inter --out %s", cams, dir);
    rc = gs_test_run_gs(args, &out);
    CHECK_MSG(rc == 1 && out && strstr(out, "--trajectory wobble_inter") && strstr(out, "at least 4 views") &&
                  !strstr(out, "scene.ply"), "exit %d: %s", rc, out ? out : "");
    free(out);
    CHECK(!gs_file_exists(dir));
}

/* An output folder with an earlier run's results is refused; --overwrite
 * removes exactly gs's files of it, never the user's. */
TEST(cli_front_overwrite) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char ph2[2048], ph1[1024], args[4096], path[1024], *out = NULL;
    photos(2, ph2, sizeof ph2);
    photos(1, ph1, sizeof ph1);
    const char *dir = gs_test_tmp("front-ow");
    /* two views: depth/, conf/, images/ for both */
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s --process-res 56 --quiet --out %s", ph2, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(path, sizeof path, "%s/depth/front-photo1.exr", dir);
    CHECK(gs_file_exists(path));
    snprintf(path, sizeof path, "%s/my-notes.txt", dir);
    CHECK_OK(gs_write_file_atomic(path, "mine", 4));
    snprintf(path, sizeof path, "%s/depth/my-depth.txt", dir);
    CHECK_OK(gs_write_file_atomic(path, "mine too", 8));
    /* again, one view: refused, nothing changed */
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s --process-res 56 --quiet --out %s", ph1, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "--overwrite") && strstr(out, "earlier"), "%s", out ? out : "");
    free(out);
    snprintf(path, sizeof path, "%s/depth/front-photo1.exr", dir);
    CHECK(gs_file_exists(path));
    /* with --overwrite: the view-1 files are gone, the user's stay, the new run is there */
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s --process-res 56 --quiet --overwrite --out %s", ph1, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    const char *gone[] = {"depth/front-photo1.exr", "depth/front-photo1.png", "conf/front-photo1.exr",
                          "images/front-photo1.png"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, gone[k]);
        CHECK_MSG(!gs_file_exists(path), "%s stayed", path);
    }
    const char *kept[] = {"my-notes.txt", "depth/my-depth.txt", "depth/front-photo0.exr", "cameras.json",
                          "sparse/0/cameras.bin", ".gs-outputs"};
    for (int k = 0; k < 6; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, kept[k]);
        CHECK_MSG(gs_file_exists(path), "%s is missing", path);
    }
    gs_cameras c;
    snprintf(path, sizeof path, "%s/cameras.json", dir);
    CHECK_OK(gs_cameras_read(path, NULL, &c, NULL));
    CHECK_EQ_INT(c.n, 1);
    gs_cameras_free(&c);
    /* the record lists what gs wrote, not the user's files */
    uint8_t *rec = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/.gs-outputs", dir);
    CHECK_OK(gs_read_file(path, 1 << 20, &rec, &n));
    CHECK(rec && strstr((char *)rec, "f depth/front-photo0.exr\n") && strstr((char *)rec, "f sparse/0/cameras.bin\n"));
    CHECK(rec && !strstr((char *)rec, "my-") && !strstr((char *)rec, "front-photo1"));
    free(rec);
    /* gs nvs in the same folder: refused too; with --overwrite the infer files go, the user's stay */
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --no-video --quiet --out %s", ph1, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    free(out);
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --no-video --quiet --overwrite --out %s", ph1, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(path, sizeof path, "%s/depth", dir);
    CHECK_EQ_INT(n_entries(path), 1); /* my-depth.txt only: the folder stays for it */
    snprintf(path, sizeof path, "%s/processed", dir);
    CHECK_MSG(!gs_file_exists(path), "%s stayed (empty)", path);
    snprintf(path, sizeof path, "%s/gaussians.ply", dir);
    CHECK(gs_file_exists(path));
    /* a folder with only the user's files needs no flag */
    const char *dir2 = gs_test_tmp("front-ow2");
    snprintf(path, sizeof path, "%s/readme.txt", dir2);
    CHECK_OK(gs_mkdirs(dir2));
    CHECK_OK(gs_write_file_atomic(path, "x", 1));
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --no-video --out %s", ph1, dir2);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "note"), "%s", out ? out : "");
    free(out);
    CHECK(gs_file_exists(path));
    /* a file of the user's where gs infer copies a photo (images/NAME) is never written over */
    const char *dir3 = gs_test_tmp("front-ow3");
    snprintf(path, sizeof path, "%s/images", dir3);
    CHECK_OK(gs_mkdirs(path));
    snprintf(path, sizeof path, "%s/images/front-photo0.png", dir3);
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "cp %s %s", ph1, path);
    CHECK_EQ_INT(system(cmd), 0);
    char other[600];
    snprintf(other, sizeof other, "%s/other", dir3);
    CHECK_OK(gs_mkdirs(other));
    snprintf(cmd, sizeof cmd, "cp %s/front-photo1.png %s/other/front-photo0.png", gs_test_tmpdir(), dir3);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s/other/front-photo0.png --process-res 56 --quiet --out %s",
             dir3, dir3);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "front-photo0.png") && strstr(out, "did not write"), "%s", out ? out : "");
    free(out);
    /* the photo that is DIR/images/NAME itself (a COLMAP dataset's folder): used in place, left as it is */
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s --process-res 56 --quiet --out %s", path, dir3);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(cmd, sizeof cmd, "%s/sparse/0/images.bin", dir3);
    CHECK(gs_file_exists(cmd));
    uint8_t *rec2 = NULL;
    size_t n2 = 0;
    snprintf(cmd, sizeof cmd, "%s/.gs-outputs", dir3);
    CHECK_OK(gs_read_file(cmd, 1 << 20, &rec2, &n2));
    CHECK_MSG(rec2 && !strstr((char *)rec2, "f images/"), "the user's photo is not recorded: %s", rec2 ? (char *)rec2 : "");
    free(rec2);
    gs_image a, b;
    CHECK_OK(gs_image_read(path, &a));
    CHECK_OK(gs_image_read(ph1, &b));
    CHECK(a.width == 56 && b.width == 56 && !memcmp(a.data, b.data, (size_t)56 * 42 * 3 * sizeof(float)));
    gs_image_free(&a);
    gs_image_free(&b);
}

/* With one photo every mode but dolly_zoom and orbit renders wander, and gs
 * nvs says so; the frames' cameras are written as trajectory.json. */
TEST(cli_front_nvs_mode_and_trajectory_json) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    if (!have_ffmpeg()) TEST_SKIP("ffmpeg not installed");
    char ph1[1024], args[4096], path[1024], *out = NULL;
    photos(1, ph1, sizeof ph1);
    const char *dir = gs_test_tmp("front-mode");
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --frames 5 --video-size 40x30 --out %s",
             ph1, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "5 frames (wander, 40x30)") && !strstr(out, "(extend"), "%s", out ? out : "");
    free(out);
    snprintf(path, sizeof path, "%s/trajectory.json", dir);
    snprintf(args, sizeof args, "info %s", path);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "gs-cameras JSON), 5 views") && strstr(out, "wander_00004") &&
                  strstr(out, "40x30"),
              "%s", out ? out : "");
    free(out);
    /* and they are the frames: gs render at them gives the video's size */
    gs_cameras c;
    CHECK_OK(gs_cameras_read(path, NULL, &c, NULL));
    CHECK_EQ_INT(c.n, 5);
    for (int i = 0; i < c.n; i++) CHECK(c.cams[i].has_pose && c.cams[i].width == 40 && c.cams[i].height == 30);
    gs_cameras_free(&c);
    /* dolly_zoom stays dolly_zoom with one photo */
    snprintf(args, sizeof args,
             "nvs --model " TINY_GS " %s --process-res 56 --frames 4 --video-size 40x30 --trajectory dolly_zoom "
             "--overwrite --out %s", ph1, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "4 frames (dolly_zoom, 40x30)"), "%s", out ? out : "");
    free(out);
    /* gs render along a trajectory writes its cameras too */
    const char *rdir = gs_test_tmp("front-mode-render");
    snprintf(args, sizeof args, "render %s/gaussians.ply --cameras %s/cameras.json --trajectory dolly_zoom --frames 3 "
             "--out %s --quiet", dir, dir, rdir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(path, sizeof path, "%s/trajectory.json", rdir);
    CHECK_OK(gs_cameras_read(path, NULL, &c, NULL));
    CHECK_EQ_INT(c.n, 3);
    if (c.n == 3) CHECK_STR(c.cams[2].name, "dolly_zoom_00002");
    gs_cameras_free(&c);
    /* rendered at those cameras: the same frames (a 5-frame extend of 2 views: resampled, smoothed poses) */
    char ph2[2048];
    photos(2, ph2, sizeof ph2);
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --no-video --quiet --overwrite --out %s", ph2, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "render %s/gaussians.ply --cameras %s/cameras.json --trajectory extend --frames 5 "
             "--out %s --quiet --overwrite", dir, dir, rdir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    const char *rdir2 = gs_test_tmp("front-mode-render2");
    snprintf(args, sizeof args, "render %s/gaussians.ply --cameras %s/trajectory.json --out %s --quiet", dir, rdir, rdir2);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    for (int i = 0; i < 5; i++) {
        gs_image a, b;
        char pa[1024], pb[1024];
        snprintf(pa, sizeof pa, "%s/%05d.png", rdir, i);
        snprintf(pb, sizeof pb, "%s/extend_%05d.png", rdir2, i);
        CHECK_OK(gs_image_read(pa, &a));
        CHECK_OK(gs_image_read(pb, &b));
        if (gs_test_failed()) return;
        double md = 0;
        for (size_t k = 0; a.width == b.width && a.height == b.height && k < (size_t)a.width * a.height * 3; k++)
            md = fmax(md, fabs(a.data[k] - b.data[k]));
        CHECK_MSG(a.width == b.width && md <= 8.0 / 255, "frame %d: differs by %g", i, md);
        gs_image_free(&a);
        gs_image_free(&b);
    }
}

static int probe_size(const char *mp4, int *w, int *h, int *frames) {
    char cmd[1200], *out = NULL;
    snprintf(cmd, sizeof cmd, "ffprobe -v error -select_streams v:0 -count_frames -show_entries "
             "stream=width,height,nb_read_frames -of csv=p=0 %s", mp4);
    int rc = gs_test_run(cmd, &out);
    int ok = rc == 0 && out && sscanf(out, "%d,%d,%d", w, h, frames) == 3;
    free(out);
    return ok;
}

/* DA3's gs_video layout: by default the depth right of the RGB after an
 * 8-pixel white gap (hcat); vcat below; none the RGB alone. */
TEST(cli_front_nvs_video_panel) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    if (!have_ffmpeg() || system("ffprobe -version > /dev/null 2>&1") != 0) TEST_SKIP("ffmpeg/ffprobe not installed");
    char ph2[2048], args[4096], path[1024], *out = NULL;
    photos(2, ph2, sizeof ph2);
    struct { const char *opt; int w, h; } cases[] = {
        {"", 2 * 40 + 8, 30}, {"--vis-depth vcat", 40, 2 * 30 + 8}, {"--vis-depth none --video-quality low", 40, 30}};
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "front-panel%d", k);
        const char *dir = gs_test_tmp(name);
        snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --frames 3 --video-size 40x30 %s --quiet --out %s",
                 ph2, cases[k].opt, dir);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
        free(out);
        snprintf(path, sizeof path, "%s/video.mp4", dir);
        int w = 0, h = 0, f = 0;
        CHECK_MSG(probe_size(path, &w, &h, &f), "ffprobe %s", path);
        CHECK_MSG(w == cases[k].w && h == cases[k].h && f == 3, "'%s': %dx%d, %d frames; expected %dx%d, 3",
                  cases[k].opt, w, h, f, cases[k].w, cases[k].h);
    }
    /* the gap is white, the RGB left of it as rendered: read the first frame back */
    const char *png = gs_test_tmp("front-panel-f0.png");
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -y -i %s/video.mp4 -frames:v 1 %s", gs_test_tmp("front-panel0"), png);
    CHECK_EQ_INT(system(cmd), 0);
    gs_image im;
    CHECK_OK(gs_image_read(png, &im));
    if (gs_test_failed()) return;
    CHECK_EQ_INT(im.width, 88);
    double gap = 0;
    for (int y = 4; y < 26; y++)
        for (int x = 42; x < 46; x++)
            for (int c = 0; c < 3; c++) gap += im.data[3 * ((size_t)y * im.width + x) + c];
    gap /= 22 * 4 * 3;
    CHECK_MSG(gap > 0.9, "the gap's mean value is %.3f, not white", gap);
    gs_image_free(&im);
}

/* A folder given with a trailing slash is used without it: no printed path
 * has "//" (gs infer --gs, gs nvs, gs render). */
TEST(cli_front_no_double_slashes_in_printed_paths) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char ph3[2048], args[4096], *out = NULL;
    photos(3, ph3, sizeof ph3);
    char dir[600], dir2[600];
    snprintf(dir, sizeof dir, "%s/", gs_test_tmp("slash-infer"));
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s --gs --process-res 56 --out %s", ph3, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "gaussians.ply") && !strstr(out, "//"), "%s", out ? out : "");
    free(out);
    snprintf(dir2, sizeof dir2, "%s//", gs_test_tmp("slash-nvs"));
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --frames 3 --video-size 40x30 --out %s",
             ph3, dir2);
    if (have_ffmpeg()) {
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
        CHECK_MSG(out && strstr(out, "video.mp4") && !strstr(out, "//"), "%s", out ? out : "");
        free(out);
    }
    snprintf(args, sizeof args, "render %sgaussians.ply --cameras %scameras.json --depth --out %s/", dir, dir,
             gs_test_tmp("slash-render"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    char *rest = out ? strstr(out, "gaussians.ply") : NULL; /* after the scene path we gave */
    CHECK_MSG(rest && !strstr(rest, "//"), "%s", out ? out : "");
    free(out);
}
