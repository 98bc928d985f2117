// SPDX-License-Identifier: GPL-2.0
/*
 * PID 1 of the sandbox guest: mount, run the host's command or a shell, power off.
 *
 * The compiled twin of init.sh (kept as the reference and the benchmark's
 * baseline, bootable with -a init=/init.sh): every program started costs
 * ~25 ms under UML, and the script starts five besides the command's own
 * (itself, mount, its two subshells, poweroff); this init starts only the
 * shell that runs the command.
 *
 * The host (run-uml.sh) passes SANDBOX_RUN=ID on the kernel command line
 * (the kernel puts it into init's environment) and leaves the command in
 * /scratch/cmd (the run's writable hostfs directory, mounted by fstab); the
 * exit status goes back as "sandbox-status: N", the last line written to
 * the results line /dev/ttyS1, which the host reads (the --test KTAP comes
 * before it).  The root is read-only: nothing the guest does is left in it.
 *
 * PID 1 must never exit (the kernel panics, and the status is lost): every
 * failure is logged and the way goes on to the power off.
 *
 * The kernel's messages go to the console (ttyS0, the host's stderr); the
 * guest's own output goes to tty0 (the host's stdin and stdout).  PID 1
 * opens a tty only with O_NOCTTY: as a session leader it would take it as
 * its controlling terminal, and the shell could then not have it for Ctrl-C.
 */
#define _GNU_SOURCE	/* posix_spawn's SETSID and addchdir_np */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CMD_FILE "/scratch/cmd"

/* The kernel's spellings, as tools/include has them. */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define __printf(a, b) __attribute__((format(printf, a, b)))
#define __noreturn __attribute__((noreturn))

static int kmsg = -1;

/* True once the interactive shell runs: poweroff's signal acts at once. */
static volatile sig_atomic_t interactive;

/* One kernel log line "sandbox-init: ..." at level LEVEL ('3'..'7'). */
static void __printf(2, 3) log_kmsg(char level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (kmsg < 0)
		return;
	n = snprintf(buf, sizeof(buf), "<%c>sandbox-init: ", level);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(kmsg, buf, n) < 0)
		return;	/* nowhere left to say it */
}

#define log_info(...) log_kmsg('6', __VA_ARGS__)
#define log_err(...) log_kmsg('3', __VA_ARGS__)

/*
 * What was written to /scratch and /share reaches the host's files first
 * (busybox's poweroff -f did the same).  Only system calls: it also runs
 * from the signal handler.
 */
static void __noreturn power_off(void)
{
	sync();
	for (;;) {
		reboot(RB_POWER_OFF);
		pause();
	}
}

/*
 * Busybox's poweroff (and reboot, halt) signals PID 1 with USR2 (USR1,
 * TERM).  With a command, the command is waited for first, so that its
 * status still reaches the host (the shell init did the same); in the
 * interactive shell nothing is waited for: off at once.
 */
static void on_poweroff(int sig)
{
	(void)sig;
	if (interactive)
		power_off();
}

static const struct mount_flag {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "defaults", 0, 0 },
	{ "auto", 0, 0 },
	{ "ro", MS_RDONLY, 0 },
	{ "rw", 0, MS_RDONLY },
	{ "nosuid", MS_NOSUID, 0 },
	{ "suid", 0, MS_NOSUID },
	{ "nodev", MS_NODEV, 0 },
	{ "dev", 0, MS_NODEV },
	{ "noexec", MS_NOEXEC, 0 },
	{ "exec", 0, MS_NOEXEC },
	{ "noatime", MS_NOATIME, 0 },
	{ "relatime", MS_RELATIME, 0 },
	{ "sync", MS_SYNCHRONOUS, 0 },
	{ "async", 0, MS_SYNCHRONOUS },
};

/*
 * Split fstab's options into mount(2) flags and the file system's data
 * (what mount(8) does: known flags become MS_*, the rest is passed on).
 * False for noauto.
 */
