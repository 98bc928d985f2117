#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host-side tests of the GDB support: gdbinit, scripts/gdb/gdb-uml.sh, the mpt- and lx- commands.
#
# Usage: tests/host/test_gdb.sh [PATTERN]   (runs the test_* functions matching it)
# Needs gdb, a built kernel and rootfs with /tests/sandbox/gdb_target (make
# all); prints KTAP.  Each test boots the guest under GDB (about 15 s).
#
# The guest program tests/guest/gdb_target.c moves 3 MB from 0x40100000 to
# 0x80100000, both 1 MB into their PMD.  The expected values can be
# overridden to see the test fail when they are wrong:
#   EXPECT_OLD=0x40200000 tests/host/test_gdb.sh mremap
# KERNEL=base tests the kernel without the series.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly GDB_UML="$TOP/scripts/gdb/gdb-uml.sh"
readonly RUN="$TOP/run-uml.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly EXPECT_OLD="${EXPECT_OLD:-0x40100000}"
readonly EXPECT_NEW="${EXPECT_NEW:-0x80100000}"
readonly EXPECT_LEN="${EXPECT_LEN:-0x300000}"
readonly PMD_SIZE=$((1 << 21))
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-gdb-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# Skip (4) when something the tests need is missing.
need_guest() {
	command -v gdb >/dev/null || skip "no gdb (apt-get install gdb)" || return
	[[ -x "$BUILD/kernel/${KERNEL:-patched}/linux" ]] ||
		skip "no ${KERNEL:-patched} kernel (make kernel KERNEL=${KERNEL:-patched})" || return
	[[ -x "$BUILD/rootfs/tests/sandbox/gdb_target" ]] ||
		skip "no /tests/sandbox/gdb_target in the guest root (make rootfs)"
}

# gdb_batch NAME SCRIPT-TEXT [-- CMD...]: run a GDB script on a fresh guest;
# the output is in $scratch/NAME.out, GDB's status is returned.
gdb_batch() {
	local -r name="$1" text="$2"
	shift 2
	printf '%s\n' "$text" >"$scratch/$name.gdb"
	local rc=0
	"$GDB_UML" --no-build --batch "$scratch/$name.gdb" -t 180 "$@" \
		>"$scratch/$name.out" 2>&1 </dev/null || rc=$?
	return "$rc"
}

# The mremap of gdb_target, stopped at, explained, and followed to its
# first extent; then the guest runs to its end.
readonly MREMAP_SCRIPT='mpt-break --mremap gdb_target
run
mpt-next-move
mpt-break off
continue'

# The run behind the mremap tests, done once and shared: $scratch/mremap.out.
run_mremap() {
	if [[ ! -f "$scratch/mremap.out" ]]; then
		local rc=0
		gdb_batch mremap "$MREMAP_SCRIPT" -- /tests/sandbox/gdb_target || rc=$?
		diag "GDB exited with $rc"
	fi
}

# hex N: N in the format the commands print.
hex() {
	printf '0x%x' "$1"
}

