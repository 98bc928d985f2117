# SPDX-License-Identifier: GPL-2.0
"""GDB commands that show what move_page_tables() does in the sandbox's UML kernel.

  mpt-break [FILTER]      stop in move_page_tables(), explain the realignment
  mpt-trace [FILTER|off]  log every call without stopping
  mpt-count [COMM|show]   count move_normal_pmd() and move_ptes() calls
  mpt-info                explain the move_page_tables() call being debugged
  mpt-next-move           run to the next extent the current call moves
  mpt-finish              run until the current call returns, show the result
  mpt-pte ADDR [PID]      walk the page tables of ADDR
  mpt-vmas [PID]          list the VMAs of a process (from the maple tree)
  $mpt_current()          the running task ($lx_current() does not work on UML)

FILTER: [--mremap|--exec] [--mutual] [COMM] (see 'help mpt-break').

Loaded by the sandbox's gdbinit.  Works with and without the series "Optimize
mremap during mutual alignment within PMD": the seventh argument of
move_page_tables(), for_stack, is looked up by name.
"""

import os
import re

import gdb

try:
    from linux import tasks as lx_tasks   # the kernel's own helpers (vmlinux-gdb.py)
except ImportError:
    lx_tasks = None

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
# arch/um/include/asm/pgtable.h
PTE_FLAGS = ((0x001, "present"), (0x002, "newpage"), (0x004, "newprot"),
             (0x010, "protnone"), (0x020, "rw"), (0x040, "user"),
             (0x080, "accessed"), (0x100, "dirty"))

MPT = "move_page_tables"
# The callers of move_page_tables() and what they move.
CALLER_KINDS = {"move_vma": "mremap", "shift_arg_pages": "exec stack",
                "setup_arg_pages": "exec stack"}


# --- lookups shared by the commands -------------------------------------------

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


# --- tasks and VMAs -------------------------------------------------------------

def current_task():
    """The running task: UML records it in cpu_tasks[] on every switch."""
    try:
        task = gdb.parse_and_eval("cpu_tasks[0].task")
    except gdb.error:
        raise gdb.GdbError("no cpu_tasks: this does not look like a UML kernel")
    return task.cast(TYPES.pointer("struct task_struct"))


def task_by_pid(pid):
    if lx_tasks is None:
        raise gdb.GdbError("looking up a PID needs the kernel's lx- helpers (vmlinux-gdb.py)")
    task = lx_tasks.get_task_by_pid(pid)
    if task is None:
        raise gdb.GdbError("no task with PID %d (see lx-ps)" % pid)
    return task


def task_name(task):
    return "%s[%d]" % (task["comm"].string(), int(task["pid"]))


def mm_of(argument, frame_mm=None):
    """The mm of a PID argument, of the move being debugged, or of current."""
    if argument:
        try:
            pid = int(argument, 0)
        except ValueError:
            raise gdb.GdbError("'%s' is not a PID" % argument)
        task = task_by_pid(pid)
        mm = task["mm"]
        if not int(mm):
            raise gdb.GdbError("%s is a kernel thread: it has no mm" % task_name(task))
        return mm, task_name(task)
    if frame_mm is not None:
        return frame_mm, "the task in move_page_tables()"
    task = current_task()
    mm = task["mm"]
    if not int(mm):
        raise gdb.GdbError("the current task %s has no mm: give a PID (see lx-ps)"
                           % task_name(task))
    return mm, task_name(task)


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


# --- one call of move_page_tables() ---------------------------------------------

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


def comm_matches(comm, wanted):
    # task->comm holds 15 characters.
    return wanted is None or comm == wanted[:15]


# --- where calls happen ---------------------------------------------------------

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


# --- breakpoints -----------------------------------------------------------------

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


class State:
    """What the commands share between invocations."""
    break_bp = None
    trace_bp = None
    last_call = None
    counter = None


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
        self.mpt_bp = CountBreakpoint(self)
        self.breakpoints.append(self.mpt_bp)
        for address in self.pmd_sites:
            self.breakpoints.append(SiteBreakpoint(address, self.on_pmd))
        for address in self.pte_sites:
            self.breakpoints.append(SiteBreakpoint(address, self.on_pte))
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


class MptCount(gdb.Command):
    """Count PMD-level (move_normal_pmd) and PTE-level (move_ptes) moves.

Usage: mpt-count [COMM]      count until the next guest command (the next
                             exec, or the next exec of COMM) exits, then stop
       mpt-count show        print the table now and stop counting

The table has one row per task name and kind of move (mremap, exec stack):
move_page_tables() calls, move_normal_pmd() calls, move_ptes() calls and the
PTE slots those cover (extent / PAGE_SIZE).  move_normal_pmd() exists only
where CONFIG_HAVE_MOVE_PMD is set (not on UML unless the sandbox adds it);
the table says so.  With the sandbox's debugfs counters in the kernel, the
PTEs and PMDs actually moved are shown as well."""

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

Continues until the task being debugged reaches the next move_ptes() or
move_normal_pmd() call, then prints the extent: where it starts in the old
and the new range, its size and level.  The first one after mpt-break shows
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
        try:
            physmem = int(gdb.parse_and_eval("uml_physmem"))
        except gdb.error:
            raise gdb.GdbError("mpt-pte: no uml_physmem: this walker knows only UML")
        out("%s in mm %#x (%s)\n" % (hexa(addr), int(mm), owner))
        table = int(mm["pgd"])
        levels = (("pgd", PGDIR_SHIFT), ("pmd", PMD_SHIFT), ("pte", PAGE_SHIFT))
        for name, shift in levels:
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
                      % (line, " ".join(flags), levels[levels.index((name, shift)) + 1][0],
                         physmem + phys))
            if not value & 0x001:
                return
            table = physmem + phys


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

The kernel's $lx_current() reads x86's per-CPU current_task, which UML
does not have."""

    def __init__(self):
        super().__init__("mpt_current")

    def invoke(self):
        return current_task()


MptBreak()
MptTrace()
MptCount()
MptInfo()
MptNextMove()
MptFinish()
MptPte()
MptVmas()
MptCurrent()
