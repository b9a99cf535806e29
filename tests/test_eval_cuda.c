/* test_eval_cuda.c - the CUDA metrics (eval/metrics_cuda.cu) against the CPU
 * ones and against the reference values of tests/golden/eval, with the
 * issue's tolerances: |dPSNR| <= 1e-4 dB, |dSSIM| <= 1e-5, |dLPIPS| <= 1e-4
 * (per tap too). Covers odd sizes, sizes below the SSIM window, gray and
 * alpha inputs, the banded im2col path (a 1920x1080 pair), the vgg code path
 * (synthetic weights), the error messages and `gs eval` on the GPU. Skips
 * without a usable GPU; what runs everywhere is that opening the GPU then
 * fails with a clear message. */
#include "tests/test_eval_common.h"
#include "gs/core/device.h"
#include "gs/cuda/cuda.h"
#include "raster/raster.h"

#include <sys/stat.h>

TEST(eval_cuda_without_a_gpu_fails_clearly) {
    if (gs_cuda_device_count() > 0) { /* check the no-GPU path in a run that sees none */
        gs_test_rerun_without_gpu(__FILE__, __LINE__, "eval_cuda_without_a_gpu_fails_clearly");
        return;
    }
    gs_eval_cuda *c = (gs_eval_cuda *)1;
    CHECK_ERR(gs_eval_cuda_new(&c), gs_cuda_compiled() ? "no usable CUDA device" : "no CUDA support");
    CHECK(c == NULL);
    gs_eval_cuda_free(NULL); /* harmless */
}

/* cuBLAS is opened on first use, not linked (no GPU needed to check that
 * the library and the entry points LPIPS calls are found) */
TEST(eval_cuda_blas_opens_lazily) {
    if (!gs_cuda_compiled()) {
        CHECK_ERR(gs_cuda_blas_load(), "no CUDA support");
        return;
    }
    CHECK_OK(gs_cuda_blas_load());
    CHECK_OK(gs_cuda_blas_load()); /* once */
}

/* A held pair is uploaded once and reused only for itself: other images in
 * between are uploaded and scored as such, and the held pair's values are the
 * same before and after them. */
TEST(eval_cuda_held_pair_is_reused_only_for_itself) {
    NEED_CUDA();
    gs_image a, b, c, d;
    CHECK_OK(gs_image_alloc(&a, 67, 45, 3));
    CHECK_OK(gs_image_alloc(&b, 67, 45, 3));
    CHECK_OK(gs_image_alloc(&c, 67, 45, 3));
    CHECK_OK(gs_image_alloc(&d, 67, 45, 3));
    for (size_t i = 0; i < (size_t)67 * 45 * 3; i++) {
        a.data[i] = (float)(lowbias32((uint32_t)i) % 1000u) / 999.0f;
        b.data[i] = fminf(1.0f, a.data[i] + 0.05f * (float)(lowbias32((uint32_t)i + 7u) % 3u));
        c.data[i] = 1.0f - a.data[i];
        d.data[i] = 0.5f * c.data[i];
    }
    gs_eval_cuda *cu = NULL;
    CHECK_OK(gs_eval_cuda_new(&cu));
    if (!cu) return;
    double ab_cpu, cd_cpu, s_ab_cpu, ab1, ab2, cd, s_ab;
    CHECK_OK(gs_psnr(&a, &b, &ab_cpu));
    CHECK_OK(gs_psnr(&c, &d, &cd_cpu));
    CHECK_OK(gs_ssim(&a, &b, GS_SSIM_SKIMAGE, &s_ab_cpu));
    gs_eval_cuda_hold_pair(cu, &a, &b);
    CHECK_OK(gs_psnr_cuda(cu, &a, &b, &ab1));
    CHECK_OK(gs_psnr_cuda(cu, &c, &d, &cd)); /* not the held pair: uploaded */
    CHECK_OK(gs_psnr_cuda(cu, &a, &b, &ab2)); /* the held pair again: uploaded again, then reused */
    CHECK_OK(gs_ssim_cuda(cu, &a, &b, GS_SSIM_SKIMAGE, &s_ab));
    gs_eval_cuda_release_pair(cu);
    CHECK_MSG(fabs(ab1 - ab_cpu) <= TOL_PSNR && fabs(ab2 - ab_cpu) <= TOL_PSNR, "held pair psnr %.9g %.9g vs cpu %.9g",
              ab1, ab2, ab_cpu);
    CHECK_MSG(fabs(cd - cd_cpu) <= TOL_PSNR, "other pair psnr %.9g vs cpu %.9g", cd, cd_cpu);
    CHECK_MSG(fabs(s_ab - s_ab_cpu) <= TOL_SSIM, "held pair ssim %.9g vs cpu %.9g", s_ab, s_ab_cpu);
    CHECK(fabs(ab_cpu - cd_cpu) > 1); /* the two pairs really differ */
    gs_eval_cuda_free(cu);
    gs_image_free(&a), gs_image_free(&b), gs_image_free(&c), gs_image_free(&d);
}

