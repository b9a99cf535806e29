/* vit.c - the DA3 DINOv2 backbone (see vit.h and docs/da3-architecture.md
 * §3), written on the op layer (gs/ops/ops.h): every computation is an op
 * on the context's backend; this file only orders them. Everything runs in
 * float32 with the residual stream kept as the reference keeps it.
 *
 * Memory: one plan (vit_take) for all buffers: local blocks work one view
 * at a time; global blocks need q, k, v and the attention output for all
 * S*T tokens, everything else (LayerNorm, qkv, MLP hidden) stays per view. */
#include "backbone/vit.h"

#include "gs/ops/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ROPE_BASE 100.0f
#define BLOCK_LN_EPS 1e-6f
#define QK_LN_EPS 1e-5f
#define FINAL_LN_EPS 1e-5f
#define POS_OFFSET 0.1 /* interpolate_offset of DINOv2 */
#define REF_MIN_VIEWS 3 /* THRESH_FOR_REF_SELECTION */

static const char *const k_strategy_names[] = {"saddle_balanced", "first", "middle", "saddle_sim_range"};

const char *gs_ref_strategy_name(gs_ref_strategy s) {
    return (unsigned)s < 4 ? k_strategy_names[s] : "unknown";
}

gs_status gs_ref_strategy_parse(const char *name, gs_ref_strategy *out) {
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, k_strategy_names[i])) {
            *out = (gs_ref_strategy)i;
            return GS_OK;
        }
    return gs_error(GS_ERR_INVALID,
                    "reference-view strategy \"%s\" is unknown (saddle_balanced, first, middle, saddle_sim_range)",
                    name ? name : "(null)");
}

/* ---- binding --------------------------------------------------------------------- */

/* the same rules gs_da3_config_load enforces, for configs built in code */
static gs_status check_cfg(const gs_da3_net_config *c) {
    if (c->embed_dim < 1 || c->embed_dim > 16384 || c->num_heads < 1 || c->embed_dim % c->num_heads ||
        (c->embed_dim / c->num_heads) % 2)
        return gs_error(GS_ERR_INVALID, "backbone config: embed_dim %d / num_heads %d is not an even head size",
                        c->embed_dim, c->num_heads);
    if (c->rope_start != -1 && (c->embed_dim / c->num_heads) % 4)
        return gs_error(GS_ERR_INVALID, "backbone config: 2D RoPE needs a head size divisible by 4, not %d",
                        c->embed_dim / c->num_heads);
    if (c->depth < 1 || c->depth > 256 || c->ffn_hidden < 1 || c->ffn_hidden > 131072 || c->patch_size < 1 ||
        c->patch_size > 64 || c->pos_grid < 1 || c->pos_grid > 256)
        return gs_error(GS_ERR_INVALID, "backbone config: depth %d, ffn_hidden %d, patch_size %d, pos_grid %d out of range",
                        c->depth, c->ffn_hidden, c->patch_size, c->pos_grid);
    for (int k = 0; k < 4; k++)
        if (c->out_layers[k] < 0 || c->out_layers[k] >= c->depth || (k && c->out_layers[k] <= c->out_layers[k - 1]))
            return gs_error(GS_ERR_INVALID, "backbone config: out_layers must be increasing blocks of 0..%d",
                            c->depth - 1);
    if (c->alt_start < -1 || c->alt_start >= c->depth || c->qknorm_start < -1 || c->qknorm_start >= c->depth ||
        c->rope_start < -1 || c->rope_start >= c->depth)
        return gs_error(GS_ERR_INVALID, "backbone config: alt/qknorm/rope start must be -1 or a block");
    return GS_OK;
}

typedef struct {
    gs_weights *w;
    const char *pre;
    int missing;
} binder;

/* `name` with shape [d0, d1, d2, d3] (trailing zeros dropped); NULL, recorded
 * in the weights' problem list and counted, when absent or shaped otherwise. */
static const float *get(binder *b, int d0, int d1, int d2, int d3, const char *name) {
    int64_t shape[4] = {d0, d1, d2, d3};
    int ndim = d3 ? 4 : d2 ? 3 : d1 ? 2 : 1;
    const float *p = gs_weights_get(b->w, b->pre, name, ndim, shape);
    if (!p) b->missing++;
    return p;
}

/* blocks.<i>.<what> */
static const float *getb(binder *b, int i, const char *what, int d0, int d1) {
    char name[128];
    snprintf(name, sizeof name, "blocks.%d.%s", i, what);
    return get(b, d0, d1, 0, 0, name);
}

/* blocks.<i>.<what>, a [d0, d1] matrix, as a weight view */
static gs_wt getbw(binder *b, int i, const char *what, int d0, int d1) {
    return gs_wt_f32(getb(b, i, what, d0, d1), 2, d0, d1, 0, 0);
}

