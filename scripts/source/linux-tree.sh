#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Manage linux/: import Debian's linux-source, apply patches/, export, reset.
#
# linux/ is a git repository: tag 'base' is the pristine Debian tree, tag
# 'series-base' is base plus the sandbox's own patches (patches/sandbox/),
# and the series itself sits on top.  What was applied is remembered in
# linux/.git/sandbox/, so that a later run can tell the user's own work
# (uncommitted edits, new commits) from ours and never throw it away.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly PATCHES="${PATCHES:-$TOP/patches}"
readonly LINUX="${LINUX:-$TOP/linux}"
readonly DL="${DL:-$TOP/build/dl}"
# The one place the base version is pinned is the top-level Makefile; it
# exports LINUX_DEB_VERSION.  This default only serves direct calls.
readonly PIN="${LINUX_DEB_VERSION:-6.1.192-2}"
# The source package: linux-source-6.1 for linux/; the upstream kernel of
# the sandbox (KERNEL=upstream) is another tree of another one.
readonly PKG="${LINUX_PKG:-linux-source-6.1}"
readonly SERIES_NAME="${PKG#linux-source-}"
# Fixed identity and dates make every commit, and so every exported patch,
# byte-for-byte reproducible on any machine.
export GIT_AUTHOR_NAME=mremap-sandbox GIT_AUTHOR_EMAIL=mremap-sandbox@localhost
export GIT_COMMITTER_NAME=mremap-sandbox GIT_COMMITTER_EMAIL=mremap-sandbox@localhost
readonly IMPORT_DATE='2023-09-03T00:00:00+0000'

usage() {
	cat <<EOF
Usage: $SELF COMMAND

Commands:
  prepare        create linux/ if missing, (re)apply patches/ if they changed;
                 refuses when that would touch the user's work in linux/
  status         say whether linux/ matches patches/ and what is the user's
  export [DIR]   write the commits of linux/ back to patches/ (reproducible),
                 or to DIR (then patches/ and the state are left alone)
  reset          discard linux/ edits and commits, re-apply patches/
                 (prints what is lost; needs CONFIRM=1 when anything is)
  rev NAME       print the commit of NAME: base, series-base or head
  check-src DIR  verify DIR is a kernel tree that builds for ARCH=um

Environment:
  LINUX_DEB_VERSION  Debian version of $PKG to import (default $PIN)
  LINUX_PKG          the source package (default linux-source-6.1)
  LINUX, PATCHES, DL directories (default linux/, patches/, build/dl/)

Exit codes:
  0 ok, $E_USAGE usage, $E_DIRTY linux/ holds user work that would be lost,
  $E_APPLY a patch does not apply, $E_FETCH the source package could not be
  fetched or is corrupt, $E_SRC not a kernel tree (or no linux/ to export),
  $E_SERIES a series file names a missing patch, $E_NOSPACE the disk is full,
  130/143 interrupted
  (SIGINT/SIGTERM: linux/ is left as it was, the next run starts over)

Two runs on one tree take turns: the second waits for the first.
EOF
	exit "${1:-0}"
}

info() {
	printf '  %-8s %s\n' "$1" "$2"
}

g() {
	git -C "$LINUX" "$@"
}

# Patch files in application order: patches/sandbox/series, then
# patches/series.  Filled by load_patches, in the main shell so that a bad
# series file stops the script.
PATCH_FILES=()

load_patches() {
	local dir f
	PATCH_FILES=()
	for dir in "$PATCHES/sandbox" "$PATCHES"; do
		[[ -f "$dir/series" ]] || continue
		while read -r f; do
			f="${f%%#*}"
			f="${f//[[:space:]]/}"
			[[ -n "$f" ]] || continue
			[[ -f "$dir/$f" ]] || die "$E_SERIES" \
				"${dir#"$TOP"/}/series names $f, which does not exist: fix the series file, or run 'make export-patches' to regenerate patches/"
			PATCH_FILES+=("$dir/$f")
		done <"$dir/series"
	done
}

