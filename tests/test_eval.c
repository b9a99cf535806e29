/* test_eval.c - PSNR / SSIM / LPIPS against reference values from
 * scikit-image, numpy, torch and the lpips package
 * (tests/golden/eval/eval_goldens.json, made by tools/make_eval_goldens.py),
 * plus the directory evaluation behind `gs eval`, its reports and its errors.
 *
 * The golden inputs are rebuilt here bit-exactly from a recipe: a source
 * (an LLFF fern photo from ../shared/data, or a synthetic pattern) and integer
 * distortions (shift, 3x3 box blur, hashed noise, 8x8 block artefacts,
 * posterize, crop, gray, synthetic alpha) or a real JPEG round trip (the
 * system libjpeg-turbo encoding as Pillow does, gs's reader decoding; the
 * decoded bytes are checked against Pillow's), then u/255 in float32 (or
 * (u-20)/200 for out-of-range values) and compositing over white/black. The
 * recipe language is documented in tools/make_eval_goldens.py; the two
 * interpreters (ours is in tests/test_eval_common.h) must stay identical. */
#include "tests/test_eval_common.h"
#include "data/image.h"
#include "data/safetensors.h"
#include "eval/metrics.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

static double max_d_psnr, max_d_ssim, max_d_3dgs, max_d_alex, max_d_squeeze, max_d_vgg;

/* ---- the golden comparisons ------------------------------------------------------ */
TEST(eval_recipe_interpreter_is_deterministic) {
    /* the synthetic source and noise are fixed: check a few values computed
     * by hand from the formulas (not from the interpreter) */
    CHECK_EQ_INT(lowbias32(0), 0); /* values from Python's implementation */
    CHECK_EQ_INT(lowbias32(1), 0x688990c0u);
    CHECK_EQ_INT(lowbias32(12345), 0x912efcf7u);
    CHECK_EQ_INT(lowbias32(0xdeadbeefu), 0xe628c683u);
    cJSON *r = cJSON_Parse("[\"synth:8x4\", \"noise 3 5\"]");
    gs_image a, b;
    CHECK(build_recipe(r, &a) && build_recipe(r, &b));
    CHECK(memcmp(a.data, b.data, 8 * 4 * 3 * sizeof(float)) == 0);
    cJSON_Delete(r);
    r = cJSON_Parse("[\"synth:8x4\"]");
    gs_image s;
    CHECK(build_recipe(r, &s));
    /* u(1,2,1) = (5 + 6 + 60 + h(0,0,1,7) % 32) % 256 */
    const int want = (int)((71 + hxyc(0, 0, 1, 7) % 32) % 256);
    CHECK_NEAR(s.data[(2 * 8 + 1) * 3 + 1], (float)want / 255.0f, 0);
    int differs = 0, within = 1;
    for (int i = 0; i < 8 * 4 * 3; i++) {
        const int d = (int)lrintf((a.data[i] - s.data[i]) * 255.0f);
        differs |= d != 0;
        within &= d >= -3 && d <= 3;
    }
    CHECK(differs && within);
    cJSON_Delete(r);
    gs_image_free(&a), gs_image_free(&b), gs_image_free(&s);
}

TEST(eval_psnr_ssim_match_reference_libraries) {
    cJSON *g = load_goldens();
    if (!g) GOLDEN_MISSING(GOLDEN);
    const cJSON *cases = cJSON_GetObjectItem(g, "cases");
    CHECK(cJSON_GetArraySize(cases) >= 15);
    int checked = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        if (uses_fern(c) && !gs_test_data_dir()) continue;
        gs_image pred, gt;
        if (!build_pair(c, &pred, &gt)) {
            CHECK_MSG(0, "%s: cannot build the inputs", name);
            continue;
        }
        CHECK_EQ_INT(gt.width, cJSON_GetObjectItem(c, "width")->valueint);
        CHECK_EQ_INT(gt.height, cJSON_GetObjectItem(c, "height")->valueint);
        CHECK_EQ_INT(gt.channels, cJSON_GetObjectItem(c, "channels")->valueint);
        double v;
        const cJSON *ref = cJSON_GetObjectItem(c, "psnr");
        CHECK_OK(gs_psnr(&pred, &gt, &v));
        if (cJSON_IsString(ref)) {
            CHECK_MSG(isinf(v) && v > 0, "%s: psnr %g, expected +inf", name, v);
        } else {
            CHECK_MSG(fabs(v - ref->valuedouble) <= TOL_PSNR, "%s: psnr %.9f vs %.9f", name, v, ref->valuedouble);
            max_d_psnr = fmax(max_d_psnr, fabs(v - ref->valuedouble));
        }
        ref = cJSON_GetObjectItem(c, "ssim_skimage");
        if (cJSON_IsNull(ref)) {
            CHECK_ERR(gs_ssim(&pred, &gt, GS_SSIM_SKIMAGE, &v), "smaller than the 11x11 SSIM window");
        } else {
            CHECK_OK(gs_ssim(&pred, &gt, GS_SSIM_SKIMAGE, &v));
            CHECK_MSG(fabs(v - ref->valuedouble) <= TOL_SSIM, "%s: ssim %.9f vs %.9f", name, v, ref->valuedouble);
            max_d_ssim = fmax(max_d_ssim, fabs(v - ref->valuedouble));
        }
        ref = cJSON_GetObjectItem(c, "ssim_3dgs");
        CHECK_OK(gs_ssim(&pred, &gt, GS_SSIM_3DGS, &v));
        CHECK_MSG(fabs(v - ref->valuedouble) <= TOL_SSIM, "%s: ssim 3dgs %.9f vs %.9f", name, v, ref->valuedouble);
        max_d_3dgs = fmax(max_d_3dgs, fabs(v - ref->valuedouble));
        checked++;
        gs_image_free(&pred), gs_image_free(&gt);
    }
    CHECK(checked >= 1);
    printf("    %d cases; max |dPSNR| %.3g dB, max |dSSIM| skimage %.3g, 3dgs %.3g\n", checked, max_d_psnr, max_d_ssim,
           max_d_3dgs);
    cJSON_Delete(g);
}

