# SPDX-License-Identifier: GPL-2.0
# Not a kbuild makefile: scripts/build/kernel.sh has make read it, through
# MAKEFILES, beside a build directory's Makefile (MAKEFILES=THIS make -C
# KDIR sandbox-env) to record the environment kbuild gives its sub-makes,
# NUL-separated, in $(_SANDBOX_ENV_OUT).  The quick path runs kbuild's link
# makefiles in it.  MAKEFILES, not -f: from 6.2 on, the top Makefile hands
# every goal to a second make in the output directory, which reads only
# what MAKEFILES names besides its own; the first make's rule for the goal
# is kbuild's, and the one here gives way to it (make warns).
PHONY += sandbox-env
sandbox-env:
	$(Q)env -0 -u MAKEFILES >$(_SANDBOX_ENV_OUT)
