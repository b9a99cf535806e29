/* raster_cpu.c - the CPU reference rasterizer. It mirrors gsplat's float32
 * operation order (projection, SH, blending) so that the CUDA twin can be
 * checked against it; parallel over tiles, deterministic. */
#include "raster/raster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

void gs_sh_to_rgb(const float *sh, int degree, const float dir[3], float rgb[3]) {
    float n = sqrtf(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]);
    float inv = n > 0 ? 1.0f / n : 0.0f;
    float x = dir[0] * inv, y = dir[1] * inv, z = dir[2] * inv;
    float basis[16];
    basis[0] = 0.28209479177387814f;
    if (degree >= 1) {
        basis[1] = -0.48860251190291987f * y;
        basis[2] = 0.48860251190291987f * z;
        basis[3] = -0.48860251190291987f * x;
    }
    if (degree >= 2) {
        float xx = x * x, yy = y * y, zz = z * z;
        basis[4] = 1.0925484305920792f * x * y;
        basis[5] = -1.0925484305920792f * y * z;
        basis[6] = 0.31539156525252005f * (2.0f * zz - xx - yy);
        basis[7] = -1.0925484305920792f * x * z;
        basis[8] = 0.5462742152960396f * (xx - yy);
        if (degree >= 3) {
            basis[9] = -0.59004358992664352f * y * (3.0f * xx - yy);
            basis[10] = 2.8906114426405538f * x * y * z;
            basis[11] = -0.45704579946446572f * y * (4.0f * zz - xx - yy);
            basis[12] = 0.3731763325901154f * z * (2.0f * zz - 3.0f * xx - 3.0f * yy);
            basis[13] = -0.45704579946446572f * x * (4.0f * zz - xx - yy);
            basis[14] = 1.4453057213202769f * z * (xx - yy);
            basis[15] = -0.59004358992664352f * x * (xx - 3.0f * yy);
        }
    }
    int k = (degree + 1) * (degree + 1);
    for (int c = 0; c < 3; c++) {
        float acc = 0;
        for (int j = 0; j < k; j++) acc += basis[j] * sh[j * 3 + c];
        acc += 0.5f;
        rgb[c] = acc > 0 ? acc : 0;
    }
}

