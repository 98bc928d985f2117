// SPDX-License-Identifier: GPL-2.0
/*
 * Tell whether anything a build depends on changed since its stamp: the
 * exact and cheap up-to-date check of make all and run-uml.sh.
 *
 * Usage: stale [-v] [-w] STAMP   (-w: walk, do not ask a watcher)
 *
 * STAMP lists one path per line: "watch PATH" is a file or a directory
 * tree that must not have changed since STAMP's mtime, "need PATH" a
 * product that must exist.  A file counts as changed when its mtime or
 * ctime is not older than the stamp (ctime catches an edit that kept an
 * old mtime); a directory too, which catches files created, removed or
 * renamed in it.  Trees are walked by two threads, without following
 * symbolic links and without entering .git or __pycache__ (which the
 * build never reads).  kbuild's own "nothing to do" takes ~9 s on a
 * 2-core machine; this walk of linux/'s 80000 files takes 0.2-0.5 s.
 *
 * Usage: stale -d STAMP
 *
 * After a build, watch the trees with inotify instead: in the background,
 * check them once as above and, when up to date, stay behind answering on
 * the socket STAMP.sock until the first change (then it exits, and the
 * next check walks).  A check asks it first; it reads every event queued before
 * the question, and inotify queues an event in the writing system call,
 * so "clean" covers every change made before the check.  The watcher ends
 * when STAMP is removed or rewritten.  Writes through mmap() raise no
 * event (nor an mtime until msync); editors and compilers do not use them.
 *
 * Usage: stale -l STAMP
 *
 * Walk, and print every file of the watched trees that changed, one path
 * a line, instead of stopping at the first: the input of kbuild-plan,
 * which decides whether a quick rebuild is exact.  A changed directory (a
 * file created, removed or renamed in it) is a line "+dir PATH".
 *
 * Exit codes: 0 stale (with -v the first reason on stdout), 1 up to
 * date, 2 bad usage or an unreadable stamp.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define NTHREADS 2

static struct timespec stamp;
static atomic_int found;
static char reason[4096];
static int list_all;	/* -l: print every changed file, do not stop */
static int listed;	/* -l: lines printed */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;

/* Directories still to be read, and how many threads are reading one. */
static char **queue;
static size_t queued, queue_cap;
static int busy;

/* The stamp's watched directories, walked or watched once all are read. */
static char **watched;
static size_t nwatched;

static int not_older(const struct timespec *t)
{
	return t->tv_sec > stamp.tv_sec ||
	       (t->tv_sec == stamp.tv_sec && t->tv_nsec >= stamp.tv_nsec);
}

static int changed(const struct stat *st)
{
	return not_older(&st->st_mtim) || not_older(&st->st_ctim);
}

/* -l: one line of the listing, TAG then PATH. */
static void list_line(const char *tag, const char *path)
{
	pthread_mutex_lock(&lock);
	printf("%s%s\n", tag, path);
	listed++;
	pthread_mutex_unlock(&lock);
}

/* Record the first reason only; every thread stops at the next check. */
static void report(const char *why, const char *path)
{
	char tag[64];

	if (list_all) {
		/* Listing: a line kbuild-plan takes as "cannot tell". */
		snprintf(tag, sizeof(tag), "!%s ", why);
		list_line(tag, path);
		return;
	}
	pthread_mutex_lock(&lock);
	if (!atomic_load(&found))
		snprintf(reason, sizeof(reason), "%s %s", why, path);
	atomic_store(&found, 1);
	pthread_cond_broadcast(&more);
	pthread_mutex_unlock(&lock);
}

static void push(char *dir)
{
	pthread_mutex_lock(&lock);
	if (queued == queue_cap) {
		queue_cap = queue_cap ? 2 * queue_cap : 256;
		queue = realloc(queue, queue_cap * sizeof(*queue));
		if (!queue) {
			perror("stale");
			exit(2);
		}
	}
	queue[queued++] = dir;
	pthread_cond_signal(&more);
	pthread_mutex_unlock(&lock);
}

static int skipped(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..") ||
	       !strcmp(name, ".git") || !strcmp(name, "__pycache__");
}

