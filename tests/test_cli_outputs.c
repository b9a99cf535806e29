/* test_cli_outputs.c - what `gs infer`, `gs nvs`, `gs render` and `gs
 * convert` write, after the review of issue 16: the photos copied beside
 * sparse/0 (a COLMAP dataset), --overwrite neither writing over the user's
 * files in gs's folders nor removing what the run reads, a video inside
 * --out however it is spelt, --vis-depth in render, COLMAP binary -> text
 * with the points, the glTF label of convert, and the export flags.
 * Through the `gs` binary on the tiny golden checkpoints; needs GS_BIN. */
#include "tests/test.h"
#include "data/cameras.h"
#include "data/image.h"
#include "gs/model/da3.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TINY_GS "tests/golden/da3/tiny-giant"
#define TINY_ANY "tests/golden/da3/tiny-anyview"

static int have_ffmpeg(void) { return system("ffmpeg -version > /dev/null 2>&1") == 0; }

/* n 64x48 photos outN.png (different pictures); their paths, space-separated */
static void photos(int n, char *buf, size_t size) {
    buf[0] = 0;
    for (int k = 0; k < n; k++) {
        char name[64];
        snprintf(name, sizeof name, "out-photo%d.png", k);
        const char *p = gs_test_tmp(name);
        if (!gs_file_exists(p)) {
            gs_image im;
            if (gs_image_alloc(&im, 64, 48, 3)) return;
            for (size_t i = 0; i < (size_t)64 * 48 * 3; i++) im.data[i] = (float)((i * (k + 5)) % 13) / 13.0f;
            if (gs_image_write_png(p, &im, 8)) { gs_image_free(&im); return; }
            gs_image_free(&im);
        }
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", k ? " " : "", p);
    }
}

/* `gs ARGS` with ARGS formatted; its exit status (the output is dropped) */
static int run_gs(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run_gs(const char *fmt, ...) {
    char args[8192], *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = gs_test_run_gs(args, &out);
    free(out);
    return rc;
}

static int same_bytes(const char *a, const char *b) {
    uint8_t *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int same = !gs_read_file(a, 1 << 26, &x, &nx) && !gs_read_file(b, 1 << 26, &y, &ny) && nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

static int file_says(const char *path, const char *text) {
    uint8_t *x = NULL;
    size_t n = 0;
    int ok = !gs_read_file(path, 1 << 20, &x, &n) && n == strlen(text) && !memcmp(x, text, n);
    free(x);
    return ok;
}

/* DIR/images holds the photos byte for byte under the names sparse/0 gives
 * them, and the network's images are in DIR/processed. */
TEST(cli_outputs_photos_beside_the_colmap_model) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char ph[2048], p[1200], q[1200];
    photos(3, ph, sizeof ph);
    const char *dir = gs_test_tmp("outs-colmap");
    CHECK_EQ_INT(run_gs("infer --model " TINY_ANY " %s --process-res 56 --quiet --out %s", ph, dir), 0);
    gs_cameras c;
    snprintf(p, sizeof p, "%s/sparse/0", dir);
    CHECK_OK(gs_cameras_read(p, NULL, &c, NULL));
    CHECK_EQ_INT(c.n, 3);
    for (int v = 0; v < c.n; v++) {
        snprintf(p, sizeof p, "%s/images/%s", dir, c.cams[v].name);
        snprintf(q, sizeof q, "%s", gs_test_tmp(c.cams[v].name));
        CHECK_MSG(same_bytes(p, q), "%s is not a copy of %s", p, q);
        gs_image im;
        CHECK_OK(gs_image_read(p, &im));
        CHECK(im.width == c.cams[v].width && im.height == c.cams[v].height); /* the model's size is the photo's */
        gs_image_free(&im);
    }
    gs_cameras_free(&c);
    snprintf(p, sizeof p, "%s/processed/out-photo0.png", dir);
    gs_image im;
    CHECK_OK(gs_image_read(p, &im));
    CHECK(im.width == 56); /* the network input */
    gs_image_free(&im);
}

/* --overwrite removes the earlier run's files only: files of the user's
 * under the names gs would write (an export, sparse/0, frames/) stay, and
 * the run is refused before any work. */
TEST(cli_outputs_overwrite_spares_user_files_in_gs_folders) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char ph[2048], args[4096], *out = NULL, p[1200];
    photos(3, ph, sizeof ph);
    const char *dir = gs_test_tmp("outs-ow");
    CHECK_EQ_INT(run_gs("infer --model " TINY_GS " %s --process-res 56 --quiet --out %s", ph, dir), 0);
    snprintf(p, sizeof p, "%s/gaussians.spz", dir);
    CHECK_OK(gs_write_file_atomic(p, "user", 4));
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s --process-res 56 --quiet --overwrite --gs --export spz --out %s",
             ph, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "gaussians.spz") && strstr(out, "did not write"), "%s", out ? out : "");
    free(out);
    CHECK(file_says(p, "user"));
    remove(p);
    /* a file of the user's in sparse/0 (the text model would remove the binary one) */
    snprintf(p, sizeof p, "%s/sparse/0/notes.bin", dir);
    CHECK_OK(gs_write_file_atomic(p, "mine", 4));
    snprintf(args, sizeof args, "infer --model " TINY_GS " %s --process-res 56 --quiet --overwrite --colmap-text --out %s",
             ph, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "notes.bin"), "%s", out ? out : "");
    free(out);
    CHECK(file_says(p, "mine"));
    remove(p);
    /* gs nvs --save-frames: a frame of the user's */
    if (have_ffmpeg()) {
        snprintf(p, sizeof p, "%s/frames", dir);
        CHECK_OK(gs_mkdirs(p));
        snprintf(p, sizeof p, "%s/frames/00000.png", dir);
        CHECK_OK(gs_write_file_atomic(p, "USER", 4));
        snprintf(args, sizeof args,
                 "nvs --model " TINY_GS " %s --process-res 56 --frames 2 --save-frames --overwrite --quiet --out %s", ph, dir);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
        CHECK_MSG(out && strstr(out, "frames/00000.png"), "%s", out ? out : "");
        free(out);
        CHECK(file_says(p, "USER"));
    }
}

