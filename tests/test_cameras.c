/* test_cameras.c - camera conventions checked numerically against real data
 * (NeRF lego, LLFF fern + its COLMAP points), format round trips (our JSON,
 * COLMAP text/binary), quaternions, and bad input for every reader. */
#include "tests/test.h"
#include "data/cameras.h"
#include "data/image.h"
#include "data/npy.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

/* ---- helpers ------------------------------------------------------------------- */

typedef struct {
    uint8_t *d;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->d = realloc(b->d, b->cap);
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }
static void put_i32(bytes *b, int32_t v) { put(b, &v, 4); }
static void put_f64(bytes *b, double v) { put(b, &v, 8); }

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static double urand(void) { /* xorshift, [0,1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Every random point near the origin must project to the same pixel (or be
 * behind both cameras). Returns the largest pixel difference. */
static double max_projection_diff(const gs_camera *a, const gs_camera *b, double box) {
    double worst = 0;
    for (int k = 0; k < 200; k++) {
        double X[3] = {box * (2 * urand() - 1), box * (2 * urand() - 1), box * (2 * urand() - 1)};
        double ua[2], ub[2], da, db;
        int fa = gs_camera_project(a, X, ua, &da), fb = gs_camera_project(b, X, ub, &db);
        if (fa != fb) return INFINITY;
        if (!fa) continue;
        worst = fmax(worst, fmax(fabs(ua[0] - ub[0]), fabs(ua[1] - ub[1])));
        worst = fmax(worst, fabs(da - db));
    }
    return worst;
}

static void write_text_file(const char *path, const char *s) { CHECK_OK(gs_write_file_atomic(path, s, strlen(s))); }

static gs_camera make_cam(double yaw, const double C[3], int w, int h, double f) {
    /* camera at C looking along a direction in the xz plane (yaw), y down */
    gs_camera c;
    memset(&c, 0, sizeof c);
    double cy = cos(yaw), sy = sin(yaw);
    double c2w[16] = {cy, 0, sy, C[0], 0, 1, 0, C[1], -sy, 0, cy, C[2], 0, 0, 0, 1};
    gs_camera_set_c2w(&c, c2w);
    c.width = w;
    c.height = h;
    c.fx = f;
    c.fy = f * 1.01;
    c.cx = w * 0.5 + 3.25;
    c.cy = h * 0.5 - 1.5;
    c.has_pose = 1;
    return c;
}

/* ---- quaternions and geometry ------------------------------------------------ */

TEST(cameras_quaternion_known_rotations) {
    const double s = sqrt(0.5);
    struct {
        double q[4];
        double R[9];
    } cases[] = {
        {{s, s, 0, 0}, {1, 0, 0, 0, 0, -1, 0, 1, 0}},  /* +90 deg about x */
        {{s, 0, s, 0}, {0, 0, 1, 0, 1, 0, -1, 0, 0}},  /* +90 deg about y */
        {{s, 0, 0, s}, {0, -1, 0, 1, 0, 0, 0, 0, 1}},  /* +90 deg about z */
        {{0, 1, 0, 0}, {1, 0, 0, 0, -1, 0, 0, 0, -1}}, /* 180 about x: w = 0, x branch */
        {{0, 0, 1, 0}, {-1, 0, 0, 0, 1, 0, 0, 0, -1}}, /* 180 about y: y branch */
        {{0, 0, 0, 1}, {-1, 0, 0, 0, -1, 0, 0, 0, 1}}, /* 180 about z: z branch */
        {{0, s, s, 0}, {0, 1, 0, 1, 0, 0, 0, 0, -1}},  /* 180 about (x+y)/sqrt2: R00 == R11 tie */
        {{1, 0, 0, 0}, {1, 0, 0, 0, 1, 0, 0, 0, 1}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double R[9], q[4];
        gs_quat_to_rotmat(cases[k].q, R);
        for (int i = 0; i < 9; i++) CHECK_NEAR(R[i], cases[k].R[i], 1e-15);
        gs_rotmat_to_quat(cases[k].R, q);
        for (int i = 0; i < 4; i++) CHECK_NEAR(q[i], cases[k].q[i], 1e-15);
    }
    /* the rotation acts as expected: +90 about z turns x into y */
    double R[9];
    gs_quat_to_rotmat(cases[2].q, R);
    CHECK_NEAR(R[0] * 1 + R[1] * 0, 0, 1e-15);
    CHECK_NEAR(R[3] * 1, 1, 1e-15);
    /* non-unit quaternions are normalised; the sign is canonical (w >= 0) */
    double q2[4] = {2 * s, 2 * s, 0, 0}, Rq[9], qq[4];
    gs_quat_to_rotmat(q2, Rq);
    CHECK_NEAR(Rq[5], -1, 1e-15);
    double qneg[4] = {-0.5, -0.5, 0.5, -0.5};
    gs_quat_to_rotmat(qneg, Rq);
    gs_rotmat_to_quat(Rq, qq);
    CHECK_NEAR(qq[0], 0.5, 1e-15);
    CHECK_NEAR(qq[1], 0.5, 1e-15);
    CHECK_NEAR(qq[2], -0.5, 1e-15);
    CHECK_NEAR(qq[3], 0.5, 1e-15);
    /* random rotations, including near-180-degree ones, round-trip in every branch */
    int branch_hits[4] = {0};
    for (int k = 0; k < 4000; k++) {
        double q[4] = {2 * urand() - 1, 2 * urand() - 1, 2 * urand() - 1, 2 * urand() - 1};
        if (k % 4 == 1) q[0] *= 1e-9; /* angle ~ 180 degrees */
        double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        for (int i = 0; i < 4; i++) q[i] /= n;
        if (q[0] < 0)
            for (int i = 0; i < 4; i++) q[i] = -q[i];
        double Rk[9], back[4], R2[9];
        gs_quat_to_rotmat(q, Rk);
        gs_rotmat_to_quat(Rk, back);
        gs_quat_to_rotmat(back, R2);
        double err = 0;
        for (int i = 0; i < 9; i++) err = fmax(err, fabs(Rk[i] - R2[i]));
        CHECK_MSG(err < 1e-14, "rotation round trip error %g", err);
        /* quaternion equal up to sign (only ambiguous when w ~ 0) */
        double dot = 0;
        for (int i = 0; i < 4; i++) dot += q[i] * back[i];
        CHECK_NEAR(fabs(dot), 1, 1e-13);
        double tr = Rk[0] + Rk[4] + Rk[8];
        int b = tr > Rk[0] && tr > Rk[4] && tr > Rk[8] ? 0 : Rk[0] >= Rk[4] && Rk[0] >= Rk[8] ? 1 : Rk[4] >= Rk[8] ? 2 : 3;
        branch_hits[b]++;
    }
    for (int b = 0; b < 4; b++) CHECK_MSG(branch_hits[b] > 100, "branch %d hit %d times", b, branch_hits[b]);
}

TEST(cameras_geometry_project_and_c2w) {
    const double C[3] = {1, -2, 3};
    gs_camera c = make_cam(M_PI / 2, C, 640, 480, 500);
    /* yaw 90 deg: the camera looks along world +x; its right (+x_cam) is world -z */
    double Cc[3];
    gs_camera_center(&c, Cc);
    for (int i = 0; i < 3; i++) CHECK_NEAR(Cc[i], C[i], 1e-15);
    double uv[2], d;
    double ahead[3] = {C[0] + 5, C[1], C[2]};
    CHECK(gs_camera_project(&c, ahead, uv, &d) == 1);
    CHECK_NEAR(uv[0], c.cx, 1e-12);
    CHECK_NEAR(uv[1], c.cy, 1e-12);
    CHECK_NEAR(d, 5, 1e-12);
    double right[3] = {C[0] + 5, C[1], C[2] - 1}; /* 1 unit to the right at depth 5 */
    CHECK(gs_camera_project(&c, right, uv, &d) == 1);
    CHECK_NEAR(uv[0], c.cx + 500.0 / 5, 1e-12);
    double below[3] = {C[0] + 5, C[1] + 1, C[2]}; /* world +y is camera down */
    CHECK(gs_camera_project(&c, below, uv, &d) == 1);
    CHECK_NEAR(uv[1], c.cy + 505.0 / 5, 1e-12);
    double behind[3] = {C[0] - 1, C[1], C[2]};
    CHECK(gs_camera_project(&c, behind, uv, &d) == 0);
    CHECK_NEAR(d, -1, 1e-12);
    double m[16];
    gs_camera_get_c2w(&c, m);
    CHECK_NEAR(m[3], 1, 1e-15);
    CHECK_NEAR(m[7], -2, 1e-15);
    CHECK_NEAR(m[11], 3, 1e-15);
    CHECK_NEAR(m[2 * 4 + 0], -1, 1e-15); /* camera x axis in world = -z */
    CHECK_NEAR(m[15], 1, 0);
    gs_camera c2 = c;
    gs_camera_set_c2w(&c2, m);
    for (int i = 0; i < 9; i++) CHECK_NEAR(c2.R[i], c.R[i], 1e-15);
    for (int i = 0; i < 3; i++) CHECK_NEAR(c2.t[i], c.t[i], 1e-15);
    CHECK_OK(gs_camera_validate(&c, "x", 0));
    gs_camera bad = c;
    bad.R[4] *= 1.001;
    CHECK_ERR(gs_camera_validate(&bad, "cams.json", 4), "camera 4");
    CHECK_ERR(gs_camera_validate(&bad, "cams.json", 4), "orthonormal");
    bad = c;
    for (int i = 0; i < 3; i++) bad.R[i] = -bad.R[i]; /* a reflection */
    CHECK_ERR(gs_camera_validate(&bad, "cams.json", 0), "reflection");
    bad = c;
    bad.fx = 0;
    CHECK_ERR(gs_camera_validate(&bad, "cams.json", 0), "focal");
    bad = c;
    bad.width = 70000;
    CHECK_ERR(gs_camera_validate(&bad, "cams.json", 0), "size");
    bad = c;
    bad.t[1] = NAN;
    CHECK_ERR(gs_camera_validate(&bad, "cams.json", 0), "translation");
}

/* ---- lego (NeRF synthetic) ------------------------------------------------------- */

static int png_size(const char *path, int *w, int *h) {
    uint8_t hd[24];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(hd, 1, 24, f);
    fclose(f);
    if (n != 24 || memcmp(hd + 12, "IHDR", 4)) return 0;
    *w = (hd[16] << 24) | (hd[17] << 16) | (hd[18] << 8) | hd[19];
    *h = (hd[20] << 24) | (hd[21] << 16) | (hd[22] << 8) | hd[23];
    return 1;
}

TEST(cameras_lego_transforms_convention) {
    REQUIRE_DATA();
    const char *path = gs_test_data("scenes/lego/transforms_train.json");
    gs_cameras cams;
    gs_camera_format fmt;
    CHECK_OK(gs_cameras_read(path, NULL, &cams, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_TRANSFORMS);
    CHECK_EQ_INT(cams.n, 13);
    if (cams.n != 13) { gs_cameras_free(&cams); return; }

    /* independent reading of the JSON and the first image's header */
    uint8_t *txt;
    size_t len;
    CHECK_OK(gs_read_file(path, 1 << 20, &txt, &len));
    cJSON *root = cJSON_Parse((const char *)txt);
    free(txt);
    CHECK(root != NULL);
    double angle = cJSON_GetObjectItem(root, "camera_angle_x")->valuedouble;
    int pw = 0, ph = 0;
    CHECK(png_size(gs_test_data("scenes/lego/train/r_0.png"), &pw, &ph));
    CHECK_EQ_INT(pw, 800);
    CHECK_EQ_INT(ph, 800);
    double fx = 0.5 * 800 / tan(angle / 2);
    CHECK_NEAR(fx, 1111.1110311937682, 1e-6); /* the well-known lego focal */
    const cJSON *frames = cJSON_GetObjectItem(root, "frames");
    for (int i = 0; i < cams.n; i++) {
        const gs_camera *c = &cams.cams[i];
        const cJSON *fr = cJSON_GetArrayItem(frames, i);
        CHECK_STR(c->name, cJSON_GetObjectItem(fr, "file_path")->valuestring);
        CHECK_EQ_INT(c->width, 800);
        CHECK_EQ_INT(c->height, 800);
        CHECK_NEAR(c->fx, fx, 1e-9);
        CHECK_NEAR(c->fy, fx, 1e-9);
        CHECK_NEAR(c->cx, 400, 0);
        CHECK_NEAR(c->cy, 400, 0);
        CHECK(c->has_pose);
        const cJSON *tm = cJSON_GetObjectItem(fr, "transform_matrix");
        double C[3];
        gs_camera_center(c, C);
        for (int r = 0; r < 3; r++)
            CHECK_NEAR(C[r], cJSON_GetArrayItem(cJSON_GetArrayItem(tm, r), 3)->valuedouble, 1e-12);
        /* the object sits at the origin and every camera looks at it */
        double O[3] = {0, 0, 0}, uv[2], d;
        CHECK(gs_camera_project(c, O, uv, &d) == 1);
        CHECK_MSG(fabs(uv[0] - 400) < 40 && fabs(uv[1] - 400) < 40, "camera %d: origin at (%g, %g)", i, uv[0], uv[1]);
        CHECK_NEAR(d, sqrt(C[0] * C[0] + C[1] * C[1] + C[2] * C[2]), 0.05 * d);
        /* world +z is up in Blender: a point above the origin appears higher (smaller v) */
        double up[3] = {0, 0, 0.5}, uv2[2];
        CHECK(gs_camera_project(c, up, uv2, &d) == 1);
        CHECK_MSG(uv2[1] < uv[1] - 1, "camera %d: up is not up (%g vs %g)", i, uv2[1], uv[1]);
        /* and the cameras are upright: the camera's down axis (row 1 of R) points down in the world */
        CHECK_MSG(c->R[5] < 0, "camera %d: down axis %g %g %g", i, c->R[3], c->R[4], c->R[5]);
    }
    cJSON_Delete(root);

    /* our JSON and COLMAP text round trips keep every projection */
    const char *js = gs_test_tmp("lego_cams.json");
    CHECK_OK(gs_cameras_write_json(js, &cams));
    const char *cdir = gs_test_tmp("lego_colmap");
    CHECK_OK(gs_cameras_write_colmap_text(cdir, &cams));
    gs_cameras a, b;
    CHECK_OK(gs_cameras_read(js, NULL, &a, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_GS_JSON);
    CHECK_OK(gs_cameras_read(cdir, NULL, &b, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_COLMAP_TEXT);
    CHECK_EQ_INT(a.n, cams.n);
    CHECK_EQ_INT(b.n, cams.n);
    for (int i = 0; i < cams.n && i < a.n && i < b.n; i++) {
        CHECK_STR(a.cams[i].name, cams.cams[i].name);
        CHECK_STR(b.cams[i].name, cams.cams[i].name);
        CHECK_EQ_INT(b.cams[i].width, 800);
        for (int k = 0; k < 9; k++) CHECK(a.cams[i].R[k] == cams.cams[i].R[k]); /* %.17g is exact */
        double ea = max_projection_diff(&cams.cams[i], &a.cams[i], 1.5);
        double eb = max_projection_diff(&cams.cams[i], &b.cams[i], 1.5);
        CHECK_MSG(ea < 1e-9, "camera %d: JSON round trip moves pixels by %g", i, ea);
        CHECK_MSG(eb < 1e-9, "camera %d: COLMAP round trip moves pixels by %g", i, eb);
    }
    gs_cameras_free(&a);
    gs_cameras_free(&b);
    /* reading via the cameras.txt path finds the same model */
    char p[600];
    snprintf(p, sizeof p, "%s/images.txt", cdir);
    CHECK_OK(gs_cameras_read(p, NULL, &b, &fmt));
    CHECK_EQ_INT(b.n, cams.n);
    gs_cameras_free(&b);
    gs_cameras_free(&cams);
}

/* ---- fern (LLFF + COLMAP points) ---------------------------------------------------- */

typedef struct {
    double in_image; /* of the points in front: fraction projecting inside */
    double in_bounds; /* of those: fraction with near <= depth <= far */
    double front;    /* fraction of all points in front */
} fern_score;

static fern_score score_cameras(const gs_camera *cams, int n, const float *xyz, int64_t np) {
    int64_t front = 0, inside = 0, inb = 0, total = 0;
    for (int i = 0; i < n; i++) {
        const gs_camera *c = &cams[i];
        for (int64_t k = 0; k < np; k++) {
            double X[3] = {xyz[k * 3], xyz[k * 3 + 1], xyz[k * 3 + 2]}, uv[2], d;
            total++;
            if (!gs_camera_project(c, X, uv, &d)) continue;
            front++;
            if (uv[0] < 0 || uv[1] < 0 || uv[0] >= c->width || uv[1] >= c->height) continue;
            inside++;
            if (d >= c->near_ && d <= c->far_) inb++;
        }
    }
    fern_score s = {inside / (double)(front ? front : 1), inb / (double)(inside ? inside : 1),
                    front / (double)(total ? total : 1)};
    return s;
}

/* mean |point colour - pixel colour| (0..1) over the points seen by camera c */
static double colour_error(const gs_camera *c, const gs_image *im, const float *xyz, const uint8_t *rgb, int64_t np,
                           int mirror) {
    double err = 0;
    int64_t cnt = 0;
    for (int64_t k = 0; k < np; k++) {
        double X[3] = {xyz[k * 3], xyz[k * 3 + 1], xyz[k * 3 + 2]}, uv[2], d;
        if (!gs_camera_project(c, X, uv, &d)) continue;
        if (mirror == 1) uv[0] = c->width - uv[0];
        if (mirror == 2) uv[1] = c->height - uv[1];
        int x = (int)floor(uv[0]), y = (int)floor(uv[1]);
        if (x < 0 || y < 0 || x >= im->width || y >= im->height) continue;
        for (int ch = 0; ch < 3; ch++)
            err += fabs(im->data[((size_t)y * im->width + x) * im->channels + ch] - rgb[k * 3 + ch] / 255.0);
        cnt++;
    }
    return cnt ? err / (3.0 * cnt) : 1;
}

TEST(cameras_fern_llff_matches_colmap_points) {
    REQUIRE_DATA();
    gs_camera_read_opts o = {.llff_factor = 8};
    gs_cameras cams, intr;
    gs_camera_format fmt;
    CHECK_OK(gs_cameras_read(gs_test_data("scenes/fern/poses_bounds.npy"), &o, &cams, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_LLFF);
    CHECK_EQ_INT(cams.n, 20);
    CHECK_OK(gs_cameras_read(gs_test_data("scenes/fern"), NULL, &intr, &fmt)); /* folder with sparse/0 */
    CHECK_EQ_INT(fmt, GS_CAM_COLMAP_BIN);
    CHECK_EQ_INT(intr.n, 1);
    if (cams.n != 20 || intr.n != 1) { gs_cameras_free(&cams); gs_cameras_free(&intr); return; }
    /* cameras.bin: SIMPLE_RADIAL at full resolution, no images.bin -> no pose */
    CHECK_EQ_INT(intr.cams[0].width, 4032);
    CHECK_EQ_INT(intr.cams[0].height, 3024);
    CHECK_EQ_INT(intr.cams[0].has_pose, 0);
    CHECK_EQ_INT(intr.cams[0].camera_id, 1);
    CHECK_NEAR(intr.cams[0].cx, 2016, 0);
    CHECK_NEAR(intr.cams[0].R[0] + intr.cams[0].R[4] + intr.cams[0].R[8], 3, 0);
    for (int i = 0; i < cams.n; i++) {
        const gs_camera *c = &cams.cams[i];
        CHECK_EQ_INT(c->width, 504);
        CHECK_EQ_INT(c->height, 378);
        CHECK_NEAR(c->fx, intr.cams[0].fx / 8, 1e-6);
        CHECK_NEAR(c->fy, c->fx, 0);
        CHECK_NEAR(c->cx, 252, 0);
        CHECK_NEAR(c->cy, 189, 0);
        CHECK(c->near_ > 0 && c->far_ > c->near_);
    }
    float *xyz;
    uint8_t *rgb;
    int64_t np;
    CHECK_OK(gs_colmap_points_read(gs_test_data("scenes/fern/sparse/0/points3D.bin"), &xyz, &rgb, &np));
    CHECK(np > 1000);
    fern_score s = score_cameras(cams.cams, cams.n, xyz, np);
    CHECK_MSG(s.front >= 0.9 && s.in_image >= 0.9 && s.in_bounds >= 0.9, "front %.3f in image %.3f in bounds %.3f",
              s.front, s.in_image, s.in_bounds);

    /* the same check on this test's own conversion, then with one axis
     * flipped: the classic mistake of using NeRF's OpenGL c2w as OpenCV */
    gs_tensor t;
    CHECK_OK(gs_npy_read(gs_test_data("scenes/fern/poses_bounds.npy"), &t));
    gs_camera mine[20], wrong[20];
    const double *pb = t.data;
    for (int i = 0; i < 20; i++) {
        const double *r = pb + i * 17;
        double ok[16] = {0}, gl[16] = {0};
        for (int row = 0; row < 3; row++) {
            /* LLFF columns: down, right, back, centre; OpenGL = [right, up, back] */
            double down = r[row * 5], right = r[row * 5 + 1], back = r[row * 5 + 2], ctr = r[row * 5 + 3];
            ok[row * 4 + 0] = right, ok[row * 4 + 1] = down, ok[row * 4 + 2] = -back, ok[row * 4 + 3] = ctr;
            gl[row * 4 + 0] = right, gl[row * 4 + 1] = -down, gl[row * 4 + 2] = back, gl[row * 4 + 3] = ctr;
        }
        mine[i] = cams.cams[i];
        wrong[i] = cams.cams[i];
        gs_camera_set_c2w(&mine[i], ok);
        gs_camera_set_c2w(&wrong[i], gl);
        CHECK_NEAR(r[15], cams.cams[i].near_, 0);
        CHECK_NEAR(r[16], cams.cams[i].far_, 0);
        CHECK(max_projection_diff(&mine[i], &cams.cams[i], 5) < 1e-9);
    }
    gs_tensor_free(&t);
    fern_score sw = score_cameras(wrong, 20, xyz, np);
    CHECK_MSG(!(sw.front >= 0.9 && sw.in_image >= 0.9 && sw.in_bounds >= 0.9),
              "flipped axes pass too: front %.3f in image %.3f in bounds %.3f", sw.front, sw.in_image, sw.in_bounds);

    /* x and y: the sparse points' colours match the photo only when neither
     * image axis is mirrored */
    static const int views[] = {0, 19};
    for (int v = 0; v < 2; v++) {
        char rel[64];
        snprintf(rel, sizeof rel, "scenes/fern/images_8/image%03d.png", views[v]);
        gs_image im;
        if (gs_image_read(gs_test_data(rel), &im) != GS_OK) {
            CHECK_MSG(0, "cannot read fern image: %s", gs_last_error());
            continue;
        }
        CHECK_EQ_INT(im.width, 504);
        const gs_camera *c = &cams.cams[views[v]];
        double e0 = colour_error(c, &im, xyz, rgb, np, 0);
        double ex = colour_error(c, &im, xyz, rgb, np, 1);
        double ey = colour_error(c, &im, xyz, rgb, np, 2);
        CHECK_MSG(e0 < 0.7 * ex && e0 < 0.7 * ey, "view %d: colour error %.4f, mirrored x %.4f, y %.4f", views[v], e0,
                  ex, ey);
        gs_image_free(&im);
    }
    free(xyz);
    free(rgb);
    gs_cameras_free(&cams);
    gs_cameras_free(&intr);
}

/* ---- LLFF synthetic ------------------------------------------------------------------ */

static const char *write_llff(const char *name, int64_t rows, int64_t cols, const double *v) {
    gs_tensor t;
    int64_t shape[2] = {rows, cols};
    gs_tensor_alloc(&t, GS_F64, 2, shape);
    memcpy(t.data, v, (size_t)(rows * cols) * sizeof(double));
    const char *p = gs_test_tmp(name);
    CHECK_OK(gs_npy_write(p, &t));
    gs_tensor_free(&t);
    return p;
}

TEST(cameras_llff_axes_and_factor) {
    /* OpenGL camera-to-world = identity at C = (1, 2, 3): LLFF columns are
     * down = (0,-1,0), right = (1,0,0), back = (0,0,1). */
    double row[17] = {0, 1, 0, 1, 3024, -1, 0, 0, 2, 4032, 0, 0, 1, 3, 3000, 0.5, 20};
    const char *p = write_llff("llff.npy", 1, 17, row);
    gs_camera_read_opts o = {.llff_factor = 8};
    gs_cameras c;
    gs_camera_format fmt;
    CHECK_OK(gs_cameras_read(p, &o, &c, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_LLFF);
    if (c.n == 1) {
        const double R[9] = {1, 0, 0, 0, -1, 0, 0, 0, -1}; /* OpenCV = OpenGL with y, z flipped */
        for (int i = 0; i < 9; i++) CHECK_NEAR(c.cams[0].R[i], R[i], 0);
        CHECK_NEAR(c.cams[0].t[0], -1, 0);
        CHECK_NEAR(c.cams[0].t[1], 2, 0);
        CHECK_NEAR(c.cams[0].t[2], 3, 0);
        CHECK_EQ_INT(c.cams[0].width, 504);
        CHECK_EQ_INT(c.cams[0].height, 378);
        CHECK_NEAR(c.cams[0].fx, 375, 0);
        CHECK_NEAR(c.cams[0].cx, 252, 0);
        CHECK_NEAR(c.cams[0].near_, 0.5, 0);
        CHECK_NEAR(c.cams[0].far_, 20, 0);
        /* OpenGL looks down -z: a point at C - z projects to the centre */
        double X[3] = {1, 2, 3 - 4}, uv[2], d;
        CHECK(gs_camera_project(&c.cams[0], X, uv, &d) == 1);
        CHECK_NEAR(uv[0], 252, 1e-12);
        CHECK_NEAR(d, 4, 1e-12);
    }
    gs_cameras_free(&c);
    CHECK_OK(gs_cameras_read(p, NULL, &c, NULL)); /* no opts: factor 1 */
    CHECK_EQ_INT(c.n ? c.cams[0].width : 0, 4032);
    gs_cameras_free(&c);
    o.llff_factor = -2;
    CHECK_ERR(gs_cameras_read(p, &o, &c, NULL), "factor");

    double bad[17];
    memcpy(bad, row, sizeof bad);
    bad[7] = NAN;
    CHECK_ERR(gs_cameras_read(write_llff("llff_nan.npy", 1, 17, bad), NULL, &c, NULL), "not finite");
    memcpy(bad, row, sizeof bad);
    bad[14] = 0;
    CHECK_ERR(gs_cameras_read(write_llff("llff_f0.npy", 1, 17, bad), NULL, &c, NULL), "focal");
    memcpy(bad, row, sizeof bad);
    bad[0] = 0.5; /* not a rotation */
    CHECK_ERR(gs_cameras_read(write_llff("llff_rot.npy", 1, 17, bad), NULL, &c, NULL), "orthonormal");
    memcpy(bad, row, sizeof bad);
    bad[15] = 30; /* near > far */
    CHECK_ERR(gs_cameras_read(write_llff("llff_nf.npy", 1, 17, bad), NULL, &c, NULL), "near");
    CHECK_ERR(gs_cameras_read(write_llff("llff_15.npy", 1, 15, row), NULL, &c, NULL), "(N, 17)");
    /* truncated .npy at many lengths */
    uint8_t *d;
    size_t n;
    CHECK_OK(gs_read_file(p, 4096, &d, &n));
    for (size_t k = 0; k < n; k += 7) CHECK_ERR(gs_cameras_read_llff_mem(d, k, "cut.npy", 1, &c), "cut.npy");
    free(d);
}

/* ---- COLMAP hand-built model ------------------------------------------------------ */

static void build_cameras_bin(bytes *b) {
    put_u64(b, 2);
    put_i32(b, 3), put_i32(b, 1), put_u64(b, 640), put_u64(b, 480); /* PINHOLE */
    put_f64(b, 500), put_f64(b, 510), put_f64(b, 320.5), put_f64(b, 240.25);
    put_i32(b, 7), put_i32(b, 2), put_u64(b, 800), put_u64(b, 600); /* SIMPLE_RADIAL f cx cy k */
    put_f64(b, 700), put_f64(b, 400), put_f64(b, 300), put_f64(b, 0.01);
}

static const double S2 = 0.70710678118654752440;

static void build_images_bin(bytes *b) {
    put_u64(b, 2);
    /* image 11: +90 deg about x, camera 7, two 2D points */
    put_i32(b, 11);
    put_f64(b, S2), put_f64(b, S2), put_f64(b, 0), put_f64(b, 0);
    put_f64(b, 0.5), put_f64(b, -1), put_f64(b, 4);
    put_i32(b, 7);
    put(b, "a.jpg", 6);
    put_u64(b, 2);
    for (int k = 0; k < 2; k++) put_f64(b, 10 + k), put_f64(b, 20), put(b, &(int64_t){-1}, 8);
    /* image 12: identity, camera 3, no points */
    put_i32(b, 12);
    put_f64(b, 1), put_f64(b, 0), put_f64(b, 0), put_f64(b, 0);
    put_f64(b, 0), put_f64(b, 0), put_f64(b, 2);
    put_i32(b, 3);
    put(b, "sub/b.png", 10);
    put_u64(b, 0);
}

static const char k_cameras_txt[] = "# Camera list\n"
                                    "3 PINHOLE 640 480 500 510 320.5 240.25\n"
                                    "\n"
                                    "7 SIMPLE_RADIAL 800 600 700 400 300 0.01\r\n";
static const char k_images_txt[] = "# Image list\n"
                                   "11 0.70710678118654752440 0.70710678118654752440 0 0 0.5 -1 4 7 a.jpg\n"
                                   "10 20 -1 11 20 -1\n"
                                   "12 1 0 0 0 0 0 2 3 sub/b.png\n"
                                   "\n";

static void check_model(const gs_cameras *c) {
    CHECK_EQ_INT(c->n, 2);
    if (c->n != 2) return;
    const gs_camera *a = &c->cams[0], *b = &c->cams[1];
    CHECK_STR(a->name, "a.jpg");
    CHECK_STR(b->name, "sub/b.png");
    CHECK_EQ_INT(a->camera_id, 7);
    CHECK_EQ_INT(a->width, 800);
    CHECK_EQ_INT(a->height, 600);
    CHECK_NEAR(a->fx, 700, 0);
    CHECK_NEAR(a->fy, 700, 0);
    CHECK_NEAR(a->cx, 400, 0);
    CHECK_EQ_INT(b->width, 640);
    CHECK_NEAR(b->fy, 510, 0);
    CHECK_NEAR(b->cy, 240.25, 0);
    CHECK(a->has_pose && b->has_pose);
    const double Rx[9] = {1, 0, 0, 0, 0, -1, 0, 1, 0};
    for (int i = 0; i < 9; i++) CHECK_NEAR(a->R[i], Rx[i], 1e-15);
    CHECK_NEAR(a->t[2], 4, 0);
    /* world point (0.5, 1, -3): camera coords R X + t = (1, 3 - 1, 1 + 4) */
    double X[3] = {0.5, 1, -3}, uv[2], d;
    CHECK(gs_camera_project(a, X, uv, &d) == 1);
    CHECK_NEAR(d, 5, 1e-12);
    CHECK_NEAR(uv[0], 700 * 1.0 / 5 + 400, 1e-12);
    CHECK_NEAR(uv[1], 700 * 2.0 / 5 + 300, 1e-12);
    double C[3];
    gs_camera_center(b, C);
    CHECK_NEAR(C[2], -2, 0);
}

TEST(cameras_colmap_text_binary_roundtrip) {
    bytes cb = {0}, ib = {0};
    build_cameras_bin(&cb);
    build_images_bin(&ib);
    gs_cameras intr, bin, txt, back;
    CHECK_OK(gs_colmap_cameras_bin_mem(cb.d, cb.n, "cameras.bin", &intr));
    CHECK_EQ_INT(intr.n, 2);
    CHECK_EQ_INT(intr.n ? intr.cams[0].has_pose : 1, 0);
    CHECK_OK(gs_colmap_images_bin_mem(ib.d, ib.n, "images.bin", &intr, &bin));
    check_model(&bin);
    gs_cameras_free(&intr);
    CHECK_OK(gs_colmap_cameras_txt_mem(k_cameras_txt, strlen(k_cameras_txt), "cameras.txt", &intr));
    CHECK_OK(gs_colmap_images_txt_mem(k_images_txt, strlen(k_images_txt), "images.txt", &intr, &txt));
    check_model(&txt);
    gs_cameras_free(&intr);

    /* on disk: the binary model in <dir>/sparse/0, found from <dir> */
    const char *root = gs_test_tmp("colmap_bin");
    char d0[600], p[700];
    snprintf(d0, sizeof d0, "%s/sparse/0", root);
    CHECK_OK(gs_mkdirs(d0));
    snprintf(p, sizeof p, "%s/cameras.bin", d0);
    CHECK_OK(gs_write_file_atomic(p, cb.d, cb.n));
    snprintf(p, sizeof p, "%s/images.bin", d0);
    CHECK_OK(gs_write_file_atomic(p, ib.d, ib.n));
    gs_camera_format fmt;
    CHECK_OK(gs_cameras_read(root, NULL, &back, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_COLMAP_BIN);
    check_model(&back);
    gs_cameras_free(&back);
    snprintf(p, sizeof p, "%s/cameras.bin", d0);
    CHECK_OK(gs_cameras_read(p, NULL, &back, &fmt)); /* a file path means its folder */
    check_model(&back);
    gs_cameras_free(&back);

    /* our COLMAP text writer -> reader keeps the projections */
    const char *out = gs_test_tmp("colmap_txt_out");
    CHECK_OK(gs_cameras_write_colmap_text(out, &bin));
    CHECK_OK(gs_cameras_read(out, NULL, &back, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_COLMAP_TEXT);
    CHECK_EQ_INT(back.n, 2);
    for (int i = 0; i < back.n && i < 2; i++) {
        CHECK_STR(back.cams[i].name, bin.cams[i].name);
        CHECK(max_projection_diff(&back.cams[i], &bin.cams[i], 3) < 1e-9);
    }
    gs_cameras_free(&back);
    float *xyz;
    uint8_t *rgb;
    int64_t np;
    CHECK_OK(gs_colmap_points_read(out, &xyz, &rgb, &np)); /* the empty points3D.txt */
    CHECK_EQ_INT(np, 0);
    free(xyz);
    free(rgb);

    /* intrinsics only: no images file */
    snprintf(p, sizeof p, "%s/images.bin", d0);
    remove(p);
    CHECK_OK(gs_cameras_read(root, NULL, &back, &fmt));
    CHECK_EQ_INT(back.n, 2);
    if (back.n == 2) {
        CHECK_EQ_INT(back.cams[1].has_pose, 0);
        CHECK_NEAR(back.cams[1].fx, 700, 0);
        CHECK_NEAR(back.cams[1].R[4], 1, 0);
        CHECK_NEAR(back.cams[1].t[0], 0, 0);
    }
    gs_cameras_free(&back);
    gs_cameras_free(&bin);
    gs_cameras_free(&txt);
    free(cb.d);
    free(ib.d);
}

TEST(cameras_colmap_all_models) {
    static const struct {
        const char *name;
        int id, np, single;
    } m[] = {{"SIMPLE_PINHOLE", 0, 3, 1}, {"PINHOLE", 1, 4, 0},        {"SIMPLE_RADIAL", 2, 4, 1},
             {"RADIAL", 3, 5, 1},         {"OPENCV", 4, 8, 0},         {"OPENCV_FISHEYE", 5, 8, 0},
             {"FULL_OPENCV", 6, 12, 0},   {"FOV", 7, 5, 0},            {"SIMPLE_RADIAL_FISHEYE", 8, 4, 1},
             {"RADIAL_FISHEYE", 9, 5, 1}, {"THIN_PRISM_FISHEYE", 10, 12, 0}};
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++) {
        bytes b = {0};
        put_u64(&b, 1);
        put_i32(&b, 1), put_i32(&b, m[k].id), put_u64(&b, 100), put_u64(&b, 80);
        char line[512];
        int o = snprintf(line, sizeof line, "1 %s 100 80", m[k].name);
        for (int i = 0; i < m[k].np; i++) {
            double v = i == 0 ? 90 : i == 1 ? (m[k].single ? 49.5 : 91) : i == 2 ? (m[k].single ? 39.5 : 49.5)
                     : i == 3 && !m[k].single ? 39.5 : 0.001 * i;
            put_f64(&b, v);
            o += snprintf(line + o, sizeof line - (size_t)o, " %.17g", v);
        }
        snprintf(line + o, sizeof line - (size_t)o, "\n");
        gs_cameras cb, ct;
        CHECK_OK(gs_colmap_cameras_bin_mem(b.d, b.n, "cameras.bin", &cb));
        CHECK_OK(gs_colmap_cameras_txt_mem(line, strlen(line), "cameras.txt", &ct));
        if (cb.n == 1 && ct.n == 1) {
            CHECK_NEAR(cb.cams[0].fx, 90, 0);
            CHECK_NEAR(cb.cams[0].fy, m[k].single ? 90 : 91, 0);
            CHECK_NEAR(cb.cams[0].cx, 49.5, 0);
            CHECK_NEAR(cb.cams[0].cy, 39.5, 0);
            CHECK(memcmp(cb.cams, ct.cams, sizeof(gs_camera)) == 0);
        }
        gs_cameras_free(&cb);
        gs_cameras_free(&ct);
        /* one parameter short: truncated binary, error in text */
        CHECK_ERR(gs_colmap_cameras_bin_mem(b.d, b.n - 8, "cameras.bin", &cb), "cameras.bin");
        char *sp = strrchr(line, ' ');
        *sp = '\n', sp[1] = 0;
        CHECK_ERR(gs_colmap_cameras_txt_mem(line, strlen(line), "cameras.txt", &ct), "parameters");
        free(b.d);
    }
}

TEST(cameras_colmap_points) {
    bytes b = {0};
    put_u64(&b, 2);
    put_u64(&b, 5), put_f64(&b, 1.5), put_f64(&b, -2), put_f64(&b, 3);
    put(&b, "\x0a\x80\xff", 3), put_f64(&b, 0.7), put_u64(&b, 2);
    put_i32(&b, 1), put_i32(&b, 0), put_i32(&b, 2), put_i32(&b, 5);
    put_u64(&b, 9), put_f64(&b, 0), put_f64(&b, 0.25), put_f64(&b, -1e3);
    put(&b, "\x01\x02\x03", 3), put_f64(&b, 0.1), put_u64(&b, 0);
    const char *txt = "# points\n5 1.5 -2 3 10 128 255 0.7 1 0 2 5\n9 0 0.25 -1000 1 2 3 0.1\n";
    const char *pb = gs_test_tmp("points3D.bin"), *pt = gs_test_tmp("pts/points3D.txt");
    CHECK_OK(gs_write_file_atomic(pb, b.d, b.n));
    CHECK_OK(gs_mkdirs(gs_test_tmp("pts")));
    write_text_file(pt, txt);
    for (int k = 0; k < 3; k++) {
        float *xyz;
        uint8_t *rgb;
        int64_t n;
        const char *p = k == 0 ? pb : k == 1 ? pt : gs_test_tmp("pts"); /* a folder finds its points3D */
        CHECK_OK(gs_colmap_points_read(p, &xyz, &rgb, &n));
        CHECK_EQ_INT(n, 2);
        if (n == 2) {
            CHECK_NEAR(xyz[0], 1.5, 0);
            CHECK_NEAR(xyz[1], -2, 0);
            CHECK_NEAR(xyz[5], -1000, 0);
            CHECK_EQ_INT(rgb[1], 128);
            CHECK_EQ_INT(rgb[2], 255);
            CHECK_EQ_INT(rgb[5], 3);
        }
        free(xyz);
        free(rgb);
    }
    /* every truncation of the binary file fails, naming the file */
    for (size_t k = 0; k < b.n; k++) {
        float *xyz;
        uint8_t *rgb;
        int64_t n;
        CHECK_ERR(gs_colmap_points_bin_mem(b.d, k, "pts.bin", &xyz, &rgb, &n), "pts.bin");
    }
    float *xyz;
    uint8_t *rgb;
    int64_t n;
    uint64_t huge = (uint64_t)1 << 40;
    memcpy(b.d, &huge, 8);
    CHECK_ERR(gs_colmap_points_bin_mem(b.d, b.n, "pts.bin", &xyz, &rgb, &n), "declares");
    huge = 2;
    memcpy(b.d, &huge, 8);
    uint64_t track = (uint64_t)1 << 61;
    memcpy(b.d + 8 + 8 + 24 + 3 + 8, &track, 8);
    CHECK_ERR(gs_colmap_points_bin_mem(b.d, b.n, "pts.bin", &xyz, &rgb, &n), "track");
    double nan = NAN;
    track = 2;
    memcpy(b.d + 8 + 8 + 24 + 3 + 8, &track, 8);
    memcpy(b.d + 16, &nan, 8);
    CHECK_ERR(gs_colmap_points_bin_mem(b.d, b.n, "pts.bin", &xyz, &rgb, &n), "not a finite");
    const char *bad[] = {"5 1 2 nan 1 2 3 0\n", "5 1 2 3 1 2 300 0\n", "5 1 2 3 1 2\n", "5 1 2 1e300 1 2 3 0\n",
                         "x 1 2 3 1 2 3 0\n"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        CHECK_ERR(gs_colmap_points_txt_mem(bad[k], strlen(bad[k]), "p.txt", &xyz, &rgb, &n), "p.txt:1");
    free(b.d);
}

TEST(cameras_colmap_bad_input) {
    bytes cb = {0}, ib = {0};
    build_cameras_bin(&cb);
    build_images_bin(&ib);
    gs_cameras intr, out;
    /* every strict prefix of either binary file is an error naming the file */
    for (size_t k = 0; k < cb.n; k++) CHECK_ERR(gs_colmap_cameras_bin_mem(cb.d, k, "cams.bin", &out), "cams.bin");
    CHECK_OK(gs_colmap_cameras_bin_mem(cb.d, cb.n, "cams.bin", &intr));
    for (size_t k = 0; k < ib.n; k++) CHECK_ERR(gs_colmap_images_bin_mem(ib.d, k, "imgs.bin", &intr, &out), "imgs.bin");
    /* trailing garbage */
    bytes x = {0};
    put(&x, cb.d, cb.n), put(&x, "z", 1);
    CHECK_ERR(gs_colmap_cameras_bin_mem(x.d, x.n, "cams.bin", &out), "unexpected bytes");
    free(x.d);
    /* huge counts in tiny files fail before allocating */
    uint8_t tiny[100] = {0};
    uint64_t huge = UINT64_MAX;
    memcpy(tiny, &huge, 8);
    CHECK_ERR(gs_colmap_cameras_bin_mem(tiny, sizeof tiny, "cams.bin", &out), "declares");
    CHECK_ERR(gs_colmap_images_bin_mem(tiny, sizeof tiny, "imgs.bin", &intr, &out), "declares");
    /* a huge 2D point count inside an image */
    bytes y = {0};
    put(&y, ib.d, ib.n);
    uint64_t n2d = (uint64_t)1 << 60;
    memcpy(y.d + 8 + 4 + 56 + 4 + 6, &n2d, 8);
    CHECK_ERR(gs_colmap_images_bin_mem(y.d, y.n, "imgs.bin", &intr, &out), "2D points");
    /* unknown model id, bad sizes, NaN / zero focal */
    bytes z = {0};
    put(&z, cb.d, cb.n);
    int32_t bad_model = 42;
    memcpy(z.d + 8 + 4, &bad_model, 4);
    CHECK_ERR(gs_colmap_cameras_bin_mem(z.d, z.n, "cams.bin", &out), "unknown camera model id 42");
    memcpy(z.d, cb.d, cb.n);
    uint64_t w = (uint64_t)1 << 33;
    memcpy(z.d + 16, &w, 8);
    CHECK_ERR(gs_colmap_cameras_bin_mem(z.d, z.n, "cams.bin", &out), "size");
    memcpy(z.d, cb.d, cb.n);
    double nan = NAN, zero = 0;
    memcpy(z.d + 32, &nan, 8);
    CHECK_ERR(gs_colmap_cameras_bin_mem(z.d, z.n, "cams.bin", &out), "not finite");
    memcpy(z.d + 32, &zero, 8);
    CHECK_ERR(gs_colmap_cameras_bin_mem(z.d, z.n, "cams.bin", &out), "focal");
    /* duplicate camera ids */
    memcpy(z.d, cb.d, cb.n);
    int32_t id3 = 3;
    memcpy(z.d + 8 + 24 + 32, &id3, 4);
    CHECK_ERR(gs_colmap_cameras_bin_mem(z.d, z.n, "cams.bin", &out), "twice");
    /* image refers to a missing camera; zero quaternion; NaN translation */
    memcpy(y.d, ib.d, ib.n);
    int32_t cam99 = 99;
    memcpy(y.d + 8 + 4 + 56, &cam99, 4);
    CHECK_ERR(gs_colmap_images_bin_mem(y.d, y.n, "imgs.bin", &intr, &out), "camera id 99");
    memcpy(y.d, ib.d, ib.n);
    memset(y.d + 12, 0, 32);
    CHECK_ERR(gs_colmap_images_bin_mem(y.d, y.n, "imgs.bin", &intr, &out), "zero length");
    memcpy(y.d, ib.d, ib.n);
    memcpy(y.d + 12 + 32, &nan, 8);
    CHECK_ERR(gs_colmap_images_bin_mem(y.d, y.n, "imgs.bin", &intr, &out), "translation");
    /* no NUL after the last name */
    CHECK_ERR(gs_colmap_images_bin_mem(ib.d, ib.n - 8 - 1, "imgs.bin", &intr, &out), "name");

    /* text */
    static const struct {
        const char *text, *needle;
    } bad_cams[] = {
        {"1 PINHOLE 640 480 500 500 320 240 7\n", "more"},
        {"1 PINHOLE 640 480 500 500 320\n", "got 3"},
        {"1 WEIRD 640 480 500 500 320 240\n", "unknown or unsupported camera model 'WEIRD'"},
        {"1 PINHOLE 640 480 500 nan 320 240\n", "not a finite number"},
        {"1 PINHOLE 640 480 0 500 320 240\n", "focal"},
        {"1 PINHOLE 640 0 500 500 320 240\n", "size"},
        {"1 PINHOLE 640.5 480 500 500 320 240\n", "width and height"},
        {"1 PINHOLE 640 480 500 500 320 240\n1 PINHOLE 640 480 500 500 320 240\n", "twice"},
        {"x PINHOLE 640 480 500 500 320 240\n", "camera id"},
        {"1\n", "model"},
        {"# only a comment\n", "no cameras"},
        {"1 PINHOLE 640 480 500 500 320 1e999\n", "not a finite number"},
        {"1 EQUIRECTANGULAR 640 480\n", "EQUIRECTANGULAR"},
    };
    for (size_t k = 0; k < sizeof bad_cams / sizeof bad_cams[0]; k++) {
        const char *t = bad_cams[k].text;
        CHECK_ERR(gs_colmap_cameras_txt_mem(t, strlen(t), "c.txt", &out), bad_cams[k].needle);
        CHECK_ERR(gs_colmap_cameras_txt_mem(t, strlen(t), "c.txt", &out), "c.txt");
    }
    static const struct {
        const char *text, *needle;
    } bad_imgs[] = {
        {"1 1 0 0 0 0 0 0 99 a.png\n\n", "camera id 99"},
        {"1 1 0 0 0 0 0 0 3\n\n", "name"},
        {"1 1 0 0 0 0 0\n\n", "QW QX"},
        {"1 1 0 0 inf 0 0 0 3 a.png\n\n", "QW QX"},
        {"1 0 0 0 0 0 0 0 3 a.png\n\n", "zero length"},
        {"1 1 0 0 0 0 0 0 x a.png\n\n", "camera id"},
        {"x 1 0 0 0 0 0 0 3 a.png\n\n", "image id"},
    };
    for (size_t k = 0; k < sizeof bad_imgs / sizeof bad_imgs[0]; k++) {
        const char *t = bad_imgs[k].text;
        CHECK_ERR(gs_colmap_images_txt_mem(t, strlen(t), "i.txt", &intr, &out), bad_imgs[k].needle);
        CHECK_ERR(gs_colmap_images_txt_mem(t, strlen(t), "i.txt", &intr, &out), "i.txt:1");
    }
    /* text truncated in the middle of lines */
    for (size_t k = 1; k < strlen(k_images_txt); k++) {
        if (k_images_txt[k - 1] == '\n' || k_images_txt[k] == '\n' || k_images_txt[k] == '\r') continue;
        const char *ls = k_images_txt + k;
        while (ls > k_images_txt && ls[-1] != '\n') ls--;
        if (*ls == '#' || (ls[0] == '1' && ls[1] == '0' && ls[2] == ' ')) continue; /* comment / points line */
        const char *tok_end = k_images_txt + k;
        /* the cut keeps a whole line when it lands after the name: skip those */
        int spaces = 0;
        for (const char *q = ls; q < tok_end; q++) spaces += *q == ' ';
        if (spaces >= 9) continue;
        CHECK_ERR(gs_colmap_images_txt_mem(k_images_txt, k, "i.txt", &intr, &out), "i.txt");
    }
    gs_cameras_free(&intr);
    free(cb.d);
    free(ib.d);
    free(y.d);
    free(z.d);
}

/* ---- JSON formats ------------------------------------------------------------------ */

TEST(cameras_gs_json_pose_forms) {
    const double C[3] = {0.3, -0.2, 2};
    gs_camera ref = make_cam(0.7, C, 320, 240, 300);
    snprintf(ref.name, sizeof ref.name, "we\"ird\\name\t.png");
    ref.near_ = 0.1;
    ref.far_ = 50;
    gs_camera nopose = ref;
    nopose.has_pose = 0;
    memset(nopose.R, 0, sizeof nopose.R);
    nopose.R[0] = nopose.R[4] = nopose.R[8] = 1;
    memset(nopose.t, 0, sizeof nopose.t);
    nopose.near_ = nopose.far_ = 0;
    gs_camera arr[2] = {ref, nopose};
    gs_cameras cs = {2, arr};
    const char *p = gs_test_tmp("gs.json");
    CHECK_OK(gs_cameras_write_json(p, &cs));
    gs_cameras back;
    gs_camera_format fmt;
    CHECK_OK(gs_cameras_read(p, NULL, &back, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_GS_JSON);
    CHECK_EQ_INT(back.n, 2);
    if (back.n == 2) {
        CHECK(memcmp(&back.cams[0], &ref, sizeof ref) == 0); /* bit-exact */
        CHECK(memcmp(&back.cams[1], &nopose, sizeof ref) == 0);
    }
    gs_cameras_free(&back);

    /* the same camera as w2c 3x4, w2c 4x4 and c2w */
    double m[16];
    gs_camera_get_c2w(&ref, m);
    char js[4096];
    const double *R = ref.R, *t = ref.t;
    for (int form = 0; form < 3; form++) {
        char pose[1024];
        if (form < 2)
            snprintf(pose, sizeof pose,
                     "\"w2c\": [[%.17g,%.17g,%.17g,%.17g],[%.17g,%.17g,%.17g,%.17g],[%.17g,%.17g,%.17g,%.17g]%s]", R[0],
                     R[1], R[2], t[0], R[3], R[4], R[5], t[1], R[6], R[7], R[8], t[2], form ? ",[0,0,0,1]" : "");
        else
            snprintf(pose, sizeof pose,
                     "\"c2w\": [[%.17g,%.17g,%.17g,%.17g],[%.17g,%.17g,%.17g,%.17g],[%.17g,%.17g,%.17g,%.17g]]", m[0],
                     m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11]);
        snprintf(js, sizeof js,
                 "{\"format\":\"gs-cameras\",\"version\":1,\"cameras\":[{\"width\":320,\"height\":240,"
                 "\"fx\":%.17g,\"fy\":%.17g,\"cx\":%.17g,\"cy\":%.17g,%s}]}",
                 ref.fx, ref.fy, ref.cx, ref.cy, pose);
        CHECK_OK(gs_cameras_read_json_mem(js, strlen(js), "mem.json", NULL, &back, &fmt));
        CHECK_EQ_INT(back.n, 1);
        if (back.n == 1) {
            CHECK(max_projection_diff(&back.cams[0], &ref, 3) < 1e-9);
            CHECK_STR(back.cams[0].name, "");
        }
        gs_cameras_free(&back);
    }
}

TEST(cameras_json_bad_input) {
    const char *good = "{\"format\":\"gs-cameras\",\"version\":1,\"cameras\":[{\"name\":\"a\",\"width\":4,\"height\":3,"
                       "\"fx\":2,\"fy\":2,\"cx\":2,\"cy\":1.5,\"R\":[[1,0,0],[0,1,0],[0,0,1]],\"t\":[0,0,1]}]}";
    gs_cameras out;
    CHECK_OK(gs_cameras_read_json_mem(good, strlen(good), "g.json", NULL, &out, NULL));
    gs_cameras_free(&out);
    for (size_t k = 0; k < strlen(good); k++)
        CHECK_ERR(gs_cameras_read_json_mem(good, k, "g.json", NULL, &out, NULL), "g.json");
    static const struct {
        const char *from, *to, *needle;
    } edits[] = {
        {"\"width\":4", "\"width\":\"4\"", "\"width\" is not a finite number"},
        {"\"width\":4", "\"width\":4.5", "not an integer"},
        {"\"width\":4", "\"width\":70000", "not an integer in 1..65536"},
        {"\"fx\":2", "\"fx\":0", "focal"},
        {"\"fx\":2", "\"fx\":1e999", "\"fx\" is not a finite number"},
        {"\"fx\":2,", "", "missing \"fx\""},
        {"[[1,0,0],[0,1,0],[0,0,1]]", "[[1,0,0],[0,1,0]]", "\"R\" must be an array of 3 rows"},
        {"[[1,0,0],[0,1,0],[0,0,1]]", "[[1,0,0],[0,1,0],[0,0.5,1]]", "orthonormal"},
        {"[[1,0,0],[0,1,0],[0,0,1]]", "[[1,0,0],[0,1,0],[0,0,-1]]", "reflection"},
        {"[[1,0,0],[0,1,0],[0,0,1]]", "[[1,0,0],[0,1,0],[0,\"0\",1]]", "\"R\"[2][1]"},
        {"\"t\":[0,0,1]", "\"t\":[0,0]", "\"t\" must be an array of 3"},
        {",\"t\":[0,0,1]", "", "go together"},
        {"\"t\":[0,0,1]", "\"t\":[0,0,1],\"c2w\":[]", "give the pose once"},
        {"\"version\":1", "\"version\":2", "version 2"},
        {"\"version\":1,", "", "missing \"version\""},
        {"gs-cameras", "other", "unknown camera JSON"},
        {"\"name\":\"a\"", "\"name\":5", "\"name\" must be a string"},
        {"\"cameras\":[", "\"cams\":[", "\"cameras\""},
    };
    char buf[1024];
    for (size_t k = 0; k < sizeof edits / sizeof edits[0]; k++) {
        const char *at = strstr(good, edits[k].from);
        CHECK(at != NULL);
        if (!at) continue;
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - good), good, edits[k].to, at + strlen(edits[k].from));
        CHECK_ERR(gs_cameras_read_json_mem(buf, strlen(buf), "g.json", NULL, &out, NULL), edits[k].needle);
        CHECK_ERR(gs_cameras_read_json_mem(buf, strlen(buf), "g.json", NULL, &out, NULL), "g.json");
    }
    /* the second camera is the bad one: the message names its index */
    snprintf(buf, sizeof buf, "%s", good);
    char *arr = strstr(buf, "[{");
    char cam[400];
    snprintf(cam, sizeof cam, "%.*s", (int)(strstr(buf, "}]}") - arr - 1), arr + 1);
    char two[1024];
    snprintf(two, sizeof two, "{\"format\":\"gs-cameras\",\"version\":1,\"cameras\":[%s},%s", cam, cam);
    char *r2 = strstr(two + strlen(two) - strlen(cam), "[0,0,1]]");
    memcpy(r2, "[0,1,1]]", 8);
    strcat(two, "}]}");
    CHECK_ERR(gs_cameras_read_json_mem(two, strlen(two), "g.json", NULL, &out, NULL), "camera 1");
    CHECK_ERR(gs_cameras_read_json_mem("{\"x\":1}", 7, "g.json", NULL, &out, NULL), "not a known camera JSON");
    snprintf(buf, sizeof buf, "\xEF\xBB\xBF%s \n", good); /* a byte order mark and trailing space are fine */
    CHECK_OK(gs_cameras_read_json_mem(buf, strlen(buf), "g.json", NULL, &out, NULL));
    gs_cameras_free(&out);
    snprintf(buf, sizeof buf, "%s x", good);
    CHECK_ERR(gs_cameras_read_json_mem(buf, strlen(buf), "g.json", NULL, &out, NULL), "after the JSON value");
    CHECK_ERR(gs_cameras_read_json_mem("[]", 2, "g.json", NULL, &out, NULL), "no cameras");
    CHECK_ERR(gs_cameras_read_json_mem("[5]", 3, "g.json", NULL, &out, NULL), "entry 0");
}

TEST(cameras_transforms_variants) {
    /* nerfstudio style: intrinsics at the top, one frame overrides fl_x */
    const char *ns = "{\"fl_x\": 500, \"fl_y\": 510, \"cx\": 330, \"cy\": 250, \"w\": 640, \"h\": 480,"
                     " \"k1\": 0.01, \"camera_model\": \"OPENCV\", \"frames\": ["
                     "{\"file_path\": \"images/a.png\", \"transform_matrix\": [[1,0,0,1],[0,1,0,2],[0,0,1,3],[0,0,0,1]]},"
                     "{\"file_path\": \"images/b.png\", \"fl_x\": 400, \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,0]]}]}";
    gs_cameras c;
    gs_camera_format fmt;
    CHECK_OK(gs_cameras_read_json_mem(ns, strlen(ns), "t.json", NULL, &c, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_TRANSFORMS);
    CHECK_EQ_INT(c.n, 2);
    if (c.n == 2) {
        CHECK_NEAR(c.cams[0].fx, 500, 0);
        CHECK_NEAR(c.cams[0].fy, 510, 0);
        CHECK_NEAR(c.cams[0].cx, 330, 0);
        CHECK_EQ_INT(c.cams[0].width, 640);
        CHECK_NEAR(c.cams[1].fx, 400, 0);
        CHECK_NEAR(c.cams[1].fy, 510, 0);
        CHECK_STR(c.cams[1].name, "images/b.png");
        /* OpenGL identity c2w: OpenCV R = diag(1,-1,-1); centre kept */
        CHECK_NEAR(c.cams[0].R[4], -1, 0);
        CHECK_NEAR(c.cams[0].R[8], -1, 0);
        double C[3];
        gs_camera_center(&c.cams[0], C);
        CHECK_NEAR(C[0], 1, 0);
        CHECK_NEAR(C[2], 3, 0);
        /* the camera looks down world -z: (1, 2, 0) is straight ahead at depth 3 */
        double X[3] = {1, 2, 0}, uv[2], d;
        CHECK(gs_camera_project(&c.cams[0], X, uv, &d) == 1);
        CHECK_NEAR(d, 3, 1e-12);
        CHECK_NEAR(uv[0], 330, 1e-12);
        /* world +y (OpenGL up) appears above */
        double Y[3] = {1, 3, 0};
        CHECK(gs_camera_project(&c.cams[0], Y, uv, &d) == 1);
        CHECK(uv[1] < 250);
    }
    gs_cameras_free(&c);

    /* camera_angle_x and _y, size from the first frame's image (extension added) */
    CHECK_OK(gs_mkdirs(gs_test_tmp("tf/train")));
    gs_image im;
    CHECK_OK(gs_image_alloc(&im, 40, 30, 3));
    CHECK_OK(gs_image_write_png(gs_test_tmp("tf/train/r_0.png"), &im, 8));
    gs_image_free(&im);
    const char *tf = "{\"camera_angle_x\": 0.8, \"camera_angle_y\": 0.6, \"frames\": ["
                     "{\"file_path\": \"./train/r_0\", \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]}]}";
    write_text_file(gs_test_tmp("tf/transforms.json"), tf);
    CHECK_OK(gs_cameras_read(gs_test_tmp("tf/transforms.json"), NULL, &c, &fmt));
    CHECK_EQ_INT(c.n, 1);
    if (c.n == 1) {
        CHECK_EQ_INT(c.cams[0].width, 40);
        CHECK_EQ_INT(c.cams[0].height, 30);
        CHECK_NEAR(c.cams[0].fx, 20 / tan(0.4), 1e-12);
        CHECK_NEAR(c.cams[0].fy, 15 / tan(0.3), 1e-12);
        CHECK_NEAR(c.cams[0].cx, 20, 0);
        CHECK_NEAR(c.cams[0].cy, 15, 0);
    }
    gs_cameras_free(&c);
    /* without the image, or without a folder, the size is unknown */
    CHECK_ERR(gs_cameras_read_json_mem(tf, strlen(tf), "mem.json", NULL, &c, NULL), "no folder");
    write_text_file(gs_test_tmp("tf/missing.json"), "{\"camera_angle_x\": 0.8, \"frames\": [{\"file_path\": \"./x/none\","
                                                   " \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,4]]}]}");
    CHECK_ERR(gs_cameras_read(gs_test_tmp("tf/missing.json"), NULL, &c, NULL), "./x/none");
    write_text_file(gs_test_tmp("tf/notimg.json"), "{\"camera_angle_x\": 0.8, \"frames\": [{\"file_path\": "
                                                  "\"transforms.json\", \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,4]]}]}");
    CHECK_ERR(gs_cameras_read(gs_test_tmp("tf/notimg.json"), NULL, &c, NULL), "image size");

    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"w\":4,\"h\":3,\"frames\":[{\"file_path\":\"a\",\"transform_matrix\":[[1,0,0,0],[0,1,0,0],[0,0,1,0]]}]}",
         "no focal length"},
        {"{\"w\":4,\"fl_x\":3,\"frames\":[{\"file_path\":\"a\",\"transform_matrix\":[[1,0,0,0],[0,1,0,0],[0,0,1,0]]}]}",
         "go together"},
        {"{\"w\":4,\"h\":3,\"fl_x\":3,\"frames\":[{\"transform_matrix\":[[1,0,0,0],[0,1,0,0],[0,0,1,0]]}]}",
         "file_path"},
        {"{\"w\":4,\"h\":3,\"fl_x\":3,\"frames\":[{\"file_path\":\"a\"}]}", "missing \"transform_matrix\""},
        {"{\"w\":4,\"h\":3,\"fl_x\":3,\"frames\":[{\"file_path\":\"a\",\"transform_matrix\":[[1,0,0],[0,1,0],[0,0,1]]}]}",
         "row 0"},
        {"{\"w\":4,\"h\":3,\"fl_x\":3,\"frames\":[{\"file_path\":\"a\",\"transform_matrix\":[[2,0,0,0],[0,1,0,0],[0,0,1,0]]}]}",
         "orthonormal"},
        {"{\"w\":4,\"h\":3,\"camera_angle_x\":4,\"frames\":[{\"file_path\":\"a\",\"transform_matrix\":[[1,0,0,0],[0,1,0,0],[0,0,1,0]]}]}",
         "camera_angle_x"},
        {"{\"w\":4,\"h\":3,\"fl_x\":\"3\",\"frames\":[{\"file_path\":\"a\",\"transform_matrix\":[[1,0,0,0],[0,1,0,0],[0,0,1,0]]}]}",
         "\"fl_x\" is not a finite number"},
        {"{\"frames\": 3}", "\"frames\" must be an array"},
        {"{\"frames\": []}", "no cameras"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_ERR(gs_cameras_read_json_mem(bad[k].text, strlen(bad[k].text), "t.json", NULL, &c, NULL), bad[k].needle);
        CHECK_ERR(gs_cameras_read_json_mem(bad[k].text, strlen(bad[k].text), "t.json", NULL, &c, NULL), "t.json");
    }
}

TEST(cameras_inria_json) {
    /* camera at (1, 2, 3) whose camera-to-world rotation is +90 deg about y */
    const char *js = "[{\"id\": 0, \"img_name\": \"00000\", \"width\": 200, \"height\": 100,"
                     " \"position\": [1, 2, 3], \"rotation\": [[0, 0, 1], [0, 1, 0], [-1, 0, 0]],"
                     " \"fy\": 150.5, \"fx\": 151.5}]";
    gs_cameras c;
    gs_camera_format fmt;
    CHECK_OK(gs_cameras_read_json_mem(js, strlen(js), "cameras.json", NULL, &c, &fmt));
    CHECK_EQ_INT(fmt, GS_CAM_INRIA_JSON);
    CHECK_EQ_INT(c.n, 1);
    if (c.n == 1) {
        const gs_camera *k = &c.cams[0];
        CHECK_STR(k->name, "00000");
        CHECK_NEAR(k->fx, 151.5, 0);
        CHECK_NEAR(k->cx, 100, 0);
        CHECK_NEAR(k->cy, 50, 0);
        double C[3];
        gs_camera_center(k, C);
        CHECK_NEAR(C[0], 1, 1e-15);
        CHECK_NEAR(C[1], 2, 1e-15);
        CHECK_NEAR(C[2], 3, 1e-15);
        /* camera z (forward) in world = rotation column 2 = +x: (2, 2, 3) is ahead at depth 1 */
        double X[3] = {2, 2, 3}, uv[2], d;
        CHECK(gs_camera_project(k, X, uv, &d) == 1);
        CHECK_NEAR(d, 1, 1e-15);
        CHECK_NEAR(uv[0], 100, 1e-12);
        CHECK_NEAR(k->R[2], -1, 0); /* w2c R = rotation^T */
    }
    gs_cameras_free(&c);
    const char *bad = "[{\"img_name\": \"0\", \"width\": 200, \"height\": 100, \"position\": [1, 2],"
                      " \"rotation\": [[0, 0, 1], [0, 1, 0], [-1, 0, 0]], \"fy\": 150, \"fx\": 150}]";
    CHECK_ERR(gs_cameras_read_json_mem(bad, strlen(bad), "cameras.json", NULL, &c, NULL), "\"position\"");
    const char *bad2 = "[{\"img_name\": \"0\", \"width\": 200, \"height\": 100,"
                       " \"rotation\": [[0, 0, 1], [0, 1, 0], [-1, 0, 0]], \"fy\": 150, \"fx\": 150}]";
    CHECK_ERR(gs_cameras_read_json_mem(bad2, strlen(bad2), "cameras.json", NULL, &c, NULL), "entry 0");
}

TEST(cameras_read_dispatch_and_writer_errors) {
    gs_cameras c;
    gs_camera_format fmt;
    CHECK_ERR(gs_cameras_read(gs_test_tmp("nothing_here.json"), NULL, &c, &fmt), "nothing_here.json");
    CHECK_ERR(gs_cameras_read(gs_test_tmp("nothing_here"), NULL, &c, &fmt), "nothing_here");
    CHECK_OK(gs_mkdirs(gs_test_tmp("emptydir")));
    CHECK_ERR(gs_cameras_read(gs_test_tmp("emptydir"), NULL, &c, &fmt), "no COLMAP model");
    write_text_file(gs_test_tmp("cams.xyz"), "hello");
    CHECK_ERR(gs_cameras_read(gs_test_tmp("cams.xyz"), NULL, &c, &fmt), "unknown camera file");
    CHECK_EQ_INT(fmt, GS_CAM_UNKNOWN);
    CHECK_STR(gs_camera_format_name(GS_CAM_LLFF), "LLFF poses_bounds.npy");

    const double C[3] = {0, 0, -3};
    gs_camera k = make_cam(0, C, 64, 48, 50);
    snprintf(k.name, sizeof k.name, "has space.png");
    gs_cameras cs = {1, &k};
    CHECK_ERR(gs_cameras_write_colmap_text(gs_test_tmp("cm_space"), &cs), "whitespace");
    CHECK_ERR(gs_cameras_write_json(gs_test_tmp("no/such/dir/c.json"), &cs), "c.json");
    k.fx = 0;
    CHECK_ERR(gs_cameras_write_json(gs_test_tmp("bad.json"), &cs), "focal");
    CHECK(!gs_file_exists(gs_test_tmp("bad.json")));
    /* cameras without names get generated ones in COLMAP text */
    k.fx = 50;
    k.name[0] = 0;
    CHECK_OK(gs_cameras_write_colmap_text(gs_test_tmp("cm_noname"), &cs));
    CHECK_OK(gs_cameras_read(gs_test_tmp("cm_noname/cameras.txt"), NULL, &c, &fmt));
    CHECK_EQ_INT(c.n, 1);
    if (c.n == 1) {
        CHECK_STR(c.cams[0].name, "camera_00000");
        CHECK(max_projection_diff(&c.cams[0], &k, 2) < 1e-9);
    }
    gs_cameras_free(&c);
}
