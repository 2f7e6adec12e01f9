/*
 * uploads.h - "nothing open that nobody owns": the life of a multipart
 * upload outside the transfer itself (issue 14, items 4 and 5).
 *
 * - An intent (journal i/<tid>/<key>) is written before a
 *   CreateMultipartUpload, so an upload whose id never reached the journal
 *   (a crash, a lost answer) is found again with ListMultipartUploads.
 * - An upload record (u/) is dropped only when the server confirmed its
 *   completion or its abort (an abort answered NoSuchUpload, or NoSuchKey
 *   as RGW says, counts as confirmed).  An upload the server refuses to
 *   abort (s3rver: 405) is kept as an abandoned record (a/) and retried.
 * - Each run ends with a sweep: records no object wants any more, intents
 *   and abandoned uploads are aborted and dropped once confirmed.
 * - Whatever cannot be resumed, aborted or checked is reported (summary,
 *   --json, --log-json): key, upload id, reason.
 * - `migrate cleanup PLAN` lists and aborts uploads nobody owns.
 */
#ifndef MG_UPLOADS_H
#define MG_UPLOADS_H

#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "connector.h"
#include "journal.h"

#define MG_UPLOAD_ISSUES_KEEP 20	/* listed one per line; the rest counted */

struct mg_upload_issue {
	char *key;
	char *upload_id;
	char *reason;
	int left_open;		/* 1: still open at the server; 0: not resumed
				 * (aborted and sent again) */
};

/* Per target; zero-initialised is empty.  Safe from several threads. */
struct mg_upload_issues {
	struct mg_upload_issue list[MG_UPLOAD_ISSUES_KEEP];
	size_t n;
	uint64_t total;		/* uploads left open, listed or not */
	uint64_t restarted;	/* journaled uploads the server would not let
				 * resume (aborted, sent again) */
	uint64_t swept;		/* uploads the sweep aborted (confirmed) */
};

void mg_upload_issue_add(struct mg_upload_issues *is, const char *key,
			 const char *upload_id, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A journaled upload the server would not let resume (ListParts failed,
 * other parts than journaled), aborted and sent again: said, not silent. */
void mg_upload_note_restart(struct mg_upload_issues *is, const char *key,
			    const char *upload_id, const char *reason);
/* Summary lines (keys escaped), nothing when there is nothing to say. */
void mg_upload_issues_print(const struct mg_upload_issues *is, FILE *out);
/* {"aborted": N, "left_open_count": N, "not_resumed_count": N,
 *  "left_open": [{"key","upload_id","reason"}...], "not_resumed": [...]} */
json_t *mg_upload_issues_json(const struct mg_upload_issues *is);
void mg_upload_issues_release(struct mg_upload_issues *is);

/* Before a CreateMultipartUpload for key: journals the intent (synced)
 * unless one is there already.  *fresh tells mg_upload_intent_end()
 * whether this call wrote it.  MG_OK or MG_FATAL (journal). */
int mg_upload_intent_begin(struct mg_journal *j, const char *tid, const char *key,
			   int *fresh);
/* After the upload record holding the new id is durable.  An intent that
 * was there before (an earlier Create whose answer may be lost) stays for
 * the sweep to reconcile.  MG_OK, or MG_FATAL when the journal write failed. */
int mg_upload_intent_end(struct mg_journal *j, const char *tid, const char *key,
			 int fresh);

/*
 * Gives up the journaled upload (key, upload_id) that cannot be resumed
 * (why says so): aborts it and drops its record once the server confirmed.
 * MG_OK: aborted and dropped.  MG_RETRY or MG_FATAL: the abort failed for
 * now, the record stays, dst->err says why.  MG_WARN: the server cannot
 * abort it (e.g. 405): the record became an abandoned one (a/), retried
 * every run, and the issue is reported in is; the caller may start over.
 * MG_FATAL too when a journal write failed: dst->err says so (op "journal").
 */
int mg_upload_give_up(struct mg_journal *j, const char *tid, struct mg_conn *dst,
		      const char *key, const char *upload_id, const char *why,
		      struct mg_upload_issues *is);

/*
 * The sweep at the end of a run, for one target, once every worker is
 * done.  run_token is the token copy_multipart stamps into the records
 * of objects this run wanted as multipart uploads: the run's id, its
 * start on the wall clock (mg_now_ns()); with listing_complete
 * every other upload record is an orphan (source gone, below the
 * threshold, filtered out, or already done) and is given up.  Intents
 * are reconciled with ListMultipartUploads for their key and abandoned
 * uploads aborted again, whatever the listing.  Stops early on a stop
 * request.  A journal write that fails stops it too: err is set and
 * MG_FATAL returned; else MG_OK.
 */
int mg_uploads_sweep(struct mg_journal *j, const char *tid, struct mg_conn *dst,
		     int64_t run_token, int listing_complete,
		     struct mg_upload_issues *is, struct mg_error *err);

#endif
