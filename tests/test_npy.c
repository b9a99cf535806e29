/* test_npy.c - .npy writer/reader round trips, exact bytes, strict header
 * parsing, truncation, and the real LLFF poses_bounds.npy. */
#include "tests/test.h"
#include "data/npy.h"

#include <stdint.h>
#include <stdlib.h>

/* magic + version + header text (padded by the caller or not) + payload */
static uint8_t *make_npy(int major, const char *header, size_t npayload, size_t *size) {
    size_t hl = strlen(header), pre = major == 1 ? 10 : 12;
    *size = pre + hl + npayload;
    uint8_t *b = malloc(*size);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    b[8] = (uint8_t)hl;
    b[9] = (uint8_t)(hl >> 8);
    if (major != 1) b[10] = b[11] = 0;
    memcpy(b + pre, header, hl);
    for (size_t i = 0; i < npayload; i++) b[pre + hl + i] = (uint8_t)(i * 7);
    return b;
}

TEST(npy_roundtrip_dtypes_shapes) {
    double f64[6] = {1.5, -2.25, 1e-300, 1e300, -0.0, 3.141592653589793};
    float f32[24];
    for (int i = 0; i < 24; i++) f32[i] = (float)i * 0.25f - 3.0f;
    int32_t i32[3] = {INT32_MIN, 0, INT32_MAX};
    int64_t i64 = INT64_MIN + 5;
    uint8_t u8[5] = {0, 1, 127, 128, 255};
    uint8_t bl[4] = {1, 0, 0, 1};
    struct {
        gs_dtype dt;
        int ndim;
        int64_t shape[4];
        void *data;
        size_t nbytes;
    } cases[] = {
        {GS_F64, 2, {2, 3}, f64, sizeof f64},
        {GS_F32, 3, {2, 3, 4}, f32, sizeof f32},
        {GS_I32, 1, {3}, i32, sizeof i32},
        {GS_I64, 0, {0}, &i64, 8},      /* 0-d */
        {GS_U8, 1, {5}, u8, 5},
        {GS_BOOL, 2, {2, 2}, bl, 4},
        {GS_F32, 1, {0}, NULL, 0},      /* empty */
        {GS_F64, 3, {4, 0, 2}, NULL, 0}, /* empty, several dims */
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        gs_tensor t, r;
        gs_tensor_wrap(&t, cases[c].dt, cases[c].ndim, cases[c].shape, cases[c].data);
        const char *path = gs_test_tmp("rt.npy");
        CHECK_OK(gs_npy_write(path, &t));
        uint8_t *raw;
        size_t n;
        CHECK_OK(gs_read_file(path, 4096, &raw, &n));
        size_t hl = (size_t)raw[8] | (size_t)raw[9] << 8;
        CHECK_MSG((10 + hl) % 64 == 0, "case %zu: data starts at %zu", c, 10 + hl);
        CHECK(raw[6] == 1 && raw[7] == 0 && raw[9 + hl] == '\n');
        CHECK_EQ_INT(n, 10 + hl + cases[c].nbytes);
        free(raw);
        CHECK_OK(gs_npy_read(path, &r));
        CHECK_EQ_INT(r.dtype, cases[c].dt);
        CHECK_EQ_INT(r.ndim, cases[c].ndim);
        for (int d = 0; d < cases[c].ndim; d++) CHECK_EQ_INT(r.shape[d], cases[c].shape[d]);
        CHECK(r.owns == 1 && r.data != NULL);
        CHECK_EQ_INT(gs_tensor_nbytes(&r), cases[c].nbytes);
        if (cases[c].nbytes) CHECK_MSG(memcmp(r.data, cases[c].data, cases[c].nbytes) == 0, "case %zu data", c);
        gs_tensor_free(&r);
    }
}

