/* SPDX-License-Identifier: MIT */
/* BPF support: feature detection with reasons, and the checks and helpers the BPF modules share. */
#include "bpf_support.h"

#include <elf.h>
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "task_mem_abi.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define VMLINUX_BTF "/sys/kernel/btf/vmlinux"

static const char *const feature_names[BPF_FEATURE_MAX] = {
	[BPF_FEATURE_BTF] = "btf",
	[BPF_FEATURE_PRIVILEGE] = "privilege",
	[BPF_FEATURE_MEMLOCK] = "memlock",
	[BPF_FEATURE_RINGBUF] = "ringbuf",
	[BPF_FEATURE_TASK_STORAGE] = "task_storage",
	[BPF_FEATURE_RSS_STAT] = "rss_stat",
	[BPF_FEATURE_MARK_VICTIM] = "mark_victim",
	[BPF_FEATURE_PROCESS_EXIT] = "sched_process_exit",
	[BPF_FEATURE_TASK_ITER] = "task_iter",
	[BPF_FEATURE_GC_USDT] = "gc_usdt",
	[BPF_FEATURE_SOCK_ITER] = "sock_iter",
};

const char *bpf_feature_name(enum bpf_feature f)
{
	return f < BPF_FEATURE_MAX ? feature_names[f] : "?";
}

static const char *const reason_names[BPF_REASON_MAX] = {
	[BPF_REASON_NONE] = "none",
	[BPF_REASON_NO_BTF] = "no_btf",
	[BPF_REASON_NO_PRIVILEGE] = "no_privilege",
	[BPF_REASON_MISSING_KERNEL_FEATURE] = "missing_kernel_feature",
	[BPF_REASON_VERIFIER] = "verifier",
	[BPF_REASON_ATTACH] = "attach",
	[BPF_REASON_DISABLED] = "disabled",
	[BPF_REASON_ERROR] = "error",
};

const char *bpf_reason_name(enum bpf_reason r)
{
	return r < BPF_REASON_MAX ? reason_names[r] : "?";
}

static void fail_set(struct bpf_failure *f, enum bpf_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail_set(struct bpf_failure *f, enum bpf_reason reason, const char *fmt, ...)
{
	va_list ap;

	if (!f)
		return;
	f->reason = reason;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------------
 * libbpf's messages
 *
 * The print callback is process-wide; what it captures is per thread, so
 * two modules loading at once on two threads keep their own last failure.
 * Only the tail of a long message is kept: a verifier log ends with the
 * error.
 */

#define LOG_KEEP 8192
static __thread char libbpf_log[LOG_KEEP];
static __thread size_t libbpf_log_len;
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

static int capture_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char *msg = NULL;
	int n;

	if (level == LIBBPF_DEBUG)
		return 0;
	n = vasprintf(&msg, fmt, ap);
	if (n < 0)
		return 0;
	if ((size_t)n >= LOG_KEEP) {
		memcpy(libbpf_log, msg + n - (LOG_KEEP - 1), LOG_KEEP - 1);
		libbpf_log_len = LOG_KEEP - 1;
	} else {
		if (libbpf_log_len + (size_t)n >= LOG_KEEP) {
			/* Keep the newest bytes: shift the oldest out. */
			size_t drop = libbpf_log_len + (size_t)n - (LOG_KEEP - 1);

			memmove(libbpf_log, libbpf_log + drop, libbpf_log_len - drop);
			libbpf_log_len -= drop;
		}
		memcpy(libbpf_log + libbpf_log_len, msg, (size_t)n);
		libbpf_log_len += (size_t)n;
	}
	libbpf_log[libbpf_log_len] = '\0';
	free(msg);
	return 0;
}

static void install_capture(void)
{
	libbpf_set_print(capture_libbpf);
}

static void quiet_libbpf(void)
{
	pthread_once(&quiet_once, install_capture);
	libbpf_log_len = 0;
	libbpf_log[0] = '\0';
}

/* Copies into out the verifier's error: the last line of the last load log
 * that is not a statistic. Returns false when the log holds no load log. */
static bool verifier_line(char *out, size_t len)
{
	const char *begin = NULL, *end = NULL, *p, *line, *best = NULL;
	size_t best_len = 0;

	/* The log is bracketed by BEGIN/END markers; a long log may have lost
	 * its beginning to the capture's bound, so the END marker decides. */
	for (p = libbpf_log; (p = strstr(p, "-- END PROG LOAD LOG --")); p++)
		end = p;
	if (!end)
		return false;
	for (p = libbpf_log; (p = strstr(p, "-- BEGIN PROG LOAD LOG --")) && p < end; p++)
		begin = p;
	if (begin) {
		begin = strchr(begin, '\n');
		begin = begin ? begin + 1 : end;
	} else {
		begin = libbpf_log;
	}
	for (line = begin; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);

		if (n > 0 && strncmp(line, "processed ", 10) != 0 &&
		    strncmp(line, "verification time", 17) != 0 &&
		    strncmp(line, "stack depth", 11) != 0) {
			best = line;
			best_len = n;
		}
		line += n + 1;
	}
	if (!best)
		return false;
	snprintf(out, len, "%.*s", (int)best_len, best);
	return true;
}

