/* fuzz_spz.c - libFuzzer target for the .spz reader (gs_spz_read_mem): any
 * input must either decode into a scene of valid splats (every decoded value
 * is finite, quaternions unit, opacities in [0,1]) or fail, leaving the scene
 * empty, with a message that names the input. */
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gs_scene s;
    if (gs_spz_read_mem(data, size, "fuzz", &s) != GS_OK) {
        if (s.n || s.means || s.sh || !strstr(gs_last_error(), "fuzz")) abort();
        return 0;
    }
    if (s.n <= 0 || s.sh_degree < 0 || s.sh_degree > GS_SH_MAX_DEGREE) abort();
    if (gs_scene_count_invalid(&s) != 0) abort();
    for (int64_t i = 0; i < s.n; i++) {
        const float *q = s.rotations + 4 * i;
        double qq = (double)q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
        if (fabs(qq - 1) > 1e-4) abort();
    }
    gs_scene_free(&s);
    return 0;
}
