/* runtime.h - the core runtime every component of libgs uses.
 *
 * Error model: library functions return gs_status; on failure they record a
 * human-readable message (naming the input and the problem) retrievable with
 * gs_last_error(). Only the command-line tool prints and exits.
 *
 * Also here: tensors (f32/f16/bf16 storage), half-precision conversion, file
 * helpers (bounded reads, memory mapping, atomic writes through a temporary
 * file + rename), a monotonic clock, a TTY-aware progress bar on stderr and the
 * CPU thread count (OpenMP). */
#ifndef GS_RUNTIME_H
#define GS_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes and last error ---------------------------------------- */
typedef enum {
    GS_OK = 0,
    GS_ERR_IO = 1,          /* file missing, unreadable, unwritable */
    GS_ERR_FORMAT = 2,      /* corrupt, truncated, wrong magic, bad values */
    GS_ERR_INVALID = 3,     /* bad argument from the caller */
    GS_ERR_NOMEM = 4,       /* allocation failed or size over a sane bound */
    GS_ERR_UNSUPPORTED = 5, /* valid input we do not handle (yet) */
    GS_ERR_DEVICE = 6,      /* CUDA / device failure */
    GS_ERR_NOT_FOUND = 7    /* a looked-up name / key does not exist */
} gs_status;

/* Record a printf-style message for the calling thread and return `st`, so
 * that `return gs_error(GS_ERR_FORMAT, "%s: bad magic", path);` reads well. */
