// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded differential fuzzer for mremap(): random memory programs checked byte by byte.
 *
 * From a seed, a sequence of operations over a fixed 32 MB arena is
 * generated: mmap (anonymous private and shared, memfd and a /tmp file,
 * shared and private), mremap (grow and shrink in place, MREMAP_MAYMOVE,
 * MREMAP_FIXED, MREMAP_DONTUNMAP), partial munmap, mprotect that splits
 * mappings, madvise(MADV_DONTNEED), page writes and fork with writes and a
 * move on both sides.  Sources and destinations are biased towards what
 * the PMD realignment series decides on: mutually aligned offsets inside a
 * PMD, lengths that reach or just miss the next PMD boundary, neighbours
 * between the boundary below and the mapping, moves inside one mapping,
 * overlapping moves, and the 1 GB boundary in the middle of the arena:
 *
 *   arena: 16 PMDs of 2 MB, PMD 8 starts at 64 GB (a 1 GB boundary)
 *   |  0 |  1 | ... |  7 |  8 | ... | 15 |
 *                        ^ 64 GB
 *
 * A model in user space knows every page: mapped or not, protection,
 * backing (and file offset), and the 32-bit stamp its content is made of
 * (0: zero).  After each operation the PMDs around every range it touched
 * are compared with the model, and /proc/self/maps over the whole arena;
 * at the end everything, and a digest of the final memory, layout and
 * results is printed.  Pages the model says are zero are not read (a
 * fault costs ~1.5 ms under UML): private anonymous ones must not be
 * resident (mincore), so data dragged into them shows as well.
 *
 * The digest depends on the seed only: base and patched kernels must print
 * the same one (tests/host/test_fuzz.sh compares them, with the sandbox's
 * page-table move counters beside, which should differ).
 *
 * A failing sequence is written to /tmp/mremap_fuzz.SEED.trace, shrunk
 * (delta debugging) to /tmp/mremap_fuzz.SEED.min.trace, and the shrunk one
 * is printed as KTAP diagnostics; --replay FILE runs a trace again.
 * --self-check proves the checks can fail: the model is given the bug of a
 * kernel that drags [PMD boundary, source) along with a realigned move,
 * which must produce a mismatch, a replayable trace and a shrunk one.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "mremap_moves.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif

#define PAGE_SZ		4096UL
#define PMD_PAGES	512U
#define ARENA_PMDS	16U
#define ARENA_PAGES	(ARENA_PMDS * PMD_PAGES)
#define GB		(1UL << 30)
/* PMD 8 of the arena starts at a 1 GB boundary (64 GB). */
#define ARENA_BASE	(64 * GB - ARENA_PMDS / 2 * PMD_PAGES * PAGE_SZ)
#define ARENA		((char *)ARENA_BASE)
#define A(p)		(ARENA + (unsigned long)(p) * PAGE_SZ)
/* The arena and a PMD on each side: kept free of anything else. */
#define MARGIN_LO	(ARENA - PMD_PAGES * PAGE_SZ)
#define MARGIN_LEN	((ARENA_PAGES + 2 * PMD_PAGES) * PAGE_SZ)
/* The memfd and the file: 8 MB each, mapped at random offsets. */
#define OBJ_PAGES	2048U
#define POOL_PAGES	(2 * OBJ_PAGES + 16384)
#define MAX_OBJS	32
#define OBJ_MEMFD	0
#define OBJ_FILE	1
#define MAX_OPS		65536
/* Mismatches printed per sequence before it stops. */
#define MAX_REPORTS	8
/* Delta debugging: at most this many replays. */
#define SHRINK_RUNS	400

/*
 * 16, not fewer: seed 10 is the first of them that catches the mutant
 * without the VMA-start check (tests/mutants/a-*), the others' first
 * seeds are lower.
 */
#define DEFAULT_SEEDS	16
#define DEFAULT_OPS	120

enum kind {
	K_NONE, K_ANON, K_SHANON, K_MEMFD_S, K_MEMFD_P, K_FILE_S, K_FILE_P, K_NR
};

static const char *const kind_name[K_NR] = {
	"none", "anon", "shared-anon", "memfd-shared", "memfd-private",
	"file-shared", "file-private",
};

enum optype {
	OP_MMAP, OP_MUNMAP, OP_MPROTECT, OP_DONTNEED, OP_WRITE, OP_MREMAP,
	OP_FORK, OP_NR
};

static const char *const op_name[OP_NR] = {
	"mmap", "munmap", "mprotect", "dontneed", "write", "mremap", "fork",
};

/*
 * One operation; ranges are in pages from the arena's start.
 * write: pages a, a + d, a + 2d, ... (n of them) get stamps from salt.
 * mremap: [a, a + n) to m pages, at d if the flags move it.
 * fork: n child operations follow (run by the child), then m parent ones.
 */
struct op {
	uint8_t type, kind, prot, side;
	uint32_t a, n, d, m, flags, pgoff, salt;
};

/* What the model says an operation returns. */
enum outcome { RES_OK, RES_INPLACE, RES_MOVED, RES_EINVAL, RES_ENOMEM, RES_SKIP, RES_OTHER };

static const char *const outcome_name[] = {
	"ok", "in place", "moved", "EINVAL", "ENOMEM", "skipped", "other error",
};

struct pg {
	uint8_t kind, prot, priv, obj;
	uint32_t region, pgoff, stamp;
};

/* Objects (memfd, file, shared anonymous) are runs of stamps in pool. */
struct model {
	struct pg pg[ARENA_PAGES];
	uint32_t obj_off[MAX_OBJS], obj_len[MAX_OBJS];
	uint32_t nobj, pool_used, next_region;
	uint32_t pool[POOL_PAGES];
};

struct run {
	unsigned long long seed;
	const char *who;	/* "" or "child " */
	int opi;		/* index of the operation being run */
	int fails;
	int reports;
	bool quiet;		/* no mismatch lines (shrinking) */
	bool inject;		/* self-check: the model drags like a bad kernel */
	uint64_t hres, hdata, hlayout;
	unsigned int skipped;
};

static struct model *M, *S;	/* the model, a scratch copy */
static struct pg tmp_pg[ARENA_PAGES];
static struct op ops_buf[MAX_OPS], cand_buf[MAX_OPS];
static int fds[2] = { -1, -1 };
/* Device and inode of each object, as /proc/self/maps shows them. */
static uint64_t obj_ino[MAX_OBJS];
static char maps_buf[1 << 18];

/* --- hashing and content ------------------------------------------------- */

static inline uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static inline uint64_t hash_in(uint64_t h, uint64_t v)
{
	return mix64(h ^ mix64(v));
}

/* Word i of a page made of @stamp; stamp 0 is a zero page. */
static inline uint64_t page_word(uint32_t stamp, unsigned int i)
{
	return stamp ? mix64(((uint64_t)stamp << 32) | i) : 0;
}

static inline uint32_t stamp_of(uint32_t salt, uint32_t i)
{
	return (uint32_t)mix64(((uint64_t)salt << 32) | i) | 1;
}

static void fill_page(char *addr, uint32_t stamp)
{
	uint64_t *w = (uint64_t *)addr;
	unsigned int i;

	for (i = 0; i < PAGE_SZ / 8; i++)
		w[i] = page_word(stamp, i);
}

/* --- random numbers --------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t below)
{
	rng_state = mix64(rng_state);
	return below ? (uint32_t)(rng_state % below) : 0;
}

static bool chance(unsigned int percent)
{
	return rnd(100) < percent;
}

/* --- the model ---------------------------------------------------------------- */

static inline bool kind_shared(int k)
{
	return k == K_SHANON || k == K_MEMFD_S || k == K_FILE_S;
}

static inline bool kind_privfile(int k)
{
	return k == K_MEMFD_P || k == K_FILE_P;
}

/* Backed by the memfd or the file (not anonymous memory). */
static inline bool kind_fd(int k)
{
	return k >= K_MEMFD_S;
}

static inline int kind_obj(int k)
{
	return (k == K_MEMFD_S || k == K_MEMFD_P) ? OBJ_MEMFD : OBJ_FILE;
}

static void model_reset(struct model *m)
{
	memset(m->pg, 0, sizeof(m->pg));
	memset(m->pool, 0, sizeof(m->pool));
	m->obj_off[OBJ_MEMFD] = 0;
	m->obj_len[OBJ_MEMFD] = OBJ_PAGES;
	m->obj_off[OBJ_FILE] = OBJ_PAGES;
	m->obj_len[OBJ_FILE] = OBJ_PAGES;
	m->nobj = 2;
	m->pool_used = 2 * OBJ_PAGES;
	m->next_region = 1;
}

static inline uint32_t *obj_page(struct model *m, const struct pg *g)
{
	return &m->pool[m->obj_off[g->obj] + g->pgoff];
}