TEST(npy_exact_bytes_of_small_file) {
    /* what numpy.save writes for np.array([[1, 2, 3]], dtype='<i4'): the dict,
     * 20 spare spaces (room for the first axis to grow to 21 digits), spaces
     * and a newline up to 128 bytes, then the data */
    static const char hdr[] = "{'descr': '<i4', 'fortran_order': False, 'shape': (1, 3), }";
    CHECK_EQ_INT(sizeof hdr - 1, 59);
    uint8_t expect[128 + 12];
    memcpy(expect, "\x93NUMPY\x01\x00\x76\x00", 10); /* header length 118 = 128 - 10 */
    memcpy(expect + 10, hdr, 59);
    memset(expect + 69, ' ', 58);
    expect[127] = '\n';
    const int32_t v[3] = {1, 2, 3};
    memcpy(expect + 128, v, 12);
    CHECK_EQ_INT(expect[128], 1);
    CHECK_EQ_INT(expect[132], 2);

    int64_t shape[2] = {1, 3};
    gs_tensor t;
    gs_tensor_wrap(&t, GS_I32, 2, shape, (void *)v);
    const char *path = gs_test_tmp("exact.npy");
    CHECK_OK(gs_npy_write(path, &t));
    uint8_t *got;
    size_t n;
    CHECK_OK(gs_read_file(path, 4096, &got, &n));
    CHECK_EQ_INT(n, sizeof expect);
    CHECK(n == sizeof expect && memcmp(got, expect, n) == 0);
    free(got);

    /* 0-d and 1-d shapes are written as Python tuples "()" and "(n,)" */
    int64_t s1 = 7;
    uint8_t u[7] = {0};
    gs_tensor_wrap(&t, GS_U8, 1, &s1, u);
    CHECK_OK(gs_npy_write(path, &t));
    CHECK_OK(gs_read_file(path, 4096, &got, &n));
    CHECK(strstr((char *)got + 10, "{'descr': '|u1', 'fortran_order': False, 'shape': (7,), }") == (char *)got + 10);
    free(got);
    double d = 2.5;
    gs_tensor_wrap(&t, GS_F64, 0, NULL, &d);
    CHECK_OK(gs_npy_write(path, &t));
    CHECK_OK(gs_read_file(path, 4096, &got, &n));
    CHECK(strstr((char *)got + 10, "'shape': (), }") != NULL);
    CHECK_EQ_INT(n, 128 + 8); /* 10 + 55 + 1 = 66 rounds up to 128; no spare spaces for 0-d */
    free(got);
}

TEST(npy_reads_all_versions_and_header_variants) {
    /* version 2.0 and 3.0 carry a 4-byte header length; keys in any order,
     * double quotes, no trailing comma, no padding */
    const char *hs[] = {
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }",
        "{\"shape\": (2,1), \"fortran_order\": False, \"descr\": \"<f8\"}",
        "{'fortran_order':False,'descr':'<f8','shape':(2, 1,)}\n",
        "  {  'descr' : '<f8' , 'fortran_order' : False , 'shape' : ( 2 , 1 ) , }     \n",
    };
    for (int major = 1; major <= 3; major++) {
        for (size_t i = 0; i < sizeof hs / sizeof *hs; i++) {
            size_t n;
            uint8_t *b = make_npy(major, hs[i], 16, &n);
            gs_tensor t;
            CHECK_OK(gs_npy_read_mem(b, n, "v.npy", &t));
            CHECK(t.dtype == GS_F64 && t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 1);
            if (t.data) CHECK(((uint8_t *)t.data)[1] == 7 && ((uint8_t *)t.data)[15] == 105);
            gs_tensor_free(&t);
            free(b);
        }
    }
    /* the other supported descrs */
    const struct { const char *d; gs_dtype t; size_t item; } ds[] = {
        {"<f4", GS_F32, 4}, {"<i4", GS_I32, 4}, {"<i8", GS_I64, 8}, {"|u1", GS_U8, 1}, {"<u1", GS_U8, 1}, {"|b1", GS_BOOL, 1},
    };
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++) {
        char h[128];
        snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (3,), }", ds[i].d);
        size_t n;
        uint8_t *b = make_npy(1, h, 3 * ds[i].item, &n);
        gs_tensor t;
        CHECK_OK(gs_npy_read_mem(b, n, "d.npy", &t));
        CHECK_EQ_INT(t.dtype, ds[i].t);
        CHECK_EQ_INT(gs_tensor_nbytes(&t), 3 * ds[i].item);
        gs_tensor_free(&t);
        free(b);
    }
}

typedef struct {
    int major;
    const char *header;
    size_t payload;
    gs_status code;
    const char *err;
} npy_bad_case;

#define H(d, f, s) "{'descr': '" d "', 'fortran_order': " f ", 'shape': " s ", }"

