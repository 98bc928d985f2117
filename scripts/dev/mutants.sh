#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build a kernel per deliberately broken variant of the series and check the suite catches it.
#
# Each tests/mutants/*.patch is applied on top of linux/ HEAD in a worktree
# (so linux/ is never touched), built and run through the whole guest
# suite.  The worktree and build directory are check-series' own
# (build/src/bisect, build/kernel/bisect): both end at HEAD, so after one
# of them only mm/mremap.c recompiles for each mutant.  A mutant is caught when
# the suite fails.  Prints KTAP: one result per mutant, "ok" when caught.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly BUILD="${BUILD:-$TOP/build}"
readonly WT="$BUILD/src/bisect"
readonly KD="$BUILD/kernel/bisect"

usage() {
	cat <<EOF
Usage: $SELF [PATTERN]

Runs the mutants of tests/mutants/ whose file name contains PATTERN (all by
default). Exit codes: 0 every mutant caught, 1 one survived, 64 usage
EOF
	exit "${1:-0}"
}

main() {
	case "${1:-}" in
	-h | --help) usage 0 ;;
	-*) usage 64 >&2 ;;
	esac
	local -r pattern="${1:-}"
	local -a mutants
	mapfile -t mutants < <(ls "$TOP"/tests/mutants/*"$pattern"*.patch 2>/dev/null)
	[[ ${#mutants[@]} -gt 0 ]] || {
		echo "$SELF: no mutant matches '$pattern' in tests/mutants/" >&2
		exit 64
	}
	make -s -C "$TOP" rootfs host-tools
	"$TOP/scripts/build/kernel.sh" worktree bisect HEAD

	echo "KTAP version 1"
	echo "1..${#mutants[@]}"
	local i=0 caught=0 m name rc
	for m in "${mutants[@]}"; do
		i=$((i + 1))
		name="$(basename "$m" .patch)"
		git -C "$WT" checkout -q --detach --force "$(git -C "$TOP/linux" rev-parse HEAD)"
		git -C "$WT" apply "$m"
		sed -n 's/^# /  # /p' "$m"
		if ! SRC="$WT" KDIR="$KD" "$TOP/scripts/build/kernel.sh" build >"$BUILD/mutant-build.log" 2>&1; then
			tail -n 20 "$BUILD/mutant-build.log" | sed 's/^/  # /'
			echo "not ok $i $name # the mutant does not build"
			continue
		fi
		rc=0
		"$TOP/run-uml.sh" --no-build --kernel "$KD/linux" --test \
			>"$BUILD/mutant-$name.log" 2>&1 || rc=$?
		# What failed, in the report's own words.
		grep -E '^(not ok|  not ok|# unexpected)|  fail  |kernel splat' "$BUILD/mutant-$name.log" |
			head -n 12 | sed 's/^/  # /'
		if [[ $rc -ne 0 ]]; then
			caught=$((caught + 1))
			echo "ok $i $name # caught (suite exit $rc)"
		else
			echo "not ok $i $name # survived: the whole suite passed"
		fi
	done
	git -C "$WT" checkout -q --force HEAD
	echo "mutants: $caught passed, $((i - caught)) failed"
	[[ $caught -eq $i ]]
}

main "$@"
