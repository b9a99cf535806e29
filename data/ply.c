/* ply.c - Gaussian splat PLY files: the INRIA 3DGS layout (read and write,
 * properties matched by name so that gsplat/Brush/DA3/2DGS variants load) and
 * the PlayCanvas "compressed PLY" (chunked 11/10/11-bit quantisation, read).
 *
 * Only binary little-endian PLY with scalar properties is accepted: every
 * splat file in the wild is written that way, and it lets the reader check the
 * whole layout against the file size before it allocates anything. */
#include "data/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ply.c reads little-endian data with memcpy; add byte swapping for this host"
#endif

#define PLY_MAX_HEADER 65536
#define PLY_MAX_ELEMS 16
#define PLY_MAX_PROPS 1024 /* over all elements; a degree-4 INRIA file has 89 */
#define PLY_NAME_MAX 64
#define CHUNK_SPLATS 256   /* splats per chunk in compressed PLY */

enum { P_I8, P_U8, P_I16, P_U16, P_I32, P_U32, P_F32, P_F64 };

static const struct { const char *name; int type; } ply_types[] = {
    {"char", P_I8},   {"int8", P_I8},     {"uchar", P_U8},    {"uint8", P_U8},
    {"short", P_I16}, {"int16", P_I16},   {"ushort", P_U16},  {"uint16", P_U16},
    {"int", P_I32},   {"int32", P_I32},   {"uint", P_U32},    {"uint32", P_U32},
    {"float", P_F32}, {"float32", P_F32}, {"double", P_F64},  {"float64", P_F64},
};
static const size_t ply_type_size[] = {1, 1, 2, 2, 4, 4, 4, 8};

typedef struct {
    char name[PLY_NAME_MAX];
    int type;
    size_t offset; /* within the element's row */
} ply_prop;

typedef struct {
    char name[PLY_NAME_MAX];
    uint64_t count;
    int first, nprops; /* range in ply_header.props */
    size_t stride, data_off;
} ply_elem;

typedef struct {
    ply_elem elems[PLY_MAX_ELEMS];
    int nelems;
    ply_prop props[PLY_MAX_PROPS];
    int nprops;
    size_t data_start;
    int antialiased;
} ply_header;

/* A whitespace-separated word of a header line (not NUL-terminated). */
typedef struct { const char *p; size_t n; } tok;

static int tok_is(tok t, const char *s) { return t.n == strlen(s) && !memcmp(t.p, s, t.n); }

/* A printable, bounded copy of a token for error messages. */
static const char *tok_show(tok t, char *buf, size_t cap) {
    size_t n = t.n < cap - 1 ? t.n : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t.p[i];
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    buf[n] = 0;
    return buf;
}

static int tok_name(tok t, char out[PLY_NAME_MAX]) {
    if (t.n == 0 || t.n >= PLY_NAME_MAX) return 0;
    for (size_t i = 0; i < t.n; i++)
        if ((unsigned char)t.p[i] <= 0x20 || (unsigned char)t.p[i] >= 0x7f) return 0;
    memcpy(out, t.p, t.n);
    out[t.n] = 0;
    return 1;
}

static int tok_u64(tok t, uint64_t *out) {
    if (t.n == 0 || t.n > 18) return 0; /* < 10^18: no overflow possible */
    uint64_t v = 0;
    for (size_t i = 0; i < t.n; i++) {
        if (t.p[i] < '0' || t.p[i] > '9') return 0;
        v = v * 10 + (uint64_t)(t.p[i] - '0');
    }
    *out = v;
    return 1;
}

static int split_words(const char *p, size_t n, tok *w, int maxw) {
    int k = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
        if (i >= n) break;
        size_t j = i;
        while (j < n && p[j] != ' ' && p[j] != '\t') j++;
        if (k < maxw) w[k] = (tok){p + i, j - i};
        k++;
        i = j;
    }
    return k;
}

static int find_prop(const ply_header *h, const ply_elem *e, const char *name) {
    for (int i = e->first; i < e->first + e->nprops; i++)
        if (!strcmp(h->props[i].name, name)) return i;
    return -1;
}