# A digest of everything that decides what linux/ should contain.
# Each file's name, then its lines (as cat would give them: patches end
# with a newline), in one awk: make runs this before every build.
patches_digest() {
	local sum
	sum="$({
		echo "$PIN"
		[[ ${#PATCH_FILES[@]} -eq 0 ]] ||
			awk -v dir="$PATCHES/" 'FNR == 1 { print substr(FILENAME, length(dir) + 1) } { print }' \
				"${PATCH_FILES[@]}"
	} | sha256sum)"
	printf '%s\n' "${sum%% *}"
}

state() {
	local -r f="$LINUX/.git/sandbox/$1"
	[[ ! -f "$f" ]] || printf '%s\n' "$(<"$f")"
}

save_state() {
	mkdir -p "$LINUX/.git/sandbox"
	patches_digest >"$LINUX/.git/sandbox/digest"
	g rev-parse HEAD >"$LINUX/.git/sandbox/head"
}

# Download the pinned source package, or the newest 6.1 with a warning.
fetch_source() {
	mkdir -p "$DL"
	local deb
	deb="$(find_deb "$PIN")"
	if [[ -z "$deb" ]]; then
		echo "  FETCH   $PKG=$PIN" >&2
		if ! (cd "$DL" && apt-get download "$PKG=$PIN" >"$DL/apt.log" 2>&1); then
			# A download cut short (full disk, network) must not stay.
			rm -f "$DL/${PKG}_${PIN}_all.deb"
			explain_disk_full && die "$E_NOSPACE" "cannot download $PKG=$PIN: no space left"
			local newest
			newest="$(apt-cache madison "$PKG" 2>/dev/null |
				awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -V | tail -n1)"
			# Nothing else to fall back to (no lists, or the pin is
			# the newest): the download itself failed.
			[[ -n "$newest" && "$newest" != "$PIN" ]] || die "$E_FETCH" "cannot download $PKG=$PIN" \
				"apt-get said: $(tail -n1 "$DL/apt.log")" \
				"run 'apt-get update' (as root) or put the .deb into ${DL#"$TOP"/}/"
			printf '%s: warning: %s=%s (the pin) is no longer served; using the newest %s there is, %s\n' \
				"$SELF" "$PKG" "$PIN" "$SERIES_NAME" "$newest" >&2
			printf '%s: warning: pin it in the Makefile (LINUX_DEB_VERSION) once the series applies\n' \
				"$SELF" >&2
			(cd "$DL" && apt-get download "$PKG=$newest" >"$DL/apt.log" 2>&1) ||
				{ rm -f "$DL/${PKG}_${newest}_all.deb"; false; } ||
				die "$E_FETCH" "cannot download $PKG=$newest" \
					"apt-get said: $(tail -n1 "$DL/apt.log")"
			deb="$(find_deb "$newest")"
		else
			deb="$(find_deb "$PIN")"
		fi
	fi
	# A truncated or corrupt download must not become a half tree.
	if ! dpkg-deb --info "$deb" >/dev/null 2>&1; then
		mv -f "$deb" "$deb.corrupt"
		die "$E_FETCH" "${deb#"$TOP"/} is corrupt (moved to .corrupt)" \
			"run the command again to download it afresh"
	fi
	printf '%s\n' "$deb"
}

find_deb() {
	local v="$1"
	# apt-get download escapes the epoch colon as %3a; 6.1 has no epoch.
	local f="$DL/${PKG}_${v}_all.deb"
	[[ -f "$f" ]] && printf '%s\n' "$f"
	return 0
}

