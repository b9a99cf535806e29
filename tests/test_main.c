/* test_main.c - runner for all TEST()s linked into build/test_gs. */
#include "tests/test.h"
#include "gs/core/device.h"
#include "gs/core/runtime.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const gs_ctx g_test_cpu = {GS_DEVICE_CPU, NULL, NULL};

static gs_arena g_test_ws;
static void free_test_ws(void) { gs_arena_destroy(&g_test_ws); }

gs_ctx gs_test_ctx(size_t bytes) {
    static int registered;
    if (!registered) registered = !atexit(free_test_ws);
    gs_arena_destroy(&g_test_ws);
    gs_ctx c = gs_ctx_cpu(NULL);
    if (bytes && gs_arena_create(&g_test_ws, GS_DEVICE_CPU, bytes, "test workspace") == GS_OK) c.ws = &g_test_ws;
    else gs_clear_error();
    return c;
}

typedef struct { const char *name, *file; gs_test_fn fn; } entry;
static entry *g_tests;
static int g_n, g_cap;
static int g_fail_count, g_skipped;
static char g_skip_why[512];

void gs_test_register(const char *name, const char *file, gs_test_fn fn) {
    if (g_n == g_cap) {
        g_cap = g_cap ? 2 * g_cap : 64;
        g_tests = realloc(g_tests, (size_t)g_cap * sizeof *g_tests);
        if (!g_tests) abort();
    }
    g_tests[g_n++] = (entry){name, file, fn};
}

void gs_test_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    if (g_fail_count < 20) {
        fprintf(stdout, "    %s:%d: ", file, line);
        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
    }
    g_fail_count++;
}

void gs_test_skip(const char *why) {
    g_skipped = 1;
    snprintf(g_skip_why, sizeof g_skip_why, "%s", why);
}

int gs_test_failed(void) { return g_fail_count > 0; }

int gs_test_cuda_required(void) {
    const char *r = getenv("GS_REQUIRE_CUDA");
    return r && !strcmp(r, "1");
}

int gs_test_need_cuda(const char *file, int line) {
    if (gs_cuda_compiled() && gs_cuda_device_count() > 0) return 1;
    char why[320];
    if (gs_cuda_compiled()) snprintf(why, sizeof why, "no usable CUDA device: %s", gs_cuda_unusable_reason());
    else snprintf(why, sizeof why, "built without CUDA (make CUDA=0, or nvcc was not found)");
    if (gs_test_cuda_required()) gs_test_fail(file, line, "GS_REQUIRE_CUDA=1 but %s", why);
    else gs_test_skip(why);
    return 0;
}

void gs_test_rerun_without_gpu(const char *file, int line, const char *name) {
    char exe[1024], cmd[2048], *out = NULL;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        gs_test_fail(file, line, "cannot find this test binary (/proc/self/exe) to rerun %s without a GPU", name);
        return;
    }
    exe[n] = 0;
    snprintf(cmd, sizeof cmd, "CUDA_VISIBLE_DEVICES= GS_REQUIRE_CUDA=0 '%s' '%s' 2>&1", exe, name);
    int rc = gs_test_run(cmd, &out);
    if (rc != 0 || !out || !strstr(out, "1 passed, 0 failed, 0 skipped"))
        gs_test_fail(file, line, "%s with no GPU visible: exit %d:\n%s", name, rc, out ? out : "(no output)");
    free(out);
}

static int is_cuda_test(const entry *t) { return strstr(t->name, "cuda") || strstr(t->file, "cuda"); }

const char *gs_test_data_dir(void) {
    static int done;
    static char dir[1024];
    if (!done) {
        done = 1;
        const char *env = getenv("GS_SHARED_DATA");
        const char *cands[] = {env, "../shared/data", "../../shared/data"};
        for (int i = 0; i < 3; i++) {
            if (cands[i] && *cands[i] && gs_is_dir(cands[i])) {
                snprintf(dir, sizeof dir, "%s", cands[i]);
                break;
            }
        }
    }
    return dir[0] ? dir : NULL;
}

static char g_tmpdir[256];
static void rm_tmpdir(void) {
    if (!g_tmpdir[0] || getenv("GS_TEST_KEEP")) return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", g_tmpdir);
}

const char *gs_test_tmpdir(void) {
    if (!g_tmpdir[0]) {
        snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/gs-test-XXXXXX");
        if (!mkdtemp(g_tmpdir)) { perror("mkdtemp"); abort(); }
        atexit(rm_tmpdir);
    }
    return g_tmpdir;
}

static const char *slot_path(const char *base, const char *rel) {
    static char bufs[8][1024];
    static int k;
    char *b = bufs[k++ & 7];
    snprintf(b, 1024, "%s/%s", base, rel);
    return b;
}

const char *gs_test_data(const char *rel) {
    const char *d = gs_test_data_dir();
    return slot_path(d ? d : "../shared/data", rel);
}

const char *gs_test_tmp(const char *rel) { return slot_path(gs_test_tmpdir(), rel); }

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0, cuda_n[3] = {0, 0, 0}; /* CUDA tests: passed, failed, skipped */
    const int require = gs_test_cuda_required();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (require) printf("GS_REQUIRE_CUDA=1: a CUDA test that would skip fails\n");
    for (int i = 0; i < g_n; i++) {
        int selected = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strstr(g_tests[i].name, argv[a]) || strstr(g_tests[i].file, argv[a])) selected = 1;
        if (!selected) continue;
        g_fail_count = 0;
        g_skipped = 0;
        gs_clear_error();
        double t0 = gs_now();
        g_tests[i].fn();
        double ms = (gs_now() - t0) * 1e3;
        const int cuda = is_cuda_test(&g_tests[i]);
        if (g_skipped && cuda && require && !g_fail_count) {
            printf("    %s: GS_REQUIRE_CUDA=1 and this CUDA test skipped: %s\n", g_tests[i].file, g_skip_why);
            g_fail_count = 1;
        }
        if (cuda) cuda_n[g_fail_count ? 1 : g_skipped ? 2 : 0]++;
        if (g_fail_count) {
            failed++;
            printf("FAIL %-44s (%d failed checks)\n", g_tests[i].name, g_fail_count);
        } else if (g_skipped) {
            skipped++;
            printf("SKIP %-44s %s\n", g_tests[i].name, g_skip_why);
        } else {
            passed++;
            printf("ok   %-44s %8.1f ms\n", g_tests[i].name, ms);
        }
    }
    if (cuda_n[0] + cuda_n[1] + cuda_n[2])
        printf("cuda tests: %d passed, %d failed, %d skipped\n", cuda_n[0], cuda_n[1], cuda_n[2]);
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}

int gs_test_run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    if (!p) { *out = NULL; return -1; }
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, p)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) break;
            buf = nb;
            cap *= 2;
        }
    }
    if (buf) buf[n] = 0;
    *out = buf;
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int gs_test_run_gs(const char *args, char **out) {
    const char *bin = getenv("GS_BIN");
    size_t need = strlen(args) + 512;
    char *cmd = malloc(need);
    if (!cmd) { *out = NULL; return -1; }
    snprintf(cmd, need, "{ %s %s ; } 2>&1", bin ? bin : "build/gs", args);
    int rc = gs_test_run(cmd, out);
    free(cmd);
    return rc;
}
