/*
 * test_journal.c - the LevelDB journal: records round-trip, range scans
 * follow key order, the lock refuses a second holder, files are private.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>
#include <leveldb/c.h>

#include "journal.h"
#include "testutil.h"

static char base[256];
static char dir[300];

static int setup(void **state)
{
	(void)state;
	assert_int_equal(tu_tmpdir(base, sizeof(base), "/tmp/mg-journal-test.XXXXXX"), 0);
	snprintf(dir, sizeof(dir), "%s/j", base);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(base);
}

static struct mg_journal *open_ok(void)
{
	struct mg_journal *j = NULL;
	struct mg_error err = { 0 };

	assert_int_equal(mg_journal_open(dir, &j, &err), MG_OK);
	assert_non_null(j);
	return j;
}

static void test_object_roundtrip(void **state)
{
	struct mg_journal *j = open_ok();
	struct mg_obj_record in = { 0 }, out;

	(void)state;
	in.state = MG_OBJ_DONE;
	in.size = 123456789012ULL;
	in.mtime_ns = 1700000000123456789LL;
	strcpy(in.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	strcpy(in.etag, "d41d8cd98f00b204e9800998ecf8427e-3");
	in.t_start = 5;
	in.t_done = 6;
	in.run = 7;
	assert_int_equal(mg_journal_put_obj(j, "t1", "dir/a b\nc.txt", &in, 1), MG_OK);
	assert_int_equal(mg_journal_get_obj(j, "t1", "dir/a b\nc.txt", &out), MG_OK);
	assert_int_equal(out.state, MG_OBJ_DONE);
	assert_true(out.size == in.size);
	assert_true(out.mtime_ns == in.mtime_ns);
	assert_string_equal(out.sha256, in.sha256);
	assert_string_equal(out.etag, in.etag);
	assert_string_equal(out.src_etag, "");
	assert_true(out.run == 7);
	/* another target does not see it */
	assert_int_equal(mg_journal_get_obj(j, "t2", "dir/a b\nc.txt", &out), MG_ABSENT);
	assert_int_equal(mg_journal_del_obj(j, "t1", "dir/a b\nc.txt", 1), MG_OK);
	assert_int_equal(mg_journal_get_obj(j, "t1", "dir/a b\nc.txt", &out), MG_ABSENT);
	mg_journal_close(j);
}

static void test_scan_order(void **state)
{
	struct mg_journal *j = open_ok();
	static const char *keys[] = { "b", "a/z", "a-b", "a", "\xc3\xa9t\xc3\xa9", "a/" "b/c", "Z" };
	static const char *sorted[] = { "Z", "a", "a-b", "a/b/c", "a/z", "b", "\xc3\xa9t\xc3\xa9" };
	struct mg_obj_record rec = { .state = MG_OBJ_DONE };
	struct mg_journal_iter *it;
	const char *k;
	size_t n = 0;

	(void)state;
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(mg_journal_put_obj(j, "tt", keys[i], &rec, 0), MG_OK);
	/* neighbours in other key spaces must not leak into the scan */
	assert_int_equal(mg_journal_put_obj(j, "tu", "a", &rec, 0), MG_OK);
	assert_int_equal(mg_journal_put_obj(j, "t", "zz", &rec, 0), MG_OK);
	assert_int_equal(mg_journal_iter_open(j, "tt", NULL, &it), MG_OK);
	while (mg_journal_iter_next(it, &k, NULL, &rec) == MG_OK) {
		assert_true(n < 7);
		assert_string_equal(k, sorted[n]);
		n++;
	}
	assert_int_equal(n, 7);
	mg_journal_iter_close(it);

	/* start_after is exclusive */
	assert_int_equal(mg_journal_iter_open(j, "tt", "a-b", &it), MG_OK);
	assert_int_equal(mg_journal_iter_next(it, &k, NULL, &rec), MG_OK);
	assert_string_equal(k, "a/b/c");
	mg_journal_iter_close(it);
	mg_journal_close(j);
}