int gs_project_splat(const gs_scene *s, int64_t i, const float R[9], const float t[3], const float campos[3],
                     float fx, float fy, float cx, float cy, int width, int height, const gs_raster_opts *o,
                     int sh_degree, gs_projected *p, int *invalid) {
    const float *m = s->means + 3 * i, *sc = s->scales + 3 * i, *q = s->rotations + 4 * i;
    float op = s->opacities[i];
    p->radius[0] = p->radius[1] = 0;
    if (invalid) *invalid = 0;
    int ok = isfinite(m[0]) && isfinite(m[1]) && isfinite(m[2]) && isfinite(op) && sc[0] > 0 && sc[1] > 0 &&
             sc[2] > 0 && isfinite(sc[0]) && isfinite(sc[1]) && isfinite(sc[2]) && isfinite(q[0]) &&
             isfinite(q[1]) && isfinite(q[2]) && isfinite(q[3]);
    float qn2 = ok ? q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3] : 0;
    if (!ok || !(qn2 > 0)) {
        if (invalid) *invalid = 1;
        return 0;
    }
    /* camera-space mean */
    float xc = R[0] * m[0] + R[1] * m[1] + R[2] * m[2] + t[0];
    float yc = R[3] * m[0] + R[4] * m[1] + R[5] * m[2] + t[1];
    float zc = R[6] * m[0] + R[7] * m[1] + R[8] * m[2] + t[2];
    if (zc < o->near_plane || zc > o->far_plane) return 0;

    /* world covariance: M = Rq S, Sigma = M M^T */
    float inv = 1.0f / sqrtf(qn2);
    float w = q[0] * inv, x = q[1] * inv, y = q[2] * inv, z = q[3] * inv;
    float Rq[9] = {1.f - 2.f * (y * y + z * z), 2.f * (x * y - w * z),       2.f * (x * z + w * y),
                   2.f * (x * y + w * z),       1.f - 2.f * (x * x + z * z), 2.f * (y * z - w * x),
                   2.f * (x * z - w * y),       2.f * (y * z + w * x),       1.f - 2.f * (x * x + y * y)};
    float M[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) M[r * 3 + c] = Rq[r * 3 + c] * sc[c];
    float Sw[9], tmp[9], Sc[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) Sw[r * 3 + c] = M[r * 3] * M[c * 3] + M[r * 3 + 1] * M[c * 3 + 1] + M[r * 3 + 2] * M[c * 3 + 2];
    /* camera covariance: R Sw R^T */
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) tmp[r * 3 + c] = R[r * 3] * Sw[c] + R[r * 3 + 1] * Sw[3 + c] + R[r * 3 + 2] * Sw[6 + c];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) Sc[r * 3 + c] = tmp[r * 3] * R[c * 3] + tmp[r * 3 + 1] * R[c * 3 + 1] + tmp[r * 3 + 2] * R[c * 3 + 2];

    /* EWA with the Jacobian's tx/ty clamped to 1.3 x the field of view */
    float tan_fovx = 0.5f * (float)width / fx, tan_fovy = 0.5f * (float)height / fy;
    float lim_x_pos = ((float)width - cx) / fx + 0.3f * tan_fovx, lim_x_neg = cx / fx + 0.3f * tan_fovx;
    float lim_y_pos = ((float)height - cy) / fy + 0.3f * tan_fovy, lim_y_neg = cy / fy + 0.3f * tan_fovy;
    float rz = 1.0f / zc, rz2 = rz * rz;
    float tx = zc * fminf(lim_x_pos, fmaxf(-lim_x_neg, xc * rz));
    float ty = zc * fminf(lim_y_pos, fmaxf(-lim_y_neg, yc * rz));
    float J[6] = {fx * rz, 0.f, -fx * tx * rz2, 0.f, fy * rz, -fy * ty * rz2};
    float JS[6];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 3; c++) JS[r * 3 + c] = J[r * 3] * Sc[c] + J[r * 3 + 1] * Sc[3 + c] + J[r * 3 + 2] * Sc[6 + c];
    float c00 = JS[0] * J[0] + JS[1] * J[1] + JS[2] * J[2];
    float c01 = JS[0] * J[3] + JS[1] * J[4] + JS[2] * J[5];
    float c11 = JS[3] * J[3] + JS[4] * J[4] + JS[5] * J[5];
    float mx = fx * xc * rz + cx, my = fy * yc * rz + cy;

    float det_orig = c00 * c11 - c01 * c01;
    c00 += o->eps2d;
    c11 += o->eps2d;
    float det = c00 * c11 - c01 * c01;
    if (!(det > 0)) return 0;
    if (o->antialiased) op *= sqrtf(fmaxf(det_orig / det, 0.0f));
    if (!(op >= GS_ALPHA_MIN)) return 0;
    float extend = fminf(GS_EXTENT_MAX, sqrtf(2.0f * logf(op / GS_ALPHA_MIN)));
    float rx = ceilf(extend * sqrtf(c00)), ry = ceilf(extend * sqrtf(c11));
    if (!(rx > 0) && !(ry > 0)) return 0;
    if (mx + rx <= 0 || mx - rx >= (float)width || my + ry <= 0 || my - ry >= (float)height) return 0;
    if (!isfinite(mx) || !isfinite(my) || rx > 1e7f || ry > 1e7f) return 0;

    float idet = 1.0f / det;
    p->conic[0] = c11 * idet;
    p->conic[1] = -c01 * idet;
    p->conic[2] = c00 * idet;
    p->mean2d[0] = mx;
    p->mean2d[1] = my;
    p->depth = zc;
    p->opacity = op;
    p->radius[0] = (int)rx;
    p->radius[1] = (int)ry;
    float dir[3] = {m[0] - campos[0], m[1] - campos[1], m[2] - campos[2]};
    gs_sh_to_rgb(s->sh + (size_t)i * gs_sh_coeffs(s->sh_degree) * 3, sh_degree, dir, p->rgb);
    return 1;
}

