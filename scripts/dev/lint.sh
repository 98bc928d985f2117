#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The checks a kernel reviewer and a shell reviewer would run, as KTAP.
#
# series      W=1 and sparse on the C files the series changes, on the base
#             and the patched kernel: only the warnings the series adds
# checkpatch  scripts/checkpatch.pl --strict on every patch of patches/
# shell       shellcheck on every script (info level and up)
# c           the host tools, the guest tests and /init with -Wall -Wextra -Werror
# python      pyflakes on the GDB Python
#
# Each compile of the series check replays kbuild's own recorded command
# (the .o.cmd of the built kernel) with W=1's flags, taken from the tree's
# scripts/Makefile.extrawarn, into /dev/null: the kernels' objects, and so
# the quick rebuild, are left alone.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly LINUX="${LINUX:-$TOP/linux}"
readonly PATCHES="${PATCHES:-$TOP/patches}"
readonly KINDS="series checkpatch shell c python"
# Plain ASCII messages, the same on every machine: they are compared.
export LC_ALL=C

usage() {
	cat <<EOF
Usage: $SELF [KIND...]
       $SELF --files shell|c|python FILE...   (just those files)

KIND: $KINDS (default: all of them).

  series: the kernels must be built (make all, make all KERNEL=base); the
          files are the .c files the series (patches/0*.patch) changes.
  Environment: PATCHES=DIR checks DIR's patches instead of patches/;
  LINT_SRC_mm_mremap_c=FILE compiles FILE in place of
  mm/mremap.c in the patched kernel (any path: / and . become _), for
  the tests of the check itself.

Exit codes: 0 clean, 1 a finding (listed), $E_USAGE usage, $E_SETUP a kernel or a tool is missing
EOF
	exit "${1:-0}"
}

tmp="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-lint.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

# --- series: W=1 and sparse, base against patched -------------------------------

# W=1's flags of each kernel's tree, by build directory.
declare -A W1_FLAGS=()

# extrawarn_flags KDIR SRC: the flags kbuild's W=1 adds, from the tree.
extrawarn_flags() {
	cat >"$tmp/extrawarn.mk" <<-'EOF'
		include $(srctree)/scripts/Kbuild.include
		include $(srctree)/scripts/Makefile.compiler
		KBUILD_CFLAGS :=
		KBUILD_EXTRA_WARN := 1
		include $(srctree)/scripts/Makefile.extrawarn
		all: ; @echo $(KBUILD_CFLAGS) -DKBUILD_EXTRA_WARN1
	EOF
	(cd "$1" && MAKEFLAGS='' make -s -f "$tmp/extrawarn.mk" srctree="$2" CC=gcc)
}

# kbuild_var KDIR NAME: a variable of the environment kbuild gave its
# sub-makes in KDIR's last full build (recorded by scripts/build/kernel.sh).
kbuild_var() {
	tr '\0' '\n' <"$1/.sandbox-kbuild-env" | sed -n "s/^$2=//p"
}

