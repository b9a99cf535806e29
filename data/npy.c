/* npy.c - NumPy .npy arrays (e.g. LLFF poses_bounds.npy): a strict reader for
 * format versions 1.0-3.0 and an atomic version-1.0 writer.
 *
 * The header is a Python dict literal. Rather than evaluate Python we accept
 * only what numpy itself writes: exactly the keys 'descr', 'fortran_order' and
 * 'shape' (any order, each once, optional trailing comma), quoted strings
 * without escapes, True/False, and a tuple of decimal integers (a one-element
 * tuple needs its comma, as in Python). Everything else is a format error, so
 * a file that loads here is one numpy would load the same way. */
#include "data/npy.h"

#include <stdlib.h>
#include <string.h>

#define NPY_MAGIC "\x93NUMPY"

typedef struct {
    const char *p, *end, *name;
} npy_parser;

static void skip_ws(npy_parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int peek(const npy_parser *ps) { return ps->p < ps->end ? (unsigned char)*ps->p : -1; }

static gs_status expect(npy_parser *ps, char c, const char *where) {
    skip_ws(ps);
    if (peek(ps) != c) return gs_error(GS_ERR_FORMAT, "%s: header: expected '%c' %s", ps->name, c, where);
    ps->p++;
    return GS_OK;
}

/* A quoted string without escapes, at most cap-1 bytes. */
static gs_status parse_str(npy_parser *ps, char *out, size_t cap, const char *what) {
    skip_ws(ps);
    int q = peek(ps);
    if (q != '\'' && q != '"') return gs_error(GS_ERR_FORMAT, "%s: header: expected a quoted %s", ps->name, what);
    ps->p++;
    size_t n = 0;
    for (;;) {
        int c = peek(ps);
        if (c < 0 || c == '\n') return gs_error(GS_ERR_FORMAT, "%s: header: unterminated %s", ps->name, what);
        if (c == '\\') return gs_error(GS_ERR_FORMAT, "%s: header: escape sequence in %s", ps->name, what);
        ps->p++;
        if (c == q) break;
        if (n + 1 >= cap) return gs_error(GS_ERR_FORMAT, "%s: header: %s is too long", ps->name, what);
        out[n++] = (char)c;
    }
    out[n] = 0;
    return GS_OK;
}

static int match_word(npy_parser *ps, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n)) return 0;
    /* "Falsey" is not False */
    if ((size_t)(ps->end - ps->p) > n) {
        char c = ps->p[n];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') return 0;
    }
    ps->p += n;
    return 1;
}

static gs_status parse_int(npy_parser *ps, int64_t *out, int idx) {
    skip_ws(ps);
    int c = peek(ps);
    if (c < '0' || c > '9')
        return gs_error(GS_ERR_FORMAT, "%s: header: shape entry %d is not a non-negative integer", ps->name, idx);
    if (c == '0' && ps->p + 1 < ps->end && ps->p[1] >= '0' && ps->p[1] <= '9')
        return gs_error(GS_ERR_FORMAT, "%s: header: shape entry %d has a leading zero", ps->name, idx);
    int64_t v = 0;
    while ((c = peek(ps)) >= '0' && c <= '9') {
        if (v > (INT64_MAX - (c - '0')) / 10)
            return gs_error(GS_ERR_FORMAT, "%s: header: shape entry %d overflows", ps->name, idx);
        v = v * 10 + (c - '0');
        ps->p++;
    }
    *out = v;
    return GS_OK;
}

static gs_status parse_shape(npy_parser *ps, int *ndim, int64_t *shape) {
    gs_status s;
    if ((s = expect(ps, '(', "to open the shape tuple"))) return s;
    int n = 0, commas = 0;
    skip_ws(ps);
    while (peek(ps) != ')') {
        if (n == GS_MAX_DIMS)
            return gs_error(GS_ERR_UNSUPPORTED, "%s: header: shape has more than %d dimensions", ps->name, GS_MAX_DIMS);
        if ((s = parse_int(ps, &shape[n], n))) return s;
        n++;
        skip_ws(ps);
        if (peek(ps) == ',') {
            ps->p++;
            commas++;
            skip_ws(ps);
        } else if (peek(ps) != ')') {
            return gs_error(GS_ERR_FORMAT, "%s: header: expected ',' or ')' in the shape tuple", ps->name);
        }
    }
    ps->p++;
    if (n == 1 && commas == 0)
        return gs_error(GS_ERR_FORMAT, "%s: header: shape '(n)' is not a tuple (needs a comma: '(n,)')", ps->name);
    *ndim = n;
    return GS_OK;
}

