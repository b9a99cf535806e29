/* export.c - the Gaussian files of `gs infer --gs` and `gs nvs`: the shared
 * options, their checks (made while parsing, before any model loads), the
 * selection of the official gs_ply export and one writer per format. */
#include "gs/cli/cli.h"
#include "gs/cli/outdir.h"
#include "gs/core/progress.h"
#include "data/gltf.h"
#include "data/scene.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT_LIST_MAX 256

static gs_status write_ply(const char *path, const gs_scene *s, const cli_export_opts *o) {
    (void)o;
    return gs_ply_write(path, s);
}
static gs_status write_splat(const char *path, const gs_scene *s, const cli_export_opts *o) {
    (void)o;
    return gs_splat_write(path, s);
}
static gs_status write_spz(const char *path, const gs_scene *s, const cli_export_opts *o) {
    return gs_spz_write(path, s, o->spz_version);
}
static gs_status write_glb(const char *path, const gs_scene *s, const cli_export_opts *o) {
    (void)o;
    return gs_gltf_write(path, s, 0);
}
static gs_status write_glb_spz(const char *path, const gs_scene *s, const cli_export_opts *o) {
    (void)o;
    return gs_gltf_write(path, s, 1);
}

typedef struct {
    const char *ext;  /* the --export name */
    const char *file; /* DIR/FILE */
    gs_status (*write)(const char *path, const gs_scene *s, const cli_export_opts *o);
} export_format;

/* Every format `--export` accepts. */
static const export_format k_formats[] = {
    {"ply", "gaussians.ply", write_ply},
    {"splat", "gaussians.splat", write_splat},
    {"spz", "gaussians.spz", write_spz},
    {"glb", "gaussians.glb", write_glb},
    {"glb-spz", "gaussians.spz.glb", write_glb_spz},
};
#define N_FORMATS ((int)(sizeof k_formats / sizeof k_formats[0]))

static const export_format *find_format(const char *name, size_t len) {
    for (int i = 0; i < N_FORMATS; i++)
        if (strlen(k_formats[i].ext) == len && !strncmp(k_formats[i].ext, name, len)) return &k_formats[i];
    return NULL;
}

static const char *format_names(void) {
    static char names[128];
    size_t l = 0;
    for (int i = 0; i < N_FORMATS && l < sizeof names; i++)
        l += (size_t)snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "", k_formats[i].ext);
    return names;
}

void cli_export_opts_default(cli_export_opts *o) {
    memset(o, 0, sizeof *o);
    o->formats = "ply";
    o->depth_pct = 90.0;
    o->spz_version = GS_SPZ_DEFAULT_VERSION;
}

gs_status cli_export_list_check(const char *list) {
    if (!list || !*list) return gs_error(GS_ERR_INVALID, "--export: empty list (give %s, comma-separated)", format_names());
    if (strlen(list) >= EXPORT_LIST_MAX) return gs_error(GS_ERR_INVALID, "--export: list too long");
    int seen[N_FORMATS] = {0};
    for (const char *p = list;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0)
            return gs_error(GS_ERR_INVALID, "--export '%s': empty entry (give %s, comma-separated)", list,
                            format_names());
        const export_format *f = find_format(p, len);
        if (!f)
            return gs_error(GS_ERR_INVALID, "--export: unknown format '%.*s' (supported: %s)", (int)len, p,
                            format_names());
        if (seen[f - k_formats]++) return gs_error(GS_ERR_INVALID, "--export: '%s' is listed twice", f->ext);
        if (!e) break;
        p = e + 1;
    }
    return GS_OK;
}

int cli_export_parse(cli_export_opts *o, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    int has_value = *i + 1 < argc;
    long v;
    double d;
    if (!strcmp(a, "--keep-all-gaussians")) o->keep_all = 1;
    else if (!strcmp(a, "--prune-border")) o->pruning_asked = 1; /* the default now; kept for older scripts */
    else if (!strcmp(a, "--sh-dc-only")) o->dc_only = 1;
    else if (!strcmp(a, "--export") || !strcmp(a, "--max-depth-percentile") || !strcmp(a, "--spz-version")) {
        if (!has_value) { gs_error(GS_ERR_INVALID, "%s needs a value", a); return -1; }
        const char *val = argv[++*i];
        if (!strcmp(a, "--export")) {
            if (cli_export_list_check(val)) return -1;
            o->formats = val;
        } else if (!strcmp(a, "--max-depth-percentile")) {
            if (!cli_parse_double(val, &d) || !(d > 0 && d <= 100)) {
                gs_error(GS_ERR_INVALID, "--max-depth-percentile must be in (0, 100] (100 keeps every depth)");
                return -1;
            }
            o->depth_pct = d;
            o->pruning_asked = 1;
        } else {
            if (!cli_parse_int(val, 2, 4, &v)) { gs_error(GS_ERR_INVALID, "--spz-version takes 2, 3 or 4"); return -1; }
            o->spz_version = (int)v;
        }
    } else return 0;
    o->given = 1;
    if (o->keep_all && o->pruning_asked) {
        gs_error(GS_ERR_INVALID, "--keep-all-gaussians keeps every Gaussian: not with --prune-border or "
                                 "--max-depth-percentile");
        return -1;
    }
    return 1;
}

