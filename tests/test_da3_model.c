/* test_da3_model.c - end-to-end parity of the whole DA3 network (gs/model/da3.h)
 * with the official PyTorch code: every case of tests/golden/da3 is run
 * through the normal loader (model folder with config.json) and
 * gs_da3_forward; every tensor the forward pass dumps is compared, in
 * forward order, with the reference tensor of the same name, and the first
 * one that diverges is named. Every reference tensor must also have been
 * produced (so a path that silently skips work fails).
 *
 * Tolerances (tests/golden/da3/README.md): 1e-4 relative (max|a-b| / max|b|)
 * on features, maps, depth and Gaussians, 1e-5 on cameras; the ray-pose
 * solver is random in the reference and is checked separately
 * (test_da3_camera.c). With GS_PARITY_DIR set, da3_parity_full runs the same
 * comparison on a full-size checkpoint made by `make parity`. */
#include "tests/test.h"
#include "gs/model/da3.h"

#include <stdlib.h>
#include <string.h>

#define GOLD "tests/golden/da3"
#define MAX_SEEN 512

typedef struct {
    const gs_safetensors *ref;
    int ray_case;
    int compared, missing_in_ref;
    double worst_rel;
    char worst_name[96];
    char first_bad[512];
    char *seen[MAX_SEEN];
    int n_seen;
} cmp_ctx;

static double tol_for(const cmp_ctx *c, const char *name) {
    if (!strncmp(name, "cam.", 4) || !strncmp(name, "output.extrinsics", 17) || !strncmp(name, "output.intrinsics", 17))
        return 1e-5;
    (void)c;
    return 1e-4;
}

static int random_tensor(const cmp_ctx *c, const char *name) {
    /* the reference's RANSAC is random: its poses cannot be compared */
    return c->ray_case && (!strncmp(name, "ray_pose.", 9) || !strncmp(name, "output.extrinsics", 17) ||
                           !strncmp(name, "output.intrinsics", 17));
}

static void cmp_fn(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    cmp_ctx *c = ctx;
    if (c->n_seen < MAX_SEEN) c->seen[c->n_seen++] = strdup(name);
    const gs_st_tensor *t = gs_st_find(c->ref, name);
    if (!t) {
        c->missing_in_ref++;
        return;
    }
    if (random_tensor(c, name)) return;
    int64_t n = 1, nr = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    for (int i = 0; i < t->ndim; i++) nr *= t->shape[i];
    if (n != nr || t->dtype != GS_F32) {
        if (!c->first_bad[0])
            snprintf(c->first_bad, sizeof c->first_bad, "%s: %lld values, reference has %lld", name, (long long)n,
                     (long long)nr);
        return;
    }
    double maxd = 0.0, maxb = 0.0;
    int bad_nan = 0;
    for (int64_t i = 0; i < n; i++) {
        float b;
        memcpy(&b, t->data + 4 * i, 4);
        double d = fabs((double)data[i] - (double)b);
        if (isnan(d) && !(isnan(data[i]) && isnan(b))) bad_nan = 1;
        if (d > maxd) maxd = d;
        if (fabs(b) > maxb) maxb = fabs(b);
    }
    double rel = maxd / (maxb > 1e-6 ? maxb : 1e-6);
    c->compared++;
    if (rel > c->worst_rel) {
        c->worst_rel = rel;
        snprintf(c->worst_name, sizeof c->worst_name, "%s", name);
    }
    if ((bad_nan || rel > tol_for(c, name)) && !c->first_bad[0])
        snprintf(c->first_bad, sizeof c->first_bad,
                 "first divergence at %s: max abs %.3g, relative %.3g (tolerance %.0e)%s", name, maxd, rel,
                 tol_for(c, name), bad_nan ? ", NaN" : "");
}

static int was_seen(const cmp_ctx *c, const char *name) {
    for (int i = 0; i < c->n_seen; i++)
        if (!strcmp(c->seen[i], name)) return 1;
    return 0;
}

