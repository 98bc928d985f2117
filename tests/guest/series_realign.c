// SPDX-License-Identifier: GPL-2.0
/*
 * Whether mremap() moves a range with whole page tables: the series' promise.
 *
 * This test is about behaviour the series changes: without it, a mutually
 * aligned move that starts inside a PMD moves its first part PTE by PTE, so
 * the "realigns" cases fail on the base kernel by design (run_tests
 * reports that as XFAIL there).  The "keeps" cases must hold on both.
 *
 * The page-table work is read from the sandbox's debugfs counters
 * (/sys/kernel/debug/mremap_moves/{ptes,pmds}); every byte moved and every
 * byte of a neighbour that must stay is checked as well.
 *
 * The bytes are written and read through /proc/self/mem: the kernel walks
 * the page tables (what the series changes) and faults the pages in itself.
 * Under UML a store or a load from user space costs a host page fault per
 * page, ~150 us: the 2,800 pages of this test took most of its second.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "mremap_moves.h"

#define KB		(1UL << 10)
#define MB		(1UL << 20)
#define PMD		(2 * MB)
#define PAGE		(4 * KB)
#define AREA		(64 * MB)

/* A byte that tells which region and which offset it belongs to. */
static unsigned char pattern(unsigned long seed, unsigned long off)
{
	return (unsigned char)((off / PAGE) * 31 + off * 7 + seed);
}

/* The descriptor of /proc/self/mem, and its bounce buffer. */
static int self_mem = -1;
static unsigned char chunk[64 * KB];

#define CHUNK(len, off)	((len) - (off) < sizeof(chunk) ? (len) - (off) : sizeof(chunk))

static void fill(struct __test_metadata *_metadata, char *p, unsigned long len,
		 unsigned long seed)
{
	unsigned long off, i, n;

	for (off = 0; off < len; off += n) {
		n = CHUNK(len, off);
		for (i = 0; i < n; i++)
			chunk[i] = pattern(seed, off + i);
		ASSERT_EQ(pwrite(self_mem, chunk, n, (off_t)(uintptr_t)(p + off)), (ssize_t)n)
			TH_LOG("writing %p+%#lx: %s", p, off, strerror(errno));
	}
}

/* Offset of the first byte that is not the pattern, or -1. */
static long first_mismatch(struct __test_metadata *_metadata, const char *p,
			   unsigned long len, unsigned long seed)
{
	unsigned long off, i, n;

	for (off = 0; off < len; off += n) {
		n = CHUNK(len, off);
		/* EIO: a page the kernel cannot find, which is no data either. */
		if (pread(self_mem, chunk, n, (off_t)(uintptr_t)(p + off)) != (ssize_t)n) {
			TH_LOG("reading %p+%#lx: %s", p, off, strerror(errno));
			return off;
		}
		for (i = 0; i < n; i++)
			if (chunk[i] != pattern(seed, off + i))
				return off + i;
	}
	return -1;
}

