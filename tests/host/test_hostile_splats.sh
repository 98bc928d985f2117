#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A kernel splat during a passing test fails --test with its class; host exhaustion is named with its cause.
#
# Usage: tests/host/test_hostile_splats.sh [PATTERN]   (runs the test_* functions matching it)
#
# Needs a built kernel with lkdtm (config/sandbox.config) and the rootfs
# (make all); boots a guest per case, ~10-20 s each; prints KTAP.
#
# Each --test case runs one guest test that exits 0 while the kernel
# reports a splat of one class: lkdtm's WARNING, an OOM kill of mem_hog in
# a 64 MB guest, a hung task (lkdtm's HUNG_TASK, hung_task_timeout_secs
# lowered to 1 s, no panic), and host exhaustion (tests/guest/map_exhaust:
# past the host's vm.max_map_count); and lkdtm's EXCEPTION, which under
# UML panics the kernel, so that its test cannot pass.  The run must fail with 121 and name
# the class; for host exhaustion, say the cause with the host's
# vm.max_map_count, in --test mode and with a plain command.  The other
# classes that end the kernel (BUG, panic, soft lockup with its panic) are
# tests/host/test_crash.sh's.
#
# The guest tests are added to a copy of the staged root (tests.list and
# their scripts), booted with BUILD pointing at the copy: the same test
# runs on a tree without run_tests -L, so it can be shown to pass wrongly
# on a tree before the fix.
#
# KERNEL=patched (default), base, or the path of a UML binary.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly RUN="$TOP/run-uml.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly DIRECT=/sys/kernel/debug/provoke-crash/DIRECT
# shellcheck source=scripts/exit-codes.sh
source "$TOP/scripts/exit-codes.sh"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-hostile-splats.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

