# SPDX-License-Identifier: GPL-2.0
# libFuzzer harnesses of the host parsers: make fuzz-host, and their corpora in make check.
# Included by the top-level Makefile, after HOST_CFLAGS and HOST_TOOLS.

# Every host tool includes the shared header (xrealloc, xstrdup, the JSON
# and XML escapers): a change there rebuilds them all.
$(HOST_TOOLS): $(TOP)/scripts/include/host-util.h

# SANDBOX_SANITIZE=1: every host C tool built with ASan and UBSan, any
# report fatal.  The flags are kept in a file rewritten (by make itself)
# only when they change, and every tool depends on it: switching the
# setting rebuilds them, and only then.  Leaks are not reported: the
# tools run once and exit, and free nothing on the way out.  A finding
# exits 86, which no tool uses: no test can mistake it for a verdict.
ifeq ($(SANDBOX_SANITIZE),1)
  HOST_CFLAGS += -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
  export ASAN_OPTIONS := detect_leaks=0:exitcode=86:abort_on_error=0
  export UBSAN_OPTIONS := print_stacktrace=1:exitcode=86
endif
export SANDBOX_SANITIZE
HOST_CFLAGS_FILE := $(BUILD)/host/.cflags
ifneq ($(wildcard $(BUILD)),)
  ifneq ($(file <$(HOST_CFLAGS_FILE)),$(or $(HOSTCC),cc) $(HOST_CFLAGS))
    $(shell mkdir -p $(BUILD)/host)
    $(file >$(HOST_CFLAGS_FILE),$(or $(HOSTCC),cc) $(HOST_CFLAGS))
  endif
endif
$(HOST_TOOLS) $(HOST_TOOLS_ON_DEMAND): $(HOST_CFLAGS_FILE)
# make all's stamp (build/host/stale) watches the file too: another
# setting makes the next make all rebuild the tools.
UPTODATE_WATCH += $(HOST_CFLAGS_FILE)
$(HOST_CFLAGS_FILE):
	@mkdir -p $(@D)
	$(file >$@,$(or $(HOSTCC),cc) $(HOST_CFLAGS))

# How make builds host tool NAME, for run-uml.sh (its host_tool, when it
# builds one itself under --no-build): one set of flags for every tool.
PHONY += host-tool-cmd
host-tool-cmd:
	@echo '$(or $(HOSTCC),cc) $(HOST_CFLAGS) $(HOSTSRCS_$(NAME)) $(HOSTLDLIBS_$(NAME))'

# The harnesses (tests/fuzz/fuzz-host.sh): FUZZ_TIME seconds each.
FUZZ_HOST := $(TOP)/tests/fuzz/fuzz-host.sh
PHONY += fuzz-host check-fuzz-host
fuzz-host:
	$(Q)$(FUZZ_HOST) run -t $(or $(FUZZ_TIME),30) $(FUZZ)

# Every harness over its seeds and crash regressions: seconds, in make check.
check-fuzz-host:
	$(Q)$(FUZZ_HOST) check $(FUZZ)

HOST_TESTS_EXTRA += $(TOP)/tests/host/test_fuzz_host.sh
# A kernel splat (or host exhaustion) during a passing --test fails the
# run with its class: seven guests, ~30 s.
HOST_TESTS_EXTRA += $(TOP)/tests/host/test_hostile_splats.sh
