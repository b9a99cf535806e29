/* cmd_view.c - `gs view` (work in progress: being written). */
#include "gs/cli.h"

#include <stdio.h>

static int run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "gs view: not available in this build yet\n");
    return 1;
}

const gs_command cmd_view_def = {"view", run, "(not available yet)", "usage: gs view (not available yet)\n"};
