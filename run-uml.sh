#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the sandbox's UML kernel as an ordinary process: a shell, a command, or the tests.
#
# Every run gets its own umid, UML directory and temp directory; whatever way
# it ends (exit, timeout, Ctrl-C, SIGTERM) the whole UML process group is
# killed, every helper reaped and the temp files are removed.  The full
# console goes to a log under build/logs/, and a kernel splat in it fails
# the run.
#
# The guest's root (build/rootfs, hostfs) is read-only, enforced by the
# kernel (hostfs=<root>,ro: the guest's root user cannot remount it); what
# it may write is its tmpfs (/tmp, /root, /run), the run's scratch
# directory (/scratch: the host's $tmp/scratch, removed with $tmp) and,
# with --share, the user's directory (/share), both bounded by
# hostfs_budget=.  Its status and KTAP come back on a serial line (ttyS1)
# that a bounded reader copies into $tmp, never through the host's tree.
set -euo pipefail

readonly SELF="${0##*/}"
# No dirname, and no subshell for the usual spellings (./run-uml.sh, an
# absolute path): every program started is ~3-5 ms of a run that should
# take 0.25 s.  What cd would change (. or .. in it, //) goes through cd.
case "$0" in
./*/* | */./* | */../* | */. | */.. | *//*) TOP="$(cd "${0%/*}" && pwd)" ;;
./*) TOP="$PWD" ;;
/*) TOP="${0%/*}" ;;
*/*) TOP="$(cd "${0%/*}" && pwd)" ;;
*) TOP="$(cd "$(dirname "$(command -v "$0")")" && pwd)" ;;
esac
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly ROOTFS="$BUILD/rootfs"
# The guest's results line (ttyS1) is this fd of the kernel; the host keeps
# at most RESULTS_MAX bytes of it (the KTAP of the whole suite is ~100 KB).
readonly RESULTS_FD=4 RESULTS_MAX=$((16 << 20))

usage() {
	cat <<EOF
Usage: $SELF [OPTIONS] [-- CMD [ARGS...]]

Boot the sandbox kernel. With no CMD on a terminal: an interactive Busybox
shell (poweroff or Ctrl-D leaves). With CMD: run it in the guest and exit
with its status. Whatever is missing or stale is built first (through make).

Options:
  -k, --kernel K     patched (default), base, or the path of a UML binary
  -t, --timeout S    kill the guest after S seconds (default: 600 with a
                     command or --test, none for a shell; 0 = none)
  -m, --mem SIZE     guest memory, e.g. 256M or 1G (default: 512M)
  -a, --append ARGS  extra kernel parameters (may be repeated)
      --test [PAT]   run the guest test suite (tests whose name matches PAT)
      --results DIR  where --test writes <kernel>.{ktap,json,xml}
                     (default: build/results)
      --test-list F  --test runs the tests of F, a tests.list in the guest
                     (e.g. /share/tests.list with --share), not the suite
      --list-tests   list the guest tests and exit
      --share DIR    mount the host directory DIR read-write at /share in the
                     guest, to pass files in and out (the only place, with
                     the logs, where a run leaves anything on the host)
      --allow-splat  report a kernel WARNING/BUG in the console, do not fail
      --no-build     do not call make first
      --gdb          start the guest under GDB instead (scripts/gdb/gdb-uml.sh:
                     the sandbox's gdbinit, lx- and mpt- commands)
      --print-args   print the kernel binary and its arguments, NUL-separated
                     (run id and UML directory as @ID@ and @UML_DIR@), and exit
  -v, --verbose      also show the kernel's messages on the terminal
  -h, --help         this text

Environment:
  BUILD      build output directory (default: build/ next to this script)
  KERNEL     default for --kernel
  TMPDIR     where each run's private temp directory goes (default /tmp)
  SANDBOX_ASLR  1: boot with the host's ASLR on (default: off for the
                     kernel, as under GDB; see the comment at uml-launch)
  SANDBOX_DECODE  0: do not decode a splat's call trace to file:line
  SANDBOX_LOG_LIMIT  the console log's bound (default 64M): past it the
                     rest is dropped and the run fails ($E_FLOOD)
  SANDBOX_WRITE_LIMIT  what the guest may write into /scratch and /share
             together (default 64M; 4 KB per file made, too); then ENOSPC

The guest's root is read-only; /tmp (half the guest memory), /root (a
quarter) and /run (1 MB) are tmpfs: what is written there is gone at
poweroff.  /scratch is the run's own writable host directory, removed at
the end of the run.

Exit codes:
  0-255  the guest command's exit status (127: command not found), except:
  $E_USAGE     bad usage (unknown option, missing or malformed value)
  $E_BUILD     the build failed     $E_NOTEST     no guest test matches the --test pattern
  $E_NOSPACE     the disk is full     $E_SETUP     a host package is missing (named, with
               the command that installs it: scripts/build/preflight.sh)
  $E_SPLAT    a kernel splat in the console, its class printed: WARNING, BUG,
               exception, panic, hung task, soft lockup, RCU stall, OOM kill,
               host exhaustion (UML could not map guest memory on the host:
               its vm.max_map_count or its memory ran out; the cause is said)
  $E_KILLED    the kernel was killed by a signal on the host (e.g. kill -9, OOM)
  $E_FLOOD    the console passed SANDBOX_LOG_LIMIT and was cut (a splat past it
               would go unseen)
  $E_TIMEOUT    timed out            $E_DIED    the guest ended without a status
  130, 143  run-uml.sh itself got Ctrl-C (SIGINT) or SIGTERM: the guest is stopped

Logs: build/logs/<date>-<id>.log holds the whole console of every run.
EOF
	exit "${1:-0}"
}

# --- options ------------------------------------------------------------------
kernel="${KERNEL:-patched}"
write_limit="${SANDBOX_WRITE_LIMIT:-64M}"
# The console log's bound: a guest that prints without end must not fill
# the host's disk through build/logs/.
log_limit="${SANDBOX_LOG_LIMIT:-64M}"
timeout=
mem=512M
append=()
test_mode=0
test_pattern=
test_list=
list_tests=0
allow_splat=0
build=1
verbose=0
gdb=0
print_args=0
results_dir=
share=
cmd=()

parse_args() {
	while [[ $# -gt 0 ]]; do
		case "$1" in
		-h | --help) usage 0 ;;
		-k | --kernel) need_value "$1" $#; kernel="$2"; shift 2 ;;
		-t | --timeout) need_value "$1" $#; timeout="$2"; shift 2 ;;
		-m | --mem) need_value "$1" $#; mem="$2"; shift 2 ;;
		-a | --append) need_value "$1" $#; append+=("$2"); shift 2 ;;
		--test)
			test_mode=1
			if [[ $# -ge 2 && "$2" != -* ]]; then
				test_pattern="$2"
				shift
			fi
			shift
			;;
		--test=*) test_mode=1; test_pattern="${1#--test=}"; shift ;;
		--list-tests) list_tests=1; shift ;;
		--results) need_value "$1" $#; results_dir="$2"; shift 2 ;;
		--test-list) need_value "$1" $#; test_list="$2"; shift 2 ;;
		--share) need_value "$1" $#; share="$2"; shift 2 ;;
		--allow-splat) allow_splat=1; shift ;;
		--no-build) build=0; shift ;;
		--gdb) gdb=1; shift ;;
		--print-args) print_args=1; shift ;;
		-v | --verbose) verbose=1; shift ;;
		--) shift; cmd=("$@"); break ;;
		-*) usage_error "unknown option '$1'" ;;
		*) usage_error "'$1' is not an option: put the guest command after --, as in: $SELF -- $*" ;;
		esac
	done
	if [[ -n "$timeout" ]] && ! [[ "$timeout" =~ ^[0-9]+$ ]]; then
		usage_error "--timeout takes whole seconds, not '$timeout'"
	fi
	[[ "$mem" =~ ^[1-9][0-9]*[KMG]?$ ]] ||
		usage_error "--mem takes a size such as 512M or 1G, not '$mem'"
	[[ "$write_limit" =~ ^[0-9]+[KMG]?$ ]] ||
		usage_error "SANDBOX_WRITE_LIMIT takes a size such as 64M, not '$write_limit'"
	[[ "$log_limit" =~ ^[1-9][0-9]*[KMG]?$ ]] ||
		usage_error "SANDBOX_LOG_LIMIT takes a size such as 64M, not '$log_limit'"
	if [[ -n "$share" ]]; then
		[[ -d "$share" && -w "$share" ]] ||
			usage_error "--share: '$share' is not a directory you can write"
		# Absolute, and no symbolic link in it: the kernel follows none.
		share="$(cd -P -- "$share" && pwd)" ||
			usage_error "--share: cannot enter '$share'"
		[[ "$share" != *,* ]] ||
			usage_error "--share: a comma in '$share' would end the kernel parameter"
	fi
	if [[ -n "$test_list" && $test_mode -eq 0 && $list_tests -eq 0 ]]; then
		usage_error "--test-list goes with --test or --list-tests"
	fi
	[[ -z "$test_list" || "$test_list" == /* ]] ||
		usage_error "--test-list takes the list's path in the guest (absolute), not '$test_list'"
	if [[ $test_mode -eq 1 && ${#cmd[@]} -gt 0 ]]; then
		usage_error "--test and a command exclude each other"
	fi
	if [[ -z "$timeout" ]]; then
		if [[ ${#cmd[@]} -gt 0 || $test_mode -eq 1 || $list_tests -eq 1 ]]; then
			timeout=600
		else
			timeout=0
		fi
	fi
}

# --- build ----------------------------------------------------------------------
# kernel_args ID UML_DIR: the kernel's command line of run ID, in args
# (scripts/gdb/gdb-uml.sh gets it with --print-args).
#
# The root is read-only (ro, and hostfs=...,ro so that the guest cannot
# remount it read-write); UML_DIR/scratch and the share are the writable
# hostfs directories (mounted as +scratch and +share); the results line,
# ttyS1, writes to fd RESULTS_FD and reads nothing.
kernel_args() {
	kernel_name
	# shellcheck disable=SC2054 # con0=fd:0,fd:1 is one argument: UML's syntax
	args=(
		"mem=$mem"
		"umid=sandbox-$1" "uml_dir=$2"
		root=/dev/root rootfstype=hostfs ro "hostfs=$ROOTFS,ro"
		"hostfs_scratch=$2/scratch" "hostfs_budget=$write_limit"
		${share:+"hostfs_share=$share" SANDBOX_SHARE=1}
		init=/init "SANDBOX_RUN=$1" "SANDBOX_KERNEL=$REPLY"
		con0=fd:0,fd:1 con=null ssl=null ssl0=fd:2 "ssl1=null,fd:$RESULTS_FD"
		console=ttyS0
		# A preset delay loop: calibrating it costs ~0.2 s of every
		# boot, and nothing in UML waits on udelay() long enough for
		# the host's speed to matter.
		lpj=33452032
		"${append[@]}"
	)
}

# Hand the run to scripts/gdb/gdb-uml.sh: the same kernel, memory, parameters
# and command (or test suite), started under GDB on this terminal.
exec_gdb() {
	local -a opts=(--kernel "$kernel" --mem "$mem")
	local a
	[[ $build -eq 0 ]] && opts+=(--no-build)
	[[ -n "$share" ]] && opts+=(--share "$share")
	[[ $verbose -eq 1 ]] && opts+=(--verbose)
	for a in "${append[@]}"; do
		opts+=(--append "$a")
	done
	if [[ $test_mode -eq 1 ]]; then
		cmd=(/tests/run_tests ${test_list:+-L "$test_list"} ${test_pattern:+"$test_pattern"})
	fi
	if [[ ${#cmd[@]} -gt 0 ]]; then
		opts+=(-- "${cmd[@]}")
	fi
	exec "$TOP/scripts/gdb/gdb-uml.sh" "${opts[@]}"
}

# size_bytes VAR SIZE: a size such as 64M (K, M, G or bytes) in bytes, into
# VAR, by the shell alone.
size_bytes() {
	local -r n="${2%[KMG]}"
	case "$2" in
	*K) printf -v "$1" %s $((n << 10)) ;;
	*M) printf -v "$1" %s $((n << 20)) ;;
	*G) printf -v "$1" %s $((n << 30)) ;;
	*) printf -v "$1" %s "$n" ;;
	esac
}

# --- one run --------------------------------------------------------------------
tmp=
log=
launch_pid=
stty_saved=

# Stop the launcher: it kills the guest's process group (UML runs every
# guest process as a host process in it) and waits until none is left.
kill_guest() {
	local rc=0
	[[ -n "$launch_pid" ]] || return 0
	kill -TERM "$launch_pid" 2>/dev/null || true
	wait "$launch_pid" 2>/dev/null || rc=$?
	launch_pid=
	# It could not start: no directory of this run to remove.
	[[ $rc -ne 1 ]] || tmp=
}

# signal_name STATUS: the signal of a shell's status 128+N, by name (KILL),
# in REPLY; its number where kill -l has no name for it.
signal_name() {
	REPLY="$(kill -l "$(($1 - 128))" 2>/dev/null)" || REPLY="$(($1 - 128))"
}

# launch_failed STATUS: the launcher's status other than 0 (the kernel ran)
# is the end of the run.  1: it could not start the kernel, said why, and
# left no directory.  Killed itself (the host's OOM killer), the guest
# may run on: its group is the kernel's pid, which the launcher left.
launch_failed() {
	local pid=
	case "$1" in
	0) return 0 ;;
	1)
		tmp=
		die "$E_BUILD" "the guest could not be started (see above)"
		;;
	esac
	if [[ -s "$tmp/kernel.pid" ]]; then
		read -r pid <"$tmp/kernel.pid" || true
	fi
	if [[ "$pid" =~ ^[0-9]+$ ]]; then
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	if [[ $1 -gt 128 ]]; then
		signal_name "$1"
		die "$E_KILLED" "scripts/run/uml-launch.c died of SIG$REPLY on the host; its guest was stopped" \
			"log: ${log#"$TOP"/} (run again; kill -9 and the host OOM killer cause this)"
	fi
	die "$E_DIED" "scripts/run/uml-launch.c failed with status $1" "log: ${log#"$TOP"/}"
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	kill_guest
	if [[ -n "$stty_saved" ]]; then
		stty "$stty_saved" 2>/dev/null || stty sane 2>/dev/null || true
	fi
	# The scratch directory with it; rm does not follow the guest's links.
	rm -rf "${tmp:-/nonexistent}"
	exit "$rc"
}

on_signal() {
	printf '\n%s: %s: stopping the guest\n' "$SELF" "$1" >&2
	kill_guest
	# 128 + signal number, as a shell reports it.
	[[ "$1" == INT ]] && exit 130
	exit 143
}

# sh_quote VAR WORD...: each word quoted for the guest's POSIX sh, into VAR.
sh_quote() {
	local -n out_="$1"
	local w
	shift
	out_=
	for w in "$@"; do
		out_+="'${w//\'/\'\\\'\'}' "
	done
	out_+=$'\n'
}

# host_tool NAME: the path of host tool NAME (scripts/STAGE/NAME.c) in REPLY;
# built here when make has not (--no-build), into a temp name first:
# guests run in parallel.  The command is make's own (make host-tool-cmd,
# tests/fuzz/fuzz.mk): one set of flags builds the host tools, whoever
# builds them (SANDBOX_SANITIZE=1 included).  False when it cannot be built.
host_tool() {
	local -r bin="$BUILD/host/$1"
	local -a src=("$TOP"/scripts/*/"$1.c") cc
	local f stale=0
	REPLY="$bin"
	[[ -x "$bin" ]] || stale=1
	for f in "${src[0]}" "$TOP/scripts/run/splat-markers.h" "$TOP/scripts/include/host-util.h" \
		"$BUILD/host/.cflags"; do
		[[ ! "$f" -nt "$bin" ]] || stale=1
	done
	[[ $stale -eq 1 ]] || return 0
	# KERNEL and LINUX_SRC of the environment (a kernel's path) are not
	# make's to check here.
	read -r -a cc < <(make -s -C "$TOP" O="$BUILD" KERNEL=patched LINUX_SRC= \
		host-tool-cmd NAME="$1") || return 1
	[[ ${#cc[@]} -gt 0 ]] || return 1
	mkdir -p "${bin%/*}"
	"${cc[@]:0:1}" "${cc[@]:1}" -o "$bin.$$" "${src[0]}" && mv -f "$bin.$$" "$bin" || return 1
}

# show_splats LOG: classify the console's kernel splats and print the first
# (class: ..., classes: ..., lines: ..., then the splat); its raw lines go
# to $tmp/trace.  True when there is one.  Without a classifier, the
# marker lines alone, as class "unknown": a splat is never missed.
show_splats() {
	local -r log="$1"
	local rc=0
	if host_tool splat-class; then
		"$REPLY" -t "$tmp/trace" "$log" || rc=$?
		[[ $rc -le 1 ]] && return "$rc"
	fi
	# The texts of the one list, M("text", "class") a line of it.
	sed -n 's/^[[:space:]]*M("\([^"]*\)", .*/\1/p' "$TOP/scripts/run/splat-markers.h" \
		>"$tmp/markers"
	[[ -s "$tmp/markers" ]] || printf '%s\n' 'WARNING:' 'BUG:' 'Oops' 'Kernel panic' >"$tmp/markers"
	grep -qF -f "$tmp/markers" "$log" || return 1
	printf 'class: unknown\nclasses: unknown\n'
	grep -F -f "$tmp/markers" "$log" | head -n 40 | sed 's/^/  | /'
}

# explain_host_exhaustion: UML could not map guest memory on the host (the
# class host exhaustion): say the likely causes, with the host's figures.
explain_host_exhaustion() {
	local max=0 avail=0
	read -r max 2>/dev/null </proc/sys/vm/max_map_count || true
	avail="$(sed -n 's/^MemAvailable: *\([0-9]*\) kB/\1/p' /proc/meminfo 2>/dev/null)" || true
	[[ "$max" =~ ^[0-9]+$ ]] || max=0
	[[ "$avail" =~ ^[0-9]+$ ]] || avail=0
	printf '%s: cause: UML could not map guest memory on the host: the guest process it was for\n' \
		"$SELF" >&2
	printf '  is killed, or runs on with pages it cannot reach (6.1 says killing, and does not always)\n' >&2
	printf '  each run of guest pages with one protection is a host mapping of its own;\n' >&2
	printf '  likely: the host'"'"'s vm.max_map_count (%s here) was reached: raise it, as root:\n' \
		"$max" >&2
	printf '    sysctl -w vm.max_map_count=%s   (persist it in /etc/sysctl.d/)\n' \
		"$((max > 0 ? max * 4 : 262144))" >&2
	printf '  or the host'"'"'s memory ran out (MemAvailable: %s MB now): free some, or use a smaller --mem\n' \
		"$((avail / 1024))" >&2
}

# Print the splat's call trace decoded to file:line by the tree's
# scripts/decode_stacktrace.sh (SANDBOX_DECODE=0: do not).
decode_splat() {
	local -r decode="$TOP/linux/scripts/decode_stacktrace.sh"
	# shellcheck disable=SC2154 # kernel_bin is set by resolve_kernel (lib.sh)
	local vmlinux="${kernel_bin%/*}/vmlinux"
	[[ "${SANDBOX_DECODE:-1}" != 0 && -x "$decode" && -s "$tmp/trace" ]] || return 0
	grep -q '\[<[0-9a-f]*>\]\|RIP: ' "$tmp/trace" || return 0
	[[ -f "$vmlinux" ]] || vmlinux="$kernel_bin"
	printf 'decoded (%s %s):\n' "${decode#"$TOP"/}" "${vmlinux#"$TOP"/}"
	# The faulting RIP and the top frames: one addr2line on the whole
	# vmlinux per line costs about a second.  Frames at a function's first
	# byte (+0x0/) are stale words UML's stack scan picks up, not calls.
	# The build is out of tree: strip its way back to the source.  A
	# kernel built in the checkout names its files from the checkout's
	# top (scripts/build/kernel.sh's debug_prefix_maps): the build
	# directory, then the way back to the tree (build/kernel/patched/
	# ../../../linux/mm/mremap.c); each DIR/../ goes, leaving the tree's
	# path from the top (linux/mm/mremap.c, build/src/base/mm/...).
	grep -m 1 'RIP: ' "$tmp/trace" >"$tmp/frames" || true
	grep '\[<[0-9a-f]*>\]' "$tmp/trace" | grep -v '+0x0/' | head -n 5 >>"$tmp/frames" || true
	timeout 60 "$decode" "$vmlinux" "${vmlinux%/*}/../../.." <"$tmp/frames" 2>/dev/null |
		grep -E 'RIP: |\(.*:[0-9]+' | head -n 40 |
		sed -E 's/^/  | /; :up; s#([ (/])[^ (/.][^ (/]*/\.\./#\1#; t up' || true
}

# The guest's answer, once the kernel and the reader are gone: its results
# line holds the KTAP (--test) and, last, "sandbox-status: N" from init;
# the tty made each newline a CR LF.  The KTAP goes to
# $tmp/guest.results.ktap, the status line (without CR) to $status_line.
# The reader kept at most RESULTS_MAX bytes: more is a guest flooding it.
read_results() {
	local -r f="$tmp/results"
	local line ktap='' blank=0
	status_line=
	[[ -s "$f" ]] || return 0
	# The last line, and in --test mode the KTAP (each line without its
	# CR, without the status line, nor the empty line init puts before
	# it), without a program: each costs ~5 ms, and the loop runs this.
	while IFS= read -r line || [[ -n "$line" ]]; do
		status_line="$line"
		[[ $test_mode -eq 1 ]] || continue
		line="${line%$'\r'}"
		[[ "$line" != "sandbox-status: "* ]] || continue
		[[ $blank -eq 0 ]] || ktap+=$'\n'
		if [[ -z "$line" ]]; then
			blank=1
		else
			blank=0
			ktap+="$line"$'\n'
		fi
	done <"$f"
	status_line="${status_line%$'\r'}"
	[[ -z "$ktap" ]] || printf '%s' "$ktap" >"$tmp/guest.results.ktap"
	# A flood hides the status line: say why it is missing.
	if [[ ( $test_mode -eq 1 || ! "$status_line" =~ ^sandbox-status: ) &&
		$results_cut -eq 1 ]]; then
		printf '%s: warning: the guest wrote more than %s MB to its results line: cut there\n' \
			"$SELF" $((RESULTS_MAX >> 20)) >&2
	fi
}

# In --test mode the guest runner attributes each splat to a test; splats
# of series/* tests on the base kernel are expected (XFAIL).  True when the
# suite ran on the base kernel, completed and counted no other.  On any
# other kernel no splat is expected: one the runner did not see (printed
# after its last test, or between two) fails the run all the same.
splats_expected() {
	[[ $test_mode -eq 1 && -f "$tmp/guest.results.ktap" ]] &&
		grep -qx '# unexpected kernel splats: 0' "$tmp/guest.results.ktap" || return 1
	kernel_name
	[[ "$REPLY" == base ]]
}

# Summarise the guest's KTAP on the host, write JSON and JUnit XML, and
# turn a failed test into a failed run (rc is updated in main's scope).
# Guests run in parallel: each reports from its own copy and replaces the
# shared files whole (mv), so none reads or leaves another's half-written.
report_tests() {
	local -r results="${results_dir:-$BUILD/results}"
	local name report_rc=0
	kernel_name
	name="$REPLY"
	[[ -d "$results" ]] || mkdir -p "$results"
	[[ -f "$tmp/guest.results.ktap" ]] || : >"$tmp/guest.results.ktap"
	# Straight into the results directory: ktap-report writes each file
	# under a temporary name and renames it into place.
	"$BUILD/host/ktap-report" -n "guest-$name" -j "$results/$name.json" \
		-x "$results/$name.xml" -k "$results/$name.ktap" "$tmp/guest.results.ktap" ||
		report_rc=$?
	echo "results: ${results#"$TOP"/}/$name.{ktap,json,xml}, console: ${log#"$TOP"/}"
	# A splat or a timeout says more than the test count; keep those.
	if [[ "$rc" -ne $E_SPLAT && "$rc" -ne $E_TIMEOUT && "$rc" -ne $E_USAGE ]]; then
		[[ $report_rc -eq 0 ]] || rc=1
	fi
}

# print_kernel_args: --print-args, the kernel and its arguments (exits).
print_kernel_args() {
	resolve_kernel
	local -a args
	kernel_args @ID@ @UML_DIR@
	printf '%s\0' "$kernel_bin" "${args[@]}"
	exit 0
}

# test_command: the guest command of --list-tests and --test (the runner),
# in cmd.
test_command() {
	if [[ $list_tests -eq 1 ]]; then
		cmd=(/tests/run_tests --list ${test_list:+-L "$test_list"} ${test_pattern:+"$test_pattern"})
	elif [[ $test_mode -eq 1 ]]; then
		cmd=(/tests/run_tests -o /dev/ttyS1 ${test_list:+-L "$test_list"}
			${test_pattern:+"$test_pattern"})
	fi
}

# open_run ID: the run's log, build/logs/ID.log, and from now on the
# cleanup, whatever way the run ends.
open_run() {
	log="$BUILD/logs/$1.log"
	trap cleanup EXIT
	trap 'on_signal INT' INT
	trap 'on_signal TERM' TERM
	[[ -d "$BUILD/logs" ]] || mkdir -p "$BUILD/logs"
	: >"$log"
}

# guest_input: what the guest gets, in main's cmd_text (the command, quoted
# for init) or interactive (a shell on this terminal, its settings saved).
guest_input() {
	if [[ ${#cmd[@]} -gt 0 ]]; then
		# Read by init from /scratch/cmd; the guest can change only its
		# own copy, after it has started.
		sh_quote cmd_text "${cmd[@]}"
	elif [[ -t 0 ]]; then
		interactive=1
		stty_saved="$(stty -g)"
	else
		usage_error "no command and no terminal: give a command after --, or run on a terminal"
	fi
}

# launch_guest DIR: the run itself, in the run's directory DIR, with main's
# args and cmd_text; returns once the kernel and its helpers are gone.
#
# scripts/run/uml-launch.c does it, one process instead of the ten
# programs it took in bash.  It creates the run's directory (UML's own
# files, ours, and the guest's scratch directory; private, and new: the id
# is this process's, a directory already there is someone else's) and
# points last.log at the log.  The kernel runs in a session of its own
# with the host's ASLR off, as under GDB: with it, the host puts UML's brk
# far from its bss (~1 GB here), and UML adds that gap to its physical
# memory ("exec-shield gap"), so each boot initialises the struct pages of
# up to 1 GB nobody uses and the guest's memory map differs from run to
# run (SANDBOX_ASLR=1 keeps it on; the bench measures both ways).
#   The guest's output (fd 1) goes to the terminal and the log; kernel
# messages (UML's stderr console) to the log, and the terminal with -v;
# the results line (ttyS1, the kernel's fd 4 = RESULTS_FD) to
# $tmp/results, at most RESULTS_MAX bytes of it: the guest cannot fill the
# disk.  The log takes at most SANDBOX_LOG_LIMIT: more is a flood, cut
# there.  Past -t, or once run-uml.sh is gone (killed with SIGKILL, it
# cannot clean up), the guest is killed.
#   In the background, so that a signal's trap runs at once (bash waits
# for a command in the foreground first); the stdin given explicitly: a
# background job's would be /dev/null.
launch_guest() {
	local -r dir="$1"
	local log_max stdin=/dev/stdin launcher launch_rc=0
	local -a opts=()
	size_bytes log_max "$log_limit"
	[[ -e /dev/stdin ]] && [[ -r /dev/stdin ]] || stdin=/dev/null
	[[ -n "$cmd_text" ]] && opts+=(-c "$cmd_text")
	[[ $verbose -eq 1 ]] && opts+=(-v)
	[[ "${SANDBOX_ASLR:-0}" == 1 ]] && opts+=(-A)
	host_tool uml-launch || die "$E_BUILD" "building scripts/run/uml-launch.c failed (see above)"
	launcher="$REPLY"
	"$launcher" "${opts[@]}" -l "$BUILD/logs/last.log" -m "$log_max" -r "$RESULTS_MAX" \
		-t "$timeout" "$dir" "$log" -- "$kernel_bin" "${args[@]}" <"$stdin" &
	launch_pid=$!
	tmp="$dir"
	wait "$launch_pid" || launch_rc=$?
	launch_pid=
	launch_failed "$launch_rc"
}

# read_launch_status: what scripts/run/uml-launch.c saw, from its
# launch.status: the kernel's status (uml_rc) and main's flags timed_out,
# log_cut, results_cut and splat_markers.
read_launch_status() {
	local word value
	while read -r word value; do
		case "$word" in
		kernel-exit) uml_rc="$value" ;;
		timed-out) timed_out=1 ;;
		log-cut) log_cut=1 ;;
		results-cut) results_cut=1 ;;
		splat-markers) splat_markers=1 ;;
		esac
	done <"$tmp/launch.status"
}

