#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host faults injected into the tooling: each leaves a state the next run recovers from.
#
# Usage: tests/host/faults.sh [PATTERN]   (runs the test_* functions matching it)
#
# UML killed with SIGKILL, Ctrl-C during the import and during git am, a
# corrupt or truncated package, a full disk, two runs at once.  linux-tree.sh
# runs on small stand-ins (a fake source package, a fake linux/), with
# apt-get stubbed: nothing is downloaded.  Prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly RUN="$TOP/run-uml.sh"
readonly TREE="$TOP/scripts/source/linux-tree.sh"
readonly HERE="$TOP/tests/host/faults.sh"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"


# --- stand-ins ---------------------------------------------------------------------
# make_fake_package and make_stubs: tests/host/fake.sh.
# shellcheck source=tests/host/fake.sh
source "$TOP/tests/host/fake.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-faults.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# setup_import NAME: $fake holds the package, patches/ and an empty dl/ and
# no linux/ yet.
setup_import() {
	fake="$scratch/$1"
	make_fake_package "$fake"
	make_stubs "$fake/bin"
	mkdir -p "$fake/dl"
}

# tree ARGS...: linux-tree.sh on the stand-in, stubs first in PATH.  With
# TREE_EXEC=1 it replaces the shell (see interrupt_tree).
tree() {
	PATH="$fake/bin:$PATH" FAKE_DEB="$fake/good.deb" FAKE_PAUSED="$fake/paused" \
		LINUX="$fake/linux" PATCHES="$fake/patches" DL="$fake/dl" \
		LINUX_DEB_VERSION="$FAKE_VERSION" ${TREE_EXEC:+exec} "$TREE" "$@"
}

# interrupt_tree SIGNAL OUT ARGS...: run tree ARGS in its own process group,
# wait until a stub pauses, send SIGNAL to the group (as Ctrl-C does), and
# return linux-tree.sh's exit status once nothing of the group is left.
# linux-tree.sh is the group's leader itself (exec): a wrapper shell would
# die of SIGTERM at once and report 143 while linux-tree.sh still cleans up.
interrupt_tree() {
	local -r sig="$1" out="$2"
	shift 2
	local pid rc=0 i
	rm -f "$fake/paused" "$fake/paused.count"
	# Job control: its own process group, and SIGINT not ignored (a
	# script's background jobs ignore it, and bash cannot trap it then;
	# nor when this test itself started with it ignored, as a background
	# job of another script: env resets it).
	set -m
	TREE_EXEC=1 env --default-signal=INT bash -c "$(declare -f tree); fake='$fake' FAKE_VERSION='$FAKE_VERSION' TREE='$TREE'; tree $*" \
		>"$out" 2>&1 &
	pid=$!
	set +m
	for ((i = 0; i < 300; i++)); do
		[[ -e "$fake/paused" ]] && break
		sleep 0.05
	done
	[[ -e "$fake/paused" ]] || { kill -KILL -- "-$pid" 2>/dev/null; fail "the stub never paused"; return 1; }
	kill "-$sig" -- "-$pid"
	wait "$pid" || rc=$?
	for ((i = 0; i < 100; i++)); do
		kill -0 -- "-$pid" 2>/dev/null || return "$rc"
		sleep 0.05
	done
	kill -KILL -- "-$pid" 2>/dev/null
	fail "processes of the interrupted run were still there 5 s after it exited"
	return 1
}

# tree_state: what must survive an interrupted run, byte for byte.
tree_state() {
	git -C "$fake/linux" rev-parse HEAD
	git -C "$fake/linux" status --porcelain --untracked-files=all
	git -C "$fake/linux" worktree list --porcelain | grep -c '^worktree'
	sha256sum "$fake/linux/mm/mremap.c"
}

# --- run-uml.sh -----------------------------------------------------------------

