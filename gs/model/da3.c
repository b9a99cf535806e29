/* da3.c - the Depth Anything 3 network assembled from backbone/ and heads/
 * (da3.h): checkpoint loading with full key checking, the forward pass of
 * DepthAnything3Net (depth head → camera decoder or ray pose → Gaussians →
 * mono sky fill) and NestedDepthAnything3Net (metric branch, least-squares
 * scale, sky handling), as da3/model/da3.py does them. */
#include "gs/model/da3.h"
#include "backbone/preprocess.h"
#include "data/align.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading ------------------------------------------------------------------ */

static gs_status bind_net(gs_da3_net *n, const gs_da3_net_config *cfg, const char *prefix, gs_weights *w) {
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    snprintf(n->prefix, sizeof n->prefix, "%s", prefix);
    char p[96];
    /* Bind everything before failing so that one message lists every key. */
    gs_status st = gs_vit_bind(&n->vit, cfg, w, prefix);
    gs_status s2 = gs_dpt_bind_net(&n->head, w, prefix, cfg, 0);
    if (s2 == GS_ERR_INVALID && st == GS_OK) st = s2;
    if (cfg->has_gs_head) {
        s2 = gs_dpt_bind_net(&n->gs_head, w, prefix, cfg, 1);
        if (s2 == GS_ERR_INVALID && st == GS_OK) st = s2;
    }
    if (cfg->has_cam_dec) {
        snprintf(p, sizeof p, "%scam_dec.", prefix);
        s2 = gs_cam_dec_bind(&n->cam_dec, w, p, cfg->head_dim_in);
        if (s2 == GS_ERR_INVALID && st == GS_OK) st = s2;
    }
    if (cfg->has_cam_enc) {
        snprintf(p, sizeof p, "%scam_enc.", prefix);
        s2 = gs_cam_enc_bind(&n->cam_enc, w, p, cfg->embed_dim, cfg->cam_enc_heads);
        if (s2 == GS_ERR_INVALID && st == GS_OK) st = s2;
    }
    return st == GS_ERR_INVALID ? st : GS_OK; /* key problems are reported by gs_weights_check */
}

static void free_net(gs_da3_net *n) {
    gs_vit_free(&n->vit);
    gs_dpt_free(&n->head);
    gs_dpt_free(&n->gs_head);
    memset(n, 0, sizeof *n);
}

static int is_official_name(const char *s) {
    for (int i = 0; gs_da3_model_names[i]; i++)
        if (!strcmp(s, gs_da3_model_names[i])) return 1;
    return 0;
}

gs_status gs_da3_load(gs_da3_model *m, const char *path, const char *config_name) {
    memset(m, 0, sizeof *m);
    if (!path || !*path) return gs_error(GS_ERR_INVALID, "no model path given");
    char cfg_path[1024] = "", st_path[1024];
    if (gs_is_dir(path)) {
        gs_path_join(cfg_path, sizeof cfg_path, path, "config.json");
        gs_path_join(st_path, sizeof st_path, path, "model.safetensors");
        if (!gs_file_exists(st_path))
            return gs_error(GS_ERR_IO, "%s: no model.safetensors in this folder (expected a Hugging Face model "
                                       "folder with config.json + model.safetensors)", path);
        if (!gs_file_exists(cfg_path) && !config_name)
            return gs_error(GS_ERR_IO, "%s: no config.json in this folder; give --config NAME (%s, ...)", path,
                            gs_da3_model_names[0]);
    } else {
        if (!gs_file_exists(path)) return gs_error(GS_ERR_IO, "%s: no such file or folder", path);
        if (!gs_path_ends_with(path, ".safetensors"))
            return gs_error(GS_ERR_INVALID, "%s: expected a model folder or a .safetensors file", path);
        snprintf(st_path, sizeof st_path, "%s", path);
        if (!config_name) {
            char dir[1000];
            snprintf(dir, sizeof dir, "%.999s", path);
            char *slash = strrchr(dir, '/');
            if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
            gs_path_join(cfg_path, sizeof cfg_path, dir, "config.json");
            if (!gs_file_exists(cfg_path))
                return gs_error(GS_ERR_INVALID, "%s: a bare checkpoint needs --config NAME (one of da3-small, "
                                                "da3-base, da3-large, da3-giant, da3metric-large, da3mono-large, "
                                                "da3nested-giant-large) or a config.json beside it", path);
        }
    }
    gs_status st;
    if (config_name && is_official_name(config_name)) st = gs_da3_config_named(config_name, &m->cfg);
    else if (config_name) st = gs_da3_config_load(config_name, &m->cfg);
    else st = gs_da3_config_load(cfg_path, &m->cfg);
    if (st) return st;
    snprintf(m->path, sizeof m->path, "%s", st_path);
    if ((st = gs_weights_open(&m->w, st_path))) return st;
    return gs_da3_bind(m);
}

gs_status gs_da3_bind(gs_da3_model *m) {
    m->ctx = gs_ctx_cpu(NULL); /* the network has only CPU kernels yet */
    gs_status st = bind_net(&m->net, &m->cfg.net, m->cfg.prefix, &m->w);
    if (!st && m->cfg.nested) st = bind_net(&m->metric, &m->cfg.metric, m->cfg.metric_prefix, &m->w);
    if (!st) {
        /* Every key under "model." must be used: the official loader is
         * non-strict, but a key we do not know means a checkpoint we would
         * run wrongly. Keys outside "model." are not ours to judge. */
        const char *prefixes[2] = {"model.", NULL};
        st = gs_weights_check(&m->w, prefixes);
        if (st) gs_error_prefix(st, "model %s", m->cfg.model_name);
    }
    if (st) gs_da3_free(m);
    return st;
}

void gs_da3_free(gs_da3_model *m) {
    free_net(&m->net);
    free_net(&m->metric);
    gs_weights_close(&m->w);
    memset(m, 0, sizeof *m);
}