gs_status gs_vit_bind(gs_vit *m, const gs_da3_net_config *cfg, gs_weights *w, const char *prefix) {
    memset(m, 0, sizeof *m);
    gs_status st = check_cfg(cfg);
    if (st != GS_OK) return st;
    char pre[128];
    snprintf(pre, sizeof pre, "%sbackbone.pretrained.", prefix ? prefix : "");
    m->cfg = *cfg;
    const int C = cfg->embed_dim, hd = C / cfg->num_heads, G = cfg->pos_grid, p = cfg->patch_size;
    const int hid = cfg->ffn_hidden;
    m->blocks = gs_calloc((size_t)cfg->depth, sizeof *m->blocks, "backbone blocks");
    if (!m->blocks) return GS_ERR_NOMEM;
    binder b = {w, pre, 0};
    m->cls_token = get(&b, 1, 1, C, 0, "cls_token");
    if (cfg->alt_start != -1) m->camera_token = get(&b, 1, 2, C, 0, "camera_token");
    m->pos_embed = get(&b, 1, G * G + 1, C, 0, "pos_embed");
    m->patch_w = gs_wt_f32(get(&b, C, 3, p, p, "patch_embed.proj.weight"), 2, C, 3 * p * p, 0, 0);
    m->patch_b = get(&b, C, 0, 0, 0, "patch_embed.proj.bias");
    for (int i = 0; i < cfg->depth; i++) {
        gs_vit_block *k = &m->blocks[i];
        k->norm1_w = getb(&b, i, "norm1.weight", C, 0);
        k->norm1_b = getb(&b, i, "norm1.bias", C, 0);
        k->qkv_w = getbw(&b, i, "attn.qkv.weight", 3 * C, C);
        k->qkv_b = getb(&b, i, "attn.qkv.bias", 3 * C, 0);
        if (cfg->qknorm_start != -1 && i >= cfg->qknorm_start) {
            k->q_norm_w = getb(&b, i, "attn.q_norm.weight", hd, 0);
            k->q_norm_b = getb(&b, i, "attn.q_norm.bias", hd, 0);
            k->k_norm_w = getb(&b, i, "attn.k_norm.weight", hd, 0);
            k->k_norm_b = getb(&b, i, "attn.k_norm.bias", hd, 0);
        }
        k->proj_w = getbw(&b, i, "attn.proj.weight", C, C);
        k->proj_b = getb(&b, i, "attn.proj.bias", C, 0);
        k->ls1 = getb(&b, i, "ls1.gamma", C, 0);
        k->norm2_w = getb(&b, i, "norm2.weight", C, 0);
        k->norm2_b = getb(&b, i, "norm2.bias", C, 0);
        if (cfg->swiglu) {
            k->fc1_w = getbw(&b, i, "mlp.w12.weight", 2 * hid, C);
            k->fc1_b = getb(&b, i, "mlp.w12.bias", 2 * hid, 0);
            k->fc2_w = getbw(&b, i, "mlp.w3.weight", C, hid);
            k->fc2_b = getb(&b, i, "mlp.w3.bias", C, 0);
        } else {
            k->fc1_w = getbw(&b, i, "mlp.fc1.weight", hid, C);
            k->fc1_b = getb(&b, i, "mlp.fc1.bias", hid, 0);
            k->fc2_w = getbw(&b, i, "mlp.fc2.weight", C, hid);
            k->fc2_b = getb(&b, i, "mlp.fc2.bias", C, 0);
        }
        k->ls2 = getb(&b, i, "ls2.gamma", C, 0);
    }
    m->norm_w = get(&b, C, 0, 0, 0, "norm.weight");
    m->norm_b = get(&b, C, 0, 0, 0, "norm.bias");
    if (b.missing) {
        st = gs_error(GS_ERR_FORMAT, "%s: %d backbone tensor%s missing or mis-shaped (%s):\n%s",
                      w->st.path ? w->st.path : "checkpoint", b.missing, b.missing == 1 ? "" : "s", pre,
                      w->problems ? w->problems : "");
        gs_vit_free(m);
        return st;
    }
    m->pe_ph = m->pe_pw = -1;
    return GS_OK;
}

void gs_vit_free(gs_vit *m) {
    if (!m) return;
    free(m->blocks);
    free(m->pe);
    memset(m, 0, sizeof *m);
}

void gs_vit_out_free(gs_vit_out *o) {
    if (!o) return;
    for (int k = 0; k < 4 && !o->borrowed; k++) {
        free(o->feat[k]);
        free(o->cam_token[k]);
    }
    memset(o, 0, sizeof *o);
}

/* ---- reference view ------------------------------------------------------------- */

/* min-max normalisation of reference_view_selector.py */
static void minmax_norm(double *v, int S) {
    double lo = v[0], hi = v[0];
    for (int s = 1; s < S; s++) lo = v[s] < lo ? v[s] : lo, hi = v[s] > hi ? v[s] : hi;
    for (int s = 0; s < S; s++) v[s] = (v[s] - lo) / (hi - lo + 1e-8);
}

