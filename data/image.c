/* image.c - image files in and out: PNG (libpng) and JPEG (libjpeg-turbo)
 * reading into float [0,1] HWC images (WebP, TIFF and BMP in
 * image_formats.c) with the EXIF orientation of PNG and JPEG files, atomic
 * PNG and depth-EXR (tinyexr) writing, the turbo colormap for depth
 * visualisation and alpha compositing.
 *
 * Image files are untrusted: declared sizes are checked against the per-side
 * and total pixel limits and against what the compressed bytes could possibly
 * hold before anything large is allocated. */
#include "data/image.h"
#include "data/image_formats.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <jpeglib.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tinyexr.h>
#include <stb_image.h>

#define IMAGE_MAX_FILE_BYTES ((size_t)1 << 30)
#define EXR_MAX_FILE_BYTES ((size_t)2 << 30)

/* Deflate cannot expand more than 1032:1 (a 258-byte match coded in two
 * 1-bit codes), so a PNG whose pixels need more bytes than that cannot be
 * complete; checking this first means a tiny file declaring a huge image
 * fails before the pixel buffers are allocated. */
#define DEFLATE_MAX_RATIO 1032u

static int dims_ok(int64_t w, int64_t h) {
    return w > 0 && h > 0 && w <= GS_IMAGE_MAX_DIM && h <= GS_IMAGE_MAX_DIM && w * h <= GS_IMAGE_MAX_PIXELS;
}

static gs_status dims_error(const char *name, int64_t w, int64_t h) {
    return gs_error(GS_ERR_FORMAT, "%s: image size %lldx%lld is out of range (at most %d per side and %lld pixels)",
                    name, (long long)w, (long long)h, GS_IMAGE_MAX_DIM, (long long)GS_IMAGE_MAX_PIXELS);
}

int gs_image_dims_ok(int64_t w, int64_t h) { return dims_ok(w, h); }
gs_status gs_image_dims_error(const char *name, int64_t w, int64_t h) { return dims_error(name, w, h); }

gs_status gs_image_alloc(gs_image *im, int width, int height, int channels) {
    memset(im, 0, sizeof *im);
    if (!dims_ok(width, height))
        return gs_error(GS_ERR_INVALID, "image size %dx%d is out of range", width, height);
    if (channels < 1 || channels > 4)
        return gs_error(GS_ERR_INVALID, "image channel count %d is not 1..4", channels);
    size_t n = (size_t)width * (size_t)height * (size_t)channels;
    im->data = gs_calloc(n, sizeof(float), "image pixels");
    if (!im->data) return GS_ERR_NOMEM;
    im->width = width;
    im->height = height;
    im->channels = channels;
    im->bit_depth = 8;
    return GS_OK;
}

void gs_image_free(gs_image *im) {
    if (!im) return;
    free(im->data);
    memset(im, 0, sizeof *im);
}

static gs_status check_image_arg(const gs_image *im, const char *what) {
    if (!im || !im->data || !dims_ok(im->width, im->height) || im->channels < 1 || im->channels > 4)
        return gs_error(GS_ERR_INVALID, "%s: not a valid image (%dx%d, %d channels)", what,
                        im ? im->width : 0, im ? im->height : 0, im ? im->channels : 0);
    return GS_OK;
}

/* ---- PNG reading ------------------------------------------------------------ */

typedef struct {
    const uint8_t *data;
    size_t size, pos;
    const char *name;
    char msg[200];
    uint8_t *pixels;  /* decoded rows */
    png_bytep *rows;
    float *out;
    int orient;
} png_ctx;

static void png_err_cb(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void png_warn_cb(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* warnings (odd ancillary chunks, sRGB profiles) are not our business */
}

static void png_read_cb(png_structp png, png_bytep out, size_t n) {
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->size - c->pos) png_error(png, "unexpected end of data (file truncated)");
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
}

/* All state that must survive a longjmp lives in *c (not in locals), so that
 * nothing here is clobbered by setjmp/longjmp. */
