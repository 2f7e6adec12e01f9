/*
 * connector.h - the one contract between the engine and every backend.
 *
 * Each connector is one file in connectors/ that exports one
 * `const struct mg_connector`, the way libarchive registers a format and
 * curl plugs in a TLS backend.  The engine never branches on a scheme: it
 * asks for capability bits and calls through the wrappers at the end of
 * this header, which do the NULL checks once.
 *
 * Grow this interface by appending: `version` comes first, methods are
 * only ever added at the end, and each says whether it may be NULL.
 *
 * Adding a backend "x" (x://bucket/prefix):
 *   1. connectors/x.c: its methods; a `struct x_options` and a table of
 *      its plan keys (struct mg_option), url_parse and url_identity, and
 *      `const struct mg_connector mg_connector_x` with .version =
 *      MG_CONNECTOR_VERSION.  With MG_CAP_RANGE_READ, tar+x:// works too.
 *   2. connectors/registry.c: one extern and one line in the table.
 *   3. Makefile.am: the file in libmigrate_a_SOURCES.
 *   4. plans/README.md: a row per key (test_plan checks every key has one).
 * Nothing in engine/ changes: the plan loader reads the table.
 *
 * Threads: a struct mg_conn is used by one thread at a time.  The engine
 * opens one conn per worker plus one for listing; a connector that shares
 * state between conns of the same endpoint must lock it itself.
 *
 * Keys: always relative to the endpoint's root (the URL's path or prefix),
 * '/'-separated, UTF-8 where the backend allows, never starting with '/'.
 * The connector maps them onto its namespace; the engine never sees roots.
 *
 * Order: list iterators yield keys in byte-wise order of the key (memcmp on
 * the UTF-8 bytes, a shorter key before its extensions), so the engine can
 * merge-join a listing with the journal without holding either in memory.
 * A connector whose backend lists in another order must sort inside a
 * bounded window or fail with MG_FATAL; it must never yield out of order.
 */
#ifndef MG_CONNECTOR_H
#define MG_CONNECTOR_H

#include <stdint.h>
#include <stddef.h>
#include "mg.h"
#include "latency.h"

/*
 * The contract version a connector file was written to.  1: the methods
 * up to estimate_multipart.  2 (issue 20): the configuration fields at the
 * end of struct mg_connector (url_parse, url_identity, options...).  The
 * engine refuses a connector of another version when it opens a conn or
 * the plan names it (mg_connector_check), instead of calling a method
 * that is not there.
 */
#define MG_CONNECTOR_VERSION 2

struct mg_endpoint;		/* plan.h */
struct mg_governance;		/* plan.h */
struct mg_buf;			/* mg.h */
struct mg_conn;
struct mg_lister;		/* connector-private */
struct mg_reader;		/* connector-private */
struct mg_writer;		/* connector-private */

enum mg_caps {
	MG_CAP_SOURCE      = 1 << 0,	/* list + read */
	MG_CAP_TARGET      = 1 << 1,	/* write + stat + remove */
	MG_CAP_RANGE_READ  = 1 << 2,	/* read_open honours offset/length */
	MG_CAP_MULTIPART   = 1 << 3,	/* mp_* methods */
	MG_CAP_SERVER_COPY = 1 << 4,	/* copy() within one endpoint */
	MG_CAP_NATIVE_HASH = 1 << 5,	/* entries carry etag and/or sha256 */
	MG_CAP_DELETE      = 1 << 6,	/* remove() */
	MG_CAP_PART_COPY   = 1 << 7,	/* mp_copy_part() (UploadPartCopy) */
	/* Keys become file names (local, sftp): the engine also refuses a
	 * backslash and a trailing '/' for it (mg_key_check's MG_KEY_FILE),
	 * and accepts names that are not UTF-8.  Without it (object stores)
	 * a key must be valid UTF-8. */
	MG_CAP_FILES       = 1 << 8,
	/* A wrapper: it reads one file (an archive) through another
	 * connector, the inner one, and serves what that file holds.  Its
	 * urls are "W+INNER://..." over any connector with MG_CAP_RANGE_READ
	 * (tar+sftp://, tar+s3://), or "W://..." over `wraps_default`
	 * (tar:// is tar+file://).  The plan parses the inner part with the
	 * inner connector's url_parse into ep->inner, and its keys with both
	 * connectors' option tables (the wrapper's first). */
	MG_CAP_ARCHIVE     = 1 << 9,
	/* A reader is pinned to the version it began with (S3: every ranged
	 * GET after the first carries If-Match with the first answer's
	 * ETag), so an entry that changes while it is read fails the read
	 * itself: the engine then needs no second look at the source before
	 * it completes a multipart upload (multipart.c source_unchanged),
	 * which would be one more billed request per object. */
	MG_CAP_PINNED_READ = 1 << 10,
};

