/* cmd_convert.c - `gs convert IN OUT`: splat scenes between PLY / .splat /
 * .spz, and camera files to our JSON or a COLMAP text model. */
#include "gs/cli/cli.h"
#include "data/cameras.h"
#include "data/scene.h"

#include <stdlib.h>
#include <string.h>

static const char k_usage[] =
    "usage: gs convert [options] IN OUT\n"
    "\n"
    "Splat scenes: IN is any splat file gs reads or writes (INRIA PLY, PlayCanvas compressed PLY,\n"
    "antimatter15 .splat, Niantic .spz v1-4, glTF .glb, or a point-cloud PLY, whose points become\n"
    "small round Gaussians); OUT's extension picks the format:\n"
    "  .ply    INRIA 3DGS binary PLY (every viewer reads it)\n"
    "  .splat  antimatter15 layout (32 bytes a splat, colour only: SH beyond DC is dropped)\n"
    "  .spz    Niantic SPZ, version 3 by default (Spark 2.1, SuperSplat/splat-transform, Niantic's\n"
    "          library); --spz-version 2 for GaussianSplats3D too, 4 for Niantic's zstd format\n"
    "  .glb    glTF 2.0 with KHR_gaussian_splatting (.spz.glb: SPZ-compressed in the glTF)\n"
    "Invalid splats (non-finite values, non-positive scales, zero quaternions) are left out, with\n"
    "a warning giving their count.\n"
    "Cameras: IN is a camera file or COLMAP model folder (gs-cameras JSON, transforms.json,\n"
    "INRIA cameras.json, COLMAP text/binary, LLFF poses_bounds.npy); OUT is either a .json\n"
    "file (gs-cameras format) or a folder (no extension) that receives a COLMAP text model\n"
    "(cameras.txt, images.txt, points3D.txt).\n"
    "\n"
    "options:\n"
    "  --sh-degree N      keep SH up to degree N (0-3) when writing splats\n"
    "  --spz-version V    SPZ version to write: 2, 3 or 4 (default 3)\n"
    "  --llff-factor F    LLFF poses_bounds.npy: divide H, W, f by F (8 for images_8)\n";

static int is_scene_path(const char *p) {
    return gs_path_ends_with(p, ".ply") || gs_path_ends_with(p, ".splat") || gs_path_ends_with(p, ".spz") ||
           gs_path_ends_with(p, ".glb");
}

/* The extension of the last path component ("" when it has none). */
static const char *path_ext(const char *p) {
    const char *slash = strrchr(p, '/');
    const char *base = slash ? slash + 1 : p;
    const char *dot = strrchr(base, '.');
    return dot && dot != base && dot[1] ? dot : "";
}

static const char k_out_types[] =
    ".ply, .splat, .spz or .glb for a splat scene; .json or a folder (COLMAP text) for cameras";

