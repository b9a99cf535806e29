/* cameras.c - the camera type's geometry (projection, camera-to-world,
 * quaternions), validation, the LLFF poses_bounds.npy reader and
 * gs_cameras_read, which finds the format of a path and dispatches.
 * JSON formats live in camera_json.c, COLMAP models in colmap.c.
 *
 * LLFF poses_bounds.npy: float64 (N, 17); per row a row-major 3x5 matrix
 * [c0 c1 c2 | centre | (H, W, f)] whose rotation columns are the camera's
 * down, right and back axes in world coordinates, then near and far. NeRF
 * turns it into an OpenGL camera-to-world [c1, -c0, c2]; flipping the OpenGL
 * y and z axes gives the OpenCV camera-to-world [c1, c0, -c2], which is what
 * we invert. H, W and f are for the full-resolution photos; the reader
 * divides them by the downsampling factor of the images actually used, and
 * puts the principal point at the image centre as NeRF does. */
#include "data/cameras.h"
#include "data/npy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *gs_camera_format_name(gs_camera_format f) {
    switch (f) {
    case GS_CAM_GS_JSON: return "gs-cameras JSON";
    case GS_CAM_TRANSFORMS: return "NeRF/nerfstudio transforms.json";
    case GS_CAM_INRIA_JSON: return "INRIA cameras.json";
    case GS_CAM_COLMAP_TEXT: return "COLMAP text model";
    case GS_CAM_COLMAP_BIN: return "COLMAP binary model";
    case GS_CAM_LLFF: return "LLFF poses_bounds.npy";
    default: return "unknown";
    }
}

void gs_cameras_free(gs_cameras *c) {
    if (!c) return;
    free(c->cams);
    c->cams = NULL;
    c->n = 0;
}

/* ---- geometry ------------------------------------------------------------- */

void gs_camera_center(const gs_camera *c, double C[3]) {
    const double *R = c->R, *t = c->t;
    for (int i = 0; i < 3; i++) C[i] = -(R[0 * 3 + i] * t[0] + R[1 * 3 + i] * t[1] + R[2 * 3 + i] * t[2]);
}

int gs_camera_project(const gs_camera *c, const double X[3], double uv[2], double *depth) {
    const double *R = c->R;
    double x = R[0] * X[0] + R[1] * X[1] + R[2] * X[2] + c->t[0];
    double y = R[3] * X[0] + R[4] * X[1] + R[5] * X[2] + c->t[1];
    double z = R[6] * X[0] + R[7] * X[1] + R[8] * X[2] + c->t[2];
    if (depth) *depth = z;
    if (!(z > 0)) return 0;
    uv[0] = c->fx * x / z + c->cx;
    uv[1] = c->fy * y / z + c->cy;
    return 1;
}

void gs_camera_set_c2w(gs_camera *c, const double c2w[16]) {
    /* R = Rc^T, t = -R C: the transpose rather than a general inverse keeps
     * the camera centre exactly the one given. */
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) c->R[i * 3 + j] = c2w[j * 4 + i];
    const double C[3] = {c2w[3], c2w[7], c2w[11]};
    for (int i = 0; i < 3; i++) c->t[i] = -(c->R[i * 3] * C[0] + c->R[i * 3 + 1] * C[1] + c->R[i * 3 + 2] * C[2]);
}

void gs_camera_get_c2w(const gs_camera *c, double c2w[16]) {
    double C[3];
    gs_camera_center(c, C);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) c2w[i * 4 + j] = c->R[j * 3 + i];
        c2w[i * 4 + 3] = C[i];
    }
    c2w[12] = c2w[13] = c2w[14] = 0;
    c2w[15] = 1;
}

void gs_quat_to_rotmat(const double q[4], double R[9]) {
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (!(n > 0) || !isfinite(n)) {
        static const double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
        memcpy(R, I, sizeof I);
        return;
    }
    double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    R[0] = 1 - 2 * (y * y + z * z);
    R[1] = 2 * (x * y - w * z);
    R[2] = 2 * (x * z + w * y);
    R[3] = 2 * (x * y + w * z);
    R[4] = 1 - 2 * (x * x + z * z);
    R[5] = 2 * (y * z - w * x);
    R[6] = 2 * (x * z - w * y);
    R[7] = 2 * (y * z + w * x);
    R[8] = 1 - 2 * (x * x + y * y);
}

