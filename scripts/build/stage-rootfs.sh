#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Stage the guest's root directory: Busybox, rootfs/ and the test programs.
#
# The result is the hostfs root of every guest (run-uml.sh passes it as the
# hostfs= prefix).  Only what changed is copied or compiled, so staging is a
# no-op in the edit-compile-test loop.  rootfs/*.c are guest programs: each
# is compiled into the root under its name without .c (init.c is /init),
# never copied as source.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly DL="${DL:-$TOP/build/dl}"

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

# The guest has no libc: static, as tests/Makefile builds the tests.  A
# warning is shown, not fatal (make lint holds it to -Werror).
readonly GUEST_CC="${GUEST_CC:-gcc}"
readonly GUEST_CFLAGS=(-O2 -Wall -Wextra -static)

# compile_program ROOT SRC: SRC into ROOT/<its name>, when SRC (or this
# script, which holds the flags) is newer; into a temp name first, as
# guests that run meanwhile must see the old program or the new one.
compile_program() {
	local -r root="$1" src="$2"
	local -r name="${src##*/}"
	local -r out="$root/${name%.c}"
	[[ "$out" -nt "$src" && "$out" -nt "${BASH_SOURCE[0]}" ]] && return 0
	echo "  CC      rootfs/$name" >&2
	"$GUEST_CC" "${GUEST_CFLAGS[@]}" -o "$out.new.$$" "$src" ||
		die "$E_BUILD" "cannot compile rootfs/$name for the guest" \
			"see the compiler's message above; the guest needs a static libc (libc6-dev)"
	mv -f "$out.new.$$" "$out"
}

# stage_rootfs_files ROOT: rootfs/ into ROOT, its C sources compiled, not
# copied; -u keeps the copy a no-op when unchanged.  A file named like a
# compiled program (init) is not copied over it.
stage_rootfs_files() {
	local -r root="$1"
	local f name
	for f in "$TOP"/rootfs/* "$TOP"/rootfs/.[!.]*; do
		[[ -e "$f" || -L "$f" ]] || continue
		name="${f##*/}"
		case "$name" in
		*.c) continue ;;
		esac
		[[ -f "$TOP/rootfs/$name.c" ]] && continue
		cp -RPu --preserve=mode "$f" "$root/"
	done
	for f in "$TOP"/rootfs/*.c; do
		[[ -f "$f" ]] && compile_program "$root" "$f"
	done
	return 0
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
	stage_rootfs_files "$root"
	if [[ -d "$tests" ]]; then
		mkdir -p "$root/tests"
		cp -RPu --preserve=mode "$tests/." "$root/tests/"
	fi
}

main "$@"
