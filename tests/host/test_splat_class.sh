#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# splat-class on a console log: what it classes, shows and writes for decode_stacktrace.sh.
#
# Usage: tests/host/test_splat_class.sh [PATTERN]   (runs the test_* functions matching it)
# Builds build/host/splat-class with make (BUILD names another build/); prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-splat-class-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# At a panic UML writes the whole kernel log once more to stdout
# (kmsg_dump), and the panic's call trace may reach the console log after
# it, or amid it: splat-class skips the dump's lines (the same splats
# again), not the rest of the log.  A classifier that stopped at the dump
# lost the trace, and the decoding of it.
test_splat_trace_after_kmsg_dump() {
	local -r log="$scratch/dump.log" out="$scratch/dump.out"
	local rc=0 bin
	host_tool splat-class || return
	bin="$REPLY"
	cat >"$log" <<-'EOF'
		[    0.110000] lkdtm: Performing direct entry BUG
		[    0.110000] BUG: failure at drivers/misc/lkdtm/bugs.c:78/lkdtm_BUG()!
		[    0.110000] Kernel panic - not syncing: BUG!
		kmsg_dump:
		<5>[    0.000000] Linux version 6.1.192+
		<4>[    0.050000] WARNING: CPU: 0 PID: 1 at mm/mremap.c:1 a_dumped_warning
		<0>[    0.110000] Kernel panic - not syncing: BUG!
		[    0.110000] CPU: 0 PID: 18 Comm: sh Not tainted 6.1.192+ #283
		[    0.110000] Call Trace:
		[    0.110000]  [<60218b58>] ? panic+0x18c/0x367
		[    0.110000]  [<6022e558>] ? lkdtm_BUG+0x0/0x4b
	EOF
	"$bin" -t "$scratch/dump.trace" "$log" >"$out" || rc=$?
	expect_status 0 "$rc" "splat-class on a log with the trace after the dump" || return
	expect_grep '^classes: BUG, panic$' "$out" "the dump's WARNING not counted again" || return
	expect_grep '^  \| .*\[<60218b58>\] \? panic\+0x18c/0x367' "$out" "the trace after the dump shown" || return
	expect_grep 'panic\+0x18c/0x367' "$scratch/dump.trace" "and written for decode_stacktrace.sh"
}

ktap_run_all test_splat_class "${1:-}"
