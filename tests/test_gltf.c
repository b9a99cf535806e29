/* test_gltf.c - binary glTF (data/gltf.c): the KHR_gaussian_splatting
 * splats (plain and SPZ-compressed) through their round trip and their
 * conventions read straight from the bytes, DA3's scene.glb (points +
 * frusta) against the official geometry, corrupt files, point-cloud PLYs
 * read as scenes, and the CLI paths (gs infer / nvs / info / convert).
 * The optional check with a Python glTF library runs $GS_PYTHON. */
#include "tests/test.h"
#include "data/gltf.h"
#include "data/scene.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define FERN "scenes/fern/images_8/"
#define TINY_ANY "tests/golden/da3/tiny-anyview"
#define TINY_GS "tests/golden/da3/tiny-giant"

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double urand(double lo, double hi) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return lo + (hi - lo) * ((double)(g_rng >> 11) / 9007199254740992.0);
}

static void random_scene(gs_scene *s, int64_t n, int deg) {
    CHECK_OK(gs_scene_alloc(s, n, deg));
    const int K = gs_sh_coeffs(deg);
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) {
            s->means[3 * i + k] = (float)urand(-3, 3);
            s->scales[3 * i + k] = (float)exp(urand(-6, -1));
        }
        double q[4], nn = 0;
        for (int k = 0; k < 4; k++) { q[k] = urand(-1, 1); nn += q[k] * q[k]; }
        for (int k = 0; k < 4; k++) s->rotations[4 * i + k] = (float)(q[k] / sqrt(nn));
        s->opacities[i] = (float)urand(0.05, 1);
        for (int j = 0; j < K * 3; j++) s->sh[(size_t)i * K * 3 + j] = (float)urand(j < 3 ? -1.5 : -0.4, j < 3 ? 1.5 : 0.4);
    }
}

static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) { free(b); b = NULL; }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* A GLB split into its JSON and BIN chunk, after checking the container. */
typedef struct {
    uint8_t *file;
    size_t size;
    cJSON *json;
    const uint8_t *bin;
    size_t bin_len;
} glb_file;

static int glb_open(const char *path, glb_file *g) {
    memset(g, 0, sizeof *g);
    g->file = slurp(path, &g->size);
    if (!g->file) { gs_test_fail(__FILE__, __LINE__, "cannot read %s", path); return 0; }
    CHECK(g->size >= 20);
    CHECK(!memcmp(g->file, "glTF", 4));
    CHECK_EQ_INT(u32(g->file + 4), 2);
    CHECK_EQ_INT(u32(g->file + 8), g->size);
    uint32_t jl = u32(g->file + 12);
    CHECK_EQ_INT(u32(g->file + 16), 0x4e4f534a);
    CHECK_EQ_INT(jl % 4, 0);
    if (20 + (size_t)jl > g->size) return 0;
    g->json = cJSON_ParseWithLength((const char *)g->file + 20, jl);
    CHECK(g->json != NULL);
    size_t pos = 20 + jl;
    if (pos < g->size) {
        CHECK(pos + 8 <= g->size);
        g->bin_len = u32(g->file + pos);
        CHECK_EQ_INT(u32(g->file + pos + 4), 0x004e4942);
        CHECK_EQ_INT(g->bin_len % 4, 0);
        CHECK_EQ_INT(pos + 8 + g->bin_len, g->size);
        g->bin = g->file + pos + 8;
    }
    return g->json != NULL;
}

static void glb_close(glb_file *g) {
    cJSON_Delete(g->json);
    free(g->file);
}

static const cJSON *jget(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static int jnum(const cJSON *o, const char *k) {
    const cJSON *v = jget(o, k);
    return cJSON_IsNumber(v) ? v->valueint : -1;
}

/* The tightly packed data of an accessor (NULL when it has no bufferView). */
static const uint8_t *acc_data(const glb_file *g, int ai, const cJSON **acc_out) {
    const cJSON *a = cJSON_GetArrayItem(jget(g->json, "accessors"), ai);
    *acc_out = a;
    if (!a || !jget(a, "bufferView")) return NULL;
    const cJSON *v = cJSON_GetArrayItem(jget(g->json, "bufferViews"), jnum(a, "bufferView"));
    int off = jnum(v, "byteOffset") < 0 ? 0 : jnum(v, "byteOffset");
    int aoff = jnum(a, "byteOffset") < 0 ? 0 : jnum(a, "byteOffset");
    CHECK_EQ_INT((off + aoff) % 4, 0);
    CHECK(!jget(v, "byteStride"));
    return g->bin + off + aoff;
}

static const cJSON *first_prim(const glb_file *g, int mesh) {
    return cJSON_GetArrayItem(jget(cJSON_GetArrayItem(jget(g->json, "meshes"), mesh), "primitives"), 0);
}

static int has_string(const cJSON *arr, const char *s) {
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) if (cJSON_IsString(e) && !strcmp(e->valuestring, s)) return 1;
    return 0;
}

static float getf(const uint8_t *p, size_t i) {
    float v;
    memcpy(&v, p + 4 * i, 4);
    return v;
}

static int scenes_equal(const gs_scene *a, const gs_scene *b) {
    if (a->n != b->n || a->sh_degree != b->sh_degree) return 0;
    size_t n = (size_t)a->n, K = (size_t)gs_sh_coeffs(a->sh_degree);
    return !memcmp(a->means, b->means, n * 12) && !memcmp(a->scales, b->scales, n * 12) &&
           !memcmp(a->rotations, b->rotations, n * 16) && !memcmp(a->opacities, b->opacities, n * 4) &&
           !memcmp(a->sh, b->sh, n * K * 12);
}

/* The file's accessors say what the spec says: names, types, the glTF axes
 * (x, -y, -z), quaternions x,y,z,w, linear scales and opacities; the round
 * trip gives back every float. */
