#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Hostile bytes at the host's door: the harnesses' corpora, and ktap-report's outputs read by real consumers.
#
# Usage: tests/host/test_fuzz_host.sh [PATTERN]   (runs the test_* functions matching it)
#
# Needs clang with libFuzzer (the harnesses), python3 and xmllint; prints
# KTAP.  No guest is booted: seconds in all.
#
# - Every libFuzzer harness of tests/fuzz replays its seeds and the inputs
#   of the crashes it found (tests/fuzz/regress): a fixed crash stays fixed.
# - ktap-report's JSON must load in python3's json, and its JUnit XML pass
#   xmllint, for KTAP a guest could print: quotes, <&>, control
#   characters, invalid UTF-8, NULs, 1 MB lines.
# - 100,000 results, and subtests nested 2,000 deep, get a bounded report
#   that says what was cut, and fail; within the time limit, not a hang.
#
# KTAP_REPORT=path (SPLAT_CLASS=path) tests another ktap-report (splat-
# class) binary, e.g. an older one, to see these tests fail on it; by
# default make's, in build/host/.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly BUILD="${BUILD:-$TOP/build}"
readonly KTAP_REPORT="${KTAP_REPORT:-$BUILD/host/ktap-report}"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-fuzz-host.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

need_report() {
	[[ -x "$KTAP_REPORT" ]] ||
		fail "no $KTAP_REPORT: build it with make host-tools" || return
}

# hostile_ktap FILE: KTAP with every kind of byte a guest could print in a
# test name, a reason and a diagnostic.
hostile_ktap() {
	{
		printf 'KTAP version 1\n1..6\n'
		printf '  # quotes "double" '"'"'single'"'"' and <&> and ]]> and &amp;\n'
		printf '  # controls \x01\x02\x07\x08\x0b\x0c\x1b[31m red \x7f del\n'
		printf '  # invalid UTF-8 \xc3\x28 \xa0\xa1 \xe2\x28\xa1 \xf0\x28\x8c\x28 \xc0\xaf \xed\xa0\x80 \xef\xbf\xbe\n'
		printf '  # a NUL here:\x00: and after it\n'
		printf 'ok 1 name"with<&>quotes\xc3\x28\x01\n'
		printf 'not ok 2 bad\xff\xfe name # TIMEOUT why\x1b\xc3\n'
		printf 'ok 3 skipped \xe2\x82 # SKIP reason <&> \xc3\x28 "q"\n'
		printf 'ok 4 '
		head -c 1048576 /dev/zero | tr '\0' 'n'
		printf '\n  # '
		head -c 1048576 /dev/zero | tr '\0' '\303'
		printf '\nnot ok 5 long diagnostic\n'
		printf '  ok 1 case "<&>" \xc3\x28\n  not ok 2 case \x01\nnot ok 6 cases\n'
	} >"$1"
}

# Every harness, over its seeds and crash regressions.
test_harness_corpora() {
	command -v clang >/dev/null || skip "no clang: apt-get install clang libclang-rt-14-dev" ||
		return
	"$TOP/tests/fuzz/fuzz-host.sh" check >"$scratch/check.out" 2>&1 || {
		sed 's/^/#   /' "$scratch/check.out" | tail -n 30
		fail "a harness failed on its corpus or a regression"
		return
	}
	expect_grep '^# Totals: pass:6 fail:0' "$scratch/check.out" "six harnesses passed"
}

# The JSON of hostile KTAP loads in python3's json, names and lines intact.
test_ktap_json_parses() {
	need_report || return
	hostile_ktap "$scratch/h.ktap"
	"$KTAP_REPORT" -q -j "$scratch/h.json" "$scratch/h.ktap" >/dev/null 2>&1 || true
	[[ -s "$scratch/h.json" ]] || fail "no JSON written" || return
	python3 - "$scratch/h.json" >"$scratch/json.out" 2>&1 <<'EOF' || {
import json, sys
with open(sys.argv[1], encoding="utf-8") as f:
    d = json.load(f)
names = [t["name"] for t in d["tests"]]
assert len(names) == 6, names
assert names[0].startswith('name"with<&>quotes\ufffd('), names[0]
assert d["tests"][1]["result"] == "timeout", d["tests"][1]
assert d["tests"][2]["result"] == "skip" and "<&>" in d["tests"][2]["reason"]
assert any("a NUL here:\ufffd: and after it" in l for l in d["tests"][0]["log"]), d["tests"][0]["log"]
print("json ok:", len(names), "tests")
EOF
		sed 's/^/#   /' "$scratch/json.out"
		fail "python3 could not read the JSON"
		return
	}
	expect_grep '^json ok: 6 tests' "$scratch/json.out" "python3's json reads it"
}

