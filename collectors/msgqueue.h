/* SPDX-License-Identifier: MIT */
/* msgqueue: System V message queues (/proc/sysvipc/msg) and POSIX message queues (mq_getattr through /proc/PID/fd).
 *
 * System V queues belong to no descriptor: /proc/sysvipc/msg gives, per
 * queue of the reader's IPC namespace, its bytes and messages and the pids
 * of the last sender and receiver, which is how the queues collector
 * attributes them. POSIX queues are descriptors: a process holding one is
 * found in its fd table (the BPF pass, or a listing), and the queue read
 * by reopening that descriptor through /proc/PID/fd/FD.
 */
#ifndef MEMAGENT_MSGQUEUE_H
#define MEMAGENT_MSGQUEUE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a POSIX queue's name kept (NAME_MAX and the leading '/'). */
#define MSGQUEUE_NAME_MAX 256

struct msgqueue_sysv {
	int32_t key;       /* IPC key (0: IPC_PRIVATE) */
	int32_t msqid;
	uint64_t bytes;    /* cbytes */
	uint64_t messages; /* qnum */
	int32_t lspid;     /* last msgsnd(), 0: none yet */
	int32_t lrpid;     /* last msgrcv(), 0: none yet */
};

/* Called per queue; a negative return stops the walk and is returned. */
typedef int (*msgqueue_sysv_fn)(void *arg, const struct msgqueue_sysv *q);

/* Parses the text of /proc/sysvipc/msg. Returns the number of queues, or
 * -EBADMSG for a line not as the kernel writes it (queues before it were
 * reported), or fn's negative return. */
int msgqueue_parse_sysv(const char *buf, size_t len, msgqueue_sysv_fn fn, void *arg);

struct msgqueue_posix {
	uint64_t messages;     /* mq_curmsgs */
	uint64_t max_messages; /* mq_maxmsg */
	uint64_t bytes;        /* QSIZE: bytes of the messages queued */
	char name[MSGQUEUE_NAME_MAX]; /* "/NAME" as mq_open() was given it */
};

/* Reads the POSIX queue process pid holds as descriptor fd, through
 * proc_fd (a descriptor of /proc) and PID/fd/FD. Returns 0 and *ret;
 * -ENOENT when the process or descriptor is gone, -ENOTTY when the
 * descriptor is no longer a message queue, another negative errno when
 * unreadable. Cost: an open, a read, a readlink, two syscalls. */
int msgqueue_read_posix(int proc_fd, int32_t pid, int fd, struct msgqueue_posix *ret);

#endif
