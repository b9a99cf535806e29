/* metrics_cuda.cu - PSNR, SSIM (skimage and 3DGS variants) and LPIPS on the
 * GPU, computing what eval/psnr.c, eval/ssim.c and eval/lpips.c compute:
 *
 *  PSNR   clamp, squared differences in double, deterministic two-stage sum.
 *  SSIM   the separable 11-tap Gaussian (sigma 1.5) in double: a vertical
 *         pass into five planes (x, y, x^2, y^2, xy), then a horizontal pass
 *         that evaluates SSIM per output pixel and sums it per block; "valid"
 *         windows for skimage, zero padding for 3DGS, as on the CPU.
 *  LPIPS  the same network tables (lpips_impl.h) in float32 through the op
 *         layer on a CUDA context (gs/ops/ops.h -> gs/ops/cuda_conv.cu:
 *         im2col + cuBLAS SGEMM without TF32, both images of the pair as one
 *         batch; max-pool with torch's window rules); fire modules write
 *         their two expand branches straight into the two halves of the
 *         concatenated output (y_batch). What stays here is the metric: the
 *         input scaling, per-tap unit normalisation, weighted squared
 *         difference and spatial mean in double.
 * The context (stream, cuBLAS handle: gs/cuda/) and the buffers come from
 * gs/cuda/cuda_common.cuh; the convolutions' scratch from a device arena
 * grown to the largest need. All reductions use fixed grids and fixed
 * orders, so results are reproducible run to run. Host images are uploaded
 * into buffers that the context keeps and grows, once per metric call, or
 * once for all the metrics of a held pair (gs_eval_cuda_hold_pair). */
#include "gs/cuda/cuda_common.cuh"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/lpips_impl.h"
#include "gs/ops/ops.h"

#define BS GS_CUDA_BLOCK /* threads per block of every kernel (block_sum's shared array) */
#define MAX_BLOCKS 1024  /* grid of the grid-stride reductions */
#define SSIM_R (GS_SSIM_WIN / 2)

struct gs_eval_cuda {
    gs_cuda_ctx *cu;   /* device, stream, cuBLAS handle */
    gs_arena ws;       /* device workspace of the LPIPS convolutions (im2col columns) */
    gs_ctx ops;        /* the op context: CUDA, cu, &ws */
    gs_dbuf img[2];    /* the pair, HWC floats */
    gs_dbuf partial;   /* per-block sums */
    gs_dbuf planes;    /* SSIM's vertical pass */
    gs_dbuf act[3];    /* LPIPS activations, both images */
    double *result;    /* small array of results copied back at the end */
    int *flag;         /* non-finite input seen */
    /* the held pair (gs_eval_cuda_hold_pair) and whether img[] holds it */
    const float *held[2];
    int held_w, held_h, held_c, held_on_device;
};

/* Device copy of an LPIPS model's weights (m->cuda): one allocation, every
 * tensor at a 64-byte aligned offset in it. */
typedef struct {
    float *block;
    float *w[GS_LP_MAX_OPS][GS_LP_MAX_PARAMS], *b[GS_LP_MAX_OPS][GS_LP_MAX_PARAMS];
    float *lin[GS_LPIPS_MAX_LAYERS];
} lp_device;

#define F(buf) ((float *)(buf).p)
#define D(buf) ((double *)(buf).p)

/* ---- context ------------------------------------------------------------------- */
extern "C" gs_status gs_eval_cuda_new(gs_eval_cuda **out) {
    *out = NULL;
    gs_eval_cuda *c = (gs_eval_cuda *)calloc(1, sizeof *c);
    if (!c) return gs_error(GS_ERR_NOMEM, "cuda: out of memory for the evaluation context");
    gs_status s = gs_cuda_ctx_create(&c->cu, 1);
    if (!s) s = gs_cuda_alloc((void **)&c->result, 64 * sizeof(double), "metric results");
    if (!s) s = gs_cuda_alloc((void **)&c->flag, sizeof(int), "the non-finite flag");
    if (s) {
        gs_eval_cuda_free(c);
        return s;
    }
    c->ops.device = GS_DEVICE_CUDA;
    c->ops.cuda = c->cu;
    c->ops.ws = &c->ws;
    *out = c;
    return GS_OK;
}