# start_ready_guest NAME TAG TMPD TIMEOUT: run-uml.sh in the background
# (TMPDIR=TMPD, -t TIMEOUT, tagged TAG on the kernel command line) with a
# command that says READY and sleeps; its pid in guest_pid once READY is
# in $scratch/NAME.out (its stderr: NAME.err).  False if it never came.
start_ready_guest() {
	local -r name="$1" tag="$2" tmpd="$3" limit="$4"
	local i
	mkdir -p "$tmpd"
	TMPDIR="$tmpd" "$RUN" --no-build -t "$limit" -a "sandbox.tag=$tag" -- \
		sh -c 'echo READY; sleep 600' >"$scratch/$name.out" 2>"$scratch/$name.err" </dev/null &
	guest_pid=$!
	for ((i = 0; i < 600; i++)); do
		grep -q READY "$scratch/$name.out" 2>/dev/null && return 0
		sleep 0.05
	done
	fail "the guest command never started"
}

# expect_run_left_nothing TAG TMPD: no process of the guest tagged TAG
# left after the run (expect_nothing_left, tests/host/lib.sh) and
# nothing in TMPD.
expect_run_left_nothing() {
	expect_nothing_left "$1" "the run" || return
	[[ -z "$(ls -A "$2")" ]] || fail "temp files left: $(ls -A "$2")"
}

# The kernel killed with SIGKILL mid-run: run-uml.sh says so and exits 122
# (not the command's status, not a timeout), leaves no process and no temp
# file, and the next run works.
test_uml_sigkill_reported() {
	local -r tag="sigkill-$$-$RANDOM" tmpd="$scratch/tmp-kill"
	local rc=0 kpid guest_pid
	start_ready_guest kill "$tag" "$tmpd" 120 || return
	# The kernel's main process: the "linux" whose parent is run-uml.sh's
	# launcher (scripts/run/uml-launch.c).
	kpid="$(pgrep -P "$(pgrep -P "$guest_pid" -x uml-launch | head -n 1)" -x linux |
		head -n 1 || true)"
	[[ -n "$kpid" ]] || fail "no kernel process under run-uml.sh's launcher" || return
	diag "kill -KILL $kpid ($(ps -o args= -p "$kpid" | cut -c1-40)...)"
	kill -KILL "$kpid"
	wait "$guest_pid" || rc=$?
	expect_status 122 "$rc" "kernel killed with SIGKILL" || return
	expect_grep 'died of SIGKILL on the host' "$scratch/kill.err" "says what happened" || return
	expect_run_left_nothing "$tag" "$tmpd" || return
	rc=0
	run_guest next -t 60 -- true || rc=$?
	expect_status 0 "$rc" "the next run"
}

# The launcher (scripts/run/uml-launch.c) killed with SIGKILL mid-run, as the
# host's OOM killer would: run-uml.sh says so and exits 122, stops the
# guest (the launcher left its group's id) and leaves no temp file.
test_launcher_sigkill_stops_guest() {
	local -r tag="launchkill-$$-$RANDOM" tmpd="$scratch/tmp-launch"
	local rc=0 lpid guest_pid
	start_ready_guest launch "$tag" "$tmpd" 120 || return
	lpid="$(pgrep -P "$guest_pid" -x uml-launch | head -n 1 || true)"
	[[ -n "$lpid" ]] || fail "no launcher under run-uml.sh" || return
	kill -KILL "$lpid"
	wait "$guest_pid" || rc=$?
	expect_status 122 "$rc" "launcher killed with SIGKILL" || return
	expect_grep 'uml-launch.c died of SIGKILL on the host; its guest was stopped' \
		"$scratch/launch.err" "says what happened" || return
	expect_run_left_nothing "$tag" "$tmpd"
}

# run-uml.sh itself killed with SIGKILL (it cannot clean up): its launcher
# stops the guest within seconds, even with no timeout, and removes the
# temp files.
test_wrapper_sigkill_stops_guest() {
	local -r tag="wrapkill-$$-$RANDOM" tmpd="$scratch/tmp-wrap"
	local i guest_pid
	start_ready_guest wrap "$tag" "$tmpd" 0 || return
	kill -KILL "$guest_pid"
	wait "$guest_pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		pgrep -f "sandbox.tag=$tag" >/dev/null || break
		sleep 0.1
	done
	if pgrep -f "sandbox.tag=$tag" >/dev/null; then
		fail "the guest outlived run-uml.sh by 10 s: $(pgrep -af "sandbox.tag=$tag" | head -n 2 | cut -c1-60)"
		# shellcheck disable=SC2046 # one pid a word
		kill -KILL $(pgrep -f "sandbox.tag=$tag") 2>/dev/null || true
		return 1
	fi
	diag "guest gone $((i / 10)).$((i % 10)) s after run-uml.sh was killed"
	[[ -z "$(ls -A "$tmpd")" ]] || fail "temp files left: $(ls -A "$tmpd")"
}

