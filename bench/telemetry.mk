# SPDX-License-Identifier: MIT
# make bench-telemetry: what the telemetry page costs the app (the page update,
# binary-trees 20 with the page on and off, in pairs) and the agent (the heap
# collector per cycle with 100 instrumented processes, a full rescan at 3000
# processes), side by side in one run (bench/telemetry/telebench.c). Rows to
# bench/results/telemetry.tsv, the "## Telemetry" section of bench/RESULTS.md.
# Release build (-O2, no sanitizers) whatever O, SANITIZE or OPT say.
#   make bench-telemetry [BENCH_TELEMETRY_ARGS="--pairs 15 --instrumented 100 --procs 3000"]

BENCH_TELEMETRY      := build/bench/telemetry/telebench
BENCH_TELEMETRY_ARGS ?=

bench-telemetry:
	$(MAKE) O=build SANITIZE= OPT="-O2 -g" build/libgengc.a build/libcollectors.a build/libcore.a \
		$(BENCH_GC_O)/gengc
	@mkdir -p $(dir $(BENCH_TELEMETRY)) bench/results
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE $(ROOM_INC_collectors) -Igc -Ibench \
		-o $(BENCH_TELEMETRY) bench/telemetry/telebench.c \
		build/libcollectors.a build/libcore.a build/libgengc.a $(PKG_LIBS) -lpthread -lm
	$(BENCH_TELEMETRY) --gc $(BENCH_GC_O)/gengc --tsv bench/results/telemetry.tsv --md bench/RESULTS.md \
		$(BENCH_TELEMETRY_ARGS)

.PHONY: bench-telemetry