static gs_status png_decode(png_structp png, png_infop info, png_ctx *c, gs_image *im) {
    if (setjmp(png_jmpbuf(png)))
        return gs_error(GS_ERR_FORMAT, "%s: invalid PNG: %s", c->name, c->msg);

    png_set_read_fn(png, c, png_read_cb);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (!dims_ok(w, h)) return dims_error(c->name, w, h);

    /* lower bound on the filtered pixel bytes versus what the file could hold */
    uint64_t bits_pp = (uint64_t)depth * png_get_channels(png, info);
    uint64_t raw = (uint64_t)h * (((uint64_t)w * bits_pp + 7) / 8);
    if (raw / DEFLATE_MAX_RATIO > c->size)
        return gs_error(GS_ERR_FORMAT, "%s: invalid PNG: %ux%u pixels cannot fit in %zu bytes (file truncated?)",
                        c->name, (unsigned)w, (unsigned)h, c->size);

    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int ch = png_get_channels(png, info);
    int bd = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (ch < 1 || ch > 4 || (bd != 8 && bd != 16) || rowbytes != (size_t)w * (size_t)ch * (size_t)(bd / 8))
        return gs_error(GS_ERR_FORMAT, "%s: invalid PNG: unexpected layout after expansion (%d channels, %d bits)",
                        c->name, ch, bd);

    c->pixels = gs_malloc(rowbytes, h, c->name);
    c->rows = gs_malloc(h, sizeof(png_bytep), c->name);
    if (!c->pixels || !c->rows) return GS_ERR_NOMEM;
    for (png_uint_32 y = 0; y < h; y++) c->rows[y] = c->pixels + (size_t)y * rowbytes;
    png_read_image(png, c->rows);
    /* reading up to IEND also catches truncation and CRC errors after the pixels */
    png_read_end(png, info);
    png_bytep exif = NULL;
    png_uint_32 n_exif = 0;
    if (png_get_eXIf_1(png, info, &n_exif, &exif) && exif) c->orient = gs_exif_orientation(exif, n_exif);

    size_t n = (size_t)w * h * (size_t)ch;
    c->out = gs_malloc(n, sizeof(float), c->name);
    if (!c->out) return GS_ERR_NOMEM;
    if (bd == 8) {
        for (size_t i = 0; i < n; i++) c->out[i] = (float)c->pixels[i] / 255.0f;
    } else {
        for (size_t i = 0; i < n; i++)
            c->out[i] = (float)((unsigned)c->pixels[2 * i] << 8 | c->pixels[2 * i + 1]) / 65535.0f;
    }
    im->width = (int)w;
    im->height = (int)h;
    im->channels = ch;
    im->bit_depth = bd;
    im->data = c->out;
    c->out = NULL;
    return GS_OK;
}

static gs_status read_png(const uint8_t *data, size_t size, const char *name, gs_image *im, int *orient) {
    png_ctx c;
    memset(&c, 0, sizeof c);
    c.data = data;
    c.size = size;
    c.name = name;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_err_cb, png_warn_cb);
    if (!png) return gs_error(GS_ERR_NOMEM, "%s: cannot initialise libpng", name);
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return gs_error(GS_ERR_NOMEM, "%s: cannot initialise libpng", name);
    }
    /* bound what libpng itself may allocate for ancillary chunks */
    png_set_chunk_malloc_max(png, 8u << 20);
    png_set_chunk_cache_max(png, 1000);
    gs_status st = png_decode(png, info, &c, im);
    png_destroy_read_struct(&png, &info, NULL);
    if (st) memset(im, 0, sizeof *im);
    else *orient = c.orient >= 2 ? c.orient : 0;
    free(c.pixels);
    free(c.rows);
    free(c.out);
    return st;
}

/* ---- JPEG reading ----------------------------------------------------------- */

/* stb_image decodes truncated JPEGs without complaint (missing data reads as
 * zeros), so walk the marker segments and require an end-of-image marker. */
static gs_status jpeg_check_structure(const uint8_t *d, size_t n, const char *name) {
    size_t pos = 2; /* after SOI */
    for (;;) {
        if (pos >= n) break;
        if (d[pos] != 0xFF)
            return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: expected a marker at byte %zu", name, pos);
        while (pos < n && d[pos] == 0xFF) pos++;
        if (pos >= n) break;
        uint8_t m = d[pos++];
        if (m == 0xD9) return GS_OK; /* EOI */
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue; /* no length */
        if (m == 0xD8 || m == 0x00)
            return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: unexpected marker 0x%02X at byte %zu", name, m, pos - 1);
        if (n - pos < 2) break;
        size_t len = (size_t)d[pos] << 8 | d[pos + 1];
        if (len < 2) return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: bad segment length at byte %zu", name, pos);
        if (len > n - pos) break;
        if (m == 0xC4) { /* DHT: stb_image (2022) writes past its tables when a table declares over 256 codes */
            size_t q = pos + 2, end = pos + len;
            while (q < end) {
                if (end - q < 17) return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: short Huffman table at byte %zu", name, q);
                size_t codes = 0;
                for (int i = 1; i <= 16; i++) codes += d[q + i];
                if (codes > 256 || codes > end - q - 17)
                    return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: Huffman table at byte %zu declares %zu codes", name, q, codes);
                q += 17 + codes;
            }
        }
        pos += len;
        if (m == 0xDA) { /* entropy-coded data runs to the next real marker */
            while (pos < n) {
                if (d[pos] != 0xFF) { pos++; continue; }
                if (pos + 1 >= n) { pos = n; break; }
                uint8_t b = d[pos + 1];
                if (b == 0x00 || (b >= 0xD0 && b <= 0xD7)) { pos += 2; continue; }
                break;
            }
        }
    }
    return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: no end-of-image marker (file truncated)", name);
}

