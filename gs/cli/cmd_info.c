/* cmd_info.c - `gs info FILE...`: describe any file gs understands:
 * safetensors checkpoints, splat scenes, images, depth EXRs, camera files
 * (and COLMAP model folders), .npy arrays. */
#include "gs/cli/cli.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/npy.h"
#include "data/safetensors.h"
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char k_usage[] =
    "usage: gs info [--all] FILE...\n"
    "\n"
    "Describe each FILE:\n"
    "  *.safetensors        tensors, dtypes, parameter count, metadata (--all lists every tensor)\n"
    "  *.ply *.splat *.spz *.glb  splat count, SH degree, bounding box, opacity and scale statistics\n"
    "                       (INRIA PLY, PlayCanvas compressed PLY, antimatter15 .splat, Niantic SPZ v2-4,\n"
    "                       glTF KHR_gaussian_splatting; a point cloud PLY/GLB is read as round Gaussians)\n"
    "  *.png *.jpg *.webp *.tif *.bmp  size, channels, bit depth, per-channel range, EXIF orientation\n"
    "  *.exr                size and value range of a depth map\n"
    "  cameras              gs-cameras JSON, transforms.json, INRIA cameras.json, COLMAP model\n"
    "                       folders or files, LLFF poses_bounds.npy: count, intrinsics, baseline;\n"
    "                       a COLMAP model's points3D: count, track lengths, reprojection error\n"
    "  *.npy                dtype and shape\n"
    "\n"
    "Exit status: 0 when every file was understood, 1 otherwise.\n";

