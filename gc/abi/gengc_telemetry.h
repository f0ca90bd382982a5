/* SPDX-License-Identifier: MIT */
/* The telemetry page: the byte layout both its writers and its readers include.
 *
 * docs/telemetry.md is the specification; this header is that text as C.
 * It is a leaf: fixed-width fields only, no pointers, nothing of libgengc's
 * internals, no include of the project, so libgengc (which writes the page)
 * and the agent's heap collector (which reads it) both include it without
 * either knowing the other. Multi-byte fields are in the host's byte order
 * (writer and reader run on one machine); strings are UTF-8, NUL-padded, and
 * always hold at least one NUL inside their field.
 *
 * Consistency (docs/telemetry.md, "Consistency"): seq is even when the page is
 * whole and odd while a writer that maps the page is changing it; seq_end,
 * the last word, is the same even number once an update is complete. A
 * reader takes the page only when seq read before its copy, seq and seq_end
 * in the copy, and seq read after it are one even number.
 */
#ifndef GENGC_TELEMETRY_H
#define GENGC_TELEMETRY_H

#include <stdint.h>

#define GENGC_TELEMETRY_MAGIC "GENGCTLM"      /* 8 bytes, no NUL */
#define GENGC_TELEMETRY_VERSION 2u            /* what writers write; readers take 1 and 2 */
#define GENGC_TELEMETRY_VERSION_MIN 1u        /* version 1: the fields of version 2 are reserved (zero) */
#define GENGC_TELEMETRY_SIZE 8192u            /* bytes of a page, both versions */
#define GENGC_TELEMETRY_MEMFD_NAME "gengc-stats"
#define GENGC_TELEMETRY_FILE_PREFIX "gengc-stats-" /* tmpfs page files: basename prefix */

enum gengc_telemetry_protocol {
	GENGC_TELEMETRY_SHARED = 1,           /* the writer maps the page and updates it in place */
	GENGC_TELEMETRY_PWRITE = 2,           /* the writer rewrites the page with pwrite() */
};

#define GENGC_TELEMETRY_NAME_BYTES 64         /* page and queue names: at most 63 bytes + NUL */
#define GENGC_TELEMETRY_KEY_BYTES 32          /* space and GC kind names: at most 31 bytes + NUL */
#define GENGC_TELEMETRY_SPACES 16
#define GENGC_TELEMETRY_KINDS 8
#define GENGC_TELEMETRY_BUCKETS 32            /* bucket i: pauses in [2^i, 2^(i+1)) us; the last
                                                 also holds everything longer */
#define GENGC_TELEMETRY_RING 32               /* full-GC records kept */
#define GENGC_TELEMETRY_QUEUES 32
#define GENGC_TELEMETRY_SOCKET_BYTES 64       /* abstract socket name (no leading NUL) + NUL */
#define GENGC_TELEMETRY_TOKEN_BYTES 32
#define GENGC_TELEMETRY_PATH_BYTES 256

/* flags (version 2): which optional fields the writer fills; a field whose
 * flag is clear is zero and means "not reported", never "zero". */
enum gengc_telemetry_flag {
	GENGC_TELEMETRY_HAS_LOOP_DELAY = 1u << 0,     /* loop_delay_p50_ns, loop_delay_p99_ns */
	GENGC_TELEMETRY_HAS_ARRAY_BUFFERS = 1u << 1,  /* array_buffers_bytes */
	GENGC_TELEMETRY_SNAPSHOT_ALLOWED = 1u << 2,   /* the snapshot block: a request socket */
	GENGC_TELEMETRY_FLAGS_ALL = (1u << 3) - 1,
};

/* snapshot_status: the newest heap-snapshot request's outcome. */
enum gengc_telemetry_snapshot_status {
	GENGC_TELEMETRY_SNAPSHOT_NONE = 0,    /* none requested yet */
	GENGC_TELEMETRY_SNAPSHOT_WRITING = 1,
	GENGC_TELEMETRY_SNAPSHOT_WRITTEN = 2, /* snapshot_path holds it */
	GENGC_TELEMETRY_SNAPSHOT_FAILED = 3,  /* the write failed (disk full, directory gone) */
	GENGC_TELEMETRY_SNAPSHOT_REFUSED = 4, /* sooner than the writer's interval allows */
	GENGC_TELEMETRY_SNAPSHOT_STATUS_MAX = 4,
};

struct gengc_telemetry_space {                /* 64 bytes: v8.getHeapSpaceStatistics() */
	char name[GENGC_TELEMETRY_KEY_BYTES];  /* "new_space", "old_space", "large_object_space"... */
	uint64_t size_bytes;
	uint64_t used_bytes;
	uint64_t available_bytes;
	uint64_t physical_bytes;
};

struct gengc_telemetry_kind {                 /* 320 bytes: one GC kind */
	char name[GENGC_TELEMETRY_KEY_BYTES];  /* "scavenge", "mark_sweep", "mark_compact"... */
	uint64_t count;                       /* collections of this kind, ever */
	uint64_t pause_total_ns;
	uint64_t pause_max_ns;
	uint64_t reserved;                    /* zero */
	uint64_t pause_histogram[GENGC_TELEMETRY_BUCKETS]; /* sums to count */
};

