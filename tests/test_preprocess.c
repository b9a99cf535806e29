/* test_preprocess.c - DA3 input preprocessing against the reference:
 * cv2.resize bytes on synthetic patterns (IPP cubic, OpenCV's own cubic,
 * INTER_AREA), the official InputProcessor on real photos (sizes, intrinsics,
 * every float of the tensor through a hash), torchvision's normalisation and
 * the api's denormalisation value by value, PIL's handling of 16-bit PNGs,
 * the size rules on hand-computed cases, and bad input.
 * Goldens: tests/golden/preprocess/ from tools/make_preprocess_goldens.py. */
#include "tests/test.h"
#include "backbone/preprocess.h"

#include <stdint.h>
#include <stdlib.h>

#define GOLDEN "tests/golden/preprocess/"

/* ---- helpers -------------------------------------------------------------------- */

static uint64_t fnv64(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}

static uint32_t h32(uint64_t i) {
    uint32_t x = (uint32_t)(i * 0x9E3779B1ull);
    x ^= x >> 15;
    x *= 0x85EBCA77u;
    x ^= x >> 13;
    x *= 0xC2B2AE3Du;
    x ^= x >> 16;
    return x;
}

/* the two patterns of make_preprocess_goldens.py */
static uint8_t *pattern(const char *kind, int w, int h, int seed) {
    uint8_t *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                uint64_t i = ((uint64_t)y * w + x) * 3 + c;
                p[i] = !strcmp(kind, "noise") ? (uint8_t)(h32(i + 65537ull * seed) >> 24)
                                              : (uint8_t)((251 * x / w + 127 * y / h + 60 * c + (h32(i) >> 29)) & 255);
            }
    return p;
}

/* Read a golden text file; returns NULL (after a test failure) when missing. */
static char *read_golden(const char *name) {
    char path[256];
    snprintf(path, sizeof path, GOLDEN "%s", name);
    uint8_t *d = NULL;
    size_t n = 0;
    if (gs_read_file(path, 1 << 22, &d, &n) != GS_OK) {
        gs_test_fail(__FILE__, __LINE__, "%s: %s (run tools/make_preprocess_goldens.py)", path, gs_last_error());
        return NULL;
    }
    return (char *)d;
}

/* next line (modifies the buffer), skipping comments and blank lines */
static char *next_line(char **cur) {
    while (*cur && **cur) {
        char *s = *cur, *e = strchr(s, '\n');
        if (e) { *e = 0; *cur = e + 1; } else *cur = s + strlen(s);
        if (*s && *s != '#') return s;
    }
    return NULL;
}

static int read_floats(const char *s, const char *tag, float *v, int n) {
    size_t tl = strlen(tag);
    if (strncmp(s, tag, tl)) return 0;
    s += tl;
    for (int i = 0; i < n; i++) {
        char *e;
        v[i] = strtof(s, &e);
        if (e == s) return 0;
        s = e;
    }
    return 1;
}

/* ---- cv2.resize ------------------------------------------------------------------ */

