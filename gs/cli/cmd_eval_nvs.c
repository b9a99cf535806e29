/* cmd_eval_nvs.c - `gs eval-nvs`: the paper-style novel-view evaluation of a
 * Depth Anything 3 model with the 3DGS head on a scene with ground-truth
 * cameras and images. The protocol lives in gs/nvs/ (one file per stage); this file parses
 * options, prints the table and timings and writes metrics.json. */
#include "gs/cli/cli.h"
#include "gs/cli/outdir.h"
#include "backbone/preprocess.h"
#include "gs/nvs/eval_nvs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char k_usage[] =
    "usage: gs eval-nvs --model PATH --cameras FILE [--target-cameras FILE] --out DIR [options]\n"
    "\n"
    "Novel-view evaluation as the feed-forward splatting papers do it: choose context views\n"
    "of a scene with ground-truth cameras and images, run Depth Anything 3 with the 3DGS head\n"
    "on them, align the ground-truth cameras to the prediction with a Sim(3) fitted on the\n"
    "context camera centres (Umeyama, with scale), render every target view at its aligned\n"
    "camera with the ground-truth intrinsics and image size, and score PSNR / SSIM / LPIPS.\n"
    "Writes DIR/metrics.json, DIR/contact_sheet.png (per target: ground truth | render |\n"
    "turbo error map, mean absolute RGB error 0..0.5; each tile labelled with the view's\n"
    "name, the render's with its PSNR / SSIM / LPIPS) and DIR/renders/NAME.png.\n"
    "\n"
    "  --model PATH          model with the 3DGS head (da3-giant, da3nested-giant-large):\n"
    "                        Hugging Face folder or .safetensors (+ --config NAME)\n"
    "  --config NAME         configuration of a bare .safetensors\n"
    "  --cameras FILE        ground-truth cameras: transforms.json, LLFF poses_bounds.npy,\n"
    "                        COLMAP model, gs-cameras / INRIA JSON\n"
    "  --images DIR          the images (default: beside FILE; named cameras by name, LLFF by\n"
    "                        sorted order from images_F or images)\n"
    "  --target-cameras FILE the targets from a second camera file of the same world frame\n"
    "                        (lego: --cameras transforms_train.json --target-cameras\n"
    "                        transforms_test.json); --cameras then holds the context\n"
    "                        candidates, --context/--num-context choose among them and\n"
    "                        --targets among the views of this file (default: all of them)\n"
    "  --target-images DIR   the images of the target cameras (default: beside that file)\n"
    "  --llff-factor F       divide LLFF H, W, f by F (8 for images_8)\n"
    "  --out DIR             output folder (created); one that holds an earlier run's results is\n"
    "                        refused unless --overwrite\n"
    "  --overwrite           remove the earlier run's files in DIR first (only those gs listed in\n"
    "                        DIR/.gs-outputs; other files are never touched)\n"
    "  --context LIST        context views by index, e.g. 0,7,13\n"
    "  --num-context N       else N views by farthest-point sampling of the camera centres,\n"
    "                        starting at the first candidate view (default 4; the DA3 paper\n"
    "                        uses 12)\n"
    "  --targets SPEC        rest (default: every non-context view), every:K (views i with\n"
    "                        i % K == 0 are held out; FPS picks the context among the others),\n"
    "                        or a LIST of indices\n"
    "  --max-targets N       score N targets, evenly spaced over the selection\n"
    "  --posed               feed the ground-truth context cameras to the network\n"
    "  --gt-bg white|black|auto  background of images with alpha and of the renders (auto:\n"
    "                        white when the images have alpha, as NeRF-synthetic; otherwise\n"
    "                        black, as DA3's renderer)\n"
    "  --process-res N       network input size (default 504, at most 2048)\n"
    "  --ref-view STRATEGY   saddle_balanced (default), first, middle, saddle_sim_range\n"
    "  --metrics LIST        any of psnr,ssim,lpips (default all)\n"
    "  --ssim skimage|3dgs   SSIM variant (default skimage, as pixelSplat/MVSplat)\n"
    "  --lpips-net NET       alex (default), squeeze, vgg\n"
    "  --lpips-weights FILE  LPIPS weights (default: as gs eval finds them; gs --version names the file)\n"
    "  --sheet-width N       contact sheet width in pixels (default 1200)\n"
    "  --device auto|cpu|cuda  where renders and metrics run (the network runs on the CPU)\n"
    "  --threads N           CPU threads (default: all cores)\n"
    "  --quiet               no progress and stage messages\n";

