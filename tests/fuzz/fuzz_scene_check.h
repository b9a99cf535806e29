/* fuzz_scene_check.h - the rule the splat readers' fuzz targets share: a
 * failed read leaves the scene empty with a message naming the input
 * ("fuzz"); a read that succeeds gives n > 0 splats, an SH degree 0..3 and
 * arrays that are read to the end (ASan sees short ones). strict: every
 * splat is also valid, with a unit quaternion (readers that normalise).
 * The scene is freed. */
#ifndef GS_FUZZ_SCENE_CHECK_H
#define GS_FUZZ_SCENE_CHECK_H

#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline void fuzz_check_scene(gs_status st, gs_scene *s, int strict) {
    if (st != GS_OK) {
        if (s->n || s->means || s->sh || !strstr(gs_last_error(), "fuzz")) abort();
        return;
    }
    if (s->n <= 0 || s->sh_degree < 0 || s->sh_degree > GS_SH_MAX_DEGREE) abort();
    const int64_t bad = gs_scene_count_invalid(s); /* reads every value */
    if (strict && bad != 0) abort();
    volatile float acc = 0;
    const size_t K3 = (size_t)gs_sh_coeffs(s->sh_degree) * 3;
    for (int64_t i = 0; i < s->n; i++) {
        const float *q = s->rotations + 4 * i;
        acc += s->means[3 * i + 2] + s->scales[3 * i + 2] + s->opacities[i] + s->sh[i * K3 + K3 - 1];
        double qq = (double)q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
        if (strict && fabs(qq - 1) > 1e-4) abort();
    }
    (void)acc;
    gs_scene_free(s);
}

#endif
