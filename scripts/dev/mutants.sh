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
# shellcheck source=scripts/exit-codes.sh
source "$TOP/scripts/exit-codes.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly WT="$BUILD/src/bisect"
readonly KD="$BUILD/kernel/bisect"

usage() {
	cat <<EOF
Usage: $SELF [--list] [--shard K/N] [PATTERN]

Runs the mutants of tests/mutants/ whose file name contains PATTERN (all by
default).  --shard K/N (or SHARD=K/N in the environment, as make passes it)
runs the K-th of N parts of them, for a CI matrix: mutant i (from 1, in
name order) when i mod N is K mod N.  --list prints the mutants it would
run, and runs none.
Exit codes: 0 every mutant caught, 1 one survived, $E_USAGE usage
EOF
	exit "${1:-0}"
}

main() {
	local shard="${SHARD:-}" list=0
	if [[ "${1:-}" == --list ]]; then
		list=1
		shift
	fi
	case "${1:-}" in
	-h | --help) usage 0 ;;
	--shard)
		[[ $# -ge 2 ]] || usage "$E_USAGE" >&2
		shard="$2"
		shift 2
		;;
	-*) usage "$E_USAGE" >&2 ;;
	esac
	local -r pattern="${1:-}"
	local -a mutants
	mapfile -t mutants < <(ls "$TOP"/tests/mutants/*"$pattern"*.patch 2>/dev/null)
	[[ ${#mutants[@]} -gt 0 ]] || {
		echo "$SELF: no mutant matches '$pattern' in tests/mutants/" >&2
		exit "$E_USAGE"
	}
	if [[ -n "$shard" ]]; then
		if ! [[ "$shard" =~ ^([0-9]+)/([0-9]+)$ ]] ||
			((BASH_REMATCH[1] < 1 || BASH_REMATCH[1] > BASH_REMATCH[2])); then
			echo "$SELF: SHARD=$shard: K/N with 1 <= K <= N is needed, e.g. 2/4" >&2
			exit "$E_USAGE"
		fi
		local -r k="${BASH_REMATCH[1]}" n="${BASH_REMATCH[2]}"
		local -a part=()
		local j
		for j in "${!mutants[@]}"; do
			(((j + 1 - k) % n == 0)) && part+=("${mutants[$j]}")
		done
		[[ ${#part[@]} -gt 0 ]] || {
			echo "$SELF: shard $shard of ${#mutants[@]} mutant(s) is empty: nothing to run"
			exit 0
		}
		mutants=("${part[@]}")
	fi
	if [[ $list -eq 1 ]]; then
		printf '%s\n' "${mutants[@]##*/}"
		exit 0
	fi
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
