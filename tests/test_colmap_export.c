/* test_colmap_export.c - COLMAP sparse models with points and tracks: the
 * binary/text writer and the checked binary reader (data/colmap_model.c),
 * the tracks of a prediction (gs/model/da3_points.c), the photo-size
 * intrinsics, gs infer / gs nvs writing DIR/sparse/0, and pycolmap reading
 * it ($GS_PYTHON with pycolmap). */
#include "test.h"

#include "data/cameras.h"
#include "data/image.h"
#include "gs/model/da3_points.h"

#include <unistd.h>

#define TINY_ANY "tests/golden/da3/tiny-anyview"
#define TINY_GS "tests/golden/da3/tiny-giant"

/* ---- a small hand-made model ------------------------------------------------- */

/* 2 images (ids 3 and 7, cameras 11 and 12), 3 points (ids 5, 9, 20):
 * point 5 seen in both, 9 in image 3 only, 20 in image 7 only; image 3 has
 * one 2D point without a 3D point. */
static void make_model(gs_colmap_model *m) {
    memset(m, 0, sizeof *m);
    m->images.n = 2;
    m->images.cams = calloc(2, sizeof(gs_camera));
    m->image_id = malloc(2 * sizeof *m->image_id);
    m->p2d_start = malloc(3 * sizeof *m->p2d_start);
    m->p2d_xy = malloc(5 * 2 * sizeof(double));
    m->p2d_point3d = malloc(5 * sizeof(int64_t));
    m->n_points = 3;
    m->point_id = malloc(3 * sizeof *m->point_id);
    m->xyz = malloc(9 * sizeof(double));
    m->rgb = malloc(9);
    m->error = malloc(3 * sizeof(double));
    m->track_start = malloc(4 * sizeof(int64_t));
    m->track = malloc(8 * sizeof(int32_t));
    for (int i = 0; i < 2; i++) {
        gs_camera *c = &m->images.cams[i];
        double q[4] = {0.9, 0.1 * (i + 1), -0.2, 0.3};
        double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        for (int k = 0; k < 4; k++) q[k] /= n;
        gs_quat_to_rotmat(q, c->R);
        c->t[0] = 0.125 + i;
        c->t[1] = -1.0 / 3.0;
        c->t[2] = 2.5;
        c->fx = 101.25 + i;
        c->fy = 99.5;
        c->cx = 32.0625;
        c->cy = 23.75 + i;
        c->width = 64 + 16 * i;
        c->height = 48;
        c->has_pose = 1;
        c->camera_id = 11 + i;
        snprintf(c->name, sizeof c->name, i ? "sub/img b.png" : "image000.png");
    }
    m->image_id[0] = 3;
    m->image_id[1] = 7;
    /* image 3: 2D points 0 (point 5), 1 (none), 2 (point 9); image 7: 0 (point 20), 1 (point 5) */
    int64_t ps[3] = {0, 3, 5};
    memcpy(m->p2d_start, ps, sizeof ps);
    double xy[10] = {1.5, 2.25, 10.0 / 3.0, 7.0, 63.9, 47.1, 0.0, 0.0, 40.125, 20.0625};
    memcpy(m->p2d_xy, xy, sizeof xy);
    int64_t p3[5] = {5, -1, 9, 20, 5};
    memcpy(m->p2d_point3d, p3, sizeof p3);
    uint64_t ids[3] = {5, 9, 20};
    memcpy(m->point_id, ids, sizeof ids);
    double X[9] = {0.1, -0.2, 3.0, 1.0 / 7.0, 2.0, 5.5, -1e3, 1e-7, 4.0};
    memcpy(m->xyz, X, sizeof X);
    uint8_t rgb[9] = {0, 128, 255, 1, 2, 3, 250, 251, 252};
    memcpy(m->rgb, rgb, sizeof rgb);
    double err[3] = {0.25, 0.0, 1.0 / 3.0};
    memcpy(m->error, err, sizeof err);
    int64_t ts[4] = {0, 2, 3, 4};
    memcpy(m->track_start, ts, sizeof ts);
    int32_t tr[8] = {3, 0, 7, 1, 3, 2, 7, 0};
    memcpy(m->track, tr, sizeof tr);
}

static void check_same_model(const gs_colmap_model *a, const gs_colmap_model *b) {
    CHECK_EQ_INT(b->images.n, a->images.n);
    CHECK_EQ_INT(b->n_points, a->n_points);
    if (b->images.n != a->images.n || b->n_points != a->n_points) return;
    for (int i = 0; i < a->images.n; i++) {
        const gs_camera *x = &a->images.cams[i], *y = &b->images.cams[i];
        CHECK_EQ_INT(b->image_id[i], a->image_id[i]);
        CHECK_STR(y->name, x->name);
        CHECK_EQ_INT(y->camera_id, x->camera_id);
        CHECK_EQ_INT(y->width, x->width);
        CHECK_EQ_INT(y->height, x->height);
        CHECK(y->fx == x->fx && y->fy == x->fy && y->cx == x->cx && y->cy == x->cy);
        for (int k = 0; k < 3; k++) CHECK(y->t[k] == x->t[k]);
        for (int k = 0; k < 9; k++) CHECK_NEAR(y->R[k], x->R[k], 1e-14);
        CHECK_EQ_INT(b->p2d_start[i + 1], a->p2d_start[i + 1]);
    }
    for (int64_t k = 0; k < a->p2d_start[a->images.n]; k++) {
        CHECK(b->p2d_xy[2 * k] == a->p2d_xy[2 * k] && b->p2d_xy[2 * k + 1] == a->p2d_xy[2 * k + 1]);
        CHECK_EQ_INT(b->p2d_point3d[k], a->p2d_point3d[k]);
    }
    for (int64_t j = 0; j < a->n_points; j++) {
        CHECK_EQ_INT(b->point_id[j], a->point_id[j]);
        for (int k = 0; k < 3; k++) CHECK(b->xyz[3 * j + k] == a->xyz[3 * j + k]);
        for (int k = 0; k < 3; k++) CHECK_EQ_INT(b->rgb[3 * j + k], a->rgb[3 * j + k]);
        CHECK(b->error[j] == a->error[j]);
        CHECK_EQ_INT(b->track_start[j + 1], a->track_start[j + 1]);
    }
    for (int64_t e = 0; e < 2 * a->track_start[a->n_points]; e++) CHECK_EQ_INT(b->track[e], a->track[e]);
}

