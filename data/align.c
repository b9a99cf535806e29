/* align.c - Sim(3) / Umeyama alignment (evo semantics, double precision),
 * DA3's RANSAC pose alignment with a deterministic PRNG, applying Sim(3) to
 * cameras and scenes, exact SH rotation in the 3DGS basis, and
 * farthest-point view selection. See align.h. */
#include "data/align.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- small 3x3 helpers (row-major) -------------------------------------------- */
static void mat3_mul(const double A[9], const double B[9], double C[9]) {
    double T[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) T[i * 3 + j] = A[i * 3] * B[j] + A[i * 3 + 1] * B[3 + j] + A[i * 3 + 2] * B[6 + j];
    memcpy(C, T, sizeof T);
}
static void mat3_mul_bt(const double A[9], const double B[9], double C[9]) { /* A B^T */
    double T[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) T[i * 3 + j] = A[i * 3] * B[j * 3] + A[i * 3 + 1] * B[j * 3 + 1] + A[i * 3 + 2] * B[j * 3 + 2];
    memcpy(C, T, sizeof T);
}
static void mat3_vec(const double A[9], const double x[3], double y[3]) {
    double t[3];
    for (int i = 0; i < 3; i++) t[i] = A[i * 3] * x[0] + A[i * 3 + 1] * x[1] + A[i * 3 + 2] * x[2];
    memcpy(y, t, sizeof t);
}
static double mat3_det(const double A[9]) {
    return A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) + A[2] * (A[3] * A[7] - A[4] * A[6]);
}
static int all_finite(const double *v, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}

void gs_sim3_identity(gs_sim3 *T) {
    memset(T, 0, sizeof *T);
    T->R[0] = T->R[4] = T->R[8] = 1;
    T->s = 1;
}

void gs_sim3_apply_point(const gs_sim3 *T, const double x[3], double y[3]) {
    double r[3];
    mat3_vec(T->R, x, r);
    for (int i = 0; i < 3; i++) y[i] = T->s * r[i] + T->t[i];
}

void gs_sim3_inverse(const gs_sim3 *T, gs_sim3 *inv) {
    gs_sim3 o;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) o.R[i * 3 + j] = T->R[j * 3 + i];
    o.s = 1.0 / T->s;
    double r[3];
    mat3_vec(o.R, T->t, r);
    for (int i = 0; i < 3; i++) o.t[i] = -r[i] * o.s;
    *inv = o;
}

/* ---- SVD -------------------------------------------------------------------------- */
static void cross3(const double a[3], const double b[3], double c[3]) {
    c[0] = a[1] * b[2] - a[2] * b[1];
    c[1] = a[2] * b[0] - a[0] * b[2];
    c[2] = a[0] * b[1] - a[1] * b[0];
}

/* A unit vector orthogonal to unit u. */
static void any_orthogonal(const double u[3], double o[3]) {
    int k = 0; /* axis least aligned with u */
    for (int i = 1; i < 3; i++)
        if (fabs(u[i]) < fabs(u[k])) k = i;
    double e[3] = {0, 0, 0};
    e[k] = 1;
    cross3(u, e, o);
    double n = sqrt(o[0] * o[0] + o[1] * o[1] + o[2] * o[2]);
    for (int i = 0; i < 3; i++) o[i] /= n;
}