extern "C" void gs_eval_cuda_free(gs_eval_cuda *c) {
    if (!c) return;
    if (c->cu) gs_cuda_ctx_sync(c->cu);
    gs_dbuf *all[] = {&c->img[0], &c->img[1], &c->partial, &c->planes, &c->act[0], &c->act[1], &c->act[2]};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gs_dbuf_free(all[i], NULL);
    gs_arena_destroy(&c->ws);
    gs_cuda_free(c->result);
    gs_cuda_free(c->flag);
    gs_cuda_ctx_free(c->cu);
    free(c);
}

extern "C" const char *gs_eval_cuda_device_name(const gs_eval_cuda *c) { return c ? gs_cuda_ctx_name(c->cu) : "none"; }

extern "C" gs_status gs_eval_cuda_sync(gs_eval_cuda *c) {
    if (!c) return gs_error(GS_ERR_INVALID, "cuda: no context");
    return gs_cuda_ctx_sync(c->cu);
}

extern "C" void gs_eval_cuda_hold_pair(gs_eval_cuda *c, const gs_image *pred, const gs_image *gt) {
    if (!c) return;
    c->held[0] = pred ? pred->data : NULL;
    c->held[1] = gt ? gt->data : NULL;
    c->held_w = pred ? pred->width : 0, c->held_h = pred ? pred->height : 0, c->held_c = pred ? pred->channels : 0;
    c->held_on_device = 0;
}

extern "C" void gs_eval_cuda_release_pair(gs_eval_cuda *c) {
    if (!c) return;
    c->held[0] = c->held[1] = NULL;
    c->held_on_device = 0;
}

/* Upload both images (HWC floats), unless they are the held pair and img[]
 * already holds it. */
static gs_status upload(gs_eval_cuda *c, const gs_image *pred, const gs_image *gt) {
    const int is_held = c->held[0] && pred->data == c->held[0] && gt->data == c->held[1] &&
                        pred->width == c->held_w && pred->height == c->held_h && pred->channels == c->held_c &&
                        gt->width == c->held_w && gt->height == c->held_h && gt->channels == c->held_c;
    if (is_held && c->held_on_device) return GS_OK;
    c->held_on_device = 0; /* img[] is being overwritten */
    const size_t bytes = (size_t)pred->width * pred->height * pred->channels * sizeof(float);
    gs_status s = gs_dbuf_reserve(&c->img[0], bytes, 1, NULL, "the prediction");
    if (!s) s = gs_dbuf_reserve(&c->img[1], bytes, 1, NULL, "the ground truth");
    if (s) return s;
    const cudaStream_t st = c->cu->stream;
    GS_CU(cudaMemcpyAsync(c->img[0].p, pred->data, bytes, cudaMemcpyHostToDevice, st), "uploading the prediction");
    GS_CU(cudaMemcpyAsync(c->img[1].p, gt->data, bytes, cudaMemcpyHostToDevice, st), "uploading the ground truth");
    c->held_on_device = is_held;
    return GS_OK;
}

static gs_status same_shape(const char *what, const gs_image *pred, const gs_image *gt) {
    if (!pred || !gt || !pred->data || !gt->data) return gs_error(GS_ERR_INVALID, "%s: missing image", what);
    if (pred->width != gt->width || pred->height != gt->height || pred->channels != gt->channels)
        return gs_error(GS_ERR_INVALID, "%s: prediction is %dx%dx%d but ground truth is %dx%dx%d", what, pred->width,
                        pred->height, pred->channels, gt->width, gt->height, gt->channels);
    if (pred->width < 1 || pred->height < 1 || pred->channels < 1)
        return gs_error(GS_ERR_INVALID, "%s: empty image (%dx%d, %d channels)", what, pred->width, pred->height,
                        pred->channels);
    return GS_OK;
}

