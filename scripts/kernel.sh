#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build a UML kernel out of tree, and only when it is stale.
#
# kbuild's own "nothing to do" costs ~9 s on a 2-core machine, so the
# staleness check is ours: the kernel is rebuilt when any source file, the
# Kconfig fragment or this script is newer than the last good build.
set -euo pipefail

readonly SELF="${0##*/}"
readonly TOP="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly FRAGMENT="$TOP/config/sandbox.config"
readonly E_USAGE=64 E_CONFIG=69 E_BUILD=70

usage() {
	cat <<EOF
Usage: $SELF COMMAND

Commands:
  build               configure (when needed) and build \$SRC into \$KDIR
  config              (re)write \$KDIR/.config from the fragment, and verify it
  worktree NAME REV   check out REV of linux/ at \$BUILD/src/NAME (a git worktree)

Environment:
  SRC      kernel source tree (default linux/)
  KDIR     build directory (default build/kernel/patched)
  BUILD    build output root (default build/)
  FRAGMENTS  extra Kconfig fragments, merged after config/sandbox.config
  KBUILD_VERBOSE=1  show the full commands
  SANDBOX_BUILD_LOG=F  write kbuild's step lines to F, timestamped (make bench)
  JOBS     parallel jobs (default: number of CPUs)

Exit codes: 0 ok, $E_USAGE usage, $E_CONFIG configuration, $E_BUILD build failed
EOF
	exit "${1:-0}"
}

readonly BUILD="${BUILD:-$TOP/build}"
readonly SRC="${SRC:-$TOP/linux}"
readonly KDIR="${KDIR:-$BUILD/kernel/patched}"
readonly JOBS="${JOBS:-$(nproc)}"
readonly STAMP="$KDIR/.sandbox-built"

kmake() {
	local -a args=(-C "$SRC" O="$KDIR" ARCH=um -j"$JOBS")
	# Reproducible and host-neutral: no user or host name in the binary.
	export KBUILD_BUILD_USER=sandbox KBUILD_BUILD_HOST=uml
	if command -v ccache >/dev/null 2>&1; then
		args+=(CC="ccache gcc")
		# The same file in linux/ and in a worktree must hit the cache.
		export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$SRC")}"
		export CCACHE_NOHASHDIR=1
	fi
	if [[ "${KBUILD_VERBOSE:-0}" == 1 ]]; then
		echo "\$ make ${args[*]} $*" >&2
		make "${args[@]}" V=1 "$@"
	elif [[ -n "${SANDBOX_BUILD_LOG:-}" ]]; then
		# For the benchmark: kbuild's step lines, each with its time
		# (not silenced by the -s of a make that called this script).
		MAKEFLAGS='' make "${args[@]}" "$@" 2>&1 | while IFS= read -r line; do
			printf '%s %s\n' "$EPOCHREALTIME" "$line"
		done >"$SANDBOX_BUILD_LOG"
		return "${PIPESTATUS[0]}"
	else
		make -s "${args[@]}" "$@"
	fi
}

fragments() {
	printf '%s\n' "$FRAGMENT"
	local f
	for f in ${FRAGMENTS:-}; do
		[[ -f "$f" ]] || die "$E_CONFIG" "Kconfig fragment $f does not exist"
		printf '%s\n' "$f"
	done
}

# Every option a fragment asks for must be in the final .config: Kconfig
# silently drops what a missing dependency forbids.
verify_config() {
	local f line opt want have missing=0
	while read -r f; do
		while read -r line; do
			case "$line" in
			CONFIG_*=*)
				opt="${line%%=*}"
				want="$line"
				;;
			"# CONFIG_"*" is not set")
				opt="${line#\# }"
				opt="${opt%% *}"
				want="$line"
				;;
			*) continue ;;
			esac
			have="$(grep -E "^$opt=|^# $opt is not set" "$KDIR/.config" || true)"
			if [[ "$have" != "$want" ]] &&
				! [[ "$want" == *" is not set" && -z "$have" ]]; then
				printf '%s: %s asks for %s, .config has %s\n' \
					"$SELF" "${f#"$TOP"/}" "$want" "${have:-nothing}" >&2
				missing=$((missing + 1))
			fi
		done <"$f"
	done < <(fragments)
	if [[ "$missing" -gt 0 ]]; then
		rm -f "$KDIR/.config"
		die "$E_CONFIG" "$missing option(s) of the fragment did not survive the merge" \
			"a dependency is missing: look the option up with 'make ARCH=um O=$KDIR menuconfig' (search: /)" \
			"and add what it depends on to config/sandbox.config"
	fi
}