import_source() {
	local deb version tmp
	deb="$(fetch_source)"
	version="$(dpkg-deb -f "$deb" Version)"
	tmp="$LINUX.importing"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	on_interrupt "$tmp"
	echo "  UNPACK  ${deb#"$TOP"/}"
	if ! dpkg-deb --fsys-tarfile "$deb" |
		tar -xO "./usr/src/$PKG.tar.xz" |
		tar -xJ --strip-components=1 -C "$tmp"; then
		rm -rf "$tmp"
		# A full disk is not the package's fault: keep it.
		explain_disk_full && die "$E_NOSPACE" "unpacking ${deb#"$TOP"/} failed: no space left"
		mv -f "$deb" "$deb.corrupt"
		die "$E_FETCH" "${deb#"$TOP"/} did not unpack (moved to .corrupt)" \
			"run the command again to download it afresh"
	fi
	echo "  GIT     base: $PKG $version"
	# The pinned import's commit must stay what it was (its hash is the
	# base-commit of every exported patch): a fallback alone says more.
	local -a pinned=()
	[[ "$version" == "$PIN" ]] ||
		pinned=(-m "The pin, $PIN, was not served: this is the newest $SERIES_NAME the registry had.")
	git init -q -b main "$tmp"
	git -C "$tmp" config core.autocrlf false
	git -C "$tmp" config am.keepcr false
	git -C "$tmp" config gc.auto 0
	# -f: Debian's top-level .gitignore ignores everything (a sandbox patch
	# drops that rule); the pristine commit must still hold every file.
	git -C "$tmp" add -f -A .
	GIT_AUTHOR_DATE="$IMPORT_DATE" GIT_COMMITTER_DATE="$IMPORT_DATE" \
		git -C "$tmp" commit -q --no-verify \
		-m "Debian $PKG $version (pristine)" \
		-m "Unpacked from ${PKG}_${version}_all.deb, usr/src/$PKG.tar.xz." \
		"${pinned[@]}"
	git -C "$tmp" tag base
	mkdir -p "$tmp/.git/sandbox"
	echo "$version" >"$tmp/.git/sandbox/version"
	echo "$PIN" >"$tmp/.git/sandbox/pin"
	# The tree as imported is ours, not the user's: if applying patches/ is
	# interrupted, the next run re-applies instead of refusing.
	git -C "$tmp" rev-parse HEAD >"$tmp/.git/sandbox/head"
	# Only a complete import becomes linux/: an interrupted one is redone.
	mv "$tmp" "$LINUX"
	on_interrupt
}

