/* cmd_infer.c - `gs infer`: photos -> depth, confidence, cameras and a point
 * cloud with a Depth Anything 3 checkpoint, on the CPU. */
#include "gs/cli/cli.h"
#include "gs/cli/outdir.h"
#include "gs/cli/scene_points.h"
#include "gs/core/progress.h"
#include "gs/model/da3.h"
#include "gs/model/da3_points.h"
#include "backbone/preprocess.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/npy.h"
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char k_usage[] =
    "usage: gs infer --model PATH IMAGES... --out DIR [options]\n"
    "\n"
    "Run Depth Anything 3 on one or more photos (views of one scene, any size; they are\n"
    "resized as the official code does) and write per view:\n"
    "  DIR/depth/NAME.exr, DIR/depth/NAME.png   depth (float EXR) and a colourised PNG\n"
    "  DIR/conf/NAME.exr                         depth confidence (any-view models)\n"
    "  DIR/processed/NAME.png                    the processed image the network saw\n"
    "and for the scene:\n"
    "  DIR/cameras.json                          predicted cameras (gs-cameras JSON)\n"
    "  DIR/sparse/0/                             COLMAP binary model: cameras at the photos' own\n"
    "                                            sizes, images named as given, points3D from the\n"
    "                                            confident depth with multi-view tracks\n"
    "  DIR/images/FILE                           the photos under those names (a copy; a video\n"
    "                                            frame as PNG): DIR is a COLMAP dataset\n"
    "  DIR/points.ply                            a coloured point cloud of the confident depth\n"
    "  DIR/scene.glb                             that cloud and the camera frusta (as DA3's GLB export)\n"
    "  DIR/gaussians.ply                         3D Gaussians (--gs; da3-giant, da3nested-giant-large),\n"
    "                                            pruned as the official gs_ply export (options below)\n"
    "\n"
    CLI_INPUT_HELP
    "  --model PATH          Hugging Face model folder (config.json + model.safetensors) or a\n"
    "                        .safetensors file (then --config NAME)\n"
    "  --config NAME         da3-small, da3-base, da3-large, da3-giant, da3metric-large,\n"
    "                        da3mono-large, da3nested-giant-large, or a config.json path\n"
    "  --out DIR             output folder (created); one that holds an earlier run's results is\n"
    "                        refused unless --overwrite\n"
    "  --overwrite           remove the earlier run's files in DIR first (only those gs listed in\n"
    "                        DIR/.gs-outputs; other files are never touched)\n"
    "  --process-res N       longest side of the network input (default 504, at most 2048; a\n"
    "                        multiple of 14 after rounding, as the reference)\n"
    "  --process-res-method M  upper_bound_resize (default), lower_bound_resize,\n"
    "                        upper_bound_crop, lower_bound_crop\n"
    "  --ref-view STRATEGY   reference view for 3+ views: saddle_balanced (default), first,\n"
    "                        middle, saddle_sim_range\n"
    "  --cameras FILE        known cameras of the photos (any camera file gs reads; matched by\n"
    "                        image name, else by order): pose-conditioned depth, and the output\n"
    "                        cameras are yours, with depth rescaled to them (as the reference)\n"
    "  --ray-pose            cameras from the ray head (slower, often more accurate)\n"
    "  --gs                  also predict 3D Gaussians (models with a GS head); with --gs:\n"
    CLI_EXPORT_USAGE
    "  --max-points N        point cloud size cap (default 1000000; 0 = no point cloud, and\n"
    "                        no COLMAP points)\n"
    "  --colmap-text         write sparse/0 as COLMAP text (.txt) instead of binary\n"
    "  --dump DIR            write every named intermediate tensor as DIR/NAME.npy (debugging)\n"
    "  --threads N           CPU threads (default: all cores)\n"
    "  --quiet               no progress and timings\n";

typedef struct {
    const char *dir;
    int count;
    gs_status st;
} dump_ctx;

