# SPDX-License-Identifier: GPL-2.0
# GDB setup for the sandbox's UML kernel: settings, lx- helpers, UML's signals, mpt- commands.
#
# scripts/gdb/gdb-uml.sh loads it (gdb -x gdbinit) and sets two variables first:
#   $sandbox_kdir  the kernel's build directory (vmlinux-gdb.py, .config)
#   $sandbox_top   the top of this tree (scripts/gdb/)
# By hand, from the top of the tree, both default sensibly:
#   gdb -x gdbinit --args build/kernel/patched/linux mem=512M ...
# 'apropos mpt-' lists the sandbox's commands, 'help mpt-break' etc. explain them.

# --- generic settings -----------------------------------------------------------
set pagination off
set confirm off
# UML's user processes are host processes that the kernel forks and then
# ptraces itself: gdb must let go of each one at once (a second tracer
# would make the child's PTRACE_TRACEME fail), and quietly, as every guest
# exec forks a few.
set follow-fork-mode parent
set detach-on-fork on
set print inferior-events off
# A breakpoint on a function this kernel lacks is an error, not a pending
# breakpoint: there are no modules to load it later.
set breakpoint pending off

# --- helpers: the kernel's lx- commands -----------------------------------------
# vmlinux-gdb.py lies in the build directory (make scripts_gdb, with
# CONFIG_GDB_SCRIPTS=y); gdb-uml.sh passes that directory, else it is the
# one of the kernel binary.  gdb would auto-load it only for a binary named
# vmlinux, and ours is 'linux': source it explicitly.
python
import os

def _sandbox_setting(name):
    value = gdb.convenience_variable(name)
    return value.string() if value is not None else None

_kdir = _sandbox_setting("sandbox_kdir")
if not _kdir and gdb.current_progspace().filename:
    _kdir = os.path.dirname(os.path.realpath(
        gdb.current_progspace().filename.replace(" (deleted)", "")))
if not _kdir:
    gdb.write("gdbinit: no kernel loaded and no $sandbox_kdir: lx- commands not loaded\n")
else:
    gdb.execute("add-auto-load-safe-path " + _kdir)
    _lx = os.path.join(_kdir, "vmlinux-gdb.py")
    if os.path.exists(_lx):
        gdb.execute("source " + _lx)
    else:
        gdb.write("gdbinit: no vmlinux-gdb.py in %s: lx- commands not loaded\n"
                  "  build it: make -C %s scripts_gdb (needs CONFIG_GDB_SCRIPTS=y)\n"
                  % (_kdir, _kdir))
end

# --- UML's signals (arch/um/os-Linux/signal.c, os-Linux/main.c) ------------------
# Kernel-mode page faults: UML maps kernel memory lazily and fixes up user
# accesses in segv_handler() (arch/um/kernel/trap.c).  A real crash still
# ends in panic(), which has a breakpoint below.
handle SIGSEGV nostop noprint pass
# Interrupts: UML turns I/O on its file descriptors (console, hostfs
# helpers) into IRQs in sigio_handler().
handle SIGIO nostop noprint pass
# The timer tick: a host POSIX timer (os_timer_create()) delivers SIGALRM
# to timer_alarm_handler().  It keeps running while gdb is stopped, so one
# is usually pending on 'continue'; the mpt- commands filter the breakpoint
# replays this causes (see is_signal_replay() in
# scripts/gdb/mremap_sandbox/breakpoints.py).
handle SIGALRM nostop noprint pass
# The console's window size changed: winch() (drivers/chan_user.c).  The
# terminal sends it to gdb as well.
handle SIGWINCH nostop noprint pass
# Wake-up from suspend: sigusr1_handler(), registered by
# init_pm_wake_signal() (arch/um/kernel/um_arch.c).
handle SIGUSR1 nostop noprint pass
# UML ptraces its user processes: their every stop reaches it as SIGCHLD
# (gdb's default, spelled out).
handle SIGCHLD nostop noprint pass
# Left at gdb's defaults on purpose: SIGTRAP is gdb's own breakpoints;
# SIGILL, SIGFPE and SIGBUS in the kernel process are kernel bugs and stop.
# SIGPIPE and SIGPROF never arrive: UML blocks them (os-Linux/main.c).

