/* colmap_model.c - whole COLMAP sparse models (gs_colmap_model): cameras,
 * images with their 2D points, 3D points with their tracks. The writer
 * (binary by default, text on request) and a fully checked binary reader;
 * colmap.c holds the camera-only readers that --cameras uses.
 *
 * Binary layout (little-endian), as COLMAP's reconstruction_io and its
 * scripts/python/read_write_model.py: cameras.bin = u64 count, per camera
 * i32 id, i32 model (1 = PINHOLE), u64 width, u64 height, f64 fx fy cx cy;
 * images.bin = u64 count, per image i32 id, f64 qw qx qy qz, f64 tx ty tz,
 * i32 camera id, the name NUL-terminated, u64 n2d, n2d x (f64 x, f64 y,
 * i64 point3D id, -1 for none); points3D.bin = u64 count, per point u64 id,
 * f64 xyz[3], u8 rgb[3], f64 error, u64 track length, track x (i32 image
 * id, i32 point2D index). */
#include "data/cameras.h"
#include "data/colmap_rd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gs_colmap_model_free(gs_colmap_model *m) {
    if (!m) return;
    gs_cameras_free(&m->images);
    free(m->image_id);
    free(m->p2d_start);
    free(m->p2d_xy);
    free(m->p2d_point3d);
    free(m->point_id);
    free(m->xyz);
    free(m->rgb);
    free(m->error);
    free(m->track_start);
    free(m->track);
    memset(m, 0, sizeof *m);
}

/* ---- id lookups -------------------------------------------------------------- */

typedef struct {
    int64_t id;
    int64_t index;
} id_ix;

static int cmp_ix(const void *a, const void *b) {
    int64_t x = ((const id_ix *)a)->id, y = ((const id_ix *)b)->id;
    return (x > y) - (x < y);
}

/* sorted (id, index) pairs; a duplicate id is an error naming `kind` */
static gs_status sorted_ids(int64_t n, const uint64_t *ids64, const int32_t *idsi, const char *what, const char *kind,
                            id_ix **out) {
    *out = NULL;
    id_ix *ix = gs_malloc((size_t)(n ? n : 1), sizeof *ix, what);
    if (!ix) return GS_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        ix[i].id = ids64 ? (int64_t)ids64[i] : idsi[i];
        ix[i].index = i;
    }
    qsort(ix, (size_t)n, sizeof *ix, cmp_ix);
    for (int64_t i = 1; i < n; i++)
        if (ix[i].id == ix[i - 1].id) {
            long long d = (long long)ix[i].id;
            free(ix);
            return gs_error(GS_ERR_FORMAT, "%s: %s id %lld appears twice", what, kind, d);
        }
    *out = ix;
    return GS_OK;
}

static int64_t find_ix(const id_ix *ix, int64_t n, int64_t id) {
    id_ix key = {id, 0};
    const id_ix *r = bsearch(&key, ix, (size_t)n, sizeof *ix, cmp_ix);
    return r ? r->index : -1;
}

