/* test_da3_backbone.c - the DA3 backbone (backbone/vit.c) and the model
 * configurations (backbone/da3_config.c).
 *
 * Parity: every case of tests/golden/da3 (tiny random-weight checkpoints in
 * the official key layout, reference tensors from the official PyTorch code
 * in fp32, made by tools/make_da3_goldens.py) runs through gs_vit_forward; a
 * dump callback compares each backbone tensor the case holds, in forward
 * order, and the first one off by more than 1e-4 (max |a-b| / max |ref|) is
 * reported with its errors. Every backbone tensor of the case must have been
 * produced. Also: the configuration table against the official parameter
 * counts, config.json errors, checkpoints with a missing, mis-shaped or
 * extra key, bad forward inputs. Set GS_TEST_VERBOSE=1 to print per-case
 * errors and timings. */
#include "tests/test.h"
#include "backbone/vit.h"
#include "gs/ops/ops.h"

#include <dirent.h>
#include <stdlib.h>

#define GOLDEN_DIR "tests/golden/da3"
#define PARITY_TOL 1e-4

static int verbose(void) {
    const char *v = getenv("GS_TEST_VERBOSE");
    return v && *v && strcmp(v, "0");
}

/* ---- configuration table ----------------------------------------------------------- */

/* Parameter count of the backbone a config describes (the state-dict rules of
 * docs/da3-architecture.md §8.2). */
static int64_t backbone_params(const gs_da3_net_config *n) {
    const int64_t C = n->embed_dim, hd = C / n->num_heads, h = n->ffn_hidden, G = n->pos_grid, p = n->patch_size;
    int64_t s = C + (n->alt_start != -1 ? 2 * C : 0) + (G * G + 1) * C + C * 3 * p * p + C + 2 * C;
    for (int i = 0; i < n->depth; i++) {
        s += 2 * C + 3 * C * C + 3 * C + C * C + C + C + 2 * C + C; /* norms, qkv, proj, ls */
        if (n->qknorm_start != -1 && i >= n->qknorm_start) s += 4 * hd;
        s += n->swiglu ? 2 * h * C + 2 * h + C * h + C : h * C + h + C * h + C;
    }
    return s;
}

TEST(da3_config_table_matches_official_models) {
    /* backbone parameter counts of docs/da3-architecture.md §1 (instantiated
     * from the official configs) */
    const struct { const char *name; int64_t params; int C, depth, out3, alt, cat; } want[] = {
        {"da3-small", 22059008, 384, 12, 11, 4, 1},      {"da3-base", 86583296, 768, 12, 11, 4, 1},
        {"da3-large", 304373760, 1024, 24, 23, 8, 1},    {"da3-giant", 1136489216, 1536, 40, 39, 13, 1},
        {"da3metric-large", 304367616, 1024, 24, 23, -1, 0}, {"da3mono-large", 304367616, 1024, 24, 23, -1, 0}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        gs_da3_config c;
        CHECK_OK(gs_da3_config_named(want[i].name, &c));
        CHECK_MSG(backbone_params(&c.net) == want[i].params, "%s: %lld backbone parameters, official %lld",
                  want[i].name, (long long)backbone_params(&c.net), (long long)want[i].params);
        CHECK_EQ_INT(c.net.embed_dim, want[i].C);
        CHECK_EQ_INT(c.net.depth, want[i].depth);
        CHECK_EQ_INT(c.net.out_layers[3], want[i].out3);
        CHECK_EQ_INT(c.net.alt_start, want[i].alt);
        CHECK_EQ_INT(c.net.cat_token, want[i].cat);
        CHECK_EQ_INT(c.net.head_dim_in, want[i].cat ? 2 * want[i].C : want[i].C);
        CHECK_EQ_INT(c.net.embed_dim / c.net.num_heads, 64);
        CHECK_STR(c.prefix, "model.");
        CHECK_EQ_INT(c.nested, 0);
    }
    gs_da3_config c;
    CHECK_OK(gs_da3_config_named("da3-giant", &c));
    CHECK_EQ_INT(c.net.swiglu, 1);
    CHECK_EQ_INT(c.net.ffn_hidden, (4 * 1536 * 2 / 3 + 7) / 8 * 8); /* swiglu_ffn.py rule: 4096 */
    CHECK_EQ_INT(c.net.has_gs_head, 1);
    CHECK_OK(gs_da3_config_named("da3metric-large", &c));
    CHECK_EQ_INT(c.net.head_kind, GS_DA3_HEAD_DPT);
    CHECK_EQ_INT(c.net.head_sky, 1);
    CHECK_EQ_INT(c.net.has_cam_dec, 0);
    CHECK_EQ_INT(c.net.out_layers[0], 4);
    CHECK_OK(gs_da3_config_named("da3nested-giant-large", &c));
    CHECK_EQ_INT(c.nested, 1);
    CHECK_STR(c.prefix, "model.da3.");
    CHECK_STR(c.metric_prefix, "model.da3_metric.");
    CHECK_EQ_INT(c.net.depth, 40);
    CHECK_EQ_INT(c.metric.depth, 24);
    int n = 0;
    while (gs_da3_model_names[n]) n++;
    CHECK_EQ_INT(n, 7);
    CHECK_ERR(gs_da3_config_named("da3-huge", &c), "da3-huge");
}

