// SPDX-License-Identifier: GPL-2.0
/*
 * mremap() latency and page-table work for the series' scenarios (make bench).
 *
 * Usage: mremap_bench [ROUNDS]
 *
 * For each scenario: map and populate the source, move it, and record the
 * time of the mremap() call alone and the sandbox's debugfs counters of
 * PTEs and PMDs moved.  Prints one line per scenario:
 *
 *   scenario <name> len_kb <n> ptes <n> pmds <n> median_ns <n> min_ns <n> max_ns <n>
 *
 * Not a test: it asserts nothing, the host compares kernels with it.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mremap_moves.h"

#define KB		(1UL << 10)
#define MB		(1UL << 20)
#define PMD		(2 * MB)

struct scenario {
	const char *name;
	unsigned long src_off;
	unsigned long dst_off;
	unsigned long len;
};

/* The moves the series is about, and two it must leave alone. */
static const struct scenario scenarios[] = {
	{ "aligned_1m5_at_512k",	512 * KB,	512 * KB,	1536 * KB },
	{ "aligned_3m_at_1m",		1 * MB,		1 * MB,		3 * MB },
	{ "aligned_4m_at_4k",		4 * KB,		4 * KB,		4 * MB },
	{ "aligned_2m_at_0",		0,		0,		2 * MB },
	{ "unaligned_1m5_512k_to_1m",	512 * KB,	1 * MB,		1536 * KB },
	{ "short_1m_at_512k",		512 * KB,	512 * KB,	1 * MB },
};

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static int run(const struct scenario *sc, char *src_win, char *dst_win,
	       int rounds)
{
	long long *ns = calloc(rounds, sizeof(*ns));
	long ptes = 0, pmds = 0;
	int r;

	if (!ns)
		return -1;
	for (r = 0; r < rounds; r++) {
		char *src = src_win + sc->src_off, *dst = dst_win + sc->dst_off;
		long long t0;
		void *p;

		if (mmap(src, sc->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != src)
			return -1;
		memset(src, r + 1, sc->len);
		mremap_moves_reset("ptes");
		mremap_moves_reset("pmds");
		t0 = now_ns();
		p = mremap(src, sc->len, sc->len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		ns[r] = now_ns() - t0;
		ptes = mremap_moves_read("ptes");
		pmds = mremap_moves_read("pmds");
		if (p != dst)
			return -1;
		munmap(dst, sc->len);
	}
	qsort(ns, rounds, sizeof(*ns), cmp_ll);
	printf("scenario %s len_kb %lu ptes %ld pmds %ld median_ns %lld min_ns %lld max_ns %lld\n",
	       sc->name, sc->len / KB, ptes, pmds, ns[rounds / 2], ns[0],
	       ns[rounds - 1]);
	free(ns);
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 50;
	size_t area = 32 * PMD;
	uintptr_t base;
	char *res;
	unsigned int i;

	if (rounds < 1) {
		fprintf(stderr, "usage: %s [ROUNDS]\n", argv[0]);
		return 2;
	}
	/* Two empty PMD-aligned windows, far from anything else. */
	res = mmap(NULL, area + PMD, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return 1;
	base = ((uintptr_t)res + PMD - 1) & ~(PMD - 1);
	munmap((char *)base + 4 * PMD, 4 * PMD);
	munmap((char *)base + 16 * PMD, 4 * PMD);
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		if (run(&scenarios[i], (char *)base + 4 * PMD,
			(char *)base + 16 * PMD, rounds)) {
			perror(scenarios[i].name);
			return 1;
		}
	}
	return 0;
}
