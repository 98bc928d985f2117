# SPDX-License-Identifier: GPL-2.0
"""mpt-count's bookkeeping: move_page_tables(), move_normal_pmd() and move_ptes() per task."""

import gdb

from .breakpoints import MptBreakpoint, ReplayFilter, SiteBreakpoint, State
from .movecall import no_move_pmd_reason
from .sites import call_sites, extent_at
from .tasks import comm_matches, current_task, task_name
from .utils import PAGE_SIZE, hexa, out

class MoveCounter:
    """Counts of one mpt-count session, by task name and kind of move."""

    COLUMNS = ("calls", "move_normal_pmd", "move_ptes", "PTE slots")

    def __init__(self, comm):
        self.comm = comm
        self.target_pid = None
        self.finished = False
        self.rows = {}
        self.current = {}      # pid -> row of its last move_page_tables() call
        self.breakpoints = []
        self.notes = []
        self.kernel_start = self.kernel_counters()
        self.pmd_sites, pmd_how = call_sites("move_normal_pmd")
        self.pte_sites, pte_how = call_sites("move_ptes")
        # PUD-level moves (1 GB extents): counted, outside the table, whose
        # columns stay those of every kernel.
        self.pud_sites, pud_how = call_sites("move_normal_pud")
        self.puds = 0
        if not self.pte_sites:
            raise gdb.GdbError("mpt-count: move_ptes() not found in this kernel")
        if not self.pmd_sites:
            self.notes.append("move_normal_pmd(): not in this kernel (%s): PMD-level "
                              "moves cannot happen, every extent goes through move_ptes()"
                              % no_move_pmd_reason())
        else:
            self.notes.append("move_normal_pmd(): counted at its %s (%s); a call "
                              "can still fall back to move_ptes()" % (pmd_how, ", ".join(
                                  hexa(a) for a in self.pmd_sites)))
        self.notes.append("move_ptes(): counted at its %s (%s)"
                          % (pte_how, ", ".join(hexa(a) for a in self.pte_sites)))
        if self.pud_sites:
            self.notes.append("move_normal_pud(): counted at its %s (%s)" % (pud_how, ", ".join(
                hexa(a) for a in self.pud_sites)))
        self.mpt_bp = CountBreakpoint(self)
        self.breakpoints.append(self.mpt_bp)
        for address in self.pmd_sites:
            self.breakpoints.append(SiteBreakpoint(address, self.on_pmd))
        for address in self.pte_sites:
            self.breakpoints.append(SiteBreakpoint(address, self.on_pte))
        for address in self.pud_sites:
            self.breakpoints.append(SiteBreakpoint(address, self.on_pud))
        self.breakpoints.append(ExecBreakpoint(self))
        self.breakpoints.append(ExitBreakpoint(self))

    @staticmethod
    def kernel_counters():
        """The sandbox's debugfs counters (mremap_moves), when the kernel has them."""
        counters = {}
        for name in ("moved_ptes", "moved_pmds"):
            symbol = gdb.lookup_static_symbol(name)
            if symbol is None:
                return None
            counters[name] = int(symbol.value()["counter"])
        symbol = gdb.lookup_static_symbol("moved_puds")
        if symbol is not None:
            counters["moved_puds"] = int(symbol.value()["counter"])
        return counters

    def row(self, comm, kind):
        return self.rows.setdefault((comm, kind), {c: 0 for c in self.COLUMNS})

    def on_call(self, call):
        if self.finished:
            return
        row = self.row(call.comm, call.kind)
        row["calls"] += 1
        self.current[call.pid] = row

    def row_of_current(self):
        task = current_task()
        pid = int(task["pid"])
        if pid not in self.current:
            self.current[pid] = self.row(task["comm"].string(), "?")
        return self.current[pid]

    def on_pmd(self, frame):
        if not self.finished:
            self.row_of_current()["move_normal_pmd"] += 1
        return False

    def on_pud(self, frame):
        if not self.finished:
            self.puds += 1
        return False

    def on_pte(self, frame):
        if self.finished:
            return False
        row = self.row_of_current()
        row["move_ptes"] += 1
        extent = extent_at(frame)
        if extent is not None:
            row["PTE slots"] += extent[2] // PAGE_SIZE
        return False

    def table(self):
        lines = []
        width = max([len("comm")] + [len(comm) for comm, _kind in self.rows])
        header = "%-*s  %-10s" % (width, "comm", "kind") + "".join(
            "  %15s" % c for c in self.COLUMNS)
        lines.append(header)
        totals = {c: 0 for c in self.COLUMNS}
        pmd_absent = not self.pmd_sites
        for (comm, kind), row in sorted(self.rows.items()):
            cells = []
            for column in self.COLUMNS:
                totals[column] += row[column]
                cells.append("-" if column == "move_normal_pmd" and pmd_absent
                             else str(row[column]))
            lines.append("%-*s  %-10s" % (width, comm, kind) +
                         "".join("  %15s" % c for c in cells))
        lines.append("%-*s  %-10s" % (width, "total", "") + "".join(
            "  %15s" % ("-" if c == "move_normal_pmd" and pmd_absent else totals[c])
            for c in self.COLUMNS))
        end = self.kernel_counters()
        if self.kernel_start is not None and end is not None:
            lines.append("kernel counters (debugfs mremap_moves): %d PTEs and %d PMDs moved"
                         % (end["moved_ptes"] - self.kernel_start["moved_ptes"],
                            end["moved_pmds"] - self.kernel_start["moved_pmds"]))
        if self.pud_sites:
            lines.append("PUD level: %d move_normal_pud() calls" % self.puds)
        if self.kernel_start is not None and end is not None and "moved_puds" in end:
            lines.append("kernel counters (debugfs mremap_moves): %d PUDs moved"
                         % (end["moved_puds"] - self.kernel_start["moved_puds"]))
        lines.extend(self.notes)
        return "\n".join(lines)

    def stop(self):
        for bp in self.breakpoints:
            if bp.is_valid():
                bp.delete()
        self.breakpoints = []

    def finish(self):
        """End counting from a breakpoint's stop(), which must not delete it.

        Deleting breakpoints there, or with gdb.post_event(), crashes gdb 13:
        they go when gdb shows its prompt next; until then they count
        nothing.
        """
        self.finished = True

        def delete_later():
            gdb.events.before_prompt.disconnect(delete_later)
            self.stop()
        gdb.events.before_prompt.connect(delete_later)


