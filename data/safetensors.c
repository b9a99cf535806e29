/* safetensors.c - the safetensors checkpoint format: a validating reader over
 * a memory map (or a caller's buffer) and an atomic writer.
 *
 * Alignment: the official writer pads the JSON header with spaces so that the
 * data section starts at a multiple of 8, but nothing in the format forces a
 * tensor's bytes to be aligned for its dtype (other writers, hand-made files,
 * in-memory buffers at odd addresses). gs_st_tensor.data may therefore be
 * misaligned: callers must memcpy (or convert element by element through
 * memcpy) rather than dereference it as float* / int64_t*.
 *
 * The data section is assumed little-endian, as the format specifies, and is
 * handed out unchanged; like the rest of libgs this targets little-endian
 * hosts. */
#include "data/safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* JSON numbers arrive as doubles: above 2^53 an integer literal may already
 * have been rounded, so such values cannot be trusted to be exact. */
#define ST_MAX_EXACT 9007199254740992.0

static const char *st_name(const gs_safetensors *st) { return st->path ? st->path : "<memory>"; }

/* A JSON number that is a non-negative integer, exactly representable. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0 || d > ST_MAX_EXACT || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* Length of the well-formed UTF-8 sequence at p (n bytes available), 0 when
 * there is none: no overlong forms, no surrogates (U+D800-DFFF), nothing past
 * U+10FFFF (RFC 3629). */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    const unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c == 0xED) { len = 3; hi = 0x9F; }
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c == 0xF4) { len = 4; hi = 0x8F; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else return 0;
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return len;
}

static int utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0, k; i < n; i += k)
        if (!(k = utf8_seq(p + i, n - i))) return 0;
    return 1;
}

/* cJSON hands out strings NUL-terminated and copies their bytes unchecked: a
 * raw NUL or an escaped \u0000 would silently cut a tensor name (two keys
 * could then collide, or a name read differently than other readers read it),
 * and invalid UTF-8 would pass through. JSON text is UTF-8 (RFC 8259) and its
 * strings hold no raw control characters, as the reference reader enforces:
 * check every string of the header (tensor names, dtypes, metadata) in the
 * text cJSON accepted, [h, h + n). */
static gs_status check_strings(const char *nm, const char *h, size_t n) {
    const unsigned char *p = (const unsigned char *)h;
    size_t start = 0;
    int in = 0;
    for (size_t i = 0; i < n;) {
        const unsigned c = p[i];
        if (!in) {
            if (c == '"') { in = 1; start = i + 1; }
            i++;
            continue;
        }
        if (c == '"') { in = 0; i++; continue; }
        /* what came before the bad byte (valid UTF-8, no NUL), at most 48 bytes */
        int shown = (int)(i - start > 48 ? 48 : i - start);
        const char *more = (size_t)shown < i - start ? "..." : "";
        while (*more && shown > 0 && (p[start + (size_t)shown] & 0xC0) == 0x80) shown--;
        if (c == '\\') {
            if (i + 5 < n && p[i + 1] == 'u' && !memcmp(p + i + 2, "0000", 4))
                return gs_error(GS_ERR_FORMAT, "%s: header string \"%.*s%s\" holds an escaped NUL (\\u0000 at header byte "
                                "%zu); tensor names and header strings must not contain NUL", nm, shown,
                                h + start, more, i);
            i += 2; /* cJSON checked the escape; \uXXXX digits are ASCII */
            continue;
        }
        if (c == 0)
            return gs_error(GS_ERR_FORMAT, "%s: header string \"%.*s%s\" holds a raw NUL byte (at header byte %zu); "
                            "tensor names and header strings must not contain NUL", nm, shown, h + start, more, i);
        if (c < 0x20)
            return gs_error(GS_ERR_FORMAT, "%s: header string \"%.*s%s\" holds the raw control character 0x%02x (at "
                            "header byte %zu); JSON strings must escape it", nm, shown, h + start, more, c, i);
        size_t k = utf8_seq(p + i, n - i);
        if (!k)
            return gs_error(GS_ERR_FORMAT, "%s: header string \"%.*s%s\" is not valid UTF-8 (byte 0x%02x at header "
                            "byte %zu)", nm, shown, h + start, more, c, i);
        i += k;
    }
    return GS_OK;
}

