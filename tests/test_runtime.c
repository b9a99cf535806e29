/* test_runtime.c - errors, allocation bounds, f16/bf16, files, tensors. */
#include "tests/test.h"
#include "gs/core/runtime.h"
#include "gs/core/device.h"

#include <stdlib.h>
#include <unistd.h>

TEST(error_message_and_prefix) {
    gs_status st = gs_error(GS_ERR_FORMAT, "%s: bad magic %d", "a.ply", 7);
    CHECK_EQ_INT(st, GS_ERR_FORMAT);
    CHECK_STR(gs_last_error(), "a.ply: bad magic 7");
    gs_error_prefix(st, "loading %s", "scene");
    CHECK_STR(gs_last_error(), "loading scene: a.ply: bad magic 7");
}

TEST(alloc_refuses_absurd_sizes) {
    gs_clear_error();
    void *p = gs_malloc((size_t)1 << 40, 1 << 20, "splats");
    CHECK(p == NULL);
    CHECK(strstr(gs_last_error(), "splats") != NULL);
    p = gs_malloc(SIZE_MAX / 2, 4, "overflow");
    CHECK(p == NULL);
    p = gs_calloc(10, 4, "small");
    CHECK(p != NULL);
    CHECK_EQ_INT(((int *)p)[9], 0);
    free(p);
}

