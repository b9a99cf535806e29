/* test_eval_bench.c - `gs bench eval --quick`: it runs, writes its JSON, and
 * measures the pair tools/bench_eval_reference.py measures (the metric values
 * of the 64x64 benchmark pair below were printed by that script with numpy,
 * scikit-image, torch float64 and the lpips package). Bad options fail. */
#include "tests/test.h"
#include "gs/core/runtime.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <sys/wait.h>


static const cJSON *find_result(const cJSON *root, const char *metric) {
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItem(root, "results")) {
        const cJSON *m = cJSON_GetObjectItem(r, "metric"), *d = cJSON_GetObjectItem(r, "device");
        if (cJSON_IsString(m) && !strcmp(m->valuestring, metric) && cJSON_IsString(d) && !strcmp(d->valuestring, "cpu"))
            return r;
    }
    return NULL;
}

TEST(eval_bench_quick_measures_the_reference_pair) {
    if (!getenv("GS_BIN")) TEST_SKIP("GS_BIN not set (run through make test)");
    char args[1024], *out;
    const char *jp = gs_test_tmp("bench_eval.json");
    snprintf(args, sizeof args, "bench eval --quick --device cpu --json %s", jp);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK(out && strstr(out, "pairs/s") && strstr(out, "threads"));
    free(out);
    uint8_t *text;
    size_t n;
    CHECK_OK(gs_read_file(jp, 1 << 20, &text, &n));
    cJSON *j = text ? cJSON_Parse((const char *)text) : NULL;
    free(text);
    CHECK(j != NULL);
    if (!j) return;
    static const struct {
        const char *metric;
        double ref, tol;
    } k_ref[] = {
        {"psnr", 30.81442978909976, 1e-4},       /* numpy float64 */
        {"ssim", 0.7679483651553198, 1e-5},      /* skimage structural_similarity, float64 */
        {"ssim-3dgs", 0.8120921648936883, 1e-5}, /* 3DGS ssim() in torch float64 */
        {"lpips-alex", 0.11105936020612717, 1e-4},
    };
    for (size_t i = 0; i < sizeof k_ref / sizeof k_ref[0]; i++) {
        const cJSON *r = find_result(j, k_ref[i].metric);
        if (!r && !strncmp(k_ref[i].metric, "lpips", 5) && !gs_test_data_dir()) continue; /* no weights */
        CHECK_MSG(r != NULL, "no %s result", k_ref[i].metric);
        if (!r) continue;
        CHECK_NEAR(cJSON_GetObjectItem(r, "value")->valuedouble, k_ref[i].ref, k_ref[i].tol);
        CHECK_EQ_INT(cJSON_GetObjectItem(r, "width")->valueint, 64);
        const double med = cJSON_GetObjectItem(r, "median_ms")->valuedouble;
        CHECK(med > 0 && cJSON_GetObjectItem(r, "min_ms")->valuedouble <= med &&
              med <= cJSON_GetObjectItem(r, "max_ms")->valuedouble);
        CHECK_NEAR(cJSON_GetObjectItem(r, "pairs_per_s")->valuedouble, 1e3 / med, 1e-9 * (1e3 / med));
    }
    CHECK(cJSON_GetObjectItem(j, "cpu_threads")->valueint >= 1);
    cJSON_Delete(j);
}

TEST(eval_bench_rejects_bad_options) {
    if (!getenv("GS_BIN")) TEST_SKIP("GS_BIN not set (run through make test)");
    char *out;
    CHECK_EQ_INT(gs_test_run_gs("bench eval --sizes 0x5", &out), 2);
    CHECK(out && strstr(out, "--sizes takes WxH"));
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("bench eval --metrics psnr,fid", &out), 2);
    CHECK(out && strstr(out, "unknown metric 'fid'"));
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("bench eval --runs 0", &out), 2);
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("bench eval --quick --metrics psnr --lpips-dir /nonexistent --device cpu", &out), 0);
    free(out);
    CHECK_EQ_INT(gs_test_run_gs("bench eval --quick --metrics lpips-alex --lpips-dir /nonexistent --device cpu", &out), 0);
    CHECK(out && strstr(out, "LPIPS-alex v0.1 skipped") && strstr(out, "/nonexistent"));
    free(out);
}
