/* test_inputs.c - the photo inputs: WebP, TIFF and BMP decoded equal to the
 * PNG of the same pixels (files made here with the formats' own encoders,
 * and ffmpeg's where it is installed), their headers, EXIF orientation
 * (reported, never applied, and warned about by gs infer), video frames
 * sampled as DA3 samples them, and gs infer on a folder and on a video. */
#include "tests/test.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/video.h"
#include "eval/eval_internal.h"

#include <jpeglib.h>
#include <png.h>
#include <stb_image_write.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <webp/encode.h>

#define TINY_ANY "tests/golden/da3/tiny-anyview"

/* a shell command's exit status, its output dropped */
static int sh(const char *cmd) {
    char *out = NULL;
    int rc = gs_test_run(cmd, &out);
    free(out);
    return rc;
}

static int have_ffmpeg(void) { return system("ffmpeg -version > /dev/null 2>&1 && ffprobe -version > /dev/null 2>&1") == 0; }

/* w x h x ch bytes of a pattern that differs per pixel and channel; alpha
 * (channel 3, or 1 of grey+alpha) stays >= 1 (lossless WebP keeps RGB
 * under non-zero alpha only). */
static uint8_t *pattern8(int w, int h, int ch) {
    uint8_t *p = malloc((size_t)w * h * ch);
    for (int y = 0; p && y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                unsigned v = (unsigned)(x * 37 + y * 91 + c * 53 + x * y) & 255u;
                if ((ch == 4 && c == 3) || (ch == 2 && c == 1)) v = 1 + v % 255;
                p[((size_t)y * w + x) * ch + c] = (uint8_t)v;
            }
    return p;
}

static gs_status png_of(const char *path, const uint8_t *px, int w, int h, int ch) {
    gs_image im;
    gs_status st = gs_image_alloc(&im, w, h, ch);
    if (st) return st;
    for (size_t i = 0; i < (size_t)w * h * ch; i++) im.data[i] = px[i] / 255.0f;
    st = gs_image_write_png(path, &im, 8);
    gs_image_free(&im);
    return st;
}

/* Largest difference between two decoded images (-1: different shapes). */
static double image_diff(const gs_image *a, const gs_image *b) {
    if (!a->data || !b->data || a->width != b->width || a->height != b->height || a->channels != b->channels) return -1;
    double m = 0;
    for (size_t i = 0; i < (size_t)a->width * a->height * a->channels; i++) m = fmax(m, fabs(a->data[i] - b->data[i]));
    return m;
}

/* Reads both; CHECKs that path decodes equal to ref (same shape, bit depth). */
static void check_same(const char *path, const char *ref, int bit_depth) {
    gs_image a, b;
    CHECK_OK(gs_image_read(path, &a));
    CHECK_OK(gs_image_read(ref, &b));
    double d = image_diff(&a, &b);
    CHECK_MSG(d == 0.0, "%s vs %s: %dx%dx%d vs %dx%dx%d, largest difference %g", path, ref, a.width, a.height,
              a.channels, b.width, b.height, b.channels, d);
    if (bit_depth) CHECK_EQ_INT(a.bit_depth, bit_depth);
    int w = 0, h = 0, c = 0;
    CHECK_OK(gs_image_info(path, &w, &h, &c));
    CHECK_MSG(w == b.width && h == b.height && c == b.channels, "%s: header %dx%dx%d, pixels %dx%dx%d", path, w, h, c,
              b.width, b.height, b.channels);
    gs_image_free(&a);
    gs_image_free(&b);
}

static gs_status write_bytes(const char *path, const void *d, size_t n) { return gs_write_file_atomic(path, d, n); }

/* A TIFF through libtiff: spp samples of bps bits, optional tiles/alpha/palette. */
typedef struct {
    int w, h, spp, bps, photometric, tile, extra_alpha, compression, orientation, float_samples;
} tiff_spec;