typedef struct {
    const char *descr;
    gs_dtype dtype;
} npy_descr;

static const npy_descr k_descr[] = {
    {"<f4", GS_F32}, {"<f8", GS_F64}, {"<i4", GS_I32}, {"<i8", GS_I64},
    {"|u1", GS_U8},  {"<u1", GS_U8},  {"|b1", GS_BOOL},
};

gs_status gs_npy_read_mem(const uint8_t *data, size_t size, const char *name, gs_tensor *out) {
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (!data && size) return gs_error(GS_ERR_INVALID, "%s: NULL buffer", name);
    if (size < 10) return gs_error(GS_ERR_FORMAT, "%s: file is %zu bytes, too short for a .npy file", name, size);
    if (memcmp(data, NPY_MAGIC, 6)) return gs_error(GS_ERR_FORMAT, "%s: not a .npy file (bad magic)", name);
    int major = data[6], minor = data[7];
    size_t hstart, hlen;
    if (major == 1 && minor == 0) {
        hstart = 10;
        hlen = (size_t)data[8] | (size_t)data[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (size < 12) return gs_error(GS_ERR_FORMAT, "%s: file is %zu bytes, too short for a .npy v%d header", name, size, major);
        hstart = 12;
        hlen = (size_t)data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 | (size_t)data[11] << 24;
    } else {
        return gs_error(GS_ERR_UNSUPPORTED, "%s: .npy format version %d.%d (supported: 1.0, 2.0, 3.0)", name, major, minor);
    }
    if (hlen > size - hstart)
        return gs_error(GS_ERR_FORMAT, "%s: header length %zu runs past the end of the file (%zu bytes)", name, hlen, size);

    npy_parser ps = {(const char *)data + hstart, (const char *)data + hstart + hlen, name};
    char descr[32] = "", key[32];
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, ndim = 0;
    int64_t shape[GS_MAX_DIMS] = {0};
    gs_status s;
    if ((s = expect(&ps, '{', "at the start of the header dict"))) return s;
    skip_ws(&ps);
    while (peek(&ps) != '}') {
        if ((s = parse_str(&ps, key, sizeof key, "dict key"))) return s;
        if ((s = expect(&ps, ':', "after a dict key"))) return s;
        if (!strcmp(key, "descr")) {
            if (have_descr++) return gs_error(GS_ERR_FORMAT, "%s: header: 'descr' appears twice", name);
            if ((s = parse_str(&ps, descr, sizeof descr, "'descr'"))) return s;
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fortran++) return gs_error(GS_ERR_FORMAT, "%s: header: 'fortran_order' appears twice", name);
            skip_ws(&ps);
            if (match_word(&ps, "True")) fortran = 1;
            else if (match_word(&ps, "False")) fortran = 0;
            else return gs_error(GS_ERR_FORMAT, "%s: header: 'fortran_order' is not True or False", name);
        } else if (!strcmp(key, "shape")) {
            if (have_shape++) return gs_error(GS_ERR_FORMAT, "%s: header: 'shape' appears twice", name);
            if ((s = parse_shape(&ps, &ndim, shape))) return s;
        } else {
            return gs_error(GS_ERR_FORMAT, "%s: header: unexpected key '%s'", name, key);
        }
        skip_ws(&ps);
        if (peek(&ps) == ',') {
            ps.p++;
            skip_ws(&ps);
        } else if (peek(&ps) != '}') {
            return gs_error(GS_ERR_FORMAT, "%s: header: expected ',' or '}' after the value of '%s'", name, key);
        }
    }
    ps.p++;
    skip_ws(&ps);
    if (ps.p != ps.end)
        return gs_error(GS_ERR_FORMAT, "%s: header: unexpected text after the dict (at byte %zu)", name,
                        (size_t)(ps.p - (const char *)data));
    if (!have_descr) return gs_error(GS_ERR_FORMAT, "%s: header lacks 'descr'", name);
    if (!have_fortran) return gs_error(GS_ERR_FORMAT, "%s: header lacks 'fortran_order'", name);
    if (!have_shape) return gs_error(GS_ERR_FORMAT, "%s: header lacks 'shape'", name);

    int found = -1;
    for (size_t i = 0; i < sizeof k_descr / sizeof *k_descr; i++)
        if (!strcmp(descr, k_descr[i].descr)) found = (int)i;
    if (found < 0) {
        if (descr[0] == '>')
            return gs_error(GS_ERR_UNSUPPORTED, "%s: big-endian dtype '%s' is not supported", name, descr);
        return gs_error(GS_ERR_UNSUPPORTED, "%s: dtype '%s' is not supported (<f4 <f8 <i4 <i8 |u1 |b1)", name, descr);
    }
    if (fortran)
        return gs_error(GS_ERR_UNSUPPORTED, "%s: Fortran-order (column-major) arrays are not supported", name);
    gs_dtype dt = k_descr[found].dtype;

    size_t nbytes = gs_dtype_size(dt);
    for (int i = 0; i < ndim; i++)
        if (!gs_mul_ok(nbytes, (size_t)shape[i], &nbytes))
            return gs_error(GS_ERR_FORMAT, "%s: shape overflows", name);
    size_t payload = size - hstart - hlen;
    if (payload != nbytes)
        return gs_error(GS_ERR_FORMAT, "%s: data is %zu bytes but shape and dtype '%s' need %zu (%s)", name, payload,
                        descr, nbytes, payload < nbytes ? "truncated" : "trailing bytes");
    if ((s = gs_tensor_alloc(out, dt, ndim, shape))) return gs_error_prefix(s, "%s", name);
    if (nbytes) memcpy(out->data, data + hstart + hlen, nbytes);
    return GS_OK;
}

