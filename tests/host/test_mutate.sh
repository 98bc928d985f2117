#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make mutate's tool on stand-in data: mutants counted by hand, the equivalence check, the report.
#
# Usage: tests/host/test_mutate.sh [PATTERN]   (runs the test_* functions matching it)
# Needs a C compiler and binutils only: no kernel, no guest; prints KTAP.
#
# tests/host/data/mutate/: tree/lib/standin.c is a stand-in for a kernel
# file and standin.diff the diff that adds its lines (git diff -U0, as
# make mutate takes it from linux/, and a selftest under tools/ that the
# generator must leave alone); results.tsv and exceptions are a
# stand-in run of make mutate.  The tool is build/host/mutate (BUILD names
# another build/), made by make's rule for host tools; MUTATE_SH tests
# another copy of scripts/dev/mutate.sh (to see a broken one fail), and a
# broken mutate.c fails here when this script of a copy of the tree (a
# git worktree) runs.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly DATA="$TOP/tests/host/data/mutate"
readonly MUTATE_SH="${MUTATE_SH:-$TOP/scripts/dev/mutate.sh}"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-mutate-tests.XXXXXX")"
readonly scratch
trap 'rm -rf "$scratch"' EXIT
readonly TOOL="$scratch/host/mutate"

# list [OPTIONS]: the stand-in's mutants, as make mutate lists them.
list() {
	"$TOOL" list -C "$DATA/tree" "$@" "$DATA/standin.diff"
}

# Mutants per operator, counted by hand on tree/lib/standin.c:
#   11 return a - b + 4;     a changed line (the diff removes return a - b;):
#                            only what touches " + 4": RET 3 (0, 1, -1),
#                            AOR 1 (+ 4 -> - 4; not a - b), CRP 2 (3, 5)
#   17 if (x < y)            ROR 5, NEG 1 (!(...)), CND 2 (0, 1)
#   18 return false;         RET 2 (true; check's other value !helper(1, 2));
#                            its BOL (true) is RET's true again: made once
#   19 return !helper(1, 2); RET 2 (true, false), NEG 1 (the ! removed),
#                            CRP 4 (1 -> 0, 2; 2 -> 1, 3), SWP 1 (2, 1)
#   24 int r = 0;            CRP 1 (a declaration is not deleted)
#   25 bool ok = true;       BOL 1
#   27 r = helper(n, n + 2); AOR 1, CRP 2, SDL 1 (n + 2 is no lone argument)
#   28 if (check(x, y) && n) NEG 1, CND 2, LCR 1, SWP 1 (x, y: unsigned long)
#   29 r += 1;               AOR 1 (-=), CRP 2, SDL 1
#   30 n = n & MASK;         MSK 1, SDL 1
#   31 return ok ? r : n;    RET 3 (0, 1, -1; entry has no other return)
# and none of the added comment (16), #define (5), file-scope line (7) or
# of tools/t.c.
test_generator_counts() {
	local -r want="AOR 3
BOL 1
CND 4
CRP 11
LCR 1
MSK 1
NEG 3
RET 10
ROR 5
SDL 3
SWP 2"
	local got
	list >"$scratch/all.tsv" || fail "mutate list failed" || return
	got="$(cut -f4 "$scratch/all.tsv" | sort | uniq -c | awk '{ print $2, $1 }')"
	diag "per operator: $(echo "$got" | tr '\n' ' ')"
	[[ "$got" == "$want" ]] || fail "expected, per operator: $(echo "$want" | tr '\n' ' ')" || return
	[[ $(wc -l <"$scratch/all.tsv") -eq 44 ]] || fail "44 mutants expected" || return
	if grep -qF 'return a + b + 4;' "$scratch/all.tsv"; then
		fail "line 11's unchanged a - b was mutated"
		return
	fi
	if cut -f3 "$scratch/all.tsv" | grep -qxE '5|7|16'; then
		fail "a comment, a #define or a file-scope line was mutated"
		return
	fi
	cut -f2 "$scratch/all.tsv" | sort -u | grep -qx 'lib/standin.c' ||
		fail "the mutants are not all of lib/standin.c"
	# One textual change to one line: the SWP of check(x, y) exactly.
	expect_match -xF "M035	lib/standin.c	28	SWP	entry	\\tif (check(x, y) && n)	\\tif (check(y, x) && n)" \
		"$scratch/all.tsv" "line 28's swap"
}