# check_mremap OUTPUT OLD NEW LEN: what GDB printed shows move_page_tables()
# called for gdb_target's mremap with these arguments, mutually aligned with
# the right PMD offsets, and (with the series) realigned to the PMD boundary.
check_mremap() {
	local -r out="$1" old="$2" new="$3" len="$4"
	local -r old_off="$(hex $((old & (PMD_SIZE - 1))))"
	local -r new_off="$(hex $((new & (PMD_SIZE - 1))))"
	local -r old_floor="$(hex $((old & ~(PMD_SIZE - 1))))"
	local -r new_floor="$(hex $((new & ~(PMD_SIZE - 1))))"
	expect_grep '^move_page_tables\(\): mremap by gdb_target\[[0-9]+\], called from move_vma' \
		"$out" "the breakpoint was hit in gdb_target's mremap" || return
	expect_grep "^  old_addr  $(hex "$old") +PMD offset $old_off " "$out" "old_addr" || return
	expect_grep "^  new_addr  $(hex "$new") +PMD offset $new_off " "$out" "new_addr" || return
	expect_grep "^  len       $(hex "$len") " "$out" "len" || return
	if [[ "$old_off" == "$new_off" ]]; then
		expect_grep "^  mutually aligned +yes \(both $old_off into their PMD\)" "$out" \
			"mutually aligned" || return
	else
		expect_grep "^  mutually aligned +no " "$out" "not mutually aligned" || return
	fi
	if grep -qE '^  for_stack +n/a \(kernel without the series\)' "$out"; then
		diag "kernel without the series: the first extent must start at old_addr"
		expect_grep "^  old $(hex "$old")-0x[0-9a-f]+ -> new $(hex "$new")-" "$out" \
			"first extent at old_addr and new_addr" || return
		expect_grep "first extent starts at old_addr: not realigned" "$out" \
			"no realignment" || return
	elif grep -qE '^  realign +yes' "$out" && grep -q ': realigned$' "$out"; then
		diag "the series realigned the move: the first extent must start on PMD boundaries"
		expect_grep "^  old $old_floor-0x[0-9a-f]+ -> new $new_floor-" "$out" \
			"first extent at the PMD boundaries $old_floor and $new_floor" || return
		[[ $((old_floor & (PMD_SIZE - 1))) -eq 0 && $((new_floor & (PMD_SIZE - 1))) -eq 0 ]] ||
			fail "realigned addresses are not PMD-aligned" || return
	elif grep -qE '^  PMD-level moves +no' "$out"; then
		# A series that realigns only where a PMD can be moved whole.
		diag "the series did not realign: this kernel has no HAVE_MOVE_PMD"
		expect_grep "first extent starts at old_addr: not realigned" "$out" \
			"no realignment" || return
	else
		fail "the series is in the kernel and the move qualifies, but it was not realigned" ||
			return
	fi
	expect_grep "^gdb_target: data intact at $(hex "$new")" "$out" \
		"the guest program's data arrived" || return
}

# --- gdb-uml.sh ------------------------------------------------------------------

# GDB lists move_page_tables from this checkout's own tree: the objects
# name their files relative to the checkout (scripts/build/kernel.sh), so
# one cached from another clone or machine is as right as one built here.
test_source_of_move_page_tables() {
	need_guest || return
	local src rc=0
	case "${KERNEL:-patched}" in
	patched) src="$TOP/linux" ;;
	*) src="$BUILD/src/${KERNEL}" ;;
	esac
	gdb_batch source 'list move_page_tables
info source' -- true || rc=$?
	expect_status 0 "$rc" "gdb-uml.sh --batch: list move_page_tables" || return
	local where def n text lines=0 near=0
	where="$(sed -n 's/^Located in //p' "$scratch/source.out")"
	[[ -n "$where" && "$(realpath -m -- "$where")" == "$(realpath -m -- "$src/mm/mremap.c")" ]] ||
		{ fail "GDB's source is '${where:-none}', not ${src#"$TOP"/}/mm/mremap.c"; return; }
	def="$(grep -n '^unsigned long move_page_tables(' "$src/mm/mremap.c" | cut -d: -f1)"
	# GDB prints the number, a tab, then the line as it is.
	while IFS= read -r text; do
		n="${text%%$'\t'*}"
		text="${text#*$'\t'}"
		[[ "$n" =~ ^[0-9]+$ ]] || continue
		[[ "$(sed -n "${n}p" "$src/mm/mremap.c")" == "$text" ]] ||
			{ fail "GDB's line $n is not line $n of ${src#"$TOP"/}/mm/mremap.c"; return; }
		lines=$((lines + 1))
		[[ $n -lt $((def - 2)) || $n -gt $((def + 20)) ]] || near=1
	done <"$scratch/source.out"
	[[ $lines -ge 5 && $near -eq 1 ]] ||
		{ fail "GDB listed $lines line(s), none near move_page_tables (line $def)"; return; }
	diag "GDB listed $lines lines of move_page_tables from ${src#"$TOP"/}/mm/mremap.c, as the file holds them"
}

