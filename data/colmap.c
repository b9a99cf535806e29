/* colmap.c - COLMAP sparse models: cameras/images/points3D in the text and
 * binary layouts (readers), and a text writer.
 *
 * Poses in images.{txt,bin} are world-to-camera, x_c = R(q) x_w + t with
 * q = (w, x, y, z) Hamiltonian, which is already our convention. Every camera
 * model is reduced to its pinhole part (fx, fy, cx, cy): distortion and
 * fisheye parameters are read and dropped, because nothing downstream can
 * undistort; undistort the images first (colmap image_undistorter) when they
 * matter. COLMAP's principal point has pixel centres at +0.5, as ours.
 * Binary layout (little-endian): cameras.bin = u64 count, then per camera
 * i32 id, i32 model, u64 width, u64 height, f64 params[model]; images.bin =
 * u64 count, then per image i32 id, f64 q[4], f64 t[3], i32 camera id,
 * NUL-terminated name, u64 n2d, n2d x (f64 x, f64 y, i64 point id);
 * points3D.bin = u64 count, then per point u64 id, f64 xyz[3], u8 rgb[3],
 * f64 error, u64 track length, track x (i32 image id, i32 point2D index).
 * Every count is checked against the bytes left before anything is
 * allocated. Images are returned in file order. */
#include "data/cameras.h"
#include "data/colmap_rd.h"

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- camera models ---------------------------------------------------------- */

typedef struct {
    int id;
    const char *name;
    int nparams;
    int single_focal; /* params start f, cx, cy (else fx, fy, cx, cy) */
} colmap_model;

static const colmap_model k_models[] = {
    {0, "SIMPLE_PINHOLE", 3, 1},  {1, "PINHOLE", 4, 0},
    {2, "SIMPLE_RADIAL", 4, 1},   {3, "RADIAL", 5, 1},
    {4, "OPENCV", 8, 0},          {5, "OPENCV_FISHEYE", 8, 0},
    {6, "FULL_OPENCV", 12, 0},    {7, "FOV", 5, 0},
    {8, "SIMPLE_RADIAL_FISHEYE", 4, 1}, {9, "RADIAL_FISHEYE", 5, 1},
    {10, "THIN_PRISM_FISHEYE", 12, 0},  {11, "RAD_TAN_THIN_PRISM_FISHEYE", 16, 0},
    {12, "SIMPLE_DIVISION", 4, 1},      {13, "DIVISION", 5, 0},
    {14, "SIMPLE_FISHEYE", 3, 1},       {15, "FISHEYE", 4, 0},
    {16, "EUCM", 6, 0},
};
#define N_MODELS ((int)(sizeof k_models / sizeof k_models[0]))

static const colmap_model *model_by_id(int64_t id) {
    for (int i = 0; i < N_MODELS; i++)
        if (k_models[i].id == id) return &k_models[i];
    return NULL;
}

static const colmap_model *model_by_name(const char *s, size_t n) {
    for (int i = 0; i < N_MODELS; i++)
        if (strlen(k_models[i].name) == n && !memcmp(k_models[i].name, s, n)) return &k_models[i];
    return NULL;
}

static void identity_pose(gs_camera *c) {
    memset(c->R, 0, sizeof c->R);
    c->R[0] = c->R[4] = c->R[8] = 1;
    memset(c->t, 0, sizeof c->t);
    c->has_pose = 0;
}

static void set_intrinsics(gs_camera *c, const colmap_model *m, const double *p) {
    if (m->single_focal) {
        c->fx = c->fy = p[0];
        c->cx = p[1];
        c->cy = p[2];
    } else {
        c->fx = p[0];
        c->fy = p[1];
        c->cx = p[2];
        c->cy = p[3];
    }
}

/* camera-id -> index lookup (sorted), so images resolve in O(log n) and
 * duplicates are found */
typedef struct {
    int64_t id;
    int index;
} id_index;

static int cmp_id(const void *a, const void *b) {
    int64_t x = ((const id_index *)a)->id, y = ((const id_index *)b)->id;
    return (x > y) - (x < y);
}

