/* test_eval_cli.c - the evaluation items of issue 16: `gs eval --pred --gt`
 * against a larger ground-truth folder (missing predictions counted and
 * named, --strict, predictions without ground truth), `gs render --depth`
 * writing depth beside the frames so that a render folder is evaluable,
 * labelled contact sheets (the text rasteriser and the sheet of gs
 * eval-nvs), separate context and target camera files for gs eval-nvs, the
 * LPIPS weights found from another folder by each route, and the public
 * header gs/gs.h (its link line against `make print-libs`, the DA3 usage
 * example compiled and run as documented). */
#include "tests/test.h"
#include "gs/gs.h"
#include "eval/label.h"
#include "gs/nvs/eval_nvs.h"
#include "gs/nvs/nvs_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------------------ */

/* A w x h RGB image whose values depend on seed (integers / 255, exact in PNG). */
static void pattern(gs_image *im, int w, int h, int seed) {
    CHECK_OK(gs_image_alloc(im, w, h, 3));
    for (int i = 0; im->data && i < w * h * 3; i++) im->data[i] = (float)((i * 7 + seed * 31 + (i / 5) % 3) % 256) / 255.0f;
}

static void write_pattern(const char *dir, const char *name, int w, int h, int seed) {
    char p[1200];
    gs_image im;
    pattern(&im, w, h, seed);
    CHECK_OK(gs_image_write_png(gs_path_join(p, sizeof p, dir, name), &im, 8));
    gs_image_free(&im);
}

static double psnr_of_files(const char *pd, const char *gd, const char *name) {
    char p[1200], g[1200];
    gs_image a = {0}, b = {0};
    double v = NAN;
    CHECK_OK(gs_image_read(gs_path_join(p, sizeof p, pd, name), &a));
    CHECK_OK(gs_image_read(gs_path_join(g, sizeof g, gd, name), &b));
    if (a.data && b.data) CHECK_OK(gs_psnr(&a, &b, &v));
    gs_image_free(&a);
    gs_image_free(&b);
    return v;
}

static char *read_text(const char *path) {
    uint8_t *text = NULL;
    size_t n = 0;
    if (gs_read_file(path, 1 << 24, &text, &n)) return NULL;
    return (char *)text;
}

static cJSON *read_json(const char *path) {
    char *text = read_text(path);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    free(text);
    return j;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* ---- gs eval --pred --gt: the predictions present against a larger ground truth ---- */

TEST(eval_cli_scores_present_predictions_and_names_missing) {
    NEED_GS_BIN();
    char pd[1024], gd[1024], json[1100], csv[1100], args[8192], *out = NULL;
    snprintf(pd, sizeof pd, "%s", gs_test_tmp("evmiss/pred"));
    snprintf(gd, sizeof gd, "%s", gs_test_tmp("evmiss/gt"));
    CHECK_OK(gs_mkdirs(pd));
    CHECK_OK(gs_mkdirs(gd));
    /* 7 ground-truth images, predictions for two of them (one by stem: b.jpg holds a PNG) */
    const char *gt_names[7] = {"a.png", "b.png", "c.png", "d.png", "e.png", "f.png", "g.png"};
    for (int i = 0; i < 7; i++) write_pattern(gd, gt_names[i], 24, 20, i);
    write_pattern(pd, "a.png", 24, 20, 11);
    write_pattern(pd, "b.png", 24, 20, 12);
    const double pa = psnr_of_files(pd, gd, "a.png"), pb = psnr_of_files(pd, gd, "b.png");
    CHECK(isfinite(pa) && isfinite(pb) && fabs(pa - pb) > 1e-3);
    snprintf(json, sizeof json, "%s/m.json", gs_test_tmp("evmiss"));
    snprintf(csv, sizeof csv, "%s/m.csv", gs_test_tmp("evmiss"));
    snprintf(args, sizeof args, "eval --pred %s --gt %s --metrics psnr,ssim --device cpu --json %s --csv %s", pd, gd,
             json, csv);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "note: 5 of the 7 ground-truth images had no prediction") &&
                  strstr(out, "c.png, d.png, e.png, f.png, ...") && strstr(out, "2 image pairs (of 7"),
              "gs eval said:\n%s", out ? out : "(none)");
    free(out);
    cJSON *j = read_json(json);
    CHECK(j != NULL);
    if (j) {
        CHECK_EQ_INT(cJSON_GetObjectItem(j, "count")->valuedouble, 2);
        CHECK_EQ_INT(cJSON_GetObjectItem(j, "gt_count")->valuedouble, 7);
        CHECK_EQ_INT(cJSON_GetObjectItem(j, "missing_count")->valuedouble, 5);
        const cJSON *m = cJSON_GetObjectItem(j, "missing");
        CHECK(cJSON_IsArray(m) && cJSON_GetArraySize(m) == 5);
        if (cJSON_GetArraySize(m) == 5) {
            CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(m, 0)), "c.png");
            CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(m, 4)), "g.png");
        }
        const cJSON *imgs = cJSON_GetObjectItem(j, "images");
        CHECK_EQ_INT(cJSON_GetArraySize(imgs), 2);
        if (cJSON_GetArraySize(imgs) == 2) {
            CHECK_NEAR(cJSON_GetObjectItem(cJSON_GetArrayItem(imgs, 0), "psnr")->valuedouble, pa, 1e-9);
            CHECK_NEAR(cJSON_GetObjectItem(cJSON_GetArrayItem(imgs, 1), "psnr")->valuedouble, pb, 1e-9);
        }
        const cJSON *mp = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "psnr"), "mean");
        CHECK(mp && fabs(mp->valuedouble - (pa + pb) / 2) < 1e-9);
        cJSON_Delete(j);
    }
    /* CSV: header, two scored rows, the five missing with empty values, the mean */
    char *text = read_text(csv);
    CHECK_EQ_INT(count_lines(text), 1 + 2 + 5 + 1);
    CHECK_MSG(text && strstr(text, "\nc.png,,,,\n") && strstr(text, "\ng.png,,,,\nmean,,,"), "CSV:\n%s",
              text ? text : "(none)");
    free(text);
    /* --strict: an error naming them, nothing written */
    remove(json);
    snprintf(args, sizeof args, "eval --pred %s --gt %s --metrics psnr --strict --json %s", pd, gd, json);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "5 ground-truth images without a prediction") && strstr(out, "c.png, d.png") &&
                  strstr(out, "--strict"),
              "gs eval --strict said:\n%s", out ? out : "(none)");
    free(out);
    CHECK(!gs_file_exists(json));
    /* --strict with every prediction present: fine */
    char pd2[1024];
    snprintf(pd2, sizeof pd2, "%s", gs_test_tmp("evmiss/pred_all"));
    CHECK_OK(gs_mkdirs(pd2));
    for (int i = 0; i < 7; i++) write_pattern(pd2, gt_names[i], 24, 20, 20 + i);
    snprintf(args, sizeof args, "eval --pred %s --gt %s --metrics psnr --strict", pd2, gd);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && !strstr(out, "had no prediction") && strstr(out, "7 image pairs"), "%s", out ? out : "");
    free(out);
    /* a prediction without ground truth is an error naming it */
    write_pattern(pd, "zz_extra.png", 24, 20, 3);
    snprintf(args, sizeof args, "eval --pred %s --gt %s --metrics psnr", pd, gd);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "1 prediction without ground truth") && strstr(out, "zz_extra.png"), "%s",
              out ? out : "");
    free(out);
    /* --strict is for --pred */
    snprintf(args, sizeof args, "eval --scene x.ply --cameras y.json --gt %s --strict", gd);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "--strict goes with --pred"));
    free(out);
}

