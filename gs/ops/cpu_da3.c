/* cpu_da3.c - CPU kernels of the ops particular to Depth Anything 3
 * (ops.h): the DPT heads' UV positional embedding, the camera pose
 * encodings, the nested model's metric-scale sums, and the reference's
 * float32 rotation helpers they use (its
 * float operations followed term by term: the 3DGS adapter's quaternion
 * chain must reproduce its 4-vectors). */
#include "gs/ops/cpu.h"

#include <math.h>
#include <string.h>

/* torch.linspace in float32: the first half counts up from start, the
 * second half down from end, with a float step */
static void linspace_f(float start, float end, int n, float *out) {
    if (n == 1) {
        out[0] = start;
        return;
    }
    const float step = (end - start) / (float)(n - 1);
    const int half = n / 2;
    for (int i = 0; i < n; i++) out[i] = i < half ? start + step * (float)i : end - step * (float)(n - 1 - i);
}

size_t gs_uv_embed_workspace_cpu(const gs_ctx *c, int ch, int hh, int ww) {
    (void)c;
    if (ch < 4 || hh < 1 || ww < 1) return 0;
    return gs_arena_round(((size_t)ww + (size_t)hh + (size_t)ch) * sizeof(float));
}

gs_status gs_uv_embed_cpu(const gs_ctx *c, float *pe, int ch, int hh, int ww, int H, int W) {
    if (!pe || ch < 4 || ch % 4 || hh < 1 || ww < 1 || H < 1 || W < 1)
        return gs_error(GS_ERR_INVALID, "uv_embed: bad arguments (%d channels, %dx%d map of %dx%d)", ch, ww, hh, W, H);
    const size_t mark = gs_ws_mark(c);
    float *u = gs_ws_take(c, ((size_t)ww + (size_t)hh + (size_t)ch) * sizeof *u, "uv embedding grid");
    if (!u) return GS_ERR_NOMEM;
    float *v = u + ww, *om = v + hh;
    const double ar = (double)W / (double)H, diag = sqrt(ar * ar + 1.0);
    const double sx = ar / diag, sy = 1.0 / diag;
    linspace_f((float)(-sx * (ww - 1) / ww), (float)(sx * (ww - 1) / ww), ww, u);
    linspace_f((float)(-sy * (hh - 1) / hh), (float)(sy * (hh - 1) / hh), hh, v);
    const int q = ch / 4;
    for (int k = 0; k < q; k++) om[k] = 1.0f / powf(100.0f, (float)k / (float)q);
    const size_t hw = (size_t)hh * ww;
    for (int k = 0; k < q; k++)
        for (int i = 0; i < hh; i++)
            for (int j = 0; j < ww; j++) {
                const size_t o = (size_t)i * ww + j;
                const float au = u[j] * om[k], av = v[i] * om[k];
                pe[(size_t)k * hw + o] = sinf(au) * 0.1f;
                pe[(size_t)(q + k) * hw + o] = cosf(au) * 0.1f;
                pe[(size_t)(2 * q + k) * hw + o] = sinf(av) * 0.1f;
                pe[(size_t)(3 * q + k) * hw + o] = cosf(av) * 0.1f;
            }
    gs_ws_release(c, mark);
    return GS_OK;
}

/* ---- rotation helpers ------------------------------------------------------------ */

void gs_quat_to_mat(const float q[4], float R[9]) {
    const float i = q[0], j = q[1], k = q[2], r = q[3];
    const float two_s = 2.0f / (i * i + j * j + k * k + r * r);
    R[0] = 1 - two_s * (j * j + k * k);
    R[1] = two_s * (i * j - k * r);
    R[2] = two_s * (i * k + j * r);
    R[3] = two_s * (i * j + k * r);
    R[4] = 1 - two_s * (i * i + k * k);
    R[5] = two_s * (j * k - i * r);
    R[6] = two_s * (i * k - j * r);
    R[7] = two_s * (j * k + i * r);
    R[8] = 1 - two_s * (i * i + j * j);
}

void gs_mat_to_quat(const float R[9], float q[4]) {
    const float m00 = R[0], m01 = R[1], m02 = R[2], m10 = R[3], m11 = R[4], m12 = R[5], m20 = R[6], m21 = R[7],
                m22 = R[8];
    const float a[4] = {1.0f + m00 + m11 + m22, 1.0f + m00 - m11 - m22, 1.0f - m00 + m11 - m22,
                        1.0f - m00 - m11 + m22};
    float qa[4];
    for (int i = 0; i < 4; i++) qa[i] = a[i] > 0.0f ? sqrtf(a[i]) : 0.0f;
    /* candidates in (r, i, j, k) order, one per row */
    const float cand[4][4] = {
        {qa[0] * qa[0], m21 - m12, m02 - m20, m10 - m01},
        {m21 - m12, qa[1] * qa[1], m10 + m01, m02 + m20},
        {m02 - m20, m10 + m01, qa[2] * qa[2], m12 + m21},
        {m10 - m01, m20 + m02, m21 + m12, qa[3] * qa[3]},
    };
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (qa[i] > qa[best]) best = i; /* argmax: first of equal maxima */
    const float den = 2.0f * (qa[best] > 0.1f ? qa[best] : 0.1f);
    float rijk[4];
    for (int i = 0; i < 4; i++) rijk[i] = cand[best][i] / den;
    q[0] = rijk[1], q[1] = rijk[2], q[2] = rijk[3], q[3] = rijk[0];
    if (q[3] < 0.0f)
        for (int i = 0; i < 4; i++) q[i] = -q[i];
}

