/* SPDX-License-Identifier: MIT */
/* libgengc shadow-model stress: a seeded mutator checks the heap against a model of its graph, across the GENGC_* configurations.
 *
 * Written from gc/gengc.h alone. The model (plain arrays indexed by object
 * id, outside the heap) holds each object's kind, size, payload seed and
 * the id every pointer slot should lead to; roots are a pointer vector in a
 * global root, a few global roots added and removed on the way, and
 * long-lived handles written in place (*h = obj). Five kinds of objects:
 * a fixed struct with pointer offsets and a finalizer, an all-pointer
 * vector of any length (0 and large included), a custom-trace object with
 * a finalizer, raw blobs (0 bytes to past the large-object threshold) and
 * strings. The mutator allocates, links old to young, rewires into
 * cycles and shared nodes, escapes objects out of scopes, drops roots,
 * churns garbage, takes weak references and resurrects objects through
 * them, and collects.
 *
 * Checked every CHECK_EVERY operations:
 *  - gengc_verify() is clean;
 *  - a walk of the heap from its roots and a walk of the model reach the
 *    same objects (one address per model object), each with its type,
 *    gengc_size(), payload and edges;
 *  - nothing the model reaches was finalized; a weak reference reads NULL
 *    only when its target is unreachable and (if it has a finalizer)
 *    finalized, and otherwise the target itself, never a finalized one.
 * Every fourth check, after two full GCs (the first may end incremental
 * marking, which lets what died meanwhile float to the next), it is exact:
 * every unreachable finalizable object finalized once, every weak
 * reference to an unreachable target NULL; and a heap snapshot
 * (gengc_heap_snapshot(), read by tests/heapsnapshot.h) has the model's
 * reachable objects per type, their pointer fields as edges, their sizes,
 * and the roots. After gengc_heap_free() every
 * finalizable object ever allocated has been finalized exactly once.
 *
 * Seed: random unless GENGC_MODEL_SEED is set (printed first; each
 * configuration derives its own from it). GENGC_SOAK=1 runs 20x longer
 * (make test-gc-soak).
 */
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "gengc.h"
#include "heapsnapshot.h"
#include "test.h"

enum kind { K_NODE, K_VEC, K_TRACE, K_RAW, K_STR, K_KINDS };

struct node {                   /* K_NODE: pointers at 0, 16, 32 */
	void *a;
	uint64_t id;
	void *b;
	uint64_t seed;
	void *c;
	uint64_t check;         /* id ^ seed */
};
static const uint32_t node_offsets[] = { 0, 16, 32 };
/* K_TRACE: words [id, seed, n, n pointers, tail words seed + i] */
#define TRACE_HDR 3

#define ROOTS 64
#define HOG_FIRST 48            /* root slots 48.. hold only the limit test's big blobs */
#define NGVARS 8
#define NHANDLES 16
#define NWEAK 64
#define CHECK_EVERY 250
#define LARGE_BLOB 140000       /* past the large-object threshold (<= 128 KiB) */
#define LARGE_VEC 17000         /* 136 KB of pointer slots */

/* ---- the model ---------------------------------------------------------------------- */
struct mobj {
	uint64_t seed;
	uint32_t *slots;        /* target ids, 0 = NULL; nslots entries */
	uint32_t nslots;
	uint32_t len;           /* raw/string: bytes asked for; trace: tail words */
	uint8_t kind;
	uint8_t finalized;      /* times the finalizer ran */
};

static struct mobj *m;
static uint32_t n_ids, max_ids; /* ids 1..n_ids-1 are allocated */
static uint32_t *m_seen, *m_walked;
static void **m_addr;           /* the walk's address of each reached id */
static uint32_t epoch;
static uint32_t *stack;
static void **pstack;

static struct gengc_heap *heap;
static uint32_t t_kind[K_KINDS];
static void *g_rootvec;         /* K_VEC of ROOTS slots, a global root */
static uint32_t rootvec_id;
static void *gvar[NGVARS];
static bool gvar_reg[NGVARS];
static uint32_t gvar_id[NGVARS];
static void **handle[NHANDLES]; /* in the outermost scope */
static uint32_t handle_id[NHANDLES];
static struct gengc_weak *weak[NWEAK];
static uint32_t weak_id[NWEAK];
static uint64_t rng;
static int failures;
static char snap_path[64];     /* the snapshot check's file, one per configuration */
static bool oom_seen;
static uint64_t oom_calls, near_calls;

#define FAILF(...) do { if (failures++ < 20) { printf("  " __VA_ARGS__); printf("\n"); } } while (0)

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint8_t blob_byte(uint64_t seed, uint32_t i) { return (uint8_t)(seed * 31 + i * 7); }
static char str_char(uint64_t seed, uint32_t i) { return (char)('a' + (seed + i) % 26); }

