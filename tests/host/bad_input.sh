#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Bad input to every entry point: a one-line error that says what to do, and the documented exit code.
#
# Usage: tests/host/bad_input.sh [PATTERN]   (runs the test_* functions matching it)
#
# Nothing here builds: run-uml.sh runs with --no-build, make only with
# errors that stop it before any recipe (or when the tree is up to date).
# The exit codes are the ones of docs/reference.md.  Prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly RUN="$TOP/run-uml.sh"
readonly TREE="$TOP/scripts/source/linux-tree.sh"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

export GIT_AUTHOR_NAME=mremap-sandbox GIT_AUTHOR_EMAIL=mremap-sandbox@localhost
export GIT_COMMITTER_NAME=mremap-sandbox GIT_COMMITTER_EMAIL=mremap-sandbox@localhost

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-badinput.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# expect_error WANT HINT CMD...: CMD exits WANT and prints one error line
# (matching HINT: what to do) on stderr, nothing else there.
expect_error() {
	local -r want="$1" hint="$2"
	shift 2
	local rc=0 lines
	"$@" >"$scratch/out" 2>"$scratch/err" </dev/null || rc=$?
	expect_status "$want" "$rc" "${*#"$TOP"/}" || { sed 's/^/#   /' "$scratch/err"; return 1; }
	lines="$(grep -c . "$scratch/err" || true)"
	[[ "$lines" -eq 1 ]] || { sed 's/^/#   /' "$scratch/err"; fail "$lines lines on stderr, not one"; return; }
	expect_grep "error: .*$hint" "$scratch/err" "  $(head -c 150 "$scratch/err")"
}

# --- run-uml.sh ---------------------------------------------------------------------

