/* image_info.c - image dimensions from the file header without decoding
 * (used by camera readers that must learn the image size, e.g. NeRF
 * transforms.json files that give only camera_angle_x, and by the photo
 * loader of gs infer / gs nvs before anything is decoded). */
#include "data/image.h"
#include "data/image_formats.h"

#include <limits.h>
#include <stb_image.h>
#include <webp/decode.h>

const char *gs_image_orientation_name(int o) {
    switch (o) {
    case 2: return "mirror it left-right";
    case 3: return "rotate it 180 degrees";
    case 4: return "mirror it top-bottom";
    case 5: return "transpose it (mirror along the main diagonal)";
    case 6: return "rotate it 90 degrees clockwise";
    case 7: return "transverse it (mirror along the anti-diagonal)";
    case 8: return "rotate it 90 degrees counter-clockwise";
    default: return "leave it as it is";
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

gs_status gs_image_info_mem(const uint8_t *data, size_t size, const char *name, int *width, int *height,
                            int *channels) {
    if (!name) name = "<memory>";
    const char *k = gs_image_sniff(data, size);
    int w = 0, h = 0, c = 0;
    gs_status st = GS_OK;
    if (!k) return gs_error(GS_ERR_FORMAT, "%s: not an image gs reads (" GS_IMAGE_FORMATS ")", name);
    if (k[0] == 'W') {
        WebPBitstreamFeatures f;
        if (WebPGetFeatures(data, size, &f) != VP8_STATUS_OK) return gs_error(GS_ERR_FORMAT, "%s: invalid WebP", name);
        w = f.width, h = f.height, c = f.has_alpha ? 4 : 3;
    } else if (k[0] == 'T') {
        st = gs_image_info_tiff_mem(data, size, name, &w, &h, &c);
    } else if (size > INT_MAX || !stbi_info_from_memory(data, (int)size, &w, &h, &c)) {
        st = gs_error(GS_ERR_FORMAT, "%s: invalid %s image (%s)", name, k, stbi_failure_reason());
    }
    if (st) return st;
    if (!gs_image_dims_ok(w, h)) return gs_image_dims_error(name, w, h);
    *width = w;
    *height = h;
    if (channels) *channels = c;
    return GS_OK;
}
