/*
 * s3_private.h - internals of the S3 connector (connectors/s3.c and
 * connectors/s3_sigv4.c) and of its unit tests.  Nothing else may include
 * it: the engine talks to S3 only through struct mg_connector.
 */
#ifndef MG_S3_PRIVATE_H
#define MG_S3_PRIVATE_H

#ifndef MG_S3_INTERNAL
#error "s3_private.h is internal to the S3 connector: define MG_S3_INTERNAL only in s3*.c and its tests"
#endif

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "mg.h"
#include "connector.h"

struct mg_endpoint;
struct s3_src;

/* ---- The plan (s3.c) -------------------------------------------------- */

/* What an s3:// endpoint takes in a plan: the struct its option table
 * (s3_keys in s3.c) fills, at ep->opts.  The bucket is the url's host
 * (ep->host), the key prefix its path. */
struct s3_options {
	char *endpoint;		/* https://s3.us-west-004.backblazeb2.com; NULL: AWS */
	char *region;		/* NULL: from the AWS config chain, else us-east-1 */
	int path_style;		/* -1 auto, 0 virtual-host, 1 path */
	char *storage_class;
	char *sse;		/* "AES256", "aws:kms", or NULL */
	char *sse_kms_key_id;
	char *sse_c_key_env;	/* name of the env var holding the SSE-C key */
	char *access_key_id;	/* NULL: AWS chain */
	char *secret_access_key;/* secret: never printed */
	char *session_token;	/* secret: never printed */
	char *profile;		/* AWS profile name */
	char *ca_file;		/* extra CA bundle for TLS verification */
	/* also send Content-MD5 on every PUT and part, for a server that
	 * does not verify the signed SHA-256 payload hash (costs an MD5 pass
	 * over every byte) */
	int content_md5;
	/* `encryption: none`: no SSE-S3 header by default (issue 15.1) */
	int encryption_none;
	/* a CRC trailer instead of a signed payload hash on uploads
	 * (issue 19.2): -1 auto (CRC32C, https only, until the server shows
	 * it lacks it), 0 off, 1 + S3_CRC32C/S3_CRC32/S3_CRC64NVME on with
	 * that algorithm ("true" is CRC32C) */
	int checksum_trailer;
	/* http_version: 1 HTTP/1.1 (the default), 2 HTTP/2 over TLS where
	 * the server offers it */
	int http_version;
};

/* ep's options, or the defaults for an endpoint made without them. */
const struct s3_options *s3_opts(const struct mg_endpoint *ep);

/* ---- Governance (s3_governance.c) ------------------------------------ */

/* The encryption a target asks for. */
struct s3_sse_choice {
	const char *header;	/* x-amz-server-side-encryption to send, NULL none */
	const char *expect;	/* what HEAD should report: "AES256", "aws:kms",
				 * "SSE-C"; NULL: nothing to check */
	int required;		/* asked in the plan, not a default */
	char note[320];		/* for `check`, a person reads it */
};
void s3_sse_choose(const struct mg_endpoint *ep, struct s3_sse_choice *c);
/* mg_connector.encryption: c.expect, and c.note into note */
const char *s3_encryption(const struct mg_endpoint *ep, int *required, char *note,
			  size_t notelen);
/* The plan's tags (x-amz-tagging, with x-amz-tagging-directive: REPLACE
 * on a copy) and metadata (x-amz-meta-NAME) for one object, expanded into
 * buf (names and values live there until the request is done) and handed
 * to add(arg, name, value).  Metadata bytes outside printable ASCII are
 * sent %-encoded (a header carries ASCII). */
#define S3_GOV_BYTES 16384
void s3_gov_headers(const struct mg_put_info *info, const struct mg_put_final *fin,
		    int copy, char *buf, size_t buflen, void *arg,
		    void (*add)(void *arg, const char *name, const char *value));

/* x-amz-storage-class: the class a tiering rule chose (info->storage_class),
 * else the endpoint's storage_class; nothing when neither is set (the
 * bucket's default). */
void s3_class_header(const struct mg_endpoint *ep, const struct mg_put_info *info,
		     void *arg, void (*add)(void *arg, const char *name, const char *value));

/* 1 when a failed answer says the server refused the encryption asked */
int s3_sse_refused(long status, const char *code, const char *message);

