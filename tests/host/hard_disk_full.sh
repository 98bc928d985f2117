#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A real kernel build onto a full disk: the error says so, and the next run, with space back, builds and boots.
#
# Usage: tests/host/hard_disk_full.sh
#
# The build directory (BUILD, as make O= would) is a 1.2 GB tmpfs in a
# private mount namespace (unshare -rm: no root needed), filled up to the
# last 40 MB.  ./run-uml.sh -- true must fail with exit 73 and "the disk is
# full"; with the filler removed, the same command must finish the build
# (kbuild resumes; no truncated object may survive) and boot.  A kernel
# build (ccache helps): run it under the build lock.  Prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly RUN="$TOP/run-uml.sh"
readonly HERE="$TOP/tests/host/hard_disk_full.sh"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

# Inside the namespace: $1 is the scratch directory.
full_disk_kernel_build() {
	local -r fs="$1/fs" out="$1"
	local free rc=0
	mkdir -p "$fs"
	mount -t tmpfs -o size=1200m tmpfs "$fs"
	mkdir -p "$fs/build/dl"
	# Busybox from the main build: nothing to download.
	cp "$TOP"/build/dl/busybox-static_*.deb "$fs/build/dl/" 2>/dev/null || true
	free=$(($(df -Pk "$fs" | awk 'NR == 2 { print $4 }') * 1024))
	head -c "$((free - 40 * 1024 * 1024))" /dev/zero >"$fs/filler"
	diag "build directory: $(df -h --output=avail "$fs" | tail -n 1 | tr -d ' ') free"
	BUILD="$fs/build" "$RUN" -t 120 -- true >"$out/full.out" 2>&1 </dev/null || rc=$?
	sed -n 's/^/#   /p' "$out/full.out" | grep -E 'error|disk|space|free' | head -n 8
	expect_status 73 "$rc" "build onto a full disk" || return
	expect_grep 'the disk is full: [0-9]+ KB free' "$out/full.out" "says the disk is full" || return
	expect_grep 'free some space' "$out/full.out" "says what to do" || return
	rm -f "$fs/filler"
	rc=0
	BUILD="$fs/build" "$RUN" -t 120 -- true >"$out/again.out" 2>&1 </dev/null || rc=$?
	tail -n 3 "$out/again.out" | sed 's/^/#   /'
	expect_status 0 "$rc" "the same command with space back (build and boot)" || return
	BUILD="$fs/build" "$RUN" --no-build -t 120 -- uname -r >"$out/boot.out" 2>&1 </dev/null ||
		fail "the rebuilt kernel does not boot" || return
	diag "the rebuilt kernel boots: $(head -n 1 "$out/boot.out")"
}

test_full_disk_kernel_build() {
	unshare -rm true 2>/dev/null || skip "no user namespaces here (unshare -rm)" || return
	unshare -rm bash "$HERE" --inside "$scratch"
}

if [[ "${1:-}" == --inside ]]; then
	full_disk_kernel_build "$2"
	exit
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-diskfull.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
ktap_run_all disk-full "${1:-}"