static int write_tiff(const char *path, const tiff_spec *s, const void *px) {
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return 0;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)s->w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)s->h);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)s->spp);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)s->bps);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, (uint16_t)s->photometric);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_COMPRESSION, (uint16_t)(s->compression ? s->compression : COMPRESSION_NONE));
    if (s->float_samples) TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    if (s->orientation) TIFFSetField(t, TIFFTAG_ORIENTATION, (uint16_t)s->orientation);
    if (s->extra_alpha) {
        uint16_t ex = EXTRASAMPLE_UNASSALPHA;
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, 1, &ex);
    }
    uint16_t cmap[3][256];
    if (s->photometric == PHOTOMETRIC_PALETTE) {
        for (int i = 0; i < 256; i++) {
            cmap[0][i] = (uint16_t)(((i * 7) & 255) * 257);
            cmap[1][i] = (uint16_t)((255 - i) * 257);
            cmap[2][i] = (uint16_t)(((i * 13 + 5) & 255) * 257);
        }
        TIFFSetField(t, TIFFTAG_COLORMAP, cmap[0], cmap[1], cmap[2]);
    }
    const size_t bpp = (size_t)s->spp * s->bps / 8, row = (size_t)s->w * bpp;
    int ok = 1;
    if (s->tile) {
        TIFFSetField(t, TIFFTAG_TILEWIDTH, (uint32_t)s->tile);
        TIFFSetField(t, TIFFTAG_TILELENGTH, (uint32_t)s->tile);
        uint8_t *buf = calloc((size_t)s->tile * s->tile, bpp);
        for (int ty = 0; ok && ty < s->h; ty += s->tile)
            for (int tx = 0; ok && tx < s->w; tx += s->tile) {
                memset(buf, 0, (size_t)s->tile * s->tile * bpp);
                for (int y = 0; y < s->tile && ty + y < s->h; y++)
                    for (int x = 0; x < s->tile && tx + x < s->w; x++)
                        memcpy(buf + ((size_t)y * s->tile + x) * bpp,
                               (const uint8_t *)px + (size_t)(ty + y) * row + (size_t)(tx + x) * bpp, bpp);
                ok = TIFFWriteTile(t, buf, (uint32_t)tx, (uint32_t)ty, 0, 0) >= 0;
            }
        free(buf);
    } else {
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 4u);
        for (int y = 0; ok && y < s->h; y++)
            ok = TIFFWriteScanline(t, (uint8_t *)(uintptr_t)px + (size_t)y * row, (uint32_t)y, 0) >= 0;
    }
    TIFFClose(t);
    return ok;
}

