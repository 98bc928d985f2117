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
 * renamed in it.  Trees are walked by two threads, without following
 * symbolic links and without entering .git or __pycache__ (which the
 * build never reads).  kbuild's own "nothing to do" takes ~9 s on a
 * 2-core machine; this walk of linux/'s 80000 files takes ~0.2 s (the
 * stat() of every file: statx() with a small mask or more threads do not
 * make it faster on 2 cores).
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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <linux/magic.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "../include/host-util.h"

const char *host_prog = "stale";

#define NTHREADS 2

static struct timespec stamp;
static atomic_int found;
static char reason[4096];
static int list_all;	/* -l: print every changed file, do not stop */
static int listed;	/* -l: lines printed */

/*
 * The watcher's paths for -l -a: every path an event named (a file, or a
 * directory whose entries changed).  Broken: it cannot tell them all.
 */
#define MAX_CANDIDATES 4096
static char **cand;
static size_t ncand;
static int cand_broken;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;

/* Directories still to be read, and how many threads are reading one. */
static char **queue;
static size_t queued, queue_cap;
static int busy;

/* The stamp's watched directories, walked or watched once all are read. */
static char **watched;
static size_t nwatched;

/*
 * Watching while walking: the inotify descriptor, on until a watch fails,
 * and each watch's path (by watch descriptor) for the reason of a change.
 */
static int ifd = -1;
static atomic_int watch_on;
static char **wd_path;
static size_t wd_cap, nwatches, max_watches;
static dev_t local_dev[16];
static size_t nlocal;

static void watch_dir(const char *dir);
static int watched_dir_changed(const char *dir, DIR *d);
static void watch_linked(int dfd, const char *name, const char *path,
			 struct stat *st);

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
		queue = xrealloc(queue, queue_cap * sizeof(*queue));
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
	int watching = atomic_load(&watch_on);
	DIR *d;
	struct dirent *e;
	struct stat st;
	char *sub;

	/* Watching: the watch before the reading (see watch_dir). */
	if (watching)
		watch_dir(dir);
	d = opendir(dir);
	if (!d) {
		report("unreadable", dir);
		return;
	}
	if (watching && watched_dir_changed(dir, d)) {
		closedir(d);
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
		if (watching && S_ISREG(st.st_mode) && st.st_nlink > 1)
			watch_linked(dirfd(d), e->d_name, sub, &st);
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
	watched = xrealloc(watched, (nwatched + 1) * sizeof(*watched));
	watched[nwatched++] = xstrdup(path);
}

