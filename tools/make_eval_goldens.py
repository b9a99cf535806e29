#!/usr/bin/env python3
"""make_eval_goldens.py - reference values for the evaluator (eval/), written
to tests/golden/eval/eval_goldens.json and checked by tests/test_eval.c.

The numbers come from the reference libraries themselves:
  PSNR   numpy, float64: clip both images to [0,1], -10 log10(mean squared error)
  SSIM   skimage.metrics.structural_similarity(pred, gt, win_size=11,
         gaussian_weights=True, sigma=1.5, use_sample_covariance=True,
         data_range=1.0, channel_axis=-1) on float64 images ("ssim_skimage"),
         and the 3D Gaussian Splatting ssim() (utils/loss_utils.py: 11x11
         Gaussian sigma 1.5, zero padding, population covariance, mean over
         everything) in torch float64 ("ssim_3dgs")
  LPIPS  lpips.LPIPS(net=..., pretrained=True, pnet_rand=True) with its state
         loaded from our safetensors files (nothing is downloaded), called as
         model(pred, gt, normalize=True, retPerLayer=True) on float32 NCHW.

No image is committed: every input is rebuilt bit-exactly by the C test from
the LLFF fern photos in ../shared/data (PNG, lossless) or from a synthetic
pattern, with integer-only distortions. A case lists, for "pred" and "gt",
a source followed by operations applied in order (the same interpreter is in
tests/test_eval.c):

  fern:NNN          scenes/fern/images_8/imageNNN.png, 8-bit RGB, 504x378
  synth:WxH         u(x,y,c) = (5x + 3y + 60c + h(x>>2, y>>2, c, 7) % 32) % 256
  shift DX DY       out(x,y) = in(clamp(x-DX), clamp(y-DY))      (edge replicate)
  blur3             out = (sum of the 3x3 neighbourhood, edge replicate, + 4) // 9
  noise AMP SEED    out = clamp(in + h(x,y,c,SEED) % (2 AMP + 1) - AMP, 0, 255)
  blocky8           per channel and 8x8 block (partial at the edges): m = (sum + n//2) // n,
                    out = (in + 3 m + 2) // 4          (a JPEG-like block artefact)
  posterize         out = (in >> 4) * 17
  jpeg Q            JPEG-compressed at quality Q and decoded again, RGB or gray: Pillow
                    (libjpeg-turbo) with its defaults (4:2:0 chroma, integer DCT,
                    standard Huffman tables); the C test encodes with the system
                    libjpeg-turbo and the same settings, decodes with gs's own
                    reader, and checks the decoded bytes against "jpeg_fnv"
                    (FNV-1a 32 of the u8 HWC values after the op, per recipe)
  crop X Y W H      the W x H window at (X, Y)
  gray              one channel: (77 R + 150 G + 29 B + 128) >> 8
  rgba              adds alpha a(x,y) = ((x + y) * 255) // max(W + H - 2, 1) as the last
                    channel (RGB -> RGBA, gray -> gray + alpha)
then the 8-bit values become float32 u / 255 (as data/image.c decodes PNG),
except after
  affine            float32 (u - 20) / 200: values outside [0,1] (PSNR clamps)
and, on float32 values,
  over white|black  c * a + bg * (1 - a) in float32, alpha dropped

h(x, y, c, s) = lowbias32(((((s * 1024 + c) * 4096 + y) * 4096 + x) mod 2^32),
lowbias32(v): v ^= v >> 16; v *= 0x7feb352d; v ^= v >> 15; v *= 0x846ca68b;
v ^= v >> 16 (all mod 2^32).

LPIPS-vgg: only its linear layers exist offline, so the "vgg_synthetic" entry
uses a complete LPIPS-vgg state with deterministic weights (see
synthetic_vgg_state below; tests/test_eval.c writes the same file) to check
the vgg code path end to end.

Usage: python3 tools/make_eval_goldens.py [--data ../shared/data] [--out tests/golden/eval/eval_goldens.json]
Needs: numpy, scipy, scikit-image, torch, torchvision, lpips, safetensors, pillow (with libjpeg-turbo).
"""
import argparse
import importlib.metadata
import json
import math
import os
import sys

