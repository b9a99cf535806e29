/* cmd_render.c - `gs render`: splats + cameras (or a generated trajectory:
 * Depth Anything 3's modes or an orbit) -> PNG frames, depth maps and an mp4,
 * on the CPU or with CUDA. */
#include "gs/cli/cli.h"
#include "gs/cli/outdir.h"
#include "gs/core/device.h"
#include "data/video.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/scene.h"
#include "raster/raster.h"
#include "raster/trajectory.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char k_usage[] =
    "usage: gs render SCENE (--cameras FILE | --trajectory MODE [--cameras FILE]) --out DIR [options]\n"
    "\n"
    "Render a splat scene (INRIA/compressed PLY, .splat, .spz, glTF .glb, point-cloud PLY) with the\n"
    "tile rasterizer.\n"
    "\n"
    "  --cameras FILE      render at each camera of FILE (gs-cameras JSON, transforms.json,\n"
    "                      INRIA cameras.json, COLMAP model folder, LLFF poses_bounds.npy);\n"
    "                      with --trajectory, the input views of the path\n"
    "  --trajectory MODE   a generated path. Depth Anything 3's modes, from the --cameras views:\n"
    "                        original, smooth, interpolate, interpolate_smooth,\n"
    "                        extend (interpolate + smooth, wander and dolly zoom in the middle),\n"
    "                        wander (122 frames around view 0), dolly_zoom (120), wobble_inter;\n"
    "                      with one view every mode but dolly_zoom is wander, as in DA3.\n"
    "                        orbit: a circle around the scene (centred where --cameras look, if given)\n"
    "  --frames N          frames of a trajectory (default: the mode's own count; orbit 120).\n"
    "                      wander, dolly_zoom, orbit: N frames; interpolate, interpolate_smooth,\n"
    "                      extend, wobble_inter: DA3's path resampled to N; original, smooth: fixed\n"
    "  --keep-pp           trajectories keep the cameras' principal point (DA3 centres it and\n"
    "                      derives the focal length from the field of view)\n"
    "  --out DIR           output folder: NAME.png per view (and DIR/depth/NAME.exr/.png with\n"
    "                      --depth, beside the frames, so gs eval --pred DIR scores the frames);\n"
    "                      with --trajectory also DIR/trajectory.json, the cameras it rendered.\n"
    "                      One that holds an earlier run's results is refused unless --overwrite\n"
    "  --overwrite         remove the earlier run's files in DIR first (only those gs listed in\n"
    "                      DIR/.gs-outputs; other files are never touched)\n"
    "  --width W --height H  output size (default: the cameras' size; the intrinsics are scaled)\n"
    "  --depth             also write expected depth as EXR and as a colourised PNG (one\n"
    "                      colour scale for all frames, from the first frame's range)\n"
    "  --bg R,G,B          background colour in [0,1] (default 0,0,0)\n"
    "  --sh-degree N       evaluate SH up to degree N (default: the scene's)\n"
    "  --antialiased       gsplat's antialiased mode (opacity compensation; on by itself\n"
    "                      for scenes whose file says they were trained in it)\n"
    "  --video FILE.mp4    also encode the frames with ffmpeg (libx264, yuv420p, 24 fps)\n"
    "  --video-quality Q   high (default: crf 18, preset slow), medium (crf 23), low (crf 28, veryfast)\n"
    "  --vis-depth MODE    the colourised depth in the video: none (default), hcat (right of the\n"
    "                      RGB), vcat (below it), after an 8-pixel white gap, as gs nvs and DA3\n"
    "  --video-depth       the same as --vis-depth hcat\n"
    "  --llff-factor F     divide LLFF H, W, f by F (8 for images_8)\n"
    "  --device cpu|cuda   where to render (default auto: CUDA when a GPU is usable)\n"
    "  --threads N         CPU threads (default: all)\n"
    "  --quiet             no progress bar\n";

/* "R,G,B", each in [0,1], nothing after */
static int parse_bg(const char *s, float bg[3]) {
    for (int k = 0; k < 3; k++) {
        char *end;
        bg[k] = strtof(s, &end);
        if (end == s || !(bg[k] >= 0.0f && bg[k] <= 1.0f) || *end != (k < 2 ? ',' : 0)) return 0;
        s = end + 1;
    }
    return 1;
}