static gs_status build_index(const gs_cameras *c, const char *name, id_index **out) {
    *out = NULL;
    id_index *ix = gs_malloc((size_t)(c->n ? c->n : 1), sizeof *ix, name);
    if (!ix) return GS_ERR_NOMEM;
    for (int i = 0; i < c->n; i++) {
        ix[i].id = c->cams[i].camera_id;
        ix[i].index = i;
    }
    qsort(ix, (size_t)c->n, sizeof *ix, cmp_id);
    for (int i = 1; i < c->n; i++)
        if (ix[i].id == ix[i - 1].id) {
            long long dup = (long long)ix[i].id;
            free(ix);
            return gs_error(GS_ERR_FORMAT, "%s: camera id %lld appears twice", name, dup);
        }
    *out = ix;
    return GS_OK;
}

static const gs_camera *find_camera(const gs_cameras *c, const id_index *ix, int64_t id) {
    id_index key = {id, 0};
    const id_index *r = bsearch(&key, ix, (size_t)c->n, sizeof *ix, cmp_id);
    return r ? &c->cams[r->index] : NULL;
}

static gs_status pose_from_qt(gs_camera *c, const double q[4], const double t[3], const char *name, int index) {
    for (int k = 0; k < 4; k++)
        if (!isfinite(q[k])) return gs_error(GS_ERR_FORMAT, "%s: image %d: quaternion is not finite", name, index);
    for (int k = 0; k < 3; k++)
        if (!isfinite(t[k])) return gs_error(GS_ERR_FORMAT, "%s: image %d: translation is not finite", name, index);
    double n2 = q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
    if (!(n2 > 1e-12) || !isfinite(n2))
        return gs_error(GS_ERR_FORMAT, "%s: image %d: quaternion has zero length", name, index);
    gs_quat_to_rotmat(q, c->R);
    memcpy(c->t, t, sizeof c->t);
    c->has_pose = 1;
    return GS_OK;
}

static gs_status set_name(gs_camera *c, const char *s, size_t n, const char *file, int index) {
    if (n == 0) return gs_error(GS_ERR_FORMAT, "%s: image %d has an empty name", file, index);
    if (n >= sizeof c->name)
        return gs_error(GS_ERR_FORMAT, "%s: image %d: name is %zu bytes (limit %zu)", file, index, n, sizeof c->name - 1);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20)
            return gs_error(GS_ERR_FORMAT, "%s: image %d: name has a control character", file, index);
    memcpy(c->name, s, n);
    c->name[n] = 0;
    return GS_OK;
}

/* ---- binary ------------------------------------------------------------------ */


gs_status gs_colmap_cameras_bin_mem(const uint8_t *data, size_t size, const char *name, gs_cameras *out) {
    memset(out, 0, sizeof *out);
    if (!name) name = "cameras.bin";
    rd r = {data, size};
    uint64_t n;
    if (!rd_u64(&r, &n)) return gs_error(GS_ERR_FORMAT, "%s: truncated: no camera count", name);
    const size_t min_rec = 24 + 3 * 8;
    if (n == 0) return gs_error(GS_ERR_FORMAT, "%s: the model has no cameras", name);
    if (n > r.left / min_rec)
        return gs_error(GS_ERR_FORMAT, "%s: declares %llu cameras but only %zu bytes follow", name,
                        (unsigned long long)n, r.left);
    if (n > GS_MAX_CAMERAS)
        return gs_error(GS_ERR_FORMAT, "%s: %llu cameras is over the limit of %d", name, (unsigned long long)n,
                        GS_MAX_CAMERAS);
    gs_camera *cams = gs_calloc((size_t)n, sizeof *cams, name);
    if (!cams) return GS_ERR_NOMEM;
    gs_status st = GS_OK;
    for (uint64_t i = 0; i < n; i++) {
        int32_t id, model;
        uint64_t w, h;
        double p[16];
        if (!rd_i32(&r, &id) || !rd_i32(&r, &model) || !rd_u64(&r, &w) || !rd_u64(&r, &h)) {
            st = gs_error(GS_ERR_FORMAT, "%s: truncated in camera %llu", name, (unsigned long long)i);
            goto fail;
        }
        const colmap_model *m = model_by_id(model);
        if (!m) {
            st = gs_error(model == 17 ? GS_ERR_UNSUPPORTED : GS_ERR_FORMAT,
                          "%s: camera %llu (id %d): %s camera model id %d", name, (unsigned long long)i, (int)id,
                          model == 17 ? "unsupported (spherical)" : "unknown", (int)model);
            goto fail;
        }
        if (!rd_f64(&r, p, m->nparams)) {
            st = gs_error(GS_ERR_FORMAT, "%s: truncated in the %s parameters of camera %llu", name, m->name,
                          (unsigned long long)i);
            goto fail;
        }
        for (int k = 0; k < m->nparams; k++)
            if (!isfinite(p[k])) {
                st = gs_error(GS_ERR_FORMAT, "%s: camera %llu (id %d): parameter %d is not finite", name,
                              (unsigned long long)i, (int)id, k);
                goto fail;
            }
        gs_camera *c = &cams[i];
        c->width = w > 65536 ? -1 : (int)w;
        c->height = h > 65536 ? -1 : (int)h;
        c->camera_id = id;
        set_intrinsics(c, m, p);
        identity_pose(c);
        if ((st = gs_camera_validate(c, name, (int)i))) goto fail;
    }
    if (r.left) {
        st = gs_error(GS_ERR_FORMAT, "%s: %zu unexpected bytes after the last camera", name, r.left);
        goto fail;
    }
    out->cams = cams;
    out->n = (int)n;
    id_index *ix;
    if ((st = build_index(out, name, &ix))) { gs_cameras_free(out); return st; }
    free(ix);
    return GS_OK;
fail:
    free(cams);
    return st;
}