void gs_svd3(const double A[9], double U[9], double S[3], double V[9]) {
    /* One-sided Jacobi: rotate column pairs of B = A V until they are
     * orthogonal; then B = U diag(S). Converges quadratically; 3x3 needs a
     * handful of sweeps. */
    double B[9], W[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    memcpy(B, A, sizeof B);
    for (int sweep = 0; sweep < 64; sweep++) {
        int rotated = 0;
        for (int p = 0; p < 2; p++)
            for (int q = p + 1; q < 3; q++) {
                double a = 0, b = 0, g = 0;
                for (int i = 0; i < 3; i++) {
                    a += B[i * 3 + p] * B[i * 3 + p];
                    b += B[i * 3 + q] * B[i * 3 + q];
                    g += B[i * 3 + p] * B[i * 3 + q];
                }
                if (g == 0 || fabs(g) <= 1e-17 * sqrt(a * b)) continue;
                rotated = 1;
                double zeta = (b - a) / (2 * g);
                double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1 + zeta * zeta));
                double c = 1 / sqrt(1 + t * t), s = c * t;
                for (int i = 0; i < 3; i++) {
                    double bp = B[i * 3 + p], bq = B[i * 3 + q];
                    B[i * 3 + p] = c * bp - s * bq;
                    B[i * 3 + q] = s * bp + c * bq;
                    double wp = W[i * 3 + p], wq = W[i * 3 + q];
                    W[i * 3 + p] = c * wp - s * wq;
                    W[i * 3 + q] = s * wp + c * wq;
                }
            }
        if (!rotated) break;
    }
    double sv[3];
    int ord[3] = {0, 1, 2};
    for (int j = 0; j < 3; j++) sv[j] = sqrt(B[j] * B[j] + B[3 + j] * B[3 + j] + B[6 + j] * B[6 + j]);
    for (int i = 0; i < 3; i++) /* sort descending */
        for (int j = i + 1; j < 3; j++)
            if (sv[ord[j]] > sv[ord[i]]) { int tmp = ord[i]; ord[i] = ord[j]; ord[j] = tmp; }
    double u[3][3], v[3][3];
    for (int k = 0; k < 3; k++) {
        int j = ord[k];
        S[k] = sv[j];
        for (int i = 0; i < 3; i++) v[k][i] = W[i * 3 + j];
        for (int i = 0; i < 3; i++) u[k][i] = sv[j] > 0 ? B[i * 3 + j] / sv[j] : 0;
    }
    /* Complete / re-orthogonalise U for tiny singular values, whose columns
     * are numerically meaningless after the division. */
    double s0 = S[0];
    if (!(s0 > 0)) {
        memset(u, 0, sizeof u);
        u[0][0] = u[1][1] = u[2][2] = 1;
    } else {
        if (!(S[1] > 1e-13 * s0)) {
            any_orthogonal(u[0], u[1]);
        }
        double c[3];
        cross3(u[0], u[1], c);
        double sign = 1;
        if (S[2] > 1e-13 * s0 && c[0] * u[2][0] + c[1] * u[2][1] + c[2] * u[2][2] < 0) sign = -1;
        for (int i = 0; i < 3; i++) u[2][i] = sign * c[i];
    }
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) {
            U[i * 3 + k] = u[k][i];
            V[i * 3 + k] = v[k][i];
        }
}

void gs_project_so3(const double M[9], double R[9]) {
    double U[9], S[3], V[9];
    gs_svd3(M, U, S, V);
    if (mat3_det(U) * mat3_det(V) < 0)
        for (int i = 0; i < 3; i++) U[i * 3 + 2] = -U[i * 3 + 2];
    mat3_mul_bt(U, V, R);
}

double gs_rotation_angle_deg(const double Ra[9], const double Rb[9]) {
    /* angle of Ra^T Rb from its trace; atan2 of the skew part keeps precision
     * near 0 and 180 degrees. */
    double M[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            M[i * 3 + j] = Ra[0 * 3 + i] * Rb[0 * 3 + j] + Ra[1 * 3 + i] * Rb[1 * 3 + j] + Ra[2 * 3 + i] * Rb[2 * 3 + j];
    double c = (M[0] + M[4] + M[8] - 1) / 2;
    double sx = M[7] - M[5], sy = M[2] - M[6], sz = M[3] - M[1];
    double s = sqrt(sx * sx + sy * sy + sz * sz) / 2;
    return atan2(s, c) * (180.0 / M_PI);
}

/* ---- Umeyama ------------------------------------------------------------------------ */
typedef struct {
    double U[9], D[3], V[9], sigma_x, mx[3], my[3];
} umeyama_parts;

static gs_status umeyama_core(const double *x, const double *y, int n, umeyama_parts *p) {
    if (n < 1) return gs_error(GS_ERR_INVALID, "umeyama: need at least one point pair (got %d)", n);
    if (!all_finite(x, (size_t)n * 3) || !all_finite(y, (size_t)n * 3))
        return gs_error(GS_ERR_INVALID, "umeyama: non-finite point coordinates");
    memset(p, 0, sizeof *p);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            p->mx[k] += x[i * 3 + k];
            p->my[k] += y[i * 3 + k];
        }
    for (int k = 0; k < 3; k++) {
        p->mx[k] /= n;
        p->my[k] /= n;
    }
    double cov[9] = {0};
    for (int i = 0; i < n; i++) {
        double dx[3], dy[3];
        for (int k = 0; k < 3; k++) {
            dx[k] = x[i * 3 + k] - p->mx[k];
            dy[k] = y[i * 3 + k] - p->my[k];
            p->sigma_x += dx[k] * dx[k];
        }
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) cov[a * 3 + b] += dy[a] * dx[b];
    }
    p->sigma_x /= n;
    for (int k = 0; k < 9; k++) cov[k] /= n;
    gs_svd3(cov, p->U, p->D, p->V);
    return GS_OK;
}

