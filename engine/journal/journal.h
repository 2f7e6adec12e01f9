/*
 * journal.h - the LevelDB journal: what was moved, where, with which hash.
 *
 * Schema (version 1).  Keys are byte strings; LevelDB's default comparator
 * orders them byte-wise, the same order every listing uses, so a journal
 * range scan merge-joins with a listing.  <tid> is the endpoint id of a
 * target (plan.h: 16 hex), so one journal serves several targets.
 *
 *   m/schema               "1"
 *   m/plan                 hex SHA-256 of the plan file last run
 *   o/<tid>/<key>          object record (struct mg_obj_record), text:
 *                          "1 state size mtime_ns sha256 etag t_start t_done
 *                           run src_etag [sclass enc [version_id lock hold]]\n"
 *                          with "-" for empty strings; sclass and enc
 *                          appended by issue 15.3 (enc as one letter: A
 *                          AES256, K aws:kms, C SSE-C), left out when empty;
 *                          version_id, lock and hold by issue 15.5, only
 *                          where a version or a lock is known: lock is
 *                          "MODE@until_s" or "-", hold "H" or "-"; a
 *                          record without them reads as ""
 *   u/<tid>/<key>          open multipart upload (struct mg_upload_record):
 *                          "1 upload_id part_size size mtime_ns src_etag
 *                           t_start hashed_parts hash_state [run]\n" then
 *                          one line per part done:
 *                          "number size etag md5hex\n"
 *                          (run, appended later, is the token of the last
 *                          run that wanted the object as a multipart
 *                          upload; a record without it reads as run 0)
 *   i/<tid>/<key>          intent: a CreateMultipartUpload for key may be
 *                          under way or may have left an upload whose id
 *                          no record holds: "1 t_ns\n", t_ns (ns since the
 *                          epoch) taken before the first such Create.
 *                          Dropped once ListMultipartUploads for the key
 *                          showed nothing unowned (uploads.c).
 *   a/<tid>/<key>\0<id>    an upload the engine gave up (cannot be resumed)
 *                          whose abort the server did not confirm:
 *                          "1 t_ns reason...\n"; retried each run and
 *                          dropped once the abort is confirmed.
 *   h/<sha256>/<tid>/<key> dedupe index: content with this hash lives at key
 *                          (value empty)
 *   d/<tid>/<key>          sync: an object gone from the source, to delete
 *                          at the target once the listing is known complete
 *                          (value: size in decimal)
 *   r/<start_ns as 20 digits> run record, JSON (jansson), see engine.c
 *
 * Durability: records written with sync=1 are on disk when the call
 * returns.  The engine reports an object done only after its record was
 * written with sync=1 (LevelDB groups concurrent synced writes into one
 * fsync).  The folder is created 0700 and the files in it 0600: a journal
 * tells what a bucket holds.
 *
 * Locking: a second process on the same journal is refused: the lock file
 * "lock.pid" is held with fcntl() and names the holder's PID.
 */
#ifndef MG_JOURNAL_H
#define MG_JOURNAL_H

#include <stdint.h>
#include <stddef.h>
#include "mg.h"

#define MG_JOURNAL_SCHEMA 1

struct mg_journal;
struct mg_journal_iter;

enum mg_obj_state {
	MG_OBJ_NONE = 0,
	MG_OBJ_DONE = 1,	/* at the target, verified as far as the plan says */
	MG_OBJ_FAILED = 2,	/* last attempt failed; retried next run */
	MG_OBJ_DELETING = 3,	/* sync: delete journaled, not yet confirmed */
	MG_OBJ_DELETED = 4,
};

