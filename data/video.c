/* video.c - ffmpeg pipe writer, and the child-process helpers the video
 * reader (video_read.c) shares (video.h). */
#include "data/video.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <signal.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *const k_quality[3] = {"high", "medium", "low"};
static const char *const k_crf[3] = {"18", "23", "28"}, *const k_preset[3] = {"slow", "medium", "veryfast"};
static const char *const k_panel[3] = {"none", "hcat", "vcat"};

gs_status gs_video_quality_parse(const char *s, gs_video_quality *q) {
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, k_quality[i])) { *q = (gs_video_quality)i; return GS_OK; }
    return gs_error(GS_ERR_INVALID, "video quality '%s' is unknown (expected low, medium or high)", s ? s : "(null)");
}
const char *gs_video_quality_name(gs_video_quality q) { return q >= 0 && q < 3 ? k_quality[q] : "?"; }

gs_status gs_video_panel_parse(const char *s, gs_video_panel *p) {
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, k_panel[i])) { *p = (gs_video_panel)i; return GS_OK; }
    return gs_error(GS_ERR_INVALID, "depth panel '%s' is unknown (expected hcat, vcat or none)", s ? s : "(null)");
}
const char *gs_video_panel_name(gs_video_panel p) { return p >= 0 && p < 3 ? k_panel[p] : "?"; }

void gs_video_panel_size(gs_video_panel p, int w, int h, int *fw, int *fh) {
    *fw = p == GS_VIDEO_PANEL_HCAT ? 2 * w + GS_VIDEO_GAP : w;
    *fh = p == GS_VIDEO_PANEL_VCAT ? 2 * h + GS_VIDEO_GAP : h;
}

/* posix_spawnp's search: each PATH entry (empty = the current folder), the
 * system default when PATH is unset. */
gs_status gs_video_find_ffmpeg(const char *what) {
    const char *path = getenv("PATH");
    char def[256];
    if (!path) {
        size_t n = confstr(_CS_PATH, def, sizeof def);
        path = n > 0 && n <= sizeof def ? def : "/bin:/usr/bin";
    }
    char buf[4200];
    for (const char *p = path;; p++) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n < sizeof buf - 8) {
            snprintf(buf, sizeof buf, "%.*s%sffmpeg", (int)n, n ? p : "", n ? "/" : "");
            struct stat sb;
            if (stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) && access(buf, X_OK) == 0) return GS_OK;
        }
        if (!e) break;
        p = e;
    }
    return gs_error(GS_ERR_IO, "%s: ffmpeg is not on PATH, and it writes the video (install it: make deps; or leave "
                    "out the video)", what);
}