/* What open() is for; a target may create its root, a source must not. */
enum mg_open_flags {
	MG_OPEN_SOURCE = 1 << 0,
	MG_OPEN_TARGET = 1 << 1,
	/* Another conn to the same endpoint was opened and checked already:
	 * skip requests that only probe reachability (the engine's workers
	 * pass this, so a run issues exactly the requests `estimate`
	 * predicts, whatever the number of workers). */
	MG_OPEN_NOCHECK = 1 << 2,
	/* With MG_OPEN_TARGET: the engine only looks (estimate, dry-run):
	 * create nothing, write nothing. */
	MG_OPEN_LOOK = 1 << 3,
};

enum mg_entry_kind {
	MG_ENTRY_FILE = 0,	/* a regular object: copy it */
	MG_ENTRY_SYMLINK,	/* reported and skipped unless the plan follows */
	MG_ENTRY_SPECIAL,	/* device, fifo, socket: reported and skipped */
	MG_ENTRY_ERROR,		/* an unreadable file or folder: key + error */
};

/*
 * One listed object.  Strings belong to the iterator and stay valid until
 * the next list_next() or list_close(); the engine copies what it keeps.
 */
struct mg_entry {
	const char *key;
	uint64_t size;
	int64_t mtime_ns;	/* modification time, ns since the epoch; 0 if unknown */
	enum mg_entry_kind kind;
	char etag[80];		/* native ETag without quotes, "" if none */
	char sha256[65];	/* lowercase hex if the backend knows it, else "" */
	const char *link_target;/* MG_ENTRY_SYMLINK: where it points, or NULL */
	const char *error;	/* MG_ENTRY_ERROR: "permission denied" etc. */
	/* Appended (issue 13): permission bits (07777) as the source keeps
	 * them (local, sftp, archive entries); 0 when the backend has none
	 * (S3).  The engine hands them to the target through mg_put_info. */
	unsigned mode;
	/* Appended (issue 15.1): the server-side encryption stat() saw
	 * ("AES256", "aws:kms", "SSE-C"), "" for none or a backend without. */
	char encryption[24];
};

/* Request classes, counted where the request is issued (one source of
 * truth per number: summary, --json, metrics and estimate read these). */
enum mg_req {
	MG_REQ_LIST = 0, MG_REQ_HEAD, MG_REQ_GET, MG_REQ_PUT,
	MG_REQ_MP_CREATE, MG_REQ_MP_PART, MG_REQ_MP_COMPLETE, MG_REQ_MP_ABORT,
	MG_REQ_MP_LIST, MG_REQ_COPY, MG_REQ_DELETE,
	MG_REQ__COUNT
};

struct mg_counters {
	uint64_t req[MG_REQ__COUNT];
	uint64_t bytes_read;	/* payload bytes received from this endpoint */
	uint64_t bytes_written;	/* payload bytes sent to this endpoint */
	uint64_t retries;	/* requests a connector retried by itself (s3) */
	/* Appended (issue 16): request latencies per class, or NULL when the
	 * engine does not report them (estimate, verify).  Owned by whoever
	 * set it; fed through mg_count_time() and mg_count_retry(). */
	struct mg_latency *lat;
};