static int dtype_from_name(const char *s, gs_dtype *out) {
    for (int t = 0; t < GS_DTYPE_COUNT; t++) {
        if (!strcmp(gs_dtype_name((gs_dtype)t), s)) {
            *out = (gs_dtype)t;
            return 1;
        }
    }
    return 0;
}

static gs_status parse_entry(gs_safetensors *st, const cJSON *e, gs_st_tensor *t) {
    const char *nm = st_name(st), *tn = t->name;
    if (!cJSON_IsObject(e)) return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", nm, tn);

    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!dt) return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': missing \"dtype\"", nm, tn);
    if (!cJSON_IsString(dt)) return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is not a string", nm, tn);
    if (!dtype_from_name(dt->valuestring, &t->dtype))
        return gs_error(GS_ERR_UNSUPPORTED, "%s: tensor '%s': unknown dtype \"%s\"", nm, tn, dt->valuestring);

    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!sh) return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': missing \"shape\"", nm, tn);
    if (!cJSON_IsArray(sh)) return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': \"shape\" is not an array", nm, tn);
    int nd = cJSON_GetArraySize(sh);
    if (nd > GS_MAX_DIMS)
        return gs_error(GS_ERR_UNSUPPORTED, "%s: tensor '%s': %d dimensions (at most %d supported)", nm, tn, nd,
                        GS_MAX_DIMS);
    uint64_t numel = 1;
    int i = 0;
    for (const cJSON *v = sh->child; v; v = v->next, i++) {
        uint64_t d;
        if (!json_uint(v, &d))
            return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer", nm, tn, i);
        if (d != 0 && numel > UINT64_MAX / d)
            return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': shape overflows", nm, tn);
        numel *= d;
        t->shape[i] = (int64_t)d;
    }
    t->ndim = nd;
    size_t dsz = gs_dtype_size(t->dtype);
    if (numel > UINT64_MAX / dsz) return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': shape overflows", nm, tn);
    uint64_t nbytes = numel * dsz;

    const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!off) return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': missing \"data_offsets\"", nm, tn);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': \"data_offsets\" is not an array [begin, end]", nm, tn);
    if (!json_uint(off->child, &t->begin) || !json_uint(off->child->next, &t->end))
        return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative integers", nm, tn);
    if (t->begin > t->end)
        return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they begin", nm, tn,
                        (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > st->base_size)
        return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end of the %zu-byte data section",
                        nm, tn, (unsigned long long)t->begin, (unsigned long long)t->end, st->base_size);
    if (t->end - t->begin != nbytes)
        return gs_error(GS_ERR_FORMAT, "%s: tensor '%s': data_offsets span %llu bytes but %s shape needs %llu", nm, tn,
                        (unsigned long long)(t->end - t->begin), gs_dtype_name(t->dtype), (unsigned long long)nbytes);
    t->data = st->base + t->begin;
    return GS_OK;
}

