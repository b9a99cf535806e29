/* eval_internal.h - what evaluate.c shares with eval_scene.c: starting a
 * report (labels, LPIPS weights, the device), scoring one pair, finishing
 * the means, and pairing names by stem. Not a public header. */
#ifndef GS_EVAL_INTERNAL_H
#define GS_EVAL_INTERNAL_H

#include "eval/metrics.h"

typedef struct {
    gs_lpips *lp;       /* NULL when LPIPS is off */
    gs_eval_cuda *cuda; /* NULL on the CPU */
} gs_eval_session;

/* Fill the report header from opt, load the LPIPS weights, open the GPU when
 * opt->device resolves to CUDA. On failure nothing is left to free. */
gs_status gs_eval_begin(const gs_eval_options *opt, gs_eval_report *r, gs_eval_session *ses);
void gs_eval_end(gs_eval_session *ses);
/* Composite both images over opt->bg, check sizes, compute the selected
 * metrics into row (width/height/channels too). Errors name `name`. */
gs_status gs_eval_score_pair(gs_eval_session *ses, const gs_image *pred, const gs_image *gt, const char *name,
                             const gs_eval_options *opt, gs_eval_row *row);
/* The size of an image from its header, refused past opt->max_pixels; errors
 * name the role ("--pred", "--gt") and the file. */
gs_status gs_eval_check_image_size(const char *path, const char *role, const gs_eval_options *opt, int *w, int *h);
/* Means over the rows, elapsed time since t0. */
void gs_eval_finish(gs_eval_report *r, double t0);

/* Image files (gs_image_ext_known; not hidden) of a directory, sorted. */
typedef struct {
    char **names;
    int n, cap;
} gs_name_list;
gs_status gs_eval_list_images(const char *dir, gs_name_list *out);
void gs_eval_names_free(gs_name_list *l);
/* a and b have the same stem (name without its last extension) */
int gs_eval_same_stem(const char *a, const char *b);
/* Append name to a ", "-separated list of at most 4 names; counts all. */
void gs_eval_append_name(char *buf, size_t n, int *count, const char *name);

#endif
