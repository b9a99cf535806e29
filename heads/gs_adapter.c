/* gs_adapter.c - DA3's GaussianAdapter (GSDPT raw channels -> world-space
 * Gaussians) and DA3's PLY-export selection. Formulas and quirks: see
 * gs_adapter.h and da3-architecture.md §5 / §7.3. */
#include "heads/gs_adapter.h"
#include "data/cameras.h"

#include "data/align.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int finite_f32(const float *v, size_t n, size_t *bad) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            *bad = i;
            return 0;
        }
    return 1;
}

static int inv3(const double A[9], double I[9]) {
    double c00 = A[4] * A[8] - A[5] * A[7], c01 = A[5] * A[6] - A[3] * A[8], c02 = A[3] * A[7] - A[4] * A[6];
    double det = A[0] * c00 + A[1] * c01 + A[2] * c02;
    if (!(fabs(det) > 1e-300) || !isfinite(det)) return 0;
    double id = 1 / det;
    I[0] = c00 * id;
    I[1] = (A[2] * A[7] - A[1] * A[8]) * id;
    I[2] = (A[1] * A[5] - A[2] * A[4]) * id;
    I[3] = c01 * id;
    I[4] = (A[0] * A[8] - A[2] * A[6]) * id;
    I[5] = (A[2] * A[3] - A[0] * A[5]) * id;
    I[6] = c02 * id;
    I[7] = (A[1] * A[6] - A[0] * A[7]) * id;
    I[8] = (A[0] * A[4] - A[1] * A[3]) * id;
    return 1;
}

void gs_gaussians_free(gs_gaussians *g) {
    if (!g) return;
    free(g->means);
    free(g->scales);
    free(g->rotations);
    free(g->harmonics);
    free(g->opacities);
    memset(g, 0, sizeof *g);
}

static gs_status check_input(const gs_ctx *c, const gs_adapter_input *in, int64_t *n_out) {
    if (!in || !in->raw || !in->conf || !in->depth || !in->w2c || !in->K)
        return gs_error(GS_ERR_INVALID, "gaussian adapter: missing input array (raw, conf, depth, w2c and K are required)");
    if (in->views < 1 || in->height < 1 || in->width < 1 || in->views > 100000 || in->height > 65536 ||
        in->width > 65536)
        return gs_error(GS_ERR_INVALID, "gaussian adapter: bad size %d views x %d x %d", in->views, in->height,
                        in->width);
    size_t n;
    if (!gs_mul_ok((size_t)in->views * (size_t)in->height, (size_t)in->width, &n) ||
        n > (size_t)GS_SCENE_MAX_SPLATS)
        return gs_error(GS_ERR_NOMEM, "gaussian adapter: %d x %d x %d Gaussians is too many", in->views,
                        in->height, in->width);
    size_t bad = 0;
    gs_status st = gs_find_nonfinite(c, in->raw, n * GS_GS_RAW_CHANNELS, &bad);
    if (st == GS_OK && bad < n * GS_GS_RAW_CHANNELS)
        return gs_error(GS_ERR_INVALID, "gaussian adapter: raw GS channels: non-finite value at Gaussian %zu channel %zu",
                        bad / GS_GS_RAW_CHANNELS, bad % GS_GS_RAW_CHANNELS);
    if (st == GS_OK) st = gs_find_nonfinite(c, in->depth, n, &bad);
    if (st == GS_OK && bad < n) return gs_error(GS_ERR_INVALID, "gaussian adapter: depth: non-finite value at pixel %zu", bad);
    if (st == GS_OK) st = gs_find_outside(c, in->conf, n, 0.0f, 1.0f, &bad);
    if (st == GS_OK && bad < n)
        return gs_error(GS_ERR_INVALID, "gaussian adapter: opacity conf[%zu] = %g is not in [0, 1]", bad,
                        (double)in->conf[bad]);
    if (st != GS_OK) return st;
    if (!finite_f32(in->w2c, (size_t)in->views * 12, &bad))
        return gs_error(GS_ERR_INVALID, "gaussian adapter: w2c of view %zu is not finite", bad / 12);
    if (!finite_f32(in->K, (size_t)in->views * 9, &bad))
        return gs_error(GS_ERR_INVALID, "gaussian adapter: K of view %zu is not finite", bad / 9);
    if (in->gt_w2c && !finite_f32(in->gt_w2c, (size_t)in->views * 12, &bad))
        return gs_error(GS_ERR_INVALID, "gaussian adapter: gt w2c of view %zu is not finite", bad / 12);
    for (int v = 0; v < in->views; v++) {
        const float *E = in->w2c + 12 * v;
        double err = 0;
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                double d = E[a * 4] * (double)E[b * 4] + E[a * 4 + 1] * (double)E[b * 4 + 1] +
                           E[a * 4 + 2] * (double)E[b * 4 + 2] - (a == b);
                if (fabs(d) > err) err = fabs(d);
            }
        if (err > 1e-3)
            return gs_error(GS_ERR_INVALID, "gaussian adapter: w2c of view %d: rotation is not orthonormal (error %.3g)",
                            v, err);
    }
    *n_out = (int64_t)n;
    return GS_OK;
}

