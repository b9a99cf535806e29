/* test_da3_heads.c - parity of the DPT heads (heads/dpt.h) with the official
 * Depth Anything 3 code: tiny random-weight checkpoints in the official key
 * layout and reference tensors of one fp32 forward, both made by
 * tools/make_da3_goldens.py (tests/golden/da3/README.md). Each case feeds
 * the golden backbone features (and images) into our head, so these tests
 * do not depend on the backbone, and compares every head.* / gs.* tensor in
 * forward order, naming the first that diverges. Also: the per-view path
 * equals the batched dump path, one head object reused across image sizes,
 * the shared LayerNorm alias, missing/mis-shaped keys, bad arguments, NaN. */
#include "tests/test.h"
#include "heads/dpt.h"
#include "data/safetensors.h"
#include "tests/da3_golden.h"

#include <stdlib.h>
#include <string.h>

#define TOL 1e-4   /* relative: max|a-b| / max(max|b|, 1e-6) */

/* ---- dump collector ------------------------------------------------------------- */

typedef struct {
    char name[64];
    int ndim;
    int64_t shape[GS_MAX_DIMS];
    float *data;
    size_t n;
} dumped;

typedef struct {
    dumped v[128];
    int n;
    const char *pfx;   /* prepended to the names (the nested model's "metric.") */
} dump_list;

static void collect(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    dump_list *l = ctx;
    if (l->n >= 128) return;
    dumped *e = &l->v[l->n++];
    snprintf(e->name, sizeof e->name, "%s%s", l->pfx ? l->pfx : "", name);
    e->ndim = ndim;
    e->n = 1;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i], e->n *= (size_t)shape[i];
    e->data = malloc(e->n * sizeof(float));
    memcpy(e->data, data, e->n * sizeof(float));
}

static void dump_list_free(dump_list *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i].data);
    l->n = 0;
}

/* Compare the dumps in forward order with the golden tensors of the same
 * name; every golden tensor whose name starts with one of `tags` must have
 * been dumped (except the GaussianAdapter's gs.means, ...). Returns the
 * worst relative error; the first divergence above TOL fails the test. */
static double compare_dumps(const da3_golden *c, const char *cname, const dump_list *l, const char *const *tags) {
    double worst = 0;
    const char *worst_name = "-";
    int compared = 0, failed = 0;
    for (int i = 0; i < l->n; i++) {
        const dumped *e = &l->v[i];
        const gs_st_tensor *t = gs_st_find(&c->st, e->name);
        if (!t) continue;
        int same = t->ndim == e->ndim;
        for (int k = 0; same && k < e->ndim; k++) same = t->shape[k] == e->shape[k];
        if (!same) {
            gs_test_fail(__FILE__, __LINE__, "%s: %s has shape of %d dims [%lld, ...], golden [%lld, ...]", cname,
                         e->name, e->ndim, (long long)e->shape[0], (long long)t->shape[0]);
            failed = 1;
            break;
        }
        size_t n = 0;
        float *g = da3_golden_f32(c, e->name, &n);
        double ma = 0, r = da3_rel_err(e->data, g, n, &ma);
        free(g);
        compared++;
        if (!(r <= worst)) worst = r, worst_name = e->name;
        if (!(r <= TOL) && !failed) {
            gs_test_fail(__FILE__, __LINE__, "%s: first divergence at %s: max abs %.3g, relative %.3g (tol %g)", cname,
                         e->name, ma, r, TOL);
            failed = 1;
        }
    }
    /* every golden head tensor has been produced */
    for (int i = 0; i < c->st.n; i++) {
        const char *name = c->st.tensors[i].name;
        int mine = 0;
        for (int k = 0; tags[k]; k++) mine |= !strncmp(name, tags[k], strlen(tags[k]));
        static const char *const adapter[] = {"gs.means", "gs.scales", "gs.rotations", "gs.harmonics",
                                              "gs.opacities", "gs.pose_scale", NULL};
        for (int k = 0; adapter[k]; k++) mine &= strncmp(name, adapter[k], strlen(adapter[k])) != 0;
        if (!mine) continue;
        int found = 0;
        for (int j = 0; j < l->n && !found; j++) found = !strcmp(l->v[j].name, name);
        CHECK_MSG(found, "%s: golden tensor %s was not produced", cname, name);
    }
    CHECK_MSG(compared > 0, "%s: nothing compared", cname);
    printf("    %-22s %2d tensors, worst relative error %.2e (%s)\n", cname, compared, worst, worst_name);
    return worst;
}