void gs_rotmat_to_quat(const double R[9], double q[4]) {
    /* Shepperd: divide by the largest of 4w^2, 4x^2, 4y^2, 4z^2 so that no
     * branch loses precision, including 180-degree rotations (w = 0). */
    double tr = R[0] + R[4] + R[8];
    double w, x, y, z;
    if (tr > R[0] && tr > R[4] && tr > R[8]) {
        double s = 2 * sqrt(1 + tr);
        w = s / 4;
        x = (R[7] - R[5]) / s;
        y = (R[2] - R[6]) / s;
        z = (R[3] - R[1]) / s;
    } else if (R[0] >= R[4] && R[0] >= R[8]) {
        double s = 2 * sqrt(fmax(1 + R[0] - R[4] - R[8], 0));
        w = (R[7] - R[5]) / s;
        x = s / 4;
        y = (R[1] + R[3]) / s;
        z = (R[2] + R[6]) / s;
    } else if (R[4] >= R[8]) {
        double s = 2 * sqrt(fmax(1 + R[4] - R[0] - R[8], 0));
        w = (R[2] - R[6]) / s;
        x = (R[1] + R[3]) / s;
        y = s / 4;
        z = (R[5] + R[7]) / s;
    } else {
        double s = 2 * sqrt(fmax(1 + R[8] - R[0] - R[4], 0));
        w = (R[3] - R[1]) / s;
        x = (R[2] + R[6]) / s;
        y = (R[5] + R[7]) / s;
        z = s / 4;
    }
    double n = sqrt(w * w + x * x + y * y + z * z);
    if (!(n > 0) || !isfinite(n)) { q[0] = 1; q[1] = q[2] = q[3] = 0; return; }
    if (w < 0) n = -n; /* canonical sign: w >= 0 */
    q[0] = w / n;
    q[1] = x / n;
    q[2] = y / n;
    q[3] = z / n;
}

/* ---- validation ------------------------------------------------------------- */

gs_status gs_camera_validate(const gs_camera *c, const char *what, int index) {
    if (!what) what = "cameras";
    const char *nm = c->name[0] ? c->name : "";
    const char *sep = c->name[0] ? " " : "";
    if (c->width <= 0 || c->height <= 0 || c->width > 65536 || c->height > 65536)
        return gs_error(GS_ERR_FORMAT, "%s: camera %d%s%s: image size %dx%d out of range (1..65536)", what, index, sep,
                        nm, c->width, c->height);
    if (!isfinite(c->fx) || !isfinite(c->fy) || !(c->fx > 0) || !(c->fy > 0))
        return gs_error(GS_ERR_FORMAT, "%s: camera %d%s%s: focal length fx=%g fy=%g must be finite and > 0", what, index,
                        sep, nm, c->fx, c->fy);
    if (!isfinite(c->cx) || !isfinite(c->cy))
        return gs_error(GS_ERR_FORMAT, "%s: camera %d%s%s: principal point is not finite", what, index, sep, nm);
    for (int i = 0; i < 9; i++)
        if (!isfinite(c->R[i]))
            return gs_error(GS_ERR_FORMAT, "%s: camera %d%s%s: rotation has a non-finite value", what, index, sep, nm);
    for (int i = 0; i < 3; i++)
        if (!isfinite(c->t[i]))
            return gs_error(GS_ERR_FORMAT, "%s: camera %d%s%s: translation has a non-finite value", what, index, sep, nm);
    if (!isfinite(c->near_) || !isfinite(c->far_))
        return gs_error(GS_ERR_FORMAT, "%s: camera %d%s%s: near/far bounds are not finite", what, index, sep, nm);
    double err = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double d = c->R[i * 3] * c->R[j * 3] + c->R[i * 3 + 1] * c->R[j * 3 + 1] + c->R[i * 3 + 2] * c->R[j * 3 + 2];
            err = fmax(err, fabs(d - (i == j)));
        }
    if (err > 1e-4)
        return gs_error(GS_ERR_FORMAT, "%s: camera %d%s%s: rotation is not orthonormal (|R R^T - I| = %.3g > 1e-4)", what,
                        index, sep, nm, err);
    const double *R = c->R;
    double det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) +
                 R[2] * (R[3] * R[7] - R[4] * R[6]);
    if (det < 0)
        return gs_error(GS_ERR_FORMAT, "%s: camera %d%s%s: rotation is a reflection (det = %.6g)", what, index, sep, nm,
                        det);
    return GS_OK;
}

