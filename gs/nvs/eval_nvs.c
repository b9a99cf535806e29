/* eval_nvs.c - the novel-view-synthesis evaluation protocol of `gs eval-nvs`
 * (eval_nvs.h): ground-truth scene -> context / target split -> DA3 with the
 * 3DGS head on the context views -> Sim(3) alignment of the ground-truth
 * cameras to the Gaussians' frame -> renders of the targets -> metrics,
 * renders and a contact sheet. */
#include "gs/nvs/eval_nvs.h"
#include "raster/raster.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Targets are rendered and scored in groups: the ground truth and renders of
 * one group are held at once, and each group loads the metric networks once. */
#define NVS_GROUP 16
#define NVS_SHEET_GAP 4
#define NVS_ERROR_MAX 0.5f

static void say(const gs_nvs_eval_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const gs_nvs_eval_opts *o, const char *fmt, ...) {
    if (!o->log) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->log(o->log_user, buf);
}

/* ---- scene -------------------------------------------------------------------------- */

static void free_strings(char **v, int n) {
    for (int i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

void gs_nvs_scene_free(gs_nvs_scene *s) {
    free_strings(s->paths, s->cams.n);
    free_strings(s->names, s->cams.n);
    gs_cameras_free(&s->cams);
    memset(s, 0, sizeof *s);
}

static const char *base_name(const char *p) {
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

static int is_file(const char *p) { return gs_file_exists(p) && !gs_is_dir(p); }

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
            if (k > 0 && (size_t)k < n && is_file(out)) return 1;
        }
    }
    return 0;
}

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
        free_strings(v, n);
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

