/* metrics.h - rendering-quality metrics computed exactly as the reference
 * Python libraries do, so that numbers match published tables:
 *
 *  PSNR  pixelSplat/MVSplat convention: both images clamped to [0,1], MSE over
 *        all channels and pixels of one image, -10 log10(MSE); identical
 *        images give +inf.
 *  SSIM  GS_SSIM_SKIMAGE (default): scikit-image structural_similarity(
 *        win_size=11, gaussian_weights=True, sigma=1.5, data_range=1,
 *        use_sample_covariance=True, channel_axis=-1): Gaussian filter with
 *        scipy's 11 taps (truncate 3.5), covariances scaled by 121/120, mean
 *        over the pixels whose window lies inside the image (crop of 5), then
 *        over channels; computed in double like skimage. Images smaller than
 *        11 pixels on a side are rejected, as skimage does.
 *        GS_SSIM_3DGS: the 3D Gaussian Splatting ssim(): 11x11 Gaussian
 *        (sigma 1.5) with zero padding ("same" size), population covariance,
 *        mean over every pixel and channel.
 *  LPIPS v0.1, lpips.LPIPS(net=...)(pred, gt, normalize=True): inputs in
 *        [0,1] mapped to [-1,1], scaling layer, backbone (alex, squeeze or
 *        vgg), per-pixel unit-normalised features, squared difference,
 *        learned 1x1 linear layers, spatial mean, sum over layers. float32
 *        network, double reductions. One-channel images are replicated to RGB.
 *
 * Images are gs_image (float HWC); pred and gt must have the same size and
 * channel count. Alpha channels must be composited first (gs_eval_flatten).
 * The directory-level and scene-level evaluation behind `gs eval` is here
 * too, and CUDA twins of the three metrics (eval/metrics_cuda.cu). */
#ifndef GS_EVAL_METRICS_H
#define GS_EVAL_METRICS_H

#include "data/cameras.h"
#include "data/image.h"
#include "data/scene.h"
#include "gs/core/device.h"
#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- PSNR ------------------------------------------------------------------ */
gs_status gs_psnr(const gs_image *pred, const gs_image *gt, double *out);
/* The same on raw HWC float arrays of width*height*channels values. */
gs_status gs_psnr_f32(const float *pred, const float *gt, int width, int height, int channels, double *out);

/* ---- SSIM ------------------------------------------------------------------ */
typedef enum { GS_SSIM_SKIMAGE = 0, GS_SSIM_3DGS = 1 } gs_ssim_mode;
#define GS_SSIM_WIN 11 /* window side of both variants */

gs_status gs_ssim(const gs_image *pred, const gs_image *gt, gs_ssim_mode mode, double *out);
gs_status gs_ssim_f32(const float *pred, const float *gt, int width, int height, int channels, gs_ssim_mode mode,
                      double *out);
/* "skimage" / "3dgs" */
gs_status gs_ssim_mode_parse(const char *s, gs_ssim_mode *out);
/* Human-readable variant, e.g. "SSIM (skimage, gaussian 11x11 sigma 1.5)". */
const char *gs_ssim_mode_label(gs_ssim_mode mode);

/* ---- LPIPS ----------------------------------------------------------------- */
typedef enum { GS_LPIPS_ALEX = 0, GS_LPIPS_SQUEEZE = 1, GS_LPIPS_VGG = 2 } gs_lpips_net;
#define GS_LPIPS_MAX_LAYERS 7

typedef struct gs_lpips gs_lpips;

/* "alex" / "squeeze" / "vgg" */
gs_status gs_lpips_net_parse(const char *s, gs_lpips_net *out);
const char *gs_lpips_net_name(gs_lpips_net net);
/* e.g. "LPIPS-alex v0.1" */
const char *gs_lpips_label(gs_lpips_net net);
/* Find the default weights file lpips_<net>_v0.1.safetensors in, in order:
 * $GS_LPIPS_DIR; $GS_SHARED_DATA/lpips; beside the program (DIR/lpips, where
 * DIR holds gs); an installed prefix (DIR/../share/gs/lpips); a build folder
 * of a checkout beside shared/ (DIR/../../shared/data/lpips, as build/gs).
 * Never relative to the current folder. For vgg,
 * lpips_vgg_v0.1_lin_only.safetensors is taken last so that loading it
 * explains what is missing. GS_ERR_NOT_FOUND lists where it looked. */
gs_status gs_lpips_find_weights(gs_lpips_net net, char *path, size_t n);
/* Load a safetensors file whose keys are those of
 * lpips.LPIPS(net=...).state_dict() (net.sliceK.I.weight/bias,
 * linL.model.1.weight, optionally scaling_layer.shift/scale). Every tensor
 * is checked for presence, dtype F32 and shape; a missing tensor is named. */