static void dump_npy(void *ctx, const char *name, const float *data, int ndim, const int64_t *shape) {
    dump_ctx *d = ctx;
    if (d->st) return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.npy", d->dir, name);
    gs_tensor t;
    gs_tensor_wrap(&t, GS_F32, ndim, shape, (void *)data);
    d->st = gs_npy_write(path, &t);
    d->count++;
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* np.percentile (linear) of n values. */
static float percentile(const float *v, size_t n, double pct) {
    float *s = malloc(n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_f);
    double pos = pct / 100.0 * (double)(n - 1);
    size_t lo = (size_t)pos, hi = lo + 1 < n ? lo + 1 : lo;
    float r = (float)(s[lo] + (pos - (double)lo) * (s[hi] - s[lo]));
    free(s);
    return r;
}

static gs_status write_cameras(const char *out, const gs_da3_prediction *p, char **names, cli_outdir *od) {
    gs_cameras c;
    gs_status st0 = gs_da3_cameras(p, 0, (const char *const *)names, ".png", &c);
    if (st0) return st0;
    char path[1024];
    gs_status st = gs_cameras_write_json(gs_path_join(path, sizeof path, out, "cameras.json"), &c);
    if (!st) st = cli_outdir_add(od, "cameras.json");
    free(c.cams);
    return st;
}

static gs_status write_outputs(const char *out, const gs_da3_prediction *p, char **names, int64_t max_points,
                               const cli_export_opts *eo, int quiet, cli_outdir *od) {
    char dir[1024], path[1100];
    const char *subs[] = {"depth", "processed", p->depth_conf ? "conf" : NULL};
    for (int i = 0; i < 3; i++) {
        if (!subs[i]) continue;
        gs_status st = gs_mkdirs(gs_path_join(dir, sizeof dir, out, subs[i]));
        if (st) return st;
    }
    const size_t HW = (size_t)p->H * p->W;
    for (int v = 0; v < p->S; v++) {
        const float *d = p->depth + v * HW;
        snprintf(path, sizeof path, "%s/depth/%s.exr", out, names[v]);
        gs_status st = gs_exr_write_depth(path, d, p->W, p->H);
        if (!st) st = cli_outdir_add(od, path);
        if (st) return st;
        /* colourised inverse depth between robust percentiles, near = warm */
        float *inv = malloc(HW * sizeof *inv);
        if (!inv) return gs_error(GS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < HW; i++) inv[i] = d[i] > 0 ? 1.0f / d[i] : 0.0f;
        float lo = percentile(inv, HW, 2.0), hi = percentile(inv, HW, 98.0);
        gs_image im;
        st = gs_colorize(inv, p->W, p->H, lo, hi > lo ? hi : lo + 1e-6f, 0, &im);
        free(inv);
        if (st) return st;
        snprintf(path, sizeof path, "%s/depth/%s.png", out, names[v]);
        st = gs_image_write_png(path, &im, 8);
        gs_image_free(&im);
        if (!st) st = cli_outdir_add(od, path);
        if (st) return st;
        if (p->depth_conf) {
            snprintf(path, sizeof path, "%s/conf/%s.exr", out, names[v]);
            if ((st = gs_exr_write_depth(path, p->depth_conf + v * HW, p->W, p->H)) || (st = cli_outdir_add(od, path))) return st;
        }
        if ((st = gs_image_alloc(&im, p->W, p->H, 3))) return st;
        for (size_t i = 0; i < HW * 3; i++) im.data[i] = p->images[v * HW * 3 + i] / 255.0f;
        snprintf(path, sizeof path, "%s/processed/%s.png", out, names[v]);
        st = gs_image_write_png(path, &im, 8);
        gs_image_free(&im);
        if (!st) st = cli_outdir_add(od, path);
        if (st) return st;
    }
    if (p->extrinsics && p->intrinsics) {
        gs_status st = write_cameras(out, p, names, od);
        if (st) return st;
        if (max_points > 0) {
            int64_t n = 0;
            char glb[1100];
            snprintf(glb, sizeof glb, "%s/scene.glb", out);
            if ((st = cli_write_points(gs_path_join(path, sizeof path, out, "points.ply"), glb, p, max_points, &n)) ||
                (st = cli_outdir_add(od, "points.ply")) || (st = cli_outdir_add(od, "scene.glb")))
                return st;
            if (!quiet) fprintf(stderr, "gs infer: %s/points.ply, %s: %lld point%s\n", out, glb, (long long)n, n == 1 ? "" : "s");
        }
    }
    if (p->gaussians.n > 0) {
        gs_status st = cli_export_gaussians("infer", out, eo, &p->gaussians, p->depth, quiet, od);
        if (st) return st;
    }
    return GS_OK;
}

/* Stage progress on stderr (the network reports each stage as it starts). */
static int run(int argc, char **argv) {
    const char *model = NULL, *config = NULL, *out = NULL, *cams_path = NULL, *dump_dir = NULL;
    gs_da3_options o;
    gs_da3_options_default(&o);
    long max_points = 1000000;
    int overwrite = 0;
    int colmap_text = 0;
    cli_export_opts eo;
    cli_export_opts_default(&eo);
    char **images = calloc((size_t)argc, sizeof *images);
    int S = 0, r;
    cli_input_opts in;
    cli_input_opts_default(&in);
    if (!images) return 1;
#define NEED_ARG() do { if (i + 1 >= argc) { free(images); return cli_usage_error(&cmd_infer_def, "%s needs a value", a); } } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v;
        int ex = cli_export_parse(&eo, argc, argv, &i);
        if (ex < 0) { free(images); return cli_usage_error(&cmd_infer_def, "%s", gs_last_error()); }
        if (ex > 0) continue;
        if (!strcmp(a, "--model")) { NEED_ARG(); model = argv[++i]; }
        else if ((r = cli_input_option(&cmd_infer_def, argc, argv, &i, &in))) { if (r < 0) { free(images); return 2; } }
        else if (!strcmp(a, "--config")) { NEED_ARG(); config = argv[++i]; }
        else if (!strcmp(a, "--out")) { NEED_ARG(); out = cli_dir_arg(argv[++i]); }
        else if (!strcmp(a, "--cameras")) { NEED_ARG(); cams_path = argv[++i]; }
        else if (!strcmp(a, "--dump")) { NEED_ARG(); dump_dir = cli_dir_arg(argv[++i]); }
        else if (!strcmp(a, "--ray-pose")) o.use_ray_pose = 1;
        else if (!strcmp(a, "--gs")) o.infer_gs = 1;
        else if (!strcmp(a, "--quiet")) o.quiet = 1;
        else if (!strcmp(a, "--overwrite")) overwrite = 1;
        else if (!strcmp(a, "--colmap-text")) colmap_text = 1;
        else if (!strcmp(a, "--process-res")) {
            NEED_ARG();
            if (!cli_parse_int(argv[++i], 14, GS_DA3_MAX_PROCESS_RES, &v)) { free(images); return cli_usage_error(&cmd_infer_def, "--process-res must be 14..%d", GS_DA3_MAX_PROCESS_RES); }
            o.process_res = (int)v;
        } else if (!strcmp(a, "--process-res-method")) {
            NEED_ARG();
            gs_da3_resize_method rm;
            if (gs_da3_resize_method_parse(argv[++i], &rm)) { free(images); return cli_usage_error(&cmd_infer_def, "%s", gs_last_error()); }
            o.resize_method = (int)rm;
        } else if (!strcmp(a, "--ref-view")) {
            NEED_ARG();
            if (gs_ref_strategy_parse(argv[++i], &o.ref_strategy)) { free(images); return cli_usage_error(&cmd_infer_def, "%s", gs_last_error()); }
        } else if (!strcmp(a, "--max-points")) {
            NEED_ARG();
            if (!cli_parse_int(argv[++i], 0, 1L << 31, &max_points)) { free(images); return cli_usage_error(&cmd_infer_def, "bad --max-points"); }
        } else if (!strcmp(a, "--threads")) {
            NEED_ARG();
            if (!cli_parse_int(argv[++i], 1, 1024, &v)) { free(images); return cli_usage_error(&cmd_infer_def, "bad --threads"); }
            gs_set_num_threads((int)v);
        } else if (a[0] == '-' && a[1]) { free(images); return cli_usage_error(&cmd_infer_def, "unknown option '%s'", a); }
        else images[S++] = argv[i];
    }
#undef NEED_ARG
    if (!model) { free(images); return cli_usage_error(&cmd_infer_def, "--model PATH is required"); }
    if (!out) { free(images); return cli_usage_error(&cmd_infer_def, "--out DIR is required"); }
    if (!S) { free(images); return cli_usage_error(&cmd_infer_def, "no IMAGES given"); }
    if (eo.given && !o.infer_gs) { free(images); return cli_usage_error(&cmd_infer_def, "--export, --keep-all-gaussians, --max-depth-percentile, --sh-dc-only and --spz-version need --gs"); }
    /* the folders are checked before the photos, the model or the network (nothing is written yet) */
    if (dump_dir && cli_dir_writable("--dump", dump_dir)) { free(images); return cli_fail("infer", GS_ERR_IO); }
    if (dump_dir) { /* the dumps are written during the network, before DIR is prepared (and cleaned by --overwrite) */
        char da[4096], oa[4096];
        if (cli_path_abs(dump_dir, da, sizeof da) && cli_path_abs(out, oa, sizeof oa) &&
            (!strcmp(da, oa) || (!strncmp(da, oa, strlen(oa)) && da[strlen(oa)] == '/'))) {
            free(images);
            return cli_usage_error(&cmd_infer_def, "--dump %s is inside --out %s: give a folder outside it", dump_dir, out);
        }
    }
    cli_outdir od;
    if (cli_outdir_check(&od, "infer", out, overwrite, o.quiet)) { cli_outdir_free(&od); free(images); return 1; }

    int rc = 1;
    gs_status st;
    cli_photos ph;
    gs_da3_model m;
    memset(&m, 0, sizeof m);
    gs_da3_prediction p;
    memset(&p, 0, sizeof p);
    in.quiet = o.quiet;
    if (cli_photos_load("infer", images, S, &in, cams_path, &ph)) { cli_outdir_free(&od); free(images); return 1; }
    const int S0 = S; /* the arguments; S: the photos they gave */
    S = ph.n;
    char **names = ph.names;
    if ((st = gs_da3_check_input_cameras(ph.w2c, S))) { cli_fail("infer", gs_error_prefix(st, "--cameras %s", cams_path)); goto done; }
    for (int v = 0; v < S; v++) { /* no photo (nor any file of the user's) is written over */
        static const char *const fmt[4] = {"depth/%s.exr", "depth/%s.png", "conf/%s.exr", "processed/%s.png"};
        char rel[400];
        for (int k = 0; k < 4; k++) {
            snprintf(rel, sizeof rel, fmt[k], names[v]);
            if ((st = cli_outdir_free_path(&od, rel))) { cli_fail("infer", st); goto done; }
        }
    }
    if ((st = cli_photos_images_free(&ph, out, &od))) { cli_fail("infer", st); goto done; }
    static const char *const fixed[] = {"cameras.json", "points.ply", "scene.glb"};
    for (int k = 0; k < 3; k++)
        if ((st = cli_outdir_free_path(&od, fixed[k]))) { cli_fail("infer", st); goto done; }
    if ((o.infer_gs && (st = cli_export_paths_free(&eo, &od))) || (st = cli_outdir_free_tree(&od, "sparse"))) {
        cli_fail("infer", st);
        goto done;
    }
    /* nothing this run reads is among the earlier run's files that --overwrite removes */
    for (int k = 0; k < S0; k++)
        if ((st = cli_outdir_input(&od, images[k]))) { cli_fail("infer", st); goto done; }
    if ((cams_path && (st = cli_outdir_input(&od, cams_path))) || (st = cli_outdir_input(&od, model))) {
        cli_fail("infer", st);
        goto done;
    }
    double t0 = gs_now();
    if ((st = gs_da3_load(&m, model, config))) { cli_fail("infer", st); goto done; }
    if (o.infer_gs && !m.cfg.net.has_gs_head) { /* as gs nvs says it, before the network runs */
        fprintf(stderr, "gs infer: error: model %s (%s) has no 3DGS head; --gs needs da3-giant or "
                        "da3nested-giant-large (leave out --gs for depth and cameras)\n", m.cfg.model_name, model);
        goto done;
    }
    double t_load = gs_now() - t0;
    if (!o.quiet) {
        char desc[256];
        gs_da3_describe(&m, desc, sizeof desc);
        fprintf(stderr, "gs infer: %s loaded in %.2f s\n", desc, t_load);
        fprintf(stderr, "gs infer: %d view%s, %d threads\n", S, S == 1 ? "" : "s", gs_num_threads());
    }
    dump_ctx dc = {dump_dir, 0, GS_OK};
    gs_dump dump = {dump_npy, &dc};
    if (dump_dir) {
        if ((st = gs_mkdirs(dump_dir))) { cli_fail("infer", st); goto done; }
        o.dump = &dump;
    }
    cli_stage_clock_start();
    st = cli_da3_infer("infer", &m, &ph, &o, &p); /* stages, percent and ETA on stderr */
    if (st) { cli_fail("infer", st); goto done; }
    if (dump_dir && dc.st) { cli_fail("infer", dc.st); goto done; }
    if (!o.quiet) {
        if (p.cropped) fprintf(stderr, "gs infer: warning: the images differ in size; all were centre-cropped to %dx%d\n", p.W, p.H);
        if (p.ref_index >= 0) fprintf(stderr, "gs infer: reference view: %s\n", names[p.ref_index]);
        fprintf(stderr, "gs infer: network input %dx%d; preprocess %.0f ms, backbone %.0f ms, head %.0f ms, cameras %.0f ms",
                p.W, p.H, p.t_preprocess * 1e3, p.t_backbone * 1e3, p.t_head * 1e3, p.t_cameras * 1e3);
        if (p.gaussians.n) fprintf(stderr, ", gaussians %.0f ms", p.t_gs * 1e3);
        if (p.t_post > 0) fprintf(stderr, ", post %.0f ms", p.t_post * 1e3);
        fprintf(stderr, "; workspace %.1f MiB\n", (double)p.workspace_bytes / (1 << 20));
        if (p.is_metric) fprintf(stderr, "gs infer: metric depth (scale factor %.4g)\n", p.scale_factor);
        if (dump_dir) fprintf(stderr, "gs infer: %d tensors dumped to %s\n", dc.count, dump_dir);
    }
    if (!o.quiet) cli_print_stage((void *)"infer", "writing the outputs");
    if ((st = cli_outdir_prepare(&od)) || (st = write_outputs(out, &p, names, max_points, &eo, o.quiet, &od))) {
        cli_fail("infer", st);
        goto done;
    }
    if (p.extrinsics && p.intrinsics) {
        if ((st = cli_write_colmap("infer", out, &p, &ph, &o, max_points, colmap_text, &od))) { cli_fail("infer", st); goto done; }
    }
    if (!o.quiet) fprintf(stderr, "gs infer: wrote %s\n", out);
    rc = 0;
done:
    if (cli_outdir_finish(&od) && !rc) rc = cli_fail("infer", GS_ERR_IO);
    cli_outdir_free(&od);
    gs_da3_prediction_free(&p);
    gs_da3_free(&m);
    cli_photos_free(&ph);
    free(images);
    return rc;
}

const gs_command cmd_infer_def = {"infer", run, "Depth Anything 3: photos -> depth, confidence, cameras, points",
                                  k_usage};
