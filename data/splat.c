/* splat.c - antimatter15 ".splat": 32 bytes per splat, no header, the format
 * the original WebGL viewer streams. Per splat: position f32x3, linear scale
 * f32x3, RGBA u8 (colour 0.5 + C0*dc, alpha = opacity), rotation u8x4 (w,x,y,z
 * as q*128+128). No SH beyond the DC term. */
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SPLAT_BYTES 32

gs_status gs_splat_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s) {
    memset(s, 0, sizeof *s);
    if (!name) name = "(splat)";
    if (size == 0) return gs_error(GS_ERR_FORMAT, "%s: empty .splat file", name);
    if (!data) return gs_error(GS_ERR_INVALID, "%s: no data", name);
    if (size % SPLAT_BYTES)
        return gs_error(GS_ERR_FORMAT, "%s: .splat size %zu is not a multiple of %d bytes (truncated?)", name, size,
                        SPLAT_BYTES);
    gs_status st = gs_scene_alloc(s, (int64_t)(size / SPLAT_BYTES), 0);
    if (st) return gs_error_prefix(st, "%s", name);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < s->n; i++) {
        const uint8_t *p = data + (size_t)i * SPLAT_BYTES;
        memcpy(s->means + 3 * i, p, 12);
        memcpy(s->scales + 3 * i, p + 12, 12);
        for (int c = 0; c < 3; c++) s->sh[3 * i + c] = (float)((p[24 + c] / 255.0 - 0.5) / (double)GS_SH_C0);
        s->opacities[i] = (float)(p[27] / 255.0);
        double q[4], nn = 0;
        for (int c = 0; c < 4; c++) {
            q[c] = (p[28 + c] - 128) / 128.0;
            nn += q[c] * q[c];
        }
        /* all bytes 128 is a zero quaternion: keep it so it counts as invalid */
        double r = nn > 0 ? 1.0 / sqrt(nn) : 1.0;
        for (int c = 0; c < 4; c++) s->rotations[4 * i + c] = (float)(q[c] * r);
    }
    return GS_OK;
}

/* clip(v, 0, 255) then truncate, as numpy's astype(uint8) does in convert.py */
static uint8_t to_u8(double v) {
    if (!(v > 0)) return 0; /* also NaN */
    if (v >= 255) return 255;
    return (uint8_t)v;
}

typedef struct { double key; int64_t i; } sort_item;

static int cmp_item(const void *a, const void *b) {
    const sort_item *x = a, *y = b;
    /* largest key first; NaN keys last; ties keep the scene order */
    int xn = isnan(x->key), yn = isnan(y->key);
    if (xn != yn) return xn - yn;
    if (!xn && x->key != y->key) return x->key > y->key ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

gs_status gs_splat_write(const char *path, const gs_scene *s) {
    /* no invalid splats, and none at all is an error: a .splat file with no
     * splats is indistinguishable from a broken one */
    int64_t *idx, nv;
    gs_status st = gs_scene_writable(s, path, &idx, &nv);
    if (st) return st;
    const int k = gs_sh_coeffs(s->sh_degree);
    /* Biggest, most opaque splats first, like convert.py, so that a viewer
     * streaming the file shows the bulk of the scene early. */
    sort_item *order = gs_malloc((size_t)nv, sizeof *order, ".splat sort");
    if (!order) { free(idx); return gs_error_prefix(GS_ERR_NOMEM, "%s", path); }
    for (int64_t j = 0; j < nv; j++) {
        int64_t i = idx ? idx[j] : j;
        const float *sc = s->scales + 3 * i;
        order[j].key = (double)sc[0] * sc[1] * sc[2] * s->opacities[i];
        order[j].i = i;
    }
    free(idx);
    qsort(order, (size_t)nv, sizeof *order, cmp_item);
    enum { BLOCK = 8192 };
    uint8_t *buf = gs_malloc(BLOCK, SPLAT_BYTES, ".splat write buffer");
    if (!buf) { free(order); return gs_error_prefix(GS_ERR_NOMEM, "%s", path); }
    gs_afile a;
    st = gs_afile_open(&a, path);
    if (st) { free(order); free(buf); return st; }
    for (int64_t b0 = 0; !st && b0 < nv; b0 += BLOCK) {
        int64_t nb = nv - b0 < BLOCK ? nv - b0 : BLOCK;
        for (int64_t j = 0; j < nb; j++) {
            int64_t i = order[b0 + j].i;
            uint8_t *p = buf + j * SPLAT_BYTES;
            memcpy(p, s->means + 3 * i, 12);
            memcpy(p + 12, s->scales + 3 * i, 12);
            const float *dc = s->sh + (size_t)i * k * 3;
            for (int c = 0; c < 3; c++) p[24 + c] = to_u8((0.5 + (double)GS_SH_C0 * dc[c]) * 255.0);
            p[27] = to_u8((double)s->opacities[i] * 255.0);
            const float *q = s->rotations + 4 * i;
            double nn = 0;
            for (int c = 0; c < 4; c++) nn += (double)q[c] * q[c];
            double r = 1.0 / sqrt(nn); /* valid splats: nn > 1e-12 and finite */
            for (int c = 0; c < 4; c++) p[28 + c] = to_u8(q[c] * r * 128.0 + 128.0);
        }
        st = gs_afile_write(&a, buf, (size_t)nb * SPLAT_BYTES);
    }
    free(order);
    free(buf);
    if (st) { gs_afile_abort(&a); return st; }
    return gs_afile_commit(&a);
}
