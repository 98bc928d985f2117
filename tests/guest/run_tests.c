// SPDX-License-Identifier: GPL-2.0
/*
 * Run the guest test suite listed in tests.list and skipped.list, print KTAP.
 *
 * Usage: run_tests [-o FILE] [-L LIST] [--list] [PATTERN]
 *   PATTERN   run only the tests whose name contains it (shell glob allowed)
 *   -o FILE   also write the KTAP to FILE (the host parses it from there)
 *   -L LIST   read the tests from LIST instead of tests.list and
 *             skipped.list (commands still relative to /tests)
 *   --list    print the test names and exit
 *
 * Each test runs in a process group of its own under a timeout (SIGKILL to
 * the group, "# TIMEOUT"); its output is nested two spaces deep (a kselftest
 * harness's TAP becomes a KTAP subtest).  A test that leaves a kernel
 * splat in the kernel log fails, with the splat and its class shown.  The
 * markers and their classes are the host's (scripts/run/splat-markers.h):
 * WARNING, BUG, exception, panic, hung task, soft lockup, RCU stall, OOM
 * kill, and host exhaustion (UML could not map the test's memory on the
 * host, which killed it: said as its cause, with the likely reasons).
 *
 * Tests named series/NAME check behaviour the series changes.  On the base
 * kernel (SANDBOX_KERNEL=base on the kernel command line) they must fail: a
 * failure is reported as "ok ... # XFAIL", a pass as "not ok ... # XPASS"
 * (the test would not tell the kernels apart), and their splats are
 * expected.  The last line counts the splats that were not: the host fails
 * on those.
 *
 * In C, not in the shell: under UML every program started costs ~25 ms, and
 * the shell runner started six of them around each test (timeout, awk,
 * dmesg, grep...), 0.45 s around a single one.  Here the kernel log is read
 * with syslog(2) and nothing but the test is started.
 *
 * Exit codes: 0 all passed or skipped, 1 a test failed, 64 bad usage or a
 * pattern that matches no test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TESTS	256
#define MAX_WORDS	32
#define LOG_MAX		(1 << 20)

#include "../../scripts/run/splat-markers.h"

/* Kernel log lines that mean the kernel itself went wrong, and their class. */
static const struct {
	const char *text, *class;
} markers[] = {
#define MARKER(text, class) { text, class },
	SPLAT_MARKERS(MARKER)
#undef MARKER
};

struct test {
	char *name;
	char *timeout;		/* seconds, or NULL: skipped */
	char *words[MAX_WORDS];	/* the command, or the reason to skip */
	int nwords;
};

static struct test tests[MAX_TESTS];
static int ntests;
static int out_fd = -1;
static bool timed_out;	/* run() killed its test at the timeout */
static char klog[LOG_MAX + 1];

static void usage(void)
{
	fputs("Usage: run_tests [-o FILE] [-L LIST] [--list] [PATTERN]\n"
	      "  PATTERN   run only the tests whose name contains it (shell glob allowed)\n"
	      "  -o FILE   also write the KTAP to FILE (the host parses it from there)\n"
	      "  -L LIST   the tests of LIST instead of tests.list and skipped.list\n"
	      "  --list    print the test names and exit\n", stderr);
	exit(64);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= w;
	}
}

/* One line of KTAP, to the console and to the results file. */
static void emit(const char *fmt, ...)
{
	char line[4200];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	write_all(STDOUT_FILENO, line, n);
	if (out_fd >= 0)
		write_all(out_fd, line, n);
}

/*
 * The lines of @file that select: "NAME TIMEOUT COMMAND..." (tests.list) or
 * "NAME REASON..." (@skipped, skipped.list), split on blanks.  Stress tests
 * take minutes: only a pattern that names them runs them (series/ must not
 * pull in series/stress-*).
 */
static void read_list(const char *file, const char *pattern, bool skipped)
{
	char *glob = NULL, *line = NULL, *w;
	size_t cap = 0;
	FILE *f = fopen(file, "r");

	if (!f) {
		if (skipped)
			return;
		fprintf(stderr, "run_tests: %s: %s\n", file, strerror(errno));
		exit(64);
	}
	if (asprintf(&glob, "*%s*", pattern) < 0)
		exit(64);
	while (getline(&line, &cap, f) > 0) {
		struct test *t = &tests[ntests];
		char *save, *copy;

		copy = strdup(line);
		w = strtok_r(copy, " \t\n", &save);
		if (!w || *w == '#' || fnmatch(glob, w, 0)) {
			free(copy);
			continue;
		}
		if (ntests == MAX_TESTS) {
			fprintf(stderr, "run_tests: more than %d tests\n", MAX_TESTS);
			exit(64);
		}
		t->name = w;
		if (!skipped)
			t->timeout = strtok_r(NULL, " \t\n", &save);
		while (t->nwords < MAX_WORDS - 1 && (w = strtok_r(NULL, " \t\n", &save)))
			t->words[t->nwords++] = w;
		if (strstr(t->name, "/stress-") && !strstr(pattern, "stress")) {
			t->timeout = NULL;
			t->nwords = 0;
			if (asprintf(&t->words[t->nwords++],
				     "slow: run by make stress (or --test %s)", t->name) < 0)
				exit(64);
		}
		if (t->timeout && !strcmp(t->timeout, "SKIP"))
			t->timeout = NULL;
		ntests++;
	}
	free(line);
	free(glob);
	fclose(f);
}

