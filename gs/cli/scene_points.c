/* scene_points.c - the point cloud of a DA3 prediction (points.ply) and the
 * scene preview (scene.glb), as depth_anything_3/utils/export/glb.py. */
#include "gs/cli/scene_points.h"
#include "gs/cli/outdir.h"
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

gs_status cli_write_colmap(const char *cmd, const char *out, const gs_da3_prediction *p, const cli_photos *ph,
                           const gs_da3_options *o, int64_t max_points, int text, cli_outdir *od) {
    int64_t np = 0;
    double tl = 0;
    gs_status st = gs_da3_write_colmap(out, p, ph->imgs, (const char *const *)ph->files, o->process_res,
                                       o->resize_method, max_points, text, &np, &tl);
    /* each file as it is made (a killed run's record then lists them), then the photos beside */
    static const char *const files[3] = {"cameras", "images", "points3D"};
    char rel[64];
    for (int k = 0; k < 3 && !st; k++) {
        snprintf(rel, sizeof rel, "sparse/0/%s.%s", files[k], text ? "txt" : "bin");
        st = cli_outdir_add(od, rel);
    }
    if (!st) st = cli_photos_write_images(ph, out, od);
    if (!st && !o->quiet)
        fprintf(stderr, "gs %s: %s/sparse/0 + images/: COLMAP %s model, %d image%s, %lld point%s, mean track %.2f\n", cmd,
                out, text ? "text" : "binary", p->S, p->S == 1 ? "" : "s", (long long)np, np == 1 ? "" : "s", tl);
    return st;
}
