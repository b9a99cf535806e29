#!/usr/bin/env python3
"""export_lpips_weights.py - write an LPIPS model as the safetensors file that
`gs eval --lpips-net NET --lpips-weights FILE` loads.

The file holds lpips.LPIPS(net=NET, version='0.1', pretrained=True).state_dict()
under its own key names (the ones gs expects), float32:

  net.slice{K}.{I}.weight / .bias     backbone convolutions (torchvision ImageNet
                                      weights: alexnet, squeezenet1_1, vgg16)
  lin{L}.model.1.weight               the learned 1x1 layers of LPIPS v0.1
  scaling_layer.shift / .scale        the input normalisation constants

(the model's duplicate "lins.L" entries are left out). The backbone comes from
torchvision's weights, either from its cache ($TORCH_HOME/hub/checkpoints,
e.g. alexnet-owt-7be5be79.pth, squeezenet1_1-b8a52dc0.pth, vgg16-397923af.pth;
torchvision downloads them there when the machine is online) or from a file
given with --torchvision-weights (a torchvision state dict with "features.N"
keys, e.g. a copy of vgg16-397923af.pth). The linear layers ship inside the
lpips package. After writing, the file is loaded back into a fresh model and
must give the same distance as the exported one on a test pair.

Usage:
  python3 tools/export_lpips_weights.py --net vgg --out lpips_vgg_v0.1.safetensors
  python3 tools/export_lpips_weights.py --net vgg --torchvision-weights ~/Downloads/vgg16-397923af.pth \\
      --out lpips_vgg_v0.1.safetensors
  build/gs eval --pred renders/ --gt gt/ --lpips-net vgg --lpips-weights lpips_vgg_v0.1.safetensors

Put the file in a folder named by $GS_LPIPS_DIR (as lpips_NET_v0.1.safetensors)
to make it the default for that network.

Needs: torch, torchvision, lpips, safetensors, numpy (pip install lpips safetensors).
"""
import argparse
import importlib.metadata
import os
import sys

import numpy as np

# torchvision `features` index ranges that lpips puts into net.slice1, slice2, ...
SLICES = {
    "alex": [0, 2, 5, 8, 10, 12],
    "squeeze": [0, 2, 5, 8, 10, 11, 12, 13],
    "vgg": [0, 4, 9, 16, 23, 30],
}
TV_FILES = {"alex": "alexnet-owt-7be5be79.pth", "squeeze": "squeezenet1_1-b8a52dc0.pth", "vgg": "vgg16-397923af.pth"}


def slice_of(net, index):
    b = SLICES[net]
    for k in range(len(b) - 1):
        if b[k] <= index < b[k + 1]:
            return k + 1
    return None


def torchvision_to_lpips(net, tv_state):
    """features.N.rest -> net.slice{K}.N.rest; classifier entries are dropped."""
    out = {}
    for key, value in tv_state.items():
        if not key.startswith("features."):
            continue
        parts = key.split(".")
        k = slice_of(net, int(parts[1]))
        if k is None:
            continue
        out["net.slice%d.%s" % (k, ".".join(parts[1:]))] = value
    return out


def build_model(net, tv_weights):
    import lpips
    import torch
    if tv_weights:
        model = lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=True, verbose=False)
        tv_state = torch.load(tv_weights, map_location="cpu", weights_only=True)
        if isinstance(tv_state, dict) and "state_dict" in tv_state:
            tv_state = tv_state["state_dict"]
        mapped = torchvision_to_lpips(net, tv_state)
        want = {k for k in model.state_dict() if k.startswith("net.")}
        missing = sorted(want - set(mapped))
        if missing:
            sys.exit("%s: not torchvision %s weights: %d backbone tensors missing (%s ...)" % (
                tv_weights, net, len(missing), ", ".join(missing[:3])))
        for k in mapped:
            if tuple(mapped[k].shape) != tuple(model.state_dict()[k].shape):
                sys.exit("%s: %s has shape %s, expected %s" % (tv_weights, k, tuple(mapped[k].shape),
                                                               tuple(model.state_dict()[k].shape)))
        model.load_state_dict(mapped, strict=False)
        return model.eval()
    cache = os.path.join(torch.hub.get_dir(), "checkpoints", TV_FILES[net])
    if not os.path.exists(cache):
        print("note: %s is not in torchvision's cache; torchvision will try to download it "
              "(or pass --torchvision-weights FILE)" % cache, file=sys.stderr)
    return lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=False, verbose=False).eval()


def export_state(model):
    state = {}
    for k, v in model.state_dict().items():
        if k.startswith("lins."):
            continue  # the same tensors as linL
        state[k] = np.ascontiguousarray(v.detach().cpu().numpy().astype(np.float32))
    return state


def test_pair():
    """A fixed pair of 64x64 images in [0,1] (NCHW float32)."""
    import torch
    g = torch.Generator().manual_seed(1234)
    a = torch.rand(1, 3, 64, 64, generator=g)
    b = (a + 0.1 * torch.randn(1, 3, 64, 64, generator=g)).clamp(0, 1)
    return a, b


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--net", required=True, choices=sorted(SLICES))
    ap.add_argument("--out", required=True, help="output .safetensors file")
    ap.add_argument("--torchvision-weights", help="torchvision state dict of the backbone (.pth) "
                    "instead of torchvision's cache")
    args = ap.parse_args()

    import lpips
    import torch
    from safetensors.numpy import load_file, save_file

    model = build_model(args.net, args.torchvision_weights)
    state = export_state(model)
    meta = {"format": "lpips state_dict", "net": args.net, "version": "0.1",
            "source": "tools/export_lpips_weights.py, lpips %s, torch %s" % (
                importlib.metadata.version("lpips"), torch.__version__)}
    tmp = args.out + ".tmp.%d" % os.getpid()
    save_file(state, tmp, metadata=meta)
    os.replace(tmp, args.out)

    # load it back into a fresh model: the same distance, bit for bit
    back = load_file(args.out)
    fresh = lpips.LPIPS(net=args.net, version="0.1", pretrained=False, pnet_rand=True, verbose=False)
    sd = {k: torch.from_numpy(v) for k, v in back.items()}
    for k in list(sd):
        if k.startswith("lin"):
            sd["lins." + k[3:].split(".", 1)[0] + "." + k.split(".", 1)[1]] = sd[k]
    fresh.load_state_dict(sd, strict=True)
    fresh.eval()
    a, b = test_pair()
    with torch.no_grad():
        d0 = float(model(a, b, normalize=True).flatten()[0])
        d1 = float(fresh(a, b, normalize=True).flatten()[0])
    if d0 != d1:
        sys.exit("%s: reloaded model gives %.9g, exported model %.9g" % (args.out, d1, d0))
    n_params = sum(v.size for v in state.values())
    print("wrote %s: LPIPS-%s v0.1, %d tensors, %d parameters; test pair distance %.6f" % (
        args.out, args.net, len(state), n_params, d0))


if __name__ == "__main__":
    main()
