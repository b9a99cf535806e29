/* view.h - `gs view`: the data, page and local HTTP server of the web viewer.
 *
 * The page (gs/view/web/: index.html, viewer.js, sort_worker.js; built into the
 * binary by gs/view/assets.c) is plain JavaScript + WebGL2 and needs nothing
 * from the network. It gets the splats as GSV1, a compact binary layout:
 *
 *   header, 32 bytes, little endian: "GSV1", u32 version (1), u32 splat count n,
 *          u32 SH degree of the source scene, 16 reserved bytes (0)
 *   positions  f32 [n][3]   world, OpenCV/COLMAP axes (as the PLY)
 *   scales     f32 [n][3]   linear standard deviations
 *   rgba       u8  [n][4]   colour 0.5 + C0 * dc and opacity, x255, clipped, truncated
 *   rotations  u8  [n][4]   unit quaternion w,x,y,z as q*128+128, clipped, truncated
 *
 * i.e. the content of an antimatter15 .splat file (same quantisation as
 * data/splat.c) stored column by column, which gzip compresses ~20% better.
 * Only the DC colour reaches the viewer. Splats the renderer would skip
 * (non-finite values, non-positive scales, zero quaternions) are dropped.
 *
 * The server is HTTP/1.1, GET/HEAD only, one request per connection, a thread
 * per connection (bounded), loopback by default. Routes: / (the page),
 * /scene.bin (GSV1), /cameras.json (our gs-cameras JSON), and
 * /download/NAME.{ply,splat,spz} (the drawable splats, with all their SH
 * bands, written by data/scene.h's writers; SPZ as version 3). Paths with "." or ".." segments, NUL or backslashes are refused
 * (400), anything else unknown is 404; request heads over 8 KiB get 431. When
 * bound to loopback, requests must name a loopback Host (DNS rebinding).
 * Slow clients: a request head must be complete within io_timeout of the
 * accept (else 408); a response may stall io_timeout at most and take
 * io_timeout + size / 16 KiB/s in all; when every connection slot is taken,
 * the connection waiting longest for its head is closed (408) to admit a new
 * one (see server.c). */
#ifndef GS_VIEW_H
#define GS_VIEW_H

#include "data/cameras.h"
#include "data/scene.h"

#include <signal.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GS_VIEW_HEADER_BYTES 32
#define GS_VIEW_SPLAT_BYTES 32
#define GS_VIEW_MAX_REQUEST 8192

/* The embedded web assets: "index.html", "viewer.js", "sort_worker.js".
 * NUL-terminated; NULL for an unknown name. */
const char *gs_view_asset(const char *name, size_t *size);

/* Splat i is drawable: finite position, scales, rotation and opacity,
 * positive scales, a non-zero quaternion (what the rasterizer does not skip). */
int gs_view_splat_valid(const gs_scene *s, int64_t i);

/* Scene -> GSV1 bytes (malloc'ed). Invalid splats are left out; *kept (may
 * be NULL) receives the count written. */
gs_status gs_view_pack(const gs_scene *s, uint8_t **out, size_t *size, int64_t *kept);

/* Cameras -> our gs-cameras JSON text (malloc'ed, NUL-terminated); cams may be
 * NULL (an empty list). Cameras without a pose are left out. */
gs_status gs_view_cameras_json(const gs_cameras *cams, char **out, size_t *size);

typedef struct {
    const char *title;         /* shown in the page (HTML-escaped); default "scene" */
    const char *download_base; /* file stem for downloads; default "scene" */
    int standalone;            /* 1: embed the scene (gzip + base64) and the cameras */
} gs_view_page_opts;

/* The page with its scripts inlined. packed (GSV1) is needed only when
 * standalone. cameras_json may be NULL. *html is malloc'ed, NUL-terminated. */
gs_status gs_view_page(const gs_view_page_opts *o, const char *cameras_json, const uint8_t *packed,
                       size_t packed_size, char **html, size_t *size);

/* `gs view --html`: a stand-alone page with the splats embedded, written
 * atomically. cams may be NULL. */
gs_status gs_view_write_html(const char *path, const gs_scene *s, const gs_cameras *cams, const char *title,
                             const char *download_base);

/* Download names are reduced to [A-Za-z0-9._-] (others become '_'); at most
 * n-1 bytes, never empty ("scene"). */
void gs_view_safe_name(const char *in, char *out, size_t n);

/* ---- the server ------------------------------------------------------------- */
typedef struct gs_view_server gs_view_server;
/* Called (from several threads) with one line per request when set. */
typedef void (*gs_view_log_fn)(void *ctx, const char *line);

typedef struct {
    const char *host;          /* numeric address or name to bind; NULL: "127.0.0.1" */
    int port;                  /* 0: any free port */
    const char *title;         /* page title; default "scene" */
    const char *download_base; /* download file stem; default "scene" */
    int max_connections;       /* concurrent connections; 0: 16 */
    double io_timeout;         /* seconds from accept to a complete request head, and the
                                * longest stall while answering; 0: 15 */
    gs_view_log_fn log;
    void *log_ctx;
} gs_view_server_opts;

/* Pack the scene, build the page and bind + listen. The scene and cameras
 * must outlive the server (downloads are written from them on first use). */
gs_status gs_view_server_open(gs_view_server **out, const gs_view_server_opts *o, const gs_scene *s,
                              const gs_cameras *cams);
/* The bound port and "http://HOST:PORT/" (IPv6 hosts in brackets). */
int gs_view_server_port(const gs_view_server *srv);
const char *gs_view_server_url(const gs_view_server *srv);
/* The socket's bound address as text (from getsockname), e.g. "127.0.0.1". */
gs_status gs_view_server_bound_address(const gs_view_server *srv, char *buf, size_t n, int *is_loopback);
/* Serve until *stop becomes non-zero (checked every 100 ms; set it from a
 * signal handler), then end the open connections and return. */
gs_status gs_view_server_run(gs_view_server *srv, volatile sig_atomic_t *stop);
/* Close the socket and remove the temporary download files. */
void gs_view_server_close(gs_view_server *srv);

/* One request without sockets (tests and the connection threads): parses
 * `req` (the request head) and fills *r. Never fails: errors are responses. */
typedef struct {
    int status;               /* 200, 400, 403, 404, 405, 408, 414, 431, 500 */
    const char *content_type;
    const uint8_t *body;      /* in-memory body (or NULL with file set) */
    size_t body_len;
    char file[4096];          /* a file to send instead of body (downloads) */
    char filename[300];       /* Content-Disposition attachment name, or "" */
    int head_only;            /* HEAD: headers without the body */
    int is_page;              /* add the page's Content-Security-Policy */
    char reason[200];         /* error responses: the plain-text body */
} gs_view_response;
void gs_view_handle(gs_view_server *srv, const char *req, size_t len, gs_view_response *r);

#ifdef __cplusplus
}
#endif
#endif
