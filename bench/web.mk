# SPDX-License-Identifier: MIT
# bench-web: scrape latency of memagent's endpoint, quiet and under slowloris
# (1,000 half-open connections from 127.0.0.2 re-opened as fast as they are
# closed, a client sending a header byte a second from 127.0.0.3), side by side
# with prometheus-node-exporter's Go server in the same run. bench/web/run.sh
# does the measuring; rows to bench/results/web.tsv, the "## Web endpoint"
# block of bench/RESULTS.md. Release agent whatever O, SANITIZE or OPT say.
#   make bench-web [BENCH_WEB_K=200]

bench-web:
	scripts/setup.sh bench
	$(MAKE) O=build SANITIZE= OPT="-O2 -g" build/memagent build/tests/helpers/slowloris
	bench/web/run.sh

.PHONY: bench-web