static double max_d[6]; /* psnr, ssim, 3dgs, alex, squeeze, vgg: largest |CUDA - reference| */

TEST(eval_cuda_psnr_ssim_match_cpu_and_references) {
    NEED_CUDA();
    cJSON *g = load_goldens();
    if (!g) {
        gs_test_fail(__FILE__, __LINE__, "tracked golden " GOLDEN " is missing (run from the repository root)");
        return;
    }
    gs_eval_cuda *cu = NULL;
    CHECK_OK(gs_eval_cuda_new(&cu));
    if (!cu) {
        cJSON_Delete(g);
        return;
    }
    printf("    %s\n", gs_eval_cuda_device_name(cu));
    const cJSON *c;
    int checked = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        if (uses_fern(c) && !gs_test_data_dir()) continue;
        gs_image pred, gt;
        if (!build_pair(c, &pred, &gt)) {
            CHECK_MSG(0, "%s: cannot build the inputs", name);
            continue;
        }
        double v, cpu;
        const cJSON *ref = cJSON_GetObjectItem(c, "psnr");
        CHECK_OK(gs_psnr_cuda(cu, &pred, &gt, &v));
        CHECK_OK(gs_psnr(&pred, &gt, &cpu));
        if (cJSON_IsString(ref)) {
            CHECK_MSG(isinf(v) && v > 0, "%s: cuda psnr %g, expected +inf", name, v);
        } else {
            CHECK_MSG(fabs(v - ref->valuedouble) <= TOL_PSNR, "%s: cuda psnr %.9f vs %.9f", name, v, ref->valuedouble);
            CHECK_MSG(fabs(v - cpu) <= 1e-9, "%s: cuda psnr %.12f vs cpu %.12f", name, v, cpu);
            max_d[0] = fmax(max_d[0], fabs(v - ref->valuedouble));
        }
        static const char *const keys[2] = {"ssim_skimage", "ssim_3dgs"};
        for (int mode = 0; mode < 2; mode++) {
            ref = cJSON_GetObjectItem(c, keys[mode]);
            if (cJSON_IsNull(ref)) {
                CHECK_ERR(gs_ssim_cuda(cu, &pred, &gt, (gs_ssim_mode)mode, &v), "smaller than the 11x11 SSIM window");
                continue;
            }
            CHECK_OK(gs_ssim_cuda(cu, &pred, &gt, (gs_ssim_mode)mode, &v));
            CHECK_OK(gs_ssim(&pred, &gt, (gs_ssim_mode)mode, &cpu));
            CHECK_MSG(fabs(v - ref->valuedouble) <= TOL_SSIM, "%s: cuda %s %.9f vs %.9f", name, keys[mode], v,
                      ref->valuedouble);
            CHECK_MSG(fabs(v - cpu) <= 1e-12, "%s: cuda %s %.15f vs cpu %.15f", name, keys[mode], v, cpu);
            max_d[1 + mode] = fmax(max_d[1 + mode], fabs(v - ref->valuedouble));
        }
        checked++;
        gs_image_free(&pred), gs_image_free(&gt);
    }
    CHECK(checked >= 1);
    /* identical images: exactly inf and 1, as on the CPU */
    gs_image a;
    CHECK_OK(gs_image_alloc(&a, 40, 30, 3));
    for (int i = 0; i < 40 * 30 * 3; i++) a.data[i] = (float)((i * 7919) % 256) / 255.0f;
    double v;
    CHECK_OK(gs_psnr_cuda(cu, &a, &a, &v));
    CHECK(isinf(v) && v > 0);
    CHECK_OK(gs_ssim_cuda(cu, &a, &a, GS_SSIM_SKIMAGE, &v));
    CHECK(v == 1.0);
    /* errors, with the CPU's messages */
    gs_image b;
    CHECK_OK(gs_image_alloc(&b, 41, 30, 3));
    CHECK_ERR(gs_psnr_cuda(cu, &a, &b, &v), "prediction is 40x30x3 but ground truth is 41x30x3");
    CHECK_ERR(gs_ssim_cuda(cu, &a, &b, GS_SSIM_3DGS, &v), "41x30x3");
    gs_image_free(&b);
    CHECK_OK(gs_image_alloc(&b, 40, 30, 3));
    memcpy(b.data, a.data, 40 * 30 * 3 * sizeof(float));
    b.data[1234] = NAN;
    CHECK_ERR(gs_psnr_cuda(cu, &a, &b, &v), "NaN");
    CHECK_ERR(gs_ssim_cuda(cu, &a, &b, GS_SSIM_SKIMAGE, &v), "NaN");
    b.data[1234] = INFINITY;
    CHECK_ERR(gs_ssim_cuda(cu, &b, &a, GS_SSIM_3DGS, &v), "NaN or Inf");
    CHECK_ERR(gs_ssim_cuda(cu, &a, &a, (gs_ssim_mode)7, &v), "bad variant");
    gs_image_free(&a), gs_image_free(&b);
    printf("    CUDA: %d cases; max |dPSNR| %.3g dB, max |dSSIM| skimage %.3g, 3dgs %.3g\n", checked, max_d[0], max_d[1],
           max_d[2]);
    gs_eval_cuda_free(cu);
    cJSON_Delete(g);
}