/* Reference tensors that are inputs, or intermediate values of the
 * reference that our implementation does not materialise by that name. */
static int not_produced_ok(const char *name) {
    static const char *const ok[] = {"input.", "cam.pose_enc", "gs.pose_scale", NULL};
    for (int i = 0; ok[i]; i++)
        if (!strncmp(name, ok[i], strlen(ok[i]))) return 1;
    return 0;
}

static const char *meta(const gs_safetensors *st, const char *k, const char *def) {
    const char *v = gs_st_meta(st, k);
    return v ? v : def;
}

static const float *ref_f32(const gs_safetensors *st, const char *name, int64_t numel) {
    const gs_st_tensor *t = gs_st_find(st, name);
    if (!t || t->dtype != GS_F32 || (int64_t)(t->end - t->begin) != numel * 4) return NULL;
    return (const float *)t->data;
}

/* Run one case file against its model folder; returns the number of failures. */
static void run_case(const char *case_path, const char *model_dir, int require_all) {
    gs_safetensors ref;
    CHECK_OK(gs_st_open(&ref, case_path));
    if (gs_test_failed()) return;
    int S = atoi(meta(&ref, "views", "0")), H = atoi(meta(&ref, "height", "0")), W = atoi(meta(&ref, "width", "0"));
    CHECK(S > 0 && H > 0 && W > 0);
    const float *x = ref_f32(&ref, "input.images", (int64_t)S * 3 * H * W);
    CHECK_MSG(x != NULL, "%s: input.images missing or mis-shaped", case_path);
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, model_dir, NULL));
    if (gs_test_failed() || !x) { gs_st_close(&ref); return; }

    cmp_ctx c;
    memset(&c, 0, sizeof c);
    c.ref = &ref;
    c.ray_case = !strcmp(meta(&ref, "use_ray_pose", "0"), "1");
    gs_dump d = {cmp_fn, &c};
    gs_da3_options o;
    gs_da3_options_default(&o);
    o.dump = &d;
    o.use_ray_pose = c.ray_case;
    o.infer_gs = !strcmp(meta(&ref, "infer_gs", "0"), "1");
    CHECK_OK(gs_ref_strategy_parse(meta(&ref, "ref_view_strategy", "saddle_balanced"), &o.ref_strategy));

    float *w2c_norm = NULL;
    const float *K = NULL;
    if (!strcmp(meta(&ref, "posed", "0"), "1")) {
        const float *ext = ref_f32(&ref, "input.extrinsics", (int64_t)S * 16);
        const float *ext_n = ref_f32(&ref, "input.extrinsics_norm", (int64_t)S * 16);
        K = ref_f32(&ref, "input.intrinsics", (int64_t)S * 9);
        CHECK(ext && ext_n && K);
        w2c_norm = malloc((size_t)S * 16 * sizeof(float));
        if (ext && w2c_norm) {
            CHECK_OK(gs_da3_normalize_extrinsics(ext, S, w2c_norm));
            double md = 0.0;
            for (int i = 0; i < S * 16 && ext_n; i++) md = fmax(md, fabs(w2c_norm[i] - ext_n[i]));
            CHECK_MSG(md <= 1e-5, "%s: normalised extrinsics differ by %g", case_path, md);
        }
    }
    gs_da3_prediction p;
    double t0 = gs_now();
    CHECK_OK(gs_da3_forward(&m, x, S, H, W, w2c_norm, K, &o, &p));
    double dt = gs_now() - t0;
    CHECK_MSG(!c.first_bad[0], "%s: %s", case_path, c.first_bad);
    CHECK_MSG(c.compared >= 5, "%s: only %d tensors compared", case_path, c.compared);
    if (require_all) {
        for (int i = 0; i < ref.n; i++) {
            const char *nm = ref.tensors[i].name;
            if (not_produced_ok(nm) || was_seen(&c, nm)) continue;
            CHECK_MSG(0, "%s: reference tensor %s was never produced by our forward pass", case_path, nm);
        }
    }
    if (o.infer_gs) CHECK(p.gaussians.n == (int64_t)S * H * W);
    if (getenv("GS_TEST_VERBOSE"))
        fprintf(stderr, "  %s: %d tensors, worst relative error %.2g (%s), %.1f ms\n", case_path, c.compared,
                c.worst_rel, c.worst_name, dt * 1e3);
    gs_da3_prediction_free(&p);
    for (int i = 0; i < c.n_seen; i++) free(c.seen[i]);
    free(w2c_norm);
    gs_da3_free(&m);
    gs_st_close(&ref);
}

