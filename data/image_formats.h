/* image_formats.h - private to data/image*.c: the WebP (libwebp), TIFF
 * (libtiff) and BMP (stb_image) readers behind gs_image_read_mem and
 * gs_image_info, and the EXIF orientation probe (libexif). */
#ifndef GS_DATA_IMAGE_FORMATS_H
#define GS_DATA_IMAGE_FORMATS_H

#include "data/image.h"

#include <stdio.h>

/* They check the size (GS_IMAGE_MAX_DIM, GS_IMAGE_MAX_PIXELS) before the
 * pixels are allocated; on failure *im is all zeros. *orient: as
 * gs_image_read_orient (set on success only). */
gs_status gs_image_read_webp(const uint8_t *data, size_t size, const char *name, gs_image *im, int *orient);
gs_status gs_image_read_tiff(const uint8_t *data, size_t size, const char *name, gs_image *im, int *orient);
gs_status gs_image_read_bmp(const uint8_t *data, size_t size, const char *name, gs_image *im);

/* Header only, from an open file (at any position; it is rewound). */
gs_status gs_image_info_webp(FILE *f, const char *name, int *w, int *h, int *c);
gs_status gs_image_info_tiff(FILE *f, const char *name, int *w, int *h, int *c);
gs_status gs_image_info_tiff_mem(const uint8_t *data, size_t size, const char *name, int *w, int *h, int *c);

/* The Orientation tag (1..8) of IFD0 of an EXIF block: raw TIFF-structured
 * data ("II*\0" / "MM\0*") or the same after the "Exif\0\0" header of a
 * JPEG APP1 segment. 0 when there is none (or it is not 1..8). */
int gs_exif_orientation(const uint8_t *exif, size_t n);

/* The size checks of data/image.c. */
int gs_image_dims_ok(int64_t w, int64_t h);
gs_status gs_image_dims_error(const char *name, int64_t w, int64_t h);

#endif
