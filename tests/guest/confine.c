// SPDX-License-Identifier: GPL-2.0
/*
 * The guest's root cannot reach host files outside the hostfs= root.
 *
 * The guest root is the host directory given as hostfs=<root>,ro on the
 * kernel command line, read-only; the run's writable host directory is
 * hostfs_scratch=<dir>, mounted on /scratch (-o +scratch).  Each test tries
 * one way out as root in the guest: mount data with "..", a mount root
 * through a symlink, a stale name (an unlinked file or directory, or
 * another mount's directory, replaced by a host symlink), a device node, a
 * set-user-ID file, a write to the root through a remount or a second
 * mount.  Every attempt must fail; when one succeeds, the test shows what
 * it reached and fails.
 *
 * The target of the attempts is a "victim" file that this test makes in
 * its scratch directory, or, with sandbox.canary=<host path> on the kernel
 * command line, that host file outside the root (tests/host/test_confine.sh
 * checks on the host that it stays unread and unchanged); then an escaped
 * mount also makes a file confine-escaped.<pid>, which the host looks for.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define MNT		"/mnt"

/*
 * The scratch directory, below the run's own writable hostfs directory: as
 * the guest sees it, and as hostfs mount data names it.
 */
#define SCRATCH		"/scratch/confine"
#define SCRATCH_DATA	"+scratch/confine"
static const char scratch[] = SCRATCH;

/*
 * Host paths: the hostfs= root, the run's writable directory, and the file
 * the attempts aim at.
 */
static char host_root[PATH_MAX / 4];
static char host_scratch[PATH_MAX / 4];
static char target[PATH_MAX];
static int have_canary;

/*
 * The value of NAME= on the kernel command line (up to a ',': hostfs=
 * has flags after it), or 0 when absent.
 */
static int cmdline_value(const char *name, char *out, size_t size)
{
	char buf[4096], *tok, *save;
	size_t len = strlen(name);
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (!strncmp(tok, name, len) && tok[len] == '=') {
			snprintf(out, size, "%.*s", (int)strcspn(tok + len + 1, ","),
				 tok + len + 1);
			return 1;
		}
	}
	return 0;
}

/*
 * The host path mount data D resolves to without symlinks: below the root,
 * or the run's directory for "+scratch...", "." and empty components
 * dropped, ".." taking one off.  Written to out.
 */
static void host_normalize(const char *d, char *out, size_t size)
{
	char buf[2 * PATH_MAX], *tok, *save;
	size_t n = 0;

	if (!strncmp(d, "+scratch", 8))
		snprintf(buf, sizeof(buf), "%s/%s", host_scratch, d + 8);
	else
		snprintf(buf, sizeof(buf), "%s/%s", host_root, d);
	out[0] = '\0';
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			char *slash = strrchr(out, '/');

			n = slash ? (size_t)(slash - out) : 0;
			out[n] = '\0';
			continue;
		}
		n += snprintf(out + n, size - n, "/%s", tok);
	}
	if (!out[0])
		snprintf(out, size, "/");
}

/* Read up to size-1 bytes of PATH as a string; -errno on failure. */
static int slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/*
 * After a hostfs mount that should have failed: show whether the target
 * can be read through it, at REACH below the mount point, and leave a file
 * on the host there.
 */
static void show_escape(struct __test_metadata *_metadata, const char *reach)
{
	char path[PATH_MAX], buf[256];
	int fd;

	snprintf(path, sizeof(path), MNT "%s", reach);
	if (!slurp(path, buf, sizeof(buf)))
		TH_LOG("read the host's %s: '%s'", target, buf);
	/* Only for the host test, which removes it: never litter the host. */
	if (!have_canary)
		return;
	snprintf(path, sizeof(path), MNT "/confine-escaped.%d", getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd >= 0) {
		TH_LOG("created confine-escaped.%d on the host", getpid());
		close(fd);
	}
}

