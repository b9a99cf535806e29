/* cmd_info.c - `gs info FILE...`: describe any supported file. (filled in below) */
#include "gs/cli.h"

static int run(int argc, char **argv) {
    (void)argc; (void)argv;
    return 0;
}

const gs_command cmd_info_def = {
    "info", run, "describe a file: safetensors, splats (ply/splat/spz), images, cameras",
    "usage: gs info FILE...\n",
};
