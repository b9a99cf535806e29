/* test_eval_common.h - what the evaluator tests share: the golden file
 * (tests/golden/eval/eval_goldens.json, made by tools/make_eval_goldens.py),
 * the recipe interpreter that rebuilds its inputs bit-exactly (a mirror of
 * the script's; the recipe language is documented there), and the writer of
 * the deterministic LPIPS-vgg weights of the script's synthetic_vgg_state. */
#ifndef GS_TEST_EVAL_COMMON_H
#define GS_TEST_EVAL_COMMON_H

#include "tests/test.h"
#include "data/image.h"
#include "data/safetensors.h"
#include "eval/metrics.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>

#define GOLDEN "tests/golden/eval/eval_goldens.json"
#define TOL_PSNR 1e-4
#define TOL_SSIM 1e-5
#define TOL_LPIPS 1e-4

/* ---- the recipe interpreter (mirror of make_eval_goldens.py) ------------------ */
static inline uint32_t lowbias32(uint32_t v) {
    v ^= v >> 16;
    v *= 0x7feb352du;
    v ^= v >> 15;
    v *= 0x846ca68bu;
    v ^= v >> 16;
    return v;
}

static inline uint32_t hxyc(uint32_t x, uint32_t y, uint32_t c, uint32_t seed) {
    return lowbias32(((seed * 1024u + c) * 4096u + y) * 4096u + x);
}

typedef struct {
    int w, h, c;
    int *v; /* h*w*c values in 0..255 */
    float *f; /* set once the recipe turned to float */
} rimg;

static inline int *at(rimg *m, int x, int y) { return m->v + ((size_t)y * m->w + x) * m->c; }
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

static inline int rimg_new(rimg *m, int w, int h, int c) {
    m->w = w, m->h = h, m->c = c, m->f = NULL;
    m->v = calloc((size_t)w * h * c, sizeof *m->v);
    return m->v != NULL;
}

static inline void rimg_replace(rimg *m, rimg *n) {
    free(m->v);
    free(m->f);
    *m = *n;
}

static inline int load_source(const char *src, rimg *m) {
    if (!strncmp(src, "fern:", 5)) {
        char rel[128];
        snprintf(rel, sizeof rel, "scenes/fern/images_8/image%03d.png", atoi(src + 5));
        gs_image im;
        if (gs_image_read(gs_test_data(rel), &im) != GS_OK) return 0;
        if (im.channels != 3 || !rimg_new(m, im.width, im.height, 3)) {
            gs_image_free(&im);
            return 0;
        }
        for (size_t i = 0; i < (size_t)im.width * im.height * 3; i++) m->v[i] = (int)lrintf(im.data[i] * 255.0f);
        gs_image_free(&im);
        return 1;
    }
    int w, h;
    if (sscanf(src, "synth:%dx%d", &w, &h) != 2 || !rimg_new(m, w, h, 3)) return 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                at(m, x, y)[c] = (int)((5u * x + 3u * y + 60u * c + hxyc(x >> 2, y >> 2, c, 7) % 32) % 256);
    return 1;
}

/* FNV-1a 32 of the values after the last jpeg op (the golden's *_jpeg_fnv) */
static uint32_t g_jpeg_fnv;

/* JPEG round trip at quality q, as Pillow saves (libjpeg defaults: 4:2:0,
 * integer DCT, standard tables) and read back by gs's own image reader. */
static inline int op_jpeg(rimg *m, int q) {
    if (m->c != 1 && m->c != 3) return 0;
    const size_t cnt = (size_t)m->w * m->h * m->c;
    unsigned char *px = malloc(cnt), *buf = NULL;
    unsigned long size = 0;
    if (!px) return 0;
    for (size_t i = 0; i < cnt; i++) px[i] = (unsigned char)m->v[i];
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &buf, &size);
    ci.image_width = (JDIMENSION)m->w;
    ci.image_height = (JDIMENSION)m->h;
    ci.input_components = m->c;
    ci.in_color_space = m->c == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, q, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = px + (size_t)ci.next_scanline * m->w * m->c;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(px);
    gs_image im;
    gs_status s = gs_image_read_mem(buf, size, "jpeg op", &im);
    free(buf);
    if (s) return 0;
    int ok = im.width == m->w && im.height == m->h && im.channels == m->c;
    g_jpeg_fnv = 0x811c9dc5u;
    for (size_t i = 0; ok && i < cnt; i++) {
        m->v[i] = (int)lrintf(im.data[i] * 255.0f);
        g_jpeg_fnv = (g_jpeg_fnv ^ (uint32_t)m->v[i]) * 0x01000193u;
    }
    gs_image_free(&im);
    return ok;
}

