# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# KTAP helpers and assertions for the host-side tests (sourced, not run).
#
# A test is a function test_<name>; it returns 0 (pass), 1 (fail) or 4
# (skip, with the reason on its last line of output).  ktap_run_all runs
# every test_* function of the calling script in a subshell, in order, and
# prints KTAP with the closing "N passed, N failed, N skipped" line.

# shellcheck disable=SC2034 # the kselftest codes, all named; not all used
readonly KSFT_PASS=0 KSFT_FAIL=1 KSFT_SKIP=4

# Print a diagnostic line of the current test.
diag() {
	printf '# %s\n' "$*"
}

fail() {
	diag "FAIL: $*"
	return "$KSFT_FAIL"
}

skip() {
	diag "$*"
	return "$KSFT_SKIP"
}

# expect_status WANT GOT WHAT
expect_status() {
	if [[ "$2" -ne "$1" ]]; then
		fail "$3: exit status $2, expected $1"
		return
	fi
	diag "$3: exit status $2 as expected"
}

# expect_match GREP-OPTION PATTERN FILE WHAT: grep with the option (-E, -F,
# -xF, ...) finds PATTERN in FILE; else the file's end and a failure.
expect_match() {
	if ! grep -q "$1" -- "$2" "$3"; then
		diag "--- $3:"
		sed 's/^/#   /' "$3" | tail -n 40
		fail "$4: /$2/ not found"
		return
	fi
	diag "$4: found /$2/"
}

# expect_grep PATTERN FILE WHAT: an extended regular expression.
expect_grep() {
	expect_match -E "$@"
}

# host_tool NAME [MAKE-OPTION...]: build/host/NAME (BUILD, default build/,
# names another directory) made by the Makefile's one rule for host
# tools, with its flags (SANDBOX_SANITIZE=1's too); its path in REPLY.
# Make's "HOSTCC" line goes to /dev/null, its errors and the compiler's
# warnings to stderr.  A MAKE-OPTION such as -W SOURCE rebuilds it.
host_tool() {
	local -r build="${BUILD:-$TOP/build}"
	REPLY="$build/host/$1"
	make -s -C "$TOP" O="$build" "${@:2}" "$REPLY" >/dev/null ||
		fail "make could not build host/$1 (see make's message above)"
}

# guest_leftovers TAG [TRIES]: the host processes ("PID COMMAND" a line)
# of the guests tagged TAG (-a sandbox.tag=TAG, on the command line of
# every process of the run).  A run's processes may still be exiting when
# it ends: they get a second to go before they count (TRIES looks, 0.1 s
# apart, default 10; 1 for those that must be gone already).
guest_leftovers() {
	local left i
	for ((i = 0; i < ${2:-10}; i++)); do
		((i == 0)) || sleep 0.1
		left="$(pgrep -af -- "sandbox\.tag=$1( |\$)" || true)"
		[[ -n "$left" ]] || return 0
	done
	printf '%s\n' "$left"
}

# expect_nothing_left TAG WHAT: no host process of a guest tagged TAG
# outlived its run.  Those that did are shown, ended by their pid (they
# are the test's own: TAG is unique), and the test fails.
expect_nothing_left() {
	local left
	local -a pids
	left="$(guest_leftovers "$1")"
	[[ -n "$left" ]] || return 0
	printf '%s\n' "$left" | cut -c1-120 | sed 's/^/# left: /'
	mapfile -t pids < <(awk '{ print $1 }' <<<"$left")
	kill -KILL "${pids[@]}" 2>/dev/null || true
	fail "$2: host processes of the guest outlived run-uml.sh"
}

# run_guest NAME ARGS...: run-uml.sh --no-build ARGS with stdin closed
# (RUN, default run-uml.sh of the tree, names another).  Its output goes to
# $scratch/NAME.out and NAME.err, without the CRs of the guest's tty; its
# status to NAME.rc, and is returned.  The run is tagged; a host process
# of it left after the run is ended and noted in NAME.left and in
# $scratch/.leftovers, which fails the test that ran it (ktap_run_all).
run_guest() {
	local -r name="$1" tag="host-test-$BASHPID-$RANDOM$RANDOM"
	shift
	local rc=0
	# shellcheck disable=SC2154 # scratch: the calling test's directory
	"${RUN:-$TOP/run-uml.sh}" --no-build -a "sandbox.tag=$tag" "$@" \
		>"$scratch/$name.out" 2>"$scratch/$name.err" </dev/null || rc=$?
	sed -i 's/\r$//' "$scratch/$name.out" "$scratch/$name.err"
	echo "$rc" >"$scratch/$name.rc"
	note_leftovers "$name" "$tag"
	return "$rc"
}

