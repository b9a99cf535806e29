/* video.h - mp4 output through an ffmpeg pipe (libx264, crf 18, preset slow,
 * yuv420p, as Depth Anything 3's video export at its default quality), written to a temporary file
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

/* Encoder settings of Depth Anything 3's gs_video export (VIDEO_QUALITY_MAP):
 * high = crf 18, preset slow (its default); medium = crf 23, medium;
 * low = crf 28, veryfast. Always libx264, yuv420p. */
typedef enum { GS_VIDEO_HIGH = 0, GS_VIDEO_MEDIUM, GS_VIDEO_LOW } gs_video_quality;
/* "high", "medium", "low" */
gs_status gs_video_quality_parse(const char *s, gs_video_quality *q);
const char *gs_video_quality_name(gs_video_quality q);

/* Where a second image (the colourised depth) goes, as DA3's vis_depth:
 * hcat = to the right of the RGB, vcat = below it, each after a white
 * GS_VIDEO_GAP-pixel separator (DA3's layout_helpers.cat, gap 8, colour 1);
 * none = the RGB alone. */
typedef enum { GS_VIDEO_PANEL_NONE = 0, GS_VIDEO_PANEL_HCAT, GS_VIDEO_PANEL_VCAT } gs_video_panel;
#define GS_VIDEO_GAP 8
/* "none", "hcat", "vcat" */
gs_status gs_video_panel_parse(const char *s, gs_video_panel *p);
const char *gs_video_panel_name(gs_video_panel p);
/* Video frame size for w x h images laid out as p. */
void gs_video_panel_size(gs_video_panel p, int w, int h, int *fw, int *fh);
/* Largest frame side gs_video_open takes. */
#define GS_VIDEO_MAX_SIDE 16384

/* Is an ffmpeg executable on PATH (where gs_video_open looks for it)? 0 with
 * an error naming ffmpeg and `what` (the file that needs it) when not. */
gs_status gs_video_find_ffmpeg(const char *what);

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

/* Start ffmpeg for frames of width x height at fps (quality high). */
gs_status gs_video_open(gs_video *v, const char *path, int width, int height, int fps);
/* The same at a quality. */
gs_status gs_video_open_quality(gs_video *v, const char *path, int width, int height, int fps, gs_video_quality q);
/* rgb [h, w, 3] float; side [h, w2, 3] or NULL; w (+ w2) and h must match
 * the size given to gs_video_open. */
gs_status gs_video_frame(gs_video *v, const float *rgb, int w, int h, const float *side, int w2);
/* rgb and side (NULL with GS_VIDEO_PANEL_NONE) both [h, w, 3] float, laid out
 * as p; the frame must be gs_video_panel_size(p, w, h) of the video. */
gs_status gs_video_frame_panel(gs_video *v, const float *rgb, const float *side, int w, int h, gs_video_panel p);
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
