/* image.h - image files in and out.
 *
 * In:  PNG (8/16-bit; gray, gray+alpha, RGB, RGBA, palette) through libpng,
 *      JPEG through libjpeg-turbo, WebP through libwebp, TIFF (8/16-bit, and
 *      what libtiff's RGBA reader takes) through libtiff, BMP through
 *      stb_image. Pixels become float32 in [0,1], interleaved HWC, rows as
 *      stored: an EXIF orientation is reported, not applied (as DA3/PIL).
 * Out: PNG 8-bit (and 16-bit) through libpng, float EXR (depth maps) through
 *      tinyexr, and a colourised depth PNG (turbo colormap).
 * All writers are atomic (temporary file + rename). Images are untrusted:
 * dimensions are bounded (GS_IMAGE_MAX_DIM per side, GS_IMAGE_MAX_PIXELS). */
#ifndef GS_DATA_IMAGE_H
#define GS_DATA_IMAGE_H

#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GS_IMAGE_MAX_DIM 32768
#define GS_IMAGE_MAX_PIXELS ((int64_t)1 << 28)

typedef struct {
    int width, height, channels; /* channels: 1, 2, 3 or 4 */
    int bit_depth;               /* of the source file: 8 or 16 (32 for float) */
    float *data;                 /* height*width*channels, row-major HWC, [0,1] */
} gs_image;

/* The formats gs reads, for messages. */
#define GS_IMAGE_FORMATS "PNG, JPEG, WebP, TIFF, BMP"
/* The format of an image from its first bytes (16 are enough): "PNG",
 * "JPEG", "WebP", "TIFF", "BMP", or NULL. */
const char *gs_image_sniff(const uint8_t *head, size_t n);
/* A name ending in an extension of a format gs reads (.png .jpg .jpeg .webp
 * .bmp .tif .tiff, any case). */
int gs_image_ext_known(const char *name);
/* What a viewer does to the stored pixels for an EXIF orientation (2..8), in
 * words ("rotate it 90 degrees clockwise"). */
const char *gs_image_orientation_name(int orientation);

/* Allocate a zeroed image. */
gs_status gs_image_alloc(gs_image *im, int width, int height, int channels);
void gs_image_free(gs_image *im);

/* Read any of GS_IMAGE_FORMATS (detected by content, not extension). */
gs_status gs_image_read(const char *path, gs_image *im);
gs_status gs_image_read_mem(const uint8_t *data, size_t size, const char *name, gs_image *im);
/* The same, and the file's EXIF (JPEG, PNG, WebP) or TIFF Orientation in
 * *orientation when it is 2..8 (0 when upright or absent). It is never
 * applied: the rows are as stored, as DA3 reads photos (PIL, no
 * exif_transpose). */
gs_status gs_image_read_orient(const char *path, gs_image *im, int *orientation);
gs_status gs_image_read_mem_orient(const uint8_t *data, size_t size, const char *name, gs_image *im, int *orientation);

/* Width, height and channel count from the file header, without decoding. */
gs_status gs_image_info(const char *path, int *width, int *height, int *channels);
/* The same from a buffer holding the file (or at least its header). */
gs_status gs_image_info_mem(const uint8_t *data, size_t size, const char *name, int *width, int *height,
                            int *channels);

/* Write a PNG; values are clamped to [0,1] and rounded. bit_depth 8 or 16. */
gs_status gs_image_write_png(const char *path, const gs_image *im, int bit_depth);

/* Write single-channel float data (e.g. depth) as an EXR file (FLOAT pixels,
 * channel "Y"). NaN/Inf are written as they are. */
gs_status gs_exr_write_depth(const char *path, const float *depth, int width, int height);
/* Size and channel count of an EXR file from its header (checked as the
 * reader checks it), without decoding the pixels. */
gs_status gs_exr_info(const char *path, int *width, int *height, int *channels);
/* Read back a single-channel EXR (for tests and tools). *out is malloc'ed. */
gs_status gs_exr_read_depth(const char *path, float **out, int *width, int *height);
/* The same from a buffer (which gs_exr_read_depth reads the file into);
 * `name` labels errors. On failure *out is NULL and the sizes 0. */
gs_status gs_exr_read_depth_mem(const uint8_t *data, size_t size, const char *name, float **out, int *width,
                                int *height);

/* Colourise a scalar map with the turbo colormap into an RGB image.
 * Values are normalised between lo and hi; when lo >= hi, the 2nd and 98th
 * percentiles of the finite values are used. inverse != 0 maps 1/value
 * (near = warm), as is usual for depth. Non-finite values become black. */
gs_status gs_colorize(const float *v, int width, int height, float lo, float hi, int inverse, gs_image *out);
/* A depth range [*lo, *hi] to colourise a sequence of depth maps with one
 * scale (gs_colorize(..., lo, hi, 1, ...), no flicker): the 2nd and 98th
 * percentiles of the inverse depth where alpha > 0.5 (every finite pixel when
 * under 1% are covered or alpha is NULL), widened by 10% of the span.
 * Returns 0 when no pixel has a finite positive depth. */
int gs_depth_colour_range(const float *depth, const float *alpha, size_t n, float *lo, float *hi);
/* turbo(t) for t in [0,1] -> rgb in [0,1] */
void gs_turbo(float t, float rgb[3]);

/* Composite an RGBA image over a background colour; returns an RGB image. */
gs_status gs_image_composite(const gs_image *rgba, const float bg[3], gs_image *rgb);

#ifdef __cplusplus
}
#endif
#endif