/* What the engine knows about an object it is about to write. */
struct mg_put_info {
	uint64_t size;		/* exact size that will be written */
	int64_t mtime_ns;	/* source mtime, kept where the backend can */
	const char *content_type;	/* may be NULL */
	/* Permission bits for a backend that keeps them (local, sftp): the
	 * object is created with mode & 0777 and the process umask applied,
	 * never wider than the source (setuid/setgid/sticky are dropped).
	 * 0: the backend's default (0644 before the umask). */
	unsigned mode;
	/* copy() only: the ETag (no quotes) the copy source must still have,
	 * sent as a precondition (S3: x-amz-copy-source-if-match); NULL for
	 * none.  A source that changed since makes copy() return MG_ABSENT
	 * with conn->err set (remote_code 412), and the engine uploads the
	 * bytes instead. */
	const char *copy_if_match;
	/* Appended (issue 15.4), may be NULL: the plan's tags and metadata
	 * for every object (plan.h), and the object's key for their {key}. */
	const struct mg_governance *gov;
	const char *key;
	/* Appended (issue 15.3), may be NULL: the storage class a tiering
	 * rule chose for this object, sent instead of the endpoint's own
	 * storage_class (which stays the default when no rule matches). */
	const char *storage_class;
	/* copy() only, appended (issue 15.3): a re-class, src_key ==
	 * dst_key: the object is copied onto itself to take storage_class,
	 * keeping its metadata and tags as they are (S3: metadata and
	 * tagging directives COPY); nothing else in info is sent. */
	int reclass;
};

/* Checks the engine computed while streaming, handed to commit so the
 * connector can store them (metadata) and have the server verify them. */
struct mg_put_final {
	char sha256[65];
	unsigned char md5[16];
};

struct mg_put_result {
	char etag[80];		/* as the backend reports it, quotes stripped */
	char version_id[128];	/* "" if unversioned */
};

struct mg_part {
	int number;		/* 1-based */
	uint64_t size;
	char etag[80];
	unsigned char md5[16];
	char sha256[65];	/* hex SHA-256 of the part's bytes, "" unknown:
				 * the engine's, so a connector signing the
				 * payload need not hash it again */
};

/* One object of a batch write (put_batch): in, then out. */
struct mg_put_item {
	const char *key;
	const struct mg_put_info *info;	/* info->size == len */
	const void *body;
	size_t len;
	const struct mg_put_final *fin;	/* may be NULL */
	struct mg_req_times *times;	/* this object's request times, may be NULL */
	/* out */
	int status;			/* MG_OK or the error grade */
	struct mg_put_result res;
	struct mg_error err;
};
/* What the engine hands to put_batch at most (connector.h's promise). */
#define MG_BATCH_MAX 16
#define MG_BATCH_SIZE (1u << 20)

struct mg_upload {
	const char *key;
	const char *upload_id;
	int64_t initiated_ns;
};

/*
 * Configuration (version 2).  A connector describes the plan keys it takes
 * in a table; the plan loader parses, checks, dumps (secrets masked) and
 * frees them from it, into a struct of the connector's own that it
 * allocates (options_size bytes, zeroed, then every default applied) and
 * hangs on ep->opts.  So a connector reads its settings as
 * `const struct s3_options *o = conn->ep->opts;`, and a new key is one line
 * in one table (plus its paragraph in plans/README.md).
 */
enum mg_opt_type {
	MG_OPT_STRING,	/* char *: any text */
	MG_OPT_PATH,	/* char *: a path, "~" expanded, relative to the plan's folder */
	MG_OPT_ENV,	/* char *: the name of an environment variable that is set */
	MG_OPT_BOOL,	/* int: true/false, yes/no, on/off */
	MG_OPT_SIZE,	/* uint64_t: "64MiB", "1GB"; 0 when unset */
	MG_OPT_INT,	/* int64_t: an integer from min to max; 0 when unset */
	MG_OPT_CHOICE,	/* int: one of words[], stored as values[i] (or i) */
	MG_OPT_WORD,	/* char *: one of words[], kept as the word */
};

enum mg_opt_flags {
	/* never printed: the dump writes "***", a message never quotes it */
	MG_OPT_SECRET = 1 << 0,
};

struct mg_option {
	const char *name;	/* the key in the plan */
	enum mg_opt_type type;
	size_t off;		/* offsetof() in the connector's option struct */
	unsigned flags;		/* enum mg_opt_flags */
	const char *def;	/* the default as a plan would write it; NULL: unset */
	const char *doc;	/* one line for people (plans/README.md says more) */
	const char *const *words;	/* CHOICE, WORD: NULL-terminated */
	const int *values;	/* CHOICE: what each word stores; NULL: its index */
	const char *listed;	/* CHOICE, WORD: "AES256 or aws:kms", for messages */
	long long min, max;	/* INT */
	/* May be NULL: a further check of the value as written (after the
	 * type's own); on failure writes the whole message into msg. */
	int (*check)(const struct mg_option *o, const char *value, char *msg,
		     size_t msglen);
};