static inline int apply_op(rimg *m, const char *op) {
    rimg n;
    int a, b, cx, cy;
    if (sscanf(op, "shift %d %d", &a, &b) == 2) {
        if (!rimg_new(&n, m->w, m->h, m->c)) return 0;
        for (int y = 0; y < m->h; y++)
            for (int x = 0; x < m->w; x++)
                memcpy(at(&n, x, y), at(m, clampi(x - a, 0, m->w - 1), clampi(y - b, 0, m->h - 1)), m->c * sizeof(int));
    } else if (!strcmp(op, "blur3")) {
        if (!rimg_new(&n, m->w, m->h, m->c)) return 0;
        for (int y = 0; y < m->h; y++)
            for (int x = 0; x < m->w; x++)
                for (int c = 0; c < m->c; c++) {
                    int s = 0;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++)
                            s += at(m, clampi(x + dx, 0, m->w - 1), clampi(y + dy, 0, m->h - 1))[c];
                    at(&n, x, y)[c] = (s + 4) / 9;
                }
    } else if (sscanf(op, "noise %d %d", &a, &b) == 2) {
        if (!rimg_new(&n, m->w, m->h, m->c)) return 0;
        for (int y = 0; y < m->h; y++)
            for (int x = 0; x < m->w; x++)
                for (int c = 0; c < m->c; c++)
                    at(&n, x, y)[c] =
                        clampi(at(m, x, y)[c] + (int)(hxyc(x, y, c, (uint32_t)b) % (uint32_t)(2 * a + 1)) - a, 0, 255);
    } else if (!strcmp(op, "blocky8")) {
        if (!rimg_new(&n, m->w, m->h, m->c)) return 0;
        for (int by = 0; by < m->h; by += 8)
            for (int bx = 0; bx < m->w; bx += 8) {
                const int ey = by + 8 < m->h ? by + 8 : m->h, ex = bx + 8 < m->w ? bx + 8 : m->w;
                const int cnt = (ey - by) * (ex - bx);
                for (int c = 0; c < m->c; c++) {
                    int s = 0;
                    for (int y = by; y < ey; y++)
                        for (int x = bx; x < ex; x++) s += at(m, x, y)[c];
                    const int mean = (s + cnt / 2) / cnt;
                    for (int y = by; y < ey; y++)
                        for (int x = bx; x < ex; x++) at(&n, x, y)[c] = (at(m, x, y)[c] + 3 * mean + 2) / 4;
                }
            }
    } else if (sscanf(op, "jpeg %d", &a) == 1) {
        return op_jpeg(m, a);
    } else if (!strcmp(op, "posterize")) {
        for (size_t i = 0; i < (size_t)m->w * m->h * m->c; i++) m->v[i] = (m->v[i] >> 4) * 17;
        return 1;
    } else if (sscanf(op, "crop %d %d %d %d", &cx, &cy, &a, &b) == 4) {
        if (cx + a > m->w || cy + b > m->h || !rimg_new(&n, a, b, m->c)) return 0;
        for (int y = 0; y < b; y++)
            for (int x = 0; x < a; x++) memcpy(at(&n, x, y), at(m, cx + x, cy + y), m->c * sizeof(int));
    } else if (!strcmp(op, "gray")) {
        if (!rimg_new(&n, m->w, m->h, 1)) return 0;
        for (int y = 0; y < m->h; y++)
            for (int x = 0; x < m->w; x++) {
                const int *p = at(m, x, y);
                at(&n, x, y)[0] = (77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8;
            }
    } else if (!strcmp(op, "rgba")) { /* alpha as the last channel: RGB -> RGBA, gray -> gray + alpha */
        const int span = m->w + m->h - 2 > 1 ? m->w + m->h - 2 : 1;
        if (!rimg_new(&n, m->w, m->h, m->c + 1)) return 0;
        for (int y = 0; y < m->h; y++)
            for (int x = 0; x < m->w; x++) {
                memcpy(at(&n, x, y), at(m, x, y), (size_t)m->c * sizeof(int));
                at(&n, x, y)[m->c] = ((x + y) * 255) / span;
            }
    } else if (!strcmp(op, "affine")) {
        const size_t cnt = (size_t)m->w * m->h * m->c;
        m->f = malloc(cnt * sizeof *m->f);
        if (!m->f) return 0;
        for (size_t i = 0; i < cnt; i++) m->f[i] = (float)(m->v[i] - 20) / 200.0f;
        return 1;
    } else if (!strncmp(op, "over ", 5)) {
        const size_t cnt = (size_t)m->w * m->h * m->c;
        if (!m->f) {
            m->f = malloc(cnt * sizeof *m->f);
            if (!m->f) return 0;
            for (size_t i = 0; i < cnt; i++) m->f[i] = (float)m->v[i] / 255.0f;
        }
        /* through the library's own compositing, which must give Python's numbers */
        const float v = strcmp(op + 5, "white") ? 0.0f : 1.0f, bg[3] = {v, v, v};
        gs_image in = {m->w, m->h, m->c, 8, m->f}, out;
        if (gs_eval_flatten(&in, bg, &out) != GS_OK) return 0;
        const int oc = out.channels;
        memcpy(m->f, out.data, (size_t)m->w * m->h * oc * sizeof *m->f);
        gs_image_free(&out);
        m->c = oc; /* the int values are stale from here on; only f is used */
        return 1;
    } else {
        return 0;
    }
    rimg_replace(m, &n);
    return 1;
}

