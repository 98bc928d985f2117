// SPDX-License-Identifier: GPL-2.0
// mremap() moves of whole page tables (PMD and PUD level) keep every byte reachable.
/*
 * Source and destination are PMD-aligned (2 MB), so mremap() can move whole
 * page tables (move_normal_pmd(), or move_normal_pud() for 1 GB) instead of
 * one PTE at a time.  Every page gets a pattern unique to it; after the move
 * each page is touched in the way the test is about (read, write, execute,
 * after mprotect(), munmap(), fork(), ...) and every byte is compared.
 *
 * On a kernel that moves page tables without telling UML's host mapping
 * about it, the first access to a moved page faults forever: the per-test
 * timeout turns that into a failure.  On a kernel without page-table moves
 * the tests check the same semantics and must pass too.
 *
 * Arena, reserved PROT_NONE and PMD-aligned; src and dst are mapped into it:
 *
 *   arena                                              arena + ARENA
 *   +-------+-------------------+-------+-------------------+-------+
 *   | guard | src: len (n PMDs) | guard | dst: len (n PMDs) | guard |
 *   +-------+-------------------+-------+-------------------+-------+
 *    1 PMD   PMD-aligned         1 PMD   PMD-aligned
 *
 * The guards keep src and dst in different PMDs (and page tables).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

#define MB		(1UL << 20)
#define GB		(1UL << 30)
#define PMD		(2 * MB)
#define PUD		GB
#define ARENA		(24 * PMD)
#define TIMEOUT		20	/* seconds; a livelocked fault ends here */

static size_t page_size;

/* The 64-bit word @word of page @page of a fill made with @seed. */
static uint64_t pattern(uint64_t seed, size_t page, size_t word)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + page * 0xbf58476d1ce4e5b9ULL +
		     word * 0x94d049bb133111ebULL;

	x ^= x >> 31;
	x *= 0xd6e9f07d2b1d3c45ULL;
	return x ^ (x >> 29);
}

/* Write @seed's pattern into @npages pages at @p, numbered from @first. */
static void fill(char *p, size_t npages, size_t first, uint64_t seed)
{
	size_t words = page_size / sizeof(uint64_t), i, w;

	for (i = 0; i < npages; i++) {
		uint64_t *q = (uint64_t *)(p + i * page_size);

		for (w = 0; w < words; w++)
			q[w] = pattern(seed, first + i, w);
	}
}

/*
 * Compare every byte of @npages pages at @p with @seed's pattern (pages
 * numbered from @first); the first access to each page is a read.
 * Return the offset of the first wrong byte, or -1.
 */
static long check(const char *p, size_t npages, size_t first, uint64_t seed)
{
	size_t words = page_size / sizeof(uint64_t), i, w, b;

	for (i = 0; i < npages; i++) {
		const uint64_t *q = (const uint64_t *)(p + i * page_size);

		for (w = 0; w < words; w++) {
			uint64_t want = pattern(seed, first + i, w);

			if (q[w] == want)
				continue;
			for (b = 0; b < sizeof(want); b++)
				if (((const char *)&q[w])[b] !=
				    ((const char *)&want)[b])
					break;
			return i * page_size + w * sizeof(want) + b;
		}
	}
	return -1;
}

/* Return the offset of the first non-zero byte in @len bytes at @p, or -1. */
static long check_zero(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return i;
	return -1;
}

static sigjmp_buf probe_env;

static void probe_handler(int sig)
{
	siglongjmp(probe_env, 1);
}

/*
 * True if reading (or writing) @p raises SIGSEGV in this very process: a
 * page the host still maps after the guest unmapped it would not fault.
 */
static bool faults(volatile char *p, bool write)
{
	struct sigaction sa = { .sa_handler = probe_handler }, old;
	bool faulted = false;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old);
	if (sigsetjmp(probe_env, 1))
		faulted = true;
	else if (write)
		*p = 1;
	else
		(void)*p;
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

/* Number of pages in [p, p + len) whose read does not fault; 0 is right. */
static size_t count_readable(char *p, size_t len)
{
	size_t off, n = 0;

	for (off = 0; off < len; off += page_size)
		n += !faults(p + off, false);
	return n;
}

/* Reserve @size bytes PROT_NONE, aligned to @align; NULL on failure. */
static char *reserve_aligned(size_t size, size_t align)
{
	char *p = mmap(NULL, size + align, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + align - 1) & ~(align - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + size, p + align - a);
	return a;
}

