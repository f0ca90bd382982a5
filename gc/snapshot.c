/* SPDX-License-Identifier: MIT */
/* Heap snapshots in V8's .heapsnapshot format, on request and near the heap limit.
 *
 * The file is what Chrome DevTools' Memory tab, memlab and Node's
 * v8.writeHeapSnapshot() agree on: one JSON object whose "snapshot.meta"
 * names the fields, then flat integer arrays "nodes" (7 numbers per node:
 * type, name, id, self_size, edge_count, trace_node_id, detachedness) and
 * "edges" (3 per edge: type, name_or_index, to_node, the last being the
 * target's offset in "nodes"), and the "strings" the names index. A node's
 * edges are the next edge_count entries after those of the nodes before it.
 *
 * The graph: node 0 is V8's synthetic root, with one element edge to
 * "(GC roots)", whose element edges lead to "(Handle scope)" (an edge per
 * handle) and "(Global handles)" (an edge per global root); then every
 * object reachable from them, in breadth-first order, as an "object" node
 * named by its type (DevTools' constructor column; raw bytes are "native"
 * nodes named "raw"), with its header in its self size and an element edge
 * per non-NULL pointer field, indexed by the field's word offset. Dead
 * objects not yet swept are not reachable, so they are not in it, and
 * nothing is collected first. Ids are 2 * node index + 1 (V8's are odd):
 * objects move, so ids do not carry from one snapshot to the next.
 *
 * Nothing on the heap is allocated or moved: the walk's tables are malloc'd
 * (the node list, 12 bytes per object, and a hash map from address to
 * node index kept at most half full, 24-48: 40-60 bytes per object), and
 * the collection flag is held while it runs so a trace callback cannot
 * allocate and nothing can collect under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gengc_internal.h"

#define SYN_ROOT 0
#define SYN_GC_ROOTS 1
#define SYN_HANDLES 2
#define SYN_GLOBALS 3
#define N_SYN 4
#define NODE_FIELDS 7
#define NT_OBJECT 3             /* indexes into meta.node_types[0] */
#define NT_NATIVE 8
#define NT_SYNTHETIC 9
#define ET_ELEMENT 1            /* indexes into meta.edge_types[0] */
#define STR_TYPES 4             /* strings: "", three synthetic names, then type names */

static const char META[] =
	"{\"snapshot\":{\"meta\":{\"node_fields\":[\"type\",\"name\",\"id\",\"self_size\",\"edge_count\","
	"\"trace_node_id\",\"detachedness\"],\"node_types\":[[\"hidden\",\"array\",\"string\",\"object\","
	"\"code\",\"closure\",\"regexp\",\"number\",\"native\",\"synthetic\",\"concatenated string\","
	"\"sliced string\",\"symbol\",\"bigint\",\"object shape\"],\"string\",\"number\",\"number\","
	"\"number\",\"number\",\"number\"],\"edge_fields\":[\"type\",\"name_or_index\",\"to_node\"],"
	"\"edge_types\":[[\"context\",\"element\",\"property\",\"internal\",\"hidden\",\"shortcut\","
	"\"weak\"],\"string_or_number\",\"node\"],\"trace_function_info_fields\":[\"function_id\","
	"\"name\",\"script_name\",\"script_id\",\"line\",\"column\"],\"trace_node_fields\":[\"id\","
	"\"function_info_index\",\"count\",\"size\",\"children\"],\"sample_fields\":[\"timestamp_us\","
	"\"last_assigned_id\"],\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"]},";

/* ---- the walk ------------------------------------------------------------------ */
struct walk {
	void **obj;             /* node index - N_SYN -> object */
	uint32_t *n_edges;      /* per object: non-NULL pointer fields */
	size_t n, cap;
	void **keys;            /* open addressing: address -> node index */
	uint32_t *vals;
	size_t mask;            /* capacity - 1 */
	size_t n_edges_total;
	uint32_t count;         /* visit_slots callbacks: non-NULL slots of the current object */
	bool oom;
};

