/* da3_config.c - the hyper-parameters of the seven official Depth Anything 3
 * models (the YAML files in src/depth_anything_3/configs, checked against the state-dict
 * key lists) and the config.json reader: "model_name" picks a table entry;
 * other names (test checkpoints) must describe themselves in "gs_arch", which
 * is validated field by field before anything is sized from it. */
#include "backbone/da3_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const gs_da3_model_names[] = {"da3-small",       "da3-base",      "da3-large",
                                          "da3-giant",       "da3metric-large", "da3mono-large",
                                          "da3nested-giant-large", NULL};

/* Any-view DualDPT model with camera encoder/decoder. */
static gs_da3_net_config anyview(int C, int depth, int heads, int swiglu, int ffn, int o0, int o1, int o2, int o3,
                                 int alt, int F, int c0, int c1, int c2, int c3) {
    gs_da3_net_config n;
    memset(&n, 0, sizeof n);
    n.embed_dim = C, n.depth = depth, n.num_heads = heads, n.swiglu = swiglu, n.ffn_hidden = ffn;
    n.out_layers[0] = o0, n.out_layers[1] = o1, n.out_layers[2] = o2, n.out_layers[3] = o3;
    n.alt_start = n.qknorm_start = n.rope_start = alt;
    n.cat_token = 1, n.patch_size = 14, n.pos_grid = 37;
    n.head_kind = GS_DA3_HEAD_DUALDPT, n.head_dim_in = 2 * C, n.features = F;
    n.out_channels[0] = c0, n.out_channels[1] = c1, n.out_channels[2] = c2, n.out_channels[3] = c3;
    n.has_cam_enc = n.has_cam_dec = 1, n.cam_enc_heads = 16;
    return n;
}

/* da3metric-large / da3mono-large: plain DINOv2-L + DPT with a sky head. */
static gs_da3_net_config metric_large(void) {
    gs_da3_net_config n = anyview(1024, 24, 16, 0, 4096, 4, 11, 17, 23, -1, 256, 256, 512, 1024, 1024);
    n.cat_token = 0, n.head_kind = GS_DA3_HEAD_DPT, n.head_dim_in = 1024, n.head_sky = 1;
    n.has_cam_enc = n.has_cam_dec = 0, n.cam_enc_heads = 0;
    return n;
}

static gs_da3_net_config giant(void) {
    gs_da3_net_config n = anyview(1536, 40, 24, 1, 4096, 19, 27, 33, 39, 13, 256, 256, 512, 1024, 1024);
    n.has_gs_head = 1, n.gs_features = 256;
    n.gs_out_channels[0] = 256, n.gs_out_channels[1] = 512, n.gs_out_channels[2] = 1024, n.gs_out_channels[3] = 1024;
    return n;
}

gs_status gs_da3_config_named(const char *name, gs_da3_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    if (!name) return gs_error(GS_ERR_INVALID, "DA3 model name missing");
    if (!strcmp(name, "da3-small"))
        cfg->net = anyview(384, 12, 6, 0, 1536, 5, 7, 9, 11, 4, 64, 48, 96, 192, 384);
    else if (!strcmp(name, "da3-base"))
        cfg->net = anyview(768, 12, 12, 0, 3072, 5, 7, 9, 11, 4, 128, 96, 192, 384, 768);
    else if (!strcmp(name, "da3-large"))
        cfg->net = anyview(1024, 24, 16, 0, 4096, 11, 15, 19, 23, 8, 256, 256, 512, 1024, 1024);
    else if (!strcmp(name, "da3-giant"))
        cfg->net = giant();
    else if (!strcmp(name, "da3metric-large") || !strcmp(name, "da3mono-large"))
        cfg->net = metric_large();
    else if (!strcmp(name, "da3nested-giant-large")) {
        cfg->nested = 1;
        cfg->net = giant();
        cfg->metric = metric_large();
    } else {
        return gs_error(GS_ERR_NOT_FOUND,
                        "unknown DA3 model name \"%s\" (known: da3-small, da3-base, da3-large, da3-giant, "
                        "da3metric-large, da3mono-large, da3nested-giant-large)",
                        name);
    }
    snprintf(cfg->model_name, sizeof cfg->model_name, "%s", name);
    snprintf(cfg->prefix, sizeof cfg->prefix, "%s", cfg->nested ? "model.da3." : "model.");
    snprintf(cfg->metric_prefix, sizeof cfg->metric_prefix, "%s", cfg->nested ? "model.da3_metric." : "");
    return GS_OK;
}

