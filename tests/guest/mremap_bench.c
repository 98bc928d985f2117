// SPDX-License-Identifier: GPL-2.0
/*
 * mremap() latency and page-table work for the series' scenarios (make bench).
 *
 * Usage: mremap_bench [-L MB]... [-r ROUNDS] [-x SHIFT_KB] [ROUNDS]
 *
 *   ROUNDS       moves per scenario of the six small ones (default 50)
 *   -L MB        also move MB megabytes, mutually aligned 512 KB into a PMD
 *                (large_aligned_<MB>m) and not aligned (large_unaligned_<MB>m);
 *                repeatable
 *   -r ROUNDS    moves per large scenario, and execs (default 5)
 *   -x SHIFT_KB  also exec this program with 5 MB of arguments, the stack
 *                shifted down by SHIFT_KB (/sys/kernel/debug/exec_stack_shift),
 *                (exec_shift_5m_by_<SHIFT_KB>k)
 *
 * For each scenario: map and populate the source, move it, and record the
 * time of the mremap() call alone (of fork, exec and wait for the exec
 * scenario) and the sandbox's debugfs counters: PTEs and PMDs moved, and
 * the nanoseconds the kernel spent in move_page_tables() and in the TLB
 * flushes it issued, and, on 6.12, in UML's host sync after the move
 * (sync_ns; -1 where the kernel lacks a counter), and move_ns - flush_ns
 * (walk_ns, taken round by round).  Prints one line per
 * scenario, the times the medians of its rounds:
 *
 *   scenario <name> len_kb <n> ptes <n> pmds <n> median_ns <n> min_ns <n>
 *     max_ns <n> move_ns <n> flush_ns <n> flushes <n> sync_ns <n> walk_ns <n>
 *
 * (one line).  Not a test: it asserts nothing, the host compares kernels
 * with it.  Exit codes: 0 done, 1 a move or exec failed, 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mremap_moves.h"

#define KB		(1UL << 10)
#define MB		(1UL << 20)
#define PMD		(2 * MB)
#define MAX_LARGE	8
#define EXEC_CHILD	"--mremap-bench-exec-child"
#define EXEC_ARGS	40		/* of ARG_LEN bytes each: 5 MB */
#define ARG_LEN		(128 * KB - 1)	/* under MAX_ARG_STRLEN with its NUL */
#define STACK_RLIMIT	(64 * MB)	/* arguments may take a quarter of it */
#define SHIFT_KNOB	"/sys/kernel/debug/exec_stack_shift"
/* 6.12's UML syncs the host after the move: its time, where the port has it. */
#define UM_SYNC		"/sys/kernel/debug/um_tlb_sync_ns"

struct scenario {
	char name[48];
	unsigned long src_off;
	unsigned long dst_off;
	unsigned long len;
	int rounds;
};

/* The moves the series is about, and two it must leave alone. */
static const struct scenario small[] = {
	{ "aligned_1m5_at_512k",	512 * KB,	512 * KB,	1536 * KB, 0 },
	{ "aligned_3m_at_1m",		1 * MB,		1 * MB,		3 * MB, 0 },
	{ "aligned_4m_at_4k",		4 * KB,		4 * KB,		4 * MB, 0 },
	{ "aligned_2m_at_0",		0,		0,		2 * MB, 0 },
	{ "unaligned_1m5_512k_to_1m",	512 * KB,	1 * MB,		1536 * KB, 0 },
	{ "short_1m_at_512k",		512 * KB,	512 * KB,	1 * MB, 0 },
};