/* The stamp page @p must hold. */
static uint32_t expect_stamp(const struct model *m, uint32_t p)
{
	const struct pg *g = &m->pg[p];

	if (g->kind == K_ANON || (kind_privfile(g->kind) && g->priv))
		return g->stamp;
	return m->pool[m->obj_off[g->obj] + g->pgoff];
}

static void unmap_pages(struct model *m, uint32_t a, uint32_t n)
{
	memset(&m->pg[a], 0, n * sizeof(struct pg));
}

/* What MADV_DONTNEED (or a DONTUNMAP source) leaves of a page. */
static void drop_page(struct pg *g)
{
	if (g->kind == K_ANON || kind_privfile(g->kind)) {
		g->priv = 0;
		g->stamp = 0;
	}
}

static void write_page_model(struct model *m, struct pg *g, uint32_t stamp)
{
	if (kind_shared(g->kind)) {
		*obj_page(m, g) = stamp;
	} else {
		g->priv = 1;
		g->stamp = stamp;
	}
}

static bool in_arena(uint32_t a, uint32_t n)
{
	return n >= 1 && a < ARENA_PAGES && n <= ARENA_PAGES - a;
}

/* [a, a + n) lies in one region: pages of one mapping, inside one VMA. */
static bool in_one_region(const struct model *m, uint32_t a, uint32_t n)
{
	uint32_t i;

	if (!in_arena(a, n) || m->pg[a].kind == K_NONE)
		return false;
	for (i = 1; i < n; i++)
		if (m->pg[a + i].kind == K_NONE || m->pg[a + i].region != m->pg[a].region)
			return false;
	return true;
}

static bool all_unmapped(const struct model *m, uint32_t a, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (m->pg[a + i].kind != K_NONE)
			return false;
	return true;
}

static bool overlaps(uint32_t a, uint32_t n, uint32_t b, uint32_t m)
{
	return a + n > b && b + m > a;
}

/*
 * The outcome of @o on the state @m, or RES_SKIP when the model cannot
 * foresee it (a shrunk trace may leave an operation without its setup).
 * Every region lies inside one VMA, as the kernel only ever splits VMAs
 * where the model splits regions; VMAs merge, regions never do.
 */
static int predict(const struct model *m, const struct op *o)
{
	bool grow = o->m > o->n;
	const struct pg *g;

	switch (o->type) {
	case OP_MMAP:
		if (!in_arena(o->a, o->n) || o->kind == K_NONE || o->kind >= K_NR)
			return RES_SKIP;
		if (kind_fd(o->kind) && o->pgoff + o->n > OBJ_PAGES)
			return RES_SKIP;
		if (o->kind == K_SHANON &&
		    (m->nobj >= MAX_OBJS || m->pool_used + o->n > POOL_PAGES))
			return RES_SKIP;
		return RES_OK;
	case OP_MUNMAP:
		return in_arena(o->a, o->n) ? RES_OK : RES_SKIP;
	case OP_MPROTECT:
	case OP_DONTNEED:
		return in_one_region(m, o->a, o->n) ? RES_OK : RES_SKIP;
	case OP_WRITE:
		return o->a < ARENA_PAGES ? RES_OK : RES_SKIP;
	case OP_FORK:
		return RES_OK;
	case OP_MREMAP:
		break;
	default:
		return RES_SKIP;
	}

	if (!in_one_region(m, o->a, o->n) || o->m < 1 || o->m > ARENA_PAGES)
		return RES_SKIP;
	g = &m->pg[o->a];
	/* Beyond a shared anonymous object, or a file, is SIGBUS. */
	if (grow && g->kind == K_SHANON)
		return RES_SKIP;
	if (grow && kind_fd(g->kind) && g->pgoff + o->m > OBJ_PAGES)
		return RES_SKIP;
	if (o->flags & ~(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP))
		return RES_SKIP;
	if ((o->flags & MREMAP_FIXED) && !(o->flags & MREMAP_MAYMOVE))
		return RES_EINVAL;
	if ((o->flags & MREMAP_DONTUNMAP) &&
	    (!(o->flags & MREMAP_MAYMOVE) || o->m != o->n))
		return RES_EINVAL;
	if (o->flags & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
		if (!in_arena(o->d, o->m))
			return RES_SKIP;
		if ((o->flags & MREMAP_FIXED) && overlaps(o->a, o->n, o->d, o->m))
			return RES_EINVAL;
		return RES_MOVED;
	}
	if (!grow)
		return RES_INPLACE;
	/* Growing past the arena's end: what is there is not the model's. */
	if (o->a + o->m > ARENA_PAGES)
		return RES_SKIP;
	/* In place when nothing follows: then the VMA ends where [a, a + n) does. */
	if (all_unmapped(m, o->a + o->n, o->m - o->n))
		return RES_INPLACE;
	if (!(o->flags & MREMAP_MAYMOVE))
		return RES_ENOMEM;
	/* The kernel picks a place outside the arena; the executor moves it to d. */
	return in_arena(o->d, o->m) ? RES_MOVED : RES_SKIP;
}

/* Pages [a, a + n) that follow page @last of their mapping, in region @id. */
static void extend_pages(struct model *m, uint32_t a, uint32_t n,
			 const struct pg *last, uint32_t id)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct pg *g = &m->pg[a + i];

		*g = *last;
		g->region = id;
		g->pgoff = last->pgoff + 1 + i;
		g->priv = 0;
		g->stamp = 0;
	}
}

static void model_move(struct model *m, const struct op *o, bool inject)
{
	uint32_t k = o->m < o->n ? o->m : o->n;
	uint32_t off = o->a % PMD_PAGES, id, i, p;
	struct pg last;

	memcpy(tmp_pg, &m->pg[o->a], k * sizeof(struct pg));
	last = tmp_pg[k - 1];
	if (o->flags & MREMAP_DONTUNMAP) {
		for (i = 0; i < o->n; i++)
			drop_page(&m->pg[o->a + i]);
	} else {
		unmap_pages(m, o->a, o->n);
	}
	/*
	 * The self-check's bug: as a kernel that realigns a move inside its
	 * own mapping would, the model expects the source's PMD below it to
	 * lose its pages.
	 */
	if (inject && !(o->flags & MREMAP_DONTUNMAP) && off &&
	    off == o->d % PMD_PAGES && k >= PMD_PAGES - off) {
		for (p = o->a - off; p < o->a; p++)
			if (m->pg[p].kind != K_NONE && m->pg[p].region == tmp_pg[0].region)
				drop_page(&m->pg[p]);
	}
	unmap_pages(m, o->d, o->m);
	id = m->next_region++;
	for (i = 0; i < k; i++) {
		m->pg[o->d + i] = tmp_pg[i];
		m->pg[o->d + i].region = id;
	}
	if (o->m > k)
		extend_pages(m, o->d + k, o->m - k, &last, id);
}

/* Apply @o, whose outcome is @res, to the model. */
static void apply(struct model *m, const struct op *o, int res, bool inject)
{
	uint32_t i, id;

	if (res == RES_SKIP || res == RES_EINVAL || res == RES_ENOMEM || res == RES_OTHER)
		return;
	switch (o->type) {
	case OP_MMAP:
		unmap_pages(m, o->a, o->n);
		id = m->next_region++;
		if (o->kind == K_SHANON) {
			m->obj_off[m->nobj] = m->pool_used;
			m->obj_len[m->nobj] = o->n;
			m->pool_used += o->n;
		}
		for (i = 0; i < o->n; i++) {
			struct pg *g = &m->pg[o->a + i];

			g->kind = o->kind;
			g->prot = o->prot;
			g->region = id;
			g->obj = o->kind == K_SHANON ? (int)m->nobj :
				 kind_fd(o->kind) ? kind_obj(o->kind) : 0;
			g->pgoff = o->kind == K_SHANON ? i : o->pgoff + i;
		}
		if (o->kind == K_SHANON)
			m->nobj++;
		break;
	case OP_MUNMAP:
		unmap_pages(m, o->a, o->n);
		break;
	case OP_MPROTECT:
		id = m->next_region++;
		for (i = 0; i < o->n; i++) {
			m->pg[o->a + i].prot = o->prot;
			m->pg[o->a + i].region = id;
		}
		break;
	case OP_DONTNEED:
		for (i = 0; i < o->n; i++)
			drop_page(&m->pg[o->a + i]);
		break;
	case OP_WRITE:
		for (i = 0; i < o->n; i++) {
			uint64_t p = o->a + (uint64_t)i * o->d;
			struct pg *g;

			if (p >= ARENA_PAGES)
				break;
			g = &m->pg[p];
			if (g->kind != K_NONE && (g->prot & PROT_WRITE))
				write_page_model(m, g, stamp_of(o->salt, i));
		}
		break;
	case OP_MREMAP:
		if (res == RES_INPLACE) {
			if (o->m < o->n) {
				unmap_pages(m, o->a + o->m, o->n - o->m);
			} else if (o->m > o->n) {
				struct pg last = m->pg[o->a + o->n - 1];

				extend_pages(m, o->a + o->n, o->m - o->n, &last, m->next_region++);
			}
		} else {
			model_move(m, o, inject);
		}
		break;
	}
}

