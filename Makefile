# knseg build.
#
#   make              library build/<cfg>/libknseg.a and the program build/<cfg>/knseg
#   make test         build and run every test program (tests/test_*.c) and
#                     tests/test_install.sh
#   make test-kernels the tests again under every OpenBLAS kernel this CPU can run
#   make demo         the built-in end-to-end run
#   make fuzz         build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang
#   make fuzz-run     run each fuzz target for FUZZ_SECONDS
#   make fixtures     regenerate the PyTorch reference fixtures (needs python3-torch)
#   make bench        knseg against PyTorch and OpenBLAS sgemm on the reference workloads
#                     (BENCH_WORKLOADS=file for others), in one run on this machine
#   make bench-mpi    data-parallel training steps on this machine (knseg-mpi) and the
#                     model of several machines they feed (scripts/bench_mpi.sh)
#   make install      the program, libknseg.a, libknseg.so, <knseg/knseg.h>, knseg.pc and
#                     the man pages under PREFIX (default /usr/local; DESTDIR for staging)
#   make uninstall    removes the files install writes, for the same PREFIX and DESTDIR
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
# The one exception is app/knseg*.c, the embedding API (app/knseg.h): it sits in app/,
# on top of nets, datasets and metrics, but joins the library, since the tests and
# programs that embed knseg link libknseg.a, not the program's objects.

SANITIZE ?= 0
PREFIX ?= /usr/local
DESTDIR ?=
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

EMBED_SRC := app/knseg.c app/knseg_files.c app/knseg_tile.c
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

# The release is written once, in app/knseg.h; the shared library and knseg.pc take it.
version_part = $(shell sed -n 's/^.define KNSEG_VERSION_$(1) \([0-9]*\)$$/\1/p' app/knseg.h)
SOMAJOR := $(call version_part,MAJOR)
VERSION := $(SOMAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME := libknseg.so.$(SOMAJOR)
SHLIB := $(B)/libknseg.so.$(VERSION)

# The library's objects go into libknseg.so too, so they are position-independent code in
# every build (the cost measured: README, Installing). -fno-semantic-interposition leaves
# the compiler free to inline the library's own functions into each other, as without
# -fPIC (nothing in knseg is meant to be replaced by another library's copy).
PIC := -fPIC -fno-semantic-interposition
$(LIB_OBJ): CFLAGS += $(PIC)

# A build folder made before has library objects without -fPIC: they are removed once,
# here, to be rebuilt (a prerequisite stamp would not do: .SECONDARY lets make skip a
# missing one). The stamp marks a folder whose objects have it.
ifneq ($(wildcard $(B)/libknseg.a),)
ifeq ($(wildcard $(B)/pic.stamp),)
$(shell rm -f $(LIB_OBJ) $(B)/libknseg.a && touch $(B)/pic.stamp)
endif
endif
$(B)/pic.stamp:
	@mkdir -p $(@D)
	@touch $@

# Man pages: knseg.1 and one per command, made from the program's own --help text.
MAN_CMDS := $(filter-out version,$(shell sed -n 's/^\t{"\([a-z]*\)", ".*", cmd_.*/\1/p' app/main.c))
MAN_PAGES := $(B)/man/knseg.1 $(MAN_CMDS:%=$(B)/man/knseg-%.1)

# knseg-mpi: the same program with app/dist_mpi.c in place of app/dist_single.c, for jobs
# of several processes under mpirun (Open MPI). Built when pkg-config finds Open MPI
# (Debian libopenmpi-dev, which make deps installs); plain knseg never needs it.
HAVE_MPI := $(shell pkg-config --exists ompi-c 2>/dev/null && echo 1)
PROG_MPI := $(if $(HAVE_MPI),$(B)/knseg-mpi)
APP_MPI_OBJ := $(filter-out $(B)/app/dist_single.o,$(APP_OBJ)) $(B)/app/dist_mpi.o

.PHONY: all build objects libs-found deps test run-tests test-kernels demo fuzz fuzz-build fuzz-run fixtures bench bench-deps bench-mpi clean install uninstall
.DEFAULT_GOAL := all
# Keep test objects (make would delete them as intermediates and rebuild every time).
.SECONDARY:

all: build

build: libs-found
	@$(MAKE) --no-print-directory objects

objects: $(LIB) $(SHLIB) $(PROG) $(PROG_MPI) $(TEST_BIN) $(BENCH_BIN) $(MAN_PAGES)

# One line per library pkg-config cannot find, and a stop before any compiler error.
libs-found:
	@scripts/deps.sh check

deps:
	@scripts/deps.sh

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ) | $(B)/pic.stamp
	@rm -f $@
	ar rcs $@ $^

$(SHLIB): $(LIB_OBJ)
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(SONAME) $^ $(LDLIBS) -o $@

$(B)/man/knseg.1: $(PROG) scripts/manpage.sh
	@mkdir -p $(@D)
	scripts/manpage.sh $(PROG) >$@.tmp && mv $@.tmp $@

