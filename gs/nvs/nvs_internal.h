/* nvs_internal.h - what the stages of gs_nvs_evaluate share (not part of
 * eval_nvs.h): the state of one run, which each stage reads and extends in
 * order, and one entry point per stage. scene.c loads the scene, select.c
 * splits it, infer.c runs the network, align.c fits the Sim(3), score.c
 * renders and scores the targets, report.c writes the outputs and
 * metrics.json; protocol.c runs them in that order. */
#ifndef GS_NVS_INTERNAL_H
#define GS_NVS_INTERNAL_H

#include "gs/nvs/eval_nvs.h"
#include "data/scene.h"

/* The contact sheet's error maps: turbo over [0, NVS_ERROR_MAX] of the mean
 * absolute RGB error. */
#define NVS_ERROR_MAX 0.5f

/* One run of the protocol. Each stage fills its part of out and the fields
 * below that later stages need; protocol.c frees what is left. */
typedef struct {
    gs_da3_model *model;
    gs_nvs_eval_opts o;         /* the caller's, with eval.lpips_weights -> lpips_path */
    char lpips_path[1024];
    gs_nvs_scene sc;
    gs_nvs_eval_report *out;
    /* infer.c: [n_context] each */
    gs_image *ctx_img;          /* freed by score.c once the Gaussians are a scene */
    gs_camera *gt_ctx, *pred_ctx;
    float *uw2c, *uK;           /* posed: the ground-truth context cameras for the network */
    gs_da3_prediction p;        /* freed by score.c as ctx_img */
    /* align.c: [n_views] every ground-truth camera in the Gaussians' frame */
    gs_camera *aligned;
    /* score.c */
    gs_scene gsc;
} nvs_run;

/* ---- the stages, in order ------------------------------------------------------ */
/* select.c: context and targets into out (views, modes, names, rows). */
gs_status nvs_split(nvs_run *r);
/* infer.c: the network on the context images -> r->p, r->pred_ctx, out's network fields. */
gs_status nvs_infer(nvs_run *r);
/* align.c: out->align from the context cameras, r->aligned from all. */
gs_status nvs_align_views(nvs_run *r);
/* score.c: every target rendered at its aligned camera and scored; outputs
 * through report.c when o.out_dir is set. */
gs_status nvs_render_score(nvs_run *r);

/* ---- report.c: renders/ and the contact sheet ------------------------------------ */
typedef struct {
    const char *out_dir;        /* NULL: nothing written */
    char renders_dir[1100];
    gs_image sheet;
    int tw, th;                 /* tile size */
} nvs_outputs;
/* renders/ created and the sheet for rows targets of W x H allocated (no-op without out_dir). */
gs_status nvs_outputs_begin(nvs_outputs *w, const char *out_dir, int W, int H, int rows, int sheet_width);
/* renders/NAME.png and row `row` of the sheet (no-op without out_dir). */
gs_status nvs_outputs_target(nvs_outputs *w, int row, const char *name, const gs_image *gt, const gs_image *pred);
/* The labels of row `row` of the sheet, once its metrics are known (no-op
 * without out_dir): each tile gets its text (nvs_sheet_labels) at its
 * top-left corner, white on a darkened box (eval/label.h), at twice the
 * font size when that fits the tile's width. NAN metrics are left out. */
void nvs_outputs_label(nvs_outputs *w, int row, const char *name, double psnr, double ssim, double lpips);
/* The three texts: "NAME\nground truth", "NAME\nrender\nPSNR 23.45\nSSIM
 * 0.8123\nLPIPS 0.1234" and the error map's scale "abs. error\n0 - 0.5". */
#define NVS_LABEL_MAX 160
void nvs_sheet_labels(const char *name, double psnr, double ssim, double lpips, char gt[NVS_LABEL_MAX],
                      char render[NVS_LABEL_MAX], char err[NVS_LABEL_MAX]);
/* The top-left corner of the tile of row r, column col (0 ground truth, 1
 * render, 2 error map) in the sheet. */
void nvs_sheet_tile_origin(int tw, int th, int r, int col, int *x, int *y);
/* contact_sheet.png (no-op without out_dir). */
gs_status nvs_outputs_finish(nvs_outputs *w);
void nvs_outputs_free(nvs_outputs *w);

/* ---- shared helpers ---------------------------------------------------------------- */
/* protocol.c: a stage message through o->log (nothing when it is NULL). */
void nvs_say(const gs_nvs_eval_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* scene.c */
void nvs_free_strings(char **v, int n);
int nvs_is_file(const char *path);

#endif
