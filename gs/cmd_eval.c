/* cmd_eval.c - `gs eval`: PSNR / SSIM / LPIPS of rendered images against
 * ground truth, paired by file name. The work is in eval/evaluate.c; this
 * file parses options, prints the table and writes the reports.
 * Registration is left to gs/main.c (k_commands) and gs/cli.h (extern). */
#include "eval/metrics.h"
#include "gs/cli.h"
#include "gs/device.h"

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
    printf("\n\n%d image pair%s in %.2f s\n", r->n, r->n == 1 ? "" : "s", r->seconds);
    if (r->opt.psnr) printf("  PSNR (dB, images clamped to [0,1]), means of per-image values\n");
    if (r->opt.ssim) printf("  %s\n", r->ssim_label);
    if (r->opt.lpips) printf("  %s (inputs in [0,1], normalize=True), weights %s\n", r->lpips_label, r->lpips_weights);
}

static int run(int argc, char **argv) {
    const gs_command *c = &cmd_eval_def;
    const char *pred = NULL, *gt = NULL, *json = NULL, *csv = NULL, *scene = NULL, *metrics = NULL;
    gs_eval_options o;
    gs_eval_options_default(&o);
    gs_device dev = GS_DEVICE_CPU;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        gs_status st = GS_OK;
        if (!strcmp(a, "--pred")) pred = v;
        else if (!strcmp(a, "--gt")) gt = v;
        else if (!strcmp(a, "--json")) json = v;
        else if (!strcmp(a, "--csv")) csv = v;
        else if (!strcmp(a, "--scene")) scene = v;
        else if (!strcmp(a, "--cameras")) { /* with --scene, rejected below */ }
        else if (!strcmp(a, "--metrics")) metrics = v;
        else if (!strcmp(a, "--lpips-weights")) o.lpips_weights = v;
        else if (!strcmp(a, "--lpips-net")) st = v ? gs_lpips_net_parse(v, &o.lpips_net) : GS_OK;
        else if (!strcmp(a, "--ssim")) st = v ? gs_ssim_mode_parse(v, &o.ssim_mode) : GS_OK;
        else if (!strcmp(a, "--device")) st = v ? gs_device_parse(v, &dev) : GS_OK;
        else if (!strcmp(a, "--gt-bg")) {
            if (v && !strcmp(v, "white")) o.bg[0] = o.bg[1] = o.bg[2] = 1.0f;
            else if (v && !strcmp(v, "black")) o.bg[0] = o.bg[1] = o.bg[2] = 0.0f;
            else if (v) return cli_usage_error(c, "--gt-bg must be white or black, not '%s'", v);
        } else
            return cli_usage_error(c, "unknown argument '%s'", a);
        if (!v) return cli_usage_error(c, "%s needs a value", a);
        if (st) return cli_usage_error(c, "%s", gs_last_error());
        i += takes;
    }
    if (scene)
        return cli_usage_error(c, "--scene is not yet available: it needs the rasterizer; render the views and "
                                  "use --pred DIR --gt DIR");
    if (!pred || !gt) return cli_usage_error(c, "--pred DIR and --gt DIR are required");
    if (metrics && gs_eval_metrics_parse(metrics, &o)) return cli_usage_error(c, "%s", gs_last_error());
    if (gs_device_resolve(dev) == GS_DEVICE_CUDA)
        fprintf(stderr, "gs eval: the CUDA metrics are not implemented yet; computing on the CPU\n");
    o.device = GS_DEVICE_CPU;

    gs_eval_report r;
    gs_status st = gs_eval_dirs(pred, gt, &o, &r);
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
    "\n"
    "Pairs the images (.png, .jpg) of the two directories by file name (or by\n"
    "name stem when the extensions differ), composites images with alpha over\n"
    "the background, and prints PSNR, SSIM and LPIPS per image and their means.\n"
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
    "                        $GS_LPIPS_DIR or ../shared/data/lpips)\n"
    "  --gt-bg white|black   background for images with alpha (default white)\n"
    "  --json FILE           write the per-image values and means as JSON\n"
    "  --csv FILE            the same as CSV\n"
    "  --device cpu|cuda     where to compute (CUDA: not yet; falls back to CPU)\n"
    "  --scene SPLATS --cameras FILE   render and score (not yet available)\n",
};
