/* camera_json.c - camera files in JSON: our own "gs-cameras" format (read and
 * write), NeRF / nerfstudio transforms.json and INRIA cameras.json (read).
 * The kind is found from the content.
 *
 * gs-cameras (version 1), written by gs_cameras_write_json:
 *   {"format": "gs-cameras", "version": 1,
 *    "convention": "opencv world-to-camera; x_cam = R x_world + t; pixel centres at +0.5",
 *    "cameras": [{"name": "r_0.png", "width": 800, "height": 800,
 *                 "fx": .., "fy": .., "cx": .., "cy": ..,
 *                 "R": [[..], [..], [..]], "t": [.., .., ..]}, ...]}
 *   The pose may instead be given as "w2c" (3x4 or 4x4 rows, OpenCV
 *   world-to-camera) or "c2w" (3x4 or 4x4 rows, OpenCV camera-to-world),
 *   exactly one of the three. A camera without any pose is intrinsics-only
 *   (has_pose = 0), and the writer omits the pose of such cameras. Optional
 *   "near" and "far" carry scene bounds (written when non-zero). "name" is
 *   optional. Numbers are written with %.17g, so a round trip is exact.
 *   Readers require finite numbers, integer 1 <= width, height <= 65536,
 *   fx, fy > 0 and R orthonormal within 1e-4.
 *
 * transforms.json (NeRF synthetic, instant-ngp, nerfstudio): frames[] with
 *   file_path and transform_matrix = camera-to-world in OpenGL axes (x right,
 *   y up, z back); negating the rotation's columns 1 and 2 gives OpenCV.
 *   Intrinsics fl_x, fl_y, cx, cy, w, h per frame or at the top level (frame
 *   first), else camera_angle_x / camera_angle_y (fx = 0.5 W / tan(angle/2);
 *   fy = fx when only x is given) with cx = W/2, cy = H/2. When w/h are absent
 *   (NeRF synthetic) the size comes from the first frame's image, found
 *   relative to the JSON's folder, trying the path as given, then with .png
 *   and .jpg (NeRF synthetic paths lack the extension). Distortion (k1..k4,
 *   p1, p2) and fisheye camera_model values are accepted but ignored: nothing
 *   downstream undistorts, so such datasets should be undistorted first.
 *   nerfstudio's applied_transform is ignored too; the frames' poses are used
 *   as stored. name = file_path.
 *
 * INRIA cameras.json (written by 3DGS training): an array of {id, img_name,
 *   width, height, position, rotation, fx, fy}; rotation is the 3x3
 *   camera-to-world rotation (OpenCV axes) and position the camera centre;
 *   the principal point is the image centre. */
#include "data/cameras.h"
#include "data/image.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GS_JSON_CONVENTION "opencv world-to-camera; x_cam = R x_world + t; pixel centres at +0.5"

/* ---- value helpers -------------------------------------------------------------- */

/* 1: found and stored; 0: absent; -1: present but not a finite number (error set) */
static int get_num(const cJSON *o, const char *key, double *v, const char *file, const char *what, int index) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) {
        gs_error(GS_ERR_FORMAT, "%s: %s %d: \"%s\" is not a finite number", file, what, index, key);
        return -1;
    }
    *v = it->valuedouble;
    return 1;
}

static gs_status need_num(const cJSON *o, const char *key, double *v, const char *file, const char *what, int index) {
    int r = get_num(o, key, v, file, what, index);
    if (r < 0) return GS_ERR_FORMAT;
    if (r == 0) return gs_error(GS_ERR_FORMAT, "%s: %s %d: missing \"%s\"", file, what, index, key);
    return GS_OK;
}

/* An image dimension: an integer in 1..65536. */
static gs_status to_dim(double v, int *out, const char *key, const char *file, const char *what, int index) {
    if (!(v >= 1 && v <= 65536) || v != floor(v))
        return gs_error(GS_ERR_FORMAT, "%s: %s %d: \"%s\" = %g is not an integer in 1..65536", file, what, index, key, v);
    *out = (int)v;
    return GS_OK;
}

/* Fill m (row-major, ncols columns) from an array of `rows` arrays of `cols`
 * numbers; rows_alt is another accepted row count (e.g. 3x4 or 4x4). */
