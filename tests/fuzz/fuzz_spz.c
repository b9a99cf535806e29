/* fuzz_spz.c - libFuzzer target for the .spz reader (gs_spz_read_mem): any
 * input must either decode into a scene of valid splats (every decoded value
 * is finite, quaternions unit, opacities in [0,1]) or fail, leaving the scene
 * empty, with a message that names the input. */
#include "tests/fuzz/fuzz_scene_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gs_scene s;
    fuzz_check_scene(gs_spz_read_mem(data, size, "fuzz", &s), &s, 1);
    return 0;
}
