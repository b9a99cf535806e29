/* test_scenes.h - what the renderer and scene-evaluation tests share: a
 * xorshift generator (each file keeps its own state, so each keeps its own
 * random scenes) and an identity-pose pinhole camera. */
#ifndef GS_TEST_SCENES_H
#define GS_TEST_SCENES_H

#include "tests/test.h"
#include "data/cameras.h"

#include <stdint.h>

/* uniform in [0,1), 24 bits, from a xorshift64 state */
static inline float test_frand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)(*s >> 40) / (float)(1 << 24);
}

/* at the origin looking down +z, focal f, principal point at the centre */
static inline gs_camera test_pinhole(int w, int h, double f) {
    gs_camera c;
    memset(&c, 0, sizeof c);
    c.R[0] = c.R[4] = c.R[8] = 1;
    c.fx = c.fy = f;
    c.cx = w / 2.0;
    c.cy = h / 2.0;
    c.width = w;
    c.height = h;
    c.has_pose = 1;
    return c;
}

#endif
