/* select.c - the context / target split of `gs eval-nvs` (eval_nvs.h):
 * explicit lists, every:K held-out views, farthest-point sampling of the
 * context among the remaining views (data/align.h), the --max-targets cap,
 * and the split's part of the report. */
#include "gs/nvs/nvs_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gs_nvs_split_opts_default(gs_nvs_split_opts *o) {
    memset(o, 0, sizeof *o);
    o->num_context = GS_NVS_DEFAULT_CONTEXT;
    o->target_mode = GS_NVS_TARGETS_REST;
    o->target_every = 8;
}

/* What a view is while the split is made. */
enum { ROLE_FREE = 0, ROLE_CONTEXT = 1, ROLE_TARGET = 2 };

/* Two camera files: the context candidates are [0, nc), the target candidates [nc, n). */
static int n_context_candidates(const gs_nvs_split_opts *o, int n) {
    return o->n_context_views > 0 && o->n_context_views < n ? o->n_context_views : n;
}

/* The explicit context list -> ROLE_CONTEXT. */
static gs_status mark_context_list(const gs_nvs_split_opts *o, int n, unsigned char *role) {
    if (o->n_context < 1) return gs_error(GS_ERR_INVALID, "the context list is empty");
    const int nc = n_context_candidates(o, n);
    for (int k = 0; k < o->n_context; k++) {
        int v = o->context[k];
        if (v < 0 || v >= nc)
            return gs_error(GS_ERR_INVALID, "context view %d is out of range (the %s has views 0..%d)", v,
                            nc < n ? "context camera file" : "scene", nc - 1);
        if (role[v]) return gs_error(GS_ERR_INVALID, "context view %d is listed twice", v);
        role[v] = ROLE_CONTEXT;
    }
    return GS_OK;
}

/* The target list -> ROLE_TARGET; naming a context view is an error. With
 * two files the indices count in the target file. */
static gs_status mark_target_list(const gs_nvs_split_opts *o, int n, unsigned char *role) {
    if (!o->targets || o->n_targets < 1) return gs_error(GS_ERR_INVALID, "the target list is empty");
    const int base = n_context_candidates(o, n) < n ? o->n_context_views : 0;
    for (int k = 0; k < o->n_targets; k++) {
        int v = o->targets[k];
        if (v < 0 || v >= n - base)
            return gs_error(GS_ERR_INVALID, "target view %d is out of range (the %s has views 0..%d)", v,
                            base ? "target camera file" : "scene", n - base - 1);
        v += base;
        if (role[v] == ROLE_CONTEXT)
            return gs_error(GS_ERR_INVALID, "view %d is both a context view and a target", v);
        if (role[v] == ROLE_TARGET) return gs_error(GS_ERR_INVALID, "target view %d is listed twice", v - base);
        role[v] = ROLE_TARGET;
    }
    return GS_OK;
}

/* The held-out views fixed before the context is chosen (list, every:K; none for rest). */
static gs_status mark_held_out(const gs_nvs_split_opts *o, int n, unsigned char *role) {
    if (o->target_mode == GS_NVS_TARGETS_LIST) return mark_target_list(o, n, role);
    if (o->target_mode == GS_NVS_TARGETS_EVERY) {
        if (o->target_every < 1)
            return gs_error(GS_ERR_INVALID, "every:%d: the target step must be at least 1", o->target_every);
        const int base = n_context_candidates(o, n) < n ? o->n_context_views : 0;
        for (int v = base; v < n; v += o->target_every) {
            if (role[v] != ROLE_CONTEXT) role[v] = ROLE_TARGET;
        }
        return GS_OK;
    }
    if (o->target_mode != GS_NVS_TARGETS_REST)
        return gs_error(GS_ERR_INVALID, "view selection: unknown target mode %d", (int)o->target_mode);
    return GS_OK;
}