/* Check every entry of one directory; queue its subdirectories. */
static void scan(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char *sub;

	if (!d) {
		report("unreadable", dir);
		return;
	}
	while (!atomic_load(&found) && (e = readdir(d))) {
		if (skipped(e->d_name))
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
			/* Removed while we read: a change. */
			report("vanished", e->d_name);
			if (list_all)
				continue;
			break;
		}
		if (asprintf(&sub, "%s/%s", dir, e->d_name) < 0) {
			perror("stale");
			exit(2);
		}
		if (list_all) {
			if (changed(&st))
				list_line(S_ISDIR(st.st_mode) ? "+dir " : "", sub);
		} else if (changed(&st)) {
			report("changed", sub);
			free(sub);
			break;
		}
		if (S_ISDIR(st.st_mode))
			push(sub);
		else
			free(sub);
	}
	closedir(d);
}

static void *worker(void *arg)
{
	char *dir;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (!queued && busy && !atomic_load(&found))
			pthread_cond_wait(&more, &lock);
		if (!queued || atomic_load(&found)) {
			pthread_cond_broadcast(&more);
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		dir = queue[--queued];
		busy++;
		pthread_mutex_unlock(&lock);

		scan(dir);
		free(dir);

		pthread_mutex_lock(&lock);
		busy--;
		pthread_cond_broadcast(&more);
		pthread_mutex_unlock(&lock);
	}
}

/* One line of the stamp: a watched path is queued, a needed one checked. */
static void check_line(char *line)
{
	struct stat st;
	char *path;

	line[strcspn(line, "\n")] = '\0';
	if (!strncmp(line, "need ", 5)) {
		if (access(line + 5, F_OK))
			report("missing", line + 5);
		return;
	}
	if (strncmp(line, "watch ", 6)) {
		if (*line)
			report("bad stamp line:", line);
		return;
	}
	path = line + 6;
	if (lstat(path, &st)) {
		report("missing", path);
		return;
	}
	if (changed(&st)) {
		if (!list_all) {
			report("changed", path);
			return;
		}
		list_line(S_ISDIR(st.st_mode) ? "+dir " : "", path);
		if (!S_ISDIR(st.st_mode))
			return;
	}
	/* A watched file is checked here; a directory, after every line. */
	watched = realloc(watched, (nwatched + 1) * sizeof(*watched));
	if (!watched || !(watched[nwatched] = strdup(path))) {
		perror("stale");
		exit(2);
	}
	nwatched++;
}

static int walk(void)
{
	pthread_t threads[NTHREADS];
	struct stat st;
	size_t i;

	for (i = 0; i < nwatched; i++)
		if (!lstat(watched[i], &st) && S_ISDIR(st.st_mode))
			push(strdup(watched[i]));
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&threads[i], NULL, worker, NULL)) {
			perror("stale");
			exit(2);
		}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(threads[i], NULL);
	return atomic_load(&found);
}

/* --- the watcher ------------------------------------------------------- */

#define WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | \
		    IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

static int sock_path(struct sockaddr_un *sa, const char *stamp_path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	return snprintf(sa->sun_path, sizeof(sa->sun_path), "%s.sock",
			stamp_path) < (int)sizeof(sa->sun_path);
}

/* The stamp a watcher answers for: its inode and mtime. */
static void stamp_id(char *buf, size_t size, const struct stat *st)
{
	snprintf(buf, size, "clean %llu %lld.%09ld\n",
		 (unsigned long long)st->st_ino, (long long)st->st_mtim.tv_sec,
		 st->st_mtim.tv_nsec);
}

