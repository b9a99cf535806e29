/* image_info.c - image dimensions from the file header without decoding
 * (used by camera readers that must learn the image size, e.g. NeRF
 * transforms.json files that give only camera_angle_x, and by the photo
 * loader of gs infer / gs nvs before anything is decoded). */
#include "data/image.h"
#include "data/image_formats.h"

#include <stb_image.h>

const char *gs_image_orientation_name(int o) {
    switch (o) {
    case 2: return "mirrored left-right";
    case 3: return "rotated 180 degrees";
    case 4: return "mirrored top-bottom";
    case 5: return "mirrored along the main diagonal (transposed)";
    case 6: return "to be rotated 90 degrees clockwise";
    case 7: return "mirrored along the anti-diagonal (transversed)";
    case 8: return "to be rotated 90 degrees counter-clockwise";
    default: return "upright";
    }
}

gs_status gs_image_info(const char *path, int *width, int *height, int *channels) {
    FILE *f;
    gs_status st = gs_fopen_regular(path, &f);
    if (st) return st;
    uint8_t head[16];
    size_t got = fread(head, 1, sizeof head, f);
    const char *k = gs_image_sniff(head, got);
    int w = 0, h = 0, c = 0;
    if (!k) st = gs_error(GS_ERR_FORMAT, "%s: not an image gs reads (" GS_IMAGE_FORMATS ")", path);
    else if (k[0] == 'W') st = gs_image_info_webp(f, path, &w, &h, &c);
    else if (k[0] == 'T') st = gs_image_info_tiff(f, path, &w, &h, &c);
    else {
        rewind(f);
        if (!stbi_info_from_file(f, &w, &h, &c))
            st = gs_error(GS_ERR_FORMAT, "%s: invalid %s image (%s)", path, k, stbi_failure_reason());
    }
    fclose(f);
    if (st) return st;
    if (w <= 0 || h <= 0 || w > GS_IMAGE_MAX_DIM || h > GS_IMAGE_MAX_DIM)
        return gs_error(GS_ERR_FORMAT, "%s: image size %dx%d out of range", path, w, h);
    *width = w;
    *height = h;
    if (channels) *channels = c;
    return GS_OK;
}