static bool has_finalizer(uint8_t kind) { return kind == K_NODE || kind == K_TRACE; }
static bool has_id(uint8_t kind) { return kind == K_NODE || kind == K_TRACE; }

/* The payload size gengc_size() must report (gengc.h: rounded up to 8, and
 * a zero-size request gets one word). */
static size_t expected_size(const struct mobj *o)
{
	size_t s;

	switch (o->kind) {
	case K_NODE: return sizeof(struct node);
	case K_VEC: return o->nslots * 8;
	case K_TRACE: return (TRACE_HDR + o->nslots + o->len) * 8;
	case K_RAW: s = o->len; break;
	default: s = (size_t)o->len + 1; break;
	}
	return s ? (s + 7) & ~(size_t)7 : 8;
}

static void **slot_addr(uint8_t kind, void *obj, uint32_t k)
{
	switch (kind) {
	case K_NODE: return (void **)((char *)obj + node_offsets[k]);
	case K_VEC: return (void **)obj + k;
	case K_TRACE: return (void **)obj + TRACE_HDR + k;
	default: return NULL;
	}
}

static void on_finalize(void *obj, void *ctx)
{
	uint8_t kind = (uint8_t)(uintptr_t)ctx;
	uint64_t id = kind == K_NODE ? ((struct node *)obj)->id : ((uint64_t *)obj)[0];
	uint64_t seed = kind == K_NODE ? ((struct node *)obj)->seed : ((uint64_t *)obj)[1];

	if (id == 0 || id >= n_ids || m[id].kind != kind || m[id].seed != seed) {
		FAILF("finalizer: object with bad id %llu or payload", (unsigned long long)id);
		return;
	}
	if (m[id].finalized++)
		FAILF("finalizer: id %llu finalized %u times", (unsigned long long)id, m[id].finalized);
}

static void trace_obj(void *obj, size_t size, struct gengc_tracer *t)
{
	uint64_t *w = obj;

	if (size < TRACE_HDR * 8 || (TRACE_HDR + w[2]) * 8 > size)
		abort();                /* the collector handed a wrong size */
	for (uint64_t i = 0; i < w[2]; i++)
		gengc_trace_slot(t, (void **)&w[TRACE_HDR + i]);
}

/* ---- model reachability and the heap walk -------------------------------------------- */
static void model_reach(void)
{
	uint32_t sp = 0;

	epoch++;
#define MPUSH(id) do { uint32_t i_ = (id); if (i_ && m_seen[i_] != epoch) { m_seen[i_] = epoch; stack[sp++] = i_; } } while (0)
	MPUSH(rootvec_id);
	for (int i = 0; i < NGVARS; i++)
		if (gvar_reg[i])
			MPUSH(gvar_id[i]);
	for (int i = 0; i < NHANDLES; i++)
		MPUSH(handle_id[i]);
	while (sp) {
		struct mobj *o = &m[stack[--sp]];

		for (uint32_t k = 0; k < o->nslots; k++)
			MPUSH(o->slots[k]);
	}
#undef MPUSH
}

static bool reachable(uint32_t id) { return m_seen[id] == epoch; }

static void check_object(void *p, uint32_t id)
{
	struct mobj *o = &m[id];

	if (gengc_type_of(p) != t_kind[o->kind])
		FAILF("id %u: type %u, model %u", id, gengc_type_of(p), t_kind[o->kind]);
	if (gengc_size(p) != expected_size(o))
		FAILF("id %u (kind %u): size %zu, model %zu", id, o->kind, gengc_size(p), expected_size(o));
	switch (o->kind) {
	case K_NODE: {
		struct node *n = p;

		if (n->id != id || n->seed != o->seed || n->check != (id ^ o->seed))
			FAILF("id %u: node payload changed", id);
		break;
	}
	case K_TRACE: {
		uint64_t *w = p;

		if (w[0] != id || w[1] != o->seed || w[2] != o->nslots)
			FAILF("id %u: trace header changed", id);
		for (uint32_t i = 0; i < o->len; i++)
			if (w[TRACE_HDR + o->nslots + i] != o->seed + i)
				FAILF("id %u: trace tail word %u changed", id, i);
		break;
	}
	case K_RAW:
		for (uint32_t i = 0; i < o->len; i++)
			if (((uint8_t *)p)[i] != blob_byte(o->seed, i)) {
				FAILF("id %u: blob byte %u changed", id, i);
				break;
			}
		break;
	case K_STR:
		for (uint32_t i = 0; i < o->len; i++)
			if (((char *)p)[i] != str_char(o->seed, i)) {
				FAILF("id %u: string byte %u changed", id, i);
				break;
			}
		if (((char *)p)[o->len])
			FAILF("id %u: string lost its NUL", id);
		break;
	}
}

