# SPDX-License-Identifier: GPL-2.0
# Not a kbuild makefile: scripts/kernel.sh loads it after a build
# directory's Makefile (make -C KDIR -f Makefile -f THIS sandbox-env) to
# record the environment kbuild gives its sub-makes, NUL-separated, in
# $(SANDBOX_ENV_OUT).  The quick path runs kbuild's link makefiles in it.
PHONY += sandbox-env
sandbox-env:
	$(Q)env -0 >$(SANDBOX_ENV_OUT)
