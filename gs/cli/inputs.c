/* inputs.c - the IMAGES of `gs infer` / `gs nvs` (cli.h): photos, folders of
 * photos and videos, expanded as Depth Anything 3's CLI expands them, then
 * loaded (every photo header checked before anything is decoded).
 *
 * - A folder: its files with an image extension (DA3's `images` command
 *   globs *.ext and *.EXT per extension and sorts the paths; here any case
 *   of the extension matches), sorted by name (byte order, as Python's
 *   sorted), hidden files and subfolders skipped, not recursive.
 * - A video (DA3's VIDEO_EXTENSIONS): every k-th frame, k = max(1,
 *   int(video_fps / --fps)), --fps 1 by default, named 000000, 000001, ...
 *   as DA3's VideoHandler names the frames it extracts
 *   (data/video_read.c).
 * - Anything else: a photo, its format found by content.
 * EXIF orientation: DA3 opens photos with PIL's Image.open(...).convert("RGB"),
 * which does not apply it, and so does gs; a photo whose Orientation is not
 * 1 is warned about, naming it and what would turn it upright. */
#include "gs/cli/cli.h"
#include "gs/cli/outdir.h"
#include "data/cameras.h"
#include "data/video.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_EXTS "png,jpg,jpeg,webp,bmp,tif,tiff"

void cli_input_opts_default(cli_input_opts *o) {
    memset(o, 0, sizeof *o);
    o->fps = 1.0;
}

/* Every entry of an --ext list is a format gs reads. */
static int ext_list_ok(const char *list, char *bad, size_t n) {
    char buf[256];
    if (!list[0] || strlen(list) >= sizeof buf) { snprintf(bad, n, "%s", list); return 0; }
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    int any = 0;
    for (char *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        char probe[80];
        while (*e == ' ') e++;
        snprintf(probe, sizeof probe, "x%s%s", e[0] == '.' ? "" : ".", e);
        if (!e[0] || !gs_image_ext_known(probe)) { snprintf(bad, n, "%s", e); return 0; }
        any = 1;
    }
    return any;
}

int cli_input_option(const gs_command *c, int argc, char **argv, int *i, cli_input_opts *o) {
    const char *a = argv[*i];
    int is_ext = !strcmp(a, "--ext"), is_fps = !strcmp(a, "--fps"), is_max = !strcmp(a, "--max-frames");
    if (!is_ext && !is_fps && !is_max) return 0;
    if (*i + 1 >= argc) {
        cli_usage_error(c, "%s needs a value", a);
        return -1;
    }
    const char *v = argv[++*i];
    if (is_ext) {
        char bad[128];
        if (!ext_list_ok(v, bad, sizeof bad)) {
            cli_usage_error(c, "--ext: '%s' is not an image extension gs reads (" DEFAULT_EXTS ")", bad);
            return -1;
        }
        o->ext = v;
    } else if (is_fps) {
        double d;
        if (!cli_parse_double(v, &d) || !(d > 0 && d <= 1000)) {
            cli_usage_error(c, "--fps must be a number of frames per second in (0, 1000]");
            return -1;
        }
        o->fps = d;
    } else {
        long n;
        if (!cli_parse_int(v, 1, 1000000, &n)) {
            cli_usage_error(c, "--max-frames must be 1..1000000");
            return -1;
        }
        o->max_frames = n;
    }
    return 1;
}

/* A name whose extension is in the comma list (any case). */
static int ext_in_list(const char *name, const char *list) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *e = strtok_r(buf, ",", &save); e; e = strtok_r(NULL, ",", &save)) {
        while (*e == ' ') e++;
        if (*e == '.') e++;
        if (!strcasecmp(dot + 1, e)) return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A growing list of owned strings. */
typedef struct {
    char **v;
    int n, cap;
} str_list;

static gs_status list_push(str_list *l, const char *s) {
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 32;
        char **nv = realloc(l->v, (size_t)nc * sizeof *nv);
        if (!nv) return gs_error(GS_ERR_NOMEM, "out of memory");
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n] = strdup(s))) return gs_error(GS_ERR_NOMEM, "out of memory");
    l->n++;
    return GS_OK;
}

