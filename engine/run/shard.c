/*
 * shard.c - one task of N (see shard.h and plans/README.md, "Sharded
 * runs").  Three ways to split:
 *   hash    key hash mod N: even balance whatever the tree looks like,
 *           but every task lists the whole source;
 *   folder  the hash of the top-level name: a task's walk reopens past
 *           the folders that are not its own, so the N walks together
 *           read the tree about once; balance follows the folders;
 *   prefix  key ranges between boundaries (S3: one listing started with
 *           start-after, stopped at the next boundary); balance follows
 *           the boundaries, from the plan or from a sample of the source
 *           shared through the journal folder (shard_sample.c).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "mg.h"
#include "shard.h"

uint64_t mg_shard_hash(const char *key, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	uint64_t h = 0;

	EVP_Digest(key, len, md, &mdlen, EVP_sha256(), NULL);
	for (int i = 0; i < 8; i++)
		h = h << 8 | md[i];
	return h;
}

int mg_shard_parse(const char *s, struct mg_shard *sh, char *msg, size_t msglen)
{
	unsigned long long i, n;
	char *end;

	errno = 0;
	i = strtoull(s, &end, 10);
	if (end == s || *end != '/' || errno || s[0] == '-')
		goto bad;
	s = end + 1;
	n = strtoull(s, &end, 10);
	if (end == s || *end || errno || s[0] == '-')
		goto bad;
	if (n < 1 || n > MG_SHARD_MAX || i >= n) {
		snprintf(msg, msglen, "--shard %llu/%llu: the index counts from 0 and must "
			 "be below the count (1 to %d), e.g. --shard 0/4 .. --shard 3/4",
			 i, n, MG_SHARD_MAX);
		return -1;
	}
	sh->index = (unsigned)i;
	sh->count = (unsigned)n;
	return 0;
bad:
	snprintf(msg, msglen, "--shard: expected INDEX/COUNT such as 3/16, got '%s'", s);
	return -1;
}

int mg_shard_apply(struct mg_plan *plan, int quiet, char *msg, size_t msglen)
{
	struct mg_shard *sh = &plan->shard;
	char name[40], *j;
	int r;

	if (!sh->count)
		return MG_EXIT_OK;
	/* before the journal moves to the shard's own folder: the
	 * boundaries are shared by all tasks, beside their journals */
	if (sh->by == MG_SHARD_PREFIX && sh->count > 1 && !sh->nprefixes &&
	    (r = mg_shard_find_prefixes(plan, quiet, msg, msglen)) != MG_EXIT_OK)
		return r;
	if (sh->by == MG_SHARD_PREFIX && sh->nprefixes != sh->count - 1) {
		snprintf(msg, msglen, "%s: 'shard: by: prefix' with %u tasks needs %u "
			 "boundaries in 'shard: prefixes' (got %zu): list them in the plan "
			 "so that every task splits the same way",
			 plan->file ? plan->file : "plan", sh->count, sh->count - 1,
			 sh->nprefixes);
		return MG_EXIT_USAGE;
	}
	/* one journal per shard: a task that dies is rerun alone and resumes
	 * from its own journal, and no two tasks share a LevelDB lock */
	snprintf(name, sizeof(name), "shard-%04u-of-%04u", sh->index, sh->count);
	j = mg_path_join(plan->journal, name);
	free(plan->journal);
	plan->journal = j;
	return MG_EXIT_OK;
}

/* The first path component of key (all of it without a '/'). */
static size_t top_len(const char *key)
{
	const char *slash = strchr(key, '/');

	return slash ? (size_t)(slash - key) : strlen(key);
}

int mg_shard_mine(const struct mg_shard *sh, const char *key)
{
	const char *lo, *hi;

	if (sh->count <= 1)
		return 1;
	switch (sh->by) {
	case MG_SHARD_FOLDER:
		return mg_shard_hash(key, top_len(key)) % sh->count == sh->index;
	case MG_SHARD_PREFIX:
		lo = mg_shard_start_after(sh);
		hi = mg_shard_last(sh);
		return (!lo || strcmp(key, lo) > 0) && (!hi || strcmp(key, hi) <= 0);
	default:
		return mg_shard_hash(key, strlen(key)) % sh->count == sh->index;
	}
}

const char *mg_shard_start_after(const struct mg_shard *sh)
{
	if (sh->count <= 1 || sh->by != MG_SHARD_PREFIX || sh->index == 0)
		return NULL;
	return sh->prefixes[sh->index - 1];
}

const char *mg_shard_last(const struct mg_shard *sh)
{
	if (sh->count <= 1 || sh->by != MG_SHARD_PREFIX || sh->index == sh->count - 1)
		return NULL;
	return sh->prefixes[sh->index];
}

int mg_shard_skip_folder(const struct mg_shard *sh, const char *key, char **skip)
{
	size_t n = top_len(key);

	if (sh->count <= 1 || sh->by != MG_SHARD_FOLDER || !key[n] ||
	    mg_shard_hash(key, n) % sh->count == sh->index)
		return 0;
	/* "dir/" and the last Unicode code point (U+10FFFF) sorts after
	 * nearly every key under dir/; the rare one past it is listed and
	 * left by mg_shard_mine */
	*skip = mg_malloc(n + 6);
	memcpy(*skip, key, n);
	memcpy(*skip + n, "/\xf4\x8f\xbf\xbf", 6);
	return 1;
}
