/*
 * shard.h - one task of N: which keys are this task's, where its listing
 * starts and stops, and its own journal.  No coordinator: every task
 * decides alone from the key and the plan, so N tasks started anywhere
 * (a Slurm array, a Kubernetes Indexed Job, a shell loop) split the
 * source into N disjoint parts whose union is the whole source.
 */
#ifndef MG_SHARD_H
#define MG_SHARD_H

#include <stdint.h>

#include "plan.h"

/* The stable hash: the first 8 bytes of SHA-256 of the key (as listed,
 * relative to the source URL), big-endian.  Documented in plans/README.md:
 * changing it would move objects between shards of a running migration. */
uint64_t mg_shard_hash(const char *key, size_t len);

/* Parses --shard "I/N" into sh (index, count).  Returns 0, or -1 with a
 * message in msg. */
int mg_shard_parse(const char *s, struct mg_shard *sh, char *msg, size_t msglen);

/* After the plan is loaded and --shard applied: checks the shard against
 * the source and moves plan->journal to <journal>/shard-IIII-of-NNNN.
 * Nothing when the plan is not sharded.  Returns MG_EXIT_OK, or an exit
 * code with a message (MG_EXIT_FATAL when the boundaries had to be found
 * from a source that cannot be listed).  quiet as --quiet. */
int mg_shard_apply(struct mg_plan *plan, int quiet, char *msg, size_t msglen);

/* Is key this task's?  Always 1 when not sharded. */
int mg_shard_mine(const struct mg_shard *sh, const char *key);

/* by prefix: where this task's listing starts (exclusive, NULL: the
 * beginning) and the last key it takes (inclusive, NULL: the end). */
const char *mg_shard_start_after(const struct mg_shard *sh);
const char *mg_shard_last(const struct mg_shard *sh);

/* by folder: key lies in a top-level folder not this task's; *skip is set
 * to a start_after that passes the rest of that folder (the listing is
 * then reopened there, so a local or SFTP walk never reads it).  Returns
 * 1 when the folder is someone else's, 0 otherwise. */
int mg_shard_skip_folder(const struct mg_shard *sh, const char *key, char **skip);

/* by prefix with no `prefixes` in the plan: the boundaries every task
 * shares, read from <journal>/shard-prefixes-of-NNNN or, when no task
 * wrote it yet, found from a sampled listing of the source and written
 * there first-writer-wins (shard_sample.c).  Fills plan->shard.prefixes.
 * Returns MG_EXIT_OK, or with a message MG_EXIT_USAGE (a boundaries file
 * that is damaged or another source's) or MG_EXIT_FATAL (the source
 * cannot be listed, the journal folder cannot be written).  quiet: no
 * notice of a new sample. */
int mg_shard_find_prefixes(struct mg_plan *plan, int quiet, char *msg, size_t msglen);

/* The sample itself: at most 4 * count + 8 list requests (told in
 * *requests), count-1 ascending boundaries in *out (malloc'd).  Returns
 * MG_OK, or the listing's error (in conn's err). */
struct mg_conn;
int mg_shard_sample(struct mg_conn *conn, unsigned count, char ***out,
		    unsigned *requests);

#endif
