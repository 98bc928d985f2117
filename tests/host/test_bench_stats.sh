#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The guest bench's statistics (scripts/dev/bench-stats.c) on stand-in data with hand-worked numbers.
#
# Usage: tests/host/test_bench_stats.sh [PATTERN]   (runs the test_* functions matching it)
#
# Each test writes samples ("SCENARIO METRIC KERNEL PAIR VALUE") whose
# medians, 95 % order-statistics intervals, pair-by-pair ratios and
# verdicts are worked out by hand in its comment, and compares the tool's
# line with them.  The tool is build/host/bench-stats (BUILD names another
# build/), made by make's rule for host tools; to see a broken variant
# fail, run this script of a copy of the tree (a git worktree) whose
# scripts/dev/bench-stats.c is broken.  No kernel, no guest, no timing.
# Prints KTAP.
#
# Exit codes: 0 every test passed, 1 a test failed.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly SRC="$TOP/scripts/dev/bench-stats.c"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-benchstats.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# Built once, before the tests, and compiled even when up to date (-W: its
# source counts as new), so that its warnings are seen; a tool that does
# not build fails them all (make's .DELETE_ON_ERROR leaves none behind).
host_tool bench-stats -W "$SRC" 2>"$scratch/cc.err" >/dev/null || true
readonly TOOL="$REPLY"

# samples SCEN KERNEL VALUE...: one line per value, pairs 0, 1, 2, ...
samples() {
	local -r scen="$1" kernel="$2"
	shift 2
	local i=0 v
	for v in "$@"; do
		echo "$scen t $kernel $i $v"
		i=$((i + 1))
	done
}

# expect_stats WANT FILE WHAT: the tool's output for FILE is exactly WANT.
expect_stats() {
	local -r want="$1" file="$2" what="$3"
	[[ -x "$TOOL" ]] || { sed 's/^/#   /' "$scratch/cc.err"; fail "${SRC#"$TOP"/} does not build"; return; }
	"$TOOL" "$file" >"$scratch/out" 2>"$scratch/err" ||
		{ sed 's/^/#   /' "$scratch/err"; fail "$what: the tool failed"; return; }
	if [[ "$(cat "$scratch/out")" != "$want" ]]; then
		diag "want: $want"
		sed 's/^/# got:  /' "$scratch/out"
		fail "$what"
		return
	fi
	diag "$what: $want"
}

test_builds_without_warnings() {
	[[ -x "$TOOL" ]] || { sed 's/^/#   /' "$scratch/cc.err"; fail "${SRC#"$TOP"/} does not build"; return; }
	[[ ! -s "$scratch/cc.err" ]] ||
		{ sed 's/^/#   /' "$scratch/cc.err"; fail "${SRC#"$TOP"/} builds with warnings"; return; }
	diag "built ${SRC#"$TOP"/} without warnings"
}

# Ten pairs.  base: 100, 110, ..., 190: median (140 + 150) / 2 = 145; for
# n = 10, P(Bin(10, 1/2) <= 1) = 11/1024 = 1.1 % <= 2.5 % but
# P(<= 2) = 56/1024 = 5.5 %: k = 2, the interval is [x(2), x(9)] =
# [110, 180].  Ratios pair by pair 0.80, 0.82, ..., 0.98 (patched = base
# times them: 80, 90.2, 100.8, 111.8, 123.2, 135, 147.2, 159.8, 172.8,
# 186.2; median (123.2 + 135) / 2 = 129.1, interval [90.2, 172.8]); the
# ratios' median (0.88 + 0.90) / 2 = 0.89, interval [0.82, 0.96], below 1:
# faster.
test_faster_ten_pairs() {
	{
		samples s base 100 110 120 130 140 150 160 170 180 190
		samples s patched 80 90.2 100.8 111.8 123.2 135 147.2 159.8 172.8 186.2
	} >"$scratch/in"
	expect_stats "s t a 10 145.0 110.0 180.0 b 10 129.1 90.2 172.8 ratio 10 0.890 0.820 0.960 faster" \
		"$scratch/in" "ten pairs, every ratio below 1"
}

# Ratios 1.10, 1.12, ..., 1.28 on base 100 each: median 1.19, interval
# [1.12, 1.26], above 1: slower.  patched: median (118 + 120) / 2 = 119,
# interval [112, 126].
test_slower() {
	{
		samples s base 100 100 100 100 100 100 100 100 100 100
		samples s patched 110 112 114 116 118 120 122 124 126 128
	} >"$scratch/in"
	expect_stats "s t a 10 100.0 100.0 100.0 b 10 119.0 112.0 126.0 ratio 10 1.190 1.120 1.260 slower" \
		"$scratch/in" "ten pairs, every ratio above 1"
}

# Ratios 0.90, 0.92, ..., 1.08: median 0.99, interval [0.92, 1.06], which
# holds 1: no difference, though the median is below 1.
test_no_difference() {
	{
		samples s base 100 100 100 100 100 100 100 100 100 100
		samples s patched 90 92 94 96 98 100 102 104 106 108
	} >"$scratch/in"
	expect_stats "s t a 10 100.0 100.0 100.0 b 10 99.0 92.0 106.0 ratio 10 0.990 0.920 1.060 no-difference" \
		"$scratch/in" "an interval that holds 1"
}

