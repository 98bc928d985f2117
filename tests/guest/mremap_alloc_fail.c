// SPDX-License-Identifier: GPL-2.0
// An mremap() whose page-table allocation fails must fail whole: ENOMEM, source intact.
/*
 * move_page_tables() returns how much it moved; when it stops early, mremap()
 * moves that much back and fails with ENOMEM.  With the series the walk may
 * start below the source (realigned down to the PMD boundary), so "how much"
 * must be computed from the original start and never be taken from a walk
 * that stopped before reaching it.  Only an allocation failure inside the
 * first, realigned PMD shows a wrong answer, so this test makes exactly that
 * happen: fail_page_alloc, restricted to this task, fails its next page
 * allocation during the mremap().
 *
 * The destination lies in a 1 GB region no page was ever mapped in, so the
 * first thing the move needs there is a new page table (alloc_new_pmd()),
 * and that is the allocation that fails, while the walk is still at the
 * realigned start below the source.  Each attempt takes a fresh region:
 *
 *   base (1 GB-aligned)   base + 1 GB             base + 2 GB
 *   +--------------------+-----------------------+-----------------------+--
 *   | PMD | off | src    | off | dst (attempt 0) | off | dst (attempt 1) | ..
 *   +--------------------+-----------------------+-----------------------+--
 *
 * Every attempt must end one of two ways: mremap() fails with ENOMEM and the
 * source still holds every byte, or it succeeds and the destination does.
 * At least one attempt must see the injected failure, or the test proved
 * nothing.  The outcome is the same with and without the series.
 *
 * The last two variants let the first PMDs move and fail at the PTE table
 * of the last, partial one (a page mapped far into the destination's
 * region makes its PMD table exist; fail_page_alloc's space lets one more
 * allocation through): "how much" is then part of the move, counted from
 * the source's start, and the move back must not realign what the move
 * there did not.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define KB		(1UL << 10)
#define MB		(1UL << 20)
#define PMD		(2 * MB)
#define GB		(1UL << 30)
#define ATTEMPTS	3
#define ARENA		((ATTEMPTS + 2) * GB)	/* address space only */
#define FAIL_DIR	"/sys/kernel/debug/fail_page_alloc/"

/* Write @val to the control file @path; 0 on success, else errno. */
static int write_knob(const char *path, const char *val)
{
	ssize_t len = strlen(val), n;
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return errno;
	n = write(fd, val, len);
	close(fd);
	return n == len ? 0 : (n < 0 ? errno : EIO);
}

static uint8_t byte_at(size_t i, unsigned int seed)
{
	return (uint8_t)((i >> 12) * 131 + i * 7 + seed * 29 + 1);
}

static void fill(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = byte_at(i, seed);
}

/* Offset of the first byte that differs from @seed's fill, or -1. */
static long first_bad(const uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != byte_at(i, seed))
			return (long)i;
	return -1;
}

FIXTURE(alloc_fail) {
	uint8_t *arena;
};

FIXTURE_VARIANT(alloc_fail) {
	unsigned long offset;	/* of src and dst into their PMDs */
	unsigned long len;
	/*
	 * Map a page 512 MB into the destination's 1 GB region first: its
	 * PMD table then exists, and the first allocation the move needs is
	 * the PTE table of its partial last PMD, after whole PMDs moved.
	 */
	int dst_table_ready;
	/* The source's VMA starts at its PMD boundary, with data below it. */
	int below;
	/* Page allocations that succeed before the one that fails. */
	int pass_allocs;
};

/* Realigned to one whole PMD with the series. */
FIXTURE_VARIANT_ADD(alloc_fail, off_1m_len_1m) {
	.offset = MB,
	.len = MB,
};

/* Realigned; the first PMD is nearly full. */
FIXTURE_VARIANT_ADD(alloc_fail, off_4k_len_1536k) {
	.offset = 4 * KB,
	.len = 1536 * KB,
};

/* Realigned first PMD, then a second one: the failure hits the first. */
FIXTURE_VARIANT_ADD(alloc_fail, off_1m_len_3m) {
	.offset = MB,
	.len = 3 * MB,
};

/*
 * Realigned first PMD and a second whole one move; the failure hits the
 * PTE table of the last, partial PMD, past the source's start: "how much
 * was done" is then 3 MB of 3.5 MB, and must be counted from the source's
 * start, not taken for all of it.
 *
 *   dst region (1 GB)  +0     +1M    +2M           +4M   +4.5M     +512M
 *                      |      |ddddd|ddddddddddddd|ddddd|  ...  |page|
 *                      realigned    whole PMD      PTEs: fails
 */
FIXTURE_VARIANT_ADD(alloc_fail, off_1m_len_3m5_fails_at_tail) {
	.offset = MB,
	.len = 3 * MB + 512 * KB,
	.dst_table_ready = 1,
};

/*
 * Not realigned (data below the source in its VMA), then the same failure
 * at the last, partial PMD after one allocation (the first PMD's PTE
 * table) went through: 3 MB are moved back.  The move back must not be
 * realigned either: it would take the destination's whole first PMD onto
 * the source's, whose page table still maps the data below the source.
 *
 *   src PMD  +0            +1M           +2M           +4M   +4.5M
 *            |DDDDDDDDDDDDD|sssssssssssss|sssssssssssss|sssss|
 */
