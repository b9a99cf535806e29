/* spz.c - Niantic .spz splat files.
 *
 * Read: v1-v3 (one gzip member holding a 16-byte header and the attribute
 * blocks; v4 inside gzip is accepted too, as the reference loader does) and v4
 * (plain 32-byte NGSP header, optional extension records, a table of contents
 * and one zstd stream per attribute). Write: v2/v3 gzip (v3 by default, see
 * GS_SPZ_DEFAULT_VERSION) or v4; invalid splats are left out.
 * Semantics follow nianticlabs/spz src/cc/load-spz.cc: the file stores RUB
 * axes and we convert to our RDF world exactly as UnpackOptions{to=RDF} and
 * PackOptions{from=RDF} do (flip y,z of positions; negate quaternion y,z;
 * negate the SH coefficients that are odd in y xor z).
 *
 * Trailing data: bytes after the last v4 stream are rejected (as the
 * reference does); bytes after the gzip member of a legacy file are ignored
 * (zlib stops at the member end, as in the reference), and up to 1 MiB of
 * decompressed data after the attribute blocks is accepted (it holds
 * extension records when flags & 2). */
#include "data/scene.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#define SPZ_MAGIC 0x5053474eu /* "NGSP" little-endian */
#define SPZ_COLOR_SCALE 0.15f
#define SPZ_SQRT1_2 0.70710678118654752f
#define SPZ_FLAG_ANTIALIASED 0x1
#define SPZ_FLAG_EXTENSIONS 0x2
#define SPZ_EXT_COORDINATE_SYSTEM 0xADBE0003u
#define SPZ_CS_RUB 4
#define SPZ_CS_RDF 6
#define SPZ_WRITE_FRAC_BITS 12
#define SPZ_ZSTD_LEVEL 12
/* A zstd block holds at most 128 KiB and costs at least 4 bytes (an RLE
 * block), so no zstd stream expands more than 32768-fold; deflate's limit is
 * 1032-fold (258-byte matches at 2 bits each). Declared sizes beyond these
 * cannot be genuine, which lets tiny files with huge counts fail before any
 * allocation. */
#define SPZ_ZSTD_MAX_RATIO 32768u
#define SPZ_DEFLATE_MAX_RATIO 1032u
#define SPZ_LEGACY_MAX_EXTRA ((size_t)1 << 20)

enum { ST_POS, ST_ALPHA, ST_COLOR, ST_SCALE, ST_ROT, ST_SH, ST_COUNT };
static const char *const stream_names[ST_COUNT] = {"positions", "alphas", "colors", "scales", "rotations", "sh"};

typedef struct {
    int version;
    int file_degree; /* 0..4 as stored */
    int frac_bits;
    int flags;
    int64_t n;
    int coord;          /* stored coordinate system (CoordinateSystem enum), RUB unless an extension says otherwise */
    size_t size[ST_COUNT]; /* bytes of each attribute block */
} spz_layout;

typedef struct {
    float p[3], q[3], sh[15];
} spz_flips;