gs_status gs_colmap_images_bin_read(const uint8_t *data, size_t size, const char *name, const gs_cameras *intrinsics,
                                    gs_cameras *out, gs_colmap_model *p2d) {
    memset(out, 0, sizeof *out);
    if (!name) name = "images.bin";
    if (!intrinsics || intrinsics->n <= 0) return gs_error(GS_ERR_INVALID, "%s: no cameras to attach images to", name);
    rd r = {data, size};
    uint64_t n;
    if (!rd_u64(&r, &n)) return gs_error(GS_ERR_FORMAT, "%s: truncated: no image count", name);
    const size_t min_rec = 4 + 7 * 8 + 4 + 1 + 8;
    if (n > r.left / min_rec)
        return gs_error(GS_ERR_FORMAT, "%s: declares %llu images but only %zu bytes follow", name,
                        (unsigned long long)n, r.left);
    if (n > GS_MAX_CAMERAS)
        return gs_error(GS_ERR_FORMAT, "%s: %llu images is over the limit of %d", name, (unsigned long long)n,
                        GS_MAX_CAMERAS);
    if (p2d) { /* every 2D point is 24 bytes, so the file bounds their count */
        size_t max2d = r.left / 24 + 1;
        p2d->image_id = gs_malloc((size_t)(n ? n : 1), sizeof *p2d->image_id, name);
        p2d->p2d_start = gs_malloc((size_t)n + 1, sizeof *p2d->p2d_start, name);
        p2d->p2d_xy = gs_malloc(max2d, 2 * sizeof(double), name);
        p2d->p2d_point3d = gs_malloc(max2d, sizeof(int64_t), name);
        if (!p2d->image_id || !p2d->p2d_start || !p2d->p2d_xy || !p2d->p2d_point3d) return GS_ERR_NOMEM;
        p2d->p2d_start[0] = 0;
    }
    id_index *ix;
    gs_status st = build_index(intrinsics, name, &ix);
    if (st) return st;
    gs_camera *cams = gs_calloc((size_t)(n ? n : 1), sizeof *cams, name);
    if (!cams) { free(ix); return GS_ERR_NOMEM; }
    int64_t k2 = 0;
    for (uint64_t i = 0; i < n; i++) {
        int32_t id, cam_id;
        double q[4], t[3];
        uint64_t n2d;
        if (!rd_i32(&r, &id) || !rd_f64(&r, q, 4) || !rd_f64(&r, t, 3) || !rd_i32(&r, &cam_id)) {
            st = gs_error(GS_ERR_FORMAT, "%s: truncated in image %llu", name, (unsigned long long)i);
            goto fail;
        }
        const uint8_t *nul = memchr(r.p, 0, r.left);
        if (!nul) {
            st = gs_error(GS_ERR_FORMAT, "%s: truncated in the name of image %llu", name, (unsigned long long)i);
            goto fail;
        }
        size_t len = (size_t)(nul - r.p);
        const gs_camera *k = find_camera(intrinsics, ix, cam_id);
        if (!k) {
            st = gs_error(GS_ERR_FORMAT, "%s: image %llu (id %d) refers to camera id %d, which cameras.bin lacks", name,
                          (unsigned long long)i, (int)id, (int)cam_id);
            goto fail;
        }
        gs_camera *c = &cams[i];
        *c = *k;
        if ((st = set_name(c, (const char *)r.p, len, name, (int)i))) goto fail;
        r.p += len + 1;
        r.left -= len + 1;
        if (!rd_u64(&r, &n2d)) {
            st = gs_error(GS_ERR_FORMAT, "%s: truncated in image %llu", name, (unsigned long long)i);
            goto fail;
        }
        if (n2d > r.left / 24 || n2d > INT32_MAX) {
            st = gs_error(GS_ERR_FORMAT, "%s: image %llu declares %llu 2D points but only %zu bytes follow", name,
                          (unsigned long long)i, (unsigned long long)n2d, r.left);
            goto fail;
        }
        if (p2d) {
            for (uint64_t j = 0; j < n2d; j++, k2++) {
                rd_f64(&r, &p2d->p2d_xy[2 * k2], 2);
                rd_bytes(&r, &p2d->p2d_point3d[k2], 8);
            }
            p2d->p2d_start[i + 1] = k2;
            p2d->image_id[i] = id;
        } else {
            r.p += n2d * 24;
            r.left -= n2d * 24;
        }
        if ((st = pose_from_qt(c, q, t, name, (int)i))) goto fail;
        if ((st = gs_camera_validate(c, name, (int)i))) goto fail;
    }
    if (r.left) {
        st = gs_error(GS_ERR_FORMAT, "%s: %zu unexpected bytes after the last image", name, r.left);
        goto fail;
    }
    free(ix);
    out->cams = cams;
    out->n = (int)n;
    return GS_OK;
fail:
    free(ix);
    free(cams);
    return st;
}

