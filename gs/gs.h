/* gs.h - the public C API of libgs, in one include.
 *
 * Link: build/libgs.a plus -lpng -lz -lzstd -lcjson -lstb -ltinyexr
 * -lopenblas -lm -lpthread -fopenmp (and the CUDA libraries in a CUDA build;
 * `make print-libs` prints the exact list).
 * Every function returns gs_status (GS_OK == 0); on failure
 * gs_last_error() says what was wrong with which input. */
#ifndef GS_GS_H
#define GS_GS_H

#include "gs/core/runtime.h"
#include "gs/core/device.h"
#include "data/image.h"
#include "data/safetensors.h"
#include "data/npy.h"
#include "data/scene.h"
#include "data/cameras.h"
#include "gs/ops/ops.h"
#include "raster/raster.h"
#include "raster/trajectory.h"
#include "eval/metrics.h"

#endif