static void check_lpips_net(gs_lpips_net net, const char *key, double *maxd) {
    REQUIRE_DATA();
    cJSON *g = load_goldens();
    if (!g) GOLDEN_MISSING(GOLDEN);
    char rel[128];
    snprintf(rel, sizeof rel, "lpips/lpips_%s_v0.1.safetensors", gs_lpips_net_name(net));
    gs_lpips *m = NULL;
    CHECK_OK(gs_lpips_load(gs_test_data(rel), net, &m));
    if (!m) {
        cJSON_Delete(g);
        return;
    }
    CHECK_EQ_INT(gs_lpips_get_net(m), net);
    const cJSON *c;
    int checked = 0;
    double t_big = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        gs_image pred, gt;
        if (!build_pair(c, &pred, &gt)) {
            CHECK_MSG(0, "%s: cannot build the inputs", name);
            continue;
        }
        const cJSON *ref = cJSON_GetObjectItem(c, key);
        double v, layers[GS_LPIPS_MAX_LAYERS];
        if (cJSON_IsNull(ref)) {
            CHECK_ERR(gs_lpips_eval(m, &pred, &gt, &v, NULL), "too small for the network");
        } else {
            const double t0 = gs_now();
            CHECK_OK(gs_lpips_eval(m, &pred, &gt, &v, layers));
            if (!strcmp(name, "blur3")) t_big = gs_now() - t0;
            *maxd = fmax(*maxd, check_lpips_case(c, key, m, v, layers, ""));
            checked++;
        }
        gs_image_free(&pred), gs_image_free(&gt);
    }
    CHECK(checked >= 10);
    printf("    %s: %d cases, max |dLPIPS| %.3g; 504x378 pair in %.3f s\n", gs_lpips_label(net), checked, *maxd, t_big);
    gs_lpips_free(m);
    cJSON_Delete(g);
}

TEST(eval_lpips_alex_matches_lpips_package) { check_lpips_net(GS_LPIPS_ALEX, "lpips_alex", &max_d_alex); }
TEST(eval_lpips_squeeze_matches_lpips_package) { check_lpips_net(GS_LPIPS_SQUEEZE, "lpips_squeeze", &max_d_squeeze); }

TEST(eval_lpips_vgg_with_a_full_file_matches_lpips_package) {
    cJSON *g = load_goldens();
    if (!g) GOLDEN_MISSING(GOLDEN);
    const cJSON *vs = cJSON_GetObjectItem(g, "vgg_synthetic");
    /* the weight formula agrees with Python's */
    const cJSON *probe = cJSON_GetObjectItem(cJSON_GetObjectItem(vs, "probe"), "net.slice1.0.weight");
    float *w0 = synth_values(0, 64 * 27, 0.5f, 0);
    CHECK_NEAR(w0[0], cJSON_GetArrayItem(probe, 0)->valuedouble, 0);
    CHECK_NEAR(w0[1], cJSON_GetArrayItem(probe, 1)->valuedouble, 0);
    CHECK_NEAR(w0[64 * 27 - 1], cJSON_GetArrayItem(probe, 2)->valuedouble, 0);
    free(w0);
    const char *path = gs_test_tmp("lpips_vgg_synthetic.safetensors");
    CHECK_OK(write_vgg(path, 0));
    gs_lpips *m = NULL;
    CHECK_OK(gs_lpips_load(path, GS_LPIPS_VGG, &m));
    const cJSON *c;
    int checked = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(vs, "cases")) {
        gs_image pred, gt;
        CHECK(build_pair(c, &pred, &gt));
        double v, layers[GS_LPIPS_MAX_LAYERS];
        CHECK_OK(gs_lpips_eval(m, &pred, &gt, &v, layers));
        const double ref = cJSON_GetObjectItem(c, "lpips_vgg")->valuedouble;
        CHECK_MSG(fabs(v - ref) <= TOL_LPIPS, "vgg %s: %.9f vs %.9f", cJSON_GetObjectItem(c, "name")->valuestring, v,
                  ref);
        CHECK(ref > 0.01); /* the case is not trivially near zero */
        const cJSON *lr = cJSON_GetObjectItem(c, "lpips_vgg_layers");
        CHECK_EQ_INT(cJSON_GetArraySize(lr), 5);
        for (int l = 0; l < 5 && l < cJSON_GetArraySize(lr); l++)
            CHECK_MSG(fabs(layers[l] - cJSON_GetArrayItem(lr, l)->valuedouble) <= TOL_LPIPS, "vgg layer %d: %.9f vs %.9f",
                      l, layers[l], cJSON_GetArrayItem(lr, l)->valuedouble);
        max_d_vgg = fmax(max_d_vgg, fabs(v - ref));
        checked++;
        gs_image_free(&pred), gs_image_free(&gt);
    }
    CHECK_EQ_INT(checked, 2);
    CHECK_EQ_INT(gs_lpips_num_layers(m), 5);
    printf("    LPIPS-vgg (synthetic weights): max |dLPIPS| %.3g\n", max_d_vgg);
    gs_lpips_free(m);
    cJSON_Delete(g);
}