/* Object Lock (issue 15.5): is retention or a legal hold asked of every
 * object (the run's governance, mg_conn.gov)?  And its headers:
 * x-amz-object-lock-mode and -retain-until-date, -legal-hold: ON.  AWS
 * wants a checksum beside them (Content-MD5 or x-amz-checksum-*) on a PUT
 * and on every part of such an upload: s3.c sends x-amz-checksum-sha256
 * (the engine's hash, no second pass) on a PUT and Content-MD5 on parts. */
int s3_lock_asked(const struct mg_governance *g);
void s3_lock_headers(const struct mg_governance *g, void *arg,
		     void (*add)(void *arg, const char *name, const char *value));
/* base64 of the raw SHA-256 given in hex, "" when hex is not one */
void s3_sha256_b64(const char *hex, char out[48]);

/* ---- Signature V4 (s3_sigv4.c) ---------------------------------------- */

/* A name/value pair: a header, or one decoded query parameter. */
struct s3_kv {
	const char *name;
	const char *value;
};

struct s3_sign_cfg {
	const char *access_key;
	const char *secret_key;		/* never copied into any output */
	const char *token;		/* NULL: no session token */
	const char *region;
	const char *service;		/* "s3" */
	time_t when;
	int normalize;		/* remove dot segments and empty segments (not S3) */
	int sign_body;		/* header mode: add and sign x-amz-content-sha256 */
	int omit_token;		/* token is sent but not part of the signature */
	long expires;		/* query mode: X-Amz-Expires in seconds */
};

struct s3_sign_req {
	const char *method;
	const char *path;		/* decoded path, starting with '/' */
	const struct s3_kv *query;	/* decoded; a NULL value is "name=" */
	size_t nquery;
	const struct s3_kv *headers;	/* as sent; values may hold folded lines */
	size_t nheaders;
	const char *payload_hash;	/* hex SHA-256 or "UNSIGNED-PAYLOAD" */
};

struct s3_signed {
	char amz_date[17];		/* 20150830T123600Z */
	char signature[65];
	struct mg_buf canonical;	/* the canonical request */
	struct mg_buf string_to_sign;
	struct mg_buf signed_headers;	/* "host;x-amz-date" */
	struct mg_buf authorization;	/* header mode: the Authorization value */
	struct mg_buf query;		/* canonical query; query mode: with X-Amz-Signature */
	struct mg_buf path;		/* the encoded path, as it must go on the wire */
};

void s3_signed_init(struct s3_signed *s);
void s3_signed_release(struct s3_signed *s);
/*
 * Header mode: the caller sends req's headers plus X-Amz-Date (amz_date),
 * X-Amz-Security-Token when a token is set, X-Amz-Content-Sha256 when
 * sign_body, and Authorization.  Query mode (presigned URL): the caller
 * sends path + "?" + out->query and no extra headers.  Both return 0, or
 * -1 for a request that cannot be signed (no Host header).
 */
int s3_sign_header(const struct s3_sign_cfg *cfg, const struct s3_sign_req *req,
		   struct s3_signed *out);
int s3_sign_query(const struct s3_sign_cfg *cfg, const struct s3_sign_req *req,
		  struct s3_signed *out);

/* RFC 3986 encoding as SigV4 wants it: everything but A-Za-z0-9-._~ is
 * %XX (uppercase); keep_slash leaves '/' alone (paths). */
void s3_uri_encode(struct mg_buf *b, const char *s, size_t len, int keep_slash);
/* Percent-decoding; plus_space also turns '+' into ' ' (form encoding, as
 * S3 uses for encoding-type=url).  Returns a malloc'd string. */
char *s3_uri_decode(const char *s, size_t len, int plus_space);
/* The same, with the decoded length in *outlen: "%00" decodes to a NUL
 * that strlen() would not see. */
char *s3_uri_decode_len(const char *s, size_t len, int plus_space, size_t *outlen);

void s3_sha256_hex(const void *data, size_t len, char out[65]);
void s3_base64(const unsigned char *in, size_t len, char *out, size_t outlen);

/* ---- addressing and credentials (s3.c) -------------------------------- */

/* Where requests go: scheme://host[:port], and whether the bucket is in
 * the host name (virtual-host style) or the path (path style). */
struct s3_addr {
	char *base;		/* "https://bucket.s3.us-east-1.amazonaws.com" */
	char *host;		/* the Host header: "bucket.s3...com" or "127.0.0.1:8000" */
	char *bucket;
	int path_style;
};

/* Resolved configuration of one endpoint: plan fields first, then the
 * AWS environment, then the profile files. */
