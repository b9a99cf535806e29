/* gltf.h - binary glTF 2.0 (.glb) files: Gaussian splats with the Khronos
 * KHR_gaussian_splatting extension (release candidate), optionally
 * compressed with KHR_gaussian_splatting_compression_spz_2, and the
 * DA3-style scene preview (point cloud + camera frusta).
 *
 * Axes: glTF is right-handed with +Y up; a glTF camera looks down -Z. gs
 * scenes are OpenCV (x right, y down, z forward), so every file here maps
 * (x, y, z) -> (x, -y, -z), the flip DA3's GLB exporter applies: an OpenCV
 * camera becomes a glTF camera. The splats keep the scene's origin (a
 * rotation by 180 degrees about x: quaternions and SH coefficients are
 * rotated with it, so the round trip is exact); the preview scene is in the
 * first camera's frame and centred on the median point, as DA3's. */
#ifndef GS_DATA_GLTF_H
#define GS_DATA_GLTF_H

#include "data/scene.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GS_GLTF_SPLATS = 0, /* KHR_gaussian_splatting attributes */
    GS_GLTF_SPLATS_SPZ, /* the SPZ-compressed form */
    GS_GLTF_POINTS      /* no splats: the first POINTS primitive, as isotropic Gaussians */
} gs_gltf_kind;

/* Write s as a GLB: one POINTS primitive with POSITION, COLOR_0 (the DC
 * colour, linear, alpha = opacity: what viewers without the extension
 * show), KHR_gaussian_splatting:ROTATION / :SCALE / :OPACITY and
 * :SH_DEGREE_l_COEF_n, all float; or (spz != 0) the splats as an SPZ v3
 * stream in a bufferView (KHR_gaussian_splatting_compression_spz_2, listed
 * in extensionsRequired). Invalid splats (gs_scene_splat_valid) are dropped
 * with one warning. Atomic. */
gs_status gs_gltf_write(const char *path, const gs_scene *s, int spz);

/* Read a GLB (bounds-checked: chunks, buffers, views, accessors). The
 * splats of the first KHR_gaussian_splatting primitive (either form), else
 * the first POINTS primitive as a point cloud (gs_scene_from_points). kind
 * may be NULL. Node transforms are not applied (a warning says so). */
gs_status gs_gltf_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s, gs_gltf_kind *kind);

/* DA3's scene.glb (depth_anything_3/utils/export/glb.py): the points as a
 * POINTS primitive (POSITION, COLOR_0 = the image's sRGB bytes as stored by
 * trimesh) and one LINES primitive per camera: a pyramid from the centre to
 * the image corners at depth 0.03 x the scene size (the norm of the 5th-95th
 * percentile extent), coloured by an HSV hue wheel. Everything is moved by
 * A = centre * flip(y,z) * w2c[0]: first camera's frame, glTF axes, the
 * median point at the origin. */
typedef struct {
    const float *xyz;   /* [n,3] world points (OpenCV world) */
    const uint8_t *rgb; /* [n,3] or NULL (white) */
    int64_t n;
    int n_cams;
    const float *w2c;   /* [n_cams,3,4] world-to-camera, OpenCV */
    const float *K;     /* [n_cams,3,3] pixels */
    int width, height;  /* image size of K */
} gs_glb_scene;
gs_status gs_glb_write_scene(const char *path, const gs_glb_scene *sc);

#ifdef __cplusplus
}
#endif
#endif
