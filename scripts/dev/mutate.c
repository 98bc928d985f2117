// SPDX-License-Identifier: GPL-2.0
/*
 * Mutants of the C lines a diff adds: list them, apply one, report a run.
 *
 * Usage: mutate list  -C TREE [-f FILE] [-l LINE[-LINE]] [-F FUNC] [-s K/N] DIFF
 *        mutate apply -C TREE FILE LINE ORIGINAL MUTATED
 *        mutate report -o PREFIX [-x EXCEPTIONS] RESULTS
 *
 * list: DIFF is `git diff -U0` output; TREE holds the files at the diff's
 * new side.  Every line the diff adds inside a function body is cut into
 * tokens (comments, strings and preprocessor lines are not mutated), and
 * each operator below makes one textual change to one line.  On a line
 * the diff changes (a removed line of its hunk shares half of it, start
 * and end), only the changes that touch the changed part are made.  Prints one
 * mutant a line, tab-separated: ID FILE LINE OP FUNC ORIGINAL MUTATED (the
 * two lines with \\, \t and \n escaped).  IDs number the whole set, so a
 * filter or a shard keeps them.
 *
 * apply: writes a mutant, as list prints it, into TREE (the file's line
 * must still be the original one).
 *
 * report: RESULTS holds one line a mutant, tab-separated: ID FILE LINE OP
 * FUNC STATUS KILLER SECONDS BUILD_S GUEST_S ORIGINAL MUTATED, STATUS one
 * of killed, timeout, survived, equivalent, stillborn.  Writes PREFIX.md
 * and PREFIX.json, survivors first, and prints the summary.  EXCEPTIONS
 * justifies survivors: "FILE: OP: ORIGINAL => MUTATED" (both trimmed),
 * each below its reason.
 *
 * Operators (docs/mutation-testing.md):
 *   ROR relational operator replaced by each other one
 *   LCR && <-> ||
 *   NEG a unary ! removed, or an if/while condition negated
 *   AOR binary + <-> -, += <-> -=, ++ <-> --
 *   CRP integer constant: 0 -> 1, 1 -> 0 and 2, N -> N-1 and N+1
 *   BOL true <-> false
 *   RET return value replaced: 0, 1, -1 (true/false in a bool function,
 *       NULL for a pointer), or another return value of the function
 *   SDL a call or an assignment statement deleted
 *   SWP two arguments of one call, of the same type, swapped
 *   MSK a bitwise & with a mask dropped: x & M -> x
 *   CND an if condition replaced by 0 and by 1 (the check never or always taken)
 *
 * Exit codes: 0 ok, 1 a survivor not justified (report), 2 apply: the
 * line is not the original, 64 usage, 66 an input cannot be read.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2 is apply's "the line is not the original": out of memory is 70. */
#define HOST_OOM_STATUS 70
#include "../include/host-util.h"

const char *host_prog = "mutate";

#define E_USAGE 64
#define E_INPUT 66

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("mutate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

/* --- a file as lines ------------------------------------------------------ */

struct text {
	char *buf;
	char **line;	/* line[1..n], without their newline */
	int n;
	bool final_newline;
};

static bool read_text(const char *path, struct text *t)
{
	FILE *f = fopen(path, "r");
	size_t cap = 0, len = 0, r;
	char chunk[65536];
	int cap_lines = 0;
	char *p;

	if (!f)
		return false;
	t->buf = NULL;
	while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + r + 1 > cap) {
			cap = (len + r + 1) * 2;
			t->buf = xrealloc(t->buf, cap);
		}
		memcpy(t->buf + len, chunk, r);
		len += r;
	}
	fclose(f);
	t->buf = xrealloc(t->buf, len + 1);
	t->buf[len] = '\0';
	t->final_newline = len > 0 && t->buf[len - 1] == '\n';
	t->n = 0;
	t->line = NULL;
	p = t->buf;
	while (*p || (p == t->buf && len == 0 && false)) {
		char *nl = strchr(p, '\n');

		if (t->n + 2 > cap_lines) {
			cap_lines = (t->n + 2) * 2;
			t->line = xrealloc(t->line, cap_lines * sizeof(*t->line));
		}
		t->line[++t->n] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	if (!t->line)
		t->line = xrealloc(NULL, 2 * sizeof(*t->line));
	return true;
}

/* --- tokens ---------------------------------------------------------------- */

enum kind { T_IDENT, T_NUM, T_PUNCT, T_STR };

struct tok {
	enum kind kind;
	int line, col, len;	/* col: byte offset in the line */
	const char *s;		/* points into the line */
	int func;		/* index of the function whose body holds it, or -1 */
};

struct func {
	char *name;
	bool is_bool, is_ptr, is_void;
	int first, last;	/* tokens: from the name to the closing brace */
	int body;		/* token of the opening brace */
};

static const char *const puncts[] = {
	">>=", "<<=", "...", "->", "++", "--", "<<", ">>", "<=", ">=", "==",
	"!=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "##",
};

static bool is_tok(const struct tok *t, const char *s)
{
	return t && (int)strlen(s) == t->len && !memcmp(t->s, s, t->len);
}

static struct tok *toks;
static int ntoks;

static void add_tok(enum kind kind, int line, const char *base, const char *s, int len)
{
	static int cap;

	if (ntoks == cap) {
		cap = cap ? cap * 2 : 1024;
		toks = xrealloc(toks, cap * sizeof(*toks));
	}
	toks[ntoks++] = (struct tok){ kind, line, (int)(s - base), len, s, -1 };
}

