/* assets.c - the viewer's page, script and sort worker (gs/view/web/), built
 * into the binary with the assembler's .incbin so that `gs view` needs no
 * files at run time. Paths are relative to the repository root, where make
 * runs; each asset gets a trailing NUL and a size symbol. The Makefile must
 * list the files in gs/view/web/ as prerequisites of this object: the compiler's dependency
 * files do not see .incbin. */
#include "gs/view/view.h"

#include <stdint.h>
#include <string.h>

#define GS_INCBIN(sym, file)                                                   \
    __asm__(".pushsection .rodata\n"                                           \
            ".balign 16\n"                                                     \
            ".globl " #sym "\n"                                                \
            ".hidden " #sym "\n"                                               \
            ".type " #sym ", %object\n" #sym ":\n"                             \
            ".incbin \"" file "\"\n" ".L" #sym "_end:\n"                            \
            ".byte 0\n"                                                        \
            ".balign 8\n"                                                      \
            ".globl " #sym "_size\n"                                           \
            ".hidden " #sym "_size\n"                                          \
            ".type " #sym "_size, %object\n" #sym "_size:\n"                   \
            ".8byte .L" #sym "_end - " #sym "\n"                                 \
            ".popsection\n");                                                  \
    extern __attribute__((visibility("hidden"))) const char sym[];             \
    extern __attribute__((visibility("hidden"))) const uint64_t sym##_size

GS_INCBIN(gs_web_index_html, "gs/view/web/index.html");
GS_INCBIN(gs_web_viewer_js, "gs/view/web/viewer.js");
GS_INCBIN(gs_web_sort_worker_js, "gs/view/web/sort_worker.js");

const char *gs_view_asset(const char *name, size_t *size) {
    const char *p = NULL;
    uint64_t n = 0;
    if (!name) return NULL;
    if (!strcmp(name, "index.html")) { p = gs_web_index_html; n = gs_web_index_html_size; }
    else if (!strcmp(name, "viewer.js")) { p = gs_web_viewer_js; n = gs_web_viewer_js_size; }
    else if (!strcmp(name, "sort_worker.js")) { p = gs_web_sort_worker_js; n = gs_web_sort_worker_js_size; }
    if (p && size) *size = (size_t)n;
    return p;
}
