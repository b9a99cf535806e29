/* test_spz.c - Niantic .spz reader/writer: the real biker scene, hand-built
 * v1-v4 files with known bytes (including the RUB -> RDF flip, checked on
 * the covariance and on SH evaluation), round trips for every version and SH
 * degree within the quantization steps, and malformed input of every kind. */
#include "tests/test.h"
#include "data/scene.h"

#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

#define SQRT1_2 0.70710678118654752

/* ---- helpers ------------------------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}
static void put_i24(uint8_t *p, int32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
}

typedef struct {
    uint32_t magic, version, n;
    uint8_t degree, frac, flags, nstreams; /* nstreams 0: count the non-empty streams */
    const uint8_t *ext;
    size_t next;
    const uint8_t *stream[6];
    size_t size[6];
} v4_spec;

/* Assemble a v4 file the way the reference writer lays it out. */
static uint8_t *build_v4(const v4_spec *sp, size_t *out_size) {
    uint8_t *chunk[6] = {0};
    size_t csz[6] = {0}, total = 0;
    unsigned ns = 0;
    for (int i = 0; i < 6; i++) {
        if (!sp->size[i]) continue;
        size_t b = ZSTD_compressBound(sp->size[i]);
        chunk[ns] = malloc(b);
        csz[ns] = ZSTD_compress(chunk[ns], b, sp->stream[i], sp->size[i], 3);
        total += csz[ns];
        ns++;
    }
    unsigned toc = 32 + (unsigned)sp->next;
    size_t n = toc + 16 * ns + total;
    uint8_t *f = calloc(1, n);
    put_u32(f, sp->magic ? sp->magic : 0x5053474e);
    put_u32(f + 4, sp->version ? sp->version : 4);
    put_u32(f + 8, sp->n);
    f[12] = sp->degree;
    f[13] = sp->frac;
    f[14] = sp->flags;
    f[15] = (uint8_t)(sp->nstreams ? sp->nstreams : ns);
    put_u32(f + 16, toc);
    if (sp->next) memcpy(f + 32, sp->ext, sp->next);
    size_t off = toc + 16 * ns;
    for (unsigned i = 0, j = 0; i < 6; i++) {
        if (!sp->size[i]) continue;
        put_u64(f + toc + 16 * j, csz[j]);
        put_u64(f + toc + 16 * j + 8, sp->size[i]);
        memcpy(f + off, chunk[j], csz[j]);
        off += csz[j];
        free(chunk[j]);
        j++;
    }
    *out_size = n;
    return f;
}

static uint8_t *gzip_buf(const uint8_t *src, size_t n, size_t *out_size) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    uint8_t *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    deflate(&zs, Z_FINISH);
    *out_size = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* legacy 16-byte header followed by the blocks, gzipped */
static uint8_t *build_legacy(uint32_t version, uint32_t n, uint8_t degree, uint8_t flags, const uint8_t *blocks,
                             size_t nblocks, size_t *out_size) {
    uint8_t *raw = calloc(1, 16 + nblocks);
    put_u32(raw, 0x5053474e);
    put_u32(raw + 4, version);
    put_u32(raw + 8, n);
    raw[12] = degree;
    raw[13] = 12;
    raw[14] = flags;
    memcpy(raw + 16, blocks, nblocks);
    uint8_t *g = gzip_buf(raw, 16 + nblocks, out_size);
    free(raw);
    return g;
}

static void quat_to_mat(const float *q, double R[3][3]) {
    double w = q[0], x = q[1], y = q[2], z = q[3], n = sqrt(w * w + x * x + y * y + z * z);
    w /= n; x /= n; y /= n; z /= n;
    R[0][0] = 1 - 2 * (y * y + z * z); R[0][1] = 2 * (x * y - w * z);     R[0][2] = 2 * (x * z + w * y);
    R[1][0] = 2 * (x * y + w * z);     R[1][1] = 1 - 2 * (x * x + z * z); R[1][2] = 2 * (y * z - w * x);
    R[2][0] = 2 * (x * z - w * y);     R[2][1] = 2 * (y * z + w * x);     R[2][2] = 1 - 2 * (x * x + y * y);
}

static void covariance(const float *q, const float *s, double C[3][3]) {
    double R[3][3];
    quat_to_mat(q, R);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            C[i][j] = 0;
            for (int k = 0; k < 3; k++) C[i][j] += R[i][k] * (double)s[k] * s[k] * R[j][k];
        }
}

/* real SH basis of the 3DGS renderers (degree <= 3), coefficients k = 0..15 */
static double sh_eval(const double *c, int K, const double d[3]) {
    const double x = d[0], y = d[1], z = d[2], xx = x * x, yy = y * y, zz = z * z;
    const double C1 = 0.4886025119029199;
    const double C2[5] = {1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792,
                          0.5462742152960396};
    const double C3[7] = {-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
                          -0.4570457994644658, 1.445305721320277, -0.5900435899266435};
    double b[16] = {0.28209479177387814, -C1 * y, C1 * z, -C1 * x,
                    C2[0] * x * y, C2[1] * y * z, C2[2] * (2 * zz - xx - yy), C2[3] * x * z, C2[4] * (xx - yy),
                    C3[0] * y * (3 * xx - yy), C3[1] * x * y * z, C3[2] * y * (4 * zz - xx - yy),
                    C3[3] * z * (2 * zz - 3 * xx - 3 * yy), C3[4] * x * (4 * zz - xx - yy), C3[5] * z * (xx - yy),
                    C3[6] * x * (xx - 3 * yy)};
    double r = 0;
    for (int k = 0; k < K; k++) r += b[k] * c[k];
    return r;
}

static uint64_t rng_state = 88172645463325252ull;
static double frand(double lo, double hi) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

static void random_scene(gs_scene *s, int64_t n, int degree, double min_abs_w) {
    gs_scene_alloc(s, n, degree);
    int K = gs_sh_coeffs(degree);
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 3; k++) {
            s->means[3 * i + k] = (float)frand(-100, 100);
            s->scales[3 * i + k] = (float)exp(frand(-9.5, 5.5));
        }
        float *q = s->rotations + 4 * i;
        double nn;
        do {
            for (int k = 0; k < 4; k++) q[k] = (float)frand(-1, 1);
            nn = sqrt((double)q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        } while (nn < 0.2 || nn > 1 || fabs(q[0]) / nn < min_abs_w);
        for (int k = 0; k < 4; k++) q[k] = (float)(q[k] / nn);
        s->opacities[i] = (float)frand(0, 1);
        float *sh = s->sh + (size_t)i * K * 3;
        for (int c = 0; c < 3; c++) sh[c] = (float)frand(-3.2, 3.2);
        for (int k = 3; k < K * 3; k++) sh[k] = (float)frand(-0.95, 0.95);
    }
}

static gs_status read_path(const char *path, gs_scene *s) {
    uint8_t *d;
    size_t n;
    gs_status st = gs_read_file(path, (size_t)1 << 30, &d, &n);
    if (st) return st;
    st = gs_spz_read_mem(d, n, path, s);
    free(d);
    return st;
}

static double quat_absdot(const float *a, const float *b) {
    return fabs((double)a[0] * b[0] + (double)a[1] * b[1] + (double)a[2] * b[2] + (double)a[3] * b[3]);
}