/* Cut the file into tokens; comments and preprocessor lines make none. */
static void tokenize(const struct text *t)
{
	bool in_comment = false, in_pp = false;

	ntoks = 0;
	for (int ln = 1; ln <= t->n; ln++) {
		const char *base = t->line[ln], *p = base;
		size_t l = strlen(base);
		bool pp_continues = l > 0 && base[l - 1] == '\\';
		const char *q = base;

		while (*q == ' ' || *q == '\t')
			q++;
		if (!in_comment && !in_pp && *q == '#')
			in_pp = true;
		if (in_pp) {
			in_pp = pp_continues;
			continue;
		}
		while (*p) {
			if (in_comment) {
				const char *e = strstr(p, "*/");

				if (!e) {
					p += strlen(p);
					break;
				}
				p = e + 2;
				in_comment = false;
				continue;
			}
			if (isspace((unsigned char)*p)) {
				p++;
			} else if (p[0] == '/' && p[1] == '*') {
				in_comment = true;
				p += 2;
			} else if (p[0] == '/' && p[1] == '/') {
				break;
			} else if (*p == '"' || *p == '\'') {
				const char *s = p++;

				while (*p && *p != *s)
					p += (*p == '\\' && p[1]) ? 2 : 1;
				if (*p)
					p++;
				add_tok(T_STR, ln, base, s, p - s);
			} else if (isalpha((unsigned char)*p) || *p == '_') {
				const char *s = p;

				while (isalnum((unsigned char)*p) || *p == '_')
					p++;
				add_tok(T_IDENT, ln, base, s, p - s);
			} else if (isdigit((unsigned char)*p)) {
				const char *s = p;

				while (isalnum((unsigned char)*p) || *p == '.')
					p++;
				add_tok(T_NUM, ln, base, s, p - s);
			} else {
				int len = 1;

				for (size_t i = 0; i < sizeof(puncts) / sizeof(*puncts); i++)
					if (!strncmp(p, puncts[i], strlen(puncts[i]))) {
						len = strlen(puncts[i]);
						break;
					}
				add_tok(T_PUNCT, ln, base, p, len);
				p += len;
			}
		}
	}
}

static struct func *funcs;
static int nfuncs;

static const char *const keywords[] = {
	"if", "while", "for", "switch", "return", "sizeof", "case", "goto",
	"else", "do", "typeof", "__typeof__", "defined",
};

static bool is_keyword(const struct tok *t)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(*keywords); i++)
		if (is_tok(t, keywords[i]))
			return true;
	return false;
}

/*
 * Function bodies: a '{' at file scope right after a ')'.  The name is the
 * last identifier at file scope that a '(' followed; the return type is
 * what stands before it since the last ';' or '}'.
 */
static void find_functions(void)
{
	int depth = 0, paren = 0, cand = -1, decl_start = 0, cur = -1;

	nfuncs = 0;
	for (int i = 0; i < ntoks; i++) {
		struct tok *t = &toks[i];

		if (depth > 0 && cur >= 0)
			t->func = cur;
		if (is_tok(t, "(")) {
			if (depth == 0 && paren == 0 && i > 0 && toks[i - 1].kind == T_IDENT)
				cand = i - 1;
			paren++;
		} else if (is_tok(t, ")")) {
			paren--;
		} else if (is_tok(t, "{")) {
			if (depth == 0 && paren == 0 && i > 0 && is_tok(&toks[i - 1], ")") &&
			    cand >= 0) {
				struct func *f;

				funcs = xrealloc(funcs, (nfuncs + 1) * sizeof(*funcs));
				f = &funcs[nfuncs];
				memset(f, 0, sizeof(*f));
				f->name = xstrndup(toks[cand].s, toks[cand].len);
				f->first = cand;
				f->body = i;
				for (int j = decl_start; j < cand; j++) {
					f->is_bool |= is_tok(&toks[j], "bool");
					f->is_ptr |= is_tok(&toks[j], "*");
					f->is_void |= is_tok(&toks[j], "void");
				}
				f->is_void &= !f->is_ptr;
				cur = nfuncs++;
			}
			depth++;
		} else if (is_tok(t, "}")) {
			if (--depth == 0) {
				if (cur >= 0)
					funcs[cur].last = i;
				cur = -1;
				cand = -1;
				decl_start = i + 1;
			}
		} else if (is_tok(t, ";") && depth == 0 && paren == 0) {
			cand = -1;
			decl_start = i + 1;
		}
	}
}

/* --- the diff ---------------------------------------------------------------- */

struct added {
	char *file;
	int *lines;
	int *lo, *hi;	/* the changed part of a changed line; lo -1: all of it */
	int n;
};

static struct added *adds;
static int nadds;

static bool c_file(const char *path)
{
	size_t l = strlen(path);

	if (!strncmp(path, "tools/", 6))
		return false;
	return l > 2 && path[l - 2] == '.' && (path[l - 1] == 'c' || path[l - 1] == 'h');
}

/*
 * A line the hunk changes rather than adds: the removed line most like it
 * (the longest common start and end) shares at least half of it.  Then
 * only the part between that start and end is the series'.
 */
