/* test_align.c - 3x3 SVD, Umeyama (evo semantics), DA3 pose alignment with
 * RANSAC, Sim(3) on cameras and scenes, SH rotation exactness, camera
 * alignment errors and farthest-point view selection. */
#include "tests/test.h"
#include "data/align.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 0x1234567ull;
static double urand(void) { /* [0,1) */
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}
static double nrand(void) { /* roughly normal */
    double s = 0;
    for (int i = 0; i < 12; i++) s += urand();
    return s - 6;
}
static void rand_rot(double R[9]) {
    double q[4] = {nrand(), nrand(), nrand(), nrand()};
    gs_quat_to_rotmat(q, R);
}
static void mat_mul(const double A[9], const double B[9], double C[9]) {
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) C[i * 3 + j] = A[i * 3] * B[j] + A[i * 3 + 1] * B[3 + j] + A[i * 3 + 2] * B[6 + j];
}
static double det3(const double A[9]) {
    return A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) + A[2] * (A[3] * A[7] - A[4] * A[6]);
}
static double orth_err(const double A[9]) { /* max |A^T A - I| */
    double e = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double s = A[i] * A[j] + A[3 + i] * A[3 + j] + A[6 + i] * A[6 + j] - (i == j);
            if (fabs(s) > e) e = fabs(s);
        }
    return e;
}
static double max_diff(const double *a, const double *b, int n) {
    double e = 0;
    for (int i = 0; i < n; i++)
        if (fabs(a[i] - b[i]) > e) e = fabs(a[i] - b[i]);
    return e;
}
/* camera with camera-to-world rotation Rc and centre C */
static void make_cam(gs_camera *c, const double Rc[9], const double C[3]) {
    memset(c, 0, sizeof *c);
    double M[16] = {Rc[0], Rc[1], Rc[2], C[0], Rc[3], Rc[4], Rc[5], C[1], Rc[6], Rc[7], Rc[8], C[2], 0, 0, 0, 1};
    gs_camera_set_c2w(c, M);
    c->fx = c->fy = 100;
    c->cx = 32;
    c->cy = 24;
    c->width = 64;
    c->height = 48;
    c->has_pose = 1;
}

TEST(svd3_reconstructs_and_is_orthonormal) {
    for (int trial = 0; trial < 200; trial++) {
        double A[9], U[9], S[3], V[9];
        for (int k = 0; k < 9; k++) A[k] = nrand() * (trial % 7 == 0 ? 1e6 : 1);
        if (trial % 5 == 1) /* rank 2 */
            for (int k = 0; k < 3; k++) A[6 + k] = 2 * A[k] - A[3 + k];
        if (trial % 5 == 2) /* rank 1 */
            for (int k = 0; k < 3; k++) A[3 + k] = -3 * A[k], A[6 + k] = 0.5 * A[k];
        gs_svd3(A, U, S, V);
        CHECK(S[0] >= S[1] && S[1] >= S[2] && S[2] >= 0);
        CHECK_NEAR(orth_err(U), 0, 1e-13);
        CHECK_NEAR(orth_err(V), 0, 1e-13);
        double B[9], scale = fabs(S[0]) + 1e-300;
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                B[i * 3 + j] = U[i * 3] * S[0] * V[j * 3] + U[i * 3 + 1] * S[1] * V[j * 3 + 1] + U[i * 3 + 2] * S[2] * V[j * 3 + 2];
        CHECK_NEAR(max_diff(A, B, 9) / scale, 0, 1e-13);
        if (trial % 5 == 1) CHECK_NEAR(S[2] / scale, 0, 1e-14);
        if (trial % 5 == 2) CHECK_NEAR(S[1] / scale, 0, 1e-14);
    }
    /* known singular values: diag(3, -5, 2) -> 5, 3, 2 */
    double A[9] = {3, 0, 0, 0, -5, 0, 0, 0, 2}, U[9], S[3], V[9];
    gs_svd3(A, U, S, V);
    CHECK_NEAR(S[0], 5, 1e-15);
    CHECK_NEAR(S[1], 3, 1e-15);
    CHECK_NEAR(S[2], 2, 1e-15);
    double Z[9] = {0};
    gs_svd3(Z, U, S, V);
    CHECK(S[0] == 0 && orth_err(U) < 1e-15 && orth_err(V) < 1e-15);
}

