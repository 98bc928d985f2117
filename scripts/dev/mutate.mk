# SPDX-License-Identifier: GPL-2.0
# make mutate: mutants from the diff of the commits on top of series-base.
# Included by the top-level Makefile.
