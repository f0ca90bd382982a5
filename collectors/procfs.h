/* SPDX-License-Identifier: MIT */
/* Parsers for the files of /proc the process collector reads: per process stat,
 * status, smaps_rollup, cmdline, comm; system-wide stat (boot time) and loadavg
 * (last pid).
 *
 * Pure functions over a buffer, so they run on fixtures and on whatever a
 * process collector backend read. Sizes come out in bytes.
 */
#ifndef MEMAGENT_PROCFS_H
#define MEMAGENT_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROCFS_COMM_MAX 16 /* TASK_COMM_LEN, NUL included */
#define PROCFS_PF_KTHREAD 0x00200000u

/* /proc/PID/stat: the fields the collector uses. */
struct procfs_stat {
	char comm[PROCFS_COMM_MAX];
	char state;
	int32_t ppid;
	uint32_t flags;
	uint64_t minflt, majflt; /* whole thread group, dead threads included */
	uint32_t threads;
	uint64_t start_ticks;    /* since boot, in clock ticks (sysconf(_SC_CLK_TCK)) */
	uint64_t vsize;          /* bytes */
};

/* Parses stat text. comm is taken between the first '(' and the LAST ')', as
 * it may hold anything, parentheses and spaces included. Returns 0 or -EBADMSG. */
int procfs_parse_stat(const char *buf, size_t len, struct procfs_stat *ret);

enum {
	PROCFS_HAS_MEM = 1u << 0, /* Vm and Rss lines (absent for kernel threads, zombies) */
	PROCFS_HAS_SPLIT = 1u << 1, /* RssAnon/RssFile/RssShmem (4.5+) */
};

/* /proc/PID/status: memory by kind, swap and the high-water mark. */
struct procfs_status {
	char comm[PROCFS_COMM_MAX]; /* Name, unescaped */
	char state;
	unsigned present;           /* PROCFS_HAS_* */
	uint64_t vsize, hwm, rss, rss_anon, rss_file, rss_shmem, swap; /* bytes */
	uint32_t threads;
};

/* Parses status text. Name and State are required. Returns 0 or -EBADMSG. */
int procfs_parse_status(const char *buf, size_t len, struct procfs_status *ret);

/* /proc/PID/smaps_rollup: proportional and unique set sizes. */
struct procfs_smaps {
	uint64_t pss; /* bytes */
	uint64_t uss; /* Private_Clean + Private_Dirty + Private_Hugetlb, bytes */
	uint64_t swap_pss;
};

/* Parses smaps_rollup text. Pss is required. Returns 0 or -EBADMSG. */
int procfs_parse_smaps(const char *buf, size_t len, struct procfs_smaps *ret);

/* Turns cmdline's NUL-separated argv (len bytes in buf, which must hold
 * len + 1) into one NUL-terminated string joined by single spaces. */
void procfs_join_cmdline(char *buf, size_t len);

/* Parses /proc/PID/comm text (the name and a newline) into comm, cut to
 * PROCFS_COMM_MAX - 1 bytes like the kernel's. Returns 0, or -EBADMSG for
 * text without its newline. */
int procfs_parse_comm(const char *buf, size_t len, char comm[PROCFS_COMM_MAX]);

/* Looks for the "btime N" line of /proc/stat in buf (len bytes, which begin
 * at the start of a line). Only a complete line counts, so the file can be
 * scanned in chunks. Returns 1 and *ret (seconds since the epoch), 0 when no
 * complete btime line is in buf, or -EBADMSG when that line is malformed. */
int procfs_parse_btime(const char *buf, size_t len, uint64_t *ret);

/* Reads the boot time from proc_fd/stat, using buf (cap bytes, >= 256) as
 * scratch: the file grows with CPUs and interrupts (the intr line alone
 * holds a number per IRQ), so btime may come after more than cap bytes; it
 * is scanned in chunks. Returns 0 and *ret, -ENOENT, -EBADMSG or -errno. */
int procfs_read_btime(int proc_fd, char *buf, size_t cap, uint64_t *ret);

/* Parses /proc/loadavg ("0.60 0.62 0.47 1/86 22314\n") for its last field,
 * the pid most recently allocated in the reader's pid namespace. Returns 0
 * and *ret, or -EBADMSG. */
int procfs_parse_last_pid(const char *buf, size_t len, uint64_t *ret);

/* Reads the target of proc_fd/PID/exe into buf. Returns its length or -errno
 * (-ENOENT: gone or a kernel thread; -EACCES: not ours to read). */
int procfs_read_exe(int proc_fd, int pid, char *buf, size_t len);

/* Reads proc_fd/PID/cmdline into buf joined by spaces (the first len - 1
 * bytes of a longer one). Returns the length or -errno. Takes the target's
 * mmap lock: read it once per process, not per sample. */
int procfs_read_cmdline(int proc_fd, int pid, char *buf, size_t len);

#endif
