# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Stand-ins for the host's package tools and a tiny linux-source package (sourced).
#
# Nothing is downloaded: the host tests of linux-tree.sh run on these.

export GIT_AUTHOR_NAME=mremap-sandbox GIT_AUTHOR_EMAIL=mremap-sandbox@localhost
export GIT_COMMITTER_NAME=mremap-sandbox GIT_COMMITTER_EMAIL=mremap-sandbox@localhost
readonly FAKE_VERSION=6.1.0-fake1

# make_fake_package DIR [VERSION]: DIR/good.deb, a linux-source-6.1 package
# (of VERSION, default FAKE_VERSION) holding a tiny tree, and DIR/patches,
# two patches of it (as make export-patches writes them).
make_fake_package() {
	local -r d="$1" version="${2:-$FAKE_VERSION}"
	local -r src="$d/src/linux-source-6.1" pkg="$d/pkg"
	mkdir -p "$src/mm" "$pkg/DEBIAN" "$pkg/usr/src" "$d/patches"
	printf 'line %s\n' 1 2 3 4 5 >"$src/mm/mremap.c"
	printf 'obj-y += mremap.o\n' >"$src/mm/Makefile"
	tar -C "$d/src" -cJf "$pkg/usr/src/linux-source-6.1.tar.xz" linux-source-6.1
	cat >"$pkg/DEBIAN/control" <<-EOF
		Package: linux-source-6.1
		Version: $version
		Architecture: all
		Maintainer: sandbox <sandbox@localhost>
		Description: a stand-in for the kernel source package
	EOF
	dpkg-deb --root-owner-group -Zgzip --build "$pkg" "$d/good.deb" >/dev/null
	git init -q -b main "$d/work"
	cp -r "$src/." "$d/work/"
	(cd "$d/work" && git add -A && git commit -q -m pristine && git tag base &&
		sed -i 's/line 3/line three/' mm/mremap.c && git commit -q -a -m "mm/mremap: spell three" &&
		sed -i 's/line 4/line four/' mm/mremap.c && git commit -q -a -m "mm/mremap: spell four" &&
		git format-patch -q -o "$d/patches" base..HEAD)
	(cd "$d/patches" && ls -- *.patch >series)
}

# Commands that stand in for the host's: apt-get download copies the good
# package (or fails when FAKE_OFFLINE is set, or for the version
# FAKE_REFUSE, as a registry that no longer serves it), apt-cache madison
# lists the versions of FAKE_MADISON (none by default), and
# git and tar can pause on a chosen call (FAKE_PAUSE_GIT_AM=N: before the
# Nth git am; FAKE_PAUSE_TAR: after tar -xJ has unpacked), touching
# $FAKE_PAUSED and sleeping, for a signal to arrive mid-way.
make_stubs() {
	local -r bin="$1"
	mkdir -p "$bin"
	cat >"$bin/apt-get" <<-'EOF'
		#!/bin/bash
		[[ "$1" == download && -z "${FAKE_OFFLINE:-}" ]] || { echo "E: stub: offline" >&2; exit 100; }
		if [[ -n "${FAKE_REFUSE:-}" && "${2#*=}" == "$FAKE_REFUSE" ]]; then
			echo "E: Can't find a source to download version '${2#*=}' of '${2%%=*}:amd64'" >&2
			exit 100
		fi
		cp "${FAKE_DEBS:-.}/${2#*=}.deb" "./${2%%=*}_${2#*=}_all.deb" 2>/dev/null ||
			cp "$FAKE_DEB" "./${2%%=*}_${2#*=}_all.deb"
	EOF
	cat >"$bin/apt-cache" <<-'EOF'
		#!/bin/bash
		[[ "$1" == madison ]] || exit 0
		for v in ${FAKE_MADISON:-}; do
			printf '%s | %s | stub main amd64 Packages\n' "$2" "$v"
		done
	EOF
	cat >"$bin/git" <<-'EOF'
		#!/bin/bash
		if [[ " $* " == *" am "* && -n "${FAKE_PAUSE_GIT_AM:-}" ]]; then
			n=$(( $(cat "$FAKE_PAUSED.count" 2>/dev/null || echo 0) + 1 ))
			echo "$n" >"$FAKE_PAUSED.count"
			[[ "$n" -eq "$FAKE_PAUSE_GIT_AM" ]] && { touch "$FAKE_PAUSED"; sleep 60; }
		fi
		exec /usr/bin/git "$@"
	EOF
	cat >"$bin/tar" <<-'EOF'
		#!/bin/bash
		/usr/bin/tar "$@" || exit
		if [[ "$1" == -xJ* && -n "${FAKE_PAUSE_TAR:-}" ]]; then
			touch "$FAKE_PAUSED"
			sleep 60
		fi
	EOF
	chmod +x "$bin"/*
}