/* Walks the heap from its roots alongside the model (model_reach() first):
 * the same objects, one address each, the same contents. */
static void heap_walk(void)
{
	uint32_t sp = 0, n_heap = 0, n_model = 0, we = epoch;

#define HPUSH(ptr, want) do { void *p_ = (ptr); uint32_t w_ = (want); \
	if (!w_ != !p_) FAILF("edge to id %u reads %p", w_, p_); \
	else if (w_ && m_walked[w_] == we) { \
		if (m_addr[w_] != p_) FAILF("id %u at two addresses %p %p", w_, m_addr[w_], p_); \
	} else if (w_) { m_walked[w_] = we; m_addr[w_] = p_; pstack[sp] = p_; stack[sp++] = w_; } } while (0)
	HPUSH(g_rootvec, rootvec_id);
	for (int i = 0; i < NGVARS; i++)
		if (gvar_reg[i])
			HPUSH(gvar[i], gvar_id[i]);
	for (int i = 0; i < NHANDLES; i++)
		HPUSH(*handle[i], handle_id[i]);
	while (sp && failures < 20) {
		uint32_t id = stack[--sp];
		void *p = pstack[sp];
		struct mobj *o = &m[id];

		n_heap++;
		check_object(p, id);
		for (uint32_t k = 0; k < o->nslots; k++)
			HPUSH(*slot_addr(o->kind, p, k), o->slots[k]);
	}
#undef HPUSH
	for (uint32_t id = 1; id < n_ids; id++)
		n_model += reachable(id);
	if (failures < 20 && n_model != n_heap)
		FAILF("model reaches %u objects, the heap %u", n_model, n_heap);
}

/* A weak reference must agree with the model (just walked); exact: right
 * after two full GCs. */
static void check_weak(int w, bool exact)
{
	uint32_t id = weak_id[w];
	void *t = gengc_weak_get(weak[w]);

	if (!t) {
		if (reachable(id))
			FAILF("weak ref to reachable id %u reads NULL", id);
		else if (m[id].finalized != 1)
			FAILF("weak ref to id %u cleared, finalized %u times", id, m[id].finalized);
		return;
	}
	if (exact && !reachable(id))
		FAILF("weak ref to unreachable id %u survived two full GCs", id);
	if (m[id].finalized)
		FAILF("weak ref to finalized id %u reads %p", id, t);
	else if ((m[id].kind == K_NODE ? ((struct node *)t)->id : ((uint64_t *)t)[0]) != id)
		FAILF("weak ref to id %u reads another object", id);
	else if (reachable(id) && m_addr[id] != t)
		FAILF("weak ref to id %u reads %p, the heap has it at %p", id, t, m_addr[id]);
}

static const char *const type_names[K_KINDS] = { "Node", "Vector", "Traced", "raw", "raw" };

/* A snapshot of the heap agrees with the model (model_reach() just ran). */
static void check_snapshot(void)
{
	size_t want_nodes[K_KINDS] = { 0 }, want_edges = 0, want_bytes = 0, want_handles = 0, want_globals = 1;
	size_t got_edges = 0, got_bytes = 0, got_handles = SIZE_MAX, got_globals = SIZE_MAX;
	struct graph g;
	int fd = open(snap_path, O_WRONLY | O_TRUNC | O_CLOEXEC), r;

	if (fd < 0) {
		FAILF("snapshot: cannot open %s", snap_path);
		return;
	}
	r = gengc_heap_snapshot(heap, fd);
	close(fd);
	if (r != 0 || !graph_read(&g, snap_path)) {
		FAILF("snapshot: written %d, unreadable", r);
		return;
	}
	for (uint32_t id = 1; id < n_ids; id++) {
		if (!reachable(id))
			continue;
		want_nodes[m[id].kind]++;
		want_bytes += expected_size(&m[id]) + 8;
		for (uint32_t k = 0; k < m[id].nslots; k++)
			want_edges += m[id].slots[k] != 0;
	}
	for (int i = 0; i < NHANDLES; i++)
		want_handles += handle_id[i] != 0;
	for (int i = 0; i < NGVARS; i++)
		want_globals += gvar_reg[i] && gvar_id[i];
	for (size_t i = 0; i < g.n_nodes; i++) {
		if (!strcmp(g.type[i], "synthetic")) {
			if (!strcmp(g.name[i], "(Handle scope)"))
				got_handles = g.edge_count[i];
			if (!strcmp(g.name[i], "(Global handles)"))
				got_globals = g.edge_count[i];
			continue;
		}
		got_edges += g.edge_count[i];
		got_bytes += g.self_size[i];
	}
	for (int k = 0; k < K_KINDS; k++) {
		size_t want = want_nodes[k] + (k == K_RAW ? want_nodes[K_STR] : 0);

		if (k != K_STR && count_named(&g, type_names[k]) != want)
			FAILF("snapshot: %zu %s nodes, the model reaches %zu", count_named(&g, type_names[k]),
			      type_names[k], want);
	}
	if (got_edges != want_edges)
		FAILF("snapshot: %zu edges between objects, the model has %zu pointer fields set", got_edges, want_edges);
	if (got_bytes != want_bytes)
		FAILF("snapshot: self sizes add up to %zu, the model's objects to %zu", got_bytes, want_bytes);
	if (got_handles != want_handles || got_globals != want_globals)
		FAILF("snapshot: %zu handle and %zu global root edges, the model has %zu and %zu", got_handles,
		      got_globals, want_handles, want_globals);
	graph_free(&g);
}