struct mg_obj_record {
	enum mg_obj_state state;
	uint64_t size;
	int64_t mtime_ns;
	char sha256[65];	/* "" if unknown */
	char etag[80];		/* target ETag, "" if none */
	int64_t t_start;	/* ns since the epoch */
	int64_t t_done;
	int64_t run;		/* start time (ns) of the run that wrote it */
	char src_etag[80];	/* source's native ETag, "" if none */
	/* Appended (issue 15.3/15.6): the storage class asked for the
	 * object ("" none: the bucket's default) and the encryption asked
	 * ("AES256", "aws:kms", "SSE-C", "" none).  Two more words at the end
	 * of the record, left out when both are empty. */
	char sclass[24];
	char enc[16];
	/* Appended (issue 15.5): the version id the target gave the object
	 * ("" none: unversioned, or a backend without versions), and the
	 * Object Lock it was written with: lock_mode "GOVERNANCE" or
	 * "COMPLIANCE" with lock_until (s since the epoch), "" for none;
	 * legal_hold 1 when it was put under one. */
	char version_id[128];
	char lock_mode[12];
	int64_t lock_until;
	int legal_hold;
};

struct mg_part_record {
	int number;
	uint64_t size;
	char etag[80];
	char md5[33];
};

struct mg_upload_record {
	char upload_id[512];
	uint64_t part_size;
	uint64_t size;		/* of the whole object */
	int64_t mtime_ns;	/* of the source when the upload started */
	char src_etag[80];
	int64_t t_start;
	/* The SHA-256 of the object's first hashed_parts parts, as the raw
	 * hash state in hex, so a resumed upload finishes the hash without
	 * reading those parts again.  "" when no part is hashed yet. */
	char hash_state[512];
	int hashed_parts;
	struct mg_part_record *parts;	/* sorted by number; owned */
	size_t nparts;
	int64_t run;		/* token of the last run that wanted it, 0 unknown */
};

/* Opens (creating) the journal in dir.  MG_FATAL with err set when it is
 * locked by another process (message names the PID), cannot be created, or
 * has another schema. */
int mg_journal_open(const char *dir, struct mg_journal **out, struct mg_error *err);
void mg_journal_close(struct mg_journal *j);

/* Objects.  get returns MG_OK or MG_ABSENT. */
int mg_journal_get_obj(struct mg_journal *j, const char *tid, const char *key,
		       struct mg_obj_record *rec);
int mg_journal_put_obj(struct mg_journal *j, const char *tid, const char *key,
		       const struct mg_obj_record *rec, int sync);
int mg_journal_del_obj(struct mg_journal *j, const char *tid, const char *key,
		       int sync);

/* Range scan of o/<tid>/ in key order, starting after start_after (NULL:
 * from the first).  next returns MG_OK, MG_DONE or MG_FATAL; *key stays
 * valid until the next call. */
int mg_journal_iter_open(struct mg_journal *j, const char *tid,
			 const char *start_after, struct mg_journal_iter **out);
int mg_journal_iter_next(struct mg_journal_iter *it, const char **key,
			 size_t *keylen, struct mg_obj_record *rec);
void mg_journal_iter_close(struct mg_journal_iter *it);

/* Multipart uploads in progress. */
int mg_journal_get_upload(struct mg_journal *j, const char *tid, const char *key,
			  struct mg_upload_record *rec);
int mg_journal_put_upload(struct mg_journal *j, const char *tid, const char *key,
			  const struct mg_upload_record *rec, int sync);
int mg_journal_del_upload(struct mg_journal *j, const char *tid, const char *key,
			  int sync);
void mg_upload_record_release(struct mg_upload_record *rec);
/* Calls cb for every u/<tid>/ record in key order; stops early when cb
 * returns non-zero.  rec is released after cb returns.  cb may write and
 * delete records (the scan reads a snapshot). */
int mg_journal_scan_uploads(struct mg_journal *j, const char *tid,
			    int (*cb)(void *arg, const char *key,
				      struct mg_upload_record *rec),
			    void *arg);

/* Intents (i/<tid>/<key>): get returns MG_OK with *t_ns or MG_ABSENT. */
int mg_journal_put_intent(struct mg_journal *j, const char *tid, const char *key,
			  int64_t t_ns, int sync);