/* ---- one model ------------------------------------------------------------------ */

typedef struct {
    gs_da3_config cfg;
    gs_weights w;
    gs_dpt_head head, gs, metric;   /* metric: the nested model's second net */
    int has_gs;
} model;

static int model_open(model *m, const char *name, int want_gs) {
    char path[256];
    memset(m, 0, sizeof *m);
    snprintf(path, sizeof path, DA3_GOLDEN_DIR "%s/config.json", name);
    if (gs_da3_config_load(path, &m->cfg) != GS_OK) {
        gs_test_fail(__FILE__, __LINE__, "%s: %s", path, gs_last_error());
        return 0;
    }
    snprintf(path, sizeof path, DA3_GOLDEN_DIR "%s/model.safetensors", name);
    if (gs_weights_open(&m->w, path) != GS_OK) {
        gs_test_fail(__FILE__, __LINE__, "%s: %s", path, gs_last_error());
        return 0;
    }
    CHECK_OK(gs_dpt_bind_net(&m->head, &m->w, m->cfg.prefix, &m->cfg.net, 0));
    if (want_gs) {
        CHECK_OK(gs_dpt_bind_net(&m->gs, &m->w, m->cfg.prefix, &m->cfg.net, 1));
        m->has_gs = 1;
    }
    if (m->cfg.nested) CHECK_OK(gs_dpt_bind_net(&m->metric, &m->w, m->cfg.metric_prefix, &m->cfg.metric, 0));
    /* every key under the heads' prefixes was consumed */
    char p1[96], p2[96], p3[96];
    snprintf(p1, sizeof p1, "%shead.", m->cfg.prefix);
    snprintf(p2, sizeof p2, "%sgs_head.", m->cfg.prefix);
    snprintf(p3, sizeof p3, "%shead.", m->cfg.metric_prefix);
    const char *pre[4] = {p1, m->cfg.nested ? p3 : NULL, NULL, NULL};
    if (want_gs) pre[m->cfg.nested ? 2 : 1] = p2;
    CHECK_OK(gs_weights_check(&m->w, pre));
    return m->head.bound;
}

static void model_close(model *m) {
    gs_dpt_free(&m->head);
    gs_dpt_free(&m->gs);
    gs_dpt_free(&m->metric);
    gs_weights_close(&m->w);
}

typedef struct {
    float *feat[4], *images;
    float *depth, *conf, *sky, *ray, *ray_conf, *gs_raw, *gs_conf;
} run_bufs;

static int load_inputs_pfx(const da3_golden *c, run_bufs *b, const char *pfx) {
    memset(b, 0, sizeof *b);
    for (int k = 0; k < 4; k++) {
        char name[48];
        snprintf(name, sizeof name, "%sbackbone.feat.%d", pfx, k);
        b->feat[k] = da3_golden_f32(c, name, NULL);
        if (!b->feat[k]) return 0;
    }
    b->images = da3_golden_f32(c, "input.images", NULL);
    const size_t HW = (size_t)c->H * c->W, HW8 = (size_t)(c->H / 14 * 8) * (c->W / 14 * 8);
    b->depth = calloc((size_t)c->S * HW, 4);
    b->conf = calloc((size_t)c->S * HW, 4);
    b->sky = calloc((size_t)c->S * HW, 4);
    b->ray = calloc((size_t)c->S * HW8 * 6, 4);
    b->ray_conf = calloc((size_t)c->S * HW8, 4);
    b->gs_raw = calloc((size_t)c->S * HW * 37, 4);
    b->gs_conf = calloc((size_t)c->S * HW, 4);
    return b->images != NULL;
}

