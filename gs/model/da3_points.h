/* da3_points.h - what gs infer / gs nvs make of a prediction's depth: the
 * confident points (points.ply) and a COLMAP sparse model with multi-view
 * tracks, its cameras at the photos' original sizes. */
#ifndef GS_DA3_POINTS_H
#define GS_DA3_POINTS_H

#include "gs/model/da3.h"
#include "backbone/preprocess.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The point cloud's pixels (DA3's GLB export): depth finite and > 0, not
 * sky (sky probability >= 0.3, where the model predicts sky) and, with a
 * confidence map, confidence >= clamp(1.05, p40, p90) of the non-sky
 * confidences of all views (of all of them when 10 or fewer are non-sky);
 * a deterministic stride over them (view, row, column order) keeps at most
 * max_points (<= 0: all). *idx (malloc'ed) holds flat indices
 * v*H*W + y*W + x; *thr the threshold (-inf without confidence). */
gs_status gs_da3_point_select(const gs_da3_prediction *p, int64_t max_points, int64_t **idx, int64_t *n, float *thr);
/* 1 when pixel i passes the filter of threshold thr */
int gs_da3_point_ok(const gs_da3_prediction *p, float thr, size_t i);
/* The selection as world points X = c2w (depth K^-1 [x, y, 1]) with the
 * colour of the processed image: xyz (n,3), rgb (n,3), malloc'ed. */
gs_status gs_da3_points(const gs_da3_prediction *p, int64_t max_points, float **xyz, uint8_t **rgb, int64_t *n);

/* Where a photo's pixels went: processed = a * original + b per axis (the
 * boundary resize, the multiple-of-14 resize or crop, and the batch's
 * centre crop of mixed sizes), the photo being orig_w x orig_h. */
typedef struct {
    int orig_w, orig_h;
    double ax, bx, ay, by;
} gs_da3_view_map;
/* The maps of the S views of p from the photos' sizes and the preprocessing
 * options the prediction was made with. */
gs_status gs_da3_view_maps(const gs_da3_prediction *p, const int *orig_w, const int *orig_h, int process_res,
                           gs_da3_resize_method method, gs_da3_view_map *maps);

/* Relative depth agreement of a track: a view observes a point when its own
 * depth at the pixel the point projects to is within this fraction of the
 * point's depth in that view. */
#define GS_DA3_TRACK_DEPTH_TOL 0.05
/* ... and that pixel, back-projected with its depth, lands within this many
 * depth-map pixels of the point's own pixel in its source view. */
#define GS_DA3_TRACK_REPROJ_TOL 1.0

typedef struct {
    int64_t max_points;     /* candidates (gs_da3_point_select); 0 = no 3D points, < 0 = all */
    double depth_tol;       /* 0 = GS_DA3_TRACK_DEPTH_TOL */
    double reproj_tol;      /* 0 = GS_DA3_TRACK_REPROJ_TOL */
} gs_da3_colmap_opts;

/* The COLMAP model of a prediction (its output cameras: extrinsics,
 * intrinsics, depth). Image v (IMAGE_ID = CAMERA_ID = v + 1) is a PINHOLE
 * camera at the photo's original size (maps[v]) named names[v]. Each
 * candidate point (gs_da3_point_select order) whose pixel no earlier point
 * observes becomes a 3D point observed in its own view and in every other
 * view w where: it projects in front of w onto a pixel q that passes the
 * filter and no earlier point observes, w's depth at q agrees with the
 * point's depth in w (depth_tol), and q back-projected with that depth
 * reprojects into the source view within reproj_tol pixels of the point's
 * pixel. Observations sit at the pixels' positions in original-photo
 * coordinates; the error is the mean reprojection error in photo pixels;
 * the colour is the photo's pixel under the source pixel (photos NULL: the
 * processed image). */
gs_status gs_da3_colmap_model(const gs_da3_prediction *p, const gs_da3_view_map *maps, const gs_image *photos,
                              const char *const *names, const gs_da3_colmap_opts *o, gs_colmap_model *out);

/* gs infer / gs nvs: DIR/sparse/0 (binary, or text) from the prediction and
 * the photos as loaded, the images named names[v] (unique file names);
 * max_points as gs_da3_colmap_opts. *n_points and *mean_track (either may
 * be NULL) report the model. */
gs_status gs_da3_write_colmap(const char *out_dir, const gs_da3_prediction *p, const gs_image *photos,
                              const char *const *names, int process_res, int resize_method, int64_t max_points, int text,
                              int64_t *n_points, double *mean_track);

#ifdef __cplusplus
}
#endif
#endif
