/* test_safetensors.c - safetensors writer/reader round trips, exact bytes,
 * validation of every header rule, truncation, and the real LPIPS files. */
#include "tests/test.h"
#include "data/safetensors.h"

#include <stdint.h>
#include <stdlib.h>

/* A file image: 8-byte length, the header text as given (no padding), then
 * `ndata` bytes of data (value i & 0xff). Caller frees. */
static uint8_t *make_st(const char *header, size_t ndata, size_t *size) {
    size_t hn = strlen(header);
    *size = 8 + hn + ndata;
    uint8_t *b = malloc(*size ? *size : 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, header, hn);
    for (size_t i = 0; i < ndata; i++) b[8 + hn + i] = (uint8_t)i;
    return b;
}

static float load_f32(const uint8_t *p) {
    float f;
    memcpy(&f, p, 4);
    return f;
}

TEST(st_roundtrip_dtypes_shapes_meta) {
    float f32[6] = {1.5f, -2.25f, 3e-8f, 1e30f, -0.0f, 7.0f};
    uint16_t f16[4] = {0x3c00, 0xc000, 0x7bff, 0x0001};
    int64_t i64 = -1234567890123LL;
    uint8_t boolv[3] = {1, 0, 1};
    double f64 = 3.141592653589793;
    int32_t i32[5] = {-5, 0, 7, INT32_MAX, INT32_MIN};
    const int64_t s23[2] = {2, 3}, s4[1] = {4}, s0[1] = {0}, s3[1] = {3}, s8[8] = {1, 1, 1, 1, 1, 1, 1, 1},
                  s203[3] = {2, 0, 3}, s5[1] = {5};
    gs_st_writer *w = gs_st_writer_new();
    CHECK(w != NULL);
    /* added out of order: the file must still list them sorted */
    CHECK_OK(gs_st_writer_add(w, "z.f32", GS_F32, 2, s23, f32));
    CHECK_OK(gs_st_writer_add(w, "m.scalar", GS_I64, 0, NULL, &i64));
    CHECK_OK(gs_st_writer_add(w, "b.f16", GS_F16, 1, s4, f16));
    CHECK_OK(gs_st_writer_add(w, "e.empty", GS_U8, 1, s0, NULL));
    CHECK_OK(gs_st_writer_add(w, "a.bool", GS_BOOL, 1, s3, boolv));
    CHECK_OK(gs_st_writer_add(w, "c.f64_8d", GS_F64, 8, s8, &f64));
    CHECK_OK(gs_st_writer_add(w, "d.bf16_empty", GS_BF16, 3, s203, NULL));
    CHECK_OK(gs_st_writer_add(w, "q.i32", GS_I32, 1, s5, i32));
    CHECK_OK(gs_st_writer_meta(w, "format", "pt"));
    CHECK_OK(gs_st_writer_meta(w, "note", "quote \" backslash \\ newline \n tab \t"));
    CHECK_OK(gs_st_writer_meta(w, "format", "gs")); /* later value wins */
    const char *path = gs_test_tmp("rt.safetensors");
    CHECK_OK(gs_st_writer_save(w, path));
    gs_st_writer_free(w);

    gs_safetensors st;
    CHECK_OK(gs_st_open(&st, path));
    CHECK_EQ_INT(st.n, 8);
    const char *order[8] = {"a.bool", "b.f16", "c.f64_8d", "d.bf16_empty", "e.empty", "m.scalar", "q.i32", "z.f32"};
    uint64_t expect_off = 0;
    for (int i = 0; i < st.n && i < 8; i++) {
        CHECK_STR(st.tensors[i].name, order[i]);
        CHECK_EQ_INT(st.tensors[i].begin, expect_off); /* laid out contiguously in name order */
        expect_off = st.tensors[i].end;
    }
    CHECK_EQ_INT(expect_off, st.base_size);
    CHECK_EQ_INT(3 + 8 + 8 + 0 + 0 + 8 + 20 + 24, st.base_size);
    CHECK_EQ_INT((st.base - st.map.data) % 8, 0); /* header padded to a multiple of 8 */
    CHECK_EQ_INT(st.map.data[0] + 256 * st.map.data[1], st.base - st.map.data - 8);
    CHECK(st.base[-1] == ' ' || st.base[-1] == '}');

    const gs_st_tensor *t = gs_st_find(&st, "z.f32");
    CHECK(t && t->dtype == GS_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
    if (t) {
        CHECK(memcmp(t->data, f32, sizeof f32) == 0);
        CHECK_NEAR(load_f32(t->data + 4), -2.25, 0);
    }
    t = gs_st_find(&st, "m.scalar");
    CHECK(t && t->dtype == GS_I64 && t->ndim == 0 && t->end - t->begin == 8);
    if (t) {
        int64_t v;
        memcpy(&v, t->data, 8);
        CHECK_EQ_INT(v, -1234567890123LL);
    }
    t = gs_st_find(&st, "b.f16");
    CHECK(t && t->dtype == GS_F16 && memcmp(t->data, f16, 8) == 0);
    t = gs_st_find(&st, "a.bool");
    CHECK(t && t->dtype == GS_BOOL && t->data[0] == 1 && t->data[1] == 0 && t->data[2] == 1);
    t = gs_st_find(&st, "c.f64_8d");
    CHECK(t && t->dtype == GS_F64 && t->ndim == 8);
    if (t) {
        double d;
        memcpy(&d, t->data, 8);
        CHECK_NEAR(d, 3.141592653589793, 0);
    }
    t = gs_st_find(&st, "d.bf16_empty");
    CHECK(t && t->dtype == GS_BF16 && t->ndim == 3 && t->shape[1] == 0 && t->begin == t->end);
    t = gs_st_find(&st, "e.empty");
    CHECK(t && t->dtype == GS_U8 && t->ndim == 1 && t->shape[0] == 0 && t->begin == t->end);
    t = gs_st_find(&st, "q.i32");
    CHECK(t && t->dtype == GS_I32 && memcmp(t->data, i32, sizeof i32) == 0);
    CHECK(gs_st_find(&st, "zz") == NULL);
    CHECK(gs_st_find(&st, "") == NULL);
    CHECK(gs_st_find(&st, "__metadata__") == NULL);

    CHECK_STR(gs_st_meta(&st, "format"), "gs");
    CHECK_STR(gs_st_meta(&st, "note"), "quote \" backslash \\ newline \n tab \t");
    CHECK(gs_st_meta(&st, "missing") == NULL);
    CHECK_EQ_INT(st.n_meta, 2);
    CHECK_EQ_INT(gs_st_param_count(&st), 6 + 1 + 4 + 0 + 3 + 1 + 0 + 5);

    gs_tensor v;
    gs_st_view(gs_st_find(&st, "z.f32"), &v);
    CHECK(v.dtype == GS_F32 && v.ndim == 2 && v.owns == 0 && gs_tensor_numel(&v) == 6);
    gs_tensor f;
    CHECK_OK(gs_tensor_to_f32(&v, &f));
    CHECK_NEAR(((float *)f.data)[3], 1e30, 1e23);
    gs_tensor_free(&f);
    gs_tensor_free(&v); /* a view: must not free the mapping */
    CHECK(gs_st_find(&st, "z.f32")->data[0] == ((const uint8_t *)f32)[0]);

    /* the same bytes through the in-memory entry point */
    uint8_t *buf;
    size_t n;
    CHECK_OK(gs_read_file(path, 1 << 20, &buf, &n));
    gs_safetensors sm;
    CHECK_OK(gs_st_open_mem(&sm, buf, n, "rt-mem"));
    CHECK_EQ_INT(sm.n, 8);
    CHECK_EQ_INT(gs_st_param_count(&sm), gs_st_param_count(&st));
    CHECK(gs_st_find(&sm, "q.i32")->data == buf + (gs_st_find(&st, "q.i32")->data - st.map.data)); /* no copy */
    gs_st_close(&sm);
    free(buf);
    gs_st_close(&st);
    gs_st_close(&st); /* closing twice is harmless */
}

TEST(st_exact_bytes_of_small_file) {
    /* built by hand: keys sorted with __metadata__ first, compact JSON, padded
     * with spaces to 136 = 17*8 bytes, data in name order (b's floats start at
     * offset 3: data is not aligned, so readers must memcpy) */
    static const char hdr[] =
        "{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]}}    ";
    CHECK_EQ_INT(sizeof hdr - 1, 136);
    uint8_t expect[8 + 136 + 11] = {136, 0, 0, 0, 0, 0, 0, 0};
    memcpy(expect + 8, hdr, 136);
    static const uint8_t data[11] = {1, 2, 3, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    memcpy(expect + 144, data, 11);

    float b[2] = {1.0f, -2.0f};
    uint8_t a[3] = {1, 2, 3};
    int64_t s2 = 2, s3 = 3;
    gs_st_writer *w = gs_st_writer_new();
    CHECK_OK(gs_st_writer_add(w, "b", GS_F32, 1, &s2, b));
    CHECK_OK(gs_st_writer_meta(w, "k", "v"));
    CHECK_OK(gs_st_writer_add(w, "a", GS_U8, 1, &s3, a));
    b[1] = -2.0f; /* data is copied at save time */
    const char *path = gs_test_tmp("exact.safetensors");
    CHECK_OK(gs_st_writer_save(w, path));
    gs_st_writer_free(w);
    uint8_t *got;
    size_t n;
    CHECK_OK(gs_read_file(path, 4096, &got, &n));
    CHECK_EQ_INT(n, sizeof expect);
    CHECK(n == sizeof expect && memcmp(got, expect, n) == 0);
    free(got);

    gs_safetensors st;
    CHECK_OK(gs_st_open_mem(&st, expect, sizeof expect, "hand"));
    const gs_st_tensor *t = gs_st_find(&st, "b");
    CHECK(t && t->begin == 3 && t->end == 11 && t->data == expect + 147);
    if (t) CHECK_NEAR(load_f32(t->data + 4), -2.0, 0);
    CHECK_STR(gs_st_meta(&st, "k"), "v");
    gs_st_close(&st);

    /* an empty writer gives "{}" padded to 8 bytes */
    w = gs_st_writer_new();
    CHECK_OK(gs_st_writer_save(w, path));
    gs_st_writer_free(w);
    CHECK_OK(gs_read_file(path, 4096, &got, &n));
    CHECK(n == 16 && got[0] == 8 && memcmp(got + 8, "{}      ", 8) == 0);
    free(got);
    CHECK_OK(gs_st_open(&st, path));
    CHECK_EQ_INT(st.n, 0);
    CHECK_EQ_INT(gs_st_param_count(&st), 0);
    CHECK(gs_st_find(&st, "a") == NULL);
    gs_st_close(&st);
}

TEST(st_reads_unpadded_reordered_headers_with_gaps) {
    /* not what our writer makes, but valid: unpadded length, whitespace,
     * metadata last, entry keys reordered, unknown entry keys, a gap between
     * spans and unused bytes after the last one */
    const char *h = " { \"w\" : {\"data_offsets\":[4, 12],\"shape\":[2],\"dtype\":\"F32\",\"extra\":1},\n"
                    "\"s\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[0,1]},"
                    "\"__metadata__\":{}}\t\n ";
    size_t n;
    uint8_t *b = make_st(h, 20, &n);
    gs_safetensors st;
    CHECK_OK(gs_st_open_mem(&st, b, n, "gaps"));
    CHECK_EQ_INT(st.n, 2);
    CHECK_STR(st.tensors[0].name, "s");
    CHECK_EQ_INT(st.n_meta, 0);
    CHECK_EQ_INT(st.base_size, 20);
    const gs_st_tensor *t = gs_st_find(&st, "w");
    CHECK(t && t->data == st.base + 4 && t->data[0] == 4);
    t = gs_st_find(&st, "s");
    CHECK(t && t->ndim == 0 && t->dtype == GS_I8);
    CHECK_EQ_INT(gs_st_param_count(&st), 3);
    gs_st_close(&st);
    free(b);
}

TEST(st_sorted_lookup_many) {
    /* names inserted in a scrambled order; every one is found, absent ones
     * (before, between, after) are not */
    gs_st_writer *w = gs_st_writer_new();
    int32_t vals[97];
    for (int k = 0; k < 97; k++) {
        int i = (k * 37) % 97;
        char name[32];
        snprintf(name, sizeof name, "layer.%03d.w", i);
        vals[i] = i * 11;
        int64_t one = 1;
        CHECK_OK(gs_st_writer_add(w, name, GS_I32, 1, &one, &vals[i]));
    }
    const char *path = gs_test_tmp("many.safetensors");
    CHECK_OK(gs_st_writer_save(w, path));
    gs_st_writer_free(w);
    gs_safetensors st;
    CHECK_OK(gs_st_open(&st, path));
    CHECK_EQ_INT(st.n, 97);
    for (int i = 0; i < 97; i++) {
        char name[32];
        snprintf(name, sizeof name, "layer.%03d.w", i);
        const gs_st_tensor *t = gs_st_find(&st, name);
        CHECK_MSG(t != NULL, "%s not found", name);
        if (!t) continue;
        int32_t v;
        memcpy(&v, t->data, 4);
        CHECK_EQ_INT(v, i * 11);
        CHECK_EQ_INT(t->begin, 4 * i);
        snprintf(name, sizeof name, "layer.%03d.v", i); /* sorts just before a present name */
        CHECK(gs_st_find(&st, name) == NULL);
    }
    CHECK(gs_st_find(&st, "a") == NULL);
    CHECK(gs_st_find(&st, "layer.") == NULL);
    CHECK(gs_st_find(&st, "z") == NULL);
    gs_st_close(&st);
}

TEST(st_writer_rejects_bad_arguments) {
    gs_st_writer *w = gs_st_writer_new();
    float x[4] = {0};
    int64_t s4 = 4, neg = -1, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK_OK(gs_st_writer_add(w, "x", GS_F32, 1, &s4, x));
    CHECK_ERR(gs_st_writer_add(w, "x", GS_F32, 1, &s4, x), "duplicate tensor name 'x'");
    CHECK_ERR(gs_st_writer_add(w, "__metadata__", GS_F32, 1, &s4, x), "reserved");
    CHECK_ERR(gs_st_writer_add(w, "n", GS_F32, 1, &neg, x), "'n': bad dimension -1");
    CHECK_ERR(gs_st_writer_add(w, "r", GS_F32, 9, s9, x), "'r': bad rank 9");
    CHECK_ERR(gs_st_writer_add(w, "d", GS_F32, 1, &s4, NULL), "'d': NULL data");
    CHECK_ERR(gs_st_writer_add(w, "t", GS_DTYPE_COUNT, 1, &s4, x), "'t': bad dtype");
    CHECK_ERR(gs_st_writer_add(w, NULL, GS_F32, 1, &s4, x), "NULL");
    CHECK_ERR(gs_st_writer_save(w, gs_test_tmp("no/such/dir/x.safetensors")), "cannot create");
    /* after failed adds the writer still holds exactly one tensor */
    const char *path = gs_test_tmp("one.safetensors");
    CHECK_OK(gs_st_writer_save(w, path));
    gs_st_writer_free(w);
    gs_safetensors st;
    CHECK_OK(gs_st_open(&st, path));
    CHECK_EQ_INT(st.n, 1);
    CHECK_EQ_INT(gs_st_param_count(&st), 4);
    gs_st_close(&st);
    gs_st_writer_free(NULL);
}

/* Header text -> expected error substring. */
typedef struct {
    const char *header;
    size_t ndata;
    const char *err;
} st_bad_case;

TEST(st_rejects_bad_headers) {
    static const st_bad_case cases[] = {
        {"{abc", 0, "not valid JSON"},
        {"", 0, "not valid JSON"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}", 4, "not valid JSON"},
        {"[1,2]", 0, "not a JSON object"},
        {"42", 0, "not a JSON object"},
        {"\"str\"", 0, "not a JSON object"},
        {"null", 0, "not a JSON object"},
        {"{} x", 0, "unexpected bytes after the JSON header"},
        {"{\"__metadata__\":[1]}", 0, "\"__metadata__\" is not a JSON object"},
        {"{\"__metadata__\":{\"a\":1}}", 0, "metadata 'a' is not a string"},
        {"{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", 0, "metadata key 'a' appears twice"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "\"__metadata__\" appears twice"},
        {"{\"t\":5}", 0, "tensor 't': entry is not a JSON object"},
        {"{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 't': missing \"dtype\""},
        {"{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 't': missing \"shape\""},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor 't': missing \"data_offsets\""},
        {"{\"t\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 't': \"dtype\" is not a string"},
        {"{\"t\":{\"dtype\":\"F4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 't': unknown dtype \"F4\""},
        {"{\"t\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype \"f32\""},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, "tensor 't': \"shape\" is not an array"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "tensor 't': shape[0] is not a non-negative integer"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1.5],\"data_offsets\":[0,4]}}", 4, "shape[1] is not a non-negative integer"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1e999],\"data_offsets\":[0,4]}}", 4, "shape[0] is not a non-negative integer"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1e17],\"data_offsets\":[0,4]}}", 4, "shape[0] is not a non-negative integer"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "shape[0] is not a non-negative integer"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[null],\"data_offsets\":[0,4]}}", 4, "shape[0] is not a non-negative integer"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "tensor 't': 9 dimensions"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "tensor 't': shape overflows"},
        {"{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "tensor 't': shape overflows"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 4, "tensor 't': \"data_offsets\" is not an array"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, "\"data_offsets\" is not an array [begin, end]"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "\"data_offsets\" is not an array"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "tensor 't': data_offsets are not non-negative integers"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 8, "data_offsets are not non-negative integers"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, "tensor 't': data_offsets [4, 0] end before they begin"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 3, "tensor 't': data_offsets [0, 4] run past the end of the 3-byte data section"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[1000000,1000004]}}", 4, "run past the end"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "tensor 't': data_offsets span 4 bytes but F32 shape needs 8"},
        {"{\"t\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,4]}}", 8, "span 4 bytes but F16 shape needs 8"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,0]}}", 8, "span 0 bytes but F32 shape needs 4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensors 'a' [0, 8] and 'b' [4, 8] overlap"},
        {"{\"b\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[5,8]},\"a\":{\"dtype\":\"U8\",\"shape\":[6],\"data_offsets\":[0,6]}}", 8, "'a' [0, 6] and 'b' [5, 8] overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 'a' appears twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n;
        uint8_t *b = make_st(cases[i].header, cases[i].ndata, &n);
        gs_safetensors st;
        gs_clear_error();
        gs_status s = gs_st_open_mem(&st, b, n, "bad.safetensors");
        CHECK_MSG(s != GS_OK, "case %zu (%s) was accepted", i, cases[i].header);
        CHECK_MSG(strstr(gs_last_error(), cases[i].err) != NULL, "case %zu: error \"%s\" lacks \"%s\"", i,
                  gs_last_error(), cases[i].err);
        CHECK_MSG(strstr(gs_last_error(), "bad.safetensors") != NULL, "case %zu: error \"%s\" lacks the file name", i,
                  gs_last_error());
        CHECK(st.n == 0 && st.tensors == NULL && st.path == NULL); /* failed open leaves nothing to free */
        gs_st_close(&st);
        free(b);
    }
    /* a NUL inside the declared header (C string tricks must not hide it) */
    static const uint8_t nul[11] = {3, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0};
    gs_safetensors st;
    CHECK_ERR(gs_st_open_mem(&st, nul, sizeof nul, "nul.st"), "nul.st: unexpected bytes after the JSON header");
}

