/* scene.c - the scene of `gs eval-nvs` (eval_nvs.h): the ground-truth
 * cameras, one image per camera (by name, or the sorted images of a folder
 * for unnamed LLFF cameras), their common size, output names and the
 * background the images are composited over. */
#include "gs/nvs/nvs_internal.h"
#include "eval/metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Free n strings and the array (NULL allowed). */
void nvs_free_strings(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

void gs_nvs_scene_free(gs_nvs_scene *s) {
    nvs_free_strings(s->paths, s->cams.n);
    nvs_free_strings(s->names, s->cams.n);
    gs_cameras_free(&s->cams);
    memset(s, 0, sizeof *s);
}

/* "a/b/c.png" -> "c.png" */
static const char *base_name(const char *p) {
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

/* A name with an extension of a format gs reads (PNG, JPEG, WebP, TIFF, BMP). */
static int is_image_name(const char *name) { return gs_image_ext_known(name); }

/* An existing path that is not a folder. */
int nvs_is_file(const char *p) { return gs_file_exists(p) && !gs_is_dir(p); }

/* The folder of a camera file (a COLMAP folder is its own base). */
static void base_dir_of(const char *path, char *buf, size_t n) {
    if (gs_is_dir(path)) {
        snprintf(buf, n, "%s", path);
        return;
    }
    snprintf(buf, n, "%s", path);
    char *slash = strrchr(buf, '/');
    if (slash == buf) buf[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(buf, n, ".");
}

/* The image of a named camera: dir/NAME, dir/NAME.ext, dir/BASENAME, dir/BASENAME.ext. */
static int find_named_image(const char *dir, const char *name, char *out, size_t n) {
    static const char *const exts[] = {"", ".png", ".jpg", ".jpeg", ".PNG", ".JPG", ".JPEG"};
    const char *cands[2] = {name, base_name(name)};
    for (int c = 0; c < 2; c++) {
        if (c == 1 && cands[1] == cands[0]) break;
        for (size_t e = 0; e < sizeof exts / sizeof exts[0]; e++) {
            int k = cands[c][0] == '/' ? snprintf(out, n, "%s%s", cands[c], exts[e])
                                       : snprintf(out, n, "%s/%s%s", dir, cands[c], exts[e]);
            if (k > 0 && (size_t)k < n && nvs_is_file(out)) return 1;
        }
    }
    return 0;
}

/* qsort order of C strings. */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted image files (.png/.jpg/.jpeg) of a folder. */
static gs_status list_images(const char *dir, char ***out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return gs_error(GS_ERR_IO, "%s: cannot open the image folder", dir);
    int cap = 0, n = 0;
    char **v = NULL;
    gs_status st = GS_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name)) continue;
        if (n >= GS_MAX_CAMERAS) {
            st = gs_error(GS_ERR_INVALID, "%s: more than %d images", dir, GS_MAX_CAMERAS);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv) { st = gs_error(GS_ERR_NOMEM, "%s: out of memory listing images", dir); break; }
            v = nv;
        }
        if (!(v[n] = strdup(e->d_name))) { st = gs_error(GS_ERR_NOMEM, "%s: out of memory listing images", dir); break; }
        n++;
    }
    closedir(d);
    if (st) {
        nvs_free_strings(v, n);
        return st;
    }
    if (n) qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    *n_out = n;
    return GS_OK;
}

/* The only images_* subfolder of base (an LLFF scene shipped with one
 * downsampled set); 0 when there are none or several. */
static int one_images_folder(const char *base, char *out, size_t n) {
    DIR *d = opendir(base);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "images_", 7)) continue;
        char p[1400];
        snprintf(p, sizeof p, "%.1023s/%.255s", base, e->d_name);
        if (!gs_is_dir(p)) continue;
        if (found++) break;
        snprintf(out, n, "%s", p);
    }
    closedir(d);
    return found == 1;
}

/* "a/b/IMG_01.jpg" -> "IMG_01" */
static void file_stem(const char *path, char *buf, size_t n) {
    snprintf(buf, n, "%s", base_name(path));
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
}

