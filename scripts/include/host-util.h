/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every host tool repeated: allocation that cannot fail, and text
 * escaped for JSON and XML whatever bytes it holds.
 *
 * The text of a guest is untrusted: it may hold invalid UTF-8, control
 * characters and quotes.  json_string() and xml_text() always write valid
 * UTF-8: each byte that does not start a well-formed UTF-8 sequence
 * (RFC 3629: no overlong form, no surrogate, nothing past U+10FFFF) becomes
 * U+FFFD, the replacement character, so a consumer (python3's json,
 * xmllint) can read whatever the guest printed.
 *
 * Header-only (static inline): built by one rule, a tool is one
 * translation unit or a few (stale), each including this header, and a
 * harness of tests/fuzz includes the tool's own source.
 */
#ifndef HOST_UTIL_H
#define HOST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sizes, as the tools' limits are written: 64 * MB. */
#define KB	1024L
#define MB	(1024L * KB)

/* The name the allocation failures are reported under; each tool sets it. */
extern const char *host_prog;

/*
 * A tool ends through host_exit(), never exit(), where its parser gives up
 * on its input: built with HOST_TOOL_NO_MAIN (a harness of tests/fuzz,
 * which includes the tool's source), host_exit() is the harness's, and
 * returns to it (longjmp) instead of ending the fuzzer.
 */
#ifdef HOST_TOOL_NO_MAIN
void host_exit(int status) __attribute__((noreturn));
#else
#define host_exit exit
#endif

/*
 * The exit status of a failed allocation: 2 unless the tool gives 2
 * another meaning, and defines HOST_OOM_STATUS before the include.
 */
#ifndef HOST_OOM_STATUS
#define HOST_OOM_STATUS 2
#endif

/* Out of memory: the tool's name and strerror(ENOMEM), then its end. */
static inline void host_oom(void)
{
	perror(host_prog);
	host_exit(HOST_OOM_STATUS);
}

static inline void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		host_oom();
	return p;
}

static inline void *xmalloc(size_t n)
{
	return xrealloc(NULL, n);
}

static inline void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		host_oom();
	return p;
}

static inline char *xstrdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		host_oom();
	return d;
}

/* The first N bytes of S at most, NUL-terminated. */
static inline char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		host_oom();
	return d;
}

/*
 * The length of the well-formed UTF-8 sequence at @s (1-4), or 0 when the
 * byte at @s does not start one.  @s is NUL-terminated: a NUL ends any
 * sequence early, so it is never read past.
 */
static inline size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n, i;
	unsigned long cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* "S" as a JSON string: quotes, backslashes and controls escaped. */
static inline void json_string(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	fputc('"', f);
	while (*s) {
		n = utf8_seq(s);
		if (!n) {
			fputs("\\ufffd", f);
			s++;
		} else if (n > 1) {
			fwrite(s, 1, n, f);
			s += n;
		} else {
			unsigned char c = *s++;

			if (c == '"' || c == '\\')
				fprintf(f, "\\%c", c);
			else if (c == '\n')
				fputs("\\n", f);
			else if (c == '\t')
				fputs("\\t", f);
			else if (c == '\r')
				fputs("\\r", f);
			else if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

/*
 * S as XML character data or an attribute's value (in double quotes).
 * XML 1.0 has no way to write most control characters, not even as a
 * reference: those become U+FFFD as well, and so do DEL (allowed, but no
 * reader wants it), U+FFFE and U+FFFF.
 */
static inline void xml_text(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	while (*s) {
		n = utf8_seq(s);
		if (!n || (n == 1 && ((*s < 0x20 && *s != '\n' && *s != '\t') || *s == 0x7f)) ||
		    (n == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe)) {
			fputs("\xef\xbf\xbd", f);
			s += n ? n : 1;
			continue;
		}
		switch (*s) {
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '&': fputs("&amp;", f); break;
		case '"': fputs("&quot;", f); break;
		/* A newline in an attribute would be read back as a blank. */
		case '\n': fputs("&#10;", f); break;
		case '\t': fputs("&#9;", f); break;
		default: fwrite(s, 1, n, f);
		}
		s += n;
	}
}

/*
 * Cut @s to at most @max bytes, at a UTF-8 boundary (no sequence split),
 * in place; true when it was cut.
 */
static inline int utf8_cut(char *s, size_t max)
{
	size_t len = strlen(s);

	if (len <= max)
		return 0;
	while (max && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	s[max] = '\0';
	return 1;
}

#endif /* HOST_UTIL_H */
