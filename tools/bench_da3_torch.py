#!/usr/bin/env python3
"""bench_da3_torch.py - time the official PyTorch Depth Anything 3 on the CPU,
per stage, beside `gs bench infer` on the same checkpoint, sizes and threads.

    tools/bench_da3_torch.py --model da3-small --out /tmp/bench-small \
        [--views 1,8] [--size 504x378] [--runs 3] [--threads 2] [--json out.json]

--out DIR/model is created with random weights of the real size the first
time (tools/make_da3_goldens.py's randomisation, official key names), so that
`gs bench infer --model DIR/model` runs on exactly the same checkpoint. The
network runs in float32 (gs is float32 on the CPU); the stages are timed with
forward hooks on backbone, head and cam_dec; preprocessing is the official
InputProcessor on synthetic photos twice the network size, as gs bench infer
does. Peak memory is the process high-water mark (ru_maxrss).

Needs torch, numpy, safetensors, opencv, einops, addict, omegaconf, evo and the
official source (--da3-src, default /tmp/da3src/src). Not used by gs itself.
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_da3_goldens as G  # noqa: E402


def synth(w, h, seed):
    import numpy as np

    y, x = np.mgrid[0:h, 0:w]
    u, v = x / w, y / h
    r = np.hypot(u - 0.5, v - 0.5)
    img = np.stack([127.5 + 127.0 * np.sin(9.0 * r + seed), 255.0 * u,
                    255.0 * (0.5 + 0.5 * np.cos(7.0 * v + 0.3 * seed))], -1)
    return img.astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="official model name, e.g. da3-small")
    ap.add_argument("--out", required=True)
    ap.add_argument("--views", default="1,8")
    ap.add_argument("--size", default="504x378")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", default=None)
    ap.add_argument("--da3-src", default="/tmp/da3src/src")
    a = ap.parse_args()
    G.setup(a.da3_src)
    torch = G.torch
    torch.set_num_threads(a.threads)
    W, H = [int(v) for v in a.size.lower().split("x")]
    cfgp = os.path.join(os.path.dirname(G.D.cfg.__file__), "configs", a.model + ".yaml")
    torch.manual_seed(0)
    net = G.D.cfg.create_object(G.D.cfg.load_config(cfgp))
    mdir = os.path.join(a.out, "model")
    ck = os.path.join(mdir, "model.safetensors")
    if os.path.exists(ck):
        from safetensors.torch import load_file

        sd = load_file(ck)
        sd = {k[len("model."):]: v for k, v in sd.items() if k.startswith("model.")}
        missing, unexpected = net.load_state_dict(sd, strict=False)
        bad = [k for k in missing if "output_conv2_aux" not in k]
        if bad or unexpected:
            raise SystemExit("checkpoint mismatch: missing %s unexpected %s" % (bad[:5], unexpected[:5]))
    else:
        G.randomize(net, 1000)
        os.makedirs(mdir, exist_ok=True)
        G.save_model(mdir, a.model, net, [(net, "model.")], None)
        with open(os.path.join(mdir, "config.json"), "w") as f:
            json.dump({"model_name": a.model}, f)
            f.write("\n")
    net.eval()
    from depth_anything_3.utils.io.input_processor import InputProcessor

    proc = InputProcessor()
    times = {}

    def timer(name):
        def pre(m, i):
            times[name + "_t0"] = time.perf_counter()

        def post(m, i, o):
            times[name] = times.get(name, 0.0) + time.perf_counter() - times[name + "_t0"]
        return pre, post

    for name, mod in (("backbone", net.backbone), ("head", net.head), ("cameras", net.cam_dec)):
        if mod is None:
            continue
        pre, post = timer(name)
        mod.register_forward_pre_hook(pre)
        mod.register_forward_hook(post)
    print("torch %s, %d threads, float32, %s, %dx%d" % (torch.__version__, torch.get_num_threads(), a.model, W, H))
    print("%5s  %10s  %10s  %10s  %10s  %10s  %10s" % ("views", "prep ms/v", "backbone", "head", "cameras",
                                                       "total ms/v", "peak MiB"))
    results = []
    for S in [int(v) for v in a.views.split(",")]:
        imgs = [synth(2 * W, 2 * H, i) for i in range(S)]
        rows = []
        for r in range(a.warmup + a.runs):
            times.clear()
            t0 = time.perf_counter()
            out = proc(image=imgs, process_res=max(W, H), process_res_method="upper_bound_resize", num_workers=1)
            x = out[0] if isinstance(out, (tuple, list)) else out
            if x.dim() == 4:
                x = x[None]
            t1 = time.perf_counter()
            with torch.no_grad():
                net(x.float())
            t2 = time.perf_counter()
            if r >= a.warmup:
                rows.append([(t1 - t0) / S, times.get("backbone", 0) / S, times.get("head", 0) / S,
                             times.get("cameras", 0) / S, (t2 - t0) / S])
        import statistics

        med = [statistics.median(c) * 1e3 for c in zip(*rows)]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print("%5d  %10.1f  %10.1f  %10.1f  %10.1f  %10.1f  %10.0f" % (S, *med, peak))
        results.append(dict(views=S, preprocess_ms=med[0], backbone_ms=med[1], head_ms=med[2],
                            cameras_ms=med[3], total_ms_per_view=med[4], peak_rss_mib=peak))
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump(dict(model=a.model, torch=torch.__version__, threads=torch.get_num_threads(),
                           width=W, height=H, results=results), f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
