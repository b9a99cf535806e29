/* fuzz_cameras.c - libFuzzer target for the camera readers. The first byte
 * picks the parser, the rest is its input: 0 camera JSON (gs-cameras,
 * transforms.json, INRIA), 1 cameras.bin, 2 images.bin, 3 cameras.txt,
 * 4 images.txt, 5 points3D.bin, 6 points3D.txt, 7 LLFF poses_bounds.npy.
 * The images readers get two fixed cameras (ids 1 and 2) to attach to. */
#include "data/cameras.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int which = data[0] % 8;
    data++;
    size--;
    gs_camera k[2];
    memset(k, 0, sizeof k);
    for (int i = 0; i < 2; i++) {
        k[i].R[0] = k[i].R[4] = k[i].R[8] = 1;
        k[i].width = 64;
        k[i].height = 48;
        k[i].fx = k[i].fy = 50;
        k[i].cx = 32;
        k[i].cy = 24;
        k[i].camera_id = i + 1;
    }
    gs_cameras intr = {2, k}, out = {0, NULL};
    float *xyz = NULL;
    uint8_t *rgb = NULL;
    int64_t n = 0;
    gs_camera_format fmt;
    switch (which) {
    case 0: gs_cameras_read_json_mem((const char *)data, size, "fuzz.json", NULL, &out, &fmt); break;
    case 1: gs_colmap_cameras_bin_mem(data, size, "cameras.bin", &out); break;
    case 2: gs_colmap_images_bin_mem(data, size, "images.bin", &intr, &out); break;
    case 3: gs_colmap_cameras_txt_mem((const char *)data, size, "cameras.txt", &out); break;
    case 4: gs_colmap_images_txt_mem((const char *)data, size, "images.txt", &intr, &out); break;
    case 5: gs_colmap_points_bin_mem(data, size, "points3D.bin", &xyz, &rgb, &n); break;
    case 6: gs_colmap_points_txt_mem((const char *)data, size, "points3D.txt", &xyz, &rgb, &n); break;
    default: gs_cameras_read_llff_mem(data, size, "poses_bounds.npy", 8, &out); break;
    }
    /* whatever was returned must be self-consistent */
    for (int i = 0; i < out.n; i++)
        if (gs_camera_validate(&out.cams[i], "fuzz", i) != GS_OK) abort();
    for (int64_t i = 0; i < n * 3; i++) (void)(xyz[i] + rgb[i]);
    gs_cameras_free(&out);
    free(xyz);
    free(rgb);
    return 0;
}
