/* SPDX-License-Identifier: MIT */
/* iter/task_file: the queue state of every socket (and POSIX message queue) every process holds, in one pass.
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
 * bpf_probe_read_kernel().
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

static __always_inline int visit(struct bpf_iter__task_file *ctx, const bool fast)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct sock_iter_rec r;
	unsigned long magic;
	__u64 sock, sk, net, fop;

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
	if (task->tgid != last_tgid) {
		struct sock_iter_proc_rec p;

		__builtin_memset(&p, 0, sizeof(p));
		p.kind = SOCK_ITER_PROC;
		p.pid = task->tgid;
		p.start_ns = task->start_boottime;
		__builtin_memcpy(p.comm, task->comm, sizeof(p.comm));
		if (bpf_seq_write(seq, &p, sizeof(p)) == 0)
			last_tgid = p.pid;
	}
	__builtin_memset(&r, 0, sizeof(r));
	r.pid = task->tgid;
	r.start_ns = task->start_boottime;
	r.ino = file->f_inode->i_ino;
	r.fd = ctx->fd;
	if (magic == MQUEUE_MAGIC) {
		r.kind = SOCK_ITER_MQ;
		bpf_seq_write(seq, &r, sizeof(r));
		return 0;
	}
	/* An O_PATH descriptor of a socket has no socket behind it. */
	sock = (__u64)file->private_data;
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
	bpf_seq_write(seq, &r, sizeof(r));
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
		bpf_seq_write(seq, &n, sizeof(n));
	}
	return 0;
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