static gs_status resolve_images(gs_nvs_scene *s, const char *cameras_path, const char *images_dir, double factor) {
    const int n = s->cams.n;
    char base[1024];
    base_dir_of(cameras_path, base, sizeof base);
    int named = 0;
    for (int i = 0; i < n; i++) named += s->cams.cams[i].name[0] != 0;
    char p[4096];
    if (named) {
        const char *dir = images_dir ? images_dir : base;
        snprintf(s->images_dir, sizeof s->images_dir, "%s", dir);
        snprintf(s->pairing, sizeof s->pairing, "by name");
        for (int i = 0; i < n; i++) {
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
    /* unnamed cameras (LLFF poses_bounds.npy): the sorted images of a folder, in order */
    char dir[1024];
    if (images_dir) {
        snprintf(dir, sizeof dir, "%s", images_dir);
    } else {
        snprintf(dir, sizeof dir, "%s", base);
        int f = (int)factor;
        char d[1400];
        if (factor > 1 && (double)f == factor && snprintf(d, sizeof d, "%s/images_%d", base, f) > 0 && gs_is_dir(d))
            snprintf(dir, sizeof dir, "%.1023s", d);
        else if (snprintf(d, sizeof d, "%s/images", base) > 0 && gs_is_dir(d))
            snprintf(dir, sizeof dir, "%.1023s", d);
        else if (one_images_folder(base, d, sizeof d))
            snprintf(dir, sizeof dir, "%.1023s", d); /* the size check then names the factor */
    }
    snprintf(s->images_dir, sizeof s->images_dir, "%s", dir);
    snprintf(s->pairing, sizeof s->pairing, "by order (unnamed cameras, sorted images)");
    char **files = NULL;
    int nf = 0;
    gs_status st = list_images(dir, &files, &nf);
    if (st) return st;
    if (nf != n) {
        free_strings(files, nf);
        return gs_error(GS_ERR_INVALID,
                        "%s: the %d cameras have no image names and %s holds %d image%s; unnamed cameras are paired "
                        "with the sorted images in order, which needs one image per camera (give --images DIR)",
                        cameras_path, n, dir, nf, nf == 1 ? "" : "s");
    }
    for (int i = 0; i < n && !st; i++) {
        gs_path_join(p, sizeof p, dir, files[i]);
        if (!(s->paths[i] = strdup(p))) st = gs_error(GS_ERR_NOMEM, "out of memory");
    }
    free_strings(files, nf);
    return st;
}

gs_status gs_nvs_scene_load(const char *cameras_path, const char *images_dir, double llff_factor, gs_nvs_bg bg,
                            gs_nvs_scene *out) {
    memset(out, 0, sizeof *out);
    if (!cameras_path) return gs_error(GS_ERR_INVALID, "eval-nvs: no camera file given");
    if (!(llff_factor >= 0) || !isfinite(llff_factor))
        return gs_error(GS_ERR_INVALID, "eval-nvs: LLFF factor %g is not a positive number", llff_factor);
    if (images_dir && !gs_is_dir(images_dir)) return gs_error(GS_ERR_IO, "%s: not a folder", images_dir);
    gs_camera_read_opts ro = {llff_factor};
    gs_status st = gs_cameras_read(cameras_path, &ro, &out->cams, &out->format);
    if (st) return st;
    const int n = out->cams.n;
    if (n < 2) {
        st = gs_error(GS_ERR_INVALID, "%s: %d camera%s; the protocol needs context and target views", cameras_path, n,
                      n == 1 ? "" : "s");
        goto fail;
    }
    for (int i = 0; i < n; i++)
        if (!out->cams.cams[i].has_pose) {
            st = gs_error(GS_ERR_INVALID, "%s: camera %d has intrinsics only (no pose)", cameras_path, i);
            goto fail;
        }
    out->paths = gs_calloc((size_t)n, sizeof *out->paths, "image paths");
    out->names = gs_calloc((size_t)n, sizeof *out->names, "image names");
    if (!out->paths || !out->names) { st = GS_ERR_NOMEM; goto fail; }
    if ((st = resolve_images(out, cameras_path, images_dir, llff_factor))) goto fail;
    for (int i = 0; i < n; i++) {
        const gs_camera *c = &out->cams.cams[i];
        int w, h, ch;
        if ((st = gs_image_info(out->paths[i], &w, &h, &ch))) goto fail;
        if (w != c->width || h != c->height) {
            if (out->format == GS_CAM_LLFF && w > 0 && (double)c->width / w == (double)c->height / h)
                st = gs_error(GS_ERR_INVALID,
                              "%s: camera %d is %dx%d but its image %s is %dx%d (LLFF poses: pass --llff-factor %g)",
                              cameras_path, i, c->width, c->height, out->paths[i], w, h,
                              (llff_factor > 0 ? llff_factor : 1.0) * c->width / w);
            else
                st = gs_error(GS_ERR_INVALID, "%s: camera %d is %dx%d but its image %s is %dx%d", cameras_path, i,
                              c->width, c->height, out->paths[i], w, h);
            goto fail;
        }
        if (i == 0) {
            out->width = w;
            out->height = h;
        } else if (w != out->width || h != out->height) {
            st = gs_error(GS_ERR_INVALID,
                          "images of different sizes: %s is %dx%d but %s is %dx%d (the protocol needs one image size; "
                          "DA3 would centre-crop mixed sizes)",
                          out->paths[i], w, h, out->paths[0], out->width, out->height);
            goto fail;
        }
        out->has_alpha |= ch == 2 || ch == 4;
    }
    for (int i = 0; i < n; i++) {
        char stem[300];
        file_stem(out->paths[i], stem, sizeof stem);
        for (int j = 0; j < i; j++)
            if (!strcmp(out->names[j], stem)) { /* same stem in two folders */
                char tmp[300];
                snprintf(tmp, sizeof tmp, "%03d_%.280s", i, stem);
                snprintf(stem, sizeof stem, "%s", tmp);
                break;
            }
        if (!(out->names[i] = strdup(stem))) { st = gs_error(GS_ERR_NOMEM, "out of memory"); goto fail; }
    }
    float v = bg == GS_NVS_BG_WHITE || (bg == GS_NVS_BG_AUTO && out->has_alpha) ? 1.0f : 0.0f;
    out->bg[0] = out->bg[1] = out->bg[2] = v;
    return GS_OK;
fail:
    gs_nvs_scene_free(out);
    return st;
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

/* ---- view selection ----------------------------------------------------------------- */

void gs_nvs_split_opts_default(gs_nvs_split_opts *o) {
    memset(o, 0, sizeof *o);
    o->num_context = GS_NVS_DEFAULT_CONTEXT;
    o->target_mode = GS_NVS_TARGETS_REST;
    o->target_every = 8;
}

enum { ROLE_FREE = 0, ROLE_CONTEXT = 1, ROLE_TARGET = 2 };

gs_status gs_nvs_select_views(const gs_camera *cams, int n, const gs_nvs_split_opts *o, int *ctx, int *n_ctx,
                              int *tgt, int *n_tgt) {
    *n_ctx = *n_tgt = 0;
    if (!cams || !o || !ctx || !tgt) return gs_error(GS_ERR_INVALID, "view selection: NULL argument");
    if (n < 2 || n > GS_MAX_CAMERAS) return gs_error(GS_ERR_INVALID, "view selection: %d views", n);
    unsigned char *role = gs_calloc((size_t)n, 1, "view roles");
    if (!role) return GS_ERR_NOMEM;
    gs_status st = GS_OK;
    if (o->context) {
        if (o->n_context < 1) { st = gs_error(GS_ERR_INVALID, "the context list is empty"); goto done; }
        for (int k = 0; k < o->n_context; k++) {
            int v = o->context[k];
            if (v < 0 || v >= n) {
                st = gs_error(GS_ERR_INVALID, "context view %d is out of range (the scene has views 0..%d)", v, n - 1);
                goto done;
            }
            if (role[v]) { st = gs_error(GS_ERR_INVALID, "context view %d is listed twice", v); goto done; }
            role[v] = ROLE_CONTEXT;
        }
    }
    if (o->target_mode == GS_NVS_TARGETS_LIST) {
        if (!o->targets || o->n_targets < 1) { st = gs_error(GS_ERR_INVALID, "the target list is empty"); goto done; }
        for (int k = 0; k < o->n_targets; k++) {
            int v = o->targets[k];
            if (v < 0 || v >= n) {
                st = gs_error(GS_ERR_INVALID, "target view %d is out of range (the scene has views 0..%d)", v, n - 1);
                goto done;
            }
            if (role[v] == ROLE_CONTEXT) {
                st = gs_error(GS_ERR_INVALID, "view %d is both a context view and a target", v);
                goto done;
            }
            if (role[v] == ROLE_TARGET) { st = gs_error(GS_ERR_INVALID, "target view %d is listed twice", v); goto done; }
            role[v] = ROLE_TARGET;
        }
    } else if (o->target_mode == GS_NVS_TARGETS_EVERY) {
        if (o->target_every < 1) {
            st = gs_error(GS_ERR_INVALID, "every:%d: the target step must be at least 1", o->target_every);
            goto done;
        }
        for (int v = 0; v < n; v += o->target_every) {
            if (role[v] != ROLE_CONTEXT) role[v] = ROLE_TARGET;
        }
    } else if (o->target_mode != GS_NVS_TARGETS_REST) {
        st = gs_error(GS_ERR_INVALID, "view selection: unknown target mode %d", (int)o->target_mode);
        goto done;
    }
    if (!o->context) {
        int free_views = 0;
        for (int v = 0; v < n; v++) free_views += role[v] == ROLE_FREE;
        int k = o->num_context;
        if (k < 1 || k > free_views) {
            st = gs_error(GS_ERR_INVALID, "cannot choose %d context view%s: %d of the %d views are not targets", k,
                          k == 1 ? "" : "s", free_views, n);
            goto done;
        }
        unsigned char *allowed = gs_malloc((size_t)n, 1, "view selection");
        int *idx = gs_malloc((size_t)k, sizeof *idx, "view selection");
        if (!allowed || !idx) {
            free(allowed);
            free(idx);
            st = GS_ERR_NOMEM;
            goto done;
        }
        for (int v = 0; v < n; v++) allowed[v] = role[v] == ROLE_FREE;
        st = gs_select_views_fps(cams, n, allowed, k, idx);
        if (!st)
            for (int j = 0; j < k; j++) role[idx[j]] = ROLE_CONTEXT;
        free(allowed);
        free(idx);
        if (st) goto done;
    }
    if (o->target_mode == GS_NVS_TARGETS_REST)
        for (int v = 0; v < n; v++)
            if (role[v] == ROLE_FREE) role[v] = ROLE_TARGET;
    for (int v = 0; v < n; v++) {
        if (role[v] == ROLE_CONTEXT) ctx[(*n_ctx)++] = v;
        else if (role[v] == ROLE_TARGET) tgt[(*n_tgt)++] = v;
    }
    if (!*n_tgt) {
        st = gs_error(GS_ERR_INVALID, "no target views: all %d views are context views or none is held out", n);
        goto done;
    }
    if (o->max_targets > 0 && *n_tgt > o->max_targets) {
        /* evenly spaced over the targets, first one included; in place since
         * j * n / m >= j */
        const int m = o->max_targets, all = *n_tgt;
        for (int j = 0; j < m; j++) tgt[j] = tgt[(int)((int64_t)j * all / m)];
        *n_tgt = m;
    }
done:
    free(role);
    if (st) *n_ctx = *n_tgt = 0;
    return st;
}

/* ---- alignment ---------------------------------------------------------------------- */

static void c2w_rot(const gs_camera *c, double Rc[9]) {
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) Rc[3 * a + b] = c->R[3 * b + a];
}

static void mat3_mul(const double A[9], const double B[9], double C[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) C[3 * i + j] = A[3 * i] * B[j] + A[3 * i + 1] * B[3 + j] + A[3 * i + 2] * B[6 + j];
}

/* RMS distance of n points from their mean; mean in m. */
static double spread(const double *C, int n, double m[3]) {
    m[0] = m[1] = m[2] = 0;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < 3; a++) m[a] += C[3 * i + a] / n;
    double s = 0;
    for (int i = 0; i < n; i++)
        for (int a = 0; a < 3; a++) s += (C[3 * i + a] - m[a]) * (C[3 * i + a] - m[a]);
    return sqrt(s / n);
}

static double max_abs(const double *C, int n) {
    double m = 0;
    for (int i = 0; i < 3 * n; i++) m = fmax(m, fabs(C[i]));
    return m;
}

gs_status gs_nvs_align(const gs_camera *gt, const gs_camera *pred, int n, gs_nvs_alignment *out) {
    memset(out, 0, sizeof *out);
    if (!gt || !pred) return gs_error(GS_ERR_INVALID, "alignment: NULL argument");
    if (n < 2 || n > GS_MAX_CAMERAS)
        return gs_error(GS_ERR_INVALID, "alignment needs at least 2 context views (got %d): one camera fixes no scale",
                        n);
    double *Cg = gs_malloc((size_t)n * 6, sizeof(double), "alignment centres");
    if (!Cg) return GS_ERR_NOMEM;
    double *Cp = Cg + 3 * n;
    gs_status st = GS_OK;
    for (int i = 0; i < n; i++) {
        gs_camera_center(&gt[i], Cg + 3 * i);
        gs_camera_center(&pred[i], Cp + 3 * i);
        for (int a = 0; a < 3; a++)
            if (!isfinite(Cg[3 * i + a]) || !isfinite(Cp[3 * i + a])) {
                st = gs_error(GS_ERR_INVALID, "alignment: context camera %d has a non-finite %s centre", i,
                              isfinite(Cg[3 * i + a]) ? "predicted" : "ground-truth");
                goto done;
            }
    }
    double mg[3], mp[3];
    const double sg = spread(Cg, n, mg), sp = spread(Cp, n, mp);
    if (!(sg > 1e-12 * (1.0 + max_abs(Cg, n))) || !(sp > 1e-12 * (1.0 + max_abs(Cp, n)))) {
        st = gs_error(GS_ERR_INVALID,
                      "alignment: the %s camera centres of the %d context views coincide; no Sim(3) can be fitted",
                      sg > 1e-12 * (1.0 + max_abs(Cg, n)) ? "predicted" : "ground-truth", n);
        goto done;
    }
    out->n = n;
    out->spread_gt = sg;
    out->spread_pred = sp;
    gs_align_error ae;
    if (gs_camera_alignment_error(pred, gt, n, 1, &ae) == GS_OK) {
        out->method = GS_NVS_ALIGN_UMEYAMA;
        out->T = ae.T;
    } else {
        /* Two views, or centres on a line: the rotation about that line is
         * free in a centre-only fit, so take the rotation that best carries
         * the ground-truth camera orientations onto the predicted ones. */
        gs_clear_error();
        out->method = GS_NVS_ALIGN_ROTATION;
        double M[9] = {0};
        for (int i = 0; i < n; i++) {
            double Rp[9], Rg[9], RgT[9], P[9];
            c2w_rot(&pred[i], Rp);
            c2w_rot(&gt[i], Rg);
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) RgT[3 * a + b] = Rg[3 * b + a];
            mat3_mul(Rp, RgT, P);
            for (int k = 0; k < 9; k++) M[k] += P[k];
        }
        gs_project_so3(M, out->T.R);
        out->T.s = sp / sg;
        double Rm[3];
        for (int a = 0; a < 3; a++) Rm[a] = out->T.R[3 * a] * mg[0] + out->T.R[3 * a + 1] * mg[1] + out->T.R[3 * a + 2] * mg[2];
        for (int a = 0; a < 3; a++) out->T.t[a] = mp[a] - out->T.s * Rm[a];
    }
    double se = 0, rs = 0;
    for (int i = 0; i < n; i++) {
        double y[3];
        gs_sim3_apply_point(&out->T, Cg + 3 * i, y);
        double e = sqrt((y[0] - Cp[3 * i]) * (y[0] - Cp[3 * i]) + (y[1] - Cp[3 * i + 1]) * (y[1] - Cp[3 * i + 1]) +
                        (y[2] - Cp[3 * i + 2]) * (y[2] - Cp[3 * i + 2]));
        se += e * e;
        out->max_pred = fmax(out->max_pred, e);
        double Rp[9], Rg[9], Ra[9];
        c2w_rot(&pred[i], Rp);
        c2w_rot(&gt[i], Rg);
        mat3_mul(out->T.R, Rg, Ra);
        double ang = gs_rotation_angle_deg(Ra, Rp);
        rs += ang;
        out->rot_max_deg = fmax(out->rot_max_deg, ang);
    }
    out->rmse_pred = sqrt(se / n);
    out->rot_mean_deg = rs / n;
    out->rmse_gt = out->rmse_pred / out->T.s;
    out->max_gt = out->max_pred / out->T.s;
    out->rmse_rel = out->rmse_pred / sp;
done:
    free(Cg);
    return st;
}