TEST(preprocess_resize_matches_cv2) {
    char *buf = read_golden("resize.txt");
    if (!buf) return;
    char *cur = buf, *line;
    int n = 0, ipp_vs_ocv = 0;
    uint64_t last_cubic = 0;
    char last_key[64] = "";
    while ((line = next_line(&cur))) {
        char m[16], kind[16];
        int w, h, nw, nh, seed;
        unsigned long long want;
        if (sscanf(line, "%15s %d %d %d %d %15s %d %llx", m, &w, &h, &nw, &nh, kind, &seed, &want) != 8) {
            CHECK_MSG(0, "resize.txt: bad line '%s'", line);
            continue;
        }
        int method = !strcmp(m, "cubic") ? GS_DA3_INTER_CUBIC
                   : !strcmp(m, "cubic_ocv") ? GS_DA3_INTER_CUBIC_OCV : GS_DA3_INTER_AREA;
        uint8_t *src = pattern(kind, w, h, seed), *dst = malloc((size_t)nw * nh * 3);
        CHECK_OK(gs_da3_resize_u8(src, w, h, dst, nw, nh, method));
        uint64_t got = fnv64(dst, (size_t)nw * nh * 3);
        CHECK_MSG(got == want, "cv2.resize %s %dx%d -> %dx%d (%s): hash %016llx, cv2 %016llx", m, w, h, nw, nh, kind,
                  (unsigned long long)got, want);
        /* the IPP and OpenCV cubic goldens of one case follow each other */
        char key[64];
        snprintf(key, sizeof key, "%d %d %d %d %s %d", w, h, nw, nh, kind, seed);
        if (method == GS_DA3_INTER_CUBIC) { last_cubic = want; snprintf(last_key, sizeof last_key, "%s", key); }
        if (method == GS_DA3_INTER_CUBIC_OCV && !strcmp(key, last_key) && last_cubic != want) ipp_vs_ocv++;
        free(src);
        free(dst);
        n++;
    }
    CHECK_EQ_INT(n, 76);
    /* both cubic flavours are exercised where they differ, not only on tiny images */
    CHECK(ipp_vs_ocv >= 10);
    free(buf);
}

/* Properties that need no golden: copies, constants, the 2x2 rounding rule. */
TEST(preprocess_resize_known_values) {
    uint8_t src[4 * 4 * 3], dst[8 * 8 * 3];
    /* a constant image stays constant under every method */
    memset(src, 77, sizeof src);
    for (int m = 0; m < 3; m++) {
        int method = m == 0 ? GS_DA3_INTER_CUBIC : m == 1 ? GS_DA3_INTER_CUBIC_OCV : GS_DA3_INTER_AREA;
        int nw = m == 2 ? 3 : 7, nh = m == 2 ? 2 : 5;
        CHECK_OK(gs_da3_resize_u8(src, 4, 4, dst, nw, nh, method));
        int ok = 1;
        for (int i = 0; i < nw * nh * 3; i++) ok &= dst[i] == 77;
        CHECK_MSG(ok, "constant image changed (method %d)", method);
    }
    /* INTER_AREA 2x2 rounds (sum + 2) >> 2: 1+2+2+2 = 7 -> 2 (7/4 = 1.75), 0+0+1+1 -> 1 (0.5 rounds up here) */
    uint8_t s2[2 * 2 * 3] = {1, 0, 9, 2, 0, 9, 2, 1, 9, 2, 1, 9};
    CHECK_OK(gs_da3_resize_u8(s2, 2, 2, dst, 1, 1, GS_DA3_INTER_AREA));
    CHECK_EQ_INT(dst[0], 2);
    CHECK_EQ_INT(dst[1], 1);
    CHECK_EQ_INT(dst[2], 9);
    /* 3x3 integer area: (float)sum * (1.f/9): 1+...+9 = 45 -> 5 */
    uint8_t s3[3 * 3 * 3];
    for (int i = 0; i < 9; i++) s3[i * 3] = s3[i * 3 + 1] = s3[i * 3 + 2] = (uint8_t)(i + 1);
    CHECK_OK(gs_da3_resize_u8(s3, 3, 3, dst, 1, 1, GS_DA3_INTER_AREA));
    CHECK_EQ_INT(dst[0], 5);
    /* equal sizes copy */
    for (int i = 0; i < 48; i++) src[i] = (uint8_t)(i * 5);
    CHECK_OK(gs_da3_resize_u8(src, 4, 4, dst, 4, 4, GS_DA3_INTER_CUBIC));
    CHECK(!memcmp(src, dst, 48));
}