/* ---- LLFF ---------------------------------------------------------------------- */

gs_status gs_cameras_read_llff_mem(const uint8_t *data, size_t size, const char *name, double factor,
                                   gs_cameras *out) {
    memset(out, 0, sizeof *out);
    if (!name) name = "poses_bounds.npy";
    if (factor == 0) factor = 1;
    if (!isfinite(factor) || !(factor > 0))
        return gs_error(GS_ERR_INVALID, "%s: LLFF downsampling factor %g must be > 0", name, factor);
    gs_tensor t;
    gs_status st = gs_npy_read_mem(data, size, name, &t);
    if (st) return st;
    if (t.ndim != 2 || t.shape[1] != 17 || (t.dtype != GS_F64 && t.dtype != GS_F32)) {
        st = gs_error(GS_ERR_FORMAT, "%s: expected a float array of shape (N, 17) (LLFF poses_bounds), got %s with %d dims",
                      name, gs_dtype_name(t.dtype), t.ndim);
        gs_tensor_free(&t);
        return st;
    }
    int64_t n = t.shape[0];
    if (n < 1 || n > GS_MAX_CAMERAS) {
        gs_tensor_free(&t);
        return gs_error(GS_ERR_FORMAT, "%s: %lld cameras (expected 1..%d)", name, (long long)n, GS_MAX_CAMERAS);
    }
    gs_camera *cams = gs_calloc((size_t)n, sizeof *cams, name);
    if (!cams) { gs_tensor_free(&t); return GS_ERR_NOMEM; }
    for (int64_t i = 0; i < n; i++) {
        double r[17];
        for (int k = 0; k < 17; k++)
            r[k] = t.dtype == GS_F64 ? ((const double *)t.data)[i * 17 + k] : ((const float *)t.data)[i * 17 + k];
        for (int k = 0; k < 17; k++)
            if (!isfinite(r[k])) {
                st = gs_error(GS_ERR_FORMAT, "%s: camera %lld: value %d is not finite", name, (long long)i, k);
                goto fail;
            }
        /* element (row, col) of the 3x5 matrix is r[row * 5 + col] */
        double H = r[4] / factor, W = r[9] / factor, f = r[14] / factor;
        if (!(H >= 0.5 && W >= 0.5 && H <= 65536 && W <= 65536)) {
            st = gs_error(GS_ERR_FORMAT, "%s: camera %lld: image size %gx%g (after factor %g) out of range", name,
                          (long long)i, W, H, factor);
            goto fail;
        }
        gs_camera *c = &cams[i];
        double c2w[16] = {0};
        for (int row = 0; row < 3; row++) {
            c2w[row * 4 + 0] = r[row * 5 + 1];  /* x (right) = LLFF column 1 */
            c2w[row * 4 + 1] = r[row * 5 + 0];  /* y (down)  = LLFF column 0 */
            c2w[row * 4 + 2] = -r[row * 5 + 2]; /* z (forward) = -back */
            c2w[row * 4 + 3] = r[row * 5 + 3];
        }
        c2w[15] = 1;
        gs_camera_set_c2w(c, c2w);
        c->width = (int)lround(W);
        c->height = (int)lround(H);
        c->fx = c->fy = f;
        c->cx = c->width * 0.5;
        c->cy = c->height * 0.5;
        c->near_ = r[15];
        c->far_ = r[16];
        c->has_pose = 1;
        if ((st = gs_camera_validate(c, name, (int)i))) goto fail;
        if (!(c->near_ >= 0 && c->far_ >= c->near_)) {
            st = gs_error(GS_ERR_FORMAT, "%s: camera %lld: bounds near=%g far=%g (need 0 <= near <= far)", name,
                          (long long)i, c->near_, c->far_);
            goto fail;
        }
    }
    gs_tensor_free(&t);
    out->cams = cams;
    out->n = (int)n;
    return GS_OK;
fail:
    gs_tensor_free(&t);
    free(cams);
    return st;
}

/* ---- dispatch --------------------------------------------------------------------- */

