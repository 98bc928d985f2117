# SPDX-License-Identifier: GPL-2.0
"""The mpt- commands and $mpt_current(): what the user types, built on the other modules."""

import gdb

from .breakpoints import ReturnBreakpoint, SiteBreakpoint, State, StopBreakpoint, \
    TraceBreakpoint
from .count import MoveCounter
from .movecall import MPT, MoveCall, find_mpt_frame, read_argument
from .pgtable import print_walk
from .sites import call_sites, extent_at
from .tasks import current_task, mm_of
from .utils import PAGE_SIZE, PMD_MASK, U64, hexa, optimized_out, out
from .vmas import mm_vmas, vma_range


def parse_filter(command, arg):
    """[--mremap|--exec] [--mutual] [COMM] | off  ->  (off, comm, kind, mutual)."""
    argv = gdb.string_to_argv(arg)
    if argv == ["off"]:
        return True, None, None, False
    kind = None
    mutual = False
    words = []
    for word in argv:
        if word == "--mremap":
            kind = "mremap"
        elif word == "--exec":
            kind = "exec stack"
        elif word == "--mutual":
            mutual = True
        elif word.startswith("-"):
            raise gdb.GdbError("%s: unknown option '%s'; see 'help %s'" % (command, word, command))
        else:
            words.append(word)
    if len(words) > 1:
        raise gdb.GdbError("usage: %s [--mremap|--exec] [--mutual] [COMM] | off" % command)
    return False, (words[0] if words else None), kind, mutual


def filter_text(comm, kind, mutual):
    parts = []
    if kind:
        parts.append("%s moves" % kind)
    if mutual:
        parts.append("mutually aligned off the PMD boundary")
    if comm:
        parts.append("tasks named %s" % comm)
    return " (only %s)" % ", ".join(parts) if parts else ""


# --- commands ---------------------------------------------------------------------

class MptBreak(gdb.Command):
    """Stop in move_page_tables() and explain whether the move realigns to the PMD.

Usage: mpt-break [--mremap|--exec] [--mutual] [COMM]
                             stop at every call; --mremap: only mremap()
                             moves, --exec: only exec stack shifts,
                             --mutual: only mutually aligned moves off the
                             PMD boundary (the series' candidates), COMM:
                             only by tasks of that name
       mpt-break off         delete the breakpoint

At each stop it prints the old and new address, the length, their offsets
inside the PMD (2 MB), whether they are mutually aligned, whether the move
reaches a PMD boundary, and whether the series realigns it -- and if not,
why not: not mutually aligned, already aligned, does not reach a PMD
boundary, old_addr/new_addr not at its VMA's start, another mapping in the
aligned-down range.  for_stack is shown as passed, or as "n/a" on a kernel
without the series.  Each call stops once: the body that gcc split off
(move_page_tables.part.0) and gdb's signal replays are filtered out.
At each stop $mpt_old, $mpt_new, $mpt_len, $mpt_vma and $mpt_new_vma hold
the call's arguments (e.g. mpt-pte $mpt_old)."""

    def __init__(self):
        super().__init__("mpt-break", gdb.COMMAND_BREAKPOINTS)

    def invoke(self, arg, from_tty):
        off, comm, kind, mutual = parse_filter("mpt-break", arg)
        if State.break_bp is not None and State.break_bp.is_valid():
            State.break_bp.delete()
        State.break_bp = None
        if off:
            return
        State.break_bp = StopBreakpoint(comm, kind, mutual)
        out("mpt-break: breakpoint %d on move_page_tables()%s\n"
                  % (State.break_bp.number, filter_text(comm, kind, mutual)))