/* JPEG pixels come from libjpeg-turbo: Debian's stb_image (2022) reads and
 * writes out of bounds on some hostile Huffman streams (found by fuzz_image).
 * libjpeg errors longjmp back here; warnings (e.g. corrupt data) are errors. */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void jpeg_on_error(j_common_ptr c) {
    jpeg_err *e = (jpeg_err *)c->err;
    (*c->err->format_message)(c, e->msg);
    longjmp(e->jb, 1);
}

static void jpeg_on_message(j_common_ptr c, int level) {
    if (level < 0) jpeg_on_error(c); /* a warning: corrupt or truncated data */
}

static gs_status jpeg_decode(const uint8_t *data, size_t size, const char *name, int w, int h, int *channels, float **out,
                             int *orientation) {
    struct jpeg_decompress_struct ci;
    jpeg_err err;
    float *volatile res = NULL;
    JSAMPLE *volatile row = NULL;
    memset(&err, 0, sizeof err);
    ci.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = jpeg_on_error;
    err.pub.emit_message = jpeg_on_message;
    if (setjmp(err.jb)) {
        jpeg_destroy_decompress(&ci);
        free(res);
        free(row);
        return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: %s", name, err.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, data, (unsigned long)size);
    jpeg_save_markers(&ci, JPEG_APP0 + 1, 0xFFFF); /* APP1: EXIF */
    jpeg_read_header(&ci, TRUE);
    for (jpeg_saved_marker_ptr mk = ci.marker_list; mk; mk = mk->next)
        if (mk->marker == JPEG_APP0 + 1 && mk->data_length > 6 && !memcmp(mk->data, "Exif\0", 6)) {
            *orientation = gs_exif_orientation(mk->data, mk->data_length);
            break;
        }
    if ((int)ci.image_width != w || (int)ci.image_height != h) {
        jpeg_destroy_decompress(&ci);
        return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: inconsistent size", name);
    }
    if (ci.num_components != 1 && ci.num_components != 3) {
        jpeg_destroy_decompress(&ci);
        return gs_error(GS_ERR_UNSUPPORTED, "%s: JPEG with %d components (CMYK?) is not supported", name, ci.num_components);
    }
    ci.out_color_space = ci.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&ci);
    int c = ci.output_components;
    res = gs_malloc((size_t)w * (size_t)h * (size_t)c, sizeof(float), name);
    row = malloc((size_t)w * (size_t)c);
    if (!res || !row) {
        jpeg_destroy_decompress(&ci);
        free(res);
        free(row);
        return gs_error(GS_ERR_NOMEM, "%s: out of memory decoding JPEG", name);
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW rp = row;
        size_t y = ci.output_scanline;
        if (jpeg_read_scanlines(&ci, &rp, 1) != 1) break;
        for (size_t x = 0; x < (size_t)w * c; x++) res[y * (size_t)w * c + x] = (float)row[x] / 255.0f;
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    free(row);
    *channels = c;
    *out = res;
    return GS_OK;
}

static gs_status read_jpeg(const uint8_t *data, size_t size, const char *name, gs_image *im, int *orient_out) {
    if (size > (size_t)INT32_MAX) return gs_error(GS_ERR_FORMAT, "%s: JPEG file too large (%zu bytes)", name, size);
    gs_status st = jpeg_check_structure(data, size, name);
    if (st) return st;
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, (int)size, &w, &h, &comp))
        return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: %s", name, stbi_failure_reason());
    if (!dims_ok(w, h)) return dims_error(name, w, h);
    /* Every 8x8 block of the full-resolution component codes its DC
     * coefficient with at least one bit (Huffman; stb has no arithmetic
     * coding), which bounds the pixel count a file of this size can hold. */
    uint64_t blocks = (uint64_t)((w + 7) / 8) * (uint64_t)((h + 7) / 8);
    if (blocks > (uint64_t)size * 8)
        return gs_error(GS_ERR_FORMAT, "%s: invalid JPEG: %dx%d pixels cannot fit in %zu bytes (file truncated?)",
                        name, w, h, size);
    int c = 0, orient = 0;
    float *out = NULL;
    st = jpeg_decode(data, size, name, w, h, &c, &out, &orient);
    if (st) return st;
    *orient_out = orient >= 2 ? orient : 0;
    im->width = w;
    im->height = h;
    im->channels = c;
    im->bit_depth = 8;
    im->data = out;
    return GS_OK;
}