gs_status gs_lpips_load(const char *path, gs_lpips_net net, gs_lpips **out);
gs_lpips_net gs_lpips_get_net(const gs_lpips *m);
int gs_lpips_num_layers(const gs_lpips *m);
/* LPIPS distance of two images (1 or 3 channels, same size). per_layer, when
 * not NULL, receives the gs_lpips_num_layers() terms whose sum is *out.
 * Images too small for the network fail with GS_ERR_INVALID. */
gs_status gs_lpips_eval(gs_lpips *m, const gs_image *pred, const gs_image *gt, double *out, double *per_layer);
void gs_lpips_free(gs_lpips *m);

/* ---- helpers and directory evaluation (gs eval) ---------------------------- */
/* Composite an image with alpha (2 or 4 channels) over bg (gray uses bg[0]):
 * c*a + bg*(1-a) in float. 1- and 3-channel images are copied. */
gs_status gs_eval_flatten(const gs_image *in, const float bg[3], gs_image *out);

typedef struct {
    int psnr, ssim, lpips;     /* which metrics to compute (non-zero: yes) */
    gs_ssim_mode ssim_mode;
    gs_lpips_net lpips_net;
    const char *lpips_weights; /* NULL: gs_lpips_find_weights */
    float bg[3];               /* background for images with alpha (and of the renders of gs_eval_scene) */
    gs_device device;          /* resolved with gs_device_resolve: auto/cuda use the GPU when one is usable */
    int64_t max_pixels;        /* larger images are refused from their header, before decoding */
    int strict;                /* gs_eval_dirs: a ground-truth image without a prediction is an error */
} gs_eval_options;

/* What an image may hold for gs eval by default: 50 megapixels (an 8K frame
 * is 33), about 1.2 GB for the decoded pair and the SSIM planes. */
#define GS_EVAL_MAX_PIXELS (50LL * 1000 * 1000)

/* Defaults: all three metrics, skimage SSIM, alex, white background, CPU,
 * GS_EVAL_MAX_PIXELS. */
void gs_eval_options_default(gs_eval_options *o);
/* "psnr,ssim,lpips" (any subset, any order) -> the three flags */
gs_status gs_eval_metrics_parse(const char *list, gs_eval_options *o);

typedef struct {
    char *name;               /* file name in the ground-truth directory */
    int width, height, channels;
    double psnr, ssim, lpips; /* NAN when not computed; psnr may be +inf */
} gs_eval_row;

typedef struct {
    int n;
    gs_eval_row *rows;        /* sorted by name */
    double mean_psnr, mean_ssim, mean_lpips; /* means over rows (NAN if off) */
    gs_eval_options opt;
    char ssim_label[64], lpips_label[64];
    char lpips_weights[1024]; /* the file used, "" when LPIPS is off */
    char pred_dir[1024], gt_dir[1024]; /* "" for gs_eval_images; pred_dir is the scene for gs_eval_scene */
    char device[160];         /* where the metrics ran, e.g. "cpu (2 threads)" */
    double seconds;
    /* gs_eval_scene only */
    int scene_mode;           /* 1: rows are renders of a scene */
    char pairing[64];         /* "by name" or "by order (unnamed cameras)" */
    int n_cameras_without_gt; /* skipped (allow_missing_gt) */
    char cameras_without_gt[512];
    int n_gt_without_camera;  /* ground-truth images that no camera names (never an error) */
    char gt_without_camera[512];
    double render_seconds;
    char render_device[16];   /* "cpu" or "cuda" */
    /* gs_eval_dirs only */
    int n_gt;                 /* images in gt_dir; n of them were scored */
    int n_missing;            /* ground-truth images without a prediction (not scored) */
    char **missing;           /* [n_missing] their file names, sorted */
} gs_eval_report;

/* Pair the images of pred_dir and gt_dir by file name (the stem when the
 * extensions differ: render.png <-> render.jpg), composite alpha over
 * opt->bg, score every pair. gt_dir may hold more images than pred_dir:
 * those without a prediction are not scored but listed (n_missing, missing);
 * with opt->strict they are an error naming them, as is no pair at all. A
 * prediction without ground truth is always an error (a naming mistake that
 * a mean over the others would hide). Size or channel mismatches,
 * unreadable images, a missing LPIPS weights file: an error naming them. */
gs_status gs_eval_dirs(const char *pred_dir, const char *gt_dir, const gs_eval_options *opt,
                       gs_eval_report *out);
/* Score lists of images already in memory (same order); names may be NULL. */
gs_status gs_eval_images(const gs_image *preds, const gs_image *gts, const char *const *names, int n,
                         const gs_eval_options *opt, gs_eval_report *out);
