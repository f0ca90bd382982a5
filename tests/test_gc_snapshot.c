/* SPDX-License-Identifier: MIT */
/* gengc_heap_snapshot(): a reader of the V8 .heapsnapshot format checks a known heap exactly; snapshots near the heap limit.
 *
 * The reader (tests/heapsnapshot.h) parses the JSON generically, takes the
 * field layout from snapshot.meta as DevTools does, and rebuilds the graph. On a heap the test built itself
 * it checks: the node count per type name is the program's own count
 * (garbage not yet collected is absent), every non-NULL pointer field is
 * an element edge at its word index to a node of the right type, self
 * sizes are payload + header, the roots are V8's synthetic nodes, and the
 * retained size (from dominators, Cooper-Harvey-Kennedy, computed here) of
 * a leaking list's head is the list's total, and that of a tree part of
 * whose leaves are also held elsewhere is the tree without them.
 */
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "gengc.h"
#include "heapsnapshot.h"
#include "test.h"

/* ---- the program's heap ------------------------------------------------------------------- */
struct leak {                   /* "LeakNode": a list only a global root holds */
	struct leak *next;
	unsigned char *payload;
	uint64_t n;
};
static const uint32_t leak_offsets[] = { 0, 8 };
struct tree {                   /* "Tree" */
	struct tree *left, *right;
	uint64_t depth;
};
static const uint32_t tree_offsets[] = { 0, 8 };

#define N_LEAK 1000
#define LEAK_PAYLOAD 40
#define TREE_DEPTH 8            /* 2^9 - 1 = 511 nodes */
#define N_TREE 511
#define VEC_SLOTS 10
#define BIG_SLOTS 20000         /* a large object */

static struct gengc_heap *heap;
static uint32_t t_leak, t_tree, t_vec, t_traced;
static void *leak_head, *vec_root;

static void trace_pair(void *obj, size_t size, struct gengc_tracer *t)
{
	(void)size;
	gengc_trace_slot(t, (void **)obj + 1);  /* word 0 is data, word 1 a pointer */
}

static struct tree *build_tree(int depth)
{
	struct gengc_scope s;
	void **l, **r;
	struct tree *n;

	if (depth < 0)
		return NULL;
	gengc_scope_open(heap, &s);
	l = gengc_handle(heap, build_tree(depth - 1));
	r = gengc_handle(heap, build_tree(depth - 1));
	n = gengc_alloc(heap, t_tree);
	n->depth = (uint64_t)depth;
	gengc_write(heap, n, &n->left, *l);
	gengc_write(heap, n, &n->right, *r);
	gengc_scope_close(heap, &s);
	return n;
}

static void build_leak(void)
{
	for (int i = 0; i < N_LEAK; i++) {
		struct gengc_scope s;

		gengc_scope_open(heap, &s);
		void **e = gengc_handle(heap, gengc_alloc(heap, t_leak));
		unsigned char *p = gengc_alloc_raw(heap, LEAK_PAYLOAD);
		struct leak *x = *e;

		memset(p, i & 0xff, LEAK_PAYLOAD);
		x->n = (uint64_t)i;
		gengc_write(heap, x, &x->payload, p);
		gengc_write(heap, x, &x->next, leak_head);
		leak_head = x;
		gengc_scope_close(heap, &s);
		if (i % 300 == 0)               /* spread over young, old */
			gengc_collect(heap, GENGC_GC_SCAVENGE);
	}
}

static int write_snapshot(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), r;

	if (fd < 0)
		return -errno;
	r = gengc_heap_snapshot(heap, fd);
	close(fd);
	return r;
}

