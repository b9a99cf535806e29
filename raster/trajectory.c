/* trajectory.c - generated camera paths (orbit around the scene). */
#include "raster/trajectory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void normalize3(double v[3]) {
    double n = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (n > 0) { v[0] /= n; v[1] /= n; v[2] /= n; }
}
static void cross3(const double a[3], const double b[3], double o[3]) {
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}
static double dot3(const double a[3], const double b[3]) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

/* Solve the 3x3 system A x = b (Cramer); returns 0 when singular. */
static int solve3(const double A[9], const double b[3], double x[3]) {
    double det = A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) + A[2] * (A[3] * A[7] - A[4] * A[6]);
    if (fabs(det) < 1e-9) return 0;
    for (int k = 0; k < 3; k++) {
        double M[9];
        memcpy(M, A, sizeof M);
        for (int r = 0; r < 3; r++) M[r * 3 + k] = b[r];
        x[k] = (M[0] * (M[4] * M[8] - M[5] * M[7]) - M[1] * (M[3] * M[8] - M[5] * M[6]) + M[2] * (M[3] * M[7] - M[4] * M[6])) / det;
    }
    return 1;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* look-at camera at C looking at target with the given world up */
static void look_at(gs_camera *c, const double C[3], const double target[3], const double up[3]) {
    double z[3] = {target[0] - C[0], target[1] - C[1], target[2] - C[2]}, x[3], y[3], down[3] = {-up[0], -up[1], -up[2]};
    normalize3(z);
    cross3(down, z, x); /* OpenCV: x = y_down x z ... right-handed: x = y cross z */
    normalize3(x);
    cross3(z, x, y);
    double c2w[16] = {x[0], y[0], z[0], C[0], x[1], y[1], z[1], C[1], x[2], y[2], z[2], C[2], 0, 0, 0, 1};
    gs_camera_set_c2w(c, c2w);
    c->has_pose = 1;
}

gs_status gs_orbit_path(const gs_scene *s, const gs_cameras *ref, int n_frames, int width, int height, gs_cameras *out) {
    memset(out, 0, sizeof *out);
    if (n_frames <= 0 || n_frames > GS_MAX_CAMERAS) return gs_error(GS_ERR_INVALID, "orbit: frame count %d out of range", n_frames);
    double centre[3] = {0, 0, 0}, up[3] = {0, -1, 0}, radius = 1, height_off = 0;
    gs_camera proto;
    memset(&proto, 0, sizeof proto);
    int nposed = 0;
    for (int i = 0; ref && i < ref->n; i++) nposed += ref->cams[i].has_pose;
    if (nposed >= 1) {
        /* least-squares point closest to all optical axes: sum (I - d d^T) p = sum (I - d d^T) C */
        double A[9] = {0}, b[3] = {0}, u[3] = {0};
        for (int i = 0; i < ref->n; i++) {
            const gs_camera *c = &ref->cams[i];
            if (!c->has_pose) continue;
            double C[3], d[3] = {c->R[6], c->R[7], c->R[8]}; /* camera z axis in world = third row of R */
            gs_camera_center(c, C);
            for (int r = 0; r < 3; r++) {
                for (int k = 0; k < 3; k++) {
                    double m = (r == k) - d[r] * d[k];
                    A[r * 3 + k] += m;
                    b[r] += m * C[k];
                }
                u[r] -= c->R[3 + r]; /* up = -y axis of the camera */
            }
        }
        normalize3(u);
        memcpy(up, u, sizeof up);
        if (nposed < 2 || !solve3(A, b, centre)) { /* parallel axes: a point in front of the first camera */
            const gs_camera *c = &ref->cams[0];
            double C[3];
            gs_camera_center(c, C);
            for (int k = 0; k < 3; k++) centre[k] = C[k] + c->R[6 + k];
        }
        double rsum = 0, hsum = 0;
        for (int i = 0; i < ref->n; i++) {
            if (!ref->cams[i].has_pose) continue;
            double C[3], v[3];
            gs_camera_center(&ref->cams[i], C);
            for (int k = 0; k < 3; k++) v[k] = C[k] - centre[k];
            double h = dot3(v, up);
            hsum += h;
            rsum += sqrt(fmax(dot3(v, v) - h * h, 0));
        }
        radius = rsum / nposed;
        height_off = hsum / nposed;
        proto = ref->cams[0];
        if (width > 0 && height > 0) {
            proto.fx *= (double)width / proto.width; proto.cx *= (double)width / proto.width;
            proto.fy *= (double)height / proto.height; proto.cy *= (double)height / proto.height;
            proto.width = width; proto.height = height;
        }
    } else {
        if (!s || s->n == 0) return gs_error(GS_ERR_INVALID, "orbit: an empty scene and no cameras: nothing to orbit around");
        double *v = gs_malloc((size_t)s->n, sizeof(double), "orbit");
        if (!v) return GS_ERR_NOMEM;
        for (int k = 0; k < 3; k++) {
            int64_t m = 0;
            for (int64_t i = 0; i < s->n; i++)
                if (isfinite(s->means[3 * i + k])) v[m++] = s->means[3 * i + k];
            qsort(v, (size_t)m, sizeof *v, cmp_d);
            centre[k] = m ? v[m / 2] : 0;
        }
        int64_t m = 0;
        for (int64_t i = 0; i < s->n; i++) {
            double d[3] = {s->means[3 * i] - centre[0], s->means[3 * i + 1] - centre[1], s->means[3 * i + 2] - centre[2]};
            double r = sqrt(dot3(d, d));
            if (isfinite(r)) v[m++] = r;
        }
        qsort(v, (size_t)m, sizeof *v, cmp_d);
        double r90 = m ? v[(m * 9) / 10] : 1;
        free(v);
        radius = 2.5 * (r90 > 0 ? r90 : 1);
        height_off = 0.3 * radius;
        int w = width > 0 ? width : 800, h = height > 0 ? height : 600;
        proto.width = w;
        proto.height = h;
        proto.fx = proto.fy = 0.5 * w / tan(0.5 * 50.0 * M_PI / 180.0);
        proto.cx = 0.5 * w;
        proto.cy = 0.5 * h;
    }
    /* orthonormal basis of the orbit plane */
    double a[3] = {1, 0, 0}, bvec[3];
    if (fabs(dot3(a, up)) > 0.9) { a[0] = 0; a[1] = 0; a[2] = 1; }
    double h = dot3(a, up);
    for (int k = 0; k < 3; k++) a[k] -= h * up[k];
    normalize3(a);
    cross3(up, a, bvec);
    if (nposed >= 1) { /* start at the first camera's azimuth */
        double C[3], v[3];
        gs_camera_center(&ref->cams[0], C);
        for (int k = 0; k < 3; k++) v[k] = C[k] - centre[k];
        double hh = dot3(v, up);
        for (int k = 0; k < 3; k++) v[k] -= hh * up[k];
        if (dot3(v, v) > 1e-12) {
            normalize3(v);
            memcpy(a, v, sizeof a);
            cross3(up, a, bvec);
        }
    }
    out->cams = gs_calloc((size_t)n_frames, sizeof(gs_camera), "orbit cameras");
    if (!out->cams) return GS_ERR_NOMEM;
    out->n = n_frames;
    for (int f = 0; f < n_frames; f++) {
        double th = 2 * M_PI * f / n_frames, C[3];
        for (int k = 0; k < 3; k++) C[k] = centre[k] + radius * (cos(th) * a[k] + sin(th) * bvec[k]) + height_off * up[k];
        gs_camera *c = &out->cams[f];
        *c = proto;
        look_at(c, C, centre, up);
        snprintf(c->name, sizeof c->name, "orbit_%05d", f);
        c->near_ = c->far_ = 0;
    }
    return GS_OK;
}

