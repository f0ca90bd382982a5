# SPDX-License-Identifier: MIT
# make bench-gc: GCBench and binary-trees (16, 20) for libgengc, bdwgc (default
# and GC_set_all_interior_pointers(0)) and glibc malloc/free, side by side in
# one run; rows to bench/results/gc.tsv, summary to bench/RESULTS.md.
# Own output folder and flags: -O2, never sanitized, whatever O and SANITIZE say.

BENCH_GC_O      := build/bench/gc
BENCH_GC_CFLAGS := -std=gnu11 -O2 -g -D_GNU_SOURCE -fno-strict-aliasing -Wall -Wextra -Werror
BENCH_GC_LIBSRC := $(wildcard gc/*.c)
BENCH_GC_HDRS   := gc/gengc.h gc/gengc_internal.h gc/probes.h gc/abi/gengc_telemetry.h
BENCH_GC_BINS   := $(addprefix $(BENCH_GC_O)/,gengc gengc-cards bdwgc bdwgc-nointerior malloc)

$(BENCH_GC_O)/slots/%.o: gc/%.c $(BENCH_GC_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BENCH_GC_CFLAGS) -Igc -Igc/abi -c $< -o $@
$(BENCH_GC_O)/cards/%.o: gc/%.c $(BENCH_GC_HDRS)
	@mkdir -p $(@D)
	$(CC) $(BENCH_GC_CFLAGS) -DGENGC_CARD_TABLE -Igc -Igc/abi -c $< -o $@
$(BENCH_GC_O)/slots/libgengc.a: $(BENCH_GC_LIBSRC:gc/%.c=$(BENCH_GC_O)/slots/%.o)
	@rm -f $@
	ar rcs $@ $^
$(BENCH_GC_O)/cards/libgengc.a: $(BENCH_GC_LIBSRC:gc/%.c=$(BENCH_GC_O)/cards/%.o)
	@rm -f $@
	ar rcs $@ $^

# The bdwgc rows need libgc-dev (gc.h, bdw-gc.pc), which only the bench
# profile of scripts/setup.sh installs: say so instead of failing on gc.h.
bench-gc-setup:
	@pkg-config --exists bdw-gc || { \
	  echo "bench-gc: bdwgc (libgc-dev) is missing: run scripts/setup.sh bench first" >&2; exit 1; }

BENCH_GC_SRC := bench/gc/bench.c bench/gc/alloc.h
$(BENCH_GC_O)/gengc: $(BENCH_GC_SRC) $(BENCH_GC_O)/slots/libgengc.a
	$(CC) $(BENCH_GC_CFLAGS) -DALLOC_GENGC -DALLOC_NAME='"gengc"' -Igc -Ibench/gc $< $(BENCH_GC_O)/slots/libgengc.a -lpthread -o $@
$(BENCH_GC_O)/gengc-cards: $(BENCH_GC_SRC) $(BENCH_GC_O)/cards/libgengc.a
	$(CC) $(BENCH_GC_CFLAGS) -DALLOC_GENGC -DALLOC_NAME='"gengc-cards"' -Igc -Ibench/gc $< $(BENCH_GC_O)/cards/libgengc.a -lpthread -o $@
$(BENCH_GC_O)/bdwgc: $(BENCH_GC_SRC) | bench-gc-setup
	@mkdir -p $(@D)
	$(CC) $(BENCH_GC_CFLAGS) -DALLOC_BDWGC -DALLOC_NAME='"bdwgc"' -Ibench/gc $< -o $@ $$(pkg-config --libs bdw-gc)
$(BENCH_GC_O)/bdwgc-nointerior: $(BENCH_GC_SRC) | bench-gc-setup
	@mkdir -p $(@D)
	$(CC) $(BENCH_GC_CFLAGS) -DALLOC_BDWGC -DB_NOINTERIOR -DALLOC_NAME='"bdwgc-nointerior"' -Ibench/gc $< -o $@ $$(pkg-config --libs bdw-gc)
$(BENCH_GC_O)/malloc: $(BENCH_GC_SRC)
	@mkdir -p $(@D)
	$(CC) $(BENCH_GC_CFLAGS) -DALLOC_MALLOC -DALLOC_NAME='"malloc"' -Ibench/gc $< -o $@

bench-gc: bench-gc-setup $(BENCH_GC_BINS)
	bench/gc/run.sh $(BENCH_GC_O)

# The same with bench/gc/membw.c (a memory-bound job) running beside it.
$(BENCH_GC_O)/membw: bench/gc/membw.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_GC_CFLAGS) -o $@ $<
bench-gc-busy: bench-gc-setup $(BENCH_GC_BINS) $(BENCH_GC_O)/membw
	BENCH_GC_NEIGHBOUR=$(BENCH_GC_O)/membw bench/gc/run.sh $(BENCH_GC_O)

.PHONY: bench-gc bench-gc-busy bench-gc-setup
