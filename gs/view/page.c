/* page.c - what `gs view` hands to the browser: the scene as GSV1 (see
 * view.h), the cameras as JSON, and the page with its scripts inlined (and,
 * for a stand-alone file, the gzip-compressed scene as base64). */
#include "gs/view/view.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

/* clip(v, 0, 255) then truncate: data/splat.c's rule, so that the page shows
 * what a .splat export holds */
static uint8_t to_u8(double v) {
    if (!(v > 0)) return 0;
    if (v >= 255) return 255;
    return (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

int gs_view_splat_valid(const gs_scene *s, int64_t i) {
    const float *m = s->means + 3 * i, *sc = s->scales + 3 * i, *q = s->rotations + 4 * i;
    for (int k = 0; k < 3; k++)
        if (!isfinite(m[k]) || !isfinite(sc[k]) || !(sc[k] > 0)) return 0;
    double qn = 0;
    for (int k = 0; k < 4; k++) {
        if (!isfinite(q[k])) return 0;
        qn += (double)q[k] * q[k];
    }
    return qn > 0 && isfinite(s->opacities[i]);
}

gs_status gs_view_pack(const gs_scene *s, uint8_t **out, size_t *size, int64_t *kept) {
    *out = NULL;
    *size = 0;
    if (kept) *kept = 0;
    if (!s || s->n < 0 || s->sh_degree < 0 || s->sh_degree > GS_SH_MAX_DEGREE ||
        (s->n && (!s->means || !s->scales || !s->rotations || !s->opacities || !s->sh)))
        return gs_error(GS_ERR_INVALID, "view: invalid scene");
    if (s->n > (int64_t)UINT32_MAX) return gs_error(GS_ERR_INVALID, "view: %lld splats exceed the viewer's 2^32 limit", (long long)s->n);
    int64_t n = 0;
    for (int64_t i = 0; i < s->n; i++) n += gs_view_splat_valid(s, i);
    size_t bytes;
    if (!gs_mul_ok((size_t)n, GS_VIEW_SPLAT_BYTES, &bytes)) return gs_error(GS_ERR_NOMEM, "view: scene too large");
    uint8_t *buf = gs_calloc(GS_VIEW_HEADER_BYTES + bytes, 1, "view scene data");
    if (!buf) return GS_ERR_NOMEM;
    memcpy(buf, "GSV1", 4);
    put_u32(buf + 4, 1);
    put_u32(buf + 8, (uint32_t)n);
    put_u32(buf + 12, (uint32_t)s->sh_degree);
    uint8_t *pos = buf + GS_VIEW_HEADER_BYTES, *scl = pos + 12 * (size_t)n, *rgba = pos + 24 * (size_t)n,
            *rot = pos + 28 * (size_t)n;
    const int k = gs_sh_coeffs(s->sh_degree);
    int64_t j = 0;
    for (int64_t i = 0; i < s->n; i++) {
        if (!gs_view_splat_valid(s, i)) continue;
        memcpy(pos + 12 * j, s->means + 3 * i, 12); /* little-endian hosts only, as the rest of gs */
        memcpy(scl + 12 * j, s->scales + 3 * i, 12);
        const float *dc = s->sh + (size_t)i * k * 3;
        for (int c = 0; c < 3; c++) rgba[4 * j + c] = to_u8((0.5 + (double)GS_SH_C0 * dc[c]) * 255.0);
        rgba[4 * j + 3] = to_u8((double)s->opacities[i] * 255.0);
        const float *q = s->rotations + 4 * i;
        double qn = 0;
        for (int c = 0; c < 4; c++) qn += (double)q[c] * q[c];
        double r = 1.0 / sqrt(qn);
        for (int c = 0; c < 4; c++) rot[4 * j + c] = to_u8(q[c] * r * 128.0 + 128.0);
        j++;
    }
    *out = buf;
    *size = GS_VIEW_HEADER_BYTES + bytes;
    if (kept) *kept = n;
    return GS_OK;
}

/* cJSON prints doubles with 15 digits when they read back within a relative
 * epsilon, which can drop the last bit; %.17g always reads back exactly */
static cJSON *exact_number(double v) {
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    return cJSON_CreateRaw(buf);
}

static int add_exact(cJSON *o, const char *key, double v) {
    cJSON *n = exact_number(v);
    if (n && cJSON_AddItemToObject(o, key, n)) return 1;
    cJSON_Delete(n);
    return 0;
}

static cJSON *exact_array(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) {
        cJSON *x = exact_number(v[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) { cJSON_Delete(x); cJSON_Delete(a); return NULL; }
    }
    return a;
}

gs_status gs_view_cameras_json(const gs_cameras *cams, char **out, size_t *size) {
    *out = NULL;
    if (size) *size = 0;
    cJSON *root = cJSON_CreateObject(), *arr = NULL;
    if (!root) return gs_error(GS_ERR_NOMEM, "view cameras: out of memory");
    int ok = cJSON_AddStringToObject(root, "format", "gs-cameras") && cJSON_AddNumberToObject(root, "version", 1) &&
             cJSON_AddStringToObject(root, "convention",
                                     "opencv world-to-camera; x_cam = R x_world + t; pixel centres at +0.5") &&
             (arr = cJSON_AddArrayToObject(root, "cameras"));
    for (int i = 0; ok && cams && i < cams->n; i++) {
        const gs_camera *c = &cams->cams[i];
        if (!c->has_pose) continue;
        gs_status st = gs_camera_validate(c, "view cameras", i);
        if (st) { cJSON_Delete(root); return st; }
        /* each item is attached as soon as it exists, so deleting root frees all */
        cJSON *o = cJSON_CreateObject(), *R = NULL;
        ok = o && cJSON_AddItemToArray(arr, o);
        if (!ok) { cJSON_Delete(o); break; }
        ok = cJSON_AddStringToObject(o, "name", c->name) && cJSON_AddNumberToObject(o, "width", c->width) &&
             cJSON_AddNumberToObject(o, "height", c->height) && add_exact(o, "fx", c->fx) && add_exact(o, "fy", c->fy) &&
             add_exact(o, "cx", c->cx) && add_exact(o, "cy", c->cy) && (R = cJSON_AddArrayToObject(o, "R"));
        for (int r = 0; ok && r < 3; r++) {
            cJSON *row = exact_array(c->R + 3 * r, 3);
            ok = row && cJSON_AddItemToArray(R, row);
            if (!ok) cJSON_Delete(row);
        }
        cJSON *t = ok ? exact_array(c->t, 3) : NULL;
        ok = ok && t && cJSON_AddItemToObject(o, "t", t);
        if (!ok) cJSON_Delete(t);
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return gs_error(GS_ERR_NOMEM, "view cameras: out of memory");
    *out = text;
    if (size) *size = strlen(text);
    return GS_OK;
}

void gs_view_safe_name(const char *in, char *out, size_t n) {
    size_t j = 0;
    for (size_t i = 0; in && in[i] && j + 1 < n; i++) {
        char c = in[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
        out[j++] = ok ? c : '_';
    }
    if (n) out[j] = 0;
    /* a name of dots only would read as a path segment */
    int dots = j > 0;
    for (size_t i = 0; i < j; i++) dots &= out[i] == '.';
    if (n && (j == 0 || dots)) snprintf(out, n, "scene");
}

/* ---- a growing text buffer ----------------------------------------------------- */
typedef struct { char *p; size_t n, cap; int oom; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1) cap *= 2;
        char *q = cap <= GS_MAX_ALLOC ? realloc(b->p, cap) : NULL;
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_html_escaped(sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': sb_str(b, "&lt;"); break;
        case '>': sb_str(b, "&gt;"); break;
        case '&': sb_str(b, "&amp;"); break;
        case '"': sb_str(b, "&quot;"); break;
        case '\'': sb_str(b, "&#39;"); break;
        default: sb_put(b, s, 1);
        }
    }
}

/* JSON inside <script>: '<' only occurs in strings, where \u003c means the same */
static void sb_json_in_script(sbuf *b, const char *s) {
    for (const char *p = s; *p; p++) {
        if (*p == '<') sb_str(b, "\\u003c");
        else sb_put(b, p, 1);
    }
}

static void sb_base64(sbuf *b, const uint8_t *d, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char chunk[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) | (i + 2 < n ? d[i + 2] : 0);
        chunk[k++] = tab[v >> 18 & 63];
        chunk[k++] = tab[v >> 12 & 63];
        chunk[k++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        chunk[k++] = i + 2 < n ? tab[v & 63] : '=';
        if (k + 4 > sizeof chunk) { sb_put(b, chunk, k); k = 0; }
    }
    sb_put(b, chunk, k);
}

/* gzip (RFC 1952) of a buffer, for DecompressionStream('gzip') in the page */
static gs_status gzip_mem(const uint8_t *in, size_t n, uint8_t **out, size_t *out_n) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return gs_error(GS_ERR_NOMEM, "view: cannot start gzip");
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    uint8_t *buf = gs_malloc(cap, 1, "view gzip buffer");
    if (!buf) { deflateEnd(&z); return GS_ERR_NOMEM; }
    size_t done = 0;
    int rc = Z_OK;
    z.next_out = buf;
    z.avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
    while (rc == Z_OK) {
        if (z.avail_in == 0 && done < n) {
            size_t step = n - done > (1u << 30) ? (1u << 30) : n - done;
            z.next_in = (Bytef *)(uintptr_t)(in + done);
            z.avail_in = (uInt)step;
            done += step;
        }
        if (z.avail_out == 0) {
            size_t used = (size_t)(z.next_out - buf), left = cap - used;
            z.avail_out = (uInt)(left > UINT32_MAX ? UINT32_MAX : left);
            if (!left) break;
        }
        rc = deflate(&z, done == n ? Z_FINISH : Z_NO_FLUSH);
    }
    size_t total = (size_t)(z.next_out - buf);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) { free(buf); return gs_error(GS_ERR_NOMEM, "view: gzip failed (%d)", rc); }
    *out = buf;
    *out_n = total;
    return GS_OK;
}

