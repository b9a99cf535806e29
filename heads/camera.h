/* camera.h - the camera modules of Depth Anything 3 (spec: shared/docs/
 * da3-architecture.md §2, §6): the camera decoder (camera token -> pose),
 * the camera encoder (given poses -> camera tokens for the backbone), the
 * extrinsics normalisation applied to user poses, the ray-map -> pose solver
 * of use_ray_pose, and the quaternion / rigid-transform helpers they share.
 *
 * Conventions: extrinsics are OpenCV world-to-camera (w2c), row-major 3x4
 * ([R | t]) or 4x4; intrinsics are 3x3 row-major in pixels of the processed
 * H x W image; quaternions are xyzw (scalar last). All tensors are float32,
 * views first ([S, ...]). */
#ifndef GS_HEADS_CAMERA_H
#define GS_HEADS_CAMERA_H

#include <stdint.h>

#include "backbone/da3_config.h"
#include "gs/core/runtime.h"
#include "gs/ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CameraDec: camera token -> pose ------------------------------------------ */
typedef struct {
    int dim;                                   /* D = 2C */
    gs_wt w0, w2;                              /* backbone.0 / .2: Linear(D, D) */
    const float *b0, *b2;
    gs_wt wt, wq, wf;                          /* fc_t (3), fc_qvec (4), fc_fov.0 (2) */
    const float *bt, *bq, *bf;
    int bound;
} gs_cam_dec;

/* prefix: "model.cam_dec." (nested: "model.da3.cam_dec."); dim = D. All
 * keys are checked before failing (GS_ERR_FORMAT names each problem). */
gs_status gs_cam_dec_bind(gs_cam_dec *m, gs_weights *w, const char *prefix, int dim);
/* tokens [S, D] (the un-normalised camera token of the last output layer,
 * original view order) -> w2c [S, 3, 4] and K [S, 3, 3] for H x W images
 * (cx = W/2, cy = H/2). Dumps cam.pose_enc [S, 9], cam.extrinsics,
 * cam.intrinsics. GS_ERR_INVALID on non-finite tokens; GS_ERR_FORMAT when
 * the predicted pose is degenerate (zero quaternion). */
gs_status gs_cam_dec_forward(const gs_ctx *c, const gs_cam_dec *m, const float *tokens, int S, int H, int W,
                             float *w2c, float *K, const gs_dump *d);
/* Workspace bytes of gs_cam_dec_forward / gs_cam_enc_forward for S views
 * (taken from the context's workspace, or an own arena when it has none). */
size_t gs_cam_dec_plan(const gs_cam_dec *m, int S);

/* ---- extrinsics normalisation (api._normalize_extrinsics) --------------------- */
/* ext [S, 4, 4] user w2c -> out [S, 4, 4]: view 0 becomes the identity
 * (out_i = ext_i inverse(ext_0)), then translations are divided by the
 * lower median (torch.median) of the camera-centre distances, clamped to at
 * least 0.1. out may alias ext. Rejects non-finite values and bottom rows
 * other than (0, 0, 0, 1). */
gs_status gs_da3_normalize_extrinsics(const float *ext, int S, float *out);

/* ---- CameraEnc: given poses -> camera tokens ---------------------------------- */
typedef struct {
    const float *n1w, *n1b, *qkv_b, *proj_b, *ls1;
    const float *n2w, *n2b, *fc1_b, *fc2_b, *ls2;
    gs_wt qkv_w, proj_w, fc1_w, fc2_w;
} gs_cam_enc_block;

typedef struct {
    int dim, heads;                            /* C, attention heads */
    gs_wt pb1_w, pb2_w;                        /* pose_branch: Linear(9, C/2), GELU, Linear(C/2, C) */
    const float *pb1_b, *pb2_b;
    const float *tok_w, *tok_b, *trunk_w, *trunk_b; /* token_norm, trunk_norm */
    gs_cam_enc_block blk[4];
    int bound;
} gs_cam_enc;

/* prefix "model.cam_enc."; dim = C (embed_dim), heads (16 officially;
 * C % heads == 0). */
gs_status gs_cam_enc_bind(gs_cam_enc *m, gs_weights *w, const char *prefix, int dim, int heads);
/* ext_norm [S, 4, 4] (normalised w2c, gs_da3_normalize_extrinsics) and K
 * [S, 3, 3] (pixels of H x W) -> tokens [S, C]. Pose encoding [t_c2w,
 * quat_xyzw(R_c2w), fov_h, fov_w]; 4 transformer blocks attend across the S
 * views. Dumps cam_enc.tokens. Rejects non-finite poses and fx, fy <= 0. */
gs_status gs_cam_enc_forward(const gs_ctx *c, const gs_cam_enc *m, const float *ext_norm, const float *K, int S,
                             int H, int W, float *tokens, const gs_dump *d);
size_t gs_cam_enc_plan(const gs_ctx *c, const gs_cam_enc *m, int S);

/* ---- ray map -> pose (utils/ray_utils.py, §6.3) ------------------------------ */
/* ray [S, h, w, 6] (direction, centre; channels-last as DualDPT returns it),
 * conf [S, h, w] -> w2c [S, 3, 4] and K [S, 3, 3] in pixels of H x W.
 * Weighted RANSAC homography (100 iterations x 8 points from the top 30%
 * by confidence, sample sets shared by all views, inlier error < 0.2 NDC,
 * refit on the inliers, at most 8000 of the top 95% kept), QL decomposition
 * into R_c2w and the intrinsics, confidence-weighted mean camera centre.
 * Random choices come from our own generator seeded with `seed`, so the
 * result is deterministic (the reference's torch.randperm is not, so only
 * loose agreement with it is possible). GS_ERR_INVALID on non-finite input,
 * h*w < 4, or a view without any usable ray (all weights zero). Dumps
 * ray_pose.extrinsics and ray_pose.intrinsics. */
gs_status gs_ray_pose(const float *ray, const float *conf, int S, int h, int w, int H, int W, uint64_t seed,
                      float *w2c, float *K, const gs_dump *d);

#ifdef __cplusplus
}
#endif
#endif
