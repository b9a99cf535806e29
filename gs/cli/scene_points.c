/* scene_points.c - the point cloud of a DA3 prediction (points.ply) and the
 * scene preview (scene.glb), as depth_anything_3/utils/export/glb.py. */
#include "gs/cli/scene_points.h"
#include "data/gltf.h"
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* np.percentile (linear) of n values. */
static float percentile(const float *v, size_t n, double pct) {
    float *s = malloc((n ? n : 1) * sizeof *s);
    if (!s || !n) { free(s); return NAN; }
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_f);
    double pos = pct / 100.0 * (double)(n - 1);
    size_t lo = (size_t)pos, hi = lo + 1 < n ? lo + 1 : lo;
    float r = (float)(s[lo] + (pos - (double)lo) * (s[hi] - s[lo]));
    free(s);
    return r;
}

gs_status cli_write_points(const char *ply_path, const char *glb_path, const gs_da3_prediction *p,
                           int64_t max_points, int64_t *written) {
    if (!p->extrinsics || !p->intrinsics) return gs_error(GS_ERR_INVALID, "point cloud: the prediction has no cameras");
    const size_t HW = (size_t)p->H * p->W, n = (size_t)p->S * HW;
    /* sky: the official export takes the confidence percentiles over non-sky pixels (when more than 10) */
    const float *sky = p->sky;
    size_t nonsky = n;
    if (sky) {
        nonsky = 0;
        for (size_t i = 0; i < n; i++) nonsky += !(sky[i] >= 0.3f);
        if (nonsky <= 10) sky = NULL;
    }
    float thr = -INFINITY;
    if (p->depth_conf) {
        float *c = p->depth_conf;
        float *tmp = NULL;
        if (sky) {
            tmp = gs_malloc(nonsky, sizeof *tmp, "confidence");
            if (!tmp) return GS_ERR_NOMEM;
            size_t k = 0;
            for (size_t i = 0; i < n; i++)
                if (!(sky[i] >= 0.3f)) tmp[k++] = p->depth_conf[i];
            c = tmp;
        }
        float lo = percentile(c, nonsky, 40.0), hi = percentile(c, nonsky, 90.0);
        free(tmp);
        thr = fminf(fmaxf(1.05f, lo), hi);
    }
#define KEEP(i) ((!p->depth_conf || p->depth_conf[i] >= thr) && isfinite(p->depth[i]) && p->depth[i] > 0 && \
                 !(sky && sky[i] >= 0.3f))
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) keep += KEEP(i);
    size_t stride = max_points > 0 && keep > (size_t)max_points ? (keep + (size_t)max_points - 1) / (size_t)max_points : 1;
    float *xyz = gs_malloc(keep / stride + 1, 3 * sizeof(float), "point cloud");
    uint8_t *rgb = gs_malloc(keep / stride + 1, 3, "point cloud colours");
    if (!xyz || !rgb) { free(xyz); free(rgb); return GS_ERR_NOMEM; }
    int64_t m = 0;
    size_t seen = 0;
    for (int v = 0; v < p->S; v++) {
        const float *E = p->extrinsics + 12 * v, *K = p->intrinsics + 9 * v;
        for (int y = 0; y < p->H; y++)
            for (int x = 0; x < p->W; x++) {
                size_t i = v * HW + (size_t)y * p->W + x;
                if (!KEEP(i)) continue;
                if (seen++ % stride) continue;
                double d = p->depth[i];
                double Xc[3] = {(x - K[2]) / K[0] * d, (y - K[5]) / K[4] * d, d};
                /* world = R^T (Xc - t) */
                for (int r = 0; r < 3; r++)
                    xyz[3 * m + r] = (float)(E[0 + r] * (Xc[0] - E[3]) + E[4 + r] * (Xc[1] - E[7]) + E[8 + r] * (Xc[2] - E[11]));
                memcpy(rgb + 3 * m, p->images + 3 * i, 3);
                m++;
            }
    }
#undef KEEP
    gs_status st = ply_path ? gs_pointcloud_write_ply(ply_path, xyz, rgb, m) : GS_OK;
    if (!st && glb_path) {
        gs_glb_scene g = {xyz, rgb, m, p->S, p->extrinsics, p->intrinsics, p->W, p->H};
        st = gs_glb_write_scene(glb_path, &g);
    }
    free(xyz);
    free(rgb);
    *written = m;
    return st;
}
