// SPDX-License-Identifier: GPL-2.0
/*
 * Medians, their 95 % intervals and a paired ratio with a verdict, for the guest bench.
 *
 * Usage: bench-stats [-a KERNEL] [-b KERNEL] [FILE]
 *
 * Reads samples, one a line (FILE, or standard input):
 *
 *   SCENARIO METRIC KERNEL PAIR VALUE
 *
 * where PAIR numbers the boots: the A boot and the B boot of one PAIR ran
 * one after the other (ABAB...), so they saw the same machine.  A line
 * starting with '#' and an empty line are skipped.  For every SCENARIO and
 * METRIC, in the order first seen, it prints one line:
 *
 *   SCENARIO METRIC a N MED LO HI b N MED LO HI ratio N MED LO HI VERDICT
 *
 * MED is the median of the kernel's values, [LO, HI] the distribution-free
 * interval of the median from order statistics: the k-th smallest and the
 * k-th largest value, k the largest rank for which P(Bin(n, 1/2) < k) is at
 * most 2.5 %, so that the interval holds the true median with probability
 * at least 95 % whatever the distribution (n = 10: the 2nd and the 9th,
 * 97.9 %; n = 20: the 6th and the 15th, 95.9 %).  Below 6 values there is
 * no such interval, and LO and HI are "-".  The ratio is taken pair by
 * pair, B over A (patched over base), and gets the same median and
 * interval.  VERDICT is "faster" when the ratio's interval lies below 1,
 * "slower" when above, "no-difference" when it holds 1, "too-few-pairs"
 * without an interval and "no-ratio" when an A value is not positive.
 *
 * Exit codes: 0 done, 64 usage, 65 a malformed line (its number and the
 * reason on stderr), 66 FILE cannot be read.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../include/host-util.h"

const char *host_prog = "bench-stats";

#define EX_USAGE	64
#define EX_DATAERR	65
#define EX_NOINPUT	66
#define TAIL		0.025	/* each side's share of the 5 % left out */

struct sample {
	long pair;
	double value;
};

struct series {
	char *scenario, *metric;
	struct sample *s[2];	/* [0] kernel A, [1] kernel B */
	size_t n[2], cap[2];
};

static struct series *all;
static size_t nall, capall;

static struct series *find_series(const char *scenario, const char *metric)
{
	struct series *r;
	size_t i;

	for (i = 0; i < nall; i++)
		if (!strcmp(all[i].scenario, scenario) && !strcmp(all[i].metric, metric))
			return &all[i];
	if (nall == capall) {
		capall = capall ? 2 * capall : 16;
		all = xrealloc(all, capall * sizeof(*all));
	}
	r = &all[nall++];
	memset(r, 0, sizeof(*r));
	r->scenario = xstrdup(scenario);
	r->metric = xstrdup(metric);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* P(B <= j) for B ~ Bin(n, 1/2). */
static double binom_cdf_half(size_t n, size_t j)
{
	double sum = 0;
	size_t i;

	for (i = 0; i <= j && i <= n; i++)
		sum += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) -
			   n * log(2.0));
	return sum;
}

/*
 * The rank k (1-based) of the interval's ends, x(k) and x(n + 1 - k): the
 * largest k with P(B <= k - 1) <= TAIL, or 0 when even k = 1 misses (n < 6).
 */
static size_t ci_rank(size_t n)
{
	size_t k = 0;

	while (k + 1 <= (n + 1) / 2 && binom_cdf_half(n, k) <= TAIL)
		k++;
	return k;
}

struct summary {
	size_t n;
	double med, lo, hi;
	int has_ci;
};

/* Sorts v in place. */
static struct summary summarise(double *v, size_t n)
{
	struct summary r = { .n = n };
	size_t k;

	if (!n)
		return r;
	qsort(v, n, sizeof(*v), cmp_double);
	r.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	k = ci_rank(n);
	if (k) {
		r.has_ci = 1;
		r.lo = v[k - 1];
		r.hi = v[n - k];
	}
	return r;
}

static void print_summary(const char *tag, const struct summary *s, const char *fmt)
{
	printf(" %s %zu ", tag, s->n);
	if (!s->n) {
		printf("- - -");
		return;
	}
	printf(fmt, s->med);
	if (s->has_ci) {
		putchar(' ');
		printf(fmt, s->lo);
		putchar(' ');
		printf(fmt, s->hi);
	} else {
		printf(" - -");
	}
}