static const char *write_json(const char *name, const char *text) {
    const char *p = gs_test_tmp(name);
    if (gs_write_file_atomic(p, text, strlen(text)) != GS_OK) return NULL;
    return p;
}

/* a valid tiny any-view gs_arch; %s slots let a test replace one field */
static const char *arch_json(char *buf, size_t n, const char *field, const char *value) {
    const char *fields[][2] = {
        {"embed_dim", "32"}, {"depth", "6"}, {"num_heads", "2"}, {"swiglu", "false"}, {"ffn_hidden", "128"},
        {"out_layers", "[1,3,4,5]"}, {"alt_start", "2"}, {"qknorm_start", "3"}, {"rope_start", "2"},
        {"cat_token", "true"}, {"patch_size", "14"}, {"pos_grid", "37"}, {"head_kind", "\"dualdpt\""},
        {"head_dim_in", "64"}, {"features", "16"}, {"out_channels", "[8,16,32,32]"}, {"head_sky", "false"},
        {"has_cam_enc", "true"}, {"has_cam_dec", "true"}, {"cam_enc_heads", "16"}, {"has_gs_head", "false"},
        {"gs_features", "0"}, {"gs_out_channels", "[0,0,0,0]"}};
    size_t o = (size_t)snprintf(buf, n, "{\"model_name\": \"tiny-test\", \"gs_arch\": {");
    int first = 1;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = fields[i][1];
        if (field && !strcmp(field, fields[i][0])) {
            if (!value) continue; /* drop the field */
            v = value;
        }
        o += (size_t)snprintf(buf + o, n - o, "%s\"%s\": %s", first ? "" : ", ", fields[i][0], v);
        first = 0;
    }
    snprintf(buf + o, n - o, "}}");
    return buf;
}

TEST(da3_config_load_reads_names_and_gs_arch) {
    gs_da3_config c;
    const char *p = write_json("config.json", "{\"model_name\": \"da3-large\", \"_note\": 1, \"gs_arch\": 5}");
    CHECK_OK(gs_da3_config_load(p, &c)); /* official names ignore every other field */
    CHECK_STR(c.model_name, "da3-large");
    CHECK_EQ_INT(c.net.depth, 24);
    char buf[2048];
    p = write_json("config.json", arch_json(buf, sizeof buf, NULL, NULL));
    CHECK_OK(gs_da3_config_load(p, &c));
    CHECK_STR(c.model_name, "tiny-test");
    CHECK_STR(c.prefix, "model.");
    CHECK_EQ_INT(c.net.embed_dim, 32);
    CHECK_EQ_INT(c.net.out_layers[1], 3);
    CHECK_EQ_INT(c.net.qknorm_start, 3);
    CHECK_EQ_INT(c.net.out_channels[2], 32);
    CHECK_EQ_INT(c.net.cat_token, 1);
    CHECK_EQ_INT(c.net.head_kind, GS_DA3_HEAD_DUALDPT);
    /* nested: two nets and the nested prefixes */
    char any[1024], nested[2600];
    arch_json(any, sizeof any, NULL, NULL);
    const char *inner = strstr(any, "\"gs_arch\": ") + strlen("\"gs_arch\": ");
    char inner_buf[1024];
    snprintf(inner_buf, sizeof inner_buf, "%.*s", (int)(strlen(inner) - 1), inner);
    snprintf(nested, sizeof nested,
             "{\"model_name\": \"tiny-n\", \"gs_arch\": {\"nested\": true, \"anyview\": %s, \"metric\": %s}}",
             inner_buf, inner_buf);
    p = write_json("config.json", nested);
    CHECK_OK(gs_da3_config_load(p, &c));
    CHECK_EQ_INT(c.nested, 1);
    CHECK_STR(c.prefix, "model.da3.");
    CHECK_STR(c.metric_prefix, "model.da3_metric.");
    CHECK_EQ_INT(c.metric.depth, 6);
}

