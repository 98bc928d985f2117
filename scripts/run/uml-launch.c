// SPDX-License-Identifier: GPL-2.0
/*
 * Start one UML guest and carry its output: run-uml.sh's plumbing, in one process.
 *
 * Usage: uml-launch [-A] [-v] [-c CMD] [-l LINK] [-m LOG_MAX] [-r RESULTS_MAX]
 *                   [-t SECONDS] DIR LOG -- KERNEL [ARG...]
 *
 * Creates DIR (mode 0700, it must not exist) and DIR/scratch, writes CMD
 * into DIR/scratch/cmd (-c) and points the symlink LINK at LOG's name (-l).
 * Then starts KERNEL in a session of its own with TMPDIR=DIR and the host's
 * ASLR off (the personality; -A keeps it, and a refused personality is
 * ignored), its stdin ours, and three pipes, read here:
 *   fd 1, the guest's console:  to our stdout and to LOG
 *   fd 2, the kernel's console: to LOG (and our stderr with -v)
 *   fd 4, the results line:     to DIR/results, at most RESULTS_MAX bytes
 * LOG takes at most LOG_MAX bytes past its end at the start; the rest of
 * every stream is read and dropped (a full pipe would hang the guest).
 *
 * Once the kernel has exited, its process group is killed (every guest
 * process is a host process in it) and waited for, and DIR/launch.status
 * says what happened, a line each:
 *   kernel-exit N     the kernel's status as a shell gives it (128+signal)
 *   timed-out         -t SECONDS passed; the group was killed then
 *   log-cut           LOG reached LOG_MAX and was cut there
 *   results-cut       the results line passed RESULTS_MAX
 *   splat-markers     LOG holds a marker of a kernel splat (splat-markers.h):
 *                     splat-class has something to classify
 *
 * run-uml.sh waits for this, then gives the verdict: in bash, each of
 * these steps was a program of its own (mkdir, ln, stat, head, tee,
 * setarch, setsid, sleep, splat-class), ~5 ms each on a small machine,
 * half the cost of 'run-uml.sh -- true'.
 *
 * SIGTERM or SIGINT: the group is killed and waited for, and we exit
 * 128+signal.  When our parent (run-uml.sh) dies first, killed so that it
 * could not clean up, the group is killed and DIR removed.
 *
 * Exit codes: 0 the kernel ran (its status is in DIR/launch.status),
 * 1 it could not be started (said why; DIR is not left), 2 usage, 3 the
 * kernel ran but launch.status could not be written (said why).
 */
#define _GNU_SOURCE	/* memmem */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../include/host-util.h"
#include "splat-markers.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __noreturn __attribute__((noreturn))

/* The kernel's descriptor of the results line (ssl1=null,fd:4). */
#define RESULTS_FD 4
/* How long the group may take to die once killed. */
#define GONE_MS 2000

const char *host_prog = "uml-launch";

enum { OUT, ERR, RES, NSTREAMS };

/* Longer lines go to the log in pieces. */
#define LINE_MAX_LOG 65536

struct stream {
	int fd;			/* read end, -1 at EOF */
	int kernel_fd;		/* the kernel's descriptor */
	char *part;		/* the line begun, not yet in the log */
	size_t len;
};

static struct stream streams[NSTREAMS] = {
	[OUT] = { -1, STDOUT_FILENO },
	[ERR] = { -1, STDERR_FILENO },
	[RES] = { -1, RESULTS_FD },
};

/* What a run writes, and how much of it may be kept. */
struct sink {
	int fd;
	long long left;		/* bytes it may still take */
	int cut;		/* something was dropped */
};

static struct sink log_sink, res_sink;
static int to_stdout = 1;	/* until our stdout fails */
static int verbose;

static const char *dir;
static int made_dir;		/* dir is ours: remove it on a failure */
static pid_t kernel_pid;
static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t got_signal, parent_gone;

static void remove_dir(void);

