/* raster_math.h - the per-splat math shared, as source, by the CPU reference
 * (raster_cpu.c) and the CUDA rasterizer (raster_cuda.cu), so that both
 * project and shade with the same formulas in the same float32 order:
 * projection (EWA with the clamped Jacobian, eps2d, opacity-aware per-axis
 * extent, gsplat semantics) and SH evaluation. Internal to raster/. */
#ifndef GS_RASTER_MATH_H
#define GS_RASTER_MATH_H

#include "raster/raster.h"

#include <float.h>
#include <math.h>

#ifdef __CUDACC__
#define GS_HD __host__ __device__
#else
#define GS_HD
#endif

/* rgb = max(sum_k sh[k] Y_k(dir/|dir|) + 0.5, 0), degree 0..3; sh is (K,3).
 * Returns 0 when a sum is not finite (a NaN or infinite coefficient up to
 * `degree`): the renderers then skip the splat and count it as invalid. */
GS_HD static inline int gs_sh_eval(const float *sh, int degree, const float dir[3], float rgb[3]) {
    float n = sqrtf(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]);
    float inv = n > 0 ? 1.0f / n : 0.0f;
    float x = dir[0] * inv, y = dir[1] * inv, z = dir[2] * inv;
    float basis[16];
    basis[0] = 0.28209479177387814f;
    if (degree >= 1) {
        basis[1] = -0.48860251190291987f * y;
        basis[2] = 0.48860251190291987f * z;
        basis[3] = -0.48860251190291987f * x;
    }
    if (degree >= 2) {
        float xx = x * x, yy = y * y, zz = z * z;
        basis[4] = 1.0925484305920792f * x * y;
        basis[5] = -1.0925484305920792f * y * z;
        basis[6] = 0.31539156525252005f * (2.0f * zz - xx - yy);
        basis[7] = -1.0925484305920792f * x * z;
        basis[8] = 0.5462742152960396f * (xx - yy);
        if (degree >= 3) {
            basis[9] = -0.59004358992664352f * y * (3.0f * xx - yy);
            basis[10] = 2.8906114426405538f * x * y * z;
            basis[11] = -0.45704579946446572f * y * (4.0f * zz - xx - yy);
            basis[12] = 0.3731763325901154f * z * (2.0f * zz - 3.0f * xx - 3.0f * yy);
            basis[13] = -0.45704579946446572f * x * (4.0f * zz - xx - yy);
            basis[14] = 1.4453057213202769f * z * (xx - yy);
            basis[15] = -0.59004358992664352f * x * (xx - 3.0f * yy);
        }
    }
    int k = (degree + 1) * (degree + 1), finite = 1;
    for (int c = 0; c < 3; c++) {
        float acc = 0;
        for (int j = 0; j < k; j++) acc += basis[j] * sh[j * 3 + c];
        acc += 0.5f;
        finite &= isfinite(acc) != 0;
        rgb[c] = acc > 0 ? acc : 0;
    }
    return finite;
}

/* Project one splat (mean m, scales sc, quaternion q = w,x,y,z, opacity op)
 * with world-to-camera R, t and pinhole intrinsics at width x height. Sets
 * everything in p but rgb; returns 1 when visible. *invalid (may be NULL) is
 * set for non-finite values, non-positive scales or a zero quaternion. */
