/* test_ops_layer.c - the op layer itself (gs/ops/ops.h): arenas and
 * contexts, dispatch, the ops the network forwards were rewritten onto
 * (broadcast and LayerScale adds, SwiGLU, strided copies, the non-finite
 * search, the unary maps, the head split, patches, the UV embedding, the
 * pose encodings, output batch strides of conv2d), each against a plain
 * reference, and the memory plans of the forwards: a forward runs in
 * exactly its plan and refuses, before writing anything, in one byte less. */
#include "tests/test.h"
#include "tests/test_ops_calls.h"

#include "backbone/vit.h"
#include "gs/model/da3.h"
#include "heads/camera.h"
#include "heads/dpt.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static float *rnd(size_t n, unsigned seed, float scale) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = scale * ((float)(seed >> 8) / (float)(1u << 24) * 2.0f - 1.0f);
    }
    return x;
}

static double max_rel(const float *a, const double *b, size_t n) {
    double md = 0, mb = 1e-30;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs(a[i] - b[i]);
        md = d > md || d != d ? d : md;
        mb = fabs(b[i]) > mb ? fabs(b[i]) : mb;
    }
    return md / mb;
}

TEST(ops_arena_aligns_releases_counts_and_refuses) {
    gs_arena a;
    CHECK_OK(gs_arena_create(&a, GS_DEVICE_CPU, 1000, "test arena"));
    CHECK(a.size == gs_arena_round(1000) && a.size % GS_ARENA_ALIGN == 0);
    unsigned char *p = gs_arena_take(&a, 3, "p"), *q = gs_arena_take(&a, 1, "q");
    CHECK(p && q && (uintptr_t)p % GS_ARENA_ALIGN == 0 && (uintptr_t)q % GS_ARENA_ALIGN == 0 && q == p + 64);
    const size_t m = gs_arena_mark(&a);
    CHECK(gs_arena_take(&a, 500, "r") == q + 64);
    gs_arena_release(&a, m);
    CHECK(gs_arena_take(&a, 1, "s") == q + 64); /* released space is handed out again */
    CHECK(a.peak == 128 + 512);
    CHECK(gs_arena_take(&a, a.size, "too much") == NULL);
    CHECK(strstr(gs_last_error(), "too much") && strstr(gs_last_error(), "do not fit"));
    CHECK(gs_arena_take(&a, SIZE_MAX, "overflow") == NULL);
    gs_arena_destroy(&a);
    CHECK(a.base == NULL && a.size == 0);

    gs_arena c;
    gs_arena_counting(&c);
    CHECK(gs_arena_take(&c, 100, "x") != NULL && gs_arena_floats(&c, 10, "y") != NULL);
    CHECK(c.used == 128 + 64 && c.peak == c.used);
    CHECK(gs_arena_floats(&c, SIZE_MAX / 2, "huge") == NULL);
}

