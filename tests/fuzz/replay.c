/*
 * replay.c - main() for a fuzz harness built as a plain program: feeds
 * each file to LLVMFuzzerTestOneInput() once and prints one TAP line per
 * file.  A failing property aborts the program (the TAP plan is then
 * short, which counts as a failure), so the file that broke it is the
 * last "# FILE" line in the log.
 *
 *   fuzz_NAME [FILE|FOLDER...]
 *
 * With no argument it reads $MG_SRCDIR/tests/fuzz/corpus/NAME (NAME is
 * the program name without "fuzz_"), or ../tests/fuzz/corpus/NAME.
 */
#ifndef MG_FUZZ_LIBFUZZER

#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fuzz.h"

static int ntests;

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		printf("not ok %d - %s: %s\n", ++ntests, path, strerror(errno));
		return -1;
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	printf("# %s\n", path);
	fflush(stdout);
	/* a copy of exactly len bytes, so ASan sees any read past the end */
	{
		uint8_t *exact = malloc(len ? len : 1);

		if (!exact)
			abort();
		memcpy(exact, buf, len);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	free(buf);
	printf("ok %d - %s\n", ++ntests, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	return 0;
}

static int replay(const char *path)
{
	struct stat st;
	struct dirent *d;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int bad = 0;
	DIR *dp;

	if (stat(path, &st) < 0) {
		printf("not ok %d - %s: %s\n", ++ntests, path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	dp = opendir(path);
	if (!dp) {
		printf("not ok %d - %s: %s\n", ++ntests, path, strerror(errno));
		return -1;
	}
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			if (!names)
				abort();
		}
		names[n] = malloc(strlen(path) + strlen(d->d_name) + 2);
		if (!names[n])
			abort();
		sprintf(names[n++], "%s/%s", path, d->d_name);
	}
	closedir(dp);
	/* the same order every time, so a log compares with the last one */
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (replay(names[i]) < 0)
			bad = 1;
		free(names[i]);
	}
	free(names);
	if (n == 0) {
		printf("not ok %d - %s: empty corpus\n", ++ntests, path);
		bad = 1;
	}
	return bad ? -1 : 0;
}

int main(int argc, char **argv)
{
	int bad = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			if (replay(argv[i]) < 0)
				bad = 1;
	} else {
		const char *src = getenv("MG_SRCDIR");
		const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
		char dir[4096];

		if (strncmp(prog, "fuzz_", 5) == 0)
			prog += 5;
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s",
			 src ? src : "..", prog);
		bad = replay(dir) < 0;
	}
	printf("1..%d\n", ntests);
	return bad;
}

#endif
