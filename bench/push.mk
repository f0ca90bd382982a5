# SPDX-License-Identifier: MIT
# bench-push: the push sinks at 3000 processes, side by side with vmagent
# (VictoriaMetrics' scrape-and-remote-write agent, Debian's victoria-metrics
# package) forwarding the same agent's samples to the same receiver.
# bench/push/run.sh does the measuring; rows go to bench/results/push.tsv and a
# table to bench/RESULTS.md. Always the release agent (build/memagent).

bench-push:
	scripts/setup.sh bench
	$(MAKE) O=build SANITIZE= OPT="-O2 -g" build/memagent build/bench/agent-idle
	bench/push/run.sh

.PHONY: bench-push