TEST(ops_context_workspace_and_dispatch) {
    gs_arena own, ws;
    gs_ctx c = gs_ctx_cpu(NULL), out;
    CHECK_OK(gs_ctx_with_workspace(&c, 4096, "plan", &out, &own));
    CHECK(out.ws == &own && own.size == 4096);
    gs_arena_destroy(&own);
    CHECK_OK(gs_arena_create(&ws, GS_DEVICE_CPU, 1024, "ws"));
    c.ws = &ws;
    CHECK_OK(gs_ctx_with_workspace(&c, 1024, "plan", &out, &own));
    CHECK(out.ws == &ws && own.base == NULL); /* the caller's workspace, no new arena */
    CHECK_ERR(gs_ctx_with_workspace(&c, 1025, "the test plan", &out, &own), "the test plan");
    gs_arena_destroy(&ws);
    /* an op with too small a workspace fails cleanly instead of writing past it */
    const gs_conv2d_params p = {2, 3, 3, 3, 1, 1, 1, 1, 0};
    float x[2 * 5 * 5] = {0}, w[3 * 2 * 9] = {0}, y[3 * 25];
    const gs_wt wv = gs_wt_f32(w, 4, 3, 2, 3, 3);
    const size_t need = gs_conv2d_workspace(&g_test_cpu, &p, 1, 5, 5);
    CHECK(need >= 2 * 9 * 25 * sizeof(float));
    gs_ctx small = gs_test_ctx(need - GS_ARENA_ALIGN);
    CHECK_ERR(gs_conv2d(&small, &p, x, 1, 5, 5, &wv, NULL, y, 0), "column buffer");
    CHECK_ERR(gs_conv2d(&g_test_cpu, &p, x, 1, 5, 5, &wv, NULL, y, 0), "has none");
    /* no context, another dtype, a mis-shaped view */
    CHECK_ERR(gs_unary(NULL, GS_UNARY_RELU, x, x, 4), "no op context");
    gs_wt bf = wv;
    bf.dtype = GS_BF16;
    CHECK_ERR(gs_linear(&g_test_cpu, x, 1, 18, &bf, NULL, 3, y), "F32 weights, not BF16");
    const gs_wt bad = gs_wt_f32(w, 2, 4, 18, 0, 0);
    CHECK_ERR(gs_linear(&g_test_cpu, x, 1, 18, &bad, NULL, 3, y), "weight is not [3, 18]");
    /* a CUDA context reaches the CUDA backend, which has no kernel for this op */
    gs_ctx cu = gs_ctx_cpu(NULL);
    cu.device = GS_DEVICE_CUDA;
    CHECK(gs_swiglu(&cu, x, 1, 1, y) == GS_ERR_UNSUPPORTED);
    CHECK(strstr(gs_last_error(), "swiglu") != NULL);
}

TEST(ops_adds_swiglu_copies_and_nonfinite_search) {
    const size_t rows = 37, dim = 29;
    float *y = rnd(rows * dim, 1, 1.0f), *x = rnd(dim, 2, 1.0f), *r = rnd(rows * dim, 3, 1.0f);
    float *g = rnd(dim, 4, 1.0f), *y0 = malloc(rows * dim * sizeof *y0);
    double *ref = malloc(rows * dim * 2 * sizeof *ref);
    memcpy(y0, y, rows * dim * sizeof *y0);
    CHECK_OK(gs_add(&g_test_cpu, y, x, dim, rows)); /* broadcast over rows */
    for (size_t i = 0; i < rows * dim; i++) ref[i] = (double)y0[i] + x[i % dim];
    CHECK(max_rel(y, ref, rows * dim) < 1e-7);
    memcpy(y, y0, rows * dim * sizeof *y);
    CHECK_OK(gs_add_scaled(&g_test_cpu, y, r, g, rows, (int)dim));
    for (size_t i = 0; i < rows * dim; i++) ref[i] = (double)y0[i] + (double)r[i] * g[i % dim];
    CHECK(max_rel(y, ref, rows * dim) < 1e-6);
    /* SwiGLU: y = silu(a) * b over [rows, 2 dim] */
    float *ab = rnd(rows * 2 * dim, 5, 4.0f), *o = malloc(rows * dim * sizeof *o);
    CHECK_OK(gs_swiglu(&g_test_cpu, ab, rows, (int)dim, o));
    for (size_t t = 0; t < rows; t++)
        for (size_t j = 0; j < dim; j++) {
            const double a = ab[t * 2 * dim + j], b = ab[t * 2 * dim + dim + j];
            ref[t * dim + j] = a / (1 + exp(-a)) * b;
        }
    CHECK(max_rel(o, ref, rows * dim) < 1e-6);
    /* strided copy into columns 3..8 of a 13-wide block, and a repeated row */
    float *dst = calloc(rows * 13, sizeof *dst);
    CHECK_OK(gs_copy2d(&g_test_cpu, dst + 3, 13, r, dim, rows, 6));
    int ok = 1;
    for (size_t t = 0; t < rows; t++)
        for (size_t j = 0; j < 13; j++) ok &= dst[t * 13 + j] == (j >= 3 && j < 9 ? r[t * dim + j - 3] : 0.0f);
    CHECK(ok);
    CHECK_OK(gs_copy2d(&g_test_cpu, dst, 13, x, 0, rows, 13));
    for (size_t t = 0; t < rows; t++) ok &= !memcmp(dst + t * 13, x, 13 * sizeof *x);
    CHECK(ok);
    CHECK_ERR(gs_copy2d(&g_test_cpu, dst, 5, x, 0, 2, 6), "copy2d");
    /* the first non-finite element, or n */
    size_t at = 0;
    CHECK_OK(gs_find_nonfinite(&g_test_cpu, r, rows * dim, &at));
    CHECK(at == rows * dim);
    r[700] = INFINITY, r[900] = NAN;
    CHECK_OK(gs_find_nonfinite(&g_test_cpu, r, rows * dim, &at));
    CHECK(at == 700);
    r[700] = 0;
    CHECK_OK(gs_find_nonfinite(&g_test_cpu, r, rows * dim, &at));
    CHECK(at == 900);
    free(y), free(x), free(r), free(g), free(y0), free(ref), free(ab), free(o), free(dst);
}

