# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash disable=SC2154 # runs, OUT, BUILD, SELF: bench.sh's
# Bench parts past one machine: a team's ccache, distcc, make check's shards (sourced by bench.sh).
#
#   --only remote       a fresh clone's first verdict (make check
#                       T=series/realign) with a warm shared cache against a
#                       cold one, in turns; then a cold build of mm/ and fs/
#                       with an empty remote against none (what a miss costs)
#   --only distcc       mm/ and fs/ cold, on two loopback distccd against
#                       here, in turns; the daemons' share and per-object
#                       times; the model of a cold compile on N hosts
#                       (BENCH_DISTCC_FULL=1: then the whole kernel once)
#   --only shards       every shard of make check alone, from built kernels
#   --only shards_fresh every shard alone from a fresh clone, warm ccache
#
# Every server is this user's own, on a unix socket or a loopback port,
# ended by its pid.  The figures go to bench.md/.json with the rest.

# remote_server DIR: a redis-server of the bench's own, its socket
# DIR/redis.sock, its pid in bench_redis_pid.
remote_server() {
	redis-server --port 0 --unixsocket "$1/redis.sock" --unixsocketperm 700 --save '' \
		--appendonly no --dir "$1" --logfile "$1/redis.log" &
	bench_redis_pid=$!
	local i
	for ((i = 0; i < 50; i++)); do
		redis-cli -s "$1/redis.sock" ping >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "$SELF: redis-server did not start ($1/redis.log)" >&2
	return 1
}

# remote_flush DIR: the bench's redis-server, in DIR, emptied.
remote_flush() {
	redis-cli -s "$1/redis.sock" flushall >/dev/null
}

remote_server_stop() {
	[[ -n "${bench_redis_pid:-}" ]] || return 0
	kill "$bench_redis_pid" 2>/dev/null || true
	wait "$bench_redis_pid" 2>/dev/null || true
	bench_redis_pid=
}

# part_build CLONE-TREE KDIR: kbuild mm/ and fs/ of a configured KDIR,
# from nothing (the objects removed first), in the caller's environment.
part_build() {
	rm -rf "$2/mm" "$2/fs"
	SRC="$1" KDIR="$2" "$TOP/scripts/build/kernel.sh" kbuild mm/ fs/
}

# part_setup KDIR: a worktree of HEAD of the bench's own, and KDIR configured
# from nothing for it (part_build's tree: $BUILD/src/bench-remote).
part_setup() {
	"$TOP/scripts/build/kernel.sh" worktree bench-remote HEAD
	rm -rf "$1"
	SRC="$BUILD/src/bench-remote" KDIR="$1" "$TOP/scripts/build/kernel.sh" config >/dev/null
}

# part_pairs DIR KDIR NEW OLD BEFORE VAR=VALUE...: in turns, max(1, runs/3)
# times, mm/ and fs/ cold (an empty ccache in DIR) with the VAR=VALUEs in
# the environment, its time added to the array named NEW, and without
# them, to OLD.  BEFORE (a command, or :) runs before each new-way build.
part_pairs() {
	local -r dir="$1" kd="$2" before="$5"
	local -n new_t="$3" old_t="$4"
	shift 5
	local i t
	for ((i = 0; i < (runs + 2) / 3; i++)); do
		"$before" "$dir"
		rm -rf "$dir/ccache"
		# shellcheck disable=SC2163 # "$@" are VAR=VALUE words
		t="$(export "$@" && CCACHE_DIR="$dir/ccache" time_cmd part_build "$BUILD/src/bench-remote" "$kd")" ||
			return 1
		new_t+=("$t")
		rm -rf "$dir/ccache"
		t="$(CCACHE_DIR="$dir/ccache" time_cmd part_build "$BUILD/src/bench-remote" "$kd")" || return 1
		old_t+=("$t")
	done
}

