# SPDX-License-Identifier: MIT
# memagent: the one build entry point for the agent, libgengc, the BPF
# programs, the tests and the benchmarks.
#
#   make               build/memagent and libgengc (.a, .so, gengc.pc) (release, -O2 -g)
#   make test          everything under ASan+UBSan into build/asan, then run every test
#   make bench-agent   sampling cost against prometheus-process-exporter (see bench/)
#   make install       PREFIX=/usr/local DESTDIR=

VERSION  := 0.1.0
O        ?= build
CC       := gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PREFIX   ?= /usr/local
DESTDIR  ?=

PKGS       := libbpf jansson libmicrohttpd libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

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

# Generated BPF files live in build/bpf whatever $(O) is, never in the tree.
BPF_O := build/bpf
# Agent-side include path: modules include each other by bare name.
INC := -Iagent -Icollectors -Iexporters -Ibpf -I$(BPF_O)

all: $(O)/memagent gengc

# --- BPF ----------------------------------------------------------------------
-include bpf/bpf.mk

# --- libgengc ---------------------------------------------------------------
-include gc/gc.mk

# --- agent ------------------------------------------------------------------
AGENT_SRCS := $(filter-out agent/main.c,$(wildcard agent/*.c collectors/*.c exporters/*.c))
AGENT_OBJS := $(AGENT_SRCS:%.c=$(O)/obj/%.o)

$(O)/obj/agent/%.o $(O)/obj/collectors/%.o $(O)/obj/exporters/%.o: CFLAGS += $(INC) $(PKG_CFLAGS)
$(O)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
# Collectors include generated skeletons: build those first.
$(AGENT_OBJS) $(O)/obj/agent/main.o: | $(BPF_SKELS)

$(O)/libmemagent.a: $(AGENT_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(O)/memagent: $(O)/obj/agent/main.o $(O)/libmemagent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lpthread

# --- tests ------------------------------------------------------------------
# tests/test_gc*.c link libgengc alone (it must not need the agent);
# every other tests/test_*.c links the agent's library.
TEST_SRCS    := $(wildcard tests/test_*.c)
GC_TEST_SRCS := $(filter tests/test_gc%,$(TEST_SRCS))
AG_TEST_SRCS := $(filter-out $(GC_TEST_SRCS),$(TEST_SRCS))
HELPER_SRCS  := $(wildcard tests/helpers/*.c)
TEST_BINS    := $(TEST_SRCS:tests/%.c=$(O)/tests/%) $(HELPER_SRCS:tests/helpers/%.c=$(O)/tests/helpers/%)

$(O)/obj/tests/%.o: CFLAGS += -Itests $(INC) -Igc $(PKG_CFLAGS)
$(AG_TEST_SRCS:tests/%.c=$(O)/tests/%): $(O)/tests/%: $(O)/obj/tests/%.o $(O)/libmemagent.a
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
	$(CC) $(filter-out $(SANFLAGS),$(CFLAGS)) -Itests -c $< -o $@
$(O)/tests/helpers/%: $(O)/obj/tests/helpers/%.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -lpthread -lm
# gc_* helpers are libgengc programs, code under test: sanitized like the tests.
$(O)/obj/tests/helpers/gc_%.o: tests/helpers/gc_%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -Igc -c $< -o $@
$(O)/tests/helpers/gc_%: $(O)/obj/tests/helpers/gc_%.o $(GENGC_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread -lm

tests: $(O)/memagent $(TEST_BINS)

# The test run uses the sanitized build; the runner's last line is the verdict.
test:
	$(MAKE) O=build/asan SANITIZE=1 OPT="-O1 -g" tests
	tests/run.sh build/asan

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
	install -d $(DESTDIR)$(PREFIX)/share/doc/memagent
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/memagent/
	[ -e $(DESTDIR)$(SYSCONFDIR)/memagent/memagent.json ] || { \
		install -d $(DESTDIR)$(SYSCONFDIR)/memagent && \
		$(O)/memagent --print-default-config >$(DESTDIR)$(SYSCONFDIR)/memagent/memagent.json; }
	$(GENGC_INSTALL)

clean:
	rm -rf build

.PHONY: all test tests install clean
.DELETE_ON_ERROR:

-include $(shell find $(O) -name '*.d' 2>/dev/null)
-include $(wildcard bench/*.mk)
