/* raster_cpu.c - the CPU reference rasterizer. It follows gsplat's float32
 * projection and blending step by step (SH with the same polynomials in an
 * equivalent form, so the last bits of a colour may differ; projection and SH
 * are checked against gsplat's own reference in tests/test_raster_gsplat.c),
 * and the CUDA twin is checked against it; parallel over tiles,
 * deterministic.
 *
 * Speed without changing a single output bit: the visible splats are sorted
 * by (depth, index) once (radix sort), so tile lists come out in blending
 * order without per-tile sorts; a tile lists only the splats whose alpha can
 * reach 1/255 at one of its pixels (exact tile-ellipse test, the CUDA
 * binning's gs_tile_row_span in raster_math.h), each splat visits
 * only the pixels inside that ellipse (row by row), and saturated pixels and
 * rows are retired. The pixels skipped are exactly those the plain loop skips
 * for alpha < 1/255, so every pixel sees the same splats, in the same order,
 * with the same float operations (gs_ellipse_level in raster_math.h gives the
 * rounding margin; tests/test_raster.c holds the two to bit equality). */
#include "raster/raster.h"
#include "raster/raster_math.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void gs_raster_opts_default(gs_raster_opts *o) {
    memset(o, 0, sizeof *o);
    o->near_plane = 0.01f;
    o->far_plane = 1e10f;
    o->eps2d = 0.3f;
    o->sh_degree = -1;
}

void gs_raster_out_free(gs_raster_out *o) {
    free(o->rgb);
    free(o->depth);
    free(o->alpha);
    memset(o, 0, sizeof *o);
}

void gs_sh_to_rgb(const float *sh, int degree, const float dir[3], float rgb[3]) { (void)gs_sh_eval(sh, degree, dir, rgb); }

int gs_project_splat(const gs_scene *s, int64_t i, const float R[9], const float t[3], const float campos[3],
                     float fx, float fy, float cx, float cy, int width, int height, const gs_raster_opts *o,
                     int sh_degree, gs_projected *p, int *invalid) {
    const float *m = s->means + 3 * i;
    if (!gs_project_core(m, s->scales + 3 * i, s->rotations + 4 * i, s->opacities[i], R, t, fx, fy, cx, cy, width,
                         height, o, p, invalid))
        return 0;
    float dir[3] = {m[0] - campos[0], m[1] - campos[1], m[2] - campos[2]};
    if (!gs_sh_eval(s->sh + (size_t)i * gs_sh_coeffs(s->sh_degree) * 3, sh_degree, dir, p->rgb)) {
        p->radius[0] = p->radius[1] = 0;
        if (invalid) *invalid = 1;
        return 0;
    }
    return 1;
}

/* Tiles [x0,x1) x [y0,y1) touched by the per-axis extent of a projected splat
 * (gsplat's bounding box); 0 when it was culled. */
static int tile_range(const gs_projected *p, int tw, int th, int *x0, int *x1, int *y0, int *y1) {
    if (!p->radius[0] && !p->radius[1]) return 0;
    *x0 = (int)fmaxf(0, floorf((p->mean2d[0] - p->radius[0]) / GS_TILE));
    *x1 = (int)fminf((float)tw, ceilf((p->mean2d[0] + p->radius[0]) / GS_TILE));
    *y0 = (int)fmaxf(0, floorf((p->mean2d[1] - p->radius[1]) / GS_TILE));
    *y1 = (int)fminf((float)th, ceilf((p->mean2d[1] + p->radius[1]) / GS_TILE));
    return 1;
}

/* A projected splat as blending uses it (56 bytes). [x0,x1) x [y0,y1) are
 * the pixels where sigma <= level, outside of which alpha < 1/255 for certain;
 * tx0.. the tiles of gsplat's box (x1 <= 32768 fits 16 bits unsigned). */
typedef struct {
    float mx, my, ca, cb, cc, op, rgb[3], depth;
    float level;                /* sigma bound (may be +inf: no pruning) */
    uint16_t x0, x1, y0, y1;
    uint16_t tx0, tx1, ty0, ty1;
} blend_t;

/* Pairs of splat g with the tiles its ellipse reaches (gs_tile_row_span, the
 * CUDA binning's test), in row-major tile order: count them per tile
 * (pos[tile]++) or, with list != NULL, write id at list[pos[tile]++]. */
