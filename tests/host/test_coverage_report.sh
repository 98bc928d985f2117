#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The series coverage report's parser (scripts/report/coverage-report.c) on stand-in data with known numbers.
#
# Usage: tests/host/test_coverage_report.sh [PATTERN]   (runs the test_* functions matching it)
#
# tests/host/data/coverage/ holds a stand-in series diff and sandbox diff
# (git diff -U0, as scripts/report/coverage.sh writes them) and lcov tracefiles
# whose numbers are worked out by hand in the comments below.  The tool is
# build/host/coverage-report (BUILD names another build/), made afresh by
# make's rule for host tools, so that its warnings show; to see a broken
# variant fail, run this script of a copy of the tree (a git worktree)
# whose scripts/report/coverage-report.c is broken.  No kernel, no guest.
# Prints KTAP.
# shellcheck disable=SC2016 # the backquotes are the report's Markdown, not expansions
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly DATA="$TOP/tests/host/data/coverage"
readonly SRC="$TOP/scripts/report/coverage-report.c"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-covreport.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# expect_line TEXT FILE WHAT: FILE has a line that is exactly TEXT.
expect_line() {
	expect_match -xF "$@"
}

# expect_text TEXT FILE WHAT: FILE contains TEXT (fixed string).
expect_text() {
	expect_match -F "$@"
}

# report_patched: the stand-in patched run, with two tests and an idle boot.
report_patched() {
	"$TOOL" -r /tree -s "$DATA/series.diff" -x "$DATA/sandbox.diff" -e "$DATA/known.txt" \
		-b "$DATA/idle.info" -t "one=$DATA/test-one.info" -t "none=$DATA/test-none.info" \
		-l "none=gcov data lost: panic" -m "$scratch/p.md" -j "$scratch/p.json" \
		"$DATA/patched.info"
}

# Built once, before the tests (ktap_run_all runs them in name order), and
# compiled even when up to date (-W: its source counts as new), so that
# its warnings are seen; a tool that does not build fails every test that
# runs it.  Make leaves no old binary behind a failed compile (its
# .DELETE_ON_ERROR), so one that does not build is not there.
host_tool coverage-report -W "$SRC" 2>"$scratch/cc.err" >/dev/null || true
readonly TOOL="$REPLY"

test_builds_without_warnings() {
	[[ -x "$TOOL" ]] || { sed 's/^/#   /' "$scratch/cc.err"; fail "${SRC#"$TOP"/} does not build"; return; }
	[[ ! -s "$scratch/cc.err" ]] ||
		{ sed 's/^/#   /' "$scratch/cc.err"; fail "${SRC#"$TOP"/} builds with warnings"; return; }
	diag "built ${SRC#"$TOP"/} without warnings"
}

# The series adds mm/x.c:4-7 (4 a comment) and 14, and include line
# inc/y.h:5 (a declaration).  Executable (a DA record): 5, 6, 7, 14; run:
# 5, 7, 14 (6 has count 0, and /other/mm/x.c's 100 is another tree).
# Branches: line 5 taken 0 and 3, line 14 taken 2 and 1: 3 of 4.
test_series_summary() {
	report_patched || { fail "the report failed"; return; }
	expect_line "Summary: 3 of 4 added executable lines, 3 of 4 branch outcomes" "$scratch/p.md" \
		"the summary" || return
	expect_line '| 6 | **0** |  | `        return 1;` |' "$scratch/p.md" \
		"another tree's counts are not this one's" || return
	expect_line '| 5 |  |  | `int g(int a, bool b);` |' "$scratch/p.md" \
		"a declaration is a series line, not executable" || return
	expect_line '| 5 | 3 | 1/2: 0 3 | `    if (a)` |' "$scratch/p.md" "each outcome's count"
}

