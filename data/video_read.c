/* video_read.c - the frames of a video file through ffprobe and ffmpeg
 * (video.h): ffprobe gives the frame rate, ffmpeg decodes the sampled frames
 * as a stream of binary PPM (P6) images into a pipe that is read here. */
#include "data/video.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int gs_video_ext_known(const char *name) {
    static const char *const exts[] = {".mp4", ".avi", ".mov", ".mkv", ".flv", ".wmv", ".webm", ".m4v"};
    const char *dot = name ? strrchr(name, '.') : NULL;
    for (size_t i = 0; dot && i < sizeof exts / sizeof exts[0]; i++)
        if (!strcasecmp(dot, exts[i])) return 1;
    return 0;
}

/* A child with stdout (and stderr when both) on a pipe: its whole output,
 * at most cap bytes kept (the rest is drained), NUL-terminated. */
static gs_status run_capture(char *const argv[], const char *what, char *buf, size_t cap) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return gs_error(GS_ERR_IO, "%s: cannot make a pipe: %s", what, strerror(errno));
    int pid, slot;
    gs_status st = gs_spawn(argv, -1, fds[1], fds[1], what, &pid, &slot);
    close(fds[1]);
    if (st) {
        close(fds[0]);
        return st;
    }
    size_t n = 0;
    for (;;) {
        char tmp[4096];
        ssize_t k = read(fds[0], tmp, sizeof tmp);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        size_t take = (size_t)k < cap - 1 - n ? (size_t)k : cap - 1 - n;
        memcpy(buf + n, tmp, take);
        n += take;
    }
    buf[n] = 0;
    close(fds[0]);
    return gs_spawn_wait(pid, slot, 0, what, argv[0]);
}

/* "30000/1001" -> 29.97; 0 when absent or not a positive rate */
static double parse_rate(const char *text, const char *key) {
    const char *p = strstr(text, key);
    if (!p) return 0;
    p += strlen(key);
    char *end;
    double num = strtod(p, &end);
    if (end == p) return 0;
    double den = 1;
    if (*end == '/') {
        const char *q = end + 1;
        den = strtod(q, &end);
        if (end == q) return 0;
    }
    double r = num / den;
    return isfinite(r) && r > 0 ? r : 0;
}

/* The last non-empty line of a child's output, for an error message. */
static const char *last_line(char *text) {
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) text[--n] = 0;
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

/* A decimal number of a PPM header, after whitespace and comments. */
static int ppm_number(FILE *f, long *out) {
    int c = getc(f);
    for (;;) {
        while (c == ' ' || c == '\t' || c == '\n' || c == '\r') c = getc(f);
        if (c != '#') break;
        while (c != EOF && c != '\n') c = getc(f);
    }
    long v = 0;
    int digits = 0;
    while (c >= '0' && c <= '9' && digits < 9) {
        v = v * 10 + (c - '0');
        digits++;
        c = getc(f);
    }
    if (!digits || !(c == ' ' || c == '\t' || c == '\n' || c == '\r')) return 0; /* one whitespace ends it */
    *out = v;
    return 1;
}

/* The next frame of ffmpeg's PPM stream: 1 read, 0 at the end, -1 error. */
static int ppm_frame(FILE *f, const char *path, int64_t max_pixels, gs_image *im, uint8_t **row, size_t *row_cap,
                     gs_status *st) {
    int c0 = getc(f);
    if (c0 == EOF) return 0;
    long w, h, maxv;
    if (c0 != 'P' || getc(f) != '6' || !ppm_number(f, &w) || !ppm_number(f, &h) || !ppm_number(f, &maxv) ||
        maxv != 255) {
        *st = gs_error(GS_ERR_FORMAT, "%s: ffmpeg's frame stream is not the expected PPM", path);
        return -1;
    }
    if ((int64_t)w * h > max_pixels) {
        *st = gs_error(GS_ERR_INVALID, "video %s: frames of %ldx%ld are %.1f megapixels, over the %.0f that gs decodes "
                       "(downscale the video first)", path, w, h, (double)w * h / 1e6, (double)max_pixels / 1e6);
        return -1;
    }
    if ((*st = gs_image_alloc(im, (int)w, (int)h, 3))) return -1;
    size_t rb = (size_t)w * 3;
    if (rb > *row_cap) {
        uint8_t *r = realloc(*row, rb);
        if (!r) {
            gs_image_free(im);
            *st = gs_error(GS_ERR_NOMEM, "%s: out of memory", path);
            return -1;
        }
        *row = r;
        *row_cap = rb;
    }
    for (long y = 0; y < h; y++) {
        if (fread(*row, 1, rb, f) != rb) {
            gs_image_free(im);
            *st = gs_error(GS_ERR_FORMAT, "%s: ffmpeg's frame stream ended inside a frame", path);
            return -1;
        }
        float *d = im->data + (size_t)y * rb;
        for (size_t i = 0; i < rb; i++) d[i] = (float)(*row)[i] / 255.0f;
    }
    return 1;
}

