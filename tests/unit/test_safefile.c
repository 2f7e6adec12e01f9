/*
 * test_safefile.c - files replaced whole (mkstemp + rename) and logs
 * appended to, with links planted where an attacker would plant them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "safefile.h"
#include "testutil.h"

static char dir[] = "/tmp/mg-safefile.XXXXXX";

static char *in_dir(const char *name)
{
	static char path[2][512];
	static int k;

	k ^= 1;
	snprintf(path[k], sizeof(path[k]), "%s/%s", dir, name);
	return path[k];
}

static void put(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void expect(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_string_equal(buf, text);
}

/* Entries of the folder but ".", "..": no temporary file left behind. */
static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/mg-safefile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return tu_rmtree(dir);
}

static void test_replace_link_not_target(void **state)
{
	struct mg_safefile sf;
	struct mg_error err = { 0 };
	struct stat st;

	(void)state;
	put(in_dir("victim"), "precious", 0600);
	assert_int_equal(symlink(in_dir("victim"), in_dir("metrics")), 0);
	assert_int_equal(mg_safefile_open(in_dir("metrics"), 0644, &sf, &err), MG_OK);
	fputs("new content", mg_safefile_stream(&sf));
	assert_int_equal(mg_safefile_commit(&sf, &err), MG_OK);
	expect(in_dir("victim"), "precious");
	assert_int_equal(lstat(in_dir("metrics"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	expect(in_dir("metrics"), "new content");
	assert_int_equal(entries(), 2);
}

static void test_mode_never_wider(void **state)
{
	struct mg_safefile sf;
	struct mg_error err = { 0 };
	struct stat st;
	mode_t old = umask(027);

	(void)state;
	assert_int_equal(mg_safefile_open(in_dir("report"), 0644, &sf, &err), MG_OK);
	assert_int_equal(write(sf.fd, "x", 1), 1);
	assert_int_equal(mg_safefile_commit(&sf, &err), MG_OK);
	umask(old);
	assert_int_equal(stat(in_dir("report"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
}

static void test_abort_leaves_target(void **state)
{
	struct mg_safefile sf;
	struct mg_error err = { 0 };

	(void)state;
	put(in_dir("keep"), "old", 0644);
	assert_int_equal(mg_safefile_open(in_dir("keep"), 0644, &sf, &err), MG_OK);
	assert_int_equal(write(sf.fd, "half", 4), 4);
	mg_safefile_abort(&sf);
	expect(in_dir("keep"), "old");
	assert_int_equal(entries(), 1);
}

static void test_missing_folder(void **state)
{
	struct mg_safefile sf;
	struct mg_error err = { 0 };

	(void)state;
	assert_int_equal(mg_safefile_open(in_dir("no/such/file"), 0644, &sf, &err),
			 MG_FAILED);
	assert_non_null(strstr(err.msg, "no/such/file"));
}

static void test_append_refuses_links(void **state)
{
	int fd;

	(void)state;
	put(in_dir("victim"), "precious", 0600);
	assert_int_equal(symlink(in_dir("victim"), in_dir("log")), 0);
	assert_int_equal(mg_safefile_append(in_dir("log"), 0600), -1);
	assert_int_equal(errno, ELOOP);
	expect(in_dir("victim"), "precious");
	assert_int_equal(mkfifo(in_dir("fifo"), 0600), 0);
	/* no reader: ENXIO from open itself; with one, EINVAL (not a file) */
	assert_int_equal(mg_safefile_append(in_dir("fifo"), 0600), -1);
	assert_true(errno == EINVAL || errno == ENXIO);
	fd = mg_safefile_append(in_dir("new.log"), 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "a\n", 2), 2);
	close(fd);
	fd = mg_safefile_append(in_dir("new.log"), 0600);
	assert_int_equal(write(fd, "b\n", 2), 2);
	close(fd);
	expect(in_dir("new.log"), "a\nb\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		TU_CASE(test_replace_link_not_target),
		TU_CASE(test_mode_never_wider),
		TU_CASE(test_abort_leaves_target),
		TU_CASE(test_missing_folder),
		TU_CASE(test_append_refuses_links),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