/* Write the report as JSON / CSV, atomically. +inf PSNR is written as the
 * string "inf" in JSON (JSON has no infinity) and as inf in CSV. For
 * gs_eval_dirs the JSON has gt_count, missing_count and missing (every
 * name); the CSV lists each missing image as a row with empty values after
 * the scored rows, before the mean. */
gs_status gs_eval_write_json(const gs_eval_report *r, const char *path);
gs_status gs_eval_write_csv(const gs_eval_report *r, const char *path);
void gs_eval_report_free(gs_eval_report *r);

/* ---- scene evaluation (gs eval --scene) ----------------------------------- */
typedef struct {
    const char *scene_name;   /* for the report (e.g. the splat file); may be NULL */
    const char *save_dir;     /* write every render as <gt stem>.png here; NULL: no */
    int quantize8;            /* score the renders rounded to 8 bits, as a saved PNG holds them
                               * (3DGS's metrics.py scores PNG files); 0: float renders */
    int allow_missing_gt;     /* cameras without ground truth are skipped and listed; 0: an error */
    int sh_degree;            /* -1: the scene's */
    int antialiased;          /* gsplat's antialiased mode */
    /* called after each view (may be NULL) */
    void (*progress)(void *user, int done, int total);
    void *progress_user;
} gs_eval_scene_options;

void gs_eval_scene_options_default(gs_eval_scene_options *o);
/* Render `scene` at every camera (at the camera's size, background opt->bg;
 * with the CUDA rasterizer when opt->device resolves to CUDA), clamp the render to [0,1] and score it against the ground-truth image of
 * that camera in gt_dir, composited over opt->bg.
 * Pairing: a camera's name (its directory part dropped, "./test/r_0" ->
 * "r_0") matches the file of the same name, or of the same stem ("r_0" or
 * "r_0.jpg" -> r_0.png). When no camera has a name (LLFF poses_bounds.npy)
 * and gt_dir holds exactly one image per camera, the sorted file names are
 * paired with the cameras in order, as LLFF loaders do. Cameras without
 * ground truth are an error naming them (or skipped with allow_missing_gt);
 * ground-truth images that no camera names are only listed in the report
 * (data sets keep depth/normal maps beside the images). A camera whose size
 * differs from its image, or without a pose, is an error. */
gs_status gs_eval_scene(const gs_scene *scene, const gs_cameras *cams, const char *gt_dir, const gs_eval_options *opt,
                        const gs_eval_scene_options *so, gs_eval_report *out);

/* ---- CUDA (eval/metrics_cuda.cu) ------------------------------------------ *
 * The same metrics on the GPU, from host images (uploaded each call into
 * buffers that the context keeps). PSNR and SSIM accumulate in double with
 * deterministic reductions; the LPIPS network runs in float32 (convolutions
 * as im2col + cuBLAS SGEMM, no TF32) with the same double reductions as the
 * CPU. Without CUDA support in the build, or without a usable GPU,
 * gs_eval_cuda_new fails (GS_ERR_UNSUPPORTED / GS_ERR_DEVICE) and nothing
 * else can be called. */
typedef struct gs_eval_cuda gs_eval_cuda;

gs_status gs_eval_cuda_new(gs_eval_cuda **out);
void gs_eval_cuda_free(gs_eval_cuda *ctx);
/* "NVIDIA H100 80GB HBM3, sm_90, ..." */
const char *gs_eval_cuda_device_name(const gs_eval_cuda *ctx);
gs_status gs_psnr_cuda(gs_eval_cuda *ctx, const gs_image *pred, const gs_image *gt, double *out);
gs_status gs_ssim_cuda(gs_eval_cuda *ctx, const gs_image *pred, const gs_image *gt, gs_ssim_mode mode, double *out);
/* Uploads m's weights on first use (kept until gs_lpips_free). */
gs_status gs_lpips_eval_cuda(gs_eval_cuda *ctx, gs_lpips *m, const gs_image *pred, const gs_image *gt, double *out,
                             double *per_layer);
/* Hold a pair: until the release, metric calls on these same two images
 * (same pixel pointers and shape) reuse the copy already on the GPU instead
 * of uploading it again; the caller keeps the pixels unchanged meanwhile.
 * Other images are uploaded as usual. gs eval holds each pair across its
 * metrics; the benchmark does not (its figures include the upload). */
void gs_eval_cuda_hold_pair(gs_eval_cuda *ctx, const gs_image *pred, const gs_image *gt);
void gs_eval_cuda_release_pair(gs_eval_cuda *ctx);
/* Wait for the GPU (for timing; every call above already returns its value). */
gs_status gs_eval_cuda_sync(gs_eval_cuda *ctx);

#ifdef __cplusplus
}
#endif
#endif
