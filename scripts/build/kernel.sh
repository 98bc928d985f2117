#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build a UML kernel out of tree, and only when it is stale.
#
# kbuild's own "nothing to do" costs ~9 s on a 2-core machine, so the
# staleness check is ours: the kernel is rebuilt when any source file, the
# Kconfig fragment or this script is newer than the last good build.  This
# file configures and runs kbuild; the quick path (one object's rebuild and
# the relink, when exact) is scripts/build/quick-build.sh, sourced by build.
set -euo pipefail

readonly SELF="${0##*/}"
# make starts it by its absolute path: the tree is then above scripts/
# as it stands (no cd, no subshell); started any other way, resolved.
if [[ "$0" == /*/scripts/build/kernel.sh && "$0" != *//* && "$0" != */./* && "$0" != */../* ]]; then
	TOP="${0%/scripts/build/kernel.sh}"
else
	TOP="$(cd "$(dirname "$0")/../.." && pwd)"
fi
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly FRAGMENT="$TOP/config/sandbox.config"
readonly QUICK_SH="$TOP/scripts/build/quick-build.sh"

usage() {
	cat <<EOF
Usage: $SELF COMMAND

Commands:
  build               configure (when needed) and build \$SRC into \$KDIR
  config              (re)write \$KDIR/.config from the fragment, and verify it
  kbuild TARGET...    run kbuild itself on \$KDIR (no quick path, no stamp)
  worktree NAME REV   check out REV of linux/ at \$BUILD/src/NAME (a git worktree)

Environment:
  SRC      kernel source tree (default linux/)
  KDIR     build directory (default build/kernel/patched)
  BUILD    build output root (default build/)
  FRAGMENTS  extra Kconfig fragments, merged after config/sandbox.config
  KBUILD_VERBOSE=1  show the full commands
  SANDBOX_BUILD_LOG=F  write kbuild's step lines to F, timestamped (make bench)
  SANDBOX_QUICK=0  never take the quick path (scripts/build/quick-build.sh)
  SANDBOX_KALLSYMS_REUSE=0  a quick relink runs every kallsyms step, as
                   kbuild does (tests/host/test_quick_build.sh compares)
  SANDBOX_LD=ld    link with binutils' ld instead of ld.lld (default ld.lld)
  JOBS     parallel jobs (default: number of CPUs; with DISTCC_HOSTS, distcc -j)
  CCACHE_REMOTE_STORAGE  ccache's own: a team's cache (redis://host, http://host;
                   '|read-only' to read only); a failed request is one line
  DISTCC_HOSTS     distcc's own: compile on these hosts, behind ccache
                   (CCACHE_PREFIX=distcc); a fallback to this machine is one line

Exit codes: 0 ok, $E_USAGE usage, $E_SRC SRC is not a kernel tree, $E_CONFIG an
option of the fragments did not survive Kconfig, $E_BUILD the build failed,
$E_NOSPACE the disk is full, $E_SETUP the linker is not installed
EOF
	exit "${1:-0}"
}

readonly BUILD="${BUILD:-$TOP/build}"
readonly SRC="${SRC:-$TOP/linux}"
readonly KDIR="${KDIR:-$BUILD/kernel/patched}"
# Distributed compiles: distcc's own DISTCC_HOSTS names the hosts and their
# slots ('host:port/slots'); the job count follows them (distcc -j).
DISTCC=
if [[ -n "${DISTCC_HOSTS:-}" ]] && on_path distcc; then
	DISTCC="$REPLY"
fi
readonly DISTCC
JOBS="${JOBS:-}"
if [[ -z "$JOBS" ]]; then
	if [[ -n "$DISTCC" ]]; then
		JOBS="$("$DISTCC" -j 2>/dev/null)" || JOBS=
	fi
	[[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { cpu_count; JOBS="$REPLY"; }
fi
readonly JOBS
readonly STAMP="$KDIR/.sandbox-built"
readonly KLD="${SANDBOX_LD:-ld.lld}"
# The linker of the last good build: another SANDBOX_LD rebuilds.
readonly LD_STAMP="$KDIR/.sandbox-ld"

# debug_prefix_maps: in REPLY, the compiler options that make every path
# the objects record relative to the checkout (empty when the source or
# the build directory is outside it: then they hold absolute paths, right
# but shared with no other path).  Every checkout with the same layout gets
# the same objects, so ccache (local or remote: CCACHE_REMOTE_STORAGE) can
# give one clone's object to another, on this machine or elsewhere:
#   DW_AT_comp_dir  build/kernel/patched     (the checkout's top mapped to "")
#   DW_AT_name      ../../../linux/mm/mremap.c  (the tree, relative to it)
#   line table      ../../../linux/include, ./include/generated, /usr/...
#   __FILE__        mm/mremap.c              (kbuild's -fmacro-prefix-map)
# GDB started in the checkout's top (make gdb) joins the two and opens this
# checkout's own file; elsewhere 'directory TOP' does the same.  gcc tries
# the last map first, ccache the first (it hashes the build directory as
# mapped: build/kernel/patched), so the tree's own map comes last.
debug_prefix_maps() {
	REPLY=
	[[ "$SRC/" == "$TOP"/* && "$KDIR/" == "$TOP"/* ]] || return 0
	# The tree seen from the build directory, as ccache's base_dir
	# rewrites it for its hash: ../../../linux, ../../src/base.
	local up="${KDIR#"$TOP"/}" rel=
	while [[ -n "$up" ]]; do
		rel+=../
		[[ "$up" == */* ]] && up="${up#*/}" || up=
	done
	REPLY="-fdebug-prefix-map=$TOP/= -fdebug-prefix-map=$SRC/=$rel${SRC#"$TOP"/}/"
}

