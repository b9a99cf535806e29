/* test.h - the project's tiny test framework.
 *
 * TEST(name) { ... } registers a test (via a constructor) in the single test
 * binary build/test_gs. Checks record failures with file:line and keep going.
 * TEST_SKIP("why") marks the test skipped (e.g. ../shared/data absent; never
 * for a tracked golden, see REQUIRE_GOLDEN).
 * The runner prints one line per test and ends with "N passed, N failed,
 * N skipped". Run a subset with: build/test_gs <substring>. */
#ifndef GS_TEST_H
#define GS_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs/ops/ops.h"

/* A CPU op context without a workspace (modules plan and make their own). */
extern const gs_ctx g_test_cpu;
/* A CPU op context whose workspace is exactly `bytes` (none for 0, or when
 * that much cannot be had), so that an op taking more scratch than its
 * workspace query declares fails its test. Valid until the next call. */
gs_ctx gs_test_ctx(size_t bytes);

typedef void (*gs_test_fn)(void);
void gs_test_register(const char *name, const char *file, gs_test_fn fn);
void gs_test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void gs_test_skip(const char *why);
int gs_test_failed(void);
/* ../shared/data or $GS_SHARED_DATA; NULL when absent */
const char *gs_test_data_dir(void);
/* A fresh temporary directory for this test run (removed at exit). */
const char *gs_test_tmpdir(void);
/* Path helper: data dir + rel into a static buffer per call slot (8 slots). */
const char *gs_test_data(const char *rel);
const char *gs_test_tmp(const char *rel);
/* Run a shell command, capture its stdout into *out (malloc'ed,
 * NUL-terminated); returns the exit status (-1 when it did not exit). */
int gs_test_run(const char *cmd, char **out);
/* Run `$GS_BIN ARGS` (default build/gs) through the shell, capture stdout and
 * stderr into *out (malloc'ed, NUL-terminated); returns the exit status. */
int gs_test_run_gs(const char *args, char **out);
#define NEED_GS_BIN() do { if (!getenv("GS_BIN")) TEST_SKIP("GS_BIN not set (run through make test)"); } while (0)

#define TEST(name)                                                              \
    static void test_##name(void);                                              \
    __attribute__((constructor)) static void register_##name(void) {            \
        gs_test_register(#name, __FILE__, test_##name);                         \
    }                                                                           \
    static void test_##name(void)

#define CHECK(cond)                                                             \
    do { if (!(cond)) gs_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); } while (0)
#define CHECK_MSG(cond, ...)                                                    \
    do { if (!(cond)) gs_test_fail(__FILE__, __LINE__, __VA_ARGS__); } while (0)
#define CHECK_EQ_INT(a, b)                                                      \
    do { long long a_ = (long long)(a), b_ = (long long)(b);                    \
         if (a_ != b_) gs_test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); } while (0)
#define CHECK_NEAR(a, b, tol)                                                   \
    do { double a_ = (double)(a), b_ = (double)(b);                             \
         if (!(fabs(a_ - b_) <= (tol)))                                         \
             gs_test_fail(__FILE__, __LINE__, "%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, (double)(tol)); } while (0)
#define CHECK_STR(a, b)                                                         \
    do { const char *a_ = (a), *b_ = (b);                                       \
         if (!a_ || !b_ || strcmp(a_, b_)) gs_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } while (0)
/* Status checks: OK, or a specific failure whose message contains a word. */
#define CHECK_OK(expr)                                                          \
    do { gs_status s_ = (expr);                                                 \
         if (s_ != GS_OK) gs_test_fail(__FILE__, __LINE__, "%s failed: %s", #expr, gs_last_error()); } while (0)
#define CHECK_ERR(expr, needle)                                                 \
    do { gs_clear_error(); gs_status s_ = (expr);                               \
         if (s_ == GS_OK) gs_test_fail(__FILE__, __LINE__, "%s succeeded, expected an error", #expr); \
         else if ((needle) && !strstr(gs_last_error(), (needle)))               \
             gs_test_fail(__FILE__, __LINE__, "%s: error \"%s\" lacks \"%s\"", #expr, gs_last_error(), (const char *)(needle)); } while (0)
#define TEST_SKIP(why) do { gs_test_skip(why); return; } while (0)
#define REQUIRE_DATA() do { if (!gs_test_data_dir()) TEST_SKIP("../shared/data not found (set GS_SHARED_DATA)"); } while (0)

/* CUDA tests. A test whose name or file contains "cuda" is a CUDA test; it
 * starts with NEED_CUDA(), which returns from it (skipped) when this build has
 * no CUDA or no GPU is usable, in the CUDA runtime's words. With
 * GS_REQUIRE_CUDA=1 in the environment (a GPU session) NEED_CUDA() fails the
 * test instead, and the runner turns any skip of a CUDA test (missing data,
 * say) into a failure: a GPU run cannot pass by skipping. */
int gs_test_cuda_required(void);
int gs_test_need_cuda(const char *file, int line);
/* Run this test binary again for the test `name` alone with no GPU visible
 * (CUDA_VISIBLE_DEVICES=""), so that the no-GPU paths are checked on a GPU
 * machine too; fails the calling test unless it passed there. */
void gs_test_rerun_without_gpu(const char *file, int line, const char *name);
#define NEED_CUDA() do { if (!gs_test_need_cuda(__FILE__, __LINE__)) return; } while (0)

/* A golden file this repository tracks (tests/golden/...) must be there: a
 * missing one fails the test (it is never a reason to skip). */
#define GOLDEN_MISSING(what) \
    do { gs_test_fail(__FILE__, __LINE__, "tracked golden %s is missing (run from the repository root)", (const char *)(what)); return; } while (0)
#define REQUIRE_GOLDEN(path) \
    do { if (!gs_file_exists(path) && !gs_is_dir(path)) GOLDEN_MISSING(path); } while (0)

#endif