# warnings_of KDIR SRC FILE: FILE's W=1 and sparse warnings, one a line,
# as "FILE: warning: text" (no line numbers: the series moves lines).
warnings_of() {
	local -r kdir="$1" src="$2" file="$3"
	local -r obj="${file%.c}.o"
	local -r cmdf="$kdir/$(dirname "$obj")/.$(basename "$obj").cmd"
	[[ -f "$cmdf" ]] || die "$E_SETUP" "no ${cmdf#"$TOP"/}: the kernel is not built" \
		"build it: make all KERNEL=${kdir##*/}"
	local cmd override var
	cmd="$(sed -n '1s/^cmd_[^ ]* := //p' "$cmdf")"
	var="LINT_SRC_$(tr '/.-' '___' <<<"$file")"
	override="${!var:-}"
	# The recorded compile, minus ccache, its .d file and its object.
	cmd="${cmd#ccache }"
	cmd="$(sed -e 's/ -Wp,-MMD,[^ ]*//' -e 's/ -o [^ ]*\.o / -o \/dev\/null /' <<<"$cmd")"
	if [[ -n "$override" && "${kdir##*/}" == patched ]]; then
		# Its own includes ("internal.h") still come from the tree.
		cmd="${cmd/ "$src/$file"/ -iquote $src/$(dirname "$file") $override}"
	fi
	local -a w1 checkflags
	# One make run per kernel, not per file.
	[[ -n "${W1_FLAGS[$kdir]:-}" ]] || W1_FLAGS[$kdir]="$(extrawarn_flags "$kdir" "$src")"
	read -ra w1 <<<"${W1_FLAGS[$kdir]}"
	(cd "$kdir" && eval "$cmd ${w1[*]@Q}") >"$tmp/w1.out" 2>&1 || true
	local sparse_cmd
	read -ra checkflags <<<"$(kbuild_var "$kdir" CHECKFLAGS)"
	sparse_cmd="${cmd#gcc }"
	sparse_cmd="${sparse_cmd/ -c / }"
	sparse_cmd="${sparse_cmd/ -o \/dev\/null / }"
	(cd "$kdir" && eval "sparse ${checkflags[*]@Q} $sparse_cmd") >"$tmp/sparse.out" 2>&1 || true
	cat "$tmp/w1.out" "$tmp/sparse.out" | grep -E ': (warning|error): ' |
		sed -E -e 's#^.*/((mm|fs|include|arch|kernel|lib)/)#\1#' \
			-e 's#^([^:]*):[0-9]+:([0-9]+:)? #\1: #' | sort
}

lint_series() {
	local -r patched="$BUILD/kernel/patched" base="$BUILD/kernel/base"
	local -a files
	command -v sparse >/dev/null || die "$E_SETUP" "no sparse" "$("$TOP/scripts/build/preflight.sh" --install-command lint)"
	mapfile -t files < <(cat "$PATCHES"/0*.patch | sed -n 's|^diff --git a/\([^ ]*\.c\) .*|\1|p' |
		grep -v '^tools/' | sort -u)
	local f rc=0 added
	for f in "${files[@]}"; do
		warnings_of "$base" "$BUILD/src/base" "$f" >"$tmp/base.w"
		warnings_of "$patched" "$LINUX" "$f" >"$tmp/patched.w"
		# What the patched kernel has that base has not, counted: a
		# warning the series adds twice over a base one shows once.
		added="$(comm -13 "$tmp/base.w" "$tmp/patched.w")"
		echo "  # $f: W=1 and sparse: $(wc -l <"$tmp/base.w") warnings on base, $(wc -l <"$tmp/patched.w") patched, $(grep -c . <<<"$added" || true) added by the series"
		if [[ -n "$added" ]]; then
			sed 's/^/  # added: /' <<<"$added"
			rc=1
		fi
	done
	return "$rc"
}

# --- checkpatch -------------------------------------------------------------------

# Findings justified in writing: "PATCH-FILE: TEXT" lines that must match
# checkpatch's terse output exactly, each with its reason above it.
readonly JUSTIFIED="$PATCHES/checkpatch-justified"

lint_checkpatch() {
	local p out rc=0 line
	for p in "$PATCHES"/0*.patch "$PATCHES"/sandbox/0*.patch "$PATCHES"/upstream/sandbox/0*.patch; do
		[[ -f "$p" && "$p" != */0000-cover-letter.patch ]] || continue
		# checkpatch exits 1 on any finding: each is judged below.
		out="$(cd "$LINUX" && { ./scripts/checkpatch.pl --strict --terse --no-summary "$p" 2>&1 || true; })"
		while IFS= read -r line; do
			[[ -n "$line" ]] || continue
			line="${line#"$p":}"
			if [[ -f "$JUSTIFIED" ]] && grep -v '^#' "$JUSTIFIED" | grep -qxF "${p#"$PATCHES"/}:$line"; then
				echo "  # justified: ${p#"$PATCHES"/}:$line"
			else
				echo "  # ${p#"$PATCHES"/}:$line"
				rc=1
			fi
		done <<<"$out"
	done
	return "$rc"
}

# --- shell --------------------------------------------------------------------------

