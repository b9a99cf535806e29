#!/bin/bash
# device_checks.sh - the CUDA tests and benchmarks, run on the GPU machine from
# the repository root with the kit tools/devkit.sh packed (.devkit carried).
# A GPU window is about 15 minutes, start-up included, so the work is two
# calls of at most ~7 minutes each, the second made at once (warm machine):
#
#   bash tools/device_checks.sh call1   env, the CUDA tests (GS_REQUIRE_CUDA=1:
#                                       a skip fails), gs bench render on CUDA
#                                       (every case checked against a CPU frame),
#                                       gs bench eval on CUDA, the reference
#                                       metrics (lpips with TF32 on and off);
#                                       starts building gsplat in the background
#   bash tools/device_checks.sh call2   env, gsplat (waits for that build, or
#                                       builds it), gs and gsplat on the cases
#                                       call1 exported, PSNR gs vs gsplat
#   bash tools/device_checks.sh STAGE.. any of env tests render eval reference
#                                       gsplat-build gsplat suite (the whole
#                                       CPU+CUDA suite, left to CI otherwise);
#                                       all = call1 + call2
#
# Every stage runs under `timeout` (T_<STAGE>=seconds overrides), its full
# output goes to $OUT/log.txt, the figures to $OUT/*.json, the test output to
# $OUT/tests_*.txt (at most 8 files for `all`: the device tool brings back 8),
# and a short table of every stage is printed last. Exit status: 0 when every stage passed, 1 otherwise, 3 when no GPU is
# usable (then nothing after `env` runs).
#
# The kit is unpacked once per kit hash (/tmp/gs-devkit-HASH), so a re-carried
# kit on a warm machine is used, not the old one. The kit's libraries are put
# on LD_LIBRARY_PATH for gs and test_gs alone (python and nvcc never see them).
# When gs finds no usable GPU although nvidia-smi sees one (or REBUILD=1), the
# .cu files are rebuilt with this machine's nvcc for its GPU and gs and
# test_gs relinked from the kit's objects.
#
# Knobs: QUICK=1 passes --quick to the benchmarks; REQUIRE_CUDA=0 goes on
# without a GPU (a dry run of this script on a CPU machine:
#   KIT_CUDA=0 bash tools/devkit.sh && QUICK=1 REQUIRE_CUDA=0 OUT=/tmp/o bash tools/device_checks.sh call1
# ), REBUILD=1 forces the relink, KIT=path another kit.
set -uo pipefail
cd "$(dirname "$0")/.."
O=${OUT:-/tmp/device-out}
mkdir -p "$O"
L=$O/log.txt
SUM=/tmp/gs-device-summary.$$ # (not in $OUT: the table ends the log)
NOTE=/tmp/gs-device-note.$$    # a stage's one-line result for its row
: > "$SUM"
REQUIRE_CUDA=${REQUIRE_CUDA:-1}
QUICK=${QUICK:-}
REBUILD=${REBUILD:-0}
T0=$(date +%s)
log() { tee -a "$L"; }
say() { echo "$*" | log; }
now() { echo $(($(date +%s) - T0)); }

# ---- the kit, unpacked once per hash ----------------------------------------------
KITF=${KIT:-.devkit/kit.tar.xz}
[ -f "$KITF" ] || { say "no $KITF: run tools/devkit.sh here and carry .devkit"; exit 2; }
HASH=$(sha256sum "$KITF" | cut -c1-16)
K=/tmp/gs-devkit-$HASH
if [ ! -f "$K/.complete" ]; then
    rm -rf "$K.part" && mkdir -p "$K.part" && tar -C "$K.part" -xJf "$KITF" && touch "$K.part/.complete" &&
        rm -rf "$K" && mv "$K.part" "$K" || { say "could not unpack $KITF"; exit 2; }
fi
GS=$K/bin/gs
TEST_GS=$K/bin/test_gs
# gs opens libcublas.so.13 with dlopen: find the toolkit's or the pip wheel's
# copy when the loader's cache lacks it
BLASDIR=
if ! ldconfig -p 2> /dev/null | grep -q 'libcublas\.so\.13 '; then
    blas=$(ls /usr/local/cuda/lib64/libcublas.so.13 /usr/local/cuda/targets/x86_64-linux/lib/libcublas.so.13 \
        /usr/local/cuda-*/lib*/libcublas.so.13 2> /dev/null | head -1)
    [ -n "$blas" ] || blas=$(python3 -c 'import nvidia, glob, os; print(next(iter(sorted(g for p in nvidia.__path__ for g in glob.glob(os.path.join(p, "**", "libcublas.so.13"), recursive=True))), ""))' 2> /dev/null)
    [ -n "$blas" ] && BLASDIR=$(dirname "$blas")
