#!/usr/bin/env python3
"""make_raster_goldens.py - per-splat projection and colour goldens for the
rasterizer from gsplat's own pure-PyTorch reference, written to
tests/golden/raster/gsplat_projection.safetensors and checked by
tests/test_raster_gsplat.c.

gsplat's CUDA kernels need a GPU, but gsplat ships a PyTorch twin of them,
gsplat/cuda/_torch_impl.py, which runs on the CPU. This script loads that one
file (nothing else of gsplat) from a gsplat checkout or mirror at the commit
Depth Anything 3 pins (0b4dddf, gsplat 1.5.2) and calls, on random splats:

  _quat_scale_to_covar_preci   world covariance from quaternion and scales
  _fully_fused_projection      world -> camera, EWA with the clamped Jacobian,
                               eps2d 0.3, near 0.01 / far 1e10, compensation
                               (the antialiased mode's opacity factor)
  _spherical_harmonics         degrees 0..3 from the camera centre, then
                               clamp_min(colors + 0.5, 0) as
                               gsplat.rendering.rasterization does

The torch twin's radius is the plain 3 sigma box (ceil(3.33 sqrt(cov))), not
the CUDA kernel's opacity-aware one that gs implements, so only its validity
test (det > 0, near < depth < far, 3.33-sigma box overlapping the image) is
stored, as a superset of what gs may keep.

Splats: 600 in float32, means spread beyond the field of view (the Jacobian
clamp), some behind the camera or before the near plane, needles and flat
discs, unnormalised quaternions; SH of degree 3. Cameras: 3 rotated views with
off-centre principal points, one non-square pixel (fx != fy).

The reference runs twice on the same float32 inputs: in float64, the values
tests compare with (stored rounded to float32), and in float32, gsplat's own
precision, stored as cC.f32.*: for needle-like splats the float32 projection
is ill-conditioned (the determinant of a nearly singular 2D covariance), and
the test asks gs to be about as accurate as gsplat's own float32 code there.

Each file holds in.means (N,3), in.scales (N,3), in.quats (N,4, w x y z),
in.opacities (N), in.sh (N,16,3), and per camera c: cC.viewmat (4,4), cC.K
(3,3), cC.means2d (N,2), cC.conics (N,3), cC.depths (N), cC.comp (N) (and the
same four as cC.f32.*), cC.valid (N, float 0/1), cC.rgbD (N,3) for D = 0..3;
metadata width, height, cameras, gsplat commit, torch version.

Usage: /tmp/evalvenv/bin/python tools/make_raster_goldens.py GSPLAT
(GSPLAT: a gsplat checkout, or a bare clone / mirror; needs torch, numpy,
safetensors, typing_extensions)."""
import importlib.util
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import save_file

COMMIT = "0b4dddf04cb687367602c01196913cde6a743d70"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "raster")
W, H = 160, 120
N = 600


def load_torch_impl(src):
    path = os.path.join(src, "gsplat", "cuda", "_torch_impl.py")
    if not os.path.isfile(path):  # a bare clone or mirror: read the file at the pinned commit
        text = subprocess.run(["git", "--git-dir", src, "show", COMMIT + ":gsplat/cuda/_torch_impl.py"],
                              check=True, capture_output=True).stdout
        tmp = tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False)
        tmp.write(text)
        tmp.close()
        path = tmp.name
    spec = importlib.util.spec_from_file_location("gsplat_torch_impl", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def look_at(eye, target, up):
    f = target - eye
    f /= np.linalg.norm(f)
    r = np.cross(f, up)
    r /= np.linalg.norm(r)
    u = np.cross(f, r)  # OpenCV: x right, y down, z forward
    Rw = np.stack([r, u, f])  # world -> camera rows
    V = np.eye(4)
    V[:3, :3] = Rw
    V[:3, 3] = -Rw @ eye
    return V.astype(np.float32)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    g = load_torch_impl(sys.argv[1])
    rng = np.random.default_rng(20261121)
    means = rng.uniform(-1, 1, (N, 3)) * np.array([2.5, 2.0, 1.5])
    scales = np.exp(rng.uniform(np.log(0.003), np.log(0.3), (N, 3)))
    kind = np.arange(N) % 6
    scales[kind == 1] *= np.array([8.0, 0.05, 0.05])  # needles
    scales[kind == 2] *= np.array([3.0, 3.0, 0.01])  # flat discs
    quats = rng.normal(size=(N, 4)) * rng.uniform(0.2, 3.0, (N, 1))  # not normalised
    opac = rng.uniform(0.01, 1.0, N)
    opac[kind == 3] = rng.uniform(1.0 / 255, 1.2 / 255, (kind == 3).sum())  # at the alpha threshold
    sh = rng.normal(scale=0.4, size=(N, 16, 3))
    means, scales, quats, opac, sh = (np.asarray(a, np.float32) for a in (means, scales, quats, opac, sh))

    cams = [
        (look_at(np.array([0.3, -0.4, -4.0]), np.zeros(3), np.array([0, -1.0, 0])), (150.0, 150.0, 83.3, 57.1)),
        (look_at(np.array([3.5, 1.0, -1.5]), np.array([0.2, 0, 0.1]), np.array([0.1, -1.0, 0])),
         (110.0, 123.0, 70.2, 66.6)),
        (look_at(np.array([-1.0, 0.5, 2.2]), np.array([0, 0, 0.3]), np.array([0, -1.0, 0.2])),
         (260.0, 260.0, 81.0, 59.0)),  # close: many splats off-screen or behind
    ]
    out = {"in.means": means, "in.scales": scales, "in.quats": quats, "in.opacities": opac, "in.sh": sh}
    for c, (V, (fx, fy, cx, cy)) in enumerate(cams):
        K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]], np.float32)
        p = "c%d." % c
        out[p + "viewmat"], out[p + "K"] = V, K
        for dt, tag in ((torch.float64, ""), (torch.float32, "f32.")):
            tm, ts, tq, tsh, tV, tK = (torch.from_numpy(a).to(dt) for a in (means, scales, quats, sh, V[None], K[None]))
            covars, _ = g._quat_scale_to_covar_preci(tq, ts, compute_covar=True, compute_preci=False)
            radii, means2d, depths, conics, comp = g._fully_fused_projection(
                tm, covars, tV, tK, W, H, eps2d=0.3, near_plane=0.01, far_plane=1e10, calc_compensations=True)
            out[p + tag + "means2d"] = means2d[0].numpy()
            out[p + tag + "conics"] = conics[0].numpy()
            out[p + tag + "depths"] = depths[0].numpy()
            out[p + tag + "comp"] = comp[0].numpy()
            if tag:
                continue
            valid = (radii[0] > 0).all(-1)
            out[p + "valid"] = valid.numpy().astype(np.float32)
            dirs = tm - torch.inverse(tV)[0, :3, 3][None]
            for d in range(4):
                out[p + "rgb%d" % d] = torch.clamp_min(g._spherical_harmonics(d, dirs, tsh) + 0.5, 0.0).numpy()
        print("camera %d: %d of %d splats valid for gsplat" % (c, int(valid.sum()), N))
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "gsplat_projection.safetensors")
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}, path,
              metadata={"width": str(W), "height": str(H), "cameras": str(len(cams)), "gsplat": COMMIT,
                        "torch": torch.__version__})
    print("wrote", path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
