/* SPDX-License-Identifier: MIT */
/* Kernel-side helpers shared by the BPF programs: a task's memory counters, read as /proc reads them.
 *
 * Resident memory on 6.2+ kernels. mm->rss_stat[] is an array of
 * percpu_counter (MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES).
 * A counter's value is `count` plus one s32 residue per CPU; a CPU folds its
 * residue into `count` only when it reaches the batch (max(32, 2 * nr_cpus)
 * pages). So `count` alone (get_mm_counter(), what /proc/PID/stat's rss and
 * mm->hiwater_rss use) can lag by up to (batch - 1) pages per CPU per
 * counter, while /proc/PID/status and /proc/PID/statm (since commit
 * 82241a83cd15, "mm: fix the inaccurate memory statistics issue for users",
 * in 6.16 and so in 6.18) print get_mm_counter_sum(): count plus every CPU's
 * residue, clamped at 0 (percpu_counter_sum_positive()). mm_counts_exact()
 * computes exactly that sum, so the iterator agrees with /proc/PID/status to
 * the page.
 *
 * Reading another CPU's residue needs that CPU's per-CPU offset
 * (__per_cpu_offset[cpu]). Its symbol is not reachable here (kallsyms carries
 * no data symbols without CONFIG_KALLSYMS_ALL, and the BTF has no __percpu
 * type tags), so percpu_offsets_init(), a SEC("syscall") program user space
 * runs once after load, derives the offsets from a per-CPU array of our own:
 * bpf_map_lookup_percpu_elem() returns the raw per-CPU pointer plus the
 * CPU's offset. The results are laundered through .bss so the verifier sees
 * scalars (pointer leaks are permitted to CAP_PERFMON, which tracing needs
 * anyway). Residues are then read with bpf_rdonly_cast() loads: an
 * exception-table-protected load, about 2 ns, against 15-20 ns for a
 * bpf_probe_read_kernel() call (measured on this VM).
 */
#ifndef MEMAGENT_TASK_MEM_BPF_H
#define MEMAGENT_TASK_MEM_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/* Bound on the per-CPU loops and the offset table (8 KiB of .bss). Hosts with
 * more possible CPUs are refused at load time by user space. */
#define TASK_MEM_MAX_CPUS 1024

/* Possible CPUs (libbpf_num_possible_cpus()); set before load. */
const volatile __u32 nr_cpus = 1;

/* Per-CPU area offsets, filled by percpu_offsets_init(); 0 = not yet. */
__u64 cpu_off[TASK_MEM_MAX_CPUS];
/* Laundering slots: a pointer stored here reads back as a scalar. */
volatile __u64 launder[2];

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} percpu_probe SEC(".maps");

/* Only the layout up to pptrs matters; CO-RE relocates the offset. */
struct bpf_array___task_mem {
	struct bpf_map map;
	__u32 elem_size;
	__u32 index_mask;
	union {
		char value[0];
		void *ptrs[0];
		void *pptrs[0];
	};
} __attribute__((preserve_access_index));

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* Fills cpu_off[]. Returns the number of CPUs filled (user space checks it
 * equals nr_cpus). Run once with BPF_PROG_TEST_RUN after load. */
SEC("syscall")
int percpu_offsets_init(void *ctx)
{
	__u32 zero = 0, cpu;
	__u64 pptr = 0;
	int n = 0;

	launder[0] = (__u64)(void *)&percpu_probe;
	if (bpf_probe_read_kernel(&pptr, sizeof(pptr),
				  (void *)(launder[0] +
					   bpf_core_field_offset(struct bpf_array___task_mem, pptrs))))
		return -1;
	for (cpu = 0; cpu < TASK_MEM_MAX_CPUS; cpu++) {
		void *p;

		if (cpu >= nr_cpus)
			break;
		p = bpf_map_lookup_percpu_elem(&percpu_probe, &zero, cpu);
		if (!p)
			break;
		launder[1] = (__u64)p;
		cpu_off[cpu] = launder[1] - pptr;
		n++;
	}
	return n;
}

/* Page counts of one mm, as get_mm_counter_sum() would return them. */
struct mem_counts {
	__u64 file;
	__u64 anon;
	__u64 swap;
	__u64 shmem;
};

