#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Prove the series bisectable: build every prefix that touches kernel code,
# compile the selftests at every prefix, run checkpatch on every patch.
#
# Works on a git worktree of linux/ (build/src/bisect) and its own build
# directory, so linux/ and the other kernels are never touched.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=scripts/exit-codes.sh
source "$TOP/scripts/exit-codes.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly LINUX="$TOP/linux"
readonly WT="$BUILD/src/bisect"

usage() {
	cat <<EOF
Usage: $SELF [--no-build]

For each commit of linux/ from series-base to HEAD, in order:
  - scripts/checkpatch.pl --strict on the commit (errors fail, warnings are listed)
  - compile the changed selftests (tools/testing/selftests/vm/*.c) statically
  - build the UML kernel (KDIR=build/kernel/bisect) when the commit touches
    anything outside tools/, and always at the tip

  --no-build   skip the kernel builds (checkpatch and selftests only)

Exit codes: 0 every prefix is good, 1 a prefix failed (named), $E_USAGE usage
EOF
	exit "${1:-0}"
}

ktap_result() {
	local -r ok="$1" n="$2" name="$3"
	if [[ "$ok" -eq 0 ]]; then
		echo "ok $n $name"
	else
		echo "not ok $n $name"
	fi
}

main() {
	local build=1
	case "${1:-}" in
	"") ;;
	--no-build) build=0 ;;
	-h | --help) usage 0 ;;
	*) usage "$E_USAGE" >&2 ;;
	esac

	local -a commits
	mapfile -t commits < <(git -C "$LINUX" rev-list --reverse series-base..HEAD)
	[[ ${#commits[@]} -gt 0 ]] || {
		echo "$SELF: no series commits between series-base and HEAD" >&2
		exit 1
	}
	"$TOP/scripts/build/kernel.sh" worktree bisect series-base

	echo "KTAP version 1"
	echo "1..${#commits[@]}"
	local i=0 failed=0 c subject rc files tip
	tip="${commits[-1]}"
	for c in "${commits[@]}"; do
		i=$((i + 1))
		subject="$(git -C "$LINUX" log -1 --format=%s "$c")"
		git -C "$WT" checkout -q --detach --force "$c"
		rc=0
		echo "  # $subject"
		# checkpatch: errors fail; warnings and checks are shown for review.
		if ! git -C "$LINUX" format-patch -1 --stdout "$c" |
			(cd "$WT" && ./scripts/checkpatch.pl --strict --terse --no-summary -) \
				>"$BUILD/checkpatch.out" 2>&1; then
			grep -q ': ERROR:' "$BUILD/checkpatch.out" && rc=1
		fi
		sed 's/^/  # checkpatch: /' "$BUILD/checkpatch.out"
		mapfile -t files < <(git -C "$LINUX" diff-tree --no-commit-id --name-only -r "$c")
		local f
		for f in "${files[@]}"; do
			[[ "$f" == tools/testing/selftests/vm/*.c ]] || continue
			if gcc -static -O2 -Wall -I "$WT/tools/testing/selftests" \
				-o "$BUILD/bisect-selftest" "$WT/$f" -lrt -lpthread \
				>"$BUILD/cc.out" 2>&1; then
				echo "  # compiled $f"
			else
				sed 's/^/  # /' "$BUILD/cc.out"
				rc=1
			fi
		done
		if [[ $build -eq 1 ]] &&
			{ [[ "$c" == "$tip" ]] || printf '%s\n' "${files[@]}" | grep -qv '^tools/'; }; then
			if SRC="$WT" KDIR="$BUILD/kernel/bisect" "$TOP/scripts/build/kernel.sh" build \
				>"$BUILD/bisect-build.out" 2>&1; then
				echo "  # kernel builds"
			else
				grep -E 'error|Error' "$BUILD/bisect-build.out" | head -n 20 | sed 's/^/  # /'
				rc=1
			fi
		fi
		[[ $rc -eq 0 ]] || failed=$((failed + 1))
		ktap_result "$rc" "$i" "$(git -C "$LINUX" log -1 --format=%h "$c") $subject"
	done
	echo "series: $((i - failed)) passed, $failed failed"
	[[ $failed -eq 0 ]]
}

main "$@"