TEST(umeyama_recovers_known_sim3) {
    for (int trial = 0; trial < 20; trial++) {
        gs_sim3 T;
        rand_rot(T.R);
        T.s = 0.05 + 20 * urand();
        for (int k = 0; k < 3; k++) T.t[k] = 10 * nrand();
        int n = 3 + trial;
        double x[3 * 23], y[3 * 23];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 3; k++) x[3 * i + k] = 3 * nrand();
            gs_sim3_apply_point(&T, x + 3 * i, y + 3 * i);
        }
        gs_sim3 E;
        CHECK_OK(gs_umeyama(x, y, n, 1, &E));
        CHECK_NEAR(E.s, T.s, 1e-9 * T.s);
        CHECK_NEAR(max_diff(E.R, T.R, 9), 0, 1e-9);
        CHECK_NEAR(max_diff(E.t, T.t, 3), 0, 1e-9 * (1 + T.s));
        CHECK_NEAR(det3(E.R), 1, 1e-12);
        double s2;
        CHECK_OK(gs_umeyama_scale(x, y, n, &s2));
        CHECK_NEAR(s2, T.s, 1e-9 * T.s);
        /* without scale: s stays 1 and R is still the true rotation */
        CHECK_OK(gs_umeyama(x, y, n, 0, &E));
        CHECK_EQ_INT(E.s == 1.0, 1);
        CHECK_NEAR(max_diff(E.R, T.R, 9), 0, 1e-9);
        /* inverse maps back */
        gs_sim3 I;
        gs_sim3_inverse(&T, &I);
        double back[3];
        gs_sim3_apply_point(&I, y, back);
        CHECK_NEAR(max_diff(back, x, 3), 0, 1e-9);
    }
}

TEST(umeyama_reflection_is_fixed_to_a_rotation) {
    /* x: +-a e_x, +-b e_y, +-c e_z (a > b > c); y = mirror(z) x. The best proper
     * rotation is I and evo's scale is (a^2 + b^2 - c^2) / (a^2 + b^2 + c^2). */
    double a = 3, b = 2, c = 1;
    double x[18] = {a, 0, 0, -a, 0, 0, 0, b, 0, 0, -b, 0, 0, 0, c, 0, 0, -c}, y[18];
    for (int i = 0; i < 6; i++) {
        y[3 * i] = x[3 * i] + 5;
        y[3 * i + 1] = x[3 * i + 1] - 1;
        y[3 * i + 2] = -x[3 * i + 2] + 2;
    }
    gs_sim3 E;
    CHECK_OK(gs_umeyama(x, y, 6, 1, &E));
    double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK_NEAR(max_diff(E.R, I, 9), 0, 1e-12);
    CHECK_NEAR(E.s, (a * a + b * b - c * c) / (a * a + b * b + c * c), 1e-12);
    CHECK_NEAR(E.t[0], 5, 1e-12);
    CHECK_NEAR(E.t[1], -1, 1e-12);
    CHECK_NEAR(E.t[2], 2, 1e-12);
}

TEST(umeyama_degenerate_inputs_fail_clearly) {
    double x[12] = {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}, y[12] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
    gs_sim3 E;
    double s;
    CHECK_ERR(gs_umeyama(x, y, 4, 1, &E), "degenerate");     /* all source centres equal */
    CHECK_ERR(gs_umeyama(y, x, 4, 1, &E), "degenerate");     /* all target centres equal */
    CHECK_ERR(gs_umeyama_scale(x, y, 4, &s), "degenerate");
    double line[12] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 5, 5, 5};
    CHECK_ERR(gs_umeyama(line, line, 4, 1, &E), "collinear");
    CHECK_ERR(gs_umeyama(x, y, 0, 1, &E), "at least one");
    double bad[6] = {0, NAN, 0, 1, 1, 1};
    CHECK_ERR(gs_umeyama(bad, line, 2, 1, &E), "non-finite");
    /* two views: no rotation, but the scale is the ratio of the baselines */
    double p2[6] = {0, 0, 0, 1, 2, 2}, q2[6] = {5, 5, 5, 5, 11, 5};
    CHECK_ERR(gs_umeyama(p2, q2, 2, 1, &E), "degenerate");
    CHECK_OK(gs_umeyama_scale(p2, q2, 2, &s));
    CHECK_NEAR(s, 2.0, 1e-12);
}

