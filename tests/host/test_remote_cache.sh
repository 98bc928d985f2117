#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A team's compile cache for real: Debian's redis-server as ccache's remote storage, two clones.
#
# Usage: tests/host/test_remote_cache.sh [PATTERN]
# Prints KTAP.  Needs the built patched kernel (make all: its guest root
# boots the second clone's kernel, its ccache gives the objects outside
# mm/ and fs/), redis-server and ccache.  Takes minutes (make check
# SHARD=remote-cache).
#
# A redis-server of its own, as this user, on a unix socket in a temp
# directory (no port), ended by its pid on every exit.  Two clones of this
# checkout (its files as they are, linux/ as a worktree of its HEAD) at two
# other paths, each with an empty ccache directory of its own, and only
# ccache's own CCACHE_REMOTE_STORAGE set:
#   first clone   builds mm/ and fs/: the server fills;
#   second clone  builds them again: >= 95 % remote hits (ccache's own
#                 statistics), the same bytes as the first clone's objects;
#                 with the first clone moved away, GDB lists
#                 move_page_tables from the second clone's own tree and
#                 decode_stacktrace.sh gives its file:line; its whole
#                 kernel boots and passes the series tests.
# Then the server goes wrong: corrupted entries, down, stopped (slow),
# full; a read-only remote.  The build goes on each time with the right
# object, and kernel.sh says in one line when a request failed.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly BUILD="${BUILD:-$TOP/build}"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

# What the objects of a part are compared on: mm/ and fs/ (~190 compiles
# with kbuild's prepare step).
readonly PART=(mm/ fs/)
readonly MIN_REMOTE_PCT=95

for tool in redis-server redis-cli ccache git gdb; do
	command -v "$tool" >/dev/null || {
		echo "test_remote_cache.sh: $tool is missing: apt-get install redis-server ccache git gdb (scripts/packages.list)" >&2
		exit 1
	}
done
[[ -x "$BUILD/kernel/patched/linux" && -x "$BUILD/rootfs/init" ]] || {
	echo "test_remote_cache.sh: no built patched kernel and guest root: run 'make all' first" >&2
	exit 1
}

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-remote.XXXXXX")"
readonly SOCK="$scratch/redis.sock" A="$scratch/first" B="$scratch/second"
redis_pid=