kernel_bin() {
	local k="${KERNEL:-patched}"
	[[ "$k" == */* ]] || k="$BUILD/kernel/$k/linux"
	REPLY="$k"
}

# stage NAME SCRIPT: a copy of the staged root whose test list is one test,
# zz/NAME, running SCRIPT (sh) and then exit 0; in $scratch/NAME/.
stage() {
	local -r name="$1" body="$2" b="$scratch/$1"
	[[ -x "$BUILD/rootfs/tests/run_tests" ]] || skip "no staged root: make all" || return
	rm -rf "$b"
	mkdir -p "$b"
	cp -a "$BUILD/rootfs" "$b/rootfs"
	# The host tools as make built them (ktap-report, splat-class).
	cp -a "$BUILD/host" "$b/host"
	mkdir -p "$b/rootfs/tests/zz"
	printf '#!/bin/sh\n%s\nexit 0\n' "$body" >"$b/rootfs/tests/zz/$name.sh"
	chmod +x "$b/rootfs/tests/zz/$name.sh"
	printf 'zz/%s 120 zz/%s.sh\n' "$name" "$name" >"$b/rootfs/tests/tests.list"
	: >"$b/rootfs/tests/skipped.list"
}

# splat_case NAME CLASS SCRIPT [RUN-UML OPTIONS...]: the test zz/NAME
# passes while the kernel reports CLASS: the run must fail with 121 and
# name it.
splat_case() {
	local -r name="$1" class="$2" body="$3"
	shift 3
	local rc=0
	stage "$name" "$body" || return
	kernel_bin
	env BUILD="$scratch/$name" "$RUN" --no-build --kernel "$REPLY" -t 300 "$@" --test zz/ \
		>"$scratch/$name.out" 2>"$scratch/$name.err" </dev/null || rc=$?
	diag "exit $rc; the guest's verdict: $(grep -E '^(not )?ok 1 |unexpected kernel splats' \
		"$scratch/$name.out" | tr '\n' ' ')"
	expect_status "$E_SPLAT" "$rc" "zz/$name passing while the kernel reports $class" || {
		sed 's/^/#   /' "$scratch/$name.err" | head -n 20
		return 1
	}
	expect_grep "kernel splat in the console, class: $class \\(" "$scratch/$name.err" \
		"class named"
}

need_lkdtm() {
	local config
	kernel_bin
	config="${REPLY%/*}/.config"
	[[ ! -f "$config" ]] || grep -q '^CONFIG_LKDTM=y' "$config" ||
		skip "no CONFIG_LKDTM in $config"
}

# A WARNING (lkdtm) during a test that exits 0.
test_warning_in_passing_test() {
	need_lkdtm || return
	splat_case warnprobe WARNING "echo WARNING >$DIRECT"
}

# An OOM kill during a test that exits 0 (the issue's zz/oomprobe).
test_oom_kill_in_passing_test() {
	splat_case oomprobe "OOM kill" "/tests/sandbox/mem_hog" -m 64M
}

# A task blocked for over a second during a test that exits 0.  The task
# stays blocked (D state) to the end: in a session of its own, holding no
# descriptor of the runner's, which would wait for it.
test_hung_task_in_passing_test() {
	need_lkdtm || return
	splat_case hungprobe "hung task" "echo 1 >/proc/sys/kernel/hung_task_timeout_secs
setsid sh -c 'echo HUNG_TASK >$DIRECT' </dev/null >/dev/null 2>&1 &
sleep 6"
}

# A NULL dereference in the kernel during a test: under UML a kernel-mode
# fault panics, so the test cannot pass; the run must still name it.
test_exception_in_test() {
	need_lkdtm || return
	SANDBOX_DECODE=0 splat_case excprobe exception "echo EXCEPTION >$DIRECT"
}

# max_map_count_ok: the host's limit is one map_exhaust passes (else skip).
max_map_count_ok() {
	local max
	read -r max </proc/sys/vm/max_map_count
	[[ "$max" -le 100000 ]] ||
		skip "the host's vm.max_map_count is $max: map_exhaust's 102400 pages do not pass it"
}

# Host exhaustion during a test that exits 0: failed, with the cause.
test_host_exhaustion_in_passing_test() {
	max_map_count_ok || return
	splat_case mapprobe "host exhaustion" "/tests/sandbox/map_exhaust" || return
	expect_grep "likely: the host's vm.max_map_count \\([0-9]+ here\\) was reached" \
		"$scratch/mapprobe.err" "cause said, with the host's value" || return
	expect_grep 'sysctl -w vm.max_map_count=[0-9]+' "$scratch/mapprobe.err" \
		"how to raise it" || return
	expect_grep '^  # zz/mapprobe: cause: host exhaustion' "$scratch/mapprobe.out" \
		"the test reported with its cause"
}

# Host exhaustion under a plain command: the same verdict and cause.
test_host_exhaustion_command() {
	max_map_count_ok || return
	local rc=0
	kernel_bin
	"$RUN" --no-build --kernel "$REPLY" -t 300 -- /tests/sandbox/map_exhaust \
		>"$scratch/cmd.out" 2>"$scratch/cmd.err" </dev/null || rc=$?
	expect_status "$E_SPLAT" "$rc" "map_exhaust as the command" || {
		sed 's/^/#   /' "$scratch/cmd.err" | head -n 20
		return 1
	}
	expect_grep 'class: host exhaustion \(' "$scratch/cmd.err" "class named" || return
	expect_grep "vm.max_map_count \\([0-9]+ here\\)" "$scratch/cmd.err" "cause said"
}

# A tool run-uml.sh builds itself (--no-build) gets make's flags: with
# SANDBOX_SANITIZE=1, ASan is in it (one set of flags for the host tools).
test_host_tool_built_with_make_flags() {
	local -r b="$scratch/flags"
	local rc=0
	[[ -d "$BUILD/rootfs" ]] || skip "no staged root: make all" || return
	mkdir -p "$b"
	ln -s "$BUILD/rootfs" "$b/rootfs"
	kernel_bin
	env SANDBOX_SANITIZE=1 ASAN_OPTIONS=detect_leaks=0 BUILD="$b" "$RUN" --no-build \
		--kernel "$REPLY" -t 60 -- true >"$scratch/flags.out" 2>&1 </dev/null || rc=$?
	expect_status 0 "$rc" "a run that built uml-launch itself" || return
	# Through a file: grep -q ending the pipe early fails nm (pipefail).
	nm "$b/host/uml-launch" >"$scratch/flags.nm" 2>&1 || true
	grep -q __asan_init "$scratch/flags.nm" ||
		fail "uml-launch was built without make's SANDBOX_SANITIZE=1 flags" || return
	diag "uml-launch has ASan: built as make builds it"
}

ktap_run_all test_hostile_splats "${1:-}"
