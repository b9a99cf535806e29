/* eval_scene.c - `gs eval --scene`: render a splat scene at every camera of a
 * held-out split and score the renders against that split's images, so that
 * a splat file and a test split give a paper-style table.
 *
 * The renders use the background the ground truth is composited over (NeRF
 * synthetic: white), are clamped to [0,1] as trainers do before scoring, and
 * optionally rounded to 8 bits (what scoring saved PNGs, as 3DGS's metrics.py
 * does, amounts to). Pairing is by camera name, or by order for unnamed LLFF
 * cameras; everything is paired and checked before the first render. */
#include "eval/eval_internal.h"
#include "raster/raster.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gs_eval_scene_options_default(gs_eval_scene_options *o) {
    memset(o, 0, sizeof *o);
    o->sh_degree = -1;
}

/* "./test/r_0" -> "r_0" */
static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static size_t stem_len(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && dot != name ? (size_t)(dot - name) : strlen(name);
}

/* Ground-truth file of camera name `cam` (already without directories):
 * the same name, else the file whose stem is the whole camera name
 * ("r_0" -> r_0.png), else the file with the same stem ("r_0.jpg" ->
 * r_0.png). -1 none, -2 several files fit. */
static int find_gt(const gs_name_list *gts, const char *cam) {
    for (int i = 0; i < gts->n; i++)
        if (!strcmp(gts->names[i], cam)) return i;
    const size_t lc = strlen(cam);
    int hit = -1, n_hit = 0;
    for (int i = 0; i < gts->n; i++)
        if (stem_len(gts->names[i]) == lc && !strncmp(gts->names[i], cam, lc)) hit = i, n_hit++;
    if (n_hit) return n_hit > 1 ? -2 : hit;
    for (int i = 0; i < gts->n; i++)
        if (gs_eval_same_stem(gts->names[i], cam)) hit = i, n_hit++;
    return n_hit > 1 ? -2 : hit;
}

/* The render as an image: clamped to [0,1], optionally rounded to 8 bits the
 * way gs_image_write_png rounds and gs_image_read decodes. */
static void render_to_image(const gs_raster_out *r, int quantize8, gs_image *im) {
    const size_t n = (size_t)r->width * r->height * 3;
    for (size_t i = 0; i < n; i++) {
        float v = r->rgb[i];
        v = v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f; /* NaN -> 0, as the PNG writer does */
        if (quantize8) v = floorf(v * 255.0f + 0.5f) / 255.0f;
        im->data[i] = v;
    }
}

/* Pair cameras with ground-truth files: pair[i] is the file index of camera
 * i or -1. Sets the report's pairing fields. */