/* A failure before the kernel runs: said, and no directory left. */
static void __printf(1, 2) __noreturn fatal(const char *fmt, ...)
{
	va_list ap;

	if (made_dir)
		remove_dir();

	fprintf(stderr, "%s: error: ", host_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __noreturn usage(void)
{
	fprintf(stderr,
		"Usage: %s [-A] [-v] [-c CMD] [-l LINK] [-m LOG_MAX] [-r RESULTS_MAX]\n"
		"       %*s [-t SECONDS] DIR LOG -- KERNEL [ARG...]\n",
		host_prog, (int)strlen(host_prog), "");
	exit(2);
}

static long long number(const char *opt, const char *s)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *end || n < 0) {
		fprintf(stderr, "%s: %s takes a number of bytes or seconds, not '%s'\n",
			host_prog, opt, s);
		usage();
	}
	return n;
}

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;
	ssize_t w;

	if (sig == SIGUSR1)
		parent_gone = 1;
	else if (sig != SIGCHLD)
		got_signal = sig;
	/* A wake-up of the poll; a full pipe has one pending already. */
	w = write(sig_pipe[1], &c, 1);
	(void)w;
	errno = saved;
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Keep what the sink may take of BUF; drop the rest, and say so. */
static void sink_write(struct sink *s, const char *buf, size_t n)
{
	size_t keep = n;

	if ((long long)keep > s->left) {
		keep = (size_t)s->left;
		s->cut = 1;
	}
	if (keep && s->fd >= 0) {
		if (write_all(s->fd, buf, keep) < 0) {
			fprintf(stderr, "%s: warning: writing the run's output: %s\n",
				host_prog, strerror(errno));
			close(s->fd);
			s->fd = -1;
		}
	}
	s->left -= (long long)keep;
}

/*
 * Stream I's BUF into the log, whole lines only: the guest's console and
 * the kernel's both go there, and a line of one must not cut one of the
 * other in two (splat-class reads the log line by line).  What follows
 * the last newline waits for the rest of its line, or the stream's end
 * (N == 0).
 */
static void log_lines(int i, const char *buf, size_t n)
{
	struct stream *st = &streams[i];
	const char *nl;

	if (!st->part) {
		st->part = malloc(LINE_MAX_LOG);
		if (!st->part) {
			sink_write(&log_sink, buf, n);
			return;
		}
	}
	while (n) {
		size_t take = LINE_MAX_LOG - st->len;

		if (take > n)
			take = n;
		memcpy(st->part + st->len, buf, take);
		st->len += take;
		buf += take;
		n -= take;
		nl = memrchr(st->part, '\n', st->len);
		if (nl) {
			size_t whole = (size_t)(nl - st->part) + 1;

			sink_write(&log_sink, st->part, whole);
			memmove(st->part, st->part + whole, st->len - whole);
			st->len -= whole;
		} else if (st->len == LINE_MAX_LOG) {
			sink_write(&log_sink, st->part, st->len);
			st->len = 0;
		}
	}
}

/* The rest of stream I's last line, at its end. */
static void log_rest(int i)
{
	struct stream *st = &streams[i];

	if (st->len)
		sink_write(&log_sink, st->part, st->len);
	st->len = 0;
}

