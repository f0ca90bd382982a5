# SPDX-License-Identifier: MIT
# make bench-bpf: what the BPF programs cost (bench/bpf/bpfbench.c); needs root.
# Writes bench/results/bpf.tsv and the "## eBPF" section of bench/RESULTS.md.
#
# It links the agent's archives: the sampling rows run the process collector
# itself, on the iterator and on /proc, beside the /proc floor.

BENCH_BPF      := $(O)/bench/bpf/bpfbench
BENCH_BPF_ARGS ?=

$(O)/obj/bench/bpf/%.o: CFLAGS += $(ROOM_INC_agent) $(PKG_CFLAGS) -Ibench

$(BENCH_BPF): $(O)/obj/bench/bpf/bpfbench.o $(AGENT_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

bench-bpf: $(BENCH_BPF)
	@mkdir -p bench/results
	$(BENCH_BPF) --tsv bench/results/bpf.tsv --md bench/RESULTS.md $(BENCH_BPF_ARGS)

.PHONY: bench-bpf
