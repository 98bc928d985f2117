// SPDX-License-Identifier: GPL-2.0
/*
 * Series-aware coverage report: lcov tracefiles against the lines a series adds.
 *
 * Usage: coverage-report [OPTIONS] -s SERIES.diff MAIN.info
 *
 *   -s FILE   the series' diff (git diff -U0, any context works): its '+'
 *             lines, in the new file's numbering, are the series' lines
 *   -x FILE   the sandbox's own patches' diff (base..series-base); its '+'
 *             lines are reported apart, mapped through the series diff to
 *             the built tree's numbering (-k patched)
 *   -k KIND   patched (default): the built tree is the series diff's new
 *             side; base: it is the old side, and the series' lines are
 *             the ones it removes or replaces ('-' lines)
 *   -r ROOT   the built tree's root: a diff path P is the tracefile's
 *             SF:ROOT/P (default: any SF ending in /P)
 *   -t NAME=FILE  a tracefile of one test's boot (repeatable)
 *   -b FILE   the tracefile of an idle boot: per test, what it reaches
 *             beyond that
 *   -e FILE   known unreachable outcomes, "PATH|SOURCE TEXT|REASON" a line:
 *             listed with the reason, never counted as reached
 *   -l NAME=WHAT  a note on a test boot (e.g. "lost: panic"), repeatable
 *   -m FILE   write the Markdown report there (default: stdout)
 *   -j FILE   write the JSON report there
 *
 * A line is executable when the tracefile has a DA record for it; each
 * BRDA record is one branch outcome.  The summary line is
 * "N of M added executable lines, K of L branch outcomes".  The functions
 * that hold a series line (FN records; lcov 1.x gives no end line, so a
 * function runs from its FN line to its last DA line before the next
 * function) are listed with their calls, lines and outcomes: on base, what
 * the suite runs of the functions the series changes.
 *
 * Exit codes: 0 written, 1 a tracefile or diff could not be read or parsed
 * (the error says which, and where), 64 bad usage.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../include/host-util.h"

const char *host_prog = "coverage-report";

#define E_USAGE 64

/* One line of a diff: its file, number (on the side it is in), text. */
struct dline {
	const char *path;
	long ln;
	char *text;
};

/* One line insertion point or removal, to map old numbers to new ones. */
struct dop {
	const char *path;
	long pos;	/* '-': the old line removed; '+': inserted before old line */
	int add;
};

struct diff {
	struct dline *plus, *minus;
	size_t nplus, nminus;
	struct dop *ops;
	size_t nops;
};

struct da {
	long ln, count;
};

struct brda {
	long ln, block, branch, taken;	/* taken -1: the block never ran ("-") */
};

/* A function: its first line, its last (0: not known yet) and calls. */
struct fn {
	char *name;
	long start, end, calls;
};

/* The records of one source file in one tracefile. */
struct sf {
	const char *path;
	struct da *da;
	size_t nda;
	struct brda *br;
	size_t nbr;
	struct fn *fn;
	size_t nfn;
};

struct info {
	const char *name;	/* test name, or NULL */
	const char *file;
	struct sf *sf;
	size_t nsf;
};

struct known {
	char *path, *text, *reason;
};

/* A line reported: a series or sandbox line resolved in the built tree. */
struct rline {
	const char *path;
	long ln;
	const char *text;
	int executable;
	long count;
	size_t nbr, nbr_taken;
	const char *reason;	/* a known unreachable outcome on this line */
};

static const char *root;
static struct known *known;
static size_t nknown;