TEST(eval_lpips_vgg_lin_only_file_names_missing_keys) {
    const char *path = gs_test_tmp("lpips_vgg_lin_only.safetensors");
    CHECK_OK(write_vgg(path, 1));
    gs_lpips *m = NULL;
    CHECK_ERR(gs_lpips_load(path, GS_LPIPS_VGG, &m), "26 tensors missing (net.slice1.0.weight, net.slice1.0.bias");
    CHECK(strstr(gs_last_error(), "lpips_vgg_lin_only.safetensors") != NULL);
    CHECK(strstr(gs_last_error(), "--lpips-weights") != NULL);
    CHECK(m == NULL);
    if (gs_test_data_dir()) { /* the shared lin-only file gives the same answer */
        CHECK_ERR(gs_lpips_load(gs_test_data("lpips/lpips_vgg_v0.1_lin_only.safetensors"), GS_LPIPS_VGG, &m),
                  "not a complete LPIPS-vgg v0.1 weights file");
        char found[1024];
        CHECK_OK(gs_lpips_find_weights(GS_LPIPS_VGG, found, sizeof found));
        CHECK(strstr(found, "lpips_vgg_v0.1") != NULL);
        /* the alex file is not a squeeze file */
        CHECK_ERR(gs_lpips_load(gs_test_data("lpips/lpips_alex_v0.1.safetensors"), GS_LPIPS_SQUEEZE, &m),
                  "net.slice1.0.weight is F32 [64,3,11,11], expected F32 [64,3,3,3]");
    }
}

TEST(eval_lpips_bad_weight_files) {
    gs_lpips *m = NULL;
    CHECK_ERR(gs_lpips_load(gs_test_tmp("nope.safetensors"), GS_LPIPS_ALEX, &m), "nope.safetensors");
    /* truncated / garbage */
    const char *bad = gs_test_tmp("garbage.safetensors");
    CHECK_OK(gs_write_file_atomic(bad, "\x10\0\0\0\0\0\0\0{\"a\":", 13));
    CHECK_ERR(gs_lpips_load(bad, GS_LPIPS_ALEX, &m), "garbage.safetensors");
    /* right names, wrong dtype / NaN / zero scale */
    float zeros[64 * 3 * 11 * 11] = {0};
    uint16_t halves[64 * 3 * 11 * 11] = {0};
    const int64_t ws[4] = {64, 3, 11, 11};
    gs_st_writer *w = gs_st_writer_new();
    CHECK_OK(gs_st_writer_add(w, "net.slice1.0.weight", GS_F16, 4, ws, halves));
    CHECK_OK(gs_st_writer_save(w, bad));
    gs_st_writer_free(w);
    CHECK_ERR(gs_lpips_load(bad, GS_LPIPS_ALEX, &m), "net.slice1.0.weight is F16");
    zeros[5] = NAN;
    w = gs_st_writer_new();
    CHECK_OK(gs_st_writer_add(w, "net.slice1.0.weight", GS_F32, 4, ws, zeros));
    CHECK_OK(gs_st_writer_save(w, bad));
    gs_st_writer_free(w);
    CHECK_ERR(gs_lpips_load(bad, GS_LPIPS_ALEX, &m),
              "garbage.safetensors: tensor net.slice1.0.weight has a non-finite value (NaN) at element 5");
    CHECK(m == NULL);
    zeros[5] = 0;
    zeros[64 * 3 * 11 * 11 - 1] = -INFINITY; /* the last element */
    w = gs_st_writer_new();
    CHECK_OK(gs_st_writer_add(w, "net.slice1.0.weight", GS_F32, 4, ws, zeros));
    CHECK_OK(gs_st_writer_save(w, bad));
    gs_st_writer_free(w);
    CHECK_ERR(gs_lpips_load(bad, GS_LPIPS_ALEX, &m), "net.slice1.0.weight has a non-finite value (-Inf) at element 23231");
    CHECK(m == NULL);
    gs_lpips_net net;
    CHECK_ERR(gs_lpips_net_parse("resnet", &net), "resnet");
    CHECK_OK(gs_lpips_net_parse("squeeze", &net));
    CHECK_EQ_INT(net, GS_LPIPS_SQUEEZE);
    CHECK_STR(gs_lpips_label(GS_LPIPS_ALEX), "LPIPS-alex v0.1");
}

