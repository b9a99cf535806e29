/* dpt.c - DualDPT / DPT / GSDPT heads of Depth Anything 3 (see dpt.h and
 * da3-architecture.md §4): binding of the official checkpoint keys and the
 * CPU forward, one view at a time.
 *
 * One reordering against the reference, exact in real arithmetic: each
 * fusion block applies its 1x1 out_conv BEFORE the align_corners bilinear
 * upsample instead of after it. Both are linear and the bilinear weights of
 * every output pixel sum to 1, so conv1x1(up(y)) == up(conv1x1(y)); doing
 * the conv at the lower resolution saves 3/4 of its work (refinenet1's
 * out_conv at 8ph x 8pw is F*F*64*ph*pw MACs per chain and view) and one
 * full-size buffer. The difference is float rounding (~1e-7 relative). */
#include "heads/dpt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs/ops/ops.h"

#define LN_EPS 1e-5f

/* ---- binding ------------------------------------------------------------------ */

typedef struct {
    gs_weights *w;
    const char *prefix;
} binder;

static const float *get(binder *b, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static const float *get(binder *b, int ndim, const int64_t *shape, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return gs_weights_get(b->w, b->prefix, name, ndim, shape);
}

/* `name`.weight [cout, cin, k, k] (+ `name`.bias [cout]) */
static void bind_conv(binder *b, gs_dpt_conv *c, int cout, int cin, int k, int bias, const char *name) {
    const int64_t ws[4] = {cout, cin, k, k}, bs[1] = {cout};
    c->w = gs_wt_f32(get(b, 4, ws, "%s.weight", name), 4, cout, cin, k, k);
    c->b = bias ? get(b, 1, bs, "%s.bias", name) : NULL;
}

static void bind_fusion(binder *b, gs_dpt_fusion *f, int F, int k, const char *suffix) {
    char name[128];
    f->has_rcu1 = k != 4;
    if (f->has_rcu1) {
        snprintf(name, sizeof name, "scratch.refinenet%d%s.resConfUnit1.conv1", k, suffix);
        bind_conv(b, &f->rcu1_c1, F, F, 3, 1, name);
        snprintf(name, sizeof name, "scratch.refinenet%d%s.resConfUnit1.conv2", k, suffix);
        bind_conv(b, &f->rcu1_c2, F, F, 3, 1, name);
    }
    snprintf(name, sizeof name, "scratch.refinenet%d%s.resConfUnit2.conv1", k, suffix);
    bind_conv(b, &f->rcu2_c1, F, F, 3, 1, name);
    snprintf(name, sizeof name, "scratch.refinenet%d%s.resConfUnit2.conv2", k, suffix);
    bind_conv(b, &f->rcu2_c2, F, F, 3, 1, name);
    snprintf(name, sizeof name, "scratch.refinenet%d%s.out_conv", k, suffix);
    bind_conv(b, &f->out, F, F, 1, 1, name);
}

/* Shape-check a conv that the forward never uses (aux levels 0-2), only
 * when it is in the file: the reference computes and discards them. */
static void check_unused_conv(binder *b, int cout, int cin, int k, const char *name) {
    char key[256];
    snprintf(key, sizeof key, "%s.weight", name);
    if (!gs_weights_has(b->w, b->prefix, key)) return;
    snprintf(key, sizeof key, "%s.bias", name);
    const int bias = gs_weights_has(b->w, b->prefix, key);
    gs_dpt_conv c;
    bind_conv(b, &c, cout, cin, k, bias, name);
}

gs_status gs_dpt_bind(gs_dpt_head *h, gs_weights *w, const char *prefix, const gs_dpt_params *p) {
    memset(h, 0, sizeof *h);
    if (!w || !prefix || !p) return gs_error(GS_ERR_INVALID, "dpt head: missing weights, prefix or parameters");
    const int F = p->features, D = p->dim_in;
    if (p->kind < GS_DPT_DUAL || p->kind > GS_DPT_GS)
        return gs_error(GS_ERR_INVALID, "%s: unknown head kind %d", prefix, (int)p->kind);
    if (F < 2 || F % 2 || D < 1 || F > (1 << 16) || D > (1 << 20))
        return gs_error(GS_ERR_INVALID, "%s: bad head sizes (features %d, dim_in %d)", prefix, F, D);
    for (int i = 0; i < 4; i++)
        if (p->out_channels[i] < 1 || p->out_channels[i] > (1 << 16))
            return gs_error(GS_ERR_INVALID, "%s: bad out_channels[%d] = %d", prefix, i, p->out_channels[i]);
    if (p->kind != GS_DPT_MONO) {
        /* the UV embedding splits its channels in 4 sin/cos blocks */
        for (int i = 0; i < 4; i++)
            if (p->out_channels[i] % 4)
                return gs_error(GS_ERR_INVALID, "%s: out_channels[%d] = %d is not a multiple of 4 (UV embedding)",
                                prefix, i, p->out_channels[i]);
        if ((F / 2) % 4)
            return gs_error(GS_ERR_INVALID, "%s: features/2 = %d is not a multiple of 4 (UV embedding)", prefix,
                            F / 2);
    }
    if (p->kind == GS_DPT_GS && F % 8)
        return gs_error(GS_ERR_INVALID, "%s: GS features %d is not a multiple of 8 (images_merger)", prefix, F);
    h->p = *p;
    h->out_dim = p->kind == GS_DPT_DUAL ? 2 : p->kind == GS_DPT_MONO ? 1 : 38;
    const int *oc = p->out_channels;
    const int before = w->n_problems;
    binder b = {w, prefix};
    char name[128];

    if (p->kind == GS_DPT_DUAL) {
        const int64_t s[1] = {D};
        h->norm_w = get(&b, 1, s, "norm.weight");
        h->norm_b = get(&b, 1, s, "norm.bias");
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "projects.%d", i);
        bind_conv(&b, &h->proj[i], oc[i], D, 1, 1, name);
    }
    {
        const int64_t t0[4] = {oc[0], oc[0], 4, 4}, t1[4] = {oc[1], oc[1], 2, 2}, b0[1] = {oc[0]}, b1[1] = {oc[1]};
        h->resize[0].w = gs_wt_f32(get(&b, 4, t0, "resize_layers.0.weight"), 4, oc[0], oc[0], 4, 4);
        h->resize[0].b = get(&b, 1, b0, "resize_layers.0.bias");
        h->resize[1].w = gs_wt_f32(get(&b, 4, t1, "resize_layers.1.weight"), 4, oc[1], oc[1], 2, 2);
        h->resize[1].b = get(&b, 1, b1, "resize_layers.1.bias");
        bind_conv(&b, &h->resize[3], oc[3], oc[3], 3, 1, "resize_layers.3");
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "scratch.layer%d_rn", i + 1);
        bind_conv(&b, &h->rn[i], F, oc[i], 3, 0, name);
    }
    for (int k = 1; k <= 4; k++) bind_fusion(&b, &h->ref[k - 1], F, k, "");
    bind_conv(&b, &h->out1, F / 2, F, 3, 1, "scratch.output_conv1");
    bind_conv(&b, &h->out2a, 32, F / 2, 3, 1, "scratch.output_conv2.0");
    bind_conv(&b, &h->out2b, h->out_dim, 32, 1, 1, "scratch.output_conv2.2");

    if (p->kind == GS_DPT_MONO && p->sky) {
        bind_conv(&b, &h->sky2a, 32, F / 2, 3, 1, "scratch.sky_output_conv2.0");
        bind_conv(&b, &h->sky2b, 1, 32, 1, 1, "scratch.sky_output_conv2.2");
    }
    if (p->kind == GS_DPT_GS) {
        bind_conv(&b, &h->merger[0], F / 8, 3, 3, 1, "images_merger.0");
        bind_conv(&b, &h->merger[1], F / 4, F / 8, 3, 1, "images_merger.2");
        bind_conv(&b, &h->merger[2], F / 2, F / 4, 3, 1, "images_merger.4");
    }
    if (p->kind == GS_DPT_DUAL) {
        for (int k = 1; k <= 4; k++) bind_fusion(&b, &h->ref_aux[k - 1], F, k, "_aux");
        for (int l = 0; l < 4; l++)
            for (int j = 0; j < 5; j++) {
                const int cin = j % 2 ? F / 2 : F, cout = j % 2 ? F : F / 2;
                snprintf(name, sizeof name, "scratch.output_conv1_aux.%d.%d", l, j);
                if (l == 3)
                    bind_conv(&b, &h->aux1[j], cout, cin, 3, 1, name);
                else
                    check_unused_conv(&b, cout, cin, 3, name);
            }
        for (int l = 0; l < 3; l++) {
            snprintf(name, sizeof name, "scratch.output_conv2_aux.%d.0", l);
            check_unused_conv(&b, 32, F / 2, 3, name);
            snprintf(name, sizeof name, "scratch.output_conv2_aux.%d.5", l);
            check_unused_conv(&b, 7, 32, 1, name);
        }
        bind_conv(&b, &h->aux2a, 32, F / 2, 3, 1, "scratch.output_conv2_aux.3.0");
        bind_conv(&b, &h->aux2b, 7, 32, 1, 1, "scratch.output_conv2_aux.3.5");
        /* one shared LayerNorm(32): safetensors keeps one or more of its
         * four state_dict aliases; take the first present, mark the rest */
        int alias = 0;
        for (int l = 3; l >= 0; l--) {
            snprintf(name, sizeof name, "scratch.output_conv2_aux.%d.2.weight", l);
            if (gs_weights_has(w, prefix, name)) {
                alias = l;
                break;
            }
        }
        const int64_t s32[1] = {32};
        h->aux_ln_w = get(&b, 1, s32, "scratch.output_conv2_aux.%d.2.weight", alias);
        h->aux_ln_b = get(&b, 1, s32, "scratch.output_conv2_aux.%d.2.bias", alias);
        for (int l = 0; l < 4; l++) {
            if (l == alias) continue;
            snprintf(name, sizeof name, "scratch.output_conv2_aux.%d.2.weight", l);
            gs_weights_mark_used(w, prefix, name);
            snprintf(name, sizeof name, "scratch.output_conv2_aux.%d.2.bias", l);
            gs_weights_mark_used(w, prefix, name);
        }
    }
    const int problems = w->n_problems - before;
    if (problems > 0)
        return gs_error(GS_ERR_FORMAT, "%s: %d missing or mis-shaped key%s in %s:\n%s", prefix, problems,
                        problems == 1 ? "" : "s", w->st.path ? w->st.path : "the checkpoint",
                        w->problems ? w->problems : "");
    h->bound = 1;
    return GS_OK;
}