# The environment and command-line variables of every kbuild run.
kbuild_setup() {
	# ld.lld links vmlinux (37 MB with DWARF 5) in a third of binutils'
	# time; patches/sandbox/0008 makes UML's final link, done by the
	# compiler driver, use it too.  SANDBOX_LD=ld keeps binutils' ld.
	kargs=(ARCH=um LD="$KLD")
	# Reproducible and host-neutral: no user or host name in the binary.
	export KBUILD_BUILD_USER=sandbox KBUILD_BUILD_HOST=uml
	# The same objects for every checkout (see debug_prefix_maps), with
	# or without ccache; the user's own KCFLAGS/KAFLAGS come first.
	debug_prefix_maps
	if [[ -n "$REPLY" ]]; then
		kargs+=("KCFLAGS=${KCFLAGS:+$KCFLAGS }$REPLY" "KAFLAGS=${KAFLAGS:+$KAFLAGS }$REPLY")
	fi
	distcc_setup
	if command -v ccache >/dev/null 2>&1; then
		kargs+=(CC="ccache gcc")
		# distcc behind ccache: only a miss is sent to a host.
		[[ -z "$DISTCC" ]] || export CCACHE_PREFIX="$DISTCC"
		# Absolute paths in the compile lines hash relative to the
		# build directory: the checkout's top covers the tree and the
		# build directory both (a tree elsewhere: its parent).
		if [[ -n "$REPLY" ]]; then
			export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$TOP}"
		else
			export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$SRC")}"
		fi
		# ccache's hash_dir stays on: it hashes the build directory as
		# the maps record it, so an object whose DW_AT_comp_dir would
		# be wrong here is never a hit (CCACHE_NOHASHDIR=1 gave one
		# clone's comp_dir to the next).
		unset CCACHE_NOHASHDIR
		export CCACHE_HASHDIR=1
		# A miss (every object of a cold build, every edit) costs
		# a compile, not a preprocessor run before it: the manifest
		# comes from the compiler's -MMD file (~0.3 of mremap.c's
		# 1.3 s).  A comment-only edit now misses too.
		export CCACHE_DEPEND="${CCACHE_DEPEND:-1}"
	elif [[ -n "$DISTCC" ]]; then
		kargs+=(CC="$DISTCC gcc")
	fi
}