# --- linux-tree.sh: import -----------------------------------------------------------

# Ctrl-C while the source unpacks: exit 130, no linux/, no half import left,
# the package kept (it is not corrupt); the next run imports and applies.
test_interrupt_during_extraction() {
	local rc=0
	setup_import extract
	FAKE_PAUSE_TAR=1 interrupt_tree INT "$scratch/extract.out" prepare || rc=$?
	expect_status 130 "$rc" "Ctrl-C during the unpack" || return
	expect_grep 'interrupted \(SIGINT\): linux/ is as it was' "$scratch/extract.out" "message" || return
	[[ ! -e "$fake/linux" && ! -e "$fake/linux.importing" ]] ||
		fail "left: $(ls -d "$fake"/linux* 2>/dev/null)" || return
	[[ -f "$fake/dl/linux-source-6.1_${FAKE_VERSION}_all.deb" ]] ||
		fail "the package was discarded: $(ls "$fake/dl")" || return
	FAKE_OFFLINE=1 tree prepare >"$scratch/extract2.out" 2>&1 ||
		fail "the next prepare failed: $(tail -n 3 "$scratch/extract2.out")" || return
	expect_grep 'APPLY +2 patches' "$scratch/extract2.out" "next run imports and applies" || return
	grep -q 'line four' "$fake/linux/mm/mremap.c" || fail "patches not applied"
}

# Ctrl-C in the git am of the first apply, right after the import: the next
# run applies (the imported tree is not mistaken for the user's work).
test_interrupt_first_apply() {
	local rc=0
	setup_import first
	FAKE_PAUSE_GIT_AM=2 interrupt_tree INT "$scratch/first.out" prepare || rc=$?
	expect_status 130 "$rc" "Ctrl-C during the first git am" || return
	[[ ! -e "$fake/linux.applying" ]] || fail "linux.applying left behind" || return
	[[ -z "$(git -C "$fake/linux" status --porcelain)" ]] || fail "linux/ is not clean" || return
	rc=0
	tree prepare >"$scratch/first2.out" 2>&1 || rc=$?
	expect_status 0 "$rc" "the next prepare" || return
	grep -q 'line four' "$fake/linux/mm/mremap.c" || fail "patches not applied"
}

# Ctrl-C or SIGTERM during git am of a re-apply: linux/ unchanged (HEAD,
# files, status, worktrees), the user's committed work and state intact; the
# next run re-applies.
test_interrupt_during_git_am() {
	local sig want before rc
	setup_import am
	tree prepare >/dev/null 2>&1 || fail "first prepare failed" || return
	for sig in INT:130 TERM:143; do
		want="${sig#*:}"
		sig="${sig%:*}"
		sed -i "s/^\(Subject: .*spell\) .*/\1 4 $sig/" "$fake/patches/"0002-*.patch
		before="$(tree_state)"
		rc=0
		FAKE_PAUSE_GIT_AM=2 interrupt_tree "$sig" "$scratch/am.out" prepare || rc=$?
		expect_status "$want" "$rc" "SIG$sig during git am" || return
		[[ "$(tree_state)" == "$before" ]] ||
			fail "linux/ changed: $(diff <(echo "$before") <(tree_state) | tr '\n' ' ')" || return
		[[ ! -e "$fake/linux.applying" ]] || fail "linux.applying left behind" || return
		rc=0
		tree prepare >"$scratch/am2.out" 2>&1 || rc=$?
		expect_status 0 "$rc" "the next prepare" || return
		expect_grep "spell 4 $sig" <(git -C "$fake/linux" log -1 --format=%s) "re-applied" || return
	done
}