static void die_usage(const char *msg)
{
	fprintf(stderr, "coverage-report: %s (see the usage at the top of scripts/report/coverage-report.c)\n", msg);
	exit(E_USAGE);
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("coverage-report: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	host_exit(1);
}

#define PUSH(arr, n) (arr = xrealloc(arr, (n + 1) * sizeof(*arr)), &arr[n++])

static FILE *xopen(const char *file)
{
	FILE *f = fopen(file, "r");

	if (!f)
		die("cannot read %s: %s", file, strerror(errno));
	return f;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static const char **paths;
static size_t npaths;

/*
 * "a/x" or "b/x" as git writes them, interned: every line of a file points
 * at the same string, which lives as long as the program.
 */
static const char *diff_path(const char *s)
{
	size_t i;

	if ((s[0] == 'a' || s[0] == 'b') && s[1] == '/')
		s += 2;
	for (i = 0; i < npaths; i++)
		if (!strcmp(paths[i], s))
			return paths[i];
	return *PUSH(paths, npaths) = xstrdup(s);
}

static void read_diff(const char *file, struct diff *d)
{
	FILE *f = xopen(file);
	char *line = NULL;
	const char *path = NULL;
	size_t cap = 0;
	long old_ln = 0, new_ln = 0, old_left = 0, new_left = 0, nr = 0;

	memset(d, 0, sizeof(*d));
	while (getline(&line, &cap, f) >= 0) {
		nr++;
		chomp(line);
		if (!strncmp(line, "+++ ", 4) && !old_left && !new_left) {
			if (strcmp(line + 4, "/dev/null"))
				path = diff_path(line + 4);
			continue;
		}
		if (!strncmp(line, "--- ", 4) && !old_left && !new_left) {
			path = diff_path(line + 4);
			continue;
		}
		if (!strncmp(line, "@@ ", 3)) {
			long a, b = 1, c, e = 1;
			char *p = line + 3;

			if (!path)
				die("%s:%ld: a hunk before any file name", file, nr);
			if (sscanf(p, "-%ld", &a) != 1)
				die("%s:%ld: malformed hunk header '%s'", file, nr, line);
			p = strpbrk(p, ", ");
			if (p && *p == ',')
				b = strtol(p + 1, &p, 10);
			p = p ? strchr(p, '+') : NULL;
			if (!p || sscanf(p, "+%ld", &c) != 1)
				die("%s:%ld: malformed hunk header '%s'", file, nr, line);
			p = strpbrk(p, ", ");
			if (p && *p == ',')
				e = strtol(p + 1, NULL, 10);
			/* An empty side names the line before the change. */
			old_ln = b ? a : a + 1;
			new_ln = e ? c : c + 1;
			old_left = b;
			new_left = e;
			continue;
		}
		if (!old_left && !new_left)
			continue;	/* "diff --git", "index", ... */
		if (line[0] == '+') {
			struct dline *l = PUSH(d->plus, d->nplus);
			struct dop *o = PUSH(d->ops, d->nops);

			*l = (struct dline){ path, new_ln++, xstrdup(line + 1) };
			*o = (struct dop){ path, old_ln, 1 };
			new_left--;
		} else if (line[0] == '-') {
			struct dline *l = PUSH(d->minus, d->nminus);
			struct dop *o = PUSH(d->ops, d->nops);

			*l = (struct dline){ path, old_ln, xstrdup(line + 1) };
			*o = (struct dop){ path, old_ln++, 0 };
			old_left--;
		} else if (line[0] == ' ' || line[0] == '\0') {
			old_ln++, new_ln++;
			old_left--, new_left--;
		} else if (line[0] != '\\') {
			die("%s:%ld: a hunk line that starts with neither ' ', '+' nor '-'", file, nr);
		}
		if (old_left < 0 || new_left < 0)
			die("%s:%ld: more lines than the hunk header says", file, nr);
	}
	if (old_left > 0 || new_left > 0)
		die("%s: the last hunk is cut short", file);
	free(line);
	fclose(f);
}

/*
 * The number of old line @ln of @path on the diff's new side, or 0 when
 * the diff removes it (changed or deleted).
 */
static long map_line(const struct diff *d, const char *path, long ln)
{
	long delta = 0;
	size_t i;

	for (i = 0; i < d->nops; i++) {
		const struct dop *o = &d->ops[i];

		if (strcmp(o->path, path))
			continue;
		if (o->add) {
			if (o->pos <= ln)
				delta++;
		} else if (o->pos == ln) {
			return 0;
		} else if (o->pos < ln) {
			delta--;
		}
	}
	return ln + delta;
}

/* The diff path that tracefile path @sf names, or NULL. */
static int sf_matches(const char *sf, const char *path)
{
	size_t ls = strlen(sf), lp = strlen(path);

	if (root) {
		size_t lr = strlen(root);

		while (lr && root[lr - 1] == '/')
			lr--;
		return ls == lr + 1 + lp && !strncmp(sf, root, lr) && sf[lr] == '/' &&
		       !strcmp(sf + lr + 1, path);
	}
	return ls > lp && sf[ls - lp - 1] == '/' && !strcmp(sf + ls - lp, path);
}

static const char **wanted;
static size_t nwanted;

static void want_path(const char *path)
{
	size_t i;

	for (i = 0; i < nwanted; i++)
		if (!strcmp(wanted[i], path))
			return;
	*PUSH(wanted, nwanted) = path;
}

/* Only the records of files a diff names are kept: a kernel has ~1000. */
static const char *wanted_path(const char *sf)
{
	size_t i;

	for (i = 0; i < nwanted; i++)
		if (sf_matches(sf, wanted[i]))
			return wanted[i];
	return NULL;
}

/*
 * The lines of ROOT/@path that hold a "}" in column 0 (kernel style: the
 * end of a function), in order, or none when the source cannot be read.
 */
static long *source_closers(const char *path, size_t *n)
{
	char *file, *line = NULL;
	size_t cap = 0, nout = 0;
	long ln = 0, *out = NULL;
	FILE *f;

	*n = 0;
	if (!root)
		return NULL;
	file = xrealloc(NULL, strlen(root) + strlen(path) + 2);
	sprintf(file, "%s/%s", root, path);
	f = fopen(file, "r");
	free(file);
	if (!f)
		return NULL;
	while (getline(&line, &cap, f) >= 0) {
		ln++;
		if (line[0] == '}' && (line[1] == '\n' || !line[1]))
			*PUSH(out, nout) = ln;
	}
	free(line);
	fclose(f);
	*n = nout;
	return out;
}

/*
 * Without an end line, a function ends at the "}" in column 0 after its
 * first line in the built tree's source (-r); without the source, at its
 * last executable line before the next function's first (a header's
 * inline functions have lines but often no FN record: only the source
 * tells where they are).
 */
static void fn_extents(struct info *in)
{
	size_t i, j, k;

	for (i = 0; i < in->nsf; i++) {
		struct sf *s = &in->sf[i];
		size_t nclosers = 0;
		long *closers = s->nfn ? source_closers(s->path, &nclosers) : NULL;

		for (j = 0; j < s->nfn; j++) {
			struct fn *f = &s->fn[j];
			long next = -1;

			if (!f->start || f->end)
				continue;
			for (k = 0; k < nclosers && closers[k] <= f->start; k++)
				;
			if (k < nclosers) {
				f->end = closers[k];
				continue;
			}
			for (k = 0; k < s->nfn; k++)
				if (s->fn[k].start > f->start && (next < 0 || s->fn[k].start < next))
					next = s->fn[k].start;
			f->end = f->start;
			for (k = 0; k < s->nda; k++)
				if (s->da[k].ln > f->end && (next < 0 || s->da[k].ln < next))
					f->end = s->da[k].ln;
		}
		free(closers);
	}
}

/*
 * Two counts of one line (a file twice in a tracefile) added up: both are
 * not negative, and a sum past LONG_MAX stays there (a tracefile's
 * numbers are whatever lcov, or anyone, wrote).
 */
static long add_counts(long a, long b)
{
	return b > LONG_MAX - a ? LONG_MAX : a + b;
}

/* Where read_info_file is: the file, its line, the record it is in. */
struct reader {
	const char *file;
	long nr;
	int in_record;
	struct sf *cur;		/* the record's file, NULL when not wanted */
	struct info *in;
};

/* SF:PATH, a record begins: its file found again or added. */
static void read_sf(struct reader *r, const char *line)
{
	const char *p;
	size_t i;

	if (r->in_record)
		die("%s:%ld: SF: inside a record (no end_of_record before it)", r->file, r->nr);
	r->in_record = 1;
	r->cur = NULL;
	p = wanted_path(line + 3);
	if (!p)
		return;
	/* A file twice (lcov -a did not merge): add up. */
	for (i = 0; i < r->in->nsf; i++)
		if (r->in->sf[i].path == p)
			r->cur = &r->in->sf[i];
	if (!r->cur) {
		r->cur = PUSH(r->in->sf, r->in->nsf);
		memset(r->cur, 0, sizeof(*r->cur));
		r->cur->path = p;
	}
}

/* DA:LINE,COUNT, a line's count. */
static void read_da(struct reader *r, const char *line)
{
	struct sf *cur = r->cur;
	long ln, count;
	size_t i;

	if (!r->in_record || sscanf(line + 3, "%ld,%ld", &ln, &count) != 2 || ln <= 0 || count < 0)
		die("%s:%ld: malformed '%s' (DA:LINE,COUNT inside an SF: record)", r->file, r->nr, line);
	if (!cur)
		return;
	for (i = 0; i < cur->nda && cur->da[i].ln != ln; i++)
		;
	if (i < cur->nda)
		cur->da[i].count = add_counts(cur->da[i].count, count);
	else
		*PUSH(cur->da, cur->nda) = (struct da){ ln, count };
}

/* BRDA:LINE,BLOCK,BRANCH,TAKEN, a branch outcome ("-": never reached). */
static void read_brda(struct reader *r, const char *line)
{
	struct sf *cur = r->cur;
	long ln, block, branch, taken;
	char t[32];
	size_t i;

	if (!r->in_record || sscanf(line + 5, "%ld,%ld,%ld,%31s", &ln, &block, &branch, t) != 4 ||
	    ln <= 0)
		die("%s:%ld: malformed '%s' (BRDA:LINE,BLOCK,BRANCH,TAKEN)", r->file, r->nr, line);
	if (!strcmp(t, "-")) {
		taken = -1;
	} else {
		char *end;

		taken = strtol(t, &end, 10);
		if (*end || taken < 0)
			die("%s:%ld: malformed taken count in '%s'", r->file, r->nr, line);
	}
	if (!cur)
		return;
	for (i = 0; i < cur->nbr; i++) {
		struct brda *b = &cur->br[i];

		if (b->ln == ln && b->block == block && b->branch == branch) {
			if (taken > 0)
				b->taken = add_counts(b->taken > 0 ? b->taken : 0, taken);
			else if (taken == 0 && b->taken < 0)
				b->taken = 0;
			break;
		}
	}
	if (i == cur->nbr)
		*PUSH(cur->br, cur->nbr) = (struct brda){ ln, block, branch, taken };
}

/* FN:LINE,NAME (lcov 2: FN:LINE,END,NAME) or FNDA:COUNT,NAME. */
static void read_fn(struct reader *r, const char *line)
{
	struct sf *cur = r->cur;
	int da = line[2] == 'D';
	const char *rest = line + (da ? 5 : 3), *name;
	long a, b = 0;
	int n = 0, m = 0;
	size_t i;

	if (!r->in_record || sscanf(rest, "%ld,%n", &a, &n) != 1 || !n || a < 0 ||
	    (!da && !a))
		die("%s:%ld: malformed '%s' (%s inside an SF: record)", r->file, r->nr, line,
		    da ? "FNDA:COUNT,NAME" : "FN:LINE,NAME");
	if (!cur)
		return;
	name = rest + n;
	if (!da && sscanf(name, "%ld,%n", &b, &m) == 1 && m)
		name += m;
	if (!*name)
		die("%s:%ld: '%s' names no function", r->file, r->nr, line);
	for (i = 0; i < cur->nfn && strcmp(cur->fn[i].name, name); i++)
		;
	if (i == cur->nfn)
		*PUSH(cur->fn, cur->nfn) = (struct fn){ xstrdup(name), 0, 0, 0 };
	if (da) {
		cur->fn[i].calls = add_counts(cur->fn[i].calls, a);
	} else {
		cur->fn[i].start = a;
		cur->fn[i].end = b;
	}
}

/*
 * The records of tracefile F (named FILE in errors) into IN.  Its line
 * buffer is kept from one call to the next: a malformed line ends the
 * tool (die), and nothing may be left to free then.
 */
static void read_info_file(FILE *f, const char *file, struct info *in)
{
	static char *line;
	static size_t cap;
	struct reader r = { .file = file, .in = in };

	in->file = file;
	in->sf = NULL;
	in->nsf = 0;
	while (getline(&line, &cap, f) >= 0) {
		r.nr++;
		chomp(line);
		if (!strncmp(line, "SF:", 3)) {
			read_sf(&r, line);
		} else if (!strcmp(line, "end_of_record")) {
			if (!r.in_record)
				die("%s:%ld: end_of_record without SF:", file, r.nr);
			r.in_record = 0;
			r.cur = NULL;
		} else if (!strncmp(line, "DA:", 3)) {
			read_da(&r, line);
		} else if (!strncmp(line, "BRDA:", 5)) {
			read_brda(&r, line);
		} else if (!strncmp(line, "FN:", 3) || !strncmp(line, "FNDA:", 5)) {
			read_fn(&r, line);
		}
		/* TN:, LF:, LH:, FNF:, FNH:, ... are not needed. */
	}
	if (r.in_record)
		die("%s: the last record has no end_of_record (truncated?)", file);
	fn_extents(in);
}

static void read_info(const char *file, struct info *in)
{
	FILE *f = xopen(file);

	read_info_file(f, file, in);
	fclose(f);
}

static const struct sf *find_sf(const struct info *in, const char *path)
{
	size_t i;

	for (i = 0; i < in->nsf; i++)
		if (!strcmp(in->sf[i].path, path))
			return &in->sf[i];
	return NULL;
}

/* The count of a line, or -1 when it is not executable. */
static long line_count(const struct info *in, const char *path, long ln)
{
	const struct sf *s = find_sf(in, path);
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < s->nda; i++)
		if (s->da[i].ln == ln)
			return s->da[i].count;
	return -1;
}

/* How often a branch outcome was taken, 0 when never or not there. */
static long branch_taken(const struct info *in, const char *path, const struct brda *want)
{
	const struct sf *s = find_sf(in, path);
	size_t i;

	for (i = 0; s && i < s->nbr; i++)
		if (s->br[i].ln == want->ln && s->br[i].block == want->block &&
		    s->br[i].branch == want->branch)
			return s->br[i].taken > 0 ? s->br[i].taken : 0;
	return 0;
}

static const char *known_reason(const char *path, const char *text)
{
	size_t i;

	for (i = 0; i < nknown; i++)
		if (!strcmp(known[i].path, path) && strstr(text, known[i].text))
			return known[i].reason;
	return NULL;
}

static void read_known(const char *file)
{
	FILE *f = xopen(file);
	char *line = NULL;
	size_t cap = 0;
	long nr = 0;

	while (getline(&line, &cap, f) >= 0) {
		char *a, *b;
		struct known *k;

		nr++;
		chomp(line);
		if (!line[0] || line[0] == '#')
			continue;
		a = strchr(line, '|');
		b = a ? strchr(a + 1, '|') : NULL;
		if (!b || a == line || b == a + 1 || !b[1])
			die("%s:%ld: expected PATH|SOURCE TEXT|REASON", file, nr);
		*a = *b = '\0';
		k = PUSH(known, nknown);
		*k = (struct known){ xstrdup(line), xstrdup(a + 1), xstrdup(b + 1) };
	}
	free(line);
	fclose(f);
}

static struct rline resolve(const struct info *in, const char *path, long ln, const char *text)
{
	struct rline r = { path, ln, text, 0, 0, 0, 0, NULL };
	const struct sf *s = find_sf(in, path);
	size_t i;

	r.count = line_count(in, path, ln);
	r.executable = r.count >= 0;
	if (s)
		for (i = 0; i < s->nbr; i++)
			if (s->br[i].ln == ln) {
				r.nbr++;
				r.nbr_taken += s->br[i].taken > 0;
			}
	r.reason = known_reason(path, text);
	return r;
}

struct totals {
	size_t lines, exec, hit, br, br_taken, known_lines;
};

static struct totals sum(const struct rline *r, size_t n)
{
	struct totals t = { 0 };
	size_t i;

	for (i = 0; i < n; i++) {
		t.lines++;
		t.exec += r[i].executable;
		t.hit += r[i].executable && r[i].count > 0;
		t.br += r[i].nbr;
		t.br_taken += r[i].nbr_taken;
		t.known_lines += r[i].reason != NULL;
	}
	return t;
}

/* "added" lines on the patched kernel, "replaced" ones on base. */
static const char *verb = "added";

static void summary_line(FILE *f, const struct totals *t)
{
	fprintf(f, "%zu of %zu %s executable lines, %zu of %zu branch outcomes",
		t->hit, t->exec, verb, t->br_taken, t->br);
}

static void md_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\t')
			fputs("    ", f);
		else if (*s != '`')
			fputc(*s, f);
	}
}