static size_t hash_ptr(const void *p)
{
	uint64_t x = (uint64_t)(uintptr_t)p >> 3;

	x *= 0x9e3779b97f4a7c15ull;
	return (size_t)(x ^ (x >> 29));
}

static bool map_grow(struct walk *w)
{
	size_t cap = w->keys ? (w->mask + 1) * 2 : 4096;
	void **keys = calloc(cap, sizeof(*keys));
	uint32_t *vals = malloc(cap * sizeof(*vals));

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return false;
	}
	for (size_t i = 0; w->keys && i <= w->mask; i++) {
		if (!w->keys[i])
			continue;
		size_t j = hash_ptr(w->keys[i]) & (cap - 1);

		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = w->keys[i];
		vals[j] = w->vals[i];
	}
	free(w->keys);
	free(w->vals);
	w->keys = keys;
	w->vals = vals;
	w->mask = cap - 1;
	return true;
}

static uint32_t map_get(const struct walk *w, const void *p)
{
	for (size_t j = hash_ptr(p) & w->mask;; j = (j + 1) & w->mask) {
		if (w->keys[j] == p)
			return w->vals[j];
		if (!w->keys[j])
			return UINT32_MAX;
	}
}

/* Gives obj a node index the first time it is seen. */
static void discover(struct walk *w, void *obj)
{
	size_t j;

	if (w->oom)
		return;
	if ((w->n + 1) * 2 > w->mask + 1 && !map_grow(w)) {
		w->oom = true;
		return;
	}
	for (j = hash_ptr(obj) & w->mask; w->keys[j]; j = (j + 1) & w->mask)
		if (w->keys[j] == obj)
			return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 4096;
		void **o = realloc(w->obj, cap * sizeof(*o));
		uint32_t *e = o ? realloc(w->n_edges, cap * sizeof(*e)) : NULL;

		if (o)
			w->obj = o;
		if (!o || !e) {
			w->oom = true;
			return;
		}
		w->n_edges = e;
		w->cap = cap;
	}
	w->keys[j] = obj;
	w->vals[j] = (uint32_t)(N_SYN + w->n);
	w->obj[w->n++] = obj;
}

static void discover_slot(struct gengc_heap *heap, void **slot)
{
	struct walk *w = heap->visit_ctx;

	if (*slot) {
		w->count++;
		discover(w, *slot);
	}
}

/* Calls fn for every handle slot (the first half of roots_visit()). */
static void handles_visit(struct gengc_heap *heap, void (*fn)(struct gengc_heap *, void **, void *), void *ctx)
{
	void **end = heap->fast.hs_next;

	for (struct handle_block *b = heap->hblock; b; b = b->prev) {
		for (void **h = b->slots; h < end; h++)
			fn(heap, h, ctx);
		end = b->prev ? b->prev->slots + HANDLE_BLOCK_SLOTS : NULL;
	}
}

static void discover_root(struct gengc_heap *heap, void **slot, void *ctx)
{
	(void)heap;
	if (*slot) {
		((uint32_t *)ctx)[0]++;
		discover(heap->visit_ctx, *slot);
	}
}

/* ---- the writer ---------------------------------------------------------------- */
struct out {
	int fd;
	int err;                /* first write error (negative errno) */
	size_t len;
	uint64_t total;
	char buf[65536];
};

static void out_flush(struct out *o)
{
	for (size_t off = 0; off < o->len && !o->err;) {
		ssize_t n = write(o->fd, o->buf + off, o->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			o->err = n < 0 ? -errno : -EIO;
			break;
		}
		off += (size_t)n;
	}
	o->total += o->len;
	o->len = 0;
}

static void out_bytes(struct out *o, const char *s, size_t n)
{
	while (n) {
		size_t k = sizeof(o->buf) - o->len < n ? sizeof(o->buf) - o->len : n;

		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len == sizeof(o->buf))
			out_flush(o);
	}
}

static void out_str(struct out *o, const char *s) { out_bytes(o, s, strlen(s)); }