static inline uint32_t rd_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd_u64(const uint8_t *p) { return (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32; }
static inline void wr_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void wr_u64(uint8_t *p, uint64_t v) {
    wr_u32(p, (uint32_t)v);
    wr_u32(p + 4, (uint32_t)(v >> 32));
}

static int file_sh_dim(int degree) { return degree <= 0 ? 0 : (degree + 1) * (degree + 1) - 1; }

/* Per-axis sign flips between two coordinate systems of the same family
 * (CoordinateSystem values 1..8, bit 0 = left/right, bit 1 = down/up, bit 2 =
 * back/front); the conversion is an involution, so one table serves both
 * directions. Quaternion xyz flip by the product of the other two axes; an SH
 * basis function flips by the product of the axes it is odd in. */
static void spz_make_flips(int a, int b, spz_flips *f) {
    int d = (a - 1) ^ (b - 1);
    float x = (d & 1) ? -1.0f : 1.0f, y = (d & 2) ? -1.0f : 1.0f, z = (d & 4) ? -1.0f : 1.0f;
    f->p[0] = x; f->p[1] = y; f->p[2] = z;
    f->q[0] = y * z; f->q[1] = x * z; f->q[2] = x * y;
    const float sh[15] = {y, z, x,                                /* y, z, x */
                          x * y, y * z, 1, x * z, 1,              /* xy, yz, 2zz-xx-yy, xz, xx-yy */
                          y, x * y * z, y, z, x, z, x};           /* y(3xx-yy), xyz, y(..), z(..), x(..), z(xx-yy), x(xx-3yy) */
    memcpy(f->sh, sh, sizeof sh);
}

static const char *nm_or(const char *name) { return name ? name : "<spz>"; }

/* ---- header validation shared by both containers -------------------------- */

static gs_status spz_layout_init(spz_layout *L, const char *nm, uint32_t version, uint32_t n, int degree,
                                 int frac_bits, int flags) {
    memset(L, 0, sizeof *L);
    if (n == 0) return gs_error(GS_ERR_FORMAT, "%s: SPZ header declares 0 splats", nm);
    if ((int64_t)n > GS_SCENE_MAX_SPLATS)
        return gs_error(GS_ERR_FORMAT, "%s: SPZ header declares %u splats, over the limit of %lld", nm, n,
                        (long long)GS_SCENE_MAX_SPLATS);
    if (degree > 4) return gs_error(GS_ERR_FORMAT, "%s: SPZ SH degree %d is invalid (0-4)", nm, degree);
    if (version >= 2 && frac_bits > 31)
        return gs_error(GS_ERR_FORMAT, "%s: SPZ fractional bits %d is invalid (0-31)", nm, frac_bits);
    L->version = (int)version;
    L->n = n;
    L->file_degree = degree;
    L->frac_bits = frac_bits;
    L->flags = flags;
    L->coord = SPZ_CS_RUB;
    size_t nn = n;
    L->size[ST_POS] = nn * (version == 1 ? 6 : 9); /* v1 stored float16 positions */
    L->size[ST_ALPHA] = nn;
    L->size[ST_COLOR] = nn * 3;
    L->size[ST_SCALE] = nn * 3;
    L->size[ST_ROT] = nn * (version >= 3 ? 4 : 3);
    L->size[ST_SH] = nn * (size_t)file_sh_dim(degree) * 3;
    return GS_OK;
}

static size_t spz_total(const spz_layout *L) {
    size_t t = 0;
    for (int i = 0; i < ST_COUNT; i++) t += L->size[i];
    return t;
}

/* Extension records: [u32 type][u32 byteLength][payload], back to back.
 * Unknown types are skipped; records that run past the block are errors. */
static gs_status spz_parse_extensions(const uint8_t *p, size_t n, size_t base, const char *nm, spz_layout *L) {
    size_t o = 0;
    while (o < n) {
        if (n - o < 8)
            return gs_error(GS_ERR_FORMAT, "%s: truncated SPZ extension record at byte %zu", nm, base + o);
        uint32_t type = rd_u32(p + o), len = rd_u32(p + o + 4);
        o += 8;
        if (len > n - o)
            return gs_error(GS_ERR_FORMAT, "%s: SPZ extension record 0x%08x at byte %zu declares %u bytes but only %zu remain",
                            nm, type, base + o - 8, len, n - o);
        if (type == SPZ_EXT_COORDINATE_SYSTEM) {
            if (len < 4) return gs_error(GS_ERR_FORMAT, "%s: SPZ coordinate-system extension is too short", nm);
            uint32_t cs = rd_u32(p + o);
            if (cs > 16) return gs_error(GS_ERR_FORMAT, "%s: SPZ coordinate-system extension has unknown value %u", nm, cs);
            L->coord = cs == 0 ? SPZ_CS_RUB : (int)cs; /* UNSPECIFIED means the default, RUB */
        }
        o += len;
    }
    return GS_OK;
}

/* ---- decoding packed attributes -------------------------------------------- */

static void unpack_quat_smallest_three(const uint8_t r[4], float q[4] /* x,y,z,w */) {
    uint32_t comp = rd_u32(r);
    int largest = (int)(comp >> 30);
    float ss = 0;
    /* the last non-largest component sits in the lowest 10 bits */
    for (int i = 3; i >= 0; i--) {
        if (i == largest) continue;
        uint32_t mag = comp & 511u, neg = (comp >> 9) & 1u;
        comp >>= 10;
        float v = SPZ_SQRT1_2 * (float)mag / 511.0f;
        q[i] = neg ? -v : v;
        ss += v * v;
    }
    /* malformed data can make ss > 1; the reference then yields NaN, we clamp */
    q[largest] = sqrtf(fmaxf(0.0f, 1.0f - ss));
}

static void unpack_quat_first_three(const uint8_t r[3], float q[4]) {
    float ss = 0;
    for (int i = 0; i < 3; i++) {
        q[i] = (float)r[i] / 127.5f - 1.0f;
        ss += q[i] * q[i];
    }
    q[3] = sqrtf(fmaxf(0.0f, 1.0f - ss));
}

static gs_status spz_decode(const spz_layout *L, const uint8_t *packed, const char *nm, gs_scene *s) {
    if (L->coord >= 9)
        return gs_error(GS_ERR_UNSUPPORTED,
                        "%s: SPZ data is stored in coordinate system %d (a rotated axis family), which is not supported",
                        nm, L->coord);
    spz_flips F;
    spz_make_flips(L->coord, SPZ_CS_RDF, &F);
    int degree = L->file_degree > GS_SH_MAX_DEGREE ? GS_SH_MAX_DEGREE : L->file_degree;
    gs_status st = gs_scene_alloc(s, L->n, degree);
    if (st) return gs_error_prefix(st, "%s", nm);
    s->antialiased = (L->flags & SPZ_FLAG_ANTIALIASED) != 0;

    const uint8_t *src[ST_COUNT];
    size_t off = 0;
    for (int i = 0; i < ST_COUNT; i++) {
        src[i] = packed + off;
        off += L->size[i];
    }
    const int K = gs_sh_coeffs(degree), fdim = file_sh_dim(L->file_degree);
    const int half = L->version == 1, s3 = L->version >= 3;
    const float pscale = ldexpf(1.0f, -L->frac_bits);
    const int64_t n = L->n;
    int64_t bad = -1;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float *m = s->means + 3 * i;
        if (half) {
            const uint8_t *p = src[ST_POS] + 6 * i;
            for (int k = 0; k < 3; k++) m[k] = gs_f16_to_f32((uint16_t)(p[2 * k] | p[2 * k + 1] << 8)) * F.p[k];
            if (!isfinite(m[0]) || !isfinite(m[1]) || !isfinite(m[2])) {
#pragma omp critical(spz_bad)
                if (bad < 0 || i < bad) bad = i;
            }
        } else {
            const uint8_t *p = src[ST_POS] + 9 * i;
            for (int k = 0; k < 3; k++) {
                uint32_t u = (uint32_t)p[3 * k] | (uint32_t)p[3 * k + 1] << 8 | (uint32_t)p[3 * k + 2] << 16;
                int32_t v = (int32_t)(u ^ 0x800000u) - 0x800000; /* sign-extend 24 bits */
                m[k] = (float)v * pscale * F.p[k];
            }
        }
        s->opacities[i] = (float)src[ST_ALPHA][i] / 255.0f;
        for (int k = 0; k < 3; k++) s->scales[3 * i + k] = expf((float)src[ST_SCALE][3 * i + k] / 16.0f - 10.0f);

        float q[4]; /* x,y,z,w */
        if (s3) unpack_quat_smallest_three(src[ST_ROT] + 4 * i, q);
        else unpack_quat_first_three(src[ST_ROT] + 3 * i, q);
        for (int k = 0; k < 3; k++) q[k] *= F.q[k];
        float qn = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        float *r = s->rotations + 4 * i;
        if (qn > 0) {
            r[0] = q[3] / qn; r[1] = q[0] / qn; r[2] = q[1] / qn; r[3] = q[2] / qn;
        } else {
            r[0] = 1; r[1] = r[2] = r[3] = 0;
        }

        float *sh = s->sh + (size_t)i * K * 3;
        for (int c = 0; c < 3; c++)
            sh[c] = ((float)src[ST_COLOR][3 * i + c] / 255.0f - 0.5f) / SPZ_COLOR_SCALE;
        const uint8_t *fs = src[ST_SH] + (size_t)i * fdim * 3;
        for (int k = 1; k < K; k++)
            for (int c = 0; c < 3; c++)
                sh[3 * k + c] = ((float)fs[3 * (k - 1) + c] - 128.0f) / 128.0f * F.sh[k - 1];
    }
    if (bad >= 0) {
        gs_scene_free(s);
        return gs_error(GS_ERR_FORMAT, "%s: SPZ v1 splat %lld has a non-finite float16 position", nm, (long long)bad);
    }
    return GS_OK;
}

