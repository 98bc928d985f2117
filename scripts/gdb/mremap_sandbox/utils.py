# SPDX-License-Identifier: GPL-2.0
"""Shared helpers: constants of UML's memory layout, cached types, output, the kernel's .config.

This module has no knowledge of move_page_tables(); every other module of
the package builds on it, as the kernel's scripts/gdb/linux/utils.py does.
"""

import os

import gdb

U64 = (1 << 64) - 1

# UML x86-64 has three page-table levels (arch/um/include/asm/pgtable-3level.h).
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1) & U64
PMD_SHIFT = 21
PMD_SIZE = 1 << PMD_SHIFT
PMD_MASK = ~(PMD_SIZE - 1) & U64
PGDIR_SHIFT = 30
PTRS_PER_TABLE = 512


# --- lookups shared by the modules ----------------------------------------------

class CachedTypes:
    """gdb.lookup_type() once per type until a new objfile is loaded."""

    def __init__(self):
        self._types = {}
        gdb.events.new_objfile.connect(lambda _event: self._types.clear())

    def get(self, name):
        if name not in self._types:
            try:
                self._types[name] = gdb.lookup_type(name)
            except gdb.error:
                raise gdb.GdbError("no type '%s' in this kernel's debug info" % name)
        return self._types[name]

    def pointer(self, name):
        return self.get(name).pointer()


TYPES = CachedTypes()


def hexa(value):
    return "%#x" % value


def out(text):
    """gdb.write() that works while the guest owns the terminal.

    In stop() gdb has not taken the terminal back yet: when the guest's
    console shares it (gdb-uml.sh without --attach), UML has put it in raw
    mode and a bare newline does not return the carriage.
    """
    if os.isatty(1):
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    gdb.write(text)


def string_setting(name):
    """The value of a convenience variable holding a string, or None."""
    value = gdb.convenience_variable(name)
    if value is None:
        return None
    try:
        return value.string()
    except gdb.error:
        return None


def kernel_dir():
    """The kernel's build directory: $sandbox_kdir, or where the binary is."""
    kdir = string_setting("sandbox_kdir")
    if kdir:
        return kdir
    path = gdb.current_progspace().filename
    if not path:
        raise gdb.GdbError("no kernel loaded: start gdb with the UML binary")
    return os.path.dirname(os.path.realpath(path.replace(" (deleted)", "")))


def kernel_config(option):
    """'y', 'm', a value, or None: the kernel's .config next to the binary."""
    try:
        with open(os.path.join(kernel_dir(), ".config")) as config:
            for line in config:
                if line.startswith(option + "="):
                    return line.split("=", 1)[1].strip()
    except (OSError, gdb.GdbError):
        return None
    return None


def read_u64(address):
    data = gdb.selected_inferior().read_memory(address, 8)
    return int.from_bytes(bytes(data), "little")


def optimized_out(value):
    return value is None or value.is_optimized_out