/* A file image from a header of hn bytes (NULs allowed) and 4 data bytes. */
static uint8_t *make_st_n(const char *header, size_t hn, size_t *size) {
    *size = 8 + hn + 4;
    uint8_t *b = calloc(1, *size);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hn >> (8 * i));
    memcpy(b + 8, header, hn);
    return b;
}

#define ST_ENTRY(name, dtype) "{\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":[1],\"data_offsets\":[0,4]}}"

/* Header strings that cJSON would cut or pass through unchecked: a raw NUL
 * (which once silently cut a name: "a\0b" was read as "a"), an escaped
 * \u0000, invalid UTF-8 (bad continuation, overlong, lone bytes, surrogates,
 * past U+10FFFF, truncated), raw control characters; in tensor names, dtypes
 * and metadata. Each is refused with the file named. */
TEST(st_rejects_nul_and_invalid_utf8_in_header_strings) {
    static const struct {
        const char *header;
        size_t hn; /* sizeof - 1 of the literal: NULs included */
        const char *err;
    } cases[] = {
#define C(lit, err) {lit, sizeof lit - 1, err}
        C(ST_ENTRY("a\0b", "F32"), "holds a raw NUL byte"),
        C(ST_ENTRY("a\\u0000b", "F32"), "holds an escaped NUL"),
        C(ST_ENTRY("\\u0000", "F32"), "holds an escaped NUL"),
        C(ST_ENTRY("w\xC3\x28", "F32"), "is not valid UTF-8 (byte 0xc3"),
        C(ST_ENTRY("\xC0\xAF", "F32"), "is not valid UTF-8 (byte 0xc0"),         /* overlong '/' */
        C(ST_ENTRY("\xE0\x80\xAF", "F32"), "is not valid UTF-8 (byte 0xe0"),     /* overlong, 3 bytes */
        C(ST_ENTRY("\xF0\x80\x80\xAF", "F32"), "is not valid UTF-8 (byte 0xf0"), /* overlong, 4 bytes */
        C(ST_ENTRY("x\xFF", "F32"), "is not valid UTF-8 (byte 0xff"),
        C(ST_ENTRY("\x80", "F32"), "is not valid UTF-8 (byte 0x80"),             /* lone continuation */
        C(ST_ENTRY("\xED\xA0\x80", "F32"), "is not valid UTF-8 (byte 0xed"),     /* U+D800 */
        C(ST_ENTRY("\xF4\x90\x80\x80", "F32"), "is not valid UTF-8 (byte 0xf4"), /* U+110000 */
        C(ST_ENTRY("ab\xE2\x82", "F32"), "is not valid UTF-8 (byte 0xe2"),       /* cut before the quote */
        C(ST_ENTRY("a\tb", "F32"), "raw control character 0x09"),
        C(ST_ENTRY("t", "F32\0"), "holds a raw NUL byte"), /* "F32\0" once read as F32 */
        C(ST_ENTRY("t", "F32\\u0000"), "holds an escaped NUL"),
        C(ST_ENTRY("t", "F3\xFF"), "is not valid UTF-8"),
        C("{\"__metadata__\":{\"k\0ey\":\"v\"}}", "holds a raw NUL byte"),
        C("{\"__metadata__\":{\"key\":\"v\\u0000x\"}}", "holds an escaped NUL"),
        C("{\"__metadata__\":{\"key\":\"\xC3\x28\"}}", "is not valid UTF-8"),
#undef C
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n;
        uint8_t *b = make_st_n(cases[i].header, cases[i].hn, &n);
        gs_safetensors st;
        gs_clear_error();
        gs_status s = gs_st_open_mem(&st, b, n, "strings.safetensors");
        CHECK_MSG(s == GS_ERR_FORMAT, "case %zu was accepted (or failed otherwise: %s)", i, gs_last_error());
        CHECK_MSG(strstr(gs_last_error(), cases[i].err) != NULL, "case %zu: error \"%s\" lacks \"%s\"", i,
                  gs_last_error(), cases[i].err);
        CHECK_MSG(strstr(gs_last_error(), "strings.safetensors: header string") != NULL, "case %zu: %s", i,
                  gs_last_error());
        if (s == GS_OK) gs_st_close(&st);
        free(b);
    }
    /* through the file path too, and the message shows the name up to the bad byte */
    size_t n;
    static const char bad[] = ST_ENTRY("blocks.3.w\0x", "F32");
    uint8_t *b = make_st_n(bad, sizeof bad - 1, &n);
    const char *path = gs_test_tmp("nul-key.safetensors");
    CHECK_OK(gs_write_file_atomic(path, b, n));
    free(b);
    gs_safetensors st;
    CHECK_ERR(gs_st_open(&st, path), "nul-key.safetensors: header string \"blocks.3.w\" holds a raw NUL byte");
    /* the writer refuses what the reader would */
    gs_st_writer *w = gs_st_writer_new();
    float x = 1;
    int64_t one = 1;
    CHECK_ERR(gs_st_writer_add(w, "w\xC3\x28", GS_F32, 1, &one, &x), "not valid UTF-8");
    CHECK_ERR(gs_st_writer_meta(w, "k", "\xFF"), "metadata 'k' is not valid UTF-8");
    gs_st_writer_free(w);
}