int gs_vit_select_reference(const float *cls, int S, int C, size_t stride, gs_ref_strategy strategy) {
    if (S <= 1 || strategy == GS_REF_FIRST) return 0;
    if (strategy == GS_REF_MIDDLE) return S / 2;
    double *buf = malloc(((size_t)S * C + (size_t)S * S + 4 * (size_t)S) * sizeof *buf);
    if (!buf) return 0; /* a few KiB: nothing else would work either */
    double *hat = buf, *sim = hat + (size_t)S * C, *nrm = sim + (size_t)S * S, *score = nrm + S, *var = score + S,
           *out = var + S;
    for (int s = 0; s < S; s++) {
        const float *c = cls + (size_t)s * stride;
        double ss = 0;
        for (int i = 0; i < C; i++) ss += (double)c[i] * c[i];
        nrm[s] = sqrt(ss);
        const double inv = nrm[s] > 0 ? 1.0 / nrm[s] : 0.0;
        for (int i = 0; i < C; i++) hat[(size_t)s * C + i] = c[i] * inv;
    }
    /* sim [S, S] = hat hat^T - I, the diagonal exactly 0. With no negative
     * similarity (the usual case) saddle_sim_range ties exactly between the
     * two views of the most similar pair; the reference breaks that tie by
     * the float32 rounding of its diagonal (|hat|^2 - 1), gs by taking the
     * first of the two (torch's argmax on an exact tie). */
    for (int a = 0; a < S; a++)
        for (int b = 0; b < S; b++) {
            double d = 0;
            for (int i = 0; i < C && a != b; i++) d += hat[(size_t)a * C + i] * hat[(size_t)b * C + i];
            sim[(size_t)a * S + b] = d;
        }
    int best = 0;
    if (strategy == GS_REF_SADDLE_SIM_RANGE) {
        for (int a = 0; a < S; a++) {
            double lo = sim[(size_t)a * S], hi = lo;
            for (int b = 1; b < S; b++) {
                const double v = sim[(size_t)a * S + b];
                lo = v < lo ? v : lo, hi = v > hi ? v : hi;
            }
            out[a] = hi - lo;
            if (out[a] > out[best]) best = a; /* argmax: first on ties */
        }
    } else {
        for (int a = 0; a < S; a++) {
            double sum = 0, mean = 0, v = 0;
            for (int b = 0; b < S; b++) sum += sim[(size_t)a * S + b];
            score[a] = sum / (S - 1);
            for (int i = 0; i < C; i++) mean += hat[(size_t)a * C + i];
            mean /= C;
            for (int i = 0; i < C; i++) {
                const double d = hat[(size_t)a * C + i] - mean;
                v += d * d;
            }
            var[a] = C > 1 ? v / (C - 1) : 0.0; /* torch.var: unbiased */
        }
        minmax_norm(score, S);
        minmax_norm(nrm, S);
        minmax_norm(var, S);
        for (int a = 0; a < S; a++) {
            out[a] = fabs(score[a] - 0.5) + fabs(nrm[a] - 0.5) + fabs(var[a] - 0.5);
            if (out[a] < out[best]) best = a; /* argmin: first on ties */
        }
    }
    free(buf);
    return best;
}

/* ---- memory plan -------------------------------------------------------------- */

/* Every buffer of a forward, taken from one arena in this order (a counting
 * arena gives the plan). Token arrays are [S, T, C]; q, k, v [heads, S*T, hd]. */
typedef struct {
    float *x, *local_x;      // residual stream, and the last local output (cat_token)
    float *y, *qkv, *tmp;    // one view: LayerNorm out [T, C], [T, 3C], [max(T C, P 3pp)]
    float *q, *k, *v, *ao;   // all views
    float *hid, *hid2;       // MLP hidden of one view [T, hid or 2 hid], SwiGLU product [T, hid]
    float *grid;             // positional-embedding resize scratch [G G C + P C], = q (used before the blocks)
    int *pos;                // RoPE positions: local (y, x) [2 T], global (y, x) [2 S T]
} vit_bufs;

static gs_status vit_take(gs_arena *a, const gs_vit *m, int S, int H, int W, vit_bufs *b) {
    const gs_da3_net_config *cfg = &m->cfg;
    const int p = cfg->patch_size, C = cfg->embed_dim, G = cfg->pos_grid, hid = cfg->ffn_hidden;
    const size_t P = (size_t)(H / p) * (W / p), T = P + 1, N = (size_t)S * T;
    const size_t col = P * 3 * p * p, hidw = cfg->swiglu ? 2 * (size_t)hid : (size_t)hid;
    memset(b, 0, sizeof *b);
    b->x = gs_arena_floats(a, N * C, "backbone tokens");
    if (cfg->cat_token) b->local_x = gs_arena_floats(a, N * C, "backbone local tokens");
    b->y = gs_arena_floats(a, T * C, "backbone LayerNorm output");
    b->qkv = gs_arena_floats(a, T * 3 * C, "backbone qkv");
    b->tmp = gs_arena_floats(a, T * C > col ? T * C : col, "backbone scratch");
    /* q, k, v in one block, which the positional-embedding resize uses as
     * its scratch before the first block */
    const size_t qkv3 = 3 * N * C, grid = (size_t)G * G * C + P * C;
    b->q = gs_arena_floats(a, qkv3 > grid ? qkv3 : grid, "backbone q, k, v");
    b->k = b->q + N * C;
    b->v = b->k + N * C;
    b->grid = b->q;
    b->ao = gs_arena_floats(a, N * C, "backbone attention output");
    b->hid = gs_arena_floats(a, T * hidw, "backbone MLP hidden");
    if (cfg->swiglu) b->hid2 = gs_arena_floats(a, T * hid, "backbone SwiGLU product");
    b->pos = gs_arena_take(a, (2 * T + 2 * N) * sizeof(int), "backbone positions");
    const int ok = b->x && (!cfg->cat_token || b->local_x) && b->y && b->qkv && b->tmp && b->q && b->ao && b->hid &&
                   (!cfg->swiglu || b->hid2) && b->pos;
    return ok ? GS_OK : GS_ERR_NOMEM;
}

