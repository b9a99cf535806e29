/* trajectory_da3.c - Depth Anything 3's novel-view trajectories, written from
 * the behaviour of its utils/camera_trj_helpers.py and
 * run_renderer_in_chunk_w_trj_mode (da3-architecture.md §7.2), in double
 * precision; tests/test_trajectory.c holds them to goldens made by DA3's own
 * code (tools/make_trajectory_goldens.py). */
#include "raster/trajectory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TRAJ_EPS 1e-4 /* interpolate_extrinsics: looks this close to (anti)parallel count as parallel */
#define MAX_PATH 1000000

static const char *const k_names[GS_TRAJ_COUNT] = {"original", "smooth", "interpolate", "interpolate_smooth",
                                                   "extend",   "wander", "dolly_zoom",  "wobble_inter", "orbit"};

gs_status gs_traj_mode_parse(const char *s, gs_traj_mode *out) {
    for (int m = 0; m < GS_TRAJ_COUNT; m++)
        if (s && !strcmp(s, k_names[m])) {
            *out = (gs_traj_mode)m;
            return GS_OK;
        }
    return gs_error(GS_ERR_INVALID,
                    "trajectory '%s' is unknown (expected original, smooth, interpolate, interpolate_smooth, "
                    "extend, wander, dolly_zoom, wobble_inter or orbit)", s ? s : "(null)");
}

const char *gs_traj_mode_name(gs_traj_mode m) { return m >= 0 && m < GS_TRAJ_COUNT ? k_names[m] : "?"; }

void gs_traj_path_free(gs_traj_path *p) {
    free(p->c2w);
    free(p->kn);
    memset(p, 0, sizeof *p);
}

static gs_status path_alloc(gs_traj_path *p, int n) {
    memset(p, 0, sizeof *p);
    if (n <= 0 || n > MAX_PATH) return gs_error(GS_ERR_INVALID, "trajectory: %d frames out of range (1..%d)", n, MAX_PATH);
    p->c2w = gs_malloc((size_t)n * 16, sizeof(double), "trajectory poses");
    p->kn = gs_malloc((size_t)n * 4, sizeof(double), "trajectory intrinsics");
    if (!p->c2w || !p->kn) {
        gs_traj_path_free(p);
        return GS_ERR_NOMEM;
    }
    p->n = n;
    return GS_OK;
}

/* ---- small linear algebra (3-vectors; 4x4 row-major c2w: column j of the
 * rotation is m[0*4+j], m[1*4+j], m[2*4+j]) ------------------------------------ */
