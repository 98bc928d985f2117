#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build/host/stale, the helper of make all's stamp: every change seen, by the walk and by its watcher.
#
# Usage: tests/host/test_stale.sh [PATTERN]   (runs the test_* functions matching it)
# Builds build/host/stale with make (BUILD names another build/); prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-stale-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# stale_tree DIR OUTSIDE: a fresh small tree in DIR, with .git and
# __pycache__ (never looked into), an old file, a symbolic link and a file
# with a second name, OUTSIDE, out of the tree.
stale_tree() {
	rm -rf "$1" "$2"
	mkdir -p "$1/mm/deep/er" "$1/.git" "$1/scripts/__pycache__"
	echo "int x;" >"$1/mm/mremap.c"
	echo "int y;" >"$1/mm/deep/er/old.h"
	echo "int l;" >"$1/mm/deep/linked.h"
	ln "$1/mm/deep/linked.h" "$2"
	echo x >"$1/.git/index"
	ln -s mremap.c "$1/mm/link"
	touch -d '2000-01-01' "$1/mm/deep/er/old.h"
}

# stale_after WHAT CMD...: make a fresh stamp of a small tree, run CMD on
# the tree, and print the helper's verdict (0 stale, 1 up to date).  How
# it is asked, $mode: walk (-w, the walk alone), built (the watcher that
# stale -d leaves after a build) or check (the default: a first check on
# the unchanged tree walks and leaves the watcher).  With a watcher, the
# verdict must be its own: "(watcher)" in it, not a walk's.
stale_after() {
	local -r what="$1" t="$scratch/st-tree" st="$scratch/st-stamp"
	shift
	local rc=0
	rm -f "$st"
	# A write through the name outside the tree is a change.
	stale_tree "$t" "$scratch/st-outside"
	sleep 0.02
	{ echo "watch $t"; echo "need $t/mm/mremap.c"; } >"$st"
	sleep 0.02
	case "${mode:-walk}" in
	walk) ;;
	built)
		"$STALE" -d "$st" && fail "no watcher started" && return 2
		# It sets up in the background; until then a check walks.
		wait_watcher "$st" || return 2
		;;
	check)
		rc=0
		"$STALE" "$st" || rc=$?
		[[ $rc -eq 1 ]] || { fail "an unchanged tree is stale (exit $rc)"; return 2; }
		wait_watcher "$st" || return 2
		;;
	esac
	(cd "$t" && eval "$*")
	rc=0
	if [[ "${mode:-walk}" == walk ]]; then
		"$STALE" -v -w "$st" >"$scratch/st.out" || rc=$?
	else
		"$STALE" -v "$st" >"$scratch/st.out" || rc=$?
	fi
	diag "$what: $(cat "$scratch/st.out") (exit $rc)"
	if [[ "${mode:-walk}" != walk ]] && ! grep -q '(watcher)$' "$scratch/st.out"; then
		fail "$what: not the watcher's verdict"
		return 2
	fi
	return "$rc"
}

# watcher_pids STAMP: the watchers of STAMP (their command line names it).
watcher_pids() {
	pgrep -x stale-watcher -a | awk -v s="$1" '$NF == s { print $1 }'
}

# Every kind of change to a watched tree is seen, however deep; an
# unchanged tree, and changes inside .git or __pycache__, are not.
test_stale_sees_every_change() {
	local change rc
	for change in "echo '/* edit */' >>mm/mremap.c" \
		"echo 'int z;' >mm/deep/er/new.c" \
		"rm mm/deep/er/old.h" \
		"mv mm/deep/er/old.h mm/deep/er/moved.h" \
		"mv mm/deep/er mm/deep/moved" \
		"mkdir mm/deep/er/sub" \
		"echo 'int w;' >mm/deep/er/old.h; touch -d '2000-01-01' mm/deep/er/old.h" \
		"chmod +x mm/deep/er/old.h" \
		"ln -sfn deep mm/link" \
		"echo '/* via the other name */' >>'$scratch/st-outside'" \
		"mkdir mm/deep/__pycache__" \
		"rm mm/mremap.c; mkdir mm/mremap.c"; do
		rc=0
		stale_after "$change" "$change" || rc=$?
		expect_status 0 "$rc" "stale after: $change" || return
	done
	for change in true "echo y >.git/index" "echo c >scripts/__pycache__/x.pyc" \
		"cat mm/mremap.c >/dev/null"; do
		rc=0
		stale_after "$change" "$change" || rc=$?
		expect_status 1 "$rc" "up to date after: $change" || return
	done
}

