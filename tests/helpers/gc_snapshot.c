/* SPDX-License-Identifier: MIT */
/* Writes a heap snapshot of a small known heap (a leaking list, a tree) and prints what it must contain, for tests/memlab/check.js. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gengc.h>

struct leak {
	struct leak *next;
	unsigned char *payload;
	long n;
};
struct tree {
	struct tree *left, *right;
	long depth;
};
static const uint32_t two_pointers[] = { 0, 8 };
static struct gengc_heap *heap;
static uint32_t t_leak, t_tree;

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
	n->depth = depth;
	gengc_write(heap, n, &n->left, *l);
	gengc_write(heap, n, &n->right, *r);
	gengc_scope_close(heap, &s);
	return n;
}

int main(int argc, char **argv)
{
	struct gengc_type lt = { .name = "LeakNode", .size = sizeof(struct leak), .n_pointers = 2,
				 .pointer_offsets = two_pointers };
	struct gengc_type tt = { .name = "Tree", .size = sizeof(struct tree), .n_pointers = 2,
				 .pointer_offsets = two_pointers };
	static void *list;
	const int n_leak = 2000, payload = 40, depth = 9;
	int fd, r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE.heapsnapshot\n", argv[0]);
		return 2;
	}
	heap = gengc_heap_new(NULL);
	if (!heap || gengc_type_register(heap, &lt, &t_leak) < 0 || gengc_type_register(heap, &tt, &t_tree) < 0 ||
	    gengc_root_add(heap, &list) < 0)
		return 1;
	for (int i = 0; i < n_leak; i++) {
		struct gengc_scope s;

		gengc_scope_open(heap, &s);
		void **e = gengc_handle(heap, gengc_alloc(heap, t_leak));
		unsigned char *p = gengc_alloc_raw(heap, payload);
		struct leak *x = *e;

		x->n = i;
		gengc_write(heap, x, &x->payload, p);
		gengc_write(heap, x, &x->next, list);
		list = x;
		gengc_scope_close(heap, &s);
	}
	gengc_handle(heap, build_tree(depth));
	for (int i = 0; i < 5000; i++)          /* garbage: must not be in the snapshot */
		gengc_alloc(heap, t_leak);
	fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return 1;
	r = gengc_heap_snapshot(heap, fd);
	if (close(fd) < 0 || r < 0)
		return 1;
	printf("{\"counts\":{\"LeakNode\":%d,\"raw\":%d,\"Tree\":%d},"
	       "\"edges\":{\"LeakNode\":%d,\"Tree\":%d},"
	       "\"self_size\":{\"LeakNode\":%zu,\"raw\":%d,\"Tree\":%zu},"
	       "\"list_retained\":%zu,\"tree_retained\":%zu}\n",
	       n_leak, n_leak, (1 << (depth + 1)) - 1, 2 * n_leak - 1, (1 << (depth + 1)) - 2,
	       sizeof(struct leak) + 8, payload + 8, sizeof(struct tree) + 8,
	       (size_t)n_leak * (sizeof(struct leak) + 8 + payload + 8),
	       (size_t)((1 << (depth + 1)) - 1) * (sizeof(struct tree) + 8));
	gengc_heap_free(heap);
	return 0;
}
