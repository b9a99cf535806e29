/* raster_cuda_stub.c - the CUDA rasterizer's entry points in builds without
 * CUDA (make CUDA=0, or no nvcc): they say so instead of rendering. */
#include "raster/raster.h"

#include <string.h>

#ifndef GS_HAVE_CUDA
gs_status gs_raster_cuda_new(gs_raster_cuda **out) {
    *out = NULL;
    return gs_error(GS_ERR_UNSUPPORTED, "render cuda: this build has no CUDA support (nvcc was not found at build time)");
}
void gs_raster_cuda_free(gs_raster_cuda *c) { (void)c; }
gs_status gs_raster_cuda_set_scene(gs_raster_cuda *c, const gs_scene *s) {
    (void)c;
    (void)s;
    return gs_error(GS_ERR_UNSUPPORTED, "render cuda: this build has no CUDA support");
}
gs_status gs_render_cuda(gs_raster_cuda *c, const gs_camera *cam, const gs_raster_opts *opts, gs_raster_out *out) {
    (void)c;
    (void)cam;
    (void)opts;
    if (out) memset(out, 0, sizeof *out);
    return gs_error(GS_ERR_UNSUPPORTED, "render cuda: this build has no CUDA support");
}
void gs_raster_cuda_get_stats(const gs_raster_cuda *c, gs_raster_cuda_stats *st) {
    (void)c;
    memset(st, 0, sizeof *st);
}
#else
typedef int gs_raster_cuda_stub_unused; /* ISO C wants a declaration in every file */
#endif
