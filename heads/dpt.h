/* dpt.h - the three DPT-style dense heads of Depth Anything 3 in one
 * implementation (spec: shared/docs/da3-architecture.md §4):
 *
 *   GS_DPT_DUAL  DualDPT, the depth + ray head of the any-view models:
 *                token LayerNorm, UV embeddings, depth = exp, conf = exp + 1,
 *                and, when asked for, the ray (aux) chain at 8ph x 8pw.
 *   GS_DPT_MONO  DPT of the mono / metric models: no token LN, no UV
 *                embeddings, depth = exp, sky = relu (sky_output_conv2).
 *   GS_DPT_GS    the GSDPT trunk of the 3DGS head: no token LN, UV
 *                embeddings, the images_merger added after upsampling,
 *                38 output channels: 37 raw (channels-last) + sigmoid conf.
 *
 * Weights point into the gs_weights mapping (nothing is copied). Views are
 * processed one at a time, so the F-channel maps at 8ph x 8pw (64 MB per
 * view for F = 256 at 504x378) do not multiply by S; with a dump hook the
 * whole batch runs as one chunk so that every dumped tensor is [S, ...].
 * Every computation is an op of gs/ops/ops.h on the context's backend; the
 * buffers of a chunk come from the context's workspace (gs_dpt_plan bytes;
 * an arena of that size is made when the context has none).
 *
 * A head keeps a cache of the UV embeddings of the last image size, so a
 * head object must not run two forwards at the same time. */
#ifndef GS_HEADS_DPT_H
#define GS_HEADS_DPT_H

#include "backbone/da3_config.h"
#include "gs/core/runtime.h"
#include "gs/ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GS_DPT_DUAL = 0, GS_DPT_MONO = 1, GS_DPT_GS = 2 } gs_dpt_kind;

typedef struct {
    gs_dpt_kind kind;
    int dim_in;            /* D: token width of the 4 features (2C with cat_token) */
    int features;          /* F */
    int out_channels[4];   /* oc[0..3] */
    int sky;               /* MONO only: sky_output_conv2 is present */
} gs_dpt_params;

typedef struct { gs_wt w; const float *b; } gs_dpt_conv;   /* weight view + bias (b may be NULL) */

typedef struct {
    int has_rcu1;          /* refinenet4 has no resConfUnit1 */
    gs_dpt_conv rcu1_c1, rcu1_c2, rcu2_c1, rcu2_c2, out;
} gs_dpt_fusion;

#define GS_DPT_UV_CACHE 8
typedef struct {
    int c, h, w;           /* map size */
    float *pe;             /* [c, h, w], 0.1-scaled */
} gs_dpt_uv;

typedef struct {
    gs_dpt_params p;
    int out_dim;                          /* 2 (DUAL), 1 (MONO), 38 (GS) */
    const float *norm_w, *norm_b;         /* DUAL: head.norm, [D] */
    gs_dpt_conv proj[4];                  /* 1x1 D -> oc[i] */
    gs_dpt_conv resize[4];                /* convT x4, convT x2, (identity), conv 3x3 s2 */
    gs_dpt_conv rn[4];                    /* 3x3 oc[i] -> F, no bias */
    gs_dpt_fusion ref[4], ref_aux[4];     /* refinenet1..4 at index 0..3 */
    gs_dpt_conv out1;                     /* 3x3 F -> F/2 */
    gs_dpt_conv out2a, out2b;             /* 3x3 F/2 -> 32, 1x1 32 -> out_dim */
    gs_dpt_conv sky2a, sky2b;             /* MONO: 3x3 F/2 -> 32, 1x1 32 -> 1 */
    gs_dpt_conv aux1[5];                  /* DUAL: output_conv1_aux.3.{0..4} */
    gs_dpt_conv aux2a, aux2b;             /* DUAL: output_conv2_aux.3.{0,5} */
    const float *aux_ln_w, *aux_ln_b;     /* DUAL: the shared LayerNorm(32) */
    gs_dpt_conv merger[3];                /* GS: images_merger.{0,2,4} */
    int bound;
    /* UV embeddings of the last image size */
    int uv_H, uv_W, n_uv;
    gs_dpt_uv uv[GS_DPT_UV_CACHE];
    /* after each convolution: (cost so far, S x gs_dpt_view_cost); zero = none */
    gs_step_hook on_progress;
} gs_dpt_head;

