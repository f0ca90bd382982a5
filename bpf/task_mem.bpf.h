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
 * anyway).
 *
 * Two ways to read memory reached through an untyped address (a per-CPU
 * residue, a thread-list node), chosen per program at load time, never by
 * kernel version (bpf/task_mem_abi.h):
 *   - fast: a bpf_rdonly_cast() load, an exception-table-protected load of
 *     about 2 ns. The kfunc exists from 6.2 and is a weak extern here: an
 *     object that merely mentions a kfunc the kernel lacks is refused whole
 *     by libbpf unless the extern is weak;
 *   - portable: bpf_probe_read_kernel(), 15-20 ns a call (measured on this
 *     VM), on every kernel.
 * Every helper below takes `const bool fast`; each program is compiled twice
 * (NAME and NAME_portable) with a constant, so each copy holds one path.
 * Addresses are handled as scalars throughout: no pointer the verifier may
 * consider untrusted is ever handed to a helper or kfunc, and no pointer
 * arithmetic with a register is asked of it (6.12 rejects that as "math
 * between ptr_ pointer and register with unbounded min value").
 *
 * Before 6.2 (commit f1a7941243c1, "mm: convert mm's rss stats into
 * percpu_counter") mm->rss_stat is struct mm_rss_stat, four atomic_long_t,
 * and each task caches up to 64 events of its own changes
 * (SPLIT_RSS_COUNTING) before folding them in. /proc reads the atomics
 * alone (get_mm_counter()), so that is what is read here too: the same
 * figure /proc prints, which may lag the true value by the tasks' caches
 * (docs/bpf.md). The layout is told apart by the kernel's BTF (CO-RE:
 * struct mm_rss_stat exists or not).
 */
#ifndef MEMAGENT_TASK_MEM_BPF_H
#define MEMAGENT_TASK_MEM_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "task_mem_abi.h"

/* Possible CPUs (libbpf_num_possible_cpus()); set before load. */
const volatile __u32 nr_cpus = 1;

/* Test hook (MEMAGENT_BPF_TEST_REJECT, collectors/bpf_support.h): set by
 * user space before load, it makes every program dereference a scalar,
 * which every verifier refuses: a real load that really fails. Dead code,
 * removed by the verifier, otherwise. */
const volatile bool task_mem_test_reject = false;
#define TASK_MEM_REJECT_IF_TESTING()                    \
	do {                                            \
		if (task_mem_test_reject)               \
			return *(volatile int *)8;      \
	} while (0)

/* Per-CPU area offsets, filled by percpu_offsets_init(); 0 = not yet. */
__u64 cpu_off[TASK_MEM_MAX_CPUS];
/* Laundering slots: a pointer stored here reads back as a scalar. Used only
 * by percpu_offsets_init(), which runs once, on one CPU. */
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

/* Before 6.2: four atomic counters in the mm (see the top of this file). */
struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
} __attribute__((preserve_access_index));

#ifndef MEMAGENT_BPF_NO_KFUNC
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#define TM_FAST(fast) (fast)
#else
/* The object built a second time for kernels without the kfunc (bpf/bpf.mk):
 * it must not even declare it, as libbpf 1.1 resolves every extern of an
 * object at load, weak or not, and looks one absent from vmlinux up in the
 * modules' BTF, a walk that needs CAP_SYS_ADMIN; without it (the service)
 * the whole object is refused. Same programs, maps and variables, so the
 * first object's skeleton opens these bytes; here the helpers below read
 * portably in both variants, and a direct use of the kfunc (sock_iter's RD())
 * becomes a plain load the verifier would refuse: user space loads only the
 * portable variants of this object (collectors/bpf_support.c). */
#define bpf_rdonly_cast(obj, btf_id) ((void)(btf_id), (void *)(obj))
#define TM_FAST(fast) ((void)(fast), false)
#endif

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

/* ---------------------------------------------------------------------------
 * Reading kernel memory at a scalar address. 0 where it cannot be read.
 */

static __always_inline __u64 tm_read_u64(__u64 addr, const bool fast)
{
	__u64 v = 0;

	if (TM_FAST(fast)) {
		/* Any kernel struct that starts with a u64 will do. */
		struct range *r = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct range));

		return r->start;
	}
	bpf_probe_read_kernel(&v, sizeof(v), (void *)addr);
	return v;
}

/* 16 bytes in one load. */
static __always_inline void tm_read_u128(__u64 addr, __u64 *a, __u64 *b, const bool fast)
{
	if (TM_FAST(fast)) {
		struct range *r = bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct range));

		*a = r->start;
		*b = r->end;
		return;
	}
	{
		__u64 v[2] = { 0, 0 };

		bpf_probe_read_kernel(v, sizeof(v), (void *)addr);
		*a = v[0];
		*b = v[1];
	}
}

