#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The guest's PID 1 (/init, rootfs/init.c): status, mounts, the shell, Ctrl-C, poweroff.
#
# Usage: tests/host/test_init.sh [PATTERN]   (runs the test_* functions matching it)
# Needs a built kernel and rootfs (make all); prints KTAP.
#
# Each test boots guests through run-uml.sh: a command's exit status comes
# back exactly (also after a line the command left unfinished on the
# results line, and after a signal to PID 1), the mounts of /etc/fstab and
# --share are there with their options, a failure on the way is logged and
# still reaches the power off, and the interactive shell (driven on a pty)
# has job control, survives Ctrl-C, and ends with exit and with poweroff.
#
# RUN (default: this tree's run-uml.sh) and BUILD (default: build/) may
# point at another tree, to show the checks failing on it.  INIT=/init.sh
# boots the shell init instead (-a init=/init.sh), the reference.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly RUN="${RUN:-$TOP/run-uml.sh}"
readonly BUILD="${BUILD:-$TOP/build}"
readonly INIT="${INIT:-}"
# A guest boots in well under a second; these bound a hung one.
readonly GUEST_TIMEOUT=60 PTY_TIMEOUT=40
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-init-tests.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export BUILD

# The options of every run: the chosen init, if any.
init_args=()
[[ -z "$INIT" ]] || init_args=(-a "init=$INIT")

# init_guest NAME ARGS...: run_guest (tests/host/lib.sh) with the init
# under test and the kernel's messages (-v) on stderr.
init_guest() {
	run_guest "$1" -v -t "$GUEST_TIMEOUT" "${init_args[@]}" "${@:2}"
}