static const ply_elem *find_elem(const ply_header *h, const char *name) {
    for (int i = 0; i < h->nelems; i++)
        if (!strcmp(h->elems[i].name, name)) return &h->elems[i];
    return NULL;
}

/* Does a comment mark the scene as trained with the antialiased (mip) filter?
 * Brush/Postshot/gsplat write "antialiased 1"; SuperSplat writes
 * "SplatRenderMode: mip". */
static int comment_antialiased(const tok *w, int nw) {
    if (nw < 3) return 0;
    if (tok_is(w[1], "antialiased")) return tok_is(w[2], "1") || tok_is(w[2], "true");
    if (tok_is(w[1], "SplatRenderMode:")) return tok_is(w[2], "mip");
    return 0;
}

static gs_status parse_header(const uint8_t *data, size_t size, const char *name, ply_header *h) {
    char sh[40];
    if (size < 4 || memcmp(data, "ply", 3) || (data[3] != '\n' && data[3] != '\r'))
        return gs_error(GS_ERR_FORMAT, "%s: not a PLY file (bad magic)", name);
    size_t lim = size < PLY_MAX_HEADER ? size : PLY_MAX_HEADER;
    size_t pos = 0;
    int have_format = 0, line_no = 0;
    ply_elem *cur = NULL;
    for (;;) {
        const uint8_t *nl = memchr(data + pos, '\n', lim - pos);
        if (!nl) {
            if (lim < size)
                return gs_error(GS_ERR_FORMAT, "%s: PLY header has no end_header within %d bytes", name,
                                PLY_MAX_HEADER);
            return gs_error(GS_ERR_FORMAT, "%s: PLY header has no end_header (truncated file?)", name);
        }
        const char *line = (const char *)data + pos;
        size_t len = (size_t)((const char *)nl - line);
        pos += len + 1;
        if (len && line[len - 1] == '\r') len--;
        line_no++;
        tok w[6];
        int nw = split_words(line, len, w, 6);
        if (line_no == 1) {
            if (nw != 1 || !tok_is(w[0], "ply")) return gs_error(GS_ERR_FORMAT, "%s: not a PLY file (bad magic)", name);
            continue;
        }
        if (nw == 0) continue;
        if (tok_is(w[0], "comment")) {
            if (comment_antialiased(w, nw)) h->antialiased = 1;
        } else if (tok_is(w[0], "obj_info")) {
            /* free-form, ignored */
        } else if (tok_is(w[0], "format")) {
            if (nw != 3) return gs_error(GS_ERR_FORMAT, "%s: malformed PLY format line %d", name, line_no);
            if (have_format) return gs_error(GS_ERR_FORMAT, "%s: PLY header has two format lines", name);
            if (tok_is(w[1], "ascii") || tok_is(w[1], "binary_big_endian"))
                return gs_error(GS_ERR_UNSUPPORTED,
                                "%s: PLY format '%s' is not supported (only binary_little_endian 1.0; "
                                "re-save the file as binary little-endian)",
                                name, tok_show(w[1], sh, sizeof sh));
            if (!tok_is(w[1], "binary_little_endian"))
                return gs_error(GS_ERR_FORMAT, "%s: unknown PLY format '%s'", name, tok_show(w[1], sh, sizeof sh));
            if (!tok_is(w[2], "1.0"))
                return gs_error(GS_ERR_UNSUPPORTED, "%s: PLY format version '%s' (only 1.0)", name,
                                tok_show(w[2], sh, sizeof sh));
            have_format = 1;
        } else if (tok_is(w[0], "element")) {
            if (nw != 3) return gs_error(GS_ERR_FORMAT, "%s: malformed PLY element line %d", name, line_no);
            if (h->nelems == PLY_MAX_ELEMS)
                return gs_error(GS_ERR_UNSUPPORTED, "%s: more than %d PLY elements", name, PLY_MAX_ELEMS);
            cur = &h->elems[h->nelems];
            memset(cur, 0, sizeof *cur);
            if (!tok_name(w[1], cur->name))
                return gs_error(GS_ERR_FORMAT, "%s: bad PLY element name on line %d", name, line_no);
            if (find_elem(h, cur->name))
                return gs_error(GS_ERR_FORMAT, "%s: PLY element '%s' declared twice", name, cur->name);
            if (!tok_u64(w[2], &cur->count))
                return gs_error(GS_ERR_FORMAT, "%s: bad count '%s' for PLY element '%s'", name,
                                tok_show(w[2], sh, sizeof sh), cur->name);
            cur->first = h->nprops;
            h->nelems++;
        } else if (tok_is(w[0], "property")) {
            if (!cur) return gs_error(GS_ERR_FORMAT, "%s: PLY property before any element (line %d)", name, line_no);
            if (nw >= 2 && tok_is(w[1], "list"))
                return gs_error(GS_ERR_UNSUPPORTED, "%s: list property '%s' in PLY element '%s' is not supported",
                                name, nw >= 5 ? tok_show(w[4], sh, sizeof sh) : "?", cur->name);
            if (nw != 3) return gs_error(GS_ERR_FORMAT, "%s: malformed PLY property line %d", name, line_no);
            if (h->nprops == PLY_MAX_PROPS)
                return gs_error(GS_ERR_UNSUPPORTED, "%s: more than %d PLY properties", name, PLY_MAX_PROPS);
            ply_prop *p = &h->props[h->nprops];
            p->type = -1;
            for (size_t t = 0; t < sizeof ply_types / sizeof ply_types[0]; t++)
                if (tok_is(w[1], ply_types[t].name)) p->type = ply_types[t].type;
            if (p->type < 0)
                return gs_error(GS_ERR_FORMAT, "%s: unknown PLY property type '%s' on line %d", name,
                                tok_show(w[1], sh, sizeof sh), line_no);
            if (!tok_name(w[2], p->name))
                return gs_error(GS_ERR_FORMAT, "%s: bad PLY property name on line %d", name, line_no);
            if (find_prop(h, cur, p->name) >= 0)
                return gs_error(GS_ERR_FORMAT, "%s: property '%s' declared twice in element '%s'", name, p->name,
                                cur->name);
            p->offset = cur->stride;
            cur->stride += ply_type_size[p->type];
            cur->nprops++;
            h->nprops++;
        } else if (tok_is(w[0], "end_header")) {
            break;
        } else {
            return gs_error(GS_ERR_FORMAT, "%s: unknown PLY header keyword '%s' on line %d", name,
                            tok_show(w[0], sh, sizeof sh), line_no);
        }
    }
    if (!have_format) return gs_error(GS_ERR_FORMAT, "%s: PLY header has no format line", name);
    if (!h->nelems) return gs_error(GS_ERR_FORMAT, "%s: PLY header declares no elements", name);
    h->data_start = pos;
    /* Every element must fit in the bytes that follow; checked before any
     * allocation so that a tiny file declaring 2^40 rows fails at once. */
    size_t off = pos;
    for (int i = 0; i < h->nelems; i++) {
        ply_elem *e = &h->elems[i];
        e->data_off = off;
        size_t avail = size - off;
        if (e->stride && e->count > avail / e->stride)
            return gs_error(GS_ERR_FORMAT,
                            "%s: truncated: PLY element '%s' needs %llu rows of %zu bytes at offset %zu "
                            "but only %zu bytes remain",
                            name, e->name, (unsigned long long)e->count, e->stride, off, avail);
        off += (size_t)e->count * e->stride;
    }
    return GS_OK;
}

