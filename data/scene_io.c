/* scene_io.c - read/write any supported splat file, choosing the format from
 * the content (PLY / SPZ / glTF magic) or the file name (.splat has no header). */
#include "data/scene.h"
#include "data/gltf.h"

#include <string.h>

gs_status gs_scene_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s,
                            gs_scene_format *fmt_out) {
    memset(s, 0, sizeof *s);
    gs_scene_format f = gs_scene_detect(data, size, name);
    if (fmt_out) *fmt_out = f;
    switch (f) {
    case GS_FMT_PLY:
    case GS_FMT_POINTS_PLY:
    case GS_FMT_COMPRESSED_PLY: return gs_ply_read_mem(data, size, name, s);
    case GS_FMT_SPZ: return gs_spz_read_mem(data, size, name, s);
    case GS_FMT_SPLAT: return gs_splat_read_mem(data, size, name, s);
    case GS_FMT_GLB:
    case GS_FMT_GLB_SPZ:
    case GS_FMT_GLB_POINTS: {
        gs_gltf_kind k = GS_GLTF_SPLATS;
        gs_status st = gs_gltf_read_mem(data, size, name, s, &k);
        if (!st && fmt_out) *fmt_out = k == GS_GLTF_SPLATS_SPZ ? GS_FMT_GLB_SPZ : k == GS_GLTF_POINTS ? GS_FMT_GLB_POINTS : GS_FMT_GLB;
        return st;
    }
    default:
        return gs_error(GS_ERR_FORMAT, "%s: not a splat file (expected INRIA/compressed/point-cloud PLY, .splat, .spz or .glb)", name);
    }
}

gs_status gs_scene_read(const char *path, gs_scene *s, gs_scene_format *fmt_out) {
    gs_mmap m;
    memset(s, 0, sizeof *s);
    gs_status st = gs_mmap_open(&m, path);
    if (st) return st;
    st = gs_scene_read_mem(m.data, m.size, path, s, fmt_out);
    gs_mmap_close(&m);
    return st;
}

gs_status gs_scene_write(const char *path, const gs_scene *s) {
    if (gs_path_ends_with(path, ".compressed.ply"))
        return gs_error(GS_ERR_UNSUPPORTED, "%s: writing PlayCanvas compressed PLY is not supported; use .ply, .splat, .spz or .glb", path);
    if (gs_path_ends_with(path, ".ply")) return gs_ply_write(path, s);
    if (gs_path_ends_with(path, ".splat")) return gs_splat_write(path, s);
    if (gs_path_ends_with(path, ".spz")) return gs_spz_write(path, s, 0);
    if (gs_path_ends_with(path, ".spz.glb")) return gs_gltf_write(path, s, 1);
    if (gs_path_ends_with(path, ".glb")) return gs_gltf_write(path, s, 0);
    return gs_error(GS_ERR_INVALID, "%s: unknown splat format (use a .ply, .splat, .spz or .glb extension)", path);
}
