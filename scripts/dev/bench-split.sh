# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# bench.sh's split part: kernel.sh and run-uml.sh as split into steps, against each before its split.
#
# Sourced by scripts/dev/bench.sh (scripts/dev/bench.sh --only split).
# The splits (kernel.sh's quick path into scripts/build/quick-build.sh,
# run-uml.sh's main into named steps) were to change no behaviour and no
# cost.  Each is timed here beside the same script from git, as it was
# just before its split, run by run in turn: kernel.sh build with nothing
# to do (every edit pays it before its compile; it no longer reads the
# quick path), and run-uml.sh --no-build -- true (a boot to init and back).

# split_rev SUBJECT: in REPLY, the commit whose subject starts with SUBJECT
# (false when history does not hold it: a shallow clone).
split_rev() {
	REPLY="$(git -C "$TOP" log -F --grep="$1" --format=%H -n 1)"
	[[ -n "$REPLY" ]]
}

# shellcheck disable=SC2154 # runs: bench.sh's --runs, set before any part runs
bench_split() {
	local i old
	local -a new_t=() old_t=()
	if split_rev "kernel.sh: the quick path in quick-build.sh" &&
		old_tree old-split-kernel "$REPLY" scripts/build/kernel.sh scripts/lib.sh \
			scripts/exit-codes.sh config/sandbox.config; then
		kernel_noop_beside "$REPLY/scripts/build/kernel.sh" split_kernel \
			"scripts/build/kernel.sh build, nothing to do (quick path apart)" \
			"  the same, kernel.sh before the split" "  kernel.sh, split over whole"
	else
		echo "  (no history of kernel.sh before its split: its rows skipped)"
	fi
	if split_rev "run-uml.sh: main as named steps" &&
		old_tree old-split-run "$REPLY" run-uml.sh scripts/lib.sh scripts/exit-codes.sh; then
		old="$REPLY/run-uml.sh"
		for ((i = 0; i < runs; i++)); do
			old_t+=("$(time_cmd env BUILD="$BUILD" "$old" --no-build -- true)")
			new_t+=("$(time_cmd env BUILD="$BUILD" "$RUN" --no-build -- true)")
		done
		record split_run "./run-uml.sh --no-build -- true (main in steps)" "${new_t[@]}"
		record split_run_old "  the same, run-uml.sh before the split" "${old_t[@]}"
		ratio split_run_ratio "  run-uml.sh, steps over one main" split_run split_run_old
	else
		echo "  (no history of run-uml.sh before its split: its rows skipped)"
	fi
}
