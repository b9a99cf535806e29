/* cmd_bench.c - `gs bench WORKLOAD`: reproducible speed and memory figures.
 * Every workload prints the hardware, resolution, precision and view count
 * with its numbers; warm-up runs are excluded and the median and spread of
 * the timed runs are reported. */
#include "gs/cli/bench.h"

#include <string.h>

static const char k_usage[] =
    "usage: gs bench WORKLOAD [options]\n"
    "\n"
    "Workloads:\n"
    "  render   the rasterizer: feed-forward 3M-Gaussian workload and real scenes\n"
    "  eval     PSNR / SSIM / LPIPS image pairs per second\n"
    "  infer    the Depth Anything 3 network, per stage\n"
    "\n"
    "Run 'gs bench WORKLOAD --help' for the options of a workload.\n";

static int run(int argc, char **argv) {
    if (argc < 2) return cli_usage_error(&cmd_bench_def, "no WORKLOAD given");
    if (!strcmp(argv[1], "render")) return bench_render(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval")) return bench_eval(argc - 1, argv + 1);
    if (!strcmp(argv[1], "infer")) return bench_infer(argc - 1, argv + 1);
    return cli_usage_error(&cmd_bench_def, "unknown workload '%s'", argv[1]);
}

const gs_command cmd_bench_def = {"bench", run, "benchmarks: render, eval, infer", k_usage};
