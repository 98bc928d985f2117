// SPDX-License-Identifier: GPL-2.0
/*
 * Tell whether anything a build depends on changed since its stamp: the
 * exact and cheap up-to-date check of make all and run-uml.sh.
 *
 * Usage: stale [-v] STAMP
 *
 * STAMP lists one path per line: "watch PATH" is a file or a directory
 * tree that must not have changed since STAMP's mtime, "need PATH" a
 * product that must exist.  A file counts as changed when its mtime or
 * ctime is not older than the stamp (ctime catches an edit that kept an
 * old mtime); a directory too, which catches files created, removed or
 * renamed in it.  Trees are walked by two threads, without following
 * symbolic links and without entering .git or __pycache__ (which the
 * build never reads).  kbuild's own "nothing to do" takes ~9 s on a
 * 2-core machine; this walk of linux/ takes a tenth of a second.
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
#include <sys/stat.h>
#include <unistd.h>

#define NTHREADS 2

static struct timespec stamp;
static atomic_int found;
static char reason[4096];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;

/* Directories still to be read, and how many threads are reading one. */
static char **queue;
static size_t queued, queue_cap;
static int busy;

static int not_older(const struct timespec *t)
{
	return t->tv_sec > stamp.tv_sec ||
	       (t->tv_sec == stamp.tv_sec && t->tv_nsec >= stamp.tv_nsec);
}

static int changed(const struct stat *st)
{
	return not_older(&st->st_mtim) || not_older(&st->st_ctim);
}

/* Record the first reason only; every thread stops at the next check. */
static void report(const char *why, const char *path)
{
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
			break;
		}
		if (asprintf(&sub, "%s/%s", dir, e->d_name) < 0) {
			perror("stale");
			exit(2);
		}
		if (changed(&st)) {
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
		report("changed", path);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		char *dir = strdup(path);

		if (!dir) {
			perror("stale");
			exit(2);
		}
		push(dir);
	}
}

int main(int argc, char **argv)
{
	pthread_t threads[NTHREADS];
	int verbose = 0, i;
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	FILE *f;

	if (argc > 1 && !strcmp(argv[1], "-v")) {
		verbose = 1;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: stale [-v] STAMP\n");
		return 2;
	}
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

	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&threads[i], NULL, worker, NULL)) {
			perror("stale");
			return 2;
		}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(threads[i], NULL);

	if (atomic_load(&found)) {
		if (verbose)
			printf("%s\n", reason);
		return 0;
	}
	return 1;
}