const char *gs_image_sniff(const uint8_t *d, size_t n) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (!d) return NULL;
    if (n >= 8 && !memcmp(d, png_sig, 8)) return "PNG";
    if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return "JPEG";
    if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) return "WebP";
    /* classic and big TIFF, either byte order */
    if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4) || !memcmp(d, "II+\0", 4) ||
                   !memcmp(d, "MM\0+", 4)))
        return "TIFF";
    if (n >= 14 && d[0] == 'B' && d[1] == 'M') return "BMP";
    return NULL;
}

int gs_image_ext_known(const char *name) {
    static const char *const exts[] = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"};
    const char *dot = name ? strrchr(name, '.') : NULL;
    for (size_t i = 0; dot && i < sizeof exts / sizeof exts[0]; i++)
        if (!strcasecmp(dot, exts[i])) return 1;
    return 0;
}

gs_status gs_image_read_mem_orient(const uint8_t *data, size_t size, const char *name, gs_image *im, int *orient) {
    if (!name) name = "<memory>";
    memset(im, 0, sizeof *im);
    int dummy;
    if (!orient) orient = &dummy;
    *orient = 0;
    if (!data || size == 0) return gs_error(GS_ERR_FORMAT, "%s: not an image (empty file)", name);
    const char *k = gs_image_sniff(data, size);
    if (!k) return gs_error(GS_ERR_FORMAT, "%s: not an image gs reads (" GS_IMAGE_FORMATS ")", name);
    switch (k[0]) {
    case 'P': return read_png(data, size, name, im, orient);
    case 'J': return read_jpeg(data, size, name, im, orient);
    case 'W': return gs_image_read_webp(data, size, name, im, orient);
    case 'T': return gs_image_read_tiff(data, size, name, im, orient);
    default: return gs_image_read_bmp(data, size, name, im);
    }
}

gs_status gs_image_read_mem(const uint8_t *data, size_t size, const char *name, gs_image *im) {
    return gs_image_read_mem_orient(data, size, name, im, NULL);
}

gs_status gs_image_read_orient(const char *path, gs_image *im, int *orient) {
    memset(im, 0, sizeof *im);
    if (orient) *orient = 0;
    uint8_t *data = NULL;
    size_t size = 0;
    gs_status st = gs_read_file(path, IMAGE_MAX_FILE_BYTES, &data, &size);
    if (st) return st;
    st = gs_image_read_mem_orient(data, size, path, im, orient);
    free(data);
    return st;
}

gs_status gs_image_read(const char *path, gs_image *im) { return gs_image_read_orient(path, im, NULL); }

/* ---- PNG writing ------------------------------------------------------------ */

typedef struct {
    const char *path;
    char msg[200];
    uint8_t *row;
    FILE *f;
} png_wctx;

static void png_werr_cb(png_structp png, png_const_charp msg) {
    png_wctx *c = png_get_error_ptr(png);
    int e = errno; /* libpng's "Write Error" hides why fwrite failed */
    if (c->f && ferror(c->f) && e)
        snprintf(c->msg, sizeof c->msg, "%s: %s", msg ? msg : "unknown libpng error", strerror(e));
    else
        snprintf(c->msg, sizeof c->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static unsigned quantize(float v, unsigned maxv) {
    if (!(v > 0.0f)) return 0; /* also NaN */
    if (v >= 1.0f) return maxv;
    return (unsigned)floorf(v * (float)maxv + 0.5f);
}

static gs_status png_encode(png_structp png, png_infop info, png_wctx *c, FILE *f, const gs_image *im, int bit_depth) {
    if (setjmp(png_jmpbuf(png)))
        return gs_error(GS_ERR_IO, "%s: cannot write PNG: %s", c->path, c->msg);
    static const int ctypes[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                  PNG_COLOR_TYPE_RGB_ALPHA};
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)im->width, (png_uint_32)im->height, bit_depth, ctypes[im->channels],
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t rowvals = (size_t)im->width * (size_t)im->channels;
    c->row = gs_malloc(rowvals, (size_t)bit_depth / 8, c->path);
    if (!c->row) return GS_ERR_NOMEM;
    for (int y = 0; y < im->height; y++) {
        const float *src = im->data + (size_t)y * rowvals;
        if (bit_depth == 8) {
            for (size_t i = 0; i < rowvals; i++) c->row[i] = (uint8_t)quantize(src[i], 255);
        } else {
            for (size_t i = 0; i < rowvals; i++) {
                unsigned q = quantize(src[i], 65535);
                c->row[2 * i] = (uint8_t)(q >> 8);
                c->row[2 * i + 1] = (uint8_t)(q & 0xFF);
            }
        }
        png_write_row(png, c->row);
    }
    png_write_end(png, NULL);
    return GS_OK;
}

gs_status gs_image_write_png(const char *path, const gs_image *im, int bit_depth) {
    gs_status st = check_image_arg(im, path);
    if (st) return st;
    if (bit_depth != 8 && bit_depth != 16)
        return gs_error(GS_ERR_INVALID, "%s: PNG bit depth must be 8 or 16, not %d", path, bit_depth);
    gs_afile a;
    st = gs_afile_open(&a, path);
    if (st) return st;
    png_wctx c;
    memset(&c, 0, sizeof c);
    c.path = path;
    c.f = a.f;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &c, png_werr_cb, png_warn_cb);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, NULL);
        gs_afile_abort(&a);
        return gs_error(GS_ERR_NOMEM, "%s: cannot initialise libpng", path);
    }
    st = png_encode(png, info, &c, a.f, im, bit_depth);
    png_destroy_write_struct(&png, &info);
    free(c.row);
    if (st) { gs_afile_abort(&a); return st; }
    return gs_afile_commit(&a);
}

