/* points.c - plain point clouds (x y z and maybe a colour: points.ply, a
 * glTF POINTS primitive) as scenes of small isotropic Gaussians, so that
 * gs info / view / convert / render take them like splat files.
 *
 * Each point becomes a Gaussian of opacity 1, SH degree 0 (its colour as the
 * DC term), identity rotation and one scale for every point: half the median
 * nearest-neighbour distance of up to GS_POINTS_SAMPLE points taken evenly
 * along the cloud's widest axis (exact neighbours, by a sweep of the points
 * sorted on that axis). Half the spacing makes neighbouring Gaussians
 * touch (their 3-sigma footprints overlap) without smearing detail; the
 * median ignores outliers and duplicates (zero distances are skipped). */
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GS_POINTS_SAMPLE 1024
/* Steps of the sweep per side and sample: bounds the time on degenerate
 * clouds (all points on one plane across the sort axis). */
#define GS_POINTS_MAX_SWEEP (1 << 16)

typedef struct { float key; uint32_t idx; } keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static double dist2(const float *a, const float *b) {
    double dx = (double)a[0] - b[0], dy = (double)a[1] - b[1], dz = (double)a[2] - b[2];
    return dx * dx + dy * dy + dz * dz;
}

float gs_points_spacing(const float *xyz, int64_t n) {
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    int64_t nf = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *p = xyz + 3 * i;
        if (!isfinite(p[0]) || !isfinite(p[1]) || !isfinite(p[2])) continue;
        nf++;
        for (int k = 0; k < 3; k++) {
            if (p[k] < lo[k]) lo[k] = p[k];
            if (p[k] > hi[k]) hi[k] = p[k];
        }
    }
    if (nf < 2) return 0.01f;
    double diag = sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) +
                       (hi[2] - lo[2]) * (hi[2] - lo[2]));
    float fallback = diag > 0 && isfinite(diag) ? (float)(1e-3 * diag) : 0.01f;
    int ax = 0;
    for (int k = 1; k < 3; k++)
        if (hi[k] - lo[k] > hi[ax] - lo[ax]) ax = k;
    /* the finite points sorted along the widest axis */
    keyed *ks = malloc((size_t)nf * sizeof *ks);
    float *d = malloc(GS_POINTS_SAMPLE * sizeof *d);
    if (!ks || !d) {
        free(ks);
        free(d);
        return fallback;
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *p = xyz + 3 * i;
        if (isfinite(p[0]) && isfinite(p[1]) && isfinite(p[2])) ks[m++] = (keyed){p[ax], (uint32_t)i};
    }
    qsort(ks, (size_t)nf, sizeof *ks, cmp_keyed);
    int ns = 0;
    int64_t want = nf < GS_POINTS_SAMPLE ? nf : GS_POINTS_SAMPLE;
    for (int64_t j = 0; j < want; j++) {
        int64_t r = j * nf / want; /* evenly through the sorted order */
        const float *p = xyz + 3 * (size_t)ks[r].idx;
        double best = INFINITY;
        for (int dir = -1; dir <= 1; dir += 2) {
            int64_t t = r + dir;
            for (int step = 0; step < GS_POINTS_MAX_SWEEP && t >= 0 && t < nf; step++, t += dir) {
                double dk = (double)ks[t].key - p[ax];
                if (dk * dk >= best) break;
                double dd = dist2(p, xyz + 3 * (size_t)ks[t].idx);
                if (dd > 0 && dd < best) best = dd;
            }
        }
        if (isfinite(best)) d[ns++] = (float)sqrt(best);
    }
    float sp = fallback;
    if (ns) {
        qsort(d, (size_t)ns, sizeof *d, cmp_f);
        sp = ns % 2 ? d[ns / 2] : 0.5f * (d[ns / 2 - 1] + d[ns / 2]);
    }
    free(ks);
    free(d);
    return sp > 0 && isfinite(sp) ? sp : fallback;
}

gs_status gs_scene_from_points(const float *xyz, const float *rgb, int64_t n, const char *name, gs_scene *s) {
    gs_status st = gs_scene_alloc(s, n, 0);
    if (st) return gs_error_prefix(st, "%s", name ? name : "point cloud");
    if (n) memcpy(s->means, xyz, (size_t)n * 3 * sizeof(float));
    float sigma = 0.5f * gs_points_spacing(xyz, n);
    for (int64_t i = 0; i < n; i++) {
        for (int c = 0; c < 3; c++) {
            s->scales[3 * i + c] = sigma;
            float v = rgb ? rgb[3 * i + c] : 1.0f;
            s->sh[3 * i + c] = (v - 0.5f) / GS_SH_C0;
        }
        s->opacities[i] = 1.0f;
    }
    return GS_OK;
}
