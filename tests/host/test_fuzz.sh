#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The mremap fuzzer on two kernels: the same digests, different page-table work, and its self-tests.
#
# Usage: tests/host/test_fuzz.sh [PATTERN]   (runs the test_* functions matching it)
# Needs both kernels and the rootfs (make all; make all KERNEL=base); prints KTAP.
#
# The guest's /tests/sandbox/mremap_fuzz runs the same seeds on KERNEL_A
# and KERNEL_B (default base and patched; a name or the path of a UML
# binary, e.g. a mutant's build/kernel/bisect/linux).  Both must find no
# mismatch and print the same digests of every seed's final memory, layout
# and results; the sandbox's page-table move counters, printed beside
# them, must differ (the series moves whole page tables where base copies
# entries), or the seeds would not exercise it.  Then the fuzzer's own
# checks: --self-check (a model with a realignment bug must be caught,
# replayed and shrunk), the shrunk trace from the host log replayed with
# --replay in a fresh guest, and bad options.
#
# FUZZ_ARGS: the fuzzer's options for the A/B runs (default: its default
# seeds).  FUZZ_COUNTERS=equal: the counters must be the same instead
# (patched against upstream).  FUZZ_TIMEOUT: seconds per guest (default 300).
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly BUILD="${BUILD:-$TOP/build}"
readonly FUZZ=/tests/sandbox/mremap_fuzz
readonly KERNEL_A="${KERNEL_A:-base}" KERNEL_B="${KERNEL_B:-patched}"
readonly FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-300}"
# differ (base against a kernel with the series) or equal (two kernels
# with the series: patched and upstream).
readonly FUZZ_COUNTERS="${FUZZ_COUNTERS:-differ}"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-fuzz-tests.XXXXXX")"
readonly scratch
trap 'rm -rf "$scratch"' EXIT

# fuzz_guest NAME KERNEL ARGS...: the fuzzer in a guest (run_guest,
# tests/host/lib.sh); its output, then run-uml.sh's messages, in
# $scratch/NAME.out, its status in NAME.rc.
fuzz_guest() {
	local -r name="$1" kernel="$2"
	shift 2
	local rc=0 start ms
	start=$(date +%s%N)
	run_guest "$name" --kernel "$kernel" -t "$FUZZ_TIMEOUT" -- "$@" || rc=$?
	cat "$scratch/$name.err" >>"$scratch/$name.out"
	ms=$((($(date +%s%N) - start) / 1000000))
	printf '%s: exit %d in %d.%03d s (kernel %s)\n' "$name" "$rc" $((ms / 1000)) $((ms % 1000)) \
		"$kernel" >"$scratch/$name.summary"
}

# The digests of each seed: "SEED DATA LAYOUT RESULTS".
digests() {
	sed -nE 's/^# seed ([0-9]+): .* data ([0-9a-f]+) layout ([0-9a-f]+) results ([0-9a-f]+) .*/\1 \2 \3 \4/p' "$1"
}

# The counters of each seed: "SEED PTES PMDS PUDS".
counters() {
	sed -nE 's/^# seed ([0-9]+): .*\| ptes (-?[0-9]+) pmds (-?[0-9]+) puds (-?[0-9]+) \|.*/\1 \2 \3 \4/p' "$1"
}

# A run found no mismatch and every seed passed.
expect_clean() {
	local -r name="$1"
	diag "$(cat "$scratch/$name.summary")"
	expect_guest_left_nothing "$name" || return
	grep -E '^# (MISMATCH|digest of)' "$scratch/$name.out" | head -n 12 | sed 's/^/# /'
	expect_status 0 "$(cat "$scratch/$name.rc")" "the fuzzer on $name" || {
		grep -E '^(not ok|# shrunk|#   )' "$scratch/$name.out" | head -n 30 | sed 's/^/# /'
		return 1
	}
	[[ $(digests "$scratch/$name.out" | wc -l) -gt 0 ]] || fail "no seed's digest in the output"
}

test_a_clean() {
	expect_clean a
}

test_b_clean() {
	expect_clean b
}

# Every seed leaves the same memory, layout and results on both kernels.
test_digests_equal() {
	digests "$scratch/a.out" >"$scratch/a.dig"
	digests "$scratch/b.out" >"$scratch/b.dig"
	[[ -s "$scratch/a.dig" ]] || fail "no digest from $KERNEL_A" || return
	diag "seed  data digest      layout digest    results digest"
	sed 's/^/  /' "$scratch/b.dig" | while read -r line; do diag "$line"; done
	if ! cmp -s "$scratch/a.dig" "$scratch/b.dig"; then
		diff "$scratch/a.dig" "$scratch/b.dig" | sed 's/^/# /'
		fail "the digests differ between $KERNEL_A (<) and $KERNEL_B (>)"
		return
	fi
	diag "$(wc -l <"$scratch/a.dig") seeds, digests equal on $KERNEL_A and $KERNEL_B"
}