/* One read of stream I, passed on; false at its end. */
static int pump(int i)
{
	char buf[65536];
	ssize_t n = read(streams[i].fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (n <= 0) {
		close(streams[i].fd);
		streams[i].fd = -1;
		if (i != RES)
			log_rest(i);
		return 0;
	}
	switch (i) {
	case OUT:
		/* A reader gone (a closed pipe) stops the copy, not the run. */
		if (to_stdout && write_all(STDOUT_FILENO, buf, (size_t)n) < 0)
			to_stdout = 0;
		log_lines(i, buf, (size_t)n);
		break;
	case ERR:
		if (verbose && write_all(STDERR_FILENO, buf, (size_t)n) < 0)
			verbose = 0;
		log_lines(i, buf, (size_t)n);
		break;
	case RES:
		sink_write(&res_sink, buf, (size_t)n);
		break;
	}
	return 1;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * Kill the kernel's process group and wait until none of it is left (or
 * GONE_MS passed): no guest process may outlive the run.  Reaps the
 * kernel on the way; its status goes to *STATUS when that is not NULL.
 */
static void kill_group(int *status)
{
	long long end = now_ms() + GONE_MS;
	int st;

	if (kernel_pid <= 0)
		return;
	kill(-kernel_pid, SIGKILL);
	if (waitpid(kernel_pid, &st, 0) == kernel_pid && status)
		*status = st;
	while (kill(-kernel_pid, 0) == 0 && now_ms() < end) {
		struct timespec t = { 0, 10 * 1000000 };

		nanosleep(&t, NULL);
	}
	kernel_pid = 0;
}

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* rm -rf DIR, without following the guest's symlinks. */
static void remove_dir(void)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Does LOG hold a splat marker anywhere?  splat-class only finds splats at
 * a marker, so without one it has nothing to say and need not run.
 */
static int has_splat_marker(const char *log)
{
	static const char *const texts[] = {
#define MARKER_TEXT(text, class) text,
		SPLAT_MARKERS(MARKER_TEXT)
#undef MARKER_TEXT
	};
	struct stat st;
	int fd = open(log, O_RDONLY | O_CLOEXEC), found = 0;
	size_t i;
	void *p;

	/* Unreadable: let splat-class look (and say why). */
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (st.st_size == 0) {
		close(fd);
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return 1;
	for (i = 0; i < ARRAY_SIZE(texts) && !found; i++)
		found = memmem(p, (size_t)st.st_size, texts[i], strlen(texts[i])) != NULL;
	munmap(p, (size_t)st.st_size);
	return found;
}

/* A new file PATH holding TEXT; false (said why) when it could not be. */
static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || close(fd) < 0) {
		fprintf(stderr, "%s: error: %s: %s\n", host_prog, path, strerror(errno));
		return 0;
	}
	return 1;
}

/* LINK -> LOG's base name, replaced in one rename (as ln -sfn would). */
static void point_link(const char *link, const char *log)
{
	const char *base = strrchr(log, '/');
	char tmp[PATH_MAX];

	base = base ? base + 1 : log;
	if (snprintf(tmp, sizeof(tmp), "%s.%d", link, (int)getpid()) >= (int)sizeof(tmp))
		fatal("%s: name too long", link);
	unlink(tmp);
	if (symlink(base, tmp) < 0 || rename(tmp, link) < 0) {
		/* The convenience link only: the run goes on without it. */
		fprintf(stderr, "%s: warning: %s: %s\n", host_prog, link, strerror(errno));
		unlink(tmp);
	}
}

static void catch(int sig)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* In the child: the kernel's session, descriptors and personality. */
static void __noreturn exec_kernel(char **argv, int keep_aslr, int pipes[][2])
{
	int i, persona;

	setsid();
	for (i = 0; i < NSTREAMS; i++) {
		if (dup2(pipes[i][1], streams[i].kernel_fd) < 0)
			_exit(127);
	}
	for (i = 0; i < NSTREAMS; i++) {
		if (pipes[i][0] != streams[i].kernel_fd)
			close(pipes[i][0]);
		if (pipes[i][1] != streams[i].kernel_fd)
			close(pipes[i][1]);
	}
	/* As under GDB: a fixed brk, so no exec-shield gap becomes memory. */
	persona = personality(0xffffffff);
	if (!keep_aslr && persona != -1)
		personality((unsigned long)persona | ADDR_NO_RANDOMIZE);
	signal(SIGPIPE, SIG_DFL);
	execv(argv[0], argv);
	fprintf(stderr, "%s: error: %s: %s\n", host_prog, argv[0], strerror(errno));
	_exit(127);
}

#ifndef HOST_TOOL_NO_MAIN
/* What the command line asks for. */
struct options {
	const char *cmd, *link, *log;
	long long log_max, res_max, timeout;
	int keep_aslr;
	char **kernel_argv;	/* KERNEL ARGS..., after "--" */
};

