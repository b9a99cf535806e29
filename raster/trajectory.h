/* trajectory.h - camera paths for rendering videos: the novel-view
 * trajectories of Depth Anything 3 (da3-architecture.md §7.2; DA3's
 * utils/camera_trj_helpers.py as run_renderer_in_chunk_w_trj_mode and
 * export_to_gs_video call it) and an orbit around the scene.
 *
 * DA3 works on OpenCV camera-to-world matrices and intrinsics normalised by
 * the image size (Kn: row 0 / width, row 1 / height). Here each input camera
 * is normalised by its own width/height (DA3 divides by the render size, the
 * same thing when, as in its video export, one renders at the input size),
 * and the cameras handed back are built as DA3's render_3dgs builds gsplat's:
 * w2c = affine inverse of the path (R = Rc^T even where smoothing left Rc
 * slightly non-orthonormal), focal length from the field of view of Kn at the
 * output size, principal point at the image centre (keep_pp = 1 keeps Kn's
 * principal point instead). Goldens from DA3's own code:
 * tools/make_trajectory_goldens.py. */
#ifndef GS_RASTER_TRAJECTORY_H
#define GS_RASTER_TRAJECTORY_H

#include "data/cameras.h"
#include "data/scene.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GS_TRAJ_ORIGINAL = 0,       /* the input poses */
    GS_TRAJ_SMOOTH,             /* render_stabilization_path(k = 50) */
    GS_TRAJ_INTERPOLATE,        /* inter_len frames per pair, cosine eased, pivot interpolation */
    GS_TRAJ_INTERPOLATE_SMOOTH, /* interpolate, then smooth */
    GS_TRAJ_EXTEND,             /* interpolate + smooth, wander and dolly zoom inserted at the middle */
    GS_TRAJ_WANDER,             /* 120 frames around view 0 (plus it at both ends: 122) */
    GS_TRAJ_DOLLY_ZOOM,         /* 120 frames from view 0, max_disp 2, D_focus 30 */
    GS_TRAJ_WOBBLE_INTER,       /* every 3rd view, 30 frames each, circular in-plane offset */
    GS_TRAJ_ORBIT,              /* ours: a circle around the scene (gs_orbit_path) */
    GS_TRAJ_COUNT
} gs_traj_mode;

/* "original", "smooth", "interpolate", "interpolate_smooth", "extend",
 * "wander", "dolly_zoom", "wobble_inter", "orbit". */
gs_status gs_traj_mode_parse(const char *s, gs_traj_mode *out);
const char *gs_traj_mode_name(gs_traj_mode m);

/* A DA3 path: n camera-to-world poses and normalised intrinsics. */
typedef struct {
    int n;
    double *c2w; /* (n, 16) OpenCV camera-to-world 4x4, row-major */
    double *kn;  /* (n, 4) fx/w, fy/h, cx/w, cy/h */
} gs_traj_path;
void gs_traj_path_free(gs_traj_path *p);

/* ---- the whole job ---------------------------------------------------------- */
typedef struct {
    gs_traj_mode mode;
    /* Frames. 0: the mode's own count (DA3's rules; 120 for the orbit).
     * wander: N in total (N-2 around the view, which starts and ends it);
     * dolly_zoom, orbit: N; interpolate, interpolate_smooth, extend,
     * wobble_inter: DA3's path resampled to N frames (positions, r1/r2 columns
     * and intrinsics interpolated linearly, as the smoothing builds poses);
     * original, smooth: one frame per input view, N must be 0 or that count. */
    int n_frames;
    int width, height; /* output size; 0: the first input camera's (orbit: 800x600 without cameras) */
    int keep_pp;       /* 0: DA3's K (focal from the field of view, centred principal point) */
} gs_traj_opts;
void gs_traj_opts_default(gs_traj_opts *o);

/* The mode gs_trajectory renders for n_views input views: with one view
 * every DA3 mode but dolly_zoom (and our orbit) becomes wander. */