# gdb-uml.sh boots with run-uml.sh's kernel arguments, but for the console
# of the kernel's messages: compare the command line of a real run-uml.sh
# run with a dry run of gdb-uml.sh, run ids and temp directories aside.
test_gdb_args_match_run_uml() {
	need_guest || return
	local -r tag="gdbargs-$$-$RANDOM"
	local log want got
	"$RUN" --no-build -t 60 -a "sandbox.tag=$tag" -- true >/dev/null 2>&1 </dev/null ||
		fail "run-uml.sh -- true failed" || return
	expect_nothing_left "$tag" "run-uml.sh -- true" || return
	log="$(grep -l -- "sandbox.tag=$tag" "$BUILD"/logs/*.log | head -n 1)"
	[[ -n "$log" ]] || fail "no log of the run-uml.sh run" || return
	want="$(head -n 1 "$log" | tr ' ' '\n' | sed -n '/^mem=/,$p')"
	got="$("$GDB_UML" --no-build -n -a "sandbox.tag=$tag" -- true |
		sed 's/.* --args [^ ]* //' | tr ' ' '\n' | sed 's/\\//g; /^$/d')"
	normalise() {
		sed -E 's/^(umid=sandbox-|SANDBOX_RUN=).*/\1ID/; s/^uml_dir=.*/uml_dir=DIR/;
			s/^hostfs_scratch=.*/hostfs_scratch=DIR/; s/^ssl0=fd:[23]$/ssl0=CONSOLE/'
	}
	if ! diff <(normalise <<<"$want") <(normalise <<<"$got") >"$scratch/args.diff"; then
		sed 's/^/# /' "$scratch/args.diff"
		fail "gdb-uml.sh's kernel arguments differ from run-uml.sh's (< run-uml.sh, > gdb-uml.sh)"
		return
	fi
	diag "same kernel arguments: $(tr '\n' ' ' <<<"$got")"
}

# Bad options are usage errors (64), before anything is booted.
test_gdb_bad_options() {
	local args rc
	for args in "--bogus" "--batch" "--batch /nonexistent" "--timeout x" "--attach 1 -- true"; do
		rc=0
		# shellcheck disable=SC2086 # split on purpose
		"$GDB_UML" --no-build $args >"$scratch/bad.out" 2>&1 </dev/null || rc=$?
		expect_status 64 "$rc" "$args" || return
		expect_grep "error: " "$scratch/bad.out" "$args" || return
	done
}

# --- move_page_tables() under GDB --------------------------------------------------

# A batch session stops in move_page_tables() for gdb_target's mremap with
# the known addresses, and mpt-break explains them.
test_mremap_breakpoint() {
	need_guest || return
	local -r out="$scratch/mremap.out"
	run_mremap
	sed -n '/^move_page_tables(): mremap/,/^  PMD-level/p; /^mpt-next-move/,+2p' "$out" |
		sed 's/^/# /'
	check_mremap "$out" "$EXPECT_OLD" "$EXPECT_NEW" "$EXPECT_LEN"
}

# The check is not vacuous: a wrong address fails it ...
test_check_fails_on_wrong_address() {
	need_guest || return
	local -r out="$scratch/mremap.out"
	run_mremap
	check_mremap "$out" "$EXPECT_OLD" "$EXPECT_NEW" "$EXPECT_LEN" >/dev/null 2>&1 ||
		skip "the run itself fails the check (see mremap_breakpoint)" || return
	if (check_mremap "$out" $((EXPECT_OLD + 0x100000)) "$EXPECT_NEW" "$EXPECT_LEN") \
		>"$scratch/wrong.out" 2>&1; then
		fail "check_mremap passed with old_addr $(hex $((EXPECT_OLD + 0x100000)))"
		return
	fi
	diag "a wrong old_addr fails the check: $(grep FAIL "$scratch/wrong.out" | head -n 1)"
}

# ... and so does a breakpoint that is never hit (a task name that never runs).
test_check_fails_without_hit() {
	need_guest || return
	local rc=0
	gdb_batch nohit 'mpt-break --mremap no_such_task
run' -- /tests/sandbox/gdb_target || rc=$?
	diag "GDB exited with $rc"
	expect_grep "gdb_target: data intact" "$scratch/nohit.out" "the guest ran" || return
	if (check_mremap "$scratch/nohit.out" "$EXPECT_OLD" "$EXPECT_NEW" "$EXPECT_LEN") \
		>"$scratch/nohit.check" 2>&1; then
		fail "check_mremap passed although the breakpoint was never hit"
		return
	fi
	diag "no hit fails the check: $(grep FAIL "$scratch/nohit.check" | head -n 1)"
}

