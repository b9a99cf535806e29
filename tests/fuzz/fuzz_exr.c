/* fuzz_exr.c - libFuzzer target for the EXR depth reader
 * (gs_exr_read_depth_mem, which gs_exr_read_depth reads files through): any
 * input must either decode into a width x height float map, every value of
 * which can be read, or fail with a message that names the input, leaving
 * nothing allocated. Seeds (tests/fuzz/seeds/exr/) were written by
 * gs_exr_write_depth. */
#include "data/image.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    float *d = NULL;
    int w = -1, h = -1;
    if (gs_exr_read_depth_mem(data, size, "fuzz", &d, &w, &h) != GS_OK) {
        if (d || w || h || !strstr(gs_last_error(), "fuzz")) abort();
        return 0;
    }
    if (!d || w <= 0 || h <= 0) abort();
    /* read every value (ASan checks the buffer holds w * h floats) */
    uint32_t acc = 0;
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        uint32_t u;
        memcpy(&u, &d[i], 4);
        acc ^= u;
    }
    volatile uint32_t sink = acc;
    (void)sink;
    free(d);
    return 0;
}