gs_status gs_dpt_bind_net(gs_dpt_head *h, gs_weights *w, const char *net_prefix, const gs_da3_net_config *cfg,
                          int gs) {
    if (!cfg || !net_prefix) return gs_error(GS_ERR_INVALID, "dpt head: missing configuration or prefix");
    gs_dpt_params p;
    memset(&p, 0, sizeof p);
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s%s", net_prefix, gs ? "gs_head." : "head.");
    p.dim_in = cfg->head_dim_in;
    if (gs) {
        if (!cfg->has_gs_head) return gs_error(GS_ERR_INVALID, "%s: this model has no 3DGS head", prefix);
        p.kind = GS_DPT_GS;
        p.features = cfg->gs_features;
        memcpy(p.out_channels, cfg->gs_out_channels, sizeof p.out_channels);
    } else {
        p.kind = cfg->head_kind == GS_DA3_HEAD_DPT ? GS_DPT_MONO : GS_DPT_DUAL;
        p.features = cfg->features;
        p.sky = cfg->head_sky;
        memcpy(p.out_channels, cfg->out_channels, sizeof p.out_channels);
    }
    return gs_dpt_bind(h, w, prefix, &p);
}

void gs_dpt_free(gs_dpt_head *h) {
    if (!h) return;
    for (int i = 0; i < h->n_uv; i++) free(h->uv[i].pe);
    h->n_uv = 0;
    h->uv_H = h->uv_W = 0;
}

