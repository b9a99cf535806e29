/* cmd_bench_render.c - `gs bench render`: the rasterizer's speed and memory on
 * (a) the feed-forward workload of Depth Anything 3 - V views x S x S
 * per-pixel Gaussians (12 x 504 x 504 ~ 3M by default), generated
 * reproducibly by unprojecting a ray-cast depth map of a fixed synthetic world
 * along every pixel's ray as DA3's Gaussian adapter does, with scales ~ depth x
 * pixel size and opacities in [0.05, 0.9] - rendered at novel views between
 * the input views, and (b) the real scenes in shared/data/splats on an
 * orbit. Warm-up frames are excluded; the median, minimum and maximum over the
 * timed frames are reported with the peak memory (host: the resident
 * high-water mark during the case, restarted for each; CUDA: the renderer's
 * largest device allocation). Each CUDA case is then checked, untimed,
 * against a CPU frame of its first camera, so that a GPU run proves the
 * frames right as well as fast (--no-check skips it; exit status 1 on a
 * mismatch, after the figures are written). */
#include "gs/cli/bench.h"
#include "gs/core/device.h"
#include "raster/raster.h"
#include "raster/trajectory.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char k_usage[] =
    "usage: gs bench render [options]\n"
    "\n"
    "Times the tile rasterizer and prints ms per frame (median of the timed frames,\n"
    "with their minimum and maximum), peak memory, device, size, Gaussians, threads.\n"
    "\n"
    "Every case timed on CUDA is then checked: camera 0 is rendered once more on CUDA\n"
    "(images downloaded) and once on the CPU (untimed, also with --device cuda), and the\n"
    "check passes when the RGB PSNR is >= 50 dB, the tile pairs agree within 0.1% + 2 and\n"
    "the visible splats within 0.1% (tests/test_raster_cuda.c's tolerances). One line per\n"
    "case gives PSNR (inf: identical), max |difference|, pixels off by more than 1e-4, and\n"
    "pairs and visible as cpu vs cuda. The exit status is 1 when a check fails (after the\n"
    "JSON is written).\n"
    "\n"
    "  --workload ff|scenes|all  the feed-forward workload, the real scenes, or both (default all)\n"
    "  --views V             feed-forward input views (default 12)\n"
    "  --view-size S         feed-forward view size S x S; V*S*S Gaussians (default 504)\n"
    "  --sizes WxH[,WxH..]   render sizes (default 504x504,1920x1080)\n"
    "  --scenes DIR          folder of splat files (default $GS_SHARED_DATA/splats, else\n"
    "                        ../../shared/data/splats from the folder holding gs)\n"
    "  --cameras N           novel views per case (default 3)\n"
    "  --runs N              timed passes over the cameras (default 1 on the CPU, 10 on CUDA)\n"
    "  --warmup N            untimed frames first (default 1)\n"
    "  --device cpu|cuda|all where to render (default all: CPU, and CUDA when usable)\n"
    "  --threads N           CPU threads (default: all)\n"
    "  --scaling             also time the CPU at 1, 2, 4, ... threads up to --threads\n"
    "  --no-check            skip the check of the CUDA frames against the CPU\n"
    "  --json FILE           write the figures as JSON\n"
    "  --export DIR          also write each case's scene (INRIA PLY) and cameras (gs JSON) and\n"
    "                        DIR/manifest.json, for timing other rasterizers on the same work\n"
    "                        (tools/bench_gsplat.py)\n"
    "  --quick               2 views of 64x64, 128x96 renders, one frame, no warm-up (a smoke test)\n";

static const gs_command k_cmd = {"bench render", NULL, "render benchmark", k_usage};


/* ---- reproducible random numbers: a hash per (stream, index) ------------------------ */
static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double urand(uint64_t *s) { return (double)(mix64((*s)++) >> 11) * (1.0 / 9007199254740992.0); }

/* ---- the synthetic world: a floor, a back wall and five spheres (OpenCV axes, y down) */
typedef struct { double c[3], r, rgb[3]; } sphere;
static const sphere k_spheres[5] = {
    {{-0.8, 0.4, 3.4}, 0.6, {0.85, 0.25, 0.2}}, {{0.7, 0.3, 4.1}, 0.7, {0.2, 0.6, 0.85}},
    {{0.1, -0.3, 5.2}, 0.8, {0.9, 0.8, 0.3}},   {{-1.6, 0.5, 5.3}, 0.5, {0.4, 0.85, 0.4}},
    {{1.7, 0.6, 3.0}, 0.4, {0.7, 0.4, 0.8}}};
