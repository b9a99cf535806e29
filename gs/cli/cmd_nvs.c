/* cmd_nvs.c - `gs nvs`: the product's main job. Photos in; Depth Anything 3
 * (a model with the 3DGS head) predicts depth, cameras and per-pixel
 * Gaussians; the splats are written (PLY/.splat/.spz) and rendered along a
 * camera trajectory by our rasterizer into an mp4. */
#include "gs/cli/cli.h"
#include "gs/model/da3.h"
#include "gs/core/device.h"
#include "data/video.h"
#include "backbone/preprocess.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/scene.h"
#include "raster/raster.h"
#include "raster/trajectory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char k_usage[] =
    "usage: gs nvs --model PATH IMAGES... --out DIR [options]\n"
    "\n"
    "Photos -> 3D Gaussians -> novel-view video. Needs a model with the 3DGS head (da3-giant or\n"
    "da3nested-giant-large). Writes DIR/gaussians.ply (SH degree 2; --export for more formats),\n"
    "DIR/cameras.json (the predicted input cameras, in the splats' frame) and DIR/video.mp4.\n"
    "\n"
    CLI_INPUT_HELP
    "  --model PATH          Hugging Face model folder or .safetensors (+ --config NAME)\n"
    "  --config NAME         configuration of a bare .safetensors\n"
    "  --out DIR             output folder (created)\n"
    "  --trajectory MODE     extend (default), interpolate, interpolate_smooth, smooth, wander,\n"
    "                        dolly_zoom, wobble_inter, orbit, original. With one photo every mode\n"
    "                        but dolly_zoom and orbit becomes wander, as in Depth Anything 3\n"
    "  --frames N            frames of the trajectory (default: the mode's own count)\n"
    "  --video-size WxH      video frame size (default: the network's input size)\n"
    "  --video-depth         put the colourised rendered depth beside the RGB\n"
    "  --no-video            only the splats\n"
    "  --save-frames         also write the frames as DIR/frames/NNNNN.png\n"
    "  --export LIST         splat files: ply, splat, spz, comma-separated (default ply)\n"
    "  --prune-border        drop Gaussians of the border pixels (8/256 of each side), as DA3's PLY export\n"
    "  --max-depth-percentile P  drop Gaussians deeper than the view's P-th depth percentile (DA3: 90)\n"
    "  --sh-dc-only          write only the DC colour (DA3's PLY export does)\n"
    "  --cameras FILE        known cameras of the photos: pose-conditioned prediction\n"
    "  --process-res N       network input size (default 504, at most 2048)\n"
    "  --ref-view STRATEGY   saddle_balanced (default), first, middle, saddle_sim_range\n"
    "  --device cpu|cuda     where to render (default auto)\n"
    "  --threads N           CPU threads (default: all)\n"
    "  --quiet               no progress and timings\n";

static gs_status write_exports(const char *out, const char *list, const gs_scene *sc, int quiet) {
    char buf[256], path[1100];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        gs_status st;
        snprintf(path, sizeof path, "%s/gaussians.%s", out, f);
        if (!strcmp(f, "ply")) st = gs_ply_write(path, sc);
        else if (!strcmp(f, "splat")) st = gs_splat_write(path, sc);
        else if (!strcmp(f, "spz")) st = gs_spz_write(path, sc, 3);
        else return gs_error(GS_ERR_INVALID, "--export: unknown format '%s' (ply, splat, spz)", f);
        if (st) return st;
        if (!quiet) fprintf(stderr, "gs nvs: wrote %s (%lld Gaussians)\n", path, (long long)sc->n);
    }
    return GS_OK;
}