# restore_terminal: the terminal's settings as before the shell's run.
restore_terminal() {
	[[ -n "$stty_saved" ]] || return 0
	stty "$stty_saved" 2>/dev/null || stty sane 2>/dev/null || true
	stty_saved=
}

# guest_verdict: main's rc from how the guest ended: timed out, its own
# status, or none (killed on the host, died).  Exits E_NOTEST when no test
# matched the --test pattern.
guest_verdict() {
	if [[ $timed_out -eq 1 ]]; then
		printf '%s: error: the guest did not finish within %s s and was killed\n' \
			"$SELF" "$timeout" >&2
		printf '  log: %s (raise the limit with --timeout)\n' "${log#"$TOP"/}" >&2
		rc=$E_TIMEOUT
	elif [[ "$status_line" == "sandbox-status: "* ]]; then
		rc="${status_line#sandbox-status: }"
		# A number, and nothing else: bash would evaluate an expression
		# such as a[$(command)] in -eq.
		if [[ ! "$rc" =~ ^[0-9]{1,3}$ ]]; then
			printf '%s: error: the guest wrote a status that is not a number: %q\n' \
				"$SELF" "${rc:0:40}" >&2
			rc=$E_DIED
		# The runner's one usage error here: a pattern that matches no
		# test (it said so above).  Not a test failure.
		elif [[ $test_mode -eq 1 && "$rc" -eq 64 && ! -f "$tmp/guest.results.ktap" ]]; then
			printf "%s: error: no guest test matches '%s': see the names with %s --list-tests\n" \
				"$SELF" "$test_pattern" "$SELF" >&2
			exit "$E_NOTEST"
		fi
	elif [[ $interactive -eq 1 ]]; then
		# poweroff in the shell ends the session at once: a success.
		rc=0
	elif [[ $uml_rc -gt 128 ]]; then
		# Killed from outside (kill -9, the host's OOM killer) or
		# crashed: the guest could not say anything.
		signal_name "$uml_rc"
		printf '%s: error: the kernel process died of SIG%s on the host; no guest process is left\n' \
			"$SELF" "$REPLY" >&2
		printf '  log: %s (run again; kill -9 and the host OOM killer cause this)\n' \
			"${log#"$TOP"/}" >&2
		rc=$E_KILLED
	else
		printf '%s: error: the guest ended without reporting a status (UML exit %s)\n' \
			"$SELF" "$uml_rc" >&2
		printf '  log: %s\n' "${log#"$TOP"/}" >&2
		rc=$E_DIED
		# The status is written into $tmp: a full disk loses it.
		if explain_disk_full; then
			rc=$E_NOSPACE
		fi
	fi
}

