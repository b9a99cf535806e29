/* lpips.c - LPIPS v0.1 (Zhang et al. 2018) as lpips.LPIPS(net=...)(x, y,
 * normalize=True) computes it, for the alex, squeeze and vgg backbones.
 *
 * Each network is a static list of layers mirroring the torchvision
 * `features` stacks that the lpips package slices; weights come from a
 * safetensors file with the key names of lpips.LPIPS().state_dict(). Both
 * images go through the backbone as one batch of two (float32, ops from
 * gs/ops/ops.h); at every tap the features are unit-normalised per pixel across
 * channels, their squared difference weighted by the learned 1x1 layer and
 * averaged over the pixels (in double). The distance is the sum over taps. */
#include "eval/lpips_impl.h"

#include "data/safetensors.h"
#include "gs/ops/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OP_CONV GS_LP_CONV
#define OP_POOL GS_LP_POOL
#define OP_FIRE GS_LP_FIRE
typedef gs_lp_op op_spec;
typedef gs_lp_weights op_weights;
#define MAX_OPS GS_LP_MAX_OPS
#define MAX_PARAMS GS_LP_MAX_PARAMS

/* torchvision alexnet().features, sliced by lpips at [0:2] [2:5] [5:8] [8:10] [10:12] */
static const op_spec k_alex[] = {
    {OP_CONV, "net.slice1.0", 3, 64, 11, 4, 2, 0, 0, 1},
    {OP_POOL, "net.slice2.2", 0, 0, 3, 2, 0, 0, 0, 0},
    {OP_CONV, "net.slice2.3", 64, 192, 5, 1, 2, 0, 0, 1},
    {OP_POOL, "net.slice3.5", 0, 0, 3, 2, 0, 0, 0, 0},
    {OP_CONV, "net.slice3.6", 192, 384, 3, 1, 1, 0, 0, 1},
    {OP_CONV, "net.slice4.8", 384, 256, 3, 1, 1, 0, 0, 1},
    {OP_CONV, "net.slice5.10", 256, 256, 3, 1, 1, 0, 0, 1},
};

/* torchvision squeezenet1_1().features, sliced at [0:2] [2:5] [5:8] [8:10] [10] [11] [12];
 * Fire(cin, squeeze, e, e) concatenates relu(expand1x1) and relu(expand3x3). */
static const op_spec k_squeeze[] = {
    {OP_CONV, "net.slice1.0", 3, 64, 3, 2, 0, 0, 0, 1},
    {OP_POOL, "net.slice2.2", 0, 0, 3, 2, 0, 1, 0, 0},
    {OP_FIRE, "net.slice2.3", 64, 64, 0, 0, 0, 0, 16, 0},
    {OP_FIRE, "net.slice2.4", 128, 64, 0, 0, 0, 0, 16, 1},
    {OP_POOL, "net.slice3.5", 0, 0, 3, 2, 0, 1, 0, 0},
    {OP_FIRE, "net.slice3.6", 128, 128, 0, 0, 0, 0, 32, 0},
    {OP_FIRE, "net.slice3.7", 256, 128, 0, 0, 0, 0, 32, 1},
    {OP_POOL, "net.slice4.8", 0, 0, 3, 2, 0, 1, 0, 0},
    {OP_FIRE, "net.slice4.9", 256, 192, 0, 0, 0, 0, 48, 1},
    {OP_FIRE, "net.slice5.10", 384, 192, 0, 0, 0, 0, 48, 1},
    {OP_FIRE, "net.slice6.11", 384, 256, 0, 0, 0, 0, 64, 1},
    {OP_FIRE, "net.slice7.12", 512, 256, 0, 0, 0, 0, 64, 1},
};