static gs_status pair_cameras(const gs_cameras *cams, const gs_name_list *gts, const char *gt_dir, int allow_missing,
                              int *pair, gs_eval_report *r) {
    int named = 0;
    for (int i = 0; i < cams->n; i++) named += cams->cams[i].name[0] != 0;
    if (!named) {
        if (gts->n != cams->n)
            return gs_error(GS_ERR_INVALID,
                            "the %d cameras have no names and %s holds %d image%s: unnamed cameras (LLFF "
                            "poses_bounds.npy) are paired with the sorted images in order, which needs exactly one "
                            "image per camera",
                            cams->n, gt_dir, gts->n, gts->n == 1 ? "" : "s");
        for (int i = 0; i < cams->n; i++) pair[i] = i;
        snprintf(r->pairing, sizeof r->pairing, "by order (unnamed cameras, sorted images)");
        return GS_OK;
    }
    snprintf(r->pairing, sizeof r->pairing, "by name");
    char *used = gs_calloc((size_t)gts->n, 1, "eval pairing");
    if (!used) return GS_ERR_NOMEM;
    char ambiguous[512] = "", twice[512] = "";
    int n_ambiguous = 0, n_twice = 0;
    for (int i = 0; i < cams->n; i++) {
        char label[300];
        const char *name = base_name(cams->cams[i].name);
        if (!cams->cams[i].name[0]) snprintf(label, sizeof label, "camera %d (no name)", i);
        else snprintf(label, sizeof label, "%s", name);
        pair[i] = cams->cams[i].name[0] ? find_gt(gts, name) : -1;
        if (pair[i] == -2) {
            gs_eval_append_name(ambiguous, sizeof ambiguous, &n_ambiguous, label);
            pair[i] = -1;
            continue;
        }
        if (pair[i] < 0) {
            gs_eval_append_name(r->cameras_without_gt, sizeof r->cameras_without_gt, &r->n_cameras_without_gt, label);
        } else if (used[pair[i]]) {
            gs_eval_append_name(twice, sizeof twice, &n_twice, gts->names[pair[i]]);
        } else {
            used[pair[i]] = 1;
        }
    }
    for (int i = 0; i < gts->n; i++)
        if (!used[i]) gs_eval_append_name(r->gt_without_camera, sizeof r->gt_without_camera, &r->n_gt_without_camera,
                                          gts->names[i]);
    free(used);
    if (n_ambiguous)
        return gs_error(GS_ERR_INVALID, "%d %s several images of %s by name stem: %s%s", n_ambiguous,
                        n_ambiguous == 1 ? "camera matches" : "cameras match", gt_dir, ambiguous,
                        n_ambiguous > 4 ? ", ..." : "");
    if (n_twice)
        return gs_error(GS_ERR_INVALID, "several cameras share the ground-truth image%s %s%s (duplicate camera names)",
                        n_twice == 1 ? "" : "s", twice, n_twice > 4 ? ", ..." : "");
    const int n_missing = r->n_cameras_without_gt;
    if (n_missing && !allow_missing)
        return gs_error(GS_ERR_NOT_FOUND,
                        "%d of %d camera%s without a ground-truth image in %s: %s%s (--skip-missing scores the "
                        "others)%s%s%s",
                        n_missing, cams->n, cams->n == 1 ? "" : "s", gt_dir, r->cameras_without_gt,
                        n_missing > 4 ? ", ..." : "", r->n_gt_without_camera ? "; images no camera names: " : "",
                        r->n_gt_without_camera ? r->gt_without_camera : "", r->n_gt_without_camera > 4 ? ", ..." : "");
    if (n_missing == cams->n)
        return gs_error(GS_ERR_NOT_FOUND, "no camera has a ground-truth image in %s", gt_dir);
    return GS_OK;
}

