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

#include "alert.h"
#include "sinks.h"
#include "target.h"
#include "web.h"

#define CONFIG_LISTEN_DEFAULT "127.0.0.1:9470"
#define CONFIG_INTERVAL_DEFAULT_MS 5000
#define CONFIG_INTERVAL_MIN_MS 100
#define CONFIG_INTERVAL_MAX_MS 3600000
/* A config file larger than this is refused unread. */
#define CONFIG_FILE_MAX_BYTES (1024 * 1024)
/* The source name of the embedded default. */
#define CONFIG_DEFAULT_NAME "(embedded default)"
/* Where disk buffers live unless "state_dir" says otherwise. */
#define CONFIG_STATE_DIR_DEFAULT "/var/lib/memagent"

struct config_limits {
	unsigned max_processes;    /* pid series per per_process target (100) */
	unsigned max_groups;       /* comm series per group_by target (500) */
	unsigned max_instrumented; /* telemetry pages read (256); 0: heap discovery off */
	unsigned max_listeners;    /* listen backlog series (256) */
	unsigned max_message_queues; /* message queue series (64) */
	unsigned http_connections; /* concurrent HTTP connections (256) */
	unsigned http_timeout_s;   /* idle HTTP connection timeout (10) */
	unsigned http_connections_per_address; /* per client address, not yet past headers (32) */
	unsigned http_header_timeout_s;        /* to complete request headers (5) */
};

/* "heap": the heap collector's discovery of instrumented apps (docs/telemetry.md). */
struct config_heap {
	bool enabled;              /* true */
	char *names;               /* an extended regex pages' names must match, or NULL: all */
	bool snapshot_on_leak;     /* false: ask for a heap snapshot when a page's leak flag rises */
};

/* "alerts": rules evaluated on every snapshot and where their alerts go (docs/alerts.md). */
#define CONFIG_ALERT_RULES_MAX 64
struct config_alerts {
	struct alert_rule *rules;
	size_t n_rules;
	char **alertmanagers;        /* base URLs, at most ALERTMANAGER_MAX (8) */
	size_t n_alertmanagers;
	unsigned resend_interval_ms; /* 60000 */
	unsigned timeout_ms;         /* per post, 10000 */
};

struct config {
	char *source;          /* file name, or "(embedded default)" */
	unsigned interval_ms;  /* 100 .. 3600000 */
	char *listen;          /* "ADDR:PORT"; IPv6 as "[::1]:9470" */
	/* Absent "targets" means the default's one target "all"; an explicit
	 * empty array means none. */
	struct target_set targets;
	struct config_limits limits;
	struct config_heap heap;
	/* "web": exporter-toolkit's web config (docs/web.md); no TLS, no
	 * users by default. The config owns the strings. */
	struct web_options web;
	struct config_alerts alerts;
	char *state_dir;              /* "/var/lib/memagent" */
	struct sink_options *sinks;   /* "sinks": push exporters (docs/sinks.md) */
	size_t n_sinks;
};

/* Errors are one line: "FILE:LINE:COLUMN: KEY.PATH: what is wrong". The key
 * path is left out when the error is about the document as a whole (empty
 * file, top level not an object, text after it); LINE:COLUMN are 1-based,
 * the column counts characters; they point at the offending value, or at the
 * key for an unknown key, or at the object missing a required key. */
#define CONFIG_ERROR_MAX 512

/* Parses text (len bytes, need not be NUL-terminated; a leading UTF-8 BOM is
 * skipped) named name (for messages). On success returns 0 and *ret (free
 * with config_free()) and err is "". On failure returns -EINVAL when the
 * config is invalid (exit with EX_CONFIG) or -ENOMEM, with the message in
 * err; *ret is untouched. Only the first error is reported. */
int config_parse(const char *text, size_t len, const char *name, struct config **ret,
		 char err[CONFIG_ERROR_MAX]);

/* Reads and parses a file (at most CONFIG_FILE_MAX_BYTES). I/O errors return
 * the negative errno (-EFBIG when the file is too large), with err naming
 * the file; otherwise as config_parse() with path as the name. */
int config_load(const char *path, struct config **ret, char err[CONFIG_ERROR_MAX]);

/* The embedded default: the whole host, every process grouped by comm. */
int config_default(struct config **ret, char err[CONFIG_ERROR_MAX]);
/* Its JSON text, as printed by `memagent --print-default-config`. */
const char *config_default_json(void);

/* NULL-safe; returns NULL. */
struct config *config_free(struct config *c);

#endif