# A package that is not one (garbage) or is cut short: exit 67, moved to
# .corrupt, nothing imported; the next run downloads it afresh and works.
test_corrupt_package_recovers() {
	local how rc deb
	for how in garbage truncated; do
		setup_import "corrupt-$how"
		deb="$fake/dl/linux-source-6.1_${FAKE_VERSION}_all.deb"
		if [[ "$how" == garbage ]]; then
			head -c 4096 /dev/urandom >"$deb"
		else
			head -c "$(($(stat -c %s "$fake/good.deb") * 2 / 3))" "$fake/good.deb" >"$deb"
		fi
		rc=0
		tree prepare >"$scratch/corrupt.out" 2>&1 || rc=$?
		expect_status 67 "$rc" "$how package" || return
		expect_grep 'corrupt \(moved to .corrupt\)|did not unpack \(moved to .corrupt\)' \
			"$scratch/corrupt.out" "$how: says so" || return
		expect_grep 'run the command again' "$scratch/corrupt.out" "$how: says what to do" || return
		[[ -f "$deb.corrupt" && ! -e "$deb" && ! -e "$fake/linux" ]] ||
			fail "$how: dl/ and linux/ are $(ls "$fake/dl") $(ls -d "$fake/linux" 2>/dev/null)" || return
		rc=0
		tree prepare >"$scratch/corrupt2.out" 2>&1 || rc=$?
		expect_status 0 "$rc" "$how: the next prepare" || return
		grep -q 'line four' "$fake/linux/mm/mremap.c" || fail "$how: not applied" || return
	done
}

# --- full disk ------------------------------------------------------------------------
# A small tmpfs in a private mount namespace (unshare -rm: no root needed).

# in_small_fs MB FUNC: run this script's FUNC with $fs a fresh tmpfs of MB.
in_small_fs() {
	unshare -rm true 2>/dev/null || skip "no user namespaces here (unshare -rm)" || return
	unshare -rm bash "$HERE" --in-small-fs "$1" "$scratch" "$2"
}

# Unpacking the source onto a full disk: exit 73 and "the disk is full",
# the package kept; with space back, the next run imports.
full_disk_import() {
	setup_import nospace
	# linux/ lives on the small file system; so does the build directory.
	mkdir -p "$fs/t"
	mv "$fake/patches" "$fake/bin" "$fs/t/"
	fake_patches="$fs/t/patches"
	head -c "$fs_free" /dev/zero >"$fs/filler" 2>/dev/null || true
	cp "$fake/good.deb" "$fake/dl/linux-source-6.1_${FAKE_VERSION}_all.deb"
	local rc=0
	PATH="$fs/t/bin:$PATH" FAKE_DEB="$fake/good.deb" LINUX="$fs/t/linux" \
		PATCHES="$fake_patches" DL="$fake/dl" BUILD="$fs/t" LINUX_DEB_VERSION="$FAKE_VERSION" \
		"$TREE" prepare >"$scratch/nospace.out" 2>&1 || rc=$?
	expect_status 73 "$rc" "import onto a full disk" || return
	expect_grep 'the disk is full' "$scratch/nospace.out" "says the disk is full" || return
	[[ -f "$fake/dl/linux-source-6.1_${FAKE_VERSION}_all.deb" ]] || fail "the package was discarded" || return
	[[ ! -e "$fs/t/linux" && ! -e "$fs/t/linux.importing" ]] || fail "a half import is left" || return
	rm -f "$fs/filler"
	rc=0
	PATH="$fs/t/bin:$PATH" FAKE_DEB="$fake/good.deb" LINUX="$fs/t/linux" \
		PATCHES="$fake_patches" DL="$fake/dl" BUILD="$fs/t" LINUX_DEB_VERSION="$FAKE_VERSION" \
		"$TREE" prepare >"$scratch/nospace2.out" 2>&1 || rc=$?
	expect_status 0 "$rc" "the next prepare with space back" || return
	grep -q 'line four' "$fs/t/linux/mm/mremap.c" || fail "not applied"
}

