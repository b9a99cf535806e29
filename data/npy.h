/* npy.h - a small reader (and writer) for NumPy .npy files: versions 1-3,
 * little-endian f4/f8/i4/i8/u1 (and '|' byte order), C order only. The
 * header dict is parsed strictly; shape × itemsize must match the payload. */
#ifndef GS_DATA_NPY_H
#define GS_DATA_NPY_H

#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Read into a newly allocated tensor with the file's dtype. */
gs_status gs_npy_read(const char *path, gs_tensor *out);
gs_status gs_npy_read_mem(const uint8_t *data, size_t size, const char *name, gs_tensor *out);
/* Write a tensor (F32, F64, I32, I64, U8) as .npy version 1.0, atomically. */
gs_status gs_npy_write(const char *path, const gs_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