/* Valid non-ASCII UTF-8 is a name like any other: raw 2-, 3- and 4-byte
 * sequences, the largest code point, and the same through JSON escapes
 * (a surrogate pair); the writer's files round-trip. */
TEST(st_accepts_utf8_names) {
    static const char hdr[] =
        "{\"w\xC3\xA9ight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
        "\"\xE6\x97\xA5\xE6\x9C\xAC\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
        "\"\xF0\x9F\x98\x80\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
        "\"x\xF4\x8F\xBF\xBF\\\"\\\\\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]},"
        "\"esc\\u00e9\\ud83d\\ude00\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
        "\"__metadata__\":{\"\xD0\xBA\xD0\xBB\xD1\x8E\xD1\x87\":\"\xD0\xB7\xD0\xBD\xD0\xB0\xD1\x87\"}}";
    size_t n;
    uint8_t *b = make_st_n(hdr, sizeof hdr - 1, &n);
    gs_safetensors st;
    CHECK_OK(gs_st_open_mem(&st, b, n, "utf8.safetensors"));
    if (!gs_test_failed()) {
        CHECK_EQ_INT(st.n, 5);
        CHECK(gs_st_find(&st, "w\xC3\xA9ight") && gs_st_find(&st, "w\xC3\xA9ight")->begin == 0);
        CHECK(gs_st_find(&st, "\xE6\x97\xA5\xE6\x9C\xAC") != NULL);
        CHECK(gs_st_find(&st, "\xF0\x9F\x98\x80") != NULL);
        CHECK(gs_st_find(&st, "x\xF4\x8F\xBF\xBF\"\\") != NULL);
        CHECK(gs_st_find(&st, "esc\xC3\xA9\xF0\x9F\x98\x80") != NULL);
        CHECK_STR(gs_st_meta(&st, "\xD0\xBA\xD0\xBB\xD1\x8E\xD1\x87"), "\xD0\xB7\xD0\xBD\xD0\xB0\xD1\x87");
        gs_st_close(&st);
    }
    free(b);
    gs_st_writer *w = gs_st_writer_new();
    float x[2] = {1, 2};
    int64_t two = 2;
    CHECK_OK(gs_st_writer_add(w, "w\xC3\xA9ight", GS_F32, 1, &two, x));
    CHECK_OK(gs_st_writer_meta(w, "\xE6\x97\xA5", "\xF0\x9F\x98\x80"));
    const char *path = gs_test_tmp("utf8.safetensors");
    CHECK_OK(gs_st_writer_save(w, path));
    gs_st_writer_free(w);
    CHECK_OK(gs_st_open(&st, path));
    if (!gs_test_failed()) {
        const gs_st_tensor *t = gs_st_find(&st, "w\xC3\xA9ight");
        CHECK(t && t->shape[0] == 2 && load_f32(t->data + 4) == 2.0f);
        CHECK_STR(gs_st_meta(&st, "\xE6\x97\xA5"), "\xF0\x9F\x98\x80");
        gs_st_close(&st);
    }
}