gs_status gs_eval_scene(const gs_scene *scene, const gs_cameras *cams, const char *gt_dir, const gs_eval_options *opt,
                        const gs_eval_scene_options *so_in, gs_eval_report *out) {
    const double t0 = gs_now();
    memset(out, 0, sizeof *out);
    gs_eval_scene_options so;
    if (so_in) so = *so_in;
    else gs_eval_scene_options_default(&so);
    if (!scene || !cams || !gt_dir || !opt) return gs_error(GS_ERR_INVALID, "eval scene: missing argument");
    if (cams->n < 1) return gs_error(GS_ERR_INVALID, "eval scene: no cameras");
    for (int c = 0; c < 3; c++)
        if (!isfinite(opt->bg[c])) return gs_error(GS_ERR_INVALID, "eval scene: background is not finite");
    gs_name_list gts;
    gs_status s = gs_eval_list_images(gt_dir, &gts);
    if (s) return s;
    gs_eval_report hdr; /* pairing results, copied into *out once begun */
    memset(&hdr, 0, sizeof hdr);
    int *pair = gs_malloc((size_t)cams->n, sizeof *pair, "eval pairing");
    if (!pair) s = GS_ERR_NOMEM;
    if (!s) s = pair_cameras(cams, &gts, gt_dir, so.allow_missing_gt, pair, &hdr);
    /* every camera to render needs a pose; check before any work */
    for (int i = 0; i < cams->n && !s; i++)
        if (pair[i] >= 0 && !cams->cams[i].has_pose)
            s = gs_error(GS_ERR_INVALID, "camera %d (%s) has intrinsics only (no pose); nothing to render from", i,
                         cams->cams[i].name[0] ? cams->cams[i].name : "unnamed");
    if (!s && so.save_dir) s = gs_mkdirs(so.save_dir);
    gs_eval_session ses = {0};
    if (!s) s = gs_eval_begin(opt, out, &ses);
    int n_rows = 0;
    if (!s) {
        snprintf(out->pairing, sizeof out->pairing, "%s", hdr.pairing);
        out->n_cameras_without_gt = hdr.n_cameras_without_gt;
        out->n_gt_without_camera = hdr.n_gt_without_camera;
        memcpy(out->cameras_without_gt, hdr.cameras_without_gt, sizeof out->cameras_without_gt);
        memcpy(out->gt_without_camera, hdr.gt_without_camera, sizeof out->gt_without_camera);
        out->scene_mode = 1;
        snprintf(out->pred_dir, sizeof out->pred_dir, "%s", so.scene_name ? so.scene_name : "");
        snprintf(out->gt_dir, sizeof out->gt_dir, "%s", gt_dir);
        for (int i = 0; i < cams->n; i++) n_rows += pair[i] >= 0;
        out->rows = gs_calloc((size_t)n_rows, sizeof *out->rows, "eval rows");
        if (!out->rows) s = GS_ERR_NOMEM;
    }
    /* render where the metrics run: the CUDA rasterizer keeps the scene on the device */
    gs_raster_cuda *rcu = NULL;
    if (!s && out->opt.device == GS_DEVICE_CUDA) {
        s = gs_raster_cuda_new(&rcu);
        if (!s) s = gs_raster_cuda_set_scene(rcu, scene);
    }
    if (!s) snprintf(out->render_device, sizeof out->render_device, "%s", rcu ? "cuda" : "cpu");
    gs_raster_opts ro;
    gs_raster_opts_default(&ro);
    memcpy(ro.bg, opt->bg, sizeof ro.bg);
    ro.sh_degree = so.sh_degree;
    ro.antialiased = so.antialiased || scene->antialiased;
    int done = 0;
    for (int i = 0; i < cams->n && !s; i++) {
        if (pair[i] < 0) continue;
        const gs_camera *cam = &cams->cams[i];
        const char *gname = gts.names[pair[i]];
        char gp[4096];
        gs_path_join(gp, sizeof gp, gt_dir, gname);
        gs_eval_row *row = &out->rows[out->n];
        row->name = strdup(gname);
        if (!row->name) {
            s = gs_error(GS_ERR_NOMEM, "eval: out of memory");
            break;
        }
        out->n++;
        gs_image gt = {0}, pred = {0};
        gs_raster_out r = {0};
        int gw = 0, gh = 0;
        s = gs_eval_check_image_size(gp, "--gt", opt, &gw, &gh);
        if (!s && (gw != cam->width || gh != cam->height))
            s = gs_error(GS_ERR_INVALID,
                         "camera %d (%s) is %dx%d but its ground truth %s is %dx%d (use the matching image folder, "
                         "or --llff-factor for LLFF poses)",
                         i, cam->name[0] ? base_name(cam->name) : "unnamed", cam->width, cam->height, gname, gw, gh);
        if (!s) s = gs_image_read(gp, &gt);
        if (!s && (gt.width != gw || gt.height != gh))
            s = gs_error(GS_ERR_FORMAT, "%s: decoded to %dx%d, its header says %dx%d", gp, gt.width, gt.height, gw, gh);
        if (!s) {
            const double t1 = gs_now();
            s = rcu ? gs_render_cuda(rcu, cam, &ro, &r) : gs_render_cpu(scene, cam, &ro, &r);
            out->render_seconds += gs_now() - t1;
            if (s) gs_error_prefix(s, "%s", gname);
        }
        if (!s) s = gs_image_alloc(&pred, r.width, r.height, 3);
        if (!s) {
            render_to_image(&r, so.quantize8, &pred);
            pred.bit_depth = so.quantize8 ? 8 : 32;
        }
        if (!s && so.save_dir) {
            char fn[600], sp[4096];
            snprintf(fn, sizeof fn, "%.*s.png", (int)stem_len(gname), gname);
            s = gs_image_write_png(gs_path_join(sp, sizeof sp, so.save_dir, fn), &pred, 8);
        }
        if (!s) s = gs_eval_score_pair(&ses, &pred, &gt, gname, opt, row);
        gs_image_free(&gt);
        gs_image_free(&pred);
        gs_raster_out_free(&r);
        done++;
        if (so.progress) so.progress(so.progress_user, done, n_rows);
    }
    gs_raster_cuda_free(rcu);
    gs_eval_end(&ses);
    free(pair);
    gs_eval_names_free(&gts);
    if (s) {
        gs_eval_report_free(out);
        return s;
    }
    gs_eval_finish(out, t0);
    return GS_OK;
}