gs_status gs_spawn(char *const argv[], int in_fd, int out_fd, int err_fd, const char *what, int *pid, int *pid_slot) {
    *pid = -1;
    *pid_slot = -1;
    signal(SIGPIPE, SIG_IGN); /* a dying child must give an error, not kill us */
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int err = posix_spawn_file_actions_init(&fa);
    if (err) return gs_error(GS_ERR_IO, "%s: cannot start %s: %s", what, argv[0], strerror(err));
    if ((err = posix_spawnattr_init(&at))) {
        posix_spawn_file_actions_destroy(&fa);
        return gs_error(GS_ERR_IO, "%s: cannot start %s: %s", what, argv[0], strerror(err));
    }
    sigset_t dfl; /* the child starts with the default SIGPIPE (SIGXFSZ stays ignored: it reports EFBIG) */
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
    if (in_fd >= 0) posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    if (out_fd >= 0) posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    if (err_fd >= 0) posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    pid_t p = -1;
    err = posix_spawnp(&p, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (err || p <= 0)
        return gs_error(GS_ERR_IO, "%s: cannot start %s: %s (is ffmpeg installed? make deps)", what, argv[0],
                        strerror(err ? err : ECHILD));
    *pid = (int)p;
    *pid_slot = gs_cleanup_add_child(*pid);
    return GS_OK;
}

gs_status gs_spawn_wait(int pid, int pid_slot, int stop, const char *what, const char *prog) {
    if (pid <= 0) return GS_OK;
    if (stop) kill(pid, SIGTERM);
    int status = 0;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
    gs_cleanup_remove_child(pid_slot);
    if (stop) return GS_OK;
    if (r < 0) return gs_error(GS_ERR_IO, "%s: cannot wait for %s: %s", what, prog, strerror(errno));
    if (WIFSIGNALED(status)) return gs_error(GS_ERR_IO, "%s: %s was killed by signal %d", what, prog, WTERMSIG(status));
    if (status != 0) return gs_error(GS_ERR_IO, "%s: %s failed (exit status %d)", what, prog, WEXITSTATUS(status));
    return GS_OK;
}

/* ffmpeg is spawned directly (no shell, so any file name works) with its
 * stdin on a pipe; its pid goes to the signal table, so that a signal that
 * stops gs also stops ffmpeg before the temporary file is removed (else
 * ffmpeg, still running, would create it again). */
gs_status gs_video_open(gs_video *v, const char *path, int width, int height, int fps) {
    return gs_video_open_quality(v, path, width, height, fps, GS_VIDEO_HIGH);
}

gs_status gs_video_open_quality(gs_video *v, const char *path, int width, int height, int fps, gs_video_quality q) {
    memset(v, 0, sizeof *v);
    v->slot = v->pid_slot = -1;
    v->pid = -1;
    if (q < 0 || q > 2) return gs_error(GS_ERR_INVALID, "%s: bad video quality %d", path, (int)q);
    if (width < 1 || height < 1 || width > GS_VIDEO_MAX_SIDE || height > GS_VIDEO_MAX_SIDE || fps < 1 || fps > 240)
        return gs_error(GS_ERR_INVALID, "%s: bad video size %dx%d or rate %d", path, width, height, fps);
    size_t n = strlen(path) + 64;
    v->path = strdup(path);
    v->tmp = malloc(n);
    v->row = malloc((size_t)width * 3);
    if (!v->path || !v->tmp || !v->row) {
        gs_video_close(v, 0);
        return gs_error(GS_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(v->tmp, n, "%s.tmp.%d.mp4", path, (int)getpid());
    v->slot = gs_cleanup_add(v->tmp, 0);
    char size[64], rate[16];
    snprintf(size, sizeof size, "%dx%d", width, height);
    snprintf(rate, sizeof rate, "%d", fps);
    /* yuv420p needs even sides: pad by one black pixel when odd */
    char *argv[] = {"ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
                    size, "-r", rate, "-i", "pipe:0", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264",
                    "-crf", (char *)k_crf[q], "-preset", (char *)k_preset[q], "-pix_fmt", "yuv420p", "-f", "mp4", v->tmp, NULL};
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        gs_video_close(v, 0);
        return gs_error(GS_ERR_IO, "%s: cannot make a pipe for ffmpeg: %s", path, strerror(errno));
    }
    gs_status st = gs_spawn(argv, fds[0], -1, -1, path, &v->pid, &v->pid_slot);
    close(fds[0]);
    if (st) {
        close(fds[1]);
        gs_video_close(v, 0);
        return st;
    }
    v->pipe = fdopen(fds[1], "w");
    if (!v->pipe) {
        close(fds[1]);
        gs_video_close(v, 0);
        return gs_error(GS_ERR_IO, "%s: cannot write to ffmpeg: %s", path, strerror(errno));
    }
    v->width = width;
    v->height = height;
    return GS_OK;
}

static unsigned char to_u8(float x) { /* rounded as the PNG writer rounds */
    if (!(x > 0.0f)) return 0;
    if (x >= 1.0f) return 255;
    return (unsigned char)floorf(x * 255.0f + 0.5f);
}

gs_status gs_video_frame(gs_video *v, const float *rgb, int w, int h, const float *side, int w2) {
    if (!v->pipe) return gs_error(GS_ERR_INVALID, "video: not open");
    if (h != v->height || w + (side ? w2 : 0) != v->width)
        return gs_error(GS_ERR_INVALID, "%s: frame %dx%d does not match the video's %dx%d", v->path,
                        w + (side ? w2 : 0), h, v->width, v->height);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) v->row[3 * x + c] = to_u8(rgb[3 * ((size_t)y * w + x) + c]);
        for (int x = 0; side && x < w2; x++)
            for (int c = 0; c < 3; c++) v->row[3 * (w + x) + c] = to_u8(side[3 * ((size_t)y * w2 + x) + c]);
        if (fwrite(v->row, 1, (size_t)v->width * 3, v->pipe) != (size_t)v->width * 3)
            return gs_error(GS_ERR_IO, "%s: ffmpeg stopped accepting frames", v->path);
    }
    v->frames++;
    return GS_OK;
}

