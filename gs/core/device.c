/* device.c - device selection with CPU fallback. */
#include "gs/core/device.h"

#include <string.h>

#ifdef GS_HAVE_CUDA
int gs_cuda_device_count_impl(void);
const char *gs_cuda_unusable_reason_impl(void);
gs_status gs_cuda_describe_impl(char *buf, size_t n);
void gs_cuda_versions_impl(int *runtime, int *driver);
#endif

void gs_cuda_versions(char *buf, size_t n) {
#ifdef GS_HAVE_CUDA
    int rt = 0, drv = 0;
    gs_cuda_versions_impl(&rt, &drv);
    if (drv > 0)
        snprintf(buf, n, "runtime %d.%d, driver supports %d.%d", rt / 1000, rt % 1000 / 10, drv / 1000,
                 drv % 1000 / 10);
    else snprintf(buf, n, "runtime %d.%d, driver: none found", rt / 1000, rt % 1000 / 10);
#else
    snprintf(buf, n, "no CUDA support");
#endif
}

gs_status gs_device_parse(const char *s, gs_device *out) {
    if (!strcmp(s, "auto")) *out = GS_DEVICE_AUTO;
    else if (!strcmp(s, "cpu")) *out = GS_DEVICE_CPU;
    else if (!strcmp(s, "cuda") || !strcmp(s, "gpu")) *out = GS_DEVICE_CUDA;
    else return gs_error(GS_ERR_INVALID, "unknown device '%s' (expected auto, cpu or cuda)", s);
    return GS_OK;
}

const char *gs_device_name(gs_device d) {
    return d == GS_DEVICE_CPU ? "cpu" : d == GS_DEVICE_CUDA ? "cuda" : "auto";
}

int gs_cuda_compiled(void) {
#ifdef GS_HAVE_CUDA
    return 1;
#else
    return 0;
#endif
}

int gs_cuda_device_count(void) {
#ifdef GS_HAVE_CUDA
    static int cached = -1;
    if (cached < 0) cached = gs_cuda_device_count_impl();
    return cached;
#else
    return 0;
#endif
}

const char *gs_cuda_unusable_reason(void) {
#ifdef GS_HAVE_CUDA
    if (gs_cuda_device_count() > 0) return "";
    const char *r = gs_cuda_unusable_reason_impl();
    return r && *r ? r : "no CUDA device found";
#else
    return "this build has no CUDA support";
#endif
}

gs_status gs_cuda_describe(char *buf, size_t n) {
#ifdef GS_HAVE_CUDA
    if (gs_cuda_device_count() > 0) return gs_cuda_describe_impl(buf, n);
    snprintf(buf, n, "CUDA support built in, but no usable GPU (%s)", gs_cuda_unusable_reason());
    return gs_error(GS_ERR_DEVICE, "no usable CUDA device (%s)", gs_cuda_unusable_reason());
#else
    snprintf(buf, n, "built without CUDA");
    return gs_error(GS_ERR_UNSUPPORTED, "built without CUDA (nvcc was not found at build time)");
#endif
}

gs_device gs_device_resolve(gs_device requested) {
    static int warned;
    if (requested == GS_DEVICE_CPU) return GS_DEVICE_CPU;
    if (gs_cuda_device_count() > 0) return GS_DEVICE_CUDA;
    if (requested == GS_DEVICE_CUDA && !warned) {
        warned = 1;
        if (gs_cuda_compiled())
            fprintf(stderr, "gs: notice: CUDA requested but no usable GPU was found (%s); running on the CPU\n",
                    gs_cuda_unusable_reason());
        else
            fprintf(stderr, "gs: notice: CUDA requested but this build has no CUDA support; running on the CPU\n");
    }
    return GS_DEVICE_CPU;
}