TEST(st_rejects_bad_lengths) {
    uint8_t b[64] = {0};
    gs_safetensors st;
    for (size_t n = 0; n < 8; n++)
        CHECK_ERR(gs_st_open_mem(&st, b, n, "short.st"), "short.st: file is");
    CHECK_ERR(gs_st_open_mem(&st, NULL, 0, "null.st"), "shorter than the 8-byte");
    /* header lengths over the limit, including ones that would wrap 8+N */
    const uint64_t huge[] = {GS_ST_MAX_HEADER + 1, (uint64_t)1 << 40, UINT64_MAX, UINT64_MAX - 7};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        for (int k = 0; k < 8; k++) b[k] = (uint8_t)(huge[i] >> (8 * k));
        CHECK_ERR(gs_st_open_mem(&st, b, sizeof b, "huge.st"), "over the 104857600-byte limit");
    }
    /* within the limit but past the end of the file */
    uint64_t past[] = {57, 1000, GS_ST_MAX_HEADER};
    for (size_t i = 0; i < 3; i++) {
        memset(b, ' ', sizeof b);
        for (int k = 0; k < 8; k++) b[k] = (uint8_t)(past[i] >> (8 * k));
        b[8] = '{';
        b[9] = '}';
        CHECK_ERR(gs_st_open_mem(&st, b, sizeof b, "past.st"), "past.st: header length");
        CHECK(strstr(gs_last_error(), "runs past the end of the file (64 bytes)") != NULL);
    }
    /* exactly filling the file is fine */
    for (int k = 0; k < 8; k++) b[k] = (uint8_t)((uint64_t)56 >> (8 * k));
    CHECK_OK(gs_st_open_mem(&st, b, sizeof b, "full.st"));
    CHECK_EQ_INT(st.base_size, 0);
    gs_st_close(&st);
    CHECK_ERR(gs_st_open(&st, gs_test_tmp("never-written.safetensors")), "never-written.safetensors");
    CHECK_ERR(gs_st_open(&st, gs_test_tmpdir()), "not a regular file");
}