struct gengc_telemetry_record {               /* 32 bytes: one full GC */
	uint64_t seq;                         /* 1, 2, 3...: its number; 0: slot unused */
	uint64_t time_ns;                     /* CLOCK_MONOTONIC when it ended */
	uint64_t old_used_after_bytes;        /* old + large-object space used after it */
	uint64_t pause_ns;
};

struct gengc_telemetry_queue {                /* 80 bytes: one named queue */
	char name[GENGC_TELEMETRY_NAME_BYTES];
	uint64_t depth;
	uint64_t time_ns;                     /* CLOCK_MONOTONIC of the last report */
};

struct gengc_telemetry_page {
	char magic[8];                        /*    0: GENGC_TELEMETRY_MAGIC */
	uint32_t version;                     /*    8: GENGC_TELEMETRY_VERSION */
	uint32_t size;                        /*   12: GENGC_TELEMETRY_SIZE */
	uint32_t protocol;                    /*   16: enum gengc_telemetry_protocol */
	uint32_t pid;                         /*   20: the writer's pid, as getpid() returns it */
	uint64_t seq;                         /*   24: the consistency counter */
	uint64_t start_time;                  /*   32: the writer's start time, clock ticks after
	                                                 boot (/proc/PID/stat field 22); 0: unknown */
	uint64_t heap_id;                     /*   40: distinguishes the pages of one process */
	uint64_t update_ns;                   /*   48: CLOCK_MONOTONIC of the last update */
	char name[GENGC_TELEMETRY_NAME_BYTES];/*   56: the app's name (the `target` label) */
	uint32_t n_spaces;                    /*  120: entries used in spaces[] */
	uint32_t n_kinds;                     /*  124: entries used in kinds[] */
	uint32_t n_queues;                    /*  128: entries used in queues[] */
	uint32_t reserved0;                   /*  132: zero */
	uint64_t heap_total_bytes;            /*  136: committed heap (heapTotal) */
	uint64_t heap_used_bytes;             /*  144: heapUsed */
	uint64_t heap_size_limit_bytes;       /*  152: heap_size_limit */
	uint64_t heap_available_bytes;        /*  160: total_available_size */
	uint64_t heap_physical_bytes;         /*  168: total_physical_size */
	uint64_t external_bytes;              /*  176: external */
	uint64_t promoted_bytes;              /*  184: moved young -> old, ever */
	uint64_t allocated_bytes;             /*  192: allocated, ever, as of the last update */
	uint64_t full_gcs;                    /*  200: full GCs, ever */
	uint64_t gc_seq;                      /*  208: seq of the newest record in ring[]; 0: none */
	uint32_t flags;                       /*  216: enum gengc_telemetry_flag (version 2) */
	uint32_t reserved1;                   /*  220: zero */
	uint64_t array_buffers_bytes;         /*  224: memoryUsage().arrayBuffers (part of external) */
	uint64_t loop_delay_p50_ns;           /*  232: event-loop delay median over the last interval */
	uint64_t loop_delay_p99_ns;           /*  240: and its 99th percentile */
	uint64_t reserved3;                   /*  248: zero */
	struct gengc_telemetry_space spaces[GENGC_TELEMETRY_SPACES];  /*  256 */
	struct gengc_telemetry_kind kinds[GENGC_TELEMETRY_KINDS];     /* 1280 */
	struct gengc_telemetry_record ring[GENGC_TELEMETRY_RING];     /* 3840: record s in slot s % 32 */
	struct gengc_telemetry_queue queues[GENGC_TELEMETRY_QUEUES];  /* 4864 */
	/* 7424: heap snapshots on request (version 2, SNAPSHOT_ALLOWED; else zero) */
	char snapshot_socket[GENGC_TELEMETRY_SOCKET_BYTES]; /* 7424: abstract UNIX socket name */
	uint8_t snapshot_token[GENGC_TELEMETRY_TOKEN_BYTES];/* 7488: a request must carry it */
	uint32_t snapshot_status;             /* 7520: enum gengc_telemetry_snapshot_status */
	uint32_t reserved4;                   /* 7524: zero */
	uint64_t snapshots;                   /* 7528: snapshots written, ever */
	uint64_t snapshot_time_ns;            /* 7536: CLOCK_MONOTONIC of the newest status */
	char snapshot_path[GENGC_TELEMETRY_PATH_BYTES];     /* 7544: the newest snapshot written */
	uint8_t reserved2[384];               /* 7800: zero */
	uint64_t seq_end;                     /* 8184: seq again, written last */
};

_Static_assert(sizeof(struct gengc_telemetry_page) == GENGC_TELEMETRY_SIZE, "page size");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, seq) == 24, "seq offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, name) == 56, "name offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, n_spaces) == 120, "n_spaces offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, heap_total_bytes) == 136, "stats offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, gc_seq) == 208, "gc_seq offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, flags) == 216, "flags offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, loop_delay_p99_ns) == 240, "loop delay offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, spaces) == 256, "spaces offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, kinds) == 1280, "kinds offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, ring) == 3840, "ring offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, queues) == 4864, "queues offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, snapshot_socket) == 7424, "snapshot offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, snapshot_path) == 7544, "snapshot path offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, reserved2) == 7800, "reserved2 offset");
_Static_assert(__builtin_offsetof(struct gengc_telemetry_page, seq_end) == 8184, "seq_end offset");

#endif