gs_status gs_colmap_images_bin_mem(const uint8_t *data, size_t size, const char *name,
                                   const gs_cameras *intrinsics, gs_cameras *out) {
    return gs_colmap_images_bin_read(data, size, name, intrinsics, out, NULL);
}

/* ---- text -------------------------------------------------------------------- */

typedef struct {
    const char *p, *end;
    int line;
} txt;

/* next line as [*ls, *le) without its newline; 0 at the end */
static int next_line(txt *t, const char **ls, const char **le) {
    if (t->p >= t->end) return 0;
    const char *nl = memchr(t->p, '\n', (size_t)(t->end - t->p));
    *ls = t->p;
    *le = nl ? nl : t->end;
    t->p = nl ? nl + 1 : t->end;
    t->line++;
    if (*le > *ls && (*le)[-1] == '\r') (*le)--;
    return 1;
}

static int is_sp(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

static int next_tok(const char **s, const char *e, const char **ts, size_t *tl) {
    while (*s < e && is_sp(**s)) (*s)++;
    if (*s >= e) return 0;
    *ts = *s;
    while (*s < e && !is_sp(**s)) (*s)++;
    *tl = (size_t)(*s - *ts);
    return 1;
}

static int blank_or_comment(const char *s, const char *e) {
    while (s < e && is_sp(*s)) s++;
    return s == e || *s == '#';
}

static int tok_f64(const char *s, size_t n, double *v) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    *v = strtod(buf, &end);
    return end == buf + n && isfinite(*v);
}

static int tok_i64(const char *s, size_t n, int64_t *v) {
    char buf[32];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = 0;
    if (!isdigit((unsigned char)buf[0]) && buf[0] != '-' && buf[0] != '+') return 0;
    char *end;
    long long x = strtoll(buf, &end, 10);
    if (end != buf + n || x == LLONG_MAX || x == LLONG_MIN) return 0;
    *v = x;
    return 1;
}

