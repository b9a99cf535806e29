/* cuda_conv.cu - the CUDA kernels of the CNN ops (gs/ops/cuda.h), twins of
 * gs/ops/cpu_conv.c:
 *
 *  conv2d    im2col over bands of output rows + one cuBLAS strided-batched
 *            SGEMM per band with the n images as the batch (plain FP32, the
 *            context's handle is in CUBLAS_DEFAULT_MATH: no TF32), then one
 *            bias (+ ReLU) pass; a 1x1 stride-1 unpadded convolution is the
 *            GEMM on the input itself. Image b's output is written at
 *            y + b * y_batch, so a caller can place two convolutions in the
 *            two halves of a concatenated map (LPIPS's fire modules).
 *  maxpool   torch's windows (clipped to the input, padding never counts,
 *            NaN wins), one thread per output.
 *  concat    one strided copy per source.
 *  bias add  x += bias[c], in place.
 *
 * Scratch (the im2col columns) comes from the context's workspace
 * (gs_ws_take) and is given back before the op returns: later work on the
 * same stream runs after the queued GEMMs, so the next op may reuse it.
 * All work is queued on the context's stream; nothing here synchronises. */
#include "gs/cuda/cuda_common.cuh"

#include <limits.h>

#include "gs/ops/cuda.h"

#define BS GS_CUDA_BLOCK
/* floats of the im2col columns of one band (all n images): 256 MiB, as
 * LPIPS used before; a band holds at least one output row. */
#define COL_BUDGET ((size_t)64 << 20)

static gs_status need_stream(const gs_ctx *c, const char *op) {
    if (!c || c->device != GS_DEVICE_CUDA || !c->cuda)
        return gs_error(GS_ERR_INVALID, "%s: not a CUDA op context", op);
    return GS_OK;
}

/* ---- conv2d ---------------------------------------------------------------------- */
typedef struct {
    int ho, wo;
    size_t P, K;      /* output pixels per image, im2col rows */
    int pointwise;    /* 1x1, stride 1, no padding: no columns */
    int band_rows;    /* output rows per band */
    size_t col_bytes; /* scratch taken from the workspace (rounded as the arena rounds) */
} conv_plan;

/* Shapes, limits and the band of a convolution; GS_OK, or the error (with
 * its message only when `report`: a workspace query sets none). */
#define PLAN_FAIL(st, ...) return report ? gs_error(st, __VA_ARGS__) : (st)
static gs_status plan_conv(const gs_conv2d_params *p, int n, int h, int w, conv_plan *pl, int report) {
    if (!p || n < 1 || p->c_in < 1 || p->c_out < 1)
        PLAN_FAIL(GS_ERR_INVALID, "conv2d: bad arguments (n %d, c_in %d, c_out %d)", n, p ? p->c_in : 0,
                  p ? p->c_out : 0);
    pl->ho = gs_conv2d_out_size(h, p->kh, p->stride_h, p->pad_h);
    pl->wo = gs_conv2d_out_size(w, p->kw, p->stride_w, p->pad_w);
    if (pl->ho < 1 || pl->wo < 1)
        PLAN_FAIL(GS_ERR_INVALID, "conv2d: input %dx%d is too small for a %dx%d kernel (stride %d,%d, padding %d,%d)",
                  w, h, p->kw, p->kh, p->stride_w, p->stride_h, p->pad_w, p->pad_h);
    pl->P = (size_t)pl->ho * pl->wo;
    pl->K = (size_t)p->c_in * p->kh * p->kw;
    /* cuBLAS takes int sizes; the kernels index rows (b, k) in one grid axis */
    if (pl->K > INT_MAX || pl->P > INT_MAX || (size_t)h * w > INT_MAX || (size_t)n * pl->K > INT_MAX ||
        (size_t)n * p->c_out > INT_MAX)
        PLAN_FAIL(GS_ERR_INVALID, "conv2d: %d x %dx%dx%d input too large for one product", n, p->c_in, w, h);
    pl->pointwise = p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 && p->pad_h == 0 && p->pad_w == 0;
    pl->band_rows = pl->ho;
    pl->col_bytes = 0;
    if (!pl->pointwise) {
        const size_t row = (size_t)n * pl->K * (size_t)pl->wo; /* floats of one output row, all images */
        size_t rows = COL_BUDGET / row;
        if (rows < 1) rows = 1;
        if (rows < (size_t)pl->ho) pl->band_rows = (int)rows;
        size_t bytes;
        if (!gs_mul_ok(row * sizeof(float), (size_t)pl->band_rows, &bytes) || bytes > GS_MAX_ALLOC)
            PLAN_FAIL(GS_ERR_NOMEM, "conv2d: the im2col band of one output row (%.1f MiB) is over the bound",
                      (double)row * sizeof(float) / (1 << 20));
        pl->col_bytes = gs_arena_round(bytes);
    }
    return GS_OK;
}

