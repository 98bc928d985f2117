// SPDX-License-Identifier: GPL-2.0
/*
 * Allocate and touch memory until the OOM killer ends the program (crash test).
 *
 * Not a test of the suite: tests/host/test_crash.sh runs it in a guest with
 * little memory to provoke a real OOM kill, which run-uml.sh must classify.
 * It touches every page so that the memory is really used, and reports its
 * progress so that the console shows how far it got.  Exit status 1 when
 * it was not killed (mmap() failed first: no OOM kill happened).
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define CHUNK (4UL << 20)

int main(void)
{
	unsigned long total = 0;

	for (;;) {
		char *p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("mem_hog: mmap");
			return 1;
		}
		memset(p, 0x5a, CHUNK);
		total += CHUNK;
		if (total % (32UL << 20) == 0)
			printf("mem_hog: %lu MB\n", total >> 20);
		fflush(stdout);
	}
}