/* The branch outcomes of a line, "taken/total" and each one's count. */
static void md_branches(FILE *f, const struct info *in, const struct rline *r)
{
	const struct sf *s = find_sf(in, r->path);
	size_t i;

	if (!r->nbr)
		return;
	fprintf(f, "%zu/%zu:", r->nbr_taken, r->nbr);
	for (i = 0; s && i < s->nbr; i++) {
		if (s->br[i].ln != r->ln)
			continue;
		if (s->br[i].taken < 0)
			fputs(" -", f);
		else
			fprintf(f, " %ld", s->br[i].taken);
	}
}

static void md_section(FILE *f, const char *title, const struct info *in,
		       const struct rline *r, size_t n)
{
	struct totals t = sum(r, n);
	const char *path = NULL;
	size_t i;

	fprintf(f, "## %s\n\n", title);
	if (!n) {
		fputs("No lines.\n\n", f);
		return;
	}
	fputs("**", f);
	summary_line(f, &t);
	fprintf(f, "** (%zu lines in all; %zu not executable: comments, declarations, braces)\n\n",
		t.lines, t.lines - t.exec);
	for (i = 0; i < n; i++) {
		if (!path || strcmp(path, r[i].path)) {
			path = r[i].path;
			fprintf(f, "\n`%s`\n\n| line | count | branch outcomes taken: counts | source |\n"
				"|---:|---:|---|---|\n", path);
		}
		fprintf(f, "| %ld | ", r[i].ln);
		if (!r[i].executable)
			fputs("", f);
		else if (r[i].count)
			fprintf(f, "%ld", r[i].count);
		else
			fputs("**0**", f);
		fputs(" | ", f);
		md_branches(f, in, &r[i]);
		fputs(" | `", f);
		md_escape(f, r[i].text);
		fputs("` |\n", f);
	}
	fputs("\n", f);
}