# on_interrupt [DIR]: on Ctrl-C or SIGTERM remove DIR (a half import or the
# apply worktree), say that linux/ is untouched, and exit 130/143.  With no
# DIR, the default handling again.
on_interrupt() {
	if [[ $# -eq 0 ]]; then
		trap - INT TERM
		return
	fi
	# shellcheck disable=SC2064 # the directory is fixed now, on purpose
	trap "interrupted INT 130 '$1'" INT
	# shellcheck disable=SC2064
	trap "interrupted TERM 143 '$1'" TERM
}

interrupted() {
	trap '' INT TERM
	if [[ "$3" == "$LINUX.applying" && -d "$LINUX/.git" ]]; then
		g worktree remove --force "$3" >/dev/null 2>&1 || rm -rf "$3"
		g worktree prune
	else
		rm -rf "$3"
	fi
	printf '%s: interrupted (SIG%s): linux/ is as it was before; run make again to go on\n' \
		"$SELF" "$1" >&2
	exit "$2"
}

# Every path a patch creates, changes or deletes, as sparse-checkout patterns.
patched_paths() {
	sed -n 's|^diff --git a/\(.*\) b/\(.*\)$|/\1\n/\2|p' "${PATCH_FILES[@]}" | sort -u
}

# git am every patch in a sparse worktree holding only the files the patches
# touch: TRIAL_HEAD is then the commit that applying patches/ gives, and
# TRIAL_SBASE its series-base, with linux/ itself untouched (a patch that
# fails, or an interrupt, leaves it exactly as it was).
trial_apply() {
	local -r tmp="$LINUX.applying"
	local f
	rm -rf "$tmp"
	g worktree prune
	on_interrupt "$tmp"
	g worktree add -q --no-checkout --detach "$tmp" base
	# shellcheck disable=SC2046 # one pattern a line, none with a space
	git -C "$tmp" sparse-checkout set --no-cone $(patched_paths) 2>/dev/null
	git -C "$tmp" checkout -q --detach base
	TRIAL_SBASE="$(g rev-parse base)"
	TRIAL_COUNT=0
	for f in "${PATCH_FILES[@]}"; do
		if ! git -C "$tmp" am -q --committer-date-is-author-date --keep-cr "$f" \
			2>"$LINUX/.git/sandbox/am.err"; then
			local reason
			reason="$(grep -v '^hint:' "$LINUX/.git/sandbox/am.err" | head -n 5)"
			g worktree remove --force "$tmp" >/dev/null 2>&1 || rm -rf "$tmp"
			g worktree prune
			die "$E_APPLY" "patch ${f#"$TOP"/} does not apply" \
				"git am: $reason" \
				"linux/ is left as it was: $(g log -1 --format='%h %s')" \
				"fix the patch (or patches/series) and run make again"
		fi
		TRIAL_COUNT=$((TRIAL_COUNT + 1))
		if [[ "$f" == "$PATCHES/sandbox/"* ]]; then
			TRIAL_SBASE="$(git -C "$tmp" rev-parse HEAD)"
		fi
	done
	TRIAL_HEAD="$(git -C "$tmp" rev-parse HEAD)"
	# Kept reachable until replaced: git gc must not take it meanwhile.
	g update-ref refs/sandbox/trial "$TRIAL_HEAD"
	g worktree remove --force "$tmp"
	on_interrupt
}

# Move linux/ to the trial's result.  The checkout rewrites only the files
# whose content differs, so a changed patch rebuilds only what it changes
# (re-applying on top of 'base' in linux/ itself would give every patched
# file, mm.h among them, a new mtime: a full kernel rebuild).
adopt_trial() {
	# linux/ itself changes now: a checkout cut short would look like the
	# user's edits.  Signals wait (ignored) for the second it takes.
	trap '' INT TERM
	g tag -f series-base "$TRIAL_SBASE" >/dev/null
	g checkout -q -B main "$TRIAL_HEAD"
	save_state
	# What patches/ gave: unlike head, an export does not move it.
	g rev-parse HEAD >"$LINUX/.git/sandbox/applied"
	on_interrupt
	echo "  APPLY   $TRIAL_COUNT patches ($(g rev-list --count series-base..HEAD) of the series)"
}

apply_patches() {
	trial_apply
	adopt_trial
}

# Print what in linux/ is not in a commit: a git am or rebase in progress,
# uncommitted changes (each file).  Nothing when there is none.
uncommitted_work() {
	if [[ -d "$LINUX/.git/rebase-apply" || -d "$LINUX/.git/rebase-merge" ]]; then
		echo "a git am or rebase is in progress in linux/ (finish or abort it)"
	fi
	if [[ -n "$(g status --porcelain --untracked-files=normal | head -n 1)" ]]; then
		echo "uncommitted changes in linux/:"
		g status --short | head -n 20 | sed 's/^/    /'
	fi
}

# last_applied: the commit the last application of patches/ gave (the
# head of trees made before that was recorded), else base.
last_applied() {
	local c
	c="$(state applied)"
	[[ -n "$c" ]] || c="$(state head)"
	g cat-file -e "${c:-none}^{commit}" 2>/dev/null || c="$(g rev-parse base)"
	printf '%s\n' "$c"
}

# own_commits TRIAL: the commits of linux/ that moving it to TRIAL (what
# patches/ give today) would lose: in HEAD, not among the commits the last
# application of patches/ gave (those are patches/' own, which a changed
# patch replaces), and with no commit of the same change (patch-id) in
# TRIAL.  An exported commit whose patch was then taken out of patches/
# again is the user's: nothing else holds it.  One per line, oldest first,
# as "hash subject".
own_commits() {
	local -r trial="$1"
	local applied c
	applied="$(last_applied)"
	# git cherry marks with + the commits of HEAD whose change TRIAL lacks.
	for c in $(g cherry "$trial" HEAD | sed -n 's/^+ //p'); do
		g merge-base --is-ancestor "$c" "$applied" || g log -1 --format='%h %s' "$c"
	done
}

# missing_commits TRIAL: commits of TRIAL (patches/) whose change linux/
# lacks, as "hash subject": what re-applying would bring back.
missing_commits() {
	local c
	for c in $(g cherry HEAD "$1" | sed -n 's/^+ //p'); do
		g log -1 --format='%h %s' "$c"
	done
}

# user_work TRIAL: why linux/ may not be moved to TRIAL (patches/ as they
# are now), naming every uncommitted file and every commit that would be
# lost; nothing when it may.
user_work() {
	local own
	uncommitted_work
	own="$(own_commits "$1")"
	if [[ -n "$own" ]]; then
		echo "commits in linux/ that are not in patches/:"
		printf '%s\n' "$own" | head -n 20 | sed 's/^/    /'
	fi
}

cmd_prepare() {
	if [[ ! -d "$LINUX/.git" ]]; then
		[[ ! -e "$LINUX" ]] || die "$E_DIRTY" "linux/ exists but is not a git repository" \
			"move it away (it may hold your work), then run make again"
		import_source
		apply_patches
		return
	fi
	local -r digest="$(patches_digest)"
	[[ "$(state digest)" == "$digest" ]] && return 0
	# The user asked to build linux/ as it is, until patches/ change again:
	# an empty keep file is for the patches/ of now.
	local -r keep="$LINUX/.git/sandbox/keep"
	if [[ -f "$keep" ]]; then
		[[ -s "$keep" ]] || echo "$digest" >"$keep"
		if [[ "$(<"$keep")" == "$digest" ]]; then
			echo "  KEEP    linux/ as it is, patches/ not applied (rm linux/.git/sandbox/keep to apply them)"
			return 0
		fi
		rm -f "$keep"
	fi
	local work
	work="$(uncommitted_work)"
	if [[ -z "$work" && "$(g rev-parse HEAD)" == "$(last_applied)" ]]; then
		# linux/ is what patches/ gave last time: nothing of the user's.
		echo "  REAPPLY patches/ changed"
		apply_patches
		return
	fi
	if [[ -z "$work" ]]; then
		# HEAD moved since (a commit, a reset, an undo): decide by
		# content.  What would moving linux/ to today's patches/ lose?
		trial_apply
		work="$(user_work "$TRIAL_HEAD")"
		if [[ -z "$work" ]]; then
			if [[ "$(g rev-parse "HEAD^{tree}")" == "$(g rev-parse "$TRIAL_HEAD^{tree}")" ]]; then
				echo "  REAPPLY patches/ changed; linux/ holds just what they give"
			else
				echo "  REAPPLY patches/ changed; linux/ holds nothing they lack"
			fi
			adopt_trial
			return
		fi
	fi
	printf '%s: error: patches/ changed, but linux/ holds work that re-applying would lose:\n%s\n' \
		"$SELF" "$work" >&2
	cat >&2 <<EOF
  To keep linux/ as it is and save it:   make export-patches
  To build linux/ without re-applying:   touch linux/.git/sandbox/keep  (until the next change)
  To throw the work away and re-apply:   make reset-linux
EOF
	exit "$E_DIRTY"
}

cmd_status() {
	local work
	local version pin
	version="$(state version)"
	pin="$(state pin)"
	echo "linux/: $PKG $version, $(g rev-list --count series-base..HEAD) series commits on $(g rev-list --count base..series-base) sandbox commits"
	if [[ -n "$pin" && "$pin" != "$version" ]]; then
		echo "base: $version, not the pin $pin (it was not served when linux/ was imported)"
	elif [[ -n "$pin" ]]; then
		echo "base: $version, the pin"
	fi
	if [[ "$(state digest)" == "$(patches_digest)" ]]; then
		echo "patches/: unchanged since applied"
	else
		echo "patches/: changed since applied (make will re-apply)"
	fi
	# By content: what patches/ give today against what linux/ holds.
	trial_apply
	work="$(user_work "$TRIAL_HEAD")"
	[[ -z "$work" ]] && echo "user work: none" || printf 'user work:\n%s\n' "$work"
	local missing
	missing="$(missing_commits "$TRIAL_HEAD")"
	if [[ -n "$missing" ]]; then
		echo "linux/ lacks these commits of patches/ (make export-patches drops them from patches/, make reset-linux brings them back):"
		printf '%s\n' "$missing" | sed 's/^/    /'
	fi
}

# Reproducible: no dates but the commits' own, zero hashes, no git version.
format_patches() {
	local -r range="$1" out="$2"
	shift 2
	rm -f "$out"/*.patch
	mkdir -p "$out"
	g -c diff.noprefix=false format-patch -q --zero-commit --no-signature \
		--no-numbered-files --base=base "$@" -o "$out" "$range" >/dev/null
	find "$out" -maxdepth 1 -name '[0-9]*.patch' ! -name '0000-cover-letter.patch' \
		-printf '%f\n' | sort >"$out/series"
}

# Export to patches/ (or to DIR, leaving patches/ and the state alone).
cmd_export() {
	local -r dest="${1:-$PATCHES}"
	[[ -d "$LINUX/.git" ]] || die "$E_SRC" "no linux/ to export" "run make first"
	if [[ -n "$(g status --porcelain --untracked-files=no | head -n 1)" ]]; then
		die "$E_DIRTY" "linux/ has uncommitted changes" \
			"commit them first: git -C linux commit -a (export writes commits only)"
	fi
	local -r cover="$PATCHES/0000-cover-letter.patch"
	local desc
	# The cover letter's text is ours; only its shortlog and diffstat are
	# regenerated.  git takes it from the branch description.
	if [[ -f "$cover" ]]; then
		desc="$(awk '
			!body && /^Subject: / { sub(/^Subject: (\[[^]]*\] )?/, ""); subj = $0; insubj = 1; next }
			!body && insubj && /^[ \t]/ { sub(/^[ \t]+/, " "); subj = subj $0; next }
			!body && /^$/ { body = 1; print subj; print ""; next }
			!body { insubj = 0; next }
			/^[^ ].* \([0-9]+\):$/ { exit }
			{ print }' "$cover")"
		g config branch.main.description "$desc"
	fi
	local sub
	sub="$(g rev-list --count base..series-base)"
	if [[ "$sub" -gt 0 ]]; then
		format_patches base..series-base "$dest/sandbox"
	fi
	local -a cover_args=()
	[[ -f "$cover" ]] && cover_args=(--cover-letter --cover-from-description=subject)
	format_patches series-base..HEAD "$dest" "${cover_args[@]}" \
		--subject-prefix="PATCH v6"
	# git stamps the cover letter with the current time: use the tip's date.
	if [[ -f "$dest/0000-cover-letter.patch" ]]; then
		local date
		date="$(g log -1 --format=%aD HEAD)"
		sed -i "s/^Date: .*/Date: $date/" "$dest/0000-cover-letter.patch"
	fi
	if [[ "$dest" == "$PATCHES" ]]; then
		load_patches
		save_state
	fi
	echo "  EXPORT  $(grep -c . "$dest/series") series patches, $sub sandbox patches"
}

cmd_reset() {
	[[ -d "$LINUX/.git" ]] || {
		cmd_prepare
		return
	}
	local work
	trial_apply
	work="$(user_work "$TRIAL_HEAD")"
	if [[ -n "$work" ]]; then
		printf 'This discards from linux/:\n%s\n' "$work"
		if [[ "${CONFIRM:-}" != 1 ]]; then
			die "$E_DIRTY" "not discarding without confirmation" \
				"run: make reset-linux CONFIRM=1   (or make export-patches to keep it)"
		fi
		# Keep a way back for a while, outside of any branch.
		g stash push -q --include-untracked -m "sandbox reset-linux" >/dev/null 2>&1 || true
		g update-ref "refs/sandbox/before-reset" HEAD
		echo "  (recoverable for now: git -C linux stash list; git -C linux log refs/sandbox/before-reset)"
	fi
	g am --abort >/dev/null 2>&1 || true
	g reset -q --hard
	adopt_trial
}

cmd_rev() {
	case "${1:-}" in
	base | series-base) g rev-parse "$1" ;;
	head) g rev-parse HEAD ;;
	*) usage "$E_USAGE" ;;
	esac
}