/* ---- legacy gzip container ------------------------------------------------- */

typedef struct {
    z_stream zs;
    const uint8_t *in;
    size_t in_left; /* input not yet handed to zlib */
} spz_gz;

/* Inflate up to `want` bytes into dst. Returns Z_OK when filled, Z_STREAM_END
 * when the member ended first (*got tells how much), or a zlib error; a
 * truncated input reports Z_BUF_ERROR. */
static int gz_fill(spz_gz *g, uint8_t *dst, size_t want, size_t *got) {
    *got = 0;
    while (*got < want) {
        if (g->zs.avail_in == 0 && g->in_left) {
            uInt chunk = g->in_left > UINT_MAX ? UINT_MAX : (uInt)g->in_left;
            g->zs.next_in = (Bytef *)(uintptr_t)g->in;
            g->zs.avail_in = chunk;
            g->in += chunk;
            g->in_left -= chunk;
        }
        size_t room = want - *got;
        g->zs.next_out = dst + *got;
        g->zs.avail_out = room > UINT_MAX ? UINT_MAX : (uInt)room;
        uInt before = g->zs.avail_out;
        int ret = inflate(&g->zs, Z_NO_FLUSH);
        *got += before - g->zs.avail_out;
        if (ret == Z_STREAM_END) return Z_STREAM_END;
        if (ret == Z_BUF_ERROR && g->zs.avail_in == 0 && g->in_left == 0) return Z_BUF_ERROR;
        if (ret != Z_OK && ret != Z_BUF_ERROR) return ret == Z_NEED_DICT ? Z_DATA_ERROR : ret;
    }
    return Z_OK;
}

