#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Measure the edit-compile-test loop and mremap itself: medians of many runs.
#
# Writes build/bench/bench.md and build/bench/bench.json.  Timing lives here,
# never in a pass/fail test.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# shellcheck source=scripts/exit-codes.sh
source "$TOP/scripts/exit-codes.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly OUT="$BUILD/bench"
readonly RUN="$TOP/run-uml.sh"

usage() {
	cat <<EOF
Usage: $SELF [--runs N] [--cold] [--no-edit] [--tests PAT] [--only PART]

  --runs N    repetitions of the quick measurements (default 10; the slow
              ones run max(3, N/3) times)
  --cold      also time a cold kernel build from a fresh worktree (~5 min),
              and its configure step, new way and old (~2 min)
  --fresh     also time a fresh clone to its first verdict (~10 min)
  --no-edit   skip edit-to-verdict (it edits linux/mm/mremap.c and restores it)
  --tests PAT the guest tests of edit-to-verdict (default series/realign)
  --only PART run one part: boot, init, check, edit, cold, fresh, guest,
              config, or one of scripts/dev/bench-*.sh (remote, distcc,
              shards, mutate, split); the tables then hold only its rows

Measures, each as median/min/max: boot to init and back (./run-uml.sh --
true, with and without make's up-to-date check), make check-guest on a
built kernel, edit-to-verdict (append to mm/mremap.c, rebuild, boot, run
series/realign) with ld.lld, with ld.bfd and with every kallsyms step,
run by run in turn, each build split into compile, vmlinux.o, kallsyms
and link, and the ratios, and in the guest the mremap latency and
page-table work of the series' scenarios on the base and patched kernels.

The guest part (--only guest; both kernels must be built) boots base and
patched in turns, max(10, N) times each, and prints per scenario each
kernel's median with its 95 % interval, the patched/base ratio's, and a
verdict (faster, slower, no significant difference), for the mremap()
call and for the kernel's own time in move_page_tables() and its TLB
flushes.  Environment: BENCH_GUEST_ROUNDS (moves per small scenario and
boot, default 101), BENCH_GUEST_LARGE (large moves in MB, default
"128 256"), BENCH_GUEST_LARGE_ROUNDS (default 3), BENCH_GUEST_SHIFT_KB
(the exec stack shift with 5 MB of arguments, default 1024).

Exit codes: 0 done, 1 a measured command failed (a kernel splat in a
guest included), $E_USAGE usage
EOF
	exit "${1:-0}"
}

runs=10
cold=0
fresh=0
edit=1
edit_tests=series/realign
only=

# stats LABEL VALUES...: "median min max" of seconds, 3 decimals.
stats() {
	printf '%s\n' "$@" | sort -g | awk '
		{ v[NR] = $1 }
		END {
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.3f %.3f %.3f\n", m, v[1], v[NR]
		}'
}

# time_cmd CMD...: run it, print its wall time in seconds.  stale's exit 1
# is its "up to date", not a failure.
time_cmd() {
	local t0=$EPOCHREALTIME rc=0
	"$@" >/dev/null 2>&1 || rc=$?
	if [[ $rc -ne 0 && ! ( $rc -eq 1 && "$1" == */stale ) ]]; then
		echo "$SELF: failed: $*" >&2
		return 1
	fi
	awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", b - a }'
}

declare -a ROWS=()
declare -a JSON=()
declare -A MEDIANS=()

record() {
	local -r name="$1" what="$2"
	shift 2
	local s
	s="$(stats "$@")"
	read -r med min max <<<"$s"
	MEDIANS["$name"]="$med"
	ROWS+=("| $what | $med | $min | $max | $# |")
	JSON+=("{\"name\": \"$name\", \"what\": \"$what\", \"median_s\": $med, \"min_s\": $min, \"max_s\": $max, \"runs\": $#}")
	printf '  %-48s median %7.3f s  (min %.3f, max %.3f, %d runs)\n' "$what" "$med" "$min" "$max" "$#"
}

repeat() {
	local -r n="$1"
	shift
	local i
	for ((i = 0; i < n; i++)); do
		time_cmd "$@"
	done
}

# old_tree NAME REV FILE...: in REPLY, $OUT/NAME holding FILE... as they
# were before commit REV (the old way of a row); false without that
# history (a shallow clone).
old_tree() {
	local -r dir="$OUT/$1" rev="$2"
	shift 2
	[[ -n "$rev" ]] && git -C "$TOP" cat-file -e "$rev^" 2>/dev/null || return 1
	rm -rf "$dir"
	mkdir -p "$dir"
	git -C "$TOP" archive "$rev^" "$@" | tar -x -C "$dir" || return 1
	REPLY="$dir"
}

# old_runner: in REPLY, run-uml.sh as it was before scripts/uml-launch.c
# took its plumbing (bash: mkdir, tee, head, stat, setarch, the watchdog's
# sleeps, splat-class on every run), taken from git with the lib.sh of
# then, for the bench's old-way row.  False without that history (a
# shallow clone).
old_runner() {
	local rev
	rev="$(git -C "$TOP" log --diff-filter=A --format=%H -- scripts/uml-launch.c 2>/dev/null |
		tail -n 1)"
	old_tree old-run "$rev" run-uml.sh scripts/lib.sh || return 1
	# Its decode_splat looks for the tree beside it.
	ln -s "$TOP/linux" "$REPLY/linux"
	REPLY="$REPLY/run-uml.sh"
}