/* The name of the program libbpf last complained about, or NULL. */
static bool last_prog(char *out, size_t len)
{
	const char *p = libbpf_log, *last = NULL, *q;

	while ((p = strstr(p, "prog '"))) {
		last = p + 6;
		p += 6;
	}
	if (!last || !(q = strchr(last, '\'')))
		return false;
	snprintf(out, len, "%.*s", (int)(q - last), last);
	return true;
}

/* A kernel feature the verifier or libbpf named as missing, in words:
 * "helper bpf_map_lookup_percpu_elem", "kfunc bpf_rdonly_cast". */
static bool missing_feature(const char *line, char *out, size_t len)
{
	const char *p;

	/* "unknown func bpf_map_lookup_percpu_elem#195" */
	if ((p = strstr(line, "unknown func "))) {
		p += 13;
		snprintf(out, len, "helper %.*s", (int)strcspn(p, "#: "), p);
		return true;
	}
	/* libbpf: "extern (func ksym) 'bpf_rdonly_cast': not found in kernel or module BTFs" */
	if ((p = strstr(libbpf_log, "extern (func ksym) '"))) {
		p += 20;
		snprintf(out, len, "kfunc %.*s", (int)strcspn(p, "'"), p);
		return true;
	}
	if ((p = strstr(line, "invalid func ")) || (p = strstr(line, "calling kernel function"))) {
		snprintf(out, len, "a kernel function the program calls");
		return true;
	}
	return false;
}

int bpf_support_libbpf_error(int err, const char *program, const char *stage,
			     struct bpf_failure *f)
{
	char line[160], prog[64], feat[96];
	bool have_line;

	if (err >= 0)
		err = -EINVAL;
	if (!f)
		return err;
	have_line = verifier_line(line, sizeof(line));
	if (!have_line)
		line[0] = '\0';
	if (!last_prog(prog, sizeof(prog)))
		snprintf(prog, sizeof(prog), "?");
	if (missing_feature(line, feat, sizeof(feat))) {
		fail_set(f, BPF_REASON_MISSING_KERNEL_FEATURE,
			 "%s: %s: this kernel lacks the %s (docs/bpf.md: kernel features)", program,
			 stage, feat);
		return err;
	}
	if (strcmp(stage, "attach") == 0) {
		fail_set(f, BPF_REASON_ATTACH, "%s: attach: %s", program, strerror(-err));
		return err;
	}
	if (have_line) {
		fail_set(f, BPF_REASON_VERIFIER, "%s: %s: verifier rejected prog '%s': %s", program,
			 stage, prog, line);
		return err;
	}
	if (err == -EPERM || err == -EACCES) {
		fail_set(f, BPF_REASON_NO_PRIVILEGE,
			 "%s: %s: no privilege (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)",
			 program, stage);
		return err;
	}
	if (err == -ENOMEM) {
		fail_set(f, BPF_REASON_ERROR, "%s: %s: out of memory", program, stage);
		return err;
	}
	if (err == -ENOENT || err == -ESRCH || err == -EOPNOTSUPP || err == -ENOTSUP ||
	    err == -EINVAL) {
		fail_set(f, BPF_REASON_MISSING_KERNEL_FEATURE,
			 "%s: %s: the kernel refused a map or program type (%s)", program, stage,
			 strerror(-err));
		return err;
	}
	fail_set(f, BPF_REASON_ERROR, "%s: %s: %s", program, stage, strerror(-err));
	return err;
}

