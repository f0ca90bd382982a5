/* SPDX-License-Identifier: MIT */
/* gc_usdt: libgengc's gengc:gc__done USDT probe counted per process and GC kind by BPF.
 *
 * The one module that touches bpf/gc_usdt.bpf.c's skeleton. The program is
 * loaded once and attached per file (executable or libgengc.so) with
 * libbpf's bpf_program__attach_usdt() for every process (pid -1): the uprobe
 * lives on the file's inode, so a process started later from a file already
 * attached is counted from its first GC. Attaching raises the probe's
 * semaphore in every process that maps the file; detaching lowers it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/types.h>

#include "bpf_support.h"
#include "gc_usdt.h"
#include "gc_usdt_abi.h"
#include "gc_usdt.skel.h"

_Static_assert(GC_USDT_BUCKETS == GC_USDT_PAUSE_BUCKETS, "buckets");

#define FILES_MAX 256                   /* files attached or known to lack the probe */

struct file_entry {
	dev_t dev;
	ino_t ino;
	struct bpf_link *link;          /* NULL: no probe in it */
};

struct gc_usdt {
	struct gc_usdt_bpf *skel;
	struct file_entry files[FILES_MAX];
	size_t n_files;
};

int gc_usdt_new(struct gc_usdt **ret, struct bpf_failure *f)
{
	struct gc_usdt *o;
	int err = bpf_support_check("gc_usdt", NULL, NULL, f);

	if (err < 0)
		return err;
	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->skel = gc_usdt_bpf__open_opts(bpf_support_open_opts());
	if (!o->skel) {
		err = bpf_support_libbpf_error(-errno, "gc_usdt", "open", f);
		goto fail;
	}
	err = gc_usdt_bpf__load(o->skel);
	if (err) {
		err = bpf_support_libbpf_error(err, "gc_usdt", "load", f);
		goto fail;
	}
	*ret = o;
	return 0;
fail:
	gc_usdt_free(o);
	return err;
}

struct gc_usdt *gc_usdt_free(struct gc_usdt *o)
{
	if (!o)
		return NULL;
	for (size_t i = 0; i < o->n_files; i++)
		bpf_link__destroy(o->files[i].link);
	gc_usdt_bpf__destroy(o->skel);
	free(o);
	return NULL;
}

int gc_usdt_attach(struct gc_usdt *o, const char *path, dev_t dev, ino_t ino)
{
	struct bpf_link *link;

	for (size_t i = 0; i < o->n_files; i++)
		if (o->files[i].dev == dev && o->files[i].ino == ino)
			return o->files[i].link ? 0 : -ENOENT;
	if (o->n_files == FILES_MAX)
		return -ENOSPC;
	link = bpf_program__attach_usdt(o->skel->progs.gc_done, -1, path, "gengc", "gc__done", NULL);
	if (!link && errno != ENOENT)
		return -errno;          /* a failure worth trying again next time */
	o->files[o->n_files++] = (struct file_entry){ dev, ino, link };
	return link ? 1 : -ENOENT;
}

int gc_usdt_read(struct gc_usdt *o, pid_t tgid, uint32_t kind, struct gc_usdt_counts *ret)
{
	struct gc_usdt_key k = { .tgid = (__u32)tgid, .kind = kind };
	struct gc_usdt_val v;

	if (bpf_map__lookup_elem(o->skel->maps.gc_events, &k, sizeof(k), &v, sizeof(v), 0) < 0)
		return -ENOENT;
	ret->count = v.count;
	ret->pause_sum_ns = v.pause_sum_ns;
	memcpy(ret->hist, v.hist, sizeof(ret->hist));
	return 0;
}

void gc_usdt_forget(struct gc_usdt *o, pid_t tgid)
{
	for (uint32_t kind = 0; kind < GC_USDT_KINDS; kind++) {
		struct gc_usdt_key k = { .tgid = (__u32)tgid, .kind = kind };

		bpf_map__delete_elem(o->skel->maps.gc_events, &k, sizeof(k), 0);
	}
}

uint64_t gc_usdt_dropped(const struct gc_usdt *o)
{
	return o->skel->bss->dropped;
}
