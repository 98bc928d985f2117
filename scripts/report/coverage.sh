#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make coverage: a GCOV kernel, the guest suite on it, lcov and a series-aware report.
#
# The kernel is the one the loop uses (linux/, or the base worktree) built
# with config/coverage.config into a directory of its own, so the loop's
# build/kernel/patched is never touched.  UML's libgcov writes the counters
# (KDIR/**/*.gcda) when the kernel process exits normally; a panic
# abort()s, a timeout or a kill stops it first: every boot here starts
# with no .gcda and a boot that leaves none is reported as lost.
#
# Boots: the whole suite once (build/coverage/<kernel>.info and the HTML),
# an idle boot ("-- true": init's own execs), then each test alone (the
# per-test table; only the .gcda of the series' C files are read).
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly OUT="$BUILD/coverage"
# The series' kernel patches (0001, 0002) change these files only.
readonly SERIES_FILES=(mm/mremap.c fs/exec.c include/linux/mm.h)

usage() {
	cat <<EOF
Usage: $SELF [--kernel patched|base] [--no-per-test]

Builds the GCOV kernel (build/kernel/coverage, or coverage-base), runs the
guest suite on it, and writes build/coverage/: <kernel>.info (lcov), html/,
series.md and series.json (printed at the end).

Options:
  -k, --kernel K   patched (default) or base (the tree at tag series-base:
                   what the suite runs of the code the series replaces)
      --no-per-test  skip the one-boot-per-test table (saves a boot a test)
  -h, --help       this text

Environment: KERNEL (default for --kernel), BUILD (default build/)

Exit codes: 0 written, $E_USAGE usage, $E_BUILD the build failed, $E_TEMPFAIL the
whole suite's boot wrote no gcov data (panic, timeout, kill: see its log;
run it again)
EOF
	exit "${1:-0}"
}

# lcov 1.16 keeps branch data only when asked; geninfo's own perl
# warnings ("Subroutine ... redefined") are noise.
lcov_q() {
	lcov --rc lcov_branch_coverage=1 -q "$@" 2> >(grep -v 'redefined at' >&2)
}

# elapsed FROM TO: seconds between two EPOCHREALTIMEs.
elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'
}

# clear_counters: no .gcda left, so the next boot's are its own
# (libgcov adds to the counts it finds).
clear_counters() {
	find "$KDIR" -name '*.gcda' -delete
}

# counters_written MARK: true when the boot since MARK wrote .gcda files.
counters_written() {
	[[ -n "$(find "$KDIR" -name '*.gcda' -newer "$1" -print -quit)" ]]
}

# lost_reason RC: why a boot that wrote nothing did not, from its status.
lost_reason() {
	case "$1" in
	"$E_SPLAT") echo "a kernel splat ended the kernel (panic: abort(), no atexit)" ;;
	"$E_KILLED") echo "the kernel was killed by a signal" ;;
	"$E_TIMEOUT") echo "timed out: the kernel was killed" ;;
	*) echo "the kernel did not exit normally (run-uml.sh exit $1)" ;;
	esac
}

# boot NAME ARGS...: one boot of the coverage kernel with no counters
# before it; sets boot_rc, and boot_lost (empty when the counters were
# written).  The console log goes to OUT/logs/NAME.log.
boot() {
	local -r name="$1"
	shift
	local -r log="$OUT/logs/${name//\//_}.log"
	clear_counters
	touch "$OUT/.mark"
	boot_rc=0
	SANDBOX_KERNEL_NAME="$kernel" "$TOP/run-uml.sh" --no-build --kernel "$KDIR/linux" "$@" \
		>"$log" 2>&1 || boot_rc=$?
	boot_lost=
	counters_written "$OUT/.mark" || boot_lost="$(lost_reason "$boot_rc")"
}