TEST(gltf_khr_roundtrip_exact_and_conventions) {
    gs_scene s, r;
    random_scene(&s, 257, 3);
    s.antialiased = 1;
    const char *path = gs_test_tmp("khr.glb");
    CHECK_OK(gs_gltf_write(path, &s, 0));
    gs_scene_format f;
    CHECK_OK(gs_scene_read(path, &r, &f));
    CHECK_EQ_INT(f, GS_FMT_GLB);
    CHECK(scenes_equal(&s, &r));
    CHECK_EQ_INT(r.antialiased, 1);
    gs_scene_free(&r);

    glb_file g;
    if (glb_open(path, &g)) {
        CHECK(has_string(jget(g.json, "extensionsUsed"), "KHR_gaussian_splatting"));
        CHECK(!jget(g.json, "extensionsRequired")); /* falls back to a point cloud */
        const cJSON *p = first_prim(&g, 0);
        CHECK_EQ_INT(jnum(p, "mode"), 0);
        const cJSON *ext = jget(jget(p, "extensions"), "KHR_gaussian_splatting");
        CHECK_STR(cJSON_GetStringValue(jget(ext, "kernel")), "ellipse");
        CHECK_STR(cJSON_GetStringValue(jget(ext, "colorSpace")), "srgb_rec709_display");
        const cJSON *at = jget(p, "attributes"), *a;
        /* 5 + 16 SH coefficients */
        CHECK_EQ_INT(cJSON_GetArraySize((cJSON *)at), 5 + 16);
        const cJSON *e;
        cJSON_ArrayForEach(e, at) {
            const uint8_t *d = acc_data(&g, e->valueint, &a);
            CHECK_EQ_INT(jnum(a, "count"), s.n);
            CHECK(d != NULL);
        }
        const uint8_t *pos = acc_data(&g, jnum(at, "POSITION"), &a);
        CHECK_STR(cJSON_GetStringValue(jget(a, "type")), "VEC3");
        CHECK_EQ_INT(jnum(a, "componentType"), 5126);
        /* min/max: the bounds of the data, exactly */
        for (int k = 0; k < 3; k++) {
            float mn = INFINITY, mx = -INFINITY;
            for (int64_t i = 0; i < s.n; i++) {
                float v = getf(pos, 3 * i + k);
                CHECK(v == (k ? -s.means[3 * i + k] : s.means[3 * i + k]));
                mn = fminf(mn, v);
                mx = fmaxf(mx, v);
            }
            CHECK((float)cJSON_GetArrayItem(jget(a, "min"), k)->valuedouble == mn);
            CHECK((float)cJSON_GetArrayItem(jget(a, "max"), k)->valuedouble == mx);
        }
        const uint8_t *rot = acc_data(&g, jnum(at, "KHR_gaussian_splatting:ROTATION"), &a);
        CHECK_STR(cJSON_GetStringValue(jget(a, "type")), "VEC4");
        const float *q = s.rotations + 4 * 5;
        CHECK(getf(rot, 20) == q[1] && getf(rot, 21) == -q[2] && getf(rot, 22) == -q[3] && getf(rot, 23) == q[0]);
        const uint8_t *sc = acc_data(&g, jnum(at, "KHR_gaussian_splatting:SCALE"), &a);
        CHECK(getf(sc, 3 * 7 + 2) == s.scales[3 * 7 + 2]); /* linear, not log */
        const uint8_t *op = acc_data(&g, jnum(at, "KHR_gaussian_splatting:OPACITY"), &a);
        CHECK_STR(cJSON_GetStringValue(jget(a, "type")), "SCALAR");
        CHECK(getf(op, 9) == s.opacities[9]); /* linear, not a logit */
        const uint8_t *dc = acc_data(&g, jnum(at, "KHR_gaussian_splatting:SH_DEGREE_0_COEF_0"), &a);
        CHECK(getf(dc, 3 * 4 + 1) == s.sh[48 * 4 + 1]);
        /* degree 1: m = -1, 0, 1 ~ y, z, x: y and z flip sign, x does not */
        const uint8_t *y1 = acc_data(&g, jnum(at, "KHR_gaussian_splatting:SH_DEGREE_1_COEF_0"), &a);
        const uint8_t *x1 = acc_data(&g, jnum(at, "KHR_gaussian_splatting:SH_DEGREE_1_COEF_2"), &a);
        CHECK(getf(y1, 0) == -s.sh[3] && getf(x1, 2) == s.sh[3 * 3 + 2]);
        /* COLOR_0: the DC colour, sRGB decoded to linear, alpha = opacity */
        const uint8_t *col = acc_data(&g, jnum(at, "COLOR_0"), &a);
        CHECK(cJSON_IsTrue(jget(a, "normalized")));
        double c0 = 0.5 + GS_SH_C0 * s.sh[48 * 2], lin = c0 <= 0.04045 ? c0 / 12.92 : pow((c0 + 0.055) / 1.055, 2.4);
        c0 = c0 < 0 ? 0 : c0;
        if (c0 <= 1) CHECK_NEAR(col[8], 255 * lin, 0.6);
        CHECK_NEAR(col[11], 255 * s.opacities[2], 0.6);
        glb_close(&g);
    }
    gs_scene_free(&s);
}

/* The SPZ form: one bufferView with an SPZ stream, placeholder accessors,
 * extensionsRequired; the stream is in RUB such that unpacking it to LUF
 * (SPZ's GLB frame) gives the glTF data: our reader (which unpacks to RDF)
 * sees (-x, y, -z) of the scene. The round trip is exact to SPZ's
 * quantisation. */