static int run(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    long sh = -1, spzv = GS_SPZ_DEFAULT_VERSION;
    double factor = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int opt = !strcmp(a, "--sh-degree") || !strcmp(a, "--spz-version") || !strcmp(a, "--llff-factor");
        if (opt && i + 1 >= argc) return cli_usage_error(&cmd_convert_def, "%s needs a value", a);
        if (!strcmp(a, "--sh-degree")) {
            if (!cli_parse_int(argv[++i], 0, 3, &sh)) return cli_usage_error(&cmd_convert_def, "--sh-degree takes 0-3");
        } else if (!strcmp(a, "--spz-version")) {
            if (!cli_parse_int(argv[++i], 2, 4, &spzv)) return cli_usage_error(&cmd_convert_def, "--spz-version takes 2, 3 or 4");
        } else if (!strcmp(a, "--llff-factor")) {
            if (!cli_parse_double(argv[++i], &factor) || !(factor > 0))
                return cli_usage_error(&cmd_convert_def, "--llff-factor takes a positive number");
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error(&cmd_convert_def, "unknown option '%s'", a);
        } else if (!in) in = a;
        else if (!out) out = a;
        else return cli_usage_error(&cmd_convert_def, "too many arguments");
    }
    if (!in || !out) return cli_usage_error(&cmd_convert_def, "need IN and OUT");

    if (is_scene_path(out)) {
        gs_scene s;
        gs_scene_format f;
        double t0 = gs_now();
        if (gs_scene_read(in, &s, &f)) return cli_fail("convert", GS_ERR_FORMAT);
        const int in_degree = s.sh_degree;
        if (sh >= 0 && sh < s.sh_degree) { /* keep the leading (sh+1)^2 coefficients of each splat */
            int k0 = gs_sh_coeffs(s.sh_degree), k1 = gs_sh_coeffs((int)sh);
            for (int64_t i = 0; i < s.n; i++) memmove(s.sh + i * k1 * 3, s.sh + i * k0 * 3, (size_t)k1 * 3 * sizeof(float));
            s.sh_degree = (int)sh;
        }
        int is_spz = gs_path_ends_with(out, ".spz"), is_splat = gs_path_ends_with(out, ".splat");
        gs_status st = is_spz ? gs_spz_write(out, &s, (int)spzv) : gs_scene_write(out, &s);
        if (st) { gs_scene_free(&s); return cli_fail("convert", st); }
        char what[64];
        if (is_spz) snprintf(what, sizeof what, "Niantic SPZ v%ld", spzv);
        else if (gs_path_ends_with(out, ".spz.glb")) snprintf(what, sizeof what, "glTF KHR_gaussian_splatting, SPZ v3 compressed");
        else if (gs_path_ends_with(out, ".glb")) snprintf(what, sizeof what, "glTF KHR_gaussian_splatting");
        else snprintf(what, sizeof what, "%s", gs_scene_format_name(is_splat ? GS_FMT_SPLAT : GS_FMT_PLY));
        fprintf(stderr, "gs convert: %s (%s, %lld splats, SH degree %d) -> %s (%s, %lld splats, SH degree %d) in %.2f s\n",
                in, gs_scene_format_name(f), (long long)s.n, in_degree, out, what,
                (long long)(s.n - gs_scene_count_invalid(&s)), is_splat ? 0 : s.sh_degree, gs_now() - t0);
        gs_scene_free(&s);
        return 0;
    }
    /* Cameras go to a .json file or a COLMAP text folder; anything else is
     * a mistake in OUT, said before IN is read. */
    const char *ext = path_ext(out);
    if (!strcmp(ext, ".txt") || !strcmp(ext, ".bin"))
        return cli_usage_error(&cmd_convert_def,
                               "%s: a COLMAP model is a folder (cameras.txt, images.txt, points3D.txt); give a "
                               "folder name for OUT, e.g. '%.*s'",
                               out, (int)(strlen(out) - strlen(ext)), out);
    if (is_scene_path(in) && !gs_path_ends_with(out, ".json"))
        return cli_usage_error(&cmd_convert_def, "%s: a splat scene converts to a .ply, .splat, .spz or .glb file, not %s%s%s",
                               out, *ext ? "'" : "a folder", ext, *ext ? "'" : "");
    if (*ext && strcmp(ext, ".json") && !gs_is_dir(out))
        return cli_usage_error(&cmd_convert_def, "%s: unknown output type '%s' (supported: %s)", out, ext, k_out_types);
    if (!gs_path_ends_with(out, ".json")) { /* a COLMAP folder is written whole: never beside (or over) another model */
        static const char *const model_files[] = {"cameras.bin", "images.bin", "points3D.bin",
                                                  "cameras.txt", "images.txt", "points3D.txt"};
        char mp[4200];
        for (int k = 0; k < 6; k++)
            if (gs_file_exists(gs_path_join(mp, sizeof mp, out, model_files[k])))
                return cli_fail("convert", gs_error(GS_ERR_INVALID, "%s: the folder already holds a COLMAP model (%s); "
                                                    "give a new or empty folder for OUT", out, model_files[k]));
    }
    if (!gs_path_ends_with(out, ".json") && gs_is_dir(in)) { /* a binary COLMAP model: to text, points and tracks too */
        gs_colmap_model m;
        gs_status mst = gs_colmap_model_read(in, &m);
        if (mst == GS_OK) {
            mst = gs_colmap_model_write(out, &m, 1);
            if (!mst)
                fprintf(stderr, "gs convert: %s (COLMAP binary model, %d image%s, %lld point%s) -> %s (COLMAP text model)\n",
                        in, m.images.n, m.images.n == 1 ? "" : "s", (long long)m.n_points, m.n_points == 1 ? "" : "s",
                        out);
            gs_colmap_model_free(&m);
            return mst ? cli_fail("convert", mst) : 0;
        }
        if (mst != GS_ERR_NOT_FOUND) return cli_fail("convert", mst);
    }
    gs_cameras c;
    gs_camera_format f;
    gs_camera_read_opts o = {factor};
    if (gs_cameras_read(in, &o, &c, &f)) return cli_fail("convert", GS_ERR_FORMAT);
    if (f == GS_CAM_COLMAP_TEXT && !gs_path_ends_with(out, ".json")) {
        float *xyz = NULL;
        uint8_t *rgb = NULL;
        int64_t np = 0;
        int has_points = gs_colmap_points_read(in, &xyz, &rgb, &np) == GS_OK && np > 0;
        free(xyz);
        free(rgb);
        if (has_points) {
            gs_cameras_free(&c);
            return cli_fail("convert", gs_error(GS_ERR_INVALID, "%s: a COLMAP text model already, with %lld points that "
                                                "a conversion to a COLMAP folder would lose: copy the folder instead "
                                                "(gs convert writes a text model whole from a binary one)",
                                                in, (long long)np));
        }
    }
    gs_status st = gs_path_ends_with(out, ".json") ? gs_cameras_write_json(out, &c)
                   : (gs_mkdirs(out) ? GS_ERR_IO : gs_cameras_write_colmap_text(out, &c));
    if (st) { gs_cameras_free(&c); return cli_fail("convert", st); }
    fprintf(stderr, "gs convert: %s (%s, %d camera%s) -> %s\n", in, gs_camera_format_name(f), c.n, c.n == 1 ? "" : "s", out);
    gs_cameras_free(&c);
    return 0;
}

const gs_command cmd_convert_def = {"convert", run, "convert splats (ply/splat/spz/glb) or cameras (JSON/COLMAP)", k_usage};
