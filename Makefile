# fmnist - Makefile. `make help` lists the targets.
#
#   make            build ./fmnist
#   make train      install what is missing, link the data, build, train the default MLP
#   make test       build and run every Check suite (SAN=1: with ASan+UBSan; OMP= : serial build)
#   make bench      speed figures (kernels, epochs, PyTorch beside them when installed)
#   make valgrind   a short run and the fast suites under valgrind (AVX2 build)
#   make data       link the Fashion-MNIST files into data/ (or say how to get them)
#   make install    install the binary into $(DESTDIR)$(PREFIX)/bin
#   make clean

CC      ?= cc
PREFIX  ?= /usr/local
OMP     ?= -fopenmp
OPT     ?= -O3 -march=native
CFLAGS  ?= -g $(OPT)
SAN     ?=

ifeq ($(SAN),1)
  BUILD   ?= build/san
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
  BUILD   ?= build/rel
  SANFLAGS :=
endif
ifeq ($(strip $(OMP)),)
  BUILD := $(BUILD)-serial
endif

PKG_DEPS    := zlib stb
DEPS_CFLAGS := $(shell pkg-config --cflags $(PKG_DEPS) 2>/dev/null)
DEPS_LIBS   := $(shell pkg-config --libs $(PKG_DEPS) 2>/dev/null) -lm
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)

# -fno-math-errno lets sqrtf vectorize; unlike -ffast-math it changes no result.
ALL_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -fno-math-errno -Wall -Wextra -Werror -Isrc \
              $(DEPS_CFLAGS) $(OMP) $(SANFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS := $(OMP) $(SANFLAGS) $(LDFLAGS)

LIB_SRC  := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRC  := $(sort $(wildcard src/cli/*.c)) src/main.c
CLI_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC))
LIB_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRC)) $(BUILD)/tests/check_main.o $(BUILD)/tests/testutil.o
SUITES   := $(patsubst tests/test_%.c,%,$(TEST_SRC))

BIN ?= fmnist$(if $(filter 1,$(SAN)),-san)$(if $(strip $(OMP)),,-serial)

.PHONY: all deps train test bench data install clean help check-deps valgrind
all: $(BIN)

$(BIN): $(CLI_OBJ) $(BUILD)/libfmnist.a
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(DEPS_LIBS)

$(BUILD)/libfmnist.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(if $(findstring tests/,$<),$(CHECK_CFLAGS) -I$(BUILD)/tests) -c $< -o $@

# Every tests/test_NAME.c defines `Suite *NAME_suite(void)`; the list is generated,
# so adding a suite is adding a file.
$(BUILD)/tests/suites.h: $(TEST_SRC) Makefile
	@mkdir -p $(dir $@)
	@printf '%s\n' $(foreach s,$(SUITES),'SUITE($(s))') > $@.tmp && mv $@.tmp $@
$(BUILD)/tests/check_main.o: $(BUILD)/tests/suites.h

$(BUILD)/check_fmnist: $(TEST_OBJ) $(BUILD)/libfmnist.a
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(CHECK_LIBS) $(DEPS_LIBS)

check-deps:
	@for p in $(PKG_DEPS); do pkg-config --exists $$p || { \
	  echo "fmnist: missing the $$p development package; run: sudo tools/install-deps.sh" >&2; exit 1; }; done

deps:
	@tools/install-deps.sh

test: deps
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/check_fmnist
	FMNIST_BIN=./$(BIN) ./$(BUILD)/check_fmnist

data:
	@tools/link-data.sh

# valgrind 3.19 cannot run AVX-512 code: this builds for AVX2 in build/vg and runs
# a short training, eval, and the fast suites under memcheck.
VG := valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite
valgrind: deps
	@$(MAKE) --no-print-directory BUILD=build/vg BIN=build/vg/fmnist OPT="-O2 -march=x86-64-v3" \
	    build/vg/fmnist build/vg/check_fmnist
	@tools/link-data.sh
	$(VG) build/vg/fmnist train --epochs 1 --train-limit 500 --out build/vg/run --overwrite --no-progress
	$(VG) build/vg/fmnist eval --weights build/vg/run/model.fmw
	for s in cfg layers train gemm idx; do CK_FORK=no CK_RUN_SUITE=$$s $(VG) build/vg/check_fmnist || exit 1; done

train: deps
	@$(MAKE) --no-print-directory $(BIN)
	@tools/link-data.sh
	./$(BIN) train --model models/mlp.cfg $(TRAIN_ARGS)

bench: deps
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/bench_fmnist
	@tools/link-data.sh
	tools/bench.sh ./$(BIN) ./$(BUILD)/bench_fmnist "$(THREADS)"

$(BUILD)/bench_fmnist: $(BUILD)/tools/bench_fmnist.o $(BUILD)/libfmnist.a
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(DEPS_LIBS)

install: $(BIN)
	install -D -m755 $(BIN) $(DESTDIR)$(PREFIX)/bin/fmnist

clean:
	rm -rf build fmnist fmnist-san fmnist-serial fmnist-san-serial

help:
	@sed -n "3,11p" Makefile

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