static void log_cb(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "gs eval-nvs: %s\n", msg);
}

/* "0,7,13" -> ints (malloc'ed); 0 on a bad list. */
static int parse_list(const char *s, int **out, int *n) {
    *out = NULL;
    *n = 0;
    if (!s || !*s) return 0;
    int cap = 1;
    for (const char *c = s; *c; c++) cap += *c == ',';
    int *v = malloc((size_t)cap * sizeof *v);
    char *dup = strdup(s);
    if (!v || !dup) { free(v); free(dup); return 0; }
    int k = 0, ok = 1;
    char *save = NULL;
    for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long x;
        if (!cli_parse_int(tok, 0, GS_MAX_CAMERAS - 1, &x)) { ok = 0; break; }
        v[k++] = (int)x;
    }
    free(dup);
    if (!ok || !k || k != cap) { free(v); return 0; }
    *out = v;
    *n = k;
    return 1;
}

static void print_value(double v, const char *fmt) {
    if (isnan(v)) printf(" %10s", "-");
    else if (isinf(v)) printf(" %10s", v > 0 ? "inf" : "-inf");
    else printf(fmt, v);
}

static void print_report(const gs_nvs_eval_report *r, const char *out_dir) {
    printf("scene      %s: %d views of %dx%d (%s), images %s, background %s\n", r->cameras, r->n_views, r->width,
           r->height, r->camera_format, r->pairing, r->bg[0] > 0.5f ? "white" : "black");
    if (r->n_target_views)
        printf("targets of %s: %d views (%s)\n", r->target_cameras, r->n_target_views, r->target_camera_format);
    printf("model      %s\n", r->model_desc);
    printf("network    %dx%d input, %s, %lld Gaussians", r->net_width, r->net_height,
           r->posed ? "posed (ground-truth context cameras)" : "unposed", (long long)r->n_gaussians);
    if (r->posed) printf(", pose scale %.4g", r->pose_scale);
    printf("\ncontext    %s:", r->context_mode);
    for (int i = 0; i < r->n_context; i++) printf(" %d", r->context[i]);
    printf(" (");
    for (int i = 0; i < r->n_context; i++) printf("%s%s", i ? " " : "", r->context_names[i]);
    printf(")\ntargets    %s: %d", r->target_mode, r->n_targets);
    if (r->n_targets < r->n_targets_before_cap) printf(" of %d (--max-targets)", r->n_targets_before_cap);
    const gs_nvs_alignment *a = &r->align;
    printf("\nalignment  %s Sim(3) GT -> predicted on %d context centres: scale %.5g\n",
           a->method == GS_NVS_ALIGN_UMEYAMA ? "Umeyama" : "rotation+spread", a->n, a->T.s);
    printf("           centre RMSE %.5g GT units (max %.5g; GT context spread %.4g) = %.4g of the predicted spread;\n"
           "           rotation error mean %.4g deg, max %.4g deg\n\n",
           a->rmse_gt, a->max_gt, a->spread_gt, a->rmse_rel, a->rot_mean_deg, a->rot_max_deg);
    int wname = 4;
    for (int i = 0; i < r->n_targets; i++) {
        int l = (int)strlen(r->rows[i].name);
        if (l > wname) wname = l;
    }
    if (wname > 40) wname = 40;
    printf("%5s  %-*s", "view", wname, "name");
    if (r->metric_psnr) printf(" %10s", "PSNR");
    if (r->metric_ssim) printf(" %10s", "SSIM");
    if (r->metric_lpips) printf(" %10s", "LPIPS");
    printf("\n");
    for (int i = 0; i < r->n_targets; i++) {
        const gs_nvs_target_row *w = &r->rows[i];
        printf("%5d  %-*.*s", w->index, wname, wname, w->name);
        if (r->metric_psnr) print_value(w->psnr, " %10.4f");
        if (r->metric_ssim) print_value(w->ssim, " %10.6f");
        if (r->metric_lpips) print_value(w->lpips, " %10.6f");
        printf("\n");
    }
    printf("%5s  %-*s", "", wname, "mean");
    if (r->metric_psnr) print_value(r->mean_psnr, " %10.4f");
    if (r->metric_ssim) print_value(r->mean_ssim, " %10.6f");
    if (r->metric_lpips) print_value(r->mean_lpips, " %10.6f");
    printf("\n\n");
    if (r->metric_psnr) printf("  PSNR (dB, renders clamped to [0,1], scored as floats), mean of per-target values\n");
    if (r->metric_ssim) printf("  %s\n", r->ssim_label);
    if (r->metric_lpips) printf("  %s (normalize=True), weights %s\n", r->lpips_label, r->lpips_weights);
    printf("  renders on %s, metrics on %s\n", r->render_device, r->metrics_device);
    printf("wrote %s/metrics.json, %s/contact_sheet.png, %s/renders/ (%d)\n", out_dir, out_dir, out_dir, r->n_targets);
}

