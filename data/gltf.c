/* gltf.c - binary glTF 2.0 (.glb): Gaussian splats (KHR_gaussian_splatting,
 * release candidate, and its SPZ compression extension) and DA3's scene
 * preview (points + camera frusta). See gltf.h for the axes. No Debian
 * package reads or writes glTF from C (tinygltf is C++), so the container is
 * written here with cJSON for the JSON chunk.
 *
 * Reading treats the file as untrusted: the GLB header and chunk lengths,
 * every buffer / bufferView / accessor index, offset, stride and count are
 * checked against the sizes they point into before a byte is read. */
#include "data/gltf.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gltf.c reads and writes little-endian data with memcpy; add byte swapping for this host"
#endif

#define GLB_MAGIC 0x46546c67u /* "glTF" */
#define GLB_CHUNK_JSON 0x4e4f534au
#define GLB_CHUNK_BIN 0x004e4942u
#define GLB_MAX_JSON ((size_t)64 << 20)

#define CT_BYTE 5120
#define CT_UBYTE 5121
#define CT_SHORT 5122
#define CT_USHORT 5123
#define CT_UINT 5125
#define CT_FLOAT 5126
#define TARGET_ARRAY_BUFFER 34962
#define MODE_POINTS 0
#define MODE_LINES 1

#define EXT_GS "KHR_gaussian_splatting"
#define EXT_SPZ "KHR_gaussian_splatting_compression_spz_2"
#define EXT_SPZ_OLD "KHR_gaussian_splatting_compression_spz" /* the name in earlier drafts */
#define ATTR(x) EXT_GS ":" x

static inline uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Sign of each SH coefficient 1..15 (3DGS order) under the axis flips
 * (sx, sy, sz), det +1: a basis function changes sign when it is odd in an
 * odd number of the flipped axes. */
static void sh_flips(float sx, float sy, float sz, float f[15]) {
    const float t[15] = {sy, sz, sx,                               /* y, z, x */
                         sx * sy, sy * sz, 1, sx * sz, 1,          /* xy, yz, 3zz-1, xz, xx-yy */
                         sy, sx * sy * sz, sy, sz, sx, sz, sx};    /* y(3xx-yy), xyz, y(5zz-1), z(5zz-3), x(5zz-1), z(xx-yy), x(xx-3yy) */
    memcpy(f, t, sizeof t);
}

/* Rotate a scene in place by the flip (sx, sy, sz) (two of them -1). */
static void scene_flip(gs_scene *s, float sx, float sy, float sz) {
    const float ax[3] = {sx, sy, sz}, qs[3] = {sy * sz, sx * sz, sx * sy};
    float shf[15];
    sh_flips(sx, sy, sz, shf);
    const int K = gs_sh_coeffs(s->sh_degree);
    for (int64_t i = 0; i < s->n; i++) {
        for (int k = 0; k < 3; k++) {
            s->means[3 * i + k] *= ax[k];
            s->rotations[4 * i + 1 + k] *= qs[k];
        }
        float *sh = s->sh + (size_t)i * K * 3;
        for (int j = 1; j < K; j++)
            for (int c = 0; c < 3; c++) sh[3 * j + c] *= shf[j - 1];
    }
}

/* ---- writing ---------------------------------------------------------------- */

enum { A_POS, A_COLOR, A_SCALE, A_ROT, A_OPACITY, A_SH0 }; /* A_SH0 + j: coefficient j */

typedef struct {
    size_t len;
    const void *data; /* bytes in memory, or NULL: attribute `attr` of the splats */
    int attr;
} glb_view;

typedef struct {
    cJSON *root, *accessors, *views;
    glb_view v[32];
    int nv;
    uint64_t bin; /* bytes so far (each view starts 4-aligned) */
    const gs_scene *scene;
} glb;

static uint64_t pad4(uint64_t n) { return (n + 3) & ~(uint64_t)3; }

static int add_view(glb *g, size_t len, const void *data, int attr, int target) {
    cJSON *bv = cJSON_CreateObject();
    cJSON_AddNumberToObject(bv, "buffer", 0);
    cJSON_AddNumberToObject(bv, "byteOffset", (double)g->bin);
    cJSON_AddNumberToObject(bv, "byteLength", (double)len);
    if (target) cJSON_AddNumberToObject(bv, "target", target);
    cJSON_AddItemToArray(g->views, bv);
    g->v[g->nv] = (glb_view){len, data, attr};
    g->bin += pad4(len);
    return g->nv++;
}

static int add_accessor(glb *g, int view, size_t offset, int ct, int64_t count, const char *type, int normalized,
                        const float *mn, const float *mx) {
    cJSON *a = cJSON_CreateObject();
    if (view >= 0) {
        cJSON_AddNumberToObject(a, "bufferView", view);
        if (offset) cJSON_AddNumberToObject(a, "byteOffset", (double)offset);
    }
    cJSON_AddNumberToObject(a, "componentType", ct);
    if (normalized) cJSON_AddTrueToObject(a, "normalized");
    cJSON_AddNumberToObject(a, "count", (double)count);
    cJSON_AddStringToObject(a, "type", type);
    if (mn && mx) {
        cJSON *jmn = cJSON_CreateArray(), *jmx = cJSON_CreateArray();
        for (int k = 0; k < 3; k++) {
            cJSON_AddItemToArray(jmn, cJSON_CreateNumber(mn[k]));
            cJSON_AddItemToArray(jmx, cJSON_CreateNumber(mx[k]));
        }
        cJSON_AddItemToObject(a, "min", jmn);
        cJSON_AddItemToObject(a, "max", jmx);
    }
    cJSON_AddItemToArray(g->accessors, a);
    return cJSON_GetArraySize(g->accessors) - 1;
}

static void glb_init(glb *g, const gs_scene *s) {
    memset(g, 0, sizeof *g);
    g->scene = s;
    g->root = cJSON_CreateObject();
    cJSON *asset = cJSON_AddObjectToObject(g->root, "asset");
    cJSON_AddStringToObject(asset, "version", "2.0");
    cJSON_AddStringToObject(asset, "generator", "gs");
    g->accessors = cJSON_AddArrayToObject(g->root, "accessors");
    g->views = cJSON_AddArrayToObject(g->root, "bufferViews");
}

static float srgb_to_linear(float c) {
    return c <= 0.04045f ? c / 12.92f : powf((c + 0.055f) / 1.055f, 2.4f);
}

