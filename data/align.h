/* align.h - similarity (Sim(3)) alignment of camera trajectories and scenes,
 * exact rotation of spherical-harmonic coefficients, and context-view
 * selection.
 *
 * Conventions: a Sim(3) T maps a point x of frame A to y = s R x + t in frame
 * B. Cameras are OpenCV world-to-camera (data/cameras.h). Umeyama follows evo's
 * umeyama_alignment (the code DA3's pose_align.py calls): centres, covariance
 * Σ = (y-μy)(x-μx)^T / n, SVD with the reflection fix, c = tr(DS)/σx²,
 * t = μy - c R μx. Everything is double precision.
 *
 * SH rotation uses the real basis of 3DGS / gsplat (data/scene.h):
 * the rotated coefficients f' satisfy f'(d) = f(R^T d) for every direction d,
 * i.e. the colour field is carried along with R. Degree 1 is closed form;
 * degrees 2 and 3 are the exact least-squares fit on 64 fixed directions
 * (exact because each band is closed under rotation). */
#ifndef GS_DATA_ALIGN_H
#define GS_DATA_ALIGN_H

#include "data/cameras.h"
#include "data/scene.h"
#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double R[9]; /* row-major rotation */
    double t[3];
    double s;    /* > 0 */
} gs_sim3;

void gs_sim3_identity(gs_sim3 *T);
void gs_sim3_apply_point(const gs_sim3 *T, const double x[3], double y[3]); /* y = s R x + t */
/* The inverse map: x = R^T (y - t) / s. */
void gs_sim3_inverse(const gs_sim3 *T, gs_sim3 *inv);

/* A = U diag(S) V^T for a 3x3 matrix (one-sided Jacobi, double). S is sorted
 * descending and non-negative; U and V are exact orthonormal matrices (columns
 * of null singular values are completed so that det(U) = +1 in that case). */
void gs_svd3(const double A[9], double U[9], double S[3], double V[9]);
/* The rotation nearest to M (SVD, det fixed to +1). */
void gs_project_so3(const double M[9], double R[9]);
/* Geodesic angle between two rotations, degrees. */
double gs_rotation_angle_deg(const double Ra[9], const double Rb[9]);

/* Umeyama: T with y_i ≈ s R x_i + t (s = 1 unless with_scale). x, y: [n,3].
 * Errors: n < 1, non-finite input, or fewer than two singular values of Σ
 * above 1e-12 of the largest (coincident or collinear points: the rotation is
 * undefined). */
gs_status gs_umeyama(const double *x, const double *y, int n, int with_scale, gs_sim3 *out);
/* Only the Umeyama scale, which needs no full rank: defined whenever Σ != 0
 * (two or more distinct points on both sides). This mirrors the DA3 adapter,
 * where float32 round-off makes evo's rank test pass for two views. */
gs_status gs_umeyama_scale(const double *x, const double *y, int n, double *s);

/* align_poses_umeyama of DA3 (utils/pose_align.py): the Sim(3) taking the
 * camera centres of `est` onto those of `ref` (ref_C ≈ s R est_C + t; the
 * camera rotations do not enter the fit).
 * RANSAC (DA3 uses it for n >= 10): a pre-alignment on all views gives the
 * inlier threshold = median over est views of the distance to the NEAREST ref
 * centre; then max_iters samples of sub_n = max(3, (n+1)/2) distinct views
 * (our PRNG: splitmix64 seeded with `seed`, partial Fisher-Yates; numpy's
 * default_rng(42).choice is not reproduced), each fitted and scored by
 * (inliers with error <= threshold, then lower mean inlier error); the best
 * inlier set (>= 3) is refitted. Degenerate samples are skipped. */
typedef struct {
    int ransac;       /* -1: auto (n >= 10, as DA3), 0: off, 1: on */
    int max_iters;    /* 0 -> 10 */
    int sub_n;        /* 0 -> max(3, (n+1)/2); clamped to [3, n] */
    double inlier_thresh; /* <= 0 -> median nearest-centre distance */
    uint64_t seed;    /* 0 -> 42 */
} gs_pose_align_opts;
gs_status gs_align_poses_umeyama(const gs_camera *ref, const gs_camera *est, int n,
                                 const gs_pose_align_opts *opts, gs_sim3 *out);

/* Move cameras from frame A to frame B = T(A): centre C -> s R C + t,
 * camera-to-world rotation Rc -> R Rc (intrinsics unchanged; pixels of a
 * moved point stay where they were). */
void gs_cameras_apply_sim3(gs_camera *cams, int n, const gs_sim3 *T);
/* Move a scene: means -> s R m + t, scales *= s, rotations -> q(R) * q (wxyz
 * Hamilton product), SH rotated by R. Errors on s <= 0 or non-finite T. */
gs_status gs_scene_apply_sim3(gs_scene *sc, const gs_sim3 *T);

/* Camera-centre alignment error (gs eval-nvs): est is Sim(3)-aligned onto
 * ref (Umeyama, scale when with_scale), then per camera the centre error
 * ||ref_C - T(est_C)|| and the rotation error angle(ref_Rc, R est_Rc). */
typedef struct {
    gs_sim3 T;         /* est -> ref */
    double rmse, max_err;           /* centre errors, ref units */
    double mean_rot_deg, max_rot_deg;
} gs_align_error;
gs_status gs_camera_alignment_error(const gs_camera *ref, const gs_camera *est, int n, int with_scale,
                                    gs_align_error *out);

/* Farthest-point sampling of k views by camera centre (the DA3 paper's
 * context selection; the DA3 repository has no code for it). Start at the
 * first allowed view (allowed == NULL: all; view 0), then repeatedly add the
 * allowed view whose distance to the nearest chosen centre is largest (ties:
 * lowest index). out_idx[k] receives the chosen indices in ascending order.
 * Errors: k < 1 or k > number of allowed views. */
gs_status gs_select_views_fps(const gs_camera *cams, int n, const unsigned char *allowed, int k, int *out_idx);

/* ---- SH rotation ------------------------------------------------------------ */
#define GS_SH_ROT_SIZE (1 + 9 + 25 + 49)
typedef struct {
    int degree;                 /* bands filled: 0..3 */
    double D[GS_SH_ROT_SIZE];   /* per band l, a (2l+1)x(2l+1) row-major block at offset l(4l^2-1)/3 */
} gs_sh_rot;
/* D for the rotation R (projected to SO(3) first, as DA3's rotate_sh does). */
void gs_sh_rotation(const double R[9], int degree, gs_sh_rot *out);
/* Rotate one colour channel's coefficients in place: c[k * stride], k = 0 ..
 * (degree+1)^2 - 1 (degree <= rot->degree). */
void gs_sh_rotate(const gs_sh_rot *rot, int degree, float *c, int stride);
/* Evaluate the 3DGS real SH basis (up to degree 3) at unit direction d:
 * Y[0 .. (degree+1)^2-1]. */
void gs_sh_basis(int degree, const double d[3], double *Y);

#ifdef __cplusplus
}
#endif
#endif