/*
 * mount -t hostfs none /mnt -o DATA must fail; when it does not, show the
 * escape (the target at REACH below the mount point, or where "..", taken
 * literally, puts it) and fail.
 */
static void expect_mount_refused(struct __test_metadata *_metadata, const char *data,
				 const char *reach)
{
	char dir[PATH_MAX];
	size_t len;
	int ret = mount("none", MNT, "hostfs", 0, data);

	if (ret == 0) {
		host_normalize(data, dir, sizeof(dir));
		TH_LOG("mounted host directory %s (root %s)", dir, host_root);
		len = strlen(dir);
		if (!reach && !strncmp(target, dir, len) && target[len] == '/')
			reach = target + len;
		show_escape(_metadata, reach ? reach : "/nonexistent");
		umount2(MNT, MNT_DETACH);
	}
	EXPECT_EQ(-1, ret) TH_LOG("mount -t hostfs none " MNT " -o %s succeeded", data);
}

/* @suffix under this run's scratch directory (a few at a time stay valid). */
static const char *S(const char *suffix)
{
	static char buf[4][PATH_MAX / 2];
	static unsigned int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", scratch, suffix);
	return buf[i];
}

/* The same as hostfs mount data. */
static const char *D(const char *suffix)
{
	static char buf[4][PATH_MAX / 2];
	static unsigned int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), SCRATCH_DATA "%s", suffix);
	return buf[i];
}

/* The target's content as the host has it, read without any trick. */
static void read_target_plainly(char *buf, size_t size)
{
	char path[PATH_MAX];

	buf[0] = '\0';
	if (have_canary)
		return;		/* outside the root: the host checks it */
	snprintf(path, sizeof(path), "%s", S("/victim"));
	slurp(path, buf, size);
}

FIXTURE(confine) {
	char before[256];
};

FIXTURE_SETUP(confine)
{
	char path[PATH_MAX];
	int fd;

	if (!cmdline_value("hostfs", host_root, sizeof(host_root)))
		SKIP(return, "no hostfs= root on the kernel command line: nothing confines");
	ASSERT_TRUE(cmdline_value("hostfs_scratch", host_scratch, sizeof(host_scratch)))
		TH_LOG("no hostfs_scratch= on the kernel command line: boot with run-uml.sh");
	umount2(MNT, MNT_DETACH);
	/* The run's own directory: no other guest writes there. */
	ASSERT_TRUE(!mkdir(scratch, 0755) || errno == EEXIST)
		TH_LOG("mkdir %s: %s (no writable /scratch: is it mounted?)", scratch,
		       strerror(errno));
	snprintf(path, sizeof(path), "rm -rf %s/* %s/.[!.]*", scratch, scratch);
	ASSERT_EQ(0, system(path));
	have_canary = cmdline_value("sandbox.canary", target, sizeof(target));
	if (!have_canary) {
		snprintf(target, sizeof(target), "%s/confine/victim", host_scratch);
		snprintf(path, sizeof(path), "%s", S("/victim"));
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		ASSERT_LE(0, fd);
		ASSERT_EQ(7, write(fd, "victim\n", 7));
		close(fd);
	}
	read_target_plainly(self->before, sizeof(self->before));
}

FIXTURE_TEARDOWN(confine)
{
	char now[256];

	umount2(MNT, MNT_DETACH);
	/* Whatever the test did, the target must be as it was. */
	read_target_plainly(now, sizeof(now));
	EXPECT_STREQ(self->before, now) TH_LOG("the target %s was changed", target);
	snprintf(now, sizeof(now), "rm -rf %s", scratch);
	system(now);
}

/* Mount data with ".." must not mount the root's parent, or higher. */
TEST_F(confine, mount_dotdot)
{
	expect_mount_refused(_metadata, "..", NULL);
	expect_mount_refused(_metadata, "/../..", NULL);
	expect_mount_refused(_metadata, "tests/../../..", NULL);
	expect_mount_refused(_metadata, "./..//", NULL);
	expect_mount_refused(_metadata, "+scratch/..", NULL);
	expect_mount_refused(_metadata, D("/../../.."), NULL);
}

