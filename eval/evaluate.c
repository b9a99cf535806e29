/* evaluate.c - what `gs eval` does, as library code so it can be tested:
 * pair the images of two directories by name, composite alpha, score every
 * pair with the chosen metrics and write the table as JSON or CSV. */
#include "eval/eval_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void gs_eval_options_default(gs_eval_options *o) {
    memset(o, 0, sizeof *o);
    o->psnr = o->ssim = o->lpips = 1;
    o->ssim_mode = GS_SSIM_SKIMAGE;
    o->lpips_net = GS_LPIPS_ALEX;
    o->bg[0] = o->bg[1] = o->bg[2] = 1.0f;
    o->device = GS_DEVICE_CPU;
    o->max_pixels = GS_EVAL_MAX_PIXELS;
}

gs_status gs_eval_check_image_size(const char *path, const char *role, const gs_eval_options *opt, int *w, int *h) {
    gs_status s = gs_image_info(path, w, h, NULL);
    if (s) return gs_error_prefix(s, "%s", role);
    int64_t max = opt->max_pixels > 0 ? opt->max_pixels : GS_EVAL_MAX_PIXELS;
    if ((int64_t)*w * *h > max)
        return gs_error(GS_ERR_INVALID,
                        "%s %s: %dx%d is %.1f megapixels, over the %.1f that gs eval decodes (--max-megapixels raises "
                        "it)", role, path, *w, *h, (double)*w * *h / 1e6, (double)max / 1e6);
    return GS_OK;
}

gs_status gs_eval_metrics_parse(const char *list, gs_eval_options *o) {
    if (!list || !*list) return gs_error(GS_ERR_INVALID, "empty metric list (expected e.g. psnr,ssim,lpips)");
    int psnr = 0, ssim = 0, lpips = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 4 && !strncasecmp(p, "psnr", 4)) psnr = 1;
        else if (len == 4 && !strncasecmp(p, "ssim", 4)) ssim = 1;
        else if (len == 5 && !strncasecmp(p, "lpips", 5)) lpips = 1;
        else return gs_error(GS_ERR_INVALID, "unknown metric '%.*s' in '%s' (expected psnr, ssim, lpips)", (int)len, p, list);
        p += len;
        if (*p == ',') p++;
    }
    o->psnr = psnr, o->ssim = ssim, o->lpips = lpips;
    return GS_OK;
}

gs_status gs_eval_flatten(const gs_image *in, const float bg[3], gs_image *out) {
    memset(out, 0, sizeof *out);
    if (!in || !in->data || in->channels < 1 || in->channels > 4)
        return gs_error(GS_ERR_INVALID, "flatten: bad image");
    const int nc = in->channels, oc = nc == 2 ? 1 : (nc == 4 ? 3 : nc);
    gs_status s = gs_image_alloc(out, in->width, in->height, oc);
    if (s) return s;
    out->bit_depth = in->bit_depth;
    const size_t n = (size_t)in->width * in->height;
    const float *src = in->data;
    float *dst = out->data;
    for (size_t i = 0; i < n; i++, src += nc, dst += oc) {
        if (oc == nc) {
            for (int c = 0; c < nc; c++) dst[c] = src[c];
        } else {
            const float a = src[nc - 1];
            for (int c = 0; c < oc; c++) dst[c] = src[c] * a + bg[c] * (1.0f - a);
        }
    }
    return GS_OK;
}

/* ---- directory listing and pairing ------------------------------------------ */
typedef gs_name_list name_list;

void gs_eval_names_free(name_list *l) {
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_image_name(const char *name) { return gs_image_ext_known(name); }

gs_status gs_eval_list_images(const char *dir, name_list *out) {
    memset(out, 0, sizeof *out);
    if (!gs_is_dir(dir)) return gs_error(GS_ERR_IO, "%s: not a directory", dir);
    DIR *d = opendir(dir);
    if (!d) return gs_error(GS_ERR_IO, "%s: cannot open the directory", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name)) continue;
        if (out->n == out->cap) {
            int cap = out->cap ? 2 * out->cap : 64;
            char **nn = realloc(out->names, (size_t)cap * sizeof *nn);
            if (!nn) {
                closedir(d);
                gs_eval_names_free(out);
                return gs_error(GS_ERR_NOMEM, "%s: out of memory listing files", dir);
            }
            out->names = nn, out->cap = cap;
        }
        out->names[out->n] = strdup(e->d_name);
        if (!out->names[out->n]) {
            closedir(d);
            gs_eval_names_free(out);
            return gs_error(GS_ERR_NOMEM, "%s: out of memory listing files", dir);
        }
        out->n++;
    }
    closedir(d);
    if (!out->n) return gs_error(GS_ERR_NOT_FOUND, "%s: no images (" GS_IMAGE_FORMATS ") in the directory", dir);
    qsort(out->names, (size_t)out->n, sizeof *out->names, cmp_str);
    return GS_OK;
}

