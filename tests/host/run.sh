#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host-side tests of the sandbox's tooling: run-uml.sh and linux-tree.sh.
#
# Usage: tests/host/run.sh [PATTERN]   (runs the test_* functions matching it)
# Needs a built kernel and rootfs (make all); prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly RUN="$TOP/run-uml.sh"
readonly TREE="$TOP/scripts/source/linux-tree.sh"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

# The fake trees' commits need an identity, whatever the machine has.
export GIT_AUTHOR_NAME=mremap-sandbox GIT_AUTHOR_EMAIL=mremap-sandbox@localhost
export GIT_COMMITTER_NAME=mremap-sandbox GIT_COMMITTER_EMAIL=mremap-sandbox@localhost

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-host-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# run_uml OUTPUT_PREFIX ARGS...: run the guest, keep stdout/stderr, return its status.
run_uml() {
	local -r out="$1"
	shift
	local rc=0
	"$RUN" --no-build "$@" >"$out.out" 2>"$out.err" </dev/null || rc=$?
	return "$rc"
}

# --- run-uml.sh ---------------------------------------------------------------

# The guest command's exit status is the script's, for 0, 1, 42 and 127.
test_exit_status_passthrough() {
	local cmd want rc
	for cmd in "true:0" "false:1" "sh -c 'exit 42':42" "no-such-command:127"; do
		want="${cmd##*:}"
		rc=0
		eval "run_uml \"\$scratch/st\" -t 60 -- ${cmd%:*}" || rc=$?
		expect_status "$want" "$rc" "-- ${cmd%:*}" || return
	done
}

# The command's output reaches stdout, and nothing of the kernel's does.
test_command_output_is_clean() {
	run_uml "$scratch/out" -t 60 -- uname -r || fail "uname -r failed" || return
	[[ "$(cat "$scratch/out.out")" =~ ^6\.1\.[0-9]+ ]] ||
		fail "stdout is '$(head -c 200 "$scratch/out.out")', expected only the kernel version"
}

# --timeout kills a hanging guest: status 124, no process and no temp file left.
test_timeout_kills_everything() {
	local -r tag="timeout-$$-$RANDOM" tmpd="$scratch/tmpdir"
	local rc=0 start end
	mkdir -p "$tmpd"
	start=$(date +%s)
	TMPDIR="$tmpd" run_uml "$scratch/to" -t 3 -a "sandbox.tag=$tag" -- sleep 600 || rc=$?
	end=$(date +%s)
	expect_status 124 "$rc" "sleep 600 with --timeout 3" || return
	[[ $((end - start)) -lt 30 ]] || fail "took $((end - start)) s to time out" || return
	sleep 0.5
	if pgrep -f "sandbox.tag=$tag" >/dev/null; then
		pgrep -af "sandbox.tag=$tag" | sed 's/^/# left: /'
		fail "UML processes survived the timeout"
		return
	fi
	[[ -z "$(ls -A "$tmpd")" ]] || fail "temp files left: $(ls -A "$tmpd")"
}

# A hostile guest (root in its read-only build/rootfs, writing its own
# scratch directory and its results line) cannot make run-uml.sh read,
# write or run anything of the host's: a status that bash would evaluate,
# a results line flooded past its bound, links in the scratch directory to
# host files and directories (which the host's clean-up must not follow).
# Each is refused or harmless, said, and nothing outside changes.
test_hostile_guest_files() {
	local -r canary="$scratch/canary-status" pwned="$scratch/pwned"
	# refused OUT SCRIPT MESSAGE WHAT: the guest runs SCRIPT and powers
	# off at once (init writes no status); the run ends as 125 and
	# run-uml.sh says MESSAGE.
	refused() {
		local rc=0
		run_uml "$scratch/$1" -t 120 -- sh -c "$2; poweroff -f" || rc=$?
		expect_status 125 "$rc" "$4" || return
		expect_grep "$3" "$scratch/$1.err" "$4: refused"
	}
	echo 7 >"$canary"
	mkdir -p "$scratch/keep" && echo kept >"$scratch/keep/file"
	refused hg1 "echo 'sandbox-status: a[\$(touch $pwned)]' >/dev/ttyS1" \
		'status that is not a number' "a status with a command substitution" || return
	[[ ! -e "$pwned" ]] || fail "the guest's status ran a command on the host" || return
	refused hg2 "head -c 17000000 /dev/zero >/dev/ttyS1; echo; echo 'sandbox-status: 0' >/dev/ttyS1" \
		'more than 16 MB to its results line' "a results line flooded past 16 MB" || return
	local rc=0
	run_uml "$scratch/hg3" -t 60 -- sh -c "ln -s '$canary' /scratch/status &&
		ln -s '$scratch/keep' /scratch/dir && ln -sf '$scratch/keep/file' /scratch/cmd" || rc=$?
	expect_status 0 "$rc" "links to host files in the scratch directory" || return
	[[ "$(cat "$canary")" == 7 && "$(cat "$scratch/keep/file")" == kept && -f "$scratch/hg3.err" ]] ||
		fail "a host file changed" || return
	diag "the canary still holds 7, nothing ran, the linked directory is intact"
}