/* growable camera array bounded by GS_MAX_CAMERAS */
static gs_status push_cam(gs_cameras *c, int *cap, const char *name, gs_camera **slot) {
    if (c->n >= GS_MAX_CAMERAS)
        return gs_error(GS_ERR_FORMAT, "%s: more than %d cameras", name, GS_MAX_CAMERAS);
    if (c->n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        if (nc > GS_MAX_CAMERAS) nc = GS_MAX_CAMERAS;
        gs_camera *p = gs_malloc((size_t)nc, sizeof *p, name);
        if (!p) return GS_ERR_NOMEM;
        if (c->n) memcpy(p, c->cams, (size_t)c->n * sizeof *p);
        free(c->cams);
        c->cams = p;
        *cap = nc;
    }
    *slot = &c->cams[c->n++];
    memset(*slot, 0, sizeof **slot);
    return GS_OK;
}

gs_status gs_colmap_cameras_txt_mem(const char *text, size_t size, const char *name, gs_cameras *out) {
    memset(out, 0, sizeof *out);
    if (!name) name = "cameras.txt";
    txt t = {text, text + size, 0};
    const char *ls, *le;
    int cap = 0;
    gs_status st = GS_OK;
    while (next_line(&t, &ls, &le)) {
        if (blank_or_comment(ls, le)) continue;
        const char *s = ls, *ts;
        size_t tl;
        int64_t id, w, h;
        gs_camera *c;
        if ((st = push_cam(out, &cap, name, &c))) goto fail;
        if (!next_tok(&s, le, &ts, &tl) || !tok_i64(ts, tl, &id) || id < 0 || id > UINT32_MAX) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: expected a camera id", name, t.line);
            goto fail;
        }
        if (!next_tok(&s, le, &ts, &tl)) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: missing the camera model", name, t.line);
            goto fail;
        }
        const colmap_model *m = model_by_name(ts, tl);
        if (!m) {
            st = gs_error(tl == 15 && !memcmp(ts, "EQUIRECTANGULAR", 15) ? GS_ERR_UNSUPPORTED : GS_ERR_FORMAT,
                          "%s:%d: unknown or unsupported camera model '%.*s'", name, t.line, (int)(tl > 40 ? 40 : tl),
                          ts);
            goto fail;
        }
        if (!next_tok(&s, le, &ts, &tl) || !tok_i64(ts, tl, &w) || !next_tok(&s, le, &ts, &tl) ||
            !tok_i64(ts, tl, &h)) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: expected integer width and height", name, t.line);
            goto fail;
        }
        double p[16];
        int np = 0;
        while (next_tok(&s, le, &ts, &tl)) {
            if (np == m->nparams) {
                st = gs_error(GS_ERR_FORMAT, "%s:%d: %s takes %d parameters, the line has more", name, t.line, m->name,
                              m->nparams);
                goto fail;
            }
            if (!tok_f64(ts, tl, &p[np])) {
                st = gs_error(GS_ERR_FORMAT, "%s:%d: parameter %d '%.*s' is not a finite number", name, t.line, np,
                              (int)(tl > 40 ? 40 : tl), ts);
                goto fail;
            }
            np++;
        }
        if (np != m->nparams) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: %s takes %d parameters, got %d", name, t.line, m->name, m->nparams, np);
            goto fail;
        }
        c->width = w < 0 || w > 65536 ? -1 : (int)w;
        c->height = h < 0 || h > 65536 ? -1 : (int)h;
        c->camera_id = id;
        set_intrinsics(c, m, p);
        identity_pose(c);
        char where[600];
        snprintf(where, sizeof where, "%s:%d", name, t.line);
        if ((st = gs_camera_validate(c, where, out->n - 1))) goto fail;
    }
    if (out->n == 0) {
        st = gs_error(GS_ERR_FORMAT, "%s: no cameras", name);
        goto fail;
    }
    id_index *ix;
    if ((st = build_index(out, name, &ix))) goto fail;
    free(ix);
    return GS_OK;
fail:
    gs_cameras_free(out);
    return st;
}

