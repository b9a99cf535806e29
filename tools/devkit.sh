#!/bin/bash
# devkit.sh - pack what a GPU session needs into .devkit/ (git-ignored), so that
# the CUDA tests and benchmarks run on the device machine in two `run` calls
# of at most ~7 minutes each, without installing anything there:
#
#   make devkit GSPLAT_GIT=/work/.mirror/nerfstudio-project+gsplat/repo
#   device run 1 (carry [".devkit"]):  bash tools/device_checks.sh call1
#   device run 2 (at once, warm):      bash tools/device_checks.sh call2
#
# .devkit/kit.tar.xz holds, built and gathered here (Debian 12, x86-64):
#   bin/gs, bin/test_gs   a CUDA build (sm_90), stripped
#   lib/                  the shared libraries they need beyond glibc/libstdc++
#                         (OpenBLAS, libpng, libjpeg, cJSON, stb, tinyexr, ...)
#   obj/                  the C objects of that build (debug info stripped) and
#                         build.env (its nvcc and link flags): the fallback that
#                         rebuilds the .cu files with the device's nvcc and
#                         relinks (device_checks.sh, REBUILD=1 or automatic)
#   data/                 a copy of ../shared/data (the device sees no ../shared)
#   gsplat/               gsplat's source at the commit DA3 pins (0b4dddf, 1.5.2),
#                         with Debian's glm headers where its submodule goes
#                         (only when GSPLAT_GIT names a clone or mirror of it)
#   whl/                  the lpips package (pure Python) for the reference timings
#   KIT                   the commit (git describe --dirty) it was built from, when,
#                         and with which nvcc
# The device image has torch, numpy, scikit-image, ninja and nvcc, and no
# network; a call carries at most 64 MiB with the working tree, so the kit is
# compressed (about 45 MB). device_checks.sh unpacks it once per kit hash.
#
# KIT_CUDA=0 packs a CPU build instead: for checking device_checks.sh here
# (QUICK=1 REQUIRE_CUDA=0 bash tools/device_checks.sh call1), never for a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
K=.devkit
KIT_CUDA=${KIT_CUDA:-1}
BUILD=${BUILD_DEV:-$([ "$KIT_CUDA" = 1 ] && echo build-dev || echo build-devcpu)}
DATA=${GS_SHARED_DATA:-../shared/data}
GSPLAT_COMMIT=0b4dddf04cb687367602c01196913cde6a743d70
rm -rf "$K"
mkdir -p "$K/stage/bin" "$K/stage/lib" "$K/stage/whl" "$K/stage/obj"
S=$K/stage

echo "== build ($BUILD, CUDA=$KIT_CUDA)"
make -s -j"$(nproc)" BUILD="$BUILD" CUDA="$KIT_CUDA" "$BUILD/gs" "$BUILD/test_gs"
strip -o "$S/bin/gs" "$BUILD/gs"
strip -o "$S/bin/test_gs" "$BUILD/test_gs"

echo "== shared libraries"
for lib in $(ldd "$BUILD/test_gs" "$BUILD/gs" | awk '/=>/ {print $3}' | sort -u); do
    case "$(basename "$lib")" in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) ;;
        *) cp -L "$lib" "$S/lib/" ;;
    esac
done
ls "$S/lib"

echo "== objects for a relink there"
for o in $(make -s print-objs BUILD="$BUILD" CUDA="$KIT_CUDA"); do # the C objects of this tree, none left over
    rel=${o#"$BUILD/obj/"}
    mkdir -p "$S/obj/$(dirname "$rel")"
    strip --strip-debug -o "$S/obj/$rel" "$o"
done
{
    echo "NVFLAGS='$(make -s -f Makefile print-nvflags BUILD="$BUILD" CUDA="$KIT_CUDA")'"
    echo "LIBS='$(make -s -f Makefile print-libs BUILD="$BUILD" CUDA="$KIT_CUDA")'"
} > "$S/obj/build.env"
echo "   $(find "$S/obj" -name '*.o' | wc -l) objects, $(du -sh "$S/obj" | cut -f1)"

echo "== data ($DATA)"
if [ -d "$DATA" ]; then cp -rL "$DATA" "$S/data"; else echo "   $DATA not found: the data tests will fail there"; fi

if [ -n "${GSPLAT_GIT:-}" ]; then
    echo "== gsplat $GSPLAT_COMMIT from $GSPLAT_GIT"
    mkdir -p "$S/gsplat"
    git --git-dir="$GSPLAT_GIT" archive "$GSPLAT_COMMIT" gsplat | tar -x -C "$S/gsplat"
    for f in setup.py MANIFEST.in README.md LICENSE; do # (archive of a top-level file trips on blobs a mirror lacks)
        git --git-dir="$GSPLAT_GIT" show "$GSPLAT_COMMIT:$f" > "$S/gsplat/$f"
    done
    # recent torch headers need C++20; gsplat 1.5.2 asks nvcc for C++17
    sed -i 's/"-std=c++17"/"-std=c++20"/' "$S/gsplat/setup.py"
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download libglm-dev >/dev/null && dpkg -x libglm-dev_*.deb root)
    mkdir -p "$S/gsplat/gsplat/cuda/csrc/third_party/glm"
    cp -r "$tmp/root/usr/include/glm" "$S/gsplat/gsplat/cuda/csrc/third_party/glm/"
    rm -rf "$tmp"
else
    echo "== gsplat: GSPLAT_GIT not set (a clone or mirror of nerfstudio-project/gsplat); no gsplat comparison"
fi

echo "== lpips wheel"
PY=${PYTHON:-python3}
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$S/whl" lpips==0.1.4 ||
    echo "   could not fetch lpips: the reference LPIPS timings will be skipped there"

{
    echo "commit $(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
    echo "packed $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
    echo "cuda $KIT_CUDA; $("${NVCC:-nvcc}" --version 2>/dev/null | tail -1 || echo 'no nvcc')"
} > "$S/KIT"
cat "$S/KIT"

tar -C "$S" -cf - . | xz -T0 -6 > "$K/kit.tar.xz"
rm -rf "$S"
du -sh "$K/kit.tar.xz"
sha256sum "$K/kit.tar.xz" | cut -c1-16
echo "carry [\".devkit\"] and run: bash tools/device_checks.sh call1, then at once call2"