/* Lines and outcomes not reached: the list that must be empty or explained. */
static void md_missed(FILE *f, const struct rline *r, size_t n)
{
	size_t i, missed = 0;

	for (i = 0; i < n; i++) {
		int line_missed = r[i].executable && r[i].count == 0;
		int br_missed = r[i].nbr_taken < r[i].nbr;

		if (!line_missed && !br_missed && !r[i].reason)
			continue;
		if (!missed++)
			fputs("Not reached (each with its reason where one is known):\n\n", f);
		fprintf(f, "- `%s:%ld` ", r[i].path, r[i].ln);
		if (line_missed)
			fputs("line never executed", f);
		else if (br_missed)
			fprintf(f, "%zu of %zu branch outcomes never taken", r[i].nbr - r[i].nbr_taken, r[i].nbr);
		else if (r[i].executable)
			fputs("executed, but an outcome has no branch of its own", f);
		else
			fputs("no code of its own", f);
		fprintf(f, ": %s\n", r[i].reason ? r[i].reason : "NOT EXPLAINED: a test is missing");
	}
	if (!missed)
		fputs("Every executable line and every branch outcome was reached.\n", f);
	fputs("\n", f);
}

static void json_lines(FILE *f, const struct info *in, const struct rline *r, size_t n)
{
	size_t i, j;

	fputs("[", f);
	for (i = 0; i < n; i++) {
		const struct sf *s = find_sf(in, r[i].path);
		int first = 1;

		fprintf(f, "%s\n    {\"file\": ", i ? "," : "");
		json_string(f, r[i].path);
		fprintf(f, ", \"line\": %ld, \"executable\": %s, \"count\": ", r[i].ln,
			r[i].executable ? "true" : "false");
		if (r[i].executable)
			fprintf(f, "%ld", r[i].count);
		else
			fputs("null", f);
		fputs(", \"branches\": [", f);
		for (j = 0; s && j < s->nbr; j++) {
			if (s->br[j].ln != r[i].ln)
				continue;
			fprintf(f, "%s{\"block\": %ld, \"branch\": %ld, \"taken\": %ld}", first ? "" : ", ",
				s->br[j].block, s->br[j].branch, s->br[j].taken < 0 ? 0 : s->br[j].taken);
			first = 0;
		}
		fputs("], \"reason\": ", f);
		if (r[i].reason)
			json_string(f, r[i].reason);
		else
			fputs("null", f);
		fputs(", \"source\": ", f);
		json_string(f, r[i].text);
		fputs("}", f);
	}
	fputs("\n  ]", f);
}

