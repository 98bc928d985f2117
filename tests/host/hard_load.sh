#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Load: N guests in parallel (default 4), each running the full guest suite; all must pass.
#
# Usage: tests/host/hard_load.sh [N]
#
# Runs the suite once alone, then N copies at once (./run-uml.sh --no-build
# --test, each with its own results directory), and prints the wall times.
# Needs a built kernel and rootfs (make all).  Prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly RUN="$TOP/run-uml.sh"
readonly N="${1:-4}"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-load.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# suite NAME: the full guest suite in one guest, its output in $scratch/NAME.
suite() {
	local -r d="$scratch/$1"
	mkdir -p "$d"
	"$RUN" --no-build --test --results "$d" >"$d/out" 2>"$d/err" </dev/null
}

# totals NAME: the summary line of run NAME ("guest-patched: N passed, ...").
totals() {
	grep '^guest-.*passed' "$scratch/$1/out" 2>/dev/null | tail -n 1 || echo "no summary"
}

ms_since() {
	echo $((($(date +%s%N) - $1) / 1000000))
}

test_parallel_guests_all_pass() {
	local start one all i rc failed=0
	local -a pids=()
	[[ -x "$TOP/build/kernel/patched/linux" ]] || skip "no kernel yet (make all)" || return
	start=$(date +%s%N)
	rc=0
	suite alone || rc=$?
	one=$(ms_since "$start")
	diag "one guest: ${one} ms, exit $rc, $(totals alone)"
	expect_status 0 "$rc" "the suite alone" || { tail -n 5 "$scratch/alone/err" | sed 's/^/# /'; return 1; }
	start=$(date +%s%N)
	for ((i = 1; i <= N; i++)); do
		suite "par$i" &
		pids+=($!)
	done
	for ((i = 1; i <= N; i++)); do
		rc=0
		wait "${pids[i - 1]}" || rc=$?
		diag "guest $i of $N: exit $rc, $(totals "par$i")"
		if [[ $rc -ne 0 ]]; then
			{ grep -E '^not ok' "$scratch/par$i/patched.ktap"; grep -E 'error' "$scratch/par$i/err"; } |
				head -n 5 | sed 's/^/#   /'
			sed -n 's|^results: .*console: |#   console: |p' "$scratch/par$i/out"
			failed=$((failed + 1))
		fi
	done
	all=$(ms_since "$start")
	diag "$N guests at once: ${all} ms wall, $(awk "BEGIN { printf \"%.2f\", $all / $one }")x one guest, on $(nproc) CPUs"
	[[ $failed -eq 0 ]] || fail "$failed of $N parallel guests failed"
}

ktap_run_all load