TEST(da3_config_load_rejects_bad_files) {
    gs_da3_config c;
    char buf[2048];
    CHECK_ERR(gs_da3_config_load(gs_test_tmp("nonexistent/config.json"), &c), "config.json");
    CHECK_ERR(gs_da3_config_load(write_json("config.json", "{\"model_name\": "), &c), "config.json");
    CHECK_ERR(gs_da3_config_load(write_json("config.json", "[1, 2]"), &c), "not a JSON object");
    CHECK_ERR(gs_da3_config_load(write_json("config.json", "{\"name\": \"da3-large\"}"), &c), "model_name");
    CHECK_ERR(gs_da3_config_load(write_json("config.json", "{\"model_name\": \"da3-lorge\"}"), &c), "gs_arch");
    CHECK_ERR(gs_da3_config_load(write_json("config.json", "{\"model_name\": \"x\", \"gs_arch\": {\"nested\": true}}"), &c),
              "gs_arch.anyview");
    /* one field at a time: the message names the file and the field */
    const struct { const char *field, *value, *needle; } bad[] = {
        {"embed_dim", NULL, "gs_arch.embed_dim is missing"},
        {"embed_dim", "33", "not divisible by num_heads"},
        {"embed_dim", "-32", "gs_arch.embed_dim"},
        {"embed_dim", "1e12", "gs_arch.embed_dim"},
        {"embed_dim", "32.5", "gs_arch.embed_dim"},
        {"embed_dim", "\"32\"", "gs_arch.embed_dim"},
        {"num_heads", "0", "gs_arch.num_heads"},
        {"num_heads", "16", "head dim"},            /* head dim 2: not a multiple of 4 with RoPE */
        {"num_heads", "32", "head dim"},            /* head dim 1 */
        {"depth", "100000", "gs_arch.depth"},
        {"out_layers", "[1,3,5,4]", "strictly increasing"},
        {"out_layers", "[1,3,4,6]", "out_layers[3]"},
        {"out_layers", "[1,3,4]", "gs_arch.out_layers"},
        {"out_layers", "[1,3,4,-1]", "gs_arch.out_layers[3]"},
        {"alt_start", "6", "gs_arch.alt_start"},
        {"rope_start", "-2", "gs_arch.rope_start"},
        {"swiglu", "\"no\"", "gs_arch.swiglu"},
        {"head_kind", "\"dpt3\"", "gs_arch.head_kind"},
        {"head_dim_in", "32", "gs_arch.head_dim_in"},
        {"features", "15", "gs_arch.features"},
        {"out_channels", "[8,16,0,32]", "gs_arch.out_channels[2]"},
        {"patch_size", "0", "gs_arch.patch_size"},
        {"patch_size", "28", "gs_arch.patch_size"}, /* the DPT heads' geometry is DA3's 14-pixel patch */
        {"cam_enc_heads", "5", "cam_enc_heads"},
        {"cam_enc_heads", NULL, "gs_arch.cam_enc_heads is missing"},
        {"ffn_hidden", "0", "gs_arch.ffn_hidden"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = write_json("config.json", arch_json(buf, sizeof buf, bad[i].field, bad[i].value));
        gs_clear_error();
        gs_status st = gs_da3_config_load(p, &c);
        CHECK_MSG(st != GS_OK, "%s = %s accepted", bad[i].field, bad[i].value ? bad[i].value : "(absent)");
        CHECK_MSG(st == GS_OK || (strstr(gs_last_error(), bad[i].needle) && strstr(gs_last_error(), "config.json")),
                  "%s = %s: error \"%s\" lacks \"%s\"", bad[i].field, bad[i].value ? bad[i].value : "(absent)",
                  gs_last_error(), bad[i].needle);
    }
}

/* ---- parity with the reference ----------------------------------------------------- */

typedef struct {
    const gs_safetensors *ref;
    const char *case_name;
    const char *prefix;     /* "" or "metric." */
    int compared, failed;
    char first_bad[192];
    double bad_abs, bad_rel;
    double feat_rel[4];     /* per output level */
    double max_rel;
    char seen[64][128];
    int n_seen;
} cmp_ctx;

static void compare_dump(void *vctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    cmp_ctx *c = vctx;
    char full[128];
    snprintf(full, sizeof full, "%s%s", c->prefix, name);
    const gs_st_tensor *t = gs_st_find(c->ref, full);
    if (!t) return; /* the case keeps only some tensors */
    if (c->n_seen < 64) snprintf(c->seen[c->n_seen++], sizeof c->seen[0], "%s", full);
    c->compared++;
    int same = t->ndim == ndim && t->dtype == GS_F32;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    double dmax = 0, bmax = 0;
    if (same) {
        const size_t n = (size_t)((t->end - t->begin) / 4);
        const float *b = (const float *)t->data;
        for (size_t i = 0; i < n; i++) {
            const double d = fabs((double)data[i] - b[i]);
            if (!(d <= dmax)) dmax = d; /* NaN sticks */
            if (fabs(b[i]) > bmax) bmax = fabs(b[i]);
        }
    } else {
        dmax = INFINITY;
    }
    const double rel = dmax / (bmax > 1e-6 ? bmax : 1e-6);
    if (!(rel <= c->max_rel)) c->max_rel = rel;
    int k;
    if (sscanf(name, "backbone.feat.%d", &k) == 1 && k >= 0 && k < 4) c->feat_rel[k] = rel;
    if (!(rel <= PARITY_TOL)) {
        c->failed++;
        if (!c->first_bad[0]) {
            snprintf(c->first_bad, sizeof c->first_bad, "%s%s", full, same ? "" : " (shape or dtype differs)");
            c->bad_abs = dmax, c->bad_rel = rel;
        }
    }
}

static int was_seen(const cmp_ctx *c, const char *name) {
    for (int i = 0; i < c->n_seen; i++)
        if (!strcmp(c->seen[i], name)) return 1;
    return 0;
}

static const float *case_tensor(const gs_safetensors *st, const char *name, int64_t numel) {
    const gs_st_tensor *t = gs_st_find(st, name);
    if (!t || t->dtype != GS_F32 || (int64_t)((t->end - t->begin) / 4) != numel) return NULL;
    return (const float *)t->data;
}

/* Run the backbone(s) of one case file; returns the max rel error of the last
 * feature of the (first) net, or -1 when the case could not run. */
static double run_case(const char *case_file, double *ms_out) {
    char path[512], dir[512], cfg_path[600], w_path[600];
    snprintf(path, sizeof path, "%s/%s", GOLDEN_DIR, case_file);
    gs_safetensors ref;
    if (gs_st_open(&ref, path) != GS_OK) {
        CHECK_MSG(0, "%s: %s", case_file, gs_last_error());
        return -1;
    }
    const char *model = gs_st_meta(&ref, "model"), *views = gs_st_meta(&ref, "views");
    const char *hs = gs_st_meta(&ref, "height"), *ws = gs_st_meta(&ref, "width");
    const char *strat_s = gs_st_meta(&ref, "ref_view_strategy"), *posed = gs_st_meta(&ref, "posed");
    double result = -1;
    gs_weights w;
    int w_open = 0;
    gs_da3_config cfg;
    gs_ref_strategy strat = GS_REF_SADDLE_BALANCED;
    if (!model || !views || !hs || !ws || !strat_s) {
        CHECK_MSG(0, "%s: metadata incomplete", case_file);
        goto out;
    }
    const int S = atoi(views), H = atoi(hs), W = atoi(ws);
    snprintf(dir, sizeof dir, "%s/%s", GOLDEN_DIR, model);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(w_path, sizeof w_path, "%s/model.safetensors", dir);
    CHECK_OK(gs_ref_strategy_parse(strat_s, &strat));
    CHECK_OK(gs_da3_config_load(cfg_path, &cfg));
    if (gs_test_failed()) goto out;
    CHECK_OK(gs_weights_open(&w, w_path));
    if (gs_test_failed()) goto out;
    w_open = 1;
    const float *images = case_tensor(&ref, "input.images", (int64_t)S * 3 * H * W);
    CHECK_MSG(images != NULL, "%s: input.images missing or mis-sized", case_file);
    if (!images) goto out;
    for (int net = 0; net < (cfg.nested ? 2 : 1); net++) {
        const gs_da3_net_config *nc = net ? &cfg.metric : &cfg.net;
        gs_vit vit;
        gs_status st = gs_vit_bind(&vit, nc, &w, net ? cfg.metric_prefix : cfg.prefix);
        CHECK_MSG(st == GS_OK, "%s: bind: %s", case_file, gs_last_error());
        if (st != GS_OK) goto out;
        const float *cam = NULL;
        if (!net && posed && !strcmp(posed, "1")) {
            cam = case_tensor(&ref, "cam_enc.tokens", (int64_t)S * nc->embed_dim);
            CHECK_MSG(cam != NULL, "%s: posed case without cam_enc.tokens", case_file);
        }
        cmp_ctx c;
        memset(&c, 0, sizeof c);
        c.ref = &ref, c.case_name = case_file, c.prefix = net ? "metric." : "";
        gs_dump d = {compare_dump, &c};
        gs_vit_out o;
        const double t0 = gs_now();
        st = gs_vit_forward(&g_test_cpu, &vit, images, S, H, W, cam, strat, &d, &o);
        if (ms_out && !net) *ms_out = (gs_now() - t0) * 1e3;
        CHECK_MSG(st == GS_OK, "%s: forward: %s", case_file, gs_last_error());
        if (st == GS_OK) {
            CHECK_MSG(!c.first_bad[0], "%s: first divergence at %s: max abs %.3g, max rel %.3g (%d of %d tensors over %g)",
                      case_file, c.first_bad, c.bad_abs, c.bad_rel, c.failed, c.compared, PARITY_TOL);
            /* every backbone tensor of the case must have been produced */
            char want[32];
            snprintf(want, sizeof want, "%sbackbone.", c.prefix);
            for (int i = 0; i < ref.n; i++)
                if (!strncmp(ref.tensors[i].name, want, strlen(want)))
                    CHECK_MSG(was_seen(&c, ref.tensors[i].name), "%s: reference %s was never produced", case_file,
                              ref.tensors[i].name);
            CHECK_MSG(c.compared >= 4, "%s: only %d tensors compared", case_file, c.compared);
            if (!net) result = c.feat_rel[3];
            if (verbose())
                printf("    %-32s %s%d tensors, max rel %.2e, feat.0..3 rel %.2e %.2e %.2e %.2e, ref %d\n", case_file,
                       c.prefix, c.compared, c.max_rel, c.feat_rel[0], c.feat_rel[1], c.feat_rel[2], c.feat_rel[3],
                       o.ref_index);
        }
        gs_vit_out_free(&o);
        gs_vit_free(&vit);
    }
out:
    if (w_open) gs_weights_close(&w);
    gs_st_close(&ref);
    return result;
}

TEST(da3_backbone_matches_reference_on_every_case) {
    REQUIRE_GOLDEN(GOLDEN_DIR);
    DIR *d = opendir(GOLDEN_DIR);
    CHECK(d != NULL);
    if (!d) return;
    char names[64][128];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64)
        if (gs_path_ends_with(e->d_name, ".safetensors") && strlen(e->d_name) < sizeof names[0])
            memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    CHECK_MSG(n >= 5, "only %d cases in " GOLDEN_DIR, n);
    for (int i = 0; i < n; i++) {
        double ms = 0;
        double rel = run_case(names[i], &ms);
        if (verbose()) printf("    %-32s final features max rel %.2e, forward %.1f ms\n", names[i], rel, ms);
    }
}

