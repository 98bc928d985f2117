// SPDX-License-Identifier: GPL-2.0
/*
 * Parse the guest suite's KTAP and report it: a summary table, the
 * diagnostics of every failure, JSON and JUnit XML for CI systems.
 *
 * Usage: ktap-report [-n SUITE] [-j FILE.json] [-x FILE.xml] [-k FILE.ktap] [-q] KTAP
 *        ktap-report -c BASE.ktap PATCHED.ktap   (side by side, per case)
 *
 * -k copies KTAP itself to FILE.ktap.  Each output file is written under a
 * temporary name beside it and renamed into place: guests that report at
 * once replace a shared results file whole, and no reader sees half of it.
 *
 * The top level is one result per guest test; lines indented below it
 * belong to that test (a kselftest harness's own TAP among them, whose
 * "ok"/"not ok" lines are the test's cases).  A plan that promises more
 * results than arrived (a guest that died mid-run) is a failure too.
 *
 * Exit codes: 0 every test passed or was skipped, 1 a test failed or
 * results are missing, 2 unreadable input or unwritable output, 64 bad
 * usage.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../include/host-util.h"

const char *host_prog = "ktap-report";

/*
 * What a guest may print is unbounded; what is kept of it is not.  Past
 * MAX_TESTS results the rest are counted, not kept; a test keeps its first
 * MAX_LOG lines, each cut to MAX_TEXT bytes, MAX_TEST_TEXT bytes of them
 * (xmllint reads no text node over 10 MB: a test's lines are one, its
 * <system-out>); all kept text together stays under MAX_KEPT bytes.  A cut is said in the report, and more results
 * than MAX_TESTS fail it: the guest printed what no suite of ours prints.
 */
#define MAX_TESTS	10000
#define MAX_LOG		10000
#define MAX_TEXT	4096
#define MAX_TEST_TEXT	(2 * MB)
#define MAX_KEPT	(64 * MB)

enum result { PASS, FAIL, SKIP, TIMEOUT };

static const char * const result_name[] = {
	[PASS] = "pass", [FAIL] = "fail", [SKIP] = "skip", [TIMEOUT] = "timeout",
};

struct tcase {
	char *name;
	enum result result;
};

struct test {
	char *name;
	enum result result;
	char *reason;		/* of a SKIP or TIMEOUT directive */
	double seconds;
	char **log;		/* the test's own lines, indentation removed */
	size_t nlog;
	struct tcase *cases;
	size_t ncases;
};

struct suite {
	struct test *tests;
	size_t ntests;
	long plan;
};

/* The suite being reported (and, with -c, the one it is compared with). */
static struct test *tests;
static size_t ntests;
static long plan = -1;

/* The lines of the test whose result has not arrived yet. */
static char **pending_log;
static size_t npending_log;
static struct tcase *pending_cases;
static size_t npending_cases;
static double pending_seconds;

static size_t cap_tests, cap_pending_log, cap_pending_cases;
static size_t dropped_tests;	/* results past MAX_TESTS */
static size_t dropped_lines;	/* lines past MAX_LOG or MAX_KEPT */
static long kept;		/* bytes of text kept */
static long pending_text;	/* of them, the pending test's lines */

/* A copy of guest text, cut to MAX_TEXT bytes; NULL past MAX_KEPT. */
static char *keep(const char *s)
{
	char *d;

	if (kept > MAX_KEPT)
		return NULL;
	d = xstrdup(s);
	utf8_cut(d, MAX_TEXT);
	kept += strlen(d) + 1;
	return d;
}

/* Grow array *P of *CAP elements of SIZE bytes to hold N + 1. */
static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? 2 * *cap : 16;
	return xrealloc(p, *cap * size);
}

/*
 * Split "ok 3 name # SKIP why" into its parts.  Returns 0 when the line is
 * not a result line.
 */