TEST(colmap_model_roundtrip_binary) {
    gs_colmap_model m, r;
    make_model(&m);
    const char *dir = gs_test_tmp("cmx_rt");
    CHECK_OK(gs_colmap_model_write(dir, &m, 0));
    char p[1024];
    snprintf(p, sizeof p, "%s/points3D.bin", dir);
    CHECK(gs_file_exists(p));
    CHECK_OK(gs_colmap_model_read(dir, &r));
    check_same_model(&m, &r);
    gs_colmap_model_free(&r);
    /* exact sizes of COLMAP's layout: cameras 8 + 2 x (24 + 32) */
    uint8_t *d;
    size_t n;
    snprintf(p, sizeof p, "%s/cameras.bin", dir);
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &n));
    CHECK_EQ_INT(n, 8 + 2 * (24 + 32));
    free(d);
    /* images: 8 + per image 64 + name + NUL + 8 + 24 per 2D point */
    snprintf(p, sizeof p, "%s/images.bin", dir);
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &n));
    CHECK_EQ_INT(n, 8 + (64 + 13 + 8 + 3 * 24) + (64 + 14 + 8 + 2 * 24));
    free(d);
    /* points: 8 + per point 51 + 8 per track element */
    snprintf(p, sizeof p, "%s/points3D.bin", dir);
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &n));
    CHECK_EQ_INT(n, 8 + 3 * 51 + 4 * 8);
    free(d);
    /* the camera reader (--cameras, gs info) reads the same model */
    gs_cameras c;
    gs_camera_format f;
    CHECK_OK(gs_cameras_read(dir, NULL, &c, &f));
    CHECK_EQ_INT(f, GS_CAM_COLMAP_BIN);
    CHECK_EQ_INT(c.n, 2);
    if (c.n == 2) {
        CHECK_STR(c.cams[1].name, "sub/img b.png");
        CHECK_EQ_INT(c.cams[1].width, 80);
        CHECK(c.cams[1].fx == 102.25 && c.cams[1].cy == 24.75);
    }
    gs_cameras_free(&c);
    /* and from DIR/.. through sparse/0 */
    const char *top = gs_test_tmp("cmx_top");
    snprintf(p, sizeof p, "%s/sparse/0", top);
    CHECK_OK(gs_colmap_model_write(p, &m, 0));
    CHECK_OK(gs_colmap_model_read(top, &r));
    check_same_model(&m, &r);
    gs_colmap_model_free(&r);
    gs_colmap_model_free(&m);
}

TEST(colmap_model_roundtrip_text) {
    gs_colmap_model m;
    make_model(&m);
    const char *dir = gs_test_tmp("cmx_txt");
    CHECK_OK(gs_colmap_model_write(dir, &m, 0));
    /* a name with a space: text refuses it, binary holds it */
    CHECK_ERR(gs_colmap_model_write(dir, &m, 1), "white space");
    snprintf(m.images.cams[1].name, sizeof m.images.cams[1].name, "sub/img_b.png");
    CHECK_OK(gs_colmap_model_write(dir, &m, 1));
    char p[1024];
    snprintf(p, sizeof p, "%s/cameras.bin", dir);
    CHECK_MSG(!gs_file_exists(p), "the binary model was left beside the text one");
    snprintf(p, sizeof p, "%s/points3D.bin", dir);
    CHECK(!gs_file_exists(p));
    gs_cameras c;
    gs_camera_format f;
    CHECK_OK(gs_cameras_read(dir, NULL, &c, &f));
    CHECK_EQ_INT(f, GS_CAM_COLMAP_TEXT);
    CHECK_EQ_INT(c.n, 2);
    if (c.n == 2) {
        CHECK_STR(c.cams[0].name, "image000.png");
        CHECK(c.cams[0].fx == 101.25 && c.cams[0].cx == 32.0625 && c.cams[0].t[1] == -1.0 / 3.0);
        for (int k = 0; k < 9; k++) CHECK_NEAR(c.cams[1].R[k], m.images.cams[1].R[k], 1e-14);
    }
    gs_cameras_free(&c);
    float *xyz;
    uint8_t *rgb;
    int64_t n;
    CHECK_OK(gs_colmap_points_read(dir, &xyz, &rgb, &n));
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK(xyz[3] == (float)(1.0 / 7.0) && xyz[6] == -1000.0f);
        CHECK_EQ_INT(rgb[8], 252);
    }
    free(xyz);
    free(rgb);
    /* the 2D line of image 3 and the track of point 5, as COLMAP writes them */
    uint8_t *d;
    size_t sz;
    snprintf(p, sizeof p, "%s/images.txt", dir);
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &sz));
    CHECK(strstr((char *)d, "\n1.5 2.25 5 3.3333333333333335 7 -1 63.899999999999999 47.100000000000001 9\n"));
    free(d);
    snprintf(p, sizeof p, "%s/points3D.txt", dir);
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &sz));
    CHECK(strstr((char *)d, "\n5 0.10000000000000001 -0.20000000000000001 3 0 128 255 0.25 3 0 7 1\n"));
    free(d);
    /* and back to binary removes the text files */
    CHECK_OK(gs_colmap_model_write(dir, &m, 0));
    snprintf(p, sizeof p, "%s/images.txt", dir);
    CHECK(!gs_file_exists(p));
    gs_colmap_model_free(&m);
}

