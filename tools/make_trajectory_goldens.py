#!/usr/bin/env python3
"""make_trajectory_goldens.py - reference camera paths for raster/trajectory.c,
written to tests/golden/trajectory/<set>.safetensors and checked by
tests/test_trajectory.c.

The paths come from Depth Anything 3's own code, called the way
export_to_gs_video calls it: run_renderer_in_chunk_w_trj_mode(...) from
depth_anything_3/model/utils/gs_renderer.py (which uses
utils/camera_trj_helpers.py). gsplat is not needed: the module's
`rasterization` is replaced by a recorder that keeps the viewmats (w2c) and
pixel Ks that DA3 would hand to gsplat and returns empty images, and
`affine_inverse` is wrapped to keep the camera-to-world path itself.

Inputs are synthetic camera sets (float32 w2c + pixel K, one image size):
  v1    1 view                    wander, dolly_zoom
  v2    2 views, converging       every mode but wobble_inter
  v5    5 views on an arc, per-view intrinsics, off-centre principal point
  v12   12 forward-facing views with jitter; views 4 and 5 only translate
        (parallel looks: interpolate_extrinsics' midpoint pivot)
  v60   60 views: (S-1)*8 > 432, so inter_len = 240 // 59 = 4
  v150  150 views: inter_len = 240 // 149 = 1, so interpolate returns the input
        poses

Each file holds in.w2c (S,4,4), in.K (S,3,3) and, per mode M,
M.c2w (F,3,4) (the path), M.w2c (F,3,4) (the viewmats given to gsplat),
M.Kn (F,4) (fx, fy, cx, cy of the path's normalised intrinsics) and M.K (F,4)
(the pixel K given to gsplat: focal from the field of view, principal point at
the image centre), all float32; metadata width, height. Wander and dolly zoom
start from view 0 only, so they are stored for v1 and v5 alone.

Usage: /tmp/evalvenv/bin/python tools/make_trajectory_goldens.py [DA3_SRC]
(DA3_SRC defaults to /tmp/da3src/src; needs torch, numpy, scipy, cv2, einops,
safetensors)."""
import math
import os
import sys

import numpy as np
import torch

DA3_SRC = sys.argv[1] if len(sys.argv) > 1 else "/tmp/da3src/src"
sys.path.insert(0, DA3_SRC)
import depth_anything_3.model.utils.gs_renderer as gr  # noqa: E402
from safetensors.numpy import save_file  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "trajectory")
W, H = 128, 96  # small images: the recorder returns (F, H, W) buffers

rec = {}


def fake_rasterization(**kw):
    rec.setdefault("viewmats", []).append(kw["viewmats"].detach().clone())
    rec.setdefault("Ks", []).append(kw["Ks"].detach().clone())
    v, h, w = kw["viewmats"].shape[0], kw["height"], kw["width"]
    colors = torch.zeros(v, h, w, 4)
    return colors, torch.zeros(v, h, w, 1), {"radii": torch.zeros(v, 1, 2), "means2d": torch.zeros(v, 1, 2)}


_affine_inverse = gr.affine_inverse


def recording_affine_inverse(a):
    rec["last_affine_inverse_input"] = a.detach().clone()
    return _affine_inverse(a)


_render_3dgs = gr.render_3dgs


def recording_render_3dgs(**kw):
    rec.setdefault("Kn", []).append(kw["intrinsics"].detach().clone())
    return _render_3dgs(**kw)


gr.rasterization = fake_rasterization
gr.affine_inverse = recording_affine_inverse
gr.render_3dgs = recording_render_3dgs


class FakeGaussians:
    # float64 means: render_3dgs builds K with einops.repeat (an expanded view) and
    # .to(means); on CUDA that copies, on the CPU with float32 it would not, and the
    # in-place focal assignment would fail. The float32 focal values are kept exactly.
    means = torch.zeros(1, 1, 3, dtype=torch.float64)
    scales = torch.ones(1, 1, 3)
    rotations = torch.zeros(1, 1, 4)
    opacities = torch.zeros(1, 1)
    harmonics = torch.zeros(1, 1, 3, 9)