static gs_status gz_error(spz_gz *g, int ret, const char *nm, const char *where) {
    if (ret == Z_BUF_ERROR) return gs_error(GS_ERR_FORMAT, "%s: truncated SPZ gzip data (input ends inside %s)", nm, where);
    if (ret == Z_MEM_ERROR) return gs_error(GS_ERR_NOMEM, "%s: out of memory inflating SPZ data", nm);
    return gs_error(GS_ERR_FORMAT, "%s: corrupt SPZ gzip data in %s (%s)", nm, where,
                    g->zs.msg ? g->zs.msg : "inflate failed");
}

/* The 16-byte header of a legacy file (the first bytes of its gzip member). */
static gs_status spz_legacy_header(const uint8_t h[16], const char *nm, spz_layout *L) {
    if (rd_u32(h) != SPZ_MAGIC)
        return gs_error(GS_ERR_FORMAT, "%s: bad magic 0x%08x inside the gzip stream (not an SPZ file)", nm, rd_u32(h));
    uint32_t version = rd_u32(h + 4);
    if (version < 1 || version > 4)
        return gs_error(GS_ERR_UNSUPPORTED, "%s: unsupported SPZ version %u (this reader knows 1-4)", nm, version);
    return spz_layout_init(L, nm, version, rd_u32(h + 8), h[12], h[13], h[14]);
}

/* A legacy file's decompressed contents: header, attribute blocks, then at
 * most SPZ_LEGACY_MAX_EXTRA bytes (extension records when flags & 2). */
static gs_status spz_parse_payload(const uint8_t *data, size_t size, const char *nm, gs_scene *s) {
    if (size < 16)
        return gs_error(GS_ERR_FORMAT, "%s: SPZ gzip data holds only %zu bytes, less than the 16-byte header", nm, size);
    spz_layout L;
    gs_status st = spz_legacy_header(data, nm, &L);
    if (st) return st;
    size_t total = spz_total(&L);
    if (size - 16 < total)
        return gs_error(GS_ERR_FORMAT, "%s: truncated SPZ data: attributes end after %zu of %zu bytes", nm, size - 16,
                        total);
    size_t nextra = size - 16 - total;
    if (nextra > SPZ_LEGACY_MAX_EXTRA)
        return gs_error(GS_ERR_FORMAT, "%s: more than %zu bytes of unexpected data after the SPZ attributes", nm,
                        SPZ_LEGACY_MAX_EXTRA);
    if (L.flags & SPZ_FLAG_EXTENSIONS) {
        st = spz_parse_extensions(data + 16 + total, nextra, 16 + total, nm, &L);
        if (st) return st;
    }
    return spz_decode(&L, data + 16, nm, s);
}

gs_status gs_spz_read_payload(const uint8_t *data, size_t size, const char *name, gs_scene *s) {
    memset(s, 0, sizeof *s);
    const char *nm = nm_or(name);
    if (!data && size) return gs_error(GS_ERR_INVALID, "%s: no data", nm);
    return spz_parse_payload(data ? data : (const uint8_t *)"", size, nm, s);
}

/* Inflate the member into one buffer (its header first, so that the sizes it
 * declares are checked before anything is allocated), then parse it as
 * gs_spz_read_payload does. */
static gs_status spz_read_gzip(const uint8_t *data, size_t size, const char *nm, gs_scene *s) {
    spz_gz g;
    memset(&g, 0, sizeof g);
    g.in = data;
    g.in_left = size;
    if (inflateInit2(&g.zs, 16 + MAX_WBITS) != Z_OK) return gs_error(GS_ERR_NOMEM, "%s: cannot start zlib", nm);
    uint8_t *buf = NULL;
    gs_status st = GS_OK;
    uint8_t h[16];
    size_t got;
    int ret = gz_fill(&g, h, sizeof h, &got);
    if (ret != Z_OK && ret != Z_STREAM_END) { st = gz_error(&g, ret, nm, "the header"); goto done; }
    if (got < sizeof h) {
        st = gs_error(GS_ERR_FORMAT, "%s: SPZ gzip data holds only %zu bytes, less than the 16-byte header", nm, got);
        goto done;
    }
    spz_layout L;
    if ((st = spz_legacy_header(h, nm, &L))) goto done;
    size_t total = spz_total(&L);
    if ((uint64_t)total > (uint64_t)size * SPZ_DEFLATE_MAX_RATIO + 1024) {
        st = gs_error(GS_ERR_FORMAT, "%s: SPZ header declares %lld splats (%zu bytes), more than a %zu-byte gzip file can hold",
                      nm, (long long)L.n, total, size);
        goto done;
    }
    /* header, attributes, and room for one byte more than the extra data allowed */
    buf = gs_malloc(16 + total + SPZ_LEGACY_MAX_EXTRA + 1, 1, "SPZ attributes");
    if (!buf) { st = GS_ERR_NOMEM; goto done; }
    memcpy(buf, h, sizeof h);
    if (ret == Z_STREAM_END) got = 0; /* the member ended right after the header */
    else ret = gz_fill(&g, buf + 16, total, &got);
    if (ret != Z_OK && ret != Z_STREAM_END) { st = gz_error(&g, ret, nm, "the attribute data"); goto done; }
    if (ret == Z_STREAM_END && got < total) {
        st = gs_error(GS_ERR_FORMAT, "%s: truncated SPZ data: attributes end after %zu of %zu bytes", nm, got, total);
        goto done;
    }
    /* finish the member so that zlib verifies the CRC and length */
    size_t nextra = 0;
    if (ret != Z_STREAM_END) ret = gz_fill(&g, buf + 16 + total, SPZ_LEGACY_MAX_EXTRA + 1, &nextra);
    if (ret == Z_OK) {
        st = gs_error(GS_ERR_FORMAT, "%s: more than %zu bytes of unexpected data after the SPZ attributes", nm,
                      SPZ_LEGACY_MAX_EXTRA);
        goto done;
    }
    if (ret != Z_STREAM_END) { st = gz_error(&g, ret, nm, "the gzip trailer"); goto done; }
    st = spz_parse_payload(buf, 16 + total + nextra, nm, s);
done:
    inflateEnd(&g.zs);
    free(buf);
    return st;
}