static int walk(void)
{
	pthread_t threads[NTHREADS];
	struct stat st;
	size_t i;

	for (i = 0; i < nwatched; i++)
		if (!lstat(watched[i], &st) && S_ISDIR(st.st_mode))
			push(xstrdup(watched[i]));
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
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define IDLE_SECONDS 1800

static const char *stamp_file;	/* the stamp's path, and its state */
static int stamp_only;		/* the trees' watches are given back */
static struct stat stamp_st;
static int stamp_wd = -1;

/* Stop watching: the walk goes on alone and leaves no watcher. */
static void watch_off(void)
{
	atomic_store(&watch_on, 0);
}

/* Keep the path of watch WD for the reasons; a failed watch ends it all. */
static void watch_record(int wd, const char *path)
{
	size_t cap;
	char **p;

	if (wd < 0) {
		watch_off();	/* ENOSPC (max_user_watches), ENOMEM, ... */
		return;
	}
	pthread_mutex_lock(&lock);
	if (++nwatches > max_watches)
		watch_off();
	if ((size_t)wd >= wd_cap) {
		for (cap = wd_cap ? wd_cap : 1024; cap <= (size_t)wd; cap *= 2)
			;
		p = xrealloc(wd_path, cap * sizeof(*p));
		memset(p + wd_cap, 0, (cap - wd_cap) * sizeof(*p));
		wd_path = p;
		wd_cap = cap;
	}
	if (!wd_path[wd])
		wd_path[wd] = xstrdup(path);
	pthread_mutex_unlock(&lock);
}

/*
 * inotify sees the writes of this machine only: not those of an NFS
 * client or a FUSE daemon, so only local file systems are watched.
 */
static int local_fs(dev_t dev, int fd, const char *path)
{
	struct statfs sf;
	size_t i;
	int ok = 0;

	pthread_mutex_lock(&lock);
	for (i = 0; i < nlocal; i++)
		ok |= local_dev[i] == dev;
	pthread_mutex_unlock(&lock);
	if (ok)
		return 1;
	if (fd >= 0 ? fstatfs(fd, &sf) : statfs(path, &sf))
		return 0;
	switch (sf.f_type) {
	case EXT4_SUPER_MAGIC:	/* ext2 and ext3 too */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case F2FS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case OVERLAYFS_SUPER_MAGIC:
		break;
	default:
		return 0;
	}
	pthread_mutex_lock(&lock);
	if (nlocal < sizeof(local_dev) / sizeof(*local_dev))
		local_dev[nlocal++] = dev;
	pthread_mutex_unlock(&lock);
	return 1;
}

/*
 * A directory is watched before it is read: a change in it after the
 * watch is an event, one before it is seen by the reading.  The reading
 * includes the directory itself (its parent's look at it came before
 * the watch: a file created or removed in between shows in its mtime).
 */
static void watch_dir(const char *dir)
{
	watch_record(inotify_add_watch(ifd, dir, WATCH_MASK | IN_ONLYDIR |
				       IN_DONT_FOLLOW), dir);
}

static int watched_dir_changed(const char *dir, DIR *d)
{
	struct stat st;

	if (fstat(dirfd(d), &st)) {
		report("unreadable", dir);
		return 1;
	}
	if (!local_fs(st.st_dev, dirfd(d), dir))
		watch_off();
	if (changed(&st)) {
		report("changed", dir);
		return 1;
	}
	return 0;
}

/*
 * A file with more than one name: a write through a name outside the
 * tree raises no event on the tree's directories, one on the file's own
 * watch.  Watched, then looked at again.
 */
static void watch_linked(int dfd, const char *name, const char *path,
			 struct stat *st)
{
	watch_record(inotify_add_watch(ifd, path, FILE_MASK | IN_DONT_FOLLOW),
		     path);
	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW))
		report("vanished", path);
}

/* A quarter of the user's inotify watches at most: the rest is others'. */
static size_t watch_budget(void)
{
	unsigned long max = 8192;
	FILE *f = fopen("/proc/sys/fs/inotify/max_user_watches", "r");

	if (f) {
		if (fscanf(f, "%lu", &max) != 1)
			max = 8192;
		fclose(f);
	}
	return max / 4;
}

static int same_stamp(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Watch the stamp itself: it goes or changes, and the watcher ends. */
static int watch_stamp(int fd)
{
	struct stat st;

	stamp_wd = inotify_add_watch(fd, stamp_file, FILE_MASK);
	return stamp_wd >= 0 && !lstat(stamp_file, &st) &&
	       same_stamp(&st, &stamp_st);
}

/*
 * Before the walk: the stamp and the watched files (the walk watches the
 * directories).  A watched file is looked at again after its watch.
 */
static void watch_begin(void)
{
	struct stat st;
	size_t i;

	max_watches = watch_budget();
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0)
		return;		/* EMFILE: max_user_instances */
	atomic_store(&watch_on, 1);
	if (!watch_stamp(ifd)) {
		watch_off();
		return;
	}
	for (i = 0; i < nwatched && atomic_load(&watch_on); i++) {
		if (lstat(watched[i], &st)) {
			report("missing", watched[i]);
			return;
		}
		if (S_ISDIR(st.st_mode))
			continue;
		if (!local_fs(st.st_dev, -1, watched[i]))
			watch_off();
		watch_record(inotify_add_watch(ifd, watched[i],
					       FILE_MASK | IN_DONT_FOLLOW),
			     watched[i]);
		if (lstat(watched[i], &st))
			report("missing", watched[i]);
		else if (changed(&st))
			report("changed", watched[i]);
	}
}