void gs_da3_describe(const gs_da3_model *m, char *buf, size_t n) {
    const gs_da3_net_config *c = &m->cfg.net;
    int64_t params = gs_st_param_count(&m->w.st);
    const char *dt = m->w.st.n ? gs_dtype_name(m->w.st.tensors[0].dtype) : "?";
    snprintf(buf, n, "%s (ViT C=%d depth=%d, %s%s%s%s%s), %.1fM params, %s", m->cfg.model_name, c->embed_dim,
             c->depth, c->head_kind == GS_DA3_HEAD_DUALDPT ? "DualDPT" : "DPT", c->has_cam_dec ? ", cam_dec" : "",
             c->has_cam_enc ? ", cam_enc" : "", c->has_gs_head ? ", GS head" : "",
             m->cfg.nested ? ", + metric branch" : "", (double)params / 1e6, dt);
}

void gs_da3_options_default(gs_da3_options *o) {
    memset(o, 0, sizeof *o);
    o->process_res = 504;
    o->resize_method = 0;
    o->ref_strategy = GS_REF_SADDLE_BALANCED;
    o->align_to_input_scale = 1;
    o->seed = 42;
}

void gs_da3_prediction_free(gs_da3_prediction *p) {
    free(p->depth);
    free(p->depth_conf);
    free(p->sky);
    free(p->extrinsics);
    free(p->intrinsics);
    free(p->images);
    gs_gaussians_free(&p->gaussians);
    free(p->gs_extrinsics);
    free(p->gs_intrinsics);
    memset(p, 0, sizeof *p);
}

/* ---- helpers ------------------------------------------------------------------ */

/* The sky mask (sky < 0.3: not sky) of the post-processing, from the
 * forward's workspace; *count = non-sky pixels. */
static unsigned char *nonsky_mask(const gs_ctx *c, const float *sky, size_t n, size_t *count) {
    unsigned char *ns = gs_ws_take(c, n, "sky mask");
    if (ns && gs_mask_below(c, sky, n, 0.3f, ns, count) != GS_OK) return NULL;
    return ns;
}

/* DepthAnything3Net._process_mono_sky_estimation: depth at sky pixels (sky
 * >= 0.3) becomes the 0.99 quantile of the non-sky depth (torch.quantile,
 * linear; the reference subsamples 100000 values at random above that size,
 * gs uses all of them, the quantity the subsample estimates), when both
 * sets have more than 10 pixels. */
static gs_status mono_sky_fill(const gs_ctx *c, float *depth, const float *sky, size_t n, const gs_dump *d) {
    const size_t mark = gs_ws_mark(c);
    size_t cnt = 0;
    unsigned char *ns = nonsky_mask(c, sky, n, &cnt);
    gs_status st = ns ? GS_OK : GS_ERR_NOMEM;
    if (st == GS_OK && cnt > 10 && n - cnt > 10) {
        float q;
        st = gs_quantile(c, depth, ns, n, 0.99, &q);
        if (st == GS_OK) st = gs_fill_unmasked(c, depth, ns, n, q);
        if (st == GS_OK) gs_dump_tensor(d, "output.sky_fill", &q, 1, 1L);
    }
    gs_ws_release(c, mark);
    return st;
}

/* Workspace of the post-processing of n pixels (the sky mask and a
 * quantile), for models with a sky head or the nested metric branch. */
static size_t post_workspace(const gs_ctx *c, size_t n) { return gs_arena_round(n) + gs_quantile_workspace(c, n); }

static float *alloc_f(size_t n, const char *what) { return gs_malloc(n ? n : 1, sizeof(float), what); }

static void stage(const gs_da3_options *o, const char *name) {
    if (o && o->on_stage) o->on_stage(o->stage_ctx, name);
}

/* ---- progress ------------------------------------------------------------------ */

/* The forward's progress for gs_da3_options.on_progress: every step's cost
 * (an estimate of its CPU time in FLOP-equivalents, gs_vit_block_cost and
 * gs_dpt_view_cost) is known before anything runs, so that total is fixed
 * and done, the sum of the finished steps, ends at total. The modules'
 * hooks call in after each backbone block and each head convolution. */
typedef struct {
    const gs_da3_options *o;
    int64_t done, total;
    const char *stage;
    int metric;                 /* the nested model's metric branch: names "metric ..." */
    /* the module whose hook is set */
    const gs_vit *vit;
    int S, H, W;
    int64_t base, part;
} progress;

/* Costs of the pieces without a hook of their own, in the modules' units
 * (one FLOP of the backbone's matmuls, ~80 G a second on one core here): the
 * camera modules from their FLOP; the rest from CPU time measured with
 * da3-small and the tiny test models (ray pose ~0.7 us a ray, a quantile
 * pass ~95 ns a pixel, the nested model's scale fit ~125 ns a pixel). */
#define COST_CAM_DEC_PER_VIEW(D) (4.0 * (D) * (D) + 64.0 * (D))
#define COST_CAM_ENC_PER_VIEW(C) (4.0 * (24.0 * (C) * (C)) + 2.0 * 9.0 * (C))
#define COST_RAY_POSE_PER_RAY 6.0e4
#define COST_ADAPTER_PER_PIXEL 400.0
#define COST_QUANTILE_PER_PIXEL 4.0e3
#define COST_NESTED_POST_PER_PIXEL 5.0e3

static int64_t cost_round(double c) { return c > 0 ? (int64_t)llround(c) : 0; }

typedef struct {
    int64_t cam_enc, backbone, head_view, cameras, gs_view, adapter, sky;
} net_costs;

