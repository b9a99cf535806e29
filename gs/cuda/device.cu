/* device.cu - CUDA device queries (built only when nvcc is present). */
#include <cuda_runtime.h>
#include <stdio.h>

#include "gs/core/runtime.h"

extern "C" int gs_cuda_device_count_impl(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError(); /* clear the sticky "no device" error */
        return 0;
    }
    return n;
}

extern "C" gs_status gs_cuda_describe_impl(char *buf, size_t n) {
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) return gs_error(GS_ERR_DEVICE, "cudaGetDeviceProperties: %s", cudaGetErrorString(e));
    snprintf(buf, n, "%s, sm_%d%d, %.1f GiB", p.name, p.major, p.minor, (double)p.totalGlobalMem / (1 << 30));
    return GS_OK;
}
