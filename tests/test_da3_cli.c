/* test_da3_cli.c - the network commands end to end through the `gs` binary
 * on tiny golden checkpoints: `gs infer` (outputs, and that the written depth
 * equals the library's), `gs nvs` (splats, cameras, video), `gs bench infer`,
 * and their errors. Needs GS_BIN (make test) and ../shared/data. */
#include "tests/test.h"
#include "gs/model/da3.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/scene.h"

#include <stdlib.h>
#include <string.h>

#define FERN "scenes/fern/images_8/"
#define TINY_ANY "tests/golden/da3/tiny-anyview"
#define TINY_GS "tests/golden/da3/tiny-giant"

static int have_ffmpeg(void) { return system("ffmpeg -version > /dev/null 2>&1") == 0; }

TEST(cli_infer_outputs_match_library) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char img0[512], img1[512], args[2048], *out = NULL;
    snprintf(img0, sizeof img0, "%s", gs_test_data(FERN "image000.png"));
    snprintf(img1, sizeof img1, "%s", gs_test_data(FERN "image007.png"));
    const char *dir = gs_test_tmp("infer1");
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s %s --process-res 98 --out %s", img0, img1, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "backbone"), "no timings in: %s", out ? out : "");
    free(out);
    /* the same inference through the library */
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, TINY_ANY, NULL));
    gs_image im[2];
    CHECK_OK(gs_image_read(img0, &im[0]));
    CHECK_OK(gs_image_read(img1, &im[1]));
    gs_da3_options o;
    gs_da3_options_default(&o);
    o.process_res = 98;
    gs_da3_prediction p;
    CHECK_OK(gs_da3_infer(&m, im, 2, NULL, NULL, &o, &p));
    if (gs_test_failed()) return;
    CHECK_EQ_INT(p.W, 98);
    CHECK_EQ_INT(p.H, 70); /* 504x378 -> 98x73.5 -> 74 (round half even: 73.5 -> 74) -> x14: 70 */
    char path[1024];
    snprintf(path, sizeof path, "%s/depth/image007.exr", dir);
    float *d = NULL;
    int w = 0, h = 0;
    CHECK_OK(gs_exr_read_depth(path, &d, &w, &h));
    CHECK(w == p.W && h == p.H);
    double md = 0;
    for (int i = 0; d && i < w * h; i++) md = fmax(md, fabs(d[i] - p.depth[(size_t)p.W * p.H + i]));
    CHECK_MSG(md == 0.0, "written depth differs from the library's by %g", md);
    free(d);
    /* cameras: two views, the predicted intrinsics */
    gs_cameras c;
    snprintf(path, sizeof path, "%s/cameras.json", dir);
    CHECK_OK(gs_cameras_read(path, NULL, &c, NULL));
    CHECK_EQ_INT(c.n, 2);
    /* written with %.17g from the same float: exact */
    if (c.n == 2) CHECK(c.cams[1].fx == (double)p.intrinsics[9 + 0]);
    gs_cameras_free(&c);
    snprintf(path, sizeof path, "%s/points.ply", dir);
    CHECK(gs_file_exists(path));
    snprintf(path, sizeof path, "%s/processed/image000.png", dir);
    gs_image pi;
    CHECK_OK(gs_image_read(path, &pi));
    CHECK(pi.width == p.W && pi.height == p.H);
    gs_image_free(&pi);
    gs_da3_prediction_free(&p);
    gs_image_free(&im[0]);
    gs_image_free(&im[1]);
    gs_da3_free(&m);
}

TEST(cli_infer_errors) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char args[2048], *out = NULL;
    CHECK_EQ_INT(gs_test_run_gs("infer --model " TINY_ANY " --out /tmp/x", &out), 2);
    CHECK(out && strstr(out, "no IMAGES"));
    free(out);
    snprintf(args, sizeof args, "infer --model /nonexistent %s --out %s", gs_test_data(FERN "image000.png"),
             gs_test_tmp("e1"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK(out && strstr(out, "/nonexistent"));
    free(out);
    /* a truncated checkpoint */
    const char *bad = gs_test_tmp("bad.safetensors");
    CHECK_OK(gs_write_file_atomic(bad, "\x10\0\0\0\0\0\0\0{\"a\":", 13));
    snprintf(args, sizeof args, "infer --model %s --config da3-small %s --out %s", bad, gs_test_data(FERN "image000.png"),
             gs_test_tmp("e2"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK(out && strstr(out, "bad.safetensors"));
    free(out);
    /* --gs with a model without the 3DGS head names the models that have one */
    snprintf(args, sizeof args, "infer --gs --model " TINY_ANY " %s --process-res 56 --out %s",
             gs_test_data(FERN "image000.png"), gs_test_tmp("e3"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "da3-giant"), "%s", out ? out : "");
    free(out);
    /* an unreadable image is named */
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --out %s", bad, gs_test_tmp("e4"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK(out && strstr(out, "bad.safetensors"));
    free(out);
}

/* `gs infer --gs` on a model without the 3DGS head says so as `gs nvs` does:
 * the model's name and folder, and the models that have one; and it says so
 * before the network runs (the output folder is never made). */
TEST(cli_infer_gs_without_gs_head_names_the_model) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    gs_image im;
    CHECK_OK(gs_image_alloc(&im, 56, 42, 3));
    if (gs_test_failed()) return;
    for (size_t i = 0; i < (size_t)56 * 42 * 3; i++) im.data[i] = (float)(i % 7) / 7.0f;
    const char *png = gs_test_tmp("nohead.png");
    CHECK_OK(gs_image_write_png(png, &im, 8));
    gs_image_free(&im);
    const char *dir = gs_test_tmp("nohead-out");
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "infer --gs --model " TINY_ANY " %s --process-res 56 --out %s", png, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "gs infer: error: model tiny-anyview (" TINY_ANY ") has no 3DGS head") &&
                  strstr(out, "da3-giant") && strstr(out, "da3nested-giant-large"),
              "%s", out ? out : "");
    CHECK_MSG(!gs_is_dir(dir), "the network ran: %s was made", dir);
    free(out);
}