double gs_gaussian_pose_scale(const float *w2c, const float *gt_w2c, int views, double *unclamped) {
    if (unclamped) *unclamped = 1;
    if (!w2c || !gt_w2c || views < 1) return 1;
    int differ = 0;
    for (int i = 0; i < views * 12 && !differ; i++) differ = w2c[i] != gt_w2c[i];
    if (!differ) return 1;
    double *C = gs_malloc((size_t)views * 6, sizeof(double), "adapter pose centres");
    if (!C) {
        gs_clear_error();
        return 1;
    }
    for (int v = 0; v < views; v++)
        for (int w = 0; w < 2; w++) {
            const float *E = (w ? gt_w2c : w2c) + 12 * v;
            double *c = C + 3 * (w * views + v);
            for (int a = 0; a < 3; a++)
                c[a] = -((double)E[a] * E[3] + (double)E[4 + a] * E[7] + (double)E[8 + a] * E[11]);
        }
    double s = 1;
    /* predicted -> gt; DA3 falls back to 1 when the alignment raises */
    if (gs_umeyama_scale(C, C + 3 * views, views, &s) != GS_OK || !isfinite(s)) s = 1;
    gs_clear_error();
    free(C);
    if (unclamped) *unclamped = s;
    if (s < 1 / 3.0) s = 1 / 3.0;
    if (s > 3.0) s = 3.0;
    return s;
}

/* The per-view constants of the adapter (a few numbers per camera, set up
 * on the host): camera-to-world with the pose-scaled translation, the
 * inverse of the normalised intrinsics, the scale multiplier and the SH
 * rotation blocks. GS_ERR_INVALID when the intrinsics are singular. */
static gs_status view_setup(const float *E, const float *K, double s, int H, int W, gs_gs_view *c) {
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) c->Rc[a * 3 + b] = E[b * 4 + a];
    for (int a = 0; a < 3; a++) c->tc[a] = -s * (c->Rc[a * 3] * E[3] + c->Rc[a * 3 + 1] * E[7] + c->Rc[a * 3 + 2] * E[11]);
    double Kn[9];
    for (int k = 0; k < 9; k++) Kn[k] = K[k];
    for (int k = 0; k < 3; k++) {
        Kn[k] /= W;
        Kn[3 + k] /= H;
    }
    double a = Kn[0], b = Kn[1], cc = Kn[3], d = Kn[4], det2 = a * d - b * cc;
    if (!inv3(Kn, c->Kinv) || !(fabs(det2) > 0)) return GS_ERR_INVALID;
    /* inv([[a,b],[c,d]]) (1/W, 1/H), summed over rows */
    c->mult = 0.1 * ((d / W - b / H) + (-cc / W + a / H)) / det2;
    gs_sh_rot rot;
    gs_sh_rotation(c->Rc, GS_GS_SH_DEGREE, &rot);
    memcpy(c->sh, rot.D, sizeof c->sh);
    return GS_OK;
}

