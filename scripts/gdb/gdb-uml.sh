#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Debug the sandbox's UML kernel with GDB: start it under GDB, run a GDB script, or attach.
#
# Starting boots the guest the way run-uml.sh does (same kernel arguments,
# same handshake: the command in the run's scratch directory, the status
# back on the results line, ttyS1, fd 4), but as GDB's inferior and
# with the sandbox's gdbinit: lx- commands, UML's signals, mpt- commands.
# Whatever way it ends, no UML process of the run is left behind and the
# temp files are removed.  Attaching leaves the guest running afterwards.
set -euo pipefail

readonly SELF="${0##*/}"
TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
# GDB and the Python of the kernel's gdb scripts, before anything else
# (E_SETUP, 78, and the install command, when one is missing).
"$TOP/scripts/build/preflight.sh" gdb || exit
# shellcheck source=scripts/lib.sh
source "$TOP/scripts/lib.sh"
readonly BUILD="${BUILD:-$TOP/build}"
readonly ROOTFS="$BUILD/rootfs"
readonly GDBINIT="$TOP/gdbinit"
# As run-uml.sh: the guest's results line is the kernel's fd 4, bounded.
readonly RESULTS_MAX=$((16 << 20))

usage() {
	cat <<EOF
Usage: $SELF [OPTIONS] [-- CMD [ARGS...]]        start the guest under GDB
       $SELF --batch SCRIPT [OPTIONS] [-- CMD...] run a GDB script, no terminal
       $SELF --attach [ID] [--batch SCRIPT]       attach to a running guest

Debug the sandbox kernel with GDB and the sandbox's gdbinit (lx- commands of
the kernel, mpt- commands of the sandbox: 'apropos mpt-' in GDB).

Start (default): GDB loads the kernel with the arguments run-uml.sh uses and
waits at its prompt: set breakpoints, then 'run'.  With CMD the guest runs it
and powers off, as with 'run-uml.sh -- CMD'; without, the guest's shell is on
this terminal (the console is raw: Ctrl-C goes to the guest; a breakpoint
brings GDB back).  Kernel messages go to the log, not to the terminal.

--batch SCRIPT: GDB runs SCRIPT after gdbinit, without a terminal, under a
timeout.  The exit status is SCRIPT's verdict: 'quit N' in it, 1 when one of
its commands fails, 0 when it just ends.

--attach [ID]: attach to a guest that run-uml.sh started (in another
terminal), as the UML howto recommends for runtime bugs.  ID is its host
PID, its umid (sandbox-...) or its run id (the name of its log); without ID,
the newest running guest.  GDB stops the kernel: 'continue' lets it run,
Ctrl-C stops it again, 'detach' or 'quit' leaves it running.

Options:
  -k, --kernel K     patched (default), base, or the path of a UML binary
  -m, --mem SIZE     guest memory (default: 512M)
  -a, --append ARGS  extra kernel parameters (may be repeated)
      --share DIR    the host directory DIR read-write at /share (run-uml.sh's)
  -t, --timeout S    --batch: kill GDB and the guest after S seconds
                     (default 300; 0 = none)
  -x, --command FILE another GDB script to run after gdbinit (repeatable)
  -v, --verbose      kernel messages on the terminal, not in the log (ssl0=fd:2)
      --no-build     do not call make first
  -n, --dry-run      print the GDB command line and exit
  -h, --help         this text

Environment:
  BUILD      build output directory (default: build/ next to run-uml.sh)
  KERNEL     default for --kernel
  GDB        the GDB to run (default: gdb)
  TMPDIR     where each run's private temp directory goes (default /tmp)

Exit codes:
  start     the guest command's status when it reported one, else GDB's
  --batch   the script's verdict (see above)
  --attach  GDB's status
  and: $E_USAGE bad usage, $E_BUILD the build failed, $E_NOGUEST no such running
       guest (--attach), $E_SETUP no GDB, or attaching needs ptrace rights,
       $E_TIMEOUT --batch timed out

Logs: build/logs/<date>-<id>.log holds the GDB command line and the kernel's
messages of every start and batch run.
EOF
	exit "${1:-0}"
}

