/* cmd_nvs.c - `gs nvs`: the product's main job. Photos in; Depth Anything 3
 * (a model with the 3DGS head) predicts depth, cameras and per-pixel
 * Gaussians; the splats are written (PLY/.splat/.spz) and rendered along a
 * camera trajectory by our rasterizer into an mp4. */
#include "gs/cli/cli.h"
#include "gs/cli/outdir.h"
#include "gs/model/da3.h"
#include "gs/model/da3_points.h"
#include "gs/core/device.h"
#include "gs/core/progress.h"
#include "data/video.h"
#include "backbone/preprocess.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/scene.h"
#include "data/gltf.h"
#include "gs/cli/scene_points.h"
#include "raster/raster.h"
#include "raster/trajectory.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char k_usage[] =
    "usage: gs nvs --model PATH IMAGES... --out DIR [options]\n"
    "\n"
    "Photos -> 3D Gaussians -> novel-view video. Needs a model with the 3DGS head (da3-giant or\n"
    "da3nested-giant-large). Writes DIR/gaussians.ply (pruned as the official gs_ply export, SH\n"
    "degree 2; --export for more formats, --keep-all-gaussians for every Gaussian),\n"
    "DIR/cameras.json (the predicted input cameras, in the splats' frame), DIR/sparse/0 (a COLMAP\n"
    "binary model of the photos at their own sizes with points3D and tracks from the confident\n"
    "depth, in the frame of the predicted depth) with the photos in DIR/images, DIR/scene.glb\n"
    "(point cloud + camera frusta, as DA3's GLB export), DIR/video.mp4 and DIR/trajectory.json\n"
    "(the cameras of the video's frames, gs-cameras JSON).\n"
    "\n"
    CLI_INPUT_HELP
    "  --model PATH          Hugging Face model folder or .safetensors (+ --config NAME)\n"
    "  --config NAME         configuration of a bare .safetensors\n"
    "  --out DIR             output folder (created); one that holds an earlier run's results is\n"
    "                        refused unless --overwrite\n"
    "  --overwrite           remove the earlier run's files in DIR first (only those gs listed in\n"
    "                        DIR/.gs-outputs; other files are never touched)\n"
    "  --trajectory MODE     extend (default), interpolate, interpolate_smooth, smooth, wander,\n"
    "                        dolly_zoom, wobble_inter, orbit, original. With one photo every mode\n"
    "                        but dolly_zoom and orbit becomes wander, as in Depth Anything 3\n"
    "  --frames N            frames of the trajectory (default: the mode's own count)\n"
    "  --video-size WxH      video frame size (default: the network's input size)\n"
    "  --vis-depth MODE      the colourised rendered depth beside the RGB: hcat (default, to the\n"
    "                        right), vcat (below), none; an 8-pixel white gap between, as DA3\n"
    "                        (--video-depth, the older flag, is hcat)\n"
    "  --video-quality Q     high (default: libx264 crf 18, preset slow), medium (crf 23, medium),\n"
    "                        low (crf 28, veryfast): Depth Anything 3's video qualities\n"
    "  --no-video            only the splats\n"
    "  --save-frames         also write the frames as DIR/frames/NNNNN.png\n"
    CLI_EXPORT_USAGE
    "  --cameras FILE        known cameras of the photos: pose-conditioned prediction\n"
    "  --max-points N        point cap of scene.glb and of sparse/0's points3D (default 1000000;\n"
    "                        0 = no scene.glb, and cameras only in sparse/0)\n"
    "  --colmap-text         write sparse/0 as COLMAP text (.txt) instead of binary\n"
    "  --process-res N       network input size (default 504, at most 2048)\n"
    "  --ref-view STRATEGY   saddle_balanced (default), first, middle, saddle_sim_range\n"
    "  --device cpu|cuda     where to render (default auto)\n"
    "  --threads N           CPU threads (default: all)\n"
    "  --quiet               no progress and timings\n";

