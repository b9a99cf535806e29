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
    c->w = get(b, 4, ws, "%s.weight", name);
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
        h->resize[0].w = get(&b, 4, t0, "resize_layers.0.weight");
        h->resize[0].b = get(&b, 1, b0, "resize_layers.0.bias");
        h->resize[1].w = get(&b, 4, t1, "resize_layers.1.weight");
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

/* ---- UV positional embedding (head_utils.py: create_uv_grid + position_grid_to_embed) */

/* torch.linspace in float32: the first half counts up from start, the
 * second half down from end, with a float step */
static void linspace_f(float start, float end, int n, float *out) {
    if (n == 1) {
        out[0] = start;
        return;
    }
    const float step = (end - start) / (float)(n - 1);
    const int half = n / 2;
    for (int i = 0; i < n; i++) out[i] = i < half ? start + step * (float)i : end - step * (float)(n - 1 - i);
}

static gs_status uv_compute(int c, int hh, int ww, int H, int W, float *pe) {
    float *u = gs_malloc((size_t)ww + (size_t)hh + (size_t)c, sizeof *u, "uv embedding");
    if (!u) return GS_ERR_NOMEM;
    float *v = u + ww, *om = v + hh;
    const double ar = (double)W / (double)H, diag = sqrt(ar * ar + 1.0);
    const double sx = ar / diag, sy = 1.0 / diag;
    linspace_f((float)(-sx * (ww - 1) / ww), (float)(sx * (ww - 1) / ww), ww, u);
    linspace_f((float)(-sy * (hh - 1) / hh), (float)(sy * (hh - 1) / hh), hh, v);
    const int q = c / 4;
    for (int k = 0; k < q; k++) om[k] = 1.0f / powf(100.0f, (float)k / (float)q);
    const size_t hw = (size_t)hh * ww;
    for (int k = 0; k < q; k++)
        for (int i = 0; i < hh; i++)
            for (int j = 0; j < ww; j++) {
                const size_t o = (size_t)i * ww + j;
                const float au = u[j] * om[k], av = v[i] * om[k];
                pe[(size_t)k * hw + o] = sinf(au) * 0.1f;
                pe[(size_t)(q + k) * hw + o] = cosf(au) * 0.1f;
                pe[(size_t)(2 * q + k) * hw + o] = sinf(av) * 0.1f;
                pe[(size_t)(3 * q + k) * hw + o] = cosf(av) * 0.1f;
            }
    free(u);
    return GS_OK;
}

/* The [c, hh, ww] embedding for images of H x W, cached per image size. */
static const float *uv_get(gs_dpt_head *h, int c, int hh, int ww, int H, int W) {
    if (h->uv_H != H || h->uv_W != W || h->n_uv == GS_DPT_UV_CACHE) {
        gs_dpt_free(h);
        h->uv_H = H, h->uv_W = W;
    }
    for (int i = 0; i < h->n_uv; i++)
        if (h->uv[i].c == c && h->uv[i].h == hh && h->uv[i].w == ww) return h->uv[i].pe;
    float *pe = gs_malloc((size_t)c * hh * ww, sizeof *pe, "uv embedding");
    if (!pe) return NULL;
    if (uv_compute(c, hh, ww, H, W, pe) != GS_OK) {
        free(pe);
        return NULL;
    }
    gs_dpt_uv *e = &h->uv[h->n_uv++];
    e->c = c, e->h = hh, e->w = ww, e->pe = pe;
    return pe;
}

/* x [n, c, hh, ww] += pe */
static gs_status uv_add(gs_dpt_head *h, float *x, int n, int c, int hh, int ww, int H, int W) {
    const float *pe = uv_get(h, c, hh, ww, H, W);
    if (!pe) return GS_ERR_NOMEM;
    const size_t sz = (size_t)c * hh * ww;
    for (int b = 0; b < n; b++) gs_add_cpu(x + (size_t)b * sz, pe, sz);
    return GS_OK;
}

/* ---- layers --------------------------------------------------------------------- */