static int run(int argc, char **argv) {
    const gs_command *c = &cmd_eval_nvs_def;
    const char *model_path = NULL, *config = NULL, *metrics = NULL, *context = NULL, *targets = NULL;
    gs_nvs_eval_opts o;
    gs_nvs_eval_opts_default(&o);
    int *ctx_list = NULL, *tgt_list = NULL, n_ctx_list = 0, n_tgt_list = 0, have_num_context = 0;
    gs_device dev = GS_DEVICE_AUTO;
    int rc = 2, overwrite = 0, od_open = 0;
    cli_outdir od;
#define USAGE(...) do { rc = cli_usage_error(c, __VA_ARGS__); goto done; } while (0)
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--posed")) { o.posed = 1; continue; }
        if (!strcmp(a, "--quiet")) { o.quiet = 1; continue; }
        if (!strcmp(a, "--overwrite")) { overwrite = 1; continue; }
        char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-' || !a[1]) USAGE("unexpected argument '%s'", a);
        if (!v) USAGE("%s needs a value", a);
        long x;
        double d;
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--config")) config = v;
        else if (!strcmp(a, "--cameras")) o.cameras_path = v;
        else if (!strcmp(a, "--images")) o.images_dir = cli_dir_arg(v);
        else if (!strcmp(a, "--target-cameras")) o.target_cameras_path = v;
        else if (!strcmp(a, "--target-images")) o.target_images_dir = cli_dir_arg(v);
        else if (!strcmp(a, "--out")) o.out_dir = cli_dir_arg(v);
        else if (!strcmp(a, "--context")) context = v;
        else if (!strcmp(a, "--targets")) targets = v;
        else if (!strcmp(a, "--metrics")) metrics = v;
        else if (!strcmp(a, "--lpips-weights")) o.eval.lpips_weights = v;
        else if (!strcmp(a, "--num-context")) {
            if (!cli_parse_int(v, 1, 4096, &x)) USAGE("--num-context takes 1..4096, not '%s'", v);
            o.split.num_context = (int)x;
            have_num_context = 1;
        } else if (!strcmp(a, "--max-targets")) {
            if (!cli_parse_int(v, 1, GS_MAX_CAMERAS, &x)) USAGE("--max-targets takes a positive count, not '%s'", v);
            o.split.max_targets = (int)x;
        } else if (!strcmp(a, "--llff-factor")) {
            if (!cli_parse_double(v, &d) || !(d > 0) || !isfinite(d)) USAGE("--llff-factor takes a positive number, not '%s'", v);
            o.llff_factor = d;
        } else if (!strcmp(a, "--gt-bg")) {
            if (!strcmp(v, "white")) o.bg = GS_NVS_BG_WHITE;
            else if (!strcmp(v, "black")) o.bg = GS_NVS_BG_BLACK;
            else if (!strcmp(v, "auto")) o.bg = GS_NVS_BG_AUTO;
            else USAGE("--gt-bg must be white, black or auto, not '%s'", v);
        } else if (!strcmp(a, "--process-res")) {
            if (!cli_parse_int(v, 14, GS_DA3_MAX_PROCESS_RES, &x)) USAGE("--process-res takes 14..%d, not '%s'", GS_DA3_MAX_PROCESS_RES, v);
            o.process_res = (int)x;
        } else if (!strcmp(a, "--ref-view")) {
            if (gs_ref_strategy_parse(v, &o.ref_strategy)) USAGE("%s", gs_last_error());
        } else if (!strcmp(a, "--ssim")) {
            if (gs_ssim_mode_parse(v, &o.eval.ssim_mode)) USAGE("%s", gs_last_error());
        } else if (!strcmp(a, "--lpips-net")) {
            if (gs_lpips_net_parse(v, &o.eval.lpips_net)) USAGE("%s", gs_last_error());
        } else if (!strcmp(a, "--sheet-width")) {
            if (!cli_parse_int(v, 64, 16384, &x)) USAGE("--sheet-width takes 64..16384, not '%s'", v);
            o.sheet_width = (int)x;
        } else if (!strcmp(a, "--device")) {
            if (gs_device_parse(v, &dev)) USAGE("%s", gs_last_error());
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_int(v, 1, 1024, &x)) USAGE("--threads takes 1..1024, not '%s'", v);
            gs_set_num_threads((int)x);
        } else
            USAGE("unknown option '%s'", a);
        i++;
    }
    if (!model_path) USAGE("--model PATH is required");
    if (!o.cameras_path) USAGE("--cameras FILE is required");
    if (!o.out_dir) USAGE("--out DIR is required");
    if (o.target_images_dir && !o.target_cameras_path) USAGE("--target-images DIR goes with --target-cameras FILE");
    if (context && have_num_context) USAGE("give either --context LIST or --num-context N, not both");
    if (context) {
        if (!parse_list(context, &ctx_list, &n_ctx_list)) USAGE("--context takes view indices like 0,7,13, not '%s'", context);
        o.split.context = ctx_list;
        o.split.n_context = n_ctx_list;
    }
    if (targets) {
        if (!strcmp(targets, "rest")) {
            o.split.target_mode = GS_NVS_TARGETS_REST;
        } else if (!strncmp(targets, "every:", 6)) {
            long k;
            if (!cli_parse_int(targets + 6, 1, GS_MAX_CAMERAS, &k)) USAGE("--targets every:K needs K >= 1, not '%s'", targets);
            o.split.target_mode = GS_NVS_TARGETS_EVERY;
            o.split.target_every = (int)k;
        } else if (parse_list(targets, &tgt_list, &n_tgt_list)) {
            o.split.target_mode = GS_NVS_TARGETS_LIST;
            o.split.targets = tgt_list;
            o.split.n_targets = n_tgt_list;
        } else {
            USAGE("--targets takes rest, every:K or view indices like 1,5,9, not '%s'", targets);
        }
    }
    if (metrics && gs_eval_metrics_parse(metrics, &o.eval)) USAGE("%s", gs_last_error());
    o.eval.device = dev;
    if (!o.quiet) o.log = log_cb;
