// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: an lcov tracefile (.info) -> coverage-report's series report.
 *
 * The series diff is the stand-in of tests/host/data/coverage (its path
 * given at build time, COVERAGE_DIFF).  Each input is a tracefile: it goes
 * through coverage-report's own reader (read_info_file), and, when the
 * reader takes it, through the report of the series' lines and functions
 * (resolve, series_functions, md_section, md_functions, json_lines,
 * json_functions).  A malformed tracefile must be refused with a message
 * and status 1 (its die()), never crash; the JSON written must be valid.
 */
#define HOST_TOOL_NO_MAIN
#include "../../scripts/report/coverage-report.c"
#include "fuzz.h"

static struct diff series;

static void free_info(struct info *in)
{
	size_t i, j;

	for (i = 0; i < in->nsf; i++) {
		free(in->sf[i].da);
		free(in->sf[i].br);
		for (j = 0; j < in->sf[i].nfn; j++)
			free(in->sf[i].fn[j].name);
		free(in->sf[i].fn);
	}
	free(in->sf);
	memset(in, 0, sizeof(*in));
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	static struct info in;
	struct rline *sr = NULL;
	struct rfn *fns;
	size_t nsr = 0, nfns, i, len;
	char *out = NULL;
	FILE *f, *md;

	if (!ready) {
		read_all(COVERAGE_DIFF, &series);
		ready = 1;
	}
	if (!size)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (setjmp(fuzz_jump)) {
		FUZZ_CHECK(fuzz_exit_status == 1, "exit status %d on a bad tracefile", fuzz_exit_status);
		fclose(f);
		free_info(&in);
		return 0;
	}
	read_info_file(f, "fuzz.info", &in);
	fclose(f);

	for (i = 0; i < series.nplus; i++)
		*PUSH(sr, nsr) = resolve(&in, series.plus[i].path, series.plus[i].ln,
					 series.plus[i].text);
	fns = series_functions(&in, sr, nsr, &nfns);
	md = fopen("/dev/null", "w");
	md_section(md, "The series' lines", &in, sr, nsr);
	md_functions(md, fns, nfns, 0);
	fclose(md);
	f = open_memstream(&out, &len);
	fputs("{\"lines\": ", f);
	json_lines(f, &in, sr, nsr);
	fputs(", \"functions\": ", f);
	json_functions(f, fns, nfns);
	fputs("}\n", f);
	fclose(f);
	fuzz_check_json(out, len);
	free(out);
	free(fns);
	free(sr);
	free_info(&in);
	return 0;
}
