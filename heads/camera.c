/* camera.c - DA3 camera decoder / encoder, extrinsics normalisation and the
 * ray-map -> pose solver (see camera.h; spec da3-architecture.md §2, §6).
 *
 * The decoder and encoder run in float like the reference; the rotation
 * helpers follow the reference's float operations term by term (the 3DGS
 * adapter's quaternion chain must reproduce its 4-vectors). The ray solver
 * works in double: the reference's result depends on torch.randperm anyway,
 * so only loose agreement is possible, and double keeps our own result
 * stable. Its SVD is a cyclic Jacobi eigen-decomposition of the 9x9 normal
 * matrix of the DLT system (the last right-singular vector of A is the
 * eigenvector of A^T A with the smallest eigenvalue). */
#include "heads/camera.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gs/ops/ops.h"

#define LN_EPS 1e-5f

static int finite_all(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* ---- binding helpers ---------------------------------------------------------------- */

static const float *getf(gs_weights *w, const char *prefix, int ndim, long d0, long d1, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static const float *getf(gs_weights *w, const char *prefix, int ndim, long d0, long d1, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return ndim == 1 ? gs_weights_getv(w, prefix, name, 1, d0) : gs_weights_getv(w, prefix, name, 2, d0, d1);
}

/* a [d0, d1] matrix as a weight view */
#define GETW(w, prefix, d0, d1, ...) gs_wt_f32(getf(w, prefix, 2, d0, d1, __VA_ARGS__), 2, d0, d1, 0, 0)

static gs_status bind_result(gs_weights *w, const char *prefix, int before) {
    const int problems = w->n_problems - before;
    if (problems <= 0) return GS_OK;
    return gs_error(GS_ERR_FORMAT, "%s: %d missing or mis-shaped key%s in %s:\n%s", prefix, problems,
                    problems == 1 ? "" : "s", w->st.path ? w->st.path : "the checkpoint",
                    w->problems ? w->problems : "");
}

/* ---- CameraDec ---------------------------------------------------------------------- */

gs_status gs_cam_dec_bind(gs_cam_dec *m, gs_weights *w, const char *prefix, int dim) {
    memset(m, 0, sizeof *m);
    if (!w || !prefix || dim < 1 || dim > (1 << 16))
        return gs_error(GS_ERR_INVALID, "cam_dec: bad arguments (dim %d)", dim);
    const int before = w->n_problems;
    const long D = dim;
    m->dim = dim;
    m->w0 = GETW(w, prefix, D, D, "backbone.0.weight");
    m->b0 = getf(w, prefix, 1, D, 0, "backbone.0.bias");
    m->w2 = GETW(w, prefix, D, D, "backbone.2.weight");
    m->b2 = getf(w, prefix, 1, D, 0, "backbone.2.bias");
    m->wt = GETW(w, prefix, 3, D, "fc_t.weight");
    m->bt = getf(w, prefix, 1, 3, 0, "fc_t.bias");
    m->wq = GETW(w, prefix, 4, D, "fc_qvec.weight");
    m->bq = getf(w, prefix, 1, 4, 0, "fc_qvec.bias");
    m->wf = GETW(w, prefix, 2, D, "fc_fov.0.weight");
    m->bf = getf(w, prefix, 1, 2, 0, "fc_fov.0.bias");
    gs_status st = bind_result(w, prefix, before);
    m->bound = st == GS_OK;
    return st;
}

/* cam_dec buffers: h1, h2 [S, D], the three heads' outputs tq [S, 9], pose [S, 9] */
size_t gs_cam_dec_plan(const gs_cam_dec *m, int S) {
    if (!m || S < 1) return 0;
    return 2 * gs_arena_round((size_t)S * m->dim * sizeof(float)) + 2 * gs_arena_round((size_t)S * 9 * sizeof(float));
}

gs_status gs_cam_dec_forward(const gs_ctx *c, const gs_cam_dec *m, const float *tokens, int S, int H, int W,
                             float *w2c, float *K, const gs_dump *d) {
    if (!m || !m->bound) return gs_error(GS_ERR_INVALID, "cam_dec: not bound to weights");
    if (!tokens || !w2c || !K || S < 1 || S > 100000 || H < 1 || W < 1)
        return gs_error(GS_ERR_INVALID, "cam_dec: bad arguments (S %d, %dx%d)", S, W, H);
    const int D = m->dim;
    size_t at = 0;
    gs_ctx lc;
    gs_arena own;
    gs_status st = gs_ctx_with_workspace(c, gs_cam_dec_plan(m, S), "cam_dec workspace", &lc, &own);
    if (st != GS_OK) return st;
    if ((st = gs_find_nonfinite(&lc, tokens, (size_t)S * D, &at)) == GS_OK && at < (size_t)S * D)
        st = gs_error(GS_ERR_INVALID, "cam_dec: non-finite camera token");
    const size_t mark = gs_arena_mark(lc.ws);
    float *h1 = gs_arena_floats(lc.ws, (size_t)S * D, "cam_dec buffers"), *h2 = gs_arena_floats(lc.ws, (size_t)S * D, "cam_dec buffers");
    float *tq = gs_arena_floats(lc.ws, (size_t)S * 9, "cam_dec pose"), *pose = gs_arena_floats(lc.ws, (size_t)S * 9, "cam_dec pose");
    if (st == GS_OK && (!h1 || !h2 || !tq || !pose)) st = GS_ERR_NOMEM;
    if (st == GS_OK) st = gs_linear(&lc, tokens, (size_t)S, D, &m->w0, m->b0, D, h1);   // [S, D]
    if (st == GS_OK) st = gs_unary(&lc, GS_UNARY_RELU, h1, h1, (size_t)S * D);
    if (st == GS_OK) st = gs_linear(&lc, h1, (size_t)S, D, &m->w2, m->b2, D, h2);
    if (st == GS_OK) st = gs_unary(&lc, GS_UNARY_RELU, h2, h2, (size_t)S * D);
    if (st == GS_OK) st = gs_linear(&lc, h2, (size_t)S, D, &m->wt, m->bt, 3, tq);                    // [S, 3]
    if (st == GS_OK) st = gs_linear(&lc, h2, (size_t)S, D, &m->wq, m->bq, 4, tq + (size_t)S * 3);   // [S, 4]
    if (st == GS_OK) st = gs_linear(&lc, h2, (size_t)S, D, &m->wf, m->bf, 2, tq + (size_t)S * 7);   // [S, 2]
    /* pose [S, 9] = [t | quat | relu(fov)] */
    if (st == GS_OK) st = gs_unary(&lc, GS_UNARY_RELU, tq + (size_t)S * 7, tq + (size_t)S * 7, (size_t)S * 2);
    if (st == GS_OK) st = gs_copy2d(&lc, pose, 9, tq, 3, (size_t)S, 3);
    if (st == GS_OK) st = gs_copy2d(&lc, pose + 3, 9, tq + (size_t)S * 3, 4, (size_t)S, 4);
    if (st == GS_OK) st = gs_copy2d(&lc, pose + 7, 9, tq + (size_t)S * 7, 2, (size_t)S, 2);
    if (st == GS_OK) {
        gs_dump_tensor(d, "cam.pose_enc", pose, 2, (long)S, 9L);
        st = gs_pose_decode(&lc, pose, S, H, W, w2c, K);
    }
    if (st == GS_OK) {
        gs_dump_tensor(d, "cam.extrinsics", w2c, 3, (long)S, 3L, 4L);
        gs_dump_tensor(d, "cam.intrinsics", K, 3, (long)S, 3L, 3L);
    }
    gs_arena_release(lc.ws, mark);
    gs_arena_destroy(&own);
    return st;
}

/* ---- extrinsics normalisation ------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

gs_status gs_da3_normalize_extrinsics(const float *ext, int S, float *out) {
    if (!ext || !out || S < 1 || S > 100000)
        return gs_error(GS_ERR_INVALID, "extrinsics: bad arguments (%d views)", S);
    for (int s = 0; s < S; s++) {
        const float *e = ext + (size_t)s * 16;
        if (!finite_all(e, 16)) return gs_error(GS_ERR_INVALID, "extrinsics: view %d has a non-finite value", s);
        if (fabsf(e[12]) > 1e-3f || fabsf(e[13]) > 1e-3f || fabsf(e[14]) > 1e-3f || fabsf(e[15] - 1.0f) > 1e-3f)
            return gs_error(GS_ERR_INVALID, "extrinsics: view %d: bottom row (%g %g %g %g) is not (0 0 0 1)", s,
                            e[12], e[13], e[14], e[15]);
    }
    double *n = gs_malloc((size_t)S, 16 * sizeof *n + sizeof(double) * 2, "normalised extrinsics");
    if (!n) return GS_ERR_NOMEM;
    double *dist = n + (size_t)S * 16, *sorted = dist + S;
    /* T0 = inverse(ext_0) */
    double T0[16] = {0};
    const float *e0 = ext;
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) T0[r * 4 + c] = e0[c * 4 + r];
        T0[r * 4 + 3] = -((double)e0[0 * 4 + r] * e0[3] + (double)e0[1 * 4 + r] * e0[7] + (double)e0[2 * 4 + r] * e0[11]);
    }
    for (int c = 0; c < 4; c++) T0[12 + c] = e0[12 + c];
    for (int s = 0; s < S; s++) {
        const float *e = ext + (size_t)s * 16;
        double *o = n + (size_t)s * 16;
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 4; c++) {
                double acc = 0;
                for (int k = 0; k < 4; k++) acc += (double)e[r * 4 + k] * T0[k * 4 + c];
                o[r * 4 + c] = acc;
            }
        /* camera centre of the normalised pose: -R^T t */
        double cc[3];
        for (int r = 0; r < 3; r++) cc[r] = -(o[0 * 4 + r] * o[3] + o[1 * 4 + r] * o[7] + o[2 * 4 + r] * o[11]);
        dist[s] = sqrt(cc[0] * cc[0] + cc[1] * cc[1] + cc[2] * cc[2]);
    }
    memcpy(sorted, dist, (size_t)S * sizeof *sorted);
    qsort(sorted, (size_t)S, sizeof *sorted, cmp_double);
    double med = sorted[(S - 1) / 2]; /* torch.median: the lower middle value */
    if (med < 0.1) med = 0.1;
    for (int s = 0; s < S; s++) {
        double *o = n + (size_t)s * 16;
        for (int r = 0; r < 3; r++) o[r * 4 + 3] /= med;
        for (int i = 0; i < 16; i++) out[(size_t)s * 16 + i] = (float)o[i];
    }
    free(n);
    return GS_OK;
}

