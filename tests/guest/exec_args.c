// SPDX-License-Identifier: GPL-2.0
/* Chains of self re-execs with large argv/envp: the exec stack shift keeps every string. */

/*
 * exec copies argv and envp to the top of a temporary stack, then
 * shift_arg_pages() moves that stack down to its final place; that move is
 * where the series realigns within one VMA (and where the warning it fixes
 * came from).  Each test raises RLIMIT_STACK (the kernel accepts arguments of
 * up to a quarter of it), then starts a chain of re-execs of this program.
 * Every link checks that all its strings arrived byte for byte, that they lie
 * in the [stack] mapping, and that the stack grows and works below them; then
 * it execs the next link with a slightly different set of strings, so the
 * size and the in-PMD offset of the argument area change at every exec.
 *
 *   top of the new stack                                          low addresses
 *   | execfn | envp strings | argv strings | auxv, pointers | frames + alloca ...
 *
 * Strings: argument id 'k' is  "A<id>:<len>:<fnv32>:<payload>"
 *          environment id 'k'  "XA<id>=<len>:<fnv32>:<payload>"
 * where the payload is 'len' letters generated from (seed, id).  Link 'gen'
 * passes the ids gen .. gen + n - 1, so one string leaves at the front and
 * one joins at the back at each exec; only the new one has to be generated.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <alloca.h>
#include <sys/auxv.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define KB		(1UL << 10)
#define MB		(1UL << 20)
#define STACK_RLIMIT	(64 * MB)
#define MAX_PAYLOAD	(96 * KB)	/* a string stays under MAX_ARG_STRLEN (128 KB) */
#define CHILD_FLAG	"--exec-args-child"
#define EXEC_PATH	"/proc/self/exe"
#define SEED		0x5eed

/* Stack use checked in every link: recursion frames and one alloca(). */
#define FRAME_BYTES	1024
#define FRAME_DEPTH	64
#define ALLOCA_BYTES	(256 * KB)

/* One link of a chain, as passed from link to link in argv[2]. */
struct link {
	unsigned int gen;	/* this link's number, 0 .. execs - 1 */
	unsigned int execs;	/* links in the chain */
	unsigned int nargs;	/* argument strings after argv[2] */
	unsigned int nenv;	/* environment strings */
	unsigned int mean;	/* mean payload length */
	unsigned int spread;	/* payload lengths are mean +- spread */
	uint32_t seed;
};

static uint32_t hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	return x ^ (x >> 16);
}

/* Payload length of string 'id' of kind 'kind' ('A' or 'E'). */
static size_t payload_len(const struct link *l, char kind, unsigned int id)
{
	uint32_t h = hash32(l->seed ^ (kind << 24) ^ (id * 2654435761U));
	size_t len = l->mean - l->spread + h % (2 * l->spread + 1);

	return len > MAX_PAYLOAD ? MAX_PAYLOAD : len;
}

/* The letters of the payload of string 'id'. */
static inline char payload_char(uint32_t *state)
{
	*state = *state * 1103515245U + 12345U;
	return 'a' + (*state >> 16) % 26;
}

static uint32_t payload_state(const struct link *l, char kind, unsigned int id)
{
	return hash32(l->seed * 31 + kind) ^ (id * 0x9e3779b9U);
}

static uint32_t fnv32(const char *s, size_t len)
{
	uint32_t h = 0x811c9dc5U;

	while (len--) {
		h ^= (unsigned char)*s++;
		h *= 0x01000193U;
	}
	return h;
}

/* Build string 'id' of 'kind' in malloc()ed memory. */
static char *make_string(const struct link *l, char kind, unsigned int id)
{
	size_t len = payload_len(l, kind, id), hdr, i;
	uint32_t state = payload_state(l, kind, id);
	char *s = malloc(64 + len);

	if (!s)
		return NULL;
	/* The header's checksum is written last, over the payload. */
	hdr = sprintf(s, kind == 'A' ? "A%06u:%07zu:%08x:" : "XA%06u=%07zu:%08x:", id, len, 0U);
	for (i = 0; i < len; i++)
		s[hdr + i] = payload_char(&state);
	s[hdr + len] = '\0';
	sprintf(s + hdr - 9, "%08x", fnv32(s + hdr, len));
	s[hdr - 1] = ':';
	return s;
}

/*
 * The payloads are read through /proc/self/mem into one small buffer: the
 * kernel walks this process's page tables for every byte, and UML is spared
 * a host page fault for each page of up to 6 MB of strings per exec.
 */
