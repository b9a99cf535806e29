#!/usr/bin/env python3
"""bench_gsplat.py - time gsplat on the cases `gs bench render --export DIR` wrote,
and compare its images with gs's own renders of the same cameras.

Runs on a GPU machine with torch and gsplat (issue 3: "faster than gsplat on the
same scene, cameras and settings"). gsplat is called as Depth Anything 3 calls it
(shared/docs/da3-architecture.md 7.1): packed=False, near 0.01, far 1e10,
eps2d 0.3, tile_size 16, classic rasterisation (antialiased where the scene says
so), SH from the scene, black background, render_mode RGB.

    build/gs bench render --device cuda --export /tmp/exp --json /tmp/gs_render.json
    for each case: build/gs render /tmp/exp/CASE.ply --cameras /tmp/exp/CASE_WxH.json \
        --out /tmp/gsr/CASE_WxH --device cuda [--antialiased]
    python3 tools/bench_gsplat.py --export /tmp/exp --gs-renders /tmp/gsr \
        --gs-json /tmp/gs_render.json --json /tmp/gsplat.json

Timing: CUDA events around each rasterization() call (projection, SH, tile
intersection, sort, blending), --warmup untimed frames, then --runs passes over
the cameras; the median frame. The image check: PSNR of gsplat's frame, clamped
and rounded to 8 bits, against gs's PNG (identical semantics give 40+ dB; the
8-bit rounding of both caps it near 58 dB)."""
import argparse
import json
import math
import os
import sys

import numpy as np


def read_ply(path):
    """INRIA 3DGS binary little-endian PLY -> dict of numpy arrays (activated)."""
    with open(path, "rb") as f:
        props, n = [], 0
        line = f.readline()
        if line.strip() != b"ply":
            raise SystemExit("%s: not a PLY file" % path)
        while True:
            line = f.readline()
            if not line:
                raise SystemExit("%s: truncated header" % path)
            w = line.split()
            if w[:2] == [b"element", b"vertex"]:
                n = int(w[2])
            elif w[:1] == [b"property"]:
                if w[1] != b"float":
                    raise SystemExit("%s: property %s is not float" % (path, w[2].decode()))
                props.append(w[2].decode())
            elif w[:1] == [b"format"] and w[1] != b"binary_little_endian":
                raise SystemExit("%s: not binary little-endian" % path)
            elif w[:1] == [b"end_header"]:
                break
        data = np.fromfile(f, dtype="<f4", count=n * len(props))
    if data.size != n * len(props):
        raise SystemExit("%s: truncated data" % path)
    a = data.reshape(n, len(props))
    col = {p: i for i, p in enumerate(props)}

    def get(names):
        return np.stack([a[:, col[k]] for k in names], axis=1)

    rest = sorted((p for p in props if p.startswith("f_rest_")), key=lambda p: int(p[7:]))
    k = len(rest) // 3 + 1
    dc = get(["f_dc_0", "f_dc_1", "f_dc_2"])
    sh = np.zeros((n, k, 3), np.float32)
    sh[:, 0] = dc
    if k > 1:  # f_rest is channel-major: all of R's coefficients, then G's, then B's
        sh[:, 1:] = get(rest).reshape(n, 3, k - 1).transpose(0, 2, 1)
    return {
        "means": get(["x", "y", "z"]),
        "quats": get(["rot_0", "rot_1", "rot_2", "rot_3"]),
        "scales": np.exp(get(["scale_0", "scale_1", "scale_2"])),
        "opacities": 1.0 / (1.0 + np.exp(-a[:, col["opacity"]])),
        "sh": sh,
        "sh_degree": int(round(math.sqrt(k))) - 1,
    }


def read_cameras(path):
    with open(path) as f:
        js = json.load(f)
    out = []
    for c in js["cameras"]:
        w2c = np.eye(4, dtype=np.float32)
        w2c[:3, :3] = np.array(c["R"], np.float32)
        w2c[:3, 3] = np.array(c["t"], np.float32)
        K = np.array([[c["fx"], 0, c["cx"]], [0, c["fy"], c["cy"]], [0, 0, 1]], np.float32)
        out.append((w2c, K, int(c["width"]), int(c["height"])))
    return out