/* ---- v4 NGSP container -------------------------------------------------------- */

static gs_status spz_read_ngsp(const uint8_t *data, size_t size, const char *nm, gs_scene *s) {
    if (size < 32) return gs_error(GS_ERR_FORMAT, "%s: truncated SPZ header (%zu of 32 bytes)", nm, size);
    uint32_t version = rd_u32(data + 4);
    if (version != 4) {
        if (version < 4)
            return gs_error(GS_ERR_FORMAT, "%s: SPZ version %u in an uncompressed NGSP header (only version 4 uses one)", nm,
                            version);
        return gs_error(GS_ERR_UNSUPPORTED, "%s: unsupported SPZ version %u (this reader knows 1-4)", nm, version);
    }
    spz_layout L;
    gs_status st = spz_layout_init(&L, nm, version, rd_u32(data + 8), data[12], data[13], data[14]);
    if (st) return st;
    unsigned num_streams = data[15];
    uint32_t toc = rd_u32(data + 16);
    unsigned want_streams = L.size[ST_SH] ? 6 : 5;
    if (num_streams != want_streams)
        return gs_error(GS_ERR_FORMAT, "%s: SPZ header declares %u streams, expected %u for SH degree %d", nm,
                        num_streams, want_streams, L.file_degree);
    if (toc < 32 || (uint64_t)toc + 16u * num_streams > size)
        return gs_error(GS_ERR_FORMAT, "%s: SPZ table of contents at byte %u (%u bytes) lies outside the %zu-byte file", nm,
                        toc, 16u * num_streams, size);
    if (L.flags & SPZ_FLAG_EXTENSIONS) {
        st = spz_parse_extensions(data + 32, toc - 32, 32, nm, &L);
        if (st) return st;
    }
    size_t off = (size_t)toc + 16u * num_streams;
    size_t coff[ST_COUNT] = {0}, csz[ST_COUNT] = {0};
    for (unsigned i = 0; i < num_streams; i++) {
        uint64_t c = rd_u64(data + toc + 16 * i), u = rd_u64(data + toc + 16 * i + 8);
        if (c > size - off)
            return gs_error(GS_ERR_FORMAT, "%s: SPZ %s stream (%llu bytes at byte %zu) runs past the end of the %zu-byte file",
                            nm, stream_names[i], (unsigned long long)c, off, size);
        if (u != L.size[i])
            return gs_error(GS_ERR_FORMAT, "%s: SPZ %s stream declares %llu uncompressed bytes, expected %zu for %lld splats",
                            nm, stream_names[i], (unsigned long long)u, L.size[i], (long long)L.n);
        if (u > c * SPZ_ZSTD_MAX_RATIO)
            return gs_error(GS_ERR_FORMAT, "%s: SPZ %s stream cannot expand from %llu to %llu bytes (corrupt size)", nm,
                            stream_names[i], (unsigned long long)c, (unsigned long long)u);
        coff[i] = off;
        csz[i] = (size_t)c;
        unsigned long long fcs = ZSTD_getFrameContentSize(data + off, (size_t)c);
        if (fcs == ZSTD_CONTENTSIZE_ERROR)
            return gs_error(GS_ERR_FORMAT, "%s: SPZ %s stream at byte %zu is not a zstd frame", nm, stream_names[i], off);
        if (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != u)
            return gs_error(GS_ERR_FORMAT, "%s: SPZ %s zstd frame holds %llu bytes, the table of contents says %llu", nm,
                            stream_names[i], fcs, (unsigned long long)u);
        off += (size_t)c;
    }
    if (off != size)
        return gs_error(GS_ERR_FORMAT, "%s: %zu bytes of trailing data after the last SPZ stream", nm, size - off);

    size_t total = spz_total(&L);
    uint8_t *packed = gs_malloc(total, 1, "SPZ attributes");
    if (!packed) return gs_error_prefix(GS_ERR_NOMEM, "%s", nm);
    size_t dst = 0;
    for (unsigned i = 0; i < num_streams; i++) {
        size_t r = ZSTD_decompress(packed + dst, L.size[i], data + coff[i], csz[i]);
        if (ZSTD_isError(r)) {
            st = gs_error(GS_ERR_FORMAT, "%s: corrupt SPZ %s stream (zstd: %s)", nm, stream_names[i], ZSTD_getErrorName(r));
            break;
        }
        if (r != L.size[i]) {
            st = gs_error(GS_ERR_FORMAT, "%s: SPZ %s stream decompressed to %zu bytes, expected %zu", nm, stream_names[i],
                          r, L.size[i]);
            break;
        }
        dst += L.size[i];
    }
    if (!st) st = spz_decode(&L, packed, nm, s);
    free(packed);
    return st;
}

