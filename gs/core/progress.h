/* progress.h - progress with an ETA on stderr, for work measured in
 * weighted units and reported in stages (the network: gs_da3_options.
 * on_progress), next to the frame counter gs_progress of runtime.h.
 *
 *   gs_meter pm;
 *   gs_meter_begin(&pm, "gs infer", quiet);
 *   o.on_progress = gs_meter_update;  o.progress_ctx = &pm;
 *   ... gs_da3_infer(...) ...
 *   gs_meter_end(&pm);
 *
 * On a terminal one line is redrawn with '\r' at most 10 times a second:
 * "gs infer: backbone  43%  5.1 s, eta 6.8 s". Otherwise (a log, a pipe)
 * plain lines: one as each stage starts, "gs infer: head ... (5.2 s, 61%,
 * eta 3.3 s)", and one each time another tenth of the work is done,
 * "gs infer: 70% (head), 6.0 s, eta 2.6 s". Nothing when quiet.
 *
 * The ETA assumes the rate so far holds: it is measured from the first
 * report that has a total (stages before it, e.g. preprocessing, whose
 * size is not known yet, do not count), so the units must be weighted to
 * track time (gs_da3_work does). */
#ifndef GS_CORE_PROGRESS_H
#define GS_CORE_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds left when `done` of `total` units took `elapsed` seconds and the
 * rest goes at the same rate; -1 when unknown (nothing done yet, no total). */
double gs_eta(double elapsed, int64_t done, int64_t total);
/* A duration for people: "0.4 s", "12.3 s", "4 min 05 s", "2 h 03 min";
 * "?" when negative or not finite. Returns buf. */
char *gs_format_duration(double seconds, char *buf, size_t n);

typedef struct {
    const char *prefix;         /* "gs infer": every line starts "gs infer: " */
    FILE *out;                  /* stderr unless set after begin (tests) */
    double (*clock)(void);      /* gs_now unless set after begin (tests) */
    int enabled, tty;
    double t0;                  /* begin */
    double t_work;              /* the first report with a total; -1 before */
    double last_draw;           /* tty: the last redraw */
    int64_t work0;              /* done at t_work */
    int64_t done, total;
    int last_tenth;             /* not a tty: the last tenth printed */
    int line_len;               /* tty: the length of the line on screen, 0 = none */
    char stage[64];
} gs_meter;

/* Start (the clock starts too); quiet != 0: the meter prints nothing. The
 * tty decision is isatty(stderr). */
void gs_meter_begin(gs_meter *m, const char *prefix, int quiet);
/* done of total units, stage now running (the signature of
 * gs_da3_options.on_progress; meter is a gs_meter). total 0 = not known yet. */
void gs_meter_update(void *meter, const char *stage, int64_t done, int64_t total);
/* A stage with no measure of its own (writing the outputs): a line. */
void gs_meter_stage(gs_meter *m, const char *stage);
/* The final state (a terminal's line is finished with a newline). */
void gs_meter_end(gs_meter *m);

#ifdef __cplusplus
}
#endif
#endif