static size_t stem_len(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : strlen(name);
}

int gs_eval_same_stem(const char *a, const char *b) {
    size_t la = stem_len(a), lb = stem_len(b);
    return la == lb && !strncmp(a, b, la);
}

/* Partner of gt name `g` in `preds`: the same name, else the only file with
 * the same stem. -1 none, -2 ambiguous. */
static int find_partner(const name_list *preds, const char *g) {
    int stem_match = -1, n_stem = 0;
    for (int i = 0; i < preds->n; i++) {
        if (!strcmp(preds->names[i], g)) return i;
        if (gs_eval_same_stem(preds->names[i], g)) stem_match = i, n_stem++;
    }
    return n_stem > 1 ? -2 : stem_match;
}

void gs_eval_append_name(char *buf, size_t n, int *count, const char *name) {
    if (*count < 4) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s", *count ? ", " : "", name);
    }
    (*count)++;
}

/* ---- scoring ------------------------------------------------------------------ */
gs_status gs_eval_score_pair(gs_eval_session *ses, const gs_image *pred_in, const gs_image *gt_in, const char *name,
                             const gs_eval_options *o, gs_eval_row *row) {
    gs_image pred, gt;
    gs_status s = gs_eval_flatten(pred_in, o->bg, &pred);
    if (s) return gs_error_prefix(s, "%s", name);
    s = gs_eval_flatten(gt_in, o->bg, &gt);
    if (s) {
        gs_image_free(&pred);
        return gs_error_prefix(s, "%s", name);
    }
    row->width = gt.width, row->height = gt.height, row->channels = gt.channels;
    row->psnr = row->ssim = row->lpips = NAN;
    if (pred.width != gt.width || pred.height != gt.height)
        s = gs_error(GS_ERR_INVALID, "%s: size mismatch: prediction is %dx%d, ground truth is %dx%d", name, pred.width,
                     pred.height, gt.width, gt.height);
    else if (pred.channels != gt.channels)
        s = gs_error(GS_ERR_INVALID, "%s: the prediction is %s but the ground truth is %s", name,
                     pred.channels == 1 ? "gray" : "RGB", gt.channels == 1 ? "gray" : "RGB");
    if (ses->cuda) { /* one upload of the pair for all its metrics */
        gs_eval_cuda_hold_pair(ses->cuda, &pred, &gt);
        if (!s && o->psnr) s = gs_psnr_cuda(ses->cuda, &pred, &gt, &row->psnr);
        if (!s && o->ssim) s = gs_ssim_cuda(ses->cuda, &pred, &gt, o->ssim_mode, &row->ssim);
        if (!s && o->lpips) s = gs_lpips_eval_cuda(ses->cuda, ses->lp, &pred, &gt, &row->lpips, NULL);
        gs_eval_cuda_release_pair(ses->cuda);
    } else {
        if (!s && o->psnr) s = gs_psnr(&pred, &gt, &row->psnr);
        if (!s && o->ssim) s = gs_ssim(&pred, &gt, o->ssim_mode, &row->ssim);
        if (!s && o->lpips) s = gs_lpips_eval(ses->lp, &pred, &gt, &row->lpips, NULL);
    }
    gs_image_free(&pred);
    gs_image_free(&gt);
    if (s && !strstr(gs_last_error(), name)) gs_error_prefix(s, "%s", name);
    return s;
}

static double mean_of(const gs_eval_report *r, size_t off) {
    double sum = 0.0;
    for (int i = 0; i < r->n; i++) sum += *(const double *)((const char *)&r->rows[i] + off);
    return r->n ? sum / r->n : NAN;
}

void gs_eval_end(gs_eval_session *ses) {
    gs_lpips_free(ses->lp);
    gs_eval_cuda_free(ses->cuda);
    ses->lp = NULL;
    ses->cuda = NULL;
}