/* --overwrite never removes what the run reads: a render of an nvs folder's
 * splats into that same folder is refused, and the splats stay. */
TEST(cli_outputs_overwrite_keeps_the_inputs_of_the_run) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char ph[2048], args[4096], *out = NULL, p[1200];
    photos(2, ph, sizeof ph);
    const char *dir = gs_test_tmp("outs-inputs");
    CHECK_EQ_INT(run_gs("nvs --model " TINY_GS " %s --process-res 56 --no-video --quiet --out %s", ph, dir), 0);
    snprintf(args, sizeof args, "render %s/gaussians.ply --cameras %s/cameras.json --overwrite --out %s", dir, dir, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "which this run reads"), "%s", out ? out : "");
    free(out);
    snprintf(p, sizeof p, "%s/gaussians.ply", dir);
    CHECK(gs_file_exists(p));
    snprintf(p, sizeof p, "%s/cameras.json", dir);
    CHECK(gs_file_exists(p));
    /* the photos themselves as inputs from an earlier run's images/ copies */
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s/images/out-photo0.png %s/images/out-photo1.png --process-res 56 "
             "--no-video --quiet --overwrite --out %s", dir, dir, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "which this run reads"), "%s", out ? out : "");
    free(out);
    snprintf(p, sizeof p, "%s/images/out-photo1.png", dir);
    CHECK(gs_file_exists(p));
}

/* gs render: a --video inside --out however it is spelt (./DIR/v.mp4, with
 * DIR not made yet) is written and recorded; --vis-depth vcat stacks the
 * depth below the RGB; a trajectory error counts the views it had. */
TEST(cli_outputs_render_video_in_out_and_vis_depth) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    if (!have_ffmpeg()) TEST_SKIP("ffmpeg not installed");
    char ph[2048], args[4096], *out = NULL, p[1200];
    photos(3, ph, sizeof ph);
    const char *src = gs_test_tmp("outs-render-src");
    CHECK_EQ_INT(run_gs("nvs --model " TINY_GS " %s --process-res 56 --no-video --quiet --out %s", ph, src), 0);
    const char *dir = gs_test_tmp("outs-render");
    char cwd_rel[1400];
    snprintf(cwd_rel, sizeof cwd_rel, "%s/./v.mp4", dir); /* another spelling of DIR/v.mp4 */
    CHECK_EQ_INT(run_gs("render %s/gaussians.ply --trajectory orbit --frames 2 --width 32 --height 24 --video %s "
             "--vis-depth vcat --out %s", src, cwd_rel, dir), 0);
    snprintf(p, sizeof p, "%s/.gs-outputs", dir);
    uint8_t *rec = NULL;
    size_t n = 0;
    CHECK_OK(gs_read_file(p, 1 << 20, &rec, &n));
    CHECK_MSG(rec && strstr((char *)rec, "f v.mp4\n"), "%s", rec ? (char *)rec : "");
    free(rec);
    snprintf(args, sizeof args, "ffprobe -v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 %s/v.mp4",
             dir);
    CHECK_EQ_INT(gs_test_run(args, &out), 0);
    CHECK_MSG(out && strstr(out, "32,56"), "vcat of 32x24 frames is 32x(2*24+8): %s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "render %s/gaussians.ply --trajectory wobble_inter --cameras %s/cameras.json --out %s",
             src, src, gs_test_tmp("outs-render2"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "with the 3 views of"), "%s", out ? out : "");
    free(out);
}