# Line 6 has a known reason, the missed outcome of line 5 has none.
test_unreached_listed() {
	report_patched || { fail "the report failed"; return; }
	expect_line '- `mm/x.c:6` line never executed: needs a != 0, which the stand-in never has' \
		"$scratch/p.md" "a known unreachable line, with its reason" || return
	expect_line '- `mm/x.c:5` 1 of 2 branch outcomes never taken: NOT EXPLAINED: a test is missing' \
		"$scratch/p.md" "an unexplained miss"
}

# The sandbox adds series-base lines 2, 9 and 10.  The series inserts 4
# lines before series-base line 4 and replaces line 10: 2 stays 2, 9 is
# 13 in the patched tree, 10 is the series' now.  2 ran (7), 13 did not.
test_sandbox_apart() {
	report_patched || { fail "the report failed"; return; }
	expect_line "**1 of 2 added executable lines, 0 of 0 branch outcomes** (2 lines in all; 0 not executable: comments, declarations, braces)" \
		"$scratch/p.md" "the sandbox's own summary" || return
	expect_line '| 13 | **0** |  | `    sandbox_a();` |' "$scratch/p.md" \
		"a sandbox line mapped through the series diff" || return
	expect_text "1 line(s) of the sandbox's patches are changed by the series" "$scratch/p.md" \
		"a sandbox line the series replaced is not the sandbox's"
}

# Test one: 5, 7 and 14 run (6 is 0); beyond the idle boot (5:1, 7:0,
# 14:1): 7 and 14.  Test none reaches nothing and carries its note.
test_per_test() {
	report_patched || { fail "the report failed"; return; }
	expect_line '| one | 3 | 2 | mm/x.c:7, mm/x.c:14 |' "$scratch/p.md" "test one's row" || return
	expect_line "| none | 0 | 0 | reaches none of the series' lines (gcov data lost: panic) |" \
		"$scratch/p.md" "a test that reaches nothing says so" || return
	# Branch outcomes: one takes line 5's second once (idle has none).
	expect_line '| mm/x.c:5 | 1 | 3 | one (1) |' "$scratch/p.md" "who takes an outcome" || return
	expect_line '| mm/x.c:5 | 0 | 0 | none |' "$scratch/p.md" "an outcome nobody takes"
}

test_json() {
	report_patched || { fail "the report failed"; return; }
	expect_text '"series": {"lines": 6, "executable": 4, "executed": 3, "branch_outcomes": 4, "branch_outcomes_taken": 3, "summary": "3 of 4 added executable lines, 3 of 4 branch outcomes"}' \
		"$scratch/p.json" "the series' totals" || return
	expect_text '"sandbox": {"lines": 2, "executable": 2, "executed": 1,' "$scratch/p.json" \
		"the sandbox's totals" || return
	expect_text '{"name": "one", "note": null, "lines": [{"file": "mm/x.c", "line": 5, "count": 1, "idle": 1}, {"file": "mm/x.c", "line": 7, "count": 2, "idle": 0}, {"file": "mm/x.c", "line": 14, "count": 2, "idle": 1}]}' \
		"$scratch/p.json" "test one's lines" || return
	if command -v python3 >/dev/null 2>&1; then
		python3 -m json.tool "$scratch/p.json" >/dev/null ||
			{ fail "the JSON does not parse"; return; }
		diag "the JSON parses"
	fi
}

# On base the series' lines are its '-' lines: mm/x.c:10 (run 4 times,
# outcomes 4 and never) and inc/y.h:5 (a declaration).  The sandbox's
# lines are where its diff puts them: 2 (5), 9 (0), 10 (4).
# The functions that hold a series line: f (1-7, its last DA before h)
# and h (12-14); inc/y.h's declaration is in none.
test_functions() {
	report_patched || { fail "the report failed"; return; }
	expect_line '| `f` | mm/x.c:1 | 7 | 3 of 4 | 1 of 2 |' "$scratch/p.md" \
		"f ends at its last executable line before h" || return
	expect_line '| `h` | mm/x.c:12 | 3 | 1 of 2 | 2 of 2 |' "$scratch/p.md" "h's row" || return
	[[ "$(grep -c '^| `' "$scratch/p.md")" -eq 2 ]] ||
		fail "expected the rows of f and h only: $(grep '^| `' "$scratch/p.md")" || return
	expect_text '"series_functions": [{"name": "f", "file": "mm/x.c", "line": 1, "calls": 7, "lines": 4, "executed": 3, "branch_outcomes": 2, "branch_outcomes_taken": 1}, {"name": "h",' \
		"$scratch/p.json" "the functions in the JSON"
}