static void col(const double *m, int j, double v[3]) { v[0] = m[j]; v[1] = m[4 + j]; v[2] = m[8 + j]; }
static void set_col(double *m, int j, const double v[3]) { m[j] = v[0]; m[4 + j] = v[1]; m[8 + j] = v[2]; }
static double dot3(const double a[3], const double b[3]) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
static void cross3(const double a[3], const double b[3], double o[3]) {
    double r[3] = {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
    memcpy(o, r, sizeof r);
}
static void normalize3(double v[3]) {
    double n = sqrt(dot3(v, v));
    v[0] /= n; v[1] /= n; v[2] /= n;
}
static void identity4(double *m) {
    memset(m, 0, 16 * sizeof *m);
    m[0] = m[5] = m[10] = m[15] = 1;
}
/* origin += R * d (a camera-frame translation applied as c2w @ T) */
static void translate_local(double *m, const double d[3]) {
    for (int i = 0; i < 3; i++) m[i * 4 + 3] += m[i * 4] * d[0] + m[i * 4 + 1] * d[1] + m[i * 4 + 2] * d[2];
}

/* Solve A x = b (3x3, row-major) by elimination with partial pivoting; 0 when singular. */
static int solve3(const double A_[9], const double b_[3], double x[3]) {
    double A[9], b[3];
    memcpy(A, A_, sizeof A);
    memcpy(b, b_, sizeof b);
    for (int c = 0; c < 3; c++) {
        int p = c;
        for (int r = c + 1; r < 3; r++)
            if (fabs(A[r * 3 + c]) > fabs(A[p * 3 + c])) p = r;
        if (!(fabs(A[p * 3 + c]) > 0)) return 0;
        if (p != c) {
            for (int k = 0; k < 3; k++) { double t = A[c * 3 + k]; A[c * 3 + k] = A[p * 3 + k]; A[p * 3 + k] = t; }
            double t = b[c]; b[c] = b[p]; b[p] = t;
        }
        for (int r = c + 1; r < 3; r++) {
            double f = A[r * 3 + c] / A[c * 3 + c];
            for (int k = c; k < 3; k++) A[r * 3 + k] -= f * A[c * 3 + k];
            b[r] -= f * b[c];
        }
    }
    for (int r = 2; r >= 0; r--) {
        double s = b[r];
        for (int k = r + 1; k < 3; k++) s -= A[r * 3 + k] * x[k];
        x[r] = s / A[r * 3 + r];
    }
    return 1;
}

static void inverse3(const double m[9], double o[9]) {
    double det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
    double id = 1.0 / det;
    o[0] = (m[4] * m[8] - m[5] * m[7]) * id;
    o[1] = (m[2] * m[7] - m[1] * m[8]) * id;
    o[2] = (m[1] * m[5] - m[2] * m[4]) * id;
    o[3] = (m[5] * m[6] - m[3] * m[8]) * id;
    o[4] = (m[0] * m[8] - m[2] * m[6]) * id;
    o[5] = (m[2] * m[3] - m[0] * m[5]) * id;
    o[6] = (m[3] * m[7] - m[4] * m[6]) * id;
    o[7] = (m[1] * m[6] - m[0] * m[7]) * id;
    o[8] = (m[0] * m[4] - m[1] * m[3]) * id;
}

static void matmul3(const double a[9], const double b[9], double o[9]) {
    double r[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    memcpy(o, r, sizeof r);
}

/* torch.linspace(start, end, n) values (n == 1 gives start) */
static double linspace(double a, double b, int n, int i) { return n > 1 ? a + (b - a) * i / (n - 1) : a; }

/* ---- render_stabilization_path ------------------------------------------------ */
void gs_traj_gaussian_kernel(int k, double *out) {
    /* OpenCV's fixed tables for sigma <= 0 and k <= 9 (dyadic, exact in float) */
    static const double tab[5][9] = {
        {1},
        {0.25, 0.5, 0.25},
        {0.0625, 0.25, 0.375, 0.25, 0.0625},
        {0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125},
        {4 / 256., 13 / 256., 30 / 256., 51 / 256., 60 / 256., 51 / 256., 30 / 256., 13 / 256., 4 / 256.}};
    if (k % 2 == 1 && k <= 9) {
        for (int i = 0; i < k; i++) out[i] = tab[k / 2][i];
        return;
    }
    double sigma = 0.3 * ((k - 1) * 0.5 - 1) + 0.8, s2 = -0.5 / (sigma * sigma), sum = 0;
    for (int i = 0; i < k; i++) {
        double x = i - (k - 1) * 0.5;
        out[i] = exp(s2 * x * x);
        sum += out[i];
    }
    for (int i = 0; i < k; i++) out[i] = (double)(float)(out[i] / sum);
}

gs_status gs_traj_smooth(const double *c2w, int n, int k, double *out) {
    if (n <= 0 || n > MAX_PATH) return gs_error(GS_ERR_INVALID, "smooth: %d poses out of range", n);
    if (n == 1) {
        memcpy(out, c2w, 16 * sizeof *out);
        return GS_OK;
    }
    if (k < 1) k = 1;
    if (k % 2 == 0) k++;
    int max_odd = n % 2 ? n : n - 1;
    if (k > max_odd) k = max_odd;
    if (n >= 3 && k < 3) k = 3;
    double *ker = gs_malloc((size_t)k, sizeof(double), "smoothing kernel");
    double *res = gs_malloc((size_t)n * 16, sizeof(double), "smoothed path");
    if (!ker || !res) { free(ker); free(res); return GS_ERR_NOMEM; }
    gs_traj_gaussian_kernel(k, ker);
    int pad = k / 2;
    for (int i = 0; i < n; i++) {
        double v[3][3] = {{0}}; /* r1, r2, t */
        for (int j = 0; j < k; j++) {
            int s = i + j - pad; /* reflect padding without repeating the edge */
            if (s < 0) s = -s;
            if (s >= n) s = 2 * (n - 1) - s;
            const double *m = c2w + (size_t)s * 16;
            static const int cols[3] = {0, 1, 3};
            for (int c = 0; c < 3; c++)
                for (int r = 0; r < 3; r++) v[c][r] += ker[j] * m[r * 4 + cols[c]];
        }
        normalize3(v[0]);
        normalize3(v[1]);
        double r3[3];
        cross3(v[0], v[1], r3);
        double *o = res + (size_t)i * 16;
        identity4(o);
        set_col(o, 0, v[0]);
        set_col(o, 1, v[1]);
        set_col(o, 2, r3);
        set_col(o, 3, v[2]);
    }
    memcpy(out, res, (size_t)n * 16 * sizeof *out);
    free(ker);
    free(res);
    return GS_OK;
}

/* ---- interpolate_extrinsics --------------------------------------------------- */
/* columns [y x z, y, z] */
static void coordinate_frame(const double y[3], const double z[3], double f[9]) {
    double x[3];
    cross3(y, z, x);
    for (int r = 0; r < 3; r++) { f[r * 3] = x[r]; f[r * 3 + 1] = y[r]; f[r * 3 + 2] = z[r]; }
}

/* generate_rotation_coordinate_frame(a, b): y normal to the plane of a and b */
static void rotation_frame(const double a[3], const double b_[3], double f[9]) {
    double b[3] = {b_[0], b_[1], b_[2]}, y[3];
    if (fabs(fabs(dot3(a, b)) - 1) < TRAJ_EPS) { b[0] = 0; b[1] = 0; b[2] = 1; }
    if (fabs(fabs(dot3(a, b)) - 1) < TRAJ_EPS) { b[0] = 0; b[1] = 1; b[2] = 0; }
    cross3(a, b, y);
    normalize3(y);
    coordinate_frame(y, a, f);
}

/* intrinsic Y-X-Z Euler angles (M = Ry(a) Rx(b) Rz(c)); returns a and c */
static void euler_yxz(const double M[9], double *ya, double *zc) {
    *ya = atan2(M[2], M[8]);
    *zc = atan2(M[3], M[4]);
}

static void extrinsics_to_params(const double *E, const double frame[9], const double pivot[3], double p[5]) {
    double axis[3] = {frame[1], frame[4], frame[7]}, look[3], F[9], o[3], d[3];
    col(E, 2, look);
    coordinate_frame(axis, look, F);
    col(E, 3, o);
    for (int i = 0; i < 3; i++) d[i] = pivot[i] - o[i];
    for (int j = 0; j < 3; j++) p[j] = F[j] * d[0] + F[3 + j] * d[1] + F[6 + j] * d[2];
    double fi[9], R[9], M[9];
    inverse3(frame, fi);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) R[r * 3 + c] = E[r * 4 + c];
    matmul3(fi, R, M);
    euler_yxz(M, &p[3], &p[4]);
}

static void params_to_extrinsics(const double p[5], const double frame[9], const double pivot[3], double *E) {
    double cy = cos(p[3]), sy = sin(p[3]), cz = cos(p[4]), sz = sin(p[4]);
    double Rel[9] = {cy * cz, -cy * sz, sy, sz, cz, 0, -sy * cz, sy * sz, cy}; /* Ry(y) Rz(z) */
    double R[9];
    matmul3(frame, Rel, R);
    double axis[3] = {frame[1], frame[4], frame[7]}, look[3] = {R[2], R[5], R[8]}, F[9];
    coordinate_frame(axis, look, F);
    identity4(E);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) E[r * 4 + c] = R[r * 3 + c];
        E[r * 4 + 3] = pivot[r] - (F[r * 3] * p[0] + F[r * 3 + 1] * p[1] + F[r * 3 + 2] * p[2]);
    }
}

