/* outdir.c - output folders of the gs commands (outdir.h). */
#include "gs/cli/outdir.h"
#include "gs/cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <limits.h>
#include <unistd.h>

#define PRE_MAX 100000 /* files listed at the start; beyond, new files are told by their time */
#define WALK_DEPTH 16

/* The names gs's commands write at the top of a folder: without a record,
 * one of these means an earlier run (or a file of the user's in gs's way). */
static const char *const k_gs_names[] = {"cameras.json", "gaussians.ply", "gaussians.splat", "gaussians.spz",
                                         "points.ply",   "video.mp4",     "trajectory.json", "depth",
                                         "conf",         "colmap",        "frames",        "scene.glb",
                                         "gaussians.glb", "gaussians.spz.glb",
                                         "sparse",        "processed",     "metrics.json",
                                         "contact_sheet.png", "renders"};

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A record path: relative, no empty, "." or ".." component, one line. */
static int rel_safe(const char *r) {
    if (!r[0] || r[0] == '/' || strlen(r) > 3000 || strpbrk(r, "\n\r")) return 0;
    for (const char *p = r;;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) return 0;
        if (!e) return 1;
        p = e + 1;
    }
}

/* Does a folder on the way to DIR/rel (not rel itself) lead elsewhere by a link? */
static int via_link(const char *dir, const char *rel) {
    char buf[4200];
    for (const char *e = strchr(rel, '/'); e; e = strchr(e + 1, '/')) {
        snprintf(buf, sizeof buf, "%s/%.*s", dir, (int)(e - rel), rel);
        struct stat sb;
        if (lstat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode)) return 1;
    }
    return 0;
}

static gs_status push(char ***v, int *n, int *cap, const char *s) {
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        char **nv = realloc(*v, (size_t)nc * sizeof *nv);
        if (!nv) return gs_error(GS_ERR_NOMEM, "out of memory");
        *v = nv;
        *cap = nc;
    }
    if (!((*v)[*n] = strdup(s))) return gs_error(GS_ERR_NOMEM, "out of memory");
    (*n)++;
    return GS_OK;
}

static void free_list(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* The entries of DIR/.gs-outputs that are there now, "f PATH" / "d PATH". */
static gs_status read_record(cli_outdir *od, int *have_record) {
    char path[4200];
    snprintf(path, sizeof path, "%s/" CLI_OUTDIR_RECORD, od->dir);
    *have_record = 0;
    struct stat sb;
    if (lstat(path, &sb) != 0) return GS_OK;
    if (!S_ISREG(sb.st_mode)) return gs_error(GS_ERR_INVALID, "%s: not a regular file", path);
    uint8_t *data = NULL;
    size_t size = 0;
    gs_status st = gs_read_file(path, 64u << 20, &data, &size);
    if (st) return st;
    *have_record = 1;
    int cap = 0;
    for (char *line = (char *)data, *next; line && *line && !st; line = next) {
        next = strchr(line, '\n');
        if (!next) break; /* a line cut short by a killed run */
        *next++ = 0;
        if ((line[0] != 'f' && line[0] != 'd') || line[1] != ' ' || !rel_safe(line + 2)) continue;
        if (via_link(od->dir, line + 2)) continue;
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", od->dir, line + 2);
        if (lstat(full, &sb) != 0 || (line[0] == 'd') != (S_ISDIR(sb.st_mode) != 0)) continue;
        st = push(&od->old, &od->n_old, &cap, line);
    }
    free(data);
    return st;
}

/* Every file under DIR/rel (not following links), into od->pre. */
static void walk_pre(cli_outdir *od, const char *rel, int depth, int *cap) {
    char full[4200];
    snprintf(full, sizeof full, "%s%s%s", od->dir, rel[0] ? "/" : "", rel);
    DIR *d = opendir(full);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!rel[0] && !strcmp(e->d_name, CLI_OUTDIR_RECORD)) continue;
        if (od->n_pre >= PRE_MAX) { od->pre_complete = 0; break; }
        char r[4200], f[8400];
        snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        snprintf(f, sizeof f, "%s/%s", od->dir, r);
        struct stat sb;
        if (lstat(f, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) {
            if (depth < WALK_DEPTH) walk_pre(od, r, depth + 1, cap);
            else od->pre_complete = 0;
        } else if (push(&od->pre, &od->n_pre, cap, r)) {
            od->pre_complete = 0;
        }
    }
    closedir(d);
}