/* Stage progress on stderr (the network reports each stage as it starts). */
static int run(int argc, char **argv) {
    const char *model = NULL, *config = NULL, *out = NULL, *cams_path = NULL, *exports = "ply", *traj_s = "extend";
    int frames = 0, vw = 0, vh = 0, video_depth = 0, no_video = 0, save_frames = 0, prune_border = 0, dc_only = 0;
    double depth_pct = 100.0;
    gs_device dev_req = GS_DEVICE_AUTO;
    gs_da3_options o;
    gs_da3_options_default(&o);
    o.infer_gs = 1;
    char **images = calloc((size_t)argc, sizeof *images);
    int S = 0, ir;
    cli_input_opts in;
    cli_input_opts_default(&in);
    if (!images) return 1;
#define FAIL_USAGE(...) do { free(images); return cli_usage_error(&cmd_nvs_def, __VA_ARGS__); } while (0)
#define NEED() do { if (i + 1 >= argc) FAIL_USAGE("%s needs a value", a); } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v;
        double d;
        if (!strcmp(a, "--model")) { NEED(); model = argv[++i]; }
        else if ((ir = cli_input_option(&cmd_nvs_def, argc, argv, &i, &in))) { if (ir < 0) { free(images); return 2; } }
        else if (!strcmp(a, "--config")) { NEED(); config = argv[++i]; }
        else if (!strcmp(a, "--out")) { NEED(); out = argv[++i]; }
        else if (!strcmp(a, "--cameras")) { NEED(); cams_path = argv[++i]; }
        else if (!strcmp(a, "--export")) { NEED(); exports = argv[++i]; }
        else if (!strcmp(a, "--trajectory")) { NEED(); traj_s = argv[++i]; }
        else if (!strcmp(a, "--frames")) { NEED(); if (!cli_parse_int(argv[++i], 1, 100000, &v)) FAIL_USAGE("bad --frames"); frames = (int)v; }
        else if (!strcmp(a, "--video-size")) {
            NEED();
            if (sscanf(argv[++i], "%dx%d", &vw, &vh) != 2 || vw < 8 || vh < 8 || vw > 8192 || vh > 8192) FAIL_USAGE("--video-size must be WxH, 8..8192");
        } else if (!strcmp(a, "--video-depth")) video_depth = 1;
        else if (!strcmp(a, "--no-video")) no_video = 1;
        else if (!strcmp(a, "--save-frames")) save_frames = 1;
        else if (!strcmp(a, "--prune-border")) prune_border = 1;
        else if (!strcmp(a, "--sh-dc-only")) dc_only = 1;
        else if (!strcmp(a, "--max-depth-percentile")) {
            NEED();
            if (!cli_parse_double(argv[++i], &d) || !(d > 0 && d <= 100)) FAIL_USAGE("--max-depth-percentile must be in (0, 100]");
            depth_pct = d;
        } else if (!strcmp(a, "--process-res")) { NEED(); if (!cli_parse_int(argv[++i], 14, GS_DA3_MAX_PROCESS_RES, &v)) FAIL_USAGE("--process-res must be 14..%d", GS_DA3_MAX_PROCESS_RES); o.process_res = (int)v; }
        else if (!strcmp(a, "--ref-view")) { NEED(); if (gs_ref_strategy_parse(argv[++i], &o.ref_strategy)) FAIL_USAGE("%s", gs_last_error()); }
        else if (!strcmp(a, "--device")) { NEED(); if (gs_device_parse(argv[++i], &dev_req)) FAIL_USAGE("%s", gs_last_error()); }
        else if (!strcmp(a, "--threads")) { NEED(); if (!cli_parse_int(argv[++i], 1, 1024, &v)) FAIL_USAGE("bad --threads"); gs_set_num_threads((int)v); }
        else if (!strcmp(a, "--quiet")) o.quiet = 1;
        else if (a[0] == '-' && a[1]) FAIL_USAGE("unknown option '%s'", a);
        else images[S++] = argv[i];
    }
#undef NEED
    if (!model) FAIL_USAGE("--model PATH is required");
    if (!out) FAIL_USAGE("--out DIR is required");
    if (!S) FAIL_USAGE("no IMAGES given");
    gs_traj_mode mode;
    if (gs_traj_mode_parse(traj_s, &mode)) FAIL_USAGE("%s", gs_last_error());