static void check_all(bool exact)
{
	char msg[256];

	if (gengc_verify(heap, msg, sizeof(msg)) != 0)
		FAILF("gengc_verify: %s", msg);
	model_reach();
	heap_walk();
	for (uint32_t id = 1; id < n_ids && failures < 20; id++) {
		if (reachable(id) && m[id].finalized)
			FAILF("reachable id %u was finalized", id);
		else if (exact && !reachable(id) && has_finalizer(m[id].kind) && m[id].finalized != 1)
			FAILF("unreachable id %u finalized %u times after two full GCs", id, m[id].finalized);
	}
	for (int w = 0; w < NWEAK; w++)
		if (weak[w])
			check_weak(w, exact);
	if (exact && failures == 0)
		check_snapshot();
}

/* ---- the mutator ------------------------------------------------------------------------ */
/* Allocates an object of kind k (random shape) and fills it; the model gets
 * its id. NULL when the heap is out of memory (or the model is full). */
static void *create(uint8_t k, uint32_t *ret_id)
{
	struct mobj o = { .seed = rnd(), .kind = k };
	void *p = NULL;
	uint32_t n;

	if (n_ids >= max_ids)
		return NULL;
	switch (k) {
	case K_NODE:
		o.nslots = 3;
		p = gengc_alloc(heap, t_kind[K_NODE]);
		break;
	case K_VEC:
		n = rnd() % 64 == 0 ? LARGE_VEC : (uint32_t)(rnd() % 9);
		o.nslots = n ? n : 1;   /* a zero-size request gets one (NULL) slot */
		p = gengc_alloc_size(heap, t_kind[K_VEC], (size_t)n * 8);
		break;
	case K_TRACE:
		o.nslots = (uint32_t)(rnd() % 5);
		o.len = (uint32_t)(rnd() % 4);
		p = gengc_alloc_size(heap, t_kind[K_TRACE], (TRACE_HDR + o.nslots + o.len) * 8);
		break;
	case K_RAW:
		o.len = rnd() % 48 == 0 ? LARGE_BLOB + (uint32_t)(rnd() % 4096) : (uint32_t)(rnd() % 300);
		p = gengc_alloc_raw(heap, o.len);
		break;
	case K_STR: {
		char buf[80];

		o.len = (uint32_t)(rnd() % 70);
		for (uint32_t i = 0; i < o.len; i++)
			buf[i] = str_char(o.seed, i);
		p = gengc_strndup(heap, buf, o.len);
		break;
	}
	}
	if (!p) {
		oom_seen = true;
		return NULL;
	}
	uint32_t id = n_ids++;

	if (o.nslots && !(o.slots = calloc(o.nslots, sizeof(*o.slots))))
		abort();
	m[id] = o;
	switch (k) {
	case K_NODE: {
		struct node *x = p;

		x->id = id;
		x->seed = o.seed;
		x->check = id ^ o.seed;
		break;
	}
	case K_TRACE: {
		uint64_t *w = p;

		w[0] = id;
		w[1] = o.seed;
		w[2] = o.nslots;
		for (uint32_t i = 0; i < o.len; i++)
			w[TRACE_HDR + o.nslots + i] = o.seed + i;
		break;
	}
	case K_RAW:
		for (uint32_t i = 0; i < o.len; i++)
			((uint8_t *)p)[i] = blob_byte(o.seed, i);
		break;
	}
	*ret_id = id;
	return p;
}

static uint8_t random_kind(void)
{
	uint64_t r = rnd() % 16;

	return r < 7 ? K_NODE : r < 10 ? K_VEC : r < 12 ? K_TRACE : r < 15 ? K_RAW : K_STR;
}

static void set_slot(void *obj, uint32_t id, uint32_t k, void *val, uint32_t val_id)
{
	gengc_write(heap, obj, slot_addr(m[id].kind, obj, k), val);
	m[id].slots[k] = val ? val_id : 0;
}