static int info_safetensors(const char *path, int all) {
    gs_safetensors st;
    if (gs_st_open(&st, path)) return cli_fail("info", GS_ERR_FORMAT);
    int64_t per[GS_DTYPE_COUNT] = {0};
    int cnt[GS_DTYPE_COUNT] = {0};
    for (int i = 0; i < st.n; i++) {
        gs_tensor v;
        gs_st_view(&st.tensors[i], &v);
        per[v.dtype] += gs_tensor_numel(&v);
        cnt[v.dtype]++;
    }
    printf("%s: safetensors, %d tensors, %lld parameters (%.1f MB of data)\n", path, st.n,
           (long long)gs_st_param_count(&st), (double)st.base_size / 1e6);
    for (int d = 0; d < GS_DTYPE_COUNT; d++)
        if (cnt[d]) printf("  %-8s %6d tensors %14lld values\n", gs_dtype_name((gs_dtype)d), cnt[d], (long long)per[d]);
    for (int i = 0; i < st.n_meta; i++) printf("  metadata %s = %s\n", st.meta_keys[i], st.meta_values[i]);
    int show = all ? st.n : (st.n < 12 ? st.n : 12);
    for (int i = 0; i < show; i++) {
        const gs_st_tensor *t = &st.tensors[i];
        char shape[128] = "";
        size_t k = 0;
        for (int d = 0; d < t->ndim && k < sizeof shape - 24; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        printf("  %-48s %-5s [%s]\n", t->name, gs_dtype_name(t->dtype), shape);
    }
    if (show < st.n) printf("  ... %d more (use --all)\n", st.n - show);
    gs_st_close(&st);
    return 0;
}

static int info_scene(const char *path) {
    gs_scene s;
    gs_scene_format f;
    if (gs_scene_read(path, &s, &f)) return cli_fail("info", GS_ERR_FORMAT);
    gs_scene_stats st;
    if (gs_scene_stats_compute(&s, &st)) { gs_scene_free(&s); return cli_fail("info", GS_ERR_NOMEM); }
    printf("%s: %s, %lld splats, SH degree %d%s\n", path, gs_scene_format_name(f), (long long)s.n, s.sh_degree,
           s.antialiased ? ", antialiased" : "");
    printf("  bbox     min (%.4g, %.4g, %.4g)  max (%.4g, %.4g, %.4g)\n", st.bbox_min[0] + 0.0, st.bbox_min[1] + 0.0,
           st.bbox_min[2] + 0.0, st.bbox_max[0] + 0.0, st.bbox_max[1] + 0.0, st.bbox_max[2] + 0.0); /* no "-0" */
    printf("  opacity  min %.4g  mean %.4g  max %.4g\n", st.opacity_min, st.opacity_mean, st.opacity_max);
    printf("  scale    min %.4g  median %.4g  max %.4g\n", st.scale_min, st.scale_median, st.scale_max);
    if (st.n_invalid)
        printf("  invalid  %lld splats (NaN/Inf, non-positive scale, zero quaternion or opacity outside [0,1]); renderers skip them\n",
               (long long)st.n_invalid);
    gs_scene_free(&s);
    return 0;
}

/* Pixel statistics need the decoded image (16 bytes a pixel as float RGBA):
 * past this many pixels gs info gives the header alone. */
#define INFO_MAX_PIXELS (50LL * 1000 * 1000)

/* Over the bound: print the header line and return 1 (nothing decoded). */
static int header_only(const char *path, const char *kind, int w, int h, int ch, const char *what) {
    if ((long long)w * h <= INFO_MAX_PIXELS) return 0;
    printf("%s: %s %dx%d, %d channel%s (%s statistics skipped: %.1f megapixels is over the %lld that gs info "
           "decodes)\n", path, kind, w, h, ch, ch > 1 ? "s" : "", what, (double)w * h / 1e6, INFO_MAX_PIXELS / 1000000);
    return 1;
}

static int info_image(const char *path) {
    int w, h, ch;
    if (gs_image_info(path, &w, &h, &ch)) return cli_fail("info", GS_ERR_FORMAT);
    if (header_only(path, "image", w, h, ch, "pixel")) return 0;
    gs_image im;
    int orient = 0;
    if (gs_image_read_orient(path, &im, &orient)) return cli_fail("info", GS_ERR_FORMAT);
    printf("%s: image %dx%d, %d channel%s, %d-bit\n", path, im.width, im.height, im.channels,
           im.channels > 1 ? "s" : "", im.bit_depth);
    if (orient) printf("  EXIF orientation %d (viewers %s; gs uses the pixels as stored)\n", orient,
                       gs_image_orientation_name(orient));
    static const char *names[4][4] = {{"gray"}, {"gray", "alpha"}, {"R", "G", "B"}, {"R", "G", "B", "A"}};
    size_t np = (size_t)im.width * im.height;
    for (int c = 0; c < im.channels; c++) {
        double lo = INFINITY, hi = -INFINITY, sum = 0;
        for (size_t i = 0; i < np; i++) {
            double v = im.data[i * im.channels + c];
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
            sum += v;
        }
        printf("  %-5s min %.4f  mean %.4f  max %.4f\n", names[im.channels - 1][c], lo, sum / (double)np, hi);
    }
    gs_image_free(&im);
    return 0;
}

static int info_exr(const char *path) {
    float *d;
    int w, h, ch;
    if (gs_exr_info(path, &w, &h, &ch)) return cli_fail("info", GS_ERR_FORMAT);
    if (header_only(path, "EXR", w, h, ch, "value")) return 0;
    if (gs_exr_read_depth(path, &d, &w, &h)) return cli_fail("info", GS_ERR_FORMAT);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    size_t nf = 0, np = (size_t)w * h;
    for (size_t i = 0; i < np; i++) {
        if (!isfinite(d[i])) continue;
        nf++;
        sum += d[i];
        lo = d[i] < lo ? d[i] : lo;
        hi = d[i] > hi ? d[i] : hi;
    }
    printf("%s: EXR %dx%d, 1 channel float\n", path, w, h);
    if (nf) printf("  values   min %.6g  mean %.6g  max %.6g (%zu of %zu finite)\n", lo, sum / (double)nf, hi, nf, np);
    else printf("  no finite values\n");
    free(d);
    return 0;
}

/* The 3D points of a COLMAP model (a folder or one of its files): a binary
 * model is read whole, every reference checked. */
static int info_colmap_points(const char *path, int binary) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (gs_is_dir(path)) snprintf(dir, sizeof dir, "%s", path);
    else if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else snprintf(dir, sizeof dir, ".");
    char p[4096];
    static const char *const where[] = {"", "sparse/0", "0"};
    for (int k = 0; k < 3; k++) {
        char m[4096];
        if (k) gs_path_join(m, sizeof m, dir, where[k]);
        else snprintf(m, sizeof m, "%s", dir);
        if (gs_file_exists(gs_path_join(p, sizeof p, m, binary ? "cameras.bin" : "cameras.txt"))) {
            snprintf(dir, sizeof dir, "%s", m);
            break;
        }
    }
    if (!gs_file_exists(gs_path_join(p, sizeof p, dir, binary ? "points3D.bin" : "points3D.txt"))) {
        printf("  no points3D\n");
        return 0;
    }
    char ip[4096];
    if (!binary || !gs_file_exists(gs_path_join(ip, sizeof ip, dir, "images.bin"))) { /* e.g. intrinsics + points only */
        float *xyz;
        uint8_t *rgb;
        int64_t n;
        if (gs_colmap_points_read(p, &xyz, &rgb, &n)) return cli_fail("info", GS_ERR_FORMAT);
        printf("  points3D %lld\n", (long long)n);
        free(xyz);
        free(rgb);
        return 0;
    }
    gs_colmap_model m;
    if (gs_colmap_model_read(dir, &m)) return cli_fail("info", GS_ERR_FORMAT);
    int64_t nobs = m.track_start[m.n_points], multi = 0;
    double err = 0;
    for (int64_t j = 0; j < m.n_points; j++) {
        multi += m.track_start[j + 1] - m.track_start[j] >= 2;
        err += m.error[j];
    }
    printf("  points3D %lld, observations %lld, mean track %.3f, in 2+ views %lld, mean error %.4g px\n",
           (long long)m.n_points, (long long)nobs, m.n_points ? (double)nobs / (double)m.n_points : 0.0,
           (long long)multi, m.n_points ? err / (double)m.n_points : 0.0);
    printf("  2D points %lld in %d image%s\n", (long long)m.p2d_start[m.images.n], m.images.n, m.images.n == 1 ? "" : "s");
    gs_colmap_model_free(&m);
    return 0;
}

