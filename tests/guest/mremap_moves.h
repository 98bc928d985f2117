/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The sandbox's debugfs counters of page-table moves, for the guest programs:
 * /sys/kernel/debug/mremap_moves/{ptes,pmds,puds}, writing 0 resets one.
 */
#ifndef MREMAP_MOVES_H
#define MREMAP_MOVES_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define MREMAP_MOVES	"/sys/kernel/debug/mremap_moves/"

/* The number a debugfs file @path holds, or -1 if it cannot be read. */
static inline long long debugfs_read_number(const char *path)
{
	char buf[32];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

/* The counter @name ("ptes", "pmds", "puds"), or -1 if it cannot be read. */
static inline long mremap_moves_read(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), MREMAP_MOVES "%s", name);
	return debugfs_read_number(path);
}

/* Set the counter @name to 0; -1 if it cannot be written. */
static inline int mremap_moves_reset(const char *name)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), MREMAP_MOVES "%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	ok = write(fd, "0", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

#endif /* MREMAP_MOVES_H */