TEST(da3_backbone_odd_alt_start_case) {
    /* tests/golden/backbone/odd_alt.safetensors (tools/make_backbone_goldens.py):
     * alt_start 3 is odd and an output layer, so the reference's in-place
     * camera-token write also lands in local_x; qknorm/rope/alt starts all
     * differ; a 5x5 positional grid; saddle_balanced picks view 1. Weights and
     * reference tensors share the file. */
    const char *path = "tests/golden/backbone/odd_alt.safetensors";
    REQUIRE_GOLDEN(path);
    gs_safetensors ref;
    CHECK_OK(gs_st_open(&ref, path));
    if (gs_test_failed()) return;
    const char *arch = gs_st_meta(&ref, "gs_arch");
    CHECK(arch != NULL);
    char json[2048];
    snprintf(json, sizeof json, "{\"model_name\": \"odd-alt\", \"gs_arch\": %s}", arch ? arch : "{}");
    const char *cfg_path = write_json("config.json", json);
    gs_da3_config cfg;
    CHECK_OK(gs_da3_config_load(cfg_path, &cfg));
    const int S = atoi(gs_st_meta(&ref, "views")), H = atoi(gs_st_meta(&ref, "height")),
              W = atoi(gs_st_meta(&ref, "width"));
    const float *images = case_tensor(&ref, "input.images", (int64_t)S * 3 * H * W);
    CHECK(images != NULL);
    gs_weights w;
    CHECK_OK(gs_weights_open(&w, path));
    if (gs_test_failed()) {
        gs_st_close(&ref);
        return;
    }
    gs_vit vit;
    CHECK_OK(gs_vit_bind(&vit, &cfg.net, &w, cfg.prefix));
    const char *only_backbone[] = {"model.backbone.", NULL};
    CHECK_OK(gs_weights_check(&w, only_backbone));
    if (!gs_test_failed()) {
        cmp_ctx c;
        memset(&c, 0, sizeof c);
        c.ref = &ref, c.case_name = "odd_alt", c.prefix = "";
        gs_dump d = {compare_dump, &c};
        gs_vit_out o;
        CHECK_OK(gs_vit_forward(&g_test_cpu, &vit, images, S, H, W, NULL, GS_REF_SADDLE_BALANCED, &d, &o));
        CHECK_MSG(!c.first_bad[0], "odd_alt: first divergence at %s: max abs %.3g, max rel %.3g", c.first_bad,
                  c.bad_abs, c.bad_rel);
        for (int i = 0; i < ref.n; i++)
            if (!strncmp(ref.tensors[i].name, "backbone.", 9))
                CHECK_MSG(was_seen(&c, ref.tensors[i].name), "odd_alt: %s never produced", ref.tensors[i].name);
        CHECK_EQ_INT(o.ref_index, atoi(gs_st_meta(&ref, "ref_index")));
        CHECK(c.compared >= 14);
        if (verbose()) printf("    odd_alt: %d tensors, max rel %.2e, final features %.2e\n", c.compared, c.max_rel,
                              c.feat_rel[3]);
        gs_vit_out_free(&o);
    }
    gs_vit_free(&vit);
    gs_weights_close(&w);
    gs_st_close(&ref);
}