static void test_snapshot_of_a_known_heap(void)
{
	struct gengc_type lt = { .name = "LeakNode", .size = sizeof(struct leak), .n_pointers = 2,
				 .pointer_offsets = leak_offsets };
	struct gengc_type tt = { .name = "Tree", .size = sizeof(struct tree), .n_pointers = 2,
				 .pointer_offsets = tree_offsets };
	struct gengc_type vt = { .name = "Vec", .flags = GENGC_TYPE_ALL_POINTERS };
	struct gengc_type ct = { .name = "Traced \"pair\"", .size = 16, .trace = trace_pair };
	char path[] = "/tmp/gengc-snapshot-XXXXXX";
	struct gengc_scope scope;
	struct graph g;
	struct gengc_stats st;
	void **tree_h, **traced_h;
	int fd;

	heap = gengc_heap_new(NULL);
	REQUIRE(heap);
	REQUIRE(gengc_type_register(heap, &lt, &t_leak) == 0);
	REQUIRE(gengc_type_register(heap, &tt, &t_tree) == 0);
	REQUIRE(gengc_type_register(heap, &vt, &t_vec) == 0);
	REQUIRE(gengc_type_register(heap, &ct, &t_traced) == 0);
	REQUIRE(gengc_root_add(heap, &leak_head) == 0);
	REQUIRE(gengc_root_add(heap, &vec_root) == 0);
	gengc_scope_open(heap, &scope);

	build_leak();
	tree_h = gengc_handle(heap, build_tree(TREE_DEPTH));
	gengc_collect(heap, GENGC_GC_MARK_SWEEP);       /* the tree goes old, the list too */
	/* Vec: 10 slots, 4 holding distinct leaves of the tree, one itself
	 * (a cycle), the rest NULL. A large vector holds the traced object. */
	vec_root = gengc_alloc_size(heap, t_vec, VEC_SLOTS * 8);
	{
		struct tree *t = *tree_h;
		struct tree *leaves[4] = { t, t, t, t };
		void **v = vec_root;

		for (int i = 0; i < TREE_DEPTH; i++) {
			leaves[0] = leaves[0]->left;
			leaves[1] = leaves[1]->right;
			leaves[2] = i ? leaves[2]->left : leaves[2]->right;
			leaves[3] = i ? leaves[3]->right : leaves[3]->left;
		}
		for (int i = 0; i < 4; i++)
			gengc_write(heap, v, &v[2 * i], leaves[i]);
		gengc_write(heap, v, &v[9], v);
	}
	traced_h = gengc_handle(heap, gengc_alloc(heap, t_traced));
	((uint64_t *)*traced_h)[0] = 42;
	{
		void **big = gengc_alloc_size(heap, t_vec, BIG_SLOTS * 8);

		gengc_write(heap, big, &big[BIG_SLOTS - 1], *traced_h);
		gengc_write(heap, *traced_h, (void **)*traced_h + 1, big);   /* traced <-> big */
	}
	gengc_handle(heap, NULL);                       /* a NULL handle: no edge */
	for (int i = 0; i < 3000; i++)                  /* garbage, not collected yet */
		gengc_alloc(heap, t_leak);

	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	close(fd);
	CHECK_EQ(write_snapshot(path), 0);
	gengc_stats_read(heap, &st);
	CHECK_U64(st.heap_snapshots, 1);
	CHECK(st.last_heap_snapshot_bytes > 0);
	REQUIRE(graph_read(&g, path));

	/* The roots: V8's synthetic nodes. */
	REQUIRE(g.n_nodes > 4);
	CHECK_STR(g.type[0], "synthetic");
	CHECK_STR(g.name[0], "");
	REQUIRE(g.edge_count[0] == 1);
	size_t gc_roots = g.edge_to[g.first_edge[0]], handles = SIZE_MAX, globals = SIZE_MAX;

	CHECK_STR(g.name[gc_roots], "(GC roots)");
	CHECK_STR(g.type[gc_roots], "synthetic");
	for (size_t e = g.first_edge[gc_roots]; e < g.first_edge[gc_roots] + g.edge_count[gc_roots]; e++) {
		if (!strcmp(g.name[g.edge_to[e]], "(Handle scope)"))
			handles = g.edge_to[e];
		if (!strcmp(g.name[g.edge_to[e]], "(Global handles)"))
			globals = g.edge_to[e];
	}
	REQUIRE(handles != SIZE_MAX && globals != SIZE_MAX);
	CHECK_EQ(g.edge_count[handles], 2);             /* the tree, the traced object; not NULL */
	CHECK_EQ(g.edge_count[globals], 2);             /* leak_head, vec_root */

	/* Node count per type: the program's own count. */
	CHECK_EQ(count_named(&g, "LeakNode"), N_LEAK);
	CHECK_EQ(count_named(&g, "Tree"), N_TREE);
	CHECK_EQ(count_named(&g, "Vec"), 2);
	CHECK_EQ(count_named(&g, "Traced \"pair\""), 1);
	CHECK_EQ(count_named(&g, "raw"), N_LEAK);
	CHECK_EQ(g.n_nodes, 4 + N_LEAK + N_TREE + 2 + 1 + N_LEAK);

	/* Every pointer field is an edge, at its word index, to the right type;
	 * self sizes are payload + header; ids are odd and distinct. */
	size_t leak_edges = 0, tree_edges = 0, vec_edges = 0, traced_edges = 0, list_head = SIZE_MAX;

	for (size_t i = 0; i < g.n_nodes; i++) {
		size_t e0 = g.first_edge[i], ne = g.edge_count[i];

		CHECK(g.id[i] % 2 == 1 && (i == 0 || g.id[i] > g.id[i - 1]));
		for (size_t e = e0; e < e0 + ne; e++)
			CHECK_STR(g.edge_type[e], "element");
		if (!strcmp(g.name[i], "LeakNode")) {
			CHECK_U64(g.self_size[i], sizeof(struct leak) + 8);
			for (size_t e = e0; e < e0 + ne; e++) {
				const char *to = g.name[g.edge_to[e]];

				CHECK(g.edge_index[e] == 0 ? !strcmp(to, "LeakNode") :
				      g.edge_index[e] == 1 && !strcmp(to, "raw"));
			}
			leak_edges += ne;
		} else if (!strcmp(g.name[i], "raw")) {
			CHECK_U64(g.self_size[i], LEAK_PAYLOAD + 8);
			CHECK_EQ(ne, 0);
		} else if (!strcmp(g.name[i], "Tree")) {
			CHECK_U64(g.self_size[i], sizeof(struct tree) + 8);
			for (size_t e = e0; e < e0 + ne; e++)
				CHECK(g.edge_index[e] <= 1 && !strcmp(g.name[g.edge_to[e]], "Tree"));
			tree_edges += ne;
		} else if (!strcmp(g.name[i], "Vec")) {
			CHECK(g.self_size[i] == VEC_SLOTS * 8 + 8 || g.self_size[i] == BIG_SLOTS * 8 + 8);
			vec_edges += ne;
		} else if (!strcmp(g.name[i], "Traced \"pair\"")) {
			CHECK_U64(g.self_size[i], 16 + 8);
			CHECK_EQ(ne, 1);
			CHECK(ne == 1 && g.edge_index[e0] == 1 && !strcmp(g.name[g.edge_to[e0]], "Vec"));
			traced_edges += ne;
		}
	}
	CHECK_EQ(leak_edges, 2 * N_LEAK - 1);          /* the last next is NULL */
	CHECK_EQ(tree_edges, N_TREE - 1);
	CHECK_EQ(vec_edges, 4 + 1 + 1);                 /* leaves, itself; big: the traced object */
	CHECK_EQ(traced_edges, 1);
	CHECK_EQ(g.n_edges, 1 + 2 + 2 + 2 + leak_edges + tree_edges + vec_edges + traced_edges);

	/* Retained sizes from dominators. */
	uint64_t *ret = retained_sizes(&g);
	size_t tree_root = SIZE_MAX;

	for (size_t e = g.first_edge[globals]; e < g.first_edge[globals] + g.edge_count[globals]; e++)
		if (!strcmp(g.name[g.edge_to[e]], "LeakNode"))
			list_head = g.edge_to[e];
	for (size_t e = g.first_edge[handles]; e < g.first_edge[handles] + g.edge_count[handles]; e++)
		if (!strcmp(g.name[g.edge_to[e]], "Tree"))
			tree_root = g.edge_to[e];
	REQUIRE(list_head != SIZE_MAX && tree_root != SIZE_MAX);
	CHECK_U64(ret[list_head], (uint64_t)N_LEAK * (sizeof(struct leak) + 8 + LEAK_PAYLOAD + 8));
	/* The four leaves the Vec also holds are not the tree root's to free. */
	CHECK_U64(ret[tree_root], (uint64_t)(N_TREE - 4) * (sizeof(struct tree) + 8));
	/* The root retains everything. */
	uint64_t total = 0;

	for (size_t i = 0; i < g.n_nodes; i++)
		total += g.self_size[i];
	CHECK_U64(ret[0], total);
	free(ret);
	graph_free(&g);
	unlink(path);

	gengc_scope_close(heap, &scope);
	leak_head = vec_root = NULL;
	heap = gengc_heap_free(heap);
}