TEST(gltf_spz_roundtrip_and_frame) {
    gs_scene s, r;
    random_scene(&s, 300, 2);
    const char *path = gs_test_tmp("khr.spz.glb");
    CHECK_OK(gs_scene_write(path, &s));
    gs_scene_format f;
    CHECK_OK(gs_scene_read(path, &r, &f));
    CHECK_EQ_INT(f, GS_FMT_GLB_SPZ);
    CHECK_EQ_INT(r.n, s.n);
    CHECK_EQ_INT(r.sh_degree, 2);
    double worst[5] = {0};
    for (int64_t i = 0; i < s.n && r.n == s.n; i++) {
        for (int k = 0; k < 3; k++) {
            worst[0] = fmax(worst[0], fabs(r.means[3 * i + k] - s.means[3 * i + k]));
            worst[1] = fmax(worst[1], fabs(log(r.scales[3 * i + k] / s.scales[3 * i + k])));
            worst[3] = fmax(worst[3], fabs(r.sh[i * 27 + k] - s.sh[i * 27 + k]));
        }
        double dot = 0;
        for (int k = 0; k < 4; k++) dot += (double)r.rotations[4 * i + k] * s.rotations[4 * i + k];
        worst[2] = fmax(worst[2], 1 - fabs(dot));
        worst[4] = fmax(worst[4], fabs(r.opacities[i] - s.opacities[i]));
        for (int j = 3; j < 27; j++) CHECK_NEAR(r.sh[i * 27 + j], s.sh[i * 27 + j], 0.07);
    }
    CHECK(worst[0] <= 0.5 / 4096 + 1e-6); /* 12 fractional bits */
    CHECK(worst[1] <= 0.5 / 16 + 1e-4);   /* log scale in 1/16 steps */
    CHECK(worst[2] < 2e-3);               /* smallest-three, 10 bits */
    CHECK(worst[3] <= 0.5 / (0.15 * 255) + 1e-4);
    CHECK(worst[4] <= 0.5 / 255 + 1e-6);

    glb_file g;
    if (glb_open(path, &g)) {
        CHECK(has_string(jget(g.json, "extensionsUsed"), "KHR_gaussian_splatting"));
        CHECK(has_string(jget(g.json, "extensionsUsed"), "KHR_gaussian_splatting_compression_spz_2"));
        CHECK(has_string(jget(g.json, "extensionsRequired"), "KHR_gaussian_splatting_compression_spz_2"));
        const cJSON *p = first_prim(&g, 0), *a;
        const cJSON *spz = jget(jget(jget(jget(p, "extensions"), "KHR_gaussian_splatting"), "extensions"),
                                "KHR_gaussian_splatting_compression_spz_2");
        CHECK(spz != NULL);
        const cJSON *v = cJSON_GetArrayItem(jget(g.json, "bufferViews"), jnum(spz, "bufferView"));
        CHECK(v != NULL);
        const cJSON *e;
        cJSON_ArrayForEach(e, jget(p, "attributes")) {
            CHECK(acc_data(&g, e->valueint, &a) == NULL); /* placeholders */
            CHECK_EQ_INT(jnum(a, "count"), s.n);
        }
        if (v) {
            int off = jnum(v, "byteOffset") < 0 ? 0 : jnum(v, "byteOffset");
            gs_scene raw;
            CHECK_OK(gs_spz_read_mem(g.bin + off, (size_t)jnum(v, "byteLength"), "embedded", &raw));
            CHECK(g.bin[off] == 0x1f && g.bin[off + 1] == 0x8b); /* v3: gzip */
            for (int64_t i = 0; i < raw.n && raw.n == s.n; i += 37) {
                CHECK_NEAR(raw.means[3 * i], -s.means[3 * i], 1e-3);
                CHECK_NEAR(raw.means[3 * i + 1], s.means[3 * i + 1], 1e-3);
                CHECK_NEAR(raw.means[3 * i + 2], -s.means[3 * i + 2], 1e-3);
            }
            gs_scene_free(&raw);
        }
        glb_close(&g);
    }
    gs_scene_free(&r);
    gs_scene_free(&s);
}

static char g_warn[1024];
static void keep_warn(void *ctx, const char *msg) {
    (void)ctx;
    snprintf(g_warn, sizeof g_warn, "%s", msg);
}

/* Splats a renderer skips are left out, with one warning that counts them. */
TEST(gltf_invalid_splats_dropped_with_warning) {
    gs_scene s, r;
    random_scene(&s, 40, 1);
    s.means[3 * 3 + 1] = NAN;
    s.scales[3 * 10] = 0;
    s.opacities[20] = 1.5f;
    for (int form = 0; form < 2; form++) {
        const char *path = gs_test_tmp(form ? "bad.spz.glb" : "bad.glb");
        g_warn[0] = 0;
        gs_set_warn_handler(keep_warn, NULL);
        CHECK_OK(gs_gltf_write(path, &s, form));
        gs_set_warn_handler(NULL, NULL);
        CHECK_MSG(strstr(g_warn, "3 of 40 Gaussians are invalid") != NULL, "warning: '%s'", g_warn);
        CHECK_OK(gs_scene_read(path, &r, NULL));
        CHECK_EQ_INT(r.n, 37);
        CHECK_EQ_INT(gs_scene_count_invalid(&r), 0);
        /* the kept ones in order: file splat 3 is scene splat 4, 18 is 21 */
        if (r.n == 37 && !form) CHECK(r.means[3 * 3] == s.means[3 * 4] && r.opacities[18] == s.opacities[21]);
        gs_scene_free(&r);
    }
    /* nothing valid: an error, no file */
    for (int64_t i = 0; i < s.n; i++) s.opacities[i] = -1;
    gs_set_warn_handler(keep_warn, NULL);
    CHECK_ERR(gs_gltf_write(gs_test_tmp("none.glb"), &s, 0), "all 40 Gaussians are invalid");
    gs_set_warn_handler(NULL, NULL);
    CHECK(!gs_file_exists(gs_test_tmp("none.glb")));
    gs_scene_free(&s);
}

/* Other writers' layouts: an interleaved bufferView (byteStride, accessor
 * byteOffset), normalized short rotations and byte opacities, unnormalized
 * byte scales, as the extension allows; a node transform is warned about. */
static uint8_t *build_glb(const char *json, const uint8_t *bin, size_t bin_len, size_t *n);