/* gs convert: a binary COLMAP model to text keeps its points and tracks; a
 * .glb output is named as glTF. The export flags: --prune-border (the
 * default) is accepted, and refused beside --keep-all-gaussians. */
TEST(cli_outputs_convert_colmap_points_and_glb_label) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char ph[2048], args[4096], *out = NULL, p[1200];
    photos(3, ph, sizeof ph);
    const char *dir = gs_test_tmp("outs-convert");
    CHECK_EQ_INT(run_gs("infer --model " TINY_GS " %s --gs --process-res 56 --quiet --prune-border --out %s", ph, dir), 0);
    float *xyz = NULL;
    uint8_t *rgb = NULL;
    int64_t nb = 0, nt = 0;
    snprintf(p, sizeof p, "%s/sparse/0", dir);
    CHECK_OK(gs_colmap_points_read(p, &xyz, &rgb, &nb));
    free(xyz);
    free(rgb);
    CHECK(nb > 0);
    const char *txt = gs_test_tmp("outs-colmap-text");
    CHECK_EQ_INT(run_gs("convert %s/sparse/0 %s", dir, txt), 0);
    CHECK_OK(gs_colmap_points_read(txt, &xyz, &rgb, &nt));
    free(xyz);
    free(rgb);
    CHECK_EQ_INT(nt, nb);
    snprintf(args, sizeof args, "convert %s/gaussians.ply %s", dir, gs_test_tmp("outs.glb"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    const char *arrow = out ? strstr(out, "->") : NULL;
    CHECK_MSG(arrow && strstr(arrow, "(glTF KHR_gaussian_splatting,") && !strstr(arrow, "INRIA"), "%s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "nvs --model /nonexistent %s --prune-border --keep-all-gaussians --out %s", ph,
             gs_test_tmp("outs-flags"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK_MSG(out && strstr(out, "--keep-all-gaussians keeps every Gaussian"), "%s", out ? out : "");
    free(out);
}

/* gs nvs --max-points caps scene.glb as gs infer's does; 0 writes none. */
TEST(cli_outputs_nvs_max_points_zero_no_scene_glb) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char ph[2048], p[1200];
    photos(2, ph, sizeof ph);
    const char *dir = gs_test_tmp("outs-maxp");
    CHECK_EQ_INT(run_gs("nvs --model " TINY_GS " %s --process-res 56 --no-video --max-points 0 --quiet --out %s",
             ph, dir), 0);
    snprintf(p, sizeof p, "%s/scene.glb", dir);
    CHECK(!gs_file_exists(p));
    snprintf(p, sizeof p, "%s/gaussians.ply", dir);
    CHECK(gs_file_exists(p));
}

/* Known cameras whose centres are on one line (two of them always are)
 * cannot align the predicted poses (Umeyama is degenerate, as in the
 * reference): said before the model loads, not after the network. */
TEST(cli_outputs_collinear_known_cameras_refused_before_the_model) {
    float w2c[3 * 16];
    memset(w2c, 0, sizeof w2c);
    for (int v = 0; v < 3; v++) {
        for (int k = 0; k < 4; k++) w2c[16 * v + 5 * k] = 1;
        w2c[16 * v + 3] = (float)-v; /* centres (v, 0, 0): one line */
    }
    CHECK_ERR(gs_da3_check_input_cameras(w2c, 3), "on one line");
    CHECK_ERR(gs_da3_check_input_cameras(w2c, 2), "on one line");
    CHECK_OK(gs_da3_check_input_cameras(w2c, 1));
    w2c[16 * 2 + 7] = -1.0f; /* the third at (2, 1, 0): a plane */
    CHECK_OK(gs_da3_check_input_cameras(w2c, 3));
    for (int v = 0; v < 3; v++) w2c[16 * v + 3] = w2c[16 * v + 7] = 0;
    CHECK_ERR(gs_da3_check_input_cameras(w2c, 3), "at one point");
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char ph[2048], args[4096], *out = NULL;
    photos(2, ph, sizeof ph);
    const char *dir = gs_test_tmp("outs-cams2");
    CHECK_EQ_INT(run_gs("infer --model " TINY_ANY " %s --process-res 56 --quiet --out %s", ph, dir), 0);
    snprintf(args, sizeof args, "infer --model /nonexistent/model %s --cameras %s/sparse/0 --out %s", ph, dir,
             gs_test_tmp("outs-cams2b"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "--cameras") && strstr(out, "on one line") && !strstr(out, "nonexistent"), "%s",
              out ? out : "");
    free(out);
}

/* Writing the splat files reports progress with an ETA, file by file, and
 * the "wrote" lines after it; --quiet prints none of it. */
TEST(cli_outputs_export_progress_with_eta) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char ph[2048], args[4096], *out = NULL;
    photos(2, ph, sizeof ph);
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --no-video --export ply,spz --out %s", ph,
             gs_test_tmp("outs-exprog"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    const char *w = out ? strstr(out, "writing gaussians.spz") : NULL;
    CHECK_MSG(w && strstr(out, "eta") && strstr(w, "100%") && strstr(strstr(w, "100%"), "wrote") , "%s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --no-video --export ply,spz --quiet --out %s",
             ph, gs_test_tmp("outs-exprog2"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && !strstr(out, "writing gaussians"), "%s", out);
    free(out);
}

/* gs convert never writes a COLMAP folder over or beside another model (nor
 * onto its input), and refuses a text model whose points a conversion to a
 * folder would lose. */
TEST(cli_outputs_convert_colmap_never_over_a_model) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char ph[2048], args[4096], *out = NULL, p[1200];
    photos(3, ph, sizeof ph);
    const char *dir = gs_test_tmp("outs-cv-model");
    CHECK_EQ_INT(run_gs("infer --model " TINY_ANY " %s --process-res 56 --quiet --out %s", ph, dir), 0);
    snprintf(args, sizeof args, "convert %s/sparse/0 %s/sparse/0", dir, dir); /* onto itself */
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "already holds a COLMAP model"), "%s", out ? out : "");
    free(out);
    snprintf(p, sizeof p, "%s/sparse/0/points3D.bin", dir);
    CHECK(gs_file_exists(p));
    snprintf(args, sizeof args, "convert %s/cameras.json %s/sparse/0", dir, dir); /* cameras beside a binary model */
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    free(out);
    snprintf(p, sizeof p, "%s/sparse/0/cameras.txt", dir);
    CHECK(!gs_file_exists(p));
    const char *txt = gs_test_tmp("outs-cv-text");
    CHECK_EQ_INT(run_gs("convert %s/sparse/0 %s", dir, txt), 0);
    snprintf(args, sizeof args, "convert %s %s", txt, gs_test_tmp("outs-cv-text2"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "would lose"), "%s", out ? out : "");
    free(out);
}