gs_status gs_spz_read_mem(const uint8_t *data, size_t size, const char *name, gs_scene *s) {
    memset(s, 0, sizeof *s);
    const char *nm = nm_or(name);
    if (!data && size) return gs_error(GS_ERR_INVALID, "%s: no data", nm);
    if (size >= 4 && rd_u32(data) == SPZ_MAGIC) return spz_read_ngsp(data, size, nm, s);
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return spz_read_gzip(data, size, nm, s);
    if (size < 4) return gs_error(GS_ERR_FORMAT, "%s: truncated SPZ file (%zu bytes)", nm, size);
    return gs_error(GS_ERR_FORMAT, "%s: bad magic (neither NGSP nor gzip): not an SPZ file", nm);
}

/* ---- writing ------------------------------------------------------------------ */

static inline uint8_t to_u8(float x) {
    if (!(x > 0.0f)) return 0; /* also NaN */
    if (x >= 255.0f) return 255;
    return (uint8_t)roundf(x);
}

/* round to 8 bits, then to the nearest multiple of `bucket` (128, i.e. zero, is one) */
static inline uint8_t quantize_sh(float x, int bucket) {
    x = fminf(fmaxf(x, -4.0f), 4.0f);
    int q = (int)(roundf(x * 128.0f) + 128.0f);
    q = (q + bucket / 2) / bucket * bucket;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

static void pack_quat(const float *wxyz, const spz_flips *F, int smallest_three, uint8_t *out) {
    double w = wxyz[0], x = wxyz[1], y = wxyz[2], z = wxyz[3];
    double nrm = sqrt(w * w + x * x + y * y + z * z);
    float q[4] = {(float)(x / nrm) * F->q[0], (float)(y / nrm) * F->q[1], (float)(z / nrm) * F->q[2], (float)(w / nrm)};
    if (!smallest_three) {
        float sgn = q[3] < 0 ? -127.5f : 127.5f;
        for (int k = 0; k < 3; k++) out[k] = to_u8(q[k] * sgn + 127.5f);
        return;
    }
    int largest = 0;
    for (int i = 1; i < 4; i++)
        if (fabsf(q[i]) > fabsf(q[largest])) largest = i;
    /* q and -q are the same rotation: make the dropped component positive */
    uint32_t negate = q[largest] < 0, comp = (uint32_t)largest;
    for (int i = 0; i < 4; i++) {
        if (i == largest) continue;
        uint32_t neg = (uint32_t)(q[i] < 0) ^ negate;
        uint32_t mag = (uint32_t)(511.0f * (fabsf(q[i]) / SPZ_SQRT1_2) + 0.5f);
        if (mag > 511) mag = 511;
        comp = comp << 10 | neg << 9 | mag;
    }
    wr_u32(out, comp);
}

/* Pack splat idx[i] (i when idx is NULL) of s into row i, for the L->n rows. */
static void spz_pack(const gs_scene *s, const int64_t *idx, const spz_layout *L, uint8_t *packed) {
    spz_flips F;
    spz_make_flips(SPZ_CS_RDF, SPZ_CS_RUB, &F);
    uint8_t *dst[ST_COUNT];
    size_t off = 0;
    for (int i = 0; i < ST_COUNT; i++) {
        dst[i] = packed + off;
        off += L->size[i];
    }
    const int K = gs_sh_coeffs(s->sh_degree), fdim = K - 1, s3 = L->version >= 3;
    const double pscale = ldexp(1.0, L->frac_bits), lim = 8388607.0;
    const int64_t n = L->n;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const int64_t g = idx ? idx[i] : i;
        for (int k = 0; k < 3; k++) {
            /* 24-bit fixed point covers +-2048 units at 12 fractional bits;
             * farther splats are clamped to the edge rather than wrapped. */
            double v = round((double)s->means[3 * g + k] * F.p[k] * pscale);
            v = v > lim ? lim : v < -lim - 1 ? -lim - 1 : v;
            uint32_t u = (uint32_t)(int32_t)v;
            uint8_t *p = dst[ST_POS] + 9 * i + 3 * k;
            p[0] = (uint8_t)u; p[1] = (uint8_t)(u >> 8); p[2] = (uint8_t)(u >> 16);
        }
        dst[ST_ALPHA][i] = to_u8(s->opacities[g] * 255.0f);
        for (int k = 0; k < 3; k++) /* valid splats: positive scales */
            dst[ST_SCALE][3 * i + k] = to_u8((logf(s->scales[3 * g + k]) + 10.0f) * 16.0f);
        pack_quat(s->rotations + 4 * g, &F, s3, dst[ST_ROT] + (size_t)i * (s3 ? 4 : 3));
        const float *sh = s->sh + (size_t)g * K * 3;
        for (int c = 0; c < 3; c++) dst[ST_COLOR][3 * i + c] = to_u8(sh[c] * (SPZ_COLOR_SCALE * 255.0f) + 127.5f);
        uint8_t *fs = dst[ST_SH] + (size_t)i * fdim * 3;
        for (int k = 1; k < K; k++)
            for (int c = 0; c < 3; c++) /* degree 1 keeps 5 bits, higher bands 4 (the reference defaults) */
                fs[3 * (k - 1) + c] = quantize_sh(sh[3 * k + c] * F.sh[k - 1], k < 4 ? 8 : 16);
    }
}

