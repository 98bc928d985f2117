#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The sandbox's own patches, ported to 6.12, do on the upstream kernel what they do on ours.
#
# Usage: tests/host/test_upstream.sh [PATTERN]   (runs the test_* functions matching it)
# Needs the upstream kernel and the rootfs (make all KERNEL=upstream); prints KTAP.
#
# One check per ported patch of patches/upstream/sandbox/, each on a guest
# booted with run-uml.sh --no-build:
#   move_counters     0002: /sys/kernel/debug/mremap_moves/{ptes,pmds,puds}
#                     exist, reset to 0, and count the PMD moves of pmd_move
#   exec_stack_shift  0003: /sys/kernel/debug/exec_stack_shift sets the
#                     stack's place exactly (2 MB and 4 MB apart by 2 MB, the
#                     same on every exec), and series_exec_shift's forced
#                     2 MB shift passes without a kernel WARNING
#   pmd_move          0005: tests/guest/pmd_move.c passes, and its moves went
#                     by whole PMDs (the counter), not PTE by PTE
#   confine           0006: tests/host/test_confine.sh on this kernel
#   readonly_root     0007: a write to /init and a read-write remount of /
#                     are refused, and the staged /init is unchanged
# A kernel splat in any run fails its checks (run-uml.sh exits 121).
#
# UPSTREAM_KERNEL: "upstream" (default), another kernel of the sandbox
# (patched, base), or the path of a UML binary, e.g. a 6.12 built without
# one of the patches, to show its check failing.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly BUILD="${BUILD:-$TOP/build}"
readonly ROOTFS="$BUILD/rootfs"
readonly UP_KERNEL="${UPSTREAM_KERNEL:-upstream}"
readonly MOVES=/sys/kernel/debug/mremap_moves
readonly KNOB=/sys/kernel/debug/exec_stack_shift
readonly PMD_SIZE=$((2 << 20))
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-upstream-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# The kernel binary, or a reason to skip on stderr and status 1.
kernel_binary() {
	local bin="$UP_KERNEL"
	[[ "$bin" == */* ]] || bin="$BUILD/kernel/$UP_KERNEL/linux"
	if [[ ! -x "$bin" ]]; then
		echo "no upstream kernel at ${bin#"$TOP"/}: make all KERNEL=upstream" \
			"(or set UPSTREAM_KERNEL to a UML binary)" >&2
		return 1
	fi
}

# up_guest NAME TIMEOUT CMD: CMD under sh in a guest of $UP_KERNEL
# (run_guest, tests/host/lib.sh): its output (without the tty's CRs) in
# $scratch/NAME.out, run-uml.sh's stderr in NAME.err, its status returned.
up_guest() {
	run_guest "$1" --kernel "$UP_KERNEL" -t "$2" -- sh -c "$3"
}

# expect_run NAME WHAT: the run NAME ended with status 0; shows it if not.
expect_run() {
	local -r rc="$(cat "$scratch/$1.rc")"
	if [[ "$rc" -ne 0 ]]; then
		sed 's/^/# guest: /' "$scratch/$1.out" | tail -n 30
		sed 's/^/# run-uml.sh: /' "$scratch/$1.err" | tail -n 30
		fail "$2: run-uml.sh exited $rc (121: a kernel splat)"
		return
	fi
}

# field NAME KEY: the value after "KEY: " in the run's output.
field() {
	sed -n "s/^$2: //p" "$scratch/$1.out" | tail -n 1
}

# One guest for the counters and pmd_move: the counters as booted, reset
# to 0, then after pmd_move.  Booted by the first test that needs it.
boot_moves() {
	[[ -f "$scratch/moves.rc" ]] && return
	up_guest moves 300 "
		for c in ptes pmds puds; do
			if [ -r $MOVES/\$c ]; then echo \"boot \$c: \$(cat $MOVES/\$c)\"
			else echo \"boot \$c: missing\"; fi
		done
		for c in ptes pmds puds; do echo 0 2>/dev/null >$MOVES/\$c; done
		# Read with the shell's own read: an exec (cat) moves its
		# stack's page tables, which the counters count.
		for c in ptes pmds puds; do
			v=missing
			read -r v 2>/dev/null <$MOVES/\$c
			echo \"reset \$c: \$v\"
		done
		/tests/sandbox/pmd_move >/tmp/pmd_move.out 2>&1
		echo \"pmd_move: \$?\"
		sed 's/^/pmd_move out: /' /tmp/pmd_move.out
		for c in ptes pmds puds; do
			echo \"after \$c: \$(cat $MOVES/\$c 2>/dev/null || echo missing)\"
		done
		exit 0" || true
}

# 0002: the three counters exist, a write of 0 resets each, and the PMD
# moves of pmd_move are counted.
test_move_counters() {
	kernel_binary 2>&1 || return "$KSFT_SKIP"
	boot_moves
	expect_run moves "the counters' guest" || return
	local c v
	for c in ptes pmds puds; do
		v="$(field moves "boot $c")"
		[[ "$v" =~ ^[0-9]+$ ]] || fail "$MOVES/$c: '$v' at boot, not a count" || return
		v="$(field moves "reset $c")"
		[[ "$v" == 0 ]] || fail "$MOVES/$c: '$v' after writing 0" || return
	done
	diag "the three counters exist and reset to 0"
	v="$(field moves "after pmds")"
	[[ "$v" =~ ^[0-9]+$ && "$v" -gt 0 ]] ||
		fail "$MOVES/pmds: '$v' after pmd_move's PMD-aligned moves, expected > 0" || return
	diag "after pmd_move: pmds $v, ptes $(field moves "after ptes"), puds $(field moves "after puds")"
}

# 0005: the moved page tables' data is right (pmd_move passes) and the
# moves went by whole PMDs.  Without the patch UML does not select
# HAVE_MOVE_PMD, pmd_move passes by PTE moves, and the counter says so.
test_pmd_move() {
	kernel_binary 2>&1 || return "$KSFT_SKIP"
	boot_moves
	expect_run moves "pmd_move's guest" || return
	local -r status="$(field moves pmd_move)"
	if [[ "$status" != 0 ]]; then
		sed -n 's/^pmd_move out: /# pmd_move: /p' "$scratch/moves.out" | tail -n 40
		fail "tests/guest/pmd_move.c: exit '$status', expected 0"
		return
	fi
	diag "pmd_move: $(sed -n 's/^pmd_move out: # Totals: //p' "$scratch/moves.out")"
	local -r pmds="$(field moves "after pmds")"
	[[ "$pmds" =~ ^[0-9]+$ ]] ||
		fail "no PMD counter ($MOVES/pmds: $pmds): cannot tell PMD moves from PTE moves" ||
		return
	[[ "$pmds" -gt 0 ]] ||
		fail "pmd_move's aligned moves went PTE by PTE (0 PMDs moved): no HAVE_MOVE_PMD" ||
		return
	diag "$pmds page tables moved whole, and every byte was where it belonged"
}

# stack_end NAME SHIFT: the end of [stack] of the exec after the knob was
# set to SHIFT, as a number.
stack_end() {
	local -r line="$(field "$1" "stack $2")"
	[[ "$line" =~ ^[0-9a-f]+-([0-9a-f]+)\  ]] || return 1
	echo $((16#${BASH_REMATCH[1]}))
}

# 0003: the knob places the stack exactly, and the forced 2 MB shift (the
# one that warns on base) passes without a WARNING.
test_exec_stack_shift() {
	kernel_binary 2>&1 || return "$KSFT_SKIP"
	up_guest shift 240 "
		if [ -w $KNOB ]; then echo 'knob: present'; else echo 'knob: missing'; fi
		for s in $PMD_SIZE $((2 * PMD_SIZE)) $PMD_SIZE; do
			echo \$s 2>/dev/null >$KNOB
			echo \"stack \$s: \$(grep '\\[stack\\]' /proc/self/maps)\"
		done
		echo 0 2>/dev/null >$KNOB
		/tests/sandbox/series_exec_shift >/tmp/shift.out 2>&1
		echo \"exec_shift: \$?\"
		sed 's/^/exec_shift out: /' /tmp/shift.out
		exit 0" || true
	expect_run shift "the exec shift's guest (a WARNING ends it with 121)" || return
	[[ "$(field shift knob)" == present ]] || fail "no writable $KNOB" || return
	local e2 e4 e2b
	e2="$(stack_end shift "$PMD_SIZE")" && e4="$(stack_end shift "$((2 * PMD_SIZE))")" &&
		e2b="$(grep "^stack $PMD_SIZE: " "$scratch/shift.out" | head -n 1 |
			sed 's/^[^:]*: //' | cut -d- -f2 | cut -d' ' -f1)" ||
		fail "no [stack] line in /proc/self/maps: $(grep '^stack' "$scratch/shift.out")" ||
		return
	e2b=$((16#$e2b))
	diag "[stack] ends at $(printf '%#x' "$e2b") and $(printf '%#x' "$e2") with a 2 MB shift, $(printf '%#x' "$e4") with 4 MB"
	[[ "$e2" -eq "$e2b" ]] || fail "two execs with the knob at 2 MB put the stack at different places" ||
		return
	[[ $((e2 - e4)) -eq $PMD_SIZE ]] ||
		fail "4 MB instead of 2 MB moved the stack by $((e2 - e4)) bytes, expected $PMD_SIZE" || return
	local -r status="$(field shift exec_shift)"
	if [[ "$status" != 0 ]] || grep -q '^exec_shift out: .*# SKIP' "$scratch/shift.out"; then
		sed -n 's/^exec_shift out: /# series_exec_shift: /p' "$scratch/shift.out" | tail -n 30
		fail "series_exec_shift: exit '$status' (4: skipped), expected 0"
		return
	fi
	diag "series_exec_shift: $(sed -n 's/^exec_shift out: # Totals: //p' "$scratch/shift.out"), no WARNING"
}

# 0006: the host-side confinement test, on this kernel.
test_confine() {
	kernel_binary 2>&1 || return "$KSFT_SKIP"
	local rc=0
	KERNEL="$UP_KERNEL" "$TOP/tests/host/test_confine.sh" >"$scratch/confine.out" 2>&1 || rc=$?
	sed 's/^/# /' "$scratch/confine.out" | grep -E '^# (not )?ok|FAIL|Totals' || true
	expect_status 0 "$rc" "tests/host/test_confine.sh with KERNEL=$UP_KERNEL"
}

# 0007: the guest's root cannot write the staged root: not /init, not
# after a read-write remount.
test_readonly_root() {
	kernel_binary 2>&1 || return "$KSFT_SKIP"
	local -r mark="upstream-ro-$$-$RANDOM"
	local before after
	before="$(sha256sum <"$ROOTFS/init")"
	up_guest ro 60 "
		try() { if \"\$@\" 2>/dev/null; then echo \"ok: \$*\"; else echo \"refused: \$*\"; fi; }
		try sh -c 'echo \"# $mark\" >>/init'
		try mount -o remount,rw /
		try sh -c 'echo \"# $mark\" >>/init'
		try touch /$mark
		exit 0" || true
	sed 's/^/# guest: /' "$scratch/ro.out"
	expect_run ro "the read-only root's guest" || return
	grep -q '^refused: mount -o remount,rw /$' "$scratch/ro.out" ||
		fail "guest root could remount / read-write" || return
	[[ "$(grep -c "^refused: sh -c echo \"# $mark\" >>/init$" "$scratch/ro.out")" -eq 2 ]] ||
		fail "guest root could write to /init" || return
	grep -q "^refused: touch /$mark$" "$scratch/ro.out" ||
		fail "guest root could create /$mark" || return
	after="$(sha256sum <"$ROOTFS/init")"
	[[ "$before" == "$after" && ! -e "$ROOTFS/$mark" ]] ||
		fail "the staged root changed: /init or /$mark on the host" || return
	diag "writes to /init, the remount and a new file were refused; the staged /init is unchanged"
}

main() {
	# A kernel named on purpose must exist; only the default may be
	# missing (skipped: not built yet).
	if [[ -n "${UPSTREAM_KERNEL:-}" ]] && ! kernel_binary; then
		echo "test_upstream.sh: UPSTREAM_KERNEL=$UPSTREAM_KERNEL is no UML binary" >&2
		exit 64
	fi
	ktap_run_all test_upstream "${1:-}"
}

main "$@"
