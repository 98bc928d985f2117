#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Nothing a guest does changes what later runs trust, fills the host's disk, or outlives its run.
#
# Usage: tests/host/test_readonly_root.sh [PATTERN]   (runs the test_* functions matching it)
# Needs a built kernel and rootfs (make all); prints KTAP.
#
# As guest root, the tests append to /init and /tests/run_tests, write
# into /root, write 50 MB, write until ENOSPC wherever the guest can, and
# remount or mount the root again to write it.  Then the host checks that
# the staged root (build/rootfs) is byte for byte what it was (a manifest
# of every file's path, mode, size, link target and SHA-256), that the next
# boot runs the staged /init, that the host's free space is what it was,
# and that the guest still reported its status.  --share passes files in
# and out, within its bound.  The last test runs
# run-uml.sh in a process group of its own and checks, the moment it
# returns, that nothing of the run is left in that group (a normal exit, a
# timeout and a kernel splat).
#
# RUN (default: this tree's run-uml.sh) and BUILD (default: build/) may
# point at another tree, to show the checks failing on it.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly RUN="${RUN:-$TOP/run-uml.sh}"
readonly BUILD="${BUILD:-$TOP/build}"
readonly ROOTFS="$BUILD/rootfs"
# What the host's free space may differ by after a run: other processes
# (a kernel build, another guest) write on the same disk meanwhile.  The
# exact checks are the staged root's manifest and the run's empty TMPDIR;
# this one catches a leak anywhere else (the tree before leaked 400 MB).
readonly SLACK_KB=$((48 << 10))
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-ro-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export BUILD

# own_tmp_guest NAME ARGS...: run_guest (tests/host/lib.sh) with its own
# empty TMPDIR, so that what the run leaves there shows.
own_tmp_guest() {
	mkdir -p "$scratch/$1.tmp"
	TMPDIR="$scratch/$1.tmp" run_guest "$@"
}

# Every file and link of the staged root: path, mode, size, link target,
# then each file's SHA-256.
manifest() {
	(cd "$ROOTFS" && find . -xdev \( -type f -o -type l -o -type d \) -printf '%p %m %s %l\n' |
		LC_ALL=C sort && find . -xdev -type f -print0 | LC_ALL=C sort -z |
		xargs -0 sha256sum)
}

# Free KB of the file systems a guest could write to: the build
# directory's and the temp directory's (once when they are one).
free_kb() {
	df -Pk -- "$BUILD" "${TMPDIR:-/tmp}" |
		awk 'NR > 1 && !seen[$1]++ { s += $4 } END { print s }'
}

# expect_space_kept BEFORE: the host's free space is BEFORE, within
# SLACK_KB.  A larger drop fails the test unless the disk is busy with
# another process's writes right now (more than SLACK_KB / 8 within a
# second, without a guest): then the comparison says nothing, and the
# exact checks (the manifest, the empty TMPDIR, no process left) stand.
expect_space_kept() {
	local -r before="$1" after="$(free_kb)"
	local again
	diag "free space before and after the run: $((before >> 10)) MB, $((after >> 10)) MB"
	[[ $((before - after)) -ge $SLACK_KB ]] || return 0
	sleep 1
	again="$(free_kb)"
	if [[ $((after - again)) -gt $((SLACK_KB / 8)) || $((again - after)) -gt $((SLACK_KB / 8)) ]]; then
		diag "the host has $(((before - after) >> 10)) MB less free space, but another process" \
			"writes on this disk ($(((after - again) >> 10)) MB in a second): no verdict from it"
		return 0
	fi
	fail "the host has $(((before - after) >> 10)) MB less free space after the run"
}

# expect_root_unchanged BEFORE WHAT: the staged root's manifest is BEFORE.
expect_root_unchanged() {
	manifest >"$scratch/manifest.after"
	if ! cmp -s "$1" "$scratch/manifest.after"; then
		diff "$1" "$scratch/manifest.after" | head -n 20 | sed 's/^/# /'
		fail "$2: the staged root changed"
		return
	fi
	diag "$2: the staged root is byte for byte as staged ($(wc -l <"$1") entries)"
}

