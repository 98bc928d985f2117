# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the host scripts (sourced, not run); they set SELF.
# shellcheck shell=bash

# The exit codes (E_USAGE, ...): one table, beside this file.
# shellcheck source=scripts/exit-codes.sh
source "${BASH_SOURCE[0]%/*}/exit-codes.sh"

# die CODE MESSAGE [HINT...]: the error on stderr, each hint indented below
# it (what to do about it), then exit with CODE.
die() {
	local -r code="$1"
	shift
	printf '%s: error: %s\n' "$SELF" "$1" >&2
	shift
	local line
	for line in "$@"; do
		printf '  %s\n' "$line" >&2
	done
	# Whatever failed, a full disk is the likelier cause, and the one to fix.
	_SANDBOX_EXPLAINED=1
	if [[ "$code" != "$E_USAGE" ]] && explain_disk_full; then
		exit "$E_NOSPACE"
	fi
	exit "$code"
}

# explain_failures: from now on, when the script fails on a command of its
# own (set -e), not through die, check for a full disk and say so.
explain_failures() {
	trap 'explain_failed_exit' EXIT
}

explain_failed_exit() {
	local -r rc=$?
	[[ $rc -eq 0 || $rc -eq $E_USAGE || $rc -ge 128 || -n "${_SANDBOX_EXPLAINED:-}" ]] &&
		return "$rc"
	explain_disk_full && exit "$E_NOSPACE"
	return "$rc"
}

# explain_disk_full: when the file system of build/ (BUILD) or of the tree
# holds less than 8 MB, say so on stderr and return true.
explain_disk_full() {
	local dir avail
	for dir in "${BUILD:-$TOP/build}" "$TOP"; do
		[[ -d "$dir" ]] || continue
		avail="$(df -Pk -- "$dir" 2>/dev/null | awk 'NR == 2 { print $4 }')"
		if [[ -n "$avail" && "$avail" -lt 8192 ]]; then
			printf '%s: the disk is full: %s KB free in %s\n' "$SELF" "$avail" "$dir" >&2
			printf '  free some space there (or use make O=dir elsewhere), then run make again\n' >&2
			return 0
		fi
	done
	return 1
}

# hold_lock DIR: unless this process tree holds it already, take an
# exclusive lock on the directory DIR, held until this process and its
# children end (LOCK_FD): two makes on one tree would otherwise write the
# same files.  A second one waits, and says so.
hold_lock() {
	local -r dir="$1"
	case ":${_SANDBOX_LOCKS:-}:" in
	*":$dir:"*) return 0 ;;
	esac
	exec {LOCK_FD}<"$dir"
	if ! flock -n "$LOCK_FD"; then
		printf '%s: another make is working in %s: waiting for it to finish (Ctrl-C to stop)\n' \
			"$SELF" "$dir" >&2
		flock "$LOCK_FD"
	fi
	export _SANDBOX_LOCKS="${_SANDBOX_LOCKS:-}:$dir"
}

# read_line FILE: the first line of FILE in REPLY (empty when there is no
# such file or it is empty), without starting a program as $(cat) would.
read_line() {
	REPLY=
	[[ -r "$1" ]] || return 0
	IFS= read -r REPLY <"$1" || true
}

# on_path NAME: the path of the program NAME as the shell would run it, in
# REPLY; false when there is none.  command -v, without its subshell.
on_path() {
	local dir
	REPLY=
	if [[ "$1" == */* ]]; then
		[[ -x "$1" ]] && REPLY="$1"
	else
		local IFS=:
		for dir in $PATH; do
			[[ -f "${dir:-.}/$1" && -x "${dir:-.}/$1" ]] || continue
			REPLY="${dir:-.}/$1"
			break
		done
	fi
	[[ -n "$REPLY" ]]
}

# cpu_count: in REPLY, the CPUs this process may run on (what nproc says),
# read from /proc/self/status; nproc itself where that cannot be read.
cpu_count() {
	local key range n=0 list=''
	if [[ -r /proc/self/status ]]; then
		while read -r key list; do
			[[ "$key" == Cpus_allowed_list: ]] && break
			list=
		done </proc/self/status
	fi
	if [[ -z "$list" ]]; then
		REPLY="$(nproc)"
		return
	fi
	local IFS=,
	for range in $list; do
		if [[ "$range" == *-* ]]; then
			n=$((n + ${range#*-} - ${range%-*} + 1))
		else
			n=$((n + 1))
		fi
	done
	REPLY="$n"
}

# usage_error MESSAGE: a bad command line; exits with E_USAGE.
usage_error() {
	printf "%s: error: %s (see '%s --help')\n" "$SELF" "$1" "$SELF" >&2
	exit "$E_USAGE"
}

# need_value OPTION ARGC: an option that takes a value must have one.
need_value() {
	[[ $2 -ge 2 ]] || usage_error "option $1 needs a value"
}

# kernel_name: patched, base, or custom for a kernel given by path, as the
# guest (SANDBOX_KERNEL=) and the results files name it, in REPLY (no
# subshell: run-uml.sh asks on every run).  A kernel given by path that is
# a build of one of the sandbox's trees (make coverage's GCOV kernels) says
# which with SANDBOX_KERNEL_NAME, so that the guest expects what that tree
# does (series/* XFAIL on base).
kernel_name() {
	# shellcheck disable=SC2154 # kernel: the caller's option (run-uml.sh, gdb-uml.sh)
	if [[ "$kernel" == */* ]]; then
		REPLY="${SANDBOX_KERNEL_NAME:-custom}"
	else
		REPLY="$kernel"
	fi
}

# resolve_kernel: build what is missing (unless build=0), then set
# kernel_bin for $kernel (patched, base or a path) and check the guest root.
resolve_kernel() {
	case "$kernel" in
	patched | base | upstream)
		# shellcheck disable=SC2154 # build: the caller's --no-build
		if [[ $build -eq 1 ]]; then
			make -s -C "$TOP" all KERNEL="$kernel" BUILD="$BUILD" || {
				# A missing tool: make printed preflight's list; the
				# setup code tells it from a failed build.
				_SANDBOX_PREFLIGHT_HINTS=0 "$TOP/scripts/build/preflight.sh" build \
					2>/dev/null || exit "$E_SETUP"
				die "$E_BUILD" "building the $kernel kernel failed (see above)"
			}
		fi
		kernel_bin="$BUILD/kernel/$kernel/linux"
		;;
	*/*)
		kernel_bin="$kernel"
		[[ -f "$kernel_bin" && -x "$kernel_bin" ]] ||
			usage_error "--kernel $kernel: no such executable (give the path of a UML binary)"
		case "${SANDBOX_KERNEL_NAME:-}" in
		'' | patched | base | upstream) ;;
		*) usage_error "SANDBOX_KERNEL_NAME=$SANDBOX_KERNEL_NAME: the tree a kernel given by path was built from is patched, base or upstream" ;;
		esac
		if [[ $build -eq 1 ]]; then
			make -s -C "$TOP" rootfs BUILD="$BUILD" ||
				die "$E_BUILD" "staging the guest root failed (see above)"
		fi
		;;
	*) usage_error "--kernel takes patched, base or a path, not '$kernel'" ;;
	esac
	[[ -x "$kernel_bin" ]] ||
		die "$E_BUILD" "no kernel at ${kernel_bin#"$TOP"/}" \
			"build it with: make kernel KERNEL=$kernel (or drop --no-build)"
	[[ -x "$ROOTFS/init" ]] ||
		die "$E_BUILD" "no guest root at ${ROOTFS#"$TOP"/}" "build it with: make rootfs"
}