TEST(preprocess_resize_bad_input) {
    uint8_t src[12] = {0}, dst[64];
    CHECK_ERR(gs_da3_resize_u8(NULL, 2, 2, dst, 1, 1, GS_DA3_INTER_AREA), "NULL");
    CHECK_ERR(gs_da3_resize_u8(src, 0, 2, dst, 1, 1, GS_DA3_INTER_AREA), "out of range");
    CHECK_ERR(gs_da3_resize_u8(src, 2, 2, dst, 1, -3, GS_DA3_INTER_AREA), "out of range");
    CHECK_ERR(gs_da3_resize_u8(src, 2, 2, dst, 40000, 1, GS_DA3_INTER_CUBIC), "out of range");
    CHECK_ERR(gs_da3_resize_u8(src, 2, 2, dst, 1, 1, 1), "unknown interpolation");
    CHECK_ERR(gs_da3_resize_u8(src, 2, 2, dst, 3, 1, GS_DA3_INTER_AREA), "only shrinks");
}

/* ---- sizes ------------------------------------------------------------------------ */

TEST(preprocess_plan_sizes) {
    gs_da3_plan p;
    /* from the spec: 1600x1200 -> 504x378, no second resize */
    CHECK_OK(gs_da3_plan_size(1600, 1200, 504, GS_DA3_UPPER_BOUND_RESIZE, &p));
    CHECK(p.bound_w == 504 && p.bound_h == 378 && p.bound_interp == GS_DA3_INTER_AREA);
    CHECK(p.final_w == 504 && p.final_h == 378 && p.fix_interp == GS_DA3_INTER_NONE);
    /* 1920x1080 -> 504x284 -> 504x280 by INTER_AREA */
    CHECK_OK(gs_da3_plan_size(1920, 1080, 504, GS_DA3_UPPER_BOUND_RESIZE, &p));
    CHECK(p.bound_w == 504 && p.bound_h == 284 && p.final_h == 280 && p.fix_interp == GS_DA3_INTER_AREA);
    /* already at process_res: nothing happens */
    CHECK_OK(gs_da3_plan_size(504, 378, 504, GS_DA3_UPPER_BOUND_RESIZE, &p));
    CHECK(p.bound_interp == GS_DA3_INTER_NONE && p.fix_interp == GS_DA3_INTER_NONE && p.final_h == 378);
    /* banker's rounding: 1008 -> 504 halves; 101 -> 50.5 -> 50, 103 -> 51.5 -> 52 */
    CHECK_OK(gs_da3_plan_size(1008, 101, 504, GS_DA3_UPPER_BOUND_RESIZE, &p));
    CHECK_EQ_INT(p.bound_h, 50);
    CHECK_OK(gs_da3_plan_size(1008, 103, 504, GS_DA3_UPPER_BOUND_RESIZE, &p));
    CHECK_EQ_INT(p.bound_h, 52);
    /* multiple-of-14 tie goes up (49 -> 56), and a growing side makes it cubic */
    CHECK_OK(gs_da3_plan_size(1008, 98, 504, GS_DA3_UPPER_BOUND_RESIZE, &p));
    CHECK(p.bound_h == 49 && p.final_h == 56 && p.final_w == 504 && p.fix_interp == GS_DA3_INTER_CUBIC);
    /* 48 -> 42 (6 down beats 8 up) by INTER_AREA */
    CHECK_OK(gs_da3_plan_size(1008, 96, 504, GS_DA3_UPPER_BOUND_RESIZE, &p));
    CHECK(p.bound_h == 48 && p.final_h == 42 && p.fix_interp == GS_DA3_INTER_AREA);
    /* lower bound on the SOH photos: 1208x680 -> 895x504 (area) -> 896x504 (cubic: one side grows) */
    CHECK_OK(gs_da3_plan_size(1208, 680, 504, GS_DA3_LOWER_BOUND_RESIZE, &p));
    CHECK(p.bound_w == 895 && p.bound_h == 504 && p.bound_interp == GS_DA3_INTER_AREA);
    CHECK(p.final_w == 896 && p.final_h == 504 && p.fix_interp == GS_DA3_INTER_CUBIC);
    /* crops floor to x14 around the centre: 504x284 -> 504x280, top 2; 895 -> 882, left 6 */
    CHECK_OK(gs_da3_plan_size(1208, 680, 504, GS_DA3_UPPER_BOUND_CROP, &p));
    CHECK(p.final_w == 504 && p.final_h == 280 && p.crop_left == 0 && p.crop_top == 2);
    CHECK_OK(gs_da3_plan_size(1208, 680, 504, GS_DA3_LOWER_BOUND_CROP, &p));
    CHECK(p.final_w == 882 && p.final_h == 504 && p.crop_left == 6 && p.crop_top == 0);
    /* upscaling chooses cubic */
    CHECK_OK(gs_da3_plan_size(200, 100, 504, GS_DA3_UPPER_BOUND_RESIZE, &p));
    CHECK(p.bound_w == 504 && p.bound_h == 252 && p.bound_interp == GS_DA3_INTER_CUBIC);
    /* errors */
    CHECK_ERR(gs_da3_plan_size(100, 100, 13, GS_DA3_UPPER_BOUND_RESIZE, &p), "process_res 13");
    CHECK_ERR(gs_da3_plan_size(100, 100, 100000, GS_DA3_UPPER_BOUND_RESIZE, &p), "process_res");
    CHECK_ERR(gs_da3_plan_size(0, 100, 504, GS_DA3_UPPER_BOUND_RESIZE, &p), "out of range");
    CHECK_ERR(gs_da3_plan_size(100, 100, 504, (gs_da3_resize_method)7, &p), "unknown method");
    CHECK_ERR(gs_da3_plan_size(32768, 3, 504, GS_DA3_UPPER_BOUND_RESIZE, &p), "below one 14-pixel patch");
    CHECK_ERR(gs_da3_plan_size(20000, 20, 504, GS_DA3_LOWER_BOUND_RESIZE, &p), "over the size limit");
}