static void make_traj(gs_camera *ref, int n) {
    for (int i = 0; i < n; i++) {
        double Rc[9], C[3] = {3 * cos(0.5 * i), 0.3 * nrand(), 3 * sin(0.5 * i) + 0.1 * i};
        rand_rot(Rc);
        make_cam(&ref[i], Rc, C);
    }
}

TEST(align_poses_recovers_sim3_with_and_without_ransac) {
    enum { N = 14 };
    gs_camera ref[N], est[N];
    make_traj(ref, N);
    gs_sim3 T, Ti;
    rand_rot(T.R);
    T.s = 0.37;
    T.t[0] = 1, T.t[1] = -2, T.t[2] = 0.5;
    gs_sim3_inverse(&T, &Ti);
    memcpy(est, ref, sizeof ref);
    gs_cameras_apply_sim3(est, N, &Ti); /* est = T^-1(ref): aligning est onto ref gives T */
    for (int mode = 0; mode < 2; mode++) {
        gs_pose_align_opts o = {mode, 0, 0, 0, 0};
        gs_sim3 E;
        CHECK_OK(gs_align_poses_umeyama(ref, est, N, &o, &E));
        CHECK_NEAR(E.s, T.s, 1e-9);
        CHECK_NEAR(max_diff(E.R, T.R, 9), 0, 1e-9);
        CHECK_NEAR(max_diff(E.t, T.t, 3), 0, 1e-9);
    }
    /* two gross outliers: plain Umeyama is pulled off, RANSAC refits on the
     * inliers and is exact again; the result is deterministic */
    est[3].t[0] += 40;
    est[9].t[2] -= 25;
    gs_pose_align_opts plain = {0, 0, 0, 0, 0}, auto_ = {-1, 0, 0, 0, 0};
    gs_sim3 E0, E1, E2;
    CHECK_OK(gs_align_poses_umeyama(ref, est, N, &plain, &E0));
    CHECK(fabs(E0.s - T.s) > 1e-3);
    CHECK_OK(gs_align_poses_umeyama(ref, est, N, &auto_, &E1)); /* N >= 10: RANSAC */
    CHECK_NEAR(E1.s, T.s, 1e-9);
    CHECK_NEAR(max_diff(E1.R, T.R, 9), 0, 1e-9);
    CHECK_NEAR(max_diff(E1.t, T.t, 3), 0, 1e-9);
    CHECK_OK(gs_align_poses_umeyama(ref, est, N, NULL, &E2));
    CHECK(memcmp(&E1, &E2, sizeof E1) == 0);
    /* errors */
    CHECK_ERR(gs_align_poses_umeyama(ref, est, 0, NULL, &E0), "view count");
    gs_camera badc[3];
    memcpy(badc, ref, sizeof badc);
    badc[1].t[1] = NAN;
    CHECK_ERR(gs_align_poses_umeyama(badc, est, 3, NULL, &E0), "camera 1");
    gs_camera same[4];
    for (int i = 0; i < 4; i++) same[i] = ref[0];
    CHECK_ERR(gs_align_poses_umeyama(same, est, 4, NULL, &E0), "degenerate");
}