/* Copy the objects' content of @from into @to (what the other process wrote). */
static void take_objects(struct model *to, const struct model *from)
{
	memcpy(to->pool, from->pool, from->pool_used * sizeof(uint32_t));
}

/* --- reporting ------------------------------------------------------------------ */

static void describe_page(char *buf, size_t len, uint32_t p)
{
	snprintf(buf, len, "%p (arena page %u = PMD %u +%u)", (void *)A(p), p,
		 p / PMD_PAGES, p % PMD_PAGES);
}

static void describe_op(char *buf, size_t len, const struct op *o)
{
	static const char *const prot_name[] = { "---", "r--", "-w-", "rw-" };
	char fl[40] = "";

	switch (o->type) {
	case OP_MREMAP:
		snprintf(fl, sizeof(fl), "%s%s%s%s", o->flags ? "" : "0",
			 o->flags & MREMAP_MAYMOVE ? "MAYMOVE" : "",
			 o->flags & MREMAP_FIXED ? "|FIXED" : "",
			 o->flags & MREMAP_DONTUNMAP ? "|DONTUNMAP" : "");
		snprintf(buf, len, "mremap %u:%u +%u -> %u pages, %s%s%u:%u", o->a / PMD_PAGES,
			 o->a % PMD_PAGES, o->n, o->m, fl, " to ", o->d / PMD_PAGES,
			 o->d % PMD_PAGES);
		break;
	case OP_MMAP:
		snprintf(buf, len, "mmap %u:%u +%u %s %s pgoff %u", o->a / PMD_PAGES,
			 o->a % PMD_PAGES, o->n, kind_name[o->kind % K_NR],
			 prot_name[o->prot & 3], o->pgoff);
		break;
	case OP_WRITE:
		snprintf(buf, len, "write %u pages from %u:%u every %u", o->n,
			 o->a / PMD_PAGES, o->a % PMD_PAGES, o->d);
		break;
	case OP_MPROTECT:
		snprintf(buf, len, "mprotect %u:%u +%u %s", o->a / PMD_PAGES,
			 o->a % PMD_PAGES, o->n, prot_name[o->prot & 3]);
		break;
	case OP_FORK:
		snprintf(buf, len, "fork: %u child ops, then %u parent ops", o->n, o->m);
		break;
	default:
		snprintf(buf, len, "%s %u:%u +%u", op_name[o->type % OP_NR],
			 o->a / PMD_PAGES, o->a % PMD_PAGES, o->n);
	}
}

static void mismatch(struct run *r, const char *fmt, ...)
{
	va_list ap;

	r->fails++;
	if (r->quiet || r->reports++ >= MAX_REPORTS)
		return;
	printf("# MISMATCH seed=%llu %sop=%d: ", r->seed, r->who, r->opi);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* --- guarded memory access --------------------------------------------------------- */

static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;
static volatile void *fault_addr;
static volatile int fault_sig;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
	if (!fault_armed) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	fault_sig = sig;
	fault_addr = si->si_addr;
	siglongjmp(fault_jmp, 1);
}

/* Which model page holds the data whose first word is @w0, for the report. */
static void whose_data(char *buf, size_t len, const struct model *m, uint64_t w0)
{
	uint32_t p;

	if (!w0) {
		snprintf(buf, len, "a zero first word");
		return;
	}
	for (p = 0; p < ARENA_PAGES; p++) {
		uint32_t st;

		if (m->pg[p].kind == K_NONE)
			continue;
		st = expect_stamp(m, p);
		if (st && page_word(st, 0) == w0) {
			char where[80];

			describe_page(where, sizeof(where), p);
			snprintf(buf, len, "the data the model expects at %s", where);
			return;
		}
	}
	snprintf(buf, len, "data of no page the model knows (first word %#llx)",
		 (unsigned long long)w0);
}

/* The index of the first word of @w that is not of @stamp, or -1; hashes the page. */
static __attribute__((noinline)) long first_diff(const uint64_t *w, uint32_t stamp, uint64_t *hp)
{
	unsigned int i;

	for (i = 0; i < PAGE_SZ / 8; i++) {
		*hp = hash_in(*hp, w[i]);
		if (w[i] != page_word(stamp, i))
			return i;
	}
	return -1;
}

/* Compare the page at @addr with @stamp; hash what is there into *h. */
static void check_page(struct run *r, const char *addr, uint32_t stamp, uint32_t p,
		       uint64_t *h)
{
	const uint64_t *w = (const uint64_t *)addr;
	char where[80], whose[160];
	uint64_t hp = 0, want;
	unsigned int b;
	long i;

	describe_page(where, sizeof(where), p);
	if (sigsetjmp(fault_jmp, 1)) {
		fault_armed = 0;
		mismatch(r, "%s at %p reading %s (%s page, stamp %08x)",
			 fault_sig == SIGBUS ? "SIGBUS" : "SIGSEGV", fault_addr, where,
			 kind_name[M->pg[p].kind], stamp);
		return;
	}
	fault_armed = 1;
	i = first_diff(w, stamp, &hp);
	fault_armed = 0;
	if (i < 0) {
		if (h)
			*h = hash_in(*h, hp ^ p);
		return;
	}
	want = page_word(stamp, i);
	for (b = 0; b < 8; b++)
		if (((w[i] ^ want) >> (8 * b)) & 0xff)
			break;
	whose_data(whose, sizeof(whose), M, w[0]);
	mismatch(r, "byte %#lx of %s (address %p, %s page): expected %02x, actual %02x; page expected stamp %08x, holds %s",
		 i * 8 + b, where, (void *)(addr + i * 8 + b), kind_name[M->pg[p].kind],
		 (unsigned int)(want >> (8 * b)) & 0xff,
		 (unsigned int)(w[i] >> (8 * b)) & 0xff, stamp, whose);
}

/*
 * Compare pages [lo, hi) of the arena with the model: pages with data are
 * read, zero private anonymous pages must not be resident.  Zero pages of
 * objects are not read (each read would fault one in).
 */
static void check_pages(struct run *r, uint32_t lo, uint32_t hi, uint64_t *h)
{
	static unsigned char vec[ARENA_PAGES];
	uint32_t p, q;

	for (p = lo; p < hi; p++) {
		const struct pg *g = &M->pg[p];
		uint32_t st;

		if (g->kind == K_NONE)
			continue;
		st = expect_stamp(M, p);
		if (st && (g->prot & PROT_READ))
			check_page(r, A(p), st, p, h);
	}
	/* Residency, per run of mapped pages (mincore fails on holes). */
	for (p = lo; p < hi; p = q) {
		if (M->pg[p].kind == K_NONE) {
			q = p + 1;
			continue;
		}
		for (q = p; q < hi && M->pg[q].kind != K_NONE; q++)
			;
		if (mincore(A(p), (q - p) * PAGE_SZ, vec)) {
			mismatch(r, "mincore(%p, %u pages): %s, the model has them mapped",
				 (void *)A(p), q - p, strerror(errno));
			continue;
		}
		for (uint32_t i = p; i < q; i++) {
			const struct pg *g = &M->pg[i];
			char where[80];

			if (g->kind != K_ANON || g->stamp)
				continue;
			if (h)
				*h = hash_in(*h, ((uint64_t)(vec[i - p] & 1) << 32) | i);
			if (!(vec[i - p] & 1))
				continue;
			describe_page(where, sizeof(where), i);
			mismatch(r, "%s is resident, the model expects an untouched zero page",
				 where);
			if (g->prot & PROT_READ) {
				char whose[160];

				whose_data(whose, sizeof(whose), M, *(uint64_t *)A(i));
				mismatch(r, "  it holds %s", whose);
			}
		}
	}
}

/* The PMDs around [a, a + n): where a wrong realignment would do harm. */
static void check_around(struct run *r, uint32_t a, uint32_t n)
{
	uint32_t lo = a / PMD_PAGES * PMD_PAGES;
	uint64_t hi = ((uint64_t)a + n + PMD_PAGES - 1) / PMD_PAGES * PMD_PAGES;

	if (a >= ARENA_PAGES)
		return;
	check_pages(r, lo, hi > ARENA_PAGES ? ARENA_PAGES : (uint32_t)hi, NULL);
}

/* --- /proc/self/maps ------------------------------------------------------------------ */

static ssize_t read_maps(void)
{
	ssize_t len = 0, n;
	int fd = open("/proc/self/maps", O_RDONLY);

	if (fd < 0)
		return -1;
	while ((n = read(fd, maps_buf + len, sizeof(maps_buf) - 1 - len)) > 0)
		len += n;
	close(fd);
	maps_buf[len] = '\0';
	return len;
}