bench_boot() {
	local k
	for k in patched base; do
		[[ -x "$BUILD/kernel/$k/linux" ]] || continue
		mapfile -t v < <(repeat "$runs" "$RUN" --no-build --kernel "$k" -- true)
		record "boot_$k" "boot to init and back ($k, --no-build)" "${v[@]}"
	done
	# make's up-to-date check the default way (the inotify watcher that
	# a build or a first check leaves answers) and the old way
	# (SANDBOX_WATCH=0: every check walks the trees), run by run in turn
	# so that both see the same machine, and their ratios.
	make -s -C "$TOP" all >/dev/null 2>&1
	local i
	local -a chk_watch=() chk_walk=() mk_watch=() mk_walk=() run_watch=() run_walk=()
	local -a aslr_off=() aslr_on=() list_watch=() list_walk=() src_stamp=() src_tree=()
	local -a launch_sh=()
	local -r kstamp="$BUILD/kernel/patched/.sandbox-built"
	local old_run=
	old_runner && old_run="$REPLY"
	for ((i = 0; i < runs; i++)); do
		# The plumbing in bash (run-uml.sh before uml-launch.c), on the
		# same kernel and guest; the C way is aslr_off's row.
		if [[ -n "$old_run" ]]; then
			launch_sh+=("$(time_cmd env BUILD="$BUILD" "$old_run" --no-build -- true)")
		fi
		# The boot with the host's ASLR off (the default) and on.
		aslr_on+=("$(SANDBOX_ASLR=1 time_cmd "$RUN" --no-build -- true)")
		aslr_off+=("$(time_cmd "$RUN" --no-build -- true)")
		# The kernel's change list from make all's watcher, and walked.
		list_walk+=("$(time_cmd "$BUILD/host/stale" -l "$kstamp")")
		list_watch+=("$(time_cmd "$BUILD/host/stale" -l -a "$BUILD/.uptodate-patched" "$kstamp")")
		# linux/ checked against patches/: behind its stamp, and by the script.
		src_tree+=("$(time_cmd "$TOP/scripts/source/linux-tree.sh" prepare)")
		src_stamp+=("$(time_cmd make -s -C "$TOP" source)")
		chk_walk+=("$(time_cmd "$BUILD/host/stale" -w "$BUILD/.uptodate-patched")")
		chk_watch+=("$(time_cmd "$BUILD/host/stale" "$BUILD/.uptodate-patched")")
		mk_walk+=("$(SANDBOX_WATCH=0 time_cmd make -s -C "$TOP" all)")
		mk_watch+=("$(time_cmd make -s -C "$TOP" all)")
		run_walk+=("$(SANDBOX_WATCH=0 time_cmd "$RUN" -- true)")
		run_watch+=("$(time_cmd "$RUN" -- true)")
	done
	record boot_make "./run-uml.sh -- true (make's check: the watcher answers)" "${run_watch[@]}"
	record boot_walk "./run-uml.sh -- true, SANDBOX_WATCH=0 (make's check walks)" "${run_walk[@]}"
	ratio boot_ratio "  ./run-uml.sh -- true, watcher over walk" boot_make boot_walk
	record make_all_noop "  make all, nothing changed (the watcher answers)" "${mk_watch[@]}"
	record make_all_walk "  make all, nothing changed, SANDBOX_WATCH=0 (walks)" "${mk_walk[@]}"
	ratio make_all_ratio "  make all, nothing changed, watcher over walk" make_all_noop make_all_walk
	record stale_watch "    build/host/stale STAMP (the watcher answers)" "${chk_watch[@]}"
	record stale_walk "    build/host/stale -w STAMP (the walk)" "${chk_walk[@]}"
	ratio stale_ratio "    the check alone, watcher over walk" stale_watch stale_walk
	record boot_norand "./run-uml.sh --no-build -- true, the host's ASLR off (default)" "${aslr_off[@]}"
	record boot_aslr "./run-uml.sh --no-build -- true, SANDBOX_ASLR=1" "${aslr_on[@]}"
	ratio boot_aslr_ratio "  ASLR off over on" boot_norand boot_aslr
	if [[ -n "$old_run" ]]; then
		record boot_launch_sh "./run-uml.sh --no-build -- true, the plumbing in bash (before uml-launch.c)" \
			"${launch_sh[@]}"
		ratio boot_launch_ratio "  uml-launch.c over the bash plumbing" boot_norand boot_launch_sh
	else
		echo "  (no history of scripts/uml-launch.c: the bash plumbing's row skipped)"
	fi
	record list_watch "  the kernel's change list: stale -l -a (the watcher)" "${list_watch[@]}"
	record list_walk "  the kernel's change list: stale -l (the walk)" "${list_walk[@]}"
	ratio list_ratio "  the change list, watcher over walk" list_watch list_walk
	record source_stamp "  make source, nothing changed (its stamp)" "${src_stamp[@]}"
	record source_tree "  scripts/source/linux-tree.sh prepare, nothing to do" "${src_tree[@]}"
	ratio source_ratio "  make source over linux-tree.sh prepare" source_stamp source_tree
	# Paid before every build (not by an up-to-date make) and by make check.
	mapfile -t v < <(repeat "$runs" "$TOP/scripts/build/preflight.sh" check)
	record preflight "  scripts/build/preflight.sh check (every package of the list)" "${v[@]}"
	mapfile -t v < <(repeat "$runs" make -s -C "$TOP" kernel)
	record make_noop "make kernel, nothing to do (its stamps, the watcher's list)" "${v[@]}"
	bench_kernel_checks
}