/* Write a file at PATH: 0, or -errno. */
static int try_write(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -errno;
	close(fd);
	unlink(path);
	return 0;
}

/*
 * The root stays read-only, whatever its root user does: a remount
 * read-write, or a second mount of the tree (and its remount) write
 * nothing; the scratch directory is writable.  (run-uml.sh boots with
 * hostfs=<root>,ro whenever it gives a hostfs_scratch=, which the fixture
 * requires; the kernel's copy of the command line loses hostfs='s flags.)
 */
TEST_F(confine, root_stays_read_only)
{
	EXPECT_EQ(-EROFS, try_write("/confine-ro-test"));
	EXPECT_EQ(-1, mount(NULL, "/", NULL, MS_REMOUNT, NULL))
		TH_LOG("remounted / read-write");
	EXPECT_EQ(-EROFS, try_write("/confine-ro-test")) TH_LOG("wrote to / after a remount");
	ASSERT_EQ(0, mount("none", MNT, "hostfs", 0, "/"))
		TH_LOG("mount -o / (read-only): %s", strerror(errno));
	EXPECT_EQ(-EROFS, try_write(MNT "/confine-ro-test")) TH_LOG("wrote to a second mount");
	EXPECT_EQ(-1, mount(NULL, MNT, NULL, MS_REMOUNT, NULL))
		TH_LOG("remounted the second mount read-write");
	EXPECT_EQ(-EROFS, try_write(MNT "/tests/confine-ro-test"))
		TH_LOG("wrote to a second mount after a remount");
	EXPECT_EQ(0, try_write(S("/rw-test"))) TH_LOG("the scratch directory is not writable");
}

/* -o /etc is the guest's /etc (the root's etc), never the host's. */
TEST_F(confine, mount_etc_is_the_guests)
{
	struct stat mnt, etc;

	if (mount("none", MNT, "hostfs", 0, "/etc"))
		SKIP(return, "mount -o /etc refused (%s): nothing to compare", strerror(errno));
	ASSERT_EQ(0, stat(MNT, &mnt));
	ASSERT_EQ(0, stat("/etc", &etc));
	EXPECT_EQ(etc.st_ino, mnt.st_ino) TH_LOG("-o /etc is not the guest's /etc");
}

/* A mount root that is, or passes through, a symlink to / is refused. */
TEST_F(confine, mount_through_symlink)
{
	ASSERT_EQ(0, symlink("/", S("/root-link")));
	expect_mount_refused(_metadata, D("/root-link"), target);
	expect_mount_refused(_metadata, D("/root-link/"), target);
	ASSERT_EQ(0, mkdir(S("/d"), 0755));
	ASSERT_EQ(0, symlink("/", S("/d/up")));
	expect_mount_refused(_metadata, D("/d/up/."), target);
}

/* A symlink to an absolute path is resolved by the guest, in the guest. */
TEST_F(confine, symlink_resolves_in_guest)
{
	struct stat link, etc;

	ASSERT_EQ(0, symlink("/etc", S("/etc-link")));
	ASSERT_EQ(0, stat(S("/etc-link"), &link));
	ASSERT_EQ(0, stat("/etc", &etc));
	EXPECT_EQ(etc.st_ino, link.st_ino) TH_LOG("/etc through a symlink is not the guest's");
}

/* fchmod() of an unlinked FIFO must not chmod what is at its old name. */
TEST_F(confine, stale_fifo_chmod)
{
	struct stat st;
	int fd, ret;

	ASSERT_EQ(0, mkfifo(S("/p"), 0644));
	fd = open(S("/p"), O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unlink(S("/p")));
	ASSERT_EQ(0, symlink(target, S("/p")));
	ret = fchmod(fd, 0604);
	close(fd);
	if (!have_canary && !stat(S("/victim"), &st))
		EXPECT_EQ(0644U, st.st_mode & 07777) TH_LOG("the victim's mode was changed");
	EXPECT_EQ(-1, ret) TH_LOG("chmod went through the host's symlink");
}