static void changed_part(const char *line, char **removed, int nremoved, int *lo, int *hi)
{
	int la = strlen(line), best = 0, bp = 0;

	*lo = -1;
	*hi = -1;
	for (int r = 0; r < nremoved; r++) {
		int lr = strlen(removed[r]), p = 0, q = 0;

		while (p < la && p < lr && line[p] == removed[r][p])
			p++;
		while (q < la - p && q < lr - p && line[la - 1 - q] == removed[r][lr - 1 - q])
			q++;
		if (p + q > best) {
			best = p + q;
			bp = p;
		}
	}
	if (best * 2 >= la && best < la) {
		*lo = bp;
		*hi = la - (best - bp);
	}
}

static void read_diff(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL, **removed = NULL;
	size_t cap = 0;
	struct added *cur = NULL;
	int next = 0, nremoved = 0;

	if (!f)
		die(E_INPUT, "cannot read the diff %s: %s", path, strerror(errno));
	while (getline(&buf, &cap, f) > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		if (!strncmp(buf, "+++ ", 4)) {
			char *p = buf + 4;

			cur = NULL;
			if (!strncmp(p, "b/", 2) && c_file(p + 2)) {
				adds = xrealloc(adds, (nadds + 1) * sizeof(*adds));
				cur = &adds[nadds++];
				memset(cur, 0, sizeof(*cur));
				cur->file = xstrdup(p + 2);
			}
		} else if (!strncmp(buf, "--- ", 4)) {
			continue;
		} else if (!strncmp(buf, "@@ ", 3)) {
			char *plus = strchr(buf, '+');

			next = plus ? atoi(plus + 1) : 0;
			for (int r = 0; r < nremoved; r++)
				free(removed[r]);
			nremoved = 0;
		} else if (buf[0] == '-') {
			removed = xrealloc(removed, (nremoved + 1) * sizeof(*removed));
			removed[nremoved++] = xstrdup(buf + 1);
		} else if (buf[0] == '+' && cur && next > 0) {
			int n = cur->n;

			cur->lines = xrealloc(cur->lines, (n + 1) * sizeof(int));
			cur->lo = xrealloc(cur->lo, (n + 1) * sizeof(int));
			cur->hi = xrealloc(cur->hi, (n + 1) * sizeof(int));
			cur->lines[n] = next++;
			changed_part(buf + 1, removed, nremoved, &cur->lo[n], &cur->hi[n]);
			cur->n++;
		} else if (buf[0] == ' ') {
			next++;
		}
	}
	for (int r = 0; r < nremoved; r++)
		free(removed[r]);
	free(removed);
	free(buf);
	fclose(f);
}

/* --- mutants ----------------------------------------------------------------- */

struct mutant {
	const char *file;
	int line;
	const char *op;
	const char *func;
	char *orig, *mut;
};

static struct mutant *muts;
static int nmuts;

/* One mutant: the line with [col, col+len) replaced by @repl. */
/* The changed part of the line being mutated (lo -1: the whole line). */
static int part_lo = -1, part_hi = -1;

static void emit_span(const char *file, const struct text *t, int line, int col,
		      int len, const char *repl, const char *op, const char *func)
{
	const char *orig = t->line[line];

	/* On a changed line, only what touches the change is the series'. */
	if (part_lo >= 0 && !(col < part_hi && col + len > part_lo))
		return;
	size_t ol = strlen(orig), rl = strlen(repl);
	char *m = xrealloc(NULL, ol - len + rl + 1);

	memcpy(m, orig, col);
	memcpy(m + col, repl, rl);
	strcpy(m + col + rl, orig + col + len);
	if (!strcmp(m, orig)) {
		free(m);
		return;
	}
	for (int i = 0; i < nmuts; i++)
		if (muts[i].line == line && !strcmp(muts[i].file, file) &&
		    !strcmp(muts[i].mut, m)) {
			free(m);
			return;
		}
	muts = xrealloc(muts, (nmuts + 1) * sizeof(*muts));
	muts[nmuts++] = (struct mutant){ file, line, op, func, xstrdup(orig), m };
}

static bool binary_context(int i)
{
	const struct tok *p = i > 0 ? &toks[i - 1] : NULL;

	return p && p->line == toks[i].line &&
	       ((p->kind == T_IDENT && !is_keyword(p)) || p->kind == T_NUM ||
		is_tok(p, ")") || is_tok(p, "]"));
}

/* The matching close of the bracket at token i, or -1 (same line only). */
static int match_close(int i)
{
	int depth = 0;

	for (int j = i; j < ntoks && toks[j].line == toks[i].line; j++) {
		if (is_tok(&toks[j], "(") || is_tok(&toks[j], "["))
			depth++;
		else if (is_tok(&toks[j], ")") || is_tok(&toks[j], "]"))
			if (--depth == 0)
				return j;
	}
	return -1;
}

/* The declared type of identifier @name in function @f, or NULL. */
static char *type_of(const struct func *f, const struct tok *name)
{
	for (int i = f->first + 1; i <= f->last; i++) {
		const struct tok *t = &toks[i], *n = i + 1 < ntoks ? &toks[i + 1] : NULL;
		int j;
		char type[256] = "";

		if (t->kind != T_IDENT || t->len != name->len || memcmp(t->s, name->s, t->len))
			continue;
		if (!n || !(is_tok(n, ",") || is_tok(n, ")") || is_tok(n, ";") ||
			    is_tok(n, "=") || is_tok(n, "[")))
			continue;
		for (j = i - 1; j > f->first; j--)
			if (!(toks[j].kind == T_IDENT || is_tok(&toks[j], "*")) ||
			    is_keyword(&toks[j]))
				break;
		if (j == i - 1 || !(is_tok(&toks[j], "(") || is_tok(&toks[j], ",") ||
				    is_tok(&toks[j], ";") || is_tok(&toks[j], "{") ||
				    is_tok(&toks[j], "}")))
			continue;
		for (int k = j + 1; k < i; k++) {
			if (is_tok(&toks[k], "const"))
				continue;
			if (strlen(type) + toks[k].len + 2 >= sizeof(type))
				break;
			strncat(type, toks[k].s, toks[k].len);
			strcat(type, " ");
		}
		return type[0] ? xstrdup(type) : NULL;
	}
	return NULL;
}

