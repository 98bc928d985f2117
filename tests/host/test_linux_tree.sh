#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# linux-tree.sh decides by content: undoing an export builds, real work is named, the pin falls back.
#
# Usage: tests/host/test_linux_tree.sh [PATTERN]   (runs the test_* functions matching it)
#
# Runs on a stand-in source package imported the way make imports Debian's
# (tests/host/fake.sh: apt-get and apt-cache are stubs, nothing is
# downloaded).  Prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly TREE="$TOP/scripts/source/linux-tree.sh"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"
# shellcheck source=tests/host/fake.sh
source "$TOP/tests/host/fake.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-tree.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# tree ARGS...: linux-tree.sh on the stand-in $fake, stubs first in PATH.
tree() {
	PATH="$fake/bin:$PATH" FAKE_DEB="$fake/good.deb" LINUX="$fake/linux" \
		PATCHES="$fake/patches" DL="$fake/dl" LINUX_DEB_VERSION="${PIN:-$FAKE_VERSION}" \
		"$TREE" "$@"
}

lx() {
	git -C "$fake/linux" "$@"
}

# setup NAME: a stand-in imported and patched, as make leaves it; the
# original patches/ saved in $fake/patches.orig (what git checkout restores).
setup() {
	fake="$scratch/$1"
	make_fake_package "$fake"
	make_stubs "$fake/bin"
	mkdir -p "$fake/dl"
	tree prepare >"$fake/prepare.out" 2>&1 || { cat "$fake/prepare.out"; fail "first prepare"; return; }
	cp -a "$fake/patches" "$fake/patches.orig"
	orig_head="$(lx rev-parse HEAD)"
}

# The README's loop, then undone: a commit, exported, the export undone
# and the commit dropped.  $1: which undo comes first (patches or linux).
try_and_undo() {
	echo "try" >>"$fake/linux/mm/mremap.c"
	lx commit -q -a -m "mm/mremap: try"
	tree export >/dev/null
	[[ -n "$(ls "$fake/patches"/0003-*.patch 2>/dev/null)" ]] || fail "export wrote no 0003" || return
	if [[ "$1" == patches ]]; then
		rm -rf "$fake/patches" && cp -a "$fake/patches.orig" "$fake/patches"
		lx reset -q --hard HEAD~1
	else
		lx reset -q --hard HEAD~1
		rm -rf "$fake/patches" && cp -a "$fake/patches.orig" "$fake/patches"
	fi
}

# prepare_builds WHAT: linux/ and patches/ are what they were before the
# loop: prepare goes on (0), linux/ unchanged, and status names no work.
prepare_builds() {
	local rc=0
	tree prepare >"$fake/undo.out" 2>&1 || rc=$?
	sed 's/^/# /' "$fake/undo.out"
	expect_status 0 "$rc" "$1" || return
	[[ "$(lx rev-parse "HEAD^{tree}")" == "$(lx rev-parse "$orig_head^{tree}")" ]] ||
		fail "linux/ does not hold what patches/ give" || return
	tree status >"$fake/status.out" 2>&1 || fail "status failed" || return
	expect_grep '^user work: none' "$fake/status.out" "status: no user work" || return
	tree prepare >"$fake/again.out" 2>&1 || fail "a second prepare failed" || return
	[[ ! -s "$fake/again.out" ]] || { cat "$fake/again.out"; fail "a second prepare did something"; }
}

# Undo the export first, then the commit: make builds (the issue's case).
test_undo_patches_first_builds() {
	setup undo-p || return
	try_and_undo patches || return
	prepare_builds "prepare after undoing the export, then the commit"
}

# Undo the commit first, then the export: make builds.
test_undo_linux_first_builds() {
	setup undo-l || return
	try_and_undo linux || return
	prepare_builds "prepare after undoing the commit, then the export"
}