static void json_totals(FILE *f, const struct rline *r, size_t n)
{
	struct totals t = sum(r, n);

	fprintf(f, "{\"lines\": %zu, \"executable\": %zu, \"executed\": %zu, "
		"\"branch_outcomes\": %zu, \"branch_outcomes_taken\": %zu, \"summary\": \"",
		t.lines, t.exec, t.hit, t.br, t.br_taken);
	summary_line(f, &t);
	fputs("\"}", f);
}

struct note {
	const char *name, *what;
};

static const char *note_of(const struct note *notes, size_t nnotes, const char *name)
{
	size_t i;

	for (i = 0; i < nnotes; i++)
		if (!strcmp(notes[i].name, name))
			return notes[i].what;
	return NULL;
}

/* Print @ln as part of a compact list of ranges ("12-15, 19"). */
struct ranges {
	FILE *f;
	const char *path;
	long first, last;
	int any;
};

static void ranges_flush(struct ranges *rg)
{
	if (!rg->path)
		return;
	fprintf(rg->f, "%s%s:%ld", rg->any ? ", " : "", rg->path, rg->first);
	if (rg->last != rg->first)
		fprintf(rg->f, "-%ld", rg->last);
	rg->any = 1;
	rg->path = NULL;
}

static void ranges_add(struct ranges *rg, const struct rline *r)
{
	if (rg->path && !strcmp(rg->path, r->path) && r->ln == rg->last + 1) {
		rg->last = r->ln;
		return;
	}
	ranges_flush(rg);
	rg->path = r->path;
	rg->first = rg->last = r->ln;
}

