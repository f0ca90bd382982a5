/* SPDX-License-Identifier: MIT */
/* iter/task_file and the fd-table walk: the queue state of every socket (and POSIX message queue) every process holds, in one pass.
 *
 * Two programs make the pass, the same records either way:
 *   - sock_walk (6.7+, SEC("syscall"), bottom of the file): the open-coded
 *     task iterator, each process's fd table read directly, records into
 *     mmapped slots;
 *   - sock_iter / sock_iter_portable (iter/task_file, every kernel; also
 *     the learning pass below).
 *
 * Cost at 3,000 processes holding 10,000 sockets (bench-queues; perf over
 * a whole run, samples of its system: the iter/task_file program 6.4 %,
 * run once per open file of the host, fget_task_next() 2.9 %,
 * get_pid_task() + pid_nr_ns() 1.8 %, against walk_file + sock_walk 4.5 %
 * for as many passes). The walk drops the per-file invocation, the
 * seq_file copy, fget()/fput() and the per-pid task lookup: a pass
 * 4.0-9.9 -> 1.65-1.76 ms (medians of three runs, quiet host), 21.7 ->
 * 6.7 ms with another 3,000 processes on the host. ~85 % of what is left is walk_file, nearly all
 * of it the per-socket reads (cache misses on idle sockets; with 100
 * sockets the walk costs 1.1 ms), which any reader of the same state pays. What was tried and lost: the per-file work
 * inlined into the walk's three loops (tasks, bitmap words, bits): the
 * verifier explored it per path and refused the program as too large (a
 * million instructions); as a global function (walk_file) it is verified
 * once. Not tried: BPF_TASK_ITER_ALL_PROCS instead of ALL_THREADS (threads
 * are few; skipping them would lose a thread with a file table of its own,
 * which iter/task_file reports), reading fewer socket fields (each record
 * field is one sock_diag reports, and most share their cache lines).
 *
 * The task_file iterator visits each open file of each process (threads
 * sharing their leader's file table are skipped by the kernel). A file on
 * sockfs is a socket: its struct sock gives what sock_diag would report for
 * it, read the way the kernel's diag modules read it (docs/queues.md):
 *   - TCP: listeners sk_ack_backlog / sk_max_ack_backlog; others
 *     rcv_nxt - copied_seq (at least 0) and write_seq - snd_una
 *     (tcp_diag_get_info());
 *   - UDP: sk_rmem_alloc - forward_deficit and sk_wmem_alloc - 1
 *     (udp_rqueue_get(), sk_wmem_alloc_get());
 *   - UNIX: listeners the receive queue's length / sk_max_ack_backlog;
 *     others the unread bytes of the receive queue (stream and seqpacket:
 *     every buffer's len - consumed; datagram: the first buffer's len, as
 *     unix_inq_len()) and sk_wmem_alloc - 1 (unix_outq_len()). unix_diag
 *     walks the queue under its lock; here it is walked without, bounded
 *     by SOCK_ITER_WALK_MAX buffers: a racing reader may see a buffer
 *     twice or miss one, and a truncated walk says so.
 * A file on the mqueue filesystem is a POSIX message queue: only its
 * descriptor is reported; user space asks mq_getattr() through
 * /proc/PID/fd.
 *
 * Telling a socket from any other file by its inode's superblock costs
 * three dependent loads into memory the iteration has not touched (most of
 * a pass, on a host with many open files); its f_op, one load from the
 * file itself, says the same. The kernel's socket_file_ops and
 * mqueue_file_operations are not reachable (no BTF variable, no data
 * symbol in kallsyms), so the program learns them: until both are known it
 * checks the superblock and records the f_op of the first real (not
 * O_PATH) socket and queue it meets; user space runs a first pass over
 * its own socket and queue (sock_iter_new()) so that every later pass
 * compares f_op alone.
 *
 * Every kernel object past the file is reached through an untyped address
 * (file->private_data), so each program exists twice (bpf/task_mem.bpf.h):
 * sock_iter reads through bpf_rdonly_cast(), sock_iter_portable through
 * bpf_probe_read_kernel(). sock_walk exists with the fast reads only.
 */