TEST(gltf_reader_takes_other_layouts) {
    enum { N = 3 };
    /* view 0, stride 16: POSITION (3 floats) + OPACITY (ubyte) ; view 1: ROTATION (4 shorts) ;
     * view 2: SCALE (3 ubytes, padded to 4) ; view 3: SH0 (3 floats) */
    uint8_t bin[N * 16 + N * 8 + N * 4 + N * 12];
    memset(bin, 0, sizeof bin);
    const float pos[N][3] = {{1, 2, 3}, {-1, 0.5f, 4}, {0, 0, -2}};
    const int16_t rot[N][4] = {{0, 0, 0, 32767}, {32767, 0, 0, 32767}, {0, -16384, 0, 16384}}; /* x y z w */
    const uint8_t opa[N] = {255, 128, 0}, sca[N][3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
    const float sh0[N][3] = {{0.1f, 0.2f, 0.3f}, {-1, 0, 1}, {2, 2, 2}};
    for (int i = 0; i < N; i++) {
        memcpy(bin + 16 * i, pos[i], 12);
        bin[16 * i + 12] = opa[i];
        memcpy(bin + 48 + 8 * i, rot[i], 8);
        memcpy(bin + 72 + 4 * i, sca[i], 3);
        memcpy(bin + 84 + 12 * i, sh0[i], 12);
    }
    const char *json =
        "{\"asset\":{\"version\":\"2.0\"},\"extensionsUsed\":[\"KHR_gaussian_splatting\"],"
        "\"buffers\":[{\"byteLength\":120}],"
        "\"bufferViews\":[{\"buffer\":0,\"byteLength\":48,\"byteStride\":16},{\"buffer\":0,\"byteOffset\":48,\"byteLength\":24},"
        "{\"buffer\":0,\"byteOffset\":72,\"byteLength\":12,\"byteStride\":4},{\"buffer\":0,\"byteOffset\":84,\"byteLength\":36}],"
        "\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":3,\"type\":\"VEC3\"},"
        "{\"bufferView\":0,\"byteOffset\":12,\"componentType\":5121,\"normalized\":true,\"count\":3,\"type\":\"SCALAR\"},"
        "{\"bufferView\":1,\"componentType\":5122,\"normalized\":true,\"count\":3,\"type\":\"VEC4\"},"
        "{\"bufferView\":2,\"componentType\":5121,\"count\":3,\"type\":\"VEC3\"},"
        "{\"bufferView\":3,\"componentType\":5126,\"count\":3,\"type\":\"VEC3\"}],"
        "\"meshes\":[{\"primitives\":[{\"mode\":0,\"attributes\":{\"POSITION\":0,\"KHR_gaussian_splatting:OPACITY\":1,"
        "\"KHR_gaussian_splatting:ROTATION\":2,\"KHR_gaussian_splatting:SCALE\":3,"
        "\"KHR_gaussian_splatting:SH_DEGREE_0_COEF_0\":4},"
        "\"extensions\":{\"KHR_gaussian_splatting\":{\"kernel\":\"ellipse\",\"colorSpace\":\"srgb_rec709_display\"}}}]}],"
        "\"nodes\":[{\"mesh\":0,\"translation\":[0,1,0]}],\"scenes\":[{\"nodes\":[0]}]}";
    size_t m;
    uint8_t *f = build_glb(json, bin, sizeof bin, &m);
    gs_scene s;
    g_warn[0] = 0;
    gs_set_warn_handler(keep_warn, NULL);
    CHECK_OK(gs_gltf_read_mem(f, m, "other.glb", &s, NULL));
    gs_set_warn_handler(NULL, NULL);
    CHECK_MSG(strstr(g_warn, "node transforms are not applied") != NULL, "warning: '%s'", g_warn);
    CHECK_EQ_INT(s.n, N);
    for (int i = 0; i < s.n && s.n == N; i++) {
        CHECK(s.means[3 * i] == pos[i][0] && s.means[3 * i + 1] == -pos[i][1] && s.means[3 * i + 2] == -pos[i][2]);
        CHECK_NEAR(s.opacities[i], opa[i] / 255.0, 1e-7);
        for (int k = 0; k < 3; k++) {
            CHECK(s.scales[3 * i + k] == sca[i][k]);
            CHECK(s.sh[3 * i + k] == sh0[i][k]);
        }
        /* (x, y, z, w) -> unit (w, x, -y, -z) */
        double q[4] = {rot[i][3] / 32767.0, rot[i][0] / 32767.0, -rot[i][1] / 32767.0, -rot[i][2] / 32767.0}, nn = 0;
        for (int k = 0; k < 4; k++) nn += q[k] * q[k];
        for (int k = 0; k < 4; k++) CHECK_NEAR(s.rotations[4 * i + k], q[k] / sqrt(nn), 1e-6);
    }
    gs_scene_free(&s);
    free(f);
}

/* ---- corrupt files ------------------------------------------------------------ */

static uint8_t *build_glb(const char *json, const uint8_t *bin, size_t bin_len, size_t *n) {
    size_t jl = strlen(json), jp = (jl + 3) & ~(size_t)3, bp = (bin_len + 3) & ~(size_t)3;
    *n = 20 + jp + (bin ? 8 + bp : 0);
    uint8_t *b = calloc(1, *n);
    memcpy(b, "glTF", 4);
    uint32_t h[4] = {2, (uint32_t)*n, (uint32_t)jp, 0x4e4f534a};
    memcpy(b + 4, h, 16);
    memcpy(b + 20, json, jl);
    memset(b + 20 + jl, ' ', jp - jl);
    if (bin) {
        uint32_t c[2] = {(uint32_t)bp, 0x004e4942};
        memcpy(b + 20 + jp, c, 8);
        memcpy(b + 28 + jp, bin, bin_len);
    }
    return b;
}

/* A valid file's JSON with one edit (a cJSON path applied by fn). */
typedef void (*edit_fn)(cJSON *root);
static void e_count(cJSON *r) { cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "accessors"), 0), "count"), 1000); }
static void e_view_len(cJSON *r) { cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "bufferViews"), 0), "byteLength"), 1e9); }
static void e_view_idx(cJSON *r) { cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "accessors"), 0), "bufferView"), 99); }
static void e_ctype(cJSON *r) { cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "accessors"), 0), "componentType"), 5130); }
static void e_type(cJSON *r) { cJSON_SetValuestring(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "accessors"), 0), "type"), "VEC2"); }
static void e_offset(cJSON *r) { cJSON_AddNumberToObject(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "accessors"), 0), "byteOffset", 8); }
static void e_frac(cJSON *r) { cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "accessors"), 0), "count"), 2.5); }
static void e_sparse(cJSON *r) { cJSON_AddObjectToObject(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "accessors"), 0), "sparse"); }
static void e_uri(cJSON *r) { cJSON_AddStringToObject(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "buffers"), 0), "uri", "x.bin"); }
static void e_buflen(cJSON *r) { cJSON_SetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "buffers"), 0), "byteLength"), 1e8); }
static void e_stride(cJSON *r) { cJSON_AddNumberToObject(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "bufferViews"), 0), "byteStride", 6); }
static void e_mode(cJSON *r) {
    cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "meshes"), 0), "primitives"), 0);
    cJSON_DeleteItemFromObject(p, "mode");
}
static void e_partial_sh(cJSON *r) {
    cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "meshes"), 0), "primitives"), 0);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(p, "attributes"), "KHR_gaussian_splatting:SH_DEGREE_1_COEF_1");
}
static void e_no_scale(cJSON *r) {
    cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(r, "meshes"), 0), "primitives"), 0);
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(p, "attributes"), "KHR_gaussian_splatting:SCALE");
}
static void e_required(cJSON *r) {
    cJSON *a = cJSON_AddArrayToObject(r, "extensionsRequired");
    cJSON_AddItemToArray(a, cJSON_CreateString("KHR_draco_mesh_compression"));
}
static void e_version(cJSON *r) { cJSON_SetValuestring(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "asset"), "version"), "1.0"); }

