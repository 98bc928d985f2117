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
 * results are missing, 2 bad usage or unreadable input.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("ktap-report");
		exit(2);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		perror("ktap-report");
		exit(2);
	}
	return d;
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
		*reason = NULL;
		return 1;
	}
	hash = strstr(p, " # ");
	len = hash ? (size_t)(hash - p) : strlen(p);
	n = xstrdup(p);
	n[len] = '\0';
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
	}
	return 1;
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
			return;
		}
		/* "# name: exit 0 in 1.23 s", the runner's timing line */
		t = strstr(line, ": exit ");
		if (line[0] == '#' && t && strstr(t, " in ")) {
			pending_seconds = strtod(strstr(t, " in ") + 4, NULL);
			pending_log = xrealloc(pending_log,
				(npending_log + 1) * sizeof(*pending_log));
			pending_log[npending_log++] = xstrdup(line);
			return;
		}
		if (parse_result(line, &res, &name, &reason)) {
			struct test *test;

			tests = xrealloc(tests, (ntests + 1) * sizeof(*tests));
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
			npending_log = 0;
			pending_cases = NULL;
			npending_cases = 0;
			pending_seconds = 0;
			return;
		}
	}

	pending_log = xrealloc(pending_log,
			       (npending_log + 1) * sizeof(*pending_log));
	pending_log[npending_log++] = xstrdup(line + (indent >= 2 ? 2 : indent));

	/* A case of the test: a result line one level down. */
	if (indent == 2 && parse_result(line + 2, &res, &name, &reason)) {
		pending_cases = xrealloc(pending_cases,
				(npending_cases + 1) * sizeof(*pending_cases));
		pending_cases[npending_cases].name = name;
		pending_cases[npending_cases].result = res;
		npending_cases++;
		free(reason);
	}
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void xml_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = *s;

		switch (c) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			/* XML 1.0 forbids most control characters. */
			if (c >= 0x20 || c == '\n' || c == '\t')
				fputc(c, f);
		}
	}
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

static int write_json(const char *path, const char *suite, long missing)
{
	char *tmp;
	FILE *f = create(path, &tmp);
	size_t i, j, n[4];

	if (!f)
		return -1;
	count(n);
	fputs("{\n  \"suite\": ", f);
	json_string(f, suite);
	fprintf(f, ",\n  \"plan\": %ld,\n  \"missing\": %ld,\n", plan, missing);
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
	return commit(f, tmp, path);
}

static void junit_log(FILE *f, const struct test *t)
{
	size_t j;

	for (j = 0; j < t->nlog; j++) {
		xml_text(f, t->log[j]);
		fputc('\n', f);
	}
}

static int write_junit(const char *path, const char *suite, long missing)
{
	char *tmp;
	FILE *f = create(path, &tmp);
	size_t i, n[4];

	if (!f)
		return -1;
	count(n);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", f);
	fputs("  <testsuite name=\"", f);
	xml_text(f, suite);
	fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%ld\" skipped=\"%zu\">\n",
		ntests + (missing > 0 ? 1 : 0), n[FAIL] + n[TIMEOUT],
		missing > 0 ? 1L : 0L, n[SKIP]);
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
	if (missing > 0)
		fprintf(f, "    <testcase classname=\"%s\" name=\"(missing results)\"><error message=\"%ld result(s) never arrived: the guest died or timed out\"/></testcase>\n",
			suite, missing);
	fputs("  </testsuite>\n</testsuites>\n", f);
	return commit(f, tmp, path);
}

static void print_summary(const char *suite, long missing, int quiet)
{
	size_t i, j, n[4];
	size_t width = 4;

	for (i = 0; i < ntests; i++)
		if (strlen(tests[i].name) > width)
			width = strlen(tests[i].name);

	printf("\n%-*s  %-7s  %5s  %9s  %s\n", (int)width, "TEST", "RESULT",
	       "CASES", "SECONDS", "NOTE");
	for (i = 0; i < ntests; i++) {
		const struct test *t = &tests[i];
		size_t ok = 0;

		for (j = 0; j < t->ncases; j++)
			ok += t->cases[j].result != FAIL;
		printf("%-*s  %-7s  %2zu/%-2zu  %9.2f  %s\n", (int)width,
		       t->name, result_name[t->result], ok, t->ncases,
		       t->seconds, t->reason ? t->reason : "");
	}

	/* Every failure with its own lines: the "not ok" alone says nothing. */
	for (i = 0; i < ntests && !quiet; i++) {
		const struct test *t = &tests[i];

		if (t->result != FAIL && t->result != TIMEOUT)
			continue;
		printf("\n--- %s: %s ---\n", t->name, result_name[t->result]);
		for (j = 0; j < t->ncases; j++)
			if (t->cases[j].result == FAIL)
				printf("failed case: %s\n", t->cases[j].name);
		/* The last lines are where a test says what went wrong. */
		for (j = t->nlog > 60 ? t->nlog - 60 : 0; j < t->nlog; j++)
			printf("  %s\n", t->log[j]);
	}
	if (missing > 0)
		printf("\n%s: %ld of %ld results never arrived (the guest died or timed out)\n",
		       suite, missing, plan);

	count(n);
	printf("\n%s: %zu passed, %zu failed, %zu skipped\n", suite, n[PASS],
	       n[FAIL] + n[TIMEOUT] + (missing > 0 ? (size_t)missing : 0),
	       n[SKIP]);
}

static void usage(void)
{
	fputs("Usage: ktap-report [-n SUITE] [-j FILE.json] [-x FILE.xml] [-k FILE.ktap] [-q] KTAP\n"
	      "       ktap-report -c BASE.ktap PATCHED.ktap\n", stderr);
	exit(2);
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
	tests = NULL;
	ntests = 0;
	plan = -1;
	while ((len = getline(&line, &cap, in)) != -1) {
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		add_line(line);
	}
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
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
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
	if (json && write_json(json, suite, missing)) {
		fprintf(stderr, "ktap-report: %s: %s\n", json, strerror(errno));
		return 2;
	}
	if (junit && write_junit(junit, suite, missing)) {
		fprintf(stderr, "ktap-report: %s: %s\n", junit, strerror(errno));
		return 2;
	}
	if (copy && copy_ktap(copy, argv[optind])) {
		fprintf(stderr, "ktap-report: %s: %s\n", copy, strerror(errno));
		return 2;
	}
	if (missing > 0)
		return 1;
	for (i = 0; i < ntests; i++)
		if (tests[i].result == FAIL || tests[i].result == TIMEOUT)
			return 1;
	return 0;
}
