/* cpu_elem.c - CPU element-wise ops and normalisations of the op layer
 * (ops.h): LayerNorm over tokens or over channels, GELU/SiLU/sigmoid/exp, add,
 * batched transpose. Row statistics are accumulated in double so that the
 * result does not depend on the thread split and stays within float rounding
 * of torch's float32 LayerNorm. */
#include "gs/ops/ops.h"

#include <math.h>
#include <stdlib.h>

static void layernorm_row(const float *x, float *y, int dim, size_t stride, const float *w,
                          const float *b, float eps) {
    double s = 0.0;
    for (int i = 0; i < dim; i++) s += x[(size_t)i * stride];
    double mean = s / dim, v = 0.0;
    for (int i = 0; i < dim; i++) {
        double d = x[(size_t)i * stride] - mean;
        v += d * d;
    }
    double inv = 1.0 / sqrt(v / dim + (double)eps);
    for (int i = 0; i < dim; i++) {
        float t = (float)((x[(size_t)i * stride] - mean) * inv);
        if (w) t *= w[i];
        if (b) t += b[i];
        y[(size_t)i * stride] = t;
    }
}

void gs_layernorm_cpu(const float *x, float *y, size_t rows, int dim, const float *w, const float *b,
                      float eps) {
    if (gs_layernorm_x86(x, y, rows, dim, w, b, eps)) return;
#pragma omp parallel for schedule(static) if (rows * (size_t)dim > (1u << 15))
    for (size_t r = 0; r < rows; r++) layernorm_row(x + r * (size_t)dim, y + r * (size_t)dim, dim, 1, w, b, eps);
}

void gs_layernorm_channels_cpu(float *x, int n, int c, size_t hw, const float *w, const float *b,
                               float eps) {
    /* Strided access over channels is slow for large c; gather each pixel's
     * channel vector into a small buffer instead. */
#pragma omp parallel if ((size_t)n * c * hw > (1u << 15))
    {
        float *buf = malloc((size_t)c * sizeof *buf);
#pragma omp for schedule(static) collapse(2)
        for (int i = 0; i < n; i++)
            for (size_t p = 0; p < hw; p++) {
                float *base = x + (size_t)i * c * hw + p;
                if (!buf) {
                    layernorm_row(base, base, c, hw, w, b, eps);
                    continue;
                }
                for (int ch = 0; ch < c; ch++) buf[ch] = base[(size_t)ch * hw];
                layernorm_row(buf, buf, c, 1, w, b, eps);
                for (int ch = 0; ch < c; ch++) base[(size_t)ch * hw] = buf[ch];
            }
        free(buf);
    }
}

void gs_gelu_cpu(float *x, size_t n) {
    if (gs_gelu_x86(x, n)) return;
#pragma omp parallel for schedule(static) if (n > (1u << 15))
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] * 0.70710678118654752440)));
}

void gs_silu_cpu(float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n > (1u << 15))
    for (size_t i = 0; i < n; i++) x[i] = (float)(x[i] / (1.0 + exp(-(double)x[i])));
}

void gs_sigmoid_cpu(float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n > (1u << 15))
    for (size_t i = 0; i < n; i++) x[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
}

void gs_exp_cpu(float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n > (1u << 15))
    for (size_t i = 0; i < n; i++) x[i] = expf(x[i]);
}

void gs_add_cpu(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n > (1u << 15))
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void gs_transpose_cpu(const float *x, int n, size_t rows, size_t cols, float *y) {
    /* 32x32 blocks keep both sides in cache. */
    const size_t B = 32;
    for (int i = 0; i < n; i++) {
        const float *xs = x + (size_t)i * rows * cols;
        float *ys = y + (size_t)i * rows * cols;
#pragma omp parallel for schedule(static) collapse(2) if (rows * cols > (1u << 15))
        for (size_t r0 = 0; r0 < rows; r0 += B)
            for (size_t c0 = 0; c0 < cols; c0 += B) {
                size_t r1 = r0 + B < rows ? r0 + B : rows, c1 = c0 + B < cols ? c0 + B : cols;
                for (size_t r = r0; r < r1; r++)
                    for (size_t c = c0; c < c1; c++) ys[c * rows + r] = xs[r * cols + c];
            }
    }
}
