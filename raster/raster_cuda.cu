/* raster_cuda.cu - the CUDA tile rasterizer, twin of raster_cpu.c (same
 * projection and SH source, raster_math.h; same blending rule):
 *   1. k_project: one thread per splat: projection, SH colour, gsplat's tile
 *      box, and the number of tiles whose pixels the alpha >= 1/255 ellipse
 *      reaches (gs_tile_walk in raster_math.h: exact tile-ellipse
 *      intersection, one tile row at a time; tested on the CPU);
 *   2. CUB inclusive scan of the counts -> where each splat writes its pairs;
 *   3. k_emit: keys (tile << 32 | depth bits), values splat ids;
 *   4. CUB radix sort of the pairs (stable: equal depths keep index order,
 *      as the CPU sorts by (depth, index));
 *   5. k_ranges: [start, end) of every tile in the sorted list;
 *   6. k_blend: one 16x16 block per tile, batches of 256 splats staged in
 *      shared memory, front to back, early termination per pixel and block.
 * Device buffers (gs_dbuf, gs/cuda/cuda_common.cuh) live in the
 * gs_raster_cuda context and only grow; their bytes are counted for the
 * peak-memory report. Every CUDA call is checked (GS_CU) and reported
 * through gs_error. Work is queued in order on the stream of the renderer's
 * gs_cuda_ctx (gs/cuda); the host waits on it only where it reads a result
 * (the pair count and counters, the frame) and for uploads. */
#include <cub/cub.cuh>
#include <cuda_runtime.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gs/core/device.h"
#include "gs/cuda/cuda_common.cuh"
#include "raster/raster.h"
#include "raster/raster_math.h"

#define BLOCK (GS_TILE * GS_TILE)
#define MAX_PAIRS ((int64_t)INT32_MAX - 1) /* CUB sorts with int counts; ranges hold int32 */

struct gs_raster_cuda {
    int64_t n;
    int sh_degree, has_scene;
    gs_dbuf means, scales, rots, ops, sh;                  /* the scene */
    gs_dbuf xy, conic_op, rgbd, tbox, level, count, offset; /* per splat */
    gs_dbuf keys[2], vals[2], temp, ranges;                 /* per frame */
    gs_dbuf img_rgb, img_depth, img_alpha, counters;
    gs_cuda_usage mem; /* device bytes held now and at most (the stats' peak) */
    size_t scene_bytes;
    gs_cuda_ctx *cu;                                    /* the device and the stream every call is queued on */
    cudaEvent_t ev0, ev1;
    int events;
    gs_raster_cuda_stats stats;
};

/* Make b hold at least `bytes`, counted in c's memory use. */
static gs_status reserve(gs_raster_cuda *c, gs_dbuf *b, size_t bytes, double slack, const char *what) {
    return gs_dbuf_reserve(b, bytes, slack, &c->mem, what);
}

/* ---- kernels -------------------------------------------------------------------- */
struct frame_params {
    float R[9], t[3], campos[3], fx, fy, cx, cy;
    int W, H, tw, th, deg, sh_stride;
    gs_raster_opts o;
};

