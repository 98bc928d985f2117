#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The preflight check: a missing tool stops every entry point at once, and the one package list holds.
#
# Usage: tests/host/test_preflight.sh [PATTERN]   (runs the test_* functions matching it)
#
# A machine without a package is a PATH without its commands: a stand-in
# bin directory of links to the host's commands, less the ones removed (no
# root needed).  Prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly PREFLIGHT="$TOP/scripts/build/preflight.sh"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-preflight.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# standin_path NAME CMD...: a bin directory with every command of the
# host's PATH but CMD..., printed.
standin_path() {
	local -r bin="$scratch/$1/bin"
	shift
	local d c
	mkdir -p "$bin"
	# One ln per directory; a name already linked (an earlier PATH entry)
	# is kept, as PATH would find that one.
	for d in ${PATH//:/ }; do
		[[ -d "$d" ]] || continue
		ln -s -t "$bin" "$d"/* 2>/dev/null || true
	done
	for c in "$@"; do
		rm -f "$bin/$c"
	done
	printf '%s\n' "$bin"
}

# elapsed_ms COMMAND...: run it, its output in $scratch/out, its status in
# $rc, the wall time in $ms.
elapsed_ms() {
	local t0
	t0="$EPOCHREALTIME"
	rc=0
	"$@" >"$scratch/out" 2>&1 </dev/null || rc=$?
	ms=$(( (${EPOCHREALTIME/./} - ${t0/./}) / 1000 ))
}

# A machine without flex and bison: ./run-uml.sh -- true stops with the
# setup code (78) in well under a second, names both and the command that
# installs them, and downloads nothing.
test_run_uml_without_flex_bison() {
	local bin
	bin="$(standin_path noflex flex bison)"
	elapsed_ms env PATH="$bin" BUILD="$scratch/noflex/build" "$TOP/run-uml.sh" -- true
	sed 's/^/# /' "$scratch/out"
	expect_status 78 "$rc" "run-uml.sh without flex and bison" || return
	expect_grep '^  flex +\(package flex\): not on PATH$' "$scratch/out" "names flex" || return
	expect_grep '^  bison +\(package bison\): not on PATH$' "$scratch/out" "names bison" || return
	expect_grep 'apt-get install -y --no-install-recommends bison flex$' "$scratch/out" \
		"prints the install command" || return
	[[ ! -e "$scratch/noflex/build/dl" ]] || fail "something was downloaded: $(ls "$scratch/noflex/build/dl")" || return
	diag "took $ms ms"
	[[ $ms -lt 1000 ]] || fail "took $ms ms, not well under a second"
}

# make itself (make all, make check) stops the same way before any download.
test_make_without_flex_bison() {
	local bin
	bin="$(standin_path makeflex flex bison)"
	elapsed_ms env PATH="$bin" make -C "$TOP" -s all O="$scratch/makeflex/build"
	sed 's/^/# /' "$scratch/out"
	[[ $rc -ne 0 ]] || fail "make all succeeded without flex" || return
	expect_grep 'flex +\(package flex\)' "$scratch/out" "names flex" || return
	[[ ! -e "$scratch/makeflex/build/dl" ]] || fail "something was downloaded" || return
	elapsed_ms env PATH="$bin" make -C "$TOP" -s check O="$scratch/makeflex/build"
	[[ $rc -ne 0 ]] || fail "make check succeeded without flex" || return
	expect_grep 'bison +\(package bison\)' "$scratch/out" "make check names bison" || return
	[[ ! -e "$scratch/makeflex/build/dl" ]] || fail "make check downloaded something"
}

# A rebuild (everything make all builds is there, a source file edited)
# skips the check: its tools were there for the last build.  Without one
# of its products (here the kernel) make all checks again.  A stand-in
# build directory whose stamp watches a scratch tree, on a machine without
# flex; make -n shows the build without running it.
test_rebuild_skips_preflight() {
	local -r o="$scratch/rebuild/build" t="$scratch/rebuild/tree"
	local bin p
	local -a need
	[[ -x "$TOP/build/host/stale" ]] || skip "no build/host/stale (make all first)" || return
	bin="$(standin_path rebuild flex bison)"
	mkdir -p "$o/host" "$t/mm"
	echo "int x;" >"$t/mm/mremap.c"
	# make's own list of what make all builds (its stamp's need lines).
	read -ra need <<<"$(make -s -C "$TOP" O="$o" KERNEL=patched \
		--eval 'sandbox-need: ; @echo $(UPTODATE_NEED)' sandbox-need)"
	for p in "${need[@]}"; do
		mkdir -p "${p%/*}"
		touch "$p"
	done
	cp "$TOP/build/host/stale" "$o/host/stale"
	sleep 0.02
	{ echo "watch $t"; printf 'need %s\n' "${need[@]}"; } >"$o/.uptodate-patched"
	sleep 0.02
	echo "/* edit */" >>"$t/mm/mremap.c"
	make_n() {
		elapsed_ms env PATH="$bin" SANDBOX_WATCH=0 make -s -n -C "$TOP" O="$o" all KERNEL=patched
	}
	make_n
	expect_grep ">$o/.uptodate-patched.next" "$scratch/out" "the edit starts the build" || return
	# make -n prints what it would run: no check at all (make source's
	# included), and none that ran.
	if grep -q 'flex\|preflight\.sh' "$scratch/out"; then
		sed 's/^/# /' "$scratch/out"
		fail "the preflight check ran, or would run, for a rebuild"
		return
	fi
	rm "$o/kernel/patched/linux"
	make_n
	[[ $rc -ne 0 ]] || fail "make all without flex and without a kernel succeeded" || return
	expect_grep 'flex +\(package flex\)' "$scratch/out" "a missing kernel: the check names flex"
}

# GDB is checked by the GDB entry point: --gdb on a machine without gdb.
test_gdb_entry_without_gdb() {
	local bin
	bin="$(standin_path nogdb gdb)"
	elapsed_ms env PATH="$bin" "$PREFLIGHT" gdb
	expect_status 78 "$rc" "preflight gdb without gdb" || return
	expect_grep '^  gdb +\(package gdb\): not on PATH$' "$scratch/out" "names gdb" || return
	elapsed_ms env PATH="$bin" "$TOP/scripts/gdb/gdb-uml.sh" --no-build -- true
	sed 's/^/# /' "$scratch/out"
	expect_status 78 "$rc" "gdb-uml.sh without gdb" || return
	expect_grep 'package gdb' "$scratch/out" "gdb-uml.sh names gdb"
}

# A header or a library is checked by its path: the message names the file.
test_missing_header_is_named() {
	local -r list="$scratch/header.list"
	printf 'libelf-dev build %s\n' "$scratch/no/libelf.h" >"$list"
	elapsed_ms env SANDBOX_PACKAGES_LIST="$list" "$PREFLIGHT" build
	expect_status 78 "$rc" "preflight without the header" || return
	expect_grep "no/libelf.h +\(package libelf-dev\): no such file" "$scratch/out" "names the file"
}

# An optional helper missing is one hint line, not a failure.
test_optional_is_a_hint() {
	local bin
	bin="$(standin_path noccache ccache)"
	elapsed_ms env PATH="$bin" "$PREFLIGHT" build
	expect_status 0 "$rc" "preflight without ccache" || return
	expect_grep '^preflight.sh: hint: ccache \(package ccache\) is not installed' "$scratch/out" "a hint" || return
	[[ "$(wc -l <"$scratch/out")" -eq 1 ]] || fail "more than the one hint line"
}

# On this machine (everything installed, as .ci/run does): silent, and fast.
test_real_machine_is_silent() {
	elapsed_ms "$PREFLIGHT" check
	expect_status 0 "$rc" "preflight check here" || return
	if grep -v ': hint: ' "$scratch/out" | grep -q .; then
		sed 's/^/# /' "$scratch/out"
		fail "preflight printed more than hints"
		return
	fi
	diag "preflight check took $ms ms (make bench measures it)"
}

# The README's install line is the list, word for word.
test_readme_line_is_the_list() {
	local line want
	line="$(grep -m 1 '^apt-get update && apt-get install -y --no-install-recommends ' "$TOP/README.md" || true)"
	[[ -n "$line" ]] || fail "no install line in README.md" || return
	want="$("$PREFLIGHT" --packages all)"
	diag "README: ${line##*--no-install-recommends }"
	diag "list:   $want"
	[[ "${line##*--no-install-recommends }" == "$want" ]] ||
		fail "the README's install line is not scripts/packages.list: update it to: apt-get update && apt-get install -y --no-install-recommends $want"
}

# .ci/run installs exactly the list, and names no package of its own.
test_ci_installs_the_list() {
	local got want
	got="$("$TOP/.ci/run" --packages)"
	want="$("$PREFLIGHT" --packages all)"
	[[ "$got" == "$want" ]] || fail ".ci/run installs '$got', the list is '$want'" || return
	if grep 'apt-get install -y' "$TOP/.ci/run" | grep -qv '"${PACKAGES\[@\]}"'; then
		fail ".ci/run has an apt-get install of its own"
	fi
}

# Bad input: an unknown need is a usage error that lists the needs.
test_unknown_need() {
	elapsed_ms "$PREFLIGHT" bogus
	expect_status 64 "$rc" "preflight bogus" || return
	expect_grep "'bogus' is not a need: build, gdb, lint, check, coverage or all" "$scratch/out" "says which"
}

ktap_run_all preflight "${1:-}"
