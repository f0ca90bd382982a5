/* SPDX-License-Identifier: MIT */
/* BPF support: what this kernel and this process can do with BPF, and why not, as data.
 *
 * Two audiences. `memagent --probe` (agent/probe.c) asks bpf_support_probe_host()
 * about the host, then each module. The four BPF modules (bpf_rss, oomkill,
 * exits, taskiter) use the helpers below to check preconditions, load, and
 * turn a failure into a reason; nothing here logs, and nothing here knows a
 * module: a leaf of the collectors room.
 *
 * Privileges (kernel >= 5.8; CAP_SYS_ADMIN alone also does):
 *   - every program here is a tracing program (tp_btf, iter): CAP_BPF +
 *     CAP_PERFMON to load and attach;
 *   - maps (task storage, ring buffer, arrays): CAP_BPF;
 *   - reading the ring buffers, the task-storage map and the iterator needs
 *     only the fds, no capability;
 *   - kernel.bpf_stats_enabled (benchmarks only): CAP_SYS_ADMIN;
 * RLIMIT_MEMLOCK: since 5.11 BPF memory is charged to the memory cgroup, not
 * to RLIMIT_MEMLOCK, and libbpf >= 1.0 raises the limit by itself only on
 * older kernels (its LIBBPF_STRICT_AUTO_RLIMIT_MEMLOCK behaviour, always on
 * in 1.x), so the agent never touches it; BPF_FEATURE_MEMLOCK reports which
 * case applies.
 */
#ifndef MEMAGENT_BPF_SUPPORT_H
#define MEMAGENT_BPF_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"

#include <bpf/libbpf.h>


enum bpf_feature {
	BPF_FEATURE_BTF,          /* /sys/kernel/btf/vmlinux: CO-RE and tp_btf */
	BPF_FEATURE_PRIVILEGE,    /* CAP_BPF + CAP_PERFMON, or CAP_SYS_ADMIN */
	BPF_FEATURE_MEMLOCK,      /* whether RLIMIT_MEMLOCK matters (informative) */
	BPF_FEATURE_RINGBUF,      /* BPF_MAP_TYPE_RINGBUF (5.8) */
	BPF_FEATURE_TASK_STORAGE, /* BPF_MAP_TYPE_TASK_STORAGE (5.11) */
	BPF_FEATURE_RSS_STAT,     /* bpf_rss: loads, attaches */
	BPF_FEATURE_MARK_VICTIM,  /* oomkill: loads, attaches */
	BPF_FEATURE_PROCESS_EXIT, /* exits: loads, attaches */
	BPF_FEATURE_TASK_ITER,    /* taskiter: loads, attaches, reads a pass */
	BPF_FEATURE_GC_USDT,      /* gc_events: loads (attached later, per file with the probe) */
	BPF_FEATURE_SOCK_ITER,    /* sock_iter (queues): loads, attaches, reads a pass */
	BPF_FEATURE_MAX
};

struct bpf_feature_status {
	bool available;
	int err;       /* 0, or the negative errno that made it unavailable */
	char why[192]; /* unavailable: the reason; available: a short detail */
};

/* The feature's name for output ("btf", "privilege", "rss_stat", ...). */
const char *bpf_feature_name(enum bpf_feature f);

/* Fills ret[f] for the features of the host, BTF to TASK_STORAGE: what
 * every program needs. The programs' own entries are the prober's
 * (agent/probe.c asks each module); this leaf knows none of them. */
int bpf_support_probe_host(struct bpf_feature_status ret[BPF_FEATURE_MAX]);

