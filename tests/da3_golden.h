/* da3_golden.h - reading the DA3 golden cases of tests/golden/da3 (made by
 * tools/make_da3_goldens.py) in the module tests: a case file with its view
 * count and image size, float32 copies of its tensors, and the relative
 * error every parity test reports. */
#ifndef GS_TESTS_DA3_GOLDEN_H
#define GS_TESTS_DA3_GOLDEN_H
#include "data/safetensors.h"
#include "gs/core/runtime.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DA3_GOLDEN_DIR "tests/golden/da3/"

typedef struct {
    gs_safetensors st;
    int S, H, W, ray; /* views, image size, whether the case asks for the ray pose */
} da3_golden;

/* Opens tests/golden/da3/NAME.safetensors; 0 when it is missing. */
static inline int da3_golden_open(da3_golden *c, const char *name) {
    char path[256];
    snprintf(path, sizeof path, DA3_GOLDEN_DIR "%s.safetensors", name);
    memset(c, 0, sizeof *c);
    if (gs_st_open(&c->st, path) != GS_OK) return 0;
    const char *s = gs_st_meta(&c->st, "views"), *h = gs_st_meta(&c->st, "height"), *w = gs_st_meta(&c->st, "width"),
               *r = gs_st_meta(&c->st, "use_ray_pose");
    c->S = s ? atoi(s) : 0, c->H = h ? atoi(h) : 0, c->W = w ? atoi(w) : 0, c->ray = r && !strcmp(r, "1");
    return 1;
}

/* A float32 copy of a golden tensor (NULL when absent); *n = element count. */
static inline float *da3_golden_f32(const da3_golden *c, const char *name, size_t *n) {
    const gs_st_tensor *t = gs_st_find(&c->st, name);
    if (!t) return NULL;
    gs_tensor view, f;
    gs_st_view(t, &view);
    if (gs_tensor_to_f32(&view, &f) != GS_OK) return NULL;
    if (n) *n = (size_t)gs_tensor_numel(&f);
    return f.data;
}

/* max|a-b| / max(max|b|, 1e-6), NaN propagating; *max_abs (if not NULL) = max|a-b| */
static inline double da3_rel_err(const float *a, const float *b, size_t n, double *max_abs) {
    double md = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) md = d;
        mb = fmax(mb, fabs((double)b[i]));
    }
    if (max_abs) *max_abs = md;
    return md / fmax(mb, 1e-6);
}
#endif