/* torchvision vgg16().features, sliced at [0:4] [4:9] [9:16] [16:23] [23:30] */
static const op_spec k_vgg[] = {
    {OP_CONV, "net.slice1.0", 3, 64, 3, 1, 1, 0, 0, 0},
    {OP_CONV, "net.slice1.2", 64, 64, 3, 1, 1, 0, 0, 1},
    {OP_POOL, "net.slice2.4", 0, 0, 2, 2, 0, 0, 0, 0},
    {OP_CONV, "net.slice2.5", 64, 128, 3, 1, 1, 0, 0, 0},
    {OP_CONV, "net.slice2.7", 128, 128, 3, 1, 1, 0, 0, 1},
    {OP_POOL, "net.slice3.9", 0, 0, 2, 2, 0, 0, 0, 0},
    {OP_CONV, "net.slice3.10", 128, 256, 3, 1, 1, 0, 0, 0},
    {OP_CONV, "net.slice3.12", 256, 256, 3, 1, 1, 0, 0, 0},
    {OP_CONV, "net.slice3.14", 256, 256, 3, 1, 1, 0, 0, 1},
    {OP_POOL, "net.slice4.16", 0, 0, 2, 2, 0, 0, 0, 0},
    {OP_CONV, "net.slice4.17", 256, 512, 3, 1, 1, 0, 0, 0},
    {OP_CONV, "net.slice4.19", 512, 512, 3, 1, 1, 0, 0, 0},
    {OP_CONV, "net.slice4.21", 512, 512, 3, 1, 1, 0, 0, 1},
    {OP_POOL, "net.slice5.23", 0, 0, 2, 2, 0, 0, 0, 0},
    {OP_CONV, "net.slice5.24", 512, 512, 3, 1, 1, 0, 0, 0},
    {OP_CONV, "net.slice5.26", 512, 512, 3, 1, 1, 0, 0, 0},
    {OP_CONV, "net.slice5.28", 512, 512, 3, 1, 1, 0, 0, 1},
};

static const struct {
    const char *name, *label;
    const op_spec *ops;
    int n_ops;
} k_nets[] = {
    [GS_LPIPS_ALEX] = {"alex", "LPIPS-alex v0.1", k_alex, (int)(sizeof k_alex / sizeof k_alex[0])},
    [GS_LPIPS_SQUEEZE] = {"squeeze", "LPIPS-squeeze v0.1", k_squeeze, (int)(sizeof k_squeeze / sizeof k_squeeze[0])},
    [GS_LPIPS_VGG] = {"vgg", "LPIPS-vgg v0.1", k_vgg, (int)(sizeof k_vgg / sizeof k_vgg[0])},
};
#define N_NETS 3

/* lpips ScalingLayer constants, used when the file does not carry them */
static const float k_shift[3] = {-.030f, -.088f, -.188f};
static const float k_scale[3] = {.458f, .448f, .450f};

gs_status gs_lpips_net_parse(const char *s, gs_lpips_net *out) {
    for (int i = 0; i < N_NETS; i++)
        if (s && !strcmp(s, k_nets[i].name)) {
            *out = (gs_lpips_net)i;
            return GS_OK;
        }
    return gs_error(GS_ERR_INVALID, "unknown LPIPS network '%s' (expected alex, squeeze or vgg)", s ? s : "");
}

const char *gs_lpips_net_name(gs_lpips_net net) { return (unsigned)net < N_NETS ? k_nets[net].name : "?"; }
const char *gs_lpips_label(gs_lpips_net net) { return (unsigned)net < N_NETS ? k_nets[net].label : "LPIPS-?"; }
gs_lpips_net gs_lpips_get_net(const gs_lpips *m) { return m->net; }
int gs_lpips_num_layers(const gs_lpips *m) { return m->n_taps; }

/* The folders the default weights are looked for in, in order (see
 * metrics.h); returns how many were filled. */
static int weight_dirs(char dirs[][2048], const char *what[]) {
    int n = 0;
    const char *lp = getenv("GS_LPIPS_DIR"), *sd = getenv("GS_SHARED_DATA"), *exe = gs_exe_dir();
    if (lp && *lp) what[n] = "$GS_LPIPS_DIR", snprintf(dirs[n++], 2048, "%s", lp);
    if (sd && *sd) what[n] = "$GS_SHARED_DATA/lpips", gs_path_join(dirs[n++], 2048, sd, "lpips");
    if (*exe) {
        what[n] = "beside the program", gs_path_join(dirs[n++], 2048, exe, "lpips");
        what[n] = "the program's share/gs", snprintf(dirs[n++], 2048, "%s/../share/gs/lpips", exe);
        what[n] = "a checkout's ../shared/data", snprintf(dirs[n++], 2048, "%s/../../shared/data/lpips", exe);
    }
    return n;
}

