/* SPDX-License-Identifier: MIT */
/* A program's own USDT probes: their addresses from its .note.stapsdt (tests/test_gc_usdt.c, tests/test_usdt_note.c, tests/helpers/gc_usdt_app.c). */
#ifndef MEMAGENT_TEST_USDT_SELF_H
#define MEMAGENT_TEST_USDT_SELF_H

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct probe {
	uint64_t pc, base, sem;         /* link-time addresses from the note */
};

static uint64_t bias;                   /* the executable's load bias, from first_object() */

static inline int first_object(struct dl_phdr_info *info, size_t size, void *ctx)
{
	(void)size;
	(void)ctx;
	bias = info->dlpi_addr;         /* the executable comes first */
	return 1;
}

/* The file offset of link-time address a, through the PT_LOAD headers. */
static inline uint64_t file_offset(const char *img, uint64_t a)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Phdr *ph = (const void *)(img + eh->e_phoff);

	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && a >= ph[i].p_vaddr && a < ph[i].p_vaddr + ph[i].p_filesz)
			return a - ph[i].p_vaddr + ph[i].p_offset;
	return 0;
}

/* Finds gengc:name in the image's .note.stapsdt. Returns 0 or -ENOENT. */
static inline int find_probe(const char *img, const char *name, struct probe *ret)
{
	const Elf64_Ehdr *eh = (const void *)img;
	const Elf64_Shdr *sh = (const void *)(img + eh->e_shoff);
	const char *shstr = img + sh[eh->e_shstrndx].sh_offset;
	uint64_t sdt_base = 0;
	int found = -ENOENT;

	for (int i = 0; i < eh->e_shnum; i++)
		if (strcmp(shstr + sh[i].sh_name, ".stapsdt.base") == 0)
			sdt_base = sh[i].sh_addr;
	for (int i = 0; i < eh->e_shnum; i++) {
		const char *p, *end;

		if (strcmp(shstr + sh[i].sh_name, ".note.stapsdt") != 0)
			continue;
		p = img + sh[i].sh_offset;
		end = p + sh[i].sh_size;
		while (p + sizeof(Elf64_Nhdr) <= end) {
			const Elf64_Nhdr *nh = (const void *)p;
			const char *desc = p + sizeof(*nh) + ((nh->n_namesz + 3) & ~3u);
			uint64_t a[3];                  /* notes are 4-aligned: copy */
			const char *prov = desc + 24, *pname = prov + strlen(prov) + 1;

			memcpy(a, desc, sizeof(a));
			if (nh->n_type == 3 && strcmp(prov, "gengc") == 0 && strcmp(pname, name) == 0) {
				/* Prelinked files move .stapsdt.base: shift by the difference. */
				uint64_t adj = sdt_base - a[1];

				*ret = (struct probe){ a[0] + adj, a[1], a[2] ? a[2] + adj : 0 };
				found = 0;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
	return found;
}

/* The file at path mapped read-only (munmap it with *ret_len), or NULL. */
static inline char *map_file(const char *path, size_t *ret_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *img;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return NULL;
	}
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	*ret_len = (size_t)st.st_size;
	return img == MAP_FAILED ? NULL : img;
}

static inline char *map_self(size_t *ret_len)
{
	return map_file("/proc/self/exe", ret_len);
}

/* The address of gengc:name's semaphore in this process, or NULL. */
static inline volatile unsigned short *usdt_self_semaphore(const char *name)
{
	struct probe p;
	size_t len;
	char *img = map_self(&len);
	int r;

	if (!img)
		return NULL;
	r = find_probe(img, name, &p);
	munmap(img, len);
	if (r < 0 || !p.sem)
		return NULL;
	dl_iterate_phdr(first_object, NULL);
	return (volatile unsigned short *)(uintptr_t)(bias + p.sem);
}

#endif
