# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The quick path of scripts/build/kernel.sh: one object's rebuild and the relink, without kbuild's walk.
#
# Sourced by kernel.sh (build), which has set TOP, BUILD, SRC, KDIR, JOBS,
# KLD, CHANGED and kbuild_setup; not run on its own.  kernel.sh configures
# and runs kbuild; this file records what kbuild did, plans from it
# (build/host/kbuild-plan) and, when that is exact, does the same work
# itself.  An edit here, as one to kernel.sh, makes the next build a full
# one (kernel.sh's build_stale).

# A finished kbuild run leaves, for every target, its command and every file
# the command read (.NAME.cmd).  When the files changed since the last good
# build are read only by plain compiles of objects linked straight into
# vmlinux (build/host/kbuild-plan decides, see there), the quick path runs
# those recorded commands and then kbuild's own link makefiles, in kbuild's
# environment as recorded after the last full run.  That is what kbuild
# would have done, minus its ~9 s walk of 300 directories; a test
# (tests/host/test_quick_build.sh) checks that kbuild finds nothing left to
# do afterwards.  Anything else, or SANDBOX_QUICK=0, runs kbuild.
readonly KENV="$KDIR/.sandbox-kbuild-env" CALLER_ENV="$KDIR/.sandbox-caller-env"

# The compiler and linker, as kbuild's configuration saw them: an upgrade,
# or another SANDBOX_LD, means kbuild.
compiler_id() {
	local cc ccache ld
	on_path gcc && cc="$REPLY" && on_path "$KLD" && ld="$REPLY" || return
	on_path ccache && ccache="$REPLY" || ccache="$cc"
	stat -L -c '%n %s %Y' "$cc" "$ccache" "$ld"
}

# same_compiler: the compiler and linker are those of kbuild's last run.
same_compiler() {
	local -a was
	[[ -r "$KENV.cc" ]] || return 1
	mapfile -t was <"$KENV.cc"
	local IFS=$'\n'
	[[ "$(compiler_id)" == "${was[*]}" ]]
}

# Record the environment kbuild gives its sub-makes, and ours beside it:
# the quick path applies the difference.  One parse of the top Makefile.
record_kbuild_env() {
	local -a kargs
	kbuild_setup
	rm -f "$KENV"
	# The files kbuild reads without recording them: if one of them goes,
	# kbuild must run (kbuild-plan checks).
	find "$SRC" \( -path "$SRC/Documentation" -o -path "$SRC/tools" -o -name .git \) -prune -o -type f \
		\( -name 'Makefile*' -o -name 'Kbuild*' -o -name 'Kconfig*' -o -path "$SRC/scripts/*" \) \
		-print >"$KDIR/.sandbox-build-files"
	env -0 >"$CALLER_ENV"
	compiler_id >"$KENV.cc"
	# make's warning that kbuild's rule for the goal overrides ours (6.2
	# and later, see kbuild-env.mk) goes to the log with the rest.
	MAKEFLAGS='' MAKEFILES="$TOP/scripts/build/kbuild-env.mk" make -s -C "$KDIR" \
		"${kargs[@]}" _SANDBOX_ENV_OUT="$KENV.next" sandbox-env 2>"$KDIR/.sandbox-kbuild-env.log" &&
		mv -f "$KENV.next" "$KENV"
}

# quick_plan FILE: true when a quick rebuild is exact; the plan (see
# scripts/build/kbuild-plan.c) in FILE.  Otherwise the reason in $quick_why.
# build_stale has listed the changes in $CHANGED.
quick_plan() {
	local -r plan="$1" plan_bin="$BUILD/host/kbuild-plan"
	local rc=0
	quick_why=
	if [[ "${SANDBOX_QUICK:-1}" != 1 ]]; then
		quick_why="SANDBOX_QUICK=${SANDBOX_QUICK}"
	elif [[ ! -x "$plan_bin" || ! -s "$CHANGED" ]]; then
		quick_why="no list of the changes (a new .config, this script changed, or no build/host/stale)"
	elif [[ ! -s "$KENV" ]] && ! record_kbuild_env; then
		# A kernel built before the quick path existed: its makefiles
		# are those of the last build unless one changed, which the
		# plan catches.
		quick_why="cannot record kbuild's environment"
	elif ! same_compiler; then
		quick_why="the compiler changed"
	fi
	[[ -z "$quick_why" ]] || return 1
	env SRC="$SRC" "$plan_bin" "$KDIR" <"$CHANGED" >"$plan" || rc=$?
	case "$rc" in
	0) return 0 ;;
	3) quick_why="$(sed 's/^full: //' "$plan")" ;;
	*) quick_why="kbuild-plan failed ($rc)" ;;
	esac
	return 1
}

# in_kbuild_env COMMAND...: run COMMAND in KDIR with kbuild's exports.
in_kbuild_env() {
	env -C "$KDIR" "${kenv_unset[@]}" "${kenv[@]}" "$@"
}