static void out_u64(struct out *o, uint64_t v)
{
	char tmp[24];
	int i = (int)sizeof(tmp);

	do
		tmp[--i] = (char)('0' + v % 10);
	while (v /= 10);
	out_bytes(o, tmp + i, sizeof(tmp) - (size_t)i);
}

/* A JSON string: quotes, backslashes and control characters escaped. */
static void out_json_str(struct out *o, const char *s)
{
	out_bytes(o, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			out_bytes(o, e, 2);
		} else if (c < 0x20) {
			char e[8];

			snprintf(e, sizeof(e), "\\u%04x", c);
			out_str(o, e);
		} else {
			out_bytes(o, (const char *)&c, 1);
		}
	}
	out_bytes(o, "\"", 1);
}

static void out_node(struct out *o, bool first, uint32_t type, uint64_t name, uint64_t index,
		     uint64_t self_size, uint64_t edges)
{
	if (!first)
		out_bytes(o, ",", 1);
	out_u64(o, type);
	out_bytes(o, ",", 1);
	out_u64(o, name);
	out_bytes(o, ",", 1);
	out_u64(o, index * 2 + 1);
	out_bytes(o, ",", 1);
	out_u64(o, self_size);
	out_bytes(o, ",", 1);
	out_u64(o, edges);
	out_bytes(o, ",0,0\n", 5);
}

static void out_edge(struct out *o, bool *first, uint64_t index, uint64_t to)
{
	if (!*first)
		out_bytes(o, ",", 1);
	*first = false;
	out_u64(o, ET_ELEMENT);
	out_bytes(o, ",", 1);
	out_u64(o, index);
	out_bytes(o, ",", 1);
	out_u64(o, to * NODE_FIELDS);
	out_bytes(o, "\n", 1);
}

struct edge_ctx {
	struct out *o;
	struct walk *w;
	bool *first;
	uint32_t index;         /* roots: element index of the next edge */
	void *obj;              /* objects: the one whose fields are written */
};

static void root_edge(struct gengc_heap *heap, void **slot, void *ctx)
{
	struct edge_ctx *e = ctx;

	(void)heap;
	if (*slot)
		out_edge(e->o, e->first, ++e->index, map_get(e->w, *slot));
}

static void field_edge(struct gengc_heap *heap, void **slot)
{
	struct edge_ctx *e = heap->visit_ctx;

	if (*slot)
		out_edge(e->o, e->first, (uint64_t)((char *)slot - (char *)e->obj) / 8, map_get(e->w, *slot));
}

static void globals_visit(struct gengc_heap *heap, void (*fn)(struct gengc_heap *, void **, void *), void *ctx)
{
	for (size_t i = 0; i < heap->globals.n; i++)
		fn(heap, heap->globals.v[i], ctx);
}

