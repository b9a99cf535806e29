/* colmap_rd.h - a bounded little-endian reader over a COLMAP .bin file in
 * memory, shared by colmap.c (cameras, images) and colmap_model.c (the
 * whole model). Internal to data/. */
#ifndef GS_DATA_COLMAP_RD_H
#define GS_DATA_COLMAP_RD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t left;
} rd;

/* 1 and n bytes copied out, or 0 (nothing consumed) when fewer are left */
static inline int rd_bytes(rd *r, void *dst, size_t n) {
    if (r->left < n) return 0;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return 1;
}
static inline int rd_u64(rd *r, uint64_t *v) { return rd_bytes(r, v, 8); }
static inline int rd_i32(rd *r, int32_t *v) { return rd_bytes(r, v, 4); }
static inline int rd_f64(rd *r, double *v, int n) { return rd_bytes(r, v, (size_t)n * 8); }

#endif