/* ---------------------------------------------------------------------------
 * Preconditions
 */

static int caps(bool *ret_bpf, bool *ret_perfmon, bool *ret_admin)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
#define HAS(c) ((data[(c) / 32].effective >> ((c) % 32)) & 1)
	*ret_bpf = HAS(CAP_BPF);
	*ret_perfmon = HAS(CAP_PERFMON);
	*ret_admin = HAS(CAP_SYS_ADMIN);
#undef HAS
	return 0;
}

const struct bpf_object_open_opts *bpf_support_open_opts(void)
{
	static struct bpf_object_open_opts opts = { .sz = sizeof(opts) };
	bool bpf = false, perfmon = false, admin = false;

	opts.btf_custom_path = NULL;
	if (caps(&bpf, &perfmon, &admin) == 0 && !admin && access(VMLINUX_BTF, R_OK) == 0)
		opts.btf_custom_path = VMLINUX_BTF;
	return &opts;
}

static int check_privilege(char *why, size_t whylen)
{
	bool bpf, perfmon, admin;
	int r = caps(&bpf, &perfmon, &admin);

	if (r < 0) {
		snprintf(why, whylen, "capget: %s", strerror(-r));
		return r;
	}
	if (admin || (bpf && perfmon))
		return 0;
	snprintf(why, whylen, "no privilege: needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)%s%s",
		 bpf ? "; has CAP_BPF" : "", perfmon ? "; has CAP_PERFMON" : "");
	return -EPERM;
}

static int check_btf(char *why, size_t whylen)
{
	if (access(VMLINUX_BTF, R_OK) == 0)
		return 0;
	snprintf(why, whylen, "no BTF: %s: %s (kernel built without CONFIG_DEBUG_INFO_BTF?)",
		 VMLINUX_BTF, strerror(errno));
	return -EOPNOTSUPP;
}

/* Arguments of the BTF tracepoint tp (the hidden __data pointer excluded). */
static int tracepoint_nargs(const char *tp, char *why, size_t whylen)
{
	char name[128];
	const struct btf_type *t;
	struct btf *btf;
	int id, n = -EOPNOTSUPP;

	btf = btf__load_vmlinux_btf();
	if (!btf) {
		int err = -errno;

		snprintf(why, whylen, "no BTF: cannot load %s: %s", VMLINUX_BTF, strerror(-err));
		return -EOPNOTSUPP;
	}
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0) {
		snprintf(why, whylen, "this kernel has no BTF tracepoint %s%s%s", tp,
			 strcmp(tp, "rss_stat") == 0 ? " (added in 5.5)" : "",
			 strcmp(tp, "mark_victim") == 0 ? " (added in 4.13)" : "");
		goto out;
	}
	t = btf__type_by_id(btf, id);
	t = t ? btf__type_by_id(btf, t->type) : NULL; /* pointer */
	t = t && btf_is_ptr(t) ? btf__type_by_id(btf, t->type) : NULL;
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < 1) {
		snprintf(why, whylen, "unexpected prototype of BTF tracepoint %s", tp);
		goto out;
	}
	n = btf_vlen(t) - 1;