/* Decompress stream idx of a well-formed v4 file (test-side, independent of the reader). */
static uint8_t *v4_stream(const uint8_t *f, int idx, size_t *u) {
    size_t off = 32 + 16 * (size_t)f[15];
    uint64_t c = 0, uu = 0;
    for (int i = 0; i <= idx; i++) {
        memcpy(&c, f + 32 + 16 * i, 8);
        memcpy(&uu, f + 40 + 16 * i, 8);
        if (i < idx) off += c;
    }
    uint8_t *d = malloc(uu ? uu : 1);
    *u = ZSTD_decompress(d, uu, f + off, c);
    return d;
}

/* a smallest-three word with the sign bits of zero-magnitude fields cleared (+0 == -0) */
static uint32_t s3_canonical(uint32_t w) {
    for (int f = 0; f < 3; f++)
        if (((w >> (10 * f)) & 511u) == 0) w &= ~(512u << (10 * f));
    return w;
}

/* ---- the real scene -------------------------------------------------------- */

TEST(spz_biker_loads) {
    REQUIRE_DATA();
    uint8_t *d;
    size_t n;
    CHECK_OK(gs_read_file(gs_test_data("splats/biker.spz"), (size_t)1 << 30, &d, &n));
    CHECK(n > 32 && d[0] == 'N' && d[4] == 4); /* an NGSP v4 file */
    gs_scene s;
    CHECK_OK(gs_spz_read_mem(d, n, "biker.spz", &s));
    free(d);
    CHECK_EQ_INT(s.n, 152746);
    CHECK_EQ_INT(s.sh_degree, 0);
    CHECK_EQ_INT(s.antialiased, 0);
    CHECK_EQ_INT(gs_scene_count_invalid(&s), 0);
    int64_t not_unit = 0, bad_opacity = 0;
    for (int64_t i = 0; i < s.n; i++) {
        const float *q = s.rotations + 4 * i;
        double qq = (double)q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3];
        not_unit += fabs(qq - 1) > 1e-5;
        bad_opacity += !(s.opacities[i] >= 0 && s.opacities[i] <= 1);
        /* 24-bit fixed point at 12 fractional bits: every coordinate is a multiple of 2^-12 */
        double fx = s.means[3 * i] * 4096.0;
        if (fx != floor(fx)) not_unit++;
    }
    CHECK_EQ_INT(not_unit, 0);
    CHECK_EQ_INT(bad_opacity, 0);
    gs_scene_stats st;
    CHECK_OK(gs_scene_stats_compute(&s, &st));
    /* bbox (RDF): min (-0.6213, -3.1802, -0.5322), max (0.4143, 0.0, 0.6133):
     * a figure about 3.2 units tall standing on y = 0 with -y up, as RDF
     * should put it after flipping the file's RUB y. */
    CHECK_NEAR(st.bbox_min[0], -0.62, 0.05);
    CHECK_NEAR(st.bbox_min[1], -3.18, 0.05);
    CHECK_NEAR(st.bbox_min[2], -0.53, 0.05);
    CHECK_NEAR(st.bbox_max[0], 0.41, 0.05);
    CHECK_NEAR(st.bbox_max[1], 0.0, 0.05);
    CHECK_NEAR(st.bbox_max[2], 0.61, 0.05);
    CHECK(st.opacity_min >= 0 && st.opacity_max <= 1 && st.opacity_mean > 0.1 && st.opacity_mean < 0.9);
    CHECK(st.scale_min > 4.5e-5 * 0.99 && st.scale_max < 1.0 && st.scale_median > 1e-4 && st.scale_median < 0.05);
    gs_scene_free(&s);
}

TEST(spz_biker_reencode_is_stable) {
    REQUIRE_DATA();
    gs_scene a, b, c;
    CHECK_OK(read_path(gs_test_data("splats/biker.spz"), &a));
    const char *p4 = gs_test_tmp("biker_v4.spz"), *p3 = gs_test_tmp("biker_v3.spz");
    CHECK_OK(gs_spz_write(p4, &a, 4));
    CHECK_OK(gs_spz_write(p3, &a, 3));
    CHECK_OK(read_path(p4, &b));
    CHECK_OK(read_path(p3, &c));
    if (gs_test_failed()) return;
    CHECK_EQ_INT(b.n, a.n);
    CHECK_EQ_INT(b.sh_degree, 0);
    /* every quantity re-encodes to the same byte, so decode(encode(decode(x)))
     * == decode(x) exactly; a rotation may only move by one 9-bit quantum
     * where two components tie for largest. */
    int64_t pos_diff = 0, other_diff = 0, rot_exact = 0;
    double rot_max = 0, rot_dot = 1;
    for (int64_t i = 0; i < a.n; i++) {
        for (int k = 0; k < 3; k++) {
            pos_diff += a.means[3 * i + k] != b.means[3 * i + k] || a.means[3 * i + k] != c.means[3 * i + k];
            other_diff += a.scales[3 * i + k] != b.scales[3 * i + k] || a.sh[3 * i + k] != b.sh[3 * i + k] ||
                          a.sh[3 * i + k] != c.sh[3 * i + k];
        }
        other_diff += a.opacities[i] != b.opacities[i] || a.opacities[i] != c.opacities[i];
        int same = 1;
        /* q and -q are the same rotation; compare with the sign that matches */
        double dot = 0;
        for (int k = 0; k < 4; k++) dot += (double)a.rotations[4 * i + k] * b.rotations[4 * i + k];
        double sg = dot < 0 ? -1 : 1;
        for (int k = 0; k < 4; k++) {
            double dk = fabs((double)a.rotations[4 * i + k] - sg * b.rotations[4 * i + k]);
            if (dk > rot_max) rot_max = dk;
            same &= dk == 0 && b.rotations[4 * i + k] == c.rotations[4 * i + k];
        }
        rot_exact += same;
        double dt = quat_absdot(a.rotations + 4 * i, b.rotations + 4 * i);
        if (dt < rot_dot) rot_dot = dt;
    }
    CHECK_EQ_INT(pos_diff, 0);
    CHECK_EQ_INT(other_diff, 0);
    CHECK_MSG(rot_max <= SQRT1_2 / 511 * 1.01, "rotation moved by %g (> one quantum)", rot_max);
    CHECK(rot_dot > 1 - 1e-5);
    CHECK_MSG(rot_exact > a.n * 99 / 100, "only %lld of %lld rotations re-decode exactly", (long long)rot_exact,
              (long long)a.n);
    /* the same stream layout and zstd level as the reference: a similar size */
    uint8_t *d;
    size_t n4, n0;
    CHECK_OK(gs_read_file(p4, (size_t)1 << 30, &d, &n4));
    CHECK(d[0] == 'N' && d[4] == 4 && d[15] == 5 && d[13] == 12);
    free(d);
    CHECK_OK(gs_read_file(gs_test_data("splats/biker.spz"), (size_t)1 << 30, &d, &n0));
    free(d);
    CHECK_MSG(n4 > n0 * 8 / 10 && n4 < n0 * 12 / 10, "re-encoded size %zu vs original %zu", n4, n0);
    /* stronger: the decompressed streams equal the original file's byte for
     * byte (the quantizers match the reference writer's), except rotation
     * words that differ only in the sign of a zero field, plus the rare
     * near-tie where a different component is dropped */
    uint8_t *f0, *f4;
    CHECK_OK(gs_read_file(gs_test_data("splats/biker.spz"), (size_t)1 << 30, &f0, &n0));
    CHECK_OK(gs_read_file(p4, (size_t)1 << 30, &f4, &n4));
    for (int i = 0; i < 5; i++) {
        size_t u0, u4;
        uint8_t *s0 = v4_stream(f0, i, &u0), *s4 = v4_stream(f4, i, &u4);
        CHECK_EQ_INT(u0, u4);
        if (u0 == u4 && i < 4) CHECK_MSG(!memcmp(s0, s4, u0), "stream %d differs from the original", i);
        if (u0 == u4 && i == 4) {
            int64_t words = (int64_t)(u0 / 4), raw = 0, real = 0;
            for (int64_t k = 0; k < words; k++) {
                uint32_t x, y;
                memcpy(&x, s0 + 4 * k, 4);
                memcpy(&y, s4 + 4 * k, 4);
                raw += x != y;
                real += s3_canonical(x) != s3_canonical(y);
            }
            CHECK_MSG(real <= words / 10000, "%lld of %lld rotation words differ (%lld raw)", (long long)real,
                      (long long)words, (long long)raw);
        }
        free(s0);
        free(s4);
    }
    free(f0);
    free(f4);
    gs_scene_free(&a);
    gs_scene_free(&b);
    gs_scene_free(&c);
}

