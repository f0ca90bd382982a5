/* SPDX-License-Identifier: MIT */
/* msgqueue: the /proc/sysvipc/msg parser and the POSIX queue reader. */
#include "msgqueue.h"

#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>

#define MQUEUE_MAGIC 0x19800202
#define LINE_MAX_SYSV 512

int msgqueue_parse_sysv(const char *buf, size_t len, msgqueue_sysv_fn fn, void *arg)
{
	const char *p = buf, *end = buf + len;
	bool header = true;
	int count = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char line[LINE_MAX_SYSV];
		struct msgqueue_sysv q;
		unsigned long long cbytes, qnum;
		unsigned perms;
		size_t n;
		int r;

		if (!nl)
			return -EBADMSG;
		n = (size_t)(nl - p);
		if (n >= sizeof(line))
			return -EBADMSG;
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (header) {
			if (!strstr(line, "msqid") || !strstr(line, "qnum"))
				return -EBADMSG;
			header = false;
			continue;
		}
		if (sscanf(line, "%d %d %o %llu %llu %d %d", &q.key, &q.msqid, &perms, &cbytes, &qnum,
			   &q.lspid, &q.lrpid) != 7)
			return -EBADMSG;
		q.bytes = cbytes;
		q.messages = qnum;
		r = fn(arg, &q);
		if (r < 0)
			return r;
		count++;
	}
	return header ? -EBADMSG : count;
}

int msgqueue_read_posix(int proc_fd, int32_t pid, int fd, struct msgqueue_posix *ret)
{
	char path[64], text[256];
	struct statfs sfs;
	struct mq_attr attr;
	unsigned long long qsize;
	ssize_t n;
	int q, err;

	snprintf(path, sizeof(path), "%d/fd/%d", pid, fd);
	/* Reopening the descriptor's file: a new open file of the same queue,
	 * which mq_getattr() accepts (its f_op is the queue's). */
	q = openat(proc_fd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (q < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	if (fstatfs(q, &sfs) < 0 || sfs.f_type != MQUEUE_MAGIC) {
		err = -ENOTTY;
		goto out;
	}
	if (mq_getattr(q, &attr) < 0) {
		err = -errno;
		goto out;
	}
	n = pread(q, text, sizeof(text) - 1, 0);
	if (n <= 0) {
		err = n < 0 ? -errno : -EBADMSG;
		goto out;
	}
	text[n] = '\0';
	if (sscanf(text, "QSIZE:%llu", &qsize) != 1) {
		err = -EBADMSG;
		goto out;
	}
	n = readlinkat(proc_fd, path, ret->name, sizeof(ret->name) - 1);
	if (n < 0) {
		err = errno == ENOENT ? -ENOENT : -errno;
		goto out;
	}
	ret->name[n] = '\0';
	ret->messages = (uint64_t)attr.mq_curmsgs;
	ret->max_messages = (uint64_t)attr.mq_maxmsg;
	ret->bytes = qsize;
	err = 0;
out:
	close(q);
	return err;
}
