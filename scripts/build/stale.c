// SPDX-License-Identifier: GPL-2.0
/*
 * Tell whether anything a build depends on changed since its stamp: the
 * exact and cheap up-to-date check of make all and run-uml.sh.
 *
 * Usage: stale [-v] [-w] STAMP
 *
 * STAMP lists one path per line: "watch PATH" is a file or a directory
 * tree that must not have changed since STAMP's mtime, "need PATH" a
 * product that must exist.  A file counts as changed when its mtime or
 * ctime is not older than the stamp (ctime catches an edit that kept an
 * old mtime); a directory too, which catches files created, removed or
 * renamed in it.  The trees are walked by two threads (stale-walk.c):
 * ~0.2 s for linux/, against ~9 s for kbuild's own "nothing to do".
 *
 * So the answer comes from a watcher when one is there: a process that
 * watches the trees with inotify and answers on a socket of its own
 * (abstract, named after the stamp's inode) in ~1 ms.  The check asks it
 * first; it reads every event queued before the question, and inotify
 * queues an event in the writing system call, so its "clean" covers
 * every change made before the check, and its "stale" (after the first
 * change it keeps saying so) is what the walk would say.  With no
 * watcher, the check walks, and puts an inotify watch on each directory
 * before it reads it (a change after the watch is an event, one before
 * it is seen by the reading); when up to date, it leaves that watcher
 * behind.  -w: walk only, start nothing (SANDBOX_WATCH=0).
 *
 * The watcher holds nothing of its caller (its own session, "/" as its
 * directory, /dev/null as stdio, no other descriptor: a pipe the caller
 * reads to EOF, a lock or a jobserver is not kept open).  It ends on its
 * own after SANDBOX_WATCH_IDLE seconds (1800) without a question, and
 * when STAMP is removed, rewritten or replaced (make clean, the next
 * build).  It is not started, and the walk answers, when inotify is out
 * of watches or instances, when the trees need more than a quarter of
 * the user's watches, or when a tree is on a file system where other
 * machines may write (only ext2/3/4, xfs, btrfs, f2fs, tmpfs, overlay).
 * Not seen by a watcher (as by make): writes through a shared mmap(), and
 * writes through a hard link made from outside a tree after the watcher
 * started (a file linked in already is watched itself).
 *
 * Usage: stale -d STAMP
 *
 * After a build: the same walk and watcher in the background (the build
 * does not wait for it); until it answers, a check walks.
 *
 * Usage: stale [-v] -l [-a ASKSTAMP] STAMP
 *
 * Walk, and print every file of the watched trees that changed, one path
 * a line, instead of stopping at the first: the input of kbuild-plan,
 * which decides whether a quick rebuild is exact.  A changed directory (a
 * file created, removed or renamed in it) is a line "+dir PATH".
 *
 * With -a, the watcher of ASKSTAMP (make all's stamp, whose trees hold
 * STAMP's) lists them instead of the walk (~0.2 s for linux/): it keeps
 * every path an event named since it started, and STAMP's side checks
 * each with the walk's own rule, so the list is the walk's.  That holds
 * when ASKSTAMP is not newer than STAMP (the watcher then saw every
 * change since STAMP: its own walk found none before its watches).  A
 * directory created or moved into a tree (its files are not watched), a
 * watched directory gone or moved, more than MAX_CANDIDATES paths, or any
 * doubt, and the walk lists.  -v says on stderr which of the two did.
 *
 * Exit codes: 0 stale (with -v the first reason on stdout), 1 up to
 * date, 2 bad usage or an unreadable stamp.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "stale.h"

const char *host_prog = "stale";

struct timespec stamp;
const char *stamp_file;
struct stat stamp_st;
atomic_int found;
char reason[4096];
int list_all;
static int listed;	/* -l: lines printed */
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t more = PTHREAD_COND_INITIALIZER;
char **watched;
size_t nwatched;

static int not_older(const struct timespec *t)
{
	return t->tv_sec > stamp.tv_sec ||
	       (t->tv_sec == stamp.tv_sec && t->tv_nsec >= stamp.tv_nsec);
}

int changed(const struct stat *st)
{
	return not_older(&st->st_mtim) || not_older(&st->st_ctim);
}

/* -l: one line of the listing, TAG then PATH. */
void list_line(const char *tag, const char *path)
{
	pthread_mutex_lock(&lock);
	printf("%s%s\n", tag, path);
	listed++;
	pthread_mutex_unlock(&lock);
}

/* Record the first reason only; every thread stops at the next check. */
void report(const char *why, const char *path)
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

int skipped(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..") ||
	       !strcmp(name, ".git") || !strcmp(name, "__pycache__");
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
	watched = xrealloc(watched, (nwatched + 1) * sizeof(*watched));
	watched[nwatched++] = xstrdup(path);
}