/* What a connector's options_check has to say about one key: placed at
 * the key's name in the plan, or at its value when at_value is set. */
struct mg_option_note {
	const char *key;
	int at_value;
	char msg[400];
};

/* url_parse flags */
enum mg_url_flags {
	/* the url names one file that a wrapper reads: a folder is an error */
	MG_URL_WRAPPED = 1 << 0,
};

struct mg_connector {
	int version;		/* MG_CONNECTOR_VERSION the file was written to */
	const char *scheme;	/* "file", "s3", "sftp", "tar", ... */
	unsigned caps;		/* enum mg_caps */

	/* Required.  open() reads conn->ep and sets conn->priv; on failure it
	 * sets conn->err and returns MG_FATAL (unreachable, auth, root not
	 * writable) so the engine exits 3.  close() frees everything and is
	 * safe after a failed open. */
	int (*open)(struct mg_conn *conn, unsigned flags);
	void (*close)(struct mg_conn *conn);

	/* MG_CAP_SOURCE.  list_open() starts a listing after start_after
	 * (exclusive, NULL for the beginning).  list_next() returns MG_OK with
	 * *out filled, MG_DONE at the end, or an error grade with conn->err set;
	 * after an error the listing is cut short and the engine must treat it
	 * as incomplete (never delete on an incomplete listing). */
	int (*list_open)(struct mg_conn *conn, const char *start_after,
			 struct mg_lister **out);
	int (*list_next)(struct mg_lister *it, struct mg_entry *out);
	void (*list_close)(struct mg_lister *it);

	/* MG_CAP_SOURCE.  Opens key for reading from offset for length bytes
	 * (UINT64_MAX: to the end).  Without MG_CAP_RANGE_READ offset must be
	 * 0.  read() sets *got; *got == 0 with MG_OK is the end.  A read that
	 * ends short of a requested length is MG_FAILED ("truncated"). */
	int (*read_open)(struct mg_conn *conn, const char *key, uint64_t offset,
			 uint64_t length, struct mg_reader **out);
	int (*read)(struct mg_reader *r, void *buf, size_t len, size_t *got);
	void (*read_close)(struct mg_reader *r);

	/* MG_CAP_TARGET.  A writer makes the object appear only at commit, and
	 * whole (atomic rename, single PUT): after abort or a crash no partial
	 * object is visible under key.  abort() and commit() free the writer. */
	int (*write_open)(struct mg_conn *conn, const char *key,
			  const struct mg_put_info *info, struct mg_writer **out);
	int (*write)(struct mg_writer *w, const void *buf, size_t len);
	int (*write_commit)(struct mg_writer *w, const struct mg_put_final *fin,
			    struct mg_put_result *res);
	void (*write_abort)(struct mg_writer *w);

	/* MG_CAP_TARGET.  MG_OK with *out filled (key points into conn-owned
	 * storage valid until the next call), MG_ABSENT, or an error. */
	int (*stat)(struct mg_conn *conn, const char *key, struct mg_entry *out);

	/* MG_CAP_DELETE, may be NULL.  Removing an absent key is MG_OK. */
	int (*remove)(struct mg_conn *conn, const char *key);

	/* MG_CAP_SERVER_COPY, may be NULL.  Copies src_key to dst_key inside
	 * this endpoint without moving the bytes through the client. */
	int (*copy)(struct mg_conn *conn, const char *src_key, const char *dst_key,
		    const struct mg_put_info *info, const struct mg_put_final *fin,
		    struct mg_put_result *res);

