# knseg build.
#
#   make              library build/<cfg>/libknseg.a and the program build/<cfg>/knseg
#   make test         build and run every test program (tests/test_*.c)
#   make test-kernels the tests again under every OpenBLAS kernel this CPU can run
#   make demo         the built-in end-to-end run
#   make fuzz         build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang
#   make fuzz-run     run each fuzz target for FUZZ_SECONDS
#   make fixtures     regenerate the PyTorch reference fixtures (needs python3-torch)
#   make bench        knseg against PyTorch and OpenBLAS sgemm on the reference workloads
#                     (BENCH_WORKLOADS=file for others), in one run on this machine
#   make bench-mpi    data-parallel training steps on this machine (knseg-mpi) and the
#                     model of several machines they feed (scripts/bench_mpi.sh)
#
# Benchmark and example programs (tests/bench_*.c, tests/example_*.c) are built with the
# tests but never run by them.
#
# Toggles: SANITIZE=1 (ASan + UBSan), DEBUG=1 (-O0 -g), OPENMP=0 (no OpenMP),
# MARCH=cpu (default native: the build machine's instruction sets; MARCH=x86-64-v2 runs
# on any x86-64 CPU since 2009, MARCH=x86-64-v3 on AVX2 CPUs).
# Each combination builds into its own folder under build/, so they never mix.
#
# Plain `make` only builds, with the libraries pkg-config finds, and names a missing one;
# `make deps`, `make test`, `make demo` (and the bench and fuzz targets) first install
# missing Debian packages (scripts/deps.sh, as root).
#
# Sources are found by wildcard: a new .c file in nets/ io/ datasets/ metrics/ joins the
# library, a new app/*.c joins the program, a new tests/test_*.c is a new test program.
# The one exception is app/knseg.c (and knseg_tile.c), the embedding API (app/knseg.h): it sits in app/,
# on top of nets, datasets and metrics, but joins the library, since the tests and
# programs that embed knseg link libknseg.a, not the program's objects.

SANITIZE ?= 0
DEBUG ?= 0
OPENMP ?= 1
MARCH ?= native
FUZZ_SECONDS ?= 30

CC ?= cc
PKGS := openblas libpng libturbojpeg

cfg := $(if $(filter 1,$(DEBUG)),debug,release)$(if $(filter 1,$(SANITIZE)),-san)$(if $(filter 0,$(OPENMP)),-noomp)$(if $(filter-out native,$(MARCH)),-$(MARCH))
B := build/$(cfg)

# -O3 -march=native: measured faster than -O2 on the conv/KN kernels; -std=c11 keeps
# floating-point contraction off, so results do not depend on FMA placement.
OPT := $(if $(filter 1,$(DEBUG)),-O0 -g3,-O3 -march=$(MARCH) -g)
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN := $(if $(filter 1,$(SANITIZE)),$(SAN_FLAGS))
OMP := $(if $(filter 1,$(OPENMP)),-fopenmp,-Wno-unknown-pragmas)

# Recursively expanded on purpose: pkg-config runs only when a recipe needs the flags,
# after the deps target has installed the packages.
CFLAGS = -std=c11 -D_DEFAULT_SOURCE $(OPT) $(WARN) $(SAN) $(OMP) -I. -MMD -MP \
	$(shell pkg-config --cflags $(PKGS))
LDLIBS = $(shell pkg-config --libs $(PKGS)) -lm -lpthread
TEST_LDLIBS = $(shell pkg-config --libs cmocka)

