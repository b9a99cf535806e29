/* fuzz_colmap_bin.c - libFuzzer target for the whole binary COLMAP model
 * reader (gs_colmap_model_bin_mem: cameras.bin + images.bin + points3D.bin
 * with every reference checked). Input: u16 n_cam, u16 n_img (little-
 * endian), then n_cam bytes of cameras.bin, n_img of images.bin, and the
 * rest is points3D.bin. A model it accepts must pass the validator again and
 * have every 2D point and track element inside its arrays. */
#include "data/cameras.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    size_t nc = (size_t)data[0] | (size_t)data[1] << 8, ni = (size_t)data[2] | (size_t)data[3] << 8;
    data += 4;
    size -= 4;
    if (nc > size) nc = size;
    if (ni > size - nc) ni = size - nc;
    gs_colmap_model m;
    if (gs_colmap_model_bin_mem(data, nc, "cameras.bin", data + nc, ni, "images.bin", data + nc + ni, size - nc - ni,
                                "points3D.bin", &m) != GS_OK)
        return 0;
    if (gs_colmap_model_validate(&m, "fuzz") != GS_OK) abort();
    for (int i = 0; i < m.images.n; i++)
        if (gs_camera_validate(&m.images.cams[i], "fuzz", i) != GS_OK) abort();
    const int64_t n2d = m.p2d_start[m.images.n];
    double acc = 0;
    for (int64_t k = 0; k < n2d; k++) acc += m.p2d_xy[2 * k] + m.p2d_xy[2 * k + 1] + (double)m.p2d_point3d[k];
    for (int64_t j = 0; j < m.n_points; j++) {
        acc += m.xyz[3 * j] + m.rgb[3 * j] + m.error[j];
        for (int64_t e = m.track_start[j]; e < m.track_start[j + 1]; e++) acc += m.track[2 * e] + m.track[2 * e + 1];
    }
    (void)acc;
    gs_colmap_model_free(&m);
    return 0;
}
