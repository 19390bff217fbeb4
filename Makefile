# keten — top-level build.  No autotools: `make`, `make test`, `make demo`,
# `make bench`, `make fuzz`, `make install PREFIX=... DESTDIR=...`.
# SANITIZE=address,undefined builds into build/san/ instead of build/.

PREFIX  ?= /usr/local
CC      ?= cc
CFLAGS  ?= -O2 -g
SANITIZE ?=

BUILD ?= build
ifeq ($(SANITIZE),)
B := $(BUILD)
else
B := $(BUILD)/san
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

KCFLAGS  = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-format-truncation \
           -Iinclude -Iledger -I$(B)/proto $(shell pkg-config --cflags libxml-2.0 2>/dev/null) \
           -MMD -MP $(CFLAGS)
LIBS     = -llmdb -lsodium -lprotobuf-c -lnng -ljansson -lcsv -lxml2 -lpthread -lm

PROTOS     := $(wildcard proto/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(B)/proto/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
LEDGER_SRC := $(wildcard ledger/*.c)
CLI_SRC    := $(wildcard cli/*.c)
TEST_SRC   := $(wildcard tests/unit/test_*.c)

LIB_OBJ  := $(patsubst %.c,$(B)/%.o,$(LEDGER_SRC)) $(PROTO_C:.c=.o)
CLI_OBJ  := $(patsubst %.c,$(B)/%.o,$(CLI_SRC))
TESTS    := $(patsubst tests/unit/%.c,$(B)/tests/%,$(TEST_SRC))

.PHONY: all deps test unit unit-san cli-tests fuzz fuzz-run demo bench install clean
all: $(B)/keten

deps:
	@sh scripts/deps.sh

$(B)/proto/%.pb-c.c $(B)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(B)/proto
	protoc-c --c_out=$(B)/proto -Iproto $<

$(B)/proto/%.pb-c.o: $(B)/proto/%.pb-c.c
	$(CC) $(KCFLAGS) -w -c -o $@ $<

$(B)/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(KCFLAGS) -c -o $@ $<

$(B)/libketen.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/keten: $(CLI_OBJ) $(B)/libketen.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(B)/libketen.a $(LIBS)

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libketen.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(B)/libketen.a $(LIBS) -lcmocka

# --- tests -----------------------------------------------------------------
# tests/run.sh runs every suite and ends with one line: "N passed, N failed".
test: deps
	@sh tests/run.sh

unit: $(TESTS)
cli-tests: $(B)/keten

# --- fuzzing (clang + libFuzzer) -------------------------------------------
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -Iinclude -Iledger -Ibuild/fuzz/proto $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
fuzz: $(FUZZ_BIN)
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
	$(CC) $(KCFLAGS) $(LDFLAGS) -o $@ $< $(B)/libketen.a $(LIBS)
bench: deps $(B)/keten $(BENCH_BIN)
	@sh tests/bench/run.sh

# --- install ----------------------------------------------------------------
install: $(B)/keten $(B)/libketen.a
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/keten \
	           $(DESTDIR)$(PREFIX)/share/keten/proto
	install -m 755 $(B)/keten $(DESTDIR)$(PREFIX)/bin/keten
	install -m 644 $(B)/libketen.a $(DESTDIR)$(PREFIX)/lib/libketen.a
	install -m 644 include/keten/*.h $(DESTDIR)$(PREFIX)/include/keten/
	install -m 644 proto/*.proto $(DESTDIR)$(PREFIX)/share/keten/proto/

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