struct s3_config {
	char *access_key;
	char *secret_key;	/* secret: never printed */
	char *token;		/* secret: never printed */
	char *region;
	char *endpoint;		/* NULL: AWS */
	char *profile;
	char *source;		/* where the credentials come from: "plan", "environment",
				 * "profile 'x'", "web identity (role arn:...)"... */
	struct s3_src *src;	/* the source (s3_creds.c); s3_creds_open takes it */
};

/* Fills cfg from ep, the environment and $HOME/.aws (or AWS_CONFIG_FILE,
 * AWS_SHARED_CREDENTIALS_FILE), without any network: which source of the
 * AWS chain applies (s3_creds.c), the region and the endpoint.  The keys
 * are filled for static credentials only (plan, environment, profile).
 * Returns MG_OK or MG_FATAL with msg set (no credentials anywhere, a
 * profile that does not exist, a broken role chain). */
int s3_config_resolve(const struct mg_endpoint *ep, struct s3_config *cfg,
		      char *msg, size_t msglen);
void s3_config_release(struct s3_config *cfg);

/* path_style: -1 decides: path style for IP addresses, localhost and
 * bucket names that cannot be a DNS label, else virtual-host. */
int s3_addr_init(struct s3_addr *a, const char *endpoint, const char *region,
		 const char *bucket, int path_style, char *msg, size_t msglen);
void s3_addr_release(struct s3_addr *a);
/* The decoded request path for an object key ("" for the bucket itself). */
void s3_addr_path(const struct s3_addr *a, const char *key, struct mg_buf *out);

/* ---- XML (s3.c) ------------------------------------------------------- */

/* ListObjectsV2 page, parsed with expat as the body arrives. */
struct s3_list_item {
	char *key;		/* decoded; with has_nul, as the server sent it */
	int has_nul;		/* the decoded key holds a NUL byte */
	uint64_t size;
	int64_t mtime_ns;
	char etag[80];
};

struct s3_list_page {
	struct s3_list_item *items;
	size_t n, alloc;
	int truncated;
	int url_encoded;	/* the answer said EncodingType=url */
	char *next_token;
	char *error_code;	/* the body was an <Error> */
	char *error_msg;
	/* parser state */
	void *parser;
	int depth;
	int in_contents;
	char field[32];
	struct mg_buf text;
	struct s3_list_item cur;
	int failed;
};

void s3_list_page_init(struct s3_list_page *p);
/* Feeds a chunk of the body; returns 0 or -1 on malformed XML. */
int s3_list_page_feed(struct s3_list_page *p, const void *data, size_t len, int final);
void s3_list_page_release(struct s3_list_page *p);

/* Generic small-document parse: calls cb for each closed element with
 * its path BELOW the root ("Part/ETag" in <ListPartsResult> and in
 * moto's <ListPartsResponse> alike; "" for the root itself), namespace
 * prefixes dropped.  Used for errors, UploadId, ETags, parts, uploads. */
struct s3_xml_cb {
	void (*elem)(void *arg, const char *path, const char *text);
	void *arg;
};
int s3_xml_parse(const char *data, size_t len, const struct s3_xml_cb *cb);
/* The text of the first element at path below the root (malloc'd), or
 * NULL when there is none or the document is not XML. */
char *s3_xml_field(const char *data, size_t len, const char *path);

/* One ListParts page. */
struct s3_parts_page {
	struct mg_part *parts;
	size_t n, alloc;
	struct mg_part cur;
	int truncated;
	char *next_marker;
};
/* Returns 0, or -1 on malformed XML (what was read so far is kept). */
int s3_parts_parse(const char *data, size_t len, struct s3_parts_page *pg);
void s3_parts_release(struct s3_parts_page *pg);

/* One ListMultipartUploads page (keys as the bucket knows them). */
struct s3_uploads_page {
	struct mg_upload *ups;
	size_t n, alloc;
	int truncated;
	char *next_key, *next_id;
	char *key, *id, *initiated;	/* parser state */
};
int s3_uploads_parse(const char *data, size_t len, struct s3_uploads_page *pg);
void s3_uploads_release(struct s3_uploads_page *pg);

/* Error body -> code and message (malloc'd, either may be NULL). */
void s3_error_parse(const char *data, size_t len, char **code, char **message);

/* ISO 8601 "2009-10-12T17:50:30.000Z" and RFC 7231 dates -> ns, 0 if bad. */
int64_t s3_parse_iso8601(const char *s);
int64_t s3_parse_http_date(const char *s);

