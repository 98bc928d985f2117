#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What make all rebuilds: kernel.sh's build, the staged root, the linker's file, the stamp's watch list.
#
# Usage: tests/host/test_rebuild.sh [PATTERN]   (runs the test_* functions matching it)
# Builds build/host/stale with make (BUILD names another build/); prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-rebuild-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# kernel.sh build runs kbuild after any edit in the source tree, new files
# and old mtimes included, and never when nothing changed: a stand-in
# tree whose Makefile counts the builds.
test_kernel_rebuilt_exactly_when_stale() {
	local -r src="$scratch/ksrc" kdir="$scratch/kdir" b="$scratch/kbuild"
	local n
	mkdir -p "$src/arch/um" "$src/mm" "$kdir" "$b/host"
	cp "$STALE" "$b/host/stale"
	# shellcheck disable=SC2016 # make's variables, for the stand-in Makefile
	printf 'all:\n\techo built >>$(O)/builds\n\tprintf "#!/bin/sh\\n" >$(O)/linux\n\tchmod +x $(O)/linux\n' \
		>"$src/Makefile"
	echo "int x;" >"$src/mm/mremap.c"
	# Configured already, with the linker the build uses (kernel.sh
	# reconfigures for another one).
	touch "$kdir/.config"
	echo "${SANDBOX_LD:-ld.lld}" >"$kdir/.sandbox-ld"
	kbuild() {
		SRC="$src" KDIR="$kdir" BUILD="$b" "$TOP/scripts/build/kernel.sh" build >/dev/null
		n="$(wc -l <"$kdir/builds")"
	}
	kbuild
	expect_status 1 "$n" "builds after the first build" || return
	kbuild
	expect_status 1 "$n" "builds after an unchanged tree" || return
	for change in "echo '/* x */' >>mm/mremap.c" "echo 'int y;' >mm/new.c" \
		"echo 'int z;' >mm/mremap.c; touch -d 2000-01-01 mm/mremap.c" \
		"rm mm/new.c"; do
		local want=$((n + 1))
		sleep 0.02
		(cd "$src" && eval "$change")
		kbuild
		expect_status "$want" "$n" "builds after: $change" || return
		kbuild
		expect_status "$want" "$n" "builds after: $change, then nothing" || return
	done
}

# Staging the guest root copies what changed and leaves the rest alone.
test_rootfs_restaged_exactly() {
	local -r root="$scratch/root" tests="$scratch/tests-out"
	local before after
	[[ -x "$TOP/build/rootfs/bin/busybox" ]] || skip "no staged root yet (make rootfs)" || return
	mkdir -p "$root/bin" "$tests/sandbox"
	cp "$TOP/build/rootfs/bin/busybox" "$root/bin/"
	echo one >"$tests/sandbox/a"
	echo two >"$tests/sandbox/b"
	"$TOP/scripts/build/stage-rootfs.sh" "$root" "$tests" >/dev/null
	before="$(stat -c '%n %i %y' "$root"/tests/sandbox/* "$root/init")"
	"$TOP/scripts/build/stage-rootfs.sh" "$root" "$tests" >/dev/null
	after="$(stat -c '%n %i %y' "$root"/tests/sandbox/* "$root/init")"
	[[ "$before" == "$after" ]] || fail "an unchanged stage rewrote files" || return
	sleep 0.02
	echo three >"$tests/sandbox/b"
	"$TOP/scripts/build/stage-rootfs.sh" "$root" "$tests" >/dev/null
	[[ "$(cat "$root/tests/sandbox/b")" == three ]] || fail "a changed test was not restaged" || return
	diag "changed test restaged, unchanged files kept"
}

# make all runs the build only when its stamp says so: not for an unchanged
# tree, and for an edit or a missing product.  A stand-in build directory
# whose stamp watches a scratch tree; make -n shows what would run.
# SANDBOX_LD is no file: make writes it to BUILD/.ld-KERNEL, only when it
# changes, and the stamp watches that file.
test_linker_choice_is_watched() {
	local -r o="$scratch/ld"
	local before
	mkdir -p "$o"
	make -s -n -C "$TOP" O="$o" build-all KERNEL=patched >"$scratch/ld.out" 2>&1 || true
	[[ "$(cat "$o/.ld-patched" 2>/dev/null)" == ld.lld ]] ||
		fail "no $o/.ld-patched holding ld.lld after make: $(cat "$o/.ld-patched" 2>&1)" || return
	expect_grep "watch %s.*$o/.ld-patched" "$scratch/ld.out" "the stamp watches the linker's file" ||
		return
	before="$(stat -c %Y.%y "$o/.ld-patched")"
	sleep 0.02
	make -s -n -C "$TOP" O="$o" build-all KERNEL=patched >/dev/null 2>&1 || true
	[[ "$(stat -c %Y.%y "$o/.ld-patched")" == "$before" ]] ||
		fail "make rewrote $o/.ld-patched with the same linker: every stamp would be stale" ||
		return
	SANDBOX_LD=ld make -s -n -C "$TOP" O="$o" build-all KERNEL=patched >/dev/null 2>&1 || true
	[[ "$(cat "$o/.ld-patched")" == ld && "$(stat -c %Y.%y "$o/.ld-patched")" != "$before" ]] ||
		fail "SANDBOX_LD=ld left $o/.ld-patched as it was: $(cat "$o/.ld-patched")" || return
	diag "ld.lld, then the same (file untouched), then SANDBOX_LD=ld (rewritten)"
}