TEST(da3_backbone_bf16_checkpoint) {
    /* the bf16 copy of the tiny model: weights are converted on load; the
     * reference ran on the same values upcast to f32 */
    REQUIRE_GOLDEN(GOLDEN_DIR);
    gs_safetensors st;
    CHECK_OK(gs_st_open(&st, GOLDEN_DIR "/tiny-anyview-bf16/model.safetensors"));
    if (gs_test_failed()) return;
    const gs_st_tensor *t = gs_st_find(&st, "model.backbone.pretrained.blocks.0.attn.qkv.weight");
    CHECK(t && t->dtype == GS_BF16);
    gs_st_close(&st);
    double rel = run_case("anyview_bf16_s2.safetensors", NULL);
    CHECK(rel >= 0 && rel < PARITY_TOL);
}

TEST(da3_backbone_pos_embed_cache_follows_image_size) {
    /* the same model on two sizes and back: the cached interpolation must be
     * recomputed each time, results identical to a fresh model */
    REQUIRE_GOLDEN(GOLDEN_DIR);
    gs_da3_config cfg;
    gs_weights w;
    CHECK_OK(gs_da3_config_load(GOLDEN_DIR "/tiny-anyview/config.json", &cfg));
    CHECK_OK(gs_weights_open(&w, GOLDEN_DIR "/tiny-anyview/model.safetensors"));
    if (gs_test_failed()) return;
    gs_vit a, b;
    CHECK_OK(gs_vit_bind(&a, &cfg.net, &w, cfg.prefix));
    CHECK_OK(gs_vit_bind(&b, &cfg.net, &w, cfg.prefix));
    if (!gs_test_failed()) {
        unsigned s = 7;
        float img[3 * 28 * 42];
        for (int i = 0; i < 3 * 28 * 42; i++) {
            s = s * 1664525u + 1013904223u;
            img[i] = (float)((s >> 9) & 0xfff) / 2048.0f - 1.0f;
        }
        gs_vit_out o1, o2, o3, f;
        CHECK_OK(gs_vit_forward(&g_test_cpu, &a, img, 1, 28, 42, NULL, GS_REF_FIRST, NULL, &o1));
        CHECK_OK(gs_vit_forward(&g_test_cpu, &a, img, 1, 42, 28, NULL, GS_REF_FIRST, NULL, &o2)); /* transposed grid */
        CHECK_OK(gs_vit_forward(&g_test_cpu, &a, img, 1, 28, 42, NULL, GS_REF_FIRST, NULL, &o3));
        CHECK_OK(gs_vit_forward(&g_test_cpu, &b, img, 1, 42, 28, NULL, GS_REF_FIRST, NULL, &f));
        if (!gs_test_failed()) {
            CHECK_EQ_INT(o2.ph, 3);
            CHECK_EQ_INT(o2.pw, 2);
            CHECK(!memcmp(o1.feat[3], o3.feat[3], (size_t)o1.P * o1.D * sizeof(float)));
            CHECK(!memcmp(o2.feat[3], f.feat[3], (size_t)f.P * f.D * sizeof(float)));
            CHECK(memcmp(o1.feat[3], o2.feat[3], (size_t)f.P * f.D * sizeof(float)) != 0);
            CHECK_EQ_INT(o1.ref_index, -1); /* one view: no reordering */
        }
        gs_vit_out_free(&o1), gs_vit_out_free(&o2), gs_vit_out_free(&o3), gs_vit_out_free(&f);
    }
    gs_vit_free(&a);
    gs_vit_free(&b);
    gs_weights_close(&w);
}

