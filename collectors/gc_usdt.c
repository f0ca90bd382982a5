/* SPDX-License-Identifier: MIT */
/* gc_usdt: libgengc's gengc:gc__done USDT probe counted per process and GC kind by BPF.
 *
 * The one module that touches bpf/gc_usdt.bpf.c's skeleton. The program is
 * loaded once and attached per file (executable or libgengc.so) for every
 * process: the uprobe lives on the file's inode, so a process started later
 * from a file already attached is counted from its first GC. Attaching
 * raises the probe's semaphore in every process that maps the file;
 * detaching lowers it.
 *
 * Two ways to attach, chosen once at load. On kernels with uprobe_multi
 * links (6.6+) the sites are read here (usdt_note) and attached with one
 * BPF link per file (uprobe_multi), whose only privilege is the one that
 * loaded the program: no CAP_SYS_ADMIN, no perf_event_open. The program
 * stays libbpf's BPF_USDT, so the argument specs go where its usdt.bpf.h
 * reads them: __bpf_usdt_specs, indexed by the link's cookie. Elsewhere
 * libbpf's bpf_program__attach_usdt() does it all through the perf uprobe
 * PMU, which wants CAP_SYS_ADMIN on kernels with the 2025 fix
 * (docs/bpf.md, "Privileges").
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <linux/types.h>

#include "bpf_support.h"
#include "gc_usdt.h"
#include "gc_usdt_abi.h"
#include "gc_usdt.skel.h"
#include "gc_usdt.nokfunc.skel.h"
#include "uprobe_multi.h"
#include "usdt_note.h"

_Static_assert(GC_USDT_BUCKETS == GC_USDT_PAUSE_BUCKETS, "buckets");

#define FILES_MAX 256                   /* files attached or known to lack the probe */
#define SITES_MAX 16                    /* sites of gc__done in one file */
#define SPECS_MAX 256                   /* usdt.bpf.h's BPF_USDT_MAX_SPEC_CNT */

/* usdt.bpf.h's struct __bpf_usdt_arg_spec and __bpf_usdt_spec (libbpf
 * 1.1), the values of the map __bpf_usdt_specs; gc_usdt_new() checks the
 * size against the loaded map's. */
struct usdt_arg_spec {
	uint64_t val_off;
	int arg_type;                   /* enum __bpf_usdt_arg_type: as enum usdt_arg_kind */
	short reg_off;
	bool arg_signed;
	char arg_bitshift;
};

struct usdt_spec {
	struct usdt_arg_spec args[USDT_NOTE_MAX_ARGS];
	uint64_t usdt_cookie;
	short arg_cnt;
};

struct file_entry {
	dev_t dev;
	ino_t ino;
	struct bpf_link *link;          /* libbpf's attach */
	int link_fd;                    /* a uprobe_multi link; -1 with link NULL: no probe in it */
};

