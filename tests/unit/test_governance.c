/*
 * test_governance.c - the governance keys of a plan (issue 15): what
 * encryption each S3 target asks for by default and per provider, and
 * the plan errors for contradictory keys, word for word with their place.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "connector.h"
#include "plan.h"

static int load(const char *text, struct mg_plan *p, struct mg_error *e)
{
	mg_error_clear(e);
	return mg_plan_load_string("/plans/t.yaml", text, strlen(text), p, e);
}

/* Plans that must be refused, and (part of) the message each gets. */
struct bad_case {
	const char *text, *msg;
};

static void expect_errors(const struct bad_case *bad, size_t n)
{
	struct mg_plan p;
	struct mg_error e;

	for (size_t i = 0; i < n; i++) {
		assert_int_not_equal(load(bad[i].text, &p, &e), MG_OK);
		if (!strstr(e.msg, bad[i].msg))
			fail_msg("case %zu: got '%s', wanted '%s'", i, e.msg, bad[i].msg);
	}
}

/* The encryption the one target of a plan with these target keys asks. */
static const char *asked(const char *keys, char *note, size_t notelen)
{
	static char out[32];
	char text[512];
	struct mg_plan p;
	struct mg_error e;
	const char *want;

	snprintf(text, sizeof(text),
		 "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x%s%s }\n",
		 *keys ? ", " : "", keys);
	if (load(text, &p, &e) != MG_OK)
		fail_msg("plan rejected: %s", e.msg);
	want = mg_endpoint_encryption(&p.targets[0], NULL, note, notelen);
	snprintf(out, sizeof(out), "%s", want ? want : "(none)");
	mg_plan_release(&p);
	return out;
}

static void test_encryption_default(void **state)
{
	char note[400];

	(void)state;
	assert_string_equal(asked("", note, sizeof(note)), "AES256");
	assert_non_null(strstr(note, "SSE-S3 (AES256) by default"));
	assert_string_equal(asked("encryption: auto", note, sizeof(note)), "AES256");
	assert_string_equal(asked("encryption: none", note, sizeof(note)), "(none)");
	assert_string_equal(note,
		"none (encryption: none): objects are stored as the bucket's default says");
	assert_string_equal(asked("sse: aws:kms, sse_kms_key_id: k1", note, sizeof(note)),
			    "aws:kms");
	assert_string_equal(note, "SSE-KMS (aws:kms, key k1)");
	assert_string_equal(asked("sse: AES256", note, sizeof(note)), "AES256");
}

static void test_encryption_providers(void **state)
{
	char note[400];

	(void)state;
	/* encrypted at rest anyway, and the header is not sent */
	assert_string_equal(asked("endpoint: \"https://acc.r2.cloudflarestorage.com\"",
				  note, sizeof(note)), "(none)");
	assert_non_null(strstr(note, "Cloudflare R2 encrypts every object at rest"));
	assert_string_equal(asked("endpoint: \"https://s3.eu-central-1.wasabisys.com\"",
				  note, sizeof(note)), "(none)");
	assert_string_equal(asked("provider: gcs", note, sizeof(note)), "(none)");
	/* sent, with a loud word for Ceph before Quincy */
	assert_string_equal(asked("provider: ceph", note, sizeof(note)), "AES256");
	assert_non_null(strstr(note, "CEPH RGW BEFORE 17"));
	assert_string_equal(asked("endpoint: \"https://s3.us-west-004.backblazeb2.com\"",
				  note, sizeof(note)), "AES256");
	/* an explicit choice wins over the provider's default */
	assert_string_equal(asked("provider: cloudflare-r2, sse: AES256", note, sizeof(note)),
			    "AES256");
}