TEST(colmap_model_write_refuses_inconsistent) {
    gs_colmap_model m;
    make_model(&m);
    const char *dir = gs_test_tmp("cmx_bad");
    m.track[2] = 8; /* image id 8 does not exist */
    CHECK_ERR(gs_colmap_model_write(dir, &m, 0), "image id 8");
    m.track[2] = 7;
    m.p2d_point3d[1] = 77; /* a 2D point naming a missing 3D point */
    CHECK_ERR(gs_colmap_model_write(dir, &m, 0), "point3D 77");
    m.p2d_point3d[1] = 9; /* names point 9, whose track does not list it */
    CHECK_ERR(gs_colmap_model_write(dir, &m, 0), "tracks hold");
    m.p2d_point3d[1] = -1;
    m.point_id[2] = 9;
    CHECK_ERR(gs_colmap_model_write(dir, &m, 0), "appears twice");
    m.point_id[2] = 20;
    m.images.cams[1].camera_id = 11; /* shared camera, different intrinsics */
    CHECK_ERR(gs_colmap_model_write(dir, &m, 0), "share camera id");
    CHECK(!gs_is_dir(dir)); /* nothing was written */
    gs_colmap_model_free(&m);
}

static void make_photos(const char *dir);

/* ---- corrupt and truncated files -------------------------------------------- */

static void write_bytes(const char *path, const uint8_t *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) { gs_test_fail(__FILE__, __LINE__, "cannot write %s", path); return; }
    if (n) fwrite(d, 1, n, f);
    fclose(f);
}

TEST(colmap_model_corrupt_files) {
    gs_colmap_model m, r;
    make_model(&m);
    const char *good = gs_test_tmp("cmx_good");
    CHECK_OK(gs_colmap_model_write(good, &m, 0));
    gs_colmap_model_free(&m);
    static const char *const files[3] = {"cameras.bin", "images.bin", "points3D.bin"};
    uint8_t *d[3];
    size_t n[3];
    char p[1024];
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/%s", good, files[k]);
        CHECK_OK(gs_read_file(p, 1 << 20, &d[k], &n[k]));
    }
    /* every truncation of every file is an error naming that file */
    for (int k = 0; k < 3; k++)
        for (size_t cut = 0; cut < n[k]; cut += (cut < 16 ? 1 : 7)) {
            const uint8_t *D[3] = {d[0], d[1], d[2]};
            size_t N[3] = {n[0], n[1], n[2]};
            N[k] = cut;
            gs_clear_error();
            gs_status st = gs_colmap_model_bin_mem(D[0], N[0], "c.bin", D[1], N[1], "i.bin", D[2], N[2], "p.bin", &r);
            const char *nm = k == 0 ? "c.bin" : k == 1 ? "i.bin" : "p.bin";
            CHECK_MSG(st != GS_OK, "%s cut at %zu was accepted", files[k], cut);
            if (st == GS_OK) gs_colmap_model_free(&r);
            else CHECK_MSG(strstr(gs_last_error(), nm), "%s cut at %zu: \"%s\" does not name it", files[k], cut,
                           gs_last_error());
        }
    /* absurd counts: refused before any allocation */
    uint8_t *big = malloc(n[2]);
    memcpy(big, d[2], n[2]);
    uint64_t huge = (uint64_t)1 << 60;
    memcpy(big, &huge, 8);
    CHECK_ERR(gs_colmap_model_bin_mem(d[0], n[0], "c.bin", d[1], n[1], "i.bin", big, n[2], "p.bin", &r),
              "p.bin: declares 1152921504606846976 points");
    /* point 5's track length (after id 8, xyz 24, rgb 3, error 8) */
    memcpy(big, d[2], n[2]);
    memcpy(big + 8 + 43, &huge, 8);
    CHECK_ERR(gs_colmap_model_bin_mem(d[0], n[0], "c.bin", d[1], n[1], "i.bin", big, n[2], "p.bin", &r),
              "declares a track of");
    /* a track element naming 2D point 9 of image 3, which has 3 */
    memcpy(big, d[2], n[2]);
    int32_t bad_idx = 9;
    memcpy(big + 8 + 51 + 4, &bad_idx, 4);
    CHECK_ERR(gs_colmap_model_bin_mem(d[0], n[0], "c.bin", d[1], n[1], "i.bin", big, n[2], "p.bin", &r),
              "names 2D point 9 of image id 3");
    /* a NaN coordinate */
    memcpy(big, d[2], n[2]);
    double nan_ = NAN;
    memcpy(big + 8 + 8, &nan_, 8);
    CHECK_ERR(gs_colmap_model_bin_mem(d[0], n[0], "c.bin", d[1], n[1], "i.bin", big, n[2], "p.bin", &r), "not finite");
    free(big);
    /* images.bin: a 2D point count past the end */
    big = malloc(n[1]);
    memcpy(big, d[1], n[1]);
    memcpy(big + 8 + 64 + 13, &huge, 8);
    CHECK_ERR(gs_colmap_model_bin_mem(d[0], n[0], "c.bin", big, n[1], "i.bin", d[2], n[2], "p.bin", &r),
              "i.bin: image 0 declares 1152921504606846976 2D points");
    /* trailing bytes */
    free(big);
    big = malloc(n[1] + 3);
    memcpy(big, d[1], n[1]);
    memset(big + n[1], 0, 3);
    CHECK_ERR(gs_colmap_model_bin_mem(d[0], n[0], "c.bin", big, n[1] + 3, "i.bin", d[2], n[2], "p.bin", &r),
              "3 unexpected bytes");
    free(big);
    /* on disk: the reader names the file of the folder */
    const char *bad = gs_test_tmp("cmx_trunc");
    CHECK_OK(gs_mkdirs(bad));
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/%s", bad, files[k]);
        write_bytes(p, d[k], k == 2 ? n[k] - 5 : n[k]);
    }
    CHECK_ERR(gs_colmap_model_read(bad, &r), "cmx_trunc/points3D.bin: point 2 declares a track of 1 but only 3 bytes");
    snprintf(p, sizeof p, "%s/images.bin", bad);
    write_bytes(p, d[1], n[1] / 2);
    gs_cameras c;
    CHECK_ERR(gs_cameras_read(bad, NULL, &c, NULL), "cmx_trunc/images.bin");
    snprintf(p, sizeof p, "%s/points3D.bin", bad);
    unlink(p);
    CHECK_ERR(gs_colmap_model_read(bad, &r), "no points3D.bin");
    for (int k = 0; k < 3; k++) free(d[k]);
}

