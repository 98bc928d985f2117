/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the three parts of stale share: the stamp and its verdict
 * (stale.c), the walk (stale-walk.c) and the watcher (stale-watch.c).
 */
#ifndef STALE_H
#define STALE_H

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "../include/host-util.h"

/* At most this many paths kept by the watcher for -l -a. */
#define MAX_CANDIDATES 4096

/* --- stale.c: the stamp, the verdict, asking a watcher -------------------- */

extern struct timespec stamp;	/* the stamp's mtime */
extern const char *stamp_file;	/* the stamp's path, and its state */
extern struct stat stamp_st;
extern atomic_int found;	/* stale: every thread stops */
extern char reason[4096];	/* why, the first reason only */
extern int list_all;		/* -l: print every changed file, do not stop */
extern pthread_mutex_t lock;	/* guards all of the above and the queue */
extern pthread_cond_t more;	/* the queue or found changed */

/* The stamp's watched directories, walked or watched once all are read. */
extern char **watched;
extern size_t nwatched;

int changed(const struct stat *st);
int skipped(const char *name);
void list_line(const char *tag, const char *path);
void report(const char *why, const char *path);
void stamp_id(char *buf, size_t size, const struct stat *st);
socklen_t sock_name(struct sockaddr_un *sa, const struct stat *st,
		    const char *what);

/* --- stale-walk.c: the trees read by two threads -------------------------- */

int walk(void);

/* --- stale-watch.c: the inotify watcher and its daemon -------------------- */

extern atomic_int watch_on;	/* watching while walking */
extern int ifd;			/* the inotify descriptor */

void watch_dir(const char *dir);
int watched_dir_changed(const char *dir, DIR *d);
void watch_linked(int dfd, const char *name, const char *path,
		  struct stat *st);
void watch_begin(void);
void serve(void);
void detach(int keep);

#endif /* STALE_H */
