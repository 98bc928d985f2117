# SPDX-License-Identifier: GPL-2.0
# Shared helpers of the host scripts (sourced, not run); they set SELF.

# die CODE MESSAGE [HINT...]: the error on stderr, each hint indented below
# it (what to do about it), then exit with CODE.
die() {
	local -r code="$1"
	shift
	printf '%s: error: %s\n' "$SELF" "$1" >&2
	shift
	local line
	for line in "$@"; do
		printf '  %s\n' "$line" >&2
	done
	exit "$code"
}

# usage_error MESSAGE: a bad command line; exits with the caller's E_USAGE.
usage_error() {
	printf '%s: error: %s\n' "$SELF" "$1" >&2
	printf "Try '%s --help' for the options.\n" "$SELF" >&2
	exit "$E_USAGE"
}

# need_value OPTION ARGC: an option that takes a value must have one.
need_value() {
	[[ $2 -ge 2 ]] || usage_error "option $1 needs a value"
}

# resolve_kernel: build what is missing (unless build=0), then set
# kernel_bin for $kernel (patched, base or a path) and check the guest root.
resolve_kernel() {
	case "$kernel" in
	patched | base)
		if [[ $build -eq 1 ]]; then
			make -s -C "$TOP" all KERNEL="$kernel" BUILD="$BUILD" ||
				die "$E_BUILD" "building the $kernel kernel failed (see above)"
		fi
		kernel_bin="$BUILD/kernel/$kernel/linux"
		;;
	*/*)
		kernel_bin="$kernel"
		if [[ $build -eq 1 ]]; then
			make -s -C "$TOP" rootfs BUILD="$BUILD" ||
				die "$E_BUILD" "staging the guest root failed (see above)"
		fi
		;;
	*) usage_error "--kernel takes patched, base or a path, not '$kernel'" ;;
	esac
	[[ -x "$kernel_bin" ]] ||
		die "$E_BUILD" "no kernel at ${kernel_bin#"$TOP"/}" \
			"build it with: make kernel KERNEL=$kernel (or drop --no-build)"
	[[ -x "$ROOTFS/init" ]] ||
		die "$E_BUILD" "no guest root at ${ROOTFS#"$TOP"/}" "build it with: make rootfs"
}
