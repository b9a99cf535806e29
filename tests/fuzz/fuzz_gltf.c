/* fuzz_gltf.c - libFuzzer target for the GLB reader (gs_gltf_read_mem): any
 * input must either decode into a scene (n >= 1, SH degree 0-3, every value
 * readable) or fail, leaving the scene empty, with a message that names the
 * input. Seeds: tests/fuzz/seeds/gltf (splats, SPZ-compressed splats, a
 * scene preview). */
#include "data/gltf.h"
#include "tests/fuzz/fuzz_scene_check.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, const char *msg) { (void)ctx; (void)msg; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gs_set_warn_handler(quiet, NULL);
    gs_scene s;
    gs_gltf_kind kind = GS_GLTF_SPLATS;
    gs_status st = gs_gltf_read_mem(data, size, "fuzz", &s, &kind);
    if (!st && kind != GS_GLTF_SPLATS && kind != GS_GLTF_SPLATS_SPZ && kind != GS_GLTF_POINTS) abort();
    fuzz_check_scene(st, &s, 0);
    return 0;
}