static gs_status get_matrix(const cJSON *it, int rows, int rows_alt, int cols, double *m, const char *key,
                            const char *file, const char *what, int index) {
    int nr = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : -1;
    if (nr != rows && nr != rows_alt) {
        char cnt[32];
        if (rows_alt != rows) snprintf(cnt, sizeof cnt, "%d or %d", rows, rows_alt);
        else snprintf(cnt, sizeof cnt, "%d", rows);
        return gs_error(GS_ERR_FORMAT, "%s: %s %d: \"%s\" must be an array of %s rows", file, what, index, key, cnt);
    }
    int r = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, it) {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != cols)
            return gs_error(GS_ERR_FORMAT, "%s: %s %d: \"%s\" row %d must be an array of %d numbers", file, what, index,
                            key, r, cols);
        int c = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, row) {
            if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
                return gs_error(GS_ERR_FORMAT, "%s: %s %d: \"%s\"[%d][%d] is not a finite number", file, what, index,
                                key, r, c);
            if (r < rows) m[r * cols + c] = x->valuedouble;
            c++;
        }
        r++;
    }
    return GS_OK;
}

static gs_status get_vector(const cJSON *it, int n, double *v, const char *key, const char *file, const char *what,
                            int index) {
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != n)
        return gs_error(GS_ERR_FORMAT, "%s: %s %d: \"%s\" must be an array of %d numbers", file, what, index, key, n);
    int k = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, it) {
        if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
            return gs_error(GS_ERR_FORMAT, "%s: %s %d: \"%s\"[%d] is not a finite number", file, what, index, key, k);
        v[k++] = x->valuedouble;
    }
    return GS_OK;
}

static gs_status set_name(gs_camera *c, const char *s, const char *file, const char *what, int index) {
    size_t n = strlen(s);
    if (n >= sizeof c->name)
        return gs_error(GS_ERR_FORMAT, "%s: %s %d: name is %zu bytes (limit %zu)", file, what, index, n,
                        sizeof c->name - 1);
    memcpy(c->name, s, n + 1);
    return GS_OK;
}

static void identity_pose(gs_camera *c) {
    memset(c->R, 0, sizeof c->R);
    c->R[0] = c->R[4] = c->R[8] = 1;
    memset(c->t, 0, sizeof c->t);
}

/* Replace the rotation block of a camera-to-world matrix by the nearest
 * rotation (polar decomposition, Newton X <- (X + X^-T) / 2) when it is
 * already close: float32 files are orthonormal only to ~1e-7, which would
 * otherwise make R^T differ from R^-1 and a quaternion round trip move
 * pixels. Far-off matrices are left for validation to reject. */
static void orthonormalize_c2w(double m[16]) {
    double X[9];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) X[i * 3 + j] = m[i * 4 + j];
    double err = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            err = fmax(err, fabs(X[i] * X[j] + X[3 + i] * X[3 + j] + X[6 + i] * X[6 + j] - (i == j)));
    if (!(err < 1e-4)) return;
    for (int it = 0; it < 8 && err > 0; it++) {
        /* X^-T = cofactor(X) / det(X) */
        double cof[9] = {X[4] * X[8] - X[5] * X[7], X[5] * X[6] - X[3] * X[8], X[3] * X[7] - X[4] * X[6],
                         X[2] * X[7] - X[1] * X[8], X[0] * X[8] - X[2] * X[6], X[1] * X[6] - X[0] * X[7],
                         X[1] * X[5] - X[2] * X[4], X[2] * X[3] - X[0] * X[5], X[0] * X[4] - X[1] * X[3]};
        double det = X[0] * cof[0] + X[1] * cof[1] + X[2] * cof[2];
        if (!(fabs(det) > 0.5)) return;
        err = 0;
        for (int k = 0; k < 9; k++) {
            double nx = 0.5 * (X[k] + cof[k] / det);
            err = fmax(err, fabs(nx - X[k]));
            X[k] = nx;
        }
        if (err < 1e-16) break;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) m[i * 4 + j] = X[i * 3 + j];
}

static gs_status alloc_cams(int n, const char *file, gs_cameras *out) {
    if (n <= 0) return gs_error(GS_ERR_FORMAT, "%s: no cameras", file);
    if (n > GS_MAX_CAMERAS) return gs_error(GS_ERR_FORMAT, "%s: %d cameras is over the limit of %d", file, n, GS_MAX_CAMERAS);
    out->cams = gs_calloc((size_t)n, sizeof *out->cams, file);
    if (!out->cams) return GS_ERR_NOMEM;
    out->n = n;
    return GS_OK;
}

