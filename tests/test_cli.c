/* test_cli.c - the `gs` command as a user runs it: help, exit codes, and
 * `gs info` on real and broken files. Needs GS_BIN (set by `make test`). */
#include "tests/test.h"
#include "gs/runtime.h"

#include <stdlib.h>
#include <sys/wait.h>

/* Run `gs ARGS`, capture stdout+stderr into *out (malloc'ed); return exit code. */
static int run_gs(const char *args, char **out) {
    const char *bin = getenv("GS_BIN");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin ? bin : "build/gs", args);
    FILE *p = popen(cmd, "r");
    if (!p) { *out = NULL; return -1; }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap) { cap *= 2; buf = realloc(buf, cap); }
    }
    if (buf) buf[n] = 0;
    *out = buf;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define NEED_BIN() do { if (!getenv("GS_BIN")) TEST_SKIP("GS_BIN not set (run through make test)"); } while (0)

TEST(cli_help_and_unknown_command) {
    NEED_BIN();
    char *out;
    CHECK_EQ_INT(run_gs("--help", &out), 0);
    CHECK(out && strstr(out, "info"));
    free(out);
    CHECK_EQ_INT(run_gs("info --help", &out), 0);
    CHECK(out && strstr(out, "usage: gs info"));
    free(out);
    CHECK_EQ_INT(run_gs("frobnicate", &out), 2);
    CHECK(out && strstr(out, "unknown command 'frobnicate'"));
    free(out);
    CHECK_EQ_INT(run_gs("", &out), 2);
    free(out);
    CHECK_EQ_INT(run_gs("info", &out), 2);
    CHECK(out && strstr(out, "no FILE"));
    free(out);
    CHECK_EQ_INT(run_gs("--version", &out), 0);
    CHECK(out && strstr(out, "cuda:"));
    free(out);
}
