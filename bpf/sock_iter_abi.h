/* SPDX-License-Identifier: MIT */
/* ABI between bpf/sock_iter.bpf.c and collectors/sock_iter.c: the records one iter/task_file pass emits.
 *
 * Fixed-width fields only; the including file provides __u8/__u16/__u32/__u64.
 *
 * The stream is a sequence of records, each starting with a __u32 kind that
 * fixes its size: one SOCK_ITER_SOCK per (process, descriptor) whose file is
 * a socket, one SOCK_ITER_MQ per descriptor of a POSIX message queue, and
 * after a listening UNIX socket's record one SOCK_ITER_NAME with its address.
 * Before a process's first such record, one SOCK_ITER_PROC names it.
 * A socket held through several descriptors or processes appears once per
 * descriptor: the reader counts it once per target (by inode).
 */
#ifndef MEMAGENT_BPF_SOCK_ITER_H
#define MEMAGENT_BPF_SOCK_ITER_H

/* struct sockaddr_un's sun_path */
#define SOCK_ITER_NAME_MAX 108
/* Receive-queue buffers of a UNIX stream or seqpacket socket summed at
 * most; beyond, the record says SOCK_ITER_F_TRUNCATED. */
#define SOCK_ITER_WALK_MAX 128

enum {
	SOCK_ITER_SOCK = 1,
	SOCK_ITER_MQ = 2,
	SOCK_ITER_NAME = 3,
	SOCK_ITER_PROC = 4,
};

#define SOCK_ITER_COMM_LEN 16

/* The fd-table walk (6.7+) writes the same records into slots of this many
 * bytes, one each, a name record (116 bytes) over two consecutive slots;
 * the slots are contiguous in the mmapped array. */
#define SOCK_ITER_WALK_SLOT 64
struct sock_iter_walk_slot {
	__u8 b[SOCK_ITER_WALK_SLOT];
};

enum {
	SOCK_ITER_F_TRUNCATED = 1u << 0, /* rqueue sums the first SOCK_ITER_WALK_MAX buffers only */
	SOCK_ITER_F_NO_UDP_DEFICIT = 1u << 1, /* kernel without udp_sock.forward_deficit */
};

struct sock_iter_rec {
	__u32 kind;      /* SOCK_ITER_SOCK or SOCK_ITER_MQ */
	__u32 pid;       /* thread-group id holding the descriptor */
	__u64 start_ns;  /* its start time, CLOCK_BOOTTIME ns (the process's identity) */
	__u64 ino;       /* the socket's (or queue's) inode: socket:[ino] in /proc/PID/fd */
	__u32 fd;
	__u32 netns;     /* inode of the socket's network namespace (0 for a queue) */
	__u16 family;    /* AF_UNIX, AF_INET, AF_INET6, or another (not read: rqueue 0) */
	__u16 type;      /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, ... */
	__u16 protocol;  /* IPPROTO_TCP, IPPROTO_UDP for AF_INET*; 0 for AF_UNIX */
	__u8 state;      /* TCP_* states; 10 (TCP_LISTEN) for listeners of both families */
	__u8 flags;      /* SOCK_ITER_F_* */
	/* What sock_diag reports as idiag_rqueue/idiag_wqueue (and unix_diag's
	 * UNIX_DIAG_RQLEN): for listeners the accept queue's length and maximum,
	 * else bytes (docs/queues.md names the quantity per socket type). */
	__u32 rqueue;
	__u32 wqueue;
	__u16 port;      /* local port, host order (AF_INET*) */
	__u16 _pad;
	__u32 _pad2;
};

/* Before the first record of a process: who it is (so the reader need not
 * read /proc/PID/stat to know an exec happened). A hint: a record lost to
 * a retried element leaves the reader to find out by itself. */
struct sock_iter_proc_rec {
	__u32 kind;      /* SOCK_ITER_PROC */
	__u32 pid;
	__u64 start_ns;
	char comm[SOCK_ITER_COMM_LEN];
};

struct sock_iter_name_rec {
	__u32 kind;      /* SOCK_ITER_NAME: the address of the listener just before */
	__u32 len;       /* bytes of path used; path[0] == 0: abstract */
	char path[SOCK_ITER_NAME_MAX];
};

#endif
