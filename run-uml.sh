#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot the sandbox's UML kernel as an ordinary process: a shell, a command, or the tests.
#
# Every run gets its own umid, UML directory and temp directory; whatever way
# it ends (exit, timeout, Ctrl-C, SIGTERM) the whole UML process group is
# killed and the temp files are removed.  The full console goes to a log
# under build/logs/, and a kernel splat in it fails the run.
set -euo pipefail

readonly SELF="${0##*/}"
# No dirname: every program started is ~2 ms of a run that should take 0.3 s.
case "$0" in
*/*) TOP="$(cd "${0%/*}" && pwd)" ;;
*) TOP="$(cd "$(dirname "$(command -v "$0")")" && pwd)" ;;
esac
readonly TOP
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly ROOTFS="$BUILD/rootfs"

# Exit codes of our own; anything else is the guest command's status.
readonly E_USAGE=64 E_BUILD=70 E_NOTEST=72 E_SPLAT=121 E_KILLED=122 E_TIMEOUT=124 \
	E_DIED=125

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
      --list-tests   list the guest tests and exit
      --allow-splat  report a kernel WARNING/BUG in the console, do not fail
      --no-build     do not call make first
      --gdb          start the guest under GDB instead (scripts/gdb-uml.sh:
                     the sandbox's gdbinit, lx- and mpt- commands)
      --print-args   print the kernel binary and its arguments, NUL-separated
                     (run id and UML directory as @ID@ and @UML_DIR@), and exit
  -v, --verbose      also show the kernel's messages on the terminal
  -h, --help         this text

Environment:
  BUILD      build output directory (default: build/ next to this script)
  KERNEL     default for --kernel
  TMPDIR     where each run's private temp directory goes (default /tmp)
  SANDBOX_DECODE  0: do not decode a splat's call trace to file:line

Exit codes:
  0-255  the guest command's exit status (127: command not found), except:
  $E_USAGE     bad usage (unknown option, missing or malformed value)
  $E_BUILD     the build failed     $E_NOTEST     no guest test matches the --test pattern
  $E_NOSPACE     the disk is full
  $E_SPLAT    a kernel splat in the console, its class printed: WARNING, BUG,
               exception, panic, hung task, soft lockup, RCU stall, OOM kill
  $E_KILLED    the kernel was killed by a signal on the host (e.g. kill -9, OOM)
  $E_TIMEOUT    timed out            $E_DIED    the guest ended without a status
  130, 143  run-uml.sh itself got Ctrl-C (SIGINT) or SIGTERM: the guest is stopped

Logs: build/logs/<date>-<id>.log holds the whole console of every run.
EOF
	exit "${1:-0}"
}

# --- options ------------------------------------------------------------------
kernel="${KERNEL:-patched}"
timeout=
mem=512M
append=()
test_mode=0
test_pattern=
list_tests=0
allow_splat=0
build=1
verbose=0
gdb=0
print_args=0
results_dir=
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
# (scripts/gdb-uml.sh gets it with --print-args).
kernel_args() {
	# shellcheck disable=SC2054 # con0=fd:0,fd:1 is one argument: UML's syntax
	args=(
		"mem=$mem"
		"umid=sandbox-$1" "uml_dir=$2"
		root=/dev/root rootfstype=hostfs rw "hostfs=$ROOTFS"
		init=/init "SANDBOX_RUN=$1" "SANDBOX_KERNEL=$(kernel_name)"
		con0=fd:0,fd:1 con=null ssl=null ssl0=fd:2 console=ttyS0
		# A preset delay loop: calibrating it costs ~0.2 s of every
		# boot, and nothing in UML waits on udelay() long enough for
		# the host's speed to matter.
		lpj=33452032
		"${append[@]}"
	)
}

# Hand the run to scripts/gdb-uml.sh: the same kernel, memory, parameters
# and command (or test suite), started under GDB on this terminal.
exec_gdb() {
	local -a opts=(--kernel "$kernel" --mem "$mem")
	local a
	[[ $build -eq 0 ]] && opts+=(--no-build)
	[[ $verbose -eq 1 ]] && opts+=(--verbose)
	for a in "${append[@]}"; do
		opts+=(--append "$a")
	done
	if [[ $test_mode -eq 1 ]]; then
		cmd=(/tests/run_tests.sh ${test_pattern:+"$test_pattern"})
	fi
	if [[ ${#cmd[@]} -gt 0 ]]; then
		opts+=(-- "${cmd[@]}")
	fi
	exec "$TOP/scripts/gdb-uml.sh" "${opts[@]}"
}

# --- one run --------------------------------------------------------------------
tmp=
log=
run_dir=
uml_pid=
tee_pid=
wd_pid=
stty_saved=

kill_guest() {
	[[ -n "$uml_pid" ]] || return 0
	# UML runs every guest process as a host process in its group.
	kill -KILL -- "-$uml_pid" 2>/dev/null || true
	wait "$uml_pid" 2>/dev/null || true
	uml_pid=
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	kill_guest
	if [[ -n "$wd_pid" ]]; then
		kill "$wd_pid" 2>/dev/null || true
		wait "$wd_pid" 2>/dev/null || true
	fi
	if [[ -n "$tee_pid" ]]; then
		wait "$tee_pid" 2>/dev/null || true
	fi
	if [[ -n "$stty_saved" ]]; then
		stty "$stty_saved" 2>/dev/null || stty sane 2>/dev/null || true
	fi
	rm -rf "${tmp:-/nonexistent}"
	# Not through a link the guest may have put in the way.
	if [[ -n "$run_dir" ]] && run_dir_intact; then
		rm -rf "$run_dir"
	fi
	exit "$rc"
}

# Kill the guest's process group $2 after $1 seconds (0: never), or as
# soon as run-uml.sh itself is gone: killed with SIGKILL, it cannot clean
# up, and the guest would run on.  A TERM ends the watch quietly.
watchdog() {
	local s t=0
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	while [[ "$1" -eq 0 || $t -lt "$1" ]]; do
		sleep 1 &
		s=$!
		wait "$s"
		t=$((t + 1))
		# $$ is run-uml.sh's own pid, also in this subshell.
		if ! kill -0 "$$" 2>/dev/null; then
			kill -KILL -- "-$2" 2>/dev/null
			rm -rf "$tmp"
			! run_dir_intact || rm -rf "$run_dir"
			exit 0
		fi
	done
	touch "$tmp/timed-out"
	kill -KILL -- "-$2" 2>/dev/null
	exit 0
}

on_signal() {
	printf '\n%s: %s: stopping the guest\n' "$SELF" "$1" >&2
	kill_guest
	# 128 + signal number, as a shell reports it.
	[[ "$1" == INT ]] && exit 130
	exit 143
}

# Quote each word for the guest's POSIX sh.
sh_quote() {
	local w out=
	for w in "$@"; do
		out+="'${w//\'/\'\\\'\'}' "
	done
	printf '%s\n' "$out"
}

# The splat classifier (scripts/splat-class.c) on stdout; built here when
# make has not (--no-build), into a temp name first: guests run in parallel.
splat_classifier() {
	local -r bin="$BUILD/host/splat-class" src="$TOP/scripts/splat-class.c"
	if [[ ! -x "$bin" || "$src" -nt "$bin" ]]; then
		mkdir -p "${bin%/*}"
		"${HOSTCC:-cc}" -O2 -Wall -o "$bin.$$" "$src" && mv -f "$bin.$$" "$bin" ||
			return 1
	fi
	printf '%s\n' "$bin"
}

# show_splats LOG: classify the console's kernel splats and print the first
# (class: ..., classes: ..., lines: ..., then the splat); its raw lines go
# to $tmp/trace.  True when there is one.  Without a classifier, the
# marker lines alone, as class "unknown": a splat is never missed.
show_splats() {
	local -r log="$1" markers='WARNING:|BUG:|Oops|Kernel panic|kernel BUG at|general protection fault|Unable to handle kernel|Kernel mode fault|blocked for more than|invoked oom-killer'
	local bin rc=0
	if bin="$(splat_classifier)"; then
		"$bin" -t "$tmp/trace" "$log" || rc=$?
		[[ $rc -le 1 ]] && return "$rc"
	fi
	grep -qE "$markers" "$log" || return 1
	printf 'class: unknown\nclasses: unknown\n'
	grep -E "$markers" "$log" | head -n 40 | sed 's/^/  | /'
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
	# The build is out of tree: strip its way back to the source.
	grep -m 1 'RIP: ' "$tmp/trace" >"$tmp/frames" || true
	grep '\[<[0-9a-f]*>\]' "$tmp/trace" | grep -v '+0x0/' | head -n 5 >>"$tmp/frames" || true
	timeout 60 "$decode" "$vmlinux" "${vmlinux%/*}/../../.." <"$tmp/frames" 2>/dev/null |
		grep -E 'RIP: |\(.*:[0-9]+' | head -n 40 | sed 's/^/  | /' || true
}

# The guest is root in build/rootfs and may leave anything there: the run
# directory and its parents must still be directories, not symbolic links
# it could point at the host's files.
run_dir_intact() {
	local d
	for d in "$ROOTFS/run" "$ROOTFS/run/sandbox" "$run_dir"; do
		[[ -d "$d" && ! -L "$d" ]] || return 1
	done
}

# Take over the guest's answers (status, results.ktap) once no guest
# process is left: regular files only, copied into our private $tmp, where
# everything after reads them (and the host's own output goes).
collect_guest_files() {
	local f
	if ! run_dir_intact; then
		printf '%s: warning: the guest replaced %s: its status and results are ignored\n' \
			"$SELF" "${run_dir#"$TOP"/}" >&2
		return 0
	fi
	for f in status results.ktap; do
		[[ -e "$run_dir/$f" || -L "$run_dir/$f" ]] || continue
		if [[ -L "$run_dir/$f" || ! -f "$run_dir/$f" ]]; then
			printf '%s: warning: the guest left %s as something else than a file: ignored\n' \
				"$SELF" "$f" >&2
			continue
		fi
		cp -- "$run_dir/$f" "$tmp/guest.$f"
	done
}

# In --test mode the guest runner attributes each splat to a test; splats
# of series/* tests on the base kernel are expected (XFAIL).  True when the
# suite completed and counted no other.
splats_expected() {
	[[ $test_mode -eq 1 && -f "$tmp/guest.results.ktap" ]] &&
		grep -qx '# unexpected kernel splats: 0' "$tmp/guest.results.ktap"
}

# Summarise the guest's KTAP on the host, write JSON and JUnit XML, and
# turn a failed test into a failed run (rc is updated in main's scope).
# Guests run in parallel: each reports from its own copy and replaces the
# shared files whole (mv), so none reads or leaves another's half-written.
report_tests() {
	local -r results="${results_dir:-$BUILD/results}"
	local name report_rc=0 ext
	name="$(kernel_name)"
	mkdir -p "$results"
	[[ -f "$tmp/guest.results.ktap" ]] || : >"$tmp/guest.results.ktap"
	mv -f "$tmp/guest.results.ktap" "$tmp/results.ktap"
	"$BUILD/host/ktap-report" -n "guest-$name" -j "$tmp/results.json" \
		-x "$tmp/results.xml" "$tmp/results.ktap" || report_rc=$?
	for ext in ktap json xml; do
		[[ -f "$tmp/results.$ext" ]] || continue
		cp "$tmp/results.$ext" "$results/.$name.$ext.$$"
		mv -f "$results/.$name.$ext.$$" "$results/$name.$ext"
	done
	echo "results: ${results#"$TOP"/}/$name.{ktap,json,xml}, console: ${log#"$TOP"/}"
	# A splat or a timeout says more than the test count; keep those.
	if [[ "$rc" -ne $E_SPLAT && "$rc" -ne $E_TIMEOUT && "$rc" -ne $E_USAGE ]]; then
		[[ $report_rc -eq 0 ]] || rc=1
	fi
}

main() {
	parse_args "$@"
	if [[ $gdb -eq 1 ]]; then
		exec_gdb
	fi
	if [[ $print_args -eq 1 ]]; then
		resolve_kernel
		local -a args
		kernel_args @ID@ @UML_DIR@
		printf '%s\0' "$kernel_bin" "${args[@]}"
		exit 0
	fi
	local id
	printf -v id '%(%Y%m%d-%H%M%S)T-%s-%s' -1 "$$" "$RANDOM"
	if [[ $list_tests -eq 1 ]]; then
		cmd=(/tests/run_tests.sh --list ${test_pattern:+"$test_pattern"})
	elif [[ $test_mode -eq 1 ]]; then
		cmd=(/tests/run_tests.sh -o "/run/sandbox/$id/results.ktap"
			${test_pattern:+"$test_pattern"})
	fi
	resolve_kernel
	log="$BUILD/logs/$id.log"
	run_dir="$ROOTFS/run/sandbox/$id"
	# UML's own files (uml_dir) and ours; private, and new (no -p): the
	# id is this process's, a directory already there is someone else's.
	local -r tmp_new="${TMPDIR:-/tmp}/uml-sandbox.$id"
	trap cleanup EXIT
	trap 'on_signal INT' INT
	trap 'on_signal TERM' TERM
	# A guest before may have left links in build/rootfs/run: the run
	# directory is made new, below real directories.
	if [[ -L "$ROOTFS/run" || -L "$ROOTFS/run/sandbox" ]]; then
		run_dir=
		die "$E_BUILD" "${ROOTFS#"$TOP"/}/run or run/sandbox is a symbolic link (a guest's doing?)" \
			"remove it (rm ${ROOTFS#"$TOP"/}/run/sandbox) and run again: make restages it"
	fi
	mkdir -p "$BUILD/logs" "$ROOTFS/run/sandbox" && mkdir "$run_dir" && mkdir -m 0700 "$tmp_new"
	tmp="$tmp_new"
	: >"$log"
	ln -sfn "$id.log" "$BUILD/logs/last.log"

	local interactive=0
	if [[ ${#cmd[@]} -gt 0 ]]; then
		sh_quote "${cmd[@]}" >"$run_dir/cmd"
	elif [[ -t 0 ]]; then
		interactive=1
		stty_saved="$(stty -g)"
	else
		usage_error "no command and no terminal: give a command after --, or run on a terminal"
	fi

	local -a args
	kernel_args "$id" "$tmp"
	printf '%s\n' "\$ ${kernel_bin#"$TOP"/} ${args[*]}" >>"$log"

	# Guest output (console, fd 1) to the terminal and the log; kernel
	# messages (UML's stderr console) to the log, and the terminal with -v.
	# tee ignores Ctrl-C so that the guest's last words are not lost.
	local out_fd
	exec {out_fd}> >(trap '' INT; exec tee -a "$log")
	tee_pid=$!
	local stdin=/dev/stdin
	[[ -e /dev/stdin ]] && [[ -r /dev/stdin ]] || stdin=/dev/null
	if [[ $verbose -eq 1 ]]; then
		TMPDIR="$tmp" setsid "$kernel_bin" "${args[@]}" <"$stdin" >&"$out_fd" \
			2> >(tee -a "$log" >&2) &
	else
		TMPDIR="$tmp" setsid "$kernel_bin" "${args[@]}" <"$stdin" >&"$out_fd" 2>>"$log" &
	fi
	uml_pid=$!
	# Only the kernel holds the pipe now: tee ends when it does.
	exec {out_fd}>&-
	watchdog "$timeout" "$uml_pid" &
	wd_pid=$!

	local uml_rc=0
	# Without stderr: bash's "Killed" job notice says less than ours below.
	{ wait "$uml_pid"; } 2>/dev/null || uml_rc=$?
	uml_pid=
	# The guest's processes are in UML's group; none may outlive it.
	kill_guest
	collect_guest_files
	wait "$tee_pid" 2>/dev/null || true
	tee_pid=
	if [[ -n "$stty_saved" ]]; then
		stty "$stty_saved" 2>/dev/null || stty sane 2>/dev/null || true
		stty_saved=
	fi

	local rc
	if [[ -e "$tmp/timed-out" ]]; then
		printf '%s: error: the guest did not finish within %s s and was killed\n' \
			"$SELF" "$timeout" >&2
		printf '  log: %s (raise the limit with --timeout)\n' "${log#"$TOP"/}" >&2
		rc=$E_TIMEOUT
	elif [[ -f "$tmp/guest.status" ]]; then
		read -r rc <"$tmp/guest.status" || true
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
		printf '%s: error: the kernel process died of SIG%s on the host; no guest process is left\n' \
			"$SELF" "$(kill -l "$((uml_rc - 128))" 2>/dev/null || echo "$((uml_rc - 128))")" >&2
		printf '  log: %s (run again; kill -9 and the host OOM killer cause this)\n' \
			"${log#"$TOP"/}" >&2
		rc=$E_KILLED
	else
		printf '%s: error: the guest ended without reporting a status (UML exit %s)\n' \
			"$SELF" "$uml_rc" >&2
		printf '  log: %s\n' "${log#"$TOP"/}" >&2
		rc=$E_DIED
		# The guest writes its status into build/rootfs: a full disk
		# loses it.
		explain_disk_full && rc=$E_NOSPACE
	fi
	if show_splats "$log" >"$tmp/splat"; then
		local class classes
		class="$(sed -n 's/^class: //p' "$tmp/splat")"
		classes="$(sed -n 's/^classes: //p' "$tmp/splat")"
		printf '%s: kernel splat in the console, class: %s (all: %s)\n' \
			"$SELF" "$class" "$classes" >&2
		grep '^  |' "$tmp/splat" >&2
		printf '  log: %s\n' "${log#"$TOP"/}" >&2
		# A splat explains a timeout (a hung task, a soft lockup): it
		# is the verdict then, too.
		if [[ $allow_splat -eq 0 ]] && ! splats_expected; then
			rc=$E_SPLAT
			decode_splat >&2
		fi
	fi
	if [[ $test_mode -eq 1 ]]; then
		report_tests "$rc"
	fi
	exit "$rc"
}

main "$@"