/* shortest way round the circle from a to b (interpolate_circular) */
static double lerp_circular(double a, double b, double t) {
    const double tau = 2 * M_PI;
    a -= floor(a / tau) * tau;
    b -= floor(b / tau) * tau;
    double d = fabs(b - a), al = a - tau, dl = fabs(b - al), ar = a + tau, dr = fabs(b - ar);
    int use_d = d < dl && d < dr, use_l = dl < dr && !use_d;
    double s = use_d ? a : use_l ? al : ar;
    return s + (b - s) * t;
}

void gs_traj_interpolate_extrinsics(const double a[16], const double b[16], const double *t, int nt, double *out) {
    double la[3], lb[3], oa[3], ob[3], pivot[3];
    col(a, 2, la);
    col(b, 2, lb);
    col(a, 3, oa);
    col(b, 3, ob);
    int parallel = fabs(fabs(dot3(la, lb)) - 1) < TRAJ_EPS;
    for (int i = 0; i < 3; i++) pivot[i] = 0.5 * (oa[i] + ob[i]);
    if (!parallel) { /* least-squares intersection of the two look rays */
        double A[9] = {0}, r[3] = {0};
        const double *L[2] = {la, lb}, *O[2] = {oa, ob};
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    double nij = L[k][i] * L[k][j] - (i == j);
                    A[i * 3 + j] += nij;
                    r[i] += nij * O[k][j];
                }
        double x[3];
        if (solve3(A, r, x)) memcpy(pivot, x, sizeof x);
    }
    double frame[9], pa[5], pb[5];
    rotation_frame(la, lb, frame);
    extrinsics_to_params(a, frame, pivot, pa);
    extrinsics_to_params(b, frame, pivot, pb);
    for (int k = 0; k < nt; k++) {
        double p[5];
        for (int i = 0; i < 3; i++) p[i] = pa[i] + (pb[i] - pa[i]) * t[k];
        p[3] = lerp_circular(pa[3], pb[3], t[k]);
        p[4] = lerp_circular(pa[4], pb[4], t[k]);
        params_to_extrinsics(p, frame, pivot, out + (size_t)k * 16);
    }
}