# check_splats: a kernel splat in the console, classified and shown, fails
# the run (main's rc), unless --allow-splat or the base kernel's expected
# ones.  No marker in the log: splat-class would find nothing.
check_splats() {
	[[ $splat_markers -eq 1 ]] && show_splats "$log" >"$tmp/splat" || return 0
	local class classes
	class="$(sed -n 's/^class: //p' "$tmp/splat")"
	classes="$(sed -n 's/^classes: //p' "$tmp/splat")"
	printf '%s: kernel splat in the console, class: %s (all: %s)\n' \
		"$SELF" "$class" "$classes" >&2
	grep '^  |' "$tmp/splat" >&2
	printf '  log: %s\n' "${log#"$TOP"/}" >&2
	[[ ", $classes," != *", host exhaustion,"* ]] || explain_host_exhaustion
	# A splat explains a timeout (a hung task, a soft lockup): it is the
	# verdict then, too.
	if [[ $allow_splat -eq 0 ]] && ! splats_expected; then
		rc=$E_SPLAT
		decode_splat >&2
	fi
}

# check_log_cut: a splat in what was dropped would go unseen: a cut
# console fails the run (main's rc).
check_log_cut() {
	[[ $log_cut -eq 1 && "$rc" -ne $E_SPLAT ]] || return 0
	printf '%s: error: the console passed SANDBOX_LOG_LIMIT (%s) and was cut there; a kernel splat past it would go unseen\n' \
		"$SELF" "$log_limit" >&2
	printf '  log: %s (a guest printing without end; raise the limit if it is meant to)\n' \
		"${log#"$TOP"/}" >&2
	rc=$E_FLOOD
}

# The steps of a run; what they share is main's locals.
main() {
	parse_args "$@"
	if [[ $gdb -eq 1 ]]; then
		exec_gdb
	fi
	if [[ $print_args -eq 1 ]]; then
		print_kernel_args
	fi
	local id
	printf -v id '%(%Y%m%d-%H%M%S)T-%s-%s' -1 "$$" "$RANDOM"
	test_command
	resolve_kernel
	open_run "$id"
	local interactive=0 cmd_text=
	guest_input
	local -r dir="${TMPDIR:-/tmp}/uml-sandbox.$id"
	local -a args
	kernel_args "$id" "$dir"
	printf '%s\n' "\$ ${kernel_bin#"$TOP"/} ${args[*]}" >>"$log"
	launch_guest "$dir"

	local uml_rc=0 timed_out=0 log_cut=0 results_cut=0 splat_markers=0 status_line rc
	read_launch_status
	read_results
	restore_terminal
	guest_verdict
	check_splats
	check_log_cut
	if [[ $test_mode -eq 1 ]]; then
		report_tests "$rc"
	fi
	exit "$rc"
}

main "$@"