gs_status gs_npy_read(const char *path, gs_tensor *out) {
    memset(out, 0, sizeof *out);
    gs_mmap m;
    gs_status s = gs_mmap_open(&m, path);
    if (s) return s;
    s = gs_npy_read_mem(m.data, m.size, path, out);
    gs_mmap_close(&m);
    return s;
}

gs_status gs_npy_write(const char *path, const gs_tensor *t) {
    if (!path || !t) return gs_error(GS_ERR_INVALID, "npy writer: NULL path or tensor");
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof k_descr / sizeof *k_descr && !descr; i++)
        if (k_descr[i].dtype == t->dtype) descr = k_descr[i].descr;
    if (!descr)
        return gs_error(GS_ERR_UNSUPPORTED, "%s: cannot write %s tensors as .npy (F32 F64 I32 I64 U8 BOOL)", path,
                        gs_dtype_name(t->dtype));
    if (t->ndim < 0 || t->ndim > GS_MAX_DIMS) return gs_error(GS_ERR_INVALID, "%s: bad rank %d", path, t->ndim);

    char shp[GS_MAX_DIMS * 24 + 8];
    size_t n = 0;
    size_t nbytes = gs_dtype_size(t->dtype);
    shp[n++] = '(';
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0) return gs_error(GS_ERR_INVALID, "%s: negative dimension %lld", path, (long long)t->shape[i]);
        if (!gs_mul_ok(nbytes, (size_t)t->shape[i], &nbytes)) return gs_error(GS_ERR_INVALID, "%s: shape overflows", path);
        n += (size_t)snprintf(shp + n, sizeof shp - n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
    }
    if (t->ndim == 1) shp[n++] = ',';
    shp[n++] = ')';
    shp[n] = 0;
    if (nbytes && !t->data) return gs_error(GS_ERR_INVALID, "%s: tensor has no data", path);

    /* Laid out like numpy.save: spare spaces so the first axis can grow to
     * 21 digits in place, then spaces and a newline so the data starts at a
     * multiple of 64 (always at least one space of padding). */
    char hdr[512];
    int hl = snprintf(hdr + 10, sizeof hdr - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shp);
    if (hl < 0 || (size_t)hl + 10 + 21 + 64 + 1 > sizeof hdr) return gs_error(GS_ERR_INVALID, "%s: header too long", path);
    size_t len = 10 + (size_t)hl;
    if (t->ndim > 0) {
        char first[24];
        int digits = snprintf(first, sizeof first, "%lld", (long long)t->shape[0]);
        for (int i = digits; i < 21; i++) hdr[len++] = ' ';
    }
    size_t total = len + 1 + (64 - (len + 1) % 64);
    memcpy(hdr, NPY_MAGIC "\x01\x00", 8);
    for (size_t i = len; i < total - 1; i++) hdr[i] = ' ';
    hdr[total - 1] = '\n';
    hdr[8] = (char)((total - 10) & 0xff);
    hdr[9] = (char)((total - 10) >> 8);

    gs_afile a;
    gs_status s = gs_afile_open(&a, path);
    if (!s) s = gs_afile_write(&a, hdr, total);
    if (!s) s = gs_afile_write(&a, t->data, nbytes);
    if (s) {
        if (a.f) gs_afile_abort(&a);
        return s;
    }
    return gs_afile_commit(&a);
}