/* ---- CameraEnc ---------------------------------------------------------------------- */

gs_status gs_cam_enc_bind(gs_cam_enc *m, gs_weights *w, const char *prefix, int dim, int heads) {
    memset(m, 0, sizeof *m);
    if (!w || !prefix || dim < 2 || dim % 2 || dim > (1 << 16) || heads < 1 || dim % heads)
        return gs_error(GS_ERR_INVALID, "cam_enc: bad sizes (dim %d, heads %d)", dim, heads);
    const int before = w->n_problems;
    const long C = dim;
    m->dim = dim, m->heads = heads;
    m->pb1_w = GETW(w, prefix, C / 2, 9, "pose_branch.fc1.weight");
    m->pb1_b = getf(w, prefix, 1, C / 2, 0, "pose_branch.fc1.bias");
    m->pb2_w = GETW(w, prefix, C, C / 2, "pose_branch.fc2.weight");
    m->pb2_b = getf(w, prefix, 1, C, 0, "pose_branch.fc2.bias");
    m->tok_w = getf(w, prefix, 1, C, 0, "token_norm.weight");
    m->tok_b = getf(w, prefix, 1, C, 0, "token_norm.bias");
    m->trunk_w = getf(w, prefix, 1, C, 0, "trunk_norm.weight");
    m->trunk_b = getf(w, prefix, 1, C, 0, "trunk_norm.bias");
    for (int t = 0; t < 4; t++) {
        gs_cam_enc_block *b = &m->blk[t];
        b->n1w = getf(w, prefix, 1, C, 0, "trunk.%d.norm1.weight", t);
        b->n1b = getf(w, prefix, 1, C, 0, "trunk.%d.norm1.bias", t);
        b->qkv_w = GETW(w, prefix, 3 * C, C, "trunk.%d.attn.qkv.weight", t);
        b->qkv_b = getf(w, prefix, 1, 3 * C, 0, "trunk.%d.attn.qkv.bias", t);
        b->proj_w = GETW(w, prefix, C, C, "trunk.%d.attn.proj.weight", t);
        b->proj_b = getf(w, prefix, 1, C, 0, "trunk.%d.attn.proj.bias", t);
        b->ls1 = getf(w, prefix, 1, C, 0, "trunk.%d.ls1.gamma", t);
        b->n2w = getf(w, prefix, 1, C, 0, "trunk.%d.norm2.weight", t);
        b->n2b = getf(w, prefix, 1, C, 0, "trunk.%d.norm2.bias", t);
        b->fc1_w = GETW(w, prefix, 4 * C, C, "trunk.%d.mlp.fc1.weight", t);
        b->fc1_b = getf(w, prefix, 1, 4 * C, 0, "trunk.%d.mlp.fc1.bias", t);
        b->fc2_w = GETW(w, prefix, C, 4 * C, "trunk.%d.mlp.fc2.weight", t);
        b->fc2_b = getf(w, prefix, 1, C, 0, "trunk.%d.mlp.fc2.bias", t);
        b->ls2 = getf(w, prefix, 1, C, 0, "trunk.%d.ls2.gamma", t);
    }
    gs_status st = bind_result(w, prefix, before);
    m->bound = st == GS_OK;
    return st;
}