TEST(cli_nvs_splats_and_video) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char args[3000], *out = NULL, path[1024];
    const char *dir = gs_test_tmp("nvs1");
    int video = have_ffmpeg();
    snprintf(args, sizeof args,
             "nvs --model " TINY_GS " %s %s --process-res 56 --frames 4 --video-size 64x48 --export ply,spz "
             "--keep-all-gaussians %s --out %s",
             gs_test_data(FERN "image000.png"), gs_test_data(FERN "image010.png"), video ? "" : "--no-video", dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "Gaussians"), "%s", out ? out : "");
    free(out);
    /* 2 views of 56x42: one Gaussian per pixel, degree-2 SH, no pruning with --keep-all-gaussians */
    gs_scene s;
    snprintf(path, sizeof path, "%s/gaussians.ply", dir);
    CHECK_OK(gs_scene_read(path, &s, NULL));
    CHECK_EQ_INT(s.n, 2 * 56 * 42);
    CHECK_EQ_INT(s.sh_degree, 2);
    gs_scene_free(&s);
    snprintf(path, sizeof path, "%s/gaussians.spz", dir);
    CHECK_OK(gs_scene_read(path, &s, NULL));
    CHECK_EQ_INT(s.n, 2 * 56 * 42);
    gs_scene_free(&s);
    gs_cameras c;
    snprintf(path, sizeof path, "%s/cameras.json", dir);
    CHECK_OK(gs_cameras_read(path, NULL, &c, NULL));
    CHECK_EQ_INT(c.n, 2);
    gs_cameras_free(&c);
    snprintf(path, sizeof path, "%s/video.mp4", dir);
    if (video) CHECK(gs_file_exists(path));
    /* DA3's PLY pruning (the default): border trim and the 90th depth percentile keep fewer */
    snprintf(args, sizeof args,
             "nvs --model " TINY_GS " %s --process-res 56 --no-video --max-depth-percentile 90 "
             "--sh-dc-only --out %s --quiet",
             gs_test_data(FERN "image000.png"), gs_test_tmp("nvs2"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(path, sizeof path, "%s/gaussians.ply", gs_test_tmp("nvs2"));
    CHECK_OK(gs_scene_read(path, &s, NULL));
    /* 56x42 has a zero trim (int(8/256*42) = 1, int(8/256*56) = 1): 54x40 kept, then <= 90% by depth */
    CHECK(s.n > 0 && s.n <= 54 * 40);
    CHECK(s.n >= (int64_t)(0.85 * 54 * 40));
    CHECK_EQ_INT(s.sh_degree, 0);
    gs_scene_free(&s);
}

TEST(cli_nvs_errors) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "nvs --model " TINY_ANY " %s --out %s", gs_test_data(FERN "image000.png"),
             gs_test_tmp("nvse"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "da3-giant") && strstr(out, "da3nested-giant-large") &&
                  strstr(out, "model tiny-anyview (" TINY_ANY ") has no 3DGS head"),
              "%s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --trajectory spiral --out %s",
             gs_test_data(FERN "image000.png"), gs_test_tmp("nvse"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "spiral"));
    free(out);
}

TEST(cli_bench_infer_quick) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char *out = NULL;
    const char *json = gs_test_tmp("bench.json");
    char args[1024];
    snprintf(args, sizeof args, "bench infer --model " TINY_ANY " --views 1,3 --size 56x42 --runs 1 --warmup 0 --json %s", json);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "backbone") && strstr(out, "56x42"), "%s", out ? out : "");
    free(out);
    uint8_t *j = NULL;
    size_t n = 0;
    CHECK_OK(gs_read_file(json, 1 << 20, &j, &n));
    CHECK(j && strstr((char *)j, "\"views\": 3"));
    free(j);
}