/* ---- one run of the head -------------------------------------------------------- */

/* A chunk runs twice with the same code: once "dry" on a counting arena
 * (no op runs; buffer takes and the ops' workspace needs add up to the
 * plan), then for real on the planned workspace. */
typedef struct {
    const gs_ctx *c;
    gs_arena *a;           /* = c->ws */
    int dry;
    size_t ws_need;        /* dry: the largest op workspace seen */
    gs_dpt_head *h;
    int H, W;
    double cost;           /* the estimated cost so far (gs_dpt_view_cost) */
    double total;          /* a real run with a progress hook: the forward's cost */
} run;

/* Cost weights, in the backbone's units (gs_vit_block_cost: one FLOP of its
 * matmuls): a convolution FLOP (im2col + GEMM on narrow maps runs ~1.8x
 * slower per FLOP than the backbone's linears on the CPU, measured with
 * da3-small, -base and -large at 504x378), and one element of a buffer
 * (written and read by the memory-bound ops: ReLU, adds, resizes). */
#define COST_CONV 1.8
#define COST_ELEM 8.0

#define OP(r, call) ((r)->dry ? GS_OK : (call))

static gs_status need(run *r, size_t bytes) {
    if (bytes > r->ws_need) r->ws_need = bytes;
    return GS_OK;
}

static float *take(run *r, size_t n, const char *what) {
    r->cost += COST_ELEM * (double)n;
    return gs_arena_floats(r->a, n, what);
}

/* A step of the real run is done: the hook hears the cost so far. */
static void advance(run *r) {
    const gs_step_hook *hk = &r->h->on_progress;
    if (!r->dry && hk->fn) hk->fn(hk->ctx, r->cost < r->total ? r->cost : r->total, r->total);
}

/* square conv, stride s, padding k/2 */
static gs_status conv(run *r, const gs_dpt_conv *cv, int cin, int cout, int k, int s, const float *x, int n, int hh,
                      int ww, float *y, int relu) {
    const gs_conv2d_params p = {cin, cout, k, k, s, s, k / 2, k / 2, 0};
    r->cost += COST_CONV * 2.0 * cin * cout * k * k * n * gs_conv2d_out_size(hh, k, s, k / 2) *
               gs_conv2d_out_size(ww, k, s, k / 2);
    if (r->dry) return need(r, gs_conv2d_workspace(r->c, &p, n, hh, ww));
    gs_status st = gs_conv2d(r->c, &p, x, n, hh, ww, &cv->w, cv->b, y, relu);
    if (st == GS_OK) advance(r);
    return st;
}

/* The [c, hh, ww] UV embedding for images of H x W, cached per image size
 * in the head (model state, host memory). */
static const float *uv_get(run *r, int c, int hh, int ww) {
    gs_dpt_head *h = r->h;
    if (h->uv_H != r->H || h->uv_W != r->W || h->n_uv == GS_DPT_UV_CACHE) {
        gs_dpt_free(h);
        h->uv_H = r->H, h->uv_W = r->W;
    }
    for (int i = 0; i < h->n_uv; i++)
        if (h->uv[i].c == c && h->uv[i].h == hh && h->uv[i].w == ww) return h->uv[i].pe;
    float *pe = gs_malloc((size_t)c * hh * ww, sizeof *pe, "uv embedding");
    if (!pe) return NULL;
    if (gs_uv_embed(r->c, pe, c, hh, ww, r->H, r->W) != GS_OK) {
        free(pe);
        return NULL;
    }
    gs_dpt_uv *e = &h->uv[h->n_uv++];
    e->c = c, e->h = hh, e->w = ww, e->pe = pe;
    return pe;
}

/* x [n, c, hh, ww] += UV embedding */
static gs_status uv_add(run *r, float *x, int n, int c, int hh, int ww) {
    if (r->dry) return need(r, gs_uv_embed_workspace(r->c, c, hh, ww));
    const float *pe = uv_get(r, c, hh, ww);
    if (!pe) return GS_ERR_NOMEM;
    return gs_add(r->c, x, pe, (size_t)c * hh * ww, (size_t)n);
}

/* gs_dump_tensor, except on a dry run */
#define DUMP(r, d, ...)                                        \
    do {                                                       \
        if (!(r)->dry && (d) && (d)->fn) gs_dump_tensor((d), __VA_ARGS__); \
    } while (0)

