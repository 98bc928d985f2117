// SPDX-License-Identifier: GPL-2.0
/*
 * Decide whether a quick rebuild of a built kernel is exact, and what it
 * compiles: the planner behind scripts/build/kernel.sh's quick path.
 *
 * Usage: kbuild-plan KDIR < CHANGED
 *
 *   KDIR     the build directory of a finished kbuild run
 *   CHANGED  the source files changed since that run (stale -l), one a line;
 *            a line starting with '!' means the walk could not tell, one
 *            starting with '+dir ' names a directory where a file was
 *            created, removed or renamed
 *
 * kbuild records, for every target it built, the command and every file
 * the command read (fixdep's KDIR/.../.NAME.cmd).  When each changed file
 * is read only by plain compiles of objects linked straight into vmlinux
 * (members of the thin, index-less built-in.a), rebuilding exactly those
 * objects with their recorded command and relinking is what kbuild itself
 * would do; kbuild spends ~9 s walking 300 directories to find that out.
 * Anything else is for kbuild: a changed Makefile, Kconfig or script, a
 * header of a generated file or a host program, an object inside a
 * composite or a library, a dependency that is gone, a Makefile, Kbuild,
 * Kconfig or scripts/ file of the last full build (KDIR/.sandbox-build-
 * files, one path a line) that is gone.  A file removed elsewhere is one
 * kbuild does not read; a file created is on its own line.
 *
 * Output: for each object to compile, three NUL-terminated fields: the
 * target (relative to KDIR), its command as recorded (make-escaped, for
 * fixdep) and the same command for sh.  Nothing when no object is affected.
 *
 * Exit codes: 0 quick rebuild is exact (plan on stdout), 3 kbuild must run
 * (the reason on stdout, one line), 2 bad usage or unreadable input.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../include/host-util.h"

const char *host_prog = "kbuild-plan";

/* --- a string set with a value: open addressing, grows at half full ---- */

struct entry {
	char *key;
	char *val;	/* identity (NULL: missing), or the path as listed */
	int used;
};

struct table {
	struct entry *e;
	size_t cap, n;
};

