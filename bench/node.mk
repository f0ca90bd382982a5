# SPDX-License-Identifier: MIT
# make bench-node: what memagent-node costs a Node app (its page update and GC-entry
# handling, binary-trees in JS with the client on and off, in pairs) and what Node
# pages cost the agent (the heap collector per cycle over 100 pages), side by side
# in one run (bench/node/nodebench.c). The client is packed with npm pack and
# installed from the tarball into build/bench/node/app, as an app would. Rows to
# bench/results/node.tsv, the "## Node.js client" section of bench/RESULTS.md.
#   make bench-node [BENCH_NODE_ARGS="--pairs 9 --depth 18 --pages 100"]

BENCH_NODE      := build/bench/node/nodebench
BENCH_NODE_APP  := build/bench/node/app
BENCH_NODE_ARGS ?=

bench-node:
	@command -v node >/dev/null && command -v npm >/dev/null || \
		{ echo "bench-node: node and npm are needed (Node >= 18; see scripts/setup.sh)"; exit 1; }
	$(MAKE) O=build SANITIZE= OPT="-O2 -g" build/libcollectors.a build/libcore.a
	rm -rf $(BENCH_NODE_APP) && mkdir -p $(BENCH_NODE_APP) bench/results
	cd $(BENCH_NODE_APP) && npm pack --silent $(CURDIR)/clients/node >pack.out && \
		echo '{"name":"memagent-node-bench","private":true}' >package.json && \
		npm install --offline --no-audit --no-fund --silent ./$$(tail -1 pack.out)
	cp bench/node/*.js $(BENCH_NODE_APP)/
	$(CC) -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE $(ROOM_INC_collectors) -Ibench \
		-o $(BENCH_NODE) bench/node/nodebench.c build/libcollectors.a build/libcore.a $(PKG_LIBS) -lpthread -lm
	NODEBENCH_NODE_VERSION=$$(node --version) $(BENCH_NODE) --app $(CURDIR)/$(BENCH_NODE_APP) \
		--tsv $(CURDIR)/bench/results/node.tsv --md $(CURDIR)/bench/RESULTS.md $(BENCH_NODE_ARGS)

.PHONY: bench-node
