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
#include <stdint.h>

#ifdef __CUDACC__
#define GS_HD __host__ __device__
#define GS_WALK_FN __device__ __noinline__ static /* the .cu host code never calls it */
#else
#define GS_HD
#define GS_WALK_FN static inline
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

/* Exact tile-ellipse intersection, shared by the CPU lists and the CUDA
 * binning: which tiles of gsplat's tile box [tx0,tx1) x [ty0,ty1) hold a
 * pixel centre of the W x H image inside the ellipse {sigma <= lev} of a
 * splat at (mx, my) with conic (a, b, c). Per tile row: the tile's pixel rows
 * whose centres lie within the ellipse's y-extent; the ellipse's x-extent over
 * that band (its leftmost / rightmost point when that lies in the band, else
 * the band edge nearest to it: the sides are convex / concave in y); the
 * pixel columns whose centres lie in it; the tiles of those columns. Extents
 * are widened by 1e-3 px for the double arithmetic (gs_ellipse_level holds
 * the float margin). lev = +inf or a degenerate conic: the whole box, as
 * gsplat. */
typedef struct {
    double X, Y, A, B, L, det, uyl, e0, e1;
    int prune, tx0, tx1, W, H;
} gs_tile_ellipse;

GS_HD static inline void gs_tile_ellipse_init(gs_tile_ellipse *e, float mx, float my, float a, float b, float c,
                                              float lev, int tx0, int tx1, int W, int H) {
    double A = a, B = b, C = c, det = A * C - B * B, L = lev;
    e->X = mx, e->Y = my, e->A = A, e->B = B, e->L = L, e->det = det;
    e->tx0 = tx0, e->tx1 = tx1, e->W = W, e->H = H;
    e->prune = isfinite(lev) && det > 0 && A > 0 && C > 0;
    e->uyl = e->e0 = e->e1 = 0;
    if (e->prune) {
        double ymax = sqrt(2 * L * A / det) + 1e-3, sxx = C / det, sxy = -B / det;
        e->uyl = -sxy * sqrt(2 * L / sxx); /* y of the leftmost point, relative to the mean */
        e->e0 = ceil(e->Y - ymax - 0.5);  /* the pixel rows whose centres the y-extent holds */
        e->e1 = floor(e->Y + ymax - 0.5);
    }
}

/* The tiles [*x0, *x1) of tile row ty that the ellipse reaches; 0: none. */
GS_HD static inline int gs_tile_row_span(const gs_tile_ellipse *e, int ty, int *x0, int *x1) {
    *x0 = e->tx0;
    *x1 = e->tx1;
    if (e->prune) {
        double r0 = fmax((double)ty * GS_TILE, e->e0);
        double r1 = fmin((double)ty * GS_TILE + GS_TILE - 1, fmin(e->H - 1.0, e->e1));
        if (r0 > r1) return 0;
        double lo = r0 + 0.5 - e->Y, hi = r1 + 0.5 - e->Y, A = e->A, B = e->B, L = e->L, det = e->det;
        double u1 = fmin(fmax(e->uyl, lo), hi), u2 = fmin(fmax(-e->uyl, lo), hi);
        double xmin = (-B * u1 - sqrt(fmax(0.0, 2 * A * L - det * u1 * u1))) / A - 1e-3;
        double xmax = (-B * u2 + sqrt(fmax(0.0, 2 * A * L - det * u2 * u2))) / A + 1e-3;
        double c0 = fmax(ceil(e->X + xmin - 0.5), 0.0), c1 = fmin(floor(e->X + xmax - 0.5), e->W - 1.0); /* columns */
        if (c0 > c1) return 0;
        int f0 = (int)(c0 / GS_TILE), f1 = (int)(c1 / GS_TILE) + 1;
        if (f0 > *x0) *x0 = f0;
        if (f1 < *x1) *x1 = f1;
    }
    return *x1 > *x0;
}

/* The CUDA binning's walk over a splat's tiles: returns how many; with keys
 * != NULL also writes the pairs (tile << 32 | dkey, id), never more than cap.
 * Not inlined on the GPU, so that counting and emitting run the same code. */
GS_WALK_FN int64_t gs_tile_walk(float mx, float my, float a, float b, float c, float lev, int tx0, int tx1, int ty0,
                                int ty1, int W, int H, uint32_t dkey, int32_t id, uint64_t *keys, int32_t *vals,
                                int64_t cap) {
    gs_tile_ellipse e;
    gs_tile_ellipse_init(&e, mx, my, a, b, c, lev, tx0, tx1, W, H);
    int tw = (W + GS_TILE - 1) / GS_TILE;
    int64_t k = 0;
    for (int ty = ty0; ty < ty1; ty++) {
        int x0, x1;
        if (!gs_tile_row_span(&e, ty, &x0, &x1)) continue;
        for (int tx = x0; tx < x1; tx++, k++)
            if (keys && k < cap) {
                keys[k] = ((uint64_t)(uint32_t)(ty * tw + tx) << 32) | dkey;
                vals[k] = id;
            }
    }
    return k;
}

#endif
