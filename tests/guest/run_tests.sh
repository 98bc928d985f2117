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
# kernel (SANDBOX_KERNEL=base on the kernel command line) they must fail:
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

# The entries to run, one per line: NAME TIMEOUT COMMAND... or NAME SKIP
# REASON...  One awk for both lists: a shell 'read' loop costs a system
# call per byte, ~0.1 ms each under UML (0.6 s for the two lists).  The
# pattern is a shell glob matched anywhere in the name, as case would.
select_tests() {
	[ -f "$SKIPPED" ] || SKIPPED=/dev/null
	awk -v pat="$pattern" -v skipped="$SKIPPED" '
	function glob2re(g,    re, i, c) {
		re = ""
		for (i = 1; i <= length(g); i++) {
			c = substr(g, i, 1)
			if (c == "*") re = re ".*"
			else if (c == "?") re = re "."
			else if (c == "[") {
				re = re "["
				if (substr(g, i + 1, 1) == "!") { re = re "^"; i++ }
			} else if (c == "]") re = re "]"
			else if (index("\\^$.|+(){}/", c)) re = re "\\" c
			else re = re c
		}
		return re
	}
	BEGIN { re = glob2re(pat) }
	/^[[:space:]]*(#|$)/ { next }
	{
		name = $1
		if (name !~ re) next
		line = $0
		sub(/^[[:space:]]*/, "", line)
		if (FILENAME == skipped)
			sub(/^[^[:space:]]*/, "& SKIP", line)
		# Stress tests take minutes: only a pattern that names them
		# runs them (series/ must not pull in series/stress-*).
		if (name ~ /\/stress-/ && pat !~ /stress/)
			line = name " SKIP slow: run by make stress (or --test " name ")"
		print line
	}' "$LIST" "$SKIPPED"
}

selected=$(select_tests)
if [ -z "$selected" ]; then
	echo "run_tests.sh: no test matches '$pattern'; see the names with --list" >&2
	exit 64
fi

# The lines of $selected, split without 'read' (see select_tests).
set -f
NL='
'
if [ "$list" = 1 ]; then
	IFS=$NL
	for line in $selected; do
		IFS=' 	'
		# shellcheck disable=SC2086 # split into fields on purpose
		set -- $line
		if [ "$2" = SKIP ]; then
			name=$1
			shift 2
			echo "$name (skipped: $*)"
		else
			echo "$1"
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

# SANDBOX_KERNEL=patched|base on the kernel command line: the kernel
# hands it to init's environment, and init to us.
kernel=${SANDBOX_KERNEL:-}

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
# Each test's kernel messages: dmesg -c after it (the syslog view only;
# /dev/kmsg readers such as exec_args see everything).
dmesg -c >/dev/null
IFS=$NL
for line in $selected; do
	IFS=' 	'
	# shellcheck disable=SC2086 # split into fields on purpose
	set -- $line
	name=$1 timeout=$2
	shift 2
	n=$((n + 1))
	if [ "$timeout" = SKIP ]; then
		emit "ok $n $name # SKIP $*"
		continue
	fi
	read -r start _ </proc/uptime
	# The status of the test, not of the pipeline that indents its output.
	{
		# shellcheck disable=SC2048,SC2086 # the command line is split on purpose
		timeout -s KILL "$timeout" ./$* </dev/null
		echo $? >/tmp/.status
	} 2>&1 | awk -v out="$out" '{ print "  " $0; print "  " $0 >>out; fflush() }'
	read -r status </tmp/.status
	read -r end _ </proc/uptime
	klog=$(dmesg -c)
	splat=
	# grep only when the test logged anything: most log nothing.
	[ -z "$klog" ] || splat=$(echo "$klog" | grep -E "$SPLAT")
	# uptime has two decimals: the duration in hundredths (1xx - 100
	# keeps a fraction like 08 from reading as octal).
	cs=$(( (${end%.*} - ${start%.*}) * 100 + 1${end#*.} - 1${start#*.} ))
	emit "# $name: exit $status in $((cs / 100)).$((cs / 10 % 10))$((cs % 10)) s"
	if [ -n "$splat" ]; then
		emit "# $name: kernel splat in the log:"
		echo "$klog" | head -n 60 | while read -r kline; do
			emit "#   $kline"
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
done
emit "# unexpected kernel splats: $unexpected"
[ "$failed" -eq 0 ]