static __always_inline __s32 tm_read_s32(__u64 addr, const bool fast)
{
	__s32 v = 0;

	if (TM_FAST(fast)) {
		/* A struct whose first member is an int: bpf_rdonly_cast()
		 * wants a struct, not a typedef. */
		struct pm_message *c =
			bpf_rdonly_cast((void *)addr, bpf_core_type_id_kernel(struct pm_message));

		return c->event;
	}
	bpf_probe_read_kernel(&v, sizeof(v), (void *)addr);
	return v;
}

/* ---------------------------------------------------------------------------
 * A task's memory counters
 */

/* Page counts of one mm, as /proc/PID/status prints them. */
struct mem_counts {
	__u64 file;
	__u64 anon;
	__u64 swap;
	__u64 shmem;
};

/* Whether this kernel keeps rss in four atomics (before 6.2). */
static __always_inline bool mm_rss_atomic(void)
{
	return bpf_core_type_exists(struct mm_rss_stat___pre62);
}

/* Adds one CPU's four residues of mm's rss counters to s[]. Since 6.7 the
 * four per-CPU s32 come from one allocation (percpu_counter_init_many()),
 * so one 16-byte read serves all; older layouts are read one by one. */
static __always_inline void residues_add(struct mm_struct *mm, __u64 off, __s64 s[4],
					 const bool fast)
{
	__u64 base = (__u64)mm->rss_stat[0].counters;

	if ((__u64)mm->rss_stat[1].counters == base + 4 &&
	    (__u64)mm->rss_stat[2].counters == base + 8 &&
	    (__u64)mm->rss_stat[3].counters == base + 12) {
		__u64 a, b;

		tm_read_u128(base + off, &a, &b, fast);
		s[0] += (__s32)a;
		s[1] += (__s32)(a >> 32);
		s[2] += (__s32)b;
		s[3] += (__s32)(b >> 32);
		return;
	}
	for (int i = 0; i < 4; i++)
		s[i] += tm_read_s32((__u64)mm->rss_stat[i].counters + off, fast);
}

static __always_inline __u64 clamp_pos(__s64 v)
{
	return v < 0 ? 0 : (__u64)v;
}

/* The four counters without any per-CPU residue: what get_mm_counter()
 * returns (on 6.2+ the percpu_counter's count, before that the atomic). */
static __always_inline void mm_counts_base(struct mm_struct *mm, __s64 s[4])
{
	if (mm_rss_atomic()) {
		/* Read, not loaded: 6.1's verifier does not walk the
		 * atomic_long_t typedef ("Type 'atomic_long_t' is not a
		 * struct"). */
		struct mm_struct___pre62 *o = (void *)mm;

		s[0] = BPF_CORE_READ(o, rss_stat.count[MM_FILEPAGES].counter);
		s[1] = BPF_CORE_READ(o, rss_stat.count[MM_ANONPAGES].counter);
		s[2] = BPF_CORE_READ(o, rss_stat.count[MM_SWAPENTS].counter);
		s[3] = BPF_CORE_READ(o, rss_stat.count[MM_SHMEMPAGES].counter);
		return;
	}
	s[0] = mm->rss_stat[MM_FILEPAGES].count;
	s[1] = mm->rss_stat[MM_ANONPAGES].count;
	s[2] = mm->rss_stat[MM_SWAPENTS].count;
	s[3] = mm->rss_stat[MM_SHMEMPAGES].count;
}

/* The exact counters (count + every CPU's residue), like /proc/PID/status.
 * Cost grows with the number of CPUs: one 16-byte load each. Before 6.2
 * there are no residues: the atomics are what /proc prints. */
static __always_inline void mm_counts_exact(struct mm_struct *mm, struct mem_counts *c,
					    const bool fast)
{
	__s64 s[4];

	mm_counts_base(mm, s);
	if (!mm_rss_atomic()) {
		for (__u32 cpu = 0; cpu < TASK_MEM_MAX_CPUS; cpu++) {
			if (cpu >= nr_cpus)
				break;
			residues_add(mm, cpu_off[cpu], s, fast);
		}
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
static __always_inline __u64 mm_rss_local(struct mm_struct *mm, const bool fast)
{
	__s64 s[4];

	mm_counts_base(mm, s);
	if (!mm_rss_atomic())
		residues_add(mm, cpu_off[bpf_get_smp_processor_id() & (TASK_MEM_MAX_CPUS - 1)], s,
			     fast);
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

/* True for exactly one caller per (tgid, start time) while the entry stays
 * in seen (an LRU hash of tgid -> start time): several threads of one
 * process can pass the same point at once on several CPUs. The insert
 * (BPF_NOEXIST) or the compare-and-swap of the start time picks the one;
 * a reused pid has another start time and is reported again. */
static __always_inline bool once_per_process(void *seen, __u32 tgid, __u64 start)
{
	__u64 *v, old;

	v = bpf_map_lookup_elem(seen, &tgid);
	if (!v) {
		if (bpf_map_update_elem(seen, &tgid, &start, BPF_NOEXIST) == 0)
			return true;
		v = bpf_map_lookup_elem(seen, &tgid);
		if (!v)
			return false;
	}
	old = *(volatile __u64 *)v;
	if (old == start)
		return false;
	return __sync_val_compare_and_swap(v, old, start) == old;
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