shell_files() {
	local f
	for f in "$TOP"/run-uml.sh "$TOP"/.ci/run "$TOP"/scripts/*.sh "$TOP"/scripts/*/*.sh "$TOP"/tests/host/*.sh \
		"$TOP"/tests/guest/*.sh "$TOP"/tests/fuzz/*.sh "$TOP"/rootfs/init.sh; do
		[[ -f "$f" ]] && printf '%s\n' "$f"
	done
}

lint_shell() {
	local -a files=("$@")
	[[ ${#files[@]} -gt 0 ]] || mapfile -t files < <(shell_files)
	command -v shellcheck >/dev/null || die "$E_SETUP" "no shellcheck" "$("$TOP/scripts/build/preflight.sh" --install-command lint)"
	local out
	# Every level down to info, where an unquoted expansion (SC2086) is,
	# less two that only ever flag what these scripts mean: functions
	# called by name (test_* through ktap_run_all, traps: SC2317) and awk,
	# sed and guest-shell programs in single quotes (SC2016).  One file a
	# process, two at a time: each takes seconds.
	out="$(cd "$TOP" && printf '%s\0' "${files[@]#"$TOP"/}" |
		xargs -0 -n 1 -P "$(nproc)" shellcheck -S info -e SC2317,SC2016 -f gcc -x 2>&1)" && return 0
	sed 's/^/  # /' <<<"$out"
	return 1
}

# --- C ------------------------------------------------------------------------------

lint_c() {
	local -a files=("$@")
	local f rc=0 out
	local -r selftests="$LINUX/tools/testing/selftests"
	[[ ${#files[@]} -gt 0 ]] || files=("$TOP"/scripts/*/*.c "$TOP"/tests/guest/*.c "$TOP"/rootfs/*.c)
	for f in "${files[@]}"; do
		local -a flags=(-O2 -Wall -Wextra -Werror -fsyntax-only)
		# The guest tests as tests/Makefile builds them (the harness's
		# callbacks take arguments they do not use).
		[[ "$f" == */tests/guest/* ]] && flags+=(-Wno-unused-parameter -D_GNU_SOURCE -I "$selftests")
		if ! out="$(gcc "${flags[@]}" "$f" 2>&1)"; then
			sed 's/^/  # /' <<<"$out"
			rc=1
		fi
	done
	return "$rc"
}

# --- Python ---------------------------------------------------------------------------

lint_python() {
	local -a files=("$@")
	[[ ${#files[@]} -gt 0 ]] || mapfile -t files < <(find "$TOP/scripts/gdb" -name '*.py' | sort)
	[[ ${#files[@]} -gt 0 ]] || return 0
	command -v pyflakes3 >/dev/null ||
		die "$E_SETUP" "no pyflakes3" "$("$TOP/scripts/build/preflight.sh" --install-command lint)"
	local out
	out="$(pyflakes3 "${files[@]}" 2>&1)" && return 0
	sed "s|^$TOP/||; s/^/  # /" <<<"$out"
	return 1
}

main() {
	case "${1:-}" in
	-h | --help) usage 0 ;;
	--files)
		[[ $# -ge 3 && " shell c python " == *" $2 "* ]] ||
			usage_error "--files takes shell, c or python, then the files"
		local -r kind="$2"
		shift 2
		"lint_$kind" "$@"
		return
		;;
	esac
	local -a kinds=("$@") k
	[[ ${#kinds[@]} -gt 0 ]] || read -ra kinds <<<"$KINDS"
	for k in "${kinds[@]}"; do
		[[ " $KINDS " == *" $k "* ]] || usage_error "unknown kind '$k': $KINDS"
	done
	echo "KTAP version 1"
	echo "1..${#kinds[@]}"
	local n=0 failed=0 rc
	for k in "${kinds[@]}"; do
		n=$((n + 1))
		rc=0
		"lint_$k" || rc=$?
		if [[ $rc -eq 0 ]]; then
			echo "ok $n $k"
		else
			echo "not ok $n $k"
			failed=$((failed + 1))
		fi
	done
	echo "# Totals: pass:$((n - failed)) fail:$failed xfail:0 xpass:0 skip:0 error:0"
	echo "lint: $((n - failed)) passed, $failed failed"
	[[ $failed -eq 0 ]]
}

main "$@"