TEST(preprocess_plan_small_ok) {
    gs_da3_plan p;
    CHECK_OK(gs_da3_plan_size(10, 10, 14, GS_DA3_UPPER_BOUND_CROP, &p));
    CHECK(p.final_w == 14 && p.final_h == 14 && p.bound_interp == GS_DA3_INTER_CUBIC);
}

TEST(preprocess_method_names) {
    for (int i = 0; i < 4; i++) {
        gs_da3_resize_method m;
        CHECK_OK(gs_da3_resize_method_parse(gs_da3_resize_method_name((gs_da3_resize_method)i), &m));
        CHECK_EQ_INT(m, i);
    }
    gs_da3_resize_method m;
    CHECK_OK(gs_da3_resize_method_parse("lower_bound_crop", &m));
    CHECK_EQ_INT(m, GS_DA3_LOWER_BOUND_CROP);
    CHECK_ERR(gs_da3_resize_method_parse("bicubic", &m), "upper_bound_resize");
    CHECK_ERR(gs_da3_resize_method_parse(NULL, &m), "unknown");
}

/* ---- pixels ----------------------------------------------------------------------- */

TEST(preprocess_normalize_matches_torchvision) {
    char *buf = read_golden("pixels.txt");
    if (!buf) return;
    char *cur = buf, *line;
    float *want = malloc(768 * sizeof(float));
    int have_norm = 0, have_denorm = 0;
    uint8_t rgb[256 * 3], back[256 * 3];
    float got[768];
    for (int v = 0; v < 256; v++) rgb[v * 3] = rgb[v * 3 + 1] = rgb[v * 3 + 2] = (uint8_t)v;
    gs_da3_normalize(rgb, 256, 1, got);
    while ((line = next_line(&cur))) {
        if (read_floats(line, "norm", want, 768)) {
            have_norm = 1;
            int bad = 0;
            for (int i = 0; i < 768; i++) bad += memcmp(&got[i], &want[i], 4) != 0;
            CHECK_MSG(!bad, "normalisation: %d of 768 values differ from torchvision", bad);
            CHECK_NEAR(got[0], -0.485f / 0.229f, 1e-6);
        } else if (!strncmp(line, "denorm", 6)) {
            have_denorm = 1;
            gs_da3_denormalize(want, 256, 1, back);
            const char *s = line + 6;
            int bad = 0;
            for (int c = 0; c < 3; c++)
                for (int v = 0; v < 256; v++) {
                    char *e;
                    long x = strtol(s, &e, 10);
                    s = e;
                    bad += back[v * 3 + c] != x;
                }
            CHECK_MSG(!bad, "denormalisation: %d of 768 values differ from the api", bad);
            /* the api's truncation turns 255 red into 254 */
            CHECK_EQ_INT(back[255 * 3], 254);
        }
    }
    CHECK(have_norm && have_denorm);
    free(want);
    free(buf);
}