import numpy as np

MASK = 0xFFFFFFFF


def lowbias32(v):
    v = np.asarray(v, dtype=np.uint64) & MASK
    v ^= v >> np.uint64(16)
    v = (v * np.uint64(0x7FEB352D)) & MASK
    v ^= v >> np.uint64(15)
    v = (v * np.uint64(0x846CA68B)) & MASK
    v ^= v >> np.uint64(16)
    return v


def hxyc(w, h, c, seed):
    y, x, ch = np.meshgrid(np.arange(h, dtype=np.uint64), np.arange(w, dtype=np.uint64),
                           np.arange(c, dtype=np.uint64), indexing="ij")
    key = ((((np.uint64(seed) * 1024 + ch) & MASK) * 4096 + y) & MASK)
    key = ((key * 4096) & MASK) + x
    return lowbias32(key & MASK)


# ---- image sources and integer distortions (int64 arrays HxWxC) --------------
def load_fern(data, idx):
    from PIL import Image
    path = os.path.join(data, "scenes/fern/images_8/image%03d.png" % idx)
    im = Image.open(path)
    assert im.mode == "RGB", (path, im.mode)
    return np.asarray(im, dtype=np.int64)


def synth(w, h):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    hh = hxyc((w + 3) // 4, (h + 3) // 4, 3, 7).astype(np.int64)
    n = hh[y >> 2, x >> 2, c] % 32
    return (5 * x + 3 * y + 60 * c + n) % 256


def clampidx(i, n):
    return np.clip(i, 0, n - 1)


def op_shift(u, dx, dy):
    h, w = u.shape[:2]
    ys = clampidx(np.arange(h) - dy, h)
    xs = clampidx(np.arange(w) - dx, w)
    return u[ys][:, xs]


def op_blur3(u):
    h, w = u.shape[:2]
    acc = np.zeros_like(u)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            ys = clampidx(np.arange(h) + dy, h)
            xs = clampidx(np.arange(w) + dx, w)
            acc += u[ys][:, xs]
    return (acc + 4) // 9


def op_noise(u, amp, seed):
    h, w, c = u.shape
    n = (hxyc(w, h, c, seed) % np.uint64(2 * amp + 1)).astype(np.int64) - amp
    return np.clip(u + n, 0, 255)


def op_blocky8(u):
    h, w, c = u.shape
    out = np.empty_like(u)
    for by in range(0, h, 8):
        for bx in range(0, w, 8):
            blk = u[by:by + 8, bx:bx + 8]
            n = blk.shape[0] * blk.shape[1]
            m = (blk.sum(axis=(0, 1)) + n // 2) // n
            out[by:by + 8, bx:bx + 8] = (blk + 3 * m + 2) // 4
    return out


def op_jpeg(u, q):
    import io
    from PIL import Image
    arr = u.astype(np.uint8)
    img = Image.fromarray(arr[..., 0], "L") if arr.shape[2] == 1 else Image.fromarray(arr, "RGB")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q)
    out = np.array(Image.open(io.BytesIO(buf.getvalue()))).astype(np.int64)
    return out[..., None] if out.ndim == 2 else out


def fnv1a32(u):
    h = 0x811C9DC5
    for b in u.astype(np.uint8).tobytes():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def op_gray(u):
    return ((77 * u[..., 0] + 150 * u[..., 1] + 29 * u[..., 2] + 128) >> 8)[..., None]


def op_rgba(u):
    h, w = u.shape[:2]
    y, x = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    a = ((x + y) * 255) // max(w + h - 2, 1)
    return np.concatenate([u, a[..., None]], axis=2)


def build(recipe, data, info=None):
    """Run a recipe; returns float32 HxWxC (info["jpeg_fnv"]: the bytes after a jpeg op)."""
    src = recipe[0]
    if src.startswith("fern:"):
        u = load_fern(data, int(src[5:]))
    elif src.startswith("synth:"):
        w, h = (int(v) for v in src[6:].split("x"))
        u = synth(w, h)
    else:
        raise ValueError(src)
    f = None
    for op in recipe[1:]:
        a = op.split()
        if a[0] == "shift":
            u = op_shift(u, int(a[1]), int(a[2]))
        elif a[0] == "blur3":
            u = op_blur3(u)
        elif a[0] == "noise":
            u = op_noise(u, int(a[1]), int(a[2]))
        elif a[0] == "blocky8":
            u = op_blocky8(u)
        elif a[0] == "posterize":
            u = (u >> 4) * 17
        elif a[0] == "jpeg":
            u = op_jpeg(u, int(a[1]))
            if info is not None:
                info["jpeg_fnv"] = fnv1a32(u)
        elif a[0] == "crop":
            x, y, w, h = (int(v) for v in a[1:5])
            assert x + w <= u.shape[1] and y + h <= u.shape[0]
            u = u[y:y + h, x:x + w]
        elif a[0] == "gray":
            u = op_gray(u)
        elif a[0] == "rgba":
            u = op_rgba(u)
        elif a[0] == "affine":
            f = (u - 20).astype(np.float32) / np.float32(200)
        elif a[0] == "over":
            if f is None:
                f = u.astype(np.float32) / np.float32(255)
            bg = np.float32(1.0 if a[1] == "white" else 0.0)
            alpha = f[..., -1:]
            f = f[..., :-1] * alpha + bg * (np.float32(1) - alpha)
        else:
            raise ValueError(op)
        assert u.min() >= 0 and u.max() <= 255
    if f is None:
        f = u.astype(np.float32) / np.float32(255)
    return np.ascontiguousarray(f, dtype=np.float32)


# ---- reference metrics ---------------------------------------------------------
def psnr(pred, gt):
    p = np.clip(pred.astype(np.float64), 0, 1)
    g = np.clip(gt.astype(np.float64), 0, 1)
    mse = np.mean((p - g) ** 2)
    return math.inf if mse == 0 else float(-10 * np.log10(mse))


def ssim_skimage(pred, gt, dtype=np.float64):
    from skimage.metrics import structural_similarity
    return float(structural_similarity(pred.astype(dtype), gt.astype(dtype), win_size=11, gaussian_weights=True,
                                       sigma=1.5, use_sample_covariance=True, data_range=1.0, channel_axis=-1))


def ssim_3dgs(pred, gt, dtype):
    """graphdeco-inria/gaussian-splatting utils/loss_utils.py ssim(), window 11, size_average."""
    import torch
    import torch.nn.functional as F
    ws, sigma = 11, 1.5
    g = torch.tensor([math.exp(-(x - ws // 2) ** 2 / float(2 * sigma ** 2)) for x in range(ws)], dtype=dtype)
    g = g / g.sum()
    w2 = (g[:, None] @ g[None, :])
    c = pred.shape[2]
    window = w2.expand(c, 1, ws, ws).contiguous()
    img1 = torch.from_numpy(pred).to(dtype).permute(2, 0, 1)[None]
    img2 = torch.from_numpy(gt).to(dtype).permute(2, 0, 1)[None]
    mu1 = F.conv2d(img1, window, padding=ws // 2, groups=c)
    mu2 = F.conv2d(img2, window, padding=ws // 2, groups=c)
    mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
    s1 = F.conv2d(img1 * img1, window, padding=ws // 2, groups=c) - mu1_sq
    s2 = F.conv2d(img2 * img2, window, padding=ws // 2, groups=c) - mu2_sq
    s12 = F.conv2d(img1 * img2, window, padding=ws // 2, groups=c) - mu1_mu2
    C1, C2 = 0.01 ** 2, 0.03 ** 2
    m = ((2 * mu1_mu2 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2))
    return float(m.mean())


def lpips_model(net, state):
    import lpips
    import torch
    m = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    sd = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    # the model registers each linear layer twice: linN and lins.N (a ModuleList)
    for k in list(sd):
        if k.startswith("lin") and not k.startswith("lins."):
            sd["lins.%s" % k[3:]] = sd[k]
    m.load_state_dict(sd, strict=True)
    return m.eval()


def lpips_value(model, pred, gt):
    import torch
    def t(a):
        x = torch.from_numpy(a).permute(2, 0, 1)[None]
        return x.expand(1, 3, *x.shape[2:]) if x.shape[1] == 1 else x
    with torch.no_grad():
        val, layers = model(t(pred), t(gt), normalize=True, retPerLayer=True)
    return float(val.flatten()[0]), [float(l.flatten()[0]) for l in layers]


# ---- deterministic LPIPS-vgg state (same formula in tests/test_eval.c) -------
VGG_CONVS = [("net.slice1.0", 3, 64), ("net.slice1.2", 64, 64), ("net.slice2.5", 64, 128),
             ("net.slice2.7", 128, 128), ("net.slice3.10", 128, 256), ("net.slice3.12", 256, 256),
             ("net.slice3.14", 256, 256), ("net.slice4.17", 256, 512), ("net.slice4.19", 512, 512),
             ("net.slice4.21", 512, 512), ("net.slice5.24", 512, 512), ("net.slice5.26", 512, 512),
             ("net.slice5.28", 512, 512)]
VGG_LIN = [64, 128, 256, 512, 512]


def synth_values(t, n):
    """k_i = lowbias32(((t + 1) * 2654435761 + i) mod 2^32) % 2001 - 1000, i < n."""
    i = np.arange(n, dtype=np.uint64)
    key = ((np.uint64(t + 1) * np.uint64(2654435761)) & MASK) + i
    return (lowbias32(key & MASK) % np.uint64(2001)).astype(np.int64) - 1000


def synthetic_vgg_state():
    """Tensor t (in this order: per conv weight then bias, then lin0..4):
    conv weight = float32(k) / 1000 * 2^-e, e = floor(0.5 log2(fan_in / 6) + 0.5)
    conv bias   = float32(k) / 1000 * 2^-6
    lin weight  = float32(|k|) / 1000 (non-negative, as trained LPIPS lins)."""
    state, t = {}, 0
    for name, cin, cout in VGG_CONVS:
        fan_in = cin * 9
        e = math.floor(0.5 * math.log2(fan_in / 6.0) + 0.5)
        k = synth_values(t, cout * cin * 9)
        state[name + ".weight"] = (k.astype(np.float32) / np.float32(1000) * np.float32(2.0 ** -e)).reshape(
            cout, cin, 3, 3)
        t += 1
        k = synth_values(t, cout)
        state[name + ".bias"] = k.astype(np.float32) / np.float32(1000) * np.float32(2.0 ** -6)
        t += 1
    for li, c in enumerate(VGG_LIN):
        k = np.abs(synth_values(t, c))
        state["lin%d.model.1.weight" % li] = (k.astype(np.float32) / np.float32(1000)).reshape(1, c, 1, 1)
        t += 1
    state["scaling_layer.shift"] = np.array([-.030, -.088, -.188], np.float32).reshape(1, 3, 1, 1)
    state["scaling_layer.scale"] = np.array([.458, .448, .450], np.float32).reshape(1, 3, 1, 1)
    return state


CASES = [
    # name, pred recipe, gt recipe
    ("identical", ["fern:000"], ["fern:000"]),
    ("other_view", ["fern:001"], ["fern:000"]),
    ("shift3x2", ["fern:000", "shift 3 2"], ["fern:000"]),
    ("blur3", ["fern:000", "blur3"], ["fern:000"]),
    ("blur3_twice", ["fern:007", "blur3", "blur3"], ["fern:007"]),
    ("noise12", ["fern:000", "noise 12 1"], ["fern:000"]),
    ("blocky8", ["fern:000", "blocky8"], ["fern:000"]),
    ("posterize", ["fern:000", "posterize"], ["fern:000"]),
    ("jpeg40", ["fern:000", "jpeg 40"], ["fern:000"]),
    ("jpeg85_view6", ["fern:006", "jpeg 85"], ["fern:006"]),
    ("jpeg50_vs_jpeg90", ["fern:001", "jpeg 50"], ["fern:000", "jpeg 90"]),
    ("gray_crop150x101_jpeg20", ["fern:002", "gray", "crop 33 44 150 101", "jpeg 20"],
     ["fern:002", "gray", "crop 33 44 150 101"]),
    ("affine_out_of_range", ["fern:000", "affine"], ["fern:000"]),
    ("crop101x67_blur", ["fern:000", "blur3", "crop 200 150 101 67"], ["fern:000", "crop 200 150 101 67"]),
    ("crop37x23_noise", ["fern:000", "noise 20 2", "crop 100 50 37 23"], ["fern:000", "crop 100 50 37 23"]),
    ("crop31x31_shift", ["fern:000", "shift 1 0", "crop 300 200 31 31"], ["fern:000", "crop 300 200 31 31"]),
    ("crop11x11_noise", ["fern:000", "noise 30 3", "crop 250 120 11 11"], ["fern:000", "crop 250 120 11 11"]),
    ("crop12x10_noise", ["fern:000", "noise 30 3", "crop 250 120 12 10"], ["fern:000", "crop 250 120 12 10"]),
    ("gray_blur", ["fern:000", "blur3", "gray"], ["fern:000", "gray"]),
    ("rgba_over_white", ["fern:000", "blur3"], ["fern:000", "rgba", "over white"]),
    ("rgba_over_black", ["fern:001"], ["fern:000", "rgba", "over black"]),
    ("synth_noise", ["synth:96x72", "noise 25 4"], ["synth:96x72"]),
    # odd sizes, sizes below the SSIM window on both sides, gray and alpha at odd sizes
    ("crop503x377_shift", ["fern:005", "shift 2 3", "crop 1 1 503 377"], ["fern:005", "crop 1 1 503 377"]),
    ("crop7x5_noise", ["fern:000", "noise 30 3", "crop 250 120 7 5"], ["fern:000", "crop 250 120 7 5"]),
    ("crop1x1_noise", ["fern:000", "noise 30 3", "crop 250 120 1 1"], ["fern:000", "crop 250 120 1 1"]),
    ("gray75x45_noise", ["fern:003", "gray", "noise 10 5", "crop 17 29 75 45"], ["fern:003", "gray", "crop 17 29 75 45"]),
    ("gray9x13_blur", ["fern:003", "gray", "blur3", "crop 300 10 9 13"], ["fern:003", "gray", "crop 300 10 9 13"]),
    ("rgba_both83x61_over_white", ["fern:002", "blur3", "crop 40 60 83 61", "rgba", "over white"],
     ["fern:002", "crop 40 60 83 61", "rgba", "over white"]),
    ("gray_alpha47x39_over_black", ["fern:004", "gray", "noise 8 6", "crop 100 100 47 39", "rgba", "over black"],
     ["fern:004", "gray", "crop 100 100 47 39", "rgba", "over black"]),
]


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "shared", "data"))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "golden", "eval", "eval_goldens.json"))
    args = ap.parse_args()

    import lpips
    import scipy
    import skimage
    import torch
    from safetensors.numpy import load_file
    torch.set_num_threads(max(1, os.cpu_count() or 1))

    models = {}
    for net in ("alex", "squeeze"):
        st = load_file(os.path.join(args.data, "lpips", "lpips_%s_v0.1.safetensors" % net))
        models[net] = lpips_model(net, st)

    out_cases = []
    max_f32 = 0.0
    for name, pr, gr in CASES:
        pinfo, ginfo = {}, {}
        pred, gt = build(pr, args.data, pinfo), build(gr, args.data, ginfo)
        assert pred.shape == gt.shape, name
        h, w, c = pred.shape
        case = {"name": name, "pred": pr, "gt": gr, "width": w, "height": h, "channels": c, "errors": {}}
        if pinfo:
            case["pred_jpeg_fnv"] = pinfo["jpeg_fnv"]
        if ginfo:
            case["gt_jpeg_fnv"] = ginfo["jpeg_fnv"]
        p = psnr(pred, gt)
        case["psnr"] = "inf" if math.isinf(p) else p
        try:
            case["ssim_skimage"] = ssim_skimage(pred, gt)
            max_f32 = max(max_f32, abs(case["ssim_skimage"] - ssim_skimage(pred, gt, np.float32)))
        except ValueError as e:
            case["ssim_skimage"] = None
            case["errors"]["ssim_skimage"] = str(e).split(".")[0]
        case["ssim_3dgs"] = ssim_3dgs(pred, gt, torch.float64)
        case["ssim_3dgs_f32"] = ssim_3dgs(pred, gt, torch.float32)
        for net, model in models.items():
            try:
                v, layers = lpips_value(model, pred, gt)
                case["lpips_" + net], case["lpips_%s_layers" % net] = v, layers
            except RuntimeError as e:
                case["lpips_" + net] = None
                case["errors"]["lpips_" + net] = str(e).split("\n")[0][:200]
        out_cases.append(case)
        print("%-22s %4dx%-4d c%d psnr %-10s ssim %-10s 3dgs %.6f alex %s squeeze %s" % (
            name, w, h, c, case["psnr"] if isinstance(case["psnr"], str) else "%.5f" % case["psnr"],
            "-" if case["ssim_skimage"] is None else "%.6f" % case["ssim_skimage"], case["ssim_3dgs"],
            case.get("lpips_alex"), case.get("lpips_squeeze")), file=sys.stderr)

    # vgg with deterministic weights
    vstate = synthetic_vgg_state()
    vmodel = lpips_model("vgg", vstate)
    vcases = []
    for name, pr, gr in [("synth_noise", ["synth:64x48", "noise 25 4"], ["synth:64x48"]),
                         ("synth_shift", ["synth:64x48", "shift 2 1"], ["synth:64x48"])]:
        pred, gt = build(pr, args.data), build(gr, args.data)
        v, layers = lpips_value(vmodel, pred, gt)
        vcases.append({"name": name, "pred": pr, "gt": gr, "lpips_vgg": v, "lpips_vgg_layers": layers})
        print("vgg %-18s %.6f" % (name, v), file=sys.stderr)
    probe = {k: [float(vstate[k].flatten()[i]) for i in (0, 1, vstate[k].size - 1)]
             for k in ("net.slice1.0.weight", "net.slice5.28.bias", "lin4.model.1.weight")}

    doc = {
        "format": "gs eval goldens 1",
        "generator": "tools/make_eval_goldens.py",
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "scikit-image": skimage.__version__,
                     "torch": torch.__version__, "lpips": importlib.metadata.version("lpips"),
                     "pillow": importlib.metadata.version("pillow")},
        "notes": "psnr 'inf' = identical images; null value = the reference raised (message in errors). "
                 "ssim_3dgs is computed in float64, ssim_3dgs_f32 as 3DGS does it (float32). "
                 "lpips_*_layers are the per-tap terms (retPerLayer).",
        "max_abs_ssim_skimage_float32_vs_float64": max_f32,
        "cases": out_cases,
        "vgg_synthetic": {"probe": probe, "cases": vcases},
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, args.out)
    print("wrote", args.out, file=sys.stderr)


if __name__ == "__main__":
    main()
