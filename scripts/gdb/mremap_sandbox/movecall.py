# SPDX-License-Identifier: GPL-2.0
"""One call of move_page_tables(): its arguments, read from the frame, and the series' rules."""

import gdb

from .tasks import current_task
from .utils import PAGE_SIZE, PMD_MASK, PMD_SIZE, U64, hexa, kernel_config, optimized_out
from .vmas import find_vma_intersection, vma_range
MPT = "move_page_tables"
# The callers of move_page_tables() and what they move.  The exec stack
# shift is shift_arg_pages() in fs/exec.c up to 6.1 (inlined into
# setup_arg_pages()), relocate_vma_down() in mm/mmap.c since 6.11.
CALLER_KINDS = {"move_vma": "mremap", "shift_arg_pages": "exec stack",
                "setup_arg_pages": "exec stack", "relocate_vma_down": "exec stack"}



def function_arguments(frame, block=None):
    """The argument names of the function (or inlined function) of a frame."""
    block = block or frame.block()
    while block is not None and block.function is None:
        block = block.superblock
    if block is None:
        return []
    return [sym.name for sym in block if sym.is_argument]


def read_argument(frame, name, block=None, prefer_entry=False):
    """An argument as the caller passed it, or None when gdb cannot tell.

    block: an inlined copy of the function whose frame gdb does not show
    (see MptBreakpoint.stop()); its arguments are read in frame, the
    frame of the function it is inlined into.
    """
    if block is not None:
        for sym in block:
            if sym.is_argument and sym.name == name:
                try:
                    value = frame.read_var(sym)
                    return None if optimized_out(value) else value
                except (gdb.error, ValueError):
                    return None
        return None

    def current():
        try:
            value = frame.read_var(name)
            return None if optimized_out(value) else value
        except (gdb.error, ValueError):
            return None

    def at_entry():
        # DW_OP_entry_value: the value the caller passed, even when the
        # register has been reused or the variable changed since.
        selected = gdb.selected_frame()
        try:
            frame.select()
            value = gdb.parse_and_eval(name + "@entry")
            return None if optimized_out(value) else value
        except gdb.error:
            return None
        finally:
            selected.select()

    # At the function's entry both agree; further in, old_addr and
    # new_addr change (the realignment, the loop): prefer_entry then.
    for read in ((at_entry, current) if prefer_entry else (current, at_entry)):
        value = read()
        if value is not None:
            return value
    # Split by partial inlining (move_page_tables.part.0): the wrapper
    # frame above still has it.
    older = frame.older()
    if older is not None and older.name() == frame.name():
        return read_argument(older, name, prefer_entry=prefer_entry)
    return None


def is_continuation(frame):
    """move_page_tables.part.0 entered from its own inlined/outer wrapper."""
    older = frame.older()
    return frame.name() == MPT and older is not None and older.name() == MPT


def find_mpt_frame(frame=None):
    """The outermost frame of the innermost move_page_tables() call."""
    frame = frame or gdb.selected_frame()
    while frame is not None and frame.name() != MPT:
        frame = frame.older()
    if frame is None:
        return None
    while frame.older() is not None and frame.older().name() == MPT:
        frame = frame.older()
    return frame


def caller_of(frame):
    older = frame.older()
    while older is not None and older.name() == MPT:
        older = older.older()
    return older.name() if older is not None else None


