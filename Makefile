# skiff: one Makefile, one binary. See README.md.
#   make          release build of ./skiff
#   make test     deps + ASan/UBSan build + every unit and integration test
#   make run      deps + build + the local 3-node example
#   make bench    benchmarks (bench/), not tests
CC      ?= cc
PKGS    := raft libuv lmdb msgpack yaml-0.1 libh2o jansson libcurl openssl libarchive
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wvla -Wno-format-truncation
BASE_CFLAGS := -std=gnu11 $(WARN) -I. -DH2O_USE_LIBUV -D_GNU_SOURCE $(PKG_CFLAGS) -MMD -MP
REL_CFLAGS  := $(BASE_CFLAGS) -O2 -g
TEST_CFLAGS := $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined -DSKIFF_FAULTS
TEST_LDFLAGS := -fsanitize=address,undefined

MODULES := lib store consensus api sched agent cli
LIB_SRC := $(filter-out cli/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
REL_OBJ := $(LIB_SRC:%.c=build/rel/%.o)
TST_OBJ := $(LIB_SRC:%.c=build/test/%.o)

UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN := $(UNIT_SRC:%.c=build/test/%)
UNIT_HELPERS := $(wildcard tests/unit/helpers/*.c)

# quiet by default; make V=1 shows the full commands
ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all deps test unit integration run bench clean format check-format
all: skiff

deps:
	@scripts/deps.sh

skiff: build/rel/libskiff.a build/rel/cli/main.o
	$(CC) -o $@ build/rel/cli/main.o build/rel/libskiff.a $(PKG_LIBS) -lm

build/rel/libskiff.a: $(REL_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

build/test/libskiff.a: $(TST_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@[ -n "$(Q)" ] && echo "  CC      $<" || true
	$(Q)$(CC) $(REL_CFLAGS) -c -o $@ $<

build/test/%.o: %.c
	@mkdir -p $(dir $@)
	@[ -n "$(Q)" ] && echo "  CC-TEST $<" || true
	$(Q)$(CC) $(TEST_CFLAGS) -c -o $@ $<

build/test/skiff: build/test/libskiff.a build/test/cli/main.o
	$(CC) $(TEST_LDFLAGS) -o $@ build/test/cli/main.o build/test/libskiff.a $(PKG_LIBS) -lm

# unit tests are compiled and linked in one step (-MMD records only one source's
# headers then), so they depend on every header; they are small and quick to build
ALL_HEADERS := $(wildcard */*.h tests/unit/*/*.h)
build/test/tests/unit/%: tests/unit/%.c build/test/libskiff.a $(UNIT_HELPERS) $(ALL_HEADERS)
	@mkdir -p $(dir $@)
	@[ -n "$(Q)" ] && echo "  LD-TEST $@" || true
	$(Q)$(CC) $(TEST_CFLAGS) $(TEST_LDFLAGS) -o $@ $< $(UNIT_HELPERS) build/test/libskiff.a \
		$(PKG_LIBS) -lcmocka -lm

test: deps
	$(MAKE) build-test
	tests/run.sh

build-test: build/test/skiff $(UNIT_BIN)

unit: deps build-test
	tests/run.sh unit

integration: deps build-test
	tests/run.sh integration

run: deps skiff
	scripts/demo.sh

# bench/: a libcurl load generator and the store-alone benchmark (release flags)
BENCH_BIN := build/rel/bench/loadgen build/rel/bench/store_bench build/rel/bench/sched_bench \
	build/rel/bench/svcrules_bench
build/rel/bench/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $< $(PKG_LIBS)

build/rel/bench/store_bench: bench/store_bench.c build/rel/libskiff.a
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $< build/rel/libskiff.a $(PKG_LIBS) -lm

build/rel/bench/sched_bench: bench/sched_bench.c build/rel/libskiff.a
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $< build/rel/libskiff.a $(PKG_LIBS) -lm

build/rel/bench/svcrules_bench: bench/svcrules_bench.c build/rel/libskiff.a
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $< build/rel/libskiff.a $(PKG_LIBS) -lm

bench: deps skiff $(BENCH_BIN)
	bench/run.sh $(BENCH_ARGS)

# jepsen/: history checkers (unit-tested against the test build of their
# sources), the check CLI and the workload client (release flags, like bench/)
.PHONY: jepsen
JEPSEN_CHECKER_SRC := jepsen/history.c jepsen/linear.c jepsen/set.c jepsen/orch.c
JEPSEN_BIN := build/rel/jepsen/check build/rel/jepsen/client
JEPSEN_UNIT_BIN := $(filter build/test/tests/unit/jepsen/%,$(UNIT_BIN))
$(JEPSEN_UNIT_BIN): build/test/tests/unit/jepsen/%: tests/unit/jepsen/%.c build/test/libskiff.a \
		$(JEPSEN_CHECKER_SRC:%.c=build/test/%.o) $(UNIT_HELPERS) $(ALL_HEADERS)
	@mkdir -p $(dir $@)
	@[ -n "$(Q)" ] && echo "  LD-TEST $@" || true
	$(Q)$(CC) $(TEST_CFLAGS) $(TEST_LDFLAGS) -o $@ $< $(JEPSEN_CHECKER_SRC:%.c=build/test/%.o) \
		$(UNIT_HELPERS) build/test/libskiff.a $(PKG_LIBS) -lcmocka -lm

build/rel/jepsen/check: jepsen/check.c $(JEPSEN_CHECKER_SRC:%.c=build/rel/%.o) build/rel/lib/err.o
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

build/rel/jepsen/client: jepsen/client.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -o $@ $< $(PKG_LIBS)

jepsen: deps skiff $(JEPSEN_BIN)
	jepsen/run.sh $(JEPSEN_ARGS)

format:
	clang-format -i $(shell git ls-files '*.c' '*.h')

check-format:
	clang-format --dry-run -Werror $(shell git ls-files '*.c' '*.h')

clean:
	rm -rf build skiff

-include $(REL_OBJ:.o=.d) $(TST_OBJ:.o=.d) $(JEPSEN_CHECKER_SRC:%.c=build/rel/%.d) \
	$(JEPSEN_CHECKER_SRC:%.c=build/test/%.d) build/rel/cli/main.d build/test/cli/main.d