FIXTURE_VARIANT_ADD(alloc_fail, below_src_fails_at_tail) {
	.offset = MB,
	.len = 3 * MB + 512 * KB,
	.dst_table_ready = 1,
	.below = 1,
	.pass_allocs = 1,
};

FIXTURE_SETUP(alloc_fail)
{
	uint8_t *raw;

	/* The sandbox kernel has fail_page_alloc; without it nothing is tested. */
	ASSERT_EQ(0, write_knob(FAIL_DIR "probability", "100")) {
		TH_LOG("cannot configure %s: CONFIG_FAIL_PAGE_ALLOC and debugfs are needed",
		       FAIL_DIR);
	}
	/* Only tasks with make-it-fail, and every kind of allocation. */
	ASSERT_EQ(0, write_knob(FAIL_DIR "task-filter", "Y"));
	ASSERT_EQ(0, write_knob(FAIL_DIR "ignore-gfp-wait", "N"));
	ASSERT_EQ(0, write_knob(FAIL_DIR "ignore-gfp-highmem", "N"));
	ASSERT_EQ(0, write_knob(FAIL_DIR "min-order", "0"));
	ASSERT_EQ(0, write_knob(FAIL_DIR "interval", "1"));
	ASSERT_EQ(0, write_knob(FAIL_DIR "verbose", "0"));
	ASSERT_EQ(0, write_knob(FAIL_DIR "times", "0"));

	raw = mmap(NULL, ARENA, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, raw);
	self->arena = (uint8_t *)(((uintptr_t)raw + GB - 1) & ~(GB - 1));
	/* Unmapped, so no VMA of the arena lies next to src or dst. */
	ASSERT_EQ(0, munmap(raw, ARENA));
}

FIXTURE_TEARDOWN(alloc_fail)
{
	write_knob("/proc/self/make-it-fail", "0");
	write_knob(FAIL_DIR "times", "0");
	write_knob(FAIL_DIR "space", "0");
}

/* Each attempt fails whole (ENOMEM, source intact) or succeeds whole. */
TEST_F(alloc_fail, fails_whole_or_moves_whole)
{
	const unsigned long len = variant->len;
	int enomem = 0, moved = 0;

	for (unsigned int seed = 0; seed < ATTEMPTS; seed++) {
		uint8_t *src = self->arena + PMD + variant->offset;
		uint8_t *dst = self->arena + (seed + 1) * GB + variant->offset;
		uint8_t *ready = self->arena + (seed + 1) * GB + 512 * MB;
		const unsigned long below = variant->below ? variant->offset : 0;
		char space[32];
		int err, knob;
		void *ret;
		long bad;

		ASSERT_EQ(src - below, mmap(src - below, below + len, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
					    -1, 0));
		fill(src, len, seed);
		fill(src - below, below, seed + 100);
		if (variant->dst_table_ready) {
			ASSERT_EQ(ready, mmap(ready, 4 * KB, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
					      -1, 0));
			ready[0] = 1;
		}

		/* The next page allocation of this task fails, once. */
		/* space: pages (1 << order each) that go through before one fails. */
		snprintf(space, sizeof(space), "%d", variant->pass_allocs + 1);
		ASSERT_EQ(0, write_knob(FAIL_DIR "space", variant->pass_allocs ? space : "0"));
		ASSERT_EQ(0, write_knob(FAIL_DIR "times", "1"));
		ASSERT_EQ(0, write_knob("/proc/self/make-it-fail", "1"));
		ret = mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		err = errno;
		knob = write_knob("/proc/self/make-it-fail", "0");
		knob |= write_knob(FAIL_DIR "times", "0");
		knob |= write_knob(FAIL_DIR "space", "0");
		ASSERT_EQ(0, knob);
		bad = first_bad(src - below, below, seed + 100);
		ASSERT_EQ(-1, bad) {
			TH_LOG("attempt %u: byte %ld of the data below the source changed",
			       seed, bad);
		}

		if (ret == MAP_FAILED) {
			ASSERT_EQ(ENOMEM, err) {
				TH_LOG("attempt %u: mremap failed with %s, not ENOMEM",
				       seed, strerror(err));
			}
			bad = first_bad(src, len, seed);
			ASSERT_EQ(-1, bad) {
				TH_LOG("attempt %u: mremap failed, but byte %ld of the source changed",
				       seed, bad);
			}
			enomem++;
			ASSERT_EQ(0, munmap(src - below, below + len));
		} else {
			ASSERT_EQ((void *)dst, ret);
			bad = first_bad(dst, len, seed);
			ASSERT_EQ(-1, bad) {
				TH_LOG("attempt %u: mremap reported success, but byte %ld of the destination is lost",
				       seed, bad);
			}
			moved++;
			ASSERT_EQ(0, munmap(dst, len));
			if (below)
				ASSERT_EQ(0, munmap(src - below, below));
		}
		if (variant->dst_table_ready)
			ASSERT_EQ(0, munmap(ready, 4 * KB));
	}
	TH_LOG("%d attempts: %d ENOMEM with the source intact, %d moved intact",
	       ATTEMPTS, enomem, moved);
	/* An injection that never hit the mremap proves nothing. */
	ASSERT_GT(enomem, 0);
}

TEST_HARNESS_MAIN