/* square conv, stride s, padding k/2 */
static gs_status conv(const gs_dpt_conv *c, int cin, int cout, int k, int s, const float *x, int n, int hh, int ww,
                      float *y, int relu) {
    gs_conv2d_params p = {cin, cout, k, k, s, s, k / 2, k / 2};
    return gs_conv2d_cpu(&p, x, n, hh, ww, c->w, c->b, y, relu);
}

/* ResidualConvUnit: out = conv2(relu(conv1(relu(x)))) + x. t, a: scratch of
 * the size of x; out must not alias x. */
static gs_status rcu(const gs_dpt_conv *c1, const gs_dpt_conv *c2, int F, const float *x, int n, int hh, int ww,
                     float *t, float *a, float *out) {
    const size_t sz = (size_t)n * F * hh * ww;
    memcpy(t, x, sz * sizeof *t);
    gs_relu_cpu(t, sz);
    gs_status st = conv(c1, F, F, 3, 1, t, n, hh, ww, a, 1);
    if (st == GS_OK) st = conv(c2, F, F, 3, 1, a, n, hh, ww, out, 0);
    if (st == GS_OK) gs_add_cpu(out, x, sz);
    return st;
}

/* FeatureFusionBlock: y = top (+ RCU1(lateral)); y = RCU2(y); out =
 * bilinear_ac(out_conv(y), ho x wo) (out_conv moved before the upsample, see
 * the top of the file). top, lateral [n, F, hh, ww]; out [n, F, ho, wo]. */
static gs_status fusion(const gs_dpt_fusion *f, int F, const float *top, const float *lateral, int n, int hh, int ww,
                        int ho, int wo, float *out) {
    const size_t sz = (size_t)n * F * hh * ww;
    float *buf = gs_malloc(sz, 4 * sizeof *buf, "fusion block buffers");
    if (!buf) return GS_ERR_NOMEM;
    float *y = buf, *t = buf + sz, *a = buf + 2 * sz, *r = buf + 3 * sz;
    gs_status st = GS_OK;
    if (lateral && f->has_rcu1) {
        st = rcu(&f->rcu1_c1, &f->rcu1_c2, F, lateral, n, hh, ww, t, a, y);
        if (st == GS_OK) gs_add_cpu(y, top, sz);
    } else {
        memcpy(y, top, sz * sizeof *y);
    }
    if (st == GS_OK) st = rcu(&f->rcu2_c1, &f->rcu2_c2, F, y, n, hh, ww, t, a, r);
    if (st == GS_OK) st = conv(&f->out, F, F, 1, 1, r, n, hh, ww, t, 0);
    if (st == GS_OK) gs_resize_bilinear_ac_cpu(t, n, F, hh, ww, out, ho, wo);
    free(buf);
    return st;
}

/* ---- forward -------------------------------------------------------------------- */

typedef struct {
    float *data;
    int c, h, w;
} fmap;

static void dump4(const gs_dump *d, const char *fmt, int k, const float *x, int n, int c, int hh, int ww) {
    if (!d || !d->fn) return;
    char name[64];
    snprintf(name, sizeof name, fmt, k);
    gs_dump_tensor(d, name, x, 4, (long)n, (long)c, (long)hh, (long)ww);
}

/* The 4 fused levels l1..l4 (rn outputs) -> one chain's refinenet1 output
 * [n, F, 8ph, 8pw]; dumps "<tag>.<k>" after each refinenet. */
static gs_status run_chain(const gs_dpt_fusion ref[4], int F, const fmap rn[4], int n, float **out, const char *tag,
                           const gs_dump *d) {
    float *prev = NULL;
    gs_status st = GS_OK;
    for (int k = 4; k >= 1 && st == GS_OK; k--) {
        const fmap *l = &rn[k - 1];
        const int ho = k > 1 ? rn[k - 2].h : 2 * l->h, wo = k > 1 ? rn[k - 2].w : 2 * l->w;
        float *o = gs_malloc((size_t)n * F * ho, (size_t)wo * sizeof *o, "fusion output");
        if (!o) {
            st = GS_ERR_NOMEM;
            break;
        }
        st = k == 4 ? fusion(&ref[3], F, l->data, NULL, n, l->h, l->w, ho, wo, o)
                    : fusion(&ref[k - 1], F, prev, l->data, n, l->h, l->w, ho, wo, o);
        free(prev);
        prev = o;
        if (st == GS_OK && d && d->fn) {
            char fmt[48];
            snprintf(fmt, sizeof fmt, "%s.%%d", tag);
            dump4(d, fmt, k, o, n, F, ho, wo);
        }
    }
    if (st != GS_OK) {
        free(prev);
        return st;
    }
    *out = prev;
    return GS_OK;
}