gs_status gs_eval_begin(const gs_eval_options *opt, gs_eval_report *r, gs_eval_session *ses) {
    memset(r, 0, sizeof *r);
    memset(ses, 0, sizeof *ses);
    r->opt = *opt;
    r->opt.lpips_weights = NULL; /* the path lives in r->lpips_weights */
    if (!opt->psnr && !opt->ssim && !opt->lpips) return gs_error(GS_ERR_INVALID, "eval: no metric selected");
    snprintf(r->ssim_label, sizeof r->ssim_label, "%s", gs_ssim_mode_label(opt->ssim_mode));
    gs_status s = GS_OK;
    if (opt->lpips) {
        snprintf(r->lpips_label, sizeof r->lpips_label, "%s", gs_lpips_label(opt->lpips_net));
        if (opt->lpips_weights) {
            if (strlen(opt->lpips_weights) >= sizeof r->lpips_weights)
                return gs_error(GS_ERR_INVALID, "eval: LPIPS weights path too long");
            if (!gs_file_exists(opt->lpips_weights))
                return gs_error(GS_ERR_IO, "%s: LPIPS weights file not found", opt->lpips_weights);
            snprintf(r->lpips_weights, sizeof r->lpips_weights, "%s", opt->lpips_weights);
        } else {
            s = gs_lpips_find_weights(opt->lpips_net, r->lpips_weights, sizeof r->lpips_weights);
            if (s) return s;
        }
        s = gs_lpips_load(r->lpips_weights, opt->lpips_net, &ses->lp);
        if (s) return s;
    }
    r->opt.device = gs_device_resolve(opt->device);
    if (r->opt.device == GS_DEVICE_CUDA) {
        s = gs_eval_cuda_new(&ses->cuda);
        if (s) {
            gs_eval_end(ses);
            return gs_error_prefix(s, "eval on the GPU");
        }
        snprintf(r->device, sizeof r->device, "cuda (%s)", gs_eval_cuda_device_name(ses->cuda));
    } else {
        snprintf(r->device, sizeof r->device, "cpu (%d thread%s)", gs_num_threads(), gs_num_threads() == 1 ? "" : "s");
    }
    return GS_OK;
}

void gs_eval_finish(gs_eval_report *r, double t0) {
    r->mean_psnr = r->opt.psnr ? mean_of(r, offsetof(gs_eval_row, psnr)) : NAN;
    r->mean_ssim = r->opt.ssim ? mean_of(r, offsetof(gs_eval_row, ssim)) : NAN;
    r->mean_lpips = r->opt.lpips ? mean_of(r, offsetof(gs_eval_row, lpips)) : NAN;
    r->seconds = gs_now() - t0;
}

gs_status gs_eval_images(const gs_image *preds, const gs_image *gts, const char *const *names, int n,
                         const gs_eval_options *opt, gs_eval_report *out) {
    const double t0 = gs_now();
    gs_eval_session ses;
    if (n < 1 || !preds || !gts) {
        memset(out, 0, sizeof *out);
        return gs_error(GS_ERR_INVALID, "eval: no images");
    }
    gs_status s = gs_eval_begin(opt, out, &ses);
    if (!s) {
        out->rows = gs_calloc((size_t)n, sizeof *out->rows, "eval rows");
        if (!out->rows) s = GS_ERR_NOMEM;
    }
    for (int i = 0; i < n && !s; i++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "image %d", i);
        const char *name = names && names[i] ? names[i] : fallback;
        out->rows[i].name = strdup(name);
        out->n = i + 1;
        if (!out->rows[i].name) s = gs_error(GS_ERR_NOMEM, "eval: out of memory");
        else s = gs_eval_score_pair(&ses, &preds[i], &gts[i], name, opt, &out->rows[i]);
    }
    gs_eval_end(&ses);
    if (s) {
        gs_eval_report_free(out);
        return s;
    }
    gs_eval_finish(out, t0);
    return GS_OK;
}