TEST(st_truncated_at_every_length_fails) {
    float a[5] = {1, 2, 3, 4, 5};
    uint16_t h[3] = {1, 2, 3};
    int64_t s5 = 5, s3 = 3, s0 = 0;
    gs_st_writer *w = gs_st_writer_new();
    CHECK_OK(gs_st_writer_add(w, "a", GS_F32, 1, &s5, a));
    CHECK_OK(gs_st_writer_add(w, "e", GS_F32, 1, &s0, NULL));
    CHECK_OK(gs_st_writer_add(w, "z", GS_BF16, 1, &s3, h)); /* last bytes belong to a non-empty tensor */
    CHECK_OK(gs_st_writer_meta(w, "m", "1"));
    const char *path = gs_test_tmp("trunc.safetensors");
    CHECK_OK(gs_st_writer_save(w, path));
    gs_st_writer_free(w);
    uint8_t *full;
    size_t n;
    CHECK_OK(gs_read_file(path, 4096, &full, &n));
    gs_safetensors st;
    CHECK_OK(gs_st_open_mem(&st, full, n, "full"));
    gs_st_close(&st);
    for (size_t len = 0; len < n; len++) {
        uint8_t *cut = malloc(len ? len : 1); /* exact size so ASan sees any over-read */
        memcpy(cut, full, len);
        gs_clear_error();
        gs_status s = gs_st_open_mem(&st, cut, len, "cut.safetensors");
        CHECK_MSG(s != GS_OK, "truncated to %zu of %zu bytes was accepted", len, n);
        CHECK_MSG(strstr(gs_last_error(), "cut.safetensors") != NULL, "len %zu: %s", len, gs_last_error());
        gs_st_close(&st);
        free(cut);
    }
    /* through the file/mmap path too, for a few lengths */
    const size_t lens[] = {0, 7, 8, 20, n - 1};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        const char *p = gs_test_tmp("cut.safetensors");
        CHECK_OK(gs_write_file_atomic(p, full, lens[i]));
        CHECK_ERR(gs_st_open(&st, p), "cut.safetensors");
    }
    free(full);
}