/* ---- wander and dolly zoom ---------------------------------------------------- */
void gs_traj_wander(const double c2w[16], const double kn[4], double fx_px, int num_frames, double max_disp,
                    double *c2w_out, double *kn_out) {
    double r = max_disp / fx_px;
    memcpy(c2w_out, c2w, 16 * sizeof *c2w);
    for (int i = 0; i < num_frames; i++) {
        double th = linspace(0, 2 * M_PI, num_frames, i), x = r * sin(th), yz = r * cos(th) / 3.0;
        double *m = c2w_out + (size_t)(i + 1) * 16, d[3] = {-x, -yz, -yz};
        memcpy(m, c2w, 16 * sizeof *m);
        translate_local(m, d);
    }
    memcpy(c2w_out + (size_t)(num_frames + 1) * 16, c2w, 16 * sizeof *c2w);
    for (int i = 0; i < num_frames + 2; i++) memcpy(kn_out + (size_t)i * 4, kn, 4 * sizeof *kn);
}

void gs_traj_dolly_zoom(const double c2w[16], const double kn[4], int num_frames, double max_disp, double d_focus,
                        double *c2w_out, double *kn_out) {
    for (int i = 0; i < num_frames; i++) {
        double t = linspace(0, 2, num_frames, i), z = 0.5 * (1.0 - cos(M_PI * t)) * max_disp;
        double *m = c2w_out + (size_t)i * 16, d[3] = {0, 0, -z};
        memcpy(m, c2w, 16 * sizeof *m);
        translate_local(m, d);
        double s = fmax(d_focus / (d_focus + z), 1e-6);
        double *k = kn_out + (size_t)i * 4;
        k[0] = kn[0] * s;
        k[1] = kn[1] * s;
        k[2] = kn[2];
        k[3] = kn[3];
    }
}

/* ---- interpolate / wobble_inter ------------------------------------------------ */
int gs_traj_inter_len(int s) {
    if (s < 2) return 0;
    int len = 8, total = (s - 1) * 8;
    if (total > 24 * 18) len = 24 * 10 / (s - 1);
    if (total < 24 * 2) len = 24 * 2 / (s - 1);
    return len < 1 ? 1 : len;
}

/* consecutive pairs (i, i + step), nt frames each with times t; every segment
 * but the first drops its first frame; wobble adds the circular offset */