gs_status gs_colmap_images_txt_mem(const char *text, size_t size, const char *name,
                                   const gs_cameras *intrinsics, gs_cameras *out) {
    memset(out, 0, sizeof *out);
    if (!name) name = "images.txt";
    if (!intrinsics || intrinsics->n <= 0) return gs_error(GS_ERR_INVALID, "%s: no cameras to attach images to", name);
    id_index *ix;
    gs_status st = build_index(intrinsics, name, &ix);
    if (st) return st;
    txt t = {text, text + size, 0};
    const char *ls, *le;
    int cap = 0;
    while (next_line(&t, &ls, &le)) {
        if (blank_or_comment(ls, le)) continue;
        int line = t.line;
        const char *s = ls, *ts;
        size_t tl;
        int64_t id, cam_id;
        double v[7];
        if (!next_tok(&s, le, &ts, &tl) || !tok_i64(ts, tl, &id)) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: expected an image id", name, line);
            goto fail;
        }
        for (int k = 0; k < 7; k++)
            if (!next_tok(&s, le, &ts, &tl) || !tok_f64(ts, tl, &v[k])) {
                st = gs_error(GS_ERR_FORMAT, "%s:%d: expected QW QX QY QZ TX TY TZ as finite numbers (value %d)",
                              name, line, k);
                goto fail;
            }
        if (!next_tok(&s, le, &ts, &tl) || !tok_i64(ts, tl, &cam_id)) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: expected a camera id after the pose", name, line);
            goto fail;
        }
        if (!next_tok(&s, le, &ts, &tl)) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: missing the image name", name, line);
            goto fail;
        }
        const gs_camera *k = find_camera(intrinsics, ix, cam_id);
        if (!k) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: image %lld refers to camera id %lld, which cameras.txt lacks", name,
                          line, (long long)id, (long long)cam_id);
            goto fail;
        }
        gs_camera *c;
        if ((st = push_cam(out, &cap, name, &c))) goto fail;
        *c = *k;
        char where[600];
        snprintf(where, sizeof where, "%s:%d", name, line);
        if ((st = set_name(c, ts, tl, where, out->n - 1))) goto fail;
        if ((st = pose_from_qt(c, v, v + 4, where, out->n - 1))) goto fail;
        if ((st = gs_camera_validate(c, where, out->n - 1))) goto fail;
        /* the second line of each image lists its 2D points (possibly empty) */
        next_line(&t, &ls, &le);
    }
    free(ix);
    return GS_OK;
fail:
    free(ix);
    gs_cameras_free(out);
    return st;
}

/* ---- points ------------------------------------------------------------------ */

static int fits_float(double v) { return isfinite(v) && fabs(v) <= FLT_MAX; }

gs_status gs_colmap_points_bin_mem(const uint8_t *data, size_t size, const char *name, float **xyz, uint8_t **rgb,
                                   int64_t *n_out) {
    *xyz = NULL;
    *rgb = NULL;
    *n_out = 0;
    if (!name) name = "points3D.bin";
    rd r = {data, size};
    uint64_t n;
    if (!rd_u64(&r, &n)) return gs_error(GS_ERR_FORMAT, "%s: truncated: no point count", name);
    const size_t min_rec = 8 + 24 + 3 + 8 + 8;
    if (n > r.left / min_rec)
        return gs_error(GS_ERR_FORMAT, "%s: declares %llu points but only %zu bytes follow", name,
                        (unsigned long long)n, r.left);
    float *X = gs_malloc((size_t)(n ? n : 1), 3 * sizeof(float), name);
    uint8_t *C = gs_malloc((size_t)(n ? n : 1), 3, name);
    if (!X || !C) { free(X); free(C); return GS_ERR_NOMEM; }
    gs_status st;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id, track;
        double p[3], err;
        uint8_t c[3];
        if (!rd_u64(&r, &id) || !rd_f64(&r, p, 3) || !rd_bytes(&r, c, 3) || !rd_f64(&r, &err, 1) ||
            !rd_u64(&r, &track)) {
            st = gs_error(GS_ERR_FORMAT, "%s: truncated in point %llu", name, (unsigned long long)i);
            goto fail;
        }
        if (track > r.left / 8) {
            st = gs_error(GS_ERR_FORMAT, "%s: point %llu declares a track of %llu but only %zu bytes follow", name,
                          (unsigned long long)i, (unsigned long long)track, r.left);
            goto fail;
        }
        r.p += track * 8;
        r.left -= track * 8;
        for (int k = 0; k < 3; k++) {
            if (!fits_float(p[k])) {
                st = gs_error(GS_ERR_FORMAT, "%s: point %llu (id %llu): coordinate %d is not a finite float", name,
                              (unsigned long long)i, (unsigned long long)id, k);
                goto fail;
            }
            X[i * 3 + k] = (float)p[k];
            C[i * 3 + k] = c[k];
        }
    }
    if (r.left) {
        st = gs_error(GS_ERR_FORMAT, "%s: %zu unexpected bytes after the last point", name, r.left);
        goto fail;
    }
    *xyz = X;
    *rgb = C;
    *n_out = (int64_t)n;
    return GS_OK;