# The same through the inotify watcher, as stale -d leaves it after a
# build and as the default check leaves it: it answers an unchanged tree
# itself, sees every change made right before the question, says stale
# from then on, and ends when its stamp goes or is rewritten.
test_stale_watcher_sees_every_change() {
	local mode rc pids
	for mode in built check; do
		diag "--- the watcher of $mode"
		test_stale_sees_every_change || return
	done
	mode=check
	stale_after "unchanged" true || true
	expect_grep '^up to date \(watcher\)' "$scratch/st.out" "the watcher answered" || return
	echo "int q;" >>"$scratch/st-tree/mm/mremap.c"
	for _ in 1 2; do
		rc=0
		"$STALE" -v "$scratch/st-stamp" >"$scratch/st.out" || rc=$?
		expect_status 0 "$rc" "after a change, asked again" || return
		expect_grep '^changed .*/mm/mremap.c \(watcher\)$' "$scratch/st.out" \
			"the watcher says so" || return
	done
	echo "watch $scratch/st-tree" >"$scratch/st-stamp"
	sleep 0.3
	pids="$(watcher_pids "$scratch/st-stamp")"
	[[ -z "$pids" ]] || fail "the watcher outlived the rewrite of its stamp: $pids" || return
	stale_after "unchanged" true || true
	rm -f "$scratch/st-stamp"
	sleep 0.3
	pids="$(watcher_pids "$scratch/st-stamp")"
	[[ -z "$pids" ]] || fail "the watcher outlived its stamp: $pids"
}

