# SPDX-License-Identifier: MIT
# memagent-node (clients/node): a pure-JS npm package, nothing to build. Its tests
# are tests/it_node.sh (in the suite, with the machine's node) and, outside the
# suite because it needs the npm registry once, make test-node-memlab: memlab
# (the pinned install of test-gc-memlab, build/memlab) loads a snapshot the
# client wrote on the agent's request.

test-node-memlab:
	$(MAKE) O=build SANITIZE= OPT="-O2 -g" build/memagent
	@mkdir -p $(GENGC_MEMLAB_O)
	cp tests/memlab/package.json tests/memlab/package-lock.json $(GENGC_MEMLAB_O)/
	cd $(GENGC_MEMLAB_O) && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund
	tests/memlab/node_snapshot.sh $(abspath build/memagent) $(abspath $(GENGC_MEMLAB_O)) $(abspath build/node-memlab)
.PHONY: test-node-memlab