/* One pre-norm block over the S view tokens: attention across views, MLP.
 * buf holds 12 S C floats. */
static gs_status enc_block(const gs_ctx *c, const gs_cam_enc_block *b, float *x, int S, int C, int heads, float *buf) {
    const int hd = C / heads;
    const size_t SC = (size_t)S * C;
    float *n = buf, *qkv = n + SC, *q = qkv + 3 * SC, *k = q + SC, *v = k + SC, *a = v + SC, *hid = a + SC;
    gs_status st = gs_layernorm(c, x, n, (size_t)S, C, b->n1w, b->n1b, LN_EPS);
    if (st == GS_OK) st = gs_linear(c, n, (size_t)S, C, &b->qkv_w, b->qkv_b, 3 * C, qkv);   // [S, 3, heads, hd]
    if (st == GS_OK) st = gs_split_heads(c, qkv, S, heads, hd, S, 0, q, k, v);
    if (st == GS_OK) st = gs_attention(c, q, k, v, heads, S, hd, 1.0f / sqrtf((float)hd), a);   // [S, C]
    if (st == GS_OK) st = gs_linear(c, a, (size_t)S, C, &b->proj_w, b->proj_b, C, n);
    if (st == GS_OK) st = gs_add_scaled(c, x, n, b->ls1, (size_t)S, C);
    if (st == GS_OK) st = gs_layernorm(c, x, n, (size_t)S, C, b->n2w, b->n2b, LN_EPS);
    if (st == GS_OK) st = gs_linear(c, n, (size_t)S, C, &b->fc1_w, b->fc1_b, 4 * C, hid);   // [S, 4C]
    if (st == GS_OK) st = gs_unary(c, GS_UNARY_GELU, hid, hid, 4 * SC);
    if (st == GS_OK) st = gs_linear(c, hid, (size_t)S, 4 * C, &b->fc2_w, b->fc2_b, C, n);
    if (st == GS_OK) st = gs_add_scaled(c, x, n, b->ls2, (size_t)S, C);
    return st;
}