extern "C" size_t gs_conv2d_workspace_cuda(const gs_ctx *c, const gs_conv2d_params *p, int n, int h, int w) {
    (void)c;
    conv_plan pl = {};
    return plan_conv(p, n, h, w, &pl, 0) ? 0 : pl.col_bytes;
}

/* Columns of the band of output rows [r0, r0 + bandP / wo) of all images:
 * col[(b * K + kk) * bandP + p] with kk = (ci * kh + u) * kw + v and
 * p = (row - r0) * wo + j, zero outside the input: per image a column-major
 * (bandP x K) matrix for cuBLAS. One grid row per (b, kk); blockIdx.y and
 * the loop cover the band. */
__global__ void k_im2col(const float *x, int cin, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int wo,
                         int r0, unsigned bandP, unsigned K, float *col) {
    const unsigned row = blockIdx.x, b = row / K, kk = row % K;
    const int v = (int)(kk % (unsigned)kw), u = (int)(kk / (unsigned)kw % (unsigned)kh),
              ci = (int)(kk / (unsigned)(kw * kh));
    const float *xc = x + ((size_t)b * cin + ci) * h * w;
    float *dst = col + (size_t)row * bandP;
    for (unsigned p = blockIdx.y * BS + threadIdx.x; p < bandP; p += gridDim.y * BS) {
        const int i = r0 + (int)(p / (unsigned)wo), j = (int)(p % (unsigned)wo);
        const int yy = i * sh - ph + u, xx = j * sw - pw + v;
        dst[p] = yy >= 0 && yy < h && xx >= 0 && xx < w ? xc[(size_t)yy * w + xx] : 0.0f;
    }
}

/* y[b][c][p] (+)= bias[c] and max(., 0) when relu, image b at y + b * ybatch;
 * one grid row per (b, c). The CPU's expression: NaN + ReLU gives 0. */
__global__ void k_bias_act(float *y, unsigned ch, size_t P, size_t ybatch, const float *bias, int relu) {
    const unsigned plane = blockIdx.x, b = plane / ch, c = plane % ch;
    float *py = y + (size_t)b * ybatch + (size_t)c * P;
    const float bv = bias ? bias[c] : 0.0f;
    for (size_t p = (size_t)blockIdx.y * BS + threadIdx.x; p < P; p += (size_t)gridDim.y * BS) {
        const float v = py[p] + bv;
        py[p] = relu ? (v > 0.0f ? v : 0.0f) : v;
    }
}

static gs_status bias_act(const gs_ctx *c, float *y, int n, int ch, size_t P, size_t ybatch, const float *bias,
                          int relu) {
    if (!bias && !relu) return GS_OK;
    k_bias_act<<<dim3((unsigned)n * (unsigned)ch, gs_cuda_blocks(P, GS_CUDA_MAX_GRID_Y)), BS, 0, c->cuda->stream>>>(
        y, (unsigned)ch, P, ybatch, bias, relu);
    return gs_cuda_launched(relu ? "conv2d bias + relu" : "bias add");
}

