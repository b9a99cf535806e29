/* raster.h - the tile rasterizer: Gaussian scene + camera -> RGB, expected
 * depth and alpha images.
 *
 * Semantics follow gsplat as Depth Anything 3 calls it (classic mode,
 * packed=False): EWA projection with the clamped Jacobian, eps2d added to the
 * 2D covariance, near/far culling, opacity-aware per-axis extent
 * min(3.33, sqrt(2 ln(255 o))), pixel centres at +0.5, cx/cy honoured, SH
 * evaluated from the camera centre with +0.5 and a clamp at 0, 16x16 tiles,
 * front-to-back blending in (tile, depth) order with alpha = min(0.999,
 * o exp(-sigma)), skip below 1/255, stop when transmittance would fall to
 * 1e-4, then background. The antialiased mode multiplies opacity by
 * sqrt(det(cov) / det(cov + eps2d I)) (Mip-Splatting's 2D filter). */
#ifndef GS_RASTER_H
#define GS_RASTER_H

#include "data/cameras.h"
#include "data/scene.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GS_TILE 16
#define GS_ALPHA_MIN (1.0f / 255.0f)
#define GS_ALPHA_MAX 0.999f
#define GS_T_MIN 1e-4f
#define GS_EXTENT_MAX 3.33f

typedef struct {
    int width, height;  /* 0: the camera's size */
    float bg[3];        /* background colour, default black */
    float near_plane;   /* 0.01 */
    float far_plane;    /* 1e10 */
    float eps2d;        /* 0.3 */
    int antialiased;    /* 0: classic */
    int sh_degree;      /* -1: the scene's degree; otherwise min(this, scene) */
} gs_raster_opts;

void gs_raster_opts_default(gs_raster_opts *o);

typedef struct {
    int width, height;
    float *rgb;    /* (H,W,3) */
    float *depth;  /* (H,W) expected depth sum(z a T) / (1 - T); 0 where nothing was hit */
    float *alpha;  /* (H,W) 1 - T */
    int64_t n_invalid;        /* splats skipped for NaN/Inf (colour too)/non-positive scale/zero quaternion */
    int64_t n_visible;        /* splats that survived projection culling */
    int64_t n_intersections;  /* (splat, tile) pairs */
} gs_raster_out;

/* Render one view on the CPU (OpenMP over tiles; deterministic). Allocates
 * the output buffers; free them with gs_raster_out_free. The camera's
 * width/height scale with opts->width/height when those differ (the
 * intrinsics are scaled by the same factors). */
gs_status gs_render_cpu(const gs_scene *s, const gs_camera *cam, const gs_raster_opts *opts, gs_raster_out *out);
void gs_raster_out_free(gs_raster_out *o);

/* How far frame b is from frame a (e.g. CUDA against the CPU reference).
 * Accumulated in double over the whole frame; depth is not compared (its
 * tolerance is relative and applies only where alpha is high). */
typedef struct {
    double psnr_db;      /* RGB PSNR, data range 1, colours clamped to [0,1] as in eval's PSNR; +INFINITY when
                            identical once clamped, NaN when a colour is NaN in either frame */
    double mean_abs;     /* mean |a-b| over rgb channels (not clamped) */
    double max_abs;      /* max over rgb and alpha (not clamped); +INFINITY where a value is NaN */
    int64_t pixels_off;  /* pixels with any rgb channel or alpha off by more than 1e-4 (NaN counts as off) */
    int64_t pixels;      /* width*height */
} gs_raster_diff;

#define GS_RASTER_DIFF_TOL 1e-4

/* Compare two renders of the same size (rgb and alpha must be present). */
gs_status gs_raster_out_diff(const gs_raster_out *a, const gs_raster_out *b, gs_raster_diff *d);

/* Per-splat projection result (exposed for tests; raster_math.h computes it
 * for both renderers). */
typedef struct {
    float mean2d[2];
    float conic[3];   /* inverse 2D covariance (a, b, c) */
    float depth;      /* camera-space z */
    float opacity;    /* after antialiasing compensation */
    float rgb[3];
    int radius[2];    /* 0 when culled */
} gs_projected;

/* Project splat i; returns 1 when visible. invalid (may be NULL) is set when
 * the splat has non-finite values, non-positive scales or a zero quaternion. */
int gs_project_splat(const gs_scene *s, int64_t i, const float R[9], const float t[3], const float campos[3],
                     float fx, float fy, float cx, float cy, int width, int height, const gs_raster_opts *o,
                     int sh_degree, gs_projected *p, int *invalid);

/* rgb = max(sum_k sh[k] Y_k(dir) + 0.5, 0) for degree 0..3; dir need not be unit. */
void gs_sh_to_rgb(const float *sh, int degree, const float dir[3], float rgb[3]);

/* ---- CUDA (raster_cuda.cu; a stub returning GS_ERR_UNSUPPORTED elsewhere) ----
 * The same semantics and projection source as gs_render_cpu; results agree
 * to float rounding (CUDA contracts multiply-adds and its expf differs by an
 * ulp or two), see tests/test_raster_cuda.c. Tile binning uses the exact
 * tile-ellipse intersection (rows of tiles against the alpha >= 1/255
 * ellipse), keys (tile << 32 | depth) sorted with CUB's radix sort, one
 * 16x16 thread block per tile blending batches of 256 splats staged in shared
 * memory, with early termination. */
typedef struct gs_raster_cuda gs_raster_cuda;

/* A renderer on CUDA device 0. Device buffers grow as needed and are reused
 * across frames; the scene stays on the device until replaced. */
gs_status gs_raster_cuda_new(gs_raster_cuda **out);
void gs_raster_cuda_free(gs_raster_cuda *c);
/* Copy a scene to the device (replacing the previous one). */
gs_status gs_raster_cuda_set_scene(gs_raster_cuda *c, const gs_scene *s);
/* Render the current scene. out as in gs_render_cpu (host buffers, free with
 * gs_raster_out_free); out == NULL renders without copying the images back
 * (benchmarks). */
gs_status gs_render_cuda(gs_raster_cuda *c, const gs_camera *cam, const gs_raster_opts *opts, gs_raster_out *out);

typedef struct {
    double render_ms;     /* device time of the last frame: projection to blending (CUDA events) */
    double download_ms;   /* copying its images to the host */
    size_t peak_bytes;    /* most device memory this renderer held at once (scene included) */
    size_t scene_bytes;   /* of which the scene */
    int64_t n_visible, n_intersections, n_invalid; /* last frame */
} gs_raster_cuda_stats;
void gs_raster_cuda_get_stats(const gs_raster_cuda *c, gs_raster_cuda_stats *st);

#ifdef __cplusplus
}
#endif
#endif