static void test_encryption_errors(void **state)
{
	static const struct bad_case bad[] = {
		{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, encryption: none, sse: AES256 }\n",
		  "t.yaml:4:26: 'encryption: none' contradicts 'sse': remove one of them" },
		{ "version: 1\nname: t\nsource: /a\ntarget: { url: s3://b/x, encryption: off }\n",
		  "t.yaml:4:38: 'encryption' must be auto or none, got 'off'" },
	};

	(void)state;
	expect_errors(bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_residency(void **state)
{
	static const struct bad_case bad[] = {
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\nresidency: { regions: [eu-west-1, europe] }\n",
		  "t.yaml:5:35: 'regions': 'europe' is neither a region (like eu-central-1) nor a set of regions (eu, us, ca, ap, sa, me, af, il, mx, cn)" },
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\nresidency: { regions: [] }\n",
		  "t.yaml:5:23: 'regions' is an empty list" },
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\nresidency: { region: eu }\n",
		  "t.yaml:5:14: unknown key 'region'" },
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\nresidency: {}\n",
		  "t.yaml:5:12: 'residency' needs 'regions'" },
	};
	char *eu[] = { "eu" }, *two[] = { "eu-central-1", "us-east-1" };
	struct mg_plan p;
	struct mg_error e;
	struct mg_buf b = MG_BUF_INIT;

	(void)state;
	expect_errors(bad, sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(load("version: 1\nname: t\nsource: /a\ntarget: /b\n"
			      "residency: { regions: eu, sources: [us-east-1, ca] }\n", &p, &e), MG_OK);
	assert_int_equal(p.residency.nregions, 1);
	assert_string_equal(p.residency.regions[0], "eu");
	assert_int_equal(p.residency.nsources, 2);
	mg_plan_release(&p);

	assert_true(mg_residency_allows(eu, 1, "eu-west-1"));
	assert_true(mg_residency_allows(eu, 1, "eu-central-2"));
	assert_false(mg_residency_allows(eu, 1, "us-east-1"));
	assert_false(mg_residency_allows(eu, 1, "europe-west1"));	/* GCS names: not "eu-" */
	assert_true(mg_residency_allows(two, 2, "us-east-1"));
	assert_false(mg_residency_allows(two, 2, "eu-west-1"));
	mg_residency_text(eu, 1, &b);
	assert_string_equal(b.buf, "eu (every eu-* region)");
	mg_buf_release(&b);
}

static void test_tags_metadata(void **state)
{
	static const struct bad_case bad[] = {
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\ntags: { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8, i: 9, j: 10, k: 11 }\n",
		  "t.yaml:5:7: 'tags' has 11 tags: S3 keeps 10 per object at most" },
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\ntags:\n  \"aws:x\": 1\n",
		  "t.yaml:6:3: tag key 'aws:x': the 'aws:' prefix is reserved for AWS" },
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\ntags:\n  team: \"a;b\"\n",
		  "t.yaml:6:9: tag 'team': the value may hold letters, digits, spaces and + - = . _ : / @ only" },
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\ntags:\n  team: \"{who}\"\n",
		  "t.yaml:6:9: 'tags.team': unknown substitution '{who}'" },
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\nmetadata:\n  Owner: x\n",
		  "t.yaml:6:3: metadata name 'Owner' may hold lower-case letters, digits, '-' and '_' only" },
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\nmetadata:\n  sha256: x\n",
		  "t.yaml:6:3: metadata name 'sha256' is migrate's own" },
		{ "version: 1\nname: t\nsource: /a\ntarget: /b\nmetadata: [a]\n",
		  "t.yaml:5:11: 'metadata' must be a mapping of names to values, got a list" },
	};
	char big[2200 + 120];
	struct mg_plan p;
	struct mg_error e;
	struct mg_kv kv = { "k", "{plan}/{run}/{key}@{mtime}#{sha256}" };
	struct mg_governance g = { "p1", "42", "/src", &kv, 1, NULL, 0, NULL, NULL, 0 };
	struct mg_buf b = MG_BUF_INIT;

	(void)state;
	expect_errors(bad, sizeof(bad) / sizeof(bad[0]));
	/* 2 KB of user metadata at most */
	snprintf(big, sizeof(big), "version: 1\nname: t\nsource: /a\ntarget: /b\nmetadata:\n  a: \"%0*d\"\n  b: x\n",
		 2047, 0);
	assert_int_not_equal(load(big, &p, &e), MG_OK);
	assert_non_null(strstr(e.msg, "t.yaml:7:6: 'metadata' holds more than 2048 bytes"));

	mg_gov_expand(&g, kv.v, "d/f", 1706933106000000000LL, "ab", &b);
	assert_string_equal(b.buf, "p1/42/d/f@2024-02-03T04:05:06Z#ab");
	mg_buf_reset(&b);
	mg_gov_expand(&g, "{sha256}{mtime}-{source_url}", "k", 0, NULL, &b);
	assert_string_equal(b.buf, "-/src");
	mg_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encryption_default),
		cmocka_unit_test(test_encryption_providers),
		cmocka_unit_test(test_encryption_errors),
		cmocka_unit_test(test_residency),
		cmocka_unit_test(test_tags_metadata),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
