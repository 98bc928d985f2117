# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# bench.sh's mutate part: make mutate's whole run, mutants per hour, the time in build, boot and tests.
#
# Sourced by scripts/dev/bench.sh (scripts/dev/bench.sh --only mutate).
# One whole run of scripts/dev/mutate.sh (MUTATE_BENCH_ARGS selects, e.g.
# "--shard 1/4"; default every mutant), started clean; then, from its
# build/mutate/timing.tsv, each mutant's build (compile alone, compare,
# quick build) and guest time, and the guest time split into boots and
# tests with the median boot of this kernel measured beside it (--runs
# boots of run-uml.sh -- true).  The old way, beside it: a survivor or a
# killed mutant as make mutants runs one, the whole guest suite at once,
# measured on the unmutated kernel (3 runs).

# shellcheck disable=SC2154 # runs: bench.sh's --runs, set before any part runs
bench_mutate() {
	local -r mo="$BUILD/mutate" kd="$BUILD/kernel/mutate"
	local -a args v
	read -r -a args <<<"${MUTATE_BENCH_ARGS:-}"
	# Clean: no result of an earlier run is resumed.
	rm -f "$mo/results.tsv" "$mo/timing.tsv" "$mo/key"
	local t0=$EPOCHREALTIME rc=0
	"$TOP/scripts/dev/mutate.sh" run "${args[@]}" >"$OUT/mutate.log" 2>&1 || rc=$?
	local -r wall="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')"
	[[ $rc -le 1 && -s "$mo/timing.tsv" ]] || {
		echo "$SELF: make mutate failed (exit $rc): see ${OUT#"$TOP"/}/mutate.log" >&2
		tail -n 20 "$OUT/mutate.log" >&2
		return 1
	}
	grep '^mutants:' "$OUT/mutate.log" | sed 's/^/  /'
	local -r n="$(wc -l <"$mo/timing.tsv")"
	record mutate_run "make mutate, the whole run ($n mutants${args[*]:+, ${args[*]}})" "$wall"
	local -r per_hour="$(awk -v n="$n" -v w="$wall" 'BEGIN { printf "%.1f", 3600 * n / w }')"
	echo "  mutants per hour: $per_hour"
	JSON+=("{\"name\": \"mutate_per_hour\", \"what\": \"mutants per hour\", \"value\": $per_hour}")
	ROWS+=("| mutants per hour (the whole run) | $per_hour | | | 1 |")

	mapfile -t v < <(repeat "$runs" "$RUN" --no-build --kernel "$kd/linux" -- true)
	record mutate_boot "boot to init and back (the mutate kernel, --no-build)" "${v[@]}"
	local -r boot="${MEDIANS[mutate_boot]}"

	# timing.tsv: ID STATUS BUILD_S BOOTS GUEST_S.
	mapfile -t v < <(cut -f3 "$mo/timing.tsv")
	record mutate_build "a mutant: compile alone, compare, quick build (every mutant)" "${v[@]}"
	if awk -F'\t' '$4 > 0 { f = 1 } END { exit !f }' "$mo/timing.tsv"; then
		mapfile -t v < <(awk -F'\t' '$4 > 0 { print $5 }' "$mo/timing.tsv")
		record mutate_guest "a booted mutant: its guests, to its verdict" "${v[@]}"
		mapfile -t v < <(awk -F'\t' '$4 > 0 { print $4 }' "$mo/timing.tsv")
		record mutate_boots "a booted mutant: its boots (count)" "${v[@]}"
		mapfile -t v < <(awk -F'\t' -v b="$boot" '$4 > 0 { t = $5 - $4 * b; print (t < 0 ? 0 : t) }' \
			"$mo/timing.tsv")
		record mutate_tests "a booted mutant: its tests (guests minus boots x the median boot)" "${v[@]}"
		awk -F'\t' -v b="$boot" '
			{ build += $3; boots += $4; guest += $5 }
			END { printf "  the whole run: build %.0f s, boot %.0f s, tests %.0f s\n",
				build, boots * b, guest - boots * b }' "$mo/timing.tsv"
	fi
	# The old way: the whole guest suite for one mutant.
	mapfile -t v < <(repeat 3 "$RUN" --no-build --kernel "$kd/linux" --test --results "$OUT/suite")
	record mutate_suite "old way: the whole guest suite for one mutant (make mutants)" "${v[@]}"
}