static void list_free(str_list *l) {
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* The image files of a folder, sorted, appended to *out. */
static gs_status list_folder(const char *dir, const char *exts, str_list *out) {
    DIR *d = opendir(dir);
    if (!d) return gs_error(GS_ERR_IO, "folder %s: cannot open it", dir);
    str_list names = {0};
    gs_status st = GS_OK;
    char path[4096];
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.' || !ext_in_list(e->d_name, exts)) continue;
        int k = snprintf(path, sizeof path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        if (k < 0 || (size_t)k >= sizeof path) { st = gs_error(GS_ERR_INVALID, "folder %s: path too long", dir); break; }
        if (gs_is_dir(path) || !gs_file_exists(path)) continue; /* a folder named x.png, a dangling link */
        st = list_push(&names, path);
    }
    closedir(d);
    if (!st && !names.n) {
        int colmap = 0;
        if (snprintf(path, sizeof path, "%s/images", dir) > 0 && gs_is_dir(path)) colmap = 1;
        st = gs_error(GS_ERR_NOT_FOUND, "folder %s: no images in it (extensions %s)%s", dir, exts,
                      colmap ? "; its photos are in its images/ folder: give that" : "");
    }
    if (!st) qsort(names.v, (size_t)names.n, sizeof *names.v, cmp_str);
    for (int i = 0; !st && i < names.n; i++) st = list_push(out, names.v[i]);
    list_free(&names);
    return st;
}

/* One expanded input: a photo file, or the frames of a video. */
typedef struct {
    const char *path;
    int video;
} source;

static gs_status photo_header(const char *path) {
    int w, h;
    gs_status st = gs_image_info(path, &w, &h, NULL);
    if (st) return st;
    if ((int64_t)w * h > CLI_PHOTO_MAX_PIXELS)
        return gs_error(GS_ERR_INVALID,
                        "photo %s: %dx%d is %.1f megapixels, over the %lld that gs decodes for the network (whose "
                        "input is at most 2048x2048; this one would take %.1f GB as float): downscale it first",
                        path, w, h, (double)w * h / 1e6, CLI_PHOTO_MAX_PIXELS / 1000000, (double)w * h * 12 / 1e9);
    return GS_OK;
}

/* Room for n more photos in ph (labels: the names cameras are matched by). */
static gs_status grow(cli_photos *ph, char ***labels, int *cap, int more) {
    if (ph->n + more <= *cap) return GS_OK;
    int nc = *cap ? *cap : 16;
    while (nc < ph->n + more) nc *= 2;
    gs_image *ni = realloc(ph->imgs, (size_t)nc * sizeof *ni);
    if (ni) ph->imgs = ni;
    char **nn = ni ? realloc(ph->names, (size_t)nc * sizeof *nn) : NULL;
    if (nn) ph->names = nn;
    char **nl = nn ? realloc(*labels, (size_t)nc * sizeof *nl) : NULL;
    if (nl) *labels = nl;
    if (!nl) return gs_error(GS_ERR_NOMEM, "out of memory");
    *cap = nc;
    return GS_OK;
}

/* Adds one photo (taking im) named after label; names stay unique. */
static gs_status add_photo(cli_photos *ph, char **labels, const char *label, gs_image *im) {
    int i = ph->n;
    char *name = malloc(256);
    char *lab = strdup(label);
    if (!name || !lab) {
        free(name);
        free(lab);
        gs_image_free(im);
        return gs_error(GS_ERR_NOMEM, "out of memory");
    }
    gs_path_stem(label, name, 256);
    char stem[256];
    snprintf(stem, sizeof stem, "%s", name);
    for (int k = 0, clash = 1; clash; k++) { /* NNN_STEM (NNN the view; then NNN_K_STEM) until no view has it */
        clash = 0;
        for (int j = 0; j < i && !clash; j++) clash = !strcmp(name, ph->names[j]);
        if (clash && k == 0) snprintf(name, 256, "%03d_%.200s", i, stem);
        else if (clash) snprintf(name, 256, "%03d_%d_%.200s", i, k, stem);
    }
    ph->imgs[i] = *im;
    memset(im, 0, sizeof *im);
    ph->names[i] = name;
    labels[i] = lab;
    ph->n++;
    return GS_OK;
}

static const char *file_name(const char *path) {
    const char *sl = strrchr(path, '/');
    return sl ? sl + 1 : path;
}

int cli_photos_load(const char *cmd, char **paths, int n, const cli_input_opts *in, const char *cameras,
                    cli_photos *ph) {
    memset(ph, 0, sizeof *ph);
    cli_input_opts def;
    if (!in) {
        cli_input_opts_default(&def);
        in = &def;
    }
    const char *exts = in->ext ? in->ext : DEFAULT_EXTS;
    str_list files = {0}; /* photo paths; a video is kept as its own path */
    source *src = NULL;
    int n_src = 0;
    gs_status st = GS_OK;
    /* expand: folders into their photos, in argument order */
    for (int i = 0; !st && i < n; i++) {
        if (gs_is_dir(paths[i])) st = list_folder(paths[i], exts, &files);
        else st = list_push(&files, paths[i]);
    }
    if (!st && !(src = calloc((size_t)(files.n ? files.n : 1), sizeof *src))) st = gs_error(GS_ERR_NOMEM, "out of memory");
    for (int i = 0; !st && i < files.n; i++) {
        src[n_src].path = files.v[i];
        src[n_src++].video = gs_video_ext_known(files.v[i]) && !gs_is_dir(files.v[i]);
    }
    /* every photo header first: nothing is decoded when one photo is too large */
    for (int i = 0; !st && i < n_src; i++)
        if (!src[i].video) st = photo_header(src[i].path);
    char **labels = NULL;
    int cap = 0;
    for (int i = 0; !st && i < n_src; i++) {
        if (src[i].video) {
            gs_image *fr = NULL;
            int nf = 0;
            double vfps = 0;
            long every = 1;
            st = gs_video_read_frames(src[i].path, in->fps, in->max_frames, CLI_PHOTO_MAX_PIXELS, &fr, &nf, &vfps, &every);
            if (!st) st = grow(ph, &labels, &cap, nf);
            for (int k = 0; k < nf; k++) {
                char label[32];
                snprintf(label, sizeof label, "%06d.png", k);
                if (!st) st = add_photo(ph, labels, label, &fr[k]);
                else gs_image_free(&fr[k]);
            }
            free(fr);
            if (!st && !in->quiet)
                fprintf(stderr, "gs %s: video %s (%.4g fps): every %ld%s frame, %d frame%s%s\n", cmd, src[i].path, vfps,
                        every, every == 1 ? "st" : every == 2 ? "nd" : every == 3 ? "rd" : "th", nf, nf == 1 ? "" : "s",
                        in->max_frames > 0 && nf == in->max_frames ? " (--max-frames)" : "");
            continue;
        }
        gs_image im;
        int orient = 0;
        if (!(st = grow(ph, &labels, &cap, 1)) && !(st = gs_image_read_orient(src[i].path, &im, &orient))) {
            if (orient)
                gs_warn("photo %s: its EXIF orientation is %d (viewers %s to show it upright); gs uses the pixels "
                        "as stored, unrotated, as Depth Anything 3 reads photos", src[i].path, orient,
                        gs_image_orientation_name(orient));
            st = add_photo(ph, labels, src[i].path, &im);
        }
    }
    if (!st && !ph->n) st = gs_error(GS_ERR_INVALID, "no photos in the inputs");
    if (!st && cameras) {
        gs_cameras c;
        const int np = ph->n;
        if (!(st = gs_cameras_read(cameras, NULL, &c, NULL))) {
            ph->w2c = malloc((size_t)np * 16 * sizeof *ph->w2c);
            ph->K = malloc((size_t)np * 9 * sizeof *ph->K);
            int *wh = malloc(2 * (size_t)np * sizeof *wh);
            for (int i = 0; wh && i < np; i++) { wh[i] = ph->imgs[i].width; wh[np + i] = ph->imgs[i].height; }
            st = ph->w2c && ph->K && wh
                     ? gs_cameras_match_images(&c, (const char *const *)labels, wh, wh + np, np, ph->w2c, ph->K, cameras)
                     : gs_error(GS_ERR_NOMEM, "out of memory");
            free(wh);
            gs_cameras_free(&c);
        }
    }
    ph->paths = labels;
    if (!st && !(ph->files = calloc((size_t)ph->n, sizeof *ph->files))) st = gs_error(GS_ERR_NOMEM, "out of memory");
    for (int v = 0; !st && v < ph->n; v++) { /* the unique stem with the photo's extension: p0.png, 001_p0.png */
        const char *base = file_name(labels[v]), *dot = strrchr(base, '.');
        char buf[300];
        snprintf(buf, sizeof buf, "%s%.40s", ph->names[v], dot && dot != base ? dot : "");
        if (!(ph->files[v] = strdup(buf))) st = gs_error(GS_ERR_NOMEM, "out of memory");
    }
    free(src);
    list_free(&files);
    if (st) {
        cli_photos_free(ph);
        return cli_fail(cmd, st);
    }
    return 0;
}

void cli_photos_free(cli_photos *ph) {
    for (int i = 0; ph->imgs && i < ph->n; i++) gs_image_free(&ph->imgs[i]);
    for (int i = 0; ph->names && i < ph->n; i++) free(ph->names[i]);
    for (int i = 0; ph->paths && i < ph->n; i++) free(ph->paths[i]);
    for (int i = 0; ph->files && i < ph->n; i++) free(ph->files[i]);
    free(ph->files);
    free(ph->imgs);
    free(ph->names);
    free(ph->paths);
    free(ph->w2c);
    free(ph->K);
    memset(ph, 0, sizeof *ph);
}

/* Is DIR/images/FILE photo v itself (a COLMAP dataset's own images folder)? */
static int photo_in_place(const cli_photos *ph, int v, const char *dir) {
    char dst[4400];
    snprintf(dst, sizeof dst, "%s/images/%s", dir, ph->files[v]);
    struct stat a, b;
    return stat(ph->paths[v], &a) == 0 && stat(dst, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

gs_status cli_photos_images_free(const cli_photos *ph, const char *dir, const cli_outdir *od) {
    gs_status st = GS_OK;
    for (int v = 0; !st && v < ph->n; v++) {
        if (photo_in_place(ph, v, dir)) continue;
        char rel[400];
        snprintf(rel, sizeof rel, "images/%s", ph->files[v]);
        st = cli_outdir_free_path(od, rel);
    }
    return st;
}

gs_status cli_photos_write_images(const cli_photos *ph, const char *dir, cli_outdir *od) {
    char idir[4096], dst[4400];
    gs_path_join(idir, sizeof idir, dir, "images");
    gs_status st = gs_mkdirs(idir);
    for (int v = 0; !st && v < ph->n; v++) {
        snprintf(dst, sizeof dst, "%s/%s", idir, ph->files[v]);
        if (photo_in_place(ph, v, dir)) continue; /* already there: the user's, not recorded */
        struct stat sb;
        if (stat(ph->paths[v], &sb) == 0 && S_ISREG(sb.st_mode)) { /* the file as given, byte for byte */
            uint8_t *data = NULL;
            size_t n = 0;
            st = gs_read_file(ph->paths[v], (size_t)sb.st_size + 1, &data, &n);
            if (!st) st = gs_write_file_atomic(dst, data, n);
            free(data);
        } else {
            st = gs_image_write_png(dst, &ph->imgs[v], 8); /* a video frame */
        }
        if (!st) st = cli_outdir_add(od, dst);
    }
    return st;
}