static int load_inputs(const da3_golden *c, run_bufs *b) { return load_inputs_pfx(c, b, ""); }

static void free_inputs(run_bufs *b) {
    for (int k = 0; k < 4; k++) free(b->feat[k]);
    free(b->images), free(b->depth), free(b->conf), free(b->sky), free(b->ray), free(b->ray_conf);
    free(b->gs_raw), free(b->gs_conf);
}

static gs_status run_head(gs_dpt_head *h, const da3_golden *c, run_bufs *b, int want_ray, const gs_dump *d) {
    gs_dpt_outputs o = {0};
    if (h->p.kind == GS_DPT_GS) {
        o.gs_raw = b->gs_raw, o.gs_conf = b->gs_conf;
    } else {
        o.depth = b->depth;
        if (h->p.kind == GS_DPT_DUAL) o.depth_conf = b->conf;
        if (h->p.kind == GS_DPT_MONO) o.sky = b->sky;
        if (want_ray) o.ray = b->ray, o.ray_conf = b->ray_conf;
    }
    const float *f[4] = {b->feat[0], b->feat[1], b->feat[2], b->feat[3]};
    return gs_dpt_forward(&g_test_cpu, h, f, c->S, c->H, c->W, b->images, &o, d);
}

/* Run the depth head (and the GS head) of one case; compare all dumps. */
static void head_case(const char *cname) {
    da3_golden c;
    if (!da3_golden_open(&c, cname)) GOLDEN_MISSING(cname);
    const char *mname = gs_st_meta(&c.st, "model");
    const int want_gs = gs_st_find(&c.st, "gs.conf") != NULL;
    model m;
    run_bufs b;
    if (!mname || !model_open(&m, mname, want_gs) || !load_inputs(&c, &b)) {
        CHECK_MSG(0, "%s: cannot set up the case", cname);
        if (mname) model_close(&m);
        gs_st_close(&c.st);
        return;
    }
    dump_list l = {.n = 0};
    gs_dump d = {collect, &l};
    const double t0 = gs_now();
    CHECK_OK(run_head(&m.head, &c, &b, c.ray, &d));
    if (want_gs) CHECK_OK(run_head(&m.gs, &c, &b, 0, &d));
    run_bufs bm;
    memset(&bm, 0, sizeof bm);
    if (m.cfg.nested) {
        /* the metric net's DPT head on its own features */
        CHECK(load_inputs_pfx(&c, &bm, "metric."));
        l.pfx = "metric.";
        CHECK_OK(run_head(&m.metric, &c, &bm, 0, &d));
        l.pfx = NULL;
    }
    const double ms = (gs_now() - t0) * 1e3;
    const char *tags[] = {"head.", "gs.", "metric.head.", NULL};
    compare_dumps(&c, cname, &l, tags);
    printf("    %-22s forward %.1f ms (S %d, %dx%d)\n", cname, ms, c.S, c.W, c.H);

    /* the per-view path (no dump) gives the same outputs as the batched one */
    run_bufs b2 = b;
    const size_t HW = (size_t)c.S * c.H * c.W, HW8 = (size_t)c.S * (c.H / 14 * 8) * (c.W / 14 * 8);
    b2.depth = calloc(HW, 4), b2.conf = calloc(HW, 4), b2.sky = calloc(HW, 4), b2.ray = calloc(HW8 * 6, 4);
    b2.ray_conf = calloc(HW8, 4), b2.gs_raw = calloc(HW * 37, 4), b2.gs_conf = calloc(HW, 4);
    CHECK_OK(run_head(&m.head, &c, &b2, c.ray, NULL));
    if (want_gs) CHECK_OK(run_head(&m.gs, &c, &b2, 0, NULL));
    CHECK(da3_rel_err(b2.depth, b.depth, HW, NULL) <= 1e-6);
    CHECK(da3_rel_err(b2.conf, b.conf, HW, NULL) <= 1e-6);
    CHECK(da3_rel_err(b2.sky, b.sky, HW, NULL) <= 1e-6);
    CHECK(da3_rel_err(b2.ray, b.ray, HW8 * 6, NULL) <= 1e-6);
    CHECK(da3_rel_err(b2.gs_raw, b.gs_raw, HW * 37, NULL) <= 1e-6);
    free(b2.depth), free(b2.conf), free(b2.sky), free(b2.ray), free(b2.ray_conf), free(b2.gs_raw), free(b2.gs_conf);

    dump_list_free(&l);
    free_inputs(&b);
    free_inputs(&bm);
    model_close(&m);
    gs_st_close(&c.st);
}