/* Named cameras: each camera's image in images_dir (default: base). */
static gs_status resolve_named(gs_nvs_scene *s, const char *cameras_path, const char *images_dir, const char *base) {
    const char *dir = images_dir ? images_dir : base;
    char p[4096];
    snprintf(s->images_dir, sizeof s->images_dir, "%s", dir);
    snprintf(s->pairing, sizeof s->pairing, "by name");
    for (int i = 0; i < s->cams.n; i++) {
        const char *nm = s->cams.cams[i].name;
        if (!nm[0])
            return gs_error(GS_ERR_INVALID, "%s: camera %d has no image name while others have one", cameras_path, i);
        if (!find_named_image(dir, nm, p, sizeof p))
            return gs_error(GS_ERR_NOT_FOUND,
                            "%s: no image for camera %d ('%s') in %s (tried the name, with .png/.jpg/.jpeg, and "
                            "its base name; give --images DIR)",
                            cameras_path, i, nm, dir);
        if (!(s->paths[i] = strdup(p))) return gs_error(GS_ERR_NOMEM, "out of memory");
    }
    return GS_OK;
}

/* The image folder of unnamed cameras: images_<factor>, images, the only
 * images_* folder, else base itself. */
static void default_llff_dir(const char *base, double factor, char *dir, size_t n) {
    snprintf(dir, n, "%s", base);
    int f = (int)factor;
    char d[1400];
    if (factor > 1 && (double)f == factor && snprintf(d, sizeof d, "%s/images_%d", base, f) > 0 && gs_is_dir(d))
        snprintf(dir, n, "%.1023s", d);
    else if (snprintf(d, sizeof d, "%s/images", base) > 0 && gs_is_dir(d))
        snprintf(dir, n, "%.1023s", d);
    else if (one_images_folder(base, d, sizeof d))
        snprintf(dir, n, "%.1023s", d); /* the size check then names the factor */
}

/* Unnamed cameras (LLFF poses_bounds.npy): the sorted images of a folder, in order. */
static gs_status resolve_unnamed(gs_nvs_scene *s, const char *cameras_path, const char *images_dir, const char *base,
                                 double factor) {
    const int n = s->cams.n;
    char dir[1024], p[4096];
    if (images_dir) snprintf(dir, sizeof dir, "%s", images_dir);
    else default_llff_dir(base, factor, dir, sizeof dir);
    snprintf(s->images_dir, sizeof s->images_dir, "%s", dir);
    snprintf(s->pairing, sizeof s->pairing, "by order (unnamed cameras, sorted images)");
    char **files = NULL;
    int nf = 0;
    gs_status st = list_images(dir, &files, &nf);
    if (st) return st;
    if (nf != n) {
        nvs_free_strings(files, nf);
        return gs_error(GS_ERR_INVALID,
                        "%s: the %d cameras have no image names and %s holds %d image%s; unnamed cameras are paired "
                        "with the sorted images in order, which needs one image per camera (give --images DIR)",
                        cameras_path, n, dir, nf, nf == 1 ? "" : "s");
    }
    for (int i = 0; i < n && !st; i++) {
        gs_path_join(p, sizeof p, dir, files[i]);
        if (!(s->paths[i] = strdup(p))) st = gs_error(GS_ERR_NOMEM, "out of memory");
    }
    nvs_free_strings(files, nf);
    return st;
}

/* s->paths: by name when any camera has one, else by order. */
static gs_status resolve_images(gs_nvs_scene *s, const char *cameras_path, const char *images_dir, double factor) {
    char base[1024];
    base_dir_of(cameras_path, base, sizeof base);
    int named = 0;
    for (int i = 0; i < s->cams.n; i++) named += s->cams.cams[i].name[0] != 0;
    if (named) return resolve_named(s, cameras_path, images_dir, base);
    return resolve_unnamed(s, cameras_path, images_dir, base, factor);
}

/* At least min_views cameras, each with a pose. */
static gs_status check_cameras(const gs_nvs_scene *s, const char *cameras_path, int min_views) {
    const int n = s->cams.n;
    if (n < min_views)
        return gs_error(GS_ERR_INVALID, "%s: %d camera%s; the protocol needs context and target views", cameras_path,
                        n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++)
        if (!s->cams.cams[i].has_pose)
            return gs_error(GS_ERR_INVALID, "%s: camera %d has intrinsics only (no pose)", cameras_path, i);
    return GS_OK;
}

