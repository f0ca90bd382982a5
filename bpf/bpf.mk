# SPDX-License-Identifier: MIT
# BPF programs: bpf/<name>.bpf.c -> build/bpf/<name>.bpf.o -> build/bpf/<name>.skel.h.
#
# Included by the top Makefile. Everything generated lands in $(BPF_O)
# (build/bpf whatever $(O) is: the skeletons do not depend on sanitizer or
# optimisation flags, so every build flavour shares them). vmlinux.h is dumped
# from the running kernel's BTF at build time and never committed.
#
#   make build/bpf/rss.skel.h             one skeleton
#   make bpf                               all of them
#   make VMLINUX_BTF=/path/to/vmlinux ...  build against another kernel's BTF

BPF_O       ?= build/bpf
LLVM_STRIP  ?= llvm-strip
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux

# __TARGET_ARCH_xxx selects the pt_regs layout in bpf_tracing.h.
BPF_ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/' \
	-e 's/ppc64le/powerpc/' -e 's/riscv64/riscv/' -e 's/s390x/s390/' -e 's/loongarch64/loongarch/')

# With -target bpf clang does not search the host's system include
# directories, so <asm/types.h> and friends are not found. Add them after
# everything else (-idirafter), as libbpf-tools does, so vmlinux.h and our own
# headers always win.
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -I$(BPF_O) -Ibpf \
	$(CLANG_BPF_SYS_INCLUDES) -Wall -Werror -Wno-unused-function

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(BPF_SRCS:bpf/%.bpf.c=$(BPF_O)/%.bpf.o) \
	$(BPF_SRCS:bpf/%.bpf.c=$(BPF_O)/%.nokfunc.bpf.o)
BPF_SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(BPF_O)/%.skel.h) \
	$(BPF_SRCS:bpf/%.bpf.c=$(BPF_O)/%.nokfunc.skel.h)
BPF_HDRS  := $(wildcard bpf/*.h)

$(BPF_O)/vmlinux.h: | $(BPF_O)/.dir
	$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@.tmp
	mv $@.tmp $@

$(BPF_O)/.dir:
	@mkdir -p $(BPF_O)
	@touch $@

# DWARF is stripped (-g keeps the BTF that CO-RE needs; the skeleton embeds
# the object, so a smaller object is a smaller agent).
$(BPF_O)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BPF_O)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(LLVM_STRIP) -g $@.tmp
	mv $@.tmp $@

$(BPF_O)/%.skel.h: $(BPF_O)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp
	mv $@.tmp $@

# The same object without kfunc externs (bpf/task_mem.bpf.h,
# MEMAGENT_BPF_NO_KFUNC), for kernels that lack one: libbpf 1.1 looks an
# absent kfunc up in the modules' BTF, which needs CAP_SYS_ADMIN, and fails
# the whole load without it (the service has CAP_BPF and CAP_PERFMON only).
# Only its ELF bytes are used (NAME_nokfunc_bpf__elf_bytes()), opened
# through the first object's skeleton (bpf_support_open_skeleton()), so the
# skeleton both objects generate under one name must be the same apart from
# the bytes: checked here, the build fails otherwise.
$(BPF_O)/%.nokfunc.bpf.o: bpf/%.bpf.c $(BPF_HDRS) $(BPF_O)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -DMEMAGENT_BPF_NO_KFUNC -c $< -o $@.tmp
	$(LLVM_STRIP) -g $@.tmp
	mv $@.tmp $@

BPF_SKEL_SHAPE = sed -e '/__elf_bytes(size_t \*sz)$$/,/^}/d'

$(BPF_O)/%.nokfunc.skel.h: $(BPF_O)/%.nokfunc.bpf.o $(BPF_O)/%.skel.h
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf | $(BPF_SKEL_SHAPE) > $@.shape
	$(BPF_SKEL_SHAPE) $(BPF_O)/$*.skel.h | diff -u - $@.shape >&2 || \
		{ echo "$<: its skeleton differs from $(BPF_O)/$*.skel.h" >&2; exit 1; }
	rm -f $@.shape
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_nokfunc_bpf > $@.tmp
	mv $@.tmp $@

bpf: $(BPF_SKELS)

# The BPF tests exec a small helper that touches memory on command; build it
# with them so the one-test command in the conventions is enough.
BPF_TESTS := test_rss_stat test_mark_victim test_process_exit test_task_iter test_bpf_support test_probe
$(BPF_TESTS:%=$(O)/tests/%): | $(O)/tests/helpers/memchild

.PHONY: bpf
.SECONDARY: $(BPF_OBJS)
