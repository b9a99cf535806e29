/* cmd_infer.c - `gs infer` (work in progress: being written). */
#include "gs/cli.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "gs infer: not available in this build yet\n");
    return 1;
}

const gs_command cmd_infer_def = {"infer", run, "(not available yet)", "usage: gs infer (not available yet)\n"};