/* Every image (header only) of its camera's size and of one common size -> width, height, has_alpha. */
static gs_status check_image_sizes(gs_nvs_scene *s, const char *cameras_path, double llff_factor) {
    for (int i = 0; i < s->cams.n; i++) {
        const gs_camera *c = &s->cams.cams[i];
        int w, h, ch;
        gs_status st = gs_image_info(s->paths[i], &w, &h, &ch);
        if (st) return st;
        if ((int64_t)w * h > GS_EVAL_MAX_PIXELS) /* scored at full size, as gs eval does */
            return gs_error(GS_ERR_INVALID, "ground truth %s: %dx%d is %.1f megapixels, over the %.1f that gs scores",
                            s->paths[i], w, h, (double)w * h / 1e6, (double)GS_EVAL_MAX_PIXELS / 1e6);
        if (w != c->width || h != c->height) {
            if (s->format == GS_CAM_LLFF && w > 0 && (double)c->width / w == (double)c->height / h)
                return gs_error(GS_ERR_INVALID,
                                "%s: camera %d is %dx%d but its image %s is %dx%d (LLFF poses: pass --llff-factor %g)",
                                cameras_path, i, c->width, c->height, s->paths[i], w, h,
                                (llff_factor > 0 ? llff_factor : 1.0) * c->width / w);
            return gs_error(GS_ERR_INVALID, "%s: camera %d is %dx%d but its image %s is %dx%d", cameras_path, i,
                            c->width, c->height, s->paths[i], w, h);
        }
        if (i == 0) {
            s->width = w;
            s->height = h;
        } else if (w != s->width || h != s->height) {
            return gs_error(GS_ERR_INVALID,
                            "images of different sizes: %s is %dx%d but %s is %dx%d (the protocol needs one image "
                            "size; DA3 would centre-crop mixed sizes)",
                            s->paths[i], w, h, s->paths[0], s->width, s->height);
        }
        s->has_alpha |= ch == 2 || ch == 4;
    }
    return GS_OK;
}

/* s->names: the file stems, a repeated stem prefixed with the view index. */
static gs_status name_views(gs_nvs_scene *s) {
    for (int i = 0; i < s->cams.n; i++) {
        char stem[300];
        file_stem(s->paths[i], stem, sizeof stem);
        for (int j = 0; j < i; j++)
            if (!strcmp(s->names[j], stem)) { /* same stem in two folders */
                char tmp[300];
                snprintf(tmp, sizeof tmp, "%03d_%.280s", i, stem);
                snprintf(stem, sizeof stem, "%s", tmp);
                break;
            }
        if (!(s->names[i] = strdup(stem))) return gs_error(GS_ERR_NOMEM, "out of memory");
    }
    return GS_OK;
}

/* gs_nvs_scene_load with at least min_views cameras. */
static gs_status scene_load(const char *cameras_path, const char *images_dir, double llff_factor, gs_nvs_bg bg,
                            int min_views, gs_nvs_scene *out) {
    memset(out, 0, sizeof *out);
    if (!cameras_path) return gs_error(GS_ERR_INVALID, "eval-nvs: no camera file given");
    if (!(llff_factor >= 0) || !isfinite(llff_factor))
        return gs_error(GS_ERR_INVALID, "eval-nvs: LLFF factor %g is not a positive number", llff_factor);
    if (images_dir && !gs_is_dir(images_dir)) return gs_error(GS_ERR_IO, "%s: not a folder", images_dir);
    gs_camera_read_opts ro = {llff_factor};
    gs_status st = gs_cameras_read(cameras_path, &ro, &out->cams, &out->format);
    if (st) return st;
    const int n = out->cams.n;
    if ((st = check_cameras(out, cameras_path, min_views))) goto fail;
    out->paths = gs_calloc((size_t)n, sizeof *out->paths, "image paths");
    out->names = gs_calloc((size_t)n, sizeof *out->names, "image names");
    if (!out->paths || !out->names) { st = GS_ERR_NOMEM; goto fail; }
    if ((st = resolve_images(out, cameras_path, images_dir, llff_factor))) goto fail;
    if ((st = check_image_sizes(out, cameras_path, llff_factor))) goto fail;
    if ((st = name_views(out))) goto fail;
    float v = bg == GS_NVS_BG_WHITE || (bg == GS_NVS_BG_AUTO && out->has_alpha) ? 1.0f : 0.0f;
    out->bg[0] = out->bg[1] = out->bg[2] = v;
    return GS_OK;
fail:
    gs_nvs_scene_free(out);
    return st;
}

gs_status gs_nvs_scene_load(const char *cameras_path, const char *images_dir, double llff_factor, gs_nvs_bg bg,
                            gs_nvs_scene *out) {
    return scene_load(cameras_path, images_dir, llff_factor, bg, 2, out);
}

