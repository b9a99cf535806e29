/* progress.c - monotonic clock, CPU thread count, the stderr frame counter
 * (runtime.h) and the staged meter with an ETA (progress.h). */
#include "gs/core/progress.h"
#include "gs/core/runtime.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

double gs_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int gs_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void gs_set_num_threads(int n) {
#ifdef _OPENMP
    if (n > 0) omp_set_num_threads(n);
#else
    (void)n;
#endif
}

/* ---- ETA ---------------------------------------------------------------------- */

double gs_eta(double elapsed, int64_t done, int64_t total) {
    if (done <= 0 || total <= 0 || !(elapsed >= 0) || !isfinite(elapsed)) return -1.0;
    if (done >= total) return 0.0;
    return elapsed * (double)(total - done) / (double)done;
}

char *gs_format_duration(double t, char *buf, size_t n) {
    if (!(t >= 0) || !isfinite(t)) snprintf(buf, n, "?");
    else if (t < 59.95) snprintf(buf, n, "%.1f s", t);
    else if (t < 3599.5) {
        const long s = lround(t);
        snprintf(buf, n, "%ld min %02ld s", s / 60, s % 60);
    } else {
        const long mins = lround(t / 60.0);
        snprintf(buf, n, "%ld h %02ld min", mins / 60, mins % 60);
    }
    return buf;
}

/* ---- the frame counter (runtime.h) -------------------------------------------- */

static void draw(gs_progress *p, int final) {
    double el = gs_now() - p->t0;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
    if (frac > 1) frac = 1;
    char els[32], etas[32];
    gs_format_duration(el, els, sizeof els);
    gs_format_duration(gs_eta(el, p->done, p->total), etas, sizeof etas);
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '-';
        bar[30] = 0;
        fprintf(stderr, "\r%s [%s] %lld/%lld %s", p->label, bar, (long long)p->done, (long long)p->total, els);
        if (!final && p->done > 0) fprintf(stderr, ", eta %s   ", etas);
        else fprintf(stderr, "                ");
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %lld/%lld (%.0f%%) %s", p->label, (long long)p->done, (long long)p->total, frac * 100, els);
        if (!final && p->done < p->total) fprintf(stderr, ", eta %s", etas);
        fputc('\n', stderr);
    }
    fflush(stderr);
}

void gs_progress_begin(gs_progress *p, const char *label, int64_t total, int quiet) {
    memset(p, 0, sizeof *p);
    p->label = label;
    p->total = total;
    p->t0 = p->last_draw = gs_now();
    p->enabled = !quiet;
    p->tty = isatty(2);
    p->last_pct = -1;
}

void gs_progress_update(gs_progress *p, int64_t done) {
    p->done = done;
    if (!p->enabled) return;
    double now = gs_now();
    if (p->tty) {
        if (now - p->last_draw < 0.1 && done < p->total) return;
        p->last_draw = now;
        draw(p, 0);
    } else {
        int pct = p->total > 0 ? (int)(done * 10 / p->total) : 10;
        if (pct == p->last_pct || done >= p->total) return; /* the final line comes from end */
        p->last_pct = pct;
        if (pct > 0) draw(p, 0);
    }
}

void gs_progress_end(gs_progress *p) {
    if (p->enabled) draw(p, 1);
    p->enabled = 0;
}

/* ---- the staged meter (progress.h) ------------------------------------------------ */

#define METER_REDRAW_S 0.1 /* a terminal's line at most 10 times a second */

void gs_meter_begin(gs_meter *m, const char *prefix, int quiet) {
    memset(m, 0, sizeof *m);
    m->prefix = prefix ? prefix : "gs";
    m->out = stderr;
    m->clock = gs_now;
    m->enabled = !quiet;
    m->tty = isatty(2);
    m->t0 = m->clock();
    m->t_work = -1.0;
    m->last_tenth = -1;
}

/* Seconds since begin, and the ETA from the measured part. */
static double meter_times(const gs_meter *m, double now, double *eta) {
    *eta = m->t_work >= 0 ? gs_eta(now - m->t_work, m->done - m->work0, m->total - m->work0) : -1.0;
    return now - m->t0;
}

