# SPDX-License-Identifier: MIT
# make bench-queues: what reading every socket's queues costs (bench/queues/queuebench.c); needs root.
# Writes bench/results/queues.tsv and the "## Kernel queues" section of bench/RESULTS.md.
#
# It links the agent's archives: the collector rows run the queues
# collector itself on both backends, beside the BPF pass and ss.

BENCH_QUEUES      := $(O)/bench/queues/queuebench
BENCH_QUEUES_ARGS ?=

$(O)/obj/bench/queues/%.o: CFLAGS += $(ROOM_INC_agent) $(PKG_CFLAGS) -Ibench

$(BENCH_QUEUES): $(O)/obj/bench/queues/queuebench.o $(AGENT_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

bench-queues: $(BENCH_QUEUES)
	@mkdir -p bench/results
	$(BENCH_QUEUES) --tsv bench/results/queues.tsv --md bench/RESULTS.md $(BENCH_QUEUES_ARGS)

.PHONY: bench-queues
