# SPDX-License-Identifier: GPL-2.0
# libFuzzer harnesses of the host parsers: make fuzz-host, and their corpora in make check.
# Included by the top-level Makefile.