/* ---- images for the contact sheet --------------------------------------------------- */

/* Area-average src (w x h x c) into dst (tw x th x c), tw <= w, th <= h. */
static void box_downscale(const float *src, int w, int h, int c, float *dst, int tw, int th) {
    const double sx = (double)w / tw, sy = (double)h / th;
    for (int y = 0; y < th; y++) {
        const double y0 = y * sy, y1 = (y + 1) * sy;
        for (int x = 0; x < tw; x++) {
            const double x0 = x * sx, x1 = (x + 1) * sx;
            double acc[4] = {0, 0, 0, 0}, wsum = 0;
            for (int j = (int)y0; j < h && j < y1; j++) {
                const double wy = fmin(j + 1.0, y1) - fmax((double)j, y0);
                for (int i = (int)x0; i < w && i < x1; i++) {
                    const double wgt = wy * (fmin(i + 1.0, x1) - fmax((double)i, x0));
                    if (wgt <= 0) continue;
                    for (int k = 0; k < c; k++) acc[k] += wgt * src[((size_t)j * w + i) * c + k];
                    wsum += wgt;
                }
            }
            for (int k = 0; k < c; k++) dst[((size_t)y * tw + x) * c + k] = (float)(wsum > 0 ? acc[k] / wsum : 0);
        }
    }
}