gs_status gs_error(gs_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prefix the current message: "ctx: <old message>" (keeps the status). */
gs_status gs_error_prefix(gs_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *gs_last_error(void);
void gs_clear_error(void);
const char *gs_status_name(gs_status st);

/* ---- memory ---------------------------------------------------------------- */
/* Allocation bound for anything sized from file contents: 16 GiB. Larger
 * requests fail with GS_ERR_NOMEM instead of trying. */
#define GS_MAX_ALLOC ((size_t)16 << 30)
/* malloc/calloc that refuse sizes over GS_MAX_ALLOC and overflowing n*size;
 * on failure they set the last error (naming `what`) and return NULL. */
void *gs_malloc(size_t n, size_t size, const char *what);
void *gs_calloc(size_t n, size_t size, const char *what);
/* a*b with overflow check; returns 0 on overflow */
int gs_mul_ok(size_t a, size_t b, size_t *out);

/* ---- dtypes and tensors ----------------------------------------------------- */
typedef enum {
    GS_F32 = 0, GS_F16, GS_BF16, GS_F64, GS_I64, GS_I32, GS_I16, GS_I8,
    GS_U8, GS_U16, GS_U32, GS_U64, GS_BOOL, GS_F8_E4M3, GS_F8_E5M2, GS_DTYPE_COUNT
} gs_dtype;
size_t gs_dtype_size(gs_dtype t);
const char *gs_dtype_name(gs_dtype t);

#define GS_MAX_DIMS 8
typedef struct {
    gs_dtype dtype;
    int ndim;
    int64_t shape[GS_MAX_DIMS];
    void *data;
    int owns; /* 1: data was allocated by gs_tensor_alloc and is freed with it */
} gs_tensor;

int64_t gs_tensor_numel(const gs_tensor *t);
size_t gs_tensor_nbytes(const gs_tensor *t);
/* Allocate a zeroed tensor. shape has ndim entries. */
gs_status gs_tensor_alloc(gs_tensor *t, gs_dtype dtype, int ndim, const int64_t *shape);
/* Wrap external memory (not freed by gs_tensor_free). */
void gs_tensor_wrap(gs_tensor *t, gs_dtype dtype, int ndim, const int64_t *shape, void *data);
void gs_tensor_free(gs_tensor *t);
/* Convert any float tensor (f32/f16/bf16/f64) to a newly allocated f32 tensor. */
gs_status gs_tensor_to_f32(const gs_tensor *src, gs_tensor *dst);

float gs_f16_to_f32(uint16_t h);
uint16_t gs_f32_to_f16(float f);   /* round to nearest even, like numpy/torch */
float gs_bf16_to_f32(uint16_t h);
uint16_t gs_f32_to_bf16(float f);  /* round to nearest even, like torch */

/* ---- files ------------------------------------------------------------------ */
/* Read a whole file, refusing files larger than max_bytes. *data is
 * NUL-terminated (one extra byte) and must be freed with free(). */
gs_status gs_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size);

/* Open a file for reading only when it is a regular file: FIFOs, devices,
 * sockets and folders are refused before anything could block on them
 * ("<path>: is a FIFO, not a regular file"). Returns a blocking fd. */
gs_status gs_open_regular(const char *path, int *fd);
/* The same, as a stdio stream ("rb"). */
gs_status gs_fopen_regular(const char *path, FILE **f);

/* A read-only map of a whole regular file. While it is open, a SIGBUS on it
 * (the file shrank under gs) becomes an error naming the file and exit
 * status 1, once the program called gs_signals_install(). */
typedef struct {
    const uint8_t *data;
    size_t size;
    int fd;
    int slot; /* in the SIGBUS table, -1 when none */
} gs_mmap;
gs_status gs_mmap_open(gs_mmap *m, const char *path);
void gs_mmap_close(gs_mmap *m);

/* Atomic writer: writes go to "<path>.tmp.<pid>.<n>" in the same directory;
 * gs_afile_commit flushes, fsyncs and renames over `path`; gs_afile_abort
 * removes the temporary file. Nothing half-written is ever left at `path`. */
typedef struct {
    FILE *f;
    char *path;
    char *tmp;
    int slot; /* in the signal cleanup table */
} gs_afile;
gs_status gs_afile_open(gs_afile *a, const char *path);
gs_status gs_afile_write(gs_afile *a, const void *data, size_t n);
gs_status gs_afile_commit(gs_afile *a);
void gs_afile_abort(gs_afile *a);
/* Write a whole buffer atomically. */
gs_status gs_write_file_atomic(const char *path, const void *data, size_t n);

int gs_file_exists(const char *path);
int gs_is_dir(const char *path);
/* Lower-case extension of a path including the dot (".ply"), or "" */
const char *gs_path_ext(const char *path, char *buf, size_t bufsize);
/* Does `path` end with `suffix` (case-insensitive)? */
int gs_path_ends_with(const char *path, const char *suffix);
/* Join dir and name into buf ("dir/name"). Returns buf. */
char *gs_path_join(char *buf, size_t n, const char *dir, const char *name);
/* File name without folder and extension: "a/b/IMG_1.jpg" -> "IMG_1". Returns buf. */
char *gs_path_stem(const char *path, char *buf, size_t n);
/* mkdir -p */
gs_status gs_mkdirs(const char *path);
/* The folder holding the running program (/proc/self/exe, links resolved),
 * "" when it cannot be read. Data a user installs beside gs is found from
 * here, never from the current folder. */
const char *gs_exe_dir(void);

/* ---- signals and cleanup ------------------------------------------------------ */
/* For programs (the gs command calls it first): SIGINT, SIGTERM, SIGHUP and
 * SIGQUIT remove the registered temporary files and folders, then end the
 * process by the same signal; SIGXFSZ is ignored, so a write over a file-size
 * limit fails with EFBIG and is reported by the writer; SIGBUS inside a
 * registered map names the file and exits 1. Libraries never install it. */
void gs_signals_install(void);
/* Register a temporary file (is_dir 0) or folder (1) to remove on those
 * signals; returns a slot for gs_cleanup_remove, -1 when the table is full.
 * gs_afile and the video writer register their temporary files themselves. */
int gs_cleanup_add(const char *path, int is_dir);
void gs_cleanup_remove(int slot);
/* A child process that writes a registered file (ffmpeg): killed and reaped
 * before the files are removed. Returns a slot, -1 when the table is full. */
int gs_cleanup_add_child(int pid);
void gs_cleanup_remove_child(int slot);
/* Stop the registered children and remove every registered path now
 * (async-signal-safe). */
void gs_cleanup_run(void);
/* The SIGBUS table behind gs_mmap (for other maps of files). */
int gs_map_register(const void *data, size_t size, const char *name);
void gs_map_unregister(int slot);

/* A warning from the library: "gs: warning: <message>" on stderr, or to the
 * handler set with gs_set_warn_handler (NULL restores stderr). */
void gs_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
typedef void (*gs_warn_fn)(void *ctx, const char *msg);
void gs_set_warn_handler(gs_warn_fn fn, void *ctx);

/* ---- time, threads, progress ------------------------------------------------ */
double gs_now(void); /* monotonic seconds */
int gs_num_threads(void);
void gs_set_num_threads(int n);

typedef struct {
    const char *label;
    int64_t total, done;
    double t0, last_draw;
    int tty, enabled, last_pct;
} gs_progress;
/* A progress bar on stderr. On a TTY it redraws one line; otherwise it
 * prints a line every 10%. Disabled when quiet != 0. */
void gs_progress_begin(gs_progress *p, const char *label, int64_t total, int quiet);
void gs_progress_update(gs_progress *p, int64_t done);
void gs_progress_end(gs_progress *p);

#ifdef __cplusplus
}
#endif
#endif