static gs_status segments(const gs_traj_path *in, int step, const double *t, int nt, int wobble, gs_traj_path *out) {
    int nseg = 0;
    for (int i = 0; i + step < in->n; i += step) nseg++;
    if (nseg == 0) return gs_error(GS_ERR_INVALID, "trajectory: too few views (%d) to interpolate", in->n);
    gs_status st = path_alloc(out, nseg * (nt - 1) + 1);
    if (st) return st;
    double *buf = gs_malloc((size_t)nt * 16, sizeof(double), "trajectory segment");
    if (!buf) { gs_traj_path_free(out); return GS_ERR_NOMEM; }
    int f = 0;
    double delta_prev = 0;
    for (int i = 0, seg = 0; i + step < in->n; i += step, seg++) {
        const double *a = in->c2w + (size_t)i * 16, *b = in->c2w + (size_t)(i + step) * 16;
        gs_traj_interpolate_extrinsics(a, b, t, nt, buf);
        if (wobble) { /* radius: half the running mean of the centre distances */
            double d = sqrt((a[3] - b[3]) * (a[3] - b[3]) + (a[7] - b[7]) * (a[7] - b[7]) + (a[11] - b[11]) * (a[11] - b[11]));
            if (seg > 0) d = (delta_prev + d) / 2;
            delta_prev = d;
            for (int k = 0; k < nt; k++) {
                double r = 0.5 * d, off[3] = {sin(2 * M_PI * t[k]) * r, -cos(2 * M_PI * t[k]) * r, 0};
                translate_local(buf + (size_t)k * 16, off);
            }
        }
        for (int k = seg ? 1 : 0; k < nt; k++, f++) {
            memcpy(out->c2w + (size_t)f * 16, buf + (size_t)k * 16, 16 * sizeof(double));
            const double *ka = in->kn + (size_t)i * 4, *kb = in->kn + (size_t)(i + step) * 4;
            for (int c = 0; c < 4; c++) out->kn[(size_t)f * 4 + c] = ka[c] + (kb[c] - ka[c]) * t[k];
        }
    }
    free(buf);
    return GS_OK;
}

static gs_status path_copy(const gs_traj_path *in, gs_traj_path *out) {
    gs_status st = path_alloc(out, in->n);
    if (st) return st;
    memcpy(out->c2w, in->c2w, (size_t)in->n * 16 * sizeof(double));
    memcpy(out->kn, in->kn, (size_t)in->n * 4 * sizeof(double));
    return GS_OK;
}

/* ---- the modes ----------------------------------------------------------------- */
static gs_status input_path(const gs_cameras *in, gs_traj_path *p) {
    if (!in || in->n <= 0) return gs_error(GS_ERR_INVALID, "trajectory: no input cameras");
    if (in->n > GS_MAX_CAMERAS) return gs_error(GS_ERR_INVALID, "trajectory: %d input cameras exceed %d", in->n, GS_MAX_CAMERAS);
    for (int i = 0; i < in->n; i++) {
        const gs_camera *c = &in->cams[i];
        int finite = isfinite(c->fx) && isfinite(c->fy) && isfinite(c->cx) && isfinite(c->cy);
        for (int k = 0; k < 9; k++) finite &= isfinite(c->R[k]) != 0;
        for (int k = 0; k < 3; k++) finite &= isfinite(c->t[k]) != 0;
        if (!c->has_pose) return gs_error(GS_ERR_INVALID, "trajectory: camera %d has no pose", i);
        if (!finite || !(c->fx > 0) || !(c->fy > 0) || c->width <= 0 || c->height <= 0)
            return gs_error(GS_ERR_INVALID, "trajectory: camera %d has unusable values (size %dx%d, fx %g, fy %g, or non-finite pose)",
                            i, c->width, c->height, c->fx, c->fy);
    }
    gs_status st = path_alloc(p, in->n);
    if (st) return st;
    for (int i = 0; i < in->n; i++) {
        const gs_camera *c = &in->cams[i];
        gs_camera_get_c2w(c, p->c2w + (size_t)i * 16); /* [R^T | -R^T t], DA3's affine_inverse */
        double *k = p->kn + (size_t)i * 4;
        k[0] = c->fx / c->width;
        k[1] = c->fy / c->height;
        k[2] = c->cx / c->width;
        k[3] = c->cy / c->height;
    }
    return GS_OK;
}

static gs_status interpolate_path(const gs_traj_path *in, gs_traj_path *out) {
    int len = gs_traj_inter_len(in->n);
    if (len <= 2) return path_copy(in, out);
    double *t = gs_malloc((size_t)len, sizeof(double), "trajectory times");
    if (!t) return GS_ERR_NOMEM;
    for (int i = 0; i < len; i++) t[i] = (cos(M_PI * (linspace(0, 1, len, i) + 1)) + 1) / 2; /* cosine easing */
    gs_status st = segments(in, 1, t, len, 0, out);
    free(t);
    return st;
}