/* The 16-byte header of a gzip (v2/v3) file of n splats of s. */
static void spz_put_legacy_header(uint8_t h[16], int version, int64_t n, const gs_scene *s) {
    memset(h, 0, 16);
    wr_u32(h, SPZ_MAGIC);
    wr_u32(h + 4, (uint32_t)version);
    wr_u32(h + 8, (uint32_t)n);
    h[12] = (uint8_t)s->sh_degree;
    h[13] = SPZ_WRITE_FRAC_BITS;
    h[14] = s->antialiased ? SPZ_FLAG_ANTIALIASED : 0;
}

static gs_status spz_write_gzip(gs_afile *a, const uint8_t *buf, size_t n, const char *path) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return gs_error(GS_ERR_NOMEM, "%s: cannot start zlib", path);
    uint8_t out[1 << 16];
    gs_status st = GS_OK;
    int ret = Z_OK;
    while (ret != Z_STREAM_END) {
        if (zs.avail_in == 0 && n) {
            uInt chunk = n > UINT_MAX ? UINT_MAX : (uInt)n;
            zs.next_in = (Bytef *)(uintptr_t)buf;
            zs.avail_in = chunk;
            buf += chunk;
            n -= chunk;
        }
        zs.next_out = out;
        zs.avail_out = sizeof out;
        ret = deflate(&zs, n ? Z_NO_FLUSH : Z_FINISH);
        if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
            st = gs_error(GS_ERR_IO, "%s: gzip compression failed", path);
            break;
        }
        st = gs_afile_write(a, out, sizeof out - zs.avail_out);
        if (st) break;
    }
    deflateEnd(&zs);
    return st;
}

static gs_status spz_write_zstd(gs_afile *a, const uint8_t *packed, const spz_layout *L, int antialiased,
                                const char *path) {
    unsigned ns = L->size[ST_SH] ? 6 : 5;
    uint8_t *chunk[ST_COUNT] = {0};
    size_t csz[ST_COUNT] = {0};
    gs_status st = GS_OK;
    ZSTD_CCtx *cctx = ZSTD_createCCtx();
    if (!cctx) return gs_error(GS_ERR_NOMEM, "%s: cannot start zstd", path);
    ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, SPZ_ZSTD_LEVEL);
    size_t off = 0;
    for (unsigned i = 0; i < ns && !st; i++) {
        size_t bound = ZSTD_compressBound(L->size[i]);
        chunk[i] = gs_malloc(bound, 1, "SPZ zstd stream");
        if (!chunk[i]) { st = gs_error_prefix(GS_ERR_NOMEM, "%s", path); break; }
        size_t r = ZSTD_compress2(cctx, chunk[i], bound, packed + off, L->size[i]);
        if (ZSTD_isError(r)) st = gs_error(GS_ERR_IO, "%s: zstd compression failed: %s", path, ZSTD_getErrorName(r));
        csz[i] = r;
        off += L->size[i];
    }
    ZSTD_freeCCtx(cctx);
    if (!st) {
        uint8_t h[32 + 16 * ST_COUNT];
        memset(h, 0, sizeof h);
        wr_u32(h, SPZ_MAGIC);
        wr_u32(h + 4, 4);
        wr_u32(h + 8, (uint32_t)L->n);
        h[12] = (uint8_t)L->file_degree;
        h[13] = (uint8_t)L->frac_bits;
        h[14] = antialiased ? SPZ_FLAG_ANTIALIASED : 0;
        h[15] = (uint8_t)ns;
        wr_u32(h + 16, 32);
        for (unsigned i = 0; i < ns; i++) {
            wr_u64(h + 32 + 16 * i, csz[i]);
            wr_u64(h + 40 + 16 * i, L->size[i]);
        }
        st = gs_afile_write(a, h, 32 + 16 * ns);
        for (unsigned i = 0; i < ns && !st; i++) st = gs_afile_write(a, chunk[i], csz[i]);
    }
    for (unsigned i = 0; i < ST_COUNT; i++) free(chunk[i]);
    return st;
}