/* ---- bad checkpoints and inputs ---------------------------------------------------- */

/* Copy `src` to `dst`, leaving out `drop`, giving `reshape` the shape [1, n]
 * (a mis-shaped key) and adding `extra` (a copy of `drop`'s neighbour). */
static gs_status rewrite_ckpt(const char *src, const char *dst, const char *drop, const char *drop2,
                              const char *reshape, const char *extra) {
    gs_safetensors st;
    gs_status s = gs_st_open(&st, src);
    if (s != GS_OK) return s;
    gs_st_writer *wr = gs_st_writer_new();
    for (int i = 0; i < st.n && s == GS_OK; i++) {
        const gs_st_tensor *t = &st.tensors[i];
        if ((drop && !strcmp(t->name, drop)) || (drop2 && !strcmp(t->name, drop2))) continue;
        if (reshape && !strcmp(t->name, reshape)) {
            int64_t n = 1;
            for (int k = 0; k < t->ndim; k++) n *= t->shape[k];
            const int64_t shp[2] = {1, n};
            s = gs_st_writer_add(wr, t->name, t->dtype, 2, shp, t->data);
        } else {
            s = gs_st_writer_add(wr, t->name, t->dtype, t->ndim, t->shape, t->data);
        }
        if (s == GS_OK && extra && i == 0) s = gs_st_writer_add(wr, extra, t->dtype, t->ndim, t->shape, t->data);
    }
    if (s == GS_OK) s = gs_st_writer_save(wr, dst);
    gs_st_writer_free(wr);
    gs_st_close(&st);
    return s;
}

