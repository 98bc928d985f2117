#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The shell twin of init.c: the guest's PID 1 as a script, mount, run, power off.
#
# Not the default: /init is init.c compiled (each program started here costs
# ~25 ms under UML).  Kept as the reference of what init.c must do, the
# baseline of make bench, and a fallback: boot it with -a init=/init.sh.
#
# The host (run-uml.sh) passes SANDBOX_RUN=ID on the kernel command line
# (the kernel puts it into init's environment) and leaves the command in
# /scratch/cmd (the run's writable hostfs directory, mounted by fstab); the
# exit status goes back as "sandbox-status: N", the last line written to
# the results line /dev/ttyS1, which the host reads (the --test KTAP comes
# before it).  The root is read-only: nothing the guest does is left in it.
# No 'set -e': PID 1 must reach poweroff whatever fails on the way, or the
# kernel panics and the status is lost.
#
# Every program started costs ~25 ms under UML, a third of a boot: what a
# shell builtin can do (echo into /proc) is done with one.
#
# The kernel's messages go to the console (ttyS0, the host's stderr); the
# guest's own output goes to tty0 (the host's stdin and stdout).  PID 1 never
# opens tty0 itself: as a session leader it would take the tty as its
# controlling terminal, and the shell could then not have it for Ctrl-C.

PATH=/bin:/sbin:/usr/bin:/usr/sbin
HOME=/root
export PATH HOME

log() {
	echo "<6>sandbox-init: $*" >/dev/kmsg 2>/dev/null || true
}

setup() {
	# proc, sysfs, tmpfs on /tmp, /root and /run, debugfs, the scratch
	# directory: /etc/fstab.
	mount -a 2>/dev/kmsg
	# --share DIR: the user's host directory, read-write.
	if [ -n "${SANDBOX_SHARE:-}" ]; then
		mount -t hostfs -o +share none /share 2>/dev/kmsg
	fi
	echo sandbox >/proc/sys/kernel/hostname
	# The selftests map regions larger than the guest's memory and touch
	# only a part of them (mremap_test maps 2 GB): let the kernel
	# overcommit, as a normal-sized machine would not need to.
	echo 1 >/proc/sys/vm/overcommit_memory
}

# Runs in a child of PID 1, with tty0 as stdio.
run() {
	setup
	cd /root || true
	if [ -n "$run" ] && [ -f /scratch/cmd ]; then
		log "running /scratch/cmd"
		# Sourced in a subshell: a fork, no exec of a second shell.
		(
			unset -f log setup run power_off
			# shellcheck disable=SC1091 # written by run-uml.sh per run
			. /scratch/cmd
		)
		status=$?
		log "command exited with $status"
		# Read by the host once the kernel has exited.  Not PID 1: a
		# session leader would take the tty as its controlling one.
		# On a line of its own, whatever the command left unfinished.
		{ echo; echo "sandbox-status: $status"; } >/dev/ttyS1
	else
		log "interactive shell (exit, Ctrl-D or poweroff to leave)"
		# A new session whose leader opens tty0 gets it as controlling
		# terminal: job control and Ctrl-C work in the shell.
		setsid sh -c 'exec sh -l <>/dev/tty0 >&0 2>&1'
	fi
}

power_off() {
	# Busybox's poweroff -f syncs first (unless -n): what was written to
	# /scratch and /share reaches the host's files.  An interactive
	# session that ends is a success to the host without a status.
	poweroff -f
}

run=${SANDBOX_RUN:-}

# A subshell in the foreground: the redirection is made in the child (so
# PID 1 takes no controlling tty), and, unlike a background job, it does not
# start with SIGINT ignored, which the shell's commands would inherit.
# Busybox poweroff signals PID 1; /etc/profile makes the shell's poweroff
# act at once, as this trap waits for the foreground subshell to end.
trap power_off USR1 USR2 TERM
(run) </dev/tty0 >/dev/tty0 2>&1
power_off