TEST(gltf_corrupt_files_are_clear_errors) {
    gs_scene s, r;
    random_scene(&s, 16, 1);
    const char *path = gs_test_tmp("ok.glb");
    CHECK_OK(gs_gltf_write(path, &s, 0));
    glb_file g;
    if (!glb_open(path, &g)) { gs_scene_free(&s); return; }
    /* the container */
    size_t n = g.size;
    uint8_t *b = malloc(n);
    memcpy(b, g.file, n);
    CHECK_OK(gs_scene_read_mem(b, n, "ok.glb", &r, NULL));
    gs_scene_free(&r);
    CHECK_ERR(gs_gltf_read_mem(b, 11, "t.glb", &r, NULL), "t.glb: not a binary glTF");
    CHECK(r.n == 0 && !r.means);
    CHECK_ERR(gs_gltf_read_mem(b, n - 4, "t.glb", &r, NULL), "truncated");
    b[4] = 1;
    CHECK_ERR(gs_gltf_read_mem(b, n, "t.glb", &r, NULL), "version 1");
    b[4] = 2;
    uint32_t big = 0x7fffff00;
    memcpy(b + 12, &big, 4);
    CHECK_ERR(gs_gltf_read_mem(b, n, "t.glb", &r, NULL), "JSON chunk");
    memcpy(b, g.file, n);
    b[16] = 'X';
    CHECK_ERR(gs_gltf_read_mem(b, n, "t.glb", &r, NULL), "not JSON");
    memcpy(b, g.file, n);
    uint32_t jl = u32(b + 12), binbig = (uint32_t)g.bin_len + 64;
    memcpy(b + 20 + jl, &binbig, 4);
    CHECK_ERR(gs_gltf_read_mem(b, n, "t.glb", &r, NULL), "BIN chunk");
    memcpy(b, g.file, n);
    b[20] = '[';
    CHECK_ERR(gs_gltf_read_mem(b, n, "t.glb", &r, NULL), "not a JSON object");
    free(b);
    /* the JSON: each edit of a valid file is refused with its reason */
    const struct { edit_fn fn; const char *needle; } cases[] = {
        {e_count, "needs"},             {e_view_len, "runs past buffer 0"}, {e_view_idx, "bufferView 99 does not exist"},
        {e_ctype, "componentType 5130"}, {e_type, "type 'VEC2'"},          {e_offset, "needs"},
        {e_frac, "bad 'count'"},         {e_sparse, "sparse"},             {e_uri, "external or data URI"},
        {e_buflen, "BIN chunk has"},     {e_stride, "byteStride 6"},       {e_mode, "must be POINTS"},
        {e_partial_sh, "partly defined"}, {e_no_scale, "no 'KHR_gaussian_splatting:SCALE'"},
        {e_required, "KHR_draco_mesh_compression"}, {e_version, "version is '1.0'"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cJSON *j = cJSON_Duplicate(g.json, 1);
        cases[c].fn(j);
        char *txt = cJSON_PrintUnformatted(j);
        size_t m;
        uint8_t *f = build_glb(txt, g.bin, g.bin_len, &m);
        gs_clear_error();
        gs_status st = gs_gltf_read_mem(f, m, "edit.glb", &r, NULL);
        CHECK_MSG(st != GS_OK, "edit %zu (%s) was accepted", c, cases[c].needle);
        CHECK_MSG(st == GS_OK || (strstr(gs_last_error(), cases[c].needle) && strstr(gs_last_error(), "edit.glb")),
                  "edit %zu: error '%s' lacks '%s'", c, gs_last_error(), cases[c].needle);
        CHECK(r.n == 0 && !r.means);
        if (st == GS_OK) gs_scene_free(&r);
        free(f);
        free(txt);
        cJSON_Delete(j);
    }
    /* no splats and no points */
    size_t m;
    uint8_t *f = build_glb("{\"asset\":{\"version\":\"2.0\"}}", NULL, 0, &m);
    CHECK_ERR(gs_gltf_read_mem(f, m, "empty.glb", &r, NULL), "no splats");
    free(f);
    glb_close(&g);
    gs_scene_free(&s);
}

/* ---- DA3's scene.glb -------------------------------------------------------------- */

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The preview's geometry, recomputed here from the official exporter's
 * definitions: points moved by flip(y,z) * w2c[0] and centred on their
 * per-axis median; frusta: apex at the camera centre, image corners at depth
 * 0.03 * |p95 - p5| (percentiles of the moved points), same transform. */
TEST(gltf_scene_preview_geometry) {
    enum { N = 301 };
    float xyz[3 * N];
    uint8_t rgb[3 * N];
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < 3; k++) {
            xyz[3 * i + k] = (float)urand(-2, 2) + (k == 2 ? 5.0f : 0.0f);
            rgb[3 * i + k] = (uint8_t)(i * 7 + k * 50);
        }
    }
    /* camera 0 turned 30 degrees about y and moved; camera 1 elsewhere */
    const double a = 0.5235987755982988, ca = cos(a), sa = sin(a);
    float w2c[24] = {(float)ca, 0, (float)sa, 0.3f, 0, 1, 0, -0.2f, (float)-sa, 0, (float)ca, 1.0f,
                     1, 0, 0, -1.0f, 0, 1, 0, 0, 0, 0, 1, 0.5f};
    float K[18] = {50, 0, 31.5f, 0, 60, 23.5f, 0, 0, 1, 50, 0, 31.5f, 0, 60, 23.5f, 0, 0, 1};
    gs_glb_scene sc = {xyz, rgb, N, 2, w2c, K, 64, 48};
    const char *path = gs_test_tmp("preview.glb");
    CHECK_OK(gs_glb_write_scene(path, &sc));
    glb_file g;
    if (!glb_open(path, &g)) return;
    /* expected: q = flip(R0 p + t0), centre = median */
    static double q[3 * N], col[N];
    for (int i = 0; i < N; i++)
        for (int r = 0; r < 3; r++) {
            double v = w2c[4 * r] * xyz[3 * i] + w2c[4 * r + 1] * xyz[3 * i + 1] + w2c[4 * r + 2] * xyz[3 * i + 2] + w2c[4 * r + 3];
            q[3 * i + r] = r ? -v : v;
        }
    double c[3];
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < N; i++) col[i] = q[3 * i + k];
        qsort(col, N, sizeof *col, cmp_dbl);
        c[k] = col[N / 2];
    }
    CHECK_EQ_INT(cJSON_GetArraySize(jget(g.json, "meshes")), 3);
    const cJSON *pp = first_prim(&g, 0), *acc;
    CHECK_EQ_INT(jnum(pp, "mode"), 0);
    const uint8_t *pos = acc_data(&g, jnum(jget(pp, "attributes"), "POSITION"), &acc);
    CHECK_EQ_INT(jnum(acc, "count"), N);
    double diag = 0;
    for (int k = 0; k < 3; k++) {
        float mn = INFINITY, mx = -INFINITY;
        for (int i = 0; i < N; i++) {
            float v = getf(pos, 3 * i + k);
            CHECK_NEAR(v, q[3 * i + k] - c[k], 1e-5);
            mn = fminf(mn, v);
            mx = fmaxf(mx, v);
            col[i] = v;
        }
        CHECK((float)cJSON_GetArrayItem(jget(acc, "min"), k)->valuedouble == mn);
        CHECK((float)cJSON_GetArrayItem(jget(acc, "max"), k)->valuedouble == mx);
        qsort(col, N, sizeof *col, cmp_dbl);
        double p5 = col[15], p95 = col[285]; /* (N-1) * 0.05 = 15, * 0.95 = 285: exact ranks */
        diag += (p95 - p5) * (p95 - p5);
    }
    const double size = 0.03 * sqrt(diag);
    const uint8_t *pc = acc_data(&g, jnum(jget(pp, "attributes"), "COLOR_0"), &acc);
    CHECK(pc[4 * 10] == rgb[30] && pc[4 * 10 + 2] == rgb[32] && pc[4 * 10 + 3] == 255);
    for (int v = 0; v < 2; v++) {
        const cJSON *lp = first_prim(&g, 1 + v);
        CHECK_EQ_INT(jnum(lp, "mode"), 1);
        const uint8_t *fp = acc_data(&g, jnum(jget(lp, "attributes"), "POSITION"), &acc);
        CHECK_EQ_INT(jnum(acc, "count"), 16); /* 8 segments */
        /* camera centre C = -R^T t, moved like the points */
        const float *E = w2c + 12 * v;
        double C[3], Cq[3];
        for (int r = 0; r < 3; r++) C[r] = -(E[r] * E[3] + E[4 + r] * E[7] + E[8 + r] * E[11]);
        for (int r = 0; r < 3; r++) {
            double t = w2c[4 * r] * C[0] + w2c[4 * r + 1] * C[1] + w2c[4 * r + 2] * C[2] + w2c[4 * r + 3];
            Cq[r] = (r ? -t : t) - c[r];
        }
        for (int k = 0; k < 3; k++) CHECK_NEAR(getf(fp, k), Cq[k], 1e-5); /* segment 0 starts at the apex */
        /* corner (0, 0) at depth `size`: c2w (K^-1 [0 0 1] * size) */
        double pc0[3] = {(0 - 31.5) / 50 * size, (0 - 23.5) / 60 * size, size}, pw[3], pq[3];
        for (int r = 0; r < 3; r++) pw[r] = E[r] * (pc0[0] - E[3]) + E[4 + r] * (pc0[1] - E[7]) + E[8 + r] * (pc0[2] - E[11]);
        for (int r = 0; r < 3; r++) {
            double t = w2c[4 * r] * pw[0] + w2c[4 * r + 1] * pw[1] + w2c[4 * r + 2] * pw[2] + w2c[4 * r + 3];
            pq[r] = (r ? -t : t) - c[r];
        }
        for (int k = 0; k < 3; k++) CHECK_NEAR(getf(fp, 3 + k), pq[k], 1e-5);
        /* colour: HSV((v + 0.5) / 2, 0.85, 0.95) */
        const uint8_t *fc = acc_data(&g, jnum(jget(lp, "attributes"), "COLOR_0"), &acc);
        double h6 = (v + 0.5) / 2 * 6, f = h6 - floor(h6), V = 0.95, P = V * 0.15, Q = V * (1 - f * 0.85), T = V * (1 - (1 - f) * 0.85);
        double want[2][3] = {{Q, V, P}, {T, P, V}}; /* sectors 1 and 4 */
        for (int k = 0; k < 3; k++) CHECK_EQ_INT(fc[k], (int)(want[v][k] * 255));
    }
    glb_close(&g);
}

