/* SPDX-License-Identifier: MIT */
/* USDT probes (sys/sdt.h): gengc:gc__start, gengc:gc__done, gengc:heap__limit.
 *
 * Each probe is a nop in the code and a note in the ELF file until a tracer
 * (the agent's BPF side, bpftrace, perf) attaches; each has a semaphore the
 * kernel increments while it is traced, so the arguments are not even
 * computed when nobody listens: the cost untraced is one load and a branch.
 * Without <sys/sdt.h> (or with -DGENGC_NO_USDT) the probes compile to nothing.
 *
 *   gengc:gc__start(uint32 kind)
 *   gengc:gc__done(uint32 kind, uint64 pause_ns, uint64 bytes_before, uint64 bytes_after)
 *   gengc:heap__limit(uint64 used_bytes, uint64 limit_bytes)
 * kind is enum gengc_gc_kind (0 scavenge, 1 mark-sweep, 2 mark-compact).
 */
#ifndef GENGC_PROBES_H
#define GENGC_PROBES_H

#if !defined(GENGC_NO_USDT) && defined(__has_include)
#if __has_include(<sys/sdt.h>)
#define GENGC_USDT 1
#endif
#endif

#ifdef GENGC_USDT
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

/* Defined in heap.c, in the .probes section where tracers look for them. */
extern unsigned short gengc_gc__start_semaphore, gengc_gc__done_semaphore, gengc_heap__limit_semaphore;

#define GENGC_PROBE_ON(name) __builtin_expect(gengc_##name##_semaphore != 0, 0)
#define GENGC_PROBE1(name, a) do { if (GENGC_PROBE_ON(name)) STAP_PROBE1(gengc, name, a); } while (0)
#define GENGC_PROBE2(name, a, b) do { if (GENGC_PROBE_ON(name)) STAP_PROBE2(gengc, name, a, b); } while (0)
#define GENGC_PROBE4(name, a, b, c, d) \
	do { if (GENGC_PROBE_ON(name)) STAP_PROBE4(gengc, name, a, b, c, d); } while (0)
#else
#define GENGC_PROBE_ON(name) 0
#define GENGC_PROBE1(name, a) do { } while (0)
#define GENGC_PROBE2(name, a, b) do { } while (0)
#define GENGC_PROBE4(name, a, b, c, d) do { } while (0)
#endif

#endif