TEST(eval_lpips_properties_and_input_errors) {
    REQUIRE_DATA();
    gs_lpips *m = NULL;
    CHECK_OK(gs_lpips_load(gs_test_data("lpips/lpips_alex_v0.1.safetensors"), GS_LPIPS_ALEX, &m));
    if (!m) return;
    gs_image a, b, small, rgba;
    CHECK_OK(gs_image_alloc(&a, 64, 48, 3));
    CHECK_OK(gs_image_alloc(&b, 64, 48, 3));
    for (int i = 0; i < 64 * 48 * 3; i++) {
        a.data[i] = (float)((i * 37) % 101) / 100.0f;
        b.data[i] = (float)((i * 53) % 97) / 96.0f;
    }
    double ab, ba, aa;
    CHECK_OK(gs_lpips_eval(m, &a, &b, &ab, NULL));
    CHECK_OK(gs_lpips_eval(m, &b, &a, &ba, NULL));
    CHECK_OK(gs_lpips_eval(m, &a, &a, &aa, NULL));
    CHECK_NEAR(ab, ba, 1e-6); /* symmetric */
    CHECK(ab > 0.05);
    CHECK_NEAR(aa, 0, 0);
    CHECK_OK(gs_image_alloc(&small, 30, 48, 3));
    CHECK_ERR(gs_lpips_eval(m, &small, &small, &ab, NULL), "needs at least 31x31 pixels");
    CHECK_ERR(gs_lpips_eval(m, &a, &small, &ab, NULL), "prediction is 64x48x3 but ground truth is 30x48x3");
    CHECK_OK(gs_image_alloc(&rgba, 64, 48, 4));
    CHECK_ERR(gs_lpips_eval(m, &rgba, &rgba, &ab, NULL), "composite alpha first");
    b.data[100] = NAN;
    CHECK_ERR(gs_lpips_eval(m, &a, &b, &ab, NULL), "NaN");
    gs_image_free(&a), gs_image_free(&b), gs_image_free(&small), gs_image_free(&rgba);
    gs_lpips_free(m);
}

TEST(eval_psnr_ssim_properties_and_errors) {
    gs_image a, b, c;
    CHECK_OK(gs_image_alloc(&a, 20, 16, 3));
    CHECK_OK(gs_image_alloc(&b, 20, 16, 3));
    for (int i = 0; i < 20 * 16 * 3; i++) a.data[i] = b.data[i] = 0.5f;
    double v;
    CHECK_OK(gs_psnr(&a, &b, &v));
    CHECK(isinf(v) && v > 0);
    CHECK_OK(gs_ssim(&a, &b, GS_SSIM_SKIMAGE, &v));
    CHECK_NEAR(v, 1.0, 1e-12);
    /* a uniform offset of 0.1 everywhere: MSE 0.01 -> exactly 20 dB */
    for (int i = 0; i < 20 * 16 * 3; i++) b.data[i] = 0.6f;
    CHECK_OK(gs_psnr(&a, &b, &v));
    CHECK_NEAR(v, 20.0, 1e-5);
    /* flat images: SSIM = luminance term (2 0.5 0.6 + C1) / (0.25 + 0.36 + C1) */
    CHECK_OK(gs_ssim(&a, &b, GS_SSIM_SKIMAGE, &v));
    const double l = (2 * 0.5 * (double)0.6f + 1e-4) / (0.25 + (double)0.6f * 0.6f + 1e-4);
    CHECK_NEAR(v, l, 1e-9);
    /* values outside [0,1] are clamped for PSNR: 1.5 vs 1.0 is a perfect match */
    for (int i = 0; i < 20 * 16 * 3; i++) a.data[i] = 1.5f, b.data[i] = 1.0f;
    CHECK_OK(gs_psnr(&a, &b, &v));
    CHECK(isinf(v));
    CHECK_OK(gs_image_alloc(&c, 10, 16, 3));
    CHECK_ERR(gs_psnr(&a, &c, &v), "prediction is 20x16x3 but ground truth is 10x16x3");
    CHECK_ERR(gs_ssim(&a, &c, GS_SSIM_SKIMAGE, &v), "10x16x3");
    CHECK_ERR(gs_ssim(&c, &c, GS_SSIM_SKIMAGE, &v), "image 10x16 is smaller than the 11x11 SSIM window");
    CHECK_OK(gs_ssim(&c, &c, GS_SSIM_3DGS, &v)); /* zero padding works at any size */
    CHECK_NEAR(v, 1.0, 1e-12);
    a.data[7] = NAN;
    CHECK_ERR(gs_psnr(&a, &b, &v), "NaN");
    CHECK_ERR(gs_ssim(&a, &b, GS_SSIM_3DGS, &v), "NaN");
    gs_ssim_mode mode;
    CHECK_ERR(gs_ssim_mode_parse("torchmetrics", &mode), "torchmetrics");
    CHECK_OK(gs_ssim_mode_parse("3dgs", &mode));
    CHECK_EQ_INT(mode, GS_SSIM_3DGS);
    CHECK(strstr(gs_ssim_mode_label(GS_SSIM_SKIMAGE), "skimage, gaussian 11x11 sigma 1.5") != NULL);
    gs_image_free(&a), gs_image_free(&b), gs_image_free(&c);
}