static char *map_fixed(char *addr, unsigned long len)
{
	return mmap(addr, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

/*
 * One move.  Source and destination each get a PMD-aligned window of their
 * own, emptied first so that nothing but what the variant asks for is near:
 *
 *   src window:  |<- src_off ->|SSSSSSSSSSSSSSS(len)|
 *   dst window:  |<- dst_off ->|................(len)|
 *
 * below_in_vma: the source VMA also covers [window + below_from, src) with
 *   data (the cover letter's |DDDDddddSSSSssss| when below_from is 0):
 *   aligning the source down would take that data along.
 * dst_neighbour: a separate mapping occupies [dst window, dst window + 4K):
 *   aligning the destination down would land on it.
 */
FIXTURE(move)
{
	char *area;
	char *src_win;
	char *dst_win;
};

FIXTURE_VARIANT(move)
{
	unsigned long src_off;
	unsigned long dst_off;
	unsigned long len;
	int below_in_vma;
	unsigned long below_from;
	int dst_neighbour;
	/* Page-table work the series promises for this move. */
	long want_pmds;
	long want_ptes;
};

/* The series' own example: 1.5 MB at 512 KB, one page table, no PTE. */
FIXTURE_VARIANT_ADD(move, realigns_1m5_at_512k)
{
	.src_off = 512 * KB, .dst_off = 512 * KB, .len = 1536 * KB,
	.want_pmds = 1, .want_ptes = 0,
};

/* Larger than a PMD, 1 MB in: two page tables, no PTE. */
FIXTURE_VARIANT_ADD(move, realigns_3m_at_1m)
{
	.src_off = 1 * MB, .dst_off = 1 * MB, .len = 3 * MB,
	.want_pmds = 2, .want_ptes = 0,
};

/* 2 MB - 4 KB in, reaching the boundary with its last page. */
FIXTURE_VARIANT_ADD(move, realigns_4k_at_2m_minus_4k)
{
	.src_off = PMD - PAGE, .dst_off = PMD - PAGE, .len = PAGE,
	.want_pmds = 1, .want_ptes = 0,
};

/* Not mutually aligned: nothing to realign, PTE by PTE. */
FIXTURE_VARIANT_ADD(move, keeps_not_mutually_aligned)
{
	.src_off = 512 * KB, .dst_off = 1 * MB, .len = 1 * MB,
	.want_pmds = 0, .want_ptes = 256,
};

/* Does not reach a PMD boundary: nothing to gain, PTE by PTE. */
FIXTURE_VARIANT_ADD(move, keeps_short_of_boundary)
{
	.src_off = 512 * KB, .dst_off = 512 * KB, .len = 1 * MB,
	.want_pmds = 0, .want_ptes = 256,
};

/* |DDDDddddSSSSssss|: the source is not its VMA's start. */
FIXTURE_VARIANT_ADD(move, keeps_data_below_source)
{
	.src_off = 1 * MB, .dst_off = 1 * MB, .len = 1 * MB,
	.below_in_vma = 1,
	.want_pmds = 0, .want_ptes = 256,
};

/*
 * The source VMA starts inside the source's PMD, 256 KB above the boundary
 * and below the source: the boundary is outside the VMA, but the move does
 * not start at the VMA's start, so [256K, 1M) would be dragged along.
 *
 *   window   +256K          +1M           +2M
 *   |........|DDDDDDDDDDDDDD|ssssssssssssss|
 */
FIXTURE_VARIANT_ADD(move, keeps_vma_start_below_source)
{
	.src_off = 1 * MB, .dst_off = 1 * MB, .len = 1 * MB,
	.below_in_vma = 1, .below_from = 256 * KB,
	.want_pmds = 0, .want_ptes = 256,
};

/* Another mapping in the aligned-down destination range. */
FIXTURE_VARIANT_ADD(move, keeps_mapping_below_destination)
{
	.src_off = 1 * MB, .dst_off = 1 * MB, .len = 1 * MB,
	.dst_neighbour = 1,
	.want_pmds = 0, .want_ptes = 256,
};

FIXTURE_SETUP(move)
{
	uintptr_t base;

	if (access(MREMAP_MOVES "ptes", R_OK))
		SKIP(return, "no %s: a kernel without the sandbox counters", MREMAP_MOVES);

	self_mem = open("/proc/self/mem", O_RDWR);
	ASSERT_LE(0, self_mem) TH_LOG("open /proc/self/mem: %s", strerror(errno));

	/* A PMD-aligned reservation, of which two windows are freed. */
	self->area = mmap(NULL, AREA + PMD, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(self->area, MAP_FAILED);
	base = ((uintptr_t)self->area + PMD - 1) & ~(PMD - 1);
	self->src_win = (char *)base + 4 * PMD;
	self->dst_win = (char *)base + 16 * PMD;
	ASSERT_EQ(munmap(self->src_win, 4 * PMD), 0);
	ASSERT_EQ(munmap(self->dst_win, 4 * PMD), 0);
}

FIXTURE_TEARDOWN(move)
{
	if (self->area)
		munmap(self->area, AREA + PMD);
	if (self_mem >= 0)
		close(self_mem);
}

/* The move has exactly the page-table work promised, and every byte. */
TEST_F(move, page_table_work)
{
	char *src = self->src_win + variant->src_off;
	char *dst = self->dst_win + variant->dst_off;
	char *below = self->src_win + variant->below_from;
	unsigned long below_len = variant->src_off - variant->below_from;
	long pmds, ptes, bad;
	char *p;

	if (variant->below_in_vma) {
		/* One VMA: [window, src) is DDDD.., [src, src + len) ssss. */
		ASSERT_EQ(map_fixed(below, below_len + variant->len), below);
		fill(_metadata, below, below_len, 99);
	} else {
		ASSERT_EQ(map_fixed(src, variant->len), src);
	}
	fill(_metadata, src, variant->len, 1);
	if (variant->dst_neighbour) {
		ASSERT_EQ(map_fixed(self->dst_win, PAGE), self->dst_win);
		fill(_metadata, self->dst_win, PAGE, 77);
	}

	ASSERT_EQ(mremap_moves_reset("ptes"), 0);
	ASSERT_EQ(mremap_moves_reset("pmds"), 0);
	p = mremap(src, variant->len, variant->len,
		   MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	pmds = mremap_moves_read("pmds");
	ptes = mremap_moves_read("ptes");
	ASSERT_EQ(p, dst) TH_LOG("mremap: %s", strerror(errno));

	TH_LOG("moved %lu KB from %#lx to %#lx: %ld pmds, %ld ptes",
	       variant->len / KB, (unsigned long)src, (unsigned long)dst,
	       pmds, ptes);
	EXPECT_EQ(pmds, variant->want_pmds);
	EXPECT_EQ(ptes, variant->want_ptes);

	bad = first_mismatch(_metadata, dst, variant->len, 1);
	EXPECT_EQ(bad, -1) TH_LOG("moved data differs at +%#lx", bad);
	if (variant->below_in_vma) {
		bad = first_mismatch(_metadata, below, below_len, 99);
		EXPECT_EQ(bad, -1) TH_LOG("data below the source differs at +%#lx", bad);
	}
	if (variant->dst_neighbour) {
		bad = first_mismatch(_metadata, self->dst_win, PAGE, 77);
		EXPECT_EQ(bad, -1) TH_LOG("the destination's neighbour differs at +%#lx", bad);
	}
}

TEST_HARNESS_MAIN