/* ---- config.json ---------------------------------------------------------------- */

/* Field readers for one gs_arch object. `where` is "gs_arch" or
 * "gs_arch.anyview"/"gs_arch.metric"; every message names file and field. */
typedef struct {
    const char *file, *where;
    const cJSON *obj;
} arch_ctx;

/* 1 found, 0 absent (error set when required), -1 bad */
static int get_int(const arch_ctx *a, const char *key, int lo, int hi, int required, int *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(a->obj, key);
    if (!it) {
        if (required) gs_error(GS_ERR_FORMAT, "%s: %s.%s is missing", a->file, a->where, key);
        return required ? -1 : 0;
    }
    const double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || !isfinite(v) || v != floor(v) || v < lo || v > hi) {
        gs_error(GS_ERR_FORMAT, "%s: %s.%s must be an integer in %d..%d", a->file, a->where, key, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 1;
}

static int get_bool(const arch_ctx *a, const char *key, int required, int *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(a->obj, key);
    if (!it) {
        if (required) gs_error(GS_ERR_FORMAT, "%s: %s.%s is missing", a->file, a->where, key);
        return required ? -1 : 0;
    }
    if (cJSON_IsBool(it)) {
        *out = cJSON_IsTrue(it) ? 1 : 0;
        return 1;
    }
    if (cJSON_IsNumber(it) && (it->valuedouble == 0 || it->valuedouble == 1)) {
        *out = (int)it->valuedouble;
        return 1;
    }
    gs_error(GS_ERR_FORMAT, "%s: %s.%s must be true or false", a->file, a->where, key);
    return -1;
}

static int get_int4(const arch_ctx *a, const char *key, int lo, int hi, int required, int out[4]) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(a->obj, key);
    if (!it) {
        if (required) gs_error(GS_ERR_FORMAT, "%s: %s.%s is missing", a->file, a->where, key);
        return required ? -1 : 0;
    }
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 4) {
        gs_error(GS_ERR_FORMAT, "%s: %s.%s must be an array of 4 integers", a->file, a->where, key);
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        const cJSON *e = cJSON_GetArrayItem(it, i);
        const double v = e ? e->valuedouble : NAN;
        if (!cJSON_IsNumber(e) || !isfinite(v) || v != floor(v) || v < lo || v > hi) {
            gs_error(GS_ERR_FORMAT, "%s: %s.%s[%d] must be an integer in %d..%d", a->file, a->where, key, i, lo,
                     hi);
            return -1;
        }
        out[i] = (int)v;
    }
    return 1;
}

/* Bounds: far above every official model (C 1536, depth 40, 24 heads) yet
 * small enough that nothing sized from them can overflow an int. */
#define MAX_DIM 16384
#define MAX_DEPTH 256
#define MAX_HEADS 1024
#define MAX_HIDDEN 131072

/* Fields of a module that is absent (cam_enc_heads without a camera encoder,
 * gs_* without a GS head) may be missing or 0; when present they are still
 * checked. */
