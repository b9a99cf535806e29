/* gs.h - the public C API of libgs, in one include.
 *
 * Link: build/libgs.a plus what `make print-libs` prints, for a CPU build
 * (make CUDA=0):
 *   -lpng -ljpeg -lwebp -lwebpdemux -ltiff -lexif -lz -lzstd -lcjson -lstb -ltinyexr -lopenblas -lm -lpthread -fopenmp
 * and a CUDA build adds, before -fopenmp:
 *   -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
 * (tests/test_eval_cli.c checks these lines against the Makefile).
 * Depth Anything 3 is gs/model/da3.h (included below; its header shows the
 * calls of an inference).
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
#include "gs/model/da3.h"

#endif