gs_status gs_eval_dirs(const char *pred_dir, const char *gt_dir, const gs_eval_options *opt, gs_eval_report *out) {
    const double t0 = gs_now();
    memset(out, 0, sizeof *out);
    name_list preds, gts;
    gs_status s = gs_eval_list_images(gt_dir, &gts);
    if (s) return s;
    s = gs_eval_list_images(pred_dir, &preds);
    if (s) {
        gs_eval_names_free(&gts);
        return s;
    }
    /* pair everything before any expensive work so that a missing file is
     * reported at once */
    int *partner = gs_calloc((size_t)gts.n, sizeof *partner, "eval pairs");
    char *used = gs_calloc((size_t)preds.n, 1, "eval pairs");
    if (!partner || !used) s = GS_ERR_NOMEM;
    char missing[512] = "", orphans[512] = "", ambiguous[512] = "";
    int n_missing = 0, n_orphans = 0, n_ambiguous = 0;
    for (int i = 0; i < gts.n && !s; i++) {
        partner[i] = find_partner(&preds, gts.names[i]);
        if (partner[i] == -1) gs_eval_append_name(missing, sizeof missing, &n_missing, gts.names[i]);
        else if (partner[i] == -2) gs_eval_append_name(ambiguous, sizeof ambiguous, &n_ambiguous, gts.names[i]);
        else if (used[partner[i]]) gs_eval_append_name(ambiguous, sizeof ambiguous, &n_ambiguous, preds.names[partner[i]]);
        else used[partner[i]] = 1;
    }
    for (int i = 0; i < preds.n && !s; i++)
        if (!used[i] && find_partner(&gts, preds.names[i]) == -1)
            gs_eval_append_name(orphans, sizeof orphans, &n_orphans, preds.names[i]);
    if (!s && n_ambiguous)
        s = gs_error(GS_ERR_INVALID, "ambiguous pairing of %d image%s (%s%s): several files share a name stem",
                     n_ambiguous, n_ambiguous == 1 ? "" : "s", ambiguous, n_ambiguous > 4 ? ", ..." : "");
    /* A prediction without ground truth is always an error: every file of
     * --pred claims to be a prediction, and one that cannot be scored is a
     * naming mistake (00000.png against r_0.png) that a mean over the others
     * would hide. Ground truth without a prediction is the usual case of a
     * larger test split: those are listed, and an error with opt->strict. */
    if (!s && n_orphans)
        s = gs_error(GS_ERR_NOT_FOUND, "%d prediction%s without ground truth in %s: %s%s", n_orphans,
                     n_orphans == 1 ? "" : "s", gt_dir, orphans, n_orphans > 4 ? ", ..." : "");
    if (!s && n_missing && opt->strict)
        s = gs_error(GS_ERR_NOT_FOUND, "%d ground-truth image%s without a prediction in %s: %s%s (--strict)",
                     n_missing, n_missing == 1 ? "" : "s", pred_dir, missing, n_missing > 4 ? ", ..." : "");
    gs_eval_session ses = {0};
    if (!s) {
        gs_eval_report tmp;
        s = gs_eval_begin(opt, &tmp, &ses);
        *out = tmp;
    }
    if (!s) {
        snprintf(out->pred_dir, sizeof out->pred_dir, "%s", pred_dir);
        snprintf(out->gt_dir, sizeof out->gt_dir, "%s", gt_dir);
        out->n_gt = gts.n;
        out->rows = gs_calloc((size_t)(gts.n - n_missing), sizeof *out->rows, "eval rows");
        if (n_missing) out->missing = gs_calloc((size_t)n_missing, sizeof *out->missing, "eval names");
        if (!out->rows || (n_missing && !out->missing)) s = GS_ERR_NOMEM;
    }
    for (int i = 0; i < gts.n && !s; i++) { /* the names of the missing ones, all of them */
        if (partner[i] >= 0) continue;
        if (!(out->missing[out->n_missing++] = strdup(gts.names[i]))) s = gs_error(GS_ERR_NOMEM, "eval: out of memory");
    }
    for (int i = 0, k = 0; i < gts.n && !s; i++) {
        if (partner[i] < 0) continue; /* no prediction (listed above) */
        const int j = k++;
        char pp[4096], gp[4096];
        gs_path_join(pp, sizeof pp, pred_dir, preds.names[partner[i]]);
        gs_path_join(gp, sizeof gp, gt_dir, gts.names[i]);
        out->rows[j].name = strdup(gts.names[i]);
        out->n = j + 1;
        if (!out->rows[j].name) {
            s = gs_error(GS_ERR_NOMEM, "eval: out of memory");
            break;
        }
        gs_image pi = {0}, gi = {0};
        int pw, ph, gw, gh; /* both headers first: nothing is decoded that cannot be scored */
        s = gs_eval_check_image_size(pp, "--pred", opt, &pw, &ph);
        if (!s) s = gs_eval_check_image_size(gp, "--gt", opt, &gw, &gh);
        if (!s && (pw != gw || ph != gh))
            s = gs_error(GS_ERR_INVALID, "%s: size mismatch: prediction is %dx%d, ground truth is %dx%d (%s, %s)",
                         gts.names[i], pw, ph, gw, gh, pp, gp);
        if (!s) s = gs_image_read(pp, &pi);
        if (!s) s = gs_image_read(gp, &gi);
        if (!s) s = gs_eval_score_pair(&ses, &pi, &gi, gts.names[i], opt, &out->rows[j]);
        gs_image_free(&pi);
        gs_image_free(&gi);
    }
    gs_eval_end(&ses);
    free(partner);
    free(used);
    gs_eval_names_free(&preds);
    gs_eval_names_free(&gts);
    if (s) {
        gs_eval_report_free(out);
        return s;
    }
    gs_eval_finish(out, t0);
    return GS_OK;
}

