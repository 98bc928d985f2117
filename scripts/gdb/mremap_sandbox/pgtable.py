# SPDX-License-Identifier: GPL-2.0
"""Page tables: walk a user address through UML's pgd -> pmd -> pte.

UML x86-64 has three levels (arch/um/include/asm/pgtable-3level.h, in 6.1
and 6.12 alike): p4d and pud are folded into the pgd.  Its tables hold
physical addresses; the kernel sees physical memory at uml_physmem.
"""

import gdb

from .utils import PAGE_MASK, PAGE_SHIFT, PGDIR_SHIFT, PMD_SHIFT, PTRS_PER_TABLE, hexa, out, \
    read_u64

# arch/um/include/asm/pgtable.h (the same bits in 6.1 and 6.12)
PTE_FLAGS = ((0x001, "present"), (0x002, "newpage"), (0x004, "newprot"),
             (0x010, "protnone"), (0x020, "rw"), (0x040, "user"),
             (0x080, "accessed"), (0x100, "dirty"))
LEVELS = (("pgd", PGDIR_SHIFT), ("pmd", PMD_SHIFT), ("pte", PAGE_SHIFT))


def physmem_base():
    """Where UML's kernel sees physical address 0."""
    try:
        return int(gdb.parse_and_eval("uml_physmem"))
    except gdb.error:
        raise gdb.GdbError("mpt-pte: no uml_physmem: this walker knows only UML")


def print_walk(addr, mm, owner):
    """Print each entry on the way to addr's page in mm, down to the first empty one."""
    physmem = physmem_base()
    out("%s in mm %#x (%s)\n" % (hexa(addr), int(mm), owner))
    table = int(mm["pgd"])
    for level, (name, shift) in enumerate(LEVELS):
        index = (addr >> shift) & (PTRS_PER_TABLE - 1)
        entry_addr = table + 8 * index
        value = read_u64(entry_addr)
        flags = [flag for bit, flag in PTE_FLAGS if value & bit]
        phys = value & PAGE_MASK
        line = "  %s[%3d] at %#x = %#018x" % (name, index, entry_addr, value)
        if not value & ~0x002:        # pte_none(): only _PAGE_NEWPAGE may be set
            out(line + "  none\n")
            return
        if name == "pte":
            out("%s  %s -> page pfn %#x (kernel %#x)\n"
                % (line, " ".join(flags), phys >> PAGE_SHIFT, physmem + phys))
            return
        out("%s  %s -> %s table at %#x\n"
            % (line, " ".join(flags), LEVELS[level + 1][0], physmem + phys))
        if not value & 0x001:
            return
        table = physmem + phys