# distcc_setup: with DISTCC_HOSTS, distcc's messages go to a log of the
# build (DISTCC_LOG) instead of one warning per compile on the terminal:
# distcc_report sums them up in one line.  Only compiles travel: kbuild
# links with $LD and builds its host programs with HOSTCC, both local;
# UML's final link through CC is one distcc runs here itself.  distcc
# (not its pump mode) preprocesses here and sends the result, so a header
# kbuild rewrites during the build is read here, in kbuild's order.
distcc_setup() {
	[[ -n "$DISTCC" ]] || return 0
	export DISTCC_LOG="$KDIR/.sandbox-distcc.log"
}

# distcc_report: one line when compiles fell back to this machine (a host
# refused, died or timed out: distcc compiles here then, and backs off
# from that host for a while).
distcc_report() {
	[[ -n "$DISTCC" && -s "$KDIR/.sandbox-distcc.log" ]] || return 0
	local n
	n="$(grep -c 'failed to distribute' "$KDIR/.sandbox-distcc.log" || true)"
	[[ "$n" -gt 0 ]] || return 0
	echo "  DISTCC  $n compile(s) ran here instead: a host of DISTCC_HOSTS refused or died (${KDIR#"$TOP"/}/.sandbox-distcc.log)"
}

# stamp_lines COMMAND...: COMMAND's output, each line with its time (the
# build log of make bench, not silenced by the -s of a calling make).
stamp_lines() {
	MAKEFLAGS='' "$@" 2>&1 | while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "$line"
	done >"$SANDBOX_BUILD_LOG"
	return "${PIPESTATUS[0]}"
}

kmake() {
	local -a kargs
	kbuild_setup
	local -a args=(-C "$SRC" O="$KDIR" -j"$JOBS" "${kargs[@]}")
	if [[ "${KBUILD_VERBOSE:-0}" == 1 ]]; then
		echo "\$ make ${args[*]} $*" >&2
		make "${args[@]}" V=1 "$@"
	elif [[ -n "${SANDBOX_BUILD_LOG:-}" ]]; then
		stamp_lines make "${args[@]}" "$@"
	else
		make -s "${args[@]}" "$@"
	fi
}

# load_fragments: the Kconfig fragments, the sandbox's first, in FRAGS.
load_fragments() {
	FRAGS=("$FRAGMENT")
	local f
	for f in ${FRAGMENTS:-}; do
		[[ -f "$f" ]] || die "$E_CONFIG" "Kconfig fragment $f does not exist"
		FRAGS+=("$f")
	done
}

# Every option a fragment asks for must be in the final .config: Kconfig
# silently drops what a missing dependency forbids.
verify_config() {
	local f line opt want have missing=0
	load_fragments
	for f in "${FRAGS[@]}"; do
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
	done
	if [[ "$missing" -gt 0 ]]; then
		rm -f "$KDIR/.config"
		die "$E_CONFIG" "$missing option(s) of the fragment did not survive the merge" \
			"a dependency is missing: look the option up with 'make ARCH=um O=$KDIR menuconfig' (search: /)" \
			"and add what it depends on to config/sandbox.config"
	fi
}

