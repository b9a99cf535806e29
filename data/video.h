/* video.h - mp4 output through an ffmpeg pipe (libx264, crf 18, preset slow,
 * yuv420p, as Depth Anything 3's video export), written to a temporary file
 * and renamed into place only when ffmpeg succeeded. Frames are float RGB in
 * [0,1], converted by truncation (x*255 as uint8) like DA3's `.byte()`; an
 * optional second image (e.g. colourised depth) goes side by side. */
#ifndef GS_VIDEO_H
#define GS_VIDEO_H

#include "gs/core/runtime.h"
#include "data/image.h"

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
/* ---- reading: frames of a video file (video_read.c) ---------------------- */
/* The video extensions DA3's CLI takes as videos: .mp4 .avi .mov .mkv .flv
 * .wmv .webm .m4v (any case). */
int gs_video_ext_known(const char *name);
/* Frames of `path` as float RGB images, sampled as DA3's VideoHandler does:
 * every k-th decoded frame from the first, k = max(1, int(video_fps / fps)),
 * decoded by ffmpeg (autorotated as it does) into a pipe, no temporary files.
 * max_frames > 0 keeps the first max_frames; a frame over max_pixels is an
 * error before its pixels are read. *frames is malloc'ed (gs_image_free each,
 * then free); on failure NULL and 0. *video_fps (0: unknown) and *every (k)
 * tell the sampling (either may be NULL); an fps over the video's rate is
 * warned about (gs_warn). */
gs_status gs_video_read_frames(const char *path, double fps, long max_frames, int64_t max_pixels, gs_image **frames,
                               int *n, double *video_fps, long *every);

/* ---- child processes (shared by the writer and the reader) ---------------- */
/* Start argv[0] (looked up on PATH, no shell, so any file name is safe) with
 * its stdin, stdout and stderr from in_fd, out_fd, err_fd (-1: gs's own) and
 * SIGPIPE at its default; its pid goes to the signal table (*pid_slot), so a
 * signal that stops gs stops it first. `what` is the file named in errors. */
gs_status gs_spawn(char *const argv[], int in_fd, int out_fd, int err_fd, const char *what, int *pid, int *pid_slot);
/* Reap it (after SIGTERM when stop, and then no error); a failure or a
 * signal becomes an error naming `what` and prog. */
gs_status gs_spawn_wait(int pid, int pid_slot, int stop, const char *what, const char *prog);

/* A finished MP4 file: ftyp first, mdat and moov present, box sizes adding up
 * to the file size. name is the file named in errors (NULL: path). */
gs_status gs_video_check_mp4(const char *path, const char *name);

#ifdef __cplusplus
}
#endif
#endif