/* ---- EXR depth maps ----------------------------------------------------------- */

gs_status gs_exr_write_depth(const char *path, const float *depth, int width, int height) {
    if (!depth || !dims_ok(width, height))
        return gs_error(GS_ERR_INVALID, "%s: bad depth map (%dx%d)", path, width, height);
    EXRHeader header;
    EXRImage image;
    InitEXRHeader(&header);
    InitEXRImage(&image);
    EXRChannelInfo chan;
    memset(&chan, 0, sizeof chan);
    strcpy(chan.name, "Y");
    int pixel_type = TINYEXR_PIXELTYPE_FLOAT, requested = TINYEXR_PIXELTYPE_FLOAT;
    header.num_channels = 1;
    header.channels = &chan;
    header.pixel_types = &pixel_type;
    header.requested_pixel_types = &requested;
    header.compression_type = TINYEXR_COMPRESSIONTYPE_ZIP; /* lossless, so NaN/Inf bits survive */
    /* tinyexr only reads the pixels; the cast drops const for its API */
    unsigned char *plane = (unsigned char *)(uintptr_t)depth;
    image.images = &plane;
    image.num_channels = 1;
    image.width = width;
    image.height = height;
    unsigned char *mem = NULL;
    const char *err = NULL;
    size_t n = SaveEXRImageToMemory(&image, &header, &mem, &err);
    if (n == 0 || !mem) {
        gs_status st = gs_error(GS_ERR_IO, "%s: cannot encode EXR: %s", path, err ? err : "unknown tinyexr error");
        if (err) FreeEXRErrorMessage(err);
        free(mem);
        return st;
    }
    gs_status st = gs_write_file_atomic(path, mem, n);
    free(mem);
    return st;
}

static const char *exr_err_text(const char *err, int ret) {
    if (err) return err;
    switch (ret) {
    case TINYEXR_ERROR_INVALID_MAGIC_NUMBER: return "bad magic number";
    case TINYEXR_ERROR_INVALID_EXR_VERSION: return "bad version";
    case TINYEXR_ERROR_INVALID_HEADER: return "bad header";
    case TINYEXR_ERROR_UNSUPPORTED_FORMAT: return "unsupported format";
    case TINYEXR_ERROR_UNSUPPORTED_FEATURE: return "unsupported feature";
    default: return "invalid data";
    }
}

/* Debian's tinyexr (1.0.1, built with assertions) aborts the process on a
 * "type" attribute other than "scanlineimage" in a single-part scanline file
 * (fuzz_exr found it): refuse such a file before it parses the header. The
 * header is a list of attributes, each a name, a type name (both
 * NUL-terminated), a u32 little-endian length and the value, ended by an
 * empty name; framing errors are left to tinyexr to report. */