typedef struct {
    gs_image im;
    int tw, th;
} contact_sheet;

static gs_status sheet_begin(contact_sheet *cs, int W, int H, int rows, int sheet_width) {
    memset(cs, 0, sizeof *cs);
    int tw = (sheet_width - 4 * NVS_SHEET_GAP) / 3;
    if (tw > W) tw = W;
    if (tw < 8) tw = W < 8 ? W : 8;
    int th = (int)lround((double)H * tw / W);
    if (th < 1) th = 1;
    if (th > H) th = H;
    cs->tw = tw;
    cs->th = th;
    const int64_t sh = (int64_t)rows * th + (int64_t)(rows + 1) * NVS_SHEET_GAP;
    const int sw = 3 * tw + 4 * NVS_SHEET_GAP;
    if (sh > GS_IMAGE_MAX_DIM || sh * sw > GS_IMAGE_MAX_PIXELS)
        return gs_error(GS_ERR_INVALID, "contact sheet: %d rows of %dx%d tiles is too large (use --max-targets or a "
                                        "smaller --sheet-width)", rows, tw, th);
    gs_status st = gs_image_alloc(&cs->im, sw, (int)sh, 3);
    if (st) return st;
    const size_t n = (size_t)sw * (size_t)sh * 3;
    for (size_t i = 0; i < n; i++) cs->im.data[i] = 0.15f;
    return GS_OK;
}

/* Paste a downscaled copy of img (c = 3) into row r, column col. */
static void sheet_paste(contact_sheet *cs, int r, int col, const float *tile) {
    const int x0 = NVS_SHEET_GAP + col * (cs->tw + NVS_SHEET_GAP), y0 = NVS_SHEET_GAP + r * (cs->th + NVS_SHEET_GAP);
    for (int y = 0; y < cs->th; y++)
        memcpy(cs->im.data + (((size_t)(y0 + y) * cs->im.width) + x0) * 3, tile + (size_t)y * cs->tw * 3,
               (size_t)cs->tw * 3 * sizeof(float));
}

/* Ground truth | render | turbo error map (mean absolute error over RGB,
 * 0 .. NVS_ERROR_MAX) for one target. */
static gs_status sheet_row(contact_sheet *cs, int r, const gs_image *gt, const gs_image *pred) {
    const int W = gt->width, H = gt->height;
    const size_t np = (size_t)W * H;
    float *tile = gs_malloc((size_t)cs->tw * cs->th, 3 * sizeof(float), "contact sheet tile");
    float *err = gs_malloc(np, sizeof(float), "error map");
    float *small = gs_malloc((size_t)cs->tw * cs->th, sizeof(float), "error map");
    if (!tile || !err || !small) {
        free(tile);
        free(err);
        free(small);
        return GS_ERR_NOMEM;
    }
    box_downscale(gt->data, W, H, 3, tile, cs->tw, cs->th);
    sheet_paste(cs, r, 0, tile);
    box_downscale(pred->data, W, H, 3, tile, cs->tw, cs->th);
    sheet_paste(cs, r, 1, tile);
    for (size_t i = 0; i < np; i++)
        err[i] = (fabsf(gt->data[3 * i] - pred->data[3 * i]) + fabsf(gt->data[3 * i + 1] - pred->data[3 * i + 1]) +
                  fabsf(gt->data[3 * i + 2] - pred->data[3 * i + 2])) / 3.0f;
    box_downscale(err, W, H, 1, small, cs->tw, cs->th);
    for (size_t i = 0; i < (size_t)cs->tw * cs->th; i++) {
        float t = small[i] / NVS_ERROR_MAX;
        gs_turbo(t < 0 ? 0 : t > 1 ? 1 : t, tile + 3 * i);
    }
    sheet_paste(cs, r, 2, tile);
    free(tile);
    free(err);
    free(small);
    return GS_OK;
}

/* ---- the protocol ------------------------------------------------------------------- */

void gs_nvs_eval_opts_default(gs_nvs_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->bg = GS_NVS_BG_AUTO;
    gs_nvs_split_opts_default(&o->split);
    o->process_res = 504;
    o->ref_strategy = GS_REF_SADDLE_BALANCED;
    gs_eval_options_default(&o->eval);
    o->sheet_width = 1200;
}

void gs_nvs_eval_report_free(gs_nvs_eval_report *r) {
    free(r->context);
    free(r->targets);
    free_strings(r->context_names, r->n_context);
    free(r->pred_context_w2c);
    free(r->pred_context_K);
    for (int i = 0; r->rows && i < r->n_targets; i++) free(r->rows[i].name);
    free(r->rows);
    memset(r, 0, sizeof *r);
}

/* The render clamped to [0,1] (NaN -> 0, as the PNG writer) as an image. */
static gs_status render_image(const gs_raster_out *r, gs_image *im) {
    gs_status st = gs_image_alloc(im, r->width, r->height, 3);
    if (st) return st;
    const size_t n = (size_t)r->width * r->height * 3;
    for (size_t i = 0; i < n; i++) {
        float v = r->rgb[i];
        im->data[i] = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
    }
    im->bit_depth = 32;
    return GS_OK;
}

typedef struct {
    gs_raster_cuda *cuda;
    gs_raster_opts ro;
} renderer;

static gs_status render_view(renderer *rd, const gs_scene *sc, const gs_camera *cam, gs_raster_out *out) {
    if (rd->cuda) return gs_render_cuda(rd->cuda, cam, &rd->ro, out);
    return gs_render_cpu(sc, cam, &rd->ro, out);
}

static double mean_of(const gs_nvs_target_row *rows, int n, size_t off) {
    double s = 0;
    for (int i = 0; i < n; i++) s += *(const double *)((const char *)&rows[i] + off);
    return n ? s / n : NAN;
}