static const double k_floor_y = 1.0, k_wall_z = 7.5, k_sky_t = 12.0, k_target[3] = {0, 0.2, 4.2};

/* distance along the unit ray (C, d) to the first surface, and its colour */
static double cast(const double C[3], const double d[3], double rgb[3]) {
    double best = k_sky_t;
    rgb[0] = 0.55; rgb[1] = 0.7; rgb[2] = 0.95; /* sky */
    for (int k = 0; k < 5; k++) {
        const sphere *s = &k_spheres[k];
        double o[3] = {C[0] - s->c[0], C[1] - s->c[1], C[2] - s->c[2]};
        double b = o[0] * d[0] + o[1] * d[1] + o[2] * d[2], cc = o[0] * o[0] + o[1] * o[1] + o[2] * o[2] - s->r * s->r;
        double disc = b * b - cc;
        if (disc < 0) continue;
        double t = -b - sqrt(disc);
        if (t > 1e-3 && t < best) { best = t; memcpy(rgb, s->rgb, sizeof s->rgb); }
    }
    if (d[1] > 1e-9) {
        double t = (k_floor_y - C[1]) / d[1];
        if (t > 1e-3 && t < best) { best = t; rgb[0] = 0.6; rgb[1] = 0.55; rgb[2] = 0.5; }
    }
    if (d[2] > 1e-9) {
        double t = (k_wall_z - C[2]) / d[2];
        if (t > 1e-3 && t < best) { best = t; rgb[0] = 0.45; rgb[1] = 0.5; rgb[2] = 0.55; }
    }
    double X[3] = {C[0] + best * d[0], C[1] + best * d[1], C[2] + best * d[2]};
    double checker = ((int)floor(3 * X[0]) + (int)floor(3 * X[1]) + (int)floor(3 * X[2])) & 1 ? 0.75 : 1.0;
    for (int k = 0; k < 3; k++) rgb[k] *= checker;
    return best;
}

/* a camera at azimuth phi (degrees) on a circle of radius 4 around the target, looking at it */
static gs_camera arc_camera(double phi_deg, int w, int h, double hfov_deg) {
    gs_camera c;
    memset(&c, 0, sizeof c);
    double phi = phi_deg * M_PI / 180, C[3] = {k_target[0] + 4 * sin(phi), k_target[1] - 0.6, k_target[2] - 4 * cos(phi)};
    double z[3] = {k_target[0] - C[0], k_target[1] - C[1], k_target[2] - C[2]}, down[3] = {0, 1, 0}, x[3], y[3];
    double n = sqrt(z[0] * z[0] + z[1] * z[1] + z[2] * z[2]);
    for (int k = 0; k < 3; k++) z[k] /= n;
    x[0] = down[1] * z[2] - down[2] * z[1]; x[1] = down[2] * z[0] - down[0] * z[2]; x[2] = down[0] * z[1] - down[1] * z[0];
    n = sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    for (int k = 0; k < 3; k++) x[k] /= n;
    y[0] = z[1] * x[2] - z[2] * x[1]; y[1] = z[2] * x[0] - z[0] * x[2]; y[2] = z[0] * x[1] - z[1] * x[0];
    double c2w[16] = {x[0], y[0], z[0], C[0], x[1], y[1], z[1], C[1], x[2], y[2], z[2], C[2], 0, 0, 0, 1};
    gs_camera_set_c2w(&c, c2w);
    c.has_pose = 1;
    c.width = w;
    c.height = h;
    c.fx = c.fy = 0.5 * w / tan(0.5 * hfov_deg * M_PI / 180);
    c.cx = 0.5 * w;
    c.cy = 0.5 * h;
    return c;
}

static double input_azimuth(int v, int nv) { return nv > 1 ? -35.0 + 70.0 * v / (nv - 1) : 0; }

/* V views x S x S Gaussians, SH degree 2 (DA3's head), as DA3's adapter
 * places them: mean = camera centre + unit ray x distance, a sub-pixel offset,
 * scales ~ distance / focal, random rotations and opacities in [0.05, 0.9]. */