gs_status gs_umeyama(const double *x, const double *y, int n, int with_scale, gs_sim3 *out) {
    umeyama_parts p;
    gs_status st = umeyama_core(x, y, n, &p);
    if (st) return st;
    /* evo refuses rank(Σ) < m-1 with an absolute epsilon; a relative test is
     * used here so that the verdict does not depend on the units. */
    if (!(p.D[0] > 0) || !(p.D[1] > 1e-12 * p.D[0]))
        return gs_error(GS_ERR_INVALID,
                        "umeyama: degenerate point sets (%d points; coincident or collinear centres: "
                        "singular values %.3g %.3g %.3g), the rotation is undefined",
                        n, p.D[0], p.D[1], p.D[2]);
    double Sd[3] = {1, 1, 1};
    if (mat3_det(p.U) * mat3_det(p.V) < 0) Sd[2] = -1;
    double US[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) US[i * 3 + j] = p.U[i * 3 + j] * Sd[j];
    gs_sim3 T;
    mat3_mul_bt(US, p.V, T.R);
    T.s = with_scale ? (p.D[0] * Sd[0] + p.D[1] * Sd[1] + p.D[2] * Sd[2]) / p.sigma_x : 1.0;
    double r[3];
    mat3_vec(T.R, p.mx, r);
    for (int k = 0; k < 3; k++) T.t[k] = p.my[k] - T.s * r[k];
    *out = T;
    return GS_OK;
}

gs_status gs_umeyama_scale(const double *x, const double *y, int n, double *s) {
    umeyama_parts p;
    gs_status st = umeyama_core(x, y, n, &p);
    if (st) return st;
    if (!(p.D[0] > 0) || !(p.sigma_x > 0))
        return gs_error(GS_ERR_INVALID, "umeyama: degenerate point sets (%d points, all coincident on one side), "
                                        "the scale is undefined", n);
    double sign = mat3_det(p.U) * mat3_det(p.V) < 0 ? -1 : 1;
    *s = (p.D[0] + p.D[1] + sign * p.D[2]) / p.sigma_x;
    return GS_OK;
}

/* ---- DA3 pose alignment (with RANSAC) ------------------------------------------------- */
static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* uniform in [0, n) without modulo bias */
static uint64_t rand_below(uint64_t *state, uint64_t n) {
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = splitmix64(state);
    while (r >= lim);
    return r % n;
}