static int info_cameras(const char *path) {
    gs_cameras c;
    gs_camera_format f;
    if (gs_cameras_read(path, NULL, &c, &f)) return cli_fail("info", GS_ERR_FORMAT);
    printf("%s: cameras (%s), %d view%s\n", path, gs_camera_format_name(f), c.n, c.n == 1 ? "" : "s");
    int show = c.n < 6 ? c.n : 6;
    for (int i = 0; i < show; i++) {
        const gs_camera *k = &c.cams[i];
        double C[3];
        gs_camera_center(k, C);
        printf("  [%d] %-20s %dx%d  fx %.2f fy %.2f cx %.2f cy %.2f", i, k->name[0] ? k->name : "-", k->width,
               k->height, k->fx, k->fy, k->cx, k->cy);
        if (k->has_pose) printf("  centre (%.3f, %.3f, %.3f)", C[0], C[1], C[2]);
        printf("\n");
    }
    if (show < c.n) printf("  ... %d more\n", c.n - show);
    int posed = 0;
    for (int i = 0; i < c.n; i++) posed += c.cams[i].has_pose;
    if (posed >= 2) {
        double dmin = INFINITY, dmax = 0, nnsum = 0;
        for (int i = 0; i < c.n; i++) {
            if (!c.cams[i].has_pose) continue;
            double Ci[3], nn = INFINITY;
            gs_camera_center(&c.cams[i], Ci);
            for (int j = 0; j < c.n; j++) {
                if (j == i || !c.cams[j].has_pose) continue;
                double Cj[3];
                gs_camera_center(&c.cams[j], Cj);
                double d = sqrt((Ci[0] - Cj[0]) * (Ci[0] - Cj[0]) + (Ci[1] - Cj[1]) * (Ci[1] - Cj[1]) +
                                (Ci[2] - Cj[2]) * (Ci[2] - Cj[2]));
                nn = d < nn ? d : nn;
                dmin = d < dmin ? d : dmin;
                dmax = d > dmax ? d : dmax;
            }
            nnsum += nn;
        }
        printf("  baseline min %.4g  mean nearest %.4g  max %.4g (world units)\n", dmin, nnsum / posed, dmax);
    } else if (!posed) {
        printf("  intrinsics only (no poses in this file)\n");
    }
    if (c.n && c.cams[0].far_ > 0) printf("  bounds   near %.4g far %.4g (view 0)\n", c.cams[0].near_, c.cams[0].far_);
    gs_cameras_free(&c);
    return f == GS_CAM_COLMAP_BIN || f == GS_CAM_COLMAP_TEXT ? info_colmap_points(path, f == GS_CAM_COLMAP_BIN) : 0;
}

