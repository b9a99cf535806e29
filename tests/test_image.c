/* test_image.c - PNG/JPEG reading, PNG/EXR writing, turbo colormap, colourising
 * and compositing; round trips, cross-checks against stb_image as an
 * independent decoder, real photos, and corrupt or hostile files. */
#include "tests/test.h"
#include "data/image.h"

#include <dirent.h>
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <stb_image.h>
#include <stb_image_write.h>
#include <tinyexr.h>
#include <zlib.h>

/* ---- helpers -------------------------------------------------------------------- */

/* Write a PNG with libpng directly (palette, low bit depths, tRNS, interlace)
 * so that the reader is tested on files our own writer never produces.
 * `packed` holds h rows of packed samples, rowbytes = ceil(w*ch*depth/8). */
static int write_png_raw(const char *path, int w, int h, int ctype, int depth, int interlace, const uint8_t *packed,
                         const png_color *pal, int npal, const uint8_t *trans, int ntrans, const png_color_16 *tcolor) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = calloc((size_t)h, sizeof *rows);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        free(rows);
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trans || tcolor) png_set_tRNS(png, info, trans, ntrans, tcolor);
    png_write_info(png, info);
    int ch = ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_PALETTE ? 1
           : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : ctype == PNG_COLOR_TYPE_RGB ? 3 : 4;
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    for (int y = 0; y < h; y++) rows[y] = (png_bytep)(packed + (size_t)y * rowbytes);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return fclose(f) == 0;
}

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Append one chunk with a correct CRC (zlib crc32 over type + data). */
static size_t put_chunk(uint8_t *buf, size_t pos, const char *type, const uint8_t *data, uint32_t len) {
    be32(buf + pos, len);
    memcpy(buf + pos + 4, type, 4);
    if (len) memcpy(buf + pos + 8, data, len);
    uLong crc = crc32(0L, buf + pos + 4, len + 4);
    be32(buf + pos + 8 + len, (uint32_t)crc);
    return pos + 12 + len;
}

static size_t png_header(uint8_t *buf, uint32_t w, uint32_t h, int depth, int ctype) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    memcpy(buf, sig, 8);
    uint8_t ihdr[13];
    be32(ihdr, w);
    be32(ihdr + 4, h);
    ihdr[8] = (uint8_t)depth; ihdr[9] = (uint8_t)ctype; ihdr[10] = ihdr[11] = ihdr[12] = 0;
    return put_chunk(buf, 8, "IHDR", ihdr, 13);
}

static uint8_t *slurp(const char *path, size_t *n) {
    uint8_t *d = NULL;
    if (gs_read_file(path, 1 << 26, &d, n) != GS_OK) return NULL;
    return d;
}

/* no "<name>.tmp.*" left in dir */
static int no_temp_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int clean = 1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) clean = 0;
    closedir(d);
    return clean;
}

static float pattern_value(int i, unsigned maxv, unsigned *q) {
    /* specials first, then quantisation levels with sub-step jitter that must round back */
    switch (i) {
    case 0: *q = 0; return NAN;
    case 1: *q = 0; return -0.3f;
    case 2: *q = maxv; return 1.5f;
    case 3: *q = maxv == 255 ? 128 : 32768; return 0.5f; /* exact half step rounds up */
    case 4: *q = maxv; return INFINITY;
    case 5: *q = 0; return -INFINITY;
    case 6: *q = maxv; return 1.0f;
    default: break;
    }
    unsigned k = (unsigned)(i * 2654435761u) % (maxv + 1);
    *q = k;
    double jitter = ((i % 7) - 3) * 0.13 / maxv; /* |jitter| < 0.4 step */
    double v = (double)k / maxv + jitter;
    if (k == 0) v = fabs(jitter);
    if (k == maxv) v = 1.0 - fabs(jitter);
    return (float)v;
}

/* ---- allocation ------------------------------------------------------------- */

TEST(image_alloc_bounds) {
    gs_image im;
    CHECK_OK(gs_image_alloc(&im, 3, 2, 4));
    CHECK_EQ_INT(im.width, 3);
    CHECK_EQ_INT(im.height, 2);
    CHECK_EQ_INT(im.channels, 4);
    CHECK(im.data[23] == 0.0f);
    gs_image_free(&im);
    CHECK(im.data == NULL);
    gs_image_free(&im); /* twice is harmless */
    CHECK_ERR(gs_image_alloc(&im, 0, 2, 3), "0x2");
    CHECK_ERR(gs_image_alloc(&im, GS_IMAGE_MAX_DIM + 1, 1, 3), "out of range");
    CHECK_ERR(gs_image_alloc(&im, GS_IMAGE_MAX_DIM, GS_IMAGE_MAX_DIM, 1), "out of range"); /* 2^30 pixels */
    CHECK_ERR(gs_image_alloc(&im, 2, 2, 5), "channel");
    CHECK(im.data == NULL);
}

/* ---- PNG round trips ------------------------------------------------------------- */

TEST(png_roundtrip_8_and_16_bit_all_channel_counts) {
    const int w = 7, h = 5;
    for (int bits = 8; bits <= 16; bits += 8) {
        unsigned maxv = bits == 8 ? 255 : 65535;
        for (int ch = 1; ch <= 4; ch++) {
            gs_image im, back;
            CHECK_OK(gs_image_alloc(&im, w, h, ch));
            int n = w * h * ch;
            unsigned *q = malloc(sizeof(unsigned) * (size_t)n);
            for (int i = 0; i < n; i++) im.data[i] = pattern_value(i, maxv, &q[i]);
            char name[64];
            snprintf(name, sizeof name, "rt_%d_%d.png", bits, ch);
            const char *path = gs_test_tmp(name);
            CHECK_OK(gs_image_write_png(path, &im, bits));
            CHECK_OK(gs_image_read(path, &back));
            CHECK_EQ_INT(back.width, w);
            CHECK_EQ_INT(back.height, h);
            CHECK_EQ_INT(back.channels, ch);
            CHECK_EQ_INT(back.bit_depth, bits);
            int bad = 0;
            for (int i = 0; i < n && back.data; i++)
                if (back.data[i] != (float)q[i] / (float)maxv) {
                    if (!bad++) CHECK_MSG(0, "%d-bit %dch value %d: got %.9g want %u/%u", bits, ch, i,
                                          (double)back.data[i], q[i], maxv);
                }
            CHECK_EQ_INT(bad, 0);
            /* an independent decoder sees the same integers */
            size_t fsz;
            uint8_t *file = slurp(path, &fsz);
            CHECK(file != NULL);
            int sw, sh, sc;
            if (bits == 8) {
                uint8_t *px = stbi_load_from_memory(file, (int)fsz, &sw, &sh, &sc, 0);
                CHECK(px && sw == w && sh == h && sc == ch);
                for (int i = 0; px && i < n; i++) if (px[i] != q[i]) { CHECK_MSG(0, "stb 8-bit %d", i); break; }
                stbi_image_free(px);
            } else {
                uint16_t *px = stbi_load_16_from_memory(file, (int)fsz, &sw, &sh, &sc, 0);
                CHECK(px && sw == w && sh == h && sc == ch);
                for (int i = 0; px && i < n; i++) if (px[i] != q[i]) { CHECK_MSG(0, "stb 16-bit %d", i); break; }
                stbi_image_free(px);
            }
            free(file);
            int iw, ih, ic;
            CHECK_OK(gs_image_info(path, &iw, &ih, &ic));
            CHECK(iw == w && ih == h && ic == ch);
            free(q);
            gs_image_free(&im);
            gs_image_free(&back);
        }
    }
}