static void dump4(run *r, const gs_dump *d, const char *fmt, int k, const float *x, int n, int c, int hh, int ww) {
    if (r->dry || !d || !d->fn) return;
    char name[64];
    snprintf(name, sizeof name, fmt, k);
    gs_dump_tensor(d, name, x, 4, (long)n, (long)c, (long)hh, (long)ww);
}

/* ---- layers --------------------------------------------------------------------- */

/* ResidualConvUnit: out = conv2(relu(conv1(relu(x)))) + x. t, a: scratch of
 * the size of x; out must not alias x. */
static gs_status rcu(run *r, const gs_dpt_conv *c1, const gs_dpt_conv *c2, int F, const float *x, int n, int hh,
                     int ww, float *t, float *a, float *out) {
    const size_t sz = (size_t)n * F * hh * ww;
    gs_status st = OP(r, gs_unary(r->c, GS_UNARY_RELU, x, t, sz));
    if (st == GS_OK) st = conv(r, c1, F, F, 3, 1, t, n, hh, ww, a, 1);
    if (st == GS_OK) st = conv(r, c2, F, F, 3, 1, a, n, hh, ww, out, 0);
    if (st == GS_OK) st = OP(r, gs_add(r->c, out, x, sz, 1));
    return st;
}

/* FeatureFusionBlock: y = top (+ RCU1(lateral)); y = RCU2(y); out =
 * bilinear_ac(out_conv(y), ho x wo) (out_conv moved before the upsample, see
 * the top of the file). top, lateral [n, F, hh, ww]; out [n, F, ho, wo]. */
static gs_status fusion(run *r, const gs_dpt_fusion *f, int F, const float *top, const float *lateral, int n, int hh,
                        int ww, int ho, int wo, float *out) {
    const size_t sz = (size_t)n * F * hh * ww, mark = gs_arena_mark(r->a);
    float *y = take(r, sz, "fusion block"), *t = take(r, sz, "fusion block"), *a = take(r, sz, "fusion block"),
          *rr = take(r, sz, "fusion block");
    if (!y || !t || !a || !rr) return GS_ERR_NOMEM;
    gs_status st = GS_OK;
    if (lateral && f->has_rcu1) {
        st = rcu(r, &f->rcu1_c1, &f->rcu1_c2, F, lateral, n, hh, ww, t, a, y);
        if (st == GS_OK) st = OP(r, gs_add(r->c, y, top, sz, 1));
    } else {
        st = OP(r, gs_copy2d(r->c, y, sz, top, sz, 1, sz));
    }
    if (st == GS_OK) st = rcu(r, &f->rcu2_c1, &f->rcu2_c2, F, y, n, hh, ww, t, a, rr);
    if (st == GS_OK) st = conv(r, &f->out, F, F, 1, 1, rr, n, hh, ww, t, 0);
    if (st == GS_OK) st = OP(r, gs_resize_bilinear_ac(r->c, t, n, F, hh, ww, out, ho, wo));
    gs_arena_release(r->a, mark);
    return st;
}

/* ---- forward -------------------------------------------------------------------- */

typedef struct {
    float *data;
    int c, h, w;
} fmap;

/* The 4 fused levels l1..l4 (rn outputs) -> one chain's refinenet1 output
 * *out [n, F, 8ph, 8pw], taken from the arena with the other levels'
 * outputs below it; dumps "<tag>.<k>" after each refinenet. *out must stay
 * the last take: run_main reads it after giving the chain back (see there). */
static gs_status run_chain(run *r, const gs_dpt_fusion ref[4], int F, const fmap rn[4], int n, float **out,
                           const char *tag, const gs_dump *d) {
    float *prev = NULL;
    gs_status st = GS_OK;
    char fmt[48];
    snprintf(fmt, sizeof fmt, "%s.%%d", tag);
    for (int k = 4; k >= 1 && st == GS_OK; k--) {
        const fmap *l = &rn[k - 1];
        const int ho = k > 1 ? rn[k - 2].h : 2 * l->h, wo = k > 1 ? rn[k - 2].w : 2 * l->w;
        float *o = take(r, (size_t)n * F * ho * wo, "fusion output");
        if (!o) return GS_ERR_NOMEM;
        st = k == 4 ? fusion(r, &ref[3], F, l->data, NULL, n, l->h, l->w, ho, wo, o)
                    : fusion(r, &ref[k - 1], F, prev, l->data, n, l->h, l->w, ho, wo, o);
        prev = o;
        if (st == GS_OK) dump4(r, d, fmt, k, o, n, F, ho, wo);
    }
    *out = prev;
    return st;
}

/* Stage i of the 4 levels: [LN] -> 1x1 projection -> [+UV] -> resize ->
 * layer<i>_rn into rn->data (taken below this stage's scratch). */