static void describe(const cli_export_opts *o, const char *ext, char *buf, size_t cap) {
    if (!strcmp(ext, "spz")) snprintf(buf, cap, "Niantic SPZ v%d", o->spz_version);
    else if (!strcmp(ext, "splat")) snprintf(buf, cap, "antimatter15 .splat, DC colour only");
    else if (!strcmp(ext, "ply")) snprintf(buf, cap, "INRIA 3DGS PLY");
    else if (!strcmp(ext, "glb")) snprintf(buf, cap, "glTF KHR_gaussian_splatting");
    else if (!strcmp(ext, "glb-spz")) snprintf(buf, cap, "glTF KHR_gaussian_splatting, SPZ v3 compressed");
    else snprintf(buf, cap, "%s", ext);
}

gs_status cli_export_gaussians(const char *cmd, const char *out, const cli_export_opts *o, const gs_gaussians *g,
                               const float *depth, int quiet, cli_outdir *od) {
    gs_status st = cli_export_list_check(o->formats);
    if (st) return st;
    gs_gs_export_opts eo;
    gs_gs_export_opts_default(&eo);
    eo.prune_border = !o->keep_all;
    /* a trim of int(8/256 H) = 0 rows (H < 32) trims nothing, where DA3's
     * slice [0:-0] would drop every Gaussian */
    eo.fix_small_border = 1;
    eo.depth_quantile = o->keep_all || o->depth_pct >= 100.0 ? 2.0f : (float)(o->depth_pct / 100.0);
    eo.dc_only = o->dc_only;
    gs_scene sc;
    gs_gs_export_info info;
    if ((st = gs_gaussians_export_scene(g, depth, &eo, &sc, &info))) return st;
    if (!quiet) {
        if (o->keep_all)
            fprintf(stderr, "gs %s: exporting all %lld Gaussians (--keep-all-gaussians)\n", cmd, (long long)g->n);
        else {
            char depth_part[96] = "";
            if (o->depth_pct < 100.0)
                snprintf(depth_part, sizeof depth_part, ", those deeper than their view's %gth percentile dropped",
                         o->depth_pct);
            fprintf(stderr,
                    "gs %s: exporting %lld of %lld Gaussians (as the official gs_ply export: %d border row%s and %d "
                    "column%s trimmed%s; --keep-all-gaussians keeps all)\n",
                    cmd, (long long)sc.n, (long long)g->n, info.trim_rows, info.trim_rows == 1 ? "" : "s",
                    info.trim_cols, info.trim_cols == 1 ? "" : "s", depth_part);
        }
    }
    /* the files one after another under a meter (percent, ETA), weighted by
     * their bytes (the compressed formats' encoding as ten times a byte);
     * the "wrote" lines come after it, so that a terminal's line is not broken */
    const export_format *fmts[N_FORMATS];
    int nf = 0;
    char list[EXPORT_LIST_MAX], path[1200], what[64], stage[96];
    snprintf(list, sizeof list, "%s", o->formats);
    char *save = NULL;
    for (char *f = strtok_r(list, ",", &save); f && nf < N_FORMATS; f = strtok_r(NULL, ",", &save))
        fmts[nf++] = find_format(f, strlen(f));
    const int64_t K3 = 3 * gs_sh_coeffs(sc.sh_degree);
    int64_t cost[N_FORMATS], total = 0, done = 0;
    for (int i = 0; i < nf; i++) {
        const char *e = fmts[i]->ext;
        cost[i] = sc.n * (!strcmp(e, "splat") ? 32 : !strcmp(e, "spz") || !strcmp(e, "glb-spz") ? 10 * (16 + K3) : 4 * (11 + K3));
        total += cost[i] > 0 ? cost[i] : 1;
    }
    char who[64];
    snprintf(who, sizeof who, "gs %s", cmd);
    gs_meter pm;
    gs_meter_begin(&pm, who, quiet);
    int written_files = 0;
    for (int i = 0; i < nf && !st; i++) {
        snprintf(path, sizeof path, "%s/%s", out, fmts[i]->file);
        snprintf(stage, sizeof stage, "writing %s", fmts[i]->file);
        gs_meter_update(&pm, stage, done, total);
        if ((st = fmts[i]->write(path, &sc, o))) break;
        if (od && (st = cli_outdir_add(od, path))) break;
        done += cost[i] > 0 ? cost[i] : 1;
        gs_meter_update(&pm, stage, done, total);
        written_files++;
    }
    gs_meter_end(&pm);
    const int64_t written = sc.n - gs_scene_count_invalid(&sc);
    for (int i = 0; i < written_files && !quiet; i++) {
        describe(o, fmts[i]->ext, what, sizeof what);
        fprintf(stderr, "gs %s: wrote %s/%s (%s, %lld Gaussians, SH degree %d)\n", cmd, out, fmts[i]->file, what,
                (long long)written, !strcmp(fmts[i]->ext, "splat") ? 0 : sc.sh_degree);
    }
    gs_scene_free(&sc);
    return st;
}

gs_status cli_export_paths_free(const cli_export_opts *o, cli_outdir *od) {
    char list[EXPORT_LIST_MAX];
    snprintf(list, sizeof list, "%s", o->formats);
    char *save = NULL;
    gs_status st = GS_OK;
    for (char *f = strtok_r(list, ",", &save); f && !st; f = strtok_r(NULL, ",", &save)) {
        const export_format *fmt = find_format(f, strlen(f));
        if (fmt) st = cli_outdir_free_path(od, fmt->file);
    }
    return st;
}
