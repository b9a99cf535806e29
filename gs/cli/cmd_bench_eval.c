/* cmd_bench_eval.c - `gs bench eval`: image pairs per second for each metric
 * (PSNR, SSIM in both variants, LPIPS alex and squeeze) at 504x504 and
 * 1920x1080, on the CPU and, when one is usable, the GPU. Warm-up runs are
 * excluded; the median, minimum and maximum of the timed runs are reported.
 * tools/bench_eval_reference.py times the reference Python libraries on the
 * same synthetic pairs for comparison. */
#include "eval/metrics.h"
#include "gs/cli/bench.h"
#include "gs/core/device.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char k_usage[] =
    "usage: gs bench eval [options]\n"
    "\n"
    "Times every metric on one synthetic image pair per size (the same pairs as\n"
    "tools/bench_eval_reference.py) and prints pairs per second: the median of\n"
    "the timed runs, with their minimum and maximum.\n"
    "\n"
    "  --sizes WxH[,WxH..]   image sizes (default 504x504,1920x1080)\n"
    "  --metrics LIST        any of psnr,ssim,ssim-3dgs,lpips-alex,lpips-squeeze,\n"
    "                        lpips-vgg (default: all but lpips-vgg)\n"
    "  --runs N              timed runs per measurement (default 5)\n"
    "  --warmup N            untimed runs before them (default 1)\n"
    "  --device cpu|cuda|all where to run (default all: CPU, and CUDA when usable)\n"
    "  --threads N           CPU threads (default: OpenMP's)\n"
    "  --lpips-dir DIR       folder with lpips_NET_v0.1.safetensors (default: as gs eval)\n"
    "  --json FILE           write the figures as JSON\n"
    "  --quick               64x64 only, 2 runs, no warm-up (a smoke test)\n";

static const gs_command k_cmd = {"bench eval", NULL, "eval benchmark", k_usage};

enum { M_PSNR, M_SSIM, M_SSIM3, M_ALEX, M_SQUEEZE, M_VGG, N_METRICS };
static const char *const k_metric_names[N_METRICS] = {"psnr",       "ssim",          "ssim-3dgs",
                                                      "lpips-alex", "lpips-squeeze", "lpips-vgg"};
static const char *const k_metric_labels[N_METRICS] = {
    "PSNR", "SSIM (skimage)", "SSIM (3dgs)", "LPIPS-alex v0.1", "LPIPS-squeeze v0.1", "LPIPS-vgg v0.1"};

#define MAX_RUNS 1000

/* The benchmark pair (tools/bench_eval_reference.py builds the same one):
 * gt = 0.5 + 0.4 sin(0.05 x + 0.07 y + 1.3 c), pred = gt + 0.05 n, clamped,
 * n in [-1,1] from a hash of the pixel index. */
static gs_status make_pair(int w, int h, gs_image *pred, gs_image *gt) {
    gs_status s = gs_image_alloc(gt, w, h, 3);
    if (!s) s = gs_image_alloc(pred, w, h, 3);
    if (s) {
        gs_image_free(gt);
        return s;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                const size_t i = ((size_t)y * w + x) * 3 + c;
                uint32_t v = (uint32_t)i * 2654435761u;
                v ^= v >> 15, v *= 0x2c1b3c6du, v ^= v >> 12;
                const double n = (double)(v % 2001) / 1000.0 - 1.0;
                const double g = 0.5 + 0.4 * sin(0.05 * x + 0.07 * y + 1.3 * c);
                gt->data[i] = (float)g;
                pred->data[i] = (float)fmin(1.0, fmax(0.0, g + 0.05 * n));
            }
    return GS_OK;
}


typedef struct {
    gs_eval_cuda *cuda; /* NULL: CPU */
    gs_lpips *lp[3];    /* alex, squeeze, vgg (NULL when absent) */
} bench_ctx;

static gs_status run_metric(bench_ctx *b, int m, const gs_image *p, const gs_image *g, double *v) {
    if (m == M_PSNR) return b->cuda ? gs_psnr_cuda(b->cuda, p, g, v) : gs_psnr(p, g, v);
    if (m == M_SSIM || m == M_SSIM3) {
        const gs_ssim_mode mode = m == M_SSIM ? GS_SSIM_SKIMAGE : GS_SSIM_3DGS;
        return b->cuda ? gs_ssim_cuda(b->cuda, p, g, mode, v) : gs_ssim(p, g, mode, v);
    }
    gs_lpips *lp = b->lp[m - M_ALEX];
    return b->cuda ? gs_lpips_eval_cuda(b->cuda, lp, p, g, v, NULL) : gs_lpips_eval(lp, p, g, v, NULL);
}



