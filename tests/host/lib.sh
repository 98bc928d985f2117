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

# run_guest NAME ARGS...: run-uml.sh --no-build ARGS with stdin closed
# (RUN, default run-uml.sh of the tree, names another).  Its output goes to
# $scratch/NAME.out and NAME.err, without the CRs of the guest's tty; its
# status to NAME.rc, and is returned.
run_guest() {
	local -r name="$1"
	shift
	local rc=0
	# shellcheck disable=SC2154 # scratch: the calling test's directory
	"${RUN:-$TOP/run-uml.sh}" --no-build "$@" >"$scratch/$name.out" 2>"$scratch/$name.err" \
		</dev/null || rc=$?
	sed -i 's/\r$//' "$scratch/$name.out" "$scratch/$name.err"
	echo "$rc" >"$scratch/$name.rc"
	return "$rc"
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
		("$name") >"$out" 2>&1 || rc=$?
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