gs_status gs_colmap_model_validate(const gs_colmap_model *m, const char *what) {
    if (!what) what = "COLMAP model";
    const int ni = m->images.n;
    if (ni < 0 || ni > GS_MAX_CAMERAS || (ni && (!m->images.cams || !m->image_id)) || !m->p2d_start ||
        m->n_points < 0 || !m->track_start || m->p2d_start[0] != 0 || m->track_start[0] != 0)
        return gs_error(GS_ERR_INVALID, "%s: malformed model", what);
    for (int i = 0; i < ni; i++) {
        if (m->p2d_start[i + 1] < m->p2d_start[i])
            return gs_error(GS_ERR_INVALID, "%s: image %d: 2D point offsets decrease", what, i);
        if (!m->images.cams[i].has_pose) return gs_error(GS_ERR_INVALID, "%s: image %d has no pose", what, i);
        if (!m->images.cams[i].name[0]) return gs_error(GS_ERR_INVALID, "%s: image %d has no name", what, i);
    }
    for (int64_t j = 0; j < m->n_points; j++)
        if (m->track_start[j + 1] < m->track_start[j])
            return gs_error(GS_ERR_INVALID, "%s: point %lld: track offsets decrease", what, (long long)j);
    const int64_t n2d = m->p2d_start[ni], ntr = m->track_start[m->n_points];
    if ((n2d && (!m->p2d_xy || !m->p2d_point3d)) || (m->n_points && (!m->point_id || !m->xyz || !m->rgb || !m->error)) ||
        (ntr && !m->track))
        return gs_error(GS_ERR_INVALID, "%s: malformed model", what);
    id_ix *imx = NULL, *ptx = NULL;
    gs_status st = sorted_ids(ni, NULL, m->image_id, what, "image", &imx);
    if (!st) st = sorted_ids(m->n_points, m->point_id, NULL, what, "point3D", &ptx);
    if (st) { free(imx); return st; }
    for (int64_t j = 0; j < m->n_points && !st; j++) {
        if ((int64_t)m->point_id[j] < 0) { /* u64 ids past INT64_MAX cannot be named by a 2D point */
            st = gs_error(GS_ERR_FORMAT, "%s: point3D id %llu is out of range", what, (unsigned long long)m->point_id[j]);
            break;
        }
        for (int k = 0; k < 3; k++)
            if (!isfinite(m->xyz[3 * j + k])) {
                st = gs_error(GS_ERR_FORMAT, "%s: point3D %llu: coordinate %d is not finite", what,
                              (unsigned long long)m->point_id[j], k);
                break;
            }
        if (!st && isnan(m->error[j]))
            st = gs_error(GS_ERR_FORMAT, "%s: point3D %llu: error is NaN", what, (unsigned long long)m->point_id[j]);
        for (int64_t e = m->track_start[j]; e < m->track_start[j + 1] && !st; e++) {
            int32_t img = m->track[2 * e], idx = m->track[2 * e + 1];
            int64_t i = find_ix(imx, ni, img);
            if (i < 0)
                st = gs_error(GS_ERR_FORMAT, "%s: point3D %llu: its track names image id %d, which the model lacks", what,
                              (unsigned long long)m->point_id[j], (int)img);
            else if (idx < 0 || idx >= m->p2d_start[i + 1] - m->p2d_start[i])
                st = gs_error(GS_ERR_FORMAT, "%s: point3D %llu: its track names 2D point %d of image id %d, which has %lld",
                              what, (unsigned long long)m->point_id[j], (int)idx, (int)img,
                              (long long)(m->p2d_start[i + 1] - m->p2d_start[i]));
            else if (m->p2d_point3d[m->p2d_start[i] + idx] != (int64_t)m->point_id[j])
                st = gs_error(GS_ERR_FORMAT, "%s: point3D %llu: 2D point %d of image id %d does not refer back to it", what,
                              (unsigned long long)m->point_id[j], (int)idx, (int)img);
        }
    }
    int64_t referring = 0;
    for (int i = 0; i < ni && !st; i++)
        for (int64_t k = m->p2d_start[i]; k < m->p2d_start[i + 1] && !st; k++) {
            if (!isfinite(m->p2d_xy[2 * k]) || !isfinite(m->p2d_xy[2 * k + 1]))
                st = gs_error(GS_ERR_FORMAT, "%s: image id %d: 2D point %lld is not finite", what, (int)m->image_id[i],
                              (long long)(k - m->p2d_start[i]));
            else if (m->p2d_point3d[k] != -1) {
                if (find_ix(ptx, m->n_points, m->p2d_point3d[k]) < 0)
                    st = gs_error(GS_ERR_FORMAT, "%s: image id %d: 2D point %lld refers to point3D %lld, which the model lacks",
                                  what, (int)m->image_id[i], (long long)(k - m->p2d_start[i]), (long long)m->p2d_point3d[k]);
                referring++;
            }
        }
    /* every track element is a distinct 2D point referring back (checked
     * above); equal counts make the two lists the same */
    if (!st && referring != ntr)
        st = gs_error(GS_ERR_FORMAT, "%s: %lld 2D points refer to 3D points but the tracks hold %lld observations", what,
                      (long long)referring, (long long)ntr);
    free(imx);
    free(ptx);
    return st;
}