static int info_npy(const char *path) {
    gs_tensor t;
    if (gs_npy_read(path, &t)) return cli_fail("info", GS_ERR_FORMAT);
    int llff = t.ndim == 2 && t.shape[1] == 17 && t.dtype == GS_F64;
    printf("%s: npy %s [", path, gs_dtype_name(t.dtype));
    for (int d = 0; d < t.ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t.shape[d]);
    printf("]%s\n", llff ? " (LLFF poses_bounds)" : "");
    gs_tensor_free(&t);
    return llff ? info_cameras(path) : 0;
}

static int has_magic(const char *path, const char *magic, size_t n) {
    unsigned char buf[16] = {0};
    FILE *f;
    if (gs_fopen_regular(path, &f)) return 0;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n && !memcmp(buf, magic, n);
}

static int is_image(const char *path) {
    uint8_t head[16];
    FILE *f;
    if (gs_fopen_regular(path, &f)) return 0;
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    return gs_image_sniff(head, got) != NULL;
}

static int info_one(const char *path, int all) {
    if (gs_is_dir(path)) return info_cameras(path);
    if (!gs_file_exists(path)) {
        fprintf(stderr, "gs info: error: %s: no such file\n", path);
        return 1;
    }
    int fd;
    if (gs_open_regular(path, &fd)) return cli_fail("info", GS_ERR_IO); /* a FIFO would block every reader */
    close(fd);
    if (gs_path_ends_with(path, ".safetensors")) return info_safetensors(path, all);
    if (gs_path_ends_with(path, ".exr") || has_magic(path, "\x76\x2f\x31\x01", 4)) return info_exr(path);
    if (gs_path_ends_with(path, ".npy")) return info_npy(path);
    if (gs_path_ends_with(path, ".json") || gs_path_ends_with(path, "cameras.txt") ||
        gs_path_ends_with(path, "images.txt") || gs_path_ends_with(path, "cameras.bin") ||
        gs_path_ends_with(path, "images.bin") || gs_path_ends_with(path, "points3D.bin") ||
        gs_path_ends_with(path, "points3D.txt"))
        return info_cameras(path);
    if (is_image(path)) return info_image(path);
    if (gs_path_ends_with(path, ".ply") || gs_path_ends_with(path, ".splat") || gs_path_ends_with(path, ".spz") ||
        gs_path_ends_with(path, ".glb") || has_magic(path, "ply", 3) || has_magic(path, "NGSP", 4) ||
        has_magic(path, "glTF", 4))
        return info_scene(path);
    fprintf(stderr, "gs info: error: %s: unrecognised file type (see 'gs info --help')\n", path);
    return 1;
}

static int run(int argc, char **argv) {
    int all = 0, nfiles = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--all")) all = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error(&cmd_info_def, "unknown option '%s'", argv[i]);
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--all")) continue;
        nfiles++;
        if (info_one(argv[i], all)) rc = 1;
    }
    if (!nfiles) return cli_usage_error(&cmd_info_def, "no FILE given");
    return rc;
}

const gs_command cmd_info_def = {"info", run, "describe a file: checkpoint, splats, image, depth map, cameras", k_usage};
