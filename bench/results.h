/* SPDX-License-Identifier: MIT */
/* bench/RESULTS.md's sections, for the C benchmarks: each owns one "## "
 * section and replaces it whole, leaving the others as they are. (The shell
 * benches own marked blocks instead: bench/gc/run.sh, bench/agent/run.sh.) */
#ifndef MEMAGENT_BENCH_RESULTS_H
#define MEMAGENT_BENCH_RESULTS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replaces, in the Markdown file path, the section whose heading line starts
 * with heading ("## Name"), up to the next "## " heading, with section (which
 * starts with that heading line), or appends it after a blank line; a blank
 * line stays before the next heading. A missing file is created with the
 * title "# Benchmark results". Returns 0 or a negative errno. */
static inline int results_md_put(const char *path, const char *heading, const char *section)
{
	char *old = NULL, *start = NULL, *end = NULL, *p;
	size_t len = 0, hl = strlen(heading), sl = strlen(section);
	FILE *f = fopen(path, "re");
	int r = 0;

	if (f) {
		char buf[4096];
		size_t n;

		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			char *o = realloc(old, len + n + 1);

			if (!o) {
				free(old);
				fclose(f);
				return -ENOMEM;
			}
			old = o;
			memcpy(old + len, buf, n);
			len += n;
		}
		fclose(f);
	}
	if (!old) {
		if (!(old = strdup("# Benchmark results\n")))
			return -ENOMEM;
		len = strlen(old);
	}
	old[len] = '\0';
	for (p = old; p && !start; p = (p = strchr(p, '\n')) ? p + 1 : NULL)
		if (strncmp(p, heading, hl) == 0)
			start = p;
	if (start)
		end = strstr(start + hl, "\n## ");
	f = fopen(path, "we");
	if (!f) {
		r = -errno;
		free(old);
		return r;
	}
	if (start) {
		fwrite(old, 1, (size_t)(start - old), f);
		fputs(section, f);
		if (end) {
			if (sl < 2 || strcmp(section + sl - 2, "\n\n") != 0)
				fputc('\n', f);
			fputs(end + 1, f);
		}
	} else {
		fputs(old, f);
		if (len && old[len - 1] != '\n')
			fputc('\n', f);
		fputc('\n', f);
		fputs(section, f);
	}
	if (ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	free(old);
	return r;
}

#endif
