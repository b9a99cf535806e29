/* cameras.h - the files cameras come from (the camera type is data/camera.h).
 * Read: our JSON (format "gs-cameras"), NeRF/nerfstudio transforms.json
 * (OpenGL camera-to-world), INRIA cameras.json, COLMAP text/binary models,
 * LLFF poses_bounds.npy. Write: our JSON, COLMAP text. */
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