FIXTURE(pmd_move) {
	char *arena;
	char *src;
	char *dst;
	size_t len;
};

FIXTURE_SETUP(pmd_move)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->arena = reserve_aligned(ARENA, PMD);
	ASSERT_NE(NULL, self->arena);
}

FIXTURE_TEARDOWN(pmd_move)
{
	munmap(self->arena, ARENA);
}

/*
 * Map @len bytes (read/write, anonymous, MAP_PRIVATE or MAP_SHARED as
 * @share says) at src as in the layout above, fill every page with seed
 * 1's pattern and pick dst.
 */
static int setup_src_share(FIXTURE_DATA(pmd_move) *self, size_t len,
			   int share)
{
	size_t span = (len + PMD - 1) & ~(PMD - 1);

	if (3 * PMD + 2 * span > ARENA)
		return -1;
	self->len = len;
	self->src = mmap(self->arena + PMD, len, PROT_READ | PROT_WRITE,
			 share | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (self->src == MAP_FAILED)
		return -1;
	self->dst = self->src + span + PMD;
	fill(self->src, len / page_size, 0, 1);
	return 0;
}

static int setup_src(FIXTURE_DATA(pmd_move) *self, size_t len)
{
	return setup_src_share(self, len, MAP_PRIVATE);
}

/* Move src onto dst (MREMAP_FIXED), adding @flags; 0 on success. */
static int move(FIXTURE_DATA(pmd_move) *self, int flags)
{
	void *r = mremap(self->src, self->len, self->len,
			 MREMAP_MAYMOVE | MREMAP_FIXED | flags, self->dst);

	return r == self->dst ? 0 : -1;
}

/* After a move of one PMD, reading every page returns its original bytes. */
TEST_F_TIMEOUT(pmd_move, read_fault, TIMEOUT)
{
	ASSERT_EQ(0, setup_src(self, PMD));
	ASSERT_EQ(0, move(self, 0));
	EXPECT_EQ(-1, check(self->dst, PMD / page_size, 0, 1));
	/* The old range is gone in the host too, not just in the guest. */
	EXPECT_EQ((size_t)0, count_readable(self->src, PMD));
}

/* After a move, a write as first access to each page lands and keeps the rest. */
TEST_F_TIMEOUT(pmd_move, write_fault, TIMEOUT)
{
	size_t npages = PMD / page_size, i;
	long bad;

	ASSERT_EQ(0, setup_src(self, PMD));
	ASSERT_EQ(0, move(self, 0));
	/*
	 * The first access to page i stores to its first word; the other
	 * words must still hold the old pattern.
	 */
	for (i = 0; i < npages; i++)
		*(uint64_t *)(self->dst + i * page_size) = pattern(2, i, 0);
	for (i = 0; i < npages; i++) {
		uint64_t *q = (uint64_t *)(self->dst + i * page_size);

		ASSERT_EQ(pattern(2, i, 0), q[0]);
		q[0] = pattern(1, i, 0);
	}
	bad = check(self->dst, npages, 0, 1);
	EXPECT_EQ(-1, bad);
	fill(self->dst, npages, 0, 3);
	EXPECT_EQ(-1, check(self->dst, npages, 0, 3));
}

#if defined(__x86_64__) || defined(__i386__)
/*
 * Each page starts with "mov $id, %eax; ret", the rest is its pattern:
 *
 *   page i: | b8 <id i, 4 bytes> c3 | pattern(1, i, ...) ... |
 */
static void put_code(char *page, uint32_t id)
{
	page[0] = (char)0xb8;
	memcpy(page + 1, &id, sizeof(id));
	page[5] = (char)0xc3;
}
#endif

/* After a move, calling code in each page (exec as first access) runs it. */
TEST_F_TIMEOUT(pmd_move, exec_fault, TIMEOUT)
{
#if defined(__x86_64__) || defined(__i386__)
	size_t npages = PMD / page_size, i;

	ASSERT_EQ(0, setup_src(self, PMD));
	for (i = 0; i < npages; i++)
		put_code(self->src + i * page_size, 0x1000 + i);
	ASSERT_EQ(0, mprotect(self->src, PMD, PROT_READ | PROT_EXEC));
	ASSERT_EQ(0, move(self, 0));
	for (i = 0; i < npages; i++) {
		int (*fn)(void) = (int (*)(void))(self->dst + i * page_size);

		ASSERT_EQ(0x1000 + i, (size_t)fn());
	}
	/* Every byte: the code over word 0's first bytes, then the pattern. */
	for (i = 0; i < npages; i++) {
		const uint64_t *q = (const uint64_t *)(self->dst + i * page_size);
		uint64_t word0 = pattern(1, i, 0);
		size_t w;

		put_code((char *)&word0, 0x1000 + i);
		ASSERT_EQ(word0, q[0]);
		for (w = 1; w < page_size / sizeof(*q); w++)
			ASSERT_EQ(pattern(1, i, w), q[w]);
	}
#else
	SKIP(return, "no x86 code bytes for this architecture");
#endif
}

/*
 * mprotect() right after the move, before any access, gives the new
 * protection: read-only pages read back right and refuse writes, and
 * read-write again takes writes.
 */
TEST_F_TIMEOUT(pmd_move, mprotect_after_move, TIMEOUT)
{
	size_t npages = PMD / page_size, half = npages / 2;
	char saved;

	ASSERT_EQ(0, setup_src(self, PMD));
	ASSERT_EQ(0, move(self, 0));
	/* Read-only on the first half only: splits the VMA mid-table. */
	ASSERT_EQ(0, mprotect(self->dst, half * page_size, PROT_READ));
	EXPECT_EQ(-1, check(self->dst, npages, 0, 1));
	EXPECT_TRUE(faults(self->dst, true));
	EXPECT_TRUE(faults(self->dst + (half - 1) * page_size, true));
	saved = self->dst[half * page_size];
	EXPECT_FALSE(faults(self->dst + half * page_size, true));
	self->dst[half * page_size] = saved;

	ASSERT_EQ(0, mprotect(self->dst, PMD, PROT_NONE));
	EXPECT_TRUE(faults(self->dst + half * page_size, false));
	ASSERT_EQ(0, mprotect(self->dst, PMD, PROT_READ | PROT_WRITE));
	EXPECT_EQ(-1, check(self->dst, npages, 0, 1));
	fill(self->dst, npages, 0, 4);
	EXPECT_EQ(-1, check(self->dst, npages, 0, 4));
}

/*
 * munmap() of a range across the PMD boundary right after a two-PMD move
 * unmaps exactly that range; the rest keeps its bytes:
 *
 *   dst        dst + PMD/2    dst + PMD    dst + 5 PMD/4     dst + 2 PMD
 *   | kept      | unmapped                  | kept            |
 */
TEST_F_TIMEOUT(pmd_move, munmap_after_move, TIMEOUT)
{
	size_t npages = 2 * PMD / page_size;
	size_t hole = PMD / 2 / page_size, hole_end = 5 * PMD / 4 / page_size;

	ASSERT_EQ(0, setup_src(self, 2 * PMD));
	ASSERT_EQ(0, move(self, 0));
	ASSERT_EQ(0, munmap(self->dst + hole * page_size,
			    (hole_end - hole) * page_size));
	EXPECT_EQ(-1, check(self->dst, hole, 0, 1));
	EXPECT_EQ(-1, check(self->dst + hole_end * page_size,
			    npages - hole_end, hole_end, 1));
	EXPECT_EQ((size_t)0, count_readable(self->dst + hole * page_size,
				    (hole_end - hole) * page_size));
	EXPECT_EQ((size_t)0, count_readable(self->src, 2 * PMD));
}

/*
 * fork() right after the move: parent and child first read the original
 * bytes, then each sees only its own writes (copy-on-write).
 */
TEST_F_TIMEOUT(pmd_move, fork_cow_after_move, TIMEOUT)
{
	size_t npages = PMD / page_size;
	int c2p[2], p2c[2], status;
	char token;
	pid_t pid;

	ASSERT_EQ(0, setup_src(self, PMD));
	ASSERT_EQ(0, move(self, 0));
	ASSERT_EQ(0, pipe(c2p));
	ASSERT_EQ(0, pipe(p2c));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ret = 0;

		/* Child: old bytes, then its own writes, before and after the parent's. */
		if (check(self->dst, npages, 0, 1) != -1)
			ret |= 1;
		fill(self->dst, npages, 0, 5);
		if (check(self->dst, npages, 0, 5) != -1)
			ret |= 2;
		if (write(c2p[1], "c", 1) != 1 || read(p2c[0], &token, 1) != 1)
			ret |= 4;
		if (check(self->dst, npages, 0, 5) != -1)
			ret |= 8;
		_exit(ret);
	}
	/* Parent: the child has written; it must not see that. */
	ASSERT_EQ(1, read(c2p[0], &token, 1));
	EXPECT_EQ(-1, check(self->dst, npages, 0, 1));
	fill(self->dst, npages, 0, 6);
	EXPECT_EQ(-1, check(self->dst, npages, 0, 6));
	ASSERT_EQ(1, write(p2c[1], "p", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(-1, check(self->dst, npages, 0, 6));
}

/*
 * fork() right after the move of a shared mapping: each process sees the
 * other's writes.  fork() does not copy (or rewrite) PTEs of shared
 * mappings, so the parent's moved entries stay as the move left them.
 *
 *   dst:  | first half: child writes seed 9 | second half: parent, seed 10 |
 */
TEST_F_TIMEOUT(pmd_move, fork_shared_after_move, TIMEOUT)
{
	size_t npages = PMD / page_size, half = npages / 2;
	int c2p[2], p2c[2], status;
	char token;
	pid_t pid;

	ASSERT_EQ(0, setup_src_share(self, PMD, MAP_SHARED));
	ASSERT_EQ(0, move(self, 0));
	ASSERT_EQ(0, pipe(c2p));
	ASSERT_EQ(0, pipe(p2c));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int ret = 0;

		if (check(self->dst, npages, 0, 1) != -1)
			ret |= 1;
		fill(self->dst, half, 0, 9);
		if (write(c2p[1], "c", 1) != 1 || read(p2c[0], &token, 1) != 1)
			ret |= 4;
		if (check(self->dst + half * page_size, npages - half, half,
			  10) != -1)
			ret |= 8;
		_exit(ret);
	}
	ASSERT_EQ(1, read(c2p[0], &token, 1));
	EXPECT_EQ(-1, check(self->dst, half, 0, 9));
	EXPECT_EQ(-1, check(self->dst + half * page_size, npages - half, half,
			    1));
	fill(self->dst + half * page_size, npages - half, half, 10);
	ASSERT_EQ(1, write(p2c[1], "p", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * MREMAP_DONTUNMAP: dst has the data; src stays mapped and reads zero-fill
 * (not the old bytes), and writes to one do not show in the other.
 */
TEST_F_TIMEOUT(pmd_move, dontunmap, TIMEOUT)
{
	size_t npages = PMD / page_size;

	ASSERT_EQ(0, setup_src(self, PMD));
	ASSERT_EQ(0, move(self, MREMAP_DONTUNMAP));
	EXPECT_EQ(-1, check(self->dst, npages, 0, 1));
	EXPECT_EQ(-1, check_zero(self->src, PMD));
	fill(self->src, npages, 0, 7);
	EXPECT_EQ(-1, check(self->dst, npages, 0, 1));
	EXPECT_EQ(-1, check(self->src, npages, 0, 7));
}

/*
 * A move of four whole PMDs and a 5-page tail (the tail goes PTE by PTE):
 * every page, first read in the odd ones and first written in the even
 * ones, holds its own bytes.
 */
TEST_F_TIMEOUT(pmd_move, multi_pmd, TIMEOUT)
{
	size_t len = 4 * PMD + 5 * page_size, npages = len / page_size, i;

	ASSERT_EQ(0, setup_src(self, len));
	ASSERT_EQ(0, move(self, 0));
	for (i = 0; i < npages; i += 2)
		*(uint64_t *)(self->dst + i * page_size) = pattern(1, i, 0);
	for (i = 1; i < npages; i += 2)
		ASSERT_EQ(-1, check(self->dst + i * page_size, 1, i, 1));
	EXPECT_EQ(-1, check(self->dst, npages, 0, 1));
	EXPECT_EQ((size_t)0, count_readable(self->src, len));
}

/*
 * Moves into a PMD that the previous move just emptied, in the order of
 * the exec stack shift (shift_arg_pages(): downwards, overlapping), done
 * here as three mremap()s because one may not overlap:
 *
 *   step 1: A  [src, +PMD)        -> dst
 *   step 2: B  [src+PMD, +PMD)    -> src         (A's old slot)
 *   step 3: C  [src+2PMD, +PMD)   -> src + PMD   (B's old slot)
 *
 * Nothing is touched between the moves; then all three hold their bytes.
 */
TEST_F_TIMEOUT(pmd_move, chained_into_vacated, TIMEOUT)
{
	size_t n = PMD / page_size;
	char *s;

	ASSERT_EQ(0, setup_src(self, 3 * PMD));
	s = self->src;
	ASSERT_EQ(self->dst, mremap(s, PMD, PMD, MREMAP_MAYMOVE | MREMAP_FIXED,
				    self->dst));
	ASSERT_EQ(s, mremap(s + PMD, PMD, PMD, MREMAP_MAYMOVE | MREMAP_FIXED, s));
	ASSERT_EQ(s + PMD, mremap(s + 2 * PMD, PMD, PMD,
				  MREMAP_MAYMOVE | MREMAP_FIXED, s + PMD));
	EXPECT_EQ(-1, check(self->dst, n, 0, 1));
	EXPECT_EQ(-1, check(s, n, n, 1));
	EXPECT_EQ(-1, check(s + PMD, n, 2 * n, 1));
	EXPECT_EQ((size_t)0, count_readable(s + 2 * PMD, PMD));
}

/*
 * There and back: half the pages are touched at dst, then the table moves
 * back to src; all pages hold their bytes at src and none remain at dst.
 */
TEST_F_TIMEOUT(pmd_move, round_trip, TIMEOUT)
{
	size_t npages = PMD / page_size;

	ASSERT_EQ(0, setup_src(self, PMD));
	ASSERT_EQ(0, move(self, 0));
	EXPECT_EQ(-1, check(self->dst, npages / 2, 0, 1));
	ASSERT_EQ(self->src, mremap(self->dst, PMD, PMD,
				    MREMAP_MAYMOVE | MREMAP_FIXED, self->src));
	EXPECT_EQ(-1, check(self->src, npages, 0, 1));
	EXPECT_EQ((size_t)0, count_readable(self->dst, PMD));
}

/* Two adjacent PUD-aligned gigabytes: src, then dst. */
FIXTURE(pud_move) {
	char *src;
	char *dst;
};

FIXTURE_SETUP(pud_move)
{
	page_size = sysconf(_SC_PAGESIZE);
	self->src = reserve_aligned(2 * PUD, PUD);
	ASSERT_NE(NULL, self->src);
	self->dst = self->src + PUD;
}

FIXTURE_TEARDOWN(pud_move)
{
	munmap(self->src, 2 * PUD);
}

/*
 * A 1 GB move between PUD-aligned addresses (a whole PMD table at once
 * where the kernel moves PUDs).  One page in every PMD is filled, plus all
 * of the first and last PMD; the rest was never touched and reads zero:
 *
 *   src (1 GB aligned)                                    src + 1 GB
 *   | PMD 0: full | PMD 1: page 0 | ... | PMD 510: page 0 | PMD 511: full |
 */
TEST_F_TIMEOUT(pud_move, one_gb, TIMEOUT)
{
	size_t per_pmd = PMD / page_size, i;
	char *p;

	p = mmap(self->src, PUD, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
	ASSERT_EQ(self->src, p);
	fill(p, per_pmd, 0, 8);
	for (i = 1; i < PUD / PMD - 1; i++)
		fill(p + i * PMD, 1, i * per_pmd, 8);
	fill(p + PUD - PMD, per_pmd, PUD / page_size - per_pmd, 8);

	ASSERT_EQ(self->dst, mremap(self->src, PUD, PUD,
				    MREMAP_MAYMOVE | MREMAP_FIXED, self->dst));
	p = self->dst;
	EXPECT_EQ(-1, check(p, per_pmd, 0, 8));
	for (i = 1; i < PUD / PMD - 1; i++) {
		ASSERT_EQ(-1, check(p + i * PMD, 1, i * per_pmd, 8));
		ASSERT_EQ(-1, check_zero(p + i * PMD + page_size, page_size));
	}
	EXPECT_EQ(-1, check(p + PUD - PMD, per_pmd,
			    PUD / page_size - per_pmd, 8));
	EXPECT_EQ((size_t)0, count_readable(self->src, PMD));
	EXPECT_EQ((size_t)0, count_readable(self->src + PUD - PMD, PMD));
}

TEST_HARNESS_MAIN