static const char k_csp[] =
    "default-src 'none'; script-src 'unsafe-inline'; worker-src blob:; style-src 'unsafe-inline'; "
    "img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'";

/* An asset that could close the <script> element it is inlined into would
 * break the page; refuse it (a build problem, caught by the tests). */
static int closes_script(const char *s) {
    for (const char *p = s; (p = strchr(p, '<')); p++)
        if (!strncasecmp(p, "</script", 8)) return 1;
    return 0;
}

gs_status gs_view_page(const gs_view_page_opts *o, const char *cameras_json, const uint8_t *packed,
                       size_t packed_size, char **html, size_t *size) {
    *html = NULL;
    if (size) *size = 0;
    gs_view_page_opts def = {0};
    if (!o) o = &def;
    const char *title = o->title && o->title[0] ? o->title : "scene";
    char base[256];
    gs_view_safe_name(o->download_base ? o->download_base : "scene", base, sizeof base);
    size_t n_index, n_viewer, n_worker;
    const char *index = gs_view_asset("index.html", &n_index), *viewer = gs_view_asset("viewer.js", &n_viewer),
               *worker = gs_view_asset("sort_worker.js", &n_worker);
    if (!index || !viewer || !worker) return gs_error(GS_ERR_NOT_FOUND, "view: web assets missing from this build");
    if (closes_script(viewer) || closes_script(worker))
        return gs_error(GS_ERR_INVALID, "view: a web asset contains \"</script\" and cannot be inlined");
    const char *m_scripts = strstr(index, "<!--GS:SCRIPTS-->"), *m_csp = strstr(index, "<!--GS:CSP-->");
    if (!m_scripts || !m_csp || m_csp > m_scripts)
        return gs_error(GS_ERR_INVALID, "view: index.html lacks its <!--GS:CSP--> / <!--GS:SCRIPTS--> markers");
    if (o->standalone && (!packed || packed_size < GS_VIEW_HEADER_BYTES))
        return gs_error(GS_ERR_INVALID, "view: a stand-alone page needs the scene data");

    /* configuration for viewer.js */
    cJSON *cfg = cJSON_CreateObject();
    cJSON *cams = cameras_json ? cJSON_Parse(cameras_json) : NULL;
    if (cameras_json && !cams) { cJSON_Delete(cfg); return gs_error(GS_ERR_INVALID, "view: cameras JSON does not parse"); }
    uint32_t nsplat = 0, shdeg = 0;
    if (packed && packed_size >= GS_VIEW_HEADER_BYTES) {
        nsplat = (uint32_t)packed[8] | (uint32_t)packed[9] << 8 | (uint32_t)packed[10] << 16 | (uint32_t)packed[11] << 24;
        shdeg = packed[12];
    }
    cJSON *dl = NULL;
    int ok = cfg && cJSON_AddStringToObject(cfg, "mode", o->standalone ? "standalone" : "server") &&
             cJSON_AddStringToObject(cfg, "name", title) && cJSON_AddStringToObject(cfg, "downloadBase", base) &&
             cJSON_AddNumberToObject(cfg, "splats", nsplat) && cJSON_AddNumberToObject(cfg, "shDegree", shdeg) &&
             (dl = cJSON_AddArrayToObject(cfg, "downloads"));
    if (ok && !o->standalone) {
        static const char *const exts[] = {"ply", "splat", "spz"};
        for (int i = 0; ok && i < 3; i++) ok = cJSON_AddItemToArray(dl, cJSON_CreateString(exts[i]));
    }
    if (ok && cams) { ok = cJSON_AddItemToObject(cfg, "cameras", cams); if (ok) cams = NULL; }
    char *cfg_text = ok ? cJSON_PrintUnformatted(cfg) : NULL;
    cJSON_Delete(cfg);
    cJSON_Delete(cams);
    if (!cfg_text) return gs_error(GS_ERR_NOMEM, "view: out of memory");

    uint8_t *gz = NULL;
    size_t gz_n = 0;
    if (o->standalone) {
        gs_status st = gzip_mem(packed, packed_size, &gz, &gz_n);
        if (st) { free(cfg_text); return st; }
    }

    sbuf b = {0};
    const char *p = index;
    /* everything up to the CSP marker, with {{TITLE}} filled in */
    for (;;) {
        const char *t = strstr(p, "{{TITLE}}");
        const char *stop = m_csp;
        if (t && t < stop) { sb_put(&b, p, (size_t)(t - p)); sb_html_escaped(&b, title); p = t + 9; continue; }
        sb_put(&b, p, (size_t)(stop - p));
        p = stop + strlen("<!--GS:CSP-->");
        break;
    }
    sb_str(&b, "<meta http-equiv=\"Content-Security-Policy\" content=\"");
    sb_str(&b, k_csp);
    sb_str(&b, "\">");
    for (;;) {
        const char *t = strstr(p, "{{TITLE}}");
        if (t && t < m_scripts) { sb_put(&b, p, (size_t)(t - p)); sb_html_escaped(&b, title); p = t + 9; continue; }
        sb_put(&b, p, (size_t)(m_scripts - p));
        p = m_scripts + strlen("<!--GS:SCRIPTS-->");
        break;
    }
    sb_str(&b, "<script id=\"gs-config\" type=\"application/json\">");
    sb_json_in_script(&b, cfg_text);
    sb_str(&b, "</script>\n<script id=\"gs-sort-worker\" type=\"text/plain\">\n");
    sb_put(&b, worker, n_worker);
    sb_str(&b, "</script>\n");
    if (o->standalone) {
        sb_str(&b, "<script id=\"gs-data\" type=\"application/octet-stream\">");
        sb_base64(&b, gz, gz_n);
        sb_str(&b, "</script>\n");
    }
    sb_str(&b, "<script>\n");
    sb_put(&b, viewer, n_viewer);
    sb_str(&b, "</script>");
    sb_str(&b, p);
    free(cfg_text);
    free(gz);
    if (b.oom) { free(b.p); return gs_error(GS_ERR_NOMEM, "view: out of memory building the page"); }
    *html = b.p;
    if (size) *size = b.n;
    return GS_OK;
}

gs_status gs_view_write_html(const char *path, const gs_scene *s, const gs_cameras *cams, const char *title,
                             const char *download_base) {
    if (!path || !path[0]) return gs_error(GS_ERR_INVALID, "view: no output path");
    uint8_t *packed = NULL;
    size_t packed_n = 0;
    char *cj = NULL, *html = NULL;
    size_t html_n = 0;
    gs_status st = gs_view_pack(s, &packed, &packed_n, NULL);
    if (!st) st = gs_view_cameras_json(cams, &cj, NULL);
    gs_view_page_opts o = {title, download_base, 1};
    if (!st) st = gs_view_page(&o, cj, packed, packed_n, &html, &html_n);
    if (!st) st = gs_write_file_atomic(path, html, html_n);
    free(packed);
    free(cj);
    free(html);
    return st;
}