static void test_upload_roundtrip(void **state)
{
	struct mg_journal *j = open_ok();
	struct mg_upload_record in = { 0 }, out;
	struct mg_part_record parts[2] = {
		{ 1, 5242880, "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef" },
		{ 2, 100, "fedcba9876543210fedcba9876543210", "fedcba9876543210fedcba9876543210" },
	};

	(void)state;
	strcpy(in.upload_id, "2~Abc.def-ghi_JKL");
	in.part_size = 5242880;
	in.size = 5242980;
	in.mtime_ns = 42;
	in.t_start = 9;
	in.hashed_parts = 2;
	strcpy(in.hash_state, "00ff");
	in.parts = parts;
	in.nparts = 2;
	assert_int_equal(mg_journal_put_upload(j, "t", "big.bin", &in, 1), MG_OK);
	assert_int_equal(mg_journal_get_upload(j, "t", "big.bin", &out), MG_OK);
	assert_string_equal(out.upload_id, in.upload_id);
	assert_true(out.part_size == in.part_size && out.size == in.size);
	assert_int_equal(out.hashed_parts, 2);
	assert_string_equal(out.hash_state, "00ff");
	assert_int_equal(out.nparts, 2);
	assert_int_equal(out.parts[1].number, 2);
	assert_true(out.parts[1].size == 100);
	assert_string_equal(out.parts[0].etag, parts[0].etag);
	mg_upload_record_release(&out);
	assert_int_equal(mg_journal_del_upload(j, "t", "big.bin", 1), MG_OK);
	assert_int_equal(mg_journal_get_upload(j, "t", "big.bin", &out), MG_ABSENT);
	mg_journal_close(j);
}

/* The run token (appended to u/ records later) round-trips, and a record
 * an older migrate wrote without it reads as run 0. */
static void test_upload_run_token(void **state)
{
	struct mg_journal *j = open_ok();
	struct mg_upload_record in = { 0 }, out;
	leveldb_options_t *o;
	leveldb_writeoptions_t *wo;
	leveldb_t *db;
	char *err = NULL;
	static const char old[] = "1 2~old 5242880 6000000 7 - 8 0 -\n1 5242880 abc def\n";

	(void)state;
	strcpy(in.upload_id, "2~new");
	in.part_size = 5242880;
	in.run = 123456789012345LL;
	assert_int_equal(mg_journal_put_upload(j, "t", "new.bin", &in, 1), MG_OK);
	assert_int_equal(mg_journal_get_upload(j, "t", "new.bin", &out), MG_OK);
	assert_true(out.run == in.run);
	mg_upload_record_release(&out);
	mg_journal_close(j);

	o = leveldb_options_create();
	wo = leveldb_writeoptions_create();
	db = leveldb_open(o, dir, &err);
	assert_non_null(db);
	leveldb_put(db, wo, "u/t/old.bin", 11, old, sizeof(old) - 1, &err);
	assert_null(err);
	leveldb_close(db);
	leveldb_writeoptions_destroy(wo);
	leveldb_options_destroy(o);

	j = open_ok();
	assert_int_equal(mg_journal_get_upload(j, "t", "old.bin", &out), MG_OK);
	assert_string_equal(out.upload_id, "2~old");
	assert_true(out.size == 6000000 && out.mtime_ns == 7 && out.t_start == 8);
	assert_true(out.run == 0);
	assert_int_equal(out.nparts, 1);
	mg_upload_record_release(&out);
	mg_journal_close(j);
}

/* Issue 15.5: the version and the Object Lock of an object ride at the
 * end of its record, only where there are any; a record without them
 * (every other target's, an older migrate's) reads as before. */