/* The options, DIR and LOG (into dir and OPT); a bad one ends in usage(). */
static void parse_options(int argc, char **argv, struct options *opt)
{
	int c;

	while ((c = getopt(argc, argv, "+Avc:l:m:r:t:")) != -1) {
		switch (c) {
		case 'A':
			opt->keep_aslr = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'c':
			opt->cmd = optarg;
			break;
		case 'l':
			opt->link = optarg;
			break;
		case 'm':
			opt->log_max = number("-m", optarg);
			break;
		case 'r':
			opt->res_max = number("-r", optarg);
			break;
		case 't':
			opt->timeout = number("-t", optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 4 || strcmp(argv[optind + 2], "--"))
		usage();
	dir = argv[optind];
	opt->log = argv[optind + 1];
	opt->kernel_argv = argv + optind + 3;
}

/*
 * Our parent killed with SIGKILL cannot stop the guest: we do, told by
 * the kernel (and by getppid when it went before this).
 */
static void watch_signals(pid_t parent)
{
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal("pipe: %s", strerror(errno));
	catch(SIGCHLD);
	catch(SIGUSR1);
	catch(SIGTERM);
	/* run-uml.sh starts us in the background: INT is ignored then. */
	if (signal(SIGINT, SIG_IGN) != SIG_IGN)
		catch(SIGINT);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_PDEATHSIG, SIGUSR1);
	if (getppid() != parent)
		parent_gone = 1;
}

/* DIR, its scratch/ and the command; the log and the results opened. */
static void make_run_dir(const struct options *opt)
{
	char path[PATH_MAX];

	/* New, and ours alone: one already there is another run's. */
	if (mkdir(dir, 0700) < 0)
		fatal("%s: %s", dir, strerror(errno));
	made_dir = 1;
	snprintf(path, sizeof(path), "%s/scratch", dir);
	if (mkdir(path, 0700) < 0)
		fatal("%s: %s", path, strerror(errno));
	if (opt->cmd) {
		snprintf(path, sizeof(path), "%s/scratch/cmd", dir);
		if (!write_file(path, opt->cmd))
			fatal("the command could not be passed to the guest");
	}
	if (opt->link)
		point_link(opt->link, opt->log);

	log_sink.fd = open(opt->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (log_sink.fd < 0)
		fatal("%s: %s", opt->log, strerror(errno));
	log_sink.left = opt->log_max;
	snprintf(path, sizeof(path), "%s/results", dir);
	res_sink.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (res_sink.fd < 0)
		fatal("%s: %s", path, strerror(errno));
	res_sink.left = opt->res_max;
}

/* The kernel's three pipes, above its 0-4: no dup2 can land on another. */
static void make_pipes(int pipes[][2])
{
	int i, p[2];

	for (i = 0; i < NSTREAMS; i++) {
		if (pipe(p) < 0)
			fatal("pipe: %s", strerror(errno));
		pipes[i][0] = fcntl(p[0], F_DUPFD_CLOEXEC, 10);
		pipes[i][1] = fcntl(p[1], F_DUPFD, 10);
		close(p[0]);
		close(p[1]);
		if (pipes[i][0] < 0 || pipes[i][1] < 0)
			fatal("pipe: %s", strerror(errno));
	}
}

/* Fork the kernel; its pid in DIR/kernel.pid, its pipes' read ends ours. */
static void start_kernel(const struct options *opt, int pipes[][2])
{
	char path[PATH_MAX], line[64];
	int i;

	if (setenv("TMPDIR", dir, 1) < 0)
		fatal("setenv: %s", strerror(errno));
	kernel_pid = fork();
	if (kernel_pid < 0)
		fatal("fork: %s", strerror(errno));
	if (kernel_pid == 0) {
		close(sig_pipe[0]);
		close(sig_pipe[1]);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, 0);
		exec_kernel(opt->kernel_argv, opt->keep_aslr, pipes);
	}
	/*
	 * Its group's id, should we be killed: run-uml.sh stops the guest
	 * then.  From here on, DIR is the run's, and run-uml.sh removes it.
	 */
	made_dir = 0;
	snprintf(path, sizeof(path), "%s/kernel.pid", dir);
	snprintf(line, sizeof(line), "%d\n", (int)kernel_pid);
	write_file(path, line);
	/* Only the kernel holds the write ends now: EOF once it is gone. */
	for (i = 0; i < NSTREAMS; i++) {
		close(pipes[i][1]);
		streams[i].fd = pipes[i][0];
	}
}

/*
 * Copy the kernel's streams to the log and the results until it and its
 * pipes are gone, a signal comes, or the TIMEOUT (seconds, 0 none) is
 * up; its wait status in *STATUS, 1 when it timed out.
 */
static int supervise(long long timeout, int *status)
{
	long long deadline = timeout ? now_ms() + timeout * 1000 : 0;
	int i, exited = 0, timed_out = 0;

	for (;;) {
		struct pollfd pfd[NSTREAMS + 1];
		int n = 0, wait_ms = -1, open_streams = 0;

		if (got_signal || parent_gone)
			break;
		if (!exited && kernel_pid > 0 &&
		    waitpid(kernel_pid, status, WNOHANG) == kernel_pid) {
			exited = 1;
			/* Its processes too: the pipes' last writers. */
			kill_group(NULL);
		}
		for (i = 0; i < NSTREAMS; i++)
			open_streams += streams[i].fd >= 0;
		if (exited && !open_streams)
			break;
		pfd[n++] = (struct pollfd){ .fd = sig_pipe[0], .events = POLLIN };
		for (i = 0; i < NSTREAMS; i++)
			pfd[n++] = (struct pollfd){ .fd = streams[i].fd, .events = POLLIN };
		if (deadline && !timed_out) {
			long long left = deadline - now_ms();

			if (left <= 0) {
				timed_out = 1;
				kill_group(status);
				exited = 1;
				continue;
			}
			wait_ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		if (poll(pfd, (nfds_t)n, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			fatal("poll: %s", strerror(errno));
		}
		if (pfd[0].revents) {
			char drain[64];

			while (read(sig_pipe[0], drain, sizeof(drain)) > 0)
				;
		}
		/*
		 * The kernel's console first: at a panic, UML writes its
		 * log once more to stdout (kmsg_dump), and the call trace
		 * should come before that in the log, as it did on screen.
		 */
		for (i = NSTREAMS; i-- > 0;) {
			if (pfd[i + 1].revents)
				pump(i);
		}
	}
	return timed_out;
}

/* DIR/launch.status, for run-uml.sh: 0 written, 3 not. */
static int write_status(const char *log, int status, int timed_out)
{
	char path[PATH_MAX], line[256];

	snprintf(path, sizeof(path), "%s/launch.status", dir);
	snprintf(line, sizeof(line), "kernel-exit %d\n%s%s%s%s", WIFSIGNALED(status) ?
		 128 + WTERMSIG(status) : WEXITSTATUS(status),
		 timed_out ? "timed-out\n" : "", log_sink.cut ? "log-cut\n" : "",
		 res_sink.cut ? "results-cut\n" : "",
		 has_splat_marker(log) ? "splat-markers\n" : "");
	return write_file(path, line) ? 0 : 3;
}

int main(int argc, char **argv)
{
	struct options opt = { .log_max = 64 * MB, .res_max = 16 * MB };
	int pipes[NSTREAMS][2], status = 0, timed_out;
	pid_t parent = getppid();

	parse_options(argc, argv, &opt);
	watch_signals(parent);
	make_run_dir(&opt);
	make_pipes(pipes);
	start_kernel(&opt, pipes);
	timed_out = supervise(opt.timeout, &status);
	if (got_signal || parent_gone) {
		kill_group(NULL);
		if (parent_gone) {
			remove_dir();
			return 0;
		}
		return 128 + got_signal;
	}
	return write_status(opt.log, status, timed_out);
}
#endif /* HOST_TOOL_NO_MAIN */
