/* psnr.c - PSNR as pixelSplat and its successors report it: both images
 * clamped to [0,1], mean squared error over every channel and pixel of the
 * image, -10 log10(MSE). Accumulated in double; identical images give +inf. */
#include "eval/metrics.h"

#include <math.h>

static double clamp01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

gs_status gs_psnr_f32(const float *pred, const float *gt, int width, int height, int channels, double *out) {
    if (!pred || !gt || !out || width < 1 || height < 1 || channels < 1)
        return gs_error(GS_ERR_INVALID, "psnr: empty image (%dx%d, %d channels)", width, height, channels);
    const size_t n = (size_t)width * height * channels;
    double sum = 0.0;
    int bad = 0;
#pragma omp parallel for reduction(+ : sum) reduction(| : bad) schedule(static)
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(pred[i]) || !isfinite(gt[i])) bad = 1;
        const double d = clamp01(pred[i]) - clamp01(gt[i]);
        sum += d * d;
    }
    if (bad) return gs_error(GS_ERR_INVALID, "psnr: the images contain NaN or Inf values");
    const double mse = sum / (double)n;
    *out = mse > 0.0 ? -10.0 * log10(mse) : INFINITY;
    return GS_OK;
}

gs_status gs_psnr(const gs_image *pred, const gs_image *gt, double *out) {
    if (!pred || !gt || !pred->data || !gt->data) return gs_error(GS_ERR_INVALID, "psnr: missing image");
    if (pred->width != gt->width || pred->height != gt->height || pred->channels != gt->channels)
        return gs_error(GS_ERR_INVALID, "psnr: prediction is %dx%dx%d but ground truth is %dx%dx%d", pred->width,
                        pred->height, pred->channels, gt->width, gt->height, gt->channels);
    return gs_psnr_f32(pred->data, gt->data, pred->width, pred->height, pred->channels, out);
}
