#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Distributed compiles for real: two distccd on loopback, kbuild's compiles sent to them through ccache.
#
# Usage: tests/host/test_distcc.sh [PATTERN]
# Prints KTAP.  Needs the built patched kernel (make all: its guest root
# boots the clone's kernel, its ccache gives the objects outside mm/ and
# fs/), distcc, distccd and ccache.  Takes minutes (make check
# SHARD=distcc).
#
# Two distccd of its own, as this user (as root: as nobody), each on a
# loopback port with --allow 127.0.0.1, logging every job, ended by their
# pids on every exit.  A clone of this checkout (its files as they are,
# linux/ a worktree of its HEAD) builds mm/ and fs/ with an empty ccache
# directory and only distcc's own DISTCC_HOSTS naming both daemons.  Then:
#   >= 90 % of the compiles were served by the daemons, as their own logs
#   count them (distcc falls back to local compiles silently otherwise);
#   the objects' DWARF names the clone's files, and GDB lists
#   move_page_tables from its tree; the whole kernel boots and passes the
#   series tests;
#   a host that refuses, and one that dies mid-build: the build goes on
#   here, with one line saying so.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly BUILD="${BUILD:-$TOP/build}"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

readonly PART=(mm/ fs/)
readonly MIN_SERVED_PCT=90

for tool in distcc distccd ccache git gdb; do
	command -v "$tool" >/dev/null || {
		echo "test_distcc.sh: $tool is missing: apt-get install distcc ccache git gdb (scripts/packages.list)" >&2
		exit 1
	}
done
[[ -x "$BUILD/kernel/patched/linux" && -x "$BUILD/rootfs/init" ]] || {
	echo "test_distcc.sh: no built patched kernel and guest root: run 'make all' first" >&2
	exit 1
}

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-distcc.XXXXXX")"
readonly C="$scratch/clone"
declare -a daemon_pids=() ports=()