static void run_golden(const char *name) {
    char case_path[256], model_dir[256];
    snprintf(case_path, sizeof case_path, GOLD "/%s.safetensors", name);
    REQUIRE_GOLDEN(case_path);
    gs_safetensors ref;
    CHECK_OK(gs_st_open(&ref, case_path));
    if (gs_test_failed()) return;
    snprintf(model_dir, sizeof model_dir, GOLD "/%s", meta(&ref, "model", "?"));
    gs_st_close(&ref);
    run_case(case_path, model_dir, 1);
}

TEST(da3_model_anyview_s1) { run_golden("anyview_s1"); }
TEST(da3_model_anyview_s2) { run_golden("anyview_s2"); }
TEST(da3_model_anyview_s4_saddle) { run_golden("anyview_s4_saddle"); }
TEST(da3_model_anyview_s3_first) { run_golden("anyview_s3_first"); }
TEST(da3_model_anyview_s3_middle) { run_golden("anyview_s3_middle"); }
TEST(da3_model_anyview_s3_simrange) { run_golden("anyview_s3_simrange"); }
TEST(da3_model_anyview_posed_s3) { run_golden("anyview_posed_s3"); }
TEST(da3_model_anyview_ray_s2) { run_golden("anyview_ray_s2"); }
TEST(da3_model_anyview_bf16_s2) { run_golden("anyview_bf16_s2"); }
TEST(da3_model_mono_s1) { run_golden("mono_s1"); }
TEST(da3_model_mono_s2) { run_golden("mono_s2"); }
TEST(da3_model_giant_gs_s2) { run_golden("giant_gs_s2"); }
TEST(da3_model_giant_gs_posed_s3) { run_golden("giant_gs_posed_s3"); }
TEST(da3_model_nested_s2) { run_golden("nested_s2"); }

/* Full-size parity (make parity): GS_PARITY_DIR holds case.safetensors and model/. */
TEST(da3_parity_full) {
    const char *dir = getenv("GS_PARITY_DIR");
    if (!dir) TEST_SKIP("GS_PARITY_DIR not set (run `make parity`, needs torch)");
    char case_path[1024], model_dir[1024];
    snprintf(case_path, sizeof case_path, "%s/case.safetensors", dir);
    snprintf(model_dir, sizeof model_dir, "%s/model", dir);
    run_case(case_path, model_dir, 0);
}

/* The loader: a folder without a checkpoint, a bare file without config, an
 * unknown config name, a model that lacks a head the caller asks for. */
