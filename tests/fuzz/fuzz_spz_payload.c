/* fuzz_spz_payload.c - libFuzzer target for the .spz parser behind
 * decompression (gs_spz_read_payload: a legacy file's inflated gzip member,
 * the header, attribute blocks and extension records, parsed and decoded by
 * the code gs_spz_read_mem runs after inflating). Through fuzz_spz random
 * bytes rarely survive gzip or zstd, so this target hands them to that code
 * directly. Same rules: a scene of valid splats (finite values, unit
 * quaternions, opacities in [0,1]) or a failure that names the input and
 * leaves the scene empty. Seeds (tests/fuzz/seeds/spz_payload/) are the
 * inflated members of files gs_spz_write wrote. */
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gs_scene s;
    if (gs_spz_read_payload(data, size, "fuzz", &s) != GS_OK) {
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