out:
	btf__free(btf);
	return n;
}

int bpf_support_check(const char *program, const char *tracepoint, int *ret_nargs,
		      struct bpf_failure *f)
{
	char why[160];
	int r;

	quiet_libbpf();
	if (f) {
		f->reason = BPF_REASON_NONE;
		f->why[0] = '\0';
	}
	r = check_btf(why, sizeof(why));
	if (r < 0) {
		fail_set(f, BPF_REASON_NO_BTF, "%s: %s", program, why);
		return r;
	}
	r = check_privilege(why, sizeof(why));
	if (r < 0) {
		fail_set(f, BPF_REASON_NO_PRIVILEGE, "%s: %s", program, why);
		return r;
	}
	if (tracepoint) {
		r = tracepoint_nargs(tracepoint, why, sizeof(why));
		if (r < 0) {
			fail_set(f, BPF_REASON_MISSING_KERNEL_FEATURE, "%s: %s", program, why);
			return r;
		}
		if (ret_nargs)
			*ret_nargs = r;
	}
	return 0;
}

/* ---------------------------------------------------------------------------
 * Loading
 */

/* Whether the running kernel has the kfunc the fast variants use. Asked of
 * the kernel's BTF once per process (it cannot change under us). */
static bool kernel_has_fast_kfunc(void)
{
	static int have = -1;

	if (have < 0) {
		struct btf *btf = btf__load_vmlinux_btf();

		have = btf && btf__find_by_name_kind(btf, TASK_MEM_FAST_KFUNC, BTF_KIND_FUNC) > 0;
		btf__free(btf);
	}
	return have;
}

/* Whether rss is four atomics in the mm (before 6.2): then there are no
 * per-CPU residues, and no offsets to find (whose program needs 5.19's
 * bpf_map_lookup_percpu_elem()). */
static bool kernel_rss_atomic(void)
{
	static int atomic = -1;

	if (atomic < 0) {
		struct btf *btf = btf__load_vmlinux_btf();

		atomic = btf && btf__find_by_name_kind(btf, "mm_rss_stat", BTF_KIND_STRUCT) > 0;
		btf__free(btf);
	}
	return atomic;
}

static bool env_flag(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0") != 0;
}

bool bpf_support_test_reject(const char *program)
{
	const char *v = getenv("MEMAGENT_BPF_TEST_REJECT"), *p;
	size_t n = strlen(program);

	for (p = v; p && *p;) {
		size_t len = strcspn(p, ",");

		if (len == n && strncmp(p, program, n) == 0)
			return true;
		p += len;
		p += *p == ',';
	}
	return false;
}

static bool is_portable_name(const char *name)
{
	size_t n = strlen(name), k = strlen(TASK_MEM_PORTABLE_SUFFIX);

	return n > k && strcmp(name + n - k, TASK_MEM_PORTABLE_SUFFIX) == 0;
}

/* The portable twin of program i, or NULL. */
static struct bpf_program *twin_of(const struct bpf_object_skeleton *s, int i)
{
	char want[128];

	if ((size_t)snprintf(want, sizeof(want), "%s%s", s->progs[i].name,
			     TASK_MEM_PORTABLE_SUFFIX) >= sizeof(want))
		return NULL;
	for (int j = 0; j < s->prog_cnt; j++)
		if (strcmp(s->progs[j].name, want) == 0)
			return *s->progs[j].prog;
	return NULL;
}

/* Exactly one variant of each pair: the module's autoload choice is on the
 * fast name; its twin follows it when the kernel cannot run the fast one. */
static void choose_variants(const struct bpf_object_skeleton *s, bool portable)
{
	for (int i = 0; i < s->prog_cnt; i++) {
		struct bpf_program *fast = *s->progs[i].prog, *slow;
		bool want;

		if (is_portable_name(s->progs[i].name) || !(slow = twin_of(s, i)))
			continue;
		want = bpf_program__autoload(fast);
		bpf_program__set_autoload(fast, want && !portable);
		bpf_program__set_autoload(slow, want && portable);
	}
}