	/* MG_CAP_MULTIPART, all may be NULL otherwise.  The upload id and the
	 * part list are plain data so the engine can journal them and resume
	 * after a crash.  mp_list_parts() and mp_list_uploads() call cb once
	 * per item in order and stop early if cb returns non-zero. */
	int (*mp_create)(struct mg_conn *conn, const char *key,
			 const struct mg_put_info *info, const struct mg_put_final *fin,
			 char *upload_id, size_t idlen);
	int (*mp_upload_part)(struct mg_conn *conn, const char *key,
			      const char *upload_id, struct mg_part *part,
			      const void *buf, size_t len);
	int (*mp_list_parts)(struct mg_conn *conn, const char *key,
			     const char *upload_id,
			     int (*cb)(void *arg, const struct mg_part *p), void *arg);
	int (*mp_complete)(struct mg_conn *conn, const char *key,
			   const char *upload_id, const struct mg_part *parts,
			   int nparts, struct mg_put_result *res);
	int (*mp_abort)(struct mg_conn *conn, const char *key, const char *upload_id);
	int (*mp_list_uploads)(struct mg_conn *conn, const char *prefix,
			       int (*cb)(void *arg, const struct mg_upload *u),
			       void *arg);
	/* MG_CAP_PART_COPY, may be NULL: UploadPartCopy of src_key's bytes
	 * [offset, offset+part->size) into part->number. */
	int (*mp_copy_part)(struct mg_conn *conn, const char *key,
			    const char *upload_id, struct mg_part *part,
			    const char *src_key, uint64_t offset);

	/* Request prediction for `migrate estimate`, which must count what a
	 * run issues.  All may be NULL; the defaults are in brackets.
	 * estimate_read: reading length bytes of one object with one
	 * read_open/read/read_close cycle [one GET].  estimate_write: one
	 * write_open/write/commit of size bytes [one PUT].
	 * estimate_multipart: one create, nparts parts and complete [one
	 * create, nparts parts, one complete]. */
	void (*estimate_read)(struct mg_conn *conn, uint64_t length,
			      struct mg_counters *c);
	void (*estimate_write)(struct mg_conn *conn, uint64_t size,
			       struct mg_counters *c);
	void (*estimate_multipart)(struct mg_conn *conn, uint64_t size, int nparts,
				   struct mg_counters *c);

	/* ---- version 2: configuration (see struct mg_option above) ---- */

	/* Required (a wrapper's may be NULL: the inner connector's parse
	 * and identify its urls).  Parses what follows "scheme://" into ep->user, ep->host
	 * (an S3 bucket is the host of its url), ep->port and ep->path; may
	 * read ep->url for messages and set defaults for what the url leaves
	 * out (sftp's port 22).  scheme is the url's scheme as the plan
	 * spells it in messages ("tar" for a tar:// url the file connector
	 * parses).  Returns 0, or -1 with a message in msg that must never
	 * quote a secret the url holds. */
	int (*url_parse)(struct mg_endpoint *ep, const char *scheme,
			 const char *rest, unsigned flags, char *msg,
			 size_t msglen);
	/* Required (see url_parse).  Appends what makes the endpoint a distinct place (after
	 * "scheme://") for its id, which keys the journal: it must never
	 * change for an endpoint that exists, or every record on disk is
	 * orphaned (tests/unit/test_plan.c pins a few). */
	void (*url_identity)(const struct mg_endpoint *ep, struct mg_buf *b);

	/* The plan keys (may be NULL with noptions 0) and the size of the
	 * struct their offsets point into. */
	const struct mg_option *options;
	size_t noptions;
	size_t options_size;
	/* May be NULL.  Checks combinations of keys once all are read
	 * (present = set in the plan: a string not NULL, a flag true);
	 * returns 0, or -1 with err filled.  A warning (valid but worth a
	 * word) goes into warn, which starts with an empty msg. */
	int (*options_check)(const struct mg_endpoint *ep,
			     struct mg_option_note *err,
			     struct mg_option_note *warn);

	/* MG_CAP_ARCHIVE: the inner scheme of "W://" urls ("file"). */
	const char *wraps_default;
	/* The provider for pricing when the plan names none ("local",
	 * "sftp"); NULL: guessed from the S3-style 'endpoint' key. */
	const char *provider;

	/* Appended (issue 20): the backend's limits on one multipart
	 * upload, 0 where it has none.  The engine grows the plan's
	 * part_size (doubling) until an object fits in max_parts parts (S3:
	 * 10,000), and fails an object that would need parts larger than
	 * max_part_size (S3: 5 GiB) instead of sending what the server
	 * must refuse. */
	int max_parts;
	uint64_t max_part_size;

