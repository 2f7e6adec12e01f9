/*
 * test_glob.c - the glob matcher and the plan filter.
 *
 * Besides fixed cases, the iterative matcher is compared with a plain
 * recursive one written straight from the definition in filter.h, over
 * every short pattern and key of a small alphabet: the backtracking
 * shortcuts must never change an answer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "plan.h"
#include "filter.h"
#include "connector.h"

static void yes(const char *pat, const char *key)
{
	if (!mg_glob_match(pat, key))
		fail_msg("'%s' should match '%s'", pat, key);
}

static void no(const char *pat, const char *key)
{
	if (mg_glob_match(pat, key))
		fail_msg("'%s' should not match '%s'", pat, key);
}

static void test_literal_and_star(void **state)
{
	(void)state;
	yes("a.txt", "a.txt");
	no("a.txt", "b.txt");
	no("a.txt", "a.txt2");
	yes("*.txt", "notes.txt");
	yes("*.txt", ".txt");
	no("*.txt", "notes.txt.gz");
	yes("*", "anything");
	yes("a*b*c", "aXXbYYc");
	no("a*b*c", "aXXbYY");
	yes("*a*a*a*", "banana-a");
	no("*a*a*a*a*", "banana");
	yes("?.txt", "a.txt");
	no("?.txt", "ab.txt");
	no("?", "");
	yes("", "");
	no("", "a");
}

static void test_basename_rule(void **state)
{
	(void)state;
	/* no '/': the last component, at any depth */
	yes("*.parquet", "a/b/c.parquet");
	yes("c.parquet", "a/b/c.parquet");
	no("b", "a/b/c.parquet");
	no("a", "a/b");
	/* with '/': the whole key */
	no("b/*.parquet", "a/b/c.parquet");
	yes("a/b/*.parquet", "a/b/c.parquet");
	yes("a/*/c.parquet", "a/b/c.parquet");
	/* '*' stops at '/' */
	no("a/*", "a/b/c");
	no("*/c", "a/b/c");
	yes("*/*/c", "a/b/c");
	/* leading '/' anchors and is dropped */
	yes("/top.txt", "top.txt");
	no("/top.txt", "sub/top.txt");
	yes("top.txt", "sub/top.txt");
	yes("/a/b", "a/b");
	no("/b", "a/b");
}

static void test_globstar(void **state)
{
	(void)state;
	yes("**", "a");
	yes("**", "a/b/c");
	yes("**/*.parquet", "x.parquet");	/* zero folders */
	yes("**/*.parquet", "a/x.parquet");
	yes("**/*.parquet", "a/b/c/x.parquet");
	no("**/*.parquet", "a/b/c/x.parquet.tmp");
	yes("tmp/**", "tmp/a");
	yes("tmp/**", "tmp/a/b/c");
	no("tmp/**", "tmp");
	no("tmp/**", "src/tmp/a");
	yes("**/tmp/**", "src/tmp/a");
	yes("**/tmp/**", "tmp/a");
	yes("a/**/b", "a/b");
	yes("a/**/b", "a/x/b");
	yes("a/**/b", "a/x/y/z/b");
	no("a/**/b", "a/xb");
	no("a/**/b", "ab");
	no("**/b", "xb");
	/* no '/' in the pattern: the basename rule wins even with "**" */
	no("a**b", "a/x/b");
	yes("/a**b", "a/x/b");
	yes("/a**", "a/b/c");
	yes("x/a**b", "x/a/y/b");
	yes("**/**/**/a", "a");
	yes("**/**/**/a", "x/y/z/w/a");
	no("**/**/**/a", "x/y/z/w/b");
	yes("a/**/*.txt", "a/b/c/d.txt");
	yes("a/**/c/*.txt", "a/c/d.txt");
	yes("a/**/c/*.txt", "a/b/c/c/d.txt");
	no("a/**/c/*.txt", "a/b/c/x/d.txt");
	yes("***", "a/b");
}

static void test_classes_and_escapes(void **state)
{
	(void)state;
	yes("[abc].txt", "b.txt");
	no("[abc].txt", "d.txt");
	yes("[a-z]1", "q1");
	no("[a-z]1", "Q1");
	yes("[!a-z]1", "Q1");
	no("[!a-z]1", "q1");
	yes("[^0-9]x", "ax");
	no("[^0-9]x", "5x");
	yes("[]]", "]");
	yes("[!]]", "a");
	no("[!]]", "]");
	yes("[a-]", "-");
	yes("[\\]]", "]");
	no("a[/]b", "a/b");	/* a class never matches '/' */
	no("a[!x]b", "a/b");
	yes("x[0-9][0-9]", "x42");
	yes("\\*", "*");
	no("\\*", "a");
	yes("\\?", "?");
	no("\\?", "a");
	yes("\\[a]", "[a]");
	yes("a\\\\b", "a\\b");
	yes("[ab", "[ab");	/* unclosed: a literal '[' */
	yes("data (1).csv", "data (1).csv");
	yes("*.tar.gz", "x/y.tar.gz");
	yes("\xc3\xa9t\xc3\xa9/*", "\xc3\xa9t\xc3\xa9/x");	/* UTF-8 bytes */
}

static void test_trailing_slash(void **state)
{
	(void)state;
	yes("tmp/", "tmp/a");
	yes("tmp/", "tmp/a/b");
	no("tmp/", "tmp");
	no("tmp/", "x/tmp/a");
	yes("**/cache/", "x/y/cache/z");
}

