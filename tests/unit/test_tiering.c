/*
 * test_tiering.c - the plan's tiering rules (issue 15.3): loading (every
 * refusal with its FILE:LINE:COL) and matching (first match wins, globs
 * with '**', size and age bounds, an unknown mtime).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <stdlib.h>
#include "journal.h"
#include "plan.h"
#include "testutil.h"

#define NS 1000000000LL
#define DAY (24 * 3600LL)
#define NOW (1700000000LL)

static const char head[] = "version: 1\nname: t\nsource: /a\ntarget: s3://b/x\n";

static int load(const char *rules, struct mg_plan *p, struct mg_error *e)
{
	char text[2048];

	snprintf(text, sizeof(text), "%s%s", head, rules);
	mg_error_clear(e);
	return mg_plan_load_string("/plans/t.yaml", text, strlen(text), p, e);
}

static void test_first_match_wins(void **state)
{
	struct mg_plan p;
	struct mg_error e;
	const char *rules =
		"tiering:\n"
		"  - { match: \"**/checkpoints/**\", older_than: 90d, class: GLACIER_IR }\n"
		"  - { min_size: 1GiB, class: STANDARD_IA }\n"
		"  - { match: \"*.tmp\", max_size: 1KiB, class: ONEZONE_IA }\n"
		"  - { newer_than: 7d, class: STANDARD }\n";
	int64_t old = (NOW - 100 * DAY) * NS, young = (NOW - DAY) * NS;

	(void)state;
	if (load(rules, &p, &e) != MG_OK)
		fail_msg("%s", e.msg);
	assert_int_equal(p.ntiering, 4);
	assert_string_equal(p.tiering[0].cls, "GLACIER_IR");
	assert_int_equal(p.tiering[0].line, 6);
	assert_int_equal(p.tiering[0].col, 59);
	/* '**' spans folders and matches none at the top */
	assert_int_equal(mg_tier_pick(&p, "m/checkpoints/a/b.pt", 10, old, NOW), 0);
	assert_int_equal(mg_tier_pick(&p, "checkpoints/b.pt", 10, old, NOW), 0);
	/* too young for rule 0, small: falls to the age rule */
	assert_int_equal(mg_tier_pick(&p, "m/checkpoints/b.pt", 10, young, NOW), 3);
	/* first match wins: big and old under checkpoints stays rule 0 */
	assert_int_equal(mg_tier_pick(&p, "m/checkpoints/b.pt", 2ULL << 30, old, NOW), 0);
	assert_int_equal(mg_tier_pick(&p, "raw/x.bin", 2ULL << 30, old, NOW), 1);
	/* the size bounds are inclusive */
	assert_int_equal(mg_tier_pick(&p, "raw/x.bin", 1ULL << 30, old, NOW), 1);
	assert_int_equal(mg_tier_pick(&p, "a/b.tmp", 1024, old, NOW), 2);
	assert_int_equal(mg_tier_pick(&p, "a/b.tmp", 1025, old, NOW), -1);
	/* no rule: -1, the target's own class */
	assert_int_equal(mg_tier_pick(&p, "raw/y.bin", 10, old, NOW), -1);
	/* an unknown mtime matches no age rule */
	assert_int_equal(mg_tier_pick(&p, "m/checkpoints/c.pt", 10, 0, NOW), -1);
	mg_plan_release(&p);
}

static void test_catch_all_and_tags(void **state)
{
	struct mg_plan p;
	struct mg_error e;

	(void)state;
	if (load("tags: { team: ml }\n"
		 "tiering:\n"
		 "  - { match: \"raw/**\", class: STANDARD_IA, tags: { tier: warm, team: data } }\n"
		 "  - { class: STANDARD }\n", &p, &e) != MG_OK)
		fail_msg("%s", e.msg);
	assert_int_equal(mg_tier_pick(&p, "raw/a/b", 1, 0, NOW), 0);
	assert_int_equal(mg_tier_pick(&p, "other", 1, 0, NOW), 1);
	assert_int_equal(p.tiering[0].ntags, 2);
	assert_string_equal(p.tiering[0].tags[0].k, "tier");
	mg_plan_release(&p);
}