static void net_costs_of(const gs_ctx *c, const gs_da3_net *n, int S, int H, int W, int with_cameras, int allow_gs,
                         const gs_da3_options *o, net_costs *k) {
    const gs_da3_net_config *cfg = &n->cfg;
    const int ray = cfg->head_kind == GS_DA3_HEAD_DUALDPT && o->use_ray_pose;
    const double HW = (double)H * W;
    memset(k, 0, sizeof *k);
    if (with_cameras && cfg->has_cam_enc) k->cam_enc = cost_round(S * COST_CAM_ENC_PER_VIEW((double)cfg->embed_dim));
    for (int i = 0; i < cfg->depth; i++) k->backbone += cost_round(gs_vit_block_cost(&n->vit, S, H, W, i));
    k->head_view = cost_round(gs_dpt_view_cost(c, &n->head, H, W, ray));
    if (ray) k->cameras = cost_round(S * COST_RAY_POSE_PER_RAY * 64.0 * (H / cfg->patch_size) * (W / cfg->patch_size));
    else if (cfg->has_cam_dec) k->cameras = cost_round(S * COST_CAM_DEC_PER_VIEW((double)cfg->head_dim_in));
    if (allow_gs && o->infer_gs && cfg->has_gs_head) {
        k->gs_view = cost_round(gs_dpt_view_cost(c, &n->gs_head, H, W, 0));
        k->adapter = cost_round(S * HW * COST_ADAPTER_PER_PIXEL);
    }
    if (cfg->head_kind == GS_DA3_HEAD_DPT && cfg->head_sky) k->sky = cost_round(S * HW * COST_QUANTILE_PER_PIXEL);
}

static int64_t net_costs_sum(const net_costs *k, int S) {
    return k->cam_enc + k->backbone + S * k->head_view + k->cameras + S * k->gs_view + k->adapter + k->sky;
}

static void progress_report(const progress *pg) {
    if (pg && pg->o->on_progress) pg->o->on_progress(pg->o->progress_ctx, pg->stage, pg->done, pg->total);
}

/* A stage starts: reported with the work done so far. */
static void progress_stage(progress *pg, const char *name, const char *metric_name) {
    if (!pg) return;
    pg->stage = pg->metric ? metric_name : name;
    progress_report(pg);
}

/* A step of `cost` finished. */
static void progress_add(progress *pg, int64_t cost) {
    if (!pg) return;
    pg->done += cost;
    progress_report(pg);
}

/* The backbone's hook: block done - 1 finished. */
static void on_block(void *ctx, double done, double steps) {
    progress *pg = ctx;
    (void)steps;
    progress_add(pg, cost_round(gs_vit_block_cost(pg->vit, pg->S, pg->H, pg->W, (int)done - 1)));
}

/* A head's hook: its share of the work, `part` from base, in proportion. */
static void on_head(void *ctx, double done, double total) {
    progress *pg = ctx;
    const double f = total > 0 ? done / total : 1.0;
    const int64_t d = f >= 1.0 ? pg->part : (int64_t)((double)pg->part * (f > 0 ? f : 0.0));
    if (pg->base + d <= pg->done) return; /* nothing new */
    pg->done = pg->base + d;
    progress_report(pg);
}

/* A head's hook for one forward (part: its share, S x its view cost), or none. */
static gs_step_hook head_hook(progress *pg, int64_t part) {
    gs_step_hook hk = {NULL, NULL};
    if (!pg || !pg->o->on_progress) return hk;
    pg->base = pg->done;
    pg->part = part;
    hk.fn = on_head;
    hk.ctx = pg;
    return hk;
}

/* Workspace of one network's forward, laid out as net_forward takes it:
 * the backbone's four outputs for the whole forward, then per phase its
 * intermediates (camera tokens; the ray map; the 3DGS head's raw channels)
 * and the largest plan of the module running on top of them. */
static size_t net_plan(const gs_ctx *c, const gs_da3_net *n, int S, int H, int W, int with_cameras, int allow_gs,
                       const gs_da3_options *o) {
    const gs_da3_net_config *cfg = &n->cfg;
    const int dump = o->dump && o->dump->fn, ray = cfg->head_kind == GS_DA3_HEAD_DUALDPT && o->use_ray_pose;
    const size_t HW = (size_t)H * W, R = (size_t)S * 64 * (H / cfg->patch_size) * (W / cfg->patch_size);
    const size_t tokens = with_cameras ? gs_arena_round((size_t)S * cfg->embed_dim * sizeof(float)) : 0;
    const size_t rays = ray ? gs_arena_round(R * 6 * sizeof(float)) + gs_arena_round(R * sizeof(float)) : 0;
    /* the mono sky fill runs last, on top of the backbone's outputs too */
    const size_t sky = cfg->head_kind == GS_DA3_HEAD_DPT && cfg->head_sky ? post_workspace(c, (size_t)S * HW) : 0;
    size_t phase[5] = {tokens + gs_vit_plan(c, &n->vit, S, H, W), rays + gs_dpt_plan(c, &n->head, S, H, W, ray, dump),
                       rays + (cfg->has_cam_dec ? gs_cam_dec_plan(&n->cam_dec, S) : 0), 0, sky};
    if (with_cameras && cfg->has_cam_enc) {
        const size_t t = tokens + gs_cam_enc_plan(c, &n->cam_enc, S);
        phase[0] = t > phase[0] ? t : phase[0];
    }
    if (allow_gs && o->infer_gs && cfg->has_gs_head)
        phase[3] = gs_arena_round((size_t)S * HW * GS_GS_RAW_CHANNELS * sizeof(float)) +
                   gs_arena_round((size_t)S * HW * sizeof(float)) + gs_arena_round((size_t)S * 12 * sizeof(float)) +
                   gs_dpt_plan(c, &n->gs_head, S, H, W, 0, dump);
    size_t most = 0;
    for (int i = 0; i < 5; i++) most = phase[i] > most ? phase[i] : most;
    return gs_vit_out_bytes(&n->vit, S, H, W) + most;
}