TEST(ops_unary_maps_match_their_formulas) {
    const size_t n = 70001; /* over the threading threshold, odd */
    float *x = rnd(n, 7, 12.0f), *y = malloc(n * sizeof *y);
    double *ref = malloc(n * sizeof *ref);
    for (int f = GS_UNARY_RELU; f <= GS_UNARY_EXP_PLUS1; f++) {
        CHECK_OK(gs_unary(&g_test_cpu, (gs_unary_kind)f, x, y, n));
        for (size_t i = 0; i < n; i++) {
            const double v = x[i];
            ref[i] = f == GS_UNARY_RELU ? (v > 0 ? v : 0)
                     : f == GS_UNARY_GELU ? 0.5 * v * (1 + erf(v / sqrt(2.0)))
                     : f == GS_UNARY_SILU ? v / (1 + exp(-v))
                     : f == GS_UNARY_SIGMOID ? 1 / (1 + exp(-v))
                     : f == GS_UNARY_EXP ? exp(v) : exp(v) + 1;
        }
        double worst = 0;
        /* GELU on AVX2 is torch's vectorised erf (Abramowitz-Stegun 7.1.26,
         * |error| <= 1.5e-7): measured against the exact erf in absolute
         * terms below 1 */
        const double floor_ = f == GS_UNARY_GELU ? 1.0 : 1e-3;
        for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(y[i] - ref[i]) / fmax(fabs(ref[i]), floor_));
        if (!(worst < 2e-6)) printf("    unary %d: worst relative error %.3g\n", f, worst);
        CHECK(worst < 2e-6);
    }
    memcpy(y, x, n * sizeof *y);
    CHECK_OK(gs_unary(&g_test_cpu, GS_UNARY_EXP_PLUS1, y, y, n)); /* in place */
    CHECK(fabsf(y[5] - (expf(x[5]) + 1.0f)) <= 1e-6f * (expf(x[5]) + 1.0f));
    CHECK_ERR(gs_unary(&g_test_cpu, (gs_unary_kind)99, x, y, n), "unknown function");
    free(x), free(y), free(ref);
}

