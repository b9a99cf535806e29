/* cmd_bench_infer.c - `gs bench infer`: per-stage time and peak memory of the
 * Depth Anything 3 network on the CPU, on synthetic photos of a fixed size
 * (random-weight checkpoints of the real sizes are fine: the cost does not
 * depend on the values). tools/bench_da3_torch.py measures PyTorch on the
 * same checkpoint, sizes and thread count for the comparison. */
#include "gs/cli/bench.h"
#include "gs/model/da3.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static const char k_usage[] =
    "usage: gs bench infer --model PATH [options]\n"
    "\n"
    "Time Depth Anything 3 on synthetic photos: preprocessing, backbone, head and cameras\n"
    "(ms per view, median of the timed runs after warm-up), and peak memory.\n"
    "\n"
    "  --model PATH        model folder or .safetensors (random weights of the real size are fine:\n"
    "                      tools/make_da3_goldens.py --full da3-small --out DIR writes one)\n"
    "  --config NAME       configuration for a bare .safetensors\n"
    "  --views LIST        view counts, comma-separated (default 1,8)\n"
    "  --size WxH          network input size (default 504x378); the synthetic photos are twice\n"
    "                      that size, so preprocessing does a real downscale\n"
    "  --runs N            timed runs per view count (default 3)\n"
    "  --warmup N          untimed runs first (default 1)\n"
    "  --ray-pose          time the ray head + ray pose instead of the camera decoder\n"
    "  --gs                include the Gaussian head (models with one)\n"
    "  --threads N         CPU threads (default: all)\n"
    "  --json FILE         also write the figures as JSON\n";


static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}


static double current_rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f) return 0.0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
    fclose(f);
    return rss * 4096.0 / (1024.0 * 1024.0);
}

/* A smooth synthetic photo (gradients and rings) so that preprocessing and the
 * network see image-like statistics. */
static gs_status synth_image(gs_image *im, int w, int h, int seed) {
    gs_status st = gs_image_alloc(im, w, h, 3);
    if (st) return st;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = (double)x / w, v = (double)y / h, r = hypot(u - 0.5, v - 0.5);
            float *p = im->data + 3 * ((size_t)y * w + x);
            p[0] = (float)((int)(127.5 + 127.0 * sin(9.0 * r + seed)) / 255.0);
            p[1] = (float)((int)(255.0 * u) / 255.0);
            p[2] = (float)((int)(255.0 * (0.5 + 0.5 * cos(7.0 * v + 0.3 * seed))) / 255.0);
        }
    return GS_OK;
}