void gs_affine_inverse(const float A[12], float out[12]) {
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) out[r * 4 + c] = A[c * 4 + r];
        out[r * 4 + 3] = -(A[0 * 4 + r] * A[3] + A[1 * 4 + r] * A[7] + A[2 * 4 + r] * A[11]);
    }
}

/* ---- camera pose encodings ---------------------------------------------------------- */

static int finite_n(const float *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

gs_status gs_pose_decode_cpu(const gs_ctx *c, const float *pose, int S, int H, int W, float *w2c, float *K) {
    (void)c;
    if (!pose || !w2c || !K || S < 1 || H < 1 || W < 1)
        return gs_error(GS_ERR_INVALID, "pose_decode: bad arguments (S %d, %dx%d)", S, W, H);
    for (int s = 0; s < S; s++) {
        const float *p = pose + (size_t)s * 9;
        float R[9], c2w[12];
        gs_quat_to_mat(p + 3, R);
        for (int r = 0; r < 3; r++) {
            memcpy(c2w + r * 4, R + r * 3, 3 * sizeof *c2w);
            c2w[r * 4 + 3] = p[r];
        }
        gs_affine_inverse(c2w, w2c + (size_t)s * 12);
        float th = tanf(p[7] / 2.0f), tw = tanf(p[8] / 2.0f);
        th = th > 1e-6f ? th : 1e-6f;
        tw = tw > 1e-6f ? tw : 1e-6f;
        float *k = K + (size_t)s * 9;
        memset(k, 0, 9 * sizeof *k);
        k[0] = (float)(W / 2.0) / tw;
        k[4] = (float)(H / 2.0) / th;
        k[2] = (float)(W / 2.0);
        k[5] = (float)(H / 2.0);
        k[8] = 1.0f;
        if (!finite_n(w2c + (size_t)s * 12, 12) || !finite_n(k, 9))
            return gs_error(GS_ERR_FORMAT, "cam_dec: view %d: degenerate predicted pose (zero quaternion?)", s);
    }
    return GS_OK;
}

gs_status gs_pose_encode_cpu(const gs_ctx *c, const float *w2c, const float *K, int S, int H, int W, float *pose) {
    (void)c;
    if (!w2c || !K || !pose || S < 1 || H < 1 || W < 1)
        return gs_error(GS_ERR_INVALID, "pose_encode: bad arguments (S %d, %dx%d)", S, W, H);
    for (int s = 0; s < S; s++) {
        const float *e = w2c + (size_t)s * 16, *k = K + (size_t)s * 9;
        if (!finite_n(e, 16) || !finite_n(k, 9))
            return gs_error(GS_ERR_INVALID, "cam_enc: view %d: non-finite extrinsics or intrinsics", s);
        if (!(k[0] > 0.0f) || !(k[4] > 0.0f))
            return gs_error(GS_ERR_INVALID, "cam_enc: view %d: focal lengths (%g, %g) must be positive", s, k[0], k[4]);
        float A[12], c2w[12], R[9];
        for (int r = 0; r < 3; r++) memcpy(A + r * 4, e + r * 4, 4 * sizeof *A);
        gs_affine_inverse(A, c2w);
        float *p = pose + (size_t)s * 9;
        for (int r = 0; r < 3; r++) {
            p[r] = c2w[r * 4 + 3];
            memcpy(R + r * 3, c2w + r * 4, 3 * sizeof *R);
        }
        gs_mat_to_quat(R, p + 3);
        p[7] = 2.0f * atanf((float)(H / 2.0) / k[4]);   // fov_h first
        p[8] = 2.0f * atanf((float)(W / 2.0) / k[0]);
    }
    return GS_OK;
}

gs_status gs_metric_scale_sums_cpu(const gs_ctx *c, const float *metric, const float *depth, const float *conf,
                                   float conf_min, const unsigned char *mask, size_t n, double *num, double *den) {
    (void)c;
    if (!metric || !depth || !conf || !mask || !num || !den)
        return gs_error(GS_ERR_INVALID, "metric_scale_sums: missing input");
    double a = 0.0, b = 0.0;
    for (size_t i = 0; i < n; i++) { /* one thread: the sums keep the reference's order */
        if (!(conf[i] >= conf_min && mask[i] && metric[i] > 0.01f && depth[i] > 1e-3f)) continue;
        a += (double)metric[i] * depth[i];
        b += (double)depth[i] * depth[i];
    }
    *num = a, *den = b;
    return GS_OK;
}