/* ---- round trips --------------------------------------------------------- */

TEST(spz_roundtrip_all_versions_and_degrees) {
    for (int version = 2; version <= 4; version++) {
        for (int degree = 0; degree <= 3; degree++) {
            gs_scene s, r;
            /* v2 reconstructs w from xyz, which is ill-conditioned for small |w| */
            random_scene(&s, 300, degree, version == 2 ? 0.5 : 0.0);
            s.antialiased = degree & 1;
            const char *p = gs_test_tmp("rt.spz");
            CHECK_OK(gs_spz_write(p, &s, version));
            CHECK_OK(read_path(p, &r));
            if (gs_test_failed()) { gs_scene_free(&s); return; }
            CHECK_EQ_INT(r.n, s.n);
            CHECK_EQ_INT(r.sh_degree, degree);
            CHECK_EQ_INT(r.antialiased, degree & 1);
            CHECK_EQ_INT(gs_scene_count_invalid(&r), 0);
            int K = gs_sh_coeffs(degree);
            /* tolerances = half a quantization step (+ float slack):
             * positions 2^-12 steps; log scale 1/16 steps; opacity 1/255;
             * DC 1/(0.15*255); SH 1/128 rounded to buckets of 8 (degree 1) or
             * 16 (higher) steps. Smallest-three: 3 components in steps of
             * sqrt(1/2)/511 with the largest reconstructed, |dq| <= ~2.1e-3. */
            double e_pos = 0, e_ls = 0, e_op = 0, e_dc = 0, e_sh1 = 0, e_shr = 0, e_rot = 0, min_dot = 1;
            for (int64_t i = 0; i < s.n; i++) {
                for (int k = 0; k < 3; k++) {
                    e_pos = fmax(e_pos, fabs(s.means[3 * i + k] - r.means[3 * i + k]));
                    e_ls = fmax(e_ls, fabs(log(s.scales[3 * i + k]) - log(r.scales[3 * i + k])));
                }
                e_op = fmax(e_op, fabs(s.opacities[i] - r.opacities[i]));
                const float *a = s.sh + (size_t)i * K * 3, *b = r.sh + (size_t)i * K * 3;
                for (int k = 0; k < K * 3; k++) {
                    double e = fabs(a[k] - b[k]);
                    if (k < 3) e_dc = fmax(e_dc, e);
                    else if (k < 12) e_sh1 = fmax(e_sh1, e);
                    else e_shr = fmax(e_shr, e);
                }
                double R1[3][3], R2[3][3];
                quat_to_mat(s.rotations + 4 * i, R1);
                quat_to_mat(r.rotations + 4 * i, R2);
                for (int u = 0; u < 3; u++)
                    for (int v = 0; v < 3; v++) e_rot = fmax(e_rot, fabs(R1[u][v] - R2[u][v]));
                min_dot = fmin(min_dot, quat_absdot(s.rotations + 4 * i, r.rotations + 4 * i));
            }
            CHECK_MSG(e_pos <= 0.5 / 4096 + 1e-5, "v%d deg %d: position error %g", version, degree, e_pos);
            CHECK_MSG(e_ls <= 0.5 / 16 + 1e-5, "v%d deg %d: log-scale error %g", version, degree, e_ls);
            CHECK_MSG(e_op <= 0.5 / 255 + 1e-6, "v%d deg %d: opacity error %g", version, degree, e_op);
            CHECK_MSG(e_dc <= 0.5 / (0.15 * 255) + 1e-5, "v%d deg %d: DC error %g", version, degree, e_dc);
            CHECK_MSG(e_sh1 <= (4 + 0.5) / 128 + 1e-6, "v%d deg %d: SH1 error %g", version, degree, e_sh1);
            CHECK_MSG(e_shr <= (8 + 0.5) / 128 + 1e-6, "v%d deg %d: SH2+ error %g", version, degree, e_shr);
            if (version >= 3) {
                CHECK_MSG(e_rot <= 0.01 && min_dot >= 1 - 3e-6, "v%d: rotation error %g, min |dot| %.9f", version,
                          e_rot, min_dot);
            } else {
                /* xyz steps 1/127.5, w from the unit constraint with |w| >= 0.5 */
                CHECK_MSG(e_rot <= 0.06 && min_dot >= 1 - 2e-4, "v2: rotation error %g, min |dot| %.9f", e_rot, min_dot);
            }
            /* the quantization error is real: not a lossless pass-through */
            CHECK(e_pos > 0 && e_ls > 0.01);
            /* and re-encoding the decoded scene reproduces it */
            gs_scene r2;
            CHECK_OK(gs_spz_write(p, &r, version));
            CHECK_OK(read_path(p, &r2));
            if (!gs_test_failed()) {
                int64_t diff = 0;
                for (int64_t i = 0; i < s.n * 3; i++) diff += r.means[i] != r2.means[i] || r.scales[i] != r2.scales[i];
                for (int64_t i = 0; i < s.n * K * 3; i++) diff += r.sh[i] != r2.sh[i];
                for (int64_t i = 0; i < s.n; i++) diff += r.opacities[i] != r2.opacities[i];
                CHECK_MSG(diff == 0, "v%d deg %d: %lld values changed on re-encode", version, degree, (long long)diff);
                gs_scene_free(&r2);
            }
            gs_scene_free(&s);
            gs_scene_free(&r);
        }
    }
}

