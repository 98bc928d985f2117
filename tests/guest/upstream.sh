#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run one of upstream's (6.12's) mm selftests, or skip when it was not built.
#
# Usage: upstream.sh PROGRAM [ARG...]   (PROGRAM in /tests/upstream/)
#
# tests/Makefile builds upstream/PROGRAM from the 6.12 tree (build/src/
# upstream) only once KERNEL=upstream has imported it.  Before that the test
# is reported as skipped (exit 4, the reason on stderr), never as a pass and
# never dropped.  Otherwise the program replaces this shell: its status and
# output are the test's.

[ $# -ge 1 ] || { echo "usage: upstream.sh PROGRAM [ARG...]" >&2; exit 64; }
cd "$(dirname "$0")" || exit 1
prog=upstream/$1
shift
if [ ! -x "$prog" ]; then
	echo "# SKIP $prog not built: the 6.12 tree is not imported yet (make all KERNEL=upstream imports and builds it)" >&2
	exit 4
fi
exec "./$prog" "$@"
