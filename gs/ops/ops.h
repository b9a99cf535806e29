/* ops.h - the op layer: every computation of the networks (the Depth
 * Anything 3 backbone and heads, the LPIPS backbones of the evaluator) goes
 * through these functions, and each runs on the backend its context names.
 * One network definition, any backend: backbone/, heads/ and gs/model/
 * compute only through these, and so do the layers of eval/lpips.c (its
 * input scaling and per-tap distances are the metric's own).
 *
 *   gs_ctx   device (CPU or CUDA), the CUDA stream + handles (gs/cuda/), and
 *            the workspace arena the ops may take scratch from. Ops never
 *            allocate: what an op needs beyond its outputs comes from
 *            ctx->ws (given back before it returns), and a forward plans its
 *            activations in one arena before it runs (gs_arena, gs_plan).
 *   gs_wt    a typed weight view (pointer, dtype, shape): a backend may keep
 *            weights as stored (BF16/F16); the CPU backend works on F32,
 *            converted once at load.
 *
 * Memory: every pointer an op receives lives on the context's device (host
 * memory for the CPU, device memory for CUDA). Activations are float32,
 * contiguous; maps are NCHW (x[((n*C + c)*H + y)*W + x]), token arrays are
 * row-major [rows, dim]. Convolution weights are OIHW as in PyTorch.
 *
 * Backends: the CPU kernels (the reference, gs/ops/cpu_*.c, declared in
 * gs/ops/cpu.h, with run-time picked AVX2 kernels in cpu_x86.c) and the
 * CUDA kernels (gs/ops/cuda.h, gs/ops/cuda_*.cu). gs/ops/ops.c checks the
 * context and dispatches; an op a backend does not have fails with
 * GS_ERR_UNSUPPORTED naming the op and the device. A new op is declared
 * here, dispatched in ops.c, implemented in cpu.h/cpu_*.c (always) and in
 * cuda.h/cuda_*.cu (when it has a CUDA kernel), and tested against a plain
 * reference in tests/test_ops*.c.
 *
 * Semantics follow PyTorch where a torch op exists (named per op).
 * Threading (CPU): work, matrix products included, is split over OpenMP
 * threads; OpenBLAS is set to one thread on first use. */
#ifndef GS_OPS_H
#define GS_OPS_H

#include "gs/core/device.h"
#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- arenas and plans ------------------------------------------------------ */
/* A bump allocator over one block (host memory, or device memory for a CUDA
 * context). Takes are 64-byte aligned and given back in stack order with
 * mark/release. A "counting" arena (gs_arena_counting) has no memory: takes
 * only add up what they would use, so the same code that lays out a
 * forward's buffers also computes its plan. */
#define GS_ARENA_ALIGN 64
typedef struct {
    unsigned char *base;
    size_t size, used, peak;
    int on_device;          /* base is CUDA device memory */
    int counting;           /* no memory: takes only count */
} gs_arena;

/* An arena of `bytes` on the context's device; GS_ERR_NOMEM naming `what`
 * and the size when it cannot be had. */
gs_status gs_arena_create(gs_arena *a, gs_device dev, size_t bytes, const char *what);
void gs_arena_destroy(gs_arena *a);
void gs_arena_counting(gs_arena *a);
/* `bytes` from the arena (a non-NULL, never to be used pointer when
 * counting); NULL with GS_ERR_NOMEM set, naming `what`, when it does not fit. */
void *gs_arena_take(gs_arena *a, size_t bytes, const char *what);
float *gs_arena_floats(gs_arena *a, size_t n, const char *what);
size_t gs_arena_mark(const gs_arena *a);
void gs_arena_release(gs_arena *a, size_t mark);
/* Give the pages above what is taken back to the system (host arenas; a
 * no-op otherwise): between the modules of a forward, so that a module's
 * resident memory is what it touches, not the largest module's. */
void gs_arena_trim(gs_arena *a);
/* bytes rounded up as a take rounds them */
size_t gs_arena_round(size_t bytes);