static void report(struct series *sr)
{
	double *v, *ratio;
	struct summary sa, sb, sr_;
	size_t i, j, nr = 0, nmax;
	int bad_a = 0;
	const char *verdict;

	nmax = sr->n[0] > sr->n[1] ? sr->n[0] : sr->n[1];
	v = xrealloc(NULL, (nmax + 1) * sizeof(*v));
	ratio = xrealloc(NULL, (nmax + 1) * sizeof(*ratio));
	/* Pairs first: summarise() sorts, so the ratios come before it. */
	for (i = 0; i < sr->n[0]; i++) {
		for (j = 0; j < sr->n[1]; j++) {
			if (sr->s[1][j].pair != sr->s[0][i].pair)
				continue;
			if (sr->s[0][i].value <= 0)
				bad_a = 1;
			else
				ratio[nr++] = sr->s[1][j].value / sr->s[0][i].value;
		}
	}
	printf("%s %s", sr->scenario, sr->metric);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < sr->n[i]; j++)
			v[j] = sr->s[i][j].value;
		if (i == 0)
			sa = summarise(v, sr->n[i]);
		else
			sb = summarise(v, sr->n[i]);
	}
	print_summary("a", &sa, "%.1f");
	print_summary("b", &sb, "%.1f");
	sr_ = summarise(ratio, nr);
	print_summary("ratio", &sr_, "%.3f");
	if (bad_a)
		verdict = "no-ratio";
	else if (!sr_.has_ci)
		verdict = "too-few-pairs";
	else if (sr_.hi < 1)
		verdict = "faster";
	else if (sr_.lo > 1)
		verdict = "slower";
	else
		verdict = "no-difference";
	printf(" %s\n", verdict);
	free(v);
	free(ratio);
}

static void usage(FILE *f, int code)
{
	fprintf(f,
		"Usage: %s [-a KERNEL] [-b KERNEL] [FILE]\n"
		"\n"
		"Reads \"SCENARIO METRIC KERNEL PAIR VALUE\" lines (FILE or stdin) and prints,\n"
		"per scenario and metric, the median and its 95 %% order-statistics interval\n"
		"for kernel A (default base) and B (default patched), the pair-by-pair B/A\n"
		"ratio's median and interval, and a verdict: faster, slower, no-difference,\n"
		"too-few-pairs (under 6 pairs) or no-ratio.\n"
		"\n"
		"Exit codes: 0 done, 64 usage, 65 a malformed line, 66 FILE unreadable\n",
		host_prog);
	exit(code);
}

static void data_error(const char *file, unsigned long line, const char *what)
{
	fprintf(stderr, "%s: %s:%lu: %s\n", host_prog, file, line, what);
	fprintf(stderr, "%s: each line must be \"SCENARIO METRIC KERNEL PAIR VALUE\" "
		"(PAIR a whole number >= 0, VALUE a number): fix the samples file or what wrote it\n",
		host_prog);
	exit(EX_DATAERR);
}

int main(int argc, char **argv)
{
	const char *kern[2] = { "base", "patched" }, *file = "-";
	char buf[4096], scen[1024], metric[1024], kname[1024], pairs[64], vals[64], extra[2];
	unsigned long line = 0;
	FILE *in = stdin;
	size_t i;
	int opt;

	while ((opt = getopt(argc, argv, "a:b:h")) != -1) {
		switch (opt) {
		case 'a': kern[0] = optarg; break;
		case 'b': kern[1] = optarg; break;
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, EX_USAGE);
		}
	}
	if (argc - optind > 1)
		usage(stderr, EX_USAGE);
	if (!strcmp(kern[0], kern[1])) {
		fprintf(stderr, "%s: -a and -b name the same kernel (%s): give two different ones\n",
			host_prog, kern[0]);
		return EX_USAGE;
	}
	if (optind < argc && strcmp(argv[optind], "-")) {
		file = argv[optind];
		in = fopen(file, "r");
		if (!in) {
			fprintf(stderr, "%s: cannot read %s: %s\n", host_prog, file, strerror(errno));
			return EX_NOINPUT;
		}
	}
	while (fgets(buf, sizeof(buf), in)) {
		struct series *sr;
		char *end;
		double value;
		long pair;
		int k, n;

		line++;
		if (!strchr(buf, '\n') && !feof(in))
			data_error(file, line, "line too long");
		n = sscanf(buf, "%1023s %1023s %1023s %63s %63s %1s", scen, metric, kname, pairs,
			   vals, extra);
		if (n <= 0 || scen[0] == '#')
			continue;
		if (n != 5)
			data_error(file, line, n > 5 ? "more than five fields" : "fewer than five fields");
		errno = 0;
		pair = strtol(pairs, &end, 10);
		if (*end || errno || pair < 0)
			data_error(file, line, "PAIR is not a whole number >= 0");
		value = strtod(vals, &end);
		if (*end || errno || !isfinite(value))
			data_error(file, line, "VALUE is not a finite number");
		if (!strcmp(kname, kern[0]))
			k = 0;
		else if (!strcmp(kname, kern[1]))
			k = 1;
		else
			continue;	/* a third kernel: not compared here */
		sr = find_series(scen, metric);
		for (i = 0; i < sr->n[k]; i++)
			if (sr->s[k][i].pair == pair)
				data_error(file, line, "a second value for this scenario, metric, kernel and pair");
		if (sr->n[k] == sr->cap[k]) {
			sr->cap[k] = sr->cap[k] ? 2 * sr->cap[k] : 16;
			sr->s[k] = xrealloc(sr->s[k], sr->cap[k] * sizeof(*sr->s[k]));
		}
		sr->s[k][sr->n[k]++] = (struct sample){ pair, value };
	}
	if (ferror(in)) {
		fprintf(stderr, "%s: error reading %s: %s\n", host_prog, file, strerror(errno));
		return EX_NOINPUT;
	}
	for (i = 0; i < nall; i++)
		report(&all[i]);
	return 0;
}
