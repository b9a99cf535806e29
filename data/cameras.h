/* cameras.h - the files cameras come from (the camera type is data/camera.h).
 * Read: our JSON (format "gs-cameras"), NeRF/nerfstudio transforms.json
 * (OpenGL camera-to-world), INRIA cameras.json, COLMAP text/binary models,
 * LLFF poses_bounds.npy. Write: our JSON, COLMAP models (binary or text,
 * with 2D points, 3D points and their tracks). */
#ifndef GS_DATA_CAMERAS_H
#define GS_DATA_CAMERAS_H

#include "data/camera.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    /* LLFF poses_bounds.npy stores full-resolution H, W, f; divide by this
     * factor (e.g. 8 for images_8). 0 = 1. */
    double llff_factor;
} gs_camera_read_opts;

typedef enum {
    GS_CAM_UNKNOWN = 0, GS_CAM_GS_JSON, GS_CAM_TRANSFORMS, GS_CAM_INRIA_JSON,
    GS_CAM_COLMAP_TEXT, GS_CAM_COLMAP_BIN, GS_CAM_LLFF
} gs_camera_format;
const char *gs_camera_format_name(gs_camera_format f);

/* Read any supported camera file or COLMAP model directory (a folder holding
 * cameras.{txt,bin} [+ images.{txt,bin}], or one with sparse/0 inside).
 * opts may be NULL. */
gs_status gs_cameras_read(const char *path, const gs_camera_read_opts *opts, gs_cameras *out,
                          gs_camera_format *fmt_out);

gs_status gs_cameras_read_json_mem(const char *text, size_t size, const char *name, const char *base_dir,
                                   gs_cameras *out, gs_camera_format *fmt_out);
gs_status gs_cameras_read_llff_mem(const uint8_t *data, size_t size, const char *name, double factor,
                                   gs_cameras *out);
gs_status gs_colmap_cameras_bin_mem(const uint8_t *data, size_t size, const char *name, gs_cameras *out);
gs_status gs_colmap_images_bin_mem(const uint8_t *data, size_t size, const char *name,
                                   const gs_cameras *intrinsics, gs_cameras *out);

gs_status gs_colmap_cameras_txt_mem(const char *text, size_t size, const char *name, gs_cameras *out);
gs_status gs_colmap_images_txt_mem(const char *text, size_t size, const char *name,
                                   const gs_cameras *intrinsics, gs_cameras *out);

/* COLMAP sparse points (points3D.bin / points3D.txt, or a model folder /
 * one holding sparse/0): xyz (n,3) and rgb (n,3). Both malloc'ed. */
gs_status gs_colmap_points_read(const char *path, float **xyz, uint8_t **rgb, int64_t *n);
gs_status gs_colmap_points_bin_mem(const uint8_t *data, size_t size, const char *name, float **xyz, uint8_t **rgb,
                                   int64_t *n);
gs_status gs_colmap_points_txt_mem(const char *text, size_t size, const char *name, float **xyz, uint8_t **rgb,
                                   int64_t *n);

/* A whole COLMAP sparse model with its 2D points, 3D points and tracks.
 * Image i is images.cams[i] (PINHOLE intrinsics at its own size, pose,
 * name) with IMAGE_ID image_id[i] and CAMERA_ID images.cams[i].camera_id;
 * its 2D points are [p2d_start[i], p2d_start[i + 1]) of p2d_xy (x, y in
 * pixels) and p2d_point3d (a POINT3D_ID, or -1 for none). Point j has
 * POINT3D_ID point_id[j] and observations [track_start[j],
 * track_start[j + 1]) of track, pairs (IMAGE_ID, POINT2D_IDX). */
typedef struct {
    gs_cameras images;
    int32_t *image_id;
    int64_t *p2d_start;     /* [images.n + 1] */
    double *p2d_xy;         /* [2 * p2d_start[images.n]] */
    int64_t *p2d_point3d;   /* [p2d_start[images.n]] */
    int64_t n_points;
    uint64_t *point_id;     /* [n_points] */
    double *xyz;            /* [3 * n_points] */
    uint8_t *rgb;           /* [3 * n_points] */
    double *error;          /* [n_points] mean reprojection error, pixels */
    int64_t *track_start;   /* [n_points + 1] */
    int32_t *track;         /* [2 * track_start[n_points]] */
} gs_colmap_model;
void gs_colmap_model_free(gs_colmap_model *m);
/* images.bin as gs_colmap_images_bin_mem, and with p2d not NULL also each
 * image's id and its 2D points into p2d->image_id, p2d_start, p2d_xy and
 * p2d_point3d (malloc'ed; freed by gs_colmap_model_free(p2d), also after
 * an error). */
gs_status gs_colmap_images_bin_read(const uint8_t *data, size_t size, const char *name, const gs_cameras *intrinsics,
                                    gs_cameras *out, gs_colmap_model *p2d);
/* Every cross reference: unique image, camera and point ids, each 2D
 * point's POINT3D_ID names a point whose track holds that 2D point, each
 * track element names an image and one of its 2D points that refers back.
 * `what` names the model in errors. */
gs_status gs_colmap_model_validate(const gs_colmap_model *m, const char *what);
/* Writes cameras, images and points3D (.bin, or .txt when text) into dir
 * (created if missing), each file atomically, one PINHOLE camera per image.
 * The other layout's three files, if any, are removed, so that readers
 * (which prefer .bin) see this model. Text refuses names with white space. */
gs_status gs_colmap_model_write(const char *dir, const gs_colmap_model *m, int text);
/* A binary model from memory (the three files' bytes; names for errors),
 * fully checked: every count against the bytes left, every reference. */
gs_status gs_colmap_model_bin_mem(const uint8_t *cam, size_t cam_size, const char *cam_name, const uint8_t *img,
                                  size_t img_size, const char *img_name, const uint8_t *pts, size_t pts_size,
                                  const char *pts_name, gs_colmap_model *out);
/* A binary model folder (cameras.bin, images.bin, points3D.bin; or a folder
 * holding sparse/0). */
gs_status gs_colmap_model_read(const char *dir, gs_colmap_model *out);

gs_status gs_cameras_write_json(const char *path, const gs_cameras *c);
/* Writes cameras.txt (one PINHOLE camera per entry), images.txt and an empty
 * points3D.txt into dir (created if missing). Cameras without a pose get no
 * image line; unnamed ones are called camera_NNNNN; names with white space
 * are refused (COLMAP text cannot hold them). */
gs_status gs_cameras_write_colmap_text(const char *dir, const gs_cameras *c);



#ifdef __cplusplus
}
#endif
#endif
