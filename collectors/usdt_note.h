/* SPDX-License-Identifier: MIT */
/* usdt_note: a USDT probe's sites in an ELF file, read from its .note.stapsdt (x86-64). */
#ifndef MEMAGENT_USDT_NOTE_H
#define MEMAGENT_USDT_NOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USDT_NOTE_MAX_ARGS 12           /* libbpf's BPF_USDT_MAX_ARG_CNT */

enum usdt_arg_kind {
	USDT_ARG_CONST,                 /* "-4@$5": the value is val_off */
	USDT_ARG_REG,                   /* "8@%rax": the register */
	USDT_ARG_REG_DEREF,             /* "8@-16(%rbp)": user memory at register + val_off */
};

/* Where one argument is and how wide: the same terms as libbpf's
 * struct __bpf_usdt_arg_spec (bpf/usdt.bpf.h), which reads it. */
struct usdt_arg {
	enum usdt_arg_kind kind;
	int64_t val_off;
	short reg_off;                  /* offsetof(struct pt_regs, reg) */
	bool is_signed;
	int8_t bitshift;                /* 64 - 8 * size */
};

/* One site of a probe: file offsets, as uprobes take them. */
struct usdt_note {
	uint64_t offset;                /* the nop the probe is */
	uint64_t sema_offset;           /* its semaphore, 0 when it has none */
	int nargs;
	struct usdt_arg args[USDT_NOTE_MAX_ARGS];
};

/* Finds the sites of provider:name in the ELF file at path (a 64-bit
 * executable or shared object) and writes up to max of them to ret.
 * Returns how many were found (possibly more than max), -ENOENT when the
 * file has none, -ENOEXEC when it is not a 64-bit ELF file, -EINVAL when a
 * site's argument spec cannot be read, or another negative errno from
 * open/mmap. A malformed file is refused, never read past its end. Cost:
 * maps the file and walks its section headers and notes. */
int usdt_note_find(const char *path, const char *provider, const char *name, struct usdt_note *ret,
		   size_t max);

/* Parses one argument of a note's spec ("-4@%edi") into ret. Returns the
 * characters consumed (0 < n), or -EINVAL (ret untouched). */
int usdt_note_parse_arg(const char *s, struct usdt_arg *ret);

#endif