size_t gs_da3_workspace(const gs_da3_model *m, int S, int H, int W, int with_cameras, const gs_da3_options *o) {
    gs_da3_options def;
    if (!o) {
        gs_da3_options_default(&def);
        o = &def;
    }
    if (!m || S < 1 || H < 14 || W < 14 || H % 14 || W % 14) return 0;
    size_t b = net_plan(&m->ctx, &m->net, S, H, W, with_cameras, 1, o);
    if (m->cfg.nested) {
        gs_da3_options mo = *o;
        mo.infer_gs = mo.use_ray_pose = 0;
        const size_t t = net_plan(&m->ctx, &m->metric, S, H, W, 0, 0, &mo);
        b = t > b ? t : b;
    }
    if (m->cfg.nested) { /* the nested post-processing, after both networks */
        const size_t t = post_workspace(&m->ctx, (size_t)S * H * W);
        b = t > b ? t : b;
    }
    return b;
}

/* Camera encoder (with input cameras) and backbone: vo, taken from the
 * workspace (it lives until the end of the network's forward). */
static gs_status run_backbone(const gs_ctx *cx, gs_da3_net *n, const float *x, int S, int H, int W,
                              const float *w2c_norm, const float *K, const gs_da3_options *o, const net_costs *k,
                              progress *pg, gs_vit_out *vo) {
    const gs_da3_net_config *c = &n->cfg;
    gs_status st = gs_vit_out_take(vo, cx->ws, &n->vit, S, H, W);
    if (st != GS_OK) return st;
    const size_t mark = gs_arena_mark(cx->ws);
    float *tokens = NULL;
    if (w2c_norm && K) {
        stage(o, "camera encoder");
        progress_stage(pg, "camera encoder", "metric camera encoder");
        if (!c->has_cam_enc)
            return gs_error(GS_ERR_UNSUPPORTED, "model %s has no camera encoder: it cannot take input cameras",
                            c->head_kind == GS_DA3_HEAD_DPT ? "(mono/metric)" : "");
        tokens = gs_arena_floats(cx->ws, (size_t)S * c->embed_dim, "camera tokens");
        if (!tokens) return GS_ERR_NOMEM;
        st = gs_cam_enc_forward(cx, &n->cam_enc, w2c_norm, K, S, H, W, tokens, o->dump);
        if (st == GS_OK) progress_add(pg, k->cam_enc);
    }
    stage(o, "backbone");
    progress_stage(pg, "backbone", "metric backbone");
    if (pg && o->on_progress) {
        pg->vit = &n->vit, pg->S = S, pg->H = H, pg->W = W;
        n->vit.on_block.fn = on_block;
        n->vit.on_block.ctx = pg;
    }
    if (st == GS_OK) st = gs_vit_forward_into(cx, &n->vit, x, S, H, W, tokens, o->ref_strategy, o->dump, vo);
    memset(&n->vit.on_block, 0, sizeof n->vit.on_block);
    gs_arena_release(cx->ws, mark);
    gs_arena_trim(cx->ws);
    return st;
}

/* The depth head: depth, confidence, sky (mono/metric) and, with ray pose,
 * the ray map (*ray, *ray_conf, taken from the workspace). */
static gs_status run_head(const gs_ctx *cx, gs_da3_net *n, const float *const feats[4], const float *x, int S,
                          int H, int W, const gs_da3_options *o, const net_costs *k, progress *pg,
                          gs_da3_prediction *p, float **ray, float **ray_conf) {
    const gs_da3_net_config *c = &n->cfg;
    const size_t HW = (size_t)H * W;
    const int rh = 8 * (H / c->patch_size), rw = 8 * (W / c->patch_size);
    gs_dpt_outputs out;
    memset(&out, 0, sizeof out);
    p->depth = alloc_f((size_t)S * HW, "depth");
    if (!p->depth) return GS_ERR_NOMEM;
    out.depth = p->depth;
    if (c->head_kind == GS_DA3_HEAD_DUALDPT) {
        p->depth_conf = alloc_f((size_t)S * HW, "confidence");
        if (!p->depth_conf) return GS_ERR_NOMEM;
        out.depth_conf = p->depth_conf;
        if (o->use_ray_pose) { /* until the cameras are solved: from the workspace */
            *ray = gs_arena_floats(cx->ws, (size_t)S * rh * rw * 6, "ray map");
            *ray_conf = gs_arena_floats(cx->ws, (size_t)S * rh * rw, "ray confidence");
            if (!*ray || !*ray_conf) return GS_ERR_NOMEM;
            out.ray = *ray;
            out.ray_conf = *ray_conf;
        }
    } else if (c->head_sky) {
        p->sky = alloc_f((size_t)S * HW, "sky");
        if (!p->sky) return GS_ERR_NOMEM;
        out.sky = p->sky;
    }
    stage(o, "head");
    progress_stage(pg, "head", "metric head");
    n->head.on_progress = head_hook(pg, S * k->head_view);
    gs_status st = gs_dpt_forward(cx, &n->head, feats, S, H, W, x, &out, o->dump);
    memset(&n->head.on_progress, 0, sizeof n->head.on_progress);
    return st;
}

/* Predicted cameras: from the ray map (ray pose) or the camera decoder. */
static gs_status run_cameras(const gs_ctx *cx, gs_da3_net *n, const gs_vit_out *vo, const float *ray,
                             const float *ray_conf, int S, int H, int W, const gs_da3_options *o, gs_da3_prediction *p) {
    const gs_da3_net_config *c = &n->cfg;
    const int ray_pose = o->use_ray_pose && c->head_kind == GS_DA3_HEAD_DUALDPT;
    if (!ray_pose && !c->has_cam_dec) return GS_OK;
    p->extrinsics = alloc_f((size_t)S * 12, "extrinsics");
    p->intrinsics = alloc_f((size_t)S * 9, "intrinsics");
    if (!p->extrinsics || !p->intrinsics) return GS_ERR_NOMEM;
    const int rh = 8 * (H / c->patch_size), rw = 8 * (W / c->patch_size);
    if (ray_pose) return gs_ray_pose(ray, ray_conf, S, rh, rw, H, W, o->seed, p->extrinsics, p->intrinsics, o->dump);
    return gs_cam_dec_forward(cx, &n->cam_dec, vo->cam_token[3], S, H, W, p->extrinsics, p->intrinsics, o->dump);
}