TEST(png_write_rejects_bad_arguments) {
    gs_image im;
    CHECK_OK(gs_image_alloc(&im, 2, 2, 3));
    CHECK_ERR(gs_image_write_png(gs_test_tmp("bad_depth.png"), &im, 12), "bit depth");
    gs_image empty = {0};
    CHECK_ERR(gs_image_write_png(gs_test_tmp("empty.png"), &empty, 8), "not a valid image");
    CHECK(!gs_file_exists(gs_test_tmp("bad_depth.png")));
    gs_image_free(&im);
}

TEST(png_write_unwritable_path_leaves_no_temp) {
    gs_image im;
    CHECK_OK(gs_image_alloc(&im, 4, 4, 3));
    CHECK_ERR(gs_image_write_png(gs_test_tmp("no/such/dir/x.png"), &im, 8), "x.png");
    /* the target is an existing directory: the temporary is written, the
     * rename fails, and the temporary must be gone afterwards */
    const char *dir = gs_test_tmp("unwritable_png");
    CHECK_OK(gs_mkdirs(dir));
    char target[600];
    snprintf(target, sizeof target, "%s/out.png", dir);
    CHECK_OK(gs_mkdirs(target));
    CHECK_ERR(gs_image_write_png(target, &im, 8), "out.png");
    CHECK(gs_is_dir(target));
    CHECK(no_temp_files(dir));
    gs_image_free(&im);
}

/* ---- PNG variants written with libpng directly ---------------------------------------- */

TEST(png_palette_with_trns_expands_to_rgba) {
    /* 2-bit palette, 5x2: indices 0..3; entries 0 and 1 carry alpha 0 and 128 */
    const png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    const uint8_t trans[2] = {0, 128};
    const int idx[10] = {0, 1, 2, 3, 1, 3, 2, 1, 0, 0};
    uint8_t packed[4] = {0}; /* 2 rows x 2 bytes (5 px * 2 bits -> 2 bytes) */
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 5; x++)
            packed[y * 2 + x / 4] |= (uint8_t)(idx[y * 5 + x] << (6 - 2 * (x % 4)));
    const char *p = gs_test_tmp("pal_trns.png");
    CHECK(write_png_raw(p, 5, 2, PNG_COLOR_TYPE_PALETTE, 2, 0, packed, pal, 4, trans, 2, NULL));
    gs_image im;
    CHECK_OK(gs_image_read(p, &im));
    CHECK_EQ_INT(im.channels, 4);
    CHECK_EQ_INT(im.bit_depth, 8);
    for (int i = 0; i < 10 && im.data; i++) {
        const float *px = im.data + 4 * i;
        const png_color *c = &pal[idx[i]];
        float a = idx[i] < 2 ? trans[idx[i]] / 255.0f : 1.0f;
        CHECK_NEAR(px[0], c->red / 255.0, 1e-7);
        CHECK_NEAR(px[1], c->green / 255.0, 1e-7);
        CHECK_NEAR(px[2], c->blue / 255.0, 1e-7);
        CHECK_NEAR(px[3], a, 1e-7);
    }
    gs_image_free(&im);
    /* the same palette without tRNS is plain RGB */
    CHECK(write_png_raw(p, 5, 2, PNG_COLOR_TYPE_PALETTE, 2, 0, packed, pal, 4, NULL, 0, NULL));
    CHECK_OK(gs_image_read(p, &im));
    CHECK_EQ_INT(im.channels, 3);
    CHECK_NEAR(im.data[3 * 3 + 2], 30 / 255.0, 1e-7); /* pixel 3 = entry 3 */
    gs_image_free(&im);
}

TEST(png_low_bit_gray_trns_and_interlace) {
    /* 1-bit gray, 10x1: bits 1011001110 */
    const uint8_t bits1[2] = {0xB3, 0x80};
    const char *p = gs_test_tmp("gray1.png");
    CHECK(write_png_raw(p, 10, 1, PNG_COLOR_TYPE_GRAY, 1, 0, bits1, NULL, 0, NULL, 0, NULL));
    gs_image im;
    CHECK_OK(gs_image_read(p, &im));
    CHECK_EQ_INT(im.channels, 1);
    const int want[10] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
    for (int i = 0; i < 10 && im.data; i++) CHECK_NEAR(im.data[i], want[i], 0);
    gs_image_free(&im);

    /* 4-bit gray: 15 -> 1.0, 5 -> 5/15 (= 85/255 after scaling to 8 bits) */
    const uint8_t bits4[1] = {0xF5};
    CHECK(write_png_raw(p, 2, 1, PNG_COLOR_TYPE_GRAY, 4, 0, bits4, NULL, 0, NULL, 0, NULL));
    CHECK_OK(gs_image_read(p, &im));
    CHECK_NEAR(im.data[0], 1.0, 0);
    CHECK_NEAR(im.data[1], 85 / 255.0, 1e-7);
    gs_image_free(&im);

    /* 8-bit gray with a tRNS colour: pixels equal to it become transparent */
    const uint8_t g8[4] = {7, 200, 7, 50};
    png_color_16 tc = {0};
    tc.gray = 7;
    CHECK(write_png_raw(p, 4, 1, PNG_COLOR_TYPE_GRAY, 8, 0, g8, NULL, 0, NULL, 0, &tc));
    CHECK_OK(gs_image_read(p, &im));
    CHECK_EQ_INT(im.channels, 2);
    CHECK_NEAR(im.data[1], 0.0, 0);
    CHECK_NEAR(im.data[2], 200 / 255.0, 1e-7);
    CHECK_NEAR(im.data[3], 1.0, 0);
    CHECK_NEAR(im.data[5], 0.0, 0);
    gs_image_free(&im);

    /* 16-bit RGB, Adam7 interlaced, 9x7 */
    const int w = 9, h = 7;
    uint8_t rgb16[9 * 7 * 6];
    for (int i = 0; i < w * h * 3; i++) {
        unsigned v = (unsigned)(i * 40503u) & 0xFFFF;
        rgb16[2 * i] = (uint8_t)(v >> 8);
        rgb16[2 * i + 1] = (uint8_t)v;
    }
    CHECK(write_png_raw(p, w, h, PNG_COLOR_TYPE_RGB, 16, 1, rgb16, NULL, 0, NULL, 0, NULL));
    CHECK_OK(gs_image_read(p, &im));
    CHECK(im.width == w && im.height == h && im.channels == 3 && im.bit_depth == 16);
    int bad = 0;
    for (int i = 0; i < w * h * 3 && im.data; i++)
        if (im.data[i] != (float)((i * 40503u) & 0xFFFF) / 65535.0f) bad++;
    CHECK_EQ_INT(bad, 0);
    gs_image_free(&im);
}

