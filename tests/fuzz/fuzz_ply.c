/* fuzz_ply.c - libFuzzer target: arbitrary bytes into the PLY reader (INRIA
 * and compressed) and the .splat reader. Both must fail cleanly or return a
 * scene whose arrays are fully readable. */
#include "data/scene.h"

#include <stdint.h>
#include <stdlib.h>

static void touch(const gs_scene *s) {
    /* reading every value lets ASan/MSan catch short or uninitialised arrays */
    (void)gs_scene_count_invalid(s);
    volatile float acc = 0;
    int k = gs_sh_coeffs(s->sh_degree) * 3;
    for (int64_t i = 0; i < s->n; i++) acc += s->sh[i * k + k - 1] + s->rotations[4 * i + 3];
    (void)acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gs_scene s;
    if (gs_ply_read_mem(data, size, "fuzz.ply", &s) == GS_OK) {
        touch(&s);
        gs_scene_free(&s);
    } else if (s.n != 0 || s.means != NULL) {
        abort(); /* a failed read must leave the scene empty */
    }
    if (gs_splat_read_mem(data, size, "fuzz.splat", &s) == GS_OK) {
        touch(&s);
        gs_scene_free(&s);
    } else if (s.n != 0 || s.means != NULL) {
        abort();
    }
    return 0;
}