static inline double get_val(const uint8_t *p, int type) {
    switch (type) {
    case P_I8: return (double)(int8_t)p[0];
    case P_U8: return (double)p[0];
    case P_I16: { int16_t v; memcpy(&v, p, 2); return v; }
    case P_U16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case P_I32: { int32_t v; memcpy(&v, p, 4); return v; }
    case P_U32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case P_F32: { float v; memcpy(&v, p, 4); return v; }
    default: { double v; memcpy(&v, p, 8); return v; }
    }
}

typedef struct { size_t off; int type; } field;

static gs_status need_prop(const ply_header *h, const ply_elem *e, const char *prop, const char *name, field *f) {
    int i = find_prop(h, e, prop);
    if (i < 0) return gs_error(GS_ERR_FORMAT, "%s: PLY element '%s' has no property '%s'", name, e->name, prop);
    f->off = h->props[i].offset;
    f->type = h->props[i].type;
    return GS_OK;
}

static inline double fget(const uint8_t *row, field f) { return get_val(row + f.off, f.type); }

/* Normalise a quaternion; a zero (or non-finite) one is kept as it is so that
 * gs_scene_count_invalid reports it instead of it turning into a rotation. */
static void put_quat(float *out, double w, double x, double y, double z) {
    double nn = w * w + x * x + y * y + z * z;
    if (nn > 0 && isfinite(nn)) {
        double r = 1.0 / sqrt(nn);
        w *= r; x *= r; y *= r; z *= r;
    }
    out[0] = (float)w; out[1] = (float)x; out[2] = (float)y; out[3] = (float)z;
}

