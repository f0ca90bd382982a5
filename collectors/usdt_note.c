/* SPDX-License-Identifier: MIT */
/* usdt_note: a USDT probe's sites in an ELF file, read from its .note.stapsdt (x86-64).
 *
 * What libbpf's usdt.c does before it attaches, for callers that attach by
 * other means (collectors/uprobe_multi.c): each site of a probe is an
 * NT_STAPSDT note in .note.stapsdt whose descriptor holds three link-time
 * addresses (the probe's nop, the .stapsdt.base the note was written
 * against, the semaphore) and then "provider\0name\0args\0". A prelinked
 * file has moved .stapsdt.base: every address shifts by the difference.
 * Uprobes take file offsets, so each address is turned into one through the
 * PT_LOAD header that maps it. The file is any executable a watched process
 * runs: every offset, size and string is checked against the mapping before
 * it is read.
 */
#include <asm/ptrace.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "usdt_note.h"

#define NT_STAPSDT 3

struct image {
	const char *p;
	size_t len;
	const Elf64_Ehdr *eh;
	const Elf64_Phdr *ph;
	const Elf64_Shdr *sh;
};

/* The names gas uses for each x86-64 register, by width, with where the
 * kernel's struct pt_regs keeps it (libbpf's table). */
static const struct {
	const char *names[4];
	short off;
} regs[] = {
	{ { "rip", "eip" }, offsetof(struct pt_regs, rip) },
	{ { "rax", "eax", "ax", "al" }, offsetof(struct pt_regs, rax) },
	{ { "rbx", "ebx", "bx", "bl" }, offsetof(struct pt_regs, rbx) },
	{ { "rcx", "ecx", "cx", "cl" }, offsetof(struct pt_regs, rcx) },
	{ { "rdx", "edx", "dx", "dl" }, offsetof(struct pt_regs, rdx) },
	{ { "rsi", "esi", "si", "sil" }, offsetof(struct pt_regs, rsi) },
	{ { "rdi", "edi", "di", "dil" }, offsetof(struct pt_regs, rdi) },
	{ { "rbp", "ebp", "bp", "bpl" }, offsetof(struct pt_regs, rbp) },
	{ { "rsp", "esp", "sp", "spl" }, offsetof(struct pt_regs, rsp) },
	{ { "r8", "r8d", "r8w", "r8b" }, offsetof(struct pt_regs, r8) },
	{ { "r9", "r9d", "r9w", "r9b" }, offsetof(struct pt_regs, r9) },
	{ { "r10", "r10d", "r10w", "r10b" }, offsetof(struct pt_regs, r10) },
	{ { "r11", "r11d", "r11w", "r11b" }, offsetof(struct pt_regs, r11) },
	{ { "r12", "r12d", "r12w", "r12b" }, offsetof(struct pt_regs, r12) },
	{ { "r13", "r13d", "r13w", "r13b" }, offsetof(struct pt_regs, r13) },
	{ { "r14", "r14d", "r14w", "r14b" }, offsetof(struct pt_regs, r14) },
	{ { "r15", "r15d", "r15w", "r15b" }, offsetof(struct pt_regs, r15) },
};

static int reg_offset(const char *name)
{
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++)
		for (int w = 0; w < 4; w++)
			if (regs[i].names[w] && strcmp(regs[i].names[w], name) == 0)
				return regs[i].off;
	return -EINVAL;
}

int usdt_note_parse_arg(const char *s, struct usdt_arg *ret)
{
	struct usdt_arg a = { 0 };
	char reg[16];
	long off;
	int size, n = -1, r;

	/* The four shapes gcc and clang emit (libbpf's parse_usdt_arg). */
	if (sscanf(s, " %d @ %ld ( %%%15[^)] ) %n", &size, &off, reg, &n) == 3 && n > 0) {
		a.kind = USDT_ARG_REG_DEREF;
		a.val_off = off;
	} else if (n = -1, sscanf(s, " %d @ ( %%%15[^)] ) %n", &size, reg, &n) == 2 && n > 0) {
		a.kind = USDT_ARG_REG_DEREF;
	} else if (n = -1, sscanf(s, " %d @ %%%15s %n", &size, reg, &n) == 2 && n > 0) {
		a.kind = USDT_ARG_REG;
	} else if (n = -1, sscanf(s, " %d @ $%ld %n", &size, &off, &n) == 2 && n > 0) {
		a.kind = USDT_ARG_CONST;
		a.val_off = off;
	} else {
		return -EINVAL;
	}
	if (a.kind != USDT_ARG_CONST) {
		r = reg_offset(reg);
		if (r < 0)
			return r;
		a.reg_off = (short)r;
	}
	a.is_signed = size < 0;
	size = abs(size);
	if (size != 1 && size != 2 && size != 4 && size != 8)
		return -EINVAL;
	a.bitshift = (int8_t)(64 - 8 * size);
	*ret = a;
	return n;
}