/* float -> uint32 with the same order (negative depths only with near <= 0) */
__device__ static uint32_t depth_key(float d) {
    uint32_t u = __float_as_uint(d + 0.0f); /* -0 -> +0 */
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

__global__ void k_project(int64_t n, const float *means, const float *scales, const float *rots, const float *ops,
                          const float *sh, frame_params P, float2 *xy, float4 *conic_op, float4 *rgbd, int4 *tbox,
                          float *level, int64_t *count, unsigned long long *counters) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    int vis = 0, bad = 0;
    if (i < n) {
        gs_projected p;
        const float *m = means + 3 * i;
        vis = gs_project_core(m, scales + 3 * i, rots + 4 * i, ops[i], P.R, P.t, P.fx, P.fy, P.cx, P.cy, P.W, P.H, &P.o,
                              &p, &bad);
        int64_t cnt = 0;
        int4 box = make_int4(0, 0, 0, 0);
        if (vis) {
            float dir[3] = {m[0] - P.campos[0], m[1] - P.campos[1], m[2] - P.campos[2]};
            if (!gs_sh_eval(sh + i * P.sh_stride, P.deg, dir, p.rgb)) vis = 0, bad = 1; /* NaN/Inf colour */
        }
        if (vis) {
            float mx = p.mean2d[0], my = p.mean2d[1];
            /* gsplat's tile box: the same float expressions as raster_cpu.c */
            box.x = (int)fmaxf(0, floorf((mx - p.radius[0]) / GS_TILE));
            box.y = (int)fminf((float)P.tw, ceilf((mx + p.radius[0]) / GS_TILE));
            box.z = (int)fmaxf(0, floorf((my - p.radius[1]) / GS_TILE));
            box.w = (int)fminf((float)P.th, ceilf((my + p.radius[1]) / GS_TILE));
            double L = gs_ellipse_level(p.conic[0], p.conic[1], p.conic[2], p.opacity);
            float lf = (float)L;
            if ((double)lf < L) lf = nextafterf(lf, INFINITY); /* never prune more than the level allows */
            xy[i] = make_float2(mx, my);
            conic_op[i] = make_float4(p.conic[0], p.conic[1], p.conic[2], p.opacity);
            rgbd[i] = make_float4(p.rgb[0], p.rgb[1], p.rgb[2], p.depth);
            level[i] = lf;
            cnt = gs_tile_walk(mx, my, p.conic[0], p.conic[1], p.conic[2], lf, box.x, box.y, box.z, box.w, P.W, P.H, 0, 0,
                               NULL, NULL, 0);
        }
        tbox[i] = box;
        count[i] = cnt;
    }
    /* one atomic per warp for the frame's counters */
    unsigned nv = __popc(__ballot_sync(0xffffffffu, vis)), nb = __popc(__ballot_sync(0xffffffffu, bad));
    if ((threadIdx.x & 31) == 0) {
        if (nv) atomicAdd(&counters[1], (unsigned long long)nv);
        if (nb) atomicAdd(&counters[0], (unsigned long long)nb);
    }
}

__global__ void k_emit(int64_t n, const float2 *xy, const float4 *conic_op, const float4 *rgbd, const int4 *tbox,
                       const float *level, const int64_t *count, const int64_t *offset_incl, int W, int H, int nt,
                       uint64_t *keys, int32_t *vals) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    int64_t cnt = count[i];
    if (cnt <= 0) return;
    int64_t off = offset_incl[i] - cnt;
    float4 co = conic_op[i];
    float2 m = xy[i];
    int4 box = tbox[i];
    int64_t w = gs_tile_walk(m.x, m.y, co.x, co.y, co.z, level[i], box.x, box.y, box.z, box.w, W, H,
                             depth_key(rgbd[i].w), (int32_t)i, keys + off, vals + off, cnt);
    for (int64_t k = w; k < cnt; k++) { /* cannot happen (same function, same inputs); sorted past every tile */
        keys[off + k] = ((uint64_t)(uint32_t)nt << 32) | 0xffffffffu;
        vals[off + k] = (int32_t)i;
    }
}

__global__ void k_ranges(int64_t total, const uint64_t *keys, int nt, int2 *ranges) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    uint32_t tile = (uint32_t)(keys[i] >> 32);
    if (tile >= (uint32_t)nt) return;
    if (i == 0 || (uint32_t)(keys[i - 1] >> 32) != tile) ranges[tile].x = (int)i;
    if (i == total - 1 || (uint32_t)(keys[i + 1] >> 32) != tile) ranges[tile].y = (int)(i + 1);
}

/* a + b and a * b without contraction into fma, as the CPU (no FMA) rounds them */
__device__ static inline float add(float a, float b) { return __fadd_rn(a, b); }
__device__ static inline float mul(float a, float b) { return __fmul_rn(a, b); }