static int in_sorted(char **v, int n, const char *s) { return n && bsearch(&s, v, (size_t)n, sizeof *v, cmp_str) != NULL; }

/* Can a folder be made in the folder `in`? access() is not enough (root,
 * read-only mounts, /proc): an empty folder is made there and removed. */
static gs_status probe(const char *opt, const char *dir, const char *in) {
    if (access(in, W_OK | X_OK) != 0) return gs_error(GS_ERR_IO, "%s %s: cannot write in %s: %s", opt, dir, in, strerror(errno));
    char p[4200];
    snprintf(p, sizeof p, "%s/.gs-probe.%d", in, (int)getpid());
    int slot = gs_cleanup_add(p, 1);
    int ok = mkdir(p, 0700) == 0, err = errno;
    if (ok) rmdir(p);
    gs_cleanup_remove(slot);
    if (!ok && err != EEXIST) return gs_error(GS_ERR_IO, "%s %s: cannot write in %s: %s", opt, dir, in, strerror(err));
    return GS_OK;
}

gs_status cli_dir_writable(const char *opt, const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) return gs_error(GS_ERR_INVALID, "%s %s: exists and is not a folder", opt, dir);
        return probe(opt, dir, dir);
    }
    if (errno != ENOENT) return gs_error(GS_ERR_IO, "%s %s: %s", opt, dir, strerror(errno));
    char up[4200];
    snprintf(up, sizeof up, "%s", dir);
    for (;;) {
        size_t n = strlen(up);
        while (n > 1 && up[n - 1] == '/') up[--n] = 0;
        char *s = strrchr(up, '/');
        if (!s) { snprintf(up, sizeof up, "."); }
        else if (s == up) up[1] = 0;
        else *s = 0;
        if (stat(up, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode)) return gs_error(GS_ERR_INVALID, "%s %s: cannot be made: %s is not a folder", opt, dir, up);
            return probe(opt, dir, up);
        }
        if (errno != ENOENT) return gs_error(GS_ERR_IO, "%s %s: cannot be made: %s: %s", opt, dir, up, strerror(errno));
        if (!strcmp(up, ".") || !strcmp(up, "/")) return gs_error(GS_ERR_IO, "%s %s: cannot be made", opt, dir);
    }
}

int cli_outdir_check(cli_outdir *od, const char *cmd, const char *dir, int overwrite, int quiet) {
    memset(od, 0, sizeof *od);
    od->cmd = cmd;
    od->overwrite = overwrite;
    od->quiet = quiet;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    if (!n || n > 3000) return cli_fail(cmd, gs_error(GS_ERR_INVALID, "--out '%s': not a usable folder name", dir));
    if (!(od->dir = strndup(dir, n))) return cli_fail(cmd, gs_error(GS_ERR_NOMEM, "out of memory"));
    gs_status st = cli_dir_writable("--out", od->dir);
    if (st || !gs_is_dir(od->dir)) return st ? cli_fail(cmd, st) : 0;
    int have_record = 0;
    if ((st = read_record(od, &have_record))) return cli_fail(cmd, st);
    if (od->n_old && !overwrite) {
        int files = 0;
        const char *eg = NULL;
        for (int i = 0; i < od->n_old; i++)
            if (od->old[i][0] == 'f') { files++; if (!eg) eg = od->old[i] + 2; }
        return cli_fail(cmd, gs_error(GS_ERR_INVALID,
                                      "--out %s holds the results of an earlier gs run (%d file%s, e.g. %s): add "
                                      "--overwrite to replace them (only the files gs listed in %s/" CLI_OUTDIR_RECORD
                                      " are removed), or choose another folder",
                                      od->dir, files, files == 1 ? "" : "s", eg ? eg : od->old[0] + 2, od->dir));
    }
    int others = 0;
    DIR *d = opendir(od->dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, CLI_OUTDIR_RECORD)) continue;
        int listed = 0;
        for (int i = 0; i < od->n_old && !listed; i++) {
            const char *p = od->old[i] + 2;
            size_t k = strlen(e->d_name);
            listed = !strncmp(p, e->d_name, k) && (p[k] == 0 || p[k] == '/');
        }
        if (listed) continue;
        if (!have_record)
            for (size_t k = 0; k < sizeof k_gs_names / sizeof *k_gs_names; k++)
                if (!strcmp(e->d_name, k_gs_names[k])) {
                    closedir(d);
                    return cli_fail(cmd, gs_error(GS_ERR_INVALID,
                                                  "--out %s: %s/%s is there, a name gs writes, but no %s/" CLI_OUTDIR_RECORD
                                                  " record says that gs made it (an older gs, or your own file): gs "
                                                  "cannot tell its results from yours there, so it neither mixes them "
                                                  "nor removes anything (even with --overwrite); move it away or "
                                                  "choose another folder",
                                                  od->dir, od->dir, k_gs_names[k], od->dir));
                }
        others++;
    }
    if (d) closedir(d);
    if (others && !quiet)
        fprintf(stderr, "gs %s: note: %s already holds other files; gs writes its own beside them and removes none of "
                        "them\n", cmd, od->dir);
    return 0;
}