TEST(preprocess_png16_like_pil) {
    char *buf = read_golden("pixels.txt");
    if (!buf) return;
    static const int v16[10] = {0, 1, 255, 256, 257, 1000, 12345, 32768, 54321, 65535};
    char *cur = buf, *line;
    int seen = 0;
    while ((line = next_line(&cur))) {
        int ch;
        if (sscanf(line, "png16 %d", &ch) != 1) continue;
        gs_image im;
        CHECK_OK(gs_image_alloc(&im, 10, 1, ch));
        for (int i = 0; i < 10; i++) {
            int vals[4] = {v16[i], v16[9 - i], v16[i] / 2, 300};
            for (int c = 0; c < ch; c++) im.data[i * ch + c] = (float)vals[c] / 65535.0f;
        }
        const char *path = gs_test_tmp("p16.png");
        CHECK_OK(gs_image_write_png(path, &im, 16));
        gs_image_free(&im);
        gs_image rd;
        CHECK_OK(gs_image_read(path, &rd));
        uint8_t *rgb = NULL;
        CHECK_OK(gs_da3_image_to_rgb8(&rd, &rgb));
        const char *s = line + 7;
        int bad = 0;
        for (int i = 0; i < 30 && rgb; i++) {
            char *e;
            long x = strtol(s, &e, 10);
            s = e;
            bad += rgb[i] != x;
        }
        CHECK_MSG(!bad, "16-bit PNG with %d channels: %d of 30 values differ from PIL", ch, bad);
        free(rgb);
        gs_image_free(&rd);
        seen++;
    }
    CHECK_EQ_INT(seen, 4);
    free(buf);
}

TEST(preprocess_rgb8_conversion) {
    gs_image im;
    uint8_t *rgb = NULL;
    /* gray replicated */
    CHECK_OK(gs_image_alloc(&im, 2, 1, 1));
    im.bit_depth = 8;
    im.data[0] = 10 / 255.0f;
    im.data[1] = 1.0f;
    CHECK_OK(gs_da3_image_to_rgb8(&im, &rgb));
    CHECK(rgb && rgb[0] == 10 && rgb[1] == 10 && rgb[2] == 10 && rgb[3] == 255 && rgb[5] == 255);
    free(rgb);
    gs_image_free(&im);
    /* gray + alpha and RGBA: alpha dropped, colour kept even where alpha is 0 (no compositing) */
    CHECK_OK(gs_image_alloc(&im, 1, 1, 2));
    im.bit_depth = 8;
    im.data[0] = 200 / 255.0f;
    im.data[1] = 0;
    CHECK_OK(gs_da3_image_to_rgb8(&im, &rgb));
    CHECK(rgb && rgb[0] == 200 && rgb[2] == 200);
    free(rgb);
    gs_image_free(&im);
    CHECK_OK(gs_image_alloc(&im, 1, 1, 4));
    im.bit_depth = 8;
    im.data[0] = 1 / 255.0f;
    im.data[1] = 2 / 255.0f;
    im.data[2] = 3 / 255.0f;
    im.data[3] = 0;
    CHECK_OK(gs_da3_image_to_rgb8(&im, &rgb));
    CHECK(rgb && rgb[0] == 1 && rgb[1] == 2 && rgb[2] == 3);
    free(rgb);
    /* bad pixels and shapes */
    im.data[1] = NAN;
    CHECK_ERR(gs_da3_image_to_rgb8(&im, &rgb), "NaN");
    CHECK(rgb == NULL);
    im.channels = 5;
    CHECK_ERR(gs_da3_image_to_rgb8(&im, &rgb), "5 channels");
    im.channels = 4;
    float *d = im.data;
    im.data = NULL;
    CHECK_ERR(gs_da3_image_to_rgb8(&im, &rgb), "no pixels");
    im.data = d;
    im.width = 0;
    CHECK_ERR(gs_da3_image_to_rgb8(&im, &rgb), "out of range");
    im.width = 1;
    gs_image_free(&im);
}

