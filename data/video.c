/* video.c - ffmpeg pipe writer (video.h). */
#include "data/video.h"

#include <signal.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

gs_status gs_video_open(gs_video *v, const char *path, int width, int height, int fps) {
    memset(v, 0, sizeof *v);
    if (width < 1 || height < 1 || width > 16384 || height > 16384 || fps < 1 || fps > 240)
        return gs_error(GS_ERR_INVALID, "%s: bad video size %dx%d or rate %d", path, width, height, fps);
    if (strchr(path, '\''))
        return gs_error(GS_ERR_INVALID, "%s: video paths may not contain a single quote", path);
    size_t n = strlen(path) + 64;
    v->path = strdup(path);
    v->tmp = malloc(n);
    v->row = malloc((size_t)width * 3);
    if (!v->path || !v->tmp || !v->row) {
        gs_video_close(v, 0);
        return gs_error(GS_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(v->tmp, n, "%s.tmp.%d.mp4", path, (int)getpid());
    char *cmd = malloc(n * 2 + 512);
    if (!cmd) {
        gs_video_close(v, 0);
        return gs_error(GS_ERR_NOMEM, "%s: out of memory", path);
    }
    /* yuv420p needs even sides: pad by one black pixel when odd */
    snprintf(cmd, n * 2 + 512,
             "ffmpeg -loglevel error -y -f rawvideo -pix_fmt rgb24 -s %dx%d -r %d -i - "
             "-vf 'pad=ceil(iw/2)*2:ceil(ih/2)*2' -c:v libx264 -crf 18 -preset slow -pix_fmt yuv420p '%s'",
             width, height, fps, v->tmp);
    signal(SIGPIPE, SIG_IGN); /* a dying ffmpeg must give an error, not kill us */
    v->pipe = popen(cmd, "w");
    free(cmd);
    if (!v->pipe) {
        gs_video_close(v, 0);
        return gs_error(GS_ERR_IO, "%s: cannot start ffmpeg (is it installed? make deps)", path);
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

gs_status gs_video_close(gs_video *v, int ok) {
    gs_status st = GS_OK;
    if (v->pipe) {
        int status = pclose(v->pipe);
        v->pipe = NULL;
        if (ok && status != 0) st = gs_error(GS_ERR_IO, "%s: ffmpeg failed (exit status %d)", v->path, status);
        if (ok && !st && rename(v->tmp, v->path) != 0)
            st = gs_error(GS_ERR_IO, "%s: cannot rename the finished video into place", v->path);
        if (!ok || st) remove(v->tmp);
    }
    free(v->path);
    free(v->tmp);
    free(v->row);
    memset(v, 0, sizeof *v);
    return st;
}
