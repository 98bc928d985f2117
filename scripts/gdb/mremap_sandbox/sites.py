# SPDX-License-Identifier: GPL-2.0
"""Where calls happen: the call sites of inlined functions, and the extent moved at one."""

import gdb

from .movecall import MPT
from .utils import PMD_MASK, PMD_SIZE, U64, optimized_out


def function_block(pc, name):
    """The innermost block at pc that is (an inlined copy of) function name."""
    block = gdb.block_for_pc(pc)
    while block is not None and not (block.function is not None and
                                     block.function.name == name):
        block = block.superblock
    return block


def enclosing_function(block):
    outer = block.superblock
    while outer is not None and outer.function is None:
        outer = outer.superblock
    return outer


def innermost_function(pc):
    block = gdb.block_for_pc(pc)
    while block is not None and block.function is None:
        block = block.superblock
    return block


def same_block(one, other):
    # gdb 13's gdb.Block has no __eq__: a new object comes with every lookup.
    return (one is not None and other is not None and one.start == other.start and
            one.end == other.end and one.function.name == other.function.name)


def call_sites(callee):
    """Addresses where each call of callee starts, and how they were found.

    gdb 13 puts a breakpoint on an inlined function at the lowest address of
    its code, which the compiler may have hoisted out of the caller's loop
    (move_ptes() in move_page_tables(): such a breakpoint is hit once per
    call of move_page_tables(), not once per extent).  The call's own line
    (DW_AT_call_line) starts where the arguments are set up, inside the
    loop: use the first address of that line within the inlined copy.
    """
    try:
        _rest, sals = gdb.decode_line(callee)
    except gdb.error:
        return [], "not in this kernel"
    addresses = sorted(set(sal.pc for sal in sals or () if sal.pc))
    if not addresses:
        return [], "not in this kernel (inlined away or not built)"
    sites, hows = set(), set()
    for address in addresses:
        block = function_block(address, callee)
        caller = enclosing_function(block) if block is not None else None
        if block is None or caller is None or caller.function.symtab is None:
            sites.add(address)       # a real function: its entry is per call
            hows.add("function entry")
            continue
        # gdb gives an inlined copy's symbol the line of the call.
        call_line = block.function.line
        # The block's end can lie in the function's cold part, megabytes
        # away: look at the caller's line table rows near the start only.
        limit = min(block.end, block.start + 0x4000)
        candidates = [row.pc for row in caller.function.symtab.linetable()
                      if row.line == call_line and block.start <= row.pc < limit and
                      same_block(innermost_function(row.pc), block)]
        if candidates:
            sites.add(min(candidates))
            hows.add("call line %d in the inlined copy" % call_line)
        else:
            sites.add(address)
            hows.add("first address of the inlined copy")
    return sorted(sites), ", ".join(sorted(hows))


def extent_at(frame):
    """(old_addr, new_addr, extent) of the loop iteration at a call site."""
    mpt = frame
    while mpt is not None and mpt.name() != MPT:
        mpt = mpt.older()
    if mpt is None:
        return None
    values = {}
    for name in ("old_addr", "new_addr", "extent", "old_end"):
        try:
            value = mpt.read_var(name)
            values[name] = None if optimized_out(value) else int(value) & U64
        except (gdb.error, ValueError):
            values[name] = None
    old, new, extent = values["old_addr"], values["new_addr"], values["extent"]
    if old is None or new is None:
        return None
    if extent is None:
        # get_extent(NORMAL_PMD, ...)
        extent = ((old + PMD_SIZE) & PMD_MASK) - old
        if values["old_end"] is not None:
            extent = min(extent, values["old_end"] - old)
        extent = min(extent, ((new + PMD_SIZE) & PMD_MASK) - new)
    return old, new, extent