/* ---- tracks of a synthetic two-view prediction ------------------------------ */

/* Two 16x16 views of the plane z = 2 (fx = fy = 16, principal point 8, 8):
 * view 1 is view 0 moved 0.25 along +x, so the plane shifts by exactly 2
 * pixels (x1 = x0 - 2). View 1 also sees an occluder at depth 1 in columns
 * 4 and 5, which view 0 does not. */
typedef struct {
    gs_da3_prediction p;
    float depth[2 * 256], ext[24], K[18];
    uint8_t img[2 * 256 * 3];
} two_view;

static void make_two_view(two_view *t) {
    memset(t, 0, sizeof *t);
    t->p.S = 2;
    t->p.H = 16;
    t->p.W = 16;
    for (int v = 0; v < 2; v++) {
        float *E = t->ext + 12 * v, *K = t->K + 9 * v;
        E[0] = E[5] = E[10] = 1;
        E[3] = v ? -0.25f : 0; /* camera centre at x = 0.25 */
        K[0] = K[4] = 16;
        K[2] = K[5] = 8;
        K[8] = 1;
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 16; x++) {
                int i = v * 256 + y * 16 + x;
                t->depth[i] = v == 1 && (x == 4 || x == 5) ? 1.0f : 2.0f;
                for (int c = 0; c < 3; c++) t->img[3 * i + c] = (uint8_t)(x * 16 + c + 100 * v);
            }
    }
    t->p.depth = t->depth;
    t->p.extrinsics = t->ext;
    t->p.intrinsics = t->K;
    t->p.images = t->img;
}

static int64_t find_point_of_pixel(const gs_colmap_model *m, int image, double x, double y) {
    for (int64_t k = m->p2d_start[image]; k < m->p2d_start[image + 1]; k++)
        if (fabs(m->p2d_xy[2 * k] - x) < 1e-9 && fabs(m->p2d_xy[2 * k + 1] - y) < 1e-9) return m->p2d_point3d[k];
    return -2;
}

static int64_t track_len(const gs_colmap_model *m, int64_t id) {
    for (int64_t j = 0; j < m->n_points; j++)
        if ((int64_t)m->point_id[j] == id) return m->track_start[j + 1] - m->track_start[j];
    return -1;
}

TEST(colmap_tracks_two_views) {
    two_view t;
    make_two_view(&t);
    gs_da3_view_map maps[2] = {{16, 16, 1, 0, 1, 0}, {16, 16, 1, 0, 1, 0}};
    const char *names[2] = {"a.png", "b.png"};
    gs_colmap_model m;
    gs_da3_colmap_opts o = {-1, 0, 0};
    CHECK_OK(gs_da3_colmap_model(&t.p, maps, NULL, names, &o, &m));
    CHECK_OK(gs_colmap_model_validate(&m, "two views"));
    /* view 0: 256 points, those of columns 2..15 that land off the occluder
     * (x0 - 2 not 4 or 5) seen in both: 12 columns x 16 rows. View 1's
     * pixels not taken: the occluder (its depth 1 disagrees with view 0's 2)
     * and columns 14, 15 (outside view 0): 4 x 16 single-view points. */
    CHECK_EQ_INT(m.n_points, 256 + 64);
    int64_t two = 0;
    for (int64_t j = 0; j < m.n_points; j++) two += m.track_start[j + 1] - m.track_start[j] == 2;
    CHECK_EQ_INT(two, 12 * 16);
    CHECK_EQ_INT(m.track_start[m.n_points], 512);
    CHECK_EQ_INT(m.p2d_start[1], 256); /* every pixel observed once */
    CHECK_EQ_INT(m.p2d_start[2], 512);
    /* the point of view 0 pixel (10, 5) is pixel (8, 5) of view 1 */
    int64_t id = find_point_of_pixel(&m, 0, 10, 5);
    CHECK(id > 0);
    CHECK_EQ_INT(find_point_of_pixel(&m, 1, 8, 5), id);
    CHECK_EQ_INT(track_len(&m, id), 2);
    if (id > 0) {
        const double *X = m.xyz + 3 * (id - 1);
        CHECK_NEAR(X[0], (10 - 8) / 16.0 * 2, 1e-6);
        CHECK_NEAR(X[1], (5 - 8) / 16.0 * 2, 1e-6);
        CHECK_NEAR(X[2], 2, 1e-6);
        CHECK_NEAR(m.error[id - 1], 0, 1e-6);
        CHECK_EQ_INT(m.rgb[3 * (id - 1)], 160); /* the source view's colour */
    }
    /* view 0 pixel (6, 5) lands on the occluder of view 1: one observation */
    id = find_point_of_pixel(&m, 0, 6, 5);
    CHECK_EQ_INT(track_len(&m, id), 1);
    /* and the occluder pixel of view 1 is its own single-view point at depth 1 */
    id = find_point_of_pixel(&m, 1, 4, 5);
    CHECK(id > 256);
    CHECK_EQ_INT(track_len(&m, id), 1);
    if (id > 0) CHECK_NEAR(m.xyz[3 * (id - 1) + 2], 1, 1e-6);
    /* view 0 pixel (1, 5) projects outside view 1 */
    CHECK_EQ_INT(track_len(&m, find_point_of_pixel(&m, 0, 1, 5)), 1);
    CHECK_STR(m.images.cams[1].name, "b.png");
    gs_colmap_model_free(&m);

    /* view 1's depth 2% off everywhere: within the 5% tolerance the tracks
     * stay; with a 1% tolerance they go */
    for (int i = 256; i < 512; i++) t.depth[i] *= 1.02f;
    CHECK_OK(gs_da3_colmap_model(&t.p, maps, NULL, names, &o, &m));
    two = 0;
    for (int64_t j = 0; j < m.n_points; j++) two += m.track_start[j + 1] - m.track_start[j] == 2;
    CHECK_EQ_INT(two, 12 * 16);
    gs_colmap_model_free(&m);
    gs_da3_colmap_opts strict = {-1, 0.01, 0};
    CHECK_OK(gs_da3_colmap_model(&t.p, maps, NULL, names, &strict, &m));
    CHECK_EQ_INT(m.n_points, 512);
    CHECK_EQ_INT(m.track_start[m.n_points], 512);
    gs_colmap_model_free(&m);
}

