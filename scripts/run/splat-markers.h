/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The markers of a kernel splat in a console line, and the class each names.
 *
 * SPLAT_MARKERS(M) calls M(text, class) for each, in order: the first that
 * matches a line decides its class, so "BUG: soft lockup" is a soft lockup,
 * not a BUG, and UML's "Kernel panic - not syncing: Kernel mode fault" is an
 * exception.  splat-class classifies with them; uml-launch only asks
 * whether a log holds any, so that a clean run need not start splat-class.
 * The one list: the guest's runner (tests/guest/run_tests.c) includes it
 * too, and run-uml.sh's fallback (no splat-class) greps these texts.
 *
 * "host exhaustion" is UML failing to map a guest process's memory on the
 * host (arch/um/kernel/tlb.c, and 6.12's stub syscalls): the host's
 * vm.max_map_count or its memory ran out, and the guest process is
 * killed.  Not a bug of the guest kernel, but no run may pass through it.
 * One marker per line of this list, as M("text", "class"): the fallback
 * reads the texts from it with sed.
 */
#ifndef SPLAT_MARKERS_H
#define SPLAT_MARKERS_H

#define SPLAT_MARKERS(M)						\
	M("ran out of memory on the host side", "host exhaustion")	\
	M("Failed to flush page for address", "host exhaustion")	\
	M("Error flushing stub syscalls", "host exhaustion")		\
	M("fix_range_common: failed", "host exhaustion")		\
	M("BUG: soft lockup", "soft lockup")				\
	M("blocked for more than", "hung task")				\
	M("rcu_sched self-detected stall", "RCU stall")			\
	M("rcu: INFO: rcu_", "RCU stall")				\
	M("invoked oom-killer", "OOM kill")				\
	M("Out of memory: Killed process", "OOM kill")			\
	M("Memory cgroup out of memory", "OOM kill")			\
	M("Kernel mode fault at addr", "exception")			\
	M("Kernel mode signal", "exception")				\
	M("BUG: unable to handle", "exception")				\
	M("BUG: kernel NULL pointer dereference", "exception")		\
	M("Unable to handle kernel", "exception")			\
	M("general protection fault", "exception")			\
	M("Oops", "exception")						\
	M("WARNING:", "WARNING")					\
	M("kernel BUG at", "BUG")					\
	M("BUG:", "BUG")						\
	M("Kernel panic", "panic")

#endif /* SPLAT_MARKERS_H */
