/* protocol.c - the novel-view-synthesis evaluation protocol of `gs eval-nvs`
 * (eval_nvs.h), run stage by stage: ground-truth scene (scene.c) -> context /
 * target split (select.c) -> DA3 with the 3DGS head on the context views
 * (infer.c) -> Sim(3) alignment of the ground-truth cameras to the Gaussians'
 * frame (align.c) -> renders of the targets and their metrics (score.c) ->
 * renders, contact sheet and metrics.json (report.c). */
#include "gs/nvs/nvs_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void nvs_say(const gs_nvs_eval_opts *o, const char *fmt, ...) {
    if (!o->log) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->log(o->log_user, buf);
}

void gs_nvs_eval_opts_default(gs_nvs_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->bg = GS_NVS_BG_AUTO;
    gs_nvs_split_opts_default(&o->split);
    o->process_res = 504;
    o->ref_strategy = GS_REF_SADDLE_BALANCED;
    gs_eval_options_default(&o->eval);
    o->sheet_width = 1200;
}

/* The model has the 3DGS head, a metric is selected, the sheet width is sane,
 * and the LPIPS weights are found (before any expensive work) into r->lpips_path. */
static gs_status check_opts(nvs_run *r) {
    const gs_da3_model *model = r->model;
    gs_nvs_eval_opts *o = &r->o;
    if (model && !model->cfg.net.has_gs_head)
        return gs_error(GS_ERR_UNSUPPORTED,
                        "model %s has no 3DGS head: novel views need da3-giant or da3nested-giant-large",
                        model->cfg.model_name[0] ? model->cfg.model_name : model->path);
    if (!o->eval.psnr && !o->eval.ssim && !o->eval.lpips)
        return gs_error(GS_ERR_INVALID, "eval-nvs: no metric selected");
    if (o->sheet_width < 64 || o->sheet_width > 16384)
        return gs_error(GS_ERR_INVALID, "eval-nvs: contact sheet width %d is outside 64..16384", o->sheet_width);
    if (!o->eval.lpips) return GS_OK;
    if (o->eval.lpips_weights) {
        if (!nvs_is_file(o->eval.lpips_weights))
            return gs_error(GS_ERR_IO, "%s: LPIPS weights file not found", o->eval.lpips_weights);
        snprintf(r->lpips_path, sizeof r->lpips_path, "%s", o->eval.lpips_weights);
    } else {
        gs_status st = gs_lpips_find_weights(o->eval.lpips_net, r->lpips_path, sizeof r->lpips_path);
        if (st) return st;
    }
    o->eval.lpips_weights = r->lpips_path;
    return GS_OK;
}

/* The report's model, scene and option fields; metrics NAN until scored. */
static void report_begin(nvs_run *r) {
    gs_nvs_eval_report *out = r->out;
    const gs_nvs_scene *sc = &r->sc;
    const gs_nvs_eval_opts *o = &r->o;
    if (r->model) { /* none in gs_nvs_check */
        snprintf(out->model, sizeof out->model, "%s", r->model->path);
        gs_da3_describe(r->model, out->model_desc, sizeof out->model_desc);
    }
    snprintf(out->cameras, sizeof out->cameras, "%s", o->cameras_path);
    snprintf(out->camera_format, sizeof out->camera_format, "%s", gs_camera_format_name(sc->format));
    snprintf(out->images_dir, sizeof out->images_dir, "%s", sc->images_dir);
    snprintf(out->pairing, sizeof out->pairing, "%s", sc->pairing);
    out->n_views = sc->n_context_views ? sc->n_context_views : sc->cams.n;
    if (sc->n_context_views) {
        out->n_target_views = sc->cams.n - sc->n_context_views;
        snprintf(out->target_cameras, sizeof out->target_cameras, "%s", o->target_cameras_path);
        snprintf(out->target_camera_format, sizeof out->target_camera_format, "%s",
                 gs_camera_format_name(sc->target_format));
        snprintf(out->target_images_dir, sizeof out->target_images_dir, "%s", sc->target_images_dir);
    }
    out->width = sc->width;
    out->height = sc->height;
    memcpy(out->bg, sc->bg, sizeof out->bg);
    out->posed = o->posed;
    out->process_res = o->process_res;
    out->ref_index = -1;
    out->metric_psnr = o->eval.psnr != 0;
    out->metric_ssim = o->eval.ssim != 0;
    out->metric_lpips = o->eval.lpips != 0;
    out->error_map_max = NVS_ERROR_MAX;
    out->mean_psnr = out->mean_ssim = out->mean_lpips = NAN;
}