static gs_status parse_meta(gs_safetensors *st, const cJSON *m) {
    const char *nm = st_name(st);
    if (!cJSON_IsObject(m)) return gs_error(GS_ERR_FORMAT, "%s: \"__metadata__\" is not a JSON object", nm);
    int n = cJSON_GetArraySize(m);
    st->meta_keys = gs_calloc((size_t)n + 1, sizeof(char *), "safetensors metadata");
    st->meta_values = gs_calloc((size_t)n + 1, sizeof(char *), "safetensors metadata");
    if (!st->meta_keys || !st->meta_values) return GS_ERR_NOMEM;
    for (const cJSON *v = m->child; v; v = v->next) {
        if (!cJSON_IsString(v))
            return gs_error(GS_ERR_FORMAT, "%s: metadata '%s' is not a string", nm, v->string);
        for (int j = 0; j < st->n_meta; j++)
            if (!strcmp(st->meta_keys[j], v->string))
                return gs_error(GS_ERR_FORMAT, "%s: metadata key '%s' appears twice", nm, v->string);
        char *k = strdup(v->string), *val = strdup(v->valuestring);
        if (!k || !val) {
            free(k);
            free(val);
            return gs_error(GS_ERR_NOMEM, "%s: out of memory", nm);
        }
        st->meta_keys[st->n_meta] = k;
        st->meta_values[st->n_meta] = val;
        st->n_meta++;
    }
    return GS_OK;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const gs_st_tensor *)a)->name, ((const gs_st_tensor *)b)->name);
}

static int cmp_span(const void *a, const void *b) {
    const gs_st_tensor *x = *(const gs_st_tensor *const *)a, *y = *(const gs_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Spans must be disjoint; an empty span sitting strictly inside another is
 * rejected too (no writer produces that). */
static gs_status check_overlap(gs_safetensors *st) {
    if (st->n < 2) return GS_OK;
    gs_st_tensor **ix = gs_malloc((size_t)st->n, sizeof *ix, "safetensors index");
    if (!ix) return GS_ERR_NOMEM;
    for (int i = 0; i < st->n; i++) ix[i] = &st->tensors[i];
    qsort(ix, (size_t)st->n, sizeof *ix, cmp_span);
    gs_status s = GS_OK;
    for (int i = 1; i < st->n; i++) {
        if (ix[i]->begin < ix[i - 1]->end) {
            s = gs_error(GS_ERR_FORMAT, "%s: tensors '%s' [%llu, %llu] and '%s' [%llu, %llu] overlap", st_name(st),
                         ix[i - 1]->name, (unsigned long long)ix[i - 1]->begin, (unsigned long long)ix[i - 1]->end,
                         ix[i]->name, (unsigned long long)ix[i]->begin, (unsigned long long)ix[i]->end);
            break;
        }
    }
    free(ix);
    return s;
}

static gs_status parse(gs_safetensors *st, const uint8_t *data, size_t size) {
    const char *nm = st_name(st);
    if (size < 8)
        return gs_error(GS_ERR_FORMAT, "%s: file is %zu bytes, shorter than the 8-byte safetensors header length", nm, size);
    uint64_t hn = 0;
    for (int i = 0; i < 8; i++) hn |= (uint64_t)data[i] << (8 * i);
    if (hn > GS_ST_MAX_HEADER)
        return gs_error(GS_ERR_FORMAT, "%s: header length %llu is over the %llu-byte limit (not a safetensors file?)", nm,
                        (unsigned long long)hn, (unsigned long long)GS_ST_MAX_HEADER);
    if (hn > size - 8)
        return gs_error(GS_ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", nm,
                        (unsigned long long)hn, size);
    st->base = data + 8 + hn;
    st->base_size = size - 8 - (size_t)hn;

    const char *h = (const char *)data + 8, *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(h, (size_t)hn, &end, 0);
    if (!root) {
        size_t at = end && end >= h && end <= h + hn ? (size_t)(end - h) : 0;
        return gs_error(GS_ERR_FORMAT, "%s: header is not valid JSON (at byte %zu of %llu)", nm, at,
                        (unsigned long long)hn);
    }
    gs_status s = GS_OK;
    /* the official writer pads with spaces; anything else after the JSON is corrupt */
    for (const char *p = end; p < h + hn; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            s = gs_error(GS_ERR_FORMAT, "%s: unexpected bytes after the JSON header (at byte %zu of %llu)", nm,
                         (size_t)(p - h), (unsigned long long)hn);
            goto done;
        }
    }
    if ((s = check_strings(nm, h, (size_t)(end - h)))) goto done;
    if (!cJSON_IsObject(root)) {
        s = gs_error(GS_ERR_FORMAT, "%s: header is not a JSON object", nm);
        goto done;
    }
    int count = 0;
    const cJSON *meta = NULL;
    for (const cJSON *e = root->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__")) {
            count++;
        } else if (meta) {
            s = gs_error(GS_ERR_FORMAT, "%s: \"__metadata__\" appears twice", nm);
            goto done;
        } else {
            meta = e;
        }
    }
    if (meta && (s = parse_meta(st, meta))) goto done;
    st->tensors = gs_calloc((size_t)count + 1, sizeof *st->tensors, "safetensors tensors");
    if (!st->tensors) { s = GS_ERR_NOMEM; goto done; }
    for (const cJSON *e = root->child; e; e = e->next) {
        if (e == meta) continue;
        gs_st_tensor *t = &st->tensors[st->n];
        if (!(t->name = strdup(e->string))) { s = gs_error(GS_ERR_NOMEM, "%s: out of memory", nm); goto done; }
        st->n++;
        if ((s = parse_entry(st, e, t))) goto done;
    }
    qsort(st->tensors, (size_t)st->n, sizeof *st->tensors, cmp_name);
    for (int i = 1; i < st->n; i++) {
        if (!strcmp(st->tensors[i - 1].name, st->tensors[i].name)) {
            s = gs_error(GS_ERR_FORMAT, "%s: tensor '%s' appears twice", nm, st->tensors[i].name);
            goto done;
        }
    }
    s = check_overlap(st);
done:
    cJSON_Delete(root);
    return s;
}

