#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/lib.sh: the helpers that stand in for a program say what the program says.
#
# Usage: tests/host/test_lib.sh [PATTERN]   (runs the test_* functions matching it)
# Prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-lib-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# The helpers of scripts/lib.sh that stand in for a program (so that the
# edit loop starts fewer) say what the program says.
test_lib_helpers_match_programs() {
	(
		# shellcheck source=scripts/lib.sh
		source "$TOP/scripts/lib.sh"
		cpu_count
		[[ "$REPLY" == "$(nproc)" ]] || fail "cpu_count says $REPLY, nproc $(nproc)" || exit
		if command -v taskset >/dev/null; then
			REPLY="$(taskset -c 0 bash -c 'source "$1"; cpu_count; echo "$REPLY"' sh \
				"$TOP/scripts/lib.sh")"
			[[ "$REPLY" == 1 ]] || fail "cpu_count on one CPU (taskset) says $REPLY" || exit
		fi
		local prog
		for prog in gcc make sh; do
			on_path "$prog" || fail "on_path finds no $prog" || exit
			[[ "$REPLY" == "$(command -v "$prog")" ]] ||
				fail "on_path $prog says $REPLY, command -v $(command -v "$prog")" || exit
		done
		! on_path no-such-program-here || fail "on_path found no-such-program-here: $REPLY" ||
			exit
		printf 'first line\nsecond\n' >"$scratch/lines"
		read_line "$scratch/lines"
		[[ "$REPLY" == "first line" ]] || fail "read_line read '$REPLY'" || exit
		read_line "$scratch/no-such-file"
		[[ -z "$REPLY" ]] || fail "read_line of no file read '$REPLY'" || exit
	)
}

ktap_run_all test_lib "${1:-}"