static void set_root(uint32_t r, void *val, uint32_t val_id)
{
	set_slot(g_rootvec, rootvec_id, r, val, val_id);
}

/* A random reachable object: a random root, then a few random edges, in
 * the heap and the model side by side. NULL when the path ends at none. */
static void *pick(uint32_t *ret_id)
{
	void *p;
	uint32_t id;
	uint64_t r = rnd() % 8;

	if (r < 5) {
		uint32_t k = (uint32_t)(rnd() % ROOTS);

		p = ((void **)g_rootvec)[k];
		id = m[rootvec_id].slots[k];
	} else if (r < 7) {
		uint32_t k = (uint32_t)(rnd() % NHANDLES);

		p = *handle[k];
		id = handle_id[k];
	} else {
		uint32_t k = (uint32_t)(rnd() % NGVARS);

		p = gvar_reg[k] ? gvar[k] : NULL;
		id = gvar_reg[k] ? gvar_id[k] : 0;
	}
	for (int steps = (int)(rnd() % 7); p && steps; steps--) {
		struct mobj *o = &m[id];
		uint32_t k;

		if (!o->nslots)
			break;
		k = (uint32_t)(rnd() % o->nslots);
		if (!o->slots[k])
			continue;
		p = *slot_addr(o->kind, p, k);
		id = o->slots[k];
	}
	if (!p != !id) {
		FAILF("pick: heap %p, model id %u", p, id);
		return NULL;
	}
	*ret_id = id;
	return p;
}

/* Links a new object (held by a handle) somewhere reachable: a slot of a
 * picked object (often old: an old->young store) or a root slot. */
static void attach(void **hn, uint32_t nid)
{
	uint32_t xid;
	void *x = pick(&xid);

	if (x && m[xid].nslots && rnd() % 4)
		set_slot(x, xid, (uint32_t)(rnd() % m[xid].nslots), *hn, nid);
	else
		set_root((uint32_t)(rnd() % HOG_FIRST), *hn, nid);
}

static void op_new(void)
{
	uint32_t id;
	void *p = create(random_kind(), &id);

	if (p)
		attach(gengc_handle(heap, p), id);
}

/* A chain of nodes built in an escapable scope; the head escapes. */
static void op_escape_chain(void)
{
	struct gengc_scope s;
	void **head = NULL;
	uint32_t head_id = 0, prev_id = 0, len = 2 + (uint32_t)(rnd() % 40);
	void **prev;

	gengc_scope_open_escapable(heap, &s);
	prev = gengc_handle(heap, NULL);
	for (uint32_t i = 0; i < len; i++) {
		uint32_t id;
		void *n = create(i % 5 == 4 ? random_kind() : K_NODE, &id);

		if (!n)
			break;
		if (*prev && m[prev_id].nslots)
			set_slot(*prev, prev_id, (uint32_t)(rnd() % m[prev_id].nslots), n, id);
		else if (*prev)
			break;
		if (!head_id) {
			head = gengc_scope_escape(&s, n);
			head_id = id;
		}
		*prev = n;              /* writing a handle is a plain store */
		prev_id = id;
	}
	gengc_scope_close(heap, &s);
	if (head_id)
		attach(head, head_id);
}

static void op_rewire(void)
{
	uint32_t aid, bid;
	void *a = pick(&aid), **ha = gengc_handle(heap, a);
	void *b = pick(&bid);

	a = *ha;
	if (a && m[aid].nslots)
		set_slot(a, aid, (uint32_t)(rnd() % m[aid].nslots), rnd() % 6 ? b : NULL, bid);
}

static void op_roots(void)
{
	uint32_t id = 0;
	uint64_t r = rnd() % 10;

	if (r < 4) {
		set_root((uint32_t)(rnd() % HOG_FIRST), NULL, 0);
	} else if (r < 7) {             /* a long-lived handle, written in place */
		uint32_t k = (uint32_t)(rnd() % NHANDLES);
		void *p = rnd() % 4 ? pick(&id) : NULL;

		*handle[k] = p;
		handle_id[k] = p ? id : 0;
	} else {                        /* a global root comes or goes */
		uint32_t k = (uint32_t)(rnd() % NGVARS);

		if (gvar_reg[k]) {
			if (gengc_root_remove(heap, &gvar[k]) != 0)
				FAILF("gengc_root_remove failed");
			gvar_reg[k] = false;
			gvar[k] = NULL;
			gvar_id[k] = 0;
		} else {
			void *p = pick(&id);

			gvar[k] = p;
			if (gengc_root_add(heap, &gvar[k]) != 0)
				FAILF("gengc_root_add failed");
			gvar_reg[k] = true;
			gvar_id[k] = p ? id : 0;
		}
	}
}