TEST(eval_dirs_library_missing_and_strict) {
    char pd[1024], gd[1024];
    snprintf(pd, sizeof pd, "%s", gs_test_tmp("evmiss_lib/pred"));
    snprintf(gd, sizeof gd, "%s", gs_test_tmp("evmiss_lib/gt"));
    CHECK_OK(gs_mkdirs(pd));
    CHECK_OK(gs_mkdirs(gd));
    write_pattern(gd, "r_0.png", 16, 16, 1);
    write_pattern(gd, "r_1.png", 16, 16, 2);
    write_pattern(gd, "r_2.png", 16, 16, 3);
    write_pattern(pd, "r_1.png", 16, 16, 5);
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.ssim = o.lpips = 0;
    gs_eval_report r;
    CHECK_OK(gs_eval_dirs(pd, gd, &o, &r));
    if (!gs_test_failed()) {
        CHECK_EQ_INT(r.n, 1);
        CHECK_EQ_INT(r.n_gt, 3);
        CHECK_EQ_INT(r.n_missing, 2);
        CHECK_STR(r.rows[0].name, "r_1.png");
        CHECK_STR(r.missing[0], "r_0.png");
        CHECK_STR(r.missing[1], "r_2.png");
        CHECK_NEAR(r.mean_psnr, psnr_of_files(pd, gd, "r_1.png"), 1e-12);
        gs_eval_report_free(&r);
    }
    o.strict = 1;
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "2 ground-truth images without a prediction");
    CHECK(strstr(gs_last_error(), "r_0.png, r_2.png") != NULL);
    o.strict = 0;
    /* nothing in common */
    char pd2[1024];
    snprintf(pd2, sizeof pd2, "%s", gs_test_tmp("evmiss_lib/other"));
    CHECK_OK(gs_mkdirs(pd2));
    write_pattern(pd2, "x.png", 16, 16, 1);
    CHECK_ERR(gs_eval_dirs(pd2, gd, &o, &r), "x.png"); /* an orphan first */
    remove(gs_test_tmp("evmiss_lib/other/x.png"));
    write_pattern(pd2, "y.jpg.txt", 16, 16, 1); /* not an image: the folder has none */
    CHECK_ERR(gs_eval_dirs(pd2, gd, &o, &r), "no images");
}

/* ---- gs render --depth: depth beside the frames, and the folder is evaluable -------- */

TEST(eval_cli_render_depth_folder_is_evaluable) {
    NEED_GS_BIN();
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 3, 0));
    if (gs_test_failed()) return;
    for (int i = 0; i < 3; i++) {
        s.means[3 * i] = 0.3f * (i - 1);
        s.means[3 * i + 2] = 4 + 0.5f * i;
        for (int k = 0; k < 3; k++) s.scales[3 * i + k] = 0.35f;
        s.opacities[i] = 0.9f;
        s.sh[3 * i + i] = 1.2f;
    }
    char ply[1100], cams[1100], dir[1100], gt[1100], json[1100], args[8192], *out = NULL;
    snprintf(ply, sizeof ply, "%s", gs_test_tmp("rdepth/three.ply"));
    snprintf(cams, sizeof cams, "%s", gs_test_tmp("rdepth/cams.json"));
    snprintf(dir, sizeof dir, "%s", gs_test_tmp("rdepth/out"));
    snprintf(gt, sizeof gt, "%s", gs_test_tmp("rdepth/gt"));
    snprintf(json, sizeof json, "%s", gs_test_tmp("rdepth/m.json"));
    CHECK_OK(gs_mkdirs(gt));
    CHECK_OK(gs_ply_write(ply, &s));
    gs_cameras c = {3, calloc(3, sizeof(gs_camera))};
    for (int i = 0; c.cams && i < 3; i++) {
        gs_camera *k = &c.cams[i];
        k->R[0] = k->R[4] = k->R[8] = 1;
        k->t[0] = 0.1 * i;
        k->fx = k->fy = 40;
        k->cx = 24, k->cy = 16;
        k->width = 48, k->height = 32;
        k->has_pose = 1;
        snprintf(k->name, sizeof k->name, "./test/r_%d", i);
    }
    CHECK_OK(gs_cameras_write_json(cams, &c));
    /* ground truth: the library's render of each view, perturbed, plus one view never rendered */
    gs_raster_opts ro;
    gs_raster_opts_default(&ro);
    for (int i = 0; i < 3; i++) {
        gs_raster_out r;
        CHECK_OK(gs_render_cpu(&s, &c.cams[i], &ro, &r));
        if (gs_test_failed()) break;
        gs_image im;
        CHECK_OK(gs_image_alloc(&im, 48, 32, 3));
        for (int k = 0; k < 48 * 32 * 3; k++) {
            float v = r.rgb[k] + (float)((k * 13 + i) % 9) / 255.0f;
            im.data[k] = v > 1 ? 1 : v;
        }
        char name[32], p[1200];
        snprintf(name, sizeof name, "r_%d.png", i);
        CHECK_OK(gs_image_write_png(gs_path_join(p, sizeof p, gt, name), &im, 8));
        gs_image_free(&im);
        gs_raster_out_free(&r);
    }
    write_pattern(gt, "r_9.png", 48, 32, 4);
    /* render two of the views (a camera file with the first two) */
    gs_cameras two = {2, c.cams};
    CHECK_OK(gs_cameras_write_json(cams, &two));
    snprintf(args, sizeof args, "render %s --cameras %s --out %s --depth --quiet --device cpu", ply, cams, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    /* depth beside the frames, nothing but frames among them */
    char p[1300];
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/depth/r_%d.exr", dir, i);
        float *d = NULL;
        int w = 0, h = 0;
        CHECK_OK(gs_exr_read_depth(p, &d, &w, &h));
        CHECK(d && w == 48 && h == 32 && d[16 * 48 + 24] > 3.5f && d[16 * 48 + 24] < 6.5f);
        free(d);
        snprintf(p, sizeof p, "%s/depth/r_%d.png", dir, i);
        int pw = 0, ph = 0;
        CHECK_OK(gs_image_info(p, &pw, &ph, NULL));
        CHECK(pw == 48 && ph == 32);
        snprintf(p, sizeof p, "%s/r_%d_depth.png", dir, i);
        CHECK(!gs_file_exists(p));
    }
    /* gs eval scores the render folder directly */
    snprintf(args, sizeof args, "eval --pred %s --gt %s --metrics psnr,ssim --device cpu --json %s", dir, gt, json);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "2 of the 4 ground-truth images had no prediction") && strstr(out, "r_2.png, r_9.png"),
              "gs eval on the render folder said:\n%s", out ? out : "(none)");
    free(out);
    cJSON *j = read_json(json);
    CHECK(j != NULL);
    if (j) {
        const cJSON *imgs = cJSON_GetObjectItem(j, "images");
        CHECK_EQ_INT(cJSON_GetArraySize(imgs), 2);
        for (int i = 0; i < 2 && cJSON_GetArraySize(imgs) == 2; i++) {
            char name[32];
            snprintf(name, sizeof name, "r_%d.png", i);
            const cJSON *row = cJSON_GetArrayItem(imgs, i);
            CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(row, "name")), name);
            const double want = psnr_of_files(dir, gt, name);
            CHECK(isfinite(want) && want > 30 && want < 60);
            CHECK_NEAR(cJSON_GetObjectItem(row, "psnr")->valuedouble, want, 1e-9);
        }
        cJSON_Delete(j);
    }
    free(c.cams);
    gs_scene_free(&s);
}

