/* scene_points.h - the point cloud and scene preview of a DA3 prediction,
 * shared by `gs infer` (points.ply + scene.glb) and `gs nvs` (scene.glb). */
#ifndef GS_CLI_SCENE_POINTS_H
#define GS_CLI_SCENE_POINTS_H

#include "gs/cli/cli.h"
#include "gs/model/da3.h"

/* The points DA3's GLB exporter keeps (gs_da3_points, gs/model/da3_points.h)
 * written as a point-cloud PLY to ply_path and as DA3's scene.glb (points +
 * camera frusta, gs_glb_write_scene) to glb_path; either may be NULL. Needs
 * extrinsics and intrinsics. */
gs_status cli_write_points(const char *ply_path, const char *glb_path, const gs_da3_prediction *p,
                           int64_t max_points, int64_t *written);

/* DIR/sparse/0 (binary, or text) and DIR/images/ (the photos, under the
 * names the model gives them) for the prediction p of the photos ph, each
 * file recorded in od; "gs CMD: ..." with the counts unless o->quiet. */
struct cli_outdir;
gs_status cli_write_colmap(const char *cmd, const char *out, const gs_da3_prediction *p, const cli_photos *ph,
                           const gs_da3_options *o, int64_t max_points, int text, struct cli_outdir *od);

#endif