static void op_weak(void)
{
	int w = (int)(rnd() % NWEAK);
	uint32_t id;

	if (rnd() % 3 == 0 && weak[w]) {        /* resurrect through the weak ref */
		void *t = gengc_weak_get(weak[w]);

		if (!t)
			return;
		/* Reachability is as of the last check: only the target's own state. */
		if (m[weak_id[w]].finalized || ((uint64_t *)t)[m[weak_id[w]].kind == K_NODE ? 1 : 0] != weak_id[w]) {
			FAILF("weak ref to id %u reads a finalized or other object", weak_id[w]);
			return;
		}
		set_root((uint32_t)(rnd() % HOG_FIRST), t, weak_id[w]);
		return;
	}
	void *p = pick(&id);

	if (!p || !has_id(m[id].kind))
		return;
	weak[w] = gengc_weak_free(heap, weak[w]);
	weak[w] = gengc_weak_new(heap, p);
	weak_id[w] = id;
	if (!weak[w])
		FAILF("gengc_weak_new failed");
}

/* Garbage: objects nobody keeps, some linked to each other. */
static void op_churn(void)
{
	void **prev = gengc_handle(heap, NULL);
	uint32_t prev_id = 0;

	for (int i = 0, n = 5 + (int)(rnd() % 40); i < n; i++) {
		uint32_t id;
		void *p = create(random_kind(), &id);

		if (!p)
			return;
		if (*prev && m[prev_id].nslots && rnd() % 2)
			set_slot(*prev, prev_id, 0, p, id);
		*prev = p;
		prev_id = id;
	}
}

/* A new root vector, keeping every other slot: the old one becomes garbage. */
static void op_new_rootvec(void)
{
	void *nv = gengc_alloc_size(heap, t_kind[K_VEC], ROOTS * 8);
	uint32_t id;

	if (!nv) {
		oom_seen = true;
		return;
	}
	id = n_ids++;
	m[id] = (struct mobj){ .kind = K_VEC, .nslots = ROOTS, .slots = calloc(ROOTS, sizeof(uint32_t)) };
	if (!m[id].slots)
		abort();
	for (uint32_t k = 0; k < ROOTS; k += 2)
		set_slot(nv, id, k, ((void **)g_rootvec)[k], m[rootvec_id].slots[k]);
	g_rootvec = nv;
	rootvec_id = id;
}

/* The limit configuration: big blobs on root slots until the heap is full. */
static void op_hog(void)
{
	const uint32_t len = 1024 * 1024;
	uint8_t *p = gengc_alloc_raw(heap, len);
	uint32_t id;

	if (!p) {
		oom_seen = true;
		return;
	}
	id = n_ids++;
	m[id] = (struct mobj){ .kind = K_RAW, .len = len, .seed = rnd() };
	for (uint32_t i = 0; i < len; i++)
		p[i] = blob_byte(m[id].seed, i);
	set_root(HOG_FIRST + (uint32_t)(rnd() % (ROOTS - HOG_FIRST)), p, id);
}

struct config {
	const char *name;
	void (*tune)(struct gengc_options *o);
	long ops;               /* before GENGC_SOAK */
	bool hog;               /* the small-limit configuration */
};

static void step(const struct config *c)
{
	struct gengc_scope s;
	uint64_t op = rnd() % 100;

	gengc_scope_open(heap, &s);
	if (c->hog && op < 8)
		op_hog();
	else if (op < 35)
		op_new();
	else if (op < 42)
		op_escape_chain();
	else if (op < 62)
		op_rewire();
	else if (op < 74)
		op_roots();
	else if (op < 80)
		op_weak();
	else if (op < 96)
		op_churn();
	else if (op < 97)
		op_new_rootvec();
	else if (gengc_collect(heap, (enum gengc_gc_kind)(rnd() % 3)) != 0)
		FAILF("gengc_collect failed");
	gengc_scope_close(heap, &s);
	if (oom_seen) {                 /* out of memory: let go of half the roots */
		for (uint32_t k = 0; k < ROOTS; k++)
			if (rnd() % 2)
				set_root(k, NULL, 0);
		oom_seen = false;
	}
}

static void on_oom(struct gengc_heap *h, const char *report, void *ctx)
{
	(void)h;
	(void)ctx;
	if (!strstr(report, "heap limit reached"))
		FAILF("OOM report: %s", report);
	oom_calls++;
}

/* Raises the limit once by 4 MiB, then refuses. */
static uint32_t on_near_limit(struct gengc_heap *h, uint32_t limit_mib, uint32_t used_mib, void *ctx)
{
	(void)h;
	(void)used_mib;
	(void)ctx;
	return near_calls++ == 0 ? limit_mib + 4 : limit_mib;
}

