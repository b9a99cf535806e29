/* score.c - the render + score stage of `gs eval-nvs` (eval_nvs.h): the
 * Gaussians as a scene, every target rendered at its aligned camera (CUDA
 * when the evaluation device resolves to CUDA and the rasterizer starts,
 * else the CPU), clamped to [0,1] and scored against its ground truth with
 * PSNR / SSIM / LPIPS (eval/metrics.h), in groups; renders and the contact
 * sheet through report.c. */
#include "gs/nvs/nvs_internal.h"
#include "raster/raster.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Targets are rendered and scored in groups: the ground truth and renders of
 * one group are held at once, and each group loads the metric networks once. */
#define NVS_GROUP 16

/* The CUDA rasterizer when it started (NULL: the CPU), and the raster options. */
typedef struct {
    gs_raster_cuda *cuda;
    gs_raster_opts ro;
} renderer;

/* The render clamped to [0,1] (NaN -> 0, as the PNG writer) as an image. */
static gs_status render_image(const gs_raster_out *r, gs_image *im) {
    gs_status st = gs_image_alloc(im, r->width, r->height, 3);
    if (st) return st;
    const size_t n = (size_t)r->width * r->height * 3;
    for (size_t i = 0; i < n; i++) {
        float v = r->rgb[i];
        im->data[i] = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
    }
    im->bit_depth = 32;
    return GS_OK;
}

/* One view on the CUDA rasterizer when it is set up, else on the CPU. */
static gs_status render_view(renderer *rd, const gs_scene *sc, const gs_camera *cam, gs_raster_out *out) {
    if (rd->cuda) return gs_render_cuda(rd->cuda, cam, &rd->ro, out);
    return gs_render_cpu(sc, cam, &rd->ro, out);
}

/* The mean of the double at offset off of n rows (NAN for none). */
static double mean_of(const gs_nvs_target_row *rows, int n, size_t off) {
    double s = 0;
    for (int i = 0; i < n; i++) s += *(const double *)((const char *)&rows[i] + off);
    return n ? s / n : NAN;
}

/* The Gaussians as a renderable scene; the prediction and context images are freed. */
static gs_status to_render_scene(nvs_run *r) {
    gs_status st = gs_gaussians_to_scene(&r->p.gaussians, GS_GS_SH_DEGREE, &r->gsc);
    if (st) return st;
    gs_da3_prediction_free(&r->p);
    for (int i = 0; i < r->out->n_context; i++) gs_image_free(&r->ctx_img[i]);
    return GS_OK;
}

/* Raster options over the scene background; CUDA when the resolved device is CUDA and it starts. */
static void renderer_init(nvs_run *r, renderer *rd) {
    gs_raster_opts_default(&rd->ro);
    memcpy(rd->ro.bg, r->sc.bg, sizeof rd->ro.bg);
    r->o.eval.device = gs_device_resolve(r->o.eval.device);
    gs_nvs_eval_report *out = r->out;
    snprintf(out->render_device, sizeof out->render_device, "cpu (%d threads)", gs_num_threads());
    if (r->o.eval.device != GS_DEVICE_CUDA) return;
    if (gs_raster_cuda_new(&rd->cuda) == GS_OK && gs_raster_cuda_set_scene(rd->cuda, &r->gsc) == GS_OK) {
        snprintf(out->render_device, sizeof out->render_device, "cuda");
    } else {
        nvs_say(&r->o, "note: CUDA rasterizer unavailable (%s); rendering on the CPU", gs_last_error());
        gs_raster_cuda_free(rd->cuda);
        rd->cuda = NULL;
        gs_clear_error();
    }
}

/* Target j rendered (pred) with its ground truth (gt), and its outputs written. */
static gs_status render_target(nvs_run *r, renderer *rd, nvs_outputs *w, int j, gs_image *gt, gs_image *pred) {
    gs_nvs_eval_report *out = r->out;
    const int v = out->targets[j];
    gs_raster_out ro;
    memset(&ro, 0, sizeof ro);
    double t1 = gs_now();
    gs_status st = render_view(rd, &r->gsc, &r->aligned[v], &ro);
    out->t_render += gs_now() - t1;
    if (st) return gs_error_prefix(st, "rendering target %s", out->rows[j].name);
    st = render_image(&ro, pred);
    gs_raster_out_free(&ro);
    if (!st) st = gs_nvs_scene_image(&r->sc, v, gt);
    if (st) return st;
    t1 = gs_now();
    st = nvs_outputs_target(w, j, out->rows[j].name, gt, pred);
    out->t_outputs += gs_now() - t1;
    return st;
}