/* ---- gs/gs.h: the link line and the DA3 usage example ------------------------------- */

/* `make -s print-libs ARGS` in the repository (the tests run from its root). */
static char *print_libs(const char *args) {
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd, "env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory print-libs %s 2>&1",
             args);
    if (gs_test_run(cmd, &out) != 0) {
        free(out);
        return NULL;
    }
    char *nl = out ? strchr(out, '\n') : NULL;
    if (nl) *nl = 0;
    return out;
}

/* Is word a whitespace-delimited token of text? */
static int has_token(const char *text, const char *word) {
    const size_t n = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
        if ((p == text || p[-1] == ' ' || p[-1] == '\n') && (p[n] == ' ' || p[n] == '\n' || !p[n])) return 1;
    return 0;
}

TEST(eval_public_header_link_line_matches_make_print_libs) {
    if (system("command -v make >/dev/null 2>&1") != 0) TEST_SKIP("make not found");
    REQUIRE_GOLDEN("gs/gs.h");
    char *hdr = read_text("gs/gs.h");
    char *cpu = print_libs("CUDA=0"), *dflt = print_libs("");
    CHECK_MSG(cpu && dflt && strstr(cpu, "-lpng"), "make print-libs: %s / %s", cpu ? cpu : "(failed)",
              dflt ? dflt : "(failed)");
    if (hdr && cpu && dflt) {
        /* the CPU line verbatim, on a line of its own */
        char want[1024];
        snprintf(want, sizeof want, " *   %s\n", cpu);
        CHECK_MSG(strstr(hdr, want) != NULL, "gs/gs.h lacks the CPU link line \"%s\"", cpu);
        /* every library of this build's line (CUDA ones too) is named */
        char *save = NULL;
        for (char *t = strtok_r(dflt, " ", &save); t; t = strtok_r(NULL, " ", &save))
            if (!strncmp(t, "-l", 2) || !strcmp(t, "-fopenmp"))
                CHECK_MSG(has_token(hdr, t), "gs/gs.h's link line lacks %s (make print-libs)", t);
        CHECK(has_token(hdr, "-ljpeg"));
    }
    free(hdr);
    free(cpu);
    free(dflt);
}

/* The in-process twin of the usage example: the same calls on the same images. */
static int da3_example_in_process(const char *model, const char *img0, const char *img1, char *line, size_t n) {
    gs_da3_model m;
    gs_image images[2];
    int ok = 0;
    CHECK_OK(gs_image_read(img0, &images[0]));
    CHECK_OK(gs_image_read(img1, &images[1]));
    if (gs_test_failed()) return 0;
    gs_da3_options o;
    gs_da3_prediction p;
    gs_da3_options_default(&o);
    CHECK_OK(gs_da3_load(&m, model, NULL));
    if (!gs_test_failed()) {
        CHECK_OK(gs_da3_infer(&m, images, 2, NULL, NULL, &o, &p));
        if (!gs_test_failed()) {
            CHECK(p.S == 2 && p.extrinsics && p.intrinsics && isfinite(p.depth[0]) && p.depth[0] > 0);
            snprintf(line, n, "%d views of %dx%d, depth[0] %.9g\n", p.S, p.W, p.H, p.depth[0]);
            ok = 1;
            gs_da3_prediction_free(&p);
        }
        gs_da3_free(&m);
    }
    gs_image_free(&images[0]);
    gs_image_free(&images[1]);
    return ok;
}

TEST(eval_da3_usage_example_compiles_and_runs_through_gs_h) {
    REQUIRE_GOLDEN("tests/golden/da3/tiny-anyview/model.safetensors");
    if (system("command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1") != 0)
        TEST_SKIP("cc or make not found");
    char lib[1200];
    snprintf(lib, sizeof lib, "%s/libgs.a", gs_exe_dir()); /* beside this test binary */
    if (!gs_file_exists(lib)) TEST_SKIP("no libgs.a beside the test binary");
    /* the example: the indented lines after "Usage" in gs/model/da3.h */
    char *hdr = read_text("gs/model/da3.h");
    CHECK(hdr != NULL);
    if (!hdr) return;
    const char *start = strstr(hdr, " * Usage");
    const char *p = start ? strstr(start, "\n *   ") : NULL;
    char code[4096] = "";
    int n_lines = 0;
    while (p && !strncmp(p, "\n *   ", 6)) {
        const char *e = strchr(p + 1, '\n');
        if (!e) break;
        size_t len = strlen(code);
        snprintf(code + len, sizeof code - len, "    %.*s\n", (int)(e - (p + 6)), p + 6);
        n_lines++;
        p = e;
    }
    free(hdr);
    CHECK_MSG(n_lines >= 5 && strstr(code, "gs_da3_infer(") && strstr(code, "gs_da3_load("),
              "no usage example found in gs/model/da3.h:\n%s", code);
    /* a program around it: images[S] from the command line, nothing else */
    char dir[1024], src[1100], bin[1100], img0[1100], img1[1100], cmd[8192], *out = NULL;
    snprintf(dir, sizeof dir, "%s", gs_test_tmp("da3_example"));
    CHECK_OK(gs_mkdirs(dir));
    snprintf(src, sizeof src, "%s/example.c", dir);
    snprintf(bin, sizeof bin, "%s/example", dir);
    snprintf(img0, sizeof img0, "%s/a.png", dir);
    snprintf(img1, sizeof img1, "%s/b.png", dir);
    write_pattern(dir, "a.png", 64, 48, 1);
    write_pattern(dir, "b.png", 64, 48, 2);
    char prog[8192];
    snprintf(prog, sizeof prog,
             "#include \"gs/gs.h\"\n#include <stdio.h>\n\n"
             "int main(int argc, char **argv) {\n"
             "    gs_image images[8];\n"
             "    int S = argc - 1 < 8 ? argc - 1 : 8;\n"
             "    for (int i = 0; i < S; i++)\n"
             "        if (gs_image_read(argv[i + 1], &images[i])) return 2;\n"
             "%s"
             "    for (int i = 0; i < S; i++) gs_image_free(&images[i]);\n"
             "    return st ? 1 : 0;\n}\n",
             code);
    CHECK_OK(gs_write_file_atomic(src, prog, strlen(prog)));
    char *libs = print_libs("");
    CHECK(libs != NULL);
    char repo[1024];
    CHECK(getcwd(repo, sizeof repo) != NULL);
#if defined(__SANITIZE_ADDRESS__)
    const char *san = "-fsanitize=address,undefined";
#else
    const char *san = "";
#endif
    snprintf(cmd, sizeof cmd, "cc -std=c11 -Wall -Wextra -Werror -I'%s' -I/usr/include/stb %s -o '%s' '%s' '%s' %s 2>&1",
             repo, san, bin, src, lib, libs ? libs : "");
    free(libs);
    int rc = gs_test_run(cmd, &out);
    CHECK_MSG(rc == 0, "the usage example of gs/model/da3.h does not build through gs/gs.h:\n%s\n%s", out ? out : "",
              prog);
    free(out);
    if (rc) return;
    /* run it where "DA3-LARGE" is the tiny random model */
    snprintf(cmd, sizeof cmd, "ln -sfn '%s/tests/golden/da3/tiny-anyview' '%s/DA3-LARGE' && cd '%s' && ./example a.png b.png 2>&1",
             repo, dir, dir);
    rc = gs_test_run(cmd, &out);
    CHECK_EQ_INT(rc, 0);
    char want[256] = "";
    if (da3_example_in_process("tests/golden/da3/tiny-anyview", img0, img1, want, sizeof want))
        CHECK_MSG(out && !strcmp(out, want), "the example printed \"%s\", the library \"%s\"", out ? out : "", want);
    free(out);
}