static uint64_t base_seed;

static void run_config(const struct config *c)
{
	uint64_t seed = base_seed;
	long ops = c->ops * (getenv("GENGC_SOAK") ? 20 : 1);
	struct gengc_type types[K_KINDS] = {
		[K_NODE] = { .name = "Node", .size = sizeof(struct node), .n_pointers = 3,
			     .pointer_offsets = node_offsets, .finalize = on_finalize,
			     .finalize_ctx = (void *)(uintptr_t)K_NODE },
		[K_VEC] = { .name = "Vector", .flags = GENGC_TYPE_ALL_POINTERS },
		[K_TRACE] = { .name = "Traced", .trace = trace_obj, .finalize = on_finalize,
			      .finalize_ctx = (void *)(uintptr_t)K_TRACE },
	};
	struct gengc_options o;
	struct gengc_stats st;
	struct gengc_scope outer;
	uint64_t requested_compactions = 0;

	for (const char *p = c->name; *p; p++)    /* each configuration its own stream */
		seed = seed * 131 + (uint8_t)*p;
	rng = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
	if (!rng)
		rng = 1;
	failures = 0;
	oom_seen = false;
	oom_calls = near_calls = 0;
	max_ids = (uint32_t)(ops * 30 + 1000);
	n_ids = 1;
	m = calloc(max_ids, sizeof(*m));
	m_seen = calloc(max_ids, sizeof(*m_seen));
	m_walked = calloc(max_ids, sizeof(*m_walked));
	m_addr = calloc(max_ids, sizeof(*m_addr));
	stack = calloc(max_ids, sizeof(*stack));
	pstack = calloc(max_ids, sizeof(*pstack));
	REQUIRE(m && m_seen && m_walked && m_addr && stack && pstack);
	snprintf(snap_path, sizeof(snap_path), "/tmp/gengc-model-XXXXXX");
	int snap_fd = mkstemp(snap_path);

	REQUIRE(snap_fd >= 0);
	close(snap_fd);
	memset(gvar, 0, sizeof(gvar));
	memset(gvar_reg, 0, sizeof(gvar_reg));
	memset(gvar_id, 0, sizeof(gvar_id));
	memset(handle_id, 0, sizeof(handle_id));
	memset(weak, 0, sizeof(weak));

	gengc_options_init(&o);
	c->tune(&o);
	heap = gengc_heap_new(&o);
	REQUIRE(heap);
	for (int k = 0; k < K_KINDS; k++) {
		if (k == K_RAW || k == K_STR)
			t_kind[k] = GENGC_TYPE_RAW;
		else
			REQUIRE(gengc_type_register(heap, &types[k], &t_kind[k]) == 0);
	}
	gengc_set_oom_callback(heap, on_oom, NULL);
	gengc_set_near_limit_callback(heap, on_near_limit, NULL);
	gengc_scope_open(heap, &outer);
	for (int i = 0; i < NHANDLES; i++)
		handle[i] = gengc_handle(heap, NULL);
	g_rootvec = gengc_alloc_size(heap, t_kind[K_VEC], ROOTS * 8);
	REQUIRE(g_rootvec);
	REQUIRE(gengc_root_add(heap, &g_rootvec) == 0);
	rootvec_id = n_ids++;
	m[rootvec_id] = (struct mobj){ .kind = K_VEC, .nslots = ROOTS, .slots = calloc(ROOTS, sizeof(uint32_t)) };
	REQUIRE(m[rootvec_id].slots);

	for (long i = 1; i <= ops && failures == 0 && n_ids + 200 < max_ids; i++) {
		step(c);
		if (i % CHECK_EVERY)
			continue;
		if (i % (4 * CHECK_EVERY) == 0) {
			enum gengc_gc_kind k = rnd() % 2 ? GENGC_GC_MARK_COMPACT : GENGC_GC_MARK_SWEEP;

			requested_compactions += k == GENGC_GC_MARK_COMPACT;
			if (gengc_collect(heap, k) != 0 || gengc_collect(heap, GENGC_GC_MARK_SWEEP) != 0)
				FAILF("gengc_collect failed");
			check_all(true);
		} else {
			check_all(false);
		}
	}
	gengc_collect(heap, GENGC_GC_MARK_SWEEP);
	gengc_collect(heap, GENGC_GC_MARK_SWEEP);
	check_all(true);
	gengc_stats_read(heap, &st);
	printf("  %s: %u objects; %llu scavenges, %llu mark-sweeps, %llu mark-compacts (%llu requested), "
	       "%llu incremental cycles, %llu OOM / %llu near-limit calls\n", c->name, n_ids - 1,
	       (unsigned long long)st.gc[0].count, (unsigned long long)st.gc[1].count,
	       (unsigned long long)st.gc[2].count, (unsigned long long)requested_compactions,
	       (unsigned long long)st.incremental_marking_cycles, (unsigned long long)oom_calls,
	       (unsigned long long)near_calls);
	/* The configuration did what it is named for. */
	if (o.stress != 2)
		CHECK(st.gc[GENGC_GC_SCAVENGE].count >= 10);
	if (o.stress == 1)
		CHECK_CMP(st.gc[GENGC_GC_SCAVENGE].count, >=, (uint64_t)ops);
	if (o.stress == 2)
		CHECK_CMP(st.full_gcs, >=, (uint64_t)ops);
	if (o.incremental_marking)
		CHECK(st.incremental_marking_cycles >= 1);
	if (o.compact_threshold_pct == 0)
		CHECK_CMP(st.gc[GENGC_GC_MARK_COMPACT].count, >, requested_compactions);
	if (c->hog) {
		CHECK(oom_calls >= 1);
		CHECK(near_calls >= 2);                 /* one raise, then refusals */
		CHECK_U64(st.oom_calls, oom_calls);
	}

	for (int w = 0; w < NWEAK; w++)
		weak[w] = gengc_weak_free(heap, weak[w]);
	gengc_scope_close(heap, &outer);
	heap = gengc_heap_free(heap);
	/* gengc_heap_free() finalizes what was still live: now every
	 * finalizable object ever allocated was finalized exactly once. */
	for (uint32_t id = 1; id < n_ids && failures < 20; id++)
		if (has_finalizer(m[id].kind) && m[id].finalized != 1)
			FAILF("id %u finalized %u times by the end", id, m[id].finalized);
	CHECK_EQ(failures, 0);
	if (failures)
		printf("  %s: reproduce with GENGC_MODEL_SEED=%llu\n", c->name, (unsigned long long)base_seed);
	for (uint32_t id = 1; id < n_ids; id++)
		free(m[id].slots);
	free(m); free(m_seen); free(m_walked); free(m_addr); free(stack); free(pstack);
	unlink(snap_path);
}