class MoveCall:
    """The arguments of one move_page_tables() call and what the series does with them."""

    def __init__(self, frame, block=None, prefer_entry=False):
        self.task = current_task()
        self.pid = int(self.task["pid"])
        self.comm = self.task["comm"].string()
        self.caller = (frame.name() if block is not None else caller_of(frame)) or "?"
        self.kind = CALLER_KINDS.get(self.caller, self.caller)
        self.has_for_stack = "for_stack" in function_arguments(frame, block)
        values = {}
        for name in ("vma", "old_addr", "new_vma", "new_addr", "len", "need_rmap_locks"):
            values[name] = read_argument(frame, name, block, prefer_entry)
        if self.has_for_stack:
            values["for_stack"] = read_argument(frame, "for_stack", block, prefer_entry)
        missing = [name for name in ("vma", "old_addr", "new_vma", "new_addr", "len")
                   if values[name] is None]
        if missing:
            raise gdb.GdbError("move_page_tables(): %s <optimized out> here; stop at the "
                               "function's entry (mpt-break) to read them" % ", ".join(missing))
        self.vma = values["vma"]
        self.new_vma = values["new_vma"]
        self.old = int(values["old_addr"]) & U64
        self.new = int(values["new_addr"]) & U64
        self.len = int(values["len"]) & U64
        self.need_rmap_locks = values["need_rmap_locks"]
        self.for_stack = None
        if self.has_for_stack and values["for_stack"] is not None:
            self.for_stack = bool(int(values["for_stack"]))
        self.mm = self.vma["vm_mm"]
        self.assess()

    def assumed_for_stack(self):
        """for_stack as passed, or as the series would pass it."""
        if self.for_stack is not None:
            return self.for_stack
        return self.kind == "exec stack"

    def can_align_down(self, vma, addr, which):
        """None when the series may move from addr's PMD boundary, else why not."""
        floor = addr & PMD_MASK
        vm_start, vm_end = vma_range(vma)
        for_stack = self.assumed_for_stack()
        if for_stack and floor >= vm_start:
            return None
        if not for_stack and addr != vm_start:
            return ("%s not at its VMA's start (VMA %s-%s): [%s, %s) would move too"
                    % (which, hexa(vm_start), hexa(vm_end), hexa(floor), hexa(addr)))
        other = find_vma_intersection(self.mm, floor, vm_start)
        if other is not None:
            o_start, o_end = vma_range(other)
            return ("another mapping in the aligned-down range [%s, %s): VMA %s-%s"
                    % (hexa(floor), hexa(vm_start), hexa(o_start), hexa(o_end)))
        return None

    def assess(self):
        """The series' rules: try_realign_addr() and can_align_down()."""
        self.old_off = self.old & ~PMD_MASK & U64
        self.new_off = self.new & ~PMD_MASK & U64
        self.mutual = self.old_off == self.new_off
        self.reaches = self.len >= PMD_SIZE - self.old_off
        self.already = self.old_off == 0
        self.why_not = None
        if not self.reaches:
            self.why_not = ("does not reach a PMD boundary: len %s < %s to the next one"
                            % (hexa(self.len), hexa(PMD_SIZE - self.old_off)))
        elif self.already:
            self.why_not = "already aligned: old_addr is on a PMD boundary"
        elif not self.mutual:
            self.why_not = ("not mutually aligned: PMD offsets %s and %s differ"
                            % (hexa(self.old_off), hexa(self.new_off)))
        else:
            self.why_not = (self.can_align_down(self.vma, self.old, "old_addr") or
                            self.can_align_down(self.new_vma, self.new, "new_addr"))
        self.realigns = self.why_not is None

    def vma_text(self, vma):
        vm_start, vm_end = vma_range(vma)
        return "VMA %s-%s" % (hexa(vm_start), hexa(vm_end))

    def for_stack_text(self):
        if not self.has_for_stack:
            return "n/a (kernel without the series)"
        if self.for_stack is None:
            return "<optimized out>"
        return "true" if self.for_stack else "false"

    def report(self):
        """The multi-line explanation mpt-break and mpt-info print."""
        lines = ["move_page_tables(): %s by %s[%d], called from %s"
                 % (self.kind, self.comm, self.pid, self.caller)]
        lines.append("  old_addr  %-14s PMD offset %-10s %s"
                     % (hexa(self.old), hexa(self.old_off), self.vma_text(self.vma)))
        lines.append("  new_addr  %-14s PMD offset %-10s %s"
                     % (hexa(self.new), hexa(self.new_off), self.vma_text(self.new_vma)))
        lines.append("  len       %-14s (%d pages)" % (hexa(self.len), self.len // PAGE_SIZE))
        if self.mutual:
            lines.append("  mutually aligned       yes (both %s into their PMD)"
                         % hexa(self.old_off))
        else:
            lines.append("  mutually aligned       no (%s vs %s)"
                         % (hexa(self.old_off), hexa(self.new_off)))
        to_boundary = PMD_SIZE - self.old_off
        lines.append("  reaches PMD boundary   %s (len %s %s %s to the next boundary)"
                     % ("yes" if self.reaches else "no", hexa(self.len),
                        ">=" if self.reaches else "<", hexa(to_boundary)))
        lines.append("  for_stack              %s" % self.for_stack_text())
        if self.realigns:
            lines.append("  realign                yes: old %s -> %s, new %s -> %s"
                         % (hexa(self.old), hexa(self.old & PMD_MASK),
                            hexa(self.new), hexa(self.new & PMD_MASK)))
        else:
            lines.append("  realign                no: %s" % self.why_not)
        if not self.has_for_stack:
            lines.append("  this kernel            has no realignment (kernel without the "
                         "series): moves from %s" % hexa(self.old))
        if have_move_pmd():
            lines.append("  PMD-level moves        yes: a whole PMD extent can go "
                         "through move_normal_pmd()")
        else:
            lines.append("  PMD-level moves        no (%s): every extent goes through "
                         "move_ptes()" % no_move_pmd_reason())
        return "\n".join(lines)

    def one_line(self):
        """The line mpt-trace prints."""
        verdict = "yes" if self.realigns else "no (%s)" % self.why_not.split(":")[0]
        label = "realign" if self.has_for_stack else "series-would-realign"
        return ("mpt: %s[%d] %s old=%s new=%s len=%s pmd-off=%s/%s mutual=%s reaches=%s "
                "for_stack=%s %s=%s"
                % (self.comm, self.pid, self.kind.replace(" ", "-"), hexa(self.old),
                   hexa(self.new), hexa(self.len), hexa(self.old_off), hexa(self.new_off),
                   "yes" if self.mutual else "no", "yes" if self.reaches else "no",
                   self.for_stack_text() if self.has_for_stack else "n/a", label, verdict))


def have_move_pmd():
    """Whether this kernel has move_normal_pmd() (CONFIG_HAVE_MOVE_PMD)."""
    try:
        _rest, sals = gdb.decode_line("move_normal_pmd")
        return bool(sals)
    except gdb.error:
        return False


def no_move_pmd_reason():
    if kernel_config("CONFIG_HAVE_MOVE_PMD") is None:
        return "CONFIG_HAVE_MOVE_PMD is not set"
    return "not built into this binary: older than its .config?"