/* What one round measured. */
struct round {
	long long ns, move_ns, flush_ns, sync_ns;
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

static int write_knob(const char *path, unsigned long val);

static void reset_counters(void)
{
	static const char *const names[] = { "ptes", "pmds", "move_ns", "flush_ns", "flushes" };
	unsigned int i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		mremap_moves_reset(names[i]);
	write_knob(UM_SYNC, 0);
}

/* um_tlb_sync_ns, or -1 without it (6.1: the flush itself calls the host). */
static long long read_sync_ns(void)
{
	return debugfs_read_number(UM_SYNC);
}

/* Sorts the rounds' values, one field at a time, and prints the line. */
static void print_line(const char *name, unsigned long len, struct round *r, int rounds)
{
	long long *v = calloc(rounds, sizeof(*v));
	long long med[5], lo = 0, hi = 0;
	int i, f;

	if (!v) {
		perror("calloc");
		exit(1);
	}
	for (f = 0; f < 5; f++) {
		for (i = 0; i < rounds; i++)
			v[i] = f == 0 ? r[i].ns : f == 1 ? r[i].move_ns :
			       f == 2 ? r[i].flush_ns : f == 3 ? r[i].sync_ns :
			       r[i].move_ns - r[i].flush_ns;
		qsort(v, rounds, sizeof(*v), cmp_ll);
		med[f] = v[rounds / 2];
		if (f == 0) {
			lo = v[0];
			hi = v[rounds - 1];
		}
	}
	printf("scenario %s len_kb %lu ptes %ld pmds %ld median_ns %lld min_ns %lld max_ns %lld move_ns %lld flush_ns %lld flushes %ld sync_ns %lld walk_ns %lld\n",
	       name, len / KB, mremap_moves_read("ptes"), mremap_moves_read("pmds"),
	       med[0], lo, hi, med[1], med[2], mremap_moves_read("flushes"), med[3], med[4]);
	fflush(stdout);
	free(v);
}

/*
 * Two empty PMD-aligned windows, each a PMD longer than the move reaches,
 * a reserved PMD between them: nothing else mapped in the range the series
 * may realign to.
 *
 *   | src window (span) | PROT_NONE PMD | dst window (span) |
 */
static int run(const struct scenario *sc)
{
	unsigned long off = sc->src_off > sc->dst_off ? sc->src_off : sc->dst_off;
	unsigned long span = ((off + sc->len + PMD - 1) & ~(PMD - 1)) + PMD;
	size_t area = 2 * span + 2 * PMD;
	struct round *r = calloc(sc->rounds, sizeof(*r));
	char *res, *src_win, *dst_win;
	uintptr_t base;
	int i;

	if (!r)
		return -1;
	res = mmap(NULL, area, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return -1;
	base = ((uintptr_t)res + PMD - 1) & ~(PMD - 1);
	src_win = (char *)base;
	dst_win = src_win + span + PMD;
	munmap(src_win, span);
	munmap(dst_win, span);
	for (i = 0; i < sc->rounds; i++) {
		char *src = src_win + sc->src_off, *dst = dst_win + sc->dst_off;
		long long t0;
		void *p;

		if (mmap(src, sc->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != src)
			return -1;
		memset(src, i + 1, sc->len);
		reset_counters();
		t0 = now_ns();
		p = mremap(src, sc->len, sc->len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
		r[i].ns = now_ns() - t0;
		r[i].move_ns = mremap_moves_read("move_ns");
		r[i].flush_ns = mremap_moves_read("flush_ns");
		r[i].sync_ns = read_sync_ns();
		if (p != dst)
			return -1;
		if (i < sc->rounds - 1)
			munmap(dst, sc->len);
	}
	/* The counters are still the last round's: print before unmapping. */
	print_line(sc->name, sc->len, r, sc->rounds);
	munmap(res, area);
	free(r);
	return 0;
}

static int write_knob(const char *path, unsigned long val)
{
	char buf[32];
	int fd, n, ok;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%lu", val);
	ok = write(fd, buf, n) == n;
	close(fd);
	return ok ? 0 : -1;
}

/*
 * The exec stack shift: exec this program with 5 MB of arguments, the new
 * stack moved down by exactly shift bytes.  The child exits at once; the
 * counters see only its exec's move_page_tables().
 */
static int run_exec(unsigned long shift, int rounds)
{
	struct rlimit rl = { STACK_RLIMIT, STACK_RLIMIT };
	struct round *r = calloc(rounds, sizeof(*r));
	char **args = calloc(EXEC_ARGS + 3, sizeof(*args));
	char *payload = malloc(ARG_LEN + 1);
	char name[48];
	int i, status;

	if (!r || !args || !payload)
		return -1;
	if (setrlimit(RLIMIT_STACK, &rl)) {
		perror("setrlimit(RLIMIT_STACK)");
		return -1;
	}
	if (write_knob(SHIFT_KNOB, shift)) {
		fprintf(stderr, "cannot write %s: the kernel lacks the sandbox's knob\n", SHIFT_KNOB);
		return -1;
	}
	memset(payload, 'a', ARG_LEN);
	payload[ARG_LEN] = '\0';
	args[0] = "/proc/self/exe";
	args[1] = EXEC_CHILD;
	for (i = 0; i < EXEC_ARGS; i++)
		args[i + 2] = payload;
	for (i = 0; i < rounds; i++) {
		long long t0;
		pid_t pid;

		reset_counters();
		t0 = now_ns();
		pid = fork();
		if (pid < 0)
			return -1;
		if (!pid) {
			execv(args[0], args);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status)) {
			fprintf(stderr, "the exec with 5 MB of arguments failed (status %#x)\n", status);
			write_knob(SHIFT_KNOB, 0);
			return -1;
		}
		r[i].ns = now_ns() - t0;
		r[i].move_ns = mremap_moves_read("move_ns");
		r[i].flush_ns = mremap_moves_read("flush_ns");
		r[i].sync_ns = read_sync_ns();
	}
	write_knob(SHIFT_KNOB, 0);
	snprintf(name, sizeof(name), "exec_shift_5m_by_%luk", shift / KB);
	print_line(name, (unsigned long)EXEC_ARGS * ARG_LEN, r, rounds);
	free(r);
	free(args);
	free(payload);
	return 0;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-L MB]... [-r ROUNDS] [-x SHIFT_KB] [ROUNDS]\n", prog);
	exit(2);
}

/* A whole number in [1, max], or usage. */
static long number(const char *s, long max, const char *prog)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > max)
		usage(prog);
	return v;
}