TEST(da3_model_load_errors) {
    gs_da3_model m;
    CHECK_ERR(gs_da3_load(&m, gs_test_tmpdir(), NULL), "model.safetensors");
    CHECK_ERR(gs_da3_load(&m, "/nonexistent/model.safetensors", NULL), "no such file");
    REQUIRE_GOLDEN(GOLD "/tiny-mono/model.safetensors");
    CHECK_ERR(gs_da3_load(&m, GOLD "/tiny-mono/model.safetensors", "da3-nonsense"), "da3-nonsense");
    /* the tiny checkpoint is not da3-small: every mismatch is reported by name */
    CHECK_ERR(gs_da3_load(&m, GOLD "/tiny-mono/model.safetensors", "da3-small"), "model.backbone.pretrained");
    CHECK_OK(gs_da3_load(&m, GOLD "/tiny-mono", NULL));
    const gs_safetensors *unused = NULL;
    (void)unused;
    gs_safetensors ref;
    CHECK_OK(gs_st_open(&ref, GOLD "/mono_s1.safetensors"));
    int S = 1, H = atoi(meta(&ref, "height", "0")), W = atoi(meta(&ref, "width", "0"));
    const float *x = ref_f32(&ref, "input.images", (int64_t)S * 3 * H * W);
    gs_da3_options o;
    gs_da3_options_default(&o);
    o.infer_gs = 1;
    gs_da3_prediction p;
    CHECK_ERR(gs_da3_forward(&m, x, S, H, W, NULL, NULL, &o, &p), "da3-giant");
    o.infer_gs = 0;
    CHECK_ERR(gs_da3_forward(&m, x, S, H + 1, W, NULL, NULL, &o, &p), "multiples of 14");
    float ext[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, K[9] = {50, 0, 20, 0, 50, 20, 0, 0, 1};
    CHECK_ERR(gs_da3_forward(&m, x, S, H, W, ext, K, &o, &p), "camera encoder");
    gs_st_close(&ref);
    gs_da3_free(&m);
}

/* All seven official models: the configuration table and the binding code
 * must ask for exactly the keys and shapes of the official state_dict
 * (../shared/docs/da3-state-dict-keys, made by instantiating the reference
 * modules), without needing the weights. */
static int read_tsv(const char *path, char ***names, int **ndims, int64_t (**shapes)[GS_MAX_DIMS]) {
    uint8_t *text;
    size_t size;
    if (gs_read_file(path, 1 << 24, &text, &size)) return -1;
    int cap = 2048, n = 0;
    *names = calloc(cap, sizeof **names);
    *ndims = calloc(cap, sizeof **ndims);
    *shapes = calloc(cap, sizeof **shapes);
    char *save = NULL;
    for (char *line = strtok_r((char *)text, "\n", &save); line && n < cap; line = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        (*names)[n] = strdup(line);
        int nd = 0;
        for (char *q = strchr(tab + 1, '['); q && *q && *q != ']' && nd < GS_MAX_DIMS;) {
            q++;
            while (*q == ' ') q++;
            if (*q == ']') break;
            (*shapes)[n][nd++] = strtoll(q, &q, 10);
            while (*q == ' ') q++;
            if (*q != ',') break;
        }
        (*ndims)[n] = nd;
        n++;
    }
    free(text);
    return n;
}

static void free_tsv(int n, char **names, int *ndims, int64_t (*shapes)[GS_MAX_DIMS]) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(ndims);
    free(shapes);
}

TEST(da3_official_key_lists) {
    const char *dir = "../shared/docs/da3-state-dict-keys";
    REQUIRE_GOLDEN(dir);
    for (int k = 0; gs_da3_model_names[k]; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/statedict_%s.tsv", dir, gs_da3_model_names[k]);
        char **names;
        int *ndims;
        int64_t(*shapes)[GS_MAX_DIMS];
        int n = read_tsv(path, &names, &ndims, &shapes);
        CHECK_MSG(n > 400, "%s: %d keys read", path, n);
        if (n <= 0) continue;
        gs_da3_model m;
        memset(&m, 0, sizeof m);
        CHECK_OK(gs_da3_config_named(gs_da3_model_names[k], &m.cfg));
        CHECK_OK(gs_weights_open_virtual(&m.w, n, (const char *const *)names, ndims,
                                         (const int64_t(*)[GS_MAX_DIMS])shapes, path));
        gs_status st = gs_da3_bind(&m);
        CHECK_MSG(st == GS_OK, "%s: %s", gs_da3_model_names[k], gs_last_error());
        if (!st) {
            /* the shared aux LayerNorm may be stored under one alias only */
            int64_t params = gs_st_param_count(&m.w.st);
            CHECK(params > 20000000);
            gs_da3_free(&m);
        }
        /* drop one key and add an unknown one: both are named */
        if (k == 0) {
            char *keep = names[7];
            names[7] = strdup("model.backbone.pretrained.mask_token");
            memset(&m, 0, sizeof m);
            CHECK_OK(gs_da3_config_named(gs_da3_model_names[k], &m.cfg));
            CHECK_OK(gs_weights_open_virtual(&m.w, n, (const char *const *)names, ndims,
                                             (const int64_t(*)[GS_MAX_DIMS])shapes, path));
            CHECK_ERR(gs_da3_bind(&m), keep);
            CHECK(strstr(gs_last_error(), "unexpected key model.backbone.pretrained.mask_token") != NULL);
            free(names[7]);
            names[7] = keep;
        }
        free_tsv(n, names, ndims, shapes);
    }
}

