/* SPDX-License-Identifier: MIT */
/* uprobe_multi: BPF uprobe_multi links (kernel 6.6+), which need no perf event and so no CAP_SYS_ADMIN.
 *
 * Since the fix for CVE-2025-38466 (6.1.146, 6.12.39, 6.16) the perf
 * uprobe PMU, which libbpf 1.1's bpf_program__attach_usdt() opens, asks
 * for CAP_SYS_ADMIN; BPF_LINK_CREATE with BPF_TRACE_UPROBE_MULTI
 * (kernel/trace/bpf_trace.c, bpf_uprobe_multi_link_attach) asks for no
 * more than loading the program did. libbpf 1.1 predates it, so the
 * syscall is made here, with the part of union bpf_attr it reads laid out
 * locally: Debian 12's linux-libc-dev has 6.1's headers.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "bpf_support.h"
#include "uprobe_multi.h"

/* union bpf_attr's link_create, as 6.6 has it for uprobe_multi. */
struct link_create_uprobe_multi {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t multi_flags;           /* BPF_F_UPROBE_MULTI_RETURN: not used */
	uint32_t pid;                   /* 0: every process */
	uint32_t pad;
};
_Static_assert(sizeof(struct link_create_uprobe_multi) == 64, "link_create layout");

bool uprobe_multi_supported(void)
{
	static int have = -1;

	if (have < 0) {
		const char *off = getenv("MEMAGENT_NO_UPROBE_MULTI");

		have = !(off && strcmp(off, "1") == 0) &&
		       bpf_support_kernel_has_kfunc("bpf_uprobe_multi_link_attach");
	}
	return have;
}

int uprobe_multi_attach(int prog_fd, const char *path, const uint64_t *offsets, const uint64_t *ref_ctr_offsets,
			const uint64_t *cookies, size_t cnt)
{
	struct link_create_uprobe_multi attr;
	int fd;

	if (prog_fd < 0 || !path || !offsets || cnt == 0 || cnt > UINT32_MAX)
		return -EINVAL;
	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = (uint32_t)prog_fd;
	attr.attach_type = UPROBE_MULTI_ATTACH_TYPE;
	attr.path = (uint64_t)(uintptr_t)path;
	attr.offsets = (uint64_t)(uintptr_t)offsets;
	attr.ref_ctr_offsets = (uint64_t)(uintptr_t)ref_ctr_offsets;
	attr.cookies = (uint64_t)(uintptr_t)cookies;
	attr.cnt = (uint32_t)cnt;
	/* link fds are O_CLOEXEC by the kernel's own choice. */
	fd = (int)syscall(SYS_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}