static void check_lpips_cuda(gs_lpips_net net, const char *key, double *maxd) {
    NEED_CUDA();
    REQUIRE_DATA();
    cJSON *g = load_goldens();
    if (!g) {
        gs_test_fail(__FILE__, __LINE__, "tracked golden " GOLDEN " is missing (run from the repository root)");
        return;
    }
    char rel[128];
    snprintf(rel, sizeof rel, "lpips/lpips_%s_v0.1.safetensors", gs_lpips_net_name(net));
    gs_lpips *m = NULL;
    gs_eval_cuda *cu = NULL;
    CHECK_OK(gs_lpips_load(gs_test_data(rel), net, &m));
    CHECK_OK(gs_eval_cuda_new(&cu));
    const cJSON *c;
    int checked = 0;
    const cJSON *cases = m && cu ? cJSON_GetObjectItem(g, "cases") : NULL;
    cJSON_ArrayForEach(c, cases) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        gs_image pred, gt;
        if (!build_pair(c, &pred, &gt)) {
            CHECK_MSG(0, "%s: cannot build the inputs", name);
            continue;
        }
        const cJSON *ref = cJSON_GetObjectItem(c, key);
        double v, cpu, layers[GS_LPIPS_MAX_LAYERS];
        if (cJSON_IsNull(ref)) {
            CHECK_ERR(gs_lpips_eval_cuda(cu, m, &pred, &gt, &v, NULL), "too small for the network");
        } else {
            CHECK_OK(gs_lpips_eval_cuda(cu, m, &pred, &gt, &v, layers));
            CHECK_OK(gs_lpips_eval(m, &pred, &gt, &cpu, NULL));
            CHECK_MSG(fabs(v - cpu) <= TOL_LPIPS, "cuda %s %s: %.9f vs cpu %.9f", key, name, v, cpu);
            *maxd = fmax(*maxd, check_lpips_case(c, key, m, v, layers, "cuda "));
            checked++;
        }
        gs_image_free(&pred), gs_image_free(&gt);
    }
    CHECK(checked >= 10);
    printf("    CUDA %s: %d cases, max |dLPIPS| %.3g\n", gs_lpips_label(net), checked, *maxd);
    gs_eval_cuda_free(cu);
    gs_lpips_free(m); /* also frees the weights on the device */
    cJSON_Delete(g);
}