/* ---- writer ------------------------------------------------------------------ */

typedef struct {
    gs_afile a;
    int open;
} wfile;

static gs_status w_open(wfile *w, const char *dir, const char *name, char *path, size_t n) {
    w->open = 0;
    gs_status st = gs_afile_open(&w->a, gs_path_join(path, n, dir, name));
    if (!st) w->open = 1;
    return st;
}

static void w_put(wfile *w, const void *p, size_t n) { fwrite(p, 1, n, w->a.f); }
static void w_u64(wfile *w, uint64_t v) { w_put(w, &v, 8); }
static void w_i64(wfile *w, int64_t v) { w_put(w, &v, 8); }
static void w_i32(wfile *w, int32_t v) { w_put(w, &v, 4); }
static void w_f64(wfile *w, double v) { w_put(w, &v, 8); }

static gs_status w_commit(wfile *w, const char *path) {
    if (ferror(w->a.f)) {
        gs_afile_abort(&w->a);
        w->open = 0;
        return gs_error(GS_ERR_IO, "%s: write failed", path);
    }
    w->open = 0;
    return gs_afile_commit(&w->a);
}

/* the first image of each camera id, and a check that images sharing one
 * have the same intrinsics */
static gs_status camera_owners(const gs_colmap_model *m, const char *dir, int **first, int *ncam) {
    const int ni = m->images.n;
    int *f = gs_malloc((size_t)(ni ? ni : 1), sizeof *f, dir);
    id_ix *cx = gs_malloc((size_t)(ni ? ni : 1), sizeof *cx, dir);
    if (!f || !cx) { free(f); free(cx); return GS_ERR_NOMEM; }
    for (int i = 0; i < ni; i++) {
        cx[i].id = m->images.cams[i].camera_id;
        cx[i].index = i;
    }
    qsort(cx, (size_t)ni, sizeof *cx, cmp_ix);
    int n = 0;
    gs_status st = GS_OK;
    for (int i = 0; i < ni && !st; i++) {
        const gs_camera *c = &m->images.cams[cx[i].index];
        if (c->camera_id < 1 || c->camera_id > INT32_MAX) {
            st = gs_error(GS_ERR_INVALID, "%s: image %lld: camera id %lld is out of range", dir, (long long)cx[i].index,
                          (long long)c->camera_id);
        } else if (i && cx[i].id == cx[i - 1].id) {
            const gs_camera *o = &m->images.cams[f[n - 1]];
            if (o->width != c->width || o->height != c->height || o->fx != c->fx || o->fy != c->fy || o->cx != c->cx ||
                o->cy != c->cy)
                st = gs_error(GS_ERR_INVALID, "%s: images %d and %lld share camera id %lld with different intrinsics",
                              dir, f[n - 1], (long long)cx[i].index, (long long)c->camera_id);
        } else {
            f[n++] = (int)cx[i].index;
        }
    }
    free(cx);
    if (st) { free(f); return st; }
    *first = f;
    *ncam = n;
    return GS_OK;
}