/* Bind every tensor of the head under `prefix` ("model.head.",
 * "model.gs_head.", "model.da3.head.", ...). All keys are looked up and
 * shape-checked before failing, so one GS_ERR_FORMAT message names every
 * missing or mis-shaped key (the problems also stay recorded in w for
 * gs_weights_check). DUAL accepts the shared aux LayerNorm under any of
 * output_conv2_aux.{0..3}.2 and marks the other aliases used; the unused
 * aux levels 0-2 are shape-checked when present. GS_ERR_INVALID on
 * parameters the head cannot have (F odd, UV channels not a multiple of 4).
 * Initialises *h: gs_dpt_free a head that has run before binding it again. */
gs_status gs_dpt_bind(gs_dpt_head *h, gs_weights *w, const char *prefix, const gs_dpt_params *p);
/* The depth head (gs = 0: net_prefix + "head.") or the GS head (gs = 1:
 * net_prefix + "gs_head.") of one network configuration. */
gs_status gs_dpt_bind_net(gs_dpt_head *h, gs_weights *w, const char *net_prefix, const gs_da3_net_config *cfg,
                          int gs);
/* Free the UV cache (the weights belong to gs_weights). */
void gs_dpt_free(gs_dpt_head *h);

/* Output buffers, allocated by the caller. NULL = not wanted, where allowed.
 * ph = H/14, pw = W/14. */
typedef struct {
    float *depth;        /* DUAL, MONO (required): [S, H, W] */
    float *depth_conf;   /* DUAL (required): [S, H, W], exp + 1 */
    float *sky;          /* MONO: [S, H, W], relu (NULL, or no sky head: not written) */
    float *ray;          /* DUAL: [S, 8ph, 8pw, 6] channels-last (NULL: aux chain skipped) */
    float *ray_conf;     /* DUAL: [S, 8ph, 8pw], exp + 1 (with ray) */
    float *gs_raw;       /* GS (required): [S, H, W, 37] channels-last, linear */
    float *gs_conf;      /* GS (required): [S, H, W], sigmoid */
} gs_dpt_outputs;

/* Run the head on the backbone's 4 features feats[k] [S, P, D] (P = ph*pw,
 * patch tokens only) for images of H x W (multiples of 14). images
 * [S, 3, H, W] (the ImageNet-normalised model input) is needed by GS only.
 * Non-finite features or images are rejected (GS_ERR_INVALID, naming the
 * feature, view and token). Activations follow the reference: exp may
 * overflow to +inf for logits above ~88, as in torch. Dumps head.* (DUAL,
 * MONO) or gs.* (GS) tensors at the names of tests/golden/da3/README.md. */
gs_status gs_dpt_forward(const gs_ctx *c, gs_dpt_head *h, const float *const feats[4], int S, int H, int W,
                         const float *images, const gs_dpt_outputs *out, const gs_dump *d);
/* Workspace bytes of gs_dpt_forward (views one at a time, or all S with a
 * dump hook: dump != 0); ray != 0 when the DUAL ray chain runs. */
size_t gs_dpt_plan(const gs_ctx *c, const gs_dpt_head *h, int S, int H, int W, int ray, int dump);
/* Estimated cost of one view of gs_dpt_forward (ray: with the ray chain),
 * in the units of gs_vit_block_cost: its convolutions' FLOP, weighted to
 * their CPU time, plus a per-element term for its buffers; the head's cost
 * is this times S. For progress reports. */
double gs_dpt_view_cost(const gs_ctx *c, const gs_dpt_head *h, int H, int W, int ray);

#ifdef __cplusplus
}
#endif
#endif