static gs_status run_stage(run *r, const float *const feats[4], int i, int s0, int n, fmap *rn, const gs_dump *d) {
    const gs_dpt_head *h = r->h;
    const gs_dpt_params *p = &h->p;
    const int F = p->features, D = p->dim_in, ph = r->H / 14, pw = r->W / 14, P = ph * pw, oc = p->out_channels[i];
    const char *tag = p->kind == GS_DPT_GS ? "gs" : "head";
    int sh = ph, sw = pw;
    if (i == 0 || i == 1) sh = ph * (i == 0 ? 4 : 2), sw = pw * (i == 0 ? 4 : 2);
    if (i == 3) sh = (ph + 1) / 2, sw = (pw + 1) / 2;
    rn->data = take(r, (size_t)n * F * sh * sw, "head rn map");
    rn->c = F, rn->h = sh, rn->w = sw;
    const size_t mark = gs_arena_mark(r->a);
    float *tok = take(r, (size_t)P * D * 2, "head token buffers"), *proj = take(r, (size_t)n * oc * P, "head projection");
    float *stage = i == 2 ? proj : take(r, (size_t)n * oc * sh * sw, "head stage");
    if (!rn->data || !tok || !proj || !stage) return GS_ERR_NOMEM;
    gs_status st = GS_OK;
    for (int b = 0; b < n && st == GS_OK; b++) {
        if (r->dry) { /* only the projection's workspace need */
            st = conv(r, &h->proj[i], D, oc, 1, 1, NULL, 1, ph, pw, NULL, 0);
            break;
        }
        const float *src = feats[i] + (size_t)(s0 + b) * P * D;   // [P, D]
        if (p->kind == GS_DPT_DUAL) {
            st = OP(r, gs_layernorm(r->c, src, tok, (size_t)P, D, h->norm_w, h->norm_b, LN_EPS));
            src = tok;
        }
        if (st == GS_OK) st = OP(r, gs_transpose(r->c, src, 1, (size_t)P, (size_t)D, tok + (size_t)P * D));   // [D, ph, pw]
        if (st == GS_OK) st = conv(r, &h->proj[i], D, oc, 1, 1, tok + (size_t)P * D, 1, ph, pw, proj + (size_t)b * oc * P, 0);
    }
    if (st == GS_OK && p->kind != GS_DPT_MONO) st = uv_add(r, proj, n, oc, ph, pw);
    if (st == GS_OK && (i == 0 || i == 1)) {
        const int k = i == 0 ? 4 : 2;
        r->cost += COST_CONV * 2.0 * oc * oc * k * k * n * ph * pw;
        st = r->dry ? need(r, gs_conv_transpose2d_workspace(r->c, oc, ph, pw, oc, k))
                    : gs_conv_transpose2d(r->c, proj, n, oc, ph, pw, &h->resize[i].w, h->resize[i].b, oc, k, stage);
    } else if (st == GS_OK && i == 3) {
        st = conv(r, &h->resize[3], oc, oc, 3, 2, proj, n, ph, pw, stage, 0);
    }
    char name[64];
    snprintf(name, sizeof name, "%s.stage.%%d", tag);
    if (st == GS_OK) dump4(r, d, name, i, stage, n, oc, sh, sw);
    if (st == GS_OK) st = conv(r, &h->rn[i], oc, F, 3, 1, stage, n, sh, sw, rn->data, 0);
    snprintf(name, sizeof name, "%s.rn.%%d", tag);
    if (st == GS_OK) dump4(r, d, name, i + 1, rn->data, n, F, sh, sw);
    gs_arena_release(r->a, mark);
    return st;
}

/* GS: up [n, F/2, H, W] += images_merger(images): three 3x3 convs with GELU,
 * F/8 into A, F/4 into B, F/2 into A again. */
static gs_status add_merger(run *r, const float *img, int n, float *up, const gs_dump *d) {
    const gs_dpt_head *h = r->h;
    const int F = h->p.features;
    const size_t HW = (size_t)r->H * r->W, mark = gs_arena_mark(r->a);
    float *A = take(r, (size_t)n * (F / 2) * HW, "images_merger"), *B = take(r, (size_t)n * (F / 4) * HW, "images_merger");
    if (!A || !B) return GS_ERR_NOMEM;
    gs_status st = conv(r, &h->merger[0], 3, F / 8, 3, 1, img, n, r->H, r->W, A, 0);
    if (st == GS_OK) st = OP(r, gs_unary(r->c, GS_UNARY_GELU, A, A, (size_t)n * (F / 8) * HW));
    if (st == GS_OK) st = conv(r, &h->merger[1], F / 8, F / 4, 3, 1, A, n, r->H, r->W, B, 0);
    if (st == GS_OK) st = OP(r, gs_unary(r->c, GS_UNARY_GELU, B, B, (size_t)n * (F / 4) * HW));
    if (st == GS_OK) st = conv(r, &h->merger[2], F / 4, F / 2, 3, 1, B, n, r->H, r->W, A, 0);
    if (st == GS_OK) st = OP(r, gs_unary(r->c, GS_UNARY_GELU, A, A, (size_t)n * (F / 2) * HW));
    if (st == GS_OK) DUMP(r, d, "gs.merger", A, 4, (long)n, (long)(F / 2), (long)r->H, (long)r->W);
    if (st == GS_OK) st = OP(r, gs_add(r->c, up, A, (size_t)n * (F / 2) * HW, 1));
    gs_arena_release(r->a, mark);
    return st;
}

/* The activations of the main output into the caller's buffers: logits
 * [n, out_dim, H, W] -> depth = exp, conf = exp + 1 (DUAL), depth (MONO),
 * or the 37 raw channels channels-last and conf = sigmoid (GS). */