load_kbuild_env() {
	local kv name
	local -A caller=() seen=()
	kenv=() kenv_unset=()
	while IFS= read -r -d '' kv; do
		caller["${kv%%=*}"]="${kv#*=}"
	done <"$CALLER_ENV"
	while IFS= read -r -d '' kv; do
		name="${kv%%=*}"
		seen["$name"]=1
		case "$name" in
		MAKELEVEL | MAKEOVERRIDES | MFLAGS) continue ;;
		esac
		if [[ ! -v "caller[$name]" || "${caller[$name]}" != "${kv#*=}" ]]; then
			kenv+=("$kv")
		fi
	done <"$KENV"
	for name in "${!caller[@]}"; do
		[[ -v "seen[$name]" ]] || kenv_unset+=(-u "$name")
	done
	# kbuild's echo of each step: as make -s (recorded), or shown.
	if [[ "${KBUILD_VERBOSE:-0}" == 1 ]]; then
		kenv+=(quiet= Q= KBUILD_VERBOSE=1)
	elif [[ -n "${SANDBOX_BUILD_LOG:-}" ]]; then
		kenv+=(quiet=quiet_)
	fi
}

# dot_name VAR NAME: kbuild's hidden name beside target NAME (mm/mremap.o:
# mm/.mremap.o), the stem of its .cmd and .d files, into VAR.
dot_name() {
	case "$2" in
	*/*) printf -v "$1" '%s/.%s' "${2%/*}" "${2##*/}" ;;
	*) printf -v "$1" '.%s' "$2" ;;
	esac
}

# compile_object NAME RAW SHELL: kbuild's rule for a C or assembler object
# (cmd_and_fixdep; check-local-export follows in quick_build): the
# recorded command, the dependency record rewritten by fixdep.  A failed
# compile leaves no object.
compile_object() {
	local -r name="$1" raw="$2" shell="$3"
	local dot dep
	dot_name dot "$name"
	dep="${dot}.d"
	if [[ "${KBUILD_VERBOSE:-0}" == 1 ]]; then
		printf '%s\n' "$shell"
	elif [[ -n "${SANDBOX_BUILD_LOG:-}" ]]; then
		printf '  CC      %s\n' "$name"
	fi
	if ! in_kbuild_env sh -c "set -e; $shell" ||
		! in_kbuild_env scripts/basic/fixdep "$dep" "$name" "$raw" >"$KDIR/$dot.cmd.tmp"; then
		rm -f "$KDIR/$name" "$KDIR/$dot.cmd.tmp"
		return 1
	fi
	mv -f "$KDIR/$dot.cmd.tmp" "$KDIR/$dot.cmd"
	rm -f "$KDIR/$dep"
}

# check_exports NAME...: the last step of 6.1's rule for each object,
# check-local-export (an nm of the object, 0.1 s), beside the link.  As
# kbuild's .DELETE_ON_ERROR, a failure removes the object and its record:
# the next build compiles it again.  From 6.3 on modpost does that check,
# and the tree (6.12: KERNEL=upstream) has no script.
check_exports() {
	local name dot rc=0
	[[ -x "$SRC/scripts/check-local-export" ]] || return 0
	for name in "$@"; do
		in_kbuild_env "$SRC/scripts/check-local-export" "$name" && continue
		rc=1
		dot_name dot "$name"
		rm -f "$KDIR/$name" "$KDIR/$dot.cmd"
	done
	return "$rc"
}

# version_stamp: fix the build's number and date for this relink, as
# init/build-version and init/Makefile would set them (unless the caller
# set KBUILD_BUILD_VERSION or KBUILD_BUILD_TIMESTAMP itself), in kenv.
version_stamp() {
	local ver
	if [[ -z "${KBUILD_BUILD_VERSION:-}" ]]; then
		read_line "$KDIR/.version"
		ver="$REPLY"
		[[ "$ver" =~ ^[0-9]+$ ]] && ver=$((ver + 1)) || ver=1
		echo "$ver" >"$KDIR/.version"
		kenv+=("KBUILD_BUILD_VERSION=$ver")
	fi
	if [[ -z "${KBUILD_BUILD_TIMESTAMP:-}" ]]; then
		# date(1)'s default format in the C locale, as init/Makefile
		# runs it (LC_ALL=C date), without starting it.
		local LC_ALL=C stamp
		printf -v stamp '%(%a %b %e %H:%M:%S %Z %Y)T' -1
		kenv+=("KBUILD_BUILD_TIMESTAMP=$stamp")
	fi
}

