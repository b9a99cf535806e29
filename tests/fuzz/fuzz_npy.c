/* fuzz_npy.c - libFuzzer target: arbitrary bytes through the strict .npy
 * header parser and payload size check. */
#include "data/npy.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gs_tensor t;
    if (gs_npy_read_mem(data, size, "fuzz.npy", &t) != GS_OK) {
        if (t.data) abort();
        return 0;
    }
    /* accepted: the payload is exactly the tail of the input */
    size_t nb = gs_tensor_nbytes(&t);
    if (nb > size || (nb && memcmp(t.data, data + size - nb, nb))) abort();
    gs_tensor_free(&t);
    return 0;
}
