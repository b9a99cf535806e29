/* eval_nvs.h - the paper-style novel-view-synthesis protocol behind
 * `gs eval-nvs`: a scene with ground-truth cameras and images -> context
 * views (a list, or farthest-point sampling of camera centres as the DA3
 * paper does) and held-out target views -> Depth Anything 3 with the 3DGS
 * head on the context images (optionally pose-conditioned on their
 * ground-truth cameras) -> a Sim(3) from the ground-truth context camera
 * centres to the predicted ones (the Gaussians' frame) -> every target
 * rendered at its aligned camera, ground-truth intrinsics and image size ->
 * PSNR / SSIM / LPIPS per target and on average, with the alignment error.
 *
 * The DA3 repository has no NVS evaluation code (docs: da3-architecture.md
 * §11, eval-data.md §5.1), so the choices here are written down where they
 * are made: FPS starts at the first candidate view; context images are
 * composited over the background before the network sees them; renders use
 * the background the ground truth is composited over (black for RGB data, as
 * DA3's renderer; white for RGBA data, as NeRF-synthetic); renders are
 * clamped to [0,1] and scored as floats (MVSplat/DepthSplat). */
#ifndef GS_EVAL_NVS_H
#define GS_EVAL_NVS_H

#include "data/align.h"
#include "data/cameras.h"
#include "data/image.h"
#include "eval/metrics.h"
#include "gs/model/da3.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the scene: ground-truth cameras and their images ------------------------ */
typedef enum { GS_NVS_BG_AUTO = -1, GS_NVS_BG_BLACK = 0, GS_NVS_BG_WHITE = 1 } gs_nvs_bg;

typedef struct {
    gs_cameras cams;            /* ground truth, OpenCV w2c; sizes checked against the images */
    gs_camera_format format;
    char **paths;               /* [cams.n] image file of each view */
    char **names;               /* [cams.n] output name: the image's file stem (unique) */
    int width, height;          /* common image size */
    int has_alpha;              /* some image has an alpha channel */
    float bg[3];                /* background of the composite and of the renders */
    char images_dir[1024];      /* where the images were found ("" when by full name) */
    char pairing[64];           /* "by name" / "by order (unnamed cameras, sorted images)" */
    /* two camera files (gs_nvs_scene_load_pair): views [0, n_context_views)
     * are the context file's, the others the target file's; 0: one file */
    int n_context_views;
    gs_camera_format target_format;
    char target_images_dir[1024];
} gs_nvs_scene;

/* Read the cameras (llff_factor as gs_camera_read_opts; 0 = 1) and find one
 * image per camera: a named camera's image is images_dir/NAME (also with
 * .png/.jpg/.jpeg appended, then by its base name), images_dir defaulting to
 * the camera file's folder; unnamed cameras (LLFF) take the sorted images of
 * images_dir, by default images_<F> (F = the LLFF factor) or images beside
 * the file. Only headers are read: every image must exist, have the size of
 * its camera and the same size as the others. bg AUTO: white when an image
 * has alpha, else black. */
gs_status gs_nvs_scene_load(const char *cameras_path, const char *images_dir, double llff_factor, gs_nvs_bg bg,
                            gs_nvs_scene *out);
/* Separate context and target camera files (NeRF-synthetic's
 * transforms_train.json and transforms_test.json), each loaded as above
 * (the context file with at least two views, the target file with one)
 * into one scene: the context views first (n_context_views of them), then
 * the target views; every image of one size; names unique within each file.
 * Both files must share a world frame: one Sim(3) maps them to the
 * prediction. target_path NULL: gs_nvs_scene_load. */
gs_status gs_nvs_scene_load_pair(const char *context_path, const char *context_images, const char *target_path,
                                 const char *target_images, double llff_factor, gs_nvs_bg bg, gs_nvs_scene *out);
void gs_nvs_scene_free(gs_nvs_scene *s);
/* The image of view i as RGB composited over s->bg (gray replicated). */
gs_status gs_nvs_scene_image(const gs_nvs_scene *s, int i, gs_image *out);

/* ---- view selection ---------------------------------------------------------- */
typedef enum { GS_NVS_TARGETS_REST = 0, GS_NVS_TARGETS_EVERY, GS_NVS_TARGETS_LIST } gs_nvs_target_mode;

#define GS_NVS_DEFAULT_CONTEXT 4

typedef struct {
    const int *context;         /* explicit context views, or NULL: farthest-point sampling */
    int n_context;
    int num_context;            /* FPS count (default GS_NVS_DEFAULT_CONTEXT) */
    gs_nvs_target_mode target_mode;
    int target_every;           /* K of every:K: views i with i % K == 0 */
    const int *targets;         /* GS_NVS_TARGETS_LIST */
    int n_targets;
    int max_targets;            /* > 0: keep this many, evenly spaced over the targets */
    int n_context_views;        /* > 0 (two camera files): views [0, this) are the only context
                                   candidates and the others the only target candidates; context
                                   indices count in the first file, target indices (LIST, every:K)
                                   in the second, and the selected targets are returned as indices
                                   of the whole list (this + the index in the target file) */
} gs_nvs_split_opts;
void gs_nvs_split_opts_default(gs_nvs_split_opts *o);

/* Split n views (cameras cams) into context and targets, both ascending.
 * rest: FPS over all views, targets = the others. every:K and list: the
 * held-out views are fixed first and FPS picks the context among the
 * others; with an explicit context, every:K drops the held-out views that
 * are context views, and a list that names one is an error. Errors: an index
 * out of range or repeated, too few views, no target left. ctx and tgt hold
 * n ints each. */
