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
    }
    for (int i = 0; i < st.n_meta; i++)
        if (gs_st_meta(&st, st.meta_keys[i]) == NULL) abort();
    (void)gs_st_param_count(&st);
    (void)sink;
    gs_st_close(&st);
    return 0;
}