/* ---- context ------------------------------------------------------------------ */
typedef struct gs_cuda_ctx gs_cuda_ctx; /* gs/cuda/cuda.h */

typedef struct gs_ctx {
    gs_device device;       /* GS_DEVICE_CPU or GS_DEVICE_CUDA */
    gs_cuda_ctx *cuda;      /* stream + cuBLAS handle; CUDA only */
    gs_arena *ws;           /* scratch for the ops (may be NULL for ops that need none) */
} gs_ctx;

/* A CPU context using `ws` (NULL: only ops without scratch can run). */
gs_ctx gs_ctx_cpu(gs_arena *ws);
/* Scratch from c->ws for one op; NULL with an error naming the op's need
 * and the workspace left when c has too little (a planning error). */
void *gs_ws_take(const gs_ctx *c, size_t bytes, const char *what);
size_t gs_ws_mark(const gs_ctx *c);
void gs_ws_release(const gs_ctx *c, size_t mark);
/* The context a forward runs on: *out = *c, with c's workspace when it has
 * `bytes` free (else GS_ERR_NOMEM naming `what`: the plan did not fit), or
 * with a new arena `own` of that size when c has no workspace (destroy it
 * with gs_arena_destroy after the forward; it is zeroed otherwise). */
gs_status gs_ctx_with_workspace(const gs_ctx *c, size_t bytes, const char *what, gs_ctx *out, gs_arena *own);
/* Make the context's queued work finish (no-op on the CPU); device errors
 * of earlier asynchronous work surface here. */
gs_status gs_ctx_sync(const gs_ctx *c);
/* Copies between host memory and the context's memory (memcpy on the CPU). */
gs_status gs_ctx_upload(const gs_ctx *c, void *dst, const void *host, size_t bytes);
gs_status gs_ctx_download(const gs_ctx *c, void *host, const void *src, size_t bytes);