TEST(eval_cuda_lpips_alex_matches_references) { check_lpips_cuda(GS_LPIPS_ALEX, "lpips_alex", &max_d[3]); }
TEST(eval_cuda_lpips_squeeze_matches_references) { check_lpips_cuda(GS_LPIPS_SQUEEZE, "lpips_squeeze", &max_d[4]); }

TEST(eval_cuda_lpips_vgg_synthetic_matches_reference) {
    NEED_CUDA();
    cJSON *g = load_goldens();
    if (!g) {
        gs_test_fail(__FILE__, __LINE__, "tracked golden " GOLDEN " is missing (run from the repository root)");
        return;
    }
    const char *path = gs_test_tmp("lpips_vgg_synthetic_cuda.safetensors");
    CHECK_OK(write_vgg(path, 0));
    gs_lpips *m = NULL;
    gs_eval_cuda *cu = NULL;
    CHECK_OK(gs_lpips_load(path, GS_LPIPS_VGG, &m));
    CHECK_OK(gs_eval_cuda_new(&cu));
    const cJSON *c;
    int checked = 0;
    const cJSON *cases = m && cu ? cJSON_GetObjectItem(cJSON_GetObjectItem(g, "vgg_synthetic"), "cases") : NULL;
    cJSON_ArrayForEach(c, cases) {
        gs_image pred, gt;
        CHECK(build_pair(c, &pred, &gt));
        double v;
        CHECK_OK(gs_lpips_eval_cuda(cu, m, &pred, &gt, &v, NULL));
        const double ref = cJSON_GetObjectItem(c, "lpips_vgg")->valuedouble;
        CHECK_MSG(fabs(v - ref) <= TOL_LPIPS, "cuda vgg: %.9f vs %.9f", v, ref);
        max_d[5] = fmax(max_d[5], fabs(v - ref));
        checked++;
        gs_image_free(&pred), gs_image_free(&gt);
    }
    CHECK_EQ_INT(checked, 2);
    printf("    CUDA LPIPS-vgg (synthetic weights): max |dLPIPS| %.3g\n", max_d[5]);
    gs_eval_cuda_free(cu);
    gs_lpips_free(m);
    cJSON_Delete(g);
}

/* Full HD: the im2col of AlexNet's first layer no longer fits one band; also
 * reuses one context across sizes (buffers grow) and models. */