def read_png(path):
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--export", required=True, help="the folder gs bench render --export wrote")
    ap.add_argument("--gs-renders", help="folder of gs render outputs, one sub-folder CASE_WxH per case")
    ap.add_argument("--gs-json", help="gs bench render --json output, for the side-by-side table")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()

    import torch
    import gsplat

    dev = torch.device("cuda")
    with open(os.path.join(args.export, "manifest.json")) as f:
        manifest = json.load(f)
    gs_ms = {}
    if args.gs_json:
        with open(args.gs_json) as f:
            for r in json.load(f).get("results", []):
                if r.get("device") == "cuda":
                    gs_ms[(r.get("gaussians"), r.get("width"), r.get("height"))] = r.get("median_ms")
    print("gsplat %s, torch %s, %s" % (getattr(gsplat, "__version__", "?"), torch.__version__,
                                       torch.cuda.get_device_name(0)))
    print("%-24s %-10s %10s %12s %12s %10s" % ("case", "size", "gaussians", "gsplat ms", "gs ms", "PSNR dB"))
    rows, scenes = [], {}
    for c in manifest:
        if c["scene"] not in scenes:
            s = read_ply(os.path.join(args.export, c["scene"]))
            scenes.clear()  # one scene on the GPU at a time
            scenes[c["scene"]] = {k: (torch.from_numpy(np.ascontiguousarray(v)).to(dev) if isinstance(v, np.ndarray)
                                      else v) for k, v in s.items()}
        s = scenes[c["scene"]]
        cams = read_cameras(os.path.join(args.export, c["cameras"]))
        mode = "antialiased" if c.get("antialiased") else "classic"

        def render(cam):
            w2c, K, w, h = cam
            img, _, _ = gsplat.rasterization(
                s["means"], s["quats"], s["scales"], s["opacities"], s["sh"],
                torch.from_numpy(w2c)[None].to(dev), torch.from_numpy(K)[None].to(dev), w, h,
                near_plane=0.01, far_plane=1e10, sh_degree=s["sh_degree"], packed=False, tile_size=16,
                render_mode="RGB", rasterize_mode=mode, eps2d=0.3, radius_clip=0.0)
            return img[0]

        with torch.no_grad():
            for i in range(args.warmup):
                render(cams[i % len(cams)])
            times = []
            for _ in range(args.runs):
                for cam in cams:
                    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    a.record()
                    render(cam)
                    b.record()
                    torch.cuda.synchronize()
                    times.append(a.elapsed_time(b))
            psnr = None
            tag = "%s_%dx%d" % (c["case"], c["width"], c["height"])
            if args.gs_renders and os.path.isdir(os.path.join(args.gs_renders, tag)):
                worst = math.inf
                for i, cam in enumerate(cams):
                    ours = read_png(os.path.join(args.gs_renders, tag, "%05d.png" % i))
                    theirs = render(cam).clamp(0, 1).cpu().numpy().astype(np.float64)
                    theirs = np.round(theirs * 255.0) / 255.0
                    mse = float(np.mean((ours - theirs) ** 2))
                    worst = min(worst, math.inf if mse == 0 else -10 * math.log10(mse))
                psnr = worst
        med = float(np.median(times))
        ours_ms = gs_ms.get((c["gaussians"], c["width"], c["height"]))
        rows.append({"case": c["case"], "width": c["width"], "height": c["height"], "gaussians": c["gaussians"],
                     "gsplat_median_ms": med, "gs_cuda_median_ms": ours_ms, "min_psnr_db_gs_vs_gsplat": psnr})
        print("%-24s %-10s %10d %12.3f %12s %10s" % (c["case"], "%dx%d" % (c["width"], c["height"]), c["gaussians"],
                                                    med, "%.3f" % ours_ms if ours_ms else "-",
                                                    "%.2f" % psnr if psnr is not None else "-"))
        sys.stdout.flush()
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"gsplat": getattr(gsplat, "__version__", "?"), "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name(0), "results": rows}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