typedef struct { float depth; int32_t id; } key_t_;

/* Tiles [x0,x1) x [y0,y1) touched by the per-axis extent of a projected splat;
 * 0 when it was culled. */
static int tile_range(const gs_projected *p, int tw, int th, int *x0, int *x1, int *y0, int *y1) {
    if (!p->radius[0] && !p->radius[1]) return 0;
    *x0 = (int)fmaxf(0, floorf((p->mean2d[0] - p->radius[0]) / GS_TILE));
    *x1 = (int)fminf((float)tw, ceilf((p->mean2d[0] + p->radius[0]) / GS_TILE));
    *y0 = (int)fmaxf(0, floorf((p->mean2d[1] - p->radius[1]) / GS_TILE));
    *y1 = (int)fminf((float)th, ceilf((p->mean2d[1] + p->radius[1]) / GS_TILE));
    return 1;
}

static int cmp_key(const void *a, const void *b) {
    const key_t_ *x = a, *y = b;
    if (x->depth < y->depth) return -1;
    if (x->depth > y->depth) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

gs_status gs_render_cpu(const gs_scene *s, const gs_camera *cam, const gs_raster_opts *opts, gs_raster_out *out) {
    gs_raster_opts od;
    if (!opts) { gs_raster_opts_default(&od); opts = &od; }
    memset(out, 0, sizeof *out);
    int W = opts->width > 0 ? opts->width : cam->width, H = opts->height > 0 ? opts->height : cam->height;
    if (W <= 0 || H <= 0 || W > 32768 || H > 32768)
        return gs_error(GS_ERR_INVALID, "render: image size %dx%d out of range (1..32768)", W, H);
    if (s->n > INT32_MAX) return gs_error(GS_ERR_INVALID, "render: %lld splats exceed the renderer's 2^31 limit", (long long)s->n);
    double sx = cam->width > 0 ? (double)W / cam->width : 1, sy = cam->height > 0 ? (double)H / cam->height : 1;
    float fx = (float)(cam->fx * sx), fy = (float)(cam->fy * sy), cx = (float)(cam->cx * sx), cy = (float)(cam->cy * sy);
    if (!(fx > 0) || !(fy > 0) || !isfinite(cx) || !isfinite(cy))
        return gs_error(GS_ERR_INVALID, "render: camera intrinsics fx=%g fy=%g cx=%g cy=%g are not usable", fx, fy, cx, cy);
    float R[9], t[3], campos[3];
    double C[3];
    for (int k = 0; k < 9; k++) R[k] = (float)cam->R[k];
    for (int k = 0; k < 3; k++) t[k] = (float)cam->t[k];
    gs_camera_center(cam, C);
    for (int k = 0; k < 3; k++) campos[k] = (float)C[k];
    int deg = opts->sh_degree < 0 || opts->sh_degree > s->sh_degree ? s->sh_degree : opts->sh_degree;

    size_t np = (size_t)W * H;
    out->width = W;
    out->height = H;
    out->rgb = gs_malloc(np * 3, sizeof(float), "render rgb");
    out->depth = gs_malloc(np, sizeof(float), "render depth");
    out->alpha = gs_malloc(np, sizeof(float), "render alpha");
    int64_t n = s->n;
    gs_projected *proj = gs_malloc((size_t)(n ? n : 1), sizeof *proj, "render projections");
    int tw = (W + GS_TILE - 1) / GS_TILE, th = (H + GS_TILE - 1) / GS_TILE, nt = tw * th;
    int64_t *tile_count = gs_calloc((size_t)nt + 1, sizeof(int64_t), "render tiles");
    if (!out->rgb || !out->depth || !out->alpha || !proj || !tile_count) {
        free(proj); free(tile_count); gs_raster_out_free(out);
        return GS_ERR_NOMEM;
    }

    /* 1. project every splat */
    int64_t n_invalid = 0, n_vis = 0;
#pragma omp parallel for reduction(+ : n_invalid, n_vis) schedule(dynamic, 4096)
    for (int64_t i = 0; i < n; i++) {
        int bad;
        n_vis += gs_project_splat(s, i, R, t, campos, fx, fy, cx, cy, W, H, opts, deg, &proj[i], &bad);
        n_invalid += bad;
    }
    /* 2. bin into tiles (axis-aligned tile range of the per-axis radii; pixels
     * outside the ellipse fall below the 1/255 alpha test and are skipped) */
    for (int64_t i = 0; i < n; i++) {
        const gs_projected *p = &proj[i];
        int x0, x1, y0, y1;
        if (!tile_range(p, tw, th, &x0, &x1, &y0, &y1)) continue;
        for (int ty = y0; ty < y1; ty++)
            for (int tx = x0; tx < x1; tx++) tile_count[ty * tw + tx + 1]++;
    }
    for (int k = 0; k < nt; k++) tile_count[k + 1] += tile_count[k];
    int64_t total = tile_count[nt];
    key_t_ *keys = gs_malloc((size_t)(total ? total : 1), sizeof *keys, "render tile lists");
    int64_t *fill = gs_malloc((size_t)nt, sizeof(int64_t), "render tiles");
    if (!keys || !fill) {
        free(keys); free(fill); free(proj); free(tile_count); gs_raster_out_free(out);
        return GS_ERR_NOMEM;
    }
    memcpy(fill, tile_count, (size_t)nt * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) {
        const gs_projected *p = &proj[i];
        int x0, x1, y0, y1;
        if (!tile_range(p, tw, th, &x0, &x1, &y0, &y1)) continue;
        for (int ty = y0; ty < y1; ty++)
            for (int tx = x0; tx < x1; tx++) keys[fill[ty * tw + tx]++] = (key_t_){p->depth, (int32_t)i};
    }
    free(fill);

    /* 3. per tile: sort by (depth, index) and blend front to back */
#pragma omp parallel for schedule(dynamic, 1)
    for (int tile = 0; tile < nt; tile++) {
        key_t_ *lst = keys + tile_count[tile];
        int64_t cnt = tile_count[tile + 1] - tile_count[tile];
        qsort(lst, (size_t)cnt, sizeof *lst, cmp_key);
        int tx0 = (tile % tw) * GS_TILE, ty0 = (tile / tw) * GS_TILE;
        for (int py = ty0; py < ty0 + GS_TILE && py < H; py++) {
            for (int px = tx0; px < tx0 + GS_TILE && px < W; px++) {
                float T = 1.0f, cr = 0, cg = 0, cb = 0, d = 0;
                float fxp = (float)px + 0.5f, fyp = (float)py + 0.5f;
                for (int64_t k = 0; k < cnt; k++) {
                    const gs_projected *p = &proj[lst[k].id];
                    float dx = p->mean2d[0] - fxp, dy = p->mean2d[1] - fyp;
                    float sigma = 0.5f * (p->conic[0] * dx * dx + p->conic[2] * dy * dy) + p->conic[1] * dx * dy;
                    if (sigma < 0.f) continue;
                    float a = fminf(GS_ALPHA_MAX, p->opacity * expf(-sigma));
                    if (a < GS_ALPHA_MIN) continue;
                    float next_T = T * (1.0f - a);
                    if (next_T <= GS_T_MIN) break;
                    float vis = a * T;
                    cr += p->rgb[0] * vis;
                    cg += p->rgb[1] * vis;
                    cb += p->rgb[2] * vis;
                    d += p->depth * vis;
                    T = next_T;
                }
                size_t o = (size_t)py * W + px;
                out->rgb[3 * o] = cr + T * opts->bg[0];
                out->rgb[3 * o + 1] = cg + T * opts->bg[1];
                out->rgb[3 * o + 2] = cb + T * opts->bg[2];
                out->alpha[o] = 1.0f - T;
                out->depth[o] = d / fmaxf(1.0f - T, 1e-10f);
            }
        }
    }
    out->n_invalid = n_invalid;
    out->n_visible = n_vis;
    out->n_intersections = total;
    free(keys);
    free(proj);
    free(tile_count);
    return GS_OK;
}
