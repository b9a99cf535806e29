/* signals.c - what a signal must not do to gs's files (runtime.h):
 *
 * - SIGINT, SIGTERM, SIGHUP, SIGQUIT: stop the children that write for gs
 *   (ffmpeg), remove the temporary files and folders gs is writing (every
 *   gs_afile, the video being encoded, the viewer's download folder), then
 *   die of the same signal as before.
 * - SIGXFSZ (a file-size limit, `ulimit -f`): ignored, so that the write
 *   fails with EFBIG and the writer reports it and cleans up, instead of the
 *   process dying with its temporary files left behind.
 * - SIGBUS inside a memory-mapped input (the file shrank while gs read it):
 *   a message naming the file, the temporary files removed, exit status 1.
 *
 * The tables are fixed arrays of slots, each claimed with an atomic
 * compare-and-swap and published by an atomic store, so the handlers (which
 * may run on any thread, at any moment) only ever read complete entries and
 * call nothing but async-signal-safe functions. */
#include "gs/core/runtime.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { SLOT_FREE = 0, SLOT_BUSY = 1, SLOT_LIVE = 2 };

#define N_CLEANUP 256
#define CLEANUP_PATH 4096
static struct {
    int state;
    int is_dir;
    char path[CLEANUP_PATH];
} g_clean[N_CLEANUP];

#define N_CHILDREN 16
static struct {
    int state;
    int pid;
} g_children[N_CHILDREN];

#define N_MAPS 64
#define MAP_NAME 1024
static struct {
    int state;
    uintptr_t lo, hi;
    char name[MAP_NAME];
} g_maps[N_MAPS];

static int claim(int *state) {
    int expect = SLOT_FREE;
    return __atomic_compare_exchange_n(state, &expect, SLOT_BUSY, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

int gs_cleanup_add(const char *path, int is_dir) {
    if (!path || strlen(path) >= CLEANUP_PATH) return -1;
    for (int i = 0; i < N_CLEANUP; i++) {
        if (!claim(&g_clean[i].state)) continue;
        strcpy(g_clean[i].path, path);
        g_clean[i].is_dir = is_dir;
        __atomic_store_n(&g_clean[i].state, SLOT_LIVE, __ATOMIC_RELEASE);
        return i;
    }
    return -1; /* full: the file is still written safely, only not removed on a signal */
}

void gs_cleanup_remove(int slot) {
    if (slot < 0 || slot >= N_CLEANUP) return;
    __atomic_store_n(&g_clean[slot].state, SLOT_FREE, __ATOMIC_RELEASE);
}

int gs_cleanup_add_child(int pid) {
    if (pid <= 0) return -1;
    for (int i = 0; i < N_CHILDREN; i++) {
        if (!claim(&g_children[i].state)) continue;
        g_children[i].pid = pid;
        __atomic_store_n(&g_children[i].state, SLOT_LIVE, __ATOMIC_RELEASE);
        return i;
    }
    return -1;
}

void gs_cleanup_remove_child(int slot) {
    if (slot < 0 || slot >= N_CHILDREN) return;
    __atomic_store_n(&g_children[slot].state, SLOT_FREE, __ATOMIC_RELEASE);
}

int gs_map_register(const void *data, size_t size, const char *name) {
    if (!data || !size) return -1;
    for (int i = 0; i < N_MAPS; i++) {
        if (!claim(&g_maps[i].state)) continue;
        g_maps[i].lo = (uintptr_t)data;
        g_maps[i].hi = (uintptr_t)data + size;
        snprintf(g_maps[i].name, MAP_NAME, "%s", name ? name : "a mapped file");
        __atomic_store_n(&g_maps[i].state, SLOT_LIVE, __ATOMIC_RELEASE);
        return i;
    }
    return -1;
}

void gs_map_unregister(int slot) {
    if (slot < 0 || slot >= N_MAPS) return;
    __atomic_store_n(&g_maps[slot].state, SLOT_FREE, __ATOMIC_RELEASE);
}

/* The writing children first (stopped and reaped, so that none creates a
 * file again), then the files, then the folders that held them (a folder is
 * only removed once empty; rmdir of one with other files fails harmlessly). */
void gs_cleanup_run(void) {
    for (int i = 0; i < N_CHILDREN; i++) {
        if (__atomic_load_n(&g_children[i].state, __ATOMIC_ACQUIRE) != SLOT_LIVE) continue;
        kill(g_children[i].pid, SIGKILL);
        while (waitpid(g_children[i].pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < N_CLEANUP; i++) {
            if (__atomic_load_n(&g_clean[i].state, __ATOMIC_ACQUIRE) != SLOT_LIVE) continue;
            if (g_clean[i].is_dir != pass) continue;
            if (pass) rmdir(g_clean[i].path);
            else unlink(g_clean[i].path);
        }
}

static void say(const char *s) {
    size_t n = strlen(s);
    while (n) {
        ssize_t k = write(2, s, n);
        if (k <= 0) break;
        s += k;
        n -= (size_t)k;
    }
}

static void on_stop(int sig) {
    int saved = errno;
    gs_cleanup_run();
    signal(sig, SIG_DFL);
    raise(sig); /* delivered on return: the exit status still names the signal */
    errno = saved;
}

static void on_bus(int sig, siginfo_t *si, void *uctx) {
    (void)uctx;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (int i = 0; i < N_MAPS; i++) {
        if (__atomic_load_n(&g_maps[i].state, __ATOMIC_ACQUIRE) != SLOT_LIVE) continue;
        if (a < g_maps[i].lo || a >= g_maps[i].hi) continue;
        say("gs: error: ");
        say(g_maps[i].name);
        say(": the file became shorter (or unreadable) while gs was reading it; was it rewritten meanwhile? "
            "Read it again once the writer is done.\n");
        gs_cleanup_run();
        _exit(1);
    }
    /* not one of ours: the default action (a core dump), after cleaning up */
    gs_cleanup_run();
    signal(sig, SIG_DFL);
    raise(sig);
}

void gs_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sa.sa_flags = SA_RESTART;
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof stops / sizeof *stops; i++) {
        struct sigaction old;
        /* keep a signal that was ignored when gs started ignored (nohup) */
        if (sigaction(stops[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(stops[i], &sa, NULL);
    }
    signal(SIGXFSZ, SIG_IGN);
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGBUS, &sa, NULL);
}