static gs_status st_init(gs_safetensors *st, const char *name) {
    memset(st, 0, sizeof *st);
    st->map.fd = -1;
    st->path = strdup(name ? name : "<memory>");
    if (!st->path) return gs_error(GS_ERR_NOMEM, "%s: out of memory", name ? name : "<memory>");
    return GS_OK;
}

gs_status gs_st_open(gs_safetensors *st, const char *path) {
    gs_status s = st_init(st, path);
    if (!s) s = gs_mmap_open(&st->map, path);
    if (!s) s = parse(st, st->map.data, st->map.size);
    if (s) gs_st_close(st);
    return s;
}

gs_status gs_st_open_mem(gs_safetensors *st, const uint8_t *data, size_t size, const char *name) {
    gs_status s = st_init(st, name);
    if (!s && !data && size) s = gs_error(GS_ERR_INVALID, "%s: NULL buffer", st_name(st));
    if (!s) s = parse(st, data ? data : (const uint8_t *)"", data ? size : 0);
    if (s) gs_st_close(st);
    return s;
}

void gs_st_close(gs_safetensors *st) {
    if (!st) return;
    if (st->map.data || st->map.fd >= 0) gs_mmap_close(&st->map);
    for (int i = 0; i < st->n; i++) free(st->tensors[i].name);
    free(st->tensors);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->meta_keys);
    free(st->meta_values);
    free(st->path);
    memset(st, 0, sizeof *st);
    st->map.fd = -1;
}

const gs_st_tensor *gs_st_find(const gs_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(name, st->tensors[mid].name);
        if (!c) return &st->tensors[mid];
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

const char *gs_st_meta(const gs_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (int i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta_keys[i], key)) return st->meta_values[i];
    return NULL;
}

void gs_st_view(const gs_st_tensor *t, gs_tensor *out) {
    gs_tensor_wrap(out, t->dtype, t->ndim, t->shape, (void *)t->data);
}

int64_t gs_st_param_count(const gs_safetensors *st) {
    int64_t total = 0;
    for (int i = 0; i < st->n; i++) {
        int64_t n = 1;
        for (int d = 0; d < st->tensors[i].ndim; d++) n *= st->tensors[i].shape[d];
        total += n;
    }
    return total;
}

/* ---- float32 values, checked ---------------------------------------------------- */

#define ST_CHUNK ((size_t)1 << 16)

