/* scene.c - the Gaussian scene type: allocation, format detection, validity
 * and summary statistics. File readers/writers live in ply.c, splat.c, spz.c;
 * the dispatch by format is in scene_io.c. */
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

gs_status gs_scene_alloc(gs_scene *s, int64_t n, int sh_degree) {
    memset(s, 0, sizeof *s);
    if (n < 0 || n > GS_SCENE_MAX_SPLATS)
        return gs_error(GS_ERR_NOMEM, "scene: %lld splats is over the limit of %lld", (long long)n,
                        (long long)GS_SCENE_MAX_SPLATS);
    if (sh_degree < 0 || sh_degree > GS_SH_MAX_DEGREE)
        return gs_error(GS_ERR_UNSUPPORTED, "scene: SH degree %d (supported: 0-%d)", sh_degree, GS_SH_MAX_DEGREE);
    size_t k = (size_t)gs_sh_coeffs(sh_degree);
    size_t nn = (size_t)(n ? n : 1);
    s->means = gs_calloc(nn * 3, sizeof(float), "scene means");
    s->scales = gs_calloc(nn * 3, sizeof(float), "scene scales");
    s->rotations = gs_calloc(nn * 4, sizeof(float), "scene rotations");
    s->opacities = gs_calloc(nn, sizeof(float), "scene opacities");
    s->sh = gs_calloc(nn * k * 3, sizeof(float), "scene SH");
    if (!s->means || !s->scales || !s->rotations || !s->opacities || !s->sh) {
        gs_scene_free(s);
        return GS_ERR_NOMEM;
    }
    for (int64_t i = 0; i < n; i++) s->rotations[4 * i] = 1.0f;
    s->n = n;
    s->sh_degree = sh_degree;
    return GS_OK;
}

void gs_scene_free(gs_scene *s) {
    free(s->means);
    free(s->scales);
    free(s->rotations);
    free(s->opacities);
    free(s->sh);
    memset(s, 0, sizeof *s);
}

const char *gs_scene_format_name(gs_scene_format f) {
    switch (f) {
    case GS_FMT_PLY: return "INRIA 3DGS PLY";
    case GS_FMT_COMPRESSED_PLY: return "PlayCanvas compressed PLY";
    case GS_FMT_SPLAT: return "antimatter15 .splat";
    case GS_FMT_SPZ: return "Niantic SPZ";
    case GS_FMT_POINTS_PLY: return "point cloud PLY (points as isotropic Gaussians)";
    case GS_FMT_GLB: return "glTF GLB (KHR_gaussian_splatting)";
    case GS_FMT_GLB_SPZ: return "glTF GLB (KHR_gaussian_splatting, SPZ-compressed)";
    case GS_FMT_GLB_POINTS: return "glTF GLB point cloud (points as isotropic Gaussians)";
    default: return "unknown";
    }
}

gs_scene_format gs_scene_detect(const uint8_t *data, size_t size, const char *name) {
    if (size >= 4 && !memcmp(data, "ply", 3) && (data[3] == '\n' || data[3] == '\r')) {
        /* compressed PLY declares a chunk element in its header */
        size_t lim = size < 65536 ? size : 65536;
        const char *end = memmem(data, lim, "end_header", 10);
        size_t hl = end ? (size_t)((const uint8_t *)end - data) : lim;
        if (memmem(data, hl, "element chunk", 13)) return GS_FMT_COMPRESSED_PLY;
        return gs_ply_is_pointcloud(data, size) ? GS_FMT_POINTS_PLY : GS_FMT_PLY;
    }
    if (size >= 4 && !memcmp(data, "glTF", 4)) return GS_FMT_GLB;
    if (size >= 4 && data[0] == 'N' && data[1] == 'G' && data[2] == 'S' && data[3] == 'P') return GS_FMT_SPZ;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return GS_FMT_SPZ; /* legacy gzip SPZ */
    if (name && gs_path_ends_with(name, ".splat")) return GS_FMT_SPLAT;
    if (name && gs_path_ends_with(name, ".spz")) return GS_FMT_SPZ;
    if (name && gs_path_ends_with(name, ".glb")) return GS_FMT_GLB;
    return GS_FMT_UNKNOWN;
}

int gs_scene_splat_valid(const gs_scene *s, int64_t i) {
    const float *m = s->means + 3 * i, *sc = s->scales + 3 * i, *q = s->rotations + 4 * i;
    float o = s->opacities[i];
    for (int k = 0; k < 3; k++)
        if (!isfinite(m[k]) || !isfinite(sc[k]) || !(sc[k] > 0)) return 0;
    double qq = 0;
    for (int k = 0; k < 4; k++) {
        if (!isfinite(q[k])) return 0;
        qq += (double)q[k] * q[k];
    }
    if (!(qq > 1e-12)) return 0;
    if (!(o >= 0 && o <= 1)) return 0;
    int kc = gs_sh_coeffs(s->sh_degree) * 3;
    for (int k = 0; k < kc; k++)
        if (!isfinite(s->sh[(size_t)i * kc + k])) return 0;
    return 1;
}

int64_t gs_scene_count_invalid(const gs_scene *s) {
    int64_t bad = 0;
#pragma omp parallel for reduction(+ : bad) schedule(static)
    for (int64_t i = 0; i < s->n; i++) bad += !gs_scene_splat_valid(s, i);
    return bad;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

gs_status gs_scene_stats_compute(const gs_scene *s, gs_scene_stats *st) {
    memset(st, 0, sizeof *st);
    st->n = s->n;
    for (int k = 0; k < 3; k++) { st->bbox_min[k] = INFINITY; st->bbox_max[k] = -INFINITY; }
    st->opacity_min = INFINITY;
    st->opacity_max = -INFINITY;
    float *scales = gs_malloc((size_t)(s->n ? s->n : 1) * 3, sizeof(float), "scene stats");
    if (!scales) return GS_ERR_NOMEM;
    int64_t nv = 0, ns = 0;
    double osum = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (!gs_scene_splat_valid(s, i)) { st->n_invalid++; continue; }
        nv++;
        for (int k = 0; k < 3; k++) {
            double v = s->means[3 * i + k];
            if (v < st->bbox_min[k]) st->bbox_min[k] = v;
            if (v > st->bbox_max[k]) st->bbox_max[k] = v;
            scales[ns++] = s->scales[3 * i + k];
        }
        double o = s->opacities[i];
        osum += o;
        if (o < st->opacity_min) st->opacity_min = o;
        if (o > st->opacity_max) st->opacity_max = o;
    }
    if (nv) {
        st->opacity_mean = osum / (double)nv;
        qsort(scales, (size_t)ns, sizeof(float), cmp_float);
        st->scale_min = scales[0];
        st->scale_max = scales[ns - 1];
        st->scale_median = ns % 2 ? scales[ns / 2] : 0.5 * ((double)scales[ns / 2 - 1] + scales[ns / 2]);
    } else {
        for (int k = 0; k < 3; k++) st->bbox_min[k] = st->bbox_max[k] = 0;
        st->opacity_min = st->opacity_max = 0;
    }
    free(scales);
    return GS_OK;
}