$(B)/man/knseg-%.1: $(PROG) scripts/manpage.sh
	@mkdir -p $(@D)
	scripts/manpage.sh $(PROG) $* >$@.tmp && mv $@.tmp $@

$(PROG): $(APP_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(APP_OBJ) $(LIB) $(LDLIBS) -o $@

$(B)/app/dist_mpi.o: CFLAGS += $(shell pkg-config --cflags ompi-c)

$(B)/knseg-mpi: $(APP_MPI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(APP_MPI_OBJ) $(LIB) $(LDLIBS) $(shell pkg-config --libs ompi-c) -o $@

# The examples include <knseg/knseg.h>, as a program of its own does against an
# installed copy; in the tree that is a copy of app/knseg.h.
$(B)/include/knseg/knseg.h: app/knseg.h
	@mkdir -p $(@D)
	cp $< $@

$(BENCH_SRC:tests/%.c=$(B)/tests/%.o): CFLAGS += -I$(B)/include
$(BENCH_SRC:tests/%.c=$(B)/tests/%.o): $(B)/include/knseg/knseg.h

$(B)/tests/%: $(B)/tests/%.o $(SUPPORT_OBJ) $(LIB)
	$(CC) $(CFLAGS) $< $(SUPPORT_OBJ) $(LIB) $(TEST_LDLIBS) $(LDLIBS) -o $@

# The option tables' parser is the program's own, so its test links those objects.
OPTIONS_OBJ := $(B)/app/options.o $(B)/app/messages.o $(B)/app/dist_single.o
$(B)/tests/test_options: $(B)/tests/test_options.o $(OPTIONS_OBJ) $(SUPPORT_OBJ) $(LIB)
	$(CC) $(CFLAGS) $< $(OPTIONS_OBJ) $(SUPPORT_OBJ) $(LIB) $(TEST_LDLIBS) $(LDLIBS) -o $@

test: deps
	@$(MAKE) --no-print-directory run-tests

# tests/test_install.sh runs make install and uninstall of this build (its toggles).
run-tests: build
	@KNSEG_MAKE_ARGS="SANITIZE=$(SANITIZE) DEBUG=$(DEBUG) OPENMP=$(OPENMP) MARCH=$(MARCH)" \
		KNSEG_CC="$(CC)" scripts/run_tests.sh $(TEST_BIN) tests/test_install.sh

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

# install copies the files of the current build folder (the toggles select it), building
# only what is missing. knseg.pc is written here, for this PREFIX: Libs is the shared or
# static library, Libs.private (also the libs_private variable) what the static one
# needs besides; a sanitizer build's Libs asks for the sanitizer runtimes it needs.
BINDIR := $(DESTDIR)$(PREFIX)/bin
LIBDIR := $(DESTDIR)$(PREFIX)/lib
INCDIR := $(DESTDIR)$(PREFIX)/include/knseg
PCDIR := $(LIBDIR)/pkgconfig
MANDIR := $(DESTDIR)$(PREFIX)/share/man/man1
INSTALLED := $(BINDIR)/knseg $(BINDIR)/knseg-mpi $(LIBDIR)/libknseg.a \
	$(LIBDIR)/libknseg.so.$(VERSION) $(LIBDIR)/$(SONAME) $(LIBDIR)/libknseg.so \
	$(INCDIR)/knseg.h $(PCDIR)/knseg.pc $(MAN_PAGES:$(B)/man/%=$(MANDIR)/%)

install: $(PROG) $(PROG_MPI) $(LIB) $(SHLIB) $(MAN_PAGES)
	install -d $(BINDIR) $(LIBDIR) $(INCDIR) $(PCDIR) $(MANDIR)
	install -m 755 $(PROG) $(PROG_MPI) $(BINDIR)
	install -m 644 $(LIB) $(LIBDIR)
	install -m 755 $(SHLIB) $(LIBDIR)
	ln -sf libknseg.so.$(VERSION) $(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(LIBDIR)/libknseg.so
	install -m 644 app/knseg.h $(INCDIR)/knseg.h
	install -m 644 $(MAN_PAGES) $(MANDIR)
	printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' 'libdir=$${exec_prefix}/lib' \
		'includedir=$${prefix}/include' \
		'libs_private=$(strip $(LDLIBS) $(filter -fopenmp,$(OMP)))' '' \
		'Name: knseg' \
		'Description: semantic segmentation with kernel-normalized networks' \
		'Version: $(VERSION)' 'Cflags: -I$${includedir}' \
		'Libs: -L$${libdir} -lknseg$(if $(SAN), $(SAN))' \
		'Libs.private: $${libs_private}' >$(PCDIR)/knseg.pc

uninstall:
	rm -f $(INSTALLED)
	-rmdir $(INCDIR) 2>/dev/null

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(APP_OBJ:.o=.d) $(B)/app/dist_mpi.d $(SUPPORT_OBJ:.o=.d) $(TEST_BIN:=.d) $(BENCH_BIN:=.d)