static int parse_options(const char *opts, unsigned long *flags, char *data, size_t size)
{
	char buf[256], *opt, *save;
	size_t i, len = 0;

	*flags = 0;
	data[0] = '\0';
	snprintf(buf, sizeof(buf), "%s", opts);
	for (opt = strtok_r(buf, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
		if (!strcmp(opt, "noauto"))
			return 0;
		for (i = 0; i < ARRAY_SIZE(mount_flags); i++)
			if (!strcmp(opt, mount_flags[i].name))
				break;
		if (i < ARRAY_SIZE(mount_flags)) {
			*flags = (*flags | mount_flags[i].set) & ~mount_flags[i].clear;
			continue;
		}
		len += snprintf(data + len, size - len, "%s%s", len ? "," : "", opt);
		if (len >= size) {
			log_err("the options %s are too long", opts);
			break;
		}
	}
	return 1;
}

/*
 * proc, sysfs, tmpfs on /tmp, /root and /run, the scratch directory,
 * debugfs: every entry of /etc/fstab, in its order (mount -a).
 */
static void mount_fstab(void)
{
	struct mntent *m;
	unsigned long flags;
	char data[256];
	FILE *f;

	f = setmntent("/etc/fstab", "r");
	if (!f) {
		log_err("cannot read /etc/fstab: %s", strerror(errno));
		return;
	}
	while ((m = getmntent(f))) {
		if (!parse_options(m->mnt_opts, &flags, data, sizeof(data)))
			continue;
		if (mount(m->mnt_fsname, m->mnt_dir, m->mnt_type, flags, data) < 0)
			log_err("mount %s (%s) on %s failed: %s", m->mnt_fsname,
				m->mnt_type, m->mnt_dir, strerror(errno));
	}
	endmntent(f);
}

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, s, strlen(s)) < 0)
		log_err("cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void setup(void)
{
	const char *share = getenv("SANDBOX_SHARE");

	mount_fstab();
	/* --share DIR: the user's host directory, read-write. */
	if (share && *share && mount("none", "/share", "hostfs", 0, "+share") < 0)
		log_err("mount of the share on /share failed: %s", strerror(errno));
	if (sethostname("sandbox", strlen("sandbox")) < 0)
		log_err("cannot set the host name: %s", strerror(errno));
	/*
	 * The selftests map regions larger than the guest's memory and touch
	 * only a part of them (mremap_test maps 2 GB): let the kernel
	 * overcommit, as a normal-sized machine would not need to.
	 */
	write_file("/proc/sys/vm/overcommit_memory", "1\n");
}

/*
 * The shell's stdio on tty0, as the shell init opened it: for a command,
 * stdin read-only and stdout and stderr write-only, without a controlling
 * terminal; for the login shell read-write, after setsid (see
 * start_shell): the new session's leader gets tty0 as its controlling
 * terminal by this open, so job control and Ctrl-C work in the shell.
 */
static void add_tty0(posix_spawn_file_actions_t *fa, int login)
{
	if (login) {
		posix_spawn_file_actions_addopen(fa, 0, "/dev/tty0", O_RDWR, 0);
		posix_spawn_file_actions_adddup2(fa, 0, 1);
	} else {
		posix_spawn_file_actions_addopen(fa, 0, "/dev/tty0", O_RDONLY | O_NOCTTY, 0);
		posix_spawn_file_actions_addopen(fa, 1, "/dev/tty0", O_WRONLY | O_NOCTTY, 0);
	}
	posix_spawn_file_actions_adddup2(fa, 1, 2);
}

/*
 * Start /bin/sh as a child of PID 1, in /root, on tty0: on CMD_FILE, or as
 * a login shell (/etc/profile) in a session of its own.  Its environment
 * is the kernel's (SANDBOX_*, TERM) with PATH and HOME, and PWD and OLDPWD
 * as the shell init's cd left them.  posix_spawn, not fork: it does not
 * copy PID 1's address space, which costs milliseconds under UML.  When
 * tty0 or /root cannot be had, the shell still runs, on the console in /:
 * the command's status is what matters to the host.
 */
static pid_t start_shell(int login)
{
	static char *const cmd_argv[] = { "sh", CMD_FILE, NULL };
	static char *const login_argv[] = { "sh", "-l", NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t dfl;
	pid_t pid;
	int err, plain;

	posix_spawnattr_init(&attr);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGUSR1);
	sigaddset(&dfl, SIGUSR2);
	sigaddset(&dfl, SIGTERM);
	posix_spawnattr_setsigdefault(&attr, &dfl);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | (login ? POSIX_SPAWN_SETSID : 0));
	for (plain = 0; plain < 2; plain++) {
		posix_spawn_file_actions_init(&fa);
		if (!plain) {
			add_tty0(&fa, login);
			posix_spawn_file_actions_addchdir_np(&fa, "/root");
		}
		setenv("PWD", plain ? "/" : "/root", 1);
		setenv("OLDPWD", "/", 1);
		err = posix_spawn(&pid, "/bin/sh", &fa, &attr,
				  login ? login_argv : cmd_argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (!err)
			break;
		log_err("cannot start /bin/sh%s: %s", plain ? "" : " on tty0 in /root",
			strerror(err));
		pid = -1;
	}
	posix_spawnattr_destroy(&attr);
	return pid;
}

/* Wait for PID, reaping every orphan on the way; its shell-style status. */
static int wait_for(pid_t pid)
{
	int st;
	pid_t p;

	for (;;) {
		p = waitpid(-1, &st, 0);
		if (p == pid)
			break;
		if (p < 0 && errno != EINTR) {
			log_err("waiting for the shell failed: %s", strerror(errno));
			return -1;
		}
	}
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

/*
 * Read by the host once the kernel has exited.  On a line of its own,
 * whatever the command left unfinished.
 */
static void report_status(int status)
{
	char buf[64];
	int fd, n;

	fd = open("/dev/ttyS1", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		log_err("cannot open /dev/ttyS1 for the status: %s", strerror(errno));
		return;
	}
	n = snprintf(buf, sizeof(buf), "\nsandbox-status: %d\n", status);
	if (write(fd, buf, n) != n)
		log_err("cannot write the status: %s", strerror(errno));
	close(fd);
}

int main(void)
{
	const char *run = getenv("SANDBOX_RUN");
	struct sigaction sa = { .sa_handler = on_poweroff };
	struct stat st;
	pid_t pid;
	int status;

	kmsg = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setenv("PATH", "/bin:/sbin:/usr/bin:/usr/sbin", 1);
	setenv("HOME", "/root", 1);

	setup();
	if (run && *run && stat(CMD_FILE, &st) == 0 && S_ISREG(st.st_mode)) {
		log_info("running " CMD_FILE);
		pid = start_shell(0);
		if (pid > 0) {
			status = wait_for(pid);
			log_info("command exited with %d", status);
			if (status >= 0)
				report_status(status);
		}
	} else {
		log_info("interactive shell (exit, Ctrl-D or poweroff to leave)");
		/*
		 * An interactive session that ends is a success to the host
		 * without a status.
		 */
		interactive = 1;
		pid = start_shell(1);
		if (pid > 0)
			wait_for(pid);
	}
	power_off();
}