/* The metrics of gn renders from row g0 on into the rows (and the sheet's labels), with the metric labels. */
static gs_status score_group(nvs_run *r, nvs_outputs *w, int g0, int gn, const gs_image *preds,
                             const gs_image *gts) {
    gs_nvs_eval_report *out = r->out;
    const char *names[NVS_GROUP];
    for (int k = 0; k < gn; k++) names[k] = out->rows[g0 + k].name;
    gs_eval_report er;
    const double t1 = gs_now();
    gs_status st = gs_eval_images(preds, gts, names, gn, &r->o.eval, &er);
    out->t_metrics += gs_now() - t1;
    if (st) return st;
    for (int k = 0; k < gn; k++) {
        gs_nvs_target_row *row = &out->rows[g0 + k];
        row->psnr = er.rows[k].psnr;
        row->ssim = er.rows[k].ssim;
        row->lpips = er.rows[k].lpips;
        nvs_outputs_label(w, g0 + k, row->name, row->psnr, row->ssim, row->lpips); /* the sheet's labels */
    }
    snprintf(out->ssim_label, sizeof out->ssim_label, "%s", er.ssim_label);
    snprintf(out->lpips_label, sizeof out->lpips_label, "%s", er.lpips_label);
    snprintf(out->lpips_weights, sizeof out->lpips_weights, "%s", er.lpips_weights);
    snprintf(out->metrics_device, sizeof out->metrics_device, "%s", er.device);
    gs_eval_report_free(&er);
    return GS_OK;
}

/* Every target, NVS_GROUP at a time, under a progress bar. */
static gs_status render_score_all(nvs_run *r, renderer *rd, nvs_outputs *w) {
    const int NT = r->out->n_targets;
    gs_image *gts = gs_calloc(NVS_GROUP, sizeof *gts, "ground truth");
    gs_image *preds = gs_calloc(NVS_GROUP, sizeof *preds, "renders");
    gs_status st = GS_OK;
    if (!gts || !preds) st = GS_ERR_NOMEM;
    gs_progress pb;
    if (!st) gs_progress_begin(&pb, "render+score", NT, r->o.quiet);
    for (int g0 = 0; g0 < NT && !st; g0 += NVS_GROUP) {
        const int gn = NT - g0 < NVS_GROUP ? NT - g0 : NVS_GROUP;
        for (int k = 0; k < gn && !st; k++) st = render_target(r, rd, w, g0 + k, &gts[k], &preds[k]);
        if (!st) st = score_group(r, w, g0, gn, preds, gts);
        for (int k = 0; k < gn; k++) {
            gs_image_free(&gts[k]);
            gs_image_free(&preds[k]);
        }
        gs_progress_update(&pb, g0 + gn);
    }
    if (gts && preds) gs_progress_end(&pb);
    free(gts);
    free(preds);
    return st;
}

gs_status nvs_render_score(nvs_run *r) {
    gs_nvs_eval_report *out = r->out;
    const int NT = out->n_targets;
    renderer rd;
    memset(&rd, 0, sizeof rd);
    nvs_outputs w;
    memset(&w, 0, sizeof w);
    gs_status st = to_render_scene(r);
    if (st) return st;
    renderer_init(r, &rd);
    if (!(st = nvs_outputs_begin(&w, r->o.out_dir, r->sc.width, r->sc.height, NT, r->o.sheet_width)))
        st = render_score_all(r, &rd, &w);
    if (!st) {
        if (out->metric_psnr) out->mean_psnr = mean_of(out->rows, NT, offsetof(gs_nvs_target_row, psnr));
        if (out->metric_ssim) out->mean_ssim = mean_of(out->rows, NT, offsetof(gs_nvs_target_row, ssim));
        if (out->metric_lpips) out->mean_lpips = mean_of(out->rows, NT, offsetof(gs_nvs_target_row, lpips));
        const double t1 = gs_now();
        st = nvs_outputs_finish(&w);
        out->t_outputs += gs_now() - t1;
    }
    nvs_outputs_free(&w);
    gs_raster_cuda_free(rd.cuda);
    return st;
}