/* Stage progress on stderr (the network reports each stage as it starts). */
static int run(int argc, char **argv) {
    const char *model = NULL, *config = NULL, *out = NULL, *cams_path = NULL, *traj_s = "extend";
    int frames = 0, vw = 0, vh = 0, no_video = 0, save_frames = 0, overwrite = 0;
    gs_video_panel panel = GS_VIDEO_PANEL_HCAT; /* DA3's gs_video default */
    gs_video_quality quality = GS_VIDEO_HIGH;
    long max_points = 1000000;
    int colmap_text = 0;
    cli_export_opts eo;
    cli_export_opts_default(&eo);
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
        int ex = cli_export_parse(&eo, argc, argv, &i);
        if (ex < 0) FAIL_USAGE("%s", gs_last_error());
        if (ex > 0) continue;
        if (!strcmp(a, "--model")) { NEED(); model = argv[++i]; }
        else if ((ir = cli_input_option(&cmd_nvs_def, argc, argv, &i, &in))) { if (ir < 0) { free(images); return 2; } }
        else if (!strcmp(a, "--config")) { NEED(); config = argv[++i]; }
        else if (!strcmp(a, "--out")) { NEED(); out = cli_dir_arg(argv[++i]); }
        else if (!strcmp(a, "--cameras")) { NEED(); cams_path = argv[++i]; }
        else if (!strcmp(a, "--trajectory")) { NEED(); traj_s = argv[++i]; }
        else if (!strcmp(a, "--frames")) { NEED(); if (!cli_parse_int(argv[++i], 1, 100000, &v)) FAIL_USAGE("bad --frames"); frames = (int)v; }
        else if (!strcmp(a, "--video-size")) {
            NEED();
            if (sscanf(argv[++i], "%dx%d", &vw, &vh) != 2 || vw < 8 || vh < 8 || vw > 8192 || vh > 8192) FAIL_USAGE("--video-size must be WxH, 8..8192");
        } else if (!strcmp(a, "--video-depth")) panel = GS_VIDEO_PANEL_HCAT; /* the default now */
        else if (!strcmp(a, "--vis-depth")) { NEED(); if (gs_video_panel_parse(argv[++i], &panel)) FAIL_USAGE("--vis-depth: %s", gs_last_error()); }
        else if (!strcmp(a, "--video-quality")) { NEED(); if (gs_video_quality_parse(argv[++i], &quality)) FAIL_USAGE("--video-quality: %s", gs_last_error()); }
        else if (!strcmp(a, "--overwrite")) overwrite = 1;
        else if (!strcmp(a, "--no-video")) no_video = 1;
        else if (!strcmp(a, "--save-frames")) save_frames = 1;
        else if (!strcmp(a, "--colmap-text")) colmap_text = 1;
        else if (!strcmp(a, "--max-points")) { NEED(); if (!cli_parse_int(argv[++i], 0, 1L << 31, &v)) FAIL_USAGE("bad --max-points"); max_points = v; }
        else if (!strcmp(a, "--process-res")) { NEED(); if (!cli_parse_int(argv[++i], 14, GS_DA3_MAX_PROCESS_RES, &v)) FAIL_USAGE("--process-res must be 14..%d", GS_DA3_MAX_PROCESS_RES); o.process_res = (int)v; }
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
    /* everything the options decide is checked here, before the photos, the model or the network */
    if (save_frames && no_video) FAIL_USAGE("--save-frames writes the video's frames: not with --no-video");
    int expands = 0; /* a folder or a video: the photo count is known once they are listed */
    for (int k = 0; k < S; k++) expands |= gs_is_dir(images[k]) || gs_video_ext_known(images[k]);
    if (!no_video && !expands && gs_traj_check(mode, S, frames))
        FAIL_USAGE("--trajectory %s%s with %d photo%s: %s", traj_s, frames ? " --frames" : "", S, S == 1 ? "" : "s",
                   gs_last_error());
    if (!no_video && vw) {
        int fw, fh;
        gs_video_panel_size(panel, vw, vh, &fw, &fh);
        if (fw > GS_VIDEO_MAX_SIDE || fh > GS_VIDEO_MAX_SIDE)
            FAIL_USAGE("--video-size %dx%d with --vis-depth %s makes %dx%d frames, over the %d the video takes", vw, vh,
                       gs_video_panel_name(panel), fw, fh, GS_VIDEO_MAX_SIDE);
    }
    gs_traj_mode eff_mode = gs_traj_effective_mode(mode, S);
#undef FAIL_USAGE
    const int quiet = o.quiet;
    char vpath[1100], fdir[1100];
    snprintf(vpath, sizeof vpath, "%s/video.mp4", out);
    snprintf(fdir, sizeof fdir, "%s/frames", out);
    if (!no_video && gs_video_find_ffmpeg(vpath)) { free(images); return cli_fail("nvs", GS_ERR_IO); }
    cli_outdir od;
    if (cli_outdir_check(&od, "nvs", out, overwrite, quiet)) { cli_outdir_free(&od); free(images); return 1; }
    {   /* no file of the user's is written over */
        gs_status fst = cli_export_paths_free(&eo, &od);
        if (!fst) fst = cli_outdir_free_path(&od, "cameras.json");
        if (!fst) fst = cli_outdir_free_path(&od, "scene.glb");
        if (!fst && !no_video) fst = cli_outdir_free_path(&od, "video.mp4");
        if (!fst && !no_video) fst = cli_outdir_free_path(&od, "trajectory.json");
        if (!fst) fst = cli_outdir_free_tree(&od, "sparse");
        if (!fst && save_frames) fst = cli_outdir_free_tree(&od, "frames");
        /* nothing this run reads is among the earlier run's files that --overwrite removes */
        for (int k = 0; k < S && !fst; k++) fst = cli_outdir_input(&od, images[k]);
        if (!fst && cams_path) fst = cli_outdir_input(&od, cams_path);
        if (!fst) fst = cli_outdir_input(&od, model);
        if (fst) { cli_outdir_free(&od); free(images); return cli_fail("nvs", fst); }
    }
    int rc = 1;
    gs_status st;
    cli_photos ph;
    gs_da3_model m;
    gs_da3_prediction p;
    gs_scene full;
    gs_cameras in_cams = {0, NULL}, path = {0, NULL};
    memset(&m, 0, sizeof m);
    memset(&p, 0, sizeof p);
    memset(&full, 0, sizeof full);
    gs_raster_cuda *gpu = NULL;
    double t0 = gs_now();
    in.quiet = quiet;
    if (cli_photos_load("nvs", images, S, &in, cams_path, &ph)) { cli_outdir_free(&od); free(images); return 1; }
    if (ph.n != S) { /* a folder or a video: the trajectory is checked again with the photos' count */
        S = ph.n;
        if (!no_video && gs_traj_check(mode, S, frames)) {
            fprintf(stderr, "gs nvs: error: --trajectory %s%s with %d photo%s: %s\n", traj_s, frames ? " --frames" : "",
                    S, S == 1 ? "" : "s", gs_last_error());
            goto done;
        }
        eff_mode = gs_traj_effective_mode(mode, S);
    }
    char **names = ph.names;
    if ((st = gs_da3_check_input_cameras(ph.w2c, S))) { cli_fail("nvs", gs_error_prefix(st, "--cameras %s", cams_path)); goto done; }
    if ((st = cli_photos_images_free(&ph, out, &od))) { cli_fail("nvs", st); goto done; }
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
    double t1 = gs_now();
    cli_stage_clock_start();
    st = cli_da3_infer("nvs", &m, &ph, &o, &p); /* stages, percent and ETA on stderr */
    if (st) { cli_fail("nvs", st); goto done; }
    if (!quiet)
        fprintf(stderr, "gs nvs: network %.2f s (preprocess %.0f ms, backbone %.0f ms, head %.0f ms, cameras %.0f ms, "
                        "Gaussians %.0f ms) at %dx%d: %lld Gaussians\n",
                gs_now() - t1, p.t_preprocess * 1e3, p.t_backbone * 1e3, p.t_head * 1e3, p.t_cameras * 1e3,
                p.t_gs * 1e3, p.W, p.H, (long long)p.gaussians.n);

    /* splat files (pruned as the official export unless asked) and the full scene for rendering */
    if ((st = cli_outdir_prepare(&od))) { cli_fail("nvs", st); goto done; }
    if (!quiet) cli_print_stage((void *)"nvs", "writing the splats");
    if ((st = cli_export_gaussians("nvs", out, &eo, &p.gaussians, p.depth, quiet, &od))) { cli_fail("nvs", st); goto done; }
    if ((st = gs_da3_cameras(&p, 1, (const char *const *)names, NULL, &in_cams))) { cli_fail("nvs", st); goto done; }
    if (p.extrinsics && p.intrinsics && max_points > 0) { /* DA3's scene.glb: points + camera frusta */
        char gpath[1100];
        int64_t np = 0;
        snprintf(gpath, sizeof gpath, "%s/scene.glb", out);
        if ((st = cli_write_points(NULL, gpath, &p, max_points, &np)) || (st = cli_outdir_add(&od, gpath))) { cli_fail("nvs", st); goto done; }
        if (!quiet) fprintf(stderr, "gs nvs: wrote %s (%lld point%s, %d camera%s)\n", gpath, (long long)np, np == 1 ? "" : "s", p.S, p.S == 1 ? "" : "s");
    }
    {
        char cpath[1100];
        snprintf(cpath, sizeof cpath, "%s/cameras.json", out);
        if ((st = gs_cameras_write_json(cpath, &in_cams)) || (st = cli_outdir_add(&od, cpath))) { cli_fail("nvs", st); goto done; }
    }
    if (p.extrinsics && p.intrinsics) { /* the output cameras with their own depth */
        if ((st = cli_write_colmap("nvs", out, &p, &ph, &o, max_points, colmap_text, &od))) { cli_fail("nvs", st); goto done; }
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
    if (!quiet && eff_mode != mode)
        fprintf(stderr, "gs nvs: one photo: trajectory %s (as Depth Anything 3; %s needs two or more views)\n",
                gs_traj_mode_name(eff_mode), gs_traj_mode_name(mode));
    if (save_frames && (st = gs_mkdirs(fdir))) { cli_fail("nvs", st); goto done; }
    gs_video vid;
    memset(&vid, 0, sizeof vid);
    gs_raster_opts ro;
    gs_raster_opts_default(&ro);
    gs_progress pb;
    gs_progress_begin(&pb, "render", path.n, quiet);
    double t2 = gs_now();
    int have_range = 0, fw, fh;
    float dlo = 0, dhi = 0;
    gs_video_panel_size(panel, to.width, to.height, &fw, &fh);
    st = GS_OK;
    for (int i = 0; i < path.n && !st; i++) {
        gs_raster_out r;
        st = gpu ? gs_render_cuda(gpu, &path.cams[i], &ro, &r) : gs_render_cpu(&full, &path.cams[i], &ro, &r);
        if (st) break;
        gs_image dimg;
        memset(&dimg, 0, sizeof dimg);
        const int with_depth = panel != GS_VIDEO_PANEL_NONE;
        if (with_depth && !have_range) /* one colour scale for the whole video */
            have_range = gs_depth_colour_range(r.depth, r.alpha, (size_t)r.width * r.height, &dlo, &dhi);
        if (with_depth) st = gs_colorize(r.depth, r.width, r.height, have_range ? dlo : 0, have_range ? dhi : 0, 1, &dimg);
        if (!st && !vid.pipe) st = gs_video_open_quality(&vid, vpath, fw, fh, 24, quality);
        if (!st) st = gs_video_frame_panel(&vid, r.rgb, with_depth ? dimg.data : NULL, r.width, r.height, panel);
        if (!st && save_frames) {
            char fp[1200];
            snprintf(fp, sizeof fp, "%s/%05d.png", fdir, i);
            gs_image im = {r.width, r.height, 3, 8, r.rgb};
            st = gs_image_write_png(fp, &im, 8);
            if (!st) st = cli_outdir_add(&od, fp);
        }
        gs_image_free(&dimg);
        gs_raster_out_free(&r);
        gs_progress_update(&pb, i + 1);
    }
    gs_progress_end(&pb);
    gs_status cst = gs_video_close(&vid, !st);
    if (!st) st = cst;
    if (!st) st = cli_outdir_add(&od, vpath);
    if (st) { cli_fail("nvs", st); goto done; }
    {   /* the cameras of the frames, for gs render --cameras, gs info, or an evaluation */
        char tpath[1100];
        snprintf(tpath, sizeof tpath, "%s/trajectory.json", out);
        if ((st = gs_traj_write_json(tpath, &path)) || (st = cli_outdir_add(&od, tpath))) { cli_fail("nvs", st); goto done; }
    }
    if (!quiet)
        fprintf(stderr, "gs nvs: %d frame%s (%s, %dx%d) in %.2f s (%.0f ms a frame, %s); wrote %s\n", path.n,
                path.n == 1 ? "" : "s",
                gs_traj_mode_name(eff_mode), to.width, to.height, gs_now() - t2, 1e3 * (gs_now() - t2) / (path.n ? path.n : 1),
                gpu ? "CUDA" : "CPU", vpath);
    rc = 0;
done:
    if (cli_outdir_finish(&od) && !rc) rc = cli_fail("nvs", GS_ERR_IO);
    cli_outdir_free(&od);
    gs_raster_cuda_free(gpu);
    gs_cameras_free(&path);
    gs_cameras_free(&in_cams);
    gs_scene_free(&full);
    gs_da3_prediction_free(&p);
    gs_da3_free(&m);
    cli_photos_free(&ph);
    free(images);
    return rc;
}

const gs_command cmd_nvs_def = {"nvs", run, "photos -> 3D Gaussians -> novel-view video (DA3 with the GS head)",
                                k_usage};