	/* Appended (issue 17), may be NULL: what `migrate check` says about
	 * an endpoint beyond its url, found without any network ("credentials:
	 * web identity (role arn:...)"), one line per call of add; never a
	 * secret.  Returns 0, or -1 when the endpoint cannot work as
	 * configured (the line then says why). */
	int (*describe)(const struct mg_endpoint *ep, struct mg_buf *out);
	/* Appended (issue 15.1), may be NULL: the server-side encryption a
	 * target endpoint asks for, as stat() reports it in
	 * mg_entry.encryption ("AES256", ...), or NULL when there is nothing
	 * to check; *required set when the plan asked for it in so many
	 * words (sse:, sse_c_key_env), 0 for a default the server may
	 * ignore; a line for people (what is sent and why) into note.
	 * `check` prints the note, `verify` compares each object. */
	const char *(*encryption)(const struct mg_endpoint *ep, int *required,
				  char *note, size_t notelen);
	/* Appended (issue 15.2), may be NULL: the region the endpoint's
	 * data sits in, as the server says (S3: the bucket's region from
	 * HeadBucket's x-amz-bucket-region, else GetBucketLocation), never
	 * the plan's `region:`.  MG_OK with out filled, or an error grade
	 * with conn->err set.  Only called when the plan has `residency:`. */
	int (*region)(struct mg_conn *conn, char *out, size_t outlen);
	/* Appended (issue 15.5), both may be NULL.  object_lock: does the
	 * endpoint's bucket have Object Lock (S3: GetObjectLockConfiguration,
	 * GET ?object-lock)?  MG_OK with *enabled 1 or 0, or an error grade
	 * with conn->err set.  Only called when the plan asks for retention
	 * or a legal hold, once per target and run.
	 * remove_version: removes one version of key (the one the journal
	 * recorded, mg_put_result.version_id), not the key's newest: in a
	 * versioned bucket a remove() leaves a delete marker over the bytes,
	 * which stay stored (and billed, and locked).  Absent is MG_OK; a
	 * version the server keeps (Object Lock) is MG_FAILED with
	 * conn->err's remote_code 403 and a message saying so. */
	int (*object_lock)(struct mg_conn *conn, int *enabled);
	int (*remove_version)(struct mg_conn *conn, const char *key,
			      const char *version_id);
	/* Appended (issue 19.1), may be NULL: writes n objects held in
	 * memory at once (small ones: the engine hands at most
	 * MG_BATCH_MAX of at most MG_BATCH_SIZE bytes each), driving their
	 * requests concurrently on one event loop instead of one after the
	 * other.  Each item ends as write_open/write/write_commit would
	 * have left it alone: its status, its result, its own error in
	 * it->err (conn->err is left clear), its request times in
	 * it->times; one item failing does not fail the others.  Returns
	 * the worst item status.  Without it mg_put_batch() writes them
	 * one at a time through the writer. */
	int (*put_batch)(struct mg_conn *conn, struct mg_put_item *items, size_t n);
};

/*
 * A connection: the contract's one handle.  The engine fills ops, ep and
 * counters, then calls mg_conn_open().
 */