struct gc_usdt {
	struct gc_usdt_bpf *skel;
	bool multi;                     /* attached with uprobe_multi links */
	struct file_entry files[FILES_MAX];
	size_t n_files;
	struct usdt_spec specs[SPECS_MAX];      /* what __bpf_usdt_specs holds, by cookie */
	size_t n_specs;
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
	o->skel = BPF_SUPPORT_OPEN(gc_usdt);
	if (!o->skel) {
		err = bpf_support_libbpf_error(-errno, "gc_usdt", "open", f);
		goto fail;
	}
	o->multi = uprobe_multi_supported();
	if (o->multi)
		bpf_program__set_expected_attach_type(o->skel->progs.gc_done,
						      (enum bpf_attach_type)UPROBE_MULTI_ATTACH_TYPE);
	err = gc_usdt_bpf__load(o->skel);
	if (err) {
		err = bpf_support_libbpf_error(err, "gc_usdt", "load", f);
		goto fail;
	}
	if (o->multi && (bpf_map__value_size(o->skel->maps.__bpf_usdt_specs) != sizeof(struct usdt_spec) ||
			 bpf_map__max_entries(o->skel->maps.__bpf_usdt_specs) < SPECS_MAX)) {
		err = bpf_support_libbpf_error(-EPROTO, "gc_usdt", "load", f);
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
	for (size_t i = 0; i < o->n_files; i++) {
		bpf_link__destroy(o->files[i].link);
		if (o->files[i].link_fd >= 0)
			close(o->files[i].link_fd);
	}
	gc_usdt_bpf__destroy(o->skel);
	free(o);
	return NULL;
}

/* The cookie of the spec for site n: an entry of __bpf_usdt_specs that
 * holds its arguments, shared by every site with the same (libgengc.so's
 * copies all have). Returns the cookie, or -ENOSPC, or the map's -errno. */
static int spec_of(struct gc_usdt *o, const struct usdt_note *n)
{
	struct usdt_spec sp;
	int id;

	memset(&sp, 0, sizeof(sp));     /* padding too: specs are compared whole */
	for (int i = 0; i < n->nargs; i++)
		sp.args[i] = (struct usdt_arg_spec){
			.val_off = (uint64_t)n->args[i].val_off,
			.arg_type = (int)n->args[i].kind,
			.reg_off = n->args[i].reg_off,
			.arg_signed = n->args[i].is_signed,
			.arg_bitshift = (char)n->args[i].bitshift,
		};
	sp.arg_cnt = (short)n->nargs;
	for (size_t i = 0; i < o->n_specs; i++)
		if (memcmp(&o->specs[i], &sp, sizeof(sp)) == 0)
			return (int)i;
	if (o->n_specs == SPECS_MAX)
		return -ENOSPC;
	id = (int)o->n_specs;
	if (bpf_map__update_elem(o->skel->maps.__bpf_usdt_specs, &id, sizeof(id), &sp, sizeof(sp), 0) < 0)
		return -errno;
	o->specs[o->n_specs++] = sp;
	return id;
}

/* Attaches with one uprobe_multi link for every site in the file (dev,
 * ino). Returns the link's fd, -ENOENT when there is no probe, -ESTALE when
 * path names another file by now, or another negative errno. */
static int attach_multi(struct gc_usdt *o, const char *path, dev_t dev, ino_t ino)
{
	struct usdt_note notes[SITES_MAX];
	uint64_t offsets[SITES_MAX], semas[SITES_MAX], cookies[SITES_MAX];
	char pinned[32];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), n;

	if (fd < 0)
		return -errno;
	/* The kernel raises a short at each semaphore offset read here, in every
	 * process that maps the file: the notes and the link must be of one
	 * file, not of whatever the path names by the time each opens it. */
	if (fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino) {
		close(fd);
		return -ESTALE;
	}
	snprintf(pinned, sizeof(pinned), "/proc/self/fd/%d", fd);
	n = usdt_note_find(pinned, "gengc", "gc__done", notes, SITES_MAX);
	if (n == -ENOEXEC)
		n = -ENOENT;            /* not a 64-bit x86 ELF file: no probe of ours */
	else if (n > SITES_MAX)
		n = -E2BIG;
	for (int i = 0; i < n; i++) {
		int id = spec_of(o, &notes[i]);

		if (id < 0) {
			n = id;
			break;
		}
		offsets[i] = notes[i].offset;
		semas[i] = notes[i].sema_offset;
		cookies[i] = (uint64_t)id;
	}
	if (n > 0)
		n = uprobe_multi_attach(bpf_program__fd(o->skel->progs.gc_done), pinned, offsets, semas, cookies,
					(size_t)n);
	close(fd);
	return n;
}

int gc_usdt_attach(struct gc_usdt *o, const char *path, dev_t dev, ino_t ino)
{
	struct bpf_link *link = NULL;
	int fd = -1;

	for (size_t i = 0; i < o->n_files; i++)
		if (o->files[i].dev == dev && o->files[i].ino == ino)
			return o->files[i].link || o->files[i].link_fd >= 0 ? 0 : -ENOENT;
	if (o->n_files == FILES_MAX)
		return -ENOSPC;
	if (o->multi) {
		fd = attach_multi(o, path, dev, ino);
		if (fd < 0 && fd != -ENOENT)
			return fd;      /* a failure worth trying again next time */
	} else {
		link = bpf_program__attach_usdt(o->skel->progs.gc_done, -1, path, "gengc", "gc__done", NULL);
		if (!link && errno != ENOENT)
			return -errno;
	}
	o->files[o->n_files++] = (struct file_entry){ dev, ino, link, fd < 0 ? -1 : fd };
	return link || fd >= 0 ? 1 : -ENOENT;
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

bool gc_usdt_multi(const struct gc_usdt *o)
{
	return o->multi;
}

uint64_t gc_usdt_dropped(const struct gc_usdt *o)
{
	return o->skel->bss->dropped;
}