gs_status cli_outdir_free_path(const cli_outdir *od, const char *rel) {
    char full[4200], line[3100];
    snprintf(full, sizeof full, "%s/%s", od->dir, rel);
    struct stat sb;
    if (lstat(full, &sb) != 0) return GS_OK;
    snprintf(line, sizeof line, "%c %s", S_ISDIR(sb.st_mode) ? 'd' : 'f', rel);
    for (int i = 0; i < od->n_old; i++)
        if (!strcmp(od->old[i], line)) return GS_OK; /* the earlier run's: replaced (--overwrite) */
    if (S_ISDIR(sb.st_mode)) return GS_OK;
    return gs_error(GS_ERR_INVALID, "--out %s: %s is there and gs did not write it; gs would write over it: move it "
                    "away or choose another folder", od->dir, full);
}

static gs_status free_tree(const cli_outdir *od, const char *rel, int depth) {
    char full[4200];
    snprintf(full, sizeof full, "%s/%s", od->dir, rel);
    DIR *d = opendir(full);
    if (!d) return GS_OK;
    gs_status st = GS_OK;
    for (struct dirent *e; !st && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char r[4200], f[8400];
        snprintf(r, sizeof r, "%s/%s", rel, e->d_name);
        snprintf(f, sizeof f, "%s/%s", od->dir, r);
        struct stat sb;
        if (lstat(f, &sb) != 0) continue;
        if (S_ISDIR(sb.st_mode)) st = depth < WALK_DEPTH ? free_tree(od, r, depth + 1) : GS_OK;
        else if (cli_outdir_free_path(od, r))
            st = gs_error(GS_ERR_INVALID, "--out %s: %s is there and gs did not write it, in %s/%s where gs writes (and "
                          "removes the other COLMAP layout's files): move it away or choose another folder",
                          od->dir, f, od->dir, rel);
    }
    closedir(d);
    return st;
}

gs_status cli_outdir_free_tree(const cli_outdir *od, const char *rel) { return free_tree(od, rel, 0); }

gs_status cli_outdir_input(const cli_outdir *od, const char *path) {
    if (!od->overwrite || !od->n_old || !path) return GS_OK;
    char rp[PATH_MAX], ro[PATH_MAX], full[4200];
    if (!realpath(path, rp)) return GS_OK; /* the reader will say what is wrong with it */
    struct stat sb;
    const int is_dir = stat(rp, &sb) == 0 && S_ISDIR(sb.st_mode);
    const size_t n = strlen(rp);
    for (int i = 0; i < od->n_old; i++) {
        if (od->old[i][0] != 'f') continue;
        snprintf(full, sizeof full, "%s/%s", od->dir, od->old[i] + 2);
        if (!realpath(full, ro)) continue;
        if (!strcmp(ro, rp) || (is_dir && !strncmp(ro, rp, n) && ro[n] == '/'))
            return gs_error(GS_ERR_INVALID,
                            "--out %s --overwrite would remove %s, a result of the earlier run there, which this run "
                            "reads (%s): copy it elsewhere or choose another --out",
                            od->dir, full, path);
    }
    return GS_OK;
}