/* ---- JPEG ------------------------------------------------------------------------- */

/* A minimal baseline greyscale JPEG whose 8x8 blocks are flat (DC only):
 * quantiser 1, a DC Huffman table with every category coded in 4 bits
 * (code = category) and an AC table holding only end-of-block as "0". */
typedef struct { uint8_t *buf; size_t cap, n; unsigned acc; int nbits; } bitw;

static void put_bits(bitw *b, unsigned v, int n) {
    for (int i = n - 1; i >= 0; i--) {
        b->acc = b->acc << 1 | ((v >> i) & 1);
        if (++b->nbits == 8) {
            if (b->n + 2 <= b->cap) {
                b->buf[b->n++] = (uint8_t)b->acc;
                if (b->acc == 0xFF) b->buf[b->n++] = 0; /* byte stuffing */
            }
            b->acc = 0;
            b->nbits = 0;
        }
    }
}

static size_t gray_jpeg(uint8_t *out, size_t cap, int bw, int bh, const uint8_t *levels) {
    size_t n = 0;
    const uint8_t soi[2] = {0xFF, 0xD8};
    memcpy(out + n, soi, 2); n += 2;
    uint8_t dqt[69] = {0xFF, 0xDB, 0, 67, 0x00};
    memset(dqt + 5, 1, 64);
    memcpy(out + n, dqt, sizeof dqt); n += sizeof dqt;
    const int W = bw * 8, H = bh * 8;
    const uint8_t sof[13] = {0xFF, 0xC0, 0, 11, 8, (uint8_t)(H >> 8), (uint8_t)H, (uint8_t)(W >> 8), (uint8_t)W, 1, 1, 0x11, 0};
    memcpy(out + n, sof, sizeof sof); n += sizeof sof;
    uint8_t dht_dc[33] = {0xFF, 0xC4, 0, 31, 0x00};
    dht_dc[5 + 3] = 12; /* twelve codes of length 4 */
    for (int i = 0; i < 12; i++) dht_dc[21 + i] = (uint8_t)i;
    memcpy(out + n, dht_dc, sizeof dht_dc); n += sizeof dht_dc;
    uint8_t dht_ac[22] = {0xFF, 0xC4, 0, 20, 0x10};
    dht_ac[5] = 1; /* one code of length 1: EOB */
    dht_ac[21] = 0x00;
    memcpy(out + n, dht_ac, sizeof dht_ac); n += sizeof dht_ac;
    const uint8_t sos[10] = {0xFF, 0xDA, 0, 8, 1, 1, 0x00, 0, 63, 0};
    memcpy(out + n, sos, sizeof sos); n += sizeof sos;
    bitw b = {out + n, cap - n - 2, 0, 0, 0};
    int prev = 0;
    for (int i = 0; i < bw * bh; i++) {
        int dc = 8 * (levels[i] - 128); /* flat block: DC = 8 * (level - 128) */
        int diff = dc - prev;
        prev = dc;
        int cat = 0;
        while ((diff < 0 ? -diff : diff) >= (1 << cat)) cat++;
        put_bits(&b, (unsigned)cat, 4);
        if (cat) put_bits(&b, (unsigned)(diff < 0 ? diff + (1 << cat) - 1 : diff), cat);
        put_bits(&b, 0, 1); /* EOB */
    }
    if (b.nbits) put_bits(&b, 0xFF, 8 - b.nbits); /* pad with ones */
    n += b.n;
    out[n++] = 0xFF;
    out[n++] = 0xD9;
    return n <= cap ? n : 0;
}

static void smooth_rgb(uint8_t *px, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = px + 3 * (y * w + x);
            p[0] = (uint8_t)(40 + 5 * x);
            p[1] = (uint8_t)(60 + 6 * y);
            p[2] = (uint8_t)(200 - 2 * x - 2 * y);
        }
}

TEST(jpeg_rgb_and_gray_read_within_tolerance) {
    const int w = 32, h = 24;
    uint8_t rgb[32 * 24 * 3];
    smooth_rgb(rgb, w, h);
    const char *p = gs_test_tmp("smooth.jpg");
    CHECK(stbi_write_jpg(p, w, h, 3, rgb, 95));
    gs_image im;
    CHECK_OK(gs_image_read(p, &im));
    CHECK(im.width == w && im.height == h && im.channels == 3 && im.bit_depth == 8);
    double maxerr = 0, sum = 0;
    for (int i = 0; i < w * h * 3 && im.data; i++) {
        double e = fabs(im.data[i] - rgb[i] / 255.0);
        sum += e;
        if (e > maxerr) maxerr = e;
    }
    CHECK(maxerr < 0.06);
    CHECK(sum / (w * h * 3) < 0.01);
    gs_image_free(&im);

    /* stb_image_write always writes three components; a real one-component
     * JPEG comes from the tiny encoder above */
    const uint8_t levels[6] = {30, 100, 180, 250, 128, 3};
    uint8_t jpg[512];
    size_t jn = gray_jpeg(jpg, sizeof jpg, 3, 2, levels);
    CHECK(jn > 0);
    CHECK_OK(gs_image_read_mem(jpg, jn, "gray.jpg", &im));
    CHECK(im.width == 24 && im.height == 16 && im.channels == 1 && im.bit_depth == 8);
    for (int y = 0; y < 16 && im.data; y++)
        for (int x = 0; x < 24; x++)
            CHECK_NEAR(im.data[y * 24 + x], levels[(y / 8) * 3 + x / 8] / 255.0, 1.01 / 255);
    gs_image_free(&im);
    CHECK_ERR(gs_image_read_mem(jpg, jn - 2, "gray.jpg", &im), "end-of-image");
}

