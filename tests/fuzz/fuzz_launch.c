// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: the line carrier of uml-launch (partial lines, NULs,
 * over-long lines, the log bound) and its splat-marker scan.
 *
 * The input's first four bytes choose the log's bound (up to 256 KB); the
 * rest is cut into reads of the guest's console and the kernel's at the
 * points its bytes choose, as the pipes would deliver them.  uml-launch's
 * own log_lines()/log_rest() carry them into a memory file.  Checked:
 * the log never passes its bound, it holds every byte up to the bound
 * (none lost, none made up), the cut is flagged exactly when something
 * was dropped, and has_splat_marker() answers as a plain search of the
 * log would.
 */
#define HOST_TOOL_NO_MAIN
#include "../../scripts/run/uml-launch.c"
#include "fuzz.h"

static int has_marker(const char *s, size_t n)
{
	static const char *const texts[] = {
#define MARKER_TEXT(text, class) text,
		SPLAT_MARKERS(MARKER_TEXT)
#undef MARKER_TEXT
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(texts); i++)
		if (memmem(s, n, texts[i], strlen(texts[i])))
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	long long bound;
	size_t pos = 4, total, got = 0;
	char path[64], *log;
	int fd, i, found;

	if (size < 4)
		return 0;
	bound = (data[0] | data[1] << 8 | (data[2] & 3) << 16);
	fd = memfd_create("log", 0);
	if (fd < 0)
		return 0;
	log_sink = (struct sink){ .fd = fd, .left = bound };
	for (i = 0; i < NSTREAMS; i++)
		streams[i].len = 0;
	total = size - 4;
	/* Reads of 1 to 64 KB + 1 bytes, from either stream. */
	while (pos < size) {
		size_t n = 1 + (data[pos] * 257u) % 65537u;
		int s = data[pos] & 1 ? ERR : OUT;

		if (n > size - pos)
			n = size - pos;
		log_lines(s, (const char *)data + pos, n);
		pos += n;
	}
	log_rest(OUT);
	log_rest(ERR);
	FUZZ_CHECK(log_sink.fd == fd, "the log's descriptor was dropped");
	got = (size_t)lseek(fd, 0, SEEK_END);
	FUZZ_CHECK((long long)got <= bound, "log of %zu bytes past its bound %lld", got, bound);
	FUZZ_CHECK(log_sink.cut == ((long long)total > bound),
		   "cut flag %d with %zu bytes for a bound of %lld", log_sink.cut, total, bound);
	FUZZ_CHECK(got == (total < (size_t)bound ? total : (size_t)bound),
		   "log of %zu bytes from %zu with a bound of %lld", got, total, bound);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	found = has_splat_marker(path);
	log = malloc(got + 1);
	FUZZ_CHECK(pread(fd, log, got, 0) == (ssize_t)got, "cannot read the log back");
	FUZZ_CHECK(found == has_marker(log, got), "has_splat_marker says %d", found);
	free(log);
	close(fd);
	return 0;
}