static void test_object_lock_fields(void **state)
{
	struct mg_journal *j = open_ok();
	struct mg_obj_record in = { 0 }, out;
	leveldb_options_t *o;
	leveldb_readoptions_t *ro;
	leveldb_writeoptions_t *wo;
	leveldb_t *db;
	char *err = NULL, *v;
	size_t vlen;
	static const char old[] = "1 1 10 11 - etag 1 2 3 -\n";
	static const char want[] = " 3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY GOVERNANCE@1800000000 H\n";

	(void)state;
	in.state = MG_OBJ_DONE;
	in.size = 10;
	strcpy(in.version_id, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY");
	strcpy(in.lock_mode, "GOVERNANCE");
	in.lock_until = 1800000000;
	in.legal_hold = 1;
	assert_int_equal(mg_journal_put_obj(j, "t", "locked", &in, 1), MG_OK);
	assert_int_equal(mg_journal_get_obj(j, "t", "locked", &out), MG_OK);
	assert_string_equal(out.version_id, in.version_id);
	assert_string_equal(out.lock_mode, "GOVERNANCE");
	assert_true(out.lock_until == 1800000000);
	assert_int_equal(out.legal_hold, 1);
	/* a legal hold without retention, a version without either */
	memset(&in, 0, sizeof(in));
	in.legal_hold = 1;
	assert_int_equal(mg_journal_put_obj(j, "t", "held", &in, 1), MG_OK);
	assert_int_equal(mg_journal_get_obj(j, "t", "held", &out), MG_OK);
	assert_string_equal(out.version_id, "");
	assert_string_equal(out.lock_mode, "");
	assert_int_equal(out.legal_hold, 1);
	memset(&in, 0, sizeof(in));
	strcpy(in.version_id, "null");
	assert_int_equal(mg_journal_put_obj(j, "t", "versioned", &in, 1), MG_OK);
	assert_int_equal(mg_journal_get_obj(j, "t", "versioned", &out), MG_OK);
	assert_string_equal(out.version_id, "null");
	assert_string_equal(out.lock_mode, "");
	assert_int_equal(out.legal_hold, 0);
	memset(&in, 0, sizeof(in));
	assert_int_equal(mg_journal_put_obj(j, "t", "plain", &in, 1), MG_OK);
	mg_journal_close(j);

	o = leveldb_options_create();
	ro = leveldb_readoptions_create();
	wo = leveldb_writeoptions_create();
	db = leveldb_open(o, dir, &err);
	assert_non_null(db);
	v = leveldb_get(db, ro, "o/t/locked", 10, &vlen, &err);
	assert_non_null(v);
	assert_true(vlen > strlen(want));
	assert_memory_equal(v + vlen - strlen(want), want, strlen(want));
	leveldb_free(v);
	v = leveldb_get(db, ro, "o/t/plain", 9, &vlen, &err);
	assert_non_null(v);
	/* nothing appended where there is nothing to say */
	assert_int_equal(vlen, strlen("1 0 0 0 - - 0 0 0 -\n"));
	leveldb_free(v);
	leveldb_put(db, wo, "o/t/old", 7, old, sizeof(old) - 1, &err);
	assert_null(err);
	leveldb_close(db);
	leveldb_readoptions_destroy(ro);
	leveldb_writeoptions_destroy(wo);
	leveldb_options_destroy(o);

	j = open_ok();
	assert_int_equal(mg_journal_get_obj(j, "t", "old", &out), MG_OK);
	assert_true(out.size == 10 && out.mtime_ns == 11 && out.run == 3);
	assert_string_equal(out.etag, "etag");
	assert_string_equal(out.version_id, "");
	assert_string_equal(out.lock_mode, "");
	assert_int_equal(out.legal_hold, 0);
	mg_journal_close(j);
}

struct seen {
	char keys[8][64];
	char ids[8][64];
	char extra[8][128];
	int64_t t[8];
	int n;
	struct mg_journal *j;
};

static int see_upload(void *arg, const char *key, struct mg_upload_record *rec)
{
	struct seen *s = arg;

	snprintf(s->keys[s->n], 64, "%s", key);
	snprintf(s->ids[s->n], 64, "%.63s", rec->upload_id);
	s->t[s->n] = rec->run;
	s->n++;
	/* the scan reads a snapshot: dropping the record under it is fine */
	mg_journal_del_upload(s->j, "t", key, 0);
	return 0;
}

static void test_scan_uploads(void **state)
{
	struct mg_journal *j = open_ok();
	struct mg_upload_record in = { 0 }, out;
	struct seen s = { .j = j };
	const char *keys[] = { "b", "a/x", "a", "c d" };

	(void)state;
	for (int i = 0; i < 4; i++) {
		snprintf(in.upload_id, sizeof(in.upload_id), "id-%d", i);
		in.run = i;
		assert_int_equal(mg_journal_put_upload(j, "t", keys[i], &in, 0), MG_OK);
	}
	assert_int_equal(mg_journal_put_upload(j, "t2", "a", &in, 0), MG_OK);
	assert_int_equal(mg_journal_put_upload(j, "u", "z", &in, 0), MG_OK);
	assert_int_equal(mg_journal_scan_uploads(j, "t", see_upload, &s), MG_OK);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.keys[0], "a");
	assert_string_equal(s.keys[1], "a/x");
	assert_string_equal(s.keys[2], "b");
	assert_string_equal(s.keys[3], "c d");
	assert_string_equal(s.ids[1], "id-1");
	assert_true(s.t[2] == 0 && s.t[0] == 2);
	assert_int_equal(mg_journal_get_upload(j, "t", "a", &out), MG_ABSENT);
	/* other targets untouched */
	assert_int_equal(mg_journal_get_upload(j, "t2", "a", &out), MG_OK);
	mg_upload_record_release(&out);
	mg_journal_close(j);
}