# capture_series FILE: the counters of the series' C files only (a
# tracefile of the whole kernel takes geninfo ~1000 gcov runs).
capture_series() {
	local -a dirs=()
	local f
	for f in "${SERIES_FILES[@]}"; do
		[[ "$f" == *.c && -f "$KDIR/${f%.c}.gcda" ]] && dirs+=(-d "$KDIR/${f%.c}.gcda")
	done
	if [[ ${#dirs[@]} -eq 0 ]]; then
		printf 'TN:\n' >"$1"
		return
	fi
	lcov_q -c -b "$KDIR" "${dirs[@]}" -o "$1" >/dev/null
}

# prepare_libgcov DIR: a libgcov.a for the UML link, found first through
# LIBRARY_PATH=DIR for the coverage build only (the kernel tree is not
# touched).  gcc looks in DIR/$(gcc -print-multi-os-directory) before its
# own directories (DIR/../lib on Debian: DIR itself, as DIR ends in lib).
# It is gcc's own with two changes:
#  - gcc 12's libgcov defines mangle_path(), as the kernel does
#    (fs/seq_file.c): the link fails with "multiple definition".  Renamed.
#  - libgcov writes the .gcda files from a destructor of priority 100, in
#    .fini_array.00100, which UML's linker script (arch/um/kernel/dyn.lds.S
#    keeps only .fini_array) drops: nothing would ever be written.  The
#    shim below (pulled in as __gcov_init, which every object calls) runs
#    the dump from a plain destructor, and from SIGABRT: a panic ends in
#    uml_abort(), which kill()s itself with SIGABRT until it dies.  Only
#    the kernel process dumps, not its clones (helpers).
# Returns 1 when the library changed (the kernel must be relinked).
prepare_libgcov() {
	local -r dir="$1" lib="$(gcc -print-file-name=libgcov.a)"
	local -r osdir="$dir/$(gcc -print-multi-os-directory)"
	[[ -f "$lib" ]] ||
		die "$E_BUILD" "gcc has no libgcov.a ($lib)" "install gcc's runtime: apt-get install libgcc-12-dev"
	mkdir -p "$dir" "$osdir"
	[[ ! -f "$osdir/libgcov.a" || "$lib" -nt "$osdir/libgcov.a" || "$0" -nt "$osdir/libgcov.a" ]] ||
		return 0
	rm -f "$osdir/libgcov.a"
	cat >"$osdir/sandbox-gcov.c" <<'EOF_SHIM'
/* SPDX-License-Identifier: GPL-2.0 */
/* Written by scripts/report/coverage.sh: libgcov's dump where UML runs it. */
#include <signal.h>
#include <unistd.h>

struct gcov_info;
void __sandbox_gcov_init(struct gcov_info *info);
void __gcov_exit(void);
void __gcov_dump(void);
/* The kernel's: 0 sends UML's malloc() to the host's (arch/um/kernel/mem.c). */
extern int kmalloc_ok;

/*
 * The kernel process.  UML's helpers are clones of it that may exit
 * normally too: each would write its copy of the counters, and libgcov
 * adds what it writes to what the files hold.
 */
static pid_t kernel_pid;

static void sandbox_gcov_abort(int sig)
{
	if (getpid() == kernel_pid) {
		kmalloc_ok = 0;
		__gcov_dump();
	}
	/* uml_abort() raises SIGABRT again: now it ends the process. */
	signal(sig, SIG_DFL);
}

void __gcov_init(struct gcov_info *info)
{
	if (!kernel_pid) {
		kernel_pid = getpid();
		signal(SIGABRT, sandbox_gcov_abort);
	}
	__sandbox_gcov_init(info);
}

__attribute__((destructor)) static void sandbox_gcov_exit(void)
{
	if (getpid() == kernel_pid)
		__gcov_exit();
}
EOF_SHIM
	gcc -O2 -Wall -c -o "$osdir/sandbox-gcov.o" "$osdir/sandbox-gcov.c"
	objcopy --redefine-sym mangle_path=__sandbox_gcov_mangle_path \
		--redefine-sym __gcov_init=__sandbox_gcov_init "$lib" "$osdir/libgcov.a.next"
	ar rcs "$osdir/libgcov.a.next" "$osdir/sandbox-gcov.o"
	mv -f "$osdir/libgcov.a.next" "$osdir/libgcov.a"
	return 1
}

# The outcomes the suite cannot reach under UML, and why: listed in the
# report with the reason, never counted as reached.  PATH|TEXT|REASON,
# TEXT a part of the series line.
known_unreachable() {
	cat <<'EOF'
mm/mremap.c|!IS_ENABLED(CONFIG_HAVE_MOVE_PMD)|constant under UML: arch/um selects HAVE_MOVE_PMD (sandbox patch 0005), so the compiler removes the test and its "true" outcome
mm/mremap.c|return !find_vma_intersection(|a value, not a branch: gcc computes it without a jump, so gcov has no outcome of its own for it; it shows only as can_realign_to_pmd()'s result in line 608's outcomes (another mapping below the source: mremap_scenarios mapping_below_source_survives; below the destination: mapping_below_destination_survives, series/realign keeps_mapping_below_destination)
mm/mremap.c|!arch_supports_page_table_move())|constant under UML: the generic arch_supports_page_table_move() is IS_ENABLED(CONFIG_HAVE_MOVE_PMD) || IS_ENABLED(CONFIG_HAVE_MOVE_PUD), both set; only an architecture that overrides it (powerpc radix vs hash) can make it false
EOF
}

main() {
	local kernel="${KERNEL:-patched}" per_test=1
	while [[ $# -gt 0 ]]; do
		case "$1" in
		-k | --kernel) need_value "$1" $#; kernel="$2"; shift 2 ;;
		--no-per-test) per_test=0; shift ;;
		-h | --help) usage 0 ;;
		*) usage_error "unknown option '$1'" ;;
		esac
	done
	local src diff_range
	case "$kernel" in
	patched)
		src="$TOP/linux" KDIR="$BUILD/kernel/coverage"
		# The tree as built: the series and any edit of linux/ since.
		diff_range=(series-base)
		;;
	base)
		src="$BUILD/src/base" KDIR="$BUILD/kernel/coverage-base"
		diff_range=(series-base HEAD)
		;;
	*) usage_error "--kernel takes patched or base, not '$kernel'" ;;
	esac
	if ! command -v lcov >/dev/null || ! command -v genhtml >/dev/null; then
		die "$E_BUILD" "lcov and genhtml are not installed" "install them: apt-get install lcov"
	fi
	local -r t0="$EPOCHREALTIME"

	make -s -C "$TOP" source rootfs host-tools "$BUILD/host/coverage-report" BUILD="$BUILD" ||
		die "$E_BUILD" "preparing the tree, guest root or host tools failed (see above)"
	[[ "$kernel" == patched ]] || "$TOP/scripts/build/kernel.sh" worktree base series-base
	echo "  COVERAGE ${KDIR#"$TOP"/}/linux (CONFIG_GCOV)"
	local -r libgcov="$KDIR/.sandbox-gcov/lib"
	# A new libgcov.a is nothing kbuild watches: without the binary, the
	# build relinks it.
	prepare_libgcov "$libgcov" || rm -f "$KDIR/linux" "$KDIR/vmlinux"
	LIBRARY_PATH="$libgcov${LIBRARY_PATH:+:$LIBRARY_PATH}" \
		SRC="$src" KDIR="$KDIR" FRAGMENTS="$TOP/config/coverage.config" \
		"$TOP/scripts/build/kernel.sh" build ||
		die "$E_BUILD" "building the coverage kernel failed (see above)"
	local -r t_built="$EPOCHREALTIME"

	rm -rf "$OUT/html" "$OUT/tests" "$OUT/logs"
	mkdir -p "$OUT/tests" "$OUT/logs"
	local -r info="$OUT/$kernel.info"
	git -C "$TOP/linux" diff -U0 "${diff_range[@]}" -- "${SERIES_FILES[@]}" >"$OUT/series.diff"
	git -C "$TOP/linux" diff -U0 base series-base >"$OUT/sandbox.diff"
	known_unreachable >"$OUT/known.txt"

	# The whole suite in one boot, as make check-guest runs it.
	echo "  RUN      the guest suite on the coverage kernel"
	boot suite --test --results "$OUT/results"
	local -r suite_rc="$boot_rc"
	grep -E '^(not ok|  not ok)|^# (Totals|unexpected)' "$OUT/logs/suite.log" | sed 's/^/    /' || true
	[[ -z "$boot_lost" ]] ||
		die "$E_TEMPFAIL" "the suite's boot wrote no gcov data: $boot_lost" \
			"its console: ${OUT#"$TOP"/}/logs/suite.log" \
			"a boot that panics, times out or is killed loses its counters: run make coverage again"
	echo "  LCOV     ${info#"$TOP"/}"
	lcov_q -c -b "$KDIR" -d "$KDIR" -o "$info" >/dev/null
	local -r t_suite="$EPOCHREALTIME"
	echo "  GENHTML  ${OUT#"$TOP"/}/html/"
	genhtml -q --branch-coverage --rc genhtml_branch_coverage=1 --prefix "$src" \
		-o "$OUT/html" "$info" 2> >(grep -v 'redefined at' >&2)

	local -a report_args=()
	local -A lost=()
	if [[ $per_test -eq 1 ]]; then
		echo "  RUN      an idle boot, then each test in a boot of its own"
		boot idle -- true
		[[ -z "$boot_lost" ]] || die "$E_TEMPFAIL" "the idle boot wrote no gcov data: $boot_lost" \
			"run make coverage again"
		capture_series "$OUT/tests/idle.info"
		report_args+=(-b "$OUT/tests/idle.info")
		local name n=0 ran
		local -a names
		# The guest's console ends its lines with CR LF.
		mapfile -t names < <("$TOP/run-uml.sh" --no-build --kernel "$KDIR/linux" --list-tests |
			tr -d '\r' | grep -v '(skipped' || true)
		for name in "${names[@]}"; do
			n=$((n + 1))
			boot "$name" --test "$name" --results "$OUT/tests/results"
			ran="$(grep -cE '^(not )?ok [0-9]+ ' "$OUT/tests/results/custom.ktap" 2>/dev/null || echo 0)"
			if [[ -n "$boot_lost" ]]; then
				lost["$name"]="gcov data lost: $boot_lost"
				printf '    %-36s lost: %s\n' "$name" "$boot_lost"
				printf 'TN:\n' >"$OUT/tests/$n.info"
				report_args+=(-t "$name=$OUT/tests/$n.info" -l "$name=${lost[$name]}")
				continue
			fi
			capture_series "$OUT/tests/$n.info"
			report_args+=(-t "$name=$OUT/tests/$n.info")
			# The pattern is matched anywhere in a name: it may pick more.
			if [[ "$ran" -gt 1 ]]; then
				report_args+=(-l "$name=the pattern ran $ran tests: $(grep -oE '^(not )?ok [0-9]+ [^ ]+' \
					"$OUT/tests/results/custom.ktap" | awk '{ print $NF }' | paste -sd, -)")
			fi
			printf '    %-36s exit %s\n' "$name" "$boot_rc"
		done
	fi
	local -r t_tests="$EPOCHREALTIME"

	"$BUILD/host/coverage-report" -k "$kernel" -r "$src" -s "$OUT/series.diff" \
		-x "$OUT/sandbox.diff" -e "$OUT/known.txt" "${report_args[@]}" \
		-m "$OUT/series.md" -j "$OUT/series.json" "$info"
	{
		echo "## The run"
		echo
		echo "- kernel: $kernel, ${KDIR#"$TOP"/}/linux; the suite's boot exited $suite_rc"
		echo "- series diff: git diff -U0 ${diff_range[*]} -- ${SERIES_FILES[*]} (build/coverage/series.diff)"
		printf -- '- time: build %s s, suite and lcov %s s, per-test boots %s s, total %s s\n' \
			"$(elapsed "$t0" "$t_built")" "$(elapsed "$t_built" "$t_suite")" \
			"$(elapsed "$t_suite" "$t_tests")" "$(elapsed "$t0" "$EPOCHREALTIME")"
		echo "- HTML: ${OUT#"$TOP"/}/html/index.html; mm/mremap.c: ${OUT#"$TOP"/}/html/mm/mremap.c.gcov.html"
	} >>"$OUT/series.md"
	cat "$OUT/series.md"
	lcov_q -e "$info" "*/mm/mremap.c" -o "$OUT/mremap.info" >/dev/null
	echo
	echo "mm/mremap.c, whole file (genhtml's headline):"
	lcov --rc lcov_branch_coverage=1 --summary "$OUT/mremap.info" 2>&1 | grep -E 'lines|functions|branches'
}

main "$@"
