/*
 * filter.c - the glob matcher and the plan's include/exclude/size/age
 * filter (syntax in filter.h and plans/README.md).
 *
 * The matcher runs the pattern as a small NFA (the set of live pattern
 * positions, advanced one key byte at a time) instead of backtracking:
 * patterns such as "**" "/" "**" "/" "**" "/a" against long keys stay
 * O(len(pattern) * len(key)), and "**" "/" (zero or more whole folders)
 * needs no special backtracking rules to be right.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include "mg.h"
#include "filter.h"
#include "plan.h"
#include "connector.h"

/*
 * Matches one character c against the class starting at pat[*pi] ('[').
 * Returns 1/0 for match/no match and moves *pi past the ']', or -1 when
 * the class is not closed (the '[' is then an ordinary character).
 */
static int class_match(const char *pat, size_t plen, size_t *pi, char c)
{
	size_t i = *pi + 1;
	int negate = 0, hit = 0, first = 1;

	if (i < plen && (pat[i] == '!' || pat[i] == '^')) {
		negate = 1;
		i++;
	}
	while (i < plen && (pat[i] != ']' || first)) {
		char lo = pat[i], hi;

		first = 0;
		if (lo == '\\' && i + 1 < plen)
			lo = pat[++i];
		i++;
		hi = lo;
		if (i + 1 < plen && pat[i] == '-' && pat[i + 1] != ']') {
			hi = pat[i + 1];
			if (hi == '\\' && i + 2 < plen) {
				hi = pat[i + 2];
				i++;
			}
			i += 2;
		}
		if ((unsigned char)c >= (unsigned char)lo &&
		    (unsigned char)c <= (unsigned char)hi)
			hit = 1;
	}
	if (i >= plen)
		return -1;
	*pi = i + 1;
	return hit != negate;
}

/* "**" "/" is two tokens: T_DIRS consumes nothing and leads either past
 * T_RUN (zero folders) or into it; T_RUN eats any run that ends in '/'. */
enum tok_type { T_LIT, T_ANY, T_CLASS, T_STAR, T_GSTAR, T_DIRS, T_RUN };

struct tok {
	enum tok_type type;
	char c;		/* T_LIT */
	size_t at;	/* T_CLASS: index of its '[' in the pattern */
};

/* Splits pattern into tokens; returns how many (at most plen + 1: "**"
 * "/" is three characters and two tokens, a trailing '/' adds one). */
static size_t tokenize(const char *pat, size_t plen, struct tok *t)
{
	size_t n = 0, p = 0;

	while (p < plen) {
		char c = pat[p];

		if (c == '*') {
			size_t stars = 0;

			while (p < plen && pat[p] == '*') {
				stars++;
				p++;
			}
			if (stars == 1) {
				t[n++] = (struct tok){ T_STAR, 0, 0 };
			} else if (p < plen && pat[p] == '/') {
				p++;	/* "**" "/": whole folders, or none */
				t[n++] = (struct tok){ T_DIRS, 0, 0 };
				t[n++] = (struct tok){ T_RUN, 0, 0 };
			} else {
				t[n++] = (struct tok){ T_GSTAR, 0, 0 };
			}
			continue;
		}
		if (c == '?') {
			t[n++] = (struct tok){ T_ANY, 0, 0 };
			p++;
			continue;
		}
		if (c == '[') {
			size_t q = p;

			if (class_match(pat, plen, &q, 'x') >= 0) {
				t[n++] = (struct tok){ T_CLASS, 0, p };
				p = q;
				continue;
			}
			/* unclosed: a literal '[' */
		}
		if (c == '\\' && p + 1 < plen)
			c = pat[++p];
		t[n++] = (struct tok){ T_LIT, c, 0 };
		p++;
	}
	/* "tmp/" names a folder: everything under it */
	if (plen && pat[plen - 1] == '/' &&
	    !(plen >= 2 && pat[plen - 2] == '\\'))
		t[n++] = (struct tok){ T_GSTAR, 0, 0 };
	return n;
}

/* Stars may match nothing: a live state before one also makes the state
 * after it live.  Left to right, so runs of stars cascade. */
