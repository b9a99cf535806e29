/* da3.h - the Depth Anything 3 network as one object: load an official
 * checkpoint (Hugging Face folder or .safetensors + config name), run the
 * forward pass of DepthAnything3Net / NestedDepthAnything3Net on the CPU
 * (backbone/ → heads/ → cameras → optional Gaussians → sky / metric
 * post-processing), and the API-level inference around it (preprocessing,
 * alignment to user cameras).
 *
 * Usage, with gs_image images[S] read by gs_image_read (tests/test_eval_cli.c
 * compiles and runs exactly these lines through gs/gs.h):
 *
 *   gs_da3_model m;
 *   gs_da3_options o;
 *   gs_da3_prediction p;
 *   gs_da3_options_default(&o);
 *   gs_status st = gs_da3_load(&m, "DA3-LARGE", NULL); // a Hugging Face folder
 *   if (!st) st = gs_da3_infer(&m, images, S, NULL, NULL, &o, &p); // no user cameras
 *   if (!st) { // p.depth [S,H,W], p.extrinsics [S,3,4] w2c, p.intrinsics [S,3,3]
 *       printf("%d views of %dx%d, depth[0] %.9g\n", p.S, p.W, p.H, p.depth[0]);
 *       gs_da3_prediction_free(&p);
 *   }
 *   if (st) fprintf(stderr, "%s\n", gs_last_error());
 *   gs_da3_free(&m);
 *
 * Weights stay memory-mapped for the model's lifetime (F32 files are used
 * in place; F16/BF16 are converted once). */
#ifndef GS_DA3_H
#define GS_DA3_H

#include "backbone/da3_config.h"
#include "backbone/vit.h"
#include "data/cameras.h"
#include "data/image.h"
#include "heads/camera.h"
#include "heads/dpt.h"
#include "heads/gs_adapter.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    gs_da3_net_config cfg;
    char prefix[32];
    gs_vit vit;
    gs_dpt_head head;
    gs_dpt_head gs_head;        /* bound when cfg.has_gs_head */
    gs_cam_dec cam_dec;         /* bound when cfg.has_cam_dec */
    gs_cam_enc cam_enc;         /* bound when cfg.has_cam_enc */
} gs_da3_net;

typedef struct {
    gs_da3_config cfg;
    gs_ctx ctx;                 /* where the network runs (the CPU today) */
    gs_weights w;
    gs_da3_net net, metric;     /* metric: nested models only */
    char path[1024];            /* the safetensors file */
} gs_da3_model;

/* path: a folder with config.json + model.safetensors, or a .safetensors
 * file; config_name (one of the seven names, or a config.json path) is
 * required for a bare file without a config.json beside it. Every key is
 * checked: missing, mis-shaped and unexpected keys are all listed. */
gs_status gs_da3_load(gs_da3_model *m, const char *path, const char *config_name);
void gs_da3_free(gs_da3_model *m);
/* With m->cfg and m->w already set (gs_da3_load does this): bind every
 * module and check the keys. Frees m on failure. */
gs_status gs_da3_bind(gs_da3_model *m);
/* Human-readable one-liner: "da3-large (DualDPT, cam_enc, cam_dec), 410.9M params, F32". */
void gs_da3_describe(const gs_da3_model *m, char *buf, size_t n);

typedef struct {
    int process_res;            /* 504 */
    int resize_method;          /* gs_da3_resize_method of backbone/preprocess.h, default upper_bound_resize */
    gs_ref_strategy ref_strategy;
    int use_ray_pose;           /* ray head + ray->pose solver instead of the camera decoder */
    int infer_gs;               /* Gaussians (models with a GS head) */
    int align_to_input_scale;   /* with user cameras: report them and rescale depth (DA3 default 1) */
    uint64_t seed;              /* ray-pose RANSAC and Umeyama RANSAC */
    const gs_dump *dump;        /* named intermediates, or NULL */
    int quiet;
    /* Called as each stage starts ("preprocess", "camera encoder", "backbone",
     * "head", "cameras", "gaussians", "metric branch"), for progress
     * reports; NULL = none. */
    void (*on_stage)(void *ctx, const char *stage);
    void *stage_ctx;
    /* Progress of the forward, NULL = none: called as each stage starts
     * (stage names as above; the nested model's second network reports
     * "metric backbone", "metric head", ..., "metric scale") and after each
     * step: each backbone block, each head's chunk of views (one view at a
     * time unless dumping), the cameras, the Gaussian adapter. done of total
     * is the estimated cost of the finished steps (FLOP-equivalents, weighted
     * to track CPU time; gs_da3_work gives total before the run): it never
     * decreases, total stays fixed and the last call of a successful forward
     * has done == total. gs_da3_infer first reports ("preprocess", 0, 0):
     * total is 0 until the network's input size is known. */
    void (*on_progress)(void *ctx, const char *stage, int64_t done, int64_t total);
    void *progress_ctx;
} gs_da3_options;
void gs_da3_options_default(gs_da3_options *o);