static gs_status camera_centres(const gs_camera *c, int n, const char *what, double *C) {
    for (int i = 0; i < n; i++) {
        if (!all_finite(c[i].R, 9) || !all_finite(c[i].t, 3))
            return gs_error(GS_ERR_INVALID, "%s camera %d: non-finite pose", what, i);
        gs_camera_center(&c[i], C + 3 * i);
    }
    return GS_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

gs_status gs_align_poses_umeyama(const gs_camera *ref, const gs_camera *est, int n,
                                 const gs_pose_align_opts *opts, gs_sim3 *out) {
    if (!ref || !est || !out) return gs_error(GS_ERR_INVALID, "align poses: NULL argument");
    if (n < 1 || n > GS_MAX_CAMERAS) return gs_error(GS_ERR_INVALID, "align poses: bad view count %d", n);
    gs_pose_align_opts o = {-1, 10, 0, 0, 42};
    if (opts) o = *opts;
    if (o.max_iters <= 0) o.max_iters = 10;
    if (o.seed == 0) o.seed = 42;
    int ransac = o.ransac < 0 ? n >= 10 : o.ransac != 0;

    double *buf = gs_malloc((size_t)n * 8, sizeof(double), "align poses buffers");
    int *idx = gs_malloc((size_t)n, sizeof(int), "align poses indices");
    unsigned char *inl = gs_malloc((size_t)n, 2, "align poses inliers");
    gs_status st = GS_OK;
    if (!buf || !idx || !inl) { st = GS_ERR_NOMEM; goto done; }
    double *Cr = buf, *Ce = buf + 3 * n, *err = buf + 6 * n, *dist = buf + 7 * n;
    unsigned char *best_inl = inl + n;
    if ((st = camera_centres(ref, n, "align poses: reference", Cr))) goto done;
    if ((st = camera_centres(est, n, "align poses: estimate", Ce))) goto done;

    gs_sim3 T0;
    if ((st = gs_umeyama(Ce, Cr, n, 1, &T0))) { gs_error_prefix(st, "align poses"); goto done; }
    if (!ransac) { *out = T0; goto done; }

    int sub_n = o.sub_n > 0 ? o.sub_n : (n + 1) / 2;
    if (sub_n < 3) sub_n = 3;
    if (sub_n > n) sub_n = n;
    double thresh = o.inlier_thresh;
    if (!(thresh > 0)) {
        /* median over est views of the distance to the nearest ref centre */
        for (int i = 0; i < n; i++) {
            double p[3], best = INFINITY;
            gs_sim3_apply_point(&T0, Ce + 3 * i, p);
            for (int j = 0; j < n; j++) {
                double dx = Cr[3 * j] - p[0], dy = Cr[3 * j + 1] - p[1], dz = Cr[3 * j + 2] - p[2];
                double d = sqrt(dx * dx + dy * dy + dz * dz);
                if (d < best) best = d;
            }
            dist[i] = best;
        }
        qsort(dist, (size_t)n, sizeof(double), cmp_double);
        thresh = n % 2 ? dist[n / 2] : 0.5 * (dist[n / 2 - 1] + dist[n / 2]);
    }
    double *sxy = gs_malloc((size_t)sub_n * 6, sizeof(double), "align poses sample");
    if (!sxy) { st = GS_ERR_NOMEM; goto done; }
    uint64_t rng = o.seed;
    gs_sim3 best_T = T0;
    int best_k = -1, have_best = 0;
    double best_mean = INFINITY;
    for (int i = 0; i < n; i++) idx[i] = i;
    for (int it = 0; it < o.max_iters; it++) {
        for (int i = 0; i < sub_n; i++) { /* partial Fisher-Yates */
            int j = i + (int)rand_below(&rng, (uint64_t)(n - i));
            int tmp = idx[i]; idx[i] = idx[j]; idx[j] = tmp;
        }
        for (int i = 0; i < sub_n; i++)
            for (int k = 0; k < 3; k++) {
                sxy[i * 3 + k] = Ce[idx[i] * 3 + k];
                sxy[(sub_n + i) * 3 + k] = Cr[idx[i] * 3 + k];
            }
        gs_sim3 T;
        if (gs_umeyama(sxy, sxy + 3 * sub_n, sub_n, 1, &T) != GS_OK) continue; /* degenerate sample */
        int k = 0;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            double p[3];
            gs_sim3_apply_point(&T, Ce + 3 * i, p);
            double dx = p[0] - Cr[3 * i], dy = p[1] - Cr[3 * i + 1], dz = p[2] - Cr[3 * i + 2];
            err[i] = sqrt(dx * dx + dy * dy + dz * dz);
            inl[i] = err[i] <= thresh;
            if (inl[i]) { k++; sum += err[i]; }
        }
        double mean = k > 0 ? sum / k : INFINITY;
        if (k > best_k || (k == best_k && mean < best_mean)) {
            best_k = k;
            best_mean = mean;
            best_T = T;
            memcpy(best_inl, inl, (size_t)n);
            have_best = 1;
        }
    }
    gs_clear_error();
    *out = best_T;
    if (have_best && best_k >= 3) {
        int m = 0;
        double *fx = gs_malloc((size_t)best_k * 6, sizeof(double), "align poses refit");
        if (!fx) { free(sxy); st = GS_ERR_NOMEM; goto done; }
        for (int i = 0; i < n; i++)
            if (best_inl[i]) {
                memcpy(fx + 3 * m, Ce + 3 * i, 3 * sizeof(double));
                memcpy(fx + 3 * (best_k + m), Cr + 3 * i, 3 * sizeof(double));
                m++;
            }
        gs_sim3 T;
        /* DA3 lets a degenerate refit raise; we keep the best sample's model. */
        if (gs_umeyama(fx, fx + 3 * best_k, best_k, 1, &T) == GS_OK) *out = T;
        gs_clear_error();
        free(fx);
    }
    free(sxy);
done:
    free(buf);
    free(idx);
    free(inl);
    return st;
}