TEST(da3_heads_dualdpt_s1_all_intermediates) { head_case("anyview_s1"); }
TEST(da3_heads_dualdpt_s2_wide) { head_case("anyview_s2"); }
TEST(da3_heads_dualdpt_s4) { head_case("anyview_s4_saddle"); }
TEST(da3_heads_dualdpt_posed_s3) { head_case("anyview_posed_s3"); }
TEST(da3_heads_dualdpt_bf16_weights) { head_case("anyview_bf16_s2"); }
TEST(da3_heads_dualdpt_ray_chain) { head_case("anyview_ray_s2"); }
TEST(da3_heads_dpt_mono_s1) { head_case("mono_s1"); }
TEST(da3_heads_dpt_mono_s2) { head_case("mono_s2"); }
TEST(da3_heads_gsdpt_giant_s2) { head_case("giant_gs_s2"); }
TEST(da3_heads_gsdpt_giant_posed_s3) { head_case("giant_gs_posed_s3"); }
TEST(da3_heads_nested_anyview_and_metric) { head_case("nested_s2"); }

/* One head object, three image sizes in a row: the UV cache follows. */
TEST(da3_heads_reused_across_image_sizes) {
    const char *cases[] = {"anyview_s1", "anyview_s2", "anyview_ray_s2", "anyview_s1"};
    model m;
    REQUIRE_GOLDEN(DA3_GOLDEN_DIR "tiny-anyview/model.safetensors");
    if (!model_open(&m, "tiny-anyview", 0)) {
        model_close(&m);
        return;
    }
    for (int i = 0; i < 4; i++) {
        da3_golden c;
        run_bufs b;
        if (!da3_golden_open(&c, cases[i])) continue;
        if (load_inputs(&c, &b)) {
            CHECK_OK(run_head(&m.head, &c, &b, 1, NULL));
            size_t n = 0;
            float *g = da3_golden_f32(&c, "head.depth", &n);
            CHECK_MSG(g && da3_rel_err(b.depth, g, n, NULL) <= TOL, "%s: depth differs after reuse", cases[i]);
            free(g);
            g = da3_golden_f32(&c, "head.ray", &n);
            if (g) CHECK_MSG(da3_rel_err(b.ray, g, n, NULL) <= TOL, "%s: ray differs after reuse", cases[i]);
            free(g);
        }
        free_inputs(&b);
        gs_st_close(&c.st);
    }
    model_close(&m);
}

/* Copy a checkpoint to a temporary file, dropping keys that contain `drop`
 * (NULL: none) and giving key `reshape` a wrong shape. */
static int rewrite_checkpoint(const char *src, const char *dst, const char *const *drop, const char *reshape) {
    gs_safetensors st;
    if (gs_st_open(&st, src) != GS_OK) return 0;
    gs_st_writer *w = gs_st_writer_new();
    int ok = w != NULL;
    for (int i = 0; ok && i < st.n; i++) {
        const gs_st_tensor *t = &st.tensors[i];
        int skip = 0;
        for (int k = 0; drop && drop[k]; k++) skip |= strstr(t->name, drop[k]) != NULL;
        if (skip) continue;
        int64_t shape[GS_MAX_DIMS];
        int ndim = t->ndim;
        memcpy(shape, t->shape, sizeof shape);
        if (reshape && !strcmp(t->name, reshape)) {
            /* same element count, other shape: [n] -> [1, n] */
            int64_t n = 1;
            for (int k = 0; k < ndim; k++) n *= shape[k];
            ndim = 2, shape[0] = 1, shape[1] = n;
        }
        ok = gs_st_writer_add(w, t->name, t->dtype, ndim, shape, t->data) == GS_OK;
    }
    if (ok) ok = gs_st_writer_save(w, dst) == GS_OK;
    gs_st_writer_free(w);
    gs_st_close(&st);
    return ok;
}