struct mg_conn {
	const struct mg_connector *ops;
	const struct mg_endpoint *ep;	/* from the plan, not owned */
	struct mg_counters *counters;	/* shared per endpoint, not owned; may be NULL */
	void *priv;			/* the connector's state */
	struct mg_error err;		/* first error wins; cleared per object by the engine */
	/* Bandwidth shaping, set by the engine after open (may be NULL): a
	 * target connector calls mg_pace() with each chunk of payload just
	 * before it goes on the wire (curl's read callback, write(2), the
	 * SFTP write), so the limit holds for what is really sent, not for
	 * what is buffered.  Nonzero: the run is being stopped (^C, SIGTERM);
	 * the connector drops the transfer (MG_FATAL) instead of sending the
	 * rest unpaced. */
	int (*pace)(void *arg, size_t n);
	void *pace_arg;
	/* Appended (issue 14): set by the engine after open (may be NULL).
	 * Nonzero once the engine gave up on this endpoint for the run (the
	 * circuit breaker declared it dead): a connector checks it wherever
	 * it checks mg_interrupted (a request in flight, a retry backoff)
	 * and drops the request with MG_FATAL, so no worker stays blocked
	 * on a server nobody waits for any more. */
	const volatile int *abandoned;
	/* Appended (issue 14): requests this connection sent again after an
	 * attempt that may have reached the server (a 5xx, a reset, a lost
	 * answer); bumped by connectors that retry by themselves.  The
	 * engine compares it around a call whose first attempt may have
	 * taken effect unseen: a CreateMultipartUpload whose answer was lost
	 * left an upload nobody knows the id of. */
	uint64_t retried;
	/* Appended (issue 16): the object in hand's own request times, for
	 * --log-json; set and cleared per object by the worker that owns
	 * this conn, may be NULL. */
	struct mg_req_times *obj_times;
	/* Appended (issue 19): the target needs no SHA-256 of each part
	 * (mg_part.sha256 may stay empty): it checks parts its own way (S3's
	 * CRC32C trailer).  The engine reads it before every part, so a
	 * connector clears it when that way turns out not to work. */
	int no_part_sha256;

	/* Appended (issue 15.5): set by the engine after open on the conns
	 * that write objects (may be NULL): the run's governance (plan.h).
	 * A connector reads what every request of an object must carry
	 * beyond mg_put_info, even those without one: S3 sends a checksum
	 * with every part of an upload under Object Lock (gov->lock_mode or
	 * gov->legal_hold), as AWS requires. */
	const struct mg_governance *gov;
};

/* The run is stopping, or the engine gave up on this endpoint. */
static inline int mg_conn_stopping(const struct mg_conn *c)
{
	/* atomic: the engine sets it from another thread (the breaker) */
	return mg_interrupted ||
	       (c->abandoned && __atomic_load_n(c->abandoned, __ATOMIC_RELAXED));
}

static inline int mg_pace(struct mg_conn *c, size_t n)
{
	return c->pace ? c->pace(c->pace_arg, n) : 0;
}

/* Registry (connectors/registry.c).  mg_connector_register() adds a
 * connector at run time (a test double, a program's own backend), looked
 * up after the built-in ones; 0, or -1 when the table is full.
 * mg_connector_at(i) walks them all, NULL past the end, in the order
 * error messages list schemes. */
const struct mg_connector *mg_connector_find(const char *scheme);
int mg_connector_register(const struct mg_connector *c);
const struct mg_connector *mg_connector_at(size_t i);
/* 0 when ops was written to this engine's contract version, else -1 with
 * the message to show (connector.c). */
int mg_connector_check(const struct mg_connector *ops, char *msg, size_t msglen);

/* Counting, safe from several threads. */
void mg_count_req(struct mg_conn *conn, enum mg_req r);
void mg_count_read(struct mg_conn *conn, uint64_t n);
void mg_count_written(struct mg_conn *conn, uint64_t n);
const char *mg_req_name(enum mg_req r);
/* One request of class r took total_ns from its first byte sent to its
 * last byte received, ttfb_ns of it until the first byte of the answer
 * (negative: unknown).  Called once per attempt, where the request is
 * issued, after it ended (issue 16).  r is an enum mg_req, or one of
 * latency.h's protocol operations (MG_LAT_SFTP_OPEN, ...). */
void mg_count_time(struct mg_conn *conn, int r, int64_t total_ns, int64_t ttfb_ns);
/* A request of class r is being sent again (bumps counters->retries too). */
void mg_count_retry(struct mg_conn *conn, enum mg_req r);

/* Wrappers: one NULL/capability check each, so no caller repeats it.  A
 * missing capability answers MG_FAILED with a message naming the scheme. */
static inline int mg_conn_has(const struct mg_conn *c, unsigned caps)
{
	return (c->ops->caps & caps) == caps;
}

int mg_conn_open(struct mg_conn *c, const struct mg_connector *ops,
		 const struct mg_endpoint *ep, struct mg_counters *counters,
		 unsigned flags);
void mg_conn_close(struct mg_conn *c);
int mg_list_open(struct mg_conn *c, const char *start_after, struct mg_lister **out);
int mg_read_open(struct mg_conn *c, const char *key, uint64_t off, uint64_t len,
		 struct mg_reader **out);