static int self_mem = -1;
static char chunk[64 * KB];

/*
 * Check string 'id' of 'kind' at 's' (the header is read directly, the rest
 * through /proc/self/mem); on a mismatch, describe it in 'why' and return
 * false.
 */
static bool check_string(const struct link *l, char kind, unsigned int id,
			 const char *s, char *why, size_t why_len)
{
	size_t want_len = payload_len(l, kind, id), len, off, i;
	uint32_t state = payload_state(l, kind, id);
	uint32_t h = 0x811c9dc5U;
	unsigned int got_id;
	unsigned int sum;
	char head[40];
	int hdr = 0;

	/* sscanf() would strlen() the whole string: parse a copy of the header. */
	off = strnlen(s, sizeof(head) - 1);
	memcpy(head, s, off);
	head[off] = '\0';
	if (kind == 'A')
		sscanf(head, "A%6u:%7zu:%8x:%n", &got_id, &len, &sum, &hdr);
	else
		sscanf(head, "XA%6u=%7zu:%8x:%n", &got_id, &len, &sum, &hdr);
	if (!hdr) {
		snprintf(why, why_len, "bad header '%.24s'", head);
		return false;
	}
	if (got_id != id || len != want_len) {
		snprintf(why, why_len, "header says id %u length %zu, expected id %u length %zu",
			 got_id, len, id, want_len);
		return false;
	}
	/* The payload and its terminating NUL. */
	for (off = 0; off < len + 1; off += sizeof(chunk)) {
		size_t n = len + 1 - off < sizeof(chunk) ? len + 1 - off : sizeof(chunk);
		const char *at = s + hdr + off;

		if (pread(self_mem, chunk, n, (off_t)(uintptr_t)at) != (ssize_t)n) {
			snprintf(why, why_len, "reading %p+%#zx from /proc/self/mem: %s",
				 at, n, strerror(errno));
			return false;
		}
		for (i = 0; i < n; i++) {
			char want = off + i < len ? payload_char(&state) : '\0';

			if (chunk[i] != want) {
				snprintf(why, why_len,
					 "payload byte %zu at %p: expected 0x%02x, got 0x%02x",
					 off + i, at + i, (unsigned char)want,
					 (unsigned char)chunk[i]);
				return false;
			}
			if (off + i < len)
				h = (h ^ (unsigned char)chunk[i]) * 0x01000193U;
		}
	}
	if (h != sum) {
		snprintf(why, why_len, "payload checksum %08x, header says %08x", h, sum);
		return false;
	}
	return true;
}

/* Touch a frame's worth of stack per level; return a sum the caller can check. */
static __attribute__((noinline)) unsigned long recurse(unsigned int depth)
{
	volatile unsigned char frame[FRAME_BYTES];
	unsigned long sum = 0;
	size_t i;

	for (i = 0; i < sizeof(frame); i++)
		frame[i] = (unsigned char)(depth + i);
	if (depth)
		sum = recurse(depth - 1);
	for (i = 0; i < sizeof(frame); i += 64)
		sum += frame[i];
	return sum;
}

static unsigned long recurse_expected(unsigned int depth)
{
	unsigned long sum = 0;
	unsigned int d;
	size_t i;

	for (d = 0; d <= depth; d++)
		for (i = 0; i < FRAME_BYTES; i += 64)
			sum += (unsigned char)(d + i);
	return sum;
}

/* The [stack] mapping of this process. */
static bool find_stack(unsigned long *start, unsigned long *end)
{
	char line[256];
	bool found = false;
	FILE *maps = fopen("/proc/self/maps", "r");

	if (!maps)
		return false;
	while (!found && fgets(line, sizeof(line), maps))
		found = strstr(line, "[stack]") && sscanf(line, "%lx-%lx", start, end) == 2;
	fclose(maps);
	return found;
}

static int __attribute__((format(printf, 2, 3)))
child_fail(const struct link *l, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "# exec_args link %u of %u (%u args, %u env): %s\n",
		l->gen, l->execs, l->nargs, l->nenv, msg);
	return 1;
}

/* argv[2]: the link's parameters. */
static bool parse_link(const char *s, struct link *l)
{
	return sscanf(s, "gen=%u,execs=%u,nargs=%u,nenv=%u,mean=%u,spread=%u,seed=%u",
		      &l->gen, &l->execs, &l->nargs, &l->nenv, &l->mean, &l->spread,
		      &l->seed) == 7;
}