bench_remote() {
	local -r dir="$OUT/remote" kd="$BUILD/kernel/bench-remote"
	local -a warm=() cold=() miss=() nomiss=()
	local i t url
	rm -rf "$dir" && mkdir -p "$dir"
	trap 'remote_server_stop' RETURN
	remote_server "$dir" || return 1
	url="redis+unix:$dir/redis.sock"
	# The team's cache, filled as a team member's first build fills it: a
	# clone of this checkout (the same layout as every clone: linux/ and
	# build/kernel/patched, so the same objects), built with ccache's
	# reshare, which writes each of this machine's local hits to the
	# server too.  A worktree elsewhere (build/src/...) would not do: its
	# objects name another path to the tree, and ccache hashes that.
	rm -rf "$dir/fill"
	git clone -q "$TOP" "$dir/fill"
	CCACHE_REMOTE_STORAGE="$url" CCACHE_RESHARE=1 make -s -C "$dir/fill" kernel >"$dir/fill.log" 2>&1 || {
		echo "$SELF: filling the server failed ($dir/fill.log)" >&2
		return 1
	}
	rm -rf "$dir/fill"
	echo "  the server holds $(redis-cli -s "$dir/redis.sock" dbsize) entries"
	for ((i = 0; i < $(((runs + 2) / 3)); i++)); do
		# The new way: a fresh clone, an empty ccache directory, only
		# CCACHE_REMOTE_STORAGE set.  The old: no cache at all.
		rm -rf "$dir/clone" "$dir/ccache"
		git clone -q "$TOP" "$dir/clone"
		t="$(time_cmd env CCACHE_DIR="$dir/ccache" CCACHE_REMOTE_STORAGE="$url" \
			make -s -C "$dir/clone" check T=series/realign)" || return 1
		warm+=("$t")
		CCACHE_DIR="$dir/ccache" ccache --print-stats >"$dir/warm-stats.$i"
		rm -rf "$dir/clone"
		git clone -q "$TOP" "$dir/clone"
		t="$(time_cmd env CCACHE_DISABLE=1 make -s -C "$dir/clone" check T=series/realign)" || return 1
		cold+=("$t")
		rm -rf "$dir/clone" "$dir/ccache"
	done
	record fresh_remote "fresh clone to first verdict, warm shared cache (redis, empty local)" "${warm[@]}"
	record fresh_cold "  the same, no cache (cold compile)" "${cold[@]}"
	ratio fresh_remote_ratio "  warm shared cache over cold" fresh_remote fresh_cold
	awk '$1 == "remote_storage_hit" { h = $2 } $1 == "cache_miss" { m = $2 }
		$1 == "direct_cache_hit" { d = $2 }
		END { printf "  the last warm clone: %d remote hits of %d compiles\n", h, d + m }' "$dir/warm-stats.$((i - 1))"
	# What the remote costs when it misses: mm/ and fs/ cold, with an
	# empty server (every compile a miss and a write) against without
	# one, in turns, in a worktree of HEAD of the bench's own.
	part_setup "$kd"
	part_pairs "$dir" "$kd" miss nomiss remote_flush CCACHE_REMOTE_STORAGE="$url" || return 1
	record remote_miss "cold mm/ and fs/ with an empty remote (every compile a miss and a write)" "${miss[@]}"
	record remote_none "  the same without a remote" "${nomiss[@]}"
	ratio remote_miss_ratio "  with the remote over without" remote_miss remote_none
	rm -rf "$dir/ccache" "$kd"
}

