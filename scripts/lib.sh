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
