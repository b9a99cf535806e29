/* image_info.c - image dimensions from the file header without decoding
 * (used by camera readers that must learn the image size, e.g. NeRF
 * transforms.json files that give only camera_angle_x). */
#include "data/image.h"

#include <stb_image.h>

gs_status gs_image_info(const char *path, int *width, int *height, int *channels) {
    FILE *f;
    gs_status st = gs_fopen_regular(path, &f);
    if (st) return st;
    int w = 0, h = 0, c = 0;
    int ok = stbi_info_from_file(f, &w, &h, &c);
    fclose(f);
    if (!ok) return gs_error(GS_ERR_FORMAT, "%s: not a PNG or JPEG image (%s)", path, stbi_failure_reason());
    if (w <= 0 || h <= 0 || w > GS_IMAGE_MAX_DIM || h > GS_IMAGE_MAX_DIM)
        return gs_error(GS_ERR_FORMAT, "%s: image size %dx%d out of range", path, w, h);
    *width = w;
    *height = h;
    if (channels) *channels = c;
    return GS_OK;
}
