/* camera.c - the camera type: geometry (centre, projection, camera-to-world,
 * quaternions), validation, conversion to and from w2c / K arrays, and the
 * matching of cameras to images. The camera files are read in cameras.c,
 * camera_json.c and colmap.c, on top of this file (never the other way). */
#include "data/camera.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    /* A pinhole camera sees less than 180 degrees; past GS_CAMERA_MAX_FOV_DEG
     * (or below GS_CAMERA_MIN_FOV_DEG) the focal length is a unit or parsing
     * mistake (camera_angle_x = pi gives fx ~ 1e-13), not a lens. */
    double fov_x = 2 * atan(0.5 * c->width / c->fx) * 180 / M_PI, fov_y = 2 * atan(0.5 * c->height / c->fy) * 180 / M_PI;
    if (fov_x > GS_CAMERA_MAX_FOV_DEG || fov_y > GS_CAMERA_MAX_FOV_DEG || fov_x < GS_CAMERA_MIN_FOV_DEG ||
        fov_y < GS_CAMERA_MIN_FOV_DEG)
        return gs_error(GS_ERR_FORMAT,
                        "%s: camera %d%s%s: focal length fx=%.6g fy=%.6g for %dx%d pixels gives a field of view of "
                        "%.4g x %.4g degrees; a pinhole camera needs %g..%g (is the focal length in pixels?)",
                        what, index, sep, nm, c->fx, c->fy, c->width, c->height, fov_x, fov_y, GS_CAMERA_MIN_FOV_DEG,
                        GS_CAMERA_MAX_FOV_DEG);
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

/* The camera of each image: by name (stem) when every image has one, by
 * order when none has and the counts agree; a mix, or a camera that two
 * images would share, is an error (a silent mix would pose two photos alike). */
static gs_status match_cameras(const gs_cameras *c, const char *const *images, int n, const char *file, int *match) {
    int by_name = 0;
    for (int i = 0; i < n; i++) {
        char si[256], sj[256];
        gs_path_stem(images[i], si, sizeof si);
        match[i] = -1;
        for (int j = 0; j < c->n && match[i] < 0; j++) {
            gs_path_stem(c->cams[j].name, sj, sizeof sj);
            if (c->cams[j].name[0] && !strcmp(si, sj)) match[i] = j;
        }
        by_name += match[i] >= 0;
    }
    if (by_name == 0) {
        if (c->n != n)
            return gs_error(GS_ERR_INVALID, "%s: no camera for image %s (%d cameras, %d images; names must match)", file,
                            images[0], c->n, n);
        for (int i = 0; i < n; i++) match[i] = i;
        return GS_OK;
    }
    for (int i = 0; i < n; i++) {
        if (match[i] < 0)
            return gs_error(GS_ERR_INVALID, "%s: no camera named like image %s, while %d other image%s matched by name "
                            "(the cameras are matched by name for every image, or by order for none)",
                            file, images[i], by_name, by_name == 1 ? "" : "s");
        for (int k = 0; k < i; k++)
            if (match[k] == match[i])
                return gs_error(GS_ERR_INVALID, "%s: images %s and %s both match camera %s (give photos with different "
                                "names)", file, images[k], images[i], c->cams[match[i]].name);
    }
    return GS_OK;
}

gs_status gs_cameras_match_images(const gs_cameras *c, const char *const *images, const int *widths,
                                  const int *heights, int n, float *w2c, float *K, const char *file) {
    int *match = gs_malloc((size_t)(n > 0 ? n : 1), sizeof *match, "camera match");
    if (!match) return GS_ERR_NOMEM;
    gs_status st = match_cameras(c, images, n, file, match);
    for (int i = 0; i < n && !st; i++) {
        const gs_camera *cam = &c->cams[match[i]];
        if (!cam->has_pose) { st = gs_error(GS_ERR_INVALID, "%s: camera %s has no pose", file, cam->name); break; }
        gs_camera_to_w2c_K(cam, w2c + 16 * i, K + 9 * i);
        /* intrinsics in pixels of the image as loaded */
        double sx = cam->width > 0 ? (double)widths[i] / cam->width : 1.0;
        double sy = cam->height > 0 ? (double)heights[i] / cam->height : 1.0;
        /* one pixel of rounding either way is a resize; more is another photo */
        if (cam->width > 0 && cam->height > 0 &&
            fabs(sx - sy) > fmax(1.0 / widths[i], 1.0 / heights[i]) * fmax(sx, sy) + 1e-9)
            gs_warn("%s: camera %s is %dx%d but image %s is %dx%d: the aspect ratios differ, so fx and cx are scaled "
                    "by %.6g and fy and cy by %.6g; is it the camera of this photo?",
                    file, cam->name[0] ? cam->name : "(unnamed)", cam->width, cam->height, images[i], widths[i],
                    heights[i], sx, sy);
        float *k = K + 9 * i;
        k[0] = (float)(cam->fx * sx);
        k[2] = (float)(cam->cx * sx);
        k[4] = (float)(cam->fy * sy);
        k[5] = (float)(cam->cy * sy);
    }
    free(match);
    return st;
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
