/* fuzz_image_check.h - the body the image-format fuzz targets share: any
 * input must either decode into a sane image or fail with a message naming
 * it. Images whose header declares over 4 megapixels are only probed (a
 * tiny lossless WebP or compressed TIFF can declare 16k x 16k legitimately,
 * and decoding that tells nothing new). */
#ifndef GS_FUZZ_IMAGE_CHECK_H
#define GS_FUZZ_IMAGE_CHECK_H

#include "data/image.h"

#include <stdlib.h>
#include <string.h>

static int fuzz_image_check(const uint8_t *data, size_t size) {
    int w = 0, h = 0, c = 0;
    if (gs_image_info_mem(data, size, "fuzz", &w, &h, &c) != GS_OK) {
        if (!strstr(gs_last_error(), "fuzz")) abort();
        return 0;
    }
    if (w <= 0 || h <= 0 || (int64_t)w * h > (4 << 20)) return 0;
    gs_image im;
    int orient = -1;
    if (gs_image_read_mem_orient(data, size, "fuzz", &im, &orient) != GS_OK) {
        if (im.data || !strstr(gs_last_error(), "fuzz")) abort();
        return 0;
    }
    if (!im.data || im.width <= 0 || im.height <= 0 || im.channels < 1 || im.channels > 4) abort();
    if (orient != 0 && (orient < 2 || orient > 8)) abort();
    size_t n = (size_t)im.width * (size_t)im.height * (size_t)im.channels;
    for (size_t i = 0; i < n; i++)
        if (!(im.data[i] >= 0.0f && im.data[i] <= 1.0f)) abort();
    gs_image_free(&im);
    return 0;
}

#endif
