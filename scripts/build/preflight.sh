#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Check the host for every tool and header the sandbox needs, before any download.
#
# The list is scripts/packages.list.  Run first by every entry point that
# builds (make, and so ./run-uml.sh and make check) and by scripts/gdb/gdb-uml.sh.
# Only shell built-ins on the way when nothing is missing: a few ms.
set -euo pipefail

readonly SELF="${0##*/}"
case "$0" in
*/*) TOP="${0%/*}/../.." ;;
*) TOP="$(dirname "$(command -v "$0")")/../.." ;;
esac
readonly TOP
readonly LIST="${SANDBOX_PACKAGES_LIST:-$TOP/scripts/packages.list}"
# The exit codes alone: nothing else of scripts/lib.sh is needed this early.
# shellcheck source=scripts/exit-codes.sh
source "$TOP/scripts/exit-codes.sh"

usage() {
	cat <<EOF
Usage: $SELF [NEED...]
       $SELF --packages [NEED...]
       $SELF --install-command [NEED...]

Check that the packages for NEED (default: build) are installed: every
command on PATH, every header or library in place.  When one is missing,
print one line per missing thing and the command that installs them all,
and exit $E_SETUP.  Optional helpers only get a hint.

NEED: build (make, ./run-uml.sh), gdb (--gdb, make gdb), lint (make lint),
check (make check: build, gdb, lint and its own tools), coverage (make coverage), all
(everything, optional too).

  --packages          print the package names for NEED (default: all), one line
  --install-command   print the command that installs them (default: all)

The list: ${LIST#"$TOP"/}.
Exit codes: 0 all there, $E_USAGE usage, $E_SETUP something is missing.
EOF
	exit "${1:-0}"
}

# wanted NEED: true when a line of need NEED is asked for by $needs.
wanted() {
	local n
	for n in $needs; do
		case "$n:$1" in
		"$1:$1" | all:* | check:build | check:gdb | check:lint | coverage:build) return 0 ;;
		esac
	done
	return 1
}

# install_command PACKAGE...: what a user types to install them.
install_command() {
	local sudo=
	if [[ $EUID -ne 0 ]]; then
		command -v sudo >/dev/null 2>&1 && sudo='sudo ' || sudo='as root: '
	fi
	printf '%sapt-get install -y --no-install-recommends %s\n' "$sudo" "$*"
}

# present CHECK: a command on PATH, or an existing absolute path.
present() {
	if [[ "$1" == /* ]]; then
		[[ -e "$1" ]]
	else
		command -v "$1" >/dev/null 2>&1
	fi
}

main() {
	local mode=check
	case "${1:-}" in
	-h | --help) usage 0 ;;
	--packages) mode=packages; shift ;;
	--install-command) mode=install; shift ;;
	-*) printf "%s: error: unknown option '%s' (see '%s --help')\n" "$SELF" "$1" "$SELF" >&2
		exit "$E_USAGE" ;;
	esac
	local n
	for n in "$@"; do
		case "$n" in
		build | gdb | lint | check | coverage | all) ;;
		*) printf "%s: error: '%s' is not a need: build, gdb, lint, check, coverage or all\n" \
			"$SELF" "$n" >&2
			exit "$E_USAGE" ;;
		esac
	done
	needs="${*:-}"
	[[ -n "$needs" ]] || { [[ $mode == check ]] && needs=build || needs=all; }
	[[ -r "$LIST" ]] || { printf '%s: error: no package list at %s\n' "$SELF" "$LIST" >&2; exit "$E_SETUP"; }

	local pkg need checks c
	local -a pkgs=() missing_pkgs=() lines=() hints=()
	while read -r pkg need checks; do
		[[ -n "$pkg" && "$pkg" != \#* ]] || continue
		if [[ $need == optional ]]; then
			[[ $needs == *all* ]] || [[ $mode == check ]] || continue
		else
			wanted "$need" || continue
		fi
		pkgs+=("$pkg")
		[[ $mode == check ]] || continue
		for c in $checks; do
			present "$c" && continue
			if [[ $need == optional ]]; then
				hints+=("$SELF: hint: $c (package $pkg) is not installed; the build works without it, slower: $(install_command "$pkg")")
				break
			fi
			if [[ "$c" == /* ]]; then
				lines+=("$(printf '  %-34s (package %s): no such file' "$c" "$pkg")")
			else
				lines+=("$(printf '  %-34s (package %s): not on PATH' "$c" "$pkg")")
			fi
			[[ " ${missing_pkgs[*]} " == *" $pkg "* ]] || missing_pkgs+=("$pkg")
		done
	done <"$LIST"

	case "$mode" in
	packages) printf '%s\n' "${pkgs[*]}"; return 0 ;;
	install) install_command "${pkgs[@]}"; return 0 ;;
	esac
	if [[ ${#hints[@]} -gt 0 && "${_SANDBOX_PREFLIGHT_HINTS:-1}" != 0 ]]; then
		printf '%s\n' "${hints[@]}" >&2
	fi
	[[ ${#lines[@]} -eq 0 ]] && return 0
	printf '%s: error: this machine lacks what the sandbox needs (%s):\n' "$SELF" "$needs" >&2
	printf '%s\n' "${lines[@]}" >&2
	printf '  install it with (on a new machine, run apt-get update first):\n' >&2
	printf '    %s\n' "$(install_command "${missing_pkgs[@]}")" >&2
	exit "$E_SETUP"
}

main "$@"