TEST(ops_split_heads_and_patchify) {
    const int T = 11, heads = 3, hd = 4, n = 2 * T, C = heads * hd;
    float *qkv = rnd((size_t)T * 3 * C, 9, 1.0f), *q = calloc((size_t)heads * n * hd, 4 * 3);
    float *k = q + (size_t)heads * n * hd, *v = k + (size_t)heads * n * hd;
    CHECK_OK(gs_split_heads(&g_test_cpu, qkv, T, heads, hd, n, T, q, k, v)); /* the second view's rows */
    int ok = 1;
    for (int t = 0; t < T; t++)
        for (int h = 0; h < heads; h++)
            for (int d = 0; d < hd; d++) {
                const size_t o = ((size_t)h * n + T + t) * hd + d, s = (size_t)t * 3 * C + (size_t)h * hd + d;
                ok &= q[o] == qkv[s] && k[o] == qkv[s + C] && v[o] == qkv[s + 2 * C];
                ok &= q[((size_t)h * n + t) * hd + d] == 0.0f; /* the first view's rows untouched */
            }
    CHECK(ok);
    CHECK_ERR(gs_split_heads(&g_test_cpu, qkv, T, heads, hd, n, T + 1, q, k, v), "split_heads");
    /* patches + linear == a stride-p p x p convolution (the patch embedding) */
    const int p = 3, H = 6, W = 9, P = (H / p) * (W / p), O = 5, K = 3 * p * p;
    float *img = rnd((size_t)3 * H * W, 10, 1.0f), *wt = rnd((size_t)O * K, 11, 1.0f), *b = rnd(O, 12, 1.0f);
    float *col = malloc((size_t)P * K * sizeof *col), *tok = malloc((size_t)P * O * sizeof *tok);
    float *map = malloc((size_t)P * O * sizeof *map);
    CHECK_OK(gs_patchify(&g_test_cpu, img, H, W, p, col));
    CHECK_OK(t_linear(col, (size_t)P, K, wt, b, O, tok));
    const gs_conv2d_params cp = {3, O, p, p, p, p, 0, 0, 0};
    CHECK_OK(t_conv2d(&cp, img, 1, H, W, wt, b, map, 0));
    double worst = 0;
    for (int t = 0; t < P; t++)
        for (int o = 0; o < O; o++) worst = fmax(worst, fabs(tok[t * O + o] - map[o * P + t]));
    CHECK(worst < 1e-5);
    CHECK_ERR(gs_patchify(&g_test_cpu, img, H, W + 1, p, col), "multiple");
    free(qkv), free(q), free(img), free(wt), free(b), free(col), free(tok), free(map);
}

TEST(ops_conv2d_writes_at_an_output_batch_stride) {
    const gs_conv2d_params p = {3, 4, 3, 3, 2, 2, 1, 1, 0};
    const int n = 3, h = 9, w = 7, ho = 5, wo = 4;
    const size_t one = (size_t)4 * ho * wo, stride = 2 * one + 5;
    float *x = rnd((size_t)n * 3 * h * w, 13, 1.0f), *wt = rnd(4 * 3 * 9, 14, 1.0f), *b = rnd(4, 15, 1.0f);
    float *dense = malloc((size_t)n * one * sizeof *dense), *sparse = malloc((size_t)n * stride * sizeof *sparse);
    for (size_t i = 0; i < (size_t)n * stride; i++) sparse[i] = -7.0f;
    CHECK_OK(t_conv2d(&p, x, n, h, w, wt, b, dense, 1));
    gs_conv2d_params ps = p;
    ps.y_batch = stride;
    CHECK_OK(t_conv2d(&ps, x, n, h, w, wt, b, sparse, 1));
    int ok = 1;
    for (int i = 0; i < n; i++) {
        ok &= !memcmp(sparse + i * stride, dense + i * one, one * sizeof *dense);
        for (size_t j = one; j < stride && i < n - 1; j++) ok &= sparse[i * stride + j] == -7.0f; /* gaps untouched */
    }
    CHECK(ok);
    ps.y_batch = one - 1;
    CHECK_ERR(t_conv2d(&ps, x, n, h, w, wt, b, sparse, 1), "batch stride");
    free(x), free(wt), free(b), free(dense), free(sparse);
}

/* head_utils.py's create_uv_grid + position_grid_to_embed, in double */
TEST(ops_uv_embedding_matches_definition) {
    const int ch = 16, hh = 5, ww = 7, H = 28, W = 42, q = ch / 4;
    float *pe = malloc((size_t)ch * hh * ww * sizeof *pe);
    const gs_ctx c = gs_test_ctx(gs_uv_embed_workspace(&g_test_cpu, ch, hh, ww));
    CHECK_OK(gs_uv_embed(&c, pe, ch, hh, ww, H, W));
    const double ar = (double)W / H, diag = sqrt(ar * ar + 1), sx = ar / diag, sy = 1 / diag;
    double worst = 0;
    for (int i = 0; i < hh; i++)
        for (int j = 0; j < ww; j++) {
            const double u = -sx * (ww - 1) / ww + 2 * sx * (ww - 1) / ww * j / (ww - 1);
            const double v = -sy * (hh - 1) / hh + 2 * sy * (hh - 1) / hh * i / (hh - 1);
            for (int k = 0; k < q; k++) {
                const double om = 1 / pow(100.0, (double)k / q), hw = (double)hh * ww;
                const double want[4] = {sin(u * om), cos(u * om), sin(v * om), cos(v * om)};
                for (int blk = 0; blk < 4; blk++)
                    worst = fmax(worst, fabs(pe[(size_t)((blk * q + k) * hw) + i * ww + j] - 0.1 * want[blk]));
            }
        }
    CHECK(worst < 1e-6);
    CHECK_ERR(gs_uv_embed(&c, pe, 6, hh, ww, H, W), "uv_embed");
    free(pe);
}