/* The 3DGS head and the adapter, and the cameras of the Gaussians' frame. */
static gs_status run_gaussians(const gs_ctx *cx, gs_da3_net *n, const float *const feats[4], const float *x, int S,
                               int H, int W, const float *w2c_norm, const gs_da3_options *o, const net_costs *k,
                               progress *pg, gs_da3_prediction *p) {
    stage(o, "gaussians");
    progress_stage(pg, "gaussians", "gaussians");
    if (!n->cfg.has_gs_head)
        return gs_error(GS_ERR_UNSUPPORTED, "this model has no 3DGS head; Gaussians need da3-giant or "
                                            "da3nested-giant-large");
    if (!p->extrinsics) return gs_error(GS_ERR_INVALID, "Gaussians need predicted cameras");
    const size_t HW = (size_t)H * W, mark = gs_arena_mark(cx->ws);
    float *raw = gs_arena_floats(cx->ws, (size_t)S * HW * GS_GS_RAW_CHANNELS, "Gaussian head output");
    float *conf = gs_arena_floats(cx->ws, (size_t)S * HW, "Gaussian opacity");
    float *gt = w2c_norm ? gs_arena_floats(cx->ws, (size_t)S * 12, "input extrinsics") : NULL;
    gs_status st = raw && conf && (gt || !w2c_norm) ? GS_OK : GS_ERR_NOMEM;
    gs_dpt_outputs go;
    memset(&go, 0, sizeof go);
    go.gs_raw = raw;
    go.gs_conf = conf;
    n->gs_head.on_progress = head_hook(pg, S * k->gs_view);
    if (st == GS_OK) st = gs_dpt_forward(cx, &n->gs_head, feats, S, H, W, x, &go, o->dump);
    memset(&n->gs_head.on_progress, 0, sizeof n->gs_head.on_progress);
    if (st == GS_OK && w2c_norm) st = gs_copy2d(cx, gt, 12, w2c_norm, 16, (size_t)S, 12);   /* [S, 4, 4] -> [S, 3, 4] */
    if (st == GS_OK) {
        gs_adapter_input ai = {S, H, W, raw, conf, p->depth, p->extrinsics, p->intrinsics, gt, o->dump};
        st = gs_gaussian_adapter(cx, &ai, &p->gaussians);
        if (st == GS_OK) progress_add(pg, k->adapter);
    }
    gs_arena_release(cx->ws, mark);
    if (st != GS_OK) return st;
    p->gs_extrinsics = alloc_f((size_t)S * 12, "extrinsics");
    p->gs_intrinsics = alloc_f((size_t)S * 9, "intrinsics");
    if (!p->gs_extrinsics || !p->gs_intrinsics) return GS_ERR_NOMEM;
    memcpy(p->gs_extrinsics, p->extrinsics, (size_t)S * 12 * sizeof(float));
    memcpy(p->gs_intrinsics, p->intrinsics, (size_t)S * 9 * sizeof(float));
    /* c2w translation * s  <=>  w2c translation * s */
    for (int v = 0; v < S; v++)
        for (int r = 0; r < 3; r++) p->gs_extrinsics[12 * v + 4 * r + 3] *= (float)p->gaussians.pose_scale;
    return GS_OK;
}

/* One DepthAnything3Net forward. */
static gs_status net_forward(const gs_ctx *cx, gs_da3_net *n, const float *x, int S, int H, int W,
                             const float *w2c_norm, const float *K, const gs_da3_options *o, int allow_gs,
                             progress *pg, gs_da3_prediction *p) {
    net_costs k;
    net_costs_of(cx, n, S, H, W, w2c_norm != NULL, allow_gs, o, &k);
    gs_vit_out vo;
    memset(&vo, 0, sizeof vo);
    float *ray = NULL, *ray_conf = NULL;
    const size_t mark = gs_arena_mark(cx->ws);
    double t0 = gs_now();
    gs_status st = run_backbone(cx, n, x, S, H, W, w2c_norm, K, o, &k, pg, &vo);
    if (st != GS_OK) goto done;
    p->ref_index = vo.ref_index;
    const size_t heads_mark = gs_arena_mark(cx->ws); /* above the backbone's outputs */
    double t1 = gs_now();
    p->t_backbone += t1 - t0;
    const float *feats[4] = {vo.feat[0], vo.feat[1], vo.feat[2], vo.feat[3]};
    if ((st = run_head(cx, n, feats, x, S, H, W, o, &k, pg, p, &ray, &ray_conf)) != GS_OK) goto done;
    stage(o, "cameras");
    if (k.cameras) progress_stage(pg, "cameras", "metric cameras");
    double t2 = gs_now();
    p->t_head += t2 - t1;
    if ((st = run_cameras(cx, n, &vo, ray, ray_conf, S, H, W, o, p)) != GS_OK) goto done;
    if (k.cameras) progress_add(pg, k.cameras);
    gs_arena_release(cx->ws, heads_mark); /* the ray map is spent */
    if (o->infer_gs && allow_gs) gs_arena_trim(cx->ws); /* the 3DGS head touches its own pages */
    double t3 = gs_now();
    p->t_cameras += t3 - t2;
    if (o->infer_gs && allow_gs) {
        if ((st = run_gaussians(cx, n, feats, x, S, H, W, w2c_norm, o, &k, pg, p)) != GS_OK) goto done;
        p->t_gs += gs_now() - t3;
    }
    if (p->sky) {
        progress_stage(pg, "sky", "metric sky");
        st = mono_sky_fill(cx, p->depth, p->sky, (size_t)S * (size_t)H * W, o->dump);
        if (st == GS_OK) progress_add(pg, k.sky);
    }
done:
    gs_vit_out_free(&vo);
    gs_arena_release(cx->ws, mark);
    return st;
}