TEST(spz_write_clamps_positions_and_rejects_bad_scenes) {
    gs_scene s, r;
    CHECK_OK(gs_scene_alloc(&s, 4, 0));
    s.means[0] = 5000;   /* past the +-2048 range of 24-bit fixed point at 12 bits */
    s.means[1] = -5000;  /* becomes +5000 in the file's RUB */
    s.means[2] = 1e30f;
    for (int i = 0; i < 12; i++) s.scales[i] = 0.01f;
    s.scales[3] = 1e-30f; /* log = -69 clamps to the smallest code, exp(-10) */
    s.scales[4] = 1e9f;  /* clamps to the largest, exp(255/16 - 10) */
    const char *p = gs_test_tmp("clamp.spz");
    CHECK_OK(gs_spz_write(p, &s, 4));
    CHECK_OK(read_path(p, &r));
    if (!gs_test_failed()) {
        CHECK_NEAR(r.means[0], 8388607.0 / 4096, 0);
        CHECK_NEAR(r.means[1], -8388607.0 / 4096, 0);
        CHECK_NEAR(r.means[2], 2048.0, 0); /* RUB -1e30 clamps to -2^23, back to RDF +2048 */
        CHECK_NEAR(r.scales[3], exp(-10.0), 1e-9);
        CHECK_NEAR(r.scales[4], exp(255.0 / 16 - 10), 1e-2);
        gs_scene_free(&r);
    }
    /* invalid splats are left out (test_exports.c checks which) */
    s.means[5] = NAN;
    CHECK_OK(gs_spz_write(p, &s, 4));
    CHECK_OK(read_path(p, &r));
    CHECK_EQ_INT(r.n, 3);
    gs_scene_free(&r);
    s.means[5] = 0;
    CHECK_ERR(gs_spz_write(p, &s, 5), "version 5");
    CHECK_ERR(gs_spz_write(p, &s, 1), "version 1");
    /* failed writes never touch the destination */
    const char *q = gs_test_tmp("never.spz");
    CHECK_ERR(gs_spz_write(q, &s, 7), "version 7");
    CHECK(!gs_file_exists(q));
    gs_scene e;
    CHECK_OK(gs_scene_alloc(&e, 0, 0));
    CHECK_ERR(gs_spz_write(q, &e, 4), "no Gaussians");
    CHECK(!gs_file_exists(q));
    gs_scene_free(&e);
    gs_scene_free(&s);
}

/* ---- hand-built files with known bytes ------------------------------------------- */

/* two splats, degree 1, stored in RUB */
static const uint8_t k_alpha[2] = {255, 51};
static const uint8_t k_color[6] = {128, 255, 0, 64, 192, 128};
static const uint8_t k_scale[6] = {160, 144, 176, 0, 255, 160};
static const uint8_t k_rot[8] = {0xFF, 0x01, 0x00, 0x40, 0x64, 0x00, 0x00, 0xF0};
static const uint8_t k_sh[18] = {192, 64, 128, 160, 96, 128, 96, 128, 160,   /* splat 0: y, z, x basis */
                                 128, 128, 128, 0, 255, 128, 128, 128, 128};
static void known_positions(uint8_t pos[18]) {
    put_i24(pos + 0, 4096);      /* x = 1.0 */
    put_i24(pos + 3, 2048);      /* y = 0.5 up */
    put_i24(pos + 6, -4096);     /* z = -1.0 (forward) */
    put_i24(pos + 9, -8388608);  /* most negative 24-bit value */
    put_i24(pos + 12, 8388607);
    put_i24(pos + 15, -1);
}

static void check_known_splats(const gs_scene *s, int antialiased) {
    CHECK_EQ_INT(s->n, 2);
    CHECK_EQ_INT(s->sh_degree, 1);
    CHECK_EQ_INT(s->antialiased, antialiased);
    /* positions: RDF = (x, -y, -z) of the stored RUB values */
    CHECK_NEAR(s->means[0], 1.0, 0);
    CHECK_NEAR(s->means[1], -0.5, 0);
    CHECK_NEAR(s->means[2], 1.0, 0);
    CHECK_NEAR(s->means[3], -2048.0, 0);
    CHECK_NEAR(s->means[4], -8388607.0 / 4096, 0);
    CHECK_NEAR(s->means[5], 1.0 / 4096, 0);
    CHECK_NEAR(s->opacities[0], 1.0, 0);
    CHECK_NEAR(s->opacities[1], 0.2, 1e-7);
    /* scales: exp(byte/16 - 10) */
    CHECK_NEAR(s->scales[0], 1.0, 1e-6);
    CHECK_NEAR(s->scales[1], exp(-1.0), 1e-6);
    CHECK_NEAR(s->scales[2], exp(1.0), 1e-5);
    CHECK_NEAR(s->scales[3], exp(-10.0), 1e-9);
    CHECK_NEAR(s->scales[4], exp(5.9375), 1e-3);
    /* DC = (byte/255 - 0.5)/0.15 */
    CHECK_NEAR(s->sh[0], (128 / 255.0 - 0.5) / 0.15, 1e-6);
    CHECK_NEAR(s->sh[1], 0.5 / 0.15, 1e-6);
    CHECK_NEAR(s->sh[2], -0.5 / 0.15, 1e-6);
    /* SH: (byte-128)/128; the y- and z-odd degree-1 functions flip sign */
    const float *a = s->sh + 3, *b = s->sh + 12 + 3;
    CHECK_NEAR(a[0], -0.5, 0);  CHECK_NEAR(a[1], 0.5, 0);  CHECK_NEAR(a[2], 0, 0);
    CHECK_NEAR(a[3], -0.25, 0); CHECK_NEAR(a[4], 0.25, 0); CHECK_NEAR(a[5], 0, 0);
    CHECK_NEAR(a[6], -0.25, 0); CHECK_NEAR(a[7], 0, 0);    CHECK_NEAR(a[8], 0.25, 0);
    CHECK_NEAR(b[3], 1.0, 0);   CHECK_NEAR(b[4], -127.0 / 128, 0);
    /* rotation 0: 0x400001FF -> largest is y; x = z = 0, w = sqrt(1/2) -> file
     * xyzw (0, .7071, 0, .7071); RDF negates y, z -> wxyz (.7071, 0, -.7071, 0) */
    const float *q0 = s->rotations, *q1 = s->rotations + 4;
    CHECK_NEAR(q0[0], SQRT1_2, 1e-6);
    CHECK_NEAR(q0[1], 0, 0);
    CHECK_NEAR(q0[2], -SQRT1_2, 1e-6);
    CHECK_NEAR(q0[3], 0, 0);
    /* rotation 1: 0xF0000064 -> largest w; x = -256/511*sqrt(1/2) (bits 29-20,
     * sign set), y = 0, z = +100/511*sqrt(1/2) (bits 9-0) */
    double x = -256.0 / 511 * SQRT1_2, z = 100.0 / 511 * SQRT1_2, w = sqrt(1 - x * x - z * z);
    CHECK_NEAR(q1[0], w, 1e-6);
    CHECK_NEAR(q1[1], x, 1e-6);
    CHECK_NEAR(q1[2], 0, 0);
    CHECK_NEAR(q1[3], -z, 1e-6);
}

static void known_v4_spec(v4_spec *sp, uint8_t pos[18]) {
    memset(sp, 0, sizeof *sp);
    known_positions(pos);
    sp->n = 2;
    sp->degree = 1;
    sp->frac = 12;
    sp->flags = 1;
    const uint8_t *st[6] = {pos, k_alpha, k_color, k_scale, k_rot, k_sh};
    const size_t sz[6] = {18, 2, 6, 6, 8, 18};
    memcpy(sp->stream, st, sizeof st);
    memcpy(sp->size, sz, sizeof sz);
}

static uint8_t *known_v4(size_t *n) {
    v4_spec sp;
    uint8_t pos[18];
    known_v4_spec(&sp, pos);
    return build_v4(&sp, n);
}