TEST(colmap_tracks_original_size_and_cap) {
    two_view t;
    make_two_view(&t);
    /* photos twice the network input, view 1 also shifted by a crop of 3
     * pixels: processed = 0.5 * original - 3 */
    gs_da3_view_map maps[2] = {{32, 32, 0.5, 0, 0.5, 0}, {38, 32, 0.5, -3, 0.5, 0}};
    const char *names[2] = {"a.png", "b.png"};
    gs_image photos[2];
    for (int v = 0; v < 2; v++) {
        CHECK_OK(gs_image_alloc(&photos[v], maps[v].orig_w, 32, 3));
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < maps[v].orig_w; x++)
                for (int c = 0; c < 3; c++)
                    photos[v].data[((size_t)y * maps[v].orig_w + x) * 3 + c] = (float)(x + 2 * y + c) / 255.0f;
    }
    gs_colmap_model m;
    gs_da3_colmap_opts o = {-1, 0, 0};
    CHECK_OK(gs_da3_colmap_model(&t.p, maps, photos, names, &o, &m));
    const gs_camera *c0 = &m.images.cams[0], *c1 = &m.images.cams[1];
    CHECK_EQ_INT(c0->width, 32);
    CHECK_EQ_INT(c1->width, 38);
    CHECK_NEAR(c0->fx, 32, 1e-12);
    CHECK_NEAR(c0->cx, 16, 1e-12);
    CHECK_NEAR(c1->cx, (8 + 3) / 0.5, 1e-12);
    CHECK_NEAR(c1->cy, 16, 1e-12);
    /* pixel (10, 5) of view 0 is (20, 10) of photo a, (8, 5) of view 1 is (22, 10) of photo b */
    int64_t id = find_point_of_pixel(&m, 0, 20, 10);
    CHECK(id > 0);
    CHECK_EQ_INT(find_point_of_pixel(&m, 1, 22, 10), id);
    if (id > 0) {
        CHECK_NEAR(m.error[id - 1], 0, 1e-6);
        /* photo a under the centre of processed pixel (10, 5): (21, 11) */
        CHECK_EQ_INT(m.rgb[3 * (id - 1)], 21 + 22);
        CHECK_EQ_INT(m.rgb[3 * (id - 1) + 2], 21 + 22 + 2);
    }
    CHECK_EQ_INT(m.n_points, 320);
    gs_colmap_model_free(&m);
    /* the cap: candidates every ceil(512 / 100) = 6th pixel; deterministic */
    gs_da3_colmap_opts capped = {100, 0, 0};
    gs_colmap_model a, b;
    CHECK_OK(gs_da3_colmap_model(&t.p, maps, photos, names, &capped, &a));
    CHECK_OK(gs_da3_colmap_model(&t.p, maps, photos, names, &capped, &b));
    CHECK(a.n_points > 50 && a.n_points <= 86);
    check_same_model(&a, &b);
    gs_colmap_model_free(&a);
    gs_colmap_model_free(&b);
    /* 0: cameras only */
    gs_da3_colmap_opts none = {0, 0, 0};
    CHECK_OK(gs_da3_colmap_model(&t.p, maps, photos, names, &none, &a));
    CHECK_EQ_INT(a.n_points, 0);
    CHECK_EQ_INT(a.images.n, 2);
    gs_colmap_model_free(&a);
    for (int v = 0; v < 2; v++) gs_image_free(&photos[v]);
}

/* The pixel maps agree with what the preprocessing does to intrinsics, for
 * every method and for a batch of mixed sizes (centre-cropped). */
TEST(colmap_view_maps_match_preprocess) {
    const int sizes[3][2] = {{64, 48}, {48, 64}, {100, 37}};
    for (int method = 0; method < 4; method++)
        for (int mixed = 0; mixed < 2; mixed++) {
            int S = mixed ? 3 : 2;
            gs_image im[3];
            float K[27];
            int w[3], h[3];
            for (int s = 0; s < S; s++) {
                w[s] = mixed ? sizes[s][0] : 64;
                h[s] = mixed ? sizes[s][1] : 48;
                CHECK_OK(gs_image_alloc(&im[s], w[s], h[s], 3));
                float *k = K + 9 * s;
                memset(k, 0, 9 * sizeof *k);
                k[0] = 50.0f + s;
                k[4] = 51.0f;
                k[2] = w[s] / 2.0f + 1;
                k[5] = h[s] / 2.0f - 1;
                k[8] = 1;
            }
            float *x = NULL, Kout[27];
            int H, W, cropped;
            CHECK_OK(gs_da3_preprocess(im, S, 56, (gs_da3_resize_method)method, K, &x, &H, &W, Kout, &cropped));
            free(x);
            gs_da3_prediction p;
            memset(&p, 0, sizeof p);
            p.S = S;
            p.H = H;
            p.W = W;
            gs_da3_view_map maps[3];
            CHECK_OK(gs_da3_view_maps(&p, w, h, 56, (gs_da3_resize_method)method, maps));
            for (int s = 0; s < S; s++) {
                const float *ko = K + 9 * s, *kp = Kout + 9 * s;
                CHECK_NEAR(maps[s].ax * ko[0], kp[0], 1e-4);
                CHECK_NEAR(maps[s].ay * ko[4], kp[4], 1e-4);
                CHECK_NEAR(maps[s].ax * ko[2] + maps[s].bx, kp[2], 1e-4);
                CHECK_NEAR(maps[s].ay * ko[5] + maps[s].by, kp[5], 1e-4);
                gs_image_free(&im[s]);
            }
            if (mixed) CHECK(cropped);
        }
}