/* Grades one attempt: curl result (CURLcode as int), HTTP status and the
 * S3 error code.  opening: the connection has never worked yet, so
 * "connection refused" means a wrong endpoint, not a hiccup. */
int s3_grade(int curl_code, long status, const char *code, int opening);

/* ---- the credential chain (s3_creds.c) ------------------------------- */

/* One set of credentials.  Immutable once published and reference-
 * counted: a request keeps the set it signed with even when a refresh
 * replaced it meanwhile. */
struct s3_credset {
	char *access_key;
	char *secret_key;	/* secret: never printed */
	char *token;		/* secret: never printed; NULL: none */
	int64_t expires;	/* unix seconds; 0: never */
	char *role;		/* the assumed role or instance role, or NULL */
	int refs;
};

struct s3_creds;	/* a provider, shared by the conns that resolve alike */

/* The provider of cfg's source (taking cfg->src), with a first set
 * fetched: MG_OK, or MG_FATAL with msg (never a secret). */
int s3_creds_open(struct s3_config *cfg, struct s3_creds **out, char *msg, size_t msglen);
void s3_creds_close(struct s3_creds *c);
/* The set to sign with now, refreshed when due (one thread refreshes,
 * the others go on with the current set while it is valid).  Release it
 * with s3_credset_put.  NULL with msg when there is none that works. */
struct s3_credset *s3_creds_get(struct s3_creds *c, char *msg, size_t msglen);
void s3_credset_put(struct s3_credset *set);
/* The server said seen has expired (ExpiredToken): the next get fetches
 * a new set.  Temporary sources only: s3_creds_refreshable(). */
void s3_creds_expired(struct s3_creds *c, const struct s3_credset *seen);
int s3_creds_refreshable(const struct s3_creds *c);
const char *s3_creds_source(const struct s3_creds *c);

/* The connector's describe(): "credentials: <source>" for `migrate
 * check`, without any network. */
int s3_describe(const struct mg_endpoint *ep, struct mg_buf *out);

/* For tests.  When a set that expires at `expires` (obtained at now) is
 * refreshed: 5 minutes before, or at half its life when that is shorter;
 * MG_TEST_CREDS_REFRESH_BEFORE=S (test only) makes it S seconds before. */
int64_t s3_creds_refresh_at(int64_t now, int64_t expires);
/* The JSON of credential_process (want_version 1), the container
 * endpoint and IMDS (0) into out; 0 or -1 with msg (never quoting the
 * document). */
int s3_creds_parse_json(const char *data, size_t len, int want_version,
			struct s3_credset *out, char *msg, size_t msglen);
/* An STS AssumeRole* answer (or its ErrorResponse: msg has the code). */
int s3_sts_parse(const char *data, size_t len, struct s3_credset *out,
		 char *msg, size_t msglen);
void s3_credset_release(struct s3_credset *set);
/* May AWS_CONTAINER_CREDENTIALS_FULL_URI be this url? */
int s3_container_url_ok(const char *url);

/* ---- knobs for tests ------------------------------------------------- */

struct s3_tune {
	int max_keys;		/* ListObjectsV2 page size, 0: 1000 */
	int tries;		/* attempts per replayable request, 0: 4 */
	uint64_t copy_threshold;/* CopyObject above this uses UploadPartCopy */
	uint64_t copy_part_size;
	size_t read_chunk;	/* bytes per ranged GET of a reader */
	int backoff_ms;		/* first backoff step, 0: 100 */
	int stall_s;		/* below 1 KiB/s this long is a stall, 0: 30 */
	int deadline_s;		/* deadline of a request without a body, 0: 120 */
};

/* Changes the knobs of an open S3 conn (fields left 0 keep their value). */
void s3_conn_tune(struct mg_conn *conn, const struct s3_tune *t);
/* Retries done on this conn so far (the engine may not retry yet). */
uint64_t s3_conn_retries(struct mg_conn *conn);
/* Connections opened so far: requests on one conn reuse one connection. */
uint64_t s3_conn_connects(struct mg_conn *conn);

/* DeleteObjects for up to 1000 keys per request (keys relative to the
 * prefix).  failed(arg, key, code) is called per key the server refused.
 * Returns MG_OK, or an error grade for the request as a whole. */
int s3_delete_batch(struct mg_conn *conn, const char *const *keys, size_t n,
		    void (*failed)(void *arg, const char *key, const char *code),
		    void *arg);

/* Presigned GET URL for key, valid for expires seconds (malloc'd). */
char *s3_presign_get(struct mg_conn *conn, const char *key, long expires);

