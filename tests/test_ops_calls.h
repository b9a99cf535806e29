/* test_ops_calls.h - the op tests' calls: each op of gs/ops/ops.h on a CPU
 * context whose workspace is exactly what the op's workspace query asks for,
 * and weights as F32 views of plain arrays. */
#ifndef GS_TEST_OPS_CALLS_H
#define GS_TEST_OPS_CALLS_H

#include "tests/test.h"

static inline gs_status t_conv2d(const gs_conv2d_params *p, const float *x, int n, int h, int w, const float *wt,
                                 const float *b, float *y, int relu) {
    const gs_ctx c = gs_test_ctx(gs_conv2d_workspace(&g_test_cpu, p, n, h, w));
    const gs_wt v = gs_wt_f32(wt, 4, p->c_out, p->c_in, p->kh, p->kw);
    return gs_conv2d(&c, p, x, n, h, w, &v, b, y, relu);
}

static inline gs_status t_conv_transpose2d(const float *x, int n, int cin, int h, int w, const float *wt,
                                           const float *b, int cout, int k, float *y) {
    const gs_ctx c = gs_test_ctx(gs_conv_transpose2d_workspace(&g_test_cpu, cin, h, w, cout, k));
    const gs_wt v = gs_wt_f32(wt, 4, cin, cout, k, k);
    return gs_conv_transpose2d(&c, x, n, cin, h, w, &v, b, cout, k, y);
}

static inline gs_status t_linear(const float *x, size_t rows, int in, const float *wt, const float *b, int out,
                                 float *y) {
    const gs_wt v = gs_wt_f32(wt, 2, out, in, 0, 0);
    return gs_linear(&g_test_cpu, x, rows, in, &v, b, out, y);
}

static inline gs_status t_attention(const float *q, const float *k, const float *v, int heads, int n, int hd,
                                    float scale, float *out) {
    const gs_ctx c = gs_test_ctx(gs_attention_workspace(&g_test_cpu, heads, n, hd));
    return gs_attention(&c, q, k, v, heads, n, hd, scale, out);
}

static inline gs_status t_rope2d(float *x, int heads, int n, int hd, const int *py, const int *px, float base) {
    int most = py[0], least = py[0];
    for (int t = 0; t < n; t++) {
        most = py[t] > most ? py[t] : most, most = px[t] > most ? px[t] : most;
        least = py[t] < least ? py[t] : least, least = px[t] < least ? px[t] : least;
    }
    const gs_ctx c = gs_test_ctx(gs_rope2d_workspace(&g_test_cpu, hd, most - least));
    return gs_rope2d(&c, x, heads, n, hd, py, px, base);
}

#endif