/* A dump that prefixes every name (the nested model's metric branch dumps
 * "metric.backbone.*" etc., so that its names do not collide). */
typedef struct {
    const gs_dump *inner;
    const char *prefix;
} prefixed_dump;

static void prefixed_fn(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    const prefixed_dump *pd = ctx;
    char full[160];
    snprintf(full, sizeof full, "%s%s", pd->prefix, name);
    pd->inner->fn(pd->inner->ctx, full, data, ndim, shape);
}

/* NestedDepthAnything3Net: metric depth × focal / 300, least-squares scale of
 * the any-view depth to it on confident non-sky pixels, sky set to the 0.99
 * quantile of non-sky depth (at most 200) with confidence 1. */
static gs_status nested_post(const gs_ctx *c, gs_da3_prediction *p, gs_da3_prediction *mp, const gs_dump *d) {
    const int S = p->S;
    const size_t HW = (size_t)p->H * p->W, n = (size_t)S * HW;
    if (!p->intrinsics || !p->depth_conf || !mp->sky)
        return gs_error(GS_ERR_INVALID, "nested model: missing intrinsics, confidence or sky");
    double *f = gs_malloc((size_t)S, sizeof *f, "focal scales");
    if (!f) return GS_ERR_NOMEM;
    for (int v = 0; v < S; v++) {
        const float *K = p->intrinsics + 9 * v;
        f[v] = (K[0] + K[4]) / 2.0f / 300.0f; /* a float factor, as the reference */
    }
    gs_status st = gs_scale(c, mp->depth, HW, (size_t)S, f, 0);
    free(f);
    if (st != GS_OK) return st;
    gs_dump_tensor(d, "metric.output.depth_scaled", mp->depth, 3, (long)S, (long)p->H, (long)p->W);
    const size_t mark = gs_ws_mark(c);
    size_t cnt = 0;
    unsigned char *ns = nonsky_mask(c, mp->sky, n, &cnt);
    float med, q;
    double num = 0.0, den = 0.0;
    if (!ns) {
        st = GS_ERR_NOMEM;
        goto done;
    }
    if (cnt <= 10) {
        st = gs_error(GS_ERR_INVALID, "nested model: fewer than 11 non-sky pixels, the metric scale cannot be fitted");
        goto done;
    }
    if ((st = gs_quantile(c, p->depth_conf, ns, n, 0.5, &med)) != GS_OK) goto done;
    if ((st = gs_metric_scale_sums(c, mp->depth, p->depth, p->depth_conf, med, ns, n, &num, &den)) != GS_OK) goto done;
    const float s = (float)(num / (den > 1e-12 ? den : 1e-12));
    const double sd = s;
    if ((st = gs_scale(c, p->depth, n, 1, &sd, 0)) != GS_OK) goto done;
    if (p->extrinsics) /* per view: the translations */
        for (int v = 0; v < S; v++)
            for (int r = 0; r < 3; r++) p->extrinsics[12 * v + 4 * r + 3] *= s;
    p->is_metric = 1;
    p->scale_factor = s;
    gs_dump_tensor(d, "output.scale_factor", &p->scale_factor, 1, 1L);
    if ((st = gs_quantile(c, p->depth, ns, n, 0.99, &q)) != GS_OK) goto done;
    if (q > 200.0f) q = 200.0f;
    gs_dump_tensor(d, "output.sky_fill", &q, 1, 1L);
    st = gs_fill_unmasked(c, p->depth, ns, n, q);
    if (st == GS_OK) st = gs_fill_unmasked(c, p->depth_conf, ns, n, 1.0f);
done:
    gs_ws_release(c, mark);
    return st;
}

static int64_t nested_post_cost(int S, int H, int W) {
    return cost_round(S * (double)H * W * COST_NESTED_POST_PER_PIXEL);
}

int64_t gs_da3_work(const gs_da3_model *m, int S, int H, int W, int with_cameras, const gs_da3_options *o) {
    gs_da3_options def;
    if (!o) {
        gs_da3_options_default(&def);
        o = &def;
    }
    if (!m || S < 1 || H < 14 || W < 14 || H % 14 || W % 14) return 0;
    net_costs k;
    net_costs_of(&m->ctx, &m->net, S, H, W, with_cameras, 1, o, &k);
    int64_t total = net_costs_sum(&k, S);
    if (m->cfg.nested) {
        gs_da3_options mo = *o;
        mo.infer_gs = mo.use_ray_pose = 0;
        net_costs_of(&m->ctx, &m->metric, S, H, W, 0, 0, &mo, &k);
        total += net_costs_sum(&k, S) + nested_post_cost(S, H, W);
    }
    return total;
}

/* Gaussians asked of a model without the 3DGS head. */
static gs_status check_gs_head(const gs_da3_model *m, const gs_da3_options *o) {
    if (o->infer_gs && !m->cfg.net.has_gs_head)
        return gs_error(GS_ERR_UNSUPPORTED, "model %s has no 3DGS head; Gaussians need da3-giant or "
                                            "da3nested-giant-large", m->cfg.model_name);
    return GS_OK;
}

