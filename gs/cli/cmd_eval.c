/* cmd_eval.c - `gs eval`: PSNR / SSIM / LPIPS of rendered images against
 * ground truth, paired by file name, or of a splat scene rendered at the
 * cameras of a held-out split. The work is in eval/evaluate.c and
 * eval/eval_scene.c; this file parses options, prints the table and writes
 * the reports.
 * Registration is left to gs/cli/main.c (k_commands) and gs/cli/cli.h (extern). */
#include "data/cameras.h"
#include "data/scene.h"
#include "eval/metrics.h"
#include "gs/cli/cli.h"
#include "gs/core/device.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

extern const gs_command cmd_eval_def;

static void print_value(double v, const char *fmt) {
    if (isnan(v)) printf(" %10s", "-");
    else if (isinf(v)) printf(" %10s", v > 0 ? "inf" : "-inf");
    else printf(fmt, v);
}

static void print_table(const gs_eval_report *r) {
    int wname = 4;
    for (int i = 0; i < r->n; i++) {
        int l = (int)strlen(r->rows[i].name);
        if (l > wname) wname = l;
    }
    if (wname > 48) wname = 48;
    printf("%-*s %11s", wname, "name", "size");
    if (r->opt.psnr) printf(" %10s", "PSNR");
    if (r->opt.ssim) printf(" %10s", "SSIM");
    if (r->opt.lpips) printf(" %10s", "LPIPS");
    printf("\n");
    for (int i = 0; i < r->n; i++) {
        const gs_eval_row *w = &r->rows[i];
        char size[32];
        snprintf(size, sizeof size, "%dx%d", w->width, w->height);
        printf("%-*.*s %11s", wname, wname, w->name, size);
        if (r->opt.psnr) print_value(w->psnr, " %10.4f");
        if (r->opt.ssim) print_value(w->ssim, " %10.6f");
        if (r->opt.lpips) print_value(w->lpips, " %10.6f");
        printf("\n");
    }
    printf("%-*s %11s", wname, "mean", "");
    if (r->opt.psnr) print_value(r->mean_psnr, " %10.4f");
    if (r->opt.ssim) print_value(r->mean_ssim, " %10.6f");
    if (r->opt.lpips) print_value(r->mean_lpips, " %10.6f");
    if (r->scene_mode)
        printf("\n\n%d view%s rendered and scored in %.2f s (rendering %.2f s on %s; pairing %s), metrics on %s\n",
               r->n, r->n == 1 ? "" : "s", r->seconds, r->render_seconds, r->render_device, r->pairing, r->device);
    else
        printf("\n\n%d image pair%s (of %d ground-truth images) in %.2f s, metrics on %s\n", r->n,
               r->n == 1 ? "" : "s", r->n_gt, r->seconds, r->device);
    if (r->opt.psnr) printf("  PSNR (dB, images clamped to [0,1]), means of per-image values\n");
    if (r->opt.ssim) printf("  %s\n", r->ssim_label);
    if (r->opt.lpips) printf("  %s (inputs in [0,1], normalize=True), weights %s\n", r->lpips_label, r->lpips_weights);
    if (r->n_cameras_without_gt)
        printf("note: %d camera%s had no ground-truth image and %s skipped: %s%s\n", r->n_cameras_without_gt,
               r->n_cameras_without_gt == 1 ? "" : "s", r->n_cameras_without_gt == 1 ? "was" : "were",
               r->cameras_without_gt, r->n_cameras_without_gt > 4 ? ", ..." : "");
    if (r->n_missing) {
        printf("note: %d of the %d ground-truth images had no prediction and %s not scored: ", r->n_missing, r->n_gt,
               r->n_missing == 1 ? "was" : "were");
        for (int i = 0; i < r->n_missing && i < 4; i++) printf("%s%s", i ? ", " : "", r->missing[i]);
        printf("%s (--strict makes this an error)\n", r->n_missing > 4 ? ", ..." : "");
    }
    if (r->n_gt_without_camera)
        printf("note: %d ground-truth image%s had no camera and %s not scored: %s%s\n", r->n_gt_without_camera,
               r->n_gt_without_camera == 1 ? "" : "s", r->n_gt_without_camera == 1 ? "was" : "were",
               r->gt_without_camera, r->n_gt_without_camera > 4 ? ", ..." : "");
}

static void progress_cb(void *user, int done, int total) {
    (void)total;
    gs_progress_update((gs_progress *)user, done);
}

