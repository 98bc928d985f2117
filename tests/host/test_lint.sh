#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make lint catches each kind of problem it is for, each put in on purpose.
#
# Usage: tests/host/test_lint.sh [PATTERN]   (runs the test_* functions matching it)
#
# The clean tree passing is make lint itself (in make check); here every
# check of scripts/dev/lint.sh is shown to fail on a deliberate problem, and to
# name it.  The kernel cases compile a changed copy of mm/mremap.c with the
# patched kernel's recorded command: linux/ is not touched.  Prints KTAP.
set -euo pipefail

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
readonly TOP
readonly LINT="$TOP/scripts/dev/lint.sh"
# shellcheck source=tests/host/lib.sh
source "$TOP/tests/host/lib.sh"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/sandbox-lint-test.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# lint_fails WHAT PATTERN ARGS...: scripts/dev/lint.sh ARGS fails and its
# output has PATTERN.
lint_fails() {
	local -r what="$1" pattern="$2"
	shift 2
	local rc=0
	"$@" >"$scratch/out" 2>&1 || rc=$?
	[[ $rc -ne 0 ]] || { sed 's/^/# /' "$scratch/out"; fail "$what: lint passed"; return; }
	expect_grep "$pattern" "$scratch/out" "$what"
}

# mremap_with LINE: a copy of linux/mm/mremap.c (at .../mm/mremap.c, as
# warnings name it) with LINE added as the first statement of
# move_page_tables(), the function the series changes most.
mremap_with() {
	mkdir -p "$scratch/k/mm"
	awk -v add="$1" '
		{ print }
		/^unsigned long move_page_tables\(/ { f = 1 }
		f && /^{$/ { print add; f = 0 }' "$TOP/linux/mm/mremap.c" >"$scratch/k/mm/mremap.c"
	grep -qF -- "$1" "$scratch/k/mm/mremap.c" || fail "could not place the line in mm/mremap.c"
}

kernels_built() {
	[[ -f "$TOP/build/kernel/patched/mm/.mremap.o.cmd" && -f "$TOP/build/kernel/base/mm/.mremap.o.cmd" ]] ||
		skip "the kernels are not built (make all; make all KERNEL=base)"
}

# An unused variable in mm/mremap.c: a warning the series would add.
test_w1_unused_variable() {
	kernels_built || return
	mremap_with $'\tint lint_unused;' || return
	LINT_SRC_mm_mremap_c="$scratch/k/mm/mremap.c" lint_fails "unused variable" \
		"added: mm/mremap.c: warning: unused variable 'lint_unused'" "$LINT" series
}

# A kernel pointer from a __user one: sparse's address-space check.
test_sparse_address_space() {
	kernels_built || return
	mremap_with $'\tchar *lint_k = (void __user *)old_addr; (void)lint_k;' || return
	LINT_SRC_mm_mremap_c="$scratch/k/mm/mremap.c" lint_fails "address-space mismatch" \
		'added: mm/mremap.c: (warning|error): .*different address spaces' "$LINT" series
}

# An unquoted expansion in a script.
test_shell_unquoted_expansion() {
	printf '#!/bin/bash\n# SPDX-License-Identifier: GPL-2.0\nrm -rf $1/x\n' >"$scratch/bad.sh"
	lint_fails "unquoted expansion" 'SC2086' "$LINT" --files shell "$scratch/bad.sh" || return
	printf '#!/bin/bash\n# SPDX-License-Identifier: GPL-2.0\nrm -rf "$1/x"\n' >"$scratch/good.sh"
	"$LINT" --files shell "$scratch/good.sh" >"$scratch/out" 2>&1 || fail "the quoted script fails too"
}

# An unused import in the GDB Python.
test_python_unused_import() {
	printf 'import os\n\n\ndef f():\n    return 1\n' >"$scratch/bad.py"
	lint_fails "unused import" "'os' imported but unused" "$LINT" --files python "$scratch/bad.py"
}

# A warning in a host tool or a guest test is an error.
test_c_warning_is_an_error() {
	printf 'int main(void)\n{\n\tint unused;\n\treturn 0;\n}\n' >"$scratch/bad.c"
	lint_fails "unused variable in C" "unused variable 'unused'" "$LINT" --files c "$scratch/bad.c"
}

# A checkpatch finding in a patch of patches/ fails, unless justified in
# patches/checkpatch-justified.
test_checkpatch_finding() {
	mkdir -p "$scratch/patches"
	local -r p="$scratch/patches/0001-mm-mremap-realign-mutually-aligned-moves-to-the-PMD-.patch"
	cp "$TOP/patches/0001-"*.patch "$p"
	# Trailing whitespace on the first added line of the diff.
	awk '!done && /^\+[^+]/ { print $0 " "; done = 1; next } { print }' "$TOP/patches/0001-"*.patch >"$p"
	PATCHES="$scratch/patches" lint_fails "trailing whitespace" 'ERROR: trailing whitespace' \
		"$LINT" checkpatch
}

ktap_run_all lint "${1:-}"