int bench_infer(int argc, char **argv) {
    const char *model = NULL, *config = NULL, *json = NULL, *views_s = "1,8";
    int W = 504, H = 378, runs = 3, warmup = 1;
    gs_da3_options o;
    gs_da3_options_default(&o);
    o.quiet = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        long v;
        int has = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(k_usage, stdout); return 0; }
        else if (!strcmp(a, "--model") && has) model = argv[++i];
        else if (!strcmp(a, "--config") && has) config = argv[++i];
        else if (!strcmp(a, "--json") && has) json = argv[++i];
        else if (!strcmp(a, "--views") && has) views_s = argv[++i];
        else if (!strcmp(a, "--size") && has) {
            if (sscanf(argv[++i], "%dx%d", &W, &H) != 2 || W < 14 || H < 14 || W > 4096 || H > 4096) {
                fprintf(stderr, "gs bench infer: --size must be WxH with sides 14..4096\n");
                return 2;
            }
        } else if (!strcmp(a, "--runs") && has && cli_parse_int(argv[i + 1], 1, 1000, &v)) { runs = (int)v; i++; }
        else if (!strcmp(a, "--warmup") && has && cli_parse_int(argv[i + 1], 0, 100, &v)) { warmup = (int)v; i++; }
        else if (!strcmp(a, "--threads") && has && cli_parse_int(argv[i + 1], 1, 1024, &v)) { gs_set_num_threads((int)v); i++; }
        else if (!strcmp(a, "--ray-pose")) o.use_ray_pose = 1;
        else if (!strcmp(a, "--gs")) o.infer_gs = 1;
        else {
            fprintf(stderr, "gs bench infer: unknown or incomplete option '%s'\nTry 'gs bench infer --help'.\n", a);
            return 2;
        }
    }
    if (!model) {
        fprintf(stderr, "gs bench infer: --model PATH is required\nTry 'gs bench infer --help'.\n");
        return 2;
    }
    int views[16], nv = 0;
    for (const char *s = views_s; *s && nv < 16;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 256) {
            fprintf(stderr, "gs bench infer: bad --views '%s'\n", views_s);
            return 2;
        }
        views[nv++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    o.process_res = W > H ? W : H;

    double rss0 = current_rss_mb();
    gs_da3_model m;
    double t0 = gs_now();
    gs_status st = gs_da3_load(&m, model, config);
    if (st) return cli_fail("bench infer", st);
    double t_load = gs_now() - t0;
    struct stat sb;
    double weights_mb = stat(m.path, &sb) ? 0.0 : sb.st_size / (1024.0 * 1024.0);
    char desc[256];
    gs_da3_describe(&m, desc, sizeof desc);
    printf("gs bench infer\n");
    printf("model      %s\n", desc);
    printf("weights    %.1f MiB (memory-mapped; load %.2f s)\n", weights_mb, t_load);
    printf("device     cpu, %d threads, float32\n", gs_num_threads());
    printf("input      %dx%d network input (synthetic %dx%d photos)\n", W, H, 2 * W, 2 * H);
    printf("runs       %d timed after %d warm-up, median per view\n\n", runs, warmup);
    printf("%5s  %10s  %10s  %10s  %10s  %10s  %10s  %10s  %10s\n", "views", "prep ms/v", "backbone", "head", "cameras",
           o.infer_gs ? "gaussians" : "-", "total ms/v", "plan MiB", "peak MiB");
    FILE *jf = NULL; /* the temporary file of an atomic writer: renamed into place at the end */
    gs_afile ja;
    if (json) {
        if ((st = gs_afile_open(&ja, json))) {
            gs_da3_free(&m);
            return cli_fail("bench infer", st);
        }
        jf = ja.f;
        fprintf(jf, "{\"model\": \"%s\", \"threads\": %d, \"width\": %d, \"height\": %d, \"weights_mib\": %.1f, \"results\": [",
                m.cfg.model_name, gs_num_threads(), W, H, weights_mb);
    }
    int rc = 0;
    for (int k = 0; k < nv && !rc; k++) {
        int S = views[k];
        gs_image *imgs = calloc((size_t)S, sizeof *imgs);
        if (!imgs) { rc = 1; break; }
        for (int i = 0; i < S && !st; i++) st = synth_image(&imgs[i], 2 * W, 2 * H, i);
        double *tp = calloc((size_t)runs * 6, sizeof *tp), plan = 0;
        if (!tp) st = GS_ERR_NOMEM;
        for (int r = 0; r < warmup + runs && !st; r++) {
            gs_da3_prediction p;
            double a = gs_now();
            st = gs_da3_infer(&m, imgs, S, NULL, NULL, &o, &p);
            double total = gs_now() - a;
            if (st) break;
            if (r >= warmup) {
                double *t = tp + 6 * (r - warmup);
                t[0] = p.t_preprocess / S;
                t[1] = p.t_backbone / S;
                t[2] = p.t_head / S;
                t[3] = p.t_cameras / S;
                t[4] = p.t_gs / S;
                t[5] = total / S;
            }
            plan = (double)p.workspace_bytes / (1 << 20);
            gs_da3_prediction_free(&p);
        }
        if (st) {
            rc = cli_fail("bench infer", st);
        } else {
            double med[6], col[1000];
            for (int c = 0; c < 6; c++) {
                for (int r = 0; r < runs; r++) col[r] = tp[6 * r + c];
                med[c] = median(col, runs);
            }
            double peak = bench_peak_rss_mib();
            printf("%5d  %10.1f  %10.1f  %10.1f  %10.1f  %10.1f  %10.1f  %10.1f  %10.0f\n", S, med[0] * 1e3,
                   med[1] * 1e3, med[2] * 1e3, med[3] * 1e3, med[4] * 1e3, med[5] * 1e3, plan, peak);
            if (jf)
                fprintf(jf, "%s{\"views\": %d, \"preprocess_ms\": %.2f, \"backbone_ms\": %.2f, \"head_ms\": %.2f, "
                            "\"cameras_ms\": %.2f, \"gaussians_ms\": %.2f, \"total_ms_per_view\": %.2f, "
                            "\"workspace_mib\": %.1f, \"peak_rss_mib\": %.0f}",
                        k ? ", " : "", S, med[0] * 1e3, med[1] * 1e3, med[2] * 1e3, med[3] * 1e3, med[4] * 1e3,
                        med[5] * 1e3, plan, peak);
        }
        free(tp);
        for (int i = 0; i < S; i++) gs_image_free(&imgs[i]);
        free(imgs);
    }
    printf("\nbaseline RSS before loading %.0f MiB; plan is the forward's workspace arena (gs_da3_workspace); peak is the\n"
           "process high-water mark (weights pages touched + activations)\n",
           rss0);
    if (jf) {
        fprintf(jf, "]}\n");
        if (rc) gs_afile_abort(&ja);
        else if ((st = gs_afile_commit(&ja))) rc = cli_fail("bench infer", st);
    }
    gs_da3_free(&m);
    return rc;
}
