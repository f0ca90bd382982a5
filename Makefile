# SPDX-License-Identifier: MIT
# memagent: the one build entry point for the agent, libgengc, the BPF
# programs, the tests and the benchmarks.
#
#   make               everything shipped: build/memagent, libgengc.a/.so, gengc.pc (release, -O2 -g)
#   make test          everything under ASan+UBSan into build/asan, then run every test
#   make bench-agent   sampling cost against prometheus-process-exporter (see bench/)
#   make bench-web     scrape latency under slowloris against prometheus-node-exporter
#   make fuzz-config   the config loader under libFuzzer, FUZZ_SECONDS=60 by default
#   make test-leaks    the leak rules on every fixture and every example run (docs/leaks.md)
#   make test-kernels  the BPF tests under qemu on Debian's 6.1 and 6.12 and on the host's kernel
#   make install       PREFIX=/usr/local DESTDIR= (make uninstall: the same variables)

VERSION  := 0.1.0
O        ?= build
CC       := gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PREFIX   ?= /usr/local
DESTDIR  ?=

PKGS       := libbpf jansson libmicrohttpd libcurl gnutls libcrypt libprotobuf-c snappy
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# A build folder remembers how it was built (sanitizers, optimisation), so a
# later `make O=that-folder print-flags-ROOM` reports the flags that built it.
-include $(O)/build.vars

WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-missing-field-initializers
OPT      ?= -O2 -g
CFLAGS   := -std=gnu11 $(OPT) $(WARN) -D_GNU_SOURCE -fno-strict-aliasing \
            -DMEMAGENT_VERSION='"$(VERSION)"' -MMD -MP