static int cmp_len_desc(const void *a, const void *b) {
    size_t x = strlen(*(char *const *)a), y = strlen(*(char *const *)b);
    return (x < y) - (x > y);
}

static gs_status write_record(cli_outdir *od) {
    char path[4200];
    snprintf(path, sizeof path, "%s/" CLI_OUTDIR_RECORD, od->dir);
    gs_afile a;
    gs_status st = gs_afile_open(&a, path);
    if (st) return st;
    char head[200];
    snprintf(head, sizeof head, "# gs outputs: the files gs %s wrote here (gs --overwrite removes exactly these)\n", od->cmd);
    st = gs_afile_write(&a, head, strlen(head));
    for (int i = 0; i < od->n_rec && !st; i++) {
        st = gs_afile_write(&a, od->rec[i], strlen(od->rec[i]));
        if (!st) st = gs_afile_write(&a, "\n", 1);
    }
    if (st) { gs_afile_abort(&a); return st; }
    return gs_afile_commit(&a);
}

gs_status cli_outdir_prepare(cli_outdir *od) {
    gs_status st = gs_mkdirs(od->dir);
    if (st) return st;
    if (od->overwrite && od->n_old) {
        int removed = 0, kept = 0;
        char full[4200];
        for (int i = 0; i < od->n_old; i++) {
            if (od->old[i][0] != 'f') continue;
            snprintf(full, sizeof full, "%s/%s", od->dir, od->old[i] + 2);
            if (unlink(full) != 0 && errno != ENOENT)
                return gs_error(GS_ERR_IO, "--overwrite: cannot remove %s: %s", full, strerror(errno));
            removed++;
        }
        qsort(od->old, (size_t)od->n_old, sizeof *od->old, cmp_len_desc); /* inner folders first */
        for (int i = 0; i < od->n_old; i++) {
            if (od->old[i][0] != 'd') continue;
            snprintf(full, sizeof full, "%s/%s", od->dir, od->old[i] + 2);
            if (rmdir(full) != 0 && errno != ENOENT) kept++;
        }
        if (!od->quiet) {
            fprintf(stderr, "gs %s: --overwrite: removed the %d file%s of the earlier run in %s", od->cmd, removed,
                    removed == 1 ? "" : "s", od->dir);
            if (kept) fprintf(stderr, " (kept %d folder%s that hold%s other files)", kept, kept == 1 ? "" : "s", kept == 1 ? "s" : "");
            fprintf(stderr, "\n");
        }
    }
    od->pre_complete = 1;
    int cap = 0;
    walk_pre(od, "", 0, &cap);
    if (od->n_pre) qsort(od->pre, (size_t)od->n_pre, sizeof *od->pre, cmp_str);
    od->t_start = (double)time(NULL);
    if ((st = write_record(od))) return st;
    od->prepared = 1;
    return GS_OK;
}

static int find(char **v, int n, const char *s) {
    for (int i = n - 1; i >= 0; i--)
        if (!strcmp(v[i], s)) return 1;
    return 0;
}

/* Record one entry ("f PATH" / "d PATH") and append it to the file; a
 * folder once (files are made unique at the end). */
static gs_status record(cli_outdir *od, char type, const char *rel) {
    char line[4200];
    snprintf(line, sizeof line, "%c %s", type, rel);
    if (type == 'd') {
        if (find(od->dirs, od->n_dirs, line)) return GS_OK;
        gs_status st = push(&od->dirs, &od->n_dirs, &od->cap_dirs, line);
        if (st) return st;
    }
    gs_status st = push(&od->rec, &od->n_rec, &od->cap_rec, line);
    if (st || !od->prepared) return st;
    char path[4200];
    snprintf(path, sizeof path, "%s/" CLI_OUTDIR_RECORD, od->dir);
    FILE *f = fopen(path, "a");
    if (!f) return gs_error(GS_ERR_IO, "%s: cannot append: %s", path, strerror(errno));
    int bad = fprintf(f, "%s\n", line) < 0;
    if (fclose(f) != 0) bad = 1;
    return bad ? gs_error(GS_ERR_IO, "%s: cannot append: %s", path, strerror(errno)) : GS_OK;
}