__global__ void __launch_bounds__(BLOCK) k_blend(const int2 *ranges, const int32_t *vals, const float2 *xy,
                                                  const float4 *conic_op, const float4 *rgbd, int W, int H, int tw,
                                                  float3 bg, float *out_rgb, float *out_depth, float *out_alpha) {
    __shared__ float2 s_xy[BLOCK];
    __shared__ float4 s_co[BLOCK];
    __shared__ float4 s_rgbd[BLOCK];
    int tile = blockIdx.x, lt = threadIdx.x;
    int px = (tile % tw) * GS_TILE + lt % GS_TILE, py = (tile / tw) * GS_TILE + lt / GS_TILE;
    bool inside = px < W && py < H, done = !inside;
    int2 r = ranges[tile];
    int n = r.y - r.x;
    float T = 1.0f, cr = 0, cg = 0, cb = 0, d = 0;
    float fxp = (float)px + 0.5f, fyp = (float)py + 0.5f;
    for (int base = 0; base < n; base += BLOCK) {
        if (__syncthreads_count(done) == BLOCK) break; /* also the barrier before refilling shared memory */
        int j = base + lt;
        if (j < n) {
            int g = vals[r.x + j];
            s_xy[lt] = xy[g];
            s_co[lt] = conic_op[g];
            s_rgbd[lt] = rgbd[g];
        }
        __syncthreads();
        int cnt = min(BLOCK, n - base);
        for (int k = 0; !done && k < cnt; k++) {
            float2 m = s_xy[k];
            float4 co = s_co[k];
            float dx = m.x - fxp, dy = m.y - fyp;
            float sigma = add(mul(0.5f, add(mul(mul(co.x, dx), dx), mul(mul(co.z, dy), dy))), mul(mul(co.y, dx), dy));
            if (sigma < 0.f) continue;
            float a = fminf(GS_ALPHA_MAX, mul(co.w, expf(-sigma)));
            if (a < GS_ALPHA_MIN) continue;
            float next_T = mul(T, 1.0f - a);
            if (next_T <= GS_T_MIN) {
                done = true;
                break;
            }
            float4 c = s_rgbd[k];
            float vis = mul(a, T);
            cr = add(cr, mul(c.x, vis));
            cg = add(cg, mul(c.y, vis));
            cb = add(cb, mul(c.z, vis));
            d = add(d, mul(c.w, vis));
            T = next_T;
        }
    }
    if (inside) {
        size_t o = (size_t)py * W + px;
        out_rgb[3 * o] = add(cr, mul(T, bg.x));
        out_rgb[3 * o + 1] = add(cg, mul(T, bg.y));
        out_rgb[3 * o + 2] = add(cb, mul(T, bg.z));
        out_alpha[o] = 1.0f - T;
        out_depth[o] = d / fmaxf(1.0f - T, 1e-10f);
    }
}

/* ---- host side ------------------------------------------------------------------- */
extern "C" gs_status gs_raster_cuda_new(gs_raster_cuda **out) {
    *out = NULL;
    if (gs_cuda_device_count() < 1)
        return gs_error(GS_ERR_DEVICE, "render cuda: no usable CUDA device (%s)", gs_cuda_unusable_reason());
    gs_raster_cuda *c = (gs_raster_cuda *)calloc(1, sizeof *c);
    if (!c) return gs_error(GS_ERR_NOMEM, "render cuda: out of host memory");
    gs_status cs = gs_cuda_ctx_create(&c->cu, 0);
    if (cs) {
        free(c);
        return gs_error_prefix(cs, "render cuda");
    }
    if (cudaEventCreate(&c->ev0) != cudaSuccess || cudaEventCreate(&c->ev1) != cudaSuccess) {
        gs_status st = gs_cuda_check(cudaGetLastError(), "creating timing events");
        gs_cuda_ctx_free(c->cu);
        free(c);
        return st;
    }
    c->events = 1;
    gs_status st = reserve(c, &c->counters, 2 * sizeof(unsigned long long), 1, "frame counters");
    if (st) {
        gs_raster_cuda_free(c);
        return st;
    }
    *out = c;
    return GS_OK;
}

extern "C" void gs_raster_cuda_free(gs_raster_cuda *c) {
    if (!c) return;
    gs_dbuf *all[] = {&c->means, &c->scales, &c->rots, &c->ops, &c->sh, &c->xy, &c->conic_op, &c->rgbd,
                      &c->tbox, &c->level, &c->count, &c->offset, &c->keys[0], &c->keys[1], &c->vals[0], &c->vals[1],
                      &c->temp, &c->ranges, &c->img_rgb, &c->img_depth, &c->img_alpha, &c->counters};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gs_dbuf_free(all[i], &c->mem);
    if (c->events) {
        cudaEventDestroy(c->ev0);
        cudaEventDestroy(c->ev1);
    }
    gs_cuda_ctx_free(c->cu);
    free(c);
}