/* ---- real files ------------------------------------------------------------ */

static int all_finite_f32(const gs_st_tensor *t, double *minv) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    *minv = INFINITY;
    for (int64_t i = 0; i < n; i++) {
        float v = load_f32(t->data + 4 * i);
        if (!isfinite(v)) return 0;
        if (v < *minv) *minv = v;
    }
    return 1;
}

TEST(st_real_lpips_alex) {
    REQUIRE_DATA();
    gs_safetensors st;
    CHECK_OK(gs_st_open(&st, gs_test_data("lpips/lpips_alex_v0.1.safetensors")));
    if (gs_test_failed()) return;
    CHECK_EQ_INT(st.n, 17);
    CHECK_STR(gs_st_meta(&st, "net"), "alex");
    CHECK_STR(gs_st_meta(&st, "version"), "0.1");
    int64_t sum = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < st.n; i++) {
        const gs_st_tensor *t = &st.tensors[i];
        CHECK_EQ_INT(t->dtype, GS_F32);
        int64_t k = 1;
        for (int d = 0; d < t->ndim; d++) k *= t->shape[d];
        sum += k;
        bytes += t->end - t->begin;
        if (i) CHECK(strcmp(st.tensors[i - 1].name, t->name) < 0);
    }
    CHECK_EQ_INT(gs_st_param_count(&st), sum);
    /* AlexNet features: 64*3*11*11+64 + 192*64*5*5+192 + 384*192*9+384 + 256*384*9+256 + 256*256*9+256
     * = 2,469,696; the five linear layers 64+192+384+256+256 = 1152; scaling layer 6 */
    CHECK_EQ_INT(sum, 2469696 + 1152 + 6);
    CHECK_EQ_INT(bytes, 4 * (uint64_t)sum);
    CHECK_EQ_INT(bytes, st.base_size); /* contiguous, nothing unused */

    const gs_st_tensor *t = gs_st_find(&st, "net.slice1.0.weight");
    CHECK(t && t->ndim == 4 && t->shape[0] == 64 && t->shape[1] == 3 && t->shape[2] == 11 && t->shape[3] == 11);
    double mn;
    if (t) CHECK(all_finite_f32(t, &mn));
    t = gs_st_find(&st, "net.slice5.10.weight");
    CHECK(t && t->ndim == 4 && t->shape[0] == 256 && t->shape[1] == 256 && t->shape[2] == 3);
    if (t) CHECK(all_finite_f32(t, &mn));
    t = gs_st_find(&st, "lin0.model.1.weight");
    CHECK(t && t->ndim == 4 && t->shape[0] == 1 && t->shape[1] == 64 && t->shape[2] == 1 && t->shape[3] == 1);
    /* LPIPS linear weights are trained with a non-negativity clamp */
    for (int l = 0; l < 5; l++) {
        char name[32];
        snprintf(name, sizeof name, "lin%d.model.1.weight", l);
        t = gs_st_find(&st, name);
        CHECK_MSG(t != NULL, "%s missing", name);
        if (t) CHECK(all_finite_f32(t, &mn) && mn >= 0);
    }
    /* the LPIPS ScalingLayer constants */
    t = gs_st_find(&st, "scaling_layer.shift");
    CHECK(t && t->ndim == 4 && t->shape[1] == 3);
    if (t) {
        CHECK_NEAR(load_f32(t->data), -0.030, 1e-6);
        CHECK_NEAR(load_f32(t->data + 4), -0.088, 1e-6);
        CHECK_NEAR(load_f32(t->data + 8), -0.188, 1e-6);
    }
    t = gs_st_find(&st, "scaling_layer.scale");
    if (t) {
        CHECK_NEAR(load_f32(t->data), 0.458, 1e-6);
        CHECK_NEAR(load_f32(t->data + 8), 0.450, 1e-6);
    }
    CHECK(gs_st_find(&st, "net.slice1.0.weightx") == NULL);

    /* the mapped reader and the buffer reader agree */
    uint8_t *buf;
    size_t n;
    CHECK_OK(gs_read_file(gs_test_data("lpips/lpips_alex_v0.1.safetensors"), (size_t)64 << 20, &buf, &n));
    gs_safetensors sm;
    CHECK_OK(gs_st_open_mem(&sm, buf, n, "alex-mem"));
    CHECK_EQ_INT(sm.n, st.n);
    CHECK_EQ_INT(gs_st_param_count(&sm), sum);
    const gs_st_tensor *a = gs_st_find(&st, "net.slice3.6.bias"), *b = gs_st_find(&sm, "net.slice3.6.bias");
    CHECK(a && b && a->begin == b->begin && memcmp(a->data, b->data, 384 * 4) == 0);
    gs_st_close(&sm);
    free(buf);
    gs_st_close(&st);
}