/*
 * The same one directory up: a FIFO in a removed directory whose name is
 * now a symlink to the target's directory (the host follows it on the way).
 */
TEST_F(confine, stale_directory_chmod)
{
	char dir[PATH_MAX], fifo[PATH_MAX];
	const char *base = strrchr(target, '/') + 1;
	struct stat st;
	int fd, ret;

	snprintf(dir, sizeof(dir), "%.*s", (int)(base - 1 - target), target);
	snprintf(fifo, sizeof(fifo), "%s/d/%s", scratch, base);
	ASSERT_EQ(0, mkdir(S("/d"), 0755));
	ASSERT_EQ(0, mkfifo(fifo, 0644));
	fd = open(fifo, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, unlink(fifo));
	ASSERT_EQ(0, rmdir(S("/d")));
	ASSERT_EQ(0, symlink(dir, S("/d")));
	ret = fchmod(fd, 0604);
	close(fd);
	if (!have_canary && !stat(S("/victim"), &st))
		EXPECT_EQ(0644U, st.st_mode & 07777) TH_LOG("the victim's mode was changed");
	EXPECT_EQ(-1, ret) TH_LOG("chmod went through the host's symlinked directory");
}

/*
 * A second hostfs mount of the same tree: a directory it holds open is
 * replaced, through the root mount, by a symlink to the target's directory.
 */
TEST_F(confine, second_mount_alias)
{
	char dir[PATH_MAX], buf[256];
	const char *base = strrchr(target, '/') + 1;
	int dfd, fd;

	snprintf(dir, sizeof(dir), "%.*s", (int)(base - 1 - target), target);
	ASSERT_EQ(0, mkdir(S("/sub"), 0755));
	ASSERT_EQ(0, mount("none", MNT, "hostfs", 0, D("")))
		TH_LOG("mount -o %s: %s", D(""), strerror(errno));
	dfd = open(MNT "/sub", O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, dfd);
	ASSERT_EQ(0, rmdir(S("/sub")));
	ASSERT_EQ(0, symlink(dir, S("/sub")));
	fd = openat(dfd, base, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = '\0';
		TH_LOG("read the host's %s: '%s'", target, buf);
		close(fd);
	}
	EXPECT_EQ(-1, fd) TH_LOG("opened a file through another mount's stale directory");
	close(dfd);
}

/* No device node on the host: it would be the host's device there. */
TEST_F(confine, no_device_nodes)
{
	char buf[16];
	int ret, fd;

	ret = mknod(S("/null"), S_IFCHR | 0666, makedev(1, 3));
	EXPECT_EQ(-1, ret) TH_LOG("made a character device node on the host");
	if (!ret) {
		/* In the guest, the node is the guest's device. */
		fd = open(S("/null"), O_RDONLY);
		if (fd >= 0) {
			TH_LOG("read through it: %zd bytes", read(fd, buf, sizeof(buf)));
			close(fd);
		}
	}
	ret = mknod(S("/disk"), S_IFBLK | 0600, makedev(8, 0));
	EXPECT_EQ(-1, ret) TH_LOG("made a block device node on the host");
	EXPECT_EQ(0, mkfifo(S("/fifo"), 0644)) TH_LOG("a FIFO is harmless: %s",
							   strerror(errno));
}

/* No set-user-ID file on the host: it would be root's there. */
TEST_F(confine, no_setuid_files)
{
	int fd = open(S("/suid"), O_WRONLY | O_CREAT, 0755);

	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-1, chmod(S("/suid"), 04755)) TH_LOG("made a set-user-ID file");
	EXPECT_EQ(-1, chmod(S("/suid"), 02755)) TH_LOG("made a set-group-ID file");
	EXPECT_EQ(0, chmod(S("/suid"), 0700)) TH_LOG("plain chmod: %s", strerror(errno));
}

TEST_HARNESS_MAIN
