#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Run a command holding the sandbox's lock on a directory (make all: one build per tree at a time).
#
# The lock stays with this script, not with the command: a daemon the
# command leaves behind (the up-to-date watcher) must not keep it.  On
# Ctrl-C the command gets the signal too; the lock is released only when
# it has finished cleaning up.  Exit status: the command's.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"

main() {
	[[ $# -ge 2 && -d "$1" ]] ||
		die "$E_USAGE" "usage: $SELF DIR COMMAND [ARGS...] (DIR must exist)"
	local -r dir="$1"
	shift
	hold_lock "$dir"
	# Ctrl-C reaches the command as well (one process group): stay, with
	# the lock, until it has cleaned up.  A handler, not '' (ignore),
	# which the command would inherit.
	trap ':' INT TERM
	local rc=0
	"$@" {LOCK_FD}<&- || rc=$?
	exit "$rc"
}

main "$@"