/* The largest scratch any op of the forward takes on top of the buffers. */
static size_t vit_op_workspace(const gs_ctx *c, const gs_vit *m, int S, int H, int W) {
    const gs_da3_net_config *cfg = &m->cfg;
    const int p = cfg->patch_size, C = cfg->embed_dim, heads = cfg->num_heads, hd = C / heads;
    const int ph = H / p, pw = W / p, T = ph * pw + 1;
    size_t ws = gs_attention_workspace(c, heads, T, hd);
    if (cfg->alt_start != -1) {
        const size_t g = gs_attention_workspace(c, heads, S * T, hd);
        ws = g > ws ? g : ws;
    }
    if (cfg->rope_start != -1) {
        const size_t r = gs_rope2d_workspace(c, hd, (ph > pw ? ph : pw) + 1); /* positions 0 .. grid + 1 */
        ws = r > ws ? r : ws;
    }
    return ws;
}

static int sizes_ok(const gs_vit *m, int S, int H, int W) {
    const int p = m->cfg.patch_size;
    return S >= 1 && S <= 4096 && H >= p && W >= p && H % p == 0 && W % p == 0 && H <= 65536 && W <= 65536 &&
           (size_t)S * ((size_t)(H / p) * (W / p) + 1) <= ((size_t)1 << 26);
}

size_t gs_vit_plan(const gs_ctx *c, const gs_vit *m, int S, int H, int W) {
    if (!m || !m->blocks || !sizes_ok(m, S, H, W)) return 0;
    gs_arena count;
    gs_arena_counting(&count);
    vit_bufs b;
    if (vit_take(&count, m, S, H, W, &b) != GS_OK) return 0;
    return count.used + gs_arena_round(vit_op_workspace(c, m, S, H, W));
}

/* ---- forward pieces ------------------------------------------------------------- */

/* Interpolated positional embedding for a ph x pw grid, cached in m->pe:
 * row 0 = class embedding, rows 1.. = bicubic resize of the G x G grid with
 * scale ((ph + 0.1) / G, (pw + 0.1) / G) used inside the kernel. grid is
 * scratch of [G G C + P C]. */
static gs_status ensure_pos_embed(const gs_ctx *c, gs_vit *m, int ph, int pw, float *grid) {
    if (m->pe && m->pe_ph == ph && m->pe_pw == pw) return GS_OK;
    const int C = m->cfg.embed_dim, G = m->cfg.pos_grid;
    const size_t P = (size_t)ph * pw;
    free(m->pe);
    m->pe = NULL;
    float *pe = gs_malloc((P + 1) * C, sizeof *pe, "positional embedding");
    if (!pe) return GS_ERR_NOMEM;
    gs_status st = gs_copy2d(c, pe, (size_t)C, m->pos_embed, (size_t)C, 1, (size_t)C);
    if (st == GS_OK && ph == G && pw == G) {
        /* the unchanged table (DINOv2 returns it as is for a 518 x 518 input) */
        st = gs_copy2d(c, pe + C, P * C, m->pos_embed + C, P * C, 1, P * C);
    } else if (st == GS_OK) {
        float *res = grid + (size_t)G * G * C;
        st = gs_transpose(c, m->pos_embed + C, 1, (size_t)G * G, (size_t)C, grid);   // [C, G, G]
        if (st == GS_OK)
            st = gs_resize_bicubic(c, grid, C, G, G, res, ph, pw, (ph + POS_OFFSET) / G, (pw + POS_OFFSET) / G);
        if (st == GS_OK) st = gs_transpose(c, res, 1, (size_t)C, P, pe + C);         // [P, C]
    }
    if (st != GS_OK) {
        free(pe);
        return st;
    }
    m->pe = pe;
    m->pe_ph = ph, m->pe_pw = pw;
    return GS_OK;
}

/* Tokens of view s: [cls | patch embedding] + positional embedding, into
 * x_v [T, C] (the 14x14 stride-14 convolution as one product over the
 * patches gathered in the weight's (c, u, v) order). */
static gs_status embed_view(const gs_ctx *c, const gs_vit *m, const float *img, int H, int W, float *col, float *xv) {
    const int p = m->cfg.patch_size, C = m->cfg.embed_dim;
    const size_t P = (size_t)(H / p) * (W / p);
    gs_status st = gs_copy2d(c, xv, (size_t)C, m->cls_token, (size_t)C, 1, (size_t)C);
    if (st == GS_OK) st = gs_patchify(c, img, H, W, p, col);
    if (st == GS_OK) st = gs_linear(c, col, P, 3 * p * p, &m->patch_w, m->patch_b, C, xv + C);
    if (st == GS_OK) st = gs_add(c, xv, m->pe, (P + 1) * C, 1);
    return st;
}

/* Attention half of a block in place on x [S, T, C]: views in groups of
 * `per` (all S for a global block, 1 for a local one), q/k LayerNorm and
 * RoPE (positions py/px, NULL where it does not apply), projection and
 * LayerScale residual. */