static void test_no_blowup(void **state)
{
	char key[4096];
	clock_t t0 = clock();

	(void)state;
	memset(key, 'a', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	for (size_t i = 1; i < sizeof(key) - 1; i += 2)
		key[i] = '/';
	no("**/**/**/**/**/**/**/**/b", key);
	no("*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	no("**a**a**a**a**a**a**b", key);
	yes("**/**/**/a", key);
	/* exponential recursion would take ages here */
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
}

/* The definition, recursively: slow and obviously right. */
static int ref_match(const char *p, const char *k)
{
	if (!*p)
		return !*k;
	if (p[0] == '*' && p[1] == '*') {
		const char *q = p + 2;

		while (*q == '*')
			q++;
		if (*q == '/') {
			/* zero folders, or any run ending in '/' */
			if (ref_match(q + 1, k))
				return 1;
			for (const char *s = k; *s; s++)
				if (*s == '/' && ref_match(q + 1, s + 1))
					return 1;
			return 0;
		}
		for (const char *s = k;; s++) {
			if (ref_match(q, s))
				return 1;
			if (!*s)
				return 0;
		}
	}
	if (p[0] == '*') {
		for (const char *s = k;; s++) {
			if (ref_match(p + 1, s))
				return 1;
			if (!*s || *s == '/')
				return 0;
		}
	}
	if (!*k)
		return 0;
	if (p[0] == '?')
		return *k != '/' && ref_match(p + 1, k + 1);
	return p[0] == *k && ref_match(p + 1, k + 1);
}

/* Every pattern up to 5 tokens over {a, b, /, *, **, ?} against every key
 * up to 5 characters over {a, b, /}.  Patterns start with 'a' or a star so
 * the anchoring and basename rules do not apply (keys have no leading /;
 * patterns without '/' are matched whole against keys without '/'; a
 * trailing '/' has its own test). */
static void test_against_reference(void **state)
{
	static const char *const toks[] = { "a", "b", "/", "*", "**", "?" };
	static const char alpha[] = "ab/";
	char pat[32], key[8];
	int np = 0, nk, checked = 0;

	(void)state;
	for (int plen = 1; plen <= 5; plen++) {
		int idx[5] = { 0 };

		for (;;) {
			pat[0] = '\0';
			for (int i = 0; i < plen; i++)
				strcat(pat, toks[idx[i]]);
			np++;
			for (int klen = 0; klen <= 5; klen++) {
				int kidx[5] = { 0 };

				nk = 1;
				for (int i = 0; i < klen; i++)
					nk *= 3;
				for (int n = 0; n < nk; n++) {
					int v = n, want, got;

					for (int i = 0; i < klen; i++) {
						kidx[i] = v % 3;
						v /= 3;
						key[i] = alpha[kidx[i]];
					}
					key[klen] = '\0';
					if (pat[0] == '/' || key[0] == '/' ||
					    pat[strlen(pat) - 1] == '/')
						continue;
					if (!strchr(pat, '/') && strchr(key, '/'))
						continue;
					want = ref_match(pat, key);
					got = mg_glob_match(pat, key);
					if (want != got)
						fail_msg("'%s' vs '%s': matcher %d, reference %d",
							 pat, key, got, want);
					checked++;
				}
			}
			/* next token combination */
			int i = 0;

			while (i < plen && ++idx[i] == 6)
				idx[i++] = 0;
			if (i == plen)
				break;
		}
	}
	assert_true(np > 9000);
	print_message("%d patterns, %d comparisons\n", np, checked);
	assert_true(checked > 100000);
}

static void test_filter_accept(void **state)
{
	char *inc[] = { "**/*.parquet", "*.csv" };
	char *exc[] = { "tmp/**" };
	struct mg_plan plan;
	struct mg_entry e;
	int64_t now = 1700000000;

	(void)state;
	memset(&plan, 0, sizeof(plan));
	memset(&e, 0, sizeof(e));
	e.kind = MG_ENTRY_FILE;
	e.key = "anything";
	e.size = 5;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);	/* no filter */

	plan.filter.include = inc;
	plan.filter.ninclude = 2;
	plan.filter.exclude = exc;
	plan.filter.nexclude = 1;
	e.key = "a/b.parquet";
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);
	e.key = "deep/x.csv";
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);
	e.key = "a/b.json";
	assert_int_equal(mg_filter_accept(&plan, &e, now), 0);
	e.key = "tmp/b.parquet";	/* excludes win */
	assert_int_equal(mg_filter_accept(&plan, &e, now), 0);

	e.key = "a.csv";
	plan.filter.min_size = 10;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 0);
	e.size = 10;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);
	plan.filter.max_size = 100;
	e.size = 101;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 0);
	e.size = 100;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);
	/* sizes apply to files only: a symlink is reported, not sized */
	e.kind = MG_ENTRY_SYMLINK;
	e.size = 1;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);
	e.kind = MG_ENTRY_FILE;
	e.size = 50;

	plan.filter.newer_than = 30 * 86400;
	e.mtime_ns = (now - 10 * 86400) * 1000000000LL;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);
	e.mtime_ns = (now - 31 * 86400) * 1000000000LL;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 0);
	e.mtime_ns = 0;		/* unknown age passes */
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);

	plan.filter.older_than = 7 * 86400;
	e.mtime_ns = (now - 10 * 86400) * 1000000000LL;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);
	e.mtime_ns = (now - 2 * 86400) * 1000000000LL;
	assert_int_equal(mg_filter_accept(&plan, &e, now), 0);
	e.mtime_ns = (now - 7 * 86400) * 1000000000LL;	/* bound included */
	assert_int_equal(mg_filter_accept(&plan, &e, now), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_and_star),
		cmocka_unit_test(test_basename_rule),
		cmocka_unit_test(test_globstar),
		cmocka_unit_test(test_classes_and_escapes),
		cmocka_unit_test(test_trailing_slash),
		cmocka_unit_test(test_no_blowup),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_filter_accept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