# Drive an interactive run-uml.sh on a pty (stdin is a terminal, so it
# boots the shell): each STEP is "send TEXT", "expect REGEX" (in what came
# after the last expect's text), "interrupt REGEX" (Ctrl-C until REGEX comes) or
# "sleep S".  The transcript goes to
# $scratch/NAME.pty; the status is run-uml.sh's, 124 when a step or the end
# of the run takes longer than PTY_TIMEOUT, 125 when the run ended before
# an expected text came.
drive_shell() {
	local -r name="$1" tag="host-test-$BASHPID-$RANDOM$RANDOM"
	shift
	local rc=0
	python3 - "$scratch/$name.pty" "$PTY_TIMEOUT" "$RUN" --no-build -t "$GUEST_TIMEOUT" \
		-a "sandbox.tag=$tag" "${init_args[@]}" -- "$@" <<'EOF' || rc=$?
import os, pty, re, select, sys, time

log_path, limit = sys.argv[1], float(sys.argv[2])
argv = sys.argv[3:sys.argv.index("--")]
steps = sys.argv[sys.argv.index("--") + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
log = open(log_path, "wb")
seen = b""
eof = False


def read_some(timeout):
    global seen, eof
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return
    try:
        data = os.read(fd, 4096)
    except OSError:
        data = b""
    if not data:
        eof = True
        return
    # Busybox's line editing asks where the cursor is (ESC [ 6 n) after
    # each prompt and takes what is typed before the answer for one: a
    # terminal answers at once, and so does this one.
    for _ in range(data.count(b"\x1b[6n")):
        os.write(fd, b"\x1b[1;1R")
    log.write(data)
    log.flush()
    seen += data


def stop():
    # TERM: run-uml.sh stops its guest (a KILL would leave it running).
    os.kill(pid, 15)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def finish(code, why):
    log.write(("\n# driver: %s\n" % why).encode())
    log.close()
    sys.exit(code)


for step in steps:
    verb, _, arg = step.partition(" ")
    if verb == "send":
        os.write(fd, arg.encode().decode("unicode_escape").encode())
    elif verb == "sleep":
        time.sleep(float(arg))
    elif verb in ("expect", "interrupt"):
        # interrupt: Ctrl-C, again every 3 s until the text comes (the
        # first may come before the job has started on a loaded host).
        deadline = time.monotonic() + limit
        again = 0
        while not (m := re.search(arg.encode(), seen)):
            if verb == "interrupt" and time.monotonic() >= again:
                os.write(fd, b"\x03")
                again = time.monotonic() + 3
            if eof:
                os.waitpid(pid, 0)
                finish(125, "the run ended before /%s/" % arg)
            if time.monotonic() > deadline:
                stop()
                finish(124, "no /%s/ within %g s" % (arg, limit))
            read_some(0.2)
        # What came after the text is for the next expect.
        seen = seen[m.end():]
deadline = time.monotonic() + limit
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        stop()
        finish(124, "the run did not end within %g s" % limit)
    read_some(0.2)
while not eof:
    read_some(0.2)
    if not select.select([fd], [], [], 0)[0]:
        break
code = os.waitstatus_to_exitcode(status)
finish(code if code >= 0 else 128 - code, "run-uml.sh exited with %d" % code)
EOF
	note_leftovers "$name" "$tag"
	return "$rc"
}

# The guest command's status comes back as it was, whatever it is.
test_status_passthrough() {
	local s rc
	for s in 0 1 77 255; do
		rc=0
		init_guest "st$s" -- sh -c "exit $s" || rc=$?
		expect_status "$s" "$rc" "exit $s" || return
	done
	# Killed by a signal: 128 + its number, as a shell reports it; also
	# when it is the shell that runs the command (PID 1's child).
	rc=0
	init_guest st-kill -- sh -c 'kill -9 $$' || rc=$?
	expect_status 137 "$rc" "a command killed by SIGKILL" || return
	rc=0
	init_guest st-kill-parent -- sh -c 'kill -TERM $PPID; sleep 5' || rc=$?
	expect_status 143 "$rc" "the command's shell killed by SIGTERM"
}

# "sandbox-status: N" is on a line of its own, after whatever the command
# left unfinished on the results line or on tty0.
test_status_after_unfinished_line() {
	local rc=0
	init_guest partial -- sh -c 'printf no-newline-here >/dev/ttyS1; printf on-tty0; exit 3' ||
		rc=$?
	expect_status 3 "$rc" "a command leaving a line unfinished on ttyS1 and tty0" || return
	expect_match -F 'on-tty0' "$scratch/partial.out" "its unfinished tty0 line"
}

# PID 1 says what it runs and what it got in the kernel log.
test_kernel_log_lines() {
	local rc=0
	init_guest klog -- sh -c 'exit 5' || rc=$?
	expect_status 5 "$rc" "exit 5" || return
	expect_match -F 'sandbox-init: running /scratch/cmd' "$scratch/klog.err" "the start" || return
	expect_match -F 'sandbox-init: command exited with 5' "$scratch/klog.err" "the status"
}

# Busybox's poweroff in a command signals PID 1: the command still ends
# and its status still comes back (PID 1 powers off after it).
test_signal_during_command() {
	local rc=0
	init_guest sigcmd -- sh -c 'kill -USR2 1; kill -TERM 1; kill -USR1 1; poweroff;
		sleep 0.2; echo survived; exit 9' || rc=$?
	expect_status 9 "$rc" "a command that signals PID 1" || return
	expect_match -x survived "$scratch/sigcmd.out" "the command ran on"
}

# The command's world: the mounts of /etc/fstab with their options, the
# host name, overcommit, /root as cwd and HOME, PATH; no /share without
# --share.
test_mounts_and_setup() {
	local rc=0
	init_guest mounts -- sh -c '
		while read -r dev dir type opts rest; do
			echo "mount $dir $type $opts"
		done </proc/mounts
		echo "hostname $(hostname)"
		echo "overcommit $(cat /proc/sys/vm/overcommit_memory)"
		echo "cwd $(pwd) home $HOME path $PATH"
		for d in /tmp /root /run /scratch; do
			true >"$d/w" && echo "writable $d"
		done
		true >/x 2>/dev/null || echo "root refused"
		true >/share/x 2>/dev/null || echo "share refused"
		stat -c "mode %n %a" /tmp /root /run' || rc=$?
	expect_status 0 "$rc" "the mounts command" || return
	local -r o="$scratch/mounts.out"
	expect_match -E '^mount / hostfs ro[,$ ]' "$o" "the root read-only" || return
	expect_match -E '^mount /proc proc ' "$o" "/proc" || return
	expect_match -E '^mount /sys sysfs ' "$o" "/sys" || return
	expect_match -E '^mount /sys/kernel/debug debugfs ' "$o" "debugfs" || return
	expect_match -E '^mount /tmp tmpfs rw,' "$o" "/tmp tmpfs" || return
	expect_match -E '^mount /root tmpfs rw,.*mode=700' "$o" "/root tmpfs, 0700" || return
	expect_match -E '^mount /run tmpfs rw,.*size=1024k,mode=755' "$o" "/run tmpfs, 1 MB" || return
	expect_match -E '^mount /scratch hostfs rw,.*\+scratch' "$o" "/scratch" || return
	expect_match -x 'mode /tmp 1777' "$o" "/tmp's mode" || return
	expect_match -x 'hostname sandbox' "$o" "the host name" || return
	expect_match -x 'overcommit 1' "$o" "overcommit" || return
	expect_match -x 'cwd /root home /root path /bin:/sbin:/usr/bin:/usr/sbin' "$o" \
		"cwd, HOME and PATH" || return
	local d
	for d in /tmp /root /run /scratch; do
		expect_match -x "writable $d" "$o" "$d writable" || return
	done
	expect_match -x 'root refused' "$o" "a write to /" || return
	expect_match -x 'share refused' "$o" "/share without --share" || return
	if grep -q '^mount /share ' "$o"; then
		fail "/share is mounted without --share"
	fi
}

# --share DIR: read-write at /share, both ways.
test_share_read_write() {
	local -r dir="$scratch/share"
	local rc=0
	mkdir -p "$dir"
	echo from-host >"$dir/in"
	init_guest share --share "$dir" -- sh -c \
		'grep " /share hostfs rw," /proc/mounts && cat /share/in && echo from-guest >/share/out' ||
		rc=$?
	expect_status 0 "$rc" "a command on --share" || return
	expect_match -x from-host "$scratch/share.out" "the host's file read in the guest" || return
	[[ "$(cat "$dir/out" 2>/dev/null)" == from-guest ]] ||
		fail "the guest's file is not in the shared directory" || return
	diag "the guest's file reached the host"
}

# A failure on the way (here: the share's mount, with no share given to
# the kernel) is logged and the run still reports the command's status.
test_failure_still_reports() {
	local rc=0
	init_guest nomount -a SANDBOX_SHARE=1 -- sh -c 'exit 6' || rc=$?
	expect_status 6 "$rc" "a run whose share mount fails" || return
	expect_grep 'share.*failed' "$scratch/nomount.err" "the failed mount in the kernel log"
}

# The interactive shell: a login shell with job control; Ctrl-C stops
# its foreground job, not the shell; exit ends the run, quickly, with 0.
test_shell_ctrl_c() {
	local rc=0 t0=$EPOCHREALTIME
	drive_shell ctrlc 'expect uml:.*# ' \
		'send set -o | grep monitor\r' 'expect monitor[ \t]+on' 'expect uml:.*# ' \
		'send sleep 100 &\r' 'expect uml:.*# ' 'send jobs\r' 'expect \[1\]\+ +Running' \
		'expect uml:.*# ' 'send kill %1\r' 'expect uml:.*# ' \
		'send sleep 100\r' 'sleep 1' 'interrupt uml:.*# ' \
		'send echo $((6 * 7))alive\r' 'expect 42alive' 'expect uml:.*# ' \
		'send exit\r' || rc=$?
	local -r s="$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
	if [[ $rc -ne 0 ]]; then
		sed 's/^/#   /' "$scratch/ctrlc.pty" | tail -n 30
		fail "the shell session: status $rc" || return
	fi
	grep -q 'job control turned off' "$scratch/ctrlc.pty" && fail "the shell has no job control"
	diag "job control on, sleep 100 stopped by Ctrl-C, the shell alive, exit: $s s"
}

# poweroff typed in the shell (/etc/profile's) and busybox's own (the
# signal to PID 1) both end the run at once, with 0.
test_shell_poweroff() {
	local rc how
	for how in poweroff 'busybox poweroff'; do
		if [[ "$how" != poweroff && "$INIT" == /init.sh ]]; then
			skip "init.sh acts on poweroff's signal only once the shell has ended"
			return
		fi
		rc=0
		drive_shell poweroff 'expect uml:.*# ' "send $how\r" || rc=$?
		if [[ $rc -ne 0 ]]; then
			sed 's/^/#   /' "$scratch/poweroff.pty" | tail -n 20
			fail "'$how' in the shell: status $rc" || return
		fi
		diag "'$how' powered off, status 0"
	done
}

if ! command -v python3 >/dev/null; then
	echo "$0: python3 is missing: it drives the guest shell on a pty; install python3" >&2
	exit 1
fi
ktap_run_all init "${1:-}"