/* ---- applying Sim(3) ------------------------------------------------------------------ */
void gs_cameras_apply_sim3(gs_camera *cams, int n, const gs_sim3 *T) {
    for (int i = 0; i < n; i++) {
        gs_camera *c = &cams[i];
        double C[3], C2[3], Rc[9], Rc2[9];
        gs_camera_center(c, C);
        gs_sim3_apply_point(T, C, C2);
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) Rc[a * 3 + b] = c->R[b * 3 + a];
        mat3_mul(T->R, Rc, Rc2);
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) c->R[a * 3 + b] = Rc2[b * 3 + a];
        for (int a = 0; a < 3; a++) c->t[a] = -(c->R[a * 3] * C2[0] + c->R[a * 3 + 1] * C2[1] + c->R[a * 3 + 2] * C2[2]);
    }
}

gs_status gs_scene_apply_sim3(gs_scene *sc, const gs_sim3 *T) {
    if (!sc || !T) return gs_error(GS_ERR_INVALID, "scene sim3: NULL argument");
    if (!all_finite(T->R, 9) || !all_finite(T->t, 3) || !isfinite(T->s) || !(T->s > 0))
        return gs_error(GS_ERR_INVALID, "scene sim3: transform must be finite with scale > 0 (scale %g)", T->s);
    if (sc->sh_degree < 0 || sc->sh_degree > GS_SH_MAX_DEGREE)
        return gs_error(GS_ERR_INVALID, "scene sim3: bad SH degree %d", sc->sh_degree);
    double R[9], q[4];
    gs_project_so3(T->R, R);
    gs_rotmat_to_quat(R, q);
    gs_sh_rot rot;
    gs_sh_rotation(R, sc->sh_degree, &rot);
    int K = gs_sh_coeffs(sc->sh_degree);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < sc->n; i++) {
        double m[3] = {sc->means[3 * i], sc->means[3 * i + 1], sc->means[3 * i + 2]}, y[3];
        double r[3];
        mat3_vec(R, m, r);
        for (int k = 0; k < 3; k++) y[k] = T->s * r[k] + T->t[k];
        for (int k = 0; k < 3; k++) {
            sc->means[3 * i + k] = (float)y[k];
            sc->scales[3 * i + k] = (float)(sc->scales[3 * i + k] * T->s);
        }
        float *p = sc->rotations + 4 * i;
        double w = p[0], x = p[1], yy = p[2], z = p[3];
        p[0] = (float)(q[0] * w - q[1] * x - q[2] * yy - q[3] * z);
        p[1] = (float)(q[0] * x + q[1] * w + q[2] * z - q[3] * yy);
        p[2] = (float)(q[0] * yy - q[1] * z + q[2] * w + q[3] * x);
        p[3] = (float)(q[0] * z + q[1] * yy - q[2] * x + q[3] * w);
        for (int c = 0; c < 3; c++) gs_sh_rotate(&rot, sc->sh_degree, sc->sh + (size_t)i * K * 3 + c, 3);
    }
    return GS_OK;
}

gs_status gs_camera_alignment_error(const gs_camera *ref, const gs_camera *est, int n, int with_scale,
                                    gs_align_error *out) {
    if (!ref || !est || !out) return gs_error(GS_ERR_INVALID, "camera alignment error: NULL argument");
    if (n < 1 || n > GS_MAX_CAMERAS) return gs_error(GS_ERR_INVALID, "camera alignment error: bad view count %d", n);
    double *C = gs_malloc((size_t)n * 6, sizeof(double), "camera alignment centres");
    if (!C) return GS_ERR_NOMEM;
    gs_status st;
    if ((st = camera_centres(ref, n, "camera alignment: reference", C)) ||
        (st = camera_centres(est, n, "camera alignment: estimate", C + 3 * n)) ||
        (st = gs_umeyama(C + 3 * n, C, n, with_scale, &out->T))) {
        free(C);
        return gs_error_prefix(st, "camera alignment error");
    }
    double se = 0, mx = 0, rs = 0, rmx = 0;
    for (int i = 0; i < n; i++) {
        double p[3];
        gs_sim3_apply_point(&out->T, C + 3 * (n + i), p);
        double dx = p[0] - C[3 * i], dy = p[1] - C[3 * i + 1], dz = p[2] - C[3 * i + 2];
        double e2 = dx * dx + dy * dy + dz * dz;
        se += e2;
        if (sqrt(e2) > mx) mx = sqrt(e2);
        double Rr[9], Re[9], Ra[9];
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                Rr[a * 3 + b] = ref[i].R[b * 3 + a];
                Re[a * 3 + b] = est[i].R[b * 3 + a];
            }
        mat3_mul(out->T.R, Re, Ra);
        double ang = gs_rotation_angle_deg(Rr, Ra);
        rs += ang;
        if (ang > rmx) rmx = ang;
    }
    out->rmse = sqrt(se / n);
    out->max_err = mx;
    out->mean_rot_deg = rs / n;
    out->max_rot_deg = rmx;
    free(C);
    return GS_OK;
}