/* Read a diff and note the files it names (their records are kept). */
static void read_all(const char *file, struct diff *d)
{
	size_t i;

	read_diff(file, d);
	for (i = 0; i < d->nops; i++)
		want_path(d->ops[i].path);
}

/* A function that holds a series line, and what of it ran. */
struct rfn {
	const struct sf *sf;
	const struct fn *fn;
	size_t lines, executed, br, br_taken;
};

static int cmp_rfn(const void *a, const void *b)
{
	const struct rfn *x = a, *y = b;
	int c = strcmp(x->sf->path, y->sf->path);

	return c ? c : (x->fn->start > y->fn->start) - (x->fn->start < y->fn->start);
}

/* The functions of @in that hold one of the @n lines, sorted by place. */
static struct rfn *series_functions(const struct info *in, const struct rline *r, size_t n,
				    size_t *nout)
{
	struct rfn *out = NULL;
	size_t i, j, k, nf = 0;

	for (i = 0; i < n; i++) {
		const struct sf *s = find_sf(in, r[i].path);

		for (j = 0; s && j < s->nfn; j++) {
			const struct fn *f = &s->fn[j];
			struct rfn *o;

			if (!f->start || r[i].ln < f->start || r[i].ln > f->end)
				continue;
			for (k = 0; k < nf && out[k].fn != f; k++)
				;
			if (k < nf)
				continue;
			o = PUSH(out, nf);
			*o = (struct rfn){ s, f, 0, 0, 0, 0 };
			for (k = 0; k < s->nda; k++) {
				if (s->da[k].ln < f->start || s->da[k].ln > f->end)
					continue;
				o->lines++;
				o->executed += s->da[k].count > 0;
			}
			for (k = 0; k < s->nbr; k++) {
				if (s->br[k].ln < f->start || s->br[k].ln > f->end)
					continue;
				o->br++;
				o->br_taken += s->br[k].taken > 0;
			}
		}
	}
	if (nf)
		qsort(out, nf, sizeof(*out), cmp_rfn);
	*nout = nf;
	return out;
}

static void md_functions(FILE *f, const struct rfn *fns, size_t n, int base)
{
	size_t i;

	fprintf(f, "## The functions the series changes\n\n"
		"Each function of the %s tree that holds a line the series %s: from its FN record "
		"to the \"}\" that closes it in the source (without the source: to its last "
		"executable line before the next function).\n\n",
		base ? "base" : "patched", base ? "removes or replaces" : "adds or changes");
	if (!n) {
		fputs("None: the tracefile has no function (FN:) record around the series' lines.\n\n", f);
		return;
	}
	fputs("| function | file:line | calls | lines executed | branch outcomes taken |\n"
	      "|---|---|---:|---:|---:|\n", f);
	for (i = 0; i < n; i++)
		fprintf(f, "| `%s` | %s:%ld | %ld | %zu of %zu | %zu of %zu |\n", fns[i].fn->name,
			fns[i].sf->path, fns[i].fn->start, fns[i].fn->calls, fns[i].executed,
			fns[i].lines, fns[i].br_taken, fns[i].br);
	fputs("\n", f);
}

static void json_functions(FILE *f, const struct rfn *fns, size_t n)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		fprintf(f, "%s{\"name\": ", i ? ", " : "");
		json_string(f, fns[i].fn->name);
		fputs(", \"file\": ", f);
		json_string(f, fns[i].sf->path);
		fprintf(f, ", \"line\": %ld, \"calls\": %ld, \"lines\": %zu, \"executed\": %zu, "
			"\"branch_outcomes\": %zu, \"branch_outcomes_taken\": %zu}",
			fns[i].fn->start, fns[i].fn->calls, fns[i].lines, fns[i].executed, fns[i].br,
			fns[i].br_taken);
	}
	fputc(']', f);
}

#ifndef HOST_TOOL_NO_MAIN
/* One run of the tool: its options, what it read, the lines it resolved. */
struct run {
	const char *series_file, *sandbox_file, *kind;
	const char *md_file, *json_file, *baseline_file;
	struct info main_in, baseline, *tests;
	struct note *notes;
	size_t ntests, nnotes;
	struct diff series, sandbox;
	struct rline *sr, *xr;	/* the series' lines, the sandbox's */
	size_t nsr, nxr, moved;
	struct rfn *fns;
	size_t nfns;
	int base;		/* -k base */
};