fi
# gs's own commands, and only they, see the kit's libraries and data
gsrun() {
    LD_LIBRARY_PATH="$K/lib${BLASDIR:+:$BLASDIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" GS_SHARED_DATA="$K/data" \
        GS_BIN="$GS" "$@"
}

# stage NAME SECONDS COMMAND...: run under timeout, log everything, one summary row
stage() {
    local name=$1 secs=$2 t=$(date +%s) rc
    shift 2
    local var=T_${name//-/_}
    secs=${!var:-$secs}
    say "== $name (at $(now) s, limit $secs s)"
    timeout -k 10 "$secs" bash -c "$*" 2>&1 | log # (functions and variables are exported)
    rc=${PIPESTATUS[0]}
    local st=ok note=
    [ "$rc" = 0 ] || st="FAIL($rc)"
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && st="TIMEOUT"
    [ -f "$NOTE" ] && note=$(head -c 200 "$NOTE") && rm -f "$NOTE"
    printf '%-13s %-9s %5s s  %s\n' "$name" "$st" $(($(date +%s) - t)) "$note" >> "$SUM"
    [ "$rc" = 0 ]
}

# ---- the relink fallback: this machine's nvcc, for its GPU ------------------------------
relink() {
    local nvcc gcc arch R
    nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2> /dev/null) || { echo "relink: no nvcc"; return 1; }
    gcc=$(command -v gcc || command -v cc) || { echo "relink: no gcc"; return 1; }
    # shellcheck disable=SC1091
    . "$K/obj/build.env"
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2> /dev/null | head -1 | tr -d '. ')
    arch=${arch:-90}
    local nvf=${NVFLAGS//compute_90/compute_$arch}
    nvf=${nvf//sm_90/sm_$arch}
    R=/tmp/gs-relink-$HASH
    rm -rf "$R" && mkdir -p "$R/cu"
    echo "relink: $($nvcc --version | tail -1), sm_$arch, into $R"
    local cu pids=()
    for cu in $(find gs data backbone heads raster eval -name '*.cu' | sort); do
        "$nvcc" $nvf -c "$cu" -o "$R/cu/$(echo "$cu" | tr / _).o" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || { echo "relink: nvcc failed"; return 1; }; done
    local libobj
    libobj=$(find "$K/obj" -name '*.o' ! -path "$K/obj/tests/*" ! -path "$K/obj/gs/cli/*")
    ar rcs "$R/libgs.a" $libobj "$R"/cu/*.o || return 1
    local cudahome libs
    cudahome=$(dirname "$(dirname "$nvcc")")
    libs=$(ls "$K"/lib/*.so* | grep -v libgomp)
    "$gcc" -fopenmp -o "$R/gs" "$K"/obj/gs/cli/*.o "$R/libgs.a" $libs -L"$cudahome/lib64" -lcudart_static \
        -ldl -lrt -lstdc++ -lm -lpthread || return 1
    "$gcc" -fopenmp -o "$R/test_gs" "$K"/obj/tests/*.o "$R/libgs.a" $libs -L"$cudahome/lib64" -lcudart_static \
        -ldl -lrt -lstdc++ -lm -lpthread || return 1
    touch "$R/.done"
    echo "relink: done"
}
# a relinked pair (from this call's env stage, or an earlier call on this machine) is used
use_relinked() {
    [ -f "/tmp/gs-relink-$HASH/.done" ] || return 0
    GS=/tmp/gs-relink-$HASH/gs TEST_GS=/tmp/gs-relink-$HASH/test_gs
}

gpu_usable() { gsrun "$GS" --version 2>&1 | grep -q '^cuda: .*sm_[0-9]'; }

st_env() {
    echo "kit $HASH: $(tr '\n' ';' < "$K/KIT")"
    echo "repo: $(git describe --always --dirty --abbrev=12 2> /dev/null || echo 'not a git checkout')"
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv,noheader 2> /dev/null ||
        echo "nvidia-smi: not found or failed"
    echo "nvcc: $(nvcc --version 2> /dev/null | tail -1 || echo none)"
    echo "gcc: $(gcc --version 2> /dev/null | head -1 || echo none)"
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "gpu", torch.cuda.is_available())' ||
        echo "torch: not importable"
    echo "cores: $(nproc); libcublas.so.13: ${BLASDIR:-from the loader cache}"
    echo "gs: $GS; test_gs: $TEST_GS"
    gsrun "$GS" --version
    if [ "$REBUILD" = 1 ] || { ! gpu_usable && nvidia-smi -L > /dev/null 2>&1; }; then
        echo "gs sees no usable GPU (or REBUILD=1): rebuilding the .cu files here"
        relink && use_relinked && gsrun "$GS" --version
    fi
    gsrun "$GS" --version | grep '^cuda:' > "$NOTE"
    gpu_usable || { echo "no usable GPU: $(gsrun "$GS" --version | grep '^cuda:')"; return 3; }
}

st_tests() {
    # every test whose name or file says cuda; a skip is a failure
    gsrun env GS_REQUIRE_CUDA="$REQUIRE_CUDA" "$TEST_GS" cuda > "$O/tests_cuda.txt" 2>&1
    local rc=$?
    grep -E '^(FAIL|SKIP)|^    ' "$O/tests_cuda.txt"
    grep -E '^cuda tests:|passed,' "$O/tests_cuda.txt" | tail -2
    grep -E '^cuda tests:' "$O/tests_cuda.txt" | tail -1 > "$NOTE"
    return $rc
}

st_suite() {
    gsrun "$TEST_GS" > "$O/tests_all.txt" 2>&1
    local rc=$?
    grep -E '^(FAIL|SKIP)|passed,' "$O/tests_all.txt"
    grep -E 'passed,' "$O/tests_all.txt" | tail -1 > "$NOTE"
    return $rc
}

DEV=cuda
[ "$REQUIRE_CUDA" = 1 ] || DEV=all # a dry run without a GPU renders on the CPU
st_render() {
    rm -rf /tmp/gs-export
    gsrun "$GS" bench render ${QUICK:+--quick} --device "$DEV" --threads "$(nproc)" --json "$O/bench_render.json" \
        --export /tmp/gs-export > /tmp/gs-render.txt 2>&1
    local rc=$?
    cat /tmp/gs-render.txt
    echo "$(grep -c 'check vs cpu:.*: ok$' /tmp/gs-render.txt) CUDA frames match the CPU," \
        "$(grep -c 'MISMATCH' /tmp/gs-render.txt) differ" > "$NOTE"
    return $rc
}

st_eval() { gsrun "$GS" bench eval ${QUICK:+--quick} --device "$DEV" --json "$O/bench_eval.json"; }

st_reference() {
    ls "$K"/whl/*.whl > /dev/null 2>&1 || { echo "no lpips wheel in the kit"; return 1; }
    python3 -m pip install -q --no-index --no-deps --target /tmp/site "$K"/whl/*.whl || return 1
    local dev=cuda
    python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2> /dev/null || dev=cpu
    PYTHONPATH=/tmp/site python3 tools/bench_eval_reference.py ${QUICK:+--quick} --device $dev --tf32 both \
        --lpips-dir "$K/data/lpips" --json "$O/bench_eval_reference.json"
}

# gsplat builds in its own session so that it outlives call1 and is ready for call2
GSPLAT_SITE=/tmp/gsplat-site
st_gsplat_build() {
    [ -d "$K/gsplat" ] || { echo "no gsplat source in the kit (tools/devkit.sh with GSPLAT_GIT=...)"; return 1; }
    if [ -f /tmp/gsplat_build.rc ] || [ -f /tmp/gsplat_build.pid ]; then echo "gsplat build already started"; return 0; fi
    python3 -c 'import torch' || return 1
    rm -rf /tmp/gsplat-src && cp -r "$K/gsplat" /tmp/gsplat-src
    setsid bash -c "cd /tmp/gsplat-src && TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=${GSPLAT_JOBS:-8} python3 -m pip install \
        --no-deps --no-build-isolation --no-index --target $GSPLAT_SITE . > /tmp/gsplat_build.log 2>&1; \
        echo \$? > /tmp/gsplat_build.rc" < /dev/null > /dev/null 2>&1 &
    echo $! > /tmp/gsplat_build.pid
    echo "gsplat build started in the background (log /tmp/gsplat_build.log)"
}

st_gsplat() {
    [ -f /tmp/gsplat_build.pid ] || [ -f /tmp/gsplat_build.rc ] || st_gsplat_build || return 1
    while [ ! -f /tmp/gsplat_build.rc ]; do sleep 5; done # (the stage's timeout bounds the wait)
    tail -5 /tmp/gsplat_build.log
    cp /tmp/gsplat_build.log "$O/gsplat_build.log"
    [ "$(cat /tmp/gsplat_build.rc)" = 0 ] || { echo "gsplat did not build"; tail -40 /tmp/gsplat_build.log; return 1; }
    [ -f /tmp/gs-export/manifest.json ] || st_render || return 1 # a fresh machine: export the cases again
    python3 - /tmp/gs-export/manifest.json > /tmp/gs-cases.txt << 'EOF'
import json, sys
for c in json.load(open(sys.argv[1])):
    print(c["case"], c["scene"], c["cameras"], c["width"], c["height"], int(c.get("antialiased", False)))
EOF
    rm -rf /tmp/gs-renders
    local tag scene cams w h aa
    while read -r tag scene cams w h aa; do
        gsrun "$GS" render "/tmp/gs-export/$scene" --cameras "/tmp/gs-export/$cams" --out "/tmp/gs-renders/${tag}_${w}x${h}" \
            --device cuda $([ "$aa" = 1 ] && echo --antialiased) > /dev/null 2>&1 || { echo "gs render $tag failed"; return 1; }
    done < /tmp/gs-cases.txt
    PYTHONPATH=$GSPLAT_SITE python3 tools/bench_gsplat.py --export /tmp/gs-export --gs-renders /tmp/gs-renders \
        --gs-json "$O/bench_render.json" --json "$O/gsplat.json"
}

# ---- the figures, short: read back from the JSON the stages wrote ----------------------
figures() {
    python3 - "$O" << 'EOF'
import json, os, sys
o = sys.argv[1]
def load(n):
    try:
        return json.load(open(os.path.join(o, n)))
    except Exception:
        return None
r = load("bench_render.json")
if r:
    print("gs bench render (%s):" % r.get("gpu"))
    for x in r["results"]:
        chk = ""
        if "check_ok" in x:
            p = "identical" if x.get("check_identical") else "%.1f dB" % (x.get("check_psnr_db") or 0)
            chk = "  vs cpu %s, pairs %s/%s %s" % (p, x.get("check_pairs_cpu"), x.get("check_pairs_cuda"),
                                                  "ok" if x["check_ok"] else "MISMATCH")
        print("  %-4s %-22s %4dx%-4d %9d  %9.3f ms%s" % (x["device"], x["scene"][:22], x["width"], x["height"],
                                                       x["gaussians"], x["median_ms"], chk))
for name, title in (("bench_eval.json", "gs bench eval"), ("bench_eval_reference.json", "reference metrics")):
    e = load(name)
    if e:
        print("%s:" % title)
        for x in e.get("results", []):
            t = "" if x.get("tf32") is None else (" tf32" if x["tf32"] else " fp32")
            print("  %-18s %-5s %4dx%-4d %9.3f ms" % (x.get("metric", "?") + t, x.get("device", "?"),
                                                   x.get("width", 0), x.get("height", 0), x.get("median_ms", 0)))
g = load("gsplat.json")
if g:
    print("gsplat %s:" % g.get("gsplat"))
    for x in g.get("results", g.get("cases", [])):
        print("  " + ", ".join("%s %s" % (k, (("%.3f" % v) if isinstance(v, float) else v)) for k, v in x.items()))
EOF
}

# ---- what runs ---------------------------------------------------------------------------
args=" $* "
[ "$args" = "  " ] && args=" call1 "
has() { [[ "$args" == *" $1 "* ]]; }
want() {
    has "$1" || has all ||
        { has call1 && [[ " env tests render eval reference gsplat-build " == *" $1 "* ]]; } ||
        { has call2 && [[ " env gsplat " == *" $1 "* ]]; }
}
: > "$L"
fail=0
use_relinked
export -f log say now gsrun relink use_relinked gpu_usable st_env st_tests st_suite st_render st_eval st_reference \
    st_gsplat_build st_gsplat
export O L NOTE K GS TEST_GS BLASDIR HASH T0 REQUIRE_CUDA DEV GSPLAT_SITE QUICK REBUILD
stage env 240 st_env
rc=$?
use_relinked
export GS TEST_GS
if [ "$rc" != 0 ]; then
    if [ "$REQUIRE_CUDA" = 1 ]; then
        say "stopping: no usable GPU (REQUIRE_CUDA=0 goes on without one, for a dry run)"
        log < "$SUM"
        rm -f "$SUM" "$NOTE"
        exit 3
    fi
    fail=1
fi
if want gsplat-build; then stage gsplat-build 30 st_gsplat_build || fail=1; fi
if want tests; then stage tests 240 st_tests || fail=1; fi
if want suite; then stage suite 300 st_suite || fail=1; fi
if want render; then stage render 240 st_render || fail=1; fi
if want eval; then stage eval 120 st_eval || fail=1; fi
if want reference; then stage reference 150 st_reference || fail=1; fi
if want gsplat; then stage gsplat 400 st_gsplat || fail=1; fi
{
    echo
    echo "== figures"
    figures
    echo
    echo "== summary ($(now) s in all; kit $HASH; full log $L)"
    cat "$SUM"
} 2>&1 | log
rm -f "$SUM" "$NOTE"
exit $fail