static int rest_degree(uint64_t m) {
    switch (m) {
    case 0: return 0;
    case 9: return 1;
    case 24: return 2;
    case 45: return 3;
    case 72: return 4;
    default: return -1;
    }
}

/* f_rest_* property count of an element; -1 when a name in 0..m-1 is missing. */
static int count_rest(const ply_header *h, const ply_elem *e, int *missing) {
    int m = 0;
    for (int i = e->first; i < e->first + e->nprops; i++)
        if (!strncmp(h->props[i].name, "f_rest_", 7)) m++;
    *missing = -1;
    char nm[32];
    for (int j = 0; j < m; j++) {
        snprintf(nm, sizeof nm, "f_rest_%d", j);
        if (find_prop(h, e, nm) < 0) { *missing = j; break; }
    }
    return m;
}

/* A vertex element with x y z and none of the Gaussian properties. */
static int is_pointcloud(const ply_header *h, const ply_elem *v) {
    static const char *gauss[] = {"f_dc_0", "opacity", "scale_0", "rot_0"};
    for (int i = 0; i < 4; i++)
        if (find_prop(h, v, gauss[i]) >= 0) return 0;
    return find_prop(h, v, "x") >= 0 && find_prop(h, v, "y") >= 0 && find_prop(h, v, "z") >= 0;
}

/* A point cloud (points.ply, MeshLab/Open3D/COLMAP exports) as isotropic
 * Gaussians (gs_scene_from_points); colour from red/green/blue (8/16-bit
 * integers scaled to [0,1], floats taken as [0,1]), white without them. */
static gs_status read_points(const uint8_t *data, const ply_header *h, const ply_elem *v, const char *name,
                             gs_scene *s) {
    static const char *pos[3] = {"x", "y", "z"}, *col[3] = {"red", "green", "blue"};
    field fp[3], fc[3];
    for (int c = 0; c < 3; c++) need_prop(h, v, pos[c], name, &fp[c]);
    int has_rgb = 1;
    for (int c = 0; c < 3; c++)
        if (find_prop(h, v, col[c]) < 0) has_rgb = 0;
    if (has_rgb)
        for (int c = 0; c < 3; c++) need_prop(h, v, col[c], name, &fc[c]);
    if (v->count > (uint64_t)GS_SCENE_MAX_SPLATS)
        return gs_error(GS_ERR_NOMEM, "%s: %llu points is over the limit of %lld", name, (unsigned long long)v->count,
                        (long long)GS_SCENE_MAX_SPLATS);
    const size_t n = (size_t)v->count;
    float *xyz = gs_malloc(n ? n : 1, 3 * sizeof(float), "point cloud");
    float *rgb = has_rgb ? gs_malloc(n ? n : 1, 3 * sizeof(float), "point colours") : NULL;
    if (!xyz || (has_rgb && !rgb)) { free(xyz); free(rgb); return gs_error_prefix(GS_ERR_NOMEM, "%s", name); }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *r = data + v->data_off + i * v->stride;
        for (int c = 0; c < 3; c++) {
            xyz[3 * i + c] = (float)fget(r, fp[c]);
            if (!has_rgb) continue;
            double cv = fget(r, fc[c]);
            rgb[3 * i + c] = (float)(fc[c].type == P_U8 ? cv / 255.0 : fc[c].type == P_U16 ? cv / 65535.0 : cv);
        }
    }
    gs_status st = gs_scene_from_points(xyz, rgb, (int64_t)n, name, s);
    free(xyz);
    free(rgb);
    return st;
}

