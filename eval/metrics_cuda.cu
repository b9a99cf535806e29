/* metrics_cuda.cu - PSNR, SSIM (skimage and 3DGS variants) and LPIPS on the
 * GPU, computing what eval/psnr.c, eval/ssim.c and eval/lpips.c compute:
 *
 *  PSNR   clamp, squared differences in double, deterministic two-stage sum.
 *  SSIM   the separable 11-tap Gaussian (sigma 1.5) in double: a vertical
 *         pass into five planes (x, y, x^2, y^2, xy), then a horizontal pass
 *         that evaluates SSIM per output pixel and sums it per block; "valid"
 *         windows for skimage, zero padding for 3DGS, as on the CPU.
 *  LPIPS  the same network tables (lpips_impl.h) in float32: convolutions as
 *         im2col + cuBLAS SGEMM (default math mode: no TF32) over bands of
 *         output rows, both images of the pair in one strided-batched GEMM;
 *         bias + ReLU, max-pool with torch's window rules, fire modules
 *         writing their two expand branches straight into the concatenated
 *         output; per-tap unit normalisation, weighted squared difference
 *         and spatial mean in double.
 * All reductions use fixed grids and fixed orders, so results are
 * reproducible run to run. Host images are uploaded into buffers that the
 * context keeps and grows, once per metric call, or once for all the metrics
 * of a held pair (gs_eval_cuda_hold_pair). */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <pthread.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/lpips_impl.h"
#include "gs/ops/ops.h"

#define BS 256          /* threads per block of every kernel */
#define MAX_BLOCKS 1024 /* grid of the grid-stride reductions */
#define SSIM_R (GS_SSIM_WIN / 2)
/* floats of the im2col buffer of one band (both images): 256 MiB */
#define COL_BUDGET ((size_t)64 << 20)

struct gs_eval_cuda {
    cudaStream_t stream;
    cublasHandle_t blas;
    char name[256];
    float *img[2];
    size_t img_cap[2];
    double *partial;
    size_t partial_cap;
    double *result; /* small array of results copied back at the end */
    int *flag;      /* non-finite input seen */
    double *planes;
    size_t planes_cap;
    float *act[3];
    size_t act_cap[3];
    float *col;
    size_t col_cap;
    /* the held pair (gs_eval_cuda_hold_pair) and whether img[] holds it */
    const float *held[2];
    int held_w, held_h, held_c, held_on_device;
};

/* Device copy of an LPIPS model's weights (m->cuda). */
typedef struct {
    float *w[GS_LP_MAX_OPS][GS_LP_MAX_PARAMS], *b[GS_LP_MAX_OPS][GS_LP_MAX_PARAMS];
    float *lin[GS_LPIPS_MAX_LAYERS];
} lp_device;

static gs_status cu_err(cudaError_t e, const char *what) {
    return gs_error(GS_ERR_DEVICE, "cuda: %s: %s", what, cudaGetErrorString(e));
}

#define CU(call, what)                                   \
    do {                                                 \
        cudaError_t e_ = (call);                         \
        if (e_ != cudaSuccess) return cu_err(e_, what);  \
    } while (0)

#define LAUNCHED(what) CU(cudaGetLastError(), what)

static gs_status blas_err(cublasStatus_t st, const char *what) {
    return gs_error(GS_ERR_DEVICE, "cublas: %s failed (status %d)", what, (int)st);
}

/* cuBLAS is opened on first use instead of being linked: a linked libcublas
 * (with libcublasLt) puts ~200 MiB of resident pages into every gs process,
 * CPU-only runs included. The five entry points LPIPS needs are looked up
 * by their exported names (the _v2 ones behind the header's macros). */
#define GS_STR_(x) #x
#define GS_STR(x) GS_STR_(x)
static struct {
    pthread_once_t once;
    const char *error; /* why it could not be opened; NULL when it was */
    decltype(&cublasCreate_v2) create;
    decltype(&cublasDestroy_v2) destroy;
    decltype(&cublasSetStream_v2) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
} g_cublas = {PTHREAD_ONCE_INIT, NULL, NULL, NULL, NULL, NULL, NULL};