# mpt-count counts gdb_target's moves until it exits: one mremap of 768
# pages, and one exec stack shift.  Where the kernel has the sandbox's own
# counters (debugfs mremap_moves), they must agree: every page here is
# present, and no PMD-level move fails.
test_mpt_count() {
	need_guest || return
	gdb_batch count 'mpt-count gdb_target
run' -- /tests/sandbox/gdb_target || true
	sed -n '/^mpt-count: gdb_target/,$p' "$scratch/count.out" | sed 's/^/# /' | head -n 12
	expect_grep '^mpt-count: gdb_target\[[0-9]+\] exited' "$scratch/count.out" \
		"counting ended when gdb_target exited" || return
	expect_grep '^gdb_target +exec stack +1 ' "$scratch/count.out" "its exec stack shift" || return
	if grep -q '^move_normal_pmd(): not in this kernel' "$scratch/count.out"; then
		expect_grep '^gdb_target +mremap +1 +- +2 +768$' "$scratch/count.out" \
			"without HAVE_MOVE_PMD: 1 call, 2 move_ptes, 768 PTE slots" || return
	else
		expect_grep '^gdb_target +mremap +1 +[0-9]+ +[0-9]+ +[0-9]+$' "$scratch/count.out" \
			"1 mremap call counted" || return
	fi
	local total kernel
	total="$(awk '$1 == "total" { print $3 "+" $5 }' "$scratch/count.out")"
	kernel="$(sed -nE 's/^kernel counters .*: ([0-9]+) PTEs and ([0-9]+) PMDs moved$/\2+\1/p' \
		"$scratch/count.out")"
	if [[ -z "$kernel" ]]; then
		diag "no debugfs mremap_moves counters in this kernel: nothing to compare with"
		return
	fi
	total="${total/#-+/0+}"
	[[ "$total" == "$kernel" ]] ||
		fail "move_normal_pmd+PTE slots counted $total, the kernel's counters say $kernel" ||
		return
	diag "move_normal_pmd calls + PTE slots ($total) agree with the kernel's counters"
}

# --- the kernel's lx- commands ------------------------------------------------------

# What of the kernel's scripts/gdb works on UML (6.1, this config), checked
# below; the rest is listed with the reason.  6.12's (KERNEL=upstream)
# reads UML's current task too, and its $lx_per_cpu() takes the variable,
# not its name, and returns a pointer.
# shellcheck disable=SC2016 # $... are GDB's convenience functions
if [[ "${KERNEL:-patched}" == upstream ]]; then
	readonly LX_KERNEL_WORKING=('p $lx_per_cpu(runqueues, 0)->nr_running'
		'p $lx_current().comm') LX_KERNEL_FAILING=()
else
	readonly LX_KERNEL_WORKING=('p $lx_per_cpu("runqueues", 0).nr_running')
	readonly LX_KERNEL_FAILING=('p $lx_current()')
fi
# shellcheck disable=SC2016 # as above
readonly LX_WORKING=(lx-version lx-dmesg lx-ps lx-cmdline lx-mounts lx-cpus
	lx-device-list-bus lx-device-list-class 'lx-list-check &init_task.tasks'
	'p $lx_task_by_pid(1).comm' "${LX_KERNEL_WORKING[@]}"
	'p $mpt_current()->comm')
readonly LX_EMPTY="lx-iomem:UML registers no I/O memory resources
lx-ioports:UML has no I/O ports
lx-lsmod:CONFIG_MODULES is off: no modules"
# shellcheck disable=SC2016 # as above
readonly LX_FAILING=(lx-timerlist "${LX_KERNEL_FAILING[@]}" 'p $lx_per_cpu("runqueues")'
	'lx-configdump /dev/null' 'lx-fdtdump /dev/null' lx-clk-summary lx-genpd-summary)
readonly LX_WHY="lx-timerlist:reads tick_cpu_sched, absent without CONFIG_TICK_ONESHOT (NO_HZ)
\$lx_current():reads x86's per-CPU current_task, which UML has not: use \$mpt_current()
\$lx_per_cpu(VAR):guesses the CPU only under QEMU's gdbstub or KGDB: pass it, \$lx_per_cpu(VAR, 0)
lx-configdump:needs CONFIG_IKCONFIG
lx-fdtdump:UML has no device tree (CONFIG_OF)
lx-clk-summary:no common clock framework (CONFIG_COMMON_CLK)
lx-genpd-summary:no generic power domains (CONFIG_PM_GENERIC_DOMAINS)
lx-symbols:not run: looks for 'vmlinux' (ours is 'linux'), unloads the symbols, fails; no modules"

