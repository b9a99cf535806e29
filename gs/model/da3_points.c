/* da3_points.c - the confident points of a prediction (points.ply) and its
 * COLMAP model with multi-view tracks (see da3_points.h).
 *
 * Tracks: a point from pixel (x, y) of view v is tested against every other
 * view w as the geometric-consistency check of depth-map fusion (MVSNet's
 * filter; COLMAP's stereo fusion checks the same two errors): project into
 * w, take the nearest pixel q, require w's depth there to agree with the
 * point's depth in w within GS_DA3_TRACK_DEPTH_TOL, and q's own 3D point to
 * reproject into v within GS_DA3_TRACK_REPROJ_TOL pixels of (x, y). The
 * depth threshold is 5%: DA3's depth errors across views are a few percent
 * (its AbsRel on the benchmarks), while an occluder in front of the point,
 * or the surface behind it, is further off than that at any depth where
 * occlusion matters; 1% (COLMAP's fusion default for MVS depth) would cut
 * most tracks of a feed-forward prediction. The reprojection threshold is in
 * depth-map pixels, where the depth is measured: taking the nearest pixel
 * alone moves up to 0.71 of one. A pixel observes at most one point (each
 * COLMAP 2D point has one 3D point), so a surface seen by several views
 * becomes one point with a long track rather than one point per view. */
#include "gs/model/da3_points.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* np.percentile (linear) on sorted values */
static float percentile_sorted(const float *s, size_t n, double pct) {
    double pos = pct / 100.0 * (double)(n - 1);
    size_t lo = (size_t)pos, hi = lo + 1 < n ? lo + 1 : lo;
    return (float)(s[lo] + (pos - (double)lo) * (s[hi] - s[lo]));
}

/* DA3's sky: a sky probability of 0.3 or more (models that predict it) */
static int is_sky(const gs_da3_prediction *p, size_t i) { return p->sky && p->sky[i] >= 0.3f; }

int gs_da3_point_ok(const gs_da3_prediction *p, float thr, size_t i) {
    return (!p->depth_conf || p->depth_conf[i] >= thr) && isfinite(p->depth[i]) && p->depth[i] > 0 && !is_sky(p, i);
}

gs_status gs_da3_point_select(const gs_da3_prediction *p, int64_t max_points, int64_t **idx, int64_t *n_out,
                              float *thr_out) {
    *idx = NULL;
    *n_out = 0;
    if (!p || !p->depth || p->S < 1 || p->H < 1 || p->W < 1)
        return gs_error(GS_ERR_INVALID, "point cloud: the prediction has no depth");
    const size_t n = (size_t)p->S * p->H * p->W;
    float thr = -INFINITY;
    if (p->depth_conf) {
        float *s = gs_malloc(n, sizeof *s, "confidence percentiles");
        if (!s) return GS_ERR_NOMEM;
        /* the percentiles of the non-sky confidences, when there are more than 10 (as DA3's GLB export) */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!is_sky(p, i)) s[m++] = p->depth_conf[i];
        if (m <= 10) {
            memcpy(s, p->depth_conf, n * sizeof *s);
            m = n;
        }
        qsort(s, m, sizeof *s, cmp_f);
        float lo = percentile_sorted(s, m, 40.0), hi = percentile_sorted(s, m, 90.0);
        free(s);
        thr = fminf(fmaxf(1.05f, lo), hi);
    }
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) keep += gs_da3_point_ok(p, thr, i);
    size_t stride = max_points > 0 && keep > (size_t)max_points ? (keep + (size_t)max_points - 1) / (size_t)max_points : 1;
    int64_t *ix = gs_malloc(keep / stride + 1, sizeof *ix, "point cloud");
    if (!ix) return GS_ERR_NOMEM;
    int64_t m = 0;
    size_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!gs_da3_point_ok(p, thr, i)) continue;
        if (seen++ % stride) continue;
        ix[m++] = (int64_t)i;
    }
    *idx = ix;
    *n_out = m;
    if (thr_out) *thr_out = thr;
    return GS_OK;
}