TEST(ops_pose_encoding_round_trip) {
    /* w2c of a rotation about a tilted axis and a translation; K with
     * different focal lengths: encode then decode gives them back */
    const int S = 2, H = 28, W = 42;
    float w2c[2 * 16] = {0}, K[2 * 9] = {0}, pose[2 * 9], e[2 * 12], k2[2 * 9];
    for (int s = 0; s < S; s++) {
        const double a = 0.3 + s, ax[3] = {0.48, 0.6, 0.64}; /* unit axis */
        double R[9];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                const double skew[9] = {0, -ax[2], ax[1], ax[2], 0, -ax[0], -ax[1], ax[0], 0};
                R[i * 3 + j] = (i == j) * cos(a) + sin(a) * skew[i * 3 + j] + (1 - cos(a)) * ax[i] * ax[j];
            }
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) w2c[s * 16 + i * 4 + j] = (float)R[i * 3 + j];
            w2c[s * 16 + i * 4 + 3] = 0.5f * (float)(i + s) - 0.2f;
        }
        w2c[s * 16 + 15] = 1;
        K[s * 9 + 0] = 30.0f + s, K[s * 9 + 4] = 25.0f, K[s * 9 + 2] = W / 2.0f, K[s * 9 + 5] = H / 2.0f, K[s * 9 + 8] = 1;
    }
    CHECK_OK(gs_pose_encode(&g_test_cpu, w2c, K, S, H, W, pose));
    CHECK_OK(gs_pose_decode(&g_test_cpu, pose, S, H, W, e, k2));
    double worst = 0;
    for (int s = 0; s < S; s++) {
        for (int i = 0; i < 12; i++) worst = fmax(worst, fabs(e[s * 12 + i] - w2c[s * 16 + i]));
        for (int i = 0; i < 9; i++) worst = fmax(worst, fabs(k2[s * 9 + i] - K[s * 9 + i]) / 30.0);
    }
    CHECK(worst < 1e-5);
    K[9] = 0;
    CHECK_ERR(gs_pose_encode(&g_test_cpu, w2c, K, S, H, W, pose), "view 1: focal lengths");
    memset(pose + 3, 0, 4 * sizeof *pose); /* a zero quaternion */
    CHECK_ERR(gs_pose_decode(&g_test_cpu, pose, S, H, W, e, k2), "degenerate");
}

TEST(ops_transpose_and_channel_layernorm) {
    const int n = 2, rows = 37, cols = 45; /* over one 32-block in both directions */
    float *x = rnd((size_t)n * rows * cols, 41, 1.0f), *y = malloc((size_t)n * rows * cols * sizeof *y);
    CHECK_OK(gs_transpose(&g_test_cpu, x, n, rows, cols, y));
    int ok = 1;
    for (int b = 0; b < n; b++)
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                ok &= y[((size_t)b * cols + c) * rows + r] == x[((size_t)b * rows + r) * cols + c];
    CHECK(ok);
    CHECK_ERR(gs_transpose(&g_test_cpu, x, n, rows, cols, x), "transpose");
    /* LayerNorm over the channels of every pixel, against a double loop */
    const int ch = 32;
    const size_t hw = 300;
    float *m = rnd((size_t)n * ch * hw, 42, 3.0f), *w = rnd(ch, 43, 1.0f), *bb = rnd(ch, 44, 1.0f);
    double *ref = malloc((size_t)n * ch * hw * sizeof *ref);
    for (int b = 0; b < n; b++)
        for (size_t p = 0; p < hw; p++) {
            double mean = 0, var = 0;
            for (int c = 0; c < ch; c++) mean += m[((size_t)b * ch + c) * hw + p];
            mean /= ch;
            for (int c = 0; c < ch; c++) var += pow(m[((size_t)b * ch + c) * hw + p] - mean, 2);
            var /= ch;
            for (int c = 0; c < ch; c++)
                ref[((size_t)b * ch + c) * hw + p] =
                    (m[((size_t)b * ch + c) * hw + p] - mean) / sqrt(var + 1e-5) * w[c] + bb[c];
        }
    gs_ctx c = gs_test_ctx(gs_layernorm_channels_workspace(&g_test_cpu, ch));
    CHECK_OK(gs_layernorm_channels(&c, m, n, ch, hw, w, bb, 1e-5f));
    CHECK(max_rel(m, ref, (size_t)n * ch * hw) < 1e-6);
    c = gs_test_ctx(gs_layernorm_channels_workspace(&g_test_cpu, ch) - GS_ARENA_ALIGN);
    CHECK_ERR(gs_layernorm_channels(&c, m, n, ch, hw, w, bb, 1e-5f), "layernorm_channels buffers");
    free(x), free(y), free(m), free(w), free(bb), free(ref);
}

