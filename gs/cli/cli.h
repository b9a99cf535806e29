/* cli.h - shared pieces of the `gs` command (not part of libgs). Each
 * subcommand is `int cmd_NAME(int argc, char **argv)` returning the exit code;
 * argv[0] is the subcommand name. Only the CLI prints errors and exits. */
#ifndef GS_CLI_H
#define GS_CLI_H

#include "gs/core/runtime.h"
#include "data/image.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *usage; /* full --help text */
} gs_command;

/* Print "gs CMD: <last error>" on stderr and return 1. */
int cli_fail(const char *cmd, gs_status st);
/* Print a usage error and return 2. */
int cli_usage_error(const gs_command *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_is_help(const char *arg);
/* Parse a number argument (whole string must parse). */
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);

/* The photos of `gs infer` / `gs nvs`: images, their stems (unique), and
 * with a camera file their w2c [n,4,4] and K [n,3,3] (else NULL). */
typedef struct {
    int n;
    gs_image *imgs;
    char **names;
    float *w2c, *K;
} cli_photos;
/* Largest photo decoded (header checked first): 100 megapixels, 1.2 GB as
 * float RGB; the network input is at most 2048x2048 anyway. */
#define CLI_PHOTO_MAX_PIXELS (100LL * 1000 * 1000)
/* Loads them; on failure prints "gs CMD: error: ..." and returns 1. */
int cli_photos_load(const char *cmd, char **paths, int n, const char *cameras, cli_photos *ph);
void cli_photos_free(cli_photos *ph);
/* A stage line "gs CMD: STAGE ... (t s)" on stderr, t from
 * cli_stage_clock_start(); ctx is the command name (the form of
 * gs_da3_options.on_stage). The network's own progress, with percent and
 * ETA, is gs_meter's (gs/core/progress.h). */
void cli_print_stage(void *ctx, const char *stage);
void cli_stage_clock_start(void);

extern const gs_command cmd_info_def;
extern const gs_command cmd_convert_def;
extern const gs_command cmd_render_def;
extern const gs_command cmd_eval_def;
extern const gs_command cmd_infer_def;
extern const gs_command cmd_view_def;
extern const gs_command cmd_bench_def;
extern const gs_command cmd_nvs_def;
extern const gs_command cmd_eval_nvs_def;

#endif