gs_status gs_da3_forward(gs_da3_model *m, const float *x, int S, int H, int W, const float *w2c_norm,
                         const float *K, const gs_da3_options *o, gs_da3_prediction *p) {
    memset(p, 0, sizeof *p);
    gs_da3_options def;
    if (!o) { gs_da3_options_default(&def); o = &def; }
    if (S < 1 || H < 14 || W < 14 || H % 14 || W % 14)
        return gs_error(GS_ERR_INVALID, "model input: %d views of %dx%d; need >= 1 view and sides that are "
                                        "positive multiples of 14", S, W, H);
    if ((w2c_norm == NULL) != (K == NULL))
        return gs_error(GS_ERR_INVALID, "input cameras need both extrinsics and intrinsics");
    gs_status st_gs = check_gs_head(m, o); /* before anything runs */
    if (st_gs) return st_gs;
    p->S = S;
    p->H = H;
    p->W = W;
    p->ref_index = -1;
    p->scale_factor = 1.0f;
    /* the forward's one memory plan, had before anything runs */
    gs_arena ws;
    const size_t plan = gs_da3_workspace(m, S, H, W, w2c_norm != NULL, o);
    gs_status st = gs_arena_create(&ws, m->ctx.device, plan, "network workspace");
    if (st != GS_OK)
        return gs_error_prefix(st, "%s: %d view%s of %dx%d", m->cfg.model_name, S, S == 1 ? "" : "s", W, H);
    p->workspace_bytes = plan;
    gs_ctx cx = m->ctx;
    cx.ws = &ws;
    progress pg = {o, 0, gs_da3_work(m, S, H, W, w2c_norm != NULL, o), NULL, 0, NULL, 0, 0, 0, 0, 0};
    progress *pp = o->on_progress ? &pg : NULL;
    st = net_forward(&cx, &m->net, x, S, H, W, w2c_norm, K, o, 1, pp, p);
    if (!st && m->cfg.nested) {
        gs_da3_prediction mp;
        memset(&mp, 0, sizeof mp);
        mp.S = S;
        mp.H = H;
        mp.W = W;
        gs_da3_options mo = *o;
        prefixed_dump pd = {o->dump, "metric."};
        gs_dump md = {prefixed_fn, &pd};
        mo.dump = o->dump && o->dump->fn ? &md : NULL;
        mo.infer_gs = 0;
        mo.use_ray_pose = 0;
        double t0 = gs_now();
        stage(o, "metric branch");
        pg.metric = 1;
        st = net_forward(&cx, &m->metric, x, S, H, W, NULL, NULL, &mo, 0, pp, &mp);
        if (!st) gs_dump_tensor(mo.dump, "output.depth", mp.depth, 3, (long)S, (long)H, (long)W);
        pg.metric = 0;
        if (!st) progress_stage(pp, "metric scale", "metric scale");
        if (!st) st = nested_post(&cx, p, &mp, o->dump);
        if (!st) progress_add(pp, nested_post_cost(S, H, W));
        gs_da3_prediction_free(&mp);
        p->t_post += gs_now() - t0;
    }
    if (!st) {
        gs_dump_tensor(o->dump, "output.depth", p->depth, 3, (long)S, (long)H, (long)W);
        if (p->depth_conf) gs_dump_tensor(o->dump, "output.depth_conf", p->depth_conf, 3, (long)S, (long)H, (long)W);
        if (p->extrinsics) gs_dump_tensor(o->dump, "output.extrinsics", p->extrinsics, 3, (long)S, 3L, 4L);
        if (p->intrinsics) gs_dump_tensor(o->dump, "output.intrinsics", p->intrinsics, 3, (long)S, 3L, 3L);
    }
    gs_arena_destroy(&ws);
    if (st) gs_da3_prediction_free(p);
    return st;
}


/* api._align_to_input_extrinsics_intrinsics: Umeyama Sim(3) from the user's
 * camera centres to the predicted ones (RANSAC from 10 views); the output
 * cameras become the user's and the depth is divided by the scale. */
static gs_status align_to_user(const gs_da3_model *m, gs_da3_prediction *p, const float *user_w2c, const float *K_proc,
                               const gs_da3_options *o) {
    const int S = p->S;
    memcpy(p->intrinsics, K_proc, (size_t)S * 9 * sizeof(float));
    if (S < 2) { /* one camera fixes no scale: the reference's Umeyama is degenerate too */
        for (int v = 0; v < S; v++)
            for (int r = 0; r < 3; r++) memcpy(p->extrinsics + 12 * v + 4 * r, user_w2c + 16 * v + 4 * r, 4 * sizeof(float));
        return GS_OK;
    }
    gs_camera *ref = gs_calloc((size_t)S, sizeof *ref, "cameras"), *est = gs_calloc((size_t)S, sizeof *est, "cameras");
    if (!ref || !est) { free(ref); free(est); return GS_ERR_NOMEM; }
    for (int v = 0; v < S; v++) {
        gs_camera_from_w2c_K(&ref[v], p->extrinsics + 12 * v, p->intrinsics + 9 * v, p->W, p->H);
        gs_camera_from_w2c_K(&est[v], user_w2c + 16 * v, K_proc + 9 * v, p->W, p->H);
    }
    gs_pose_align_opts ao = {-1, 0, 0, 0.0, o->seed};
    gs_sim3 T;
    gs_status st = gs_align_poses_umeyama(ref, est, S, &ao, &T);
    if (!st) {
        if (o->align_to_input_scale) {
            for (int v = 0; v < S; v++)
                for (int r = 0; r < 3; r++) memcpy(p->extrinsics + 12 * v + 4 * r, user_w2c + 16 * v + 4 * r, 4 * sizeof(float));
            st = gs_scale(&m->ctx, p->depth, (size_t)S * p->H * p->W, 1, &T.s, 1);
        } else {
            gs_cameras_apply_sim3(est, S, &T);
            for (int v = 0; v < S; v++)
                for (int r = 0; r < 3; r++) {
                    for (int q = 0; q < 3; q++) p->extrinsics[12 * v + 4 * r + q] = (float)est[v].R[3 * r + q];
                    p->extrinsics[12 * v + 4 * r + 3] = (float)est[v].t[r];
                }
        }
    }
    free(ref);
    free(est);
    return st ? gs_error_prefix(st, "aligning the prediction to the input cameras") : GS_OK;
}

static void cam_centre(const float *w2c, int v, double c[3]) { /* -R^T t */
    const float *E = w2c + 16 * v;
    for (int r = 0; r < 3; r++) c[r] = -(E[0 + r] * (double)E[3] + E[4 + r] * (double)E[7] + E[8 + r] * (double)E[11]);
}