def look_at_c2w(centre, target, up=(0.0, -1.0, 0.0)):
    """OpenCV camera-to-world: z towards target, y down (world up = -y)."""
    c, t, u = (np.asarray(v, np.float64) for v in (centre, target, up))
    z = t - c
    z /= np.linalg.norm(z)
    x = np.cross(-u, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, c
    return m


def make_set(name, rng):
    cams, Ks = [], []

    def K(f, cx=W / 2, cy=H / 2, fy=None):
        return np.array([[f, 0, cx], [0, f if fy is None else fy, cy], [0, 0, 1]], np.float64)

    if name == "v1":
        cams = [look_at_c2w([0.3, -0.2, -2.5], [0, 0, 0.5])]
        Ks = [K(110.0)]
    elif name == "v2":
        cams = [look_at_c2w([-0.6, -0.1, -2.0], [0, 0, 1]), look_at_c2w([0.7, -0.3, -1.8], [0.1, 0, 1.2])]
        Ks = [K(105.0), K(115.0)]
    elif name == "v5":
        for i in range(5):
            a = -0.6 + 0.3 * i
            c = [2.5 * math.sin(a), -0.4 + 0.1 * i, -2.5 * math.cos(a) + 1.0]
            cams.append(look_at_c2w(c, [0.05 * i, 0.1, 1.0]))
            Ks.append(K(100.0 + 3 * i, cx=W / 2 + 4.0, cy=H / 2 - 3.0, fy=102.0 + 2 * i))
    elif name == "v12":
        for i in range(12):
            c = [0.15 * i - 0.8 + 0.03 * rng.standard_normal(), 0.05 * rng.standard_normal(), 0.03 * rng.standard_normal()]
            tgt = [0.2 * rng.standard_normal(), 0.2 * rng.standard_normal(), 4.0]
            cams.append(look_at_c2w(c, tgt))
            Ks.append(K(112.0))
        cams[5] = cams[4].copy()
        cams[5][:3, 3] += [0.12, 0.01, 0.02]  # pure translation: parallel looks
    elif name in ("v60", "v150"):
        n = int(name[1:])
        for i in range(n):
            a = 2 * math.pi * i / n * 0.8
            c = [3 * math.sin(a), -0.5 + 0.2 * math.sin(3 * a), -3 * math.cos(a)]
            cams.append(look_at_c2w(c, [0.1 * math.cos(a), 0, 0]))
            Ks.append(K(110.0))
    c2w = np.stack(cams)
    w2c = np.linalg.inv(c2w).astype(np.float32)
    w2c[:, 3, :] = [0, 0, 0, 1]
    return w2c, np.stack(Ks).astype(np.float32)


MODES = {
    "v1": ["wander", "dolly_zoom"],
    "v2": ["original", "smooth", "interpolate", "interpolate_smooth", "extend"],
    "v5": ["original", "smooth", "interpolate", "interpolate_smooth", "extend", "wander", "dolly_zoom", "wobble_inter"],
    "v12": ["original", "smooth", "interpolate", "interpolate_smooth", "extend", "wobble_inter"],
    "v60": ["smooth", "interpolate", "extend"],
    "v150": ["interpolate"],
}


def run(w2c, K, mode):
    rec.clear()
    gr.run_renderer_in_chunk_w_trj_mode(
        gaussians=FakeGaussians(), extrinsics=torch.from_numpy(w2c)[None], intrinsics=torch.from_numpy(K)[None],
        image_shape=(H, W), chunk_size=4, trj_mode=mode, use_sh=True, color_mode="RGB+ED")
    c2w = rec["last_affine_inverse_input"][0].numpy().astype(np.float32)
    vm = torch.cat(rec["viewmats"]).numpy().astype(np.float32)
    Ks = torch.cat(rec["Ks"]).numpy().astype(np.float32)
    Kn = torch.cat(rec["Kn"]).numpy().astype(np.float32)
    assert c2w.shape[0] == vm.shape[0] == Ks.shape[0] == Kn.shape[0]
    return c2w, vm, Kn, Ks


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20251121)
    for name, modes in MODES.items():
        w2c, K = make_set(name, rng)
        tensors = {"in.w2c": w2c, "in.K": K}
        for m in modes:
            c2w, vm, Kn, Ks = run(w2c, K, m)
            tensors[m + ".c2w"] = np.ascontiguousarray(c2w[:, :3, :])
            tensors[m + ".w2c"] = np.ascontiguousarray(vm[:, :3, :])
            tensors[m + ".Kn"] = np.ascontiguousarray(Kn[:, [0, 1, 0, 1], [0, 1, 2, 2]])
            tensors[m + ".K"] = np.ascontiguousarray(Ks[:, [0, 1, 0, 1], [0, 1, 2, 2]])
            print(f"{name:5s} {m:18s} {c2w.shape[0]:4d} frames")
        path = os.path.join(OUT, name + ".safetensors")
        save_file(tensors, path, metadata={"width": str(W), "height": str(H),
                                           "source": "depth_anything_3 run_renderer_in_chunk_w_trj_mode"})
        print("wrote", os.path.relpath(path), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