/* ---- Requests through a curl multi handle (s3_multi.c) ------------- */

/* A conn's multi handle and what its one transfer waits on: replaces
 * curl_easy_perform with a loop on socket events (fewer syscalls per
 * request; s3_multi.c says which).  NULL when libcurl is out of memory. */
struct s3_loop;
struct s3_loop *s3_loop_new(void);
void s3_loop_free(struct s3_loop *l);
/* Runs easy (its options set) to the end, as curl_easy_perform would,
 * and returns its result; easy's connection stays in the loop's cache. */
int s3_loop_perform(struct s3_loop *l, void *easy);
/* Many transfers on one loop (issue 19.1, the batch PUT): add up to
 * S3_BATCH_MAX easy handles (a CURLcode: CURLE_OK, or why not), then run
 * them all; done() is called once per handle added, as it ends, with
 * its result.  s3_loop_keep: idle connections the multi keeps. */
#define S3_BATCH_MAX 16
int s3_loop_add(struct s3_loop *l, void *easy);
void s3_loop_run(struct s3_loop *l, void (*done)(void *arg, void *easy, int result),
		 void *arg);
void s3_loop_keep(struct s3_loop *l, long n);

/* ---- the checksum trailer (s3_checksum.c) ------------------------------ */

/* The algorithms of the trailer; the numbers are the plan's order. */
enum { S3_CRC32C, S3_CRC32, S3_CRC64NVME, S3_CRC_ALGOS };
struct s3_crc_algo {
	const char *name;	/* x-amz-checksum-algorithm: "CRC32C" */
	const char *header;	/* "x-amz-checksum-crc32c" */
	const char *element;	/* in ListParts and Complete: "ChecksumCRC32C" */
	int bytes;		/* 4, or 8 for CRC64NVME */
};
extern const struct s3_crc_algo s3_crc_algos[S3_CRC_ALGOS];
/* The CRC (alg) of data, continuing from crc (0 to start). */
uint64_t s3_crc(int alg, uint64_t crc, const void *data, size_t len);
/* Its big-endian bytes in base64, as x-amz-checksum-* has it. */
void s3_crc_base64(int alg, uint64_t crc, char out[16]);
/* CRC32C (Castagnoli) of data, continuing from crc (0 to start). */
uint32_t s3_crc32c(uint32_t crc, const void *data, size_t len);
void s3_crc32c_base64(uint32_t crc, char out[16]);
/* Whether the SSE4.2 instruction is used for CRC32C (1 when the CPU has
 * it); on 0/1 turns it off/on (tests), -1 only asks.  Returns what it was. */
int s3_crc32c_hw(int on);

/* A body in memory sent as aws-chunked with a checksum trailer. */
#define S3_CHUNK_SIZE (64 * 1024)	/* what the AWS SDKs send */
struct s3_chunked {
	const unsigned char *body;
	size_t len;
	size_t chunk;		/* data bytes per chunk */
	uint64_t stride;	/* wire bytes of a full chunk */
	uint64_t data_end;	/* where the chunks end on the wire */
	uint64_t wire_len;	/* the Content-Length */
	int alg;		/* S3_CRC32C, ... */
	uint64_t crc;		/* over body[0..crc_upto) */
	size_t crc_upto;
	uint64_t data_out;	/* body bytes handed out so far (counters) */
};
/* chunk 0: S3_CHUNK_SIZE */
void s3_chunked_init(struct s3_chunked *c, int alg, const void *body, size_t len, size_t chunk);
/* Up to room bytes of the wire form from offset off; returns how many
 * (0 at the end).  Any offset may come next (a rewind). */
size_t s3_chunked_read(struct s3_chunked *c, uint64_t off, char *out, size_t room);
/* The CRC of the whole body (the one in the trailer). */
uint64_t s3_chunked_crc(struct s3_chunked *c);

/* What an endpoint (its base url) did with a trailer, process-wide. */
enum { S3_TRAILER_UNKNOWN, S3_TRAILER_WORKS, S3_TRAILER_LACKING };
int s3_trailer_state(const char *base);
/* Records it; 1 when that is news (the caller says so once). */
int s3_trailer_learn(const char *base, int state);

/* Parts' CRCs (base64) by upload id and part number, for
 * CompleteMultipartUpload; get returns 0 when unknown (out ""). */
void s3_part_crc_note(const char *upload_id, int number, const char *b64);
int s3_part_crc_get(const char *upload_id, int number, char out[16]);
void s3_part_crc_forget(const char *upload_id);

#endif
