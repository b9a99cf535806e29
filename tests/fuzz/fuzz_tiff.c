/* fuzz_tiff.c - libFuzzer target for the TIFF (libtiff) reader behind gs_image_read_mem
 * (seeds: tests/fuzz/seeds/tiff/). */
#include "tests/fuzz/fuzz_image_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_image_check(data, size); }
