/* cli.h - shared pieces of the `gs` command (not part of libgs). Each
 * subcommand is `int cmd_NAME(int argc, char **argv)` returning the exit code;
 * argv[0] is the subcommand name. Only the CLI prints errors and exits. */
#ifndef GS_CLI_H
#define GS_CLI_H

#include "gs/runtime.h"

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

extern const gs_command cmd_info_def;
extern const gs_command cmd_convert_def;
extern const gs_command cmd_render_def;
extern const gs_command cmd_eval_def;
extern const gs_command cmd_infer_def;
extern const gs_command cmd_view_def;
extern const gs_command cmd_bench_def;
extern const gs_command cmd_nvs_def;
extern const gs_command cmd_eval_nvs_def;

/* `gs bench <what>`: each workload lives in gs/cmd_bench_<what>.c; argv[0] is
 * the workload name. */
int bench_render(int argc, char **argv);
int bench_eval(int argc, char **argv);
int bench_infer(int argc, char **argv);

#endif