void gs_eval_report_free(gs_eval_report *r) {
    if (!r) return;
    for (int i = 0; i < r->n; i++) free(r->rows[i].name);
    free(r->rows);
    for (int i = 0; i < r->n_missing; i++) free(r->missing[i]);
    free(r->missing);
    r->rows = NULL;
    r->missing = NULL;
    r->n = r->n_missing = 0;
}

/* ---- writers -------------------------------------------------------------------- */
static cJSON *json_value(double v) {
    if (isnan(v)) return cJSON_CreateNull();
    if (isinf(v)) return cJSON_CreateString(v > 0 ? "inf" : "-inf");
    return cJSON_CreateNumber(v);
}

static void add_metric(cJSON *metrics, const char *key, const char *label, double mean) {
    cJSON *m = cJSON_AddObjectToObject(metrics, key);
    if (!m) return;
    cJSON_AddStringToObject(m, "label", label);
    cJSON_AddItemToObject(m, "mean", json_value(mean));
}

gs_status gs_eval_write_json(const gs_eval_report *r, const char *path) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return gs_error(GS_ERR_NOMEM, "%s: out of memory building JSON", path);
    if (r->scene_mode) {
        cJSON_AddStringToObject(root, "scene", r->pred_dir);
        cJSON_AddStringToObject(root, "gt_dir", r->gt_dir);
        cJSON_AddStringToObject(root, "pairing", r->pairing);
        cJSON_AddNumberToObject(root, "cameras_without_gt", r->n_cameras_without_gt);
        if (r->n_cameras_without_gt) cJSON_AddStringToObject(root, "cameras_without_gt_names", r->cameras_without_gt);
        cJSON_AddNumberToObject(root, "gt_without_camera", r->n_gt_without_camera);
        if (r->n_gt_without_camera) cJSON_AddStringToObject(root, "gt_without_camera_names", r->gt_without_camera);
        cJSON_AddNumberToObject(root, "render_seconds", r->render_seconds);
        cJSON_AddStringToObject(root, "render_device", r->render_device);
    } else {
        cJSON_AddStringToObject(root, "pred_dir", r->pred_dir);
        cJSON_AddStringToObject(root, "gt_dir", r->gt_dir);
        if (r->n_gt) { /* gs_eval_dirs */
            cJSON_AddNumberToObject(root, "gt_count", r->n_gt);
            cJSON_AddNumberToObject(root, "missing_count", r->n_missing);
            cJSON *m = r->n_missing ? cJSON_CreateStringArray((const char *const *)r->missing, r->n_missing)
                                    : cJSON_CreateArray();
            if (m) cJSON_AddItemToObject(root, "missing", m);
        }
    }
    cJSON_AddStringToObject(root, "device", r->device);
    cJSON_AddNumberToObject(root, "count", r->n);
    cJSON *bg = cJSON_CreateFloatArray(r->opt.bg, 3);
    if (bg) cJSON_AddItemToObject(root, "background", bg);
    cJSON *metrics = cJSON_AddObjectToObject(root, "metrics");
    if (metrics) {
        if (r->opt.psnr) add_metric(metrics, "psnr", "PSNR (dB, images clamped to [0,1])", r->mean_psnr);
        if (r->opt.ssim) add_metric(metrics, "ssim", r->ssim_label, r->mean_ssim);
        if (r->opt.lpips) {
            add_metric(metrics, "lpips", r->lpips_label, r->mean_lpips);
            cJSON *l = cJSON_GetObjectItemCaseSensitive(metrics, "lpips");
            if (l) cJSON_AddStringToObject(l, "weights", r->lpips_weights);
        }
    }
    cJSON *arr = cJSON_AddArrayToObject(root, "images");
    for (int i = 0; arr && i < r->n; i++) {
        const gs_eval_row *w = &r->rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        cJSON_AddStringToObject(o, "name", w->name);
        cJSON_AddNumberToObject(o, "width", w->width);
        cJSON_AddNumberToObject(o, "height", w->height);
        if (r->opt.psnr) cJSON_AddItemToObject(o, "psnr", json_value(w->psnr));
        if (r->opt.ssim) cJSON_AddItemToObject(o, "ssim", json_value(w->ssim));
        if (r->opt.lpips) cJSON_AddItemToObject(o, "lpips", json_value(w->lpips));
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return gs_error(GS_ERR_NOMEM, "%s: out of memory printing JSON", path);
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the terminator; the length below excludes it */
    gs_status s = gs_write_file_atomic(path, text, len + 1);
    free(text);
    return s;
}