/* The answer names the stamp it is for: device, inode, mtime, ctime. */
void stamp_id(char *buf, size_t size, const struct stat *st)
{
	snprintf(buf, size, "%llx %llu %lld.%09ld %lld.%09ld",
		 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

/*
 * An abstract socket (no file to remove, gone with its process), named
 * after the stamp's inode: the next build's stamp is a new inode, and a
 * second watcher of the same stamp cannot bind.
 */
socklen_t sock_name(struct sockaddr_un *sa, const struct stat *st,
		    const char *what)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1,
		     "mremap-sandbox-stale/%llx/%llu%s",
		     (unsigned long long)st->st_dev,
		     (unsigned long long)st->st_ino, what);
	return offsetof(struct sockaddr_un, sun_path) + 1 + n;
}

/* Connect to a watcher of this user: its socket, or -1. */
static int connect_watcher(const struct stat *st, const char *what)
{
	struct sockaddr_un sa;
	struct ucred cr;
	socklen_t crlen = sizeof(cr), len = sock_name(&sa, st, what);
	int fd;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, len) ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) ||
	    cr.uid != geteuid()) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The whole answer of the watcher of ST on its socket WHAT, at most MAX
 * bytes: NUL-terminated, its length in *LEN; NULL when no watcher
 * answers, or its answer is longer or does not end (2 s of silence).
 */