TEST(jpeg_truncated_at_every_length_fails) {
    const int w = 32, h = 24;
    uint8_t rgb[32 * 24 * 3];
    smooth_rgb(rgb, w, h);
    const char *p = gs_test_tmp("trunc.jpg");
    CHECK(stbi_write_jpg(p, w, h, 3, rgb, 90));
    size_t n;
    uint8_t *d = slurp(p, &n);
    CHECK(d && n > 100);
    if (!d) return;
    gs_image im;
    int ok_count = 0;
    for (size_t len = 0; len < n; len++) {
        gs_clear_error();
        if (gs_image_read_mem(d, len, "cut.jpg", &im) == GS_OK) { ok_count++; gs_image_free(&im); continue; }
        CHECK_MSG(strstr(gs_last_error(), "cut.jpg") != NULL, "len %zu: %s", len, gs_last_error());
        CHECK(im.data == NULL);
    }
    CHECK_EQ_INT(ok_count, 0);
    CHECK_ERR(gs_image_read_mem(d, n - 40, "cut.jpg", &im), "truncated");
    CHECK_OK(gs_image_read_mem(d, n, "whole.jpg", &im));
    gs_image_free(&im);
    /* a JPEG header claiming 16000x16000 in a few hundred bytes is refused before decoding */
    uint8_t *big = malloc(n);
    memcpy(big, d, n);
    for (size_t i = 2; i + 9 < n; i++)
        if (big[i] == 0xFF && (big[i + 1] == 0xC0 || big[i + 1] == 0xC2)) {
            big[i + 5] = 16000 >> 8; big[i + 6] = 16000 & 0xFF; /* height */
            big[i + 7] = 16000 >> 8; big[i + 8] = 16000 & 0xFF; /* width */
            break;
        }
    CHECK_ERR(gs_image_read_mem(big, n, "big.jpg", &im), "cannot fit"); /* refused from the header, before decoding */
    free(big);
    free(d);
}

/* ---- bad input --------------------------------------------------------------------- */

TEST(image_read_rejects_non_images) {
    gs_image im;
    const char *empty = gs_test_tmp("empty.png");
    CHECK_OK(gs_write_file_atomic(empty, "", 0));
    CHECK_ERR(gs_image_read(empty, &im), "not an image (empty file)");
    CHECK(strstr(gs_last_error(), "empty.png") != NULL);
    const char *txt = gs_test_tmp("text.png");
    const char *words = "this is not really a picture\n";
    CHECK_OK(gs_write_file_atomic(txt, words, strlen(words)));
    CHECK_ERR(gs_image_read(txt, &im), "text.png: not an image gs reads");
    CHECK(im.data == NULL);
    CHECK_ERR(gs_image_read(gs_test_tmp("missing.png"), &im), "missing.png");
    const uint8_t gif[] = "GIF89a\x01\x00\x01\x00";
    CHECK_ERR(gs_image_read_mem(gif, sizeof gif, "a.gif", &im), "a.gif: not an image gs reads");
    CHECK_ERR(gs_image_read_mem(gif, sizeof gif, NULL, &im), "not an image gs reads");
}

static uint8_t *make_noise_png(size_t *n) {
    gs_image im;
    if (gs_image_alloc(&im, 16, 16, 3)) return NULL;
    uint32_t s = 12345;
    for (int i = 0; i < 16 * 16 * 3; i++) { s = s * 1664525u + 1013904223u; im.data[i] = (float)(s >> 8) / 16777216.0f; }
    const char *p = gs_test_tmp("noise.png");
    gs_status st = gs_image_write_png(p, &im, 8);
    gs_image_free(&im);
    return st ? NULL : slurp(p, n);
}

TEST(png_truncated_at_every_length_fails) {
    size_t n;
    uint8_t *d = make_noise_png(&n);
    CHECK(d != NULL && n > 700);
    if (!d) return;
    gs_image im;
    int ok_count = 0;
    for (size_t len = 0; len < n; len++) {
        gs_clear_error();
        if (gs_image_read_mem(d, len, "cut.png", &im) == GS_OK) { ok_count++; gs_image_free(&im); continue; }
        CHECK_MSG(strstr(gs_last_error(), "cut.png") != NULL, "len %zu: %s", len, gs_last_error());
    }
    CHECK_EQ_INT(ok_count, 0);
    CHECK_ERR(gs_image_read_mem(d, 60, "cut.png", &im), "truncated");
    CHECK_ERR(gs_image_read_mem(d, n - 6, "cut.png", &im), "cut.png: invalid PNG");
    CHECK_OK(gs_image_read_mem(d, n, "whole.png", &im));
    gs_image_free(&im);
    free(d);
}

TEST(png_crc_errors_fail) {
    size_t n;
    uint8_t *d = make_noise_png(&n);
    if (!d) { CHECK(0); return; }
    gs_image im;
    d[29] ^= 0x01; /* IHDR CRC (bytes 29..32) */
    CHECK_ERR(gs_image_read_mem(d, n, "crc.png", &im), "CRC");
    d[29] ^= 0x01;
    /* a byte inside the first IDAT's data */
    size_t pos = 8;
    while (pos + 8 < n && memcmp(d + pos + 4, "IDAT", 4) != 0) {
        uint32_t len = (uint32_t)d[pos] << 24 | (uint32_t)d[pos + 1] << 16 | (uint32_t)d[pos + 2] << 8 | d[pos + 3];
        pos += 12 + len;
    }
    CHECK(pos + 20 < n);
    uint32_t idat_len = (uint32_t)d[pos] << 24 | (uint32_t)d[pos + 1] << 16 | (uint32_t)d[pos + 2] << 8 | d[pos + 3];
    d[pos + 8 + idat_len] ^= 0x40; /* the IDAT CRC itself */
    CHECK_ERR(gs_image_read_mem(d, n, "crc.png", &im), "CRC");
    d[pos + 8 + idat_len] ^= 0x40;
    d[pos + 8 + 10] ^= 0x40; /* a data byte: zlib or the CRC check notices, whichever comes first */
    CHECK_ERR(gs_image_read_mem(d, n, "crc.png", &im), "crc.png: invalid PNG");
    CHECK(im.data == NULL);
    free(d);

    /* a valid CRC over a broken zlib stream is still an error */
    uint8_t buf[256];
    size_t k = png_header(buf, 4, 4, 8, 0);
    const uint8_t junk[12] = {0x78, 0x9c, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6};
    k = put_chunk(buf, k, "IDAT", junk, sizeof junk);
    k = put_chunk(buf, k, "IEND", NULL, 0);
    CHECK_ERR(gs_image_read_mem(buf, k, "zlib.png", &im), "zlib.png: invalid PNG");
}