static int parse_result(const char *line, enum result *res, char **name,
			char **reason)
{
	const char *p = line;
	const char *hash;
	char *n;
	size_t len;

	if (!strncmp(p, "not ok ", 7)) {
		*res = FAIL;
		p += 7;
	} else if (!strncmp(p, "ok ", 3)) {
		*res = PASS;
		p += 3;
	} else {
		return 0;
	}
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	while (*p == ' ')
		p++;
	if (*p == '-' && p[1] == ' ')
		p += 2;
	/* kselftest's "ok 1 # XFAIL name": an expected failure, a pass. */
	if (!strncmp(p, "# XFAIL ", 8)) {
		*name = xstrdup(p + 8);
		utf8_cut(*name, MAX_TEXT);
		*reason = NULL;
		return 1;
	}
	hash = strstr(p, " # ");
	len = hash ? (size_t)(hash - p) : strlen(p);
	n = xstrdup(p);
	n[len] = '\0';
	utf8_cut(n, MAX_TEXT);
	*name = n;
	*reason = NULL;
	if (hash) {
		const char *d = hash + 3;

		if (!strncasecmp(d, "SKIP", 4)) {
			*res = SKIP;
			d += 4;
		} else if (!strncasecmp(d, "TIMEOUT", 7)) {
			*res = TIMEOUT;
			d += 7;
		}
		while (*d == ' ')
			d++;
		*reason = xstrdup(d);
		utf8_cut(*reason, MAX_TEXT);
	}
	return 1;
}

/* One line of the test whose result has not arrived yet, kept if there is room. */
static void pend_line(const char *line)
{
	char *copy;

	if (npending_log >= MAX_LOG || pending_text > MAX_TEST_TEXT ||
	    !(copy = keep(line))) {
		dropped_lines++;
		return;
	}
	pending_text += strlen(copy) + 1;
	pending_log = grow(pending_log, &cap_pending_log, npending_log,
			   sizeof(*pending_log));
	pending_log[npending_log++] = copy;
}

static void add_line(const char *line)
{
	size_t indent = 0;
	enum result res;
	char *name, *reason;
	const char *t;

	while (line[indent] == ' ')
		indent++;

	if (indent == 0) {
		if (!strncmp(line, "KTAP version", 12) ||
		    !strncmp(line, "TAP version", 11))
			return;
		if (!strncmp(line, "1..", 3)) {
			plan = strtol(line + 3, NULL, 10);
			/* No suite plans more than it could report. */
			if (plan > 10L * MAX_TESTS)
				plan = 10L * MAX_TESTS;
			return;
		}
		/* "# name: exit 0 in 1.23 s", the runner's timing line */
		t = strstr(line, ": exit ");
		if (line[0] == '#' && t && strstr(t, " in ")) {
			pending_seconds = strtod(strstr(t, " in ") + 4, NULL);
			/* NaN, or a guest's 1e308: no time to print. */
			if (!(pending_seconds >= 0 && pending_seconds < 1e9))
				pending_seconds = 0;
			pend_line(line);
			return;
		}
		if (parse_result(line, &res, &name, &reason)) {
			struct test *test;
			size_t i;

			if (ntests >= MAX_TESTS) {
				dropped_tests++;
				free(name);
				free(reason);
				dropped_lines += npending_log;
				for (i = 0; i < npending_log; i++)
					free(pending_log[i]);
				for (i = 0; i < npending_cases; i++)
					free(pending_cases[i].name);
				npending_log = npending_cases = 0;
				pending_seconds = 0;
				pending_text = 0;
				return;
			}
			tests = grow(tests, &cap_tests, ntests, sizeof(*tests));
			test = &tests[ntests++];
			test->name = name;
			test->result = res;
			test->reason = reason;
			test->seconds = pending_seconds;
			test->log = pending_log;
			test->nlog = npending_log;
			test->cases = pending_cases;
			test->ncases = npending_cases;
			pending_log = NULL;
			npending_log = cap_pending_log = 0;
			pending_cases = NULL;
			npending_cases = cap_pending_cases = 0;
			pending_seconds = 0;
			pending_text = 0;
			return;
		}
	}

	pend_line(line + (indent >= 2 ? 2 : indent));

	/* A case of the test: a result line one level down. */
	if (indent == 2 && npending_cases < MAX_LOG &&
	    parse_result(line + 2, &res, &name, &reason)) {
		pending_cases = grow(pending_cases, &cap_pending_cases,
				     npending_cases, sizeof(*pending_cases));
		pending_cases[npending_cases].name = name;
		pending_cases[npending_cases].result = res;
		npending_cases++;
		free(reason);
	}
}