TEST(inputs_webp_tiff_bmp_equal_png) {
    const int w = 37, h = 23;
    uint8_t *rgb = pattern8(w, h, 3), *rgba = pattern8(w, h, 4), *grey = pattern8(w, h, 1);
    char ref3[512], ref4[512], ref1[512];
    snprintf(ref3, sizeof ref3, "%s", gs_test_tmp("fmt_rgb.png"));
    snprintf(ref4, sizeof ref4, "%s", gs_test_tmp("fmt_rgba.png"));
    snprintf(ref1, sizeof ref1, "%s", gs_test_tmp("fmt_grey.png"));
    CHECK_OK(png_of(ref3, rgb, w, h, 3));
    CHECK_OK(png_of(ref4, rgba, w, h, 4));
    CHECK_OK(png_of(ref1, grey, w, h, 1));
    /* WebP: lossless RGB and RGBA (libwebp's encoder) */
    uint8_t *enc = NULL;
    size_t n = WebPEncodeLosslessRGB(rgb, w, h, w * 3, &enc);
    CHECK(n > 0);
    CHECK_OK(write_bytes(gs_test_tmp("fmt_rgb.webp"), enc, n));
    WebPFree(enc);
    n = WebPEncodeLosslessRGBA(rgba, w, h, w * 4, &enc);
    CHECK(n > 0);
    CHECK_OK(write_bytes(gs_test_tmp("fmt_rgba.webp"), enc, n));
    WebPFree(enc);
    check_same(gs_test_tmp("fmt_rgb.webp"), ref3, 8);
    check_same(gs_test_tmp("fmt_rgba.webp"), ref4, 8);
    /* lossy WebP of a smooth image: the same size, close colours */
    uint8_t *smooth = malloc((size_t)w * h * 3);
    for (int i = 0; smooth && i < w * h; i++) {
        smooth[3 * i] = (uint8_t)(i % w * 255 / w), smooth[3 * i + 1] = (uint8_t)(i / w * 255 / h), smooth[3 * i + 2] = 128;
    }
    CHECK_OK(png_of(gs_test_tmp("fmt_smooth.png"), smooth, w, h, 3));
    n = WebPEncodeRGB(smooth, w, h, w * 3, 95, &enc);
    free(smooth);
    CHECK_OK(write_bytes(gs_test_tmp("fmt_lossy.webp"), enc, n));
    WebPFree(enc);
    gs_image a, b;
    CHECK_OK(gs_image_read(gs_test_tmp("fmt_lossy.webp"), &a));
    CHECK_OK(gs_image_read(gs_test_tmp("fmt_smooth.png"), &b));
    CHECK(a.width == w && a.height == h && a.channels == 3);
    double md = 0;
    for (size_t i = 0; a.data && b.data && i < (size_t)w * h * 3; i++) md += fabs(a.data[i] - b.data[i]);
    CHECK_MSG(md / (w * h * 3) < 0.02, "lossy WebP mean difference %g", md / (w * h * 3));
    gs_image_free(&a);
    gs_image_free(&b);

    /* TIFF (libtiff's writer): RGB strips, LZW, RGBA, grey tiles */
    tiff_spec s = {w, h, 3, 8, PHOTOMETRIC_RGB, 0, 0, 0, 0, 0};
    CHECK(write_tiff(gs_test_tmp("fmt_rgb.tif"), &s, rgb));
    check_same(gs_test_tmp("fmt_rgb.tif"), ref3, 8);
    s.compression = COMPRESSION_LZW;
    CHECK(write_tiff(gs_test_tmp("fmt_lzw.tiff"), &s, rgb));
    check_same(gs_test_tmp("fmt_lzw.tiff"), ref3, 8);
    tiff_spec s4 = {w, h, 4, 8, PHOTOMETRIC_RGB, 0, 1, COMPRESSION_ADOBE_DEFLATE, 0, 0};
    CHECK(write_tiff(gs_test_tmp("fmt_rgba.tif"), &s4, rgba));
    check_same(gs_test_tmp("fmt_rgba.tif"), ref4, 8); /* unassociated alpha: colours as stored */
    tiff_spec s1 = {w, h, 1, 8, PHOTOMETRIC_MINISBLACK, 16, 0, 0, 0, 0};
    CHECK(write_tiff(gs_test_tmp("fmt_grey_tiles.tif"), &s1, grey));
    check_same(gs_test_tmp("fmt_grey_tiles.tif"), ref1, 8);
    /* 16-bit grey, tiled: all 16 bits kept (against a 16-bit PNG) */
    uint16_t *g16 = malloc((size_t)w * h * 2);
    gs_image im16;
    CHECK_OK(gs_image_alloc(&im16, w, h, 1));
    for (int i = 0; g16 && im16.data && i < w * h; i++) {
        g16[i] = (uint16_t)(i * 977 + 13);
        im16.data[i] = g16[i] / 65535.0f;
    }
    char ref16[512];
    snprintf(ref16, sizeof ref16, "%s", gs_test_tmp("fmt_g16.png"));
    CHECK_OK(gs_image_write_png(ref16, &im16, 16));
    gs_image_free(&im16);
    tiff_spec s16 = {w, h, 1, 16, PHOTOMETRIC_MINISBLACK, 16, 0, COMPRESSION_ADOBE_DEFLATE, 0, 0};
    CHECK(write_tiff(gs_test_tmp("fmt_g16.tif"), &s16, g16));
    check_same(gs_test_tmp("fmt_g16.tif"), ref16, 16);
    free(g16);
    /* palette: libtiff's RGBA path, the colour map's 8-bit colours */
    tiff_spec sp = {w, h, 1, 8, PHOTOMETRIC_PALETTE, 0, 0, 0, 0, 0};
    CHECK(write_tiff(gs_test_tmp("fmt_pal.tif"), &sp, grey));
    uint8_t *pal_rgb = malloc((size_t)w * h * 3);
    for (int i = 0; pal_rgb && i < w * h; i++) {
        pal_rgb[3 * i] = (uint8_t)((grey[i] * 7) & 255);
        pal_rgb[3 * i + 1] = (uint8_t)(255 - grey[i]);
        pal_rgb[3 * i + 2] = (uint8_t)((grey[i] * 13 + 5) & 255);
    }
    CHECK_OK(png_of(gs_test_tmp("fmt_pal.png"), pal_rgb, w, h, 3));
    free(pal_rgb);
    {
        char refp[512];
        snprintf(refp, sizeof refp, "%s", gs_test_tmp("fmt_pal.png"));
        check_same(gs_test_tmp("fmt_pal.tif"), refp, 8);
    }
    /* float samples: a clear error naming the file */
    float *fl = calloc((size_t)w * h, sizeof *fl);
    tiff_spec sf = {w, h, 1, 32, PHOTOMETRIC_MINISBLACK, 0, 0, 0, 0, 1};
    CHECK(write_tiff(gs_test_tmp("fmt_float.tif"), &sf, fl));
    free(fl);
    CHECK_ERR(gs_image_read(gs_test_tmp("fmt_float.tif"), &a), "fmt_float.tif: TIFF with 32-bit floating-point");
    CHECK(a.data == NULL);

    /* BMP (stb_image_write's 24-bit writer) */
    CHECK(stbi_write_bmp(gs_test_tmp("fmt_rgb.bmp"), w, h, 3, rgb));
    check_same(gs_test_tmp("fmt_rgb.bmp"), ref3, 8);

    /* other encoders: ffmpeg's BMP (32-bit) and 16-bit RGB TIFF (PackBits) */
    if (have_ffmpeg()) {
        char cmd[2048];
        gs_image c16;
        CHECK_OK(gs_image_alloc(&c16, w, h, 3));
        for (size_t i = 0; c16.data && i < (size_t)w * h * 3; i++) c16.data[i] = (float)((i * 4099 + 7) % 65536) / 65535.0f;
        CHECK_OK(gs_image_write_png(gs_test_tmp("fmt_c16.png"), &c16, 16));
        gs_image_free(&c16);
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -loglevel error -y -i %s -pix_fmt rgb48le %s && ffmpeg -loglevel error -y -i %s -pix_fmt bgr24 %s",
                 gs_test_tmp("fmt_c16.png"), gs_test_tmp("fmt_ff16.tif"), ref3, gs_test_tmp("fmt_ff.bmp"));
        CHECK_EQ_INT(sh(cmd), 0);
        char refc[512];
        snprintf(refc, sizeof refc, "%s", gs_test_tmp("fmt_c16.png"));
        check_same(gs_test_tmp("fmt_ff16.tif"), refc, 16);
        check_same(gs_test_tmp("fmt_ff.bmp"), ref3, 8);
    }
    /* damaged files: errors naming them */
    uint8_t *d = NULL;
    size_t dn = 0;
    CHECK_OK(gs_read_file(gs_test_tmp("fmt_rgb.webp"), 1 << 20, &d, &dn));
    if (d) {
        CHECK_ERR(gs_image_read_mem(d, dn / 2, "cut.webp", &a), "cut.webp: invalid WebP");
        CHECK(a.data == NULL);
        free(d);
    }
    CHECK_OK(gs_read_file(gs_test_tmp("fmt_rgb.tif"), 1 << 20, &d, &dn));
    if (d) {
        CHECK_ERR(gs_image_read_mem(d, dn / 2, "cut.tif", &a), "cut.tif: invalid TIFF");
        free(d);
    }
    CHECK_OK(gs_read_file(gs_test_tmp("fmt_rgb.bmp"), 1 << 20, &d, &dn));
    if (d) {
        CHECK_ERR(gs_image_read_mem(d, dn / 2, "cut.bmp", &a), "cut.bmp: invalid BMP");
        free(d);
    }
    free(rgb);
    free(rgba);
    free(grey);
}