TEST(png_huge_declared_size_fails_fast) {
    uint8_t buf[256];
    gs_image im;
    const uint8_t idat[8] = {0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00};
    size_t k = png_header(buf, 100000, 100000, 8, 2);
    k = put_chunk(buf, k, "IDAT", idat, sizeof idat);
    k = put_chunk(buf, k, "IEND", NULL, 0);
    CHECK_ERR(gs_image_read_mem(buf, k, "huge.png", &im), "100000x100000");
    CHECK(strstr(gs_last_error(), "huge.png") != NULL);
    /* past libpng's own limit (2^31-1): its message still names the file */
    k = png_header(buf, 0x7FFFFFFF, 1, 8, 0);
    k = put_chunk(buf, k, "IDAT", idat, sizeof idat);
    CHECK_ERR(gs_image_read_mem(buf, k, "wide.png", &im), "wide.png");
    /* inside the per-side limit but over the pixel limit */
    k = png_header(buf, 30000, 30000, 8, 0);
    k = put_chunk(buf, k, "IDAT", idat, sizeof idat);
    k = put_chunk(buf, k, "IEND", NULL, 0);
    CHECK_ERR(gs_image_read_mem(buf, k, "many.png", &im), "out of range");
    /* within every limit, but far more pixels than 60 bytes can hold */
    k = png_header(buf, 30000, 8000, 16, 6);
    k = put_chunk(buf, k, "IDAT", idat, sizeof idat);
    k = put_chunk(buf, k, "IEND", NULL, 0);
    CHECK_ERR(gs_image_read_mem(buf, k, "tiny.png", &im), "cannot fit");
    CHECK(im.data == NULL);
}

/* ---- real files --------------------------------------------------------------------- */

static void compare_with_stb(const char *path, const gs_image *im) {
    int w, h, c;
    uint8_t *px = stbi_load(path, &w, &h, &c, 0);
    CHECK(px != NULL);
    if (!px) return;
    CHECK(w == im->width && h == im->height && c == im->channels);
    size_t n = (size_t)w * h * c, bad = 0;
    for (size_t i = 0; i < n; i++)
        if (im->data[i] != (float)px[i] / 255.0f) bad++;
    CHECK_EQ_INT(bad, 0);
    stbi_image_free(px);
}

TEST(real_photo_png_matches_stb) {
    REQUIRE_DATA();
    const char *p = gs_test_data("photos/soh/000.png");
    gs_image im;
    CHECK_OK(gs_image_read(p, &im));
    CHECK_EQ_INT(im.width, 1208);
    CHECK_EQ_INT(im.height, 680);
    CHECK_EQ_INT(im.channels, 3);
    CHECK_EQ_INT(im.bit_depth, 8);
    if (!im.data) return;
    compare_with_stb(p, &im);
    double mean = 0;
    size_t n = (size_t)1208 * 680 * 3;
    for (size_t i = 0; i < n; i++) mean += im.data[i];
    mean /= (double)n;
    CHECK(mean > 0.05 && mean < 0.95); /* a real photo, not blank */
    gs_image_free(&im);
}

TEST(real_rgba_png_alpha_and_composite) {
    REQUIRE_DATA();
    const char *p = gs_test_data("scenes/lego/train/r_0.png");
    gs_image im, rgb;
    CHECK_OK(gs_image_read(p, &im));
    CHECK(im.width == 800 && im.height == 800 && im.channels == 4);
    if (!im.data) return;
    compare_with_stb(p, &im);
    size_t n = (size_t)800 * 800, zero = 0, one = 0, partial = SIZE_MAX, opaque = SIZE_MAX, clear = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        float a = im.data[4 * i + 3];
        if (a == 0.0f) { zero++; clear = i; }
        else if (a == 1.0f) { one++; opaque = i; }
        else if (partial == SIZE_MAX) partial = i;
    }
    CHECK(zero > 1000);
    CHECK(one > 1000);
    const float white[3] = {1, 1, 1};
    CHECK_OK(gs_image_composite(&im, white, &rgb));
    CHECK_EQ_INT(rgb.channels, 3);
    if (rgb.data && clear != SIZE_MAX && opaque != SIZE_MAX) {
        for (int c = 0; c < 3; c++) CHECK_NEAR(rgb.data[3 * clear + c], 1.0, 0);
        for (int c = 0; c < 3; c++) CHECK_NEAR(rgb.data[3 * opaque + c], im.data[4 * opaque + c], 0);
    }
    if (rgb.data && partial != SIZE_MAX) {
        const float *s = im.data + 4 * partial;
        for (int c = 0; c < 3; c++) CHECK_NEAR(rgb.data[3 * partial + c], s[c] * s[3] + (1 - s[3]), 1e-6);
    }
    gs_image_free(&rgb);
    gs_image_free(&im);
}

/* ---- EXR -------------------------------------------------------------------------- */

TEST(exr_depth_roundtrip_bit_exact) {
    const int w = 7, h = 5;
    float d[35];
    for (int i = 0; i < w * h; i++) d[i] = 0.37f * (float)(i + 1) - 3.0f;
    d[0] = NAN;
    d[1] = INFINITY;
    d[2] = -INFINITY;
    d[3] = -0.0f;
    d[4] = 1e-40f; /* denormal */
    d[5] = -123456.789f;
    d[6] = 3.4e38f;
    const char *p = gs_test_tmp("depth.exr");
    CHECK_OK(gs_exr_write_depth(p, d, w, h));
    float *back = NULL;
    int bw, bh;
    CHECK_OK(gs_exr_read_depth(p, &back, &bw, &bh));
    CHECK(bw == w && bh == h);
    CHECK(back && memcmp(back, d, sizeof d) == 0);
    free(back);
    /* an independent look at the file: one FLOAT channel named Y */
    EXRVersion ver;
    EXRHeader hdr;
    InitEXRHeader(&hdr);
    const char *err = NULL;
    CHECK(ParseEXRVersionFromFile(&ver, p) == TINYEXR_SUCCESS);
    CHECK(ParseEXRHeaderFromFile(&hdr, &ver, p, &err) == TINYEXR_SUCCESS);
    CHECK_EQ_INT(hdr.num_channels, 1);
    if (hdr.num_channels == 1) {
        CHECK_STR(hdr.channels[0].name, "Y");
        CHECK_EQ_INT(hdr.pixel_types[0], TINYEXR_PIXELTYPE_FLOAT);
    }
    FreeEXRHeader(&hdr);
    if (err) FreeEXRErrorMessage(err);
}

static int write_exr_channels(const char *path, int w, int h, int nch, const char *const *names, const float *const *planes,
                              int stored_type) {
    EXRHeader hdr;
    EXRImage img;
    InitEXRHeader(&hdr);
    InitEXRImage(&img);
    EXRChannelInfo ch[4];
    int pt[4], rt[4];
    memset(ch, 0, sizeof ch);
    for (int c = 0; c < nch; c++) {
        snprintf(ch[c].name, sizeof ch[c].name, "%s", names[c]);
        pt[c] = TINYEXR_PIXELTYPE_FLOAT;
        rt[c] = stored_type;
    }
    hdr.num_channels = nch;
    hdr.channels = ch;
    hdr.pixel_types = pt;
    hdr.requested_pixel_types = rt;
    hdr.compression_type = TINYEXR_COMPRESSIONTYPE_NONE;
    unsigned char *imgs[4];
    for (int c = 0; c < nch; c++) imgs[c] = (unsigned char *)(uintptr_t)planes[c];
    img.images = imgs;
    img.num_channels = nch;
    img.width = w;
    img.height = h;
    const char *err = NULL;
    int ret = SaveEXRImageToFile(&img, &hdr, path, &err);
    if (err) FreeEXRErrorMessage(err);
    return ret == TINYEXR_SUCCESS;
}