GS_HD static inline int gs_project_core(const float *m, const float *sc, const float *q, float op, const float R[9],
                                        const float t[3], float fx, float fy, float cx, float cy, int width,
                                        int height, const gs_raster_opts *o, gs_projected *p, int *invalid) {
    p->radius[0] = p->radius[1] = 0;
    if (invalid) *invalid = 0;
    int ok = isfinite(m[0]) && isfinite(m[1]) && isfinite(m[2]) && isfinite(op) && sc[0] > 0 && sc[1] > 0 &&
             sc[2] > 0 && isfinite(sc[0]) && isfinite(sc[1]) && isfinite(sc[2]) && isfinite(q[0]) &&
             isfinite(q[1]) && isfinite(q[2]) && isfinite(q[3]);
    float qn2 = ok ? q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3] : 0;
    if (!ok || !(qn2 > 0)) {
        if (invalid) *invalid = 1;
        return 0;
    }
    /* camera-space mean */
    float xc = R[0] * m[0] + R[1] * m[1] + R[2] * m[2] + t[0];
    float yc = R[3] * m[0] + R[4] * m[1] + R[5] * m[2] + t[1];
    float zc = R[6] * m[0] + R[7] * m[1] + R[8] * m[2] + t[2];
    if (zc < o->near_plane || zc > o->far_plane) return 0;

    /* world covariance: M = Rq S, Sigma = M M^T */
    float inv = 1.0f / sqrtf(qn2);
    float w = q[0] * inv, x = q[1] * inv, y = q[2] * inv, z = q[3] * inv;
    float Rq[9] = {1.f - 2.f * (y * y + z * z), 2.f * (x * y - w * z),       2.f * (x * z + w * y),
                   2.f * (x * y + w * z),       1.f - 2.f * (x * x + z * z), 2.f * (y * z - w * x),
                   2.f * (x * z - w * y),       2.f * (y * z + w * x),       1.f - 2.f * (x * x + y * y)};
    float M[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) M[r * 3 + c] = Rq[r * 3 + c] * sc[c];
    float Sw[9], tmp[9], Sc[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) Sw[r * 3 + c] = M[r * 3] * M[c * 3] + M[r * 3 + 1] * M[c * 3 + 1] + M[r * 3 + 2] * M[c * 3 + 2];
    /* camera covariance: R Sw R^T */
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) tmp[r * 3 + c] = R[r * 3] * Sw[c] + R[r * 3 + 1] * Sw[3 + c] + R[r * 3 + 2] * Sw[6 + c];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) Sc[r * 3 + c] = tmp[r * 3] * R[c * 3] + tmp[r * 3 + 1] * R[c * 3 + 1] + tmp[r * 3 + 2] * R[c * 3 + 2];

    /* EWA with the Jacobian's tx/ty clamped to 1.3 x the field of view */
    float tan_fovx = 0.5f * (float)width / fx, tan_fovy = 0.5f * (float)height / fy;
    float lim_x_pos = ((float)width - cx) / fx + 0.3f * tan_fovx, lim_x_neg = cx / fx + 0.3f * tan_fovx;
    float lim_y_pos = ((float)height - cy) / fy + 0.3f * tan_fovy, lim_y_neg = cy / fy + 0.3f * tan_fovy;
    float rz = 1.0f / zc, rz2 = rz * rz;
    float tx = zc * fminf(lim_x_pos, fmaxf(-lim_x_neg, xc * rz));
    float ty = zc * fminf(lim_y_pos, fmaxf(-lim_y_neg, yc * rz));
    float J[6] = {fx * rz, 0.f, -fx * tx * rz2, 0.f, fy * rz, -fy * ty * rz2};
    float JS[6];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++) JS[r * 3 + c] = J[r * 3] * Sc[c] + J[r * 3 + 1] * Sc[3 + c] + J[r * 3 + 2] * Sc[6 + c];
    float c00 = JS[0] * J[0] + JS[1] * J[1] + JS[2] * J[2];
    float c01 = JS[0] * J[3] + JS[1] * J[4] + JS[2] * J[5];
    float c11 = JS[3] * J[3] + JS[4] * J[4] + JS[5] * J[5];
    float mx = fx * xc * rz + cx, my = fy * yc * rz + cy;

    float det_orig = c00 * c11 - c01 * c01;
    c00 += o->eps2d;
    c11 += o->eps2d;
    float det = c00 * c11 - c01 * c01;
    if (!(det > 0)) return 0;
    if (o->antialiased) op *= sqrtf(fmaxf(det_orig / det, 0.0f));
    if (!(op >= GS_ALPHA_MIN)) return 0;
    float extend = fminf(GS_EXTENT_MAX, sqrtf(2.0f * logf(op / GS_ALPHA_MIN)));
    float rx = ceilf(extend * sqrtf(c00)), ry = ceilf(extend * sqrtf(c11));
    if (!(rx > 0) && !(ry > 0)) return 0;
    if (mx + rx <= 0 || mx - rx >= (float)width || my + ry <= 0 || my - ry >= (float)height) return 0;
    if (!isfinite(mx) || !isfinite(my) || rx > 1e7f || ry > 1e7f) return 0;

    float idet = 1.0f / det;
    p->conic[0] = c11 * idet;
    p->conic[1] = -c01 * idet;
    p->conic[2] = c00 * idet;
    p->mean2d[0] = mx;
    p->mean2d[1] = my;
    p->depth = zc;
    p->opacity = op;
    p->radius[0] = (int)rx;
    p->radius[1] = (int)ry;
    return 1;
}

/* The largest sigma at which alpha = o exp(-sigma) can still pass 1/255 in
 * float32 arithmetic, with room for rounding; +inf: do not prune. The blending
 * evaluates sigma = 0.5 (a dx^2 + c dy^2) + b dx dy in float; its rounding
 * error is below ~8 eps cond(conic) sigma, so the exact level ln(255 o) is
 * widened by 32 eps cond relative and 1e-4 absolute (which also covers the
 * exp's few-ulp error). Badly conditioned conics are not pruned. */
GS_HD static inline double gs_ellipse_level(float ca, float cb, float cc, float opacity) {
    double a = ca, b = cb, c = cc;
    double mid = 0.5 * (a + c), rad = sqrt(0.25 * (a - c) * (a - c) + b * b);
    double lmin = mid - rad, lmax = mid + rad;
    if (!(lmin > 0)) return INFINITY;
    double cond = lmax / lmin, e = (double)FLT_EPSILON;
    if (8 * e * cond > 0.25) return INFINITY;
    double L = log((double)opacity / (double)GS_ALPHA_MIN);
    return fmax(L, 0.0) * (1 + 32 * e * cond) + 1e-4;
}

#endif