/* enc [S, 9] | hidden [S, C/2] | block scratch: n, qkv (3), q, k, v, a, hid (4) = 12 SC, and attention's */
size_t gs_cam_enc_plan(const gs_ctx *c, const gs_cam_enc *m, int S) {
    if (!m || S < 1) return 0;
    const size_t C = (size_t)m->dim;
    return gs_arena_round(((size_t)S * 9 + (size_t)S * (C / 2) + 12 * S * C) * sizeof(float)) +
           gs_arena_round(gs_attention_workspace(c, m->heads, S, m->dim / m->heads));
}

gs_status gs_cam_enc_forward(const gs_ctx *c, const gs_cam_enc *m, const float *ext_norm, const float *K, int S,
                             int H, int W, float *tokens, const gs_dump *d) {
    if (!m || !m->bound) return gs_error(GS_ERR_INVALID, "cam_enc: not bound to weights");
    if (!ext_norm || !K || !tokens || S < 1 || S > 100000 || H < 1 || W < 1)
        return gs_error(GS_ERR_INVALID, "cam_enc: bad arguments (S %d, %dx%d)", S, W, H);
    const int C = m->dim;
    const size_t SC = (size_t)S * C;
    gs_ctx lc;
    gs_arena own;
    gs_status st = gs_ctx_with_workspace(c, gs_cam_enc_plan(c, m, S), "cam_enc workspace", &lc, &own);
    if (st != GS_OK) return st;
    const size_t mark = gs_arena_mark(lc.ws);
    float *enc = gs_arena_floats(lc.ws, (size_t)S * 9 + (size_t)S * (C / 2) + 12 * SC, "cam_enc buffers");
    if (!enc) st = GS_ERR_NOMEM;
    float *hid = enc + (size_t)S * 9, *buf = hid + (size_t)S * (C / 2);
    if (st == GS_OK) st = gs_pose_encode(&lc, ext_norm, K, S, H, W, enc);
    if (st == GS_OK) st = gs_linear(&lc, enc, (size_t)S, 9, &m->pb1_w, m->pb1_b, C / 2, hid);
    if (st == GS_OK) st = gs_unary(&lc, GS_UNARY_GELU, hid, hid, (size_t)S * (C / 2));
    if (st == GS_OK) st = gs_linear(&lc, hid, (size_t)S, C / 2, &m->pb2_w, m->pb2_b, C, tokens);
    if (st == GS_OK) st = gs_layernorm(&lc, tokens, tokens, (size_t)S, C, m->tok_w, m->tok_b, LN_EPS);
    for (int t = 0; t < 4 && st == GS_OK; t++) st = enc_block(&lc, &m->blk[t], tokens, S, C, m->heads, buf);
    if (st == GS_OK) st = gs_layernorm(&lc, tokens, tokens, (size_t)S, C, m->trunk_w, m->trunk_b, LN_EPS);
    if (st == GS_OK) gs_dump_tensor(d, "cam_enc.tokens", tokens, 2, (long)S, (long)C);
    gs_arena_release(lc.ws, mark);
    gs_arena_destroy(&own);
    return st;
}

