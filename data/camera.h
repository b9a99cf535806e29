/* camera.h - cameras in one internal convention, apart from the files they
 * come from (data/cameras.h reads and writes those).
 *
 * Internal convention (gsplat / COLMAP / DA3): OpenCV world-to-camera,
 *   x_cam = R * x_world + t, camera axes +x right, +y down, +z forward;
 *   pixel (u, v) = (fx * x/z + cx, fy * y/z + cy), with pixel (i, j) covering
 *   [i, i+1) x [j, j+1), i.e. its centre at (i+0.5, j+0.5). */
#ifndef GS_DATA_CAMERA_H
#define GS_DATA_CAMERA_H

#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GS_MAX_CAMERAS 100000

typedef struct {
    double R[9];            /* world-to-camera rotation, row-major */
    double t[3];            /* world-to-camera translation */
    double fx, fy, cx, cy;  /* pixels */
    int width, height;
    int has_pose;           /* 0 when the file gave intrinsics only (COLMAP cameras without images) */
    double near_, far_;     /* scene bounds when the file has them (LLFF), else 0 */
    char name[256];         /* image file name when known */
    int64_t camera_id;      /* COLMAP CAMERA_ID of the intrinsics (images are matched to cameras by it); 0 otherwise */
} gs_camera;

typedef struct {
    int n;
    gs_camera *cams;
} gs_cameras;

void gs_cameras_free(gs_cameras *c);

/* A camera as float arrays: w2c [4,4] (bottom row 0 0 0 1) and K [3,3]. */
void gs_camera_to_w2c_K(const gs_camera *c, float w2c[16], float K[9]);
/* A posed camera of size width x height from a w2c whose rows are 4 floats
 * apart ([3,4] or [4,4]) and K [3,3]; the name is left empty. */
void gs_camera_from_w2c_K(gs_camera *c, const float *w2c, const float *K, int width, int height);
/* The camera of each of n images: matched by file stem (with or without
 * extension), else by order when the counts agree. Writes w2c [n,4,4] and K
 * [n,3,3] in pixels of each image as loaded (widths/heights; the file's
 * intrinsics are scaled when its size differs). `file` names the camera file
 * in errors (no camera for an image, a camera without a pose). */
gs_status gs_cameras_match_images(const gs_cameras *c, const char *const *images, const int *widths,
                                  const int *heights, int n, float *w2c, float *K, const char *file);

/* Fields of view (each axis) a camera may have: pinhole cameras see less
 * than 180 degrees, and no real lens gives under a hundredth of a degree. */
#define GS_CAMERA_MAX_FOV_DEG 170.0
#define GS_CAMERA_MIN_FOV_DEG 0.01
/* Check one camera: finite values, 0 < width, height <= 65536, fx, fy > 0
 * with fields of view in [GS_CAMERA_MIN_FOV_DEG, GS_CAMERA_MAX_FOV_DEG],
 * R a rotation (orthonormal within 1e-4, det +1). The error names `what`
 * (usually the file) and the camera index. */
gs_status gs_camera_validate(const gs_camera *c, const char *what, int index);

/* Geometry helpers. */
void gs_camera_center(const gs_camera *c, double C[3]);                /* -R^T t */
/* Project a world point; returns 0 when behind the camera (z <= 0). */
int gs_camera_project(const gs_camera *c, const double X[3], double uv[2], double *depth);
/* Set R,t from an OpenCV camera-to-world 4x4 (row-major, last row ignored). */
void gs_camera_set_c2w(gs_camera *c, const double c2w[16]);
void gs_camera_get_c2w(const gs_camera *c, double c2w[16]);
/* Rotation matrix <-> quaternion (w,x,y,z; COLMAP/Hamilton). */
void gs_quat_to_rotmat(const double q[4], double R[9]);
void gs_rotmat_to_quat(const double R[9], double q[4]);

#ifdef __cplusplus
}
#endif
#endif