/* The tiny model's `gs infer` writes scene.glb beside points.ply: the same
 * point count, one frustum per view. */
TEST(gltf_cli_infer_writes_scene_glb) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    char args[2048], *out = NULL;
    const char *dir = gs_test_tmp("infer_glb");
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s %s %s --process-res 70 --quiet --out %s",
             gs_test_data(FERN "image000.png"), gs_test_data(FERN "image003.png"), gs_test_data(FERN "image007.png"), dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    char p[1100];
    snprintf(p, sizeof p, "%s/points.ply", dir);
    size_t n;
    uint8_t *ply = slurp(p, &n);
    long long npts = -1;
    const char *ev = ply ? strstr((const char *)ply, "element vertex ") : NULL;
    if (ev) npts = atoll(ev + 15);
    free(ply);
    CHECK(npts > 0);
    snprintf(p, sizeof p, "%s/scene.glb", dir);
    glb_file g;
    if (!glb_open(p, &g)) return;
    CHECK_EQ_INT(cJSON_GetArraySize(jget(g.json, "meshes")), 1 + 3);
    const cJSON *acc;
    acc_data(&g, jnum(jget(first_prim(&g, 0), "attributes"), "POSITION"), &acc);
    CHECK_EQ_INT(jnum(acc, "count"), npts);
    for (int v = 1; v <= 3; v++) CHECK_EQ_INT(jnum(first_prim(&g, v), "mode"), 1);
    glb_close(&g);
    /* gs info reads it as a point cloud */
    snprintf(args, sizeof args, "info %s", p);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    char want[64];
    snprintf(want, sizeof want, "point cloud (points as isotropic Gaussians), %lld splats", npts);
    CHECK_MSG(out && strstr(out, want), "gs info: %s", out ? out : "");
    free(out);
}