static gs_status parse_net(const char *file, const char *where, const cJSON *obj, gs_da3_net_config *n) {
    memset(n, 0, sizeof *n);
    if (!cJSON_IsObject(obj)) return gs_error(GS_ERR_FORMAT, "%s: %s must be an object", file, where);
    arch_ctx a = {file, where, obj};
    const char *head = NULL;
    if (get_int(&a, "embed_dim", 1, MAX_DIM, 1, &n->embed_dim) < 0 ||
        get_int(&a, "depth", 1, MAX_DEPTH, 1, &n->depth) < 0 ||
        get_int(&a, "num_heads", 1, MAX_HEADS, 1, &n->num_heads) < 0 || get_bool(&a, "swiglu", 1, &n->swiglu) < 0 ||
        get_int(&a, "ffn_hidden", 1, MAX_HIDDEN, 1, &n->ffn_hidden) < 0 ||
        get_int4(&a, "out_layers", 0, MAX_DEPTH - 1, 1, n->out_layers) < 0 ||
        get_int(&a, "alt_start", -1, MAX_DEPTH - 1, 1, &n->alt_start) < 0 ||
        get_int(&a, "qknorm_start", -1, MAX_DEPTH - 1, 1, &n->qknorm_start) < 0 ||
        get_int(&a, "rope_start", -1, MAX_DEPTH - 1, 1, &n->rope_start) < 0 ||
        get_bool(&a, "cat_token", 1, &n->cat_token) < 0 || get_int(&a, "patch_size", 14, 14, 1, &n->patch_size) < 0 || /* the heads assume 14 */
        get_int(&a, "pos_grid", 1, 256, 1, &n->pos_grid) < 0 ||
        get_int(&a, "head_dim_in", 1, 2 * MAX_DIM, 1, &n->head_dim_in) < 0 ||
        get_int(&a, "features", 1, MAX_DIM, 1, &n->features) < 0 ||
        get_int4(&a, "out_channels", 1, MAX_DIM, 1, n->out_channels) < 0 ||
        get_bool(&a, "head_sky", 0, &n->head_sky) < 0 || get_bool(&a, "has_cam_enc", 1, &n->has_cam_enc) < 0 ||
        get_bool(&a, "has_cam_dec", 1, &n->has_cam_dec) < 0 ||
        get_int(&a, "cam_enc_heads", n->has_cam_enc, MAX_HEADS, n->has_cam_enc, &n->cam_enc_heads) < 0 ||
        get_bool(&a, "has_gs_head", 0, &n->has_gs_head) < 0 ||
        get_int(&a, "gs_features", n->has_gs_head, MAX_DIM, n->has_gs_head, &n->gs_features) < 0 ||
        get_int4(&a, "gs_out_channels", n->has_gs_head, MAX_DIM, n->has_gs_head, n->gs_out_channels) < 0)
        return GS_ERR_FORMAT;
    const cJSON *hk = cJSON_GetObjectItemCaseSensitive(obj, "head_kind");
    if (!hk) return gs_error(GS_ERR_FORMAT, "%s: %s.head_kind is missing", file, where);
    head = cJSON_GetStringValue(hk);
    if (head && !strcmp(head, "dualdpt"))
        n->head_kind = GS_DA3_HEAD_DUALDPT;
    else if (head && !strcmp(head, "dpt"))
        n->head_kind = GS_DA3_HEAD_DPT;
    else
        return gs_error(GS_ERR_FORMAT, "%s: %s.head_kind must be \"dualdpt\" or \"dpt\"", file, where);

    /* cross-field rules */
    if (n->embed_dim % n->num_heads)
        return gs_error(GS_ERR_FORMAT, "%s: %s.embed_dim %d is not divisible by num_heads %d", file, where,
                        n->embed_dim, n->num_heads);
    const int hd = n->embed_dim / n->num_heads;
    if (hd % 2 || (n->rope_start != -1 && hd % 4))
        return gs_error(GS_ERR_FORMAT, "%s: %s: head dim embed_dim/num_heads = %d must be %s", file, where, hd,
                        n->rope_start != -1 ? "a multiple of 4 (2D RoPE)" : "even");
    for (int k = 0; k < 4; k++) {
        if (n->out_layers[k] >= n->depth)
            return gs_error(GS_ERR_FORMAT, "%s: %s.out_layers[%d] = %d is not a block (depth %d)", file, where, k,
                            n->out_layers[k], n->depth);
        if (k && n->out_layers[k] <= n->out_layers[k - 1])
            return gs_error(GS_ERR_FORMAT, "%s: %s.out_layers must be strictly increasing", file, where);
    }
    const struct { const char *name; int v; } starts[] = {
        {"alt_start", n->alt_start}, {"qknorm_start", n->qknorm_start}, {"rope_start", n->rope_start}};
    for (int k = 0; k < 3; k++)
        if (starts[k].v >= n->depth)
            return gs_error(GS_ERR_FORMAT, "%s: %s.%s = %d is not a block (depth %d; -1 = never)", file, where,
                            starts[k].name, starts[k].v, n->depth);
    const int dim_in = n->cat_token ? 2 * n->embed_dim : n->embed_dim;
    if (n->head_dim_in != dim_in)
        return gs_error(GS_ERR_FORMAT, "%s: %s.head_dim_in = %d, but the backbone gives %d (%sembed_dim)", file,
                        where, n->head_dim_in, dim_in, n->cat_token ? "cat_token: 2 x " : "");
    if (n->features % 2)
        return gs_error(GS_ERR_FORMAT, "%s: %s.features = %d must be even", file, where, n->features);
    if (n->has_gs_head && n->gs_features % 2)
        return gs_error(GS_ERR_FORMAT, "%s: %s.gs_features = %d must be even", file, where, n->gs_features);
    if (n->has_cam_enc && n->embed_dim % n->cam_enc_heads)
        return gs_error(GS_ERR_FORMAT, "%s: %s.embed_dim %d is not divisible by cam_enc_heads %d", file, where,
                        n->embed_dim, n->cam_enc_heads);
    return GS_OK;
}