static uint8_t *known_legacy(uint32_t version, size_t *n) {
    uint8_t blocks[18 + 2 + 6 + 6 + 8 + 18], *p = blocks;
    known_positions(p); p += 18;
    memcpy(p, k_alpha, 2); p += 2;
    memcpy(p, k_color, 6); p += 6;
    memcpy(p, k_scale, 6); p += 6;
    memcpy(p, k_rot, 8); p += 8;
    memcpy(p, k_sh, 18);
    return build_legacy(version, 2, 1, 1, blocks, sizeof blocks, n);
}

TEST(spz_known_bytes_v4_and_v3) {
    size_t n;
    uint8_t *f = known_v4(&n);
    gs_scene s;
    CHECK_OK(gs_spz_read_mem(f, n, "known.spz", &s));
    if (!gs_test_failed()) check_known_splats(&s, 1);
    gs_scene_free(&s);
    free(f);
    /* the same blocks in the legacy gzip container (v3 = smallest-three too) */
    f = known_legacy(3, &n);
    CHECK_OK(gs_spz_read_mem(f, n, "known_v3.spz", &s));
    if (!gs_test_failed()) check_known_splats(&s, 1);
    gs_scene_free(&s);
    /* bytes after the gzip member are ignored, as zlib and the reference do */
    uint8_t *g = malloc(n + 7);
    memcpy(g, f, n);
    memcpy(g + n, "garbage", 7);
    CHECK_OK(gs_spz_read_mem(g, n + 7, "trailing.spz", &s));
    CHECK_EQ_INT(s.n, 2);
    gs_scene_free(&s);
    free(g);
    free(f);
}

TEST(spz_known_bytes_v2_v1) {
    /* v2: 24-bit positions, rotations as 3 bytes xyz = byte/127.5 - 1, w >= 0 */
    uint8_t blocks[9 + 1 + 3 + 3 + 3];
    memset(blocks, 0, sizeof blocks);
    put_i24(blocks, 6144);         /* 1.5 */
    put_i24(blocks + 3, -2048);    /* -0.5 up -> +0.5 down */
    put_i24(blocks + 6, 1);
    blocks[9] = 128;
    blocks[10] = blocks[11] = blocks[12] = 128;
    blocks[13] = blocks[14] = blocks[15] = 160;
    blocks[16] = 191; blocks[17] = 64; blocks[18] = 140;
    size_t n;
    uint8_t *f = build_legacy(2, 1, 0, 0, blocks, sizeof blocks, &n);
    gs_scene s;
    CHECK_OK(gs_spz_read_mem(f, n, "v2.spz", &s));
    free(f);
    if (gs_test_failed()) return;
    CHECK_EQ_INT(s.n, 1);
    CHECK_EQ_INT(s.sh_degree, 0);
    CHECK_EQ_INT(s.antialiased, 0);
    CHECK_NEAR(s.means[0], 1.5, 0);
    CHECK_NEAR(s.means[1], 0.5, 0);
    CHECK_NEAR(s.means[2], -1.0 / 4096, 0);
    CHECK_NEAR(s.opacities[0], 128 / 255.0, 1e-7);
    double x = 191 / 127.5 - 1, y = 64 / 127.5 - 1, z = 140 / 127.5 - 1, w = sqrt(1 - x * x - y * y - z * z);
    CHECK_NEAR(s.rotations[0], w, 1e-6);
    CHECK_NEAR(s.rotations[1], x, 1e-6);
    CHECK_NEAR(s.rotations[2], -y, 1e-6);
    CHECK_NEAR(s.rotations[3], -z, 1e-6);
    gs_scene_free(&s);

    /* v1: float16 positions (6 bytes per splat), otherwise as v2 */
    uint8_t b1[6 + 1 + 3 + 3 + 3];
    memset(b1, 128, sizeof b1);
    const uint16_t h[3] = {0x3E00 /* 1.5 */, 0xC000 /* -2 */, 0x3400 /* 0.25 */};
    for (int k = 0; k < 3; k++) { b1[2 * k] = (uint8_t)h[k]; b1[2 * k + 1] = (uint8_t)(h[k] >> 8); }
    f = build_legacy(1, 1, 0, 0, b1, sizeof b1, &n);
    CHECK_OK(gs_spz_read_mem(f, n, "v1.spz", &s));
    if (!gs_test_failed()) {
        CHECK_NEAR(s.means[0], 1.5, 0);
        CHECK_NEAR(s.means[1], 2.0, 0);
        CHECK_NEAR(s.means[2], -0.25, 0);
        gs_scene_free(&s);
    }
    free(f);
    b1[1] = 0x7C; b1[0] = 0; /* +inf half */
    f = build_legacy(1, 1, 0, 0, b1, sizeof b1, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "v1inf.spz", &s), "non-finite");
    free(f);
}

/* A random degree-3 file: the decoded RDF splat must describe the same
 * physical Gaussian as the stored RUB one, i.e. C_rdf = D C_rub D with
 * D = diag(1,-1,-1), and SH colour in direction D d equals the file's in d. */