/* o->num_context views by farthest-point sampling among the free ones -> ROLE_CONTEXT. */
static gs_status fps_context(const gs_camera *cams, int n, const gs_nvs_split_opts *o, unsigned char *role) {
    const int nc = n_context_candidates(o, n);
    int free_views = 0;
    for (int v = 0; v < nc; v++) free_views += role[v] == ROLE_FREE;
    int k = o->num_context;
    if (k < 1 || k > free_views)
        return gs_error(GS_ERR_INVALID, "cannot choose %d context view%s: %d of the %d %sviews are not targets", k,
                        k == 1 ? "" : "s", free_views, nc, nc < n ? "context-file " : "");
    unsigned char *allowed = gs_malloc((size_t)n, 1, "view selection");
    int *idx = gs_malloc((size_t)k, sizeof *idx, "view selection");
    gs_status st = GS_ERR_NOMEM;
    if (allowed && idx) {
        for (int v = 0; v < n; v++) allowed[v] = v < nc && role[v] == ROLE_FREE;
        st = gs_select_views_fps(cams, n, allowed, k, idx);
        if (!st)
            for (int j = 0; j < k; j++) role[idx[j]] = ROLE_CONTEXT;
    }
    free(allowed);
    free(idx);
    return st;
}

/* Roles -> the ascending lists; then the cap, evenly spaced over the targets. */
static gs_status gather(const unsigned char *role, int n, int max_targets, int *ctx, int *n_ctx, int *tgt,
                        int *n_tgt) {
    for (int v = 0; v < n; v++) {
        if (role[v] == ROLE_CONTEXT) ctx[(*n_ctx)++] = v;
        else if (role[v] == ROLE_TARGET) tgt[(*n_tgt)++] = v;
    }
    if (!*n_tgt)
        return gs_error(GS_ERR_INVALID, "no target views: all %d views are context views or none is held out", n);
    if (max_targets > 0 && *n_tgt > max_targets) {
        /* evenly spaced over the targets, first one included; in place since
         * j * n / m >= j */
        const int m = max_targets, all = *n_tgt;
        for (int j = 0; j < m; j++) tgt[j] = tgt[(int)((int64_t)j * all / m)];
        *n_tgt = m;
    }
    return GS_OK;
}

gs_status gs_nvs_select_views(const gs_camera *cams, int n, const gs_nvs_split_opts *o, int *ctx, int *n_ctx,
                              int *tgt, int *n_tgt) {
    *n_ctx = *n_tgt = 0;
    if (!cams || !o || !ctx || !tgt) return gs_error(GS_ERR_INVALID, "view selection: NULL argument");
    if (n < 2 || n > GS_MAX_CAMERAS) return gs_error(GS_ERR_INVALID, "view selection: %d views", n);
    unsigned char *role = gs_calloc((size_t)n, 1, "view roles");
    if (!role) return GS_ERR_NOMEM;
    gs_status st = o->context ? mark_context_list(o, n, role) : GS_OK;
    if (!st) st = mark_held_out(o, n, role);
    if (!st && !o->context) st = fps_context(cams, n, o, role);
    if (!st && o->target_mode == GS_NVS_TARGETS_REST) /* with two files: every view of the target file */
        for (int v = n_context_candidates(o, n) < n ? o->n_context_views : 0; v < n; v++)
            if (role[v] == ROLE_FREE) role[v] = ROLE_TARGET;
    if (!st) st = gather(role, n, o->max_targets, ctx, n_ctx, tgt, n_tgt);
    free(role);
    if (st) *n_ctx = *n_tgt = 0;
    return st;
}

/* ---- the split stage of gs_nvs_evaluate ---------------------------------------------- */

/* The number of targets before --max-targets, for the report. */
static gs_status count_before_cap(const gs_nvs_scene *sc, const gs_nvs_split_opts *split, int *count) {
    const int n = sc->cams.n;
    gs_nvs_split_opts so = *split;
    so.max_targets = 0;
    int *c2 = gs_malloc((size_t)n * 2, sizeof(int), "views");
    int a, b;
    if (!c2) return GS_ERR_NOMEM;
    gs_status st = gs_nvs_select_views(sc->cams.cams, n, &so, c2, &a, c2 + n, &b);
    *count = b;
    free(c2);
    return st;
}