# The interval's upper end exactly 1 (the 9th of the sorted ratios 0.5,
# 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 1, 1.2) holds 1: no difference,
# not faster.  Median (0.85 + 0.9) / 2 = 0.875.
test_interval_ending_at_one() {
	{
		samples s base 100 100 100 100 100 100 100 100 100 100
		samples s patched 50 60 70 80 85 90 95 97 100 120
	} >"$scratch/in"
	expect_stats "s t a 10 100.0 100.0 100.0 b 10 87.5 60.0 100.0 ratio 10 0.875 0.600 1.000 no-difference" \
		"$scratch/in" "an interval ending at exactly 1"
}

# The ratio is taken within each pair, whatever the order of the lines:
# base drifts 100, 200, ..., 1000 over the pairs, patched is 0.9 of it in
# each pair, its lines written in the opposite order.  Every ratio is
# 0.9: interval [0.9, 0.9], faster.  (Pairing by line order would give
# 9.0 down to 0.09.)  base: median 550, interval [200, 900]; patched:
# median 495, interval [180, 810].
test_pairs_by_number() {
	samples s base 100 200 300 400 500 600 700 800 900 1000 >"$scratch/in"
	samples s patched 90 180 270 360 450 540 630 720 810 900 | tac >>"$scratch/in"
	expect_stats "s t a 10 550.0 200.0 900.0 b 10 495.0 180.0 810.0 ratio 10 0.900 0.900 0.900 faster" \
		"$scratch/in" "pairs matched by number, drift cancelled"
}

# n = 20: P(Bin(20, 1/2) <= 5) = 2.07 % <= 2.5 %, P(<= 6) = 5.77 %: k = 6,
# the interval [x(6), x(15)].  base 1 .. 20: median 10.5, interval [6, 15];
# patched the same values, ratios all 1: no difference.
test_twenty_pairs() {
	{
		samples s base 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
		samples s patched 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
	} >"$scratch/in"
	expect_stats "s t a 20 10.5 6.0 15.0 b 20 10.5 6.0 15.0 ratio 20 1.000 1.000 1.000 no-difference" \
		"$scratch/in" "twenty pairs: the 6th and the 15th"
}

# n = 6 is the fewest with an interval (P(Bin(6, 1/2) = 0) = 1/64 =
# 1.6 %): [x(1), x(6)], the whole range.  n = 5 has none (1/32 = 3.1 %):
# "- -", and the verdict says so.  Odd n: the middle value (3rd of 5).
test_fewest_pairs() {
	{
		samples six base 10 20 30 40 50 60
		samples six patched 5 10 15 20 25 30
		samples five base 10 20 30 40 50
		samples five patched 5 10 15 20 25
	} >"$scratch/in"
	expect_stats "six t a 6 35.0 10.0 60.0 b 6 17.5 5.0 30.0 ratio 6 0.500 0.500 0.500 faster
five t a 5 30.0 - - b 5 15.0 - - ratio 5 0.500 - - too-few-pairs" \
		"$scratch/in" "six pairs, five pairs"
}

# A base value of 0 gives no ratio: said, not divided by.  A third
# kernel's lines and comments are left out.
test_no_ratio_and_others() {
	{
		echo "# a comment"
		samples s base 0 1 1 1 1 1
		samples s patched 1 1 1 1 1 1
		samples s upstream 9 9 9 9 9 9
	} >"$scratch/in"
	expect_stats "s t a 6 1.0 0.0 1.0 b 6 1.0 1.0 1.0 ratio 5 1.000 - - no-ratio" \
		"$scratch/in" "a zero base value, a third kernel"
}

# Bad input: what failed on stderr, and an exit code of its own.
test_bad_input() {
	[[ -x "$TOOL" ]] || { fail "${SRC#"$TOP"/} does not build"; return; }
	local rc=0
	printf 's t base 0 1\ns t base x 2\n' >"$scratch/bad"
	"$TOOL" "$scratch/bad" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 65 "$rc" "a pair that is not a number" || return
	expect_grep 'bad:2: PAIR is not a whole number' "$scratch/err" "  the error" || return
	rc=0
	printf 's t base 0 1\ns t base 0 2\n' >"$scratch/bad"
	"$TOOL" "$scratch/bad" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 65 "$rc" "two values for one pair" || return
	expect_grep 'bad:2: a second value' "$scratch/err" "  the error" || return
	rc=0
	printf 's t base 0\n' >"$scratch/bad"
	"$TOOL" "$scratch/bad" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 65 "$rc" "four fields" || return
	expect_grep 'bad:1: fewer than five fields' "$scratch/err" "  the error" || return
	rc=0
	"$TOOL" "$scratch/none" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 66 "$rc" "a file that does not exist" || return
	expect_grep 'cannot read .*none' "$scratch/err" "  the error" || return
	rc=0
	"$TOOL" -z >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 64 "$rc" "an unknown option" || return
	rc=0
	"$TOOL" -a base -b base "$scratch/in" >/dev/null 2>"$scratch/err" || rc=$?
	expect_status 64 "$rc" "-a and -b the same kernel"
}

ktap_run_all test_bench_stats "${1:-}"