/* Known cameras are matched by name for every photo or by order for none:
 * a photo without a namesake among cameras that name the others is an
 * error, not silently given another photo's pose. */
TEST(cli_outputs_cameras_by_name_for_all_or_by_order_for_none) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char ph[2048], args[4096], *out = NULL, p[1200];
    photos(4, ph, sizeof ph);
    const char *dir = gs_test_tmp("outs-match");
    CHECK_EQ_INT(run_gs("infer --model " TINY_ANY " %s --process-res 56 --quiet --out %s", ph, dir), 0);
    /* out-photo1..3 match by name, X.png has no camera of its name */
    snprintf(p, sizeof p, "%s/X.png", gs_test_tmp("outs-match-x"));
    CHECK_OK(gs_mkdirs(gs_test_tmp("outs-match-x")));
    char cmd[3000];
    snprintf(cmd, sizeof cmd, "cp %s %s", gs_test_tmp("out-photo0.png"), p);
    CHECK_EQ_INT(system(cmd), 0);
    snprintf(args, sizeof args, "infer --model /nonexistent %s %s %s %s --cameras %s/cameras.json --out %s",
             gs_test_tmp("out-photo1.png"), p, gs_test_tmp("out-photo2.png"), gs_test_tmp("out-photo3.png"), dir,
             gs_test_tmp("outs-match2"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "no camera named like image") && strstr(out, "X"), "%s", out ? out : "");
    free(out);
}

