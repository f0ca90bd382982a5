/* SPDX-License-Identifier: MIT */
/* The benchmarks' allocator layer: allocate / handle / write / free, one definition per allocator.
 *
 * The benchmark code is written once against these macros, so node layout and
 * work are identical for every allocator; only what a macro costs differs:
 *   ALLOC_GENGC   handles are gengc handle-stack slots, writes go through the
 *                 barrier, B_FREE does nothing (the collector frees);
 *   ALLOC_BDWGC   GC_MALLOC; handles are plain locals (bdwgc scans the stack
 *                 conservatively); B_NOINTERIOR turns interior pointers off;
 *   ALLOC_MALLOC  malloc, and the benchmark frees every tree it drops.
 */
#ifndef BENCH_GC_ALLOC_H
#define BENCH_GC_ALLOC_H

#include <stdlib.h>

#if defined(ALLOC_GENGC)
#include "gengc.h"
extern struct gengc_heap *bench_heap;
#define B_SCOPE(s)              struct gengc_scope s; gengc_scope_open(bench_heap, &s)
#define B_SCOPE_END(s)          gengc_scope_close(bench_heap, &s)
#define B_HANDLE(T, h, expr)    T **h = (T **)gengc_handle(bench_heap, (expr))
#define B_NEW(T, type)          ((T *)gengc_alloc(bench_heap, (type)))
#define B_NEW_RAW(bytes)        gengc_alloc_raw(bench_heap, (bytes))
#define B_WRITE(obj, f, v)      gengc_write(bench_heap, (obj), &(obj)->f, (v))
#define B_FREE(p)               ((void)(p))
#define B_FREES                 0
#elif defined(ALLOC_BDWGC)
#include <gc.h>
#define B_SCOPE(s)              int s = 0
#define B_SCOPE_END(s)          ((void)s)
#define B_HANDLE(T, h, expr)    T *h##_v = (expr), **h = &h##_v
#define B_NEW(T, type)          ((T *)GC_MALLOC(sizeof(T)))
#define B_NEW_RAW(bytes)        GC_MALLOC_ATOMIC(bytes)
#define B_WRITE(obj, f, v)      ((obj)->f = (v))
#define B_FREE(p)               ((void)(p))
#define B_FREES                 0
#elif defined(ALLOC_MALLOC)
#define B_SCOPE(s)              int s = 0
#define B_SCOPE_END(s)          ((void)s)
#define B_HANDLE(T, h, expr)    T *h##_v = (expr), **h = &h##_v
#define B_NEW(T, type)          ((T *)malloc(sizeof(T)))
#define B_NEW_RAW(bytes)        malloc(bytes)
#define B_WRITE(obj, f, v)      ((obj)->f = (v))
#define B_FREE(p)               free(p)
#define B_FREES                 1
#else
#error "define ALLOC_GENGC, ALLOC_BDWGC or ALLOC_MALLOC"
#endif

#endif
