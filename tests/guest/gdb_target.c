// SPDX-License-Identifier: GPL-2.0
/*
 * A mutually aligned mremap() at fixed addresses, for the GDB host test.
 *
 * tests/host/test_gdb.sh breaks on move_page_tables() and checks the
 * arguments against the addresses below, which is why they are fixed
 * (MAP_FIXED / MREMAP_FIXED) and printed.  Source and destination have the
 * same offset inside their PMD (1 MB) and the move is long enough to reach
 * a PMD boundary, so the series realigns both down to the PMD boundary:
 *
 *   0x40000000  0x40100000          0x40200000          0x40400000
 *   |  (empty)  |ssssssssss|ssssssssssssssssssss|sssssssss|   source, 3 MB
 *   ^ realigned old_addr
 *   0x80000000  0x80100000
 *   |  (empty)  |dddddddddd|dddddddddddddddddddd|ddddddddd|   destination
 *   ^ realigned new_addr
 *
 * Nothing else is mapped below either range inside its PMD, and each
 * address is the start of its VMA: every condition for the realignment
 * holds.
 *
 * Usage: gdb_target [OLD NEW LEN]   (hexadecimal; defaults as above)
 * Exits 0 when the data arrived intact at the new address, 1 otherwise.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define OLD_ADDR	0x40100000UL
#define NEW_ADDR	0x80100000UL
#define MOVE_LEN	0x300000UL

static unsigned long parse_hex(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno || *end || end == s) {
		fprintf(stderr, "gdb_target: '%s' is not a hexadecimal number\n", s);
		exit(64);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long old_addr = OLD_ADDR, new_addr = NEW_ADDR, len = MOVE_LEN;
	long page = sysconf(_SC_PAGESIZE);
	unsigned long i;
	char *src, *dst;

	if (argc == 4) {
		old_addr = parse_hex(argv[1]);
		new_addr = parse_hex(argv[2]);
		len = parse_hex(argv[3]);
	} else if (argc != 1) {
		fprintf(stderr, "usage: gdb_target [OLD NEW LEN]  (hexadecimal)\n");
		return 64;
	}

	src = mmap((void *)old_addr, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (src == MAP_FAILED || (unsigned long)src != old_addr) {
		perror("gdb_target: mmap at the old address");
		return 1;
	}
	/* Fault every page in: move_page_tables() has PTEs to move. */
	for (i = 0; i < len; i += page)
		src[i] = (char)(i / page + 1);

	printf("gdb_target: mremap old=%#lx new=%#lx len=%#lx\n", old_addr, new_addr, len);
	fflush(stdout);
	dst = mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)new_addr);
	if (dst == MAP_FAILED || (unsigned long)dst != new_addr) {
		perror("gdb_target: mremap");
		return 1;
	}

	for (i = 0; i < len; i += page) {
		if (dst[i] != (char)(i / page + 1)) {
			fprintf(stderr, "gdb_target: wrong data at %#lx after the move\n",
				new_addr + i);
			return 1;
		}
	}
	printf("gdb_target: data intact at %#lx\n", new_addr);
	return 0;
}