#include "task_mem.bpf.h"
#include "sock_iter_abi.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#define SOCKFS_MAGIC 0x534F434Bul
#define MQUEUE_MAGIC 0x19800202ul
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_SEQPACKET 5
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define ST_LISTEN 10
#define FMODE_PATH 0x4000

/* Learned f_op addresses (see the top); 0 until seen. */
__u64 sock_fops = 0;
__u64 mq_fops = 0;
/* The process the last SOCK_ITER_PROC named; user space zeroes it before
 * each pass. */
__u32 last_tgid = 0;
/* Set by user space when this kernel has no POSIX message queues. */
const volatile bool mq_absent = false;

/* Field of struct T at the scalar address addr, through the variant's read. */
#define RD(T, addr, field)                                                                   \
	(fast ? ((struct T *)bpf_rdonly_cast((void *)(addr), bpf_core_type_id_kernel(struct T))) \
			->field                                                              \
	      : BPF_CORE_READ((struct T *)(addr), field))

/* unix_inq_len() for stream and seqpacket sockets: the receive queue's
 * unread bytes, unlocked and bounded. */
static __always_inline __u32 unix_stream_inq(__u64 sk, __u8 *flags, const bool fast)
{
	__u64 head = sk + bpf_core_field_offset(struct sock, sk_receive_queue);
	__u64 skb = (__u64)RD(sock, sk, sk_receive_queue.next);
	__u64 cons_off = 0;
	bool has_cons = false;
	__u32 sum = 0;

	if (bpf_core_type_exists(struct unix_skb_parms) &&
	    bpf_core_field_exists(struct unix_skb_parms, consumed)) {
		has_cons = true;
		cons_off = bpf_core_field_offset(struct sk_buff, cb) +
			   bpf_core_field_offset(struct unix_skb_parms, consumed);
	}
	for (int i = 0; i < SOCK_ITER_WALK_MAX; i++) {
		__u32 len, consumed = 0;

		if (!skb || skb == head)
			return sum;
		len = RD(sk_buff, skb, len);
		if (has_cons)
			consumed = (__u32)tm_read_s32(skb + cons_off, fast);
		sum += len - consumed;
		skb = (__u64)RD(sk_buff, skb, next);
	}
	if (skb && skb != head)
		*flags |= SOCK_ITER_F_TRUNCATED;
	return sum;
}

static __always_inline void read_unix(__u64 sk, struct sock_iter_rec *r, const bool fast)
{
	if (r->state == ST_LISTEN) {
		r->rqueue = RD(sock, sk, sk_receive_queue.qlen);
		r->wqueue = RD(sock, sk, sk_max_ack_backlog);
		return;
	}
	if (r->type == SOCK_STREAM || r->type == SOCK_SEQPACKET) {
		r->rqueue = unix_stream_inq(sk, &r->flags, fast);
	} else {
		__u64 skb = (__u64)RD(sock, sk, sk_receive_queue.next);
		__u64 head = sk + bpf_core_field_offset(struct sock, sk_receive_queue);

		r->rqueue = skb && skb != head ? RD(sk_buff, skb, len) : 0;
	}
	r->wqueue = (__u32)RD(sock, sk, sk_wmem_alloc.refs.counter) - 1;
}

static __always_inline void read_inet(__u64 sk, struct sock_iter_rec *r, const bool fast)
{
	if (r->protocol == IPPROTO_TCP && r->type == SOCK_STREAM) {
		__s32 rq;

		if (r->state == ST_LISTEN) {
			r->rqueue = RD(sock, sk, sk_ack_backlog);
			r->wqueue = RD(sock, sk, sk_max_ack_backlog);
			return;
		}
		rq = (__s32)(RD(tcp_sock, sk, rcv_nxt) - RD(tcp_sock, sk, copied_seq));
		r->rqueue = rq > 0 ? (__u32)rq : 0;
		r->wqueue = RD(tcp_sock, sk, write_seq) - RD(tcp_sock, sk, snd_una);
	} else if (r->protocol == IPPROTO_UDP) {
		__s32 deficit = 0;

		if (bpf_core_field_exists(struct udp_sock, forward_deficit))
			deficit = RD(udp_sock, sk, forward_deficit);
		else
			r->flags |= SOCK_ITER_F_NO_UDP_DEFICIT;
		r->rqueue = (__u32)(RD(sock, sk, sk_backlog.rmem_alloc.counter) - deficit);
		r->wqueue = (__u32)RD(sock, sk, sk_wmem_alloc.refs.counter) - 1;
	}
}

