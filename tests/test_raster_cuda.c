/* test_raster_cuda.c - the CUDA rasterizer against the CPU reference on random
 * scenes (including many overlapping tiny splats) and on a real scene, plus
 * its error paths. Skipped without a usable GPU; the no-CUDA paths are
 * checked everywhere.
 *
 * Tolerance. Both renderers run the same projection source (raster_math.h)
 * and the same blending rule, and the CUDA blending avoids fused multiply-adds
 * (__fmul_rn/__fadd_rn), but nvcc contracts the projection's multiply-adds and
 * CUDA's expf differs from glibc's by an ulp or two. A contracted mean moves
 * by about an ulp of the pixel coordinate (3e-5 px at x ~ 300) and a conic by
 * ~1e-7 relative, which changes a splat's alpha by ~1e-5 relative; with
 * colours up to ~2 and a few splats per pixel, values agree to a few 1e-5.
 * Where a splat sits exactly at one of the thresholds (alpha >= 1/255, the
 * 1e-4 transmittance stop, a depth tie that flips the order) a pixel can
 * differ by that splat's whole contribution; such pixels are rare. So: mean
 * |difference| <= 1e-5 per channel; at most 0.5% of pixels with any channel
 * (or alpha) off by more than 1e-4; depth within 1e-4 relative where alpha >
 * 0.5 (same allowance); invalid counts equal and visible counts within 0.1%
 * (the culling thresholds can flip the same way). Emulating the contraction
 * on the CPU (raster_cpu.c built with gcc -mfma -ffp-contract=fast, blending
 * contracted too) on these scenes gave mean <= 6.3e-7 and at most 0.09% of
 * pixels beyond 1e-4 (max 4.8e-3). Setting -fmad=false for raster_cuda.cu
 * would bring the projection to the CPU's rounding as well. */
#include "tests/test_scenes.h"
#include "gs/core/device.h"
#include "raster/raster.h"
#include "raster/trajectory.h"

#include <stdlib.h>

static uint64_t rs = 0x9E3779B97F4A7C15ull;
static float frand(void) { return test_frand(&rs); }

static gs_camera cam_at(int w, int h, double f) { /* off-centre principal point */
    gs_camera c = test_pinhole(w, h, f);
    c.cx += 3.3;
    c.cy -= 2.1;
    return c;
}

static void random_scene(gs_scene *s, int n, int deg, float scale_mul) {
    CHECK_OK(gs_scene_alloc(s, n, deg));
    int k = gs_sh_coeffs(deg) * 3;
    for (int i = 0; i < n; i++) {
        float *m = s->means + 3 * i, *sc = s->scales + 3 * i, *q = s->rotations + 4 * i;
        m[0] = frand() * 2 - 1; m[1] = frand() * 2 - 1; m[2] = 3 + 4 * frand();
        for (int j = 0; j < 3; j++) sc[j] = scale_mul * (0.01f + 0.1f * frand());
        for (int j = 0; j < 4; j++) q[j] = frand() - 0.5f;
        s->opacities[i] = 0.05f + 0.9f * frand();
        for (int j = 0; j < k; j++) s->sh[(size_t)i * k + j] = j < 3 ? 2 * frand() - 1 : 0.3f * (frand() - 0.5f);
    }
}

static void compare(const gs_scene *s, const gs_camera *cam, const gs_raster_opts *o, const char *what) {
    gs_raster_cuda *c = NULL;
    CHECK_OK(gs_raster_cuda_new(&c));
    if (!c) return;
    CHECK_OK(gs_raster_cuda_set_scene(c, s));
    gs_raster_out a, b;
    CHECK_OK(gs_render_cpu(s, cam, o, &a));
    CHECK_OK(gs_render_cuda(c, cam, o, &b));
    gs_raster_out_free(&b);
    CHECK_OK(gs_render_cuda(c, cam, o, &b)); /* a second frame reuses the device buffers */
    gs_raster_diff d;
    gs_status ds = b.rgb ? gs_raster_out_diff(&a, &b, &d) : GS_ERR_INVALID;
    CHECK_MSG(!ds || !b.rgb, "%s: %s", what, gs_last_error());
    if (ds) { gs_raster_out_free(&a); gs_raster_out_free(&b); gs_raster_cuda_free(c); return; }
    size_t np = (size_t)a.width * a.height, bad_depth = 0;
    for (size_t i = 0; i < np; i++)
        if (a.alpha[i] > 0.5f) bad_depth += fabs(a.depth[i] - b.depth[i]) > 1e-4 * fabs(a.depth[i]);
    CHECK_MSG(d.mean_abs <= 1e-5, "%s: mean |cpu - cuda| %.3g", what, d.mean_abs);
    CHECK_MSG(d.pixels_off <= (int64_t)(np / 200), "%s: %lld of %zu pixels differ by more than 1e-4 (max %.3g)", what,
              (long long)d.pixels_off, np, d.max_abs);
    CHECK_MSG(bad_depth <= np / 200, "%s: %zu pixels' depth differs by more than 1e-4 relative", what, bad_depth);
    CHECK_EQ_INT(a.n_invalid, b.n_invalid);
    CHECK_MSG(llabs(a.n_visible - b.n_visible) <= a.n_visible / 1000, "%s: visible %lld (cpu) vs %lld (cuda)", what,
              (long long)a.n_visible, (long long)b.n_visible);
    /* the same tile test (gs_tile_row_span) bins both; only contracted projection arithmetic moves a boundary tile */
    CHECK_MSG(llabs(a.n_intersections - b.n_intersections) <= a.n_intersections / 1000 + 2,
              "%s: tile pairs %lld (cpu) vs %lld (cuda)", what, (long long)a.n_intersections,
              (long long)b.n_intersections);
    if (getenv("GS_TEST_VERBOSE"))
        fprintf(stderr, "%s: PSNR %.1f dB, mean %.3g max %.3g, %lld/%zu pixels > 1e-4; pairs cpu %lld cuda %lld\n",
                what, d.psnr_db, d.mean_abs, d.max_abs, (long long)d.pixels_off, np, (long long)a.n_intersections,
                (long long)b.n_intersections);
    gs_raster_out_free(&a);
    gs_raster_out_free(&b);
    gs_raster_cuda_free(c);
}

