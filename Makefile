# gs - Depth Anything 3 -> 3D Gaussian splats -> novel views, in C + CUDA.
#
#   make              build build/gs, build/libgs.a (CUDA objects too when nvcc is found)
#   make CUDA=0       CPU-only build even where nvcc exists
#   make test         build and run the unit tests (build/test_gs)
#   make test-asan    the same suite under AddressSanitizer + UBSan (build-asan/)
#   make fuzz         build libFuzzer targets (build-fuzz/); make fuzz-run FUZZ_SECONDS=N runs each
#   make deps         install the Debian packages the project needs (apt-get)
#   make install      gs into PREFIX/bin (default /usr/local), LPIPS weights from LPIPS_DIR into PREFIX/share/gs/lpips
#   make devkit       pack .devkit/ for a GPU session (tools/devkit.sh; see tools/device_checks.sh)
#   make parity       full-size DA3 parity with the official PyTorch code (outside CI: needs
#                     torch + the official source, PYTHON=... DA3_SRC=...; random weights)
#   BUILD=dir         put objects elsewhere (parallel builds must use different dirs)

BUILD   ?= build
CC      ?= gcc
ifeq ($(origin CC),default)
CC      := gcc
endif
OPT     ?= -O2
CUDA    ?= auto
SAN     ?= 0
NVCC    ?= $(shell command -v nvcc 2>/dev/null || (test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc))
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

# Sources are found in these folders and their subfolders (gs/core, gs/ops, ...).
SRC_DIRS := gs data backbone heads raster eval
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
               -Wshadow -Wstrict-prototypes -fopenmp -I. -I/usr/include/stb -MMD -MP
CFLAGS  ?= $(OPT) -g
LIBS    := -lpng -ljpeg -lwebp -lwebpdemux -ltiff -lexif -lz -lzstd -lcjson -lstb -ltinyexr -lopenblas -lm -lpthread

ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
CUDA    := 0
endif

USE_CUDA := 0
ifneq ($(CUDA),0)
ifneq ($(NVCC),)
USE_CUDA := 1
endif
endif
ifeq ($(CUDA),1)
ifeq ($(NVCC),)
$(error CUDA=1 but nvcc was not found)
endif
endif