# A change made while the check's walk sets the watcher up is seen: the
# check is stopped half way through its watches (SIGSTOP, let run in
# short steps until its inotify descriptor holds 20), a file is changed
# in a directory it watches already or, the second time, in one it does
# not watch yet, and the check goes on; whatever it answers, the next
# check must say stale.  (stale -d runs the same walk, in the background.)
test_stale_watcher_change_while_starting() {
	local -r t="$scratch/ws-tree" st="$scratch/ws-stamp"
	local where pid n dir rc state attempt
	local -a fdinfo wp
	for where in watched unwatched; do
		rm -rf "$t" "$st"
		mkdir -p "$t"
		(cd "$t" && mkdir d{000..999} && touch d{000..999}/f.c)
		sleep 0.02
		echo "watch $t" >"$st"
		sleep 0.02
		# A loaded machine may let the check run through before the
		# stop lands: then try again, a few times.
		for attempt in 1 2 3 4 5 6 7 8; do
			(kill -STOP "$BASHPID" && exec "$STALE" "$st") &
			pid=$!
			n=0
			for _ in {1..50000}; do
				kill -CONT "$pid" 2>/dev/null
				kill -STOP "$pid" 2>/dev/null || break
				# Stopped for real before its watches are counted.
				for _ in {1..1000}; do
					read -r _ _ state _ <"/proc/$pid/stat" 2>/dev/null || break
					[[ "$state" == T ]] && break
				done
				if [[ "$(readlink "/proc/$pid/fd/3" 2>/dev/null)" == anon_inode:inotify ]] &&
					mapfile -t fdinfo <"/proc/$pid/fdinfo/3" 2>/dev/null; then
					n=$((${#fdinfo[@]} - 4))
					((n < 20)) || break
				fi
			done
			fdinfo=()
			mapfile -t fdinfo <"/proc/$pid/fdinfo/3" 2>/dev/null || true
			n=$((${#fdinfo[@]} - 4))
			((n < 20 || n >= 1000)) || break
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null || true
			# A check that ran through may have left its watcher.
			mapfile -t wp < <(watcher_pids "$st")
			((${#wp[@]} == 0)) || kill "${wp[@]}" 2>/dev/null || true
			diag "attempt $attempt: not stopped half way ($n watches), again"
		done
		if ((n < 20 || n >= 1000)); then
			fail "could not stop the check half way in $attempt attempts ($n watches)"
			return
		fi
		# The watched inodes, in hex; a directory of the tree that is
		# (or is not) among them.
		dir="$(printf '%s\n' "${fdinfo[@]}" | sed -n 's/.* ino:\([0-9a-f]*\) .*/\1/p' |
			awk -v want="$where" -v t="$t" '
				{ w[$1] = 1 }
				END {
					cmd = "stat -c \"%i %n\" " t "/d*"
					while ((cmd | getline line) > 0) {
						split(line, f, " ")
						h = sprintf("%x", f[1])
						if ((h in w) == (want == "watched")) { print f[2]; exit }
					}
				}')"
		[[ -n "$dir" ]] || { fail "no $where directory at $n watches"; return; }
		echo "/* changed while starting */" >>"$dir/f.c"
		kill -CONT "$pid"
		rc=0
		wait "$pid" || rc=$?
		diag "stopped at $n watches, changed ${dir#"$t"/}/f.c ($where): the check said $rc"
		rc=0
		"$STALE" -v "$st" >"$scratch/ws.out" || rc=$?
		diag "then: $(cat "$scratch/ws.out")"
		expect_status 0 "$rc" "the next check, after a change in a $where directory" || return
	done
	rm -f "$st"
}

# The watcher ends on its own after SANDBOX_WATCH_IDLE seconds without a
# question (each question starts the count again); then a check walks.
test_stale_watcher_idle_exit() {
	local -x SANDBOX_WATCH_IDLE=1
	local mode=check rc i pids
	stale_after "unchanged" true || true
	for i in 1 2 3 4; do
		sleep 0.5
		"$STALE" -v "$scratch/st-stamp" >"$scratch/st.out" || true
		expect_grep '^up to date \(watcher\)$' "$scratch/st.out" \
			"asked every 0.5 s, still there after $i x 0.5 s" || return
	done
	sleep 2
	pids="$(watcher_pids "$scratch/st-stamp")"
	[[ -z "$pids" ]] || fail "the watcher is still there after 2 s without a question: $pids" ||
		return
	rc=0
	"$STALE" -v "$scratch/st-stamp" >"$scratch/st.out" || rc=$?
	expect_status 1 "$rc" "the check after its exit" || return
	if grep -q watcher "$scratch/st.out"; then
		fail "answered by a watcher that should be gone"
		return
	fi
	rm -f "$scratch/st-stamp"
}

# A watcher keeps nothing of its caller: "stale STAMP | cat" (the check
# that leaves it) and "stale -d STAMP | cat" end at once, with another
# descriptor of the pipe given too; it holds /dev/null, its inotify
# descriptor and its socket only, in a session of its own, in "/".  A
# second watcher of the same stamp does not stay.
test_stale_watcher_holds_nothing() {
	local mode=walk how t0 t1 pid fd target pids
	for how in "" -d; do
		stale_after "unchanged" true || true
		t0=$EPOCHREALTIME
		# shellcheck disable=SC2016 # for the inner shell
		bash -c '"$1" $2 "$3" 9>&1 | timeout 5 cat >/dev/null' _ \
			"$STALE" "$how" "$scratch/st-stamp" || true
		t1=$EPOCHREALTIME
		diag "stale $how STAMP | cat: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s"
		awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 2) }' ||
			fail "stale $how STAMP | cat waited for the watcher" || return
		wait_watcher "$scratch/st-stamp" || return
		pid="$(watcher_pids "$scratch/st-stamp")"
		[[ "$pid" =~ ^[0-9]+$ ]] || fail "not one watcher: '$pid'" || return
		for fd in "/proc/$pid/fd/"*; do
			target="$(readlink "$fd")"
			case "$target" in
			/dev/null | anon_inode:inotify | socket:*) ;;
			*) fail "the watcher holds ${fd##*/} -> $target" || return ;;
			esac
		done
		[[ "$(readlink "/proc/$pid/cwd")" == / ]] ||
			fail "the watcher's directory: $(readlink "/proc/$pid/cwd")" || return
		[[ "$(ps -o sid= -p "$pid")" -eq "$pid" ]] ||
			fail "the watcher is not in a session of its own" || return
		local -a fds=("/proc/$pid/fd/"*)
		diag "stale $how: watcher $pid holds ${#fds[@]} descriptors, in /, session $pid"
		"$STALE" -d "$scratch/st-stamp" || true
		sleep 0.5
		pids="$(watcher_pids "$scratch/st-stamp" | wc -l)"
		expect_status 1 "$pids" "watchers of one stamp after a second stale -d" || return
	done
	rm -f "$scratch/st-stamp"
}

# Out of inotify watches (or instances), the check walks: exact, silent,
# and no watcher stays.  The limit is lowered for real, in a user
# namespace of its own (unshare -r) where the tree's 60 directories need
# more watches than it has.
test_stale_falls_back_without_watches() {
	local -r t="$scratch/fb-tree" st="$scratch/fb-stamp"
	local limit knob value out pids
	unshare -Ur true 2>/dev/null || skip "no user namespace to lower the limits in (unshare -Ur)" ||
		return
	for limit in "max_inotify_watches 20" "max_inotify_instances 0"; do
		read -r knob value <<<"$limit"
		rm -rf "$t" "$st"
		mkdir -p "$t"/d{00..59}/sub
		touch "$t"/d{00..59}/sub/f.c
		sleep 0.02
		echo "watch $t" >"$st"
		sleep 0.02
		# shellcheck disable=SC2016 # for the inner shell
		out="$(unshare -Ur bash -c '
			echo "$4" >"/proc/sys/user/$3" || exit 9
			"$1" -v "$2"; echo "rc $?"
			sleep 0.3
			"$1" -v "$2"; echo "rc $?"
			echo "/* x */" >>"$5"
			"$1" -v "$2"; echo "rc $?"' _ "$STALE" "$st" "$knob" "$value" "$t/d59/sub/f.c" 2>&1)" ||
			true
		diag "with $limit: $(printf '%s' "$out" | tr '\n' ' ')"
		[[ "$out" == "rc 1"$'\n'"rc 1"$'\n'"changed $t/d59/sub/f.c"$'\n'"rc 0" ]] ||
			fail "with $limit: want up to date twice by walking, then the change" || return
		pids="$(watcher_pids "$st")"
		[[ -z "$pids" ]] || fail "with $limit: a watcher stayed: $pids" || return
	done
	rm -f "$st"
}

# A product listed as needed that is missing makes the build stale.
test_stale_needs_products() {
	local rc=0
	stale_after "product removed" "rm -f '$scratch/st-tree/mm/mremap.c'" || rc=$?
	expect_status 0 "$rc" "product removed" || return
	expect_grep '^(missing|changed) ' "$scratch/st.out" "reason given"
}

# stale -l lists every changed file of the tree (not only the first), and
# each directory where a file came or went: the planner's input.
test_stale_lists_every_change() {
	local -r t="$scratch/sl-tree" st="$scratch/sl-stamp"
	local rc=0
	rm -rf "$t" && mkdir -p "$t/mm/deep" "$t/include"
	echo "int a;" >"$t/mm/a.c"
	echo "int b;" >"$t/mm/deep/b.c"
	echo "int h;" >"$t/include/h.h"
	sleep 0.02
	echo "watch $t" >"$st"
	sleep 0.02
	echo "/* x */" >>"$t/mm/a.c"
	echo "int n;" >"$t/mm/deep/new.c"
	"$STALE" -l "$st" >"$scratch/sl.out" || rc=$?
	expect_status 0 "$rc" "stale -l after two changes" || return
	sort "$scratch/sl.out" >"$scratch/sl.sorted"
	printf '%s\n' "$t/mm/a.c" "$t/mm/deep/new.c" "+dir $t/mm/deep" | sort >"$scratch/sl.want"
	cmp -s "$scratch/sl.sorted" "$scratch/sl.want" ||
		fail "listed: $(tr '\n' ' ' <"$scratch/sl.sorted"), want: $(tr '\n' ' ' <"$scratch/sl.want")" ||
		return
	rc=0
	echo "watch $t" >"$st"
	"$STALE" -l "$st" >"$scratch/sl.out" || rc=$?
	expect_status 1 "$rc" "stale -l on an unchanged tree"
}

# stale -l -a: the watcher of an older stamp (make all's) lists what the
# walk lists, line for line, after every kind of change; where it cannot
# follow (a directory created or moved in), the walk answers.  Without
# the watcher's list (-a), or with a stamp newer than ours, the walk.  The
# older stamp watches a tree around ours (as make all's holds linux/).
test_stale_watcher_lists_as_the_walk() {
	local -r t="$scratch/sw-tree/in" ask="$scratch/sw-ask" st="$scratch/sw-stamp"
	local change by rc want
	for change in "echo '/* edit */' >>mm/mremap.c" \
		"echo 'int z;' >mm/deep/er/new.c" \
		"echo 'int z;' >mm/deep/er/new.c; rm mm/deep/er/new.c" \
		"rm mm/deep/er/old.h" \
		"mv mm/deep/er/old.h mm/deep/er/moved.h" \
		"mv mm/deep/er/old.h mm/moved.h" \
		"echo 'int w;' >mm/deep/er/old.h; touch -d '2000-01-01' mm/deep/er/old.h" \
		"chmod +x mm/deep/er/old.h" \
		"chmod 700 mm/deep/er" \
		"ln -sfn deep mm/link" \
		"echo '/* via the other name */' >>'$scratch/sw-outside'" \
		"echo y >.git/index; echo c >scripts/__pycache__/x.pyc" \
		"touch .git; echo n >notes" \
		"cat mm/mremap.c >/dev/null" \
		"rm -r mm/deep/er" \
		"mv mm/deep/er mm/deep/moved" \
		"mkdir mm/deep/er/sub; echo 'int s;' >mm/deep/er/sub/s.c"; do
		rm -f "$ask" "$st"
		stale_tree "$t" "$scratch/sw-outside"
		sleep 0.02
		echo "watch $scratch/sw-tree" >"$ask"
		sleep 0.02
		echo "watch $t" >"$st"
		"$STALE" -d "$ask" && fail "no watcher started" && return
		wait_watcher "$ask" || return
		(cd "$t" && eval "$change")
		rc=0
		"$STALE" -l "$st" | sort >"$scratch/sw.walk" || rc=$?
		"$STALE" -v -l -a "$ask" "$st" 2>"$scratch/sw.by" | sort >"$scratch/sw.out" || rc=$?
		by="$(cat "$scratch/sw.by")"
		diag "$change: $(wc -l <"$scratch/sw.out") line(s), $by"
		cmp -s "$scratch/sw.walk" "$scratch/sw.out" ||
			fail "$change: the walk listed $(tr '\n' ' ' <"$scratch/sw.walk")," \
				"with -a: $(tr '\n' ' ' <"$scratch/sw.out")" || return
		case "$change" in
		"rm -r"* | "mv mm/deep/er mm/"* | mkdir*) want="the walk" ;;
		*) want="the watcher of $ask" ;;
		esac
		[[ "$by" == "listed by $want" ]] || fail "$change: $by, not $want" || return
	done
	# The watcher's stamp newer than ours: it may have missed a change.
	echo "watch $scratch/sw-tree" >"$ask"
	"$STALE" -d "$ask" && fail "no watcher started" && return
	wait_watcher "$ask" || return
	"$STALE" -v -l -a "$ask" "$st" >/dev/null 2>"$scratch/sw.by" || true
	expect_grep '^listed by the walk$' "$scratch/sw.by" "a newer stamp's watcher is not asked"
}

main() {
	# Made once, before the tests: they ask it hundreds of times.
	host_tool stale >&2 || exit 1
	readonly STALE="$REPLY"
	ktap_run_all test_stale "${1:-}"
}

main "$@"
