/*
 * testutil.h - scaffolding the cmocka unit tests share: a scratch folder
 * made and removed around each test, and the table row of such a test.
 */
#ifndef MG_TESTUTIL_H
#define MG_TESTUTIL_H

#include <stddef.h>

/* Make a fresh folder from TMPL ("/tmp/mg-name.XXXXXX") in BUF: 0, or -1. */
int tu_tmpdir(char *buf, size_t size, const char *tmpl);

/* Remove DIR and everything below it: 0, or -1 (a teardown's answer). */
int tu_rmtree(const char *dir);

/* A test run between the including file's own setup() and teardown(). */
#define TU_CASE(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

#endif