/* Build the float image of a recipe (JSON array of strings). */
static inline int build_recipe(const cJSON *recipe, gs_image *out) {
    memset(out, 0, sizeof *out);
    g_jpeg_fnv = 0;
    rimg m = {0};
    const cJSON *it = recipe ? recipe->child : NULL;
    if (!it || !cJSON_IsString(it) || !load_source(it->valuestring, &m)) return 0;
    int ok = 1;
    for (it = it->next; it && ok; it = it->next) ok = cJSON_IsString(it) && apply_op(&m, it->valuestring);
    if (ok && gs_image_alloc(out, m.w, m.h, m.c) == GS_OK) {
        for (size_t i = 0; i < (size_t)m.w * m.h * m.c; i++) out->data[i] = m.f ? m.f[i] : (float)m.v[i] / 255.0f;
    } else {
        ok = 0;
    }
    free(m.v);
    free(m.f);
    return ok;
}

/* Build a case's prediction and ground truth; where a recipe went through
 * JPEG, its decoded bytes must be the reference's (else a metric mismatch
 * would only be the codec's). */
static inline int build_pair(const cJSON *c, gs_image *pred, gs_image *gt) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
    const char *which[2] = {"pred", "gt"}, *fkey[2] = {"pred_jpeg_fnv", "gt_jpeg_fnv"};
    gs_image *im[2] = {pred, gt};
    memset(gt, 0, sizeof *gt);
    for (int k = 0; k < 2; k++) {
        if (!build_recipe(cJSON_GetObjectItem(c, which[k]), im[k])) {
            if (k) gs_image_free(pred);
            return 0;
        }
        const cJSON *f = cJSON_GetObjectItem(c, fkey[k]);
        if (cJSON_IsNumber(f) && (double)g_jpeg_fnv != f->valuedouble) {
            gs_test_fail(__FILE__, __LINE__, "%s: the %s JPEG decodes to other bytes than Pillow's (FNV %u vs %.0f)",
                         name ? name : "?", which[k], g_jpeg_fnv, f->valuedouble);
            gs_image_free(pred);
            if (k) gs_image_free(gt);
            return 0;
        }
    }
    return 1;
}

/* An LPIPS value v and its per-tap terms against case c's reference (key,
 * and key_layers); who labels the messages. Returns |v - reference|. */
static inline double check_lpips_case(const cJSON *c, const char *key, const gs_lpips *m, double v,
                                      const double *layers, const char *who) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(c, "name"));
    const double ref = cJSON_GetObjectItem(c, key)->valuedouble;
    char lkey[64];
    snprintf(lkey, sizeof lkey, "%s_layers", key);
    CHECK_MSG(fabs(v - ref) <= TOL_LPIPS, "%s%s %s: %.9f vs %.9f", who, key, name, v, ref);
    const cJSON *lr = cJSON_GetObjectItem(c, lkey);
    const int nl = gs_lpips_num_layers(m);
    CHECK_EQ_INT(cJSON_GetArraySize(lr), nl);
    for (int l = 0; l < nl && l < cJSON_GetArraySize(lr); l++)
        CHECK_MSG(fabs(layers[l] - cJSON_GetArrayItem(lr, l)->valuedouble) <= TOL_LPIPS, "%s%s %s layer %d: %.9f vs %.9f",
                  who, key, name, l, layers[l], cJSON_GetArrayItem(lr, l)->valuedouble);
    return fabs(v - ref);
}

