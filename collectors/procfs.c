/* SPDX-License-Identifier: MIT */
/* Parsers for the per-process files of /proc: stat, status, smaps_rollup, cmdline. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keyval.h"
#include "procfile.h"
#include "procfs.h"

static const char *skip_spaces(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	return p;
}

/* Parses the space-separated unsigned field at *p, which must be followed by a
 * space or newline (a number cut by the buffer's end is not a number). A
 * leading '-' reads as 0: fields like tty_nr can be negative and are unused. */
static int stat_field(const char **p, const char *end, uint64_t *ret)
{
	const char *s = skip_spaces(*p, end), *e = s;

	/* Find the terminator first: procfile_u64() stops only at a non-digit,
	 * and the buffer need not be NUL-terminated at end. */
	while (e < end && *e != ' ' && *e != '\n')
		e++;
	if (e >= end || e == s)
		return -EBADMSG;
	if (*s == '-') {
		*ret = 0;
		*p = e;
		return 0;
	}
	if (!procfile_u64(&s, ret) || s != e)
		return -EBADMSG;
	*p = s;
	return 0;
}

int procfs_parse_stat(const char *buf, size_t len, struct procfs_stat *ret)
{
	const char *end = buf + len, *open, *close, *p;
	struct procfs_stat st = {0};
	uint64_t v[23];
	size_t n;

	open = memchr(buf, '(', len);
	close = NULL;
	for (p = end; p > buf; p--)
		if (p[-1] == ')') {
			close = p - 1;
			break;
		}
	if (!open || !close || close < open)
		return -EBADMSG;
	n = (size_t)(close - open - 1);
	if (n >= PROCFS_COMM_MAX)
		n = PROCFS_COMM_MAX - 1;
	memcpy(st.comm, open + 1, n);
	st.comm[n] = '\0';

	p = skip_spaces(close + 1, end);
	if (p >= end)
		return -EBADMSG;
	st.state = *p++;
	/* Fields 4..23 (ppid .. vsize), 1-based as in proc(5). */
	for (int f = 4; f <= 23; f++)
		if (stat_field(&p, end, &v[f - 1]) < 0)
			return -EBADMSG;
	st.ppid = (int32_t)v[3];
	st.flags = (uint32_t)v[8];
	st.minflt = v[9];
	st.majflt = v[11];
	st.threads = (uint32_t)v[19];
	st.start_ticks = v[21];
	st.vsize = v[22];
	*ret = st;
	return 0;
}

/* Unescapes Name as task_name() escapes it (string_escape_str with
 * ESCAPE_SPACE | ESCAPE_SPECIAL): \n \t \\ and friends. */
static void unescape_name(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o < PROCFS_COMM_MAX - 1; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < n) {
			switch (s[++i]) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'f': c = '\f'; break;
			case 'v': c = '\v'; break;
			case 'a': c = '\a'; break;
			case 'e': c = '\033'; break;
			case '"': c = '"'; break;
			default: c = s[i]; break;
			}
		}
		out[o++] = c;
	}
	out[o] = '\0';
}

/* A "Key: N kB" value, in bytes. */
static int kb_value(const struct keyval *kv, uint64_t *ret)
{
	return keyval_u64(kv, ret) == KEYVAL_KB ? 0 : -EBADMSG;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == '\t' || *p == ' '))
		p++;
	return p;
}

int procfs_parse_status(const char *buf, size_t len, struct procfs_status *ret)
{
	struct procfs_status st = {0};
	struct keyval_iter it;
	struct keyval kv;
	bool name = false;
	unsigned split = 0;
	int r;

	keyval_init(&it, buf, len, ':');
	while ((r = keyval_next(&it, &kv)) > 0) {
		const char *v = kv.value, *end = kv.value + kv.value_len;
		uint64_t *dst = NULL;

		/* Dispatch on the first letter: most of the ~55 lines are skipped
		 * after one comparison. */
		switch (kv.key[0]) {
		case 'N':
			if (KEYVAL_IS(&kv, "Name")) {
				if (v < end && *v == '\t')
					v++;
				unescape_name(v, (size_t)(end - v), st.comm);
				name = true;
			}
			break;
		case 'S':
			if (KEYVAL_IS(&kv, "State")) {
				v = skip_blanks(v, end);
				if (v == end)
					return -EBADMSG;
				st.state = *v;
			}
			break;
		case 'T':
			if (KEYVAL_IS(&kv, "Threads")) {
				uint64_t t;

				if (keyval_u64(&kv, &t) != KEYVAL_PLAIN)
					return -EBADMSG;
				st.threads = (uint32_t)t;
				/* The kernel prints Threads (task_sig) after every
				 * other line used here (task_state, task_mem): the
				 * rest, over half the text, need not be scanned. */
				goto done;
			}
			break;
		case 'V':
			if (KEYVAL_IS(&kv, "VmSize"))
				dst = &st.vsize;
			else if (KEYVAL_IS(&kv, "VmHWM"))
				dst = &st.hwm;
			else if (KEYVAL_IS(&kv, "VmRSS"))
				dst = &st.rss, st.present |= PROCFS_HAS_MEM;
			else if (KEYVAL_IS(&kv, "VmSwap"))
				dst = &st.swap;
			break;
		case 'R':
			if (KEYVAL_IS(&kv, "RssAnon"))
				dst = &st.rss_anon, split |= 1;
			else if (KEYVAL_IS(&kv, "RssFile"))
				dst = &st.rss_file, split |= 2;
			else if (KEYVAL_IS(&kv, "RssShmem"))
				dst = &st.rss_shmem, split |= 4;
			break;
		}
		if (dst && kb_value(&kv, dst) < 0)
			return -EBADMSG;
	}
	if (r < 0)
		return r;
done:
	if (!name || !st.state)
		return -EBADMSG;
	if (split == 7)
		st.present |= PROCFS_HAS_SPLIT;
	*ret = st;
	return 0;
}