class CountBreakpoint(MptBreakpoint):
    def __init__(self, counter):
        super().__init__(None, internal=True)
        self.counter = counter

    def on_unreadable(self):
        return False

    def on_call(self, call):
        self.counter.on_call(call)
        return False


class ExecBreakpoint(gdb.Breakpoint):
    """Finds the command to wait for: the first exec after mpt-count."""

    def __init__(self, counter):
        super().__init__("setup_new_exec", internal=True)
        self.counter = counter
        self.replays = ReplayFilter()

    def stop(self):
        if (self.counter.finished or self.counter.target_pid is not None or
                not self.replays.genuine()):
            return False
        task = current_task()
        if comm_matches(task["comm"].string(), self.counter.comm):
            self.counter.target_pid = int(task["pid"])
            out("mpt-count: counting until %s exits\n" % task_name(task))
        return False


class ExitBreakpoint(gdb.Breakpoint):
    def __init__(self, counter):
        super().__init__("do_exit", internal=True)
        self.counter = counter
        self.replays = ReplayFilter()

    def stop(self):
        if (self.counter.finished or self.counter.target_pid is None or
                not self.replays.genuine()):
            return False
        task = current_task()
        if int(task["pid"]) != self.counter.target_pid:
            return False
        out("mpt-count: %s exited\n%s\n" % (task_name(task), self.counter.table()))
        self.counter.finish()
        State.counter = None
        return True