# note_leftovers NAME TAG: after the run NAME of a guest tagged TAG, the
# check of run_guest (for a test that boots its guests another way).
note_leftovers() {
	if ! expect_nothing_left "$2" "run $1" >"$scratch/$1.left"; then
		cat "$scratch/$1.left" >>"$scratch/.leftovers"
	else
		rm -f "$scratch/$1.left"
	fi
}

# expect_guest_left_nothing NAME: run_guest NAME left no process behind
# (for a run made outside the test that checks it, as in main).
expect_guest_left_nothing() {
	if [[ -s "$scratch/$1.left" ]]; then
		cat "$scratch/$1.left"
		fail "run $1 left host processes behind"
		return
	fi
}

# wait_watcher STAMP: until the watcher that build/host/stale ($STALE)
# leaves for STAMP answers (5 s at most).
wait_watcher() {
	local _ out
	for _ in {1..50}; do
		out="$("$STALE" -v "$1" 2>/dev/null)" || true
		[[ "$out" == *"(watcher)" ]] && return 0
		sleep 0.1
	done
	fail "no watcher answers for $1"
}

ktap_run_all() {
	local -r suite="$1" filter="${2:-}"
	local -a names
	local name out rc n=0 pass=0 failed=0 skipped=0 reason
	mapfile -t names < <(declare -F | awk '{ print $3 }' | grep '^test_' |
		grep -- "${filter:-.}" || true)
	echo "KTAP version 1"
	echo "1..${#names[@]}"
	out="$(mktemp)"
	for name in "${names[@]}"; do
		n=$((n + 1))
		rc=0
		[[ -z "${scratch:-}" ]] || rm -f "$scratch/.leftovers"
		("$name") >"$out" 2>&1 || rc=$?
		# A guest the test booted (run_guest) left a process behind.
		if [[ -n "${scratch:-}" && -s "$scratch/.leftovers" ]]; then
			cat "$scratch/.leftovers" >>"$out"
			rc=$KSFT_FAIL
		fi
		sed 's/^/  /' "$out"
		case "$rc" in
		0)
			echo "ok $n ${name#test_}"
			pass=$((pass + 1))
			;;
		4)
			reason="$(tail -n 1 "$out" | sed 's/^# //')"
			echo "ok $n ${name#test_} # SKIP $reason"
			skipped=$((skipped + 1))
			;;
		*)
			echo "not ok $n ${name#test_}"
			failed=$((failed + 1))
			;;
		esac
	done
	rm -f "$out"
	echo "# Totals: pass:$pass fail:$failed xfail:0 xpass:0 skip:$skipped error:0"
	echo "$suite: $pass passed, $failed failed, $skipped skipped"
	[[ $failed -eq 0 ]]
}

# expect_listing OUT FILE: GDB listed move_page_tables' lines (from
# 600 on), each one as FILE holds it.
expect_listing() {
	local n text lines=0
	# GDB prints the number, a tab, then the line as it is.
	while IFS= read -r text; do
		n="${text%%$'\t'*}"
		text="${text#*$'\t'}"
		[[ "$n" =~ ^[0-9]+$ ]] || continue
		[[ "$(sed -n "${n}p" "$2")" == "$text" ]] ||
			{ fail "GDB's line $n is not line $n of $2"; return; }
		[[ $n -ge 600 ]] || { fail "GDB listed line $n: not move_page_tables"; return; }
		lines=$((lines + 1))
	done <"$1"
	[[ $lines -ge 5 ]] || { fail "GDB listed $lines source line(s) of move_page_tables"; return; }
	diag "GDB listed $lines lines of move_page_tables, each as $2 holds it"
}

# expect_gdb_source CHECKOUT OBJECT OUT: GDB, started in CHECKOUT, lists
# move_page_tables from OBJECT's debug information out of CHECKOUT's own
# linux/mm/mremap.c (OUT keeps what GDB printed).
expect_gdb_source() {
	local -r top="$1" obj="$2" out="$3"
	local where
	(cd "$top" && gdb -nx -q -batch -ex 'list move_page_tables' -ex 'info source' "$obj") \
		>"$out" 2>&1 || true
	sed 's/^/#   /' "$out" | head -n 16
	expect_listing "$out" "$top/linux/mm/mremap.c" || return
	where="$(sed -n 's/^Located in //p' "$out")"
	[[ -n "$where" && "$(realpath -m -- "$where")" == "$(realpath -m -- "$top/linux/mm/mremap.c")" ]] ||
		{ fail "GDB's source is '${where:-none}', not $top/linux/mm/mremap.c"; return; }
	diag "GDB's source: $where, the checkout's own file"
}