extern "C" gs_status gs_conv2d_cuda(const gs_ctx *c, const gs_conv2d_params *p, const float *x, int n, int h, int w,
                                    const gs_wt *weight, const float *bias, float *y, int relu) {
    gs_status s = need_stream(c, "conv2d");
    if (s) return s;
    conv_plan pl = {};
    if ((s = plan_conv(p, n, h, w, &pl, 1))) return s;
    if (!x || !y || !weight || !weight->data)
        return gs_error(GS_ERR_INVALID, "conv2d: missing input, weight or output");
    if (weight->dtype != GS_F32)
        return gs_error(GS_ERR_UNSUPPORTED, "conv2d: the CUDA kernel takes F32 weights, not %s",
                        gs_dtype_name(weight->dtype));
    if (weight->ndim != 4 || weight->shape[0] != p->c_out || weight->shape[1] != p->c_in ||
        weight->shape[2] != p->kh || weight->shape[3] != p->kw)
        return gs_error(GS_ERR_INVALID, "conv2d: weight is not [%d, %d, %d, %d]", p->c_out, p->c_in, p->kh, p->kw);
    const size_t out_sz = (size_t)p->c_out * pl.P, ybatch = p->y_batch ? p->y_batch : out_sz;
    if (ybatch < out_sz)
        return gs_error(GS_ERR_INVALID, "conv2d: y_batch %zu is less than one image's output (%zu floats)", ybatch,
                        out_sz);
    if (!c->cuda->blas) return gs_error(GS_ERR_INVALID, "conv2d: the CUDA context has no cuBLAS handle");
    const gs_cublas_api *blas = gs_cublas();
    if (!blas) return GS_ERR_DEVICE;
    const float *wt = (const float *)weight->data;
    const float one = 1.0f, zero = 0.0f;
    const int P = (int)pl.P, K = (int)pl.K, cout = p->c_out;
    if (pl.pointwise) {
        /* per image, column-major: y' (P x cout) = x' (P x cin) * W' (cin x cout) */
        s = gs_cublas_check(blas->sgemm_strided_batched(c->cuda->blas, CUBLAS_OP_N, CUBLAS_OP_N, P, cout, K, &one, x, P,
                                                        (long long)K * P, wt, K, 0, &zero, y, P, (long long)ybatch, n),
                            "conv2d (1x1 product)");
        if (s) return s;
    } else {
        const size_t mark = gs_ws_mark(c);
        float *col = (float *)gs_ws_take(c, pl.col_bytes, "conv2d im2col columns");
        if (!col) return GS_ERR_NOMEM;
        for (int r0 = 0; r0 < pl.ho && !s; r0 += pl.band_rows) {
            const int nr = r0 + pl.band_rows > pl.ho ? pl.ho - r0 : pl.band_rows;
            const unsigned bandP = (unsigned)nr * (unsigned)pl.wo;
            k_im2col<<<dim3((unsigned)n * (unsigned)K, gs_cuda_blocks(bandP, GS_CUDA_MAX_GRID_Y)), BS, 0,
                       c->cuda->stream>>>(x, p->c_in, h, w, p->kh, p->kw, p->stride_h, p->stride_w, p->pad_h, p->pad_w,
                                          pl.wo, r0, bandP, (unsigned)K, col);
            s = gs_cuda_launched("conv2d im2col");
            /* per image: y'[band] (bandP x cout, ld P) = col' (bandP x K) * W' (K x cout) */
            if (!s)
                s = gs_cublas_check(blas->sgemm_strided_batched(c->cuda->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)bandP,
                                                                cout, K, &one, col, (int)bandP,
                                                                (long long)bandP * K, wt, K, 0, &zero,
                                                                y + (size_t)r0 * pl.wo, P, (long long)ybatch, n),
                                    "conv2d (product)");
        }
        gs_ws_release(c, mark);
        if (s) return s;
    }
    return bias_act(c, y, n, cout, pl.P, ybatch, bias, relu);
}

/* ---- max-pool ------------------------------------------------------------------- */
/* One grid row per (image, channel) plane; windows clipped to the input; NaN
 * wins (once m is NaN no comparison replaces it). */
__global__ void k_maxpool(const float *x, int h, int w, int k, int stride, int pad, int ho, int wo, float *y) {
    const size_t plane = blockIdx.x, HWo = (size_t)ho * wo;
    const float *xc = x + plane * h * w;
    for (size_t idx = (size_t)blockIdx.y * BS + threadIdx.x; idx < HWo; idx += (size_t)gridDim.y * BS) {
        const int i = (int)(idx / wo), j = (int)(idx % wo);
        int y0 = i * stride - pad, y1 = y0 + k, x0 = j * stride - pad, x1 = x0 + k;
        y0 = y0 < 0 ? 0 : y0, y1 = y1 > h ? h : y1, x0 = x0 < 0 ? 0 : x0, x1 = x1 > w ? w : x1;
        float m = -3.402823466e38f;
        int any = 0;
        for (int yy = y0; yy < y1; yy++)
            for (int xx = x0; xx < x1; xx++) {
                const float v = xc[(size_t)yy * w + xx];
                if (!any || v > m || v != v) m = v;
                any = 1;
            }
        y[plane * HWo + idx] = m;
    }
}

