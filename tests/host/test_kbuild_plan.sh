#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# kbuild-plan: a quick rebuild only where kbuild's own records show it is all kbuild would do.
#
# Usage: tests/host/test_kbuild_plan.sh [PATTERN]   (runs the test_* functions matching it)
# Builds build/host/kbuild-plan with make (BUILD names another build/); prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-kbuild-plan-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# kbuild-plan on a stand-in build directory: a quick rebuild only where
# kbuild's records show that recompiling objects of built-in.a is all
# kbuild would do; a Makefile, a script, a library or composite member, an
# unplain command, a vanished dependency or an unsure walk mean kbuild.
test_kbuild_plan_decides() {
	local -r src="$scratch/kp-src" kdir="$scratch/kp-kdir" plan="$scratch/kp-plan"
	local bin change want got rc
	host_tool kbuild-plan || return
	bin="$REPLY"
	rm -rf "$src" "$kdir"
	mkdir -p "$src/mm" "$src/lib" "$src/include" "$src/scripts" "$src/Documentation" \
		"$kdir/mm" "$kdir/lib"
	for f in mm/a.c mm/b.c mm/c.c mm/d.c mm/unused.c lib/l.c include/x.h include/y.h \
		include/z.h scripts/link.sh mm/Makefile Documentation/f.rst; do
		echo "/* $f */" >"$src/$f"
	done
	# record TARGET COMMAND DEP...: a .cmd file as fixdep writes it.
	record() {
		local -r t="$1" cmd="$2"
		shift 2
		{
			printf 'cmd_%s := %s  \n\n' "$t" "$cmd"
			printf 'source_%s := %s\n\n' "$t" "$1"
			printf 'deps_%s := \\\n' "$t"
			printf '    $(wildcard include/config/FOO) \\\n'
			for d in "${@:2}"; do
				printf '  %s \\\n' "$d"
			done
			printf '\n%s: $(deps_%s)\n\n$(deps_%s):\n' "$t" "$t" "$t"
		} >"$kdir/$(dirname "$t")/.$(basename "$t").cmd"
	}
	# shellcheck disable=SC2016 # make's escapes, literally
	record mm/a.o 'gcc -DH=\"$(pound)\" -c -o mm/a.o '"$src/mm/a.c" \
		"$src/mm/a.c" "$src/include/x.h" "$src/include/z.h"
	record mm/b.o "gcc -c -o mm/b.o ../kp-src/mm/b.c" "../kp-src/mm/b.c" "../kp-src/include/x.h"
	record mm/c.o "gcc -c -o mm/c.o $src/mm/c.c; ./post-process mm/c.o" "$src/mm/c.c"
	# shellcheck disable=SC2016 # a $ for sh: not something to replay
	record mm/d.o 'gcc -DD=$$HOME -c -o mm/d.o '"$src/mm/d.c" "$src/mm/d.c"
	record lib/l.o "gcc -c -o lib/l.o $src/lib/l.c" "$src/lib/l.c" "$src/include/y.h"
	record vmlinux "sh $src/scripts/link.sh" "$src/scripts/link.sh"
	# The build system's files of the last full build.
	printf '%s\n' "$src/mm/Makefile" "$src/scripts/link.sh" >"$kdir/.sandbox-build-files"
	# The members of vmlinux: a thin archive, as kbuild makes it.
	touch "$kdir/mm/a.o" "$kdir/mm/b.o" "$kdir/mm/c.o" "$kdir/mm/d.o"
	(cd "$kdir" && ar cDPrST built-in.a mm/a.o mm/b.o mm/c.o mm/d.o) || fail "ar failed" || return
	rm "$kdir/mm/a.o"

	for change in "mm/a.c:mm/a.o" "include/x.h:mm/a.o mm/b.o" "mm/b.c:mm/b.o" \
		"mm/unused.c:" "Documentation/f.rst:" \
		"include/y.h:full:not linked into vmlinux directly" \
		"scripts/link.sh:full:not an object" \
		"mm/c.c:full:not a plain compile" "mm/d.c:full:not a plain compile" \
		"mm/Makefile:full:not a source file kbuild recorded" \
		"!unreadable mm:full:could not tell" "+dir $src/mm:"; do
		local file="${change%%:*}"
		want="${change#*:}"
		rc=0
		if [[ "$file" == [\!+]* ]]; then
			printf '%s\n' "$file"
		else
			printf '%s\n' "$src/$file"
		fi | SRC="$src" "$bin" "$kdir" >"$plan" || rc=$?
		if [[ "$want" == full:* ]]; then
			expect_status 3 "$rc" "plan after $file" || return
			expect_grep "^full: .*${want#full:}" "$plan" "reason for $file" || return
		else
			expect_status 0 "$rc" "plan after $file" || return
			got="$(tr '\0' '\n' <"$plan" | awk 'NR % 3 == 1' | sort | tr '\n' ' ')"
			[[ "${got% }" == "$want" ]] ||
				fail "plan after $file: '${got% }', want '$want'" || return
			diag "plan after $file: '${got% }'"
		fi
	done
	# The command for sh: make's $(pound) undone; fixdep's as recorded.
	printf '%s\n' "$src/mm/a.c" | SRC="$src" "$bin" "$kdir" >"$plan"
	# shellcheck disable=SC2016
	[[ "$(tr '\0' '\n' <"$plan" | sed -n 3p)" == 'gcc -DH=\"#\" -c -o mm/a.o '"$src/mm/a.c  " ]] ||
		fail "shell command: $(tr '\0' '\n' <"$plan" | sed -n 3p)" || return
	# shellcheck disable=SC2016
	[[ "$(tr '\0' '\n' <"$plan" | sed -n 2p)" == 'gcc -DH=\"$(pound)\" -c -o mm/a.o '"$src/mm/a.c  " ]] ||
		fail "recorded command: $(tr '\0' '\n' <"$plan" | sed -n 2p)" || return
	# A dependency that is gone: kbuild would rebuild (and fail); so must we.
	rm "$src/include/z.h"
	rc=0
	printf '%s\n' "$src/mm/b.c" | SRC="$src" "$bin" "$kdir" >"$plan" || rc=$?
	expect_status 3 "$rc" "plan with a vanished dependency" || return
	expect_grep "^full: mm/a.o depends on .*z.h, which is gone" "$plan" "reason" || return
	# A Makefile that is gone: no record names it, the list does.
	echo "/* z */" >"$src/include/z.h"
	rm "$src/mm/Makefile"
	rc=0
	echo "+dir $src/mm" | SRC="$src" "$bin" "$kdir" >"$plan" || rc=$?
	expect_status 3 "$rc" "plan with a Makefile removed" || return
	expect_grep "^full: .*mm/Makefile is gone" "$plan" "reason"
}

ktap_run_all test_kbuild_plan "${1:-}"