# A WARNING provoked in the guest fails the run (121) and shows the splat,
# although the command itself succeeded.
test_kernel_warning_fails_run() {
	local rc=0
	run_uml "$scratch/warn" -t 60 -- \
		sh -c 'echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT' || rc=$?
	expect_status 121 "$rc" "lkdtm WARNING" || return
	expect_grep 'WARNING: CPU: 0 PID: [0-9]+ at .*lkdtm' "$scratch/warn.err" "splat on stderr"
}

# At a panic UML writes the whole kernel log once more to stdout
# (kmsg_dump), and the panic's call trace may reach the console log after
# it, or amid it: splat-class skips the dump's lines (the same splats
# again), not the rest of the log.  A classifier that stopped at the dump
# lost the trace, and the decoding of it.
test_splat_trace_after_kmsg_dump() {
	local -r log="$scratch/dump.log" out="$scratch/dump.out"
	local rc=0
	make -s -C "$TOP" "$TOP/build/host/splat-class" >/dev/null
	cat >"$log" <<-'EOF'
		[    0.110000] lkdtm: Performing direct entry BUG
		[    0.110000] BUG: failure at drivers/misc/lkdtm/bugs.c:78/lkdtm_BUG()!
		[    0.110000] Kernel panic - not syncing: BUG!
		kmsg_dump:
		<5>[    0.000000] Linux version 6.1.192+
		<4>[    0.050000] WARNING: CPU: 0 PID: 1 at mm/mremap.c:1 a_dumped_warning
		<0>[    0.110000] Kernel panic - not syncing: BUG!
		[    0.110000] CPU: 0 PID: 18 Comm: sh Not tainted 6.1.192+ #283
		[    0.110000] Call Trace:
		[    0.110000]  [<60218b58>] ? panic+0x18c/0x367
		[    0.110000]  [<6022e558>] ? lkdtm_BUG+0x0/0x4b
	EOF
	"$TOP/build/host/splat-class" -t "$scratch/dump.trace" "$log" >"$out" || rc=$?
	expect_status 0 "$rc" "splat-class on a log with the trace after the dump" || return
	expect_grep '^classes: BUG, panic$' "$out" "the dump's WARNING not counted again" || return
	expect_grep '^  \| .*\[<60218b58>\] \? panic\+0x18c/0x367' "$out" "the trace after the dump shown" || return
	expect_grep 'panic\+0x18c/0x367' "$scratch/dump.trace" "and written for decode_stacktrace.sh"
}

# Two guests at once do not collide: each gets its own status.
test_concurrent_runs() {
	local rc1=0 rc2=0 p1 p2
	run_uml "$scratch/c1" -t 120 -- sh -c 'sleep 1; exit 3' &
	p1=$!
	run_uml "$scratch/c2" -t 120 -- sh -c 'sleep 1; exit 5' &
	p2=$!
	wait "$p1" || rc1=$?
	wait "$p2" || rc2=$?
	expect_status 3 "$rc1" "first guest" || return
	expect_status 5 "$rc2" "second guest"
}

# Bad options print a usage hint and exit 64 before anything is booted.
test_bad_options() {
	local args rc
	for args in "--bogus" "--timeout" "--timeout abc" "--mem lots" "--kernel nonsense"; do
		rc=0
		# shellcheck disable=SC2086 # split on purpose
		"$RUN" --no-build $args -- true >"$scratch/bad.out" 2>"$scratch/bad.err" || rc=$?
		expect_status 64 "$rc" "$args" || return
		expect_grep "error: " "$scratch/bad.err" "$args" || return
	done
}