static int percpu_init(struct bpf_object *obj, unsigned nr_cpus)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct bpf_program *p = bpf_object__find_program_by_name(obj, "percpu_offsets_init");
	int r;

	if (!p || !bpf_program__autoload(p))
		return 0;
	r = bpf_prog_test_run_opts(bpf_program__fd(p), &opts);
	if (r < 0)
		return r;
	if (opts.retval != nr_cpus)
		return -EIO;
	return 0;
}

bool bpf_support_fast(void)
{
	return !env_flag("MEMAGENT_BPF_PORTABLE") && !env_flag("MEMAGENT_BPF_NO_KFUNC") &&
	       kernel_has_fast_kfunc();
}

bool bpf_support_task_walk(const char *no_walk_env)
{
	struct stat st;

	/* The walks follow the host's task list and report global pids, while
	 * the iterators visit only the reader's pid namespace: the initial one
	 * only (PROC_PID_INIT_INO, include/linux/proc_ns.h). */
	return bpf_support_fast() && !env_flag(no_walk_env) &&
	       stat("/proc/self/ns/pid", &st) == 0 && st.st_ino == 0xEFFFFFFCu &&
	       bpf_support_kernel_has_kfunc("bpf_iter_task_new");
}

bool bpf_support_kernel_has_kfunc(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool have = btf && btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;

	btf__free(btf);
	return have;
}

/* Whether the open object obj declares the kfunc name. By then libbpf has
 * turned its extern functions into global ones, bodiless; the object built
 * without kfunc externs does not mention them at all. */
static bool object_declares_kfunc(const struct btf *obj, const char *name)
{
	return obj && btf__find_by_name_kind(obj, name, BTF_KIND_FUNC) > 0;
}

/* The raw BTF of the ELF object data (its .BTF section), before libbpf's
 * open rewrites the externs; NULL when there is none. Our objects are
 * clang's: ELF64, host byte order. */
static struct btf *object_raw_btf(const void *data, size_t sz)
{
	const Elf64_Ehdr *eh = data;
	const Elf64_Shdr *sh, *str;

	if (sz < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_shentsize != sizeof(*sh) ||
	    eh->e_shoff > sz || (size_t)eh->e_shnum * sizeof(*sh) > sz - eh->e_shoff ||
	    eh->e_shstrndx >= eh->e_shnum)
		return NULL;
	sh = (const Elf64_Shdr *)((const char *)data + eh->e_shoff);
	str = &sh[eh->e_shstrndx];
	if (str->sh_offset > sz || str->sh_size > sz - str->sh_offset)
		return NULL;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		const char *name = (const char *)data + str->sh_offset + sh[i].sh_name;

		if (sh[i].sh_name >= str->sh_size ||
		    strnlen(name, str->sh_size - sh[i].sh_name) == str->sh_size - sh[i].sh_name ||
		    strcmp(name, ".BTF") != 0)
			continue;
		if (sh[i].sh_offset > sz || sh[i].sh_size > sz - sh[i].sh_offset)
			return NULL;
		return btf__new((const char *)data + sh[i].sh_offset, (__u32)sh[i].sh_size);
	}
	return NULL;
}

/* Whether the ELF object data declares a kfunc (an extern function) that
 * vmlinux lacks: what libbpf 1.1 cannot load without CAP_SYS_ADMIN. An
 * object without BTF, or a vmlinux without, answers false: the open or the
 * load that follows reports it. */