static void cublas_open(void) {
    static char why[512];
    const char *names[2] = {"libcublas.so." GS_STR(CUBLAS_VER_MAJOR), "libcublas.so"};
    void *lib = NULL;
    for (int i = 0; i < 2 && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(why, sizeof why, "cannot open %s: %s", names[0], e ? e : "not found");
        g_cublas.error = why;
        return;
    }
    struct {
        const char *sym;
        void **slot;
    } want[5] = {{"cublasCreate_v2", (void **)&g_cublas.create},
                 {"cublasDestroy_v2", (void **)&g_cublas.destroy},
                 {"cublasSetStream_v2", (void **)&g_cublas.set_stream},
                 {"cublasSetMathMode", (void **)&g_cublas.set_math_mode},
                 {"cublasSgemmStridedBatched", (void **)&g_cublas.sgemm_strided_batched}};
    for (int i = 0; i < 5; i++) {
        *want[i].slot = dlsym(lib, want[i].sym);
        if (!*want[i].slot) {
            snprintf(why, sizeof why, "%s has no %s", names[0], want[i].sym);
            g_cublas.error = why;
            return;
        }
    }
}

extern "C" gs_status gs_cuda_blas_load(void) {
    pthread_once(&g_cublas.once, cublas_open);
    if (g_cublas.error) return gs_error(GS_ERR_DEVICE, "cublas: %s", g_cublas.error);
    return GS_OK;
}

/* Grow a device buffer to hold at least `bytes` (contents are not kept). */
static gs_status ensure(void **p, size_t *cap, size_t bytes, const char *what) {
    if (*cap >= bytes && *p) return GS_OK;
    if (*p) {
        cudaDeviceSynchronize(); /* queued kernels may still read the old buffer */
        cudaFree(*p);
    }
    *p = NULL;
    *cap = 0;
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        *p = NULL;
        cudaGetLastError();
        return gs_error(GS_ERR_NOMEM, "cuda: cannot allocate %.1f MiB for %s: %s", (double)bytes / (1 << 20), what,
                        cudaGetErrorString(e));
    }
    *cap = bytes;
    return GS_OK;
}

#define ENSURE(ptr, cap, bytes, what) ensure((void **)&(ptr), &(cap), (bytes), (what))

/* ---- context ------------------------------------------------------------------- */
extern "C" gs_status gs_eval_cuda_new(gs_eval_cuda **out) {
    *out = NULL;
    if (gs_cuda_device_count() < 1) return gs_error(GS_ERR_DEVICE, "no usable CUDA device");
    gs_eval_cuda *c = (gs_eval_cuda *)calloc(1, sizeof *c);
    if (!c) return gs_error(GS_ERR_NOMEM, "cuda: out of memory for the evaluation context");
    gs_status s = GS_OK;
    cudaDeviceProp p;
    cudaError_t e = cudaSetDevice(0);
    if (e == cudaSuccess) e = cudaGetDeviceProperties(&p, 0);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
    if (e == cudaSuccess) e = cudaMalloc((void **)&c->result, 64 * sizeof(double));
    if (e == cudaSuccess) e = cudaMalloc((void **)&c->flag, sizeof(int));
    if (e != cudaSuccess) s = cu_err(e, "opening the device");
    if (!s) {
        snprintf(c->name, sizeof c->name, "%.200s, sm_%d%d", p.name, p.major, p.minor);
        s = gs_cuda_blas_load();
    }
    if (!s) {
        cublasStatus_t bs = g_cublas.create(&c->blas);
        if (bs != CUBLAS_STATUS_SUCCESS) {
            c->blas = NULL;
            s = blas_err(bs, "cublasCreate");
        }
    }
    if (!s) {
        cublasStatus_t bs = g_cublas.set_stream(c->blas, c->stream);
        /* plain FP32 GEMMs: TF32 would cost LPIPS its 1e-4 agreement */
        if (bs == CUBLAS_STATUS_SUCCESS) bs = g_cublas.set_math_mode(c->blas, CUBLAS_DEFAULT_MATH);
        if (bs != CUBLAS_STATUS_SUCCESS) s = blas_err(bs, "cublas setup");
    }
    if (s) {
        gs_eval_cuda_free(c);
        return s;
    }
    *out = c;
    return GS_OK;
}

