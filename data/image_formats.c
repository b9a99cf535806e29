/* image_formats.c - WebP, TIFF and BMP photos (image_formats.h), and the EXIF
 * orientation of a photo.
 *
 * WebP: libwebp (still images; an animation is refused). TIFF: libtiff, the
 * first page; 8- and 16-bit grey/RGB with or without alpha are read sample
 * by sample (16 bits kept, unassociated alpha as stored), everything else
 * libtiff's RGBA reader understands (palette, 1/2/4-bit, YCbCr/JPEG, CMYK,
 * separate planes) through it at 8 bits; floating-point and signed samples
 * are refused. BMP: stb_image (our build, data/stb_impl.c): uncompressed
 * 1..32-bit files; RLE is refused. Rows are always in the order they are
 * stored: an Orientation tag is reported (gs_image_read_orient), never
 * applied (as the official DA3 code, PIL's Image.open, does). */
#include "data/image_formats.h"

#include <libexif/exif-data.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <stb_image.h>
#include <tiffio.h>
#include <webp/decode.h>
#include <webp/demux.h>

/* ---- EXIF ------------------------------------------------------------------- */

int gs_exif_orientation(const uint8_t *exif, size_t n) {
    static const uint8_t hdr[6] = {'E', 'x', 'i', 'f', 0, 0};
    if (!exif || n < 8 || n > ((size_t)1 << 24)) return 0;
    /* libexif wants the "Exif\0\0" header before the TIFF structure */
    uint8_t *buf = NULL;
    const uint8_t *d = exif;
    size_t dn = n;
    if (memcmp(exif, hdr, 6) != 0) {
        if (!(buf = malloc(n + 6))) return 0;
        memcpy(buf, hdr, 6);
        memcpy(buf + 6, exif, n);
        d = buf;
        dn = n + 6;
    }
    int o = 0;
    ExifData *ed = exif_data_new();
    if (ed) {
        /* as the file says: no tags made up or dropped to "fix" it */
        exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
        exif_data_load_data(ed, d, (unsigned int)dn);
        ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
        if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->data && e->size >= 2) {
            unsigned v = exif_get_short(e->data, exif_data_get_byte_order(ed));
            o = v >= 1 && v <= 8 ? (int)v : 0;
        }
        exif_data_unref(ed);
    }
    free(buf);
    return o;
}

/* ---- WebP ------------------------------------------------------------------- */

static const char *webp_status_text(VP8StatusCode s) {
    switch (s) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data (file truncated?)";
    default: return "invalid data";
    }
}

gs_status gs_image_read_webp(const uint8_t *data, size_t size, const char *name, gs_image *im, int *orient_out) {
    memset(im, 0, sizeof *im);
    WebPBitstreamFeatures f;
    VP8StatusCode s = WebPGetFeatures(data, size, &f);
    if (s != VP8_STATUS_OK) return gs_error(GS_ERR_FORMAT, "%s: invalid WebP: %s", name, webp_status_text(s));
    if (f.has_animation)
        return gs_error(GS_ERR_UNSUPPORTED, "%s: animated WebP is not supported (extract a frame first)", name);
    if (!gs_image_dims_ok(f.width, f.height)) return gs_image_dims_error(name, f.width, f.height);
    const int ch = f.has_alpha ? 4 : 3;
    const size_t n = (size_t)f.width * (size_t)f.height * (size_t)ch;
    uint8_t *px = gs_malloc(n, 1, name);
    if (!px) return GS_ERR_NOMEM;
    const int stride = f.width * ch;
    uint8_t *ok = ch == 4 ? WebPDecodeRGBAInto(data, size, px, n, stride) : WebPDecodeRGBInto(data, size, px, n, stride);
    if (!ok) {
        free(px);
        return gs_error(GS_ERR_FORMAT, "%s: invalid WebP: the image data does not decode (corrupt or truncated)", name);
    }
    float *out = gs_malloc(n, sizeof(float), name);
    if (!out) {
        free(px);
        return GS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) out[i] = (float)px[i] / 255.0f;
    free(px);
    int orient = 0;
    WebPData wd = {data, size};
    WebPDemuxer *dm = WebPDemux(&wd);
    if (dm) {
        WebPChunkIterator it;
        if (WebPDemuxGetChunk(dm, "EXIF", 1, &it)) {
            orient = gs_exif_orientation(it.chunk.bytes, it.chunk.size);
            WebPDemuxReleaseChunkIterator(&it);
        }
        WebPDemuxDelete(dm);
    }
    im->width = f.width;
    im->height = f.height;
    im->channels = ch;
    im->bit_depth = 8;
    *orient_out = orient >= 2 ? orient : 0;
    im->data = out;
    return GS_OK;
}