TEST(eval_flatten_composites_alpha) {
    gs_image rgba, ga, out;
    CHECK_OK(gs_image_alloc(&rgba, 2, 1, 4));
    const float px[8] = {1, 0, 0, 0.25f, 0.2f, 0.4f, 0.6f, 1};
    memcpy(rgba.data, px, sizeof px);
    const float white[3] = {1, 1, 1}, black[3] = {0, 0, 0};
    CHECK_OK(gs_eval_flatten(&rgba, white, &out));
    CHECK_EQ_INT(out.channels, 3);
    CHECK_NEAR(out.data[0], 1.0, 0);
    CHECK_NEAR(out.data[1], 0.75, 0);
    CHECK_NEAR(out.data[4], 0.4f, 0);
    gs_image_free(&out);
    CHECK_OK(gs_eval_flatten(&rgba, black, &out));
    CHECK_NEAR(out.data[0], 0.25, 0);
    CHECK_NEAR(out.data[1], 0, 0);
    gs_image_free(&out);
    CHECK_OK(gs_image_alloc(&ga, 1, 1, 2));
    ga.data[0] = 0.5f, ga.data[1] = 0.5f;
    CHECK_OK(gs_eval_flatten(&ga, white, &out));
    CHECK_EQ_INT(out.channels, 1);
    CHECK_NEAR(out.data[0], 0.75, 0);
    gs_image_free(&out), gs_image_free(&ga), gs_image_free(&rgba);
}

/* ---- directory evaluation, reports ---------------------------------------------- */
static void write_png(const char *dir, const char *name, int w, int h, int c, unsigned seed) {
    gs_image im;
    if (gs_image_alloc(&im, w, h, c) != GS_OK) return;
    for (int i = 0; i < w * h * c; i++) {
        seed = seed * 1103515245u + 12345u;
        const int x = (i / c) % w, y = (i / c) / w;
        im.data[i] = (float)(((x * 9 + y * 5 + (i % c) * 40) + (int)((seed >> 16) % 24)) % 256) / 255.0f;
        if (c == 4 && i % 4 == 3) im.data[i] = (float)((x * 255) / (w - 1)) / 255.0f;
    }
    char p[1024];
    mkdir(dir, 0755);
    CHECK_OK(gs_image_write_png(gs_path_join(p, sizeof p, dir, name), &im, 8));
    gs_image_free(&im);
}

static const gs_eval_row *row_named(const gs_eval_report *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].name, name)) return &r->rows[i];
    return NULL;
}