extern "C" void gs_eval_cuda_free(gs_eval_cuda *c) {
    if (!c) return;
    if (c->stream) cudaStreamSynchronize(c->stream);
    if (c->blas) g_cublas.destroy(c->blas);
    for (int i = 0; i < 2; i++) cudaFree(c->img[i]);
    for (int i = 0; i < 3; i++) cudaFree(c->act[i]);
    cudaFree(c->partial);
    cudaFree(c->result);
    cudaFree(c->flag);
    cudaFree(c->planes);
    cudaFree(c->col);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}

extern "C" const char *gs_eval_cuda_device_name(const gs_eval_cuda *c) { return c ? c->name : "none"; }

extern "C" gs_status gs_eval_cuda_sync(gs_eval_cuda *c) {
    if (!c) return gs_error(GS_ERR_INVALID, "cuda: no context");
    CU(cudaStreamSynchronize(c->stream), "synchronising");
    return GS_OK;
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
    gs_status s = ENSURE(c->img[0], c->img_cap[0], bytes, "the prediction");
    if (!s) s = ENSURE(c->img[1], c->img_cap[1], bytes, "the ground truth");
    if (s) return s;
    CU(cudaMemcpyAsync(c->img[0], pred->data, bytes, cudaMemcpyHostToDevice, c->stream), "uploading the prediction");
    CU(cudaMemcpyAsync(c->img[1], gt->data, bytes, cudaMemcpyHostToDevice, c->stream), "uploading the ground truth");
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
    CU(cudaMemcpyAsync(res, c->result, (size_t)n * sizeof(double), cudaMemcpyDeviceToHost, c->stream), "reading back");
    if (bad) CU(cudaMemcpyAsync(bad, c->flag, sizeof(int), cudaMemcpyDeviceToHost, c->stream), "reading back");
    CU(cudaStreamSynchronize(c->stream), "computing");
    return GS_OK;
}

extern "C" gs_status gs_psnr_cuda(gs_eval_cuda *c, const gs_image *pred, const gs_image *gt, double *out) {
    gs_status s = same_shape("psnr", pred, gt);
    if (s) return s;
    if (!c || !out) return gs_error(GS_ERR_INVALID, "psnr: missing argument");
    const size_t n = (size_t)pred->width * pred->height * pred->channels;
    const unsigned g = grid_for(n);
    if ((s = upload(c, pred, gt)) || (s = ENSURE(c->partial, c->partial_cap, g * sizeof(double), "psnr sums")))
        return s;
    CU(cudaMemsetAsync(c->flag, 0, sizeof(int), c->stream), "psnr");
    k_psnr<<<g, BS, 0, c->stream>>>(c->img[0], c->img[1], n, c->partial, c->flag);
    LAUNCHED("psnr kernel");
    k_finish_sum<<<1, BS, 0, c->stream>>>(c->partial, g, 1.0 / (double)n, c->result);
    LAUNCHED("psnr sum");
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
        (s = ENSURE(c->planes, c->planes_cap, (size_t)5 * nc * ho * w * sizeof(double), "ssim planes")) ||
        (s = ENSURE(c->partial, c->partial_cap, n_partial * sizeof(double), "ssim sums")))
        return s;
    const taps11 t = gauss_taps();
    CU(cudaMemsetAsync(c->flag, 0, sizeof(int), c->stream), "ssim");
    k_ssim_vertical<<<dim3(gx_v, (unsigned)ho, (unsigned)nc), BS, 0, c->stream>>>(c->img[0], c->img[1], w, h, nc, ho,
                                                                                  same, t, c->planes, c->flag);
    LAUNCHED("ssim vertical pass");
    k_ssim_horizontal<<<dim3(gx_h, (unsigned)ho, (unsigned)nc), BS, 0, c->stream>>>(c->planes, w, nc, ho, wo, same, t,
                                                                                    c->partial);
    LAUNCHED("ssim horizontal pass");
    k_finish_sum<<<1, BS, 0, c->stream>>>(c->partial, n_partial, 1.0 / ((double)nc * ho * wo), c->result);
    LAUNCHED("ssim sum");
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
    for (int i = 0; i < GS_LP_MAX_OPS; i++)
        for (int j = 0; j < GS_LP_MAX_PARAMS; j++) {
            cudaFree(d->w[i][j]);
            cudaFree(d->b[i][j]);
        }
    for (int i = 0; i < GS_LPIPS_MAX_LAYERS; i++) cudaFree(d->lin[i]);
    free(d);
    m->cuda = NULL;
}

