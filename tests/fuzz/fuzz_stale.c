// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: the answers of stale's watcher, as the check reads them.
 *
 * The watcher answers on a socket: "clean ID", "stale ID REASON", or for
 * -l -a a list, "list ID", a path a line, "end".  Another process of the
 * same user could answer anything.  Each input goes through stale's own
 * parsers (parse_answer, list_answer) as the bytes read from the socket
 * (NUL-terminated, as read_answer hands them over).  A verdict may only
 * come from a well-formed answer for this stamp's ID; nothing may crash.
 */
#define HOST_TOOL_NO_MAIN
#include "../../scripts/build/stale.c"
#include "fuzz.h"

static const char id[] = "801:1234:1700000000.5";

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	char *buf = malloc(size + 1);
	int r;

	if (!ready) {
		/* A watched tree of STAMP's: list_answer's paths under it. */
		watched = xrealloc(watched, sizeof(*watched));
		watched[0] = xstrdup("/nonexistent-fuzz-tree");
		nwatched = 1;
		list_all = 1;
		ready = 1;
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	r = parse_answer(buf, size, id);
	if (r == 1)
		FUZZ_CHECK(size == 6 + strlen(id) + 1 && !memcmp(data, "clean ", 6) &&
			   !memcmp(data + 6, id, strlen(id)), "clean from a wrong answer");
	if (r == 0)
		FUZZ_CHECK(!memcmp(data, "stale ", 6) && !memcmp(data + 6, id, strlen(id)),
			   "stale from a wrong answer");
	memcpy(buf, data, size);
	buf[size] = '\0';
	r = list_answer(buf, size, id);
	if (!r)
		FUZZ_CHECK(size >= 5 + strlen(id) + 5 && !memcmp(data, "list ", 5) &&
			   !memcmp(data + size - 4, "end\n", 4), "a list from a wrong answer");
	free(buf);
	return 0;
}
