/* fuzz_spz_payload.c - libFuzzer target for the .spz parser behind
 * decompression (gs_spz_read_payload: a legacy file's inflated gzip member,
 * the header, attribute blocks and extension records, parsed and decoded by
 * the code gs_spz_read_mem runs after inflating). Through fuzz_spz random
 * bytes rarely survive gzip or zstd, so this target hands them to that code
 * directly. Same rules: a scene of valid splats (finite values, unit
 * quaternions, opacities in [0,1]) or a failure that names the input and
 * leaves the scene empty. Seeds (tests/fuzz/seeds/spz_payload/) are the
 * inflated members of files gs_spz_write wrote. */
#include "tests/fuzz/fuzz_scene_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gs_scene s;
    fuzz_check_scene(gs_spz_read_payload(data, size, "fuzz", &s), &s, 1);
    return 0;
}