/* ---- labels: the text rasteriser and the contact sheet ------------------------------ */

/* The pixels of text drawn at scale 1 at (1, 1) of a blank 16 x 12 image, as rows of '#' and '.'. */
static void glyph_rows(const char *text, int scale, char rows[24][33]) {
    gs_image im;
    CHECK_OK(gs_image_alloc(&im, 32, 24, 3));
    if (!im.data) return;
    memset(im.data, 0, sizeof(float) * 32 * 24 * 3);
    static const float white[3] = {1, 1, 1};
    gs_draw_text(&im, 1, 1, text, scale, white, 0, 0, 32, 24);
    for (int y = 0; y < 24; y++) {
        for (int x = 0; x < 32; x++) rows[y][x] = im.data[(y * 32 + x) * 3] == 1.0f ? '#' : '.';
        rows[y][32] = 0;
    }
    gs_image_free(&im);
}

static void check_glyph(const char *text, const char *const want[9]) {
    char rows[24][33];
    glyph_rows(text, 1, rows);
    for (int y = 0; y < 9; y++) {
        char w[33];
        snprintf(w, sizeof w, ".%s", want[y]);
        memset(w + strlen(w), '.', 32 - strlen(w));
        w[32] = 0;
        CHECK_MSG(!strcmp(rows[y + 1], w), "'%s' row %d: drawn %s, expected %s", text, y, rows[y + 1], w);
    }
    CHECK(strchr(rows[0], '#') == NULL);
}

TEST(eval_label_text_rasteriser_draws_known_glyphs) {
    /* stb_easy_font's glyphs, one font pixel each */
    static const char *const T[9] = {"#####", "..#", "..#", "..#", "..#", "..#", "..#", "", ""};
    static const char *const one[9] = {"..#", ".##", "..#", "..#", "..#", "..#", ".###", "", ""};
    static const char *const Hi[9] = {"#..#", "#..#..#", "#..#", "####..#", "#..#..#", "#..#..#", "#..#..#", "", ""};
    static const char *const g[9] = {"", "", ".###", "#..#", "#..#", "#..#", ".###", "...#", ".##"};
    check_glyph("T", T);
    check_glyph("1", one);
    check_glyph("Hi", Hi);
    check_glyph("g", g);
    int w = 0, h = 0;
    gs_text_size("Hi", 1, &w, &h);
    CHECK(w == 7 && h == 7);
    gs_text_size("Hi", 2, &w, &h);
    CHECK(w == 14 && h == 14);
    gs_text_size("T\nT", 1, &w, &h);
    CHECK(w == 5 && h == 19); /* a second line 12 pixels down */
    /* scale 2: every font pixel a 2 x 2 square */
    char r1[24][33], r2[24][33];
    glyph_rows("Hi", 1, r1);
    glyph_rows("Hi", 2, r2);
    int mismatch = 0;
    for (int y = 0; y < 22; y++)
        for (int x = 0; x < 30; x++) {
            const char want = y >= 1 && x >= 1 ? r1[1 + (y - 1) / 2][1 + (x - 1) / 2] : '.';
            mismatch += r2[y][x] != want;
        }
    CHECK_EQ_INT(mismatch, 0);
    /* bytes outside printable ASCII are drawn as '?' */
    char q[24][33], u[24][33];
    glyph_rows("?", 1, q);
    glyph_rows("\xc3", 1, u);
    CHECK(memcmp(q, u, sizeof q) == 0 && strchr(q[1], '#'));
    /* clipping: nothing outside the rectangle, and the count is what was written */
    gs_image im;
    CHECK_OK(gs_image_alloc(&im, 32, 24, 3));
    if (!im.data) return;
    memset(im.data, 0, sizeof(float) * 32 * 24 * 3);
    static const float red[3] = {1, 0, 0};
    const int n = gs_draw_text(&im, 1, 1, "T", 1, red, 0, 0, 4, 24); /* columns 0..3 only */
    int set = 0, outside = 0;
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 32; x++) {
            const float *p = im.data + (y * 32 + x) * 3;
            if (p[0] == 1.0f) set++, outside += x >= 4;
            CHECK(p[1] == 0 && p[2] == 0);
        }
    CHECK_EQ_INT(outside, 0);
    CHECK_EQ_INT(set, 3 + 6); /* three of the bar, the stem */
    CHECK_EQ_INT(n, set);
    /* a label: the box darkened to a quarter, the text white inside its padding */
    for (int i = 0; i < 32 * 24 * 3; i++) im.data[i] = 0.8f;
    int bw = 0, bh = 0;
    gs_draw_label(&im, 2, 3, "1", 1, 0, 0, 32, 24, &bw, &bh);
    CHECK(bw == 4 + 2 * GS_LABEL_PAD(1) && bh == 7 + 2 * GS_LABEL_PAD(1));
    int white = 0, dark = 0, other = 0;
    for (int y = 0; y < 24; y++)
        for (int x = 0; x < 32; x++) {
            const float v = im.data[(y * 32 + x) * 3];
            const int in = x >= 2 && x < 2 + bw && y >= 3 && y < 3 + bh;
            if (!in) other += v != 0.8f;
            else if (v == 1.0f) white++;
            else if (fabsf(v - 0.2f) < 1e-6f) dark++;
            else other++;
        }
    CHECK_EQ_INT(other, 0);
    CHECK_EQ_INT(white, 10); /* the pixels of '1' */
    CHECK_EQ_INT(dark, bw * bh - 10);
    /* the glyph at the padding's offset */
    CHECK(im.data[((3 + GS_LABEL_PAD(1)) * 32 + 2 + GS_LABEL_PAD(1) + 2) * 3] == 1.0f);
    gs_image_free(&im);
}