/* Is x (float32 bits) NaN or Inf? The exponent is all ones. */
static inline unsigned f32_bad(uint32_t x) { return (x & 0x7f800000u) == 0x7f800000u; }
static inline unsigned f16_bad(uint16_t x) { return (x & 0x7c00u) == 0x7c00u; }
static inline unsigned bf16_bad(uint16_t x) { return (x & 0x7f80u) == 0x7f80u; }

/* Convert (dst non-NULL) and check elements [a, b): does any fail? */
static unsigned f32_chunk(gs_dtype dt, const uint8_t *src, float *dst, size_t a, size_t b) {
    unsigned bad = 0;
    if (dt == GS_F32) {
        if (dst) memcpy(dst + a, src + 4 * a, 4 * (b - a));
        const uint8_t *p = dst ? (const uint8_t *)dst : src; /* dst is aligned: check the copy */
#pragma omp simd reduction(| : bad)
        for (size_t i = a; i < b; i++) {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            bad |= f32_bad(u);
        }
        return bad;
    }
    for (size_t i = a; i < b; i++) {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        if (dt == GS_F16) {
            bad |= f16_bad(h);
            if (dst) dst[i] = gs_f16_to_f32(h);
        } else {
            bad |= bf16_bad(h);
            if (dst) dst[i] = gs_bf16_to_f32(h);
        }
    }
    return bad;
}

int64_t gs_st_f32(const gs_st_tensor *t, float *dst, const char **kind) {
    if (t->dtype != GS_F32 && t->dtype != GS_F16 && t->dtype != GS_BF16) return -2;
    const size_t es = gs_dtype_size(t->dtype), n = (size_t)((t->end - t->begin) / es);
    const size_t chunks = (n + ST_CHUNK - 1) / ST_CHUNK;
    const uint8_t *src = t->data;
    int64_t first = INT64_MAX; /* first chunk holding a NaN or Inf */
#pragma omp parallel for schedule(static) reduction(min : first) if (chunks > 16)
    for (int64_t c = 0; c < (int64_t)chunks; c++) {
        const size_t a = (size_t)c * ST_CHUNK, b = a + ST_CHUNK < n ? a + ST_CHUNK : n;
        if (f32_chunk(t->dtype, src, dst, a, b) && c < first) first = c;
    }
    if (first == INT64_MAX) return -1;
    for (size_t i = (size_t)first * ST_CHUNK; i < n; i++) {
        float v;
        if (t->dtype == GS_F32) {
            memcpy(&v, src + 4 * i, 4);
        } else {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            v = t->dtype == GS_F16 ? gs_f16_to_f32(h) : gs_bf16_to_f32(h);
        }
        if (!isfinite(v)) {
            if (kind) *kind = isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
            return (int64_t)i;
        }
    }
    return -1; /* not reached: the chunk held one */
}

gs_status gs_st_read_f32(const gs_safetensors *st, const gs_st_tensor *t, float *dst) {
    const char *kind = "";
    int64_t bad = gs_st_f32(t, dst, &kind);
    if (bad == -2)
        return gs_error(GS_ERR_UNSUPPORTED, "%s: tensor %s is %s; float32 values need F32, F16 or BF16", st_name(st),
                        t->name, gs_dtype_name(t->dtype));
    if (bad >= 0)
        return gs_error(GS_ERR_FORMAT, "%s: tensor %s has a non-finite value (%s) at element %lld", st_name(st), t->name,
                        kind, (long long)bad);
    return GS_OK;
}

/* ---- writer ------------------------------------------------------------------ */

typedef struct {
    char *name;
    gs_dtype dtype;
    int ndim;
    int64_t shape[GS_MAX_DIMS];
    const void *data;
    size_t nbytes;
} st_wentry;

struct gs_st_writer {
    st_wentry *t;
    int n, cap;
    char **mk, **mv;
    int nm, capm;
};

gs_st_writer *gs_st_writer_new(void) { return calloc(1, sizeof(gs_st_writer)); }