/* The walk's output (bottom of the file): records in SOCK_ITER_WALK_SLOT-byte
 * slots of an mmapped array, a name record over two. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1); /* sized by user space before load */
	__type(key, __u32);
	__type(value, struct sock_iter_walk_slot);
} walk_recs SEC(".maps");

/* Results of the last walk: slots written, records that did not fit. */
__u32 walk_n = 0;
__u32 walk_overflow = 0;

static __always_inline int slot_put(const void *rec, const __u32 size)
{
	__u32 k = walk_n, k2 = walk_n + 1;
	void *a, *b;

	a = bpf_map_lookup_elem(&walk_recs, &k);
	if (!a) {
		walk_overflow++;
		return -1;
	}
	if (size <= SOCK_ITER_WALK_SLOT) {
		__builtin_memcpy(a, rec, size);
		walk_n = k + 1;
		return 0;
	}
	b = bpf_map_lookup_elem(&walk_recs, &k2);
	if (!b) {
		walk_overflow++;
		return -1;
	}
	__builtin_memcpy(a, rec, SOCK_ITER_WALK_SLOT);
	__builtin_memcpy(b, (const char *)rec + SOCK_ITER_WALK_SLOT, size - SOCK_ITER_WALK_SLOT);
	walk_n = k + 2;
	return 0;
}

/* One record out: into the iterator's seq_file, or the walk's slots. */
static __always_inline int put(struct seq_file *seq, const void *rec, const __u32 size,
			       const bool walk)
{
	if (walk)
		return slot_put(rec, size);
	return bpf_seq_write(seq, (void *)rec, size);
}

/* The records of descriptor fd of task, a socket (magic SOCKFS_MAGIC,
 * sock its struct socket) or a queue, whose inode is ino. */
static __always_inline int emit(struct seq_file *seq, __u32 tgid, __u64 start_ns,
				const char *comm, __u32 fd, unsigned long magic, __u64 ino,
				__u64 sock, const bool fast, const bool walk)
{
	struct sock_iter_rec r;
	__u64 sk, net;

	if (tgid != last_tgid) {
		struct sock_iter_proc_rec p;

		__builtin_memset(&p, 0, sizeof(p));
		p.kind = SOCK_ITER_PROC;
		p.pid = tgid;
		p.start_ns = start_ns;
		__builtin_memcpy(p.comm, comm, sizeof(p.comm));
		if (put(seq, &p, sizeof(p), walk) == 0)
			last_tgid = p.pid;
	}
	__builtin_memset(&r, 0, sizeof(r));
	r.pid = tgid;
	r.start_ns = start_ns;
	r.ino = ino;
	r.fd = fd;
	if (magic == MQUEUE_MAGIC) {
		r.kind = SOCK_ITER_MQ;
		put(seq, &r, sizeof(r), walk);
		return 0;
	}
	/* An O_PATH descriptor of a socket has no socket behind it. */
	if (!sock)
		return 0;
	sk = (__u64)RD(socket, sock, sk);
	if (!sk)
		return 0;
	r.kind = SOCK_ITER_SOCK;
	r.family = RD(sock, sk, __sk_common.skc_family);
	r.type = RD(sock, sk, sk_type);
	r.protocol = RD(sock, sk, sk_protocol);
	r.state = RD(sock, sk, __sk_common.skc_state);
	r.port = RD(sock, sk, __sk_common.skc_num);
	net = (__u64)RD(sock, sk, __sk_common.skc_net.net);
	if (net)
		r.netns = RD(net, net, ns.inum);
	if (r.family == AF_UNIX)
		read_unix(sk, &r, fast);
	else if (r.family == AF_INET || r.family == AF_INET6)
		read_inet(sk, &r, fast);
	put(seq, &r, sizeof(r), walk);
	if (r.family == AF_UNIX && r.state == ST_LISTEN) {
		struct sock_iter_name_rec n;
		__u64 addr = (__u64)RD(unix_sock, sk, addr);
		int len;

		__builtin_memset(&n, 0, sizeof(n));
		n.kind = SOCK_ITER_NAME;
		if (addr) {
			/* unix_address.len counts sun_family. */
			len = RD(unix_address, addr, len) - 2;
			if (len > SOCK_ITER_NAME_MAX)
				len = SOCK_ITER_NAME_MAX;
			if (len > 0) {
				n.len = len;
				bpf_probe_read_kernel(n.path, sizeof(n.path),
						      (void *)(addr +
							       bpf_core_field_offset(struct unix_address, name) +
							       2));
			}
		}
		put(seq, &n, sizeof(n), walk);
	}
	return 0;
}