# Unknown options, missing values, malformed numbers, a stray command, a
# kernel that does not exist: 64 before anything boots.
test_run_uml_usage_errors() {
	local -a cases=(
		"unknown option '--bogus'|--bogus -- true"
		"option --timeout needs a value|--timeout"
		"option --mem needs a value|--mem"
		"option --kernel needs a value|--kernel"
		"option --append needs a value|--append"
		"option --results needs a value|--test --results"
		"--timeout takes whole seconds, not 'abc'|--timeout abc -- true"
		"--timeout takes whole seconds, not '-5'|--timeout -5 -- true"
		"--timeout takes whole seconds, not '1.5'|-t 1.5 -- true"
		"--mem takes a size such as 512M or 1G, not 'lots'|--mem lots -- true"
		"--mem takes a size such as 512M or 1G, not '0'|-m 0 -- true"
		"--kernel takes patched, base or a path, not 'nonsense'|--kernel nonsense -- true"
		"--kernel /nonexistent/linux: no such executable|--kernel /nonexistent/linux -- true"
		"put the guest command after --|uname -r"
		"--test and a command exclude each other|--test mremap -- true"
		"no command and no terminal: give a command after --|"
	)
	local c
	for c in "${cases[@]}"; do
		# shellcheck disable=SC2086 # the arguments split on purpose
		expect_error 64 "${c%%|*}" "$RUN" --no-build ${c#*|} || return
	done
}

# A --test pattern that matches no test: 72, not a test failure, and the
# last results are kept.
test_run_uml_no_test_matches() {
	local -r results="$TOP/build/results/patched.ktap"
	local before=none rc=0
	[[ -x "$TOP/build/kernel/patched/linux" ]] || skip "no kernel yet (make all)" || return
	[[ -f "$results" ]] && before="$(sha256sum <"$results")"
	"$RUN" --no-build --test no-such-test-zz >"$scratch/out" 2>"$scratch/err" </dev/null || rc=$?
	expect_status 72 "$rc" "--test no-such-test-zz" || return
	expect_grep "error: no guest test matches 'no-such-test-zz': see the names with run-uml.sh --list-tests" \
		"$scratch/err" "says what to do" || return
	local after=none
	[[ -f "$results" ]] && after="$(sha256sum <"$results")"
	[[ "$before" == "$after" ]] || fail "build/results/patched.ktap was overwritten"
}

# --- the other scripts -----------------------------------------------------------------

test_scripts_usage_errors() {
	expect_error 64 "a command is needed" "$TREE" || return
	expect_error 64 "unknown command 'bogus'" "$TREE" bogus || return
	expect_error 64 "unknown command 'bogus'" "$TOP/scripts/build/kernel.sh" bogus || return
	expect_error 64 "unknown option '--bogus'" "$TOP/scripts/gdb/gdb-uml.sh" --bogus || return
	expect_error 64 "--mem takes a size" "$TOP/scripts/gdb/gdb-uml.sh" --mem lots -- true || return
	expect_error 64 "--timeout takes whole seconds" "$TOP/scripts/gdb/gdb-uml.sh" --timeout abc -- true || return
	expect_error 64 "option --batch needs a value" "$TOP/scripts/gdb/gdb-uml.sh" --batch || return
	expect_error 64 "unknown option '--bogus'" "$TOP/.ci/run" --bogus || return
	expect_error 64 "usage: with-lock.sh DIR COMMAND" "$TOP/scripts/build/with-lock.sh" /nonexistent true
}

# LINUX_SRC that is not a kernel tree (missing, or any other directory): 68.
test_linux_src_not_a_tree() {
	expect_error 68 "LINUX_SRC=/nonexistent is not a Linux kernel source tree.*point LINUX_SRC" \
		"$TREE" check-src /nonexistent || return
	mkdir -p "$scratch/notkernel"
	echo "all:" >"$scratch/notkernel/Makefile"
	expect_error 68 "is not a Linux kernel source tree: point LINUX_SRC.*or unset it" \
		"$TREE" check-src "$scratch/notkernel"
}

# A series file naming a patch that is not there: 71, naming it, saying
# what to do; linux/ untouched.
test_series_names_missing_file() {
	local -r d="$scratch/series"
	mkdir -p "$d/linux/mm" "$d/patches"
	git init -q -b main "$d/linux"
	echo one >"$d/linux/mm/mremap.c"
	(cd "$d/linux" && git add -A && git commit -q -m pristine && git tag base)
	printf '0001-first.patch\n' >"$d/patches/series"
	LINUX="$d/linux" PATCHES="$d/patches" expect_error 71 \
		"patches/series names 0001-first.patch, which does not exist.*fix the series file" \
		"$TREE" prepare || return
	[[ -z "$(git -C "$d/linux" status --porcelain)" ]] || fail "linux/ changed"
}

# --- make ----------------------------------------------------------------------------------
# make exits 2 on any error; the message, and for a script's error the
# "Error N" line, tell them apart.

# make_error NAME HINT ARGS...: make ARGS fails (2) with HINT on stderr.
make_error() {
	local -r what="$1" hint="$2"
	shift 2
	local rc=0
	make -C "$TOP" "$@" >"$scratch/make.out" 2>&1 </dev/null || rc=$?
	expect_status 2 "$rc" "make $*" || return
	expect_grep "$hint" "$scratch/make.out" "$what"
}

test_make_errors() {
	make_error "KERNEL=bogus" "KERNEL=bogus is not a kernel of this sandbox: use KERNEL=patched, base or upstream" \
		KERNEL=bogus all || return
	make_error "KERNEL=base with LINUX_SRC" "KERNEL=base is a tree of the sandbox's own; it cannot be combined with LINUX_SRC" \
		KERNEL=base LINUX_SRC=/nonexistent all || return
	make_error "LINUX_SRC not a tree" "LINUX_SRC=/nonexistent is not a Linux kernel source tree" \
		LINUX_SRC=/nonexistent source || return
	expect_grep 'Error 68' "$scratch/make.out" "its exit code shown" || return
	make_error "O= that cannot be made" "O=/proc/sandbox-x: cannot create the output directory" \
		O=/proc/sandbox-x help || return
	make_error "unknown target" "No rule to make target 'no-such-target'" no-such-target
}

# make check-guest T= matching nothing (only when nothing needs building:
# check-guest builds first).
test_make_test_pattern_matches_nothing() {
	local rc=0
	[[ -x "$TOP/build/host/stale" && -f "$TOP/build/.uptodate-patched" ]] ||
		skip "not built yet (make all)" || return
	"$TOP/build/host/stale" "$TOP/build/.uptodate-patched" >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 1 ]] || skip "the tree changed since the last make all: would build" || return
	make_error "T= matching nothing" "no guest test matches 'no-such-test-zz'" \
		check-guest T=no-such-test-zz || return
	expect_grep 'Error 72' "$scratch/make.out" "its exit code shown"
}

ktap_run_all bad-input "${1:-}"