class MptTrace(gdb.Command):
    """Log every move_page_tables() call without stopping.

Usage: mpt-trace [--mremap|--exec] [--mutual] [COMM]
                             log each call (filters as for mpt-break)
       mpt-trace off         stop logging

One line per call: task, kind (mremap or exec stack), old and new address,
length, PMD offsets, mutual alignment, whether the move reaches a PMD
boundary, for_stack and whether the series realigns it."""

    def __init__(self):
        super().__init__("mpt-trace", gdb.COMMAND_BREAKPOINTS)

    def invoke(self, arg, from_tty):
        off, comm, kind, mutual = parse_filter("mpt-trace", arg)
        if State.trace_bp is not None and State.trace_bp.is_valid():
            State.trace_bp.delete()
        State.trace_bp = None
        if off:
            out("mpt-trace: off\n")
            return
        State.trace_bp = TraceBreakpoint(comm, kind, mutual, internal=True)
        out("mpt-trace: logging move_page_tables() calls%s; 'mpt-trace off' stops\n"
                  % filter_text(comm, kind, mutual))


class MptCount(gdb.Command):
    """Count PMD-level (move_normal_pmd) and PTE-level (move_ptes) moves.

Usage: mpt-count [COMM]      count until the next guest command (the next
                             exec, or the next exec of COMM) exits, then stop
       mpt-count show        print the table now and stop counting

The table has one row per task name and kind of move (mremap, exec stack):
move_page_tables() calls, move_normal_pmd() calls, move_ptes() calls and the
PTE slots those cover (extent / PAGE_SIZE).  move_normal_pmd() exists only
where CONFIG_HAVE_MOVE_PMD is set (not on UML unless the sandbox adds it);
the table says so.  move_normal_pud() calls (1 GB extents, where
CONFIG_HAVE_MOVE_PUD is set) are counted below the table.  With the
sandbox's debugfs counters in the kernel, the PTEs, PMDs and PUDs actually
moved are shown as well."""

    def __init__(self):
        super().__init__("mpt-count", gdb.COMMAND_BREAKPOINTS)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if len(argv) > 1:
            raise gdb.GdbError("usage: mpt-count [COMM|show]")
        if argv == ["show"]:
            if State.counter is None:
                raise gdb.GdbError("mpt-count: not counting (start with 'mpt-count')")
            out(State.counter.table() + "\n")
            State.counter.stop()
            State.counter = None
            return
        if State.counter is not None:
            State.counter.stop()
        State.counter = MoveCounter(argv[0] if argv else None)
        out("mpt-count: counting; 'continue', then run %s in the guest\n"
                  % (argv[0] if argv else "a command"))
        for note in State.counter.notes:
            out("  %s\n" % note)


