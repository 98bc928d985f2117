/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the libFuzzer harnesses of the host tools share: the tool's exit
 * caught, and the checks every output must pass.
 *
 * A harness defines HOST_TOOL_NO_MAIN and includes the tool's own source
 * (scripts/.../TOOL.c): it calls the real parser, never a copy.  Where the
 * tool would exit on bad input, host_exit() jumps back to the harness.
 * A check that fails calls abort(): libFuzzer records the input as a crash.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf fuzz_jump;
static int fuzz_exit_status;

void host_exit(int status)
{
	fuzz_exit_status = status;
	longjmp(fuzz_jump, 1);
}

/* Say what broke, and make libFuzzer keep the input. */
#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz check failed: %s: ", #cond);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/*
 * Are the N bytes at S well-formed UTF-8 with no NUL and no C0 control
 * but newline and tab (and carriage return with @cr)?  The offset of the
 * first bad byte, or N when all are good.
 */
static size_t fuzz_text_ok(const char *buf, size_t n, int cr)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0, k, len;
	unsigned char c;

	while (i < n) {
		c = s[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\n' && c != '\t' && !(cr && c == '\r')) ||
			    c == 0x7f)
				return i;
			i++;
			continue;
		}
		len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 :
		      c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		if (!len || i + len > n)
			return i;
		for (k = 1; k < len; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] >= 0xa0) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] >= 0x90))
			return i;
		i += len;
	}
	return n;
}

/*
 * A JSON value at *P (RFC 8259, what python3's json reads): 1 and *P past
 * it, or 0.  Depth-bounded: our writers nest four levels.
 */
static void fuzz_ws(const char **p)
{
	while (**p == ' ' || **p == '\n' || **p == '\t' || **p == '\r')
		(*p)++;
}

static int fuzz_json_value(const char **p, int depth)
{
	const char *s;

	if (depth > 16)
		return 0;
	fuzz_ws(p);
	s = *p;
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if ((unsigned char)*s < 0x20)
				return 0;
			if (*s == '\\') {
				s++;
				if (*s == 'u') {
					int k;

					for (k = 1; k <= 4; k++)
						if (!strchr("0123456789abcdefABCDEF", s[k]) || !s[k])
							return 0;
					s += 4;
				} else if (!*s || !strchr("\"\\/bfnrt", *s)) {
					return 0;
				}
			}
		}
		*p = s + 1;
		return 1;
	}
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';

		*p = s + 1;
		fuzz_ws(p);
		if (**p == close) {
			(*p)++;
			return 1;
		}
		for (;;) {
			if (close == '}') {
				fuzz_ws(p);
				if (**p != '"' || !fuzz_json_value(p, depth + 1))
					return 0;
				fuzz_ws(p);
				if (**p != ':')
					return 0;
				(*p)++;
			}
			if (!fuzz_json_value(p, depth + 1))
				return 0;
			fuzz_ws(p);
			if (**p == close) {
				(*p)++;
				return 1;
			}
			if (**p != ',')
				return 0;
			(*p)++;
		}
	}
	if (!strncmp(s, "true", 4) || !strncmp(s, "null", 4)) {
		*p = s + 4;
		return 1;
	}
	if (!strncmp(s, "false", 5)) {
		*p = s + 5;
		return 1;
	}
	if (*s == '-')
		s++;
	if (*s < '0' || *s > '9')
		return 0;
	if (*s == '0' && s[1] >= '0' && s[1] <= '9')
		return 0;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	*p = s;
	return 1;
}

/* The N bytes at S are one JSON document in valid UTF-8. */
static void fuzz_check_json(const char *s, size_t n)
{
	const char *p = s;
	size_t bad = fuzz_text_ok(s, n, 1);

	FUZZ_CHECK(bad == n, "JSON byte %zu (0x%02x) is not UTF-8 text", bad,
		   bad < n ? (unsigned char)s[bad] : 0);
	FUZZ_CHECK(strlen(s) == n, "a NUL in the JSON");
	FUZZ_CHECK(fuzz_json_value(&p, 0), "malformed JSON at byte %zu", (size_t)(p - s));
	fuzz_ws(&p);
	FUZZ_CHECK(!*p, "JSON goes on after its value, at byte %zu", (size_t)(p - s));
}

/*
 * The N bytes at S are XML text xmllint reads: valid UTF-8, only the
 * characters XML 1.0 allows, every '&' a reference we write and every
 * '<' one of our own tags.
 */
static void fuzz_check_xml(const char *s, size_t n)
{
	static const char *const refs[] = { "&lt;", "&gt;", "&amp;", "&quot;", "&#10;", "&#9;" };
	size_t bad = fuzz_text_ok(s, n, 0), i, k;
	int depth = 0;

	FUZZ_CHECK(bad == n, "XML byte %zu (0x%02x) is not XML 1.0 text", bad,
		   bad < n ? (unsigned char)s[bad] : 0);
	for (i = 0; i + 2 < n; i++)
		FUZZ_CHECK(!((unsigned char)s[i] == 0xef && (unsigned char)s[i + 1] == 0xbf &&
			     (unsigned char)s[i + 2] >= 0xbe), "U+FFFE/U+FFFF at byte %zu", i);
	for (i = 0; i < n; i++) {
		if (s[i] == '&') {
			for (k = 0; k < sizeof(refs) / sizeof(refs[0]); k++)
				if (!strncmp(s + i, refs[k], strlen(refs[k])))
					break;
			FUZZ_CHECK(k < sizeof(refs) / sizeof(refs[0]), "a bare '&' at byte %zu", i);
		} else if (s[i] == '<') {
			const char *e = memchr(s + i, '>', n - i);

			FUZZ_CHECK(e, "an unclosed tag at byte %zu", i);
			if (s[i + 1] == '/')
				depth--;
			else if (s[i + 1] != '?' && e[-1] != '/')
				depth++;
			FUZZ_CHECK(depth >= 0, "a closing tag without its opening one at byte %zu", i);
			/* No '<' inside a tag: its quotes are escaped. */
			FUZZ_CHECK(!memchr(s + i + 1, '<', (size_t)(e - s - i - 1)),
				   "a '<' inside a tag at byte %zu", i);
		}
	}
	FUZZ_CHECK(depth == 0, "%d tag(s) left open", depth);
}

#endif /* FUZZ_H */