static gs_status read_inria(const uint8_t *data, const ply_header *h, const char *name, gs_scene *s) {
    const ply_elem *v = find_elem(h, "vertex");
    if (!v) return gs_error(GS_ERR_FORMAT, "%s: PLY file has no 'vertex' element", name);
    if (is_pointcloud(h, v)) return read_points(data, h, v, name, s);
    static const char *req[] = {"x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                                "scale_0", "scale_1", "rot_0", "rot_1", "rot_2", "rot_3"};
    enum { NREQ = 13 };
    field f[NREQ], fs2 = {0, 0};
    for (int i = 0; i < NREQ; i++) {
        gs_status st = need_prop(h, v, req[i], name, &f[i]);
        if (st) return st;
    }
    /* 2DGS files have no scale_2: their splats are flat discs. */
    int has_s2 = find_prop(h, v, "scale_2") >= 0;
    if (has_s2) need_prop(h, v, "scale_2", name, &fs2);
    int missing;
    int m = count_rest(h, v, &missing);
    int fdeg = rest_degree((uint64_t)m);
    if (fdeg < 0)
        return gs_error(GS_ERR_FORMAT, "%s: %d f_rest_* properties (expected 0, 9, 24, 45 or 72)", name, m);
    if (missing >= 0) return gs_error(GS_ERR_FORMAT, "%s: PLY element 'vertex' has no property 'f_rest_%d'", name, missing);
    int deg = fdeg > GS_SH_MAX_DEGREE ? GS_SH_MAX_DEGREE : fdeg; /* degree 4 bands are dropped */
    int kf = gs_sh_coeffs(fdeg), k = gs_sh_coeffs(deg);
    field rest[3 * 15];
    char nm[32];
    /* channel-major on disk: f_rest_{c*(kf-1) + (j-1)} */
    for (int c = 0; c < 3; c++)
        for (int j = 1; j < k; j++) {
            snprintf(nm, sizeof nm, "f_rest_%d", c * (kf - 1) + (j - 1));
            need_prop(h, v, nm, name, &rest[(j - 1) * 3 + c]);
        }
    gs_status st = gs_scene_alloc(s, (int64_t)v->count, deg);
    if (st) return gs_error_prefix(st, "%s", name);
    s->antialiased = h->antialiased;
    const uint8_t *base = data + v->data_off;
    const size_t stride = v->stride;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < s->n; i++) {
        const uint8_t *r = base + (size_t)i * stride;
        for (int c = 0; c < 3; c++) s->means[3 * i + c] = (float)fget(r, f[c]);
        float *sh = s->sh + (size_t)i * k * 3;
        for (int c = 0; c < 3; c++) sh[c] = (float)fget(r, f[3 + c]);
        for (int q = 0; q < (k - 1) * 3; q++) sh[3 + q] = (float)fget(r, rest[q]);
        s->opacities[i] = (float)(1.0 / (1.0 + exp(-fget(r, f[6]))));
        double s0 = exp(fget(r, f[7])), s1 = exp(fget(r, f[8]));
        double s2 = has_s2 ? exp(fget(r, fs2)) : 1e-3 * (s0 < s1 ? s0 : s1);
        s->scales[3 * i + 0] = (float)s0;
        s->scales[3 * i + 1] = (float)s1;
        s->scales[3 * i + 2] = (float)s2;
        put_quat(s->rotations + 4 * i, fget(r, f[9]), fget(r, f[10]), fget(r, f[11]), fget(r, f[12]));
    }
    return GS_OK;
}

/* ---- PlayCanvas compressed PLY ---------------------------------------------- */

static inline double unorm(uint32_t v, int bits) {
    uint32_t m = (1u << bits) - 1;
    return (double)(v & m) / (double)m;
}
static inline double lerp(double a, double b, double t) { return a * (1 - t) + b * t; }

static gs_status need_u32(const ply_header *h, const ply_elem *e, const char *prop, const char *name, field *f) {
    gs_status st = need_prop(h, e, prop, name, f);
    if (st) return st;
    if (f->type != P_U32 && f->type != P_I32)
        return gs_error(GS_ERR_FORMAT, "%s: compressed PLY property '%s' must be a 32-bit uint", name, prop);
    return GS_OK;
}

