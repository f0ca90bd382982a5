/* SPDX-License-Identifier: MIT */
/* bench-push's disk buffer row: CPU and bytes per sample of diskbuf_append()
 * for snapshots shaped like the benchmark's (N processes, 12 series each).
 *
 * Usage: push-diskbuf DIR N SNAPSHOTS    prints "US_PER_SAMPLE BYTES_PER_SAMPLE"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diskbuf.h"
#include "series.h"

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"memagent_process_resident_bytes", "memagent_process_virtual_bytes", "memagent_process_swap_bytes",
		"memagent_process_anon_bytes", "memagent_process_file_bytes", "memagent_process_shmem_bytes",
		"memagent_process_resident_hwm_bytes", "memagent_process_page_tables_bytes",
		"memagent_process_minor_faults_total", "memagent_process_major_faults_total",
		"memagent_process_open_fds", "memagent_process_count",
	};
	struct series_table *t = series_table_new();
	struct series_sample *v;
	struct diskbuf *b;
	struct diskbuf_info info;
	char path[4096];
	size_t n, snaps, k = 0;
	double t0, t1;

	if (argc != 4 || !t)
		return 2;
	n = strtoul(argv[2], NULL, 10) * 12;
	snaps = strtoul(argv[3], NULL, 10);
	v = calloc(n, sizeof(*v));
	snprintf(path, sizeof(path), "%s/bench.buf", argv[1]);
	remove(path);
	if (!v || diskbuf_open(path, 1ull << 40, NULL, NULL, &b, &info) < 0)
		return 1;
	for (size_t p = 0; p < n / 12; p++) {
		char pid[24];

		snprintf(pid, sizeof(pid), "%zu", 10000 + p);
		for (size_t m = 0; m < 12; m++) {
			struct snapshot_label l[2] = { { "pid", pid }, { "target", "idle" } };

			v[k++] = (struct series_sample){ series_intern(t, names[m], l, 2), (double)(p * 4096), 1700000000000 };
		}
	}
	t0 = cpu_s();
	for (size_t s = 0; s < snaps; s++)
		if (diskbuf_append(b, v, n) < 0)
			return 1;
	t1 = cpu_s();
	printf("%.3f %.1f\n", (t1 - t0) * 1e6 / (double)(n * snaps), (double)diskbuf_size(b) / (double)(n * snaps));
	diskbuf_free(b);
	remove(path);
	series_table_free(t);
	free(v);
	return 0;
}