int procfs_parse_smaps(const char *buf, size_t len, struct procfs_smaps *ret)
{
	const char *p;
	struct procfs_smaps sm = {0};
	struct keyval_iter it;
	struct keyval kv;
	bool pss = false;
	int r;

	/* The first line is the [rollup] pseudo-mapping header. */
	p = memchr(buf, '\n', len);
	if (!p)
		return -EBADMSG;
	p++;
	keyval_init(&it, p, len - (size_t)(p - buf), ':');
	while ((r = keyval_next(&it, &kv)) > 0) {
		uint64_t v;

		if (KEYVAL_IS(&kv, "Pss") || KEYVAL_IS(&kv, "Private_Clean") ||
		    KEYVAL_IS(&kv, "Private_Dirty") || KEYVAL_IS(&kv, "Private_Hugetlb") ||
		    KEYVAL_IS(&kv, "SwapPss")) {
			if (kb_value(&kv, &v) < 0)
				return -EBADMSG;
			if (KEYVAL_IS(&kv, "Pss")) {
				sm.pss = v;
				pss = true;
			} else if (KEYVAL_IS(&kv, "SwapPss")) {
				sm.swap_pss = v;
			} else {
				sm.uss = sm.uss > UINT64_MAX - v ? UINT64_MAX : sm.uss + v;
			}
		}
	}
	if (r < 0 || !pss)
		return -EBADMSG;
	*ret = sm;
	return 0;
}

void procfs_join_cmdline(char *buf, size_t len)
{
	while (len && buf[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[len] = '\0';
}

int procfs_parse_comm(const char *buf, size_t len, char comm[PROCFS_COMM_MAX])
{
	size_t n;

	if (!len || buf[len - 1] != '\n')
		return -EBADMSG;
	n = len - 1 < PROCFS_COMM_MAX - 1 ? len - 1 : PROCFS_COMM_MAX - 1;
	memcpy(comm, buf, n);
	comm[n] = '\0';
	return 0;
}

int procfs_parse_btime(const char *buf, size_t len, uint64_t *ret)
{
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *v = p + 6;
		uint64_t t;

		if (!nl)
			return 0;
		if (nl - p > 6 && memcmp(p, "btime ", 6) == 0) {
			if (!procfile_u64(&v, &t) || v != nl)
				return -EBADMSG;
			*ret = t;
			return 1;
		}
		p = nl + 1;
	}
	return 0;
}

int procfs_read_btime(int proc_fd, char *buf, size_t cap, uint64_t *ret)
{
	int fd = procfile_open(proc_fd, "stat"), r = -ENOENT;
	bool skipping = false; /* inside a line longer than buf */
	size_t have = 0;

	if (fd < 0)
		return fd;
	for (;;) {
		ssize_t n = read(fd, buf + have, cap - have);
		const char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -ENOENT;
			break;
		}
		have += (size_t)n;
		if (skipping) {
			nl = memchr(buf, '\n', have);
			if (!nl) {
				have = 0;
				continue;
			}
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have);
			skipping = false;
		}
		r = procfs_parse_btime(buf, have, ret);
		if (r != 0)
			break;
		/* Keep the incomplete last line for the next chunk; a line that
		 * fills the whole buffer (intr) is skipped: btime is short. */
		nl = memrchr(buf, '\n', have);
		if (nl) {
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have);
		} else {
			have = 0;
			skipping = true;
		}
	}
	close(fd);
	return r > 0 ? 0 : r;
}

int procfs_parse_last_pid(const char *buf, size_t len, uint64_t *ret)
{
	const char *p, *end;
	uint64_t v;

	if (!len || buf[len - 1] != '\n')
		return -EBADMSG;
	end = buf + len - 1;
	p = memrchr(buf, ' ', (size_t)(end - buf));
	if (!p)
		return -EBADMSG;
	p++;
	if (!procfile_u64(&p, &v) || p != end)
		return -EBADMSG;
	*ret = v;
	return 0;
}

int procfs_read_exe(int proc_fd, int pid, char *buf, size_t len)
{
	char path[32];
	ssize_t n;

	snprintf(path, sizeof(path), "%d/exe", pid);
	n = readlinkat(proc_fd, path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

int procfs_read_cmdline(int proc_fd, int pid, char *buf, size_t len)
{
	char path[32];
	int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%d/cmdline", pid);
	fd = procfile_open(proc_fd, path);
	if (fd < 0)
		return fd;
	/* One read: the head of a long command line is what matching uses. */
	n = pread(fd, buf, len - 1, 0);
	close(fd);
	if (n < 0)
		return -errno;
	procfs_join_cmdline(buf, (size_t)n);
	return (int)strlen(buf);
}
