# SPDX-License-Identifier: GPL-2.0
"""The package's breakpoints: move_page_tables() seen once per call, call sites, returns.

Every stop() here first filters gdb's replays of a breakpoint after a
timer signal (ReplayFilter, is_signal_replay()).  State holds what the
commands share between invocations."""

import re

import gdb

from .movecall import CALLER_KINDS, MPT, MoveCall, caller_of, is_continuation
from .sites import function_block
from .tasks import comm_matches, current_task
from .utils import out

def is_signal_replay():
    """True when gdb re-evaluates the breakpoint it was stepping over.

    UML's timer (SIGALRM, a host POSIX timer) keeps running while gdb is
    stopped, so a signal is often pending when gdb steps over a breakpoint
    it hit.  gdb delivers it, puts a "high-priority step resume" breakpoint
    where the handler returns -- the very address of our breakpoint -- and
    evaluates our stop() again there.  Without this check every hit could be
    counted several times, and a slow stop() loops forever (each pass lets
    the next timer signal arrive).
    """
    pc = gdb.selected_frame().pc()
    for line in gdb.execute("maint info breakpoints", False, True).splitlines():
        if "step resume" not in line:
            continue
        for address in re.findall(r"0x[0-9a-f]+", line):
            if int(address, 16) == pc:
                return True
    return False


class ReplayFilter:
    """Cheap first test for is_signal_replay(): a replay repeats the last state.

    Seeded with the state gdb is stopped in, if any: a breakpoint created at
    the current pc is first evaluated by the replay of that very stop.
    """

    REGISTERS = ("rsp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
                 "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")

    def __init__(self):
        try:
            self._last = self.state()
        except gdb.error:
            self._last = None

    def state(self):
        frame = gdb.selected_frame()
        return (frame.pc(),) + tuple(int(frame.read_register(r)) for r in self.REGISTERS)

    def genuine(self):
        key = self.state()
        if key != self._last:
            self._last = key
            return True
        return not is_signal_replay()



class MptBreakpoint(gdb.Breakpoint):
    """A breakpoint on move_page_tables() that sees each call once."""

    def __init__(self, comm, kind=None, mutual=False, internal=False):
        super().__init__(MPT, internal=internal)
        self.comm = comm
        self.kind = kind
        self.mutual = mutual
        self.replays = ReplayFilter()

    def stop(self):
        if not self.replays.genuine():
            return False
        frame = gdb.selected_frame()
        block = None
        if frame.name() != MPT:
            # At the first instruction of an inlined copy gdb shows the
            # inlined frame only for a user breakpoint: for an internal
            # one the newest frame is the caller's (move_vma()).
            block = function_block(frame.pc(), MPT)
            if block is None:
                return False
        elif is_continuation(frame):
            return False
        if not comm_matches(current_task()["comm"].string(), self.comm):
            return False
        if self.kind is not None:
            caller = frame.name() if block is not None else caller_of(frame)
            if CALLER_KINDS.get(caller, "other") != self.kind:
                return False
        try:
            call = MoveCall(frame, block)
        except gdb.GdbError as err:
            out("mpt: at %#x (%s): %s\n" % (frame.pc(), gdb.execute(
                "info symbol %d" % frame.pc(), False, True).strip(), err))
            return self.on_unreadable()
        if self.mutual and not (call.mutual and not call.already):
            return False
        return self.on_call(call)

    def on_unreadable(self):
        return True

    def on_call(self, call):
        raise NotImplementedError


class StopBreakpoint(MptBreakpoint):
    def on_call(self, call):
        State.last_call = call
        gdb.set_convenience_variable("mpt_old", call.old)
        gdb.set_convenience_variable("mpt_new", call.new)
        gdb.set_convenience_variable("mpt_len", call.len)
        gdb.set_convenience_variable("mpt_vma", call.vma)
        gdb.set_convenience_variable("mpt_new_vma", call.new_vma)
        out(call.report() + "\n")
        return True


class TraceBreakpoint(MptBreakpoint):
    def on_unreadable(self):
        return False

    def on_call(self, call):
        out(call.one_line() + "\n")
        return False


class SiteBreakpoint(gdb.Breakpoint):
    """Internal breakpoint at a call site; calls back with genuine hits."""

    def __init__(self, address, callback):
        super().__init__("*%#x" % address, internal=True)
        self.callback = callback
        self.replays = ReplayFilter()

    def stop(self):
        if not self.replays.genuine():
            return False
        return self.callback(gdb.selected_frame())


class ReturnBreakpoint(gdb.FinishBreakpoint):
    """Where a frame returns to; keeps the return value."""

    def __init__(self, frame):
        super().__init__(frame, internal=True)
        self.silent = True        # gdb's frame line would show <optimized out>
        self.hit = False
        self.value = None

    def stop(self):
        self.hit = True
        self.value = self.return_value
        return True


class State:
    """What the commands share between invocations."""
    break_bp = None
    trace_bp = None
    last_call = None
    counter = None
