// SPDX-License-Identifier: GPL-2.0
/* A stand-in for a kernel file: test_mutate.sh counts its mutants by hand. */
#include <stdbool.h>

#define MASK 0xf0

static const int unused_limit = 3;

static int helper(int a, int b)
{
	return a - b + 4;
}

static bool check(unsigned long x, unsigned long y)
{
	/* x < y in a comment: not mutated */
	if (x < y)
		return false;
	return !helper(1, 2);
}

int entry(unsigned long x, unsigned long y, int n)
{
	int r = 0;
	bool ok = true;

	r = helper(n, n + 2);
	if (check(x, y) && n)
		r += 1;
	n = n & MASK;
	return ok ? r : n;
}