gs_status gs_image_info_webp(FILE *f, const char *name, int *w, int *h, int *c) {
    uint8_t head[4096]; /* the VP8X/VP8/VP8L header is in the first chunk */
    rewind(f);
    size_t got = fread(head, 1, sizeof head, f);
    WebPBitstreamFeatures ft;
    VP8StatusCode s = WebPGetFeatures(head, got, &ft);
    if (s != VP8_STATUS_OK) return gs_error(GS_ERR_FORMAT, "%s: invalid WebP: %s", name, webp_status_text(s));
    if (!gs_image_dims_ok(ft.width, ft.height)) return gs_image_dims_error(name, ft.width, ft.height);
    *w = ft.width;
    *h = ft.height;
    if (c) *c = ft.has_alpha ? 4 : 3;
    return GS_OK;
}

/* ---- TIFF ------------------------------------------------------------------- */

/* libtiff reads through these from a buffer or a FILE (the header probe). */
typedef struct {
    const uint8_t *data;
    FILE *f;
    uint64_t size, pos;
    char msg[256]; /* libtiff's first error */
} tiff_src;

static tmsize_t tf_read(thandle_t h, void *buf, tmsize_t n) {
    tiff_src *s = h;
    if (n <= 0) return 0;
    if (s->f) {
        size_t got = fread(buf, 1, (size_t)n, s->f);
        s->pos += got;
        return (tmsize_t)got;
    }
    uint64_t k = s->pos < s->size ? s->size - s->pos : 0;
    if ((uint64_t)n < k) k = (uint64_t)n;
    memcpy(buf, s->data + s->pos, (size_t)k);
    s->pos += k;
    return (tmsize_t)k;
}

static tmsize_t tf_write(thandle_t h, void *buf, tmsize_t n) {
    (void)h, (void)buf, (void)n;
    return -1;
}

static toff_t tf_seek(thandle_t h, toff_t off, int whence) {
    tiff_src *s = h;
    uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->size : 0;
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return (toff_t)-1;
    /* off is unsigned; libtiff passes negative SEEK_CUR/END offsets wrapped */
    uint64_t p = base + (uint64_t)off;
    if (p > s->size || p > (uint64_t)INT64_MAX) return (toff_t)-1;
    if (s->f && fseeko(s->f, (off_t)p, SEEK_SET) != 0) return (toff_t)-1;
    s->pos = p;
    return (toff_t)p;
}

static int tf_close(thandle_t h) {
    (void)h;
    return 0;
}

static toff_t tf_size(thandle_t h) { return ((tiff_src *)h)->size; }

static int tf_map(thandle_t h, void **base, toff_t *size) {
    (void)h, (void)base, (void)size;
    return 0;
}

static void tf_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

static int tf_on_error(TIFF *t, void *ud, const char *module, const char *fmt, va_list ap) {
    (void)t, (void)module;
    tiff_src *s = ud;
    if (!s->msg[0]) vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    return 1; /* handled: nothing on stderr */
}

static int tf_on_warning(TIFF *t, void *ud, const char *module, const char *fmt, va_list ap) {
    (void)t, (void)ud, (void)module, (void)fmt, (void)ap;
    return 1; /* unknown tags and the like are not our business */
}

static TIFF *tiff_open(tiff_src *s, const char *name) {
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, tf_on_error, s);
    TIFFOpenOptionsSetWarningHandlerExtR(o, tf_on_warning, s);
    TIFFOpenOptionsSetMaxSingleMemAlloc(o, (tmsize_t)256 << 20); /* one strip, tile or table */
    /* "m": no mapping (reads go through tf_read); the first directory is read */
    TIFF *t = TIFFClientOpenExt(name, "rm", (thandle_t)s, tf_read, tf_write, tf_seek, tf_close, tf_size, tf_map,
                                tf_unmap, o);
    TIFFOpenOptionsFree(o);
    return t;
}

static gs_status tiff_error(const tiff_src *s, const char *name, const char *what) {
    return gs_error(GS_ERR_FORMAT, "%s: invalid TIFF: %s%s%s", name, what, s->msg[0] ? ": " : "", s->msg);
}

