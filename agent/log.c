/* SPDX-License-Identifier: MIT */
/* The agent's log: one line per event on stderr, journal-aware. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static bool journal;
static bool verbose;

void log_init(bool want_verbose)
{
	/* systemd sets JOURNAL_STREAM when stderr is connected to the journal;
	 * it then parses "<N>" as the priority and adds its own timestamp. */
	journal = getenv("JOURNAL_STREAM") != NULL;
	verbose = want_verbose;
}

static const char *level_word(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERR:
		return "error";
	case LOG_LEVEL_WARNING:
		return "warning";
	case LOG_LEVEL_NOTICE:
		return "notice";
	case LOG_LEVEL_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Rate limiting: errors and warnings of one call site (its format string)
 * pass LOG_BURST times per LOG_WINDOW_S, the rest are counted; the next line
 * of that site after a window says how many were dropped. A site beyond
 * the table's LOG_SITES is not limited (a bounded table, not a lost line).
 * Notices and below are the agent's own rare events: never limited. */
#define LOG_SITES 64
#define LOG_BURST 10
#define LOG_WINDOW_S 30

struct site {
	const char *fmt;
	time_t window;      /* CLOCK_MONOTONIC second the window began */
	unsigned passed;    /* lines in this window */
	uint64_t dropped;   /* since the last line that passed */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct site sites[LOG_SITES];
static uint64_t suppressed;

uint64_t log_suppressed_total(void)
{
	uint64_t n;

	pthread_mutex_lock(&lock);
	n = suppressed;
	pthread_mutex_unlock(&lock);
	return n;
}

/* Says whether a line of fmt may go out now; *ret_dropped gets the lines
 * of that site dropped since its last one. */
static bool admit(const char *fmt, uint64_t *ret_dropped)
{
	struct timespec ts;
	struct site *st = NULL;
	bool ok = true;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	*ret_dropped = 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < LOG_SITES; i++) {
		if (sites[i].fmt == fmt || !sites[i].fmt) {
			st = &sites[i];
			break;
		}
	}
	if (st) {
		if (!st->fmt || ts.tv_sec - st->window >= LOG_WINDOW_S) {
			st->fmt = fmt;
			st->window = ts.tv_sec;
			st->passed = 0;
		}
		if (st->passed < LOG_BURST) {
			st->passed++;
			*ret_dropped = st->dropped;
			st->dropped = 0;
		} else {
			st->dropped++;
			suppressed++;
			ok = false;
		}
	}
	pthread_mutex_unlock(&lock);
	return ok;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	uint64_t dropped = 0;
	int n;
	va_list ap;

	if (level == LOG_LEVEL_DEBUG && !verbose)
		return;
	if (level <= LOG_LEVEL_WARNING && !admit(fmt, &dropped))
		return;
	if (journal)
		n = snprintf(line, sizeof(line), "<%d>", (int)level);
	else
		n = snprintf(line, sizeof(line), "memagent: %s: ", level_word(level));
	if (dropped)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "(%llu like this suppressed) ",
			      (unsigned long long)dropped);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* One write per line: lines from the HTTP thread never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