#undef USAGE

    rc = 1;
    /* the cameras, images, split and metrics before the checkpoint is read */
    if (gs_nvs_check(&o)) { cli_fail("eval-nvs", GS_ERR_INVALID); goto done; }
    /* the output folder: an earlier run's results are refused unless --overwrite (gs/cli/outdir.h) */
    if (cli_outdir_check(&od, "eval-nvs", o.out_dir, overwrite, o.quiet)) goto done;
    od_open = 1;
    {
        gs_status fst = cli_outdir_free_path(&od, "metrics.json");
        if (!fst) fst = cli_outdir_free_path(&od, "contact_sheet.png");
        if (!fst) fst = cli_outdir_free_tree(&od, "renders");
        const char *ins[] = {o.cameras_path, o.target_cameras_path, o.images_dir, o.target_images_dir, model_path};
        for (int k = 0; k < 5 && !fst; k++)
            if (ins[k]) fst = cli_outdir_input(&od, ins[k]);
        if (fst) { cli_fail("eval-nvs", fst); goto done; }
    }
    gs_da3_model m;
    const double t0 = gs_now();
    gs_status st = gs_da3_load(&m, model_path, config);
    if (st) { cli_fail("eval-nvs", st); goto done; }
    const double t_load = gs_now() - t0;
    if (!o.quiet) {
        char desc[256];
        gs_da3_describe(&m, desc, sizeof desc);
        fprintf(stderr, "gs eval-nvs: %s loaded in %.2f s; %d CPU threads\n", desc, t_load, gs_num_threads());
    }
    if ((st = cli_outdir_prepare(&od))) {
        gs_da3_free(&m);
        cli_fail("eval-nvs", st);
        goto done;
    }
    char path0[1100];
    gs_nvs_eval_report r;
    st = gs_nvs_evaluate(&m, &o, &r);
    gs_da3_free(&m);
    if (gs_is_dir(gs_path_join(path0, sizeof path0, o.out_dir, "renders")))
        cli_outdir_add(&od, "renders"); /* its files made by this run; recorded also after a failure */
    if (gs_file_exists(gs_path_join(path0, sizeof path0, o.out_dir, "contact_sheet.png")))
        cli_outdir_add(&od, "contact_sheet.png");
    if (st) { cli_fail("eval-nvs", st); goto done; }
    char path[1100];
    st = gs_nvs_write_json(&r, gs_path_join(path, sizeof path, o.out_dir, "metrics.json"));
    if (!st) st = cli_outdir_add(&od, "metrics.json");
    if (st) {
        gs_nvs_eval_report_free(&r);
        cli_fail("eval-nvs", st);
        goto done;
    }
    print_report(&r, o.out_dir);
    if (!o.quiet)
        fprintf(stderr,
                "gs eval-nvs: timings: model load %.2f s, scene %.2f s, context images %.2f s, network %.2f s "
                "(preprocess %.2f, backbone %.2f, heads %.2f, cameras %.2f, Gaussians %.2f), alignment %.3f s, "
                "render %.2f s, metrics %.2f s, outputs %.2f s, total %.2f s\n",
                t_load, r.t_scene, r.t_images, r.t_network, r.t_preprocess, r.t_backbone, r.t_head, r.t_cameras,
                r.t_gaussians, r.t_align, r.t_render, r.t_metrics, r.t_outputs, gs_now() - t0);
    gs_nvs_eval_report_free(&r);
    rc = 0;
done:
    if (od_open) {
        if (cli_outdir_finish(&od) && !rc) rc = cli_fail("eval-nvs", GS_ERR_IO);
        cli_outdir_free(&od);
    }
    free(ctx_list);
    free(tgt_list);
    return rc;
}

const gs_command cmd_eval_nvs_def = {"eval-nvs", run,
                                     "novel-view evaluation: context views -> DA3 splats -> renders of held-out views "
                                     "-> PSNR/SSIM/LPIPS",
                                     k_usage};
