/*
 * test_shard.c - the shard hash (fixed vectors: it is part of the plan
 * format, a change would move objects between the tasks of a running
 * migration), --shard parsing, and which keys a task takes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "shard.h"

/* first 8 bytes of SHA-256, big-endian (python3: int.from_bytes(
 * hashlib.sha256(k).digest()[:8], "big")) */
static void test_hash_vectors(void **state)
{
	static const struct { const char *key; uint64_t h; } v[] = {
		{ "", 0xe3b0c44298fc1c14ULL },
		{ "a", 0xca978112ca1bbdcaULL },
		{ "photos/2024/img_0001.jpg", 0x40da633cb15deffdULL },
		{ "x/y", 0xbd3c9047d6816c31ULL },
		{ "caf\xc3\xa9", 0x850f7dc43910ff89ULL },
	};
	struct mg_shard sh = { .index = 13, .count = 16 };

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_true(mg_shard_hash(v[i].key, strlen(v[i].key)) == v[i].h);
	assert_true(mg_shard_mine(&sh, "photos/2024/img_0001.jpg"));
	sh.index = 12;
	assert_false(mg_shard_mine(&sh, "photos/2024/img_0001.jpg"));
}

static void test_parse(void **state)
{
	struct mg_shard sh = { 0 };
	char msg[256];

	(void)state;
	assert_int_equal(mg_shard_parse("3/16", &sh, msg, sizeof(msg)), 0);
	assert_int_equal(sh.index, 3);
	assert_int_equal(sh.count, 16);
	assert_int_equal(mg_shard_parse("16/16", &sh, msg, sizeof(msg)), -1);
	assert_int_equal(mg_shard_parse("0/0", &sh, msg, sizeof(msg)), -1);
	assert_int_equal(mg_shard_parse("-1/4", &sh, msg, sizeof(msg)), -1);
	assert_int_equal(mg_shard_parse("1", &sh, msg, sizeof(msg)), -1);
	assert_int_equal(mg_shard_parse("1/4x", &sh, msg, sizeof(msg)), -1);
}

/* every key in exactly one of N tasks, whatever the split */
static void test_disjoint_union(void **state)
{
	static char *bounds[] = { "d", "m", "m/z" };
	static const char *keys[] = { "", "a", "d", "d0", "m", "m/", "m/z", "m/z0",
				      "top", "zz/1", "a/b/c", "d/x" };
	(void)state;
	for (int by = MG_SHARD_HASH; by <= MG_SHARD_PREFIX; by++)
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			int owners = 0;

			for (unsigned i = 0; i < 4; i++) {
				struct mg_shard sh = { .index = i, .count = 4, .by = by,
						       .prefixes = bounds, .nprefixes = 3 };

				owners += mg_shard_mine(&sh, keys[k]);
			}
			assert_int_equal(owners, 1);
		}
}

static void test_folder(void **state)
{
	struct mg_shard sh = { .count = 4, .by = MG_SHARD_FOLDER };
	unsigned owner = (unsigned)(mg_shard_hash("photos", 6) % 4);
	char *skip = NULL;

	(void)state;
	sh.index = owner;
	assert_true(mg_shard_mine(&sh, "photos/a/b.jpg"));
	assert_int_equal(mg_shard_skip_folder(&sh, "photos/a/b.jpg", &skip), 0);
	sh.index = (owner + 1) % 4;
	assert_false(mg_shard_mine(&sh, "photos/a/b.jpg"));
	assert_int_equal(mg_shard_skip_folder(&sh, "photos/a/b.jpg", &skip), 1);
	assert_true(strcmp(skip, "photos/zzz") > 0 && strcmp(skip, "photos0") < 0);
	free(skip);
	/* a top-level file is never skipped as a folder */
	assert_int_equal(mg_shard_skip_folder(&sh, "photos", &skip), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_vectors),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_disjoint_union),
		cmocka_unit_test(test_folder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