/* nb rows of a splat attribute in glTF axes, i.e. flip(y, z) applied */
static void fill_attr(const gs_scene *s, int attr, int64_t i0, int64_t nb, uint8_t *out) {
    const int K = gs_sh_coeffs(s->sh_degree);
    float shf[15];
    sh_flips(1, -1, -1, shf);
    for (int64_t j = 0; j < nb; j++) {
        int64_t i = i0 + j;
        const float *m = s->means + 3 * i, *q = s->rotations + 4 * i, *sh = s->sh + (size_t)i * K * 3;
        float *f = (float *)(void *)out;
        switch (attr) {
        case A_POS: f[3 * j] = m[0]; f[3 * j + 1] = -m[1]; f[3 * j + 2] = -m[2]; break;
        case A_SCALE: memcpy(f + 3 * j, s->scales + 3 * i, 12); break;
        case A_ROT: f[4 * j] = q[1]; f[4 * j + 1] = -q[2]; f[4 * j + 2] = -q[3]; f[4 * j + 3] = q[0]; break;
        case A_OPACITY: f[j] = s->opacities[i]; break;
        case A_COLOR: {
            uint8_t *o = out + 4 * j;
            for (int c = 0; c < 3; c++) {
                float v = 0.5f + GS_SH_C0 * sh[c];
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                o[c] = (uint8_t)lrintf(255.0f * srgb_to_linear(v));
            }
            o[3] = (uint8_t)lrintf(255.0f * s->opacities[i]);
            break;
        }
        default: {
            int k = attr - A_SH0;
            float sg = k ? shf[k - 1] : 1.0f;
            for (int c = 0; c < 3; c++) f[3 * j + c] = sg * sh[3 * k + c];
        }
        }
    }
}

static gs_status glb_commit(glb *g, const char *path) {
    gs_status st = GS_OK;
    if (g->bin) {
        cJSON *bufs = cJSON_AddArrayToObject(g->root, "buffers");
        cJSON *b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "byteLength", (double)g->bin);
        cJSON_AddItemToArray(bufs, b);
    }
    char *json = cJSON_PrintUnformatted(g->root);
    if (!json) return gs_error(GS_ERR_NOMEM, "%s: cannot build the glTF JSON", path);
    uint64_t jl = strlen(json), jp = pad4(jl);
    uint64_t total = 12 + 8 + jp + (g->bin ? 8 + g->bin : 0);
    if (total > UINT32_MAX) {
        free(json);
        return gs_error(GS_ERR_UNSUPPORTED, "%s: %llu bytes is over the GLB limit of 4 GiB (use .spz.glb, .spz or .ply)",
                        path, (unsigned long long)total);
    }
    gs_afile a;
    if ((st = gs_afile_open(&a, path))) { free(json); return st; }
    uint8_t h[20];
    wr32(h, GLB_MAGIC);
    wr32(h + 4, 2);
    wr32(h + 8, (uint32_t)total);
    wr32(h + 12, (uint32_t)jp);
    wr32(h + 16, GLB_CHUNK_JSON);
    static const char spaces[4] = {' ', ' ', ' ', ' '}, zeros[4] = {0};
    st = gs_afile_write(&a, h, 20);
    if (!st) st = gs_afile_write(&a, json, jl);
    if (!st) st = gs_afile_write(&a, spaces, jp - jl);
    free(json);
    if (!st && g->bin) {
        wr32(h, (uint32_t)g->bin);
        wr32(h + 4, GLB_CHUNK_BIN);
        st = gs_afile_write(&a, h, 8);
    }
    enum { BLOCK = 8192 };
    uint8_t *buf = NULL;
    for (int i = 0; i < g->nv && !st; i++) {
        const glb_view *v = &g->v[i];
        if (v->data) {
            st = gs_afile_write(&a, v->data, v->len);
        } else {
            const gs_scene *s = g->scene;
            size_t row = v->len / (size_t)s->n;
            if (!buf && !(buf = gs_malloc(BLOCK, 16 * 3, "GLB write buffer"))) st = GS_ERR_NOMEM;
            for (int64_t b0 = 0; !st && b0 < s->n; b0 += BLOCK) {
                int64_t nb = s->n - b0 < BLOCK ? s->n - b0 : BLOCK;
                fill_attr(s, v->attr, b0, nb, buf);
                st = gs_afile_write(&a, buf, (size_t)nb * row);
            }
        }
        if (!st) st = gs_afile_write(&a, zeros, pad4(v->len) - v->len);
    }
    free(buf);
    if (st) { gs_afile_abort(&a); return st; }
    return gs_afile_commit(&a);
}

/* One node with one mesh of one primitive; returns the primitive. */
static cJSON *add_mesh_node(cJSON *root, const char *name, int mode) {
    cJSON *meshes = cJSON_GetObjectItem(root, "meshes");
    if (!meshes) meshes = cJSON_AddArrayToObject(root, "meshes");
    cJSON *nodes = cJSON_GetObjectItem(root, "nodes");
    if (!nodes) nodes = cJSON_AddArrayToObject(root, "nodes");
    cJSON *scenes = cJSON_GetObjectItem(root, "scenes");
    if (!scenes) {
        scenes = cJSON_AddArrayToObject(root, "scenes");
        cJSON *sc = cJSON_CreateObject();
        cJSON_AddArrayToObject(sc, "nodes");
        cJSON_AddItemToArray(scenes, sc);
        cJSON_AddNumberToObject(root, "scene", 0);
    }
    int mi = cJSON_GetArraySize(meshes), ni = cJSON_GetArraySize(nodes);
    cJSON *mesh = cJSON_CreateObject();
    cJSON_AddStringToObject(mesh, "name", name);
    cJSON *prims = cJSON_AddArrayToObject(mesh, "primitives");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddObjectToObject(p, "attributes");
    cJSON_AddNumberToObject(p, "mode", mode);
    cJSON_AddItemToArray(prims, p);
    cJSON_AddItemToArray(meshes, mesh);
    cJSON *node = cJSON_CreateObject();
    cJSON_AddStringToObject(node, "name", name);
    cJSON_AddNumberToObject(node, "mesh", mi);
    cJSON_AddItemToArray(nodes, node);
    cJSON_AddItemToArray(cJSON_GetObjectItem(cJSON_GetArrayItem(scenes, 0), "nodes"), cJSON_CreateNumber(ni));
    return p;
}

static void add_ext_names(cJSON *root, const char *key, const char *a, const char *b) {
    cJSON *arr = cJSON_AddArrayToObject(root, key);
    cJSON_AddItemToArray(arr, cJSON_CreateString(a));
    if (b) cJSON_AddItemToArray(arr, cJSON_CreateString(b));
}

/* The valid splats of s (gs_scene_writable: one warning giving the count of
 * the others; all valid: *out = s, nothing copied). */
static gs_status valid_subset(const gs_scene *s, const char *path, gs_scene *tmp, const gs_scene **out) {
    int64_t *idx, nv;
    *out = s;
    memset(tmp, 0, sizeof *tmp);
    gs_status st = gs_scene_writable(s, path, &idx, &nv);
    if (st || !idx) return st;
    if ((st = gs_scene_alloc(tmp, nv, s->sh_degree))) { free(idx); return gs_error_prefix(st, "%s", path); }
    tmp->antialiased = s->antialiased;
    const int K3 = gs_sh_coeffs(s->sh_degree) * 3;
    for (int64_t m = 0; m < nv; m++) {
        const int64_t i = idx[m];
        memcpy(tmp->means + 3 * m, s->means + 3 * i, 12);
        memcpy(tmp->scales + 3 * m, s->scales + 3 * i, 12);
        memcpy(tmp->rotations + 4 * m, s->rotations + 4 * i, 16);
        tmp->opacities[m] = s->opacities[i];
        memcpy(tmp->sh + (size_t)m * K3, s->sh + (size_t)i * K3, (size_t)K3 * sizeof(float));
    }
    free(idx);
    *out = tmp;
    return GS_OK;
}