/* The options into R; a bad one ends in die_usage(). */
static void parse_options(int argc, char **argv, struct run *r)
{
	int c;

	while ((c = getopt(argc, argv, "s:x:k:r:t:b:e:l:m:j:h")) != -1) {
		char *eq;

		switch (c) {
		case 's': r->series_file = optarg; break;
		case 'x': r->sandbox_file = optarg; break;
		case 'k': r->kind = optarg; break;
		case 'r': root = optarg; break;
		case 'b': r->baseline_file = optarg; break;
		case 'e': read_known(optarg); break;
		case 'm': r->md_file = optarg; break;
		case 'j': r->json_file = optarg; break;
		case 't':
		case 'l':
			eq = strchr(optarg, '=');
			if (!eq || eq == optarg || !eq[1])
				die_usage(c == 't' ? "-t takes NAME=FILE" : "-l takes NAME=WHAT");
			*eq = '\0';
			if (c == 't') {
				struct info *t = PUSH(r->tests, r->ntests);

				t->name = optarg;
				t->file = eq + 1;
			} else {
				*PUSH(r->notes, r->nnotes) = (struct note){ optarg, eq + 1 };
			}
			break;
		case 'h':
		default:
			die_usage("bad option");
		}
	}
	if (!r->series_file)
		die_usage("-s SERIES.diff is required");
	if (optind != argc - 1)
		die_usage("exactly one tracefile, the whole suite's, is required");
	if (strcmp(r->kind, "patched") && strcmp(r->kind, "base"))
		die_usage("-k takes patched or base");
	r->base = !strcmp(r->kind, "base");
}

/* The diffs and the tracefiles: TRACEFILE, the baseline's, each test's. */
static void read_inputs(struct run *r, const char *tracefile)
{
	size_t i;

	read_all(r->series_file, &r->series);
	if (r->sandbox_file)
		read_all(r->sandbox_file, &r->sandbox);
	else
		memset(&r->sandbox, 0, sizeof(r->sandbox));
	read_info(tracefile, &r->main_in);
	if (r->baseline_file)
		read_info(r->baseline_file, &r->baseline);
	for (i = 0; i < r->ntests; i++) {
		const char *name = r->tests[i].name, *file = r->tests[i].file;

		read_info(file, &r->tests[i]);
		r->tests[i].name = name;
	}
}

/* The series' lines and the sandbox's, each found in the built tree. */
static void resolve_lines(struct run *r)
{
	const struct dline *sl = r->base ? r->series.minus : r->series.plus;
	size_t nsl = r->base ? r->series.nminus : r->series.nplus, i;

	for (i = 0; i < nsl; i++)
		*PUSH(r->sr, r->nsr) = resolve(&r->main_in, sl[i].path, sl[i].ln, sl[i].text);
	/* The sandbox's, on base as they are; on patched through the series. */
	for (i = 0; i < r->sandbox.nplus; i++) {
		const struct dline *l = &r->sandbox.plus[i];
		long ln = r->base ? l->ln : map_line(&r->series, l->path, l->ln);

		if (!ln) {
			r->moved++;	/* the series changed it: it is the series' line now */
			continue;
		}
		*PUSH(r->xr, r->nxr) = resolve(&r->main_in, l->path, ln, l->text);
	}
}

/* How often an idle boot ran the series' line J: 0 without a baseline. */
static long idle_count(const struct run *r, size_t j)
{
	return r->baseline_file ? line_count(&r->baseline, r->sr[j].path, r->sr[j].ln) : 0;
}

/* Per test: what each boot reached, and beyond the idle boot. */
static void md_per_test(FILE *md, const struct run *r)
{
	size_t i, j;

	fputs("## Per test (one boot each)\n\n", md);
	if (r->baseline_file)
		fprintf(md, "\"beyond idle\": the count is higher than in an idle boot (%s), "
			"which execs init and its programs.\n\n", r->baseline.file);
	fputs("| test | series lines reached | beyond idle | lines beyond idle |\n|---|---:|---:|---|\n", md);
	for (i = 0; i < r->ntests; i++) {
		size_t hit = 0, beyond = 0;
		struct ranges rg = { md, NULL, 0, 0, 0 };
		const char *note = note_of(r->notes, r->nnotes, r->tests[i].name);

		for (j = 0; j < r->nsr; j++) {
			long cnt = line_count(&r->tests[i], r->sr[j].path, r->sr[j].ln);
			long b = idle_count(r, j);

			hit += cnt > 0;
			beyond += cnt > (b > 0 ? b : 0);
		}
		fprintf(md, "| %s | %zu | %zu | ", r->tests[i].name, hit, beyond);
		for (j = 0; j < r->nsr; j++) {
			long cnt = line_count(&r->tests[i], r->sr[j].path, r->sr[j].ln);
			long b = idle_count(r, j);

			if (cnt > (b > 0 ? b : 0))
				ranges_add(&rg, &r->sr[j]);
		}
		ranges_flush(&rg);
		if (!hit)
			fputs("reaches none of the series' lines", md);
		else if (!beyond && r->baseline_file)
			fputs(rg.any ? "" : "none beyond an idle boot", md);
		if (note)
			fprintf(md, " (%s)", note);
		fputs(" |\n", md);
	}
	fputs("\n", md);
}