/* The answer names the stamp it is for: device, inode, mtime, ctime. */
static void stamp_id(char *buf, size_t size, const struct stat *st)
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
static socklen_t sock_name(struct sockaddr_un *sa, const struct stat *st,
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
 * Ask this stamp's watcher, if there is one of this user: 1 up to date,
 * 0 stale (the reason in reason[]), -1 no answer (then walk).
 */
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

/*
 * Once stale, always stale (until the build rewrites the stamp): only
 * the stamp stays watched, the trees' watches go back to the user.
 */
static int watch_only_stamp(void)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC), old = stamp_wd;

	if (fd < 0)
		return 0;	/* the old watches stay: no harm */
	if (!watch_stamp(fd)) {
		close(fd);
		stamp_wd = old;
		return -1;	/* the stamp changed */
	}
	dup3(fd, ifd, O_CLOEXEC);	/* closes the old: its watches go */
	close(fd);
	return 0;
}

/* Keep PATH for -l -a (once: the events of one edit repeat it). */
static void add_candidate(const char *dir, const char *name)
{
	char *path;
	size_t i;

	if (asprintf(&path, "%s%s%s", dir, name ? "/" : "", name ? name : "") < 0 ||
	    strchr(path, '\n')) {
		cand_broken = 1;	/* no line of the answer can hold it */
		return;
	}
	for (i = ncand; i-- > 0;)
		if (!strcmp(cand[i], path)) {
			free(path);
			return;
		}
	if (ncand == MAX_CANDIDATES ||
	    !(cand = realloc(cand, (ncand + 1) * sizeof(*cand)))) {
		cand_broken = 1;
		free(path);
		return;
	}
	cand[ncand++] = path;
}

/*
 * The paths one event names: the file (or directory) it is about, and
 * the directory whose entries it changed.  What the watches cannot follow
 * from here on (a new directory, a watched one gone or moved), breaks
 * the list.
 */
static void note_event(const struct inotify_event *ev)
{
	const char *dir = (size_t)ev->wd < wd_cap ? wd_path[ev->wd] : NULL;

	if (!dir || ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) ||
	    (ev->mask & IN_ISDIR && ev->mask & (IN_CREATE | IN_MOVED_TO))) {
		cand_broken = 1;
		return;
	}
	if (!ev->len) {
		add_candidate(dir, NULL);	/* the watched path itself */
		return;
	}
	if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVE))
		add_candidate(dir, NULL);
	if (!skipped(ev->name))
		add_candidate(dir, ev->name);
}

/*
 * Read the queued events: -1 when the watcher must end (the stamp went
 * or changed, or events were lost), else 0, with WHY set at the first
 * change.
 */
static int drain(char *why, size_t size)
{
	char buf[65536]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	const char *dir;
	ssize_t n;
	char *p;

	while ((n = read(ifd, buf, sizeof(buf))) > 0)
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->wd == stamp_wd ||
			    ev->mask & (IN_Q_OVERFLOW | IN_UNMOUNT))
				return -1;
			if (!cand_broken)
				note_event(ev);
			if (*why || ev->mask & IN_IGNORED)
				continue;
			/*
			 * As the walk: .git and __pycache__ are not looked
			 * at, their coming and going in a directory is.
			 */
			if (ev->len && skipped(ev->name) &&
			    !(ev->mask & (IN_CREATE | IN_DELETE | IN_MOVE)))
				continue;
			dir = (size_t)ev->wd < wd_cap && wd_path[ev->wd] ?
			      wd_path[ev->wd] : "?";
			snprintf(why, size, "changed %s%s%s (watcher)", dir,
				 ev->len ? "/" : "", ev->len ? ev->name : "");
		}
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return -1;
	/* The trees stay watched as long as the list of paths holds. */
	if (*why && cand_broken && !stamp_only) {
		stamp_only = 1;
		return watch_only_stamp();
	}
	return 0;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

/* SANDBOX_WATCH_IDLE: seconds without a question before the watcher ends. */
static long long idle_ms(void)
{
	const char *s = getenv("SANDBOX_WATCH_IDLE");
	char *end;
	long v;

	if (!s || !*s)
		return IDLE_SECONDS * 1000LL;
	v = strtol(s, &end, 10);
	return *end || v <= 0 ? IDLE_SECONDS * 1000LL : v * 1000LL;
}

static int write_all(int fd, const char *buf, size_t n)
{
	ssize_t w;

	while (n) {
		w = write(fd, buf, n);
		if (w <= 0)
			return -1;	/* the asker left: its loss */
		buf += w;
		n -= w;
	}
	return 0;
}

