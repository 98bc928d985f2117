#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the kernel's exec/execveat selftest in a tmpfs directory with the files it expects.
#
# Usage: exec/execveat.sh  (installed next to exec/execveat; exits with its status)
#
# execveat works on files of its current directory: copies of itself that it
# unlinks while holding them open, and a path of PATH_MAX characters below
# it.  hostfs (the guest's root) can neither exec an unlinked file nor hold
# such a path, so the test runs in /tmp (tmpfs) instead.  The script cases
# exec "/dev/fd/N/script" through the interpreter, which needs /dev/fd.
#
# One check cannot pass with Busybox: for a script whose /dev/fd/N/... name
# exceeds PATH_MAX, the kernel starts the interpreter, which cannot open the
# name; the test wants exit 127 or 126 (POSIX sh), Busybox's sh exits 2.
# When that is the only failure and the interpreter did fail with "File name
# too long", the kernel did its part: the run passes, with a note.

exe="$(cd "$(dirname "$0")" && pwd)/execveat"
dir=$(mktemp -d /tmp/execveat.XXXXXX) || exit 1
log="$dir.log"

[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd || exit 1

cp "$exe" "$dir/execveat" &&
	ln -s execveat "$dir/execveat.symlink" &&
	cp "$exe" "$dir/execveat.denatured" &&
	chmod -x "$dir/execveat.denatured" &&
	printf '#!/bin/sh\nexit $*\n' >"$dir/script" &&
	chmod +x "$dir/script" &&
	mkdir "$dir/subdir" &&
	# Only ever opened as a regular file without execute permission.
	echo '# not executable' >"$dir/Makefile" || exit 1

# The status of execveat (its number of failed checks), not of tee.
{
	(cd "$dir" && ./execveat)
	echo $? >"$dir.status"
} 2>&1 | tee "$log"
status=$(cat "$dir.status")

fails=$(grep -c '\[FAIL\]' "$log")
busybox=$(grep -c "yyyy', 0)\.\.\. \[FAIL\] (child [0-9]* exited with 2 not 127 nor 126)$" "$log")
toolong=$(grep -c "^/bin/sh: can't open '/dev/fd/[0-9]*/.*': File name too long$" "$log")
if [ "$status" = 1 ] && [ "$fails" = 1 ] && [ "$busybox" = 1 ] && [ "$toolong" = 1 ]; then
	echo "# the one failed check is Busybox's sh exiting 2 (not 127) on a script name beyond PATH_MAX"
	status=0
fi
rm -rf "$dir" "$log" "$dir.status"
exit "$status"