/* True when a watcher of this very stamp says nothing changed. */
static int ask_watcher(const char *stamp_path, const struct stat *st)
{
	struct sockaddr_un sa;
	struct pollfd p;
	char want[128], got[128];
	ssize_t n = 0, r;
	int fd;

	if (!sock_path(&sa, stamp_path))
		return 0;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	p.fd = fd;
	p.events = POLLIN;
	while (n < (ssize_t)sizeof(got) - 1 && poll(&p, 1, 2000) == 1) {
		r = read(fd, got + n, sizeof(got) - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	close(fd);
	got[n] = '\0';
	stamp_id(want, sizeof(want), st);
	return !strcmp(got, want);
}

static int add_watches(int ifd, const char *dir)
{
	struct dirent *e;
	char *sub;
	DIR *d;
	int ok = 1;

	if (inotify_add_watch(ifd, dir, WATCH_MASK | IN_ONLYDIR | IN_DONT_FOLLOW) < 0)
		return 0;
	d = opendir(dir);
	if (!d)
		return 0;
	while (ok && (e = readdir(d))) {
		struct stat st;

		if (skipped(e->d_name) || (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
			continue;
		if (asprintf(&sub, "%s/%s", dir, e->d_name) < 0)
			return 0;
		if (!lstat(sub, &st) && S_ISDIR(st.st_mode))
			ok = add_watches(ifd, sub);
		free(sub);
	}
	closedir(d);
	return ok;
}

/* Read the queued events; true when one of them is a change. */
static int drain(int ifd, int stamp_wd)
{
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;
	char *p;

	while ((n = read(ifd, buf, sizeof(buf))) > 0)
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW || ev->wd == stamp_wd)
				return 1;
			if (ev->mask & IN_IGNORED)
				continue;
			if (ev->len && skipped(ev->name))
				continue;
			return 1;
		}
	return n < 0 && errno != EAGAIN;
}

/* Answer checks until the first change, in a process of its own. */
static void serve(int ifd, int lfd, int stamp_wd, const char *id)
{
	struct pollfd p[2] = { { .fd = ifd, .events = POLLIN },
			       { .fd = lfd, .events = POLLIN } };
	int c;

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return;
		if (drain(ifd, stamp_wd))
			return;
		if (!(p[1].revents & POLLIN))
			continue;
		c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		/* Events of every write made before the connect are queued. */
		if (drain(ifd, stamp_wd)) {
			close(c);
			return;
		}
		if (write(c, id, strlen(id)) < 0)
			errno = 0;	/* the asker left: its loss */
		close(c);
	}
}

/*
 * Set the watcher up in a process of its own, so that the build it ends
 * does not wait for it: until it listens, a check walks.
 */
static int start_watcher(const char *stamp_path, const struct stat *st)
{
	struct sockaddr_un sa;
	char id[128];
	int ifd, lfd, wd, fd;
	size_t i;

	if (!sock_path(&sa, stamp_path))
		return 0;
	switch (fork()) {
	case -1:
		return 0;
	case 0:
		break;
	default:
		return 1;
	}
	/* Hold no descriptor of the caller: a lock, a pipe, a jobserver. */
	setsid();
	signal(SIGPIPE, SIG_IGN);
	for (fd = 3; fd < 1024; fd++)
		close(fd);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		_exit(0);
	wd = inotify_add_watch(ifd, stamp_path, IN_MODIFY | IN_ATTRIB |
			       IN_DELETE_SELF | IN_MOVE_SELF);
	if (wd < 0)
		_exit(0);
	for (i = 0; i < nwatched; i++) {
		struct stat ws;

		if (lstat(watched[i], &ws))
			_exit(0);
		if (S_ISDIR(ws.st_mode) ? !add_watches(ifd, watched[i]) :
		    inotify_add_watch(ifd, watched[i], WATCH_MASK | IN_DONT_FOLLOW) < 0)
			_exit(0);
	}
	/* Changes before the watches were in place: the walk sees them. */
	if (walk() || drain(ifd, wd))
		_exit(0);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		_exit(0);
	unlink(sa.sun_path);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 16))
		_exit(0);
	stamp_id(id, sizeof(id), st);
	serve(ifd, lfd, wd, id);
	_exit(0);
}

int main(int argc, char **argv)
{
	int verbose = 0, daemon = 0, walk_only = 0, opt;
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *f;

	while ((opt = getopt(argc, argv, "dlvw")) != -1) {
		switch (opt) {
		case 'd':
			daemon = 1;
			break;
		case 'l':
			list_all = walk_only = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'w':
			walk_only = 1;
			break;
		default:
			argc = 0;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "usage: stale [-v] [-w] STAMP | stale -d STAMP | stale -l STAMP\n");
		return 2;
	}
	argv += optind - 1;
	f = fopen(argv[1], "r");
	if (!f || fstat(fileno(f), &st)) {
		if (verbose)
			printf("no stamp %s\n", argv[1]);
		return errno == ENOENT ? 0 : 2;
	}
	stamp = st.st_mtim;
	while (!atomic_load(&found) && getline(&line, &cap, f) > 0)
		check_line(line);
	free(line);
	fclose(f);

	if (list_all) {
		walk();
		return listed ? 0 : 1;
	}
	if (daemon)
		return atomic_load(&found) || !start_watcher(argv[1], &st) ? 0 : 1;
	if (!atomic_load(&found) && !walk_only && ask_watcher(argv[1], &st)) {
		if (verbose)
			printf("up to date (watcher)\n");
		return 1;
	}
	if (atomic_load(&found) || walk()) {
		if (verbose)
			printf("%s\n", reason);
		return 0;
	}
	return 1;
}