typedef struct {
    uint32_t w, h;
    uint16_t spp, bps, fmt, photo, planar, orient, extra;
} tiff_desc;

static gs_status tiff_describe(TIFF *t, const tiff_src *s, const char *name, tiff_desc *d) {
    memset(d, 0, sizeof *d);
    uint16_t n_extra = 0, *extra = NULL;
    if (!TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &d->w) || !TIFFGetField(t, TIFFTAG_IMAGELENGTH, &d->h))
        return tiff_error(s, name, "no image size");
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &d->spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &d->bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &d->fmt);
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &d->planar);
    TIFFGetFieldDefaulted(t, TIFFTAG_ORIENTATION, &d->orient);
    if (TIFFGetField(t, TIFFTAG_EXTRASAMPLES, &n_extra, &extra) && n_extra && extra) d->extra = extra[0];
    if (!TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &d->photo))
        d->photo = d->spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    if (!gs_image_dims_ok(d->w, d->h)) return gs_image_dims_error(name, d->w, d->h);
    if (d->fmt == SAMPLEFORMAT_IEEEFP)
        return gs_error(GS_ERR_UNSUPPORTED, "%s: TIFF with %u-bit floating-point samples is not supported (save it "
                        "with 8- or 16-bit integer samples)", name, d->bps);
    if (d->fmt != SAMPLEFORMAT_UINT && d->fmt != SAMPLEFORMAT_VOID)
        return gs_error(GS_ERR_UNSUPPORTED, "%s: TIFF with signed or complex samples is not supported (save it "
                        "with 8- or 16-bit unsigned samples)", name);
    if (d->spp < 1) return tiff_error(s, name, "no samples per pixel");
    return GS_OK;
}

/* 8/16-bit grey or RGB (+ alpha), interleaved: the samples as they are. */
static int tiff_plain(const tiff_desc *d) {
    int grey = d->photo == PHOTOMETRIC_MINISBLACK || d->photo == PHOTOMETRIC_MINISWHITE;
    return (d->bps == 8 || d->bps == 16) && (d->planar == PLANARCONFIG_CONTIG || d->spp == 1) &&
           ((grey && d->spp <= 2) || (d->photo == PHOTOMETRIC_RGB && (d->spp == 3 || d->spp == 4)));
}

/* One row or tile of samples into the float image. */
static void tiff_put(const tiff_desc *d, const uint8_t *src, size_t n_px, float *dst) {
    const size_t n = n_px * d->spp;
    const int invert = d->photo == PHOTOMETRIC_MINISWHITE;
    for (size_t i = 0; i < n; i++) {
        float v = d->bps == 8 ? (float)src[i] / 255.0f : (float)((const uint16_t *)(const void *)src)[i] / 65535.0f;
        dst[i] = invert && i % d->spp == 0 ? 1.0f - v : v;
    }
}

static gs_status tiff_read_plain(TIFF *t, const tiff_src *s, const char *name, const tiff_desc *d, float *out) {
    const size_t bpp = (size_t)d->spp * (d->bps / 8), row = (size_t)d->w * d->spp;
    gs_status st = GS_OK;
    if (TIFFIsTiled(t)) {
        uint32_t tw = 0, th = 0;
        if (!TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw) || !TIFFGetField(t, TIFFTAG_TILELENGTH, &th) || !tw || !th)
            return tiff_error(s, name, "no tile size");
        tmsize_t ts = TIFFTileSize(t);
        if (ts <= 0 || (uint64_t)ts < (uint64_t)tw * th * bpp) return tiff_error(s, name, "bad tile size");
        uint8_t *buf = gs_malloc((size_t)ts, 1, name);
        if (!buf) return GS_ERR_NOMEM;
        for (uint32_t y = 0; !st && y < d->h; y += th)
            for (uint32_t x = 0; !st && x < d->w; x += tw) {
                if (TIFFReadTile(t, buf, x, y, 0, 0) < 0) { st = tiff_error(s, name, "cannot read a tile"); break; }
                uint32_t cw = d->w - x < tw ? d->w - x : tw, chh = d->h - y < th ? d->h - y : th;
                for (uint32_t r = 0; r < chh; r++)
                    tiff_put(d, buf + (size_t)r * tw * bpp, cw, out + ((size_t)(y + r) * d->w + x) * d->spp);
            }
        free(buf);
        return st;
    }
    tmsize_t ls = TIFFScanlineSize(t);
    if (ls <= 0 || (uint64_t)ls < (uint64_t)d->w * bpp) return tiff_error(s, name, "bad row size");
    uint8_t *buf = gs_malloc((size_t)ls, 1, name);
    if (!buf) return GS_ERR_NOMEM;
    for (uint32_t y = 0; y < d->h; y++) {
        if (TIFFReadScanline(t, buf, y, 0) < 0) { st = tiff_error(s, name, "cannot read the image data"); break; }
        tiff_put(d, buf, d->w, out + (size_t)y * row);
    }
    free(buf);
    return st;
}

