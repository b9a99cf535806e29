/* outdir.h - the output folder of a gs command (infer, nvs, render): checked
 * before any work, refused when it holds the results of an earlier run unless
 * --overwrite, and a record of what this run wrote.
 *
 * The record is DIR/.gs-outputs, a text file of the paths gs wrote there
 * ("f PATH" for a file, "d PATH" for a folder, relative to DIR). It is the
 * only thing --overwrite trusts: exactly the listed files are removed, then
 * the listed folders that are left empty; nothing else in DIR is ever
 * touched. Every registered path is appended to it as soon as it is written
 * (a killed run still leaves a record of what it made) and the whole list is
 * rewritten atomically at the end.
 *
 * A folder that holds no record but has files under the names gs writes
 * (cameras.json, gaussians.ply, depth/, ... from a gs without the record, or
 * the user's own) is refused even with --overwrite: gs cannot tell its files
 * from the user's there. A folder with only other files is used with a
 * notice: gs adds its files beside them.
 *
 * Writers register what they wrote: cli_outdir_add(&od, "gaussians.ply"), or
 * a folder, cli_outdir_add(&od, "sparse"): its files made during this run are
 * listed at cli_outdir_finish (files that were there before are not). */
#ifndef GS_CLI_OUTDIR_H
#define GS_CLI_OUTDIR_H

#include "gs/core/runtime.h"

#define CLI_OUTDIR_RECORD ".gs-outputs"

typedef struct cli_outdir {
    const char *cmd;
    char *dir;
    int overwrite, quiet, prepared;
    char **old;      /* the earlier record's entries still present ("f PATH" / "d PATH") */
    int n_old;
    char **pre;      /* files under DIR when the run began (sorted), never recorded */
    int n_pre, pre_complete;
    double t_start;  /* wall-clock start of the run (for a truncated `pre`) */
    char **rec;      /* this run's record */
    int n_rec, cap_rec;
    char **dirs;     /* its folders ("d PATH") */
    int n_dirs, cap_dirs;
} cli_outdir;

/* Writes nothing. Checks that dir is a folder gs can write (or can be
 * created) and that it holds no results of an earlier run (or overwrite is
 * set); prints the notice about other files. On failure prints
 * "gs CMD: error: ..." and returns 1, else 0. */
int cli_outdir_check(cli_outdir *od, const char *cmd, const char *dir, int overwrite, int quiet);
/* Before any work: GS_OK when this run may write DIR/rel (nothing there, or
 * a file of the earlier run that --overwrite replaces); an error naming the
 * file when it is one gs did not write (e.g. an input photo). */
gs_status cli_outdir_free_path(const cli_outdir *od, const char *rel);
/* cli_outdir_free_path for every file under DIR/rel (a folder gs writes
 * into, e.g. "sparse", "frames"): nothing of the user's is written over or
 * removed there. */
gs_status cli_outdir_free_tree(const cli_outdir *od, const char *rel);
/* Before any work, for each input of the run (a photo, a folder of them, a
 * camera file, a scene): with --overwrite, an error when it is, or a folder
 * holding, a file of the earlier run that --overwrite would remove. */
gs_status cli_outdir_input(const cli_outdir *od, const char *path);
/* Before the first output: creates the folder, removes the earlier run's
 * files (overwrite) and starts a new record. */
gs_status cli_outdir_prepare(cli_outdir *od);
/* Register a path this run wrote: relative to the folder, or the folder's
 * path joined with it (DIR/NAME); paths outside the folder are ignored. */
gs_status cli_outdir_add(cli_outdir *od, const char *path);
/* Write the full record (also after a failure: what was written is listed).
 * Does nothing before cli_outdir_prepare. */
gs_status cli_outdir_finish(cli_outdir *od);
void cli_outdir_free(cli_outdir *od);
/* Is dir a folder gs can write in, or one it can make? (An empty folder is
 * made and removed to be sure.) Errors start with "OPT DIR: ". */
gs_status cli_dir_writable(const char *opt, const char *dir);

#endif