static void csv_num(char *buf, size_t n, double v) {
    if (isnan(v)) snprintf(buf, n, ",");
    else if (isinf(v)) snprintf(buf, n, ",%s", v > 0 ? "inf" : "-inf");
    else snprintf(buf, n, ",%.10g", v);
}

/* a CSV field, quoted when it holds a comma, quote or newline */
static void csv_field(gs_afile *a, const char *s, gs_status *st) {
    if (*st) return;
    if (!strpbrk(s, ",\"\n\r")) {
        *st = gs_afile_write(a, s, strlen(s));
        return;
    }
    *st = gs_afile_write(a, "\"", 1);
    for (const char *p = s; *p && !*st; p++) {
        *st = gs_afile_write(a, p, 1);
        if (!*st && *p == '"') *st = gs_afile_write(a, "\"", 1); /* "" inside quotes */
    }
    if (!*st) *st = gs_afile_write(a, "\"", 1);
}

static void csv_row(gs_afile *a, const gs_eval_report *r, const char *name, int w, int h, double psnr, double ssim,
                    double lpips, gs_status *st) {
    char buf[256], num[64];
    csv_field(a, name, st);
    if (w) snprintf(buf, sizeof buf, ",%d,%d", w, h);
    else snprintf(buf, sizeof buf, ",,");
    if (r->opt.psnr) csv_num(num, sizeof num, psnr), strncat(buf, num, sizeof buf - strlen(buf) - 1);
    if (r->opt.ssim) csv_num(num, sizeof num, ssim), strncat(buf, num, sizeof buf - strlen(buf) - 1);
    if (r->opt.lpips) csv_num(num, sizeof num, lpips), strncat(buf, num, sizeof buf - strlen(buf) - 1);
    strncat(buf, "\n", sizeof buf - strlen(buf) - 1);
    if (!*st) *st = gs_afile_write(a, buf, strlen(buf));
}

gs_status gs_eval_write_csv(const gs_eval_report *r, const char *path) {
    gs_afile a;
    gs_status s = gs_afile_open(&a, path);
    if (s) return s;
    char head[128] = "name,width,height";
    if (r->opt.psnr) strcat(head, ",psnr");
    if (r->opt.ssim) strcat(head, ",ssim");
    if (r->opt.lpips) strcat(head, ",lpips");
    strcat(head, "\n");
    s = gs_afile_write(&a, head, strlen(head));
    for (int i = 0; i < r->n && !s; i++)
        csv_row(&a, r, r->rows[i].name, r->rows[i].width, r->rows[i].height, r->rows[i].psnr, r->rows[i].ssim,
                r->rows[i].lpips, &s);
    for (int i = 0; i < r->n_missing && !s; i++) /* ground truth without a prediction: empty values */
        csv_row(&a, r, r->missing[i], 0, 0, NAN, NAN, NAN, &s);
    csv_row(&a, r, "mean", 0, 0, r->mean_psnr, r->mean_ssim, r->mean_lpips, &s);
    if (s) {
        gs_afile_abort(&a);
        return s;
    }
    return gs_afile_commit(&a);
}