static gs_status make_ff_scene(int nv, int size, gs_scene *s) {
    int64_t per = (int64_t)size * size;
    gs_status st = gs_scene_alloc(s, per * nv, 2);
    if (st) return st;
    for (int v = 0; v < nv; v++) {
        gs_camera cam = arc_camera(input_azimuth(v, nv), size, size, 58);
        double c2w[16];
        gs_camera_get_c2w(&cam, c2w);
#pragma omp parallel for schedule(static)
        for (int i = 0; i < size; i++) {
            for (int j = 0; j < size; j++) {
                int64_t g = per * v + (int64_t)i * size + j;
                uint64_t rs = mix64(0x5EEDull ^ ((uint64_t)g << 8));
                double u = j + 0.5 + 0.6 * (urand(&rs) - 0.5), w = i + 0.5 + 0.6 * (urand(&rs) - 0.5);
                double dc[3] = {(u - cam.cx) / cam.fx, (w - cam.cy) / cam.fy, 1}, d[3], C[3] = {c2w[3], c2w[7], c2w[11]};
                double n = sqrt(dc[0] * dc[0] + dc[1] * dc[1] + 1);
                for (int k = 0; k < 3; k++) d[k] = (c2w[k * 4] * dc[0] + c2w[k * 4 + 1] * dc[1] + c2w[k * 4 + 2] * dc[2]) / n;
                double rgb[3], t = cast(C, d, rgb) * (1 + 0.004 * (urand(&rs) - 0.5));
                for (int k = 0; k < 3; k++) {
                    s->means[3 * g + k] = (float)(C[k] + t * d[k]);
                    s->scales[3 * g + k] = (float)(t / cam.fx * (0.6 + urand(&rs)));
                }
                double q[4], qn = 0;
                for (int k = 0; k < 4; k++) { q[k] = urand(&rs) - 0.5; qn += q[k] * q[k]; }
                qn = sqrt(qn) + 1e-12;
                for (int k = 0; k < 4; k++) s->rotations[4 * g + k] = (float)(q[k] / qn);
                s->opacities[g] = (float)(0.05 + 0.85 * urand(&rs));
                float *sh = s->sh + (size_t)g * 27;
                for (int k = 0; k < 3; k++) sh[k] = (float)((rgb[k] - 0.5) / GS_SH_C0);
                for (int k = 3; k < 27; k++) sh[k] = (float)(0.1 * (urand(&rs) - 0.5));
            }
        }
    }
    return GS_OK;
}

/* ---- timing ------------------------------------------------------------------------- */


typedef struct {
    const char *workload;
    char scene[96];
    int width, height, threads, cuda, frames;
    int64_t gaussians, visible, pairs;
    double median, min, max, peak_host_mib, peak_device_mib;
    /* CUDA cases: camera 0 against the CPU reference (checked == 0 with --no-check) */
    int checked, check_ok;
    gs_raster_diff diff;
    int64_t pairs_cpu, pairs_cuda, visible_cpu, visible_cuda;
} result;

typedef struct {
    int runs, warmup;
    gs_raster_cuda *cuda; /* NULL: CPU */
    gs_raster_opts opts;  /* timed and checked frames alike */
} timing;

/* Render cams[0..nc) `runs` times after `warmup` frames; ms per frame. */
static gs_status time_case(const timing *tm, const gs_scene *s, const gs_camera *cams, int nc, result *r) {
    int total = tm->runs * nc;
    double *ms = gs_malloc((size_t)total, sizeof(double), "bench timings");
    if (!ms) return GS_ERR_NOMEM;
    const gs_raster_opts *o = &tm->opts;
    gs_status st = GS_OK;
    bench_reset_peak_rss(); /* this case's peak: the scene, already loaded, and its renders */
    for (int f = -tm->warmup; f < total && !st; f++) {
        const gs_camera *cam = &cams[(f < 0 ? 0 : f) % nc];
        gs_raster_out out;
        double t0 = gs_now();
        if (tm->cuda) {
            st = gs_render_cuda(tm->cuda, cam, o, NULL);
            gs_raster_cuda_stats cs;
            gs_raster_cuda_get_stats(tm->cuda, &cs);
            if (f >= 0) ms[f] = cs.render_ms;
            r->visible = cs.n_visible;
            r->pairs = cs.n_intersections;
            r->peak_device_mib = cs.peak_bytes / (1024.0 * 1024.0);
        } else {
            st = gs_render_cpu(s, cam, o, &out);
            if (f >= 0) ms[f] = 1e3 * (gs_now() - t0);
            if (!st) {
                r->visible = out.n_visible;
                r->pairs = out.n_intersections;
                gs_raster_out_free(&out);
            }
        }
    }
    if (!st) {
        qsort(ms, (size_t)total, sizeof *ms, bench_cmp_double);
        r->median = total % 2 ? ms[total / 2] : 0.5 * (ms[total / 2 - 1] + ms[total / 2]);
        r->min = ms[0];
        r->max = ms[total - 1];
        r->frames = total;
        r->gaussians = s->n;
        r->width = cams[0].width;
        r->height = cams[0].height;
        r->cuda = tm->cuda != NULL;
        r->peak_host_mib = bench_peak_rss_mib();
    }
    free(ms);
    return st;
}

