/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The markers of a kernel splat in a console line, and the class each names.
 *
 * SPLAT_MARKERS(M) calls M(text, class) for each, in order: the first that
 * matches a line decides its class, so "BUG: soft lockup" is a soft lockup,
 * not a BUG, and UML's "Kernel panic - not syncing: Kernel mode fault" is an
 * exception.  splat-class classifies with them; uml-launch only asks
 * whether a log holds any, so that a clean run need not start splat-class.
 */
#ifndef SPLAT_MARKERS_H
#define SPLAT_MARKERS_H

#define SPLAT_MARKERS(M)						\
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
