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

#include "journal.h"

static char base[256];
static char dir[300];

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/mg-journal-test.XXXXXX");
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/j", base);
	return 0;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	return system(cmd) == 0 ? 0 : -1;
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
		cmocka_unit_test_setup_teardown(test_object_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upload_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runs_newest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_refuses_second_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_mismatch, setup, teardown),
	};

	return cmocka_run_group_tests_name("journal", tests, NULL, NULL);
}
