# fmnist - Makefile. `make help` lists the targets.
#
#   make            build ./fmnist
#   make train      install what is missing, link the data, build, train the default MLP
#   make test       check the include rules, build and run every Check suite (SAN=1: with ASan+UBSan; OMP= : serial build)
#   make bench      speed figures (kernels and epochs in fp32 and bf16, PyTorch beside them, the OpenMP wait policies)
#   make speedrun   the time-to-94% record: models/fast94.cfg's recipe, each of SEEDS="1 2 3 4 5" timed, mean +- sd (TORCH=both: PyTorch's too)
#   make valgrind   a short run and the fast suites under valgrind (AVX2 build)
#   make fuzz       build the libFuzzer targets (clang) and run each FUZZ_SECONDS (60)
#   make MPI=1      build ./fmnist with MPI (mpicc, objects in build/mpi): mpirun -np N ./fmnist train ...
#   make test-mpi   build build/mpi/fmnist and run tiny jobs under mpirun -np 1 to 4 (tests/mpi/run.sh)
#   make bench-mpi  loopback latency and bandwidth (pingpong), images/s of -np 1 and 2 against the plain run
#   make data       link the Fashion-MNIST files into data/ (or say how to get them)
#   make install    the binary into $(DESTDIR)$(PREFIX)/bin, the presets (models/*.cfg) into .../share/fmnist/models,
#                   the manual (fmnist.1, from every command's --help) into .../share/man/man1; make uninstall
#   make clean

CC      ?= cc
PREFIX  ?= /usr/local
OMP     ?= -fopenmp
OPT     ?= -O3 -march=native
CFLAGS  ?= -g $(OPT)
SAN     ?=
MPI     ?=
MPICC   ?= mpicc

# MPI=1: the MPI build (-DFMNIST_MPI, src/cli/mpi.c), compiled by mpicc into
# build/mpi*, so that its objects never mix with the plain build's.
ifeq ($(MPI),1)
  CC       := $(MPICC)
  MPI_DIR  := mpi
  MPIFLAGS := -DFMNIST_MPI
else
  MPI_DIR  := rel
  MPIFLAGS :=