TEST(sim3_on_cameras_keeps_pixels) {
    gs_camera cam[3];
    make_traj(cam, 3);
    gs_sim3 T;
    rand_rot(T.R);
    T.s = 2.5;
    T.t[0] = 0.3, T.t[1] = 4, T.t[2] = -1;
    for (int i = 0; i < 3; i++) {
        double C[3], X[3], Xc[3], uv[2], uv2[2], z, z2, Y[3];
        gs_camera_center(&cam[i], C);
        /* a point in front of the camera: centre + 2 * optical axis (row 2 of R) + offset */
        for (int k = 0; k < 3; k++) X[k] = C[k] + 2 * cam[i].R[6 + k] + 0.2 * cam[i].R[k];
        CHECK(gs_camera_project(&cam[i], X, uv, &z));
        gs_camera moved = cam[i];
        gs_cameras_apply_sim3(&moved, 1, &T);
        gs_sim3_apply_point(&T, X, Y);
        CHECK(gs_camera_project(&moved, Y, uv2, &z2));
        CHECK_NEAR(uv2[0], uv[0], 1e-9);
        CHECK_NEAR(uv2[1], uv[1], 1e-9);
        CHECK_NEAR(z2, T.s * z, 1e-9);
        gs_camera_center(&moved, Xc);
        gs_sim3_apply_point(&T, C, Y);
        CHECK_NEAR(max_diff(Xc, Y, 3), 0, 1e-12);
        CHECK_NEAR(orth_err(moved.R), 0, 1e-13);
    }
}

TEST(sim3_on_scene_moves_gaussians_consistently) {
    gs_scene sc;
    CHECK_OK(gs_scene_alloc(&sc, 2, 3));
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 3; k++) sc.means[3 * i + k] = (float)nrand(), sc.scales[3 * i + k] = (float)(0.1 + urand());
        double q[4] = {nrand(), nrand(), nrand(), nrand()}, nq = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        for (int k = 0; k < 4; k++) sc.rotations[4 * i + k] = (float)(q[k] / nq);
        for (int k = 0; k < 48; k++) sc.sh[48 * i + k] = (float)(0.3 * nrand());
        sc.opacities[i] = 0.6f;
    }
    gs_scene orig;
    CHECK_OK(gs_scene_alloc(&orig, 2, 3));
    memcpy(orig.means, sc.means, 6 * sizeof(float));
    memcpy(orig.scales, sc.scales, 6 * sizeof(float));
    memcpy(orig.rotations, sc.rotations, 8 * sizeof(float));
    memcpy(orig.sh, sc.sh, 96 * sizeof(float));
    gs_sim3 T;
    rand_rot(T.R);
    T.s = 1.7;
    T.t[0] = -1, T.t[1] = 0.5, T.t[2] = 2;
    CHECK_OK(gs_scene_apply_sim3(&sc, &T));
    for (int i = 0; i < 2; i++) {
        double m[3] = {orig.means[3 * i], orig.means[3 * i + 1], orig.means[3 * i + 2]}, y[3];
        gs_sim3_apply_point(&T, m, y);
        for (int k = 0; k < 3; k++) {
            CHECK_NEAR(sc.means[3 * i + k], y[k], 1e-5);
            CHECK_NEAR(sc.scales[3 * i + k], orig.scales[3 * i + k] * T.s, 1e-6);
        }
        /* covariance: Rn = T.R * R0 (axes carried along) */
        double q0[4], q1[4], R0[9], R1[9], Rexp[9];
        for (int k = 0; k < 4; k++) q0[k] = orig.rotations[4 * i + k], q1[k] = sc.rotations[4 * i + k];
        gs_quat_to_rotmat(q0, R0);
        gs_quat_to_rotmat(q1, R1);
        mat_mul(T.R, R0, Rexp);
        CHECK_NEAR(max_diff(R1, Rexp, 9), 0, 1e-6);
        /* colour seen along R d after == colour along d before, for every band */
        for (int t = 0; t < 5; t++) {
            double d[3] = {nrand(), nrand(), nrand()}, n = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]), rd[3], Y0[16],
                   Y1[16];
            for (int k = 0; k < 3; k++) d[k] /= n;
            for (int k = 0; k < 3; k++) rd[k] = T.R[k * 3] * d[0] + T.R[k * 3 + 1] * d[1] + T.R[k * 3 + 2] * d[2];
            gs_sh_basis(3, d, Y0);
            gs_sh_basis(3, rd, Y1);
            for (int c = 0; c < 3; c++) {
                double f0 = 0, f1 = 0;
                for (int k = 0; k < 16; k++) {
                    f0 += Y0[k] * orig.sh[48 * i + 3 * k + c];
                    f1 += Y1[k] * sc.sh[48 * i + 3 * k + c];
                }
                CHECK_NEAR(f1, f0, 1e-5);
            }
        }
    }
    T.s = 0;
    CHECK_ERR(gs_scene_apply_sim3(&sc, &T), "scale");
    gs_scene_free(&sc);
    gs_scene_free(&orig);
}