static gs_status attn_half(const gs_ctx *c, const gs_vit *m, const gs_vit_block *b, float *x, int S, int T, int per,
                           const int *py, const int *px, vit_bufs *w) {
    const int C = m->cfg.embed_dim, H = m->cfg.num_heads, hd = C / H;
    const float scale = (float)(1.0 / sqrt((double)hd));
    const int n = per * T;
    gs_status st = GS_OK;
    for (int g = 0; g < S / per && st == GS_OK; g++) {
        for (int vi = 0; vi < per && st == GS_OK; vi++) {
            const float *xv = x + ((size_t)g * per + vi) * T * C;
            st = gs_layernorm(c, xv, w->y, (size_t)T, C, b->norm1_w, b->norm1_b, BLOCK_LN_EPS);
            if (st == GS_OK) st = gs_linear(c, w->y, (size_t)T, C, &b->qkv_w, b->qkv_b, 3 * C, w->qkv);
            if (st == GS_OK) st = gs_split_heads(c, w->qkv, T, H, hd, n, vi * T, w->q, w->k, w->v);
        }
        if (st == GS_OK && b->q_norm_w) {
            st = gs_layernorm(c, w->q, w->q, (size_t)H * n, hd, b->q_norm_w, b->q_norm_b, QK_LN_EPS);
            if (st == GS_OK) st = gs_layernorm(c, w->k, w->k, (size_t)H * n, hd, b->k_norm_w, b->k_norm_b, QK_LN_EPS);
        }
        if (st == GS_OK && py) {
            st = gs_rope2d(c, w->q, H, n, hd, py, px, ROPE_BASE);
            if (st == GS_OK) st = gs_rope2d(c, w->k, H, n, hd, py, px, ROPE_BASE);
        }
        if (st == GS_OK) st = gs_attention(c, w->q, w->k, w->v, H, n, hd, scale, w->ao);
        for (int vi = 0; vi < per && st == GS_OK; vi++) {
            float *xv = x + ((size_t)g * per + vi) * T * C;
            st = gs_linear(c, w->ao + (size_t)vi * T * C, (size_t)T, C, &b->proj_w, b->proj_b, C, w->tmp);
            if (st == GS_OK) st = gs_add_scaled(c, xv, w->tmp, b->ls1, (size_t)T, C);
        }
    }
    return st;
}

/* FFN half of a block, token-wise, one view at a time. */
static gs_status ffn_half(const gs_ctx *c, const gs_vit *m, const gs_vit_block *b, float *x, int S, int T,
                          vit_bufs *w) {
    const int C = m->cfg.embed_dim, hid = m->cfg.ffn_hidden;
    gs_status st = GS_OK;
    for (int s = 0; s < S && st == GS_OK; s++) {
        float *xv = x + (size_t)s * T * C;
        st = gs_layernorm(c, xv, w->y, (size_t)T, C, b->norm2_w, b->norm2_b, BLOCK_LN_EPS);
        if (st == GS_OK && m->cfg.swiglu) {
            // hidden = silu(x1) * x2, [x1 | x2] = w12(y)
            st = gs_linear(c, w->y, (size_t)T, C, &b->fc1_w, b->fc1_b, 2 * hid, w->hid);
            if (st == GS_OK) st = gs_swiglu(c, w->hid, (size_t)T, hid, w->hid2);
            if (st == GS_OK) st = gs_linear(c, w->hid2, (size_t)T, hid, &b->fc2_w, b->fc2_b, C, w->tmp);
        } else if (st == GS_OK) {
            st = gs_linear(c, w->y, (size_t)T, C, &b->fc1_w, b->fc1_b, hid, w->hid);
            if (st == GS_OK) st = gs_unary(c, GS_UNARY_GELU, w->hid, w->hid, (size_t)T * hid);
            if (st == GS_OK) st = gs_linear(c, w->hid, (size_t)T, hid, &b->fc2_w, b->fc2_b, C, w->tmp);
        }
        if (st == GS_OK) st = gs_add_scaled(c, xv, w->tmp, b->ls2, (size_t)T, C);
    }
    return st;
}

/* Output k: feat [S, P, D] and cam_token [S, D] in the original view order
 * (order[j] = original index of internal slot j); only the global half is
 * LayerNorm'ed. tmp holds [P, C]. */
static gs_status write_output(const gs_ctx *c, const gs_vit *m, const float *x, const float *local_x, int S, int T,
                              const int *order, float *feat, float *cam, float *tmp) {
    const int C = m->cfg.embed_dim, cat = m->cfg.cat_token, D = cat ? 2 * C : C;
    const size_t P = (size_t)T - 1;
    gs_status st = GS_OK;
    for (int j = 0; j < S && st == GS_OK; j++) {
        const int o = order[j];
        const float *xs = x + (size_t)j * T * C, *ls = cat ? local_x + (size_t)j * T * C : NULL;
        float *f = feat + (size_t)o * P * D, *ct = cam + (size_t)o * D;
        if (!cat) {
            st = gs_copy2d(c, ct, (size_t)C, xs, (size_t)C, 1, (size_t)C);
            if (st == GS_OK) st = gs_layernorm(c, xs + C, f, P, C, m->norm_w, m->norm_b, FINAL_LN_EPS);
            continue;
        }
        st = gs_copy2d(c, ct, (size_t)C, ls, (size_t)C, 1, (size_t)C);
        if (st == GS_OK) st = gs_copy2d(c, ct + C, (size_t)C, xs, (size_t)C, 1, (size_t)C);
        if (st == GS_OK) st = gs_layernorm(c, xs + C, tmp, P, C, m->norm_w, m->norm_b, FINAL_LN_EPS);
        if (st == GS_OK) st = gs_copy2d(c, f, (size_t)D, ls + C, (size_t)C, P, (size_t)C);
        if (st == GS_OK) st = gs_copy2d(c, f + C, (size_t)D, tmp, (size_t)C, P, (size_t)C);
    }
    return st;
}

/* Move views to the internal order [b, 0, .., b-1, b+1, ..]: view b to
 * tmp, views 0..b-1 one slot up (from the last, so that no copy overlaps
 * its source), tmp to slot 0. */