/* ---- the InputProcessor on real photos ---------------------------------------------- */

TEST(preprocess_photos_match_reference) {
    REQUIRE_DATA();
    char *buf = read_golden("photos.txt");
    if (!buf) return;
    char *cur = buf, *line;
    int ncase = 0, ncropped = 0;
    while ((line = next_line(&cur))) {
        char name[64], method[32];
        int res, S, off = 0;
        if (sscanf(line, "case %63s %31s %d %d %n", name, method, &res, &S, &off) != 4 || S < 1 || S > 8) {
            CHECK_MSG(0, "photos.txt: bad line '%.60s'", line);
            break;
        }
        char files[8][128];
        const char *s = line + off;
        for (int i = 0; i < S; i++) {
            int k = 0;
            if (sscanf(s, "%127s%n", files[i], &k) != 1) break;
            s += k;
        }
        char *lk = next_line(&cur), *lo = next_line(&cur), *lko = next_line(&cur), *ls = next_line(&cur);
        float kin[72], kout_want[72];
        int H, W, cropped;
        unsigned long long hf, hu, hp;
        if (!lk || !lo || !lko || !ls || !read_floats(lk, "kin", kin, 9 * S) ||
            !read_floats(lko, "kout", kout_want, 9 * S) ||
            sscanf(lo, "out %d %d %d %llx %llx %llx", &H, &W, &cropped, &hf, &hu, &hp) != 6) {
            CHECK_MSG(0, "photos.txt: case %s is incomplete", name);
            break;
        }
        gs_da3_resize_method m;
        CHECK_OK(gs_da3_resize_method_parse(method, &m));
        gs_image im[8];
        memset(im, 0, sizeof im);
        int ok = 1;
        for (int i = 0; i < S; i++) {
            gs_status st = gs_image_read(gs_test_data(files[i]), &im[i]);
            CHECK_MSG(st == GS_OK, "%s: %s", files[i], gs_last_error());
            ok &= st == GS_OK;
        }
        if (ok) {
            float *x = NULL, kout[72];
            int h = 0, w = 0, cr = -1;
            CHECK_OK(gs_da3_preprocess(im, S, res, m, kin, &x, &h, &w, kout, &cr));
            CHECK_MSG(h == H && w == W && cr == cropped, "%s: %dx%d cropped %d, reference %dx%d cropped %d", name, w, h,
                      cr, W, H, cropped);
            ncropped += cr == 1;
            if (x && h == H && w == W) {
                size_t n = (size_t)S * 3 * H * W;
                CHECK_MSG(fnv64(x, n * 4) == hf, "%s: normalised tensor differs from the reference", name);
                /* strided samples, as numbers (reported if the hash above fails) */
                int ns = 0, k2 = 0;
                const char *q = ls + 5;
                sscanf(q, "%d%n", &ns, &k2);
                q += k2;
                for (int i = 0; i < ns; i++) {
                    long idx = 0;
                    float v = 0;
                    if (sscanf(q, "%ld %f%n", &idx, &v, &k2) != 2 || idx < 0 || (size_t)idx >= n) break;
                    q += k2;
                    CHECK_NEAR(x[idx], v, 1e-6);
                }
                int kbad = 0;
                for (int i = 0; i < 9 * S; i++) kbad += memcmp(&kout[i], &kout_want[i], 4) != 0;
                CHECK_MSG(!kbad, "%s: %d intrinsics values differ (K[0,0] %.9g vs %.9g)", name, kbad, kout[0],
                          kout_want[0]);
                uint8_t *pim = malloc((size_t)S * H * W * 3);
                for (int v = 0; v < S; v++)
                    gs_da3_denormalize(x + (size_t)v * 3 * H * W, W, H, pim + (size_t)v * H * W * 3);
                CHECK_MSG(fnv64(pim, (size_t)S * H * W * 3) == hp, "%s: processed images differ", name);
                free(pim);
                if (S == 1) { /* the uint8 route gives the very same pixels */
                    uint8_t *rgb = NULL, *out = NULL;
                    gs_da3_plan p;
                    CHECK_OK(gs_da3_image_to_rgb8(&im[0], &rgb));
                    CHECK_OK(gs_da3_process_rgb8(rgb, im[0].width, im[0].height, res, m, NULL, &out, &p));
                    CHECK_MSG(out && fnv64(out, (size_t)H * W * 3) == hu, "%s: uint8 image differs", name);
                    free(rgb);
                    free(out);
                }
            }
            free(x);
        }
        for (int i = 0; i < S; i++) gs_image_free(&im[i]);
        ncase++;
    }
    CHECK(ncase >= 15);
    CHECK(ncropped >= 2);
    free(buf);
}

