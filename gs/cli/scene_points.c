/* scene_points.c - the point cloud of a DA3 prediction (points.ply) and the
 * scene preview (scene.glb), as depth_anything_3/utils/export/glb.py. */
#include "gs/cli/scene_points.h"
#include "gs/model/da3_points.h"
#include "data/gltf.h"
#include "data/scene.h"

#include <stdlib.h>

gs_status cli_write_points(const char *ply_path, const char *glb_path, const gs_da3_prediction *p,
                           int64_t max_points, int64_t *written) {
    float *xyz;
    uint8_t *rgb;
    int64_t m;
    gs_status st = gs_da3_points(p, max_points, &xyz, &rgb, &m);
    if (st) return st;
    if (ply_path) st = gs_pointcloud_write_ply(ply_path, xyz, rgb, m);
    if (!st && glb_path) {
        gs_glb_scene g = {xyz, rgb, m, p->S, p->extrinsics, p->intrinsics, p->W, p->H};
        st = gs_glb_write_scene(glb_path, &g);
    }
    free(xyz);
    free(rgb);
    *written = m;
    return st;
}
