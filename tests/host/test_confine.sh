#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host side of the confinement test: a canary outside the guest root stays unread and unchanged.
#
# Usage: tests/host/test_confine.sh [PATTERN]   (runs the test_* functions matching it)
# Needs a built kernel and rootfs (make all); prints KTAP.
#
# A canary file with a random token is made next to the staged root
# (build/confine-canary.*/canary, outside it), its access time set to 2000.
# The guest runs tests/guest/confine.c as root with sandbox.canary=<its
# host path>, so that every way out it tries aims at the canary.  Then the
# host checks: the guest test passed, the token is in no output, the
# canary's content, mode, mtime and atime are as they were, no file the
# guest makes on an escape (confine-escaped.*) exists, and the root holds
# no device node and no set-ID file.
#
# KERNEL=patched (default), base, or the path of a UML binary: the kernel
# to test.  A kernel without the sandbox's hostfs patch must fail.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly BUILD="${BUILD:-$TOP/build}"
readonly ROOTFS="$BUILD/rootfs"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-confine-tests.XXXXXX")"
canary_dir="$(mktemp -d "$BUILD/confine-canary.XXXXXX")"
readonly canary="$canary_dir/canary"
readonly token="canary-$$-$RANDOM$RANDOM"

# Wherever an escaped guest could have written: the root's parents, the
# host's /, and the canary's directory.
escaped_files() {
	find "$canary_dir" "$BUILD" "$TOP" / -maxdepth 1 -name 'confine-escaped.*' 2>/dev/null
}

cleanup() {
	# An unconfined kernel leaves these behind (made by the guest test):
	# remove them, they were counted.
	escaped_files | xargs -r rm -f
	rm -rf "$scratch" "$canary_dir"
}
trap cleanup EXIT

# Mode, size, mtime, atime, then the content's hash: the stat comes first,
# as reading the content moves the access time.
canary_state() {
	stat -c '%a %s %Y %X' "$canary"
	sha256sum <"$canary"
}

# Set the access time far back: any read moves it (relatime updates an
# atime older than the mtime).
age_canary() {
	touch -a -d '2000-01-01 00:00:00' "$canary"
}

# One guest run for all the checks below; its results stay in $scratch.
setup_run() {
	printf '%s\n' "$token" >"$canary"
	chmod 0644 "$canary"
	age_canary
	canary_state >"$scratch/before"
	age_canary
	escaped_files >"$scratch/escaped-before"
	local rc=0 start end
	start=$(date +%s)
	run_guest confine --kernel "${KERNEL:-patched}" -t 180 -a "sandbox.canary=$canary" -- \
		/tests/sandbox/confine || rc=$?
	end=$(date +%s)
	# Before anything here reads the canary.
	stat -c %X "$canary" >"$scratch/atime-after"
	echo "guest run: exit $rc in $((end - start)) s (kernel ${KERNEL:-patched})" >"$scratch/summary"
}

# The guest's own test passes: every attempt failed in the guest.
test_guest_attempts_fail() {
	diag "$(cat "$scratch/summary")"
	expect_guest_left_nothing confine || return
	expect_status 0 "$(cat "$scratch/confine.rc")" "/tests/sandbox/confine as guest root" && return
	grep -E '^(not )?ok|confine.c:' "$scratch/confine.out" | sed 's/^/# /' | head -n 40
	return 1
}

# The canary's token appears in no output: nothing read it.
test_canary_unread() {
	if grep -q -- "$token" "$scratch/confine.out" "$scratch/confine.err"; then
		grep -h -- "$token" "$scratch/confine.out" "$scratch/confine.err" | sed 's/^/# /' | head -n 5
		fail "the guest read the canary"
		return
	fi
	[[ "$(cat "$scratch/atime-after")" == "$(awk 'NR == 1 { print $4 }' "$scratch/before")" ]] ||
		fail "the canary's access time changed: it was read" || return
	diag "canary not in the output, atime unchanged"
}

# Content, size, mode and mtime of the canary are as they were.
test_canary_unchanged() {
	canary_state >"$scratch/after"
	if ! cmp -s "$scratch/before" "$scratch/after"; then
		diff "$scratch/before" "$scratch/after" | sed 's/^/# /'
		fail "the canary changed (mode size mtime atime / sha256)"
		return
	fi
	diag "canary unchanged: $(head -n 1 "$scratch/after")"
}

# No file appeared outside the root.
test_no_file_outside() {
	local -a found
	# Only new ones: another run on an unconfined kernel may have left some.
	mapfile -t found < <(escaped_files | grep -vxFf "$scratch/escaped-before")
	if [[ ${#found[@]} -gt 0 ]]; then
		printf '# made by the guest: %s\n' "${found[@]}"
		fail "the guest created files outside its root"
		return
	fi
	[[ "$(ls -A "$canary_dir")" == canary ]] ||
		fail "new files next to the canary: $(ls -A "$canary_dir")" || return
	diag "no confine-escaped.* in the canary's directory, $BUILD, $TOP or /"
}

# The root holds no device node and no set-ID file (the guest's mknod and
# chmod u+s would be real ones on the host).
test_no_device_or_setid() {
	local -a found
	mapfile -t found < <(find "$ROOTFS" -xdev \( -type b -o -type c -o \
		\( -type f -perm /6000 \) \) -print 2>/dev/null | head -n 10)
	if [[ ${#found[@]} -gt 0 ]]; then
		printf '# %s\n' "${found[@]}"
		fail "device nodes or set-ID files in the guest root"
		return
	fi
	diag "no device node, no set-ID file in ${ROOTFS#"$TOP"/}"
}

main() {
	[[ -x "$ROOTFS/tests/sandbox/confine" ]] || {
		echo "test_confine.sh: no /tests/sandbox/confine in the guest root: run make rootfs" >&2
		exit 4
	}
	setup_run
	ktap_run_all test_confine "${1:-}"
}

main "$@"