fail:
    free(X);
    free(C);
    return st;
}

gs_status gs_colmap_points_txt_mem(const char *text, size_t size, const char *name, float **xyz, uint8_t **rgb,
                                   int64_t *n_out) {
    *xyz = NULL;
    *rgb = NULL;
    *n_out = 0;
    if (!name) name = "points3D.txt";
    /* every point line holds at least 15 bytes ("i x y z r g b e"), which
     * bounds the count by the size before the arrays are sized */
    txt t = {text, text + size, 0};
    const char *ls, *le;
    size_t lines = 0;
    while (next_line(&t, &ls, &le))
        if (!blank_or_comment(ls, le)) lines++;
    float *X = gs_malloc(lines ? lines : 1, 3 * sizeof(float), name);
    uint8_t *C = gs_malloc(lines ? lines : 1, 3, name);
    if (!X || !C) { free(X); free(C); return GS_ERR_NOMEM; }
    t = (txt){text, text + size, 0};
    size_t n = 0;
    gs_status st;
    while (next_line(&t, &ls, &le)) {
        if (blank_or_comment(ls, le)) continue;
        const char *s = ls, *ts;
        size_t tl;
        int64_t id, c;
        double v;
        if (!next_tok(&s, le, &ts, &tl) || !tok_i64(ts, tl, &id)) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: expected a point id", name, t.line);
            goto fail;
        }
        for (int k = 0; k < 3; k++) {
            if (!next_tok(&s, le, &ts, &tl) || !tok_f64(ts, tl, &v) || !fits_float(v)) {
                st = gs_error(GS_ERR_FORMAT, "%s:%d: coordinate %d is missing or not a finite float", name, t.line, k);
                goto fail;
            }
            X[n * 3 + k] = (float)v;
        }
        for (int k = 0; k < 3; k++) {
            if (!next_tok(&s, le, &ts, &tl) || !tok_i64(ts, tl, &c) || c < 0 || c > 255) {
                st = gs_error(GS_ERR_FORMAT, "%s:%d: colour %d is missing or not in 0..255", name, t.line, k);
                goto fail;
            }
            C[n * 3 + k] = (uint8_t)c;
        }
        if (!next_tok(&s, le, &ts, &tl) || !tok_f64(ts, tl, &v)) {
            st = gs_error(GS_ERR_FORMAT, "%s:%d: missing the reprojection error", name, t.line);
            goto fail;
        }
        n++;
    }
    *xyz = X;
    *rgb = C;
    *n_out = (int64_t)n;
    return GS_OK;
fail:
    free(X);
    free(C);
    return st;
}

gs_status gs_colmap_points_read(const char *path, float **xyz, uint8_t **rgb, int64_t *n) {
    *xyz = NULL;
    *rgb = NULL;
    *n = 0;
    if (!path || !*path) return gs_error(GS_ERR_INVALID, "points path is empty");
    if (strlen(path) > 3000) return gs_error(GS_ERR_INVALID, "%.64s...: path too long", path);
    char p[4096];
    int binary;
    if (gs_is_dir(path)) {
        static const char *const cand[] = {"points3D.bin", "points3D.txt", "sparse/0/points3D.bin",
                                           "sparse/0/points3D.txt", "0/points3D.bin", "0/points3D.txt"};
        int found = 0;
        for (int k = 0; k < 6 && !found; k++) found = gs_file_exists(gs_path_join(p, sizeof p, path, cand[k]));
        if (!found) return gs_error(GS_ERR_NOT_FOUND, "%s: no points3D.bin or points3D.txt here or in sparse/0", path);
    } else {
        snprintf(p, sizeof p, "%s", path);
    }
    char ext[16];
    gs_path_ext(p, ext, sizeof ext);
    if (!strcmp(ext, ".bin")) binary = 1;
    else if (!strcmp(ext, ".txt")) binary = 0;
    else return gs_error(GS_ERR_UNSUPPORTED, "%s: expected COLMAP points3D.bin or points3D.txt", p);
    gs_mmap m;
    gs_status st = gs_mmap_open(&m, p);
    if (st) return st;
    st = binary ? gs_colmap_points_bin_mem(m.data, m.size, p, xyz, rgb, n)
                : gs_colmap_points_txt_mem((const char *)m.data, m.size, p, xyz, rgb, n);
    gs_mmap_close(&m);
    return st;
}

