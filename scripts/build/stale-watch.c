// SPDX-License-Identifier: GPL-2.0
/*
 * stale's watcher: inotify watches put on the trees while they are
 * walked, and the daemon left behind that answers the next checks on its
 * socket (see stale.c for what it answers and when it is not started):
 * the watches (watch_*), the events read (drain) and the daemon (serve,
 * detach).
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
#include <time.h>
#include <linux/magic.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "stale.h"

/*
 * The watcher's paths for -l -a: every path an event named (a file, or a
 * directory whose entries changed).  Broken: it cannot tell them all.
 */
static char **cand;
static size_t ncand;
static int cand_broken;

/*
 * Watching while walking: the inotify descriptor, on until a watch fails,
 * and each watch's path (by watch descriptor) for the reason of a change.
 */
int ifd = -1;
atomic_int watch_on;
static char **wd_path;
static size_t wd_cap, nwatches, max_watches;
static dev_t local_dev[16];
static size_t nlocal;

#define WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | \
		    IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define IDLE_SECONDS 1800

static int stamp_only;		/* the trees' watches are given back */
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
void watch_dir(const char *dir)
{
	watch_record(inotify_add_watch(ifd, dir, WATCH_MASK | IN_ONLYDIR |
				       IN_DONT_FOLLOW), dir);
}

int watched_dir_changed(const char *dir, DIR *d)
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
void watch_linked(int dfd, const char *name, const char *path,
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
void watch_begin(void)
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
void serve(void)
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
void detach(int keep)
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