cmd_config() {
	mkdir -p "$KDIR"
	local -a frags
	mapfile -t frags < <(fragments)
	echo "  CONFIG  ${KDIR#"$TOP"/}/.config"
	# -n: start from allnoconfig, so only what the sandbox asks for is built.
	if ! (cd "$SRC" && ARCH=um scripts/kconfig/merge_config.sh -n -O "$KDIR" "${frags[@]}" \
		>"$KDIR/.merge.log" 2>&1); then
		cat "$KDIR/.merge.log" >&2
		die "$E_CONFIG" "merge_config.sh failed (log above)"
	fi
	verify_config
}

config_stale() {
	[[ ! -f "$KDIR/.config" ]] && return 0
	local f
	while read -r f; do
		[[ "$f" -nt "$KDIR/.config" ]] && return 0
	done < <(fragments)
	return 1
}

# True when something in the source tree changed since the last good build:
# a file or directory (a file created, removed or renamed) with an mtime or
# ctime not older than the stamp.  build/host/stale (scripts/stale.c) walks
# the tree with two threads; find is the fallback before it is built.
build_stale() {
	[[ -f "$STAMP" && -x "$KDIR/linux" ]] || return 0
	[[ "$KDIR/.config" -nt "$STAMP" || "$0" -nt "$STAMP" ]] && return 0
	[[ "$(cat "$STAMP")" == "watch $SRC" ]] || return 0
	local rc=0
	"$BUILD/host/stale" "$STAMP" 2>/dev/null || rc=$?
	case "$rc" in
	0) return 0 ;;
	1) return 1 ;;
	esac
	[[ -n "$(find "$SRC" -name .git -prune -o -name __pycache__ -prune -o \
		-newer "$STAMP" -print -quit)" ]]
}

cmd_build() {
	[[ -f "$SRC/Makefile" && -d "$SRC/arch/um" ]] ||
		die "$E_USAGE" "$SRC is not a kernel source tree" "run 'make source' first"
	mkdir -p "$KDIR"
	# Two builds into one directory would corrupt it: one waits.
	hold_lock "$KDIR"
	if config_stale; then
		cmd_config
	fi
	if ! build_stale; then
		[[ "${KBUILD_VERBOSE:-0}" == 1 ]] && echo "  UPTODATE ${KDIR#"$TOP"/}/linux"
		return 0
	fi
	echo "  BUILD   ${KDIR#"$TOP"/}/linux from ${SRC#"$TOP"/}"
	# The stamp is taken before the build: a file edited during the build
	# is newer than it and triggers the next one.
	local -r next="$STAMP.next"
	echo "watch $SRC" >"$next"
	if ! kmake all; then
		rm -f "$next"
		die "$E_BUILD" "the kernel build failed (errors above)" \
			"re-run with 'make V=1 kernel' for the full commands"
	fi
	mv -f "$next" "$STAMP"
}

cmd_worktree() {
	local -r name="${1:-}" rev="${2:-}"
	[[ -n "$name" && -n "$rev" ]] || usage "$E_USAGE" >&2
	local -r dir="$BUILD/src/$name" linux="$TOP/linux"
	local want
	want="$(git -C "$linux" rev-parse "$rev^{commit}")"
	if [[ ! -e "$dir/.git" ]]; then
		git -C "$linux" worktree prune
		mkdir -p "$BUILD/src"
		git -C "$linux" worktree add -q --detach "$dir" "$want"
	elif [[ "$(git -C "$dir" rev-parse HEAD)" != "$want" ]]; then
		# Only files that differ are rewritten, so only they get rebuilt.
		git -C "$dir" checkout -q --detach --force "$want"
	fi
}

main() {
	local -r cmd="${1:-}"
	[[ $# -gt 0 ]] && shift
	explain_failures
	case "$cmd" in
	build) cmd_build ;;
	config) cmd_config ;;
	worktree) cmd_worktree "$@" ;;
	-h | --help) usage 0 ;;
	"") usage_error "a command is needed: build, config or worktree" ;;
	*) usage_error "unknown command '$cmd'" ;;
	esac
}

main "$@"
