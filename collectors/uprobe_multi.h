/* SPDX-License-Identifier: MIT */
/* uprobe_multi: BPF uprobe_multi links (kernel 6.6+), which need no perf event and so no CAP_SYS_ADMIN. */
#ifndef MEMAGENT_UPROBE_MULTI_H
#define MEMAGENT_UPROBE_MULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* BPF_TRACE_UPROBE_MULTI, absent from Debian 12's 6.1 uapi headers: a
 * program to attach with uprobe_multi_attach() is loaded with it as its
 * expected attach type (bpf_program__set_expected_attach_type). */
#define UPROBE_MULTI_ATTACH_TYPE 48

/* Whether the running kernel has uprobe_multi links (its BTF has
 * bpf_uprobe_multi_link_attach). Asked once per process; the environment
 * variable MEMAGENT_NO_UPROBE_MULTI=1 answers false (tests of the older path). */
bool uprobe_multi_supported(void);

/* Attaches the program prog_fd (type kprobe, loaded with
 * UPROBE_MULTI_ATTACH_TYPE) at cnt file offsets of the ELF file at path,
 * for every process that maps it. ref_ctr_offsets (file offsets of
 * semaphores the kernel raises while attached; 0 for none) and cookies
 * (what bpf_get_attach_cookie() returns there) have cnt entries each, or
 * are NULL. Returns the link's fd (closing it detaches), or a negative
 * errno from the kernel (-EBADF: not a regular file, -EINVAL: bad offsets
 * or no uprobe_multi, -EPERM: privilege). */
int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *ref_ctr_offsets,
			const uint64_t *cookies, size_t cnt);

#endif