gs_status gs_nvs_select_views(const gs_camera *cams, int n, const gs_nvs_split_opts *o, int *ctx, int *n_ctx,
                              int *tgt, int *n_tgt);

/* ---- alignment --------------------------------------------------------------- */
typedef enum { GS_NVS_ALIGN_UMEYAMA = 0, GS_NVS_ALIGN_ROTATION = 1 } gs_nvs_align_method;

typedef struct {
    gs_sim3 T;                  /* ground-truth frame -> predicted (Gaussian) frame */
    gs_nvs_align_method method; /* UMEYAMA: centres (evo's Umeyama with scale); ROTATION: centres
                                   degenerate (two views, collinear): R from the camera
                                   rotations, s from the centre spreads */
    int n;
    double rmse_pred, max_pred; /* centre residuals |T(C_gt) - C_pred|, predicted units */
    double rmse_gt, max_gt;     /* the same in ground-truth units (/ s) */
    double spread_gt, spread_pred; /* RMS distance of the context centres from their mean */
    double rmse_rel;            /* rmse_pred / spread_pred: scale-free, 0 (exact) .. 1 (no better
                                   than collapsing every centre onto the mean) */
    double rot_mean_deg, rot_max_deg; /* angle(R Rc_gt, Rc_pred), camera-to-world rotations */
} gs_nvs_alignment;

/* Fit T with pred ≈ T(gt) on n context cameras and measure the residuals.
 * Errors: fewer than two views, or coincident centres on either side. */
gs_status gs_nvs_align(const gs_camera *gt, const gs_camera *pred, int n, gs_nvs_alignment *out);

/* ---- the whole protocol ------------------------------------------------------ */
typedef struct {
    const char *cameras_path;   /* required (the context cameras when target_cameras_path is set) */
    const char *images_dir;     /* NULL: beside the camera file */
    const char *target_cameras_path; /* NULL: targets from cameras_path; else a second file of the
                                   same world frame whose views are the targets (gs_nvs_scene_load_pair) */
    const char *target_images_dir;   /* NULL: beside the target camera file */
    const char *out_dir;        /* NULL: nothing written (metrics.json is gs_nvs_write_json's) */
    double llff_factor;
    gs_nvs_bg bg;
    gs_nvs_split_opts split;
    int posed;                  /* feed the ground-truth context cameras to the network */
    int process_res;            /* network input size (default 504) */
    gs_ref_strategy ref_strategy; /* default saddle_balanced, as DA3 */
    gs_eval_options eval;       /* metrics, LPIPS net/weights, device (renders too) */
    int sheet_width;            /* contact sheet width in pixels (default 1200) */
    int quiet;                  /* no progress bar */
    /* stage messages (may be NULL): the library never prints */
    void (*log)(void *user, const char *msg);
    void *log_user;
} gs_nvs_eval_opts;
void gs_nvs_eval_opts_default(gs_nvs_eval_opts *o);

typedef struct {
    int index;                  /* view index in the camera file (of the targets, with two files) */
    char *name;
    double psnr, ssim, lpips;   /* NAN when not computed */
} gs_nvs_target_row;

typedef struct {
    char model[1024], model_desc[256], cameras[1024], camera_format[32], images_dir[1024], pairing[64];
    int n_views, width, height; /* scene (n_views: of the context file with two files) */
    char target_cameras[1024], target_camera_format[32], target_images_dir[1024]; /* "" with one file */
    int n_target_views;         /* views of the target file; 0 with one file */
    float bg[3];
    int posed, process_res, net_width, net_height, ref_index; /* ref_index: into context[] */
    char context_mode[32], target_mode[32]; /* "fps" / "list"; "rest" / "every:K" / "list" */
    int n_context, n_targets, n_targets_before_cap;
    int *context, *targets;     /* view indices (targets: in the target file with two files) */
    char **context_names;
    gs_nvs_alignment align;
    float *pred_context_w2c;    /* [n_context,3,4] predicted cameras of the Gaussians' frame */
    float *pred_context_K;      /* [n_context,3,3] their intrinsics (network input pixels) */
    int64_t n_gaussians;
    double pose_scale, pose_scale_raw;
    gs_nvs_target_row *rows;    /* [n_targets], in target order */
    double mean_psnr, mean_ssim, mean_lpips;
    int metric_psnr, metric_ssim, metric_lpips;
    char ssim_label[64], lpips_label[64], lpips_weights[1024], metrics_device[160], render_device[160];
    float error_map_max;        /* the contact sheet's error scale: turbo over [0, this] */
    /* seconds */
    double t_scene, t_images, t_network, t_preprocess, t_backbone, t_head, t_cameras, t_gaussians, t_align, t_render,
        t_metrics, t_outputs, t_total;
} gs_nvs_eval_report;

/* Run the protocol with a loaded model (needs the 3DGS head: da3-giant or
 * da3nested-giant-large). With o->out_dir: renders/NAME.png and
 * contact_sheet.png are written there (atomically). */
gs_status gs_nvs_evaluate(gs_da3_model *model, const gs_nvs_eval_opts *o, gs_nvs_eval_report *out);
/* Everything gs_nvs_evaluate checks before the network, without a model:
 * the options, the camera files and image headers, the context/target
 * split (indices in range, enough context views), the LPIPS weights. The
 * CLI calls it before loading the checkpoint. */
gs_status gs_nvs_check(const gs_nvs_eval_opts *o);
void gs_nvs_eval_report_free(gs_nvs_eval_report *r);
/* metrics.json: every field of the report; +inf PSNR as "inf". Atomic. */
gs_status gs_nvs_write_json(const gs_nvs_eval_report *r, const char *path);

#ifdef __cplusplus
}
#endif
#endif
