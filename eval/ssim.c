/* ssim.c - SSIM in the two variants that papers report (see metrics.h):
 * scikit-image's structural_similarity with the pixelSplat arguments, and the
 * 3D Gaussian Splatting training/eval ssim().
 *
 * Both filter five quantities (x, y, x^2, y^2, xy) with the separable 11-tap
 * Gaussian of sigma 1.5, in double. skimage runs scipy.ndimage's filter on the
 * whole image and then crops 5 pixels on each side before the mean, so only
 * windows lying fully inside the image count: that is a "valid" filtering
 * and the boundary mode never matters. 3DGS convolves with zero padding and
 * keeps every pixel. The passes go along rows first, then columns, the order
 * scipy's gaussian_filter uses (axis 0, then axis 1). */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R (GS_SSIM_WIN / 2)

/* scipy.ndimage._gaussian_kernel1d(sigma=1.5, order=0, radius=5):
 * exp(-0.5 / sigma^2 * x^2), normalised to sum 1. */
static void gauss_taps(double g[GS_SSIM_WIN]) {
    const double sigma = 1.5, sigma2 = sigma * sigma;
    double sum = 0.0;
    for (int i = 0; i < GS_SSIM_WIN; i++) {
        const double x = i - R;
        g[i] = exp(-0.5 / sigma2 * (x * x));
        sum += g[i];
    }
    for (int i = 0; i < GS_SSIM_WIN; i++) g[i] /= sum;
}

gs_status gs_ssim_mode_parse(const char *s, gs_ssim_mode *out) {
    if (s && !strcmp(s, "skimage")) *out = GS_SSIM_SKIMAGE;
    else if (s && !strcmp(s, "3dgs")) *out = GS_SSIM_3DGS;
    else return gs_error(GS_ERR_INVALID, "unknown SSIM variant '%s' (expected skimage or 3dgs)", s ? s : "");
    return GS_OK;
}

const char *gs_ssim_mode_label(gs_ssim_mode mode) {
    return mode == GS_SSIM_3DGS ? "SSIM (3dgs, gaussian 11x11 sigma 1.5, zero padding)"
                                : "SSIM (skimage, gaussian 11x11 sigma 1.5)";
}

/* Mean SSIM of channel ch. Vertical pass into 5 planes of ho x w, then the
 * horizontal pass computes the SSIM of each output pixel directly. */
static double ssim_channel(const float *a, const float *b, int w, int h, int nc, int ch, gs_ssim_mode mode,
                           const double g[GS_SSIM_WIN], double *planes) {
    const int same = mode == GS_SSIM_3DGS;
    const int ho = same ? h : h - 2 * R, wo = same ? w : w - 2 * R;
    const size_t psz = (size_t)ho * w;
    double *mx = planes, *my = planes + psz, *mxx = planes + 2 * psz, *myy = planes + 3 * psz,
           *mxy = planes + 4 * psz;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < ho; r++) {
        double *px = mx + (size_t)r * w, *py = my + (size_t)r * w, *pxx = mxx + (size_t)r * w,
               *pyy = myy + (size_t)r * w, *pxy = mxy + (size_t)r * w;
        for (int c = 0; c < w; c++) px[c] = py[c] = pxx[c] = pyy[c] = pxy[c] = 0.0;
        for (int i = 0; i < GS_SSIM_WIN; i++) {
            const int src = same ? r - R + i : r + i;
            if (src < 0 || src >= h) continue; /* zero padding (3dgs only) */
            const double gi = g[i];
            const float *ra = a + (size_t)src * w * nc + ch, *rb = b + (size_t)src * w * nc + ch;
            for (int c = 0; c < w; c++) {
                const double x = ra[(size_t)c * nc], y = rb[(size_t)c * nc];
                px[c] += gi * x;
                py[c] += gi * y;
                pxx[c] += gi * (x * x);
                pyy[c] += gi * (y * y);
                pxy[c] += gi * (x * y);
            }
        }
    }
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
    const double np_ = (double)GS_SSIM_WIN * GS_SSIM_WIN;
    const double cov_norm = same ? 1.0 : np_ / (np_ - 1.0); /* skimage use_sample_covariance */
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int r = 0; r < ho; r++) {
        const size_t row = (size_t)r * w;
        double rowsum = 0.0;
        for (int c = 0; c < wo; c++) {
            double ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
            for (int j = 0; j < GS_SSIM_WIN; j++) {
                const int src = same ? c - R + j : c + j;
                if (src < 0 || src >= w) continue;
                const double gj = g[j];
                ux += gj * mx[row + src];
                uy += gj * my[row + src];
                uxx += gj * mxx[row + src];
                uyy += gj * myy[row + src];
                uxy += gj * mxy[row + src];
            }
            double s;
            if (same) { /* 3DGS loss_utils._ssim */
                const double mu1_sq = ux * ux, mu2_sq = uy * uy, mu12 = ux * uy;
                const double s1 = uxx - mu1_sq, s2 = uyy - mu2_sq, s12 = uxy - mu12;
                s = ((2 * mu12 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2));
            } else { /* skimage _structural_similarity */
                const double vx = cov_norm * (uxx - ux * ux), vy = cov_norm * (uyy - uy * uy),
                             vxy = cov_norm * (uxy - ux * uy);
                const double A1 = 2 * ux * uy + C1, A2 = 2 * vxy + C2, B1 = ux * ux + uy * uy + C1,
                             B2 = vx + vy + C2;
                s = (A1 * A2) / (B1 * B2);
            }
            rowsum += s;
        }
        total += rowsum;
    }
    return total / ((double)ho * wo);
}

