/*
 * filter.h - include/exclude globs, size and age bounds.
 *
 * Glob syntax (documented in plans/README.md):
 *   *      any run of characters except '/'
 *   ?      one character except '/'
 *   [abc] [a-z] [!a-z]   one character of (or not of) a class
 *   **     any run of characters including '/'; "**" + "/" also matches
 *          zero folders, so "**" "/x" matches "x" at the top too
 *   \x     x literally
 * A pattern without '/' is matched against the last path component (like
 * .gitignore), a pattern with '/' against the whole key; a leading '/'
 * anchors it at the root and is dropped.
 */
#ifndef MG_FILTER_H
#define MG_FILTER_H

#include <stdint.h>

struct mg_plan;
struct mg_entry;

/* 1 if key matches pattern, 0 if not. */
int mg_glob_match(const char *pattern, const char *key);

/* 1 if the entry passes the plan's filter at time now (seconds since the
 * epoch), 0 if it is filtered out.  Excludes win over includes. */
int mg_filter_accept(const struct mg_plan *plan, const struct mg_entry *e,
		     int64_t now);

#endif