int gengc_heap_snapshot(struct gengc_heap *heap, int fd)
{
	struct walk w = { 0 };
	struct out *o;
	uint32_t n_handles = 0, n_globals = 0;
	bool first = true;
	int r;

	if (heap->in_gc)
		return -EBUSY;
	o = malloc(sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->fd = fd;
	o->err = 0;
	o->len = 0;
	o->total = 0;
	heap->in_gc = true;             /* nothing allocates or collects during the walk */
	heap->visit_ctx = &w;
	if (!map_grow(&w))
		w.oom = true;
	handles_visit(heap, discover_root, &n_handles);
	globals_visit(heap, discover_root, &n_globals);
	for (size_t i = 0; i < w.n && !w.oom; i++) {
		w.count = 0;
		visit_slots(heap, w.obj[i], discover_slot);
		w.n_edges[i] = w.count;
		w.n_edges_total += w.count;
	}
	if (w.oom) {
		r = -ENOMEM;
		goto out;
	}

	out_str(o, META);
	out_str(o, "\"node_count\":");
	out_u64(o, N_SYN + w.n);
	out_str(o, ",\"edge_count\":");
	out_u64(o, 1 + 2 + n_handles + n_globals + w.n_edges_total);
	out_str(o, ",\"trace_function_count\":0},\n\"nodes\":[");
	out_node(o, true, NT_SYNTHETIC, 0, SYN_ROOT, 0, 1);
	out_node(o, false, NT_SYNTHETIC, SYN_GC_ROOTS, SYN_GC_ROOTS, 0, 2);
	out_node(o, false, NT_SYNTHETIC, SYN_HANDLES, SYN_HANDLES, 0, n_handles);
	out_node(o, false, NT_SYNTHETIC, SYN_GLOBALS, SYN_GLOBALS, 0, n_globals);
	for (size_t i = 0; i < w.n; i++) {
		uint32_t t = gengc_type_of(w.obj[i]);

		out_node(o, false, t == GENGC_TYPE_RAW ? NT_NATIVE : NT_OBJECT, STR_TYPES + (uint64_t)t,
			 N_SYN + i, gengc_size(w.obj[i]) + 8, w.n_edges[i]);
	}
	out_str(o, "],\n\"edges\":[");
	out_edge(o, &first, 1, SYN_GC_ROOTS);
	out_edge(o, &first, 1, SYN_HANDLES);
	out_edge(o, &first, 2, SYN_GLOBALS);
	{
		struct edge_ctx e = { o, &w, &first, 0, NULL };

		handles_visit(heap, root_edge, &e);
		e.index = 0;
		globals_visit(heap, root_edge, &e);
		heap->visit_ctx = &e;
		for (size_t i = 0; i < w.n; i++) {
			e.obj = w.obj[i];
			visit_slots(heap, w.obj[i], field_edge);
		}
		heap->visit_ctx = &w;
	}
	out_str(o, "],\n\"trace_function_infos\":[],\"trace_tree\":[],\"samples\":[],\"locations\":[],\n\"strings\":[\"\",\"(GC roots)\",\"(Handle scope)\",\"(Global handles)\"");
	for (uint32_t t = 0; t < heap->n_types; t++) {
		out_bytes(o, ",\n", 2);
		out_json_str(o, heap->types[t].name ? heap->types[t].name : "");
	}
	out_str(o, "]}\n");
	out_flush(o);
	r = o->err;
	if (!r) {
		heap->st.heap_snapshots++;
		heap->st.last_heap_snapshot_bytes = o->total;
	}
out:
	heap->in_gc = false;
	heap->visit_ctx = NULL;
	free(w.obj);
	free(w.n_edges);
	free(w.keys);
	free(w.vals);
	free(o);
	return r;
}

/* ---- near the heap limit (Node's --heapsnapshot-near-heap-limit) ----------------- */
/* Writes Heap.YYYYMMDD.HHMMSS.PID.0.SEQ.heapsnapshot into the diagnostic
 * folder (Node's name and place), once per call, while fewer than
 * heapsnapshot_near_heap_limit were written by this heap. Reports through
 * the log callback: the program may be about to hit its OOM callback. */
void snapshot_near_limit(struct gengc_heap *heap)
{
	static unsigned seq;
	char path[4096];
	struct tm tm;
	time_t now;
	int fd, r;

	if (heap->near_limit_snapshots >= heap->opts.heapsnapshot_near_heap_limit)
		return;
	heap->near_limit_snapshots++;
	now = time(NULL);
	localtime_r(&now, &tm);
	snprintf(path, sizeof(path), "%s/Heap.%04d%02d%02d.%02d%02d%02d.%d.0.%03u.heapsnapshot",
		 heap->diagnostic_dir ? heap->diagnostic_dir : ".", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)getpid(), ++seq);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		gengc_log("gengc: cannot write a heap snapshot to %s: %s", path, strerror(errno));
		return;
	}
	r = gengc_heap_snapshot(heap, fd);
	if (close(fd) < 0 && !r)
		r = -errno;
	if (r < 0) {
		gengc_log("gengc: heap snapshot %s failed: %s", path, strerror(-r));
		unlink(path);
		return;
	}
	gengc_log("gengc: wrote heap snapshot %s near the heap limit", path);
}
