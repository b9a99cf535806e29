/* scene.h - the Gaussian scene type and its files.
 *
 * In memory every attribute is activated (what a renderer uses):
 *   means      (n,3)  world position (OpenCV/COLMAP world, "RDF", as INRIA PLY)
 *   scales     (n,3)  standard deviations, linear (PLY stores log)
 *   rotations  (n,4)  unit quaternion w,x,y,z (normalised on load)
 *   opacities  (n)    in [0,1] (PLY stores the logit)
 *   sh         (n,K,3) SH coefficients, K = (sh_degree+1)^2, coefficient-major
 *                     with the RGB channel innermost; sh[i][0] is the DC term
 *                     (colour = 0.5 + C0 * dc, C0 = 0.28209479177387814).
 * Files: INRIA 3DGS PLY (read/write, any SH degree, properties by name),
 * PlayCanvas compressed PLY (read), antimatter15 .splat (read/write),
 * Niantic .spz v1-4 (read; write v2/v3 gzip or v4, GS_SPZ_DEFAULT_VERSION).
 * Every writer leaves out the splats that are not gs_scene_splat_valid (one
 * warning per file gives their count) and refuses a scene with none. */
#ifndef GS_DATA_SCENE_H
#define GS_DATA_SCENE_H

#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GS_SH_C0 0.28209479177387814f
#define GS_SH_MAX_DEGREE 3
/* Refuse files declaring more splats than this (2^28, ~268M). */
#define GS_SCENE_MAX_SPLATS ((int64_t)1 << 28)

typedef struct {
    int64_t n;
    int sh_degree;        /* 0..3 */
    int antialiased;      /* trained with gsplat's antialiased/mip mode (SPZ flag, PLY comment) */
    float *means, *scales, *rotations, *opacities, *sh;
} gs_scene;

static inline int gs_sh_coeffs(int degree) { return (degree + 1) * (degree + 1); }

/* Allocate a scene of n splats (zeroed; rotations set to identity). */
gs_status gs_scene_alloc(gs_scene *s, int64_t n, int sh_degree);
void gs_scene_free(gs_scene *s);

typedef enum {
    GS_FMT_UNKNOWN = 0, GS_FMT_PLY, GS_FMT_COMPRESSED_PLY, GS_FMT_SPLAT, GS_FMT_SPZ,
    GS_FMT_POINTS_PLY,   /* a point cloud PLY (x y z, maybe colour), read as isotropic Gaussians */
    GS_FMT_GLB,          /* binary glTF with KHR_gaussian_splatting (data/gltf.h) */
    GS_FMT_GLB_SPZ,      /* ... and KHR_gaussian_splatting_compression_spz_2 (set by the reader) */
    GS_FMT_GLB_POINTS    /* a GLB without splats: its first POINTS primitive (set by the reader) */
} gs_scene_format;
const char *gs_scene_format_name(gs_scene_format f);
/* Guess from content first (PLY magic, SPZ magic / gzip), then from the file
 * name (.splat has no header). */
gs_scene_format gs_scene_detect(const uint8_t *data, size_t size, const char *name);

/* Read any supported splat file. On error the scene is left empty. */
gs_status gs_scene_read(const char *path, gs_scene *s, gs_scene_format *fmt_out);
gs_status gs_scene_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s,
                            gs_scene_format *fmt_out);
/* Write in the format named by the extension (.ply, .splat, .spz, .glb;
 * .spz.glb: the glTF with SPZ compression). Atomic. Invalid splats are left
 * out (see gs_scene_writable). */
gs_status gs_scene_write(const char *path, const gs_scene *s);

/* Per-format entry points (name is used in error messages). */
gs_status gs_ply_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s);      /* INRIA or compressed */
gs_status gs_ply_write(const char *path, const gs_scene *s);
/* A plain point cloud: binary little-endian PLY with float x y z and, when
 * rgb is not NULL, uchar red green blue (what MeshLab/CloudCompare/Open3D read). */