static int all_finite(const float *x, size_t n, size_t *where) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            *where = i;
            return 0;
        }
    return 1;
}

/* One chunk of n views starting at view s0. */
static gs_status forward_chunk(gs_dpt_head *h, const float *const feats[4], int s0, int n, int H, int W,
                               const float *images, const gs_dpt_outputs *out, const gs_dump *d) {
    const gs_dpt_params *p = &h->p;
    const int F = p->features, D = p->dim_in, ph = H / 14, pw = W / 14, P = ph * pw;
    const int uv = p->kind != GS_DPT_MONO;
    const char *tag = p->kind == GS_DPT_GS ? "gs" : "head";
    char name[64];
    gs_status st = GS_OK;
    fmap rn[4];
    memset(rn, 0, sizeof rn);
    float *tok = NULL, *proj = NULL, *stage = NULL, *f1 = NULL, *o1 = NULL, *up = NULL, *m1 = NULL, *m2 = NULL,
          *l32 = NULL, *logit = NULL;

    /* 1. stages: [LN] -> 1x1 projection -> [+UV] -> resize -> layerK_rn */
    tok = gs_malloc((size_t)P * D, 2 * sizeof *tok, "head token buffers");
    if (!tok) {
        st = GS_ERR_NOMEM;
        goto done;
    }
    for (int i = 0; i < 4 && st == GS_OK; i++) {
        const int oc = p->out_channels[i];
        proj = gs_malloc((size_t)n * oc, (size_t)P * sizeof *proj, "head projection");
        if (!proj) {
            st = GS_ERR_NOMEM;
            break;
        }
        for (int b = 0; b < n && st == GS_OK; b++) {
            const float *src = feats[i] + (size_t)(s0 + b) * P * D;   // [P, D]
            if (p->kind == GS_DPT_DUAL) {
                gs_layernorm_cpu(src, tok, (size_t)P, D, h->norm_w, h->norm_b, LN_EPS);
                src = tok;
            }
            gs_transpose_cpu(src, 1, (size_t)P, (size_t)D, tok + (size_t)P * D);   // [D, ph, pw]
            st = conv(&h->proj[i], D, oc, 1, 1, tok + (size_t)P * D, 1, ph, pw, proj + (size_t)b * oc * P, 0);
        }
        if (st == GS_OK && uv) st = uv_add(h, proj, n, oc, ph, pw, H, W);
        if (st != GS_OK) break;
        int sh = ph, sw = pw;
        if (i == 0 || i == 1) {
            const int k = i == 0 ? 4 : 2;
            sh = ph * k, sw = pw * k;
            stage = gs_malloc((size_t)n * oc * sh, (size_t)sw * sizeof *stage, "head stage");
            if (!stage) {
                st = GS_ERR_NOMEM;
                break;
            }
            st = gs_conv_transpose2d_cpu(proj, n, oc, ph, pw, h->resize[i].w, h->resize[i].b, oc, k, stage);
            free(proj);
        } else if (i == 2) {
            stage = proj;
        } else {
            sh = (ph + 1) / 2, sw = (pw + 1) / 2;
            stage = gs_malloc((size_t)n * oc * sh, (size_t)sw * sizeof *stage, "head stage");
            if (!stage) {
                st = GS_ERR_NOMEM;
                break;
            }
            st = conv(&h->resize[3], oc, oc, 3, 2, proj, n, ph, pw, stage, 0);
            free(proj);
        }
        proj = NULL;
        if (st != GS_OK) break;
        snprintf(name, sizeof name, "%s.stage.%%d", tag);
        dump4(d, name, i, stage, n, oc, sh, sw);
        rn[i].data = gs_malloc((size_t)n * F * sh, (size_t)sw * sizeof(float), "head rn map");
        if (!rn[i].data) {
            st = GS_ERR_NOMEM;
            break;
        }
        rn[i].c = F, rn[i].h = sh, rn[i].w = sw;
        st = conv(&h->rn[i], oc, F, 3, 1, stage, n, sh, sw, rn[i].data, 0);
        free(stage);
        stage = NULL;
        snprintf(name, sizeof name, "%s.rn.%%d", tag);
        if (st == GS_OK) dump4(d, name, i + 1, rn[i].data, n, F, sh, sw);
    }
    free(tok);
    tok = NULL;
    if (st != GS_OK) goto done;

    const int h8 = rn[0].h * 2, w8 = rn[0].w * 2;   /* 8ph x 8pw */
    const size_t HW = (size_t)H * W, HW8 = (size_t)h8 * w8;

    /* 2. main chain -> output_conv1 (before upsampling) -> bilinear to H x W */
    snprintf(name, sizeof name, "%s.fusion", tag);
    st = run_chain(h->ref, F, rn, n, &f1, name, d);
    if (st != GS_OK) goto done;
    o1 = gs_malloc((size_t)n * (F / 2), HW8 * sizeof *o1, "head output_conv1");
    if (!o1) {
        st = GS_ERR_NOMEM;
        goto done;
    }
    st = conv(&h->out1, F, F / 2, 3, 1, f1, n, h8, w8, o1, 0);
    free(f1);
    f1 = NULL;
    if (st != GS_OK) goto done;
    snprintf(name, sizeof name, "%s.out_conv1", tag);
    if (d && d->fn) gs_dump_tensor(d, name, o1, 4, (long)n, (long)(F / 2), (long)h8, (long)w8);
    up = gs_malloc((size_t)n * (F / 2), HW * sizeof *up, "head upsampled map");
    if (!up) {
        st = GS_ERR_NOMEM;
        goto done;
    }
    gs_resize_bilinear_ac_cpu(o1, n, F / 2, h8, w8, up, H, W);
    free(o1);
    o1 = NULL;

    /* 3. GS: + images_merger(images) */
    if (p->kind == GS_DPT_GS) {
        m1 = gs_malloc((size_t)n * (F / 8), HW * sizeof *m1, "images_merger");
        m2 = gs_malloc((size_t)n * (F / 4), HW * sizeof *m2, "images_merger");
        if (!m1 || !m2) {
            st = GS_ERR_NOMEM;
            goto done;
        }
        const float *img = images + (size_t)s0 * 3 * HW;
        st = conv(&h->merger[0], 3, F / 8, 3, 1, img, n, H, W, m1, 0);
        if (st == GS_OK) gs_gelu_cpu(m1, (size_t)n * (F / 8) * HW);
        if (st == GS_OK) st = conv(&h->merger[1], F / 8, F / 4, 3, 1, m1, n, H, W, m2, 0);
        free(m1);
        m1 = NULL;
        if (st == GS_OK) gs_gelu_cpu(m2, (size_t)n * (F / 4) * HW);
        if (st == GS_OK) {
            m1 = gs_malloc((size_t)n * (F / 2), HW * sizeof *m1, "images_merger");
            if (!m1) st = GS_ERR_NOMEM;
        }
        if (st == GS_OK) st = conv(&h->merger[2], F / 4, F / 2, 3, 1, m2, n, H, W, m1, 0);
        free(m2);
        m2 = NULL;
        if (st != GS_OK) goto done;
        gs_gelu_cpu(m1, (size_t)n * (F / 2) * HW);
        if (d && d->fn) gs_dump_tensor(d, "gs.merger", m1, 4, (long)n, (long)(F / 2), (long)H, (long)W);
        gs_add_cpu(up, m1, (size_t)n * (F / 2) * HW);
        free(m1);
        m1 = NULL;
    }
    if (uv && (st = uv_add(h, up, n, F / 2, H, W, H, W)) != GS_OK) goto done;

    /* 4. output_conv2 (3x3 -> 32, ReLU, 1x1 -> out_dim) and activations */
    l32 = gs_malloc((size_t)n * 32, HW * sizeof *l32, "head output_conv2");
    logit = gs_malloc((size_t)n * h->out_dim, HW * sizeof *logit, "head logits");
    if (!l32 || !logit) {
        st = GS_ERR_NOMEM;
        goto done;
    }
    if ((st = conv(&h->out2a, F / 2, 32, 3, 1, up, n, H, W, l32, 1)) != GS_OK) goto done;
    if ((st = conv(&h->out2b, 32, h->out_dim, 1, 1, l32, n, H, W, logit, 0)) != GS_OK) goto done;
    for (int b = 0; b < n; b++) {
        const float *lg = logit + (size_t)b * h->out_dim * HW;
        const size_t o = (size_t)(s0 + b) * HW;
        if (p->kind == GS_DPT_DUAL) {
            for (size_t i = 0; i < HW; i++) {
                out->depth[o + i] = expf(lg[i]);
                out->depth_conf[o + i] = expf(lg[HW + i]) + 1.0f;
            }
        } else if (p->kind == GS_DPT_MONO) {
            for (size_t i = 0; i < HW; i++) out->depth[o + i] = expf(lg[i]);
        } else {
            float *raw = out->gs_raw + o * 37;   // [H, W, 37]
            for (size_t i = 0; i < HW; i++) {
                for (int c = 0; c < 37; c++) raw[i * 37 + c] = lg[(size_t)c * HW + i];
                out->gs_conf[o + i] = (float)(1.0 / (1.0 + exp(-(double)lg[37 * HW + i])));
            }
        }
    }
    if (d && d->fn) {
        if (p->kind == GS_DPT_GS) {
            gs_dump_tensor(d, "gs.raw", out->gs_raw + (size_t)s0 * HW * 37, 4, (long)n, (long)H, (long)W, 37L);
            gs_dump_tensor(d, "gs.conf", out->gs_conf + (size_t)s0 * HW, 3, (long)n, (long)H, (long)W);
        } else {
            gs_dump_tensor(d, "head.depth", out->depth + (size_t)s0 * HW, 3, (long)n, (long)H, (long)W);
            if (p->kind == GS_DPT_DUAL)
                gs_dump_tensor(d, "head.depth_conf", out->depth_conf + (size_t)s0 * HW, 3, (long)n, (long)H,
                               (long)W);
        }
    }
    if (p->kind == GS_DPT_MONO && h->p.sky && out->sky) {
        if ((st = conv(&h->sky2a, F / 2, 32, 3, 1, up, n, H, W, l32, 1)) != GS_OK) goto done;
        if ((st = conv(&h->sky2b, 32, 1, 1, 1, l32, n, H, W, logit, 0)) != GS_OK) goto done;
        float *sky = out->sky + (size_t)s0 * HW;
        for (size_t i = 0; i < (size_t)n * HW; i++) sky[i] = logit[i] > 0.0f ? logit[i] : 0.0f;
        if (d && d->fn) gs_dump_tensor(d, "head.sky", sky, 3, (long)n, (long)H, (long)W);
    }
    free(up), free(l32), free(logit);
    up = l32 = logit = NULL;

    /* 5. DUAL ray chain: refinenet*_aux -> output_conv1_aux.3 (5 convs, no
     * activation) -> UV -> output_conv2_aux.3 (3x3, LN over channels, ReLU,
     * 1x1 -> 7), all at 8ph x 8pw */
    if (p->kind == GS_DPT_DUAL && out->ray) {
        st = run_chain(h->ref_aux, F, rn, n, &f1, "head.fusion_aux", d);
        if (st != GS_OK) goto done;
        o1 = gs_malloc((size_t)n * F, HW8 * sizeof *o1, "aux conv buffer");
        if (!o1) {
            st = GS_ERR_NOMEM;
            goto done;
        }
        float *src = f1, *dst = o1;
        for (int j = 0; j < 5 && st == GS_OK; j++) {
            const int cin = j % 2 ? F / 2 : F, cout = j % 2 ? F : F / 2;
            st = conv(&h->aux1[j], cin, cout, 3, 1, src, n, h8, w8, dst, 0);
            float *t = src;
            src = dst, dst = t;
        }
        if (st != GS_OK) goto done;
        /* src holds [n, F/2, h8, w8] */
        if ((st = uv_add(h, src, n, F / 2, h8, w8, H, W)) != GS_OK) goto done;
        l32 = gs_malloc((size_t)n * 32, HW8 * sizeof *l32, "aux output_conv2");
        logit = gs_malloc((size_t)n * 7, HW8 * sizeof *logit, "aux logits");
        if (!l32 || !logit) {
            st = GS_ERR_NOMEM;
            goto done;
        }
        if ((st = conv(&h->aux2a, F / 2, 32, 3, 1, src, n, h8, w8, l32, 0)) != GS_OK) goto done;
        gs_layernorm_channels_cpu(l32, n, 32, HW8, h->aux_ln_w, h->aux_ln_b, LN_EPS);
        gs_relu_cpu(l32, (size_t)n * 32 * HW8);
        if ((st = conv(&h->aux2b, 32, 7, 1, 1, l32, n, h8, w8, logit, 0)) != GS_OK) goto done;
        for (int b = 0; b < n; b++) {
            const float *lg = logit + (size_t)b * 7 * HW8;
            float *ray = out->ray + (size_t)(s0 + b) * HW8 * 6, *rc = out->ray_conf + (size_t)(s0 + b) * HW8;
            for (size_t i = 0; i < HW8; i++) {
                for (int c = 0; c < 6; c++) ray[i * 6 + c] = lg[(size_t)c * HW8 + i];
                rc[i] = expf(lg[6 * HW8 + i]) + 1.0f;
            }
        }
        if (d && d->fn) {
            gs_dump_tensor(d, "head.ray", out->ray + (size_t)s0 * HW8 * 6, 4, (long)n, (long)h8, (long)w8, 6L);
            gs_dump_tensor(d, "head.ray_conf", out->ray_conf + (size_t)s0 * HW8, 3, (long)n, (long)h8, (long)w8);
        }
    }

done:
    for (int i = 0; i < 4; i++) free(rn[i].data);
    free(tok), free(proj), free(stage), free(f1), free(o1), free(up), free(m1), free(m2), free(l32), free(logit);
    return st;
}

