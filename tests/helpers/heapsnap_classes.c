/* SPDX-License-Identifier: MIT */
/* Classes of a .heapsnapshot by retained size, for tests of snapshots other programs wrote (it_node: V8's).
 *
 *   heapsnap_classes FILE TOP [CLASS]
 *
 * Prints "nodes N" and then the TOP classes by retained size as
 * "class NAME count C retained R holds H", H being 1 for a holder of CLASS:
 * a class with an instance that dominates an instance of CLASS (the Map
 * that caches it, its backing store, the scope that keeps the Map). A
 * holder's retained size is at least what it holds, so "the top class" of
 * a leak is the top one among the classes that do not hold it; that one is
 * printed last as "top NAME". A class is what DevTools' summary groups
 * by: the constructor name of an "object" node, "(TYPE)" for the others;
 * synthetic nodes (the roots) are no class. A class's retained size is the
 * sum of its instances' retained sizes, leaving out the instances another
 * instance of the class dominates (DevTools' rule, so nothing counts twice).
 * The reader is tests/heapsnapshot.h, which knows nothing of who wrote the file.
 */
#include <stdio.h>

#include "heapsnapshot.h"

struct cls {
	const char *name;
	char buf[64];
	size_t count;
	uint64_t retained;
	bool holds;
};

static const char *class_of(const struct graph *g, size_t i, char *buf, size_t n)
{
	if (!strcmp(g->type[i], "object"))
		return g->name[i];
	snprintf(buf, n, "(%s)", g->type[i]);
	return buf;
}

int main(int argc, char **argv)
{
	struct graph g;
	struct cls *c;
	size_t n_cls = 0, top = argc > 2 ? (size_t)atoi(argv[2]) : 5, *idom, *cls_of;
	const char *want = argc > 3 ? argv[3] : NULL;
	uint64_t *ret;

	if (argc < 2 || !graph_read(&g, argv[1])) {
		fprintf(stderr, "heapsnap_classes: cannot read %s as a heap snapshot\n", argc > 1 ? argv[1] : "(none)");
		return 1;
	}
	ret = retained_sizes_idom(&g, &idom);
	c = calloc(g.n_nodes, sizeof(*c));
	cls_of = calloc(g.n_nodes, sizeof(*cls_of));
	if (!c || !cls_of)
		return 1;
	/* Classes by name in an open-addressed hash: V8 writes ~100k nodes. */
	size_t cap = 1;
	while (cap < 2 * g.n_nodes)
		cap <<= 1;
	size_t *slot = malloc(cap * sizeof(*slot));
	if (!slot)
		return 1;
	for (size_t i = 0; i < cap; i++)
		slot[i] = SIZE_MAX;
	for (size_t i = 0; i < g.n_nodes; i++) {
		char buf[64];
		const char *name;
		uint64_t h = 1469598103934665603ull;

		cls_of[i] = SIZE_MAX;
		if (!strcmp(g.type[i], "synthetic") || idom[i] == SIZE_MAX)
			continue;
		name = class_of(&g, i, buf, sizeof(buf));
		for (const char *p = name; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		size_t s = h & (cap - 1);
		while (slot[s] != SIZE_MAX && strcmp(c[slot[s]].name, name))
			s = (s + 1) & (cap - 1);
		if (slot[s] == SIZE_MAX) {
			slot[s] = n_cls;
			snprintf(c[n_cls].buf, sizeof(c[n_cls].buf), "%s", name);
			c[n_cls].name = name == buf ? c[n_cls].buf : name;
			n_cls++;
		}
		cls_of[i] = slot[s];
	}
	for (size_t i = 0; i < g.n_nodes; i++) {
		size_t k = cls_of[i], a = idom[i];
		bool nested = false;

		if (k == SIZE_MAX)
			continue;
		c[k].count++;
		while (a != 0 && a != SIZE_MAX && !nested) {
			nested = cls_of[a] == k;
			a = idom[a];
		}
		if (!nested)
			c[k].retained += ret[i];
	}
	for (size_t i = 0; want && i < g.n_nodes; i++) {
		if (cls_of[i] == SIZE_MAX || strcmp(c[cls_of[i]].name, want))
			continue;
		for (size_t a = idom[i]; a != 0 && a != SIZE_MAX; a = idom[a])
			if (cls_of[a] != SIZE_MAX && cls_of[a] != cls_of[i])
				c[cls_of[a]].holds = true;
	}
	printf("nodes %zu\n", g.n_nodes);
	for (size_t t = 0; t < top && t < n_cls; t++) {
		size_t best = t;

		for (size_t k = t + 1; k < n_cls; k++)
			if (c[k].retained > c[best].retained)
				best = k;
		struct cls tmp = c[t];
		c[t] = c[best];
		c[best] = tmp;
		if (c[t].name == c[best].buf)
			c[t].name = c[t].buf;
		if (c[best].name == c[t].buf)
			c[best].name = c[best].buf;
		printf("class %s count %zu retained %llu holds %d\n", c[t].name, c[t].count,
		       (unsigned long long)c[t].retained, c[t].holds);
	}
	if (want) {
		size_t best = SIZE_MAX;

		for (size_t k = 0; k < n_cls; k++)
			if (!c[k].holds && (best == SIZE_MAX || c[k].retained > c[best].retained))
				best = k;
		if (best != SIZE_MAX)
			printf("top %s\n", c[best].name);
	}
	free(slot); free(cls_of); free(c); free(idom); free(ret);
	graph_free(&g);
	return 0;
}