/* eval folders take the new formats too */
TEST(inputs_eval_folder_lists_new_formats) {
    gs_image im;
    CHECK_OK(gs_image_alloc(&im, 8, 8, 3));
    if (gs_test_failed()) return;
    const char *dir = gs_test_tmp("evalfmt");
    CHECK_OK(gs_mkdirs(dir));
    char p[600];
    snprintf(p, sizeof p, "%s/b.png", dir);
    CHECK_OK(gs_image_write_png(p, &im, 8));
    gs_image_free(&im);
    uint8_t px[8 * 8 * 3] = {0};
    snprintf(p, sizeof p, "%s/a.bmp", dir);
    CHECK(stbi_write_bmp(p, 8, 8, 3, px));
    snprintf(p, sizeof p, "%s/c.TIFF", dir);
    tiff_spec s = {8, 8, 3, 8, PHOTOMETRIC_RGB, 0, 0, 0, 0, 0};
    CHECK(write_tiff(p, &s, px));
    snprintf(p, sizeof p, "%s/d.gif", dir);
    CHECK_OK(write_bytes(p, "GIF89a", 6));
    gs_name_list l;
    CHECK_OK(gs_eval_list_images(dir, &l));
    CHECK_EQ_INT(l.n, 3);
    if (l.n == 3) {
        CHECK_STR(l.names[0], "a.bmp");
        CHECK_STR(l.names[1], "b.png");
        CHECK_STR(l.names[2], "c.TIFF");
    }
    gs_eval_names_free(&l);
    CHECK(gs_image_ext_known("x.WebP") && gs_image_ext_known("y.tif") && !gs_image_ext_known("z.gif"));
}

/* A JPEG through libjpeg, with an EXIF APP1 segment saying `orientation`
 * (big-endian TIFF structure, IFD0 with the one Orientation entry) when > 0. */
static int write_jpeg_exif(const char *path, const uint8_t *rgb, int w, int h, int orientation) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, f);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 90, TRUE);
    jpeg_start_compress(&ci, TRUE);
    if (orientation > 0) {
        const uint8_t app1[] = {'E', 'x', 'i', 'f', 0, 0,
                                'M', 'M', 0, 42, 0, 0, 0, 8,                           /* TIFF header, IFD0 at 8 */
                                0, 1,                                                  /* one entry */
                                0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)orientation, 0, 0, /* Orientation, SHORT */
                                0, 0, 0, 0};                                          /* no IFD1 */
        jpeg_write_marker(&ci, JPEG_APP0 + 1, app1, sizeof app1);
    }
    for (int y = 0; y < h; y++) {
        JSAMPROW r = (JSAMPROW)(uintptr_t)(rgb + (size_t)y * w * 3);
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    return fclose(f) == 0;
}

/* PNG with an eXIf chunk (libpng's writer). */
static int write_png_exif(const char *path, const uint8_t *rgb, int w, int h, int orientation) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return 0;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    uint8_t exif[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (uint8_t)orientation, 0, 0, 0,
                      0, 0, 0, 0};
    png_set_eXIf_1(png, info, sizeof exif, exif);
    png_write_info(png, info);
    for (int y = 0; y < h; y++) png_write_row(png, rgb + (size_t)y * w * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return fclose(f) == 0;
}

/* A WebP with an EXIF chunk: the VP8L bitstream of a lossless encode put
 * into an extended (VP8X) file with the EXIF flag. */