/* world point of view v's pixel (x, y) at depth d: R^T (d K^-1 [x, y, 1] - t) */
static void unproject(const gs_da3_prediction *p, int v, double x, double y, double d, double X[3]) {
    const float *E = p->extrinsics + 12 * v, *K = p->intrinsics + 9 * v;
    double Xc[3] = {(x - K[2]) / K[0] * d, (y - K[5]) / K[4] * d, d};
    for (int r = 0; r < 3; r++)
        X[r] = E[0 + r] * (Xc[0] - E[3]) + E[4 + r] * (Xc[1] - E[7]) + E[8 + r] * (Xc[2] - E[11]);
}

/* camera coordinates of X in view v */
static void to_cam(const gs_da3_prediction *p, int v, const double X[3], double Xc[3]) {
    const float *E = p->extrinsics + 12 * v;
    for (int r = 0; r < 3; r++) Xc[r] = E[4 * r] * X[0] + E[4 * r + 1] * X[1] + E[4 * r + 2] * X[2] + E[4 * r + 3];
}

gs_status gs_da3_points(const gs_da3_prediction *p, int64_t max_points, float **xyz, uint8_t **rgb, int64_t *n_out) {
    *xyz = NULL;
    *rgb = NULL;
    *n_out = 0;
    if (!p->extrinsics || !p->intrinsics) return gs_error(GS_ERR_INVALID, "point cloud: the prediction has no cameras");
    int64_t *ix, n;
    gs_status st = gs_da3_point_select(p, max_points, &ix, &n, NULL);
    if (st) return st;
    float *X = gs_malloc((size_t)n + 1, 3 * sizeof(float), "point cloud");
    uint8_t *C = gs_malloc((size_t)n + 1, 3, "point cloud colours");
    if (!X || !C) { free(ix); free(X); free(C); return GS_ERR_NOMEM; }
    const size_t HW = (size_t)p->H * p->W;
    for (int64_t k = 0; k < n; k++) {
        size_t i = (size_t)ix[k];
        int v = (int)(i / HW), y = (int)(i % HW / (size_t)p->W), x = (int)(i % (size_t)p->W);
        double w[3];
        unproject(p, v, x, y, p->depth[i], w);
        for (int r = 0; r < 3; r++) X[3 * k + r] = (float)w[r];
        if (p->images) memcpy(C + 3 * k, p->images + 3 * i, 3);
        else memset(C + 3 * k, 200, 3);
    }
    free(ix);
    *xyz = X;
    *rgb = C;
    *n_out = n;
    return GS_OK;
}

gs_status gs_da3_view_maps(const gs_da3_prediction *p, const int *orig_w, const int *orig_h, int process_res,
                           gs_da3_resize_method method, gs_da3_view_map *maps) {
    for (int v = 0; v < p->S; v++) {
        gs_da3_plan pl;
        gs_status st = gs_da3_plan_size(orig_w[v], orig_h[v], process_res, method, &pl);
        if (st) return gs_error_prefix(st, "view %d", v);
        if (pl.final_w < p->W || pl.final_h < p->H)
            return gs_error(GS_ERR_INVALID, "view %d: a %dx%d photo gives a %dx%d network input, smaller than the "
                            "prediction's %dx%d", v, orig_w[v], orig_h[v], pl.final_w, pl.final_h, p->W, p->H);
        /* the batch's centre crop when the views ended at different sizes */
        int left = (pl.final_w - p->W) / 2, top = (pl.final_h - p->H) / 2;
        gs_da3_view_map *m = &maps[v];
        m->orig_w = orig_w[v];
        m->orig_h = orig_h[v];
        if (method == GS_DA3_UPPER_BOUND_RESIZE || method == GS_DA3_LOWER_BOUND_RESIZE) {
            m->ax = (double)pl.final_w / orig_w[v];
            m->ay = (double)pl.final_h / orig_h[v];
            m->bx = -left;
            m->by = -top;
        } else {
            m->ax = (double)pl.bound_w / orig_w[v];
            m->ay = (double)pl.bound_h / orig_h[v];
            m->bx = -(double)(pl.crop_left + left);
            m->by = -(double)(pl.crop_top + top);
        }
    }
    return GS_OK;
}

/* ---- the COLMAP model ---------------------------------------------------------- */

typedef struct {
    int32_t view;
    int32_t pix; /* y * W + x in the view */
} obs;