endif
ifeq ($(SAN),1)
  BUILD   ?= build/$(if $(filter 1,$(MPI)),mpi-)san
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
  BUILD   ?= build/$(MPI_DIR)
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
              $(DEPS_CFLAGS) $(OMP) $(SANFLAGS) $(MPIFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS := $(OMP) $(SANFLAGS) $(LDFLAGS)

LIB_SRC  := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRC  := $(sort $(filter-out $(if $(filter 1,$(MPI)),,src/cli/mpi.c),$(wildcard src/cli/*.c))) src/main.c
CLI_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC))
LIB_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TEST_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(TEST_SRC)) $(BUILD)/tests/check_main.o $(BUILD)/tests/testutil.o $(BUILD)/tests/team_threads.o
SUITES   := $(patsubst tests/test_%.c,%,$(TEST_SRC))

BIN ?= fmnist$(if $(filter 1,$(SAN)),-san)$(if $(strip $(OMP)),,-serial)

.PHONY: all deps train test bench speedrun data install uninstall clean help check-deps valgrind fuzz fuzz-build test-mpi bench-mpi FORCE
all: $(BIN)

# The build folder BIN was last linked from: when it changes (make MPI=1, then
# make), BIN is linked again, although its new objects may be older than it.
BIN_FROM := build/.from-$(subst /,_,$(BIN))
$(BIN_FROM): FORCE
	@mkdir -p build
	@echo '$(BUILD)' | cmp -s - $@ || echo '$(BUILD)' > $@

$(BIN): $(CLI_OBJ) $(BUILD)/libfmnist.a $(BIN_FROM)
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libfmnist.a $(ALL_LDFLAGS) $(DEPS_LIBS)

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

# The include rules of docs/ARCHITECTURE.md first (tools/check-includes.sh), then the suites.
# bench_fmnist is built too (not run), so that a library change cannot leave it behind.
test: deps
	@tools/check-includes.sh -m src
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/check_fmnist $(BUILD)/bench_fmnist
	FMNIST_BIN=./$(BIN) ./$(BUILD)/check_fmnist

data:
	@tools/link-data.sh

# valgrind 3.19 cannot run AVX-512 code: this builds for AVX2 in build/vg and runs
# a short training, eval, and the fast suites (conv and bn exercise the
# portable, non-AVX-512 kernels there), and robust's library cases (a run
# stopped mid-epoch and resumed, killed writes, divergence) under memcheck.
# GOMP_SPINCOUNT set: fmnist does not run its image again for its wait default
# (cli_wait_default), which would leave valgrind behind
VG := GOMP_SPINCOUNT=1000 valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite
valgrind: deps
	@$(MAKE) --no-print-directory BUILD=build/vg BIN=build/vg/fmnist OPT="-O2 -march=x86-64-v3" \
	    build/vg/fmnist build/vg/check_fmnist
	@tools/link-data.sh
	$(VG) build/vg/fmnist train --epochs 1 --train-limit 500 --out build/vg/run --overwrite --no-progress
	$(VG) build/vg/fmnist eval --weights build/vg/run/model.fmw
	for s in cfg layers train gemm idx conv bn compare; do CK_FORK=no CK_RUN_SUITE=$$s $(VG) build/vg/check_fmnist || exit 1; done
	CK_FORK=no CK_RUN_SUITE=robust CK_RUN_CASE=library $(VG) build/vg/check_fmnist

train: deps
	@$(MAKE) --no-print-directory $(BIN)
	@tools/link-data.sh
	./$(BIN) train --model models/mlp.cfg $(TRAIN_ARGS)

bench: deps
	@$(MAKE) --no-print-directory $(BIN) $(BUILD)/bench_fmnist
	@tools/link-data.sh
	tools/bench.sh ./$(BIN) ./$(BUILD)/bench_fmnist "$(THREADS)"

# The time-to-94% record (README, "Records"): SEEDS="1 2 3 4 5", PRECISION=bf16,
# TORCH=fp32|bf16|both adds tools/speedrun_torch.py's runs of the same recipe
# (TORCH_ONLY=1: those alone).
SEEDS ?= 1
PRECISION ?= fp32
TORCH ?= none
TORCH_ONLY ?=
speedrun: deps
	@$(MAKE) --no-print-directory $(BIN)
	@tools/link-data.sh
	FMNIST_BIN=./$(BIN) tools/speedrun.sh -s "$(SEEDS)" -p $(PRECISION) -T $(TORCH) $(if $(THREADS),-t $(THREADS)) $(if $(TORCH_ONLY),-F)

$(BUILD)/bench_fmnist: $(BUILD)/tools/bench_fmnist.o $(BUILD)/libfmnist.a
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(DEPS_LIBS)
-include $(BUILD)/tools/bench_fmnist.d

# The MPI build and its checks: build/mpi/fmnist against the plain build/rel/fmnist,
# so that ./fmnist stays what it was. MPIRUN_FLAGS adds flags to every mpirun (e.g. --mca btl_vader_single_copy_mechanism none).
MPI_B := build/mpi
test-mpi:
	@command -v $(MPICC) >/dev/null || { echo "fmnist: make test-mpi needs $(MPICC): run sudo tools/install-mpi.sh" >&2; exit 1; }
	@$(MAKE) --no-print-directory MPI=1 BUILD=$(MPI_B) BIN=$(MPI_B)/fmnist $(MPI_B)/fmnist $(MPI_B)/team_mpi
	@$(MAKE) --no-print-directory MPI= BUILD=build/rel BIN=build/rel/fmnist build/rel/fmnist
	@tools/link-data.sh
	tests/mpi/run.sh $(MPI_B)/fmnist $(MPI_B)/team_mpi build/rel/fmnist

bench-mpi:
	@command -v $(MPICC) >/dev/null || { echo "fmnist: make bench-mpi needs $(MPICC): run sudo tools/install-mpi.sh" >&2; exit 1; }
	@$(MAKE) --no-print-directory MPI=1 BUILD=$(MPI_B) BIN=$(MPI_B)/fmnist $(MPI_B)/fmnist $(MPI_B)/pingpong
	@$(MAKE) --no-print-directory MPI= BUILD=build/rel BIN=build/rel/fmnist build/rel/fmnist
	@tools/link-data.sh
	tools/bench-mpi.sh build/rel/fmnist $(MPI_B)/fmnist $(MPI_B)/pingpong

# The team's test program (tests/mpi/team_mpi.c) links its own mpi.c, built
# with 1000-byte message pieces so that the splitting of long messages is tested.
$(BUILD)/tests/mpi/mpi_small.o: src/cli/mpi.c | check-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DMPI_CHUNK=1000 -c $< -o $@
$(BUILD)/team_mpi: $(BUILD)/tests/mpi/team_mpi.o $(BUILD)/tests/mpi/mpi_small.o $(BUILD)/libfmnist.a
	$(CC) -o $@ $^ $(ALL_LDFLAGS) $(DEPS_LIBS)
$(BUILD)/pingpong: $(BUILD)/tools/pingpong.o
	$(CC) -o $@ $^ $(ALL_LDFLAGS) -lm

# The program finds its presets (--model cnn) in ../share/fmnist/models beside its
# bin/ folder (cli_find_model), so any PREFIX works, and nothing is compiled in.
PRESETS := $(notdir $(wildcard models/*.cfg))
install: $(BIN)
	install -D -m755 $(BIN) $(DESTDIR)$(PREFIX)/bin/fmnist
	install -d $(DESTDIR)$(PREFIX)/share/fmnist/models $(DESTDIR)$(PREFIX)/share/man/man1
	install -m644 $(addprefix models/,$(PRESETS)) $(DESTDIR)$(PREFIX)/share/fmnist/models/
	tools/manpage.sh $(if $(filter /%,$(BIN)),$(BIN),./$(BIN)) > $(DESTDIR)$(PREFIX)/share/man/man1/fmnist.1.tmp
	mv $(DESTDIR)$(PREFIX)/share/man/man1/fmnist.1.tmp $(DESTDIR)$(PREFIX)/share/man/man1/fmnist.1
	chmod 644 $(DESTDIR)$(PREFIX)/share/man/man1/fmnist.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/fmnist $(DESTDIR)$(PREFIX)/share/man/man1/fmnist.1
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/fmnist/models/,$(PRESETS))
	-rmdir $(DESTDIR)$(PREFIX)/share/fmnist/models $(DESTDIR)$(PREFIX)/share/fmnist 2>/dev/null

# libFuzzer targets: tests/fuzz/fuzz_NAME.c, seeds in tests/fuzz/corpus/NAME/ (a
# dictionary in tests/fuzz/NAME.dict if present). The library is rebuilt with clang,
# serial, ASan+UBSan, and FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION (a net is capped
# at 1 GiB, under libFuzzer's 2 GiB malloc limit). New inputs go to build/fuzz/corpus/NAME,
# findings to build/fuzz/NAME-crash-*; the run fails on any finding.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_ARGS    ?=
FUZZ_TIMEOUT ?= 60
FUZZ_B       := build/fuzz
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS    := $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_NAMES))
FUZZ_CFLAGS  := -std=c11 -D_POSIX_C_SOURCE=200809L -fno-math-errno -Wall -Wextra -Isrc $(DEPS_CFLAGS) -g -O1 \
                -march=native -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
                -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -MMD -MP
FUZZ_LIB_OBJ := $(patsubst %.c,$(FUZZ_B)/%.o,$(LIB_SRC))

$(FUZZ_B)/%.o: %.c | check-deps
	@command -v $(FUZZ_CC) >/dev/null || { echo "fmnist: make fuzz needs clang (apt-get install clang)" >&2; exit 1; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_B)/libfmnist.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/tests/fuzz/fuzz_%.o $(FUZZ_B)/libfmnist.a
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(DEPS_LIBS)

.PRECIOUS: $(FUZZ_B)/tests/fuzz/%.o
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@for n in $(FUZZ_NAMES); do \
	  mkdir -p $(FUZZ_B)/corpus/$$n; \
	  dict=; [ -f tests/fuzz/$$n.dict ] && dict=-dict=tests/fuzz/$$n.dict; \
	  echo "fuzz_$$n: $(FUZZ_SECONDS) s (log: $(FUZZ_B)/$$n.log)"; \
	  if $(FUZZ_B)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -timeout=$(FUZZ_TIMEOUT) -print_final_stats=1 \
	       -artifact_prefix=$(FUZZ_B)/$$n- $$dict $(FUZZ_ARGS) $(FUZZ_B)/corpus/$$n tests/fuzz/corpus/$$n \
	       > $(FUZZ_B)/$$n.log 2>&1; then \
	    grep -E "stat::number_of_executed_units|stat::new_units_added" $(FUZZ_B)/$$n.log | sed "s/^/  /"; \
	  else tail -n 60 $(FUZZ_B)/$$n.log; echo "fuzz_$$n: FINDING (see $(FUZZ_B)/$$n.log)" >&2; exit 1; fi; \
	done

clean:
	rm -rf build fmnist fmnist-san fmnist-serial fmnist-san-serial

help:
	@sed -n "3,16p" Makefile

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(FUZZ_LIB_OBJ:.o=.d)
-include $(BUILD)/tests/mpi/team_mpi.d $(BUILD)/tests/mpi/mpi_small.d $(BUILD)/tools/pingpong.d