TEST(npy_rejects_bad_headers) {
    static const npy_bad_case cases[] = {
        {1, H(">f8", "False", "(2,)"), 16, GS_ERR_UNSUPPORTED, "big-endian dtype '>f8'"},
        {1, H(">i4", "False", "(2,)"), 8, GS_ERR_UNSUPPORTED, "big-endian"},
        {1, H("<f4", "True", "(2, 2)"), 16, GS_ERR_UNSUPPORTED, "Fortran-order"},
        {1, H("<c16", "False", "(2,)"), 32, GS_ERR_UNSUPPORTED, "dtype '<c16' is not supported"},
        {1, H("<f2", "False", "(2,)"), 4, GS_ERR_UNSUPPORTED, "'<f2'"},
        {1, H("|O", "False", "(2,)"), 16, GS_ERR_UNSUPPORTED, "'|O'"},
        {1, H("<f8", "False", "(2,)"), 15, GS_ERR_FORMAT, "data is 15 bytes but shape and dtype '<f8' need 16 (truncated)"},
        {1, H("<f8", "False", "(2,)"), 17, GS_ERR_FORMAT, "need 16 (trailing bytes)"},
        {1, H("<f8", "False", "()"), 0, GS_ERR_FORMAT, "need 8"},
        {1, H("<f8", "False", "(0,)"), 1, GS_ERR_FORMAT, "trailing bytes"},
        {1, H("<f8", "False", "(2)"), 16, GS_ERR_FORMAT, "not a tuple"},
        {1, H("<f8", "False", "(-2,)"), 16, GS_ERR_FORMAT, "shape entry 0 is not a non-negative integer"},
        {1, H("<f8", "False", "(2, 1.5)"), 16, GS_ERR_FORMAT, "expected ',' or ')' in the shape tuple"},
        {1, H("<f8", "False", "(2, nan)"), 16, GS_ERR_FORMAT, "shape entry 1 is not a non-negative integer"},
        {1, H("<f8", "False", "(02,)"), 16, GS_ERR_FORMAT, "leading zero"},
        {1, H("<f8", "False", "(2L,)"), 16, GS_ERR_FORMAT, "expected ',' or ')'"},
        {1, H("<f8", "False", "(99999999999999999999,)"), 16, GS_ERR_FORMAT, "shape entry 0 overflows"},
        {1, H("<f8", "False", "(4294967296, 4294967296)"), 16, GS_ERR_FORMAT, "shape overflows"},
        {1, H("<f8", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 8, GS_ERR_UNSUPPORTED, "more than 8 dimensions"},
        {1, H("<f8", "False", "[2]"), 16, GS_ERR_FORMAT, "expected '('"},
        {1, H("<f8", "false", "(2,)"), 16, GS_ERR_FORMAT, "'fortran_order' is not True or False"},
        {1, H("<f8", "Falsey", "(2,)"), 16, GS_ERR_FORMAT, "not True or False"},
        {1, H("<f8", "0", "(2,)"), 16, GS_ERR_FORMAT, "not True or False"},
        {1, "{'descr': '<f8', 'shape': (2,), }", 16, GS_ERR_FORMAT, "header lacks 'fortran_order'"},
        {1, "{'fortran_order': False, 'shape': (2,), }", 16, GS_ERR_FORMAT, "header lacks 'descr'"},
        {1, "{'descr': '<f8', 'fortran_order': False}", 16, GS_ERR_FORMAT, "header lacks 'shape'"},
        {1, "{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", 16, GS_ERR_FORMAT, "'descr' appears twice"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'shape': (2,)}", 16, GS_ERR_FORMAT, "'shape' appears twice"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'fortran_order': False, 'shape': (2,)}", 16, GS_ERR_FORMAT, "appears twice"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}", 16, GS_ERR_FORMAT, "unexpected key 'extra'"},
        {1, "{'descr': '<f8' 'fortran_order': False, 'shape': (2,)}", 16, GS_ERR_FORMAT, "expected ',' or '}' after the value of 'descr'"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} x", 16, GS_ERR_FORMAT, "unexpected text after the dict"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)", 16, GS_ERR_FORMAT, "expected ',' or '}'"},
        {1, "{'descr: '<f8', 'fortran_order': False, 'shape': (2,)}", 16, GS_ERR_FORMAT, "header: expected ':'"},
        {1, "{'des\\x63r': '<f8', 'fortran_order': False, 'shape': (2,)}", 16, GS_ERR_FORMAT, "escape sequence"},
        {1, "{'descr': <f8, 'fortran_order': False, 'shape': (2,)}", 16, GS_ERR_FORMAT, "expected a quoted 'descr'"},
        {1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)", 16, GS_ERR_FORMAT, "'shape'"},
        {1, "('descr', '<f8')", 16, GS_ERR_FORMAT, "expected '{' at the start of the header dict"},
        {1, "", 16, GS_ERR_FORMAT, "expected '{'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n;
        uint8_t *b = make_npy(cases[i].major, cases[i].header, cases[i].payload, &n);
        gs_tensor t;
        gs_clear_error();
        gs_status s = gs_npy_read_mem(b, n, "bad.npy", &t);
        CHECK_MSG(s == cases[i].code, "case %zu (%s): status %d, expected %d (%s)", i, cases[i].header, (int)s,
                  (int)cases[i].code, gs_last_error());
        if (cases[i].err)
            CHECK_MSG(strstr(gs_last_error(), cases[i].err) != NULL, "case %zu: error \"%s\" lacks \"%s\"", i,
                      gs_last_error(), cases[i].err);
        CHECK_MSG(strstr(gs_last_error(), "bad.npy") != NULL, "case %zu: \"%s\" lacks the name", i, gs_last_error());
        CHECK(t.data == NULL && t.owns == 0);
        gs_tensor_free(&t);
        free(b);
    }
    /* a NUL before the end of the declared header */
    static const char h0[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (), }\0   ";
    uint8_t b[10 + sizeof h0 - 1 + 8];
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = sizeof h0 - 1;
    b[9] = 0;
    memcpy(b + 10, h0, sizeof h0 - 1);
    memset(b + 10 + sizeof h0 - 1, 0, 8);
    gs_tensor t;
    CHECK_ERR(gs_npy_read_mem(b, sizeof b, "nul.npy", &t), "nul.npy: header: unexpected text after the dict");
}