/* Does the tile at (x0, y0), tw x th, of sheet carry text as a label (at
 * scale 1 or 2): its text pixels white, the rest of its box darkened to at
 * most a quarter? base (may be NULL) is the unlabelled sheet: then the box
 * must be exactly a quarter of it and everything else unchanged. */
static int tile_has_label(const gs_image *sheet, const gs_image *base, int x0, int y0, int tw, int th,
                          const char *text) {
    for (int s = 2; s >= 1; s--) {
        gs_image mask;
        if (gs_image_alloc(&mask, sheet->width, sheet->height, 3)) return 0;
        memset(mask.data, 0, sizeof(float) * (size_t)sheet->width * sheet->height * 3);
        int bw = 0, bh = 0;
        gs_draw_label(&mask, x0 + 1, y0 + 1, text, s, x0, y0, x0 + tw, y0 + th, &bw, &bh);
        int ok = 1, n_text = 0;
        for (int y = y0; ok && y < y0 + th; y++)
            for (int x = x0; ok && x < x0 + tw; x++) {
                const size_t i = ((size_t)y * sheet->width + x) * 3;
                const int in_box = x >= x0 + 1 && x < x0 + 1 + bw && y >= y0 + 1 && y < y0 + 1 + bh;
                for (int c = 0; ok && c < 3; c++) {
                    const float v = sheet->data[i + c];
                    if (mask.data[i] == 1.0f) ok = v == 1.0f, n_text += c == 0;
                    else if (in_box) ok = base ? fabsf(v - 0.25f * base->data[i + c]) <= 0.63f / 255
                                               : v <= 64.0f / 255 + 1e-6f;
                    else if (base) ok = v == base->data[i + c];
                }
            }
        gs_image_free(&mask);
        if (ok && n_text > 0) return s;
    }
    return 0;
}

TEST(eval_nvs_contact_sheet_tiles_are_labelled) {
    /* one target of 200 x 150: ground truth, render, error map, with and without labels */
    gs_image gt, pred;
    pattern(&gt, 200, 150, 1);
    pattern(&pred, 200, 150, 7);
    if (gs_test_failed()) return;
    char d1[1024], d2[1024], p[1200];
    snprintf(d1, sizeof d1, "%s", gs_test_tmp("sheet/plain"));
    snprintf(d2, sizeof d2, "%s", gs_test_tmp("sheet/labelled"));
    nvs_outputs w;
    CHECK_OK(gs_mkdirs(d1));
    CHECK_OK(gs_mkdirs(d2));
    CHECK_OK(nvs_outputs_begin(&w, d1, 200, 150, 1, 1200));
    CHECK_OK(nvs_outputs_target(&w, 0, "view_7", &gt, &pred));
    CHECK_OK(nvs_outputs_finish(&w));
    const int tw = w.tw, th = w.th;
    nvs_outputs_free(&w);
    CHECK(tw == 200 && th == 150);
    CHECK_OK(nvs_outputs_begin(&w, d2, 200, 150, 1, 1200));
    CHECK_OK(nvs_outputs_target(&w, 0, "view_7", &gt, &pred));
    nvs_outputs_label(&w, 0, "view_7", 23.456, 0.81234, NAN);
    CHECK_OK(nvs_outputs_finish(&w));
    nvs_outputs_free(&w);
    gs_image a, b;
    CHECK_OK(gs_image_read(gs_path_join(p, sizeof p, d1, "contact_sheet.png"), &a));
    CHECK_OK(gs_image_read(gs_path_join(p, sizeof p, d2, "contact_sheet.png"), &b));
    if (!gs_test_failed()) {
        CHECK(a.width == b.width && a.height == b.height);
        char t[3][NVS_LABEL_MAX];
        nvs_sheet_labels("view_7", 23.456, 0.81234, NAN, t[0], t[1], t[2]);
        CHECK_STR(t[0], "view_7\nground truth");
        CHECK_STR(t[1], "view_7\nrender\nPSNR 23.46\nSSIM 0.8123"); /* no LPIPS: not computed */
        int changed = 0;
        for (size_t i = 0; i < (size_t)a.width * a.height * 3; i++) changed += a.data[i] != b.data[i];
        CHECK(changed > 0);
        for (int col = 0; col < 3; col++) {
            int x0, y0;
            nvs_sheet_tile_origin(tw, th, 0, col, &x0, &y0);
            CHECK_MSG(tile_has_label(&b, &a, x0, y0, tw, th, t[col]) == 2, "tile %d lacks its 2x label \"%s\"", col,
                      t[col]);
            CHECK(!tile_has_label(&a, NULL, x0, y0, tw, th, t[col])); /* the plain sheet has none */
        }
    }
    gs_image_free(&a);
    gs_image_free(&b);
    gs_image_free(&gt);
    gs_image_free(&pred);
}

/* ---- gs eval-nvs: separate context and target camera files -------------------------- */

/* A camera at centre (x, y, z) looking along +z, named NAME, w x h. */
static gs_camera nvs_cam(double x, double y, double z, int w, int h, const char *name) {
    gs_camera c;
    memset(&c, 0, sizeof c);
    c.R[0] = c.R[4] = c.R[8] = 1;
    c.t[0] = -x, c.t[1] = -y, c.t[2] = -z;
    c.fx = c.fy = 30;
    c.cx = w / 2.0, c.cy = h / 2.0;
    c.width = w, c.height = h;
    c.has_pose = 1;
    snprintf(c.name, sizeof c.name, "%s", name);
    return c;
}