/* Append the views of t to s (same image size); t is emptied. */
static gs_status append_views(gs_nvs_scene *s, gs_nvs_scene *t) {
    const int n = s->cams.n, m = t->cams.n;
    if (n + m > GS_MAX_CAMERAS)
        return gs_error(GS_ERR_INVALID, "eval-nvs: %d context and %d target views are more than %d", n, m,
                        GS_MAX_CAMERAS);
    gs_camera *c = realloc(s->cams.cams, (size_t)(n + m) * sizeof *c);
    if (c) s->cams.cams = c;
    char **p = c ? realloc(s->paths, (size_t)(n + m) * sizeof *p) : NULL;
    if (p) s->paths = p;
    char **nm = p ? realloc(s->names, (size_t)(n + m) * sizeof *nm) : NULL;
    if (nm) s->names = nm;
    if (!c || !p || !nm) return gs_error(GS_ERR_NOMEM, "eval-nvs: out of memory joining the camera files");
    memcpy(c + n, t->cams.cams, (size_t)m * sizeof *c);
    memcpy(p + n, t->paths, (size_t)m * sizeof *p);
    memcpy(nm + n, t->names, (size_t)m * sizeof *nm);
    s->cams.n = n + m;
    free(t->cams.cams);
    free(t->paths);
    free(t->names);
    memset(t, 0, sizeof *t);
    return GS_OK;
}

gs_status gs_nvs_scene_load_pair(const char *context_path, const char *context_images, const char *target_path,
                                 const char *target_images, double llff_factor, gs_nvs_bg bg, gs_nvs_scene *out) {
    memset(out, 0, sizeof *out);
    if (!target_path) return scene_load(context_path, context_images, llff_factor, bg, 2, out);
    gs_nvs_scene t;
    gs_status st = scene_load(context_path, context_images, llff_factor, bg, 2, out);
    if (st) return st;
    if ((st = scene_load(target_path, target_images, llff_factor, bg, 1, &t))) {
        gs_nvs_scene_free(out);
        return st;
    }
    if (t.width != out->width || t.height != out->height) {
        st = gs_error(GS_ERR_INVALID,
                      "the context images (%s) are %dx%d but the target images (%s) are %dx%d; the protocol needs one "
                      "image size", context_path, out->width, out->height, target_path, t.width, t.height);
    } else {
        out->n_context_views = out->cams.n;
        out->target_format = t.format;
        out->has_alpha |= t.has_alpha;
        snprintf(out->target_images_dir, sizeof out->target_images_dir, "%s", t.images_dir);
        if (strcmp(out->pairing, t.pairing)) {
            char both[64];
            snprintf(both, sizeof both, "%.24s; targets %.24s", out->pairing, t.pairing);
            snprintf(out->pairing, sizeof out->pairing, "%s", both);
        }
        st = append_views(out, &t);
    }
    gs_nvs_scene_free(&t);
    if (st) {
        gs_nvs_scene_free(out);
        return st;
    }
    float v = bg == GS_NVS_BG_WHITE || (bg == GS_NVS_BG_AUTO && out->has_alpha) ? 1.0f : 0.0f;
    out->bg[0] = out->bg[1] = out->bg[2] = v;
    return GS_OK;
}

gs_status gs_nvs_scene_image(const gs_nvs_scene *s, int i, gs_image *out) {
    memset(out, 0, sizeof *out);
    if (i < 0 || i >= s->cams.n) return gs_error(GS_ERR_INVALID, "eval-nvs: view %d out of range", i);
    gs_image im, flat;
    gs_status st = gs_image_read(s->paths[i], &im);
    if (st) return st;
    if (im.width != s->width || im.height != s->height) {
        st = gs_error(GS_ERR_INVALID, "%s: the image is now %dx%d (was %dx%d)", s->paths[i], im.width, im.height,
                      s->width, s->height);
        gs_image_free(&im);
        return st;
    }
    st = gs_eval_flatten(&im, s->bg, &flat);
    gs_image_free(&im);
    if (st) return st;
    if (flat.channels == 3) {
        *out = flat;
        return GS_OK;
    }
    st = gs_image_alloc(out, flat.width, flat.height, 3);
    if (!st) {
        const size_t np = (size_t)flat.width * flat.height;
        for (size_t k = 0; k < np; k++) out->data[3 * k] = out->data[3 * k + 1] = out->data[3 * k + 2] = flat.data[k];
        out->bit_depth = flat.bit_depth;
    }
    gs_image_free(&flat);
    return st;
}
