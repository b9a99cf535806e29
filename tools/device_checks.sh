#!/bin/bash
# device_checks.sh - the CUDA tests and benchmarks of issues 3 and 4, run on the
# GPU machine from the repository root with the kit tools/devkit.sh packed:
#
#   bash tools/device_checks.sh [tests] [bench] [gsplat] [all]
#
#   tests   every test whose name or file contains "cuda" (CUDA against the CPU
#           and the reference goldens), then the whole suite
#   bench   gs bench render (3M-Gaussian feed-forward workload at 504x504 and
#           1920x1080, the real scenes) and gs bench eval, CPU and CUDA; the
#           reference Python metrics (tools/bench_eval_reference.py) on the GPU
#   gsplat  builds gsplat (sm_90) and times it on the cases bench render
#           exported, beside gs, with the PSNR of gs's frames against gsplat's
#
# QUICK=1 passes --quick to the benchmarks (a smoke test of this script on any
# machine). Everything printed goes to $OUT/log.txt, the figures to $OUT/*.json (at most
# 6 files: the device tool brings back 8). Stages are independent: split them
# over calls if one call would run past 10 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${OUT:-/tmp/device-out}
mkdir -p "$O"
K=/tmp/gs-devkit
if [ ! -x "$K/bin/gs" ]; then
    [ -f .devkit/kit.tar.xz ] || { echo "no .devkit/kit.tar.xz: run make devkit here and carry .devkit"; exit 2; }
    mkdir -p "$K" && tar -C "$K" -xJf .devkit/kit.tar.xz
fi
export LD_LIBRARY_PATH=$K/lib:${LD_LIBRARY_PATH:-}
# gs opens libcublas.so.13 with dlopen (LPIPS): find the toolkit's or the pip
# wheel's copy when the loader's cache lacks it
if ! ldconfig -p 2> /dev/null | grep -q 'libcublas\.so\.13 '; then
    blas=$(ls /usr/local/cuda/lib64/libcublas.so.13 /usr/local/cuda/lib/libcublas.so.13 \
        /usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13 /usr/local/cuda-*/lib*/libcublas.so.13 2> /dev/null | head -1)
    [ -n "$blas" ] || blas=$(python3 -c 'import nvidia, glob, os; print(next(iter(sorted(g for p in nvidia.__path__ for g in glob.glob(os.path.join(p, "*", "lib", "libcublas.so.13")))), ""))' 2> /dev/null)
    [ -n "$blas" ] || blas=$(find / -xdev -name libcublas.so.13 2> /dev/null | head -1)
    [ -n "$blas" ] && export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$(dirname "$blas")
fi
export GS_BIN=$K/bin/gs GS_SHARED_DATA=$K/data
GS=$K/bin/gs
stages=" $* "
[ "$stages" = "  " ] && stages=" all "
want() { [[ "$stages" == *" $1 "* || "$stages" == *" all "* ]]; }
L=$O/log.txt
: > "$L"
log() { tee -a "$L"; }
{ nvidia-smi -L; nvcc --version | tail -1; python3 -c 'import torch; print("torch", torch.__version__)'; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; } 2>&1 | log

if want tests; then
    echo "== tests: cuda" | log
    "$K/bin/test_gs" cuda 2>&1 | log
    echo "== tests: the whole suite (failures and the summary)" | log
    "$K/bin/test_gs" 2>&1 | grep -E '^FAIL|^ +[^ ].*:[0-9]+:|passed' | log
fi

if want bench || want gsplat; then
    echo "== bench render" | log
    rm -rf /tmp/gs-export
    "$GS" bench render ${QUICK:+--quick} --device all --threads "$(nproc)" --json "$O/bench_render.json" --export /tmp/gs-export \
        2>&1 | log
fi
if want bench; then
    echo "== bench eval" | log
    "$GS" bench eval ${QUICK:+--quick} --device all --json "$O/bench_eval.json" 2>&1 | log
    if ls "$K"/whl/*.whl > /dev/null 2>&1; then
        python3 -m pip install -q --no-index --no-deps --target /tmp/site "$K"/whl/*.whl &&
            PYTHONPATH=/tmp/site python3 tools/bench_eval_reference.py ${QUICK:+--quick} --device all --lpips-dir "$K/data/lpips" \
                --json "$O/bench_eval_reference.json" 2>&1 | log
    else
        echo "no lpips wheel in the kit: reference timings skipped" | log
    fi
fi

if want gsplat; then
    echo "== gsplat" | log
    if [ ! -d "$K/gsplat" ]; then
        echo "no gsplat source in the kit (make devkit GSPLAT_GIT=...)" | log
    else
        if ! PYTHONPATH=/tmp/gsplat-site python3 -c 'import gsplat.csrc' 2> /dev/null; then
            (cd "$K/gsplat" && TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=$(nproc) python3 -m pip install -q --no-deps \
                --no-build-isolation --target /tmp/gsplat-site .) > /tmp/gsplat_build.log 2>&1 ||
                { tail -40 /tmp/gsplat_build.log | log; exit 1; }
        fi
        python3 - /tmp/gs-export/manifest.json > /tmp/gs-cases.txt << 'EOF'
import json, sys
for c in json.load(open(sys.argv[1])):
    print(c["case"], c["scene"], c["cameras"], c["width"], c["height"], int(c.get("antialiased", False)))
EOF
        rm -rf /tmp/gs-renders
        while read -r tag scene cams w h aa; do
            "$GS" render "/tmp/gs-export/$scene" --cameras "/tmp/gs-export/$cams" --out "/tmp/gs-renders/${tag}_${w}x${h}" \
                --device cuda $([ "$aa" = 1 ] && echo --antialiased) > /dev/null 2>&1 || echo "gs render $tag failed" | log
        done < /tmp/gs-cases.txt
        PYTHONPATH=/tmp/gsplat-site python3 tools/bench_gsplat.py --export /tmp/gs-export --gs-renders /tmp/gs-renders \
            --gs-json "$O/bench_render.json" --json "$O/gsplat.json" 2>&1 | log
    fi
fi
ls -la "$O"