/* Per branch outcome: the tests whose boot takes it more than idle. */
static void md_branch_takers(FILE *md, const struct run *r)
{
	size_t i, j;

	fputs("## Who takes each branch outcome\n\n"
	      "| line | outcome | suite | tests that take it (beyond idle) |\n|---|---:|---:|---|\n", md);
	for (j = 0; j < r->nsr; j++) {
		const struct sf *s = find_sf(&r->main_in, r->sr[j].path);
		size_t b, k = 0;

		for (b = 0; s && b < s->nbr; b++) {
			const struct brda *br = &s->br[b];
			long idle = r->baseline_file ? branch_taken(&r->baseline, r->sr[j].path, br) : 0;
			int any = 0;

			if (br->ln != r->sr[j].ln)
				continue;
			fprintf(md, "| %s:%ld | %zu | %ld | ", r->sr[j].path, r->sr[j].ln, k++,
				br->taken > 0 ? br->taken : 0);
			for (i = 0; i < r->ntests; i++) {
				long t = branch_taken(&r->tests[i], r->sr[j].path, br);

				if (t > idle) {
					fprintf(md, "%s%s (%ld)", any ? ", " : "", r->tests[i].name, t - idle);
					any = 1;
				}
			}
			if (!any)
				fputs(idle ? "only the idle boot's own" : "none", md);
			fputs(" |\n", md);
		}
	}
	fputs("\n", md);
}

/* The Markdown report: the summary, the sections, then the tests'. */
static void md_report(FILE *md, struct run *r)
{
	struct totals t = sum(r->sr, r->nsr);

	fprintf(md, "# Coverage of the series, %s kernel\n\n", r->kind);
	fprintf(md, "The series' lines: %s. Tracefile: %s.\n\n",
		r->base ? "what the series removes or replaces (its diff's '-' lines), in the base tree"
			: "what the series adds or changes (its diff's '+' lines), in the patched tree",
		r->main_in.file);
	fputs("Summary: ", md);
	summary_line(md, &t);
	fputs("\n\n", md);
	md_section(md, r->base ? "The series' lines (replaced by it)" : "The series' lines",
		   &r->main_in, r->sr, r->nsr);
	md_missed(md, r->sr, r->nsr);
	r->fns = series_functions(&r->main_in, r->sr, r->nsr, &r->nfns);
	md_functions(md, r->fns, r->nfns, r->base);
	if (r->ntests)
		md_per_test(md, r);

	verb = "added";	/* the sandbox's lines are in the built tree on both kernels */
	if (r->ntests)
		md_branch_takers(md, r);

	md_section(md, "The sandbox's own patches (patches/sandbox/, apart from the series)",
		   &r->main_in, r->xr, r->nxr);
	if (r->moved)
		fprintf(md, "%zu line(s) of the sandbox's patches are changed by the series and counted as the series'.\n\n",
			r->moved);
}

/* The series' lines each test reached, with the idle boot's count. */
static void json_test_lines(FILE *js, const struct run *r, const struct info *test)
{
	int first = 1;
	size_t j;

	for (j = 0; j < r->nsr; j++) {
		long cnt = line_count(test, r->sr[j].path, r->sr[j].ln);

		if (cnt <= 0)
			continue;
		fprintf(js, "%s{\"file\": ", first ? "" : ", ");
		json_string(js, r->sr[j].path);
		long b = idle_count(r, j);

		fprintf(js, ", \"line\": %ld, \"count\": %ld, \"idle\": %ld}", r->sr[j].ln, cnt,
			b < 0 ? 0 : b);
		first = 0;
	}
}

/* The JSON report: the same figures as the Markdown's. */
static void json_report(FILE *js, const struct run *r)
{
	size_t i;

	verb = r->base ? "replaced" : "added";
	fprintf(js, "{\n  \"kernel\": \"%s\",\n  \"tracefile\": ", r->kind);
	json_string(js, r->main_in.file);
	fputs(",\n  \"series\": ", js);
	json_totals(js, r->sr, r->nsr);
	fputs(",\n  \"series_lines\": ", js);
	json_lines(js, &r->main_in, r->sr, r->nsr);
	fputs(",\n  \"series_functions\": ", js);
	json_functions(js, r->fns, r->nfns);
	fputs(",\n  \"sandbox\": ", js);
	verb = "added";
	json_totals(js, r->xr, r->nxr);
	fputs(",\n  \"sandbox_lines\": ", js);
	json_lines(js, &r->main_in, r->xr, r->nxr);
	fputs(",\n  \"tests\": [", js);
	for (i = 0; i < r->ntests; i++) {
		const char *note = note_of(r->notes, r->nnotes, r->tests[i].name);

		fprintf(js, "%s\n    {\"name\": ", i ? "," : "");
		json_string(js, r->tests[i].name);
		fputs(", \"note\": ", js);
		if (note)
			json_string(js, note);
		else
			fputs("null", js);
		fputs(", \"lines\": [", js);
		json_test_lines(js, r, &r->tests[i]);
		fputs("]}", js);
	}
	fputs("\n  ]\n}\n", js);
}

int main(int argc, char **argv)
{
	struct run r = { .kind = "patched" };
	FILE *md = stdout, *js = NULL;

	parse_options(argc, argv, &r);
	if (r.base)
		verb = "replaced";
	read_inputs(&r, argv[optind]);
	resolve_lines(&r);

	if (r.md_file && !(md = fopen(r.md_file, "w")))
		die("cannot write %s: %s", r.md_file, strerror(errno));
	if (r.json_file && !(js = fopen(r.json_file, "w")))
		die("cannot write %s: %s", r.json_file, strerror(errno));
	md_report(md, &r);
	if (js) {
		json_report(js, &r);
		if (fclose(js))
			die("cannot write %s: %s", r.json_file, strerror(errno));
	}
	if (md != stdout && fclose(md))
		die("cannot write %s: %s", r.md_file, strerror(errno));
	return 0;
}
#endif /* HOST_TOOL_NO_MAIN */