static int see_intent(void *arg, const char *key, int64_t t)
{
	struct seen *s = arg;

	snprintf(s->keys[s->n], 64, "%s", key);
	s->t[s->n++] = t;
	return 0;
}

static void test_intents(void **state)
{
	struct mg_journal *j = open_ok();
	struct seen s = { .j = j };
	int64_t t = 0;

	(void)state;
	assert_int_equal(mg_journal_get_intent(j, "t", "k", &t), MG_ABSENT);
	assert_int_equal(mg_journal_put_intent(j, "t", "k", 1764800000123456789LL, 1), MG_OK);
	assert_int_equal(mg_journal_put_intent(j, "t", "k/2", 5, 1), MG_OK);
	assert_int_equal(mg_journal_put_intent(j, "t2", "k", 6, 1), MG_OK);
	assert_int_equal(mg_journal_get_intent(j, "t", "k", &t), MG_OK);
	assert_true(t == 1764800000123456789LL);
	assert_int_equal(mg_journal_scan_intents(j, "t", see_intent, &s), MG_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0], "k");
	assert_true(s.t[0] == 1764800000123456789LL);
	assert_string_equal(s.keys[1], "k/2");
	assert_true(s.t[1] == 5);
	assert_int_equal(mg_journal_del_intent(j, "t", "k", 1), MG_OK);
	assert_int_equal(mg_journal_get_intent(j, "t", "k", &t), MG_ABSENT);
	assert_int_equal(mg_journal_get_intent(j, "t2", "k", &t), MG_OK);
	assert_true(t == 6);
	/* intents are not objects nor uploads */
	{
		struct mg_upload_record u;
		struct mg_journal_iter *it;
		const char *k;
		struct mg_obj_record rec;

		assert_int_equal(mg_journal_get_upload(j, "t", "k/2", &u), MG_ABSENT);
		mg_journal_iter_open(j, "t", NULL, &it);
		assert_int_equal(mg_journal_iter_next(it, &k, NULL, &rec), MG_DONE);
		mg_journal_iter_close(it);
	}
	mg_journal_close(j);
}

static int see_abandoned(void *arg, const char *key, const char *id, int64_t t,
			 const char *reason)
{
	struct seen *s = arg;

	s->t[s->n] = t;
	snprintf(s->keys[s->n], 64, "%s", key);
	snprintf(s->ids[s->n], 64, "%s", id);
	snprintf(s->extra[s->n], 128, "%s", reason);
	s->n++;
	return 0;
}

static void test_abandoned(void **state)
{
	struct mg_journal *j = open_ok();
	struct seen s = { .j = j };

	(void)state;
	assert_int_equal(mg_journal_put_abandoned(j, "t", "k", "id/1", 7,
						  "cannot be resumed: 405\nsecond line"), MG_OK);
	assert_int_equal(mg_journal_put_abandoned(j, "t", "k", "id2", 8, ""), MG_OK);
	assert_int_equal(mg_journal_put_abandoned(j, "t", "k0", "id3", 9, "x"), MG_OK);
	assert_int_equal(mg_journal_get_abandoned(j, "t", "k", "id/1"), MG_OK);
	assert_int_equal(mg_journal_get_abandoned(j, "t", "k", "id"), MG_ABSENT);
	assert_int_equal(mg_journal_get_abandoned(j, "t", "k0", "id/1"), MG_ABSENT);
	assert_int_equal(mg_journal_scan_abandoned(j, "t", see_abandoned, &s), MG_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "k");
	assert_string_equal(s.ids[0], "id/1");
	assert_string_equal(s.extra[0], "cannot be resumed: 405 second line");
	assert_true(s.t[0] == 7 && s.t[1] == 8 && s.t[2] == 9);
	assert_string_equal(s.ids[1], "id2");
	assert_string_equal(s.extra[1], "");
	assert_string_equal(s.keys[2], "k0");
	assert_string_equal(s.ids[2], "id3");
	assert_int_equal(mg_journal_del_abandoned(j, "t", "k", "id/1"), MG_OK);
	assert_int_equal(mg_journal_get_abandoned(j, "t", "k", "id/1"), MG_ABSENT);
	assert_int_equal(mg_journal_get_abandoned(j, "t", "k", "id2"), MG_OK);
	mg_journal_close(j);
}