/* Frame names: the camera's image base name when the names are unique, else 00000. */
static void frame_name(const gs_cameras *c, int i, int use_names, char *buf, size_t n) {
    if (use_names) {
        const char *b = strrchr(c->cams[i].name, '/');
        b = b ? b + 1 : c->cams[i].name;
        snprintf(buf, n, "%s", b);
        char *dot = strrchr(buf, '.');
        if (dot) *dot = 0;
    } else {
        snprintf(buf, n, "%05d", i);
    }
}

/* Can the frames be named after their images? Only when the file names they
 * would get (folder and extension stripped) differ from one another. */
static int names_unique(const gs_cameras *c) {
    char a[300], b[300];
    for (int i = 0; i < c->n; i++) {
        frame_name(c, i, 1, a, sizeof a);
        if (!a[0] || strchr(a, ' ') || !strcmp(a, ".") || !strcmp(a, "..")) return 0;
        for (int j = 0; j < i; j++) {
            frame_name(c, j, 1, b, sizeof b);
            if (!strcmp(a, b)) return 0;
        }
    }
    return 1;
}

static int run(int argc, char **argv) {
    const gs_command *me = &cmd_render_def;
    const char *scene_path = NULL, *cam_path = NULL, *traj = NULL, *outdir = NULL, *video = NULL;
    long frames = 0, width = 0, height = 0, shdeg = -1, threads = 0;
    int depth = 0, quiet = 0, aa = 0, keep_pp = 0, overwrite = 0;
    gs_video_panel panel = GS_VIDEO_PANEL_NONE; /* --vis-depth / --video-depth */
    gs_video_quality quality = GS_VIDEO_HIGH;
    gs_traj_mode mode = GS_TRAJ_ORBIT;
    double factor = 0;
    gs_device dev = GS_DEVICE_AUTO;
    gs_raster_opts o;
    gs_raster_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--cameras") && more) cam_path = argv[++i];
        else if (!strcmp(a, "--trajectory") && more) traj = argv[++i];
        else if (!strcmp(a, "--out") && more) outdir = cli_dir_arg(argv[++i]);
        else if (!strcmp(a, "--video") && more) video = argv[++i];
        else if (!strcmp(a, "--frames") && more) { if (!cli_parse_int(argv[++i], 1, 100000, &frames)) return cli_usage_error(me, "--frames takes 1-100000"); }
        else if (!strcmp(a, "--width") && more) { if (!cli_parse_int(argv[++i], 1, 16384, &width)) return cli_usage_error(me, "--width takes 1-16384"); }
        else if (!strcmp(a, "--height") && more) { if (!cli_parse_int(argv[++i], 1, 16384, &height)) return cli_usage_error(me, "--height takes 1-16384"); }
        else if (!strcmp(a, "--sh-degree") && more) { if (!cli_parse_int(argv[++i], 0, 3, &shdeg)) return cli_usage_error(me, "--sh-degree takes 0-3"); }
        else if (!strcmp(a, "--bg") && more) { if (!parse_bg(argv[++i], o.bg)) return cli_usage_error(me, "--bg takes R,G,B, e.g. 1,1,1"); }
        else if (!strcmp(a, "--llff-factor") && more) { if (!cli_parse_double(argv[++i], &factor) || !(factor > 0)) return cli_usage_error(me, "--llff-factor takes a positive number"); }
        else if (!strcmp(a, "--device") && more) { if (gs_device_parse(argv[++i], &dev)) return cli_usage_error(me, "%s", gs_last_error()); }
        else if (!strcmp(a, "--threads") && more) { if (!cli_parse_int(argv[++i], 1, 4096, &threads)) return cli_usage_error(me, "--threads takes 1-4096"); }
        else if (!strcmp(a, "--video-quality") && more) { if (gs_video_quality_parse(argv[++i], &quality)) return cli_usage_error(me, "--video-quality: %s", gs_last_error()); }
        else if (!strcmp(a, "--overwrite")) overwrite = 1;
        else if (!strcmp(a, "--keep-pp")) keep_pp = 1;
        else if (!strcmp(a, "--depth")) depth = 1;
        else if (!strcmp(a, "--antialiased")) aa = 1;
        else if (!strcmp(a, "--video-depth")) panel = GS_VIDEO_PANEL_HCAT;
        else if (!strcmp(a, "--vis-depth") && more) {
            if (gs_video_panel_parse(argv[++i], &panel)) return cli_usage_error(me, "--vis-depth: %s", gs_last_error());
        }
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (a[0] == '-' && a[1]) return cli_usage_error(me, "unknown option '%s' (or a missing value)", a);
        else if (!scene_path) scene_path = a;
        else return cli_usage_error(me, "unexpected argument '%s'", a);
    }
    if (!scene_path) return cli_usage_error(me, "no SCENE given");
    if (!outdir) return cli_usage_error(me, "--out DIR is required");
    if (!cam_path && !traj) return cli_usage_error(me, "give --cameras FILE or --trajectory MODE");
    if (traj && gs_traj_mode_parse(traj, &mode)) return cli_usage_error(me, "%s", gs_last_error());
    if (traj && mode != GS_TRAJ_ORBIT && !cam_path)
        return cli_usage_error(me, "--trajectory %s starts from input views: give --cameras FILE", traj);
    if (frames && !traj) return cli_usage_error(me, "--frames needs --trajectory");
    if ((width > 0) != (height > 0)) return cli_usage_error(me, "give both --width and --height");
    if (video && !gs_path_ends_with(video, ".mp4")) return cli_usage_error(me, "--video must name an .mp4 file");
    const int video_depth = panel != GS_VIDEO_PANEL_NONE;
    if (video_depth && !video) return cli_usage_error(me, "--vis-depth / --video-depth need --video FILE.mp4");
    if (video_depth && width > 0) {
        int fw, fh;
        gs_video_panel_size(panel, (int)width, (int)height, &fw, &fh);
        if (fw > GS_VIDEO_MAX_SIDE || fh > GS_VIDEO_MAX_SIDE)
            return cli_usage_error(me, "--vis-depth %s with --width %ld --height %ld makes %dx%d frames, over the %d the "
                                   "video takes", gs_video_panel_name(panel), width, height, fw, fh, GS_VIDEO_MAX_SIDE);
    }
    /* what the options decide is checked before the scene is read (the trajectory once the views are) */
    /* a video in DIR (however it is spelt) is one of the run's outputs: checked and recorded as one */
    char vrel[512] = "";
    int video_in_out = 0;
    if (video) {
        char va[4096], oa[4096];
        if (cli_path_abs(video, va, sizeof va) && cli_path_abs(outdir, oa, sizeof oa)) {
            size_t on = strlen(oa);
            video_in_out = !strncmp(va, oa, on) && va[on] == '/' && !strchr(va + on + 1, '/');
            if (video_in_out) snprintf(vrel, sizeof vrel, "%s", va + on + 1);
        }
    }
    if (video) {
        char vdir[4096];
        snprintf(vdir, sizeof vdir, "%s", video);
        char *sl = strrchr(vdir, '/');
        if (sl) *sl = 0;
        if (sl && sl != vdir && !video_in_out && !gs_is_dir(vdir))
            return cli_usage_error(me, "--video %s: the folder %s does not exist", video, vdir);
        if (gs_video_find_ffmpeg(video)) return cli_fail("render", GS_ERR_IO);
    }
    dev = gs_device_resolve(dev); /* prints the fallback notice when cuda was asked for and is not usable */
    if (threads > 0) gs_set_num_threads((int)threads);
    o.sh_degree = (int)shdeg;
    o.width = (int)width;
    o.height = (int)height;

    double t0 = gs_now();
    gs_scene s;
    gs_cameras cams = {0}, ref = {0};
    gs_camera_read_opts ro = {factor};
    if (cam_path && gs_cameras_read(cam_path, &ro, traj ? &ref : &cams, NULL)) return cli_fail("render", GS_ERR_FORMAT);
    if (traj && mode != GS_TRAJ_ORBIT && gs_traj_check(mode, ref.n, (int)frames)) {
        gs_error_prefix(GS_ERR_INVALID, "--trajectory %s%s with the %d view%s of %s", traj, frames ? " --frames" : "",
                        ref.n, ref.n == 1 ? "" : "s", cam_path);
        gs_cameras_free(&ref);
        return cli_fail("render", GS_ERR_INVALID);
    }
    cli_outdir od;
    if (cli_outdir_check(&od, "render", outdir, overwrite, quiet)) {
        cli_outdir_free(&od); gs_cameras_free(&ref); gs_cameras_free(&cams);
        return 1;
    }
    if (cli_outdir_input(&od, scene_path) || (cam_path && cli_outdir_input(&od, cam_path))) {
        cli_outdir_free(&od); gs_cameras_free(&ref); gs_cameras_free(&cams);
        return cli_fail("render", GS_ERR_INVALID);
    }
    if (gs_scene_read(scene_path, &s, NULL)) { gs_cameras_free(&ref); gs_cameras_free(&cams); cli_outdir_free(&od); return cli_fail("render", GS_ERR_FORMAT); }
    if (traj) {
        gs_traj_opts to;
        gs_traj_opts_default(&to);
        to.mode = mode;
        to.n_frames = (int)frames;
        to.width = (int)width;
        to.height = (int)height;
        to.keep_pp = keep_pp;
        if (gs_trajectory(&ref, &s, &to, &cams)) {
            gs_scene_free(&s); gs_cameras_free(&ref); cli_outdir_free(&od);
            return cli_fail("render", GS_ERR_INVALID);
        }
    }
    gs_cameras_free(&ref);
    int rc = 0;
    for (int i = 0; i < cams.n; i++)
        if (!cams.cams[i].has_pose) {
            fprintf(stderr, "gs render: error: %s: camera %d has intrinsics only (no pose); nothing to render from\n", cam_path, i);
            rc = 1;
            goto done;
        }
    int use_names = cam_path && !traj && names_unique(&cams);
    for (int i = 0; i < cams.n && rc == 0; i++) { /* no file of the user's is written over */
        char name[300], rel[400];
        frame_name(&cams, i, use_names, name, sizeof name);
        for (int k = 0; k < (depth ? 3 : 1) && rc == 0; k++) {
            snprintf(rel, sizeof rel, "%s%s%s", k ? "depth/" : "", name, k == 0 ? ".png" : k == 1 ? ".exr" : ".png");
            if (cli_outdir_free_path(&od, rel)) rc = cli_fail("render", GS_ERR_INVALID);
        }
    }
    if (rc == 0 && traj && cli_outdir_free_path(&od, "trajectory.json")) rc = cli_fail("render", GS_ERR_INVALID);
    if (rc == 0 && video_in_out && cli_outdir_free_path(&od, vrel)) rc = cli_fail("render", GS_ERR_INVALID);
    if (rc == 0 && video_depth && cams.n) {
        int fw, fh;
        gs_video_panel_size(panel, o.width > 0 ? o.width : cams.cams[0].width, o.height > 0 ? o.height : cams.cams[0].height,
                            &fw, &fh);
        if (fw > GS_VIDEO_MAX_SIDE || fh > GS_VIDEO_MAX_SIDE) {
            fprintf(stderr, "gs render: error: --vis-depth %s: frames %dx%d, over the %d the video takes\n",
                    gs_video_panel_name(panel), fw, fh, GS_VIDEO_MAX_SIDE);
            rc = 1;
        }
    }
    if (rc) goto done;
    if (cli_outdir_prepare(&od)) { rc = cli_fail("render", GS_ERR_IO); goto done; }
    if (depth) { /* DIR/depth/, beside the frames */
        char ddir[4096];
        snprintf(ddir, sizeof ddir, "%s/depth", outdir);
        if (gs_mkdirs(ddir) || cli_outdir_add(&od, "depth")) { rc = cli_fail("render", GS_ERR_IO); goto done; }
    }
    o.antialiased = aa || s.antialiased; /* a scene trained in gsplat's antialiased mode is drawn in it */
    fprintf(stderr, "gs render: %s: %lld splats, SH degree %d%s; %d view%s (loaded in %.2f s)\n", scene_path,
            (long long)s.n, s.sh_degree, o.antialiased ? ", antialiased" : "", cams.n, cams.n == 1 ? "" : "s",
            gs_now() - t0);

    gs_video vid;
    memset(&vid, 0, sizeof vid);
    gs_raster_cuda *gpu = NULL;
    if (dev == GS_DEVICE_CUDA && (gs_raster_cuda_new(&gpu) || gs_raster_cuda_set_scene(gpu, &s))) {
        rc = cli_fail("render", GS_ERR_DEVICE);
        gs_raster_cuda_free(gpu);
        goto done;
    }
    gs_progress pb;
    gs_progress_begin(&pb, "render", cams.n, quiet);
    double t_render = 0;
    int64_t n_invalid = 0;
    int want_range = depth || video_depth, have_range = 0; /* the depth colour scale, from the first frame */
    float dlo = 0, dhi = 0;
    for (int i = 0; i < cams.n; i++) {
        gs_raster_out r;
        double t1 = gs_now();
        if (gpu ? gs_render_cuda(gpu, &cams.cams[i], &o, &r) : gs_render_cpu(&s, &cams.cams[i], &o, &r)) {
            rc = cli_fail("render", GS_ERR_INVALID);
            break;
        }
        t_render += gs_now() - t1;
        n_invalid = r.n_invalid;
        char name[300], path[4096];
        frame_name(&cams, i, use_names, name, sizeof name);
        gs_image im = {r.width, r.height, 3, 8, r.rgb}, dimg = {0};
        snprintf(path, sizeof path, "%s/%s.png", outdir, name);
        gs_status st = gs_image_write_png(path, &im, 8);
        if (!st) st = cli_outdir_add(&od, path);
        if (want_range && !have_range)
            have_range = gs_depth_colour_range(r.depth, r.alpha, (size_t)r.width * r.height, &dlo, &dhi);
        if (!st && want_range)
            st = gs_colorize(r.depth, r.width, r.height, have_range ? dlo : 0, have_range ? dhi : 0, 1, &dimg);
        if (!st && depth) { /* DIR/depth/, beside the frames: DIR stays a folder of renders for gs eval */
            snprintf(path, sizeof path, "%s/depth/%s.exr", outdir, name);
            st = gs_exr_write_depth(path, r.depth, r.width, r.height);
            if (!st) st = cli_outdir_add(&od, path);
            snprintf(path, sizeof path, "%s/depth/%s.png", outdir, name);
            if (!st) st = gs_image_write_png(path, &dimg, 8);
            if (!st) st = cli_outdir_add(&od, path);
        }
        if (!st && video) {
            int fw, fh;
            gs_video_panel_size(panel, r.width, r.height, &fw, &fh);
            if (!vid.pipe) st = gs_video_open_quality(&vid, video, fw, fh, 24, quality);
            if (!st) st = gs_video_frame_panel(&vid, r.rgb, video_depth ? dimg.data : NULL, r.width, r.height, panel);
        }
        gs_image_free(&dimg);
        gs_raster_out_free(&r);
        if (st) { rc = cli_fail("render", st); break; }
        gs_progress_update(&pb, i + 1);
    }
    gs_progress_end(&pb);
    gs_raster_cuda_free(gpu);
    if (vid.pipe) {
        gs_status vst = gs_video_close(&vid, rc == 0);
        if (!vst && rc == 0 && video_in_out) vst = cli_outdir_add(&od, vrel); /* recorded when it is in DIR */
        if (vst && rc == 0) rc = cli_fail("render", vst);
    }
    if (rc == 0 && traj) { /* the cameras it rendered, for gs render --cameras, gs info, an evaluation */
        char tpath[4096];
        snprintf(tpath, sizeof tpath, "%s/trajectory.json", outdir);
        gs_status tst = gs_traj_write_json(tpath, &cams);
        if (!tst) tst = cli_outdir_add(&od, tpath);
        if (tst) rc = cli_fail("render", tst);
    }
    if (rc == 0) {
        char where[64];
        if (dev == GS_DEVICE_CUDA) snprintf(where, sizeof where, "with CUDA");
        else snprintf(where, sizeof where, "on the CPU, %d threads", gs_num_threads());
        fprintf(stderr, "gs render: %d view%s in %.2f s (%.1f ms a view %s)%s%s\n", cams.n, cams.n == 1 ? "" : "s",
                t_render, cams.n ? 1e3 * t_render / cams.n : 0, where, video ? "; video " : "", video ? video : "");
        if (n_invalid) fprintf(stderr, "gs render: note: %lld invalid splats were skipped\n", (long long)n_invalid);
    }
done:
    if (cli_outdir_finish(&od) && rc == 0) rc = cli_fail("render", GS_ERR_IO);
    cli_outdir_free(&od);
    gs_cameras_free(&cams);
    gs_scene_free(&s);
    return rc;
}

const gs_command cmd_render_def = {"render", run, "render splats at cameras or along an orbit: PNG, depth, mp4", k_usage};
