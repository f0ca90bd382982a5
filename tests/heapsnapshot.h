/* SPDX-License-Identifier: MIT */
/* A reader of V8's .heapsnapshot format for the GC tests: a small JSON parser, the graph by meta's field names, dominators.
 *
 * Independent of gc/snapshot.c: it reads what DevTools reads (field
 * positions from snapshot.meta, edges as the next edge_count entries of
 * each node, to_node as an offset into "nodes") and knows nothing of how
 * libgengc lays its nodes out. Used by tests/test_gc_snapshot.c and
 * tests/test_gc_model.c.
 */
#ifndef GENGC_TEST_HEAPSNAPSHOT_H
#define GENGC_TEST_HEAPSNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* ---- a small JSON parser ------------------------------------------------------------ */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
struct jval {
	enum jtype type;
	double num;
	char *str;              /* J_STR; J_OBJ: keys in kids[i].key */
	char *key;
	struct jval *kids;
	size_t n;
};

struct jparser {
	const char *p, *end;
	bool bad;
};

static inline void jskip(struct jparser *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static inline bool jparse(struct jparser *j, struct jval *v);

static inline char *jstring(struct jparser *j)
{
	size_t cap = 16, n = 0;
	char *s = malloc(cap);

	j->p++;                 /* the opening quote */
	while (s && j->p < j->end && *j->p != '"') {
		char c = *j->p++;

		if (c == '\\' && j->p < j->end) {
			c = *j->p++;
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'u' && j->end - j->p >= 4) {
				c = (char)strtol((char[]){ j->p[0], j->p[1], j->p[2], j->p[3], 0 }, NULL, 16);
				j->p += 4;
			}
		}
		if (n + 2 > cap && !(s = realloc(s, cap *= 2)))
			break;
		s[n++] = c;
	}
	if (!s || j->p >= j->end) {
		free(s);
		j->bad = true;
		return NULL;
	}
	j->p++;
	s[n] = 0;
	return s;
}

static inline bool jlist(struct jparser *j, struct jval *v, char close, bool keys)
{
	size_t cap = 0;

	j->p++;
	jskip(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return true;
	}
	for (;;) {
		char *key = NULL;

		jskip(j);
		if (keys) {
			if (j->p >= j->end || *j->p != '"' || !(key = jstring(j)))
				return false;
			jskip(j);
			if (j->p >= j->end || *j->p++ != ':') {
				free(key);
				return false;
			}
		}
		if (v->n == cap) {
			struct jval *k = realloc(v->kids, (cap = cap ? cap * 2 : 8) * sizeof(*k));

			if (!k) {
				free(key);
				return false;
			}
			v->kids = k;
		}
		memset(&v->kids[v->n], 0, sizeof(v->kids[0]));
		v->kids[v->n].key = key;
		if (!jparse(j, &v->kids[v->n++]))
			return false;
		jskip(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			return true;
		}
		return false;
	}
}

static inline bool jparse(struct jparser *j, struct jval *v)
{
	jskip(j);
	if (j->p >= j->end)
		return false;
	switch (*j->p) {
	case '{': v->type = J_OBJ; return jlist(j, v, '}', true);
	case '[': v->type = J_ARR; return jlist(j, v, ']', false);
	case '"': v->type = J_STR; return (v->str = jstring(j)) != NULL;
	case 'n': v->type = J_NULL; j->p += 4; return j->p <= j->end;
	case 't': v->type = J_BOOL; v->num = 1; j->p += 4; return j->p <= j->end;
	case 'f': v->type = J_BOOL; j->p += 5; return j->p <= j->end;
	default: {
		char *e;

		v->type = J_NUM;
		v->num = strtod(j->p, &e);
		if (e == j->p)
			return false;
		j->p = e;
		return true;
	}
	}
}

static inline void jfree(struct jval *v)
{
	for (size_t i = 0; i < v->n; i++)
		jfree(&v->kids[i]);
	free(v->kids);
	free(v->str);
	free(v->key);
}

static inline const struct jval *jget(const struct jval *o, const char *key)
{
	if (!o || o->type != J_OBJ)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (!strcmp(o->kids[i].key, key))
			return &o->kids[i];
	return NULL;
}

static inline long jindex(const struct jval *arr, const char *name)
{
	for (size_t i = 0; arr && arr->type == J_ARR && i < arr->n; i++)
		if (arr->kids[i].type == J_STR && !strcmp(arr->kids[i].str, name))
			return (long)i;
	return -1;
}