/* ---- the CLI ---------------------------------------------------------------- */

/* three 64x48 photos (not a network size) named image000.png .. image002.png */
static void make_photos(const char *dir) {
    CHECK_OK(gs_mkdirs(dir));
    for (int v = 0; v < 3; v++) {
        gs_image im;
        CHECK_OK(gs_image_alloc(&im, 64, 48, 3));
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++)
                for (int c = 0; c < 3; c++)
                    im.data[(y * 64 + x) * 3 + c] = (float)(((x + 3 * v) * (c + 1) + y * 2) % 256) / 255.0f;
        char p[1024];
        snprintf(p, sizeof p, "%s/image%03d.png", dir, v);
        CHECK_OK(gs_image_write_png(p, &im, 8));
        gs_image_free(&im);
    }
}

static void check_cli_model(const char *out, int views, int64_t ply_points) {
    char p[1024];
    snprintf(p, sizeof p, "%s/colmap", out);
    CHECK_MSG(!gs_is_dir(p), "the old %s is still written", p);
    gs_colmap_model m;
    snprintf(p, sizeof p, "%s/sparse/0", out);
    gs_status st = gs_colmap_model_read(p, &m);
    CHECK_MSG(st == GS_OK, "%s", gs_last_error());
    if (st) return;
    CHECK_EQ_INT(m.images.n, views);
    gs_cameras js;
    snprintf(p, sizeof p, "%s/cameras.json", out);
    int have_json = gs_file_exists(p) && gs_cameras_read(p, NULL, &js, NULL) == GS_OK;
    for (int i = 0; i < m.images.n && i < views; i++) {
        const gs_camera *c = &m.images.cams[i];
        char nm[32];
        snprintf(nm, sizeof nm, "image%03d.png", i);
        CHECK_STR(c->name, nm);
        CHECK_EQ_INT(c->width, 64);
        CHECK_EQ_INT(c->height, 48);
        if (have_json && js.n == views) {
            /* 64x48 -> 56x42 (x 0.875): the JSON's intrinsics are of the network input */
            CHECK_EQ_INT(js.cams[i].width, 56);
            CHECK_NEAR(c->fx, js.cams[i].fx * 64.0 / 56.0, 1e-3);
            CHECK_NEAR(c->fy, js.cams[i].fy * 48.0 / 42.0, 1e-3);
            CHECK_NEAR(c->cx, js.cams[i].cx * 64.0 / 56.0, 1e-3);
        }
    }
    if (have_json) gs_cameras_free(&js);
    CHECK(m.n_points > 0);
    if (ply_points >= 0) CHECK(m.n_points <= ply_points);
    CHECK(m.track_start[m.n_points] >= m.n_points);
    CHECK_EQ_INT(m.p2d_start[m.images.n], m.track_start[m.n_points]);
    for (int64_t k = 0; k < m.p2d_start[m.images.n]; k++)
        CHECK(m.p2d_xy[2 * k] > -1 && m.p2d_xy[2 * k] < 64 && m.p2d_xy[2 * k + 1] > -1 && m.p2d_xy[2 * k + 1] < 48);
    gs_colmap_model_free(&m);
}