static __always_inline int visit(struct bpf_iter__task_file *ctx, const bool fast)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	unsigned long magic;
	__u64 fop;

	TASK_MEM_REJECT_IF_TESTING();
	if (!task || !file)
		return 0;
	fop = (__u64)file->f_op;
	if (sock_fops && (mq_fops || mq_absent)) {
		if (fop == sock_fops)
			magic = SOCKFS_MAGIC;
		else if (fop == mq_fops)
			magic = MQUEUE_MAGIC;
		else
			return 0;
	} else {
		magic = file->f_inode->i_sb->s_magic;
		if (magic != SOCKFS_MAGIC && magic != MQUEUE_MAGIC)
			return 0;
		if (!(file->f_mode & FMODE_PATH)) {
			if (magic == SOCKFS_MAGIC && !sock_fops)
				sock_fops = fop;
			else if (magic == MQUEUE_MAGIC && !mq_fops)
				mq_fops = fop;
		}
		if (file->f_mode & FMODE_PATH)
			return 0;
	}
	return emit(ctx->meta->seq, task->tgid, task->start_boottime, task->comm, ctx->fd, magic,
		    file->f_inode->i_ino, (__u64)file->private_data, fast, false);
}

SEC("iter/task_file")
int sock_iter(struct bpf_iter__task_file *ctx)
{
	return visit(ctx, true);
}

SEC("iter/task_file")
int sock_iter_portable(struct bpf_iter__task_file *ctx)
{
	return visit(ctx, false);
}

/* ---------------------------------------------------------------------------
 * The fd-table walk (6.7+): a SEC("syscall") program user space runs with
 * BPF_PROG_TEST_RUN. The open-coded task iterator follows the task list; per
 * task this reads its fd table directly (files->fdt: the open_fds bitmap,
 * then fd[] for each bit set) instead of iter/task_file's per-file program
 * invocation, seq_file copy and fget()/fput() of every open file (and its
 * per-pid lookup and task reference, as for bpf/task_iter.bpf.c's walk).
 * A thread whose files_struct is its leader's is skipped, as iter/task_file
 * skips it (task_seq_get_next()'s skip_if_dup_files), so both produce the
 * same records, in task-list order here (pid order until pids wrap; the
 * reader needs only a process's records to be consecutive). Files are told apart by the learned f_op
 * only: user space runs the walk only once both are learned. No file
 * reference is taken: under RCU a file being closed may still be read
 * (every load is exception-table protected, so a freed one reads 0 or
 * stale, like the unlocked receive-queue walk above); a socket closed
 * while the pass runs is reported or not, as with the iterator.
 */

#include "kfunc.bpf.h"

#define WALK_ALL_THREADS 1 /* BPF_TASK_ITER_ALL_THREADS */