TEST(eval_dirs_pairs_scores_and_writes_reports) {
    char pd[512], gd[512], p1[1024], p2[1024];
    snprintf(pd, sizeof pd, "%s", gs_test_tmp("pred"));
    snprintf(gd, sizeof gd, "%s", gs_test_tmp("gt"));
    write_png(pd, "a.png", 48, 40, 3, 1);
    write_png(gd, "a.png", 48, 40, 3, 2);
    write_png(pd, "b.png", 48, 40, 3, 3);
    write_png(gd, "b.png", 48, 40, 3, 3);   /* identical: +inf PSNR */
    write_png(pd, "c.png", 48, 40, 3, 4);
    write_png(gd, "c.PNG", 48, 40, 4, 5);   /* RGBA gt, paired by stem */
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = gs_test_data_dir() != NULL;
    if (o.lpips) o.lpips_weights = gs_test_data("lpips/lpips_alex_v0.1.safetensors");
    gs_eval_report r;
    CHECK_OK(gs_eval_dirs(pd, gd, &o, &r));
    CHECK_EQ_INT(r.n, 3);
    const gs_eval_row *ra = row_named(&r, "a.png"), *rb = row_named(&r, "b.png"), *rc = row_named(&r, "c.PNG");
    CHECK(ra && rb && rc);
    if (!ra || !rb || !rc) return;
    CHECK(isinf(rb->psnr) && rb->ssim == 1.0);
    CHECK(isfinite(ra->psnr) && ra->psnr > 5 && ra->psnr < 60);
    if (o.lpips) CHECK(rb->lpips == 0.0 && ra->lpips > 0);
    else CHECK(isnan(ra->lpips));
    /* the same numbers as the API on the decoded, composited images */
    gs_image pi, gi, gf;
    const float white[3] = {1, 1, 1};
    CHECK_OK(gs_image_read(gs_path_join(p1, sizeof p1, pd, "c.png"), &pi));
    CHECK_OK(gs_image_read(gs_path_join(p2, sizeof p2, gd, "c.PNG"), &gi));
    CHECK_EQ_INT(gi.channels, 4);
    CHECK_OK(gs_eval_flatten(&gi, white, &gf));
    double v;
    CHECK_OK(gs_psnr(&pi, &gf, &v));
    CHECK_NEAR(rc->psnr, v, 0);
    CHECK_OK(gs_ssim(&pi, &gf, GS_SSIM_SKIMAGE, &v));
    CHECK_NEAR(rc->ssim, v, 0);
    CHECK(isinf(r.mean_psnr) && r.mean_psnr > 0); /* one identical pair makes the mean +inf, as numpy would */
    CHECK_NEAR(r.mean_ssim, (ra->ssim + rb->ssim + rc->ssim) / 3, 1e-15);
    /* reports */
    const char *jp = gs_test_tmp("report.json"), *cp = gs_test_tmp("report.csv");
    CHECK_OK(gs_eval_write_json(&r, jp));
    CHECK_OK(gs_eval_write_csv(&r, cp));
    uint8_t *text;
    size_t n;
    CHECK_OK(gs_read_file(jp, 1 << 20, &text, &n));
    cJSON *j = cJSON_Parse((const char *)text);
    free(text);
    CHECK(j != NULL);
    const cJSON *ms = cJSON_GetObjectItem(j, "metrics");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(ms, "ssim"), "label")->valuestring,
              "SSIM (skimage, gaussian 11x11 sigma 1.5)");
    CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(ms, "psnr"), "mean")->valuestring, "inf");
    if (o.lpips)
        CHECK_STR(cJSON_GetObjectItem(cJSON_GetObjectItem(ms, "lpips"), "label")->valuestring, "LPIPS-alex v0.1");
    const cJSON *imgs = cJSON_GetObjectItem(j, "images");
    CHECK_EQ_INT(cJSON_GetArraySize(imgs), 3);
    const cJSON *first = cJSON_GetArrayItem(imgs, 0);
    CHECK_STR(cJSON_GetObjectItem(first, "name")->valuestring, r.rows[0].name);
    CHECK_NEAR(cJSON_GetObjectItem(first, "ssim")->valuedouble, r.rows[0].ssim, 1e-14);
    CHECK_EQ_INT(cJSON_GetObjectItem(first, "width")->valueint, 48);
    cJSON_Delete(j);
    CHECK_OK(gs_read_file(cp, 1 << 20, &text, &n));
    CHECK(strncmp((const char *)text, o.lpips ? "name,width,height,psnr,ssim,lpips\n" : "name,width,height,psnr,ssim\n",
                  o.lpips ? 34 : 28) == 0);
    CHECK(strstr((const char *)text, "b.png,48,40,inf,1,") != NULL);
    CHECK(strstr((const char *)text, "\nmean,,,inf,") != NULL);
    free(text);
    const double ssim_c_white = rc->ssim;
    gs_eval_report_free(&r);
    /* only some metrics, 3dgs variant, black background */
    CHECK_OK(gs_eval_metrics_parse("ssim", &o));
    o.ssim_mode = GS_SSIM_3DGS;
    o.bg[0] = o.bg[1] = o.bg[2] = 0;
    CHECK_OK(gs_eval_dirs(pd, gd, &o, &r));
    CHECK(isnan(r.rows[0].psnr) && isnan(r.mean_lpips) && isfinite(r.mean_ssim));
    CHECK(strstr(r.ssim_label, "3dgs") != NULL);
    const gs_eval_row *rc2 = row_named(&r, "c.PNG");
    CHECK(rc2 && rc2->ssim != ssim_c_white); /* different background, different value */
    gs_eval_report_free(&r);
    gs_image_free(&pi), gs_image_free(&gi), gs_image_free(&gf);
}

