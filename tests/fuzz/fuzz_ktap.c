// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: KTAP from a guest -> ktap-report's summary, JSON and JUnit XML.
 *
 * The input is what the guest printed on its results line.  Each line goes
 * through ktap-report's own parser (parse_line), then its writers: the JSON
 * must be one valid JSON document in UTF-8, the XML valid UTF-8 with only
 * the characters XML 1.0 allows and balanced tags, and the summary must
 * not pass a control character to the terminal.
 */
#define HOST_TOOL_NO_MAIN
#include "../../scripts/report/ktap-report.c"
#include "fuzz.h"

static FILE *null_out;

static void free_suite(void)
{
	size_t i, j;

	for (i = 0; i < ntests; i++) {
		free(tests[i].name);
		free(tests[i].reason);
		for (j = 0; j < tests[i].nlog; j++)
			free(tests[i].log[j]);
		free(tests[i].log);
		for (j = 0; j < tests[i].ncases; j++)
			free(tests[i].cases[j].name);
		free(tests[i].cases);
	}
	free(tests);
	for (i = 0; i < npending_log; i++)
		free(pending_log[i]);
	free(pending_log);
	for (i = 0; i < npending_cases; i++)
		free(pending_cases[i].name);
	free(pending_cases);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *copy = malloc(size + 1), *line, *nl, *out = NULL;
	size_t len = 0, left = size;
	long missing;
	FILE *f;

	if (!null_out) {
		null_out = fopen("/dev/null", "w");
		/* print_summary() writes to stdout. */
		if (!freopen("/dev/null", "w", stdout))
			abort();
	}
	memcpy(copy, data, size);
	copy[size] = '\0';
	parse_reset();
	for (line = copy; left; line = nl + 1) {
		nl = memchr(line, '\n', left);
		len = nl ? (size_t)(nl - line) + 1 : left;
		if (nl)
			*nl = '\0';
		parse_line(line, len - !!nl);
		left -= len;
		if (!nl)
			break;
	}
	missing = plan > (long)ntests ? plan - (long)ntests : 0;
	print_summary("guest", missing, 0);

	f = open_memstream(&out, &len);
	json_out(f, "guest", missing);
	fclose(f);
	fuzz_check_json(out, len);
	free(out);

	out = NULL;
	f = open_memstream(&out, &len);
	junit_out(f, "guest", missing);
	fclose(f);
	fuzz_check_xml(out, len);
	free(out);

	free_suite();
	free(copy);
	return 0;
}