/* ---- ray map -> pose ---------------------------------------------------------------- */

/* splitmix64: a small, well-mixed generator of our own (fixed seed). */
static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t rng_below(uint64_t *s, uint32_t n) { return (uint32_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32); }

/* Cyclic Jacobi eigen-decomposition of a symmetric 9x9 (destroys A); V's
 * columns are the eigenvectors, A's diagonal the eigenvalues. */
static void jacobi9(double A[9][9], double V[9][9]) {
    for (int i = 0; i < 9; i++)
        for (int j = 0; j < 9; j++) V[i][j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, diag = 0;
        for (int i = 0; i < 9; i++) {
            diag += A[i][i] * A[i][i];
            for (int j = i + 1; j < 9; j++) off += A[i][j] * A[i][j];
        }
        if (off <= 1e-30 * diag || off == 0.0) break;
        for (int p = 0; p < 8; p++)
            for (int q = p + 1; q < 9; q++) {
                if (A[p][q] == 0.0) continue;
                const double theta = (A[q][q] - A[p][p]) / (2.0 * A[p][q]);
                const double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                const double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int r = 0; r < 9; r++) {   /* A = A J */
                    const double ap = A[r][p], aq = A[r][q];
                    A[r][p] = c * ap - s * aq;
                    A[r][q] = s * ap + c * aq;
                }
                for (int r = 0; r < 9; r++) {   /* A = J^T A */
                    const double ap = A[p][r], aq = A[q][r];
                    A[p][r] = c * ap - s * aq;
                    A[q][r] = s * ap + c * aq;
                }
                for (int r = 0; r < 9; r++) {   /* V = V J */
                    const double vp = V[r][p], vq = V[r][q];
                    V[r][p] = c * vp - s * vq;
                    V[r][q] = s * vp + c * vq;
                }
            }
    }
}