TEST(preprocess_batch_bad_input) {
    gs_image im[2];
    memset(im, 0, sizeof im);
    CHECK_OK(gs_image_alloc(&im[0], 30, 20, 3));
    CHECK_OK(gs_image_alloc(&im[1], 40, 2, 3));
    im[0].bit_depth = im[1].bit_depth = 8;
    float *x = (float *)1, K[18] = {0}, Ko[18];
    int H, W, cr;
    CHECK_ERR(gs_da3_preprocess(im, 0, 504, GS_DA3_UPPER_BOUND_RESIZE, NULL, &x, &H, &W, NULL, &cr), "no images");
    CHECK(x == NULL);
    CHECK_ERR(gs_da3_preprocess(im, 1, 504, GS_DA3_UPPER_BOUND_RESIZE, K, &x, &H, &W, NULL, &cr), "no output");
    K[4] = NAN;
    CHECK_ERR(gs_da3_preprocess(im, 1, 504, GS_DA3_UPPER_BOUND_RESIZE, K, &x, &H, &W, Ko, &cr), "NaN");
    /* the second view is too thin for process_res 28 by crop: 40x2 -> 28x1 -> 28x0 (the first: 28x19 -> 28x14) */
    CHECK_ERR(gs_da3_preprocess(im, 2, 28, GS_DA3_UPPER_BOUND_CROP, NULL, &x, &H, &W, NULL, &cr), "view 1");
    CHECK(x == NULL);
    CHECK_ERR(gs_da3_preprocess(im, 1, 2, GS_DA3_UPPER_BOUND_RESIZE, NULL, &x, &H, &W, NULL, &cr), "process_res");
    /* a good call for contrast: 30x20 -> 504x336 */
    CHECK_OK(gs_da3_preprocess(im, 1, 504, GS_DA3_UPPER_BOUND_RESIZE, NULL, &x, &H, &W, NULL, &cr));
    CHECK(H == 336 && W == 504 && cr == 0 && x);
    free(x);
    gs_image_free(&im[0]);
    gs_image_free(&im[1]);
}
