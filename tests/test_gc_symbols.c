/* SPDX-License-Identifier: MIT */
/* libgengc exports only gengc_ names: nm of both libraries, and a program with internals' names of its own.
 *
 * This program defines collect(), scavenge(), page_free(), now_ns() and
 * gc_fatal(), names libgengc uses inside, and links libgengc.a statically
 * (the Makefile's GC test rule). Had the archive exported any of them the
 * link would have failed (multiple definition) or silently bound one side
 * to the other's function: the cases below check that both sides still
 * reach their own.
 */
#include <unistd.h>

#include "gengc.h"
#include "test.h"

static int own_calls;

/* The app's own functions, with signatures unlike the library's. */
int collect(int x);
int scavenge(int x);
int page_free(int x);
long now_ns(void);
int gc_fatal(const char *s);

int collect(int x) { own_calls++; return x + 1; }
int scavenge(int x) { own_calls++; return x + 2; }
int page_free(int x) { own_calls++; return x + 3; }
long now_ns(void) { own_calls++; return 42; }
int gc_fatal(const char *s) { own_calls++; return (int)strlen(s); }

static void test_app_and_library_keep_their_own_functions(void)
{
	struct gengc_options o;
	struct gengc_heap *heap;
	struct gengc_stats st;
	void *root = NULL;

	CHECK_EQ(collect(1), 2);
	CHECK_EQ(scavenge(1), 3);
	CHECK_EQ(page_free(1), 4);
	CHECK_EQ(now_ns(), 42);
	CHECK_EQ(gc_fatal("abc"), 3);
	CHECK_EQ(own_calls, 5);

	gengc_options_init(&o);
	heap = gengc_heap_new(&o);
	REQUIRE(heap);
	gengc_root_add(heap, &root);
	/* Enough garbage for scavenges, then full GCs that free pages: the
	 * library's collect, scavenge, page_free and now_ns all run. */
	for (int i = 0; i < 20000; i++) {
		void *p = gengc_alloc_raw(heap, 1000);

		if (i % 100 == 0)
			root = p;
	}
	CHECK_EQ(gengc_collect(heap, GENGC_GC_MARK_COMPACT), 0);
	CHECK_EQ(gengc_collect(heap, GENGC_GC_MARK_SWEEP), 0);
	gengc_stats_read(heap, &st);
	CHECK(st.gc[GENGC_GC_SCAVENGE].count > 0);
	CHECK_EQ(st.full_gcs, 2);
	CHECK(st.gc[GENGC_GC_MARK_COMPACT].total_pause_ns > 0);  /* the library's clock ran */
	CHECK(root && gengc_size(root) == 1000);
	CHECK_EQ(own_calls, 5);                                /* and never called ours */
	gengc_heap_free(heap);
}

/* Runs nm on a library; returns how many defined global symbols it lists,
 * printing (and counting in *bad) those without the gengc_ prefix. */
static int count_globals(const char *nm_args, const char *lib, int *bad)
{
	char cmd[1024], line[512];
	FILE *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "nm %s '%s' 2>&1", nm_args, lib);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		char addr[64], type[8], name[400];

		/* "ADDR T name"; archive member headers ("x.o:") and blanks have fewer fields. */
		if (sscanf(line, "%63s %7s %399s", addr, type, name) != 3)
			continue;
		n++;
		/* GENGC_0 is the .so's version node (an absolute symbol, 'A'). */
		if (strncmp(name, "gengc_", 6) != 0 && strcmp(name, "GENGC_0") != 0) {
			printf("  %s exports %s (%s)\n", lib, name, type);
			(*bad)++;
		}
	}
	if (pclose(p) != 0)
		return -1;
	return n;
}

static void check_library(const char *nm_args, const char *file)
{
	const char *build = getenv("MEMAGENT_BUILD");
	char path[512];
	int bad = 0, n;

	snprintf(path, sizeof(path), "%s/%s", build, file);
	REQUIRE(access(path, R_OK) == 0);
	n = count_globals(nm_args, path, &bad);
	/* The public API is ~40 functions: a count this low means nm read nothing. */
	CHECK_CMP(n, >=, 30);
	CHECK_EQ(bad, 0);
}

static void test_static_library_exports_only_gengc_names(void)
{
	if (!getenv("MEMAGENT_BUILD"))
		TEST_SKIP("MEMAGENT_BUILD not set (run through tests/run.sh)");
	check_library("-g --defined-only", "libgengc.a");
}

static void test_shared_library_exports_only_gengc_names(void)
{
	if (!getenv("MEMAGENT_BUILD"))
		TEST_SKIP("MEMAGENT_BUILD not set (run through tests/run.sh)");
	check_library("-D -g --defined-only", "libgengc.so.0");
}

int main(void)
{
	RUN(test_app_and_library_keep_their_own_functions);
	RUN(test_static_library_exports_only_gengc_names);
	RUN(test_shared_library_exports_only_gengc_names);
	return test_done();
}