/* context_mode ("fps" / "list") and target_mode ("rest" / "every:K" / "list"). */
static void mode_labels(const gs_nvs_split_opts *split, gs_nvs_eval_report *out) {
    snprintf(out->context_mode, sizeof out->context_mode, "%s", split->context ? "list" : "fps");
    if (split->target_mode == GS_NVS_TARGETS_EVERY)
        snprintf(out->target_mode, sizeof out->target_mode, "every:%d", split->target_every);
    else
        snprintf(out->target_mode, sizeof out->target_mode, "%s",
                 split->target_mode == GS_NVS_TARGETS_LIST ? "list" : "rest");
}

/* context_names and the target rows (names, metrics NAN). */
static gs_status name_split(const gs_nvs_scene *sc, gs_nvs_eval_report *out) {
    const int S = out->n_context, NT = out->n_targets;
    out->context_names = gs_calloc((size_t)S, sizeof(char *), "context names");
    out->rows = gs_calloc((size_t)NT, sizeof *out->rows, "target rows");
    if (!out->context_names || !out->rows) return GS_ERR_NOMEM;
    for (int i = 0; i < S; i++)
        if (!(out->context_names[i] = strdup(sc->names[out->context[i]])))
            return gs_error(GS_ERR_NOMEM, "out of memory");
    for (int j = 0; j < NT; j++) {
        out->rows[j].index = out->targets[j] - sc->n_context_views; /* in the target file with two */
        out->rows[j].psnr = out->rows[j].ssim = out->rows[j].lpips = NAN;
        if (!(out->rows[j].name = strdup(sc->names[out->targets[j]])))
            return gs_error(GS_ERR_NOMEM, "out of memory");
    }
    return GS_OK;
}

/* "context (fps, ...): S views [a,b,c]; targets (rest): NT" */
static void say_split(const gs_nvs_eval_opts *o, const gs_nvs_eval_report *out) {
    const int S = out->n_context, NT = out->n_targets;
    char list[512] = "";
    size_t len = 0;
    for (int i = 0; i < S && len + 1 < sizeof list; i++) {
        int k = snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "", out->context[i]);
        if (k < 0) break;
        len += (size_t)k;
    }
    char how[64] = "";
    if (!o->split.context) snprintf(how, sizeof how, ", farthest-point sampling from view %d", out->context[0]);
    nvs_say(o, "context (%s%s): %d view%s [%s]; targets (%s): %d%s", out->context_mode, how, S, S == 1 ? "" : "s",
            list, out->target_mode, NT, NT < out->n_targets_before_cap ? " (capped)" : "");
}

gs_status nvs_split(nvs_run *r) {
    gs_nvs_eval_report *out = r->out;
    const int n = r->sc.cams.n;
    out->context = gs_malloc((size_t)n, sizeof(int), "context views");
    out->targets = gs_malloc((size_t)n, sizeof(int), "target views");
    if (!out->context || !out->targets) return GS_ERR_NOMEM;
    r->o.split.n_context_views = r->sc.n_context_views;
    gs_status st = gs_nvs_select_views(r->sc.cams.cams, n, &r->o.split, out->context, &out->n_context,
                                       out->targets, &out->n_targets);
    if (!st) st = count_before_cap(&r->sc, &r->o.split, &out->n_targets_before_cap);
    if (st) return st;
    mode_labels(&r->o.split, out);
    if (out->n_context < 2)
        return gs_error(GS_ERR_INVALID, "the protocol needs at least 2 context views to fit the alignment (got %d)",
                        out->n_context);
    if ((st = name_split(&r->sc, out))) return st;
    say_split(&r->o, out);
    return GS_OK;
}