/* ---- the snapshot as a graph ------------------------------------------------------------- */
struct graph {
	size_t n_nodes, n_edges;
	const char **type, **name;      /* per node */
	uint64_t *id, *self_size;
	size_t *first_edge, *edge_count;
	const char **edge_type;         /* per edge */
	long *edge_index;               /* element edges: the index */
	size_t *edge_to;                /* node index */
	struct jval doc;
};

static inline void graph_free(struct graph *g)
{
	free(g->type); free(g->name); free(g->id); free(g->self_size); free(g->first_edge);
	free(g->edge_count); free(g->edge_type); free(g->edge_index); free(g->edge_to);
	jfree(&g->doc);
}

/* Reads a .heapsnapshot the way DevTools does: field positions from meta. */
static inline bool graph_read(struct graph *g, const char *path)
{
	size_t len;
	char *text = test_slurp(path, &len);
	struct jparser j = { text, text + len, false };
	bool ok;

	memset(g, 0, sizeof(*g));
	if (!text)
		return false;
	ok = jparse(&j, &g->doc) && !j.bad;
	free(text);
	if (!ok)
		return false;
	const struct jval *snap = jget(&g->doc, "snapshot"), *meta = jget(snap, "meta");
	const struct jval *nf = jget(meta, "node_fields"), *ef = jget(meta, "edge_fields");
	const struct jval *nt = jget(meta, "node_types"), *et = jget(meta, "edge_types");
	const struct jval *nodes = jget(&g->doc, "nodes"), *edges = jget(&g->doc, "edges");
	const struct jval *strings = jget(&g->doc, "strings");

	if (!nf || !ef || !nt || !et || !nodes || !edges || !strings || nt->n < 1 || et->n < 1)
		return false;
	long f_type = jindex(nf, "type"), f_name = jindex(nf, "name"), f_id = jindex(nf, "id");
	long f_size = jindex(nf, "self_size"), f_ec = jindex(nf, "edge_count");
	long e_type = jindex(ef, "type"), e_name = jindex(ef, "name_or_index"), e_to = jindex(ef, "to_node");
	size_t nfn = nf->n, efn = ef->n;

	if (f_type < 0 || f_name < 0 || f_id < 0 || f_size < 0 || f_ec < 0 || e_type < 0 || e_name < 0 ||
	    e_to < 0 || nodes->n % nfn || edges->n % efn)
		return false;
	g->n_nodes = nodes->n / nfn;
	g->n_edges = edges->n / efn;
	if ((double)g->n_nodes != jget(snap, "node_count")->num || (double)g->n_edges != jget(snap, "edge_count")->num)
		return false;
	g->type = calloc(g->n_nodes, sizeof(*g->type));
	g->name = calloc(g->n_nodes, sizeof(*g->name));
	g->id = calloc(g->n_nodes, sizeof(*g->id));
	g->self_size = calloc(g->n_nodes, sizeof(*g->self_size));
	g->first_edge = calloc(g->n_nodes, sizeof(*g->first_edge));
	g->edge_count = calloc(g->n_nodes, sizeof(*g->edge_count));
	g->edge_type = calloc(g->n_edges + 1, sizeof(*g->edge_type));
	g->edge_index = calloc(g->n_edges + 1, sizeof(*g->edge_index));
	g->edge_to = calloc(g->n_edges + 1, sizeof(*g->edge_to));
	if (!g->type || !g->name || !g->id || !g->self_size || !g->first_edge || !g->edge_count ||
	    !g->edge_type || !g->edge_index || !g->edge_to)
		return false;
	size_t e = 0;

	for (size_t i = 0; i < g->n_nodes; i++) {
		const struct jval *f = &nodes->kids[i * nfn];
		size_t t = (size_t)f[f_type].num, s = (size_t)f[f_name].num;

		if (t >= nt->kids[0].n || s >= strings->n)
			return false;
		g->type[i] = nt->kids[0].kids[t].str;
		g->name[i] = strings->kids[s].str;
		g->id[i] = (uint64_t)f[f_id].num;
		g->self_size[i] = (uint64_t)f[f_size].num;
		g->first_edge[i] = e;
		g->edge_count[i] = (size_t)f[f_ec].num;
		e += g->edge_count[i];
	}
	if (e != g->n_edges)
		return false;
	for (size_t k = 0; k < g->n_edges; k++) {
		const struct jval *f = &edges->kids[k * efn];
		size_t t = (size_t)f[e_type].num, to = (size_t)f[e_to].num;

		if (t >= et->kids[0].n || to % nfn || to / nfn >= g->n_nodes)
			return false;
		g->edge_type[k] = et->kids[0].kids[t].str;
		g->edge_index[k] = (long)f[e_name].num;
		g->edge_to[k] = to / nfn;
	}
	return true;
}