#undef FAIL_USAGE
    const int quiet = o.quiet;
    int rc = 1;
    gs_status st;
    cli_photos ph;
    gs_da3_model m;
    gs_da3_prediction p;
    gs_scene full, exp;
    gs_cameras in_cams = {0, NULL}, path = {0, NULL};
    memset(&m, 0, sizeof m);
    memset(&p, 0, sizeof p);
    memset(&full, 0, sizeof full);
    memset(&exp, 0, sizeof exp);
    gs_raster_cuda *gpu = NULL;
    double t0 = gs_now();
    in.quiet = quiet;
    if (cli_photos_load("nvs", images, S, &in, cams_path, &ph)) { free(images); return 1; }
    S = ph.n;
    char **names = ph.names;
    if ((st = gs_da3_load(&m, model, config))) { cli_fail("nvs", st); goto done; }
    if (!m.cfg.net.has_gs_head) {
        fprintf(stderr, "gs nvs: error: model %s (%s) has no 3DGS head; novel views need da3-giant or "
                        "da3nested-giant-large (gs infer runs the other models)\n", m.cfg.model_name, model);
        goto done;
    }
    double t_load = gs_now() - t0;
    if (!quiet) {
        char desc[256];
        gs_da3_describe(&m, desc, sizeof desc);
        fprintf(stderr, "gs nvs: %s loaded in %.2f s; %d photo%s\n", desc, t_load, S, S == 1 ? "" : "s");
    }
    if ((st = gs_mkdirs(out))) { cli_fail("nvs", st); goto done; }
    double t1 = gs_now();
    cli_stage_clock_start();
    if (!o.quiet) {
        o.on_stage = cli_print_stage;
        o.stage_ctx = (void *)"nvs";
    }
    if ((st = gs_da3_infer(&m, ph.imgs, S, ph.w2c, ph.K, &o, &p))) { cli_fail("nvs", st); goto done; }
    if (!quiet)
        fprintf(stderr, "gs nvs: network %.2f s (preprocess %.0f ms, backbone %.0f ms, head %.0f ms, cameras %.0f ms, "
                        "Gaussians %.0f ms) at %dx%d: %lld Gaussians\n",
                gs_now() - t1, p.t_preprocess * 1e3, p.t_backbone * 1e3, p.t_head * 1e3, p.t_cameras * 1e3,
                p.t_gs * 1e3, p.W, p.H, (long long)p.gaussians.n);

    /* splat files (pruned as asked) and the full scene for rendering */
    gs_gs_export_opts eo;
    gs_gs_export_opts_default(&eo);
    eo.prune_border = prune_border;
    eo.depth_quantile = depth_pct >= 100.0 ? 2.0f : (float)(depth_pct / 100.0);
    eo.dc_only = dc_only;
    gs_gs_export_info info;
    if ((st = gs_gaussians_export_scene(&p.gaussians, p.depth, &eo, &exp, &info))) { cli_fail("nvs", st); goto done; }
    if (info.border_emptied && !quiet)
        fprintf(stderr, "gs nvs: warning: --prune-border on images under 32 pixels removes every Gaussian (as DA3)\n");
    if ((st = write_exports(out, exports, &exp, quiet))) { cli_fail("nvs", st); goto done; }
    if ((st = gs_da3_cameras(&p, 1, (const char *const *)names, NULL, &in_cams))) { cli_fail("nvs", st); goto done; }
    {
        char cpath[1100];
        snprintf(cpath, sizeof cpath, "%s/cameras.json", out);
        if ((st = gs_cameras_write_json(cpath, &in_cams))) { cli_fail("nvs", st); goto done; }
    }
    if (no_video) { rc = 0; goto done; }

    if ((st = gs_gaussians_to_scene(&p.gaussians, GS_GS_SH_DEGREE, &full))) { cli_fail("nvs", st); goto done; }
    gs_traj_opts to;
    gs_traj_opts_default(&to);
    to.mode = mode;
    to.n_frames = frames;
    to.width = vw ? vw : p.W;
    to.height = vh ? vh : p.H;
    if ((st = gs_trajectory(&in_cams, &full, &to, &path))) { cli_fail("nvs", st); goto done; }
    gs_device dev = gs_device_resolve(dev_req);
    if (dev == GS_DEVICE_CUDA && (gs_raster_cuda_new(&gpu) || gs_raster_cuda_set_scene(gpu, &full))) {
        cli_fail("nvs", GS_ERR_DEVICE);
        goto done;
    }
    char vpath[1100], fdir[1100];
    snprintf(vpath, sizeof vpath, "%s/video.mp4", out);
    snprintf(fdir, sizeof fdir, "%s/frames", out);
    if (save_frames && (st = gs_mkdirs(fdir))) { cli_fail("nvs", st); goto done; }
    gs_video vid;
    memset(&vid, 0, sizeof vid);
    gs_raster_opts ro;
    gs_raster_opts_default(&ro);
    gs_progress pb;
    gs_progress_begin(&pb, "render", path.n, quiet);
    double t2 = gs_now();
    int have_range = 0;
    float dlo = 0, dhi = 0;
    st = GS_OK;
    for (int i = 0; i < path.n && !st; i++) {
        gs_raster_out r;
        st = gpu ? gs_render_cuda(gpu, &path.cams[i], &ro, &r) : gs_render_cpu(&full, &path.cams[i], &ro, &r);
        if (st) break;
        gs_image dimg;
        memset(&dimg, 0, sizeof dimg);
        if (video_depth && !have_range) /* one colour scale for the whole video */
            have_range = gs_depth_colour_range(r.depth, r.alpha, (size_t)r.width * r.height, &dlo, &dhi);
        if (video_depth) st = gs_colorize(r.depth, r.width, r.height, have_range ? dlo : 0, have_range ? dhi : 0, 1, &dimg);
        if (!st && !vid.pipe) st = gs_video_open(&vid, vpath, r.width * (video_depth ? 2 : 1), r.height, 24);
        if (!st) st = gs_video_frame(&vid, r.rgb, r.width, r.height, video_depth ? dimg.data : NULL, r.width);
        if (!st && save_frames) {
            char fp[1200];
            snprintf(fp, sizeof fp, "%s/%05d.png", fdir, i);
            gs_image im = {r.width, r.height, 3, 8, r.rgb};
            st = gs_image_write_png(fp, &im, 8);
        }
        gs_image_free(&dimg);
        gs_raster_out_free(&r);
        gs_progress_update(&pb, i + 1);
    }
    gs_progress_end(&pb);
    gs_status cst = gs_video_close(&vid, !st);
    if (!st) st = cst;
    if (st) { cli_fail("nvs", st); goto done; }
    if (!quiet)
        fprintf(stderr, "gs nvs: %d frames (%s, %dx%d) in %.2f s (%.0f ms a frame, %s); wrote %s\n", path.n,
                gs_traj_mode_name(mode), to.width, to.height, gs_now() - t2, 1e3 * (gs_now() - t2) / (path.n ? path.n : 1),
                gpu ? "CUDA" : "CPU", vpath);
    rc = 0;
done:
    gs_raster_cuda_free(gpu);
    gs_cameras_free(&path);
    gs_cameras_free(&in_cams);
    gs_scene_free(&full);
    gs_scene_free(&exp);
    gs_da3_prediction_free(&p);
    gs_da3_free(&m);
    cli_photos_free(&ph);
    free(images);
    return rc;
}

const gs_command cmd_nvs_def = {"nvs", run, "photos -> 3D Gaussians -> novel-view video (DA3 with the GS head)",
                                k_usage};