TEST(sh_rotation_is_exact_in_3dgs_basis) {
    double worst = 0, worst_orth = 0;
    for (int trial = 0; trial < 50; trial++) {
        double R[9];
        rand_rot(R);
        gs_sh_rot rot;
        gs_sh_rotation(R, 3, &rot);
        float f[16], g[16];
        for (int k = 0; k < 16; k++) f[k] = g[k] = (float)nrand();
        gs_sh_rotate(&rot, 3, g, 1);
        CHECK_NEAR(g[0], f[0], 0); /* DC untouched */
        for (int t = 0; t < 20; t++) {
            double d[3] = {nrand(), nrand(), nrand()}, n = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]), rtd[3];
            for (int k = 0; k < 3; k++) d[k] /= n;
            for (int k = 0; k < 3; k++) rtd[k] = R[k] * d[0] + R[3 + k] * d[1] + R[6 + k] * d[2]; /* R^T d */
            double Yd[16], Yr[16];
            gs_sh_basis(3, d, Yd);
            gs_sh_basis(3, rtd, Yr);
            /* per band, with the float coefficients as given: f_world(d) = f_cam(R^T d) */
            for (int l = 1; l <= 3; l++) {
                const double *D = rot.D + l * (4 * l * l - 1) / 3;
                int m = 2 * l + 1, off = l * l;
                double fw = 0, fc = 0;
                for (int k = 0; k < m; k++) {
                    double gk = 0;
                    for (int j = 0; j < m; j++) gk += D[k * m + j] * f[off + j];
                    fw += gk * Yd[off + k];
                    fc += f[off + k] * Yr[off + k];
                }
                if (fabs(fw - fc) > worst) worst = fabs(fw - fc);
            }
        }
        /* each band's matrix is orthogonal (orthonormal real basis) */
        for (int l = 1; l <= 3; l++) {
            const double *D = rot.D + l * (4 * l * l - 1) / 3;
            int m = 2 * l + 1;
            for (int a = 0; a < m; a++)
                for (int b = 0; b < m; b++) {
                    double s = 0;
                    for (int k = 0; k < m; k++) s += D[a * m + k] * D[b * m + k];
                    if (fabs(s - (a == b)) > worst_orth) worst_orth = fabs(s - (a == b));
                }
        }
    }
    CHECK_NEAR(worst, 0, 1e-12);
    CHECK_NEAR(worst_orth, 0, 1e-12);
    /* a hand case: 90 degrees about z maps x -> y. The l=1 coefficients
     * (-y, z, -x) of the field f(d) = d.x (coeffs (0,0,-1/C1)) become d.y. */
    double Rz[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1};
    gs_sh_rot rot;
    gs_sh_rotation(Rz, 1, &rot);
    float c[4] = {0, 0, 0, -1};
    gs_sh_rotate(&rot, 1, c, 1);
    CHECK_NEAR(c[1], -1, 1e-7);
    CHECK_NEAR(c[2], 0, 1e-7);
    CHECK_NEAR(c[3], 0, 1e-7);
}