static void join(char *buf, size_t len, char *const *words, int n)
{
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++)
		off += snprintf(buf + off, len - off, "%s%s", i ? " " : "", words[i]);
}

/*
 * The kernel log as dmesg prints it (without the <level> prefixes), cleared
 * with @clear; in klog, NUL-terminated.
 */
static char *read_klog(bool clear)
{
	int n = klogctl(clear ? 4 : 3, klog, LOG_MAX);	/* READ_CLEAR, READ_ALL */
	char *src, *dst;

	if (n < 0)
		n = 0;
	klog[n] = '\0';
	for (src = dst = klog; *src;) {
		if (*src == '<') {
			char *end = strchr(src, '>');

			if (end && end - src <= 4)
				src = end + 1;
		}
		while (*src && *src != '\n')
			*dst++ = *src++;
		if (*src)
			*dst++ = *src++;
	}
	*dst = '\0';
	return klog;
}

/* A line without its leading and trailing blanks, as the shell's read. */
static const char *trim(char *line)
{
	char *end = line + strlen(line);

	while (*line == ' ' || *line == '\t')
		line++;
	while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return line;
}

/* The class of the splat marker in @line, or NULL: the first that matches. */
static const char *splat_class(const char *line)
{
	size_t i;

	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
		if (strstr(line, markers[i].text))
			return markers[i].class;
	return NULL;
}

static bool is_splat(const char *line)
{
	return splat_class(line);
}


/* The next line of *@p into @buf (cut at @len - 1 bytes), or NULL at the end. */
static char *next_line(const char **p, char *buf, size_t len)
{
	const char *s = *p, *e = strchrnul(s, '\n');
	size_t n = e - s;

	if (!*s)
		return NULL;
	if (n > len - 1)
		n = len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*p = *e ? e + 1 : e;
	return buf;
}

/* The number of lines of @log that are splats. */
static int count_splats(const char *log)
{
	char line[4096];
	int count = 0;

	while (next_line(&log, line, sizeof(line)))
		count += is_splat(line);
	return count;
}

/* The class of the first splat of @log, or NULL. */
static const char *first_class(const char *log)
{
	char line[4096];
	const char *class;

	while (next_line(&log, line, sizeof(line)))
		if ((class = splat_class(line)))
			return class;
	return NULL;
}

/*
 * Print @header, then at most @max lines of @log, trimmed: with @context >= 0
 * each splat line and the @context lines after it, groups apart by "--"
 * (grep -A); with @context < 0 every line from the first (head -n).
 */
