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
    snprintf(cmd, sizeof cmd, "{ %s %s ; } 2>&1", bin ? bin : "build/gs", args);
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

TEST(cli_info_and_convert_real_files) {
    NEED_BIN();
    REQUIRE_DATA();
    char *out, args[2048];
    snprintf(args, sizeof args, "info %s", gs_test_data("splats/guitar.compressed.ply"));
    CHECK_EQ_INT(run_gs(args, &out), 0);
    CHECK(out && strstr(out, "PlayCanvas compressed PLY, 90854 splats, SH degree 0"));
    free(out);
    /* compressed PLY -> SPZ -> PLY -> .splat: the count survives every step */
    const char *spz = gs_test_tmp("guitar.spz"), *ply = gs_test_tmp("guitar.ply"), *spl = gs_test_tmp("guitar.splat");
    snprintf(args, sizeof args, "convert %s %s", gs_test_data("splats/guitar.compressed.ply"), spz);
    CHECK_EQ_INT(run_gs(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "convert %s %s && %s convert %s %s", spz, ply, getenv("GS_BIN"), ply, spl);
    CHECK_EQ_INT(run_gs(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "info %s %s %s", spz, ply, spl);
    CHECK_EQ_INT(run_gs(args, &out), 0);
    CHECK(out && strstr(out, "Niantic SPZ, 90854 splats"));
    CHECK(out && strstr(out, "INRIA 3DGS PLY, 90854 splats"));
    CHECK(out && strstr(out, "antimatter15 .splat, 90854 splats"));
    free(out);
    /* cameras: transforms.json -> our JSON -> COLMAP text, 13 views each time */
    const char *js = gs_test_tmp("lego_cams.json"), *col = gs_test_tmp("lego_colmap");
    snprintf(args, sizeof args, "convert %s %s && %s convert %s %s && %s info %s %s",
             gs_test_data("scenes/lego/transforms_train.json"), js, getenv("GS_BIN"), js, col, getenv("GS_BIN"), js, col);
    CHECK_EQ_INT(run_gs(args, &out), 0);
    CHECK(out && strstr(out, "(gs-cameras JSON), 13 views"));
    CHECK(out && strstr(out, "(COLMAP text model), 13 views"));
    CHECK(out && strstr(out, "fx 1111.11"));
    free(out);
}

TEST(cli_bad_input_is_reported_with_the_file_name) {
    NEED_BIN();
    char *out, args[1024];
    const char *bad = gs_test_tmp("broken.ply");
    CHECK_OK(gs_write_file_atomic(bad, "ply\nformat binary_little_endian 1.0\nelement vertex 1000000\nproperty float x\nend_header\n", 86));
    snprintf(args, sizeof args, "info %s", bad);
    CHECK_EQ_INT(run_gs(args, &out), 1);
    CHECK(out && strstr(out, "broken.ply") && strstr(out, "error"));
    free(out);
    snprintf(args, sizeof args, "info %s", gs_test_tmp("does_not_exist.spz"));
    CHECK_EQ_INT(run_gs(args, &out), 1);
    CHECK(out && strstr(out, "does_not_exist.spz"));
    free(out);
    snprintf(args, sizeof args, "convert %s %s", bad, gs_test_tmp("out.spz"));
    CHECK_EQ_INT(run_gs(args, &out), 1);
    free(out);
    CHECK(!gs_file_exists(gs_test_tmp("out.spz"))); /* nothing half-written */
    CHECK_EQ_INT(run_gs("convert --sh-degree 7 a.ply b.ply", &out), 2);
    CHECK(out && strstr(out, "--sh-degree"));
    free(out);
    CHECK_EQ_INT(run_gs("info --bogus x", &out), 2);
    free(out);
}