static size_t hash(const char *s)
{
	size_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct entry *slot(struct table *t, const char *key)
{
	size_t i = hash(key) & (t->cap - 1);

	while (t->e[i].key && strcmp(t->e[i].key, key))
		i = (i + 1) & (t->cap - 1);
	return &t->e[i];
}

static struct entry *lookup(struct table *t, const char *key)
{
	struct entry *e;

	if (!t->cap)
		return NULL;
	e = slot(t, key);
	return e->key ? e : NULL;
}

static struct entry *insert(struct table *t, const char *key)
{
	struct entry *e;
	size_t i;

	if (2 * (t->n + 1) > t->cap) {
		struct table bigger = { .cap = t->cap ? 2 * t->cap : 1024 };

		bigger.e = xcalloc(bigger.cap, sizeof(*bigger.e));
		for (i = 0; i < t->cap; i++)
			if (t->e[i].key)
				*slot(&bigger, t->e[i].key) = t->e[i];
		bigger.n = t->n;
		free(t->e);
		*t = bigger;
	}
	e = slot(t, key);
	if (!e->key) {
		e->key = xstrdup(key);
		t->n++;
	}
	return e;
}

/* --- the plan ----------------------------------------------------------- */

static const char *kdir;
static struct table changed;	/* real path -> used by a target (used) */
static struct table resolved;	/* dep as written -> real path or NULL */
static struct table members;	/* objects of KDIR/built-in.a */

struct target {
	char *name, *raw, *shell;
};
static struct target *plan;
static size_t nplan;

static void full(const char *fmt, ...)
{
	va_list ap;

	printf("full: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	host_exit(3);
}

/*
 * A file's identity: device and inode, so that a path through a symbolic
 * link and the walk's path of the same file match.  One stat each (the
 * kernel walks the path), where realpath() would lstat every component.
 */
static int identity(int dirfd, const char *path, char *key, size_t size)
{
	struct stat st;

	if (fstatat(dirfd, path, &st, 0))
		return 0;
	snprintf(key, size, "%lx:%lx", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
	return 1;
}

/* A path of a .cmd file (relative to KDIR or absolute): its identity. */
static const char *resolve(const char *path)
{
	static int kdirfd = -1;
	struct entry *e = lookup(&resolved, path);
	char key[64];

	if (e)
		return e->val;
	if (kdirfd < 0 && (kdirfd = open(kdir, O_RDONLY | O_DIRECTORY)) < 0)
		full("cannot open %s: %s", kdir, strerror(errno));
	e = insert(&resolved, path);
	e->val = identity(kdirfd, path, key, sizeof(key)) ? xstrdup(key) : NULL;
	return e->val;
}

/* make's escapes in a recorded command ($$, $(pound)) undone for sh. */
static char *unescape(const char *raw)
{
	char *out = xmalloc(strlen(raw) + 1), *o = out;

	while (*raw) {
		if (raw[0] == '$' && raw[1] == '$') {
			*o++ = '$';
			raw += 2;
		} else if (!strncmp(raw, "$(pound)", 8)) {
			*o++ = '#';
			raw += 8;
		} else if (*raw == '$') {
			free(out);
			return NULL;	/* a make expansion we cannot repeat */
		} else {
			*o++ = *raw++;
		}
	}
	*o = '\0';
	return out;
}

/* A plain compile: one command, no shell plumbing, -c -o TARGET. */
static int plain_compile(const char *name, const char *shell)
{
	char want[PATH_MAX + 16];

	if (strpbrk(shell, ";&|<>`$\n"))
		return 0;
	snprintf(want, sizeof(want), " -c -o %s ", name);
	return strstr(shell, want) != NULL;
}

static void affected(const char *name, const char *raw, const char *why)
{
	char *shell;
	size_t i;

	for (i = 0; i < nplan; i++)
		if (!strcmp(plan[i].name, name))
			return;
	if (strlen(name) < 3 || strcmp(name + strlen(name) - 2, ".o"))
		full("%s reads %s and is not an object: kbuild rebuilds it", name, why);
	if (!lookup(&members, name))
		full("%s reads %s and is not linked into vmlinux directly "
		     "(part of a composite object or a library)", name, why);
	shell = raw ? unescape(raw) : NULL;
	if (!shell || !plain_compile(name, shell)) {
		free(shell);
		full("%s reads %s and its recorded command is not a plain compile", name, why);
	}
	plan = xrealloc(plan, (nplan + 1) * sizeof(*plan));
	plan[nplan].name = xstrdup(name);
	plan[nplan].raw = xstrdup(raw);
	plan[nplan].shell = shell;
	nplan++;
}

/* One dependency of NAME: affected when changed, and it must exist. */
static void dependency(const char *name, const char *raw, char *dep)
{
	const char *real;
	struct entry *e;

	if (!strncmp(dep, "$(wildcard ", 11))
		return;	/* a CONFIG_ option: the .config check covers them */
	real = resolve(dep);
	if (!real)
		full("%s depends on %s, which is gone", name, dep);
	e = lookup(&changed, real);
	if (e) {
		e->used = 1;
		affected(name, raw, e->val);
	}
}

static int prefixed(const char *line, const char *prefix, size_t *len)
{
	*len = strlen(prefix);
	return !strncmp(line, prefix, *len);
}

/* One .NAME.cmd file: cmd_T (or savedcmd_T), source_T, deps_T. */
/*
 * One .cmd file's records.  Its buffers are kept from one call to the
 * next and freed at the start of it: full() may end the tool amid a file,
 * and nothing may be left to free then.
 */
static void read_cmd_file(FILE *f)
{
	static char *line, *name, *raw;
	static size_t cap;
	char *p, *end;
	size_t n;
	int in_deps = 0;
	ssize_t len;

	free(name);
	free(raw);
	name = raw = NULL;

	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (!name && (prefixed(line, "savedcmd_", &n) || prefixed(line, "cmd_", &n))) {
			p = strstr(line, " := ");
			if (!p)
				break;
			*p = '\0';
			name = xstrdup(line + n);
			raw = xstrdup(p + 4);
			/* kbuild pads the command with trailing blanks */
			continue;
		}
		if (!name)
			break;
		if (prefixed(line, "source_", &n) && (p = strstr(line, " := "))) {
			dependency(name, raw, p + 4);
			continue;
		}
		if (prefixed(line, "deps_", &n) && strstr(line, " := ")) {
			in_deps = 1;
			continue;
		}
		if (!in_deps)
			continue;
		p = line + strspn(line, " \t");
		end = p + strlen(p);
		in_deps = end > p && end[-1] == '\\';
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\\'))
			*--end = '\0';
		if (*p)
			dependency(name, raw, p);
	}
	free(name);
	free(raw);
	name = raw = NULL;
}

static void read_cmd(const char *path)
{
	FILE *f = fopen(path, "r");

	if (!f)
		full("cannot read %s: %s", path, strerror(errno));
	read_cmd_file(f);
	fclose(f);
}

/* Every .*.cmd below DIR (kbuild's records), depth first. */
static void walk(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];
	size_t len;

	if (!d)
		full("cannot read %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			full("path too long: %s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR) {
			/* the kernel's own sources, when KDIR is the tree */
			if (strcmp(e->d_name, ".git"))
				walk(path);
			continue;
		}
		len = strlen(e->d_name);
		if (e->d_name[0] == '.' && len > 5 && !strcmp(e->d_name + len - 4, ".cmd"))
			read_cmd(path);
	}
	closedir(d);
}