int bench_eval(int argc, char **argv) {
    int sizes[BENCH_MAX_SIZES][2] = {{504, 504}, {1920, 1080}}, n_sizes = 2;
    int want[N_METRICS] = {1, 1, 1, 1, 1, 0};
    long runs = 5, warmup = 1, threads = 0;
    const char *json = NULL, *lpips_dir = NULL, *dev_arg = "all";
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            fputs(k_usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--quick")) {
            quick = 1;
            continue;
        }
        if (!v) return cli_usage_error(&k_cmd, "%s needs a value (or is unknown)", a);
        i++;
        if (!strcmp(a, "--sizes")) {
            if (!bench_parse_sizes(v, sizes, &n_sizes)) return cli_usage_error(&k_cmd, "--sizes takes WxH[,WxH...], not '%s'", v);
        } else if (!strcmp(a, "--metrics")) {
            memset(want, 0, sizeof want);
            for (const char *p = v; *p;) {
                const size_t len = strcspn(p, ",");
                int found = 0;
                for (int m = 0; m < N_METRICS; m++)
                    if (strlen(k_metric_names[m]) == len && !strncmp(p, k_metric_names[m], len)) want[m] = found = 1;
                if (!found)
                    return cli_usage_error(&k_cmd, "unknown metric '%.*s' (expected psnr, ssim, ssim-3dgs, lpips-alex, "
                                                   "lpips-squeeze, lpips-vgg)", (int)len, p);
                p += len;
                if (*p == ',') p++;
            }
        } else if (!strcmp(a, "--runs")) {
            if (!cli_parse_int(v, 1, MAX_RUNS, &runs)) return cli_usage_error(&k_cmd, "--runs takes 1-%d", MAX_RUNS);
        } else if (!strcmp(a, "--warmup")) {
            if (!cli_parse_int(v, 0, 100, &warmup)) return cli_usage_error(&k_cmd, "--warmup takes 0-100");
        } else if (!strcmp(a, "--threads")) {
            if (!cli_parse_int(v, 1, 1024, &threads)) return cli_usage_error(&k_cmd, "--threads takes 1-1024");
        } else if (!strcmp(a, "--device")) {
            if (strcmp(v, "cpu") && strcmp(v, "cuda") && strcmp(v, "all"))
                return cli_usage_error(&k_cmd, "--device takes cpu, cuda or all, not '%s'", v);
            dev_arg = v;
        } else if (!strcmp(a, "--lpips-dir")) {
            lpips_dir = v;
        } else if (!strcmp(a, "--json")) {
            json = v;
        } else {
            return cli_usage_error(&k_cmd, "unknown option '%s'", a);
        }
    }
    if (quick) sizes[0][0] = sizes[0][1] = 64, n_sizes = 1, runs = 2, warmup = 0;
    if (threads) gs_set_num_threads((int)threads);

    /* devices */
    int devs[2], n_devs = 0;
    const int gpu = gs_cuda_device_count() > 0;
    if (strcmp(dev_arg, "cuda")) devs[n_devs++] = GS_DEVICE_CPU;
    if (strcmp(dev_arg, "cpu")) {
        if (gpu) devs[n_devs++] = GS_DEVICE_CUDA;
        else if (!strcmp(dev_arg, "cuda"))
            return cli_fail("bench eval", gs_error(GS_ERR_DEVICE, "--device cuda: %s", gs_cuda_unusable_reason()));
    }
    /* LPIPS weights */
    bench_ctx cpu = {0}, gpu_ctx = {0};
    char note[3][1200] = {"", "", ""};
    for (int k = 0; k < 3; k++) {
        if (!want[M_ALEX + k]) continue;
        char path[2048];
        gs_status st;
        if (lpips_dir) {
            char name[64];
            snprintf(name, sizeof name, "lpips_%s_v0.1.safetensors", gs_lpips_net_name((gs_lpips_net)k));
            gs_path_join(path, sizeof path, lpips_dir, name);
            st = gs_lpips_load(path, (gs_lpips_net)k, &cpu.lp[k]);
        } else {
            st = gs_lpips_find_weights((gs_lpips_net)k, path, sizeof path);
            if (!st) st = gs_lpips_load(path, (gs_lpips_net)k, &cpu.lp[k]);
        }
        if (st) {
            snprintf(note[k], sizeof note[k], "%s skipped: %s", gs_lpips_label((gs_lpips_net)k), gs_last_error());
            want[M_ALEX + k] = 0;
        }
    }
    memcpy(gpu_ctx.lp, cpu.lp, sizeof cpu.lp);

    char cpu_name[256], gpu_name[256] = "none";
    bench_cpu_model(cpu_name, sizeof cpu_name);
    int rc = 0;
    for (int d = 0; d < n_devs; d++)
        if (devs[d] == GS_DEVICE_CUDA) {
            gs_status st = gs_eval_cuda_new(&gpu_ctx.cuda);
            if (st) {
                rc = cli_fail("bench eval", st);
                goto done;
            }
            snprintf(gpu_name, sizeof gpu_name, "%s", gs_eval_cuda_device_name(gpu_ctx.cuda));
        }

    printf("gs bench eval: one image pair per size (float32 RGB), %ld warm-up + %ld timed run%s per figure\n", warmup,
           runs, runs == 1 ? "" : "s");
    printf("  cpu: %s, %d thread%s (OpenMP; OpenBLAS single-threaded inside)\n", cpu_name, gs_num_threads(),
           gs_num_threads() == 1 ? "" : "s");
    printf("  gpu: %s\n", n_devs && devs[n_devs - 1] == GS_DEVICE_CUDA ? gpu_name
                                                                       : (gpu ? "not used" : "none usable"));
    printf("  precision: PSNR and SSIM accumulate in double; LPIPS network float32 (GPU: no TF32), double "
           "reductions; GPU figures include the upload of both images\n\n");
    for (int k = 0; k < 3; k++)
        if (note[k][0]) printf("  note: %s\n", note[k]);
    printf("%-20s %-6s %11s %12s %12s %12s %10s\n", "metric", "device", "size", "median ms", "min ms", "max ms",
           "pairs/s");

    cJSON *root = cJSON_CreateObject(), *results = cJSON_AddArrayToObject(root, "results");
    cJSON_AddStringToObject(root, "workload", "eval");
    cJSON_AddStringToObject(root, "cpu", cpu_name);
    cJSON_AddNumberToObject(root, "cpu_threads", gs_num_threads());
    cJSON_AddStringToObject(root, "gpu", gpu_ctx.cuda ? gpu_name : "");
    cJSON_AddNumberToObject(root, "runs", (double)runs);
    cJSON_AddNumberToObject(root, "warmup", (double)warmup);
    cJSON *skipped = cJSON_AddArrayToObject(root, "skipped");
    for (int k = 0; k < 3; k++)
        if (note[k][0]) cJSON_AddItemToArray(skipped, cJSON_CreateString(note[k]));

    double *t = gs_malloc((size_t)runs, sizeof *t, "bench timings");
    if (!t) {
        rc = cli_fail("bench eval", GS_ERR_NOMEM);
        goto done_json;
    }
    for (int si = 0; si < n_sizes && !rc; si++) {
        gs_image p = {0}, g = {0};
        gs_status st = make_pair(sizes[si][0], sizes[si][1], &p, &g);
        if (st) {
            rc = cli_fail("bench eval", st);
            break;
        }
        for (int m = 0; m < N_METRICS && !rc; m++) {
            if (!want[m]) continue;
            for (int d = 0; d < n_devs && !rc; d++) {
                bench_ctx *b = devs[d] == GS_DEVICE_CUDA ? &gpu_ctx : &cpu;
                double v = 0;
                char size[32];
                snprintf(size, sizeof size, "%dx%d", sizes[si][0], sizes[si][1]);
                for (long r = 0; r < warmup + runs && !st; r++) {
                    const double t0 = gs_now();
                    st = run_metric(b, m, &p, &g, &v);
                    if (r >= warmup) t[r - warmup] = gs_now() - t0;
                }
                const char *dname = devs[d] == GS_DEVICE_CUDA ? "cuda" : "cpu";
                if (st) {
                    /* too small for a network, out of memory: say so and go on */
                    printf("%-20s %-6s %11s  failed: %s\n", k_metric_labels[m], dname, size, gs_last_error());
                    st = GS_OK;
                    continue;
                }
                qsort(t, (size_t)runs, sizeof *t, bench_cmp_double);
                const double med = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
                printf("%-20s %-6s %11s %12.3f %12.3f %12.3f %10.2f\n", k_metric_labels[m], dname, size, 1e3 * med,
                       1e3 * t[0], 1e3 * t[runs - 1], med > 0 ? 1.0 / med : INFINITY);
                fflush(stdout);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "metric", k_metric_names[m]);
                cJSON_AddStringToObject(o, "label", k_metric_labels[m]);
                cJSON_AddStringToObject(o, "device", dname);
                cJSON_AddNumberToObject(o, "width", sizes[si][0]);
                cJSON_AddNumberToObject(o, "height", sizes[si][1]);
                cJSON_AddNumberToObject(o, "median_ms", 1e3 * med);
                cJSON_AddNumberToObject(o, "min_ms", 1e3 * t[0]);
                cJSON_AddNumberToObject(o, "max_ms", 1e3 * t[runs - 1]);
                cJSON_AddNumberToObject(o, "pairs_per_s", med > 0 ? 1.0 / med : 0);
                cJSON_AddNumberToObject(o, "value", v);
                cJSON_AddItemToArray(results, o);
            }
        }
        gs_image_free(&p);
        gs_image_free(&g);
    }
    free(t);
    if (!rc && json) {
        char *text = cJSON_Print(root);
        gs_status st = text ? gs_write_file_atomic(json, text, strlen(text))
                            : gs_error(GS_ERR_NOMEM, "%s: out of memory printing JSON", json);
        free(text);
        if (st) rc = cli_fail("bench eval", st);
        else printf("\nwrote %s\n", json);
    }
done_json:
    cJSON_Delete(root);
done:
    gs_eval_cuda_free(gpu_ctx.cuda);
    for (int k = 0; k < 3; k++) gs_lpips_free(cpu.lp[k]);
    return rc;
}
