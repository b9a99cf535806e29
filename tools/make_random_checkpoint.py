#!/usr/bin/env python3
"""Write a random-weight Depth Anything 3 checkpoint of the real size from a
state_dict key list, with the Python standard library only (no torch, no
numpy): a Hugging Face style folder with config.json ({"model_name": NAME})
and model.safetensors (float32).

    python3 tools/make_random_checkpoint.py \
        --keys ../shared/docs/da3-state-dict-keys/statedict_da3-large.tsv \
        --name da3-large --out /tmp/da3-large

The values are a fixed pseudo-random block of small uniform numbers (|x| <=
0.02) tiled over each tensor, so the file is written at disk speed; they
only serve timing and memory benchmarks (`gs bench infer`), whose cost does
not depend on the values. Parity checks use tools/make_da3_goldens.py.
"""
import argparse
import array
import json
import os
import random
import struct
import sys

BLOCK = 1 << 20  # floats in the tiled block


def read_keys(path):
    keys = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[1].startswith("["):
                continue
            shape = [int(x) for x in parts[1].strip("[]").split(",") if x.strip()]
            if parts[2] != "float32":
                sys.exit(f"{path}: {parts[0]} is {parts[2]}; only float32 key lists are supported")
            keys.append((parts[0], shape))
    if not keys:
        sys.exit(f"{path}: no keys found (expected lines NAME<TAB>[d0, d1, ...]<TAB>float32)")
    return keys


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", required=True, help="TSV key list (shared/docs/da3-state-dict-keys/)")
    ap.add_argument("--name", required=True, help="model_name for config.json (da3-small, da3-large, ...)")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    keys = read_keys(a.keys)
    header, offset = {}, 0
    for name, shape in keys:
        n = 1
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * n]}
        offset += 4 * n
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)

    rng = random.Random(a.seed)
    block = array.array("f", (rng.uniform(-0.02, 0.02) for _ in range(BLOCK))).tobytes()
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "model.safetensors")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for name, shape in keys:
            left = header[name]["data_offsets"][1] - header[name]["data_offsets"][0]
            while left:
                chunk = min(left, len(block))
                f.write(block[:chunk])
                left -= chunk
    os.replace(tmp, path)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump({"model_name": a.name}, f)
    print(f"{path}: {len(keys)} tensors, {offset / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
