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
  $mpt_current()          the running task (6.1's $lx_current() fails on UML)

FILTER: [--mremap|--exec] [--mutual] [COMM] (see 'help mpt-break').

Loaded by the sandbox's gdbinit ('import mremap_sandbox', with scripts/gdb
on sys.path), as vmlinux-gdb.py loads the kernel's linux package.  One
module per concern, as in the kernel's scripts/gdb/linux/:

  utils        constants, cached types, output, the kernel's .config
  tasks        the running task on UML, tasks by PID, the mm to work on
  vmas         an mm's VMAs from its maple tree
  pgtable      the page-table walk of mpt-pte
  movecall     one move_page_tables() call: arguments and the series' rules
  sites        call sites of inlined functions, the extent moved at one
  breakpoints  the breakpoints, filtered of gdb's signal replays
  count        mpt-count's bookkeeping
  commands     the mpt- commands themselves

Works with and without the series "Optimize mremap during mutual alignment
within PMD", on the sandbox's 6.1 kernels and on upstream 6.12: the seventh
argument of move_page_tables(), for_stack, is looked up by name, and the
exec stack shift is recognised by its caller in either kernel
(shift_arg_pages() in 6.1, relocate_vma_down() in 6.12).
"""

from . import commands

commands.register()