TEST(eval_nvs_split_two_camera_files) {
    gs_camera cams[9];
    for (int i = 0; i < 5; i++) cams[i] = nvs_cam(i, 0.3 * i * i, 0, 32, 24, "c");
    for (int i = 0; i < 4; i++) cams[5 + i] = nvs_cam(0.5 + i, 1, 0, 32, 24, "t");
    int ctx[9], tgt[9], nc, nt;
    gs_nvs_split_opts o;
    gs_nvs_split_opts_default(&o);
    o.n_context_views = 5;
    o.num_context = 2;
    /* rest: every view of the target file; FPS only among the context file's */
    CHECK_OK(gs_nvs_select_views(cams, 9, &o, ctx, &nc, tgt, &nt));
    CHECK(nc == 2 && ctx[0] == 0 && ctx[1] == 4); /* from 0, the farthest is 4 */
    CHECK(nt == 4 && tgt[0] == 5 && tgt[1] == 6 && tgt[2] == 7 && tgt[3] == 8);
    /* every:2 and lists count in the target file */
    o.target_mode = GS_NVS_TARGETS_EVERY;
    o.target_every = 2;
    CHECK_OK(gs_nvs_select_views(cams, 9, &o, ctx, &nc, tgt, &nt));
    CHECK(nt == 2 && tgt[0] == 5 && tgt[1] == 7);
    CHECK(nc == 2 && ctx[0] == 0 && ctx[1] == 4); /* the context file is untouched by every:K */
    const int tl[2] = {1, 3}, cl[3] = {1, 2, 3};
    o.target_mode = GS_NVS_TARGETS_LIST;
    o.targets = tl;
    o.n_targets = 2;
    o.context = cl;
    o.n_context = 3;
    CHECK_OK(gs_nvs_select_views(cams, 9, &o, ctx, &nc, tgt, &nt));
    CHECK(nt == 2 && tgt[0] == 6 && tgt[1] == 8);
    CHECK(nc == 3 && ctx[0] == 1 && ctx[2] == 3);
    /* the same lists on one file name the same views twice */
    o.n_context_views = 0;
    CHECK_ERR(gs_nvs_select_views(cams, 9, &o, ctx, &nc, tgt, &nt), "view 1 is both a context view and a target");
    o.n_context_views = 5;
    const int bad_c[2] = {0, 5}, bad_t[1] = {4};
    o.context = bad_c;
    o.n_context = 2;
    CHECK_ERR(gs_nvs_select_views(cams, 9, &o, ctx, &nc, tgt, &nt),
              "context view 5 is out of range (the context camera file has views 0..4)");
    o.context = cl;
    o.n_context = 3;
    o.targets = bad_t;
    o.n_targets = 1;
    CHECK_ERR(gs_nvs_select_views(cams, 9, &o, ctx, &nc, tgt, &nt),
              "target view 4 is out of range (the target camera file has views 0..3)");
    o.context = NULL;
    o.target_mode = GS_NVS_TARGETS_REST;
    o.num_context = 6;
    CHECK_ERR(gs_nvs_select_views(cams, 9, &o, ctx, &nc, tgt, &nt), "of the 5 context-file views");
}

/* Write the images of n cameras (seeded patterns, or flat dark gray for seed < 0) and their camera file into dir. */
static void write_view_set(const char *dir, const gs_camera *cams, int n, int seed) {
    CHECK_OK(gs_mkdirs(dir));
    for (int i = 0; i < n; i++) {
        if (seed >= 0) {
            write_pattern(dir, cams[i].name, cams[i].width, cams[i].height, seed + i);
            continue;
        }
        gs_image im;
        char p[1200];
        CHECK_OK(gs_image_alloc(&im, cams[i].width, cams[i].height, 3));
        for (int k = 0; im.data && k < cams[i].width * cams[i].height * 3; k++) im.data[k] = (float)(20 + i) / 255.0f;
        CHECK_OK(gs_image_write_png(gs_path_join(p, sizeof p, dir, cams[i].name), &im, 8));
        gs_image_free(&im);
    }
    gs_cameras c = {n, (gs_camera *)cams};
    char p[1200];
    CHECK_OK(gs_cameras_write_json(gs_path_join(p, sizeof p, dir, "cams.json"), &c));
}

TEST(eval_nvs_cli_separate_target_cameras) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN("tests/golden/da3/tiny-giant/model.safetensors");
    /* context and target files in two folders, with the same image names */
    gs_camera cc[4], tc[3];
    for (int i = 0; i < 4; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "v%d.png", i);
        cc[i] = nvs_cam(0.4 * i, 0.1 * i * i, 0, 160, 120, nm);
    }
    for (int i = 0; i < 3; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "v%d.png", i);
        tc[i] = nvs_cam(0.2 + 0.4 * i, 0.05, 0.1, 160, 120, nm);
    }
    char cd[1024], td[1024], od[1024], args[8192], *out = NULL;
    snprintf(cd, sizeof cd, "%s", gs_test_tmp("nvs2/ctx"));
    snprintf(td, sizeof td, "%s", gs_test_tmp("nvs2/tgt"));
    snprintf(od, sizeof od, "%s", gs_test_tmp("nvs2/out"));
    write_view_set(cd, cc, 4, 10);
    write_view_set(td, tc, 3, -1); /* targets unlike the context images of the same names */
    snprintf(args, sizeof args,
             "eval-nvs --model tests/golden/da3/tiny-giant --cameras %s/cams.json --target-cameras %s/cams.json "
             "--out %s --process-res 28 --num-context 3 --targets 0,2 --metrics psnr --device cpu --threads 2",
             cd, td, od);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, ": 4 views of 160x120") && strstr(out, "targets of ") && strstr(out, ": 3 views"),
              "gs eval-nvs said:\n%s", out ? out : "(none)");
    free(out);
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.json", od);
    cJSON *j = read_json(path);
    CHECK(j != NULL);
    if (!j) return;
    const cJSON *sc = cJSON_GetObjectItem(j, "scene");
    CHECK_EQ_INT(cJSON_GetObjectItem(sc, "views")->valuedouble, 4);
    CHECK_EQ_INT(cJSON_GetObjectItem(sc, "target_views")->valuedouble, 3);
    const cJSON *ti = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "targets"), "indices");
    CHECK(cJSON_GetArraySize(ti) == 2 && cJSON_GetArrayItem(ti, 0)->valuedouble == 0 &&
          cJSON_GetArrayItem(ti, 1)->valuedouble == 2);
    const cJSON *ci = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "context"), "indices");
    CHECK_EQ_INT(cJSON_GetArraySize(ci), 3);
    /* each target scored against the target file's image: PSNR recomputed from the written render */
    const cJSON *pt = cJSON_GetObjectItem(j, "per_target");
    CHECK_EQ_INT(cJSON_GetArraySize(pt), 2);
    for (int k = 0; k < 2 && cJSON_GetArraySize(pt) == 2; k++) {
        const cJSON *row = cJSON_GetArrayItem(pt, k);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(row, "name"));
        CHECK_STR(name, k ? "v2" : "v0");
        char rp[1300], gp[1300];
        snprintf(rp, sizeof rp, "%s/renders/%s.png", od, name ? name : "?");
        snprintf(gp, sizeof gp, "%s/%s.png", td, name ? name : "?");
        gs_image r = {0}, g = {0};
        double p = NAN, pc = NAN;
        CHECK_OK(gs_image_read(rp, &r));
        CHECK_OK(gs_image_read(gp, &g));
        if (r.data && g.data) CHECK_OK(gs_psnr(&r, &g, &p));
        gs_image_free(&g);
        snprintf(gp, sizeof gp, "%s/%s.png", cd, name ? name : "?"); /* the context image of that name */
        CHECK_OK(gs_image_read(gp, &g));
        if (r.data && g.data) CHECK_OK(gs_psnr(&r, &g, &pc));
        const double got = cJSON_GetObjectItem(row, "psnr")->valuedouble;
        CHECK_MSG(fabs(p - got) < 0.05 && fabs(pc - got) > 0.1, "%s: reported %.4f, against the target image %.4f, "
                  "against the context image %.4f", name ? name : "?", got, p, pc);
        gs_image_free(&r);
        gs_image_free(&g);
        /* the contact sheet's tiles of this target are labelled with its name and PSNR */
        gs_image sheet = {0};
        snprintf(rp, sizeof rp, "%s/contact_sheet.png", od);
        CHECK_OK(gs_image_read(rp, &sheet));
        char t[3][NVS_LABEL_MAX];
        nvs_sheet_labels(name ? name : "?", got, NAN, NAN, t[0], t[1], t[2]);
        for (int col = 0; sheet.data && col < 3; col++) {
            int x0, y0;
            nvs_sheet_tile_origin(160, 120, k, col, &x0, &y0);
            CHECK_MSG(tile_has_label(&sheet, NULL, x0, y0, 160, 120, t[col]), "contact sheet row %d, tile %d: no "
                      "label \"%s\"", k, col, t[col]);
        }
        gs_image_free(&sheet);
    }
    cJSON_Delete(j);
    /* --target-images alone is a usage error */
    snprintf(args, sizeof args, "eval-nvs --model tests/golden/da3/tiny-giant --cameras %s/cams.json --target-images %s "
             "--out %s", cd, td, od);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK(out && strstr(out, "--target-cameras"));
    free(out);
}