static void tile_pairs(const blend_t *g, int tw, int W, int H, int64_t *pos, int32_t *list, int32_t id) {
    gs_tile_ellipse e;
    gs_tile_ellipse_init(&e, g->mx, g->my, g->ca, g->cb, g->cc, g->level, g->tx0, g->tx1, W, H);
    for (int ty = g->ty0; ty < g->ty1; ty++) {
        int x0, x1;
        if (!gs_tile_row_span(&e, ty, &x0, &x1)) continue;
        for (int tx = x0; tx < x1; tx++)
            if (list) list[pos[ty * tw + tx]++] = id;
            else pos[ty * tw + tx]++;
    }
}

/* float -> uint32 with the same order (negative depths only with near <= 0) */
static uint32_t depth_key(float d) {
    d += 0.0f; /* -0 -> +0: the comparison sort ranked them equal */
    uint32_t u;
    memcpy(&u, &d, 4);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/* Stable LSD radix sort of ids by key (ties keep the input order). */
static void radix_sort(uint32_t *key, int32_t *id, uint32_t *key_tmp, int32_t *id_tmp, size_t n) {
    for (int shift = 0; shift < 32; shift += 8) {
        size_t cnt[257] = {0};
        for (size_t i = 0; i < n; i++) cnt[((key[i] >> shift) & 255) + 1]++;
        if (cnt[1 + ((key[0] >> shift) & 255)] == n) continue; /* one bucket: nothing to do */
        for (int b = 0; b < 256; b++) cnt[b + 1] += cnt[b];
        for (size_t i = 0; i < n; i++) {
            size_t o = cnt[(key[i] >> shift) & 255]++;
            key_tmp[o] = key[i];
            id_tmp[o] = id[i];
        }
        memcpy(key, key_tmp, n * sizeof *key);
        memcpy(id, id_tmp, n * sizeof *id);
    }
}

static int num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Blend one tile front to back. Each splat visits only the pixels of its
 * ellipse {sigma <= level} (row by row, widened by 1e-3 px for the double
 * arithmetic), and rows whose pixels are all saturated are skipped. */
static void blend_tile(const blend_t *bl, const int32_t *lst, int64_t cnt, int tile, int tw, int W, int H,
                       const float bg[3], gs_raster_out *out) {
    int tx0 = (tile % tw) * GS_TILE, ty0 = (tile / tw) * GS_TILE;
    int tx1 = tx0 + GS_TILE < W ? tx0 + GS_TILE : W, ty1 = ty0 + GS_TILE < H ? ty0 + GS_TILE : H;
    int npix = (tx1 - tx0) * (ty1 - ty0), ndone = 0;
    float T[GS_TILE * GS_TILE], cr[GS_TILE * GS_TILE], cg[GS_TILE * GS_TILE], cb[GS_TILE * GS_TILE], d[GS_TILE * GS_TILE];
    unsigned char done[GS_TILE * GS_TILE];
    int row_left[GS_TILE];
    for (int k = 0; k < GS_TILE * GS_TILE; k++) { T[k] = 1.0f; cr[k] = cg[k] = cb[k] = d[k] = 0; done[k] = 0; }
    for (int r = 0; r < GS_TILE; r++) row_left[r] = ty0 + r < ty1 ? tx1 - tx0 : 0;
    for (int64_t k = 0; k < cnt && ndone < npix; k++) {
        if (k + 12 < cnt) __builtin_prefetch(&bl[lst[k + 12]]); /* lists jump around the splat array */
        const blend_t *p = &bl[lst[k]];
        int x0 = p->x0 > tx0 ? p->x0 : tx0, x1 = p->x1 < tx1 ? p->x1 : tx1;
        int y0 = p->y0 > ty0 ? p->y0 : ty0, y1 = p->y1 < ty1 ? p->y1 : ty1;
        double A = p->ca, B = p->cb, C = p->cc, L = p->level, det = A * C - B * B;
        int rows = isfinite(L) && det > 0 && A > 0;
        for (int py = y0; py < y1; py++) {
            if (!row_left[py - ty0]) continue;
            int xa = x0, xb = x1;
            if (rows) { /* 0.5 A dx^2 + B dx dy + 0.5 C dy^2 <= L, dx = mx - x */
                double ddy = (double)p->my - (py + 0.5), disc = 2 * A * L - det * ddy * ddy;
                if (disc < 0) continue;
                double sq = sqrt(disc), lo = (-B * ddy - sq) / A - 1e-3, hi = (-B * ddy + sq) / A + 1e-3;
                double fa = ceil((double)p->mx - hi - 0.5), fb = floor((double)p->mx - lo - 0.5) + 1;
                if (fa > xa) xa = fa < xb ? (int)fa : xb;
                if (fb < xb) xb = fb > xa ? (int)fb : xa;
            }
            float fyp = (float)py + 0.5f, dy = p->my - fyp;
            for (int px = xa; px < xb; px++) {
                int q = (py - ty0) * GS_TILE + (px - tx0);
                if (done[q]) continue;
                float dx = p->mx - ((float)px + 0.5f);
                float sigma = 0.5f * (p->ca * dx * dx + p->cc * dy * dy) + p->cb * dx * dy;
                if (sigma < 0.f) continue;
                float a = p->op * expf(-sigma);
                a = a < GS_ALPHA_MAX ? a : GS_ALPHA_MAX; /* fminf, inlined */
                if (a < GS_ALPHA_MIN) continue;
                float next_T = T[q] * (1.0f - a);
                if (next_T <= GS_T_MIN) {
                    done[q] = 1;
                    ndone++;
                    row_left[py - ty0]--;
                    continue;
                }
                float vis = a * T[q];
                cr[q] += p->rgb[0] * vis;
                cg[q] += p->rgb[1] * vis;
                cb[q] += p->rgb[2] * vis;
                d[q] += p->depth * vis;
                T[q] = next_T;
            }
        }
    }
    for (int py = ty0; py < ty1; py++)
        for (int px = tx0; px < tx1; px++) {
            int q = (py - ty0) * GS_TILE + (px - tx0);
            size_t o = (size_t)py * W + px;
            out->rgb[3 * o] = cr[q] + T[q] * bg[0];
            out->rgb[3 * o + 1] = cg[q] + T[q] * bg[1];
            out->rgb[3 * o + 2] = cb[q] + T[q] * bg[2];
            out->alpha[o] = 1.0f - T[q];
            out->depth[o] = d[q] / fmaxf(1.0f - T[q], 1e-10f);
        }
}

gs_status gs_render_cpu(const gs_scene *s, const gs_camera *cam, const gs_raster_opts *opts, gs_raster_out *out) {
    gs_raster_opts od;
    if (!opts) { gs_raster_opts_default(&od); opts = &od; }
    memset(out, 0, sizeof *out);
    int W = opts->width > 0 ? opts->width : cam->width, H = opts->height > 0 ? opts->height : cam->height;
    if (W <= 0 || H <= 0 || W > 32768 || H > 32768)
        return gs_error(GS_ERR_INVALID, "render: image size %dx%d out of range (1..32768)", W, H);
    if (s->n < 0 || s->n > INT32_MAX)
        return gs_error(GS_ERR_INVALID, "render: %lld splats exceed the renderer's 2^31 limit", (long long)s->n);
    if (s->sh_degree < 0 || s->sh_degree > GS_SH_MAX_DEGREE)
        return gs_error(GS_ERR_INVALID, "render: SH degree %d out of range (0..3)", s->sh_degree);
    double sx = cam->width > 0 ? (double)W / cam->width : 1, sy = cam->height > 0 ? (double)H / cam->height : 1;
    float fx = (float)(cam->fx * sx), fy = (float)(cam->fy * sy), cx = (float)(cam->cx * sx), cy = (float)(cam->cy * sy);
    if (!(fx > 0) || !(fy > 0) || !isfinite(fx) || !isfinite(fy) || !isfinite(cx) || !isfinite(cy))
        return gs_error(GS_ERR_INVALID, "render: camera intrinsics fx=%g fy=%g cx=%g cy=%g are not usable", fx, fy, cx, cy);
    float R[9], t[3], campos[3];
    double C[3];
    for (int k = 0; k < 9; k++) R[k] = (float)cam->R[k];
    for (int k = 0; k < 3; k++) t[k] = (float)cam->t[k];
    gs_camera_center(cam, C);
    for (int k = 0; k < 3; k++) campos[k] = (float)C[k];
    int deg = opts->sh_degree < 0 || opts->sh_degree > s->sh_degree ? s->sh_degree : opts->sh_degree;

    size_t np = (size_t)W * H;
    int64_t n = s->n;
    int tw = (W + GS_TILE - 1) / GS_TILE, th = (H + GS_TILE - 1) / GS_TILE, nt = tw * th;
    int nchunk = num_threads();
    if (nchunk > 64) nchunk = 64;
    if ((int64_t)nchunk * (nt + 1) > ((int64_t)1 << 26)) nchunk = (int)(((int64_t)1 << 26) / (nt + 1)) > 1 ? (int)(((int64_t)1 << 26) / (nt + 1)) : 1;
    out->width = W;
    out->height = H;
    size_t nn = (size_t)(n ? n : 1);
    out->rgb = gs_malloc(np * 3, sizeof(float), "render rgb");
    out->depth = gs_malloc(np, sizeof(float), "render depth");
    out->alpha = gs_malloc(np, sizeof(float), "render alpha");
    blend_t *bl = gs_malloc(nn, sizeof *bl, "render splats");
    uint32_t *keys = gs_malloc(nn, sizeof *keys, "render order"), *keys_tmp = NULL;
    unsigned char *vis = gs_malloc(nn, 1, "render visibility");
    int64_t *tile_start = gs_calloc((size_t)nt + 1, sizeof(int64_t), "render tiles");
    int64_t *chunk_cnt = gs_calloc((size_t)nchunk * nt, sizeof(int64_t), "render tile counts");
    int32_t *ids = NULL, *ids_tmp = NULL, *lists = NULL;
    gs_status st = GS_OK;
    if (!out->rgb || !out->depth || !out->alpha || !bl || !keys || !vis || !tile_start || !chunk_cnt) {
        st = GS_ERR_NOMEM;
        goto fail;
    }

    /* 1. project every splat; the visible ones get their blending record,
     * pixel box and (small boxes) the mask of tiles their ellipse reaches */
    int64_t n_invalid = 0, n_vis = 0;
#pragma omp parallel for reduction(+ : n_invalid, n_vis) schedule(dynamic, 4096)
    for (int64_t i = 0; i < n; i++) {
        int bad;
        gs_projected p;
        vis[i] = (unsigned char)gs_project_splat(s, i, R, t, campos, fx, fy, cx, cy, W, H, opts, deg, &p, &bad);
        n_vis += vis[i];
        n_invalid += bad;
        if (!vis[i]) continue;
        keys[i] = depth_key(p.depth);
        blend_t *g = &bl[i];
        g->mx = p.mean2d[0]; g->my = p.mean2d[1];
        g->ca = p.conic[0]; g->cb = p.conic[1]; g->cc = p.conic[2];
        g->op = p.opacity; g->depth = p.depth;
        memcpy(g->rgb, p.rgb, sizeof g->rgb);
        int x0 = 0, x1 = 0, y0 = 0, y1 = 0;
        tile_range(&p, tw, th, &x0, &x1, &y0, &y1);
        if (x1 < x0) x1 = x0;
        if (y1 < y0) y1 = y0;
        g->tx0 = (uint16_t)x0; g->tx1 = (uint16_t)x1; g->ty0 = (uint16_t)y0; g->ty1 = (uint16_t)y1;
        double L = gs_ellipse_level(p.conic[0], p.conic[1], p.conic[2], p.opacity);
        g->level = (float)L;
        if ((double)g->level < L) g->level = nextafterf(g->level, INFINITY); /* round up: never prune more */
        double bx0 = 0, bx1 = W, by0 = 0, by1 = H;
        if (isfinite(L)) { /* ellipse {sigma <= L}: half extents sqrt(2 L cov_xx), cov = conic^-1 */
            double a = p.conic[0], b = p.conic[1], c = p.conic[2], det = a * c - b * b;
            double hx = sqrt(2 * L * c / det) + 1e-3, hy = sqrt(2 * L * a / det) + 1e-3;
            bx0 = fmax(0, ceil(p.mean2d[0] - hx - 0.5)); bx1 = fmin(W, floor(p.mean2d[0] + hx - 0.5) + 1);
            by0 = fmax(0, ceil(p.mean2d[1] - hy - 0.5)); by1 = fmin(H, floor(p.mean2d[1] + hy - 0.5) + 1);
            if (!(bx1 > bx0) || !(by1 > by0)) bx0 = bx1 = by0 = by1 = 0;
        }
        g->x0 = (uint16_t)bx0; g->x1 = (uint16_t)bx1; g->y0 = (uint16_t)by0; g->y1 = (uint16_t)by1;
    }
    /* 2. the visible splats sorted by (depth, index): the blending order */
    size_t m = (size_t)n_vis;
    ids = gs_malloc(m ? m : 1, sizeof *ids, "render order");
    ids_tmp = gs_malloc(m ? m : 1, sizeof *ids_tmp, "render order");
    keys_tmp = gs_malloc(m ? m : 1, sizeof *keys_tmp, "render order");
    if (!ids || !ids_tmp || !keys_tmp) { st = GS_ERR_NOMEM; goto fail; }
    size_t mm = 0;
    for (int64_t i = 0; i < n; i++)
        if (vis[i]) {
            ids[mm] = (int32_t)i;
            keys[mm++] = keys[i]; /* compacts in place: mm <= i */
        }
    if (m) radix_sort(keys, ids, keys_tmp, ids_tmp, m);
    free(keys_tmp); keys_tmp = NULL;
    free(ids_tmp); ids_tmp = NULL;
    free(keys); keys = NULL;
    free(vis); vis = NULL;

    /* 3. tile lists in blending order: chunk c of the sorted splats counts its
     * (splat, tile) pairs per tile, then writes them after chunks 0..c-1 */
#pragma omp parallel for schedule(static, 1)
    for (int c = 0; c < nchunk; c++) {
        int64_t *cntc = chunk_cnt + (size_t)c * nt;
        size_t k0 = m * c / nchunk, k1 = m * (c + 1) / nchunk;
        for (size_t k = k0; k < k1; k++) {
            if (k + 16 < k1) __builtin_prefetch(&bl[ids[k + 16]]); /* depth order is a gather */
            tile_pairs(&bl[ids[k]], tw, W, H, cntc, NULL, 0);
        }
    }
    for (int tile = 0; tile < nt; tile++) {
        int64_t acc = tile_start[tile];
        for (int c = 0; c < nchunk; c++) {
            int64_t v = chunk_cnt[(size_t)c * nt + tile];
            chunk_cnt[(size_t)c * nt + tile] = acc; /* now: where chunk c writes */
            acc += v;
        }
        tile_start[tile + 1] = acc;
    }
    int64_t total = tile_start[nt];
    lists = gs_malloc((size_t)(total ? total : 1), sizeof *lists, "render tile lists");
    if (!lists) { st = GS_ERR_NOMEM; goto fail; }
#pragma omp parallel for schedule(static, 1)
    for (int c = 0; c < nchunk; c++) {
        int64_t *pos = chunk_cnt + (size_t)c * nt;
        size_t k0 = m * c / nchunk, k1 = m * (c + 1) / nchunk;
        for (size_t k = k0; k < k1; k++) {
            if (k + 16 < k1) __builtin_prefetch(&bl[ids[k + 16]]);
            tile_pairs(&bl[ids[k]], tw, W, H, pos, lists, ids[k]);
        }
    }

    /* 4. blend each tile front to back */
#pragma omp parallel for schedule(dynamic, 1)
    for (int tile = 0; tile < nt; tile++)
        blend_tile(bl, lists + tile_start[tile], tile_start[tile + 1] - tile_start[tile], tile, tw, W, H, opts->bg, out);

    out->n_invalid = n_invalid;
    out->n_visible = n_vis;
    out->n_intersections = total;
    free(lists);
    free(bl);
    free(ids);
    free(tile_start);
    free(chunk_cnt);
    return GS_OK;
fail:
    free(vis); free(tile_start); free(chunk_cnt); free(bl); free(ids); free(ids_tmp); free(keys); free(keys_tmp); free(lists);
    gs_raster_out_free(out);
    return st;
}