static void print_result(const result *r) {
    char mem[64];
    if (r->cuda) snprintf(mem, sizeof mem, "%7.0f MiB dev", r->peak_device_mib);
    else snprintf(mem, sizeof mem, "%7.0f MiB rss", r->peak_host_mib);
    printf("  %-13s %-22s %4s %2d  %4dx%-4d %9lld  %9.2f ms  [%8.2f .. %8.2f]  %s  %9lld pairs\n", r->workload, r->scene,
           r->cuda ? "cuda" : "cpu", r->cuda ? 0 : r->threads, r->width, r->height, (long long)r->gaussians, r->median,
           r->min, r->max, mem, (long long)r->pairs);
    fflush(stdout);
}

/* ---- the CUDA frames against the CPU reference --------------------------------------- */

#define CHECK_MIN_PSNR_DB 50.0

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

/* tests/test_raster_cuda.c's tolerances: contracted projection arithmetic on
 * CUDA can move a boundary tile or a culling threshold, rarely; the image must
 * be the same to far below what eyes or metrics see (a NaN PSNR fails too) */
static int check_passes(const result *r) {
    return r->diff.psnr_db >= CHECK_MIN_PSNR_DB && abs64(r->pairs_cpu - r->pairs_cuda) <= r->pairs_cpu / 1000 + 2 &&
           abs64(r->visible_cpu - r->visible_cuda) <= r->visible_cpu / 1000;
}

/* Render cam once on the CPU and once on CUDA (downloaded) and compare; not timed. */
static gs_status check_case(const timing *tm, const gs_scene *s, const gs_camera *cam, result *r) {
    gs_raster_out a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    gs_status st = gs_render_cpu(s, cam, &tm->opts, &a);
    if (!st) st = gs_render_cuda(tm->cuda, cam, &tm->opts, &b);
    if (!st) st = gs_raster_out_diff(&a, &b, &r->diff);
    if (!st) {
        r->pairs_cpu = a.n_intersections;
        r->pairs_cuda = b.n_intersections;
        r->visible_cpu = a.n_visible;
        r->visible_cuda = b.n_visible;
        r->checked = 1;
        r->check_ok = check_passes(r);
    }
    gs_raster_out_free(&a);
    gs_raster_out_free(&b);
    return st;
}

static void print_check(const result *r) {
    printf("    check vs cpu: PSNR %.1f dB, max |d| %.2g, %lld px > 1e-4, pairs %lld vs %lld, visible %lld vs %lld: %s\n",
           r->diff.psnr_db, r->diff.max_abs, (long long)r->diff.pixels_off, (long long)r->pairs_cpu,
           (long long)r->pairs_cuda, (long long)r->visible_cpu, (long long)r->visible_cuda,
           r->check_ok ? "ok" : "MISMATCH");
    fflush(stdout);
}



typedef struct {
    result *r;
    int n, cap;
} results;

static gs_status push(results *rs, const result *r) {
    if (rs->n == rs->cap) {
        int cap = rs->cap ? 2 * rs->cap : 16;
        result *p = realloc(rs->r, (size_t)cap * sizeof *p);
        if (!p) return gs_error(GS_ERR_NOMEM, "bench render: out of memory");
        rs->r = p;
        rs->cap = cap;
    }
    rs->r[rs->n++] = *r;
    print_result(r);
    return GS_OK;
}

/* Every device (and, with --scaling, thread count) on one scene and its cameras. */
typedef struct {
    int want_cpu, want_cuda, threads, scaling, runs_cpu, runs_cuda, warmup, check;
} plan;