TEST(da3_heads_missing_and_misshaped_keys_named) {
    const char *src = DA3_GOLDEN_DIR "tiny-mono/model.safetensors";
    REQUIRE_GOLDEN(src);
    const char *path = gs_test_tmp("mono_broken.safetensors");
    const char *drop[] = {"head.scratch.output_conv1.weight", "head.scratch.refinenet2.resConfUnit1.conv2.bias", NULL};
    CHECK(rewrite_checkpoint(src, path, drop, "model.head.projects.1.bias"));
    gs_da3_config cfg;
    CHECK_OK(gs_da3_config_load(DA3_GOLDEN_DIR "tiny-mono/config.json", &cfg));
    gs_weights w;
    CHECK_OK(gs_weights_open(&w, path));
    gs_dpt_head h;
    gs_clear_error();
    gs_status st = gs_dpt_bind_net(&h, &w, cfg.prefix, &cfg.net, 0);
    CHECK(st == GS_ERR_FORMAT);
    const char *msg = gs_last_error();
    CHECK_MSG(strstr(msg, "3 missing or mis-shaped keys"), "message: %s", msg);
    CHECK_MSG(strstr(msg, "missing key model.head.scratch.output_conv1.weight"), "message: %s", msg);
    CHECK_MSG(strstr(msg, "missing key model.head.scratch.refinenet2.resConfUnit1.conv2.bias"), "message: %s", msg);
    CHECK_MSG(strstr(msg, "model.head.projects.1.bias has shape [1, 8], expected [8]"), "message: %s", msg);
    /* an unbound head refuses to run */
    const float *f[4] = {NULL, NULL, NULL, NULL};
    gs_dpt_outputs o = {0};
    CHECK_ERR(gs_dpt_forward(&g_test_cpu, &h, f, 1, 28, 28, NULL, &o, NULL), "not bound");
    gs_dpt_free(&h);
    gs_weights_close(&w);

    /* a GS head asked of a model that has none */
    CHECK_OK(gs_weights_open(&w, src));
    CHECK_ERR(gs_dpt_bind_net(&h, &w, cfg.prefix, &cfg.net, 1), "no 3DGS head");
    gs_weights_close(&w);
}

/* The shared aux LayerNorm may be stored under any of its 4 aliases. */
TEST(da3_heads_shared_ln_alias) {
    const char *src = DA3_GOLDEN_DIR "tiny-anyview/model.safetensors";
    da3_golden c;
    REQUIRE_GOLDEN(src);
    if (!da3_golden_open(&c, "anyview_ray_s2")) GOLDEN_MISSING("anyview_ray_s2");
    /* move alias 0 to alias 2 by rewriting: drop .0.2.*, add .2.2.* */
    gs_safetensors st;
    CHECK_OK(gs_st_open(&st, src));
    gs_st_writer *wr = gs_st_writer_new();
    for (int i = 0; i < st.n; i++) {
        const gs_st_tensor *t = &st.tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%s", t->name);
        char *p = strstr(name, "output_conv2_aux.0.2.");
        if (p) p[17] = '2';
        CHECK_OK(gs_st_writer_add(wr, name, t->dtype, t->ndim, t->shape, t->data));
    }
    const char *path = gs_test_tmp("anyview_alias2.safetensors");
    CHECK_OK(gs_st_writer_save(wr, path));
    gs_st_writer_free(wr);
    gs_st_close(&st);

    gs_da3_config cfg;
    CHECK_OK(gs_da3_config_load(DA3_GOLDEN_DIR "tiny-anyview/config.json", &cfg));
    gs_weights w;
    CHECK_OK(gs_weights_open(&w, path));
    CHECK(!gs_weights_has(&w, cfg.prefix, "head.scratch.output_conv2_aux.0.2.weight"));
    gs_dpt_head h;
    CHECK_OK(gs_dpt_bind_net(&h, &w, cfg.prefix, &cfg.net, 0));
    const char *pre[] = {"model.head.", NULL};
    CHECK_OK(gs_weights_check(&w, pre));
    run_bufs b;
    if (h.bound && load_inputs(&c, &b)) {
        CHECK_OK(run_head(&h, &c, &b, 1, NULL));
        size_t n = 0;
        float *g = da3_golden_f32(&c, "head.ray", &n);
        CHECK(g && da3_rel_err(b.ray, g, n, NULL) <= TOL);
        free(g);
    }
    free_inputs(&b);
    gs_dpt_free(&h);
    gs_weights_close(&w);
    gs_st_close(&c.st);
}