cleanup() {
	if [[ -n "$redis_pid" ]]; then
		kill -CONT "$redis_pid" 2>/dev/null || true
		kill "$redis_pid" 2>/dev/null || true
		wait "$redis_pid" 2>/dev/null || true
	fi
	rm -rf "$scratch"
	# The clones' linux/ were worktrees of linux/: forget them.
	git -C "$TOP/linux" worktree prune 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server: no port, no persistence, its files in the temp directory.
redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --save '' \
	--appendonly no --dir "$scratch" --logfile "$scratch/redis.log" &
redis_pid=$!
for _ in $(seq 50); do
	[[ -S "$SOCK" ]] && redis-cli -s "$SOCK" ping >/dev/null 2>&1 && break
	sleep 0.1
done
readonly URL="redis+unix:$SOCK"

rcli() {
	redis-cli -s "$SOCK" "$@"
}

# make_clone DIR: this checkout's files as they are, and linux/ as a
# worktree of its HEAD (tag base, the series on top), at DIR.
make_clone() {
	local -r dir="$1"
	mkdir -p "$dir"
	git -C "$TOP" ls-files -z | (cd "$TOP" && tar --null -T - -cf -) | tar -xf - -C "$dir"
	git -C "$TOP/linux" worktree add -q --detach "$dir/linux" HEAD
}

# kernel_sh CLONE OUT CCACHE-DIR REMOTE ARGS...: the clone's own
# scripts/build/kernel.sh on its own tree and build directory, with only
# ccache's own settings for the cache; its output in OUT.
kernel_sh() {
	local -r clone="$1" out="$2" cdir="$3" remote="$4"
	shift 4
	env -u CCACHE_PREFIX -u DISTCC_HOSTS CCACHE_DIR="$cdir" ${remote:+CCACHE_REMOTE_STORAGE="$remote"} \
		SRC="$clone/linux" KDIR="$clone/build/kernel/patched" BUILD="$clone/build" \
		"$clone/scripts/build/kernel.sh" "$@" >"$out" 2>&1
}

# stat_of CCACHE-DIR NAME: one counter of ccache's statistics, in REPLY.
stat_of() {
	REPLY="$(CCACHE_DIR="$1" ccache --print-stats | awk -v k="$2" '$1 == k { print $2 }')"
	REPLY="${REPLY:-0}"
}

# objects CLONE: the part's objects, relative to the build directory.
objects() {
	(cd "$1/build/kernel/patched" && find "${PART[@]}" -name '*.o' | sort)
}

# expect_same_objects CLONE WHAT: every object of the part is, byte for
# byte, the first clone's (the paths they record are the checkout's own,
# relative, so two clones make the same bytes).
expect_same_objects() {
	local o n=0
	while IFS= read -r o; do
		cmp -s "$A.objects/$o" "$1/build/kernel/patched/$o" || {
			fail "$2: $o differs from the first clone's"
			return
		}
		n=$((n + 1))
	done < <(cd "$A.objects" && find . -name '*.o' | sed 's|^\./||')
	[[ $n -gt 0 ]] || { fail "$2: no objects to compare"; return; }
	diag "$2: all $n objects byte-identical to the first clone's"
}

test_1_fill_from_first_clone() {
	local rc=0
	make_clone "$A"
	kernel_sh "$A" "$scratch/a-config.out" "$scratch/ccache-a" "$URL" config || rc=$?
	expect_status 0 "$rc" "first clone: kernel.sh config" || return
	kernel_sh "$A" "$scratch/a-build.out" "$scratch/ccache-a" "$URL" kbuild "${PART[@]}" || rc=$?
	tail -n 5 "$scratch/a-build.out" | sed 's/^/#   /'
	expect_status 0 "$rc" "first clone: kbuild ${PART[*]} with an empty ccache" || return
	stat_of "$scratch/ccache-a" remote_storage_write
	local -r writes="$REPLY"
	[[ "$writes" -gt 100 ]] || { fail "the first clone wrote $writes entries to the server"; return; }
	diag "the first clone wrote $writes entries; the server holds $(rcli dbsize) keys"
	# Kept for the comparisons, as the first clone made them.
	(cd "$A/build/kernel/patched" && find "${PART[@]}" -name '*.o' -print0 |
		tar --null -T - -cf -) | (mkdir -p "$A.objects" && tar -xf - -C "$A.objects")
}

test_2_second_clone_remote_hits() {
	local rc=0
	[[ -d "$A.objects" ]] || { fail "no first clone"; return; }
	make_clone "$B"
	kernel_sh "$B" "$scratch/b-config.out" "$scratch/ccache-b" "$URL" config || rc=$?
	expect_status 0 "$rc" "second clone: kernel.sh config" || return
	kernel_sh "$B" "$scratch/b-build.out" "$scratch/ccache-b" "$URL" kbuild "${PART[@]}" || rc=$?
	expect_status 0 "$rc" "second clone: kbuild ${PART[*]}, another path, another empty CCACHE_DIR" || return
	local hits misses local_hits remote
	stat_of "$scratch/ccache-b" direct_cache_hit; hits="$REPLY"
	stat_of "$scratch/ccache-b" preprocessed_cache_hit; hits=$((hits + REPLY))
	stat_of "$scratch/ccache-b" cache_miss; misses="$REPLY"
	stat_of "$scratch/ccache-b" remote_storage_hit; remote="$REPLY"
	stat_of "$scratch/ccache-b" local_storage_hit; local_hits="$REPLY"
	local -r compiles=$((hits + misses))
	[[ $compiles -gt 100 ]] || { fail "only $compiles cacheable compiles"; return; }
	local -r pct=$((remote * 1000 / compiles))
	diag "second clone: $compiles compiles, $remote remote hits ($((pct / 10)).$((pct % 10)) %), $local_hits local hits, $misses misses"
	[[ $((remote * 100)) -ge $((MIN_REMOTE_PCT * compiles)) ]] ||
		{ fail "remote hits below $MIN_REMOTE_PCT %"; return; }
	expect_same_objects "$B" "second clone"
}

test_3_gdb_second_clone() {
	[[ -d "$B/build/kernel/patched/mm" ]] || { fail "no second clone"; return; }
	mv "$A" "$A.moved"
	local -r obj="$B/build/kernel/patched/mm/mremap.o"
	# No path of either clone (nor of this machine's temp directory) in
	# the objects: they name files relative to the checkout.
	if grep -r -l -F --include='*.o' -e "$scratch" "$B/build/kernel/patched/mm" \
		"$B/build/kernel/patched/fs" >"$scratch/with-path"; then
		fail "$(wc -l <"$scratch/with-path") object(s) hold an absolute path of a clone: $(head -n 1 "$scratch/with-path")"
		return
	fi
	diag "no object names a clone's absolute path"
	expect_gdb_source "$B" "$obj" "$scratch/gdb.out" || return
}

test_4_second_clone_boots() {
	local rc=0
	[[ -d "$B/build/kernel/patched/mm" ]] || { fail "no second clone"; return; }
	# The rest of the kernel from this machine's own ccache (the same
	# layout, so the same objects: this checkout's build filled it);
	# mm/ and fs/ are the server's, left as they are by kbuild.
	env -u CCACHE_REMOTE_STORAGE SRC="$B/linux" KDIR="$B/build/kernel/patched" BUILD="$B/build" \
		"$B/scripts/build/kernel.sh" build >"$scratch/b-full.out" 2>&1 || rc=$?
	tail -n 5 "$scratch/b-full.out" | sed 's/^/#   /'
	expect_status 0 "$rc" "second clone: the whole kernel" || return
	if grep -E '^  CC +(mm|fs)/' "$scratch/b-full.out"; then
		fail "kbuild compiled mm/ or fs/ again"
		return
	fi
	rc=0
	SANDBOX_KERNEL_NAME=patched "$TOP/run-uml.sh" --kernel "$B/build/kernel/patched/linux" \
		--no-build --test series/ >"$scratch/boot.out" 2>&1 || rc=$?
	grep -E '^(not )?ok ' "$scratch/boot.out" | sed 's/^/#   /' | head -n 20
	expect_status 0 "$rc" "the second clone's kernel boots, the series tests" || return
	expect_grep '^ok [0-9]+ series/' "$scratch/boot.out" "series tests passed" || return
	if grep -q '^not ok ' "$scratch/boot.out"; then
		fail "a series test failed"
		return
	fi
	# decode_stacktrace.sh: a frame in move_page_tables to file:line.
	local -r vmlinux="$B/build/kernel/patched/vmlinux"
	local addr
	addr="$(nm "$vmlinux" | awk '$3 == "move_page_tables" { print $1 }')"
	[[ -n "$addr" ]] || { fail "no move_page_tables in vmlinux"; return; }
	printf ' [<%s>] move_page_tables+0x40/0x800\n' "$addr" |
		(cd "$B" && timeout 120 linux/scripts/decode_stacktrace.sh "$vmlinux" "$B") \
		>"$scratch/decode.out" 2>&1 || true
	sed 's/^/#   /' "$scratch/decode.out"
	expect_grep 'move_page_tables.*[ (]build/kernel/patched/\.\./\.\./\.\./linux/mm/mremap\.c:[0-9]+' "$scratch/decode.out" \
		"decode_stacktrace.sh: file:line" || return
}

# rebuild_one OUT CCACHE-DIR REMOTE [KCFLAGS]: mm/mremap.o of the second
# clone again, from an empty ccache directory.
rebuild_one() {
	local -r out="$1" cdir="$2" remote="$3"
	rm -f "$B/build/kernel/patched/mm/mremap.o"
	KCFLAGS="${4:-}" kernel_sh "$B" "$out" "$cdir" "$remote" kbuild mm/mremap.o
}

test_5_corrupt_entries() {
	local k n=0 rc=0
	[[ -d "$B/build/kernel/patched/mm" ]] || { fail "no second clone"; return; }
	# Every entry's bytes past its header overwritten.
	while IFS= read -r k; do
		rcli setrange "$k" 64 'corrupted by test_remote_cache.sh' >/dev/null
		n=$((n + 1))
	done < <(rcli --scan --pattern 'ccache:*')
	diag "corrupted $n entries"
	rm -f "$B/build/kernel/patched/mm/"*.o
	kernel_sh "$B" "$scratch/corrupt.out" "$scratch/ccache-corrupt" "$URL" kbuild mm/ || rc=$?
	expect_status 0 "$rc" "kbuild mm/ from the corrupted server" || return
	local misses
	stat_of "$scratch/ccache-corrupt" cache_miss; misses="$REPLY"
	stat_of "$scratch/ccache-corrupt" remote_storage_read_hit
	diag "$REPLY entries read, $misses compiled here"
	[[ "$misses" -gt 10 ]] || { fail "only $misses compiles: corrupted entries were used"; return; }
	expect_same_objects "$B" "from corrupted entries"
}

# expect_remote_line OUT WHAT: kernel.sh said, in one line, that the
# remote failed, and the object is the right one.
expect_remote_line() {
	expect_status 0 "$2" "$3: the build goes on" || return
	expect_grep '^  CCACHE  the remote cache \(redis\+unix:.*\) failed [0-9]+ request' "$1" "$3: one line says so" || return
	[[ "$(grep -c 'CCACHE' "$1")" -eq 1 ]] || { fail "$3: more than one line"; return; }
	cmp -s "$A.objects/mm/mremap.o" "$B/build/kernel/patched/mm/mremap.o" ||
		{ fail "$3: mm/mremap.o is not the right object"; return; }
	diag "$3: mm/mremap.o is the right object"
}

test_6_server_down() {
	local rc=0
	rebuild_one "$scratch/down.out" "$scratch/ccache-down" "redis+unix:$scratch/no-server.sock" || rc=$?
	expect_remote_line "$scratch/down.out" "$rc" "no server"
}

test_7_server_slow() {
	local rc=0 t0=$SECONDS
	# A stopped server takes the connection and never answers: ccache's
	# own timeouts (attributes of its URL) bound the wait.
	kill -STOP "$redis_pid"
	rebuild_one "$scratch/slow.out" "$scratch/ccache-slow" "$URL|connect-timeout=200|operation-timeout=500" || rc=$?
	kill -CONT "$redis_pid"
	diag "built in $((SECONDS - t0)) s with the server stopped"
	expect_remote_line "$scratch/slow.out" "$rc" "a server that does not answer"
}

test_8_server_full() {
	local rc=0
	# Full: no memory for one more entry, and no eviction.
	rcli config set maxmemory-policy noeviction >/dev/null
	rcli config set maxmemory 1 >/dev/null
	# Another compile line (a define nothing reads): a miss, so a write.
	rebuild_one "$scratch/full.out" "$scratch/ccache-full" "$URL" -DSANDBOX_REMOTE_FULL_TEST || rc=$?
	rcli config set maxmemory 0 >/dev/null
	expect_status 0 "$rc" "a full server: the build goes on" || return
	expect_grep '^  CCACHE  the remote cache \(redis\+unix:.*\) failed [0-9]+ request' "$scratch/full.out" "a full server: one line says so"
}

test_9_read_only() {
	local rc=0 before after
	before="$(rcli dbsize)"
	rebuild_one "$scratch/ro.out" "$scratch/ccache-ro" "$URL|read-only" -DSANDBOX_REMOTE_RO_TEST || rc=$?
	after="$(rcli dbsize)"
	expect_status 0 "$rc" "a read-only remote: the build" || return
	stat_of "$scratch/ccache-ro" remote_storage_write
	[[ "$REPLY" -eq 0 && "$after" -eq "$before" ]] ||
		{ fail "a read-only remote was written: $REPLY writes, $before -> $after keys"; return; }
	diag "a read-only remote: a miss compiled here, nothing written ($after keys)"
}

ktap_run_all remote_cache "${1:-}"