static inline uint32_t get_u32(const uint8_t *row, field f) {
    uint32_t v;
    memcpy(&v, row + f.off, 4);
    return v;
}

static gs_status read_compressed(const uint8_t *data, const ply_header *h, const char *name, gs_scene *s) {
    static const char *cnames[18] = {"min_x", "min_y", "min_z", "max_x", "max_y", "max_z",
                                     "min_scale_x", "min_scale_y", "min_scale_z",
                                     "max_scale_x", "max_scale_y", "max_scale_z",
                                     "min_r", "min_g", "min_b", "max_r", "max_g", "max_b"};
    const ply_elem *ch = find_elem(h, "chunk"), *v = find_elem(h, "vertex"), *she = find_elem(h, "sh");
    if (!v) return gs_error(GS_ERR_FORMAT, "%s: compressed PLY has no 'vertex' element", name);
    field cf[18], pf[4];
    int has_color = find_prop(h, ch, "min_r") >= 0;
    int ncf = has_color ? 18 : 12;
    gs_status st;
    for (int i = 0; i < ncf; i++)
        if ((st = need_prop(h, ch, cnames[i], name, &cf[i]))) return st;
    static const char *pnames[4] = {"packed_position", "packed_rotation", "packed_scale", "packed_color"};
    for (int i = 0; i < 4; i++)
        if ((st = need_u32(h, v, pnames[i], name, &pf[i]))) return st;
    uint64_t n = v->count;
    uint64_t want_chunks = (n + CHUNK_SPLATS - 1) / CHUNK_SPLATS;
    if (ch->count != want_chunks)
        return gs_error(GS_ERR_FORMAT, "%s: chunk count mismatch: %llu chunks for %llu splats (expected %llu)", name,
                        (unsigned long long)ch->count, (unsigned long long)n, (unsigned long long)want_chunks);
    int deg = 0, m = 0;
    field rest[45];
    if (she) {
        int missing;
        m = count_rest(h, she, &missing);
        deg = rest_degree((uint64_t)m);
        if (deg < 1 || deg > 3)
            return gs_error(GS_ERR_FORMAT, "%s: compressed PLY 'sh' element has %d f_rest_* properties (expected 9, 24 or 45)",
                            name, m);
        if (missing >= 0) return gs_error(GS_ERR_FORMAT, "%s: PLY element 'sh' has no property 'f_rest_%d'", name, missing);
        if (she->count != n)
            return gs_error(GS_ERR_FORMAT, "%s: compressed PLY 'sh' element has %llu rows for %llu splats", name,
                            (unsigned long long)she->count, (unsigned long long)n);
        char nm[32];
        for (int j = 0; j < m; j++) {
            snprintf(nm, sizeof nm, "f_rest_%d", j);
            need_prop(h, she, nm, name, &rest[j]);
            if (rest[j].type != P_U8)
                return gs_error(GS_ERR_FORMAT, "%s: compressed PLY property '%s' must be uchar", name, nm);
        }
    }
    if ((st = gs_scene_alloc(s, (int64_t)n, deg))) return gs_error_prefix(st, "%s", name);
    float *ctab = gs_malloc((size_t)(ch->count ? ch->count : 1), 18 * sizeof(float), "compressed PLY chunks");
    if (!ctab) { gs_scene_free(s); return gs_error_prefix(GS_ERR_NOMEM, "%s", name); }
    for (uint64_t c = 0; c < ch->count; c++) {
        const uint8_t *row = data + ch->data_off + c * ch->stride;
        for (int i = 0; i < 18; i++)
            ctab[c * 18 + i] = i < ncf ? (float)fget(row, cf[i]) : (i < 15 ? 0.0f : 1.0f);
    }
    const int k = gs_sh_coeffs(deg);
    const double rnorm = 1.0 / (sqrt(2.0) * 0.5);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < (int64_t)n; i++) {
        const float *cb = ctab + (size_t)(i / CHUNK_SPLATS) * 18;
        const uint8_t *row = data + v->data_off + (size_t)i * v->stride;
        uint32_t pp = get_u32(row, pf[0]), pr = get_u32(row, pf[1]), ps = get_u32(row, pf[2]), pc = get_u32(row, pf[3]);
        double tp[3] = {unorm(pp >> 21, 11), unorm(pp >> 11, 10), unorm(pp, 11)};
        double ts[3] = {unorm(ps >> 21, 11), unorm(ps >> 11, 10), unorm(ps, 11)};
        for (int a = 0; a < 3; a++) {
            s->means[3 * i + a] = (float)lerp(cb[a], cb[3 + a], tp[a]);
            /* the log scale is a float32 column in splat-transform before exp */
            s->scales[3 * i + a] = (float)exp((double)(float)lerp(cb[6 + a], cb[9 + a], ts[a]));
        }
        /* smallest three: the 2-bit index says which of (w,x,y,z) was dropped */
        double a3[3] = {(unorm(pr >> 20, 10) - 0.5) * rnorm, (unorm(pr >> 10, 10) - 0.5) * rnorm,
                        (unorm(pr, 10) - 0.5) * rnorm};
        double big = sqrt(fmax(0.0, 1.0 - (a3[0] * a3[0] + a3[1] * a3[1] + a3[2] * a3[2])));
        int which = (int)(pr >> 30);
        double q[4];
        for (int j = 0, t = 0; j < 4; j++) q[j] = j == which ? big : a3[t++];
        put_quat(s->rotations + 4 * i, q[0], q[1], q[2], q[3]);
        double col[4] = {unorm(pc >> 24, 8), unorm(pc >> 16, 8), unorm(pc >> 8, 8), unorm(pc, 8)};
        float *sh = s->sh + (size_t)i * k * 3;
        for (int c = 0; c < 3; c++) {
            double cv = lerp(cb[12 + c], cb[15 + c], col[c]);
            sh[c] = (float)((cv - 0.5) / (double)GS_SH_C0);
        }
        s->opacities[i] = (float)col[3];
        if (deg) {
            const uint8_t *srow = data + she->data_off + (size_t)i * she->stride;
            for (int c = 0; c < 3; c++)
                for (int j = 1; j < k; j++) {
                    uint8_t b = srow[rest[c * (k - 1) + (j - 1)].off];
                    double t = b == 0 ? 0.0 : b == 255 ? 1.0 : (b + 0.5) / 256.0;
                    sh[j * 3 + c] = (float)((t - 0.5) * 8.0);
                }
        }
    }
    free(ctab);
    return GS_OK;
}