void gs_st_writer_free(gs_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    free(w->t);
    for (int i = 0; i < w->nm; i++) {
        free(w->mk[i]);
        free(w->mv[i]);
    }
    free(w->mk);
    free(w->mv);
    free(w);
}

gs_status gs_st_writer_add(gs_st_writer *w, const char *name, gs_dtype dtype, int ndim, const int64_t *shape,
                           const void *data) {
    if (!w || !name) return gs_error(GS_ERR_INVALID, "safetensors writer: NULL writer or tensor name");
    if (!strcmp(name, "__metadata__"))
        return gs_error(GS_ERR_INVALID, "safetensors writer: \"__metadata__\" is reserved, not a tensor name");
    if (!utf8_valid(name))
        return gs_error(GS_ERR_INVALID, "safetensors writer: tensor name '%s' is not valid UTF-8", name);
    if ((unsigned)dtype >= GS_DTYPE_COUNT)
        return gs_error(GS_ERR_INVALID, "safetensors writer: tensor '%s': bad dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > GS_MAX_DIMS || (ndim > 0 && !shape))
        return gs_error(GS_ERR_INVALID, "safetensors writer: tensor '%s': bad rank %d", name, ndim);
    size_t nbytes = gs_dtype_size(dtype);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (double)shape[i] > ST_MAX_EXACT)
            return gs_error(GS_ERR_INVALID, "safetensors writer: tensor '%s': bad dimension %lld", name,
                            (long long)shape[i]);
        if (!gs_mul_ok(nbytes, (size_t)shape[i], &nbytes))
            return gs_error(GS_ERR_INVALID, "safetensors writer: tensor '%s': shape overflows", name);
    }
    if (nbytes && !data) return gs_error(GS_ERR_INVALID, "safetensors writer: tensor '%s': NULL data", name);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name))
            return gs_error(GS_ERR_INVALID, "safetensors writer: duplicate tensor name '%s'", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        st_wentry *nt = realloc(w->t, (size_t)cap * sizeof *nt);
        if (!nt) return gs_error(GS_ERR_NOMEM, "safetensors writer: out of memory");
        w->t = nt;
        w->cap = cap;
    }
    st_wentry *e = &w->t[w->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = strdup(name))) return gs_error(GS_ERR_NOMEM, "safetensors writer: out of memory");
    e->dtype = dtype;
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    e->nbytes = nbytes;
    w->n++;
    return GS_OK;
}

/* Setting a key twice keeps the last value. */
gs_status gs_st_writer_meta(gs_st_writer *w, const char *key, const char *value) {
    if (!w || !key || !value) return gs_error(GS_ERR_INVALID, "safetensors writer: NULL writer, metadata key or value");
    if (!utf8_valid(key) || !utf8_valid(value))
        return gs_error(GS_ERR_INVALID, "safetensors writer: metadata '%s' is not valid UTF-8", key);
    char *v = strdup(value);
    if (!v) return gs_error(GS_ERR_NOMEM, "safetensors writer: out of memory");
    for (int i = 0; i < w->nm; i++) {
        if (!strcmp(w->mk[i], key)) {
            free(w->mv[i]);
            w->mv[i] = v;
            return GS_OK;
        }
    }
    if (w->nm == w->capm) {
        int cap = w->capm ? 2 * w->capm : 8;
        char **nk = realloc(w->mk, (size_t)cap * sizeof *nk);
        if (nk) w->mk = nk;
        char **nv = nk ? realloc(w->mv, (size_t)cap * sizeof *nv) : NULL;
        if (nv) w->mv = nv;
        if (!nk || !nv) { free(v); return gs_error(GS_ERR_NOMEM, "safetensors writer: out of memory"); }
        w->capm = cap;
    }
    char *k = strdup(key);
    if (!k) { free(v); return gs_error(GS_ERR_NOMEM, "safetensors writer: out of memory"); }
    w->mk[w->nm] = k;
    w->mv[w->nm] = v;
    w->nm++;
    return GS_OK;
}