# The issue's hostile guest: the next run's root is the staged one,
# nothing of the writes is on the host, the 50 MB went to memory or failed.
test_hostile_writes_do_not_persist() {
	local -r mark="persist-$$-$RANDOM"
	local rc=0 before
	manifest >"$scratch/manifest.before"
	before="$(free_kb)"
	own_tmp_guest hw -t 120 -- sh -c "
		echo '# $mark' >>/init; echo \"init: \$?\"
		echo '# $mark' >>/tests/run_tests; echo \"run_tests: \$?\"
		echo $mark >/root/x; echo \"root: \$?\"
		dd if=/dev/zero of=/root/big bs=1M count=50 2>/dev/null; echo \"dd: \$?\"
		echo \"root fs: \$(stat -f -c %T /root)\"
		exit 3" || rc=$?
	sed 's/^/# guest: /' "$scratch/hw.out"
	expect_status 3 "$rc" "the hostile command's own status" || return
	grep -qx 'init: 0' "$scratch/hw.out" && diag "the guest could append to /init (in memory?)"
	expect_root_unchanged "$scratch/manifest.before" "after the hostile run" || return
	if grep -rqF -- "$mark" "$ROOTFS/init" "$ROOTFS/tests/run_tests" "$ROOTFS/root" \
		"$scratch/hw.tmp" 2>/dev/null; then
		fail "the guest's writes are on the host"
		return
	fi
	[[ -z "$(ls -A "$scratch/hw.tmp")" ]] ||
		fail "the run left files in its TMPDIR: $(ls -A "$scratch/hw.tmp")" || return
	if ! grep -qx 'dd: [1-9][0-9]*' "$scratch/hw.out" &&
		! grep -qx 'root fs: tmpfs' "$scratch/hw.out"; then
		fail "the 50 MB neither failed nor went to memory (/root is not tmpfs)"
		return
	fi
	diag "the 50 MB: $(grep -x 'dd: .*' "$scratch/hw.out"), $(grep -x 'root fs: .*' "$scratch/hw.out")"
	expect_space_kept "$before" || return
	# The next boot runs the staged /init and sees an empty /root.
	rc=0
	own_tmp_guest next -t 60 -- sh -c "
		n=\$(grep -l '$mark' /init /tests/run_tests | wc -l)
		echo \"appended files: \$n, in /root: \$(ls -A /root | wc -l)\"" || rc=$?
	sed 's/^/# next run: /' "$scratch/next.out"
	expect_status 0 "$rc" "the next run" || return
	grep -qx 'appended files: 0, in /root: 0' "$scratch/next.out" ||
		fail "the next run booted the appended files or sees the old /root"
}

# A guest that writes until ENOSPC in every place it can write (at most
# 400 MB each, more than any bound): each write stops early (ENOSPC, or
# EROFS on the root), the run reports its status, and the host's free
# space is what it was.
test_write_until_enospc() {
	local rc=0 before d
	manifest >"$scratch/manifest.before"
	before="$(free_kb)"
	own_tmp_guest fill -t 300 -m 256M -- sh -c '
		for d in /tmp /root /scratch /; do
			# Its messages in memory: the file system is full.
			err=$(dd if=/dev/zero of=$d/fill bs=1M count=400 2>&1 >/dev/null)
			rc=$?
			echo "$d: exit $rc $(echo "$err" | grep -o "No space left on device\|Read-only file system")"
			rm -f $d/fill
		done
		exit 7' || rc=$?
	sed 's/^/# guest: /' "$scratch/fill.out"
	expect_status 7 "$rc" "the run still reports its status" || return
	[[ -z "$(ls -A "$scratch/fill.tmp")" ]] ||
		fail "the run left files in its TMPDIR: $(ls -A "$scratch/fill.tmp")" || return
	for d in /tmp /root /scratch; do
		grep -qx "$d: exit [1-9][0-9]* No space left on device" "$scratch/fill.out" ||
			fail "writing to $d did not end with ENOSPC" || return
	done
	grep -qx "/: exit [1-9][0-9]* Read-only file system" "$scratch/fill.out" ||
		fail "writing to / did not fail with EROFS" || return
	expect_space_kept "$before" || return
	expect_root_unchanged "$scratch/manifest.before" "after writing until ENOSPC"
}

# A guest that prints without end: the console log stops at its bound
# (SANDBOX_LOG_LIMIT), and the run fails with 123: a splat past the cut
# would go unseen.
test_console_flood_is_bounded() {
	local rc=0 log size
	own_tmp_guest flood -t 120 -- sh -c 'dd if=/dev/zero bs=64k count=96 2>/dev/null | tr "\0" x; echo' ||
		rc=$?
	expect_status 0 "$rc" "6 MB of console output under the default bound" || return
	SANDBOX_LOG_LIMIT=2M own_tmp_guest flood2 -t 120 -- sh -c \
		'dd if=/dev/zero bs=64k count=96 2>/dev/null | tr "\0" x; echo; exit 0' || rc=$?
	expect_status 123 "$rc" "6 MB of console output under a 2 MB bound" || return
	expect_grep 'the console passed SANDBOX_LOG_LIMIT \(2M\) and was cut there' "$scratch/flood2.err" \
		"says why" || return
	log="$(sed -n 's/^  log: \([^ ]*\) .*/\1/p' "$scratch/flood2.err" | head -n 1)"
	size="$(stat -c %s "$TOP/$log")"
	diag "the log: $log, $size bytes"
	[[ $size -le $(((2 << 20) + 4096)) ]] || fail "the log holds $size bytes, past the 2 MB bound"
}