TEST(da3_backbone_reports_bad_checkpoints_by_key) {
    REQUIRE_GOLDEN(GOLDEN_DIR);
    const char *src = GOLDEN_DIR "/tiny-anyview/model.safetensors";
    gs_da3_config cfg;
    CHECK_OK(gs_da3_config_load(GOLDEN_DIR "/tiny-anyview/config.json", &cfg));
    const char *only_backbone[] = {"model.backbone.", NULL};
    gs_weights w;
    gs_vit vit;
    /* the untouched file binds and has nothing unexpected under the backbone */
    CHECK_OK(gs_weights_open(&w, src));
    CHECK_OK(gs_vit_bind(&vit, &cfg.net, &w, cfg.prefix));
    CHECK_OK(gs_weights_check(&w, only_backbone));
    gs_vit_free(&vit);
    gs_weights_close(&w);

    /* two missing keys: both named in one error */
    const char *p = gs_test_tmp("missing.safetensors");
    CHECK_OK(rewrite_ckpt(src, p, "model.backbone.pretrained.blocks.3.attn.q_norm.weight",
                          "model.backbone.pretrained.norm.bias", NULL, NULL));
    CHECK_OK(gs_weights_open(&w, p));
    CHECK_ERR(gs_vit_bind(&vit, &cfg.net, &w, cfg.prefix), "model.backbone.pretrained.blocks.3.attn.q_norm.weight");
    CHECK(strstr(gs_last_error(), "model.backbone.pretrained.norm.bias") != NULL);
    CHECK(vit.blocks == NULL); /* left empty */
    gs_vit_free(&vit);
    gs_weights_close(&w);

    /* a mis-shaped key */
    p = gs_test_tmp("shape.safetensors");
    CHECK_OK(rewrite_ckpt(src, p, NULL, NULL, "model.backbone.pretrained.blocks.0.attn.qkv.weight", NULL));
    CHECK_OK(gs_weights_open(&w, p));
    CHECK_ERR(gs_vit_bind(&vit, &cfg.net, &w, cfg.prefix), "model.backbone.pretrained.blocks.0.attn.qkv.weight");
    CHECK(strstr(gs_last_error(), "[96, 32]") != NULL); /* the expected shape */
    gs_vit_free(&vit);
    gs_weights_close(&w);

    /* an unexpected key: binding works, the check names it */
    p = gs_test_tmp("extra.safetensors");
    CHECK_OK(rewrite_ckpt(src, p, NULL, NULL, NULL, "model.backbone.pretrained.blocks.9.ls1.gamma"));
    CHECK_OK(gs_weights_open(&w, p));
    CHECK_OK(gs_vit_bind(&vit, &cfg.net, &w, cfg.prefix));
    CHECK_ERR(gs_weights_check(&w, only_backbone), "unexpected key model.backbone.pretrained.blocks.9.ls1.gamma");
    gs_vit_free(&vit);
    gs_weights_close(&w);

    /* the wrong prefix: everything is missing, reported (first 40) without crashing */
    CHECK_OK(gs_weights_open(&w, src));
    CHECK_ERR(gs_vit_bind(&vit, &cfg.net, &w, "model.da3."), "model.da3.backbone.pretrained.cls_token");
    gs_vit_free(&vit);
    gs_weights_close(&w);

    /* an inconsistent config is refused before any key is looked up */
    gs_da3_net_config bad = cfg.net;
    bad.num_heads = 3;
    CHECK_OK(gs_weights_open(&w, src));
    CHECK_ERR(gs_vit_bind(&vit, &bad, &w, cfg.prefix), "num_heads");
    gs_vit_free(&vit);
    gs_weights_close(&w);
}

