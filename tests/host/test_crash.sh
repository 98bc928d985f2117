#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Real kernel crashes in the guest: each fails the run with its class, its splat, in time, leaving nothing.
#
# Usage: tests/host/test_crash.sh [PATTERN]   (runs the test_* functions matching it)
# Needs a built kernel with lkdtm, hung-task and soft-lockup detectors
# (config/sandbox.config) and the rootfs (make all); prints KTAP and the
# time each class took.
#
# Each test boots a guest that provokes one class for real: lkdtm's
# WARNING, BUG, EXCEPTION and PANIC, HUNG_TASK with hung_task_timeout_secs
# lowered to 1 s, SOFTLOCKUP with watchdog_thresh lowered to 1 s (both with
# *_panic set, so that the kernel ends the run itself), and an OOM kill of
# tests/guest/mem_hog.c in a 64 MB guest.  It asserts: run-uml.sh exits
# 121, prints "class: <class>" and the splat, ends before its timeout, and
# no host process of the guest (its umid, or the tag on its command line)
# is left.  The exception and BUG tests also want the call trace decoded
# to file:line by scripts/decode_stacktrace.sh.
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

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-crash-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# crash_run CLASS SPLAT_RE TIMEOUT [RUN-UML OPTIONS...] -- CMD...: boot,
# provoke, and check the verdict; the time goes to $scratch/times.
crash_run() {
	local -r class="$1" splat_re="$2" limit="$3"
	shift 3
	local -r tag="crash-$$-$RANDOM" out="$scratch/${class// /_}"
	local rc=0 start end id left
	start=$(date +%s.%N)
	"$RUN" --no-build --kernel "${KERNEL:-patched}" -t "$limit" -a "sandbox.tag=$tag" "$@" \
		>"$out.out" 2>"$out.err" </dev/null || rc=$?
	end=$(date +%s.%N)
	local -r took="$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')"
	printf '%-12s %6s s  (exit %s)\n' "$class" "$took" "$rc" >>"$scratch/times"
	diag "$class: exit $rc after $took s (limit $limit s)"

	# Nothing of the guest may outlive the run: look for its umid and tag.
	id="$(sed -n 's|^  log: .*/\([^/ ]*\)\.log.*|\1|p' "$out.err" | head -n 1)"
	sleep 0.3
	left="$(pgrep -af -- "sandbox.tag=$tag|umid=sandbox-${id:-none} " || true)"
	if [[ -n "$left" ]]; then
		printf '# left: %s\n' "$left"
		# Ours by their unique tag: end them by pid, not by name.
		local -a pids
		mapfile -t pids < <(awk '{ print $1 }' <<<"$left")
		kill -KILL "${pids[@]}" 2>/dev/null || true
		fail "host processes of the guest survived the run"
		return
	fi
	diag "no process left (umid sandbox-${id:-?}, tag $tag)"

	[[ $rc -ne $E_TIMEOUT ]] || fail "timed out: the crash was not detected in $limit s" || return
	expect_status "$E_SPLAT" "$rc" "$class" || return
	expect_grep "kernel splat in the console, class: $class \\(" "$out.err" "class printed" ||
		return
	expect_grep "^  \\| .*($splat_re)" "$out.err" "splat printed"
}

# expect_decoded PATTERN FILE WHAT: the trace decoded to file:line.
expect_decoded() {
	expect_grep "$@"
}

# Skip (4) when the kernel cannot provoke crashes.
need_lkdtm() {
	local config="$BUILD/kernel/${KERNEL:-patched}/.config"
	[[ "${KERNEL:-patched}" == */* ]] && config="${KERNEL%/*}/.config"
	[[ ! -f "$config" ]] || grep -q '^CONFIG_LKDTM=y' "$config" ||
		skip "no CONFIG_LKDTM in $config"
}

# lkdtm's WARNING: the guest goes on, the run fails all the same.
test_warning() {
	need_lkdtm || return
	crash_run WARNING 'WARNING: CPU: [0-9]+ PID: [0-9]+ at .*lkdtm' 60 \
		-- sh -c "echo WARNING >$DIRECT"
}

# lkdtm's BUG(): UML panics; the class is the BUG that came first.
test_bug() {
	need_lkdtm || return
	crash_run BUG 'BUG: failure at .*lkdtm|kernel BUG at .*lkdtm' 60 \
		-- sh -c "echo BUG >$DIRECT" || return
	expect_decoded '^  \| .* panic \(linux/kernel/panic\.c:[0-9]+' \
		"$scratch/BUG.err" "call trace decoded to file:line"
}

# A NULL dereference in the kernel: UML's "Kernel mode fault".
test_exception() {
	need_lkdtm || return
	crash_run exception 'Kernel mode fault at addr 0x0' 60 \
		-- sh -c "echo EXCEPTION >$DIRECT" || return
	expect_decoded '^  \| .*RIP: .*lkdtm_EXCEPTION \(linux/drivers/misc/lkdtm/bugs\.c:[0-9]+' \
		"$scratch/exception.err" "faulting RIP decoded to file:line"
}

# panic() itself.
test_panic() {
	need_lkdtm || return
	SANDBOX_DECODE=0 crash_run panic 'Kernel panic - not syncing: dumptest' 60 \
		-- sh -c "echo PANIC >$DIRECT"
}

# A task in D state for over a second; hung_task_panic ends the run.
test_hung_task() {
	need_lkdtm || return
	SANDBOX_DECODE=0 crash_run "hung task" 'INFO: task sh:[0-9]+ blocked for more than [0-9]+ seconds' 60 \
		-- sh -c "echo 1 >/proc/sys/kernel/hung_task_timeout_secs &&
			echo 1 >/proc/sys/kernel/hung_task_panic && echo HUNG_TASK >$DIRECT"
}

# A CPU spinning in the kernel for 2 s; softlockup_panic ends the run.
test_soft_lockup() {
	need_lkdtm || return
	SANDBOX_DECODE=0 crash_run "soft lockup" 'BUG: soft lockup - CPU#0 stuck for [0-9]+s' 60 \
		-- sh -c "echo 1 >/proc/sys/kernel/watchdog_thresh &&
			echo 1 >/proc/sys/kernel/softlockup_panic && echo SOFTLOCKUP >$DIRECT"
}

# A guest program that eats all of a 64 MB guest is OOM-killed.
test_oom_kill() {
	[[ -x "$BUILD/rootfs/tests/sandbox/mem_hog" ]] ||
		skip "no /tests/sandbox/mem_hog in the guest root (make rootfs)" || return
	SANDBOX_DECODE=0 crash_run "OOM kill" 'mem_hog invoked oom-killer|Killed process [0-9]+ \(mem_hog\)' 90 \
		-m 64M -- /tests/sandbox/mem_hog
}

main() {
	local rc=0
	: >"$scratch/times"
	ktap_run_all test_crash "${1:-}" || rc=$?
	echo "# time per class (boot, crash, detection$([[ "${SANDBOX_DECODE:-1}" == 0 ]] ||
		echo ', decoding for BUG and exception')):"
	sed 's/^/#   /' "$scratch/times"
	return "$rc"
}

main "$@"