# Guest root remounts the root read-write, mounts the tree a second time
# (read-write, then remounted), and mounts the scratch directory's parent:
# none of it can write.
test_remount_cannot_write() {
	local rc=0
	manifest >"$scratch/manifest.before"
	own_tmp_guest rm -t 60 -- sh -c '
		try() { if "$@" 2>/dev/null; then echo "ok: $*"; else echo "refused: $*"; fi; }
		try mount -o remount,rw /
		try touch /remount-test
		try mount -t hostfs none /mnt -o /
		try touch /mnt/second-test
		try mount -o remount,rw /mnt
		try touch /mnt/second-remount-test
		umount /mnt
		try mount -t hostfs none /mnt -o +scratch/..
		try mount -t hostfs none /mnt -o +share
		try touch /scratch/scratch-test
		exit 0' || rc=$?
	sed 's/^/# guest: /' "$scratch/rm.out"
	expect_status 0 "$rc" "the guest's script" || return
	local w
	for w in "touch /remount-test" "touch /mnt/second-test" "touch /mnt/second-remount-test" \
		"mount -t hostfs none /mnt -o +scratch/.." "mount -t hostfs none /mnt -o +share"; do
		grep -qxF "refused: $w" "$scratch/rm.out" || fail "guest root could: $w" || return
	done
	grep -qxF "ok: touch /scratch/scratch-test" "$scratch/rm.out" ||
		fail "the scratch directory is not writable" || return
	expect_root_unchanged "$scratch/manifest.before" "after the remounts"
}

# --share DIR: a file of the host's is read in the guest, one written
# there is the host's afterwards, and what the guest writes there is
# bounded (SANDBOX_WRITE_LIMIT); a directory that is not one is a usage
# error.
test_share_passes_files() {
	local -r share="$scratch/share"
	local rc=0 kb
	mkdir -p "$share"
	echo "from the host" >"$share/in"
	SANDBOX_WRITE_LIMIT=8M own_tmp_guest share -t 120 --share "$share" -- sh -c '
		cat /share/in && echo "from the guest" >/share/out &&
		dd if=/dev/zero of=/share/big bs=1M count=100 2>/dev/null; echo "dd: $?"' ||
		rc=$?
	sed 's/^/# guest: /' "$scratch/share.out"
	expect_status 0 "$rc" "--share" || return
	grep -qx 'from the host' "$scratch/share.out" || fail "the guest did not read /share/in" ||
		return
	[[ "$(cat "$share/out" 2>/dev/null)" == "from the guest" ]] ||
		fail "the guest's /share/out is not on the host" || return
	kb="$(du -sk "$share" | cut -f1)"
	grep -qx 'dd: [1-9][0-9]*' "$scratch/share.out" && [[ $kb -le $((8 << 10)) ]] ||
		fail "100 MB into the share with an 8 MB limit: dd did not fail, or $kb KB there" ||
		return
	diag "in and out through the share; the 100 MB stopped at the limit ($kb KB there)"
	rc=0
	"$RUN" --no-build --share "$scratch/no-such-dir" -- true >/dev/null 2>"$scratch/share-bad.err" ||
		rc=$?
	expect_status 64 "$rc" "--share of a directory that does not exist" || return
	expect_grep 'is not a directory you can write' "$scratch/share-bad.err" "the message"
}

# no_leftovers NAME WANT ARGS...: run-uml.sh ARGS in a new process group
# (setsid), which, the moment it returns, lists every process left in it
# but itself: none may be (the watchdog's sleep, a reader, a zombie).
no_leftovers() {
	local -r name="$1" want="$2" tag="left-$$-$RANDOM"
	shift 2
	local rc=0
	# shellcheck disable=SC2016 # for the probe's shell
	setsid -w bash -c '
		"$@" >/dev/null 2>&1 </dev/null
		rc=$?
		for f in /proc/[0-9]*/stat; do
			{ read -r line <"$f"; } 2>/dev/null || continue
			pid=${f#/proc/}
			pid=${pid%/stat}
			fields=(${line##*) })
			[[ ${fields[2]} == "$$" && $pid != "$$" ]] && echo "left: $pid ${line%% (*} ${line#*(}"
		done
		exit $rc' probe "$RUN" --no-build -a "sandbox.tag=$tag" "$@" >"$scratch/$name.left" ||
		rc=$?
	guest_leftovers "$tag" 1 >>"$scratch/$name.left"
	expect_status "$want" "$rc" "$name" || return
	if [[ -s "$scratch/$name.left" ]]; then
		sed 's/^/# /' "$scratch/$name.left"
		fail "$name: processes of the run are left at its exit"
		return
	fi
	diag "$name: nothing left in its process group, no UML process"
}

# 13.5: a normal exit, a timeout and a kernel splat leave nothing behind.
test_nothing_left_at_exit() {
	no_leftovers "normal exit" 0 -t 60 -- true || return
	no_leftovers "timeout" 124 -t 2 -- sleep 60 || return
	no_leftovers "splat" 121 -t 60 -- \
		sh -c 'echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT'
}

main() {
	[[ -x "$ROOTFS/init" ]] || {
		echo "test_readonly_root.sh: no staged root at ${ROOTFS#"$TOP"/}: run make rootfs" >&2
		exit 4
	}
	ktap_run_all test_readonly_root "${1:-}"
}

main "$@"