static gs_status write_bin(const char *dir, const gs_colmap_model *m, const int *first, int ncam) {
    char path[4096];
    wfile w;
    gs_status st = w_open(&w, dir, "cameras.bin", path, sizeof path);
    if (st) return st;
    w_u64(&w, (uint64_t)ncam);
    for (int k = 0; k < ncam; k++) {
        const gs_camera *c = &m->images.cams[first[k]];
        w_i32(&w, (int32_t)c->camera_id);
        w_i32(&w, 1); /* PINHOLE */
        w_u64(&w, (uint64_t)c->width);
        w_u64(&w, (uint64_t)c->height);
        w_f64(&w, c->fx);
        w_f64(&w, c->fy);
        w_f64(&w, c->cx);
        w_f64(&w, c->cy);
    }
    if ((st = w_commit(&w, path))) return st;

    if ((st = w_open(&w, dir, "images.bin", path, sizeof path))) return st;
    w_u64(&w, (uint64_t)m->images.n);
    for (int i = 0; i < m->images.n; i++) {
        const gs_camera *c = &m->images.cams[i];
        double q[4];
        gs_rotmat_to_quat(c->R, q);
        w_i32(&w, m->image_id[i]);
        for (int k = 0; k < 4; k++) w_f64(&w, q[k]);
        for (int k = 0; k < 3; k++) w_f64(&w, c->t[k]);
        w_i32(&w, (int32_t)c->camera_id);
        w_put(&w, c->name, strlen(c->name) + 1);
        w_u64(&w, (uint64_t)(m->p2d_start[i + 1] - m->p2d_start[i]));
        for (int64_t k = m->p2d_start[i]; k < m->p2d_start[i + 1]; k++) {
            w_f64(&w, m->p2d_xy[2 * k]);
            w_f64(&w, m->p2d_xy[2 * k + 1]);
            w_i64(&w, m->p2d_point3d[k]);
        }
    }
    if ((st = w_commit(&w, path))) return st;

    if ((st = w_open(&w, dir, "points3D.bin", path, sizeof path))) return st;
    w_u64(&w, (uint64_t)m->n_points);
    for (int64_t j = 0; j < m->n_points; j++) {
        w_u64(&w, m->point_id[j]);
        for (int k = 0; k < 3; k++) w_f64(&w, m->xyz[3 * j + k]);
        w_put(&w, m->rgb + 3 * j, 3);
        w_f64(&w, m->error[j]);
        w_u64(&w, (uint64_t)(m->track_start[j + 1] - m->track_start[j]));
        for (int64_t e = m->track_start[j]; e < m->track_start[j + 1]; e++) {
            w_i32(&w, m->track[2 * e]);
            w_i32(&w, m->track[2 * e + 1]);
        }
    }
    return w_commit(&w, path);
}

static gs_status write_txt(const char *dir, const gs_colmap_model *m, const int *first, int ncam) {
    char path[4096];
    wfile w;
    gs_status st = w_open(&w, dir, "cameras.txt", path, sizeof path);
    if (st) return st;
    FILE *f = w.a.f;
    fprintf(f, "# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
               "# Number of cameras: %d\n", ncam);
    for (int k = 0; k < ncam; k++) {
        const gs_camera *c = &m->images.cams[first[k]];
        fprintf(f, "%lld PINHOLE %d %d %.17g %.17g %.17g %.17g\n", (long long)c->camera_id, c->width, c->height, c->fx,
                c->fy, c->cx, c->cy);
    }
    if ((st = w_commit(&w, path))) return st;

    if ((st = w_open(&w, dir, "images.txt", path, sizeof path))) return st;
    f = w.a.f;
    int64_t n2d = m->p2d_start[m->images.n];
    fprintf(f, "# Image list with two lines of data per image:\n#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n"
               "#   POINTS2D[] as (X, Y, POINT3D_ID)\n# Number of images: %d, mean observations per image: %.17g\n",
            m->images.n, m->images.n ? (double)n2d / m->images.n : 0.0);
    for (int i = 0; i < m->images.n; i++) {
        const gs_camera *c = &m->images.cams[i];
        double q[4];
        gs_rotmat_to_quat(c->R, q);
        fprintf(f, "%d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %lld %s\n", (int)m->image_id[i], q[0], q[1], q[2], q[3],
                c->t[0], c->t[1], c->t[2], (long long)c->camera_id, c->name);
        for (int64_t k = m->p2d_start[i]; k < m->p2d_start[i + 1]; k++)
            fprintf(f, "%s%.17g %.17g %lld", k > m->p2d_start[i] ? " " : "", m->p2d_xy[2 * k], m->p2d_xy[2 * k + 1],
                    (long long)m->p2d_point3d[k]);
        fputc('\n', f);
    }
    if ((st = w_commit(&w, path))) return st;

    if ((st = w_open(&w, dir, "points3D.txt", path, sizeof path))) return st;
    f = w.a.f;
    int64_t ntr = m->track_start[m->n_points];
    fprintf(f, "# 3D point list with one line of data per point:\n"
               "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
               "# Number of points: %lld, mean track length: %.17g\n",
            (long long)m->n_points, m->n_points ? (double)ntr / (double)m->n_points : 0.0);
    for (int64_t j = 0; j < m->n_points; j++) {
        const double *X = m->xyz + 3 * j;
        const uint8_t *c = m->rgb + 3 * j;
        fprintf(f, "%llu %.17g %.17g %.17g %d %d %d %.17g", (unsigned long long)m->point_id[j], X[0], X[1], X[2], c[0],
                c[1], c[2], m->error[j]);
        for (int64_t e = m->track_start[j]; e < m->track_start[j + 1]; e++)
            fprintf(f, " %d %d", (int)m->track[2 * e], (int)m->track[2 * e + 1]);
        fputc('\n', f);
    }
    return w_commit(&w, path);
}

