/* SPDX-License-Identifier: MIT */
/* usdt_note: argument specs parsed as libbpf reads them; sites found in a real libgengc binary; bad files refused.
 *
 * The sites are checked against tests/usdt_self.h, a second reading of the
 * same notes (the one test_gc_usdt traces itself with), on the helper
 * gc_usdt_app, which links libgengc with its probes.
 */
#include <asm/ptrace.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/path.h"
#include "test.h"
#include "usdt_note.h"
#include "usdt_self.h"

static void test_arg_shapes(void)
{
	struct usdt_arg a;

	CHECK_EQ(usdt_note_parse_arg("-4@%edi", &a), 7);
	CHECK_EQ(a.kind, USDT_ARG_REG);
	CHECK_EQ(a.reg_off, (short)offsetof(struct pt_regs, rdi));
	CHECK(a.is_signed);
	CHECK_EQ(a.bitshift, 32);

	CHECK_EQ(usdt_note_parse_arg("8@-64(%rbp) 8@%rax", &a), 12);     /* stops after the blank */
	CHECK_EQ(a.kind, USDT_ARG_REG_DEREF);
	CHECK_EQ(a.val_off, -64);
	CHECK_EQ(a.reg_off, (short)offsetof(struct pt_regs, rbp));
	CHECK(!a.is_signed);
	CHECK_EQ(a.bitshift, 0);

	CHECK(usdt_note_parse_arg("2@(%r12)", &a) > 0);
	CHECK_EQ(a.kind, USDT_ARG_REG_DEREF);
	CHECK_EQ(a.val_off, 0);
	CHECK_EQ(a.reg_off, (short)offsetof(struct pt_regs, r12));
	CHECK_EQ(a.bitshift, 48);

	CHECK(usdt_note_parse_arg("1@%r9b", &a) > 0);
	CHECK_EQ(a.reg_off, (short)offsetof(struct pt_regs, r9));
	CHECK_EQ(a.bitshift, 56);

	CHECK(usdt_note_parse_arg("-8@$-5", &a) > 0);
	CHECK_EQ(a.kind, USDT_ARG_CONST);
	CHECK_EQ(a.val_off, -5);

	a.val_off = 1234;
	CHECK_EQ(usdt_note_parse_arg("8@%xmm0", &a), -EINVAL);          /* no such pt_regs slot */
	CHECK_EQ(usdt_note_parse_arg("3@%rax", &a), -EINVAL);
	CHECK_EQ(usdt_note_parse_arg("8@sym(%rip)", &a), -EINVAL);      /* a symbol: libbpf 1.1 refuses it too */
	CHECK_EQ(usdt_note_parse_arg("", &a), -EINVAL);
	CHECK_EQ(a.val_off, 1234);                                      /* untouched on failure */
}

static void test_sites_in_libgengc(void)
{
	struct usdt_note n[4];
	struct probe p;
	char path[PATH_MAX];
	size_t len;
	char *img;
	int found;

	REQUIRE(test_helper_path("gc_usdt_app", path, sizeof(path)) == 0);
	found = usdt_note_find(path, "gengc", "gc__done", n, 4);
	REQUIRE(found >= 1);
	img = map_file(path, &len);
	REQUIRE(img);
	REQUIRE(find_probe(img, "gc__done", &p) == 0);
	CHECK_U64(n[0].offset, file_offset(img, p.pc));
	CHECK_U64(n[0].sema_offset, file_offset(img, p.sem));
	CHECK(n[0].sema_offset != 0);
	munmap(img, len);
	CHECK_EQ(n[0].nargs, 4);                /* kind, pause_ns, bytes_before, bytes_after */
	CHECK_EQ(n[0].args[0].bitshift, 32);    /* a uint32 */
	CHECK(!n[0].args[0].is_signed);
	for (int i = 1; i < 4; i++)
		CHECK_EQ(n[0].args[i].bitshift, 0);
	CHECK_EQ(usdt_note_find(path, "gengc", "gc__start", n, 4) >= 1, 1);
	CHECK_EQ(usdt_note_find(path, "gengc", "no__such", n, 4), -ENOENT);
	CHECK_EQ(usdt_note_find(path, "nogengc", "gc__done", n, 4), -ENOENT);
	CHECK(usdt_note_find(path, "gengc", "gc__done", NULL, 0) >= 1);  /* counted, none written */
}

/* The first n bytes of src, as a file in dir. */
static int truncated_copy(const char *src, const char *dir, size_t n, char *ret, size_t len)
{
	size_t flen;
	char *img = map_file(src, &flen);
	int fd, err = 0;

	if (!img)
		return -errno;
	snprintf(ret, len, "%s/cut-%zu", dir, n);
	fd = open(ret, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, img, n < flen ? n : flen) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	munmap(img, flen);
	return err;
}

static void test_bad_files_refused(void)
{
	char dir[] = "/tmp/test_usdt_note.XXXXXX", path[PATH_MAX], cut[PATH_MAX + 32];
	struct usdt_note n[2];
	struct stat st;
	static const size_t cuts[] = { 0, 10, 64, 4096, 65536 };

	REQUIRE(mkdtemp(dir));
	REQUIRE(test_helper_path("gc_usdt_app", path, sizeof(path)) == 0);
	REQUIRE(stat(path, &st) == 0);
	CHECK_EQ(usdt_note_find(dir, "gengc", "gc__done", n, 2), -ENOEXEC);     /* a directory */
	CHECK_EQ(usdt_note_find("/nonexistent/x", "gengc", "gc__done", n, 2), -ENOENT);
	REQUIRE(test_write_file(dir, "script", "#!/bin/sh\necho not an ELF file, but long enough to be read as one\n") == 0);
	snprintf(cut, sizeof(cut), "%s/script", dir);
	CHECK_EQ(usdt_note_find(cut, "gengc", "gc__done", n, 2), -ENOEXEC);
	/* Cut anywhere before the section headers (at the end): refused, not read past. */
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		REQUIRE(truncated_copy(path, dir, cuts[i], cut, sizeof(cut)) == 0);
		CHECK_EQ(usdt_note_find(cut, "gengc", "gc__done", n, 2), -ENOEXEC);
	}
	REQUIRE(truncated_copy(path, dir, (size_t)st.st_size, cut, sizeof(cut)) == 0);
	CHECK(usdt_note_find(cut, "gengc", "gc__done", n, 2) >= 1);             /* whole: found */
	test_rm_rf(dir);
}

int main(void)
{
	RUN(test_arg_shapes);
	RUN(test_sites_in_libgengc);
	RUN(test_bad_files_refused);
	return test_done();
}
