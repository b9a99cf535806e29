/* da3.h - Depth Anything 3: model configurations, checkpoint weights and the
 * tensor-dump hook shared by the backbone (backbone/) and the heads (heads/).
 *
 * Configurations: the seven official models live in one table
 * (gs_da3_config_named); a checkpoint folder's config.json selects one by
 * "model_name". Test checkpoints carry their own hyper-parameters in
 * config.json under "gs_arch" (see gs_da3_config_load) so that tiny models
 * with the official structure and key names can be built for parity tests.
 *
 * Weights: a memory-mapped safetensors file. gs_weights_get returns float32
 * data pointing into the mapping (F32, 4-byte aligned) or a converted copy
 * made once (F16/BF16/unaligned). Missing keys and wrong shapes are collected
 * so that one load reports all of them by name; gs_weights_check then reports
 * them, plus any key under the model's prefix that nothing asked for. */
#ifndef GS_BACKBONE_DA3_H
#define GS_BACKBONE_DA3_H

#include "data/safetensors.h"
#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GS_DA3_HEAD_DUALDPT = 0, GS_DA3_HEAD_DPT = 1 } gs_da3_head_kind;

/* One DepthAnything3Net (the nested model has two). */
typedef struct {
    /* backbone (DINOv2 ViT) */
    int embed_dim;       /* C */
    int depth;           /* blocks */
    int num_heads;       /* head_dim = C / num_heads (64 in every official model) */
    int swiglu;          /* 1: SwiGLU FFN (mlp.w12/w3), 0: GELU MLP (mlp.fc1/fc2) */
    int ffn_hidden;      /* MLP hidden (4C) or SwiGLU hidden (w3 input) */
    int out_layers[4];
    int alt_start, qknorm_start, rope_start; /* -1: never */
    int cat_token;       /* features are [local | norm(global)] (2C wide) */
    int patch_size;      /* 14 */
    int pos_grid;        /* pos_embed grid side: img_size / patch = 37 */
    /* depth head */
    gs_da3_head_kind head_kind;
    int head_dim_in;     /* 2C with cat_token, else C */
    int features;        /* F */
    int out_channels[4];
    int head_sky;        /* DPT: sky head present */
    /* camera modules */
    int has_cam_enc, has_cam_dec;
    int cam_enc_heads;   /* 16 in every official model */
    /* 3DGS head (GSDPT + GaussianAdapter) */
    int has_gs_head;
    int gs_features;
    int gs_out_channels[4];
} gs_da3_net_config;

typedef struct {
    char model_name[64];
    int nested;                 /* da3nested-giant-large: net = any-view, metric = metric net */
    gs_da3_net_config net;
    gs_da3_net_config metric;
    /* key prefixes of the two networks: "model." or "model.da3." / "model.da3_metric." */
    char prefix[32], metric_prefix[32];
} gs_da3_config;

/* The seven official names: da3-small, da3-base, da3-large, da3-giant,
 * da3metric-large, da3mono-large, da3nested-giant-large. */
gs_status gs_da3_config_named(const char *name, gs_da3_config *cfg);
/* Read a Hugging Face config.json: "model_name" selects the table entry;
 * when the name is not one of the seven, a "gs_arch" object must give the
 * hyper-parameters (fields named as in gs_da3_net_config; for nested models
 * "gs_arch": {"nested": true, "anyview": {...}, "metric": {...}}). */
gs_status gs_da3_config_load(const char *json_path, gs_da3_config *cfg);
/* Names of the official models, NULL-terminated. */
extern const char *const gs_da3_model_names[];

/* ---- weights ---------------------------------------------------------------- */
typedef struct {
    gs_safetensors st;
    unsigned char *used;        /* per tensor of st: asked for */
    float **conv;               /* per tensor: converted f32 copy or NULL */
    char *problems;             /* accumulated "missing"/"shape" lines */
    size_t problems_len, problems_cap;
    int n_problems;
    char *nonfinite;            /* "tensor X has a non-finite value ..." lines */
    size_t nonfinite_len, nonfinite_cap;
    int n_nonfinite;
} gs_weights;

gs_status gs_weights_open(gs_weights *w, const char *path);
void gs_weights_close(gs_weights *w);
/* Keys and shapes without data (tests: bind the full-size official models
 * from their key lists). Tensors read as F32 pointing at a tiny zero buffer:
 * binding works, a forward pass must not be run. */
gs_status gs_weights_open_virtual(gs_weights *w, int n, const char *const *names, const int *ndims,
                                  const int64_t (*shapes)[GS_MAX_DIMS], const char *label);
/* float32 data of tensor `prefix name` with exactly the given shape (ndim
 * dims); NULL (and a recorded problem) when missing or shaped differently.
 * Every value is checked on the way (in the F16/BF16 conversion, or in one
 * read of an F32 tensor used in place): a NaN or Inf is recorded for
 * gs_weights_check, naming the tensor and the element. The data lives as
 * long as w. */
const float *gs_weights_get(gs_weights *w, const char *prefix, const char *name, int ndim,
                            const int64_t *shape);
/* Same, with the shape as arguments: gs_weights_getv(w, "model.", "x.weight", 2, 768L, 384L). */
const float *gs_weights_getv(gs_weights *w, const char *prefix, const char *name, int ndim, ...);
/* Does `prefix name` exist (marks nothing)? */
int gs_weights_has(const gs_weights *w, const char *prefix, const char *name);
/* Mark a key as expected-but-unused (e.g. aliases of a shared LayerNorm). */
void gs_weights_mark_used(gs_weights *w, const char *prefix, const char *name);
/* After all modules bound their tensors: GS_ERR_FORMAT listing every missing
 * or mis-shaped key, every unexpected key under one of `prefixes`
 * (NULL-terminated) and every tensor holding a NaN or Inf ("PATH: tensor X
 * has a non-finite value (NaN) at element 17"); GS_OK otherwise. */
gs_status gs_weights_check(gs_weights *w, const char *const *prefixes);

/* ---- named intermediate tensors ---------------------------------------------- */
/* Forward passes call gs_dump(d, "backbone.block.3", data, ndim, shape) at
 * fixed points (names in tests/golden/da3/README.md); tests compare them in
 * forward order with the reference, `gs infer --dump DIR` writes them. d may
 * be NULL (no cost then). */
typedef struct gs_dump {
    void (*fn)(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape);
    void *ctx;
} gs_dump;
void gs_dump_tensor(const gs_dump *d, const char *name, const float *data, int ndim, ...);

/* ---- progress ------------------------------------------------------------------ */
/* A module calls fn(ctx, done, total) as its forward advances, in its own
 * units (the backbone: blocks, after each one; a head: its cost estimate,
 * after each convolution); done never decreases and the last call of a
 * successful forward has done == total. fn NULL (a zeroed hook) = none.
 * gs/model sets it for the length of one forward. */
typedef struct gs_step_hook {
    void (*fn)(void *ctx, double done, double total);
    void *ctx;
} gs_step_hook;

#ifdef __cplusplus
}
#endif
#endif