gs_status gs_select_views_fps(const gs_camera *cams, int n, const unsigned char *allowed, int k, int *out_idx) {
    if (!cams || !out_idx) return gs_error(GS_ERR_INVALID, "view selection: NULL argument");
    if (n < 1 || n > GS_MAX_CAMERAS) return gs_error(GS_ERR_INVALID, "view selection: bad view count %d", n);
    int n_allowed = 0, first = -1;
    for (int i = 0; i < n; i++)
        if (!allowed || allowed[i]) {
            if (first < 0) first = i;
            n_allowed++;
        }
    if (k < 1 || k > n_allowed)
        return gs_error(GS_ERR_INVALID, "view selection: cannot pick %d views out of %d available", k, n_allowed);
    double *C = gs_malloc((size_t)n * 4, sizeof(double), "view selection");
    unsigned char *chosen = gs_calloc((size_t)n, 1, "view selection");
    if (!C || !chosen) {
        free(C);
        free(chosen);
        return GS_ERR_NOMEM;
    }
    double *dmin = C + 3 * n;
    gs_status st = camera_centres(cams, n, "view selection", C);
    if (st) goto done;
    for (int i = 0; i < n; i++) dmin[i] = INFINITY;
    int cur = first;
    for (int m = 0; m < k; m++) {
        chosen[cur] = 1;
        int next = -1;
        double best = -1;
        for (int i = 0; i < n; i++) {
            if (chosen[i] || (allowed && !allowed[i])) continue;
            double dx = C[3 * i] - C[3 * cur], dy = C[3 * i + 1] - C[3 * cur + 1], dz = C[3 * i + 2] - C[3 * cur + 2];
            double d = sqrt(dx * dx + dy * dy + dz * dz);
            if (d < dmin[i]) dmin[i] = d;
            if (dmin[i] > best) { best = dmin[i]; next = i; }
        }
        cur = next;
    }
    for (int i = 0, m = 0; i < n; i++)
        if (chosen[i]) out_idx[m++] = i;
done:
    free(C);
    free(chosen);
    return st;
}

/* ---- SH rotation ------------------------------------------------------------------------ */
void gs_sh_basis(int degree, const double d[3], double *Y) {
    double x = d[0], y = d[1], z = d[2];
    Y[0] = 0.28209479177387814;
    if (degree < 1) return;
    const double C1 = 0.4886025119029199;
    Y[1] = -C1 * y;
    Y[2] = C1 * z;
    Y[3] = -C1 * x;
    if (degree < 2) return;
    double xx = x * x, yy = y * y, zz = z * z;
    Y[4] = 1.0925484305920792 * x * y;
    Y[5] = -1.0925484305920792 * y * z;
    Y[6] = 0.31539156525252005 * (2 * zz - xx - yy);
    Y[7] = -1.0925484305920792 * x * z;
    Y[8] = 0.5462742152960396 * (xx - yy);
    if (degree < 3) return;
    Y[9] = -0.5900435899266435 * y * (3 * xx - yy);
    Y[10] = 2.890611442640554 * x * y * z;
    Y[11] = -0.4570457994644658 * y * (4 * zz - xx - yy);
    Y[12] = 0.3731763325901154 * z * (2 * zz - 3 * xx - 3 * yy);
    Y[13] = -0.4570457994644658 * x * (4 * zz - xx - yy);
    Y[14] = 1.445305721320277 * z * (xx - yy);
    Y[15] = -0.5900435899266435 * x * (xx - 3 * yy);
}