static gs_status smooth_inplace(gs_traj_path *p) { return gs_traj_smooth(p->c2w, p->n, 50, p->c2w); }

/* interpolate + smooth, then a wander and a dolly zoom at the middle frame */
static gs_status extend_path(const gs_traj_path *in, int in_w, gs_traj_path *out) {
    gs_traj_path base;
    gs_status st = interpolate_path(in, &base);
    if (!st) st = smooth_inplace(&base);
    if (st) { gs_traj_path_free(&base); return st; }
    int mid = base.n / 2, nf = mid / 2;
    nf = nf > 60 ? 60 : nf;
    nf = nf < 36 ? 36 : nf;
    st = path_alloc(out, base.n + (nf + 2) + nf);
    if (st) { gs_traj_path_free(&base); return st; }
    const double *m = base.c2w + (size_t)mid * 16, *k = base.kn + (size_t)mid * 4;
    memcpy(out->c2w, base.c2w, (size_t)mid * 16 * sizeof(double));
    memcpy(out->kn, base.kn, (size_t)mid * 4 * sizeof(double));
    size_t f = (size_t)mid;
    gs_traj_wander(m, k, k[0] * in_w, nf, 24.0, out->c2w + f * 16, out->kn + f * 4);
    f += (size_t)nf + 2;
    gs_traj_dolly_zoom(m, k, nf, 0.1, 10.0, out->c2w + f * 16, out->kn + f * 4);
    f += (size_t)nf;
    memcpy(out->c2w + f * 16, m, (size_t)(base.n - mid) * 16 * sizeof(double));
    memcpy(out->kn + f * 4, k, (size_t)(base.n - mid) * 4 * sizeof(double));
    gs_traj_path_free(&base);
    return GS_OK;
}

static gs_status da3_path_n(const gs_cameras *in, gs_traj_mode mode, int num_frames, gs_traj_path *out) {
    memset(out, 0, sizeof *out);
    if (mode == GS_TRAJ_ORBIT || mode < 0 || mode >= GS_TRAJ_COUNT)
        return gs_error(GS_ERR_INVALID, "trajectory: '%s' is not a Depth Anything 3 mode", gs_traj_mode_name(mode));
    gs_traj_path p;
    gs_status st = input_path(in, &p);
    if (st) return st;
    if (p.n == 1 && mode != GS_TRAJ_DOLLY_ZOOM) mode = GS_TRAJ_WANDER; /* as export_to_gs_video */
    int in_w = in->cams[0].width;
    switch (mode) {
    case GS_TRAJ_ORIGINAL: st = path_copy(&p, out); break;
    case GS_TRAJ_SMOOTH:
        st = path_copy(&p, out);
        if (!st) st = smooth_inplace(out);
        break;
    case GS_TRAJ_INTERPOLATE: st = interpolate_path(&p, out); break;
    case GS_TRAJ_INTERPOLATE_SMOOTH:
        st = interpolate_path(&p, out);
        if (!st) st = smooth_inplace(out);
        break;
    case GS_TRAJ_EXTEND: st = extend_path(&p, in_w, out); break;
    case GS_TRAJ_WANDER: {
        int nf = num_frames > 0 ? num_frames : 120;
        st = path_alloc(out, nf + 2);
        if (!st) gs_traj_wander(p.c2w, p.kn, p.kn[0] * in_w, nf, 24.0, out->c2w, out->kn);
        break;
    }
    case GS_TRAJ_DOLLY_ZOOM: {
        int nf = num_frames > 0 ? num_frames : 120;
        st = path_alloc(out, nf);
        if (!st) gs_traj_dolly_zoom(p.c2w, p.kn, nf, 2.0, 30.0, out->c2w, out->kn);
        break;
    }
    case GS_TRAJ_WOBBLE_INTER: {
        if (p.n <= 3) {
            st = gs_error(GS_ERR_INVALID, "trajectory wobble_inter: needs at least 4 views (it joins every 3rd), got %d", p.n);
            break;
        }
        double t[30];
        for (int i = 0; i < 30; i++) t[i] = linspace(0, 1, 30, i);
        st = segments(&p, 3, t, 30, 1, out);
        break;
    }
    default: st = gs_error(GS_ERR_INVALID, "trajectory: unknown mode %d", (int)mode);
    }
    gs_traj_path_free(&p);
    return st;
}

