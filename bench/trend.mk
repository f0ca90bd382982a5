# SPDX-License-Identifier: MIT
# make bench-trend: CPU per point of the leak and queue rules (core/trend)
# beside memwatch's rule on the same points (bench/trend/trendbench.c).
# Release flags whatever O and SANITIZE say; rows to bench/results/trend.tsv.

BENCH_TREND := build/bench/trend/trendbench

$(BENCH_TREND): bench/trend/trendbench.c core/trend.c core/trend.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -Icore -o $@ bench/trend/trendbench.c core/trend.c

bench-trend: $(BENCH_TREND)
	@mkdir -p bench/results
	$(BENCH_TREND) bench/results/trend.tsv

.PHONY: bench-trend