# The page-table work differs: the seeds make moves the series realigns.
test_counters_differ() {
	local a b
	counters "$scratch/a.out" >"$scratch/a.cnt"
	counters "$scratch/b.out" >"$scratch/b.cnt"
	diag "seed: $KERNEL_A ptes/pmds/puds | $KERNEL_B ptes/pmds/puds"
	join "$scratch/a.cnt" "$scratch/b.cnt" | while read -r s p1 m1 u1 p2 m2 u2; do
		diag "$(printf '%4s: %7s %4s %2s | %7s %4s %2s' "$s" "$p1" "$m1" "$u1" "$p2" "$m2" "$u2")"
	done
	a="$(awk '{ p += $2; m += $3 } END { print p + 0, m + 0 }' "$scratch/a.cnt")"
	b="$(awk '{ p += $2; m += $3 } END { print p + 0, m + 0 }' "$scratch/b.cnt")"
	diag "total ptes pmds: $KERNEL_A $a, $KERNEL_B $b"
	if grep -q -- ' -1 ' "$scratch/a.cnt" "$scratch/b.cnt"; then
		skip "a kernel without the sandbox's mremap_moves counters"
		return
	fi
	if [[ "$FUZZ_COUNTERS" == equal ]]; then
		# Two kernels with the series (ours and upstream's): the same work.
		[[ "$a" == "$b" ]] ||
			fail "the page-table work differs between $KERNEL_A and $KERNEL_B: the series is not the same"
		return
	fi
	[[ "$a" != "$b" ]] ||
		fail "the page-table work is the same on both kernels: the seeds never take the series' path"
}

# A model with a realignment bug is caught, the trace replays, and shrinks.
test_self_check() {
	diag "$(cat "$scratch/self.summary")"
	expect_guest_left_nothing self || return
	expect_status 0 "$(cat "$scratch/self.rc")" "mremap_fuzz --self-check" || {
		grep -E '^(not )?ok|^# (MISMATCH|shrunk)' "$scratch/self.out" | sed 's/^/# /' | head -n 20
		return 1
	}
	grep -E '^ok|^# (MISMATCH|shrunk|the failing|replaying)' "$scratch/self.out" | head -n 12 | sed 's/^/# /'
	expect_grep '^ok 3 self-check: shrunk to' "$scratch/self.out" "the shrunk trace"
}

# The shrunk trace, as the host log has it, fails again in a fresh guest
# (with the model's bug, named in its header) and passes without it.
test_replay_from_log() {
	local trace body rc=0
	trace="$(sed -nE 's/^#   ((mmap|munmap|mprotect|dontneed|write|mremap|fork) .*)/\1/p' "$scratch/self.out")"
	[[ -n "$trace" ]] || fail "no shrunk trace in the self-check's output" || return
	printf '%s\n' "$trace" | sed 's/^/#   /'
	body="printf '%s\n' '# mremap_fuzz trace: seed=0 inject=1 ops=0' \"\$T\" >/tmp/t1 &&
		printf '%s\n' '# mremap_fuzz trace: seed=0 inject=0 ops=0' \"\$T\" >/tmp/t0 &&
		{ $FUZZ --replay /tmp/t1; echo \"inject=1 exit \$?\"; $FUZZ --replay /tmp/t0; echo \"inject=0 exit \$?\"; }"
	fuzz_guest replay "$KERNEL_B" /bin/sh -c "T='$trace'; $body"
	rc="$(cat "$scratch/replay.rc")"
	expect_status 0 "$rc" "the replay guest" || { tail -n 20 "$scratch/replay.out" | sed 's/^/# /'; return 1; }
	grep -E 'MISMATCH|^# replay|exit [0-9]' "$scratch/replay.out" | head -n 8 | sed 's/^/# /'
	expect_grep '^inject=1 exit 1' "$scratch/replay.out" "the trace with the model's bug fails" &&
		expect_grep '^inject=0 exit 0' "$scratch/replay.out" "the trace with the correct model passes"
}

# Bad options and a malformed trace: exit 64 and a message that says what.
test_bad_input() {
	local rc=0
	run_guest bad --kernel "$KERNEL_B" -t 60 -- /bin/sh -c \
		"$FUZZ --ops many; echo \"ops exit \$?\"; $FUZZ --bogus; echo \"bogus exit \$?\";
		 echo 'mremap a=1 n=x' >/tmp/bad; $FUZZ --replay /tmp/bad; echo \"trace exit \$?\";
		 $FUZZ --replay /nonexistent; echo \"missing exit \$?\"" || rc=$?
	cat "$scratch/bad.err" >>"$scratch/bad.out"
	expect_status 0 "$rc" "the guest" || return
	expect_grep '^ops exit 64' "$scratch/bad.out" "--ops many" &&
		expect_grep 'needs a number' "$scratch/bad.out" "its message" &&
		expect_grep '^bogus exit 64' "$scratch/bad.out" "--bogus" &&
		expect_grep '^trace exit 64' "$scratch/bad.out" "a malformed trace" &&
		expect_grep 'not an operation of a trace' "$scratch/bad.out" "its message" &&
		expect_grep '^missing exit 64' "$scratch/bad.out" "a missing trace"
}

main() {
	[[ -x "$BUILD/rootfs$FUZZ" ]] || {
		echo "test_fuzz.sh: no $FUZZ in the guest root: run make rootfs" >&2
		exit 4
	}
	local -a args
	read -r -a args <<<"${FUZZ_ARGS:-}"
	case "${1:-}" in
	*self* | *replay* | *bad*) ;;
	*)
		fuzz_guest a "$KERNEL_A" "$FUZZ" "${args[@]}"
		fuzz_guest b "$KERNEL_B" "$FUZZ" "${args[@]}"
		;;
	esac
	case "${1:-}" in
	"" | *self* | *replay*) fuzz_guest self "$KERNEL_B" "$FUZZ" --self-check ;;
	esac
	ktap_run_all test_fuzz "${1:-}"
}

main "$@"