/* Weighted DLT homography src -> dst over the points idx[0..n): rows
 * sqrt(w) [-x -y -1 0 0 0 xu yu u] and sqrt(w) [0 0 0 -x -y -1 xv yv v];
 * H = last right-singular vector / H[2][2]. Returns 0 when H[2][2] == 0. */
static int dlt(const float *src, const float *dst, const float *wt, const int *idx, int n, double Hm[9]) {
    double G[9][9] = {{0}}, V[9][9];
    for (int t = 0; t < n; t++) {
        const int i = idx[t];
        const double x = src[2 * i], y = src[2 * i + 1], u = dst[2 * i], v = dst[2 * i + 1], w = wt[i];
        if (w == 0.0) continue;
        const double r1[9] = {-x, -y, -1, 0, 0, 0, x * u, y * u, u};
        const double r2[9] = {0, 0, 0, -x, -y, -1, x * v, y * v, v};
        for (int a = 0; a < 9; a++)
            for (int b = a; b < 9; b++) G[a][b] += w * (r1[a] * r1[b] + r2[a] * r2[b]);
    }
    for (int a = 0; a < 9; a++)
        for (int b = 0; b < a; b++) G[a][b] = G[b][a];
    jacobi9(G, V);
    int best = 0;
    for (int i = 1; i < 9; i++)
        if (G[i][i] < G[best][best]) best = i;
    if (V[8][best] == 0.0) return 0;
    for (int i = 0; i < 9; i++) Hm[i] = V[i][best] / V[8][best];
    return 1;
}

/* QL decomposition A = Q L (L lower triangular with a positive diagonal),
 * by Gram-Schmidt from the last column; unique, so equal to the reference's
 * QR-of-A·P construction after its sign fix. Returns 0 if A is singular. */
static int ql3(const double A[9], double Q[9], double L[9]) {
    double a[3][3], q[3][3];
    for (int c = 0; c < 3; c++)
        for (int r = 0; r < 3; r++) a[c][r] = A[r * 3 + c];
    memset(L, 0, 9 * sizeof *L);
    for (int c = 2; c >= 0; c--) {
        double v[3] = {a[c][0], a[c][1], a[c][2]};
        for (int k = 2; k > c; k--) {
            const double l = q[k][0] * a[c][0] + q[k][1] * a[c][1] + q[k][2] * a[c][2];
            L[k * 3 + c] = l;
            for (int r = 0; r < 3; r++) v[r] -= l * q[k][r];
        }
        const double nv = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        if (!(nv > 0)) return 0;
        L[c * 3 + c] = nv;
        for (int r = 0; r < 3; r++) q[c][r] = v[r] / nv;
    }
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) Q[r * 3 + c] = q[c][r];
    return 1;
}

typedef struct {
    float w;
    int i;
} wi;
static int cmp_wi_desc(const void *a, const void *b) {
    const wi *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return x->i - y->i;
}

#define RP_ITERS 100
#define RP_SAMPLE 8
#define RP_MAX_INLIERS 8000