/* ---- writer ------------------------------------------------------------------ */

static gs_status write_text(const char *path, const char *buf, size_t len) {
    return gs_write_file_atomic(path, buf, len);
}

gs_status gs_cameras_write_colmap_text(const char *dir, const gs_cameras *c) {
    if (!dir || !c || c->n < 0 || (c->n > 0 && !c->cams)) return gs_error(GS_ERR_INVALID, "write COLMAP: bad arguments");
    if (strlen(dir) > 3000) return gs_error(GS_ERR_INVALID, "%.64s...: path too long", dir);
    int posed = 0;
    for (int i = 0; i < c->n; i++) {
        gs_status st = gs_camera_validate(&c->cams[i], dir, i);
        if (st) return st;
        for (const char *s = c->cams[i].name; *s; s++)
            if ((unsigned char)*s <= ' ')
                return gs_error(GS_ERR_INVALID, "%s: camera %d: name '%s' has whitespace, which COLMAP text cannot hold",
                                dir, i, c->cams[i].name);
        posed += c->cams[i].has_pose != 0;
    }
    gs_status st = gs_mkdirs(dir);
    if (st) return st;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return gs_error(GS_ERR_NOMEM, "%s: out of memory", dir);
    fprintf(f, "# Camera list with one line of data per camera:\n#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
               "# Number of cameras: %d\n", c->n);
    for (int i = 0; i < c->n; i++) {
        const gs_camera *k = &c->cams[i];
        fprintf(f, "%d PINHOLE %d %d %.17g %.17g %.17g %.17g\n", i + 1, k->width, k->height, k->fx, k->fy, k->cx, k->cy);
    }
    if (fclose(f) || !buf) { free(buf); return gs_error(GS_ERR_NOMEM, "%s: out of memory", dir); }
    char p[4096];
    st = write_text(gs_path_join(p, sizeof p, dir, "cameras.txt"), buf, len);
    free(buf);
    if (st) return st;

    /* cameras without a pose stay intrinsics-only: they get no image line */
    f = open_memstream(&buf, &len);
    if (!f) return gs_error(GS_ERR_NOMEM, "%s: out of memory", dir);
    fprintf(f, "# Image list with two lines of data per image:\n#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n"
               "#   POINTS2D[] as (X, Y, POINT3D_ID)\n# Number of images: %d, mean observations per image: 0\n", posed);
    for (int i = 0; i < c->n; i++) {
        const gs_camera *k = &c->cams[i];
        if (!k->has_pose) continue;
        double q[4];
        gs_rotmat_to_quat(k->R, q);
        char nm[300];
        if (k->name[0]) snprintf(nm, sizeof nm, "%s", k->name);
        else snprintf(nm, sizeof nm, "camera_%05d", i);
        fprintf(f, "%d %.17g %.17g %.17g %.17g %.17g %.17g %.17g %d %s\n\n", i + 1, q[0], q[1], q[2], q[3], k->t[0],
                k->t[1], k->t[2], i + 1, nm);
    }
    if (fclose(f) || !buf) { free(buf); return gs_error(GS_ERR_NOMEM, "%s: out of memory", dir); }
    st = write_text(gs_path_join(p, sizeof p, dir, "images.txt"), buf, len);
    free(buf);
    if (st) return st;
    static const char pts[] = "# 3D point list with one line of data per point:\n"
                              "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
                              "# Number of points: 0, mean track length: 0\n";
    return write_text(gs_path_join(p, sizeof p, dir, "points3D.txt"), pts, sizeof pts - 1);
}
