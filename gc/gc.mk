# SPDX-License-Identifier: MIT
# libgengc: static and shared library, gengc.pc, install. Included by the top
# Makefile. libc only: gc/ objects see -Igc (and gc/abi, the telemetry page's
# layout, which the agent's collectors room sees too) and nothing of the agent.

GENGC_VERSION := 0.1.0
GENGC_SRCS := $(wildcard gc/*.c)
GENGC_OBJS := $(GENGC_SRCS:%.c=$(O)/obj/%.o)
GENGC_A    := $(O)/libgengc.a
GENGC_SO   := $(O)/libgengc.so.0
GENGC_PC   := $(O)/gengc.pc

# Internals are hidden (gengc.h gives its declarations default visibility).
# The archive holds one relocatable object whose hidden symbols are made
# local, so it exports only gengc_ names: an app with its own collect() or
# page_free() links against it (tests/test_gc_symbols.c checks both
# libraries). The shared library needs no such step: the version script.
$(O)/obj/gc/%.o: CFLAGS += -fPIC -fvisibility=hidden -Igc -Igc/abi

GENGC_RELOC := $(O)/obj/libgengc-reloc.o
$(GENGC_RELOC): $(GENGC_OBJS)
	ld -r -o $@.tmp $^
	objcopy --localize-hidden $@.tmp $@
	@rm -f $@.tmp

$(GENGC_A): $(GENGC_RELOC)
	@rm -f $@
	ar rcs $@ $^

$(GENGC_SO): $(GENGC_OBJS) gc/gengc.map
	$(CC) -shared $(LDFLAGS) -Wl,-soname,libgengc.so.0 -Wl,--version-script=gc/gengc.map -o $@ $(GENGC_OBJS) -lpthread
	ln -sf libgengc.so.0 $(O)/libgengc.so

# Regenerated on every make that asks for it: it embeds PREFIX.
$(GENGC_PC): FORCE
	@mkdir -p $(@D)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: gengc' 'Description: generational garbage collector (scavenge, mark-sweep, mark-compact)' \
	  'Version: $(GENGC_VERSION)' 'Libs: -L$${libdir} -lgengc' 'Libs.private: -lpthread' \
	  'Cflags: -I$${includedir}' > $@.tmp && mv $@.tmp $@

gengc: $(GENGC_A) $(GENGC_SO) $(GENGC_PC)

GENGC_INSTALL_DEPS := $(GENGC_A) $(GENGC_SO) $(GENGC_PC)
GENGC_INSTALL = install -D -m 0644 gc/gengc.h $(DESTDIR)$(PREFIX)/include/gengc.h && \
	install -D -m 0644 gc/abi/gengc_telemetry.h $(DESTDIR)$(PREFIX)/include/gengc_telemetry.h && \
	install -D -m 0644 $(GENGC_A) $(DESTDIR)$(PREFIX)/lib/libgengc.a && \
	install -D -m 0755 $(GENGC_SO) $(DESTDIR)$(PREFIX)/lib/libgengc.so.0 && \
	ln -sf libgengc.so.0 $(DESTDIR)$(PREFIX)/lib/libgengc.so && \
	install -D -m 0644 $(GENGC_PC) $(DESTDIR)$(PREFIX)/lib/pkgconfig/gengc.pc
GENGC_UNINSTALL = rm -f $(DESTDIR)$(PREFIX)/include/gengc.h $(DESTDIR)$(PREFIX)/include/gengc_telemetry.h \
	$(DESTDIR)$(PREFIX)/lib/libgengc.a $(DESTDIR)$(PREFIX)/lib/libgengc.so.0 $(DESTDIR)$(PREFIX)/lib/libgengc.so \
	$(DESTDIR)$(PREFIX)/lib/pkgconfig/gengc.pc

# A long randomized run for manual use (not part of make test):
#   make soak-gc [GENGC_SOAK_ROUNDS=N] [GENGC_STRESS_SEED=S]
soak-gc:
	$(MAKE) O=build/asan SANITIZE=1 OPT="-O1 -g" build/asan/tests/test_gc_stress
	GENGC_SOAK=1 build/asan/tests/test_gc_stress

# The GC part of the suite, 20x longer (both remembered-set variants):
#   make test-gc-soak [GENGC_MODEL_SEED=S] [GENGC_STRESS_SEED=S]
test-gc-soak:
	$(MAKE) O=build/asan SANITIZE=1 OPT="-O1 -g" tests
	GENGC_SOAK=1 tests/run.sh build/asan test_gc_model test_gc_model_cards test_gc_stress test_gc_stress_cards

FORCE:
.PHONY: gengc soak-gc test-gc-soak FORCE

# tests/test_gc_symbols.c reads the exports of both libraries.
$(O)/tests/test_gc_symbols: | $(GENGC_SO)

# The card-table variant (-DGENGC_CARD_TABLE, measured by bench-gc) is built
# and tested like the default: its own objects and archive, and the GC
# stress programs linked against it as test_*_cards.
GENGC_CARDS_OBJS := $(GENGC_SRCS:gc/%.c=$(O)/obj/gc-cards/%.o)
GENGC_CARDS_A    := $(O)/libgengc-cards.a
GENGC_CARDS_TESTS := test_gc test_gc_stress test_gc_model

$(O)/obj/gc-cards/%.o: gc/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -DGENGC_CARD_TABLE -Igc -Igc/abi -c $< -o $@
$(GENGC_CARDS_A): $(GENGC_CARDS_OBJS)
	@rm -f $@
	ar rcs $@ $^
$(GENGC_CARDS_TESTS:%=$(O)/tests/%_cards): $(O)/tests/%_cards: $(O)/obj/tests/%.o $(GENGC_CARDS_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread -lm
GENGC_TEST_BINS := $(GENGC_CARDS_TESTS:%=$(O)/tests/%_cards)
tests: $(GENGC_TEST_BINS)

# memlab (@memlab/heap-analysis, pinned by tests/memlab/package-lock.json)
# loads a snapshot of tests/helpers/gc_snapshot.c and checks its counts,
# edges and retained sizes. Not in make test: it needs the npm registry
# once. The packages go to build/memlab (no install scripts: no browser).
GENGC_MEMLAB_O := build/memlab
test-gc-memlab:
	$(MAKE) O=build/asan SANITIZE=1 OPT="-O1 -g" build/asan/tests/helpers/gc_snapshot
	@mkdir -p $(GENGC_MEMLAB_O)
	cp tests/memlab/package.json tests/memlab/package-lock.json $(GENGC_MEMLAB_O)/
	cd $(GENGC_MEMLAB_O) && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund
	build/asan/tests/helpers/gc_snapshot $(GENGC_MEMLAB_O)/gc.heapsnapshot > $(GENGC_MEMLAB_O)/gc.json
	NODE_PATH=$(abspath $(GENGC_MEMLAB_O))/node_modules node tests/memlab/check.js \
		$(GENGC_MEMLAB_O)/gc.heapsnapshot $(GENGC_MEMLAB_O)/gc.json 2>/dev/null
.PHONY: test-gc-memlab