gs_status gs_lpips_find_weights(gs_lpips_net net, char *path, size_t n) {
    if ((unsigned)net >= N_NETS) return gs_error(GS_ERR_INVALID, "lpips: bad network %d", net);
    char dirs[5][2048], names[2][64];
    const char *what[5];
    const int nd = weight_dirs(dirs, what);
    snprintf(names[0], sizeof names[0], "lpips_%s_v0.1.safetensors", k_nets[net].name);
    snprintf(names[1], sizeof names[1], "lpips_%s_v0.1_lin_only.safetensors", k_nets[net].name);
    const int n_names = net == GS_LPIPS_VGG ? 2 : 1;
    for (int k = 0; k < n_names; k++)
        for (int d = 0; d < nd; d++) {
            char buf[2200];
            gs_path_join(buf, sizeof buf, dirs[d], names[k]);
            if (gs_file_exists(buf)) {
                char *real = realpath(buf, NULL); /* a plain path to print */
                if (real && strlen(real) < sizeof buf) memcpy(buf, real, strlen(real) + 1);
                free(real);
                if (strlen(buf) >= n) return gs_error(GS_ERR_INVALID, "lpips: path too long: %s", buf);
                memcpy(path, buf, strlen(buf) + 1);
                return GS_OK;
            }
        }
    char looked[4096] = "";
    for (int d = 0; d < nd; d++) {
        size_t l = strlen(looked);
        snprintf(looked + l, sizeof looked - l, "%s%s (%s)", d ? ", " : "", dirs[d], what[d]);
    }
    return gs_error(GS_ERR_NOT_FOUND,
                    "no %s weights found: looked for %s in %s%s; pass the file with --lpips-weights, or set "
                    "GS_LPIPS_DIR",
                    k_nets[net].label, names[0], nd ? looked : "no folder ($GS_LPIPS_DIR and $GS_SHARED_DATA unset, "
                                                              "the program's folder unknown)",
                    getenv("GS_LPIPS_DIR") ? "" : " ($GS_LPIPS_DIR unset)");
}

void gs_lpips_free(gs_lpips *m) {
    if (!m) return;
#ifdef GS_HAVE_CUDA
    gs_lpips_cuda_release(m);
#endif
    for (int i = 0; i < MAX_OPS; i++)
        for (int j = 0; j < MAX_PARAMS; j++) {
            free(m->wts[i].w[j]);
            free(m->wts[i].b[j]);
        }
    for (int i = 0; i < GS_LPIPS_MAX_LAYERS; i++) free(m->lin[i]);
    free(m);
}

/* Missing-key bookkeeping: the first few names go into the message. */
typedef struct {
    int count;
    char list[640];
} missing_set;

static void note_missing(missing_set *ms, const char *name) {
    if (ms->count < 6) {
        size_t len = strlen(ms->list);
        snprintf(ms->list + len, sizeof ms->list - len, "%s%s", ms->count ? ", " : "", name);
    }
    ms->count++;
}

/* Copy tensor `name` (F32 with the expected shape) into a new buffer.
 * Absent: noted in ms, *out stays NULL, GS_OK. Present but wrong: error. */