gs_status gs_colmap_model_write(const char *dir, const gs_colmap_model *m, int text) {
    if (!dir || !m) return gs_error(GS_ERR_INVALID, "write COLMAP: bad arguments");
    if (strlen(dir) > 3000) return gs_error(GS_ERR_INVALID, "%.64s...: path too long", dir);
    gs_status st = gs_colmap_model_validate(m, dir);
    if (st) return st;
    for (int i = 0; i < m->images.n; i++) {
        if ((st = gs_camera_validate(&m->images.cams[i], dir, i))) return st;
        for (const char *s = m->images.cams[i].name; text && *s; s++)
            if ((unsigned char)*s <= ' ')
                return gs_error(GS_ERR_INVALID,
                                "%s: image %d: name '%s' has white space, which COLMAP text cannot hold (write the "
                                "binary model)",
                                dir, i, m->images.cams[i].name);
        for (const char *s = m->images.cams[i].name; *s; s++)
            if ((unsigned char)*s < 0x20)
                return gs_error(GS_ERR_INVALID, "%s: image %d: name has a control character", dir, i);
    }
    int *first = NULL, ncam = 0;
    if ((st = camera_owners(m, dir, &first, &ncam))) return st;
    if ((st = gs_mkdirs(dir))) { free(first); return st; }
    st = text ? write_txt(dir, m, first, ncam) : write_bin(dir, m, first, ncam);
    free(first);
    if (st) return st;
    /* readers prefer cameras.bin: a stale model of the other layout goes */
    static const char *const stale[2][3] = {{"cameras.txt", "images.txt", "points3D.txt"},
                                            {"cameras.bin", "images.bin", "points3D.bin"}};
    for (int k = 0; k < 3; k++) {
        char p[4096];
        gs_path_join(p, sizeof p, dir, stale[text ? 1 : 0][k]);
        if (remove(p) != 0 && errno != ENOENT)
            return gs_error(GS_ERR_IO, "%s: cannot remove the old %s: %s", p, text ? "binary model" : "text model",
                            strerror(errno));
    }
    return GS_OK;
}

/* ---- binary reader ----------------------------------------------------------- */