static gs_status bench_scene(const plan *p, const char *workload, const char *name, const gs_scene *s,
                             const gs_camera *cams, int nc, gs_raster_cuda *cuda, results *rs) {
    gs_status st = GS_OK;
    result r;
    if (p->want_cpu) {
        int tlist[16], nt = 0;
        if (p->scaling)
            for (int t = 1; t < p->threads && nt < 15; t *= 2) tlist[nt++] = t;
        tlist[nt++] = p->threads;
        for (int k = 0; k < nt && !st; k++) {
            gs_set_num_threads(tlist[k]);
            timing tm = {p->runs_cpu, p->warmup, NULL, {0}};
            gs_raster_opts_default(&tm.opts);
            memset(&r, 0, sizeof r);
            r.workload = workload;
            snprintf(r.scene, sizeof r.scene, "%s", name);
            r.threads = tlist[k];
            st = time_case(&tm, s, cams, nc, &r);
            if (!st) st = push(rs, &r);
        }
        gs_set_num_threads(p->threads);
    }
    if (p->want_cuda && cuda && !st) {
        timing tm = {p->runs_cuda, p->warmup, cuda, {0}};
        gs_raster_opts_default(&tm.opts);
        memset(&r, 0, sizeof r);
        r.workload = workload;
        snprintf(r.scene, sizeof r.scene, "%s", name);
        st = time_case(&tm, s, cams, nc, &r);
        if (!st && p->check) st = check_case(&tm, s, &cams[0], &r);
        if (!st) st = push(rs, &r);
        if (!st && r.checked) print_check(&r);
    }
    return st;
}

/* JSON has no infinity: an infinite PSNR is null, with check_identical saying
 * whether the frames are bit-identical or only agree once clamped to [0,1]
 * (a NaN PSNR is null too, without check_identical, and fails check_ok) */
static void add_check_json(cJSON *o, const result *r) {
    const gs_raster_diff *d = &r->diff;
    if (isinf(d->psnr_db) && d->psnr_db > 0) {
        cJSON_AddNullToObject(o, "check_psnr_db");
        cJSON_AddBoolToObject(o, "check_identical", d->max_abs == 0);
    } else {
        cJSON_AddNumberToObject(o, "check_psnr_db", d->psnr_db);
    }
    cJSON_AddNumberToObject(o, "check_max_abs", d->max_abs);
    cJSON_AddNumberToObject(o, "check_pixels_off", (double)d->pixels_off);
    cJSON_AddNumberToObject(o, "check_pairs_cpu", (double)r->pairs_cpu);
    cJSON_AddNumberToObject(o, "check_pairs_cuda", (double)r->pairs_cuda);
    cJSON_AddNumberToObject(o, "check_visible_cpu", (double)r->visible_cpu);
    cJSON_AddNumberToObject(o, "check_visible_cuda", (double)r->visible_cuda);
    cJSON_AddBoolToObject(o, "check_ok", r->check_ok);
}

/* The cases whose check failed, on stderr; returns how many. */
static int report_mismatches(const results *rs) {
    int bad = 0;
    for (int i = 0; i < rs->n; i++) bad += rs->r[i].checked && !rs->r[i].check_ok;
    if (!bad) return 0;
    fprintf(stderr, "gs bench render: %d case(s) on CUDA differ from the CPU:", bad);
    for (int i = 0, k = 0; i < rs->n; i++) {
        const result *r = &rs->r[i];
        if (!r->checked || r->check_ok) continue;
        fprintf(stderr, "%s %s %s %dx%d (PSNR %.1f dB, pairs %lld vs %lld, visible %lld vs %lld)", k++ ? ";" : "",
                r->workload, r->scene, r->width, r->height, r->diff.psnr_db, (long long)r->pairs_cpu,
                (long long)r->pairs_cuda, (long long)r->visible_cpu, (long long)r->visible_cuda);
    }
    fprintf(stderr, "\n");
    return bad;
}