static inline cJSON *load_goldens(void) {
    uint8_t *text;
    size_t n;
    if (gs_read_file(GOLDEN, 1 << 22, &text, &n) != GS_OK) return NULL;
    cJSON *j = cJSON_ParseWithLength((const char *)text, n);
    free(text);
    return j;
}

static inline int uses_fern(const cJSON *c) {
    const cJSON *a = cJSON_GetObjectItem(c, "pred"), *b = cJSON_GetObjectItem(c, "gt");
    return strncmp(a->child->valuestring, "fern:", 5) == 0 || strncmp(b->child->valuestring, "fern:", 5) == 0;
}

/* The deterministic LPIPS-vgg state of make_eval_goldens.py (synthetic_vgg_state). */
static inline float *synth_values(int t, size_t n, float scale, int absval) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; v && i < n; i++) {
        int k = (int)(lowbias32((uint32_t)(t + 1) * 2654435761u + (uint32_t)i) % 2001u) - 1000;
        if (absval) k = abs(k);
        v[i] = (float)k / 1000.0f * scale;
    }
    return v;
}

/* Write the synthetic vgg file; skip_backbone leaves out the conv tensors.
 * The writer copies data at save time, so every buffer lives until then. */
static inline gs_status write_vgg(const char *path, int skip_backbone) {
    static const struct { const char *name; int cin, cout; } k_vgg_convs[] = {
        {"net.slice1.0", 3, 64},     {"net.slice1.2", 64, 64},    {"net.slice2.5", 64, 128},
        {"net.slice2.7", 128, 128},  {"net.slice3.10", 128, 256}, {"net.slice3.12", 256, 256},
        {"net.slice3.14", 256, 256}, {"net.slice4.17", 256, 512}, {"net.slice4.19", 512, 512},
        {"net.slice4.21", 512, 512}, {"net.slice5.24", 512, 512}, {"net.slice5.26", 512, 512},
        {"net.slice5.28", 512, 512},
    };
    enum { N_CONV = sizeof k_vgg_convs / sizeof k_vgg_convs[0] };
    float *bufs[2 * N_CONV + 5] = {0};
    int nb = 0, t = 0;
    gs_st_writer *w = gs_st_writer_new();
    gs_status s = w ? GS_OK : GS_ERR_NOMEM;
    for (int i = 0; i < N_CONV && !s; i++) {
        const int cin = k_vgg_convs[i].cin, cout = k_vgg_convs[i].cout;
        const int e = (int)floor(0.5 * log2(cin * 9 / 6.0) + 0.5);
        const int64_t ws[4] = {cout, cin, 3, 3}, bs[1] = {cout};
        float *wv = bufs[nb++] = synth_values(t++, (size_t)cout * cin * 9, ldexpf(1.0f, -e), 0);
        float *bv = bufs[nb++] = synth_values(t++, (size_t)cout, ldexpf(1.0f, -6), 0);
        char name[64];
        if (!skip_backbone) {
            snprintf(name, sizeof name, "%s.weight", k_vgg_convs[i].name);
            s = gs_st_writer_add(w, name, GS_F32, 4, ws, wv);
            snprintf(name, sizeof name, "%s.bias", k_vgg_convs[i].name);
            if (!s) s = gs_st_writer_add(w, name, GS_F32, 1, bs, bv);
        }
    }
    const int lin_c[5] = {64, 128, 256, 512, 512};
    for (int l = 0; l < 5 && !s; l++) {
        float *v = bufs[nb++] = synth_values(t++, (size_t)lin_c[l], 1.0f, 1);
        char name[64];
        const int64_t ls[4] = {1, lin_c[l], 1, 1};
        snprintf(name, sizeof name, "lin%d.model.1.weight", l);
        s = gs_st_writer_add(w, name, GS_F32, 4, ls, v);
    }
    if (!s) s = gs_st_writer_save(w, path);
    gs_st_writer_free(w);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    return s;
}

#endif