static bool object_lacks_kfunc(const void *data, size_t sz)
{
	struct btf *obj = object_raw_btf(data, sz), *vm = NULL;
	bool lacks = false;
	__u32 n = libbpf_get_error(obj) ? 0 : btf__type_cnt(obj);

	for (__u32 id = 1; id < n && !lacks; id++) {
		const struct btf_type *t = btf__type_by_id(obj, id);

		/* A function's linkage is its vlen (libbpf 1.1 has no
		 * btf_func_linkage()). */
		if (!btf_is_func(t) || btf_vlen(t) != BTF_FUNC_EXTERN)
			continue;
		if (!vm && libbpf_get_error(vm = btf__load_vmlinux_btf())) {
			vm = NULL;
			break;
		}
		lacks = btf__find_by_name_kind(vm, btf__name_by_offset(obj, t->name_off),
					       BTF_KIND_FUNC) <= 0;
	}
	btf__free(vm);
	if (!libbpf_get_error(obj))
		btf__free(obj);
	return lacks;
}

/* Whether bpf_support_load() picks the fast variants of the opened s: not
 * in the object built without kfuncs. */
static bool fast_object(const struct bpf_object_skeleton *s)
{
	return bpf_support_fast() &&
	       object_declares_kfunc(bpf_object__btf(*s->obj), TASK_MEM_FAST_KFUNC);
}

int bpf_support_open_skeleton(struct bpf_object_skeleton *s,
			      const void *(*nokfunc_bytes)(size_t *sz))
{
	quiet_libbpf();
	if (env_flag("MEMAGENT_BPF_NO_KFUNC") || object_lacks_kfunc(s->data, s->data_sz))
		s->data = (void *)nokfunc_bytes(&s->data_sz);
	return bpf_object__open_skeleton(s, bpf_support_open_opts());
}

int bpf_support_load(struct bpf_object_skeleton *s, const char *program, unsigned nr_cpus,
		     struct bpf_failure *f)
{
	bool portable = !fast_object(s);
	int r;

	quiet_libbpf();
	(void)program;
	choose_variants(s, portable);
	if (kernel_rss_atomic()) {
		struct bpf_program *p = bpf_object__find_program_by_name(*s->obj, "percpu_offsets_init");

		if (p)
			bpf_program__set_autoload(p, false);
	}
	r = bpf_object__load_skeleton(s);
	if (r)
		return bpf_support_libbpf_error(r, program, "load", f);
	r = percpu_init(*s->obj, nr_cpus);
	if (r) {
		fail_set(f, BPF_REASON_ERROR, "%s: per-CPU offsets: %s", program, strerror(-r));
		return r;
	}
	r = bpf_object__attach_skeleton(s);
	if (r)
		return bpf_support_libbpf_error(r, program, "attach", f);
	return 0;
}

struct ring_buffer *bpf_support_ring_new(struct bpf_map *map, ring_buffer_sample_fn fn, void *ctx,
				       const char *program, struct bpf_failure *f)
{
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(map), fn, ctx, NULL);

	if (!rb) {
		int e = errno;

		bpf_support_libbpf_error(-e, program, "ring buffer", f);
		errno = e;
	}
	return rb;
}

int bpf_support_ring_consume(struct ring_buffer *rb, const uint64_t *delivered)
{
	uint64_t before = *delivered;
	int r = ring_buffer__consume(rb);

	if (r < 0)
		return r;
	return (int)(*delivered - before);
}

struct bpf_link *bpf_support_link(const struct bpf_object_skeleton *s, const char *name)
{
	size_t n = strlen(name);

	for (int i = 0; i < s->prog_cnt; i++) {
		const char *pn = s->progs[i].name;

		if (strncmp(pn, name, n) == 0 &&
		    (pn[n] == '\0' || strcmp(pn + n, TASK_MEM_PORTABLE_SUFFIX) == 0) &&
		    bpf_program__autoload(*s->progs[i].prog) && *s->progs[i].link)
			return *s->progs[i].link;
	}
	return NULL;
}