bench_distcc() {
	local -r dir="$OUT/distcc" wt="$BUILD/src/bench-remote" kd="$BUILD/kernel/bench-distcc"
	local -a pids=() dist=() here=()
	local i t p hosts=""
	rm -rf "$dir" && mkdir -p "$dir"
	[[ "$(id -u)" -ne 0 ]] || chmod 755 "$dir"
	for i in 1 2; do
		p=$((30000 + RANDOM % 20000 + i))
		: >"$dir/distccd-$i.log"
		[[ "$(id -u)" -ne 0 ]] || chown nobody "$dir/distccd-$i.log"
		# shellcheck disable=SC2046 # nothing, or --user nobody
		distccd --daemon --no-detach $([[ "$(id -u)" -ne 0 ]] || echo --user nobody) \
			--listen 127.0.0.1 --port "$p" --allow 127.0.0.1 --jobs 1 \
			--log-file "$dir/distccd-$i.log" --log-level info &
		pids+=($!)
		hosts+="127.0.0.1:$p/1 "
	done
	# shellcheck disable=SC2064 # the pids of now
	trap "kill ${pids[*]} 2>/dev/null; wait ${pids[*]} 2>/dev/null || true" RETURN
	sleep 0.3
	part_setup "$kd"
	# Both ways cold (no ccache hit): distcc on the two daemons (one slot
	# each: two cores here, as the local build has), and here.
	part_pairs "$dir" "$kd" dist here : DISTCC_HOSTS="$hosts" || return 1
	record distcc_part "cold mm/ and fs/ on two loopback distccd (one slot each)" "${dist[@]}"
	record local_part "  the same here (two jobs)" "${here[@]}"
	ratio distcc_ratio "  distcc over here" distcc_part local_part
	# The daemons' share of the last distcc run, and the model.
	local -r jobs="$(cat "$dir"/distccd-*.log | grep -c COMPILE_OK || true)"
	echo "  the daemons served $jobs compiles over $(((runs + 2) / 3)) run(s)"
	cat "$dir"/distccd-*.log | sed -n 's/.*COMPILE_OK.* time:\([0-9]*\)ms .*/\1/p' >"$dir/times"
	distcc_model "$dir/times" "${MEDIANS[local_part]}"
	# BENCH_DISTCC_FULL=1: once, the whole kernel cold on the daemons,
	# with their share of its compiles (the objects kbuild compiled with
	# CC, as tests/host/test_distcc.sh counts them).
	if [[ "${BENCH_DISTCC_FULL:-0}" == 1 ]]; then
		local before served objs
		before="$(cat "$dir"/distccd-*.log | grep -c COMPILE_OK || true)"
		rm -rf "$dir/ccache"
		part_setup "$kd"
		t="$(CCACHE_DIR="$dir/ccache" DISTCC_HOSTS="$hosts" time_cmd \
			env SRC="$wt" KDIR="$kd" "$TOP/scripts/build/kernel.sh" build)" || return 1
		record distcc_full "the whole kernel cold on the two daemons" "$t"
		served="$(($(cat "$dir"/distccd-*.log | grep -c COMPILE_OK || true) - before))"
		objs="$(find "$kd" -name '.*.o.cmd' -exec grep -l -E '^(saved)?cmd_[^ ]+\.o := ccache gcc ' {} + | wc -l)"
		echo "  the whole kernel: the daemons served $served of $objs compiles"
	fi
	rm -rf "$dir/ccache" "$kd"
}

# distcc_model TIMES LOCAL: the model of a cold compile on N hosts from the
# daemons' per-object compile times (ms, one a line): the objects' compile
# spread over N hosts of S slots, but no faster than the longest object,
# nor than this machine's own work per object (preprocessing, ccache,
# distcc: measured as what the local build's wall time holds beyond its
# compile), plus the serial part (kbuild's walk, the link: the full
# kernel's, from docs/performance.md's figures).
distcc_model() {
	awk -v local_s="$2" '
		{ n++; sum += $1 / 1000; if ($1 / 1000 > max) max = $1 / 1000 }
		END {
			if (n == 0) { print "  (no per-object times: no model)"; exit }
			# Locally: two cores compile the same objects.
			per_core_local = sum / 2
			client = local_s - per_core_local; if (client < 0) client = 0
			printf "  model from %d objects: compile %.1f s of CPU, longest %.2f s; the local build %.1f s, of which %.1f s is not the compile\n", n, sum, max, local_s, client
			printf "  | hosts (2 slots each) | predicted mm/ and fs/ |\n"
			for (h = 1; h <= 32; h *= 2) {
				t = sum / (2 * h); if (t < max) t = max; if (t < client) t = client
				printf "  | %d | %.1f s |\n", h, t
			}
		}' "$1"
}

# Every shard alone on built kernels (the old way: make check, the same
# tests on one machine, measured beside it once).
bench_shards() {
	local s t
	local -a names
	mapfile -t names < <(make -s -C "$TOP" check-shards | awk 'NR > 1 { print $1 }')
	for s in "${names[@]}"; do
		t="$(time_cmd make -s -C "$TOP" check SHARD="$s")" || t=fail
		[[ "$t" == fail ]] && { echo "  shard $s failed"; continue; }
		record "shard_$s" "make check SHARD=$s, built kernels" "$t"
	done
	t="$(time_cmd make -s -C "$TOP" check)" || return 1
	record check_all "  make check, built kernels (the shards' tests on one machine)" "$t"
}

# Every shard alone from a fresh clone, with this machine's ccache warm.
bench_shards_fresh() {
	local -r clone="$OUT/shard-clone"
	local s t
	local -a names
	mapfile -t names < <(make -s -C "$TOP" check-shards | awk 'NR > 1 { print $1 }')
	for s in "${names[@]}"; do
		rm -rf "$clone"
		git clone -q "$TOP" "$clone"
		t="$(time_cmd make -s -C "$clone" check SHARD="$s")" || t=fail
		[[ "$t" == fail ]] && { echo "  shard $s failed (fresh clone)"; continue; }
		record "shard_fresh_$s" "make check SHARD=$s, fresh clone, warm ccache" "$t"
	done
	rm -rf "$clone"
}