typedef struct {
    int S, H, W;
    float *depth;               /* [S,H,W] */
    float *depth_conf;          /* [S,H,W] or NULL (mono/metric models) */
    float *sky;                 /* [S,H,W] sky probability (mono/metric models) or NULL */
    float *extrinsics;          /* [S,3,4] w2c OpenCV, or NULL (mono/metric) */
    float *intrinsics;          /* [S,3,3] pixels of the processed image, or NULL */
    uint8_t *images;            /* [S,H,W,3] processed images (clip(x*std+mean)*255, truncated) */
    gs_gaussians gaussians;     /* n == 0 unless infer_gs */
    /* The cameras of the Gaussians' frame (infer_gs only): the predicted w2c
     * and K before any nested metric scaling or alignment to user cameras,
     * with the translation times the pose-conditioned Sim(3) scale. Render
     * the Gaussians with these (DA3's video export does the equivalent). */
    float *gs_extrinsics;       /* [S,3,4] or NULL */
    float *gs_intrinsics;       /* [S,3,3] or NULL */
    int ref_index;              /* reference view chosen, -1 if none */
    int is_metric;
    float scale_factor;         /* nested: metric scale applied to depth and translations */
    int cropped;                /* preprocessing centre-cropped mixed sizes */
    size_t workspace_bytes;     /* the forward's memory plan (gs_da3_workspace) */
    /* seconds per stage */
    double t_preprocess, t_backbone, t_head, t_cameras, t_gs, t_post;
} gs_da3_prediction;
void gs_da3_prediction_free(gs_da3_prediction *p);

/* The network on an already normalised batch x [S,3,H,W] (as
 * DepthAnything3Net.forward / NestedDepthAnything3Net.forward): w2c_norm
 * [S,4,4] (normalised as api._normalize_extrinsics) and K [S,3,3] are the
 * optional user cameras for the camera encoder. Fills everything in p but
 * images. */
gs_status gs_da3_forward(gs_da3_model *m, const float *x, int S, int H, int W, const float *w2c_norm,
                         const float *K, const gs_da3_options *o, gs_da3_prediction *p);

/* Bytes of the one workspace arena gs_da3_forward takes for S views of H x
 * W (with_cameras: input cameras for the camera encoder): the largest plan
 * of the modules it runs one after the other. Outputs are not included. */
size_t gs_da3_workspace(const gs_da3_model *m, int S, int H, int W, int with_cameras, const gs_da3_options *o);

/* The total of gs_da3_options.on_progress for a forward of S views of H x W
 * (with_cameras: input cameras) with options o; 0 when the sizes are invalid. */
int64_t gs_da3_work(const gs_da3_model *m, int S, int H, int W, int with_cameras, const gs_da3_options *o);

/* Known cameras (w2c [S,4,4]) the predicted poses can be aligned to: with 2
 * or more, their centres must not all lie on one line (or at one point),
 * where the Umeyama alignment of the reference is degenerate. gs_da3_infer
 * checks it first; the CLI before loading the model. */
gs_status gs_da3_check_input_cameras(const float *w2c, int S);

/* DepthAnything3.inference: preprocess the images (RGB/gray/RGBA 8-bit),
 * run the network, and with user cameras (w2c [S,4,4] and K [S,3,3] in
 * pixels of the ORIGINAL images, either may be NULL) align the prediction
 * to them as the API does. */
gs_status gs_da3_infer(gs_da3_model *m, const gs_image *images, int S, const float *user_w2c,
                       const float *user_K, const gs_da3_options *o, gs_da3_prediction *p);

/* The predicted cameras as gs_cameras (processed-image size), named
 * names[v] + suffix: gs_frame = 0 the output cameras (extrinsics/intrinsics),
 * 1 the cameras of the Gaussians' frame (gs_extrinsics/gs_intrinsics). */
gs_status gs_da3_cameras(const gs_da3_prediction *p, int gs_frame, const char *const *names, const char *suffix,
                         gs_cameras *out);

#ifdef __cplusplus
}
#endif
#endif