cmd_config() {
	mkdir -p "$KDIR"
	load_fragments
	echo "  CONFIG  ${KDIR#"$TOP"/}/.config"
	# merge_config.sh merges the fragments (-m: only that); allnoconfig
	# then starts from them, so only what the sandbox asks for is built,
	# as merge_config.sh -n would.  But its make knows only ARCH: the
	# toolchain's symbols (LD_IS_LLD, LLD_VERSION) need the build's own
	# variables, or kbuild's syncconfig rewrites .config during the build
	# and the next build finds it newer than its stamp (no quick path).
	# One Kconfig run of the two merge_config.sh and olddefconfig made:
	# 7.6 s instead of 14.8 s (make bench --only config) on the way of a
	# fresh clone to its first build.
	local -r merged="$KDIR/.sandbox-fragment"
	if ! (cd "$SRC" && KCONFIG_CONFIG="$merged" ARCH=um \
		scripts/kconfig/merge_config.sh -m "${FRAGS[@]}" >"$KDIR/.merge.log" 2>&1); then
		cat "$KDIR/.merge.log" >&2
		die "$E_CONFIG" "merge_config.sh failed (log above)"
	fi
	kmake KCONFIG_ALLCONFIG="$merged" allnoconfig >>"$KDIR/.merge.log" 2>&1 || {
		cat "$KDIR/.merge.log" >&2
		die "$E_CONFIG" "make allnoconfig failed (log above)"
	}
	verify_config
}

# A new fragment, or another linker (SANDBOX_LD: kbuild's configuration
# holds the toolchain's symbols).
config_stale() {
	[[ ! -f "$KDIR/.config" ]] && return 0
	read_line "$LD_STAMP"
	[[ "$REPLY" == "$KLD" ]] || return 0
	local f
	load_fragments
	for f in "${FRAGS[@]}"; do
		[[ "$f" -nt "$KDIR/.config" ]] && return 0
	done
	return 1
}

# True when something in the source tree changed since the last good build:
# a file or directory (a file created, removed or renamed) with an mtime or
# ctime not older than the stamp; or this script, or its quick path, did.
# Only then is the quick path (scripts/build/quick-build.sh) read.  build/host/stale (scripts/build/stale.c) walks
# the tree with two threads and lists the changes in $CHANGED for the quick
# path (empty: it cannot be taken); find is the fallback before it is built.
readonly CHANGED="$KDIR/.sandbox-changed"
build_stale() {
	: >"$CHANGED"
	[[ -f "$STAMP" && -x "$KDIR/linux" ]] || return 0
	[[ "$KDIR/.config" -nt "$STAMP" || "$0" -nt "$STAMP" || "$QUICK_SH" -nt "$STAMP" ]] &&
		return 0
	read_line "$STAMP"
	[[ "$REPLY" == "watch $SRC" ]] || return 0
	read_line "$LD_STAMP"
	[[ "$REPLY" == "$KLD" ]] || return 0
	local rc=0
	# make all's watcher, when make names its stamp, lists the changes
	# in ~10 ms instead of the ~0.2 s walk (else the walk lists them).
	# The list is read only after stale said 0 (complete).
	"$BUILD/host/stale" -l ${_SANDBOX_STALE_ASK:+-a "$_SANDBOX_STALE_ASK"} "$STAMP" \
		>"$CHANGED" 2>/dev/null || rc=$?
	case "$rc" in
	0) return 0 ;;
	1) return 1 ;;
	esac
	: >"$CHANGED"
	[[ -n "$(find "$SRC" -name .git -prune -o -name __pycache__ -prune -o \
		-newer "$STAMP" -print -quit)" ]]
}

# --- a team's cache: ccache's remote storage ----------------------------------
# ccache's own setting names it (CCACHE_REMOTE_STORAGE, or remote_storage in
# ccache.conf; '|read-only' for contributors).  A server that is down, slow
# or full costs ccache a failed request, never a build: it compiles
# locally and counts the failure.  remote_errors reads those counts (in
# REPLY), remote_report says so in one line after the build.
remote_errors() {
	REPLY=0
	local key value
	while read -r key value; do
		case "$key" in
		remote_storage_error | remote_storage_timeout) REPLY=$((REPLY + value)) ;;
		esac
	done < <(ccache --print-stats 2>/dev/null)
}

# remote_watch: when ccache has a remote, its failures so far in
# remote_before (empty: no remote, nothing to report).
remote_watch() {
	remote_before=
	remote_url="${CCACHE_REMOTE_STORAGE:-}"
	if [[ -z "$remote_url" ]]; then
		command -v ccache >/dev/null 2>&1 || return 0
		remote_url="$(ccache -k remote_storage 2>/dev/null)" || return 0
		[[ -n "$remote_url" ]] || return 0
	fi
	remote_errors
	remote_before="$REPLY"
}