class MptInfo(gdb.Command):
    """Explain the move_page_tables() call that the selected frame is in.

Usage: mpt-info

The same report as mpt-break, for a stop from any breakpoint or after
stepping; it also shows where the call's loop is now (old_addr and new_addr
after a realignment)."""

    def __init__(self):
        super().__init__("mpt-info", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("usage: mpt-info")
        frame = gdb.selected_frame()
        while frame is not None and frame.name() != MPT:
            frame = frame.older()
        if frame is None:
            raise gdb.GdbError("not in move_page_tables(): stop there first (mpt-break)")
        # The inner frame (move_page_tables.part.0) still has the
        # arguments where its inlined wrapper's copies are gone.
        call = None
        while call is None and frame is not None and frame.name() == MPT:
            try:
                call = MoveCall(frame, prefer_entry=True)
            except gdb.GdbError:
                frame = frame.older()
        if call is None:
            call = State.last_call
            if call is None or call.pid != int(current_task()["pid"]):
                raise gdb.GdbError("move_page_tables(): the arguments are <optimized out> "
                                   "here; stop at the function's entry (mpt-break)")
            out("(arguments as recorded when mpt-break stopped)\n")
        out(call.report() + "\n")
        inner = gdb.selected_frame()
        while inner is not None and inner.name() != MPT:
            inner = inner.older()
        now = []
        for name in ("old_addr", "new_addr"):
            try:
                value = inner.read_var(name)
                if not optimized_out(value):
                    now.append("%s=%s" % (name, hexa(int(value) & U64)))
            except (gdb.error, ValueError):
                pass
        if now:
            out("  now in the frame       %s\n" % " ".join(now))


class MptNextMove(gdb.Command):
    """Run to the next extent that move_page_tables() moves, and show it.

Usage: mpt-next-move

Continues until the task being debugged reaches the next move_ptes(),
move_normal_pmd() or move_normal_pud() call, then prints the extent: where
it starts in the old and the new range, its size and level.  The first one after mpt-break shows
whether the call was realigned: it then starts at the PMD boundary below
old_addr."""

    def __init__(self):
        super().__init__("mpt-next-move", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("usage: mpt-next-move")
        pid = int(current_task()["pid"])
        hit = {}

        def on_site(level):
            def callback(frame):
                if int(current_task()["pid"]) != pid:
                    return False
                hit["level"] = level
                hit["extent"] = extent_at(frame)
                return True
            return callback

        pte_sites, _ = call_sites("move_ptes")
        pmd_sites, _ = call_sites("move_normal_pmd")
        bps = [SiteBreakpoint(a, on_site("PTE level, move_ptes()")) for a in pte_sites]
        bps += [SiteBreakpoint(a, on_site("PMD level, move_normal_pmd()")) for a in pmd_sites]
        # A 1 GB extent (CONFIG_HAVE_MOVE_PUD): else the next stop would be
        # the extent after it, reported as the first.
        pud_sites, _ = call_sites("move_normal_pud")
        bps += [SiteBreakpoint(a, on_site("PUD level, move_normal_pud()")) for a in pud_sites]
        for bp in bps:
            bp.silent = True      # gdb's frame line would show <optimized out>
        try:
            gdb.execute("continue")
        finally:
            for bp in bps:
                if bp.is_valid():
                    bp.delete()
        if not hit:
            return
        call = State.last_call
        if hit["extent"] is None:
            out("mpt-next-move: %s; the addresses are <optimized out> here\n"
                      % hit["level"])
            return
        old, new, extent = hit["extent"]
        sal = gdb.selected_frame().find_sal()
        where = ("%s:%d" % (sal.symtab.filename.split("../")[-1], sal.line)
                 if sal.symtab is not None else hexa(gdb.selected_frame().pc()))
        out("mpt-next-move: %s at %s\n  old %s-%s -> new %s-%s (%s, %d PTE slots)\n"
                  % (hit["level"], where, hexa(old), hexa(old + extent), hexa(new),
                     hexa(new + extent), hexa(extent), extent // PAGE_SIZE))
        if call is None or call.pid != pid:
            return
        if old == call.old and new == call.new:
            out("  the call's first extent starts at old_addr: not realigned\n")
        elif (old == call.old & PMD_MASK and new == call.new & PMD_MASK and
              old < call.old < old + extent):
            out("  the call's first extent starts at the PMD boundaries below old_addr "
                "and new_addr: realigned\n")


class MptFinish(gdb.Command):
    """Run until the move_page_tables() call being debugged returns.

Usage: mpt-finish

Prints what it returned (how much it moved) and walks the page tables of
the first page of the old and the new range (mpt-pte), which show the
move.  Where gcc inlined the function's entry into move_vma(), its body
must have been entered first: 'mpt-next-move', then 'mpt-finish'."""

    def __init__(self):
        super().__init__("mpt-finish", gdb.COMMAND_RUNNING)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("usage: mpt-finish")
        frame = gdb.selected_frame()
        while frame is not None and frame.name() != MPT:
            frame = frame.older()
        if frame is None:
            raise gdb.GdbError("not in move_page_tables(): stop there first (mpt-break)")
        while frame.type() != gdb.NORMAL_FRAME:
            older = frame.older()
            if older is None or older.name() != MPT:
                raise gdb.GdbError("move_page_tables() is inlined into %s here and has not "
                                   "entered its body yet: 'mpt-next-move' first"
                                   % (older.name() if older is not None else "its caller"))
            frame = older
        call = State.last_call
        finish = ReturnBreakpoint(frame)
        try:
            gdb.execute("continue")
        finally:
            if finish.is_valid():
                finish.delete()
        if not finish.hit:
            return          # stopped somewhere else first
        if finish.value is not None:
            moved = int(finish.value) & U64
            out("mpt-finish: move_page_tables() returned %s" % hexa(moved))
            if call is not None and call.pid == int(current_task()["pid"]):
                out(" (%s of %s bytes moved)" % ("all" if moved == call.len else hexa(moved),
                                                  hexa(call.len)))
            out("\n")
        if call is not None and call.pid == int(current_task()["pid"]):
            gdb.execute("mpt-pte %#x %d" % (call.old, call.pid))
            gdb.execute("mpt-pte %#x %d" % (call.new, call.pid))


class MptPte(gdb.Command):
    """Walk the page tables of a user address: pgd, pmd and pte entries.

Usage: mpt-pte ADDR [PID]

Uses the mm of PID, else of the move_page_tables() call being debugged,
else of the current task.  Shows each entry's kernel address and value
(UML's three levels: pgd -> pmd -> pte; p4d and pud are folded) and the
page the pte maps.  Before and after a PMD-level move the pmd entry of the
new address holds the page table that the old one held."""

    def __init__(self):
        super().__init__("mpt-pte", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not 1 <= len(argv) <= 2:
            raise gdb.GdbError("usage: mpt-pte ADDR [PID]")
        try:
            addr = int(gdb.parse_and_eval(argv[0])) & U64
        except gdb.error as err:
            raise gdb.GdbError("mpt-pte: bad address '%s': %s" % (argv[0], err))
        frame_mm = None
        frame = find_mpt_frame()
        if frame is not None and len(argv) == 1:
            vma = read_argument(frame, "vma")
            if vma is not None:
                frame_mm = vma["vm_mm"]
        mm, owner = mm_of(argv[1] if len(argv) > 1 else None, frame_mm)
        print_walk(addr, mm, owner)


class MptVmas(gdb.Command):
    """List the VMAs of a process, read from its mm's maple tree.

Usage: mpt-vmas [PID]

Uses the mm of PID, else of the move_page_tables() call being debugged,
else of the current task.  Marks the PMD boundaries below each start: the
range that a realignment would take along."""

    def __init__(self):
        super().__init__("mpt-vmas", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if len(argv) > 1:
            raise gdb.GdbError("usage: mpt-vmas [PID]")
        frame_mm = None
        frame = find_mpt_frame()
        if frame is not None and not argv:
            vma = read_argument(frame, "vma")
            if vma is not None:
                frame_mm = vma["vm_mm"]
        mm, owner = mm_of(argv[0] if argv else None, frame_mm)
        out("VMAs of mm %#x (%s):\n" % (int(mm), owner))
        for vma in mm_vmas(mm):
            vm_start, vm_end = vma_range(vma)
            flags = int(vma["vm_flags"])
            out("  %#014x-%#014x %8dK  %s%s%s  PMD offset %#x  (vma %#x)\n"
                      % (vm_start, vm_end, (vm_end - vm_start) // 1024,
                         "r" if flags & 1 else "-", "w" if flags & 2 else "-",
                         "x" if flags & 4 else "-", vm_start & ~PMD_MASK & U64, int(vma)))


class MptCurrent(gdb.Function):
    """The running task (struct task_struct *), read from UML's cpu_tasks[].

Usage: $mpt_current()

The same on every kernel of the sandbox.  6.1's $lx_current() reads x86's
per-CPU current_task, which UML does not have; 6.12's reads cpu_tasks[] on
UML too, and agrees with this one."""

    def __init__(self):
        super().__init__("mpt_current")

    def invoke(self):
        return current_task()



def register():
    """Create the commands and the convenience function (gdb keeps them)."""
    for command in (MptBreak, MptTrace, MptCount, MptInfo, MptNextMove, MptFinish, MptPte,
                    MptVmas, MptCurrent):
        command()
