// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness: a kbuild .cmd file -> kbuild-plan's build plan.
 *
 * kbuild-plan reads the .NAME.cmd records fixdep wrote and decides which
 * objects an edit needs recompiled.  Here KDIR is a small tree made once
 * (mm/a.c, mm/b.h, include/c.h), mm/b.h has "changed", and mm/a.o is
 * linked into vmlinux; each input is one .cmd file through kbuild-plan's
 * own reader (read_cmd_file).  It must either plan plain compiles, each
 * of an object that reads the changed file, or refuse with "full" (status
 * 3: a full kbuild build), never crash.
 */
#define HOST_TOOL_NO_MAIN
#include "../../scripts/build/kbuild-plan.c"
#include "fuzz.h"

#include <sys/stat.h>

static char dir[PATH_MAX];
static const char *const files[] = { "mm/a.c", "mm/b.h", "include/c.h" };

/* The tree goes with the fuzzer. */
static void remove_tree(void)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/mm", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/include", dir);
	rmdir(path);
	rmdir(dir);
}

static void make_tree(void)
{
	char path[PATH_MAX], key[64];
	size_t i;
	FILE *f;

	/* In TMPDIR, as mktemp -d. */
	snprintf(dir, sizeof(dir), "%s/fuzz-kbuild-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : P_tmpdir);
	if (!mkdtemp(dir))
		abort();
	atexit(remove_tree);
	kdir = dir;
	snprintf(path, sizeof(path), "%s/mm", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/include", dir);
	mkdir(path, 0700);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		f = fopen(path, "w");
		if (!f)
			abort();
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/mm/b.h", dir);
	if (!identity(AT_FDCWD, path, key, sizeof(key)))
		abort();
	insert(&changed, key)->val = xstrdup("mm/b.h");
	insert(&members, "mm/a.o");
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static int ready;
	size_t i;
	FILE *f, *saved;

	if (!ready) {
		make_tree();
		/* full() says why on stdout. */
		saved = freopen("/dev/null", "w", stdout);
		(void)saved;
		ready = 1;
	}
	f = fmemopen((void *)data, size ? size : 1, "r");
	if (!f)
		return 0;
	if (!setjmp(fuzz_jump)) {
		read_cmd_file(f);
		for (i = 0; i < nplan; i++) {
			FUZZ_CHECK(plain_compile(plan[i].name, plan[i].shell),
				   "planned '%s', not a plain compile", plan[i].name);
			FUZZ_CHECK(lookup(&members, plan[i].name), "planned '%s', not in vmlinux",
				   plan[i].name);
		}
	} else {
		FUZZ_CHECK(fuzz_exit_status == 3, "exit status %d", fuzz_exit_status);
	}
	fclose(f);
	for (i = 0; i < nplan; i++) {
		free(plan[i].name);
		free(plan[i].raw);
		free(plan[i].shell);
	}
	nplan = 0;
	return 0;
}