static int write_webp_exif(const char *path, const uint8_t *rgb, int w, int h, int orientation) {
    uint8_t *enc = NULL;
    size_t n = WebPEncodeLosslessRGB(rgb, w, h, w * 3, &enc);
    if (n < 20 || memcmp(enc + 12, "VP8L", 4)) { WebPFree(enc); return 0; }
    const uint8_t exif[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, (uint8_t)orientation, 0,
                            0, 0, 0, 0, 0, 0};
    size_t vp8l = n - 12, total = 4 + (8 + 10) + vp8l + (8 + sizeof exif);
    uint8_t *out = calloc(8 + total, 1);
    uint8_t *p = out;
    memcpy(p, "RIFF", 4), p += 4;
    for (int i = 0; i < 4; i++) *p++ = (uint8_t)(total >> (8 * i));
    memcpy(p, "WEBPVP8X", 8), p += 8;
    *p++ = 10, *p++ = 0, *p++ = 0, *p++ = 0;
    *p++ = 0x08, *p++ = 0, *p++ = 0, *p++ = 0; /* EXIF flag */
    for (int i = 0; i < 3; i++) *p++ = (uint8_t)((w - 1) >> (8 * i));
    for (int i = 0; i < 3; i++) *p++ = (uint8_t)((h - 1) >> (8 * i));
    memcpy(p, enc + 12, vp8l), p += vp8l; /* the VP8L chunk, padded as it was */
    memcpy(p, "EXIF", 4), p += 4;
    *p++ = sizeof exif, *p++ = 0, *p++ = 0, *p++ = 0;
    memcpy(p, exif, sizeof exif);
    WebPFree(enc);
    int ok = gs_write_file_atomic(path, out, 8 + total) == GS_OK;
    free(out);
    return ok;
}

TEST(inputs_exif_orientation_reported_not_applied) {
    const int w = 24, h = 16;
    uint8_t *rgb = pattern8(w, h, 3);
    char plain[512], rot[512];
    snprintf(plain, sizeof plain, "%s", gs_test_tmp("exif_plain.jpg"));
    snprintf(rot, sizeof rot, "%s", gs_test_tmp("exif_rot6.jpg"));
    CHECK(write_jpeg_exif(plain, rgb, w, h, 0));
    CHECK(write_jpeg_exif(rot, rgb, w, h, 6));
    gs_image a, b;
    int oa = -1, ob = -1;
    CHECK_OK(gs_image_read_orient(plain, &a, &oa));
    CHECK_OK(gs_image_read_orient(rot, &b, &ob));
    CHECK_EQ_INT(oa, 0);
    CHECK_EQ_INT(ob, 6);
    /* as stored: not rotated (a 90-degree turn would make it 16x24) */
    CHECK_MSG(image_diff(&a, &b) == 0.0, "the EXIF orientation changed the pixels (%dx%d)", b.width, b.height);
    gs_image_free(&a);
    gs_image_free(&b);
    /* orientation 1 is upright: nothing reported */
    CHECK(write_jpeg_exif(gs_test_tmp("exif_rot1.jpg"), rgb, w, h, 1));
    CHECK_OK(gs_image_read_orient(gs_test_tmp("exif_rot1.jpg"), &a, &oa));
    CHECK_EQ_INT(oa, 0);
    gs_image_free(&a);
    /* PNG eXIf, WebP EXIF chunk, TIFF Orientation tag */
    CHECK(write_png_exif(gs_test_tmp("exif8.png"), rgb, w, h, 8));
    CHECK_OK(gs_image_read_orient(gs_test_tmp("exif8.png"), &a, &oa));
    CHECK_EQ_INT(oa, 8);
    CHECK(a.width == w && a.height == h);
    gs_image_free(&a);
    CHECK(write_webp_exif(gs_test_tmp("exif3.webp"), rgb, w, h, 3));
    CHECK_OK(gs_image_read_orient(gs_test_tmp("exif3.webp"), &a, &oa));
    CHECK_EQ_INT(oa, 3);
    gs_image_free(&a);
    tiff_spec s = {w, h, 3, 8, PHOTOMETRIC_RGB, 0, 0, 0, ORIENTATION_BOTRIGHT, 0};
    CHECK(write_tiff(gs_test_tmp("exif3.tif"), &s, rgb));
    CHECK_OK(gs_image_read_orient(gs_test_tmp("exif3.tif"), &a, &oa));
    CHECK_EQ_INT(oa, 3);
    CHECK_OK(png_of(gs_test_tmp("exif_ref.png"), rgb, w, h, 3));
    CHECK_OK(gs_image_read(gs_test_tmp("exif_ref.png"), &b));
    CHECK_MSG(image_diff(&a, &b) == 0.0, "the TIFF rows were reordered by its orientation");
    gs_image_free(&a);
    gs_image_free(&b);
    free(rgb);
}

