/* SPDX-License-Identifier: MIT */
/* The agent's log: one line per event on stderr, journal-aware. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	int n;
	va_list ap;

	if (level == LOG_LEVEL_DEBUG && !verbose)
		return;
	if (journal)
		n = snprintf(line, sizeof(line), "<%d>", (int)level);
	else
		n = snprintf(line, sizeof(line), "memagent: %s: ", level_word(level));
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* One write per line: lines from the HTTP thread never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