/* Anything else libtiff can turn into 8-bit RGBA, rows as stored. */
static gs_status tiff_read_rgba(TIFF *t, const tiff_src *s, const char *name, const tiff_desc *d, int ch, float *out) {
    char why[1024] = "";
    if (!TIFFRGBAImageOK(t, why))
        return gs_error(GS_ERR_UNSUPPORTED, "%s: TIFF layout not supported (%u-bit, %u samples, photometric %u): %s",
                        name, d->bps, d->spp, d->photo, why);
    const size_t np = (size_t)d->w * d->h;
    uint32_t *px = gs_malloc(np, sizeof(uint32_t), name);
    if (!px) return GS_ERR_NOMEM;
    /* asking for the file's own orientation means no flips */
    int orient = d->orient >= 1 && d->orient <= 8 ? d->orient : ORIENTATION_TOPLEFT;
    if (!TIFFReadRGBAImageOriented(t, d->w, d->h, px, orient, 1)) {
        free(px);
        return tiff_error(s, name, "cannot read the image data");
    }
    for (size_t i = 0; i < np; i++) {
        const uint32_t p = px[i];
        const float c[4] = {TIFFGetR(p) / 255.0f, TIFFGetG(p) / 255.0f, TIFFGetB(p) / 255.0f, TIFFGetA(p) / 255.0f};
        if (ch == 3 || ch == 4)
            for (int k = 0; k < ch; k++) out[i * ch + k] = c[k];
        else { /* grey (+ alpha) */
            out[i * ch] = c[0];
            if (ch == 2) out[i * ch + 1] = c[3];
        }
    }
    free(px);
    return GS_OK;
}

/* Channels gs returns for a TIFF. */
static int tiff_channels(const tiff_desc *d) {
    if (tiff_plain(d)) return d->spp;
    int grey = (d->photo == PHOTOMETRIC_MINISBLACK || d->photo == PHOTOMETRIC_MINISWHITE);
    int alpha = d->extra == EXTRASAMPLE_ASSOCALPHA || d->extra == EXTRASAMPLE_UNASSALPHA;
    return grey ? (alpha ? 2 : 1) : (alpha ? 4 : 3);
}

gs_status gs_image_read_tiff(const uint8_t *data, size_t size, const char *name, gs_image *im, int *orient) {
    memset(im, 0, sizeof *im);
    tiff_src s;
    memset(&s, 0, sizeof s);
    s.data = data;
    s.size = size;
    TIFF *t = tiff_open(&s, name);
    if (!t) return tiff_error(&s, name, "cannot read the header");
    tiff_desc d;
    gs_status st = tiff_describe(t, &s, name, &d);
    uint16_t comp = COMPRESSION_NONE;
    TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &comp);
    /* uncompressed pixels need their bytes (1 bit a sample at the least) */
    if (!st && comp == COMPRESSION_NONE && (uint64_t)d.w * d.h * d.spp * (d.bps ? d.bps : 1) / 8 > size)
        st = gs_error(GS_ERR_FORMAT, "%s: invalid TIFF: %ux%u pixels cannot fit in %zu bytes (file truncated?)", name,
                      d.w, d.h, size);
    const int ch = st ? 0 : tiff_channels(&d);
    float *out = NULL;
    if (!st && !(out = gs_malloc((size_t)d.w * d.h, (size_t)ch * sizeof(float), name))) st = GS_ERR_NOMEM;
    if (!st) st = tiff_plain(&d) ? tiff_read_plain(t, &s, name, &d, out) : tiff_read_rgba(t, &s, name, &d, ch, out);
    TIFFClose(t);
    if (st) {
        free(out);
        return st;
    }
    im->width = (int)d.w;
    im->height = (int)d.h;
    im->channels = ch;
    im->bit_depth = tiff_plain(&d) ? d.bps : 8;
    *orient = d.orient >= 2 && d.orient <= 8 ? d.orient : 0;
    im->data = out;
    return GS_OK;
}