TEST(ops_scale_masks_quantile_and_metric_sums) {
    const size_t n = 1001;
    float *x = rnd(2 * n, 51, 5.0f), *x0 = malloc(2 * n * sizeof *x0);
    memcpy(x0, x, 2 * n * sizeof *x0);
    const double s[2] = {0.3, 7.0 / 3.0};
    CHECK_OK(gs_scale(&g_test_cpu, x, n, 2, s, 0));
    int ok = 1;
    for (size_t i = 0; i < 2 * n; i++) ok &= x[i] == (float)((double)x0[i] * s[i / n]);
    CHECK(ok);
    memcpy(x, x0, 2 * n * sizeof *x);
    CHECK_OK(gs_scale(&g_test_cpu, x, n, 2, s, 1));
    for (size_t i = 0; i < 2 * n; i++) ok &= x[i] == (float)((double)x0[i] / s[i / n]);
    CHECK(ok);
    /* masks, fill and a masked quantile against sorting by hand */
    unsigned char *mask = malloc(n);
    size_t cnt = 0;
    CHECK_OK(gs_mask_below(&g_test_cpu, x0, n, 1.0f, mask, &cnt));
    size_t want = 0;
    for (size_t i = 0; i < n; i++) want += x0[i] < 1.0f, ok &= mask[i] == (x0[i] < 1.0f);
    CHECK(ok && cnt == want && cnt > 100 && cnt < n);
    float *sel = malloc(n * sizeof *sel);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (mask[i]) sel[k++] = x0[i];
    for (size_t i = 1; i < k; i++) /* insertion sort: plain, independent of the op's qsort */
        for (size_t j = i; j > 0 && sel[j - 1] > sel[j]; j--) {
            const float t = sel[j];
            sel[j] = sel[j - 1], sel[j - 1] = t;
        }
    const double pos = 0.9 * (double)(k - 1);
    const size_t lo = (size_t)pos;
    const float frac = (float)(pos - (double)lo), qw = sel[lo] + frac * (sel[lo + 1] - sel[lo]);
    float q = 0;
    gs_ctx c = gs_test_ctx(gs_quantile_workspace(&g_test_cpu, n));
    CHECK_OK(gs_quantile(&c, x0, mask, n, 0.9, &q));
    CHECK(q == qw);
    CHECK_OK(gs_quantile(&c, x0, NULL, n, 0.0, &q));
    float mn = x0[0];
    for (size_t i = 1; i < n; i++) mn = x0[i] < mn ? x0[i] : mn;
    CHECK(q == mn);
    memset(mask, 0, n);
    CHECK_ERR(gs_quantile(&c, x0, mask, n, 0.5, &q), "empty set");
    CHECK_ERR(gs_quantile(&c, x0, NULL, n, 1.5, &q), "quantile");
    mask[3] = 1;
    memcpy(x, x0, n * sizeof *x);
    CHECK_OK(gs_fill_unmasked(&g_test_cpu, x, mask, n, -2.0f));
    for (size_t i = 0; i < n; i++) ok &= x[i] == (i == 3 ? x0[3] : -2.0f);
    CHECK(ok);
    /* first element outside a range */
    size_t at = 0;
    CHECK_OK(gs_find_outside(&g_test_cpu, x0, n, -5.0f, 5.0f, &at));
    CHECK(at == n);
    CHECK_OK(gs_find_outside(&g_test_cpu, x0, n, -5.0f, 0.0f, &at));
    CHECK(at < n && x0[at] > 0.0f);
    for (size_t i = 0; i < at; i++) ok &= x0[i] <= 0.0f;
    CHECK(ok);
    /* the nested metric-scale sums over the selected pixels */
    float *metric = rnd(n, 52, 2.0f), *depth = rnd(n, 53, 2.0f), *conf = rnd(n, 54, 1.0f);
    for (size_t i = 0; i < n; i++) mask[i] = i % 3 != 0;
    double num = 0, den = 0, wn = 0, wd = 0;
    CHECK_OK(gs_metric_scale_sums(&g_test_cpu, metric, depth, conf, 0.1f, mask, n, &num, &den));
    for (size_t i = 0; i < n; i++)
        if (conf[i] >= 0.1f && mask[i] && metric[i] > 0.01f && depth[i] > 1e-3f)
            wn += (double)metric[i] * depth[i], wd += (double)depth[i] * depth[i];
    CHECK(num == wn && den == wd && wd > 0);
    free(x), free(x0), free(mask), free(sel), free(metric), free(depth), free(conf);
}