remote_report() {
	distcc_report
	[[ -n "${remote_before:-}" ]] || return 0
	remote_errors
	[[ "$REPLY" -gt "$remote_before" ]] || return 0
	# The URL without what may follow a user name (a password).
	local url="${remote_url%%|*}"
	[[ "$url" != *@* ]] || url="${url%%://*}://...@${url#*@}"
	echo "  CCACHE  the remote cache ($url) failed $((REPLY - remote_before)) request(s): down, slow or full; those objects were compiled here"
}

# build_failed NEXT: drop the stamp to be, and say so (exits).
build_failed() {
	rm -f "$1"
	die "$E_BUILD" "the kernel build failed (errors above)" \
		"re-run with 'make V=1 kernel' for the full commands"
}

cmd_build() {
	[[ -f "$SRC/Makefile" && -d "$SRC/arch/um" ]] ||
		die "$E_SRC" "$SRC is not a kernel source tree" "run 'make source' first"
	command -v "$KLD" >/dev/null 2>&1 ||
		die "$E_SETUP" "the linker $KLD is not installed" \
			"install it: apt-get install lld (or build with SANDBOX_LD=ld, binutils' ld)"
	mkdir -p "$KDIR"
	# Two builds into one directory would corrupt it: one waits.
	hold_lock "$KDIR"
	if config_stale; then
		cmd_config
	fi
	# The stamp is taken before the check and the build: a file edited
	# during either is newer than it and triggers the next build.
	local -r next="$STAMP.next" plan="$KDIR/.sandbox-plan"
	local quick_why
	echo "watch $SRC" >"$next"
	if ! build_stale; then
		# Nothing changed since the old stamp, as of a check made after
		# the new one was taken: the new one holds.  Not older than make
		# all's stamp, so that the next check can ask make all's watcher
		# for its list (stale -l -a, which asks only an older stamp's).
		mv -f "$next" "$STAMP"
		[[ "${KBUILD_VERBOSE:-0}" == 1 ]] && echo "  UPTODATE ${KDIR#"$TOP"/}/linux"
		return 0
	fi
	local remote_before remote_url
	remote_watch
	[[ -z "$DISTCC" ]] || : >"$KDIR/.sandbox-distcc.log"
	# shellcheck source=scripts/build/quick-build.sh
	source "$QUICK_SH"
	if quick_plan "$plan"; then
		if quick_rebuild "$plan" "$next"; then
			mv -f "$next" "$STAMP"
			echo "$KLD" >"$LD_STAMP"
			remote_report
			return 0
		fi
	else
		echo "  BUILD   ${KDIR#"$TOP"/}/linux from ${SRC#"$TOP"/}"
		[[ "${KBUILD_VERBOSE:-0}" != 1 ]] || echo "  (not quick: $quick_why)"
	fi
	kmake all || { remote_report; build_failed "$next"; }
	remote_report
	record_kbuild_env || echo "  (could not record kbuild's environment: next build is a full one)"
	mv -f "$next" "$STAMP"
	echo "$KLD" >"$LD_STAMP"
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
	kbuild)
		[[ $# -gt 0 ]] || usage_error "kbuild needs a target, e.g. 'kbuild all'"
		hold_lock "$KDIR"
		local remote_before remote_url
		remote_watch
		[[ -z "$DISTCC" ]] || : >"$KDIR/.sandbox-distcc.log"
		kmake "$@" || { remote_report; exit "$E_BUILD"; }
		remote_report
		;;
	worktree) cmd_worktree "$@" ;;
	-h | --help) usage 0 ;;
	"") usage_error "a command is needed: build, config or worktree" ;;
	*) usage_error "unknown command '$cmd'" ;;
	esac
}

main "$@"