# Stopped in gdb_target's mremap, run the kernel's lx- commands: those that
# work on UML show what they must, and those listed as failing do fail
# (a change there is worth a look: update the lists).
test_lx_commands() {
	need_guest || return
	local cmd line quoted=
	for cmd in "${LX_WORKING[@]}" lx-iomem lx-ioports lx-lsmod "${LX_FAILING[@]}"; do
		quoted+="$(printf "'%s', " "$cmd")"
	done
	gdb_batch lx "mpt-break --mremap gdb_target
run
python
for cmd in ($quoted):
    try:
        out = gdb.execute(cmd, False, True)
        print('LX-OK %s' % cmd)
        print('\n'.join('  ' + line for line in out.splitlines()[-40:]))
    except Exception as err:
        print('LX-FAIL %s: %s' % (cmd, (str(err) or type(err).__name__).splitlines()[0]))
end" -- /tests/sandbox/gdb_target || true
	grep -E '^LX-(OK|FAIL)' "$scratch/lx.out" | sed 's/^/# /'
	for cmd in "${LX_WORKING[@]}"; do
		grep -qxF "LX-OK $cmd" "$scratch/lx.out" || fail "'$cmd' does not work" || return
	done
	for cmd in "${LX_FAILING[@]}"; do
		grep -qF "LX-FAIL $cmd: " "$scratch/lx.out" ||
			fail "'$cmd' works now: move it to LX_WORKING" || return
	done
	expect_grep '^  Linux version 6\.1' "$scratch/lx.out" "lx-version prints the banner" || return
	expect_grep '^  .*gdb_target' "$scratch/lx.out" "lx-ps lists gdb_target" || return
	# (UML takes umid= off the command line it keeps.)
	expect_grep '^  mem=512M .*SANDBOX_RUN=' "$scratch/lx.out" "lx-cmdline shows the run id" ||
		return
	expect_grep '^  .*Run /init as init process' "$scratch/lx.out" "lx-dmesg shows boot messages" ||
		return
	expect_grep '^  \$[0-9]+ = "gdb_target' "$scratch/lx.out" "\$mpt_current() is gdb_target" ||
		return
	while IFS= read -r line; do
		diag "runs, prints nothing on UML: ${line%%:*} (${line#*:})"
	done <<<"$LX_EMPTY"
	while IFS= read -r line; do
		diag "does not work on UML: ${line%%:*} (${line#*:})"
	done <<<"$LX_WHY"
}

# --- attaching ---------------------------------------------------------------------

# A guest started by run-uml.sh is attached to, stopped in its mremap,
# and left to finish on its own after GDB detaches: it exits 0.
test_attach_and_detach() {
	need_guest || return
	local -r tag="gdbattach-$$-$RANDOM"
	local run_pid umid rc=0
	# GDB reads the kernel's debug info before it attaches: ~2 s on a quiet
	# machine, over 6 s under load (the guest was gone by then), so the
	# guest waits 20 s before its mremap.
	"$RUN" --no-build -t 120 -a "sandbox.tag=$tag" -- \
		sh -c 'sleep 20; exec /tests/sandbox/gdb_target' \
		>"$scratch/attached.out" 2>&1 </dev/null &
	run_pid=$!
	# Wait for the guest to boot: its umid is in its log, its PID in UML's
	# pid file (gdb-uml.sh -n finds it then).
	local found=0
	for _ in $(seq 1 150); do
		umid="$(grep -ls -- "sandbox.tag=$tag" "$BUILD"/logs/*.log | head -n 1 |
			xargs -r head -n 1 | tr ' ' '\n' | sed -n 's/^umid=//p')"
		if [[ -n "$umid" ]] && "$GDB_UML" --attach "$umid" -n >/dev/null 2>&1; then
			found=1
			break
		fi
		kill -0 "$run_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [[ $found -eq 0 ]]; then
		wait "$run_pid" || true
		fail "the guest of run-uml.sh never came up to attach to"
		return
	fi
	printf 'mpt-break --mremap gdb_target\ncontinue\nmpt-break off\ndetach\n' \
		>"$scratch/attach.gdb"
	"$GDB_UML" --attach "$umid" --batch "$scratch/attach.gdb" -t 60 \
		>"$scratch/attach.out" 2>&1 || rc=$?
	diag "GDB exited with $rc"
	rc=0
	wait "$run_pid" || rc=$?
	expect_nothing_left "$tag" "the guest GDB attached to" || return
	check_mremap_stop "$scratch/attach.out" || return
	expect_status 0 "$rc" "the guest after GDB detached" || return
	expect_grep "^gdb_target: data intact" "$scratch/attached.out" "the guest's own output"
}

# Only the stop itself (the guest's output is on run-uml.sh's terminal).
check_mremap_stop() {
	expect_grep "^  old_addr  $(hex "$EXPECT_OLD") " "$1" "stopped at the mremap (old_addr)" &&
		expect_grep "^  new_addr  $(hex "$EXPECT_NEW") " "$1" "new_addr"
}

ktap_run_all gdb "${1:-}"