gs_status gs_ply_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s) {
    memset(s, 0, sizeof *s);
    if (!name) name = "(ply)";
    if (!data && size) return gs_error(GS_ERR_INVALID, "%s: no data", name);
    ply_header *h = gs_calloc(1, sizeof *h, "PLY header");
    if (!h) return GS_ERR_NOMEM;
    gs_status st = parse_header(data, size, name, h);
    if (!st) st = find_elem(h, "chunk") ? read_compressed(data, h, name, s) : read_inria(data, h, name, s);
    free(h);
    if (st) gs_scene_free(s);
    return st;
}

int gs_ply_is_pointcloud(const uint8_t *data, size_t size) {
    ply_header *h = gs_calloc(1, sizeof *h, "PLY header");
    if (!h) return 0;
    int r = 0;
    /* a bad header is reported again by the reader */
    if (parse_header(data, size, "(ply)", h) == GS_OK && !find_elem(h, "chunk")) {
        const ply_elem *v = find_elem(h, "vertex");
        r = v && is_pointcloud(h, v);
    }
    free(h);
    return r;
}

/* ---- writer ---------------------------------------------------------------- */

gs_status gs_ply_write(const char *path, const gs_scene *s) {
    int64_t *idx, nv;
    gs_status st = gs_scene_writable(s, path, &idx, &nv);
    if (st) return st;
    const int k = gs_sh_coeffs(s->sh_degree), nrest = 3 * (k - 1);
    const int nf = 3 + 3 + 3 + nrest + 1 + 3 + 4;
    char hdr[4096];
    size_t hl = 0;
#define HDR(...) hl += (size_t)snprintf(hdr + hl, sizeof hdr - hl, __VA_ARGS__)
    HDR("ply\nformat binary_little_endian 1.0\n");
    if (s->antialiased) HDR("comment antialiased 1\n");
    HDR("element vertex %lld\n", (long long)nv);
    static const char *head[] = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"};
    for (int i = 0; i < 9; i++) HDR("property float %s\n", head[i]);
    for (int i = 0; i < nrest; i++) HDR("property float f_rest_%d\n", i);
    static const char *tail[] = {"opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"};
    for (int i = 0; i < 8; i++) HDR("property float %s\n", tail[i]);
    HDR("end_header\n");
#undef HDR
    enum { BLOCK = 4096 };
    float *buf = gs_malloc((size_t)BLOCK * nf, sizeof(float), "PLY write buffer");
    if (!buf) { free(idx); return gs_error_prefix(GS_ERR_NOMEM, "%s", path); }
    gs_afile a;
    st = gs_afile_open(&a, path);
    if (st) { free(buf); free(idx); return st; }
    st = gs_afile_write(&a, hdr, hl);
    /* keep logits finite for fully transparent/opaque splats */
    const float olo = 1e-6f, ohi = 1.0f - 1e-6f;
    for (int64_t b0 = 0; !st && b0 < nv; b0 += BLOCK) {
        int64_t nb = nv - b0 < BLOCK ? nv - b0 : BLOCK;
        for (int64_t j = 0; j < nb; j++) {
            int64_t i = idx ? idx[b0 + j] : b0 + j;
            float *o = buf + j * nf;
            const float *sh = s->sh + (size_t)i * k * 3;
            for (int c = 0; c < 3; c++) { o[c] = s->means[3 * i + c]; o[3 + c] = 0.0f; o[6 + c] = sh[c]; }
            for (int c = 0; c < 3; c++)
                for (int q = 1; q < k; q++) o[9 + c * (k - 1) + (q - 1)] = sh[q * 3 + c];
            float *t = o + 9 + nrest;
            float op = s->opacities[i];
            op = op < olo ? olo : op > ohi ? ohi : op;
            t[0] = (float)log((double)op / (1.0 - (double)op));
            for (int c = 0; c < 3; c++) t[1 + c] = (float)log((double)s->scales[3 * i + c]);
            for (int c = 0; c < 4; c++) t[4 + c] = s->rotations[4 * i + c];
        }
        st = gs_afile_write(&a, buf, (size_t)nb * nf * sizeof(float));
    }
    free(buf);
    free(idx);
    if (st) { gs_afile_abort(&a); return st; }
    return gs_afile_commit(&a);
}