TEST(eval_nvs_lego_train_context_test_targets) {
    REQUIRE_DATA();
    REQUIRE_GOLDEN("tests/golden/da3/tiny-giant/model.safetensors");
    char train[1024], test[1024];
    snprintf(train, sizeof train, "%s", gs_test_data("scenes/lego/transforms_train.json"));
    snprintf(test, sizeof test, "%s", gs_test_data("scenes/lego/transforms_test.json"));
    if (!gs_file_exists(test)) TEST_SKIP("scenes/lego/transforms_test.json not in ../shared/data");
    gs_cameras tc;
    CHECK_OK(gs_cameras_read(test, NULL, &tc, NULL));
    if (gs_test_failed()) return;
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, "tests/golden/da3/tiny-giant", NULL));
    if (gs_test_failed()) { gs_cameras_free(&tc); return; }
    gs_nvs_eval_opts o;
    gs_nvs_eval_opts_default(&o);
    o.cameras_path = train;
    o.target_cameras_path = test;
    o.process_res = 56;
    o.split.num_context = 3;
    o.split.max_targets = 2;
    o.quiet = 1;
    CHECK_OK(gs_eval_metrics_parse("psnr", &o.eval));
    o.eval.device = GS_DEVICE_CPU;
    gs_nvs_eval_report r;
    CHECK_OK(gs_nvs_evaluate(&m, &o, &r));
    if (!gs_test_failed()) {
        CHECK_EQ_INT(r.n_views, 13);
        CHECK_EQ_INT(r.n_target_views, tc.n);
        CHECK_EQ_INT(r.n_targets_before_cap, tc.n); /* rest: the whole test split */
        CHECK_EQ_INT(r.n_targets, 2);
        CHECK(r.bg[0] == 1.0f); /* RGBA: white */
        for (int j = 0; j < r.n_targets; j++) {
            CHECK(r.targets[j] >= 0 && r.targets[j] < tc.n && r.rows[j].index == r.targets[j]);
            char stem[300];
            gs_path_stem(tc.cams[r.targets[j]].name, stem, sizeof stem);
            CHECK_STR(r.rows[j].name, stem);
            CHECK(isfinite(r.rows[j].psnr));
        }
        for (int i = 0; i < r.n_context; i++) CHECK(r.context[i] >= 0 && r.context[i] < 13);
        gs_nvs_eval_report_free(&r);
    }
    gs_da3_free(&m);
    gs_cameras_free(&tc);
}


TEST(eval_nvs_cli_contact_sheet_is_labelled) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN("tests/golden/da3/tiny-giant/model.safetensors");
    gs_camera cc[4];
    for (int i = 0; i < 4; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "w%d.png", i);
        cc[i] = nvs_cam(0.4 * i, 0.1 * i * i, 0, 200, 150, nm);
    }
    char cd[1024], od[1024], args[4096], *out = NULL;
    snprintf(cd, sizeof cd, "%s", gs_test_tmp("nvs_sheet/scene"));
    snprintf(od, sizeof od, "%s", gs_test_tmp("nvs_sheet/out"));
    write_view_set(cd, cc, 4, 3);
    snprintf(args, sizeof args,
             "eval-nvs --model tests/golden/da3/tiny-giant --cameras %s/cams.json --out %s --process-res 28 "
             "--context 0,1,3 --targets 2 --metrics psnr,ssim --device cpu --threads 2 --quiet",
             cd, od);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    char path[1200];
    snprintf(path, sizeof path, "%s/metrics.json", od);
    cJSON *j = read_json(path);
    const cJSON *row = j ? cJSON_GetArrayItem(cJSON_GetObjectItem(j, "per_target"), 0) : NULL;
    CHECK(row != NULL);
    if (!row) { cJSON_Delete(j); return; }
    char t[3][NVS_LABEL_MAX];
    nvs_sheet_labels("w2", cJSON_GetObjectItem(row, "psnr")->valuedouble, cJSON_GetObjectItem(row, "ssim")->valuedouble,
                     NAN, t[0], t[1], t[2]);
    cJSON_Delete(j);
    CHECK(strstr(t[1], "PSNR ") && strstr(t[1], "SSIM "));
    gs_image sheet = {0};
    snprintf(path, sizeof path, "%s/contact_sheet.png", od);
    CHECK_OK(gs_image_read(path, &sheet));
    for (int col = 0; sheet.data && col < 3; col++) {
        int x0, y0;
        nvs_sheet_tile_origin(200, 150, 0, col, &x0, &y0);
        CHECK_MSG(tile_has_label(&sheet, NULL, x0, y0, 200, 150, t[col]) == 2, "tile %d: no 2x label \"%s\"", col,
                  t[col]);
    }
    gs_image_free(&sheet);
}

/* ---- run-time data: found by environment variable or beside the program ------------- */

/* `cd cwd && env -u GS_LPIPS_DIR -u GS_SHARED_DATA ENV BIN ARGS`, stdout+stderr in *out. */
static int run_in(const char *cwd, const char *env, const char *bin, const char *args, char **out) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && env -u GS_LPIPS_DIR -u GS_SHARED_DATA %s '%s' %s 2>&1", cwd, env, bin, args);
    return gs_test_run(cmd, out);
}

/* gs eval with LPIPS-squeeze from cwd: the weights it reports and the mean. */
static void eval_lpips_in(const char *cwd, const char *env, const char *bin, const char *pred, const char *gt,
                          const char *json, const char *want_weights, double want) {
    char args[4096], *out = NULL;
    remove(json);
    snprintf(args, sizeof args, "eval --pred '%s' --gt '%s' --metrics lpips --lpips-net squeeze --device cpu --json '%s'",
             pred, gt, json);
    int rc = run_in(cwd, env, bin, args, &out);
    CHECK_MSG(rc == 0, "%s %s from %s: exit %d:\n%s", env, bin, cwd, rc, out ? out : "");
    free(out);
    cJSON *j = read_json(json);
    const cJSON *l = j ? cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metrics"), "lpips") : NULL;
    CHECK_MSG(l != NULL, "no LPIPS in %s", json);
    if (l) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(l, "weights")), want_weights);
        CHECK_NEAR(cJSON_GetObjectItem(l, "mean")->valuedouble, want, 1e-12);
    }
    cJSON_Delete(j);
}

