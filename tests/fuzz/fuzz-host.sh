#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build and run the libFuzzer harnesses of the host tools: fuzz for a while, or replay their corpora.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly FUZZ="$TOP/tests/fuzz"
readonly HARNESSES=(ktap splat launch coverage kbuild stale)
# shellcheck source=scripts/exit-codes.sh
source "$TOP/scripts/exit-codes.sh"

usage() {
	cat <<EOF
Usage: $SELF build [NAME...]
       $SELF run [-t SECONDS] [NAME...]
       $SELF check [NAME...]

The libFuzzer harnesses of tests/fuzz/fuzz_NAME.c, one per parser of what a
guest or a build wrote: $(echo "${HARNESSES[*]}").  Each is built with
clang's -fsanitize=fuzzer,address,undefined into \$BUILD/fuzz/.

  build   build the harnesses (only those out of date)
  run     fuzz each harness for SECONDS (default: 30 each, ~3 min in all),
          starting from its seeds (tests/fuzz/corpus/NAME) and what earlier
          runs found (\$BUILD/fuzz/corpus/NAME); print execs, coverage,
          corpus size and crashes per harness.  A crash is kept in
          \$BUILD/fuzz/crashes/NAME/: fix it, then copy the input to
          tests/fuzz/regress/NAME/ so that it stays fixed.
  check   run each harness once over its seeds and its crash regressions
          (tests/fuzz/regress/NAME), seconds in all; prints KTAP.

Environment:
  BUILD     build output directory (default: build/ at the top)
  FUZZ_CC   the compiler (default: clang)

Exit codes:
  0   built; or no crash; or every input passed
  1   a harness crashed (run) or an input failed (check)
  $E_USAGE  bad usage
  $E_SETUP  clang or its libFuzzer runtime is missing (Debian: clang, libclang-rt-14-dev)
EOF
	exit "${1:-0}"
}

usage_error() {
	printf '%s: %s\n' "$SELF" "$1" >&2
	usage "$E_USAGE" >&2
}

readonly BUILD="${BUILD:-$TOP/build}"
readonly OUT="$BUILD/fuzz"
readonly CC_FUZZ="${FUZZ_CC:-clang}"
# The rest of each tool (its main, its other readers) is unused here.
# shellcheck disable=SC2054 # the commas are clang's list of sanitizers
readonly FLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-Wall -Wextra -Wno-unused-function -Wno-unneeded-internal-declaration
	-Wno-missing-field-initializers)
# libFuzzer options of one harness, beyond the common ones (none yet:
# leaks are reported for all, and the tools' error paths leave none).
readonly -A OPTS=()

# opts_of NAME: its libFuzzer options, in OPT.
opts_of() {
	OPT=()
	[[ -z "${OPTS[$1]:-}" ]] || OPT=("${OPTS[$1]}")
}

# names_of NAME...: the harnesses asked for (all without a name), in NAMES.
names_of() {
	local n h
	NAMES=()
	[[ $# -gt 0 ]] || set -- "${HARNESSES[@]}"
	for n in "$@"; do
		for h in "${HARNESSES[@]}"; do
			[[ "$n" != "$h" ]] || continue 2
		done
		usage_error "no harness '$n' (there are: ${HARNESSES[*]})"
	done
	NAMES=("$@")
}

# build_one NAME: $OUT/fuzz_NAME, rebuilt when a source it includes changed.
build_one() {
	local -r name="$1" bin="$OUT/fuzz_$1"
	local -a extra=()
	local src
	for src in "$FUZZ/fuzz_$name.c" "$FUZZ/fuzz.h" "$TOP/scripts/include/host-util.h" \
		"$TOP/scripts/run/splat-markers.h" "$TOP"/scripts/*/*.c "$TOP"/scripts/*/*.h; do
		if [[ ! -x "$bin" || "$src" -nt "$bin" ]]; then
			case "$name" in
			coverage) extra=("-DCOVERAGE_DIFF=\"$TOP/tests/host/data/coverage/series.diff\"") ;;
			stale) extra=(-pthread) ;;
			esac
			echo "  FUZZCC  fuzz_$name"
			"$CC_FUZZ" "${FLAGS[@]}" "${extra[@]}" -o "$bin.tmp" "$FUZZ/fuzz_$name.c" &&
				mv -f "$bin.tmp" "$bin"
			return
		fi
	done
}

build_all() {
	local n
	command -v "$CC_FUZZ" >/dev/null || {
		printf '%s: error: %s not found: the harnesses need clang with libFuzzer\n' \
			"$SELF" "$CC_FUZZ" >&2
		printf '  install it: apt-get install clang libclang-rt-14-dev\n' >&2
		exit "$E_SETUP"
	}
	mkdir -p "$OUT"
	for n in "${NAMES[@]}"; do
		build_one "$n" || {
			printf '%s: error: building fuzz_%s failed (see above); the libFuzzer runtime: apt-get install libclang-rt-14-dev\n' \
				"$SELF" "$n" >&2
			exit "$E_SETUP"
		}
	done
}

