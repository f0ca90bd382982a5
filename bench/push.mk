# SPDX-License-Identifier: MIT
# bench-push: the push sinks at 3000 processes, side by side with vmagent
# (VictoriaMetrics' scrape-and-remote-write agent, Debian's victoria-metrics
# package) forwarding the same agent's samples to the same receiver.
# bench/push/run.sh does the measuring; rows go to bench/results/push.tsv and a
# table to bench/RESULTS.md. Always the release agent (build/memagent).

# The disk buffer's own cost, measured on diskbuf_append() alone.
$(O)/bench/push-diskbuf: bench/push/diskbuf.c $(call room_libs,exporters)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ROOM_INC_exporters) $(LDFLAGS) -o $@ $< $(call room_libs,exporters) $(PKG_LIBS) -lpthread

bench-push:
	scripts/setup.sh bench
	$(MAKE) O=build SANITIZE= OPT="-O2 -g" build/memagent build/bench/agent-idle build/tests/helpers/http_recorder \
		build/bench/push-diskbuf
	bench/push/run.sh

.PHONY: bench-push