static void test_snapshot_errors(void)
{
	heap = gengc_heap_new(NULL);
	REQUIRE(heap);
	gengc_handle(heap, gengc_alloc_raw(heap, 8));
	CHECK_EQ(gengc_heap_snapshot(heap, -1), -EBADF);
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	if (fd >= 0) {
		CHECK_EQ(gengc_heap_snapshot(heap, fd), -ENOSPC);
		close(fd);
	}
	heap = gengc_heap_free(heap);
}

/* ---- near the heap limit ------------------------------------------------------------------ */
static unsigned oom_calls;
static void on_oom(struct gengc_heap *h, const char *report, void *ctx)
{
	(void)h;
	(void)report;
	(void)ctx;
	oom_calls++;
}

static void quiet_log(void *ctx, const char *line)
{
	(void)line;
	(*(int *)ctx)++;
}

static void test_snapshots_near_the_heap_limit(void)
{
	char dir[] = "/tmp/gengc-diag-XXXXXX";
	struct gengc_options o;
	static void *hog[64];
	int files = 0, logged = 0;
	struct gengc_stats st;

	REQUIRE(mkdtemp(dir));
	gengc_options_init(&o);
	o.max_old_space_size = 8;
	o.max_semi_space_size = 1;
	o.heapsnapshot_near_heap_limit = 2;
	o.diagnostic_dir = dir;
	heap = gengc_heap_new(&o);
	REQUIRE(heap);
	gengc_set_oom_callback(heap, on_oom, NULL);
	gengc_set_log_callback(quiet_log, &logged);
	for (int i = 0; i < 64; i++)
		REQUIRE(gengc_root_add(heap, &hog[i]) == 0);
	/* Fill the heap with live 1 MiB blobs; at each OOM let go of half. */
	oom_calls = 0;
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 64; i++)
			if (!hog[i] && !(hog[i] = gengc_alloc_raw(heap, 1 << 20)))
				break;
		for (int i = 0; i < 64; i += 2)
			hog[i] = NULL;
	}
	gengc_set_log_callback(NULL, NULL);
	CHECK_CMP(oom_calls, >=, 3);                    /* more limit hits than snapshots */
	gengc_stats_read(heap, &st);
	CHECK_U64(st.heap_snapshots, 2);
	CHECK_EQ(logged, 2);                            /* "wrote heap snapshot ..." */

	DIR *d = opendir(dir);
	struct dirent *de;

	REQUIRE(d);
	while ((de = readdir(d))) {
		char p[512];
		struct graph g;
		unsigned y, mo, dd, hh, mi, ss, seq;
		int pid, tid;

		if (de->d_name[0] == '.')
			continue;
		files++;
		CHECK_EQ(sscanf(de->d_name, "Heap.%4u%2u%2u.%2u%2u%2u.%d.%d.%3u.heapsnapshot",
				&y, &mo, &dd, &hh, &mi, &ss, &pid, &tid, &seq), 9);
		CHECK_EQ(pid, getpid());
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (graph_read(&g, p)) {
			/* The blobs held when the limit was hit: at least 5 MiB of them. */
			CHECK_CMP(count_named(&g, "raw"), >=, 5);
			graph_free(&g);
		} else {
			CHECK(!"snapshot near the limit is unreadable");
		}
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
	CHECK_EQ(files, 2);
	for (int i = 0; i < 64; i++)
		hog[i] = NULL;
	heap = gengc_heap_free(heap);
}

int main(void)
{
	RUN(test_snapshot_of_a_known_heap);
	RUN(test_snapshot_errors);
	RUN(test_snapshots_near_the_heap_limit);
	return test_done();
}