static gs_status exr_check_part_type(const uint8_t *data, size_t size, const char *path) {
    size_t o = 8; /* after the magic and the version */
    while (o < size && data[o]) {
        const size_t nl = strnlen((const char *)data + o, size - o);
        if (nl == size - o) break;
        const size_t t = o + nl + 1;
        const size_t tl = t < size ? strnlen((const char *)data + t, size - t) : 0;
        if (t >= size || tl == size - t || size - (t + tl + 1) < 4) break;
        const size_t l = t + tl + 1, v = l + 4;
        const uint32_t len = (uint32_t)data[l] | (uint32_t)data[l + 1] << 8 | (uint32_t)data[l + 2] << 16 |
                             (uint32_t)data[l + 3] << 24;
        if (len > size - v) break;
        if (nl == 4 && !memcmp(data + o, "type", 4) && len && data[v] &&
            (strnlen((const char *)data + v, len) != 13 || memcmp(data + v, "scanlineimage", 13)))
            return gs_error(GS_ERR_UNSUPPORTED, "%s: EXR part type is not \"scanlineimage\" (tiled, deep and "
                                                "multi-part images are not supported)", path);
        o = v + len;
    }
    return GS_OK;
}

/* Version, part type and header, checked: the size in *w, *h. */
static gs_status exr_parse_header(const uint8_t *data, size_t size, const char *path, EXRHeader *header, int64_t *wp,
                                  int64_t *hp) {
    EXRVersion version;
    const char *err = NULL;
    int ret = ParseEXRVersionFromMemory(&version, data, size);
    if (ret != TINYEXR_SUCCESS)
        return gs_error(GS_ERR_FORMAT, "%s: not an EXR file (%s)", path, exr_err_text(NULL, ret));
    if (version.multipart || version.non_image || version.tiled)
        return gs_error(GS_ERR_UNSUPPORTED, "%s: multi-part, deep and tiled EXR files are not supported", path);
    gs_status st0 = exr_check_part_type(data, size, path);
    if (st0) return st0;
    ret = ParseEXRHeaderFromMemory(header, &version, data, size, &err);
    if (ret != TINYEXR_SUCCESS) {
        gs_status st = gs_error(GS_ERR_FORMAT, "%s: invalid EXR header: %s", path, exr_err_text(err, ret));
        if (err) FreeEXRErrorMessage(err);
        return st;
    }
    int64_t w = (int64_t)header->data_window.max_x - header->data_window.min_x + 1;
    int64_t h = (int64_t)header->data_window.max_y - header->data_window.min_y + 1;
    if (!dims_ok(w, h)) return dims_error(path, w, h);
    if (header->num_channels < 1) return gs_error(GS_ERR_FORMAT, "%s: EXR file has no channels", path);
    /* tinyexr takes any pixel type from the channel list (its decoders
     * assert on unknown ones; its channel layout step fails on them first,
     * as "Failed to compute channel layout"): say what is wrong */
    for (int i = 0; i < header->num_channels; i++)
        if (header->pixel_types[i] != TINYEXR_PIXELTYPE_UINT && header->pixel_types[i] != TINYEXR_PIXELTYPE_HALF &&
            header->pixel_types[i] != TINYEXR_PIXELTYPE_FLOAT)
            return gs_error(GS_ERR_FORMAT, "%s: EXR channel %d has unknown pixel type %d", path, i,
                            header->pixel_types[i]);
    if (header->tiled) return gs_error(GS_ERR_UNSUPPORTED, "%s: tiled EXR files are not supported", path);
    *wp = w;
    *hp = h;
    return GS_OK;
}

static gs_status exr_decode(const uint8_t *data, size_t size, const char *path, EXRHeader *header, EXRImage *image,
                            float **out, int *width, int *height) {
    int64_t w, h;
    const char *err = NULL;
    gs_status st0 = exr_parse_header(data, size, path, header, &w, &h);
    if (st0) return st0;
    int ret;
    /* scanline codecs other than PIZ are byte-level deflate/RLE/raw: the
     * deflate ratio bounds the pixel count the file can hold */
    if (header->compression_type != TINYEXR_COMPRESSIONTYPE_PIZ &&
        (uint64_t)w * (uint64_t)h * 2 / DEFLATE_MAX_RATIO > size)
        return gs_error(GS_ERR_FORMAT, "%s: EXR declares %lldx%lld pixels, more than %zu bytes can hold (truncated?)",
                        path, (long long)w, (long long)h, size);
    int pick = 0;
    for (int i = 0; i < header->num_channels; i++)
        if (strcmp(header->channels[i].name, "Y") == 0) { pick = i; break; }
    for (int i = 0; i < header->num_channels; i++)
        if (header->pixel_types[i] == TINYEXR_PIXELTYPE_HALF) header->requested_pixel_types[i] = TINYEXR_PIXELTYPE_FLOAT;
    /* On corrupt pixel data tinyexr (1.0.1) frees the image itself, but
     * before it has set num_channels, so the planes would leak; and it leaves
     * the freed pointers behind. Presetting num_channels makes its cleanup
     * complete, and re-initialising afterwards stops a second free. */
    image->num_channels = header->num_channels;
    ret = LoadEXRImageFromMemory(image, header, data, size, &err);
    if (ret != TINYEXR_SUCCESS) {
        InitEXRImage(image);
        gs_status st = gs_error(GS_ERR_FORMAT, "%s: invalid EXR data: %s", path, exr_err_text(err, ret));
        if (err) FreeEXRErrorMessage(err);
        return st;
    }
    if (!image->images || image->width != w || image->height != h || image->num_channels != header->num_channels)
        return gs_error(GS_ERR_FORMAT, "%s: EXR decoder returned an unexpected layout", path);
    size_t n = (size_t)w * (size_t)h;
    float *d = gs_malloc(n, sizeof(float), path);
    if (!d) return GS_ERR_NOMEM;
    const unsigned char *src = image->images[pick];
    if (header->requested_pixel_types[pick] == TINYEXR_PIXELTYPE_UINT) {
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, src + 4 * i, 4);
            d[i] = (float)u;
        }
    } else {
        memcpy(d, src, n * sizeof(float));
    }
    *out = d;
    *width = (int)w;
    *height = (int)h;
    return GS_OK;
}