static inline size_t count_named(const struct graph *g, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < g->n_nodes; i++)
		n += !strcmp(g->name[i], name);
	return n;
}

/* Retained sizes: immediate dominators from node 0 (Cooper, Harvey,
 * Kennedy: "A Simple, Fast Dominance Algorithm"), then each node's self
 * size added to all its dominators. ret_idom, when not NULL, gets the
 * immediate dominators (SIZE_MAX: unreachable; the caller frees them). */
static inline uint64_t *retained_sizes_idom(const struct graph *g, size_t **ret_idom)
{
	size_t n = g->n_nodes, k = 0, sp = 0;
	size_t *order = malloc(n * sizeof(*order)), *po = malloc(n * sizeof(*po));
	size_t *idom = malloc(n * sizeof(*idom)), *stack = malloc(n * sizeof(*stack)), *next = calloc(n, sizeof(*next));
	size_t *pred_start = calloc(n + 1, sizeof(*pred_start)), *preds = malloc((g->n_edges + 1) * sizeof(*preds));
	uint64_t *ret = calloc(n, sizeof(*ret));
	bool changed = true;

	if (!order || !po || !idom || !stack || !next || !pred_start || !preds || !ret)
		abort();
	for (size_t i = 0; i < n; i++)
		po[i] = SIZE_MAX;
	/* Iterative DFS postorder from the root. */
	stack[sp++] = 0;
	po[0] = SIZE_MAX - 1;   /* on the stack */
	while (sp) {
		size_t v = stack[sp - 1];

		if (next[v] < g->edge_count[v]) {
			size_t w = g->edge_to[g->first_edge[v] + next[v]++];

			if (po[w] == SIZE_MAX) {
				po[w] = SIZE_MAX - 1;
				stack[sp++] = w;
			}
		} else {
			sp--;
			po[v] = k;
			order[k++] = v;
		}
	}
	for (size_t v = 0; v < n; v++)
		for (size_t e = g->first_edge[v]; e < g->first_edge[v] + g->edge_count[v]; e++)
			pred_start[g->edge_to[e] + 1]++;
	for (size_t v = 0; v < n; v++)
		pred_start[v + 1] += pred_start[v];
	memset(next, 0, n * sizeof(*next));
	for (size_t v = 0; v < n; v++)
		for (size_t e = g->first_edge[v]; e < g->first_edge[v] + g->edge_count[v]; e++) {
			size_t w = g->edge_to[e];

			preds[pred_start[w] + next[w]++] = v;
		}
	for (size_t v = 0; v < n; v++)
		idom[v] = SIZE_MAX;
	idom[0] = 0;
	while (changed) {
		changed = false;
		for (size_t i = k; i-- > 0;) {          /* reverse postorder */
			size_t b = order[i], nd = SIZE_MAX;

			if (b == 0)
				continue;
			for (size_t p = pred_start[b]; p < pred_start[b + 1]; p++) {
				size_t q = preds[p];

				if (idom[q] == SIZE_MAX || po[q] >= SIZE_MAX - 1)
					continue;
				if (nd == SIZE_MAX) {
					nd = q;
					continue;
				}
				size_t a = q, c = nd;   /* intersect */

				while (a != c) {
					while (po[a] < po[c])
						a = idom[a];
					while (po[c] < po[a])
						c = idom[c];
				}
				nd = a;
			}
			if (nd != SIZE_MAX && idom[b] != nd) {
				idom[b] = nd;
				changed = true;
			}
		}
	}
	/* Postorder: every node comes before its dominators. */
	for (size_t i = 0; i < k; i++)
		ret[order[i]] += g->self_size[order[i]];
	for (size_t i = 0; i < k; i++)
		if (order[i] != 0)
			ret[idom[order[i]]] += ret[order[i]];
	if (ret_idom)
		*ret_idom = idom;
	else
		free(idom);
	free(order); free(po); free(stack); free(next); free(pred_start); free(preds);
	return ret;
}

static inline uint64_t *retained_sizes(const struct graph *g)
{
	return retained_sizes_idom(g, NULL);
}

#endif
