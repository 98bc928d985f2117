// SPDX-License-Identifier: GPL-2.0
/* A stand-in for a selftest under tools/: never mutated. */
int tool_fn(int a)
{
	return a + 1;
}
