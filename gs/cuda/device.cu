/* device.cu - CUDA device queries behind gs/core/device.c (built only when
 * nvcc is present). When no device is usable, the CUDA runtime's own reason
 * is kept so that `gs --version` and every `--device cuda` failure can say
 * it ("CUDA driver version is insufficient for CUDA runtime version", ...). */
#include <cuda_runtime.h>
#include <stdio.h>

#include "gs/core/runtime.h"

static char g_unusable[256]; /* written once, by the first (cached) count */

extern "C" int gs_cuda_device_count_impl(void) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        snprintf(g_unusable, sizeof g_unusable, "cudaGetDeviceCount: %s (%s)", cudaGetErrorString(e),
                 cudaGetErrorName(e));
        cudaGetLastError(); /* clear the sticky "no device" error */
        return 0;
    }
    if (n < 1) snprintf(g_unusable, sizeof g_unusable, "cudaGetDeviceCount found no device");
    return n < 1 ? 0 : n;
}

extern "C" const char *gs_cuda_unusable_reason_impl(void) { return g_unusable; }

extern "C" gs_status gs_cuda_describe_impl(char *buf, size_t n) {
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) {
        cudaGetLastError();
        snprintf(buf, n, "device 0 unreadable (cudaGetDeviceProperties: %s)", cudaGetErrorString(e));
        return gs_error(GS_ERR_DEVICE, "cudaGetDeviceProperties: %s", cudaGetErrorString(e));
    }
    snprintf(buf, n, "%s, sm_%d%d, %.1f GiB", p.name, p.major, p.minor, (double)p.totalGlobalMem / (1 << 30));
    return GS_OK;
}

/* cudaRuntimeGetVersion: the (static) runtime linked in; cudaDriverGetVersion:
 * 0 when no driver is installed. Neither needs a device. */
extern "C" void gs_cuda_versions_impl(int *runtime, int *driver) {
    if (cudaRuntimeGetVersion(runtime) != cudaSuccess) *runtime = 0;
    if (cudaDriverGetVersion(driver) != cudaSuccess) *driver = 0;
    cudaGetLastError();
}
