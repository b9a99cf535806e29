/* weights.c - checkpoint access for the DA3 network (da3.h): float32 views
 * into a memory-mapped safetensors file, converted copies only where the file
 * is not F32 or not aligned, every value checked finite as it is bound, and
 * one report of every missing, mis-shaped or unexpected key and every tensor
 * with a NaN or Inf. */
#include "backbone/da3_config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

gs_status gs_weights_open(gs_weights *w, const char *path) {
    memset(w, 0, sizeof *w);
    gs_status st = gs_st_open(&w->st, path);
    if (st != GS_OK) return st;
    w->used = gs_calloc((size_t)w->st.n + 1, 1, "weights bookkeeping");
    w->conv = gs_calloc((size_t)w->st.n + 1, sizeof *w->conv, "weights bookkeeping");
    if (!w->used || !w->conv) {
        gs_weights_close(w);
        return GS_ERR_NOMEM;
    }
    return GS_OK;
}

void gs_weights_close(gs_weights *w) {
    if (w->conv)
        for (int i = 0; i < w->st.n; i++) free(w->conv[i]);
    free(w->conv);
    free(w->used);
    free(w->problems);
    free(w->nonfinite);
    gs_st_close(&w->st);
    memset(w, 0, sizeof *w);
}

/* Append one line to a list (text, length, capacity, count); past 40 lines
 * only the count grows. */
static void add_line(char **text, size_t *len, size_t *capacity, int *count, const char *fmt, va_list ap) {
    char line[512];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    (*count)++;
    if (*count > 40) return; /* the count is still reported */
    if (*len + (size_t)n + 2 > *capacity) {
        size_t cap = *capacity ? *capacity * 2 : 1024;
        while (cap < *len + (size_t)n + 2) cap *= 2;
        char *p = realloc(*text, cap);
        if (!p) return;
        *text = p;
        *capacity = cap;
    }
    memcpy(*text + *len, line, (size_t)n);
    *len += (size_t)n;
    (*text)[(*len)++] = '\n';
    (*text)[*len] = 0;
}

static void add_problem(gs_weights *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_problem(gs_weights *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_line(&w->problems, &w->problems_len, &w->problems_cap, &w->n_problems, fmt, ap);
    va_end(ap);
}

/* Kept apart from the key problems, which the modules count as missing or
 * mis-shaped keys when they bind. */
static void add_nonfinite(gs_weights *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_nonfinite(gs_weights *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    add_line(&w->nonfinite, &w->nonfinite_len, &w->nonfinite_cap, &w->n_nonfinite, fmt, ap);
    va_end(ap);
}

#define USED 1
#define CHECKED 2 /* its values were checked finite (in place) */

static const gs_st_tensor *find_full(const gs_weights *w, const char *prefix, const char *name, int *index) {
    char key[512];
    snprintf(key, sizeof key, "%s%s", prefix ? prefix : "", name);
    const gs_st_tensor *t = gs_st_find(&w->st, key);
    if (t && index) *index = (int)(t - w->st.tensors);
    return t;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int i = 0; i < ndim && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < n) snprintf(buf + o, n - o, "]");
}

const float *gs_weights_get(gs_weights *w, const char *prefix, const char *name, int ndim,
                            const int64_t *shape) {
    int idx = -1;
    const gs_st_tensor *t = find_full(w, prefix, name, &idx);
    if (!t) {
        add_problem(w, "missing key %s%s", prefix ? prefix : "", name);
        return NULL;
    }
    w->used[idx] |= USED;
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char want[128], got[128];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        add_problem(w, "key %s%s has shape %s, expected %s", prefix ? prefix : "", name, got, want);
        return NULL;
    }
    const char *kind = "";
    int64_t bad;
    if (t->dtype == GS_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
        /* used in place: one read to check it, the first time it is asked for */
        if (!(w->used[idx] & CHECKED)) {
            w->used[idx] |= CHECKED;
            if ((bad = gs_st_f32(t, NULL, &kind)) >= 0)
                add_nonfinite(w, "tensor %s has a non-finite value (%s) at element %lld", t->name, kind, (long long)bad);
        }
        return (const float *)t->data;
    }
    if (w->conv[idx]) return w->conv[idx];
    if (t->dtype != GS_F32 && t->dtype != GS_F16 && t->dtype != GS_BF16) {
        add_problem(w, "key %s%s has dtype %s; weights must be F32, F16 or BF16", prefix ? prefix : "", name,
                    gs_dtype_name(t->dtype));
        return NULL;
    }
    size_t n = (size_t)((t->end - t->begin) / gs_dtype_size(t->dtype));
    float *dst = gs_malloc(n ? n : 1, sizeof(float), name);
    if (!dst) {
        add_problem(w, "key %s%s: out of memory converting it to float32", prefix ? prefix : "", name);
        return NULL;
    }
    /* converted and checked in the same pass */
    if ((bad = gs_st_f32(t, dst, &kind)) >= 0)
        add_nonfinite(w, "tensor %s has a non-finite value (%s) at element %lld", t->name, kind, (long long)bad);
    w->conv[idx] = dst;
    return dst;
}

const float *gs_weights_getv(gs_weights *w, const char *prefix, const char *name, int ndim, ...) {
    int64_t shape[GS_MAX_DIMS];
    if (ndim < 0 || ndim > GS_MAX_DIMS) return NULL;
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) shape[i] = va_arg(ap, long);
    va_end(ap);
    return gs_weights_get(w, prefix, name, ndim, shape);
}

