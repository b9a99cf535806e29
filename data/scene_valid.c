/* scene_valid.c - which splats of a scene the writers put in a file: the
 * valid ones (gs_scene_splat_valid), with one warning per file saying how
 * many were left out and why. The scene itself is never changed. */
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BAD_POS, BAD_SCALE, BAD_ROT, BAD_OPACITY, BAD_SH, BAD_KINDS };

/* The first reason splat i is invalid (the checks of gs_scene_splat_valid, in
 * its order), or -1 when it is valid. */
static int invalid_kind(const gs_scene *s, int64_t i) {
    const float *m = s->means + 3 * i, *sc = s->scales + 3 * i, *q = s->rotations + 4 * i;
    for (int k = 0; k < 3; k++)
        if (!isfinite(m[k])) return BAD_POS;
    for (int k = 0; k < 3; k++)
        if (!isfinite(sc[k]) || !(sc[k] > 0)) return BAD_SCALE;
    double qq = 0;
    for (int k = 0; k < 4; k++) qq += (double)q[k] * q[k];
    if (!isfinite(qq) || !(qq > 1e-12)) return BAD_ROT;
    if (!(s->opacities[i] >= 0 && s->opacities[i] <= 1)) return BAD_OPACITY;
    int kc = gs_sh_coeffs(s->sh_degree) * 3;
    for (int k = 0; k < kc; k++)
        if (!isfinite(s->sh[(size_t)i * kc + k])) return BAD_SH;
    return -1;
}

gs_status gs_scene_writable(const gs_scene *s, const char *path, int64_t **idx, int64_t *nvalid) {
    *idx = NULL;
    *nvalid = 0;
    if (!s || s->n < 0 || s->n > GS_SCENE_MAX_SPLATS || s->sh_degree < 0 || s->sh_degree > GS_SH_MAX_DEGREE ||
        (s->n && (!s->means || !s->scales || !s->rotations || !s->opacities || !s->sh)))
        return gs_error(GS_ERR_INVALID, "%s: invalid scene", path);
    if (s->n == 0) return gs_error(GS_ERR_INVALID, "%s: the scene has no Gaussians; nothing written", path);
    int64_t bad = gs_scene_count_invalid(s);
    if (bad == 0) {
        *nvalid = s->n;
        return GS_OK;
    }
    if (bad == s->n)
        return gs_error(GS_ERR_INVALID,
                        "%s: all %lld Gaussians are invalid (non-finite values, non-positive scales, zero "
                        "quaternions or opacities outside [0, 1]); nothing written",
                        path, (long long)s->n);
    int64_t *list = gs_malloc((size_t)(s->n - bad), sizeof *list, "valid splat list");
    if (!list) return gs_error_prefix(GS_ERR_NOMEM, "%s", path);
    int64_t kinds[BAD_KINDS] = {0}, m = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (gs_scene_splat_valid(s, i)) {
            list[m++] = i;
        } else {
            int k = invalid_kind(s, i);
            kinds[k < 0 ? BAD_SH : k]++;
        }
    }
    static const char *const names[BAD_KINDS] = {"non-finite position", "non-positive or non-finite scale",
                                                 "zero or non-finite quaternion", "opacity not in [0, 1]",
                                                 "non-finite SH"};
    char why[256];
    size_t wl = 0;
    why[0] = 0;
    for (int k = 0; k < BAD_KINDS; k++)
        if (kinds[k] && wl < sizeof why)
            wl += (size_t)snprintf(why + wl, sizeof why - wl, "%s%lld %s", wl ? ", " : "", (long long)kinds[k],
                                   names[k]);
    gs_warn("%s: %lld of %lld Gaussians are invalid (%s) and were not written", path, (long long)bad,
            (long long)s->n, why);
    *idx = list;
    *nvalid = m;
    return GS_OK;
}