# kernel.sh build with nothing to do (its checks, which every edit pays
# before the compile), as it is and as it was before it started fewer
# programs (from git), in turns.
bench_kernel_checks() {
	local rev
	rev="$(git -C "$TOP" log -F --grep="kernel.sh: start fewer programs" --format=%H -n 1)"
	if ! old_tree old-checks "$rev" scripts/kernel.sh scripts/lib.sh config/sandbox.config; then
		echo "  (no history of kernel.sh's checks: their rows skipped)"
		return
	fi
	kernel_noop_beside "$REPLY/scripts/kernel.sh" kernel_checks \
		"  scripts/build/kernel.sh build, nothing to do" \
		"  scripts/build/kernel.sh build, nothing to do, before it started fewer programs" \
		"  kernel.sh's checks, new over old"
}

# kernel_noop_beside OLD NAME WHAT OLD-WHAT RATIO-WHAT: kernel.sh build
# with nothing to do, this checkout's and OLD (the kernel.sh of a tree of
# old_tree's), in turns, runs times each; rows NAME, NAME_old, NAME_ratio.
kernel_noop_beside() {
	local -r old="$1" name="$2"
	# The change list from make all's watcher, as make has kernel.sh ask.
	local -r ask="$BUILD/.uptodate-patched"
	local -a new_t=() old_t=()
	local i
	# Older than the stamp and .config: a script or fragment newer than
	# them means a full build or a new .config.
	find "${old%/scripts/*}" -exec touch -h -d @0 {} +
	for ((i = 0; i < runs; i++)); do
		old_t+=("$(time_cmd env BUILD="$BUILD" SRC="$TOP/linux" KDIR="$BUILD/kernel/patched" \
			_SANDBOX_STALE_ASK="$ask" "$old" build)")
		new_t+=("$(time_cmd env BUILD="$BUILD" SRC="$TOP/linux" KDIR="$BUILD/kernel/patched" \
			_SANDBOX_STALE_ASK="$ask" "$TOP/scripts/build/kernel.sh" build)")
	done
	record "$name" "$3" "${new_t[@]}"
	record "${name}_old" "$4" "${old_t[@]}"
	ratio "${name}_ratio" "$5" "$name" "${name}_old"
}