static gs_status write_outputs(run *r, const float *logit, int s0, int n, const gs_dpt_outputs *out, const gs_dump *d) {
    const gs_dpt_params *p = &r->h->p;
    const size_t HW = (size_t)r->H * r->W, od = (size_t)r->h->out_dim;
    gs_status st = GS_OK;
    for (int b = 0; b < n && st == GS_OK && !r->dry; b++) {
        const float *lg = logit + (size_t)b * od * HW;
        const size_t o = (size_t)(s0 + b) * HW;
        if (p->kind == GS_DPT_GS) {
            st = gs_transpose(r->c, lg, 1, 37, HW, out->gs_raw + o * 37);   // [H, W, 37]
            if (st == GS_OK) st = gs_unary(r->c, GS_UNARY_SIGMOID, lg + 37 * HW, out->gs_conf + o, HW);
            continue;
        }
        st = gs_unary(r->c, GS_UNARY_EXP, lg, out->depth + o, HW);
        if (st == GS_OK && p->kind == GS_DPT_DUAL) st = gs_unary(r->c, GS_UNARY_EXP_PLUS1, lg + HW, out->depth_conf + o, HW);
    }
    if (st != GS_OK || r->dry || !d || !d->fn) return st;
    if (p->kind == GS_DPT_GS) {
        gs_dump_tensor(d, "gs.raw", out->gs_raw + (size_t)s0 * HW * 37, 4, (long)n, (long)r->H, (long)r->W, 37L);
        gs_dump_tensor(d, "gs.conf", out->gs_conf + (size_t)s0 * HW, 3, (long)n, (long)r->H, (long)r->W);
    } else {
        gs_dump_tensor(d, "head.depth", out->depth + (size_t)s0 * HW, 3, (long)n, (long)r->H, (long)r->W);
        if (p->kind == GS_DPT_DUAL)
            gs_dump_tensor(d, "head.depth_conf", out->depth_conf + (size_t)s0 * HW, 3, (long)n, (long)r->H, (long)r->W);
    }
    return st;
}

/* Main chain -> output_conv1 (before upsampling) -> bilinear to H x W ->
 * [+ images_merger] -> [+UV] -> output_conv2 (3x3 -> 32, ReLU, 1x1 ->
 * out_dim) -> activations; MONO with a sky head: the sky branch on the
 * same map. */
static gs_status run_main(run *r, const fmap rn[4], const float *images, int s0, int n, const gs_dpt_outputs *out,
                          const gs_dump *d) {
    const gs_dpt_head *h = r->h;
    const gs_dpt_params *p = &h->p;
    const int F = p->features, H = r->H, W = r->W, h8 = rn[0].h * 2, w8 = rn[0].w * 2;
    const size_t HW = (size_t)H * W, HW8 = (size_t)h8 * w8, mark = gs_arena_mark(r->a);
    const char *tag = p->kind == GS_DPT_GS ? "gs" : "head";
    char name[64];
    /* The layout that keeps the peak at the live set: the chain's maps, with
     * f1 last; then, as the chain is dead but for f1, up is taken over it
     * (at least as large as the chain, so that o1, taken above up, cannot
     * overlap f1), o1 = out_conv1(f1) above it, up = resize(o1) overwriting
     * the dead chain, and o1 given back. */
    float *f1 = NULL;
    snprintf(name, sizeof name, "%s.fusion", tag);
    gs_status st = run_chain(r, h->ref, F, rn, n, &f1, name, d);
    const size_t chain = gs_arena_mark(r->a) - mark, up_n = (size_t)n * (F / 2) * HW;
    gs_arena_release(r->a, mark);
    float *up = take(r, up_n * sizeof *up > chain ? up_n : (chain + sizeof *up - 1) / sizeof *up, "head upsampled map");
    const size_t o1_mark = gs_arena_mark(r->a);
    float *o1 = take(r, (size_t)n * (F / 2) * HW8, "head output_conv1");
    if (st == GS_OK && (!up || !o1)) st = GS_ERR_NOMEM;
    if (st == GS_OK) st = conv(r, &h->out1, F, F / 2, 3, 1, f1, n, h8, w8, o1, 0);
    snprintf(name, sizeof name, "%s.out_conv1", tag);
    if (st == GS_OK) DUMP(r, d, name, o1, 4, (long)n, (long)(F / 2), (long)h8, (long)w8);
    if (st == GS_OK) st = OP(r, gs_resize_bilinear_ac(r->c, o1, n, F / 2, h8, w8, up, H, W));
    gs_arena_release(r->a, o1_mark);
    if (st == GS_OK && p->kind == GS_DPT_GS) st = add_merger(r, images ? images + (size_t)s0 * 3 * HW : NULL, n, up, d);
    if (st == GS_OK && p->kind != GS_DPT_MONO) st = uv_add(r, up, n, F / 2, H, W);
    float *l32 = take(r, (size_t)n * 32 * HW, "head output_conv2"), *logit = take(r, (size_t)n * h->out_dim * HW, "head logits");
    if (st == GS_OK && (!l32 || !logit)) st = GS_ERR_NOMEM;
    if (st == GS_OK) st = conv(r, &h->out2a, F / 2, 32, 3, 1, up, n, H, W, l32, 1);
    if (st == GS_OK) st = conv(r, &h->out2b, 32, h->out_dim, 1, 1, l32, n, H, W, logit, 0);
    if (st == GS_OK) st = write_outputs(r, logit, s0, n, out, d);
    if (st == GS_OK && p->kind == GS_DPT_MONO && p->sky && out->sky) {
        float *sky = out->sky + (size_t)s0 * HW;
        st = conv(r, &h->sky2a, F / 2, 32, 3, 1, up, n, H, W, l32, 1);
        if (st == GS_OK) st = conv(r, &h->sky2b, 32, 1, 1, 1, l32, n, H, W, logit, 0);
        if (st == GS_OK) st = OP(r, gs_unary(r->c, GS_UNARY_RELU, logit, sky, (size_t)n * HW));
        if (st == GS_OK) DUMP(r, d, "head.sky", sky, 3, (long)n, (long)H, (long)W);
    }
    gs_arena_release(r->a, mark);
    return st;
}

