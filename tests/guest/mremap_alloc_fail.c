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
}

/* Each attempt fails whole (ENOMEM, source intact) or succeeds whole. */
TEST_F(alloc_fail, fails_whole_or_moves_whole)
{
	const unsigned long len = variant->len;
	int enomem = 0, moved = 0;

	for (unsigned int seed = 0; seed < ATTEMPTS; seed++) {
		uint8_t *src = self->arena + PMD + variant->offset;
		uint8_t *dst = self->arena + (seed + 1) * GB + variant->offset;
		int err, knob;
		void *ret;
		long bad;

		ASSERT_EQ(src, mmap(src, len, PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
				    -1, 0));
		fill(src, len, seed);

		/* The next page allocation of this task fails, once. */
		ASSERT_EQ(0, write_knob(FAIL_DIR "times", "1"));
		ASSERT_EQ(0, write_knob("/proc/self/make-it-fail", "1"));
		ret = mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		err = errno;
		knob = write_knob("/proc/self/make-it-fail", "0");
		knob |= write_knob(FAIL_DIR "times", "0");
		ASSERT_EQ(0, knob);

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
			ASSERT_EQ(0, munmap(src, len));
		} else {
			ASSERT_EQ((void *)dst, ret);
			bad = first_bad(dst, len, seed);
			ASSERT_EQ(-1, bad) {
				TH_LOG("attempt %u: mremap reported success, but byte %ld of the destination is lost",
				       seed, bad);
			}
			moved++;
			ASSERT_EQ(0, munmap(dst, len));
		}
	}
	TH_LOG("%d attempts: %d ENOMEM with the source intact, %d moved intact",
	       ATTEMPTS, enomem, moved);
	/* An injection that never hit the mremap proves nothing. */
	ASSERT_GT(enomem, 0);
}

TEST_HARNESS_MAIN