/* Everything the stages left in r (not out). */
static void run_free(nvs_run *r) {
    for (int i = 0; r->ctx_img && i < r->out->n_context; i++) gs_image_free(&r->ctx_img[i]);
    free(r->ctx_img);
    free(r->uw2c);
    free(r->uK);
    free(r->gt_ctx);
    free(r->pred_ctx);
    free(r->aligned);
    gs_scene_free(&r->gsc);
    gs_da3_prediction_free(&r->p);
    gs_nvs_scene_free(&r->sc);
}

gs_status gs_nvs_check(const gs_nvs_eval_opts *o_in) {
    if (!o_in) return gs_error(GS_ERR_INVALID, "eval-nvs: NULL argument");
    nvs_run r;
    gs_nvs_eval_report rep;
    memset(&r, 0, sizeof r);
    memset(&rep, 0, sizeof rep);
    r.o = *o_in;
    r.o.log = NULL; /* the run says it all again */
    r.out = &rep;
    gs_status st = check_opts(&r);
    if (!st)
        st = gs_nvs_scene_load_pair(r.o.cameras_path, r.o.images_dir, r.o.target_cameras_path, r.o.target_images_dir,
                                    r.o.llff_factor, r.o.bg, &r.sc);
    if (!st) {
        report_begin(&r);
        st = nvs_split(&r);
    }
    run_free(&r);
    gs_nvs_eval_report_free(&rep);
    return st;
}

gs_status gs_nvs_evaluate(gs_da3_model *model, const gs_nvs_eval_opts *o_in, gs_nvs_eval_report *out) {
    const double t_start = gs_now();
    memset(out, 0, sizeof *out);
    if (!model || !o_in) return gs_error(GS_ERR_INVALID, "eval-nvs: NULL argument");
    nvs_run r;
    memset(&r, 0, sizeof r);
    r.model = model;
    r.o = *o_in;
    r.out = out;
    gs_status st = check_opts(&r);
    if (st) return st;
    if ((st = gs_nvs_scene_load_pair(r.o.cameras_path, r.o.images_dir, r.o.target_cameras_path,
                                     r.o.target_images_dir, r.o.llff_factor, r.o.bg, &r.sc)))
        return st;
    report_begin(&r);
    out->t_scene = gs_now() - t_start;
    nvs_say(&r.o, "%d views of %dx%d (%s, images %s in %s), background %s", out->n_views, r.sc.width, r.sc.height,
            out->camera_format, r.sc.pairing, r.sc.images_dir[0] ? r.sc.images_dir : ".",
            r.sc.bg[0] > 0.5f ? "white" : "black");
    if (out->n_target_views)
        nvs_say(&r.o, "targets from %s: %d views (%s, images in %s)", out->target_cameras, out->n_target_views,
                out->target_camera_format, out->target_images_dir[0] ? out->target_images_dir : ".");
    st = nvs_split(&r);
    if (!st) st = nvs_infer(&r);
    if (!st) st = nvs_align_views(&r);
    if (!st) st = nvs_render_score(&r);
    /* with two camera files the targets are reported as indices of the target file */
    for (int j = 0; !st && j < out->n_targets; j++) out->targets[j] -= r.sc.n_context_views;
    run_free(&r);
    if (st) gs_nvs_eval_report_free(out);
    else out->t_total = gs_now() - t_start;
    return st;
}