cmd_check_src() {
	local -r dir="${1:-}"
	[[ -n "$dir" && -f "$dir/Makefile" && -d "$dir/arch/um" && -f "$dir/mm/mremap.c" ]] ||
		die "$E_SRC" "LINUX_SRC=$dir is not a Linux kernel source tree: point LINUX_SRC at the top of one (with Makefile, arch/um and mm/), or unset it"
	if [[ -f "$dir/.config" ]]; then
		die "$E_SRC" "$dir has an in-tree .config, which breaks out-of-tree builds" \
			"run 'make -C $dir mrproper' (this deletes its build output)"
	fi
}

main() {
	local -r cmd="${1:-}"
	[[ $# -gt 0 ]] && shift
	explain_failures
	case "$cmd" in
	prepare | reset | export)
		# One writer of linux/ at a time: a second make waits.
		mkdir -p "$(dirname "$LINUX")"
		hold_lock "$(dirname "$LINUX")"
		;;
	esac
	case "$cmd" in
	prepare | status | reset) load_patches ;;
	esac
	case "$cmd" in
	prepare) cmd_prepare ;;
	status) cmd_status ;;
	export) cmd_export "$@" ;;
	reset) cmd_reset ;;
	rev) cmd_rev "$@" ;;
	check-src) cmd_check_src "$@" ;;
	-h | --help) usage 0 ;;
	"") usage_error "a command is needed: prepare, status, export, reset, rev or check-src" ;;
	*) usage_error "unknown command '$cmd'" ;;
	esac
}

main "$@"
