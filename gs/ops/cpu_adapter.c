/* cpu_adapter.c - the CPU kernel of the GaussianAdapter's per-pixel
 * transform (ops.h: gs_gs_adapt; formulas and quirks in heads/gs_adapter.h
 * and da3-architecture.md §5), computed in double. */
#include "gs/ops/cpu.h"

#include "data/camera.h"

#include <math.h>

#define SH_DEGREE 2

/* pytorch3d's matrix_to_quaternion (DA3 transform.mat_to_quat): xyzw, w >= 0. */
static void mat_to_quat_xyzw(const double m[9], double out[4]) {
    double m00 = m[0], m01 = m[1], m02 = m[2], m10 = m[3], m11 = m[4], m12 = m[5], m20 = m[6], m21 = m[7], m22 = m[8];
    double qa[4] = {1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22};
    for (int i = 0; i < 4; i++) qa[i] = qa[i] > 0 ? sqrt(qa[i]) : 0;
    int b = 0; /* argmax, first on ties (torch.argmax) */
    for (int i = 1; i < 4; i++)
        if (qa[i] > qa[b]) b = i;
    double c[4]; /* r, i, j, k */
    switch (b) {
    case 0: c[0] = qa[0] * qa[0]; c[1] = m21 - m12; c[2] = m02 - m20; c[3] = m10 - m01; break;
    case 1: c[0] = m21 - m12; c[1] = qa[1] * qa[1]; c[2] = m10 + m01; c[3] = m02 + m20; break;
    case 2: c[0] = m02 - m20; c[1] = m10 + m01; c[2] = qa[2] * qa[2]; c[3] = m12 + m21; break;
    default: c[0] = m10 - m01; c[1] = m20 + m02; c[2] = m21 + m12; c[3] = qa[3] * qa[3]; break;
    }
    double den = 2 * (qa[b] > 0.1 ? qa[b] : 0.1);
    double q[4] = {c[1] / den, c[2] / den, c[3] / den, c[0] / den};
    double sgn = q[3] < 0 ? -1 : 1;
    for (int i = 0; i < 4; i++) out[i] = sgn * q[i];
}

/* DA3 cam_quat_xyzw_to_world_quat_wxyz, quirk included: the normalised raw
 * (a0..a3) is reordered to (a3,a0,a1,a2) and handed to quat_to_mat, which
 * reads it as x,y,z,w. */
static void world_rotation(const float *raw4, const double Rc[9], float out[4]) {
    double a[4], nrm = 0;
    for (int k = 0; k < 4; k++) nrm += (double)raw4[k] * raw4[k];
    nrm = sqrt(nrm) + 1e-8;
    for (int k = 0; k < 4; k++) a[k] = raw4[k] / nrm;
    /* quat_to_mat reads (x, y, z, w) = (a3, a0, a1, a2); gs_quat_to_rotmat
     * takes w, x, y, z and gives the identity for a zero vector */
    const double wxyz[4] = {a[2], a[3], a[0], a[1]};
    double Rcam[9];
    gs_quat_to_rotmat(wxyz, Rcam);
    double Rw[9], q[4];
    for (int x = 0; x < 3; x++)
        for (int y = 0; y < 3; y++)
            Rw[x * 3 + y] = Rc[x * 3] * Rcam[y] + Rc[x * 3 + 1] * Rcam[3 + y] + Rc[x * 3 + 2] * Rcam[6 + y];
    mat_to_quat_xyzw(Rw, q);
    for (int x = 0; x < 4; x++) out[x] = (float)q[x];
}

gs_status gs_gs_adapt_cpu(const gs_ctx *ctx, const gs_gs_view *views, int S, int H, int W, const float *raw,
                          const float *conf, const float *depth, double s, float *means, float *scales,
                          float *rotations, float *harmonics, float *opacities) {
    (void)ctx;
    if (!views || !raw || !conf || !depth || !means || !scales || !rotations || !harmonics || !opacities || S < 1 ||
        H < 1 || W < 1)
        return gs_error(GS_ERR_INVALID, "gs_adapt: bad arguments (%d views of %dx%d)", S, W, H);
    /* fp32 values of DA3's sh_mask buffer (0.1 * 0.25^degree) */
    static const float mask[9] = {1.0f, 0.025f, 0.025f, 0.025f, 0.00625f, 0.00625f, 0.00625f, 0.00625f, 0.00625f};
    const double smin = 1e-5, smax = 30.0;
#pragma omp parallel for schedule(static)
    for (int64_t row = 0; row < (int64_t)S * H; row++) {
        int v = (int)(row / H), i = (int)(row % H);
        const gs_gs_view *c = &views[v];
        for (int j = 0; j < W; j++) {
            int64_t g = row * W + j;
            const float *r = raw + g * 37;
            double d = ((double)depth[g] + r[36]) * s; /* depth along the unit ray */
            double x = (j + 0.5) / W + r[0] * (1.0 / W);
            double y = (i + 0.5) / H + r[1] * (1.0 / H);
            double dir[3], dn = 0;
            for (int a = 0; a < 3; a++) {
                dir[a] = c->Kinv[a * 3] * x + c->Kinv[a * 3 + 1] * y + c->Kinv[a * 3 + 2];
                dn += dir[a] * dir[a];
            }
            dn = sqrt(dn);
            for (int a = 0; a < 3; a++) {
                double dw = (c->Rc[a * 3] * dir[0] + c->Rc[a * 3 + 1] * dir[1] + c->Rc[a * 3 + 2] * dir[2]) / dn;
                means[g * 3 + a] = (float)(c->tc[a] + dw * d);
                double sig = 1 / (1 + exp(-(double)r[2 + a]));
                scales[g * 3 + a] = (float)((smin + (smax - smin) * sig) * d * c->mult);
            }
            world_rotation(r + 5, c->Rc, rotations + g * 4);
            float *h = harmonics + g * 27;
            for (int col = 0; col < 3; col++) {
                double f[9];
                for (int k = 0; k < 9; k++) f[k] = (double)r[9 + col * 9 + k] * mask[k];
                h[col * 9] = (float)f[0];
                for (int l = 1; l <= SH_DEGREE; l++) {
                    int m = 2 * l + 1, off = l * l;
                    const double *D = c->sh + l * (4 * l * l - 1) / 3;
                    for (int k = 0; k < m; k++) {
                        double acc = 0;
                        for (int q = 0; q < m; q++) acc += D[k * m + q] * f[off + q];
                        h[col * 9 + off + k] = (float)acc;
                    }
                }
            }
            float p = conf[g];
            opacities[g] = 0.5f * ((1.0f - (1.0f - p)) + p);
        }
    }
    return GS_OK;
}