TEST(spz_coordinate_flip_preserves_covariance_and_sh) {
    enum { N = 64, DIM = 15 };
    uint8_t pos[N * 9], alpha[N], color[N * 3], scale[N * 3], rot[N * 4], sh[N * DIM * 3];
    for (int i = 0; i < N * 9; i++) pos[i] = (uint8_t)frand(0, 256);
    for (int i = 0; i < N; i++) alpha[i] = (uint8_t)frand(0, 256);
    for (int i = 0; i < N * 3; i++) { color[i] = (uint8_t)frand(0, 256); scale[i] = (uint8_t)frand(96, 176); }
    for (int i = 0; i < N * DIM * 3; i++) sh[i] = (uint8_t)frand(0, 256);
    /* smallest-three words: 2-bit index of the dropped component, then three
     * sign+9-bit fields whose squares (times 1/2) sum below 1 */
    for (int i = 0; i < N; i++) {
        uint32_t m[3];
        do {
            for (int k = 0; k < 3; k++) m[k] = (uint32_t)frand(0, 512);
        } while (0.5 * ((double)m[0] * m[0] + (double)m[1] * m[1] + (double)m[2] * m[2]) / (511.0 * 511.0) > 1);
        uint32_t comp = (uint32_t)frand(0, 4);
        for (int k = 0; k < 3; k++) comp = comp << 10 | (uint32_t)(frand(0, 1) < 0.5) << 9 | m[k];
        rot[4 * i] = (uint8_t)comp; rot[4 * i + 1] = (uint8_t)(comp >> 8);
        rot[4 * i + 2] = (uint8_t)(comp >> 16); rot[4 * i + 3] = (uint8_t)(comp >> 24);
    }
    v4_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.n = N;
    sp.degree = 3;
    sp.frac = 10;
    const uint8_t *st[6] = {pos, alpha, color, scale, rot, sh};
    const size_t sz[6] = {sizeof pos, sizeof alpha, sizeof color, sizeof scale, sizeof rot, sizeof sh};
    memcpy(sp.stream, st, sizeof st);
    memcpy(sp.size, sz, sizeof sz);
    size_t n;
    uint8_t *f = build_v4(&sp, &n);
    gs_scene s;
    CHECK_OK(gs_spz_read_mem(f, n, "flip.spz", &s));
    free(f);
    if (gs_test_failed()) return;
    CHECK_EQ_INT(s.sh_degree, 3);
    double max_cov = 0, max_sh = 0, max_pos = 0;
    for (int i = 0; i < N; i++) {
        /* the file's own values, decoded independently and left in RUB */
        float q_rub[4], sc[3];
        uint32_t comp = (uint32_t)rot[4 * i] | (uint32_t)rot[4 * i + 1] << 8 | (uint32_t)rot[4 * i + 2] << 16 |
                        (uint32_t)rot[4 * i + 3] << 24;
        int L = (int)(comp >> 30);
        double xyzw[4], ss = 0;
        for (int c = 3, shift = 0; c >= 0; c--) {
            if (c == L) continue;
            uint32_t f10 = (comp >> shift) & 1023u;
            shift += 10;
            xyzw[c] = (f10 & 512 ? -1.0 : 1.0) * (f10 & 511) / 511.0 * SQRT1_2;
            ss += xyzw[c] * xyzw[c];
        }
        xyzw[L] = sqrt(1 - ss);
        q_rub[0] = (float)xyzw[3]; q_rub[1] = (float)xyzw[0]; q_rub[2] = (float)xyzw[1]; q_rub[3] = (float)xyzw[2];
        for (int k = 0; k < 3; k++) {
            sc[k] = (float)exp(scale[3 * i + k] / 16.0 - 10);
            int32_t v = pos[9 * i + 3 * k] | pos[9 * i + 3 * k + 1] << 8 | pos[9 * i + 3 * k + 2] << 16;
            if (v & 0x800000) v -= 1 << 24;
            double p_rub = v / 1024.0, want = k == 0 ? p_rub : -p_rub;
            max_pos = fmax(max_pos, fabs(s.means[3 * i + k] - want));
        }
        double Crub[3][3], Crdf[3][3];
        covariance(q_rub, sc, Crub);
        covariance(s.rotations + 4 * i, s.scales + 3 * i, Crdf);
        const double D[3] = {1, -1, -1};
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++)
                max_cov = fmax(max_cov, fabs(Crdf[a][b] - D[a] * Crub[a][b] * D[b]) / (sc[0] * sc[0] + sc[1] * sc[1] + sc[2] * sc[2]));
        for (int c = 0; c < 3; c++) {
            double crub[16], crdf[16];
            crub[0] = (color[3 * i + c] / 255.0 - 0.5) / 0.15;
            for (int k = 1; k < 16; k++) crub[k] = (sh[(i * DIM + k - 1) * 3 + c] - 128) / 128.0;
            for (int k = 0; k < 16; k++) crdf[k] = s.sh[(i * 16 + k) * 3 + c];
            for (int t = 0; t < 8; t++) {
                double d[3] = {frand(-1, 1), frand(-1, 1), frand(-1, 1)}, dn = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
                for (int k = 0; k < 3; k++) d[k] /= dn;
                double dd[3] = {d[0], -d[1], -d[2]};
                max_sh = fmax(max_sh, fabs(sh_eval(crub, 16, d) - sh_eval(crdf, 16, dd)));
            }
        }
    }
    CHECK_MSG(max_pos == 0, "position flip error %g", max_pos);
    CHECK_MSG(max_cov < 1e-5, "covariance does not transform as D C D: %g", max_cov);
    CHECK_MSG(max_sh < 1e-5, "SH colour differs across the flip: %g", max_sh);
    gs_scene_free(&s);
}

TEST(spz_degree4_keeps_degree3) {
    enum { DIM = 24 };
    uint8_t pos[9] = {0}, alpha[1] = {200}, color[3] = {1, 2, 3}, scale[3] = {160, 160, 160};
    uint8_t rot[4] = {0, 0, 0, 0xC0}, sh[DIM * 3];
    for (int k = 0; k < DIM * 3; k++) sh[k] = (uint8_t)(k < 45 ? 128 + k : 0);
    v4_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.n = 1;
    sp.degree = 4;
    sp.frac = 12;
    const uint8_t *st[6] = {pos, alpha, color, scale, rot, sh};
    const size_t sz[6] = {9, 1, 3, 3, 4, sizeof sh};
    memcpy(sp.stream, st, sizeof st);
    memcpy(sp.size, sz, sizeof sz);
    size_t n;
    uint8_t *f = build_v4(&sp, &n);
    gs_scene s;
    CHECK_OK(gs_spz_read_mem(f, n, "deg4.spz", &s));
    free(f);
    if (gs_test_failed()) return;
    CHECK_EQ_INT(s.sh_degree, 3);
    /* identity rotation stays identity */
    CHECK_NEAR(s.rotations[0], 1, 0);
    /* coefficient 15 (the last degree-3 one, x(xx-3yy): even in y and z) keeps its sign */
    CHECK_NEAR(s.sh[15 * 3 + 2], (128 + 44 - 128) / 128.0, 0);
    /* coefficient 1 (y basis) flips */
    CHECK_NEAR(s.sh[3], -(0.0) / 128, 0);
    CHECK_NEAR(s.sh[4], -1 / 128.0, 0);
    /* coefficient 14 (z(xx-yy)) flips: file index 13, channel 1 = byte 128+40 */
    CHECK_NEAR(s.sh[14 * 3 + 1], -40 / 128.0, 0);
    gs_scene_free(&s);
}

TEST(spz_extensions_are_skipped_or_applied) {
    uint8_t pos[18];
    v4_spec sp;
    known_v4_spec(&sp, pos);
    /* an unknown record, then the Adobe coordinate-system record saying RUB */
    uint8_t ext[12 + 12];
    put_u32(ext, 0x12340001); put_u32(ext + 4, 4); put_u32(ext + 8, 0xdeadbeef);
    put_u32(ext + 12, 0xADBE0003); put_u32(ext + 16, 4); put_u32(ext + 20, 4);
    sp.ext = ext;
    sp.next = sizeof ext;
    sp.flags = 1 | 2;
    size_t n;
    uint8_t *f = build_v4(&sp, &n);
    gs_scene s;
    CHECK_OK(gs_spz_read_mem(f, n, "ext.spz", &s));
    if (!gs_test_failed()) check_known_splats(&s, 1);
    gs_scene_free(&s);
    free(f);
    /* stored directly in RDF: nothing flips */
    put_u32(ext + 20, 6);
    f = build_v4(&sp, &n);
    CHECK_OK(gs_spz_read_mem(f, n, "ext_rdf.spz", &s));
    if (!gs_test_failed()) {
        CHECK_NEAR(s.means[1], 0.5, 0);
        CHECK_NEAR(s.means[2], -1.0, 0);
        CHECK_NEAR(s.sh[3], 0.5, 0);
        CHECK_NEAR(s.rotations[2], SQRT1_2, 1e-6);
    }
    gs_scene_free(&s);
    free(f);
    /* a rotated axis family (RFU) is refused rather than misread */
    put_u32(ext + 20, 12);
    f = build_v4(&sp, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "ext_rfu.spz", &s), "coordinate system 12");
    free(f);
    put_u32(ext + 20, 17);
    f = build_v4(&sp, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "ext_bad.spz", &s), "unknown value 17");
    free(f);
    /* a record longer than the extension block */
    put_u32(ext + 20, 4);
    put_u32(ext + 4, 40);
    f = build_v4(&sp, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "ext_long.spz", &s), "declares 40 bytes");
    free(f);
    /* without flag 2 the same bytes are not parsed (as in the reference) */
    sp.flags = 1;
    f = build_v4(&sp, &n);
    CHECK_OK(gs_spz_read_mem(f, n, "ext_noflag.spz", &s));
    gs_scene_free(&s);
    free(f);
    /* a half record */
    sp.flags = 3;
    sp.next = 5;
    f = build_v4(&sp, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "ext_half.spz", &s), "truncated SPZ extension");
    free(f);
}