/* S for a terminal: no control character of the guest's reaches it. */
static void term_text(const char *s, int width)
{
	int n = 0;

	for (; *s && n < 200; s++, n++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
	for (; n < width; n++)
		putchar(' ');
}

static void count(size_t n[4])
{
	size_t i;

	memset(n, 0, 4 * sizeof(*n));
	for (i = 0; i < ntests; i++)
		n[tests[i].result]++;
}

/* The temporary name of output PATH: PATH.tmp.PID, in its directory. */
static char *tmp_name(const char *path)
{
	size_t n = strlen(path) + 32;
	char *tmp = malloc(n);

	if (tmp)
		snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
	return tmp;
}

/* Close output F (its temporary name TMP) and rename it to PATH. */
static int commit(FILE *f, char *tmp, const char *path)
{
	int rc = ferror(f) | fclose(f);

	if (!rc)
		rc = rename(tmp, path);
	if (rc) {
		int saved = errno;

		unlink(tmp);
		errno = saved;
	}
	free(tmp);
	return rc;
}

/* A new output for PATH under its temporary name (*TMP), or NULL. */
static FILE *create(const char *path, char **tmp)
{
	FILE *f;

	*tmp = tmp_name(path);
	if (!*tmp)
		return NULL;
	f = fopen(*tmp, "w");
	if (!f) {
		free(*tmp);
		*tmp = NULL;
	}
	return f;
}

static int copy_ktap(const char *path, const char *from)
{
	char buf[65536], *tmp;
	size_t n;
	FILE *in = fopen(from, "r"), *f;

	if (!in)
		return -1;
	f = create(path, &tmp);
	if (!f) {
		fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, f);
	if (ferror(in)) {
		fclose(in);
		fclose(f);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	fclose(in);
	return commit(f, tmp, path);
}

/* The suite as JSON, to F. */
static void json_out(FILE *f, const char *suite, long missing)
{
	size_t i, j, n[4];

	count(n);
	fputs("{\n  \"suite\": ", f);
	json_string(f, suite);
	fprintf(f, ",\n  \"plan\": %ld,\n  \"missing\": %ld,\n", plan, missing);
	fprintf(f, "  \"dropped\": {\"results\": %zu, \"lines\": %zu},\n",
		dropped_tests, dropped_lines);
	fprintf(f, "  \"totals\": {\"pass\": %zu, \"fail\": %zu, \"skip\": %zu, \"timeout\": %zu},\n",
		n[PASS], n[FAIL], n[SKIP], n[TIMEOUT]);
	fputs("  \"tests\": [", f);
	for (i = 0; i < ntests; i++) {
		struct test *t = &tests[i];

		fputs(i ? ",\n    {" : "\n    {", f);
		fputs("\"name\": ", f);
		json_string(f, t->name);
		fprintf(f, ", \"result\": \"%s\", \"seconds\": %.2f",
			result_name[t->result], t->seconds);
		if (t->reason) {
			fputs(", \"reason\": ", f);
			json_string(f, t->reason);
		}
		fputs(", \"cases\": [", f);
		for (j = 0; j < t->ncases; j++) {
			fputs(j ? ", {\"name\": " : "{\"name\": ", f);
			json_string(f, t->cases[j].name);
			fprintf(f, ", \"result\": \"%s\"}",
				result_name[t->cases[j].result]);
		}
		fputs("], \"log\": [", f);
		for (j = 0; j < t->nlog; j++) {
			if (j)
				fputs(", ", f);
			json_string(f, t->log[j]);
		}
		fputs("]}", f);
	}
	fputs("\n  ]\n}\n", f);
}

static void junit_log(FILE *f, const struct test *t)
{
	size_t j;

	for (j = 0; j < t->nlog; j++) {
		xml_text(f, t->log[j]);
		fputc('\n', f);
	}
}

/* The suite as JUnit XML, to F. */
static void junit_out(FILE *f, const char *suite, long missing)
{
	size_t i, n[4];

	count(n);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
	fputs("  <testsuite name=\"", f);
	xml_text(f, suite);
	fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%d\" skipped=\"%zu\">\n",
		ntests + (missing > 0) + !!dropped_tests, n[FAIL] + n[TIMEOUT],
		(missing > 0) + !!dropped_tests, n[SKIP]);
	for (i = 0; i < ntests; i++) {
		const struct test *t = &tests[i];

		fputs("    <testcase classname=\"", f);
		xml_text(f, suite);
		fputs("\" name=\"", f);
		xml_text(f, t->name);
		fprintf(f, "\" time=\"%.2f\">\n", t->seconds);
		if (t->result == SKIP) {
			fputs("      <skipped message=\"", f);
			xml_text(f, t->reason ? t->reason : "");
			fputs("\"/>\n", f);
		} else if (t->result != PASS) {
			fprintf(f, "      <failure message=\"%s\">",
				result_name[t->result]);
			junit_log(f, t);
			fputs("</failure>\n", f);
		}
		fputs("      <system-out>", f);
		junit_log(f, t);
		fputs("</system-out>\n    </testcase>\n", f);
	}
	if (missing > 0) {
		fputs("    <testcase classname=\"", f);
		xml_text(f, suite);
		fprintf(f, "\" name=\"(missing results)\"><error message=\"%ld result(s) never arrived: the guest died or timed out\"/></testcase>\n",
			missing);
	}
	if (dropped_tests) {
		fputs("    <testcase classname=\"", f);
		xml_text(f, suite);
		fprintf(f, "\" name=\"(too many results)\"><error message=\"%zu result(s) past the first %d were not kept\"/></testcase>\n",
			dropped_tests, MAX_TESTS);
	}
	fputs("  </testsuite>\n</testsuites>\n", f);
}

/* The report OUT writes, into PATH through its temporary name: 0 written. */
static int write_report(const char *path, void (*out)(FILE *, const char *, long),
			const char *suite, long missing)
{
	char *tmp;
	FILE *f = create(path, &tmp);

	if (!f)
		return -1;
	out(f, suite, missing);
	return commit(f, tmp, path);
}

static void print_summary(const char *suite, long missing, int quiet)
{
	size_t i, j, n[4];
	size_t width = 4;

	/* A guest's 1 MB name must not make every row 1 MB wide. */
	for (i = 0; i < ntests; i++)
		if (strlen(tests[i].name) > width)
			width = strlen(tests[i].name) < 60 ? strlen(tests[i].name) : 60;

	printf("\n%-*s  %-7s  %5s  %9s  %s\n", (int)width, "TEST", "RESULT",
	       "CASES", "SECONDS", "NOTE");
	for (i = 0; i < ntests; i++) {
		const struct test *t = &tests[i];
		size_t ok = 0;

		for (j = 0; j < t->ncases; j++)
			ok += t->cases[j].result != FAIL;
		term_text(t->name, (int)width);
		printf("  %-7s  %2zu/%-2zu  %9.2f  ", result_name[t->result],
		       ok, t->ncases, t->seconds);
		term_text(t->reason ? t->reason : "", 0);
		putchar('\n');
	}

	/* Every failure with its own lines: the "not ok" alone says nothing. */
	for (i = 0; i < ntests && !quiet; i++) {
		const struct test *t = &tests[i];

		if (t->result != FAIL && t->result != TIMEOUT)
			continue;
		fputs("\n--- ", stdout);
		term_text(t->name, 0);
		printf(": %s ---\n", result_name[t->result]);
		for (j = 0; j < t->ncases; j++)
			if (t->cases[j].result == FAIL) {
				fputs("failed case: ", stdout);
				term_text(t->cases[j].name, 0);
				putchar('\n');
			}
		/* The last lines are where a test says what went wrong. */
		for (j = t->nlog > 60 ? t->nlog - 60 : 0; j < t->nlog; j++) {
			fputs("  ", stdout);
			term_text(t->log[j], 0);
			putchar('\n');
		}
	}
	if (dropped_tests)
		printf("\n%s: %zu more results past the first %d were not kept: the guest printed more than any suite of ours\n",
		       suite, dropped_tests, MAX_TESTS);
	if (dropped_lines)
		printf("%s: %zu diagnostic lines past a test's first %d (or its %ld MB, or %ld MB in all) were not kept\n",
		       suite, dropped_lines, MAX_LOG, MAX_TEST_TEXT / MB, MAX_KEPT / MB);
	if (missing > 0)
		printf("\n%s: %ld of %ld results never arrived (the guest died or timed out)\n",
		       suite, missing, plan);

	count(n);
	printf("\n%s: %zu passed, %zu failed, %zu skipped\n", suite, n[PASS],
	       n[FAIL] + n[TIMEOUT] + (missing > 0 ? (size_t)missing : 0) +
	       dropped_tests, n[SKIP]);
}

static void usage(const char *why)
{
	fprintf(stderr, "ktap-report: error: %s\n"
		"Usage: ktap-report [-n SUITE] [-j FILE.json] [-x FILE.xml] [-k FILE.ktap] [-q] KTAP\n"
		"       ktap-report -c BASE.ktap PATCHED.ktap\n", why);
	exit(64);
}

/* A new suite: the last one is handed over (parse_file), not freed. */
static void parse_reset(void)
{
	tests = NULL;
	ntests = cap_tests = 0;
	plan = -1;
	pending_log = NULL;
	npending_log = cap_pending_log = 0;
	pending_cases = NULL;
	npending_cases = cap_pending_cases = 0;
	pending_seconds = 0;
	dropped_tests = dropped_lines = 0;
	kept = pending_text = 0;
}

/*
 * One line of KTAP, LEN bytes (its newline, if any, among them), in place.
 * A NUL amid it becomes a byte that is no UTF-8 (shown as U+FFFD in the
 * JSON and XML) rather than the line's end: nothing after it is lost.
 */
static void parse_line(char *line, size_t len)
{
	size_t i;

	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	for (i = 0; i < len; i++)
		if (!line[i])
			line[i] = (char)0xff;
	add_line(line);
}

/* Read one KTAP file into the globals and hand them over as a suite. */
static struct suite parse_file(const char *path)
{
	struct suite su;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	FILE *in = fopen(path, "r");

	if (!in) {
		fprintf(stderr, "ktap-report: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	parse_reset();
	while ((len = getline(&line, &cap, in)) != -1)
		parse_line(line, len);
	free(line);
	fclose(in);
	su.tests = tests;
	su.ntests = ntests;
	su.plan = plan;
	return su;
}

static const struct test *find_test(const struct suite *su, const char *name)
{
	size_t i;

	for (i = 0; i < su->ntests; i++)
		if (!strcmp(su->tests[i].name, name))
			return &su->tests[i];
	return NULL;
}

static const char *case_result(const struct test *t, const char *name)
{
	size_t i;

	for (i = 0; t && i < t->ncases; i++)
		if (!strcmp(t->cases[i].name, name))
			return result_name[t->cases[i].result];
	return "-";
}

static void compare_row(const char *name, const char *a, const char *b)
{
	printf("%-60.60s  %-8s  %-8s  %s\n", name, a, b,
	       strcmp(a, b) ? "<- differs" : "");
}

/*
 * Base and patched side by side: every test, and every case of it, with
 * the results that differ marked.
 */
static int compare(const char *base_path, const char *patched_path)
{
	struct suite base = parse_file(base_path);
	struct suite patched = parse_file(patched_path);
	size_t i, j;
	char name[512];

	printf("%-60s  %-8s  %-8s\n", "TEST / CASE", "BASE", "PATCHED");
	for (i = 0; i < patched.ntests; i++) {
		const struct test *p = &patched.tests[i];
		const struct test *b = find_test(&base, p->name);

		compare_row(p->name, b ? result_name[b->result] : "-",
			    result_name[p->result]);
		for (j = 0; j < p->ncases; j++) {
			snprintf(name, sizeof(name), "  %s", p->cases[j].name);
			compare_row(name, case_result(b, p->cases[j].name),
				    result_name[p->cases[j].result]);
		}
	}
	for (i = 0; i < base.ntests; i++)
		if (!find_test(&patched, base.tests[i].name))
			compare_row(base.tests[i].name,
				    result_name[base.tests[i].result], "-");
	return 0;
}

#ifndef HOST_TOOL_NO_MAIN
int main(int argc, char **argv)
{
	const char *suite = "guest", *json = NULL, *junit = NULL, *copy = NULL;
	const char *base = NULL;
	long missing;
	int opt, quiet = 0;
	size_t i;

	while ((opt = getopt(argc, argv, "n:j:x:k:qc:")) != -1) {
		switch (opt) {
		case 'n': suite = optarg; break;
		case 'k': copy = optarg; break;
		case 'j': json = optarg; break;
		case 'x': junit = optarg; break;
		case 'q': quiet = 1; break;
		case 'c': base = optarg; break;
		default: usage("unknown option or a missing value (see above)");
		}
	}
	if (optind != argc - 1)
		usage("exactly one KTAP file is read (the guest's results)");
	if (base)
		return compare(base, argv[optind]);

	parse_file(argv[optind]);
	missing = plan > (long)ntests ? plan - (long)ntests : 0;
	if (plan < 0) {
		fprintf(stderr, "ktap-report: %s: no KTAP plan: the suite never started\n",
			argv[optind]);
		missing = 1;
	}
	print_summary(suite, missing, quiet);
	if (json && write_report(json, json_out, suite, missing)) {
		fprintf(stderr, "ktap-report: %s: %s\n", json, strerror(errno));
		return 2;
	}
	if (junit && write_report(junit, junit_out, suite, missing)) {
		fprintf(stderr, "ktap-report: %s: %s\n", junit, strerror(errno));
		return 2;
	}
	if (copy && copy_ktap(copy, argv[optind])) {
		fprintf(stderr, "ktap-report: %s: %s\n", copy, strerror(errno));
		return 2;
	}
	if (missing > 0 || dropped_tests)
		return 1;
	for (i = 0; i < ntests; i++)
		if (tests[i].result == FAIL || tests[i].result == TIMEOUT)
			return 1;
	return 0;
}
#endif /* HOST_TOOL_NO_MAIN */