int gs_weights_has(const gs_weights *w, const char *prefix, const char *name) {
    return find_full(w, prefix, name, NULL) != NULL;
}

void gs_weights_mark_used(gs_weights *w, const char *prefix, const char *name) {
    int idx = -1;
    if (find_full(w, prefix, name, &idx)) w->used[idx] |= USED;
}

gs_status gs_weights_check(gs_weights *w, const char *const *prefixes) {
    int unexpected = 0;
    for (int i = 0; i < w->st.n; i++) {
        if (w->used[i]) continue;
        const char *name = w->st.tensors[i].name;
        for (int p = 0; prefixes && prefixes[p]; p++)
            if (!strncmp(name, prefixes[p], strlen(prefixes[p]))) {
                add_problem(w, "unexpected key %s", name);
                unexpected++;
                break;
            }
    }
    const char *path = w->st.path ? w->st.path : "checkpoint";
    if (!w->n_problems && w->n_nonfinite) {
        if (w->nonfinite_len && w->nonfinite[w->nonfinite_len - 1] == '\n') w->nonfinite[--w->nonfinite_len] = 0;
        if (w->n_nonfinite == 1) return gs_error(GS_ERR_FORMAT, "%s: %s", path, w->nonfinite ? w->nonfinite : "");
        return gs_error(GS_ERR_FORMAT, "%s: %d tensors have non-finite values%s:\n%s", path, w->n_nonfinite,
                        w->n_nonfinite > 40 ? " (first 40)" : "", w->nonfinite ? w->nonfinite : "");
    }
    /* with key problems too: one list */
    for (const char *l = w->nonfinite; l && *l;) {
        const char *e = strchr(l, '\n');
        int len = e ? (int)(e - l) : (int)strlen(l);
        add_problem(w, "%.*s", len, l);
        l += len + (e ? 1 : 0);
    }
    if (w->n_nonfinite > 40) w->n_problems += w->n_nonfinite - 40; /* lines past 40 were only counted */
    w->n_nonfinite = 0;
    w->nonfinite_len = 0;
    if (w->nonfinite) w->nonfinite[0] = 0;
    if (!w->n_problems) return GS_OK;
    int shown = w->n_problems > 40 ? 40 : w->n_problems;
    if (w->problems_len && w->problems[w->problems_len - 1] == '\n') w->problems[--w->problems_len] = 0;
    return gs_error(GS_ERR_FORMAT, "%s: %d problem%s with the checkpoint (%d unexpected key%s)%s:\n%s%s",
                    path, w->n_problems, w->n_problems == 1 ? "" : "s",
                    unexpected, unexpected == 1 ? "" : "s", shown < w->n_problems ? ", first 40" : "",
                    w->problems ? w->problems : "", "");
}

void gs_dump_tensor(const gs_dump *d, const char *name, const float *data, int ndim, ...) {
    if (!d || !d->fn) return;
    int64_t shape[GS_MAX_DIMS];
    if (ndim < 0 || ndim > GS_MAX_DIMS) return;
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) shape[i] = va_arg(ap, long);
    va_end(ap);
    d->fn(d->ctx, name, data, ndim, shape);
}

static int cmp_st_name(const void *a, const void *b) {
    return strcmp(((const gs_st_tensor *)a)->name, ((const gs_st_tensor *)b)->name);
}

/* Keys and shapes only: every gs_weights_get of a listed key with the right
 * shape returns a pointer to a small zero buffer that must not be read as
 * real data. Lets tests bind the full-size official models from their key
 * lists without gigabytes of weights. */
gs_status gs_weights_open_virtual(gs_weights *w, int n, const char *const *names, const int *ndims,
                                  const int64_t (*shapes)[GS_MAX_DIMS], const char *label) {
    static const float zeros[16];
    memset(w, 0, sizeof *w);
    w->st.map.fd = -1;
    if (n < 0 || n > 1000000) return gs_error(GS_ERR_INVALID, "%s: bad key count %d", label, n);
    w->st.tensors = gs_calloc((size_t)n + 1, sizeof *w->st.tensors, "virtual weights");
    w->used = gs_calloc((size_t)n + 1, 1, "weights bookkeeping");
    w->conv = gs_calloc((size_t)n + 1, sizeof *w->conv, "weights bookkeeping");
    w->st.path = strdup(label ? label : "virtual");
    if (!w->st.tensors || !w->used || !w->conv || !w->st.path) {
        gs_weights_close(w);
        return GS_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++) {
        gs_st_tensor *t = &w->st.tensors[i];
        t->name = strdup(names[i]);
        w->st.n = i + 1;
        if (!t->name || ndims[i] < 0 || ndims[i] > GS_MAX_DIMS) {
            gs_weights_close(w);
            return gs_error(GS_ERR_INVALID, "%s: bad key %d", label, i);
        }
        t->dtype = GS_F32;
        t->ndim = ndims[i];
        memcpy(t->shape, shapes[i], sizeof t->shape);
        t->data = (const uint8_t *)zeros;
    }
    qsort(w->st.tensors, (size_t)n, sizeof *w->st.tensors, cmp_st_name);
    return GS_OK;
}
