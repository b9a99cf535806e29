/* cmd_view.c - `gs view`: look at a splat scene in the web browser, served
 * from a small local HTTP server, or written as one stand-alone HTML file. */
#include "gs/cli/cli.h"
#include "gs/view/view.h"
#include "data/cameras.h"
#include "data/scene.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char k_usage[] =
    "usage: gs view SCENE [--port P] [--host ADDR] [--cameras FILE] [--no-open] [--quiet]\n"
    "       gs view --html OUT.html SCENE [--cameras FILE]\n"
    "\n"
    "Look at a splat scene (INRIA/compressed PLY, .splat, .spz, .glb; a point-cloud PLY/GLB\n"
    "shows its points as round splats) in a web browser: turn it\n"
    "around (orbit), fly through it, jump to the input cameras, download it as .ply, .splat\n"
    "or .spz. The page is plain JavaScript + WebGL2 built into gs: it loads nothing from the\n"
    "network. Colours use the SH DC term only; splats are quantised like a .splat file.\n"
    "\n"
    "  --port P        port to serve on (default 8080; 0 picks any free port). The URL is\n"
    "                  printed on stdout.\n"
    "  --host ADDR     address to listen on (default 127.0.0.1: this machine only). Anything\n"
    "                  else, e.g. 0.0.0.0, lets every machine that can reach this one\n"
    "                  download the scene.\n"
    "  --cameras FILE  draw these cameras as frusta and list them in the page (gs-cameras\n"
    "                  JSON, transforms.json, INRIA cameras.json, COLMAP model, LLFF\n"
    "                  poses_bounds.npy); the view starts at the first one\n"
    "  --llff-factor F divide LLFF H, W, f by F (8 for images_8)\n"
    "  --html OUT      write one stand-alone HTML file with the splats embedded (gzip) and\n"
    "                  exit, for sharing without a server (its downloads: .ply and .splat of\n"
    "                  the embedded, quantised splats)\n"
    "  --no-open       do not try to open a browser (xdg-open, when a display is set)\n"
    "  --quiet         no request log\n"
    "\n"
    "Controls: drag to orbit, right-drag to pan, wheel to zoom, F for fly mode (WASD, Q/E),\n"
    "C for the next input camera, R to reset, H for help. Ctrl+C stops the server.\n";

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void log_line(void *ctx, const char *line) {
    (void)ctx;
    fprintf(stderr, "gs view: %s\n", line);
}

/* "dir/guitar.compressed.ply" -> "guitar" */
static void scene_stem(const char *path, char *out, size_t n) {
    const char *b = strrchr(path, '/');
    snprintf(out, n, "%s", b ? b + 1 : path);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
    size_t len = strlen(out);
    if (len > 11 && !strcmp(out + len - 11, ".compressed")) out[len - 11] = 0;
}

static pid_t open_browser(const char *url) {
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY")) return -1;
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa)) return -1;
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    char *argv[] = {(char *)"xdg-open", (char *)url, NULL};
    posix_spawnattr_t at; /* the browser starts with the signals gs ignores at their defaults */
    int have_at = posix_spawnattr_init(&at) == 0;
    if (have_at) {
        sigset_t dfl;
        sigemptyset(&dfl);
        sigaddset(&dfl, SIGPIPE);
        sigaddset(&dfl, SIGXFSZ);
        posix_spawnattr_setsigdefault(&at, &dfl);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
    }
    if (posix_spawnp(&pid, "xdg-open", &fa, have_at ? &at : NULL, argv, environ)) pid = -1;
    if (have_at) posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return pid;
}

