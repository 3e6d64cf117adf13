# evtape: one GNU Makefile.  `make` builds the library and the programs
# into build/ (and needs only their build dependencies), `make test` builds
# and runs unit, fuzz-regression and integration tests, `make bench` prints
# the benchmarks, `make fuzz` builds libFuzzer targets, `make asan` runs
# the tests under AddressSanitizer + UBSan.  Each target first has
# tools/deps.sh install (as root) the Debian packages it needs.
# CPPFLAGS, CFLAGS and LDFLAGS from the command line or the environment
# are added to ours.

CC ?= cc
PREFIX ?= /usr/local
BUILD ?= build
PKGS = libzstd msgpack
OPT ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2 -Wundef \
       -Wno-unused-parameter -Werror
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Iinclude \
       $(shell pkg-config --cflags $(PKGS) $(DYN_PKGS) 2>/dev/null) \
       $(CPPFLAGS) $(CFLAGS) $(XCFLAGS)
# zstd and msgpack-c are linked statically (from the same Debian -dev
# packages): it halves the start-up time of short commands such as
# `evtool get`, whose whole-process time is a benchmarked goal.
# Dynamic: OpenSSL, libevent, inih, libnats (Debian ships it shared only),
# wslay (no .pc file), http-parser (no .pc).
DYN_PKGS = libcrypto libssl libevent_openssl libevent inih libnats
LIBS = -Wl,-Bstatic $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
       -Wl,-Bdynamic $(shell pkg-config --libs $(DYN_PKGS) 2>/dev/null) \
       -lwslay -lhttp_parser -lm -lpthread $(XLIBS)

LIB_SRC = $(filter-out src/evrec.c,$(wildcard src/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOLS = $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))
UNIT = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(filter tests/unit/test_%.c,$(wildcard tests/unit/*.c)))
# Test tools the integration scripts run (not tests themselves): natsdump
# reads and writes JetStream streams through libnats directly; nkeys makes
# a NATS operator, accounts and user credentials with OpenSSL.
TEST_TOOLS = $(BUILD)/tests/natsdump $(BUILD)/tests/nkeys
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REG = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzzreg/%,$(FUZZ_SRC))
BENCH = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(wildcard tests/bench/*.c))
HDRS = $(wildcard include/evtape/*.h src/*.h)
TEST_HDRS = $(wildcard tests/unit/*.h)

.PHONY: all deps tests test bench fuzz asan install clean demo
all: $(BUILD)/libevtape.a $(BUILD)/evrec $(TOOLS)

# The test programs (unit tests, fuzz-corpus replayers, benchmark helpers),
# built without running anything: `make tests && build/tests/test_json`.
tests: all $(UNIT) $(TEST_TOOLS) $(FUZZ_REG) $(BENCH)

# The build dependencies, installed before anything compiles (every
# compile and link rule below has it as an order-only prerequisite, so
# that `make -j` waits for it too).
deps:
	@sh tools/deps.sh build

$(BUILD)/%.o: %.c $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/libevtape.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# The recorder daemon: the one program whose main lives in src/.
$(BUILD)/evrec: src/evrec.c $(BUILD)/libevtape.a $(HDRS) | deps
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(BUILD)/libevtape.a $(LIBS)

$(BUILD)/%: tools/%.c $(BUILD)/libevtape.a $(HDRS) | deps
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(BUILD)/libevtape.a $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libevtape.a $(HDRS) $(TEST_HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(BUILD)/libevtape.a $(LIBS)

# Benchmark helpers (not installed).
$(BUILD)/bench/%: tests/bench/%.c $(BUILD)/libevtape.a $(HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(BUILD)/libevtape.a $(LIBS)

# Fuzz targets built with a plain main() that replays their corpus files.
$(BUILD)/fuzzreg/%: tests/fuzz/%.c tests/fuzz/driver.c $(BUILD)/libevtape.a \
    $(HDRS) $(TEST_HDRS) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< tests/fuzz/driver.c $(BUILD)/libevtape.a $(LIBS)

# The test-only packages are installed once everything is built.
test: all $(UNIT) $(TEST_TOOLS) $(FUZZ_REG)
	@sh tools/deps.sh test
	@BUILD=$(BUILD) sh tests/run.sh

bench: all $(BENCH)
	@sh tools/deps.sh bench
	@BUILD=$(BUILD) sh tests/bench/run.sh

# libFuzzer targets (clang).  Run e.g. build-fuzz/fuzz_json tests/fuzz/corpus/json
fuzz: deps
	@sh tools/deps.sh fuzz
	$(MAKE) BUILD=build-fuzz CC=clang OPT="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
	    build-fuzz/libevtape.a
	@for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  echo "clang $$n"; \
	  clang -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude \
	    $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) \
	    -o build-fuzz/$$n $$f build-fuzz/libevtape.a $(LIBS) || exit 1; done

asan: deps
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(BUILD)/evrec $(TOOLS) $(DESTDIR)$(PREFIX)/bin/

# The main job: evsim (a simulated gateway) on a free loopback port, evrec
# recording it for about 15 s; the archive stays in ./demo-archive.
demo: all
	@BUILD=$(BUILD) sh tools/demo.sh

clean:
	rm -rf build build-asan build-fuzz