/* `gs nvs --export glb,glb-spz` and gs convert / info on the results. */
TEST(gltf_cli_nvs_export_and_convert) {
    NEED_GS_BIN();
    REQUIRE_DATA();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    char args[2048], *out = NULL, p[1100];
    const char *dir = gs_test_tmp("nvs_glb");
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --no-video --quiet --export ply,glb,glb-spz --out %s",
             gs_test_data(FERN "image000.png"), dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    gs_scene ply, glb, spz;
    snprintf(p, sizeof p, "%s/gaussians.ply", dir);
    CHECK_OK(gs_scene_read(p, &ply, NULL));
    snprintf(p, sizeof p, "%s/gaussians.glb", dir);
    CHECK_OK(gs_scene_read(p, &glb, NULL));
    snprintf(p, sizeof p, "%s/gaussians.spz.glb", dir);
    CHECK_OK(gs_scene_read(p, &spz, NULL));
    CHECK(ply.n > 0);
    CHECK_EQ_INT(glb.n, ply.n);
    CHECK_EQ_INT(spz.n, ply.n);
    CHECK_EQ_INT(glb.sh_degree, ply.sh_degree);
    for (int64_t i = 0; i < glb.n && glb.n == ply.n; i++)
        for (int k = 0; k < 3; k++) CHECK(glb.means[3 * i + k] == ply.means[3 * i + k]);
    snprintf(p, sizeof p, "%s/scene.glb", dir);
    CHECK(gs_file_exists(p));
    gs_scene_free(&ply);
    gs_scene_free(&glb);
    gs_scene_free(&spz);
    snprintf(args, sizeof args, "info %s/gaussians.spz.glb", dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "SPZ-compressed"), "gs info: %s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "convert %s/gaussians.glb %s/back.ply", dir, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "view --html %s/page.html %s/gaussians.spz.glb", dir, dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    snprintf(p, sizeof p, "%s/page.html", dir);
    CHECK(gs_file_exists(p));
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s --process-res 56 --no-video --export gltf --out %s",
             gs_test_data(FERN "image000.png"), gs_test_tmp("nvs_bad"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2); /* a usage error, before the model */
    CHECK_MSG(out && strstr(out, "glb-spz"), "error lists the formats: %s", out ? out : "");
    free(out);
}

/* ---- point-cloud PLY ------------------------------------------------------------ */

/* A 12 x 9 grid 0.1 apart: every nearest neighbour is 0.1 away, so the
 * Gaussians' standard deviation is 0.05. */
TEST(gltf_pointcloud_ply_reads_as_scene) {
    enum { NX = 12, NY = 9, N = NX * NY };
    float xyz[3 * N];
    uint8_t rgb[3 * N];
    for (int i = 0; i < N; i++) {
        xyz[3 * i] = 0.1f * (float)(i % NX);
        xyz[3 * i + 1] = 0.1f * (float)(i / NX);
        xyz[3 * i + 2] = 2.0f;
        for (int k = 0; k < 3; k++) rgb[3 * i + k] = (uint8_t)(i + 60 * k);
    }
    const char *path = gs_test_tmp("points.ply");
    CHECK_OK(gs_pointcloud_write_ply(path, xyz, rgb, N));
    gs_scene s;
    gs_scene_format f;
    CHECK_OK(gs_scene_read(path, &s, &f));
    CHECK_EQ_INT(f, GS_FMT_POINTS_PLY);
    CHECK_EQ_INT(s.n, N);
    CHECK_EQ_INT(s.sh_degree, 0);
    CHECK_EQ_INT(gs_scene_count_invalid(&s), 0);
    for (int i = 0; i < s.n && s.n == N; i++) {
        for (int k = 0; k < 3; k++) {
            CHECK(s.means[3 * i + k] == xyz[3 * i + k]);
            CHECK_NEAR(0.5 + GS_SH_C0 * s.sh[3 * i + k], rgb[3 * i + k] / 255.0, 1e-6);
            CHECK_NEAR(s.scales[3 * i + k], 0.05, 1e-6);
        }
        CHECK(s.opacities[i] == 1.0f);
    }
    gs_scene_free(&s);
    /* without colour: white */
    CHECK_OK(gs_pointcloud_write_ply(gs_test_tmp("white.ply"), xyz, NULL, N));
    CHECK_OK(gs_scene_read(gs_test_tmp("white.ply"), &s, NULL));
    CHECK_NEAR(0.5 + GS_SH_C0 * s.sh[5], 1.0, 1e-6);
    gs_scene_free(&s);
    /* a Gaussian PLY missing some properties is still an error */
    const char *part = "ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty float x\nproperty float y\n"
                       "property float z\nproperty float opacity\nend_header\n";
    uint8_t buf[256];
    size_t hl = strlen(part);
    memcpy(buf, part, hl);
    memset(buf + hl, 0, 16);
    CHECK_ERR(gs_scene_read_mem(buf, hl + 16, "part.ply", &s, NULL), "no property 'f_dc_0'");
}

TEST(gltf_cli_pointcloud_info_convert) {
    NEED_GS_BIN();
    enum { N = 50 };
    float xyz[3 * N];
    uint8_t rgb[3 * N];
    for (int i = 0; i < 3 * N; i++) { xyz[i] = (float)urand(-1, 1); rgb[i] = (uint8_t)i; }
    const char *path = gs_test_tmp("cli_points.ply");
    CHECK_OK(gs_pointcloud_write_ply(path, xyz, rgb, N));
    char args[1200], *out = NULL;
    snprintf(args, sizeof args, "info %s", path);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "point cloud") && strstr(out, "50 splats"), "gs info: %s", out ? out : "");
    free(out);
    snprintf(args, sizeof args, "view --html %s %s", gs_test_tmp("cli_points.html"), path);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "50 splats"), "gs view: %s", out ? out : "");
    free(out);
    const char *outs[3] = {"cli_points_3dgs.ply", "cli_points.spz", "cli_points.glb"};
    for (int k = 0; k < 3; k++) {
        snprintf(args, sizeof args, "convert %s %s", path, gs_test_tmp(outs[k]));
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
        free(out);
        gs_scene s;
        gs_scene_format f;
        CHECK_OK(gs_scene_read(gs_test_tmp(outs[k]), &s, &f));
        CHECK_EQ_INT(s.n, N);
        CHECK(f == (k == 0 ? GS_FMT_PLY : k == 1 ? GS_FMT_SPZ : GS_FMT_GLB));
        gs_scene_free(&s);
    }
}