# The JUnit XML of hostile KTAP is well formed for xmllint.
test_ktap_junit_well_formed() {
	need_report || return
	command -v xmllint >/dev/null || skip "no xmllint: apt-get install libxml2-utils" || return
	hostile_ktap "$scratch/h.ktap"
	"$KTAP_REPORT" -q -x "$scratch/h.xml" "$scratch/h.ktap" >/dev/null 2>&1 || true
	[[ -s "$scratch/h.xml" ]] || fail "no XML written" || return
	xmllint --noout "$scratch/h.xml" >"$scratch/xml.out" 2>&1 || {
		head -c 2000 "$scratch/xml.out" | sed 's/^/#   /'
		fail "xmllint: the JUnit XML is not well formed"
		return
	}
	xmllint --xpath 'count(//testcase)' "$scratch/h.xml" >"$scratch/xml.count" 2>&1
	expect_match -x '6' "$scratch/xml.count" "xmllint reads it: six testcases"
}

# 100,000 results: a bounded report that says so, and a failure.
test_ktap_100k_results_bounded() {
	need_report || return
	awk 'BEGIN { print "KTAP version 1"; print "1..100000";
		for (i = 1; i <= 100000; i++) printf "ok %d t%d\n", i, i }' >"$scratch/many.ktap"
	local rc=0
	timeout 120 "$KTAP_REPORT" -q -j "$scratch/many.json" -x "$scratch/many.xml" \
		"$scratch/many.ktap" >"$scratch/many.out" 2>&1 || rc=$?
	[[ $rc -ne 124 ]] || fail "ktap-report did not finish 100,000 results in 120 s" || return
	expect_status 1 "$rc" "100,000 results" || return
	expect_grep '90000 more results past the first 10000 were not kept' "$scratch/many.out" \
		"the cut is said" || return
	[[ $(stat -c %s "$scratch/many.json") -lt $((16 << 20)) ]] ||
		fail "the JSON of 100,000 results is $(stat -c %s "$scratch/many.json") bytes" || return
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["dropped"]["results"] == 90000' \
		"$scratch/many.json" || fail "the JSON does not count the dropped results" || return
	diag "the JSON loads and counts 90000 dropped results"
}

# Subtests nested 2,000 deep: no recursion to blow, a plain report.
test_ktap_deep_nesting_bounded() {
	need_report || return
	awk 'BEGIN { print "KTAP version 1"; print "1..1";
		for (d = 1; d <= 2000; d++) { s = sprintf("%*s", 2 * d, "");
			print s "KTAP version 1"; print s "1..1" }
		for (d = 2000; d >= 1; d--) { s = sprintf("%*s", 2 * d, "");
			print s "ok 1 level" d }
		print "ok 1 deep" }' >"$scratch/deep.ktap"
	local rc=0
	timeout 60 "$KTAP_REPORT" -q -j "$scratch/deep.json" -x "$scratch/deep.xml" \
		"$scratch/deep.ktap" >"$scratch/deep.out" 2>&1 || rc=$?
	expect_status 0 "$rc" "2,000 levels of subtests" || return
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert d["tests"][0]["name"] == "deep"' \
		"$scratch/deep.json" || fail "the JSON of deep KTAP" || return
	xmllint --noout "$scratch/deep.xml" || fail "the XML of deep KTAP" || return
	diag "JSON and XML read back"
}

# Bad usage of the two readers of guest output: a clear error, status 64;
# an unreadable file: its name and why, status 2.
test_tools_bad_usage() {
	need_report || return
	local -r splat="${SPLAT_CLASS:-$BUILD/host/splat-class}" missing="$scratch/no-such.log"
	local tool rc
	for tool in "$KTAP_REPORT" "$splat"; do
		rc=0
		"$tool" >/dev/null 2>"$scratch/usage.err" || rc=$?
		expect_status 64 "$rc" "${tool##*/} without a file" || return
		expect_grep "^${tool##*/}: error: exactly one" "$scratch/usage.err" "what is wrong" ||
			return
		rc=0
		"$tool" "$missing" >/dev/null 2>"$scratch/missing.err" || rc=$?
		expect_status 2 "$rc" "${tool##*/} on a missing file" || return
		expect_grep "no-such.log: No such file or directory" "$scratch/missing.err" \
			"the file and the reason" || return
	done
}

ktap_run_all test_fuzz_host "${1:-}"