TEST(eval_dirs_errors_are_clear) {
    char pd[512], gd[512], p[1024];
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = 0;
    gs_eval_report r;
    /* missing directory, empty directory */
    CHECK_ERR(gs_eval_dirs(gs_test_tmp("no_such_dir"), gs_test_tmp("no_such_dir2"), &o, &r), "not a directory");
    snprintf(pd, sizeof pd, "%s", gs_test_tmp("e_pred"));
    snprintf(gd, sizeof gd, "%s", gs_test_tmp("e_gt"));
    mkdir(pd, 0755), mkdir(gd, 0755);
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "no images");
    /* a ground truth without prediction, a prediction without ground truth */
    write_png(pd, "x.png", 20, 20, 3, 1);
    write_png(gd, "x.png", 20, 20, 3, 2);
    write_png(gd, "y.png", 20, 20, 3, 2);
    o.strict = 1; /* else y.png is listed, not an error (tests/test_eval_cli.c) */
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "1 ground-truth image without a prediction");
    CHECK(strstr(gs_last_error(), "y.png") != NULL);
    o.strict = 0;
    write_png(pd, "y.png", 20, 20, 3, 2);
    write_png(pd, "z.png", 20, 20, 3, 2);
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "1 prediction without ground truth");
    CHECK(strstr(gs_last_error(), "z.png") != NULL);
    remove(gs_path_join(p, sizeof p, pd, "z.png"));
    /* ambiguous stems */
    write_png(gd, "w.png", 20, 20, 3, 2);
    write_png(pd, "w.jpg", 20, 20, 3, 2); /* a PNG named .jpg: content decides the decoder */
    write_png(pd, "w.jpeg", 20, 20, 3, 2);
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "ambiguous");
    remove(gs_path_join(p, sizeof p, pd, "w.jpeg"));
    CHECK_OK(gs_eval_dirs(pd, gd, &o, &r)); /* w.png <-> w.jpg by stem */
    CHECK_EQ_INT(r.n, 3);
    gs_eval_report_free(&r);
    /* size mismatch */
    write_png(pd, "y.png", 21, 20, 3, 2);
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "y.png: size mismatch: prediction is 21x20, ground truth is 20x20");
    write_png(pd, "y.png", 20, 20, 3, 2);
    /* gray against RGB */
    write_png(pd, "y.png", 20, 20, 1, 2);
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "y.png: the prediction is gray but the ground truth is RGB");
    write_png(pd, "y.png", 20, 20, 3, 2);
    /* unreadable image */
    CHECK_OK(gs_write_file_atomic(gs_path_join(p, sizeof p, pd, "x.png"), "not a png at all", 16));
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "x.png");
    write_png(pd, "x.png", 20, 20, 3, 1);
    /* too small for SSIM (skimage) */
    write_png(pd, "y.png", 10, 10, 3, 2);
    write_png(gd, "y.png", 10, 10, 3, 2);
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "y.png: ssim: image 10x10 is smaller than the 11x11 SSIM window");
    write_png(pd, "y.png", 20, 20, 3, 2);
    write_png(gd, "y.png", 20, 20, 3, 2);
    /* missing weights file */
    o.lpips = 1;
    o.lpips_weights = gs_test_tmp("missing_lpips.safetensors");
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "missing_lpips.safetensors: LPIPS weights file not found");
    /* LPIPS on images too small for AlexNet */
    if (gs_test_data_dir()) {
        o.lpips_weights = gs_test_data("lpips/lpips_alex_v0.1.safetensors");
        CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "too small for the network");
    }
    /* option parsing */
    CHECK_ERR(gs_eval_metrics_parse("psnr,fid", &o), "unknown metric 'fid'");
    CHECK_ERR(gs_eval_metrics_parse("", &o), "empty metric list");
    CHECK_OK(gs_eval_metrics_parse("LPIPS,psnr", &o));
    CHECK(o.lpips && o.psnr && !o.ssim);
    o.psnr = o.ssim = o.lpips = 0;
    CHECK_ERR(gs_eval_dirs(pd, gd, &o, &r), "no metric selected");
    /* in-memory lists */
    gs_image a, b;
    CHECK_OK(gs_image_alloc(&a, 12, 12, 3));
    CHECK_OK(gs_image_alloc(&b, 12, 13, 3));
    gs_eval_options_default(&o);
    o.lpips = 0;
    CHECK_ERR(gs_eval_images(&a, &b, NULL, 1, &o, &r), "image 0: size mismatch");
    CHECK_OK(gs_eval_images(&a, &a, NULL, 1, &o, &r));
    CHECK(isinf(r.rows[0].psnr));
    gs_eval_report_free(&r);
    gs_image_free(&a), gs_image_free(&b);
}

/* Where the default LPIPS weights are found (eval/metrics.h): $GS_LPIPS_DIR,
 * $GS_SHARED_DATA/lpips, beside the program, its prefix's share/gs, a
 * checkout's ../shared/data seen from build/ - never the current folder. A
 * copy of gs in a made-up prefix prints what it finds with --version. */
static void touch(const char *path) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    CHECK_OK(gs_mkdirs(dir));
    CHECK_OK(gs_write_file_atomic(path, "x", 1));
}

static char *version_in(const char *cwd, const char *env) {
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "cd '%s' && env -u GS_LPIPS_DIR -u GS_SHARED_DATA %s '%s' --version 2>&1", cwd, env,
             gs_test_tmp("lpfind/prefix/bin/gs"));
    CHECK_EQ_INT(gs_test_run(cmd, &out), 0);
    return out;
}