static int run(int argc, char **argv) {
    const gs_command *c = &cmd_eval_def;
    const char *pred = NULL, *gt = NULL, *json = NULL, *csv = NULL, *scene = NULL, *cameras = NULL, *metrics = NULL;
    gs_eval_options o;
    gs_eval_options_default(&o);
    gs_eval_scene_options so;
    gs_eval_scene_options_default(&so);
    gs_device dev = GS_DEVICE_AUTO;
    double llff_factor = 0;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char *v = i + 1 < argc ? argv[i + 1] : NULL;
        /* flags without a value */
        if (!strcmp(a, "--quantize")) { so.quantize8 = 1; continue; }
        if (!strcmp(a, "--skip-missing")) { so.allow_missing_gt = 1; continue; }
        if (!strcmp(a, "--antialiased")) { so.antialiased = 1; continue; }
        if (!strcmp(a, "--quiet")) { quiet = 1; continue; }
        if (!strcmp(a, "--strict")) { o.strict = 1; continue; }
        gs_status st = GS_OK;
        if (!strcmp(a, "--pred")) pred = cli_dir_arg(v);
        else if (!strcmp(a, "--gt")) gt = cli_dir_arg(v);
        else if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--csv")) csv = v;
        else if (!strcmp(a, "--scene")) scene = v;
        else if (!strcmp(a, "--cameras")) cameras = v;
        else if (!strcmp(a, "--save-renders")) so.save_dir = v;
        else if (!strcmp(a, "--metrics")) metrics = v;
        else if (!strcmp(a, "--lpips-weights")) o.lpips_weights = v;
        else if (!strcmp(a, "--lpips-net")) st = v ? gs_lpips_net_parse(v, &o.lpips_net) : GS_OK;
        else if (!strcmp(a, "--ssim")) st = v ? gs_ssim_mode_parse(v, &o.ssim_mode) : GS_OK;
        else if (!strcmp(a, "--device")) st = v ? gs_device_parse(v, &dev) : GS_OK;
        else if (!strcmp(a, "--llff-factor")) {
            if (v && (!cli_parse_double(v, &llff_factor) || !(llff_factor > 0)))
                return cli_usage_error(c, "--llff-factor takes a positive number, not '%s'", v);
        } else if (!strcmp(a, "--max-megapixels")) {
            double mp = 0;
            if (v && (!cli_parse_double(v, &mp) || !(mp > 0) || mp > 1000))
                return cli_usage_error(c, "--max-megapixels takes a number in (0, 1000], not '%s'", v);
            o.max_pixels = (int64_t)(mp * 1e6);
        } else if (!strcmp(a, "--sh-degree")) {
            long d = 0;
            if (v && !cli_parse_int(v, 0, 3, &d)) return cli_usage_error(c, "--sh-degree takes 0-3, not '%s'", v);
            so.sh_degree = (int)d;
        } else if (!strcmp(a, "--gt-bg")) {
            if (v && !strcmp(v, "white")) o.bg[0] = o.bg[1] = o.bg[2] = 1.0f;
            else if (v && !strcmp(v, "black")) o.bg[0] = o.bg[1] = o.bg[2] = 0.0f;
            else if (v) return cli_usage_error(c, "--gt-bg must be white or black, not '%s'", v);
        } else
            return cli_usage_error(c, "unknown argument '%s'", a);
        if (!v) return cli_usage_error(c, "%s needs a value", a);
        if (st) return cli_usage_error(c, "%s", gs_last_error());
        i++;
    }
    if (!gt) return cli_usage_error(c, "--gt DIR is required");
    if (scene && pred) return cli_usage_error(c, "give either --pred DIR or --scene SPLATS, not both");
    if (!scene && !pred) return cli_usage_error(c, "give --pred DIR (renders) or --scene SPLATS --cameras FILE");
    if (scene && !cameras) return cli_usage_error(c, "--scene needs --cameras FILE (the cameras of the ground-truth views)");
    if (!scene && (cameras || so.save_dir || so.quantize8 || so.allow_missing_gt || so.antialiased || llff_factor > 0 ||
                   so.sh_degree >= 0))
        return cli_usage_error(c, "--cameras, --save-renders, --quantize, --skip-missing, --antialiased, --sh-degree "
                                  "and --llff-factor go with --scene");
    if (scene && o.strict)
        return cli_usage_error(c, "--strict goes with --pred (with --scene, cameras without an image are an error "
                                  "unless --skip-missing)");
    if (metrics && gs_eval_metrics_parse(metrics, &o)) return cli_usage_error(c, "%s", gs_last_error());
    o.device = gs_device_resolve(dev);

    gs_eval_report r;
    gs_status st;
    if (scene) {
        gs_scene s;
        gs_cameras cams = {0};
        gs_camera_read_opts ro = {llff_factor};
        if ((st = gs_scene_read(scene, &s, NULL))) return cli_fail("eval", st);
        if ((st = gs_cameras_read(cameras, &ro, &cams, NULL))) {
            gs_scene_free(&s);
            return cli_fail("eval", st);
        }
        gs_progress pb;
        gs_progress_begin(&pb, "eval", cams.n, quiet);
        so.scene_name = scene;
        so.progress = progress_cb;
        so.progress_user = &pb;
        st = gs_eval_scene(&s, &cams, gt, &o, &so, &r);
        gs_progress_end(&pb);
        gs_cameras_free(&cams);
        gs_scene_free(&s);
    } else {
        st = gs_eval_dirs(pred, gt, &o, &r);
    }
    if (st) return cli_fail("eval", st);
    print_table(&r);
    if (!st && json) {
        st = gs_eval_write_json(&r, json);
        if (!st) printf("wrote %s\n", json);
    }
    if (!st && csv) {
        st = gs_eval_write_csv(&r, csv);
        if (!st) printf("wrote %s\n", csv);
    }
    gs_eval_report_free(&r);
    return st ? cli_fail("eval", st) : 0;
}