TEST(eval_cuda_full_hd_pair_matches_cpu) {
    NEED_CUDA();
    REQUIRE_DATA();
    gs_image a, b;
    const int w = 1920, h = 1080;
    CHECK_OK(gs_image_alloc(&a, w, h, 3));
    CHECK_OK(gs_image_alloc(&b, w, h, 3));
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                const size_t i = ((size_t)y * w + x) * 3 + c;
                a.data[i] = (float)(0.5 + 0.4 * sin(0.05 * x + 0.07 * y + 1.3 * c));
                b.data[i] = fminf(1.0f, fmaxf(0.0f, a.data[i] + (float)((int)(hxyc(x, y, c, 9) % 201) - 100) / 2000.0f));
            }
    gs_eval_cuda *cu = NULL;
    gs_lpips *m[2] = {NULL, NULL};
    CHECK_OK(gs_eval_cuda_new(&cu));
    CHECK_OK(gs_lpips_load(gs_test_data("lpips/lpips_alex_v0.1.safetensors"), GS_LPIPS_ALEX, &m[0]));
    CHECK_OK(gs_lpips_load(gs_test_data("lpips/lpips_squeeze_v0.1.safetensors"), GS_LPIPS_SQUEEZE, &m[1]));
    for (int k = 0; k < 2 && cu && m[k]; k++) {
        double v, cpu, lv[GS_LPIPS_MAX_LAYERS], lc[GS_LPIPS_MAX_LAYERS];
        CHECK_OK(gs_lpips_eval_cuda(cu, m[k], &a, &b, &v, lv));
        CHECK_OK(gs_lpips_eval(m[k], &a, &b, &cpu, lc));
        CHECK_MSG(fabs(v - cpu) <= TOL_LPIPS, "%s 1920x1080: cuda %.9f vs cpu %.9f", gs_lpips_label(gs_lpips_get_net(m[k])), v, cpu);
        for (int l = 0; l < gs_lpips_num_layers(m[k]); l++) CHECK_NEAR(lv[l], lc[l], TOL_LPIPS);
        CHECK(v > 0.001);
    }
    for (int mode = 0; mode < 2 && cu; mode++) {
        double v, cpu;
        CHECK_OK(gs_ssim_cuda(cu, &a, &b, (gs_ssim_mode)mode, &v));
        CHECK_OK(gs_ssim(&a, &b, (gs_ssim_mode)mode, &cpu));
        CHECK_NEAR(v, cpu, 1e-12);
    }
    gs_lpips_free(m[0]), gs_lpips_free(m[1]);
    gs_eval_cuda_free(cu);
    gs_image_free(&a), gs_image_free(&b);
}

/* gs_eval_dirs on the GPU gives the CPU's table. */
TEST(eval_cuda_directory_evaluation_matches_cpu) {
    NEED_CUDA();
    char pd[512], gd[512], p[1024];
    snprintf(pd, sizeof pd, "%s", gs_test_tmp("cu_pred"));
    snprintf(gd, sizeof gd, "%s", gs_test_tmp("cu_gt"));
    mkdir(pd, 0755), mkdir(gd, 0755);
    for (int k = 0; k < 2; k++) {
        gs_image a, b;
        CHECK_OK(gs_image_alloc(&a, 70, 50, 3));
        CHECK_OK(gs_image_alloc(&b, 70, 50, 4));
        for (int i = 0; i < 70 * 50; i++)
            for (int c = 0; c < 4; c++) {
                if (c < 3) a.data[i * 3 + c] = (float)(hxyc(i % 70, i / 70, c, 3 + k) % 256) / 255.0f;
                b.data[i * 4 + c] = (float)(hxyc(i % 70, i / 70, c, 5 + k) % 256) / 255.0f;
            }
        char n[32];
        snprintf(n, sizeof n, "v%d.png", k);
        CHECK_OK(gs_image_write_png(gs_path_join(p, sizeof p, pd, n), &a, 8));
        CHECK_OK(gs_image_write_png(gs_path_join(p, sizeof p, gd, n), &b, 8)); /* RGBA ground truth */
        gs_image_free(&a), gs_image_free(&b);
    }
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = gs_test_data_dir() != NULL;
    if (o.lpips) o.lpips_weights = gs_test_data("lpips/lpips_alex_v0.1.safetensors");
    gs_eval_report rc, rg;
    o.device = GS_DEVICE_CPU;
    CHECK_OK(gs_eval_dirs(pd, gd, &o, &rc));
    o.device = GS_DEVICE_CUDA;
    CHECK_OK(gs_eval_dirs(pd, gd, &o, &rg));
    CHECK(strncmp(rg.device, "cuda", 4) == 0 && strncmp(rc.device, "cpu", 3) == 0);
    CHECK_EQ_INT(rc.n, 2);
    CHECK_EQ_INT(rg.n, 2);
    for (int i = 0; i < 2 && rc.n == 2 && rg.n == 2; i++) {
        CHECK_NEAR(rg.rows[i].psnr, rc.rows[i].psnr, 1e-9);
        CHECK_NEAR(rg.rows[i].ssim, rc.rows[i].ssim, 1e-12);
        if (o.lpips) CHECK_NEAR(rg.rows[i].lpips, rc.rows[i].lpips, TOL_LPIPS);
    }
    gs_eval_report_free(&rc);
    gs_eval_report_free(&rg);
}