static gs_status put(float **dst, const float *src, size_t n) {
    *dst = NULL;
    cudaError_t e = cudaMalloc((void **)dst, n * sizeof(float));
    if (e != cudaSuccess) {
        *dst = NULL;
        return cu_err(e, "allocating LPIPS weights");
    }
    CU(cudaMemcpy(*dst, src, n * sizeof(float), cudaMemcpyHostToDevice), "uploading LPIPS weights");
    return GS_OK;
}

/* Upload every tensor of m once (kept until gs_lpips_free). */
static gs_status upload_model(gs_lpips *m) {
    if (m->cuda) return GS_OK;
    lp_device *d = (lp_device *)calloc(1, sizeof *d);
    if (!d) return gs_error(GS_ERR_NOMEM, "cuda: out of memory for the LPIPS model");
    m->cuda = d;
    gs_status s = GS_OK;
    for (int i = 0; i < m->n_ops && !s; i++) {
        const gs_lp_op *o = &m->ops[i];
        if (o->kind == GS_LP_CONV) {
            s = put(&d->w[i][0], m->wts[i].w[0], (size_t)o->cout * o->cin * o->k * o->k);
            if (!s) s = put(&d->b[i][0], m->wts[i].b[0], (size_t)o->cout);
        } else if (o->kind == GS_LP_FIRE) {
            const size_t wn[3] = {(size_t)o->squeeze * o->cin, (size_t)o->cout * o->squeeze,
                                  (size_t)o->cout * o->squeeze * 9};
            const size_t bn[3] = {(size_t)o->squeeze, (size_t)o->cout, (size_t)o->cout};
            for (int j = 0; j < 3 && !s; j++) {
                s = put(&d->w[i][j], m->wts[i].w[j], wn[j]);
                if (!s) s = put(&d->b[i][j], m->wts[i].b[j], bn[j]);
            }
        }
    }
    for (int t = 0; t < m->n_taps && !s; t++) s = put(&d->lin[t], m->lin[t], (size_t)m->lin_c[t]);
    if (s) gs_lpips_cuda_release(m);
    return s;
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

/* Column matrix of a band of output rows [r0, r0 + rows) for both images:
 * col[b][kk][p], p = (r - r0) * wo + j, kk = (ci * k + u) * k + v (one grid
 * row per kk, one grid layer per image); zero outside the image.
 * Column-major (bandP x K) per image for cuBLAS. */
__global__ void k_im2col(const float *x, int cin, int h, int w, int k, int stride, int pad, int wo, int r0,
                         unsigned bandP, float *col) {
    const unsigned p = blockIdx.x * BS + threadIdx.x, kk = blockIdx.y, K = gridDim.y;
    const int b = blockIdx.z;
    if (p >= bandP) return;
    const int ci = (int)(kk / (unsigned)(k * k)), u = (int)(kk / (unsigned)k % (unsigned)k), v = (int)(kk % (unsigned)k);
    const int i = r0 + (int)(p / (unsigned)wo), j = (int)(p % (unsigned)wo);
    const int yy = i * stride - pad + u, xx = j * stride - pad + v;
    float val = 0.0f;
    if (yy >= 0 && yy < h && xx >= 0 && xx < w) val = x[(((size_t)b * cin + ci) * h + yy) * w + xx];
    col[((size_t)b * K + kk) * bandP + p] = val;
}

/* y[b][c][p] = max(y + bias[c], 0), image b at y + b * bstride; grid (P blocks, cout, 2) */
__global__ void k_bias_relu(float *y, size_t P, size_t bstride, const float *bias) {
    const size_t p = (size_t)blockIdx.x * BS + threadIdx.x;
    const int c = blockIdx.y, b = blockIdx.z;
    if (p >= P) return;
    float *py = y + (size_t)b * bstride + (size_t)c * P + p;
    const float v = *py + bias[c];
    *py = v > 0.0f ? v : 0.0f;
}

/* torch MaxPool2d (square window, ceil mode handled by the output size):
 * windows clipped to the input; NaN wins. x [n*c, h, w] -> y [n*c, ho, wo]. */
__global__ void k_maxpool(const float *x, int h, int w, int k, int stride, int pad, int ho, int wo, float *y) {
    const size_t idx = (size_t)blockIdx.x * BS + threadIdx.x;
    const size_t plane = blockIdx.y;
    if (idx >= (size_t)ho * wo) return;
    const int i = (int)(idx / wo), j = (int)(idx % wo);
    int y0 = i * stride - pad, y1 = y0 + k, x0 = j * stride - pad, x1 = x0 + k;
    y0 = y0 < 0 ? 0 : y0, y1 = y1 > h ? h : y1, x0 = x0 < 0 ? 0 : x0, x1 = x1 > w ? w : x1;
    const float *xc = x + plane * h * w;
    float m = -3.402823466e38f;
    int any = 0;
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
            const float v = xc[(size_t)yy * w + xx];
            if (!any || v > m || v != v) m = v;
            any = 1;
        }
    y[plane * ho * wo + idx] = m;
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

/* conv2d + bias + ReLU on both images: x [2, cin, h, w] -> y, image b at
 * y + b * ystride, [cout, ho, wo]. */
static gs_status conv(gs_eval_cuda *c, const float *x, int cin, int h, int w, const float *wt, const float *bias,
                      int cout, int k, int stride, int pad, float *y, size_t ystride) {
    const int ho = gs_conv2d_out_size(h, k, stride, pad), wo = gs_conv2d_out_size(w, k, stride, pad);
    if (ho < 1 || wo < 1) return gs_error(GS_ERR_INVALID, "lpips: empty convolution output");
    const size_t P = (size_t)ho * wo, K = (size_t)cin * k * k;
    const float one = 1.0f, zero = 0.0f;
    cublasStatus_t bs;
    if (k == 1 && stride == 1 && pad == 0) {
        /* y_b' (P x cout) = x_b' (P x cin) * W' (cin x cout), column-major views */
        bs = g_cublas.sgemm_strided_batched(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)P, cout, cin, &one, x, (int)P,
                                       (long long)cin * P, wt, cin, 0, &zero, y, (int)P, (long long)ystride, 2);
        if (bs != CUBLAS_STATUS_SUCCESS) return blas_err(bs, "1x1 convolution");
    } else {
        size_t rows = COL_BUDGET / (2 * K * (size_t)wo);
        if (rows < 1) rows = 1;
        if (rows > (size_t)ho) rows = (size_t)ho;
        gs_status s = ENSURE(c->col, c->col_cap, 2 * K * rows * wo * sizeof(float), "im2col");
        if (s) return s;
        for (int r0 = 0; r0 < ho; r0 += (int)rows) {
            const int nr = (int)(r0 + rows > (size_t)ho ? ho - r0 : rows);
            const size_t bandP = (size_t)nr * wo;
            k_im2col<<<dim3(blocks_for(bandP), (unsigned)K, 2), BS, 0, c->stream>>>(x, cin, h, w, k, stride, pad, wo,
                                                                                     r0, (unsigned)bandP, c->col);
            LAUNCHED("im2col");
            bs = g_cublas.sgemm_strided_batched(c->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)bandP, cout, (int)K, &one, c->col,
                                           (int)bandP, (long long)(bandP * K), wt, (int)K, 0, &zero,
                                           y + (size_t)r0 * wo, (int)P, (long long)ystride, 2);
            if (bs != CUBLAS_STATUS_SUCCESS) return blas_err(bs, "convolution");
        }
    }
    k_bias_relu<<<dim3(blocks_for(P), (unsigned)cout, 2), BS, 0, c->stream>>>(y, P, ystride, bias);
    LAUNCHED("bias + relu");
    return GS_OK;
}

