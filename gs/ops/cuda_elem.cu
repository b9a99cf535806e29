/* cuda_elem.cu - the element-wise CUDA kernels of the op layer (gs/ops/cuda.h),
 * twins of gs/ops/cpu_elem.c with the CPU's formulas: GELU, SiLU and the
 * sigmoid in double (the CPU's portable reference; erf/exp in double on the
 * GPU are within 2 double ulps, so the float results match it to the ulp),
 * exp in float (expf: CUDA's is within 2 float ulps, glibc's within 1). */
#include "gs/cuda/cuda_common.cuh"

#include "gs/ops/cuda.h"

#define BS GS_CUDA_BLOCK

__device__ static inline float unary_map(gs_unary_kind f, float v) {
    switch (f) {
    case GS_UNARY_RELU: return v > 0.0f ? v : 0.0f;
    case GS_UNARY_GELU: return (float)(0.5 * v * (1.0 + erf(v * 0.70710678118654752440)));
    case GS_UNARY_SILU: return (float)(v / (1.0 + exp(-(double)v)));
    case GS_UNARY_SIGMOID: return (float)(1.0 / (1.0 + exp(-(double)v)));
    case GS_UNARY_EXP: return expf(v);
    case GS_UNARY_EXP_PLUS1: return expf(v) + 1.0f;
    }
    return v;
}

/* y[i] = f(x[i]); y may be x (each element is read before it is written, by
 * the same thread). */
__global__ void k_unary(gs_unary_kind f, const float *x, float *y, size_t n) {
    for (size_t i = (size_t)blockIdx.x * BS + threadIdx.x; i < n; i += (size_t)gridDim.x * BS)
        y[i] = unary_map(f, x[i]);
}

extern "C" gs_status gs_unary_cuda(const gs_ctx *c, gs_unary_kind f, const float *x, float *y, size_t n) {
    if (!c || c->device != GS_DEVICE_CUDA || !c->cuda) return gs_error(GS_ERR_INVALID, "unary: not a CUDA op context");
    if ((unsigned)f > (unsigned)GS_UNARY_EXP_PLUS1)
        return gs_error(GS_ERR_INVALID, "unary: unknown function %d", (int)f);
    if (!n) return GS_OK;
    if (!x || !y) return gs_error(GS_ERR_INVALID, "unary: missing input or output");
    k_unary<<<gs_cuda_blocks(n, 8192), BS, 0, c->cuda->stream>>>(f, x, y, n);
    return gs_cuda_launched("unary");
}
