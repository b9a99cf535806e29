/* device.h - choosing where work runs.
 *
 * A CUDA build (GS_HAVE_CUDA, made when nvcc was found) still runs on a
 * machine without a GPU: resolving "auto" or "cuda" then falls back to the
 * CPU and says so once on stderr. */
#ifndef GS_DEVICE_H
#define GS_DEVICE_H

#include "gs/core/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GS_DEVICE_AUTO = 0, GS_DEVICE_CPU, GS_DEVICE_CUDA } gs_device;

/* Parse "auto", "cpu" or "cuda". */
gs_status gs_device_parse(const char *s, gs_device *out);
const char *gs_device_name(gs_device d);
/* 1 when this binary was built with CUDA support. */
int gs_cuda_compiled(void);
/* Number of usable CUDA devices (0 without a GPU or without CUDA support). */
int gs_cuda_device_count(void);
/* Why no CUDA device is usable, in the CUDA runtime's words
 * ("cudaGetDeviceCount: CUDA driver version is insufficient for CUDA runtime
 * version (cudaErrorInsufficientDriver)"); "" when one is. */
const char *gs_cuda_unusable_reason(void);
/* Describe device 0 ("NVIDIA H100 80GB HBM3, sm_90, 79.1 GiB") into buf;
 * without one, what is missing and why. */
gs_status gs_cuda_describe(char *buf, size_t n);
/* The CUDA runtime this build carries and the newest CUDA the installed
 * driver supports ("runtime 13.0, driver supports 13.0"; "driver: none"
 * without one); "no CUDA support" in a CPU build. */
void gs_cuda_versions(char *buf, size_t n);
/* auto -> cuda when a GPU is usable, else cpu; cuda without a GPU -> cpu
 * with a one-line notice on stderr. Never fails. */
gs_device gs_device_resolve(gs_device requested);

#ifdef __cplusplus
}
#endif
#endif