cleanup() {
	local pid
	for pid in "${daemon_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$scratch"
	git -C "$TOP/linux" worktree prune 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# distccd drops root for a user of its own: as root, nobody, which must
# be able to write its log.
daemon_user=()
if [[ "$(id -u)" -eq 0 ]]; then
	daemon_user=(--user nobody)
	chmod 755 "$scratch"
fi

# start_daemon N: distccd number N on a free loopback port, in the
# foreground of a background job (its pid is the daemon's), its port in
# ports[N], its log in $scratch/distccd-N.log.
start_daemon() {
	local -r n="$1" log="$scratch/distccd-$1.log"
	local port try pid
	for try in 1 2 3 4 5 6 7 8; do
		port=$((20000 + (RANDOM * 7 + try) % 40000))
		: >"$log"
		[[ ${#daemon_user[@]} -eq 0 ]] || chown nobody "$log"
		distccd --daemon --no-detach "${daemon_user[@]}" --listen 127.0.0.1 --port "$port" \
			--allow 127.0.0.1 --jobs 2 --log-file "$log" --log-level info &
		pid=$!
		sleep 0.3
		if kill -0 "$pid" 2>/dev/null && ! grep -q 'bind\|Address already in use' "$log"; then
			daemon_pids[n]="$pid"
			ports[n]="$port"
			return 0
		fi
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	echo "test_distcc.sh: distccd $n would not start (last log below)" >&2
	cat "$log" >&2
	exit 1
}

start_daemon 1
start_daemon 2
readonly HOSTS="127.0.0.1:${ports[1]}/2 127.0.0.1:${ports[2]}/2"

# served: the compiles the daemons' logs say they completed, in REPLY.
served() {
	REPLY="$(cat "$scratch"/distccd-*.log | grep -c 'COMPILE_OK' || true)"
}

# kernel_sh OUT CCACHE-DIR HOSTS ARGS...: the clone's kernel.sh on its
# tree, with an empty ccache of its own and distcc's own DISTCC_HOSTS.
kernel_sh() {
	local -r out="$1" cdir="$2" hosts="$3"
	shift 3
	env -u CCACHE_REMOTE_STORAGE -u CCACHE_PREFIX -u JOBS CCACHE_DIR="$cdir" DISTCC_HOSTS="$hosts" \
		SRC="$C/linux" KDIR="$C/build/kernel/patched" BUILD="$C/build" \
		"$C/scripts/build/kernel.sh" "$@" >"$out" 2>&1
}

test_1_compiles_served_by_the_daemons() {
	local rc=0
	diag "DISTCC_HOSTS='$HOSTS' (distccd pids ${daemon_pids[*]:1})"
	mkdir -p "$C"
	git -C "$TOP" ls-files -z | (cd "$TOP" && tar --null -T - -cf -) | tar -xf - -C "$C"
	git -C "$TOP/linux" worktree add -q --detach "$C/linux" HEAD
	kernel_sh "$scratch/config.out" "$scratch/ccache" "$HOSTS" config || rc=$?
	expect_status 0 "$rc" "kernel.sh config" || return
	served
	local -r before="$REPLY"
	kernel_sh "$scratch/build.out" "$scratch/ccache" "$HOSTS" kbuild "${PART[@]}" || rc=$?
	tail -n 5 "$scratch/build.out" | sed 's/^/#   /'
	expect_status 0 "$rc" "kbuild ${PART[*]} with DISTCC_HOSTS" || return
	served
	local -r done_remote=$((REPLY - before))
	# The compile jobs: every object kbuild compiled with CC (its .cmd
	# records the command); kbuild's probes of the compiler (-c /dev/null,
	# -E, --version) are not objects, and distcc runs them here.
	local jobs misses
	jobs="$(find "$C/build/kernel/patched" -name '.*.o.cmd' -exec grep -l -E '^(saved)?cmd_[^ ]+\.o := ccache gcc ' {} + | wc -l)"
	misses="$(CCACHE_DIR="$scratch/ccache" ccache --print-stats | awk '$1 == "cache_miss" { print $2 }')"
	[[ "$jobs" -gt 100 ]] || { fail "only $jobs objects compiled"; return; }
	local -r pct=$((done_remote * 1000 / jobs))
	diag "$jobs objects compiled ($misses calls past ccache, probes included); the daemons' logs:" \
		"$done_remote served ($((pct / 10)).$((pct % 10)) %):" \
		"$(grep -c COMPILE_OK "$scratch/distccd-1.log") and $(grep -c COMPILE_OK "$scratch/distccd-2.log")"
	[[ $((done_remote * 100)) -ge $((MIN_SERVED_PCT * jobs)) ]] ||
		{ fail "below $MIN_SERVED_PCT % served remotely: distcc fell back to local compiles"; return; }
	# Both daemons took a share: the job count followed both hosts' slots.
	if ! grep -q COMPILE_OK "$scratch/distccd-1.log" || ! grep -q COMPILE_OK "$scratch/distccd-2.log"; then
		fail "one daemon served nothing"
		return
	fi
	if grep -q 'DISTCC' "$scratch/build.out"; then
		fail "a fallback was reported with both hosts up"
		return
	fi
}

test_2_debug_info_names_the_clone() {
	local -r obj="$C/build/kernel/patched/mm/mremap.o"
	[[ -f "$obj" ]] || { fail "no mm/mremap.o"; return; }
	# Compiled in a temp directory of the daemon: none of its paths, and
	# none of the clone's absolute ones, may be in the object.
	if grep -q -a -e 'distccd_' -e "$scratch" "$obj"; then
		fail "mm/mremap.o names a daemon's temp directory or an absolute path"
		return
	fi
	readelf --debug-dump=info "$obj" | grep -m 2 -E 'DW_AT_(name|comp_dir)' | sed 's/^/#   /'
	expect_gdb_source "$C" "$obj" "$scratch/gdb.out" || return
}

test_3_kernel_boots() {
	local rc=0
	[[ -d "$C/build/kernel/patched/mm" ]] || { fail "no clone"; return; }
	# The rest of the kernel from this machine's ccache, without distcc.
	env -u DISTCC_HOSTS -u CCACHE_PREFIX SRC="$C/linux" KDIR="$C/build/kernel/patched" BUILD="$C/build" \
		"$C/scripts/build/kernel.sh" build >"$scratch/full.out" 2>&1 || rc=$?
	tail -n 3 "$scratch/full.out" | sed 's/^/#   /'
	expect_status 0 "$rc" "the whole kernel" || return
	rc=0
	SANDBOX_KERNEL_NAME=patched "$TOP/run-uml.sh" --kernel "$C/build/kernel/patched/linux" \
		--no-build --test series/ >"$scratch/boot.out" 2>&1 || rc=$?
	expect_status 0 "$rc" "the kernel with distcc's objects boots, the series tests" || return
	expect_grep '^ok [0-9]+ series/' "$scratch/boot.out" "series tests passed" || return
	if grep -q '^not ok ' "$scratch/boot.out"; then
		fail "a series test failed"
		return
	fi
}

# expect_fallback OUT RC WHAT: the build went on, and said so in one line.
expect_fallback() {
	expect_status 0 "$2" "$3: the build" || return
	expect_grep '^  DISTCC  [0-9]+ compile\(s\) ran here instead' "$1" "$3: one line says so" || return
	[[ "$(grep -c 'DISTCC' "$1")" -eq 1 ]] || { fail "$3: more than one line"; return; }
	if grep -q 'failed to distribute' "$1"; then
		fail "$3: distcc's own warnings reached the terminal"
		return
	fi
}

test_4_host_refuses() {
	local rc=0 dead
	# A port nothing listens on: every connection refused.
	dead=$((ports[1] + 1))
	while [[ "$dead" -eq "${ports[2]}" ]]; do dead=$((dead + 1)); done
	rm -f "$C/build/kernel/patched/mm/mremap.o" "$C/build/kernel/patched/mm/mmap.o"
	kernel_sh "$scratch/refused.out" "$scratch/ccache-refused" "127.0.0.1:$dead/2" \
		kbuild mm/mremap.o mm/mmap.o || rc=$?
	sed 's/^/#   /' "$scratch/refused.out" | tail -n 3
	expect_fallback "$scratch/refused.out" "$rc" "a host that refuses"
}

test_5_host_dies_mid_build() {
	local rc=0 pid
	rm -f "$C/build/kernel/patched/mm/"*.o
	kernel_sh "$scratch/dies.out" "$scratch/ccache-dies" "127.0.0.1:${ports[1]}/2" kbuild mm/ &
	pid=$!
	# Once the daemon has served some, it dies (its pid: the job's).
	local n=0
	while [[ $n -lt 100 ]] && ! grep -q COMPILE_OK <(tail -n 50 "$scratch/distccd-1.log"); do
		sleep 0.1
		n=$((n + 1))
	done
	# The daemon and the workers it forked, each by its pid.
	local -a workers
	mapfile -t workers < <(ps -o pid= --ppid "${daemon_pids[1]}")
	kill -9 "${daemon_pids[1]}" "${workers[@]}" 2>/dev/null || true
	wait "$pid" || rc=$?
	sed 's/^/#   /' "$scratch/dies.out" | tail -n 3
	expect_fallback "$scratch/dies.out" "$rc" "a host that dies mid-build"
}

ktap_run_all distcc "${1:-}"
