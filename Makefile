# Makefile - builds streamfs, its sanitizer build and the tests.
#
#   make            ./streamfs, optimised (and ./maprcli once cli/*.c exists)
#   make deps       install the Debian packages we need, if any is missing
#   make asan       build/asan/streamfs with AddressSanitizer + UBSan
#   make test       deps, asan, unit tests (cmocka), the fuzz smoke run and
#                   e2e tests (bats); ends with the line "N passed, N failed"
#   make unit       only the unit tests;  make e2e   only the e2e tests
#   make fuzz       each libFuzzer target (fuzz/fuzz_*.c) for FUZZ_SECONDS
#                   (default 60); make fuzz-smoke: each for 10 s, as in
#                   make test (docs/fuzzing.md)
#   make demo       scripts/demo.sh
#   make clean      remove build/, ./streamfs, ./maprcli
#   make install    streamfs, maprcli, man pages, the systemd unit and
#                   /etc/streamfs/mount.conf (if absent) under DESTDIR and
#                   PREFIX (default /usr/local); make uninstall removes
#                   them again (docs/operating.md)
#
# Sources are found by wildcard: a new fs/*.c, fs/*/*.c (a home's or the
# shared pieces' folder), replication/*.c, cli/*.c or tests/unit/test_*.c
# is picked up without editing this file.
#
# Layout under build/:
#   build/rel/...            optimised objects, build/rel/libstreamfs.a
#   build/asan/...           sanitizer objects, build/asan/libstreamfs.a,
#                            build/asan/streamfs
#   build/asan/tests/test_*  unit test binaries
#   build/fuzz/...           clang + libFuzzer objects, build/fuzz/fuzz_*
# libstreamfs.a is every fs/ and replication/ object except fs/main.o, so
# unit tests (and maprcli) link only the library code they use.

SHELL := /bin/bash
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

REL  := build/rel
ASAN := build/asan