/* COLMAP files can be large (images.txt/.bin hold every keypoint): map them
 * rather than copy. */
static gs_status colmap_pair(const char *dir, const char *cam_file, const char *img_file, int binary,
                             gs_cameras *out) {
    char cp[4096], ip[4096];
    gs_path_join(cp, sizeof cp, dir, cam_file);
    gs_path_join(ip, sizeof ip, dir, img_file);
    gs_mmap m;
    gs_status st = gs_mmap_open(&m, cp);
    if (st) return st;
    gs_cameras intr;
    st = binary ? gs_colmap_cameras_bin_mem(m.data, m.size, cp, &intr)
                : gs_colmap_cameras_txt_mem((const char *)m.data, m.size, cp, &intr);
    gs_mmap_close(&m);
    if (st) return st;
    if (!gs_file_exists(ip)) { /* intrinsics only (e.g. LLFF's fern ships no images.bin) */
        *out = intr;
        return GS_OK;
    }
    st = gs_mmap_open(&m, ip);
    if (st) { gs_cameras_free(&intr); return st; }
    st = binary ? gs_colmap_images_bin_mem(m.data, m.size, ip, &intr, out)
                : gs_colmap_images_txt_mem((const char *)m.data, m.size, ip, &intr, out);
    gs_mmap_close(&m);
    if (st == GS_OK && out->n == 0) { /* a model with no registered image: keep the intrinsics */
        gs_cameras_free(out);
        *out = intr;
        return GS_OK;
    }
    gs_cameras_free(&intr);
    return st;
}

static int has_model(const char *dir) {
    char p[4096];
    return gs_file_exists(gs_path_join(p, sizeof p, dir, "cameras.bin")) ||
           gs_file_exists(gs_path_join(p, sizeof p, dir, "cameras.txt"));
}

