/* main.c - the `gs` command: dispatch to subcommands, help, version. */
#include "gs/cli/cli.h"
#include "gs/core/device.h"
#include "gs/core/progress.h"
#include "data/cameras.h"
#include "eval/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GS_VERSION "0.1.0"
#ifndef GS_COMMIT /* the Makefile passes the commit it built (git describe) */
#define GS_COMMIT "unknown commit"
#endif

int cli_fail(const char *cmd, gs_status st) {
    fprintf(stderr, "gs %s: error: %s\n", cmd, gs_last_error());
    (void)st;
    return 1;
}

int cli_usage_error(const gs_command *c, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "gs %s: ", c->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'gs %s --help'.\n", c->name);
    return 2;
}

int cli_is_help(const char *a) { return !strcmp(a, "-h") || !strcmp(a, "--help") || !strcmp(a, "help"); }

int cli_parse_int(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return 0;
    *out = v;
    return 1;
}

int cli_parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end) return 0;
    *out = v;
    return 1;
}

char *cli_dir_arg(char *s) {
    size_t n = strlen(s);
    while (n > 1 && s[n - 1] == '/') s[--n] = 0;
    return s;
}

char *cli_path_abs(const char *path, char *out, size_t n) {
    char buf[8192];
    if (path[0] == '/') snprintf(buf, sizeof buf, "%s", path);
    else {
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd)) return NULL;
        if ((size_t)snprintf(buf, sizeof buf, "%s/%s", cwd, path) >= sizeof buf) return NULL;
    }
    size_t len = 0; /* out holds "/a/b" so far; each component is folded in */
    for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, ".")) continue;
        if (!strcmp(c, "..")) {
            while (len > 0 && out[len - 1] != '/') len--;
            if (len > 0) len--;
            continue;
        }
        size_t k = strlen(c);
        if (len + 1 + k + 1 > n) return NULL;
        out[len++] = '/';
        memcpy(out + len, c, k);
        len += k;
    }
    if (len == 0) {
        if (n < 2) return NULL;
        out[len++] = '/';
    }
    out[len] = 0;
    return out;
}

/* cli_photos_load, cli_photos_free: gs/cli/inputs.c */

gs_status cli_da3_infer(const char *cmd, gs_da3_model *m, const cli_photos *ph, gs_da3_options *o,
                        gs_da3_prediction *p) {
    char who[64];
    snprintf(who, sizeof who, "gs %s", cmd);
    gs_meter pm;
    gs_meter_begin(&pm, who, o->quiet);
    o->on_progress = gs_meter_update;
    o->progress_ctx = &pm;
    gs_status st = gs_da3_infer(m, ph->imgs, ph->n, ph->w2c, ph->K, o, p);
    gs_meter_end(&pm);
    o->on_progress = NULL;
    o->progress_ctx = NULL;
    return st;
}

static double g_stage_t0;
void cli_stage_clock_start(void) { g_stage_t0 = gs_now(); }
void cli_print_stage(void *ctx, const char *stage) {
    fprintf(stderr, "gs %s: %s ... (%.1f s)\n", (const char *)ctx, stage, gs_now() - g_stage_t0);
}

static const gs_command *const k_commands[] = {
    &cmd_info_def,
    &cmd_convert_def,
    &cmd_render_def,
    &cmd_eval_def,
    &cmd_infer_def,
    &cmd_nvs_def,
    &cmd_eval_nvs_def,
    &cmd_view_def,
    &cmd_bench_def,
};
#define N_COMMANDS (int)(sizeof k_commands / sizeof k_commands[0])

static void print_help(FILE *f) {
    fprintf(f,
            "gs " GS_VERSION " - photos to 3D Gaussian splats (Depth Anything 3) and novel views\n"
            "\n"
            "usage: gs <command> [options]\n"
            "\n"
            "commands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", k_commands[i]->name, k_commands[i]->summary);
    fprintf(f,
            "\n"
            "Run 'gs <command> --help' for the options of a command.\n"
            "Global: gs --version prints the version and the compute devices this build can use.\n");
}

/* What a bug report or a device log needs: the build, the devices (with the
 * CUDA runtime's reason when none is usable), and the LPIPS weights found. */
static int print_version(void) {
    char buf[512];
    printf("gs %s (%s)\n", GS_VERSION, GS_COMMIT);
    printf("cpu threads: %d\n", gs_num_threads());
    gs_cuda_describe(buf, sizeof buf); /* fills buf on failure too */
    printf("cuda: %s\n", buf);
    if (gs_cuda_compiled()) {
        gs_cuda_versions(buf, sizeof buf);
        printf("cuda versions: %s\n", buf);
    }
    for (int k = 0; k < 3; k++) {
        const gs_lpips_net net = (gs_lpips_net)k;
        if (gs_lpips_find_weights(net, buf, sizeof buf) == GS_OK) printf("lpips %s: %s\n", gs_lpips_net_name(net), buf);
        else printf("lpips %s: not found (gs eval --help says where it looks)\n", gs_lpips_net_name(net));
    }
    gs_clear_error();
    return 0;
}

/* Output to a full disk, a file-size limit or /dev/full must not exit 0. */
static int finish_stdout(int rc) {
    errno = 0;
    int bad = fflush(stdout) != 0;
    if (bad || ferror(stdout)) {
        fprintf(stderr, "gs: error: writing standard output: %s\n", bad && errno ? strerror(errno) : "a write failed");
        return rc ? rc : 1;
    }
    return rc;
}

static int dispatch(int argc, char **argv);

int main(int argc, char **argv) {
    gs_signals_install();
    return finish_stdout(dispatch(argc, argv));
}

static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        print_help(stderr);
        return 2;
    }
    if (cli_is_help(argv[1])) {
        if (argc >= 3) {
            for (int i = 0; i < N_COMMANDS; i++)
                if (!strcmp(argv[2], k_commands[i]->name)) { fputs(k_commands[i]->usage, stdout); return 0; }
            fprintf(stderr, "gs: unknown command '%s'\n", argv[2]);
            return 2;
        }
        print_help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) return print_version();
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], k_commands[i]->name)) continue;
        /* `gs bench WORKLOAD --help` is the workload's own help */
        int first_only = k_commands[i] == &cmd_bench_def && argc > 2 && argv[2][0] != '-';
        for (int a = 2; a < (first_only ? 2 : argc); a++)
            if (!strcmp(argv[a], "-h") || !strcmp(argv[a], "--help")) { fputs(k_commands[i]->usage, stdout); return 0; }
        return k_commands[i]->fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "gs: unknown command '%s'\n\n", argv[1]);
    print_help(stderr);
    return 2;
}