gs_status gs_exr_read_depth_mem(const uint8_t *data, size_t size, const char *name, float **out, int *width,
                                int *height) {
    *out = NULL;
    *width = *height = 0;
    if (!name) name = "<exr>";
    if (!data || !size) return gs_error(GS_ERR_FORMAT, "%s: empty file (not an EXR file)", name);
    EXRHeader header;
    EXRImage image;
    InitEXRHeader(&header);
    InitEXRImage(&image);
    gs_status st = exr_decode(data, size, name, &header, &image, out, width, height);
    FreeEXRImage(&image);
    FreeEXRHeader(&header);
    if (st) {
        free(*out);
        *out = NULL;
        *width = *height = 0;
    }
    return st;
}

gs_status gs_exr_info(const char *path, int *width, int *height, int *channels) {
    *width = *height = 0;
    uint8_t *data = NULL;
    size_t size = 0;
    gs_status st = gs_read_file(path, EXR_MAX_FILE_BYTES, &data, &size);
    if (st) return st;
    EXRHeader header;
    InitEXRHeader(&header);
    int64_t w = 0, h = 0;
    st = size ? exr_parse_header(data, size, path, &header, &w, &h)
              : gs_error(GS_ERR_FORMAT, "%s: empty file (not an EXR file)", path);
    if (!st) {
        *width = (int)w;
        *height = (int)h;
        if (channels) *channels = header.num_channels;
    }
    FreeEXRHeader(&header);
    free(data);
    return st;
}

gs_status gs_exr_read_depth(const char *path, float **out, int *width, int *height) {
    *out = NULL;
    *width = *height = 0;
    uint8_t *data = NULL;
    size_t size = 0;
    gs_status st = gs_read_file(path, EXR_MAX_FILE_BYTES, &data, &size);
    if (st) return st;
    st = gs_exr_read_depth_mem(data, size, path, out, width, height);
    free(data);
    return st;
}

/* ---- turbo colormap and colourising ------------------------------------------------ */

