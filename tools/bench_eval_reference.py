#!/usr/bin/env python3
"""bench_eval_reference.py - time the reference Python implementations of the
evaluation metrics on the same image pairs as `gs bench eval`, for comparison.

  psnr          numpy float64, clip to [0,1] (pixelSplat's formula)
  ssim          skimage.metrics.structural_similarity(win_size=11,
                gaussian_weights=True, sigma=1.5, data_range=1.0, channel_axis=-1)
                on float32 arrays, as pixelSplat/MVSplat pass them
  ssim-3dgs     the 3D Gaussian Splatting ssim() in torch (float32; CPU and CUDA)
  lpips-alex    lpips.LPIPS(net='alex')(pred, gt, normalize=True), torch float32
  lpips-squeeze the same with net='squeeze'
                (CPU, and CUDA: by default the timed call includes copying the
                pair from host memory to the GPU, as `gs bench eval` does;
                --gpu-inputs device times tensors already on the GPU)

The pair is gt = 0.5 + 0.4 sin(0.05 x + 0.07 y + 1.3 c), pred = clamp(gt + 0.05 n)
with the hashed noise n of gs/cli/cmd_bench_eval.c; its metric values are printed
too, so the two tools can be seen to measure the same thing. LPIPS weights are
read from ../shared/data/lpips (or --lpips-dir); nothing is downloaded.

Usage: python3 tools/bench_eval_reference.py [--sizes 504x504,1920x1080] [--runs 5]
           [--warmup 1] [--device cpu|cuda|all] [--threads N] [--json out.json] [--quick]
Needs: numpy, scikit-image, torch, lpips, safetensors.
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np


def make_pair(w, h):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    u = np.uint64
    mask = u(0xFFFFFFFF)
    i = ((y.astype(u) * u(w) + x.astype(u)) * u(3) + c.astype(u)) & mask
    v = (i * u(2654435761)) & mask
    v ^= v >> u(15)
    v = (v * u(0x2C1B3C6D)) & mask
    v ^= v >> u(12)
    n = (v % np.uint64(2001)).astype(np.float64) / 1000.0 - 1.0
    g = 0.5 + 0.4 * np.sin(0.05 * x + 0.07 * y + 1.3 * c)
    gt = g.astype(np.float32)
    pred = np.clip(g + 0.05 * n, 0.0, 1.0).astype(np.float32)
    return pred, gt


def psnr(pred, gt):
    p = np.clip(pred.astype(np.float64), 0, 1)
    g = np.clip(gt.astype(np.float64), 0, 1)
    return float(-10 * np.log10(np.mean((p - g) ** 2)))


def ssim_3dgs_factory(torch):
    import torch.nn.functional as F
    ws, sigma = 11, 1.5
    g = torch.tensor([math.exp(-(x - ws // 2) ** 2 / float(2 * sigma ** 2)) for x in range(ws)])
    g = g / g.sum()
    w2 = (g[:, None] @ g[None, :])

    def ssim(img1, img2):
        c = img1.shape[1]
        window = w2.to(img1.device).expand(c, 1, ws, ws).contiguous()
        mu1 = F.conv2d(img1, window, padding=ws // 2, groups=c)
        mu2 = F.conv2d(img2, window, padding=ws // 2, groups=c)
        mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
        s1 = F.conv2d(img1 * img1, window, padding=ws // 2, groups=c) - mu1_sq
        s2 = F.conv2d(img2 * img2, window, padding=ws // 2, groups=c) - mu2_sq
        s12 = F.conv2d(img1 * img2, window, padding=ws // 2, groups=c) - mu1_mu2
        C1, C2 = 0.01 ** 2, 0.03 ** 2
        m = ((2 * mu1_mu2 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2))
        return m.mean()
    return ssim


def lpips_model(net, lpips_dir):
    import lpips
    import torch
    from safetensors.numpy import load_file
    st = load_file(os.path.join(lpips_dir, "lpips_%s_v0.1.safetensors" % net))
    m = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    sd = {k: torch.from_numpy(np.array(v)) for k, v in st.items()}
    for k in list(sd):
        if k.startswith("lin") and not k.startswith("lins."):
            sd["lins.%s" % k[3:]] = sd[k]
    m.load_state_dict(sd, strict=True)
    return m.eval()


def timeit(fn, warmup, runs, sync=None):
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    t = []
    val = None
    for _ in range(runs):
        t0 = time.perf_counter()
        val = fn()
        if sync:
            sync()
        t.append(time.perf_counter() - t0)
    return t, val


def runs_of(metrics, devices, tf32, torch):
    """(metric, device, tf32) in order; tf32 is None where the setting is left as it is (the CPU, numpy,
    --tf32 default) and True/False for torch's CUDA convolutions otherwise."""
    settings = {"default": [None], "on": [True], "off": [False], "both": [True, False]}[tf32]
    for m in metrics:
        for dev in devices:
            torch_gpu = dev == "cuda" and (m == "ssim-3dgs" or m.startswith("lpips-"))
            for t in (settings if torch_gpu else [None]):
                yield m, dev, t


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="504x504,1920x1080")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    ap.add_argument("--metrics", default="psnr,ssim,ssim-3dgs,lpips-alex,lpips-squeeze")
    ap.add_argument("--lpips-dir", default=os.path.join(here, "..", "..", "shared", "data", "lpips"))
    ap.add_argument("--gpu-inputs", default="host", choices=["host", "device"],
                    help="CUDA timings: copy the pair from host memory in every call (as gs does) or not")
    ap.add_argument("--tf32", default="default", choices=["default", "on", "off", "both"],
                    help="CUDA convolutions with TF32 (torch.backends.cudnn.allow_tf32, on by default in torch) "
                         "or in full float32; both: time each")
    ap.add_argument("--json")
    ap.add_argument("--quick", action="store_true", help="64x64, 2 runs, no warm-up")
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.runs, args.warmup = "64x64", 2, 0

    import importlib.metadata
    import skimage
    from skimage.metrics import structural_similarity
    metrics = args.metrics.split(",")
    # torch (and lpips) only for the metrics that run in torch: PSNR and SSIM need numpy and scikit-image alone
    torch = None
    if any(m == "ssim-3dgs" or m.startswith("lpips-") for m in metrics):
        import torch
        if args.threads:
            torch.set_num_threads(args.threads)
    devices = []
    if args.device in ("cpu", "all"):
        devices.append("cpu")
    if args.device in ("cuda", "all") and torch is not None and torch.cuda.is_available():
        devices.append("cuda")
    elif args.device == "cuda":
        sys.exit("--device cuda: torch sees no GPU" if torch is not None else
                 "--device cuda: only the torch metrics (ssim-3dgs, lpips-*) run on a GPU")
    gpu = torch.cuda.get_device_name(0) if "cuda" in devices else ""
    models = {}
    for net in ("alex", "squeeze"):
        if "lpips-" + net in metrics:
            models[net] = lpips_model(net, args.lpips_dir)
    ssim3 = ssim_3dgs_factory(torch) if torch is not None else None
    versions = {"numpy": np.__version__, "scikit-image": skimage.__version__}
    if torch is not None:
        versions["torch"] = torch.__version__
    if models:
        versions["lpips"] = importlib.metadata.version("lpips")

    print("reference: %s%s" % (", ".join("%s %s" % kv for kv in versions.items()),
        " (torch: %d CPU threads%s)" % (torch.get_num_threads(), ", cudnn.allow_tf32=%s" %
                                        torch.backends.cudnn.allow_tf32 if gpu else "") if torch is not None else ""))
    print("  cpu: %s; gpu: %s%s; %d warm-up + %d timed runs" % (
        platform.processor() or platform.machine(), gpu or "none",
        " (inputs copied from the host in every call)" if gpu and args.gpu_inputs == "host" else "",
        args.warmup, args.runs))
    print("%-20s %-6s %11s %12s %12s %12s %10s %12s" % ("metric", "device", "size", "median ms", "min ms", "max ms",
                                                       "pairs/s", "value"))
    results = []
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.split("x"))
        pred, gt = make_pair(w, h)
        if torch is not None:
            tp = torch.from_numpy(pred).permute(2, 0, 1)[None].contiguous()
            tg = torch.from_numpy(gt).permute(2, 0, 1)[None].contiguous()
        for m, dev, tf32 in runs_of(metrics, devices, args.tf32, torch):
            sync = torch.cuda.synchronize if dev == "cuda" else None  # (cuda only with torch)
            if tf32 is not None:
                torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
            if m == "psnr":
                if dev != "cpu":
                    continue
                fn = lambda: psnr(pred, gt)
            elif m == "ssim":
                if dev != "cpu":
                    continue
                fn = lambda: float(structural_similarity(pred, gt, win_size=11, gaussian_weights=True, sigma=1.5,
                                                         data_range=1.0, channel_axis=-1))
            elif m == "ssim-3dgs" or m.startswith("lpips-"):
                resident = dev == "cpu" or args.gpu_inputs == "device"
                a, b = (tp.to(dev), tg.to(dev)) if resident else (tp, tg)
                model = ssim3 if m == "ssim-3dgs" else models[m[6:]].to(dev)

                def fn(a=a, b=b, model=model, resident=resident, dev=dev, lp=m.startswith("lpips-")):
                    with torch.no_grad():
                        x, y = (a, b) if resident else (a.to(dev), b.to(dev))
                        v = model(x, y, normalize=True) if lp else model(x, y)
                        return float(v.flatten()[0])
            else:
                sys.exit("unknown metric " + m)
            try:
                t, val = timeit(fn, args.warmup, args.runs, sync)
            except RuntimeError as e:
                print("%-20s %-6s %11s  failed: %s" % (m, dev, size, str(e).split("\n")[0][:120]))
                continue
            med = statistics.median(t)
            label = m if tf32 is None else "%s %s" % (m, "tf32" if tf32 else "fp32")
            print("%-20s %-6s %11s %12.3f %12.3f %12.3f %10.2f %12.6f" % (
                label, dev, size, 1e3 * med, 1e3 * min(t), 1e3 * max(t), 1 / med, val))
            sys.stdout.flush()
            if tf32 is None and dev == "cuda" and torch is not None:
                tf32 = bool(torch.backends.cudnn.allow_tf32)  # torch's own setting, said
            results.append({"metric": m, "device": dev, "width": w, "height": h, "median_ms": 1e3 * med,
                            "min_ms": 1e3 * min(t), "max_ms": 1e3 * max(t), "pairs_per_s": 1 / med, "value": val,
                            "tf32": tf32})
    if args.json:
        doc = {"workload": "eval reference", "torch_threads": torch.get_num_threads() if torch is not None else None,
               "gpu": gpu, "gpu_inputs": args.gpu_inputs, "versions": versions,
               "runs": args.runs, "warmup": args.warmup, "results": results}
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(tmp, args.json)
        print("wrote", args.json)


if __name__ == "__main__":
    main()
