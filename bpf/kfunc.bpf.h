/* SPDX-License-Identifier: MIT */
/* The kfuncs the task-list walks call (task_iter, sock_iter): declared, or stubbed in the object built without kfuncs.
 *
 * Declared weak: an object that merely mentions a kfunc the kernel lacks is
 * otherwise refused whole. Weak is not enough without CAP_SYS_ADMIN: libbpf
 * 1.1 looks an absent one up in the modules' BTF, a walk that needs
 * CAP_SYS_ADMIN, and refuses the object when that walk is refused. So every
 * object is also built with MEMAGENT_BPF_NO_KFUNC (bpf/bpf.mk), where these
 * are empty stubs: the walk programs keep their names, maps and variables
 * (the skeleton must fit both objects) and user space never loads them from
 * that object (it is opened only where a kfunc is missing, and the walks
 * need bpf_iter_task_new: collectors/bpf_support.c). bpf_rdonly_cast is
 * bpf/task_mem.bpf.h's.
 */
#ifndef MEMAGENT_KFUNC_BPF_H
#define MEMAGENT_KFUNC_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#ifndef MEMAGENT_BPF_NO_KFUNC
extern int bpf_iter_task_new(struct bpf_iter_task *it, struct task_struct *task,
			     unsigned int flags) __ksym __weak;
extern struct task_struct *bpf_iter_task_next(struct bpf_iter_task *it) __ksym __weak;
extern void bpf_iter_task_destroy(struct bpf_iter_task *it) __ksym __weak;
extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym __weak;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym __weak;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym __weak;
extern void bpf_rcu_read_lock(void) __ksym __weak;
extern void bpf_rcu_read_unlock(void) __ksym __weak;
#else
static __always_inline int bpf_iter_task_new(struct bpf_iter_task *it, struct task_struct *task,
					     unsigned int flags)
{
	return -1;
}
static __always_inline struct task_struct *bpf_iter_task_next(struct bpf_iter_task *it)
{
	return NULL;
}
static __always_inline void bpf_iter_task_destroy(struct bpf_iter_task *it)
{
}
static __always_inline int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end)
{
	return -1;
}
static __always_inline int *bpf_iter_num_next(struct bpf_iter_num *it)
{
	return NULL;
}
static __always_inline void bpf_iter_num_destroy(struct bpf_iter_num *it)
{
}
static __always_inline void bpf_rcu_read_lock(void)
{
}
static __always_inline void bpf_rcu_read_unlock(void)
{
}
#endif

#endif