gs_status gs_ssim_f32(const float *pred, const float *gt, int width, int height, int channels, gs_ssim_mode mode,
                      double *out) {
    if (!pred || !gt || !out || width < 1 || height < 1 || channels < 1)
        return gs_error(GS_ERR_INVALID, "ssim: empty image (%dx%d, %d channels)", width, height, channels);
    if (mode != GS_SSIM_SKIMAGE && mode != GS_SSIM_3DGS) return gs_error(GS_ERR_INVALID, "ssim: bad variant %d", mode);
    if (mode == GS_SSIM_SKIMAGE && (width < GS_SSIM_WIN || height < GS_SSIM_WIN))
        return gs_error(GS_ERR_INVALID,
                        "ssim: image %dx%d is smaller than the %dx%d SSIM window (scikit-image refuses it too: "
                        "'win_size exceeds image extent'); use --ssim 3dgs or larger images",
                        width, height, GS_SSIM_WIN, GS_SSIM_WIN);
    const size_t n = (size_t)width * height * channels;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(pred[i]) || !isfinite(gt[i]))
            return gs_error(GS_ERR_INVALID, "ssim: the images contain NaN or Inf values");
    const int ho = mode == GS_SSIM_3DGS ? height : height - 2 * R;
    double *planes = gs_malloc((size_t)5 * ho * width, sizeof *planes, "ssim planes");
    if (!planes) return GS_ERR_NOMEM;
    double g[GS_SSIM_WIN];
    gauss_taps(g);
    double sum = 0.0;
    for (int ch = 0; ch < channels; ch++) sum += ssim_channel(pred, gt, width, height, channels, ch, mode, g, planes);
    free(planes);
    *out = sum / channels;
    return GS_OK;
}

gs_status gs_ssim(const gs_image *pred, const gs_image *gt, gs_ssim_mode mode, double *out) {
    if (!pred || !gt || !pred->data || !gt->data) return gs_error(GS_ERR_INVALID, "ssim: missing image");
    if (pred->width != gt->width || pred->height != gt->height || pred->channels != gt->channels)
        return gs_error(GS_ERR_INVALID, "ssim: prediction is %dx%dx%d but ground truth is %dx%dx%d", pred->width,
                        pred->height, pred->channels, gt->width, gt->height, gt->channels);
    return gs_ssim_f32(pred->data, gt->data, pred->width, pred->height, pred->channels, mode, out);
}