static gs_status upload(gs_raster_cuda *c, gs_dbuf *b, const void *src, size_t bytes, const char *what) {
    gs_status st = reserve(c, b, bytes, 1, what);
    if (st) return st;
    return gs_cuda_upload(c->cu, b->p, src, bytes); /* waited for: src may go away */
}

extern "C" gs_status gs_raster_cuda_set_scene(gs_raster_cuda *c, const gs_scene *s) {
    if (!c) return gs_error(GS_ERR_INVALID, "render cuda: no renderer");
    if (s->n < 0 || s->n > INT32_MAX)
        return gs_error(GS_ERR_INVALID, "render cuda: %lld splats exceed the renderer's 2^31 limit", (long long)s->n);
    if (s->sh_degree < 0 || s->sh_degree > GS_SH_MAX_DEGREE)
        return gs_error(GS_ERR_INVALID, "render cuda: SH degree %d out of range (0..3)", s->sh_degree);
    c->has_scene = 0;
    size_t n = (size_t)s->n, k = (size_t)gs_sh_coeffs(s->sh_degree) * 3;
    gs_status st;
    if ((st = upload(c, &c->means, s->means, n * 3 * sizeof(float), "splat means")) ||
        (st = upload(c, &c->scales, s->scales, n * 3 * sizeof(float), "splat scales")) ||
        (st = upload(c, &c->rots, s->rotations, n * 4 * sizeof(float), "splat rotations")) ||
        (st = upload(c, &c->ops, s->opacities, n * sizeof(float), "splat opacities")) ||
        (st = upload(c, &c->sh, s->sh, n * k * sizeof(float), "splat SH coefficients")))
        return st;
    c->scene_bytes = c->means.cap + c->scales.cap + c->rots.cap + c->ops.cap + c->sh.cap;
    if ((st = reserve(c, &c->xy, n * sizeof(float2), 1, "projected means")) ||
        (st = reserve(c, &c->conic_op, n * sizeof(float4), 1, "conics")) ||
        (st = reserve(c, &c->rgbd, n * sizeof(float4), 1, "colours")) ||
        (st = reserve(c, &c->tbox, n * sizeof(int4), 1, "tile boxes")) ||
        (st = reserve(c, &c->level, n * sizeof(float), 1, "ellipse levels")) ||
        (st = reserve(c, &c->count, n * sizeof(int64_t), 1, "tile counts")) ||
        (st = reserve(c, &c->offset, n * sizeof(int64_t), 1, "tile offsets")))
        return st;
    c->n = s->n;
    c->sh_degree = s->sh_degree;
    c->has_scene = 1;
    return GS_OK;
}

static int bits_for(uint32_t v) {
    int b = 0;
    while (b < 32 && (v >> b)) b++;
    return b;
}