/* ---- reductions ---------------------------------------------------------------- */
/* Sum of v over the block, returned to every thread (fixed tree order). */
__device__ double block_sum(double v) {
    __shared__ double sh[BS];
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = BS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    const double r = sh[0];
    __syncthreads();
    return r;
}

/* out[0] = scale * sum(partial[0..n)), one block. */
__global__ void k_finish_sum(const double *partial, size_t n, double scale, double *out) {
    double s = 0.0;
    for (size_t i = threadIdx.x; i < n; i += BS) s += partial[i];
    s = block_sum(s);
    if (threadIdx.x == 0) *out = s * scale;
}

static unsigned grid_for(size_t n) {
    size_t g = (n + BS - 1) / BS;
    return (unsigned)(g < 1 ? 1 : (g > MAX_BLOCKS ? MAX_BLOCKS : g));
}

/* ---- PSNR -------------------------------------------------------------------------- */
__device__ double clamp01(double v) { return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v); }

__global__ void k_psnr(const float *a, const float *b, size_t n, double *partial, int *bad) {
    double s = 0.0;
    int nf = 0;
    for (size_t i = (size_t)blockIdx.x * BS + threadIdx.x; i < n; i += (size_t)gridDim.x * BS) {
        const float x = a[i], y = b[i];
        if (!isfinite(x) || !isfinite(y)) nf = 1;
        const double d = clamp01(x) - clamp01(y);
        s += d * d;
    }
    s = block_sum(s);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
    if (nf) *bad = 1;
}

/* Copy n results and the non-finite flag back; waits for the stream. */
static gs_status fetch(gs_eval_cuda *c, double *res, int n, int *bad) {
    const cudaStream_t st = c->cu->stream;
    GS_CU(cudaMemcpyAsync(res, c->result, (size_t)n * sizeof(double), cudaMemcpyDeviceToHost, st), "reading back");
    if (bad) GS_CU(cudaMemcpyAsync(bad, c->flag, sizeof(int), cudaMemcpyDeviceToHost, st), "reading back");
    GS_CU(cudaStreamSynchronize(st), "computing");
    return GS_OK;
}

extern "C" gs_status gs_psnr_cuda(gs_eval_cuda *c, const gs_image *pred, const gs_image *gt, double *out) {
    gs_status s = same_shape("psnr", pred, gt);
    if (s) return s;
    if (!c || !out) return gs_error(GS_ERR_INVALID, "psnr: missing argument");
    const size_t n = (size_t)pred->width * pred->height * pred->channels;
    const unsigned g = grid_for(n);
    const cudaStream_t st = c->cu->stream;
    if ((s = upload(c, pred, gt)) || (s = gs_dbuf_reserve(&c->partial, g * sizeof(double), 1, NULL, "psnr sums")))
        return s;
    GS_CU(cudaMemsetAsync(c->flag, 0, sizeof(int), st), "psnr");
    k_psnr<<<g, BS, 0, st>>>(F(c->img[0]), F(c->img[1]), n, D(c->partial), c->flag);
    GS_CU_LAUNCHED("psnr kernel");
    k_finish_sum<<<1, BS, 0, st>>>(D(c->partial), g, 1.0 / (double)n, c->result);
    GS_CU_LAUNCHED("psnr sum");
    double mse;
    int bad = 0;
    if ((s = fetch(c, &mse, 1, &bad))) return s;
    if (bad) return gs_error(GS_ERR_INVALID, "psnr: the images contain NaN or Inf values");
    *out = mse > 0.0 ? -10.0 * log10(mse) : INFINITY;
    return GS_OK;
}

/* ---- SSIM -------------------------------------------------------------------------- */
typedef struct {
    double g[GS_SSIM_WIN];
} taps11;

