# SPDX-License-Identifier: MIT
# make bench-bpf: what the BPF programs cost (bench/bpf/bpfbench.c); needs root.
# Writes bench/results/bpf.tsv and the "## eBPF" section of bench/RESULTS.md.
#
# The bench links the five BPF modules' objects directly rather than the
# agent's archive, so it builds whatever state the rest of the agent is in.

BENCH_BPF_MODS := bpf_rss oomkill exits taskiter bpf_support
BENCH_BPF_OBJS := $(BENCH_BPF_MODS:%=$(O)/obj/collectors/%.o)
BENCH_BPF      := $(O)/bench/bpf/bpfbench
BENCH_BPF_ARGS ?=

$(O)/obj/bench/bpf/%.o: CFLAGS += $(INC) $(PKG_CFLAGS)

$(BENCH_BPF): $(O)/obj/bench/bpf/bpfbench.o $(BENCH_BPF_OBJS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

bench-bpf: $(BENCH_BPF)
	@mkdir -p bench/results
	$(BENCH_BPF) --tsv bench/results/bpf.tsv --md bench/RESULTS.md $(BENCH_BPF_ARGS)

.PHONY: bench-bpf
