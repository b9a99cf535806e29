/* metrics_cuda_stub.c - the CUDA metric entry points of builds without CUDA
 * (make CUDA=0, or no nvcc): opening the GPU fails with a clear message, so
 * callers need no #ifdef. CUDA builds get eval/metrics_cuda.cu instead. */
#include "eval/metrics.h"

#ifndef GS_HAVE_CUDA
static gs_status no_cuda(void) { return gs_error(GS_ERR_UNSUPPORTED, "this build has no CUDA support"); }

gs_status gs_eval_cuda_new(gs_eval_cuda **out) {
    if (out) *out = NULL;
    return gs_error(GS_ERR_UNSUPPORTED, "this build has no CUDA support (nvcc was not found at build time)");
}

void gs_eval_cuda_free(gs_eval_cuda *ctx) { (void)ctx; }
const char *gs_eval_cuda_device_name(const gs_eval_cuda *ctx) {
    (void)ctx;
    return "none";
}

gs_status gs_psnr_cuda(gs_eval_cuda *ctx, const gs_image *pred, const gs_image *gt, double *out) {
    (void)ctx, (void)pred, (void)gt, (void)out;
    return no_cuda();
}

gs_status gs_ssim_cuda(gs_eval_cuda *ctx, const gs_image *pred, const gs_image *gt, gs_ssim_mode mode, double *out) {
    (void)ctx, (void)pred, (void)gt, (void)mode, (void)out;
    return no_cuda();
}

gs_status gs_lpips_eval_cuda(gs_eval_cuda *ctx, gs_lpips *m, const gs_image *pred, const gs_image *gt, double *out,
                             double *per_layer) {
    (void)ctx, (void)m, (void)pred, (void)gt, (void)out, (void)per_layer;
    return no_cuda();
}

void gs_eval_cuda_hold_pair(gs_eval_cuda *ctx, const gs_image *pred, const gs_image *gt) {
    (void)ctx, (void)pred, (void)gt;
}

void gs_eval_cuda_release_pair(gs_eval_cuda *ctx) { (void)ctx; }

gs_status gs_eval_cuda_sync(gs_eval_cuda *ctx) {
    (void)ctx;
    return no_cuda();
}
#else
typedef int gs_metrics_cuda_stub_unused; /* keeps the translation unit non-empty */
#endif