static gs_status take(const gs_safetensors *st, const char *path, const char *name, int ndim, const int64_t *shape,
                      missing_set *ms, float **out) {
    *out = NULL;
    const gs_st_tensor *t = gs_st_find(st, name);
    if (!t) {
        note_missing(ms, name);
        return GS_OK;
    }
    int ok = t->dtype == GS_F32 && t->ndim == ndim;
    int64_t numel = 1;
    for (int i = 0; ok && i < ndim; i++) {
        ok = t->shape[i] == shape[i];
        numel *= shape[i];
    }
    if (!ok) {
        char want[128] = "", got[128] = "";
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "", (long long)shape[i]);
        for (int i = 0; i < t->ndim && i < GS_MAX_DIMS; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)t->shape[i]);
        return gs_error(GS_ERR_FORMAT, "%s: tensor %s is %s [%s], expected F32 [%s]", path, name,
                        gs_dtype_name(t->dtype), got, want);
    }
    if ((uint64_t)numel * 4 != t->end - t->begin)
        return gs_error(GS_ERR_FORMAT, "%s: tensor %s has %llu bytes for %lld floats", path, name,
                        (unsigned long long)(t->end - t->begin), (long long)numel);
    float *buf = gs_malloc((size_t)numel, sizeof *buf, name);
    if (!buf) return GS_ERR_NOMEM;
    /* copied (the mapping may be unaligned) and checked finite in one pass */
    gs_status s = gs_st_read_f32(st, t, buf);
    if (s) {
        free(buf);
        return s;
    }
    *out = buf;
    return GS_OK;
}

static gs_status take_conv(const gs_safetensors *st, const char *path, const char *prefix, const char *sub, int cout,
                           int cin, int k, missing_set *ms, float **w, float **b) {
    char name[128];
    const int64_t ws[4] = {cout, cin, k, k}, bs[1] = {cout};
    snprintf(name, sizeof name, "%s%s.weight", prefix, sub);
    gs_status s = take(st, path, name, 4, ws, ms, w);
    if (s) return s;
    snprintf(name, sizeof name, "%s%s.bias", prefix, sub);
    return take(st, path, name, 1, bs, ms, b);
}

gs_status gs_lpips_load(const char *path, gs_lpips_net net, gs_lpips **out) {
    *out = NULL;
    if ((unsigned)net >= N_NETS) return gs_error(GS_ERR_INVALID, "lpips: bad network %d", net);
    gs_safetensors st;
    gs_status s = gs_st_open(&st, path);
    if (s) return gs_error_prefix(s, "%s weights", k_nets[net].label);
    gs_lpips *m = gs_calloc(1, sizeof *m, "lpips model");
    if (!m) {
        gs_st_close(&st);
        return GS_ERR_NOMEM;
    }
    m->net = net;
    m->ops = k_nets[net].ops;
    m->n_ops = k_nets[net].n_ops;
    missing_set ms = {0, ""};
    int tap = 0;
    for (int i = 0; i < m->n_ops && !s; i++) {
        const op_spec *o = &m->ops[i];
        op_weights *w = &m->wts[i];
        if (o->kind == OP_CONV) {
            s = take_conv(&st, path, o->prefix, "", o->cout, o->cin, o->k, &ms, &w->w[0], &w->b[0]);
        } else if (o->kind == OP_FIRE) {
            s = take_conv(&st, path, o->prefix, ".squeeze", o->squeeze, o->cin, 1, &ms, &w->w[0], &w->b[0]);
            if (!s) s = take_conv(&st, path, o->prefix, ".expand1x1", o->cout, o->squeeze, 1, &ms, &w->w[1], &w->b[1]);
            if (!s) s = take_conv(&st, path, o->prefix, ".expand3x3", o->cout, o->squeeze, 3, &ms, &w->w[2], &w->b[2]);
        }
        if (o->tap && !s) {
            const int c = o->kind == OP_FIRE ? 2 * o->cout : o->cout;
            char name[64];
            const int64_t ls[4] = {1, c, 1, 1};
            snprintf(name, sizeof name, "lin%d.model.1.weight", tap);
            m->lin_c[tap] = c;
            s = take(&st, path, name, 4, ls, &ms, &m->lin[tap]);
            tap++;
        }
    }
    m->n_taps = tap;
    /* the scaling layer is a buffer in state_dict(); files without it get the
     * constants of lpips.ScalingLayer */
    float *shift = NULL, *scale = NULL;
    missing_set opt = {0, ""};
    const int64_t ss[4] = {1, 3, 1, 1};
    if (!s) s = take(&st, path, "scaling_layer.shift", 4, ss, &opt, &shift);
    if (!s) s = take(&st, path, "scaling_layer.scale", 4, ss, &opt, &scale);
    for (int c = 0; c < 3; c++) {
        m->shift[c] = shift ? shift[c] : k_shift[c];
        m->scale[c] = scale ? scale[c] : k_scale[c];
        if (!s && !(m->scale[c] != 0.0f)) s = gs_error(GS_ERR_FORMAT, "%s: scaling_layer.scale has a zero", path);
    }
    free(shift);
    free(scale);
    if (!s && ms.count)
        s = gs_error(GS_ERR_FORMAT,
                     "%s: not a complete %s weights file: %d tensor%s missing (%s%s). Supply a full file with the "
                     "keys of lpips.LPIPS(net='%s').state_dict() (backbone and linear layers) via --lpips-weights",
                     path, k_nets[net].label, ms.count, ms.count == 1 ? "" : "s", ms.list,
                     ms.count > 6 ? ", ..." : "", k_nets[net].name);
    gs_st_close(&st);
    if (s) {
        gs_lpips_free(m);
        return s;
    }
    *out = m;
    return GS_OK;
}