static void test_refused(void **state)
{
	static const struct { const char *rules, *msg; } bad[] = {
		{ "tiering: { class: X }\n", "t.yaml:5:10: 'tiering' must be a list of rules" },
		{ "tiering: []\n", "t.yaml:5:10: 'tiering' is an empty list" },
		{ "tiering:\n  - { match: \"a/**\" }\n", "t.yaml:6:5: tiering rule 1 has no 'class'" },
		{ "tiering:\n  - { class: STANDARD, mach: x }\n",
		  "t.yaml:6:24: unknown key 'mach' (did you mean 'match'?)" },
		{ "tiering:\n  - { match: \"a/[b\", class: STANDARD }\n",
		  "t.yaml:6:14: 'match': bad glob 'a/[b': '[' is not closed" },
		{ "tiering:\n  - { class: \"GLACIER IR\" }\n",
		  "t.yaml:6:14: 'class': 'GLACIER IR' is not a storage class name" },
		{ "tiering:\n  - { class: STANDARD }\n  - { min_size: 2GB, max_size: 1GB, class: X }\n",
		  "t.yaml:7:7: tiering rule 2: 'min_size' is larger than 'max_size'" },
		{ "tiering:\n  - { older_than: 2d, newer_than: 1d, class: X }\n",
		  "'newer_than' must be longer than 'older_than'" },
		{ "tiering:\n  - { older_than: 3x, class: X }\n", "'older_than': bad duration '3x'" },
		{ "tags: { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9 }\n"
		  "tiering:\n  - { class: X, tags: { j: 1, k: 2 } }\n",
		  "tiering rule 1: its tags and the plan's make 11 tags" },
	};
	struct mg_plan p;
	struct mg_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(load(bad[i].rules, &p, &e), MG_OK);
		if (!strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: got '%s', wanted '%s'", i, e.msg, bad[i].msg);
	}
}

/* The class and encryption ride in the object record, compactly, and a
 * record written before them reads back with neither. */
static void test_journal_words(void **state)
{
	char dir[256];
	struct mg_journal *j;
	struct mg_error e = { 0 };
	struct mg_obj_record r = { .state = MG_OBJ_DONE, .size = 3 }, back;

	(void)state;
	assert_int_equal(tu_tmpdir(dir, sizeof(dir), "/tmp/mg-tier.XXXXXX"), 0);
	assert_int_equal(mg_journal_open(dir, &j, &e), MG_OK);
	snprintf(r.sclass, sizeof(r.sclass), "GLACIER_IR");
	snprintf(r.enc, sizeof(r.enc), "aws:kms");
	assert_int_equal(mg_journal_put_obj(j, "t", "k", &r, 0), MG_OK);
	assert_int_equal(mg_journal_get_obj(j, "t", "k", &back), MG_OK);
	assert_string_equal(back.sclass, "GLACIER_IR");
	assert_string_equal(back.enc, "aws:kms");
	r.sclass[0] = '\0';
	snprintf(r.enc, sizeof(r.enc), "AES256");
	assert_int_equal(mg_journal_put_obj(j, "t", "k", &r, 0), MG_OK);
	assert_int_equal(mg_journal_get_obj(j, "t", "k", &back), MG_OK);
	assert_string_equal(back.sclass, "");
	assert_string_equal(back.enc, "AES256");
	r.enc[0] = '\0';
	assert_int_equal(mg_journal_put_obj(j, "t", "k", &r, 0), MG_OK);
	assert_int_equal(mg_journal_get_obj(j, "t", "k", &back), MG_OK);
	assert_string_equal(back.sclass, "");
	assert_string_equal(back.enc, "");
	mg_journal_close(j);
	assert_int_equal(tu_rmtree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_catch_all_and_tags),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_journal_words),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
