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
 * scipy's gaussian_filter uses (axis 0, then axis 1); both run per output row
 * on blocks of columns, so nothing larger than a few rows is ever stored. */
#include "eval/metrics.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
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

/* Columns per block of the row passes: five accumulators of this many
 * doubles stay in L1 and the inner loops vectorise. */
#define BLK 128

/* Sum of the SSIM map over the output rows [r0, r1) of one channel, given as
 * planes a, b (h x w floats). Per output row: the vertical pass over the 11
 * input rows fills five row buffers (x, y, x^2, y^2, xy; zero-padded by R on
 * both sides for 3DGS), the horizontal pass and the SSIM formula follow.
 * The taps are applied in the same order for every pixel, as before. vb has
 * 5 * (w + 2R) doubles. */
/* AVX2 doubles the SIMD width of the row passes where the CPU has it (chosen
 * at load time; the arithmetic and its order are the same in both clones) */
__attribute__((target_clones("avx2", "default"))) static double ssim_rows(const float *a, const float *b, int w, int h, int r0, int r1, int same,
                        const double g[GS_SSIM_WIN], double *vb) {
    const int pad = same ? R : 0, wo = same ? w : w - 2 * R, stride = w + 2 * R;
    double *bx = vb, *by = vb + stride, *bxx = vb + 2 * stride, *byy = vb + 3 * stride, *bxy = vb + 4 * stride;
    for (int k = 0; k < 5 * stride; k++) vb[k] = 0.0; /* the padding stays zero */
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
    const double np_ = (double)GS_SSIM_WIN * GS_SSIM_WIN;
    const double cov_norm = same ? 1.0 : np_ / (np_ - 1.0); /* skimage use_sample_covariance */
    double total = 0.0;
    for (int r = r0; r < r1; r++) {
        for (int c0 = 0; c0 < w; c0 += BLK) {
            const int n = w - c0 < BLK ? w - c0 : BLK;
            double sx[BLK], sy[BLK], sxx[BLK], syy[BLK], sxy[BLK];
            for (int c = 0; c < n; c++) sx[c] = sy[c] = sxx[c] = syy[c] = sxy[c] = 0.0;
            for (int i = 0; i < GS_SSIM_WIN; i++) {
                const int src = same ? r - R + i : r + i;
                if (src < 0 || src >= h) continue; /* zero padding (3dgs only) */
                const double gi = g[i];
                const float *ra = a + (size_t)src * w + c0, *rb = b + (size_t)src * w + c0;
#pragma omp simd
                for (int c = 0; c < n; c++) {
                    const double x = ra[c], y = rb[c];
                    sx[c] += gi * x;
                    sy[c] += gi * y;
                    sxx[c] += gi * (x * x);
                    syy[c] += gi * (y * y);
                    sxy[c] += gi * (x * y);
                }
            }
            memcpy(bx + pad + c0, sx, (size_t)n * sizeof(double));
            memcpy(by + pad + c0, sy, (size_t)n * sizeof(double));
            memcpy(bxx + pad + c0, sxx, (size_t)n * sizeof(double));
            memcpy(byy + pad + c0, syy, (size_t)n * sizeof(double));
            memcpy(bxy + pad + c0, sxy, (size_t)n * sizeof(double));
        }
        for (int c0 = 0; c0 < wo; c0 += BLK) {
            const int n = wo - c0 < BLK ? wo - c0 : BLK;
            double ux[BLK], uy[BLK], uxx[BLK], uyy[BLK], uxy[BLK];
            for (int c = 0; c < n; c++) ux[c] = uy[c] = uxx[c] = uyy[c] = uxy[c] = 0.0;
            for (int j = 0; j < GS_SSIM_WIN; j++) {
                const double gj = g[j];
                const int o = c0 + j; /* output c reads buffer column c + j */
#pragma omp simd
                for (int c = 0; c < n; c++) {
                    ux[c] += gj * bx[o + c];
                    uy[c] += gj * by[o + c];
                    uxx[c] += gj * bxx[o + c];
                    uyy[c] += gj * byy[o + c];
                    uxy[c] += gj * bxy[o + c];
                }
            }
            double sum = 0.0;
            if (same) { /* 3DGS loss_utils._ssim */
#pragma omp simd reduction(+ : sum)
                for (int c = 0; c < n; c++) {
                    const double mu1_sq = ux[c] * ux[c], mu2_sq = uy[c] * uy[c], mu12 = ux[c] * uy[c];
                    const double s1 = uxx[c] - mu1_sq, s2 = uyy[c] - mu2_sq, s12 = uxy[c] - mu12;
                    sum += ((2 * mu12 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2));
                }
            } else { /* skimage _structural_similarity */
#pragma omp simd reduction(+ : sum)
                for (int c = 0; c < n; c++) {
                    const double vx = cov_norm * (uxx[c] - ux[c] * ux[c]), vy = cov_norm * (uyy[c] - uy[c] * uy[c]),
                                 vxy = cov_norm * (uxy[c] - ux[c] * uy[c]);
                    const double A1 = 2 * ux[c] * uy[c] + C1, A2 = 2 * vxy + C2,
                                 B1 = ux[c] * ux[c] + uy[c] * uy[c] + C1, B2 = vx + vy + C2;
                    sum += (A1 * A2) / (B1 * B2);
                }
            }
            total += sum;
        }
    }
    return total;
}

/* Mean SSIM of channel ch: the channel is copied into two contiguous planes
 * (so that the row passes read consecutive floats), then the output rows are
 * shared among the threads. Returns NAN when a thread's buffer could not be
 * allocated. */
static double ssim_channel(const float *a, const float *b, int w, int h, int nc, int ch, gs_ssim_mode mode,
                           const double g[GS_SSIM_WIN], float *planes) {
    const int same = mode == GS_SSIM_3DGS;
    const int ho = same ? h : h - 2 * R, wo = same ? w : w - 2 * R;
    const size_t n = (size_t)w * h;
    float *pa = planes, *pb = planes + n;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        pa[i] = a[i * nc + ch];
        pb[i] = b[i * nc + ch];
    }
    double total = 0.0;
    int failed = 0;
#pragma omp parallel reduction(+ : total) reduction(| : failed)
    {
        double *vb = malloc((size_t)5 * (w + 2 * R) * sizeof *vb);
        if (!vb) failed = 1;
        /* contiguous bands of rows per thread: each band is one call */
#ifdef _OPENMP
        const int nt = omp_get_num_threads(), t = omp_get_thread_num();
#else
        const int nt = 1, t = 0;
#endif
        const int r0 = (int)((long long)ho * t / nt), r1 = (int)((long long)ho * (t + 1) / nt);
        if (vb && r1 > r0) total += ssim_rows(pa, pb, w, h, r0, r1, same, g, vb);
        free(vb);
    }
    return failed ? NAN : total / ((double)ho * wo);
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
    float *planes = gs_malloc((size_t)2 * width * height, sizeof *planes, "ssim planes");
    if (!planes) return GS_ERR_NOMEM;
    double g[GS_SSIM_WIN];
    gauss_taps(g);
    double sum = 0.0;
    for (int ch = 0; ch < channels; ch++) sum += ssim_channel(pred, gt, width, height, channels, ch, mode, g, planes);
    free(planes);
    if (isnan(sum)) return gs_error(GS_ERR_NOMEM, "ssim: out of memory for the row buffers");
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
