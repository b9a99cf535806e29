/* bench_util.c - helpers the `gs bench` workloads share: size lists, sorting,
 * the process's peak resident memory and the CPU model. */
#include "gs/cli/bench.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

int bench_parse_sizes(const char *s, int (*sizes)[2], int *n) {
    *n = 0;
    while (*s) {
        int w, h, used = 0;
        if (*n == BENCH_MAX_SIZES || sscanf(s, "%dx%d%n", &w, &h, &used) != 2 || w < 1 || h < 1 || w > 16384 ||
            h > 16384)
            return 0;
        sizes[*n][0] = w, sizes[*n][1] = h, (*n)++;
        s += used;
        if (*s == ',') s++;
        else if (*s) return 0;
    }
    return *n > 0;
}

int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Linux keeps the resident high-water mark as VmHWM, which writing 5 to
 * /proc/self/clear_refs restarts (ru_maxrss never goes down). */
double bench_peak_rss_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long kib = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
        fclose(f);
        if (kib >= 0) return kib / 1024.0;
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

int bench_reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return 0;
    int ok = fputs("5", f) >= 0;
    return (fclose(f) == 0) && ok;
}

void bench_cpu_model(char *buf, size_t n) {
    snprintf(buf, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        const char *c = strchr(line, ':');
        if (!c) break;
        for (c++; *c == ' '; c++) {}
        snprintf(buf, n, "%s", c);
        buf[strcspn(buf, "\n")] = 0;
        break;
    }
    fclose(f);
}