/*
 * Exec link l->gen with ids gen .. gen + n - 1.  'args' and 'env' hold the
 * strings of the previous link (ids gen - 1 ..) or NULL for the first.
 */
static int exec_link(const struct link *l, char **args, char **env)
{
	char **argv = calloc(l->nargs + 4, sizeof(char *));
	char **envp = calloc(l->nenv + 1, sizeof(char *));
	char param[128];
	unsigned int i;

	if (!argv || !envp)
		return -ENOMEM;
	snprintf(param, sizeof(param), "gen=%u,execs=%u,nargs=%u,nenv=%u,mean=%u,spread=%u,seed=%u",
		 l->gen, l->execs, l->nargs, l->nenv, l->mean, l->spread, l->seed);
	argv[0] = "exec_args";
	argv[1] = CHILD_FLAG;
	argv[2] = param;
	for (i = 0; i < l->nargs; i++) {
		/* Keep the strings the previous link got; make the new last one. */
		if (args && i + 1 < l->nargs)
			argv[3 + i] = args[i + 1];
		else
			argv[3 + i] = make_string(l, 'A', l->gen + i);
		if (!argv[3 + i])
			return -ENOMEM;
	}
	for (i = 0; i < l->nenv; i++) {
		if (env && i + 1 < l->nenv)
			envp[i] = env[i + 1];
		else
			envp[i] = make_string(l, 'E', l->gen + i);
		if (!envp[i])
			return -ENOMEM;
	}
	execve(EXEC_PATH, argv, envp);
	return -errno;
}

/* A link of the chain: check everything, then exec the next link. */
static int child_main(int argc, char **argv, char **envp)
{
	unsigned long stack_start, stack_end;
	char why[160];
	const char *execfn;
	struct link l;
	unsigned int i, n;
	volatile char *buf;
	int err;

	if (argc < 3 || !parse_link(argv[2], &l)) {
		fprintf(stderr, "# exec_args: bad child parameters\n");
		return 1;
	}
	self_mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (self_mem < 0)
		return child_fail(&l, "cannot open /proc/self/mem: %s", strerror(errno));
	if ((unsigned int)argc != 3 + l.nargs)
		return child_fail(&l, "argc %d, expected %u", argc, 3 + l.nargs);
	for (n = 0; envp[n]; n++)
		;
	if (n != l.nenv)
		return child_fail(&l, "%u environment strings, expected %u", n, l.nenv);
	for (i = 0; i < l.nargs; i++)
		if (!check_string(&l, 'A', l.gen + i, argv[3 + i], why, sizeof(why)))
			return child_fail(&l, "argv[%u]: %s", 3 + i, why);
	for (i = 0; i < l.nenv; i++)
		if (!check_string(&l, 'E', l.gen + i, envp[i], why, sizeof(why)))
			return child_fail(&l, "envp[%u]: %s", i, why);
	execfn = (const char *)getauxval(AT_EXECFN);
	if (!execfn || strcmp(execfn, EXEC_PATH))
		return child_fail(&l, "AT_EXECFN is '%s', not '%s'", execfn ?: "(none)", EXEC_PATH);

	/* The strings and this frame lie in the one [stack] mapping. */
	if (!find_stack(&stack_start, &stack_end))
		return child_fail(&l, "no [stack] in /proc/self/maps");
	if ((unsigned long)argv[0] < stack_start || (unsigned long)execfn >= stack_end ||
	    (unsigned long)&why < stack_start || (unsigned long)envp[0] >= stack_end)
		return child_fail(&l, "outside [stack] %#lx-%#lx: argv[0] %p, execfn %p, frame %p",
				  stack_start, stack_end, argv[0], execfn, why);

	/* The stack keeps working below the shifted arguments. */
	if (recurse(FRAME_DEPTH) != recurse_expected(FRAME_DEPTH))
		return child_fail(&l, "recursion of %u frames: checksum mismatch", FRAME_DEPTH);
	n = ALLOCA_BYTES + (l.gen % 8) * 4096;
	buf = alloca(n);
	for (i = 0; i < n; i += 4096)
		buf[i] = (char)(i >> 12);
	for (i = 0; i < n; i += 4096)
		if (buf[i] != (char)(i >> 12))
			return child_fail(&l, "alloca(%u) at %p lost the write at offset %#x",
					  n, buf, i);

	if (l.gen + 1 == l.execs)
		return 0;
	l.gen++;
	err = exec_link(&l, argv + 3, envp);
	return child_fail(&l, "exec of the next link failed: %s", strerror(-err));
}