static int sh_block_offset(int l) { return l * (4 * l * l - 1) / 3; }

/* Solve (A^T A) X = A^T B for one band: A[i][k] = Y_k(d_i), B[i][j] =
 * Y_j(R^T d_i); then Y(R^T d) = X^T Y(d) and f' = X f. */
static void sh_band_fit(const double R[9], int l, double *D) {
    enum { ND = 64 };
    int m = 2 * l + 1, off = l * l;
    double A[ND][7], B[ND][7];
    for (int i = 0; i < ND; i++) {
        /* Fibonacci sphere: well spread, deterministic */
        double zc = 1 - (2.0 * i + 1) / ND, r = sqrt(1 - zc * zc), ph = i * 2.399963229728653;
        double d[3] = {r * cos(ph), r * sin(ph), zc}, rd[3], Y[16];
        for (int a = 0; a < 3; a++) rd[a] = R[0 * 3 + a] * d[0] + R[1 * 3 + a] * d[1] + R[2 * 3 + a] * d[2];
        gs_sh_basis(l, d, Y);
        for (int k = 0; k < m; k++) A[i][k] = Y[off + k];
        gs_sh_basis(l, rd, Y);
        for (int k = 0; k < m; k++) B[i][k] = Y[off + k];
    }
    double N[7][14];
    for (int a = 0; a < m; a++) {
        for (int b = 0; b < m; b++) {
            double s = 0, t = 0;
            for (int i = 0; i < ND; i++) {
                s += A[i][a] * A[i][b];
                t += A[i][a] * B[i][b];
            }
            N[a][b] = s;
            N[a][m + b] = t;
        }
    }
    for (int c = 0; c < m; c++) { /* Gauss-Jordan, partial pivoting (SPD: stable) */
        int p = c;
        for (int r = c + 1; r < m; r++)
            if (fabs(N[r][c]) > fabs(N[p][c])) p = r;
        if (p != c)
            for (int j = 0; j < 2 * m; j++) { double t = N[c][j]; N[c][j] = N[p][j]; N[p][j] = t; }
        double inv = 1 / N[c][c];
        for (int j = 0; j < 2 * m; j++) N[c][j] *= inv;
        for (int r = 0; r < m; r++) {
            if (r == c) continue;
            double f = N[r][c];
            if (f != 0)
                for (int j = 0; j < 2 * m; j++) N[r][j] -= f * N[c][j];
        }
    }
    /* X[k][j] = N[k][m+j]; D = X */
    for (int k = 0; k < m; k++)
        for (int j = 0; j < m; j++) D[k * m + j] = N[k][m + j];
}

void gs_sh_rotation(const double Rin[9], int degree, gs_sh_rot *out) {
    if (degree < 0) degree = 0;
    if (degree > 3) degree = 3;
    double R[9];
    gs_project_so3(Rin, R);
    memset(out, 0, sizeof *out);
    out->degree = degree;
    out->D[0] = 1;
    if (degree >= 1) {
        /* Y1 = C1 (a_k . d) with a = (-e_y, e_z, -e_x): D[k][j] = a_k . R a_j */
        static const double a[3][3] = {{0, -1, 0}, {0, 0, 1}, {-1, 0, 0}};
        double *D = out->D + sh_block_offset(1);
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < 3; j++) {
                double Ra[3];
                mat3_vec(R, a[j], Ra);
                D[k * 3 + j] = a[k][0] * Ra[0] + a[k][1] * Ra[1] + a[k][2] * Ra[2];
            }
    }
    for (int l = 2; l <= degree; l++) sh_band_fit(R, l, out->D + sh_block_offset(l));
}

void gs_sh_rotate(const gs_sh_rot *rot, int degree, float *c, int stride) {
    if (degree > rot->degree) degree = rot->degree;
    for (int l = 1; l <= degree; l++) {
        int m = 2 * l + 1, off = l * l;
        const double *D = rot->D + sh_block_offset(l);
        double in[7];
        for (int j = 0; j < m; j++) in[j] = c[(size_t)(off + j) * stride];
        for (int k = 0; k < m; k++) {
            double s = 0;
            for (int j = 0; j < m; j++) s += D[k * m + j] * in[j];
            c[(size_t)(off + k) * stride] = (float)s;
        }
    }
}
