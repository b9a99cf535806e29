/* cli.h - shared pieces of the `gs` command (not part of libgs). Each
 * subcommand is `int cmd_NAME(int argc, char **argv)` returning the exit code;
 * argv[0] is the subcommand name. Only the CLI prints errors and exits. */
#ifndef GS_CLI_H
#define GS_CLI_H

#include "gs/core/runtime.h"
#include "data/image.h"
#include "gs/model/da3.h"
#include "heads/gs_adapter.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const char *usage; /* full --help text */
} gs_command;

/* Print "gs CMD: <last error>" on stderr and return 1. */
int cli_fail(const char *cmd, gs_status st);
/* Print a usage error and return 2. */
int cli_usage_error(const gs_command *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_is_help(const char *arg);
/* Parse a number argument (whole string must parse). */
int cli_parse_int(const char *s, long lo, long hi, long *out);
int cli_parse_double(const char *s, double *out);
/* A folder argument without its trailing slashes ("out/" -> "out", "/"
 * stays), changed in place, so that paths made from it and printed have no
 * "//". Returns s. */
char *cli_dir_arg(char *s);
/* path as an absolute path, lexically normalised (the current folder
 * prepended when relative; "//", "." and ".." folded), into out. Returns
 * out, or NULL when it does not fit. */
char *cli_path_abs(const char *path, char *out, size_t n);

/* The photos of `gs infer` / `gs nvs`: images, their stems (unique), what
 * each was given as (paths: the path, a folder's photo as DIR/NAME, a video
 * frame as NNNNNN.png), their file names (files: the unique stem with the
 * photo's extension, e.g. p0.png, 001_p0.png; the COLMAP image names and
 * DIR/images/ copies), and with
 * a camera file their w2c [n,4,4] and K [n,3,3] (else NULL). */
typedef struct {
    int n;
    gs_image *imgs;
    char **names, **paths, **files;
    float *w2c, *K;
} cli_photos;
/* Largest photo decoded (header checked first): 100 megapixels, 1.2 GB as
 * float RGB; the network input is at most 2048x2048 anyway. */
#define CLI_PHOTO_MAX_PIXELS (100LL * 1000 * 1000)
/* How the IMAGES arguments expand (gs/cli/inputs.c): a folder gives its
 * image files sorted by name (hidden ones skipped; ext: only these
 * extensions, a comma list, NULL: every format gs reads), a video file
 * (.mp4 .avi .mov .mkv .flv .wmv .webm .m4v) its frames at fps (DA3: 1),
 * at most max_frames of each video (0: all), named 000000, 000001, ... */
typedef struct {
    const char *ext;
    double fps;
    long max_frames;
    int quiet;
} cli_input_opts;
void cli_input_opts_default(cli_input_opts *o);
/* --ext LIST, --fps F, --max-frames N at argv[*i]: 1 when it was one (and
 * *i moved past its value), 0 when not, -1 after a usage error (printed;
 * exit with 2). */
int cli_input_option(const gs_command *c, int argc, char **argv, int *i, cli_input_opts *o);
#define CLI_INPUT_HELP                                                                                   \
    "  IMAGES                photos (PNG, JPEG, WebP, TIFF, BMP), folders of them (sorted by name) and\n"  \
    "                        videos (.mp4 .mov .mkv .webm .avi ...; frames through ffmpeg)\n"            \
    "  --ext LIST            extensions taken from a folder (default png,jpg,jpeg,webp,bmp,tif,tiff)\n"  \
    "  --fps F               frames per second sampled from a video (default 1, as DA3)\n"             \
    "  --max-frames N        at most N frames of each video (default: all)\n"
/* Loads them (expanded as above; `in` NULL: no expansion options); on
 * failure prints "gs CMD: error: ..." and returns 1. ph->n is the count. */
int cli_photos_load(const char *cmd, char **paths, int n, const cli_input_opts *in, const char *cameras,
                    cli_photos *ph);
void cli_photos_free(cli_photos *ph);
/* DIR/images/FILE for each photo (ph->files): a copy of the photo's file as
 * given, a video frame as PNG, so that DIR/images + DIR/sparse/0 is a COLMAP
 * dataset at the photos' own size. Each is recorded in od (struct cli_outdir,
 * gs/cli/outdir.h). */
struct cli_outdir;
gs_status cli_photos_write_images(const cli_photos *ph, const char *dir, struct cli_outdir *od);
/* Before any work: those copies write over nothing of the user's (a photo
 * that is DIR/images/FILE itself is left as it is, not copied). */
gs_status cli_photos_images_free(const cli_photos *ph, const char *dir, const struct cli_outdir *od);
/* A stage line "gs CMD: STAGE ... (t s)" on stderr, t from
 * cli_stage_clock_start(); ctx is the command name (the form of
 * gs_da3_options.on_stage). The network's own progress, with percent and
 * ETA, is gs_meter's (gs/core/progress.h). */
void cli_print_stage(void *ctx, const char *stage);
/* gs_da3_infer on the photos with the network's progress (percent, ETA) on
 * stderr as "gs CMD: ..." unless o->quiet (gs_meter, gs/core/progress.h). */
gs_status cli_da3_infer(const char *cmd, gs_da3_model *m, const cli_photos *ph, gs_da3_options *o,
                        gs_da3_prediction *p);
void cli_stage_clock_start(void);

/* The Gaussian files of `gs infer --gs` and `gs nvs` (export.c): the same
 * options in both, DIR/gaussians.EXT per format. By default the Gaussians are
 * selected as the official gs_ply export does (border 8/256 of each side,
 * depth <= the view's 90th percentile) with the predicted SH degree kept. */
typedef struct {
    const char *formats; /* --export LIST (default "ply") */
    int keep_all;        /* --keep-all-gaussians: no pruning */
    double depth_pct;    /* --max-depth-percentile P (default 90; 100: no depth pruning) */
    int dc_only;         /* --sh-dc-only */
    int spz_version;     /* --spz-version N (default GS_SPZ_DEFAULT_VERSION) */
    int given;           /* any of these options was on the command line */
    int pruning_asked;   /* --prune-border (the default; accepted) or --max-depth-percentile given */
} cli_export_opts;
#define CLI_EXPORT_USAGE                                                                                    \
    "  --export LIST         Gaussian files DIR/gaussians.EXT: ply, splat, spz, glb (glTF with\n"         \
    "                        KHR_gaussian_splatting), glb-spz (the same SPZ-compressed:\n"                 \
    "                        gaussians.spz.glb), comma-separated (default ply)\n"                        \
    "  --keep-all-gaussians  write every Gaussian. By default they are pruned as the official\n"            \
    "                        gs_ply export: the border (8/256 of each side) and those deeper than\n"        \
    "                        their view's 90th depth percentile are dropped\n"                              \
    "  --max-depth-percentile P  that percentile (default 90; 100 keeps every depth)\n"                     \
    "  --sh-dc-only          write only the DC colour (as the official export); default: the\n"            \
    "                        predicted SH degree 2\n"                                                       \
    "  --spz-version N       SPZ version written: 3 (default: Spark, SuperSplat, Niantic), 2 (also\n"      \
    "                        GaussianSplats3D; coarse rotations) or 4 (Niantic's zstd format:\n"           \
    "                        splat-transform, three.js, Niantic; not Spark 2.1)\n"
void cli_export_opts_default(cli_export_opts *o);
/* argv[*i] when it is one of the options above: 1 (and *i moved past its
 * value), 0 when it is not one, -1 on a bad value (gs_last_error says why).
 * --export lists are checked here, before anything runs. */
int cli_export_parse(cli_export_opts *o, int argc, char **argv, int *i);
/* Check an --export list (formats known, none twice); GS_ERR_INVALID naming
 * the bad entry. */
gs_status cli_export_list_check(const char *list);
/* Select the Gaussians (depth: the prediction's [S,H,W]) and write each
 * format as OUT/gaussians.EXT, printing "gs CMD: wrote ..." unless quiet.
 * Invalid Gaussians are left out by the writers (one warning per file).
 * Each file written is recorded in od (gs/cli/outdir.h) when it is not NULL. */
struct cli_outdir;
/* Each file the --export list names is free in od (cli_outdir_free_path). */
gs_status cli_export_paths_free(const cli_export_opts *o, struct cli_outdir *od);
gs_status cli_export_gaussians(const char *cmd, const char *out, const cli_export_opts *o, const gs_gaussians *g,
                               const float *depth, int quiet, struct cli_outdir *od);

extern const gs_command cmd_info_def;
extern const gs_command cmd_convert_def;
extern const gs_command cmd_render_def;
extern const gs_command cmd_eval_def;
extern const gs_command cmd_infer_def;
extern const gs_command cmd_view_def;
extern const gs_command cmd_bench_def;
extern const gs_command cmd_nvs_def;
extern const gs_command cmd_eval_nvs_def;

#endif