gs_status gs_spz_write(const char *path, const gs_scene *s, int version) {
    if (version == 0) version = GS_SPZ_DEFAULT_VERSION;
    if (version < 2 || version > 4)
        return gs_error(GS_ERR_INVALID, "%s: SPZ version %d cannot be written (2, 3 or 4)", path, version);
    /* invalid splats are left out; none at all is an error (readers reject 0 splats) */
    int64_t *idx, nv;
    gs_status st = gs_scene_writable(s, path, &idx, &nv);
    if (st) return st;
    spz_layout L;
    st = spz_layout_init(&L, path, (uint32_t)version, (uint32_t)nv, s->sh_degree, SPZ_WRITE_FRAC_BITS,
                         s->antialiased ? SPZ_FLAG_ANTIALIASED : 0);
    if (st) { free(idx); return st; }
    size_t total = spz_total(&L);
    /* the legacy header sits right before the attributes so one deflate pass covers both */
    uint8_t *buf = gs_malloc(16 + total, 1, "SPZ attributes");
    if (!buf) { free(idx); return gs_error_prefix(GS_ERR_NOMEM, "%s", path); }
    spz_pack(s, idx, &L, buf + 16);
    free(idx);
    gs_afile a;
    st = gs_afile_open(&a, path);
    if (!st) {
        if (version == 4) {
            st = spz_write_zstd(&a, buf + 16, &L, s->antialiased, path);
        } else {
            spz_put_legacy_header(buf, version, nv, s);
            st = spz_write_gzip(&a, buf, 16 + total, path);
        }
        if (st) gs_afile_abort(&a);
        else st = gs_afile_commit(&a);
    }
    free(buf);
    return st;
}

/* One gzip member in memory: deflateBound sizes the output, so a single
 * Z_FINISH call completes it. */
gs_status gs_spz_encode(const gs_scene *s, int version, const char *name, uint8_t **out, size_t *out_size) {
    const char *nm = nm_or(name);
    *out = NULL;
    *out_size = 0;
    if (version != 2 && version != 3)
        return gs_error(GS_ERR_INVALID, "%s: SPZ version %d cannot be encoded in memory (2 or 3)", nm, version);
    /* invalid splats are left out, as gs_spz_write does */
    int64_t *idx, nv;
    gs_status st = gs_scene_writable(s, nm, &idx, &nv);
    if (st) return st;
    spz_layout L;
    if ((st = spz_layout_init(&L, nm, (uint32_t)version, (uint32_t)nv, s->sh_degree, SPZ_WRITE_FRAC_BITS,
                              s->antialiased ? SPZ_FLAG_ANTIALIASED : 0))) {
        free(idx);
        return st;
    }
    size_t total = 16 + spz_total(&L);
    if (total > (size_t)UINT_MAX / 2) {
        free(idx);
        return gs_error(GS_ERR_NOMEM, "%s: scene too large for an in-memory SPZ", nm);
    }
    uint8_t *buf = gs_malloc(total, 1, "SPZ attributes");
    if (!buf) { free(idx); return gs_error_prefix(GS_ERR_NOMEM, "%s", nm); }
    spz_put_legacy_header(buf, version, nv, s);
    spz_pack(s, idx, &L, buf + 16);
    free(idx);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(buf);
        return gs_error(GS_ERR_NOMEM, "%s: cannot start zlib", nm);
    }
    uLong bound = deflateBound(&zs, (uLong)total);
    uint8_t *z = gs_malloc((size_t)bound, 1, "SPZ gzip stream");
    if (!z) {
        deflateEnd(&zs);
        free(buf);
        return gs_error_prefix(GS_ERR_NOMEM, "%s", nm);
    }
    zs.next_in = buf;
    zs.avail_in = (uInt)total;
    zs.next_out = z;
    zs.avail_out = (uInt)bound;
    int ret = deflate(&zs, Z_FINISH);
    size_t n = (size_t)zs.total_out;
    deflateEnd(&zs);
    free(buf);
    if (ret != Z_STREAM_END) {
        free(z);
        return gs_error(GS_ERR_IO, "%s: gzip compression failed", nm);
    }
    *out = z;
    *out_size = n;
    return GS_OK;
}
