/* cmd_bench_render.c - `gs bench render` (work in progress: being written). */
#include "gs/cli.h"

#include <stdio.h>

int bench_render(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "gs bench render: not available in this build yet\n");
    return 1;
}
