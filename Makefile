# SPDX-License-Identifier: GPL-2.0
# The mremap sandbox: source -> patches -> config -> build -> rootfs -> boot -> tests.
#
# Run 'make help' for the targets.

# No built-in rules or variables: nothing here is C compiled by make's
# defaults, and they slow every invocation down.
MAKEFLAGS += -rR --no-print-directory
.SUFFIXES:
# A recipe that fails half-way must not leave a target that looks done.
.DELETE_ON_ERROR:

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

# Honour V and O only from the command line (or the environment for V, as
# kbuild does), never from a stray make variable of the same name.
ifeq ("$(origin V)", "command line")
  KBUILD_VERBOSE := $(V)
endif
ifeq ($(KBUILD_VERBOSE),1)
  Q :=
else
  Q := @
endif
export KBUILD_VERBOSE

ifeq ("$(origin O)", "command line")
  $(shell mkdir -p "$(O)")
  BUILD := $(realpath $(O))
  $(if $(BUILD),,$(error O=$(O): cannot create the output directory))
else
  BUILD := $(TOP)/build
endif
export BUILD

# --- source ------------------------------------------------------------------
# The one place the base is pinned: Debian's linux-source-6.1 at this version.
LINUX_DEB_VERSION := 6.1.192-2
export LINUX_DEB_VERSION
LINUX := $(TOP)/linux
DL := $(BUILD)/dl
export LINUX DL

# The upstream kernel, the oracle: Debian's linux-source-6.12, which has
# upstream's version of the series, with only the sandbox's own patches
# (patches/upstream/), imported by the same script into its own tree.
UPSTREAM_DEB_VERSION := 6.12.117-1~deb12u1
UPSTREAM_PKG := linux-source-6.12
UPSTREAM_SRC := $(BUILD)/src/upstream

# KERNEL selects the kernel: 'patched' (linux/, everything in patches/),
# 'base' (linux/ without the series, the sandbox's own patches kept) or
# 'upstream' (linux-source-6.12 and patches/upstream/).
KERNEL ?= patched
ifeq ($(filter patched base upstream,$(KERNEL)),)
  $(error KERNEL=$(KERNEL) is not a kernel of this sandbox: use KERNEL=patched, base or upstream)
endif