/* ---- gs-cameras ----------------------------------------------------------------- */

static gs_status read_gs(const cJSON *root, const char *file, gs_cameras *out) {
    double ver;
    int r = get_num(root, "version", &ver, file, "header", 0);
    if (r < 0) return GS_ERR_FORMAT;
    if (r == 0) return gs_error(GS_ERR_FORMAT, "%s: missing \"version\"", file);
    if (ver != 1) return gs_error(GS_ERR_UNSUPPORTED, "%s: gs-cameras version %g (supported: 1)", file, ver);
    const cJSON *conv = cJSON_GetObjectItemCaseSensitive(root, "convention");
    if (conv && !cJSON_IsString(conv)) return gs_error(GS_ERR_FORMAT, "%s: \"convention\" must be a string", file);
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "cameras");
    if (!cJSON_IsArray(arr)) return gs_error(GS_ERR_FORMAT, "%s: missing the \"cameras\" array", file);
    gs_status st = alloc_cams(cJSON_GetArraySize(arr), file, out);
    if (st) return st;
    int i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, arr) {
        gs_camera *c = &out->cams[i];
        const char *W = "camera";
        if (!cJSON_IsObject(o)) return gs_error(GS_ERR_FORMAT, "%s: camera %d is not an object", file, i);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (nm && !cJSON_IsString(nm)) return gs_error(GS_ERR_FORMAT, "%s: camera %d: \"name\" must be a string", file, i);
        if (nm && (st = set_name(c, nm->valuestring, file, W, i))) return st;
        double w, h;
        if ((st = need_num(o, "width", &w, file, W, i)) || (st = need_num(o, "height", &h, file, W, i)) ||
            (st = to_dim(w, &c->width, "width", file, W, i)) || (st = to_dim(h, &c->height, "height", file, W, i)) ||
            (st = need_num(o, "fx", &c->fx, file, W, i)) || (st = need_num(o, "fy", &c->fy, file, W, i)) ||
            (st = need_num(o, "cx", &c->cx, file, W, i)) || (st = need_num(o, "cy", &c->cy, file, W, i)))
            return st;
        if (get_num(o, "near", &c->near_, file, W, i) < 0 || get_num(o, "far", &c->far_, file, W, i) < 0)
            return GS_ERR_FORMAT;
        const cJSON *R = cJSON_GetObjectItemCaseSensitive(o, "R"), *t = cJSON_GetObjectItemCaseSensitive(o, "t");
        const cJSON *w2c = cJSON_GetObjectItemCaseSensitive(o, "w2c"), *c2w = cJSON_GetObjectItemCaseSensitive(o, "c2w");
        int kinds = (R || t) + (w2c != NULL) + (c2w != NULL);
        if (kinds > 1)
            return gs_error(GS_ERR_FORMAT, "%s: camera %d: give the pose once, as R/t, w2c or c2w", file, i);
        identity_pose(c);
        if (R || t) {
            if (!R || !t) return gs_error(GS_ERR_FORMAT, "%s: camera %d: \"R\" and \"t\" go together", file, i);
            if ((st = get_matrix(R, 3, 3, 3, c->R, "R", file, W, i)) || (st = get_vector(t, 3, c->t, "t", file, W, i)))
                return st;
            c->has_pose = 1;
        } else if (w2c) {
            double m[16] = {0};
            if ((st = get_matrix(w2c, 3, 4, 4, m, "w2c", file, W, i))) return st;
            for (int a = 0; a < 3; a++) {
                for (int b = 0; b < 3; b++) c->R[a * 3 + b] = m[a * 4 + b];
                c->t[a] = m[a * 4 + 3];
            }
            c->has_pose = 1;
        } else if (c2w) {
            double m[16] = {0};
            if ((st = get_matrix(c2w, 3, 4, 4, m, "c2w", file, W, i))) return st;
            gs_camera_set_c2w(c, m);
            c->has_pose = 1;
        }
        if ((st = gs_camera_validate(c, file, i))) return st;
        i++;
    }
    return GS_OK;
}

/* ---- transforms.json ---------------------------------------------------------- */

/* a per-frame value, else the top-level one: 1 found, 0 absent, -1 error */
static int frame_num(const cJSON *fr, const cJSON *root, const char *key, double *v, const char *file, int i) {
    int r = get_num(fr, key, v, file, "frame", i);
    if (r) return r;
    return get_num(root, key, v, file, "frame", i);
}