gs_status gs_dpt_forward(gs_dpt_head *h, const float *const feats[4], int S, int H, int W, const float *images,
                         const gs_dpt_outputs *out, const gs_dump *d) {
    if (!h || !h->bound) return gs_error(GS_ERR_INVALID, "dpt head: not bound to weights");
    const char *what = h->p.kind == GS_DPT_GS ? "gs head" : "depth head";
    if (!feats || !out || !feats[0] || !feats[1] || !feats[2] || !feats[3])
        return gs_error(GS_ERR_INVALID, "%s: missing features or outputs", what);
    if (S < 1 || S > 100000) return gs_error(GS_ERR_INVALID, "%s: bad view count %d", what, S);
    if (H < 14 || W < 14 || H % 14 || W % 14 || H > 14 * 2048 || W > 14 * 2048)
        return gs_error(GS_ERR_INVALID, "%s: image size %dx%d must be positive multiples of 14 (at most %d)", what, W,
                        H, 14 * 2048);
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
    const size_t P = (size_t)(H / 14) * (W / 14), D = (size_t)h->p.dim_in;
    for (int k = 0; k < 4; k++) {
        size_t at;
        if (!all_finite(feats[k], (size_t)S * P * D, &at))
            return gs_error(GS_ERR_INVALID, "%s: backbone feature %d has a non-finite value (view %zu, token %zu)",
                            what, k, at / (P * D), at % (P * D) / D);
    }
    if (h->p.kind == GS_DPT_GS) {
        size_t at, HW = (size_t)H * W;
        if (!all_finite(images, (size_t)S * 3 * HW, &at))
            return gs_error(GS_ERR_INVALID, "%s: input image %zu has a non-finite value", what, at / (3 * HW));
    }
    /* one view at a time; the whole batch at once when dumping, so that
     * every dumped tensor has its [S, ...] shape */
    const int chunk = d && d->fn ? S : 1;
    for (int s0 = 0; s0 < S; s0 += chunk) {
        const int n = s0 + chunk <= S ? chunk : S - s0;
        gs_status st = forward_chunk(h, feats, s0, n, H, W, images, out, d);
        if (st != GS_OK) return gs_error_prefix(st, "%s", what);
    }
    return GS_OK;
}