TEST(exr_reader_half_and_multichannel) {
    float a[6] = {1.5f, -2.0f, 0.333f, 65504.0f, 0.0f, 1e-3f}, b[6] = {9, 8, 7, 6, 5, 4};
    const char *p = gs_test_tmp("half.exr");
    const char *n1[1] = {"Z"};
    const float *p1[1] = {a};
    CHECK(write_exr_channels(p, 3, 2, 1, n1, p1, TINYEXR_PIXELTYPE_HALF));
    float *back = NULL;
    int w, h;
    CHECK_OK(gs_exr_read_depth(p, &back, &w, &h));
    CHECK(w == 3 && h == 2);
    for (int i = 0; i < 6 && back; i++) CHECK_NEAR(back[i], gs_f16_to_f32(gs_f32_to_f16(a[i])), 0);
    free(back);
    /* several channels: "Y" is preferred, otherwise the first one */
    const char *n2[2] = {"A", "Y"};
    const float *p2[2] = {a, b};
    CHECK(write_exr_channels(p, 3, 2, 2, n2, p2, TINYEXR_PIXELTYPE_FLOAT));
    CHECK_OK(gs_exr_read_depth(p, &back, &w, &h));
    for (int i = 0; i < 6 && back; i++) CHECK_NEAR(back[i], b[i], 0);
    free(back);
    const char *n3[2] = {"B", "G"};
    CHECK(write_exr_channels(p, 3, 2, 2, n3, p2, TINYEXR_PIXELTYPE_FLOAT));
    CHECK_OK(gs_exr_read_depth(p, &back, &w, &h));
    for (int i = 0; i < 6 && back; i++) CHECK_NEAR(back[i], a[i], 0);
    free(back);
}

TEST(exr_bad_input_and_unwritable) {
    float *back = NULL;
    int w, h;
    CHECK_ERR(gs_exr_read_depth(gs_test_tmp("nothere.exr"), &back, &w, &h), "nothere.exr");
    const char *txt = gs_test_tmp("text.exr");
    CHECK_OK(gs_write_file_atomic(txt, "not an exr file at all", 22));
    CHECK_ERR(gs_exr_read_depth(txt, &back, &w, &h), "text.exr: not an EXR");
    CHECK(back == NULL);
    float d[64];
    for (int i = 0; i < 64; i++) d[i] = (float)i * 0.25f;
    const char *p = gs_test_tmp("good.exr");
    CHECK_OK(gs_exr_write_depth(p, d, 8, 8));
    size_t n;
    uint8_t *file = slurp(p, &n);
    CHECK(file && n > 100);
    const char *cut = gs_test_tmp("cut.exr");
    int ok_count = 0;
    for (size_t len = 0; file && len < n; len++) {
        if (gs_write_file_atomic(cut, file, len)) { CHECK(0); break; }
        gs_clear_error();
        if (gs_exr_read_depth(cut, &back, &w, &h) == GS_OK) { ok_count++; free(back); continue; }
        CHECK_MSG(strstr(gs_last_error(), "cut.exr") != NULL, "len %zu: %s", len, gs_last_error());
    }
    CHECK_EQ_INT(ok_count, 0);
    free(file);
    CHECK_ERR(gs_exr_write_depth(gs_test_tmp("no/dir/d.exr"), d, 8, 8), "d.exr");
    CHECK_ERR(gs_exr_write_depth(gs_test_tmp("bad.exr"), d, 0, 8), "bad.exr");
    const char *dir = gs_test_tmp("unwritable_exr");
    CHECK_OK(gs_mkdirs(dir));
    char target[600];
    snprintf(target, sizeof target, "%s/d.exr", dir);
    CHECK_OK(gs_mkdirs(target));
    CHECK_ERR(gs_exr_write_depth(target, d, 8, 8), "d.exr");
    CHECK(no_temp_files(dir));
}

/* ---- turbo, colorize, composite ---------------------------------------------------------- */

/* Reference entries of Google's 256-entry Turbo table (sRGB bytes), indices
 * 0, 64, 128, 191, 255; the polynomial fit is within 0.13 at the ends and
 * 0.08 inside. */
TEST(turbo_matches_reference_table) {
    static const struct { int idx; int rgb[3]; double tol; } ref[] = {
        {0, {48, 18, 59}, 0.13},   {64, {40, 188, 235}, 0.08}, {128, {164, 252, 60}, 0.08},
        {191, {251, 129, 34}, 0.08}, {255, {122, 4, 3}, 0.13},
    };
    for (size_t k = 0; k < sizeof ref / sizeof ref[0]; k++) {
        float rgb[3];
        gs_turbo((float)ref[k].idx / 255.0f, rgb);
        for (int c = 0; c < 3; c++)
            CHECK_MSG(fabs(rgb[c] - ref[k].rgb[c] / 255.0) <= ref[k].tol, "turbo(%d/255)[%d] = %.4f, table %.4f",
                      ref[k].idx, c, (double)rgb[c], ref[k].rgb[c] / 255.0);
    }
    float lo[3], hi[3], mid[3], x[3];
    gs_turbo(0.0f, lo);
    gs_turbo(1.0f, hi);
    gs_turbo(0.5f, mid);
    CHECK(lo[0] < 0.25f && lo[1] < 0.25f && lo[2] < 0.25f && lo[2] > lo[1]); /* dark blue-purple */
    CHECK(hi[0] > 0.4f && hi[1] < 0.1f && hi[2] < 0.1f); /* dark red */
    CHECK(mid[1] > 0.9f && mid[1] > mid[0] && mid[0] > mid[2]); /* green-yellow */
    gs_turbo(-3.0f, x);
    CHECK(x[0] == lo[0] && x[1] == lo[1] && x[2] == lo[2]);
    gs_turbo(7.0f, x);
    CHECK(x[0] == hi[0] && x[1] == hi[1] && x[2] == hi[2]);
    gs_turbo(NAN, x);
    CHECK(x[0] == lo[0]);
    for (int i = 0; i <= 1000; i++) {
        gs_turbo(i / 1000.0f, x);
        for (int c = 0; c < 3; c++) CHECK(x[c] >= 0.0f && x[c] <= 1.0f);
    }
}

static int pixel_is(const gs_image *im, int i, float t) {
    float ref[3];
    gs_turbo(t, ref);
    const float *p = im->data + 3 * i;
    return fabsf(p[0] - ref[0]) < 2e-4f && fabsf(p[1] - ref[1]) < 2e-4f && fabsf(p[2] - ref[2]) < 2e-4f;
}

