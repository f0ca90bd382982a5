/* SPDX-License-Identifier: MIT */
/* The telemetry page: each heap publishes its statistics on a sealed memfd the agent reads.
 *
 * docs/telemetry.md specifies the page; gc/abi/gengc_telemetry.h is its
 * layout. A heap with telemetry on owns one memfd named "gengc-stats",
 * sized to the page and sealed against shrinking and growing (so a reader
 * that maps it can never fault), mapped shared. The page is rewritten at the
 * end of every GC (stats_gc_done) and on every queue report, never on the
 * allocation path, and without reading /proc: rss is the agent's to read.
 *
 * Invariant: outside page_begin()..page_end(), page->seq is even and equals
 * page->seq_end, and every field describes the heap as of the last update.
 * Only this file writes the page.
 *
 * A forked child shares the parent's mapping (MAP_SHARED). Before each
 * update the writer compares getpid() with the page's pid: a child drops the
 * inherited page (unmaps it, closes its copy of the fd) and publishes its own,
 * so the parent's page is only ever written by the parent.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "gengc_internal.h"
#include "gengc_telemetry.h"

_Static_assert(GENGC_TELEMETRY_BUCKETS == GENGC_PAUSE_BUCKETS, "histogram buckets");
_Static_assert(GENGC_TELEMETRY_RING == GENGC_FULL_GC_HISTORY, "full-GC ring");

static const char *const page_kind_names[GENGC_GC_KINDS] = { "scavenge", "mark_sweep", "mark_compact" };

/* ---- process identity --------------------------------------------------------- */

/* The start time of the calling process (field 22 of /proc/self/stat), read
 * once per process: the cache is keyed by pid, so a forked child reads its
 * own. 0 when it cannot be read (no /proc): readers then check the pid alone.
 * This is the one /proc read of the library, once per process, never per GC. */
static pthread_mutex_t ident_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t ident_pid;
static uint64_t ident_start;
static uint64_t next_heap_id = 1;

static uint64_t read_start_time(void)
{
	char buf[1024];
	const char *p;
	unsigned long long v;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strrchr(buf, ')');         /* comm may hold spaces and parentheses */
	if (!p)
		return 0;
	p++;
	for (int field = 2; field < 21; field++) {      /* to the space before field 22 */
		p = strchr(p + 1, ' ');
		if (!p)
			return 0;
	}
	return sscanf(p, " %llu", &v) == 1 ? v : 0;
}

static uint64_t start_time(pid_t pid)
{
	uint64_t v;

	pthread_mutex_lock(&ident_lock);
	if (ident_pid != pid) {
		ident_start = read_start_time();
		ident_pid = pid;
	}
	v = ident_start;
	pthread_mutex_unlock(&ident_lock);
	return v;
}

static uint64_t new_heap_id(void)
{
	return __atomic_fetch_add(&next_heap_id, 1, __ATOMIC_RELAXED);
}

/* ---- the sequence counter -------------------------------------------------------- */