TEST(f16_conversion_matches_ieee) {
    /* values with exact half representations round-trip; others round to nearest even */
    CHECK_EQ_INT(gs_f32_to_f16(1.0f), 0x3c00);
    CHECK_EQ_INT(gs_f32_to_f16(-2.0f), 0xc000);
    CHECK_EQ_INT(gs_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(gs_f32_to_f16(65520.0f), 0x7c00);       /* overflows to inf */
    CHECK_EQ_INT(gs_f32_to_f16(5.9604644775390625e-8f), 0x0001); /* smallest subnormal */
    CHECK_EQ_INT(gs_f32_to_f16(2.98023223876953125e-8f), 0x0000); /* half of it: ties to even (0) */
    CHECK_EQ_INT(gs_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);      /* tie -> even */
    CHECK_EQ_INT(gs_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);      /* tie -> even (up) */
    CHECK_NEAR(gs_f16_to_f32(0x3555), 0.333251953125, 0);
    CHECK_NEAR(gs_f16_to_f32(0x0001), 5.9604644775390625e-8, 0);
    CHECK(isinf(gs_f16_to_f32(0xfc00)) && gs_f16_to_f32(0xfc00) < 0);
    CHECK(isnan(gs_f16_to_f32(0x7e00)));
    for (int h = 0; h < 0x7c00; h += 7) /* every finite positive half round-trips */
        CHECK_EQ_INT(gs_f32_to_f16(gs_f16_to_f32((uint16_t)h)), h);
}

TEST(bf16_conversion_rounds_to_nearest_even) {
    CHECK_EQ_INT(gs_f32_to_bf16(1.0f), 0x3f80);
    CHECK_NEAR(gs_bf16_to_f32(0x3f80), 1.0, 0);
    /* 1 + 2^-8 is a tie between 1 and 1+2^-7: goes to even (1.0) */
    CHECK_EQ_INT(gs_f32_to_bf16(1.00390625f), 0x3f80);
    CHECK_EQ_INT(gs_f32_to_bf16(1.01171875f), 0x3f82); /* 1+3*2^-8 tie -> up to even */
    CHECK(isnan(gs_bf16_to_f32(gs_f32_to_bf16(NAN))));
}

TEST(tensor_convert_to_f32) {
    gs_tensor t, f;
    int64_t shape[2] = {2, 3};
    CHECK_OK(gs_tensor_alloc(&t, GS_F16, 2, shape));
    CHECK_EQ_INT(gs_tensor_numel(&t), 6);
    CHECK_EQ_INT(gs_tensor_nbytes(&t), 12);
    uint16_t *h = t.data;
    for (int i = 0; i < 6; i++) h[i] = gs_f32_to_f16((float)i * 0.5f);
    CHECK_OK(gs_tensor_to_f32(&t, &f));
    CHECK_NEAR(((float *)f.data)[5], 2.5, 0);
    CHECK_EQ_INT(f.shape[1], 3);
    gs_tensor_free(&t);
    gs_tensor_free(&f);
    gs_tensor i8;
    int64_t s1 = 4;
    CHECK_OK(gs_tensor_alloc(&i8, GS_I8, 1, &s1));
    CHECK_ERR(gs_tensor_to_f32(&i8, &f), "I8");
    gs_tensor_free(&i8);
}

TEST(atomic_write_leaves_nothing_on_abort) {
    const char *p = gs_test_tmp("atomic.bin");
    CHECK_OK(gs_write_file_atomic(p, "hello", 5));
    uint8_t *d;
    size_t n;
    CHECK_OK(gs_read_file(p, 100, &d, &n));
    CHECK_EQ_INT(n, 5);
    CHECK(memcmp(d, "hello", 5) == 0 && d[5] == 0);
    free(d);
    gs_afile a;
    CHECK_OK(gs_afile_open(&a, p));
    CHECK_OK(gs_afile_write(&a, "partial", 7));
    gs_afile_abort(&a);
    CHECK_OK(gs_read_file(p, 100, &d, &n)); /* the old content is untouched */
    CHECK_EQ_INT(n, 5);
    free(d);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c tmp >/dev/null", gs_test_tmpdir());
    CHECK(system(cmd) != 0); /* no temporary left behind */
    CHECK_ERR(gs_read_file(p, 3, &d, &n), "limit");
    CHECK_ERR(gs_read_file(gs_test_tmp("missing.bin"), 100, &d, &n), "missing.bin");
    CHECK_ERR(gs_write_file_atomic(gs_test_tmp("no/such/dir/x"), "x", 1), "cannot create");
}

TEST(mmap_and_paths) {
    const char *p = gs_test_tmp("m.txt");
    CHECK_OK(gs_write_file_atomic(p, "abcdef", 6));
    gs_mmap m;
    CHECK_OK(gs_mmap_open(&m, p));
    CHECK_EQ_INT(m.size, 6);
    CHECK(m.data[3] == 'd');
    gs_mmap_close(&m);
    CHECK_ERR(gs_mmap_open(&m, gs_test_tmpdir()), "not a regular file");
    char ext[16];
    CHECK_STR(gs_path_ext("a/b.c/Scene.PLY", ext, sizeof ext), ".ply");
    CHECK_STR(gs_path_ext("a/b.c/noext", ext, sizeof ext), "");
    CHECK(gs_path_ends_with("x.compressed.ply", ".COMPRESSED.ply"));
    CHECK_OK(gs_mkdirs(gs_test_tmp("d1/d2/d3")));
    CHECK(gs_is_dir(gs_test_tmp("d1/d2/d3")));
}

TEST(device_resolution_falls_back) {
    gs_device d;
    CHECK_OK(gs_device_parse("cuda", &d));
    CHECK_EQ_INT(d, GS_DEVICE_CUDA);
    CHECK_ERR(gs_device_parse("tpu", &d), "tpu");
    CHECK_EQ_INT(gs_device_resolve(GS_DEVICE_CPU), GS_DEVICE_CPU);
    gs_device r = gs_device_resolve(GS_DEVICE_CUDA);
    CHECK_EQ_INT(r, gs_cuda_device_count() > 0 ? GS_DEVICE_CUDA : GS_DEVICE_CPU);
}

TEST(progress_bar_without_tty_prints_tenths) {
    /* stderr redirected to a file (not a TTY): one line per 10% and a final line */
    fflush(stderr);
    int saved = dup(2);
    const char *p = gs_test_tmp("progress.txt");
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (!f) return;
    dup2(fileno(f), 2);
    gs_progress pr;
    gs_progress_begin(&pr, "frames", 50, 0);
    for (int i = 1; i <= 50; i++) gs_progress_update(&pr, i);
    gs_progress_end(&pr);
    gs_progress_begin(&pr, "quiet", 10, 1);
    gs_progress_update(&pr, 10);
    gs_progress_end(&pr);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    fclose(f);
    uint8_t *d;
    size_t n;
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &n));
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += d[i] == '\n';
    CHECK_EQ_INT(lines, 10); /* 10%..90% and the final 50/50 line */
    CHECK(strstr((char *)d, "frames: 5/50 (10%)") != NULL);
    CHECK(strstr((char *)d, "frames: 50/50 (100%)") != NULL);
    CHECK(strstr((char *)d, "quiet") == NULL);
    free(d);
}