# FILE, LINE, FUNC and SHARD select; IDs are those of the whole set.
test_generator_selects() {
	local n k ids
	list >"$scratch/all.tsv"
	n="$(list -l 17 | wc -l)"
	[[ $n -eq 8 ]] || fail "-l 17: $n mutants, 8 expected" || return
	n="$(list -l 27-28 | wc -l)"
	[[ $n -eq 9 ]] || fail "-l 27-28: $n mutants, 9 expected" || return
	n="$(list -F entry | wc -l)"
	[[ $n -eq 20 ]] || fail "-F entry: $n mutants, 20 expected" || return
	n="$(list -f standin.c | wc -l)"
	[[ $n -eq 44 ]] || fail "-f standin.c: $n mutants, 44 expected" || return
	n="$(list -f other.c | wc -l)"
	[[ $n -eq 0 ]] || fail "-f other.c: $n mutants, none expected" || return
	diag "LINE=17: 8, LINE=27-28: 9, FUNC=entry: 20, FILE=standin.c: 44, FILE=other.c: 0"
	: >"$scratch/shards"
	for k in 1 2 3; do
		list -s "$k/3" >"$scratch/shard$k"
		diag "shard $k/3: $(wc -l <"$scratch/shard$k") mutants"
		[[ $(wc -l <"$scratch/shard$k") -ge 14 ]] || fail "shard $k/3 is not a third" || return
		cat "$scratch/shard$k" >>"$scratch/shards"
	done
	ids="$(sort "$scratch/shards" | cut -f1 | uniq -d)"
	[[ -z "$ids" ]] || fail "in two shards: $ids" || return
	sort "$scratch/shards" | cmp -s - <(sort "$scratch/all.tsv") ||
		fail "the three shards are not the whole set"
}

# apply writes one mutant (line 27's SDL) into a copy of the tree, and only over the original line.
test_generator_applies() {
	local rc=0 changed
	cp -r "$DATA/tree" "$scratch/tree"
	local -a m
	IFS=$'\t' read -r -a m < <(list -l 27 | grep SDL)
	diag "line 27's SDL: ${m[*]}"
	"$TOOL" apply -C "$scratch/tree" "${m[1]}" "${m[2]}" "${m[5]}" "${m[6]}" ||
		fail "apply ${m[0]} failed" || return
	changed="$(diff "$DATA/tree/lib/standin.c" "$scratch/tree/lib/standin.c" | grep -c '^[<>]' || true)"
	diff "$DATA/tree/lib/standin.c" "$scratch/tree/lib/standin.c" | sed 's/^/# /'
	[[ $changed -eq 2 ]] || fail "one line changed expected, diff has $changed lines" || return
	expect_match -xF "	;" "$scratch/tree/lib/standin.c" "the deleted statement" || return
	"$TOOL" apply -C "$scratch/tree" "${m[1]}" "${m[2]}" "${m[5]}" "${m[6]}" 2>"$scratch/err" || rc=$?
	expect_status 2 "$rc" "${m[0]} applied a second time" &&
		expect_match -F "is not the original line" "$scratch/err" "its message"
}

# The equivalence check: x + 0 compiles to x's object; so does x + zero
# (a local of value 0), whose object differs from x's in its debug info
# only; x + 1 does not.
test_equivalent_object() {
	local rc=0 v
	for v in "x" "x + 0" "x + 1" "x + zero"; do
		printf 'int f(int x);\nint f(int x)\n{\n\tconst int zero = 0; return %s;\n}\n' "$v" \
			>"$scratch/v.c"
		[[ "$v" == *zero ]] || sed -i 's/const int zero = 0; //' "$scratch/v.c"
		cc -O2 -g -c -o "$scratch/v-${v// /}.o" "$scratch/v.c"
	done
	"$MUTATE_SH" same-object "$scratch/v-x.o" "$scratch/v-x+0.o" || rc=$?
	expect_status 0 "$rc" "same-object on x and x + 0" || return
	rc=0
	if cmp -s "$scratch/v-x.o" "$scratch/v-x+zero.o"; then
		fail "x and x + zero compile to the same bytes: the stand-in shows nothing"
		return
	fi
	"$MUTATE_SH" same-object "$scratch/v-x.o" "$scratch/v-x+zero.o" || rc=$?
	expect_status 0 "$rc" "same-object on x and x + zero (debug info apart)" || return
	rc=0
	"$MUTATE_SH" same-object "$scratch/v-x.o" "$scratch/v-x+1.o" || rc=$?
	expect_status 1 "$rc" "same-object on x and x + 1"
}