/* DUAL ray chain: refinenet*_aux -> output_conv1_aux.3 (5 convs, no
 * activation) -> UV -> output_conv2_aux.3 (3x3, LN over channels, ReLU,
 * 1x1 -> 7), all at 8ph x 8pw; ray channels-last, ray_conf = exp + 1. */
static gs_status run_ray(run *r, const fmap rn[4], int s0, int n, const gs_dpt_outputs *out, const gs_dump *d) {
    const gs_dpt_head *h = r->h;
    const int F = h->p.features, h8 = rn[0].h * 2, w8 = rn[0].w * 2;
    const size_t HW8 = (size_t)h8 * w8, mark = gs_arena_mark(r->a);
    float *f1 = NULL;
    gs_status st = run_chain(r, h->ref_aux, F, rn, n, &f1, "head.fusion_aux", d);
    float *o1 = take(r, (size_t)n * F * HW8, "aux conv buffer"), *l32 = take(r, (size_t)n * 32 * HW8, "aux output_conv2");
    float *logit = take(r, (size_t)n * 7 * HW8, "aux logits");
    if (st == GS_OK && (!o1 || !l32 || !logit)) st = GS_ERR_NOMEM;
    float *src = f1, *dst = o1;
    for (int j = 0; j < 5 && st == GS_OK; j++) {
        const int cin = j % 2 ? F / 2 : F, cout = j % 2 ? F : F / 2;
        st = conv(r, &h->aux1[j], cin, cout, 3, 1, src, n, h8, w8, dst, 0);
        float *t = src;
        src = dst, dst = t;
    }
    /* src holds [n, F/2, h8, w8] */
    if (st == GS_OK) st = uv_add(r, src, n, F / 2, h8, w8);
    if (st == GS_OK) st = conv(r, &h->aux2a, F / 2, 32, 3, 1, src, n, h8, w8, l32, 0);
    if (st == GS_OK)
        st = r->dry ? need(r, gs_layernorm_channels_workspace(r->c, 32))
                    : gs_layernorm_channels(r->c, l32, n, 32, HW8, h->aux_ln_w, h->aux_ln_b, LN_EPS);
    if (st == GS_OK) st = OP(r, gs_unary(r->c, GS_UNARY_RELU, l32, l32, (size_t)n * 32 * HW8));
    if (st == GS_OK) st = conv(r, &h->aux2b, 32, 7, 1, 1, l32, n, h8, w8, logit, 0);
    for (int b = 0; b < n && st == GS_OK && !r->dry; b++) {
        const float *lg = logit + (size_t)b * 7 * HW8;
        st = gs_transpose(r->c, lg, 1, 6, HW8, out->ray + (size_t)(s0 + b) * HW8 * 6);
        if (st == GS_OK) st = gs_unary(r->c, GS_UNARY_EXP_PLUS1, lg + 6 * HW8, out->ray_conf + (size_t)(s0 + b) * HW8, HW8);
    }
    if (st == GS_OK) {
        DUMP(r, d, "head.ray", out->ray + (size_t)s0 * HW8 * 6, 4, (long)n, (long)h8, (long)w8, 6L);
        DUMP(r, d, "head.ray_conf", out->ray_conf + (size_t)s0 * HW8, 3, (long)n, (long)h8, (long)w8);
    }
    gs_arena_release(r->a, mark);
    return st;
}

/* One chunk of n views starting at view s0 (dry: only takes and needs). */
static gs_status forward_chunk(run *r, const float *const feats[4], int s0, int n, const float *images, int ray,
                               const gs_dpt_outputs *out, const gs_dump *d) {
    const size_t mark = gs_arena_mark(r->a);
    fmap rn[4];
    memset(rn, 0, sizeof rn);
    gs_status st = GS_OK;
    for (int i = 0; i < 4 && st == GS_OK; i++) st = run_stage(r, feats, i, s0, n, &rn[i], d);
    if (st == GS_OK) st = run_main(r, rn, images, s0, n, out, d);
    if (st == GS_OK && r->h->p.kind == GS_DPT_DUAL && ray) st = run_ray(r, rn, s0, n, out, d);
    gs_arena_release(r->a, mark);
    return st;
}

/* A counting dry run of the head on nv views (nothing is computed or
 * written): the workspace it takes (*bytes) and its cost (*cost, the
 * progress units of gs_dpt_view_cost). sky != 0 counts the sky branch. */
static gs_status dry_run(const gs_ctx *c, const gs_dpt_head *h, int nv, int H, int W, int ray, int sky, size_t *bytes,
                         double *cost) {
    gs_arena count;
    gs_arena_counting(&count);
    gs_ctx cc = *c;
    cc.ws = &count;
    run r = {&cc, &count, 1, 0, (gs_dpt_head *)h, H, W, 0.0, 0.0};
    const float *none[4] = {NULL, NULL, NULL, NULL};
    gs_dpt_outputs o;
    memset(&o, 0, sizeof o);
    float unused;
    if (sky) o.sky = &unused;
    gs_status st = forward_chunk(&r, none, 0, nv, NULL, ray, &o, NULL);
    if (bytes) *bytes = count.peak + gs_arena_round(r.ws_need);
    if (cost) *cost = r.cost;
    return st;
}

