# SPDX-License-Identifier: MIT
# bench-agent: memagent's CPU per sample + scrape, scrape latency and memory at
# N = 500 and 3000 idle processes, side by side with prometheus-process-exporter
# and the floor (bare preads of the same /proc files). bench/agent/run.sh does
# the measuring; results go to bench/results/agent.tsv and bench/RESULTS.md.
# Always measures the release agent (build/memagent, no sanitizers), whatever
# O, SANITIZE or OPT the caller set.

BENCH_AGENT_PROGS  := idle driver floor
BENCH_AGENT_BINS   := $(BENCH_AGENT_PROGS:%=$(O)/bench/agent-%)
BENCH_AGENT_CFLAGS := -std=gnu11 -O2 $(WARN) -D_GNU_SOURCE

$(O)/bench/agent-%: bench/agent/%.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_AGENT_CFLAGS) -o $@ $<

bench-agent-progs: $(BENCH_AGENT_BINS)

bench-agent:
	scripts/setup.sh bench
	$(MAKE) O=build SANITIZE= OPT="-O2 -g" build/memagent bench-agent-progs
	bench/agent/run.sh

.PHONY: bench-agent bench-agent-progs