/* Walk the layer shapes for an h x w input. Returns the largest activation
 * (floats per image) or 0 when some layer would get an empty output. */
size_t gs_lpips_plan(const gs_lpips *m, int h, int w, int *bad_op) {
    size_t biggest = (size_t)3 * h * w;
    for (int i = 0; i < m->n_ops; i++) {
        const op_spec *o = &m->ops[i];
        int c;
        if (o->kind == OP_CONV) {
            h = gs_conv2d_out_size(h, o->k, o->stride, o->pad);
            w = gs_conv2d_out_size(w, o->k, o->stride, o->pad);
            c = o->cout;
        } else if (o->kind == OP_POOL) {
            h = gs_pool_out_size(h, o->k, o->stride, o->pad, o->ceil_mode);
            w = gs_pool_out_size(w, o->k, o->stride, o->pad, o->ceil_mode);
            c = 0;
        } else {
            c = 2 * o->cout;
        }
        if (h < 1 || w < 1) {
            if (bad_op) *bad_op = i;
            return 0;
        }
        if (c && (size_t)c * h * w > biggest) biggest = (size_t)c * h * w;
    }
    return biggest;
}

static int min_side(const gs_lpips *m) {
    for (int s = 1; s < 4096; s++)
        if (gs_lpips_plan(m, s, s, NULL)) return s;
    return 4096;
}

/* One LPIPS tap: feat is [2, c, hw] (image 0 then image 1). Returns
 * mean_p sum_c lin[c] * (f0/(|f0|+eps) - f1/(|f1|+eps))^2. */
static gs_status tap_distance(const float *feat, int c, size_t hw, const float *lin, double *out) {
    double *n0 = gs_calloc(2 * hw, sizeof *n0, "lpips norms");
    if (!n0) return GS_ERR_NOMEM;
    double *n1 = n0 + hw;
    const float *f0 = feat, *f1 = feat + (size_t)c * hw;
    for (int ch = 0; ch < c; ch++) {
        const float *a = f0 + (size_t)ch * hw, *b = f1 + (size_t)ch * hw;
        for (size_t p = 0; p < hw; p++) {
            n0[p] += (double)a[p] * a[p];
            n1[p] += (double)b[p] * b[p];
        }
    }
    /* lpips.normalize_tensor: x / (sqrt(sum x^2) + 1e-10) */
    for (size_t p = 0; p < hw; p++) {
        n0[p] = 1.0 / (sqrt(n0[p]) + 1e-10);
        n1[p] = 1.0 / (sqrt(n1[p]) + 1e-10);
    }
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (size_t p = 0; p < hw; p++) {
        double acc = 0.0;
        for (int ch = 0; ch < c; ch++) {
            const double d = f0[(size_t)ch * hw + p] * n0[p] - f1[(size_t)ch * hw + p] * n1[p];
            acc += lin[ch] * d * d;
        }
        total += acc;
    }
    free(n0);
    *out = total / (double)hw;
    return GS_OK;
}

