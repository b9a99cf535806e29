/* report.c - the outputs of `gs eval-nvs` (eval_nvs.h): renders/NAME.png,
 * contact_sheet.png (per target: ground truth | render | turbo map of the
 * mean absolute RGB error), metrics.json and the report's memory. The table
 * is the CLI's (gs/cli/cmd_eval_nvs.c). */
#include "gs/nvs/nvs_internal.h"
#include "eval/label.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Pixels between and around the contact sheet's tiles. */
#define NVS_SHEET_GAP 4

void gs_nvs_eval_report_free(gs_nvs_eval_report *r) {
    free(r->context);
    free(r->targets);
    nvs_free_strings(r->context_names, r->n_context);
    free(r->pred_context_w2c);
    free(r->pred_context_K);
    for (int i = 0; r->rows && i < r->n_targets; i++) free(r->rows[i].name);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* ---- renders/ and the contact sheet ------------------------------------------------- */

/* Area-average src (w x h x c) into dst (tw x th x c), tw <= w, th <= h. */
static void box_downscale(const float *src, int w, int h, int c, float *dst, int tw, int th) {
    const double sx = (double)w / tw, sy = (double)h / th;
    for (int y = 0; y < th; y++) {
        const double y0 = y * sy, y1 = (y + 1) * sy;
        for (int x = 0; x < tw; x++) {
            const double x0 = x * sx, x1 = (x + 1) * sx;
            double acc[4] = {0, 0, 0, 0}, wsum = 0;
            for (int j = (int)y0; j < h && j < y1; j++) {
                const double wy = fmin(j + 1.0, y1) - fmax((double)j, y0);
                for (int i = (int)x0; i < w && i < x1; i++) {
                    const double wgt = wy * (fmin(i + 1.0, x1) - fmax((double)i, x0));
                    if (wgt <= 0) continue;
                    for (int k = 0; k < c; k++) acc[k] += wgt * src[((size_t)j * w + i) * c + k];
                    wsum += wgt;
                }
            }
            for (int k = 0; k < c; k++) dst[((size_t)y * tw + x) * c + k] = (float)(wsum > 0 ? acc[k] / wsum : 0);
        }
    }
}

/* The sheet for rows targets of W x H: three tiles a row, NVS_SHEET_GAP apart, on dark gray. */
static gs_status sheet_begin(nvs_outputs *w, int W, int H, int rows, int sheet_width) {
    int tw = (sheet_width - 4 * NVS_SHEET_GAP) / 3;
    if (tw > W) tw = W;
    if (tw < 8) tw = W < 8 ? W : 8;
    int th = (int)lround((double)H * tw / W);
    if (th < 1) th = 1;
    if (th > H) th = H;
    w->tw = tw;
    w->th = th;
    const int64_t sh = (int64_t)rows * th + (int64_t)(rows + 1) * NVS_SHEET_GAP;
    const int sw = 3 * tw + 4 * NVS_SHEET_GAP;
    if (sh > GS_IMAGE_MAX_DIM || sh * sw > GS_IMAGE_MAX_PIXELS)
        return gs_error(GS_ERR_INVALID, "contact sheet: %d rows of %dx%d tiles is too large (use --max-targets or a "
                                        "smaller --sheet-width)", rows, tw, th);
    gs_status st = gs_image_alloc(&w->sheet, sw, (int)sh, 3);
    if (st) return st;
    const size_t n = (size_t)sw * (size_t)sh * 3;
    for (size_t i = 0; i < n; i++) w->sheet.data[i] = 0.15f;
    return GS_OK;
}

void nvs_sheet_tile_origin(int tw, int th, int r, int col, int *x, int *y) {
    *x = NVS_SHEET_GAP + col * (tw + NVS_SHEET_GAP);
    *y = NVS_SHEET_GAP + r * (th + NVS_SHEET_GAP);
}

/* Paste a tile (tw x th, c = 3) into row r, column col. */
static void sheet_paste(nvs_outputs *w, int r, int col, const float *tile) {
    int x0, y0;
    nvs_sheet_tile_origin(w->tw, w->th, r, col, &x0, &y0);
    for (int y = 0; y < w->th; y++)
        memcpy(w->sheet.data + (((size_t)(y0 + y) * w->sheet.width) + x0) * 3, tile + (size_t)y * w->tw * 3,
               (size_t)w->tw * 3 * sizeof(float));
}

/* Ground truth | render | turbo error map (mean absolute error over RGB,
 * 0 .. NVS_ERROR_MAX) for one target. */
static gs_status sheet_row(nvs_outputs *w, int r, const gs_image *gt, const gs_image *pred) {
    const int W = gt->width, H = gt->height;
    const size_t np = (size_t)W * H;
    float *tile = gs_malloc((size_t)w->tw * w->th, 3 * sizeof(float), "contact sheet tile");
    float *err = gs_malloc(np, sizeof(float), "error map");
    float *small = gs_malloc((size_t)w->tw * w->th, sizeof(float), "error map");
    if (!tile || !err || !small) {
        free(tile);
        free(err);
        free(small);
        return GS_ERR_NOMEM;
    }
    box_downscale(gt->data, W, H, 3, tile, w->tw, w->th);
    sheet_paste(w, r, 0, tile);
    box_downscale(pred->data, W, H, 3, tile, w->tw, w->th);
    sheet_paste(w, r, 1, tile);
    for (size_t i = 0; i < np; i++)
        err[i] = (fabsf(gt->data[3 * i] - pred->data[3 * i]) + fabsf(gt->data[3 * i + 1] - pred->data[3 * i + 1]) +
                  fabsf(gt->data[3 * i + 2] - pred->data[3 * i + 2])) / 3.0f;
    box_downscale(err, W, H, 1, small, w->tw, w->th);
    for (size_t i = 0; i < (size_t)w->tw * w->th; i++) {
        float t = small[i] / NVS_ERROR_MAX;
        gs_turbo(t < 0 ? 0 : t > 1 ? 1 : t, tile + 3 * i);
    }
    sheet_paste(w, r, 2, tile);
    free(tile);
    free(err);
    free(small);
    return GS_OK;
}
gs_status nvs_outputs_begin(nvs_outputs *w, const char *out_dir, int W, int H, int rows, int sheet_width) {
    memset(w, 0, sizeof *w);
    w->out_dir = out_dir;
    if (!out_dir) return GS_OK;
    gs_status st = gs_mkdirs(gs_path_join(w->renders_dir, sizeof w->renders_dir, out_dir, "renders"));
    if (st) return st;
    return sheet_begin(w, W, H, rows, sheet_width);
}

gs_status nvs_outputs_target(nvs_outputs *w, int row, const char *name, const gs_image *gt, const gs_image *pred) {
    if (!w->out_dir) return GS_OK;
    char fn[400], path[1600];
    snprintf(fn, sizeof fn, "%s.png", name);
    gs_status st = gs_image_write_png(gs_path_join(path, sizeof path, w->renders_dir, fn), pred, 8);
    if (!st) st = sheet_row(w, row, gt, pred);
    return st;
}

/* The label of one tile at its top-left corner: at twice the font size when
 * it fits the tile's width, else at 1x, clipped to the tile. */
static void label_tile(nvs_outputs *w, int r, int col, const char *text) {
    int x0, y0;
    nvs_sheet_tile_origin(w->tw, w->th, r, col, &x0, &y0);
    int tw = 0, th = 0;
    gs_text_size(text, 2, &tw, &th);
    const int scale = tw + 2 * GS_LABEL_PAD(2) + 2 <= w->tw ? 2 : 1;
    gs_draw_label(&w->sheet, x0 + 1, y0 + 1, text, scale, x0, y0, x0 + w->tw, y0 + w->th, NULL, NULL);
}

void nvs_sheet_labels(const char *name, double psnr, double ssim, double lpips, char gt[NVS_LABEL_MAX],
                      char render[NVS_LABEL_MAX], char err[NVS_LABEL_MAX]) {
    snprintf(gt, NVS_LABEL_MAX, "%.60s\nground truth", name);
    int len = snprintf(render, NVS_LABEL_MAX, "%.60s\nrender", name);
    if (!isnan(psnr)) len += snprintf(render + len, NVS_LABEL_MAX - (size_t)len, "\nPSNR %.2f", psnr);
    if (!isnan(ssim)) len += snprintf(render + len, NVS_LABEL_MAX - (size_t)len, "\nSSIM %.4f", ssim);
    if (!isnan(lpips)) snprintf(render + len, NVS_LABEL_MAX - (size_t)len, "\nLPIPS %.4f", lpips);
    snprintf(err, NVS_LABEL_MAX, "abs. error\n0 - %.2g", (double)NVS_ERROR_MAX);
}

void nvs_outputs_label(nvs_outputs *w, int row, const char *name, double psnr, double ssim, double lpips) {
    if (!w->out_dir) return;
    char text[3][NVS_LABEL_MAX];
    nvs_sheet_labels(name, psnr, ssim, lpips, text[0], text[1], text[2]);
    for (int col = 0; col < 3; col++) label_tile(w, row, col, text[col]);
}

gs_status nvs_outputs_finish(nvs_outputs *w) {
    if (!w->out_dir) return GS_OK;
    char path[1100];
    return gs_image_write_png(gs_path_join(path, sizeof path, w->out_dir, "contact_sheet.png"), &w->sheet, 8);
}

void nvs_outputs_free(nvs_outputs *w) { gs_image_free(&w->sheet); }

/* ---- metrics.json ------------------------------------------------------------------- */

/* A number; NAN as null, +-inf as the strings "inf" / "-inf". */
static cJSON *num_or_null(double v) {
    if (isnan(v)) return cJSON_CreateNull();
    if (isinf(v)) return cJSON_CreateString(v > 0 ? "inf" : "-inf");
    return cJSON_CreateNumber(v);
}

/* An int array. */
static cJSON *int_array(const int *v, int n) { return cJSON_CreateIntArray(v, n); }

/* A rows x cols row-major matrix as an array of rows. */
static cJSON *mat_rows(const double *M, int rows, int cols) {
    cJSON *a = cJSON_CreateArray();
    for (int r = 0; a && r < rows; r++) cJSON_AddItemToArray(a, cJSON_CreateDoubleArray(M + r * cols, cols));
    return a;
}

/* "scene": cameras, images, pairing, size, background. */
static void json_scene(cJSON *root, const gs_nvs_eval_report *r) {
    cJSON *sc = cJSON_AddObjectToObject(root, "scene");
    if (!sc) return;
    cJSON_AddStringToObject(sc, "cameras", r->cameras);
    cJSON_AddStringToObject(sc, "camera_format", r->camera_format);
    cJSON_AddStringToObject(sc, "images", r->images_dir);
    cJSON_AddStringToObject(sc, "pairing", r->pairing);
    cJSON_AddNumberToObject(sc, "views", r->n_views);
    cJSON_AddNumberToObject(sc, "width", r->width);
    cJSON_AddNumberToObject(sc, "height", r->height);
    cJSON_AddItemToObject(sc, "background", cJSON_CreateFloatArray(r->bg, 3));
    if (r->n_target_views) { /* a second camera file for the targets */
        cJSON_AddStringToObject(sc, "target_cameras", r->target_cameras);
        cJSON_AddStringToObject(sc, "target_camera_format", r->target_camera_format);
        cJSON_AddStringToObject(sc, "target_images", r->target_images_dir);
        cJSON_AddNumberToObject(sc, "target_views", r->n_target_views);
    }
}

/* "network": input, reference view, Gaussians, pose scale. */
static void json_network(cJSON *root, const gs_nvs_eval_report *r) {
    cJSON *net = cJSON_AddObjectToObject(root, "network");
    if (!net) return;
    cJSON_AddBoolToObject(net, "posed", r->posed);
    cJSON_AddNumberToObject(net, "process_res", r->process_res);
    cJSON_AddNumberToObject(net, "input_width", r->net_width);
    cJSON_AddNumberToObject(net, "input_height", r->net_height);
    cJSON_AddNumberToObject(net, "reference_view", r->ref_index >= 0 && r->ref_index < r->n_context
                                                       ? r->context[r->ref_index] : -1);
    cJSON_AddNumberToObject(net, "gaussians", (double)r->n_gaussians);
    cJSON_AddNumberToObject(net, "pose_scale", r->pose_scale);
    cJSON_AddNumberToObject(net, "pose_scale_unclamped", r->pose_scale_raw);
}

/* "context": selection, views and their predicted cameras. */
static void json_context(cJSON *root, const gs_nvs_eval_report *r) {
    cJSON *ctx = cJSON_AddObjectToObject(root, "context");
    if (!ctx) return;
    cJSON_AddStringToObject(ctx, "selection", r->context_mode);
    if (!strcmp(r->context_mode, "fps"))
        cJSON_AddStringToObject(ctx, "fps", "farthest-point sampling of camera centres, starting at the first "
                                            "candidate view");
    cJSON_AddItemToObject(ctx, "indices", int_array(r->context, r->n_context));
    cJSON_AddItemToObject(ctx, "names", cJSON_CreateStringArray((const char *const *)r->context_names, r->n_context));
    cJSON *pc = cJSON_AddArrayToObject(ctx, "predicted_cameras");
    for (int i = 0; pc && i < r->n_context; i++) {
        cJSON *c = cJSON_CreateObject();
        if (!c) break;
        double E[12], K[9];
        for (int k = 0; k < 12; k++) E[k] = r->pred_context_w2c[12 * i + k];
        for (int k = 0; k < 9; k++) K[k] = r->pred_context_K[9 * i + k];
        cJSON_AddItemToObject(c, "w2c", mat_rows(E, 3, 4));
        cJSON_AddItemToObject(c, "K", mat_rows(K, 3, 3));
        cJSON_AddItemToArray(pc, c);
    }
}

/* "targets": selection and views. */
static void json_targets(cJSON *root, const gs_nvs_eval_report *r) {
    cJSON *tg = cJSON_AddObjectToObject(root, "targets");
    if (!tg) return;
    cJSON_AddStringToObject(tg, "selection", r->target_mode);
    cJSON_AddNumberToObject(tg, "count", r->n_targets);
    cJSON_AddNumberToObject(tg, "count_before_cap", r->n_targets_before_cap);
    cJSON_AddItemToObject(tg, "indices", int_array(r->targets, r->n_targets));
}

/* "alignment": the Sim(3) and its residuals. */
static void json_alignment(cJSON *root, const gs_nvs_eval_report *r) {
    cJSON *al = cJSON_AddObjectToObject(root, "alignment");
    if (!al) return;
    const gs_nvs_alignment *a = &r->align;
    cJSON_AddStringToObject(al, "fit", "Sim(3) from the ground-truth context camera centres to the predicted "
                                       "ones (the Gaussians' frame): x_pred = s R x_gt + t");
    cJSON_AddStringToObject(al, "method", a->method == GS_NVS_ALIGN_UMEYAMA ? "umeyama" : "rotation+spread");
    cJSON_AddNumberToObject(al, "scale", a->T.s);
    cJSON_AddItemToObject(al, "R", mat_rows(a->T.R, 3, 3));
    cJSON_AddItemToObject(al, "t", cJSON_CreateDoubleArray(a->T.t, 3));
    cJSON_AddItemToObject(al, "centre_rmse_gt", num_or_null(a->rmse_gt));
    cJSON_AddItemToObject(al, "centre_max_gt", num_or_null(a->max_gt));
    cJSON_AddItemToObject(al, "centre_rmse_pred", num_or_null(a->rmse_pred));
    cJSON_AddItemToObject(al, "centre_max_pred", num_or_null(a->max_pred));
    cJSON_AddItemToObject(al, "context_spread_gt", num_or_null(a->spread_gt));
    cJSON_AddItemToObject(al, "context_spread_pred", num_or_null(a->spread_pred));
    cJSON_AddItemToObject(al, "centre_rmse_relative", num_or_null(a->rmse_rel));
    cJSON_AddItemToObject(al, "rotation_mean_deg", num_or_null(a->rot_mean_deg));
    cJSON_AddItemToObject(al, "rotation_max_deg", num_or_null(a->rot_max_deg));
}

/* "metrics": the means and the metric variants. */
static void json_metrics(cJSON *root, const gs_nvs_eval_report *r) {
    cJSON *m = cJSON_AddObjectToObject(root, "metrics");
    if (!m) return;
    cJSON_AddStringToObject(m, "device", r->metrics_device);
    cJSON_AddStringToObject(m, "aggregation", "mean over targets of per-image values; renders clamped to [0,1], "
                                              "scored as floats");
    if (r->metric_psnr) cJSON_AddItemToObject(m, "psnr", num_or_null(r->mean_psnr));
    if (r->metric_ssim) {
        cJSON_AddItemToObject(m, "ssim", num_or_null(r->mean_ssim));
        cJSON_AddStringToObject(m, "ssim_variant", r->ssim_label);
    }
    if (r->metric_lpips) {
        cJSON_AddItemToObject(m, "lpips", num_or_null(r->mean_lpips));
        cJSON_AddStringToObject(m, "lpips_variant", r->lpips_label);
        cJSON_AddStringToObject(m, "lpips_weights", r->lpips_weights);
    }
}

/* "per_target": index, name, render file and metrics of each target. */
static void json_per_target(cJSON *root, const gs_nvs_eval_report *r) {
    cJSON *pt = cJSON_AddArrayToObject(root, "per_target");
    for (int i = 0; pt && i < r->n_targets; i++) {
        cJSON *t = cJSON_CreateObject();
        if (!t) break;
        const gs_nvs_target_row *w = &r->rows[i];
        char rp[400];
        snprintf(rp, sizeof rp, "renders/%s.png", w->name);
        cJSON_AddNumberToObject(t, "index", w->index);
        cJSON_AddStringToObject(t, "name", w->name);
        cJSON_AddStringToObject(t, "render", rp);
        if (r->metric_psnr) cJSON_AddItemToObject(t, "psnr", num_or_null(w->psnr));
        if (r->metric_ssim) cJSON_AddItemToObject(t, "ssim", num_or_null(w->ssim));
        if (r->metric_lpips) cJSON_AddItemToObject(t, "lpips", num_or_null(w->lpips));
        cJSON_AddItemToArray(pt, t);
    }
}

/* "outputs" and "timings_s". */
static void json_outputs_timings(cJSON *root, const gs_nvs_eval_report *r) {
    cJSON *out = cJSON_AddObjectToObject(root, "outputs");
    if (out) {
        cJSON_AddStringToObject(out, "render_device", r->render_device);
        cJSON_AddStringToObject(out, "contact_sheet", "contact_sheet.png: per target, ground truth | render | "
                                                      "turbo map of the mean absolute RGB error");
        cJSON_AddNumberToObject(out, "error_map_max", r->error_map_max);
    }
    cJSON *tm = cJSON_AddObjectToObject(root, "timings_s");
    if (!tm) return;
    const struct { const char *k; double v; } t[] = {
        {"scene", r->t_scene},           {"context_images", r->t_images}, {"network", r->t_network},
        {"preprocess", r->t_preprocess}, {"backbone", r->t_backbone},     {"heads", r->t_head},
        {"cameras", r->t_cameras},       {"gaussians", r->t_gaussians},   {"alignment", r->t_align},
        {"render", r->t_render},         {"metrics", r->t_metrics},       {"outputs", r->t_outputs},
        {"total", r->t_total}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) cJSON_AddNumberToObject(tm, t[i].k, t[i].v);
}

gs_status gs_nvs_write_json(const gs_nvs_eval_report *r, const char *path) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return gs_error(GS_ERR_NOMEM, "%s: out of memory building JSON", path);
    cJSON_AddStringToObject(root, "format", "gs-eval-nvs");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "model", r->model);
    cJSON_AddStringToObject(root, "model_desc", r->model_desc);
    json_scene(root, r);
    json_network(root, r);
    json_context(root, r);
    json_targets(root, r);
    json_alignment(root, r);
    json_metrics(root, r);
    json_per_target(root, r);
    json_outputs_timings(root, r);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return gs_error(GS_ERR_NOMEM, "%s: out of memory printing JSON", path);
    size_t len = strlen(text);
    text[len] = '\n';
    gs_status s = gs_write_file_atomic(path, text, len + 1);
    free(text);
    return s;
}