static gs_status image_size_from_file(const char *file, const char *base_dir, const char *rel, int *w, int *h) {
    if (!base_dir)
        return gs_error(GS_ERR_FORMAT, "%s: frame 0: no \"w\"/\"h\" in the file and no folder to find image '%s' in",
                        file, rel);
    static const char *const exts[] = {"", ".png", ".jpg"};
    char p[4096];
    for (int k = 0; k < 3; k++) {
        int n = rel[0] == '/' ? snprintf(p, sizeof p, "%s%s", rel, exts[k])
                              : snprintf(p, sizeof p, "%s/%s%s", base_dir, rel, exts[k]);
        if (n < 0 || (size_t)n >= sizeof p) return gs_error(GS_ERR_FORMAT, "%s: frame 0: image path too long", file);
        if (!gs_file_exists(p) || gs_is_dir(p)) continue;
        gs_status st = gs_image_info(p, w, h, NULL);
        if (st) return gs_error_prefix(st, "%s: frame 0: reading the image size", file);
        return GS_OK;
    }
    return gs_error(GS_ERR_NOT_FOUND,
                    "%s: frame 0: no \"w\"/\"h\" in the file and its image '%s' was not found in %s (tried no "
                    "extension, .png, .jpg)",
                    file, rel, base_dir);
}

static gs_status read_transforms(const cJSON *root, const char *file, const char *base_dir, gs_cameras *out) {
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(root, "frames");
    if (!cJSON_IsArray(frames)) return gs_error(GS_ERR_FORMAT, "%s: \"frames\" must be an array", file);
    gs_status st = alloc_cams(cJSON_GetArraySize(frames), file, out);
    if (st) return st;
    int img_w = 0, img_h = 0; /* from the first frame's image, when needed */
    int i = 0;
    const cJSON *fr;
    cJSON_ArrayForEach(fr, frames) {
        gs_camera *c = &out->cams[i];
        const char *F = "frame";
        if (!cJSON_IsObject(fr)) return gs_error(GS_ERR_FORMAT, "%s: frame %d is not an object", file, i);
        const cJSON *fp = cJSON_GetObjectItemCaseSensitive(fr, "file_path");
        if (!cJSON_IsString(fp)) return gs_error(GS_ERR_FORMAT, "%s: frame %d: missing string \"file_path\"", file, i);
        if ((st = set_name(c, fp->valuestring, file, F, i))) return st;
        const cJSON *tm = cJSON_GetObjectItemCaseSensitive(fr, "transform_matrix");
        if (!tm) return gs_error(GS_ERR_FORMAT, "%s: frame %d: missing \"transform_matrix\"", file, i);
        double m[16] = {0};
        if ((st = get_matrix(tm, 3, 4, 4, m, "transform_matrix", file, F, i))) return st;

        double w, h;
        int rw = frame_num(fr, root, "w", &w, file, i), rh = frame_num(fr, root, "h", &h, file, i);
        if (rw < 0 || rh < 0) return GS_ERR_FORMAT;
        if (rw && rh) {
            if ((st = to_dim(w, &c->width, "w", file, F, i)) || (st = to_dim(h, &c->height, "h", file, F, i))) return st;
        } else if (rw || rh) {
            return gs_error(GS_ERR_FORMAT, "%s: frame %d: \"w\" and \"h\" go together", file, i);
        } else {
            if (!img_w) {
                const cJSON *f0 = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(frames, 0), "file_path");
                if ((st = image_size_from_file(file, base_dir, f0->valuestring, &img_w, &img_h))) return st;
            }
            c->width = img_w;
            c->height = img_h;
        }
        double fx, fy, ax, ay;
        int rfx = get_num(fr, "fl_x", &fx, file, F, i), rax = get_num(fr, "camera_angle_x", &ax, file, F, i);
        if (rfx < 0 || rax < 0) return GS_ERR_FORMAT;
        if (!rfx && !rax) {
            rfx = get_num(root, "fl_x", &fx, file, F, i);
            rax = get_num(root, "camera_angle_x", &ax, file, F, i);
            if (rfx < 0 || rax < 0) return GS_ERR_FORMAT;
        }
        if (!rfx && !rax)
            return gs_error(GS_ERR_FORMAT, "%s: frame %d: no focal length (\"fl_x\" or \"camera_angle_x\")", file, i);
        if (!rfx) {
            if (!(ax > 0 && ax < M_PI))
                return gs_error(GS_ERR_FORMAT, "%s: frame %d: camera_angle_x = %g is not in (0, pi)", file, i, ax);
            fx = 0.5 * c->width / tan(0.5 * ax);
        }
        int rfy = get_num(fr, "fl_y", &fy, file, F, i), ray = get_num(fr, "camera_angle_y", &ay, file, F, i);
        if (rfy < 0 || ray < 0) return GS_ERR_FORMAT;
        if (!rfy && !ray) {
            rfy = get_num(root, "fl_y", &fy, file, F, i);
            ray = get_num(root, "camera_angle_y", &ay, file, F, i);
            if (rfy < 0 || ray < 0) return GS_ERR_FORMAT;
        }
        if (!rfy && ray) {
            if (!(ay > 0 && ay < M_PI))
                return gs_error(GS_ERR_FORMAT, "%s: frame %d: camera_angle_y = %g is not in (0, pi)", file, i, ay);
            fy = 0.5 * c->height / tan(0.5 * ay);
        } else if (!rfy) {
            fy = fx;
        }
        c->fx = fx;
        c->fy = fy;
        int rcx = frame_num(fr, root, "cx", &c->cx, file, i), rcy = frame_num(fr, root, "cy", &c->cy, file, i);
        if (rcx < 0 || rcy < 0) return GS_ERR_FORMAT;
        if (!rcx) c->cx = 0.5 * c->width;
        if (!rcy) c->cy = 0.5 * c->height;

        /* OpenGL -> OpenCV camera axes: negate the y and z columns */
        for (int r = 0; r < 3; r++) {
            m[r * 4 + 1] = -m[r * 4 + 1];
            m[r * 4 + 2] = -m[r * 4 + 2];
        }
        orthonormalize_c2w(m);
        gs_camera_set_c2w(c, m);
        c->has_pose = 1;
        if ((st = gs_camera_validate(c, file, i))) return st;
        i++;
    }
    return GS_OK;
}

