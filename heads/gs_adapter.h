/* gs_adapter.h - DA3's GaussianAdapter: per-pixel GSDPT outputs + depth +
 * predicted cameras -> world-space 3D Gaussians, and the PLY-export pruning
 * of DA3's save_gaussian_ply (border trim, depth percentile, view interval).
 *
 * Reference: da3/model/gs_adapter.py (sh_degree 2, pred_offset_xy,
 * pred_offset_depth), model/utils/transform.py, utils/sh_helpers.py,
 * utils/gsply_helpers.py; spec: docs da3-architecture.md §5, §7.3, §12.
 * Per pixel (v, row i, col j), with c2w = inverse(w2c_pred), Kn = K with its
 * rows divided by W and H:
 *   d      = depth + raw[36]                      (x s, the pose scale below)
 *   xy     = ((j + 0.5 + raw[0]) / W, (i + 0.5 + raw[1]) / H)
 *   mean   = c2w_t (x s) + d * R_c2w * unit(Kn^-1 [x y 1])   depth is a distance ALONG the ray
 *   scale  = (1e-5 + (30 - 1e-5) sigmoid(raw[2..4])) * d * 0.1 * sum(inv(Kn[:2,:2]) (1/W, 1/H))
 *   rot    = mat_to_quat(R_c2w * quat_to_mat(r3, r0, r1, r2)), r = raw[5..8] / (|raw[5..8]| + 1e-8)
 *            quat_to_mat reads xyzw and mat_to_quat returns xyzw with w >= 0 (pytorch3d):
 *            that 4-vector is stored as is and read as w,x,y,z by renderers (DA3's quirk,
 *            reproduced on purpose)
 *   sh     = raw[9 + c*9 + k] * [1, .025 x3, .00625 x5][k], rotated to world by R_c2w
 *   opac   = 0.5f * ((1 - (1 - p)) + p), p = conf (DA3's map_pdf_to_opacity, fp32)
 * Pose scale (only when gt_w2c is given and differs from w2c anywhere): the
 * Umeyama scale taking the predicted camera centres onto the gt ones over all
 * views, clamped to [1/3, 3]; 1 when undefined (one view, coincident
 * centres), as DA3's try/except does.
 * Arithmetic is double per pixel, results are float. */
#ifndef GS_HEADS_GS_ADAPTER_H
#define GS_HEADS_GS_ADAPTER_H

#include "backbone/da3_config.h"
#include "data/scene.h"
#include "gs/core/runtime.h"
#include "gs/ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GS_GS_RAW_CHANNELS 37 /* offset_xy 2, scales 3, rotation 4, SH 3x9, offset_depth 1 */
#define GS_GS_SH_DEGREE 2
#define GS_GS_SH_COEFFS 9

/* The adapter's output as DA3 returns it (one batch element), order (v h w). */
typedef struct {
    int views, height, width;
    int64_t n;            /* views * height * width */
    float *means;         /* [n,3] world */
    float *scales;        /* [n,3] linear standard deviations */
    float *rotations;     /* [n,4] the stored 4-vector (quirk included); renderers read w,x,y,z */
    float *harmonics;     /* [n,3,9] colour-major, world frame, DC included */
    float *opacities;     /* [n] */
    double pose_scale;    /* the Sim(3) scale applied (1 without gt poses) */
    double pose_scale_raw; /* the same before the [1/3, 3] clamp (warn when they differ) */
} gs_gaussians;

typedef struct {
    int views, height, width;   /* S, H, W */
    const float *raw;           /* [S,H,W,37] GSDPT linear channels, channels-last */
    const float *conf;          /* [S,H,W] sigmoid opacity channel */
    const float *depth;         /* [S,H,W] DualDPT depth (model output before any rescale) */
    const float *w2c;           /* [S,3,4] predicted world-to-camera */
    const float *K;             /* [S,3,3] predicted intrinsics, pixels of the H x W input */
    const float *gt_w2c;        /* [S,3,4] normalised user extrinsics, or NULL */
    const gs_dump *dump;        /* optional: receives gs.means, gs.scales, gs.rotations,
                                   gs.harmonics, gs.opacities */
} gs_adapter_input;

/* Run the adapter. Inputs are checked (sizes, finite values, K invertible,
 * w2c rotations orthonormal within 1e-3). out is allocated (free with
 * gs_gaussians_free); on error it is left empty. A zero rotation 4-vector
 * (DA3 would produce NaN) is taken as the camera-frame identity. */
gs_status gs_gaussian_adapter(const gs_ctx *c, const gs_adapter_input *in, gs_gaussians *out);
void gs_gaussians_free(gs_gaussians *g);

/* The pose scale alone (w2c, gt_w2c: [views,3,4]); unclamped may be NULL. */
double gs_gaussian_pose_scale(const float *w2c, const float *gt_w2c, int views, double *unclamped);

/* The activated scene (data/scene.h) of all Gaussians: SH degree 0..2 (lower
 * degrees drop bands), sh (n,K,3) coefficient-major, rotations copied verbatim
 * as w,x,y,z (the quirk: what DA3 renders and exports). */
gs_status gs_gaussians_to_scene(const gs_gaussians *g, int sh_degree, gs_scene *out);

/* ---- DA3's PLY export selection (export_to_gs_ply -> save_gaussian_ply) -------- */
typedef struct {
    int views_interval;   /* keep views 0, k, 2k, ... (DA3 default 1) */
    int prune_border;     /* drop int(8/256 H) rows and int(8/256 W) cols on every side */
    int fix_small_border; /* 0 (DA3): a trim of 0 (H or W < 32) keeps NOTHING, since the
                             slice [0:-0] is empty; 1: a trim of 0 keeps everything */
    float depth_quantile; /* drop depth > the view's quantile (torch.quantile, linear, fp32);
                             DA3 uses 0.9; >= 1 disables (as DA3: < 1 prunes) */
    int dc_only;          /* DA3 writes only f_dc (SH degree 0); 0 keeps degree 2 */
} gs_gs_export_opts;
void gs_gs_export_opts_default(gs_gs_export_opts *o); /* DA3's: 1, 1, 0, 0.9, 1 */

typedef struct {
    int64_t kept;
    int trim_rows, trim_cols;  /* per side */
    int border_emptied;        /* 1 when the [0:-0] quirk removed everything: the scene is
                                  then EMPTY, as DA3's PLY; callers should warn */
    float depth_threshold[64]; /* first views' quantile thresholds (diagnostics) */
} gs_gs_export_info;

/* Select the Gaussians DA3 exports and return them as an activated scene.
 * depth: [S,H,W] the FINAL prediction depth (after any user-pose rescale),
 * which drives the percentile. info may be NULL. */
gs_status gs_gaussians_export_scene(const gs_gaussians *g, const float *depth, const gs_gs_export_opts *o,
                                    gs_scene *out, gs_gs_export_info *info);

/* torch.quantile(x, q, interpolation='linear') on n finite float32 values,
 * bit-exact with torch 2.x CPU (sorted copy; x is not modified). */
gs_status gs_quantile_linear_f32(const float *x, int64_t n, float q, float *out);

#ifdef __cplusplus
}
#endif
#endif