TEST(st_real_lpips_vgg_lin_only) {
    REQUIRE_DATA();
    gs_safetensors st;
    CHECK_OK(gs_st_open(&st, gs_test_data("lpips/lpips_vgg_v0.1_lin_only.safetensors")));
    if (gs_test_failed()) return;
    CHECK_EQ_INT(st.n, 5);
    CHECK_STR(gs_st_meta(&st, "net"), "vgg");
    CHECK(gs_st_meta(&st, "note") != NULL);
    const int ch[5] = {64, 128, 256, 512, 512};
    int64_t sum = 0;
    for (int l = 0; l < 5; l++) {
        char name[32];
        snprintf(name, sizeof name, "lin%d.model.1.weight", l);
        const gs_st_tensor *t = gs_st_find(&st, name);
        CHECK_MSG(t != NULL, "%s missing", name);
        if (!t) continue;
        CHECK(t->dtype == GS_F32 && t->ndim == 4 && t->shape[0] == 1 && t->shape[1] == ch[l] && t->shape[2] == 1);
        double mn;
        CHECK(all_finite_f32(t, &mn) && mn >= 0);
        sum += ch[l];
    }
    CHECK_EQ_INT(gs_st_param_count(&st), sum);
    CHECK_EQ_INT(sum, 1472);
    CHECK(gs_st_find(&st, "net.slice1.0.weight") == NULL);
    gs_st_close(&st);
}