# The report of a stand-in run: numbers worked by hand.
#   10 mutants (M010 twice: a resumed run; its last line, killed, counts),
#   stillborn 2 (M002, M008), equivalent 1 (M003), killed 4 and timed out
#   1 (M006): 5 of 10 - 1 - 2 = 7, 71.4 %; survived 2, M004 justified in
#   the exceptions, M009 not: exit 1.  The time: 388.8 s in all.
test_report() {
	local rc=0
	"$TOOL" report -o "$scratch/report" -x "$DATA/exceptions" "$DATA/results.tsv" \
		>"$scratch/out" || rc=$?
	sed 's/^/# /' "$scratch/out"
	expect_status 1 "$rc" "the report with an unjustified survivor" || return
	expect_match -xF "mutants: generated 10, stillborn 2, equivalent 1, killed 5 (timed out 1), survived 2 (justified 1), score 5/7 = 71.4 %" \
		"$scratch/out" "the summary" || return
	expect_match -F "| 10 | 2 | 1 | 4 | 1 | 2 | 1 | 5/7 = 71.4 % |" "$scratch/report.md" \
		"the table's first row" || return
	expect_match -F "388.8 s in all" "$scratch/report.md" "the total time" || return
	# Survivors first: the first two mutant rows.
	sed -n '/^| mutant /,$p' "$scratch/report.md" | sed -n '3,4p' >"$scratch/first"
	sed 's/^/# /' "$scratch/first"
	[[ $(grep -c 'survived' "$scratch/first") -eq 2 ]] || fail "survivors are not first" || return
	expect_match -F "survived, justified: x <= y and x < y differ" "$scratch/report.md" \
		"the justification" || return
	expect_match -F "killed by sandbox/mremap_scenarios" "$scratch/report.md" "M010's last result" || return
	expect_match -F '"score": 0.7143' "$scratch/report.json" "the JSON score" || return
	expect_match -F '"id": "M004", "file": "lib/standin.c", "line": 17' "$scratch/report.json" \
		"a JSON mutant" || return
	# Without the unjustified survivor: exit 0.
	rc=0
	grep -v '^M009' "$DATA/results.tsv" >"$scratch/results.tsv"
	"$TOOL" report -o "$scratch/report2" -x "$DATA/exceptions" "$scratch/results.tsv" \
		>/dev/null || rc=$?
	expect_status 0 "$rc" "every survivor justified"
}

# make_repo DIR: a git repository with tag series-base.
make_repo() {
	mkdir -p "$1/lib"
	git -C "$1" init -q
	echo 'int a(void) { return 0; }' >"$1/lib/a.c"
	git -C "$1" add -A
	git -C "$1" -c user.name=t -c user.email=t@t commit -q -m base
	git -C "$1" tag series-base
}

# No commit on series-base, or none with C outside tools/: nothing to mutate,
# exit 0 (--dry-run: a broken check must not start a build).
test_nothing_to_mutate() {
	local rc=0
	make_repo "$scratch/repo"
	BUILD="$scratch" MUTATE_LINUX="$scratch/repo" MUTATE_OUT="$scratch/out1" \
		"$MUTATE_SH" run --dry-run >"$scratch/out" 2>&1 || rc=$?
	sed 's/^/# /' "$scratch/out"
	expect_status 0 "$rc" "no commit on series-base" &&
		expect_match -F "nothing to mutate" "$scratch/out" "its line" || return
	mkdir -p "$scratch/repo/tools"
	printf 'int t(int x)\n{\n\treturn x < 1;\n}\n' >"$scratch/repo/tools/t.c"
	git -C "$scratch/repo" add -A
	git -C "$scratch/repo" -c user.name=t -c user.email=t@t commit -q -m tools
	rc=0
	BUILD="$scratch" MUTATE_LINUX="$scratch/repo" MUTATE_OUT="$scratch/out2" \
		"$MUTATE_SH" run --dry-run >"$scratch/out" 2>&1 || rc=$?
	sed 's/^/# /' "$scratch/out"
	expect_status 0 "$rc" "a commit that changes tools/ only" &&
		expect_match -F "nothing to mutate" "$scratch/out" "its line"
}

# expect_error WANT PATTERN CMD...: exit WANT, PATTERN in its stderr.
expect_error() {
	local -r want="$1" pattern="$2"
	shift 2
	local rc=0
	"$@" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status "$want" "$rc" "$*" &&
		expect_match -F "$pattern" "$scratch/err" "its message"
}

# Bad input: a clear message and a distinct exit code.
test_bad_input() {
	expect_error 64 "SHARD=3/2: K/N with 1 <= K <= N" list -s 3/2 &&
		expect_error 64 "LINE=abc: a line number" list -l abc &&
		expect_error 64 "unknown option '--bogus'" "$MUTATE_SH" run --bogus &&
		expect_error 68 "no kernel tree in" env MUTATE_LINUX="$scratch/none" \
			BUILD="$scratch" "$MUTATE_SH" list &&
		expect_error 66 "cannot read the results" "$TOOL" report -o "$scratch/r" "$scratch/none" &&
		printf 'M001\tonly three\tfields\n' >"$scratch/bad.tsv" &&
		expect_error 66 "12 tab-separated fields expected" "$TOOL" report -o "$scratch/r" \
			"$scratch/bad.tsv" &&
		expect_error 66 "cannot read" "$TOOL" list -C "$scratch/none" "$DATA/standin.diff"
}

main() {
	mkdir -p "$scratch/host"
	# Where mutate.sh (BUILD=$scratch in the tests) looks for it.
	if ! host_tool mutate >/dev/null; then
		echo "test_mutate.sh: make could not build host/mutate (scripts/dev/mutate.c)" >&2
		exit 1
	fi
	cp "$REPLY" "$TOOL"
	ktap_run_all test_mutate "${1:-}"
}

main "$@"