static char *read_answer(const struct stat *st, const char *what, size_t max,
			 size_t *len)
{
	struct pollfd p = { .events = POLLIN };
	size_t cap = 0, n = 0;
	ssize_t r = -1;
	char *buf = NULL;

	p.fd = connect_watcher(st, what);
	if (p.fd < 0)
		return NULL;
	while (n <= max) {
		if (n + 1 >= cap) {
			cap = cap ? 2 * cap : 4096;
			buf = xrealloc(buf, cap);
		}
		if (poll(&p, 1, 2000) != 1 || (r = read(p.fd, buf + n, cap - 1 - n)) <= 0)
			break;
		n += r;
	}
	close(p.fd);
	if (r) {	/* only the end of the stream ends the answer */
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * The watcher's answer GOT (N bytes, NUL-terminated) about the stamp of
 * identity ID: "clean ID" 1, "stale ID REASON" 0 (REASON into reason[]),
 * anything else -1.
 */
static int parse_answer(char *got, size_t n, const char *id)
{
	size_t idlen = strlen(id);

	/* One line, and no NUL in it: what follows a NUL would go unread. */
	if (!n || got[n - 1] != '\n' || strlen(got) != n)
		return -1;
	got[n - 1] = '\0';
	if (strlen(got) < 6 + idlen || strncmp(got + 6, id, idlen))
		return -1;
	if (!strncmp(got, "clean ", 6) && !got[6 + idlen])
		return 1;
	if (!strncmp(got, "stale ", 6) && got[6 + idlen] == ' ') {
		snprintf(reason, sizeof(reason), "%s", got + 7 + idlen);
		return 0;
	}
	return -1;
}

/*
 * Ask this stamp's watcher, if there is one of this user: 1 up to date,
 * 0 stale (the reason in reason[]), -1 no answer (then walk).
 */
static int ask_watcher(const struct stat *st)
{
	char id[128], *got;
	size_t n;
	int ret;

	got = read_answer(st, "", sizeof(reason) + 256, &n);
	if (!got)
		return -1;
	stamp_id(id, sizeof(id), st);
	ret = parse_answer(got, n, id);
	free(got);
	return ret;
}

/* PATH is DIR or inside it. */
static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (!path[n] || path[n] == '/');
}

/*
 * The watcher's list BUF (LEN bytes, NUL-terminated) for the stamp of
 * identity ID: "list ID", a path a line, "end".  Each path of STAMP's
 * trees that changed is printed; -1 (nothing printed) when the answer is
 * not whole.
 */
static int list_answer(char *buf, size_t len, const char *id)
{
	char *line, *next, *end = buf + len;
	struct stat st;
	size_t j;

	/* A NUL would end a path's line before its newline. */
	if (strlen(buf) != len || strncmp(buf, "list ", 5) || !(line = strchr(buf, '\n')) ||
	    (size_t)(line - buf - 5) != strlen(id) || strncmp(buf + 5, id, strlen(id)) ||
	    len < 4 || strcmp(end - 4, "end\n"))
		return -1;	/* another stamp's, cut short, or "broken" */
	/* The answer is whole: from here on, print. */
	for (line++; line < end - 4; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		for (j = 0; j < nwatched && !under(line, watched[j]); j++)
			;
		if (j == nwatched || !strcmp(line, watched[j]))
			continue;	/* not STAMP's, or its root (check_line) */
		if (!lstat(line, &st) && changed(&st))
			list_line(S_ISDIR(st.st_mode) ? "+dir " : "", line);
	}
	return 0;
}

/*
 * -l -a ASK: STAMP's changes from the watcher of ASK, each path looked at
 * as the walk would; -1 (nothing printed) when it cannot answer for all.
 */
static int list_from_watcher(const char *ask)
{
	char id[128], *buf = NULL, *roots[64];
	size_t nroots = 0, cap = 0, len = 0, i, j;
	struct stat ast, st;
	char *l = NULL;
	FILE *f;
	int ok = 0;

	/* Its watcher has seen every change since STAMP only if ASK is older. */
	f = fopen(ask, "r");
	if (!f || fstat(fileno(f), &ast) ||
	    ast.st_mtim.tv_sec > stamp.tv_sec ||
	    (ast.st_mtim.tv_sec == stamp.tv_sec && ast.st_mtim.tv_nsec > stamp.tv_nsec)) {
		if (f)
			fclose(f);
		return -1;
	}
	while (getline(&l, &cap, f) > 0 && nroots < 64) {
		l[strcspn(l, "\n")] = '\0';
		if (!strncmp(l, "watch ", 6))
			roots[nroots++] = xstrdup(l + 6);
	}
	free(l);
	fclose(f);
	/* Each tree of STAMP is in one of ASK's. */
	for (i = 0; i < nwatched; i++) {
		if (lstat(watched[i], &st) || !S_ISDIR(st.st_mode))
			continue;	/* a file: check_line looked at it */
		for (j = 0; j < nroots && !(roots[j] && under(watched[i], roots[j])); j++)
			;
		if (j == nroots)
			goto out;
	}
	/* Its paths, a line each, between "list ID" and "end". */
	buf = read_answer(&ast, "/list", MAX_CANDIDATES * (PATH_MAX + 1) + sizeof(id) + 16,
			  &len);
	if (!buf)
		goto out;
	stamp_id(id, sizeof(id), &ast);
	ok = !list_answer(buf, len, id);
out:
	free(buf);
	for (i = 0; i < nroots; i++)
		free(roots[i]);
	return ok ? 0 : -1;
}

#ifndef HOST_TOOL_NO_MAIN
/*
 * Read the stamp at PATH: its times, and each of its lines checked or
 * kept (check_line).  -1 when read, else the exit status: 0 (stale) when
 * there is no stamp, 2 when it cannot be read.
 */
static int read_stamp(const char *path, int verbose)
{
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *f;

	f = fopen(path, "r");
	if (!f || fstat(fileno(f), &st)) {
		if (verbose)
			printf("no stamp %s\n", path);
		return errno == ENOENT ? 0 : 2;
	}
	stamp = st.st_mtim;
	/* Absolute: the watcher leaves the caller's directory. */
	stamp_file = realpath(path, NULL);
	if (!stamp_file)
		stamp_file = path;
	stamp_st = st;
	while (!atomic_load(&found) && getline(&line, &cap, f) > 0)
		check_line(line);
	free(line);
	fclose(f);
	return -1;
}

/* -l: every change, from the watcher of ASK when it can tell, else walked. */
static int list_changes(const char *ask, int verbose)
{
	if (ask && !atomic_load(&found) && !list_from_watcher(ask)) {
		if (verbose)
			fprintf(stderr, "listed by the watcher of %s\n", ask);
		return listed ? 0 : 1;
	}
	if (verbose)
		fprintf(stderr, "listed by the walk\n");
	walk();
	return listed ? 0 : 1;
}

/* -d, after a build: walk and watch in the background (no one waits). */
static int start_watcher(void)
{
	switch (fork()) {
	case -1:
		return 0;
	case 0:
		detach(-1);
		if (nice(10) < 0)
			errno = 0;
		watch_begin();
		if (!walk() && atomic_load(&watch_on))
			serve();
		_exit(0);
	default:
		return 1;
	}
}

/*
 * The check: the watcher's answer, else the walk, watching unless
 * WALK_ONLY; up to date, the walk leaves its watcher behind.
 */
static int check(int walk_only, int verbose)
{
	int r;

	if (!atomic_load(&found) && !walk_only) {
		r = ask_watcher(&stamp_st);
		if (r >= 0) {
			if (verbose)
				printf("%s\n", r ? "up to date (watcher)" : reason);
			return r;
		}
		watch_begin();
	}
	if (atomic_load(&found) || walk()) {
		if (verbose)
			printf("%s\n", reason);
		return 0;
	}
	/* Up to date, and watched since before the walk: leave a watcher. */
	if (atomic_load(&watch_on) && fork() == 0) {
		detach(ifd);
		serve();
		_exit(0);
	}
	return 1;
}

int main(int argc, char **argv)
{
	int verbose = 0, daemon = 0, walk_only = 0, opt, r;
	const char *ask = NULL;

	while ((opt = getopt(argc, argv, "a:dlvw")) != -1) {
		switch (opt) {
		case 'a':
			ask = optarg;
			break;
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
		fprintf(stderr, "usage: stale [-v] [-w] STAMP | stale -d STAMP | "
			"stale [-v] -l [-a ASKSTAMP] STAMP\n");
		return 2;
	}
	r = read_stamp(argv[optind], verbose);
	if (r >= 0)
		return r;
	if (list_all)
		return list_changes(ask, verbose);
	if (daemon && !atomic_load(&found))
		return start_watcher();
	return check(walk_only, verbose);
}
#endif /* HOST_TOOL_NO_MAIN */
