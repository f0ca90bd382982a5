/* SPDX-License-Identifier: MIT */
/* Options: defaults, the GENGC_* environment (parsed once), the log callback.
 *
 * The environment is the only process-wide state of the library besides the
 * log callback that reports its errors: it is parsed once under pthread_once
 * so every heap of the process sees the same values, and a bad value is
 * reported once and ignored (the default stays), as bdwgc does.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "gengc_internal.h"

static void log_stderr(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static gengc_log_fn *log_fn = log_stderr;
static void *log_ctx;

void gengc_set_log_callback(gengc_log_fn *fn, void *ctx)
{
	log_fn = fn ? fn : log_stderr;
	log_ctx = fn ? ctx : NULL;
}

void gengc_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_fn(log_ctx, line);
}

/* ---- environment ---------------------------------------------------------- */
struct env_opt {
	const char *name;
	size_t offset;                  /* into struct gengc_options */
	uint32_t min, max;
};

#define OPT(field) offsetof(struct gengc_options, field)
static const struct env_opt env_opts[] = {
	{ "GENGC_MAX_OLD_SPACE_SIZE", OPT(max_old_space_size), 1, 1u << 20 },
	{ "GENGC_MAX_SEMI_SPACE_SIZE", OPT(max_semi_space_size), 1, 1024 },
	{ "GENGC_MIN_SEMI_SPACE_SIZE", OPT(min_semi_space_size), 1, 1024 },
	{ "GENGC_INITIAL_OLD_SPACE_SIZE", OPT(initial_old_space_size), 1, 1u << 20 },
	{ "GENGC_PROMOTION_AGE", OPT(promotion_age), 0, 15 },
	{ "GENGC_LARGE_OBJECT_THRESHOLD", OPT(large_object_threshold), 4096, 1u << 30 },
	{ "GENGC_COMPACT_THRESHOLD", OPT(compact_threshold_pct), 0, 100 },
	{ "GENGC_OLD_SPACE_GROWTH", OPT(old_space_growth_pct), 110, 1000 },
	{ "GENGC_TRACE_GC", OPT(trace_gc), 0, 1 },
	{ "GENGC_VERIFY", OPT(verify), 0, 1 },
	{ "GENGC_STRESS", OPT(stress), 0, 2 },
	{ "GENGC_INCREMENTAL_MARKING", OPT(incremental_marking), 0, 1 },
	{ "GENGC_MARKING_STEP", OPT(marking_step), 1, 1u << 30 },
	{ "GENGC_HEAPSNAPSHOT_NEAR_HEAP_LIMIT", OPT(heapsnapshot_near_heap_limit), 0, 1000 },
	{ "GENGC_TELEMETRY", OPT(telemetry), 0, 1 },
};
#define N_ENV (sizeof(env_opts) / sizeof(env_opts[0]))

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static bool env_set[N_ENV];
static uint32_t env_val[N_ENV];
static char *env_diagnostic_dir;        /* GENGC_DIAGNOSTIC_DIR, copied once */

static void env_parse(void)
{
	for (size_t i = 0; i < N_ENV; i++) {
		const char *s = getenv(env_opts[i].name);
		unsigned long v;
		char *end;

		if (!s)
			continue;
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno || end == s || *end || *s == '-' || v < env_opts[i].min || v > env_opts[i].max) {
			gengc_log("gengc: ignoring %s=\"%.64s\": expected an integer in [%u, %u]",
				  env_opts[i].name, s, env_opts[i].min, env_opts[i].max);
			continue;
		}
		env_set[i] = true;
		env_val[i] = (uint32_t)v;
	}
	const char *dir = getenv("GENGC_DIAGNOSTIC_DIR");

	if (dir && !*dir)
		gengc_log("gengc: ignoring GENGC_DIAGNOSTIC_DIR=\"\": expected a folder");
	else if (dir && !(env_diagnostic_dir = strdup(dir)))
		gengc_log("gengc: ignoring GENGC_DIAGNOSTIC_DIR: out of memory");
}

void gengc_options_init(struct gengc_options *ret)
{
	*ret = (struct gengc_options){
		.max_old_space_size = GENGC_DEFAULT_MAX_OLD_SPACE_SIZE_MIB,
		.max_semi_space_size = GENGC_DEFAULT_MAX_SEMI_SPACE_SIZE_MIB,
		.min_semi_space_size = GENGC_DEFAULT_MIN_SEMI_SPACE_SIZE_MIB,
		.initial_old_space_size = GENGC_DEFAULT_INITIAL_OLD_SPACE_SIZE_MIB,
		.promotion_age = GENGC_DEFAULT_PROMOTION_AGE,
		.large_object_threshold = GENGC_DEFAULT_LARGE_OBJECT_THRESHOLD,
		.compact_threshold_pct = GENGC_DEFAULT_COMPACT_THRESHOLD_PCT,
		.old_space_growth_pct = GENGC_DEFAULT_OLD_SPACE_GROWTH_PCT,
		.marking_step = GENGC_DEFAULT_MARKING_STEP,
		.telemetry = 1,
	};
	pthread_once(&env_once, env_parse);
	for (size_t i = 0; i < N_ENV; i++)
		if (env_set[i])
			memcpy((char *)ret + env_opts[i].offset, &env_val[i], sizeof(uint32_t));
	ret->diagnostic_dir = env_diagnostic_dir;
}