static gs_status read_points(const uint8_t *data, size_t size, const char *name, gs_colmap_model *m) {
    rd r = {data, size};
    uint64_t n;
    if (!rd_bytes(&r, &n, 8)) return gs_error(GS_ERR_FORMAT, "%s: truncated: no point count", name);
    const size_t min_rec = 8 + 24 + 3 + 8 + 8;
    if (n > r.left / min_rec)
        return gs_error(GS_ERR_FORMAT, "%s: declares %llu points but only %zu bytes follow", name, (unsigned long long)n,
                        r.left);
    size_t maxtr = r.left / 8 + 1;
    m->point_id = gs_malloc((size_t)(n ? n : 1), sizeof *m->point_id, name);
    m->xyz = gs_malloc((size_t)(n ? n : 1), 3 * sizeof(double), name);
    m->rgb = gs_malloc((size_t)(n ? n : 1), 3, name);
    m->error = gs_malloc((size_t)(n ? n : 1), sizeof(double), name);
    m->track_start = gs_malloc((size_t)n + 1, sizeof(int64_t), name);
    m->track = gs_malloc(maxtr, 2 * sizeof(int32_t), name);
    if (!m->point_id || !m->xyz || !m->rgb || !m->error || !m->track_start || !m->track) return GS_ERR_NOMEM;
    m->track_start[0] = 0;
    int64_t e = 0;
    for (uint64_t j = 0; j < n; j++) {
        uint64_t len;
        if (!rd_bytes(&r, &m->point_id[j], 8) || !rd_bytes(&r, m->xyz + 3 * j, 24) || !rd_bytes(&r, m->rgb + 3 * j, 3) ||
            !rd_bytes(&r, &m->error[j], 8) || !rd_bytes(&r, &len, 8))
            return gs_error(GS_ERR_FORMAT, "%s: truncated in point %llu", name, (unsigned long long)j);
        if (len > r.left / 8)
            return gs_error(GS_ERR_FORMAT, "%s: point %llu declares a track of %llu but only %zu bytes follow", name,
                            (unsigned long long)j, (unsigned long long)len, r.left);
        rd_bytes(&r, m->track + 2 * e, (size_t)len * 8);
        e += (int64_t)len;
        m->track_start[j + 1] = e;
        m->n_points = (int64_t)j + 1;
    }
    if (r.left) return gs_error(GS_ERR_FORMAT, "%s: %zu unexpected bytes after the last point", name, r.left);
    return GS_OK;
}

gs_status gs_colmap_model_bin_mem(const uint8_t *cam, size_t cam_size, const char *cam_name, const uint8_t *img,
                                  size_t img_size, const char *img_name, const uint8_t *pts, size_t pts_size,
                                  const char *pts_name, gs_colmap_model *out) {
    memset(out, 0, sizeof *out);
    if (!cam_name) cam_name = "cameras.bin";
    if (!img_name) img_name = "images.bin";
    if (!pts_name) pts_name = "points3D.bin";
    gs_cameras intr;
    gs_status st = gs_colmap_cameras_bin_mem(cam, cam_size, cam_name, &intr);
    if (st) return st;
    st = gs_colmap_images_bin_read(img, img_size, img_name, &intr, &out->images, out);
    gs_cameras_free(&intr);
    if (!st) st = read_points(pts, pts_size, pts_name, out);
    if (!st) {
        char what[8400];
        snprintf(what, sizeof what, "%s + %s", img_name, pts_name);
        st = gs_colmap_model_validate(out, what);
    }
    if (st) gs_colmap_model_free(out);
    return st;
}

gs_status gs_colmap_model_read(const char *dir, gs_colmap_model *out) {
    memset(out, 0, sizeof *out);
    if (!dir || !*dir) return gs_error(GS_ERR_INVALID, "COLMAP model path is empty");
    if (strlen(dir) > 3000) return gs_error(GS_ERR_INVALID, "%.64s...: path too long", dir);
    char model[4096], p[3][4096];
    snprintf(model, sizeof model, "%s", dir);
    if (!gs_file_exists(gs_path_join(p[0], sizeof p[0], model, "cameras.bin")))
        gs_path_join(model, sizeof model, dir, "sparse/0");
    static const char *const files[3] = {"cameras.bin", "images.bin", "points3D.bin"};
    for (int k = 0; k < 3; k++)
        if (!gs_file_exists(gs_path_join(p[k], sizeof p[k], model, files[k])))
            return gs_error(GS_ERR_NOT_FOUND, "%s: no %s (a binary COLMAP model has cameras.bin, images.bin and "
                                              "points3D.bin)", dir, files[k]);
    gs_mmap mm[3];
    int opened = 0;
    gs_status st = GS_OK;
    for (; opened < 3 && !st; opened++)
        if ((st = gs_mmap_open(&mm[opened], p[opened]))) break;
    if (!st)
        st = gs_colmap_model_bin_mem(mm[0].data, mm[0].size, p[0], mm[1].data, mm[1].size, p[1], mm[2].data, mm[2].size,
                                     p[2], out);
    for (int k = 0; k < opened; k++) gs_mmap_close(&mm[k]);
    return st;
}