/* ---- an outside reader ----------------------------------------------------------- */

/* pygltflib (or trimesh) in $GS_PYTHON loads our files and sees the same
 * structure; skipped when GS_PYTHON is unset or has neither. */
TEST(gltf_python_reader_accepts_files) {
    const char *py = getenv("GS_PYTHON");
    if (!py || !*py) TEST_SKIP("GS_PYTHON not set (a Python with pygltflib)");
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s -c 'import pygltflib' 2>&1", py);
    if (gs_test_run(cmd, &out) != 0) { free(out); TEST_SKIP("GS_PYTHON cannot import pygltflib"); }
    free(out);
    gs_scene s;
    random_scene(&s, 64, 1);
    CHECK_OK(gs_gltf_write(gs_test_tmp("py.glb"), &s, 0));
    CHECK_OK(gs_gltf_write(gs_test_tmp("py.spz.glb"), &s, 1));
    gs_scene_free(&s);
    float xyz[30];
    for (int i = 0; i < 30; i++) xyz[i] = (float)urand(-1, 1) + (i % 3 == 2 ? 4 : 0);
    float w2c[12] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}, K[9] = {40, 0, 20, 0, 40, 15, 0, 0, 1};
    gs_glb_scene sc = {xyz, NULL, 10, 1, w2c, K, 40, 30};
    CHECK_OK(gs_glb_write_scene(gs_test_tmp("py_scene.glb"), &sc));
    snprintf(cmd, sizeof cmd,
             "%s - '%s' '%s' '%s' 2>&1 <<'EOF'\n"
             "import sys, struct, pygltflib\n"
             "import numpy as np\n"
             "g = pygltflib.GLTF2().load(sys.argv[1])\n"
             "p = g.meshes[0].primitives[0]\n"
             "assert p.mode == 0 and 'KHR_gaussian_splatting' in p.extensions, p\n"
             "blob = g.binary_blob()\n"
             "a = g.accessors[p.attributes.POSITION]\n"
             "v = g.bufferViews[a.bufferView]\n"
             "xyz = np.frombuffer(blob[v.byteOffset:v.byteOffset + v.byteLength], np.float32).reshape(-1, 3)\n"
             "assert a.count == 64 and np.allclose(xyz.min(0), a.min) and np.allclose(xyz.max(0), a.max)\n"
             "h = g.extensionsUsed\n"
             "assert h == ['KHR_gaussian_splatting'], h\n"
             "g2 = pygltflib.GLTF2().load(sys.argv[2])\n"
             "assert 'KHR_gaussian_splatting_compression_spz_2' in g2.extensionsRequired\n"
             "g3 = pygltflib.GLTF2().load(sys.argv[3])\n"
             "modes = [m.primitives[0].mode for m in g3.meshes]\n"
             "assert modes == [0, 1], modes\n"
             "print('pygltflib ok', len(g3.nodes))\n"
             "try:\n"
             "    import trimesh\n"
             "except ImportError:\n"
             "    sys.exit(0)\n"
             "t = trimesh.load(sys.argv[3])\n"
             "kinds = sorted(type(v).__name__ for v in t.geometry.values())\n"
             "assert kinds == ['Path3D', 'PointCloud'], kinds\n"
             "assert len(t.geometry['points'].vertices) == 10\n"
             "print('trimesh ok')\n"
             "EOF",
             py, gs_test_tmp("py.glb"), gs_test_tmp("py.spz.glb"), gs_test_tmp("py_scene.glb"));
    int rc = gs_test_run(cmd, &out);
    CHECK_MSG(rc == 0 && out && strstr(out, "pygltflib ok 2"), "python: %s", out ? out : "");
    free(out);
}

/* The fuzz seeds are valid files of each kind (so the fuzzer starts from
 * real structure), and the point-cloud PLY seed reads as points. */
TEST(gltf_fuzz_seeds_parse) {
    static const struct { const char *name; gs_gltf_kind kind; int64_t n; int deg; } seeds[] = {
        {"splats_deg0.glb", GS_GLTF_SPLATS, 3, 0}, {"splats_deg1.glb", GS_GLTF_SPLATS, 3, 1},
        {"splats_spz.glb", GS_GLTF_SPLATS_SPZ, 3, 1}, {"scene_preview.glb", GS_GLTF_POINTS, 4, 0}};
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fuzz/seeds/gltf/%s", seeds[i].name);
        REQUIRE_GOLDEN(path);
        size_t n;
        uint8_t *d = slurp(path, &n);
        gs_scene s;
        gs_gltf_kind k = (gs_gltf_kind)-1;
        CHECK_OK(gs_gltf_read_mem(d, n, path, &s, &k));
        CHECK_MSG(k == seeds[i].kind && s.n == seeds[i].n && s.sh_degree == seeds[i].deg, "%s: kind %d, %lld splats, degree %d",
                  path, (int)k, (long long)s.n, s.sh_degree);
        gs_scene_free(&s);
        free(d);
    }
    gs_scene s;
    gs_scene_format f;
    REQUIRE_GOLDEN("tests/fuzz/seeds/ply/points_rgb.ply");
    CHECK_OK(gs_scene_read("tests/fuzz/seeds/ply/points_rgb.ply", &s, &f));
    CHECK_EQ_INT(f, GS_FMT_POINTS_PLY);
    CHECK_EQ_INT(s.n, 3);
    if (s.n == 3) CHECK_NEAR(0.5 + GS_SH_C0 * s.sh[3 + 1], 1.0, 1e-6); /* the second point is green */
    gs_scene_free(&s);
}