TEST(eval_lpips_weights_and_data_found_from_another_folder_by_each_route) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    char src[1024];
    snprintf(src, sizeof src, "%s", gs_test_data("lpips/lpips_squeeze_v0.1.safetensors"));
    if (!gs_file_exists(src)) TEST_SKIP("lpips/lpips_squeeze_v0.1.safetensors not in ../shared/data");
    char root[512], cwd[600], pred[600], gt[600], json[600], bin[600], cobin[600], cmd[16384], *out = NULL;
    snprintf(root, sizeof root, "%s", gs_test_tmp("datafind"));
    snprintf(cwd, sizeof cwd, "%s/cwd/a/b", root);
    snprintf(pred, sizeof pred, "%s/pred", root);
    snprintf(gt, sizeof gt, "%s/gt", root);
    snprintf(json, sizeof json, "%s/m.json", root);
    snprintf(bin, sizeof bin, "%s/prefix/bin/gs", root);
    snprintf(cobin, sizeof cobin, "%s/co/build/gs", root);
    /* two copies of gs: an installed prefix and a checkout's build/; decoys around the current folder */
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' '%s' '%s' '%s/prefix/bin' '%s/co/build' '%s/cwd/a/b/lpips' '%s/cwd/a/shared/data/lpips' "
             "'%s/cwd/a/shared/data/splats' '%s/cwd/a/b/share/gs/lpips' && cp '%s' '%s' && cp '%s' '%s' && "
             "echo decoy > '%s/cwd/a/b/lpips/lpips_squeeze_v0.1.safetensors' && "
             "echo decoy > '%s/cwd/a/shared/data/lpips/lpips_squeeze_v0.1.safetensors' && "
             "echo decoy > '%s/cwd/a/b/share/gs/lpips/lpips_squeeze_v0.1.safetensors'",
             cwd, pred, gt, root, root, root, root, root, root, getenv("GS_BIN"), bin, getenv("GS_BIN"), cobin, root,
             root, root);
    CHECK_EQ_INT(gs_test_run(cmd, &out), 0);
    free(out);
    write_pattern(pred, "a.png", 64, 64, 1);
    write_pattern(gt, "a.png", 64, 64, 9);
    /* the value the library gives with the shared weights */
    gs_lpips *lp = NULL;
    double want = NAN;
    gs_image a = {0}, b = {0};
    char p[1200];
    CHECK_OK(gs_lpips_load(src, GS_LPIPS_SQUEEZE, &lp));
    CHECK_OK(gs_image_read(gs_path_join(p, sizeof p, pred, "a.png"), &a));
    CHECK_OK(gs_image_read(gs_path_join(p, sizeof p, gt, "a.png"), &b));
    if (lp && a.data && b.data) CHECK_OK(gs_lpips_eval(lp, &a, &b, &want, NULL));
    gs_lpips_free(lp);
    gs_image_free(&a);
    gs_image_free(&b);
    CHECK(isfinite(want) && want > 0);
    if (gs_test_failed()) return;
    /* nothing reachable: an error, and none of the decoys beside the current folder is read */
    char args[4096];
    snprintf(args, sizeof args, "eval --pred '%s' --gt '%s' --metrics lpips --lpips-net squeeze --device cpu", pred, gt);
    CHECK_EQ_INT(run_in(cwd, "", bin, args, &out), 1);
    CHECK_MSG(out && strstr(out, "no LPIPS-squeeze v0.1 weights found") && !strstr(out, "decoy") &&
                  !strstr(out, "cwd/a"),
              "without weights: %s", out ? out : "");
    free(out);
    /* each route alone, the file moved from one place to the next */
    char at[6][600];
    snprintf(at[0], sizeof at[0], "%s/prefix/share/gs/lpips", root);  /* make install's place */
    snprintf(at[1], sizeof at[1], "%s/prefix/bin/lpips", root);        /* beside the program */
    snprintf(at[2], sizeof at[2], "%s/shared/data/lpips", root);       /* a checkout's shared/, from co/build/gs */
    snprintf(at[3], sizeof at[3], "%s/ld", root);                      /* $GS_LPIPS_DIR */
    snprintf(at[4], sizeof at[4], "%s/sd/lpips", root);                /* $GS_SHARED_DATA/lpips */
    char env[3][700];
    snprintf(env[0], sizeof env[0], "GS_LPIPS_DIR='%s'", at[3]);
    snprintf(env[1], sizeof env[1], "GS_SHARED_DATA='%s/sd'", root);
    const char *envs[5] = {"", "", "", env[0], env[1]};
    const char *bins[5] = {bin, bin, cobin, bin, bin};
    char prev[700] = "";
    for (int k = 0; k < 5; k++) {
        char file[700];
        snprintf(file, sizeof file, "%.600s/lpips_squeeze_v0.1.safetensors", at[k]);
        CHECK_OK(gs_mkdirs(at[k]));
        if (!prev[0]) {
            snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, file);
            CHECK_EQ_INT(gs_test_run(cmd, &out), 0);
            free(out);
        } else {
            CHECK(rename(prev, file) == 0);
        }
        snprintf(prev, sizeof prev, "%s", file);
        eval_lpips_in(cwd, envs[k], bins[k], pred, gt, json, file, want);
    }
    /* gs bench render's real scenes: $GS_SHARED_DATA/splats, else the checkout's shared/data/splats, never
     * the current folder's ../shared/data */
    char sp[1300];
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 2, 0));
    if (gs_test_failed()) return;
    for (int i = 0; i < 2; i++) {
        s.means[3 * i] = 0.3f * i, s.means[3 * i + 2] = 4;
        for (int c = 0; c < 3; c++) s.scales[3 * i + c] = 0.3f;
        s.opacities[i] = 0.9f;
    }
    const char *where[3] = {"shared/data/splats/checkout.ply", "cwd/a/shared/data/splats/decoy.ply", "sd/splats/env.ply"};
    for (int k = 0; k < 3; k++) {
        snprintf(sp, sizeof sp, "%s/%s", root, where[k]);
        char d[1300];
        snprintf(d, sizeof d, "%s", sp);
        *strrchr(d, '/') = 0;
        CHECK_OK(gs_mkdirs(d));
        CHECK_OK(gs_ply_write(sp, &s));
    }
    gs_scene_free(&s);
    CHECK_EQ_INT(run_in(cwd, "", cobin, "bench render --workload scenes --quick --device cpu", &out), 0);
    CHECK_MSG(out && strstr(out, "checkout.ply") && !strstr(out, "decoy.ply"), "gs bench render: %s", out ? out : "");
    free(out);
    CHECK_EQ_INT(run_in(cwd, env[1], cobin, "bench render --workload scenes --quick --device cpu", &out), 0);
    CHECK_MSG(out && strstr(out, "env.ply") && !strstr(out, "decoy.ply") && !strstr(out, "checkout.ply"),
              "gs bench render with $GS_SHARED_DATA: %s", out ? out : "");
    free(out);
}
