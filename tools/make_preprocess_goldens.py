#!/usr/bin/env python3
"""make_preprocess_goldens.py - reference values for backbone/preprocess.c,
written to tests/golden/preprocess/ and checked by tests/test_preprocess.c.

  resize.txt   cv2.resize(uint8 RGB, (nw, nh), interpolation) on synthetic
               patterns the C test rebuilds: one FNV-1a 64 of the output per
               case, for INTER_CUBIC as pip's opencv-python computes it (IPP),
               for INTER_CUBIC with cv2.ipp.setUseIPP(False) (OpenCV's own code)
               and for INTER_AREA.
  photos.txt   the official InputProcessor (Depth-Anything-3,
               src/depth_anything_3/utils/io/input_processor.py, imported from
               --da3 as is; stand-ins only replace its logger/parallel helpers
               if they fail to import) on real photos from ../shared/data at
               several process_res and methods, with float32 intrinsics; per
               case the output size, the intrinsics, FNV-1a 64 of the float32
               [S,3,H,W] tensor, of the uint8 images it encodes, of the
               "processed images" (api._add_processed_images), and a strided
               sample of the floats.
  pixels.txt   torchvision ToTensor+Normalize of every uint8 value per channel
               (768 floats), the api's denormalisation of those floats, and what
               PIL's Image.open(...).convert("RGB") makes of 16-bit PNGs.

Patterns (i = linear index into the H x W x 3 uint8 array, x, y, c as usual):
  noise:  h(i + 65537*seed) >> 24, h = the murmur3 32-bit finaliser of x*0x9E3779B1
  smooth: (251*x // W + 127*y // H + 60*c + (h(i) >> 29)) & 255

Run:  /tmp/evalvenv/bin/python tools/make_preprocess_goldens.py \
          --data ../shared/data --da3 /tmp/da3src/src --out tests/golden/preprocess
Needs numpy, opencv-python(-headless) >= 4.12 on x86-64 (IPP 2022.1+), torch,
torchvision, Pillow.
"""
import argparse
import os
import struct
import sys
import tempfile
import types
import zlib

import numpy as np

FNV_OFF, FNV_PRIME, M64 = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def fnv64(arr):
    """FNV-1a 64 over the array's bytes in C order (little-endian floats)"""
    h = FNV_OFF
    for b in np.ascontiguousarray(arr).tobytes():
        h = ((h ^ b) * FNV_PRIME) & M64
    return h


