/* safetensors.h - memory-mapped safetensors reader with full validation, and
 * a writer (used for test checkpoints and tools).
 *
 * Format: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"k": "v"}}, then the data section; offsets are relative to
 * the start of the data section.
 * Validation: N bounded (100 MB) and inside the file, JSON parses to an object,
 * every string in it (names, dtypes, metadata) is valid UTF-8 without a raw
 * or escaped NUL or a raw control character, every dtype is known, shape entries are non-negative integers, prod(shape) *
 * dtype size == end - begin, spans lie inside the data section and do not
 * overlap. */
#ifndef GS_DATA_SAFETENSORS_H
#define GS_DATA_SAFETENSORS_H

#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GS_ST_MAX_HEADER ((uint64_t)100 << 20)

typedef struct {
    char *name;
    gs_dtype dtype;
    int ndim;
    int64_t shape[GS_MAX_DIMS];
    uint64_t begin, end;      /* byte offsets inside the data section */
    const uint8_t *data;      /* points into the mapping */
} gs_st_tensor;

typedef struct {
    gs_mmap map;
    const uint8_t *base;      /* start of the data section */
    size_t base_size;
    int n;                    /* number of tensors, sorted by name */
    gs_st_tensor *tensors;
    int n_meta;
    char **meta_keys, **meta_values;
    char *path;
} gs_safetensors;

gs_status gs_st_open(gs_safetensors *st, const char *path);
/* Parse from memory (the buffer must outlive st; used by fuzzers and tests). */
gs_status gs_st_open_mem(gs_safetensors *st, const uint8_t *data, size_t size, const char *name);
void gs_st_close(gs_safetensors *st);
/* Binary search by name; NULL when absent. */
const gs_st_tensor *gs_st_find(const gs_safetensors *st, const char *name);
/* Metadata value or NULL. */
const char *gs_st_meta(const gs_safetensors *st, const char *key);
/* Wrap a stored tensor as a gs_tensor view (no copy). */
void gs_st_view(const gs_st_tensor *t, gs_tensor *out);
/* Total parameter count (sum of numel). */
int64_t gs_st_param_count(const gs_safetensors *st);
/* The float32 values of t (F32, F16 or BF16; t->data may be misaligned),
 * every one checked as it passes: converted into dst (numel floats) when dst
 * is non-NULL, only checked when it is NULL (an aligned F32 tensor used in
 * place). Returns -1 when all are finite; else the index of the first NaN or
 * Inf, *kind (when kind is non-NULL) naming it ("NaN", "+Inf", "-Inf"), and
 * dst's contents unspecified; -2 for other dtypes. Large tensors are scanned
 * by all threads. */
int64_t gs_st_f32(const gs_st_tensor *t, float *dst, const char **kind);
/* gs_st_f32 as a status: GS_ERR_FORMAT "PATH: tensor NAME has a non-finite
 * value (NaN) at element 17", GS_ERR_UNSUPPORTED for other dtypes. */
gs_status gs_st_read_f32(const gs_safetensors *st, const gs_st_tensor *t, float *dst);

/* Writer: collect tensors (data is copied at write time, not at add), then
 * write atomically. Names must be unique. */
typedef struct gs_st_writer gs_st_writer;
gs_st_writer *gs_st_writer_new(void);
gs_status gs_st_writer_add(gs_st_writer *w, const char *name, gs_dtype dtype, int ndim,
                           const int64_t *shape, const void *data);
gs_status gs_st_writer_meta(gs_st_writer *w, const char *key, const char *value);
gs_status gs_st_writer_save(gs_st_writer *w, const char *path);
void gs_st_writer_free(gs_st_writer *w);

#ifdef __cplusplus
}
#endif
#endif
