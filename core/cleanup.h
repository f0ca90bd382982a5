/* SPDX-License-Identifier: MIT */
/* systemd's cleanup idiom: a variable freed when it goes out of scope.
 *
 *   _cleanup_(thing_freep) struct thing *t = thing_new();
 *   if (setup(t) < 0)
 *           return -EIO;          // t is freed here
 *   *ret = TAKE_PTR(t);           // ownership leaves: nothing freed
 *
 * Used where error paths would otherwise repeat the same cleanup. The
 * function given gets a pointer to the variable and must accept NULL in it.
 */
#ifndef MEMAGENT_CLEANUP_H
#define MEMAGENT_CLEANUP_H

#define _cleanup_(f) __attribute__((cleanup(f)))

/* Returns *pp and sets it to NULL. */
#define TAKE_PTR(p) ({ __typeof__(p) *p_ = &(p); __typeof__(p) v_ = *p_; *p_ = NULL; v_; })

#endif