gs_status gs_pointcloud_write_ply(const char *path, const float *xyz, const uint8_t *rgb, int64_t n) {
    if (n < 0 || (n && !xyz)) return gs_error(GS_ERR_INVALID, "%s: invalid point cloud", path);
    char hdr[512];
    int hl = snprintf(hdr, sizeof hdr,
                      "ply\nformat binary_little_endian 1.0\ncomment written by gs\nelement vertex %lld\n"
                      "property float x\nproperty float y\nproperty float z\n%s"
                      "end_header\n",
                      (long long)n,
                      rgb ? "property uchar red\nproperty uchar green\nproperty uchar blue\n" : "");
    const size_t rec = 12 + (rgb ? 3 : 0);
    enum { BLOCK = 8192 };
    uint8_t *buf = gs_malloc(BLOCK, rec, "point cloud write buffer");
    if (!buf) return gs_error_prefix(GS_ERR_NOMEM, "%s", path);
    gs_afile a;
    gs_status st = gs_afile_open(&a, path);
    if (st) { free(buf); return st; }
    st = gs_afile_write(&a, hdr, (size_t)hl);
    for (int64_t b0 = 0; !st && b0 < n; b0 += BLOCK) {
        int64_t nb = n - b0 < BLOCK ? n - b0 : BLOCK;
        for (int64_t j = 0; j < nb; j++) {
            uint8_t *o = buf + (size_t)j * rec;
            memcpy(o, xyz + 3 * (b0 + j), 12);
            if (rgb) memcpy(o + 12, rgb + 3 * (b0 + j), 3);
        }
        st = gs_afile_write(&a, buf, (size_t)nb * rec);
    }
    free(buf);
    if (st) { gs_afile_abort(&a); return st; }
    return gs_afile_commit(&a);
}
