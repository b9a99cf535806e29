/* lpips_impl.h - the LPIPS model's layout, shared by the CPU forward pass
 * (lpips.c) and its CUDA twin (metrics_cuda.cu). Not a public header. */
#ifndef GS_EVAL_LPIPS_IMPL_H
#define GS_EVAL_LPIPS_IMPL_H

#include "eval/metrics.h"
#include "gs/ops/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { GS_LP_CONV, GS_LP_POOL, GS_LP_FIRE };

typedef struct {
    int kind;
    const char *prefix; /* state_dict prefix of the module, e.g. "net.slice2.3" */
    int cin, cout;      /* conv: channels; fire: cin, expand width per branch (cout) */
    int k, stride, pad; /* conv kernel / pool window */
    int ceil_mode;      /* pool */
    int squeeze;        /* fire: squeeze width */
    int tap;            /* the output of this layer is an LPIPS feature tap */
} gs_lp_op;

#define GS_LP_MAX_OPS 17
/* a fire module has three convolutions */
#define GS_LP_MAX_PARAMS 3

typedef struct {
    float *w[GS_LP_MAX_PARAMS], *b[GS_LP_MAX_PARAMS]; /* conv: [0]; fire: squeeze, expand1x1, expand3x3 */
} gs_lp_weights;

struct gs_lpips {
    gs_lpips_net net;
    const gs_lp_op *ops;
    int n_ops, n_taps;
    gs_lp_weights wts[GS_LP_MAX_OPS];
    float *lin[GS_LPIPS_MAX_LAYERS];
    int lin_c[GS_LPIPS_MAX_LAYERS];
    float shift[3], scale[3];
    void *cuda; /* device copy of the weights (metrics_cuda.cu), NULL until first used there */
};

/* Largest activation (floats per image) of the network on an h x w input, or
 * 0 when some layer gets an empty output (*bad_op, when not NULL, is that
 * layer). */
size_t gs_lpips_plan(const gs_lpips *m, int h, int w, int *bad_op);
/* The largest scratch the network's convolutions take from a workspace of
 * context c at an input of h x w (each op gives its scratch back before the
 * next): the CPU and the CUDA evaluators size their workspace with it. */
size_t gs_lpips_workspace(const gs_ctx *c, const gs_lpips *m, int h, int w);
/* Validate a pair of images for LPIPS; the error names the network. */
gs_status gs_lpips_check_inputs(const gs_lpips *m, const gs_image *pred, const gs_image *gt);

#ifdef GS_HAVE_CUDA
/* Frees m->cuda (metrics_cuda.cu). */
void gs_lpips_cuda_release(gs_lpips *m);
#endif

#ifdef __cplusplus
}
#endif
#endif
