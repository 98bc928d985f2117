#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make mutate: mutants of the C lines the commits on top of series-base add, each built and tested.
#
# The mutants come from build/host/mutate (scripts/dev/mutate.c) and are
# applied, one at a time, in a worktree of linux/ of this script's own
# (build/src/mutate, at linux/'s HEAD), built by the quick path in a build
# directory of its own (build/kernel/mutate): linux/ and the loop's kernel
# are never touched.  Each mutant is first compiled alone and its object
# compared with the original's, debug info aside: a compile error makes it
# stillborn, the same code and data make it equivalent, and neither is
# booted.  The others boot against the tests that reach their line (from
# make coverage's per-test table when build/coverage/series.json exists,
# else the default set below), one test a boot, in order, until one fails;
# a survivor then runs the whole guest suite, and test_fuzz's seeds with
# the A/B counters check against base.  Results go to build/mutate/:
# results.tsv (one line a mutant, as it finishes: an interrupted run
# resumes from it), report.md and report.json.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly LINUX="${MUTATE_LINUX:-$TOP/linux}"
readonly WT="${MUTATE_SRC:-$BUILD/src/mutate}"
readonly KD="${MUTATE_KDIR:-$BUILD/kernel/mutate}"
readonly OUT="${MUTATE_OUT:-$BUILD/mutate}"
readonly TOOL="$BUILD/host/mutate"
readonly EXCEPTIONS="$TOP/tests/mutants/equivalent"
# The diff of the series: the run's own, or a list's (a temporary file).
DIFF="$OUT/series.diff"
# The guests boot from a private copy of the staged root (made at the
# start of a run): another make or test may change build/rootfs meanwhile.
readonly GUEST_BUILD="$OUT/guest-build"
# The tests that reach the series' lines when there is no per-test
# coverage: the series' own, the mremap tests and the fuzzer, quickest
# and likeliest first.
readonly DEFAULT_TESTS="series/realign sandbox/mremap_scenarios vm/mremap_test \
sandbox/mremap_alloc_fail sandbox/mremap_fuzz series/exec_shift sandbox/pmd_move \
vm/mremap_dontunmap upstream/mremap_test"

