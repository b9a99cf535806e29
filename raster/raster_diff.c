/* raster_diff.c - how far one render is from another: RGB PSNR as eval
 * reports it (eval/psnr.c: clamped to [0,1], data range 1) and the raw
 * per-channel differences that the CUDA-against-CPU checks bound
 * (tests/test_raster_cuda.c, gs bench render). Serial, in double: a frame is
 * a few million values and the sums must not depend on the thread count. */
#include "raster/raster.h"

#include <math.h>

static double clamp01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); } /* NaN stays NaN */

/* |x - y|, with equal infinities equal and a NaN on either side as far off as can be,
 * so that a broken frame can never look close */
static double abs_diff(float x, float y) {
    if (x == y) return 0.0;
    double d = fabs((double)x - (double)y);
    return isnan(d) ? INFINITY : d;
}

static gs_status check_frames(const gs_raster_out *a, const gs_raster_out *b, const gs_raster_diff *d) {
    if (!a || !b || !d) return gs_error(GS_ERR_INVALID, "raster diff: missing frame or result");
    if (a->width != b->width || a->height != b->height || a->width < 1 || a->height < 1)
        return gs_error(GS_ERR_INVALID, "raster diff: frames of %dx%d and %dx%d cannot be compared", a->width,
                        a->height, b->width, b->height);
    if (!a->rgb || !a->alpha || !b->rgb || !b->alpha)
        return gs_error(GS_ERR_INVALID, "raster diff: a frame (%dx%d vs %dx%d) lacks its rgb or alpha buffer",
                        a->width, a->height, b->width, b->height);
    return GS_OK;
}

gs_status gs_raster_out_diff(const gs_raster_out *a, const gs_raster_out *b, gs_raster_diff *d) {
    gs_status st = check_frames(a, b, d);
    if (st) return st;
    const int64_t np = (int64_t)a->width * a->height;
    double sq = 0.0, sum = 0.0, maxd = 0.0;
    int64_t off = 0;
    for (int64_t i = 0; i < np; i++) {
        double m = abs_diff(a->alpha[i], b->alpha[i]);
        for (int ch = 0; ch < 3; ch++) {
            const float x = a->rgb[3 * i + ch], y = b->rgb[3 * i + ch];
            const double e = clamp01(x) - clamp01(y), ad = abs_diff(x, y);
            sq += e * e;
            sum += ad;
            m = fmax(m, ad);
        }
        maxd = fmax(maxd, m);
        off += m > GS_RASTER_DIFF_TOL;
    }
    const double mse = sq / (3.0 * (double)np);
    d->psnr_db = isnan(mse) ? NAN : (mse > 0.0 ? -10.0 * log10(mse) : INFINITY);
    d->mean_abs = sum / (3.0 * (double)np);
    d->max_abs = maxd;
    d->pixels_off = off;
    d->pixels = np;
    return GS_OK;
}
