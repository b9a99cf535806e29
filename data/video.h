/* video.h - mp4 output through an ffmpeg pipe (libx264, crf 18, preset slow,
 * yuv420p, as Depth Anything 3's video export), written to a temporary file
 * and renamed into place only when ffmpeg succeeded. Frames are float RGB in
 * [0,1], converted by truncation (x*255 as uint8) like DA3's `.byte()`; an
 * optional second image (e.g. colourised depth) goes side by side. */
#ifndef GS_VIDEO_H
#define GS_VIDEO_H

#include "gs/core/runtime.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    FILE *pipe;
    char *path, *tmp;
    int width, height;      /* frame size (both images together) */
    unsigned char *row;
    int frames;
    int slot;               /* the temporary file in the signal cleanup table */
    int pid;                /* ffmpeg's, -1 when none */
    int pid_slot;           /* ffmpeg in the signal table (stopped before the file is removed) */
} gs_video;

/* Start ffmpeg for frames of width x height at fps. */
gs_status gs_video_open(gs_video *v, const char *path, int width, int height, int fps);
/* rgb [h, w, 3] float; side [h, w2, 3] or NULL; w (+ w2) and h must match
 * the size given to gs_video_open. */
gs_status gs_video_frame(gs_video *v, const float *rgb, int w, int h, const float *side, int w2);
/* ok != 0: finish, check the file (gs_video_check_mp4) and rename it into
 * place; ok == 0: abort and remove. */
gs_status gs_video_close(gs_video *v, int ok);
/* A finished MP4 file: ftyp first, mdat and moov present, box sizes adding up
 * to the file size. name is the file named in errors (NULL: path). */
gs_status gs_video_check_mp4(const char *path, const char *name);

#ifdef __cplusplus
}
#endif
#endif