def h32(x):
    x = (x.astype(np.uint64) * 0x9E3779B1) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x85EBCA77) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE3D) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def pattern(kind, w, h, seed):
    i = np.arange(h * w * 3, dtype=np.uint64)
    if kind == "noise":
        v = h32(i + np.uint64(65537 * seed)) >> 24
    else:
        y, x, c = np.unravel_index(np.arange(h * w * 3), (h, w, 3))
        v = (251 * x // w + 127 * y // h + 60 * c + (h32(i) >> 29).astype(np.int64)) & 255
    return v.astype(np.uint8).reshape(h, w, 3)


def import_input_processor(src):
    sys.path.insert(0, src)
    try:
        from depth_anything_3.utils.io.input_processor import InputProcessor
    except ImportError:
        # stand-ins for the two helpers the module imports but the sequential path barely uses
        log = types.ModuleType("depth_anything_3.utils.logger")
        log.logger = types.SimpleNamespace(warn=print, info=print, warning=print)
        par = types.ModuleType("depth_anything_3.utils.parallel_utils")

        def parallel_execution(images, exts, ixts, action, **kw):
            n = len(images)
            kw = {k: v for k, v in kw.items() if k in ("process_res", "process_res_method")}
            return [action(images[i], (exts or [None] * n)[i], (ixts or [None] * n)[i], **kw) for i in range(n)]
        par.parallel_execution = parallel_execution
        sys.modules[log.__name__] = log
        sys.modules[par.__name__] = par
        from depth_anything_3.utils.io.input_processor import InputProcessor
    return InputProcessor


def resize_cases():
    """(method, w, h, nw, nh, pattern, seed)"""
    c = []
    for kind in ("noise", "smooth"):
        s = 1 if kind == "noise" else 0
        # tiny images: cv2 runs its own cubic below 4 pixels
        c += [("cubic", 1, 1, 3, 2, kind, s), ("cubic", 2, 3, 5, 4, kind, s), ("cubic", 3, 3, 17, 9, kind, s),
              ("cubic", 4, 4, 9, 6, kind, s), ("cubic", 5, 7, 3, 9, kind, s), ("cubic", 1, 9, 2, 20, kind, s),
              ("area", 3, 2, 1, 1, kind, s), ("area", 2, 3, 1, 2, kind, s), ("area", 7, 5, 3, 2, kind, s)]
        # upscales, one side fixed, mixed grow/shrink (the second DA3 resize)
        c += [("cubic", 53, 37, 80, 61, kind, s), ("cubic", 80, 100, 113, 150, kind, s),
              ("cubic", 504, 377, 504, 378, kind, s), ("cubic", 283, 504, 280, 504, kind, s),
              ("cubic", 300, 200, 308, 196, kind, s), ("cubic", 96, 64, 504, 336, kind, s),
              ("cubic", 40, 30, 37, 28, kind, s)]
        # INTER_AREA: integer fast path (2x2 is special), general fractional path
        c += [("area", 64, 48, 32, 24, kind, s), ("area", 96, 72, 32, 24, kind, s),
              ("area", 256, 192, 32, 24, kind, s), ("area", 64, 72, 32, 24, kind, s),
              ("area", 1208, 680, 504, 284, kind, s), ("area", 504, 284, 504, 280, kind, s),
              ("area", 800, 800, 504, 504, kind, s), ("area", 97, 61, 45, 29, kind, s),
              ("area", 90, 60, 30, 20, kind, s)]
    out = []
    for m, w, h, nw, nh, kind, s in c:
        methods = ["cubic", "cubic_ocv"] if m == "cubic" else ["area"]
        for mm in methods:
            out.append((mm, w, h, nw, nh, kind, s))
    return out


def make_resize(out_dir):
    import cv2
    lines = ["# method w h nw nh pattern seed fnv64(output uint8 HxWx3)   (cv2 %s)" % cv2.__version__]
    for m, w, h, nw, nh, kind, s in resize_cases():
        img = pattern(kind, w, h, s)
        cv2.ipp.setUseIPP(m != "cubic_ocv")
        interp = cv2.INTER_AREA if m == "area" else cv2.INTER_CUBIC
        o = cv2.resize(img, (nw, nh), interpolation=interp).reshape(nh, nw, 3)
        lines.append("%s %d %d %d %d %s %d %016x" % (m, w, h, nw, nh, kind, s, fnv64(o)))
    cv2.ipp.setUseIPP(True)
    with open(os.path.join(out_dir, "resize.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def processed_images(t):
    """api.DepthAnything3._add_processed_images on (N,3,H,W) float32"""
    x = t.permute(0, 2, 3, 1).cpu().numpy()
    x = x * STD + MEAN
    x = np.clip(x, 0, 1)
    return (x * 255).astype(np.uint8)


def norm_lut():
    import torch
    import torchvision.transforms as T
    from PIL import Image
    a = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)  # 1 x 256 x 3
    t = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])(T.ToTensor()(Image.fromarray(a)))
    return t.numpy().reshape(3, 256)  # [c, v]


def to_u8(t, lut):
    """invert the normalisation exactly: every float must be one of the 256 per channel"""
    x = t.numpy()  # N,3,H,W
    out = np.zeros((x.shape[0], x.shape[2], x.shape[3], 3), np.uint8)
    for c in range(3):
        order = np.argsort(lut[c])
        pos = np.searchsorted(lut[c][order], x[:, c])
        pos = np.clip(pos, 0, 255)
        v = order[pos]
        assert np.array_equal(lut[c][v], x[:, c]), "normalised value not in the uint8 table"
        out[..., c] = v
    return out


def photo_cases():
    soh0, soh1 = "photos/soh/000.png", "photos/soh/010.png"
    fern0, fern7 = "scenes/fern/images_8/image000.png", "scenes/fern/images_8/image007.png"
    lego = "scenes/lego/train/r_0.png"
    return [
        ("soh_ubr504", "upper_bound_resize", 504, [soh0]),
        ("soh_lbr504", "lower_bound_resize", 504, [soh0]),
        ("soh_ubc504", "upper_bound_crop", 504, [soh0]),
        ("soh_lbc504", "lower_bound_crop", 504, [soh0]),
        ("soh_ubr518", "upper_bound_resize", 518, [soh1]),
        ("soh_ubr336", "upper_bound_resize", 336, [soh1]),
        ("soh_lbr700", "lower_bound_resize", 700, [soh0]),
        ("fern_ubc700", "upper_bound_crop", 700, [fern7]),
        ("fern_ubr504", "upper_bound_resize", 504, [fern0]),
        ("fern_lbr504", "lower_bound_resize", 504, [fern0]),
        ("fern_lbc392", "lower_bound_crop", 392, [fern7]),
        ("fern_ubr280", "upper_bound_resize", 280, [fern7]),
        ("fern_ubr1000", "upper_bound_resize", 1000, [fern0]),
        ("lego_ubr504", "upper_bound_resize", 504, [lego]),
        ("lego_lbc266", "lower_bound_crop", 266, [lego]),
        ("pair_lbc504", "lower_bound_crop", 504, [soh0, soh1]),
        ("fern2_ubr504", "upper_bound_resize", 518, [fern0, fern7]),
        ("mixed_ubr504", "upper_bound_resize", 504, [soh0, fern0, lego]),
        ("mixed_lbr350", "lower_bound_resize", 350, [lego, soh1, fern7]),
    ]