TEST(cli_infer_writes_colmap_sparse) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_ANY "/model.safetensors");
    const char *ph = gs_test_tmp("cmx_photos");
    make_photos(ph);
    const char *out = gs_test_tmp("cmx_infer");
    char args[4096], *o = NULL, p[1024];
    snprintf(args, sizeof args,
             "infer --model " TINY_ANY " %s/image000.png %s/image001.png %s/image002.png --process-res 56 --out %s", ph,
             ph, ph, out);
    CHECK_EQ_INT(gs_test_run_gs(args, &o), 0);
    CHECK_MSG(o && strstr(o, "sparse/0 + images/: COLMAP binary model, 3 images"), "%s", o ? o : "");
    free(o);
    static const char *const files[3] = {"cameras.bin", "images.bin", "points3D.bin"};
    for (int k = 0; k < 3; k++) {
        snprintf(p, sizeof p, "%s/sparse/0/%s", out, files[k]);
        CHECK_MSG(gs_file_exists(p), "%s missing", p);
    }
    /* points.ply's count bounds the model's (a pixel observes one point) */
    uint8_t *d = NULL;
    size_t n = 0;
    snprintf(p, sizeof p, "%s/points.ply", out);
    int64_t ply = -1;
    if (gs_read_file(p, 1 << 26, &d, &n) == GS_OK) {
        const char *e = memmem(d, n < 4096 ? n : 4096, "element vertex ", 15);
        if (e) ply = atoll(e + 15);
        free(d);
    }
    CHECK(ply > 0);
    check_cli_model(out, 3, ply);
    /* gs info reads it back, folder and file */
    snprintf(args, sizeof args, "info %s/sparse/0 %s/sparse/0/points3D.bin", out, out);
    CHECK_EQ_INT(gs_test_run_gs(args, &o), 0);
    CHECK_MSG(o && strstr(o, "COLMAP binary model), 3 views") && strstr(o, "image001.png") && strstr(o, " 64x48  fx") &&
                  strstr(o, "points3D "),
              "%s", o ? o : "");
    free(o);
    /* --cameras takes it: the photos matched by name, pose-conditioned */
    snprintf(args, sizeof args,
             "infer --model " TINY_ANY " %s/image000.png %s/image001.png %s/image002.png --process-res 56 --cameras "
             "%s/sparse/0 --max-points 100 --out %s --quiet",
             ph, ph, ph, out, gs_test_tmp("cmx_infer2"));
    CHECK_EQ_INT(gs_test_run_gs(args, &o), 0);
    CHECK_MSG(o && !*o, "%s", o ? o : "");
    free(o);
    gs_colmap_model m, m0;
    snprintf(p, sizeof p, "%s/sparse/0", gs_test_tmp("cmx_infer2"));
    CHECK_OK(gs_colmap_model_read(p, &m));
    CHECK(m.n_points > 0 && m.n_points <= 100);
    /* the output cameras are the given ones: back at the photo size unchanged */
    snprintf(p, sizeof p, "%s/sparse/0", out);
    CHECK_OK(gs_colmap_model_read(p, &m0)); /* (on failure both are zeroed: the loop below does nothing) */
    for (int i = 0; i < 3 && i < m.images.n && i < m0.images.n; i++) {
        CHECK_NEAR(m.images.cams[i].fx, m0.images.cams[i].fx, 1e-3);
        CHECK_NEAR(m.images.cams[i].cy, m0.images.cams[i].cy, 1e-3);
        CHECK_EQ_INT(m.images.cams[i].width, 64);
    }
    gs_colmap_model_free(&m0);
    gs_colmap_model_free(&m);
    /* --colmap-text: the text model instead */
    snprintf(args, sizeof args,
             "infer --model " TINY_ANY " %s/image000.png %s/image001.png --process-res 56 --colmap-text --overwrite --out %s --quiet",
             ph, ph, out);
    CHECK_EQ_INT(gs_test_run_gs(args, &o), 0);
    free(o);
    snprintf(p, sizeof p, "%s/sparse/0/points3D.txt", out);
    CHECK(gs_file_exists(p));
    snprintf(p, sizeof p, "%s/sparse/0/cameras.bin", out);
    CHECK(!gs_file_exists(p));
    gs_cameras c;
    gs_camera_format f;
    snprintf(p, sizeof p, "%s/sparse/0", out);
    CHECK_OK(gs_cameras_read(p, NULL, &c, &f));
    CHECK_EQ_INT(f, GS_CAM_COLMAP_TEXT);
    CHECK_EQ_INT(c.n, 2);
    if (c.n == 2) CHECK(c.cams[1].width == 64 && !strcmp(c.cams[1].name, "image001.png"));
    gs_cameras_free(&c);
}

TEST(cli_colmap_corrupt_model_errors) {
    NEED_GS_BIN();
    gs_colmap_model m;
    make_model(&m);
    const char *dir = gs_test_tmp("cmx_cli_bad");
    CHECK_OK(gs_colmap_model_write(dir, &m, 0));
    gs_colmap_model_free(&m);
    char p[1024], args[2048], *o = NULL;
    uint8_t *d;
    size_t n;
    snprintf(p, sizeof p, "%s/points3D.bin", dir);
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &n));
    write_bytes(p, d, n - 9);
    free(d);
    snprintf(args, sizeof args, "info %s", dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &o), 1);
    CHECK_MSG(o && strstr(o, "points3D.bin: truncated in point 2"), "%s", o ? o : "");
    free(o);
    snprintf(p, sizeof p, "%s/cameras.bin", dir);
    CHECK_OK(gs_read_file(p, 1 << 20, &d, &n));
    uint64_t huge = (uint64_t)1 << 40;
    memcpy(d, &huge, 8);
    write_bytes(p, d, n);
    free(d);
    /* --cameras refuses it before any model is loaded */
    const char *ph = gs_test_tmp("cmx_photos_bad");
    make_photos(ph);
    snprintf(args, sizeof args, "infer --model " TINY_ANY " %s/image000.png --cameras %s --out %s", ph, dir,
             gs_test_tmp("cmx_r"));
    CHECK_EQ_INT(gs_test_run_gs(args, &o), 1);
    CHECK_MSG(o && strstr(o, "cameras.bin: declares 1099511627776 cameras"), "%s", o ? o : "");
    free(o);
    snprintf(args, sizeof args, "info %s/cameras.bin", dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &o), 1);
    CHECK_MSG(o && strstr(o, "cameras.bin: declares 1099511627776 cameras"), "%s", o ? o : "");
    free(o);
}

TEST(cli_nvs_writes_colmap_sparse) {
    NEED_GS_BIN();
    REQUIRE_GOLDEN(TINY_GS "/model.safetensors");
    const char *ph = gs_test_tmp("cmx_photos_nvs");
    make_photos(ph);
    const char *out = gs_test_tmp("cmx_nvs");
    char args[4096], *o = NULL;
    snprintf(args, sizeof args, "nvs --model " TINY_GS " %s/image000.png %s/image001.png --process-res 56 --no-video --out %s",
             ph, ph, out);
    CHECK_EQ_INT(gs_test_run_gs(args, &o), 0);
    CHECK_MSG(o && strstr(o, "sparse/0 + images/: COLMAP binary model, 2 images"), "%s", o ? o : "");
    free(o);
    check_cli_model(out, 2, -1);
}

/* ---- pycolmap --------------------------------------------------------------- */

static const char k_py[] =
    "import sys, pycolmap\n"
    "r = pycolmap.Reconstruction(sys.argv[1])\n"
    "obs = sum(p.track.length() for p in r.points3D.values())\n"
    "two = sum(1 for p in r.points3D.values() if p.track.length() >= 2)\n"
    "p2d = sum(im.num_points2D() for im in r.images.values())\n"
    "c = r.cameras[1]\n"
    "im = r.images[1]\n"
    "print('counts', len(r.cameras), len(r.images), len(r.points3D), obs, two, p2d)\n"
    "print('cam1', c.model.name, c.width, c.height, '%.9f %.9f %.9f %.9f' % tuple(c.params))\n"
    "print('img1', im.name, im.camera_id)\n"
    "print('err %.9f' % r.compute_mean_reprojection_error())\n";

