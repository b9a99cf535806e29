/* vit.c - the DA3 DINOv2 backbone on the CPU (see vit.h and
 * docs/da3-architecture.md §3). Everything runs in float32 with the residual
 * stream kept as the reference keeps it; matrix products go through the op
 * layer (gs/ops.h).
 *
 * Memory: local blocks work one view at a time; global blocks need q, k, v
 * and the attention output for all S*T tokens, everything else (LayerNorm,
 * qkv, MLP hidden) stays per view. */
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
/* Below this many elements a loop runs on one thread: waking the team costs
 * more than the work (and much more on a loaded machine). */
#define PAR_MIN ((size_t)1 << 15)

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
    m->patch_w = get(&b, C, 3, p, p, "patch_embed.proj.weight");
    m->patch_b = get(&b, C, 0, 0, 0, "patch_embed.proj.bias");
    for (int i = 0; i < cfg->depth; i++) {
        gs_vit_block *k = &m->blocks[i];
        k->norm1_w = getb(&b, i, "norm1.weight", C, 0);
        k->norm1_b = getb(&b, i, "norm1.bias", C, 0);
        k->qkv_w = getb(&b, i, "attn.qkv.weight", 3 * C, C);
        k->qkv_b = getb(&b, i, "attn.qkv.bias", 3 * C, 0);
        if (cfg->qknorm_start != -1 && i >= cfg->qknorm_start) {
            k->q_norm_w = getb(&b, i, "attn.q_norm.weight", hd, 0);
            k->q_norm_b = getb(&b, i, "attn.q_norm.bias", hd, 0);
            k->k_norm_w = getb(&b, i, "attn.k_norm.weight", hd, 0);
            k->k_norm_b = getb(&b, i, "attn.k_norm.bias", hd, 0);
        }
        k->proj_w = getb(&b, i, "attn.proj.weight", C, C);
        k->proj_b = getb(&b, i, "attn.proj.bias", C, 0);
        k->ls1 = getb(&b, i, "ls1.gamma", C, 0);
        k->norm2_w = getb(&b, i, "norm2.weight", C, 0);
        k->norm2_b = getb(&b, i, "norm2.bias", C, 0);
        if (cfg->swiglu) {
            k->fc1_w = getb(&b, i, "mlp.w12.weight", 2 * hid, C);
            k->fc1_b = getb(&b, i, "mlp.w12.bias", 2 * hid, 0);
            k->fc2_w = getb(&b, i, "mlp.w3.weight", C, hid);
            k->fc2_b = getb(&b, i, "mlp.w3.bias", C, 0);
        } else {
            k->fc1_w = getb(&b, i, "mlp.fc1.weight", hid, C);
            k->fc1_b = getb(&b, i, "mlp.fc1.bias", hid, 0);
            k->fc2_w = getb(&b, i, "mlp.fc2.weight", C, hid);
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
    for (int k = 0; k < 4; k++) {
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

/* ---- forward pieces ------------------------------------------------------------- */

/* Interpolated positional embedding for a ph x pw grid, cached in m->pe:
 * row 0 = class embedding, rows 1.. = bicubic resize of the G x G grid with
 * scale ((ph + 0.1) / G, (pw + 0.1) / G) used inside the kernel. */
static gs_status ensure_pos_embed(gs_vit *m, int ph, int pw) {
    if (m->pe && m->pe_ph == ph && m->pe_pw == pw) return GS_OK;
    const int C = m->cfg.embed_dim, G = m->cfg.pos_grid;
    const size_t P = (size_t)ph * pw;
    free(m->pe);
    m->pe = NULL;
    float *pe = gs_malloc((P + 1) * C, sizeof *pe, "positional embedding");
    if (!pe) return GS_ERR_NOMEM;
    memcpy(pe, m->pos_embed, (size_t)C * sizeof *pe);
    if (ph == G && pw == G) {
        /* the unchanged table (DINOv2 returns it as is for a 518 x 518 input) */
        memcpy(pe + C, m->pos_embed + C, P * C * sizeof *pe);
    } else {
        float *grid = gs_malloc((size_t)G * G * C + P * C, sizeof *grid, "positional embedding resize");
        if (!grid) {
            free(pe);
            return GS_ERR_NOMEM;
        }
        float *res = grid + (size_t)G * G * C;
        gs_transpose_cpu(m->pos_embed + C, 1, (size_t)G * G, (size_t)C, grid); // [C, G, G]
        gs_resize_bicubic_cpu(grid, C, G, G, res, ph, pw, (ph + POS_OFFSET) / G, (pw + POS_OFFSET) / G);
        gs_transpose_cpu(res, 1, (size_t)C, P, pe + C);                         // [P, C]
        free(grid);
    }
    m->pe = pe;
    m->pe_ph = ph, m->pe_pw = pw;
    return GS_OK;
}

/* Patch embedding of one view: img [3, H, W] -> tokens rows 1..P of x_v
 * [T, C] (a 14x14 stride-14 convolution as one product with the patches
 * gathered in (c, u, v) order, the weight's own layout). col is [P, 3 p p]. */
static gs_status patch_embed(const gs_vit *m, const float *img, int H, int W, float *col, float *xv) {
    const int p = m->cfg.patch_size, C = m->cfg.embed_dim, ph = H / p, pw = W / p;
    const int K = 3 * p * p;
#pragma omp parallel for schedule(static) if ((size_t)ph * pw * K > PAR_MIN)
    for (int t = 0; t < ph * pw; t++) {
        const int py = t / pw, px = t % pw;
        float *dst = col + (size_t)t * K;
        for (int c = 0; c < 3; c++)
            for (int u = 0; u < p; u++)
                memcpy(dst + (c * p + u) * p, img + ((size_t)c * H + (size_t)py * p + u) * W + (size_t)px * p,
                       (size_t)p * sizeof *dst);
    }
    return gs_linear_cpu(col, (size_t)ph * pw, K, m->patch_w, m->patch_b, C, xv + C);
}

typedef struct {
    float *y;        // [T, C] LayerNorm output of one view
    float *qkv;      // [T, 3C]
    float *q, *k, *v;// [heads, N, hd], N = S*T
    float *ao;       // [N, C] attention output
    float *tmp;      // [T, C]
    float *hid;      // [T, hid] or [T, 2 hid]
    float *hid2;     // [T, hid] (SwiGLU)
} scratch;

/* x_v += gamma * r over [T, C] */
static void add_scaled(float *x, const float *r, const float *gamma, size_t T, int C) {
#pragma omp parallel for schedule(static) if (T * C > PAR_MIN)
    for (size_t t = 0; t < T; t++)
        for (int c = 0; c < C; c++) x[t * C + c] += r[t * C + c] * gamma[c];
}

/* One transformer block in place on x [S, T, C]. Global: attention over all
 * S*T tokens with positions (gy, gx) [S*T]; local: per view with (ly, lx) [T].
 * Positions are NULL where RoPE does not apply. */
static gs_status vit_block(const gs_vit *m, const gs_vit_block *b, float *x, int S, int T, int global,
                           const int *ly, const int *lx, const int *gy, const int *gx, scratch *w) {
    const int C = m->cfg.embed_dim, H = m->cfg.num_heads, hd = C / H, hid = m->cfg.ffn_hidden;
    const float scale = (float)(1.0 / sqrt((double)hd));
    const int groups = global ? 1 : S, per = global ? S : 1;
    gs_status st = GS_OK;
    for (int g = 0; g < groups; g++) {
        const int n = per * T;
        for (int vi = 0; vi < per; vi++) {
            const float *xv = x + ((size_t)g * per + vi) * T * C;
            gs_layernorm_cpu(xv, w->y, (size_t)T, C, b->norm1_w, b->norm1_b, BLOCK_LN_EPS);
            if ((st = gs_linear_cpu(w->y, (size_t)T, C, b->qkv_w, b->qkv_b, 3 * C, w->qkv)) != GS_OK) return st;
            // [T, 3, heads, hd] -> q/k/v [heads, n, hd] at token offset vi*T
#pragma omp parallel for schedule(static) if (T * (size_t)C * 3 > PAR_MIN)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++) {
                    const size_t dst = ((size_t)h * n + (size_t)vi * T + t) * hd;
                    const float *src = w->qkv + (size_t)t * 3 * C + (size_t)h * hd;
                    memcpy(w->q + dst, src, (size_t)hd * sizeof(float));
                    memcpy(w->k + dst, src + C, (size_t)hd * sizeof(float));
                    memcpy(w->v + dst, src + 2 * C, (size_t)hd * sizeof(float));
                }
        }
        if (b->q_norm_w) {
            gs_layernorm_cpu(w->q, w->q, (size_t)H * n, hd, b->q_norm_w, b->q_norm_b, QK_LN_EPS);
            gs_layernorm_cpu(w->k, w->k, (size_t)H * n, hd, b->k_norm_w, b->k_norm_b, QK_LN_EPS);
        }
        const int *py = global ? gy : ly, *px = global ? gx : lx;
        if (py) {
            gs_rope2d_cpu(w->q, H, n, hd, py, px, ROPE_BASE);
            gs_rope2d_cpu(w->k, H, n, hd, py, px, ROPE_BASE);
        }
        if ((st = gs_attention_cpu(w->q, w->k, w->v, H, n, hd, scale, w->ao)) != GS_OK) return st;
        for (int vi = 0; vi < per; vi++) {
            float *xv = x + ((size_t)g * per + vi) * T * C;
            if ((st = gs_linear_cpu(w->ao + (size_t)vi * T * C, (size_t)T, C, b->proj_w, b->proj_b, C, w->tmp)) !=
                GS_OK)
                return st;
            add_scaled(xv, w->tmp, b->ls1, (size_t)T, C);
        }
    }
    // FFN, token-wise: per view
    for (int s = 0; s < S; s++) {
        float *xv = x + (size_t)s * T * C;
        gs_layernorm_cpu(xv, w->y, (size_t)T, C, b->norm2_w, b->norm2_b, BLOCK_LN_EPS);
        if (m->cfg.swiglu) {
            if ((st = gs_linear_cpu(w->y, (size_t)T, C, b->fc1_w, b->fc1_b, 2 * hid, w->hid)) != GS_OK) return st;
            // hidden = silu(x1) * x2, [x1 | x2] = w12(y)
#pragma omp parallel for schedule(static) if ((size_t)T * hid > PAR_MIN)
            for (int t = 0; t < T; t++) {
                const float *r = w->hid + (size_t)t * 2 * hid;
                float *o = w->hid2 + (size_t)t * hid;
                for (int j = 0; j < hid; j++) {
                    const float a = r[j];
                    o[j] = (float)(a / (1.0 + exp(-(double)a))) * r[hid + j];
                }
            }
            if ((st = gs_linear_cpu(w->hid2, (size_t)T, hid, b->fc2_w, b->fc2_b, C, w->tmp)) != GS_OK) return st;
        } else {
            if ((st = gs_linear_cpu(w->y, (size_t)T, C, b->fc1_w, b->fc1_b, hid, w->hid)) != GS_OK) return st;
            gs_gelu_cpu(w->hid, (size_t)T * hid);
            if ((st = gs_linear_cpu(w->hid, (size_t)T, hid, b->fc2_w, b->fc2_b, C, w->tmp)) != GS_OK) return st;
        }
        add_scaled(xv, w->tmp, b->ls2, (size_t)T, C);
    }
    return GS_OK;
}

/* Output k: feat [S, P, D] and cam_token [S, D] in the original view order
 * (order[j] = original index of internal slot j); only the global half is
 * LayerNorm'ed. tmp holds [P, C]. */
static void write_output(const gs_vit *m, const float *x, const float *local_x, int S, int T, const int *order,
                         float *feat, float *cam, float *tmp) {
    const int C = m->cfg.embed_dim, cat = m->cfg.cat_token, D = cat ? 2 * C : C;
    const size_t P = (size_t)T - 1;
    for (int j = 0; j < S; j++) {
        const int o = order[j];
        const float *xs = x + (size_t)j * T * C, *ls = cat ? local_x + (size_t)j * T * C : NULL;
        float *f = feat + (size_t)o * P * D, *ct = cam + (size_t)o * D;
        if (!cat) {
            memcpy(ct, xs, (size_t)C * sizeof *ct);
            gs_layernorm_cpu(xs + C, f, P, C, m->norm_w, m->norm_b, FINAL_LN_EPS);
            continue;
        }
        memcpy(ct, ls, (size_t)C * sizeof *ct);
        memcpy(ct + C, xs, (size_t)C * sizeof *ct);
        gs_layernorm_cpu(xs + C, tmp, P, C, m->norm_w, m->norm_b, FINAL_LN_EPS);
#pragma omp parallel for schedule(static) if (P * D > PAR_MIN)
        for (size_t t = 0; t < P; t++) {
            memcpy(f + t * D, ls + (t + 1) * C, (size_t)C * sizeof *f);
            memcpy(f + t * D + C, tmp + t * C, (size_t)C * sizeof *f);
        }
    }
}

/* Move views to the internal order [b, 0, .., b-1, b+1, ..] in place. */
static void reorder_views(float *x, int S, size_t view, int b, float *tmp) {
    if (b <= 0) return;
    memcpy(tmp, x + (size_t)b * view, view * sizeof *x);
    memmove(x + view, x, (size_t)b * view * sizeof *x);
    memcpy(x, tmp, view * sizeof *x);
}

static int finite_all(const float *p, size_t n) {
    int ok = 1;
#pragma omp parallel for schedule(static) reduction(&& : ok) if (n > PAR_MIN)
    for (size_t i = 0; i < n; i++) ok = ok && isfinite(p[i]);
    return ok;
}

gs_status gs_vit_forward(gs_vit *m, const float *images, int S, int H, int W, const float *cam_tokens,
                         gs_ref_strategy strategy, const gs_dump *dump, gs_vit_out *out) {
    memset(out, 0, sizeof *out);
    out->ref_index = -1;
    if (!m || !m->blocks) return gs_error(GS_ERR_INVALID, "backbone: model not bound");
    const gs_da3_net_config *cfg = &m->cfg;
    const int p = cfg->patch_size, C = cfg->embed_dim;
    if (!images || S < 1 || S > 4096)
        return gs_error(GS_ERR_INVALID, "backbone: %d views (1..4096 expected)", S);
    if (H < p || W < p || H % p || W % p || H > 65536 || W > 65536)
        return gs_error(GS_ERR_INVALID, "backbone: image size %dx%d must be a positive multiple of the %d-pixel patch",
                        W, H, p);
    if ((unsigned)strategy > GS_REF_SADDLE_SIM_RANGE)
        return gs_error(GS_ERR_INVALID, "backbone: unknown reference-view strategy %d", (int)strategy);
    if (cam_tokens && cfg->alt_start == -1)
        return gs_error(GS_ERR_INVALID, "backbone: camera tokens given, but this model has no camera-token slot "
                                        "(alt_start -1)");
    const int ph = H / p, pw = W / p, P = ph * pw, T = P + 1, D = cfg->cat_token ? 2 * C : C;
    if ((size_t)S * T > ((size_t)1 << 26))
        return gs_error(GS_ERR_INVALID, "backbone: %d views x %d tokens is too many for one forward", S, T);
    const size_t npix = (size_t)S * 3 * H * W, view = (size_t)T * C, N = (size_t)S * T;
    if (!finite_all(images, npix)) return gs_error(GS_ERR_INVALID, "backbone: the input images contain NaN or Inf");
    if (cam_tokens && !finite_all(cam_tokens, (size_t)S * C))
        return gs_error(GS_ERR_INVALID, "backbone: the camera tokens contain NaN or Inf");
    gs_status st = ensure_pos_embed(m, ph, pw);
    if (st != GS_OK) return st;
    gs_dump_tensor(dump, "backbone.pos_embed", m->pe, 2, (long)T, (long)C);

    const int hid = cfg->ffn_hidden, hidw = cfg->swiglu ? 2 * hid : hid;
    const size_t col_sz = (size_t)P * 3 * p * p;
    /* one allocation per role; sizes are bounded above (S*T <= 2^26, C <= 16384), and gs_malloc refuses > 16 GiB */
    float *x = gs_malloc(N * C, sizeof *x, "backbone tokens");
    float *local_x = cfg->cat_token ? gs_malloc(N * C, sizeof *x, "backbone local tokens") : NULL;
    float *y = gs_malloc((size_t)T * C, sizeof *x, "backbone scratch");
    float *qkv = gs_malloc((size_t)T * 3 * C, sizeof *x, "backbone qkv");
    float *q = gs_malloc(N * C * 3, sizeof *x, "backbone q/k/v");
    float *ao = gs_malloc(N * C, sizeof *x, "backbone attention output");
    float *tmp = gs_malloc(view > col_sz ? view : col_sz, sizeof *x, "backbone scratch");
    float *hbuf = gs_malloc((size_t)T * (hidw + (cfg->swiglu ? hid : 0)), sizeof *x, "backbone MLP hidden");
    int *pos = gs_malloc(2 * (size_t)T + 2 * N, sizeof *pos, "backbone positions");
    int *order = gs_malloc((size_t)S, sizeof *order, "backbone view order");
    if (!x || (cfg->cat_token && !local_x) || !y || !qkv || !q || !ao || !tmp || !hbuf || !pos || !order) {
        st = GS_ERR_NOMEM;
        goto done;
    }
    scratch w = {y, qkv, q, q + N * C, q + 2 * N * C, ao, tmp, hbuf, cfg->swiglu ? hbuf + (size_t)T * hidw : NULL};

    // embed: tokens [S, T, C] = [cls | patches] + pos_embed
    for (int s = 0; s < S; s++) {
        float *xv = x + (size_t)s * view;
        memcpy(xv, m->cls_token, (size_t)C * sizeof *xv);
        if ((st = patch_embed(m, images + (size_t)s * 3 * H * W, H, W, tmp, xv)) != GS_OK) goto done;
        gs_add_cpu(xv, m->pe, view);
    }
    gs_dump_tensor(dump, "backbone.embed", x, 3, (long)S, (long)T, (long)C);

    // RoPE positions: local (0,0) then (y+1, x+1); global (0,0) then (1,1), per view
    int *ly = pos, *lx = pos + T, *gy = pos + 2 * T, *gx = gy + N;
    ly[0] = lx[0] = 0;
    for (int t = 0; t < P; t++) ly[1 + t] = t / pw + 1, lx[1 + t] = t % pw + 1;
    for (size_t i = 0; i < N; i++) gy[i] = gx[i] = (i % T) ? 1 : 0;
    for (int s = 0; s < S; s++) order[s] = s;

    int next_out = 0;
    for (int i = 0; i < cfg->depth; i++) {
        const int alt = cfg->alt_start;
        if (alt != -1 && i == alt - 1 && S >= REF_MIN_VIEWS && !cam_tokens) {
            const int bidx = gs_vit_select_reference(x, S, C, view, strategy);
            reorder_views(x, S, view, bidx, tmp);
            /* local_x is rewritten by block i (always local) before any use */
            order[0] = bidx;
            for (int j = 1; j < S; j++) order[j] = j <= bidx ? j - 1 : j;
            out->ref_index = bidx;
            const float fb = (float)bidx;
            gs_dump_tensor(dump, "backbone.ref_index", &fb, 1, 1L);
        }
        if (alt != -1 && i == alt) {
            /* token 0 of every view becomes the camera token (replaced, not
             * added). The reference holds local_x and x as one tensor here
             * (block alt-1 is local), so its in-place write reaches both. */
            for (int s = 0; s < S; s++) {
                const float *ct = cam_tokens ? cam_tokens + (size_t)s * C : m->camera_token + (s ? C : 0);
                memcpy(x + (size_t)s * view, ct, (size_t)C * sizeof *x);
                if (local_x) memcpy(local_x + (size_t)s * view, ct, (size_t)C * sizeof *x);
            }
        }
        const int global = alt != -1 && i >= alt && i % 2 == 1;
        const int rope = cfg->rope_start != -1 && i >= cfg->rope_start;
        st = vit_block(m, &m->blocks[i], x, S, T, global, rope ? ly : NULL, rope ? lx : NULL, rope ? gy : NULL,
                       rope ? gx : NULL, &w);
        if (st != GS_OK) goto done;
        if (!global && local_x) memcpy(local_x, x, N * C * sizeof *x);
        if (dump && dump->fn) {
            char name[48];
            snprintf(name, sizeof name, "backbone.block.%d", i);
            gs_dump_tensor(dump, name, x, 3, (long)S, (long)T, (long)C);
        }
        if (next_out < 4 && i == cfg->out_layers[next_out]) {
            const int k = next_out++;
            out->feat[k] = gs_malloc((size_t)S * P * D, sizeof(float), "backbone features");
            out->cam_token[k] = gs_malloc((size_t)S * D, sizeof(float), "backbone camera tokens");
            if (!out->feat[k] || !out->cam_token[k]) {
                st = GS_ERR_NOMEM;
                goto done;
            }
            write_output(m, x, local_x, S, T, order, out->feat[k], out->cam_token[k], ao);
            if (dump && dump->fn) {
                char name[48];
                snprintf(name, sizeof name, "backbone.feat.%d", k);
                gs_dump_tensor(dump, name, out->feat[k], 3, (long)S, (long)P, (long)D);
                snprintf(name, sizeof name, "backbone.cam_token.%d", k);
                gs_dump_tensor(dump, name, out->cam_token[k], 2, (long)S, (long)D);
            }
        }
    }
    if (out->ref_index < 0) {
        const float none = -1.0f;
        gs_dump_tensor(dump, "backbone.ref_index", &none, 1, 1L);
    }
    out->S = S, out->ph = ph, out->pw = pw, out->P = P, out->D = D;
done:
    free(x), free(local_x), free(y), free(qkv), free(q), free(ao), free(tmp), free(hbuf), free(pos), free(order);
    if (st != GS_OK) {
        const int ref = out->ref_index;
        gs_vit_out_free(out);
        out->ref_index = ref;
    }
    return st;
}
