# SPDX-License-Identifier: GPL-2.0
"""Tasks: the running task on UML, a task by PID, the mm a command works on."""

import gdb

from .utils import TYPES

try:
    from linux import tasks as lx_tasks   # the kernel's own helpers (vmlinux-gdb.py)
except ImportError:
    lx_tasks = None


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


def comm_matches(comm, wanted):
    # task->comm holds 15 characters.
    return wanted is None or comm == wanted[:15]
