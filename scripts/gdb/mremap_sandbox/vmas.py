# SPDX-License-Identifier: GPL-2.0
"""VMAs: an mm's maple tree walked from GDB, and the kernel's find_vma_intersection()."""

import gdb

from .utils import TYPES, U64

# The maple tree (lib/maple_tree.c, include/linux/maple_tree.h) holds an
# mm's VMAs in 6.1.  Encoded node pointers carry the node type in bits 3-6.
MAPLE_NODE_MASK = 0xff
MAPLE_TYPE_SHIFT = 3
MAPLE_TYPE_MASK = 0x0f
MAPLE_LEAF_64, MAPLE_RANGE_64, MAPLE_ARANGE_64 = 1, 2, 3
MAPLE_SLOTS = {MAPLE_LEAF_64: 16, MAPLE_RANGE_64: 16, MAPLE_ARANGE_64: 10}
MAPLE_MAX_ENTRIES = 1 << 20


def maple_is_node(entry):
    return (entry & 3) == 2 and entry > 4096


def maple_entries(tree):
    """(first, last, entry) for every non-empty range of a maple tree."""
    root = int(tree["ma_root"])
    if not root:
        return
    if not maple_is_node(root):
        yield 0, 0, root
        return
    count = 0
    stack = [(root, 0, U64, 0)]
    while stack:
        enode, low, high, depth = stack.pop()
        if depth > 31:
            raise gdb.GdbError("maple tree deeper than MAPLE_HEIGHT_MAX: corrupt?")
        kind = (enode >> MAPLE_TYPE_SHIFT) & MAPLE_TYPE_MASK
        if kind not in MAPLE_SLOTS:
            raise gdb.GdbError("maple node %#x of unknown type %d" % (enode, kind))
        node = gdb.Value(enode & ~MAPLE_NODE_MASK).cast(
            TYPES.pointer("struct maple_node")).dereference()
        part = node["ma64" if kind == MAPLE_ARANGE_64 else "mr64"]
        pivots, slots = part["pivot"], part["slot"]
        npivots = MAPLE_SLOTS[kind] - 1
        # ma_data_end()
        if kind == MAPLE_ARANGE_64 or int(pivots[npivots - 1]) == 0:
            end = int(part["meta"]["end"])
        elif int(pivots[npivots - 1]) == high:
            end = npivots - 1
        else:
            end = npivots
        children = []
        start = low
        for i in range(min(end, npivots) + 1):
            last = int(pivots[i]) if i < npivots else high
            entry = int(slots[i])
            if entry:
                if kind == MAPLE_LEAF_64:
                    count += 1
                    if count > MAPLE_MAX_ENTRIES:
                        raise gdb.GdbError("maple tree with too many entries: corrupt?")
                    yield start, last, entry
                else:
                    children.append((entry, start, last, depth + 1))
            if last >= high:
                break
            start = last + 1
        stack.extend(reversed(children))


def mm_vmas(mm):
    """The VMAs of an mm, in address order."""
    vma_ptr = TYPES.pointer("struct vm_area_struct")
    for _first, _last, entry in maple_entries(mm["mm_mt"]):
        vma = gdb.Value(entry).cast(vma_ptr)
        if int(vma["vm_mm"]) != int(mm):
            raise gdb.GdbError("VMA %#x in mm %#x belongs to mm %#x: tree changing?"
                               % (entry, int(mm), int(vma["vm_mm"])))
        yield vma


def vma_range(vma):
    return int(vma["vm_start"]), int(vma["vm_end"])


def find_vma_intersection(mm, start, end):
    """The first VMA that overlaps [start, end), as the kernel's function."""
    for vma in mm_vmas(mm):
        vm_start, vm_end = vma_range(vma)
        if vm_start < end and vm_end > start:
            return vma
    return None
