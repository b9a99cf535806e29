/* tensor.c - dtypes, tensor storage and f16/bf16 conversion. */
#include "gs/core/runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name; size_t size; } k_dtypes[GS_DTYPE_COUNT] = {
    [GS_F32] = {"F32", 4},  [GS_F16] = {"F16", 2}, [GS_BF16] = {"BF16", 2},
    [GS_F64] = {"F64", 8},  [GS_I64] = {"I64", 8}, [GS_I32] = {"I32", 4},
    [GS_I16] = {"I16", 2},  [GS_I8] = {"I8", 1},   [GS_U8] = {"U8", 1},
    [GS_U16] = {"U16", 2},  [GS_U32] = {"U32", 4}, [GS_U64] = {"U64", 8},
    [GS_BOOL] = {"BOOL", 1}, [GS_F8_E4M3] = {"F8_E4M3", 1}, [GS_F8_E5M2] = {"F8_E5M2", 1},
};

size_t gs_dtype_size(gs_dtype t) { return (unsigned)t < GS_DTYPE_COUNT ? k_dtypes[t].size : 0; }
const char *gs_dtype_name(gs_dtype t) { return (unsigned)t < GS_DTYPE_COUNT ? k_dtypes[t].name : "?"; }

int64_t gs_tensor_numel(const gs_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t gs_tensor_nbytes(const gs_tensor *t) { return (size_t)gs_tensor_numel(t) * gs_dtype_size(t->dtype); }

gs_status gs_tensor_alloc(gs_tensor *t, gs_dtype dtype, int ndim, const int64_t *shape) {
    memset(t, 0, sizeof *t);
    if (ndim < 0 || ndim > GS_MAX_DIMS || (unsigned)dtype >= GS_DTYPE_COUNT)
        return gs_error(GS_ERR_INVALID, "tensor: bad dtype or rank %d", ndim);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return gs_error(GS_ERR_INVALID, "tensor: negative dimension %lld", (long long)shape[i]);
        if (!gs_mul_ok(n, (size_t)shape[i], &n)) return gs_error(GS_ERR_NOMEM, "tensor: shape overflows");
        t->shape[i] = shape[i];
    }
    t->data = gs_calloc(n, gs_dtype_size(dtype), "tensor");
    if (!t->data) return GS_ERR_NOMEM;
    t->dtype = dtype;
    t->ndim = ndim;
    t->owns = 1;
    return GS_OK;
}

void gs_tensor_wrap(gs_tensor *t, gs_dtype dtype, int ndim, const int64_t *shape, void *data) {
    memset(t, 0, sizeof *t);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim && i < GS_MAX_DIMS; i++) t->shape[i] = shape[i];
    t->data = data;
}

void gs_tensor_free(gs_tensor *t) {
    if (t->owns) free(t->data);
    memset(t, 0, sizeof *t);
}

gs_status gs_tensor_to_f32(const gs_tensor *src, gs_tensor *dst) {
    gs_status st = gs_tensor_alloc(dst, GS_F32, src->ndim, src->shape);
    if (st) return st;
    int64_t n = gs_tensor_numel(src);
    float *o = dst->data;
    switch (src->dtype) {
    case GS_F32: memcpy(o, src->data, (size_t)n * 4); break;
    case GS_F16: for (int64_t i = 0; i < n; i++) o[i] = gs_f16_to_f32(((const uint16_t *)src->data)[i]); break;
    case GS_BF16: for (int64_t i = 0; i < n; i++) o[i] = gs_bf16_to_f32(((const uint16_t *)src->data)[i]); break;
    case GS_F64: for (int64_t i = 0; i < n; i++) o[i] = (float)((const double *)src->data)[i]; break;
    default:
        gs_tensor_free(dst);
        return gs_error(GS_ERR_UNSUPPORTED, "tensor: cannot convert %s to F32", gs_dtype_name(src->dtype));
    }
    return GS_OK;
}

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float gs_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0) { /* zero or subnormal: man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (exp == 31) return u2f(sign | 0x7f800000u | (man << 13)); /* inf / nan */
    return u2f(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t gs_f32_to_f16(float f) {
    uint32_t u = f2u(f), sign = (u >> 16) & 0x8000;
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (a > 0x7f800000u ? 0x200 : 0));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) { /* below 2^-14: subnormal half; round to nearest even on the value */
        float v = u2f(a) * 16777216.0f; /* scale by 2^24 so the half ulp is 1 */
        return (uint16_t)(sign | (uint32_t)nearbyintf(v));
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1u); /* round to nearest even */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

float gs_bf16_to_f32(uint16_t h) { return u2f((uint32_t)h << 16); }

uint16_t gs_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* keep NaN a NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