gs_status gs_gltf_write(const char *path, const gs_scene *s0, int spz) {
    if (!s0 || s0->n < 0 || s0->sh_degree < 0 || s0->sh_degree > GS_SH_MAX_DEGREE ||
        (s0->n && (!s0->means || !s0->scales || !s0->rotations || !s0->opacities || !s0->sh)))
        return gs_error(GS_ERR_INVALID, "%s: invalid scene", path);
    gs_scene tmp, flipped;
    const gs_scene *s;
    gs_status st = valid_subset(s0, path, &tmp, &s);
    if (st) return st;
    memset(&flipped, 0, sizeof flipped);
    if (s->n == 0) {
        gs_scene_free(&tmp);
        return gs_error(GS_ERR_INVALID, "%s: no valid splats to write (a glTF accessor needs at least one)", path);
    }
    const int K = gs_sh_coeffs(s->sh_degree);
    const int64_t n = s->n;
    float mn[3] = {INFINITY, INFINITY, INFINITY}, mx[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < 3; k++) {
            float v = (k ? -1.0f : 1.0f) * s->means[3 * i + k];
            if (v < mn[k]) mn[k] = v;
            if (v > mx[k]) mx[k] = v;
        }
    glb g;
    glb_init(&g, s);
    cJSON *prim = add_mesh_node(g.root, "gaussians", MODE_POINTS);
    cJSON *attrs = cJSON_GetObjectItem(prim, "attributes");
    cJSON *ext = cJSON_AddObjectToObject(cJSON_AddObjectToObject(prim, "extensions"), EXT_GS);
    cJSON_AddStringToObject(ext, "kernel", "ellipse");
    cJSON_AddStringToObject(ext, "colorSpace", "srgb_rec709_display");
    cJSON_AddStringToObject(ext, "projection", "perspective");
    cJSON_AddStringToObject(ext, "sortingMethod", "cameraDistance");
    if (s->antialiased) cJSON_AddTrueToObject(cJSON_AddObjectToObject(prim, "extras"), "antialiased");
    uint8_t *blob = NULL;
    size_t blob_n = 0;
    if (spz) {
        /* SPZ stores RUB; the extension unpacks to glTF's LUF, i.e. the glTF
         * data with x and z negated. Ours are flip(y,z) of the scene, so the
         * encoder (which maps RDF to RUB by flipping y,z) gets the scene
         * turned by flip(x,z). */
        st = gs_scene_alloc(&flipped, n, s->sh_degree);
        if (!st) {
            memcpy(flipped.means, s->means, (size_t)n * 12);
            memcpy(flipped.scales, s->scales, (size_t)n * 12);
            memcpy(flipped.rotations, s->rotations, (size_t)n * 16);
            memcpy(flipped.opacities, s->opacities, (size_t)n * 4);
            memcpy(flipped.sh, s->sh, (size_t)n * K * 12);
            flipped.antialiased = s->antialiased;
            scene_flip(&flipped, -1, 1, -1);
            st = gs_spz_encode(&flipped, 3, path, &blob, &blob_n);
        }
        gs_scene_free(&flipped);
        if (!st) {
            int bv = add_view(&g, blob_n, blob, 0, 0);
            cJSON *e2 = cJSON_AddObjectToObject(cJSON_AddObjectToObject(ext, "extensions"), EXT_SPZ);
            cJSON_AddNumberToObject(e2, "bufferView", bv);
            add_ext_names(g.root, "extensionsUsed", EXT_GS, EXT_SPZ);
            add_ext_names(g.root, "extensionsRequired", EXT_GS, EXT_SPZ);
        }
    } else {
        add_ext_names(g.root, "extensionsUsed", EXT_GS, NULL);
    }
    if (!st) {
        /* accessors: with data, or (SPZ) the decoded types without a bufferView */
#define VIEW(bytes, attr) (spz ? -1 : add_view(&g, (size_t)n * (bytes), NULL, (attr), TARGET_ARRAY_BUFFER))
        cJSON_AddNumberToObject(attrs, "POSITION", add_accessor(&g, VIEW(12, A_POS), 0, CT_FLOAT, n, "VEC3", 0, mn, mx));
        if (!spz)
            cJSON_AddNumberToObject(attrs, "COLOR_0", add_accessor(&g, VIEW(4, A_COLOR), 0, CT_UBYTE, n, "VEC4", 1, NULL, NULL));
        cJSON_AddNumberToObject(attrs, ATTR("ROTATION"), add_accessor(&g, VIEW(16, A_ROT), 0, CT_FLOAT, n, "VEC4", 0, NULL, NULL));
        cJSON_AddNumberToObject(attrs, ATTR("SCALE"), add_accessor(&g, VIEW(12, A_SCALE), 0, CT_FLOAT, n, "VEC3", 0, NULL, NULL));
        cJSON_AddNumberToObject(attrs, ATTR("OPACITY"), add_accessor(&g, VIEW(4, A_OPACITY), 0, CT_FLOAT, n, "SCALAR", 0, NULL, NULL));
        for (int j = 0; j < K; j++) {
            int l = (int)floor(sqrt((double)j)), c = j - l * l;
            char nm[96];
            snprintf(nm, sizeof nm, EXT_GS ":SH_DEGREE_%d_COEF_%d", l, c);
            cJSON_AddNumberToObject(attrs, nm, add_accessor(&g, VIEW(12, A_SH0 + j), 0, CT_FLOAT, n, "VEC3", 0, NULL, NULL));
        }
#undef VIEW
        st = glb_commit(&g, path);
    }
    cJSON_Delete(g.root);
    free(blob);
    gs_scene_free(&tmp);
    return st;
}

/* ---- the DA3 scene preview ------------------------------------------------------ */

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* np.percentile (linear) of sorted v[0..n-1] */
static double pct_sorted(const double *v, size_t n, double p) {
    double pos = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)pos, hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (pos - (double)lo) * (v[hi] - v[lo]);
}

static void hsv_rgb(double h, double s, double v, uint8_t out[3]) {
    int i = (int)(h * 6.0);
    double f = h * 6.0 - i, p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s), r, g, b;
    switch (i % 6) {
    case 0: r = v; g = t; b = p; break;
    case 1: r = q; g = v; b = p; break;
    case 2: r = p; g = v; b = t; break;
    case 3: r = p; g = q; b = v; break;
    case 4: r = t; g = p; b = v; break;
    default: r = v; g = p; b = q;
    }
    out[0] = (uint8_t)(r * 255); /* numpy astype(uint8) truncates */
    out[1] = (uint8_t)(g * 255);
    out[2] = (uint8_t)(b * 255);
}

