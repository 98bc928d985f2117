#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# run-uml.sh: a guest command's status and output, --timeout, a hostile guest, a WARNING, bad options.
#
# Usage: tests/host/test_run_uml.sh [PATTERN]   (runs the test_* functions matching it)
# Needs a built kernel and rootfs (make all); prints KTAP.
#
# Every test but bad_options boots guests with run_guest (tests/host/lib.sh),
# which also fails the test when a host process of a guest outlives its run.
# RUN (default: this tree's run-uml.sh) and BUILD (default: build/) may
# point at another tree, to show the checks failing on it.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly RUN="${RUN:-$TOP/run-uml.sh}"
readonly BUILD="${BUILD:-$TOP/build}"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"
export BUILD

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-run-uml-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# The guest command's exit status is the script's, for 0, 1, 42 and 127.
test_exit_status_passthrough() {
	local cmd want rc
	for cmd in "true:0" "false:1" "sh -c 'exit 42':42" "no-such-command:127"; do
		want="${cmd##*:}"
		rc=0
		eval "run_guest st -t 60 -- ${cmd%:*}" || rc=$?
		expect_status "$want" "$rc" "-- ${cmd%:*}" || return
	done
}

# The command's output reaches stdout, and nothing of the kernel's does.
test_command_output_is_clean() {
	run_guest out -t 60 -- uname -r || fail "uname -r failed" || return
	[[ "$(cat "$scratch/out.out")" =~ ^6\.1\.[0-9]+ ]] ||
		fail "stdout is '$(head -c 200 "$scratch/out.out")', expected only the kernel version"
}

# --timeout kills a hanging guest: status 124, no process and no temp file left.
test_timeout_kills_everything() {
	local -r tag="timeout-$$-$RANDOM" tmpd="$scratch/tmpdir"
	local rc=0 start end
	mkdir -p "$tmpd"
	start=$(date +%s)
	TMPDIR="$tmpd" run_guest to -t 3 -a "sandbox.tag=$tag" -- sleep 600 || rc=$?
	end=$(date +%s)
	expect_status 124 "$rc" "sleep 600 with --timeout 3" || return
	[[ $((end - start)) -lt 30 ]] || fail "took $((end - start)) s to time out" || return
	expect_nothing_left "$tag" "sleep 600 with --timeout 3" || return
	[[ -z "$(ls -A "$tmpd")" ]] || fail "temp files left: $(ls -A "$tmpd")"
}

# A hostile guest (root in its read-only build/rootfs, writing its own
# scratch directory and its results line) cannot make run-uml.sh read,
# write or run anything of the host's: a status that bash would evaluate,
# a results line flooded past its bound, links in the scratch directory to
# host files and directories (which the host's clean-up must not follow).
# Each is refused or harmless, said, and nothing outside changes.
test_hostile_guest_files() {
	local -r canary="$scratch/canary-status" pwned="$scratch/pwned"
	# refused OUT SCRIPT MESSAGE WHAT: the guest runs SCRIPT and powers
	# off at once (init writes no status); the run ends as 125 and
	# run-uml.sh says MESSAGE.
	refused() {
		local rc=0
		run_guest "$1" -t 120 -- sh -c "$2; poweroff -f" || rc=$?
		expect_status 125 "$rc" "$4" || return
		expect_grep "$3" "$scratch/$1.err" "$4: refused"
	}
	echo 7 >"$canary"
	mkdir -p "$scratch/keep" && echo kept >"$scratch/keep/file"
	refused hg1 "echo 'sandbox-status: a[\$(touch $pwned)]' >/dev/ttyS1" \
		'status that is not a number' "a status with a command substitution" || return
	[[ ! -e "$pwned" ]] || fail "the guest's status ran a command on the host" || return
	refused hg2 "head -c 17000000 /dev/zero >/dev/ttyS1; echo; echo 'sandbox-status: 0' >/dev/ttyS1" \
		'more than 16 MB to its results line' "a results line flooded past 16 MB" || return
	local rc=0
	run_guest hg3 -t 60 -- sh -c "ln -s '$canary' /scratch/status &&
		ln -s '$scratch/keep' /scratch/dir && ln -sf '$scratch/keep/file' /scratch/cmd" || rc=$?
	expect_status 0 "$rc" "links to host files in the scratch directory" || return
	[[ "$(cat "$canary")" == 7 && "$(cat "$scratch/keep/file")" == kept && -f "$scratch/hg3.err" ]] ||
		fail "a host file changed" || return
	diag "the canary still holds 7, nothing ran, the linked directory is intact"
}

# A WARNING provoked in the guest fails the run (121) and shows the splat,
# although the command itself succeeded.
test_kernel_warning_fails_run() {
	local rc=0
	run_guest warn -t 60 -- \
		sh -c 'echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT' || rc=$?
	expect_status 121 "$rc" "lkdtm WARNING" || return
	expect_grep 'WARNING: CPU: 0 PID: [0-9]+ at .*lkdtm' "$scratch/warn.err" "splat on stderr"
}

# Two guests at once do not collide: each gets its own status.
test_concurrent_runs() {
	local rc1=0 rc2=0 p1 p2
	run_guest c1 -t 120 -- sh -c 'sleep 1; exit 3' &
	p1=$!
	run_guest c2 -t 120 -- sh -c 'sleep 1; exit 5' &
	p2=$!
	wait "$p1" || rc1=$?
	wait "$p2" || rc2=$?
	expect_status 3 "$rc1" "first guest" || return
	expect_status 5 "$rc2" "second guest"
}

# Bad options print a usage hint and exit 64 before anything is booted.
test_bad_options() {
	local args rc
	for args in "--bogus" "--timeout" "--timeout abc" "--mem lots" "--kernel nonsense"; do
		rc=0
		# shellcheck disable=SC2086 # split on purpose
		"$RUN" --no-build $args -- true >"$scratch/bad.out" 2>"$scratch/bad.err" || rc=$?
		expect_status 64 "$rc" "$args" || return
		expect_grep "error: " "$scratch/bad.err" "$args" || return
	done
}

ktap_run_all test_run_uml "${1:-}"