/* -l -a: the paths, between "list ID" and "end" (or "broken"). */
static void answer_list(int c, const char *id)
{
	size_t i;

	if (write_all(c, "list ", 5) || write_all(c, id, strlen(id)) ||
	    write_all(c, "\n", 1))
		return;
	for (i = 0; i < ncand && !cand_broken; i++)
		if (write_all(c, cand[i], strlen(cand[i])) || write_all(c, "\n", 1))
			return;
	if (cand_broken)
		write_all(c, "broken\n", 7);
	else
		write_all(c, "end\n", 4);
}

/* Answer the checks until the stamp goes or changes, or nobody asks. */
static void serve(void)
{
	char id[128], why[sizeof(reason)] = "", answer[sizeof(why) + 256];
	const long long idle = idle_ms();
	long long deadline = now_ms() + idle, left;
	struct sockaddr_un sa;
	struct pollfd p[3];
	int lfd, listfd, ready, c, i;

	/* Not the caller's directory: it may be unmounted or removed. */
	if (chdir("/"))
		return;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sock_name(&sa, &stamp_st, "")) ||
	    listen(lfd, 64))
		return;		/* EADDRINUSE: another watcher answers */
	/* Lists on a socket of their own: a check only connects and reads. */
	listfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listfd < 0 ||
	    bind(listfd, (struct sockaddr *)&sa, sock_name(&sa, &stamp_st, "/list")) ||
	    listen(listfd, 64))
		return;
	stamp_id(id, sizeof(id), &stamp_st);
	p[0].fd = ifd;
	p[0].events = POLLIN;
	p[1].fd = lfd;
	p[1].events = POLLIN;
	p[2].fd = listfd;
	p[2].events = POLLIN;
	for (;;) {
		/* Also what came between the walk and now. */
		if (drain(why, sizeof(why)))
			return;
		left = deadline - now_ms();
		if (left <= 0)
			return;
		ready = poll(p, 3, left > 60000 ? 60000 : (int)left);
		if (ready < 0 && errno != EINTR)
			return;
		for (i = 1; ready > 0 && i < 3; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			/* Events of every change made before the connect are queued. */
			if (drain(why, sizeof(why))) {
				close(c);
				return;
			}
			if (i == 2) {
				answer_list(c, id);
			} else {
				snprintf(answer, sizeof(answer), "%s %s%s%s\n",
					 *why ? "stale" : "clean", id, *why ? " " : "", why);
				write_all(c, answer, strlen(answer));
			}
			close(c);
			deadline = now_ms() + idle;
		}
	}
}

/*
 * Leave the caller for good: a session of our own, /dev/null as stdio
 * and no other descriptor than KEEP (the inotify one, moved to 3), so
 * that a pipe the caller reads to its end, a lock or a jobserver is not
 * held open.  The directory becomes "/" later, once paths are resolved.
 */
static void detach(int keep)
{
	unsigned int fd, from = 3;

	setsid();
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "stale-watcher");
	if (keep >= 0) {
		if (keep != 3 && dup3(keep, 3, O_CLOEXEC) < 0)
			_exit(0);
		ifd = 3;
		from = 4;
	}
	if (close_range(from, ~0U, 0))
		for (fd = from; fd < 65536; fd++)
			close(fd);
	fd = open("/dev/null", O_RDWR);
	if ((int)fd < 0)
		_exit(0);
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
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
int main(int argc, char **argv)
{
	int verbose = 0, daemon = 0, walk_only = 0, opt, r;
	const char *ask = NULL;
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *f;

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
	argv += optind - 1;
	f = fopen(argv[1], "r");
	if (!f || fstat(fileno(f), &st)) {
		if (verbose)
			printf("no stamp %s\n", argv[1]);
		return errno == ENOENT ? 0 : 2;
	}
	stamp = st.st_mtim;
	/* Absolute: the watcher leaves the caller's directory. */
	stamp_file = realpath(argv[1], NULL);
	if (!stamp_file)
		stamp_file = argv[1];
	stamp_st = st;
	while (!atomic_load(&found) && getline(&line, &cap, f) > 0)
		check_line(line);
	free(line);
	fclose(f);

	if (list_all) {
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
	if (daemon && !atomic_load(&found)) {
		/* After a build: in the background, the build does not wait. */
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
	if (!atomic_load(&found) && !walk_only) {
		r = ask_watcher(&st);
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
#endif /* HOST_TOOL_NO_MAIN */
