/* SPDX-License-Identifier: MIT */
/* The agent's configuration: one JSON file, or the embedded default.
 *
 * Every error names file:line:column and the key path ("targets[2].match.cmdline:
 * invalid regex: ..."), semantic errors included; unknown keys suggest the
 * nearest valid one; duplicate keys are errors. A config is immutable once
 * loaded: a reload builds a new one and the old one stays in force on error.
 */
#ifndef MEMAGENT_CONFIG_H
#define MEMAGENT_CONFIG_H

#include <stddef.h>

#include "target.h"

#define CONFIG_LISTEN_DEFAULT "127.0.0.1:9470"
#define CONFIG_INTERVAL_DEFAULT_MS 5000

struct config_limits {
	unsigned max_processes;    /* pid series per per_process target (100) */
	unsigned max_groups;       /* comm series per group_by target (500) */
	unsigned http_connections; /* concurrent HTTP connections (256) */
	unsigned http_timeout_s;   /* idle HTTP connection timeout (10) */
};

struct config {
	char *source;          /* file name, or "(embedded default)" */
	unsigned interval_ms;  /* 100 .. 3600000 */
	char *listen;          /* "ADDR:PORT"; IPv6 as "[::1]:9470" */
	struct target_set targets;
	struct config_limits limits;
};

/* Errors are one line: "FILE:LINE:COLUMN: KEY.PATH: what is wrong". */
#define CONFIG_ERROR_MAX 512

/* Parses text (len bytes, need not be NUL-terminated) named name (for messages).
 * On success returns 0 and *ret (free with config_free()); on failure returns
 * -EINVAL (or -ENOMEM) and the message in err; *ret is untouched. */
int config_parse(const char *text, size_t len, const char *name, struct config **ret,
		 char err[CONFIG_ERROR_MAX]);

/* Reads and parses a file. I/O errors return the negative errno, with err
 * naming the file. */
int config_load(const char *path, struct config **ret, char err[CONFIG_ERROR_MAX]);

/* The embedded default: the whole host, every process grouped by comm. */
int config_default(struct config **ret, char err[CONFIG_ERROR_MAX]);
/* Its JSON text, as printed by `memagent --print-default-config`. */
const char *config_default_json(void);

/* NULL-safe; returns NULL. */
struct config *config_free(struct config *c);

#endif