TEST(cli_inputs_exif_orientation_warning) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    const int w = 56, h = 42;
    uint8_t *rgb = pattern8(w, h, 3);
    const char *jpg = gs_test_tmp("turned.jpg");
    CHECK(write_jpeg_exif(jpg, rgb, w, h, 6));
    free(rgb);
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --process-res 56 --out %s", jpg, gs_test_tmp("turned-out"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "warning: photo ") && strstr(out, "turned.jpg: its EXIF orientation is 6") &&
                  strstr(out, "viewers rotate it 90 degrees clockwise") && strstr(out, "as stored, unrotated"),
              "%s", out ? out : "");
    free(out);
    /* gs info says it too */
    snprintf(args, sizeof args, "info %s", jpg);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "EXIF orientation 6"), "%s", out ? out : "");
    free(out);
}

/* gs info and gs infer on the new formats: sniffed by content; a TIFF whose
 * header declares more than the photo bound is refused from the header. */
TEST(cli_inputs_new_formats_info_and_bound) {
    NEED_GS_BIN();
    const int w = 30, h = 20;
    uint8_t *rgb = pattern8(w, h, 3);
    uint8_t *enc = NULL;
    size_t n = WebPEncodeLosslessRGB(rgb, w, h, w * 3, &enc);
    const char *webp = gs_test_tmp("info.dat"); /* no telling extension */
    CHECK_OK(write_bytes(webp, enc, n));
    WebPFree(enc);
    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "info %s", webp);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "image 30x20, 3 channels, 8-bit"), "%s", out ? out : "");
    free(out);
    const char *bmp = gs_test_tmp("info.bmp");
    CHECK(stbi_write_bmp(bmp, w, h, 3, rgb));
    snprintf(args, sizeof args, "info %s", bmp);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "image 30x20, 3 channels"), "%s", out ? out : "");
    free(out);
    free(rgb);
    /* little-endian TIFF, IFD0 at 8: 12000x10000 RGB 8-bit, one strip that is not there */
    uint8_t t[8 + 2 + 9 * 12 + 4 + 6] = {'I', 'I', 42, 0, 8, 0, 0, 0, 9, 0};
    const uint16_t tags[9][2] = {{256, 4}, {257, 4}, {258, 3}, {259, 3}, {262, 3}, {273, 4}, {277, 3}, {278, 4}, {279, 4}};
    const uint32_t vals[9] = {12000, 10000, 8, 1, 2, 200, 3, 10000, 360000000u};
    for (int i = 0; i < 9; i++) {
        uint8_t *e = t + 10 + 12 * i;
        e[0] = (uint8_t)tags[i][0], e[1] = (uint8_t)(tags[i][0] >> 8), e[2] = (uint8_t)tags[i][1];
        e[4] = 1;
        for (int k = 0; k < 4; k++) e[8 + k] = (uint8_t)(vals[i] >> (8 * k));
    }
    const char *big = gs_test_tmp("big.tif");
    CHECK_OK(write_bytes(big, t, sizeof t));
    int bw = 0, bh = 0;
    CHECK_OK(gs_image_info(big, &bw, &bh, NULL));
    CHECK(bw == 12000 && bh == 10000);
    if (!gs_file_exists(TINY_ANY "/model.safetensors")) return;
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --out %s", big, gs_test_tmp("big-out"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "big.tif: 12000x10000 is 120.0 megapixels"), "%s", out ? out : "");
    free(out);
}

/* the names of a gs infer output, in view order, from its cameras.json */
static int view_names(const char *dir, char names[][64], int max) {
    char p[600];
    snprintf(p, sizeof p, "%s/cameras.json", dir);
    gs_cameras c;
    if (gs_cameras_read(p, NULL, &c, NULL)) return -1;
    int n = c.n < max ? c.n : max;
    for (int i = 0; i < n; i++) snprintf(names[i], 64, "%.63s", c.cams[i].name);
    gs_cameras_free(&c);
    return n;
}