TEST(npy_rejects_bad_preamble) {
    gs_tensor t;
    size_t n;
    uint8_t *b = make_npy(1, H("<f8", "False", "(2,)"), 16, &n);
    CHECK_OK(gs_npy_read_mem(b, n, "ok.npy", &t));
    gs_tensor_free(&t);
    b[1] = 'n';
    CHECK_ERR(gs_npy_read_mem(b, n, "magic.npy", &t), "magic.npy: not a .npy file (bad magic)");
    b[1] = 'N';
    b[6] = 4;
    CHECK_ERR(gs_npy_read_mem(b, n, "ver.npy", &t), "ver.npy: .npy format version 4.0");
    CHECK(gs_npy_read_mem(b, n, "ver.npy", &t) == GS_ERR_UNSUPPORTED);
    b[6] = 1;
    b[7] = 1;
    CHECK_ERR(gs_npy_read_mem(b, n, "ver.npy", &t), "version 1.1");
    b[7] = 0;
    b[8] = 0xff;
    b[9] = 0xff;
    CHECK_ERR(gs_npy_read_mem(b, n, "len.npy", &t), "len.npy: header length 65535 runs past the end");
    free(b);
    /* v2 header lengths up to 4 GiB must not allocate or read past the buffer */
    b = make_npy(2, H("<f8", "False", "(2,)"), 16, &n);
    b[11] = 0xff;
    CHECK_ERR(gs_npy_read_mem(b, n, "len2.npy", &t), "runs past the end");
    free(b);
    b = make_npy(2, H("<f8", "False", "(2,)"), 0, &n);
    CHECK_ERR(gs_npy_read_mem(b, 11, "short2.npy", &t), "short2.npy: file is 11 bytes, too short for a .npy v2 header");
    free(b);
    CHECK_ERR(gs_npy_read_mem((const uint8_t *)"\x93NUMPY\x01", 7, "tiny.npy", &t), "tiny.npy: file is 7 bytes");
    CHECK_ERR(gs_npy_read_mem(NULL, 0, "empty.npy", &t), "too short");
    CHECK_ERR(gs_npy_read(gs_test_tmp("missing.npy"), &t), "missing.npy");
    /* a payload declaring 2^40 doubles in a tiny file fails before allocating */
    b = make_npy(1, H("<f8", "False", "(1099511627776,)"), 8, &n);
    CHECK_ERR(gs_npy_read_mem(b, n, "huge.npy", &t), "huge.npy: data is 8 bytes but shape and dtype '<f8' need 8796093022208");
    free(b);
}