/* ---- INRIA cameras.json -------------------------------------------------------- */

static gs_status read_inria(const cJSON *root, const char *file, gs_cameras *out) {
    gs_status st = alloc_cams(cJSON_GetArraySize(root), file, out);
    if (st) return st;
    int i = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, root) {
        gs_camera *c = &out->cams[i];
        const char *E = "entry";
        if (!cJSON_IsObject(o)) return gs_error(GS_ERR_FORMAT, "%s: entry %d is not an object", file, i);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "img_name");
        if (nm && !cJSON_IsString(nm))
            return gs_error(GS_ERR_FORMAT, "%s: entry %d: \"img_name\" must be a string", file, i);
        if (nm && (st = set_name(c, nm->valuestring, file, E, i))) return st;
        double w, h;
        if ((st = need_num(o, "width", &w, file, E, i)) || (st = need_num(o, "height", &h, file, E, i)) ||
            (st = to_dim(w, &c->width, "width", file, E, i)) || (st = to_dim(h, &c->height, "height", file, E, i)) ||
            (st = need_num(o, "fx", &c->fx, file, E, i)) || (st = need_num(o, "fy", &c->fy, file, E, i)))
            return st;
        const cJSON *rot = cJSON_GetObjectItemCaseSensitive(o, "rotation");
        const cJSON *pos = cJSON_GetObjectItemCaseSensitive(o, "position");
        if (!rot || !pos) return gs_error(GS_ERR_FORMAT, "%s: entry %d: missing \"rotation\" or \"position\"", file, i);
        double R[9], C[3];
        if ((st = get_matrix(rot, 3, 3, 3, R, "rotation", file, E, i)) ||
            (st = get_vector(pos, 3, C, "position", file, E, i)))
            return st;
        double m[16] = {R[0], R[1], R[2], C[0], R[3], R[4], R[5], C[1], R[6], R[7], R[8], C[2], 0, 0, 0, 1};
        orthonormalize_c2w(m);
        gs_camera_set_c2w(c, m);
        c->cx = 0.5 * c->width;
        c->cy = 0.5 * c->height;
        c->has_pose = 1;
        if ((st = gs_camera_validate(c, file, i))) return st;
        i++;
    }
    return GS_OK;
}