static gs_status reorder_views(const gs_ctx *c, float *x, size_t view, int b, float *tmp) {
    gs_status st = gs_copy2d(c, tmp, view, x + (size_t)b * view, view, 1, view);
    for (int j = b - 1; j >= 0 && st == GS_OK; j--) st = gs_copy2d(c, x + (size_t)(j + 1) * view, view, x + (size_t)j * view, view, 1, view);
    if (st == GS_OK) st = gs_copy2d(c, x, view, tmp, view, 1, view);
    return st;
}

static gs_status check_finite(const gs_ctx *c, const float *x, size_t n, const char *what) {
    size_t at = 0;
    gs_status st = gs_find_nonfinite(c, x, n, &at);
    if (st == GS_OK && at < n) return gs_error(GS_ERR_INVALID, "backbone: %s contain NaN or Inf", what);
    return st;
}

/* RoPE positions into pos (host setup, then copied to the context's
 * memory): local (0,0) then (y+1, x+1); global (0,0) then (1,1), per view. */
static gs_status rope_positions(const gs_ctx *c, int S, int T, int pw, int *pos) {
    const size_t N = (size_t)S * T, n = 2 * (size_t)T + 2 * N;
    int *h = gs_malloc(n, sizeof *h, "backbone positions");
    if (!h) return GS_ERR_NOMEM;
    int *ly = h, *lx = h + T, *gy = h + 2 * T, *gx = gy + N;
    ly[0] = lx[0] = 0;
    for (int t = 0; t < T - 1; t++) ly[1 + t] = t / pw + 1, lx[1 + t] = t % pw + 1;
    for (size_t i = 0; i < N; i++) gy[i] = gx[i] = (i % T) ? 1 : 0;
    gs_status st = gs_ctx_upload(c, pos, h, n * sizeof *h);
    free(h);
    return st;
}

static void dump_block(const gs_dump *dump, const char *fmt, int i, const float *x, int ndim, long a, long b, long cc) {
    if (!dump || !dump->fn) return;
    char name[48];
    snprintf(name, sizeof name, fmt, i);
    if (ndim == 3) gs_dump_tensor(dump, name, x, 3, a, b, cc);
    else gs_dump_tensor(dump, name, x, 2, a, b);
}

/* Before block alt-1 runs on >= 3 views without user cameras: choose the
 * reference view from the token-0 vectors and move it to slot 0. */
static gs_status select_reference(const gs_ctx *c, const gs_vit *m, float *x, int S, size_t view,
                                  gs_ref_strategy strategy, int *order, float *tmp, gs_vit_out *out,
                                  const gs_dump *dump) {
    const int C = m->cfg.embed_dim;
    float *cls = gs_malloc((size_t)S * C, sizeof *cls, "reference-view tokens");
    if (!cls) return GS_ERR_NOMEM;
    gs_status st = GS_OK;
    for (int s = 0; s < S && st == GS_OK; s++)
        st = gs_ctx_download(c, cls + (size_t)s * C, x + (size_t)s * view, (size_t)C * sizeof *cls);
    const int bidx = st == GS_OK ? gs_vit_select_reference(cls, S, C, (size_t)C, strategy) : 0;
    free(cls);
    if (st == GS_OK && bidx > 0) st = reorder_views(c, x, view, bidx, tmp);
    /* local_x is rewritten by block alt-1 (always local) before any use */
    order[0] = bidx;
    for (int j = 1; j < S; j++) order[j] = j <= bidx ? j - 1 : j;
    out->ref_index = bidx;
    const float fb = (float)bidx;
    gs_dump_tensor(dump, "backbone.ref_index", &fb, 1, 1L);
    return st;
}

/* At block alt: token 0 of every view becomes the camera token (replaced,
 * not added). The reference holds local_x and x as one tensor here (block
 * alt-1 is local), so its in-place write reaches both. */
static gs_status set_camera_tokens(const gs_ctx *c, const gs_vit *m, float *x, float *local_x, int S, size_t view,
                                   const float *cam_tokens) {
    const size_t C = (size_t)m->cfg.embed_dim;
    gs_status st = GS_OK;
    for (int s = 0; s < S && st == GS_OK; s++) {
        const float *ct = cam_tokens ? cam_tokens + (size_t)s * C : m->camera_token + (s ? C : 0);
        st = gs_copy2d(c, x + (size_t)s * view, C, ct, C, 1, C);
        if (st == GS_OK && local_x) st = gs_copy2d(c, local_x + (size_t)s * view, C, ct, C, 1, C);
    }
    return st;
}

static gs_status check_forward_args(const gs_vit *m, const float *images, int S, int H, int W,
                                    const float *cam_tokens, gs_ref_strategy strategy) {
    if (!m || !m->blocks) return gs_error(GS_ERR_INVALID, "backbone: model not bound");
    const int p = m->cfg.patch_size;
    if (!images || S < 1 || S > 4096) return gs_error(GS_ERR_INVALID, "backbone: %d views (1..4096 expected)", S);
    if (H < p || W < p || H % p || W % p || H > 65536 || W > 65536)
        return gs_error(GS_ERR_INVALID, "backbone: image size %dx%d must be a positive multiple of the %d-pixel patch",
                        W, H, p);
    if ((unsigned)strategy > GS_REF_SADDLE_SIM_RANGE)
        return gs_error(GS_ERR_INVALID, "backbone: unknown reference-view strategy %d", (int)strategy);
    if (cam_tokens && m->cfg.alt_start == -1)
        return gs_error(GS_ERR_INVALID, "backbone: camera tokens given, but this model has no camera-token slot "
                                        "(alt_start -1)");
    if (!sizes_ok(m, S, H, W))
        return gs_error(GS_ERR_INVALID, "backbone: %d views of %dx%d are too many tokens for one forward", S, W, H);
    return GS_OK;
}