test_make_all_builds_only_when_stale() {
	local -r o="$scratch/mk" t="$scratch/mk-tree"
	local p
	mkdir -p "$o/host" "$t/mm"
	cp "$STALE" "$o/host/stale"
	echo "int x;" >"$t/mm/mremap.c"
	for p in kernel/patched/linux rootfs/init rootfs/bin/busybox; do
		mkdir -p "$(dirname "$o/$p")"
		touch "$o/$p"
	done
	sleep 0.02
	{ echo "watch $t"; echo "need $o/kernel/patched/linux"; } >"$o/.uptodate-patched"
	sleep 0.02
	make_n() {
		make -s -n -C "$TOP" O="$o" all KERNEL=patched >"$scratch/mk.out" 2>&1 || true
	}
	make_n
	if grep -q ">$o/.uptodate-patched.next" "$scratch/mk.out"; then
		fail "an unchanged tree would be built: $(tail -n 3 "$scratch/mk.out")"
		return
	fi
	diag "unchanged tree: no build"
	# Up to date, make all (its check) leaves a watcher, and a caller that
	# reads make's output to its end does not wait for that watcher.
	{ echo "watch $t"; echo "need $o/kernel/patched/linux"; } >"$o/.uptodate-patched"
	sleep 0.02
	if "$o/host/stale" -w "$o/.uptodate-patched"; then
		fail "the stand-in tree is stale: make all would build"
		return
	fi
	local t0=$EPOCHREALTIME t1
	make -s -C "$TOP" O="$o" all KERNEL=patched 2>&1 | timeout 10 cat >"$scratch/mk.out" || true
	t1=$EPOCHREALTIME
	diag "make all | cat, up to date: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s"
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 5) }' ||
		fail "make all | cat waited for the watcher" || return
	wait_watcher "$o/.uptodate-patched" || return
	echo "/* edit */" >>"$t/mm/mremap.c"
	make_n
	expect_grep ">$o/.uptodate-patched.next" "$scratch/mk.out" "an edit starts the build" ||
		return
	{ echo "watch $t"; echo "need $o/kernel/patched/linux"; } >"$o/.uptodate-patched"
	rm "$o/kernel/patched/linux"
	make_n
	expect_grep ">$o/.uptodate-patched.next" "$scratch/mk.out" "a missing kernel starts the build"
}

# make all's watch list is what the build reads: an edit to a developer
# tool (bench, lint, GDB), a host test or a mutant leaves the kernel up to
# date, an edit to what builds or runs the guest does not.  On a copy of
# the sandbox's own files, with make's own list.
test_watch_list_is_what_the_build_reads() {
	local -r o="$scratch/wl" t="$scratch/wl-tree"
	local f got
	local -a watch
	rm -rf "$o" "$t"
	mkdir -p "$o/host" "$t/linux"
	cp -r "$TOP/Makefile" "$TOP/config" "$TOP/patches" "$TOP/scripts" "$TOP/tests" \
		"$TOP/rootfs" "$t/"
	cp "$STALE" "$o/host/stale"
	read -ra watch <<<"$(make -s -C "$t" O="$o" KERNEL=patched \
		--eval 'sandbox-watch: ; @echo $(UPTODATE_WATCH)' sandbox-watch)"
	[[ ${#watch[@]} -gt 0 ]] || fail "make gave no watch list" || return
	touch "$o/need"
	# Make wrote host/.cflags, which the list watches, a moment ago:
	# the stamps below are newer by more than a clock tick.
	sleep 0.02
	for f in scripts/dev/bench.sh scripts/gdb/gdb-uml.sh tests/host/lib.sh \
		tests/mutants/a-no-vma-start-check.patch \
		scripts/build/kernel.sh scripts/run/uml-launch.c scripts/report/ktap-report.c \
		scripts/lib.sh tests/guest/run_tests.c rootfs/init.c config/sandbox.config; do
		{ printf 'watch %s\n' "${watch[@]}"; echo "need $o/need"; } >"$o/stamp"
		sleep 0.02
		touch "$t/$f"
		got=0
		"$o/host/stale" -w "$o/stamp" || got=$?
		case "$f:$got" in
		scripts/dev/*:1 | scripts/gdb/*:1 | tests/host/*:1 | tests/mutants/*:1)
			diag "$f edited: up to date" ;;
		scripts/dev/* | scripts/gdb/* | tests/host/* | tests/mutants/*)
			fail "an edit of $f makes make all stale (stale said $got)"
			return ;;
		*:0) diag "$f edited: stale" ;;
		*) fail "an edit of $f leaves make all up to date (stale said $got)"
			return ;;
		esac
	done
}

main() {
	# Made once, before the tests: they ask it hundreds of times.
	host_tool stale >&2 || exit 1
	readonly STALE="$REPLY"
	ktap_run_all test_rebuild "${1:-}"
}

main "$@"