extern "C" gs_status gs_render_cuda(gs_raster_cuda *c, const gs_camera *cam, const gs_raster_opts *opts,
                                    gs_raster_out *out) {
    gs_raster_opts od;
    if (!opts) {
        gs_raster_opts_default(&od);
        opts = &od;
    }
    if (out) memset(out, 0, sizeof *out);
    if (!c || !c->has_scene) return gs_error(GS_ERR_INVALID, "render cuda: no scene uploaded (gs_raster_cuda_set_scene)");
    int W = opts->width > 0 ? opts->width : cam->width, H = opts->height > 0 ? opts->height : cam->height;
    if (W <= 0 || H <= 0 || W > 32768 || H > 32768)
        return gs_error(GS_ERR_INVALID, "render: image size %dx%d out of range (1..32768)", W, H);
    double sx = cam->width > 0 ? (double)W / cam->width : 1, sy = cam->height > 0 ? (double)H / cam->height : 1;
    frame_params P;
    memset(&P, 0, sizeof P);
    P.fx = (float)(cam->fx * sx);
    P.fy = (float)(cam->fy * sy);
    P.cx = (float)(cam->cx * sx);
    P.cy = (float)(cam->cy * sy);
    if (!(P.fx > 0) || !(P.fy > 0) || !isfinite(P.fx) || !isfinite(P.fy) || !isfinite(P.cx) || !isfinite(P.cy))
        return gs_error(GS_ERR_INVALID, "render: camera intrinsics fx=%g fy=%g cx=%g cy=%g are not usable", P.fx, P.fy,
                        P.cx, P.cy);
    double C[3];
    for (int k = 0; k < 9; k++) P.R[k] = (float)cam->R[k];
    for (int k = 0; k < 3; k++) P.t[k] = (float)cam->t[k];
    gs_camera_center(cam, C);
    for (int k = 0; k < 3; k++) P.campos[k] = (float)C[k];
    P.W = W;
    P.H = H;
    P.tw = (W + GS_TILE - 1) / GS_TILE;
    P.th = (H + GS_TILE - 1) / GS_TILE;
    P.deg = opts->sh_degree < 0 || opts->sh_degree > c->sh_degree ? c->sh_degree : opts->sh_degree;
    P.sh_stride = gs_sh_coeffs(c->sh_degree) * 3;
    P.o = *opts;
    int nt = P.tw * P.th;
    size_t np = (size_t)W * H;
    int64_t n = c->n;
    gs_status st;
    const cudaStream_t s = c->cu->stream; /* every call of the frame, in order */
    if ((st = reserve(c, &c->ranges, (size_t)nt * sizeof(int2), 1, "tile ranges")) ||
        (st = reserve(c, &c->img_rgb, np * 3 * sizeof(float), 1, "the colour image")) ||
        (st = reserve(c, &c->img_depth, np * sizeof(float), 1, "the depth image")) ||
        (st = reserve(c, &c->img_alpha, np * sizeof(float), 1, "the alpha image")))
        return st;
    /* CUB scratch for the scan (the sort's is reserved once the pair count is known) */
    size_t scan_bytes = 0;
    if (n > 0) {
        GS_CU(cub::DeviceScan::InclusiveSum(NULL, scan_bytes, (int64_t *)c->count.p, (int64_t *)c->offset.p, (int)n, s),
              "sizing the scan");
        if ((st = reserve(c, &c->temp, scan_bytes, 1.25, "scan scratch"))) return st;
    }

    GS_CU(cudaEventRecord(c->ev0, s), "timing");
    unsigned long long *counters = (unsigned long long *)c->counters.p;
    GS_CU(cudaMemsetAsync(counters, 0, 2 * sizeof(unsigned long long), s), "clearing counters");
    int64_t total = 0;
    unsigned long long hc[2] = {0, 0};
    if (n > 0) {
        unsigned blocks = (unsigned)((n + 255) / 256);
        k_project<<<blocks, 256, 0, s>>>(n, (const float *)c->means.p, (const float *)c->scales.p, (const float *)c->rots.p,
                                   (const float *)c->ops.p, (const float *)c->sh.p, P, (float2 *)c->xy.p,
                                   (float4 *)c->conic_op.p, (float4 *)c->rgbd.p, (int4 *)c->tbox.p,
                                   (float *)c->level.p, (int64_t *)c->count.p, counters);
        GS_CU_LAUNCHED("launching the projection");
        GS_CU(cub::DeviceScan::InclusiveSum(c->temp.p, scan_bytes, (int64_t *)c->count.p, (int64_t *)c->offset.p,
                                            (int)n, s),
              "scanning tile counts");
        GS_CU(cudaMemcpyAsync(&total, (int64_t *)c->offset.p + (n - 1), sizeof total, cudaMemcpyDeviceToHost, s),
              "projection (reading the pair count)");
    }
    GS_CU(cudaMemcpyAsync(hc, counters, sizeof hc, cudaMemcpyDeviceToHost, s), "reading counters");
    GS_CU(cudaStreamSynchronize(s), "projection");
    if (total < 0 || total > MAX_PAIRS)
        return gs_error(GS_ERR_UNSUPPORTED, "render cuda: %lld splat-tile pairs exceed the limit of %lld",
                        (long long)total, (long long)MAX_PAIRS);
    GS_CU(cudaMemsetAsync(c->ranges.p, 0, (size_t)nt * sizeof(int2), s), "clearing tile ranges");
    uint64_t *sorted_keys = NULL;
    int32_t *sorted_vals = NULL;
    if (total > 0) {
        for (int b = 0; b < 2; b++)
            if ((st = reserve(c, &c->keys[b], (size_t)total * sizeof(uint64_t), 1.25, "sort keys")) ||
                (st = reserve(c, &c->vals[b], (size_t)total * sizeof(int32_t), 1.25, "sort values")))
                return st;
        cub::DoubleBuffer<uint64_t> kb((uint64_t *)c->keys[0].p, (uint64_t *)c->keys[1].p);
        cub::DoubleBuffer<int32_t> vb((int32_t *)c->vals[0].p, (int32_t *)c->vals[1].p);
        int end_bit = 32 + bits_for((uint32_t)nt); /* nt itself marks an unused slot */
        size_t sort_bytes = 0;
        GS_CU(cub::DeviceRadixSort::SortPairs(NULL, sort_bytes, kb, vb, (int)total, 0, end_bit, s), "sizing the sort");
        if ((st = reserve(c, &c->temp, sort_bytes, 1.25, "sort scratch"))) return st;
        unsigned blocks = (unsigned)((n + 255) / 256);
        k_emit<<<blocks, 256, 0, s>>>(n, (const float2 *)c->xy.p, (const float4 *)c->conic_op.p, (const float4 *)c->rgbd.p,
                                (const int4 *)c->tbox.p, (const float *)c->level.p, (const int64_t *)c->count.p,
                                (const int64_t *)c->offset.p, P.W, P.H, nt, kb.Current(), vb.Current());
        GS_CU_LAUNCHED("launching the pair emission");
        GS_CU(cub::DeviceRadixSort::SortPairs(c->temp.p, sort_bytes, kb, vb, (int)total, 0, end_bit, s), "sorting pairs");
        sorted_keys = kb.Current();
        sorted_vals = vb.Current();
        k_ranges<<<(unsigned)((total + 255) / 256), 256, 0, s>>>(total, sorted_keys, nt, (int2 *)c->ranges.p);
        GS_CU_LAUNCHED("launching the tile ranges");
    }
    float3 bg = make_float3(opts->bg[0], opts->bg[1], opts->bg[2]);
    k_blend<<<(unsigned)nt, BLOCK, 0, s>>>((const int2 *)c->ranges.p, sorted_vals, (const float2 *)c->xy.p,
                                     (const float4 *)c->conic_op.p, (const float4 *)c->rgbd.p, W, H, P.tw, bg,
                                     (float *)c->img_rgb.p, (float *)c->img_depth.p, (float *)c->img_alpha.p);
    GS_CU_LAUNCHED("launching the blending");
    GS_CU(cudaEventRecord(c->ev1, s), "timing");
    GS_CU(cudaEventSynchronize(c->ev1), "rendering");
    float ms = 0;
    GS_CU(cudaEventElapsedTime(&ms, c->ev0, c->ev1), "timing");
    c->stats.render_ms = ms;
    c->stats.download_ms = 0;
    c->stats.n_invalid = (int64_t)hc[0];
    c->stats.n_visible = (int64_t)hc[1];
    c->stats.n_intersections = total;
    if (out) {
        double t0 = gs_now();
        out->width = W;
        out->height = H;
        out->rgb = (float *)gs_malloc(np * 3, sizeof(float), "render rgb");
        out->depth = (float *)gs_malloc(np, sizeof(float), "render depth");
        out->alpha = (float *)gs_malloc(np, sizeof(float), "render alpha");
        if (!out->rgb || !out->depth || !out->alpha) {
            gs_raster_out_free(out);
            return GS_ERR_NOMEM;
        }
        cudaError_t e = cudaMemcpyAsync(out->rgb, c->img_rgb.p, np * 3 * sizeof(float), cudaMemcpyDeviceToHost, s);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(out->depth, c->img_depth.p, np * sizeof(float), cudaMemcpyDeviceToHost, s);
        if (e == cudaSuccess)
            e = cudaMemcpyAsync(out->alpha, c->img_alpha.p, np * sizeof(float), cudaMemcpyDeviceToHost, s);
        if (e == cudaSuccess) e = cudaStreamSynchronize(s);
        if (e != cudaSuccess) {
            gs_raster_out_free(out);
            return gs_cuda_check(e, "copying the images to the host");
        }
        out->n_invalid = c->stats.n_invalid;
        out->n_visible = c->stats.n_visible;
        out->n_intersections = total;
        c->stats.download_ms = 1e3 * (gs_now() - t0);
    }
    return GS_OK;
}

extern "C" void gs_raster_cuda_get_stats(const gs_raster_cuda *c, gs_raster_cuda_stats *st) {
    memset(st, 0, sizeof *st);
    if (!c) return;
    *st = c->stats;
    st->peak_bytes = c->mem.peak;
    st->scene_bytes = c->scene_bytes;
}