# --- staleness: what triggers a rebuild or a restage ---------------------------

# build/host/stale, built here so the tests do not need make all.
stale_bin() {
	local -a cc
	if [[ ! -x "$scratch/stale" ]]; then
		# make's own command for it (SANDBOX_SANITIZE=1 included).
		read -r -a cc < <(make -s -C "$TOP" host-tool-cmd NAME=stale)
		"${cc[@]}" -o "$scratch/stale" "$TOP/scripts/build/stale.c"
	fi
	printf '%s\n' "$scratch/stale"
}

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
		"$(stale_bin)" -d "$st" && fail "no watcher started" && return 2
		# It sets up in the background; until then a check walks.
		wait_watcher "$st" || return 2
		;;
	check)
		rc=0
		"$(stale_bin)" "$st" || rc=$?
		[[ $rc -eq 1 ]] || { fail "an unchanged tree is stale (exit $rc)"; return 2; }
		wait_watcher "$st" || return 2
		;;
	esac
	(cd "$t" && eval "$*")
	rc=0
	if [[ "${mode:-walk}" == walk ]]; then
		"$(stale_bin)" -v -w "$st" >"$scratch/st.out" || rc=$?
	else
		"$(stale_bin)" -v "$st" >"$scratch/st.out" || rc=$?
	fi
	diag "$what: $(cat "$scratch/st.out") (exit $rc)"
	if [[ "${mode:-walk}" != walk ]] && ! grep -q '(watcher)$' "$scratch/st.out"; then
		fail "$what: not the watcher's verdict"
		return 2
	fi
	return "$rc"
}