/* The blocks, with the reference-view and camera-token steps and the four
 * outputs; order[] is the internal view order. */
static gs_status run_blocks(const gs_ctx *c, gs_vit *m, int S, int T, const float *cam_tokens,
                            gs_ref_strategy strategy, vit_bufs *w, int *order, const gs_dump *dump, gs_vit_out *out) {
    const gs_da3_net_config *cfg = &m->cfg;
    const int C = cfg->embed_dim, D = cfg->cat_token ? 2 * C : C;
    const size_t view = (size_t)T * C, N = (size_t)S * T, P = (size_t)T - 1;
    const int *ly = w->pos, *lx = w->pos + T, *gy = w->pos + 2 * T, *gx = gy + N;
    gs_status st = GS_OK;
    int next_out = 0;
    for (int i = 0; i < cfg->depth && st == GS_OK; i++) {
        const int alt = cfg->alt_start;
        if (alt != -1 && i == alt - 1 && S >= REF_MIN_VIEWS && !cam_tokens)
            st = select_reference(c, m, w->x, S, view, strategy, order, w->tmp, out, dump);
        if (st == GS_OK && alt != -1 && i == alt) st = set_camera_tokens(c, m, w->x, w->local_x, S, view, cam_tokens);
        const int global = alt != -1 && i >= alt && i % 2 == 1;
        const int rope = cfg->rope_start != -1 && i >= cfg->rope_start;
        const int *py = rope ? (global ? gy : ly) : NULL, *px = rope ? (global ? gx : lx) : NULL;
        if (st == GS_OK) st = attn_half(c, m, &m->blocks[i], w->x, S, T, global ? S : 1, py, px, w);
        if (st == GS_OK) st = ffn_half(c, m, &m->blocks[i], w->x, S, T, w);
        if (st == GS_OK && !global && w->local_x) st = gs_copy2d(c, w->local_x, N * C, w->x, N * C, 1, N * C);
        if (st != GS_OK) break;
        dump_block(dump, "backbone.block.%d", i, w->x, 3, (long)S, (long)T, (long)C);
        if (next_out < 4 && i == cfg->out_layers[next_out]) {
            const int k = next_out++;
            st = write_output(c, m, w->x, w->local_x, S, T, order, out->feat[k], out->cam_token[k], w->ao);
            dump_block(dump, "backbone.feat.%d", k, out->feat[k], 3, (long)S, (long)P, (long)D);
            dump_block(dump, "backbone.cam_token.%d", k, out->cam_token[k], 2, (long)S, (long)D, 0);
        }
        if (st == GS_OK && m->on_block.fn) m->on_block.fn(m->on_block.ctx, i + 1, cfg->depth);
    }
    return st;
}

/* The weight of one element through a memory-bound op (LayerNorm, RoPE,
 * GELU, residual adds, softmax) in gs_vit_block_cost, relative to one FLOP
 * of a matmul (the attention's FLOP count as the linears'). With it the
 * blocks' estimates track CPU time: measured per block with da3-small,
 * -base and -large at 504x378 and 280x210, 1 to 4 views. */
#define COST_ELEM 8.0

double gs_vit_block_cost(const gs_vit *m, int S, int H, int W, int i) {
    if (!m || !sizes_ok(m, S, H, W) || i < 0 || i >= m->cfg.depth) return 0.0;
    const gs_da3_net_config *cfg = &m->cfg;
    const double C = cfg->embed_dim, hid = cfg->ffn_hidden, heads = cfg->num_heads, p = cfg->patch_size;
    const double P = (double)(H / cfg->patch_size) * (W / cfg->patch_size), T = P + 1, N = S * T;
    const int alt = cfg->alt_start, global = alt != -1 && i >= alt && i % 2 == 1;
    /* qkv 6C^2 + proj 2C^2, MLP 4 C hid or SwiGLU 6 C hid, per token */
    const double linear = N * (8.0 * C * C + (cfg->swiglu ? 6.0 : 4.0) * C * hid);
    /* QK^T + AV over the view (local) or all views (global), and the softmax */
    const double span = global ? N : T;
    const double attn = 4.0 * N * span * C, scores = heads * N * span;
    /* two LayerNorms, qkv split, q/k norm and RoPE, adds: ~16 C per token, and the hidden activation */
    const double elems = N * (16.0 * C + (cfg->swiglu ? 3.0 : 2.0) * hid) + scores;
    double cost = linear + attn + COST_ELEM * elems;
    if (i == 0) cost += S * (2.0 * 3.0 * p * p * C * P + COST_ELEM * 2.0 * (3.0 * p * p + C) * P); /* patch embedding */
    for (int k = 0; k < 4; k++)
        if (cfg->out_layers[k] == i) cost += COST_ELEM * 4.0 * N * C; /* the output's LayerNorm and copies */
    return cost;
}

size_t gs_vit_out_bytes(const gs_vit *m, int S, int H, int W) {
    if (!m || !m->blocks || !sizes_ok(m, S, H, W)) return 0;
    const int p = m->cfg.patch_size, C = m->cfg.embed_dim, D = m->cfg.cat_token ? 2 * C : C;
    const size_t P = (size_t)(H / p) * (W / p);
    return 4 * (gs_arena_round((size_t)S * P * D * sizeof(float)) + gs_arena_round((size_t)S * D * sizeof(float)));
}