TEST(cli_inputs_folder_sorted_filtered) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    const int w = 56, h = 42;
    uint8_t *rgb = pattern8(w, h, 3);
    const char *dir = gs_test_tmp("photos");
    char p[700];
    CHECK_OK(gs_mkdirs(dir));
    snprintf(p, sizeof p, "%s/c.png", dir);
    CHECK_OK(png_of(p, rgb, w, h, 3));
    snprintf(p, sizeof p, "%s/B.PNG", dir);
    CHECK_OK(png_of(p, rgb, w, h, 3));
    snprintf(p, sizeof p, "%s/.hidden.png", dir);
    CHECK_OK(png_of(p, rgb, w, h, 3));
    snprintf(p, sizeof p, "%s/a.jpg", dir);
    CHECK(write_jpeg_exif(p, rgb, w, h, 0));
    snprintf(p, sizeof p, "%s/d.webp", dir);
    uint8_t *enc = NULL;
    size_t n = WebPEncodeLosslessRGB(rgb, w, h, w * 3, &enc);
    CHECK_OK(write_bytes(p, enc, n));
    WebPFree(enc);
    snprintf(p, sizeof p, "%s/notes.txt", dir);
    CHECK_OK(write_bytes(p, "not a photo\n", 12));
    snprintf(p, sizeof p, "%s/sub.png", dir); /* a folder with an image name */
    CHECK_OK(gs_mkdirs(p));
    free(rgb);
    char args[2048], *out = NULL, names[8][64];
    const char *o1 = gs_test_tmp("photos-out");
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --process-res 56 --out %s", dir, o1);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "4 views"), "%s", out ? out : "");
    free(out);
    int k = view_names(o1, names, 8);
    CHECK_EQ_INT(k, 4);
    if (k == 4) { /* byte order: upper case first */
        CHECK_STR(names[0], "B.png");
        CHECK_STR(names[1], "a.png");
        CHECK_STR(names[2], "c.png");
        CHECK_STR(names[3], "d.png");
    }
    /* --ext: only these (any case), a folder and a photo together */
    const char *o2 = gs_test_tmp("photos-out2");
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --ext png,.webp %s/a.jpg --process-res 56 --out %s",
             dir, dir, o2);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    k = view_names(o2, names, 8);
    CHECK_EQ_INT(k, 4);
    if (k == 4) {
        CHECK_STR(names[0], "B.png");
        CHECK_STR(names[1], "c.png");
        CHECK_STR(names[2], "d.png");
        CHECK_STR(names[3], "a.png");
    }
    /* a folder without images: an error naming it */
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --ext bmp --out %s", dir, gs_test_tmp("photos-out3"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "folder ") && strstr(out, "photos: no images in it (extensions bmp)"), "%s",
              out ? out : "");
    free(out);
    CHECK(!gs_is_dir(gs_test_tmp("photos-out3")));
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --ext gif --out %s", dir, gs_test_tmp("photos-out3"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
    CHECK_MSG(out && strstr(out, "--ext: 'gif' is not an image extension"), "%s", out ? out : "");
    free(out);
}

/* a w x h test video of `frames` frames at `rate` (ffmpeg's testsrc) */
static int make_video(const char *path, int frames, int rate) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -loglevel error -y -f lavfi -i testsrc=size=64x48:rate=%d -frames:v %d -pix_fmt yuv420p "
             "-c:v libx264 %s",
             rate, frames, path);
    return sh(cmd) == 0;
}

TEST(inputs_video_frames_sampled_as_da3) {
    if (!have_ffmpeg()) TEST_SKIP("ffmpeg not installed");
    char v[512];
    snprintf(v, sizeof v, "%s", gs_test_tmp("clip.mp4"));
    CHECK(make_video(v, 30, 10));
    gs_image *fr = NULL;
    int n = 0;
    double vfps = 0;
    long every = 0;
    /* 10 fps at --fps 2: every 5th frame, 0 5 10 15 20 25 */
    CHECK_OK(gs_video_read_frames(v, 2.0, 0, 100000000, &fr, &n, &vfps, &every));
    CHECK_EQ_INT(n, 6);
    CHECK_NEAR(vfps, 10.0, 1e-9);
    CHECK_EQ_INT(every, 5);
    if (n == 6) {
        CHECK(fr[0].width == 64 && fr[0].height == 48 && fr[0].channels == 3);
        /* frame 2 is the video's frame 10, as ffmpeg decodes it */
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "ffmpeg -loglevel error -y -i %s -vf 'select=eq(n\\,10)' -frames:v 1 -pix_fmt rgb24 %s",
                 v, gs_test_tmp("clip_f10.png"));
        CHECK_EQ_INT(sh(cmd), 0);
        gs_image ref;
        CHECK_OK(gs_image_read(gs_test_tmp("clip_f10.png"), &ref));
        CHECK_MSG(image_diff(&fr[2], &ref) == 0.0, "frame 2 is not the video's frame 10 (%g)", image_diff(&fr[2], &ref));
        CHECK_MSG(image_diff(&fr[1], &ref) > 0.01, "frames 5 and 10 look the same: the test cannot tell them apart");
        gs_image_free(&ref);
    }
    for (int i = 0; i < n; i++) gs_image_free(&fr[i]);
    free(fr);
    /* int(10 / 3) = 3: 0 3 ... 27, ten frames; capped at 4 */
    CHECK_OK(gs_video_read_frames(v, 3.0, 4, 100000000, &fr, &n, NULL, &every));
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(every, 3);
    for (int i = 0; i < n; i++) gs_image_free(&fr[i]);
    free(fr);
    /* more than the video has: every frame */
    CHECK_OK(gs_video_read_frames(v, 25.0, 0, 100000000, &fr, &n, NULL, &every));
    CHECK_EQ_INT(n, 30);
    CHECK_EQ_INT(every, 1);
    for (int i = 0; i < n; i++) gs_image_free(&fr[i]);
    free(fr);
    /* frames over the pixel bound are refused */
    CHECK_ERR(gs_video_read_frames(v, 1.0, 0, 1000, &fr, &n, NULL, NULL), "clip.mp4: frames of 64x48");
    CHECK(fr == NULL && n == 0);
}

