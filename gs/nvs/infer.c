/* infer.c - the network stage of `gs eval-nvs` (eval_nvs.h): the context
 * images composited over the scene background, optionally their
 * ground-truth cameras, through Depth Anything 3 with the 3DGS head; the
 * Gaussians, the predicted context cameras (the Gaussians' frame) and the
 * network's timings go on to the later stages and into the report. */
#include "gs/nvs/nvs_internal.h"

#include <string.h>

/* The context images and ground-truth cameras (as w2c / K for the network when posed). */
static gs_status load_context(nvs_run *r) {
    const int S = r->out->n_context;
    const int *ctx = r->out->context;
    r->ctx_img = gs_calloc((size_t)S, sizeof *r->ctx_img, "context images");
    if (!r->ctx_img) return GS_ERR_NOMEM;
    gs_status st;
    for (int i = 0; i < S; i++)
        if ((st = gs_nvs_scene_image(&r->sc, ctx[i], &r->ctx_img[i]))) return st;
    r->gt_ctx = gs_calloc((size_t)S, sizeof *r->gt_ctx, "context cameras");
    r->pred_ctx = gs_calloc((size_t)S, sizeof *r->pred_ctx, "context cameras");
    if (!r->gt_ctx || !r->pred_ctx) return GS_ERR_NOMEM;
    for (int i = 0; i < S; i++) r->gt_ctx[i] = r->sc.cams.cams[ctx[i]];
    if (r->o.posed) {
        r->uw2c = gs_malloc((size_t)S * 16, sizeof(float), "context cameras");
        r->uK = gs_calloc((size_t)S * 9, sizeof(float), "context cameras");
        if (!r->uw2c || !r->uK) return GS_ERR_NOMEM;
        for (int i = 0; i < S; i++) gs_camera_to_w2c_K(&r->gt_ctx[i], r->uw2c + 16 * i, r->uK + 9 * i);
    }
    return GS_OK;
}

/* gs_da3_infer on the context views -> r->p, with the network's timings. */
static gs_status run_network(nvs_run *r) {
    gs_nvs_eval_report *out = r->out;
    const int S = out->n_context;
    gs_da3_options dop;
    gs_da3_options_default(&dop);
    dop.process_res = r->o.process_res;
    dop.ref_strategy = r->o.ref_strategy;
    dop.infer_gs = 1;
    dop.quiet = r->o.quiet;
    nvs_say(&r->o, "running %s on %d context view%s%s", r->model->cfg.model_name, S, S == 1 ? "" : "s",
            r->o.posed ? " with their ground-truth cameras" : "");
    const double t0 = gs_now();
    gs_status st = gs_da3_infer(r->model, r->ctx_img, S, r->uw2c, r->uK, &dop, &r->p);
    if (st) return st;
    out->t_network = gs_now() - t0;
    out->t_preprocess = r->p.t_preprocess;
    out->t_backbone = r->p.t_backbone;
    out->t_head = r->p.t_head;
    out->t_cameras = r->p.t_cameras;
    out->t_gaussians = r->p.t_gs;
    return GS_OK;
}

/* The prediction's part of the report, and r->pred_ctx from its cameras. */
static gs_status keep_prediction(nvs_run *r) {
    gs_nvs_eval_report *out = r->out;
    const gs_da3_prediction *p = &r->p;
    const int S = out->n_context;
    if (!p->gs_extrinsics || !p->gs_intrinsics || p->gaussians.n < 1)
        return gs_error(GS_ERR_INVALID, "eval-nvs: the network returned no Gaussians");
    out->net_width = p->W;
    out->net_height = p->H;
    out->ref_index = p->ref_index;
    out->n_gaussians = p->gaussians.n;
    out->pose_scale = p->gaussians.pose_scale;
    out->pose_scale_raw = p->gaussians.pose_scale_raw;
    out->pred_context_w2c = gs_malloc((size_t)S * 12, sizeof(float), "predicted cameras");
    out->pred_context_K = gs_malloc((size_t)S * 9, sizeof(float), "predicted cameras");
    if (!out->pred_context_w2c || !out->pred_context_K) return GS_ERR_NOMEM;
    memcpy(out->pred_context_w2c, p->gs_extrinsics, (size_t)S * 12 * sizeof(float));
    memcpy(out->pred_context_K, p->gs_intrinsics, (size_t)S * 9 * sizeof(float));
    nvs_say(&r->o,
            "%lld Gaussians at %dx%d (network %.2f s: preprocess %.0f ms, backbone %.0f ms, heads %.0f ms, cameras "
            "%.0f ms, Gaussians %.0f ms)",
            (long long)p->gaussians.n, p->W, p->H, out->t_network, p->t_preprocess * 1e3, p->t_backbone * 1e3,
            p->t_head * 1e3, p->t_cameras * 1e3, p->t_gs * 1e3);
    if (r->o.posed && p->gaussians.pose_scale != p->gaussians.pose_scale_raw)
        nvs_say(&r->o, "warning: the pose-conditioned scale %.4g was clamped to %.4g (DA3 clamps it to [1/3, 3])",
                p->gaussians.pose_scale_raw, p->gaussians.pose_scale);
    for (int i = 0; i < S; i++)
        gs_camera_from_w2c_K(&r->pred_ctx[i], p->gs_extrinsics + 12 * i, p->gs_intrinsics + 9 * i, p->W, p->H);
    return GS_OK;
}

gs_status nvs_infer(nvs_run *r) {
    const double t0 = gs_now();
    gs_status st = load_context(r);
    if (st) return st;
    r->out->t_images = gs_now() - t0;
    if ((st = run_network(r))) return st;
    return keep_prediction(r);
}