static gs_status write_json(const char *path, const char *cpu, const char *gpu, const results *rs) {
    cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "results");
    cJSON_AddStringToObject(root, "benchmark", "gs bench render");
    cJSON_AddStringToObject(root, "cpu", cpu);
    cJSON_AddStringToObject(root, "gpu", gpu);
    cJSON_AddStringToObject(root, "timing",
                            "ms per frame: median/min/max over timed frames after warm-up; cpu: wall time of "
                            "gs_render_cpu (host images included); cuda: device time projection..blending (CUDA "
                            "events), images left on the device");
    for (int i = 0; i < rs->n; i++) {
        const result *r = &rs->r[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "workload", r->workload);
        cJSON_AddStringToObject(o, "scene", r->scene);
        cJSON_AddStringToObject(o, "device", r->cuda ? "cuda" : "cpu");
        cJSON_AddNumberToObject(o, "threads", r->cuda ? 0 : r->threads);
        cJSON_AddNumberToObject(o, "width", r->width);
        cJSON_AddNumberToObject(o, "height", r->height);
        cJSON_AddNumberToObject(o, "gaussians", (double)r->gaussians);
        cJSON_AddNumberToObject(o, "visible", (double)r->visible);
        cJSON_AddNumberToObject(o, "tile_pairs", (double)r->pairs);
        cJSON_AddNumberToObject(o, "frames", r->frames);
        cJSON_AddNumberToObject(o, "median_ms", r->median);
        cJSON_AddNumberToObject(o, "min_ms", r->min);
        cJSON_AddNumberToObject(o, "max_ms", r->max);
        cJSON_AddNumberToObject(o, "peak_host_mib", r->peak_host_mib);
        if (r->cuda) cJSON_AddNumberToObject(o, "peak_device_mib", r->peak_device_mib);
        if (r->checked) add_check_json(o, r);
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return gs_error(GS_ERR_NOMEM, "%s: cannot format the JSON", path);
    gs_status st = gs_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

/* --export: the scene once per case, the cameras once per case and size, and
 * a manifest naming them (a JSON array of {case, scene, cameras, width,
 * height, gaussians, sh_degree, antialiased}; files relative to DIR). */
static gs_status export_case(const char *dir, const char *tag, const gs_scene *s, int write_scene, const gs_camera *cams,
                             int nc, cJSON *manifest) {
    char scene[4096], camf[4096], path[8192];
    snprintf(scene, sizeof scene, "%s.ply", tag);
    snprintf(camf, sizeof camf, "%s_%dx%d.json", tag, cams[0].width, cams[0].height);
    gs_status st = GS_OK;
    if (write_scene) {
        snprintf(path, sizeof path, "%s/%s", dir, scene);
        if ((st = gs_scene_write(path, s))) return st;
    }
    gs_cameras c = {nc, (gs_camera *)cams};
    snprintf(path, sizeof path, "%s/%s", dir, camf);
    if ((st = gs_cameras_write_json(path, &c))) return st;
    cJSON *o = cJSON_CreateObject();
    if (!o) return gs_error(GS_ERR_NOMEM, "export: out of memory");
    cJSON_AddStringToObject(o, "case", tag);
    cJSON_AddStringToObject(o, "scene", scene);
    cJSON_AddStringToObject(o, "cameras", camf);
    cJSON_AddNumberToObject(o, "width", cams[0].width);
    cJSON_AddNumberToObject(o, "height", cams[0].height);
    cJSON_AddNumberToObject(o, "gaussians", (double)s->n);
    cJSON_AddNumberToObject(o, "sh_degree", s->sh_degree);
    cJSON_AddBoolToObject(o, "antialiased", s->antialiased != 0);
    cJSON_AddItemToArray(manifest, o);
    return GS_OK;
}

static gs_status write_manifest(const char *dir, cJSON *manifest) {
    char path[8192];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    char *text = cJSON_Print(manifest);
    if (!text) return gs_error(GS_ERR_NOMEM, "%s: cannot format the JSON", path);
    gs_status st = gs_write_file_atomic(path, text, strlen(text));
    free(text);
    return st;
}

int bench_render(int argc, char **argv) {
    const char *workload = "all", *scenes_dir = NULL, *json = NULL, *sizes_arg = "504x504,1920x1080", *export_dir = NULL;
    long views = 12, view_size = 504, ncams = 3, runs = -1, warmup = 1, threads = 0;
    int quick = 0, scaling = 0, sizes_given = 0, check = 1;
    const char *device = "all";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (cli_is_help(a)) { fputs(k_usage, stdout); return 0; }
        else if (!strcmp(a, "--workload") && more) workload = argv[++i];
        else if (!strcmp(a, "--views") && more) { if (!cli_parse_int(argv[++i], 1, 1000, &views)) return cli_usage_error(&k_cmd, "--views takes 1-1000"); }
        else if (!strcmp(a, "--view-size") && more) { if (!cli_parse_int(argv[++i], 8, 4096, &view_size)) return cli_usage_error(&k_cmd, "--view-size takes 8-4096"); }
        else if (!strcmp(a, "--sizes") && more) { sizes_arg = argv[++i]; sizes_given = 1; }
        else if (!strcmp(a, "--scenes") && more) scenes_dir = argv[++i];
        else if (!strcmp(a, "--cameras") && more) { if (!cli_parse_int(argv[++i], 1, 100, &ncams)) return cli_usage_error(&k_cmd, "--cameras takes 1-100"); }
        else if (!strcmp(a, "--runs") && more) { if (!cli_parse_int(argv[++i], 1, 1000, &runs)) return cli_usage_error(&k_cmd, "--runs takes 1-1000"); }
        else if (!strcmp(a, "--warmup") && more) { if (!cli_parse_int(argv[++i], 0, 100, &warmup)) return cli_usage_error(&k_cmd, "--warmup takes 0-100"); }
        else if (!strcmp(a, "--threads") && more) { if (!cli_parse_int(argv[++i], 1, 4096, &threads)) return cli_usage_error(&k_cmd, "--threads takes 1-4096"); }
        else if (!strcmp(a, "--device") && more) device = argv[++i];
        else if (!strcmp(a, "--json") && more) json = argv[++i];
        else if (!strcmp(a, "--export") && more) export_dir = argv[++i];
        else if (!strcmp(a, "--scaling")) scaling = 1;
        else if (!strcmp(a, "--no-check")) check = 0;
        else if (!strcmp(a, "--quick")) quick = 1;
        else return cli_usage_error(&k_cmd, "unknown option '%s' (or a missing value)", a);
    }
    int do_ff = !strcmp(workload, "ff") || !strcmp(workload, "all");
    int do_scenes = !strcmp(workload, "scenes") || !strcmp(workload, "all");
    if (!do_ff && !do_scenes) return cli_usage_error(&k_cmd, "--workload takes ff, scenes or all");
    if (strcmp(device, "cpu") && strcmp(device, "cuda") && strcmp(device, "all") && strcmp(device, "gpu"))
        return cli_usage_error(&k_cmd, "--device takes cpu, cuda or all");
    int sizes[BENCH_MAX_SIZES][2], nsizes;
    if (quick) {
        views = views == 12 ? 2 : views;
        view_size = view_size == 504 ? 64 : view_size;
        if (!sizes_given) sizes_arg = "128x96";
        ncams = 1;
        warmup = 0;
        if (runs < 0) runs = 1;
    }
    if (!bench_parse_sizes(sizes_arg, sizes, &nsizes)) return cli_usage_error(&k_cmd, "--sizes takes WxH[,WxH..] (at most %d)", BENCH_MAX_SIZES);
    if (threads > 0) gs_set_num_threads((int)threads);
    plan p = {strcmp(device, "cuda") && strcmp(device, "gpu"), strcmp(device, "cpu") != 0, gs_num_threads(), scaling,
              runs > 0 ? (int)runs : 1, runs > 0 ? (int)runs : 10, (int)warmup, check};

    char cpu[256], gpu[256];
    bench_cpu_model(cpu, sizeof cpu);
    gs_raster_cuda *cuda = NULL;
    if (p.want_cuda && gs_device_resolve(!strcmp(device, "all") ? GS_DEVICE_AUTO : GS_DEVICE_CUDA) == GS_DEVICE_CUDA) {
        if (gs_raster_cuda_new(&cuda)) return cli_fail("bench render", GS_ERR_DEVICE);
        gs_cuda_describe(gpu, sizeof gpu);
    } else {
        snprintf(gpu, sizeof gpu, "none used");
        p.want_cuda = 0;
        if (!p.want_cpu) { p.want_cpu = 1; } /* --device cuda without a GPU: the notice was printed, run on the CPU */
    }
    printf("gs bench render: cpu %s (%d threads), gpu %s\n", cpu, p.threads, gpu);
    printf("  cpu: wall ms of gs_render_cpu incl. host images; cuda: device ms projection..blending (events)\n");
    printf("  %-13s %-22s %4s %2s  %-9s %9s  %12s  %-22s  %s\n", "workload", "scene", "dev", "th", "size", "gaussians",
           "median", "[min .. max]", "peak memory");
    results rs = {0};
    gs_status st = GS_OK;
    cJSON *manifest = NULL;
    if (export_dir) {
        if ((st = gs_mkdirs(export_dir))) return cli_fail("bench render", st);
        if (!(manifest = cJSON_CreateArray())) return cli_fail("bench render", gs_error(GS_ERR_NOMEM, "out of memory"));
    }

    if (do_ff) {
        gs_scene s;
        double t0 = gs_now();
        st = make_ff_scene((int)views, (int)view_size, &s);
        char name[64];
        snprintf(name, sizeof name, "%ldx%ld^2 SH2", views, view_size);
        if (!st) {
            fprintf(stderr, "gs bench render: feed-forward workload: %lld Gaussians (%s) made in %.2f s\n", (long long)s.n,
                    name, gs_now() - t0);
            if (cuda) st = gs_raster_cuda_set_scene(cuda, &s);
        }
        for (int k = 0; k < nsizes && !st; k++) {
            gs_camera cams[100];
            for (int c = 0; c < ncams; c++) { /* novel views: between the input views */
                double a = (c + 0.5) / ncams, phi = -35.0 + 70.0 * a;
                cams[c] = arc_camera(phi, sizes[k][0], sizes[k][1], 58);
            }
            st = bench_scene(&p, "feed-forward", name, &s, cams, (int)ncams, cuda, &rs);
            if (!st && manifest) {
                char tag[64];
                snprintf(tag, sizeof tag, "ff_%ldx%ld", views, view_size);
                st = export_case(export_dir, tag, &s, k == 0, cams, (int)ncams, manifest);
            }
        }
        gs_scene_free(&s);
    }
    if (do_scenes && !st) {
        char dirbuf[4096];
        if (!scenes_dir) {
            /* $GS_SHARED_DATA, else a checkout's shared/ seen from build/gs; never the current folder */
            const char *env = getenv("GS_SHARED_DATA");
            if (env && *env) snprintf(dirbuf, sizeof dirbuf, "%s/splats", env);
            else snprintf(dirbuf, sizeof dirbuf, "%s/../../shared/data/splats", gs_exe_dir());
            scenes_dir = dirbuf;
        }
        DIR *d = opendir(scenes_dir);
        if (!d) {
            fprintf(stderr, "gs bench render: note: %s not found; no real scenes timed\n", scenes_dir);
        } else {
            char *names[64];
            int nn = 0;
            struct dirent *e;
            while ((e = readdir(d)) && nn < 64)
                if (gs_path_ends_with(e->d_name, ".ply") || gs_path_ends_with(e->d_name, ".spz") ||
                    gs_path_ends_with(e->d_name, ".splat"))
                    names[nn++] = strdup(e->d_name);
            closedir(d);
            for (int i = 0; i < nn; i++) /* a stable order */
                for (int j = i + 1; j < nn; j++)
                    if (strcmp(names[i], names[j]) > 0) { char *t = names[i]; names[i] = names[j]; names[j] = t; }
            for (int i = 0; i < nn && !st; i++) {
                char path[8192];
                snprintf(path, sizeof path, "%s/%s", scenes_dir, names[i]);
                gs_scene s;
                if ((st = gs_scene_read(path, &s, NULL))) break;
                if (cuda) st = gs_raster_cuda_set_scene(cuda, &s);
                for (int k = 0; k < nsizes && !st; k++) {
                    gs_cameras orbit;
                    if ((st = gs_orbit_path(&s, NULL, (int)ncams, sizes[k][0], sizes[k][1], &orbit))) break;
                    st = bench_scene(&p, "scene", names[i], &s, orbit.cams, orbit.n, cuda, &rs);
                    if (!st && manifest) {
                        char tag[256];
                        snprintf(tag, sizeof tag, "%.200s", names[i]);
                        for (char *c = tag; *c; c++)
                            if (*c == '.') *c = '_';
                        st = export_case(export_dir, tag, &s, k == 0, orbit.cams, orbit.n, manifest);
                    }
                    gs_cameras_free(&orbit);
                }
                gs_scene_free(&s);
            }
            for (int i = 0; i < nn; i++) free(names[i]);
        }
    }
    if (!st && json) st = write_json(json, cpu, gpu, &rs);
    if (!st && manifest) st = write_manifest(export_dir, manifest);
    cJSON_Delete(manifest);
    gs_raster_cuda_free(cuda);
    if (st) {
        free(rs.r);
        return cli_fail("bench render", st);
    }
    if (json) printf("  wrote %s\n", json);
    if (export_dir) printf("  exported the cases to %s (manifest.json)\n", export_dir);
    fflush(stdout); /* the figures before the verdict */
    int bad = report_mismatches(&rs);
    free(rs.r);
    return bad ? 1 : 0;
}