static void closure(const struct tok *t, size_t n, unsigned char *s)
{
	for (size_t i = 0; i < n; i++) {
		if (!s[i])
			continue;
		if (t[i].type == T_STAR || t[i].type == T_GSTAR)
			s[i + 1] = 1;
		if (t[i].type == T_DIRS)
			s[i + 1] = s[i + 2] = 1;
	}
}

/*
 * Runs the pattern as an NFA over the key: the set of live pattern
 * positions advances one key byte at a time.  No backtracking, so no
 * pattern can take more than O(len(pattern) * len(key)) steps.
 */
static int match_nfa(const char *pat, size_t plen, const struct tok *t,
		     size_t n, const char *key)
{
	unsigned char small[2][128], *heap = NULL, *cur, *next;
	int live = 1, r;

	if (n + 1 <= sizeof(small[0])) {
		cur = small[0];
		next = small[1];
	} else {
		heap = mg_malloc(2 * (n + 1));
		cur = heap;
		next = heap + n + 1;
	}
	memset(cur, 0, n + 1);
	cur[0] = 1;
	closure(t, n, cur);
	for (const char *k = key; *k && live; k++) {
		char ch = *k;
		unsigned char *tmp;

		memset(next, 0, n + 1);
		live = 0;
		for (size_t i = 0; i < n; i++) {
			size_t q;

			if (!cur[i])
				continue;
			switch (t[i].type) {
			case T_LIT:
				next[i + 1] |= ch == t[i].c;
				break;
			case T_ANY:
				next[i + 1] |= ch != '/';
				break;
			case T_CLASS:
				q = t[i].at;
				next[i + 1] |= ch != '/' &&
					class_match(pat, plen, &q, ch) == 1;
				break;
			case T_STAR:
				next[i] |= ch != '/';
				break;
			case T_GSTAR:
				next[i] = 1;
				break;
			case T_DIRS:
				break;	/* only leads elsewhere */
			case T_RUN:
				next[i] = 1;
				next[i + 1] |= ch == '/';
				break;
			}
		}
		closure(t, n, next);
		for (size_t i = 0; i <= n; i++)
			live |= next[i];
		tmp = cur;
		cur = next;
		next = tmp;
	}
	r = live && cur[n];
	free(heap);
	return r;
}

int mg_glob_match(const char *pattern, const char *key)
{
	struct tok small[64], *t = small;
	const char *k = key;
	size_t plen, n;
	int r;

	if (pattern[0] == '/') {
		pattern++;	/* anchored: always against the whole key */
	} else if (!strchr(pattern, '/')) {
		const char *slash = strrchr(key, '/');

		if (slash)
			k = slash + 1;
	}
	plen = strlen(pattern);
	if (plen + 1 > sizeof(small) / sizeof(small[0]))
		t = mg_calloc(plen + 1, sizeof(*t));
	n = tokenize(pattern, plen, t);
	r = match_nfa(pattern, plen, t, n, k);
	if (t != small)
		free(t);
	return r;
}

int mg_filter_accept(const struct mg_plan *plan, const struct mg_entry *e,
		     int64_t now)
{
	const typeof(plan->filter) *f = &plan->filter;

	for (size_t i = 0; i < f->nexclude; i++)
		if (mg_glob_match(f->exclude[i], e->key))
			return 0;
	if (f->ninclude) {
		size_t i;

		for (i = 0; i < f->ninclude; i++)
			if (mg_glob_match(f->include[i], e->key))
				break;
		if (i == f->ninclude)
			return 0;
	}
	if (e->kind != MG_ENTRY_FILE)
		return 1;	/* symlinks and errors are reported, not sized */
	if (f->min_size && e->size < f->min_size)
		return 0;
	if (f->max_size && e->size > f->max_size)
		return 0;
	/* an unknown mtime (0) passes the age bounds: dropping data because
	 * a backend did not say how old it is would be a silent loss */
	if (e->mtime_ns) {
		int64_t mtime = e->mtime_ns / 1000000000;

		if (f->newer_than && mtime < now - f->newer_than)
			return 0;
		if (f->older_than && mtime > now - f->older_than)
			return 0;
	}
	return 1;
}