const gs_command cmd_eval_def = {
    "eval", run, "score rendered images against ground truth: PSNR, SSIM, LPIPS",
    "usage: gs eval --pred DIR --gt DIR [options]\n"
    "       gs eval --scene SPLATS --cameras FILE --gt DIR [options]\n"
    "\n"
    "Pairs the images (.png, .jpg) of the two directories by file name (or by\n"
    "name stem when the extensions differ), composites images with alpha over\n"
    "the background, and prints PSNR, SSIM and LPIPS per image and their means.\n"
    "The predictions present are scored: ground-truth images without one are\n"
    "counted and named (an error with --strict); a prediction without ground\n"
    "truth is an error (a naming mistake).\n"
    "With --scene, renders the splats at every camera of FILE (at the camera's\n"
    "size, over the same background) and scores each render against the image\n"
    "of DIR named like the camera (\"./test/r_0\" -> r_0.png); unnamed cameras\n"
    "(LLFF poses_bounds.npy) take the sorted images in order.\n"
    "\n"
    "options:\n"
    "  --metrics LIST        any of psnr,ssim,lpips (default: all three)\n"
    "  --ssim skimage|3dgs   skimage: structural_similarity(win_size=11, gaussian\n"
    "                        sigma 1.5, sample covariance, valid region), as\n"
    "                        pixelSplat/MVSplat/DepthSplat report (default);\n"
    "                        3dgs: the 3D Gaussian Splatting ssim() (zero padding)\n"
    "  --lpips-net NET       alex (default), squeeze or vgg (LPIPS v0.1, inputs\n"
    "                        in [0,1] as with normalize=True)\n"
    "  --lpips-weights FILE  safetensors with lpips.LPIPS(net=NET).state_dict()\n"
    "                        keys (default: lpips_NET_v0.1.safetensors in\n"
    "                        $GS_LPIPS_DIR, $GS_SHARED_DATA/lpips, DIR/lpips or\n"
    "                        DIR/../share/gs/lpips where DIR holds gs (gs --version\n"
    "                        says which file it finds); make one with\n"
    "                        tools/export_lpips_weights.py)\n"
    "  --gt-bg white|black   background for images with alpha, and of the renders\n"
    "                        with --scene (default white, as NeRF-synthetic)\n"
    "  --max-megapixels N    refuse larger images from their header, before decoding\n"
    "                        (default 50; an 8K frame is 33)\n"
    "  --strict              every ground-truth image must have a prediction\n"
    "  --json FILE           write the per-image values and means as JSON (with\n"
    "                        gt_count, missing_count and the missing names)\n"
    "  --csv FILE            the same as CSV (missing images as rows with empty values)\n"
    "  --device auto|cpu|cuda  where the metrics run (default auto: the GPU when\n"
    "                        one is usable)\n"
    "with --scene:\n"
    "  --cameras FILE        cameras of the ground-truth views (gs-cameras JSON,\n"
    "                        transforms.json, INRIA cameras.json, COLMAP, LLFF)\n"
    "  --save-renders DIR    also write each render as DIR/<image stem>.png\n"
    "  --quantize            score the renders rounded to 8 bits, as saved PNGs\n"
    "                        (3DGS's metrics.py); default: float renders in [0,1]\n"
    "  --skip-missing        score the cameras that have an image, list the others\n"
    "                        (default: cameras without an image are an error)\n"
    "  --llff-factor F       divide LLFF H, W, f by F (8 for images_8)\n"
    "  --sh-degree N         evaluate SH up to degree N (default: the scene's)\n"
    "  --antialiased         gsplat's antialiased mode (also on when the file says so)\n"
    "  --quiet               no progress bar\n",
};
