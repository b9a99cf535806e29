/* cmd_bench_infer.c - `gs bench infer` (work in progress: being written). */
#include "gs/cli.h"

#include <stdio.h>

int bench_infer(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "gs bench infer: not available in this build yet\n");
    return 1;
}