ALL_C   := $(sort $(shell find $(SRC_DIRS) -name '*.c'))
CLI_C   := $(filter gs/cli/%.c,$(ALL_C))
LIB_C   := $(filter-out gs/cli/%.c,$(ALL_C))
CU_SRC  := $(sort $(shell find $(SRC_DIRS) -name '*.cu'))
TEST_C  := $(wildcard tests/*.c)
FUZZ_C  := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ := $(LIB_C:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_C:%.c=$(BUILD)/obj/%.o)
TEST_OBJ:= $(TEST_C:%.c=$(BUILD)/obj/%.o)

ifeq ($(USE_CUDA),1)
CFLAGS_BASE += -DGS_HAVE_CUDA
CU_OBJ  := $(CU_SRC:%.cu=$(BUILD)/obj/%.cu.o)
LIB_OBJ += $(CU_OBJ)
NVFLAGS ?= -O3 -std=c++17 -I. -DGS_HAVE_CUDA -gencode arch=compute_90,code=sm_90 \
           -gencode arch=compute_90,code=compute_90 -Xcompiler -Wall,-Werror -Werror all-warnings
LIBS    += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart_static -ldl -lrt -lstdc++
endif

.PHONY: all test test-asan fuzz fuzz-run deps clean lib
all: $(BUILD)/gs $(BUILD)/libgs.a
lib: $(BUILD)/libgs.a

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.cu.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -MMD -MP -c $< -o $@

# `gs --version` names the commit it was built from; commit.h changes (and
# main.o is rebuilt) only when `git describe` does.
GS_COMMIT := $(shell git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
$(BUILD)/gen/commit.h: FORCE
	@mkdir -p $(dir $@); echo '#define GS_COMMIT "commit $(GS_COMMIT)"' > $@.tmp; \
	  if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi
$(BUILD)/obj/gs/cli/main.o: $(BUILD)/gen/commit.h
$(BUILD)/obj/gs/cli/main.o: CFLAGS += -include $(BUILD)/gen/commit.h
.PHONY: FORCE
FORCE:

$(BUILD)/libgs.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/gs: $(CLI_OBJ) $(BUILD)/libgs.a
	$(CC) -fopenmp $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libgs.a $(LIBS)

$(BUILD)/test_gs: $(TEST_OBJ) $(BUILD)/libgs.a $(BUILD)/gs
	$(CC) -fopenmp $(LDFLAGS) -o $@ $(TEST_OBJ) $(BUILD)/libgs.a $(LIBS)

# Tests run from the repository root so that ../shared/data resolves; the CLI
# tests find the binary through GS_BIN.
test: $(BUILD)/test_gs
	GS_BIN=$(BUILD)/gs $(BUILD)/test_gs $(T)

test-asan:
	$(MAKE) BUILD=build-asan SAN=1 OPT=-O1 $(if $(T),T=$(T)) test

# ---- fuzzing (clang + libFuzzer) ------------------------------------------------
FUZZ_CC    ?= clang
FUZZ_BUILD ?= build-fuzz
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -I. -I/usr/include/stb -Wno-unknown-pragmas \
              -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_LIB_C := $(LIB_C)
FUZZ_OBJ   := $(FUZZ_LIB_C:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN   := $(FUZZ_C:tests/fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_SECONDS ?= 20

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_EXTRA) -c $< -o $@

# stb_image (Debian's 2022 header) has shift-overflow UB on hostile JPEGs that
# is harmless on our targets; ASan still watches its memory accesses, and the
# out-of-bounds write it also had is stopped before it (data/image.c, DHT check).
$(FUZZ_BUILD)/obj/data/stb_impl.o: FUZZ_EXTRA := -fno-sanitize=undefined

$(FUZZ_BUILD)/%: tests/fuzz/%.c $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJ) -o $@ -lpng -ljpeg -lwebp -lwebpdemux -ltiff -lexif -lz -lzstd -lcjson -lstb -ltinyexr -lopenblas -lm -lpthread -lstdc++

fuzz: $(FUZZ_BIN)

fuzz-run: fuzz
	@set -e; for f in $(FUZZ_BIN); do \
	  n=$$(basename $$f); mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  seeds=tests/fuzz/seeds/$${n#fuzz_}; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 \
	      $(FUZZ_BUILD)/corpus/$$n $$( [ -d $$seeds ] && echo $$seeds ) 2>$(FUZZ_BUILD)/$$n.log \
	      || { tail -40 $(FUZZ_BUILD)/$$n.log; exit 1; }; \
	  grep -E "^#[0-9]+ *DONE" $(FUZZ_BUILD)/$$n.log | tail -1 || true; \
	done

# ---- dependencies ---------------------------------------------------------------
DEB_PKGS := gcc make pkg-config libpng-dev libjpeg62-turbo-dev libstb-dev libtinyexr-dev zlib1g-dev libzstd-dev \
            libcjson-dev libopenblas-dev ffmpeg clang libclang-rt-14-dev chromium
DEB_PKGS += libwebp-dev libtiff-dev libexif-dev python3-venv
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); echo "deps: installing$$missing"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; fi

clean:
	rm -rf build build-asan $(FUZZ_BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Full-size parity: random-weight checkpoints of the real da3-small / da3-base
# at 504x378, 1 and 4 views, compared tensor by tensor (da3_parity_full).
PYTHON  ?= python3
DA3_SRC ?= /tmp/da3src/src
PARITY_DIR ?= /tmp/gs-parity
PARITY_MODELS ?= da3-small da3-base
PARITY_VIEWS ?= 1 4
parity: $(BUILD)/test_gs
	@for m in $(PARITY_MODELS); do for v in $(PARITY_VIEWS); do \
	  d=$(PARITY_DIR)/$$m-$$v; echo "== $$m, $$v view(s), 504x378 -> $$d"; \
	  $(PYTHON) tools/make_da3_goldens.py --da3-src $(DA3_SRC) --full $$m --views $$v --size 504x378 --out $$d || exit 1; \
	  GS_TEST_VERBOSE=1 GS_PARITY_DIR=$$d $(BUILD)/test_gs da3_parity_full || exit 1; \
	done; done
.PHONY: parity

# make install [PREFIX=/usr/local] [DESTDIR=] [LPIPS_DIR=folder of lpips_*_v0.1.safetensors]:
# gs into PREFIX/bin, and the LPIPS weights (when LPIPS_DIR names them) into
# PREFIX/share/gs/lpips, where the installed gs looks for them.
PREFIX ?= /usr/local
install: $(BUILD)/gs
	install -D -m 755 $(BUILD)/gs $(DESTDIR)$(PREFIX)/bin/gs
	install -d $(DESTDIR)$(PREFIX)/share/gs/lpips
	@if [ -n "$(LPIPS_DIR)" ]; then install -m 644 $(LPIPS_DIR)/lpips_*_v0.1*.safetensors $(DESTDIR)$(PREFIX)/share/gs/lpips/; \
	else echo "install: no LPIPS_DIR given; put lpips_<net>_v0.1.safetensors into $(DESTDIR)$(PREFIX)/share/gs/lpips"; fi
.PHONY: install

devkit:
	bash tools/devkit.sh
.PHONY: devkit

print-libs:
	@echo $(LIBS) -fopenmp
print-nvflags:
	@echo $(NVFLAGS)
print-objs:
	@echo $(LIB_C:%.c=$(BUILD)/obj/%.o) $(CLI_OBJ) $(TEST_OBJ)
.PHONY: print-libs print-nvflags print-objs
.SECONDARY: $(FUZZ_OBJ)

# gs/view/assets.c embeds gs/view/web/* with .incbin, which -MMD cannot see.
$(BUILD)/obj/gs/view/assets.o $(FUZZ_BUILD)/obj/gs/view/assets.o: $(wildcard gs/view/web/*)