gs_status gs_video_frame_panel(gs_video *v, const float *rgb, const float *side, int w, int h, gs_video_panel p) {
    if (!v->pipe) return gs_error(GS_ERR_INVALID, "video: not open");
    int fw, fh;
    gs_video_panel_size(p, w, h, &fw, &fh);
    if (p != GS_VIDEO_PANEL_NONE && !side) return gs_error(GS_ERR_INVALID, "%s: a depth panel without its image", v->path);
    if (fw != v->width || fh != v->height)
        return gs_error(GS_ERR_INVALID, "%s: frame %dx%d does not match the video's %dx%d", v->path, fw, fh, v->width,
                        v->height);
    for (int y = 0; y < fh; y++) {
        /* vcat: the RGB rows, the gap, the side image's rows; hcat: RGB | gap | side on each row */
        const float *a = NULL, *b = NULL;
        if (p == GS_VIDEO_PANEL_VCAT) a = y < h ? rgb + (size_t)y * w * 3 : y >= h + GS_VIDEO_GAP ? side + (size_t)(y - h - GS_VIDEO_GAP) * w * 3 : NULL;
        else a = rgb + (size_t)y * w * 3;
        if (p == GS_VIDEO_PANEL_HCAT) b = side + (size_t)y * w * 3;
        unsigned char *r = v->row;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) *r++ = a ? to_u8(a[3 * x + c]) : 255;
        if (b) {
            memset(r, 255, (size_t)GS_VIDEO_GAP * 3);
            r += GS_VIDEO_GAP * 3;
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) *r++ = to_u8(b[3 * x + c]);
        }
        if (fwrite(v->row, 1, (size_t)v->width * 3, v->pipe) != (size_t)v->width * 3)
            return gs_error(GS_ERR_IO, "%s: ffmpeg stopped accepting frames", v->path);
    }
    v->frames++;
    return GS_OK;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* ffmpeg can exit 0 after a failed write (a full disk, a file-size limit):
 * walk the top-level boxes of the file it wrote and require an ftyp box
 * first, an mdat and a moov box (the index a player needs; written last, so
 * a cut file lacks it), and box sizes that add up to the file size. */
gs_status gs_video_check_mp4(const char *path, const char *name) {
    if (!name) name = path;
    FILE *f = fopen(path, "rb");
    if (!f) return gs_error(GS_ERR_IO, "%s: ffmpeg wrote no video file", name);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return gs_error(GS_ERR_IO, "%s: ffmpeg wrote no video file", name);
    }
    uint64_t size = (uint64_t)sb.st_size, pos = 0;
    int n_box = 0, have_moov = 0, have_mdat = 0;
    gs_status st = GS_OK;
    while (!st && pos < size) {
        uint8_t h[16];
        if (size - pos < 8 || fseeko(f, (off_t)pos, SEEK_SET) != 0 || fread(h, 1, 8, f) != 8) {
            st = gs_error(GS_ERR_IO, "%s: the video file is cut short at byte %llu (disk full or a file-size limit?)",
                          name, (unsigned long long)pos);
            break;
        }
        uint64_t bsize = be32(h), head = 8;
        if (bsize == 1) {
            if (size - pos < 16 || fread(h + 8, 1, 8, f) != 8) { bsize = 0; head = 0; }
            else bsize = (uint64_t)be32(h + 8) << 32 | be32(h + 12), head = 16;
        } else if (bsize == 0) {
            bsize = size - pos; /* to the end of the file */
        }
        if (!head || bsize < head || bsize > size - pos) {
            st = gs_error(GS_ERR_IO, "%s: the video file is cut short in its box at byte %llu (disk full or a "
                          "file-size limit?)", name, (unsigned long long)pos);
            break;
        }
        if (n_box == 0 && memcmp(h + 4, "ftyp", 4) != 0)
            st = gs_error(GS_ERR_IO, "%s: ffmpeg's output is not an MP4 file (no ftyp box)", name);
        if (!memcmp(h + 4, "moov", 4)) have_moov = 1;
        if (!memcmp(h + 4, "mdat", 4)) have_mdat = 1;
        n_box++;
        pos += bsize;
    }
    fclose(f);
    if (!st && !size) st = gs_error(GS_ERR_IO, "%s: ffmpeg wrote an empty video file", name);
    if (!st && (!have_moov || !have_mdat))
        st = gs_error(GS_ERR_IO, "%s: the video file has no %s box: ffmpeg did not finish it (disk full or a file-size "
                      "limit?)", name, have_moov ? "mdat" : "moov");
    return st;
}

gs_status gs_video_close(gs_video *v, int ok) {
    gs_status st = GS_OK;
    if (v->pipe) fclose(v->pipe); /* EOF: ffmpeg finishes the file */
    v->pipe = NULL;
    if (v->pid > 0) {
        st = gs_spawn_wait(v->pid, v->pid_slot, !ok, v->path, "ffmpeg");
        if (ok && !st) st = gs_video_check_mp4(v->tmp, v->path);
        if (ok && !st && rename(v->tmp, v->path) != 0)
            st = gs_error(GS_ERR_IO, "%s: cannot rename the finished video into place", v->path);
        if (!ok || st) remove(v->tmp);
    }
    if (v->tmp) gs_cleanup_remove(v->slot); /* a gs_video never opened is all zeros */
    free(v->path);
    free(v->tmp);
    free(v->row);
    memset(v, 0, sizeof *v);
    v->slot = v->pid_slot = v->pid = -1;
    return st;
}