size_t gs_dpt_plan(const gs_ctx *c, const gs_dpt_head *h, int S, int H, int W, int ray, int dump) {
    if (!c || !h || !h->bound || S < 1 || H < 14 || W < 14 || H % 14 || W % 14) return 0;
    size_t bytes = 0;
    return dry_run(c, h, dump ? S : 1, H, W, ray, 0, &bytes, NULL) == GS_OK ? bytes : 0;
}

double gs_dpt_view_cost(const gs_ctx *c, const gs_dpt_head *h, int H, int W, int ray) {
    if (!c || !h || !h->bound || H < 14 || W < 14 || H % 14 || W % 14) return 0.0;
    double cost = 0.0;
    const int sky = h->p.kind == GS_DPT_MONO && h->p.sky; /* the sky branch counts too */
    return dry_run(c, h, 1, H, W, ray, sky, NULL, &cost) == GS_OK ? cost : 0.0;
}

static gs_status check_outputs(const gs_dpt_head *h, const gs_dpt_outputs *out, const float *images, const char *what) {
    switch (h->p.kind) {
    case GS_DPT_DUAL:
        if (!out->depth || !out->depth_conf) return gs_error(GS_ERR_INVALID, "%s: depth/depth_conf output missing", what);
        if (!out->ray != !out->ray_conf) return gs_error(GS_ERR_INVALID, "%s: ray and ray_conf go together", what);
        break;
    case GS_DPT_MONO:
        if (!out->depth) return gs_error(GS_ERR_INVALID, "%s: depth output missing", what);
        break;
    case GS_DPT_GS:
        if (!out->gs_raw || !out->gs_conf) return gs_error(GS_ERR_INVALID, "%s: gs_raw/gs_conf output missing", what);
        if (!images) return gs_error(GS_ERR_INVALID, "%s: the 3DGS head needs the input images", what);
        break;
    }
    return GS_OK;
}

/* Non-finite features or images are refused, naming the feature, view and token. */
static gs_status check_inputs(const gs_ctx *c, const gs_dpt_head *h, const float *const feats[4], int S, int H, int W,
                              const float *images, const char *what) {
    const size_t P = (size_t)(H / 14) * (W / 14), D = (size_t)h->p.dim_in;
    size_t at = 0;
    gs_status st = GS_OK;
    for (int k = 0; k < 4 && st == GS_OK; k++) {
        if ((st = gs_find_nonfinite(c, feats[k], (size_t)S * P * D, &at)) != GS_OK) return st;
        if (at < (size_t)S * P * D)
            return gs_error(GS_ERR_INVALID, "%s: backbone feature %d has a non-finite value (view %zu, token %zu)",
                            what, k, at / (P * D), at % (P * D) / D);
    }
    if (h->p.kind == GS_DPT_GS) {
        const size_t HW = (size_t)H * W;
        if ((st = gs_find_nonfinite(c, images, (size_t)S * 3 * HW, &at)) != GS_OK) return st;
        if (at < (size_t)S * 3 * HW)
            return gs_error(GS_ERR_INVALID, "%s: input image %zu has a non-finite value", what, at / (3 * HW));
    }
    return GS_OK;
}

gs_status gs_dpt_forward(const gs_ctx *c, gs_dpt_head *h, const float *const feats[4], int S, int H, int W,
                         const float *images, const gs_dpt_outputs *out, const gs_dump *d) {
    if (!h || !h->bound) return gs_error(GS_ERR_INVALID, "dpt head: not bound to weights");
    const char *what = h->p.kind == GS_DPT_GS ? "gs head" : "depth head";
    if (!c) return gs_error(GS_ERR_INVALID, "%s: no op context", what);
    if (!feats || !out || !feats[0] || !feats[1] || !feats[2] || !feats[3])
        return gs_error(GS_ERR_INVALID, "%s: missing features or outputs", what);
    if (S < 1 || S > 100000) return gs_error(GS_ERR_INVALID, "%s: bad view count %d", what, S);
    if (H < 14 || W < 14 || H % 14 || W % 14 || H > 14 * 2048 || W > 14 * 2048)
        return gs_error(GS_ERR_INVALID, "%s: image size %dx%d must be positive multiples of 14 (at most %d)", what, W,
                        H, 14 * 2048);
    gs_status st = check_outputs(h, out, images, what);
    if (st == GS_OK) st = check_inputs(c, h, feats, S, H, W, images, what);
    if (st != GS_OK) return st;
    /* one view at a time; the whole batch at once when dumping, so that
     * every dumped tensor has its [S, ...] shape */
    const int dumping = d && d->fn, chunk = dumping ? S : 1, ray = out->ray != NULL;
    gs_ctx lc;
    gs_arena own;
    if ((st = gs_ctx_with_workspace(c, gs_dpt_plan(c, h, S, H, W, ray, dumping), "head workspace", &lc, &own)) != GS_OK)
        return gs_error_prefix(st, "%s", what);
    run r = {&lc, lc.ws, 0, 0, h, H, W, 0.0, 0.0};
    if (h->on_progress.fn) r.total = S * gs_dpt_view_cost(c, h, H, W, ray);
    for (int s0 = 0; s0 < S && st == GS_OK; s0 += chunk) {
        const int n = s0 + chunk <= S ? chunk : S - s0;
        st = forward_chunk(&r, feats, s0, n, images, ray, out, d);
    }
    if (st == GS_OK && h->on_progress.fn) h->on_progress.fn(h->on_progress.ctx, r.total, r.total);
    gs_arena_destroy(&own);
    return st == GS_OK ? st : gs_error_prefix(st, "%s", what);
}
