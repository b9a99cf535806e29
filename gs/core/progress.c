/* progress.c - monotonic clock, CPU thread count and the stderr progress bar. */
#include "gs/core/runtime.h"

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

static void draw(gs_progress *p, int final) {
    double el = gs_now() - p->t0;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 1.0;
    if (frac > 1) frac = 1;
    if (p->tty) {
        char bar[31];
        int fill = (int)(frac * 30);
        for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '-';
        bar[30] = 0;
        double eta = frac > 0 ? el / frac - el : 0;
        fprintf(stderr, "\r%s [%s] %lld/%lld %5.1fs", p->label, bar, (long long)p->done, (long long)p->total, el);
        if (!final && frac > 0) fprintf(stderr, " eta %5.1fs", eta);
        else fprintf(stderr, "          ");
        if (final) fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s: %lld/%lld (%.0f%%) %.1fs\n", p->label, (long long)p->done, (long long)p->total, frac * 100, el);
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