# --- ending a run ---------------------------------------------------------------
# UML runs the guest's processes as host processes that it forks and
# ptraces.  When gdb kills the kernel (quit, kill, run again, the end of a
# batch script), they are let go of and run on as plain host processes --
# their system calls then reach the host -- until gdb-uml.sh's cleanup
# kills them.  Kill them first: the kernel's children that carry its umid=
# argument.  Not when gdb detaches from a guest it attached to: that guest
# goes on.
python
import signal

def _sandbox_kill_guest_processes(*_args):
    inferior = gdb.selected_inferior()
    if not inferior.pid or inferior.was_attached:
        return
    try:
        with open("/proc/%d/cmdline" % inferior.pid, "rb") as cmdline:
            umid = [arg for arg in cmdline.read().split(b"\0") if arg.startswith(b"umid=")]
    except OSError:
        return
    if not umid:
        return
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            if parent != inferior.pid:
                continue
            with open("/proc/%s/cmdline" % entry, "rb") as cmdline:
                if umid[0] in cmdline.read().split(b"\0"):
                    os.kill(int(entry), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass

gdb.events.gdb_exiting.connect(_sandbox_kill_guest_processes)
end
define hook-quit
  python _sandbox_kill_guest_processes()
end
define hook-kill
  python _sandbox_kill_guest_processes()
end
define hook-run
  python _sandbox_kill_guest_processes()
end

# --- stepping -------------------------------------------------------------------
# A timer tick during 'next' or 'step' takes gdb into UML's signal handler
# (hard_handler(): it runs on an alternate signal stack, which gdb's
# stepping does not recognise as a handler's) instead of to the next line.
# Drop SIGALRM while gdb steps -- the periodic timer just goes on, a tick
# is lost -- and pass it again as soon as gdb stops or shows its prompt.
define hook-next
  python gdb.execute("handle SIGALRM nostop noprint nopass", False, True)
end
define hook-step
  python gdb.execute("handle SIGALRM nostop noprint nopass", False, True)
end
define hook-nexti
  python gdb.execute("handle SIGALRM nostop noprint nopass", False, True)
end
define hook-stepi
  python gdb.execute("handle SIGALRM nostop noprint nopass", False, True)
end
python
def _sandbox_pass_ticks(_event=None):
    gdb.execute("handle SIGALRM nostop noprint pass", False, True)

gdb.events.stop.connect(_sandbox_pass_ticks)
gdb.events.before_prompt.connect(_sandbox_pass_ticks)
end

# --- the project's helpers: mpt- commands ---------------------------------------
python
_top = _sandbox_setting("sandbox_top")
_candidates = [_top] if _top else []
_candidates.append(os.getcwd())
if gdb.current_progspace().filename:
    # build/kernel/<name>/linux -> the top of the tree
    _candidates.append(os.path.join(os.path.dirname(os.path.realpath(
        gdb.current_progspace().filename.replace(" (deleted)", ""))), "..", "..", ".."))
# The package scripts/gdb/mremap_sandbox/ (one module per concern, as the
# kernel's scripts/gdb/linux/), imported as vmlinux-gdb.py imports that one.
for _dir in _candidates:
    _helpers = os.path.normpath(os.path.join(_dir, "scripts", "gdb"))
    if os.path.exists(os.path.join(_helpers, "mremap_sandbox", "__init__.py")):
        import sys
        if _helpers not in sys.path:
            sys.path.insert(0, _helpers)
        import mremap_sandbox  # noqa: F401 (registers the mpt- commands)
        break
else:
    gdb.write("gdbinit: scripts/gdb/mremap_sandbox/ not found: mpt- commands not loaded\n"
              "  set $sandbox_top to the top of the sandbox tree first (gdb -iex)\n")
end

# --- breakpoints ----------------------------------------------------------------
# Stop where the kernel reports a bug, with its backtrace intact: WARN()
# (the series fixes one in move_page_tables() during exec) and panic()
# (an oops: CONFIG_PANIC_ON_OOPS).  'delete' removes them.
break __warn
break panic
