/*
 * fuzz.h - what the fuzz harnesses share.
 *
 * Each tests/fuzz/fuzz_*.c defines LLVMFuzzerTestOneInput(), the entry
 * point libFuzzer and afl++ (through its libFuzzer driver) call with one
 * input.  Built without MG_FUZZ_LIBFUZZER, replay.c adds a main() that
 * feeds every file of the harness's seed corpus (or of the files and
 * folders named on the command line) to it once and prints TAP: that is
 * how `make check` and tools/test (under ASan and UBSan) keep every input
 * that ever mattered passing.  tools/fuzz builds the same files with
 * clang's libFuzzer for a real fuzzing run.
 *
 * A harness fails by abort() (through FUZZ_CHECK) when a property it
 * states does not hold; the sanitizers catch the rest.
 */
#ifndef MG_FUZZ_H
#define MG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: property failed: %s: ",		\
			__FILE__, __LINE__, #cond);			\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
		abort();						\
	}								\
} while (0)

/* The input as a NUL-terminated string (stops at the first NUL byte);
 * the caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	for (size_t i = 0; i < size; i++)
		s[i] = (char)data[i];
	s[size] = '\0';
	return s;
}

#endif