static void test_hash_index(void **state)
{
	struct mg_journal *j = open_ok();
	char *key = NULL;

	(void)state;
	assert_int_equal(mg_journal_find_hash(j, "abcd", "t", &key), MG_ABSENT);
	assert_int_equal(mg_journal_put_hash(j, "abcd", "t", "x/y", 1), MG_OK);
	assert_int_equal(mg_journal_put_hash(j, "abcde", "t", "other", 1), MG_OK);
	assert_int_equal(mg_journal_find_hash(j, "abcd", "t", &key), MG_OK);
	assert_string_equal(key, "x/y");
	free(key);
	assert_int_equal(mg_journal_find_hash(j, "abcd", "u", &key), MG_ABSENT);
	assert_int_equal(mg_journal_del_hash(j, "abcd", "t", "x/y", 1), MG_OK);
	assert_int_equal(mg_journal_find_hash(j, "abcd", "t", &key), MG_ABSENT);
	mg_journal_close(j);
}

struct runs_seen {
	int64_t starts[8];
	int n;
};

static int on_run(void *arg, int64_t start, const char *json)
{
	struct runs_seen *s = arg;

	assert_non_null(strstr(json, "\"n\""));
	s->starts[s->n++] = start;
	return 0;
}

static void test_runs_newest_first(void **state)
{
	struct mg_journal *j = open_ok();
	struct runs_seen seen = { { 0 }, 0 };

	(void)state;
	assert_int_equal(mg_journal_put_run(j, 100, "{\"n\":1}"), MG_OK);
	assert_int_equal(mg_journal_put_run(j, 300, "{\"n\":3}"), MG_OK);
	assert_int_equal(mg_journal_put_run(j, 200, "{\"n\":2}"), MG_OK);
	assert_int_equal(mg_journal_put_meta(j, "zz-after-runs", "x"), MG_OK);
	assert_int_equal(mg_journal_list_runs(j, 2, on_run, &seen), MG_OK);
	assert_int_equal(seen.n, 2);
	assert_true(seen.starts[0] == 300 && seen.starts[1] == 200);
	mg_journal_close(j);
}

static void test_lock_refuses_second_process(void **state)
{
	struct mg_journal *j = open_ok();
	pid_t pid;
	int status;

	(void)state;
	/* fcntl locks are per process: the second opener must be another one */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct mg_journal *j2 = NULL;
		struct mg_error err = { 0 };
		char want[64];

		snprintf(want, sizeof(want), "pid %ld", (long)getppid());
		if (mg_journal_open(dir, &j2, &err) != MG_FATAL)
			_exit(1);
		_exit(strstr(err.msg, want) && strstr(err.msg, "in use") ? 0 : 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	mg_journal_close(j);
	/* released on close */
	j = open_ok();
	mg_journal_close(j);
}

static void test_files_private(void **state)
{
	struct mg_journal *j = open_ok();
	struct stat st;
	DIR *d;
	struct dirent *de;
	char path[1024];

	(void)state;
	mg_journal_close(j);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 077, 0);
	}
	closedir(d);
}

static void test_schema_mismatch(void **state)
{
	struct mg_journal *j = open_ok();
	struct mg_error err = { 0 };

	(void)state;
	assert_int_equal(mg_journal_put_meta(j, "schema", "99"), MG_OK);
	mg_journal_close(j);
	assert_int_equal(mg_journal_open(dir, &j, &err), MG_FATAL);
	assert_non_null(strstr(err.msg, "schema 99"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TU_CASE(test_object_roundtrip),
		TU_CASE(test_scan_order),
		TU_CASE(test_upload_roundtrip),
		TU_CASE(test_upload_run_token),
		TU_CASE(test_object_lock_fields),
		TU_CASE(test_scan_uploads),
		TU_CASE(test_intents),
		TU_CASE(test_abandoned),
		TU_CASE(test_hash_index),
		TU_CASE(test_runs_newest_first),
		TU_CASE(test_lock_refuses_second_process),
		TU_CASE(test_files_private),
		TU_CASE(test_schema_mismatch),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
