/* align.c - the alignment stage of `gs eval-nvs` (eval_nvs.h): a Sim(3)
 * from the ground-truth context camera centres to the predicted ones (the
 * Gaussians' frame), Umeyama with scale (data/align.h) or, for degenerate
 * centres, rotation from the camera orientations and scale from the centre
 * spreads; its residuals; every ground-truth camera carried into that frame. */
#include "gs/nvs/nvs_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The camera-to-world rotation (R^T of the w2c). */
static void c2w_rot(const gs_camera *c, double Rc[9]) {
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) Rc[3 * a + b] = c->R[3 * b + a];
}

/* C = A B, 3x3 row-major. */
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

/* The largest |coordinate| of n points. */
static double max_abs(const double *C, int n) {
    double m = 0;
    for (int i = 0; i < 3 * n; i++) m = fmax(m, fabs(C[i]));
    return m;
}

/* The camera centres of both sides, all finite. */
static gs_status centres(const gs_camera *gt, const gs_camera *pred, int n, double *Cg, double *Cp) {
    for (int i = 0; i < n; i++) {
        gs_camera_center(&gt[i], Cg + 3 * i);
        gs_camera_center(&pred[i], Cp + 3 * i);
        for (int a = 0; a < 3; a++)
            if (!isfinite(Cg[3 * i + a]) || !isfinite(Cp[3 * i + a]))
                return gs_error(GS_ERR_INVALID, "alignment: context camera %d has a non-finite %s centre", i,
                                isfinite(Cg[3 * i + a]) ? "predicted" : "ground-truth");
    }
    return GS_OK;
}

/* Two views, or centres on a line: the rotation about that line is free in a
 * centre-only fit, so take the rotation that best carries the ground-truth
 * camera orientations onto the predicted ones, the scale from the spreads
 * and the translation from the means. */
static void fit_rotation_spread(const gs_camera *gt, const gs_camera *pred, int n, const double mg[3], double sg,
                                const double mp[3], double sp, gs_sim3 *T) {
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
    gs_project_so3(M, T->R);
    T->s = sp / sg;
    double Rm[3];
    for (int a = 0; a < 3; a++) Rm[a] = T->R[3 * a] * mg[0] + T->R[3 * a + 1] * mg[1] + T->R[3 * a + 2] * mg[2];
    for (int a = 0; a < 3; a++) T->t[a] = mp[a] - T->s * Rm[a];
}

/* Centre and rotation residuals of out->T over the n views. */
static void residuals(const gs_camera *gt, const gs_camera *pred, int n, const double *Cg, const double *Cp,
                      gs_nvs_alignment *out) {
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
    out->rmse_rel = out->rmse_pred / out->spread_pred;
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
    gs_status st = centres(gt, pred, n, Cg, Cp);
    if (st) goto done;
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
        gs_clear_error();
        out->method = GS_NVS_ALIGN_ROTATION;
        fit_rotation_spread(gt, pred, n, mg, sg, mp, sp, &out->T);
    }
    residuals(gt, pred, n, Cg, Cp, out);
done:
    free(Cg);
    return st;
}

/* ---- the alignment stage of gs_nvs_evaluate ------------------------------------------ */

gs_status nvs_align_views(nvs_run *r) {
    gs_nvs_eval_report *out = r->out;
    const int S = out->n_context, n = r->sc.cams.n;
    const double t0 = gs_now();
    gs_status st = gs_nvs_align(r->gt_ctx, r->pred_ctx, S, &out->align);
    if (st) return st;
    r->aligned = gs_malloc((size_t)n, sizeof *r->aligned, "aligned cameras");
    if (!r->aligned) return GS_ERR_NOMEM;
    memcpy(r->aligned, r->sc.cams.cams, (size_t)n * sizeof *r->aligned);
    gs_cameras_apply_sim3(r->aligned, n, &out->align.T);
    out->t_align = gs_now() - t0;
    const gs_nvs_alignment *a = &out->align;
    nvs_say(&r->o,
            "alignment (%s on %d context centres): scale %.4g, centre RMSE %.4g (ground-truth units; %.3g of the "
            "predicted context spread), rotation error mean %.3g deg, max %.3g deg",
            a->method == GS_NVS_ALIGN_UMEYAMA ? "Umeyama Sim(3)" : "rotation + spread Sim(3)", S, a->T.s, a->rmse_gt,
            a->rmse_rel, a->rot_mean_deg, a->rot_max_deg);
    return GS_OK;
}