gs_status gs_traj_da3_path(const gs_cameras *in, gs_traj_mode mode, gs_traj_path *out) {
    return da3_path_n(in, mode, 0, out);
}

gs_status gs_traj_resample(const gs_traj_path *in, int n, gs_traj_path *out) {
    memset(out, 0, sizeof *out);
    if (in->n <= 0) return gs_error(GS_ERR_INVALID, "trajectory: cannot resample an empty path");
    gs_status st = path_alloc(out, n);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        double u = n > 1 ? (double)i * (in->n - 1) / (n - 1) : 0;
        int j = (int)floor(u);
        if (j >= in->n - 1) j = in->n > 1 ? in->n - 2 : 0;
        double f = in->n > 1 ? u - j : 0;
        int j1 = in->n > 1 ? j + 1 : j;
        const double *a = in->c2w + (size_t)j * 16, *b = in->c2w + (size_t)j1 * 16;
        double *o = out->c2w + (size_t)i * 16;
        double v[3][3];
        static const int cols[3] = {0, 1, 3};
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < 3; r++) v[c][r] = a[r * 4 + cols[c]] + (b[r * 4 + cols[c]] - a[r * 4 + cols[c]]) * f;
        normalize3(v[0]);
        normalize3(v[1]);
        double r3[3];
        cross3(v[0], v[1], r3);
        identity4(o);
        set_col(o, 0, v[0]);
        set_col(o, 1, v[1]);
        set_col(o, 2, r3);
        set_col(o, 3, v[2]);
        for (int c = 0; c < 4; c++) {
            double ka = in->kn[(size_t)j * 4 + c], kb = in->kn[(size_t)j1 * 4 + c];
            out->kn[(size_t)i * 4 + c] = ka + (kb - ka) * f;
        }
    }
    return GS_OK;
}

/* get_fov: angle between the rays through the middles of opposite image edges */
static double fov_of(double fx, double fy, double cx, double cy, int axis) {
    double a[3], b[3];
    if (axis == 0) {
        a[0] = (0 - cx) / fx; a[1] = (0.5 - cy) / fy;
        b[0] = (1 - cx) / fx; b[1] = (0.5 - cy) / fy;
    } else {
        a[0] = (0.5 - cx) / fx; a[1] = (0 - cy) / fy;
        b[0] = (0.5 - cx) / fx; b[1] = (1 - cy) / fy;
    }
    a[2] = b[2] = 1;
    normalize3(a);
    normalize3(b);
    double d = dot3(a, b);
    return acos(d > 1 ? 1 : d < -1 ? -1 : d);
}

gs_status gs_traj_to_cameras(const gs_traj_path *p, int width, int height, int keep_pp, const char *prefix,
                             gs_cameras *out) {
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0 || width > 65536 || height > 65536)
        return gs_error(GS_ERR_INVALID, "trajectory: output size %dx%d out of range", width, height);
    if (p->n <= 0 || p->n > GS_MAX_CAMERAS)
        return gs_error(GS_ERR_INVALID, "trajectory: %d frames out of range (1..%d)", p->n, GS_MAX_CAMERAS);
    out->cams = gs_calloc((size_t)p->n, sizeof(gs_camera), "trajectory cameras");
    if (!out->cams) return GS_ERR_NOMEM;
    out->n = p->n;
    for (int i = 0; i < p->n; i++) {
        gs_camera *c = &out->cams[i];
        const double *k = p->kn + (size_t)i * 4;
        gs_camera_set_c2w(c, p->c2w + (size_t)i * 16);
        c->has_pose = 1;
        c->width = width;
        c->height = height;
        if (keep_pp) {
            c->fx = k[0] * width; c->fy = k[1] * height;
            c->cx = k[2] * width; c->cy = k[3] * height;
        } else { /* render_3dgs: focal from the field of view, centred principal point */
            c->fx = width / (2 * tan(0.5 * fov_of(k[0], k[1], k[2], k[3], 0)));
            c->fy = height / (2 * tan(0.5 * fov_of(k[0], k[1], k[2], k[3], 1)));
            c->cx = width / 2.0;
            c->cy = height / 2.0;
        }
        snprintf(c->name, sizeof c->name, "%s_%05d", prefix ? prefix : "frame", i);
    }
    return GS_OK;
}