/* ---- malformed input -------------------------------------------------------------- */

TEST(spz_truncated_at_every_length) {
    size_t n4, ng;
    uint8_t *f4 = known_v4(&n4), *fg = known_legacy(3, &ng);
    gs_scene s;
    int64_t ok4 = 0, okg = 0;
    for (size_t len = 0; len < n4; len++) {
        uint8_t *t = malloc(len + 1); /* exact-size copy so ASan sees overreads */
        memcpy(t, f4, len);
        gs_status st = gs_spz_read_mem(t, len, "trunc.spz", &s);
        ok4 += st == GS_OK;
        if (st == GS_OK) gs_scene_free(&s);
        else CHECK_MSG(strstr(gs_last_error(), "trunc.spz") != NULL, "message lacks the name: %s", gs_last_error());
        free(t);
    }
    for (size_t len = 0; len < ng; len++) {
        uint8_t *t = malloc(len + 1);
        memcpy(t, fg, len);
        gs_status st = gs_spz_read_mem(t, len, "trunc.spz", &s);
        okg += st == GS_OK;
        if (st == GS_OK) gs_scene_free(&s);
        free(t);
    }
    CHECK_EQ_INT(ok4, 0);
    CHECK_EQ_INT(okg, 0);
    CHECK_ERR(gs_spz_read_mem(f4, 20, "t.spz", &s), "truncated SPZ header");
    CHECK_ERR(gs_spz_read_mem(f4, n4 - 1, "t.spz", &s), "runs past the end");
    CHECK_ERR(gs_spz_read_mem(fg, ng - 4, "t.spz", &s), "truncated");
    CHECK_ERR(gs_spz_read_mem(fg, 20, "t.spz", &s), "truncated");
    free(f4);
    free(fg);
}

TEST(spz_rejects_bad_headers) {
    size_t n;
    uint8_t *f = known_v4(&n), *t = malloc(n + 16);
    gs_scene s;
#define MUTATE(stmt, needle)                                                     \
    do {                                                                         \
        memcpy(t, f, n);                                                         \
        stmt;                                                                    \
        CHECK_ERR(gs_spz_read_mem(t, n, "bad.spz", &s), needle);                 \
    } while (0)
    MUTATE(t[0] = 'X', "bad magic");
    MUTATE(put_u32(t + 4, 5), "unsupported SPZ version 5");
    MUTATE(put_u32(t + 4, 3), "version 3 in an uncompressed NGSP header");
    MUTATE(put_u32(t + 8, 0), "0 splats");
    MUTATE(put_u32(t + 8, 0x80000000u), "over the limit");
    MUTATE(put_u32(t + 8, 3), "expected 27");                /* TOC disagrees with the count */
    MUTATE(t[12] = 9, "SH degree 9");
    MUTATE(t[12] = 0, "expected 5");                         /* 6 streams where degree 0 has 5 */
    MUTATE(t[13] = 40, "fractional bits 40");
    MUTATE(t[15] = 7, "declares 7 streams");
    MUTATE(put_u32(t + 16, 8), "table of contents at byte 8");
    MUTATE(put_u32(t + 16, (uint32_t)n - 8), "outside");
    MUTATE(put_u32(t + 16, 0xFFFFFFF0u), "outside");
    MUTATE(put_u64(t + 32, (uint64_t)n), "runs past the end");
    MUTATE(put_u64(t + 32, ~0ull), "runs past the end");
    MUTATE(put_u64(t + 40, 19), "declares 19 uncompressed bytes, expected 18");
    /* 2^27 splats (under the scene limit) with a TOC to match: the sizes
     * cannot come from these few compressed bytes, refused before allocating */
    MUTATE((put_u32(t + 8, 1u << 27), put_u64(t + 40, 9ull << 27), put_u64(t + 56, 1ull << 27),
            put_u64(t + 72, 3ull << 27), put_u64(t + 88, 3ull << 27), put_u64(t + 104, 4ull << 27),
            put_u64(t + 120, 9ull << 27)),
           "cannot expand");
    /* corrupted zstd data: bad frame magic, then garbage blocks */
    size_t s0 = 32 + 16 * 6;
    MUTATE(t[s0] ^= 0xFF, "not a zstd frame");
    MUTATE(memset(t + s0 + 6, 0xFF, 8), "corrupt SPZ positions stream");
    /* trailing garbage after the last stream is rejected (as the reference does) */
    memcpy(t, f, n);
    memcpy(t + n, "0123456789abcdef", 16);
    CHECK_ERR(gs_spz_read_mem(t, n + 16, "bad.spz", &s), "16 bytes of trailing data");
    CHECK_ERR(gs_spz_read_mem(t, 3, "bad.spz", &s), "truncated");
    CHECK_ERR(gs_spz_read_mem((const uint8_t *)"PK\3\4zipfile", 11, "bad.spz", &s), "not an SPZ file");
#undef MUTATE
    free(t);
    free(f);
}

TEST(spz_rejects_bad_gzip) {
    uint8_t blocks[9 + 1 + 3 + 3 + 4];
    memset(blocks, 0, sizeof blocks);
    blocks[19] = 0xC0;
    size_t n;
    gs_scene s;
    uint8_t *f = build_legacy(3, 1, 0, 0, blocks, sizeof blocks, &n);
    CHECK_OK(gs_spz_read_mem(f, n, "ok.spz", &s));
    gs_scene_free(&s);
    /* every single corrupted byte after the 10-byte gzip header is caught
     * (by inflate, the CRC-32 or the length check) */
    int64_t missed = 0;
    for (size_t i = 10; i < n; i++) {
        f[i] ^= 0x55;
        gs_status st = gs_spz_read_mem(f, n, "corrupt.spz", &s);
        if (st == GS_OK) { missed++; gs_scene_free(&s); }
        f[i] ^= 0x55;
    }
    CHECK_EQ_INT(missed, 0);
    free(f);
    f = build_legacy(5, 1, 0, 0, blocks, sizeof blocks, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "v5.spz", &s), "unsupported SPZ version 5");
    free(f);
    f = build_legacy(3, 0x80000000u, 0, 0, blocks, sizeof blocks, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "huge.spz", &s), "over the limit");
    free(f);
    f = build_legacy(3, 1u << 27, 0, 0, blocks, sizeof blocks, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "big.spz", &s), "more than a");
    free(f);
    f = build_legacy(3, 2, 0, 0, blocks, sizeof blocks, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "short.spz", &s), "attributes end after 20 of 40 bytes");
    free(f);
    f = build_legacy(3, 1, 9, 0, blocks, sizeof blocks, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "deg9.spz", &s), "SH degree 9");
    free(f);
    /* magic inside the gzip member */
    uint8_t raw[16] = {'N', 'O', 'P', 'E'};
    f = gzip_buf(raw, sizeof raw, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "magic.spz", &s), "bad magic");
    free(f);
    f = gzip_buf(raw, 10, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "tiny.spz", &s), "less than the 16-byte header");
    free(f);
    /* legacy extension records after the blocks: a coordinate-system record saying RDF */
    uint8_t bx[sizeof blocks + 12];
    memcpy(bx, blocks, sizeof blocks);
    put_i24(bx, 4096);
    put_i24(bx + 3, 4096);
    put_u32(bx + sizeof blocks, 0xADBE0003);
    put_u32(bx + sizeof blocks + 4, 4);
    put_u32(bx + sizeof blocks + 8, 6);
    f = build_legacy(3, 1, 0, 2, bx, sizeof bx, &n);
    CHECK_OK(gs_spz_read_mem(f, n, "legacy_ext.spz", &s));
    if (!gs_test_failed()) CHECK_NEAR(s.means[1], 1.0, 0);
    gs_scene_free(&s);
    free(f);
    f = build_legacy(3, 1, 0, 0, bx, sizeof bx, &n); /* no flag: extra bytes ignored, default RUB */
    CHECK_OK(gs_spz_read_mem(f, n, "legacy_extra.spz", &s));
    if (!gs_test_failed()) CHECK_NEAR(s.means[1], -1.0, 0);
    gs_scene_free(&s);
    free(f);
    bx[sizeof bx - 8] = 40; /* record length past the end */
    f = build_legacy(3, 1, 0, 2, bx, sizeof bx, &n);
    CHECK_ERR(gs_spz_read_mem(f, n, "legacy_badext.spz", &s), "declares 40 bytes");
    free(f);
}