TEST(da3_heads_bad_arguments_and_nan) {
    da3_golden c;
    if (!da3_golden_open(&c, "anyview_s2")) GOLDEN_MISSING("anyview_s2");
    model m;
    run_bufs b;
    if (!model_open(&m, "tiny-anyview", 0) || !load_inputs(&c, &b)) {
        CHECK(0);
        model_close(&m);
        gs_st_close(&c.st);
        return;
    }
    const float *f[4] = {b.feat[0], b.feat[1], b.feat[2], b.feat[3]};
    gs_dpt_outputs o = {.depth = b.depth, .depth_conf = b.conf};
    CHECK_ERR(gs_dpt_forward(&g_test_cpu, &m.head, f, 0, c.H, c.W, NULL, &o, NULL), "bad view count");
    CHECK_ERR(gs_dpt_forward(&g_test_cpu, &m.head, f, c.S, c.H + 1, c.W, NULL, &o, NULL), "multiples of 14");
    CHECK_ERR(gs_dpt_forward(&g_test_cpu, &m.head, f, c.S, 0, c.W, NULL, &o, NULL), "multiples of 14");
    gs_dpt_outputs half = {.depth = b.depth, .depth_conf = b.conf, .ray = b.ray};
    CHECK_ERR(gs_dpt_forward(&g_test_cpu, &m.head, f, c.S, c.H, c.W, NULL, &half, NULL), "ray and ray_conf");
    gs_dpt_outputs none = {0};
    CHECK_ERR(gs_dpt_forward(&g_test_cpu, &m.head, f, c.S, c.H, c.W, NULL, &none, NULL), "depth/depth_conf output missing");
    const float *f3[4] = {b.feat[0], b.feat[1], NULL, b.feat[3]};
    CHECK_ERR(gs_dpt_forward(&g_test_cpu, &m.head, f3, c.S, c.H, c.W, NULL, &o, NULL), "missing features");
    /* a NaN in view 1, token 4 of feature 2 is named */
    const size_t P = (size_t)(c.H / 14) * (c.W / 14), D = 64;
    b.feat[2][(1 * P + 4) * D + 7] = NAN;
    CHECK_ERR(gs_dpt_forward(&g_test_cpu, &m.head, f, c.S, c.H, c.W, NULL, &o, NULL),
              "backbone feature 2 has a non-finite value (view 1, token 4)");
    b.feat[2][(1 * P + 4) * D + 7] = INFINITY;
    CHECK_ERR(gs_dpt_forward(&g_test_cpu, &m.head, f, c.S, c.H, c.W, NULL, &o, NULL), "non-finite");
    /* impossible parameters */
    gs_dpt_head h;
    gs_dpt_params p = {GS_DPT_DUAL, 64, 16, {8, 16, 32, 30}, 0};
    CHECK_ERR(gs_dpt_bind(&h, &m.w, "model.head.", &p), "not a multiple of 4");
    p.out_channels[3] = 32, p.features = 15;
    CHECK_ERR(gs_dpt_bind(&h, &m.w, "model.head.", &p), "bad head sizes");
    free_inputs(&b);
    model_close(&m);
    gs_st_close(&c.st);
}