gs_status gs_vit_out_take(gs_vit_out *out, gs_arena *a, const gs_vit *m, int S, int H, int W) {
    memset(out, 0, sizeof *out);
    out->ref_index = -1;
    if (!m || !m->blocks || !sizes_ok(m, S, H, W))
        return gs_error(GS_ERR_INVALID, "backbone: no outputs for %d views of %dx%d", S, W, H);
    const int p = m->cfg.patch_size, C = m->cfg.embed_dim, D = m->cfg.cat_token ? 2 * C : C;
    const size_t P = (size_t)(H / p) * (W / p);
    out->borrowed = 1;
    for (int k = 0; k < 4; k++) {
        out->feat[k] = gs_arena_floats(a, (size_t)S * P * D, "backbone features");
        out->cam_token[k] = gs_arena_floats(a, (size_t)S * D, "backbone camera tokens");
        if (!out->feat[k] || !out->cam_token[k]) return GS_ERR_NOMEM;
    }
    return GS_OK;
}

gs_status gs_vit_forward(const gs_ctx *c, gs_vit *m, const float *images, int S, int H, int W,
                         const float *cam_tokens, gs_ref_strategy strategy, const gs_dump *dump, gs_vit_out *out) {
    memset(out, 0, sizeof *out);
    out->ref_index = -1;
    gs_status st = check_forward_args(m, images, S, H, W, cam_tokens, strategy);
    if (st != GS_OK) return st;
    const int p = m->cfg.patch_size, C = m->cfg.embed_dim, D = m->cfg.cat_token ? 2 * C : C;
    const size_t P = (size_t)(H / p) * (W / p);
    for (int k = 0; k < 4; k++) {
        out->feat[k] = gs_malloc((size_t)S * P * D, sizeof(float), "backbone features");
        out->cam_token[k] = gs_malloc((size_t)S * D, sizeof(float), "backbone camera tokens");
        if (!out->feat[k] || !out->cam_token[k]) {
            gs_vit_out_free(out);
            return GS_ERR_NOMEM;
        }
    }
    st = gs_vit_forward_into(c, m, images, S, H, W, cam_tokens, strategy, dump, out);
    if (st != GS_OK) {
        const int ref = out->ref_index;
        gs_vit_out_free(out);
        out->ref_index = ref;
    }
    return st;
}

gs_status gs_vit_forward_into(const gs_ctx *c, gs_vit *m, const float *images, int S, int H, int W,
                              const float *cam_tokens, gs_ref_strategy strategy, const gs_dump *dump,
                              gs_vit_out *out) {
    out->ref_index = -1;
    gs_status st = check_forward_args(m, images, S, H, W, cam_tokens, strategy);
    if (st != GS_OK) return st;
    for (int k = 0; k < 4; k++)
        if (!out->feat[k] || !out->cam_token[k]) return gs_error(GS_ERR_INVALID, "backbone: output %d has no buffer", k);
    const gs_da3_net_config *cfg = &m->cfg;
    const int p = cfg->patch_size, C = cfg->embed_dim;
    const int ph = H / p, pw = W / p, P = ph * pw, T = P + 1, D = cfg->cat_token ? 2 * C : C;
    /* the whole plan is had before anything runs */
    gs_ctx lc;
    gs_arena own;
    if ((st = gs_ctx_with_workspace(c, gs_vit_plan(c, m, S, H, W), "backbone workspace", &lc, &own)) != GS_OK)
        return st;
    const size_t mark = gs_arena_mark(lc.ws);
    vit_bufs w;
    int *order = gs_malloc((size_t)S, sizeof *order, "backbone view order");
    if (!order || (st = vit_take(lc.ws, m, S, H, W, &w)) != GS_OK) {
        st = order ? st : GS_ERR_NOMEM;
        goto done;
    }
    if ((st = check_finite(&lc, images, (size_t)S * 3 * H * W, "the input images")) != GS_OK) goto done;
    if (cam_tokens && (st = check_finite(&lc, cam_tokens, (size_t)S * C, "the camera tokens")) != GS_OK) goto done;
    if ((st = ensure_pos_embed(&lc, m, ph, pw, w.grid)) != GS_OK) goto done;
    gs_dump_tensor(dump, "backbone.pos_embed", m->pe, 2, (long)T, (long)C);
    for (int s = 0; s < S && st == GS_OK; s++)
        st = embed_view(&lc, m, images + (size_t)s * 3 * H * W, H, W, w.tmp, w.x + (size_t)s * T * C);
    if (st == GS_OK) st = rope_positions(&lc, S, T, pw, w.pos);
    if (st != GS_OK) goto done;
    gs_dump_tensor(dump, "backbone.embed", w.x, 3, (long)S, (long)T, (long)C);
    for (int s = 0; s < S; s++) order[s] = s;
    if ((st = run_blocks(&lc, m, S, T, cam_tokens, strategy, &w, order, dump, out)) != GS_OK) goto done;
    if (out->ref_index < 0) {
        const float none = -1.0f;
        gs_dump_tensor(dump, "backbone.ref_index", &none, 1, 1L);
    }
    out->S = S, out->ph = ph, out->pw = pw, out->P = P, out->D = D;
done:
    free(order);
    gs_arena_release(lc.ws, mark);
    gs_arena_destroy(&own);
    return st;
}