gs_status gs_lpips_check_inputs(const gs_lpips *m, const gs_image *pred, const gs_image *gt) {
    if (!m || !pred || !gt || !pred->data || !gt->data) return gs_error(GS_ERR_INVALID, "lpips: missing argument");
    const char *label = k_nets[m->net].label;
    if (pred->width != gt->width || pred->height != gt->height || pred->channels != gt->channels)
        return gs_error(GS_ERR_INVALID, "%s: prediction is %dx%dx%d but ground truth is %dx%dx%d", label, pred->width,
                        pred->height, pred->channels, gt->width, gt->height, gt->channels);
    const int nc = pred->channels;
    if (nc != 1 && nc != 3)
        return gs_error(GS_ERR_INVALID, "%s: images have %d channels; LPIPS needs RGB (or gray) - composite alpha first",
                        label, nc);
    int bad = 0;
    if (!gs_lpips_plan(m, pred->height, pred->width, &bad))
        return gs_error(GS_ERR_INVALID, "%s: image %dx%d is too small for the network (layer %s gets an empty output; "
                        "it needs at least %dx%d pixels)", label, pred->width, pred->height, m->ops[bad].prefix,
                        min_side(m), min_side(m));
    const size_t npix = (size_t)pred->width * pred->height * nc;
    for (size_t i = 0; i < npix; i++)
        if (!isfinite(pred->data[i]) || !isfinite(gt->data[i]))
            return gs_error(GS_ERR_INVALID, "%s: the images contain NaN or Inf values", label);
    return GS_OK;
}

size_t gs_lpips_workspace(const gs_ctx *c, const gs_lpips *m, int h, int w) {
    size_t most = 0;
    for (int i = 0; i < m->n_ops; i++) {
        const op_spec *o = &m->ops[i];
        size_t need = 0;
        if (o->kind == OP_CONV) {
            const gs_conv2d_params p = {o->cin, o->cout, o->k, o->k, o->stride, o->stride, o->pad, o->pad, 0};
            need = gs_conv2d_workspace(c, &p, 2, h, w);
            h = gs_conv2d_out_size(h, o->k, o->stride, o->pad), w = gs_conv2d_out_size(w, o->k, o->stride, o->pad);
        } else if (o->kind == OP_POOL) {
            h = gs_pool_out_size(h, o->k, o->stride, o->pad, o->ceil_mode);
            w = gs_pool_out_size(w, o->k, o->stride, o->pad, o->ceil_mode);
        } else {
            const gs_conv2d_params p3 = {o->squeeze, o->cout, 3, 3, 1, 1, 1, 1, 0};
            need = gs_conv2d_workspace(c, &p3, 2, h, w);
        }
        most = need > most ? need : most;
    }
    return most;
}