/* The nearest rotation (polar decomposition: X <- (X + X^-T) / 2) of a 3x3;
 * 0 when it is singular or reflecting. */
static int nearest_rotation(const double R[9], double X[9]) {
    memcpy(X, R, 9 * sizeof(double));
    for (int it = 0; it < 30; it++) {
        double cof[9] = {X[4] * X[8] - X[5] * X[7], X[5] * X[6] - X[3] * X[8], X[3] * X[7] - X[4] * X[6],
                         X[2] * X[7] - X[1] * X[8], X[0] * X[8] - X[2] * X[6], X[1] * X[6] - X[0] * X[7],
                         X[1] * X[5] - X[2] * X[4], X[2] * X[3] - X[0] * X[5], X[0] * X[4] - X[1] * X[3]};
        double det = X[0] * cof[0] + X[1] * cof[1] + X[2] * cof[2], change = 0;
        if (!(det > 1e-12)) return 0;
        for (int k = 0; k < 9; k++) {
            double nx = 0.5 * (X[k] + cof[k] / det);
            change = fmax(change, fabs(nx - X[k]));
            X[k] = nx;
        }
        if (change < 1e-15) break;
    }
    return 1;
}

gs_status gs_traj_write_json(const char *path, const gs_cameras *c) {
    gs_cameras o = {c->n, NULL};
    if (c->n > 0 && !(o.cams = gs_malloc((size_t)c->n, sizeof *o.cams, "trajectory cameras"))) return GS_ERR_NOMEM;
    for (int i = 0; i < c->n; i++) {
        gs_camera *k = &o.cams[i];
        *k = c->cams[i];
        double X[9], C[3];
        if (!k->has_pose || !nearest_rotation(k->R, X) || !solve3(k->R, k->t, C)) continue;
        /* C = R^-1 t is minus the centre; the centre is kept: t' = -X centre = X C */
        for (int r = 0; r < 3; r++) k->t[r] = X[3 * r] * C[0] + X[3 * r + 1] * C[1] + X[3 * r + 2] * C[2];
        memcpy(k->R, X, sizeof X);
    }
    gs_status st = gs_cameras_write_json(path, &o);
    free(o.cams);
    return st;
}