int bpf_support_walk_size(struct bpf_program *prog, struct bpf_map *recs, bool on, size_t cap,
			  const char *program, struct bpf_failure *f)
{
	int err;

	bpf_program__set_autoload(prog, on);
	if (!on)
		return 0;
	err = bpf_map__set_max_entries(recs, (__u32)cap);
	return err ? bpf_support_libbpf_error(err, program, "open", f) : 0;
}

ssize_t bpf_support_walk_run(const struct bpf_program *prog, const __u32 *walk_n, const __u32 *walk_overflow,
			     size_t cap)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	if (err < 0)
		return err;
	if (*walk_overflow)
		return -ENOSPC;
	if (*walk_n > cap)
		return -EPROTO;
	return (ssize_t)*walk_n;
}

const void *bpf_support_map_mmap(const struct bpf_map *map, size_t bytes, size_t *ret_len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (bytes + pg - 1) / pg * pg;
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, bpf_map__fd(map), 0);

	if (m == MAP_FAILED)
		return NULL;
	*ret_len = len;
	return m;
}

int bpf_support_iter_drain(int fd, unsigned char *buf, size_t chunk,
			   ssize_t (*parse)(void *arg, const unsigned char *buf, size_t len), void *arg,
			   uint64_t *malformed)
{
	size_t carry = 0;
	int err = 0;

	for (;;) {
		ssize_t got = read(fd, buf + carry, chunk);
		ssize_t used;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (got == 0)
			break;
		used = parse(arg, buf, carry + (size_t)got);
		if (used < 0) {
			err = (int)used;
			break;
		}
		carry = carry + (size_t)got - (size_t)used;
		memmove(buf, buf + used, carry);
	}
	close(fd);
	if (err == 0 && carry != 0) {
		(*malformed)++;
		err = -EPROTO;
	}
	return err;
}

bool bpf_support_portable(const struct bpf_object_skeleton *s)
{
	for (int i = 0; i < s->prog_cnt; i++)
		if (is_portable_name(s->progs[i].name) && bpf_program__autoload(*s->progs[i].prog))
			return true;
	return false;
}

int bpf_support_nr_cpus(void)
{
	int n = libbpf_num_possible_cpus();

	if (n < 0)
		return n;
	if (n == 0)
		return -EINVAL;
	if (n > TASK_MEM_MAX_CPUS)
		return -E2BIG;
	return n;
}

/* ---------------------------------------------------------------------------
 * Probing
 */

void bpf_feature_set(struct bpf_feature_status *st, int err, const char *fmt, ...)
{
	va_list ap;

	st->available = err == 0;
	st->err = err;
	va_start(ap, fmt);
	vsnprintf(st->why, sizeof(st->why), fmt, ap);
	va_end(ap);
}

static void probe_map(struct bpf_feature_status *st, enum bpf_map_type type, const char *kernel)
{
	bool bpf = false, perfmon, admin = false;
	int r;

	/* libbpf's probe reports a refused map creation as "unsupported": ask
	 * about privilege first so the reason is the right one. */
	if (caps(&bpf, &perfmon, &admin) == 0 && !bpf && !admin) {
		bpf_feature_set(st, -EPERM, "no privilege: needs CAP_BPF (or CAP_SYS_ADMIN)");
		return;
	}
	r = libbpf_probe_bpf_map_type(type, NULL);
	if (r == 1)
		bpf_feature_set(st, 0, "supported");
	else if (r == 0)
		bpf_feature_set(st, -EOPNOTSUPP, "kernel too old (needs %s)", kernel);
	else if (r == -EPERM || r == -EACCES)
		bpf_feature_set(st, r, "no privilege: needs CAP_BPF (or CAP_SYS_ADMIN)");
	else
		bpf_feature_set(st, r, "probe failed: %s", strerror(-r));
}