/* x' = A x with A [3,4] */
static void apply34(const double A[12], const double x[3], double y[3]) {
    for (int r = 0; r < 3; r++) y[r] = A[4 * r] * x[0] + A[4 * r + 1] * x[1] + A[4 * r + 2] * x[2] + A[4 * r + 3];
}

gs_status gs_glb_write_scene(const char *path, const gs_glb_scene *sc) {
    if (!sc || sc->n < 0 || (sc->n && !sc->xyz) || sc->n_cams < 1 || !sc->w2c || !sc->K || sc->width < 1 ||
        sc->height < 1 || sc->n > GS_SCENE_MAX_SPLATS)
        return gs_error(GS_ERR_INVALID, "%s: invalid scene preview", path);
    const int64_t n = sc->n;
    const int S = sc->n_cams;
    /* A0 = flip(y,z) * w2c[0] */
    double A[12];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) A[4 * r + c] = (r ? -1.0 : 1.0) * sc->w2c[4 * r + c];
    float *pts = gs_malloc((size_t)(n ? n : 1), 3 * sizeof(float), "scene preview points");
    double *col = gs_malloc((size_t)(n ? n : 1), sizeof(double), "scene preview sort");
    uint8_t *rgba = gs_malloc((size_t)(n ? n : 1), 4, "scene preview colours");
    float *fr = gs_malloc((size_t)S * 16, 3 * sizeof(float), "camera frusta");
    uint8_t *frc = gs_malloc((size_t)S * 16, 4, "camera frustum colours");
    gs_status st = GS_OK;
    if (!pts || !col || !rgba || !fr || !frc) { st = gs_error_prefix(GS_ERR_NOMEM, "%s", path); goto done; }
    double center[3] = {0, 0, 0}, scale = 1.0;
    {
        double *tp = gs_malloc((size_t)(n ? n : 1), 3 * sizeof(double), "scene preview transform");
        if (!tp) { st = gs_error_prefix(GS_ERR_NOMEM, "%s", path); goto done; }
        for (int64_t i = 0; i < n; i++) {
            double x[3] = {sc->xyz[3 * i], sc->xyz[3 * i + 1], sc->xyz[3 * i + 2]};
            apply34(A, x, tp + 3 * i);
        }
        for (int k = 0; n && k < 3; k++) { /* np.median per axis */
            for (int64_t i = 0; i < n; i++) col[i] = tp[3 * i + k];
            qsort(col, (size_t)n, sizeof *col, cmp_d);
            center[k] = n % 2 ? col[n / 2] : 0.5 * (col[n / 2 - 1] + col[n / 2]);
        }
        double diag = 0;
        for (int64_t i = 0; i < n; i++)
            for (int k = 0; k < 3; k++) pts[3 * i + k] = (float)(tp[3 * i + k] - center[k]);
        for (int k = 0; n >= 2 && k < 3; k++) { /* _estimate_scene_scale on the moved points */
            for (int64_t i = 0; i < n; i++) col[i] = pts[3 * i + k];
            qsort(col, (size_t)n, sizeof *col, cmp_d);
            double e = pct_sorted(col, (size_t)n, 95) - pct_sorted(col, (size_t)n, 5);
            diag += e * e;
        }
        diag = sqrt(diag);
        if (n >= 2 && isfinite(diag) && diag > 0) scale = diag;
        free(tp);
    }
    for (int r = 0; r < 3; r++) A[4 * r + 3] -= center[r];
    for (int64_t i = 0; i < n; i++) {
        for (int c = 0; c < 3; c++) rgba[4 * i + c] = sc->rgb ? sc->rgb[3 * i + c] : 255;
        rgba[4 * i + 3] = 255;
    }
    const double cam_size = 0.03 * scale;
    for (int v = 0; v < S; v++) {
        const float *E = sc->w2c + 12 * v, *Kc = sc->K + 9 * v;
        /* c2w = [R^T | -R^T t] */
        double C[12];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) C[4 * r + c] = E[4 * c + r];
            C[4 * r + 3] = -(E[r] * E[3] + E[4 + r] * E[7] + E[8 + r] * E[11]);
        }
        /* K^-1 [u v 1] for an upper-triangular K */
        double fx = Kc[0], sk = Kc[1], cx = Kc[2], fy = Kc[4], cy = Kc[5];
        const double uv[4][2] = {{0, 0}, {sc->width - 1, 0}, {sc->width - 1, sc->height - 1}, {0, sc->height - 1}};
        double Pw[5][3], zero[3] = {0, 0, 0}, cw[3];
        apply34(C, zero, cw);
        for (int k = 0; k < 4; k++) {
            double y = (uv[k][1] - cy) / fy, x = (uv[k][0] - cx - sk * y) / fx;
            double pc[3] = {x * cam_size, y * cam_size, cam_size}, pw[3];
            apply34(C, pc, pw);
            apply34(A, pw, Pw[k]);
        }
        apply34(A, cw, Pw[4]);
        static const int seg[8][2] = {{4, 0}, {4, 1}, {4, 2}, {4, 3}, {0, 1}, {1, 2}, {2, 3}, {3, 0}};
        uint8_t rgb[3];
        hsv_rgb((v + 0.5) / S, 0.85, 0.95, rgb);
        for (int e = 0; e < 8; e++)
            for (int t = 0; t < 2; t++) {
                size_t o = (size_t)v * 16 + 2 * e + t;
                for (int c = 0; c < 3; c++) fr[3 * o + c] = (float)Pw[seg[e][t]][c];
                memcpy(frc + 4 * o, rgb, 3);
                frc[4 * o + 3] = 255;
            }
    }
    {
        glb g;
        glb_init(&g, NULL);
        if (n > 0) {
            float mn[3] = {INFINITY, INFINITY, INFINITY}, mx[3] = {-INFINITY, -INFINITY, -INFINITY};
            for (int64_t i = 0; i < n; i++)
                for (int k = 0; k < 3; k++) {
                    mn[k] = fminf(mn[k], pts[3 * i + k]);
                    mx[k] = fmaxf(mx[k], pts[3 * i + k]);
                }
            cJSON *attrs = cJSON_GetObjectItem(add_mesh_node(g.root, "points", MODE_POINTS), "attributes");
            int pv = add_view(&g, (size_t)n * 12, pts, 0, TARGET_ARRAY_BUFFER);
            int cv = add_view(&g, (size_t)n * 4, rgba, 0, TARGET_ARRAY_BUFFER);
            cJSON_AddNumberToObject(attrs, "POSITION", add_accessor(&g, pv, 0, CT_FLOAT, n, "VEC3", 0, mn, mx));
            cJSON_AddNumberToObject(attrs, "COLOR_0", add_accessor(&g, cv, 0, CT_UBYTE, n, "VEC4", 1, NULL, NULL));
        }
        int fv = add_view(&g, (size_t)S * 16 * 12, fr, 0, TARGET_ARRAY_BUFFER);
        int fcv = add_view(&g, (size_t)S * 16 * 4, frc, 0, TARGET_ARRAY_BUFFER);
        for (int v = 0; v < S; v++) {
            char nm[32];
            snprintf(nm, sizeof nm, "camera_%d", v);
            cJSON *attrs = cJSON_GetObjectItem(add_mesh_node(g.root, nm, MODE_LINES), "attributes");
            float mn[3] = {INFINITY, INFINITY, INFINITY}, mx[3] = {-INFINITY, -INFINITY, -INFINITY};
            for (int k = 0; k < 16; k++)
                for (int c = 0; c < 3; c++) {
                    mn[c] = fminf(mn[c], fr[3 * (v * 16 + k) + c]);
                    mx[c] = fmaxf(mx[c], fr[3 * (v * 16 + k) + c]);
                }
            cJSON_AddNumberToObject(attrs, "POSITION", add_accessor(&g, fv, (size_t)v * 16 * 12, CT_FLOAT, 16, "VEC3", 0, mn, mx));
            cJSON_AddNumberToObject(attrs, "COLOR_0", add_accessor(&g, fcv, (size_t)v * 16 * 4, CT_UBYTE, 16, "VEC4", 1, NULL, NULL));
        }
        st = glb_commit(&g, path);
        cJSON_Delete(g.root);
    }