/* scipy.ndimage._gaussian_kernel1d(sigma=1.5, radius=5), as eval/ssim.c */
static taps11 gauss_taps(void) {
    taps11 t;
    const double sigma2 = 1.5 * 1.5;
    double sum = 0.0;
    for (int i = 0; i < GS_SSIM_WIN; i++) {
        const double x = i - SSIM_R;
        t.g[i] = exp(-0.5 / sigma2 * (x * x));
        sum += t.g[i];
    }
    for (int i = 0; i < GS_SSIM_WIN; i++) t.g[i] /= sum;
    return t;
}

/* Vertical pass: planes [5][C][ho][w] (x, y, xx, yy, xy), one thread per
 * (x, row, channel). same != 0: zero-padded rows (3DGS), else valid rows. */
__global__ void k_ssim_vertical(const float *a, const float *b, int w, int h, int nc, int ho, int same, taps11 t,
                                double *planes, int *bad) {
    const int x = blockIdx.x * BS + threadIdx.x, r = blockIdx.y, ch = blockIdx.z;
    if (x >= w) return;
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    int nf = 0;
    for (int i = 0; i < GS_SSIM_WIN; i++) {
        const int src = same ? r - SSIM_R + i : r + i;
        if (src < 0 || src >= h) continue;
        const size_t at = ((size_t)src * w + x) * nc + ch;
        const float fa = a[at], fb = b[at];
        if (!isfinite(fa) || !isfinite(fb)) nf = 1;
        const double xa = fa, yb = fb, gi = t.g[i];
        sx += gi * xa;
        sy += gi * yb;
        sxx += gi * (xa * xa);
        syy += gi * (yb * yb);
        sxy += gi * (xa * yb);
    }
    const size_t plane = (size_t)nc * ho * w, at = ((size_t)ch * ho + r) * w + x;
    planes[at] = sx;
    planes[plane + at] = sy;
    planes[2 * plane + at] = sxx;
    planes[3 * plane + at] = syy;
    planes[4 * plane + at] = sxy;
    if (nf) *bad = 1;
}

/* Horizontal pass and the SSIM map, summed per block into
 * partial[(ch * ho + r) * gridDim.x + blockIdx.x]. */
__global__ void k_ssim_horizontal(const double *planes, int w, int nc, int ho, int wo, int same, taps11 t,
                                  double *partial) {
    const int c = blockIdx.x * BS + threadIdx.x, r = blockIdx.y, ch = blockIdx.z;
    double s = 0.0;
    if (c < wo) {
        const size_t plane = (size_t)nc * ho * w, row = ((size_t)ch * ho + r) * w;
        double ux = 0, uy = 0, uxx = 0, uyy = 0, uxy = 0;
        for (int j = 0; j < GS_SSIM_WIN; j++) {
            const int src = same ? c - SSIM_R + j : c + j;
            if (src < 0 || src >= w) continue;
            const double gj = t.g[j];
            const size_t at = row + src;
            ux += gj * planes[at];
            uy += gj * planes[plane + at];
            uxx += gj * planes[2 * plane + at];
            uyy += gj * planes[3 * plane + at];
            uxy += gj * planes[4 * plane + at];
        }
        const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
        if (same) { /* 3DGS loss_utils._ssim */
            const double mu1_sq = ux * ux, mu2_sq = uy * uy, mu12 = ux * uy;
            const double s1 = uxx - mu1_sq, s2 = uyy - mu2_sq, s12 = uxy - mu12;
            s = ((2 * mu12 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2));
        } else { /* skimage, sample covariance */
            const double np_ = (double)GS_SSIM_WIN * GS_SSIM_WIN, cov = np_ / (np_ - 1.0);
            const double vx = cov * (uxx - ux * ux), vy = cov * (uyy - uy * uy), vxy = cov * (uxy - ux * uy);
            const double A1 = 2 * ux * uy + C1, A2 = 2 * vxy + C2, B1 = ux * ux + uy * uy + C1, B2 = vx + vy + C2;
            s = (A1 * A2) / (B1 * B2);
        }
    }
    s = block_sum(s);
    if (threadIdx.x == 0) partial[((size_t)ch * ho + r) * gridDim.x + blockIdx.x] = s;
}