# wait_watcher STAMP: until the watcher of STAMP answers (5 s at most).
wait_watcher() {
	local _ out
	for _ in {1..50}; do
		out="$("$(stale_bin)" -v "$1" 2>/dev/null)" || true
		[[ "$out" == *"(watcher)" ]] && return 0
		sleep 0.1
	done
	fail "no watcher answers for $1"
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
		"$(stale_bin)" -v "$scratch/st-stamp" >"$scratch/st.out" || rc=$?
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
	local where pid n dir rc state
	local -a fdinfo
	for where in watched unwatched; do
		rm -rf "$t" "$st"
		mkdir -p "$t"
		(cd "$t" && mkdir d{000..999} && touch d{000..999}/f.c)
		sleep 0.02
		echo "watch $t" >"$st"
		sleep 0.02
		(kill -STOP "$BASHPID" && exec "$(stale_bin)" "$st") &
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
		mapfile -t fdinfo <"/proc/$pid/fdinfo/3" 2>/dev/null || true
		n=$((${#fdinfo[@]} - 4))
		if ((n < 20 || n >= 1000)); then
			kill -KILL "$pid" 2>/dev/null
			fail "could not stop the check half way ($n watches)"
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
		"$(stale_bin)" -v "$st" >"$scratch/ws.out" || rc=$?
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
		"$(stale_bin)" -v "$scratch/st-stamp" >"$scratch/st.out" || true
		expect_grep '^up to date \(watcher\)$' "$scratch/st.out" \
			"asked every 0.5 s, still there after $i x 0.5 s" || return
	done
	sleep 2
	pids="$(watcher_pids "$scratch/st-stamp")"
	[[ -z "$pids" ]] || fail "the watcher is still there after 2 s without a question: $pids" ||
		return
	rc=0
	"$(stale_bin)" -v "$scratch/st-stamp" >"$scratch/st.out" || rc=$?
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
			"$(stale_bin)" "$how" "$scratch/st-stamp" || true
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
		"$(stale_bin)" -d "$scratch/st-stamp" || true
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
			"$1" -v "$2"; echo "rc $?"' _ "$(stale_bin)" "$st" "$knob" "$value" "$t/d59/sub/f.c" 2>&1)" ||
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

# kernel.sh build runs kbuild after any edit in the source tree, new files
# and old mtimes included, and never when nothing changed: a stand-in
# tree whose Makefile counts the builds.
test_kernel_rebuilt_exactly_when_stale() {
	local -r src="$scratch/ksrc" kdir="$scratch/kdir" b="$scratch/kbuild"
	local n
	mkdir -p "$src/arch/um" "$src/mm" "$kdir" "$b/host"
	cp "$(stale_bin)" "$b/host/stale"
	# shellcheck disable=SC2016 # make's variables, for the stand-in Makefile
	printf 'all:\n\techo built >>$(O)/builds\n\tprintf "#!/bin/sh\\n" >$(O)/linux\n\tchmod +x $(O)/linux\n' \
		>"$src/Makefile"
	echo "int x;" >"$src/mm/mremap.c"
	# Configured already, with the linker the build uses (kernel.sh
	# reconfigures for another one).
	touch "$kdir/.config"
	echo "${SANDBOX_LD:-ld.lld}" >"$kdir/.sandbox-ld"
	kbuild() {
		SRC="$src" KDIR="$kdir" BUILD="$b" "$TOP/scripts/build/kernel.sh" build >/dev/null
		n="$(wc -l <"$kdir/builds")"
	}
	kbuild
	expect_status 1 "$n" "builds after the first build" || return
	kbuild
	expect_status 1 "$n" "builds after an unchanged tree" || return
	for change in "echo '/* x */' >>mm/mremap.c" "echo 'int y;' >mm/new.c" \
		"echo 'int z;' >mm/mremap.c; touch -d 2000-01-01 mm/mremap.c" \
		"rm mm/new.c"; do
		local want=$((n + 1))
		sleep 0.02
		(cd "$src" && eval "$change")
		kbuild
		expect_status "$want" "$n" "builds after: $change" || return
		kbuild
		expect_status "$want" "$n" "builds after: $change, then nothing" || return
	done
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
	"$(stale_bin)" -l "$st" >"$scratch/sl.out" || rc=$?
	expect_status 0 "$rc" "stale -l after two changes" || return
	sort "$scratch/sl.out" >"$scratch/sl.sorted"
	printf '%s\n' "$t/mm/a.c" "$t/mm/deep/new.c" "+dir $t/mm/deep" | sort >"$scratch/sl.want"
	cmp -s "$scratch/sl.sorted" "$scratch/sl.want" ||
		fail "listed: $(tr '\n' ' ' <"$scratch/sl.sorted"), want: $(tr '\n' ' ' <"$scratch/sl.want")" ||
		return
	rc=0
	echo "watch $t" >"$st"
	"$(stale_bin)" -l "$st" >"$scratch/sl.out" || rc=$?
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
		"$(stale_bin)" -d "$ask" && fail "no watcher started" && return
		wait_watcher "$ask" || return
		(cd "$t" && eval "$change")
		rc=0
		"$(stale_bin)" -l "$st" | sort >"$scratch/sw.walk" || rc=$?
		"$(stale_bin)" -v -l -a "$ask" "$st" 2>"$scratch/sw.by" | sort >"$scratch/sw.out" || rc=$?
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
	"$(stale_bin)" -d "$ask" && fail "no watcher started" && return
	wait_watcher "$ask" || return
	"$(stale_bin)" -v -l -a "$ask" "$st" >/dev/null 2>"$scratch/sw.by" || true
	expect_grep '^listed by the walk$' "$scratch/sw.by" "a newer stamp's watcher is not asked"
}

# kbuild-plan on a stand-in build directory: a quick rebuild only where
# kbuild's records show that recompiling objects of built-in.a is all
# kbuild would do; a Makefile, a script, a library or composite member, an
# unplain command, a vanished dependency or an unsure walk mean kbuild.
test_kbuild_plan_decides() {
	local -r src="$scratch/kp-src" kdir="$scratch/kp-kdir" plan="$scratch/kp-plan"
	local bin="$scratch/kbuild-plan" change want got rc
	local -a cc
	read -r -a cc < <(make -s -C "$TOP" host-tool-cmd NAME=kbuild-plan)
	"${cc[@]}" -o "$bin" "$TOP/scripts/build/kbuild-plan.c" || fail "cc failed" || return
	rm -rf "$src" "$kdir"
	mkdir -p "$src/mm" "$src/lib" "$src/include" "$src/scripts" "$src/Documentation" \
		"$kdir/mm" "$kdir/lib"
	for f in mm/a.c mm/b.c mm/c.c mm/d.c mm/unused.c lib/l.c include/x.h include/y.h \
		include/z.h scripts/link.sh mm/Makefile Documentation/f.rst; do
		echo "/* $f */" >"$src/$f"
	done
	# record TARGET COMMAND DEP...: a .cmd file as fixdep writes it.
	record() {
		local -r t="$1" cmd="$2"
		shift 2
		{
			printf 'cmd_%s := %s  \n\n' "$t" "$cmd"
			printf 'source_%s := %s\n\n' "$t" "$1"
			printf 'deps_%s := \\\n' "$t"
			printf '    $(wildcard include/config/FOO) \\\n'
			for d in "${@:2}"; do
				printf '  %s \\\n' "$d"
			done
			printf '\n%s: $(deps_%s)\n\n$(deps_%s):\n' "$t" "$t" "$t"
		} >"$kdir/$(dirname "$t")/.$(basename "$t").cmd"
	}
	# shellcheck disable=SC2016 # make's escapes, literally
	record mm/a.o 'gcc -DH=\"$(pound)\" -c -o mm/a.o '"$src/mm/a.c" \
		"$src/mm/a.c" "$src/include/x.h" "$src/include/z.h"
	record mm/b.o "gcc -c -o mm/b.o ../kp-src/mm/b.c" "../kp-src/mm/b.c" "../kp-src/include/x.h"
	record mm/c.o "gcc -c -o mm/c.o $src/mm/c.c; ./post-process mm/c.o" "$src/mm/c.c"
	# shellcheck disable=SC2016 # a $ for sh: not something to replay
	record mm/d.o 'gcc -DD=$$HOME -c -o mm/d.o '"$src/mm/d.c" "$src/mm/d.c"
	record lib/l.o "gcc -c -o lib/l.o $src/lib/l.c" "$src/lib/l.c" "$src/include/y.h"
	record vmlinux "sh $src/scripts/link.sh" "$src/scripts/link.sh"
	# The build system's files of the last full build.
	printf '%s\n' "$src/mm/Makefile" "$src/scripts/link.sh" >"$kdir/.sandbox-build-files"
	# The members of vmlinux: a thin archive, as kbuild makes it.
	touch "$kdir/mm/a.o" "$kdir/mm/b.o" "$kdir/mm/c.o" "$kdir/mm/d.o"
	(cd "$kdir" && ar cDPrST built-in.a mm/a.o mm/b.o mm/c.o mm/d.o) || fail "ar failed" || return
	rm "$kdir/mm/a.o"

	for change in "mm/a.c:mm/a.o" "include/x.h:mm/a.o mm/b.o" "mm/b.c:mm/b.o" \
		"mm/unused.c:" "Documentation/f.rst:" \
		"include/y.h:full:not linked into vmlinux directly" \
		"scripts/link.sh:full:not an object" \
		"mm/c.c:full:not a plain compile" "mm/d.c:full:not a plain compile" \
		"mm/Makefile:full:not a source file kbuild recorded" \
		"!unreadable mm:full:could not tell" "+dir $src/mm:"; do
		local file="${change%%:*}"
		want="${change#*:}"
		rc=0
		if [[ "$file" == [\!+]* ]]; then
			printf '%s\n' "$file"
		else
			printf '%s\n' "$src/$file"
		fi | SRC="$src" "$bin" "$kdir" >"$plan" || rc=$?
		if [[ "$want" == full:* ]]; then
			expect_status 3 "$rc" "plan after $file" || return
			expect_grep "^full: .*${want#full:}" "$plan" "reason for $file" || return
		else
			expect_status 0 "$rc" "plan after $file" || return
			got="$(tr '\0' '\n' <"$plan" | awk 'NR % 3 == 1' | sort | tr '\n' ' ')"
			[[ "${got% }" == "$want" ]] ||
				fail "plan after $file: '${got% }', want '$want'" || return
			diag "plan after $file: '${got% }'"
		fi
	done
	# The command for sh: make's $(pound) undone; fixdep's as recorded.
	printf '%s\n' "$src/mm/a.c" | SRC="$src" "$bin" "$kdir" >"$plan"
	# shellcheck disable=SC2016
	[[ "$(tr '\0' '\n' <"$plan" | sed -n 3p)" == 'gcc -DH=\"#\" -c -o mm/a.o '"$src/mm/a.c  " ]] ||
		fail "shell command: $(tr '\0' '\n' <"$plan" | sed -n 3p)" || return
	# shellcheck disable=SC2016
	[[ "$(tr '\0' '\n' <"$plan" | sed -n 2p)" == 'gcc -DH=\"$(pound)\" -c -o mm/a.o '"$src/mm/a.c  " ]] ||
		fail "recorded command: $(tr '\0' '\n' <"$plan" | sed -n 2p)" || return
	# A dependency that is gone: kbuild would rebuild (and fail); so must we.
	rm "$src/include/z.h"
	rc=0
	printf '%s\n' "$src/mm/b.c" | SRC="$src" "$bin" "$kdir" >"$plan" || rc=$?
	expect_status 3 "$rc" "plan with a vanished dependency" || return
	expect_grep "^full: mm/a.o depends on .*z.h, which is gone" "$plan" "reason" || return
	# A Makefile that is gone: no record names it, the list does.
	echo "/* z */" >"$src/include/z.h"
	rm "$src/mm/Makefile"
	rc=0
	echo "+dir $src/mm" | SRC="$src" "$bin" "$kdir" >"$plan" || rc=$?
	expect_status 3 "$rc" "plan with a Makefile removed" || return
	expect_grep "^full: .*mm/Makefile is gone" "$plan" "reason"
}

# Staging the guest root copies what changed and leaves the rest alone.
test_rootfs_restaged_exactly() {
	local -r root="$scratch/root" tests="$scratch/tests-out"
	local before after
	[[ -x "$TOP/build/rootfs/bin/busybox" ]] || skip "no staged root yet (make rootfs)" || return
	mkdir -p "$root/bin" "$tests/sandbox"
	cp "$TOP/build/rootfs/bin/busybox" "$root/bin/"
	echo one >"$tests/sandbox/a"
	echo two >"$tests/sandbox/b"
	"$TOP/scripts/build/stage-rootfs.sh" "$root" "$tests" >/dev/null
	before="$(stat -c '%n %i %Y' "$root"/tests/sandbox/* "$root/init")"
	"$TOP/scripts/build/stage-rootfs.sh" "$root" "$tests" >/dev/null
	after="$(stat -c '%n %i %Y' "$root"/tests/sandbox/* "$root/init")"
	[[ "$before" == "$after" ]] || fail "an unchanged stage rewrote files" || return
	sleep 0.02
	echo three >"$tests/sandbox/b"
	"$TOP/scripts/build/stage-rootfs.sh" "$root" "$tests" >/dev/null
	[[ "$(cat "$root/tests/sandbox/b")" == three ]] || fail "a changed test was not restaged" || return
	diag "changed test restaged, unchanged files kept"
}

# make all runs the build only when its stamp says so: not for an unchanged
# tree, and for an edit or a missing product.  A stand-in build directory
# whose stamp watches a scratch tree; make -n shows what would run.
# SANDBOX_LD is no file: make writes it to BUILD/.ld-KERNEL, only when it
# changes, and the stamp watches that file.
test_linker_choice_is_watched() {
	local -r o="$scratch/ld"
	local before
	mkdir -p "$o"
	make -s -n -C "$TOP" O="$o" build-all KERNEL=patched >"$scratch/ld.out" 2>&1 || true
	[[ "$(cat "$o/.ld-patched" 2>/dev/null)" == ld.lld ]] ||
		fail "no $o/.ld-patched holding ld.lld after make: $(cat "$o/.ld-patched" 2>&1)" || return
	expect_grep "watch %s.*$o/.ld-patched" "$scratch/ld.out" "the stamp watches the linker's file" ||
		return
	before="$(stat -c %Y.%y "$o/.ld-patched")"
	sleep 0.02
	make -s -n -C "$TOP" O="$o" build-all KERNEL=patched >/dev/null 2>&1 || true
	[[ "$(stat -c %Y.%y "$o/.ld-patched")" == "$before" ]] ||
		fail "make rewrote $o/.ld-patched with the same linker: every stamp would be stale" ||
		return
	SANDBOX_LD=ld make -s -n -C "$TOP" O="$o" build-all KERNEL=patched >/dev/null 2>&1 || true
	[[ "$(cat "$o/.ld-patched")" == ld && "$(stat -c %Y.%y "$o/.ld-patched")" != "$before" ]] ||
		fail "SANDBOX_LD=ld left $o/.ld-patched as it was: $(cat "$o/.ld-patched")" || return
	diag "ld.lld, then the same (file untouched), then SANDBOX_LD=ld (rewritten)"
}

test_make_all_builds_only_when_stale() {
	local -r o="$scratch/mk" t="$scratch/mk-tree"
	local p
	mkdir -p "$o/host" "$t/mm"
	cp "$(stale_bin)" "$o/host/stale"
	echo "int x;" >"$t/mm/mremap.c"
	for p in kernel/patched/linux rootfs/init rootfs/bin/busybox; do
		mkdir -p "$(dirname "$o/$p")"
		touch "$o/$p"
	done
	sleep 0.02
	{ echo "watch $t"; echo "need $o/kernel/patched/linux"; } >"$o/.uptodate-patched"
	sleep 0.02
	make_n() {
		make -s -n -C "$TOP" O="$o" all KERNEL=patched >"$scratch/mk.out" 2>&1 || true
	}
	make_n
	if grep -q ">$o/.uptodate-patched.next" "$scratch/mk.out"; then
		fail "an unchanged tree would be built: $(tail -n 3 "$scratch/mk.out")"
		return
	fi
	diag "unchanged tree: no build"
	# Up to date, make all (its check) leaves a watcher, and a caller that
	# reads make's output to its end does not wait for that watcher.
	{ echo "watch $t"; echo "need $o/kernel/patched/linux"; } >"$o/.uptodate-patched"
	sleep 0.02
	if "$o/host/stale" -w "$o/.uptodate-patched"; then
		fail "the stand-in tree is stale: make all would build"
		return
	fi
	local t0=$EPOCHREALTIME t1
	make -s -C "$TOP" O="$o" all KERNEL=patched 2>&1 | timeout 10 cat >"$scratch/mk.out" || true
	t1=$EPOCHREALTIME
	diag "make all | cat, up to date: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') s"
	awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 5) }' ||
		fail "make all | cat waited for the watcher" || return
	wait_watcher "$o/.uptodate-patched" || return
	echo "/* edit */" >>"$t/mm/mremap.c"
	make_n
	expect_grep ">$o/.uptodate-patched.next" "$scratch/mk.out" "an edit starts the build" ||
		return
	{ echo "watch $t"; echo "need $o/kernel/patched/linux"; } >"$o/.uptodate-patched"
	rm "$o/kernel/patched/linux"
	make_n
	expect_grep ">$o/.uptodate-patched.next" "$scratch/mk.out" "a missing kernel starts the build"
}

# make all's watch list is what the build reads: an edit to a developer
# tool (bench, lint, GDB), a host test or a mutant leaves the kernel up to
# date, an edit to what builds or runs the guest does not.  On a copy of
# the sandbox's own files, with make's own list.
test_watch_list_is_what_the_build_reads() {
	local -r o="$scratch/wl" t="$scratch/wl-tree"
	local f got
	local -a watch
	rm -rf "$o" "$t"
	mkdir -p "$o/host" "$t/linux"
	cp -r "$TOP/Makefile" "$TOP/config" "$TOP/patches" "$TOP/scripts" "$TOP/tests" \
		"$TOP/rootfs" "$t/"
	cp "$(stale_bin)" "$o/host/stale"
	read -ra watch <<<"$(make -s -C "$t" O="$o" KERNEL=patched \
		--eval 'sandbox-watch: ; @echo $(UPTODATE_WATCH)' sandbox-watch)"
	[[ ${#watch[@]} -gt 0 ]] || fail "make gave no watch list" || return
	touch "$o/need"
	for f in scripts/dev/bench.sh scripts/gdb/gdb-uml.sh tests/host/run.sh \
		tests/mutants/a-no-vma-start-check.patch \
		scripts/build/kernel.sh scripts/run/uml-launch.c scripts/report/ktap-report.c \
		scripts/lib.sh tests/guest/run_tests.c rootfs/init.c config/sandbox.config; do
		{ printf 'watch %s\n' "${watch[@]}"; echo "need $o/need"; } >"$o/stamp"
		sleep 0.02
		touch "$t/$f"
		got=0
		"$o/host/stale" -w "$o/stamp" || got=$?
		case "$f:$got" in
		scripts/dev/*:1 | scripts/gdb/*:1 | tests/host/*:1 | tests/mutants/*:1)
			diag "$f edited: up to date" ;;
		scripts/dev/* | scripts/gdb/* | tests/host/* | tests/mutants/*)
			fail "an edit of $f makes make all stale (stale said $got)"
			return ;;
		*:0) diag "$f edited: stale" ;;
		*) fail "an edit of $f leaves make all up to date (stale said $got)"
			return ;;
		esac
	done
}

# --- linux-tree.sh ------------------------------------------------------------
# A small stand-in for linux/ (the real import takes a minute): the same
# git layout, tags and state the import leaves.

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

tree() {
	LINUX="$fake/linux" PATCHES="$fake/patches" "$TREE" "$@"
}

setup_fake() {
	fake="$scratch/fake-$1"
	make_fake_tree "$fake"
	tree prepare >/dev/null
}

# make with patches/ changed and an uncommitted edit in linux/ refuses (65)
# and the edit survives, byte for byte.
test_changed_patches_keep_local_edit() {
	local rc=0
	setup_fake edit
	echo "my work" >>"$fake/linux/mm/mremap.c"
	sed -i 's/spell three/spell 3/' "$fake/patches/"*.patch
	tree prepare >"$scratch/edit.out" 2>&1 || rc=$?
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
	tree prepare >"$scratch/commit.out" 2>&1 || rc=$?
	expect_status 65 "$rc" "prepare over a commit" || return
	expect_grep "my commit" "$scratch/commit.out" "names the commit" || return
	rc=0
	tree reset >"$scratch/reset.out" 2>&1 || rc=$?
	expect_status 65 "$rc" "reset without CONFIRM=1" || return
	[[ "$(git -C "$fake/linux" rev-parse HEAD)" == "$head" ]] || fail "HEAD moved"
}

# A patch that does not apply stops with its name and git's reason, and
# leaves linux/ clean: no half-finished git am, no modified file.
test_failed_apply_leaves_tree_clean() {
	local rc=0
	setup_fake apply
	sed -i 's/^-line 3$/-line 33/' "$fake/patches/"*.patch
	tree prepare >"$scratch/apply.out" 2>&1 || rc=$?
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
	tree prepare >"$scratch/mtime.out" 2>&1 || fail "prepare failed" || return
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
	tree prepare >"$scratch/missing.out" 2>&1 || rc=$?
	expect_status 71 "$rc" "prepare with a missing patch" || return
	expect_grep "names 0002-not-there.patch, which does not exist" "$scratch/missing.out" "message"
}

# export-patches of an unchanged tree rewrites patches/ identically.
test_export_is_reproducible() {
	setup_fake export
	tree export >/dev/null
	cp -r "$fake/patches" "$scratch/export-1"
	tree reset >/dev/null
	tree export >/dev/null
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

# The helpers of scripts/lib.sh that stand in for a program (so that the
# edit loop starts fewer) say what the program says.
test_lib_helpers_match_programs() {
	(
		# shellcheck source=scripts/lib.sh
		source "$TOP/scripts/lib.sh"
		cpu_count
		[[ "$REPLY" == "$(nproc)" ]] || fail "cpu_count says $REPLY, nproc $(nproc)" || exit
		if command -v taskset >/dev/null; then
			REPLY="$(taskset -c 0 bash -c 'source "$1"; cpu_count; echo "$REPLY"' sh \
				"$TOP/scripts/lib.sh")"
			[[ "$REPLY" == 1 ]] || fail "cpu_count on one CPU (taskset) says $REPLY" || exit
		fi
		local prog
		for prog in gcc make sh; do
			on_path "$prog" || fail "on_path finds no $prog" || exit
			[[ "$REPLY" == "$(command -v "$prog")" ]] ||
				fail "on_path $prog says $REPLY, command -v $(command -v "$prog")" || exit
		done
		! on_path no-such-program-here || fail "on_path found no-such-program-here: $REPLY" ||
			exit
		printf 'first line\nsecond\n' >"$scratch/lines"
		read_line "$scratch/lines"
		[[ "$REPLY" == "first line" ]] || fail "read_line read '$REPLY'" || exit
		read_line "$scratch/no-such-file"
		[[ -z "$REPLY" ]] || fail "read_line of no file read '$REPLY'" || exit
	)
}

ktap_run_all host "${1:-}"