gs_traj_mode gs_traj_effective_mode(gs_traj_mode mode, int n_views);
/* Can gs_trajectory make this path from n_views posed views with n_frames
 * (0: the mode's own count)? The checks that depend only on the mode and
 * the counts, so that a command can refuse before any work. */
gs_status gs_traj_check(gs_traj_mode mode, int n_views, int n_frames);

/* Cameras along a trajectory. `in` are posed input views (DA3 modes need at
 * least one; with a single view every DA3 mode but dolly_zoom becomes wander,
 * as DA3's export does). The orbit uses `in` when given, else the scene. The
 * cameras are named "<mode>_NNNNN". */
gs_status gs_trajectory(const gs_cameras *in, const gs_scene *scene, const gs_traj_opts *o, gs_cameras *out);

/* The DA3 path for mode (not orbit) before resampling or conversion. */
gs_status gs_traj_da3_path(const gs_cameras *in, gs_traj_mode mode, gs_traj_path *out);
/* Resample a path to n frames (see n_frames above). */
gs_status gs_traj_resample(const gs_traj_path *in, int n, gs_traj_path *out);
/* Path -> cameras at width x height (keep_pp as in gs_traj_opts). */
gs_status gs_traj_to_cameras(const gs_traj_path *p, int width, int height, int keep_pp, const char *prefix,
                             gs_cameras *out);

/* ---- DA3's building blocks (double precision; DA3 mixes float32/64) ---------- */
/* Frames per input pair of interpolate: 8, or 240 // (S-1) when (S-1)*8 > 432,
 * or 48 // (S-1) when (S-1)*8 < 48 (at least 1); <= 2 means no interpolation. */
int gs_traj_inter_len(int n_views);
/* cv2.getGaussianKernel(k, -1) rounded to float32 (DA3 casts it): the fixed
 * binomial tables for k = 1..9, else sigma = 0.3 ((k-1)/2 - 1) + 0.8. */
void gs_traj_gaussian_kernel(int k, double *out);
/* render_stabilization_path(c2w, k_size): columns r1, r2, t filtered along
 * the path with reflect padding, r1 and r2 normalised, r3 = r1 x r2. */
gs_status gs_traj_smooth(const double *c2w, int n, int k_size, double *out);
/* interpolate_extrinsics(a, b, t[0..nt)) -> out (nt, 16). */
void gs_traj_interpolate_extrinsics(const double a[16], const double b[16], const double *t, int nt, double *out);
/* render_wander_path: num_frames + 2 poses (c2w first and last); fx_px = Kn fx * input width. */
void gs_traj_wander(const double c2w[16], const double kn[4], double fx_px, int num_frames, double max_disp,
                    double *c2w_out, double *kn_out);
/* render_dolly_zoom_path: num_frames poses. */
void gs_traj_dolly_zoom(const double c2w[16], const double kn[4], int num_frames, double max_disp, double d_focus,
                        double *c2w_out, double *kn_out);

/* Write trajectory cameras as gs-cameras JSON (readable by every camera
 * reader): DA3's smoothed or resampled paths leave R slightly (~1e-4)
 * non-orthonormal, more than the readers accept, so each camera gets the
 * nearest rotation, with its centre kept. */
gs_status gs_traj_write_json(const char *path, const gs_cameras *c);

/* ---- orbit ------------------------------------------------------------------- */
/* An orbit of n_frames cameras around the scene.
 * With reference cameras (ref != NULL, ref->n > 0, posed): the orbit centre is
 * the least-squares intersection of their optical axes, the up axis their
 * mean up vector (-y of OpenCV cameras), the radius and height their mean
 * distance and elevation, and the intrinsics those of the first camera.
 * Without: the centre is the median splat position, up is -y (the INRIA/COLMAP
 * world convention), the radius 2.5x the 90th-percentile distance of splats
 * from the centre, a 50 degree horizontal field of view at width x height. */
gs_status gs_orbit_path(const gs_scene *s, const gs_cameras *ref, int n_frames, int width, int height,
                        gs_cameras *out);

#ifdef __cplusplus
}
#endif
#endif