/* ---- the payload entry point (what the gzip reader parses after inflating) ---- */

/* The inflated member of a gzip buffer; caller frees. */
static uint8_t *gunzip_buf(const uint8_t *src, size_t n, size_t *out_size) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    inflateInit2(&zs, 16 + MAX_WBITS);
    size_t cap = 1 << 20;
    uint8_t *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int r = inflate(&zs, Z_FINISH);
    *out_size = cap - zs.avail_out;
    inflateEnd(&zs);
    if (r != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static int same_scene(const gs_scene *a, const gs_scene *b) {
    if (a->n != b->n || a->sh_degree != b->sh_degree || a->antialiased != b->antialiased) return 0;
    const size_t n = (size_t)a->n, k = (size_t)gs_sh_coeffs(a->sh_degree) * 3;
    return !memcmp(a->means, b->means, n * 3 * sizeof(float)) && !memcmp(a->scales, b->scales, n * 3 * sizeof(float)) &&
           !memcmp(a->rotations, b->rotations, n * 4 * sizeof(float)) &&
           !memcmp(a->opacities, b->opacities, n * sizeof(float)) && !memcmp(a->sh, b->sh, n * k * sizeof(float));
}

/* gs_spz_read_payload on the inflated member of a gzip file gives exactly
 * the scene gs_spz_read_mem gives on the file (versions 2, 3, and 4 in a
 * legacy header; degrees 0-3); extension records apply; every truncation,
 * a bad magic or version and too much trailing data fail, naming the input. */
TEST(spz_payload_is_what_the_gzip_reader_parses) {
    for (int version = 2; version <= 4; version++) {
        for (int degree = 0; degree <= 3; degree++) {
            gs_scene s, a, b;
            random_scene(&s, 40, degree, 0.5);
            s.antialiased = degree & 1;
            const char *p = gs_test_tmp("payload.spz");
            CHECK_OK(gs_spz_write(p, &s, version == 4 ? 3 : version));
            gs_scene_free(&s);
            uint8_t *f, *u;
            size_t n, un;
            CHECK_OK(gs_read_file(p, 1 << 20, &f, &n));
            if (gs_test_failed()) return;
            u = gunzip_buf(f, n, &un);
            CHECK(u != NULL);
            if (!u) { free(f); return; }
            if (version == 4) { /* v4's attribute layout is v3's */
                u[4] = 4;
                f = (free(f), gzip_buf(u, un, &n));
            }
            CHECK_OK(gs_spz_read_mem(f, n, "file.spz", &a));
            CHECK_OK(gs_spz_read_payload(u, un, "payload", &b));
            if (!gs_test_failed()) {
                CHECK_MSG(same_scene(&a, &b), "v%d degree %d: the payload decodes differently", version, degree);
                gs_scene_free(&b);
            }
            if (version == 3 && degree == 0) {
                /* truncated anywhere: refused with the name, nothing left */
                for (size_t len = 0; len < un; len++) {
                    uint8_t *cut = malloc(len ? len : 1); /* exact size for ASan */
                    memcpy(cut, u, len);
                    gs_clear_error();
                    gs_status st = gs_spz_read_payload(cut, len, "cut.payload", &b);
                    CHECK_MSG(st != GS_OK && !b.n && !b.means && strstr(gs_last_error(), "cut.payload"),
                              "cut to %zu of %zu: %s", len, un, gs_last_error());
                    if (st == GS_OK) gs_scene_free(&b);
                    free(cut);
                }
                /* a coordinate-system record saying RDF: no flip of y and z */
                uint8_t *x = malloc(un + 12 + ((size_t)1 << 20) + 1);
                memcpy(x, u, un);
                x[14] |= 2;
                put_u32(x + un, 0xADBE0003u);
                put_u32(x + un + 4, 4);
                put_u32(x + un + 8, 6);
                CHECK_OK(gs_spz_read_payload(x, un + 12, "ext.payload", &b));
                if (!gs_test_failed()) {
                    CHECK(b.means[0] == a.means[0] && b.means[1] == -a.means[1] && b.means[2] == -a.means[2]);
                    gs_scene_free(&b);
                }
                /* up to 1 MiB after the blocks is allowed, not more */
                memcpy(x, u, un);
                memset(x + un, 0, ((size_t)1 << 20) + 1);
                CHECK_OK(gs_spz_read_payload(x, un + ((size_t)1 << 20), "extra.payload", &b));
                gs_scene_free(&b);
                CHECK_ERR(gs_spz_read_payload(x, un + ((size_t)1 << 20) + 1, "extra.payload", &b),
                          "extra.payload: more than 1048576 bytes of unexpected data");
                x[0] = 'X';
                CHECK_ERR(gs_spz_read_payload(x, un, "magic.payload", &b), "magic.payload: bad magic");
                memcpy(x, u, un);
                x[4] = 5;
                CHECK_ERR(gs_spz_read_payload(x, un, "v5.payload", &b), "unsupported SPZ version 5");
                free(x);
                CHECK_ERR(gs_spz_read_payload(NULL, 0, "null.payload", &b), "less than the 16-byte header");
                CHECK_ERR(gs_spz_read_payload(NULL, 5, "null.payload", &b), "null.payload: no data");
            }
            gs_scene_free(&a);
            free(u);
            free(f);
        }
    }
}

/* The fuzz seeds of fuzz_spz_payload are valid payloads. */
TEST(spz_payload_fuzz_seeds_parse) {
    static const char *seeds[] = {"v1_from_seed", "v2_deg0", "v2_deg2", "v3_deg1_aa", "v3_deg3", "v3_ext_rdf", "v4_deg1"};
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fuzz/seeds/spz_payload/%s", seeds[i]);
        uint8_t *d;
        size_t n;
        CHECK_OK(gs_read_file(path, 1 << 20, &d, &n));
        if (gs_test_failed()) return;
        gs_scene s;
        CHECK_OK(gs_spz_read_payload(d, n, path, &s));
        if (!gs_test_failed()) {
            CHECK(s.n > 0 && gs_scene_count_invalid(&s) == 0);
            gs_scene_free(&s);
        }
        free(d);
    }
}
