/* bench.h - `gs bench`: the workloads (gs/cli/cmd_bench_<what>.c), which the
 * dispatcher gs/cli/cmd_bench.c calls, and the helpers they share
 * (gs/cli/bench_util.c), which call nothing back. */
#ifndef GS_CLI_BENCH_H
#define GS_CLI_BENCH_H

#include "gs/cli/cli.h"

/* `gs bench <what>`: each workload lives in gs/cli/cmd_bench_<what>.c; argv[0] is
 * the workload name. */
int bench_render(int argc, char **argv);
int bench_eval(int argc, char **argv);
int bench_infer(int argc, char **argv);
/* Shared by the workloads (gs/cli/bench_util.c). */
#define BENCH_MAX_SIZES 8
/* "WxH[,WxH..]" into sizes (at most BENCH_MAX_SIZES, sides 1..16384); 0 on a bad list. */
int bench_parse_sizes(const char *s, int (*sizes)[2], int *n);
int bench_cmp_double(const void *a, const void *b);   /* qsort ascending */
double bench_peak_rss_mib(void);                      /* resident high-water mark (VmHWM) */
int bench_reset_peak_rss(void);                       /* restart it (0: the kernel cannot) */
void bench_cpu_model(char *buf, size_t n);            /* /proc/cpuinfo "model name" */

#endif
