/* cmd_bench_eval.c - `gs bench eval` (work in progress: being written). */
#include "gs/cli.h"

#include <stdio.h>

int bench_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "gs bench eval: not available in this build yet\n");
    return 1;
}
