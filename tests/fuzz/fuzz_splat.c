// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: a console log -> splat-class's classes and first splat.
 *
 * The input is a console log as uml-launch writes it (guest and kernel
 * lines, kmsg dumps, NULs, lines past 4 KB).  It goes through splat-class's
 * own reader (read_log) and report; the report must name a class of
 * splat-markers.h exactly when some kernel line holds a marker, and the
 * splat's lines must lie within the log.
 */
#define HOST_TOOL_NO_MAIN
#include "../../scripts/run/splat-class.c"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *out = NULL, *p;
	size_t len = 0, i, first, last;
	int rc, any = 0;
	FILE *in, *f;

	if (!size)
		return 0;
	in = fmemopen((void *)data, size, "r");
	if (!in)
		return 0;
	read_log(in);
	fclose(in);
	for (i = 0; i < nlines; i++)
		any |= lines[i].class != NULL;

	f = open_memstream(&out, &len);
	rc = report(f, NULL, 80);
	fclose(f);
	FUZZ_CHECK(rc == (any ? 0 : 1), "report says %d, a marker was %sfound", rc,
		   any ? "" : "not ");
	if (!rc) {
		for (i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
			if (!strncmp(out + 7, markers[i].class, strlen(markers[i].class)) &&
			    out[7 + strlen(markers[i].class)] == '\n')
				break;
		FUZZ_CHECK(!strncmp(out, "class: ", 7) &&
			   i < sizeof(markers) / sizeof(markers[0]),
			   "no class of splat-markers.h first: '%.40s'", out);
		p = strstr(out, "\nlines: ");
		FUZZ_CHECK(p && sscanf(p, "\nlines: %zu-%zu", &first, &last) == 2,
			   "no lines: in the report");
		FUZZ_CHECK(first >= 1 && first <= last + 1 && last <= nlines,
			   "lines %zu-%zu of a log of %zu", first, last, nlines);
	}
	free(out);
	forget();
	return 0;
}