/* Photos sharing a file name get one unique name each (NNN_NAME), the same
 * in depth/ as in images/ and sparse/0, even beside a photo that is named
 * NNN_NAME itself. */
TEST(cli_outputs_shared_photo_names_stay_unique_and_paired) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char args[4096], *out = NULL, p[1200], cmd[3000];
    photos(3, p, sizeof p);
    const char *a = gs_test_tmp("outs-dup-a"), *b = gs_test_tmp("outs-dup-b");
    CHECK_OK(gs_mkdirs(a));
    CHECK_OK(gs_mkdirs(b));
    snprintf(cmd, sizeof cmd, "cp %s %s/p0.png && cp %s %s/p0.png && cp %s %s/001_p0.png", gs_test_tmp("out-photo0.png"),
             a, gs_test_tmp("out-photo1.png"), b, gs_test_tmp("out-photo2.png"), b);
    CHECK_EQ_INT(system(cmd), 0);
    const char *dir = gs_test_tmp("outs-dup");
    CHECK_EQ_INT(run_gs("infer --model " TINY_ANY " %s/p0.png %s/p0.png %s/001_p0.png --process-res 56 --quiet --out %s",
             a, b, b, dir), 0);
    gs_cameras c;
    snprintf(p, sizeof p, "%s/sparse/0", dir);
    CHECK_OK(gs_cameras_read(p, NULL, &c, NULL));
    CHECK_EQ_INT(c.n, 3);
    for (int v = 0; v < c.n; v++) {
        for (int u = 0; u < v; u++) CHECK_MSG(strcmp(c.cams[u].name, c.cams[v].name), "two images named %s", c.cams[v].name);
        char stem[256], q[1600];
        gs_path_stem(c.cams[v].name, stem, sizeof stem);
        snprintf(q, sizeof q, "%s/depth/%s.exr", dir, stem);
        CHECK_MSG(gs_file_exists(q), "no %s beside images/%s", q, c.cams[v].name);
        snprintf(q, sizeof q, "%s/images/%s", dir, c.cams[v].name);
        CHECK(gs_file_exists(q));
    }
    /* the three photos are three different files in images/ */
    snprintf(cmd, sizeof cmd, "%s/images/%s", dir, c.n == 3 ? c.cams[1].name : "");
    char cmd2[3000];
    snprintf(cmd2, sizeof cmd2, "%s/images/%s", dir, c.n == 3 ? c.cams[2].name : "");
    CHECK(c.n == 3 && !same_bytes(cmd, cmd2));
    gs_cameras_free(&c);
    /* --dump inside --out is refused (it is written before DIR is prepared) */
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s/p0.png --dump %s/dump --out %s", a, gs_test_tmp("outs-dump"),
             gs_test_tmp("outs-dump"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK_MSG(out && strstr(out, "inside --out"), "%s", out ? out : "");
    free(out);
}

/* gs eval-nvs checks its split, metrics and LPIPS weights before the
 * checkpoint is read: with a model that does not exist, the option is named. */
TEST(cli_outputs_eval_nvs_options_before_the_model) {
    NEED_GS_BIN();
    if (!gs_test_data_dir()) TEST_SKIP("../shared/data absent");
    const char *cams = gs_test_data("scenes/fern/poses_bounds.npy");
    if (!gs_file_exists(cams)) TEST_SKIP("no fern scene in ../shared/data");
    static const char *const cases[][2] = {{"--context 0,99", "context view 99 is out of range"},
                                           {"--targets 99", "target view 99 is out of range"},
                                           {"--num-context 1", "at least 2 context views"},
                                           {"--metrics lpips --lpips-weights /nonexistent.safetensors", "LPIPS weights"}};
    for (int k = 0; k < 4; k++) {
        char args[3000], *out = NULL;
        snprintf(args, sizeof args, "eval-nvs --model /nonexistent/model --cameras %s --llff-factor 8 --out %s %s", cams,
                 gs_test_tmp("outs-evnvs"), cases[k][0]);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
        CHECK_MSG(out && strstr(out, cases[k][1]) && !strstr(out, "nonexistent/model"), "%s: %s", cases[k][0],
                  out ? out : "");
        free(out);
        CHECK(!gs_file_exists(gs_test_tmp("outs-evnvs")));
    }
}