int bpf_support_probe_host(struct bpf_feature_status ret[BPF_FEATURE_MAX])
{
	bool bpf = false, perfmon = false, admin = false;
	char why[sizeof(ret[0].why)];
	int r;

	memset(ret, 0, sizeof(*ret) * BPF_FEATURE_MAX);
	quiet_libbpf();

	r = check_btf(why, sizeof(why));
	bpf_feature_set(&ret[BPF_FEATURE_BTF], r, "%s", r == 0 ? VMLINUX_BTF : why);

	r = check_privilege(why, sizeof(why));
	caps(&bpf, &perfmon, &admin);
	if (r == 0)
		bpf_feature_set(&ret[BPF_FEATURE_PRIVILEGE], 0, "%s%s%s", bpf ? "CAP_BPF " : "",
		    perfmon ? "CAP_PERFMON " : "", admin ? "CAP_SYS_ADMIN" : "");
	else
		bpf_feature_set(&ret[BPF_FEATURE_PRIVILEGE], r, "%s", why);

	/* libbpf's own test for memcg accounting (5.11 brought both). */
	r = libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCKET_FILTER, BPF_FUNC_ktime_get_coarse_ns,
				    NULL);
	if (r == 1)
		bpf_feature_set(&ret[BPF_FEATURE_MEMLOCK], 0,
		    "not needed: BPF memory is charged to the memory cgroup (kernel >= 5.11)");
	else if (r == 0)
		bpf_feature_set(&ret[BPF_FEATURE_MEMLOCK], 0,
		    "kernel < 5.11 charges RLIMIT_MEMLOCK; libbpf raises it before loading");
	else
		bpf_feature_set(&ret[BPF_FEATURE_MEMLOCK], r, "cannot tell: %s", strerror(-r));

	probe_map(&ret[BPF_FEATURE_RINGBUF], BPF_MAP_TYPE_RINGBUF, "5.8");
	probe_map(&ret[BPF_FEATURE_TASK_STORAGE], BPF_MAP_TYPE_TASK_STORAGE, "5.11");

	return 0;
}

/* ---------------------------------------------------------------------------
 * Self metrics
 */

static const struct metric_desc m_enabled = {
	"memagent_bpf_enabled", METRIC_GAUGE, NULL,
	"1 when the BPF program is loaded and attached, 0 when the agent runs without it.",
};
static const struct metric_desc m_unavailable = {
	"memagent_bpf_unavailable", METRIC_GAUGE, NULL,
	"1 for a BPF program the agent runs without, labelled with why (no_btf, no_privilege, "
	"missing_kernel_feature, verifier, attach, disabled, error); the agent reads /proc instead.",
};
static const struct metric_desc m_lost = {
	"memagent_bpf_events_lost_total", METRIC_COUNTER, NULL,
	"Events the program could not deliver because its ring buffer was full.",
};
static const struct metric_desc m_map_full = {
	"memagent_bpf_map_full_total", METRIC_COUNTER, NULL,
	"Entries refused because the program's bounded map or pass was full.",
};
const struct metric_desc *const bpf_support_metrics[] = { &m_enabled, &m_unavailable, &m_lost,
							   &m_map_full, NULL };

int bpf_support_report(struct snapshot *s, const char *program, bool enabled,
		       enum bpf_reason reason, unsigned which, uint64_t lost, uint64_t map_full)
{
	const char *const lv[] = { "program", program, NULL };
	int r = snapshot_add(s, &m_enabled, enabled, lv);

	if (!enabled) {
		const char *const lvr[] = { "program", program, "reason",
					    bpf_reason_name(reason == BPF_REASON_NONE
								    ? BPF_REASON_ERROR : reason),
					    NULL };

		if (r == 0)
			r = snapshot_add(s, &m_unavailable, 1, lvr);
	}

	if (r == 0 && (which & BPF_REPORT_LOST))
		r = snapshot_add(s, &m_lost, (double)lost, lv);
	if (r == 0 && (which & BPF_REPORT_MAP_FULL))
		r = snapshot_add(s, &m_map_full, (double)map_full, lv);
	return r;
}
