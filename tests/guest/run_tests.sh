#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the guest test suite listed in tests.list and skipped.list, print KTAP.
#
# Usage: run_tests.sh [-o FILE] [--list] [PATTERN]
#   PATTERN   run only the tests whose name contains it (shell glob allowed)
#   -o FILE   also write the KTAP to FILE (the host parses it from there)
#   --list    print the test names and exit
#
# Each test runs under a timeout; its own output is nested two spaces deep
# (a kselftest harness's TAP becomes a KTAP subtest).  A test that leaves a
# kernel WARNING/BUG/Oops in the kernel log fails, with the splat shown.
#
# Tests named series/* check behaviour the series changes.  On the base
# kernel (sandbox.kernel=base on the kernel command line) they must fail:
# a failure is reported as "ok ... # XFAIL", a pass as "not ok ... # XPASS"
# (the test would not tell the kernels apart), and their splats are expected.
# The last line counts the splats that were not: the host fails on those.
#
# Exit codes: 0 all passed or skipped, 1 a test failed, 64 bad usage or a
# pattern that matches no test.

cd "$(dirname "$0")" || exit 64
LIST=./tests.list
# Tests that cannot run here, one "NAME REASON..." a line: each is reported
# as "ok N NAME # SKIP REASON", never dropped and never counted as a pass.
SKIPPED=./skipped.list
out=/dev/null
list=0
pattern=

usage() {
	sed -n '4,8s/^# \{0,1\}//p' "$0" >&2
	exit 64
}

while [ $# -gt 0 ]; do
	case "$1" in
	-o) [ $# -ge 2 ] || usage; out="$2"; shift 2 ;;
	--list) list=1; shift ;;
	-h | --help) usage ;;
	-*) echo "run_tests.sh: unknown option '$1'" >&2; usage ;;
	*) pattern="$1"; shift ;;
	esac
done

# The entries of a list file, without comments and blank lines.
entries() {
	[ -f "$1" ] || return 0
	grep -v '^[[:space:]]*#' "$1" | grep -v '^[[:space:]]*$'
}

# The entries to run, one per line: NAME TIMEOUT COMMAND... or NAME SKIP REASON...
select_tests() {
	{
		entries "$LIST"
		entries "$SKIPPED" | sed 's/^[[:space:]]*[^[:space:]]*/& SKIP/'
	} | while read -r name rest; do
		case "$name" in
		*$pattern*)
			# Stress tests take minutes: only a pattern that names
			# them runs them (series/ must not pull in series/stress-*).
			case "$name:$pattern" in
			*/stress-*:*stress*) echo "$name $rest" ;;
			*/stress-*:*) echo "$name SKIP slow: run by make stress (or --test $name)" ;;
			*) echo "$name $rest" ;;
			esac
			;;
		esac
	done
}

selected=$(select_tests)
if [ -z "$selected" ]; then
	echo "run_tests.sh: no test matches '$pattern'; see the names with --list" >&2
	exit 64
fi
if [ "$list" = 1 ]; then
	echo "$selected" | while read -r name timeout rest; do
		if [ "$timeout" = SKIP ]; then
			echo "$name (skipped: $rest)"
		else
			echo "$name"
		fi
	done
	exit 0
fi

emit() {
	echo "$*"
	echo "$*" >>"$out"
}

# Kernel log lines that mean the kernel itself went wrong.
SPLAT='WARNING:|BUG:|Oops|Kernel panic|kernel BUG at|general protection fault|Unable to handle kernel'

kernel=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	sandbox.kernel=*) kernel="${arg#sandbox.kernel=}" ;;
	esac
done

total=$(echo "$selected" | wc -l)
: >"$out"
emit "KTAP version 1"
emit "1..$total"
n=0
failed=0
# Splats already in the log (from boot) are nobody's XFAIL.
unexpected=$(dmesg | grep -cE "$SPLAT")
if [ "$unexpected" -gt 0 ]; then
	emit "# kernel splat before the first test:"
	dmesg | grep -E -A 20 "$SPLAT" | head -n 40 | while read -r line; do
		emit "#   $line"
	done
fi
echo "$selected" > /tmp/.selected
while read -r name timeout cmd; do
	n=$((n + 1))
	if [ "$timeout" = SKIP ]; then
		emit "ok $n $name # SKIP $cmd"
		continue
	fi
	before=$(dmesg | wc -l)
	start=$(cut -d' ' -f1 /proc/uptime)
	# The status of the test, not of the pipeline that indents its output.
	{
		# shellcheck disable=SC2086 # the command line is split on purpose
		timeout -s KILL "$timeout" ./$cmd </dev/null
		echo $? >/tmp/.status
	} 2>&1 | sed 's/^/  /' | tee -a "$out"
	status=$(cat /tmp/.status)
	end=$(cut -d' ' -f1 /proc/uptime)
	splat=$(dmesg | tail -n +"$((before + 1))" | grep -E "$SPLAT")
	emit "# $name: exit $status in $(awk "BEGIN { print $end - $start }") s"
	if [ -n "$splat" ]; then
		emit "# $name: kernel splat in the log:"
		dmesg | tail -n +"$((before + 1))" | head -n 60 | while read -r line; do
			emit "#   $line"
		done
	fi
	if [ "$status" = 137 ]; then
		result="not ok"
		directive=" # TIMEOUT after $timeout s"
	elif [ "$status" = 4 ] && [ -z "$splat" ]; then
		result=ok
		directive=" # SKIP the test skipped itself (exit 4)"
	elif [ "$status" = 0 ] && [ -z "$splat" ]; then
		result=ok
		directive=
	else
		result="not ok"
		directive=
	fi
	case "$kernel:$name:$result" in
	base:series/*:"not ok")
		result=ok
		directive=" # XFAIL fails without the series, as it should"
		splat=
		;;
	base:series/*:ok)
		[ -n "$directive" ] || {
			result="not ok"
			directive=" # XPASS passes without the series: it cannot tell the kernels apart"
		}
		;;
	esac
	[ -n "$splat" ] && unexpected=$((unexpected + 1))
	[ "$result" = ok ] || failed=$((failed + 1))
	emit "$result $n $name$directive"
done </tmp/.selected
emit "# unexpected kernel splats: $unexpected"
[ "$failed" -eq 0 ]