/* One view: R_c2w, centre T, focal (1/L00, 1/L11), principal point. */
static gs_status ray_pose_view(const float *ray, const float *conf, int h, int w, int n_sample,
                               const int iters[RP_ITERS][RP_SAMPLE], uint64_t *rng, int view, float *src, float *dst,
                               float *wt, wi *order, int *idx, double c2w[12], double f[2], double pp[2]) {
    const int N = h * w;
    double sw = 0, T[3] = {0, 0, 0};
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            const int k = i * w + j;
            const float *r = ray + (size_t)k * 6;
            src[2 * k] = (float)((j + 0.5) / w * 2.0 - 1.0);
            src[2 * k + 1] = (float)((i + 0.5) / h * 2.0 - 1.0);
            const int valid = fabsf(r[2]) > 1e-4f;
            dst[2 * k] = valid ? r[0] / r[2] : r[0];
            dst[2 * k + 1] = valid ? r[1] / r[2] : r[1];
            wt[k] = valid ? conf[k] : 0.0f;
            /* the centre is averaged with the same zeroed weights (the
             * reference zeroes them in place before it averages) */
            sw += wt[k];
            for (int c = 0; c < 3; c++) T[c] += (double)wt[k] * r[3 + c];
        }
    if (!(sw > 0))
        return gs_error(GS_ERR_INVALID, "ray_pose: view %d has no usable ray (zero confidence or |d_z| <= 1e-4)", view);
    for (int k = 0; k < N; k++) order[k].w = wt[k], order[k].i = k;
    qsort(order, (size_t)N, sizeof *order, cmp_wi_desc);

    double best_H[9] = {0};
    double best_score = -1;
    int have = 0;
    for (int it = 0; it < RP_ITERS; it++) {
        int sel[RP_SAMPLE];
        for (int s = 0; s < RP_SAMPLE; s++) sel[s] = order[iters[it][s]].i;
        double Hm[9];
        if (!dlt(src, dst, wt, sel, RP_SAMPLE, Hm)) continue;
        double score = 0;
        for (int k = 0; k < N; k++) {
            const double x = src[2 * k], y = src[2 * k + 1];
            const double pz = Hm[6] * x + Hm[7] * y + Hm[8];
            const double px = (Hm[0] * x + Hm[1] * y + Hm[2]) / pz, py = (Hm[3] * x + Hm[4] * y + Hm[5]) / pz;
            const double e = sqrt((px - dst[2 * k]) * (px - dst[2 * k]) + (py - dst[2 * k + 1]) * (py - dst[2 * k + 1]));
            if (e < 0.2) score += wt[k];
        }
        if (score > best_score) {
            best_score = score;
            memcpy(best_H, Hm, sizeof best_H);
            have = 1;
        }
    }
    if (!have) return gs_error(GS_ERR_INVALID, "ray_pose: view %d: no homography could be fitted", view);

    /* refit on the inliers of the best sample, by decreasing confidence */
    int n_in = 0;
    for (int t = 0; t < N; t++) {
        const int k = order[t].i;
        const double x = src[2 * k], y = src[2 * k + 1];
        const double pz = best_H[6] * x + best_H[7] * y + best_H[8];
        const double px = (best_H[0] * x + best_H[1] * y + best_H[2]) / pz,
                     py = (best_H[3] * x + best_H[4] * y + best_H[5]) / pz;
        const double e = sqrt((px - dst[2 * k]) * (px - dst[2 * k]) + (py - dst[2 * k + 1]) * (py - dst[2 * k + 1]));
        if (e < 0.2) idx[n_in++] = k;
    }
    if (n_in > RP_MAX_INLIERS) {
        /* a random 8000 of the top 95% */
        int keep = (int)(n_in * 0.95);
        if (keep < RP_MAX_INLIERS) keep = RP_MAX_INLIERS;
        for (int t = 0; t < RP_MAX_INLIERS; t++) {
            const int r = t + (int)rng_below(rng, (uint32_t)(keep - t));
            const int tmp = idx[t];
            idx[t] = idx[r], idx[r] = tmp;
        }
        n_in = RP_MAX_INLIERS;
    }
    double Hm[9];
    /* fewer than 4 inliers: the reference raises; keep the best sample's fit */
    if (n_in < 4 || !dlt(src, dst, wt, idx, n_in, Hm)) memcpy(Hm, best_H, sizeof Hm);
    const double det = Hm[0] * (Hm[4] * Hm[8] - Hm[5] * Hm[7]) - Hm[1] * (Hm[3] * Hm[8] - Hm[5] * Hm[6]) +
                       Hm[2] * (Hm[3] * Hm[7] - Hm[4] * Hm[6]);
    if (det < 0)
        for (int i = 0; i < 9; i++) Hm[i] = -Hm[i];
    double Q[9], L[9];
    if (!ql3(Hm, Q, L) || !(L[8] > 0))
        return gs_error(GS_ERR_INVALID, "ray_pose: view %d: degenerate homography", view);
    for (int i = 0; i < 9; i++) L[i] /= L[8];
    f[0] = 1.0 / L[0], f[1] = 1.0 / L[4];
    pp[0] = L[6] + 1.0, pp[1] = L[7] + 1.0;
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) c2w[r * 4 + c] = Q[r * 3 + c];
        c2w[r * 4 + 3] = T[r] / sw;
    }
    return GS_OK;
}