TEST(da3_backbone_rejects_bad_inputs) {
    REQUIRE_GOLDEN(GOLDEN_DIR);
    gs_da3_config cfg, mono;
    gs_weights w, wm;
    CHECK_OK(gs_da3_config_load(GOLDEN_DIR "/tiny-anyview/config.json", &cfg));
    CHECK_OK(gs_da3_config_load(GOLDEN_DIR "/tiny-mono/config.json", &mono));
    CHECK_OK(gs_weights_open(&w, GOLDEN_DIR "/tiny-anyview/model.safetensors"));
    CHECK_OK(gs_weights_open(&wm, GOLDEN_DIR "/tiny-mono/model.safetensors"));
    if (gs_test_failed()) return;
    gs_vit vit, vm;
    CHECK_OK(gs_vit_bind(&vit, &cfg.net, &w, cfg.prefix));
    CHECK_OK(gs_vit_bind(&vm, &mono.net, &wm, mono.prefix));
    float *img = calloc(3 * 28 * 28 * 2, sizeof *img);
    float cam[2 * 32] = {0};
    gs_vit_out o;
    CHECK_ERR(gs_vit_forward(&g_test_cpu, &vit, img, 1, 27, 28, NULL, GS_REF_FIRST, NULL, &o), "multiple of the 14-pixel patch");
    CHECK_ERR(gs_vit_forward(&g_test_cpu, &vit, img, 1, 0, 28, NULL, GS_REF_FIRST, NULL, &o), "image size");
    CHECK_ERR(gs_vit_forward(&g_test_cpu, &vit, img, 0, 28, 28, NULL, GS_REF_FIRST, NULL, &o), "views");
    CHECK_ERR(gs_vit_forward(&g_test_cpu, &vit, img, 1, 28, 28, NULL, (gs_ref_strategy)9, NULL, &o), "strategy");
    CHECK_ERR(gs_vit_forward(&g_test_cpu, &vm, img, 2, 28, 28, cam, GS_REF_FIRST, NULL, &o), "camera-token");
    img[100] = NAN;
    CHECK_ERR(gs_vit_forward(&g_test_cpu, &vit, img, 1, 28, 28, NULL, GS_REF_FIRST, NULL, &o), "NaN");
    CHECK(o.feat[0] == NULL);
    img[100] = 0;
    cam[5] = INFINITY;
    CHECK_ERR(gs_vit_forward(&g_test_cpu, &vit, img, 2, 28, 28, cam, GS_REF_FIRST, NULL, &o), "camera tokens");
    gs_vit_free(&vit), gs_vit_free(&vm);
    gs_weights_close(&w), gs_weights_close(&wm);
    free(img);
    gs_ref_strategy s;
    CHECK_OK(gs_ref_strategy_parse("saddle_sim_range", &s));
    CHECK_EQ_INT(s, GS_REF_SADDLE_SIM_RANGE);
    CHECK_STR(gs_ref_strategy_name(GS_REF_MIDDLE), "middle");
    CHECK_ERR(gs_ref_strategy_parse("best", &s), "best");
}

TEST(da3_reference_view_selection_rules) {
    /* token-0 vectors (C = 4) chosen so each rule has a known answer */
    const float cls[5 * 4] = {
        1, 0, 0, 0,   /* view 0 */
        0, 2, 0, 0,   /* view 1: orthogonal to 0 */
        1, 1, 0, 0,   /* view 2: between 0 and 1 */
        0, 0, 3, 0,   /* view 3: orthogonal to all */
        1, 1, 1, 1,   /* view 4 */
    };
    CHECK_EQ_INT(gs_vit_select_reference(cls, 5, 4, 4, GS_REF_FIRST), 0);
    CHECK_EQ_INT(gs_vit_select_reference(cls, 5, 4, 4, GS_REF_MIDDLE), 2);
    CHECK_EQ_INT(gs_vit_select_reference(cls, 4, 4, 4, GS_REF_MIDDLE), 2);
    /* sim rows (diagonal 0) of views 0..3: views 0, 1 and 2 all have the
     * range 0.707 (cos 0.707 between 2 and each of 0, 1; min 0): an exact
     * tie, which goes to the first (the reference breaks it by float32
     * rounding of its diagonal) */
    CHECK_EQ_INT(gs_vit_select_reference(cls, 4, 4, 4, GS_REF_SADDLE_SIM_RANGE), 0);
    /* with view 3 = -3 e1 (cos -1 to view 1, -0.707 to view 2) the ranges are
     * v0 .707, v1 .707 + 1, v2 .707 + .707, v3 1: view 1 */
    const float neg[4 * 4] = {1, 0, 0, 0, 0, 2, 0, 0, 1, 1, 0, 0, 0, -3, 0, 0};
    CHECK_EQ_INT(gs_vit_select_reference(neg, 4, 4, 4, GS_REF_SADDLE_SIM_RANGE), 1);
    /* identical tokens: all metrics tie at 0 after min-max: argmin is the first */
    const float same[3 * 2] = {1, 2, 1, 2, 1, 2};
    CHECK_EQ_INT(gs_vit_select_reference(same, 3, 2, 2, GS_REF_SADDLE_BALANCED), 0);
    CHECK_EQ_INT(gs_vit_select_reference(same, 3, 2, 2, GS_REF_SADDLE_SIM_RANGE), 0);
    /* saddle_balanced on views 0..3 computed by hand:
     * sim_score = row sums / 3: v0 .2357, v1 .2357, v2 .4714, v3 0 -> norm .5 .5 1 0
     * norms 1 2 1.414 3 -> norm 0 .5 .207 1
     * unbiased var of the unit vectors: (1,0,0,0): .25, (.707,.707,0,0): .1667 -> v0 v1 v3 1, v2 0
     * scores: v0 .5+.5+.5 = 1.5, v1 0+0+.5 = .5, v2 .5+.293+.5, v3 .5+.5+.5 -> view 1 */
    CHECK_EQ_INT(gs_vit_select_reference(cls, 4, 4, 4, GS_REF_SADDLE_BALANCED), 1);
}