static char *arg_type(const struct func *f, int a, int b)
{
	if (a != b)
		return NULL;
	if (is_tok(&toks[a], "true") || is_tok(&toks[a], "false"))
		return xstrdup("bool");
	if (toks[a].kind == T_NUM)
		return xstrdup("int");
	if (toks[a].kind == T_IDENT)
		return type_of(f, &toks[a]);
	return NULL;
}

/* SWP: pairs of arguments of one call, each whole on @line, same type. */
static void swap_args(const char *file, const struct text *t, int line, int lo, int hi,
		      const struct func *f)
{
	/* Argument lists open on this line, and the one the line continues. */
	int kind[64], sp = 0;
	int argb[64][16], arge[64][16], nargs[64];

	kind[0] = 1;	/* a continued list counts only if it closes here */
	nargs[0] = 0;
	argb[0][0] = lo;
	for (int i = lo; i <= hi + 1; i++) {
		bool end = i > hi;
		const struct tok *tk = end ? NULL : &toks[i];

		if (!end && (is_tok(tk, "(") || is_tok(tk, "[") || is_tok(tk, "{"))) {
			if (sp + 1 >= 64)
				return;
			sp++;
			kind[sp] = is_tok(tk, "(") && i > lo && toks[i - 1].kind == T_IDENT &&
				   !is_keyword(&toks[i - 1]);
			nargs[sp] = 0;
			argb[sp][0] = i + 1;
			continue;
		}
		if (end || is_tok(tk, ")") || is_tok(tk, "]") || is_tok(tk, "}") ||
		    is_tok(tk, ",") || (sp == 0 && is_tok(tk, ";"))) {
			bool closes = !end && !is_tok(tk, ",");
			int n = nargs[sp];

			if (n < 15 && argb[sp][n] < i) {
				arge[sp][n] = i - 1;
				nargs[sp] = ++n;
			}
			if (!closes && !end) {
				if (n < 15)
					argb[sp][n] = i + 1;
				continue;
			}
			/* A list that ends at the line's end only has its complete args. */
			if (end && n > 0 && arge[sp][n - 1] == hi && !is_tok(&toks[hi], ","))
				nargs[sp] = --n;
			if (kind[sp] && (closes || end) && !(sp == 0 && !closes)) {
				for (int x = 0; x < n; x++)
					for (int y = x + 1; y < n; y++) {
						char *tx = arg_type(f, argb[sp][x], arge[sp][x]);
						char *ty = arg_type(f, argb[sp][y], arge[sp][y]);
						const struct tok *a = &toks[argb[sp][x]], *b = &toks[argb[sp][y]];

						if (tx && ty && !strcmp(tx, ty) &&
						    !(a->len == b->len && !memcmp(a->s, b->s, a->len))) {
							/* Rebuild the line with a and b exchanged. */
							const char *o = t->line[line];
							size_t ol = strlen(o);
							char *m = xrealloc(NULL, ol + 1);
							char *r;

							memcpy(m, o, a->col);
							memcpy(m + a->col, b->s, b->len);
							memcpy(m + a->col + b->len, o + a->col + a->len,
							       b->col - (a->col + a->len));
							memcpy(m + b->col - a->len + b->len, a->s, a->len);
							strcpy(m + b->col + b->len, o + b->col + b->len);
							r = xstrndup(m + a->col, b->col + b->len - a->col);
							emit_span(file, t, line, a->col,
								  b->col + b->len - a->col, r, "SWP", f->name);
							free(r);
							free(m);
						}
						free(tx);
						free(ty);
					}
			}
			if (end)
				break;
			if (sp == 0) {
				/* the continued list closed (or a ';' ended it) */
				kind[0] = 0;
				nargs[0] = 0;
				argb[0][0] = i + 1;
				continue;
			}
			sp--;
			continue;
		}
	}
}