# Half-way through the undo (the export undone, the commit still there),
# the commit is the user's only copy: make refuses and names it.
test_half_undone_names_commit() {
	local rc=0
	setup half || return
	echo "try" >>"$fake/linux/mm/mremap.c"
	lx commit -q -a -m "mm/mremap: try"
	tree export >/dev/null
	rm -rf "$fake/patches" && cp -a "$fake/patches.orig" "$fake/patches"
	tree prepare >"$fake/half.out" 2>&1 || rc=$?
	expect_status 65 "$rc" "prepare over an exported commit whose patch is gone" || return
	expect_grep '^    [0-9a-f]+ mm/mremap: try$' "$fake/half.out" "names the commit" || return
	grep -q '^try$' "$fake/linux/mm/mremap.c" || fail "the commit's change is gone"
}

# Drop the last commit after exporting it (patches/ keep it): make builds
# linux/ as it is, and status says what patches/ have that linux/ lacks.
test_drop_exported_commit() {
	local rc=0
	setup drop || return
	echo "try" >>"$fake/linux/mm/mremap.c"
	lx commit -q -a -m "mm/mremap: try"
	tree export >/dev/null
	lx reset -q --hard HEAD~1
	tree prepare >"$fake/drop.out" 2>&1 || rc=$?
	expect_status 0 "$rc" "prepare after dropping an exported commit" || return
	[[ "$(lx rev-parse HEAD)" == "$orig_head" ]] || fail "linux/ was moved" || return
	tree status >"$fake/drop-status.out" 2>&1 || fail "status failed" || return
	sed 's/^/# /' "$fake/drop-status.out"
	expect_grep '^user work: none' "$fake/drop-status.out" "no user work" || return
	expect_grep 'lacks these commits of patches/' "$fake/drop-status.out" "says linux/ lacks one" || return
	expect_grep '^    [0-9a-f]+ mm/mremap: try$' "$fake/drop-status.out" "names it"
}

# The protections stay: an uncommitted edit is named file by file, an
# unexported commit by hash and subject; neither list is ever empty.
test_real_work_is_named() {
	local rc=0
	setup work || return
	echo "edit" >>"$fake/linux/mm/mremap.c"
	sed -i 's/spell four/spell 4/' "$fake/patches/"0002-*.patch
	tree prepare >"$fake/edit.out" 2>&1 || rc=$?
	expect_status 65 "$rc" "prepare over an uncommitted edit" || return
	expect_grep '^ +M mm/mremap.c$' "$fake/edit.out" "names the file" || return
	lx commit -q -a -m "mm/mremap: mine"
	rc=0
	tree prepare >"$fake/commit.out" 2>&1 || rc=$?
	expect_status 65 "$rc" "prepare over an unexported commit" || return
	expect_grep '^    [0-9a-f]+ mm/mremap: mine$' "$fake/commit.out" "names the commit" || return
	grep -q '^edit$' "$fake/linux/mm/mremap.c" || fail "the work is gone"
}

# A changed patch re-applies over linux/ as patches/ left it, as before.
test_changed_patch_reapplies() {
	setup change || return
	sed -i 's/spell four/spell 4/' "$fake/patches/"0002-*.patch
	tree prepare >"$fake/change.out" 2>&1 || { cat "$fake/change.out"; fail "prepare failed"; return; }
	expect_grep 'REAPPLY' "$fake/change.out" "re-applied" || return
	expect_grep 'spell 4' <(lx log -1 --format=%s) "the new commit is HEAD"
}