EMBED_SRC := app/knseg.c app/knseg_tile.c
LIB_SRC := $(wildcard nets/*.c io/*.c datasets/*.c metrics/*.c) $(EMBED_SRC)
APP_SRC := $(filter-out $(EMBED_SRC) app/dist_mpi.c,$(wildcard app/*.c))
TEST_SRC := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard tests/bench_*.c tests/example_*.c)
TEST_SUPPORT := $(filter-out tests/test_% tests/bench_% tests/example_%,$(wildcard tests/*.c))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
APP_OBJ := $(APP_SRC:%.c=$(B)/%.o)
SUPPORT_OBJ := $(TEST_SUPPORT:%.c=$(B)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(B)/tests/%)
BENCH_BIN := $(BENCH_SRC:tests/%.c=$(B)/tests/%)
LIB := $(B)/libknseg.a
PROG := $(B)/knseg

# knseg-mpi: the same program with app/dist_mpi.c in place of app/dist_single.c, for jobs
# of several processes under mpirun (Open MPI). Built when pkg-config finds Open MPI
# (Debian libopenmpi-dev, which make deps installs); plain knseg never needs it.
HAVE_MPI := $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1)
PROG_MPI := $(if $(HAVE_MPI),$(B)/knseg-mpi)
APP_MPI_OBJ := $(filter-out $(B)/app/dist_single.o,$(APP_OBJ)) $(B)/app/dist_mpi.o

.PHONY: all build objects libs-found deps test run-tests test-kernels demo fuzz fuzz-build fuzz-run fixtures bench bench-deps bench-mpi clean
.DEFAULT_GOAL := all
# Keep test objects (make would delete them as intermediates and rebuild every time).
.SECONDARY:

all: build

build: libs-found
	@$(MAKE) --no-print-directory objects

objects: $(LIB) $(PROG) $(PROG_MPI) $(TEST_BIN) $(BENCH_BIN)

# One line per library pkg-config cannot find, and a stop before any compiler error.
libs-found:
	@scripts/deps.sh check

deps:
	@scripts/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(PROG): $(APP_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(APP_OBJ) $(LIB) $(LDLIBS) -o $@

$(B)/app/dist_mpi.o: CFLAGS += $(shell pkg-config --cflags ompi-c)

$(B)/knseg-mpi: $(APP_MPI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(APP_MPI_OBJ) $(LIB) $(LDLIBS) $(shell pkg-config --libs ompi-c) -o $@

$(B)/tests/%: $(B)/tests/%.o $(SUPPORT_OBJ) $(LIB)
	$(CC) $(CFLAGS) $< $(SUPPORT_OBJ) $(LIB) $(TEST_LDLIBS) $(LDLIBS) -o $@

# The option tables' parser is the program's own, so its test links those objects.
OPTIONS_OBJ := $(B)/app/options.o $(B)/app/messages.o $(B)/app/dist_single.o
$(B)/tests/test_options: $(B)/tests/test_options.o $(OPTIONS_OBJ) $(SUPPORT_OBJ) $(LIB)
	$(CC) $(CFLAGS) $< $(OPTIONS_OBJ) $(SUPPORT_OBJ) $(LIB) $(TEST_LDLIBS) $(LDLIBS) -o $@

test: deps
	@$(MAKE) --no-print-directory run-tests

run-tests: build
	@scripts/run_tests.sh $(TEST_BIN)

test-kernels: deps
	@$(MAKE) --no-print-directory build
	@scripts/test_kernels.sh $(TEST_BIN)

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh $(PROG)

# Fuzz targets: clang's libFuzzer, with ASan and UBSan, library sources compiled in.
FZ := build/fuzz
FUZZ_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -O1 -g -I. $(WARN) -Wno-unknown-pragmas \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	$(shell pkg-config --cflags $(PKGS))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FZ)/%)
FUZZ_LIB_SRC := $(wildcard io/*.c)

fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-build

fuzz-build: $(FUZZ_BIN)

$(FZ)/%: tests/fuzz/%.c $(FUZZ_LIB_SRC)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) $< $(FUZZ_LIB_SRC) $(LDLIBS) -o $@

fuzz-run: fuzz
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

bench-deps:
	@scripts/deps.sh bench

bench: bench-deps
	@$(MAKE) --no-print-directory build
	@scripts/bench.sh $(PROG) $(BENCH_WORKLOADS)

bench-mpi: deps
	@$(MAKE) --no-print-directory build
	@scripts/bench_mpi.sh $(B)

fixtures: bench-deps
	/usr/bin/python3 scripts/make_fixtures.py tests/fixtures

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(APP_OBJ:.o=.d) $(B)/app/dist_mpi.d $(SUPPORT_OBJ:.o=.d) $(TEST_BIN:=.d) $(BENCH_BIN:=.d)