static void mutate_line(const char *file, const struct text *t, int line)
{
	int lo = -1, hi = -1;
	const struct func *f;

	for (int i = 0; i < ntoks; i++)
		if (toks[i].line == line) {
			if (lo < 0)
				lo = i;
			hi = i;
		}
	if (lo < 0 || toks[lo].func < 0)
		return;
	f = &funcs[toks[lo].func];
	for (int i = lo; i <= hi; i++) {
		const struct tok *tk = &toks[i];
		static const char *const rel[] = { "<", "<=", ">", ">=", "==", "!=" };

		for (int r = 0; r < 6; r++)
			if (is_tok(tk, rel[r]))
				for (int s = 0; s < 6; s++)
					emit_span(file, t, line, tk->col, tk->len, rel[s], "ROR",
						  f->name);
		if (is_tok(tk, "&&"))
			emit_span(file, t, line, tk->col, tk->len, "||", "LCR", f->name);
		if (is_tok(tk, "||"))
			emit_span(file, t, line, tk->col, tk->len, "&&", "LCR", f->name);
		if (is_tok(tk, "!"))
			emit_span(file, t, line, tk->col, tk->len, "", "NEG", f->name);
		if ((is_tok(tk, "if") || is_tok(tk, "while")) && i < hi &&
		    is_tok(&toks[i + 1], "(")) {
			int c = match_close(i + 1);

			if (c > 0) {
				const struct tok *o = &toks[i + 1], *e = &toks[c];
				int len = e->col + 1 - o->col;
				char *r = xrealloc(NULL, len + 5);

				sprintf(r, "(!(%.*s))", len - 2, o->s + 1);
				emit_span(file, t, line, o->col, len, r, "NEG", f->name);
				free(r);
				if (is_tok(tk, "if")) {
					emit_span(file, t, line, o->col, len, "(0)", "CND", f->name);
					emit_span(file, t, line, o->col, len, "(1)", "CND", f->name);
				}
			}
		}
		if ((is_tok(tk, "+") || is_tok(tk, "-")) && binary_context(i))
			emit_span(file, t, line, tk->col, 1, is_tok(tk, "+") ? "-" : "+", "AOR",
				  f->name);
		if (is_tok(tk, "+=") || is_tok(tk, "-="))
			emit_span(file, t, line, tk->col, 2, is_tok(tk, "+=") ? "-=" : "+=", "AOR",
				  f->name);
		if (is_tok(tk, "++") || is_tok(tk, "--"))
			emit_span(file, t, line, tk->col, 2, is_tok(tk, "++") ? "--" : "++", "AOR",
				  f->name);
		if (tk->kind == T_NUM) {
			char *end;
			unsigned long long v = strtoull(tk->s, &end, 0);
			int digits = end - tk->s;
			char r[64];

			if (digits > 0 && digits <= tk->len && !strchr(tk->s, '.') &&
			    (tk->len < 2 || strncasecmp(tk->s, "0x", 2) || v > 0)) {
				const char *suffix = tk->s + digits;
				int sl = tk->len - digits;

				if (v == 0) {
					snprintf(r, sizeof(r), "1%.*s", sl, suffix);
					emit_span(file, t, line, tk->col, tk->len, r, "CRP", f->name);
				} else {
					snprintf(r, sizeof(r), "%llu%.*s", v - 1, sl, suffix);
					emit_span(file, t, line, tk->col, tk->len, r, "CRP", f->name);
					snprintf(r, sizeof(r), "%llu%.*s", v + 1, sl, suffix);
					emit_span(file, t, line, tk->col, tk->len, r, "CRP", f->name);
				}
			}
		}
		if (is_tok(tk, "true"))
			emit_span(file, t, line, tk->col, tk->len, "false", "BOL", f->name);
		if (is_tok(tk, "false"))
			emit_span(file, t, line, tk->col, tk->len, "true", "BOL", f->name);
		if (is_tok(tk, "&") && binary_context(i) && i + 1 <= hi &&
		    toks[i + 1].kind == T_IDENT && i + 2 <= hi &&
		    (is_tok(&toks[i + 2], ";") || is_tok(&toks[i + 2], ")"))) {
			/* x & MASK -> x: the mask dropped. */
			const struct tok *p = &toks[i - 1], *m = &toks[i + 1];
			int from = p->col + p->len;

			emit_span(file, t, line, from, m->col + m->len - from, "", "MSK", f->name);
		}
		if (is_tok(tk, "return") && i < hi && !is_tok(&toks[i + 1], ";")) {
			int e = i + 1;

			while (e <= hi && !is_tok(&toks[e], ";"))
				e++;
			if (e <= hi) {
				const struct tok *a = &toks[i + 1], *z = &toks[e];
				int len = z->col - a->col;
				const char *vals[3];
				int nv = 0;

				if (f->is_bool) {
					vals[nv++] = "true";
					vals[nv++] = "false";
				} else if (f->is_ptr) {
					vals[nv++] = "NULL";
				} else {
					vals[nv++] = "0";
					vals[nv++] = "1";
					vals[nv++] = "-1";
				}
				for (int v = 0; v < nv; v++)
					emit_span(file, t, line, a->col, len, vals[v], "RET", f->name);
				/* The function's other one-line return values. */
				for (int j = f->body; j <= f->last; j++) {
					int k = j + 1;

					if (!is_tok(&toks[j], "return") || j == i)
						continue;
					while (k <= f->last && !is_tok(&toks[k], ";"))
						k++;
					if (k > f->last || toks[k].line != toks[j].line || k == j + 1)
						continue;
					{
						const struct tok *b = &toks[j + 1];
						char *r = xstrndup(b->s, toks[k].s - b->s);

						emit_span(file, t, line, a->col, len, r, "RET", f->name);
						free(r);
					}
				}
			}
		}
	}
	/* SDL: the whole line is one call or one assignment. */
	if (toks[lo].kind == T_IDENT && !is_keyword(&toks[lo]) && is_tok(&toks[hi], ";") &&
	    (is_tok(&toks[lo - 1], ";") || is_tok(&toks[lo - 1], "{") ||
	     is_tok(&toks[lo - 1], "}") || is_tok(&toks[lo - 1], ")") ||
	     is_tok(&toks[lo - 1], "else"))) {
		int i = lo + 1;
		bool stmt = false;

		while (i < hi && (is_tok(&toks[i], "->") || is_tok(&toks[i], ".")) &&
		       toks[i + 1].kind == T_IDENT)
			i += 2;
		if (is_tok(&toks[i], "(")) {
			stmt = match_close(i) == hi - 1;
		} else {
			static const char *const asg[] = { "=", "+=", "-=", "*=", "/=", "%=", "&=",
							   "|=", "^=", "<<=", ">>=" };

			for (size_t a = 0; a < sizeof(asg) / sizeof(*asg); a++)
				stmt |= is_tok(&toks[i], asg[a]);
		}
		if (stmt)
			emit_span(file, t, line, toks[lo].col, toks[hi].col - toks[lo].col, "",
				  "SDL", f->name);
	}
	swap_args(file, t, line, lo, hi, f);
}

