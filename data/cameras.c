/* cameras.c - the LLFF poses_bounds.npy reader and gs_cameras_read, which
 * finds the format of a path and dispatches. JSON formats live in
 * camera_json.c, COLMAP models in colmap.c; the camera type itself in
 * camera.c.
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