int mg_write_open(struct mg_conn *c, const char *key,
		  const struct mg_put_info *info, struct mg_writer **out);
int mg_stat(struct mg_conn *c, const char *key, struct mg_entry *out);
int mg_remove(struct mg_conn *c, const char *key);
/* The encryption method of ep's connector; NULL and an empty note where
 * it has none. */
const char *mg_endpoint_encryption(const struct mg_endpoint *ep, int *required,
				   char *note, size_t notelen);
/* The region method; MG_ABSENT where the connector has none. */
int mg_region(struct mg_conn *c, char *out, size_t outlen);
/* The object_lock method; MG_ABSENT where the connector has none. */
int mg_object_lock(struct mg_conn *c, int *enabled);
/* remove_version when the connector has it and version_id is not empty,
 * else mg_remove(). */
int mg_remove_version(struct mg_conn *c, const char *key, const char *version_id);
int mg_copy(struct mg_conn *c, const char *src_key, const char *dst_key,
	    const struct mg_put_info *info, const struct mg_put_final *fin,
	    struct mg_put_result *res);
/* The methods on a lister, reader or writer, through the conn that made
 * it; the *_close and write_abort wrappers accept NULL. */
int mg_list_next(struct mg_conn *c, struct mg_lister *it, struct mg_entry *out);
void mg_list_close(struct mg_conn *c, struct mg_lister *it);
int mg_read(struct mg_conn *c, struct mg_reader *r, void *buf, size_t len,
	    size_t *got);
void mg_read_close(struct mg_conn *c, struct mg_reader *r);
int mg_write(struct mg_conn *c, struct mg_writer *w, const void *buf, size_t len);
int mg_write_commit(struct mg_conn *c, struct mg_writer *w,
		    const struct mg_put_final *fin, struct mg_put_result *res);
void mg_write_abort(struct mg_conn *c, struct mg_writer *w);
/* put_batch, or each item through the writer where the connector has
 * none; the worst item status. */
int mg_put_batch(struct mg_conn *c, struct mg_put_item *items, size_t n);
static inline int mg_conn_batches(const struct mg_conn *c)
{
	return c->ops->put_batch != NULL;
}
/* Multipart (MG_CAP_MULTIPART): a NULL method answers MG_FAILED naming it. */
int mg_mp_create(struct mg_conn *c, const char *key, const struct mg_put_info *info,
		 const struct mg_put_final *fin, char *upload_id, size_t idlen);
int mg_mp_upload_part(struct mg_conn *c, const char *key, const char *upload_id,
		      struct mg_part *part, const void *buf, size_t len);
int mg_mp_list_parts(struct mg_conn *c, const char *key, const char *upload_id,
		     int (*cb)(void *arg, const struct mg_part *p), void *arg);
int mg_mp_complete(struct mg_conn *c, const char *key, const char *upload_id,
		   const struct mg_part *parts, int nparts, struct mg_put_result *res);
int mg_mp_abort(struct mg_conn *c, const char *key, const char *upload_id);
int mg_mp_list_uploads(struct mg_conn *c, const char *prefix,
		       int (*cb)(void *arg, const struct mg_upload *u), void *arg);
/* Reads all of key (buflen bytes at a time through buf) and writes its
 * SHA-256 in lowercase hex: MG_OK, or the read's error in c->err. */
int mg_read_sha256(struct mg_conn *c, const char *key, void *buf, size_t buflen,
		   char hex[65]);
/* estimate: adds what one read, write or multipart upload costs to out
 * (the estimate_* methods, or their documented defaults). */
void mg_predict_read(struct mg_conn *c, uint64_t length, struct mg_counters *out);
void mg_predict_write(struct mg_conn *c, uint64_t size, struct mg_counters *out);
void mg_predict_multipart(struct mg_conn *c, uint64_t size, int nparts,
			  struct mg_counters *out);
/* estimate: the source's second look before a multipart upload completes
 * (multipart.c source_unchanged): one stat, counted as a HEAD as the
 * connectors count theirs, unless the source has no stat or its reads
 * are pinned (MG_CAP_PINNED_READ). */
void mg_predict_recheck(struct mg_conn *src, struct mg_counters *out);

#endif