static void generate(const char *tree)
{
	for (int a = 0; a < nadds; a++) {
		char *path;
		struct text *t = xrealloc(NULL, sizeof(*t));

		if (asprintf(&path, "%s/%s", tree, adds[a].file) < 0)
			die(70, "out of memory");
		if (!read_text(path, t))
			die(E_INPUT, "cannot read %s: %s (is -C the tree at the diff's new side?)",
			    path, strerror(errno));
		free(path);
		tokenize(t);
		find_functions();
		for (int i = 0; i < adds[a].n; i++)
			if (adds[a].lines[i] <= t->n) {
				part_lo = adds[a].lo[i];
				part_hi = adds[a].hi[i];
				mutate_line(adds[a].file, t, adds[a].lines[i]);
			}
		part_lo = part_hi = -1;
		/* the text stays: mutants point into it */
	}
}

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static char *unescape(const char *s)
{
	char *d = xrealloc(NULL, strlen(s) + 1), *o = d;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return d;
}

static void usage(int code)
{
	fputs("Usage: mutate list  -C TREE [-f FILE] [-l LINE[-LINE]] [-F FUNC] [-s K/N] DIFF\n"
	      "       mutate apply -C TREE FILE LINE ORIGINAL MUTATED\n"
	      "       mutate report -o PREFIX [-x EXCEPTIONS] RESULTS\n"
	      "Exit codes: 0 ok, 1 a survivor not justified (report), 2 apply: the line\n"
	      "is not the original one, 64 usage, 66 an input cannot be read\n",
	      code ? stderr : stdout);
	exit(code);
}

static int cmd_list(int argc, char **argv)
{
	const char *tree = NULL, *file = NULL, *func = NULL;
	int lmin = 0, lmax = 0, k = 1, n = 1, shown = 0;

	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (o[0] != '-' || !o[1]) {
			if (i != argc - 1)
				usage(E_USAGE);
			break;
		}
		if (!v)
			die(E_USAGE, "%s needs a value", o);
		i++;
		if (!strcmp(o, "-C"))
			tree = v;
		else if (!strcmp(o, "-f"))
			file = *v ? v : NULL;
		else if (!strcmp(o, "-F"))
			func = *v ? v : NULL;
		else if (!strcmp(o, "-l")) {
			char *e;

			if (!*v)
				continue;
			lmin = lmax = strtol(v, &e, 10);
			if (*e == '-')
				lmax = strtol(e + 1, &e, 10);
			if (*e || lmin <= 0 || lmax < lmin)
				die(E_USAGE, "LINE=%s: a line number or a range A-B is needed", v);
		} else if (!strcmp(o, "-s")) {
			char c;

			if (!*v)
				continue;
			if (sscanf(v, "%d/%d%c", &k, &n, &c) != 2 || n < 1 || k < 1 || k > n)
				die(E_USAGE, "SHARD=%s: K/N with 1 <= K <= N is needed, e.g. 2/4", v);
		} else {
			usage(E_USAGE);
		}
	}
	if (!tree || argc < 1 || argv[argc - 1][0] == '-')
		usage(E_USAGE);
	read_diff(argv[argc - 1]);
	generate(tree);
	for (int i = 0, m = 0; i < nmuts; i++) {
		const struct mutant *x = &muts[i];
		size_t fl = file ? strlen(file) : 0, xl = strlen(x->file);

		if (file && strcmp(x->file, file) &&
		    !(xl > fl && !strcmp(x->file + xl - fl, file) && x->file[xl - fl - 1] == '/'))
			continue;
		if (lmin && (x->line < lmin || x->line > lmax))
			continue;
		if (func && strcmp(func, x->func))
			continue;
		if (m++ % n != k - 1)
			continue;
		printf("M%03d\t%s\t%d\t%s\t%s\t", i + 1, x->file, x->line, x->op, x->func);
		put_escaped(stdout, x->orig);
		putchar('\t');
		put_escaped(stdout, x->mut);
		putchar('\n');
		shown++;
	}
	return 0;
}