extern "C" gs_status gs_ssim_cuda(gs_eval_cuda *c, const gs_image *pred, const gs_image *gt, gs_ssim_mode mode,
                                  double *out) {
    gs_status s = same_shape("ssim", pred, gt);
    if (s) return s;
    if (!c || !out) return gs_error(GS_ERR_INVALID, "ssim: missing argument");
    if (mode != GS_SSIM_SKIMAGE && mode != GS_SSIM_3DGS) return gs_error(GS_ERR_INVALID, "ssim: bad variant %d", mode);
    const int w = pred->width, h = pred->height, nc = pred->channels, same = mode == GS_SSIM_3DGS;
    if (!same && (w < GS_SSIM_WIN || h < GS_SSIM_WIN))
        return gs_error(GS_ERR_INVALID,
                        "ssim: image %dx%d is smaller than the %dx%d SSIM window (scikit-image refuses it too: "
                        "'win_size exceeds image extent'); use --ssim 3dgs or larger images",
                        w, h, GS_SSIM_WIN, GS_SSIM_WIN);
    const int ho = same ? h : h - 2 * SSIM_R, wo = same ? w : w - 2 * SSIM_R;
    const unsigned gx_v = (unsigned)((w + BS - 1) / BS), gx_h = (unsigned)((wo + BS - 1) / BS);
    const size_t n_partial = (size_t)nc * ho * gx_h;
    if ((s = upload(c, pred, gt)) ||
        (s = gs_dbuf_reserve(&c->planes, (size_t)5 * nc * ho * w * sizeof(double), 1, NULL, "ssim planes")) ||
        (s = gs_dbuf_reserve(&c->partial, n_partial * sizeof(double), 1, NULL, "ssim sums")))
        return s;
    const taps11 t = gauss_taps();
    const cudaStream_t st = c->cu->stream;
    GS_CU(cudaMemsetAsync(c->flag, 0, sizeof(int), st), "ssim");
    k_ssim_vertical<<<dim3(gx_v, (unsigned)ho, (unsigned)nc), BS, 0, st>>>(F(c->img[0]), F(c->img[1]), w, h, nc, ho,
                                                                           same, t, D(c->planes), c->flag);
    GS_CU_LAUNCHED("ssim vertical pass");
    k_ssim_horizontal<<<dim3(gx_h, (unsigned)ho, (unsigned)nc), BS, 0, st>>>(D(c->planes), w, nc, ho, wo, same, t,
                                                                             D(c->partial));
    GS_CU_LAUNCHED("ssim horizontal pass");
    k_finish_sum<<<1, BS, 0, st>>>(D(c->partial), n_partial, 1.0 / ((double)nc * ho * wo), c->result);
    GS_CU_LAUNCHED("ssim sum");
    double v;
    int bad = 0;
    if ((s = fetch(c, &v, 1, &bad))) return s;
    if (bad) return gs_error(GS_ERR_INVALID, "ssim: the images contain NaN or Inf values");
    *out = v;
    return GS_OK;
}

/* ---- LPIPS ------------------------------------------------------------------------- */
extern "C" void gs_lpips_cuda_release(gs_lpips *m) {
    lp_device *d = (lp_device *)m->cuda;
    if (!d) return;
    gs_cuda_free(d->block);
    free(d);
    m->cuda = NULL;
}

typedef struct {
    float **slot;     /* where the device pointer goes */
    const float *src; /* host data */
    size_t n;         /* floats */
} lp_tensor;

#define LP_MAX_TENSORS (2 * GS_LP_MAX_OPS * GS_LP_MAX_PARAMS + GS_LPIPS_MAX_LAYERS)

