/* fuzz_gltf.c - libFuzzer target for the GLB reader (gs_gltf_read_mem): any
 * input must either decode into a scene (n >= 1, SH degree 0-3, every value
 * readable) or fail, leaving the scene empty, with a message that names the
 * input. Seeds: tests/fuzz/seeds/gltf (splats, SPZ-compressed splats, a
 * scene preview). */
#include "data/gltf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *ctx, const char *msg) { (void)ctx; (void)msg; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gs_set_warn_handler(quiet, NULL);
    gs_scene s;
    gs_gltf_kind kind;
    if (gs_gltf_read_mem(data, size, "fuzz", &s, &kind) != GS_OK) {
        if (s.n || s.means || s.sh || !strstr(gs_last_error(), "fuzz")) abort();
        return 0;
    }
    if (s.n <= 0 || s.sh_degree < 0 || s.sh_degree > GS_SH_MAX_DEGREE) abort();
    if (kind != GS_GLTF_SPLATS && kind != GS_GLTF_SPLATS_SPZ && kind != GS_GLTF_POINTS) abort();
    volatile float sum = 0;
    const size_t K3 = (size_t)gs_sh_coeffs(s.sh_degree) * 3;
    for (int64_t i = 0; i < s.n; i++) {
        sum += s.means[3 * i + 2] + s.scales[3 * i + 2] + s.rotations[4 * i + 3] + s.opacities[i] + s.sh[i * K3 + K3 - 1];
    }
    (void)sum;
    gs_scene_free(&s);
    return 0;
}