static int cmd_apply(int argc, char **argv)
{
	struct text t;
	char *path, *orig, *mut;
	int line;
	FILE *f;

	if (argc != 6 || strcmp(argv[0], "-C"))
		usage(E_USAGE);
	line = atoi(argv[3]);
	orig = unescape(argv[4]);
	mut = unescape(argv[5]);
	if (line < 1)
		die(E_USAGE, "%s: a line number is needed", argv[3]);
	if (asprintf(&path, "%s/%s", argv[1], argv[2]) < 0 || !read_text(path, &t))
		die(E_INPUT, "cannot read %s: %s", path, strerror(errno));
	if (line > t.n || strcmp(t.line[line], orig))
		die(2, "%s:%d is not the original line: is a mutant already applied? (git checkout the tree)",
		    path, line);
	t.line[line] = mut;
	f = fopen(path, "w");
	if (!f)
		die(E_INPUT, "cannot write %s: %s", path, strerror(errno));
	for (int i = 1; i <= t.n; i++)
		fprintf(f, "%s%s", t.line[i], i < t.n || t.final_newline ? "\n" : "");
	if (fclose(f))
		die(E_INPUT, "cannot write %s: %s", path, strerror(errno));
	return 0;
}

/* --- report ----------------------------------------------------------------------- */

struct result {
	char *id, *file, *op, *func, *status, *killer, *orig, *mut, *why;
	int line;
	double secs, build, guest;
};

static char *trim(const char *s)
{
	size_t l;

	while (*s == ' ' || *s == '\t')
		s++;
	l = strlen(s);
	while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
		l--;
	return xstrndup(s, l);
}

static int rank(const struct result *r)
{
	static const char *const order[] = { "survived", "timeout", "killed", "equivalent",
					     "stillborn" };

	for (int i = 0; i < 5; i++)
		if (!strcmp(r->status, order[i]))
			return i;
	return 5;
}

static int cmp_result(const void *a, const void *b)
{
	const struct result *x = a, *y = b;
	int c = rank(x) - rank(y);

	if (c)
		return c;
	c = strcmp(x->file, y->file);
	if (c)
		return c;
	if (x->line != y->line)
		return x->line - y->line;
	return strcmp(x->id, y->id);
}

/* Markdown table cell: the code in backticks, pipes escaped. */
static void md_code(FILE *f, const char *s)
{
	fputc('`', f);
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '`')
			fputc('\'', f);
		else
			fputc(*s, f);
	}
	fputc('`', f);
}

