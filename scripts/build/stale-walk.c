// SPDX-License-Identifier: GPL-2.0
/*
 * stale's walk: every watched tree read by two threads, each entry's
 * mtime and ctime held against the stamp (see stale.c for the rules).
 *
 * Without following symbolic links and without entering .git or
 * __pycache__ (which the build never reads).  kbuild's own "nothing to
 * do" takes ~9 s on a 2-core machine; this walk of linux/'s 80000 files
 * takes ~0.2 s (the stat() of every file: statx() with a small mask or
 * more threads do not make it faster on 2 cores).
 * Watching (stale-watch.c), each directory gets its watch before it is
 * read.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stale.h"

#define NTHREADS 2

/* Directories still to be read, and how many threads are reading one. */
static char **queue;
static size_t queued, queue_cap;
static int busy;

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

/* Walk the watched directories: 1 when stale (found), else 0. */
int walk(void)
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
