#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check's shards: together they run every test of make check once, and CI's matrix is their list.
#
# Usage: tests/host/test_shards.sh [PATTERN]
# Prints KTAP.  Nothing is built and no guest boots: make check and each
# shard run with _SANDBOX_LIST_TESTS=FILE, in which mode every test of the
# Makefile's recipes appends its ID (script, arguments, kernel) to FILE
# instead of running (the Makefile's run_test).  The IDs come from the
# recipes make really walks, so a test added to check-host (a fragment's
# HOST_TESTS_EXTRA) is covered as soon as it is there.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"
readonly WORKFLOW="${_SANDBOX_WORKFLOW:-$TOP/.github/workflows/check.yml}"
# The question is what plain make check runs: not what the make that
# started this test passes on (a shard's SHARD_SKIP rides in MAKEFLAGS).
# Nor the host tools' mode (SANDBOX_SANITIZE=1): asked in a build
# directory of its own, make keeps its flags there, not in build/host.
unset MAKEFLAGS MFLAGS MAKELEVEL SHARD_SKIP _SANDBOX_CHECK_ALL SANDBOX_SANITIZE

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-shards.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/o"

# smake ARGS...: make in the checkout, its output in the scratch directory.
smake() {
	make -s -C "$TOP" O="$scratch/o" "$@"
}

# list_tests FILE MAKE-ARGS...: the IDs of the tests make would run, one a
# line, sorted (repeats kept: a test run twice is listed twice).
list_tests() {
	local -r out="$1"
	shift
	local rc=0
	: >"$out.raw"
	smake "$@" _SANDBOX_LIST_TESTS="$out.raw" >"$out.log" 2>&1 || rc=$?
	if [[ $rc -ne 0 ]]; then
		sed 's/^/#   /' "$out.log" | tail -n 20
		fail "make $* _SANDBOX_LIST_TESTS=...: exit status $rc"
		return
	fi
	sort "$out.raw" >"$out"
}

# shard_names: the names make check-shards lists, one a line.
shard_names() {
	smake check-shards | awk 'NR > 1 { print $1 }'
}