/* Sets st: available when err is 0, and the detail or reason. */
void bpf_feature_set(struct bpf_feature_status *st, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* --- for the BPF modules --------------------------------------------------- */

/* Why a program is unavailable: the `reason` label of
 * memagent_bpf_unavailable. A bounded set; the words are in bpf_failure.why. */
enum bpf_reason {
	BPF_REASON_NONE,                   /* available */
	BPF_REASON_NO_BTF,                 /* kernel built without CONFIG_DEBUG_INFO_BTF */
	BPF_REASON_NO_PRIVILEGE,           /* needs CAP_BPF + CAP_PERFMON (or CAP_SYS_ADMIN) */
	BPF_REASON_MISSING_KERNEL_FEATURE, /* a tracepoint, map or program type, helper or
					    * kfunc this kernel lacks */
	BPF_REASON_VERIFIER,               /* the kernel's verifier refused the program */
	BPF_REASON_ATTACH,                 /* loaded, but could not be attached */
	BPF_REASON_DISABLED,               /* --no-bpf */
	BPF_REASON_ERROR,                  /* anything else (out of memory, ...) */
	BPF_REASON_MAX
};

/* "no_btf", "no_privilege", ...; "?" out of range. */
const char *bpf_reason_name(enum bpf_reason r);

/* Why a module could not load: the label and one line for an operator
 * ("rss_stat: the kernel has no BTF tracepoint rss_stat (added in 5.5)"). */
struct bpf_failure {
	enum bpf_reason reason;
	char why[192];
};

/* Checks what every module needs before it loads anything: kernel BTF,
 * privilege, and, when tracepoint is not NULL, that the kernel has that
 * BTF tracepoint (btf_trace_<tracepoint>). When ret_nargs is not NULL it
 * receives the tracepoint's argument count. program names the module in
 * the reason. Returns 0, or -EOPNOTSUPP (no BTF, or no such tracepoint),
 * -EPERM (no privilege), with f filled. f may be NULL. Also silences libbpf
 * (see bpf_support_libbpf_error()). */
int bpf_support_check(const char *program, const char *tracepoint, int *ret_nargs,
		      struct bpf_failure *f);

/* The options every module opens its skeleton with (bpf_support_open_skeleton()).
 * Without CAP_SYS_ADMIN (the service: CAP_BPF and CAP_PERFMON only) they
 * name the kernel's BTF as the CO-RE target explicitly: libbpf 1.1 (Debian
 * 12) otherwise also walks the modules' BTF when a type is absent from
 * vmlinux (every bpf_core_type_exists() probe of an old field), and the
 * walk (BPF_BTF_GET_NEXT_ID) needs CAP_SYS_ADMIN, failing the whole load
 * with EPERM. Our programs read no module's types. Borrowed, static. */
const struct bpf_object_open_opts *bpf_support_open_opts(void);

/* Opens skeleton s (made by NAME_bpf__create_skeleton()) with
 * bpf_support_open_opts(). When the kernel lacks a kfunc the object
 * declares, opens instead the same object built without kfunc externs
 * (nokfunc_bytes: NAME_nokfunc_bpf__elf_bytes from
 * build/bpf/NAME.nokfunc.skel.h, bpf/bpf.mk): libbpf 1.1 resolves every
 * extern at load, weak or not, and looks an absent kfunc up in the modules'
 * BTF, which needs CAP_SYS_ADMIN; the service has CAP_BPF and CAP_PERFMON
 * only, and the whole object would be refused. bpf_support_load() then
 * picks the portable variants. Returns 0 or a negative errno.
 *
 * Test hook, read at each call: MEMAGENT_BPF_NO_KFUNC=1 opens the nokfunc
 * object on any kernel. */
int bpf_support_open_skeleton(struct bpf_object_skeleton *s,
			      const void *(*nokfunc_bytes)(size_t *sz));

/* The module's skeleton NAME_bpf opened by bpf_support_open_skeleton(), or
 * NULL with errno set. Needs NAME.skel.h and NAME.nokfunc.skel.h. */
#define BPF_SUPPORT_OPEN(NAME)                                                          \
	({                                                                              \
		struct NAME##_bpf *o_ = calloc(1, sizeof(*o_));                         \
		int e_ = o_ ? NAME##_bpf__create_skeleton(o_) : -ENOMEM;               \
		if (e_ == 0)                                                            \
			e_ = bpf_support_open_skeleton(o_->skeleton,                     \
						       NAME##_nokfunc_bpf__elf_bytes);   \
		if (e_) {                                                               \
			if (o_)                                                         \
				NAME##_bpf__destroy(o_);                                \
			o_ = NULL;                                                      \
			errno = -e_;                                                    \
		}                                                                       \
		o_;                                                                     \
	})

/* Loads an opened skeleton whose rodata the module has set, and attaches
 * it: picks for each program the variant this kernel runs (NAME, or
 * NAME_portable without the bpf_rdonly_cast kfunc, or from the object built
 * without kfunc externs: bpf/task_mem_abi.h; a
 * program whose autoload the module turned off stays off in both
 * variants), loads, runs percpu_offsets_init when the object has it (for
 * nr_cpus CPUs), and attaches every loaded program the skeleton knows how
 * to attach. Returns 0, or a negative errno with f filled; the caller then
 * destroys the skeleton, which frees everything the attempt allocated.
 *
 * Test hook, read from the environment at each call:
 * MEMAGENT_BPF_PORTABLE=1 loads the portable variants on any kernel. */
int bpf_support_load(struct bpf_object_skeleton *s, const char *program, unsigned nr_cpus,
		     struct bpf_failure *f);

/* Test hook: whether program (a module name, "rss_stat") is listed in
 * MEMAGENT_BPF_TEST_REJECT=a,b,... The module then sets its object's
 * task_mem_test_reject before bpf_support_load(), and the kernel's verifier
 * refuses every program of it (bpf/task_mem.bpf.h): a real load that
 * really fails, for tests of what a refusal leaves behind. */
bool bpf_support_test_reject(const char *program);

/* A consumer of map, a loaded ring buffer, calling fn(ctx, record, size)
 * per record on ring_buffer__consume(). NULL with f filled on failure. */
struct ring_buffer *bpf_support_ring_new(struct bpf_map *map, ring_buffer_sample_fn fn, void *ctx,
				       const char *program, struct bpf_failure *f);

/* Consumes every record waiting in rb, each through the callback given to
 * bpf_support_ring_new(). Returns how many the module delivered, i.e. how
 * much *delivered (the module's own count, bumped by its callback) grew, or
 * a negative errno. Never blocks. */
int bpf_support_ring_consume(struct ring_buffer *rb, const uint64_t *delivered);

/* The link of the loaded variant of the program called name (NAME or
 * NAME_portable) after bpf_support_load(), or NULL. */
struct bpf_link *bpf_support_link(const struct bpf_object_skeleton *s, const char *name);

/* The task-list walks (SEC("syscall") programs writing records into an
 * mmapped array, with .bss counters walk_n and walk_overflow: task_iter,
 * sock_iter). bpf_support_walk_size() before the load turns prog on or off
 * and, on, sizes its record array recs to cap entries (-errno with f set).
 * bpf_support_walk_run() runs it once and returns the records written;
 * -ENOSPC when they did not fit (the caller runs its iterator instead),
 * -EPROTO when walk_n passes cap, or the run's -errno. */
int bpf_support_walk_size(struct bpf_program *prog, struct bpf_map *recs, bool on, size_t cap,
			  const char *program, struct bpf_failure *f);
ssize_t bpf_support_walk_run(const struct bpf_program *prog, const __u32 *walk_n, const __u32 *walk_overflow,
			     size_t cap);

/* Maps the first bytes (rounded up to whole pages) of a BPF_F_MMAPABLE
 * array read-only: the records a walk program writes, read in place.
 * Returns the mapping and its length in *ret_len (for munmap), or NULL with
 * errno set. */
const void *bpf_support_map_mmap(const struct bpf_map *map, size_t bytes, size_t *ret_len);

/* Reads an iterator's fd (bpf_iter_create) to its end and closes it. Each
 * read() lands chunk bytes in buf after what the last parse left unused (a
 * record a read cut in two), so buf holds chunk plus one record; parse gets
 * the whole run and returns how many bytes it took, or a negative errno.
 * Returns 0; a negative errno of read() or of parse; or -EPROTO when the
 * stream ends inside a record, which also counts one in *malformed (never,
 * unless the ABI headers and the program disagree). */
int bpf_support_iter_drain(int fd, unsigned char *buf, size_t chunk,
			   ssize_t (*parse)(void *arg, const unsigned char *buf, size_t len), void *arg,
			   uint64_t *malformed);

/* Whether bpf_support_load() will choose the fast variants: the kernel has
 * TASK_MEM_FAST_KFUNC and neither MEMAGENT_BPF_PORTABLE nor
 * MEMAGENT_BPF_NO_KFUNC is set. */
bool bpf_support_fast(void);

/* Whether the running kernel's BTF has the kfunc name (for programs a module
 * loads only where their kfuncs exist). Parses vmlinux BTF: call at load. */
bool bpf_support_kernel_has_kfunc(const char *name);

/* Whether a module may load its task-list walk (a SEC("syscall") program
 * over bpf_iter_task_new, 6.7+; bpf/task_iter.bpf.c, bpf/sock_iter.bpf.c):
 * fast reads chosen, the kfunc in the kernel's BTF, the reader in the
 * initial pid namespace, and the test switch no_walk_env (an environment
 * variable) not set to anything but 0. */
bool bpf_support_task_walk(const char *no_walk_env);

/* Whether the loaded variants are the portable ones. */
bool bpf_support_portable(const struct bpf_object_skeleton *s);

/* libbpf prints warnings on stderr by default; the modules must not. After
 * bpf_support_check() libbpf's messages are kept per thread instead, and
 * this turns the last failure of stage ("load", "attach", "ring buffer")
 * into f: the reason, and the verifier's error line when there is one
 * ("rss_stat: load: verifier rejected prog 'x': R1 invalid mem access
 * 'scalar'"). Returns err (negative; a non-negative err becomes -EINVAL). */
int bpf_support_libbpf_error(int err, const char *program, const char *stage,
			     struct bpf_failure *f);

/* Possible CPUs, as the per-CPU loops of the programs need them; -errno on
 * failure, -E2BIG beyond what the programs handle. */
int bpf_support_nr_cpus(void);

/* --- self metrics ----------------------------------------------------------- */

/* The families every BPF user reports under, one series per program
 * ({program="rss_stat"} ...): each must be one family in a snapshot, so
 * they are defined once here. NULL-terminated. */
extern const struct metric_desc *const bpf_support_metrics[];

enum {
	BPF_REPORT_LOST = 1u << 0,     /* the program has a ring buffer: events lost */
	BPF_REPORT_MAP_FULL = 1u << 1, /* the program has a bounded map: map full */
};

/* Adds memagent_bpf_enabled{program} (1 when loaded and attached); when
 * enabled, per which, memagent_bpf_events_lost_total and
 * memagent_bpf_map_full_total; when not, memagent_bpf_unavailable{program,
 * reason} = 1. Returns 0 or -ENOMEM. */
int bpf_support_report(struct snapshot *s, const char *program, bool enabled,
		       enum bpf_reason reason, unsigned which, uint64_t lost, uint64_t map_full);

#endif