/* Adds one CPU's four residues of mm's rss counters to s[]. Since 6.7 the
 * four per-CPU s32 come from one allocation (percpu_counter_init_many()),
 * so one 16-byte read serves all; older layouts are read one by one. */
static __always_inline void residues_add(struct mm_struct *mm, __u64 off, __s64 s[4])
{
	__u64 base = (__u64)mm->rss_stat[0].counters;

	if ((__u64)mm->rss_stat[1].counters == base + 4 &&
	    (__u64)mm->rss_stat[2].counters == base + 8 &&
	    (__u64)mm->rss_stat[3].counters == base + 12) {
		struct range *r = bpf_rdonly_cast((void *)(base + off),
						  bpf_core_type_id_kernel(struct range));
		__u64 a = r->start, b = r->end;

		s[0] += (__s32)a;
		s[1] += (__s32)(a >> 32);
		s[2] += (__s32)b;
		s[3] += (__s32)(b >> 32);
		return;
	}
	for (int i = 0; i < 4; i++) {
		/* Any kernel struct whose first member is an int will do:
		 * bpf_rdonly_cast() wants a struct, not a typedef. */
		struct pm_message *c =
			bpf_rdonly_cast((void *)((__u64)mm->rss_stat[i].counters + off),
					bpf_core_type_id_kernel(struct pm_message));
		s[i] += c->event;
	}
}

static __always_inline __u64 clamp_pos(__s64 v)
{
	return v < 0 ? 0 : (__u64)v;
}

/* The exact counters (count + every CPU's residue), like /proc/PID/status.
 * Cost grows with the number of CPUs: one 16-byte load each. */
static __always_inline void mm_counts_exact(struct mm_struct *mm, struct mem_counts *c)
{
	__s64 s[4];

	s[0] = mm->rss_stat[MM_FILEPAGES].count;
	s[1] = mm->rss_stat[MM_ANONPAGES].count;
	s[2] = mm->rss_stat[MM_SWAPENTS].count;
	s[3] = mm->rss_stat[MM_SHMEMPAGES].count;
	for (__u32 cpu = 0; cpu < TASK_MEM_MAX_CPUS; cpu++) {
		if (cpu >= nr_cpus)
			break;
		residues_add(mm, cpu_off[cpu], s);
	}
	c->file = clamp_pos(s[MM_FILEPAGES]);
	c->anon = clamp_pos(s[MM_ANONPAGES]);
	c->swap = clamp_pos(s[MM_SWAPENTS]);
	c->shmem = clamp_pos(s[MM_SHMEMPAGES]);
}

/* Resident pages (file + anon + shmem) counting only this CPU's residues:
 * exact while the process's other CPUs hold no residue, otherwise off by
 * less than batch pages per other CPU and counter. O(1) whatever the CPU
 * count: the hot-path reading on large hosts. */
static __always_inline __u64 mm_rss_local(struct mm_struct *mm)
{
	__s64 s[4];

	s[0] = mm->rss_stat[MM_FILEPAGES].count;
	s[1] = mm->rss_stat[MM_ANONPAGES].count;
	s[2] = 0;
	s[3] = mm->rss_stat[MM_SHMEMPAGES].count;
	residues_add(mm, cpu_off[bpf_get_smp_processor_id() & (TASK_MEM_MAX_CPUS - 1)], s);
	return clamp_pos(s[MM_FILEPAGES]) + clamp_pos(s[MM_ANONPAGES]) +
	       clamp_pos(s[MM_SHMEMPAGES]);
}

/* Id of the task's cgroup in the memory controller's hierarchy (v1 or v2):
 * the kernfs node id, which on 64-bit hosts is the inode number of the
 * cgroup's directory in that hierarchy's mount. 0 when the kernel has no
 * memory controller. Direct BTF loads: each is exception-protected, so a NULL
 * link in the chain reads as 0 rather than faulting. Caller holds RCU (every
 * tracing and iterator program does). */
static __always_inline __u64 task_memcg_id(struct task_struct *t)
{
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return 0;
	return t->cgroups->subsys[bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id)]
		->cgroup->kn->id;
}

static __always_inline struct kernfs_node *task_memcg_kn(struct task_struct *t)
{
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return 0;
	return t->cgroups->subsys[bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id)]
		->cgroup->kn;
}

/* kernfs_node's parent was renamed __parent (RCU-managed) in 6.15. */
struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

#endif