void gs_traj_opts_default(gs_traj_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = GS_TRAJ_EXTEND;
}

gs_traj_mode gs_traj_effective_mode(gs_traj_mode mode, int n_views) {
    return n_views == 1 && mode != GS_TRAJ_DOLLY_ZOOM && mode != GS_TRAJ_ORBIT ? GS_TRAJ_WANDER : mode;
}

gs_status gs_traj_check(gs_traj_mode mode, int n_views, int n_frames) {
    if (mode < 0 || mode >= GS_TRAJ_COUNT) return gs_error(GS_ERR_INVALID, "trajectory: unknown mode %d", (int)mode);
    if (n_frames < 0 || n_frames > GS_MAX_CAMERAS)
        return gs_error(GS_ERR_INVALID, "trajectory: frame count %d out of range (0..%d)", n_frames, GS_MAX_CAMERAS);
    if (mode == GS_TRAJ_ORBIT) return GS_OK;
    if (n_views <= 0) return gs_error(GS_ERR_INVALID, "trajectory %s: needs input cameras", gs_traj_mode_name(mode));
    if (n_views > GS_MAX_CAMERAS)
        return gs_error(GS_ERR_INVALID, "trajectory: %d input cameras exceed %d", n_views, GS_MAX_CAMERAS);
    mode = gs_traj_effective_mode(mode, n_views);
    if (mode == GS_TRAJ_WOBBLE_INTER && n_views <= 3)
        return gs_error(GS_ERR_INVALID, "trajectory wobble_inter: needs at least 4 views (it joins every 3rd), got %d",
                        n_views);
    if (mode == GS_TRAJ_WANDER && n_frames > 0 && n_frames < 3)
        return gs_error(GS_ERR_INVALID, "trajectory wander: needs at least 3 frames, got %d", n_frames);
    if ((mode == GS_TRAJ_ORIGINAL || mode == GS_TRAJ_SMOOTH) && n_frames > 0 && n_frames != n_views)
        return gs_error(GS_ERR_INVALID, "trajectory %s: renders one frame per input view (%d), not %d",
                        gs_traj_mode_name(mode), n_views, n_frames);
    return GS_OK;
}

gs_status gs_trajectory(const gs_cameras *in, const gs_scene *scene, const gs_traj_opts *o, gs_cameras *out) {
    memset(out, 0, sizeof *out);
    gs_traj_opts od;
    if (!o) { gs_traj_opts_default(&od); o = &od; }
    gs_status st0 = gs_traj_check(o->mode, in ? in->n : 0, o->n_frames);
    if (st0) return st0;
    if ((o->width > 0) != (o->height > 0) || o->width < 0 || o->height < 0)
        return gs_error(GS_ERR_INVALID, "trajectory: output size %dx%d: give both or neither", o->width, o->height);
    if (o->mode == GS_TRAJ_ORBIT)
        return gs_orbit_path(scene, in, o->n_frames ? o->n_frames : 120, o->width, o->height, out);
    gs_traj_mode mode = gs_traj_effective_mode(o->mode, in->n);
    int nf = 0, resample = 0;
    if (o->n_frames > 0) {
        switch (mode) {
        case GS_TRAJ_WANDER: nf = o->n_frames - 2; break;
        case GS_TRAJ_DOLLY_ZOOM: nf = o->n_frames; break;
        case GS_TRAJ_ORIGINAL:
        case GS_TRAJ_SMOOTH: break;
        default: resample = 1;
        }
    }
    gs_traj_path p, q;
    gs_status st = da3_path_n(in, mode, nf, &p);
    if (st) return st;
    if (resample && p.n != o->n_frames) {
        st = gs_traj_resample(&p, o->n_frames, &q);
        gs_traj_path_free(&p);
        if (st) return st;
        p = q;
    }
    int w = o->width > 0 ? o->width : in->cams[0].width, h = o->height > 0 ? o->height : in->cams[0].height;
    st = gs_traj_to_cameras(&p, w, h, o->keep_pp, gs_traj_mode_name(mode), out);
    gs_traj_path_free(&p);
    return st;
}