static int pixel_black(const gs_image *im, int i) {
    const float *p = im->data + 3 * i;
    return p[0] == 0 && p[1] == 0 && p[2] == 0;
}

TEST(colorize_explicit_range) {
    const float v[8] = {2, 4, 6, 1, 9, NAN, INFINITY, 3};
    gs_image out;
    CHECK_OK(gs_colorize(v, 4, 2, 2.0f, 6.0f, 0, &out));
    CHECK(out.channels == 3 && out.width == 4 && out.height == 2);
    if (!out.data) return;
    CHECK(pixel_is(&out, 0, 0.0f));
    CHECK(pixel_is(&out, 1, 0.5f));
    CHECK(pixel_is(&out, 2, 1.0f));
    CHECK(pixel_is(&out, 3, 0.0f)); /* below the range clamps */
    CHECK(pixel_is(&out, 4, 1.0f));
    CHECK(pixel_black(&out, 5));
    CHECK(pixel_black(&out, 6));
    CHECK(pixel_is(&out, 7, 0.25f));
    gs_image_free(&out);
    /* inverse: lo/hi are depths, near (lo) is warm; 1/v normalised in [1/hi, 1/lo] */
    const float d[6] = {2, 6, 3, 0, -1, NAN};
    CHECK_OK(gs_colorize(d, 3, 2, 2.0f, 6.0f, 1, &out));
    if (!out.data) return;
    CHECK(pixel_is(&out, 0, 1.0f));
    CHECK(pixel_is(&out, 1, 0.0f));
    CHECK(pixel_is(&out, 2, 0.5f)); /* 1/3 is halfway between 1/6 and 1/2 */
    CHECK(pixel_black(&out, 3));
    CHECK(pixel_black(&out, 4));
    CHECK(pixel_black(&out, 5));
    gs_image_free(&out);
    CHECK_ERR(gs_colorize(d, 3, 2, 0.0f, 6.0f, 1, &out), "lo > 0");
    CHECK_ERR(gs_colorize(d, 3, 2, -INFINITY, 6.0f, 0, &out), "not finite");
    CHECK_ERR(gs_colorize(NULL, 3, 2, 0, 0, 0, &out), "colorize");
    CHECK_ERR(gs_colorize(d, 0, 2, 0, 0, 0, &out), "0x2");
}

TEST(colorize_percentiles) {
    /* 0..100 shuffled, the max replaced by an outlier, plus non-finite values:
     * the 2nd/98th percentiles of the 101 finite values are exactly 2 and 98 */
    float v[105];
    for (int i = 0; i <= 100; i++) v[(i * 37) % 101] = (float)i;
    for (int i = 0; i < 101; i++) if (v[i] == 100.0f) v[i] = 1e9f;
    v[101] = NAN; v[102] = INFINITY; v[103] = -INFINITY; v[104] = NAN;
    gs_image out;
    CHECK_OK(gs_colorize(v, 105, 1, 0, 0, 0, &out));
    if (!out.data) return;
    for (int i = 0; i < 101; i++) {
        double t = (v[i] - 2.0) / 96.0;
        CHECK_MSG(pixel_is(&out, i, (float)t), "value %g", (double)v[i]);
    }
    for (int i = 101; i < 105; i++) CHECK(pixel_black(&out, i));
    gs_image_free(&out);

    /* inverse: depths 1/k for k = 1..101 -> inverse values 1..101, percentiles 3 and 99 */
    float d[103];
    for (int k = 1; k <= 101; k++) d[k - 1] = 1.0f / (float)k;
    d[101] = 0.0f;
    d[102] = -5.0f;
    CHECK_OK(gs_colorize(d, 103, 1, 0, 0, 1, &out));
    if (!out.data) return;
    CHECK(pixel_is(&out, 50, 0.5f)); /* 1/51 -> 51 -> (51-3)/96 */
    CHECK(pixel_is(&out, 98, 1.0f)); /* nearest 2% saturate warm */
    CHECK(pixel_is(&out, 100, 1.0f));
    CHECK(pixel_is(&out, 0, 0.0f));  /* far end cold */
    CHECK(pixel_is(&out, 26, 0.25f));
    CHECK(pixel_black(&out, 101));
    CHECK(pixel_black(&out, 102));
    gs_image_free(&out);

    /* degenerate maps: all non-finite -> black; constant -> the middle colour */
    float nan4[4] = {NAN, NAN, INFINITY, NAN}, c4[4] = {3, 3, 3, 3};
    CHECK_OK(gs_colorize(nan4, 2, 2, 0, 0, 0, &out));
    for (int i = 0; i < 4 && out.data; i++) CHECK(pixel_black(&out, i));
    gs_image_free(&out);
    CHECK_OK(gs_colorize(c4, 2, 2, 0, 0, 1, &out));
    for (int i = 0; i < 4 && out.data; i++) CHECK(pixel_is(&out, i, 0.5f));
    gs_image_free(&out);
}

TEST(composite_numbers) {
    gs_image im, out;
    const float bg[3] = {0.0f, 0.0f, 1.0f};
    CHECK_OK(gs_image_alloc(&im, 2, 1, 4));
    const float px[8] = {1, 0, 0, 0.25f, 0.2f, 0.4f, 0.6f, 1};
    memcpy(im.data, px, sizeof px);
    im.bit_depth = 16;
    CHECK_OK(gs_image_composite(&im, bg, &out));
    CHECK(out.channels == 3 && out.width == 2 && out.bit_depth == 16);
    CHECK_NEAR(out.data[0], 0.25, 1e-7);
    CHECK_NEAR(out.data[1], 0.0, 1e-7);
    CHECK_NEAR(out.data[2], 0.75, 1e-7);
    CHECK_NEAR(out.data[3], 0.2, 1e-7);
    CHECK_NEAR(out.data[5], 0.6, 1e-7);
    gs_image_free(&out);
    gs_image_free(&im);

    const float red[3] = {1, 0, 0};
    CHECK_OK(gs_image_alloc(&im, 1, 1, 2));
    im.data[0] = 0.5f; im.data[1] = 0.5f;
    CHECK_OK(gs_image_composite(&im, red, &out));
    CHECK_NEAR(out.data[0], 0.75, 1e-7);
    CHECK_NEAR(out.data[1], 0.25, 1e-7);
    CHECK_NEAR(out.data[2], 0.25, 1e-7);
    gs_image_free(&out);
    gs_image_free(&im);

    CHECK_OK(gs_image_alloc(&im, 2, 1, 1));
    im.data[0] = 0.3f; im.data[1] = 0.9f;
    CHECK_OK(gs_image_composite(&im, red, &out));
    CHECK(out.channels == 3);
    CHECK(out.data[0] == 0.3f && out.data[1] == 0.3f && out.data[2] == 0.3f && out.data[5] == 0.9f);
    gs_image_free(&out);
    gs_image_free(&im);

    CHECK_OK(gs_image_alloc(&im, 1, 1, 3));
    im.data[0] = 0.1f; im.data[1] = 0.2f; im.data[2] = 0.3f;
    CHECK_OK(gs_image_composite(&im, red, &im)); /* in place */
    CHECK(im.channels == 3 && im.data[0] == 0.1f && im.data[2] == 0.3f);
    gs_image_free(&im);
    CHECK_ERR(gs_image_composite(&im, red, &out), "not a valid image");
}