# A kernel build that fills the disk (a stand-in tree whose build writes
# 2 MB): exit 73 and "the disk is full"; with space back, it builds.
full_disk_build() {
	local -r src="$scratch/ksrc" kdir="$fs/kdir" b="$fs/build"
	mkdir -p "$src/arch/um" "$src/mm" "$kdir" "$b/host"
	# shellcheck disable=SC2016 # make's variables, for the stand-in Makefile
	printf 'all:\n\thead -c 2M /dev/zero >$(O)/vmlinux.o\n\tprintf "#!/bin/sh\\n" >$(O)/linux\n\tchmod +x $(O)/linux\n' \
		>"$src/Makefile"
	echo "int x;" >"$src/mm/mremap.c"
	# Configured already, with the linker the build uses.
	touch "$kdir/.config"
	echo "${SANDBOX_LD:-ld.lld}" >"$kdir/.sandbox-ld"
	head -c "$((fs_free - 1024 * 1024))" /dev/zero >"$fs/filler" 2>/dev/null || true
	local rc=0
	SRC="$src" KDIR="$kdir" BUILD="$b" "$TOP/scripts/build/kernel.sh" build >"$scratch/kfull.out" 2>&1 || rc=$?
	expect_status 73 "$rc" "kernel build onto a full disk" || return
	expect_grep 'No space left on device' "$scratch/kfull.out" "the tool's own error" || return
	expect_grep 'the disk is full: [0-9]+ KB free' "$scratch/kfull.out" "says the disk is full" || return
	expect_grep 'free some space' "$scratch/kfull.out" "says what to do" || return
	rm -f "$fs/filler"
	rc=0
	SRC="$src" KDIR="$kdir" BUILD="$b" "$TOP/scripts/build/kernel.sh" build >"$scratch/kfull2.out" 2>&1 || rc=$?
	expect_status 0 "$rc" "the build with space back" || return
	[[ "$(stat -c %s "$kdir/vmlinux.o")" -eq $((2 * 1024 * 1024)) ]] || fail "vmlinux.o is truncated"
}

test_full_disk_import() {
	in_small_fs 16 full_disk_import
}

test_full_disk_build() {
	in_small_fs 16 full_disk_build
}

# --- two runs at once ------------------------------------------------------------------

# Two prepares of one tree at once (a slow git am): the second waits and
# says so, both succeed, patches/ applied once and linux/ as it should be.
test_two_prepares_take_turns() {
	local p1 p2 rc1=0 rc2=0
	setup_import twice
	tree prepare >/dev/null 2>&1 || fail "first prepare failed" || return
	sed -i 's/spell four/spell 4/' "$fake/patches/"0002-*.patch
	rm -f "$fake/paused" "$fake/paused.count"
	# The first pauses 1 s in its git am; the second starts meanwhile.
	cat >"$fake/bin/git-slow" <<-'EOF'
		#!/bin/bash
		[[ " $* " == *" am "* ]] && sleep 1
		exec /usr/bin/git "$@"
	EOF
	chmod +x "$fake/bin/git-slow"
	mv "$fake/bin/git-slow" "$fake/bin/git"
	tree prepare >"$scratch/t1.out" 2>&1 &
	p1=$!
	sleep 0.3
	tree prepare >"$scratch/t2.out" 2>&1 &
	p2=$!
	wait "$p1" || rc1=$?
	wait "$p2" || rc2=$?
	expect_status 0 "$rc1" "first prepare" || return
	expect_status 0 "$rc2" "second prepare" || return
	expect_grep 'another make is working in .*: waiting' "$scratch/t2.out" "the second waited" || return
	[[ "$(cat "$scratch/t1.out" "$scratch/t2.out" | grep -c REAPPLY)" -eq 1 ]] ||
		fail "re-applied $(cat "$scratch/t1.out" "$scratch/t2.out" | grep -c REAPPLY) times" || return
	[[ -z "$(git -C "$fake/linux" status --porcelain)" ]] || fail "linux/ is not clean" || return
	expect_grep 'spell 4' <(git -C "$fake/linux" log -1 --format=%s) "applied"
}