# Each test of plain make check runs in exactly one shard: the same IDs,
# none missing, none twice; and the shards outside make check run tests
# of their own only.
test_every_test_once() {
	local -a shards
	local s
	list_tests "$scratch/check" check || return
	[[ -s "$scratch/check" ]] || { fail "make check names no test: _SANDBOX_LIST_TESTS is not honoured"; return; }
	diag "make check: $(wc -l <"$scratch/check") tests"
	mapfile -t shards < <(shard_names)
	[[ ${#shards[@]} -gt 1 ]] || { fail "make check-shards lists ${#shards[@]} shard(s)"; return; }
	: >"$scratch/all-shards"
	for s in "${shards[@]}"; do
		list_tests "$scratch/shard-$s" check SHARD="$s" || return
		diag "shard $s: $(wc -l <"$scratch/shard-$s") tests"
		sed "s|\$|	$s|" "$scratch/shard-$s" >>"$scratch/all-shards"
	done
	# ID<TAB>shard, sorted by ID.
	sort -t '	' -k1,1 "$scratch/all-shards" >"$scratch/by-id"
	local bad=0 id n
	# Missing: in make check, in no shard (or fewer times).
	while IFS= read -r id; do
		n="$(awk -F '\t' -v id="$id" '$1 == id' "$scratch/by-id" | wc -l)"
		want="$(grep -cxF -- "$id" "$scratch/check")"
		if [[ "$n" -lt "$want" ]]; then
			diag "missing: '$id' runs $want time(s) in make check, $n in the shards"
			bad=1
		elif [[ "$n" -gt "$want" && "$want" -gt 0 ]]; then
			diag "twice: '$id' runs in more than one shard: $(awk -F '\t' -v id="$id" '$1 == id { printf "%s ", $2 }' "$scratch/by-id")"
			bad=1
		fi
	done < <(sort -u "$scratch/check")
	# Extra: in a shard, not in make check: only the shards make check
	# leaves out (check-shards marks them) may run such tests.
	local extra
	extra="$(smake check-shards | awk '/not in plain make check/ { print $1 }')"
	while IFS='	' read -r id s; do
		grep -qxF -- "$id" "$scratch/check" && continue
		if ! grep -qxF -- "$s" <<<"$extra"; then
			diag "extra: '$id' runs in shard $s but not in make check"
			bad=1
		fi
	done <"$scratch/by-id"
	[[ $bad -eq 0 ]] || { fail "the shards do not run make check's tests exactly once"; return; }
	diag "every one of make check's $(sort -u "$scratch/check" | wc -l) tests runs in exactly one shard"
}

# A bad shard name is a usage error that lists the shards; so is a k/N
# that is no part.
test_bad_shard() {
	local rc=0
	smake check SHARD=no-such-shard >"$scratch/out" 2>&1 || rc=$?
	expect_status 2 "$rc" "make check SHARD=no-such-shard (make's own status)" || return
	expect_match -F 'Error 64' "$scratch/out" "the recipe's usage status, 64" || return
	expect_match -F "is not a shard of make check" "$scratch/out" "the error" || return
	expect_grep '^host +patched' "$scratch/out" "the list of shards" || return
	for arg in 3/2 0/2 1/0 a/b 1/2/3 2; do
		rc=0
		smake fuzz SHARD="$arg" >"$scratch/out" 2>&1 || rc=$?
		expect_status 2 "$rc" "make fuzz SHARD=$arg" || return
		expect_match -F 'Error 64' "$scratch/out" "SHARD=$arg: usage status 64" || return
		expect_match -F "is not a part k/N with 1 <= k <= N" "$scratch/out" "SHARD=$arg: the error" || return
		# Checked before anything is built.
		if grep -q '^  \(BUILD\|CC\|FETCH\)' "$scratch/out"; then
			fail "SHARD=$arg: make built before the check"
			return
		fi
	done
	rc=0
	smake check SHARD=host T=series/ >"$scratch/out" 2>&1 || rc=$?
	expect_match -F 'SHARD and T exclude each other' "$scratch/out" "SHARD with T" || return
}

# make fuzz SHARD=k/N: the parts of the seeds cover them all, once.
test_fuzz_parts() {
	local k n=3 first count all=""
	for k in 1 2 3; do
		read -r first count < <(smake -f - shard-part SHARD="$k/$n" <<EOF
include $TOP/Makefile
shard-part:
	@\$(call shard_of,5,10) echo "\$\$first \$\$count"
EOF
		) || { fail "SHARD=$k/$n: no part"; return; }
		diag "SHARD=$k/$n of seeds 5..14: from $first, $count seed(s)"
		for ((s = first; s < first + count; s++)); do
			all+="$s "
		done
	done
	[[ "$all" == "5 6 7 8 9 10 11 12 13 14 " ]] ||
		{ fail "the parts cover '$all', not seeds 5 to 14 once each"; return; }
	diag "the three parts cover seeds 5 to 14, each once"
}

# The CI workflow parses, and its matrix is make check-shards' list.
test_workflow_matrix() {
	[[ -r "$WORKFLOW" ]] || { fail "no workflow at ${WORKFLOW#"$TOP"/}"; return; }
	python3 -c 'import yaml' 2>/dev/null ||
		{ fail "python3-yaml is missing (scripts/packages.list): apt-get install python3-yaml"; return; }
	python3 - "$WORKFLOW" >"$scratch/matrix" 2>"$scratch/yaml.err" <<'EOF' || {
import sys
import yaml

with open(sys.argv[1]) as f:
    wf = yaml.safe_load(f)
# PyYAML reads the key 'on' as the boolean True.
triggers = wf.get("on", wf.get(True))
assert triggers, "no triggers (on:)"
jobs = wf["jobs"]
shard = [j for j in jobs.values() if "shard" in j.get("strategy", {}).get("matrix", {})]
assert len(shard) == 1, "one job with a 'shard' matrix, found %d" % len(shard)
for name in shard[0]["strategy"]["matrix"]["shard"]:
    print(name)
shard_id = [k for k, j in jobs.items() if j is shard[0]][0]
final = [j for j in jobs.values() if shard_id in (j.get("needs") or [])]
assert final, "no job needs the shards"
assert any("always()" in str(j.get("if", "")) for j in final), "the final job lacks if: always()"
EOF
		sed 's/^/#   /' "$scratch/yaml.err"
		fail "${WORKFLOW#"$TOP"/} does not parse as the workflow it should be"
		return
	}
	shard_names >"$scratch/shards"
	if ! diff -u "$scratch/shards" "$scratch/matrix" >"$scratch/diff"; then
		sed 's/^/#   /' "$scratch/diff"
		fail "the workflow's matrix is not make check-shards' list (- make, + workflow)"
		return
	fi
	diag "the matrix is the $(wc -l <"$scratch/shards") shards of make check-shards, in order"
}

ktap_run_all shards "${1:-}"
