#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# linux-tree.sh decides by content: undoing an export builds, real work is named, the pin falls back.
#
# Usage: tests/host/test_linux_tree.sh [PATTERN]   (runs the test_* functions matching it)
#
# Runs on a stand-in source package imported the way make imports Debian's
# (tests/host/fake.sh: apt-get and apt-cache are stubs, nothing is
# downloaded), and on a smaller one, a git tree alone.  Prints KTAP.
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

# --- a small stand-in for linux/ ---------------------------------------------
# A git tree alone, no package imported: the same git layout, tags and
# state the import leaves.  Local work survives, a failed apply leaves the
# tree clean, export is reproducible, and the real linux/ is patches/.

make_fake_tree() {
	local -r dir="$1"
	mkdir -p "$dir/linux/mm" "$dir/patches"
	git init -q -b main "$dir/linux"
	printf 'line %s\n' 1 2 3 4 5 >"$dir/linux/mm/mremap.c"
	(cd "$dir/linux" && git add -A && git commit -q -m pristine && git tag base)
	mkdir -p "$dir/linux/.git/sandbox"
	echo "6.1.0-fake" >"$dir/linux/.git/sandbox/version"
	git -C "$dir/linux" rev-parse HEAD >"$dir/linux/.git/sandbox/head"
	# One patch of the "series", made the way export makes it.
	git clone -q "$dir/linux" "$dir/work"
	sed -i 's/line 3/line three/' "$dir/work/mm/mremap.c"
	(cd "$dir/work" && git commit -q -a -m "mm/mremap: spell three")
	git -C "$dir/work" format-patch -q -o "$dir/patches" base..HEAD
	(cd "$dir/patches" && ls -- *.patch >series)
}

# small_tree ARGS...: linux-tree.sh on the small stand-in $fake.
small_tree() {
	LINUX="$fake/linux" PATCHES="$fake/patches" "$TREE" "$@"
}

# setup_fake NAME: the small stand-in, prepared, in $scratch/fake-NAME.
setup_fake() {
	fake="$scratch/fake-$1"
	make_fake_tree "$fake"
	small_tree prepare >/dev/null
}

# make with patches/ changed and an uncommitted edit in linux/ refuses (65)
# and the edit survives, byte for byte.
test_changed_patches_keep_local_edit() {
	local rc=0
	setup_fake edit
	echo "my work" >>"$fake/linux/mm/mremap.c"
	sed -i 's/spell three/spell 3/' "$fake/patches/"*.patch
	small_tree prepare >"$scratch/edit.out" 2>&1 || rc=$?
	expect_status 65 "$rc" "prepare over an edit" || return
	expect_grep "make export-patches" "$scratch/edit.out" "says how to proceed" || return
	grep -q "my work" "$fake/linux/mm/mremap.c" || fail "the edit is gone"
}

# A commit in linux/ that is not in patches/ blocks re-applying as well, and
# reset-linux without CONFIRM=1 keeps it.
test_unexported_commit_is_kept() {
	local rc=0 head
	setup_fake commit
	echo "my work" >>"$fake/linux/mm/mremap.c"
	git -C "$fake/linux" commit -q -a -m "my commit"
	head="$(git -C "$fake/linux" rev-parse HEAD)"
	echo "# comment" >>"$fake/patches/series"
	sed -i 's/spell three/spell 3/' "$fake/patches/"*.patch
	small_tree prepare >"$scratch/commit.out" 2>&1 || rc=$?
	expect_status 65 "$rc" "prepare over a commit" || return
	expect_grep "my commit" "$scratch/commit.out" "names the commit" || return
	rc=0
	small_tree reset >"$scratch/reset.out" 2>&1 || rc=$?
	expect_status 65 "$rc" "reset without CONFIRM=1" || return
	[[ "$(git -C "$fake/linux" rev-parse HEAD)" == "$head" ]] || fail "HEAD moved"
}

# A patch that does not apply stops with its name and git's reason, and
# leaves linux/ clean: no half-finished git am, no modified file.
test_failed_apply_leaves_tree_clean() {
	local rc=0
	setup_fake apply
	sed -i 's/^-line 3$/-line 33/' "$fake/patches/"*.patch
	small_tree prepare >"$scratch/apply.out" 2>&1 || rc=$?
	expect_status 66 "$rc" "prepare with a broken patch" || return
	expect_grep "0001-mm-mremap-spell-three.patch does not apply" "$scratch/apply.out" \
		"names the patch" || return
	[[ ! -d "$fake/linux/.git/rebase-apply" ]] || fail "git am left in progress" || return
	[[ -z "$(git -C "$fake/linux" status --porcelain)" ]] || fail "linux/ is not clean"
}

# Re-applying changed patches rewrites only files whose content changes:
# an unchanged result keeps its mtime, so the kernel is not rebuilt.
test_reapply_keeps_unchanged_files() {
	setup_fake mtime
	touch -d '2001-01-01' "$fake/linux/mm/mremap.c"
	# A new commit message: new commits, the same files.
	sed -i 's/spell three/spell 3/' "$fake/patches/"*.patch
	small_tree prepare >"$scratch/mtime.out" 2>&1 || fail "prepare failed" || return
	expect_grep "REAPPLY" "$scratch/mtime.out" "re-applied" || return
	expect_grep "spell 3" <(git -C "$fake/linux" log -1 --format=%s) "new commit" || return
	[[ "$(stat -c %Y "$fake/linux/mm/mremap.c")" == "$(date -d 2001-01-01 +%s)" ]] ||
		fail "mm/mremap.c was rewritten although its content is the same"
}

# A series file naming a missing patch is an error that says so.
test_series_names_missing_patch() {
	local rc=0
	setup_fake missing
	echo "0002-not-there.patch" >>"$fake/patches/series"
	small_tree prepare >"$scratch/missing.out" 2>&1 || rc=$?
	expect_status 71 "$rc" "prepare with a missing patch" || return
	expect_grep "names 0002-not-there.patch, which does not exist" "$scratch/missing.out" "message"
}

# export-patches of an unchanged tree rewrites patches/ identically.
test_export_is_reproducible() {
	setup_fake export
	small_tree export >/dev/null
	cp -r "$fake/patches" "$scratch/export-1"
	small_tree reset >/dev/null
	small_tree export >/dev/null
	diff -r "$scratch/export-1" "$fake/patches" | sed 's/^/# /' || true
	diff -rq "$scratch/export-1" "$fake/patches" >/dev/null || fail "export changed patches/"
}

# The real linux/, exported afresh, is exactly patches/: what is committed is
# what is built.
test_patches_match_linux() {
	[[ -d "$TOP/linux/.git" ]] || skip "no linux/ yet (make source)" || return
	local work
	if [[ "$(git -C "$TOP/linux" rev-parse HEAD)" != "$(cat "$TOP/linux/.git/sandbox/head")" ]]; then
		skip "linux/ has commits not yet exported" || return
	fi
	"$TREE" export "$scratch/exported" >/dev/null
	# What export writes; not the files beside it (the justified checkpatch
	# findings, the upstream kernel's own patches).
	work="$(diff -r -x checkpatch-justified -x upstream "$TOP/patches" "$scratch/exported" || true)"
	[[ -z "$work" ]] || { printf '%s\n' "$work" | head -n 40 | sed 's/^/# /'; fail "patches/ differs from an export of linux/"; }
}

ktap_run_all linux-tree "${1:-}"