gs_status gs_da3_config_load(const char *json_path, gs_da3_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    uint8_t *data = NULL;
    size_t size = 0;
    gs_status st = gs_read_file(json_path, (size_t)1 << 20, &data, &size);
    if (st != GS_OK) return st;
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    free(data);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return gs_error(GS_ERR_FORMAT, "%s: not a JSON object", json_path);
    }
    const cJSON *name_it = cJSON_GetObjectItemCaseSensitive(root, "model_name");
    const char *name = cJSON_GetStringValue(name_it);
    if (!name) {
        cJSON_Delete(root);
        return gs_error(GS_ERR_FORMAT, "%s: \"model_name\" (a string) is missing", json_path);
    }
    if (strlen(name) >= sizeof cfg->model_name) {
        cJSON_Delete(root);
        return gs_error(GS_ERR_FORMAT, "%s: model_name is longer than %zu characters", json_path,
                        sizeof cfg->model_name - 1);
    }
    for (int i = 0; gs_da3_model_names[i]; i++)
        if (!strcmp(name, gs_da3_model_names[i])) {
            /* the official files carry more fields; only the name matters */
            st = gs_da3_config_named(name, cfg);
            cJSON_Delete(root);
            return st;
        }
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "gs_arch");
    if (!cJSON_IsObject(arch)) {
        st = gs_error(GS_ERR_FORMAT,
                      "%s: model_name \"%s\" is not an official DA3 model and there is no \"gs_arch\" object "
                      "describing it (official: da3-small, da3-base, da3-large, da3-giant, da3metric-large, "
                      "da3mono-large, da3nested-giant-large)",
                      json_path, name);
        cJSON_Delete(root);
        return st;
    }
    snprintf(cfg->model_name, sizeof cfg->model_name, "%s", name);
    int nested = 0;
    const cJSON *nest_it = cJSON_GetObjectItemCaseSensitive(arch, "nested");
    if (nest_it && !cJSON_IsBool(nest_it)) {
        cJSON_Delete(root);
        return gs_error(GS_ERR_FORMAT, "%s: gs_arch.nested must be true or false", json_path);
    }
    nested = nest_it && cJSON_IsTrue(nest_it);
    if (nested) {
        st = parse_net(json_path, "gs_arch.anyview", cJSON_GetObjectItemCaseSensitive(arch, "anyview"), &cfg->net);
        if (st == GS_OK)
            st = parse_net(json_path, "gs_arch.metric", cJSON_GetObjectItemCaseSensitive(arch, "metric"),
                           &cfg->metric);
    } else {
        st = parse_net(json_path, "gs_arch", arch, &cfg->net);
    }
    cJSON_Delete(root);
    if (st != GS_OK) {
        memset(cfg, 0, sizeof *cfg);
        return st;
    }
    cfg->nested = nested;
    snprintf(cfg->prefix, sizeof cfg->prefix, "%s", nested ? "model.da3." : "model.");
    snprintf(cfg->metric_prefix, sizeof cfg->metric_prefix, "%s", nested ? "model.da3_metric." : "");
    return GS_OK;
}