gs_status gs_nvs_evaluate(gs_da3_model *model, const gs_nvs_eval_opts *o_in, gs_nvs_eval_report *out) {
    const double t_start = gs_now();
    memset(out, 0, sizeof *out);
    if (!model || !o_in) return gs_error(GS_ERR_INVALID, "eval-nvs: NULL argument");
    gs_nvs_eval_opts o = *o_in;
    if (!model->cfg.net.has_gs_head)
        return gs_error(GS_ERR_UNSUPPORTED,
                        "model %s has no 3DGS head: novel views need da3-giant or da3nested-giant-large",
                        model->cfg.model_name[0] ? model->cfg.model_name : model->path);
    if (!o.eval.psnr && !o.eval.ssim && !o.eval.lpips) return gs_error(GS_ERR_INVALID, "eval-nvs: no metric selected");
    if (o.sheet_width < 64 || o.sheet_width > 16384)
        return gs_error(GS_ERR_INVALID, "eval-nvs: contact sheet width %d is outside 64..16384", o.sheet_width);
    /* find the LPIPS weights before any expensive work */
    char lpips_path[1024] = "";
    if (o.eval.lpips) {
        gs_status st = GS_OK;
        if (o.eval.lpips_weights) {
            if (!is_file(o.eval.lpips_weights))
                return gs_error(GS_ERR_IO, "%s: LPIPS weights file not found", o.eval.lpips_weights);
            snprintf(lpips_path, sizeof lpips_path, "%s", o.eval.lpips_weights);
        } else if ((st = gs_lpips_find_weights(o.eval.lpips_net, lpips_path, sizeof lpips_path))) {
            return st;
        }
        o.eval.lpips_weights = lpips_path;
    }

    gs_nvs_scene sc;
    gs_status st = gs_nvs_scene_load(o.cameras_path, o.images_dir, o.llff_factor, o.bg, &sc);
    if (st) return st;
    const int n = sc.cams.n;
    gs_image *ctx_img = NULL;
    float *uw2c = NULL, *uK = NULL;
    gs_camera *gt_ctx = NULL, *pred_ctx = NULL, *aligned = NULL;
    gs_da3_prediction p;
    memset(&p, 0, sizeof p);
    gs_scene gsc;
    memset(&gsc, 0, sizeof gsc);
    renderer rd;
    memset(&rd, 0, sizeof rd);
    contact_sheet cs;
    memset(&cs, 0, sizeof cs);
    gs_image *gts = NULL, *preds = NULL;
    gs_progress pb;
    int pb_on = 0;

    snprintf(out->model, sizeof out->model, "%s", model->path);
    gs_da3_describe(model, out->model_desc, sizeof out->model_desc);
    snprintf(out->cameras, sizeof out->cameras, "%s", o.cameras_path);
    snprintf(out->camera_format, sizeof out->camera_format, "%s", gs_camera_format_name(sc.format));
    snprintf(out->images_dir, sizeof out->images_dir, "%s", sc.images_dir);
    snprintf(out->pairing, sizeof out->pairing, "%s", sc.pairing);
    out->n_views = n;
    out->width = sc.width;
    out->height = sc.height;
    memcpy(out->bg, sc.bg, sizeof out->bg);
    out->posed = o.posed;
    out->process_res = o.process_res;
    out->ref_index = -1;
    out->metric_psnr = o.eval.psnr != 0;
    out->metric_ssim = o.eval.ssim != 0;
    out->metric_lpips = o.eval.lpips != 0;
    out->error_map_max = NVS_ERROR_MAX;
    out->mean_psnr = out->mean_ssim = out->mean_lpips = NAN;
    out->t_scene = gs_now() - t_start;
    say(&o, "%d views of %dx%d (%s, images %s in %s), background %s", n, sc.width, sc.height, out->camera_format,
        sc.pairing, sc.images_dir[0] ? sc.images_dir : ".", sc.bg[0] > 0.5f ? "white" : "black");

    /* split */
    out->context = gs_malloc((size_t)n, sizeof(int), "context views");
    out->targets = gs_malloc((size_t)n, sizeof(int), "target views");
    if (!out->context || !out->targets) { st = GS_ERR_NOMEM; goto done; }
    if ((st = gs_nvs_select_views(sc.cams.cams, n, &o.split, out->context, &out->n_context, out->targets,
                                  &out->n_targets)))
        goto done;
    {
        /* the count before --max-targets, for the report */
        gs_nvs_split_opts so = o.split;
        so.max_targets = 0;
        int *c2 = gs_malloc((size_t)n * 2, sizeof(int), "views");
        int a, b;
        if (!c2) { st = GS_ERR_NOMEM; goto done; }
        st = gs_nvs_select_views(sc.cams.cams, n, &so, c2, &a, c2 + n, &b);
        out->n_targets_before_cap = b;
        free(c2);
        if (st) goto done;
    }
    snprintf(out->context_mode, sizeof out->context_mode, "%s", o.split.context ? "list" : "fps");
    if (o.split.target_mode == GS_NVS_TARGETS_EVERY)
        snprintf(out->target_mode, sizeof out->target_mode, "every:%d", o.split.target_every);
    else
        snprintf(out->target_mode, sizeof out->target_mode, "%s",
                 o.split.target_mode == GS_NVS_TARGETS_LIST ? "list" : "rest");
    const int S = out->n_context, NT = out->n_targets;
    if (S < 2) {
        st = gs_error(GS_ERR_INVALID, "the protocol needs at least 2 context views to fit the alignment (got %d)", S);
        goto done;
    }
    out->context_names = gs_calloc((size_t)S, sizeof(char *), "context names");
    out->rows = gs_calloc((size_t)NT, sizeof *out->rows, "target rows");
    if (!out->context_names || !out->rows) { st = GS_ERR_NOMEM; goto done; }
    for (int i = 0; i < S; i++)
        if (!(out->context_names[i] = strdup(sc.names[out->context[i]]))) { st = gs_error(GS_ERR_NOMEM, "out of memory"); goto done; }
    for (int j = 0; j < NT; j++) {
        out->rows[j].index = out->targets[j];
        out->rows[j].psnr = out->rows[j].ssim = out->rows[j].lpips = NAN;
        if (!(out->rows[j].name = strdup(sc.names[out->targets[j]]))) { st = gs_error(GS_ERR_NOMEM, "out of memory"); goto done; }
    }
    {
        char list[512] = "";
        size_t len = 0;
        for (int i = 0; i < S && len + 1 < sizeof list; i++) {
            int k = snprintf(list + len, sizeof list - len, "%s%d", i ? "," : "", out->context[i]);
            if (k < 0) break;
            len += (size_t)k;
        }
        char how[64] = "";
        if (!o.split.context) snprintf(how, sizeof how, ", farthest-point sampling from view %d", out->context[0]);
        say(&o, "context (%s%s): %d view%s [%s]; targets (%s): %d%s", out->context_mode, how, S, S == 1 ? "" : "s", list,
            out->target_mode, NT, NT < out->n_targets_before_cap ? " (capped)" : "");
    }

    /* the network on the context views */
    double t0 = gs_now();
    ctx_img = gs_calloc((size_t)S, sizeof *ctx_img, "context images");
    if (!ctx_img) { st = GS_ERR_NOMEM; goto done; }
    for (int i = 0; i < S; i++)
        if ((st = gs_nvs_scene_image(&sc, out->context[i], &ctx_img[i]))) goto done;
    gt_ctx = gs_calloc((size_t)S, sizeof *gt_ctx, "context cameras");
    pred_ctx = gs_calloc((size_t)S, sizeof *pred_ctx, "context cameras");
    if (!gt_ctx || !pred_ctx) { st = GS_ERR_NOMEM; goto done; }
    for (int i = 0; i < S; i++) gt_ctx[i] = sc.cams.cams[out->context[i]];
    if (o.posed) {
        uw2c = gs_malloc((size_t)S * 16, sizeof(float), "context cameras");
        uK = gs_calloc((size_t)S * 9, sizeof(float), "context cameras");
        if (!uw2c || !uK) { st = GS_ERR_NOMEM; goto done; }
        for (int i = 0; i < S; i++) gs_camera_to_w2c_K(&gt_ctx[i], uw2c + 16 * i, uK + 9 * i);
    }
    out->t_images = gs_now() - t0;
    gs_da3_options dop;
    gs_da3_options_default(&dop);
    dop.process_res = o.process_res;
    dop.ref_strategy = o.ref_strategy;
    dop.infer_gs = 1;
    dop.quiet = o.quiet;
    say(&o, "running %s on %d context view%s%s", model->cfg.model_name, S, S == 1 ? "" : "s",
        o.posed ? " with their ground-truth cameras" : "");
    t0 = gs_now();
    if ((st = gs_da3_infer(model, ctx_img, S, uw2c, uK, &dop, &p))) goto done;
    out->t_network = gs_now() - t0;
    out->t_preprocess = p.t_preprocess;
    out->t_backbone = p.t_backbone;
    out->t_head = p.t_head;
    out->t_cameras = p.t_cameras;
    out->t_gaussians = p.t_gs;
    if (!p.gs_extrinsics || !p.gs_intrinsics || p.gaussians.n < 1) {
        st = gs_error(GS_ERR_INVALID, "eval-nvs: the network returned no Gaussians");
        goto done;
    }
    out->net_width = p.W;
    out->net_height = p.H;
    out->ref_index = p.ref_index;
    out->n_gaussians = p.gaussians.n;
    out->pose_scale = p.gaussians.pose_scale;
    out->pose_scale_raw = p.gaussians.pose_scale_raw;
    out->pred_context_w2c = gs_malloc((size_t)S * 12, sizeof(float), "predicted cameras");
    out->pred_context_K = gs_malloc((size_t)S * 9, sizeof(float), "predicted cameras");
    if (!out->pred_context_w2c || !out->pred_context_K) { st = GS_ERR_NOMEM; goto done; }
    memcpy(out->pred_context_w2c, p.gs_extrinsics, (size_t)S * 12 * sizeof(float));
    memcpy(out->pred_context_K, p.gs_intrinsics, (size_t)S * 9 * sizeof(float));
    say(&o, "%lld Gaussians at %dx%d (network %.2f s: preprocess %.0f ms, backbone %.0f ms, heads %.0f ms, cameras "
            "%.0f ms, Gaussians %.0f ms)",
        (long long)p.gaussians.n, p.W, p.H, out->t_network, p.t_preprocess * 1e3, p.t_backbone * 1e3, p.t_head * 1e3,
        p.t_cameras * 1e3, p.t_gs * 1e3);
    if (o.posed && p.gaussians.pose_scale != p.gaussians.pose_scale_raw)
        say(&o, "warning: the pose-conditioned scale %.4g was clamped to %.4g (DA3 clamps it to [1/3, 3])",
            p.gaussians.pose_scale_raw, p.gaussians.pose_scale);
    for (int i = 0; i < S; i++) gs_camera_from_w2c_K(&pred_ctx[i], p.gs_extrinsics + 12 * i, p.gs_intrinsics + 9 * i, p.W, p.H);

    /* alignment: ground truth -> the Gaussians' frame */
    t0 = gs_now();
    if ((st = gs_nvs_align(gt_ctx, pred_ctx, S, &out->align))) goto done;
    aligned = gs_malloc((size_t)n, sizeof *aligned, "aligned cameras");
    if (!aligned) { st = GS_ERR_NOMEM; goto done; }
    memcpy(aligned, sc.cams.cams, (size_t)n * sizeof *aligned);
    gs_cameras_apply_sim3(aligned, n, &out->align.T);
    out->t_align = gs_now() - t0;
    say(&o, "alignment (%s on %d context centres): scale %.4g, centre RMSE %.4g (ground-truth units; %.3g of the "
            "predicted context spread), rotation error mean %.3g deg, max %.3g deg",
        out->align.method == GS_NVS_ALIGN_UMEYAMA ? "Umeyama Sim(3)" : "rotation + spread Sim(3)", S, out->align.T.s,
        out->align.rmse_gt, out->align.rmse_rel, out->align.rot_mean_deg, out->align.rot_max_deg);

    /* render and score the targets */
    if ((st = gs_gaussians_to_scene(&p.gaussians, GS_GS_SH_DEGREE, &gsc))) goto done;
    gs_da3_prediction_free(&p);
    for (int i = 0; i < S; i++) gs_image_free(&ctx_img[i]);
    gs_raster_opts_default(&rd.ro);
    memcpy(rd.ro.bg, sc.bg, sizeof rd.ro.bg);
    o.eval.device = gs_device_resolve(o.eval.device);
    snprintf(out->render_device, sizeof out->render_device, "cpu (%d threads)", gs_num_threads());
    if (o.eval.device == GS_DEVICE_CUDA) {
        if (gs_raster_cuda_new(&rd.cuda) == GS_OK && gs_raster_cuda_set_scene(rd.cuda, &gsc) == GS_OK) {
            snprintf(out->render_device, sizeof out->render_device, "cuda");
        } else {
            say(&o, "note: CUDA rasterizer unavailable (%s); rendering on the CPU", gs_last_error());
            gs_raster_cuda_free(rd.cuda);
            rd.cuda = NULL;
            gs_clear_error();
        }
    }
    char rdir[1100] = "";
    if (o.out_dir) {
        if ((st = gs_mkdirs(gs_path_join(rdir, sizeof rdir, o.out_dir, "renders")))) goto done;
        if ((st = sheet_begin(&cs, sc.width, sc.height, NT, o.sheet_width))) goto done;
    }
    gts = gs_calloc(NVS_GROUP, sizeof *gts, "ground truth");
    preds = gs_calloc(NVS_GROUP, sizeof *preds, "renders");
    if (!gts || !preds) { st = GS_ERR_NOMEM; goto done; }
    gs_progress_begin(&pb, "render+score", NT, o.quiet);
    pb_on = 1;
    for (int g0 = 0; g0 < NT && !st; g0 += NVS_GROUP) {
        const int gn = NT - g0 < NVS_GROUP ? NT - g0 : NVS_GROUP;
        const char *names[NVS_GROUP];
        for (int k = 0; k < gn && !st; k++) {
            const int j = g0 + k, v = out->targets[j];
            names[k] = out->rows[j].name;
            gs_raster_out r;
            memset(&r, 0, sizeof r);
            double t1 = gs_now();
            st = render_view(&rd, &gsc, &aligned[v], &r);
            out->t_render += gs_now() - t1;
            if (st) { gs_error_prefix(st, "rendering target %s", out->rows[j].name); break; }
            st = render_image(&r, &preds[k]);
            gs_raster_out_free(&r);
            if (!st) st = gs_nvs_scene_image(&sc, v, &gts[k]);
            t1 = gs_now();
            if (!st && o.out_dir) {
                char fn[400], path[1600];
                snprintf(fn, sizeof fn, "%s.png", out->rows[j].name);
                st = gs_image_write_png(gs_path_join(path, sizeof path, rdir, fn), &preds[k], 8);
                if (!st) st = sheet_row(&cs, j, &gts[k], &preds[k]);
            }
            out->t_outputs += gs_now() - t1;
        }
        if (!st) {
            gs_eval_report er;
            double t1 = gs_now();
            st = gs_eval_images(preds, gts, names, gn, &o.eval, &er);
            out->t_metrics += gs_now() - t1;
            if (!st) {
                for (int k = 0; k < gn; k++) {
                    out->rows[g0 + k].psnr = er.rows[k].psnr;
                    out->rows[g0 + k].ssim = er.rows[k].ssim;
                    out->rows[g0 + k].lpips = er.rows[k].lpips;
                }
                snprintf(out->ssim_label, sizeof out->ssim_label, "%s", er.ssim_label);
                snprintf(out->lpips_label, sizeof out->lpips_label, "%s", er.lpips_label);
                snprintf(out->lpips_weights, sizeof out->lpips_weights, "%s", er.lpips_weights);
                snprintf(out->metrics_device, sizeof out->metrics_device, "%s", er.device);
                gs_eval_report_free(&er);
            }
        }
        for (int k = 0; k < gn; k++) {
            gs_image_free(&gts[k]);
            gs_image_free(&preds[k]);
        }
        gs_progress_update(&pb, g0 + gn);
    }
    if (st) goto done;
    if (out->metric_psnr) out->mean_psnr = mean_of(out->rows, NT, offsetof(gs_nvs_target_row, psnr));
    if (out->metric_ssim) out->mean_ssim = mean_of(out->rows, NT, offsetof(gs_nvs_target_row, ssim));
    if (out->metric_lpips) out->mean_lpips = mean_of(out->rows, NT, offsetof(gs_nvs_target_row, lpips));
    if (o.out_dir) {
        char path[1100];
        double t1 = gs_now();
        st = gs_image_write_png(gs_path_join(path, sizeof path, o.out_dir, "contact_sheet.png"), &cs.im, 8);
        out->t_outputs += gs_now() - t1;
    }
done:
    if (pb_on) gs_progress_end(&pb);
    for (int i = 0; ctx_img && i < out->n_context; i++) gs_image_free(&ctx_img[i]);
    free(ctx_img);
    free(uw2c);
    free(uK);
    free(gt_ctx);
    free(pred_ctx);
    free(aligned);
    free(gts);
    free(preds);
    gs_image_free(&cs.im);
    gs_raster_cuda_free(rd.cuda);
    gs_scene_free(&gsc);
    gs_da3_prediction_free(&p);
    gs_nvs_scene_free(&sc);
    if (st) gs_nvs_eval_report_free(out);
    else out->t_total = gs_now() - t_start;
    return st;
}

