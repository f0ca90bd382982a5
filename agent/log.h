/* SPDX-License-Identifier: MIT */
/* The agent's log: one line per event on stderr, journal-aware. */
#ifndef MEMAGENT_LOG_H
#define MEMAGENT_LOG_H

#include <stdbool.h>
#include <stdint.h>

/* syslog priorities, as the journal reads them from a "<N>" prefix. */
enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_NOTICE = 5,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7,
};

/* Reads JOURNAL_STREAM once: under systemd-journald lines carry "<N>"
 * priority prefixes instead of a level word. verbose enables debug lines. */
void log_init(bool verbose);

/* Writes one line to stderr. Errors and warnings are rate-limited per call
 * site (format string): 10 lines per 30 s, the rest dropped and counted;
 * the site's next line says how many. Thread-safe. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Lines dropped by the rate limit so far (memagent_log_suppressed_total). */
uint64_t log_suppressed_total(void);

#define log_error(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