def k_for(w, h, s):
    return np.array([[1.1 * w + 0.37 * s, 0.75, w / 2 + 3.25],
                     [0.0, 1.05 * w - 0.5 * s, h / 2 - 1.5],
                     [0.0, 0.0, 1.0]], dtype=np.float32)


def make_photos(out_dir, data, InputProcessor, lut):
    from PIL import Image
    proc = InputProcessor()
    lines = ["# case NAME METHOD PROCESS_RES S FILE...",
             "# kin  9 float32 per view (row-major)",
             "# out  H W CROPPED fnv64(float32 [S,3,H,W]) fnv64(uint8 [S,H,W,3]) fnv64(processed [S,H,W,3])",
             "# kout 9 float32 per view",
             "# samp N then N pairs: flat index into [S,3,H,W], value"]
    for name, method, res, files in photo_cases():
        paths = [os.path.join(data, f) for f in files]
        ks = []
        for s, p in enumerate(paths):
            w, h = Image.open(p).size
            ks.append(k_for(w, h, s))
        kin = np.stack(ks)
        t, _, kout = proc(image=paths, intrinsics=kin.copy(), process_res=res, process_res_method=method,
                          num_workers=1, sequential=True)
        t = t.contiguous()
        n, _, hh, ww = t.shape
        sizes = set()
        for p in paths:  # was a crop needed? (reference warns)
            one, _, _ = proc(image=[p], process_res=res, process_res_method=method, num_workers=1, sequential=True)
            sizes.add(tuple(one.shape[2:]))
        u8 = to_u8(t, lut)
        pim = processed_images(t)
        flat = t.numpy().reshape(-1)
        idx = np.linspace(0, flat.size - 1, 24).astype(np.int64)
        lines.append("case %s %s %d %d %s" % (name, method, res, n, " ".join(files)))
        lines.append("kin " + " ".join("%.9g" % v for v in kin.reshape(-1)))
        lines.append("out %d %d %d %016x %016x %016x" % (hh, ww, int(len(sizes) > 1), fnv64(t.numpy()),
                                                          fnv64(u8), fnv64(pim)))
        lines.append("kout " + " ".join("%.9g" % v for v in kout.numpy().reshape(-1)))
        lines.append("samp %d " % len(idx) + " ".join("%d %.9g" % (i, flat[i]) for i in idx))
        print(name, (n, hh, ww), "cropped" if len(sizes) > 1 else "")
    with open(os.path.join(out_dir, "photos.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def png16(path, arr, ctype):
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0)) +
                chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


V16 = [0, 1, 255, 256, 257, 1000, 12345, 32768, 54321, 65535]


def make_pixels(out_dir, lut):
    from PIL import Image
    import torch
    lines = ["# norm: ToTensor+Normalize of value v in channel c, 768 float32 (c major)",
             "norm " + " ".join("%.9g" % v for v in lut.reshape(-1))]
    t = torch.from_numpy(lut.reshape(1, 3, 1, 256).copy())
    pim = processed_images(t).reshape(256, 3).T
    lines.append("# denorm: the api's processed image of those floats, 768 uint8 (c major)")
    lines.append("denorm " + " ".join(str(int(v)) for v in pim.reshape(-1)))
    lines.append("# png16 CHANNELS: PIL .convert('RGB') of a 16-bit PNG whose channel k holds")
    lines.append("#   k=0: V16, k=1: V16 reversed, k=2: V16 // 2, k=3 (alpha): 300;  V16 = " +
                 " ".join(map(str, V16)) + "   -> R G B per pixel")
    v = np.array(V16, np.uint16)
    chans = [v, v[::-1].copy(), v // 2, np.full_like(v, 300)]
    with tempfile.TemporaryDirectory() as d:
        for cn, ctype in [(1, 0), (2, 4), (3, 2), (4, 6)]:
            arr = np.stack(chans[:cn], -1)[None] if cn > 1 else chans[0][None]
            p = os.path.join(d, "t.png")
            png16(p, arr, ctype)
            rgb = np.asarray(Image.open(p).convert("RGB"))[0]
            lines.append("png16 %d " % cn + " ".join(str(int(x)) for x in rgb.reshape(-1)))
    with open(os.path.join(out_dir, "pixels.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--da3", default="/tmp/da3src/src")
    ap.add_argument("--out", default="tests/golden/preprocess")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    InputProcessor = import_input_processor(a.da3)
    lut = norm_lut()
    make_pixels(a.out, lut)
    make_resize(a.out)
    make_photos(a.out, a.data, InputProcessor, lut)


if __name__ == "__main__":
    main()