/* ---- memory plans of the forwards --------------------------------------------- */

static float *finite_images(int S, int H, int W) { return rnd((size_t)S * 3 * H * W, 31, 1.5f); }

TEST(ops_backbone_runs_in_exactly_its_plan) {
    gs_da3_model m;
    if (gs_da3_load(&m, "tests/golden/da3/tiny-anyview", NULL) != GS_OK) {
        CHECK(0 && "tests/golden/da3/tiny-anyview is tracked and must load");
        return;
    }
    const int S = 3, H = 28, W = 42;
    float *x = finite_images(S, H, W);
    const size_t plan = gs_vit_plan(&g_test_cpu, &m.net.vit, S, H, W);
    CHECK(plan > 0);
    CHECK(gs_vit_plan(&g_test_cpu, &m.net.vit, S, H, W + 1) == 0);
    gs_vit_out o;
    gs_ctx exact = gs_test_ctx(plan);
    CHECK_OK(gs_vit_forward(&exact, &m.net.vit, x, S, H, W, NULL, GS_REF_SADDLE_BALANCED, NULL, &o));
    CHECK(exact.ws && exact.ws->peak <= plan && exact.ws->used == 0);
    const float f0 = o.feat[3][17];
    gs_vit_out_free(&o);
    gs_ctx less = gs_test_ctx(plan - GS_ARENA_ALIGN);
    CHECK_ERR(gs_vit_forward(&less, &m.net.vit, x, S, H, W, NULL, GS_REF_SADDLE_BALANCED, NULL, &o), "fit");
    CHECK(o.feat[0] == NULL);
    /* without a workspace the forward makes its own: the same numbers */
    CHECK_OK(gs_vit_forward(&g_test_cpu, &m.net.vit, x, S, H, W, NULL, GS_REF_SADDLE_BALANCED, NULL, &o));
    CHECK(o.feat[3][17] == f0);
    gs_vit_out_free(&o);
    free(x);
    gs_da3_free(&m);
}

/* The depth head (and the 3DGS head of tiny-giant) in exactly its plan, for
 * every output set; one alignment step less is refused before any output. */