# PID 1 the new way (/init, rootfs/init.c) and the old way (init.sh, the
# shell init kept in the guest, booted with init=/init.sh), run by run in
# turn so that a change in the machine's load falls on both alike, and the
# ratio of the medians.
bench_init() {
	local i c=() s=()
	for ((i = 0; i < runs; i++)); do
		s+=("$(time_cmd "$RUN" --no-build -a init=/init.sh -- true)")
		c+=("$(time_cmd "$RUN" --no-build -- true)")
	done
	record init_shell "boot to init and back, shell init (init.sh)" "${s[@]}"
	record init_c "boot to init and back, C init (/init)" "${c[@]}"
	ratio init_ratio "boot to init and back, C init over shell init" init_c init_shell
}

bench_check() {
	local -r n=$((runs / 3 > 3 ? runs / 3 : 3))
	mapfile -t v < <(repeat "$n" make -s -C "$TOP" check-guest)
	record check_guest "make check-guest (built kernel)" "${v[@]}"
	# Everything (host tests, GDB, the guest suite, the A/B check, the
	# quick build against kbuild): minutes, so once.
	mapfile -t v < <(repeat 1 make -s -C "$TOP" check)
	record check_full "make check, everything (built kernels, one run)" "${v[@]}"
}

# phase_times LOG START: the build phases from kbuild's own step lines,
# timestamped as they came: compile, vmlinux.o, kallsyms and final link,
# from START (the edit) to kbuild's last line.
phase_times() {
	awk -v start="$2" '
		{ t = $1; last = t }
		/ LD +vmlinux\.o$/ && !vo { vo = t }
		/kallsyms1/ && !ks { ks = t }
		/ LD +vmlinux$/ { lv = t }
		END {
			if (!vo) vo = last; if (!ks) ks = vo; if (!lv) lv = last
			printf "%.3f %.3f %.3f %.3f\n", vo - start, ks - vo, lv - ks, last - lv
		}' "$1"
}

declare -A SAMPLES=()

# edit_once LD NAME I [REUSE]: edit mm/mremap.c and run make check T=...,
# the kernel linked by LD (SANDBOX_LD), its kallsyms steps from the last
# table unless REUSE is 0 (SANDBOX_KALLSYMS_REUSE); the times go to
# SAMPLES[NAME_*].
edit_once() {
	local -r ld="$1" name="$2" i="$3" reuse="${4:-1}" file="$TOP/linux/mm/mremap.c"
	local -r log="$OUT/build-$name-$i.log"
	local t0 t1 t2 c v k l
	# Another linker is a new .config for kbuild: paid here, not timed
	# (make all's up-to-date check sees SANDBOX_LD change).
	if ! SANDBOX_LD="$ld" make -s -C "$TOP" all >"$OUT/switch.log" 2>&1; then
		cat "$OUT/switch.log" >&2
		echo "$SELF: failed: the kernel build with SANDBOX_LD=$ld" >&2
		return 1
	fi
	# What the build leaves running (the up-to-date check's walk and its
	# watcher, the writeback of 37 MB) is the switch's, not the loop's.
	sleep 2
	# New code each time: a comment alone would be a ccache hit
	# (ccache compares the preprocessed source).
	echo "static const char bench_edit_${name}_${i}[] __used = \"$RANDOM$RANDOM\";" >>"$file"
	# The loop as a developer runs it: one make check T=..., whose
	# kbuild lines (timestamped) split the build from the verdict.
	t0=$EPOCHREALTIME
	SANDBOX_LD="$ld" SANDBOX_KALLSYMS_REUSE="$reuse" SANDBOX_BUILD_LOG="$log" \
		make -s -C "$TOP" check T="$edit_tests" >/dev/null 2>&1 || true
	t2=$EPOCHREALTIME
	cp -p "$OUT/mremap.c.orig" "$file"
	t1="$(tail -n 1 "$log" | cut -d' ' -f1)"
	read -r c v k l < <(phase_times "$log" "$t0")
	SAMPLES["${name}_total"]+="$(awk -v a="$t0" -v b="$t2" 'BEGIN { print b - a }') "
	SAMPLES["${name}_build"]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') "
	SAMPLES["${name}_verdict"]+="$(awk -v a="$t1" -v b="$t2" 'BEGIN { print b - a }') "
	SAMPLES["${name}_compile"]+="$c " SAMPLES["${name}_vmlinux_o"]+="$v "
	SAMPLES["${name}_kallsyms"]+="$k " SAMPLES["${name}_link"]+="$l "
}