TEST(npy_truncated_at_every_length_fails) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    int64_t shape[2] = {3, 2};
    gs_tensor t;
    gs_tensor_wrap(&t, GS_F32, 2, shape, v);
    const char *path = gs_test_tmp("trunc.npy");
    CHECK_OK(gs_npy_write(path, &t));
    uint8_t *full;
    size_t n;
    CHECK_OK(gs_read_file(path, 4096, &full, &n));
    CHECK_EQ_INT(n, 128 + 24);
    for (size_t len = 0; len < n; len++) {
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, full, len);
        gs_tensor r;
        gs_clear_error();
        gs_status s = gs_npy_read_mem(cut, len, "cut.npy", &r);
        CHECK_MSG(s != GS_OK, "truncated to %zu of %zu bytes was accepted", len, n);
        CHECK_MSG(strstr(gs_last_error(), "cut.npy") != NULL, "len %zu: %s", len, gs_last_error());
        gs_tensor_free(&r);
        free(cut);
    }
    free(full);
}

TEST(npy_writer_rejects_bad_tensors) {
    int64_t s2 = 2, neg = -1;
    uint16_t h[2] = {0};
    gs_tensor t;
    gs_tensor_wrap(&t, GS_F16, 1, &s2, h);
    CHECK_ERR(gs_npy_write(gs_test_tmp("f16.npy"), &t), "cannot write F16 tensors");
    CHECK(!gs_file_exists(gs_test_tmp("f16.npy")));
    gs_tensor_wrap(&t, GS_F32, 1, &neg, h);
    CHECK_ERR(gs_npy_write(gs_test_tmp("neg.npy"), &t), "negative dimension -1");
    gs_tensor_wrap(&t, GS_F32, 1, &s2, NULL);
    CHECK_ERR(gs_npy_write(gs_test_tmp("null.npy"), &t), "no data");
    gs_tensor_wrap(&t, GS_F32, 1, &s2, h);
    CHECK_ERR(gs_npy_write(gs_test_tmp("no/dir/x.npy"), &t), "cannot create");
}

TEST(npy_real_llff_poses_bounds) {
    REQUIRE_DATA();
    gs_tensor t;
    CHECK_OK(gs_npy_read(gs_test_data("scenes/fern/poses_bounds.npy"), &t));
    if (gs_test_failed()) return;
    CHECK_EQ_INT(t.dtype, GS_F64);
    CHECK_EQ_INT(t.ndim, 2);
    CHECK_EQ_INT(t.shape[0], 20);
    CHECK_EQ_INT(t.shape[1], 17);
    const double *p = t.data;
    for (int r = 0; r < 20; r++) {
        const double *row = p + 17 * r;
        for (int c = 0; c < 17; c++) CHECK(isfinite(row[c]));
        CHECK_NEAR(row[4], 3024, 0); /* H */
        CHECK_NEAR(row[9], 4032, 0); /* W */
        CHECK(row[14] > 2000 && row[14] < 5000); /* focal in pixels */
        CHECK_MSG(row[15] > 0 && row[15] < row[16], "row %d: near %g far %g", r, row[15], row[16]);
        /* the 3x3 rotation has orthonormal columns */
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                double dot = 0;
                for (int k = 0; k < 3; k++) dot += row[5 * k + a] * row[5 * k + b];
                CHECK_NEAR(dot, a == b ? 1.0 : 0.0, 1e-5);
            }
        }
    }
    CHECK_NEAR(p[14], 3260.526333, 1e-3);
    /* write it back and read again: identical */
    const char *path = gs_test_tmp("poses_bounds.npy");
    CHECK_OK(gs_npy_write(path, &t));
    gs_tensor r;
    CHECK_OK(gs_npy_read(path, &r));
    CHECK(r.ndim == 2 && r.shape[0] == 20 && r.shape[1] == 17 && memcmp(r.data, t.data, 20 * 17 * 8) == 0);
    gs_tensor_free(&r);
    gs_tensor_free(&t);
}