gs_status cli_outdir_add(cli_outdir *od, const char *path) {
    size_t n = strlen(od->dir);
    const char *rel = path;
    if (!strncmp(path, od->dir, n) && path[n] == '/') rel = path + n + 1;
    else if (path[0] == '/') return GS_OK; /* elsewhere */
    while (rel[0] == '.' && rel[1] == '/') rel += 2;
    while (rel[0] == '/') rel++;
    char r[3100];
    snprintf(r, sizeof r, "%s", rel);
    size_t k = strlen(r);
    while (k && r[k - 1] == '/') r[--k] = 0;
    if (!rel_safe(r)) return gs_error(GS_ERR_INVALID, "%s: not a path inside %s", path, od->dir);
    gs_status st = GS_OK;
    for (char *s = strchr(r, '/'); s && !st; s = strchr(s + 1, '/')) { /* the folders on the way */
        *s = 0;
        st = record(od, 'd', r);
        *s = '/';
    }
    if (st) return st;
    char full[4200];
    snprintf(full, sizeof full, "%s/%s", od->dir, r);
    struct stat sb;
    int is_dir = lstat(full, &sb) == 0 && S_ISDIR(sb.st_mode);
    return record(od, is_dir ? 'd' : 'f', r);
}

/* Already in the record: rec[0..n_sorted) is sorted, the rest (found by
 * expand) few. */
static int have(const cli_outdir *od, int n_sorted, const char *line) {
    return in_sorted(od->rec, n_sorted, line) || find(od->rec + n_sorted, od->n_rec - n_sorted, line);
}

/* The files made in a recorded folder during the run (not those there before). */
static gs_status expand(cli_outdir *od, int n_sorted, const char *rel, int depth) {
    char full[4200];
    snprintf(full, sizeof full, "%s/%s", od->dir, rel);
    DIR *d = opendir(full);
    if (!d) return GS_OK;
    gs_status st = GS_OK;
    for (struct dirent *e; !st && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char r[4200], f[8400], line[4300];
        snprintf(r, sizeof r, "%s/%s", rel, e->d_name);
        snprintf(f, sizeof f, "%s/%s", od->dir, r);
        struct stat sb;
        if (lstat(f, &sb) != 0 || strlen(r) > 3000) continue;
        if (S_ISDIR(sb.st_mode)) {
            snprintf(line, sizeof line, "d %s", r);
            if (!have(od, n_sorted, line)) st = push(&od->rec, &od->n_rec, &od->cap_rec, line);
            if (!st && depth < WALK_DEPTH) st = expand(od, n_sorted, r, depth + 1);
            continue;
        }
        if (in_sorted(od->pre, od->n_pre, r)) continue;
        if (!od->pre_complete && (double)sb.st_mtime < od->t_start - 2) continue;
        snprintf(line, sizeof line, "f %s", r);
        if (!have(od, n_sorted, line)) st = push(&od->rec, &od->n_rec, &od->cap_rec, line);
    }
    closedir(d);
    return st;
}

gs_status cli_outdir_finish(cli_outdir *od) {
    if (!od->prepared) return GS_OK;
    gs_status st = GS_OK;
    if (od->n_rec) qsort(od->rec, (size_t)od->n_rec, sizeof *od->rec, cmp_str);
    const int n0 = od->n_rec;
    for (int i = 0; i < od->n_dirs && !st; i++) st = expand(od, n0, od->dirs[i] + 2, 0);
    if (st) return st;
    /* one line each, folders first */
    if (od->n_rec) qsort(od->rec, (size_t)od->n_rec, sizeof *od->rec, cmp_str);
    int m = 0;
    for (int i = 0; i < od->n_rec; i++) {
        if (m && !strcmp(od->rec[m - 1], od->rec[i])) { free(od->rec[i]); continue; }
        od->rec[m++] = od->rec[i];
    }
    od->n_rec = m;
    return write_record(od);
}

void cli_outdir_free(cli_outdir *od) {
    free(od->dir);
    free_list(od->old, od->n_old);
    free_list(od->pre, od->n_pre);
    free_list(od->rec, od->n_rec);
    free_list(od->dirs, od->n_dirs);
    memset(od, 0, sizeof *od);
}