int main(int argc, char **argv)
{
	struct scenario large[2 * MAX_LARGE];
	int rounds = 50, large_rounds = 5, nlarge = 0, opt, i;
	unsigned long shift_kb = 0;

	if (argc > 1 && !strcmp(argv[1], EXEC_CHILD))
		return 0;
	while ((opt = getopt(argc, argv, "L:r:x:")) != -1) {
		switch (opt) {
		case 'L': {
			unsigned long mb = number(optarg, 4096, argv[0]);

			if (nlarge == 2 * MAX_LARGE)
				usage(argv[0]);
			large[nlarge] = (struct scenario){ "", 512 * KB, 512 * KB, mb * MB, 0 };
			snprintf(large[nlarge++].name, sizeof(large[0].name), "large_aligned_%lum", mb);
			large[nlarge] = (struct scenario){ "", 512 * KB, 1 * MB, mb * MB, 0 };
			snprintf(large[nlarge++].name, sizeof(large[0].name), "large_unaligned_%lum", mb);
			break;
		}
		case 'r':
			large_rounds = number(optarg, 100000, argv[0]);
			break;
		case 'x':
			shift_kb = number(optarg, 1L << 30, argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (argc - optind > 1)
		usage(argv[0]);
	if (optind < argc)
		rounds = number(argv[optind], 100000, argv[0]);
	for (i = 0; i < (int)(sizeof(small) / sizeof(small[0])); i++) {
		struct scenario sc = small[i];

		sc.rounds = rounds;
		if (run(&sc)) {
			perror(sc.name);
			return 1;
		}
	}
	for (i = 0; i < nlarge; i++) {
		large[i].rounds = large_rounds;
		if (run(&large[i])) {
			perror(large[i].name);
			return 1;
		}
	}
	if (shift_kb && run_exec(shift_kb * KB, large_rounds)) {
		perror("exec_shift");
		return 1;
	}
	return 0;
}