static inline uint64_t file_id(unsigned int major, unsigned int minor, unsigned long ino)
{
	return ((uint64_t)major << 52) ^ ((uint64_t)minor << 40) ^ ino;
}

/* One line of /proc/self/maps; false if it is not one. */
static bool parse_maps_line(const char *line, unsigned long *start, unsigned long *end,
			    char *perms, unsigned long *off, uint64_t *id)
{
	unsigned int major, minor;
	unsigned long ino;

	if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", start, end, perms, off, &major, &minor,
		   &ino) != 7)
		return false;
	*id = ino ? file_id(major, minor, ino) : 0;
	return true;
}

/* The file of the mapping at @addr (a shared anonymous object's identity). */
static uint64_t maps_id_at(unsigned long addr)
{
	char *line, *save = NULL;

	if (read_maps() < 0)
		return 0;
	for (line = strtok_r(maps_buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long start, end, off;
		char perms[8];
		uint64_t id;

		if (parse_maps_line(line, &start, &end, perms, &off, &id) && addr >= start &&
		    addr < end)
			return id;
	}
	return 0;
}

static int obj_of_id(const struct model *m, uint64_t ino)
{
	uint32_t i;

	for (i = 0; i < m->nobj; i++)
		if (obj_ino[i] == ino)
			return i;
	return -1;
}

/*
 * Every page of the arena against /proc/self/maps: mapped or not, r/w,
 * shared or private, which object at which offset.  VMA boundaries are
 * not the model's business (merges) but go into the layout hash @h.
 */
static void check_maps(struct run *r, uint64_t *h)
{
	static uint8_t seen[ARENA_PAGES];
	unsigned long top = ARENA_BASE + ARENA_PAGES * PAGE_SZ;
	char *line, *save = NULL;
	int reported = 0;
	uint32_t p;

	if (read_maps() < 0) {
		mismatch(r, "cannot read /proc/self/maps: %s", strerror(errno));
		return;
	}
	memset(seen, 0, sizeof(seen));
	for (line = strtok_r(maps_buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long start, end, off, lo, hi;
		char perms[8];
		uint64_t ino;
		int obj;

		if (!parse_maps_line(line, &start, &end, perms, &off, &ino))
			continue;
		if (end <= ARENA_BASE || start >= top)
			continue;
		lo = start < ARENA_BASE ? ARENA_BASE : start;
		hi = end > top ? top : end;
		obj = ino ? obj_of_id(M, ino) : -1;
		if (h)
			*h = hash_in(hash_in(hash_in(*h, lo - ARENA_BASE), hi - ARENA_BASE),
				     ((uint64_t)(perms[0] == 'r') << 0 | (perms[1] == 'w') << 1 |
				      (perms[3] == 's') << 2) | ((uint64_t)(obj + 1) << 8) |
				     (ino ? (off + (lo - start)) << 16 : 0));
		for (p = (lo - ARENA_BASE) / PAGE_SZ; p < (hi - ARENA_BASE) / PAGE_SZ; p++) {
			const struct pg *g = &M->pg[p];
			int prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0);
			bool shared = perms[3] == 's';
			unsigned long pgoff = off / PAGE_SZ + (p - (start - ARENA_BASE) / PAGE_SZ);
			char where[80];
			const char *what = NULL;

			seen[p] = 1;
			if (g->kind == K_NONE)
				what = "mapped, the model has it unmapped";
			else if (prot != g->prot)
				what = "protection differs";
			else if (shared != kind_shared(g->kind))
				what = "shared/private differs";
			else if (g->kind == K_ANON ? ino != 0 : (obj != g->obj || pgoff != g->pgoff))
				what = "backing object or offset differs";
			if (!what || reported++ >= 2)
				continue;
			describe_page(where, sizeof(where), p);
			mismatch(r, "maps at %s: %s: maps line '%s' (page offset %lu, object %d); model: %s prot %d object %u offset %u",
				 where, what, line, pgoff, obj, kind_name[g->kind], g->prot, g->obj,
				 g->pgoff);
		}
	}
	for (p = 0; p < ARENA_PAGES; p++) {
		char where[80];

		if (seen[p] || M->pg[p].kind == K_NONE || reported++ >= 2)
			continue;
		describe_page(where, sizeof(where), p);
		mismatch(r, "maps at %s: not mapped, the model has a %s page", where,
			 kind_name[M->pg[p].kind]);
	}
}

/* --- executing operations --------------------------------------------------------- */

static int outcome_of_errno(int e)
{
	return e == EINVAL ? RES_EINVAL : e == ENOMEM ? RES_ENOMEM : RES_OTHER;
}

static void guarded_write(struct run *r, uint32_t p, uint32_t stamp)
{
	char where[80];

	if (sigsetjmp(fault_jmp, 1)) {
		fault_armed = 0;
		describe_page(where, sizeof(where), p);
		mismatch(r, "%s at %p writing %s", fault_sig == SIGBUS ? "SIGBUS" : "SIGSEGV",
			 fault_addr, where);
		return;
	}
	fault_armed = 1;
	fill_page(A(p), stamp);
	fault_armed = 0;
}

static int exec_mmap(struct run *r, const struct op *o)
{
	int flags = MAP_FIXED | (kind_shared(o->kind) ? MAP_SHARED : MAP_PRIVATE);
	int fd = -1;
	off_t off = 0;
	void *p;

	if (o->kind == K_ANON || o->kind == K_SHANON)
		flags |= MAP_ANONYMOUS;
	else {
		fd = fds[kind_obj(o->kind)];
		off = (off_t)o->pgoff * PAGE_SZ;
	}
	p = mmap(A(o->a), o->n * PAGE_SZ, o->prot, flags, fd, off);
	if (p == MAP_FAILED)
		return outcome_of_errno(errno);
	if (p != A(o->a)) {
		mismatch(r, "mmap MAP_FIXED at %p returned %p", (void *)A(o->a), p);
		return RES_OTHER;
	}
	if (o->kind == K_SHANON)
		obj_ino[M->nobj] = maps_id_at((unsigned long)p);
	return RES_OK;
}

/*
 * mremap() as the operation says.  A move the kernel places itself lands
 * outside the arena: its pages are checked there, then moved to d with
 * MREMAP_FIXED (returns that address in *away, 0 otherwise).
 */
static int exec_mremap(struct run *r, const struct op *o, char **away)
{
	void *new_addr = (o->flags & MREMAP_FIXED) ? A(o->d) : NULL;
	long ret;

	*away = NULL;
	ret = syscall(SYS_mremap, A(o->a), o->n * PAGE_SZ, o->m * PAGE_SZ, o->flags, new_addr);
	if (ret == -1)
		return outcome_of_errno(errno);
	if (o->flags & MREMAP_FIXED) {
		if ((char *)ret != A(o->d)) {
			mismatch(r, "mremap FIXED to %p returned %#lx", (void *)A(o->d), ret);
			return RES_OTHER;
		}
		return RES_MOVED;
	}
	if ((char *)ret == A(o->a))
		return RES_INPLACE;
	*away = (char *)ret;
	return RES_MOVED;
}

static void run_ops(struct run *r, const struct op *ops, int n, int base);

/* What the other process did to shared objects: replay @ops on a copy of @start. */
static void simulate_objects(const struct model *start, const struct op *ops, int n,
			     bool inject)
{
	int i;

	memcpy(S, start, sizeof(*S));
	take_objects(S, M);
	for (i = 0; i < n; i++)
		apply(S, &ops[i], predict(S, &ops[i]), inject);
	take_objects(M, S);
}

/*
 * fork: the child runs its operations (writes break copy-on-write, a move
 * carries shared pages), then the parent runs its own while the child
 * waits, then the child checks its view again.  Each side knows what the
 * other wrote to shared objects by replaying the other's operations on
 * the model.
 */
static void exec_fork(struct run *r, const struct op *ops, int i)
{
	const struct op *child = &ops[i + 1], *parent = &ops[i + 1 + ops[i].n];
	int nc = ops[i].n, np = ops[i].m, status, c2p[2], p2c[2];
	static struct model start;
	char c;
	pid_t pid;

	memcpy(&start, M, sizeof(start));
	fflush(stdout);
	if (pipe(c2p) || pipe(p2c)) {
		mismatch(r, "pipe: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid < 0) {
		mismatch(r, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		r->who = "child ";
		r->fails = 0;
		run_ops(r, child, nc, i + 1);
		if (write(c2p[1], "c", 1) != 1 || read(p2c[0], &c, 1) != 1)
			_exit(2);
		/* The parent's writes, onto the state the parent started from. */
		simulate_objects(&start, parent, np, r->inject);
		check_pages(r, 0, ARENA_PAGES, NULL);
		check_maps(r, NULL);
		fflush(stdout);
		_exit(r->fails ? 1 : 0);
	}
	close(c2p[1]);
	close(p2c[0]);
	if (read(c2p[0], &c, 1) != 1) {
		mismatch(r, "the child died before it was done");
	} else {
		simulate_objects(&start, child, nc, r->inject);
		run_ops(r, parent, np, i + 1 + nc);
		if (write(p2c[1], "p", 1) != 1)
			mismatch(r, "cannot wake the child");
	}
	close(p2c[1]);
	close(c2p[0]);
	r->opi = i;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		mismatch(r, "the child failed (%s %d)", WIFEXITED(status) ? "exit" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	check_pages(r, 0, ARENA_PAGES, NULL);
	check_maps(r, NULL);
}

/* The number of operations from @i on that form one unit (a fork and its own). */
static int unit_len(const struct op *ops, int n, int i)
{
	int len = ops[i].type == OP_FORK ? 1 + (int)ops[i].n + (int)ops[i].m : 1;

	return len > n - i ? n - i : len;
}

static void run_op(struct run *r, const struct op *o)
{
	int want = predict(M, o), got = RES_OK;
	char *away = NULL;
	char what[160];
	uint32_t i;

	r->hres = hash_in(r->hres, ((uint64_t)r->opi << 8) | want);
	if (want == RES_SKIP) {
		r->skipped++;
		return;
	}
	switch (o->type) {
	case OP_MMAP:
		got = exec_mmap(r, o);
		break;
	case OP_MUNMAP:
		got = munmap(A(o->a), o->n * PAGE_SZ) ? outcome_of_errno(errno) : RES_OK;
		break;
	case OP_MPROTECT:
		got = mprotect(A(o->a), o->n * PAGE_SZ, o->prot) ? outcome_of_errno(errno) : RES_OK;
		break;
	case OP_DONTNEED:
		got = madvise(A(o->a), o->n * PAGE_SZ, MADV_DONTNEED) ?
		      outcome_of_errno(errno) : RES_OK;
		break;
	case OP_WRITE:
		for (i = 0; i < o->n; i++) {
			uint64_t p = o->a + (uint64_t)i * o->d;
			const struct pg *g;

			if (p >= ARENA_PAGES)
				break;
			g = &M->pg[p];
			if (g->kind != K_NONE && (g->prot & PROT_WRITE))
				guarded_write(r, p, stamp_of(o->salt, i));
		}
		break;
	case OP_MREMAP:
		got = exec_mremap(r, o, &away);
		break;
	}
	if (got != want) {
		describe_op(what, sizeof(what), o);
		mismatch(r, "%s: the model expects %s, the kernel says %s (errno %d)", what,
			 outcome_name[want], outcome_name[got], errno);
		/* The model cannot follow a kernel it disagrees with. */
		return;
	}
	apply(M, o, want, r->inject);
	if (away) {
		/* Check the move at the kernel's address, then bring it back. */
		char *home = A(o->d);
		long ret;

		for (i = 0; i < o->m; i++) {
			uint32_t st = expect_stamp(M, o->d + i);

			if (st && (M->pg[o->d + i].prot & PROT_READ))
				check_page(r, away + i * PAGE_SZ, st, o->d + i, NULL);
		}
		ret = syscall(SYS_mremap, away, o->m * PAGE_SZ, o->m * PAGE_SZ,
			      MREMAP_MAYMOVE | MREMAP_FIXED, home);
		if ((char *)ret != home)
			mismatch(r, "moving %p back to %p: %s", (void *)away, (void *)home,
				 ret == -1 ? strerror(errno) : "another address");
	}
	check_around(r, o->a, o->type == OP_WRITE ? o->n * o->d : o->n);
	if (o->type == OP_MREMAP && want == RES_MOVED)
		check_around(r, o->d, o->m);
	check_maps(r, NULL);
}

static void run_ops(struct run *r, const struct op *ops, int n, int base)
{
	int i;

	for (i = 0; i < n && !r->fails; i += unit_len(ops, n, i)) {
		r->opi = base + i;
		if (ops[i].type == OP_FORK) {
			r->hres = hash_in(r->hres, ((uint64_t)r->opi << 8) | RES_OK);
			exec_fork(r, ops, i);
		} else {
			run_op(r, &ops[i]);
		}
	}
}

/* --- a sequence: setup, run, final check ----------------------------------------- */

static int open_objects(void)
{
	char path[64];
	struct stat st;
	int i;

	for (i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fds[OBJ_MEMFD] = syscall(SYS_memfd_create, "mremap_fuzz", 0);
	snprintf(path, sizeof(path), "/tmp/mremap_fuzz.%d.file", getpid());
	fds[OBJ_FILE] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fds[OBJ_MEMFD] < 0 || fds[OBJ_FILE] < 0)
		return -1;
	unlink(path);
	for (i = 0; i < 2; i++) {
		if (ftruncate(fds[i], OBJ_PAGES * PAGE_SZ) || fstat(fds[i], &st))
			return -1;
		obj_ino[i] = file_id(major(st.st_dev), minor(st.st_dev), st.st_ino);
	}
	return 0;
}

/*
 * Empty the arena and a PMD on each side: one mapping over all of it, then
 * none.  Mapping it first zaps whatever page tables a bad kernel may have
 * left there.
 */
static int clear_arena(void)
{
	void *p = mmap(MARGIN_LO, MARGIN_LEN, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);

	if (p != MARGIN_LO)
		return -1;
	return munmap(MARGIN_LO, MARGIN_LEN);
}

/* The objects' content, read with pread (no fault): must be the model's. */
static void check_objects(struct run *r, uint64_t *h)
{
	static uint64_t buf[16 * PAGE_SZ / 8];
	uint32_t o, p, i, w;

	for (o = 0; o < 2; o++) {
		for (p = 0; p < OBJ_PAGES; p += 16) {
			ssize_t n = pread(fds[o], buf, sizeof(buf), (off_t)p * PAGE_SZ);

			if (n != (ssize_t)sizeof(buf)) {
				mismatch(r, "pread of the %s at page %u: %zd", o ? "file" : "memfd", p, n);
				return;
			}
			for (i = 0; i < 16; i++) {
				uint32_t st = M->pool[M->obj_off[o] + p + i];
				const uint64_t *got = &buf[i * PAGE_SZ / 8];

				/* Verified, so the stamp stands for the bytes in the digest. */
				for (w = 0; w < PAGE_SZ / 8; w++) {
					if (got[w] != page_word(st, w)) {
						mismatch(r, "the %s's page %u (read with pread) differs at byte %#x: expected stamp %08x, first word %#llx",
							 o ? "file" : "memfd", p + i, w * 8, st,
							 (unsigned long long)got[0]);
						return;
					}
				}
				if (st)
					*h = hash_in(*h, ((uint64_t)st << 24) ^ (p + i) ^ ((uint64_t)o << 60));
			}
		}
	}
}

/* Everything at the end, with the digests. */
static void final_check(struct run *r)
{
	uint32_t p, q;

	r->opi = -1;
	r->hlayout = 0;
	check_maps(r, &r->hlayout);
	/* Unreadable pages are made readable to be checked (and digested). */
	for (p = 0; p < ARENA_PAGES; p = q) {
		for (q = p + 1; q < ARENA_PAGES && M->pg[q].kind != K_NONE &&
		     M->pg[q].region == M->pg[p].region; q++)
			;
		if (M->pg[p].kind == K_NONE || (M->pg[p].prot & PROT_READ))
			continue;
		if (mprotect(A(p), (q - p) * PAGE_SZ, PROT_READ))
			mismatch(r, "mprotect(%p, %u pages, PROT_READ): %s", (void *)A(p), q - p,
				 strerror(errno));
		for (uint32_t i = p; i < q; i++)
			M->pg[i].prot = PROT_READ;
	}
	r->hdata = 0;
	check_pages(r, 0, ARENA_PAGES, &r->hdata);
	check_objects(r, &r->hdata);
}

/* Run one sequence from an empty arena; returns the number of mismatches. */
static int run_sequence(struct run *r, const struct op *ops, int n)
{
	r->fails = 0;
	r->reports = 0;
	r->skipped = 0;
	r->hres = r->hdata = r->hlayout = 0;
	r->who = "";
	if (clear_arena() || open_objects()) {
		mismatch(r, "cannot set up the arena or the objects: %s", strerror(errno));
		return r->fails;
	}
	model_reset(M);
	run_ops(r, ops, n, 0);
	if (!r->fails)
		final_check(r);
	clear_arena();
	return r->fails;
}

/* --- generating a sequence --------------------------------------------------------- */

struct region {
	uint32_t start, len;
	uint8_t kind, prot;
};

static struct region regions[ARENA_PAGES];

static int list_regions(const struct model *m)
{
	int nr = 0;
	uint32_t p;

	for (p = 0; p < ARENA_PAGES; p++) {
		const struct pg *g = &m->pg[p];

		if (g->kind == K_NONE)
			continue;
		if (p && m->pg[p - 1].kind != K_NONE && m->pg[p - 1].region == g->region) {
			regions[nr - 1].len++;
			continue;
		}
		regions[nr].start = p;
		regions[nr].len = 1;
		regions[nr].kind = g->kind;
		regions[nr].prot = g->prot;
		nr++;
	}
	return nr;
}

/* PMDs next to the 1 GB boundary are picked more often. */
static uint32_t pick_pmd(void)
{
	if (chance(30))
		return ARENA_PMDS / 2 - 1 + rnd(2);
	return rnd(ARENA_PMDS);
}

/* An offset inside a PMD, often one the series decides on. */
static uint32_t pick_offset(void)
{
	static const uint32_t picks[] = { 0, 1, 128, 256, 384, 510, 511 };

	if (chance(60))
		return picks[rnd(sizeof(picks) / sizeof(picks[0]))];
	return rnd(PMD_PAGES);
}

/* A length from in-PMD offset @off: to the boundary, just short or past it, ... */
static uint32_t pick_len(uint32_t off)
{
	uint32_t to_boundary = PMD_PAGES - off;

	switch (rnd(8)) {
	case 0:
	case 1:
		return to_boundary;
	case 2:
		return to_boundary > 1 ? to_boundary - 1 : 1;
	case 3:
		return to_boundary + 1;
	case 4:
		return to_boundary + PMD_PAGES;
	case 5:
		return 1 + rnd(8);
	default:
		return 1 + rnd(2 * PMD_PAGES);
	}
}

static uint32_t clamp_len(uint32_t a, uint32_t n)
{
	return a + n > ARENA_PAGES ? ARENA_PAGES - a : n;
}

static int emit(struct op *ops, int n, int max, const struct op *o)
{
	if (n < max)
		ops[n++] = *o;
	return n;
}

/* A write of a few pages of @R: around a PMD boundary in it, spread, or random. */
static bool gen_write(const struct region *R, struct op *o)
{
	uint32_t b;

	if (!(R->prot & PROT_WRITE))
		return false;
	memset(o, 0, sizeof(*o));
	o->type = OP_WRITE;
	o->salt = rnd(UINT32_MAX);
	o->d = 1;
	b = (R->start / PMD_PAGES + 1) * PMD_PAGES;
	if (chance(45) && b < R->start + R->len) {
		o->a = b - 1;
		o->n = 2;
	} else if (chance(50)) {
		o->n = R->len < 4 ? R->len : 2 + rnd(3);
		o->a = R->start;
		o->d = R->len / o->n ? R->len / o->n : 1;
	} else {
		o->a = R->start + rnd(R->len);
		o->n = 1 + rnd(3);
	}
	return true;
}

static void gen_mmap(struct model *m, int nr, struct op *o)
{
	static const uint8_t kinds[] = {
		K_ANON, K_ANON, K_ANON, K_ANON, K_SHANON, K_MEMFD_S, K_MEMFD_P,
		K_FILE_S, K_FILE_P,
	};
	uint32_t off;

	memset(o, 0, sizeof(*o));
	o->type = OP_MMAP;
	o->kind = kinds[rnd(sizeof(kinds))];
	o->prot = chance(88) ? PROT_READ | PROT_WRITE : chance(70) ? PROT_READ : PROT_NONE;
	if (nr && chance(25)) {
		/* A neighbour between an existing region and the PMD boundary below it. */
		const struct region *R = &regions[rnd(nr)];
		uint32_t floor = R->start / PMD_PAGES * PMD_PAGES;

		if (R->start > floor) {
			o->n = 1 + rnd(R->start - floor < 4 ? R->start - floor : 4);
			o->a = chance(50) ? floor : R->start - o->n - (R->start - floor > o->n && chance(50));
		}
	}
	if (!o->n) {
		off = pick_offset();
		o->a = pick_pmd() * PMD_PAGES + off;
		o->n = clamp_len(o->a, pick_len(off));
	}
	if (kind_fd(o->kind))
		o->pgoff = rnd(OBJ_PAGES - o->n);
	if (o->kind == K_SHANON && (m->nobj >= MAX_OBJS || m->pool_used + o->n > POOL_PAGES))
		o->kind = K_ANON;
}

/* A destination for @m pages moved from @s (in region @R). */
static uint32_t pick_dst(const struct region *R, uint32_t s, uint32_t m)
{
	uint32_t off = s % PMD_PAGES, d;

	switch (rnd(20)) {
	case 0: case 1: case 2:
		/* Inside the source's own region, below it, mutually aligned. */
		d = R->start / PMD_PAGES * PMD_PAGES + off;
		if (d < R->start)
			d += PMD_PAGES;
		if (d + m <= s)
			return d;
		/* fall through */
	default:
		d = pick_pmd() * PMD_PAGES + off;
		break;
	case 3: case 4:
		/* Just not mutually aligned. */
		d = pick_pmd() * PMD_PAGES + off + (chance(50) ? 1 : PMD_PAGES - 1);
		break;
	case 5: case 6: case 7:
		d = rnd(ARENA_PAGES);
		break;
	}
	d %= ARENA_PAGES;
	if (d + m > ARENA_PAGES)
		d = m <= ARENA_PAGES ? ARENA_PAGES - m : 0;
	return d;
}

static bool gen_mremap(const struct region *R, struct op *o)
{
	uint32_t s, n, t;

	memset(o, 0, sizeof(*o));
	o->type = OP_MREMAP;
	switch (rnd(5)) {
	case 0: case 1:
		s = R->start;
		n = R->len;
		break;
	case 2:
		/* The tail, from an offset that leaves data below it in its PMD. */
		t = ((R->start / PMD_PAGES + (chance(50) ? 1 : 0)) * PMD_PAGES) + 1 + rnd(PMD_PAGES - 1);
		if (chance(40))
			t = R->start + 1 + rnd(R->len);
		if (t <= R->start || t >= R->start + R->len)
			t = R->start + R->len / 2;
		s = t;
		n = R->start + R->len - s;
		break;
	case 3:
		s = R->start;
		n = 1 + rnd(R->len);
		break;
	default:
		s = R->start + rnd(R->len);
		n = 1 + rnd(R->start + R->len - s);
		break;
	}
	if (n < 1)
		return false;
	o->a = s;
	o->n = n;
	o->m = n;
	switch (rnd(20)) {
	case 0: case 1: case 2:
		/* Resize in place: to the next PMD boundary, past it, or shrink. */
		o->flags = 0;
		if (chance(60))
			o->m = n + pick_len((s + n) % PMD_PAGES);
		else
			o->m = n > 1 ? 1 + rnd(n - 1) : 1;
		break;
	case 3: case 4:
		o->flags = MREMAP_MAYMOVE;
		o->m = n + 1 + rnd(PMD_PAGES);
		break;
	case 5: case 6: case 7:
		o->flags = MREMAP_MAYMOVE | MREMAP_DONTUNMAP | (chance(60) ? MREMAP_FIXED : 0);
		if (chance(5))
			o->m = n + 1;
		break;
	case 8:
		/* Overlapping source and destination: EINVAL. */
		o->flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		o->d = s + rnd(n) - (chance(50) ? rnd(s < 8 ? s + 1 : 8) : 0);
		return true;
	default:
		o->flags = MREMAP_MAYMOVE | MREMAP_FIXED;
		if (chance(15))
			o->m = n > 1 ? 1 + rnd(n - 1) : 1;
		else if (chance(15))
			o->m = n + 1 + rnd(PMD_PAGES);
		break;
	}
	if (o->m > ARENA_PAGES / 2)
		o->m = ARENA_PAGES / 2;
	o->d = pick_dst(R, s, o->m);
	return true;
}

static bool gen_on_region(struct model *m, int type, struct op *o)
{
	int nr = list_regions(m);
	const struct region *R;

	if (!nr)
		return false;
	R = &regions[rnd(nr)];
	memset(o, 0, sizeof(*o));
	switch (type) {
	case OP_MREMAP:
		return gen_mremap(R, o);
	case OP_WRITE:
		return gen_write(R, o);
	case OP_MUNMAP:
	case OP_MPROTECT:
	case OP_DONTNEED:
		o->type = type;
		if (chance(40) && R->len > 2) {
			/* Split the region: the middle of it, across a PMD boundary if any. */
			uint32_t b = (R->start / PMD_PAGES + 1) * PMD_PAGES;

			o->a = b < R->start + R->len && chance(60) ? b - 1 - rnd(b - R->start) / 2 :
			       R->start + 1 + rnd(R->len - 2);
			o->n = 1 + rnd(R->start + R->len - o->a - 1);
		} else {
			o->a = R->start + (chance(50) ? 0 : rnd(R->len));
			o->n = R->start + R->len - o->a;
			if (chance(50))
				o->n = 1 + rnd(o->n);
		}
		if (type == OP_MPROTECT) {
			o->prot = R->prot == (PROT_READ | PROT_WRITE) ?
				  (chance(70) ? PROT_READ : PROT_NONE) : PROT_READ | PROT_WRITE;
		}
		return true;
	}
	return false;
}

/*
 * The operations of @seed: generated against the model as it will be when
 * they run (the same model, applied with the outcomes it predicts).
 */
static int gen_sequence(unsigned long long seed, int nops, struct op *ops)
{
	int n = 0, forks = 0, i, nc, np;
	struct op o;

	rng_state = mix64(seed ^ 0x6d72656d6170ULL);
	model_reset(M);
	while (n < nops) {
		int nr = list_regions(M), roll = rnd(100), before = n;

		if (nr < 2 || roll < 12) {
			gen_mmap(M, nr, &o);
			n = emit(ops, n, nops, &o);
			apply(M, &o, predict(M, &o), false);
			nr = list_regions(M);
			/* Data in the new mapping, at its start and around its boundaries. */
			for (i = 0; i < nr; i++) {
				if (regions[i].start <= o.a && o.a < regions[i].start + regions[i].len) {
					struct region R = regions[i];
					struct op w;

					if (gen_write(&R, &w)) {
						n = emit(ops, n, nops, &w);
						apply(M, &w, predict(M, &w), false);
					}
					if (gen_write(&R, &w)) {
						n = emit(ops, n, nops, &w);
						apply(M, &w, predict(M, &w), false);
					}
					break;
				}
			}
			continue;
		}
		if (roll < 15 && forks < 2 && nops - n >= 8) {
			/* fork: the child writes, moves, writes; the parent writes. */
			int at = n;

			forks++;
			memset(&o, 0, sizeof(o));
			o.type = OP_FORK;
			n = emit(ops, n, nops, &o);
			memcpy(S, M, sizeof(*S));
			nc = 0;
			for (i = 0; i < 4 && n < nops; i++) {
				struct op c;

				if (!gen_on_region(S, i == 1 ? OP_MREMAP : OP_WRITE, &c))
					continue;
				c.side = 1;
				n = emit(ops, n, nops, &c);
				nc++;
				apply(S, &c, predict(S, &c), false);
			}
			take_objects(M, S);
			np = 0;
			for (i = 0; i < 2 && n < nops; i++) {
				struct op p;

				if (!gen_on_region(M, OP_WRITE, &p))
					continue;
				p.side = 2;
				n = emit(ops, n, nops, &p);
				np++;
				apply(M, &p, predict(M, &p), false);
			}
			ops[at].n = nc;
			ops[at].m = np;
			continue;
		}
		roll = rnd(100);
		if (!gen_on_region(M, roll < 45 ? OP_MREMAP : roll < 65 ? OP_WRITE :
				   roll < 75 ? OP_MUNMAP : roll < 87 ? OP_MPROTECT : OP_DONTNEED, &o))
			continue;
		n = emit(ops, n, nops, &o);
		if (n > before)
			apply(M, &o, predict(M, &o), false);
	}
	return n;
}

/* --- traces --------------------------------------------------------------------------- */

static void format_op(char *buf, size_t len, const struct op *o)
{
	char what[160];

	describe_op(what, sizeof(what), o);
	snprintf(buf, len, "%s a=%u n=%u d=%u m=%u f=%u k=%s p=%u o=%u s=%#x side=%u  # %s",
		 op_name[o->type % OP_NR], o->a, o->n, o->d, o->m, o->flags,
		 kind_name[o->kind % K_NR], o->prot, o->pgoff, o->salt, o->side, what);
}

static int write_trace(const char *path, const struct run *r, const struct op *ops, int n)
{
	FILE *f = fopen(path, "w");
	char line[400];
	int i;

	if (!f)
		return -1;
	fprintf(f, "# mremap_fuzz trace: seed=%llu inject=%d ops=%d\n", r->seed, r->inject, n);
	for (i = 0; i < n; i++) {
		format_op(line, sizeof(line), &ops[i]);
		fprintf(f, "%s\n", line);
	}
	return fclose(f);
}

static void print_trace(const char *title, const struct op *ops, int n)
{
	char line[400];
	int i;

	printf("# %s (%d ops):\n", title, n);
	for (i = 0; i < n; i++) {
		format_op(line, sizeof(line), &ops[i]);
		printf("#   %s\n", line);
	}
	fflush(stdout);
}

static int lookup(const char *const *names, int nr, const char *name)
{
	int i;

	for (i = 0; i < nr; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

/* Read a trace; -1 with a message on a malformed one. */
static int read_trace(const char *path, struct op *ops, unsigned long long *seed, int *inject)
{
	char line[512], name[16], kind[24];
	FILE *f = fopen(path, "r");
	int n = 0, lineno = 0;

	if (!f) {
		fprintf(stderr, "mremap_fuzz: cannot open the trace %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned int a, nn, d, m, fl, p, o, s, side;
		struct op *op = &ops[n];
		int t, k;

		lineno++;
		if (sscanf(line, "# mremap_fuzz trace: seed=%llu inject=%d", seed, inject) == 2)
			continue;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%15s a=%u n=%u d=%u m=%u f=%u k=%23s p=%u o=%u s=%x side=%u", name,
			   &a, &nn, &d, &m, &fl, kind, &p, &o, &s, &side) != 11 ||
		    (t = lookup(op_name, OP_NR, name)) < 0 ||
		    (k = lookup(kind_name, K_NR, kind)) < 0 || n >= MAX_OPS) {
			fprintf(stderr, "mremap_fuzz: %s:%d: not an operation of a trace: %s"
				"(a line is written by a failing run: NAME a=.. n=.. d=.. m=.. f=.. k=.. p=.. o=.. s=.. side=..)\n",
				path, lineno, line);
			fclose(f);
			return -1;
		}
		*op = (struct op){ .type = t, .kind = k, .prot = p, .side = side, .a = a, .n = nn,
				   .d = d, .m = m, .flags = fl, .pgoff = o, .salt = s };
		n++;
	}
	fclose(f);
	return n;
}

/* --- shrinking ------------------------------------------------------------------------ */

static int shrink_runs;

/* Does the sequence made of the units @sel (start indices) of @ops fail? */
static bool units_fail(struct run *r, const struct op *ops, int nops, const int *sel, int ns,
		       int *out_n)
{
	int i, n = 0;
	struct run q = *r;

	for (i = 0; i < ns; i++) {
		int len = unit_len(ops, nops, sel[i]);

		memcpy(&cand_buf[n], &ops[sel[i]], len * sizeof(struct op));
		n += len;
	}
	*out_n = n;
	q.quiet = true;
	shrink_runs++;
	return run_sequence(&q, cand_buf, n) > 0;
}

/*
 * ddmin over the units of a failing sequence: keep a subset or a
 * complement that still fails, at finer and finer granularity, until no
 * single unit can go.  Returns the shrunk sequence's length in @ops.
 */
static int shrink(struct run *r, struct op *ops, int nops, int fail_at)
{
	static int units[MAX_OPS], trial[MAX_OPS];
	int nu = 0, i, j, chunks = 2, n, dummy;

	shrink_runs = 0;
	/* Nothing after the failing unit matters. */
	for (i = 0; i <= fail_at && i < nops; i += unit_len(ops, nops, i))
		units[nu++] = i;
	if (!units_fail(r, ops, nops, units, nu, &dummy))
		return -1;
	while (nu >= 2 && shrink_runs < SHRINK_RUNS) {
		int size = (nu + chunks - 1) / chunks;
		bool reduced = false;

		for (i = 0; i < chunks && !reduced && shrink_runs < SHRINK_RUNS; i++) {
			int lo = i * size, hi = lo + size > nu ? nu : lo + size, nt = 0;

			if (lo >= nu)
				break;
			/* The complement first: it keeps more of the setup. */
			for (j = 0; j < nu; j++)
				if (j < lo || j >= hi)
					trial[nt++] = units[j];
			if (nt && units_fail(r, ops, nops, trial, nt, &dummy)) {
				memcpy(units, trial, nt * sizeof(int));
				nu = nt;
				chunks = chunks > 2 ? chunks - 1 : 2;
				reduced = true;
			}
		}
		for (i = 0; i < chunks && !reduced && shrink_runs < SHRINK_RUNS; i++) {
			int lo = i * size, hi = lo + size > nu ? nu : lo + size;

			if (lo >= nu)
				break;
			if (hi - lo < nu && units_fail(r, ops, nops, &units[lo], hi - lo, &dummy)) {
				memmove(units, &units[lo], (hi - lo) * sizeof(int));
				nu = hi - lo;
				chunks = 2;
				reduced = true;
			}
		}
		if (!reduced) {
			if (chunks >= nu)
				break;
			chunks = chunks * 2 > nu ? nu : chunks * 2;
		}
	}
	units_fail(r, ops, nops, units, nu, &n);
	memcpy(ops, cand_buf, n * sizeof(struct op));
	return n;
}

/* --- main ------------------------------------------------------------------------------- */

struct counters {
	long ptes, pmds, puds;
};

static void read_counters(struct counters *c)
{
	c->ptes = mremap_moves_read("ptes");
	c->pmds = mremap_moves_read("pmds");
	c->puds = mremap_moves_read("puds");
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* After a failure: the trace, a replay of it from the file, the shrunk trace. */
static bool report_failure(struct run *r, struct op *ops, int n, bool self_check)
{
	char path[96], minpath[104];
	unsigned long long seed;
	int inject = 0, rn, fail_at = r->opi < 0 ? n - 1 : r->opi, mn;
	struct run q = *r;
	bool ok = true;

	snprintf(path, sizeof(path), "/tmp/mremap_fuzz.%llu.trace", r->seed);
	snprintf(minpath, sizeof(minpath), "/tmp/mremap_fuzz.%llu.min.trace", r->seed);
	if (write_trace(path, r, ops, n))
		printf("# cannot write %s: %s\n", path, strerror(errno));
	printf("# the failing sequence: %s (%d ops, failed at op %d)\n", path, n, r->opi);
	rn = read_trace(path, cand_buf, &seed, &inject);
	q.quiet = true;
	q.inject = inject;
	if (rn != n || run_sequence(&q, cand_buf, rn) == 0) {
		printf("# replaying %s does not fail again: not reproducible\n", path);
		ok = false;
	} else {
		printf("# replaying %s fails again\n", path);
	}
	if (self_check)
		ksft_test_result(ok, "self-check: the trace replays and fails again\n");
	mn = shrink(r, ops, n, fail_at);
	if (mn < 0) {
		printf("# shrinking: the sequence cut after op %d no longer fails\n", fail_at);
		if (self_check)
			ksft_test_result_fail("self-check: shrunk trace\n");
		return false;
	}
	write_trace(minpath, r, ops, mn);
	printf("# shrunk from %d to %d ops in %d replays: %s\n", n, mn, shrink_runs, minpath);
	print_trace("shrunk trace (replay with --replay FILE)", ops, mn);
	/* What the shrunk sequence says when run loudly. */
	q = *r;
	q.quiet = false;
	run_sequence(&q, ops, mn);
	if (self_check) {
		q.quiet = true;
		q.inject = false;
		ksft_test_result(mn < n && run_sequence(&q, ops, mn) == 0,
				 "self-check: shrunk to %d of %d ops, which pass with the correct model\n",
				 mn, n);
	}
	return ok;
}

static void usage(int code)
{
	fprintf(code ? stderr : stdout,
		"Usage: mremap_fuzz [--seed S] [--seeds N] [--ops N] [--replay FILE] [--self-check]\n"
		"  --seed S      first seed (default 1)\n"
		"  --seeds N     number of seeds, S to S+N-1 (default %d)\n"
		"  --ops N       operations per seed (default %d, at most %d)\n"
		"  --replay FILE run a trace written by a failing run\n"
		"  --self-check  give the model a realignment bug: it must be caught,\n"
		"                replayed and shrunk\n"
		"Exit: 0 no mismatch, 1 a mismatch (the trace is in /tmp), 4 skip\n",
		DEFAULT_SEEDS, DEFAULT_OPS, MAX_OPS);
	exit(code);
}

static unsigned long long parse_num(const char *opt, const char *s, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s ? s : "", &end, 0);
	if (!s || !*s || *end || errno || v > max) {
		fprintf(stderr, "mremap_fuzz: %s needs a number up to %llu, not '%s'\n", opt, max,
			s ? s : "");
		usage(64);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long long seed = 1, nseeds = DEFAULT_SEEDS, nops = DEFAULT_OPS, all = 0;
	const char *replay = NULL;
	bool self_check = false, failed = false;
	struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO | SA_NODEFER };
	struct counters c0, c1, t0;
	unsigned long long total_ops = 0;
	double t_start;
	void *probe;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed"))
			seed = parse_num("--seed", argv[++i < argc ? i : 0], ULLONG_MAX);
		else if (!strcmp(argv[i], "--seeds"))
			nseeds = parse_num("--seeds", argv[++i < argc ? i : 0], 1000000);
		else if (!strcmp(argv[i], "--ops"))
			nops = parse_num("--ops", argv[++i < argc ? i : 0], MAX_OPS);
		else if (!strcmp(argv[i], "--replay") && i + 1 < argc)
			replay = argv[++i];
		else if (!strcmp(argv[i], "--self-check"))
			self_check = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			usage(0);
		else {
			fprintf(stderr, "mremap_fuzz: unknown option '%s'\n", argv[i]);
			usage(64);
		}
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* No huge pages where they exist (not under UML): residency is per page. */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	ksft_print_header();
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	M = malloc(sizeof(*M));
	S = malloc(sizeof(*S));
	if (!M || !S)
		ksft_exit_fail_msg("no memory for the model\n");
	probe = mmap(MARGIN_LO, MARGIN_LEN, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
	if (probe != MARGIN_LO)
		ksft_exit_fail_msg("the arena %p..%p is not free (%s): something else is mapped there\n",
				   (void *)MARGIN_LO, (void *)(MARGIN_LO + MARGIN_LEN),
				   probe == MAP_FAILED ? strerror(errno) : "mapped elsewhere");
	munmap(probe, MARGIN_LEN);
	ksft_print_msg("arena %p..%p (16 PMDs, 1 GB boundary at PMD 8)\n", (void *)ARENA,
		       (void *)A(ARENA_PAGES));

	if (replay) {
		struct run r = { 0 };
		int inject = 0, n = read_trace(replay, ops_buf, &r.seed, &inject);

		if (n < 0)
			return 64;
		r.inject = inject;
		ksft_set_plan(1);
		read_counters(&c0);
		run_sequence(&r, ops_buf, n);
		read_counters(&c1);
		ksft_print_msg("replay: %d ops (%u skipped), %d mismatches; data %016llx layout %016llx results %016llx; ptes %ld pmds %ld puds %ld\n",
			       n, r.skipped, r.fails, (unsigned long long)r.hdata,
			       (unsigned long long)r.hlayout, (unsigned long long)r.hres,
			       c1.ptes - c0.ptes, c1.pmds - c0.pmds, c1.puds - c0.puds);
		ksft_test_result(!r.fails, "replay %s\n", replay);
		ksft_finished();
	}

	if (self_check) {
		/* Seeds until the model's bug shows; the default seeds show it at once. */
		struct run r = { .inject = true };
		int n = 0;
		bool found = false;

		ksft_set_plan(3);
		for (r.seed = seed; r.seed < seed + 50; r.seed++) {
			n = gen_sequence(r.seed, nops, ops_buf);
			if (run_sequence(&r, ops_buf, n)) {
				found = true;
				break;
			}
		}
		ksft_test_result(found, "self-check: the model's bug is caught (seed %llu)\n", r.seed);
		if (!found) {
			ksft_test_result_skip("self-check: replay (nothing failed)\n");
			ksft_test_result_skip("self-check: shrink (nothing failed)\n");
			ksft_finished();
		}
		report_failure(&r, ops_buf, n, true);
		ksft_finished();
	}

	ksft_set_plan(nseeds);
	read_counters(&t0);
	t_start = now_ms();
	for (unsigned long long s = seed; s < seed + nseeds; s++) {
		struct run r = { .seed = s };
		double t = now_ms();
		long f = minflt();
		int n = gen_sequence(s, nops, ops_buf);

		read_counters(&c0);
		run_sequence(&r, ops_buf, n);
		read_counters(&c1);
		total_ops += n;
		ksft_print_msg("seed %llu: %d ops (%u skipped) data %016llx layout %016llx results %016llx | ptes %ld pmds %ld puds %ld | %ld faults, %.0f ms\n",
			       s, n, r.skipped, (unsigned long long)r.hdata,
			       (unsigned long long)r.hlayout, (unsigned long long)r.hres,
			       c1.ptes - c0.ptes, c1.pmds - c0.pmds, c1.puds - c0.puds,
			       minflt() - f, now_ms() - t);
		all = hash_in(hash_in(hash_in(all, r.hdata), r.hlayout), r.hres);
		if (r.fails) {
			failed = true;
			report_failure(&r, ops_buf, n, false);
		}
		ksft_test_result(!r.fails, "seed %llu\n", s);
	}
	read_counters(&c1);
	ksft_print_msg("digest of seeds %llu..%llu: %016llx (%llu ops in %.1f s; ptes %ld pmds %ld puds %ld)\n",
		       seed, seed + nseeds - 1, all, total_ops, (now_ms() - t_start) / 1e3,
		       c1.ptes - t0.ptes, c1.pmds - t0.pmds, c1.puds - t0.puds);
	if (failed)
		ksft_exit_fail();
	ksft_finished();
}