TEST(camera_alignment_error_reports_rmse_and_rotation) {
    enum { N = 6 };
    gs_camera ref[N], est[N];
    make_traj(ref, N);
    gs_sim3 T, Ti;
    rand_rot(T.R);
    T.s = 3;
    T.t[0] = T.t[1] = T.t[2] = 1;
    gs_sim3_inverse(&T, &Ti);
    memcpy(est, ref, sizeof ref);
    gs_cameras_apply_sim3(est, N, &Ti);
    gs_align_error e;
    CHECK_OK(gs_camera_alignment_error(ref, est, N, 1, &e));
    CHECK_NEAR(e.rmse, 0, 1e-9);
    CHECK_NEAR(e.max_rot_deg, 0, 1e-6);
    CHECK_NEAR(e.T.s, 3, 1e-9);
    /* rotate camera 2 by 10 degrees about its own axis: centres unchanged, so
     * the alignment is unchanged and the rotation error is exactly 10 */
    double a = 10 * M_PI / 180, Rz[9] = {cos(a), -sin(a), 0, sin(a), cos(a), 0, 0, 0, 1}, Rn[9];
    mat_mul(Rz, est[2].R, Rn); /* w2c rotation: camera frame rotated */
    double C[3];
    gs_camera_center(&est[2], C);
    memcpy(est[2].R, Rn, sizeof Rn);
    for (int k = 0; k < 3; k++) est[2].t[k] = -(Rn[k * 3] * C[0] + Rn[k * 3 + 1] * C[1] + Rn[k * 3 + 2] * C[2]);
    CHECK_OK(gs_camera_alignment_error(ref, est, N, 1, &e));
    CHECK_NEAR(e.max_rot_deg, 10, 1e-7);
    CHECK_NEAR(e.mean_rot_deg, 10.0 / N, 1e-7);
    /* move one centre by 0.6 (in est units = 1.8 in ref units, spread over the fit) */
    est[4].t[0] += 0.6;
    CHECK_OK(gs_camera_alignment_error(ref, est, N, 1, &e));
    CHECK(e.rmse > 0.1 && e.max_err >= e.rmse && e.max_err < 1.8);
    CHECK_ERR(gs_camera_alignment_error(ref, est, 2, 1, &e), "degenerate");
}

TEST(fps_view_selection_known_layout) {
    enum { N = 10 };
    gs_camera cams[N];
    double I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    for (int i = 0; i < N; i++) {
        double C[3] = {i, 0, 0};
        make_cam(&cams[i], I, C);
    }
    int idx[N];
    CHECK_OK(gs_select_views_fps(cams, N, NULL, 3, idx)); /* 0, then 9, then 4 (tie 4/5: lower) */
    CHECK_EQ_INT(idx[0], 0);
    CHECK_EQ_INT(idx[1], 4);
    CHECK_EQ_INT(idx[2], 9);
    CHECK_OK(gs_select_views_fps(cams, N, NULL, 5, idx)); /* + 2 (min 2 to {0,4}), then 6 (tie 6/7 -> 6) */
    int want[5] = {0, 2, 4, 6, 9};
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(idx[i], want[i]);
    unsigned char allowed[N] = {0, 1, 1, 1, 1, 1, 1, 1, 0, 1};
    CHECK_OK(gs_select_views_fps(cams, N, allowed, 3, idx)); /* start 1, then 9, then 5 */
    CHECK_EQ_INT(idx[0], 1);
    CHECK_EQ_INT(idx[1], 5);
    CHECK_EQ_INT(idx[2], 9);
    CHECK_OK(gs_select_views_fps(cams, N, NULL, N, idx));
    for (int i = 0; i < N; i++) CHECK_EQ_INT(idx[i], i);
    CHECK_ERR(gs_select_views_fps(cams, N, allowed, 9, idx), "cannot pick 9");
    CHECK_ERR(gs_select_views_fps(cams, N, NULL, 0, idx), "cannot pick 0");
    cams[3].t[2] = INFINITY;
    CHECK_ERR(gs_select_views_fps(cams, N, NULL, 2, idx), "camera 3");
}

TEST(rotation_angle_and_projection) {
    double a = 0.3, R1[9] = {1, 0, 0, 0, cos(a), -sin(a), 0, sin(a), cos(a)}, I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK_NEAR(gs_rotation_angle_deg(I, R1), 0.3 * 180 / M_PI, 1e-12);
    double Rf[9] = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
    CHECK_NEAR(gs_rotation_angle_deg(I, Rf), 180, 1e-9);
    /* projection of a scaled, slightly sheared rotation gives the rotation back */
    double M[9], P[9];
    for (int k = 0; k < 9; k++) M[k] = 2 * R1[k] + (k == 1 ? 1e-3 : 0);
    gs_project_so3(M, P);
    CHECK_NEAR(max_diff(P, R1, 9), 0, 1e-3);
    CHECK_NEAR(det3(P), 1, 1e-12);
    CHECK_NEAR(orth_err(P), 0, 1e-13);
}