extern "C" gs_status gs_maxpool2d_cuda(const gs_ctx *c, const float *x, int n, int ch, int h, int w, int k, int stride,
                                       int pad, int ceil_mode, float *y) {
    gs_status s = need_stream(c, "maxpool2d");
    if (s) return s;
    if (!x || !y || n < 1 || ch < 1 || k < 1 || stride < 1)
        return gs_error(GS_ERR_INVALID, "maxpool2d: bad arguments (n %d, c %d, window %d, stride %d)", n, ch, k,
                        stride);
    if (pad < 0 || pad > k / 2)
        return gs_error(GS_ERR_INVALID, "maxpool2d: padding %d must be between 0 and half the %dx%d window", pad, k, k);
    const int ho = gs_pool_out_size(h, k, stride, pad, ceil_mode), wo = gs_pool_out_size(w, k, stride, pad, ceil_mode);
    if (ho < 1 || wo < 1)
        return gs_error(GS_ERR_INVALID,
                        "maxpool2d: input %dx%d is too small for a %dx%d window (stride %d, padding %d)", w, h, k, k,
                        stride, pad);
    if ((size_t)n * ch > INT_MAX) return gs_error(GS_ERR_INVALID, "maxpool2d: %d x %d planes are too many", n, ch);
    k_maxpool<<<dim3((unsigned)n * (unsigned)ch, gs_cuda_blocks((size_t)ho * wo, GS_CUDA_MAX_GRID_Y)), BS, 0,
                c->cuda->stream>>>(x, h, w, k, stride, pad, ho, wo, y);
    return gs_cuda_launched("maxpool2d");
}

/* ---- concat, bias add -------------------------------------------------------------- */
/* dst[b * dst_stride + q] = src[b * len + q] for b < n, q < len. */
__global__ void k_copy_rows(const float *src, size_t len, int n, size_t dst_stride, float *dst) {
    for (int b = blockIdx.y; b < n; b += gridDim.y)
        for (size_t q = (size_t)blockIdx.x * BS + threadIdx.x; q < len; q += (size_t)gridDim.x * BS)
            dst[(size_t)b * dst_stride + q] = src[(size_t)b * len + q];
}

extern "C" gs_status gs_concat_channels_cuda(const gs_ctx *c, const float *const *srcs, const int *chans, int count,
                                             int n, size_t hw, float *y) {
    gs_status s = need_stream(c, "concat_channels");
    if (s) return s;
    if (!srcs || !chans || !y || count < 1 || n < 1)
        return gs_error(GS_ERR_INVALID, "concat_channels: bad arguments (%d sources, n %d)", count, n);
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        if (chans[i] < 0 || (chans[i] > 0 && !srcs[i]))
            return gs_error(GS_ERR_INVALID, "concat_channels: source %d has %d channels%s", i, chans[i],
                            chans[i] > 0 ? " and no data" : "");
        total += (size_t)chans[i];
    }
    size_t off = 0;
    for (int i = 0; i < count && !s; i++) {
        const size_t len = (size_t)chans[i] * hw;
        if (len) {
            const unsigned gy = (unsigned)(n < GS_CUDA_MAX_GRID_Y ? n : GS_CUDA_MAX_GRID_Y);
            k_copy_rows<<<dim3(gs_cuda_blocks(len, 4096), gy), BS, 0, c->cuda->stream>>>(srcs[i], len, n, total * hw,
                                                                                         y + off * hw);
            s = gs_cuda_launched("concat_channels");
        }
        off += (size_t)chans[i];
    }
    return s;
}

extern "C" gs_status gs_bias_add_cuda(const gs_ctx *c, float *x, int n, int ch, size_t hw, const float *bias) {
    gs_status s = need_stream(c, "bias_add");
    if (s) return s;
    if (!x || n < 0 || ch < 0) return gs_error(GS_ERR_INVALID, "bias_add: bad arguments (n %d, channels %d)", n, ch);
    if ((size_t)n * ch > INT_MAX) return gs_error(GS_ERR_INVALID, "bias_add: %d x %d planes are too many", n, ch);
    if (!bias || !n || !ch || !hw) return GS_OK;
    return bias_act(c, x, n, ch, hw, (size_t)ch * hw, bias, 0);
}