void gs_turbo(float t, float rgb[3]) {
    /* Degree-5 polynomial fit of Google's Turbo colormap (colormap by Anton
     * Mikhailov, 2019; the published GLSL polynomial approximation by Ruofei
     * Du). The coefficients are the fit's constants, lowest degree first. The
     * fit is within ~0.13 of the original 256-entry table (worst at the ends). */
    static const double k[3][6] = {
        {0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943},
        {0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604},
        {0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973},
    };
    double x = t > 0.0f ? (t < 1.0f ? (double)t : 1.0) : 0.0; /* NaN -> 0 */
    for (int c = 0; c < 3; c++) {
        double v = k[c][5];
        for (int i = 4; i >= 0; i--) v = v * x + k[c][i];
        rgb[c] = (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
    }
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* linear interpolation between order statistics, like numpy's default */
static float percentile_sorted(const float *s, size_t n, double p) {
    double pos = p * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n) return s[n - 1];
    double f = pos - (double)i;
    return (float)((double)s[i] + f * ((double)s[i + 1] - (double)s[i]));
}

static float colorize_map(float v, int inverse) {
    if (!isfinite(v)) return NAN;
    if (!inverse) return v;
    if (!(v > 0.0f)) return NAN;
    float r = 1.0f / v;
    return isfinite(r) ? r : NAN;
}

int gs_depth_colour_range(const float *depth, const float *alpha, size_t n, float *lo, float *hi) {
    float *inv = gs_malloc(n ? n : 1, sizeof(float), "depth range");
    if (!inv) return 0;
    size_t m = 0;
    for (size_t i = 0; alpha && i < n; i++) { /* the covered pixels */
        float x = colorize_map(depth[i], 1);
        if (!isnan(x) && alpha[i] > 0.5f) inv[m++] = x;
    }
    if (m * 100 < n) { /* under 1% covered (or no alpha): every finite pixel */
        m = 0;
        for (size_t i = 0; i < n; i++) {
            float x = colorize_map(depth[i], 1);
            if (!isnan(x)) inv[m++] = x;
        }
    }
    int ok = m > 0;
    if (ok) {
        qsort(inv, m, sizeof(float), cmp_float);
        double a = percentile_sorted(inv, m, 0.02), b = percentile_sorted(inv, m, 0.98), span = b - a;
        if (!(span > 0)) span = 0.1 * a + 1e-6;
        a = fmax(a - 0.1 * span, 0.5 * a);
        b += 0.1 * span;
        *lo = (float)(1.0 / b);
        *hi = (float)(1.0 / a);
        ok = *lo > 0 && *hi > *lo && isfinite(*hi);
    }
    free(inv);
    return ok;
}

/* lo/hi are in the units of v; with inverse the range becomes [1/hi, 1/lo]
 * in the mapped (1/v) space, so near (large 1/v) ends warm. */
gs_status gs_colorize(const float *v, int width, int height, float lo, float hi, int inverse, gs_image *out) {
    memset(out, 0, sizeof *out);
    if (!v || !dims_ok(width, height)) return gs_error(GS_ERR_INVALID, "colorize: bad input map (%dx%d)", width, height);
    size_t n = (size_t)width * (size_t)height;
    double a, b;
    int have_range = 1;
    if (lo < hi) {
        if (!isfinite(lo) || !isfinite(hi))
            return gs_error(GS_ERR_INVALID, "colorize: range [%g, %g] is not finite", (double)lo, (double)hi);
        if (inverse && !(lo > 0.0f))
            return gs_error(GS_ERR_INVALID, "colorize: inverse mapping needs lo > 0 (got %g)", (double)lo);
        a = inverse ? 1.0 / hi : lo;
        b = inverse ? 1.0 / lo : hi;
    } else {
        float *vals = gs_malloc(n, sizeof(float), "colorize values");
        if (!vals) return GS_ERR_NOMEM;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            float x = colorize_map(v[i], inverse);
            if (!isnan(x)) vals[m++] = x;
        }
        a = b = 0.0;
        have_range = m > 0;
        if (m) {
            qsort(vals, m, sizeof(float), cmp_float);
            a = percentile_sorted(vals, m, 0.02);
            b = percentile_sorted(vals, m, 0.98);
        }
        free(vals);
    }
    gs_status st = gs_image_alloc(out, width, height, 3);
    if (st) return st;
    if (!have_range) return GS_OK; /* nothing finite: all black */
    double scale = b > a ? 1.0 / (b - a) : 0.0;
    for (size_t i = 0; i < n; i++) {
        float x = colorize_map(v[i], inverse);
        if (isnan(x)) continue; /* stays black */
        float t = scale > 0.0 ? (float)(((double)x - a) * scale) : 0.5f;
        gs_turbo(t, out->data + 3 * i);
    }
    return GS_OK;
}

/* ---- compositing --------------------------------------------------------------- */

gs_status gs_image_composite(const gs_image *rgba, const float bg[3], gs_image *rgb) {
    gs_status st = check_image_arg(rgba, "composite");
    if (st) return st;
    if (!bg) return gs_error(GS_ERR_INVALID, "composite: no background colour");
    gs_image res;
    st = gs_image_alloc(&res, rgba->width, rgba->height, 3);
    if (st) return st;
    res.bit_depth = rgba->bit_depth;
    size_t n = (size_t)rgba->width * (size_t)rgba->height;
    const float *s = rgba->data;
    float *d = res.data;
    int ch = rgba->channels;
    for (size_t i = 0; i < n; i++, s += ch, d += 3) {
        switch (ch) {
        case 1: d[0] = d[1] = d[2] = s[0]; break;
        case 2:
            for (int c = 0; c < 3; c++) d[c] = s[0] * s[1] + bg[c] * (1.0f - s[1]);
            break;
        case 3: d[0] = s[0]; d[1] = s[1]; d[2] = s[2]; break;
        default:
            for (int c = 0; c < 3; c++) d[c] = s[c] * s[3] + bg[c] * (1.0f - s[3]);
            break;
        }
    }
    if (rgb == rgba) gs_image_free(rgb); /* in place: the input goes */
    *rgb = res;
    return GS_OK;
}