gs_status gs_lpips_eval(gs_lpips *m, const gs_image *pred, const gs_image *gt, double *out, double *per_layer) {
    if (!out) return gs_error(GS_ERR_INVALID, "lpips: missing argument");
    gs_status s0 = gs_lpips_check_inputs(m, pred, gt);
    if (s0) return s0;
    const char *label = k_nets[m->net].label;
    const int nc = pred->channels;
    int h = pred->height, w = pred->width;
    const size_t hw = (size_t)h * w;

    gs_arena ws;
    gs_ctx host = gs_ctx_cpu(NULL), cx;
    gs_status s = gs_ctx_with_workspace(&host, gs_lpips_workspace(&host, m, h, w), "lpips workspace", &cx, &ws);
    if (s) return gs_error_prefix(s, "%s", label);
    /* batch of two, NCHW: 2x-1 then (x - shift) / scale, in float like torch */
    float *cur = gs_malloc(2 * 3 * hw, sizeof *cur, "lpips input");
    if (!cur) {
        gs_arena_destroy(&ws);
        return GS_ERR_NOMEM;
    }
    for (int b = 0; b < 2; b++) {
        const float *src = b ? gt->data : pred->data;
        for (int c = 0; c < 3; c++) {
            float *dst = cur + ((size_t)b * 3 + c) * hw;
            const int sc = nc == 1 ? 0 : c;
            for (size_t p = 0; p < hw; p++) {
                const float v = 2.0f * src[p * nc + sc] - 1.0f;
                dst[p] = (v - m->shift[c]) / m->scale[c];
            }
        }
    }
    int c = 3, tap = 0;
    double total = 0.0;
    float *next = NULL, *tmp = NULL;
    for (int i = 0; i < m->n_ops && !s; i++) {
        const op_spec *o = &m->ops[i];
        const op_weights *wt = &m->wts[i];
        if (o->kind == OP_CONV) {
            const gs_conv2d_params p = {o->cin, o->cout, o->k, o->k, o->stride, o->stride, o->pad, o->pad, 0};
            const int ho = gs_conv2d_out_size(h, o->k, o->stride, o->pad);
            const int wo = gs_conv2d_out_size(w, o->k, o->stride, o->pad);
            next = gs_malloc((size_t)2 * o->cout * ho * wo, sizeof *next, "lpips activation");
            if (!next) { s = GS_ERR_NOMEM; break; }
            const gs_wt wv = gs_wt_f32(wt->w[0], 4, o->cout, o->cin, o->k, o->k);
            s = gs_conv2d(&cx, &p, cur, 2, h, w, &wv, wt->b[0], next, 1);
            h = ho, w = wo, c = o->cout;
        } else if (o->kind == OP_POOL) {
            const int ho = gs_pool_out_size(h, o->k, o->stride, o->pad, o->ceil_mode);
            const int wo = gs_pool_out_size(w, o->k, o->stride, o->pad, o->ceil_mode);
            next = gs_malloc((size_t)2 * c * ho * wo, sizeof *next, "lpips activation");
            if (!next) { s = GS_ERR_NOMEM; break; }
            s = gs_maxpool2d(&cx, cur, 2, c, h, w, o->k, o->stride, o->pad, o->ceil_mode, next);
            h = ho, w = wo;
        } else { /* fire: squeeze 1x1 + relu, then concat(relu(expand1x1), relu(expand3x3)) */
            const size_t phw = (size_t)h * w;
            tmp = gs_malloc((size_t)2 * (o->squeeze + 2 * o->cout) * phw, sizeof *tmp, "lpips fire");
            next = gs_malloc((size_t)2 * 2 * o->cout * phw, sizeof *next, "lpips activation");
            if (!tmp || !next) { s = GS_ERR_NOMEM; break; }
            float *sq = tmp, *e1 = sq + (size_t)2 * o->squeeze * phw, *e3 = e1 + (size_t)2 * o->cout * phw;
            const gs_conv2d_params ps = {o->cin, o->squeeze, 1, 1, 1, 1, 0, 0, 0};
            const gs_conv2d_params p1 = {o->squeeze, o->cout, 1, 1, 1, 1, 0, 0, 0};
            const gs_conv2d_params p3 = {o->squeeze, o->cout, 3, 3, 1, 1, 1, 1, 0};
            const gs_wt w0 = gs_wt_f32(wt->w[0], 4, o->squeeze, o->cin, 1, 1);
            const gs_wt w1 = gs_wt_f32(wt->w[1], 4, o->cout, o->squeeze, 1, 1);
            const gs_wt w3 = gs_wt_f32(wt->w[2], 4, o->cout, o->squeeze, 3, 3);
            s = gs_conv2d(&cx, &ps, cur, 2, h, w, &w0, wt->b[0], sq, 1);
            if (!s) s = gs_conv2d(&cx, &p1, sq, 2, h, w, &w1, wt->b[1], e1, 1);
            if (!s) s = gs_conv2d(&cx, &p3, sq, 2, h, w, &w3, wt->b[2], e3, 1);
            if (!s) {
                const float *srcs[2] = {e1, e3};
                const int chans[2] = {o->cout, o->cout};
                s = gs_concat_channels(&cx, srcs, chans, 2, 2, phw, next);
            }
            free(tmp);
            tmp = NULL;
            c = 2 * o->cout;
        }
        free(cur);
        cur = next;
        next = NULL;
        if (!s && o->tap) {
            double d = 0.0;
            s = tap_distance(cur, c, (size_t)h * w, m->lin[tap], &d);
            if (per_layer) per_layer[tap] = d;
            total += d;
            tap++;
        }
    }
    free(tmp);
    free(next);
    free(cur);
    gs_arena_destroy(&ws);
    if (s) return gs_error_prefix(s, "%s", label);
    *out = total;
    return GS_OK;
}