/* DIR/model.safetensors + config.json: tiny-anyview with every tensor stored
 * as `dt` (F32, F16 or BF16) and element at[i] of tensor keys[i] set to v[i]. */
static void write_poisoned(const char *dir, gs_dtype dt, int n, const char *const *keys, const size_t *at,
                           const float *v) {
    gs_safetensors src;
    CHECK_OK(gs_st_open(&src, GOLD "/tiny-anyview/model.safetensors"));
    if (gs_test_failed()) return;
    gs_st_writer *w = gs_st_writer_new();
    void **bufs = calloc((size_t)src.n, sizeof *bufs); /* the writer copies at save time */
    for (int i = 0; i < src.n; i++) {
        const gs_st_tensor *t = &src.tensors[i];
        size_t ne = (size_t)((t->end - t->begin) / 4);
        float *f = malloc((ne ? ne : 1) * sizeof *f);
        memcpy(f, t->data, ne * sizeof *f);
        for (int k = 0; k < n; k++)
            if (!strcmp(t->name, keys[k]) && at[k] < ne) f[at[k]] = v[k];
        if (dt != GS_F32) {
            uint16_t *h = malloc((ne ? ne : 1) * sizeof *h);
            for (size_t j = 0; j < ne; j++) h[j] = dt == GS_F16 ? gs_f32_to_f16(f[j]) : gs_f32_to_bf16(f[j]);
            free(f);
            bufs[i] = h;
        } else {
            bufs[i] = f;
        }
        CHECK_OK(gs_st_writer_add(w, t->name, dt, t->ndim, t->shape, bufs[i]));
    }
    CHECK_OK(gs_mkdirs(dir));
    char path[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(gs_st_writer_save(w, path));
    gs_st_writer_free(w);
    for (int i = 0; i < src.n; i++) free(bufs[i]);
    free(bufs);
    gs_st_close(&src);
    uint8_t *cfg;
    size_t cn;
    CHECK_OK(gs_read_file(GOLD "/tiny-anyview/config.json", 1 << 20, &cfg, &cn));
    snprintf(path, sizeof path, "%s/config.json", dir);
    CHECK_OK(gs_write_file_atomic(path, cfg, cn));
    free(cfg);
}

/* F16 checkpoints load and run: tiny-anyview rewritten as F16 gives the
 * reference depth within the rounding of the weights (the BF16 case above
 * is exact because its reference used the rounded weights). */
TEST(da3_model_f16_checkpoint) {
    REQUIRE_GOLDEN(GOLD "/tiny-anyview/model.safetensors");
    const char *dir = gs_test_tmp("tiny-f16");
    write_poisoned(dir, GS_F16, 0, NULL, NULL, NULL); /* nothing poisoned: the model as F16 */
    gs_safetensors ref;
    CHECK_OK(gs_st_open(&ref, GOLD "/anyview_s2.safetensors"));
    int S = 2, H = atoi(meta(&ref, "height", "0")), W = atoi(meta(&ref, "width", "0"));
    const float *x = ref_f32(&ref, "input.images", (int64_t)S * 3 * H * W);
    const float *depth = ref_f32(&ref, "head.depth", (int64_t)S * H * W);
    gs_da3_model m;
    CHECK_OK(gs_da3_load(&m, dir, NULL));
    CHECK(m.w.st.n > 0 && m.w.st.tensors[0].dtype == GS_F16);
    gs_da3_prediction p;
    CHECK_OK(gs_da3_forward(&m, x, S, H, W, NULL, NULL, NULL, &p));
    if (!gs_test_failed() && depth) {
        double md = 0, mb = 0;
        for (int i = 0; i < S * H * W; i++) {
            md = fmax(md, fabs(p.depth[i] - depth[i]));
            mb = fmax(mb, fabs(depth[i]));
        }
        /* F16 keeps 11 bits: ~5e-4 relative per weight; measured 1.3e-3 after
         * the network, > 0 because the weights really were rounded */
        CHECK_MSG(md / mb < 5e-3 && md / mb > 0, "F16 depth relative error %g", md / mb);
        gs_da3_prediction_free(&p);
    }
    gs_da3_free(&m);
    gs_st_close(&ref);
}


/* A NaN or Inf weight fails the load, naming the file, the tensor, the kind
 * of value and the element (it used to load, and the forward then blamed
 * "backbone feature 0"), whether the tensor is used in place (F32) or
 * converted (F16, BF16), in the backbone or in a head. */
TEST(da3_model_nonfinite_weight_fails_at_load) {
    REQUIRE_GOLDEN(GOLD "/tiny-anyview/model.safetensors");
    static const char *const qkv = "model.backbone.pretrained.blocks.3.attn.qkv.weight";
    static const char *const head = "model.head.projects.1.weight";
    gs_da3_model m;
    const char *dir = gs_test_tmp("nan-f32");
    write_poisoned(dir, GS_F32, 1, &qkv, (const size_t[]){17}, (const float[]){NAN});
    CHECK_ERR(gs_da3_load(&m, dir, NULL), "model.safetensors: tensor model.backbone.pretrained.blocks.3.attn.qkv.weight "
                                          "has a non-finite value (NaN) at element 17");
    CHECK_MSG(strstr(gs_last_error(), dir) && !strstr(gs_last_error(), "missing"), "%s", gs_last_error());
    CHECK(m.w.st.n == 0); /* nothing left to free */

    dir = gs_test_tmp("inf-f16");
    write_poisoned(dir, GS_F16, 1, &head, (const size_t[]){3}, (const float[]){INFINITY});
    CHECK_ERR(gs_da3_load(&m, dir, NULL), "tensor model.head.projects.1.weight has a non-finite value (+Inf) at element 3");
    CHECK_MSG(!strstr(gs_last_error(), "missing"), "%s", gs_last_error());

    /* two tensors: both named, one message */
    dir = gs_test_tmp("inf-bf16");
    write_poisoned(dir, GS_BF16, 2, (const char *const[]){qkv, head}, (const size_t[]){0, 5},
                   (const float[]){-INFINITY, NAN});
    CHECK_ERR(gs_da3_load(&m, dir, NULL), "2 tensors have non-finite values");
    CHECK_MSG(strstr(gs_last_error(), "blocks.3.attn.qkv.weight has a non-finite value (-Inf) at element 0") &&
                  strstr(gs_last_error(), "head.projects.1.weight has a non-finite value (NaN) at element 5"),
              "%s", gs_last_error());

    /* the same copy without a poisoned value loads */
    dir = gs_test_tmp("clean-f32");
    write_poisoned(dir, GS_F32, 0, NULL, NULL, NULL);
    CHECK_OK(gs_da3_load(&m, dir, NULL));
    gs_da3_free(&m);
}