gs_status gs_video_read_frames(const char *path, double fps, long max_frames, int64_t max_pixels,
                               gs_image **frames_out, int *n_out, double *video_fps, long *every) {
    *frames_out = NULL;
    *n_out = 0;
    if (video_fps) *video_fps = 0;
    if (every) *every = 1;
    if (!(fps > 0) || !isfinite(fps)) return gs_error(GS_ERR_INVALID, "video %s: bad sampling rate %g", path, fps);
    int fd;
    gs_status st = gs_open_regular(path, &fd);
    if (st) return st;
    close(fd);
    /* "file:" keeps a name starting with '-' or holding ':' a plain file */
    size_t un = strlen(path) + 6;
    char *url = malloc(un);
    if (!url) return gs_error(GS_ERR_NOMEM, "out of memory");
    snprintf(url, un, "file:%s", path);

    char probe[8192];
    char *pargv[] = {"ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                     "stream=avg_frame_rate,r_frame_rate,codec_type", "-of", "default=noprint_wrappers=1", url, NULL};
    if ((st = run_capture(pargv, path, probe, sizeof probe))) {
        if (strstr(gs_last_error(), "cannot start")) { free(url); return st; }
        st = gs_error(GS_ERR_FORMAT, "video %s: ffprobe cannot read it: %s", path, probe[0] ? last_line(probe) : "no reason given");
        free(url);
        return st;
    }
    if (!strstr(probe, "codec_type=video")) {
        free(url);
        return gs_error(GS_ERR_FORMAT, "video %s: no video stream in the file", path);
    }
    double vfps = parse_rate(probe, "avg_frame_rate=");
    if (!(vfps > 0)) vfps = parse_rate(probe, "r_frame_rate=");
    long k = 1;
    if (vfps > 0) {
        double q = vfps / fps;
        k = q >= 1 ? (q < 1e6 ? (long)q : 1000000) : 1;
        if (fps > vfps)
            gs_warn("video %s: --fps %g exceeds the video's %.2f frames per second; taking every frame", path, fps, vfps);
    } else {
        gs_warn("video %s: ffprobe gives no frame rate; taking every frame", path);
    }
    if (video_fps) *video_fps = vfps;
    if (every) *every = k;

    char sel[64], cap[32];
    snprintf(sel, sizeof sel, "select=not(mod(n\\,%ld))", k);
    snprintf(cap, sizeof cap, "%ld", max_frames > 0 ? max_frames : 0L);
    char *argv[24];
    int a = 0;
    char *fixed[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-i", url, "-map", "0:v:0", "-vf", sel,
                     "-fps_mode", "passthrough", "-an", "-sn", "-f", "image2pipe", "-c:v", "ppm", "-pix_fmt", "rgb24"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[a++] = fixed[i];
    if (max_frames > 0) { argv[a++] = "-frames:v"; argv[a++] = cap; }
    argv[a++] = "pipe:1";
    argv[a] = NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(url);
        return gs_error(GS_ERR_IO, "%s: cannot make a pipe for ffmpeg: %s", path, strerror(errno));
    }
    int pid, slot;
    char what[4200];
    snprintf(what, sizeof what, "video %.4000s", path);
    st = gs_spawn(argv, -1, fds[1], -1, what, &pid, &slot);
    close(fds[1]);
    free(url);
    if (st) {
        close(fds[0]);
        return st;
    }
    FILE *f = fdopen(fds[0], "rb");
    if (!f) {
        close(fds[0]);
        gs_spawn_wait(pid, slot, 1, path, "ffmpeg");
        return gs_error(GS_ERR_IO, "%s: cannot read from ffmpeg: %s", path, strerror(errno));
    }
    gs_image *frames = NULL;
    int n = 0, cap_n = 0;
    uint8_t *row = NULL;
    size_t row_cap = 0;
    for (;;) {
        if (max_frames > 0 && n >= max_frames) break;
        if (n == cap_n) {
            int nc = cap_n ? 2 * cap_n : 16;
            gs_image *nf = realloc(frames, (size_t)nc * sizeof *nf);
            if (!nf) { st = gs_error(GS_ERR_NOMEM, "%s: out of memory", path); break; }
            frames = nf;
            cap_n = nc;
        }
        int r = ppm_frame(f, path, max_pixels, &frames[n], &row, &row_cap, &st);
        if (r <= 0) break;
        n++;
    }
    free(row);
    fclose(f);
    gs_status wst = gs_spawn_wait(pid, slot, st != GS_OK, what, "ffmpeg");
    if (!st && wst) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", gs_last_error());
        st = gs_error(GS_ERR_FORMAT, "%s: a corrupt or truncated video? (%d frames decoded)", msg, n);
    }
    if (!st && !n)
        st = gs_error(GS_ERR_FORMAT, "video %s: no frames decoded (an empty or corrupt video?)", path);
    if (st) {
        for (int i = 0; i < n; i++) gs_image_free(&frames[i]);
        free(frames);
        return st;
    }
    *frames_out = frames;
    *n_out = n;
    return GS_OK;
}
