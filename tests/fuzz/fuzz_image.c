/* fuzz_image.c - libFuzzer target for the PNG/JPEG reader (gs_image_read_mem):
 * any input must either decode into a sane image or fail with a message.
 * WebP and TIFF (fuzz_webp, fuzz_tiff) go through their own check, which
 * leaves out images that declare many megapixels. */
#include "data/image.h"
#include "tests/fuzz/fuzz_image_check.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *k = gs_image_sniff(data, size);
    if (k && (k[0] == 'W' || k[0] == 'T')) return fuzz_image_check(data, size);
    gs_image im;
    if (gs_image_read_mem(data, size, "fuzz", &im) != GS_OK) {
        if (im.data || !strstr(gs_last_error(), "fuzz")) abort();
        return 0;
    }
    if (!im.data || im.width <= 0 || im.height <= 0 || im.channels < 1 || im.channels > 4) abort();
    size_t n = (size_t)im.width * (size_t)im.height * (size_t)im.channels;
    for (size_t i = 0; i < n; i++)
        if (!(im.data[i] >= 0.0f && im.data[i] <= 1.0f)) abort();
    const float bg[3] = {1.0f, 1.0f, 1.0f};
    gs_image rgb;
    if (gs_image_composite(&im, bg, &rgb) == GS_OK) gs_image_free(&rgb);
    gs_image_free(&im);
    return 0;
}