# edit_rows NAME WHAT: the rows of edit_once's samples.
edit_rows() {
	local -r name="$1" what="$2"
	local part label
	local -a v
	while IFS='|' read -r part label; do
		read -ra v <<<"${SAMPLES[${name}_$part]}"
		record "${name}_$part" "$label" "${v[@]}"
	done <<EOF
total|edit-to-verdict ($what): edit mm/mremap.c, make check T=$edit_tests
build|  kernel rebuilt (to kbuild's last line)
compile|    up-to-date checks, plan, compile (to LD vmlinux.o)
vmlinux_o|    vmlinux.o and modpost
kallsyms|    kallsyms passes
link|    final link
verdict|  boot and $edit_tests verdict
EOF
}

# ratio NAME WHAT NEW OLD: NEW's median over OLD's, a row of its own.
ratio() {
	local -r name="$1" what="$2" new="$3" old="$4"
	local r
	r="$(awk -v a="${MEDIANS[$new]}" -v b="${MEDIANS[$old]}" 'BEGIN { printf "%.2f", a / b }')"
	ROWS+=("| $what | ${r}x | | | |")
	JSON+=("{\"name\": \"$name\", \"what\": \"$what\", \"ratio\": $r}")
	printf '  %-48s %s x  (median %s s against %s s)\n' "$what" "$r" "${MEDIANS[$new]}" "${MEDIANS[$old]}"
}

# Edit-to-verdict the default way (ld.lld, kallsyms from the last table),
# with binutils' ld (SANDBOX_LD=ld) and with every kallsyms step
# (SANDBOX_KALLSYMS_REUSE=0), run by run in turn so that all see the same
# machine, and the ratios.
bench_edit() {
	local -r file="$TOP/linux/mm/mremap.c"
	if ! git -C "$TOP/linux" diff --quiet -- mm/mremap.c; then
		echo "  (edit-to-verdict skipped: linux/mm/mremap.c has your edits)"
		return
	fi
	local -r n=$((runs / 3 > 5 ? runs / 3 : 5))
	local i
	cp -p "$file" "$OUT/mremap.c.orig"
	# Restored on any exit, and the kernel left linked the default way.
	trap 'cp -p "$OUT/mremap.c.orig" "$file"; make -s -C "$TOP" all >/dev/null 2>&1' EXIT
	for ((i = 0; i < n; i++)); do
		edit_once ld edit_bfd "$i"
		edit_once ld.lld edit_steps "$i" 0
		edit_once ld.lld edit "$i"
	done
	trap - EXIT
	edit_rows edit "ld.lld, the default"
	edit_rows edit_bfd "ld.bfd, SANDBOX_LD=ld"
	edit_rows edit_steps "ld.lld, every kallsyms step, SANDBOX_KALLSYMS_REUSE=0"
	ratio edit_ratio "edit-to-verdict, ld.lld over ld.bfd" edit_total edit_bfd_total
	ratio edit_build_ratio "  kernel rebuilt, ld.lld over ld.bfd" edit_build edit_bfd_build
	ratio edit_steps_ratio "edit-to-verdict, kallsyms from the last table over every step" \
		edit_total edit_steps_total
	# Leave the kernel matching the restored source, linked the default way.
	make -s -C "$TOP" all >/dev/null
}

# A fresh build directory configured (kernel.sh config: the fragment
# merged, Kconfig run, the result verified), the new way (one Kconfig
# run) and the old (merge_config.sh's make, then olddefconfig), in turns.
bench_config() {
	local -r n=$((runs / 3 > 5 ? runs / 3 : 5)) kd="$OUT/config-kdir"
	local old i
	local -a new_t=() old_t=()
	local rev
	rev="$(git -C "$TOP" log -F --grep="kernel.sh config: one Kconfig run" --format=%H -n 1)"
	if ! old_tree old-config "$rev" scripts/kernel.sh scripts/lib.sh config/sandbox.config; then
		echo "  (no history of kernel.sh's config step: its rows skipped)"
		return
	fi
	old="$REPLY"
	for ((i = 0; i < n; i++)); do
		rm -rf "$kd"
		old_t+=("$(time_cmd env SRC="$TOP/linux" KDIR="$kd" "$old/scripts/kernel.sh" config)")
		rm -rf "$kd"
		new_t+=("$(time_cmd env SRC="$TOP/linux" KDIR="$kd" "$TOP/scripts/build/kernel.sh" config)")
	done
	rm -rf "$kd"
	record config_new "configure a new build directory (kernel.sh config)" "${new_t[@]}"
	record config_old "configure a new build directory, merge_config.sh's make and olddefconfig" \
		"${old_t[@]}"
	ratio config_ratio "  configure, one Kconfig run over two" config_new config_old
}

bench_cold() {
	local wt="$BUILD/src/bench-cold" kd="$BUILD/kernel/bench-cold" t
	rm -rf "$kd"
	"$TOP/scripts/build/kernel.sh" worktree bench-cold HEAD
	t="$(CCACHE_DISABLE=1 time_cmd env SRC="$wt" KDIR="$kd" "$TOP/scripts/build/kernel.sh" build)"
	record cold_build "cold kernel build (no ccache)" "$t"
	rm -rf "$kd"
}

# A fresh clone of this checkout to its first verdict, as a new user runs
# it: make check T=series/realign (fetch linux-source, import, apply,
# configure, a cold kernel build without ccache, the guest, boot, test).
bench_fresh() {
	local -r clone="$BUILD/bench-fresh"
	local t
	rm -rf "$clone"
	git clone -q "$TOP" "$clone"
	# Its output kept in fresh.log (time_cmd discards the command's own).
	t="$(CCACHE_DISABLE=1 time_cmd sh -c 'make -s -C "$1" check T=series/realign >"$2" 2>&1' \
		sh "$clone" "$OUT/fresh.log")"
	record fresh_verdict "fresh clone to first verdict (make check T=series/realign, no ccache)" "$t"
	rm -rf "$clone"
}

# The guest's own numbers: one line per scenario and kernel.
# The parts kept in files of their own (scripts/dev/bench-PART.sh), each
# defining bench_PART: run with --only PART.
for part in "$TOP"/scripts/dev/bench-*.sh; do
	# shellcheck source=/dev/null
	[[ -e "$part" ]] && source "$part"
done
unset part

# The guest part (--only guest): is the series faster, and where?  base
# and patched are booted in turns, base then patched, GUEST_BOOTS times
# each (ABAB...: both see the same machine, pair by pair); each boot runs
# mremap_bench: GUEST_ROUNDS moves of each small scenario, GUEST_LARGE_ROUNDS
# of each large one (GUEST_LARGE: MB, mutually aligned 512 KB into a PMD
# and not) and of the exec with 5 MB of arguments shifted by GUEST_SHIFT_KB.
# A boot gives one value per scenario and metric, the median of its rounds;
# build/host/bench-stats (scripts/dev/bench-stats.c) gives each kernel's
# median of them with its 95 % interval, the patched/base ratio pair by pair
# with its interval, and the verdict.  A kernel splat fails the run.
readonly GUEST_ROUNDS="${BENCH_GUEST_ROUNDS:-101}"
readonly GUEST_LARGE_ROUNDS="${BENCH_GUEST_LARGE_ROUNDS:-3}"
readonly GUEST_LARGE="${BENCH_GUEST_LARGE-128 256}"
readonly GUEST_SHIFT_KB="${BENCH_GUEST_SHIFT_KB:-1024}"
readonly GUEST_METRICS="median_ns move_ns flush_ns walk_ns"
STATS_TOOL="$BUILD/host/bench-stats"

# build_stats: build/host/bench-stats by make's one rule of the host tools.
build_stats() {
	make -s -C "$TOP" O="$BUILD" "$STATS_TOOL" ||
		{ echo "$SELF: cannot build scripts/dev/bench-stats.c: see the compiler's message above" >&2; return 1; }
}

bench_guest() {
	local -r boots=$((runs > 10 ? runs : 10)) raw="$OUT/guest-raw"
	local -a bench_args=()
	local i k mb rc
	for k in base patched; do
		[[ -x "$BUILD/kernel/$k/linux" ]] || {
			echo "$SELF: the $k kernel is not built: the guest part compares base and patched" >&2
			echo "$SELF: build it first: make all KERNEL=$k" >&2
			return 1
		}
	done
	build_stats
	for mb in $GUEST_LARGE; do bench_args+=(-L "$mb"); done
	bench_args+=(-r "$GUEST_LARGE_ROUNDS" -x "$GUEST_SHIFT_KB" "$GUEST_ROUNDS")
	rm -rf "$raw"
	mkdir -p "$raw"
	echo "  guest: $boots boots of base and of patched in turns, mremap_bench ${bench_args[*]}"
	for ((i = 0; i < boots; i++)); do
		for k in base patched; do
			rc=0
			"$RUN" --no-build --kernel "$k" -t 900 -- /tests/sandbox/mremap_bench "${bench_args[@]}" \
				>"$raw/$k-$i.out" 2>&1 || rc=$?
			if [[ $rc -ne 0 ]]; then
				tail -n 20 "$raw/$k-$i.out" >&2
				echo "$SELF: mremap_bench failed on $k, boot $((i + 1)) (run-uml.sh status $rc: 121 a kernel splat, 124 a timeout)" >&2
				echo "$SELF: its output: ${raw#"$TOP"/}/$k-$i.out" >&2
				return 1
			fi
			tr -d '\r' <"$raw/$k-$i.out" | grep '^scenario ' | sed "s/^/$k $i /" >>"$MREMAP_TABLE"
		done
		printf '  boot pair %d of %d done\n' "$((i + 1))" "$boots"
	done
	# One sample per scenario, metric, kernel and boot (walk_ns: the
	# kernel's time in move_page_tables() without its TLB flushes).
	awk -v metrics="$GUEST_METRICS" '
		BEGIN { n = split(metrics, m, " ") }
		{ delete v; for (i = 5; i < NF; i += 2) v[$i] = $(i + 1)
		  for (j = 1; j <= n; j++) print $4, m[j], $1, $2, v[m[j]] }' \
		"$MREMAP_TABLE" >"$OUT/mremap-samples.txt"
	"$STATS_TOOL" "$OUT/mremap-samples.txt" >"$OUT/mremap-stats.txt"
}

# mremap_markdown: the guest part's two tables, from mremap.txt (counts)
# and mremap-stats.txt (bench-stats' lines).
mremap_markdown() {
	[[ -s "$OUT/mremap-stats.txt" ]] || return 0
	awk '
		function us(ns) { return ns == "-" ? "-" : sprintf("%.0f", ns / 1000) }
		function ci(lo, hi, f) { return lo == "-" ? "(no interval)" : sprintf("[" f " - " f "]", lo, hi) }
		function ci_us(lo, hi) { return lo == "-" ? "(no interval)" : "[" us(lo) " - " us(hi) "]" }
		function say(v) {
			if (v == "faster") return "**faster** with the series"
			if (v == "slower") return "**slower** with the series"
			if (v == "no-difference") return "no significant difference"
			if (v == "too-few-pairs") return "too few pairs"
			return v
		}
		FNR == 1 { file++ }
		file == 1 {
			delete v; for (i = 5; i < NF; i += 2) v[$i] = $(i + 1)
			s = $4; k = $1; len[s] = v["len_kb"]; c = v["ptes"] "/" v["pmds"]
			if (!((k, s) in work)) work[k, s] = c
			else if (work[k, s] != c) varies[k, s] = 1
			next
		}
		{
			s = $1; met = $2
			if (!(s in seen)) { seen[s] = 1; order[++n] = s }
			# SCEN MET a N MED LO HI b N MED LO HI ratio N MED LO HI VERDICT
			am[s, met] = $5; alo[s, met] = $6; ahi[s, met] = $7
			bm[s, met] = $10; blo[s, met] = $11; bhi[s, met] = $12
			rm[s, met] = $15; rlo[s, met] = $16; rhi[s, met] = $17; vd[s, met] = $18
			pairs[s] = $14
		}
		END {
			print "mremap() as the program sees it: the median of the boots, each boot the median of its moves, in µs, with the 95 % interval of that median; the ratio patched/base boot pair by boot pair, its median and 95 % interval."
			print ""
			print "| scenario | KB | PTEs/PMDs base | PTEs/PMDs patched | base µs | patched µs | patched/base | verdict |"
			print "|---|---|---|---|---|---|---|---|"
			for (i = 1; i <= n; i++) {
				s = order[i]; met = "median_ns"
				wb = work["base", s] (varies["base", s] ? " (varies)" : "")
				wp = work["patched", s] (varies["patched", s] ? " (varies)" : "")
				printf "| %s | %s | %s | %s | %s %s | %s %s | %s %s | %s |\n", s, len[s], wb, wp,
					us(am[s, met]), ci_us(alo[s, met], ahi[s, met]),
					us(bm[s, met]), ci_us(blo[s, met], bhi[s, met]),
					rm[s, met], ci(rlo[s, met], rhi[s, met], "%s"), say(vd[s, met])
			}
			print ""
			print "The kernel'"'"'s own time (the sandbox'"'"'s debugfs counters): move_page_tables() in µs, the share of it spent in its TLB flushes (under UML, host munmap/mmap/mprotect calls), and the patched/base ratios of the whole and of the walk without the flushes."
			print ""
			print "| scenario | base µs (flushes) | patched µs (flushes) | move_page_tables() patched/base | verdict | walk without flushes patched/base | verdict |"
			print "|---|---|---|---|---|---|---|"
			for (i = 1; i <= n; i++) {
				s = order[i]
				fb = am[s, "move_ns"] > 0 ? sprintf("%.0f %%", 100 * am[s, "flush_ns"] / am[s, "move_ns"]) : "-"
				fp = bm[s, "move_ns"] > 0 ? sprintf("%.0f %%", 100 * bm[s, "flush_ns"] / bm[s, "move_ns"]) : "-"
				printf "| %s | %s (%s) | %s (%s) | %s %s | %s | %s %s | %s |\n", s,
					us(am[s, "move_ns"]), fb, us(bm[s, "move_ns"]), fp,
					rm[s, "move_ns"], ci(rlo[s, "move_ns"], rhi[s, "move_ns"], "%s"), say(vd[s, "move_ns"]),
					rm[s, "walk_ns"], ci(rlo[s, "walk_ns"], rhi[s, "walk_ns"], "%s"), say(vd[s, "walk_ns"])
			}
			printf "\n%s boot pairs (base, then patched).\n", pairs[order[1]]
		}' "$MREMAP_TABLE" "$OUT/mremap-stats.txt"
}

main() {
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--runs) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage "$E_USAGE" >&2; runs="$2"; shift 2 ;;
		--cold) cold=1; shift ;;
		--fresh) fresh=1; shift ;;
		--no-edit) edit=0; shift ;;
		--tests) [[ $# -ge 2 ]] || usage "$E_USAGE" >&2; edit_tests="$2"; shift 2 ;;
		--only) [[ $# -ge 2 ]] || usage "$E_USAGE" >&2; only="$2"; shift 2 ;;
		-h | --help) usage 0 ;;
		*) usage "$E_USAGE" >&2 ;;
		esac
	done
	mkdir -p "$OUT"
	make -s -C "$TOP" all >/dev/null
	echo "Benchmark on $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(date -u +%Y-%m-%d):"
	MREMAP_TABLE="$OUT/mremap.txt"
	: >"$MREMAP_TABLE"
	: >"$OUT/mremap-stats.txt"
	if [[ -n "$only" ]]; then
		declare -F "bench_$only" >/dev/null || usage "$E_USAGE" >&2
		"bench_$only"
	else
		bench_boot
		bench_init
		bench_check
		[[ $edit -eq 1 ]] && bench_edit
		[[ $cold -eq 1 ]] && { bench_config; bench_cold; }
		[[ $fresh -eq 1 ]] && bench_fresh
		bench_guest
	fi

	{
		echo "# Benchmark ($(nproc) CPUs, $(date -u +%Y-%m-%d), $runs runs)"
		echo
		echo "| what | median s | min s | max s | runs |"
		echo "|---|---|---|---|---|"
		printf '%s\n' "${ROWS[@]}"
		echo
		echo "## mremap in the guest: page-table work and latency, base vs patched"
		echo
		mremap_markdown
	} >"$OUT/bench.md"
	{
		echo "{\"cpus\": $(nproc), \"date\": \"$(date -u +%Y-%m-%d)\", \"runs\": $runs, \"results\": ["
		local IFS=,
		echo "${JSON[*]}"
		echo "], \"mremap\": ["
		[[ -s "$OUT/mremap-stats.txt" ]] && awk '{ printf "%s{\"scenario\": \"%s\", \"metric\": \"%s\", \"base\": {\"n\": %s, \"median\": \"%s\", \"lo\": \"%s\", \"hi\": \"%s\"}, \"patched\": {\"n\": %s, \"median\": \"%s\", \"lo\": \"%s\", \"hi\": \"%s\"}, \"ratio\": {\"pairs\": %s, \"median\": \"%s\", \"lo\": \"%s\", \"hi\": \"%s\"}, \"verdict\": \"%s\"}", (NR > 1 ? ",\n" : ""), $1, $2, $4, $5, $6, $7, $9, $10, $11, $12, $14, $15, $16, $17, $18 }' "$OUT/mremap-stats.txt"
		echo "]}"
	} >"$OUT/bench.json"
	echo
	mremap_markdown
	echo
	echo "written: ${OUT#"$TOP"/}/bench.md, ${OUT#"$TOP"/}/bench.json"
}

main "$@"