gs_status gs_da3_check_input_cameras(const float *w2c, int S) {
    if (!w2c || S < 2) return GS_OK; /* one camera is taken as it is */
    double mean[3] = {0, 0, 0}, c[3];
    for (int v = 0; v < S; v++) {
        cam_centre(w2c, v, c);
        for (int r = 0; r < 3; r++) mean[r] += c[r] / S;
    }
    /* the farthest centre from the mean gives the line's direction; the
     * centres span a plane when one is off that line by more than 1e-6 of
     * the spread (the relative rank test of the alignment's Umeyama) */
    double far = 0, d[3] = {0, 0, 0};
    for (int v = 0; v < S; v++) {
        cam_centre(w2c, v, c);
        double e[3] = {c[0] - mean[0], c[1] - mean[1], c[2] - mean[2]};
        double l = e[0] * e[0] + e[1] * e[1] + e[2] * e[2];
        if (l > far) { far = l; memcpy(d, e, sizeof d); }
    }
    double off = 0;
    if (far > 0) {
        double nd = sqrt(far);
        for (int k = 0; k < 3; k++) d[k] /= nd;
        for (int v = 0; v < S; v++) {
            cam_centre(w2c, v, c);
            double e[3] = {c[0] - mean[0], c[1] - mean[1], c[2] - mean[2]};
            double t = e[0] * d[0] + e[1] * d[1] + e[2] * d[2];
            double q = e[0] * e[0] + e[1] * e[1] + e[2] * e[2] - t * t;
            if (q > off) off = q;
        }
    }
    if (!(far > 0) || !(off > 1e-12 * far))
        return gs_error(GS_ERR_INVALID,
                        "the %d known cameras have their centres %s: the alignment of the predicted poses to them "
                        "(Umeyama, as the reference) needs 3 or more cameras not on one line (give more photos, or "
                        "leave out the camera file)",
                        S, far > 0 ? "on one line" : "at one point");
    return GS_OK;
}

gs_status gs_da3_infer(gs_da3_model *m, const gs_image *images, int S, const float *user_w2c,
                       const float *user_K, const gs_da3_options *o, gs_da3_prediction *p) {
    memset(p, 0, sizeof *p);
    gs_da3_options def;
    if (!o) { gs_da3_options_default(&def); o = &def; }
    if (S < 1 || !images) return gs_error(GS_ERR_INVALID, "no images given");
    if ((user_w2c == NULL) != (user_K == NULL))
        return gs_error(GS_ERR_INVALID, "input cameras need both extrinsics and intrinsics");
    gs_status st_gs = check_gs_head(m, o); /* before the preprocessing */
    if (!st_gs) st_gs = gs_da3_check_input_cameras(user_w2c, S);
    if (st_gs) return st_gs;
    double t0 = gs_now();
    float *x = NULL, *K_proc = NULL, *w2c_norm = NULL;
    int H = 0, W = 0, cropped = 0;
    gs_status st = GS_OK;
    if (user_K) {
        K_proc = gs_malloc((size_t)S * 9, sizeof(float), "intrinsics");
        w2c_norm = gs_malloc((size_t)S * 16, sizeof(float), "extrinsics");
        if (!K_proc || !w2c_norm) { st = GS_ERR_NOMEM; goto done; }
        if ((st = gs_da3_normalize_extrinsics(user_w2c, S, w2c_norm))) goto done;
    }
    stage(o, "preprocess");
    if (o->on_progress) o->on_progress(o->progress_ctx, "preprocess", 0, 0); /* the network's size is not known yet */
    if ((st = gs_da3_preprocess(images, S, o->process_res, (gs_da3_resize_method)o->resize_method, user_K, &x, &H,
                                &W, K_proc, &cropped)))
        goto done;
    double t_pre = gs_now() - t0;
    if ((st = gs_da3_forward(m, x, S, H, W, w2c_norm, K_proc, o, p))) goto done;
    p->t_preprocess = t_pre;
    p->cropped = cropped;
    p->images = gs_malloc((size_t)S * H * W, 3, "processed images");
    if (!p->images) { st = GS_ERR_NOMEM; goto done; }
    for (int v = 0; v < S; v++)
        gs_da3_denormalize(x + (size_t)v * 3 * H * W, W, H, p->images + (size_t)v * H * W * 3);
    if (user_w2c && p->extrinsics && p->intrinsics) {
        double t1 = gs_now();
        st = align_to_user(m, p, user_w2c, K_proc, o);
        p->t_post += gs_now() - t1;
    }
done:
    if (st) gs_da3_prediction_free(p);
    free(x);
    free(K_proc);
    free(w2c_norm);
    return st;
}

gs_status gs_da3_cameras(const gs_da3_prediction *p, int gs_frame, const char *const *names, const char *suffix,
                         gs_cameras *out) {
    out->n = 0;
    out->cams = NULL;
    const float *ext = gs_frame ? p->gs_extrinsics : p->extrinsics, *intr = gs_frame ? p->gs_intrinsics : p->intrinsics;
    if (!ext || !intr) return gs_error(GS_ERR_INVALID, "the prediction has no %scameras", gs_frame ? "Gaussian-frame " : "");
    out->cams = gs_calloc((size_t)p->S, sizeof(gs_camera), "cameras");
    if (!out->cams) return GS_ERR_NOMEM;
    out->n = p->S;
    for (int v = 0; v < p->S; v++) {
        gs_camera *c = &out->cams[v];
        gs_camera_from_w2c_K(c, ext + 12 * v, intr + 9 * v, p->W, p->H);
        c->camera_id = v + 1;
        if (names) snprintf(c->name, sizeof c->name, "%s%s", names[v], suffix ? suffix : "");
        else snprintf(c->name, sizeof c->name, "view%03d%s", v, suffix ? suffix : "");
    }
    return GS_OK;
}