usage() {
	cat <<EOF
Usage: $SELF [run] [--file F] [--line N[-M]] [--func NAME] [--shard K/N]
       $SELF list [same options]
       $SELF report
       $SELF same-object A.o B.o

run (default): generate the mutants of \`git diff series-base..HEAD\` in
linux/ (C files outside tools/), build and test each; write
build/mutate/report.{md,json}.  list: print them (ID FILE LINE OP FUNC
ORIGINAL MUTANT), without building.  report: write the report again from
build/mutate/results.tsv.  same-object: exit 0 when two objects have the
same code and data (debug info aside), 1 when not.

Options:
  --file F       only mutants of file F (e.g. mm/mremap.c)
  --line N[-M]   only mutants of line N (or lines N to M)
  --func NAME    only mutants inside function NAME
  --shard K/N    the K-th of N equal parts of the selection (a CI matrix)
  --dry-run      say what would be done, build and boot nothing

Environment:
  BUILD          build output root (default build/)
  MUTATE_LINUX   the tree whose commits on series-base are mutated (linux/)
  MUTATE_TIMEOUT seconds a guest may take over its tests' own timeouts (60)
  MUTATE_FULL=0  do not run the whole suite and test_fuzz for survivors
  MUTATE_TESTS   the targeted tests, space-separated (default: per-test
                 coverage, else: $DEFAULT_TESTS)

Exit codes: 0 every mutant killed, equivalent, stillborn or justified (or
nothing to mutate), 1 a survivor not justified in tests/mutants/equivalent,
$E_USAGE usage, $E_SRC no linux/ or no series-base, $E_BUILD the unmutated
kernel does not build, $E_TEMPFAIL another run holds build/mutate (try again
later).  A guest that could not run the tests stops the run, nothing
counted, with run-uml.sh's own code: $E_USAGE (a bad MUTATE_TESTS), $E_BUILD (no
guest root), $E_NOTEST (no such test), $E_NOSPACE (disk full), $E_SETUP (a
missing package), 130/143 (interrupted)
EOF
	exit "${1:-0}"
}

# same_object A B: the two objects' sections are the same, debug info aside.
same_object() {
	local -r a="$1" b="$2" tmp="$(mktemp -d)"
	local rc=0
	objcopy --strip-debug -R .comment "$a" "$tmp/a" &&
		objcopy --strip-debug -R .comment "$b" "$tmp/b" &&
		cmp -s "$tmp/a" "$tmp/b" || rc=1
	rm -rf "$tmp"
	return "$rc"
}

# compile_object SRCFILE OUT: the object of SRCFILE (a path in linux/),
# compiled alone with kbuild's recorded command of the mutant build
# directory; false when it does not compile (its errors in OUT.log).
compile_object() {
	local -r src="$1" out="$2"
	local -r obj="${src%.c}.o"
	local -r record="$KD/$(dirname "$obj")/.$(basename "$obj").cmd"
	local cmd
	[[ -r "$record" ]] || {
		echo "no kbuild record $record" >"$out.log"
		return 2
	}
	cmd="$(sed -n '1s/^[a-z]*cmd_[^ ]* := //p' "$record")"
	# Its own object and dependency file, not the build directory's.
	cmd="${cmd/ -o $obj / -o $out }"
	cmd="$(printf '%s' "$cmd" | sed -E "s#-Wp,-MMD,[^ ]*#-Wp,-MMD,$out.d#")"
	(cd "$KD" && eval "$cmd") >"$out.log" 2>&1
}

# The targeted tests of FILE:LINE, in TARGETED (an array).
targeted_tests() {
	local -r file="$1" line="$2" cov="$BUILD/coverage/series.json"
	TARGETED=()
	if [[ -n "${MUTATE_TESTS:-}" ]]; then
		read -r -a TARGETED <<<"$MUTATE_TESTS"
	elif [[ -r "$cov" ]]; then
		# Each test is one line of the JSON: its name, then the series'
		# lines it ran more often than an idle boot.
		mapfile -t TARGETED < <(awk -v f="$file" -v l="$line" '
			/^ *\{"name": / {
				name = $0; sub(/^ *\{"name": "/, "", name); sub(/".*/, "", name)
				rest = $0
				while (match(rest, /\{"file": "[^"]*", "line": [0-9]+, "count": [0-9]+, "idle": [0-9]+\}/)) {
					e = substr(rest, RSTART, RLENGTH); rest = substr(rest, RSTART + RLENGTH)
					split(e, v, /[",:{} ]+/)
					# v: "" file PATH line N count C idle I
					if ((v[3] == f || v[3] ~ ("/" f "$")) && v[5] == l && v[7] > v[9]) { print name; break }
				}
			}' "$cov")
	else
		read -r -a TARGETED <<<"$DEFAULT_TESTS"
	fi
}

# The timeout of guest test NAME (tests.list), plus MUTATE_TIMEOUT.
test_timeout() {
	local t
	t="$(awk -v n="$1" '$1 == n { print $2; exit }' "$TOP/tests/guest/tests.list")"
	echo $((${t:-600} + ${MUTATE_TIMEOUT:-60}))
}

now() {
	date +%s.%N
}

secs_since() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

# run_guest_tests PATTERN TIMEOUT: the guest suite (tests matching PATTERN,
# all with ""), on the mutant; STATUS (killed, timeout or empty) and KILLER.
# A run that could not test (a bad option, no such test, a full disk, a
# missing package) stops make mutate: it would count as a kill.
run_guest_tests() {
	local -r pattern="$1" timeout="$2" res="$OUT/run"
	local rc=0 first
	rm -rf "$res"
	mkdir -p "$res"
	env BUILD="$GUEST_BUILD" "$TOP/run-uml.sh" --no-build --kernel "$KD/linux" -t "$timeout" \
		--results "$res" --test ${pattern:+"$pattern"} >"$OUT/guest.log" 2>&1 </dev/null || rc=$?
	STATUS='' KILLER=''
	[[ $rc -eq 0 ]] && return 0
	case $rc in
	"$E_USAGE" | "$E_BUILD" | "$E_NOTEST" | "$E_NOSPACE" | "$E_SETUP" | 130 | 143)
		tail -n 5 "$OUT/guest.log" >&2
		# Its code, whose meaning is the same here (the one table).
		die "$rc" "run-uml.sh could not test the mutant (exit $rc): see ${OUT#"$TOP"/}/guest.log" \
			"the guest root or the tests are not as make rootfs stages them; run make rootfs"
		;;
	esac
	first="$(cat "$res"/*.ktap 2>/dev/null | grep -m1 -E '^not ok ' |
		sed -E 's/^not ok [0-9]+ //; s/ #.*//' || true)"
	KILLER="${first:-${pattern:-the guest suite}}"
	STATUS=killed
	case $rc in
	121) KILLER="$KILLER (kernel splat)" ;;
	124) STATUS=timeout KILLER="${pattern:-the guest suite} (guest timeout ${timeout}s)" ;;
	125 | 122) KILLER="$KILLER (dead guest, exit $rc)" ;;
	esac
	if [[ $STATUS == killed ]] && cat "$res"/*.ktap 2>/dev/null | grep -qE '^not ok .*# TIMEOUT'; then
		STATUS=timeout
	fi
	return 0
}

# stage_guest_root: $GUEST_BUILD, what run-uml.sh needs of a BUILD: a copy
# of the staged root whose test lists are the tree's, and the host tools.
stage_guest_root() {
	rm -rf "$GUEST_BUILD"
	mkdir -p "$GUEST_BUILD/logs"
	cp -a "$BUILD/rootfs" "$GUEST_BUILD/rootfs"
	cp "$TOP/tests/guest/tests.list" "$TOP/tests/guest/skipped.list" "$GUEST_BUILD/rootfs/tests/"
	cp -a "$BUILD/host" "$GUEST_BUILD/host"
}

# Restore the worktree: no mutant is left in it, whatever stopped the run.
restore_tree() {
	if [[ -e "$WT/.git" ]]; then
		git -C "$WT" checkout -q --force HEAD -- . 2>/dev/null || true
	fi
}

# One mutant, tested: appends its line to results.tsv.
run_mutant() {
	local -r id="$1" file="$2" line="$3" op="$4" func="$5" orig="$6" mut="$7"
	local status=survived killer=- t0 tb build_s guest_s=0 tg t boots=0
	t0="$(now)"
	"$TOOL" apply -C "$WT" "$file" "$line" "$orig" "$mut"
	if [[ "$file" == *.c ]]; then
		if ! compile_object "$file" "$OUT/mutant.o"; then
			status=stillborn
		elif same_object "$OUT/orig/${file//\//_}.o" "$OUT/mutant.o"; then
			status=equivalent
		fi
	fi
	if [[ $status == survived ]] &&
		! SRC="$WT" KDIR="$KD" "$TOP/scripts/build/kernel.sh" build >"$OUT/build.log" 2>&1; then
		status=stillborn
	fi
	restore_tree
	build_s="$(secs_since "$t0")"
	if [[ $status == survived ]]; then
		tb="$(now)"
		targeted_tests "$file" "$line"
		for t in "${TARGETED[@]}"; do
			boots=$((boots + 1))
			run_guest_tests "$t" "$(test_timeout "$t")"
			[[ -z "$STATUS" ]] || { status="$STATUS" killer="$KILLER"; break; }
		done
		if [[ $status == survived && "${MUTATE_FULL:-1}" != 0 ]]; then
			boots=$((boots + 1))
			run_guest_tests "" 1800
			[[ -z "$STATUS" ]] || status="$STATUS" killer="$KILLER"
		fi
		if [[ $status == survived && "${MUTATE_FULL:-1}" != 0 ]]; then
			tg=0
			boots=$((boots + 2))
			local -r base_kernel="$BUILD/kernel/base/linux"
			env BUILD="$GUEST_BUILD" KERNEL_A="$base_kernel" KERNEL_B="$KD/linux" \
				"$TOP/tests/host/test_fuzz.sh" \
				'clean\|digests\|counters' >"$OUT/fuzz.log" 2>&1 || tg=$?
			if [[ $tg -ne 0 ]]; then
				status=killed
				killer="test_fuzz $(grep -m1 -E '^not ok' "$OUT/fuzz.log" |
					sed -E 's/^not ok [0-9]+ //' || true)"
			fi
		fi
		guest_s="$(secs_since "$tb")"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$file" "$line" "$op" \
		"$func" "$status" "$killer" "$(secs_since "$t0")" "$build_s" "$guest_s" "$orig" \
		"$mut" >>"$OUT/results.tsv"
	# For make bench: how the time split, and how many boots it took.
	printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$status" "$build_s" "$boots" "$guest_s" \
		>>"$OUT/timing.tsv"
	printf '%s %s:%s %s: %s%s (%s s)\n' "$id" "$file" "$line" "$op" "$status" \
		"${killer/#-/}" "$(secs_since "$t0")" | sed 's/killed\([^ ]\)/killed by \1/; s/timeout\([^ ]\)/timed out in \1/'
}

# The diff of the commits on series-base, in $DIFF; false when there is
# nothing to mutate.
series_diff() {
	[[ -d "$LINUX/.git" ]] ||
		die "$E_SRC" "no kernel tree in linux/" "run make source (or make) first"
	git -C "$LINUX" rev-parse -q --verify series-base >/dev/null ||
		die "$E_SRC" "linux/ has no tag series-base: it is not the sandbox's import" \
			"make source imports it; make linux-status says what linux/ is"
	mkdir -p "$OUT"
	git -C "$LINUX" diff -U0 series-base..HEAD -- '*.c' '*.h' ':(exclude)tools/' >"$DIFF"
	[[ -s "$DIFF" ]]
}

parse_options() {
	SEL=()
	DRY=
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--file | --line | --func | --shard)
			[[ $# -ge 2 ]] || { echo "$SELF: $1 needs a value" >&2; usage "$E_USAGE" >&2; }
			case "$1" in
			--file) SEL+=(-f "$2") ;;
			--line) SEL+=(-l "$2") ;;
			--func) SEL+=(-F "$2") ;;
			--shard) SEL+=(-s "$2") ;;
			esac
			shift 2
			;;
		--dry-run) DRY='echo' && shift ;;
		-h | --help) usage 0 ;;
		*) echo "$SELF: unknown option '$1'" >&2 && usage "$E_USAGE" >&2 ;;
		esac
	done
}

# list_from_head: the selected mutants, from the files as linux/'s HEAD
# has them (not as its work tree may).
list_from_head() {
	local -r tmp="$(mktemp -d)"
	local -a files
	mapfile -t files < <(sed -n 's|^+++ b/||p' "$DIFF")
	git -C "$LINUX" archive HEAD -- "${files[@]}" | tar -x -C "$tmp"
	local rc=0
	"$TOOL" list -C "$tmp" "${SEL[@]}" "$DIFF" || rc=$?
	rm -rf "$tmp"
	return "$rc"
}

cmd_list() {
	parse_options "$@"
	DIFF="$(mktemp)"
	trap 'rm -f "$DIFF"' EXIT
	if ! series_diff; then
		echo "nothing to mutate: no C line outside tools/ on top of series-base"
		return 0
	fi
	list_from_head
}

cmd_report() {
	local rc=0
	"$TOOL" report -o "$OUT/report" -x "$EXCEPTIONS" "$OUT/results.tsv" || rc=$?
	echo "report: ${OUT#"$TOP"/}/report.md and report.json"
	return "$rc"
}

cmd_run() {
	parse_options "$@"
	# A dry run leaves the results of a real one alone.
	if [[ -n "$DRY" ]]; then
		DIFF="$(mktemp)"
		trap 'rm -f "$DIFF"' EXIT
	fi
	if [[ "$(git -C "$LINUX" rev-list --count series-base..HEAD 2>/dev/null || echo x)" == 0 ]]; then
		echo "nothing to mutate: no commit on top of series-base in linux/"
		return 0
	fi
	if ! series_diff; then
		echo "nothing to mutate: the commits on top of series-base add no C line outside tools/"
		return 0
	fi
	local -r head="$(git -C "$LINUX" rev-parse HEAD)"
	if [[ -n "$DRY" ]]; then
		echo "make -s -C $TOP rootfs host-tools $TOOL"
		echo "$TOP/scripts/build/kernel.sh worktree mutate $head"
		echo "then, in ${WT#"$TOP"/} and ${KD#"$TOP"/}, each of these mutants:"
		list_from_head | cut -f1-5
		return 0
	fi
	exec {lock}>"$OUT/.lock"
	flock -n "$lock" || die "$E_TEMPFAIL" "another make mutate is running in ${OUT#"$TOP"/}" \
		"wait for it, or use another BUILD="
	trap 'restore_tree' EXIT
	trap 'restore_tree; exit 130' INT
	trap 'restore_tree; exit 143' TERM

	make -s -C "$TOP" rootfs host-tools "$TOOL"
	stage_guest_root
	"$TOP/scripts/build/kernel.sh" worktree mutate "$head"
	restore_tree
	"$TOOL" list -C "$WT" "${SEL[@]}" "$DIFF" >"$OUT/mutants.tsv"
	local -r n="$(wc -l <"$OUT/mutants.tsv")"
	# Resume only a run of the same commits, tool and selection.
	local key
	key="$(printf '%s %s %s\n' "$head" "$(sha1sum <"$TOOL")" "${SEL[*]}" | sha1sum)"
	if [[ -f "$OUT/results.tsv" && "$(cat "$OUT/key" 2>/dev/null)" == "$key" ]]; then
		echo "resuming: $(cut -f1 "$OUT/results.tsv" | sort -u | wc -l) of $n mutants done"
	else
		: >"$OUT/results.tsv"
		: >"$OUT/timing.tsv"
		echo "$key" >"$OUT/key"
	fi
	echo "$n mutants of $(grep -c '^+++ ' "$DIFF") file(s), $(git -C "$LINUX" \
		rev-list --count series-base..HEAD) commit(s) on series-base"

	# The unmutated kernel, and each file's unmutated object.
	echo "building the unmutated kernel in ${KD#"$TOP"/} (a full build the first time)"
	SRC="$WT" KDIR="$KD" "$TOP/scripts/build/kernel.sh" build >"$OUT/build.log" 2>&1 || {
		tail -n 20 "$OUT/build.log" >&2
		die "$E_BUILD" "the unmutated tree does not build (log: ${OUT#"$TOP"/}/build.log)" \
			"fix linux/'s HEAD first: make check T=series"
	}
	mkdir -p "$OUT/orig"
	local f
	for f in $(cut -f2 "$OUT/mutants.tsv" | sort -u | grep '\.c$' || true); do
		compile_object "$f" "$OUT/orig/${f//\//_}.o" ||
			die "$E_BUILD" "the unmutated $f does not compile alone: $(head -n 3 \
				"$OUT/orig/${f//\//_}.o.log")" "rm -rf ${KD#"$TOP"/} to start its build again"
	done

	local id file line op func orig mut
	while IFS=$'\t' read -r id file line op func orig mut; do
		grep -q "^$id	" "$OUT/results.tsv" && continue
		run_mutant "$id" "$file" "$line" "$op" "$func" "$orig" "$mut" </dev/null
	done <"$OUT/mutants.tsv"
	# The kernel of this directory is unmutated again for the next run.
	SRC="$WT" KDIR="$KD" "$TOP/scripts/build/kernel.sh" build >"$OUT/build.log" 2>&1 || true
	cmd_report
}

main() {
	local cmd=run
	case "${1:-}" in
	run | list | report | same-object)
		cmd="$1"
		shift
		;;
	-h | --help) usage 0 ;;
	esac
	case "$cmd" in
	run) cmd_run "$@" ;;
	list) cmd_list "$@" ;;
	report) cmd_report ;;
	same-object)
		[[ $# -eq 2 ]] || usage "$E_USAGE" >&2
		same_object "$1" "$2"
		;;
	esac
}

main "$@"