gs_status gs_pointcloud_write_ply(const char *path, const float *xyz, const uint8_t *rgb, int64_t n);
/* 1 when a PLY's vertex element has x y z and no Gaussian properties
 * (f_dc_0, opacity, scale_0, rot_0): gs_ply_read_mem reads it as points. */
int gs_ply_is_pointcloud(const uint8_t *data, size_t size);
/* A point cloud as a scene (data/points.c): n points xyz, colours rgb in
 * [0,1] (NULL: white); each point an isotropic Gaussian of opacity 1 whose
 * standard deviation is half gs_points_spacing. */
gs_status gs_scene_from_points(const float *xyz, const float *rgb, int64_t n, const char *name, gs_scene *s);
/* The median nearest-neighbour distance of up to 1024 points of the cloud
 * (1e-3 of the bounding-box diagonal when it cannot be had). */
float gs_points_spacing(const float *xyz, int64_t n);
gs_status gs_splat_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s);
gs_status gs_splat_write(const char *path, const gs_scene *s);
gs_status gs_spz_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s);
/* The decompressed contents of a legacy (gzip) .spz: its 16-byte header, the
 * attribute blocks, then at most 1 MiB more (extension records when flags &
 * 2); versions 1-4. gs_spz_read_mem parses a gzip file's inflated member with
 * this same code, and a v4 file's decompressed streams with the decoder
 * behind it; exposed so that fuzzers reach that code with raw bytes. */
gs_status gs_spz_read_payload(const uint8_t *data, size_t size, const char *name, gs_scene *s);
/* The SPZ version written when none is asked for: 3, the newest that Spark
 * 2.1 reads (<= 3); splat-transform/SuperSplat (2-4) and Niantic's library
 * (1-4) read it too. GaussianSplats3D reads only 1-2 (and v2 rotations are
 * coarse); v4 (zstd) is Niantic's current format (Niantic, three.js,
 * splat-transform), which Spark 2.1 and GaussianSplats3D refuse. */
#define GS_SPZ_DEFAULT_VERSION 3
/* version: 2, 3 (gzip) or 4 (zstd streams); 0 = GS_SPZ_DEFAULT_VERSION */
gs_status gs_spz_write(const char *path, const gs_scene *s, int version);
/* The same file in memory (version 2 or 3: one gzip member), for containers
 * (the glTF SPZ extension); *out is malloc'ed, the caller frees it. */
gs_status gs_spz_encode(const gs_scene *s, int version, const char *name, uint8_t **out, size_t *out_size);

/* Splats that a renderer must skip: non-finite values, non-positive scales,
 * zero quaternions, opacity outside [0,1]. Returns their count. */
int64_t gs_scene_count_invalid(const gs_scene *s);
/* 1 when splat i is one a renderer draws (none of the above). */
int gs_scene_splat_valid(const gs_scene *s, int64_t i);
/* The splats a writer puts in the file `path`: *nvalid of them; *idx is NULL
 * when every splat is valid (write 0..n-1), else a malloc'ed list of the
 * valid indices in scene order, and one gs_warn says "PATH: N of M Gaussians
 * are invalid (...) and were not written". A scene without any valid splat
 * (an empty one too) is GS_ERR_INVALID naming path. The scene is unchanged. */
gs_status gs_scene_writable(const gs_scene *s, const char *path, int64_t **idx, int64_t *nvalid);

typedef struct {
    int64_t n, n_invalid;
    double bbox_min[3], bbox_max[3];     /* over valid splats */
    double opacity_min, opacity_mean, opacity_max;
    double scale_min, scale_median, scale_max; /* over all valid per-axis scales */
} gs_scene_stats;
gs_status gs_scene_stats_compute(const gs_scene *s, gs_scene_stats *st);

#ifdef __cplusplus
}
#endif
#endif
