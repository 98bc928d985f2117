#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# docs/reference.md against the tree: every variable, target and exit code, both ways.
#
# Usage: tests/host/test_reference.sh [PATTERN]   (runs the test_* functions matching it)
#
# REFERENCE=FILE checks another reference (the tests of this test use it).
# Prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly REFERENCE="${REFERENCE:-$TOP/docs/reference.md}"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-reference.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# code_files: the files of the tree that run (not the prose, not the
# patches of the kernel), one per line, from git: what a script can read.
code_files() {
	git -C "$TOP" ls-files -co --exclude-standard -- Makefile '*.mk' '*.sh' '*.c' '*.h' \
		'*.py' run-uml.sh .ci/run gdbinit '.github/*' |
		grep -v '^patches/' | sed "s|^|$TOP/|"
}

# listed SECTION: the names in backquotes at the start of the table rows
# of the reference's section SECTION (a "## SECTION" heading).
listed() {
	awk -v s="## $1" '
		/^## / { on = ($0 == s); next }
		on && /^\| *`/ { sub(/^\| *`/, ""); sub(/`.*/, ""); print }' "$REFERENCE" | sort -u
}

# compare WHAT HAVE WANT: the two sorted lists are equal, else each side's
# extra names.
compare() {
	local -r what="$1" have="$2" want="$3"
	local extra missing
	missing="$(comm -13 "$have" "$want")"
	extra="$(comm -23 "$have" "$want")"
	[[ -z "$missing" && -z "$extra" ]] && {
		diag "$what: $(wc -l <"$want") names, all listed"
		return 0
	}
	[[ -z "$missing" ]] || diag "$what: not in the reference: ${missing//$'\n'/ }"
	[[ -z "$extra" ]] || diag "$what: in the reference, but nothing has it: ${extra//$'\n'/ }"
	fail "$what: the reference and the tree differ"
}

# Every SANDBOX_* variable the tree reads is in the reference, and every one
# the reference lists is read.  Internal plumbing is _SANDBOX_*, never listed.
test_sandbox_variables() {
	code_files | xargs grep -ohE '(^|[^A-Za-z0-9_])SANDBOX_[A-Z0-9_]*[A-Z0-9]' |
		sed 's/^[^S]*//' | sort -u >"$scratch/read"
	listed "Variables" | grep '^SANDBOX_' >"$scratch/listed" || true
	compare "SANDBOX_* variables" "$scratch/listed" "$scratch/read"
}

# Every target that make help shows is in the reference, and the other way.
test_make_targets() {
	make -s -C "$TOP" help | awk '/^  [a-z][a-z0-9-]*( \(default\))? +- / { print $1 }' | sort -u >"$scratch/help"
	[[ -s "$scratch/help" ]] || fail "make help lists no target" || return
	listed "Make targets" >"$scratch/listed"
	compare "make targets" "$scratch/listed" "$scratch/help"
}

# Every exit code of scripts/exit-codes.sh is in the reference, and the
# other way (130 and 143, the shell's, aside).
test_exit_codes() {
	grep -oE '^	E_[A-Z]+=[0-9]+' "$TOP/scripts/exit-codes.sh" | sed 's/.*=//' |
		sort -u >"$scratch/codes"
	[[ -s "$scratch/codes" ]] || fail "no exit code in scripts/exit-codes.sh" || return
	listed "Exit codes" | grep -vE '^(130|143)$' >"$scratch/listed" || true
	compare "exit codes" "$scratch/listed" "$scratch/codes"
}

ktap_run_all reference "${1:-}"