static gs_status tiff_info(tiff_src *src, const char *name, int *w, int *h, int *c) {
    tiff_src s = *src;
    TIFF *t = tiff_open(&s, name);
    if (!t) return tiff_error(&s, name, "cannot read the header");
    tiff_desc d;
    gs_status st = tiff_describe(t, &s, name, &d);
    TIFFClose(t);
    if (st) return st;
    *w = (int)d.w;
    *h = (int)d.h;
    if (c) *c = tiff_channels(&d);
    return GS_OK;
}

gs_status gs_image_info_tiff(FILE *f, const char *name, int *w, int *h, int *c) {
    tiff_src s;
    memset(&s, 0, sizeof s);
    s.f = f;
    if (fseeko(f, 0, SEEK_END) != 0) return gs_error(GS_ERR_IO, "%s: cannot seek", name);
    off_t end = ftello(f);
    if (end < 0 || fseeko(f, 0, SEEK_SET) != 0) return gs_error(GS_ERR_IO, "%s: cannot seek", name);
    s.size = (uint64_t)end;
    return tiff_info(&s, name, w, h, c);
}

gs_status gs_image_info_tiff_mem(const uint8_t *data, size_t size, const char *name, int *w, int *h, int *c) {
    tiff_src s;
    memset(&s, 0, sizeof s);
    s.data = data;
    s.size = size;
    return tiff_info(&s, name, w, h, c);
}

/* ---- BMP -------------------------------------------------------------------- */

gs_status gs_image_read_bmp(const uint8_t *data, size_t size, const char *name, gs_image *im) {
    memset(im, 0, sizeof *im);
    if (size > (size_t)INT32_MAX) return gs_error(GS_ERR_FORMAT, "%s: BMP file too large (%zu bytes)", name, size);
    int w = 0, h = 0, c = 0;
    if (!stbi_info_from_memory(data, (int)size, &w, &h, &c))
        return gs_error(GS_ERR_FORMAT, "%s: invalid BMP: %s", name, stbi_failure_reason());
    if (!gs_image_dims_ok(w, h)) return gs_image_dims_error(name, w, h);
    /* stb reads uncompressed BMPs only, and reads zeros past the end of a
     * cut file: the rows (4-byte aligned) must all be there after the
     * pixel-data offset */
    const uint32_t off = (uint32_t)data[10] | (uint32_t)data[11] << 8 | (uint32_t)data[12] << 16 | (uint32_t)data[13] << 24;
    const uint32_t hsz = size >= 18 ? (uint32_t)data[14] | (uint32_t)data[15] << 8 | (uint32_t)data[16] << 16 |
                                          (uint32_t)data[17] << 24 : 0;
    const size_t bpp_at = hsz == 12 ? 24 : 28;
    const unsigned bpp = size >= bpp_at + 2 ? (unsigned)data[bpp_at] | (unsigned)data[bpp_at + 1] << 8 : 0;
    const uint64_t stride = ((uint64_t)w * (bpp ? bpp : 1) + 31) / 32 * 4;
    if ((uint64_t)off + stride * (uint64_t)h > size)
        return gs_error(GS_ERR_FORMAT, "%s: invalid BMP: %dx%d pixels of %u bits from byte %u need more than the %zu "
                        "bytes of the file (truncated?)", name, w, h, bpp, off, size);
    uint8_t *px = stbi_load_from_memory(data, (int)size, &w, &h, &c, 0);
    if (!px) return gs_error(GS_ERR_FORMAT, "%s: invalid BMP: %s", name, stbi_failure_reason());
    if (c < 1 || c > 4 || !gs_image_dims_ok(w, h)) {
        stbi_image_free(px);
        return gs_error(GS_ERR_FORMAT, "%s: invalid BMP: unexpected layout", name);
    }
    const size_t n = (size_t)w * (size_t)h * (size_t)c;
    float *out = gs_malloc(n, sizeof(float), name);
    if (!out) {
        stbi_image_free(px);
        return GS_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) out[i] = (float)px[i] / 255.0f;
    stbi_image_free(px);
    im->width = w;
    im->height = h;
    im->channels = c;
    im->bit_depth = 8;
    im->data = out;
    return GS_OK;
}