/* ---- entry point ------------------------------------------------------------------- */

gs_status gs_cameras_read_json_mem(const char *text, size_t size, const char *name, const char *base_dir,
                                   gs_cameras *out, gs_camera_format *fmt_out) {
    memset(out, 0, sizeof *out);
    if (fmt_out) *fmt_out = GS_CAM_UNKNOWN;
    if (!name) name = "cameras.json";
    if (!text) return gs_error(GS_ERR_INVALID, "%s: no data", name);
    if (size >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) { /* UTF-8 byte order mark (Windows editors) */
        text += 3;
        size -= 3;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, size, &end, 0);
    if (!root) {
        size_t off = end && end >= text && end <= text + size ? (size_t)(end - text) : 0;
        return gs_error(GS_ERR_FORMAT, "%s: not valid JSON (near byte %zu)", name, off);
    }
    /* one JSON value and nothing after it but white space */
    for (const char *q = end; q && q < text + size; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r' && *q != 0) {
            cJSON_Delete(root);
            return gs_error(GS_ERR_FORMAT, "%s: unexpected text after the JSON value (byte %zu)", name,
                            (size_t)(q - text));
        }
    gs_status st;
    gs_camera_format fmt = GS_CAM_UNKNOWN;
    const cJSON *f = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "format") : NULL;
    if (f) {
        if (!cJSON_IsString(f) || strcmp(f->valuestring, "gs-cameras"))
            st = gs_error(GS_ERR_UNSUPPORTED, "%s: unknown camera JSON \"format\" (expected \"gs-cameras\")", name);
        else {
            fmt = GS_CAM_GS_JSON;
            st = read_gs(root, name, out);
        }
    } else if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "frames")) {
        fmt = GS_CAM_TRANSFORMS;
        st = read_transforms(root, name, base_dir, out);
    } else if (cJSON_IsArray(root)) {
        fmt = GS_CAM_INRIA_JSON;
        st = read_inria(root, name, out);
    } else {
        st = gs_error(GS_ERR_FORMAT,
                      "%s: not a known camera JSON (no \"format\": \"gs-cameras\", no \"frames\", not an INRIA array)",
                      name);
    }
    cJSON_Delete(root);
    if (st) { gs_cameras_free(out); return st; }
    if (fmt_out) *fmt_out = fmt;
    return GS_OK;
}

/* ---- writer --------------------------------------------------------------------- */

static void put_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

gs_status gs_cameras_write_json(const char *path, const gs_cameras *c) {
    if (!path || !c || c->n < 0 || (c->n > 0 && !c->cams)) return gs_error(GS_ERR_INVALID, "write cameras: bad arguments");
    for (int i = 0; i < c->n; i++) {
        gs_status st = gs_camera_validate(&c->cams[i], path, i);
        if (st) return st;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return gs_error(GS_ERR_NOMEM, "%s: out of memory", path);
    fprintf(f, "{\"format\": \"gs-cameras\", \"version\": 1,\n \"convention\": \"%s\",\n \"cameras\": [", GS_JSON_CONVENTION);
    for (int i = 0; i < c->n; i++) {
        const gs_camera *k = &c->cams[i];
        fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
        put_string(f, k->name);
        fprintf(f, ", \"width\": %d, \"height\": %d, \"fx\": %.17g, \"fy\": %.17g, \"cx\": %.17g, \"cy\": %.17g", k->width,
                k->height, k->fx, k->fy, k->cx, k->cy);
        if (k->has_pose) {
            const double *R = k->R;
            fprintf(f, ",\n   \"R\": [[%.17g, %.17g, %.17g], [%.17g, %.17g, %.17g], [%.17g, %.17g, %.17g]],"
                       "\n   \"t\": [%.17g, %.17g, %.17g]",
                    R[0], R[1], R[2], R[3], R[4], R[5], R[6], R[7], R[8], k->t[0], k->t[1], k->t[2]);
        }
        if (k->near_ != 0 || k->far_ != 0) fprintf(f, ", \"near\": %.17g, \"far\": %.17g", k->near_, k->far_);
        fputc('}', f);
    }
    fprintf(f, "\n ]}\n");
    if (fclose(f) || !buf) { free(buf); return gs_error(GS_ERR_NOMEM, "%s: out of memory", path); }
    gs_status st = gs_write_file_atomic(path, buf, len);
    free(buf);
    return st;
}