gs_status gs_gaussian_adapter(const gs_ctx *c, const gs_adapter_input *in, gs_gaussians *out) {
    if (!out) return gs_error(GS_ERR_INVALID, "gaussian adapter: NULL output");
    memset(out, 0, sizeof *out);
    if (!c) return gs_error(GS_ERR_INVALID, "gaussian adapter: no op context");
    int64_t n = 0;
    gs_status st = check_input(c, in, &n);
    if (st) return st;
    const int S = in->views, H = in->height, W = in->width;

    gs_gs_view *vc = gs_malloc((size_t)S, sizeof *vc, "adapter view constants");
    if (!vc) return GS_ERR_NOMEM;
    double s = gs_gaussian_pose_scale(in->w2c, in->gt_w2c, S, &out->pose_scale_raw);
    for (int v = 0; v < S; v++) {
        if ((st = view_setup(in->w2c + 12 * v, in->K + 9 * v, s, H, W, &vc[v])) != GS_OK) {
            free(vc);
            return gs_error(st, "gaussian adapter: intrinsics of view %d are singular", v);
        }
    }
    out->views = S;
    out->height = H;
    out->width = W;
    out->n = n;
    out->pose_scale = s;
    out->means = gs_malloc((size_t)n, 3 * sizeof(float), "gaussian means");
    out->scales = gs_malloc((size_t)n, 3 * sizeof(float), "gaussian scales");
    out->rotations = gs_malloc((size_t)n, 4 * sizeof(float), "gaussian rotations");
    out->harmonics = gs_malloc((size_t)n, 27 * sizeof(float), "gaussian harmonics");
    out->opacities = gs_malloc((size_t)n, sizeof(float), "gaussian opacities");
    if (!out->means || !out->scales || !out->rotations || !out->harmonics || !out->opacities) st = GS_ERR_NOMEM;
    if (st == GS_OK)
        st = gs_gs_adapt(c, vc, S, H, W, in->raw, in->conf, in->depth, s, out->means, out->scales,
                         out->rotations, out->harmonics, out->opacities);
    free(vc);
    if (st != GS_OK) {
        gs_gaussians_free(out);
        return st;
    }
    gs_dump_tensor(in->dump, "gs.means", out->means, 2, (long)n, 3L);
    gs_dump_tensor(in->dump, "gs.scales", out->scales, 2, (long)n, 3L);
    gs_dump_tensor(in->dump, "gs.rotations", out->rotations, 2, (long)n, 4L);
    gs_dump_tensor(in->dump, "gs.harmonics", out->harmonics, 3, (long)n, 3L, 9L);
    gs_dump_tensor(in->dump, "gs.opacities", out->opacities, 1, (long)n);
    return GS_OK;
}

/* Copy Gaussian g of `src` into slot o of scene `sc` (degree sc->sh_degree). */
static void copy_to_scene(const gs_gaussians *src, int64_t g, gs_scene *sc, int64_t o) {
    memcpy(sc->means + 3 * o, src->means + 3 * g, 3 * sizeof(float));
    memcpy(sc->scales + 3 * o, src->scales + 3 * g, 3 * sizeof(float));
    memcpy(sc->rotations + 4 * o, src->rotations + 4 * g, 4 * sizeof(float));
    sc->opacities[o] = src->opacities[g];
    int K = gs_sh_coeffs(sc->sh_degree);
    for (int k = 0; k < K; k++)
        for (int c = 0; c < 3; c++) sc->sh[(o * K + k) * 3 + c] = src->harmonics[g * 27 + c * 9 + k];
}

static gs_status check_gaussians(const gs_gaussians *g, const char *what) {
    if (!g || !g->means || !g->scales || !g->rotations || !g->harmonics || !g->opacities || g->n < 1 ||
        g->n != (int64_t)g->views * g->height * g->width)
        return gs_error(GS_ERR_INVALID, "%s: empty or inconsistent Gaussians", what);
    return GS_OK;
}

gs_status gs_gaussians_to_scene(const gs_gaussians *g, int sh_degree, gs_scene *out) {
    gs_status st = check_gaussians(g, "gaussians to scene");
    if (st) return st;
    if (sh_degree < 0 || sh_degree > GS_GS_SH_DEGREE)
        return gs_error(GS_ERR_INVALID, "gaussians to scene: SH degree %d (the adapter has 0..2)", sh_degree);
    if ((st = gs_scene_alloc(out, g->n, sh_degree))) return st;
    for (int64_t i = 0; i < g->n; i++) copy_to_scene(g, i, out, i);
    return GS_OK;
}