# ---- sources ---------------------------------------------------------------
DAEMON_SRC := $(sort $(wildcard fs/*.c fs/*/*.c replication/*.c replication/*/*.c))
MAIN_SRC   := fs/main.c
LIB_SRC    := $(filter-out $(MAIN_SRC),$(DAEMON_SRC))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
# tests/unit/*.c not named test_*.c are helpers linked into every unit test.
UNIT_HELP  := $(filter-out $(UNIT_SRC),$(sort $(wildcard tests/unit/*.c)))
CLI_SRC    := $(sort $(wildcard cli/*.c))

REL_LIB_OBJ  := $(LIB_SRC:%.c=$(REL)/%.o)
ASAN_LIB_OBJ := $(LIB_SRC:%.c=$(ASAN)/%.o)
UNIT_BIN     := $(UNIT_SRC:tests/unit/%.c=$(ASAN)/tests/%)
UNIT_HELP_OBJ := $(UNIT_HELP:%.c=$(ASAN)/%.o)
CLI_OBJ      := $(CLI_SRC:%.c=$(REL)/%.o)

# ---- flags -----------------------------------------------------------------
# CFLAGS, LDFLAGS and LDLIBS given on the command line are added to ours.
BASE_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -D_FILE_OFFSET_BITS=64 -pthread
REL_CFLAGS  := -O2 -g
# The sanitizer build also compiles in the test-only fault points (fs/fault.h)
# and the lock assertions (fs/util/lockcheck.h).
ASAN_CFLAGS := -O1 -g -DSFS_FAULT_HOOKS -DSFS_LOCK_CHECKS -fsanitize=address,undefined -fno-omit-frame-pointer \
               -fno-sanitize-recover=all
# Recursive (=) so pkg-config runs at compile time, after `deps` installed it.
FUSE_CFLAGS = $(shell pkg-config --cflags fuse3)
FUSE_LIBS   = $(shell pkg-config --libs fuse3)
# Headers: "fs/x.h" from anywhere, or "x.h" for a header of fs/ or
# replication/ (a file's own directory is always searched first).
# The version both programs print (--version) and /.info shows.
VERSION := 0.17.0
ALL_CPPFLAGS = -I. -Ifs -Ireplication $(FUSE_CFLAGS) $(NATS_CFLAGS) -DSFS_VERSION='"$(VERSION)"' -MMD -MP
# The NATS C client (libnats), for clusters kept in NATS JetStream (fs/nats/).
NATS_CFLAGS = $(shell pkg-config --cflags libnats 2>/dev/null)
NATS_LIBS   = $(shell pkg-config --libs libnats 2>/dev/null || echo -lnats)
ALL_LDLIBS   = $(FUSE_LIBS) $(NATS_LIBS) -luuid -linih -ljansson -lxxhash -llz4 -lzstd -lssl -lcrypto -lpthread $(LDLIBS)

PROGRAMS := streamfs
# maprcli: when cli/ holds C sources, ./maprcli is built from cli/*.c and
# linked against the daemon library (it may reuse fs/names.c, fs/control.c).
# If maprcli ends up a script instead, install it from here.
ifneq ($(CLI_SRC),)
PROGRAMS += maprcli
endif

.PHONY: all deps asan units test unit e2e demo clean FORCE \
	fuzzers fuzz fuzz-smoke install uninstall

all: $(PROGRAMS)

# Cheap when everything is installed (one dpkg-query); silent then.
deps:
	@bash scripts/bootstrap.sh

ifeq ($(wildcard $(MAIN_SRC)),)
$(REL)/fs/main.o $(ASAN)/fs/main.o:
	@echo "make: $(MAIN_SRC) (the daemon's main()) does not exist yet" >&2
	@exit 1
endif

# ---- optimised build -------------------------------------------------------
$(REL)/%.o: %.c Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(BASE_CFLAGS) $(REL_CFLAGS) $(CFLAGS) -c $< -o $@

# The archive also depends on its member list, so that a deleted source
# leaves no stale object behind in it.
$(REL)/libstreamfs.a: $(REL_LIB_OBJ) $(REL)/lib.list
	@rm -f $@
	$(AR) rcs $@ $(REL_LIB_OBJ)

$(REL)/lib.list: FORCE
	@mkdir -p $(@D)
	@echo '$(REL_LIB_OBJ)' | cmp -s - $@ || echo '$(REL_LIB_OBJ)' > $@

streamfs: $(REL)/fs/main.o $(REL)/libstreamfs.a
	$(CC) $(BASE_CFLAGS) $(REL_CFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(ALL_LDLIBS)

maprcli: $(CLI_OBJ) $(REL)/libstreamfs.a
	$(CC) $(BASE_CFLAGS) $(REL_CFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(ALL_LDLIBS)

# ---- sanitizer build -------------------------------------------------------
asan: $(ASAN)/streamfs

$(ASAN)/%.o: %.c Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(BASE_CFLAGS) $(ASAN_CFLAGS) $(CFLAGS) -c $< -o $@

$(ASAN)/libstreamfs.a: $(ASAN_LIB_OBJ) $(ASAN)/lib.list
	@rm -f $@
	$(AR) rcs $@ $(ASAN_LIB_OBJ)

$(ASAN)/lib.list: FORCE
	@mkdir -p $(@D)
	@echo '$(ASAN_LIB_OBJ)' | cmp -s - $@ || echo '$(ASAN_LIB_OBJ)' > $@

$(ASAN)/streamfs: $(ASAN)/fs/main.o $(ASAN)/libstreamfs.a
	$(CC) $(BASE_CFLAGS) $(ASAN_CFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) $(ALL_LDLIBS)

# ---- tests -----------------------------------------------------------------
# Each tests/unit/test_X.c becomes build/asan/tests/test_X, linked with the
# sanitizer library (not fs/main.o) and cmocka.
units: $(UNIT_BIN)

$(UNIT_BIN): $(ASAN)/tests/%: $(ASAN)/tests/unit/%.o $(UNIT_HELP_OBJ) $(ASAN)/libstreamfs.a
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(ASAN_CFLAGS) $(CFLAGS) -o $@ $^ $(LDFLAGS) -lcmocka $(ALL_LDLIBS)

TEST_ENV = STREAMFS=$(abspath $(ASAN)/streamfs) STREAMFS_SRC=$(CURDIR)

# tests/run.sh also runs the fuzz smoke run (make fuzz-smoke), after units.
# The build runs on every CPU (half the time on 2), once the packages are in.
NPROC := $(shell nproc 2>/dev/null || echo 2)
test: deps
	$(MAKE) -j$(NPROC) asan units maprcli fuzzers
	$(TEST_ENV) bash tests/run.sh

unit: deps units
	$(TEST_ENV) bash tests/run.sh --unit

e2e: deps asan maprcli
	$(TEST_ENV) bash tests/run.sh --e2e

demo: deps all
	bash scripts/demo.sh

# ---- fuzzing (docs/fuzzing.md) ---------------------------------------------
# Each fuzz/fuzz_X.c becomes build/fuzz/fuzz_X: libFuzzer with ASan + UBSan,
# compiled by clang (not the gcc objects above) and linked with clang
# objects of the library sources (LIB_SRC), archived in build/fuzz/
# libfuzzfs.a so that a target links only those it uses.
FUZZ         := build/fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SRC     := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:fuzz/%.c=$(FUZZ)/%)
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(FUZZ)/%.o)
FUZZ_CFLAGS  := -std=gnu11 -Wall -Wextra -D_FILE_OFFSET_BITS=64 -pthread \
		-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=all

fuzzers: $(FUZZ_BIN)

$(FUZZ_LIB_OBJ): $(FUZZ)/%.o: %.c Makefile | deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ)/libfuzzfs.a: $(FUZZ_LIB_OBJ) $(FUZZ)/lib.list
	@rm -f $@
	$(AR) rcs $@ $(FUZZ_LIB_OBJ)

$(FUZZ)/lib.list: FORCE
	@mkdir -p $(@D)
	@echo '$(FUZZ_LIB_OBJ)' | cmp -s - $@ || echo '$(FUZZ_LIB_OBJ)' > $@

$(FUZZ_BIN): $(FUZZ)/%: fuzz/%.c $(FUZZ)/libfuzzfs.a Makefile | deps
	@mkdir -p $(@D)
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer \
		-o $@ $< $(FUZZ)/libfuzzfs.a $(ALL_LDLIBS)

# New inputs are kept in build/fuzz/corpus/<target>; crashes go to
# build/fuzz/artifacts/<target>/.
fuzz: deps fuzzers
	bash fuzz/run.sh -t $(FUZZ_SECONDS) -c $(FUZZ)/corpus

# Counted like the other tests (one per target); `make test` runs the same.
fuzz-smoke: deps fuzzers
	$(TEST_ENV) FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) bash tests/run.sh --fuzz

clean:
	rm -rf build streamfs maprcli

-include $(shell find build -name '*.d' 2>/dev/null)

# ---- install (docs/operating.md) ------------------------------------------
# DESTDIR is prepended to every path (packaging, tests); PREFIX and the
# directories below say where things go on the installed system. mount(8)
# runs fuse3's mount.fuse3 for `mount -t fuse.streamfs` and fstab lines,
# which runs `streamfs` from PATH: BINDIR should be in root's PATH.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
INSTALL    ?= install
MANPAGES   := docs/man/streamfs.8 docs/man/maprcli.1 docs/man/mount.conf.5

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/streamfs
	$(INSTALL) -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 docs/man/maprcli.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 docs/man/mount.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 docs/man/streamfs.8 $(DESTDIR)$(MANDIR)/man8/
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		scripts/install/streamfs.service.in > $(DESTDIR)$(UNITDIR)/streamfs.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/streamfs.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/streamfs/mount.conf ]; then \
		echo "install: $(DESTDIR)$(SYSCONFDIR)/streamfs/mount.conf exists: kept"; \
	else \
		$(INSTALL) -m 0644 scripts/install/mount.conf $(DESTDIR)$(SYSCONFDIR)/streamfs/mount.conf; \
	fi

# The configuration is the operator's: uninstall leaves it.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGRAMS)) \
		$(DESTDIR)$(MANDIR)/man1/maprcli.1 $(DESTDIR)$(MANDIR)/man5/mount.conf.5 \
		$(DESTDIR)$(MANDIR)/man8/streamfs.8 $(DESTDIR)$(UNITDIR)/streamfs.service

# ---- benchmarks (docs/performance.md) --------------------------------------
# make bench: the packages it needs besides make test's (bootstrap.sh
# --bench; none now: nats-server and libnats-dev are make test's too), then
# the release daemon, bench/'s own
# FUSE passthrough and helpers (same flags), then bench/run.py; results in
# bench/results/latest.txt. Never part of `make test` (nor of `make all`).
# BENCH_SCALE=0.1 for a quick run, BENCH_RUNS=N.
BENCH_BIN := build/bench/passthrough build/bench/writer build/bench/latency \
	     build/bench/natspeer

.PHONY: bench bench-deps
# The packages first, then the build in a sub-make, so that nothing is
# compiled (even with -j) before they are installed.
bench: bench-deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN)
	python3 bench/run.py

# Cheap when everything is installed (one dpkg-query); silent then.
bench-deps:
	@bash scripts/bootstrap.sh --bench

build/bench/passthrough: bench/passthrough.c Makefile | deps
	@mkdir -p $(@D)
	$(CC) $(FUSE_CFLAGS) $(BASE_CFLAGS) $(REL_CFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(FUSE_LIBS) -lpthread $(LDLIBS)

build/bench/writer: bench/writer.c Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(REL_CFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) -lpthread $(LDLIBS)

build/bench/latency: bench/latency.c bench/stats.h Makefile
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(REL_CFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) -lpthread $(LDLIBS)

# Figures 9 and 11's client of nats-server (the NATS C client, libnats).
build/bench/natspeer: bench/natspeer.c bench/stats.h Makefile | bench-deps
	@mkdir -p $(@D)
	$(CC) $(NATS_CFLAGS) $(BASE_CFLAGS) $(REL_CFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(NATS_LIBS) -lpthread $(LDLIBS)

# ---- long test runs (docs/testing.md) ---------------------------------------
# Longer seeded runs than make test's share: the crash test with 200 rounds,
# the topology test with 100 rounds per seed. Not part of make test.
CRASH_ROUNDS ?= 200
TOPO_ROUNDS  ?= 100
# make soak-readers: tests/e2e/25-readers.bats with SOAK_SECONDS (default
# 300) of writing per case: followers, tail -f and cat loops against local
# writers and multi-master replication; zero NUL bytes, every line once.
SOAK_SECONDS ?= 300
.PHONY: crash-long topology-long soak-readers
crash-long: deps asan
	CRASH_ROUNDS=$(CRASH_ROUNDS) CRASH_BUDGET=0 BATS_TEST_TIMEOUT=3600 $(TEST_ENV) bats tests/e2e/45-crash.bats

topology-long: deps asan
	TOPO_ROUNDS=$(TOPO_ROUNDS) TOPO_BUDGET=0 BATS_TEST_TIMEOUT=3600 $(TEST_ENV) bats tests/e2e/55-topology.bats

soak-readers: deps asan
	RW_SECONDS=$(SOAK_SECONDS) BATS_TEST_TIMEOUT=$$(( $(SOAK_SECONDS) * 2 + 120 )) $(TEST_ENV) \
		bats tests/e2e/25-readers.bats