done:
    free(pts);
    free(col);
    free(rgba);
    free(fr);
    free(frc);
    return st;
}

/* ---- reading -------------------------------------------------------------------- */

typedef struct {
    const char *name;
    cJSON *root;
    const uint8_t *bin;
    size_t bin_len;
} rd;

typedef struct {
    const uint8_t *p;
    size_t stride;
    int64_t count;
    int ct, nc, norm;
} acc;

/* An integer member: absent -> dflt (or an error when required); present
 * -> a number with no fraction in [lo, hi]. */
static gs_status jint(const rd *r, const cJSON *o, const char *key, int required, int64_t dflt, int64_t lo,
                      int64_t hi, const char *what, int64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required) return gs_error(GS_ERR_FORMAT, "%s: glTF %s has no '%s'", r->name, what, key);
        *out = dflt;
        return GS_OK;
    }
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || !(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return gs_error(GS_ERR_FORMAT, "%s: glTF %s has a bad '%s' (an integer in %lld..%lld expected)", r->name, what,
                        key, (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return GS_OK;
}

static int comp_size(int ct) {
    switch (ct) {
    case CT_BYTE: case CT_UBYTE: return 1;
    case CT_SHORT: case CT_USHORT: return 2;
    case CT_UINT: case CT_FLOAT: return 4;
    default: return 0;
    }
}

/* The bytes of bufferView idx: *p, *len, and its byteStride (0 = none). */
static gs_status get_view(const rd *r, int64_t idx, const uint8_t **p, size_t *len, size_t *stride) {
    char what[48];
    snprintf(what, sizeof what, "bufferView %lld", (long long)idx);
    const cJSON *views = cJSON_GetObjectItemCaseSensitive(r->root, "bufferViews");
    const cJSON *bv = cJSON_IsArray(views) ? cJSON_GetArrayItem(views, (int)idx) : NULL;
    if (idx < 0 || idx > INT32_MAX || !cJSON_IsObject(bv))
        return gs_error(GS_ERR_FORMAT, "%s: glTF bufferView %lld does not exist", r->name, (long long)idx);
    int64_t b, off, bl, bs;
    gs_status st;
    if ((st = jint(r, bv, "buffer", 1, 0, 0, INT32_MAX, what, &b)) || (st = jint(r, bv, "byteOffset", 0, 0, 0, INT64_MAX / 4, what, &off)) ||
        (st = jint(r, bv, "byteLength", 1, 0, 1, INT64_MAX / 4, what, &bl)) || (st = jint(r, bv, "byteStride", 0, 0, 4, 252, what, &bs)))
        return st;
    if (bs % 4) return gs_error(GS_ERR_FORMAT, "%s: glTF %s: byteStride %lld is not a multiple of 4", r->name, what, (long long)bs);
    const cJSON *bufs = cJSON_GetObjectItemCaseSensitive(r->root, "buffers");
    const cJSON *buf = cJSON_IsArray(bufs) ? cJSON_GetArrayItem(bufs, (int)b) : NULL;
    if (!cJSON_IsObject(buf)) return gs_error(GS_ERR_FORMAT, "%s: glTF %s: buffer %lld does not exist", r->name, what, (long long)b);
    if (b != 0 || cJSON_GetObjectItemCaseSensitive(buf, "uri"))
        return gs_error(GS_ERR_UNSUPPORTED, "%s: glTF buffer %lld is an external or data URI; only the GLB's own BIN chunk "
                                            "is read", r->name, (long long)b);
    int64_t blen;
    if ((st = jint(r, buf, "byteLength", 1, 0, 1, INT64_MAX / 4, "buffer 0", &blen))) return st;
    if (!r->bin) return gs_error(GS_ERR_FORMAT, "%s: glTF buffer 0 refers to the BIN chunk, but the GLB has none", r->name);
    if ((uint64_t)blen > r->bin_len)
        return gs_error(GS_ERR_FORMAT, "%s: glTF buffer 0 declares %lld bytes, but the BIN chunk has %zu", r->name,
                        (long long)blen, r->bin_len);
    if (off > blen || bl > blen - off)
        return gs_error(GS_ERR_FORMAT, "%s: glTF %s (offset %lld, %lld bytes) runs past buffer 0 (%lld bytes)", r->name,
                        what, (long long)off, (long long)bl, (long long)blen);
    *p = r->bin + off;
    *len = (size_t)bl;
    *stride = (size_t)bs;
    return GS_OK;
}

static const char *type_names[5] = {NULL, "SCALAR", "VEC2", "VEC3", "VEC4"};

/* Accessor idx for attribute `what`: its component types allowed by mask
 * (bit i: comp_types[i]; normalized given by norm_mask the same way) and its
 * element type nc_ok (bits 1..4: component counts). */
static const int comp_types[6] = {CT_BYTE, CT_UBYTE, CT_SHORT, CT_USHORT, CT_UINT, CT_FLOAT};

static gs_status get_accessor(const rd *r, const cJSON *attrs, const char *what, int nc_ok, unsigned raw_mask,
                              unsigned norm_mask, acc *a) {
    int64_t idx;
    gs_status st;
    if ((st = jint(r, attrs, what, 1, 0, 0, INT32_MAX, "primitive attributes", &idx))) return st;
    const cJSON *accs = cJSON_GetObjectItemCaseSensitive(r->root, "accessors");
    const cJSON *ja = cJSON_IsArray(accs) ? cJSON_GetArrayItem(accs, (int)idx) : NULL;
    if (!cJSON_IsObject(ja))
        return gs_error(GS_ERR_FORMAT, "%s: glTF attribute %s: accessor %lld does not exist", r->name, what, (long long)idx);
    char ws[160];
    snprintf(ws, sizeof ws, "accessor %lld (%s)", (long long)idx, what);
    if (cJSON_GetObjectItemCaseSensitive(ja, "sparse"))
        return gs_error(GS_ERR_UNSUPPORTED, "%s: glTF %s is sparse (not supported)", r->name, ws);
    int64_t ct, count, off, view;
    if ((st = jint(r, ja, "componentType", 1, 0, 0, 65535, ws, &ct)) ||
        (st = jint(r, ja, "count", 1, 0, 1, GS_SCENE_MAX_SPLATS, ws, &count)) ||
        (st = jint(r, ja, "byteOffset", 0, 0, 0, INT64_MAX / 4, ws, &off)) ||
        (st = jint(r, ja, "bufferView", 1, 0, 0, INT32_MAX, ws, &view)))
        return st;
    const cJSON *jt = cJSON_GetObjectItemCaseSensitive(ja, "type");
    int nc = 0;
    for (int k = 1; k <= 4; k++)
        if (cJSON_IsString(jt) && !strcmp(jt->valuestring, type_names[k])) nc = k;
    if (!nc || !(nc_ok & (1 << nc)))
        return gs_error(GS_ERR_FORMAT, "%s: glTF %s has type %s%s%s, not what the attribute needs", r->name, ws,
                        cJSON_IsString(jt) ? "'" : "", cJSON_IsString(jt) ? jt->valuestring : "(missing)",
                        cJSON_IsString(jt) ? "'" : "");
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(ja, "normalized");
    int norm = cJSON_IsTrue(jn);
    int ci = -1;
    for (int k = 0; k < 6; k++)
        if (comp_types[k] == ct) ci = k;
    if (ci < 0 || !((norm ? norm_mask : raw_mask) & (1u << ci)))
        return gs_error(GS_ERR_FORMAT, "%s: glTF %s has componentType %lld%s, which the attribute does not allow",
                        r->name, ws, (long long)ct, norm ? " (normalized)" : "");
    const int cs = comp_size((int)ct);
    if (off % cs) return gs_error(GS_ERR_FORMAT, "%s: glTF %s: byteOffset %lld is not a multiple of %d", r->name, ws, (long long)off, cs);
    const uint8_t *p;
    size_t vlen, vstride;
    if ((st = get_view(r, view, &p, &vlen, &vstride))) return gs_error_prefix(st, "%s", ws);
    size_t elem = (size_t)nc * cs, stride = vstride ? vstride : elem;
    if (stride < elem)
        return gs_error(GS_ERR_FORMAT, "%s: glTF %s: byteStride %zu is smaller than an element (%zu bytes)", r->name, ws, stride, elem);
    /* offset + (count-1)*stride + elem <= vlen, without overflow (count <= 2^28, stride <= 252) */
    uint64_t need = (uint64_t)off + (uint64_t)(count - 1) * stride + elem;
    if ((uint64_t)off > vlen || need > vlen)
        return gs_error(GS_ERR_FORMAT, "%s: glTF %s needs %llu bytes of its bufferView, which has %zu", r->name, ws,
                        (unsigned long long)need, vlen);
    *a = (acc){p + off, stride, count, (int)ct, nc, norm};
    return GS_OK;
}

static inline float comp_get(const uint8_t *p, int ct, int norm) {
    switch (ct) {
    case CT_FLOAT: { float v; memcpy(&v, p, 4); return v; }
    case CT_BYTE: { float v = (float)(int8_t)p[0]; return norm ? fmaxf(v / 127.0f, -1.0f) : v; }
    case CT_UBYTE: return norm ? p[0] / 255.0f : (float)p[0];
    case CT_SHORT: { int16_t v; memcpy(&v, p, 2); return norm ? fmaxf(v / 32767.0f, -1.0f) : (float)v; }
    case CT_USHORT: { uint16_t v; memcpy(&v, p, 2); return norm ? v / 65535.0f : (float)v; }
    default: { uint32_t v; memcpy(&v, p, 4); return (float)v; }
    }
}

static inline void acc_get(const acc *a, int64_t i, float *out) {
    const uint8_t *e = a->p + (size_t)i * a->stride;
    const int cs = comp_size(a->ct);
    for (int k = 0; k < a->nc; k++) out[k] = comp_get(e + k * cs, a->ct, a->norm);
}

/* component-type masks (bits of comp_types: byte ubyte short ushort uint float) */
#define M_FLOAT (1u << 5)
#define M_UBYTE (1u << 1)
#define M_USHORT (1u << 3)
#define M_BYTE (1u << 0)
#define M_SHORT (1u << 2)

static gs_status read_khr(const rd *r, const cJSON *prim, gs_scene *s) {
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(prim, "attributes");
    acc pos, rot, sca, opa, sh[16];
    gs_status st;
    if ((st = get_accessor(r, attrs, "POSITION", 1 << 3, M_FLOAT, 0, &pos)) ||
        (st = get_accessor(r, attrs, ATTR("ROTATION"), 1 << 4, M_FLOAT, M_BYTE | M_SHORT, &rot)) ||
        (st = get_accessor(r, attrs, ATTR("SCALE"), 1 << 3, M_FLOAT | M_UBYTE | M_USHORT, M_UBYTE | M_USHORT, &sca)) ||
        (st = get_accessor(r, attrs, ATTR("OPACITY"), 1 << 1, M_FLOAT, M_UBYTE | M_USHORT, &opa)))
        return st;
    int deg = -1;
    for (int l = 0; l <= GS_SH_MAX_DEGREE; l++) {
        int have = 0;
        for (int c = 0; c < 2 * l + 1; c++) {
            char nm[96];
            snprintf(nm, sizeof nm, EXT_GS ":SH_DEGREE_%d_COEF_%d", l, c);
            have += cJSON_GetObjectItemCaseSensitive(attrs, nm) != NULL;
        }
        if (have == 0) break;
        if (have != 2 * l + 1)
            return gs_error(GS_ERR_FORMAT, "%s: glTF SH degree %d is partly defined (%d of %d coefficients)", r->name, l,
                            have, 2 * l + 1);
        for (int c = 0; c < 2 * l + 1; c++) {
            char nm[96];
            snprintf(nm, sizeof nm, EXT_GS ":SH_DEGREE_%d_COEF_%d", l, c);
            if ((st = get_accessor(r, attrs, nm, 1 << 3, M_FLOAT, 0, &sh[l * l + c]))) return st;
        }
        deg = l;
    }
    if (deg < 0) return gs_error(GS_ERR_FORMAT, "%s: glTF splats have no " ATTR("SH_DEGREE_0_COEF_0"), r->name);
    const int K = gs_sh_coeffs(deg);
    const acc *all[4] = {&rot, &sca, &opa, NULL};
    for (int k = 0; k < 3; k++)
        if (all[k]->count != pos.count)
            return gs_error(GS_ERR_FORMAT, "%s: glTF splat attributes have different counts (%lld and %lld)", r->name,
                            (long long)pos.count, (long long)all[k]->count);
    for (int j = 0; j < K; j++)
        if (sh[j].count != pos.count)
            return gs_error(GS_ERR_FORMAT, "%s: glTF SH attribute count %lld differs from POSITION's %lld", r->name,
                            (long long)sh[j].count, (long long)pos.count);
    if ((st = gs_scene_alloc(s, pos.count, deg))) return gs_error_prefix(st, "%s", r->name);
    float shf[15];
    sh_flips(1, -1, -1, shf);
    for (int64_t i = 0; i < s->n; i++) {
        float v[4];
        acc_get(&pos, i, v);
        s->means[3 * i] = v[0]; s->means[3 * i + 1] = -v[1]; s->means[3 * i + 2] = -v[2];
        acc_get(&sca, i, s->scales + 3 * i);
        acc_get(&opa, i, s->opacities + i);
        acc_get(&rot, i, v); /* x y z w, glTF axes */
        double nn = (double)v[0] * v[0] + (double)v[1] * v[1] + (double)v[2] * v[2] + (double)v[3] * v[3];
        float *q = s->rotations + 4 * i;
        q[0] = v[3]; q[1] = v[0]; q[2] = -v[1]; q[3] = -v[2];
        if (nn > 0 && isfinite(nn) && fabs(nn - 1.0) > 1e-6) { /* unit as stored: keep the bits */
            float rn = (float)(1.0 / sqrt(nn));
            for (int k = 0; k < 4; k++) q[k] *= rn;
        }
        float *o = s->sh + (size_t)i * K * 3;
        for (int j = 0; j < K; j++) {
            acc_get(&sh[j], i, o + 3 * j);
            if (j)
                for (int c = 0; c < 3; c++) o[3 * j + c] *= shf[j - 1];
        }
    }
    return GS_OK;
}

static gs_status read_spz(const rd *r, const cJSON *prim, const cJSON *ext, gs_scene *s) {
    int64_t bv;
    gs_status st;
    if ((st = jint(r, ext, "bufferView", 1, 0, 0, INT32_MAX, EXT_SPZ, &bv))) return st;
    const uint8_t *p;
    size_t len, stride;
    if ((st = get_view(r, bv, &p, &len, &stride))) return gs_error_prefix(st, EXT_SPZ);
    char nm[1100];
    snprintf(nm, sizeof nm, "%s (SPZ stream)", r->name);
    if ((st = gs_spz_read_mem(p, len, nm, s))) return st;
    scene_flip(s, -1, 1, -1); /* see gs_gltf_write */
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(prim, "attributes");
    const cJSON *ja = cJSON_GetObjectItemCaseSensitive(attrs, "POSITION");
    const cJSON *accs = cJSON_GetObjectItemCaseSensitive(r->root, "accessors");
    if (cJSON_IsNumber(ja) && cJSON_IsArray(accs)) {
        const cJSON *a = cJSON_GetArrayItem(accs, ja->valueint);
        const cJSON *c = a ? cJSON_GetObjectItemCaseSensitive(a, "count") : NULL;
        if (cJSON_IsNumber(c) && c->valuedouble != (double)s->n) {
            int64_t have = s->n;
            gs_scene_free(s);
            return gs_error(GS_ERR_FORMAT, "%s: glTF POSITION count %.0f differs from the SPZ stream's %lld splats",
                            r->name, c->valuedouble, (long long)have);
        }
    }
    return GS_OK;
}

static gs_status read_points_prim(const rd *r, const cJSON *prim, gs_scene *s) {
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(prim, "attributes");
    acc pos, col;
    gs_status st = get_accessor(r, attrs, "POSITION", 1 << 3, M_FLOAT, 0, &pos);
    if (st) return st;
    int has_col = cJSON_GetObjectItemCaseSensitive(attrs, "COLOR_0") != NULL;
    if (has_col && (st = get_accessor(r, attrs, "COLOR_0", (1 << 3) | (1 << 4), M_FLOAT, M_UBYTE | M_USHORT, &col)))
        return st;
    if (has_col && col.count != pos.count)
        return gs_error(GS_ERR_FORMAT, "%s: glTF COLOR_0 has %lld elements for %lld points", r->name,
                        (long long)col.count, (long long)pos.count);
    float *xyz = gs_malloc((size_t)pos.count, 3 * sizeof(float), "glTF points");
    float *rgb = has_col ? gs_malloc((size_t)pos.count, 3 * sizeof(float), "glTF point colours") : NULL;
    if (!xyz || (has_col && !rgb)) { free(xyz); free(rgb); return gs_error_prefix(GS_ERR_NOMEM, "%s", r->name); }
    for (int64_t i = 0; i < pos.count; i++) {
        float v[4];
        acc_get(&pos, i, v);
        xyz[3 * i] = v[0]; xyz[3 * i + 1] = -v[1]; xyz[3 * i + 2] = -v[2];
        if (has_col) { /* as stored (DA3/trimesh write the sRGB bytes) */
            acc_get(&col, i, v);
            for (int c = 0; c < 3; c++) rgb[3 * i + c] = v[c];
        }
    }
    st = gs_scene_from_points(xyz, rgb, pos.count, r->name, s);
    free(xyz);
    free(rgb);
    return st;
}

static int node_has_transform(const cJSON *node) {
    static const double ident[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, unit_q[4] = {0, 0, 0, 1},
                        ones[3] = {1, 1, 1}, zeros[3] = {0, 0, 0};
    const struct { const char *key; const double *ref; int n; } t[4] = {
        {"matrix", ident, 16}, {"rotation", unit_q, 4}, {"scale", ones, 3}, {"translation", zeros, 3}};
    for (int k = 0; k < 4; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(node, t[k].key);
        if (!a) continue;
        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != t[k].n) return 1;
        for (int i = 0; i < t[k].n; i++) {
            const cJSON *e = cJSON_GetArrayItem(a, i);
            if (!cJSON_IsNumber(e) || e->valuedouble != t[k].ref[i]) return 1;
        }
    }
    return 0;
}

static gs_status read_json(rd *r, gs_scene *s, gs_gltf_kind *kind) {
    const cJSON *asset = cJSON_GetObjectItemCaseSensitive(r->root, "asset");
    const cJSON *ver = asset ? cJSON_GetObjectItemCaseSensitive(asset, "version") : NULL;
    if (!cJSON_IsString(ver) || strncmp(ver->valuestring, "2.", 2))
        return gs_error(GS_ERR_UNSUPPORTED, "%s: glTF asset.version is %s%s%s (only 2.x is read)", r->name,
                        cJSON_IsString(ver) ? "'" : "", cJSON_IsString(ver) ? ver->valuestring : "missing",
                        cJSON_IsString(ver) ? "'" : "");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(r->root, "extensionsRequired"), *e;
    cJSON_ArrayForEach(e, req) {
        if (!cJSON_IsString(e) || (strcmp(e->valuestring, EXT_GS) && strcmp(e->valuestring, EXT_SPZ) &&
                                   strcmp(e->valuestring, EXT_SPZ_OLD)))
            return gs_error(GS_ERR_UNSUPPORTED, "%s: glTF requires extension %s, which gs does not read", r->name,
                            cJSON_IsString(e) ? e->valuestring : "(not a string)");
    }
    const cJSON *meshes = cJSON_GetObjectItemCaseSensitive(r->root, "meshes"), *mesh, *prim;
    const cJSON *splat = NULL, *points = NULL;
    cJSON_ArrayForEach(mesh, meshes) {
        const cJSON *prims = cJSON_GetObjectItemCaseSensitive(mesh, "primitives");
        cJSON_ArrayForEach(prim, prims) {
            const cJSON *ex = cJSON_GetObjectItemCaseSensitive(prim, "extensions");
            if (!splat && cJSON_GetObjectItemCaseSensitive(ex, EXT_GS)) splat = prim;
            const cJSON *mode = cJSON_GetObjectItemCaseSensitive(prim, "mode");
            if (!points && cJSON_IsNumber(mode) && mode->valuedouble == MODE_POINTS) points = prim;
        }
    }
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(r->root, "nodes"), *node;
    cJSON_ArrayForEach(node, nodes)
        if (node_has_transform(node)) {
            gs_warn("%s: glTF node transforms are not applied; the splats are read in their mesh's own frame", r->name);
            break;
        }
    if (splat) {
        const cJSON *mode = cJSON_GetObjectItemCaseSensitive(splat, "mode");
        if (!cJSON_IsNumber(mode) || mode->valuedouble != MODE_POINTS)
            return gs_error(GS_ERR_FORMAT, "%s: glTF " EXT_GS " primitive has mode %s (must be POINTS, 0)", r->name,
                            cJSON_IsNumber(mode) ? "other than 0" : "missing, i.e. TRIANGLES");
        const cJSON *ext = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(splat, "extensions"), EXT_GS);
        const cJSON *kern = cJSON_GetObjectItemCaseSensitive(ext, "kernel");
        if (cJSON_IsString(kern) && strcmp(kern->valuestring, "ellipse"))
            return gs_error(GS_ERR_UNSUPPORTED, "%s: glTF splat kernel '%s' (only 'ellipse')", r->name, kern->valuestring);
        const cJSON *cs = cJSON_GetObjectItemCaseSensitive(ext, "colorSpace");
        if (cJSON_IsString(cs) && strcmp(cs->valuestring, "srgb_rec709_display"))
            gs_warn("%s: glTF splat colour space '%s' is read as sRGB", r->name, cs->valuestring);
        const cJSON *sub = cJSON_GetObjectItemCaseSensitive(ext, "extensions");
        const cJSON *spz = cJSON_GetObjectItemCaseSensitive(sub, EXT_SPZ);
        if (!spz) spz = cJSON_GetObjectItemCaseSensitive(sub, EXT_SPZ_OLD);
        gs_status st = spz ? read_spz(r, splat, spz, s) : read_khr(r, splat, s);
        if (st) return st;
        const cJSON *extras = cJSON_GetObjectItemCaseSensitive(splat, "extras");
        s->antialiased = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(extras, "antialiased"));
        *kind = spz ? GS_GLTF_SPLATS_SPZ : GS_GLTF_SPLATS;
        return GS_OK;
    }
    if (points) {
        *kind = GS_GLTF_POINTS;
        return read_points_prim(r, points, s);
    }
    return gs_error(GS_ERR_FORMAT, "%s: glTF file has no " EXT_GS " primitive and no POINTS primitive: no splats to read",
                    r->name);
}