/* ---- the configurations ------------------------------------------------------------------- */
static void tune_default(struct gengc_options *o) { o->verify = 1; }
static void tune_stress_scavenge(struct gengc_options *o) { o->stress = 1; }
static void tune_stress_full(struct gengc_options *o) { o->stress = 2; }
static void tune_incremental(struct gengc_options *o)
{
	o->verify = 1;
	o->incremental_marking = 1;
	o->marking_step = 4;                    /* tiny steps: the barrier works hard */
	o->initial_old_space_size = 1;
}
static void tune_age0(struct gengc_options *o) { o->verify = 1; o->promotion_age = 0; }
static void tune_age1(struct gengc_options *o) { o->verify = 1; o->promotion_age = 1; }
static void tune_age2(struct gengc_options *o) { o->verify = 1; o->promotion_age = 2; }
static void tune_tiny_semispaces(struct gengc_options *o)
{
	o->verify = 1;
	o->min_semi_space_size = o->max_semi_space_size = 1;
	o->initial_old_space_size = 1;
}
static void tune_compact_always(struct gengc_options *o)
{
	o->verify = 1;
	o->compact_threshold_pct = 0;           /* every full GC compacts */
	o->initial_old_space_size = 1;
}
static void tune_small_limit(struct gengc_options *o)
{
	o->verify = 1;
	o->max_old_space_size = 8;
	o->max_semi_space_size = 1;
	o->initial_old_space_size = 2;
}

static const struct config configs[] = {
	{ "default", tune_default, 40000, false },
	{ "stress_scavenge", tune_stress_scavenge, 8000, false },
	{ "stress_full", tune_stress_full, 2000, false },
	{ "incremental_tiny_steps", tune_incremental, 40000, false },
	{ "promotion_age_0", tune_age0, 24000, false },
	{ "promotion_age_1", tune_age1, 24000, false },
	{ "promotion_age_2", tune_age2, 24000, false },
	{ "tiny_semispaces", tune_tiny_semispaces, 30000, false },
	{ "compact_every_full_gc", tune_compact_always, 30000, false },
	{ "small_limit_oom", tune_small_limit, 24000, true },
};

static const struct config *current;
static void run_current(void) { run_config(current); }

int main(void)
{
	const char *seed_env = getenv("GENGC_MODEL_SEED");

	base_seed = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	printf("  seed %llu (reproduce: GENGC_MODEL_SEED=%llu)\n", (unsigned long long)base_seed,
	       (unsigned long long)base_seed);
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
		char name[64];

		current = &configs[i];
		snprintf(name, sizeof(name), "model_%s", configs[i].name);
		test_run(name, run_current);
	}
	return test_done();
}