void gs_gs_export_opts_default(gs_gs_export_opts *o) {
    o->views_interval = 1;
    o->prune_border = 1;
    o->fix_small_border = 0;
    o->depth_quantile = 0.9f;
    o->dc_only = 1;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

gs_status gs_quantile_linear_f32(const float *x, int64_t n, float q, float *out) {
    if (!x || n < 1 || !out) return gs_error(GS_ERR_INVALID, "quantile: empty input");
    if (!(q >= 0 && q <= 1)) return gs_error(GS_ERR_INVALID, "quantile: q = %g is not in [0, 1]", (double)q);
    size_t bad;
    if (!finite_f32(x, (size_t)n, &bad)) return gs_error(GS_ERR_INVALID, "quantile: non-finite value at %zu", bad);
    float *s = gs_malloc((size_t)n, sizeof(float), "quantile buffer");
    if (!s) return GS_ERR_NOMEM;
    memcpy(s, x, (size_t)n * sizeof(float));
    qsort(s, (size_t)n, sizeof(float), cmp_float);
    /* Matches torch 2.x on CPU bit for bit (checked on 3000+ random rows
     * against torch.quantile): the rank q * (n-1) is formed in double from
     * the float32 q, the weight is rounded to float32, and lerp is the fused
     * form fma(w, b - a, a) (w < 0.5) or fma(w - 1, b - a, b). */
    double rank = (double)q * (double)(n - 1);
    int64_t lo = (int64_t)floor(rank), hi = (int64_t)ceil(rank);
    if (hi > n - 1) hi = n - 1;
    float w = (float)(rank - (double)lo), a = s[lo], b = s[hi];
    *out = fabsf(w) < 0.5f ? fmaf(w, b - a, a) : fmaf(w - 1.0f, b - a, b);
    free(s);
    return GS_OK;
}

gs_status gs_gaussians_export_scene(const gs_gaussians *g, const float *depth, const gs_gs_export_opts *o,
                                    gs_scene *out, gs_gs_export_info *info) {
    gs_status st = check_gaussians(g, "gaussian export");
    if (st) return st;
    gs_gs_export_opts opt;
    if (o) opt = *o;
    else gs_gs_export_opts_default(&opt);
    if (!depth) return gs_error(GS_ERR_INVALID, "gaussian export: depth is required (the percentile uses it)");
    if (opt.views_interval < 1)
        return gs_error(GS_ERR_INVALID, "gaussian export: views interval %d must be >= 1", opt.views_interval);
    if (!(opt.depth_quantile >= 0))
        return gs_error(GS_ERR_INVALID, "gaussian export: depth quantile %g must be >= 0", (double)opt.depth_quantile);
    const int S = g->views, H = g->height, W = g->width;
    const int64_t HW = (int64_t)H * W;
    size_t bad;
    if (!finite_f32(depth, (size_t)g->n, &bad))
        return gs_error(GS_ERR_INVALID, "gaussian export: depth: non-finite value at pixel %zu", bad);

    gs_gs_export_info inf;
    memset(&inf, 0, sizeof inf);
    /* Python int(8 / 256 * H): 8/256 is exact, so this is H / 32 */
    int th = opt.prune_border ? (int)(8.0 / 256 * H) : 0, tw = opt.prune_border ? (int)(8.0 / 256 * W) : 0;
    inf.trim_rows = th;
    inf.trim_cols = tw;
    int r0 = 0, r1 = H, c0 = 0, c1 = W;
    if (opt.prune_border) {
        if (th > 0) { r0 = th; r1 = H - th; }
        else if (!opt.fix_small_border) { r1 = 0; inf.border_emptied = 1; }
        if (tw > 0) { c0 = tw; c1 = W - tw; }
        else if (!opt.fix_small_border) { c1 = 0; inf.border_emptied = 1; }
    }
    unsigned char *keep = gs_calloc((size_t)g->n, 1, "export mask");
    if (!keep) return GS_ERR_NOMEM;
    int64_t kept = 0;
    for (int v = 0; v < S; v += opt.views_interval) {
        const float *dv = depth + v * HW;
        float thr = INFINITY;
        if (opt.depth_quantile < 1) {
            if ((st = gs_quantile_linear_f32(dv, HW, opt.depth_quantile, &thr))) {
                free(keep);
                return st;
            }
        }
        if (v < 64) inf.depth_threshold[v] = thr;
        for (int i = r0; i < r1; i++)
            for (int j = c0; j < c1; j++) {
                int64_t p = v * HW + (int64_t)i * W + j;
                if (dv[(int64_t)i * W + j] <= thr) {
                    keep[p] = 1;
                    kept++;
                }
            }
    }
    inf.kept = kept;
    if (info) *info = inf;
    if ((st = gs_scene_alloc(out, kept, opt.dc_only ? 0 : GS_GS_SH_DEGREE))) {
        free(keep);
        return st;
    }
    int64_t o2 = 0;
    for (int64_t p = 0; p < g->n; p++)
        if (keep[p]) copy_to_scene(g, p, out, o2++);
    free(keep);
    return GS_OK;
}
