/* vit.h - the DINOv2 backbone of Depth Anything 3 on the CPU
 * (da3/model/dinov2/vision_transformer.py, docs/da3-architecture.md §3):
 * patch embedding, bicubic positional-embedding interpolation, blocks that
 * alternate per-view (local) and all-view (global) attention with q/k
 * LayerNorm and 2D RoPE, reference-view selection and the camera token, and
 * the four intermediate outputs the heads consume.
 *
 * Usage:
 *   gs_vit vit;
 *   gs_vit_bind(&vit, &cfg.net, &weights, cfg.prefix);      // "model." / "model.da3."
 *   gs_vit_out out;
 *   gs_vit_forward(&ctx, &vit, images, S, H, W, NULL, GS_REF_SADDLE_BALANCED, dump, &out);
 *   ... out.feat[k] [S, P, D], out.cam_token[k] [S, D] ...
 *   gs_vit_out_free(&out);
 *   gs_vit_free(&vit);                                       // before gs_weights_close
 *
 * Parameters point into the gs_weights mapping (nothing is copied); the only
 * state the model owns is the interpolated positional embedding, cached for
 * the last image size (it depends on nothing else). A gs_vit is not safe to
 * run from two threads at once because of that cache.
 *
 * Memory: gs_vit_plan gives the bytes a forward takes from its context's
 * workspace (activations and the ops' scratch); gs_vit_forward takes them
 * from c->ws, or makes an arena of that size itself when c->ws is NULL, and
 * refuses before running when it cannot be had. */
#ifndef GS_BACKBONE_VIT_H
#define GS_BACKBONE_VIT_H

#include "backbone/da3_config.h"
#include "gs/ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reference-view strategies of reference_view_selector.py. saddle_balanced is
 * the API/CLI default; the paper and the benchmarks use first. */
typedef enum {
    GS_REF_SADDLE_BALANCED = 0,
    GS_REF_FIRST = 1,
    GS_REF_MIDDLE = 2,
    GS_REF_SADDLE_SIM_RANGE = 3
} gs_ref_strategy;

/* "saddle_balanced", "first", "middle", "saddle_sim_range" */
const char *gs_ref_strategy_name(gs_ref_strategy s);
gs_status gs_ref_strategy_parse(const char *name, gs_ref_strategy *out);

typedef struct {
    const float *norm1_w, *norm1_b;       // [C]
    gs_wt qkv_w;                          // [3C, C]
    const float *qkv_b;                   // [3C]
    const float *q_norm_w, *q_norm_b;     // [hd]; NULL before qknorm_start
    const float *k_norm_w, *k_norm_b;     // [hd]
    gs_wt proj_w;                         // [C, C]
    const float *proj_b;                  // [C]
    const float *ls1, *ls2;               // [C] LayerScale gammas
    const float *norm2_w, *norm2_b;       // [C]
    /* MLP: fc1 [hid, C] / [hid], fc2 [C, hid] / [C];
     * SwiGLU: w12 [2 hid, C] / [2 hid] (x1 = first half), w3 [C, hid] / [C] */
    gs_wt fc1_w, fc2_w;
    const float *fc1_b, *fc2_b;
} gs_vit_block;

typedef struct {
    gs_da3_net_config cfg;
    const float *cls_token;               // [C]
    const float *camera_token;            // [2, C]; NULL when alt_start == -1
    const float *pos_embed;               // [1 + G*G, C], G = pos_grid
    gs_wt patch_w;                        // [C, 3, p, p] viewed as [C, 3 p p]
    const float *patch_b;                 // [C]
    const float *norm_w, *norm_b;         // [C] final LayerNorm (eps 1e-5)
    gs_vit_block *blocks;                 // [depth]
    /* cache: positional embedding interpolated to a ph x pw grid */
    int pe_ph, pe_pw;
    float *pe;                            // [1 + ph*pw, C]
    gs_step_hook on_block;                // after block i: (i + 1, depth); zero = none
} gs_vit;

typedef struct {
    int S, ph, pw, P, D;                  // P = ph*pw patches, D = 2C with cat_token else C
    float *feat[4];                       // [S, P, D] in the caller's view order
    float *cam_token[4];                  // [S, D] token 0 of each output, un-normalised
    int ref_index;                        // view chosen as reference, -1 when no reordering
    int borrowed;                         // the buffers belong to an arena (gs_vit_out_take)
} gs_vit_out;

/* Fetch every backbone tensor `prefix` + "backbone.pretrained." + name with
 * its exact shape. All tensors are requested before failing, so one error
 * (GS_ERR_FORMAT) lists every missing or mis-shaped key; GS_ERR_INVALID when
 * cfg itself is inconsistent. On failure m is left empty (gs_vit_free safe). */
gs_status gs_vit_bind(gs_vit *m, const gs_da3_net_config *cfg, gs_weights *w, const char *prefix);
void gs_vit_free(gs_vit *m);

/* images [S, 3, H, W] ImageNet-normalised float32, H and W multiples of the
 * patch size; cam_tokens [S, C] (camera-encoder output, replaces the learned
 * camera token and disables reference-view selection) or NULL. Fills out
 * (freed with gs_vit_out_free, also zeroed on failure). dump may be NULL;
 * otherwise it receives backbone.pos_embed, backbone.embed,
 * backbone.block.<i> (internal view order), backbone.ref_index,
 * backbone.feat.<k> and backbone.cam_token.<k>. */
gs_status gs_vit_forward(const gs_ctx *c, gs_vit *m, const float *images, int S, int H, int W,
                         const float *cam_tokens, gs_ref_strategy strategy, const gs_dump *dump, gs_vit_out *out);
/* Workspace bytes of gs_vit_forward for S views of H x W (0 when the sizes
 * are invalid). */
size_t gs_vit_plan(const gs_ctx *c, const gs_vit *m, int S, int H, int W);
void gs_vit_out_free(gs_vit_out *out);
/* The outputs' buffers from an arena (a caller that plans them with its own
 * forward, e.g. gs/model): bytes, and the take; gs_vit_forward_into then
 * fills them, and gs_vit_out_free only forgets them. */
size_t gs_vit_out_bytes(const gs_vit *m, int S, int H, int W);
gs_status gs_vit_out_take(gs_vit_out *out, gs_arena *a, const gs_vit *m, int S, int H, int W);
gs_status gs_vit_forward_into(const gs_ctx *c, gs_vit *m, const float *images, int S, int H, int W,
                              const float *cam_tokens, gs_ref_strategy strategy, const gs_dump *dump,
                              gs_vit_out *out);

/* Estimated cost of block i of a forward of S views of H x W, in FLOP (2 x
 * MAC of the matmuls and the attention, docs/da3-architecture.md §10, plus
 * a per-element term for the memory-bound ops); block 0 includes the patch
 * embedding. For progress reports: the blocks' shares of the backbone's time. */
double gs_vit_block_cost(const gs_vit *m, int S, int H, int W, int i);

/* The view index the strategy selects from the un-normalised token-0 vectors
 * cls [S, C] (exposed for tests; computed in double). */
int gs_vit_select_reference(const float *cls, int S, int C, size_t stride, gs_ref_strategy strategy);

#ifdef __cplusplus
}
#endif
#endif