TEST(jpeg_fuzz_finds_fail_cleanly) {
    /* inputs on which Debian's stb_image aborted, overflowed or shifted out of range
     * (found by fuzz_image); JPEG pixels now come from libjpeg-turbo. Each must fail
     * with an error naming the file (none of them is a decodable image). */
    static const char *files[] = {"regress_stb_assert.jpg", "regress_stb_huffman.jpg", "regress_stb_shift.jpg",
                                  "regress_stb_heap.jpg"};
    for (int i = 0; i < 4; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fuzz/seeds/image/%s", files[i]);
        uint8_t *d;
        size_t n;
        CHECK_OK(gs_read_file(path, 1 << 20, &d, &n));
        gs_image im;
        gs_clear_error();
        gs_status st = gs_image_read_mem(d, n, files[i], &im);
        CHECK_MSG(st != GS_OK, "%s decoded as an image", files[i]);
        if (st == GS_OK) gs_image_free(&im);
        else CHECK_MSG(strstr(gs_last_error(), files[i]) != NULL, "%s: error \"%s\"", files[i], gs_last_error());
        free(d);
    }
}

TEST(jpeg_huffman_table_over_256_codes_is_rejected) {
    /* found by fuzz_image: stb_image's stbi__build_huffman writes past size[257] otherwise */
    uint8_t *d;
    size_t n;
    CHECK_OK(gs_read_file("tests/fuzz/seeds/image/regress_stb_huffman.jpg", 1 << 20, &d, &n));
    gs_image im;
    CHECK_ERR(gs_image_read_mem(d, n, "huff.jpg", &im), "Huffman table");
    free(d);
}

/* gs_exr_read_depth_mem: what gs_exr_read_depth reads a file through; the
 * fuzz_exr seeds (written by gs_exr_write_depth) decode to their sizes, NaN
 * and Inf kept; bad buffers fail naming the input and leave nothing. */
TEST(exr_read_from_memory_and_fuzz_seeds) {
    float d[40], *back = NULL;
    for (int i = 0; i < 40; i++) d[i] = (float)i * 0.5f - 3.0f;
    const char *p = gs_test_tmp("mem.exr");
    CHECK_OK(gs_exr_write_depth(p, d, 5, 8));
    size_t n;
    uint8_t *file = slurp(p, &n);
    int w = -1, h = -1;
    CHECK_OK(gs_exr_read_depth_mem(file, n, "mem.exr", &back, &w, &h));
    CHECK(w == 5 && h == 8 && back && !memcmp(back, d, sizeof d));
    free(back);
    CHECK_ERR(gs_exr_read_depth_mem(file, n / 2, "half.exr", &back, &w, &h), "half.exr");
    CHECK(back == NULL && w == 0 && h == 0);
    CHECK_ERR(gs_exr_read_depth_mem((const uint8_t *)"not an exr", 10, "text.exr", &back, &w, &h), "text.exr: not an EXR");
    CHECK_ERR(gs_exr_read_depth_mem(NULL, 0, "empty.exr", &back, &w, &h), "empty.exr");
    free(file);
    static const struct { const char *name; int w, h; } seeds[] = {
        {"1x1.exr", 1, 1}, {"8x8.exr", 8, 8}, {"3x2_nonfinite.exr", 3, 2}, {"5x40.exr", 5, 40}};
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fuzz/seeds/exr/%s", seeds[i].name);
        file = slurp(path, &n);
        CHECK_MSG(file != NULL, "%s is missing", path);
        if (!file) continue;
        CHECK_OK(gs_exr_read_depth_mem(file, n, path, &back, &w, &h));
        CHECK_MSG(w == seeds[i].w && h == seeds[i].h, "%s: %dx%d", path, w, h);
        if (back && i == 2) CHECK(isnan(back[0]) && isinf(back[1]) && back[1] > 0 && isinf(back[2]) && back[2] < 0);
        free(back);
        free(file);
    }
}

/* Input on which Debian's tinyexr asserts (aborting the process): a "type"
 * attribute other than "scanlineimage" (found by fuzz_exr, kept as a seed;
 * and one made from a valid file). A channel of unknown pixel type is named
 * as such. All fail with the file named. */
TEST(exr_tinyexr_assertions_are_refused) {
    size_t n;
    uint8_t *d = slurp("tests/fuzz/seeds/exr/regress_tinyexr_type_assert.exr", &n);
    CHECK(d != NULL);
    float *back = NULL;
    int w, h;
    if (d) CHECK_ERR(gs_exr_read_depth_mem(d, n, "type.exr", &back, &w, &h), "type.exr: EXR part type");
    free(d);
    /* a valid file whose "type" says tiled, then one whose channel Y has pixel type 7 */
    float z[16] = {0};
    const char *p = gs_test_tmp("pt.exr");
    CHECK_OK(gs_exr_write_depth(p, z, 4, 4));
    d = slurp(p, &n);
    CHECK(d != NULL);
    if (!d) return;
    static const uint8_t type_attr[] = "type\0string\0\x0a\0\0\0tiledimage";
    uint8_t *t = malloc(n + sizeof type_attr - 1);
    memcpy(t, d, 8);
    memcpy(t + 8, type_attr, sizeof type_attr - 1);
    memcpy(t + 8 + sizeof type_attr - 1, d + 8, n - 8);
    CHECK_ERR(gs_exr_read_depth_mem(t, n + sizeof type_attr - 1, "tiledtype.exr", &back, &w, &h),
              "tiledtype.exr: EXR part type");
    free(t);
    static const char chl[] = "channels\0chlist\0";
    uint8_t *at = memmem(d, n, chl, sizeof chl - 1);
    CHECK(at != NULL);
    if (at) {
        uint8_t *pt = at + sizeof chl - 1 + 4 + 2; /* length, then "Y\0", then the pixel type */
        CHECK(pt[-2] == 'Y' && pt[0] == TINYEXR_PIXELTYPE_FLOAT);
        pt[0] = 7;
        CHECK_ERR(gs_exr_read_depth_mem(d, n, "ptype.exr", &back, &w, &h), "ptype.exr: EXR channel 0 has unknown pixel type 7");
    }
    free(d);
}