static void photo_rgb(const gs_image *im, double u, double v, uint8_t out[3]) {
    int x = (int)floor(u), y = (int)floor(v);
    x = x < 0 ? 0 : x >= im->width ? im->width - 1 : x;
    y = y < 0 ? 0 : y >= im->height ? im->height - 1 : y;
    const float *px = im->data + ((size_t)y * im->width + x) * im->channels;
    for (int c = 0; c < 3; c++) {
        float f = px[im->channels >= 3 ? c : 0];
        f = f > 0 ? (f < 1 ? f : 1) : 0; /* NaN -> 0 */
        out[c] = (uint8_t)lrintf(f * 255.0f);
    }
}

gs_status gs_da3_colmap_model(const gs_da3_prediction *p, const gs_da3_view_map *maps, const gs_image *photos,
                              const char *const *names, const gs_da3_colmap_opts *o, gs_colmap_model *out) {
    memset(out, 0, sizeof *out);
    if (!p || !p->extrinsics || !p->intrinsics || !p->depth || !maps || !names)
        return gs_error(GS_ERR_INVALID, "COLMAP export: the prediction has no cameras or depth");
    const int S = p->S, W = p->W, H = p->H;
    const size_t HW = (size_t)H * W;
    if ((double)S * HW >= 2147483647.0) return gs_error(GS_ERR_INVALID, "COLMAP export: %d views of %dx%d is too many pixels", S, W, H);
    for (int v = 0; v < S; v++) {
        if (!(maps[v].ax > 0 && maps[v].ay > 0 && isfinite(maps[v].bx) && isfinite(maps[v].by)) || maps[v].orig_w < 1 ||
            maps[v].orig_h < 1)
            return gs_error(GS_ERR_INVALID, "COLMAP export: view %d: bad pixel map", v);
        if (photos && (photos[v].width != maps[v].orig_w || photos[v].height != maps[v].orig_h || !photos[v].data ||
                       photos[v].channels < 1))
            return gs_error(GS_ERR_INVALID, "COLMAP export: view %d: photo is %dx%d, the map says %dx%d", v,
                            photos[v].width, photos[v].height, maps[v].orig_w, maps[v].orig_h);
    }
    const double dtol = o && o->depth_tol > 0 ? o->depth_tol : GS_DA3_TRACK_DEPTH_TOL;
    const double rtol = o && o->reproj_tol > 0 ? o->reproj_tol : GS_DA3_TRACK_REPROJ_TOL;
    int64_t *cand = NULL, nc = 0;
    float thr;
    gs_status st = gs_da3_point_select(p, o && o->max_points > 0 ? o->max_points : 0, &cand, &nc, &thr);
    if (st) return st;
    if (o && o->max_points == 0) nc = 0; /* cameras only */

    /* images */
    gs_colmap_model *m = out;
    m->images.cams = gs_calloc((size_t)S, sizeof(gs_camera), "COLMAP images");
    m->images.n = S;
    m->image_id = gs_malloc((size_t)S, sizeof *m->image_id, "COLMAP images");
    m->p2d_start = gs_calloc((size_t)S + 1, sizeof *m->p2d_start, "COLMAP images");
    int32_t *claim = gs_malloc((size_t)S * HW, sizeof *claim, "COLMAP tracks");
    int64_t *tstart = gs_malloc((size_t)nc + 1, sizeof *tstart, "COLMAP tracks");
    size_t ocap = (size_t)nc * 2 + 16;
    obs *ob = gs_malloc(ocap, sizeof *ob, "COLMAP tracks");
    int64_t *src = gs_malloc((size_t)nc + 1, sizeof *src, "COLMAP points");
    if (!m->images.cams || !m->image_id || !m->p2d_start || !claim || !tstart || !ob || !src) {
        st = GS_ERR_NOMEM;
        goto done;
    }
    for (int v = 0; v < S; v++) {
        gs_camera *c = &m->images.cams[v];
        const float *K = p->intrinsics + 9 * v;
        const gs_da3_view_map *mp = &maps[v];
        gs_camera_from_w2c_K(c, p->extrinsics + 12 * v, K, mp->orig_w, mp->orig_h);
        c->fx = K[0] / mp->ax;
        c->fy = K[4] / mp->ay;
        c->cx = (K[2] - mp->bx) / mp->ax;
        c->cy = (K[5] - mp->by) / mp->ay;
        c->camera_id = v + 1;
        m->image_id[v] = v + 1;
        snprintf(c->name, sizeof c->name, "%s", names[v]);
    }
    for (size_t i = 0; i < (size_t)S * HW; i++) claim[i] = -1;

    /* points and their observations */
    int64_t np = 0, no = 0;
    tstart[0] = 0;
    for (int64_t k = 0; k < nc; k++) {
        size_t i = (size_t)cand[k];
        if (claim[i] >= 0) continue; /* an earlier point already observes this pixel */
        int v = (int)(i / HW), y = (int)(i % HW / (size_t)W), x = (int)(i % (size_t)W);
        double X[3];
        unproject(p, v, x, y, p->depth[i], X);
        if ((size_t)no + (size_t)S > ocap) {
            size_t nn = ocap * 2 + (size_t)S;
            obs *q = realloc(ob, nn * sizeof *q);
            if (!q) { st = gs_error(GS_ERR_NOMEM, "COLMAP tracks: out of memory"); goto done; }
            ob = q;
            ocap = nn;
        }
        int64_t first = no;
        ob[no++] = (obs){v, (int32_t)(i % HW)};
        for (int w = 0; w < S; w++) {
            if (w == v) continue;
            double Xc[3];
            to_cam(p, w, X, Xc);
            if (!(Xc[2] > 0)) continue;
            const float *Kw = p->intrinsics + 9 * w;
            double u = Kw[0] * Xc[0] / Xc[2] + Kw[2], vv = Kw[4] * Xc[1] / Xc[2] + Kw[5];
            if (!(u > -0.5 && u < W - 0.5 && vv > -0.5 && vv < H - 0.5)) continue;
            int qx = (int)floor(u + 0.5), qy = (int)floor(vv + 0.5);
            if (qx < 0 || qx >= W || qy < 0 || qy >= H) continue;
            size_t qi = (size_t)w * HW + (size_t)qy * W + qx;
            if (claim[qi] >= 0 || !gs_da3_point_ok(p, thr, qi)) continue;
            double D = p->depth[qi];
            if (fabs(Xc[2] - D) > dtol * D) continue;
            double Y[3], Yc[3];
            unproject(p, w, qx, qy, D, Y);
            to_cam(p, v, Y, Yc);
            if (!(Yc[2] > 0)) continue;
            const float *Kv = p->intrinsics + 9 * v;
            double ru = Kv[0] * Yc[0] / Yc[2] + Kv[2] - x, rv = Kv[4] * Yc[1] / Yc[2] + Kv[5] - y;
            if (!(ru * ru + rv * rv <= rtol * rtol)) continue;
            ob[no++] = (obs){w, (int32_t)((size_t)qy * W + qx)};
        }
        for (int64_t e = first; e < no; e++) claim[(size_t)ob[e].view * HW + (size_t)ob[e].pix] = (int32_t)np;
        src[np] = (int64_t)i;
        tstart[++np] = no;
    }

    /* the model's arrays: 2D points of each image in point order */
    m->n_points = np;
    m->point_id = gs_malloc((size_t)np + 1, sizeof *m->point_id, "COLMAP points");
    m->xyz = gs_malloc((size_t)np + 1, 3 * sizeof(double), "COLMAP points");
    m->rgb = gs_malloc((size_t)np + 1, 3, "COLMAP points");
    m->error = gs_malloc((size_t)np + 1, sizeof(double), "COLMAP points");
    m->track_start = gs_malloc((size_t)np + 1, sizeof(int64_t), "COLMAP tracks");
    m->track = gs_malloc((size_t)no + 1, 2 * sizeof(int32_t), "COLMAP tracks");
    m->p2d_xy = gs_malloc((size_t)no + 1, 2 * sizeof(double), "COLMAP 2D points");
    m->p2d_point3d = gs_malloc((size_t)no + 1, sizeof(int64_t), "COLMAP 2D points");
    int64_t *fill = gs_calloc((size_t)S, sizeof *fill, "COLMAP 2D points");
    if (!m->point_id || !m->xyz || !m->rgb || !m->error || !m->track_start || !m->track || !m->p2d_xy ||
        !m->p2d_point3d || !fill) {
        free(fill);
        st = GS_ERR_NOMEM;
        goto done;
    }
    for (int64_t e = 0; e < no; e++) m->p2d_start[ob[e].view + 1]++;
    for (int v = 0; v < S; v++) m->p2d_start[v + 1] += m->p2d_start[v];
    memcpy(m->track_start, tstart, ((size_t)np + 1) * sizeof *tstart);
    for (int64_t j = 0; j < np; j++) {
        size_t i = (size_t)src[j];
        int v = (int)(i / HW), y = (int)(i % HW / (size_t)W), x = (int)(i % (size_t)W);
        unproject(p, v, x, y, p->depth[i], m->xyz + 3 * j);
        m->point_id[j] = (uint64_t)j + 1;
        if (photos) photo_rgb(&photos[v], (x + 0.5 - maps[v].bx) / maps[v].ax, (y + 0.5 - maps[v].by) / maps[v].ay,
                              m->rgb + 3 * j);
        else if (p->images) memcpy(m->rgb + 3 * j, p->images + 3 * i, 3);
        else memset(m->rgb + 3 * j, 200, 3);
        double err = 0;
        for (int64_t e = tstart[j]; e < tstart[j + 1]; e++) {
            int w = ob[e].view;
            int64_t k2 = m->p2d_start[w] + fill[w];
            const gs_da3_view_map *mp = &maps[w];
            double ox = (ob[e].pix % W - mp->bx) / mp->ax, oy = (ob[e].pix / W - mp->by) / mp->ay;
            m->p2d_xy[2 * k2] = ox;
            m->p2d_xy[2 * k2 + 1] = oy;
            m->p2d_point3d[k2] = (int64_t)j + 1;
            m->track[2 * e] = w + 1;
            m->track[2 * e + 1] = (int32_t)fill[w]++;
            /* reprojection with the written (original-size) camera */
            const gs_camera *c = &m->images.cams[w];
            const double *P = m->xyz + 3 * j;
            double Xc[3];
            for (int r = 0; r < 3; r++) Xc[r] = c->R[3 * r] * P[0] + c->R[3 * r + 1] * P[1] + c->R[3 * r + 2] * P[2] + c->t[r];
            double du = c->fx * Xc[0] / Xc[2] + c->cx - ox, dv = c->fy * Xc[1] / Xc[2] + c->cy - oy;
            err += sqrt(du * du + dv * dv);
        }
        m->error[j] = err / (double)(tstart[j + 1] - tstart[j]);
    }
    free(fill);
done:
    free(cand);
    free(claim);
    free(tstart);
    free(ob);
    free(src);
    if (st) gs_colmap_model_free(out);
    return st;
}