static void show_log(const char *log, const char *header, int context, int max)
{
	char line[4096];
	int shown = 0, after = -1;

	emit("%s", header);
	while (shown < max && next_line(&log, line, sizeof(line))) {
		if (context >= 0) {
			if (is_splat(line)) {
				if (after < 0 && shown) {
					emit("#   --");
					if (++shown == max)
						break;
				}
				after = context;
			} else if (after-- <= 0) {
				continue;
			}
		}
		emit("#   %s", trim(line));
		shown++;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Run @t with stdin from /dev/null and its output, two spaces in, to the
 * console and the results file; kill its group after its timeout.  Returns
 * its status as the shell's $? (137 when killed).
 */
static int run(const struct test *t)
{
	char *argv[MAX_WORDS + 1], prog[4096], buf[4096], line[4096];
	double deadline = now() + atof(t->timeout);
	size_t used = 0;
	int pipefd[2], status = 0, i;
	bool exited = false;
	pid_t pid;

	timed_out = false;
	if (!t->nwords) {
		emit("  run_tests: %s has no command in tests.list", t->name);
		return 127;
	}
	snprintf(prog, sizeof(prog), "./%s", t->words[0]);
	argv[0] = prog;
	for (i = 1; i < t->nwords; i++)
		argv[i] = t->words[i];
	argv[t->nwords] = NULL;
	if (pipe2(pipefd, O_CLOEXEC))
		return 126;
	pid = fork();
	if (pid < 0)
		return 126;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(null, STDIN_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		signal(SIGPIPE, SIG_DFL);
		execv(prog, argv);
		fprintf(stderr, "run_tests: %s: %s\n", prog, strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	setpgid(pid, pid);
	close(pipefd[1]);
	for (;;) {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		double left = deadline - now();
		ssize_t n;

		if (left <= 0) {
			timed_out = true;
			kill(-pid, SIGKILL);
			deadline = now() + 3600;
		}
		/* Awake every 0.1 s: the test may end with no last word. */
		if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
			exited = true;
			/* What it left behind would hold the pipe open. */
			kill(-pid, SIGKILL);
		}
		if (poll(&p, 1, left > 0.1 ? 100 : (left > 0 ? (int)(left * 1000) + 1 : 100)) <= 0)
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				line[used++] = buf[i];
				if (used < sizeof(line) - 1)
					continue;
			}
			line[used] = '\0';
			emit("  %s", line);
			used = 0;
		}
	}
	if (used) {
		line[used] = '\0';
		emit("  %s", line);
	}
	close(pipefd[0]);
	if (!exited)
		waitpid(pid, &status, 0);
	kill(-pid, SIGKILL);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	const char *pattern = "", *out = "/dev/null", *kernel = getenv("SANDBOX_KERNEL");
	const char *list_file = NULL;
	int i, n, failed = 0, unexpected;
	bool list = false;
	char *dir;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o")) {
			if (++i == argc)
				usage();
			out = argv[i];
		} else if (!strcmp(argv[i], "-L")) {
			if (++i == argc)
				usage();
			list_file = argv[i];
		} else if (!strcmp(argv[i], "--list")) {
			list = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage();
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "run_tests: unknown option '%s'\n", argv[i]);
			usage();
		} else {
			pattern = argv[i];
		}
	}
	dir = strdup(argv[0]);
	if (chdir(dirname(dir))) {
		perror("run_tests: chdir");
		return 64;
	}
	if (list_file) {
		read_list(list_file, pattern, false);
	} else {
		read_list("./tests.list", pattern, false);
		/* Tests that cannot run here: reported, never dropped nor passed. */
		read_list("./skipped.list", pattern, true);
	}
	if (!ntests) {
		fprintf(stderr, "run_tests: no test matches '%s'; see the names with --list\n", pattern);
		return 64;
	}
	if (list) {
		char reason[4096];

		for (i = 0; i < ntests; i++) {
			join(reason, sizeof(reason), tests[i].words, tests[i].nwords);
			if (tests[i].timeout)
				printf("%s\n", tests[i].name);
			else
				printf("%s (skipped: %s)\n", tests[i].name, reason);
		}
		return 0;
	}
	out_fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	signal(SIGPIPE, SIG_IGN);
	emit("KTAP version 1");
	emit("1..%d", ntests);
	/* Splats already in the log (from boot) are nobody's XFAIL. */
	unexpected = count_splats(read_klog(false));
	if (unexpected)
		show_log(klog, "# kernel splat before the first test:", 20, 40);
	/* Each test's kernel messages: the log is cleared after each. */
	klogctl(5, NULL, 0);	/* CLEAR */
	for (n = 1; n <= ntests; n++) {
		const struct test *t = &tests[n - 1];
		const char *result, *directive = "";
		char reason[4096], header[512];
		const char *class;
		int status, cs, splat;
		double start;

		if (!t->timeout) {
			join(reason, sizeof(reason), t->words, t->nwords);
			emit("ok %d %s # SKIP %s", n, t->name, reason);
			continue;
		}
		start = now();
		status = run(t);
		cs = (int)((now() - start) * 100);
		emit("# %s: exit %d in %d.%02d s", t->name, status, cs / 100, cs % 100);
		/* The first 60 lines of the test's log when it has a splat. */
		splat = count_splats(read_klog(true));
		class = splat ? first_class(klog) : NULL;
		if (splat) {
			snprintf(header, sizeof(header), "# %s: kernel splat in the log, class: %s",
				 t->name, class ? class : "unknown");
			show_log(klog, header, -1, 60);
		}
		/* Killed by UML, not by a bug of its own: say why. */
		if (class && !strcmp(class, "host exhaustion"))
			emit("# %s: cause: host exhaustion: UML could not map the test's memory on the host (exit %d); the host's vm.max_map_count or its memory ran out",
			     t->name, status);
		if (status == 137 && timed_out) {
			result = "not ok";
			snprintf(reason, sizeof(reason), " # TIMEOUT after %s s", t->timeout);
			directive = reason;
		} else if (status == 4 && !splat) {
			result = "ok";
			directive = " # SKIP the test skipped itself (exit 4)";
		} else if (status == 0 && !splat) {
			result = "ok";
		} else {
			result = "not ok";
		}
		if (kernel && !strcmp(kernel, "base") && !strncmp(t->name, "series/", 7)) {
			if (strcmp(result, "ok")) {
				result = "ok";
				directive = " # XFAIL fails without the series, as it should";
				splat = 0;
			} else if (!*directive) {
				result = "not ok";
				directive = " # XPASS passes without the series: it cannot tell the kernels apart";
			}
		}
		if (splat)
			unexpected++;
		if (strcmp(result, "ok"))
			failed++;
		emit("%s %d %s%s", result, n, t->name, directive);
	}
	emit("# unexpected kernel splats: %d", unexpected);
	return failed ? 1 : 0;
}