gs_status gs_ray_pose(const float *ray, const float *conf, int S, int h, int w, int H, int W, uint64_t seed,
                      float *w2c, float *K, const gs_dump *d) {
    if (!ray || !conf || !w2c || !K || S < 1 || S > 100000 || h < 1 || w < 1 || H < 1 || W < 1 ||
        (size_t)h * w > (1u << 26))
        return gs_error(GS_ERR_INVALID, "ray_pose: bad arguments (S %d, ray map %dx%d, image %dx%d)", S, w, h, W, H);
    const int N = h * w;
    if (N < RP_SAMPLE)
        return gs_error(GS_ERR_INVALID, "ray_pose: a %dx%d ray map is too small (at least %d rays)", w, h, RP_SAMPLE);
    if (!finite_all(ray, (size_t)S * N * 6) || !finite_all(conf, (size_t)S * N))
        return gs_error(GS_ERR_INVALID, "ray_pose: non-finite ray map or confidence");
    int n_sample = (int)(N * 0.3);
    if (n_sample < RP_SAMPLE) n_sample = RP_SAMPLE;
    /* one set of random samples for all views, as the reference draws it */
    int iters[RP_ITERS][RP_SAMPLE];
    uint64_t rng = seed;
    for (int it = 0; it < RP_ITERS; it++)
        for (int s = 0; s < RP_SAMPLE; s++) {
            int v, dup;
            do {
                v = (int)rng_below(&rng, (uint32_t)n_sample);
                dup = 0;
                for (int t = 0; t < s; t++) dup |= iters[it][t] == v;
            } while (dup);
            iters[it][s] = v;
        }
    float *buf = gs_malloc((size_t)N, 5 * sizeof(float), "ray_pose buffers");
    wi *order = gs_malloc((size_t)N, sizeof *order, "ray_pose order");
    int *idx = gs_malloc((size_t)N, sizeof *idx, "ray_pose inliers");
    gs_status st = buf && order && idx ? GS_OK : GS_ERR_NOMEM;
    for (int s = 0; s < S && st == GS_OK; s++) {
        double c2w[12] = {0}, f[2] = {0, 0}, pp[2] = {0, 0};
        st = ray_pose_view(ray + (size_t)s * N * 6, conf + (size_t)s * N, h, w, n_sample, iters, &rng, s, buf,
                           buf + 2 * (size_t)N, buf + 4 * (size_t)N, order, idx, c2w, f, pp);
        if (st != GS_OK) break;
        float *e = w2c + (size_t)s * 12, *k = K + (size_t)s * 9;
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 3; c++) e[r * 4 + c] = (float)c2w[c * 4 + r];
            e[r * 4 + 3] = (float)-(c2w[0 * 4 + r] * c2w[3] + c2w[1 * 4 + r] * c2w[7] + c2w[2 * 4 + r] * c2w[11]);
        }
        memset(k, 0, 9 * sizeof *k);
        k[0] = (float)(f[0] / 2.0 * W);
        k[4] = (float)(f[1] / 2.0 * H);
        k[2] = (float)(pp[0] * W * 0.5);
        k[5] = (float)(pp[1] * H * 0.5);
        k[8] = 1.0f;
        if (!finite_all(e, 12) || !finite_all(k, 9))
            st = gs_error(GS_ERR_INVALID, "ray_pose: view %d: degenerate pose", s);
    }
    if (st == GS_OK) {
        gs_dump_tensor(d, "ray_pose.extrinsics", w2c, 3, (long)S, 3L, 4L);
        gs_dump_tensor(d, "ray_pose.intrinsics", K, 3, (long)S, 3L, 3L);
    }
    free(buf), free(order), free(idx);
    return st;
}