# touch linux/.git/sandbox/keep builds linux/ as it is until patches/
# change again (the refusal's second way out).
test_keep_file_is_honoured() {
	local rc=0
	setup keep || return
	echo "edit" >>"$fake/linux/mm/mremap.c"
	sed -i 's/spell four/spell 4/' "$fake/patches/"0002-*.patch
	touch "$fake/linux/.git/sandbox/keep"
	tree prepare >"$fake/keep.out" 2>&1 || rc=$?
	expect_status 0 "$rc" "prepare with the keep file" || return
	expect_grep 'KEEP' "$fake/keep.out" "says it keeps linux/" || return
	sed -i 's/spell 4/spell IV/' "$fake/patches/"0002-*.patch
	rc=0
	tree prepare >"$fake/keep2.out" 2>&1 || rc=$?
	expect_status 65 "$rc" "prepare after patches/ changed again" || return
	grep -q '^edit$' "$fake/linux/mm/mremap.c" || fail "the edit is gone"
}

# The pin is no longer served: the newest 6.1 is imported with a warning
# naming both versions; the base commit and linux-status say which.
test_pin_not_served_falls_back() {
	local rc=0
	fake="$scratch/pin"
	make_fake_package "$fake" 6.1.0-fake2
	make_stubs "$fake/bin"
	mkdir -p "$fake/dl"
	FAKE_REFUSE=6.1.0-fake1 FAKE_MADISON="6.1.0-fake2 6.1.0-fake1" PIN=6.1.0-fake1 \
		tree prepare >"$fake/pin.out" 2>&1 || rc=$?
	sed 's/^/# /' "$fake/pin.out"
	expect_status 0 "$rc" "prepare with the pin refused" || return
	expect_grep 'warning: linux-source-6.1=6.1.0-fake1 \(the pin\) is no longer served; using the newest 6.1 there is, 6.1.0-fake2' \
		"$fake/pin.out" "the warning names both" || return
	lx log -1 --format=%B base >"$fake/base.msg"
	expect_grep '^Debian linux-source-6.1 6.1.0-fake2 \(pristine\)$' "$fake/base.msg" "base names the version" || return
	expect_grep 'The pin, 6.1.0-fake1, was not served' "$fake/base.msg" "base names the pin" || return
	PIN=6.1.0-fake1 tree status >"$fake/pin-status.out" 2>&1 || fail "status failed" || return
	expect_grep '^base: 6.1.0-fake2, not the pin 6.1.0-fake1' "$fake/pin-status.out" "status shows it"
}

# On the newer version a patch that does not apply fails as always: its
# name and git's reason, and linux/ is left clean.
test_pin_fallback_patch_fails_cleanly() {
	local rc=0
	fake="$scratch/pin-bad"
	make_fake_package "$fake" 6.1.0-fake2
	make_stubs "$fake/bin"
	mkdir -p "$fake/dl"
	sed -i 's/^-line 3$/-line 33/' "$fake/patches/"0001-*.patch
	FAKE_REFUSE=6.1.0-fake1 FAKE_MADISON="6.1.0-fake2" PIN=6.1.0-fake1 \
		tree prepare >"$fake/bad.out" 2>&1 || rc=$?
	expect_status 66 "$rc" "prepare with a patch that does not apply" || return
	expect_grep '0001-.*\.patch does not apply' "$fake/bad.out" "names the patch" || return
	expect_grep 'git am: ' "$fake/bad.out" "gives git's reason" || return
	[[ -z "$(lx status --porcelain)" ]] || fail "linux/ is not clean"
}

# Neither the pin nor anything newer: the download's own error, no warning.
test_pin_and_nothing_else() {
	local rc=0
	fake="$scratch/pin-none"
	make_fake_package "$fake"
	make_stubs "$fake/bin"
	mkdir -p "$fake/dl"
	FAKE_REFUSE=6.1.0-fake1 FAKE_MADISON="6.1.0-fake1" PIN=6.1.0-fake1 \
		tree prepare >"$fake/none.out" 2>&1 || rc=$?
	expect_status 67 "$rc" "prepare with only the refused pin" || return
	expect_grep "Can't find a source to download version '6.1.0-fake1'" "$fake/none.out" "apt's reason" || return
	! grep -q warning "$fake/none.out" || fail "a fallback warning without a fallback"
}

ktap_run_all linux-tree "${1:-}"