static int run(int argc, char **argv) {
    const gs_command *me = &cmd_view_def;
    const char *scene_path = NULL, *cam_path = NULL, *html = NULL, *host = NULL;
    long port = 8080;
    int no_open = 0, quiet = 0;
    double factor = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--port") && more) { if (!cli_parse_int(argv[++i], 0, 65535, &port)) return cli_usage_error(me, "--port takes 0-65535"); }
        else if (!strcmp(a, "--host") && more) host = argv[++i];
        else if (!strcmp(a, "--cameras") && more) cam_path = argv[++i];
        else if (!strcmp(a, "--html") && more) html = argv[++i];
        else if (!strcmp(a, "--llff-factor") && more) { if (!cli_parse_double(argv[++i], &factor) || !(factor > 0)) return cli_usage_error(me, "--llff-factor takes a positive number"); }
        else if (!strcmp(a, "--no-open")) no_open = 1;
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (a[0] == '-' && a[1]) return cli_usage_error(me, "unknown option '%s' (or a missing value)", a);
        else if (!scene_path) scene_path = a;
        else return cli_usage_error(me, "unexpected argument '%s'", a);
    }
    if (!scene_path) return cli_usage_error(me, "no SCENE given");
    if (host && !host[0]) return cli_usage_error(me, "--host needs an address");
    if (html && (host || port != 8080)) return cli_usage_error(me, "--html writes a file; --host/--port are for the server");

    gs_scene s;
    gs_scene_format fmt;
    if (gs_scene_read(scene_path, &s, &fmt)) return cli_fail("view", GS_ERR_FORMAT);
    gs_cameras cams = {0};
    gs_camera_read_opts ro = {factor};
    if (cam_path && gs_cameras_read(cam_path, &ro, &cams, NULL)) { gs_scene_free(&s); return cli_fail("view", GS_ERR_FORMAT); }
    char stem[256];
    scene_stem(scene_path, stem, sizeof stem);
    const char *title = strrchr(scene_path, '/') ? strrchr(scene_path, '/') + 1 : scene_path;
    int64_t invalid = gs_scene_count_invalid(&s);
    int rc = 0;

    if (html) {
        double t0 = gs_now();
        gs_status st = gs_view_write_html(html, &s, &cams, title, stem);
        if (st) rc = cli_fail("view", st);
        else if (!quiet)
            fprintf(stderr, "gs view: %s: %lld splats -> %s in %.2f s\n", scene_path, (long long)s.n, html, gs_now() - t0);
        gs_cameras_free(&cams);
        gs_scene_free(&s);
        return rc;
    }

    gs_view_server_opts o = {0};
    o.host = host;
    o.port = (int)port;
    o.title = title;
    o.download_base = stem;
    o.log = quiet ? NULL : log_line;
    gs_view_server *srv = NULL;
    gs_status st = gs_view_server_open(&srv, &o, &s, &cams);
    if (st) {
        rc = cli_fail("view", st);
        gs_cameras_free(&cams);
        gs_scene_free(&s);
        return rc;
    }
    int loopback = 1;
    char addr[64] = "";
    gs_view_server_bound_address(srv, addr, sizeof addr, &loopback);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    fprintf(stderr, "gs view: %s: %s, %lld splats, SH degree %d%s; %d camera%s\n", scene_path, gs_scene_format_name(fmt),
            (long long)s.n, s.sh_degree, s.sh_degree ? " (the viewer shows the DC colour)" : "", cams.n,
            cams.n == 1 ? "" : "s");
    if (invalid) fprintf(stderr, "gs view: note: %lld invalid splats are left out\n", (long long)invalid);
    if (!loopback)
        fprintf(stderr, "gs view: note: listening on %s, not just this machine: anyone who can reach port %d can "
                        "download the scene\n", addr, gs_view_server_port(srv));
    printf("%s\n", gs_view_server_url(srv));
    fflush(stdout);
    fprintf(stderr, "gs view: open %s in a browser; Ctrl+C stops\n", gs_view_server_url(srv));
    pid_t browser = no_open ? -1 : open_browser(gs_view_server_url(srv));

    st = gs_view_server_run(srv, &g_stop);
    if (st) rc = cli_fail("view", st);
    else if (!quiet) fprintf(stderr, "gs view: stopped\n");
    if (browser > 0) waitpid(browser, NULL, WNOHANG);
    gs_view_server_close(srv);
    gs_cameras_free(&cams);
    gs_scene_free(&s);
    return rc;
}

const gs_command cmd_view_def = {"view", run, "look at splats in the web browser (local server or one HTML file)", k_usage};