# make all's lock (scripts/build/with-lock.sh): a second build waits with a
# message; a daemon the build leaves does not keep the lock; on SIGINT the
# lock is held until the command has finished cleaning up.
test_build_lock() {
	local -r d="$scratch/lockdir" lock="$TOP/scripts/build/with-lock.sh"
	local rc=0 start end p
	mkdir -p "$d"
	flock "$d" sleep 1.5 &
	p=$!
	sleep 0.2
	start=$(date +%s%N)
	"$lock" "$d" true 2>"$scratch/lock.err" || rc=$?
	end=$(date +%s%N)
	wait "$p"
	expect_status 0 "$rc" "the waiting command" || return
	expect_grep 'waiting for it to finish' "$scratch/lock.err" "says it waits" || return
	[[ $(((end - start) / 1000000)) -ge 1000 ]] || fail "did not wait ($(((end - start) / 1000000)) ms)" || return
	# A daemon left by the command.
	"$lock" "$d" sh -c "sleep 30 >/dev/null 2>&1 & echo \$! >'$d/daemon'"
	rc=0
	flock -n "$d" true || rc=$?
	kill "$(cat "$d/daemon")" 2>/dev/null || true
	[[ $rc -eq 0 ]] || fail "a daemon of the build holds the lock" || return
	# SIGINT to the group: the lock outlives the command's 1 s clean-up.
	set -m
	env --default-signal=INT "$lock" "$d" bash -c 'trap "sleep 1; exit 130" INT; sleep 30 & wait' &
	p=$!
	set +m
	sleep 0.3
	kill -INT -- "-$p"
	sleep 0.3
	if flock -n "$d" true; then
		fail "the lock was released before the command finished"
		return
	fi
	rc=0
	wait "$p" || rc=$?
	expect_status 130 "$rc" "interrupted command's status" || return
	flock -n "$d" true || fail "the lock is still held after the command ended"
}

# Two make all at once on this tree, with something to do (rootfs/init.c
# touched): the second waits and says so, both succeed, and the result
# is up to date and boots.  Skipped when the tree needs a kernel build.
test_two_makes_take_turns() {
	local -r stamp="$TOP/build/.uptodate-patched" stale="$TOP/build/host/stale"
	local p1 p2 holder rc1=0 rc2=0 rc=0
	[[ -x "$stale" && -f "$stamp" ]] || skip "not built yet (make all)" || return
	"$stale" "$stamp" >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 1 ]] || skip "the tree changed since the last make all: would build a kernel" || return
	touch "$TOP/rootfs/init.c"
	# The test holds build/'s lock while both start, as a third make
	# would: how long a make holds it is no race of the test's then.
	flock "$TOP/build" sleep 1 &
	holder=$!
	sleep 0.1
	make -s -C "$TOP" all >"$scratch/m1.out" 2>&1 </dev/null &
	p1=$!
	make -s -C "$TOP" all >"$scratch/m2.out" 2>&1 </dev/null &
	p2=$!
	wait "$holder" || true
	wait "$p1" || rc1=$?
	wait "$p2" || rc2=$?
	expect_status 0 "$rc1" "first make all" || return
	expect_status 0 "$rc2" "second make all" || return
	expect_grep 'another make is working in .*: waiting' "$scratch/m1.out" "the first waited" || return
	expect_grep 'another make is working in .*: waiting' "$scratch/m2.out" "the second waited" || return
	rc=0
	"$stale" "$stamp" >/dev/null 2>&1 || rc=$?
	expect_status 1 "$rc" "up to date afterwards (stale says 1)" || return
	rc=0
	run_guest boot -t 60 -- true || rc=$?
	expect_status 0 "$rc" "a guest boots"
}

# Entered through unshare (in_small_fs): mount the tmpfs and run FUNC.
if [[ "${1:-}" == --in-small-fs ]]; then
	rm -rf "$scratch"
	trap - EXIT
	scratch="$3"
	fs="$scratch/fs-$$"
	mkdir -p "$fs"
	mount -t tmpfs -o "size=$2m" tmpfs "$fs"
	fs_free=$(($(df -Pk "$fs" | awk 'NR == 2 { print $4 }') * 1024))
	rc=0
	"$4" || rc=$?
	umount "$fs" 2>/dev/null || true
	exit "$rc"
fi

ktap_run_all faults "${1:-}"