/* Opens an update: seq becomes odd before any field changes. */
static void page_begin(struct gengc_telemetry_page *p)
{
	__atomic_store_n(&p->seq, p->seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Closes it: seq_end, then seq, become the next even number after every
 * field is written. */
static void page_end(struct gengc_telemetry_page *p)
{
	uint64_t s = p->seq + 1;

	p->update_ns = now_ns();
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&p->seq_end, s, __ATOMIC_RELAXED);
	__atomic_store_n(&p->seq, s, __ATOMIC_RELEASE);
}

/* ---- the page file ------------------------------------------------------------------- */

/* A sealed, mapped memfd holding a fresh page (a copy of `from` when a
 * forked child replaces its parent's). Returns the mapping, or NULL with
 * nothing left open. */
static struct gengc_telemetry_page *page_create(struct gengc_heap *heap,
						const struct gengc_telemetry_page *from, int *ret_fd)
{
	struct gengc_telemetry_page *p;
	int fd = memfd_create(GENGC_TELEMETRY_MEMFD_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	pid_t pid = getpid();

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, GENGC_TELEMETRY_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, GENGC_TELEMETRY_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	/* The file is all zeros (seq 0, even, equal to seq_end): a reader
	 * finds no magic until the first update below completes. */
	page_begin(p);
	if (from) {
		memcpy((char *)p + offsetof(struct gengc_telemetry_page, start_time),
		       (const char *)from + offsetof(struct gengc_telemetry_page, start_time),
		       offsetof(struct gengc_telemetry_page, seq_end) -
			       offsetof(struct gengc_telemetry_page, start_time));
	} else {
		char comm[17] = "";

		p->heap_id = heap->tm_heap_id;
		if (prctl(PR_GET_NAME, comm) < 0 || !comm[0])
			snprintf(comm, sizeof(comm), "gengc");
		snprintf(p->name, sizeof(p->name), "%s", comm);
	}
	memcpy(p->magic, GENGC_TELEMETRY_MAGIC, sizeof(p->magic));
	p->version = GENGC_TELEMETRY_VERSION;
	p->size = GENGC_TELEMETRY_SIZE;
	p->protocol = GENGC_TELEMETRY_SHARED;
	p->pid = (uint32_t)pid;
	p->start_time = start_time(pid);
	page_end(p);
	*ret_fd = fd;
	return p;
}

int telemetry_open(struct gengc_heap *heap)
{
	heap->tm_fd = -1;
	if (!heap->opts.telemetry)
		return 0;
	heap->tm_heap_id = new_heap_id();
	heap->tm = page_create(heap, NULL, &heap->tm_fd);
	if (!heap->tm)
		return -errno;
	telemetry_update(heap, NULL);
	return 0;
}

/* tm_fd is valid exactly when tm is set (a heap that failed half way
 * through gengc_heap_new() has neither: its tm_fd is calloc's 0). Our own
 * page is marked closed first (magic zeroed, docs/telemetry.md "Closing"),
 * so a reader holding it drops it at once; a page inherited through fork is
 * the parent's, and left as it is. */
void telemetry_close(struct gengc_heap *heap)
{
	if (heap->tm) {
		if (heap->tm->pid == (uint32_t)getpid()) {
			page_begin(heap->tm);
			memset(heap->tm->magic, 0, sizeof(heap->tm->magic));
			page_end(heap->tm);
		}
		munmap(heap->tm, GENGC_TELEMETRY_SIZE);
		close(heap->tm_fd);
	}
	heap->tm = NULL;
	heap->tm_fd = -1;
}

/* The page this process may write, replacing an inherited one after fork.
 * NULL when telemetry is off or the child could not make its own (it then
 * publishes nothing rather than write its parent's page). */
static struct gengc_telemetry_page *own_page(struct gengc_heap *heap)
{
	struct gengc_telemetry_page *p = heap->tm, *np;
	int fd;

	if (!p || p->pid == (uint32_t)getpid())
		return p;
	np = page_create(heap, p, &fd);
	telemetry_close(heap);
	heap->tm = np;
	heap->tm_fd = np ? fd : -1;
	return np;
}

/* ---- updates ------------------------------------------------------------------------ */

static void fill_stats(struct gengc_heap *heap, struct gengc_telemetry_page *p)
{
	struct gengc_heap_statistics hs;
	uint64_t promoted = 0;

	gengc_heap_statistics(heap, &hs);
	p->heap_total_bytes = hs.total_heap_size;
	p->heap_used_bytes = hs.used_heap_size;
	p->heap_size_limit_bytes = hs.heap_size_limit;
	p->heap_available_bytes = hs.total_available_size;
	p->heap_physical_bytes = hs.total_physical_size;
	p->external_bytes = heap->external > 0 ? (uint64_t)heap->external : 0;
	p->allocated_bytes = heap->st.allocated_bytes + (uint64_t)(heap->fast.top - heap->alloc_mark);
	p->full_gcs = heap->st.full_gcs;
	p->n_spaces = GENGC_SPACES;
	for (int s = 0; s < GENGC_SPACES; s++) {
		struct gengc_telemetry_space *ts = &p->spaces[s];
		struct gengc_space_statistics ss;

		gengc_space_statistics(heap, (enum gengc_space)s, &ss);
		snprintf(ts->name, sizeof(ts->name), "%s", gengc_space_name((enum gengc_space)s));
		ts->size_bytes = ss.space_size;
		ts->used_bytes = ss.space_used_size;
		ts->available_bytes = ss.space_available_size;
		ts->physical_bytes = ss.physical_space_size;
	}
	p->n_kinds = GENGC_GC_KINDS;
	for (int k = 0; k < GENGC_GC_KINDS; k++) {
		const struct gengc_gc_kind_statistics *gk = &heap->st.gc[k];
		struct gengc_telemetry_kind *tk = &p->kinds[k];

		snprintf(tk->name, sizeof(tk->name), "%s", page_kind_names[k]);
		tk->count = gk->count;
		tk->pause_total_ns = gk->total_pause_ns;
		tk->pause_max_ns = gk->max_pause_ns;
		memcpy(tk->pause_histogram, gk->pause_histogram, sizeof(tk->pause_histogram));
		promoted += gk->bytes_promoted;
	}
	p->promoted_bytes = promoted;
}

void telemetry_update(struct gengc_heap *heap, const struct gengc_gc_event *ev)
{
	struct gengc_telemetry_page *p = own_page(heap);

	if (!p)
		return;
	page_begin(p);
	fill_stats(heap, p);
	if (ev && ev->kind != GENGC_GC_SCAVENGE) {
		uint64_t s = p->gc_seq + 1;
		struct gengc_telemetry_record *r = &p->ring[s % GENGC_TELEMETRY_RING];

		r->seq = s;
		r->time_ns = now_ns();
		r->old_used_after_bytes = heap->old_used + heap->large_used;
		r->pause_ns = ev->pause_ns;
		p->gc_seq = s;
	}
	page_end(p);
}

/* ---- the public calls ---------------------------------------------------------------- */

int gengc_telemetry_name(struct gengc_heap *heap, const char *name)
{
	struct gengc_telemetry_page *p;
	size_t n = name ? strnlen(name, GENGC_TELEMETRY_NAME_BYTES) : 0;

	if (n == 0 || n >= GENGC_TELEMETRY_NAME_BYTES)
		return -EINVAL;
	p = own_page(heap);
	if (!p)
		return -ENODEV;
	page_begin(p);
	memset(p->name, 0, sizeof(p->name));
	memcpy(p->name, name, n);
	page_end(p);
	return 0;
}

int gengc_queue_report(struct gengc_heap *heap, const char *name, uint64_t depth)
{
	struct gengc_telemetry_page *p;
	size_t n = name ? strnlen(name, GENGC_TELEMETRY_NAME_BYTES) : 0;
	uint32_t i;

	if (n == 0 || n >= GENGC_TELEMETRY_NAME_BYTES)
		return -EINVAL;
	p = own_page(heap);
	if (!p)
		return -ENODEV;
	for (i = 0; i < p->n_queues; i++)
		if (strncmp(p->queues[i].name, name, GENGC_TELEMETRY_NAME_BYTES) == 0)
			break;
	if (i == GENGC_TELEMETRY_QUEUES)
		return -ENOSPC;
	page_begin(p);
	if (i == p->n_queues) {
		memset(p->queues[i].name, 0, sizeof(p->queues[i].name));
		memcpy(p->queues[i].name, name, n);
		p->n_queues = i + 1;
	}
	p->queues[i].depth = depth;
	p->queues[i].time_ns = now_ns();
	page_end(p);
	return 0;
}

int gengc_telemetry_fd(struct gengc_heap *heap)
{
	return own_page(heap) ? heap->tm_fd : -ENODEV;
}