static gs_status read_colmap_dir(const char *dir, gs_cameras *out, gs_camera_format *fmt) {
    char model[4096];
    if (strlen(dir) > 3000) return gs_error(GS_ERR_INVALID, "%s: path too long", dir);
    static const char *const where[] = {"", "sparse/0", "0"};
    int found = 0;
    for (int k = 0; k < 3 && !found; k++) {
        if (k == 0) snprintf(model, sizeof model, "%s", dir);
        else gs_path_join(model, sizeof model, dir, where[k]);
        found = has_model(model);
    }
    if (!found)
        return gs_error(GS_ERR_NOT_FOUND,
                        "%s: no COLMAP model here (looked for cameras.bin / cameras.txt in it, in sparse/0 and in 0)", dir);
    char p[4096];
    int binary = gs_file_exists(gs_path_join(p, sizeof p, model, "cameras.bin"));
    if (fmt) *fmt = binary ? GS_CAM_COLMAP_BIN : GS_CAM_COLMAP_TEXT;
    return binary ? colmap_pair(model, "cameras.bin", "images.bin", 1, out)
                  : colmap_pair(model, "cameras.txt", "images.txt", 0, out);
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

gs_status gs_cameras_read(const char *path, const gs_camera_read_opts *opts, gs_cameras *out,
                          gs_camera_format *fmt_out) {
    memset(out, 0, sizeof *out);
    gs_camera_format fmt = GS_CAM_UNKNOWN;
    if (fmt_out) *fmt_out = fmt;
    if (!path || !*path) return gs_error(GS_ERR_INVALID, "camera path is empty");
    if (strlen(path) > 3000) return gs_error(GS_ERR_INVALID, "%.64s...: path too long", path);
    gs_status st;
    char ext[16];
    gs_path_ext(path, ext, sizeof ext);
    const char *bn = base_name(path);
    if (gs_is_dir(path)) {
        st = read_colmap_dir(path, out, &fmt);
    } else if (!strcmp(ext, ".npy")) {
        uint8_t *d;
        size_t n;
        if ((st = gs_read_file(path, (size_t)1 << 30, &d, &n))) return st;
        st = gs_cameras_read_llff_mem(d, n, path, opts ? opts->llff_factor : 1, out);
        free(d);
        fmt = GS_CAM_LLFF;
    } else if (!strcmp(ext, ".json")) {
        uint8_t *d;
        size_t n;
        if ((st = gs_read_file(path, (size_t)1 << 30, &d, &n))) return st;
        char dir[4096];
        size_t k = (size_t)(bn - path);
        if (k == 0) snprintf(dir, sizeof dir, ".");
        else snprintf(dir, sizeof dir, "%.*s", (int)k, path);
        st = gs_cameras_read_json_mem((const char *)d, n, path, dir, out, &fmt);
        free(d);
    } else if (!strcasecmp(bn, "cameras.txt") || !strcasecmp(bn, "images.txt") || !strcasecmp(bn, "points3D.txt") ||
               !strcasecmp(bn, "cameras.bin") || !strcasecmp(bn, "images.bin") || !strcasecmp(bn, "points3D.bin")) {
        if (!gs_file_exists(path)) return gs_error(GS_ERR_IO, "%s: no such file", path);
        char dir[4096];
        size_t k = (size_t)(bn - path);
        if (k == 0) snprintf(dir, sizeof dir, ".");
        else snprintf(dir, sizeof dir, "%.*s", (int)k, path);
        st = read_colmap_dir(dir, out, &fmt);
    } else if (!gs_file_exists(path)) {
        return gs_error(GS_ERR_IO, "%s: no such file or directory", path);
    } else {
        return gs_error(GS_ERR_UNSUPPORTED,
                        "%s: unknown camera file (expected a COLMAP model folder, cameras.{txt,bin}, a .json camera "
                        "file or LLFF poses_bounds.npy)",
                        path);
    }
    if (st) { gs_cameras_free(out); return st; }
    if (fmt_out) *fmt_out = fmt;
    return GS_OK;
}

gs_status gs_cameras_match_images(const gs_cameras *c, const char *const *images, const int *widths,
                                  const int *heights, int n, float *w2c, float *K, const char *file) {
    for (int i = 0; i < n; i++) {
        char si[256], sj[256];
        gs_path_stem(images[i], si, sizeof si);
        int f = -1;
        for (int j = 0; j < c->n && f < 0; j++) {
            gs_path_stem(c->cams[j].name, sj, sizeof sj);
            if (c->cams[j].name[0] && !strcmp(si, sj)) f = j;
        }
        if (f < 0 && c->n == n) f = i;
        if (f < 0)
            return gs_error(GS_ERR_INVALID, "%s: no camera for image %s (%d cameras, %d images; names must match)",
                            file, images[i], c->n, n);
        const gs_camera *cam = &c->cams[f];
        if (!cam->has_pose) return gs_error(GS_ERR_INVALID, "%s: camera %s has no pose", file, cam->name);
        gs_camera_to_w2c_K(cam, w2c + 16 * i, K + 9 * i);
        /* intrinsics in pixels of the image as loaded */
        double sx = cam->width > 0 ? (double)widths[i] / cam->width : 1.0;
        double sy = cam->height > 0 ? (double)heights[i] / cam->height : 1.0;
        float *k = K + 9 * i;
        k[0] = (float)(cam->fx * sx);
        k[2] = (float)(cam->cx * sx);
        k[4] = (float)(cam->fy * sy);
        k[5] = (float)(cam->cy * sy);
    }
    return GS_OK;
}

void gs_camera_to_w2c_K(const gs_camera *c, float w2c[16], float K[9]) {
    memset(w2c, 0, 16 * sizeof *w2c);
    memset(K, 0, 9 * sizeof *K);
    for (int r = 0; r < 3; r++) {
        for (int q = 0; q < 3; q++) w2c[4 * r + q] = (float)c->R[3 * r + q];
        w2c[4 * r + 3] = (float)c->t[r];
    }
    w2c[15] = 1.0f;
    K[0] = (float)c->fx;
    K[2] = (float)c->cx;
    K[4] = (float)c->fy;
    K[5] = (float)c->cy;
    K[8] = 1.0f;
}

void gs_camera_from_w2c_K(gs_camera *c, const float *w2c, const float *K, int width, int height) {
    memset(c, 0, sizeof *c);
    for (int r = 0; r < 3; r++) {
        for (int q = 0; q < 3; q++) c->R[3 * r + q] = w2c[4 * r + q];
        c->t[r] = w2c[4 * r + 3];
    }
    c->fx = K[0];
    c->fy = K[4];
    c->cx = K[2];
    c->cy = K[5];
    c->width = width;
    c->height = height;
    c->has_pose = 1;
}
