#!/usr/bin/env python3
"""make_ops_goldens.py - torch reference values for two transformer ops of
gs/ops/cpu_nn.c whose exact semantics matter for Depth Anything 3 parity, written
to tests/golden/ops/ops_goldens.safetensors and checked by tests/test_ops_nn.c.

  bicubic.<case>.in / .out   torch.nn.functional.interpolate(mode="bicubic",
        align_corners=False, antialias=False, scale_factor=(sh, sw)) on a
        [1, C, h, w] float32 tensor, as DINOv2's interpolate_pos_encoding
        calls it; the metadata "bicubic.<case>" holds "sh sw ho wo" (repr of
        the Python floats, so the C test passes the same doubles).
  rope.in / rope.out / rope.pos   DA3's RotaryPositionEmbedding2D(frequency=100)
        (src/depth_anything_3/model/dinov2/layers/rope.py of the official
        repository, imported from --da3) applied to [1, heads, n, hd] float32
        tokens with integer positions [1, n, 2] = (y, x); rope.pos is stored
        as float32.

Inputs are torch.manual_seed(0) normal samples. Usage:
  python3 tools/make_ops_goldens.py --da3 /path/to/Depth-Anything-3/src \
      [--out tests/golden/ops/ops_goldens.safetensors]
Needs: torch, safetensors, einops (imported by the DA3 package).
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--da3", required=True, help="the official repository's src/ folder")
    ap.add_argument("--out", default="tests/golden/ops/ops_goldens.safetensors")
    args = ap.parse_args()
    sys.path.insert(0, args.da3)
    # import the file directly: the package __init__ pulls in the whole model
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "da3_rope", os.path.join(args.da3, "depth_anything_3/model/dinov2/layers/rope.py"))
    rope_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rope_mod)

    torch.manual_seed(0)
    tensors, meta = {}, {}

    # (case, c, h, w, ho, wo, sh, sw): the first three are pos-embed shapes
    # (37 -> ph/pw with scale (p + 0.1) / 37); the last upsamples with a
    # scale that does not match the size ratio, to pin "scale inside the kernel".
    cases = [
        ("pe_5x7", 3, 37, 37, 5, 7, (5 + 0.1) / 37, (7 + 0.1) / 37),
        ("pe_36x27", 2, 37, 37, 36, 27, (36 + 0.1) / 37, (27 + 0.1) / 37),
        ("pe_40x38", 2, 37, 37, 40, 38, (40 + 0.1) / 37, (38 + 0.1) / 37),
        ("up_4x6", 2, 4, 6, 10, 10, 2.5, 1.7),
    ]
    for name, c, h, w, ho, wo, sh, sw in cases:
        x = torch.randn(1, c, h, w, dtype=torch.float32)
        y = F.interpolate(x, scale_factor=(sh, sw), mode="bicubic", align_corners=False, antialias=False)
        assert tuple(y.shape[-2:]) == (ho, wo), (name, y.shape)
        tensors[f"bicubic.{name}.in"] = x[0].contiguous()
        tensors[f"bicubic.{name}.out"] = y[0].contiguous()
        meta[f"bicubic.{name}"] = f"{sh!r} {sw!r} {ho} {wo}"

    heads, hd, ph, pw = 3, 16, 3, 4
    n = 1 + ph * pw
    pos = torch.zeros(1, n, 2, dtype=torch.long)
    for i in range(ph * pw):
        pos[0, 1 + i, 0] = i // pw + 1
        pos[0, 1 + i, 1] = i % pw + 1
    pos[0, 5] = torch.tensor([7, 2])  # an arbitrary, larger position too
    x = torch.randn(1, heads, n, hd, dtype=torch.float32)
    rope = rope_mod.RotaryPositionEmbedding2D(frequency=100)
    y = rope(x, pos)
    tensors["rope.in"] = x[0].contiguous()
    tensors["rope.out"] = y[0].contiguous()
    tensors["rope.pos"] = pos[0].float().contiguous()

    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tmp = args.out + ".tmp"
    save_file(tensors, tmp, metadata=meta)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
