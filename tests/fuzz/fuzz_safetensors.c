/* fuzz_safetensors.c - libFuzzer target: arbitrary bytes through the
 * safetensors header validation; every accepted tensor is then read in full
 * so that any span the validator let through outside the buffer shows up
 * under ASan. */
#include "data/safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gs_safetensors st;
    if (gs_st_open_mem(&st, data, size, "fuzz.safetensors") != GS_OK) {
        if (st.n || st.tensors || st.path) abort(); /* a failed open must leave nothing behind */
        return 0;
    }
    volatile uint8_t sink = 0;
    for (int i = 0; i < st.n; i++) {
        const gs_st_tensor *t = &st.tensors[i];
        if (gs_st_find(&st, t->name) != t) abort();
        if (t->data < data || t->data + (t->end - t->begin) > data + size) abort();
        for (uint64_t k = 0; k < t->end - t->begin; k++) sink ^= t->data[k];
        gs_tensor v;
        gs_st_view(t, &v);
        if (gs_tensor_nbytes(&v) != t->end - t->begin) abort();
        /* the checked float32 conversion the model loaders use: both ways
         * must agree on the first non-finite element */
        if (t->dtype == GS_F32 || t->dtype == GS_F16 || t->dtype == GS_BF16) {
            size_t ne = (size_t)((t->end - t->begin) / gs_dtype_size(t->dtype));
            float *f = malloc((ne ? ne : 1) * sizeof *f);
            if (!f) abort();
            const char *k1 = NULL, *k2 = NULL;
            int64_t a = gs_st_f32(t, f, &k1), b = gs_st_f32(t, NULL, &k2);
            if (a != b || a < -1 || a >= (int64_t)ne || (a >= 0 && (!k1 || !k2 || strcmp(k1, k2)))) abort();
            free(f);
        }
    }
    for (int i = 0; i < st.n_meta; i++)
        if (gs_st_meta(&st, st.meta_keys[i]) == NULL) abort();
    (void)gs_st_param_count(&st);
    (void)sink;
    gs_st_close(&st);
    return 0;
}
