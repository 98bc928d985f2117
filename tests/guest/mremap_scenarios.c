// SPDX-License-Identifier: GPL-2.0
/* mremap() moves whose data and neighbours must survive PMD realignment. */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/*
 * Page-table geometry of x86-64 and of 64-bit UML (3-level page tables):
 * a PMD maps 2 MB, a top-level entry 1 GB.
 */
#define PMD_SIZE	(2UL << 20)
#define PGD_SIZE	(1UL << 30)
#define SZ_1M		(1UL << 20)

/* Address space reserved per test; the layouts live in its 1 GB-aligned part. */
#define RESERVE_SIZE	(4 * PGD_SIZE)
/* Distance between two test layouts ("slots") inside the reservation. */
#define SLOT_SIZE	(32 * SZ_1M)

/* Page-aligned layouts only: the pattern is written and checked per word. */
#define WORD		sizeof(uint64_t)

/* Pages of a private file mapping that hold private copies get another seed. */
#define COW_SALT	0x00c0ffeeU

static size_t page_size;

enum backing {
	BACKING_ANON,	/* MAP_PRIVATE | MAP_ANONYMOUS */
	BACKING_SHMEM,	/* memfd_create() + MAP_SHARED */
	BACKING_FILE,	/* a /tmp (tmpfs) file, MAP_PRIVATE: page cache + CoW pages */
};

static const char *const backing_name[] = {
	[BACKING_ANON] = "anon",
	[BACKING_SHMEM] = "shmem",
	[BACKING_FILE] = "file",
};

/*
 * The data: word number n of a region written with seed s is a 64-bit hash of
 * (s, n), so any byte moved to another page or offset, lost, zeroed or taken
 * from another region reads wrong.  'off' is the byte offset in the region as
 * first mapped (the "logical" offset), which travels with the data.
 */