TEST(colmap_pycolmap_reads_export) {
    const char *py = getenv("GS_PYTHON");
    if (!py || !*py) TEST_SKIP("GS_PYTHON not set (a python with pycolmap: python3 -m venv V && V/bin/pip install pycolmap)");
    char cmd[4096], *o = NULL;
    snprintf(cmd, sizeof cmd, "'%s' -c 'import pycolmap' 2>&1", py);
    if (gs_test_run(cmd, &o) != 0) {
        free(o);
        TEST_SKIP("$GS_PYTHON cannot import pycolmap");
    }
    free(o);
    const char *script = gs_test_tmp("cmx_check.py");
    write_bytes(script, (const uint8_t *)k_py, sizeof k_py - 1);
    /* the two-view model with photos twice the network size */
    two_view t;
    make_two_view(&t);
    gs_da3_view_map maps[2] = {{32, 32, 0.5, 0, 0.5, 0}, {32, 32, 0.5, 0, 0.5, 0}};
    const char *names[2] = {"image000.png", "image001.png"};
    gs_colmap_model m;
    gs_da3_colmap_opts opts = {-1, 0, 0};
    CHECK_OK(gs_da3_colmap_model(&t.p, maps, NULL, names, &opts, &m));
    for (int text = 0; text < 2; text++) {
        const char *dir = gs_test_tmp(text ? "cmx_py_txt/sparse/0" : "cmx_py/sparse/0");
        CHECK_OK(gs_colmap_model_write(dir, &m, text));
        snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 2>&1", py, script, dir);
        CHECK_EQ_INT(gs_test_run(cmd, &o), 0);
        int64_t two = 0;
        for (int64_t j = 0; j < m.n_points; j++) two += m.track_start[j + 1] - m.track_start[j] >= 2;
        char want[256];
        snprintf(want, sizeof want, "counts 2 2 %lld %lld %lld %lld\n", (long long)m.n_points,
                 (long long)m.track_start[m.n_points], (long long)two, (long long)m.p2d_start[2]);
        CHECK_MSG(o && strstr(o, want), "pycolmap said:\n%s\nwanted %s", o ? o : "", want);
        snprintf(want, sizeof want, "cam1 PINHOLE 32 32 %.9f %.9f %.9f %.9f\n", m.images.cams[0].fx, m.images.cams[0].fy,
                 m.images.cams[0].cx, m.images.cams[0].cy);
        CHECK_MSG(o && strstr(o, want), "pycolmap said:\n%s\nwanted %s", o ? o : "", want);
        CHECK_MSG(o && strstr(o, "img1 image000.png 1\n"), "%s", o ? o : "");
        double err = -1;
        const char *e = o ? strstr(o, "err ") : NULL;
        if (e) err = atof(e + 4);
        CHECK_NEAR(err, 0, 1e-6);
        if (o) fprintf(stderr, "  pycolmap (%s): %s", text ? "text" : "binary", o);
        free(o);
    }
    gs_colmap_model_free(&m);
    /* and the CLI's model of real (random-weight) predictions */
    if (getenv("GS_BIN") && gs_file_exists(TINY_ANY "/model.safetensors")) {
        const char *ph = gs_test_tmp("cmx_photos_py");
        make_photos(ph);
        const char *out = gs_test_tmp("cmx_infer_py");
        snprintf(cmd, sizeof cmd,
                 "infer --model " TINY_ANY " %s/image000.png %s/image001.png %s/image002.png --process-res 56 --out %s "
                 "--quiet",
                 ph, ph, ph, out);
        CHECK_EQ_INT(gs_test_run_gs(cmd, &o), 0);
        free(o);
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/sparse/0", out);
        gs_status st = gs_colmap_model_read(dir, &m);
        CHECK_MSG(st == GS_OK, "%s", gs_last_error());
        if (st) return;
        snprintf(cmd, sizeof cmd, "'%s' '%s' '%s' 2>&1", py, script, dir);
        CHECK_EQ_INT(gs_test_run(cmd, &o), 0);
        int64_t two = 0;
        for (int64_t j = 0; j < m.n_points; j++) two += m.track_start[j + 1] - m.track_start[j] >= 2;
        char want[256];
        snprintf(want, sizeof want, "counts 3 3 %lld %lld %lld %lld\n", (long long)m.n_points,
                 (long long)m.track_start[m.n_points], (long long)two, (long long)m.p2d_start[3]);
        CHECK_MSG(o && strstr(o, want), "pycolmap said:\n%s\nwanted %s", o ? o : "", want);
        CHECK(two > 0); /* the three random-weight views still share some surface */
        CHECK_MSG(o && strstr(o, "cam1 PINHOLE 64 48 "), "%s", o ? o : "");
        if (o) fprintf(stderr, "  pycolmap (gs infer): %s", o);
        free(o);
        gs_colmap_model_free(&m);
    }
}

/* intrinsics + points without images.bin (as LLFF's fern ships): gs info
 * still describes it */
TEST(cli_info_colmap_without_images) {
    NEED_GS_BIN();
    gs_colmap_model m;
    make_model(&m);
    const char *dir = gs_test_tmp("cmx_noimg");
    CHECK_OK(gs_colmap_model_write(dir, &m, 0));
    gs_colmap_model_free(&m);
    char p[1024], args[2048], *o = NULL;
    snprintf(p, sizeof p, "%s/images.bin", dir);
    unlink(p);
    snprintf(args, sizeof args, "info %s", dir);
    CHECK_EQ_INT(gs_test_run_gs(args, &o), 0);
    CHECK_MSG(o && strstr(o, "intrinsics only") && strstr(o, "points3D 3\n"), "%s", o ? o : "");
    free(o);
}