TEST(cli_inputs_video) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    if (!have_ffmpeg()) TEST_SKIP("ffmpeg not installed");
    char v[512];
    snprintf(v, sizeof v, "%s", gs_test_tmp("walk.mp4"));
    CHECK(make_video(v, 20, 10));
    char args[2048], *out = NULL, names[8][64];
    const char *o1 = gs_test_tmp("walk-out");
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --fps 2 --process-res 56 --out %s", v, o1);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    CHECK_MSG(out && strstr(out, "walk.mp4 (10 fps): every 5th frame, 4 frames"), "%s", out ? out : "");
    free(out);
    int k = view_names(o1, names, 8);
    CHECK_EQ_INT(k, 4);
    if (k == 4) {
        CHECK_STR(names[0], "000000.png");
        CHECK_STR(names[3], "000003.png");
    }
    char p[700];
    snprintf(p, sizeof p, "%s/depth/000003.exr", o1);
    CHECK(gs_file_exists(p));
    /* the default --fps 1 and --max-frames */
    const char *o2 = gs_test_tmp("walk-out2");
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --max-frames 1 --process-res 56 --out %s --quiet", v, o2);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    CHECK_EQ_INT(view_names(o2, names, 8), 1);
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --process-res 56 --overwrite --out %s --quiet", v, o2);
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
    free(out);
    CHECK_EQ_INT(view_names(o2, names, 8), 2); /* 20 frames at 10 fps, every 10th */
    /* errors, naming the video */
    const char *bad = gs_test_tmp("broken.mkv");
    CHECK_OK(write_bytes(bad, "this is no video at all", 23));
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --out %s", bad, gs_test_tmp("walk-out3"));
    CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
    CHECK_MSG(out && strstr(out, "error: video ") && strstr(out, "broken.mkv: ffprobe cannot read it"), "%s",
              out ? out : "");
    free(out);
    /* cut after its index: ffprobe reads it, ffmpeg decodes no frame */
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -loglevel error -y -f lavfi -i testsrc=size=64x48:rate=10 -frames:v 20 -pix_fmt yuv420p "
             "-movflags +faststart %s && python3 -c \"import sys; d=open(sys.argv[1],'rb').read(); "
             "open(sys.argv[2],'wb').write(d[:d.find(b'mdat')+24])\" %s %s",
             gs_test_tmp("fs.mp4"), gs_test_tmp("fs.mp4"), gs_test_tmp("cut.mp4"));
    if (sh(cmd) == 0) {
        snprintf(args, sizeof args, "infer --model " TINY_ANY " %s --out %s", gs_test_tmp("cut.mp4"), gs_test_tmp("walk-out3"));
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 1);
        CHECK_MSG(out && strstr(out, "cut.mp4: ffmpeg failed") && strstr(out, "0 frames decoded"), "%s", out ? out : "");
        free(out);
    }
    /* ffmpeg missing */
    snprintf(cmd, sizeof cmd, "PATH=/nonexistent %s infer --model " TINY_ANY " %s --out %s 2>&1", getenv("GS_BIN"), v,
             gs_test_tmp("walk-out3"));
    CHECK_EQ_INT(gs_test_run(cmd, &out), 1);
    CHECK_MSG(out && strstr(out, "walk.mp4: cannot start ffprobe") && strstr(out, "is ffmpeg installed"), "%s",
              out ? out : "");
    free(out);
    CHECK(!gs_is_dir(gs_test_tmp("walk-out3")));
}

TEST(cli_inputs_options) {
    NEED_GS_BIN();
    char *out = NULL;
    const char *cmds[2] = {"infer", "nvs"};
    for (int c = 0; c < 2; c++) {
        char args[256];
        snprintf(args, sizeof args, "%s --help", cmds[c]);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 0);
        CHECK_MSG(out && strstr(out, "--ext LIST") && strstr(out, "--fps F") && strstr(out, "--max-frames N") &&
                      strstr(out, "folders of them"),
                  "%s", out ? out : "");
        free(out);
        snprintf(args, sizeof args, "%s --model m x.mp4 --out o --fps 0", cmds[c]);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
        CHECK_MSG(out && strstr(out, "--fps must be"), "%s", out ? out : "");
        free(out);
        snprintf(args, sizeof args, "%s --model m x.mp4 --out o --max-frames many", cmds[c]);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
        CHECK_MSG(out && strstr(out, "--max-frames must be"), "%s", out ? out : "");
        free(out);
        snprintf(args, sizeof args, "%s --model m x.mp4 --out o --ext", cmds[c]);
        CHECK_EQ_INT(gs_test_run_gs(args, &out), 2);
        CHECK_MSG(out && strstr(out, "--ext needs a value"), "%s", out ? out : "");
        free(out);
    }
}
