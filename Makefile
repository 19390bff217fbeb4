# keten — top-level build.  No autotools: `make`, `make test`, `make demo`,
# `make bench`, `make fuzz`, `make fuzz-long`, `make crash [N=200] [SEED=...]`,
# `make install PREFIX=... DESTDIR=...`.
# SANITIZE=address,undefined builds into build/san/ instead of build/.
# DEV=1 is the developer build: warnings are errors (make test uses it).

VERSION := 0.1
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
DOCDIR  ?= $(DATADIR)/doc/keten
# systemd's own unit directory when installing into /usr (Debian: /lib/systemd/system)
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= $(or $(shell pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null),/lib/systemd/system)
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
endif
CC      ?= cc
CFLAGS  ?= -O2 -g
SANITIZE ?=
DEV     ?=

BUILD ?= build
ifeq ($(SANITIZE),)
B := $(BUILD)
else
B := $(BUILD)/san
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif
ifneq ($(DEV),)
CFLAGS += -Werror
endif

WARN     = -Wall -Wextra -Wshadow -Wno-format-truncation
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
# The library: its own folders (ledger/), the generated protobuf-c code,
# and the public headers.  Everything is hidden unless a public header
# declares it KETEN_API (include/keten/export.h).
LIB_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -fPIC -fvisibility=hidden \
             -Iinclude -Iledger -I$(B) -I$(B)/proto $(XML_CFLAGS) -MMD -MP $(CPPFLAGS) $(CFLAGS)
# The program and the benchmarks see the public headers alone.
PUB_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -MMD -MP $(CPPFLAGS) $(CFLAGS)
# Unit tests and fuzz targets test the library's modules from inside.
INT_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -Iinclude -Iledger -I$(B) -I$(B)/proto $(XML_CFLAGS) \
             -MMD -MP $(CFLAGS)
LIBS     = -llmdb -lsodium -lprotobuf-c -lnng -ljansson -lcsv -lxml2 -lpthread -lm