# With the source at hand, a function ends at its "}" in column 0: f's at
# line 6 leaves line 7 (DA 7) to no function.
test_functions_end_in_source() {
	mkdir -p "$scratch/tree/mm"
	printf '%s\n' 'int f(int a)' '{' '	int b = a;' '' '	if (a)' '}' 'x;' '' '' '' '' \
		'int h(void)' '{' '	return 0;' '}' >"$scratch/tree/mm/x.c"
	sed "s|/tree/|$scratch/tree/|" "$DATA/patched.info" >"$scratch/src.info"
	"$TOOL" -r "$scratch/tree" -s "$DATA/series.diff" -m "$scratch/s.md" "$scratch/src.info" ||
		{ fail "the report failed"; return; }
	expect_line '| `f` | mm/x.c:1 | 7 | 2 of 3 | 1 of 2 |' "$scratch/s.md" \
		"f ends at the brace of line 6, not at its last line before h" || return
	expect_line '| `h` | mm/x.c:12 | 3 | 1 of 2 | 2 of 2 |' "$scratch/s.md" "h's row"
}

test_base() {
	"$TOOL" -k base -r /tree -s "$DATA/series.diff" -x "$DATA/sandbox.diff" -m "$scratch/b.md" \
		"$DATA/base.info" || { fail "the report failed"; return; }
	expect_line "Summary: 1 of 1 replaced executable lines, 1 of 2 branch outcomes" "$scratch/b.md" \
		"base: the summary of the replaced lines" || return
	expect_line "**2 of 3 added executable lines, 1 of 2 branch outcomes** (3 lines in all; 0 not executable: comments, declarations, braces)" \
		"$scratch/b.md" "base: the sandbox's lines unmapped" || return
	expect_line '| `f_old` | mm/x.c:8 | 4 | 1 of 2 | 1 of 2 |' "$scratch/b.md" \
		"base: the function the series changes, as it was"
}

# Bad input: one error line naming the file, exit 1; bad usage 64.
test_bad_input() {
	local rc
	rc=0
	"$TOOL" -s "$DATA/series.diff" "$DATA/truncated.info" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 1 "$rc" "a truncated tracefile" || return
	expect_grep 'truncated.info: the last record has no end_of_record' "$scratch/err" "  the error" || return
	rc=0
	"$TOOL" -s "$DATA/short.diff" "$DATA/patched.info" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 1 "$rc" "a diff cut short" || return
	expect_grep 'short.diff: the last hunk is cut short' "$scratch/err" "  the error" || return
	rc=0
	"$TOOL" -s "$scratch/none.diff" "$DATA/patched.info" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 1 "$rc" "a diff that does not exist" || return
	expect_grep 'cannot read .*none.diff' "$scratch/err" "  the error" || return
	rc=0
	"$TOOL" -s "$DATA/series.diff" "$DATA/bad-fn.info" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 1 "$rc" "an FN record without a name" || return
	expect_grep "bad-fn.info:3: malformed 'FN:3'" "$scratch/err" "  the error" || return
	rc=0
	"$TOOL" "$DATA/patched.info" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 64 "$rc" "no -s" || return
	rc=0
	"$TOOL" -k nonsense -s "$DATA/series.diff" "$DATA/patched.info" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 64 "$rc" "-k nonsense"
}

ktap_run_all test_coverage_report "${1:-}"