TEST(raster_cuda_matches_cpu_on_random_scenes) {
    NEED_CUDA();
    gs_raster_opts o;
    gs_raster_opts_default(&o);
    o.bg[0] = 0.1f; o.bg[1] = 0.5f; o.bg[2] = 0.9f;
    gs_camera cam = cam_at(203, 157, 180); /* not a multiple of 16, off-centre principal point */
    gs_scene s;
    random_scene(&s, 4000, 3, 1.0f);
    compare(&s, &cam, &o, "random deg 3");
    o.antialiased = 1;
    compare(&s, &cam, &o, "random deg 3 antialiased");
    o.antialiased = 0;
    gs_scene_free(&s);
    /* 200k overlapping tiny splats (the per-pixel workload): most cover a few pixels */
    random_scene(&s, 200000, 2, 0.05f);
    compare(&s, &cam, &o, "tiny");
    o.sh_degree = 0;
    compare(&s, &cam, &o, "tiny SH 0");
    gs_scene_free(&s);
    /* an empty scene is background */
    CHECK_OK(gs_scene_alloc(&s, 0, 0));
    compare(&s, &cam, &o, "empty");
    gs_scene_free(&s);
}

TEST(raster_cuda_matches_cpu_on_a_real_scene) {
    NEED_CUDA();
    REQUIRE_DATA();
    const char *files[] = {"splats/guitar.compressed.ply", "splats/biker.spz"};
    for (int f = 0; f < 2; f++) {
        gs_scene s;
        CHECK_OK(gs_scene_read(gs_test_data(files[f]), &s, NULL));
        gs_cameras path;
        CHECK_OK(gs_orbit_path(&s, NULL, 2, 320, 240, &path));
        gs_raster_opts o;
        gs_raster_opts_default(&o);
        for (int i = 0; i < path.n; i++) compare(&s, &path.cams[i], &o, files[f]);
        gs_cameras_free(&path);
        gs_scene_free(&s);
    }
}

TEST(raster_cuda_bad_inputs) {
    gs_raster_cuda *c = NULL;
    if (gs_cuda_device_count() > 0) /* the no-GPU paths too, in a run that sees none */
        gs_test_rerun_without_gpu(__FILE__, __LINE__, "raster_cuda_bad_inputs");
    else { /* the paths every machine without a GPU takes */
        CHECK_ERR(gs_raster_cuda_new(&c), gs_cuda_compiled() ? "no usable CUDA device" : "no CUDA support");
        CHECK(c == NULL);
        gs_raster_cuda_free(NULL);
        gs_raster_cuda_stats st;
        gs_raster_cuda_get_stats(NULL, &st);
        CHECK_EQ_INT(st.peak_bytes, 0);
        return;
    }
    CHECK_OK(gs_raster_cuda_new(&c));
    gs_camera cam = cam_at(64, 48, 60);
    gs_raster_out r;
    CHECK_ERR(gs_render_cuda(c, &cam, NULL, &r), "no scene");
    gs_scene s;
    random_scene(&s, 100, 0, 1.0f);
    CHECK_OK(gs_raster_cuda_set_scene(c, &s));
    gs_camera z = cam_at(0, 0, 60);
    CHECK_ERR(gs_render_cuda(c, &z, NULL, &r), "image size");
    gs_camera f0 = cam_at(10, 10, 0);
    CHECK_ERR(gs_render_cuda(c, &f0, NULL, &r), "intrinsics");
    /* invalid splats are skipped and counted, as on the CPU */
    s.scales[0] = -1;
    s.means[3] = NAN;
    s.rotations[8] = s.rotations[9] = s.rotations[10] = s.rotations[11] = 0;
    CHECK_OK(gs_raster_cuda_set_scene(c, &s));
    CHECK_OK(gs_render_cuda(c, &cam, NULL, &r));
    CHECK_EQ_INT(r.n_invalid, 3);
    gs_raster_out_free(&r);
    /* out == NULL renders without copying back; stats report the frame */
    CHECK_OK(gs_render_cuda(c, &cam, NULL, NULL));
    gs_raster_cuda_stats st;
    gs_raster_cuda_get_stats(c, &st);
    CHECK(st.render_ms > 0);
    CHECK(st.peak_bytes >= st.scene_bytes && st.scene_bytes > 0);
    CHECK_EQ_INT(st.n_invalid, 3);
    gs_raster_cuda_free(c);
    gs_scene_free(&s);
}
