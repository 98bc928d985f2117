// SPDX-License-Identifier: GPL-2.0
/*
 * Find the kernel splats in a UML console log, classify them, print the first.
 *
 * Usage: splat-class [-n MAXLINES] [-t TRACE_FILE] LOG
 *
 * Output (stdout), when the log holds a splat:
 *   class: BUG
 *   classes: BUG, panic
 *   lines: 55-80
 *   followed by the splat itself, each line prefixed with "  | ".
 * -t also writes the first splat's raw lines to TRACE_FILE (for
 * scripts/decode_stacktrace.sh).
 *
 * The class is that of the first splat: what went wrong first, a panic
 * that follows a BUG being its consequence.  Classes: WARNING, BUG,
 * exception (a fault in kernel mode), panic, hung task, soft lockup,
 * RCU stall, OOM kill.
 *
 * Exit codes: 0 a splat was found, 1 none, 2 I/O error, 64 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "splat-markers.h"

#include "../include/host-util.h"

const char *host_prog = "splat-class";

#define MAX_LINE 4096
#define MAX_CLASSES 16
#define BACK 16		/* how far a splat's start may precede its marker */

struct marker {
	const char *text;
	const char *class;
};

/* One per class (splat-markers.h): the first that matches a line decides it. */
static const struct marker markers[] = {
#define MARKER(text, class) { text, class },
	SPLAT_MARKERS(MARKER)
#undef MARKER
};

/* Lines that close a splat; the line itself still belongs to it. */
static const char *const ends[] = {
	"---[ end trace",
	"---[ end Kernel panic",
};

/* Lines before a marker that open the same splat. */
static const char *const openers[] = {
	"------------[ cut here ]------------",
	"Pid: ",		/* UML's register dump before a kernel-mode fault */
};

struct line {
	char *text;
	const char *class;	/* marker class, or NULL */
};

static struct line *lines;
static size_t nlines, cap;

static void usage(const char *prog, const char *why)
{
	fprintf(stderr, "splat-class: error: %s\nUsage: %s [-n MAXLINES] [-t TRACE_FILE] LOG\n",
		why, prog);
	exit(64);
}

/*
 * The text of a kernel console line, "[    1.020000] text" (with a "<4>"
 * level first in a kmsg dump), or NULL for the guest's own output.
 */
static const char *console_text(const char *s)
{
	if (s[0] == '<' && s[1] && s[2] == '>')
		s += 3;
	if (*s++ != '[')
		return NULL;
	s += strspn(s, " ");
	if (!strchr("0123456789", *s) || !*s)
		return NULL;
	s += strspn(s, "0123456789.");
	return *s == ']' ? s + 1 : NULL;
}

static const char *classify(const char *s)
{
	const char *text = console_text(s);
	size_t i;

	if (!text)
		return NULL;
	for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
		if (strstr(text, markers[i].text))
			return markers[i].class;
	return NULL;
}

static int has_any(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strstr(s, list[i]))
			return 1;
	return 0;
}

/* A line of a kmsg dump: "<5>[    0.000000] ...". */
static int dump_line(const char *s)
{
	if (*s++ != '<' || !strchr("0123456789", *s) || !*s)
		return 0;
	s += strspn(s, "0123456789");
	return *s == '>';
}

static void read_log(FILE *f)
{
	char buf[MAX_LINE];
	int dumped = 0;

	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		/*
		 * On a panic UML dumps the whole kernel log once more to
		 * stdout: the splats in it are the same ones again.  The
		 * console goes on beside it (the panic's call trace may come
		 * after the dump, or amid it): only the dump's lines are
		 * skipped.
		 */
		if (!strcmp(buf, "kmsg_dump:")) {
			dumped = 1;
			continue;
		}
		if (dumped && dump_line(buf))
			continue;
		if (nlines == cap) {
			cap = cap ? 2 * cap : 1024;
			lines = xrealloc(lines, cap * sizeof(*lines));
		}
		lines[nlines].text = xstrdup(buf);
		lines[nlines].class = classify(buf);
		nlines++;
	}
}