/* gs eval --scene on the GPU: the CUDA rasterizer and the CUDA metrics give
 * the CPU's table up to the rasterizers' float rounding. */
TEST(eval_cuda_scene_evaluation_matches_cpu) {
    NEED_CUDA();
    gs_scene s;
    CHECK_OK(gs_scene_alloc(&s, 64, 0));
    for (int i = 0; i < 64; i++) {
        s.means[3 * i] = (float)(i % 8) * 0.3f - 1.05f;
        s.means[3 * i + 1] = (float)(i / 8) * 0.22f - 0.77f;
        s.means[3 * i + 2] = 4.0f + (float)(i % 5) * 0.3f;
        for (int a = 0; a < 3; a++) s.scales[3 * i + a] = 0.08f + 0.01f * (float)((i + a) % 4);
        s.opacities[i] = 0.4f + 0.5f * (float)(i % 3) / 2.0f;
        for (int c = 0; c < 3; c++) s.sh[3 * i + c] = (float)((i * 7 + c * 3) % 11 - 5) * 0.3f;
    }
    gs_camera cam_list[2];
    memset(cam_list, 0, sizeof cam_list);
    for (int k = 0; k < 2; k++) {
        gs_camera *c = &cam_list[k];
        c->R[0] = c->R[4] = c->R[8] = 1;
        c->fx = c->fy = 90;
        c->cx = 48, c->cy = 40;
        c->width = 96, c->height = 80;
        c->has_pose = 1;
        snprintf(c->name, sizeof c->name, "view%d", k);
    }
    char gd[512], p[1024];
    snprintf(gd, sizeof gd, "%s", gs_test_tmp("cu_scene_gt"));
    mkdir(gd, 0755);
    gs_raster_opts ro;
    gs_raster_opts_default(&ro);
    ro.bg[0] = ro.bg[1] = ro.bg[2] = 1;
    for (int k = 0; k < 2; k++) {
        gs_raster_out r;
        CHECK_OK(gs_render_cpu(&s, &cam_list[k], &ro, &r));
        gs_image im = {r.width, r.height, 3, 8, r.rgb};
        char n[32];
        snprintf(n, sizeof n, "view%d.png", k);
        CHECK_OK(gs_image_write_png(gs_path_join(p, sizeof p, gd, n), &im, 8));
        gs_raster_out_free(&r);
    }
    cam_list[1].t[0] = 0.05; /* one view moved */
    gs_cameras cams = {2, cam_list};
    gs_eval_options o;
    gs_eval_options_default(&o);
    o.lpips = gs_test_data_dir() != NULL;
    if (o.lpips) o.lpips_weights = gs_test_data("lpips/lpips_alex_v0.1.safetensors");
    gs_eval_report rc, rg;
    o.device = GS_DEVICE_CPU;
    CHECK_OK(gs_eval_scene(&s, &cams, gd, &o, NULL, &rc));
    o.device = GS_DEVICE_CUDA;
    CHECK_OK(gs_eval_scene(&s, &cams, gd, &o, NULL, &rg));
    CHECK_STR(rg.render_device, "cuda");
    CHECK_EQ_INT(rc.n, 2);
    CHECK_EQ_INT(rg.n, 2);
    for (int i = 0; i < 2 && rc.n == 2 && rg.n == 2; i++) {
        CHECK_NEAR(rg.rows[i].psnr, rc.rows[i].psnr, 0.01);
        CHECK_NEAR(rg.rows[i].ssim, rc.rows[i].ssim, 1e-4);
        if (o.lpips) CHECK_NEAR(rg.rows[i].lpips, rc.rows[i].lpips, 1e-3);
    }
    if (rg.n == 2) CHECK(rg.rows[1].psnr < rg.rows[0].psnr);
    gs_eval_report_free(&rc);
    gs_eval_report_free(&rg);
    gs_scene_free(&s);
}
