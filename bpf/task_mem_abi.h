/* SPDX-License-Identifier: MIT */
/* ABI between bpf/task_mem.bpf.h and its user side (collectors/bpf_support.c): constants both must agree on.
 *
 * Fixed-width values only; included by BPF programs and by user space.
 */
#ifndef MEMAGENT_BPF_TASK_MEM_H
#define MEMAGENT_BPF_TASK_MEM_H

/* Bound on the per-CPU loops and the offset table (8 KiB of .bss). Hosts
 * with more possible CPUs are refused at load time by user space. */
#define TASK_MEM_MAX_CPUS 1024

/* A program that reads kernel memory through an untyped address exists
 * twice: NAME reads with the bpf_rdonly_cast() kfunc (6.2+), NAME plus this
 * suffix with bpf_probe_read_kernel() (any kernel). User space loads exactly
 * one of the two, by whether the running kernel's BTF has the kfunc. */
#define TASK_MEM_PORTABLE_SUFFIX "_portable"

/* The kfunc the fast variants need. */
#define TASK_MEM_FAST_KFUNC "bpf_rdonly_cast"

#endif