/*
 * The objects of KDIR/built-in.a, read from the archive itself (ar t
 * fails on a thin archive whose member is missing, as after a failed
 * compile).  A thin archive is "!<thin>\n" and 60-byte member headers;
 * only the symbol index ("/") and the long-name table ("//") carry data.
 */
static void read_members(void)
{
	char path[PATH_MAX], *buf, *longnames = NULL, *name, *end;
	size_t len = 0, pos = 8, size, off;
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/built-in.a", kdir);
	f = fopen(path, "r");
	if (!f || fstat(fileno(f), &st))
		full("cannot read %s: %s", path, strerror(errno));
	buf = xmalloc(st.st_size + 1);
	len = fread(buf, 1, st.st_size, f);
	fclose(f);
	buf[len] = '\0';
	if (len < 8 || memcmp(buf, "!<thin>\n", 8))
		full("%s is not a thin archive", path);
	while (pos + 60 <= len) {
		char *hdr = buf + pos, sizebuf[11];

		memcpy(sizebuf, hdr + 48, 10);
		sizebuf[10] = '\0';
		size = strtoul(sizebuf, NULL, 10);
		pos += 60;
		if (!memcmp(hdr, "// ", 3)) {
			longnames = buf + pos;
			pos += size + (size & 1);
			continue;
		}
		if (hdr[0] == '/' && (hdr[1] == ' ' || !memcmp(hdr, "/SYM64/", 7))) {
			pos += size + (size & 1);
			continue;
		}
		/* a member: its data stays in its own file */
		if (hdr[0] == '/' && longnames) {
			off = strtoul(hdr + 1, NULL, 10);
			name = longnames + off;
			end = strstr(name, "/\n");
		} else {
			name = hdr;
			end = memchr(hdr, '/', 16);
		}
		if (!end)
			full("cannot parse the members of %s", path);
		name = xstrndup(name, end - name);
		insert(&members, name);
		free(name);
	}
	free(buf);
	if (!members.n)
		full("%s lists no object", path);
}

/* The build system's own files, as listed after the last full build. */
static void build_files_exist(void)
{
	char path[PATH_MAX], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/.sandbox-build-files", kdir);
	f = fopen(path, "r");
	if (!f)
		full("no list of the build's Makefiles (%s): a full build writes it", path);
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (len && access(line, F_OK))
			full("%s is gone", line);
	}
	free(line);
	fclose(f);
}

/* Files kbuild never reads for vmlinux unless a record says so. */
static int inert(const char *real, const char *src)
{
	static const char *const dirs[] = { "Documentation/", "tools/", "LICENSES/", NULL };
	static const char *const exts[] = { ".c", ".h", ".S", ".rst", ".txt", NULL };
	size_t n = strlen(src), len = strlen(real);
	int i;

	if (!strncmp(real, src, n) && real[n] == '/')
		for (i = 0; dirs[i]; i++)
			if (!strncmp(real + n + 1, dirs[i], strlen(dirs[i])))
				return 1;
	for (i = 0; exts[i]; i++) {
		size_t e = strlen(exts[i]);

		if (len > e && !strcmp(real + len - e, exts[i]))
			return 1;
	}
	return 0;
}

static void read_lines(const char *path, FILE *f, struct table *t)
{
	char *line = NULL, key[64];
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len)
			continue;
		if (line[0] == '!')
			full("the source walk could not tell: %s", line + 1);
		if (!strncmp(line, "+dir ", 5))
			continue;	/* removals: see build_files_exist() */
		if (!identity(AT_FDCWD, line, key, sizeof(key)))
			full("%s changed and is gone again", line);
		insert(t, key)->val = xstrdup(line);
	}
	free(line);
	if (ferror(f)) {
		fprintf(stderr, "kbuild-plan: cannot read %s\n", path);
		exit(2);
	}
}

#ifndef HOST_TOOL_NO_MAIN
int main(int argc, char **argv)
{
	char *src;
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: kbuild-plan KDIR < CHANGED\n");
		return 2;
	}
	kdir = argv[1];
	read_lines("stdin", stdin, &changed);
	build_files_exist();
	read_members();
	walk(kdir);

	/* A changed file no record names: inert, or for kbuild to judge. */
	src = getenv("SRC");	/* as the walk wrote the paths: not resolved */
	for (i = 0; i < changed.cap; i++) {
		struct entry *e = &changed.e[i];

		if (e->key && !e->used && !inert(e->val, src ? src : "/nonexistent"))
			full("%s changed and is not a source file kbuild recorded "
			     "(a Makefile, Kconfig or script)", e->val);
	}
	for (i = 0; i < nplan; i++) {
		fwrite(plan[i].name, 1, strlen(plan[i].name) + 1, stdout);
		fwrite(plan[i].raw, 1, strlen(plan[i].raw) + 1, stdout);
		fwrite(plan[i].shell, 1, strlen(plan[i].shell) + 1, stdout);
	}
	return 0;
}
#endif /* HOST_TOOL_NO_MAIN */