gs_status gs_gltf_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s, gs_gltf_kind *kind) {
    memset(s, 0, sizeof *s);
    gs_gltf_kind kd = GS_GLTF_SPLATS;
    if (!kind) kind = &kd;
    rd r = {name ? name : "(glb)", NULL, NULL, 0};
    if (!data && size) return gs_error(GS_ERR_INVALID, "%s: no data", r.name);
    if (size < 12 || rd32(data) != GLB_MAGIC)
        return gs_error(GS_ERR_FORMAT, "%s: not a binary glTF file (no 'glTF' magic%s)", r.name,
                        size < 12 ? ", under 12 bytes" : "");
    uint32_t version = rd32(data + 4), length = rd32(data + 8);
    if (version != 2) return gs_error(GS_ERR_UNSUPPORTED, "%s: GLB container version %u (only 2)", r.name, version);
    if (length != size)
        return gs_error(GS_ERR_FORMAT, "%s: GLB header says %u bytes but the file has %zu%s", r.name, length, size,
                        length > size ? " (truncated?)" : "");
    if (size < 20) return gs_error(GS_ERR_FORMAT, "%s: GLB file has no JSON chunk", r.name);
    uint32_t jl = rd32(data + 12);
    if (rd32(data + 16) != GLB_CHUNK_JSON) return gs_error(GS_ERR_FORMAT, "%s: the first GLB chunk is not JSON", r.name);
    if (jl > size - 20) return gs_error(GS_ERR_FORMAT, "%s: GLB JSON chunk of %u bytes runs past the end of the file", r.name, jl);
    if (jl > GLB_MAX_JSON) return gs_error(GS_ERR_UNSUPPORTED, "%s: GLB JSON chunk of %u bytes is over the limit of %zu", r.name, jl, GLB_MAX_JSON);
    size_t pos = 20 + (size_t)jl;
    if (size - pos >= 8) {
        uint32_t bl = rd32(data + pos), bt = rd32(data + pos + 4);
        if (bt == GLB_CHUNK_BIN) {
            if (bl > size - pos - 8)
                return gs_error(GS_ERR_FORMAT, "%s: GLB BIN chunk of %u bytes runs past the end of the file", r.name, bl);
            r.bin = data + pos + 8;
            r.bin_len = bl;
        }
    } else if (size != pos) {
        return gs_error(GS_ERR_FORMAT, "%s: %zu stray bytes after the GLB JSON chunk", r.name, size - pos);
    }
    r.root = cJSON_ParseWithLength((const char *)data + 20, jl);
    if (!cJSON_IsObject(r.root)) {
        cJSON_Delete(r.root);
        return gs_error(GS_ERR_FORMAT, "%s: the GLB JSON chunk is not a JSON object", r.name);
    }
    gs_status st = read_json(&r, s, kind);
    cJSON_Delete(r.root);
    if (st) gs_scene_free(s);
    return st;
}
