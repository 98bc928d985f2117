#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Page-table work per mremap scenario on base, patched and upstream, side by side.
#
# Boots each kernel once and runs, in the guest, the sandbox's measuring
# programs: mremap_bench's scenarios, series_realign's variants (its TH_LOG
# line) and a forced exec stack shift of 1, 2 and 4 MB (the knob
# /sys/kernel/debug/exec_stack_shift).  Each prints the PTEs and PMDs that
# the debugfs counters saw.  Then one row per scenario: the counts of the
# three kernels, and a verdict: patched and upstream must be identical.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly BUILD="${BUILD:-$TOP/build}"
readonly KERNELS=(base patched upstream)
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
# A difference is a failed check (KSFT's 1), not one of the table's codes.
readonly E_DIFF=1
outdir=

usage() {
	cat <<EOF
Usage: $SELF [-o DIR] [-k KERNEL]...

Boot base, patched and upstream (or the kernels given with -k, in that
order) with the built kernels (nothing is built: run make all KERNEL=...
first) and print, per scenario, "ptes/pmds" for each.

  -o DIR   keep each kernel's raw guest output in DIR/<kernel>.moves
  -h       this text

Exit codes: 0 patched and upstream agree on every scenario, $E_DIFF they
differ (or a kernel's run printed no scenario), $E_USAGE usage, $E_BUILD a
kernel is not built, else the exit status of a failed guest run (run-uml.sh's:
$E_SPLAT a kernel splat, $E_TIMEOUT a timeout, $E_DIED no status, ...).
EOF
}

# The guest side: POSIX sh, one "scenario NAME ptes N pmds N" line each.
# busybox's read is a builtin, so reading a counter starts no program (and
# so no exec that the counters would see).
readonly GUEST_SCRIPT='
d=/sys/kernel/debug
/tests/sandbox/mremap_bench 1
/tests/sandbox/series_realign 2>&1 | awk "
	/^#  RUN / { name = \$3 }
	/:moved .* pmds, .* ptes\$/ { print \"scenario realign:\" name, \"ptes\", \$(NF - 1), \"pmds\", \$(NF - 3) }"
for s in 1048576 2097152 4194304; do
	echo $s >$d/exec_stack_shift
	echo 0 >$d/mremap_moves/ptes
	echo 0 >$d/mremap_moves/pmds
	/bin/true
	read p <$d/mremap_moves/ptes
	read m <$d/mremap_moves/pmds
	echo 0 >$d/exec_stack_shift
	echo "scenario exec_shift_$((s / 1024))k ptes $p pmds $m"
done
'

# run_kernel K OUT: the scenario lines of kernel K, into OUT.
run_kernel() {
	local -r k="$1" out="$2"
	[[ -x "$BUILD/kernel/$k/linux" ]] ||
		die "$E_BUILD" "the $k kernel is not built ($BUILD/kernel/$k/linux)" \
			"run 'make all KERNEL=$k' first"
	local rc=0
	"$TOP/run-uml.sh" --no-build -k "$k" -t 300 -- sh -c "$GUEST_SCRIPT" >"$out.raw" 2>&1 ||
		rc=$?
	[[ $rc -eq 0 ]] ||
		die "$rc" "the guest run on $k failed with exit status $rc (its output: $out.raw)" \
			"run '$TOP/run-uml.sh -k $k' to look at it"
	tr -d '\r' <"$out.raw" | grep '^scenario ' |
		awk '{ for (i = 3; i < NF; i += 2) v[$i] = $(i + 1);
		       print $2, v["ptes"] "/" v["pmds"]; delete v }' >"$out"
	[[ -s "$out" ]] || die "$E_DIFF" "no scenario line from $k (its output: $out.raw)"
}

# print_table DIR: one row per scenario (first seen order), a verdict each.
print_table() {
	local -r dir="$1"
	local files=() k
	for k in "${kernels[@]}"; do files+=("$dir/$k.moves"); done
	awk -v names="${kernels[*]}" '
	BEGIN { n = split(names, kn, " ") }
	{ f = 0; for (i = 1; i <= n; i++) if (FILENAME ~ ("/" kn[i] ".moves$")) f = i
	  if (!(($1) in seen)) { seen[$1] = 1; order[++rows] = $1 }
	  v[$1, f] = $2 }
	END {
		printf "%-48s", "scenario (ptes/pmds)"
		for (i = 1; i <= n; i++) printf " %-10s", kn[i]
		printf " %s\n", "verdict"
		bad = 0
		for (r = 1; r <= rows; r++) {
			s = order[r]; printf "%-48s", s
			for (i = 1; i <= n; i++) {
				x = ((s, i) in v) ? v[s, i] : "-"; val[i] = x
				printf " %-10s", x
				if (kn[i] == "patched") p = x
				if (kn[i] == "upstream") u = x
				if (kn[i] == "base") b = x
			}
			verdict = ""
			if (p != "" && u != "") {
				if (p != u || p == "-") { verdict = "DIFFERS: patched != upstream"; bad = 1 }
				else verdict = "same"
			}
			if (b != "" && p != "" && b != p && verdict == "same") verdict = "same (series changes it)"
			printf " %s\n", verdict
			p = u = b = ""
		}
		exit bad
	}' "${files[@]}"
}

main() {
	local keep="" opt
	kernels=()
	while getopts "o:k:h" opt; do
		case "$opt" in
		o) keep="$OPTARG" ;;
		k) kernels+=("$OPTARG") ;;
		h) usage; exit 0 ;;
		*) usage >&2; exit "$E_USAGE" ;;
		esac
	done
	shift $((OPTIND - 1))
	[[ $# -eq 0 ]] || { usage >&2; exit "$E_USAGE"; }
	[[ ${#kernels[@]} -gt 0 ]] || kernels=("${KERNELS[@]}")
	local k
	if [[ -n "$keep" ]]; then
		mkdir -p "$keep" || die "$E_USAGE" "cannot make $keep"
		outdir="$keep"
	else
		outdir="$(mktemp -d)"
		# outdir is global: the trap runs after main has returned.
		trap 'rm -rf "$outdir"' EXIT
	fi
	for k in "${kernels[@]}"; do
		echo "  COMPARE $k" >&2
		run_kernel "$k" "$outdir/$k.moves"
	done
	print_table "$outdir"
}

main "$@"