int mg_journal_get_intent(struct mg_journal *j, const char *tid, const char *key,
			  int64_t *t_ns);
int mg_journal_del_intent(struct mg_journal *j, const char *tid, const char *key,
			  int sync);
int mg_journal_scan_intents(struct mg_journal *j, const char *tid,
			    int (*cb)(void *arg, const char *key, int64_t t_ns),
			    void *arg);

/* Uploads given up whose abort is not confirmed (a/<tid>/<key>\0<id>).
 * get returns MG_OK or MG_ABSENT; reason may be NULL. */
int mg_journal_put_abandoned(struct mg_journal *j, const char *tid, const char *key,
			     const char *upload_id, int64_t t_ns, const char *reason);
int mg_journal_get_abandoned(struct mg_journal *j, const char *tid, const char *key,
			     const char *upload_id);
int mg_journal_del_abandoned(struct mg_journal *j, const char *tid, const char *key,
			     const char *upload_id);
int mg_journal_scan_abandoned(struct mg_journal *j, const char *tid,
			      int (*cb)(void *arg, const char *key,
					const char *upload_id, int64_t t_ns,
					const char *reason),
			      void *arg);

/* Dedupe index.  find fills key_out (malloc'd, caller frees) with one key
 * at tid holding content sha256 and returns MG_OK, or MG_ABSENT. */
int mg_journal_put_hash(struct mg_journal *j, const char *sha256,
			const char *tid, const char *key, int sync);
int mg_journal_find_hash(struct mg_journal *j, const char *sha256,
			 const char *tid, char **key_out);
int mg_journal_del_hash(struct mg_journal *j, const char *sha256,
			const char *tid, const char *key, int sync);

/* Pending deletions (d/<tid>/<key>).  scan calls cb in key order and
 * stops early when cb returns non-zero. */
int mg_journal_put_gone(struct mg_journal *j, const char *tid, const char *key,
			uint64_t size);
int mg_journal_del_gone(struct mg_journal *j, const char *tid, const char *key);
int mg_journal_scan_gone(struct mg_journal *j, const char *tid,
			 int (*cb)(void *arg, const char *key, uint64_t size),
			 void *arg);

/* Run records: JSON text keyed by start time.  list calls cb newest first
 * for at most max records. */
int mg_journal_put_run(struct mg_journal *j, int64_t start_ns, const char *json);
int mg_journal_list_runs(struct mg_journal *j, size_t max,
			 int (*cb)(void *arg, int64_t start_ns, const char *json),
			 void *arg);

/* Meta values (m/<name>). get returns malloc'd string or NULL. */
int mg_journal_put_meta(struct mg_journal *j, const char *name, const char *value);
char *mg_journal_get_meta(struct mg_journal *j, const char *name);
/* Not synced: durable with the next synced write (the log keeps order). */
int mg_journal_put_meta_unsynced(struct mg_journal *j, const char *name, const char *value);

/*
 * Group commit.  A batch gathers object records, upload deletions and
 * hash index entries in memory; mg_journal_batch_write() writes them all
 * at once with one sync and empties the batch.  Nothing in a batch is
 * visible to reads before it is written.
 */
struct mg_journal_batch;

struct mg_journal_batch *mg_journal_batch_new(void);
void mg_journal_batch_free(struct mg_journal_batch *b);
void mg_journal_batch_put_obj(struct mg_journal_batch *b, const char *tid,
			      const char *key, const struct mg_obj_record *rec);
void mg_journal_batch_del_upload(struct mg_journal_batch *b, const char *tid,
				 const char *key);
void mg_journal_batch_put_hash(struct mg_journal_batch *b, const char *sha256,
			       const char *tid, const char *key);
size_t mg_journal_batch_count(const struct mg_journal_batch *b);
int mg_journal_batch_write(struct mg_journal *j, struct mg_journal_batch *b);

#endif