/* ---- weights ---------------------------------------------------------------- */
typedef struct {
    const void *data;       /* on the context's device */
    gs_dtype dtype;
    int ndim;
    int64_t shape[4];
} gs_wt;
/* An F32 view of host data (CPU weights, tests). */
gs_wt gs_wt_f32(const float *data, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/* ---- CNN ops ------------------------------------------------------------------ */
typedef struct {
    int c_in, c_out;        /* channels */
    int kh, kw;             /* kernel size */
    int stride_h, stride_w;
    int pad_h, pad_w;       /* zero padding on each side */
    size_t y_batch;         /* floats between the outputs of consecutive images; 0 = c_out*ho*wo */
} gs_conv2d_params;

/* Output length along one axis: (in + 2 pad - k) / stride + 1, or 0 when the
 * (padded) input is shorter than the kernel or an argument is out of range. */
int gs_conv2d_out_size(int in, int k, int stride, int pad);
/* Max-pool output length along one axis (torch rules: floor division, in
 * ceil mode the last window must start inside the input or its left
 * padding); 0 when invalid (input too small, pad > k/2, ...). */
int gs_pool_out_size(int in, int k, int stride, int pad, int ceil_mode);

/* torch.nn.Conv2d (dilation 1, groups 1, zero padding): x [n, c_in, h, w],
 * weight [c_out, c_in, kh, kw], bias [c_out] or NULL, y [n, c_out, ho, wo]
 * (image b at y + b * y_batch), then max(0, .) when relu != 0. */
gs_status gs_conv2d(const gs_ctx *c, const gs_conv2d_params *p, const float *x, int n, int h, int w,
                    const gs_wt *weight, const float *bias, float *y, int relu);
size_t gs_conv2d_workspace(const gs_ctx *c, const gs_conv2d_params *p, int n, int h, int w);
/* torch.nn.ConvTranspose2d with kernel == stride == k, padding 0:
 * x [n, cin, h, w] -> y [n, cout, h*k, w*k]; weight [cin, cout, k, k]. */
gs_status gs_conv_transpose2d(const gs_ctx *c, const float *x, int n, int cin, int h, int w, const gs_wt *weight,
                              const float *bias, int cout, int k, float *y);
size_t gs_conv_transpose2d_workspace(const gs_ctx *c, int cin, int h, int w, int cout, int k);
/* torch.nn.MaxPool2d, square k x k window (padding never contributes, NaN
 * wins): x [n, ch, h, w] -> y [n, ch, ho, wo]. */
gs_status gs_maxpool2d(const gs_ctx *c, const float *x, int n, int ch, int h, int w, int k, int stride, int pad,
                       int ceil_mode, float *y);
/* y [n, sum(chans), hw] from srcs[i] [n, chans[i], hw]. */
gs_status gs_concat_channels(const gs_ctx *c, const float *const *srcs, const int *chans, int count, int n,
                             size_t hw, float *y);
/* x [n, ch, hw] += bias[ch], in place. */
gs_status gs_bias_add(const gs_ctx *c, float *x, int n, int ch, size_t hw, const float *bias);
/* F.interpolate(mode="bilinear", align_corners=True): x [n, ch, h, w] ->
 * y [n, ch, ho, wo], src = dst * (in - 1) / (out - 1). */
gs_status gs_resize_bilinear_ac(const gs_ctx *c, const float *x, int n, int ch, int h, int w, float *y, int ho,
                                int wo);
/* F.interpolate(mode="bicubic", align_corners=False, antialias=False) with
 * an explicit scale factor used inside the kernel: src = (dst + 0.5) /
 * scale - 0.5, A = -0.75, taps clamped. x [ch, h, w] -> y [ch, ho, wo]. */
gs_status gs_resize_bicubic(const gs_ctx *c, const float *x, int ch, int h, int w, float *y, int ho, int wo,
                            double scale_h, double scale_w);

/* ---- element-wise ops ----------------------------------------------------------- */
typedef enum {
    GS_UNARY_RELU = 0,      /* max(x, 0) */
    GS_UNARY_GELU,          /* exact: 0.5 x (1 + erf(x / sqrt 2)) (torch's formula on AVX2) */
    GS_UNARY_SILU,          /* x * sigmoid(x), in double */
    GS_UNARY_SIGMOID,       /* 1 / (1 + exp(-x)), in double */
    GS_UNARY_EXP,           /* expf */
    GS_UNARY_EXP_PLUS1      /* expf(x) + 1 (DA3's conf activation) */
} gs_unary_kind;
/* y[i] = f(x[i]) over n elements; y may be x. */
gs_status gs_unary(const gs_ctx *c, gs_unary_kind f, const float *x, float *y, size_t n);
/* y [rows, n] += x [n] (x broadcast over rows; rows 1: plain add). */
gs_status gs_add(const gs_ctx *c, float *y, const float *x, size_t n, size_t rows);
/* x [rows, dim] += r [rows, dim] * gamma [dim] (LayerScale residual). */
gs_status gs_add_scaled(const gs_ctx *c, float *x, const float *r, const float *gamma, size_t rows, int dim);
/* y [rows, hid] = silu(x[:, :hid]) * x[:, hid:] for x [rows, 2 hid] (SwiGLU,
 * silu in double as torch's F.silu on float rounds). */
gs_status gs_swiglu(const gs_ctx *c, const float *x, size_t rows, int hid, float *y);
/* Per-matrix transpose: x [n, rows, cols] -> y [n, cols, rows]; y != x. */
gs_status gs_transpose(const gs_ctx *c, const float *x, int n, size_t rows, size_t cols, float *y);
/* Strided copy of a [rows, cols] float block: dst[r*dst_ld + j] =
 * src[r*src_ld + j]; src_ld 0 repeats one source row. Blocks must not overlap. */
gs_status gs_copy2d(const gs_ctx *c, float *dst, size_t dst_ld, const float *src, size_t src_ld, size_t rows,
                    size_t cols);
/* Index of the first element of x [n] outside [lo, hi] (NaN is outside
 * every range) in *first, or n when there is none. */
gs_status gs_find_outside(const gs_ctx *c, const float *x, size_t n, float lo, float hi, size_t *first);
/* The first NaN or Inf: gs_find_outside over all finite floats. */
static inline gs_status gs_find_nonfinite(const gs_ctx *c, const float *x, size_t n, size_t *first) {
    return gs_find_outside(c, x, n, -3.40282347e38f, 3.40282347e38f, first);
}

/* x [rows, n] scaled per row in double: x = (float)(x * s[r]), or
 * (float)(x / s[r]) with divide != 0 (a float factor gives exactly the
 * float product). s is host memory. */
gs_status gs_scale(const gs_ctx *c, float *x, size_t n, size_t rows, const double *s, int divide);
/* mask[i] = x[i] < t (0/1 bytes), *count = number of ones. */
gs_status gs_mask_below(const gs_ctx *c, const float *x, size_t n, float t, unsigned char *mask, size_t *count);
/* x[i] = value where mask[i] == 0. */
gs_status gs_fill_unmasked(const gs_ctx *c, float *x, const unsigned char *mask, size_t n, float value);
/* torch.quantile(x[mask], q) with linear interpolation (torch.lerp in
 * float) over the k selected values (mask NULL: all n); GS_ERR_INVALID when
 * none is selected. */
gs_status gs_quantile(const gs_ctx *c, const float *x, const unsigned char *mask, size_t n, double q, float *out);
size_t gs_quantile_workspace(const gs_ctx *c, size_t n);

/* ---- normalisation ------------------------------------------------------------- */
/* torch.nn.LayerNorm over the last axis of x [rows, dim] (biased variance,
 * accumulated in double); y may be x; w/b NULL = no affine. */
gs_status gs_layernorm(const gs_ctx *c, const float *x, float *y, size_t rows, int dim, const float *w,
                       const float *b, float eps);
/* LayerNorm over the channels of every pixel of x [n, ch, hw], in place
 * (the "channels-last LayerNorm" of a permuted NCHW map). */
gs_status gs_layernorm_channels(const gs_ctx *c, float *x, int n, int ch, size_t hw, const float *w,
                                const float *b, float eps);
size_t gs_layernorm_channels_workspace(const gs_ctx *c, int ch);

/* ---- transformer ops ------------------------------------------------------------ */
/* torch.nn.Linear: y [rows, out] = x [rows, in] * weight^T + bias; weight
 * [out, in]; bias NULL = none; y != x. */
gs_status gs_linear(const gs_ctx *c, const float *x, size_t rows, int in, const gs_wt *weight, const float *bias,
                    int out, float *y);
/* Softmax attention without mask (torch scaled_dot_product_attention): q, k,
 * v [heads, n, hd]; out [n, heads * hd] token-major (head h at columns h*hd).
 * Memory is O(n) per head, never n x n. */
gs_status gs_attention(const gs_ctx *c, const float *q, const float *k, const float *v, int heads, int n, int hd,
                       float scale, float *out);
size_t gs_attention_workspace(const gs_ctx *c, int heads, int n, int hd);
/* The qkv projection of T tokens [T, 3, heads, hd] -> q, k, v [heads, n, hd],
 * written at token rows t0 .. t0 + T - 1 of n. */
gs_status gs_split_heads(const gs_ctx *c, const float *qkv, int T, int heads, int hd, int n, int t0, float *q,
                         float *k, float *v);
/* DA3's 2D rotary embedding (rope.py, rotate-half within each half), in place
 * on x [heads, n, hd]: the first hd/2 dims rotate with pos_y[t], the last
 * hd/2 with pos_x[t]; inv_freq[j] = base^(-2j / (hd/2)). */
gs_status gs_rope2d(const gs_ctx *c, float *x, int heads, int n, int hd, const int *pos_y, const int *pos_x,
                    float base);
size_t gs_rope2d_workspace(const gs_ctx *c, int hd, int span);   /* span: max - min position */
/* Patches of an image for a stride-p p x p patch embedding: img [3, H, W] ->
 * col [(H/p)*(W/p), 3 p p], each row in the weight's (c, u, v) order. */
gs_status gs_patchify(const gs_ctx *c, const float *img, int H, int W, int p, float *col);

/* ---- Depth Anything 3 specifics ------------------------------------------------- */
/* The UV positional embedding of the DPT heads (head_utils.py: create_uv_grid
 * + position_grid_to_embed, times 0.1): pe [ch, hh, ww] for a map of hh x ww
 * of an H x W image, ch a multiple of 4 (sin u, cos u, sin v, cos v blocks). */
gs_status gs_uv_embed(const gs_ctx *c, float *pe, int ch, int hh, int ww, int H, int W);
size_t gs_uv_embed_workspace(const gs_ctx *c, int ch, int hh, int ww);

/* The nested model's least-squares metric scale: over the pixels with
 * conf >= conf_min, mask set, metric > 0.01 and depth > 1e-3, *num = sum
 * metric * depth and *den = sum depth^2 (in double). */
gs_status gs_metric_scale_sums(const gs_ctx *c, const float *metric, const float *depth, const float *conf,
                               float conf_min, const unsigned char *mask, size_t n, double *num, double *den);

/* Camera pose encodings of the camera decoder / encoder (DA3 [t | quat
 * (x, y, z, w) | fov_h, fov_w], float32 as the reference): pose [S, 9] ->
 * w2c [S, 3, 4] and K [S, 3, 3] for H x W images (tan(fov/2) clamped at
 * 1e-6; GS_ERR_FORMAT naming the view on a degenerate pose), and the
 * inverse, w2c [S, 4, 4] (normalised) and K -> pose [S, 9] (GS_ERR_INVALID
 * naming the view when a focal length is not positive or a value is not
 * finite). */
gs_status gs_pose_decode(const gs_ctx *c, const float *pose, int S, int H, int W, float *w2c, float *K);
gs_status gs_pose_encode(const gs_ctx *c, const float *w2c, const float *K, int S, int H, int W, float *pose);
/* The GaussianAdapter's per-pixel transform (gs_adapter.h; DA3
 * gs_adapter.py): raw [S, H, W, 37] GSDPT channels (channels-last), conf
 * [S, H, W] and depth [S, H, W] -> means [n, 3] (unprojected at depth +
 * offset, times the pose scale), scales [n, 3], rotations [n, 4] (the
 * reference's 4-vector, quirk included), harmonics [n, 3, 9] (masked and
 * rotated to world) and opacities [n], n = S H W, computed in double as the
 * CPU reference. views[S] hold the per-camera constants (host memory). */
typedef struct {
    double Rc[9], tc[3];   /* camera-to-world, translation pose-scaled */
    double Kinv[9];        /* inverse of the intrinsics normalised by W, H */
    double mult;           /* scale multiplier 0.1 * sum(inv(Kn[:2,:2]) (1/W, 1/H)) */
    double sh[35];         /* SH rotation blocks of bands 0..2 (band l at l(4l^2-1)/3) */
} gs_gs_view;
gs_status gs_gs_adapt(const gs_ctx *c, const gs_gs_view *views, int S, int H, int W, const float *raw,
                      const float *conf, const float *depth, double scale, float *means, float *scales,
                      float *rotations, float *harmonics, float *opacities);

/* The reference's float32 rotation helpers (host code; model/utils/
 * transform.py, utils/geometry.py), used by the pose ops and the 3DGS
 * adapter. R [3x3] of quaternion q (xyzw), normalising implicitly
 * (2/|q|^2); a zero quaternion gives non-finite entries, as in the
 * reference. */
void gs_quat_to_mat(const float q[4], float R[9]);
/* pytorch3d's matrix_to_quaternion as DA3 uses it: the candidate of the
 * largest |q_i|, divided by 2 max(|q_i|, 0.1), returned xyzw with w >= 0.
 * Evaluated in float in the reference's order of operations. */
void gs_mat_to_quat(const float R[9], float q[4]);
/* [R | t] -> [R^T | -R^T t] for one 3x4 (out may not alias A). */
void gs_affine_inverse(const float A[12], float out[12]);

#ifdef __cplusplus
}
#endif
#endif