static inline uint64_t pattern_word(uint32_t seed, size_t off)
{
	uint64_t x = ((uint64_t)seed << 40) ^ (off / WORD);

	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/*
 * A private file mapping holds both kinds of page: the even pages are the
 * file's page cache, the odd ones private copies written with a salted seed.
 */
static inline uint32_t page_seed(enum backing kind, uint32_t seed, size_t off)
{
	if (kind == BACKING_FILE && (off / page_size) & 1)
		return seed ^ COW_SALT;
	return seed;
}

/* Write the data of 'kind' and 'seed' at logical offset 'logical'. */
static void fill_data(char *addr, size_t len, enum backing kind, uint32_t seed,
		      size_t logical)
{
	uint64_t *w = (uint64_t *)addr;
	size_t i;

	for (i = 0; i < len / WORD; i++) {
		size_t off = logical + i * WORD;

		w[i] = pattern_word(page_seed(kind, seed, off), off);
	}
}

/*
 * Compare every byte of [addr, addr + len) with the data of 'kind' and 'seed'
 * at logical offset 'logical'; seed 0 means zero-fill.  Logs the first
 * mismatch and how many bytes differ.
 */
static bool data_matches(struct __test_metadata *_metadata, const char *what,
			 const char *addr, size_t len, enum backing kind,
			 uint32_t seed, size_t logical)
{
	const uint64_t *w = (const uint64_t *)addr;
	size_t i, bad = 0, first = len;
	unsigned int want_byte = 0, got_byte = 0;

	for (i = 0; i < len / WORD; i++) {
		size_t off = logical + i * WORD;
		uint64_t want = seed ? pattern_word(page_seed(kind, seed, off), off) : 0;
		uint64_t got = w[i];
		unsigned int b;

		if (got == want)
			continue;
		for (b = 0; b < WORD; b++) {
			if (((got ^ want) >> (8 * b)) & 0xff) {
				if (first == len) {
					first = i * WORD + b;
					want_byte = (want >> (8 * b)) & 0xff;
					got_byte = (got >> (8 * b)) & 0xff;
				}
				bad++;
			}
		}
	}
	if (!bad)
		return true;

	TH_LOG("%s (%s): %zu of %zu bytes differ; first at %p (offset %#zx, data offset %#zx): expected 0x%02x, got 0x%02x",
	       what, backing_name[kind], bad, len, addr + first, first, logical + first,
	       want_byte, got_byte);
	return false;
}

/* True if write() from 'addr' into a pipe fails with EFAULT. */
static bool byte_faults(const char *addr)
{
	int fds[2];
	bool faults;

	if (pipe(fds))
		return false;
	faults = write(fds[1], addr, 1) < 0 && errno == EFAULT;
	close(fds[0]);
	close(fds[1]);
	return faults;
}

/*
 * True if no VMA intersects [addr, addr + len), as /proc/self/maps tells
 * (mincore() page by page costs too much under UML); logs the first that does.
 */
static bool range_unmapped(struct __test_metadata *_metadata, const char *what,
			   const char *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	unsigned long start, end;
	char line[512];
	bool ok = true;
	FILE *maps;

	maps = fopen("/proc/self/maps", "r");
	if (!maps) {
		TH_LOG("%s: cannot open /proc/self/maps: %s", what, strerror(errno));
		return false;
	}
	while (ok && fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%lx-%lx", &start, &end) != 2 || end <= lo || start >= hi)
			continue;
		line[strcspn(line, "\n")] = '\0';
		TH_LOG("%s %p+%#zx: still mapped at offset %#lx: %s", what, addr, len,
		       start > lo ? start - lo : 0UL, line);
		ok = false;
	}
	fclose(maps);
	/* And the kernel refuses to read the first and the last byte. */
	if (ok && !(byte_faults(addr) && byte_faults(addr + len - 1))) {
		TH_LOG("%s %p+%#zx: write() from its first or last byte did not fail with EFAULT",
		       what, addr, len);
		ok = false;
	}
	return ok;
}

/* True if every page of [addr, addr + len) is mapped (mincore fails on a hole). */
static bool range_mapped(const char *addr, size_t len)
{
	static unsigned char vec[4096];

	return len / page_size <= sizeof(vec) && !mincore((void *)addr, len, vec);
}

/*
 * Give [addr, addr + len) the data of 'kind' and 'seed' at logical offset 0
 * through /proc/self/mem: the kernel faults the pages in (copy-on-write for a
 * private mapping, as a store would) and under UML the host is spared one
 * page fault per page, leaving the faults for the reads that check the data.
 * 'odd_only' writes only the odd pages and merely faults in the even ones.
 */
static void fill_via_kernel(struct __test_metadata *_metadata, char *addr, size_t len,
			    enum backing kind, uint32_t seed, bool odd_only)
{
	static uint64_t buf[16384];	/* 128 KB, a multiple of the page size */
	size_t off, i, n;
	int mem;

	mem = open("/proc/self/mem", O_RDWR);
	ASSERT_LE(0, mem) TH_LOG("open /proc/self/mem: %s", strerror(errno));
	for (off = 0; off < len; off += n) {
		n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		if (odd_only)
			ASSERT_EQ((ssize_t)n, pread(mem, buf, n, (off_t)(uintptr_t)(addr + off)))
				TH_LOG("faulting in %p+%#zx: %s", addr + off, n, strerror(errno));
		for (i = 0; i < n / WORD; i++) {
			size_t o = off + i * WORD;

			if (!odd_only || (o / page_size) & 1)
				buf[i] = pattern_word(page_seed(kind, seed, o), o);
		}
		ASSERT_EQ((ssize_t)n, pwrite(mem, buf, n, (off_t)(uintptr_t)(addr + off)))
			TH_LOG("filling %p+%#zx: %s", addr + off, n, strerror(errno));
	}
	close(mem);
}

/*
 * Map [addr, addr + len) with MAP_FIXED as 'kind' and give it the data of
 * 'seed', every page present in the page tables.  The shmem and file objects
 * are twice as large as the mapping so that a mapping may grow; for a file,
 * the whole object holds the plain pattern, then the odd pages of the
 * mapping are written privately and the even ones only faulted in.
 */
static void map_data(struct __test_metadata *_metadata, enum backing kind,
		     char *addr, size_t len, uint32_t seed)
{
	static char path[] = "/tmp/mremap_scenarios.XXXXXX";
	char name[sizeof(path)];
	char *p = MAP_FAILED;
	size_t off;
	int fd;

	switch (kind) {
	case BACKING_ANON:
		p = mmap(addr, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap anon at %p: %s", addr, strerror(errno));
		fill_via_kernel(_metadata, p, len, kind, seed, false);
		break;
	case BACKING_SHMEM:
		fd = memfd_create("mremap_scenarios", 0);
		ASSERT_LE(0, fd) TH_LOG("memfd_create: %s", strerror(errno));
		ASSERT_EQ(0, ftruncate(fd, 2 * len));
		p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
		ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap memfd at %p: %s", addr, strerror(errno));
		close(fd);
		fill_via_kernel(_metadata, p, len, kind, seed, false);
		break;
	case BACKING_FILE: {
		uint64_t buf[512];

		memcpy(name, path, sizeof(path));
		fd = mkstemp(name);
		ASSERT_LE(0, fd) TH_LOG("mkstemp %s: %s", name, strerror(errno));
		unlink(name);
		for (off = 0; off < 2 * len; off += sizeof(buf)) {
			size_t i;

			for (i = 0; i < ARRAY_SIZE(buf); i++)
				buf[i] = pattern_word(seed, off + i * WORD);
			ASSERT_EQ((ssize_t)sizeof(buf), pwrite(fd, buf, sizeof(buf), off));
		}
		p = mmap(addr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0);
		ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap file at %p: %s", addr, strerror(errno));
		close(fd);
		fill_via_kernel(_metadata, p, len, kind, seed, true);
		break;
	}
	}
	ASSERT_EQ(addr, p);
}

/* A read-only neighbour: a separate VMA that no move may touch. */
static void map_guard(struct __test_metadata *_metadata, enum backing kind,
		      char *addr, size_t len, uint32_t seed)
{
	map_data(_metadata, kind, addr, len, seed);
	ASSERT_EQ(0, mprotect(addr, len, PROT_READ));
}

static void make_hole(struct __test_metadata *_metadata, char *addr, size_t len)
{
	ASSERT_EQ(0, munmap(addr, len)) TH_LOG("munmap %p+%#zx: %s", addr, len, strerror(errno));
}

static char *move_fixed(void *old, size_t old_len, size_t new_len, int flags, void *new)
{
	return mremap(old, old_len, new_len, flags | MREMAP_MAYMOVE | MREMAP_FIXED, new);
}

/*
 * What a range reads that the mapping covers beyond its original data (a
 * grown tail, or the old range after MREMAP_DONTUNMAP): anonymous memory and
 * the memfd's unwritten part are zero, the private file mapping shows the
 * file's plain pattern.
 */
static bool tail_matches(struct __test_metadata *_metadata, const char *what,
			 const char *addr, size_t len, enum backing kind,
			 uint32_t seed, size_t logical)
{
	if (kind == BACKING_FILE)
		return data_matches(_metadata, what, addr, len, BACKING_ANON, seed, logical);
	return data_matches(_metadata, what, addr, len, kind, 0, logical);
}

static char *reserve(struct __test_metadata *_metadata, char **resv)
{
	*resv = mmap(NULL, RESERVE_SIZE, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, *resv) TH_LOG("reserving %#lx bytes: %s",
					    RESERVE_SIZE, strerror(errno));
	return (char *)(((uintptr_t)*resv + PGD_SIZE - 1) & ~(PGD_SIZE - 1));
}

/* ---------------------------------------------------------------------- */

/*
 * Mutually aligned moves: source and destination sit at the same offset in
 * their PMDs, with nothing mapped between the PMD boundary and them, so the
 * series may move whole page tables from the boundary down.  Read-only
 * guards sit right after both ranges.
 *
 *      S (PMD aligned)   S+off                 S+off+len
 *      |<---- hole ---->|SSSSSSSSSSSSSSSSSSSSSS|guard|
 *
 *      D (PMD aligned)   D+off                 D+off+len
 *      |<---- hole ---->|.. PROT_NONE ........|guard|
 *
 * afterwards:
 *      |<---- hole ---->|<----- unmapped ----->|guard|
 *      |<---- hole ---->|SSSSSSSSSSSSSSSSSSSSSS|guard|
 */
FIXTURE(aligned_move) {
	char *resv;
	char *base;
};

/* One axis: the offset of both ranges inside their PMD. */
FIXTURE_VARIANT(aligned_move) {
	size_t offset;
};

FIXTURE_VARIANT_ADD(aligned_move, off_4k) {
	.offset = 4096,
};

FIXTURE_VARIANT_ADD(aligned_move, off_1m) {
	.offset = SZ_1M,
};

FIXTURE_VARIANT_ADD(aligned_move, off_2m_minus_4k) {
	.offset = PMD_SIZE - 4096,
};

FIXTURE_SETUP(aligned_move)
{
	self->base = reserve(_metadata, &self->resv);
}

FIXTURE_TEARDOWN(aligned_move)
{
	munmap(self->resv, RESERVE_SIZE);
}

/* Move 'len' bytes as drawn above, once per backing, and check everything. */
static void check_aligned_move(struct __test_metadata *_metadata,
			       FIXTURE_DATA(aligned_move) *self, size_t off, size_t len)
{
	enum backing kind;

	for (kind = BACKING_ANON; kind <= BACKING_FILE; kind++) {
		char *s = self->base + (2 * kind) * SLOT_SIZE;
		char *d = self->base + (2 * kind + 1) * SLOT_SIZE;
		char *p;

		make_hole(_metadata, s, off);
		make_hole(_metadata, d, off);
		map_data(_metadata, kind, s + off, len, 0x5000 + kind);
		map_guard(_metadata, kind, s + off + len, 16 * page_size, 0x6000 + kind);
		map_guard(_metadata, kind, d + off + len, 16 * page_size, 0x7000 + kind);

		p = move_fixed(s + off, len, len, 0, d + off);
		ASSERT_EQ(d + off, p) TH_LOG("%s: mremap %p+%#zx -> %p: %s", backing_name[kind],
					     s + off, len, d + off, strerror(errno));

		EXPECT_TRUE(data_matches(_metadata, "moved data", p, len, kind, 0x5000 + kind, 0));
		EXPECT_TRUE(range_unmapped(_metadata, "old range", s + off, len));
		EXPECT_TRUE(range_unmapped(_metadata, "hole below destination", d, off));
		EXPECT_TRUE(data_matches(_metadata, "guard after source", s + off + len,
					 16 * page_size, kind, 0x6000 + kind, 0));
		EXPECT_TRUE(data_matches(_metadata, "guard after destination", d + off + len,
					 16 * page_size, kind, 0x7000 + kind, 0));
	}
}

/* A mutually aligned move of less than a PMD keeps every byte and unmaps the source. */
TEST_F(aligned_move, smaller_than_pmd_arrives_intact)
{
	check_aligned_move(_metadata, self, variant->offset, SZ_1M + 3 * page_size);
}

/* A mutually aligned move of exactly one PMD keeps every byte and unmaps the source. */
TEST_F(aligned_move, pmd_sized_arrives_intact)
{
	check_aligned_move(_metadata, self, variant->offset, PMD_SIZE);
}

/* A mutually aligned move of several PMDs keeps every byte and unmaps the source. */
TEST_F(aligned_move, larger_than_pmd_arrives_intact)
{
	check_aligned_move(_metadata, self, variant->offset, 2 * PMD_SIZE + 3 * page_size);
}

/* ---------------------------------------------------------------------- */

/*
 * mremap() cases around the realignment, one backing per variant.  Every
 * layout is carved out of a PROT_NONE reservation whose 1 GB-aligned part
 * starts at 'base'; slot(n) is base + n * 32 MB.
 */
FIXTURE(mremap_move) {
	char *resv;
	char *base;
};

/* One axis: what backs the mappings. */
FIXTURE_VARIANT(mremap_move) {
	enum backing kind;
};

FIXTURE_VARIANT_ADD(mremap_move, anon) {
	.kind = BACKING_ANON,
};

FIXTURE_VARIANT_ADD(mremap_move, shmem) {
	.kind = BACKING_SHMEM,
};

FIXTURE_VARIANT_ADD(mremap_move, file) {
	.kind = BACKING_FILE,
};

FIXTURE_SETUP(mremap_move)
{
	self->base = reserve(_metadata, &self->resv);
}

FIXTURE_TEARDOWN(mremap_move)
{
	munmap(self->resv, RESERVE_SIZE);
}

static inline char *slot(FIXTURE_DATA(mremap_move) *self, int n)
{
	return self->base + n * SLOT_SIZE;
}

/*
 * Not mutually aligned: the source is 4 KB into its PMD, the destination
 * 1 MB + 8 KB into its own; no realignment is possible.
 *
 *      S    S+4K                  D    D+1M+8K
 *      |hole|SSSSSSSSSSSS|         |hole|..........|
 */
/* A move between different offsets inside the PMD keeps every byte and unmaps the source. */
TEST_F(mremap_move, unaligned_move_arrives_intact)
{
	const size_t len = PMD_SIZE + 3 * page_size;
	char *s = slot(self, 0), *d = slot(self, 1);
	const size_t soff = page_size, doff = SZ_1M + 2 * page_size;
	char *p;

	make_hole(_metadata, s, soff);
	make_hole(_metadata, d, doff);
	map_data(_metadata, variant->kind, s + soff, len, 0x101);

	p = move_fixed(s + soff, len, len, 0, d + doff);
	ASSERT_EQ(d + doff, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_TRUE(data_matches(_metadata, "moved data", p, len, variant->kind, 0x101, 0));
	EXPECT_TRUE(range_unmapped(_metadata, "old range", s + soff, len));
}

/*
 * One 4 MB mapping at a PMD boundary, in quarters of 1 MB; 'ssss' moves onto
 * 'dddd'.  Both are 1 MB into their PMDs (mutually aligned), but the source
 * is not the start of its VMA: aligning it down would move 'SSSS' too.
 *
 *      S       S+1M    S+2M    S+3M    S+4M
 *      |DDDDDDD|ddddddd|SSSSSSS|sssssss|
 * afterwards:
 *      |DDDDDDD|sssssss|SSSSSSS|unmapped
 */
/* A move from the middle of a VMA to lower in the same VMA leaves the rest of it as it was. */
TEST_F(mremap_move, move_within_vma_keeps_other_parts)
{
	char *s = slot(self, 0);
	char *p;

	map_data(_metadata, variant->kind, s, 4 * SZ_1M, 0x202);

	p = move_fixed(s + 3 * SZ_1M, SZ_1M, SZ_1M, 0, s + SZ_1M);
	ASSERT_EQ(s + SZ_1M, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_TRUE(data_matches(_metadata, "DDDD", s, SZ_1M, variant->kind, 0x202, 0));
	EXPECT_TRUE(data_matches(_metadata, "ssss moved onto dddd", s + SZ_1M, SZ_1M,
				 variant->kind, 0x202, 3 * SZ_1M));
	EXPECT_TRUE(data_matches(_metadata, "SSSS", s + 2 * SZ_1M, SZ_1M,
				 variant->kind, 0x202, 2 * SZ_1M));
	EXPECT_TRUE(range_unmapped(_metadata, "old ssss", s + 3 * SZ_1M, SZ_1M));
}

/*
 * Mutually aligned (1 MB into the PMD), but another mapping lies between the
 * source's PMD boundary and the source; the destination side is clear.
 *
 *      S          S+512K  S+1M             D                  D+1M
 *      |hole      |guard  |SSSSSSSS|        |hole              |........|
 */
/* A mapping inside the source's aligned-down range survives the move. */
TEST_F(mremap_move, mapping_below_source_survives)
{
	const size_t len = PMD_SIZE + SZ_1M;
	char *s = slot(self, 0), *d = slot(self, 1);
	char *p;

	make_hole(_metadata, s, SZ_1M / 2);
	map_guard(_metadata, variant->kind, s + SZ_1M / 2, SZ_1M / 2, 0x303);
	map_data(_metadata, variant->kind, s + SZ_1M, len, 0x304);
	make_hole(_metadata, d, SZ_1M);

	p = move_fixed(s + SZ_1M, len, len, 0, d + SZ_1M);
	ASSERT_EQ(d + SZ_1M, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_TRUE(data_matches(_metadata, "moved data", p, len, variant->kind, 0x304, 0));
	EXPECT_TRUE(data_matches(_metadata, "mapping below source", s + SZ_1M / 2, SZ_1M / 2,
				 variant->kind, 0x303, 0));
	EXPECT_TRUE(range_unmapped(_metadata, "old range", s + SZ_1M, len));
	EXPECT_TRUE(range_unmapped(_metadata, "hole below destination", d, SZ_1M));
}

/*
 * Mutually aligned (1 MB into the PMD), but another mapping lies between the
 * destination's PMD boundary and the destination; the source side is clear.
 *
 *      S                  S+1M             D      D+256K D+512K  D+1M
 *      |hole              |SSSSSSSS|        |hole  |guard |hole   |......|
 */
/* A mapping inside the destination's aligned-down range survives the move. */
TEST_F(mremap_move, mapping_below_destination_survives)
{
	const size_t len = PMD_SIZE + SZ_1M;
	char *s = slot(self, 0), *d = slot(self, 1);
	char *p;

	make_hole(_metadata, s, SZ_1M);
	map_data(_metadata, variant->kind, s + SZ_1M, len, 0x401);
	make_hole(_metadata, d, SZ_1M);
	map_guard(_metadata, variant->kind, d + SZ_1M / 4, SZ_1M / 4, 0x402);

	p = move_fixed(s + SZ_1M, len, len, 0, d + SZ_1M);
	ASSERT_EQ(d + SZ_1M, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_TRUE(data_matches(_metadata, "moved data", p, len, variant->kind, 0x401, 0));
	EXPECT_TRUE(data_matches(_metadata, "mapping below destination", d + SZ_1M / 4,
				 SZ_1M / 4, variant->kind, 0x402, 0));
	EXPECT_TRUE(range_unmapped(_metadata, "old range", s + SZ_1M, len));
	EXPECT_TRUE(range_unmapped(_metadata, "hole below the mapping", d, SZ_1M / 4));
	EXPECT_TRUE(range_unmapped(_metadata, "hole above the mapping", d + SZ_1M / 2, SZ_1M / 2));
}

/*
 * MREMAP_DONTUNMAP to a mutually aligned destination (4 KB into the PMD):
 * the old range stays mapped but loses its pages.
 *
 *      S    S+4K                       D    D+4K
 *      |hole|SSSSSSSSSSSS|              |hole|............|
 * afterwards (the old range reads zero-fill if anonymous, the memfd's data
 * if shmem, the file's content without the private copies if file):
 *      |hole|000000000000|              |hole|SSSSSSSSSSSS|
 */
/* MREMAP_DONTUNMAP moves the data and leaves the old range mapped, without its pages. */
TEST_F(mremap_move, dontunmap_keeps_old_range_mapped)
{
	const size_t len = PMD_SIZE + 5 * page_size;
	char *s = slot(self, 0), *d = slot(self, 1);
	char *p;

	make_hole(_metadata, s, page_size);
	make_hole(_metadata, d, page_size);
	map_data(_metadata, variant->kind, s + page_size, len, 0x501);

	p = move_fixed(s + page_size, len, len, MREMAP_DONTUNMAP, d + page_size);
	ASSERT_EQ(d + page_size, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_TRUE(data_matches(_metadata, "moved data", p, len, variant->kind, 0x501, 0));
	ASSERT_TRUE(range_mapped(s + page_size, len)) TH_LOG("old range was unmapped");
	/*
	 * Anonymous: zero-fill.  shmem: the same object, so the same data.
	 * Private file: the file's own content, without the private copies.
	 */
	if (variant->kind == BACKING_SHMEM) {
		EXPECT_TRUE(data_matches(_metadata, "old range", s + page_size, len,
					 variant->kind, 0x501, 0));
	} else {
		EXPECT_TRUE(tail_matches(_metadata, "old range", s + page_size, len,
					 variant->kind, 0x501, 0));
	}
	/* The old range is still usable, and independent of the new one (private). */
	fill_data(s + page_size, page_size, BACKING_ANON, 0x502, 0);
	if (variant->kind != BACKING_SHMEM) {
		EXPECT_TRUE(data_matches(_metadata, "moved data after writing the old range",
					 p, len, variant->kind, 0x501, 0));
	}
}

/*
 * A guard right after the source blocks growing in place: without
 * MREMAP_MAYMOVE the call fails; with it the mapping goes wherever the kernel
 * likes.
 *
 *      S    S+4K                       S+4K+len
 *      |hole|SSSSSSSSSSSSSSSSSSSSSSSSSS|guard|
 */
/* Growing past a neighbour fails in place and moves with MREMAP_MAYMOVE, keeping all data. */
TEST_F(mremap_move, maymove_growth_relocates)
{
	const size_t len = PMD_SIZE, grow = SZ_1M + page_size;
	char *s = slot(self, 0);
	char *p;

	make_hole(_metadata, s, page_size);
	map_data(_metadata, variant->kind, s + page_size, len, 0x601);
	map_guard(_metadata, variant->kind, s + page_size + len, 4 * page_size, 0x602);

	p = mremap(s + page_size, len, len + grow, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_TRUE(data_matches(_metadata, "data after failed growth", s + page_size, len,
				 variant->kind, 0x601, 0));

	p = mremap(s + page_size, len, len + grow, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_NE(s + page_size, p);
	EXPECT_TRUE(data_matches(_metadata, "moved data", p, len, variant->kind, 0x601, 0));
	EXPECT_TRUE(tail_matches(_metadata, "grown tail", p + len, grow, variant->kind,
				 0x601, len));
	EXPECT_TRUE(range_unmapped(_metadata, "old range", s + page_size, len));
	EXPECT_TRUE(data_matches(_metadata, "guard", s + page_size + len, 4 * page_size,
				 variant->kind, 0x602, 0));
	munmap(p, len + grow);
}

/*
 * Shrinking while moving: only the head arrives, all of the old range goes.
 *
 *      S    S+1M                        D    D+1M
 *      |hole|SSSSSSSSSSSSSSSS|           |hole|SSSSSSSS|
 */
/* A shrinking MREMAP_FIXED move keeps the head and unmaps the whole old range. */
TEST_F(mremap_move, shrinking_move_keeps_head)
{
	const size_t len = 2 * PMD_SIZE, new_len = PMD_SIZE + 7 * page_size;
	char *s = slot(self, 0), *d = slot(self, 1);
	char *p;

	make_hole(_metadata, s, SZ_1M);
	make_hole(_metadata, d, SZ_1M);
	map_data(_metadata, variant->kind, s + SZ_1M, len, 0x701);

	p = move_fixed(s + SZ_1M, len, new_len, 0, d + SZ_1M);
	ASSERT_EQ(d + SZ_1M, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_TRUE(data_matches(_metadata, "moved head", p, new_len, variant->kind, 0x701, 0));
	EXPECT_TRUE(range_unmapped(_metadata, "old range", s + SZ_1M, len));
}

/*
 * Growing while moving: all data arrives, followed by the new tail.
 *
 *      S    S+2M-4K                     D    D+2M-4K
 *      |hole|SSSSSSSS|                  |hole|SSSSSSSS+tail+|
 */
/* A growing MREMAP_FIXED move keeps every byte and maps a fresh tail. */
TEST_F(mremap_move, growing_move_adds_tail)
{
	const size_t off = PMD_SIZE - page_size;
	const size_t len = PMD_SIZE + 3 * page_size, grow = PMD_SIZE + page_size;
	char *s = slot(self, 0), *d = slot(self, 1);
	char *p;

	make_hole(_metadata, s, off);
	make_hole(_metadata, d, off);
	map_data(_metadata, variant->kind, s + off, len, 0x801);

	p = move_fixed(s + off, len, len + grow, 0, d + off);
	ASSERT_EQ(d + off, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_TRUE(data_matches(_metadata, "moved data", p, len, variant->kind, 0x801, 0));
	EXPECT_TRUE(tail_matches(_metadata, "grown tail", p + len, grow, variant->kind,
				 0x801, len));
	EXPECT_TRUE(range_unmapped(_metadata, "old range", s + off, len));
}

/*
 * Across 1 GB boundaries (a top-level page-table entry on UML and x86-64),
 * from 2 MB - 4 KB below one boundary to 2 MB - 4 KB below the next;
 * mutually aligned at 4 KB.
 *
 *      base+1G-2M  base+1G     base+1G+2M
 *      |hole|SSSSSS|SSSSSSSSSSS|
 *      base+2G-2M  base+2G
 *      |hole|......|...........|
 */
/* A move between two ranges that each straddle a 1 GB boundary keeps every byte. */
TEST_F(mremap_move, move_across_1g_boundary_arrives_intact)
{
	const size_t len = 2 * PMD_SIZE - page_size;
	char *s = self->base + PGD_SIZE - PMD_SIZE;
	char *d = s + PGD_SIZE;
	char *p;

	make_hole(_metadata, s, page_size);
	make_hole(_metadata, d, page_size);
	map_data(_metadata, variant->kind, s + page_size, len, 0x901);

	p = move_fixed(s + page_size, len, len, 0, d + page_size);
	ASSERT_EQ(d + page_size, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_TRUE(data_matches(_metadata, "moved data", p, len, variant->kind, 0x901, 0));
	EXPECT_TRUE(range_unmapped(_metadata, "old range", s + page_size, len));
}

static bool pipe_sync(int wfd, int rfd)
{
	char c = 'x';

	if (wfd >= 0 && write(wfd, &c, 1) != 1)
		return false;
	if (rfd >= 0 && read(rfd, &c, 1) != 1)
		return false;
	return true;
}

/*
 * Fork with the data mapped, then the parent moves it (mutually aligned at
 * 1 MB) and parent and child take turns writing their own data.  Private
 * mappings (anon, file) are copy-on-write: each side keeps what it wrote.
 * shmem is MAP_SHARED: each side sees the other's writes.
 *
 *      parent: S+1M |AAAA| --mremap--> D+1M |AAAA|  then writes PPPP
 *      child:  S+1M |AAAA| (stays)              then writes CCCC
 */
/* After fork and a move in the parent, parent and child each see the data the sharing rules give them. */
TEST_F(mremap_move, fork_then_move_keeps_each_side)
{
	const enum backing kind = variant->kind;
	const bool shared = kind == BACKING_SHMEM;
	const size_t len = PMD_SIZE + 16 * page_size;
	char *s = slot(self, 0) + SZ_1M, *d = slot(self, 1) + SZ_1M;
	int to_child[2], to_parent[2], status;
	pid_t pid;
	char *p;

	make_hole(_metadata, s - SZ_1M, SZ_1M);
	make_hole(_metadata, d - SZ_1M, SZ_1M);
	map_data(_metadata, kind, s, len, 0xa01);
	ASSERT_EQ(0, pipe(to_child));
	ASSERT_EQ(0, pipe(to_parent));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		bool ok;

		/* A parent that dies early leaves the child reading EOF. */
		close(to_child[1]);
		close(to_parent[0]);
		/* Wait for the parent's move. */
		ok = pipe_sync(-1, to_child[0]);
		ok &= data_matches(_metadata, "child: data after the parent's move", s, len,
				   kind, 0xa01, 0);
		fill_data(s, len, kind, 0xc01, 0);
		ok &= pipe_sync(to_parent[1], to_child[0]);
		/* The parent has written its own data now. */
		ok &= data_matches(_metadata, "child: data after the parent wrote", s, len,
				   kind, shared ? 0x9a1 : 0xc01, 0);
		_exit(ok ? 0 : 1);
	}

	close(to_child[0]);
	close(to_parent[1]);

	p = move_fixed(s, len, len, 0, d);
	ASSERT_EQ(d, p) TH_LOG("mremap: %s", strerror(errno));
	EXPECT_TRUE(data_matches(_metadata, "parent: moved data", p, len, kind, 0xa01, 0));
	EXPECT_TRUE(range_unmapped(_metadata, "parent: old range", s, len));

	ASSERT_TRUE(pipe_sync(to_child[1], to_parent[0]));
	/* The child has written its own data now. */
	EXPECT_TRUE(data_matches(_metadata, "parent: data after the child wrote", p, len,
				 kind, shared ? 0xc01 : 0xa01, 0));
	fill_data(p, len, kind, 0x9a1, 0);
	ASSERT_TRUE(pipe_sync(to_child[1], -1));

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("child failed: status %#x", status);
	EXPECT_TRUE(data_matches(_metadata, "parent: its own data at the end", p, len,
				 kind, 0x9a1, 0));
}

int main(int argc, char **argv)
{
	page_size = sysconf(_SC_PAGESIZE);
	return test_harness_run(argc, argv);
}