static int image_map(const char *path, struct image *ret)
{
	struct image im = { 0 };
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof(Elf64_Ehdr)) {
		close(fd);
		return -ENOEXEC;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	err = -errno;
	close(fd);
	if (p == MAP_FAILED)
		return err;
	im.p = p;
	im.len = (size_t)st.st_size;
	im.eh = p;
	if (memcmp(im.eh->e_ident, ELFMAG, SELFMAG) != 0 || im.eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    im.eh->e_machine != EM_X86_64 || im.eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    im.eh->e_shentsize != sizeof(Elf64_Shdr) || im.eh->e_phoff > im.len ||
	    im.eh->e_shoff > im.len ||
	    (im.len - im.eh->e_phoff) / sizeof(Elf64_Phdr) < im.eh->e_phnum ||
	    (im.len - im.eh->e_shoff) / sizeof(Elf64_Shdr) < im.eh->e_shnum ||
	    im.eh->e_shstrndx >= im.eh->e_shnum) {
		munmap(p, im.len);
		return -ENOEXEC;
	}
	im.ph = (const void *)(im.p + im.eh->e_phoff);
	im.sh = (const void *)(im.p + im.eh->e_shoff);
	*ret = im;
	return 0;
}

/* Section i's name, or "" when it lies outside the file. */
static const char *section_name(const struct image *im, int i)
{
	const Elf64_Shdr *strs = &im->sh[im->eh->e_shstrndx];
	uint32_t at = im->sh[i].sh_name;

	if (strs->sh_offset > im->len || strs->sh_size > im->len - strs->sh_offset || at >= strs->sh_size)
		return "";
	if (!memchr(im->p + strs->sh_offset + at, '\0', strs->sh_size - at))
		return "";
	return im->p + strs->sh_offset + at;
}

/* The file offset of link-time address a, in a PT_LOAD segment (executable
 * when exec) that maps it from the file; 0 when none does. */
static uint64_t file_offset(const struct image *im, uint64_t a, bool exec)
{
	for (int i = 0; i < im->eh->e_phnum; i++) {
		const Elf64_Phdr *ph = &im->ph[i];

		if (ph->p_type != PT_LOAD || (exec && !(ph->p_flags & PF_X)))
			continue;
		if (a >= ph->p_vaddr && a - ph->p_vaddr < ph->p_filesz)
			return a - ph->p_vaddr + ph->p_offset;
	}
	return 0;
}

static int parse_args(const char *s, struct usdt_note *ret)
{
	int n = 0;

	while (*s == ' ')
		s++;
	while (*s) {
		int used;

		if (n == USDT_NOTE_MAX_ARGS)
			return -EINVAL;
		used = usdt_note_parse_arg(s, &ret->args[n]);
		if (used < 0)
			return used;
		s += used;
		n++;
	}
	ret->nargs = n;
	return 0;
}

/* The sites of provider:name in one .note.stapsdt section. */
static int walk_notes(const struct image *im, const Elf64_Shdr *sec, uint64_t sdt_base, const char *provider,
		      const char *name, struct usdt_note *ret, size_t max, size_t *found)
{
	const char *p, *end;

	if (sec->sh_offset > im->len || sec->sh_size > im->len - sec->sh_offset)
		return -ENOEXEC;
	p = im->p + sec->sh_offset;
	end = p + sec->sh_size;
	while ((size_t)(end - p) >= sizeof(Elf64_Nhdr)) {
		const Elf64_Nhdr *nh = (const void *)p;
		size_t namesz = (nh->n_namesz + 3ul) & ~3ul, descsz = (nh->n_descsz + 3ul) & ~3ul;
		const char *desc = p + sizeof(*nh), *prov, *pname, *args, *dend;
		uint64_t a[3];                  /* notes are 4-aligned: copied out */
		struct usdt_note note = { 0 };
		int err;

		if ((size_t)(end - desc) < namesz || (size_t)(end - desc - namesz) < descsz)
			return -ENOEXEC;
		desc += namesz;
		p = desc + descsz;
		if (nh->n_type != NT_STAPSDT || nh->n_descsz < sizeof(a) + 3)
			continue;
		dend = desc + nh->n_descsz;
		if (dend[-1] != '\0')
			return -ENOEXEC;        /* the three strings end inside */
		memcpy(a, desc, sizeof(a));
		prov = desc + sizeof(a);
		pname = prov + strlen(prov) + 1;
		if (pname >= dend)
			return -ENOEXEC;
		args = pname + strlen(pname) + 1;
		if (args >= dend)
			args = "";
		if (strcmp(prov, provider) != 0 || strcmp(pname, name) != 0)
			continue;
		if (sdt_base && a[1]) {
			a[0] += sdt_base - a[1];
			if (a[2])
				a[2] += sdt_base - a[1];
		}
		note.offset = file_offset(im, a[0], true);
		note.sema_offset = a[2] ? file_offset(im, a[2], false) : 0;
		if (!note.offset || (a[2] && !note.sema_offset))
			return -ENOEXEC;
		err = parse_args(args, &note);
		if (err < 0)
			return err;
		if (*found < max)
			ret[*found] = note;
		(*found)++;
	}
	return 0;
}

int usdt_note_find(const char *path, const char *provider, const char *name, struct usdt_note *ret,
		   size_t max)
{
	struct image im = { 0 };
	uint64_t sdt_base = 0;
	size_t found = 0;
	int err = image_map(path, &im);

	if (err < 0)
		return err;
	for (int i = 0; i < im.eh->e_shnum; i++)
		if (strcmp(section_name(&im, i), ".stapsdt.base") == 0)
			sdt_base = im.sh[i].sh_addr;
	for (int i = 0; i < im.eh->e_shnum && err >= 0; i++)
		if (im.sh[i].sh_type == SHT_NOTE && strcmp(section_name(&im, i), ".note.stapsdt") == 0)
			err = walk_notes(&im, &im.sh[i], sdt_base, provider, name, ret, max, &found);
	munmap((void *)im.p, im.len);
	if (err < 0)
		return err;
	return found ? (int)found : -ENOENT;
}