PROTOS     := $(wildcard proto/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(B)/proto/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
# generated sources are kept, not removed as intermediates
.SECONDARY: $(PROTO_C) $(PROTO_H)
LEDGER_SRC := $(sort $(wildcard ledger/*/*.c))
LEDGER_HDR := $(sort $(wildcard ledger/*/*.h))
CLI_SRC    := $(wildcard cli/*.c)
TEST_SRC   := $(wildcard tests/unit/test_*.c)

LIB_OBJ  := $(patsubst %.c,$(B)/%.o,$(LEDGER_SRC)) $(PROTO_C:.c=.o) $(B)/web/assets.o
CLI_OBJ  := $(patsubst %.c,$(B)/%.o,$(CLI_SRC))
TESTS    := $(patsubst tests/unit/%.c,$(B)/tests/%,$(TEST_SRC))

.PHONY: all deps test unit unit-san cli-tests fuzz fuzz-long fuzz-run demo bench crash install clean structure man completion deb
all: $(B)/keten $(B)/libketen.a $(B)/libketen.so

deps:
	@sh scripts/deps.sh

$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(B)/proto
	protoc-c --c_out=$(B)/proto -Iproto $<

$(B)/proto/%.pb-c.o: $(B)/proto/%.pb-c.c | $(PROTO_H)
	$(CC) $(LIB_CFLAGS) -w -c -o $@ $<

$(B)/ledger/%.o: ledger/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

$(B)/cli/%.o: cli/%.c
	@mkdir -p $(dir $@)
	$(CC) $(PUB_CFLAGS) -c -o $@ $<
# `keten --version` says the Makefile's VERSION
$(B)/cli/main.o: PUB_CFLAGS += -DKETEN_VERSION='"$(VERSION)"'
$(B)/cli/main.o: Makefile

$(B)/tests/unit/%.o: tests/unit/%.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(INT_CFLAGS) -c -o $@ $<

# Every object in one archive, internals included: for the unit tests.
$(B)/libketen-internal.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

# The static library a user links: one relocatable object whose hidden
# symbols are made local, so that it exports what the headers declare.
$(B)/libketen.a: $(LIB_OBJ)
	rm -f $@ $(B)/libketen.o
	$(LD) -r -o $(B)/libketen.o $^
	objcopy --localize-hidden $(B)/libketen.o
	ar rcs $@ $(B)/libketen.o
	rm -f $(B)/libketen.o

SONAME = libketen.so.0
$(B)/libketen.so: $(LIB_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -o $(B)/$(SONAME) $^ $(LIBS)
	ln -sf $(SONAME) $@

$(B)/keten: $(CLI_OBJ) $(B)/libketen.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libketen.a $(LIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libketen-internal.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/libketen-internal.a $(LIBS) -lcmocka

# The structure checks: exported symbols, layers, sizes (tests/run.sh).
structure: $(B)/libketen.a $(B)/libketen.so
	sh scripts/exports.sh --check $(B)/libketen.a $(B)/$(SONAME)
	sh scripts/layers.sh --check

# --- tests -----------------------------------------------------------------
# tests/run.sh runs every suite and ends with one line: "N passed, N failed".
test: deps
	@sh tests/run.sh

unit: $(TESTS)
cli-tests: $(B)/keten

# The crash campaign (tests/crash/crash.py): N trials of keten killed with
# SIGKILL during batch, import, single appends and both sides of sync;
# every acknowledged entry looked for, `keten verify` run.  SEED=...
# repeats a run's delays; tests/cli/t_crash.sh runs 20 trials.
N ?= 200
crash: $(B)/keten
	@N=$(N) SEED=$(SEED) KETEN=$(B)/keten python3 tests/crash/crash.py

# --- fuzzing (clang + libFuzzer) -------------------------------------------
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -Iinclude -Iledger -Ibuild/fuzz -Ibuild/fuzz/proto $(XML_CFLAGS)
fuzz: $(FUZZ_BIN)
# A long run, not part of make test: FUZZ_RUNS executions of each target
# (FUZZ_TARGETS names a few: make fuzz-long FUZZ_TARGETS="keystore import").
FUZZ_RUNS ?= 10000000
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
fuzz-long: $(FUZZ_BIN)
	@sh tests/fuzz/long.sh $(FUZZ_RUNS) $(FUZZ_TARGETS)
build/fuzz/proto/%.pb-c.c: proto/%.proto
	@mkdir -p build/fuzz/proto
	protoc-c --c_out=build/fuzz/proto -Iproto $<
build/fuzz/%: tests/fuzz/%.c $(LEDGER_SRC) $(patsubst proto/%.proto,build/fuzz/proto/%.pb-c.c,$(PROTOS))
	@mkdir -p build/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $^ $(LIBS)

# --- demo and benchmarks ----------------------------------------------------
demo: deps $(B)/keten
	@sh scripts/demo.sh

BENCH_SRC := $(wildcard tests/bench/bench_*.c)
BENCH_BIN := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))
$(B)/bench/%: tests/bench/%.c $(B)/libketen.a
	@mkdir -p $(dir $@)
	$(CC) $(PUB_CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libketen.a $(LIBS)
# bench_reconcile also asks SQLite the same question through its C API
$(B)/bench/bench_reconcile: LIBS += -lsqlite3
bench: deps $(B)/keten $(BENCH_BIN)
	@sh tests/bench/run.sh

# --- manual pages, completion, install, package ------------------------------
# The pages and the completion are made from the program itself: its
# command table (`keten --commands`) and its --help texts (scripts/man.sh
# with help2man, scripts/completion.sh).
man: $(B)/man/keten.1
$(B)/man/keten.1: $(B)/keten scripts/man.sh
	sh scripts/man.sh $(B)/keten $(B)/man $(VERSION)
completion: $(B)/completion/keten
$(B)/completion/keten: $(B)/keten scripts/completion.sh
	sh scripts/completion.sh $(B)/keten $@
# made again on every run: they depend on the directories given to make
$(B)/keten-node@.service: dist/systemd/keten-node@.service.in FORCE
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' $< > $@
# libdir and includedir relative to ${prefix} where they lie under it, so
# that `pkg-config --define-prefix` finds a tree that was moved
PC_LIBDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
$(B)/keten.pc: keten.pc.in FORCE
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(PC_LIBDIR)|g' -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@

install: all man completion $(B)/keten-node@.service $(B)/keten.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/keten \
	           $(DESTDIR)$(DATADIR)/keten/proto $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR) \
	           $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 $(B)/keten $(DESTDIR)$(BINDIR)/keten
	install -m 644 $(B)/libketen.a $(DESTDIR)$(LIBDIR)/libketen.a
	install -m 644 $(B)/$(SONAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libketen.so
	install -m 644 include/keten/*.h $(DESTDIR)$(INCLUDEDIR)/keten/
	install -m 644 $(B)/keten.pc $(DESTDIR)$(LIBDIR)/pkgconfig/keten.pc
	install -m 644 proto/*.proto $(DESTDIR)$(DATADIR)/keten/proto/
	install -m 644 $(B)/man/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(B)/completion/keten $(DESTDIR)$(BASHCOMPDIR)/keten
	install -m 644 $(B)/keten-node@.service $(DESTDIR)$(SYSTEMDUNITDIR)/keten-node@.service
	install -m 644 dist/keten-node.conf.example $(DESTDIR)$(DOCDIR)/keten-node.conf.example

# The Debian packages (debian/), built from a copy of the sources in
# build/deb/ so that the package build neither cleans this tree's build/
# nor writes next to it; the .deb files land in build/deb/.
DEB_SRC = Makefile keten.pc.in README.md cli include ledger proto web scripts dist debian docs examples
DEB_JOBS ?= 2
deb:
	rm -rf $(BUILD)/deb && mkdir -p $(BUILD)/deb/keten-$(VERSION)
	tar -cf - $(DEB_SRC) | tar -xf - -C $(BUILD)/deb/keten-$(VERSION)
	cd $(BUILD)/deb/keten-$(VERSION) && DEB_BUILD_OPTIONS="parallel=$(DEB_JOBS) $(DEB_BUILD_OPTIONS)" \
	    dpkg-buildpackage -us -uc -b
	@ls $(BUILD)/deb/*.deb

clean:
	rm -rf build
FORCE:

-include $(shell find build -name '*.d' 2>/dev/null)

# --- the dashboard (web/), embedded into libketen ---------------------------
# `keten serve` answers with these files from memory: the binary needs no
# share directory.  Each file becomes a byte array (od, from coreutils) in
# one generated C file; keten_web_assets[] lists them (include/keten/http.h).
WEB_SRC := web/index.html web/app.js web/style.css web/login.html web/login.js
%/web/assets.c: $(WEB_SRC)
	@mkdir -p $(dir $@)
	@{ echo '/* generated by the Makefile from $(WEB_SRC): do not edit */'; \
	  echo '#include "keten/http.h"'; i=0; \
	  for f in $(WEB_SRC); do \
	    echo "static const unsigned char a$$i[] = {"; \
	    od -An -v -tx1 "$$f" | sed -e 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	    echo "0};"; i=$$((i + 1)); \
	  done; \
	  echo 'const keten_web_asset keten_web_assets[] = {'; i=0; \
	  for f in $(WEB_SRC); do \
	    case "$$f" in *.html) t='text/html; charset=utf-8';; *.js) t='text/javascript; charset=utf-8';; \
	      *.css) t='text/css; charset=utf-8';; *) t='application/octet-stream';; esac; \
	    echo "	{\"/$${f#web/}\", \"$$t\", a$$i, sizeof a$$i - 1},"; i=$$((i + 1)); \
	  done; \
	  echo '	{0, 0, 0, 0},'; echo '};'; } > $@.tmp && mv $@.tmp $@
$(B)/web/assets.o: $(B)/web/assets.c
	$(CC) $(LIB_CFLAGS) -c -o $@ $<
$(FUZZ_BIN): build/fuzz/web/assets.c