/* ---- JSON --------------------------------------------------------------------------- */

static cJSON *num_or_null(double v) {
    if (isnan(v)) return cJSON_CreateNull();
    if (isinf(v)) return cJSON_CreateString(v > 0 ? "inf" : "-inf");
    return cJSON_CreateNumber(v);
}

static cJSON *int_array(const int *v, int n) { return cJSON_CreateIntArray(v, n); }

static cJSON *mat_rows(const double *M, int rows, int cols) {
    cJSON *a = cJSON_CreateArray();
    for (int r = 0; a && r < rows; r++) cJSON_AddItemToArray(a, cJSON_CreateDoubleArray(M + r * cols, cols));
    return a;
}

gs_status gs_nvs_write_json(const gs_nvs_eval_report *r, const char *path) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return gs_error(GS_ERR_NOMEM, "%s: out of memory building JSON", path);
    cJSON_AddStringToObject(root, "format", "gs-eval-nvs");
    cJSON_AddNumberToObject(root, "version", 1);
    cJSON_AddStringToObject(root, "model", r->model);
    cJSON_AddStringToObject(root, "model_desc", r->model_desc);
    cJSON *sc = cJSON_AddObjectToObject(root, "scene");
    if (sc) {
        cJSON_AddStringToObject(sc, "cameras", r->cameras);
        cJSON_AddStringToObject(sc, "camera_format", r->camera_format);
        cJSON_AddStringToObject(sc, "images", r->images_dir);
        cJSON_AddStringToObject(sc, "pairing", r->pairing);
        cJSON_AddNumberToObject(sc, "views", r->n_views);
        cJSON_AddNumberToObject(sc, "width", r->width);
        cJSON_AddNumberToObject(sc, "height", r->height);
        cJSON_AddItemToObject(sc, "background", cJSON_CreateFloatArray(r->bg, 3));
    }
    cJSON *net = cJSON_AddObjectToObject(root, "network");
    if (net) {
        cJSON_AddBoolToObject(net, "posed", r->posed);
        cJSON_AddNumberToObject(net, "process_res", r->process_res);
        cJSON_AddNumberToObject(net, "input_width", r->net_width);
        cJSON_AddNumberToObject(net, "input_height", r->net_height);
        cJSON_AddNumberToObject(net, "reference_view", r->ref_index >= 0 && r->ref_index < r->n_context
                                                           ? r->context[r->ref_index] : -1);
        cJSON_AddNumberToObject(net, "gaussians", (double)r->n_gaussians);
        cJSON_AddNumberToObject(net, "pose_scale", r->pose_scale);
        cJSON_AddNumberToObject(net, "pose_scale_unclamped", r->pose_scale_raw);
    }
    cJSON *ctx = cJSON_AddObjectToObject(root, "context");
    if (ctx) {
        cJSON_AddStringToObject(ctx, "selection", r->context_mode);
        if (!strcmp(r->context_mode, "fps"))
            cJSON_AddStringToObject(ctx, "fps", "farthest-point sampling of camera centres, starting at the first "
                                                "candidate view");
        cJSON_AddItemToObject(ctx, "indices", int_array(r->context, r->n_context));
        cJSON_AddItemToObject(ctx, "names", cJSON_CreateStringArray((const char *const *)r->context_names, r->n_context));
        cJSON *pc = cJSON_AddArrayToObject(ctx, "predicted_cameras");
        for (int i = 0; pc && i < r->n_context; i++) {
            cJSON *c = cJSON_CreateObject();
            if (!c) break;
            double E[12], K[9];
            for (int k = 0; k < 12; k++) E[k] = r->pred_context_w2c[12 * i + k];
            for (int k = 0; k < 9; k++) K[k] = r->pred_context_K[9 * i + k];
            cJSON_AddItemToObject(c, "w2c", mat_rows(E, 3, 4));
            cJSON_AddItemToObject(c, "K", mat_rows(K, 3, 3));
            cJSON_AddItemToArray(pc, c);
        }
    }
    cJSON *tg = cJSON_AddObjectToObject(root, "targets");
    if (tg) {
        cJSON_AddStringToObject(tg, "selection", r->target_mode);
        cJSON_AddNumberToObject(tg, "count", r->n_targets);
        cJSON_AddNumberToObject(tg, "count_before_cap", r->n_targets_before_cap);
        cJSON_AddItemToObject(tg, "indices", int_array(r->targets, r->n_targets));
    }
    cJSON *al = cJSON_AddObjectToObject(root, "alignment");
    if (al) {
        const gs_nvs_alignment *a = &r->align;
        cJSON_AddStringToObject(al, "fit", "Sim(3) from the ground-truth context camera centres to the predicted "
                                           "ones (the Gaussians' frame): x_pred = s R x_gt + t");
        cJSON_AddStringToObject(al, "method", a->method == GS_NVS_ALIGN_UMEYAMA ? "umeyama" : "rotation+spread");
        cJSON_AddNumberToObject(al, "scale", a->T.s);
        cJSON_AddItemToObject(al, "R", mat_rows(a->T.R, 3, 3));
        cJSON_AddItemToObject(al, "t", cJSON_CreateDoubleArray(a->T.t, 3));
        cJSON_AddItemToObject(al, "centre_rmse_gt", num_or_null(a->rmse_gt));
        cJSON_AddItemToObject(al, "centre_max_gt", num_or_null(a->max_gt));
        cJSON_AddItemToObject(al, "centre_rmse_pred", num_or_null(a->rmse_pred));
        cJSON_AddItemToObject(al, "centre_max_pred", num_or_null(a->max_pred));
        cJSON_AddItemToObject(al, "context_spread_gt", num_or_null(a->spread_gt));
        cJSON_AddItemToObject(al, "context_spread_pred", num_or_null(a->spread_pred));
        cJSON_AddItemToObject(al, "centre_rmse_relative", num_or_null(a->rmse_rel));
        cJSON_AddItemToObject(al, "rotation_mean_deg", num_or_null(a->rot_mean_deg));
        cJSON_AddItemToObject(al, "rotation_max_deg", num_or_null(a->rot_max_deg));
    }
    cJSON *m = cJSON_AddObjectToObject(root, "metrics");
    if (m) {
        cJSON_AddStringToObject(m, "device", r->metrics_device);
        cJSON_AddStringToObject(m, "aggregation", "mean over targets of per-image values; renders clamped to [0,1], "
                                                  "scored as floats");
        if (r->metric_psnr) cJSON_AddItemToObject(m, "psnr", num_or_null(r->mean_psnr));
        if (r->metric_ssim) {
            cJSON_AddItemToObject(m, "ssim", num_or_null(r->mean_ssim));
            cJSON_AddStringToObject(m, "ssim_variant", r->ssim_label);
        }
        if (r->metric_lpips) {
            cJSON_AddItemToObject(m, "lpips", num_or_null(r->mean_lpips));
            cJSON_AddStringToObject(m, "lpips_variant", r->lpips_label);
            cJSON_AddStringToObject(m, "lpips_weights", r->lpips_weights);
        }
    }
    cJSON *pt = cJSON_AddArrayToObject(root, "per_target");
    for (int i = 0; pt && i < r->n_targets; i++) {
        cJSON *t = cJSON_CreateObject();
        if (!t) break;
        const gs_nvs_target_row *w = &r->rows[i];
        char rp[400];
        snprintf(rp, sizeof rp, "renders/%s.png", w->name);
        cJSON_AddNumberToObject(t, "index", w->index);
        cJSON_AddStringToObject(t, "name", w->name);
        cJSON_AddStringToObject(t, "render", rp);
        if (r->metric_psnr) cJSON_AddItemToObject(t, "psnr", num_or_null(w->psnr));
        if (r->metric_ssim) cJSON_AddItemToObject(t, "ssim", num_or_null(w->ssim));
        if (r->metric_lpips) cJSON_AddItemToObject(t, "lpips", num_or_null(w->lpips));
        cJSON_AddItemToArray(pt, t);
    }
    cJSON *out = cJSON_AddObjectToObject(root, "outputs");
    if (out) {
        cJSON_AddStringToObject(out, "render_device", r->render_device);
        cJSON_AddStringToObject(out, "contact_sheet", "contact_sheet.png: per target, ground truth | render | "
                                                      "turbo map of the mean absolute RGB error");
        cJSON_AddNumberToObject(out, "error_map_max", r->error_map_max);
    }
    cJSON *tm = cJSON_AddObjectToObject(root, "timings_s");
    if (tm) {
        const struct { const char *k; double v; } t[] = {
            {"scene", r->t_scene},         {"context_images", r->t_images}, {"network", r->t_network},
            {"preprocess", r->t_preprocess}, {"backbone", r->t_backbone}, {"heads", r->t_head},
            {"cameras", r->t_cameras},     {"gaussians", r->t_gaussians},   {"alignment", r->t_align},
            {"render", r->t_render},       {"metrics", r->t_metrics},       {"outputs", r->t_outputs},
            {"total", r->t_total}};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) cJSON_AddNumberToObject(tm, t[i].k, t[i].v);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return gs_error(GS_ERR_NOMEM, "%s: out of memory printing JSON", path);
    size_t len = strlen(text);
    text[len] = '\n';
    gs_status s = gs_write_file_atomic(path, text, len + 1);
    free(text);
    return s;
}