static void head_in_plan(const char *model, int gs, int ray, int dump) {
    gs_da3_model m;
    if (gs_da3_load(&m, model, NULL) != GS_OK) {
        CHECK(0 && "tracked tiny model must load");
        return;
    }
    const int S = 2, H = 28, W = 42;
    const size_t HW = (size_t)H * W;
    float *x = finite_images(S, H, W);
    gs_vit_out vo;
    CHECK_OK(gs_vit_forward(&g_test_cpu, &m.net.vit, x, S, H, W, NULL, GS_REF_FIRST, NULL, &vo));
    const float *f[4] = {vo.feat[0], vo.feat[1], vo.feat[2], vo.feat[3]};
    gs_dpt_head *h = gs ? &m.net.gs_head : &m.net.head;
    float *a = calloc((size_t)S * HW * 40, sizeof *a), *b = calloc((size_t)S * HW * 40, sizeof *b);
    float *c = calloc((size_t)S * HW * 40, sizeof *c);
    gs_dpt_outputs out = {0};
    if (gs) out.gs_raw = a, out.gs_conf = b;
    else if (h->p.kind == GS_DPT_DUAL) out.depth = a, out.depth_conf = b, out.ray = ray ? c : NULL,
                                       out.ray_conf = ray ? c + (size_t)S * HW * 30 : NULL;
    else out.depth = a, out.sky = b;
    const size_t plan = gs_dpt_plan(&g_test_cpu, h, S, H, W, ray, dump);
    CHECK(plan > 0);
    gs_ctx exact = gs_test_ctx(plan);
    CHECK_OK(gs_dpt_forward(&exact, h, f, S, H, W, x, &out, NULL));
    CHECK(exact.ws && exact.ws->peak <= plan);
    const float a0 = a[HW + 5];
    CHECK(a0 != 0.0f && isfinite(a0));
    memset(a, 0, (size_t)S * HW * sizeof *a);
    gs_ctx less = gs_test_ctx(plan - GS_ARENA_ALIGN);
    CHECK_ERR(gs_dpt_forward(&less, h, f, S, H, W, x, &out, NULL), "fit");
    CHECK(a[0] == 0.0f); /* refused before the first view's output */
    free(a), free(b), free(c), free(x);
    gs_vit_out_free(&vo);
    gs_da3_free(&m);
}

TEST(ops_heads_run_in_exactly_their_plans) {
    head_in_plan("tests/golden/da3/tiny-anyview", 0, 0, 0);   /* DualDPT, depth + conf */
    head_in_plan("tests/golden/da3/tiny-anyview", 0, 1, 0);   /* ... and the ray chain */
    head_in_plan("tests/golden/da3/tiny-mono", 0, 0, 0);      /* DPT with the sky head */
    head_in_plan("tests/golden/da3/tiny-giant", 1, 0, 0);     /* GSDPT with the images merger */
}

TEST(ops_model_forward_reports_and_needs_its_workspace) {
    gs_da3_model m;
    if (gs_da3_load(&m, "tests/golden/da3/tiny-giant", NULL) != GS_OK) {
        CHECK(0 && "tests/golden/da3/tiny-giant is tracked and must load");
        return;
    }
    const int S = 2, H = 28, W = 42;
    float *x = finite_images(S, H, W);
    gs_da3_options o;
    gs_da3_options_default(&o);
    o.infer_gs = 1;
    const size_t plan = gs_da3_workspace(&m, S, H, W, 0, &o);
    gs_da3_prediction p;
    CHECK_OK(gs_da3_forward(&m, x, S, H, W, NULL, NULL, &o, &p));
    CHECK(p.workspace_bytes == plan && plan > 0 && p.gaussians.n == (int64_t)S * H * W);
    /* the largest module's plan: at least the backbone's and the 3DGS head's */
    CHECK(plan >= gs_vit_plan(&m.ctx, &m.net.vit, S, H, W));
    CHECK(plan >= gs_dpt_plan(&m.ctx, &m.net.gs_head, S, H, W, 0, 0));
    gs_da3_prediction_free(&p);
    /* a forward whose plan cannot be had is refused before anything runs:
     * 28672 x 28672 views plan far beyond the 16 GiB bound, and the input
     * (a few floats here) is never read */
    CHECK_ERR(gs_da3_forward(&m, x, 1, 14 * 2048, 14 * 2048, NULL, NULL, &o, &p), "allocation bound");
    CHECK(strstr(gs_last_error(), "1 view of 28672x28672") != NULL);
    CHECK(p.depth == NULL);
    free(x);
    gs_da3_free(&m);
}
