/* SPDX-License-Identifier: MIT */
/* A sink's disk buffer: an append-only file of checksummed records, so a
 * queue outlives the agent (restart, SIGKILL) and a torn file (power loss)
 * loses only its torn tail.
 *
 * Records: a 16-byte header (magic "MABF", type, payload length, CRC-32C of
 * type, length and payload) and the payload. A data record is one
 * snapshot's samples for the sink, self-contained (names and labels
 * spelled out, so the file needs no other state); an ack record says how
 * many samples from the file's start are settled (sent, dropped or
 * rejected). At open, records are read up to the first one that is short or
 * fails its checksum; the rest of the file is cut off and counted.
 * Not thread-safe: the sink's lock guards it.
 */
#ifndef MEMAGENT_DISKBUF_H
#define MEMAGENT_DISKBUF_H

#include <stddef.h>
#include <stdint.h>

#include "series.h"

/* The file is emptied when everything in it is settled and it is larger
 * than this; smaller ones are kept to avoid a truncate per send. */
#define DISKBUF_RESET_BYTES (1u << 20)

struct diskbuf;

struct diskbuf_info {
	uint64_t samples;    /* samples in the file's valid records */
	uint64_t settled;    /* the last ack */
	uint64_t torn_bytes; /* cut off at the first bad record */
	uint64_t valid_bytes;
};

/* Calls fn for every sample after the last ack, in file order. */
typedef int (*diskbuf_replay_fn)(void *arg, const char *name, const struct snapshot_label *labels,
				 size_t n_labels, double value, int64_t timestamp_ms);

/* Opens (creating it, mode 0600) the buffer at path, replays what it holds
 * beyond the last ack, and cuts off a torn tail. Returns 0 with *ret and
 * *info, or a negative errno (open/read/truncate failure, or fn's). */
int diskbuf_open(const char *path, uint64_t max_bytes, diskbuf_replay_fn fn, void *arg,
		 struct diskbuf **ret, struct diskbuf_info *info);

/* Reads a buffer file without changing it (for tests and tools). */
int diskbuf_scan(const char *path, diskbuf_replay_fn fn, void *arg, struct diskbuf_info *info);

/* Appends one data record of n samples (one snapshot: the first sample's
 * timestamp is the record's). Returns 0, -ENOSPC (the file would pass
 * max_bytes; nothing written), or another negative errno (the file is cut
 * back to where it was). */
int diskbuf_append(struct diskbuf *b, const struct series_sample *v, size_t n);

/* Records that the first settled samples of the file are done with. */
int diskbuf_ack(struct diskbuf *b, uint64_t settled);

/* Empties the file (everything in it is settled). */
int diskbuf_reset(struct diskbuf *b);

uint64_t diskbuf_size(const struct diskbuf *b);

/* Flushes to the disk (fdatasync) and closes. NULL-safe; returns NULL. */
struct diskbuf *diskbuf_free(struct diskbuf *b);

#endif
