#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Stage the guest's root directory: Busybox, rootfs/ and the test programs.
#
# The result is the hostfs root of every guest (run-uml.sh passes it as the
# hostfs= prefix).  Only what changed is copied, so staging is a no-op in the
# edit-compile-test loop.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/.." && pwd)"
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly DL="${DL:-$TOP/build/dl}"
readonly E_USAGE=64 E_FETCH=67

# Debian's busybox-static, fetched without root like the kernel source.
# The first busybox-static package in the download directory, if any.
first_busybox_deb() {
	local f
	for f in "$DL"/busybox-static_*.deb; do
		[[ -f "$f" ]] && { printf '%s\n' "$f"; return 0; }
	done
	return 0
}

fetch_busybox() {
	local deb
	mkdir -p "$DL"
	deb="$(first_busybox_deb)"
	if [[ -z "$deb" ]]; then
		echo "  FETCH   busybox-static" >&2
		(cd "$DL" && apt-get download busybox-static >"$DL/apt-busybox.log" 2>&1) ||
			die "$E_FETCH" "cannot download busybox-static" \
				"apt-get said: $(tail -n1 "$DL/apt-busybox.log")" \
				"run 'apt-get update' (as root), or put the .deb into ${DL#"$TOP"/}/"
		deb="$(first_busybox_deb)"
	fi
	if ! dpkg-deb --info "$deb" >/dev/null 2>&1; then
		mv -f "$deb" "$deb.corrupt"
		die "$E_FETCH" "${deb#"$TOP"/} is corrupt (moved to .corrupt)" \
			"run the command again to download it afresh"
	fi
	printf '%s\n' "$deb"
}

install_busybox() {
	local -r root="$1"
	local deb tmp
	[[ -x "$root/bin/busybox" ]] && return 0
	deb="$(fetch_busybox)"
	tmp="$(mktemp -d)"
	dpkg-deb -x "$deb" "$tmp"
	mkdir -p "$root/bin"
	install -m 0755 "$tmp/bin/busybox" "$root/bin/busybox.new"
	rm -rf "$tmp"
	mv -f "$root/bin/busybox.new" "$root/bin/busybox"
}

# One symlink per applet, made on the host (the binary is static x86-64).
link_applets() {
	local -r root="$1"
	local applet
	# -L, not -e: the links point to /bin/busybox, which the host may lack.
	[[ -L "$root/bin/sh" ]] && return 0
	while read -r applet; do
		mkdir -p "$root/${applet%/*}"
		[[ -L "$root/$applet" || -e "$root/$applet" ]] || ln -s /bin/busybox "$root/$applet"
	done < <("$root/bin/busybox" --list-full)
}

main() {
	[[ $# -eq 2 ]] || die "$E_USAGE" "usage: $SELF ROOTDIR TESTSDIR"
	local -r root="$1" tests="$2"
	mkdir -p "$root"
	install_busybox "$root"
	link_applets "$root"
	# Mount points: the root is read-only to the guest (tmpfs on /tmp,
	# /root, /run; the writable hostfs directories on /scratch, /share).
	mkdir -p "$root"/{dev,proc,sys,tmp,root,mnt,run,scratch,share}
	chmod 1777 "$root/tmp"
	# rootfs/ is the guest's own files; -u keeps the copy a no-op when unchanged.
	cp -RPu --preserve=mode "$TOP/rootfs/." "$root/"
	if [[ -d "$tests" ]]; then
		mkdir -p "$root/tests"
		cp -RPu --preserve=mode "$tests/." "$root/tests/"
	fi
}

main "$@"