LDFLAGS  :=
ifeq ($(SANITIZE),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS   += $(SANFLAGS)
LDFLAGS  += $(SANFLAGS)
endif

# Written by the recipe of `tests` (not a rule of its own: make would remake
# an included file before reading the rest).
record_build_vars = printf 'SANITIZE ?= %s\nOPT ?= %s\n' '$(SANITIZE)' '$(OPT)' >$(O)/build.vars

# Generated BPF files live in build/bpf whatever $(O) is, never in the tree.
BPF_O := build/bpf

all: $(O)/memagent gengc examples

# --- BPF ----------------------------------------------------------------------
-include bpf/bpf.mk

# --- libgengc ---------------------------------------------------------------
-include gc/gc.mk
-include clients/node/node.mk

# --- the rooms --------------------------------------------------------------
# Each room of the house (docs/ARCHITECTURE.md, "The house") builds into its
# own archive, and its sources see only the include paths of the rooms it may
# use: an #include of a room above is "No such file or directory", and an
# archive that needs a symbol of a room above leaves it undefined (tests/
# it_layering.sh proves both). This table is the only enforcement of the rules.
#
#   room        may use
#   core        (libc, pthread)
#   collectors  core, bpf/ ABI headers and generated skeletons, gc/abi/ (the
#               telemetry page's layout: not libgengc itself)
#   exporters   core
#   agent       collectors, exporters, core
#
# Modules include each other by bare name ("snapshot.h"); paths are absolute
# so that the flags mean the same from any folder (print-flags-ROOM).
ROOMS       := core collectors exporters agent
ROOM_USES_core       :=
ROOM_USES_collectors := core
ROOM_USES_exporters  := core
ROOM_USES_agent      := collectors exporters core
ROOM_INC_core        := -I$(CURDIR)/core
ROOM_INC_collectors  := -I$(CURDIR)/collectors -I$(CURDIR)/core -I$(CURDIR)/bpf -I$(CURDIR)/$(BPF_O) \
                        -I$(CURDIR)/gc/abi
ROOM_INC_exporters   := -I$(CURDIR)/exporters -I$(CURDIR)/core
ROOM_INC_agent       := -I$(CURDIR)/agent $(ROOM_INC_collectors) -I$(CURDIR)/exporters
ROOM_CFLAGS_core       := $(ROOM_INC_core)
ROOM_CFLAGS_collectors := $(ROOM_INC_collectors) $(PKG_CFLAGS)
ROOM_CFLAGS_exporters  := $(ROOM_INC_exporters) $(PKG_CFLAGS)
ROOM_CFLAGS_agent      := $(ROOM_INC_agent) $(PKG_CFLAGS)
# A room's archive, then the archives of the rooms it uses, in link order.
room_lib  = $(O)/lib$(1).a
room_libs = $(call room_lib,$(1)) $(foreach r,$(ROOM_USES_$(1)),$(call room_lib,$(r)))

define room_rules
$(1)_SRCS := $$(filter-out agent/main.c,$$(wildcard $(1)/*.c))
$(1)_OBJS := $$($(1)_SRCS:%.c=$$(O)/obj/%.o)
$$(O)/obj/$(1)/%.o: CFLAGS += $$(ROOM_CFLAGS_$(1))
$$(O)/lib$(1).a: $$($(1)_OBJS)
	@rm -f $$@
	ar rcs $$@ $$^
print-flags-$(1):
	@echo $$(CFLAGS) $$(ROOM_CFLAGS_$(1))
print-libs-$(1):
	@echo $$(call room_libs,$(1))
.PHONY: print-flags-$(1) print-libs-$(1)
endef
$(foreach r,$(ROOMS),$(eval $(call room_rules,$(r))))

# What linking a program of the rooms takes besides their archives.
print-cc:
	@echo $(CC)
print-ldflags:
	@echo $(LDFLAGS)
print-ldlibs:
	@echo $(PKG_LIBS) -lpthread
.PHONY: print-cc print-ldflags print-ldlibs

$(O)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
# Collectors (and the agent, through their headers) include generated
# skeletons: build those first.
$(collectors_OBJS) $(agent_OBJS) $(O)/obj/agent/main.o: | $(BPF_SKELS)

# The remote-write protobuf code, generated from the trimmed exporters/prompb.proto
# into the build folder and archived with the exporters (only remote_write.c
# includes it).
GEN_O := $(O)/gen
$(GEN_O)/prompb.pb-c.c $(GEN_O)/prompb.pb-c.h &: exporters/prompb.proto
	@mkdir -p $(GEN_O)
	protoc-c --proto_path=exporters --c_out=$(GEN_O) exporters/prompb.proto
$(O)/obj/gen/prompb.pb-c.o: $(GEN_O)/prompb.pb-c.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Wno-missing-prototypes -I$(GEN_O) $(PKG_CFLAGS) -c $< -o $@
$(O)/libexporters.a: $(O)/obj/gen/prompb.pb-c.o
$(O)/obj/exporters/remote_write.o: $(GEN_O)/prompb.pb-c.h
$(O)/obj/exporters/remote_write.o: CFLAGS += -I$(GEN_O)

AGENT_LIBS := $(call room_libs,agent)
$(O)/memagent: $(O)/obj/agent/main.o $(AGENT_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

# --- examples ---------------------------------------------------------------
# Programs showing the leak shapes (examples/README.md): libgengc apps, built
# like the tests' gc_* helpers (sanitized in a sanitized build).
EXAMPLE_BINS := $(patsubst examples/%.c,$(O)/examples/%,$(wildcard examples/*.c))
$(O)/obj/examples/%.o: CFLAGS += -Iexamples -Igc -Igc/abi
$(O)/examples/%: $(O)/obj/examples/%.o $(GENGC_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread -lm
examples: $(EXAMPLE_BINS)

# --- tests ------------------------------------------------------------------
# tests/test_gc*.c link libgengc alone (it must not need the agent);
# every other tests/test_*.c links the rooms' archives.
TEST_SRCS    := $(wildcard tests/test_*.c)
GC_TEST_SRCS := $(filter tests/test_gc%,$(TEST_SRCS))
AG_TEST_SRCS := $(filter-out $(GC_TEST_SRCS),$(TEST_SRCS))
HELPER_SRCS  := $(wildcard tests/helpers/*.c)
TEST_BINS    := $(TEST_SRCS:tests/%.c=$(O)/tests/%) $(HELPER_SRCS:tests/helpers/%.c=$(O)/tests/helpers/%)

$(O)/obj/tests/%.o: CFLAGS += -Itests $(ROOM_INC_agent) -Igc $(PKG_CFLAGS)
$(AG_TEST_SRCS:tests/%.c=$(O)/tests/%): $(O)/tests/%: $(O)/obj/tests/%.o $(AGENT_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread
$(GC_TEST_SRCS:tests/%.c=$(O)/tests/%): $(O)/tests/%: $(O)/obj/tests/%.o $(GENGC_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread -lm
# Helpers are processes under observation, not code under test: built without
# sanitizers so their memory is what the test says it is (ASan's shadow and
# allocator would add megabytes to every rss the tests check).
$(O)/obj/tests/helpers/%.o: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(filter-out $(SANFLAGS),$(CFLAGS)) -Itests -Igc/abi -c $< -o $@
$(O)/tests/helpers/%: $(O)/obj/tests/helpers/%.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -lpthread -lm -lcrypt
# gc_* helpers are libgengc programs, code under test: sanitized like the tests.
$(O)/obj/tests/helpers/gc_%.o: tests/helpers/gc_%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -Igc -Igc/abi -c $< -o $@
$(O)/tests/helpers/gc_%: $(O)/obj/tests/helpers/gc_%.o $(GENGC_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread -lm

# --- fuzzing ----------------------------------------------------------------
# The config loader under libFuzzer (clang; the runtime is libclang-rt-14-dev,
# in the test profile of scripts/setup.sh). Its own objects and flags: the
# loader's sources are compiled again with the agent room's include paths.
#   make fuzz-config [FUZZ_SECONDS=60]   fuzz for that long; new inputs go to
#                                        build/fuzz/corpus-config, finds to build/fuzz
FUZZ_CC       ?= $(CLANG)
FUZZ_SANFLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS   := -std=gnu11 -O1 -g $(WARN) -D_GNU_SOURCE -fno-strict-aliasing \
                 -DMEMAGENT_VERSION='"$(VERSION)"' $(ROOM_INC_agent) $(shell pkg-config --cflags jansson)
FUZZ_CONFIG   := $(O)/fuzz/fuzz_config
FUZZ_CONFIG_SRCS := tests/fuzz/fuzz_config.c agent/config.c agent/jsonpos.c agent/listen.c core/target.c \
                    core/alert.c core/strbuf.c core/snapshot.c core/utf8.c
FUZZ_SECONDS  ?= 60

$(FUZZ_CONFIG): $(FUZZ_CONFIG_SRCS) $(wildcard agent/*.h core/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SANFLAGS) -o $@ $(FUZZ_CONFIG_SRCS) $(shell pkg-config --libs jansson)

fuzz-config: $(FUZZ_CONFIG)
	@mkdir -p build/fuzz/corpus-config
	$(FUZZ_CONFIG) -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=build/fuzz/ \
		build/fuzz/corpus-config tests/fuzz/corpus/config

# The telemetry page parser under libFuzzer, the same way:
#   make fuzz-page [FUZZ_SECONDS=60]     new inputs to build/fuzz/corpus-page
FUZZ_PAGE      := $(O)/fuzz/fuzz_page
FUZZ_PAGE_SRCS := tests/fuzz/fuzz_page.c collectors/telemetry.c

$(FUZZ_PAGE): $(FUZZ_PAGE_SRCS) collectors/telemetry.h gc/abi/gengc_telemetry.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SANFLAGS) -o $@ $(FUZZ_PAGE_SRCS)

fuzz-page: $(FUZZ_PAGE)
	@mkdir -p build/fuzz/corpus-page
	$(FUZZ_PAGE) -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -artifact_prefix=build/fuzz/ \
		build/fuzz/corpus-page tests/fuzz/corpus/page

.PHONY: fuzz-config fuzz-page

tests: $(O)/memagent $(TEST_BINS) $(EXAMPLE_BINS) $(foreach r,$(ROOMS),$(call room_lib,$(r))) $(FUZZ_CONFIG) $(FUZZ_PAGE)
	@$(record_build_vars)

# The test run uses the sanitized build; the runner's last line is the verdict.
test:
	$(MAKE) build/memagent
	$(MAKE) O=build/asan SANITIZE=1 OPT="-O1 -g" tests
	tests/run.sh build/asan

# The leak rules' whole evaluation: the fixtures (test_trend) and every
# real-time example run of it_leaks, the queues' too (the suite runs only a
# leak and a non-leak: docs/leaks.md).
test-leaks:
	$(MAKE) O=build/asan SANITIZE=1 OPT="-O1 -g" tests
	LEAKS_ALL=1 tests/run.sh build/asan test_trend it_leaks

# The kernel matrix alone (tests/kernels/matrix.sh): Debian's 6.1 and 6.12
# under qemu, and the host's kernel; KERNELS="debian-6.1" for fewer.
test-kernels:
	$(MAKE) O=build/asan SANITIZE=1 OPT="-O1 -g" tests
	tests/kernels/matrix.sh build/asan $(KERNELS)

# --- install ----------------------------------------------------------------
# The unit runs $(PREFIX)/bin/memagent; /etc/memagent/memagent.json gets the
# embedded default once and is never overwritten (operators edit it).
SYSCONFDIR ?= /etc
install: $(O)/memagent $(GENGC_INSTALL_DEPS)
	install -D -m 0755 $(O)/memagent $(DESTDIR)$(PREFIX)/bin/memagent
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|/usr/local/bin/memagent|$(PREFIX)/bin/memagent|; s|/etc/memagent|$(SYSCONFDIR)/memagent|; s|/usr/local/share|$(PREFIX)/share|' \
		systemd/memagent.service >$(DESTDIR)$(PREFIX)/lib/systemd/system/memagent.service
	install -D -m 0644 systemd/memagent.sysusers.conf $(DESTDIR)$(PREFIX)/lib/sysusers.d/memagent.conf
	install -D -m 0644 systemd/memagent.tmpfiles.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/memagent.conf
	install -D -m 0644 systemd/memagent.json $(DESTDIR)$(PREFIX)/share/memagent/example.json
	install -D -m 0644 systemd/memagent.rules.yml $(DESTDIR)$(PREFIX)/share/memagent/memagent.rules.yml
	install -D -m 0644 examples/grafana/memagent.json $(DESTDIR)$(PREFIX)/share/memagent/grafana-dashboard.json
	install -D -m 0644 systemd/memagent-usdt.conf $(DESTDIR)$(PREFIX)/share/memagent/usdt.conf
	install -d $(DESTDIR)$(PREFIX)/share/doc/memagent
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/memagent/
	[ -e $(DESTDIR)$(SYSCONFDIR)/memagent/memagent.json ] || { \
		install -d $(DESTDIR)$(SYSCONFDIR)/memagent && \
		$(O)/memagent --print-default-config >$(DESTDIR)$(SYSCONFDIR)/memagent/memagent.json; }
	$(GENGC_INSTALL)

# Removes what install put there, the operators' /etc/memagent/memagent.json
# and the state directory excepted (their data, not ours).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/memagent $(DESTDIR)$(PREFIX)/lib/systemd/system/memagent.service \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d/memagent.conf $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/memagent.conf
	rm -rf $(DESTDIR)$(PREFIX)/share/memagent $(DESTDIR)$(PREFIX)/share/doc/memagent
	$(GENGC_UNINSTALL)

clean:
	rm -rf build

.PHONY: all examples test tests test-leaks test-kernels install uninstall clean
.DELETE_ON_ERROR:

-include $(shell find $(O) -name '*.d' 2>/dev/null)
-include $(wildcard bench/*.mk)