# quick_compile PLAN: compile the planned objects, JOBS at a time, and
# init/version-timestamp.o beside them; their names in the caller's names.
# A failed compile (the source's error, as kbuild would stop on) is false.
quick_compile() {
	local -r plan="$1"
	local name raw shell failed=0 n=0
	trap 'rm -f -- "${names[@]/#/$KDIR/}"; exit 130' INT TERM
	# link-vmlinux.sh starts by compiling init/version-timestamp.o (the
	# build's number and date, uname -v), after every other object: a
	# second on the link's path.  Given now the number and date kbuild
	# would give it (the next .version, the date), it compiles beside
	# the objects, and link-vmlinux.sh finds it up to date.
	if [[ -s "$plan" ]]; then
		version_stamp
		in_kbuild_env make -f "$SRC/scripts/Makefile.build" obj=init init/version-timestamp.o &
		n=1
	fi
	while IFS= read -r -d '' name && IFS= read -r -d '' raw && IFS= read -r -d '' shell; do
		names+=("$name")
		if [[ $n -ge $JOBS ]]; then
			wait -n || failed=1
		else
			n=$((n + 1))
		fi
		compile_object "$name" "$raw" "$shell" &
	done <"$plan"
	while [[ $n -gt 0 ]]; do
		wait -n || failed=1
		n=$((n - 1))
	done
	trap - INT TERM
	[[ $failed -eq 0 ]]
}

# quick_relink NAME...: relink after the objects NAME... were compiled, as
# kbuild does: archives (thin and index-less: their content is the member
# list, unchanged, so a new mtime is all kbuild would give them),
# vmlinux.o and modpost beside vmlinux, and UML's linux.  1: an object
# failed its export check (the source's error); 2: the link failed.
quick_relink() {
	local name d
	for name in "$@"; do
		d="$name"
		while [[ "$d" == */* ]]; do
			d="${d%/*}"
			[[ ! -f "$KDIR/$d/built-in.a" ]] || touch "$KDIR/$d/built-in.a"
		done
	done
	touch "$KDIR/built-in.a" "$KDIR/vmlinux.a"
	# vmlinux.o exists for modpost's checks only: vmlinux is linked from
	# vmlinux.a.  kbuild runs them one after the other; here the two run
	# at once (each is one linker on one core), and vmlinux is relinked as
	# if vmlinux.o were already new (-W, which make does not pass down).
	# Both must succeed; vmlinux must end no older than vmlinux.o, as
	# kbuild would leave them.
	local modpost_pid link_rc=0 modpost_rc=0 check_pid check_rc=0
	check_exports "$@" &
	check_pid=$!
	{
		in_kbuild_env make -f "$SRC/scripts/Makefile.vmlinux_o" &&
			in_kbuild_env make -f "$SRC/scripts/Makefile.modpost"
	} &
	modpost_pid=$!
	# The kallsyms steps start from the last link's table (6.1's
	# patches/sandbox/0009; another tree ignores the variable).
	local reuse=
	[[ "${SANDBOX_KALLSYMS_REUSE:-1}" == 0 ]] || reuse=1
	# init/version-timestamp.o is built (above): link-vmlinux.sh's make of
	# it would only find that out (patches/sandbox/0010).
	in_kbuild_env env KALLSYMS_REUSE="$reuse" VERSION_TIMESTAMP_BUILT=1 \
		make -j"$JOBS" -W vmlinux.o -f "$SRC/scripts/Makefile.vmlinux" || link_rc=$?
	wait "$modpost_pid" || modpost_rc=$?
	wait "$check_pid" || check_rc=$?
	# An object that fails its check is the source's error, as a compile's.
	[[ $check_rc -eq 0 ]] || return 1
	[[ $link_rc -eq 0 && $modpost_rc -eq 0 ]] || return 2
	[[ ! "$KDIR/vmlinux.o" -nt "$KDIR/vmlinux" ]] || touch "$KDIR/vmlinux"
	in_kbuild_env ln -f vmlinux linux || return 2
	[[ -z "${SANDBOX_BUILD_LOG:-}" ]] || echo '  LINK linux'
}

# quick_build PLAN: the planned objects compiled, then the relink, in
# kbuild's environment.  1: a compile failed; 2: the link failed.
quick_build() {
	local -a kenv kenv_unset names=()
	load_kbuild_env
	quick_compile "$1" || return 1
	# Nothing compiled (only files no target reads changed): kbuild would
	# not relink either.
	[[ ${#names[@]} -gt 0 ]] || return 0
	quick_relink "${names[@]}"
}

# quick_rebuild PLAN NEXT: the kernel rebuilt the quick way (PLAN, from
# quick_plan); NEXT is the stamp to be.  True when it is built; false
# when the relink failed and kbuild must decide.  A compile error is the
# source's: kbuild would stop there too (build_failed exits).
quick_rebuild() {
	local -r plan="$1" next="$2"
	local -a entries
	local rc=0
	mapfile -d '' -t entries <"$plan"
	echo "  BUILD   ${KDIR#"$TOP"/}/linux from ${SRC#"$TOP"/}" \
		"(quick: $((${#entries[@]} / 3)) object(s) and the link)"
	if [[ -n "${SANDBOX_BUILD_LOG:-}" ]]; then
		stamp_lines quick_build "$plan" || rc=$?
	else
		quick_build "$plan" || rc=$?
	fi
	case "$rc" in
	0) return 0 ;;
	1) build_failed "$next" ;;
	esac
	# The link failed: kbuild's own run decides, and says why.
	echo "  BUILD   the quick relink failed (above): running kbuild"
	return 1
}
