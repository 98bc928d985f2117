# SPDX-License-Identifier: GPL-2.0
# make mutate: mutants from the diff of the commits on top of series-base.
# Included by the top-level Makefile.
#
# FILE=mm/mremap.c, LINE=N (or N-M), FUNC=name and SHARD=K/N select the
# mutants; scripts/dev/mutate.sh does the work (docs/mutation-testing.md).
# Only options given on the command line are passed on: FILE and LINE are
# common names in an environment.

MUTATE_ARGS := $(if $(filter command line,$(origin FILE)),--file $(FILE)) \
	$(if $(filter command line,$(origin LINE)),--line $(LINE)) \
	$(if $(filter command line,$(origin FUNC)),--func $(FUNC)) \
	$(if $(filter command line,$(origin SHARD)),--shard $(SHARD))

# Its generator is a host tool of its own stage (scripts/dev), built by
# the top-level Makefile's one rule of the host tools.

PHONY += mutate mutate-list
mutate: source $(BUILD)/host/mutate
	$(Q)$(TOP)/scripts/dev/mutate.sh run $(MUTATE_ARGS)

# The mutants that make mutate would run, without building anything.
mutate-list: source $(BUILD)/host/mutate
	$(Q)$(TOP)/scripts/dev/mutate.sh list $(MUTATE_ARGS)

# The generator, the equivalence check and the report on stand-in data.
HOST_TESTS_EXTRA += $(TOP)/tests/host/test_mutate.sh