static int meter_percent(const gs_meter *m) {
    if (m->total <= 0) return -1;
    const int64_t d = m->done < 0 ? 0 : m->done > m->total ? m->total : m->done;
    return (int)((double)d * 100.0 / (double)m->total); /* 100 only when done */
}

/* The terminal's line, redrawn over the last one. */
static void meter_draw_tty(gs_meter *m, double now) {
    double eta;
    const double el = meter_times(m, now, &eta);
    char line[256], els[32], etas[32];
    const int pct = meter_percent(m);
    gs_format_duration(el, els, sizeof els);
    int len;
    if (pct < 0) len = snprintf(line, sizeof line, "%s: %s  %s", m->prefix, m->stage, els);
    else if (pct < 100 && eta >= 0)
        len = snprintf(line, sizeof line, "%s: %s %3d%%  %s, eta %s", m->prefix, m->stage, pct, els,
                       gs_format_duration(eta, etas, sizeof etas));
    else len = snprintf(line, sizeof line, "%s: %s %3d%%  %s", m->prefix, m->stage, pct, els);
    if (len < 0) return;
    if (len >= (int)sizeof line) len = (int)sizeof line - 1;
    fprintf(m->out, "\r%s%*s", line, m->line_len > len ? m->line_len - len : 0, "");
    fflush(m->out);
    m->line_len = len;
    m->last_draw = now;
}

static void meter_close_line(gs_meter *m) {
    if (m->line_len) fputc('\n', m->out);
    m->line_len = 0;
}

void gs_meter_update(void *meter, const char *stage, int64_t done, int64_t total) {
    gs_meter *m = meter;
    if (!m) return;
    const double now = m->clock();
    const int changed = stage && strncmp(stage, m->stage, sizeof m->stage - 1) != 0;
    if (changed) snprintf(m->stage, sizeof m->stage, "%s", stage);
    if (total > 0 && m->t_work < 0) {
        m->t_work = now;
        m->work0 = done;
    }
    m->done = done;
    m->total = total;
    if (!m->enabled) return;
    const int finished = total > 0 && done >= total;
    if (m->tty) {
        if (!m->line_len || finished || now - m->last_draw >= METER_REDRAW_S) meter_draw_tty(m, now);
        return;
    }
    const int pct = meter_percent(m), tenth = pct < 0 ? -1 : pct / 10;
    double eta;
    const double el = meter_times(m, now, &eta);
    char els[32], etas[32];
    gs_format_duration(el, els, sizeof els);
    gs_format_duration(eta, etas, sizeof etas);
    if (finished) {
        if (m->last_tenth < 10) fprintf(m->out, "%s: 100%% (%s)\n", m->prefix, els);
    } else if (changed) {
        if (pct < 0) fprintf(m->out, "%s: %s ... (%s)\n", m->prefix, m->stage, els);
        else if (eta < 0) fprintf(m->out, "%s: %s ... (%s, %d%%)\n", m->prefix, m->stage, els, pct);
        else fprintf(m->out, "%s: %s ... (%s, %d%%, eta %s)\n", m->prefix, m->stage, els, pct, etas);
    } else if (tenth > m->last_tenth && tenth > 0) {
        fprintf(m->out, "%s: %d%% (%s), %s, eta %s\n", m->prefix, pct, m->stage, els, etas);
    } else {
        return;
    }
    if (tenth > m->last_tenth) m->last_tenth = finished ? 10 : tenth;
    fflush(m->out);
}

void gs_meter_stage(gs_meter *m, const char *stage) {
    const double now = m->clock();
    snprintf(m->stage, sizeof m->stage, "%s", stage ? stage : "");
    m->done = m->total = 0; /* no measure from here */
    if (!m->enabled) return;
    meter_close_line(m);
    char els[32];
    fprintf(m->out, "%s: %s ... (%s)\n", m->prefix, m->stage, gs_format_duration(now - m->t0, els, sizeof els));
    fflush(m->out);
}

void gs_meter_end(gs_meter *m) {
    if (m->enabled && m->tty && m->line_len) {
        meter_draw_tty(m, m->clock());
        meter_close_line(m);
        fflush(m->out);
    }
    m->enabled = 0;
}