/* Index of the lowest bit set in w (w != 0), without a table. */
static __always_inline __u32 lowest_bit(__u64 w)
{
	__u32 n = 0;

	if (!(w & 0xffffffffull)) {
		n += 32;
		w >>= 32;
	}
	if (!(w & 0xffff)) {
		n += 16;
		w >>= 16;
	}
	if (!(w & 0xff)) {
		n += 8;
		w >>= 8;
	}
	if (!(w & 0xf)) {
		n += 4;
		w >>= 4;
	}
	if (!(w & 0x3)) {
		n += 2;
		w >>= 2;
	}
	if (!(w & 0x1))
		n += 1;
	return n;
}

/* The process whose fd table the walk is in (set per task, read by
 * walk_file()). */
struct sock_iter_proc_rec walk_cur = {};

/* Descriptor fd of the process walk_cur, whose struct file is at the
 * scalar address f. A global function: the verifier checks it once, not
 * once per path through the three loops that call it (inlined, the walk
 * is "too large": over a million instructions verified). */
__noinline int walk_file(__u64 f, __u32 fd)
{
	const bool fast = true;
	__u64 fop;
	unsigned long magic;

	if (!f)
		return 0;
	fop = (__u64)RD(file, f, f_op);
	if (fop == sock_fops)
		magic = SOCKFS_MAGIC;
	else if (fop == mq_fops && mq_fops)
		magic = MQUEUE_MAGIC;
	else
		return 0;
	return emit(NULL, walk_cur.pid, walk_cur.start_ns, walk_cur.comm, fd, magic,
		    RD(inode, (__u64)RD(file, f, f_inode), i_ino), (__u64)RD(file, f, private_data),
		    true, true);
}

SEC("syscall")
int sock_walk(void *ctx)
{
	const bool fast = true;
	struct bpf_iter_task it;
	struct task_struct *t;

	TASK_MEM_REJECT_IF_TESTING();
	walk_n = 0;
	walk_overflow = 0;
	last_tgid = 0;
	if (!sock_fops)
		return 0;
	bpf_rcu_read_lock();
	bpf_iter_task_new(&it, NULL, WALK_ALL_THREADS);
	while ((t = bpf_iter_task_next(&it))) {
		struct bpf_iter_num wit;
		__u64 files, fdt, fdarr, bits;
		__u32 nwords;
		int *pw;

		if (t->pid == 0)
			continue; /* init_task, the idle task: not in /proc */
		files = (__u64)t->files;
		if (!files)
			continue; /* a kernel thread, or one exiting */
		if (t->pid != t->tgid && files == (__u64)t->group_leader->files)
			continue;
		fdt = (__u64)RD(files_struct, files, fdt);
		if (!fdt)
			continue;
		nwords = (RD(fdtable, fdt, max_fds) + 63) / 64;
		fdarr = (__u64)RD(fdtable, fdt, fd);
		bits = (__u64)RD(fdtable, fdt, open_fds);
		if (!fdarr || !bits)
			continue;
		walk_cur.pid = t->tgid;
		walk_cur.start_ns = t->start_boottime;
		__builtin_memcpy(walk_cur.comm, t->comm, sizeof(walk_cur.comm));
		bpf_iter_num_new(&wit, 0, (int)nwords);
		while ((pw = bpf_iter_num_next(&wit))) {
			__u32 wi = (__u32)*pw;
			__u64 w = tm_read_u64(bits + (__u64)wi * 8, true);
			struct bpf_iter_num bit;
			int *pb;

			if (!w)
				continue;
			bpf_iter_num_new(&bit, 0, 64);
			while ((pb = bpf_iter_num_next(&bit)) && w) {
				__u32 fd = wi * 64 + lowest_bit(w);

				w &= w - 1;
				walk_file(tm_read_u64(fdarr + (__u64)fd * 8, true), fd);
			}
			bpf_iter_num_destroy(&bit);
		}
		bpf_iter_num_destroy(&wit);
	}
	bpf_iter_task_destroy(&it);
	bpf_rcu_read_unlock();
	return 0;
}
