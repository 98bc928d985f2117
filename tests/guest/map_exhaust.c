// SPDX-License-Identifier: GPL-2.0
/*
 * Exhaust the host's mappings from inside the guest (crash test, not of the suite).
 *
 * Under UML every run of a guest process's pages with one protection is a
 * mapping of its own in the host process behind it.  This maps SIZE MB
 * (default 400), populates it (MAP_POPULATE: no fault per page, seconds
 * instead of minutes), then makes every other page read-only: one host
 * mapping per page, past the host's vm.max_map_count (65530 by default),
 * which UML reports as "ran out of memory on the host side" and answers
 * by killing this process.  The guest's own limit is raised first, so
 * that it is the host's that is hit.
 *
 * tests/host/test_hostile_splats.sh runs it; exit 0 when it was not
 * killed (the host allows that many mappings), 1 on an error.
 *
 * Usage: map_exhaust [SIZE_MB]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	unsigned long mb = argc > 1 ? strtoul(argv[1], NULL, 10) : 400;
	long page = sysconf(_SC_PAGESIZE);
	size_t size = mb << 20, off, n = 0;
	char *p;
	int fd;

	if (!mb || mb > 4096) {
		fprintf(stderr, "map_exhaust: SIZE_MB must be 1-4096, not '%s'\n", argv[1]);
		return 1;
	}
	/* Root in the guest: its limit out of the way (best effort). */
	fd = open("/proc/sys/vm/max_map_count", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "4194304", 7) != 7)
			perror("map_exhaust: vm.max_map_count");
		close(fd);
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED) {
		perror("map_exhaust: mmap");
		return 1;
	}
	/* Each write reaches the host's mapping of the page. */
	for (off = 0; off < size; off += page)
		p[off] = 1;
	printf("map_exhaust: %lu MB touched\n", mb);
	fflush(stdout);
	for (off = 0; off < size; off += 2 * page, n++) {
		if (mprotect(p + off, page, PROT_READ)) {
			fprintf(stderr, "map_exhaust: mprotect #%zu: %s\n", n, strerror(errno));
			return 1;
		}
		if (n % 8192 == 0) {
			printf("map_exhaust: %zu pages read-only\n", n);
			fflush(stdout);
		}
	}
	/* Read each page back: the host must map every one. */
	for (off = 0; off < size; off += page)
		n += p[off];
	printf("map_exhaust: %zu pages alternate, not killed\n", size / page);
	return 0;
}
