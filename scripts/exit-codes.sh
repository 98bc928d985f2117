# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The exit codes of the host scripts: one table, sourced by scripts/lib.sh.
#
# Each code has one meaning wherever it is used.  64-78 follow sysexits.h
# where one fits; 121-125 are run-uml.sh's own, above what a guest command
# usually returns; a guest command's own status passes through run-uml.sh
# and may be any of them.  docs/reference.md lists every one
# (tests/host/test_reference.sh checks both ways).  A script sources it
# once, through scripts/lib.sh or (run before anything else, as
# preflight.sh) directly; a second time it has nothing to do (the table is
# read-only by then: an E_USAGE of the environment is not the table).
if [[ -v E_USAGE && "${E_USAGE@a}" == *r* ]]; then
	return 0
fi

# shellcheck disable=SC2034 # the table: each script uses the codes it needs
readonly \
	E_USAGE=64 \
	E_DIRTY=65 \
	E_APPLY=66 \
	E_FETCH=67 \
	E_SRC=68 \
	E_CONFIG=69 \
	E_BUILD=70 \
	E_SERIES=71 \
	E_NOTEST=72 \
	E_NOSPACE=73 \
	E_TEMPFAIL=75 \
	E_NOGUEST=76 \
	E_SETUP=78 \
	E_SPLAT=121 \
	E_KILLED=122 \
	E_FLOOD=123 \
	E_TIMEOUT=124 \
	E_DIED=125
# 64  bad usage: an unknown option or command, a missing or malformed value
# 65  linux/ holds work that re-applying patches/ would lose
# 66  a patch does not apply (linux/ is left as it was)
# 67  a download failed, or the package is corrupt
# 68  LINUX_SRC (or linux/) is not a kernel tree, or not the sandbox's import
# 69  an option of the Kconfig fragments did not survive Kconfig
# 70  the build failed
# 71  a series file names a patch that does not exist
# 72  no guest test matches the --test pattern (T=)
# 73  the disk is full
# 75  a temporary failure, run the same command again: make coverage's boot
#     wrote no coverage data, or another make mutate holds build/mutate
# 76  no running guest to attach to (gdb-uml.sh --attach)
# 78  the machine lacks a package or a setting (ptrace for gdb-uml.sh
#     --attach), or cannot be prepared (.ci/run)
# 121 a kernel splat, or the host's resources ran out under the guest
# 122 the kernel process died of a signal on the host
# 123 the guest's console passed SANDBOX_LOG_LIMIT and was cut
# 124 the guest timed out
# 125 the guest ended without reporting a status