# --- options ------------------------------------------------------------------
kernel="${KERNEL:-patched}"
mem=512M
append=()
share=
timeout=300
batch=
attach=0
attach_id=
commands=()
verbose=0
build=1
dry_run=0
cmd=()
gdb_bin="${GDB:-gdb}"

parse_args() {
	while [[ $# -gt 0 ]]; do
		case "$1" in
		-h | --help) usage 0 ;;
		-k | --kernel) need_value "$1" $#; kernel="$2"; shift 2 ;;
		-m | --mem) need_value "$1" $#; mem="$2"; shift 2 ;;
		-a | --append) need_value "$1" $#; append+=("$2"); shift 2 ;;
		--share) need_value "$1" $#; share="$2"; shift 2 ;;
		-t | --timeout) need_value "$1" $#; timeout="$2"; shift 2 ;;
		-x | --command) need_value "$1" $#; commands+=("$2"); shift 2 ;;
		--batch) need_value "$1" $#; batch="$2"; shift 2 ;;
		--attach)
			attach=1
			if [[ $# -ge 2 && "$2" != -* ]]; then
				attach_id="$2"
				shift
			fi
			shift
			;;
		--attach=*) attach=1; attach_id="${1#--attach=}"; shift ;;
		-v | --verbose) verbose=1; shift ;;
		--no-build) build=0; shift ;;
		-n | --dry-run) dry_run=1; shift ;;
		--) shift; cmd=("$@"); break ;;
		*) usage_error "unknown option '$1'" ;;
		esac
	done
	[[ "$timeout" =~ ^[0-9]+$ ]] || usage_error "--timeout takes whole seconds, not '$timeout'"
	[[ "$mem" =~ ^[1-9][0-9]*[KMG]?$ ]] ||
		usage_error "--mem takes a size such as 512M or 1G, not '$mem'"
	if [[ -n "$batch" && ! -r "$batch" ]]; then
		usage_error "--batch: cannot read the GDB script '$batch'"
	fi
	local f
	for f in "${commands[@]}"; do
		[[ -r "$f" ]] || usage_error "--command: cannot read the GDB script '$f'"
	done
	if [[ $attach -eq 1 && ${#cmd[@]} -gt 0 ]]; then
		usage_error "--attach and a command exclude each other: the guest is already running"
	fi
	command -v "$gdb_bin" >/dev/null ||
		die "$E_SETUP" "no '$gdb_bin' found" "install it: apt-get install gdb (or set GDB=)"
}

# --- build ----------------------------------------------------------------------
# resolve_kernel (scripts/lib.sh), and the GDB helpers next to the kernel.
resolve_gdb_kernel() {
	resolve_kernel
	kernel_dir="$(cd "$(dirname "$kernel_bin")" && pwd)"
	[[ -f "$kernel_dir/vmlinux-gdb.py" ]] ||
		printf '%s: warning: no vmlinux-gdb.py next to the kernel: no lx- commands\n  %s\n' \
			"$SELF" "build it: make -C ${kernel_dir#"$TOP"/} scripts_gdb (CONFIG_GDB_SCRIPTS=y)" >&2
}

# --- the GDB command line ---------------------------------------------------------
# gdb_args KDIR: the options every mode passes: where the kernel's build
# directory and this tree are (gdbinit reads them), gdbinit, the extra scripts.
gdb_args() {
	local -r kdir="$1"
	gdb_cmd=("$gdb_bin" -q)
	# A batch run must not depend on ~/.gdbinit; an interactive one may.
	[[ -n "$batch" ]] && gdb_cmd+=(-batch -nx)
	gdb_cmd+=(-iex "set \$sandbox_kdir = \"$kdir\"" -iex "set \$sandbox_top = \"$TOP\""
		-x "$GDBINIT")
	local f
	for f in "${commands[@]}"; do
		gdb_cmd+=(-x "$f")
	done
	[[ -n "$batch" ]] && gdb_cmd+=(-x "$batch")
	return 0
}

# Quote each word for the guest's POSIX sh (as run-uml.sh does).
sh_quote() {
	local w out=
	for w in "$@"; do
		out+="'${w//\'/\'\\\'\'}' "
	done
	printf '%s\n' "$out"
}

# --- UML processes ----------------------------------------------------------------
# The host PIDs whose command line has the argument $1 (umid=...): a UML
# kernel and every user process it forked carry its arguments.
pids_with_arg() {
	grep -lzxF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 || true
}

# kill_umid UMID: no process of this run may outlive it.
kill_umid() {
	local pid
	for pid in $(pids_with_arg "umid=$1"); do
		if [[ "$pid" -ne $$ ]]; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
}

# The value of argument NAME=... of a process, empty when it has none.
proc_arg() {
	tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n "s/^$2=//p" | head -n 1
}

# The running guests' kernel processes, one "PID UMID" per line: a UML
# records its kernel's PID in UML_DIR/UMID/pid.
list_guests() {
	local file pid umid uml_dir
	for file in $(grep -lz '^umid=' /proc/[0-9]*/cmdline 2>/dev/null || true); do
		pid="${file#/proc/}"
		pid="${pid%/cmdline}"
		umid="$(proc_arg "$pid" umid)"
		uml_dir="$(proc_arg "$pid" uml_dir)"
		uml_dir="${uml_dir:-$HOME/.uml}"
		[[ -n "$umid" && "$(cat "$uml_dir/$umid/pid" 2>/dev/null)" == "$pid" ]] || continue
		printf '%s %s\n' "$pid" "$umid"
	done
}

# find_guest ID: the kernel PID of the guest ID names (see usage).
find_guest() {
	local -r id="$1"
	local guests pid umid
	guests="$(list_guests)"
	if [[ -z "$guests" ]]; then
		die "$E_NOGUEST" "no running guest to attach to" \
			"start one in another terminal: ./run-uml.sh"
	fi
	if [[ -z "$id" ]]; then
		# The newest: the highest start time (field 22 of /proc/PID/stat).
		pid="$(while read -r pid umid; do
			printf '%s %s\n' "$(awk '{ print $22 }' "/proc/$pid/stat")" "$pid"
		done <<<"$guests" | sort -n | tail -n 1 | cut -d' ' -f2)"
		if [[ "$(wc -l <<<"$guests")" -gt 1 ]]; then
			printf '%s: %d guests are running; attaching to the newest (give an ID to choose):\n' \
				"$SELF" "$(wc -l <<<"$guests")" >&2
			printf '  pid %s\n' "${guests//$'\n'/$'\n'  pid }" >&2
		fi
		printf '%s\n' "$pid"
		return
	fi
	while read -r pid umid; do
		if [[ "$id" == "$pid" || "$id" == "$umid" || "sandbox-$id" == "$umid" ||
			"sandbox-${id%.log}" == "$umid" ]]; then
			printf '%s\n' "$pid"
			return
		fi
	done <<<"$guests"
	die "$E_NOGUEST" "no running guest '$id'" "running (pid umid):" "${guests//$'\n'/$'\n'  }"
}

check_ptrace() {
	local scope
	scope="$(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo 0)"
	if [[ "$scope" -ge 1 && "$(id -u)" -ne 0 ]]; then
		die "$E_SETUP" "attaching needs ptrace rights (kernel.yama.ptrace_scope=$scope)" \
			"run as root, or: sudo sysctl kernel.yama.ptrace_scope=0" \
			"or start the guest under GDB instead: $SELF -- CMD"
	fi
}

# --- the kernel's arguments --------------------------------------------------------
# kernel_args ID UML_DIR: the kernel's command line of run ID, in args.
# run-uml.sh is the one source: with --print-args it prints its own (run
# id and UML directory left as @ID@ and @UML_DIR@).  The one difference is
# on purpose: the kernel's messages (ssl0) go to fd 3, the log, not to
# GDB's terminal, unless -v.
kernel_args() {
	local -r id="$1" dir="$2"
	local console=fd:3
	[[ $verbose -eq 1 ]] && console=fd:2
	local -a opts=(--no-build --kernel "$kernel" --mem "$mem") words=()
	local a
	[[ -n "$share" ]] && opts+=(--share "$share")
	for a in "${append[@]}"; do
		opts+=(--append "$a")
	done
	mapfile -d '' words < <("$TOP/run-uml.sh" "${opts[@]}" --print-args)
	[[ ${#words[@]} -ge 2 ]] ||
		die "$E_BUILD" "run-uml.sh --print-args printed no kernel arguments"
	args=()
	for a in "${words[@]:1}"; do
		a="${a//@ID@/$id}"
		a="${a//@UML_DIR@/$dir}"
		[[ "$a" == ssl0=fd:2 ]] && a="ssl0=$console"
		args+=("$a")
	done
}

# --- modes ------------------------------------------------------------------------
dry_run_print() {
	printf '%q ' "$@"
	printf '\n'
}

run_attach() {
	local pid exe kdir
	pid="$(find_guest "$attach_id")"
	check_ptrace
	exe="$(readlink "/proc/$pid/exe")"
	if [[ "$exe" == *" (deleted)" ]]; then
		# Rebuilt since the guest booted: only /proc has the running binary.
		printf '%s: warning: %s was rebuilt since the guest booted; reading the running binary\n' \
			"$SELF" "${exe% (deleted)}" >&2
		kdir="$(dirname "${exe% (deleted)}")"
		exe="/proc/$pid/exe"
	else
		kdir="$(dirname "$exe")"
	fi
	local -r hint="Attached to guest $(proc_arg "$pid" umid) (pid $pid): it is stopped.
'continue' lets it run, Ctrl-C stops it, 'detach' or 'quit' leaves it running."
	gdb_args "$kdir"
	[[ -n "$batch" ]] || gdb_cmd+=(-ex "echo ${hint//$'\n'/\\n}\\n")
	gdb_cmd+=(-p "$pid" "$exe")
	if [[ $dry_run -eq 1 ]]; then
		dry_run_print "${gdb_cmd[@]}"
		return 0
	fi
	printf '$ %s\n' "${gdb_cmd[*]}" >&2
	local rc=0
	if [[ -n "$batch" && "$timeout" -gt 0 ]]; then
		timeout --kill-after=10 "$timeout" "${gdb_cmd[@]}" </dev/null || rc=$?
	elif [[ -n "$batch" ]]; then
		"${gdb_cmd[@]}" </dev/null || rc=$?
	else
		"${gdb_cmd[@]}" || rc=$?
	fi
	# timeout(1)'s own status for a timeout is the table's E_TIMEOUT.
	if [[ -n "$batch" && $rc -eq $E_TIMEOUT ]]; then
		printf '%s: error: the GDB script did not finish within %s s\n' "$SELF" "$timeout" >&2
	fi
	return "$rc"
}

tmp=
umid=
stty_saved=
res_pid=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ -n "$umid" ]] && kill_umid "$umid"
	# The results reader ends with the kernel's end of the pipe.
	[[ -z "$res_pid" ]] || wait "$res_pid" 2>/dev/null || true
	if [[ -n "$stty_saved" ]]; then
		stty "$stty_saved" 2>/dev/null || stty sane 2>/dev/null || true
	fi
	# The scratch directory with it.
	rm -rf "${tmp:-/nonexistent}"
	exit "$rc"
}

run_start() {
	local id log
	if [[ ${#cmd[@]} -eq 0 && $dry_run -eq 0 ]] && [[ -n "$batch" || ! -t 0 ]]; then
		usage_error "no command and no terminal: give a command after --"
	fi
	id="$(date +%Y%m%d-%H%M%S)-$$-$RANDOM"
	resolve_gdb_kernel
	local -a args=()
	if [[ $dry_run -eq 1 ]]; then
		kernel_args "$id" "${TMPDIR:-/tmp}/uml-sandbox.XXXXXX"
		gdb_args "$kernel_dir"
		dry_run_print "${gdb_cmd[@]}" --args "$kernel_bin" "${args[@]}"
		return 0
	fi

	trap cleanup EXIT
	trap 'exit 143' TERM
	if [[ -n "$batch" ]]; then
		trap 'exit 130' INT
	else
		# Ctrl-C at GDB's prompt reaches this script too: GDB handles it.
		trap ':' INT
	fi
	umid="sandbox-$id"
	tmp="$(mktemp -d "${TMPDIR:-/tmp}/uml-sandbox.XXXXXX")"
	mkdir -p "$BUILD/logs" "$tmp/scratch"
	kernel_args "$id" "$tmp"
	gdb_args "$kernel_dir"
	gdb_cmd+=(--args "$kernel_bin" "${args[@]}")
	log="$BUILD/logs/$id.log"
	printf '%s\n' "\$ ${gdb_cmd[*]}" >"$log"
	ln -sfn "$id.log" "$BUILD/logs/last.log"
	if [[ ${#cmd[@]} -gt 0 ]]; then
		sh_quote "${cmd[@]}" >"$tmp/scratch/cmd"
	fi
	# The guest's results line, at most RESULTS_MAX bytes of it.
	local res_fd
	exec {res_fd}> >(head -c "$RESULTS_MAX" >"$tmp/results"
		while read -r -N 65536 _; do :; done)
	res_pid=$!
	printf '%s: %sumid %s; kernel messages: %s\n' "$SELF" \
		"${batch:+batch ${batch##*/}, }" "$umid" "${log#"$TOP"/}" >&2

	local rc=0
	if [[ -n "$batch" ]]; then
		# timeout signals its whole process group: GDB and, as GDB has no
		# terminal to give the guest its own group, the guest too.
		local -a limit=()
		[[ "$timeout" -gt 0 ]] && limit=(timeout --kill-after=10 "$timeout")
		TMPDIR="$tmp" "${limit[@]}" "${gdb_cmd[@]}" </dev/null 3>>"$log" \
			4>&"$res_fd" {res_fd}>&- || rc=$?
		exec {res_fd}>&-
		if [[ "$timeout" -gt 0 && $rc -eq $E_TIMEOUT ]]; then
			printf '%s: error: the GDB script did not finish within %s s\n' \
				"$SELF" "$timeout" >&2
			printf '  log: %s (raise the limit with --timeout)\n' "${log#"$TOP"/}" >&2
		fi
		return "$rc"
	fi
	stty_saved="$(stty -g)"
	TMPDIR="$tmp" "${gdb_cmd[@]}" 3>>"$log" 4>&"$res_fd" {res_fd}>&- || rc=$?
	exec {res_fd}>&-
	# The guest's status, when it reported one ("sandbox-status: N",
	# CR LF from the tty): a number, nothing else.
	[[ -n "$umid" ]] && kill_umid "$umid"
	wait "$res_pid" 2>/dev/null || true
	res_pid=
	local line
	line="$(tail -n 1 "$tmp/results" 2>/dev/null)" || true
	line="${line%$'\r'}"
	if [[ "$line" =~ ^sandbox-status:\ ([0-9]{1,3})$ ]]; then
		rc="${BASH_REMATCH[1]}"
	fi
	return "$rc"
}

main() {
	parse_args "$@"
	if [[ $attach -eq 1 ]]; then
		run_attach
	else
		run_start
	fi
}

main "$@"