static int cmd_report(int argc, char **argv)
{
	const char *prefix = NULL, *exc = NULL, *in;
	struct result *rs = NULL;
	int nr = 0, gen, equiv = 0, still = 0, killed = 0, timeout = 0, surv = 0, excused = 0;
	double total = 0, build = 0, guest = 0;
	char *buf = NULL, *mdp, *jsp;
	size_t cap = 0;
	FILE *f, *md, *js;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-o"))
			prefix = argv[i + 1];
		else if (!strcmp(argv[i], "-x"))
			exc = argv[i + 1];
		else
			usage(E_USAGE);
	}
	if (!prefix || argc % 2 == 0)
		usage(E_USAGE);
	in = argv[argc - 1];
	f = fopen(in, "r");
	if (!f)
		die(E_INPUT, "cannot read the results %s: %s (did the run start?)", in,
		    strerror(errno));
	for (int ln = 1; getline(&buf, &cap, f) > 0; ln++) {
		char *field[12], *p = buf;
		int n = 0;
		struct result r;

		buf[strcspn(buf, "\n")] = '\0';
		if (!*buf || *buf == '#')
			continue;
		while (n < 12) {
			field[n++] = p;
			p = strchr(p, '\t');
			if (!p)
				break;
			*p++ = '\0';
		}
		if (n != 12)
			die(E_INPUT, "%s:%d: 12 tab-separated fields expected, found %d", in, ln, n);
		r = (struct result){
			xstrdup(field[0]), xstrdup(field[1]), xstrdup(field[3]), xstrdup(field[4]),
			xstrdup(field[5]), xstrdup(field[6]), unescape(field[10]),
			unescape(field[11]), NULL, atoi(field[2]), atof(field[7]), atof(field[8]),
			atof(field[9]),
		};
		if (rank(&r) == 5)
			die(E_INPUT, "%s:%d: unknown status '%s'", in, ln, r.status);
		/* A mutant run twice (a resumed run): the last line counts. */
		for (int i = 0; i < nr; i++)
			if (!strcmp(rs[i].id, r.id)) {
				rs[i] = r;
				r.id = NULL;
				break;
			}
		if (!r.id)
			continue;
		rs = xrealloc(rs, (nr + 1) * sizeof(*rs));
		rs[nr++] = r;
	}
	fclose(f);
	if (exc) {
		char *why = NULL;

		f = fopen(exc, "r");
		if (!f)
			die(E_INPUT, "cannot read the exceptions %s: %s", exc, strerror(errno));
		while (getline(&buf, &cap, f) > 0) {
			buf[strcspn(buf, "\n")] = '\0';
			if (buf[0] == '#') {
				char *w = trim(buf + 1);

				if (!*w || !strncmp(w, "SPDX", 4)) {
					free(w);
					free(why);
					why = NULL;
					continue;
				}
				if (why) {
					char *j;

					if (asprintf(&j, "%s %s", why, w) < 0)
						die(70, "out of memory");
					free(why);
					why = j;
				} else {
					why = xstrdup(w);
				}
				free(w);
				continue;
			}
			if (!*buf) {
				/* A blank line ends a comment: the reason is the block right above. */
				free(why);
				why = NULL;
				continue;
			}
			for (int i = 0; i < nr; i++) {
				char *o = trim(rs[i].orig), *m = trim(rs[i].mut), *key;

				if (asprintf(&key, "%s: %s: %s => %s", rs[i].file, rs[i].op, o, m) < 0)
					die(70, "out of memory");
				if (!strcmp(key, buf))
					rs[i].why = xstrdup(why ? why : "(no reason given)");
				free(key);
				free(o);
				free(m);
			}
			free(why);
			why = NULL;
		}
		fclose(f);
	}
	qsort(rs, nr, sizeof(*rs), cmp_result);
	for (int i = 0; i < nr; i++) {
		const char *s = rs[i].status;

		equiv += !strcmp(s, "equivalent");
		still += !strcmp(s, "stillborn");
		killed += !strcmp(s, "killed");
		timeout += !strcmp(s, "timeout");
		surv += !strcmp(s, "survived");
		excused += !strcmp(s, "survived") && rs[i].why;
		total += rs[i].secs;
		build += rs[i].build;
		guest += rs[i].guest;
	}
	gen = nr;
	if (asprintf(&mdp, "%s.md", prefix) < 0 || asprintf(&jsp, "%s.json", prefix) < 0)
		die(70, "out of memory");
	md = fopen(mdp, "w");
	js = fopen(jsp, "w");
	if (!md || !js)
		die(E_INPUT, "cannot write %s or %s: %s", mdp, jsp, strerror(errno));

	{
		int den = gen - equiv - still;
		char score[64];

		if (den > 0)
			snprintf(score, sizeof(score), "%d/%d = %.1f %%", killed + timeout, den,
				 100.0 * (killed + timeout) / den);
		else
			snprintf(score, sizeof(score), "n/a (no mutant to score)");
		fprintf(md, "# Mutants of the series\n\n"
			"| generated | stillborn | equivalent | killed | timed out | survived | justified | score |\n"
			"|---|---|---|---|---|---|---|---|\n"
			"| %d | %d | %d | %d | %d | %d | %d | %s |\n\n"
			"Score: killed (timeouts included) / (generated - equivalent - stillborn).\n"
			"Time: %.1f s in all, %.1f s building, %.1f s in guests; %.1f s a mutant.\n\n"
			"| mutant | where | function | op | change | status | time |\n"
			"|---|---|---|---|---|---|---|\n",
			gen, still, equiv, killed, timeout, surv, excused, score, total, build,
			guest, gen ? total / gen : 0.0);
		printf("mutants: generated %d, stillborn %d, equivalent %d, killed %d (timed out %d),"
		       " survived %d (justified %d), score %s\n",
		       gen, still, equiv, killed + timeout, timeout, surv, excused, score);
		fprintf(js, "{\n  \"generated\": %d, \"stillborn\": %d, \"equivalent\": %d,\n"
			"  \"killed\": %d, \"timeout\": %d, \"survived\": %d, \"justified\": %d,\n"
			"  \"score\": %s, \"seconds\": %.3f, \"build_seconds\": %.3f, \"guest_seconds\": %.3f,\n"
			"  \"mutants\": [",
			gen, still, equiv, killed, timeout, surv, excused,
			den > 0 ? (snprintf(score, sizeof(score), "%.4f",
					    (double)(killed + timeout) / den), score) : "null",
			total, build, guest);
	}
	for (int i = 0; i < nr; i++) {
		const struct result *r = &rs[i];
		char *o = trim(r->orig), *m = trim(r->mut);

		fprintf(md, "| %s | %s:%d | %s | %s | ", r->id, r->file, r->line, r->func, r->op);
		md_code(md, o);
		fputs(" → ", md);
		md_code(md, m);
		if (!strcmp(r->status, "killed"))
			fprintf(md, " | killed by %s", r->killer);
		else if (!strcmp(r->status, "timeout"))
			fprintf(md, " | timed out (killed) in %s", r->killer);
		else if (r->why)
			fprintf(md, " | survived, justified: %s", r->why);
		else
			fprintf(md, " | %s", r->status);
		fprintf(md, " | %.1f s |\n", r->secs);
		fprintf(js, "%s\n    {\"id\": ", i ? "," : "");
		json_string(js, r->id);
		fputs(", \"file\": ", js);
		json_string(js, r->file);
		fprintf(js, ", \"line\": %d, \"function\": ", r->line);
		json_string(js, r->func);
		fputs(", \"operator\": ", js);
		json_string(js, r->op);
		fputs(", \"status\": ", js);
		json_string(js, r->status);
		fputs(", \"killer\": ", js);
		json_string(js, strcmp(r->killer, "-") ? r->killer : "");
		fputs(", \"justified\": ", js);
		json_string(js, r->why ? r->why : "");
		fputs(", \"original\": ", js);
		json_string(js, o);
		fputs(", \"mutant\": ", js);
		json_string(js, m);
		fprintf(js, ", \"seconds\": %.3f}", r->secs);
		if (!strcmp(r->status, "survived"))
			fprintf(stdout, "%s %s:%d %s: %s -> %s%s%s\n", r->why ? "justified" : "SURVIVED",
				r->file, r->line, r->op, o, m, r->why ? ": " : "",
				r->why ? r->why : "");
		free(o);
		free(m);
	}
	fputs("\n  ]\n}\n", js);
	if (fclose(md) || fclose(js))
		die(E_INPUT, "cannot write %s or %s", mdp, jsp);
	return surv > excused;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage(E_USAGE);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		usage(0);
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 2, argv + 2);
	if (!strcmp(argv[1], "apply"))
		return cmd_apply(argc - 2, argv + 2);
	if (!strcmp(argv[1], "report"))
		return cmd_report(argc - 2, argv + 2);
	usage(E_USAGE);
	return E_USAGE;
}