/* A growing text buffer; a failed append sets oom and later appends no-op. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} st_buf;

static void buf_add(st_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = 1; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_str(st_buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_json_str(st_buf *b, const char *s) {
    buf_add(b, "\"", 1);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            buf_add(b, esc, 2);
        } else if (*c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            buf_add(b, esc, 6);
        } else {
            buf_add(b, (const char *)c, 1);
        }
    }
    buf_add(b, "\"", 1);
}

static int cmp_wentry(const void *a, const void *b) {
    return strcmp(((const st_wentry *)a)->name, ((const st_wentry *)b)->name);
}

static int cmp_meta_idx(const void *a, const void *b, void *keys) {
    char **k = keys;
    return strcmp(k[*(const int *)a], k[*(const int *)b]);
}

gs_status gs_st_writer_save(gs_st_writer *w, const char *path) {
    if (!w || !path) return gs_error(GS_ERR_INVALID, "safetensors writer: NULL writer or path");
    if (w->n) qsort(w->t, (size_t)w->n, sizeof *w->t, cmp_wentry);
    for (int i = 1; i < w->n; i++)
        if (!strcmp(w->t[i - 1].name, w->t[i].name))
            return gs_error(GS_ERR_INVALID, "%s: duplicate tensor name '%s'", path, w->t[i].name);

    st_buf b = {0};
    char num[64];
    buf_str(&b, "{");
    int first = 1;
    if (w->nm) {
        int *ix = malloc((size_t)w->nm * sizeof *ix);
        if (!ix) return gs_error(GS_ERR_NOMEM, "%s: out of memory", path);
        for (int i = 0; i < w->nm; i++) ix[i] = i;
        qsort_r(ix, (size_t)w->nm, sizeof *ix, cmp_meta_idx, w->mk);
        buf_str(&b, "\"__metadata__\":{");
        for (int i = 0; i < w->nm; i++) {
            if (i) buf_str(&b, ",");
            buf_json_str(&b, w->mk[ix[i]]);
            buf_str(&b, ":");
            buf_json_str(&b, w->mv[ix[i]]);
        }
        buf_str(&b, "}");
        free(ix);
        first = 0;
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const st_wentry *e = &w->t[i];
        if (!first) buf_str(&b, ",");
        first = 0;
        buf_json_str(&b, e->name);
        buf_str(&b, ":{\"dtype\":\"");
        buf_str(&b, gs_dtype_name(e->dtype));
        buf_str(&b, "\",\"shape\":[");
        for (int d = 0; d < e->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)e->shape[d]);
            buf_str(&b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + e->nbytes));
        buf_str(&b, num);
        if (off + e->nbytes < off) {
            free(b.p);
            return gs_error(GS_ERR_INVALID, "%s: total tensor size overflows", path);
        }
        off += e->nbytes;
    }
    buf_str(&b, "}");
    /* pad so that the data section starts 8-byte aligned in the file */
    while (!b.oom && b.len % 8) buf_str(&b, " ");
    if (b.oom) {
        free(b.p);
        return gs_error(GS_ERR_NOMEM, "%s: out of memory building the header", path);
    }
    if (b.len > GS_ST_MAX_HEADER) {
        free(b.p);
        return gs_error(GS_ERR_INVALID, "%s: header of %zu bytes is over the %llu-byte limit", path, b.len,
                        (unsigned long long)GS_ST_MAX_HEADER);
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)b.len >> (8 * i));

    gs_afile a;
    gs_status s = gs_afile_open(&a, path);
    if (!s) s = gs_afile_write(&a, len8, 8);
    if (!s) s = gs_afile_write(&a, b.p, b.len);
    for (int i = 0; i < w->n && !s; i++) s = gs_afile_write(&a, w->t[i].data, w->t[i].nbytes);
    free(b.p);
    if (s) {
        if (a.f) gs_afile_abort(&a);
        return s;
    }
    return gs_afile_commit(&a);
}