/* ---------------------------------------------------------------------- */

/*
 * A chain of re-execs whose argv + envp add up to one size class; the kernel
 * log is read from /dev/kmsg, starting at the end it had before the chain.
 */
FIXTURE(exec_chain) {
	int kmsg;
};

/* One axis: the size of argv + envp. */
FIXTURE_VARIANT(exec_chain) {
	size_t total;		/* bytes of strings, at most about */
	unsigned int mean;	/* mean payload length */
	unsigned int spread;	/* payload lengths are mean +- spread */
	unsigned int execs;	/* links in the chain */
};

FIXTURE_VARIANT_ADD(exec_chain, small) {
	.total = 16 * KB,
	.mean = 200,
	.spread = 200,		/* empty payloads too */
	.execs = 40,
};

FIXTURE_VARIANT_ADD(exec_chain, size_1m) {
	.total = 1 * MB,
	.mean = 40 * KB,
	.spread = 5 * KB,
	.execs = 40,
};

FIXTURE_VARIANT_ADD(exec_chain, size_3m) {
	.total = 3 * MB,
	.mean = 48 * KB,
	.spread = 6 * KB,
	.execs = 25,
};

FIXTURE_VARIANT_ADD(exec_chain, size_5m) {
	.total = 5 * MB,
	.mean = 48 * KB,
	.spread = 6 * KB,
	.execs = 20,
};

/*
 * 6 MB is as much as exec accepts whatever the rlimit (3/4 of _STK_LIM,
 * pointers included): stay a little below it.
 */
FIXTURE_VARIANT_ADD(exec_chain, size_6m) {
	.total = 6 * MB - 128 * KB,
	.mean = 48 * KB,
	.spread = 6 * KB,
	.execs = 20,
};

FIXTURE_SETUP(exec_chain)
{
	self->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, self->kmsg) TH_LOG("open /dev/kmsg: %s", strerror(errno));
	ASSERT_LE(0, lseek(self->kmsg, 0, SEEK_END));
}

FIXTURE_TEARDOWN(exec_chain)
{
	close(self->kmsg);
}

/* Count the kernel log records since setup that report a WARNING or a BUG, logging them. */
static int kernel_splats(struct __test_metadata *_metadata, int kmsg)
{
	char rec[1024];
	int splats = 0;
	ssize_t n;

	for (;;) {
		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten records: go on */
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		if (strstr(rec, "WARNING:") || strstr(rec, "BUG:")) {
			rec[strcspn(rec, "\n")] = '\0';
			TH_LOG("kernel log: %s", rec);
			splats++;
		}
	}
	return splats;
}

/* Every link of a re-exec chain gets all its argv/envp strings intact and a working stack, and the kernel logs no WARNING or BUG. */
TEST_F_TIMEOUT(exec_chain, strings_and_stack_survive, 120)
{
	struct rlimit rl = { .rlim_cur = STACK_RLIMIT, .rlim_max = STACK_RLIMIT };
	struct link l = {
		.gen = 0,
		.execs = variant->execs,
		.mean = variant->mean,
		.spread = variant->spread,
		.seed = SEED + variant->execs,
	};
	int status;
	pid_t pid;

	/* Each string costs its payload plus a header of about 30 bytes. */
	l.nargs = variant->total / 2 / (variant->mean + 30);
	l.nenv = variant->total / 2 / (variant->mean + 30);
	ASSERT_EQ(0, getrlimit(RLIMIT_STACK, &rl));
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < STACK_RLIMIT)
		SKIP(return, "RLIMIT_STACK hard limit %lu is below %lu",
		     (unsigned long)rl.rlim_max, STACK_RLIMIT);
	rl.rlim_cur = STACK_RLIMIT;
	ASSERT_EQ(0, setrlimit(RLIMIT_STACK, &rl)) TH_LOG("setrlimit: %s", strerror(errno));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int err = exec_link(&l, NULL, NULL);

		fprintf(stderr, "# exec_args: first exec failed: %s\n", strerror(-err));
		_exit(1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("chain of %u execs with %u + %u strings (~%zu bytes) failed: status %#x",
		       l.execs, l.nargs, l.nenv, variant->total, status);
	EXPECT_EQ(0, kernel_splats(_metadata, self->kmsg));
}

int main(int argc, char **argv, char **envp)
{
	if (argc > 1 && !strcmp(argv[1], CHILD_FLAG))
		return child_main(argc, argv, envp);
	return test_harness_run(argc, argv);
}