gs_status gs_da3_write_colmap(const char *out_dir, const gs_da3_prediction *p, const gs_image *photos,
                              const char *const *names, int process_res, int resize_method, int64_t max_points, int text,
                              int64_t *n_points, double *mean_track) {
    const int S = p->S;
    int *wh = gs_malloc((size_t)S, 2 * sizeof *wh, "COLMAP export");
    gs_da3_view_map *maps = gs_malloc((size_t)S, sizeof *maps, "COLMAP export");
    gs_colmap_model m;
    memset(&m, 0, sizeof m);
    gs_status st = wh && maps ? GS_OK : GS_ERR_NOMEM;
    for (int v = 0; v < S && !st; v++) {
        wh[v] = photos[v].width;
        wh[S + v] = photos[v].height;
    }
    if (!st) st = gs_da3_view_maps(p, wh, wh + S, process_res, (gs_da3_resize_method)resize_method, maps);
    gs_da3_colmap_opts o = {max_points, 0, 0};
    if (!st) st = gs_da3_colmap_model(p, maps, photos, names, &o, &m);
    char dir[4096];
    gs_path_join(dir, sizeof dir, out_dir, "sparse/0");
    if (!st) st = gs_colmap_model_write(dir, &m, text);
    if (!st && n_points) *n_points = m.n_points;
    if (!st && mean_track) *mean_track = m.n_points ? (double)m.track_start[m.n_points] / (double)m.n_points : 0;
    gs_colmap_model_free(&m);
    free(maps);
    free(wh);
    return st;
}