# run_one NAME SECONDS: fuzz, then one line of figures.
run_one() {
	local -r name="$1" secs="$2" log="$OUT/$1.log"
	local -r corpus="$OUT/corpus/$1" crashes="$OUT/crashes/$1"
	local rc=0 execs cov ft units found
	local -a OPT
	opts_of "$name"
	mkdir -p "$corpus" "$crashes"
	# -close_fd_mask=3: the tools' own messages would flood the log and
	# slow the run; libFuzzer's report of a crash still goes to it.
	"$OUT/fuzz_$name" "${OPT[@]}" -max_total_time="$secs" -rss_limit_mb=2048 \
		-timeout=10 -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$crashes/" \
		"$corpus" "$FUZZ/corpus/$name" >"$log" 2>&1 || rc=$?
	execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
	cov="$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
	ft="$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)"
	# libFuzzer's own count: the inputs of the corpus that add coverage
	# (the directory keeps every run's too).
	units="$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -n 1 | cut -d' ' -f2)"
	found="$(find "$crashes" -type f | wc -l)"
	printf '%-9s %10s %7s %7s %12s %8s\n' "$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
		"${units:-?}" "$found"
	if [[ $rc -ne 0 ]]; then
		printf '%s: fuzz_%s stopped with status %s: %s\n' "$SELF" "$name" "$rc" \
			"$(grep -m 1 -E 'ERROR|fuzz check failed' "$log" || echo 'see the log')" >&2
		printf '  inputs: %s/, log: %s\n' "$crashes" "$log" >&2
		return 1
	fi
}

cmd_run() {
	local secs=30 rc=0 n
	if [[ "${1:-}" == -t ]]; then
		[[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || usage_error "-t takes whole seconds, not '${2:-}'"
		secs="$2"
		shift 2
	fi
	names_of "$@"
	build_all
	echo "fuzzing ${#NAMES[@]} harness(es), $secs s each (logs: ${OUT#"$TOP"/}/NAME.log)"
	printf '%-9s %10s %7s %7s %12s %8s\n' HARNESS EXECS COV FT CORPUS CRASHES
	for n in "${NAMES[@]}"; do
		run_one "$n" "$secs" || rc=1
	done
	return "$rc"
}

# check: KTAP, one result per harness; each input of its seeds and
# regressions runs once (libFuzzer given files runs each and stops).
cmd_check() {
	local n=0 failed=0 name rc
	local -a inputs OPT
	names_of "$@"
	build_all
	echo "KTAP version 1"
	echo "1..${#NAMES[@]}"
	for name in "${NAMES[@]}"; do
		n=$((n + 1))
		mapfile -t inputs < <(find "$FUZZ/corpus/$name" "$FUZZ/regress/$name" -type f \
			2>/dev/null | sort)
		if [[ ${#inputs[@]} -eq 0 ]]; then
			echo "not ok $n $name # no input: tests/fuzz/corpus/$name is empty"
			failed=$((failed + 1))
			continue
		fi
		rc=0
		opts_of "$name"
		"$OUT/fuzz_$name" "${OPT[@]}" "${inputs[@]}" >"$OUT/$name.check.log" 2>&1 || rc=$?
		echo "  # $name: ${#inputs[@]} inputs ($(find "$FUZZ/regress/$name" -type f \
			2>/dev/null | wc -l) regressions), exit $rc"
		if [[ $rc -ne 0 ]]; then
			# The input that failed is the last one libFuzzer ran.
			{ grep 'Running: ' "$OUT/$name.check.log" | tail -n 1
			  grep -m 2 -E 'fuzz check failed|ERROR|SUMMARY' "$OUT/$name.check.log"; } |
				sed 's/^/  # /'
			echo "not ok $n $name"
			failed=$((failed + 1))
		else
			echo "ok $n $name"
		fi
	done
	echo "# Totals: pass:$((n - failed)) fail:$failed xfail:0 xpass:0 skip:0 error:0"
	[[ $failed -eq 0 ]]
}

main() {
	local -a NAMES
	# The harnesses' own files (fuzz_kbuild's tree), gone with the run
	# even when a harness crashed and could not remove them.
	tmp="$(mktemp -d "${TMPDIR:-/tmp}/fuzz-host.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	export TMPDIR="$tmp"
	[[ $# -gt 0 ]] || usage_error "no command: build, run or check"
	case "$1" in
	-h | --help) usage 0 ;;
	build) shift; names_of "$@"; build_all ;;
	run) shift; cmd_run "$@" ;;
	check) shift; cmd_check "$@" ;;
	*) usage_error "unknown command '$1'" ;;
	esac
}

main "$@"