/* Every tensor of m with its device slot in d; returns the count. */
static int lp_tensors(const gs_lpips *m, lp_device *d, lp_tensor *t) {
    int k = 0;
    for (int i = 0; i < m->n_ops; i++) {
        const gs_lp_op *o = &m->ops[i];
        if (o->kind == GS_LP_CONV) {
            t[k++] = {&d->w[i][0], m->wts[i].w[0], (size_t)o->cout * o->cin * o->k * o->k};
            t[k++] = {&d->b[i][0], m->wts[i].b[0], (size_t)o->cout};
        } else if (o->kind == GS_LP_FIRE) {
            const size_t wn[3] = {(size_t)o->squeeze * o->cin, (size_t)o->cout * o->squeeze,
                                  (size_t)o->cout * o->squeeze * 9};
            const size_t bn[3] = {(size_t)o->squeeze, (size_t)o->cout, (size_t)o->cout};
            for (int j = 0; j < 3; j++) {
                t[k++] = {&d->w[i][j], m->wts[i].w[j], wn[j]};
                t[k++] = {&d->b[i][j], m->wts[i].b[j], bn[j]};
            }
        }
    }
    for (int j = 0; j < m->n_taps; j++) t[k++] = {&d->lin[j], m->lin[j], (size_t)m->lin_c[j]};
    return k;
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; } /* floats: 64 bytes */

/* Upload every tensor of m once, into one allocation (kept until gs_lpips_free). */
static gs_status upload_model(gs_eval_cuda *c, gs_lpips *m) {
    if (m->cuda) return GS_OK;
    lp_device *d = (lp_device *)calloc(1, sizeof *d);
    if (!d) return gs_error(GS_ERR_NOMEM, "cuda: out of memory for the LPIPS model");
    lp_tensor t[LP_MAX_TENSORS];
    const int nt = lp_tensors(m, d, t);
    size_t total = 0;
    for (int i = 0; i < nt; i++) total += align16(t[i].n);
    gs_status s = gs_cuda_alloc((void **)&d->block, total * sizeof(float), "the LPIPS weights");
    size_t off = 0;
    for (int i = 0; i < nt && !s; i++) {
        *t[i].slot = d->block + off;
        s = gs_cuda_upload(c->cu, *t[i].slot, t[i].src, t[i].n * sizeof(float));
        off += align16(t[i].n);
    }
    if (s) {
        gs_cuda_free(d->block);
        free(d);
        return gs_error_prefix(s, "uploading the LPIPS weights");
    }
    m->cuda = d;
    return GS_OK;
}

typedef struct {
    float shift[3], scale[3];
} scaling;

/* HWC [0,1] images (1 or 3 channels) -> NCHW [2, 3, h, w]: 2x - 1, then
 * (x - shift) / scale, in float like torch. */
__global__ void k_lpips_input(const float *pred, const float *gt, size_t hw, int nc, scaling sc, float *out) {
    const size_t p = (size_t)blockIdx.x * BS + threadIdx.x;
    const int b = blockIdx.y;
    if (p >= hw) return;
    const float *src = b ? gt : pred;
    for (int c = 0; c < 3; c++) {
        const float v = 2.0f * src[p * nc + (nc == 1 ? 0 : c)] - 1.0f;
        out[((size_t)b * 3 + c) * hw + p] = __fdiv_rn(v - sc.shift[c], sc.scale[c]);
    }
}

/* One LPIPS tap, per block: sum over its pixels of
 * sum_c lin[c] (f0/(|f0|+eps) - f1/(|f1|+eps))^2, in double; feat [2, c, hw]. */