static void check_found(const char *out, const char *net, const char *rel) {
    char want[2048];
    if (rel) snprintf(want, sizeof want, "lpips %s: %s\n", net, gs_test_tmp(rel));
    else snprintf(want, sizeof want, "lpips %s: not found", net);
    CHECK_MSG(out && strstr(out, want), "expected \"%s\" in:\n%s", want, out ? out : "(none)");
}

TEST(eval_lpips_default_weights_are_found_beside_the_program) {
    const char *bin = getenv("GS_BIN");
    if (!bin) TEST_SKIP("GS_BIN not set (run through make test)");
    char cmd[4096], *out = NULL;
    CHECK_OK(gs_mkdirs(gs_test_tmp("lpfind/prefix/bin")));
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", bin, gs_test_tmp("lpfind/prefix/bin/gs"));
    CHECK_EQ_INT(gs_test_run(cmd, &out), 0);
    free(out);
    /* the current folder's ../shared/data is never looked at */
    touch(gs_test_tmp("lpfind/a/shared/data/lpips/lpips_alex_v0.1.safetensors"));
    CHECK_OK(gs_mkdirs(gs_test_tmp("lpfind/a/b")));
    char cwd[1024]; /* gs_test_tmp's buffers are reused */
    snprintf(cwd, sizeof cwd, "%s", gs_test_tmp("lpfind/a/b"));
    out = version_in(cwd, "");
    check_found(out, "alex", NULL);
    check_found(out, "squeeze", NULL);
    free(out);
    /* an installed prefix's share/gs, then beside the program, then a checkout's shared/ */
    touch(gs_test_tmp("lpfind/prefix/share/gs/lpips/lpips_alex_v0.1.safetensors"));
    touch(gs_test_tmp("lpfind/shared/data/lpips/lpips_squeeze_v0.1.safetensors"));
    out = version_in(cwd, "");
    check_found(out, "alex", "lpfind/prefix/share/gs/lpips/lpips_alex_v0.1.safetensors");
    check_found(out, "squeeze", "lpfind/shared/data/lpips/lpips_squeeze_v0.1.safetensors");
    free(out);
    touch(gs_test_tmp("lpfind/prefix/bin/lpips/lpips_alex_v0.1.safetensors"));
    out = version_in(cwd, "");
    check_found(out, "alex", "lpfind/prefix/bin/lpips/lpips_alex_v0.1.safetensors");
    free(out);
    /* $GS_SHARED_DATA/lpips comes before the program's folders, $GS_LPIPS_DIR before that */
    touch(gs_test_tmp("lpfind/sd/lpips/lpips_alex_v0.1.safetensors"));
    touch(gs_test_tmp("lpfind/ld/lpips_alex_v0.1.safetensors"));
    char env[2048];
    snprintf(env, sizeof env, "GS_SHARED_DATA='%s'", gs_test_tmp("lpfind/sd"));
    out = version_in(cwd, env);
    check_found(out, "alex", "lpfind/sd/lpips/lpips_alex_v0.1.safetensors");
    check_found(out, "squeeze", "lpfind/shared/data/lpips/lpips_squeeze_v0.1.safetensors");
    free(out);
    snprintf(env, sizeof env, "GS_SHARED_DATA='%s' GS_LPIPS_DIR='%s'", gs_test_tmp("lpfind/sd"),
             gs_test_tmp("lpfind/ld"));
    out = version_in(cwd, env);
    check_found(out, "alex", "lpfind/ld/lpips_alex_v0.1.safetensors");
    free(out);
    /* nothing found: gs eval stops before scoring, naming every folder it looked in */
    char pred[1024], gt[1024];
    snprintf(pred, sizeof pred, "%s", gs_test_tmp("lpfind/pred"));
    snprintf(gt, sizeof gt, "%s", gs_test_tmp("lpfind/gt"));
    CHECK_OK(gs_mkdirs(pred));
    CHECK_OK(gs_mkdirs(gt));
    gs_image im;
    CHECK_OK(gs_image_alloc(&im, 8, 8, 3));
    memset(im.data, 0, sizeof(float) * 8 * 8 * 3);
    CHECK_OK(gs_image_write_png(gs_test_tmp("lpfind/pred/a.png"), &im, 8));
    CHECK_OK(gs_image_write_png(gs_test_tmp("lpfind/gt/a.png"), &im, 8));
    gs_image_free(&im);
    snprintf(cmd, sizeof cmd,
             "cd '%s' && env -u GS_LPIPS_DIR -u GS_SHARED_DATA '%s' eval --pred '%s' --gt '%s' --metrics lpips "
             "--lpips-net vgg 2>&1",
             cwd, gs_test_tmp("lpfind/prefix/bin/gs"), pred, gt);
    CHECK(gs_test_run(cmd, &out) != 0);
    CHECK_MSG(out && strstr(out, "no LPIPS-vgg v0.1 weights found") && strstr(out, "(beside the program)") &&
                  strstr(out, "(the program's share/gs)") && strstr(out, "--lpips-weights") &&
                  !strstr(out, "lpfind/a/shared"),
              "gs eval without weights said:\n%s", out ? out : "(none)");
    free(out);
}