/* Index of the first line of the splat whose marker is at @m. */
static size_t splat_start(size_t m)
{
	size_t i, lo = m > BACK ? m - BACK : 0;

	for (i = m; i-- > lo;) {
		if (lines[i].class || !console_text(lines[i].text))
			break;
		if (has_any(lines[i].text, openers,
			    sizeof(openers) / sizeof(openers[0])))
			return i;
	}
	return m;
}

/*
 * Index one past the last line of the splat starting at @s: its end
 * marker, the first line that is not the kernel's, or the end of the log.
 */
static size_t splat_end(size_t s)
{
	size_t i;

	for (i = s; i < nlines; i++) {
		if (!console_text(lines[i].text))
			return i;
		if (has_any(lines[i].text, ends, sizeof(ends) / sizeof(ends[0])))
			return i + 1;
	}
	return nlines;
}

/*
 * The report of the lines read (read_log): class, classes, lines and the
 * first splat (at most MAX of its lines) to OUT, its raw lines to TRACE
 * (if not NULL).  0 a splat was found, 1 none.
 */
static int report(FILE *out, FILE *trace, long max)
{
	const char *classes[MAX_CLASSES];
	size_t nclasses = 0, i, j, first = 0, s, e;
	int found = 0;

	/* Every distinct class, in the order of first appearance. */
	for (i = 0; i < nlines; i++) {
		if (!lines[i].class)
			continue;
		if (!found) {
			first = i;
			found = 1;
		}
		for (j = 0; j < nclasses; j++)
			if (!strcmp(classes[j], lines[i].class))
				break;
		if (j == nclasses && nclasses < MAX_CLASSES)
			classes[nclasses++] = lines[i].class;
	}
	if (!found)
		return 1;

	s = splat_start(first);
	e = splat_end(s);
	fprintf(out, "class: %s\nclasses:", lines[first].class);
	for (j = 0; j < nclasses; j++)
		fprintf(out, "%s %s", j ? "," : "", classes[j]);
	fprintf(out, "\nlines: %zu-%zu\n", s + 1, e);
	for (i = s; i < e && i < s + (size_t)max; i++)
		fprintf(out, "  | %s\n", lines[i].text);
	if (e - s > (size_t)max)
		fprintf(out, "  | ... (%zu more lines in the log)\n", e - s - max);
	for (i = s; trace && i < e; i++)
		fprintf(trace, "%s\n", lines[i].text);
	return 0;
}

/* Forget the lines read, for the next log. */
static void forget(void)
{
	while (nlines)
		free(lines[--nlines].text);
}

#ifndef HOST_TOOL_NO_MAIN
int main(int argc, char **argv)
{
	const char *trace = NULL;
	FILE *f, *t = NULL;
	long max = 80;
	int opt, rc;

	while ((opt = getopt(argc, argv, "n:t:h")) != -1) {
		switch (opt) {
		case 'n':
			max = strtol(optarg, NULL, 10);
			if (max <= 0)
				usage(argv[0], "-n takes a number of lines above 0");
			break;
		case 't':
			trace = optarg;
			break;
		default:
			usage(argv[0], "unknown option or a missing value (see above)");
		}
	}
	if (optind != argc - 1)
		usage(argv[0], "exactly one console log is read");
	f = fopen(argv[optind], "r");
	if (!f) {
		perror(argv[optind]);
		return 2;
	}
	read_log(f);
	fclose(f);
	if (trace && nlines) {
		t = fopen(trace, "w");
		if (!t) {
			perror(trace);
			return 2;
		}
	}
	rc = report(stdout, t, max);
	if (t && fclose(t)) {
		perror(trace);
		return 2;
	}
	forget();
	return rc;
}
#endif /* HOST_TOOL_NO_MAIN */