__global__ void k_tap(const float *feat, int c, size_t hw, const float *lin, double *partial) {
    double acc = 0.0;
    const float *f0 = feat, *f1 = feat + (size_t)c * hw;
    for (size_t p = (size_t)blockIdx.x * BS + threadIdx.x; p < hw; p += (size_t)gridDim.x * BS) {
        double n0 = 0.0, n1 = 0.0;
        for (int ch = 0; ch < c; ch++) {
            const double a = f0[(size_t)ch * hw + p], b = f1[(size_t)ch * hw + p];
            n0 += a * a;
            n1 += b * b;
        }
        /* lpips.normalize_tensor: x / (sqrt(sum x^2) + 1e-10) */
        n0 = 1.0 / (sqrt(n0) + 1e-10);
        n1 = 1.0 / (sqrt(n1) + 1e-10);
        double s = 0.0;
        for (int ch = 0; ch < c; ch++) {
            const double d = f0[(size_t)ch * hw + p] * n0 - f1[(size_t)ch * hw + p] * n1;
            s += lin[ch] * d * d;
        }
        acc += s;
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

static unsigned blocks_for(size_t n) { return (unsigned)((n + BS - 1) / BS); }

static gs_conv2d_params conv_params(int cin, int cout, int k, int stride, int pad, size_t y_batch) {
    gs_conv2d_params p;
    memset(&p, 0, sizeof p);
    p.c_in = cin, p.c_out = cout, p.kh = p.kw = k, p.stride_h = p.stride_w = stride, p.pad_h = p.pad_w = pad;
    p.y_batch = y_batch;
    return p;
}

/* Make the op workspace hold at least `bytes`. */
static gs_status reserve_ws(gs_eval_cuda *c, size_t bytes) {
    if (c->ws.base && c->ws.size >= bytes) return GS_OK;
    if (c->ws.base) {
        gs_status s = gs_cuda_ctx_sync(c->cu); /* queued convolutions may still use it */
        if (s) return s;
        gs_arena_destroy(&c->ws);
    }
    return gs_arena_create(&c->ws, GS_DEVICE_CUDA, bytes, "the LPIPS convolution workspace");
}

/* One layer of the network on the pair: cur [2, ch, h, w] -> next (tmp: a
 * fire module's squeeze output); updates h, w, ch. */
static gs_status lpips_layer(gs_eval_cuda *c, const gs_lp_op *o, const lp_device *d, int i, const float *cur,
                             float *next, float *tmp, int *h, int *w, int *ch) {
    const gs_ctx *x = &c->ops;
    if (o->kind == GS_LP_CONV) {
        const gs_conv2d_params p = conv_params(o->cin, o->cout, o->k, o->stride, o->pad, 0);
        const gs_wt wt = gs_wt_f32(d->w[i][0], 4, o->cout, o->cin, o->k, o->k);
        gs_status s = gs_conv2d(x, &p, cur, 2, *h, *w, &wt, d->b[i][0], next, 1);
        *h = gs_conv2d_out_size(*h, o->k, o->stride, o->pad), *w = gs_conv2d_out_size(*w, o->k, o->stride, o->pad);
        *ch = o->cout;
        return s;
    }
    if (o->kind == GS_LP_POOL) {
        gs_status s = gs_maxpool2d(x, cur, 2, *ch, *h, *w, o->k, o->stride, o->pad, o->ceil_mode, next);
        *h = gs_pool_out_size(*h, o->k, o->stride, o->pad, o->ceil_mode);
        *w = gs_pool_out_size(*w, o->k, o->stride, o->pad, o->ceil_mode);
        return s;
    }
    /* fire: squeeze 1x1 + relu into tmp, the two expands (+ relu) into the
     * two halves of each image's concatenated output */
    const size_t P = (size_t)*h * *w, cat = (size_t)2 * o->cout * P;
    const gs_conv2d_params sq = conv_params(o->cin, o->squeeze, 1, 1, 0, 0);
    const gs_conv2d_params e1 = conv_params(o->squeeze, o->cout, 1, 1, 0, cat);
    const gs_conv2d_params e3 = conv_params(o->squeeze, o->cout, 3, 1, 1, cat);
    const gs_wt wsq = gs_wt_f32(d->w[i][0], 4, o->squeeze, o->cin, 1, 1);
    const gs_wt we1 = gs_wt_f32(d->w[i][1], 4, o->cout, o->squeeze, 1, 1);
    const gs_wt we3 = gs_wt_f32(d->w[i][2], 4, o->cout, o->squeeze, 3, 3);
    gs_status s = gs_conv2d(x, &sq, cur, 2, *h, *w, &wsq, d->b[i][0], tmp, 1);
    if (!s) s = gs_conv2d(x, &e1, tmp, 2, *h, *w, &we1, d->b[i][1], next, 1);
    if (!s) s = gs_conv2d(x, &e3, tmp, 2, *h, *w, &we3, d->b[i][2], next + (size_t)o->cout * P, 1);
    *ch = 2 * o->cout;
    return s;
}

extern "C" gs_status gs_lpips_eval_cuda(gs_eval_cuda *c, gs_lpips *m, const gs_image *pred, const gs_image *gt,
                                        double *out, double *per_layer) {
    if (!c || !out) return gs_error(GS_ERR_INVALID, "lpips: missing argument");
    gs_status s = gs_lpips_check_inputs(m, pred, gt);
    if (s) return s;
    const char *label = gs_lpips_label(m->net);
    int h = pred->height, w = pred->width, ch = 3;
    const size_t biggest = gs_lpips_plan(m, h, w, NULL);
    if ((s = upload_model(c, m)) || (s = upload(c, pred, gt))) return gs_error_prefix(s, "%s", label);
    for (int i = 0; i < 3 && !s; i++)
        s = gs_dbuf_reserve(&c->act[i], 2 * biggest * sizeof(float), 1, NULL, "activations");
    const size_t max_hw = (size_t)h * w; /* taps never exceed the input's pixel count */
    if (!s) s = gs_dbuf_reserve(&c->partial, grid_for(max_hw) * sizeof(double), 1, NULL, "lpips sums");
    if (!s) s = reserve_ws(c, gs_lpips_workspace(&c->ops, m, h, w));
    if (s) return gs_error_prefix(s, "%s", label);
    const lp_device *d = (const lp_device *)m->cuda;
    const cudaStream_t st = c->cu->stream;
    scaling sc;
    memcpy(sc.shift, m->shift, sizeof sc.shift);
    memcpy(sc.scale, m->scale, sizeof sc.scale);
    float *cur = F(c->act[0]), *next = F(c->act[1]), *tmp = F(c->act[2]);
    const size_t hw0 = (size_t)h * w;
    k_lpips_input<<<dim3(blocks_for(hw0), 2), BS, 0, st>>>(F(c->img[0]), F(c->img[1]), hw0, pred->channels, sc, cur);
    s = gs_cuda_launched("lpips input");
    int tap = 0;
    for (int i = 0; i < m->n_ops && !s; i++) {
        const gs_lp_op *o = &m->ops[i];
        s = lpips_layer(c, o, d, i, cur, next, tmp, &h, &w, &ch);
        float *t = cur;
        cur = next;
        next = t;
        if (!s && o->tap) {
            const size_t hw = (size_t)h * w;
            const unsigned g = grid_for(hw);
            k_tap<<<g, BS, 0, st>>>(cur, ch, hw, d->lin[tap], D(c->partial));
            s = gs_cuda_launched("lpips tap");
            if (!s) {
                k_finish_sum<<<1, BS, 0, st>>>(D(c->partial), g, 1.0 / (double)hw, c->result + tap);
                s = gs_cuda_launched("lpips tap sum");
            }
            tap++;
        }
    }
    double layers[GS_LPIPS_MAX_LAYERS];
    if (!s) s = fetch(c, layers, tap, NULL);
    if (s) return gs_error_prefix(s, "%s", label);
    double total = 0.0;
    for (int t = 0; t < tap; t++) {
        total += layers[t];
        if (per_layer) per_layer[t] = layers[t];
    }
    *out = total;
    return GS_OK;
}