ifneq ($(LINUX_SRC),)
  ifneq ($(filter base upstream,$(KERNEL)),)
    $(error KERNEL=$(KERNEL) is a tree of the sandbox's own; it cannot be combined with LINUX_SRC)
  endif
  SRC := $(abspath $(LINUX_SRC))
else ifeq ($(KERNEL),base)
  SRC := $(BUILD)/src/base
else ifeq ($(KERNEL),upstream)
  SRC := $(UPSTREAM_SRC)
else
  SRC := $(LINUX)
endif
KDIR := $(BUILD)/kernel/$(KERNEL)
export SRC KDIR

# --- guest -------------------------------------------------------------------
ROOTFS := $(BUILD)/rootfs
TESTS_OUT := $(BUILD)/tests

PHONY :=

# make all runs before every boot (run-uml.sh), so its "nothing to do" must
# cost next to nothing: kbuild's own takes ~9 s here.  A stamp lists what
# the build reads (watch) and makes (need); build/host/stale checks it (see
# scripts/build/stale.c) and only a change, or a missing product, starts the real
# build.  The stamp is written before the build, so an edit made during it
# is newer and triggers the next one.  An inotify watcher, left by the
# build or by a check that walked, answers in ~1 ms instead of a ~0.2 s
# walk of linux/; it ends after 30 minutes without a question or when the
# stamp goes or changes (make clean, the next build).
UPTODATE := $(BUILD)/.uptodate-$(KERNEL)
# Only what the build reads: scripts/dev and scripts/gdb (bench, lint,
# GDB), tests/host and tests/mutants are not, and an edit there must not
# make the next boot rebuild.
UPTODATE_WATCH := $(TOP)/Makefile $(TOP)/config $(TOP)/patches $(TOP)/scripts/lib.sh \
	$(TOP)/scripts/packages.list $(TOP)/scripts/source $(TOP)/scripts/build \
	$(TOP)/scripts/run $(TOP)/scripts/report $(TOP)/tests/Makefile $(TOP)/tests/guest \
	$(TOP)/rootfs $(LINUX)
ifeq ($(KERNEL),base)
  # The base worktree follows the series-base tag, moved by re-applying.
  UPTODATE_WATCH += $(SRC) $(LINUX)/.git/sandbox $(LINUX)/.git/refs/tags \
	$(wildcard $(LINUX)/.git/packed-refs)
endif
ifeq ($(KERNEL),upstream)
  UPTODATE_WATCH += $(SRC)
endif
# The linker (SANDBOX_LD, scripts/build/kernel.sh; ld.lld by default) is no file
# the build reads: make keeps the choice in one, rewritten by make itself
# (no program started) only when it changes, so another SANDBOX_LD makes
# the stamp stale.  Before the first build there is no build directory,
# and no stamp either.
UPTODATE_LD := $(BUILD)/.ld-$(KERNEL)
ifneq ($(wildcard $(BUILD)),)
  ifneq ($(file <$(UPTODATE_LD)),$(or $(SANDBOX_LD),ld.lld))
    $(file >$(UPTODATE_LD),$(or $(SANDBOX_LD),ld.lld))
  endif
endif
UPTODATE_WATCH += $(UPTODATE_LD)
UPTODATE_NEED = $(KDIR)/linux $(ROOTFS)/init $(ROOTFS)/bin/busybox $(HOST_TOOLS)
# Another tree or extra Kconfig fragments: no stamp, always the real build.
UPTODATE_OFF := $(LINUX_SRC)$(FRAGMENTS)

PHONY += all
all:
ifneq ($(_SANDBOX_LIST_TESTS),)
	@:
else ifeq ($(UPTODATE_OFF),)
	$(Q)$(BUILD)/host/stale $(if $(filter 1,$(KBUILD_VERBOSE)),-v) $(STALE_WALK) $(UPTODATE) 2>/dev/null; \
	[ $$? -eq 1 ] || { $(PREFLIGHT_DUE) mkdir -p $(BUILD) && $(BUILD_LOCKED) $(MAKE) build-all; }
else
	$(Q)$(PREFLIGHT) build && mkdir -p $(BUILD) && $(BUILD_LOCKED) $(MAKE) build-all
endif

# Every tool and header the build needs is checked before anything is
# downloaded (scripts/packages.list is the one list): only when a build is
# due, so an up-to-date make pays nothing for it, and not for a rebuild
# (everything make all builds is there: the tools were at its build),
# 50 ms of the edit-to-verdict loop.
PREFLIGHT := $(TOP)/scripts/build/preflight.sh
PREFLIGHT_MISSING = $(filter-out $(wildcard $(UPTODATE_NEED)),$(UPTODATE_NEED))
PREFLIGHT_DUE = $(if $(PREFLIGHT_MISSING),$(PREFLIGHT) build &&)

PHONY += preflight
preflight:
	$(Q)$(PREFLIGHT) build

# SANDBOX_WATCH=0: no inotify watcher (scripts/build/stale.c); every check walks.
export SANDBOX_WATCH
STALE_WALK := $(if $(filter 0,$(SANDBOX_WATCH)),-w)

# Two makes at once on one build directory (two terminals, run-uml.sh in
# parallel) take turns for the build: the second waits, says so, and then
# finds it done.
BUILD_LOCKED := $(TOP)/scripts/build/with-lock.sh $(BUILD)

# Not for direct use: the real build behind all, always run.  The kernel
# and the guest (Busybox, the tests, the staged root) need only the source
# and each other not at all: they build side by side, the guest on the core
# the kernel's link leaves free, and a cold build fetches and compiles the
# guest during the kernel's compile.  Both run to their end; either one's
# failure fails the build.  The last stamp stays until the new one
# replaces it: it is older than the change that started this build, so it
# still says stale, and its watcher lists the kernel's changes
# (_SANDBOX_STALE_ASK, scripts/build/kernel.sh).
PHONY += build-all
build-all:
	$(Q)mkdir -p $(BUILD) && { printf 'watch %s\n' $(UPTODATE_WATCH); \
		printf 'need %s\n' $(UPTODATE_NEED); } >$(UPTODATE).next
	$(Q)$(MAKE) host-tools source
	$(Q)export _SANDBOX_SOURCE_DONE=1; $(call beside,kernel,rootfs)
	$(Q)$(if $(UPTODATE_OFF),rm -f $(UPTODATE).next,mv -f $(UPTODATE).next $(UPTODATE))
	$(Q)$(if $(UPTODATE_OFF)$(STALE_WALK),,$(BUILD)/host/stale -d $(UPTODATE); true)

PHONY += help
help:
	@echo 'The mremap sandbox: a UML kernel with the mremap PMD-alignment series.'
	@echo
	@echo 'Quick start:'
	@echo '  ./run-uml.sh          - build what is missing, boot into a Busybox shell'
	@echo '  make check            - build what is missing, run every test'
	@echo
	@echo 'Set-up:'
	@echo '  preflight             - check the host for every package the build needs'
	@echo '                          (scripts/packages.list; make runs it before a build)'
	@echo
	@echo 'Source (linux/ is a git repository: tag base, tag series-base, the series):'
	@echo '  source                - import linux-source $(LINUX_DEB_VERSION) and apply patches/'
	@echo '  linux-status          - what linux/ holds compared to patches/'
	@echo '  export-patches        - write the commits of linux/ back to patches/'
	@echo '  reset-linux           - discard work in linux/ and re-apply patches/ (CONFIRM=1)'
	@echo
	@echo 'Build:'
	@echo '  all (default)         - kernel and rootfs'
	@echo '  kernel                - configure and build the UML kernel, only when stale'
	@echo '  rootfs                - stage the Busybox guest root (/init from rootfs/init.c)'
	@echo '                          with the tests'
	@echo '  tests                 - build the guest test programs'
	@echo
	@echo 'Run and test:'
	@echo '  run                   - boot the guest (same as ./run-uml.sh)'
	@echo '  gdb                   - boot the guest under GDB (CMD=... runs a command;'
	@echo '                          ATTACH=1 attaches to a running guest, ATTACH=id to one)'
	@echo '  check                 - host tests, the guest suite, and the A/B check'
	@echo '  check T=pattern       - the loop: rebuild what changed, run only the guest'
	@echo '                          tests matching pattern (e.g. T=mremap)'
	@echo '  check-ab              - the series/* tests must fail on KERNEL=base'
	@echo '  check-quick-build     - the quick rebuild of an edit against kbuild itself (base tree)'
	@echo '  check SHARD=name      - one shard of make check, alone (a CI job)'
	@echo '  check-shards          - the shards: name, the kernels each builds, its time'
	@echo '  check-host            - only the host tests of the tooling'
	@echo '  check-hard            - hardening: real crashes in the guest (lkdtm, hung task,'
	@echo '                          soft lockup, OOM kill) fail the run with their class'
	@echo '  check-guest           - only the guest suite (T=pattern selects tests)'
	@echo '  check-upstream        - the suite on KERNEL=upstream, page-table work vs ours'
	@echo '  compare               - the guest suite on base, patched and upstream, side by side'
	@echo '  check-series          - every prefix of the series builds, checkpatch clean'
	@echo '  lint                  - W=1 and sparse on the series (what it adds), checkpatch,'
	@echo '                          shellcheck, -Werror on our C, pyflakes (in make check)'
	@echo '  mutants               - broken variants of the series must fail the suite (M=name)'
	@echo '  mutate                - mutants generated from the series'"'"' diff, each one'"'"'s'
	@echo '                          killing test (FILE= LINE= FUNC= SHARD=k/N)'
	@echo '  stress                - randomized exec stack shifts, base must warn, patched not'
	@echo '  fuzz                  - the mremap fuzzer, long: SEED= N= OPS= (KERNEL=)'
	@echo '  fuzz-host             - the host parsers'"'"' libFuzzer harnesses (FUZZ_TIME=s)'
	@echo
	@echo 'Measure:'
	@echo '  coverage              - the suite on a GCOV kernel: the series'"'"' lines and branch'
	@echo '                          outcomes it reaches (build/coverage/; KERNEL=base too)'
	@echo '  bench                 - boot, check, edit-to-verdict and mremap timings, base'
	@echo '                          vs patched, medians of RUNS=n runs (COLD=1: cold build,'
	@echo '                          FRESH=1: a fresh clone to its first verdict)'
	@echo
	@echo 'Clean:'
	@echo '  clean                 - remove build output but keep downloads, linux/ and'
	@echo '                          build/src/upstream'
	@echo '  distclean             - also remove downloads (those two trees are never removed)'
	@echo
	@echo '  make V=1 [targets]    - verbose build'
	@echo '  make O=dir [targets]  - build output in dir (default build/)'
	@echo '  make KERNEL=base      - the kernel without the series (default: patched)'
	@echo '  make KERNEL=upstream  - Debian'"'"'s linux-source-6.12: upstream'"'"'s own series'
	@echo '  make LINUX_SRC=dir    - build your own kernel tree instead of linux/'

# --- source ------------------------------------------------------------------
# linux/ is checked on every build: the script alone knows whether
# re-applying would lose the user's work.  With the digest of patches/ it
# applied last, it has nothing to do (0.1 s to find out, on the path of
# every edit): a stamp (build/host/stale, as for make all) tells that in
# ~2 ms.  It watches what that answer rests on: patches/, the scripts and
# linux/'s record of what it applied (digest, head, keep), and names the pin.
PREPARED := $(BUILD)/.prepared-$(LINUX_DEB_VERSION)
PREPARED_WATCH := $(TOP)/patches $(TOP)/scripts/lib.sh $(TOP)/scripts/source $(LINUX)/.git/sandbox

PHONY += source
source:
	$(if $(PREFLIGHT_MISSING),$(Q)$(PREFLIGHT) build)
ifeq ($(KERNEL),upstream)
	$(Q)LINUX=$(UPSTREAM_SRC) PATCHES=$(TOP)/patches/upstream LINUX_PKG=$(UPSTREAM_PKG) \
		LINUX_DEB_VERSION='$(UPSTREAM_DEB_VERSION)' $(TOP)/scripts/source/linux-tree.sh prepare
else ifeq ($(LINUX_SRC),)
	$(Q)[ -x $(BUILD)/host/stale ] && { $(BUILD)/host/stale -w $(PREPARED) 2>/dev/null; \
		[ $$? -eq 1 ]; } || { rm -f $(PREPARED); mkdir -p $(BUILD) && \
		printf 'watch %s\n' $(PREPARED_WATCH) >$(PREPARED).next && \
		$(TOP)/scripts/source/linux-tree.sh prepare && mv -f $(PREPARED).next $(PREPARED); }
ifeq ($(KERNEL),base)
	$(Q)$(TOP)/scripts/build/kernel.sh worktree base series-base
endif
else
	$(Q)$(TOP)/scripts/source/linux-tree.sh check-src "$(SRC)"
endif

PHONY += linux-status export-patches reset-linux
linux-status:
	$(Q)$(TOP)/scripts/source/linux-tree.sh status
export-patches:
	$(Q)$(TOP)/scripts/source/linux-tree.sh export
reset-linux:
	$(Q)CONFIRM=$(CONFIRM) $(TOP)/scripts/source/linux-tree.sh reset

# --- config and build --------------------------------------------------------
# build-all has run source once for the two (_SANDBOX_SOURCE_DONE).
SOURCE_FIRST := $(if $(_SANDBOX_SOURCE_DONE),,source)

PHONY += kernel
kernel: $(SOURCE_FIRST)
	$(Q)$(if $(UPTODATE_OFF),rm -f $(UPTODATE))
	$(Q)$(if $(UPTODATE_OFF)$(STALE_WALK),,_SANDBOX_STALE_ASK=$(UPTODATE)) \
		$(TOP)/scripts/build/kernel.sh build

# --- guest -------------------------------------------------------------------
PHONY += tests
tests: $(SOURCE_FIRST)
	$(Q)$(MAKE) -C $(TOP)/tests OUTPUT=$(TESTS_OUT) KSRC=$(LINUX) USRC=$(UPSTREAM_SRC) all

PHONY += rootfs
rootfs: tests
	$(Q)$(TOP)/scripts/build/stage-rootfs.sh "$(ROOTFS)" "$(TESTS_OUT)"

# --- host tools ----------------------------------------------------------------
HOST_TOOLS := $(BUILD)/host/ktap-report $(BUILD)/host/stale $(BUILD)/host/splat-class \
	$(BUILD)/host/kbuild-plan $(BUILD)/host/uml-launch

# Built when a target or a test needs them, by the same rule.
HOST_TOOLS_ON_DEMAND := $(BUILD)/host/coverage-report $(BUILD)/host/mutate $(BUILD)/host/bench-stats

PHONY += host-tools
host-tools: $(HOST_TOOLS)

HOST_CFLAGS := -O2 -Wall -Wextra

# The one rule of every host tool, with one set of flags: its source
# sits in the folder of its stage; a tool of several files names the
# others in HOSTSRCS_tool, its libraries in HOSTLDLIBS_tool.
vpath %.c $(TOP)/scripts/build $(TOP)/scripts/run $(TOP)/scripts/report $(TOP)/scripts/dev
$(BUILD)/host/%: %.c $(TOP)/scripts/include/host-util.h
	@mkdir -p $(@D)
	@echo "  HOSTCC  $(@F)"
	$(Q)$(or $(HOSTCC),cc) $(HOST_CFLAGS) -o $@ $< $(HOSTSRCS_$(@F)) $(HOSTLDLIBS_$(@F))

HOSTSRCS_stale := $(wildcard $(TOP)/scripts/build/stale-*.c)
$(BUILD)/host/stale: $(HOSTSRCS_stale) $(wildcard $(TOP)/scripts/build/stale*.h)
HOSTLDLIBS_stale := -pthread
HOSTLDLIBS_bench-stats := -lm

# Both look for the same splat markers.
$(BUILD)/host/splat-class $(BUILD)/host/uml-launch: $(TOP)/scripts/run/splat-markers.h

# --- run and test -------------------------------------------------------------
PHONY += run
run:
	$(Q)$(TOP)/run-uml.sh --kernel $(KERNEL)

# GDB with the sandbox's gdbinit (docs/gdb-walkthrough.md): the guest started
# under it, or a running one (run-uml.sh in another terminal) attached to.
PHONY += gdb
gdb:
ifeq ($(ATTACH),)
	$(Q)$(TOP)/run-uml.sh --kernel $(KERNEL) --gdb $(if $(CMD),-- $(CMD))
else
	$(Q)$(TOP)/scripts/gdb/gdb-uml.sh --attach $(filter-out 1,$(ATTACH))
endif

# T=pattern is the edit-compile-test loop: rebuild what changed, run the
# matching guest tests, nothing else (no host tests, no base kernel).
#
# Without T, two at a time, one per core: the host tests, and beside them
# check-ab, check-upstream and lint; then check-quick-build, and beside it
# the guest suite.  check-quick-build edits and rebuilds the base kernel,
# which the first three boot or build from, so it comes after them.  What
# runs beside goes to a log, shown whole when the other one ends.
PHONY += check check-host check-guest check-ab
ifneq ($(SHARD),)
check:
	$(Q)$(call run_shard)
else ifeq ($(T),)
ifeq ($(KERNEL),patched)
check: all
	$(Q)export _SANDBOX_CHECK_ALL=1; $(call beside,check-host,check-ab check-upstream lint,check-suites)
	$(Q)$(call beside,check-quick-build,check-guest,check-guest)
else
check: all
	$(Q)$(call beside,check-host,check-guest,check-guest)
endif
else
check: check-guest
endif

# $(call beside,GOAL,GOALS[,NAME]): make GOAL, and GOALS beside it (with
# NAME, their output goes to $(BUILD)/logs/NAME.log, printed after GOAL's);
# fails when either did, once both have ended.  Ctrl-C stops both: a shell
# without job control starts a background job with SIGINT ignored.
beside = $(if $(3),log=$(BUILD)/logs/$(3).log; mkdir -p $(BUILD)/logs; \
	echo "  CHECK   $(2): beside $(1) (shown after it: $$log)";) \
	$(MAKE) $(2) $(if $(3),>$$log 2>&1) & bg=$$!; \
	trap 'kill $$bg 2>/dev/null; wait; exit 130' INT; \
	trap 'kill $$bg 2>/dev/null; wait; exit 143' TERM; \
	$(MAKE) $(1); rc=$$?; \
	wait $$bg || rc=$$?; $(if $(3),cat $$log;) exit $$rc

# $(call run_test,ID,COMMAND): one test of make check, named ID.  With
# _SANDBOX_LIST_TESTS=FILE nothing runs and nothing is built: each test
# appends its ID to FILE instead (tests/host/test_shards.sh compares the
# shards with make check, test by test, through the same recipes).
run_test = $(if $(_SANDBOX_LIST_TESTS),echo '$(strip $(1))$(run_test_mode)' >>'$(_SANDBOX_LIST_TESTS)',$(2))
# Host tools built with the sanitizers make the same scripts other tests.
run_test_mode = $(if $(filter 1,$(SANDBOX_SANITIZE)), [SANDBOX_SANITIZE=1])
# $(call host_test,SCRIPT[,ENV]): a host test script, run with ENV (and
# named by it: the same script on another kernel is another test).
host_test = $(call run_test,$(patsubst $(TOP)/%,%,$(1))$(if $(2), [$(strip $(2))]),$(if $(2),$(2) )$(1))

# The host tests of check-host, in order; the fragments' HOST_TESTS_EXTRA
# after them.  SHARD_SKIP: those a shard of their own runs (see SHARDS).
HOST_TESTS = $(addprefix $(TOP)/tests/host/,test_preflight.sh test_linux_tree.sh \
	test_coverage_report.sh test_run_uml.sh test_splat_class.sh test_stale.sh \
	test_rebuild.sh test_kbuild_plan.sh test_lib.sh test_gdb.sh test_confine.sh \
	test_readonly_root.sh test_init.sh faults.sh bad_input.sh test_shards.sh \
	test_reference.sh test_bench_stats.sh) $(HOST_TESTS_EXTRA)

check-host: all
	$(Q)$(call run_test,preflight check,$(PREFLIGHT) check)
	$(Q)$(foreach t,$(filter-out $(SHARD_SKIP),$(HOST_TESTS)),$(call host_test,$(t)) &&) true

# Hardening tests too slow for make check (a guest per case): one script
# per concern in tests/host/, each printing KTAP.  All of them run, even
# after a failure, and the target fails if one did.
HARD_TESTS := $(TOP)/tests/host/test_crash.sh
# Four guests at once, each the full suite; a real kernel build onto a full disk.
HARD_TESTS += $(TOP)/tests/host/hard_load.sh $(TOP)/tests/host/hard_disk_full.sh

PHONY += check-hard
check-hard: all
	$(Q)rc=0; for t in $(HARD_TESTS); do $$t || rc=1; done; exit $$rc

check-guest: all
	$(Q)$(call run_test,guest $(KERNEL) T=$(T),$(TOP)/run-uml.sh --kernel $(KERNEL) --no-build --test '$(T)')

# The headline A/B check (after the patched kernel, which test_fuzz and a
# shard run alone need too): the series/* tests on the kernel without the
# series.  They must fail there (XFAIL), the exec stack warning included,
# or they would not prove anything by passing on the patched kernel.
check-ab: all
	$(Q)$(MAKE) check-guest KERNEL=base T=series/
	$(Q)$(call host_test,$(TOP)/tests/host/test_fuzz.sh)

# The quick rebuild (scripts/build/kernel.sh) against kbuild itself: edits in the
# base worktree are rebuilt the quick way, then kbuild must find nothing
# left to do.  The base kernel is built by check-ab before.
PHONY += check-quick-build
check-quick-build:
	$(Q)$(MAKE) all KERNEL=base
	$(Q)$(call host_test,$(TOP)/tests/host/test_quick_build.sh)

# Upstream as the oracle: the whole suite on Debian's 6.12 (it has the
# series, so series/* must pass there), each ported sandbox patch at work
# there, upstream's own mremap selftests (built from its tree, so only now
# on a fresh clone) on our two kernels, then the page-table work of every
# scenario on base, patched and upstream: ours must equal upstream's.
# Within make check (_SANDBOX_CHECK_ALL), the patched kernel's suite that
# comes after, beside check-quick-build, runs upstream/ with the rest: not
# here as well (23 s of one core).
PHONY += check-upstream
check-upstream: all
	$(Q)$(MAKE) check-guest KERNEL=upstream
	$(Q)$(call host_test,$(TOP)/tests/host/test_upstream.sh)
	$(Q)$(call host_test,$(TOP)/tests/host/test_gdb.sh,KERNEL=upstream)
	$(Q)$(call run_test,tests/host/test_fuzz.sh [patched upstream],KERNEL_A=patched \
		KERNEL_B=upstream FUZZ_COUNTERS=equal $(TOP)/tests/host/test_fuzz.sh 'clean\|digests\|counters')
	$(Q)$(MAKE) all KERNEL=base
	$(Q)$(if $(_SANDBOX_CHECK_ALL),,$(MAKE) check-guest KERNEL=patched T=upstream/)
	$(Q)$(MAKE) check-guest KERNEL=base T=upstream/
	$(Q)$(call run_test,scripts/report/compare.sh,$(TOP)/scripts/report/compare.sh)

# Base and patched side by side: the same suite on both kernels; then
# the page-table work per scenario, upstream's beside them.
PHONY += compare
compare: host-tools
	$(Q)$(MAKE) check-guest KERNEL=base T='$(T)' || true
	$(Q)$(MAKE) check-guest KERNEL=patched T='$(T)' || true
	$(Q)$(MAKE) check-guest KERNEL=upstream T='$(T)' || true
	$(Q)$(BUILD)/host/ktap-report -c $(BUILD)/results/base.ktap $(BUILD)/results/patched.ktap
	$(Q)$(BUILD)/host/ktap-report -c $(BUILD)/results/patched.ktap $(BUILD)/results/upstream.ktap
	$(Q)$(TOP)/scripts/report/compare.sh

# The randomized variant of the exec stack check (minutes, so not in make
# check): thousands of execs with the kernel's own random stack shift.  The
# base kernel must warn (XFAIL), the patched one must not.
PHONY += stress
stress:
	$(Q)$(MAKE) all KERNEL=base
	$(Q)$(TOP)/run-uml.sh --kernel base --no-build --timeout 3600 --test stress-
	$(Q)$(TOP)/run-uml.sh --kernel patched --no-build --timeout 3600 --test stress-

# Timing lives in the benchmark, never in a test (RUNS=n, COLD=1, FRESH=1).
PHONY += bench
bench: host-tools
	$(Q)$(MAKE) all KERNEL=base
	$(Q)$(TOP)/scripts/dev/bench.sh $(if $(RUNS),--runs $(RUNS)) $(if $(COLD),--cold) $(if $(FRESH),--fresh)

# The guest suite on a GCOV kernel of its own: which lines and branch
# outcomes of the series it reaches (build/coverage/series.md).  Minutes,
# so not in make check; its report's parser is (check-host).
PHONY += coverage
coverage:
	$(Q)$(PREFLIGHT) coverage
	$(Q)$(TOP)/scripts/report/coverage.sh --kernel $(KERNEL)

# The mremap fuzzer, long: SEED= the first seed, N= seeds, OPS= per seed;
# SHARD=k/N runs the k-th of N equal parts of those seeds (a CI job each).
PHONY += fuzz
fuzz: shard-check all
	$(Q)$(call shard_of,$(or $(SEED),1),$(or $(N),100)) \
	if [ "$$count" -eq 0 ]; then echo "  FUZZ    SHARD=$(SHARD): no seeds in this part"; exit 0; fi; \
	$(TOP)/run-uml.sh --kernel $(KERNEL) --no-build --timeout 3600 -- \
		/tests/sandbox/mremap_fuzz --seed "$$first" --seeds "$$count" --ops $(or $(OPS),400)

# Deliberately broken variants of the series: the suite must catch each.
# Slow (a kernel per mutant), so not part of make check.  SHARD=k/N: the
# k-th of N parts of them (scripts/dev/mutants.sh splits them).
PHONY += mutants
mutants: shard-check source
	$(Q)SHARD='$(SHARD)' $(TOP)/scripts/dev/mutants.sh $(M)

# $(call shard_of,FIRST,COUNT): SHARD=k/N checked (a usage error, 64,
# for anything but whole numbers 1 <= k <= N), then in the shell's first
# and count the k-th of N parts of COUNT items numbered from FIRST (all of
# them without SHARD).  The parts differ by one item at most.
shard_of = first=$(1); count=$(2); $(if $(SHARD),set -- $(subst /, ,$(subst ',,$(SHARD))); \
	case "$(words $(subst /, ,$(SHARD))):$$1:$$2" in (2:[1-9]*:[1-9]*) ;; (*) set -- 0 0 ;; esac; \
	case "$$1$$2" in (*[!0-9]*) set -- 0 0 ;; esac; \
	if [ "$$1" -lt 1 ] || [ "$$1" -gt "$$2" ]; then \
		echo "make: error: SHARD='$(subst ',,$(SHARD))' is not a part k/N with 1 <= k <= N" >&2; \
		echo "  give e.g. SHARD=2/4 (the second of four parts); make check takes a shard's name (make check-shards)" >&2; \
		exit 64; fi; \
	first=$$(($(1) + ($(2)) * ($$1 - 1) / $$2)); \
	count=$$((($(2)) * $$1 / $$2 - ($(2)) * ($$1 - 1) / $$2));)

# A bad SHARD=k/N fails before anything is built.
PHONY += shard-check
shard-check:
	$(Q)$(call shard_of,1,1) true

# What a reviewer runs: W=1 and sparse on the series' files (only what it
# adds over base), checkpatch on every patch, shellcheck, -Werror on our C,
# pyflakes on the GDB Python; then each check shown to catch its problem.
PHONY += lint
lint: all
	$(Q)$(MAKE) all KERNEL=base
	$(Q)$(call run_test,preflight lint,$(PREFLIGHT) lint)
	$(Q)$(call run_test,scripts/dev/lint.sh,$(TOP)/scripts/dev/lint.sh)
	$(Q)$(call host_test,$(TOP)/tests/host/test_lint.sh)

# Every prefix of the series builds, its selftests compile, checkpatch passes.
PHONY += check-series
check-series: source
	$(Q)$(TOP)/scripts/dev/check-series.sh

# --- the parts kept in their own files ----------------------------------------
# Each a fragment of this Makefile, beside the code it drives; each may add
# a host test to check-host with HOST_TESTS_EXTRA += SCRIPT.
HOST_TESTS_EXTRA :=
include $(TOP)/scripts/dev/mutate.mk
include $(TOP)/tests/fuzz/fuzz.mk

# make mutate (scripts/dev/mutate.mk) takes SHARD=k/N too: checked first.
ifneq ($(filter mutate,$(PHONY)),)
mutate: shard-check
endif

# --- make check as shards ------------------------------------------------------
# Each shard runs alone, on a fresh machine (a CI job: .github/workflows/
# check.yml) as here, and builds only the kernels it boots.  Together the
# shards of CHECK_SHARDS run every test of make check once
# (tests/host/test_shards.sh compares their tests with make check's);
# EXTRA_SHARDS run what make check leaves out for its minutes: the real
# cache and compile servers, and the host tests on sanitized host tools
# (docs/past-one-machine.md).
#
# shard_NAME: its goals, in order; shard_NAME_kernels: the kernels it
# builds; shard_NAME_time: its wall time alone from a fresh clone with a
# warm ccache, measured (docs/past-one-machine.md says how).
CHECK_SHARDS := host gdb guest ab upstream lint quick-build
EXTRA_SHARDS := remote-cache distcc sanitize

shard_host := check-host
shard_host_kernels := patched
shard_guest := check-guest
shard_guest_kernels := patched
shard_ab := check-ab
shard_ab_kernels := base patched
shard_upstream := check-upstream
shard_upstream_kernels := upstream patched base
shard_lint := lint
shard_lint_kernels := patched base
shard_quick-build := check-quick-build
shard_quick-build_kernels := base
shard_remote-cache := check-remote-cache
shard_remote-cache_kernels := patched + mm/ fs/ of two clones
shard_distcc := check-distcc
# The host tests again, on host tools built with ASan and UBSan.
shard_sanitize := check-host SANDBOX_SANITIZE=1
shard_sanitize_kernels := patched
shard_distcc_kernels := patched + mm/ fs/ of one clone

# A host test of check-host named here gets a shard of its own, named
# after it (tests/host/test_gdb.sh: gdb), and the host shard leaves it
# out: a fragment adds one with SHARD_OWN_TESTS += $(TOP)/tests/host/SCRIPT
# (and the workflow's matrix the name).
SHARD_OWN_TESTS += $(TOP)/tests/host/test_gdb.sh
shard_own_name = $(patsubst test_%,%,$(basename $(notdir $(1))))
$(foreach t,$(SHARD_OWN_TESTS),$(eval shard_$(call shard_own_name,$(t)) := check-host-only HOST_ONLY=$(t)) \
	$(eval shard_$(call shard_own_name,$(t))_kernels ?= patched))

# Measured 2026-12-07 (docs/performance.md): each shard alone from a fresh
# clone, with the machine's ccache warm, on two cores.
shard_host_time := 187 s
shard_gdb_time := 137 s
shard_guest_time := 129 s
shard_ab_time := 129 s
shard_upstream_time := 234 s
shard_lint_time := 146 s
shard_quick-build_time := 141 s
shard_remote-cache_time := 197 s
shard_distcc_time := 166 s
shard_sanitize_time := 188 s

SHARDS = $(CHECK_SHARDS) $(EXTRA_SHARDS)

# Only the host tests named by HOST_ONLY (a shard of their own).
PHONY += check-host-only
check-host-only: all
	$(Q)$(foreach t,$(HOST_ONLY),$(call host_test,$(t)) &&) true

# The real servers, each started by its test as this user, on loopback.
PHONY += check-remote-cache check-distcc
check-remote-cache: all
	$(Q)$(call host_test,$(TOP)/tests/host/test_remote_cache.sh)
check-distcc: all
	$(Q)$(call host_test,$(TOP)/tests/host/test_distcc.sh)

# make check SHARD=name: one shard, as make check runs its part (the
# guest suite on patched covers upstream/ there: _SANDBOX_CHECK_ALL).  An
# unknown name is a usage error (64) that lists the shards.
shard_known = $(and $(filter 1,$(words $(SHARD))),$(filter $(SHARD),$(SHARDS)))
run_shard = $(if $(T),echo "make: error: SHARD and T exclude each other: T= is the loop and SHARD= a part of make check" >&2; exit 64;) \
	$(if $(filter-out patched,$(KERNEL)),echo "make: error: make check SHARD= runs the shards of make check on its own kernels: drop KERNEL=$(KERNEL)" >&2; exit 64;) \
	$(if $(shard_known), \
		echo "  SHARD   $(SHARD): $(shard_$(SHARD))"; \
		export _SANDBOX_CHECK_ALL=1; $(MAKE) SHARD= SHARD_SKIP='$(SHARD_OWN_TESTS)' $(shard_$(SHARD)), \
		{ echo "make: error: SHARD='$(subst ',,$(SHARD))' is not a shard of make check; the shards are:"; \
		  $(MAKE) -s check-shards SHARD=; } >&2; exit 64)

# The shards: name, the kernels each builds, its measured time.
PHONY += check-shards
check-shards:
	@printf '%-14s %-32s %s\n' shard kernels 'time (alone, fresh clone, warm ccache)'
	@$(foreach s,$(SHARDS),printf '%-14s %-32s %s\n' '$(s)' '$(shard_$(s)_kernels)' \
		'$(or $(shard_$(s)_time),not measured)$(if $(filter $(s),$(EXTRA_SHARDS)), (not in plain make check))';)

# --- clean ---------------------------------------------------------------------
PHONY += clean distclean
# build/src holds worktrees of linux/ (made anew from it) and the upstream
# tree, an import like linux/ that may hold edits: that one stays, as
# linux/ does; remove it by hand (rm -rf build/src/upstream) to re-import.
clean:
	$(Q)git -C $(LINUX) worktree prune 2>/dev/null || true
	$(Q)rm -rf $(BUILD)/kernel $(BUILD)/rootfs $(BUILD)/tests $(BUILD)/logs $(BUILD)/coverage
	$(Q)find $(BUILD)/src -mindepth 1 -maxdepth 1 ! -name upstream -exec rm -rf {} + 2>/dev/null || true
	$(Q)git -C $(LINUX) worktree prune 2>/dev/null || true

distclean: clean
	$(Q)find $(BUILD) -mindepth 1 -maxdepth 1 ! -name src -exec rm -rf {} + 2>/dev/null || true

.PHONY: $(PHONY)