extern "C" gs_status gs_lpips_eval_cuda(gs_eval_cuda *c, gs_lpips *m, const gs_image *pred, const gs_image *gt,
                                        double *out, double *per_layer) {
    if (!c || !out) return gs_error(GS_ERR_INVALID, "lpips: missing argument");
    gs_status s = gs_lpips_check_inputs(m, pred, gt);
    if (s) return s;
    const char *label = gs_lpips_label(m->net);
    int h = pred->height, w = pred->width, ch = 3;
    const size_t biggest = gs_lpips_plan(m, h, w, NULL);
    if ((s = upload_model(m)) || (s = upload(c, pred, gt))) return gs_error_prefix(s, "%s", label);
    for (int i = 0; i < 3 && !s; i++) s = ENSURE(c->act[i], c->act_cap[i], 2 * biggest * sizeof(float), "activations");
    const size_t max_hw = (size_t)h * w; /* taps never exceed the input's pixel count */
    if (!s) s = ENSURE(c->partial, c->partial_cap, grid_for(max_hw) * sizeof(double), "lpips sums");
    if (s) return gs_error_prefix(s, "%s", label);
    const lp_device *d = (const lp_device *)m->cuda;
    scaling sc;
    memcpy(sc.shift, m->shift, sizeof sc.shift);
    memcpy(sc.scale, m->scale, sizeof sc.scale);
    float *cur = c->act[0], *next = c->act[1], *tmp = c->act[2];
    const size_t hw0 = (size_t)h * w;
    k_lpips_input<<<dim3(blocks_for(hw0), 2), BS, 0, c->stream>>>(c->img[0], c->img[1], hw0, pred->channels, sc, cur);
    LAUNCHED("lpips input");
    int tap = 0;
    for (int i = 0; i < m->n_ops && !s; i++) {
        const gs_lp_op *o = &m->ops[i];
        if (o->kind == GS_LP_CONV) {
            const int ho = gs_conv2d_out_size(h, o->k, o->stride, o->pad), wo = gs_conv2d_out_size(w, o->k, o->stride, o->pad);
            s = conv(c, cur, o->cin, h, w, d->w[i][0], d->b[i][0], o->cout, o->k, o->stride, o->pad, next,
                     (size_t)o->cout * ho * wo);
            h = ho, w = wo, ch = o->cout;
        } else if (o->kind == GS_LP_POOL) {
            const int ho = gs_pool_out_size(h, o->k, o->stride, o->pad, o->ceil_mode);
            const int wo = gs_pool_out_size(w, o->k, o->stride, o->pad, o->ceil_mode);
            k_maxpool<<<dim3(blocks_for((size_t)ho * wo), (unsigned)(2 * ch)), BS, 0, c->stream>>>(
                cur, h, w, o->k, o->stride, o->pad, ho, wo, next);
            if (cudaPeekAtLastError() != cudaSuccess) s = cu_err(cudaGetLastError(), "max-pool");
            h = ho, w = wo;
        } else { /* fire: squeeze 1x1 + relu into tmp, expands into the two halves of next */
            const size_t P = (size_t)h * w;
            s = conv(c, cur, o->cin, h, w, d->w[i][0], d->b[i][0], o->squeeze, 1, 1, 0, tmp, (size_t)o->squeeze * P);
            if (!s)
                s = conv(c, tmp, o->squeeze, h, w, d->w[i][1], d->b[i][1], o->cout, 1, 1, 0, next,
                         (size_t)2 * o->cout * P);
            if (!s)
                s = conv(c, tmp, o->squeeze, h, w, d->w[i][2], d->b[i][2], o->cout, 3, 1, 1, next + (size_t)o->cout * P,
                         (size_t)2 * o->cout * P);
            ch = 2 * o->cout;
        }
        float *t = cur;
        cur = next;
        next = t;
        if (!s && o->tap) {
            const size_t hw = (size_t)h * w;
            const unsigned g = grid_for(hw);
            k_tap<<<g, BS, 0, c->stream>>>(cur, ch, hw, d->lin[tap], c->partial);
            if (cudaPeekAtLastError() != cudaSuccess) s = cu_err(cudaGetLastError(), "lpips tap");
            if (!s) {
                k_finish_sum<<<1, BS, 0, c->stream>>>(c->partial, g, 1.0 / (double)hw, c->result + tap);
                if (cudaPeekAtLastError() != cudaSuccess) s = cu_err(cudaGetLastError(), "lpips tap sum");
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
