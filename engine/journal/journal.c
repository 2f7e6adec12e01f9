/*
 * journal.c - the LevelDB journal.  The schema is documented in journal.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <leveldb/c.h>

#include "journal.h"

/* Tables LevelDB keeps open (their indexes on the heap; it keeps 10 more
 * descriptors for itself) and the size of a table's blocks: see
 * mg_journal_open. */
#define JOURNAL_OPEN_TABLES 100
#define JOURNAL_BLOCK_SIZE (16 * 1024)

struct mg_journal {
	leveldb_t *db;
	leveldb_options_t *opts;
	leveldb_readoptions_t *ropts;
	leveldb_writeoptions_t *wsync;
	leveldb_writeoptions_t *wlazy;
	int lockfd;
	char *dir;
};

struct mg_journal_iter {
	leveldb_iterator_t *it;
	struct mg_buf prefix;
	struct mg_buf key;
};

static int lock_journal(struct mg_journal *j, struct mg_error *err)
{
	char path[4096];
	char pidbuf[32];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int n;

	snprintf(path, sizeof(path), "%s/lock.pid", j->dir);
	j->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lockfd < 0)
		return mg_error_set(err, MG_FATAL, errno, 0, "journal",
				    "cannot open journal lock '%s': %s", path,
				    strerror(errno));
	if (fcntl(j->lockfd, F_SETLK, &fl) < 0) {
		long pid = 0;

		if (fcntl(j->lockfd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			pid = (long)fl.l_pid;
		if (!pid) {
			n = (int)pread(j->lockfd, pidbuf, sizeof(pidbuf) - 1, 0);
			pidbuf[n > 0 ? n : 0] = '\0';
			pid = strtol(pidbuf, NULL, 10);
		}
		close(j->lockfd);
		j->lockfd = -1;
		return mg_error_set(err, MG_FATAL, EAGAIN, 0, "journal",
				    "journal '%s' is in use by another migrate (pid %ld): "
				    "wait for it to finish or stop it", j->dir, pid);
	}
	n = snprintf(pidbuf, sizeof(pidbuf), "%ld\n", (long)getpid());
	if (ftruncate(j->lockfd, 0) < 0 || pwrite(j->lockfd, pidbuf, (size_t)n, 0) != n)
		return mg_error_set(err, MG_FATAL, errno, 0, "journal",
				    "cannot write journal lock '%s': %s", path,
				    strerror(errno));
	return MG_OK;
}

/* mkdir -p with mode 0700 for the last component. */
static int make_dir(const char *dir)
{
	char *p = mg_strdup(dir);

	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	return chmod(dir, 0700);
}

int mg_journal_open(const char *dir, struct mg_journal **out, struct mg_error *err)
{
	struct mg_journal *j = mg_calloc(1, sizeof(*j));
	char *lerr = NULL;
	char *schema;
	mode_t old;

	*out = NULL;
	j->lockfd = -1;
	j->dir = mg_strdup(dir);
	if (make_dir(dir) < 0) {
		mg_error_set(err, MG_FATAL, errno, 0, "journal",
			     "cannot create journal folder '%s': %s", dir, strerror(errno));
		goto fail;
	}
	if (lock_journal(j, err) != MG_OK)
		goto fail;

	j->opts = leveldb_options_create();
	leveldb_options_set_create_if_missing(j->opts, 1);
	leveldb_options_set_compression(j->opts, leveldb_snappy_compression);
	/*
	 * Memory that does not grow with the journal.  Every table LevelDB
	 * keeps open holds its index block on the heap (about 80 KB for a
	 * 2 MB table of 4 KB blocks), and by default up to 1,000 stay open:
	 * a sync over ten million objects, whose compactions write new
	 * tables while the walk reads the old ones, had 82 MB private, most
	 * of it these indexes (heaptrack: Table::Open).  JOURNAL_OPEN_TABLES
	 * bounds them; 16 KB blocks make each index a quarter the size and
	 * suit the walk, which reads the journal in key order.  A point
	 * lookup past the bound reopens a table (a 20 KB index read from the
	 * page cache).
	 */
	leveldb_options_set_max_open_files(j->opts, JOURNAL_OPEN_TABLES + 10);
	leveldb_options_set_block_size(j->opts, JOURNAL_BLOCK_SIZE);
	/* LevelDB creates its files with the process umask: a journal
	 * lists what a bucket holds, so keep it private. */
	old = umask(077);
	j->db = leveldb_open(j->opts, dir, &lerr);
	umask(old);
	if (!j->db) {
		mg_error_set(err, MG_FATAL, 0, 0, "journal",
			     "cannot open journal '%s': %s", dir, lerr ? lerr : "unknown error");
		leveldb_free(lerr);
		goto fail;
	}
	j->ropts = leveldb_readoptions_create();
	j->wsync = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(j->wsync, 1);
	j->wlazy = leveldb_writeoptions_create();

	schema = mg_journal_get_meta(j, "schema");
	if (!schema) {
		char v[16];

		snprintf(v, sizeof(v), "%d", MG_JOURNAL_SCHEMA);
		if (mg_journal_put_meta(j, "schema", v) != MG_OK) {
			mg_error_set(err, MG_FATAL, 0, 0, "journal",
				     "cannot write journal '%s'", dir);
			goto fail;
		}
	} else if (atoi(schema) != MG_JOURNAL_SCHEMA) {
		mg_error_set(err, MG_FATAL, 0, 0, "journal",
			     "journal '%s' has schema %s, this migrate reads schema %d: "
			     "use a matching migrate or a new journal folder",
			     dir, schema, MG_JOURNAL_SCHEMA);
		free(schema);
		goto fail;
	}
	free(schema);
	*out = j;
	return MG_OK;
fail:
	mg_journal_close(j);
	return MG_FATAL;
}

void mg_journal_close(struct mg_journal *j)
{
	if (!j)
		return;
	if (j->db)
		leveldb_close(j->db);
	if (j->opts)
		leveldb_options_destroy(j->opts);
	if (j->ropts)
		leveldb_readoptions_destroy(j->ropts);
	if (j->wsync)
		leveldb_writeoptions_destroy(j->wsync);
	if (j->wlazy)
		leveldb_writeoptions_destroy(j->wlazy);
	if (j->lockfd >= 0)
		close(j->lockfd);	/* releases the fcntl lock */
	free(j->dir);
	free(j);
}

/* ---- low level ---- */

static int put(struct mg_journal *j, const char *k, size_t klen, const char *v,
	       size_t vlen, int sync)
{
	char *err = NULL;

	leveldb_put(j->db, sync ? j->wsync : j->wlazy, k, klen, v, vlen, &err);
	if (err) {
		fprintf(stderr, "migrate: journal write failed: %s\n", err);
		leveldb_free(err);
		return MG_FATAL;
	}
	return MG_OK;
}

static int del(struct mg_journal *j, const char *k, size_t klen, int sync)
{
	char *err = NULL;

	leveldb_delete(j->db, sync ? j->wsync : j->wlazy, k, klen, &err);
	if (err) {
		fprintf(stderr, "migrate: journal write failed: %s\n", err);
		leveldb_free(err);
		return MG_FATAL;
	}
	return MG_OK;
}

/* Returns a malloc'd NUL-terminated value, or NULL when absent. */
static char *get(struct mg_journal *j, const char *k, size_t klen, size_t *vlen)
{
	char *err = NULL;
	size_t n = 0;
	char *v = leveldb_get(j->db, j->ropts, k, klen, &n, &err);
	char *s;

	if (err) {
		fprintf(stderr, "migrate: journal read failed: %s\n", err);
		leveldb_free(err);
		return NULL;
	}
	if (!v)
		return NULL;
	s = mg_strndup(v, n);
	leveldb_free(v);
	if (vlen)
		*vlen = n;
	return s;
}

static void make_key(struct mg_buf *b, char kind, const char *tid, const char *key)
{
	mg_buf_reset(b);
	mg_buf_add(b, &kind, 1);
	mg_buf_add(b, "/", 1);
	mg_buf_adds(b, tid);
	mg_buf_add(b, "/", 1);
	if (key)
		mg_buf_adds(b, key);
}

/* put and del at the key k, which they release. */
static int put_key(struct mg_journal *j, struct mg_buf *k, const char *v, size_t vlen,
		   int sync)
{
	int r = put(j, k->buf, k->len, v, vlen, sync);

	mg_buf_release(k);
	return r;
}

static int del_key(struct mg_journal *j, struct mg_buf *k, int sync)
{
	int r = del(j, k->buf, k->len, sync);

	mg_buf_release(k);
	return r;
}

/* put, del and get of the record (kind, tid, key). */
static int put_rec(struct mg_journal *j, char kind, const char *tid, const char *key,
		   const char *v, size_t vlen, int sync)
{
	struct mg_buf k = MG_BUF_INIT;

	make_key(&k, kind, tid, key);
	return put_key(j, &k, v, vlen, sync);
}

static int del_rec(struct mg_journal *j, char kind, const char *tid, const char *key,
		   int sync)
{
	struct mg_buf k = MG_BUF_INIT;

	make_key(&k, kind, tid, key);
	return del_key(j, &k, sync);
}

static char *get_rec(struct mg_journal *j, char kind, const char *tid, const char *key)
{
	struct mg_buf k = MG_BUF_INIT;
	char *v;

	make_key(&k, kind, tid, key);
	v = get(j, k.buf, k.len, NULL);
	mg_buf_release(&k);
	return v;
}

/* Strings in records are single words; "-" stands for "". */
static const char *word(const char *s)
{
	return *s ? s : "-";
}

static void unword(char *s)
{
	if (!strcmp(s, "-"))
		*s = '\0';
}

/* The encryption in a record: one letter (a record is written per
 * object, and the journal is kept well under 200 bytes an object). */
static const struct { char code; const char *name; } enc_codes[] = {
	{ 'A', "AES256" }, { 'K', "aws:kms" }, { 'C', "SSE-C" },
};

static const char *enc_word(const char *name, char *buf)
{
	for (size_t i = 0; i < sizeof(enc_codes) / sizeof(enc_codes[0]); i++)
		if (!strcmp(name, enc_codes[i].name)) {
			buf[0] = enc_codes[i].code;
			buf[1] = '\0';
			return buf;
		}
	return word(name);	/* another: as it is */
}

static void enc_unword(char *s, size_t len)
{
	for (size_t i = 0; s[0] && !s[1] && i < sizeof(enc_codes) / sizeof(enc_codes[0]); i++)
		if (s[0] == enc_codes[i].code) {
			snprintf(s, len, "%s", enc_codes[i].name);
			return;
		}
	unword(s);
}

static void obj_format(struct mg_buf *b, const struct mg_obj_record *r)
{
	/* issue 15: the appended words only where there is something to
	 * say, so the records of every other target stay as they were */
	int locked = r->version_id[0] || r->lock_mode[0] || r->legal_hold;
	char e[2];

	mg_buf_reset(b);
	mg_buf_addf(b, "1 %d %" PRIu64 " %" PRId64 " %s %s %" PRId64 " %" PRId64
		    " %" PRId64 " %s", (int)r->state, r->size, r->mtime_ns,
		    word(r->sha256), word(r->etag), r->t_start, r->t_done, r->run,
		    word(r->src_etag));
	if (r->sclass[0] || r->enc[0] || locked)
		mg_buf_addf(b, " %s %s", word(r->sclass), enc_word(r->enc, e));
	if (locked) {
		mg_buf_addf(b, " %s ", word(r->version_id));
		if (r->lock_mode[0])
			mg_buf_addf(b, "%s@%" PRId64, r->lock_mode, r->lock_until);
		else
			mg_buf_adds(b, "-");
		mg_buf_adds(b, r->legal_hold ? " H" : " -");
	}
	mg_buf_adds(b, "\n");
}

static int obj_parse(const char *v, struct mg_obj_record *r)
{
	char lock[48] = "-", hold[2] = "-", *at;
	int state, end = 0, more = 0;

	memset(r, 0, sizeof(*r));
	if (sscanf(v, "1 %d %" SCNu64 " %" SCNd64 " %64s %79s %" SCNd64 " %" SCNd64
		   " %" SCNd64 " %79s%n", &state, &r->size, &r->mtime_ns, r->sha256,
		   r->etag, &r->t_start, &r->t_done, &r->run, r->src_etag, &end) != 9)
		return MG_FATAL;
	/* issue 15's words, absent from older records */
	if (sscanf(v + end, " %23s %15s%n", r->sclass, r->enc, &more) == 2) {
		unword(r->sclass);
		enc_unword(r->enc, sizeof(r->enc));
		if (sscanf(v + end + more, " %127s %47s %1s", r->version_id, lock, hold) != 3) {
			r->version_id[0] = '\0';
			strcpy(lock, "-");
			strcpy(hold, "-");
		}
	} else {
		r->sclass[0] = r->enc[0] = '\0';
	}
	r->state = (enum mg_obj_state)state;
	unword(r->sha256);
	unword(r->etag);
	unword(r->src_etag);
	unword(r->version_id);
	if ((at = strchr(lock, '@')) && (size_t)(at - lock) < sizeof(r->lock_mode)) {
		memcpy(r->lock_mode, lock, (size_t)(at - lock));
		r->lock_until = strtoll(at + 1, NULL, 10);
	}
	r->legal_hold = hold[0] == 'H';
	return MG_OK;
}

/* ---- objects ---- */

int mg_journal_get_obj(struct mg_journal *j, const char *tid, const char *key,
		       struct mg_obj_record *rec)
{
	char *v;
	int r;

	v = get_rec(j, 'o', tid, key);
	if (!v)
		return MG_ABSENT;
	r = obj_parse(v, rec);
	free(v);
	return r;
}

int mg_journal_put_obj(struct mg_journal *j, const char *tid, const char *key,
		       const struct mg_obj_record *rec, int sync)
{
	struct mg_buf v = MG_BUF_INIT;
	int r;

	obj_format(&v, rec);
	r = put_rec(j, 'o', tid, key, v.buf, v.len, sync);
	mg_buf_release(&v);
	return r;
}

int mg_journal_del_obj(struct mg_journal *j, const char *tid, const char *key,
		       int sync)
{
	return del_rec(j, 'o', tid, key, sync);
}

int mg_journal_iter_open(struct mg_journal *j, const char *tid,
			 const char *start_after, struct mg_journal_iter **out)
{
	struct mg_journal_iter *it = mg_calloc(1, sizeof(*it));

	mg_buf_init(&it->prefix, 0);
	mg_buf_init(&it->key, 0);
	make_key(&it->prefix, 'o', tid, NULL);
	it->it = leveldb_create_iterator(j->db, j->ropts);
	if (start_after) {
		make_key(&it->key, 'o', tid, start_after);
		leveldb_iter_seek(it->it, it->key.buf, it->key.len);
		if (leveldb_iter_valid(it->it)) {
			size_t n;
			const char *k = leveldb_iter_key(it->it, &n);

			if (n == it->key.len && !memcmp(k, it->key.buf, n))
				leveldb_iter_next(it->it);
		}
	} else {
		leveldb_iter_seek(it->it, it->prefix.buf, it->prefix.len);
	}
	*out = it;
	return MG_OK;
}

int mg_journal_iter_next(struct mg_journal_iter *it, const char **key,
			 size_t *keylen, struct mg_obj_record *rec)
{
	const char *k, *v;
	size_t klen, vlen;
	char *vs;
	int r;

	if (!leveldb_iter_valid(it->it))
		return MG_DONE;
	k = leveldb_iter_key(it->it, &klen);
	if (klen < it->prefix.len || memcmp(k, it->prefix.buf, it->prefix.len))
		return MG_DONE;
	v = leveldb_iter_value(it->it, &vlen);
	vs = mg_strndup(v, vlen);
	r = obj_parse(vs, rec);
	free(vs);
	mg_buf_reset(&it->key);
	mg_buf_add(&it->key, k + it->prefix.len, klen - it->prefix.len);
	*key = it->key.buf;
	if (keylen)
		*keylen = it->key.len;
	leveldb_iter_next(it->it);
	return r;
}

void mg_journal_iter_close(struct mg_journal_iter *it)
{
	if (!it)
		return;
	leveldb_iter_destroy(it->it);
	mg_buf_release(&it->prefix);
	mg_buf_release(&it->key);
	free(it);
}

/* ---- multipart uploads ---- */

void mg_upload_record_release(struct mg_upload_record *rec)
{
	free(rec->parts);
	rec->parts = NULL;
	rec->nparts = 0;
}

/* Parses a u/ value (v is modified). */
static int upload_parse(char *v, struct mg_upload_record *rec)
{
	char *line, *save = NULL;
	size_t alloc = 0;
	int n;

	memset(rec, 0, sizeof(*rec));
	line = strtok_r(v, "\n", &save);
	if (!line)
		return MG_FATAL;
	n = sscanf(line, "1 %511s %" SCNu64 " %" SCNu64 " %" SCNd64 " %79s %"
		   SCNd64 " %d %511s %" SCNd64, rec->upload_id, &rec->part_size,
		   &rec->size, &rec->mtime_ns, rec->src_etag, &rec->t_start,
		   &rec->hashed_parts, rec->hash_state, &rec->run);
	if (n != 8 && n != 9)
		return MG_FATAL;
	unword(rec->src_etag);
	unword(rec->hash_state);
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		struct mg_part_record p = { 0 };

		if (sscanf(line, "%d %" SCNu64 " %79s %32s", &p.number, &p.size,
			   p.etag, p.md5) != 4)
			continue;
		if (rec->nparts == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			rec->parts = mg_realloc(rec->parts, alloc * sizeof(*rec->parts));
		}
		rec->parts[rec->nparts++] = p;
	}
	return MG_OK;
}

int mg_journal_get_upload(struct mg_journal *j, const char *tid, const char *key,
			  struct mg_upload_record *rec)
{
	char *v;
	int r;

	memset(rec, 0, sizeof(*rec));
	v = get_rec(j, 'u', tid, key);
	if (!v)
		return MG_ABSENT;
	r = upload_parse(v, rec);
	free(v);
	if (r != MG_OK)
		mg_upload_record_release(rec);
	return r;
}

int mg_journal_put_upload(struct mg_journal *j, const char *tid, const char *key,
			  const struct mg_upload_record *rec, int sync)
{
	struct mg_buf v = MG_BUF_INIT;
	int r;

	mg_buf_addf(&v, "1 %s %" PRIu64 " %" PRIu64 " %" PRId64 " %s %" PRId64 " %d %s %"
		    PRId64 "\n", rec->upload_id, rec->part_size, rec->size,
		    rec->mtime_ns, word(rec->src_etag), rec->t_start,
		    rec->hashed_parts, word(rec->hash_state), rec->run);
	for (size_t i = 0; i < rec->nparts; i++)
		mg_buf_addf(&v, "%d %" PRIu64 " %s %s\n", rec->parts[i].number,
			    rec->parts[i].size, word(rec->parts[i].etag),
			    word(rec->parts[i].md5));
	r = put_rec(j, 'u', tid, key, v.buf, v.len, sync);
	mg_buf_release(&v);
	return r;
}

int mg_journal_del_upload(struct mg_journal *j, const char *tid, const char *key,
			  int sync)
{
	return del_rec(j, 'u', tid, key, sync);
}

/* Calls cb(arg, key, value, value_len) for every record under prefix
 * kind/<tid>/, key without the prefix; a snapshot, so cb may write. */
static int scan_kind(struct mg_journal *j, char kind, const char *tid,
		     int (*cb)(void *arg, const char *key, size_t keylen,
			       const char *v, size_t vlen),
		     void *arg)
{
	struct mg_buf p = MG_BUF_INIT, key = MG_BUF_INIT;
	leveldb_readoptions_t *ro = leveldb_readoptions_create();
	const leveldb_snapshot_t *snap = leveldb_create_snapshot(j->db);
	leveldb_iterator_t *it;

	leveldb_readoptions_set_snapshot(ro, snap);
	it = leveldb_create_iterator(j->db, ro);
	make_key(&p, kind, tid, NULL);
	for (leveldb_iter_seek(it, p.buf, p.len); leveldb_iter_valid(it);
	     leveldb_iter_next(it)) {
		size_t kn, vn;
		const char *k = leveldb_iter_key(it, &kn);
		const char *v = leveldb_iter_value(it, &vn);

		if (kn < p.len || memcmp(k, p.buf, p.len))
			break;
		mg_buf_reset(&key);
		mg_buf_add(&key, k + p.len, kn - p.len);
		if (cb(arg, key.buf ? key.buf : "", kn - p.len, v, vn))
			break;
	}
	leveldb_iter_destroy(it);
	leveldb_readoptions_destroy(ro);
	leveldb_release_snapshot(j->db, snap);
	mg_buf_release(&p);
	mg_buf_release(&key);
	return MG_OK;
}

struct upload_scan {
	int (*cb)(void *arg, const char *key, struct mg_upload_record *rec);
	void *arg;
};

static int upload_scan_one(void *arg, const char *key, size_t keylen,
			   const char *v, size_t vlen)
{
	struct upload_scan *us = arg;
	struct mg_upload_record rec;
	char *vs = mg_strndup(v, vlen);
	int stop = 0;

	(void)keylen;
	if (upload_parse(vs, &rec) == MG_OK)
		stop = us->cb(us->arg, key, &rec);
	mg_upload_record_release(&rec);
	free(vs);
	return stop;
}

int mg_journal_scan_uploads(struct mg_journal *j, const char *tid,
			    int (*cb)(void *arg, const char *key,
				      struct mg_upload_record *rec),
			    void *arg)
{
	struct upload_scan us = { cb, arg };

	return scan_kind(j, 'u', tid, upload_scan_one, &us);
}

/* ---- intents ---- */

int mg_journal_put_intent(struct mg_journal *j, const char *tid, const char *key,
			  int64_t t_ns, int sync)
{
	char v[32];
	int n = snprintf(v, sizeof(v), "1 %" PRId64 "\n", t_ns);

	return put_rec(j, 'i', tid, key, v, (size_t)n, sync);
}

int mg_journal_get_intent(struct mg_journal *j, const char *tid, const char *key,
			  int64_t *t_ns)
{
	char *v;
	int r = MG_OK;

	v = get_rec(j, 'i', tid, key);
	if (!v)
		return MG_ABSENT;
	if (sscanf(v, "1 %" SCNd64, t_ns) != 1)
		r = MG_FATAL;
	free(v);
	return r;
}

int mg_journal_del_intent(struct mg_journal *j, const char *tid, const char *key,
			  int sync)
{
	return del_rec(j, 'i', tid, key, sync);
}

struct intent_scan {
	int (*cb)(void *arg, const char *key, int64_t t_ns);
	void *arg;
};

static int intent_scan_one(void *arg, const char *key, size_t keylen,
			   const char *v, size_t vlen)
{
	struct intent_scan *is = arg;
	char num[40];
	int64_t t = 0;

	(void)keylen;
	snprintf(num, sizeof(num), "%.*s", (int)(vlen < 39 ? vlen : 39), v);
	if (sscanf(num, "1 %" SCNd64, &t) != 1)
		t = 0;	/* unreadable: the oldest time covers everything */
	return is->cb(is->arg, key, t);
}

int mg_journal_scan_intents(struct mg_journal *j, const char *tid,
			    int (*cb)(void *arg, const char *key, int64_t t_ns),
			    void *arg)
{
	struct intent_scan is = { cb, arg };

	return scan_kind(j, 'i', tid, intent_scan_one, &is);
}

/* ---- abandoned uploads ---- */

static void abandoned_key(struct mg_buf *b, const char *tid, const char *key,
			  const char *upload_id)
{
	make_key(b, 'a', tid, key);
	mg_buf_add(b, "", 1);	/* NUL: no key holds one (mg_key_check) */
	mg_buf_adds(b, upload_id);
}

int mg_journal_put_abandoned(struct mg_journal *j, const char *tid, const char *key,
			     const char *upload_id, int64_t t_ns, const char *reason)
{
	struct mg_buf k = MG_BUF_INIT, v = MG_BUF_INIT;
	int r;

	abandoned_key(&k, tid, key, upload_id);
	mg_buf_addf(&v, "1 %" PRId64 " %s\n", t_ns, reason ? reason : "");
	for (size_t i = 0; i + 1 < v.len; i++)
		if (v.buf[i] == '\n')
			v.buf[i] = ' ';
	r = put(j, k.buf, k.len, v.buf, v.len, 1);
	mg_buf_release(&k);
	mg_buf_release(&v);
	return r;
}

int mg_journal_get_abandoned(struct mg_journal *j, const char *tid, const char *key,
			     const char *upload_id)
{
	struct mg_buf k = MG_BUF_INIT;
	char *v;

	abandoned_key(&k, tid, key, upload_id);
	v = get(j, k.buf, k.len, NULL);
	mg_buf_release(&k);
	free(v);
	return v ? MG_OK : MG_ABSENT;
}

int mg_journal_del_abandoned(struct mg_journal *j, const char *tid, const char *key,
			     const char *upload_id)
{
	struct mg_buf k = MG_BUF_INIT;

	abandoned_key(&k, tid, key, upload_id);
	return del_key(j, &k, 1);
}

struct abandoned_scan {
	int (*cb)(void *arg, const char *key, const char *upload_id, int64_t t_ns,
		  const char *reason);
	void *arg;
};

static int abandoned_scan_one(void *arg, const char *key, size_t keylen,
			      const char *v, size_t vlen)
{
	struct abandoned_scan *as = arg;
	size_t klen = strlen(key);
	char *vs, *reason;
	int64_t t = 0;
	int stop;

	if (klen >= keylen)
		return 0;	/* no id: not a record this version writes */
	vs = mg_strndup(v, vlen);
	if (sscanf(vs, "1 %" SCNd64, &t) != 1)
		t = 0;
	reason = strchr(vs, ' ');
	reason = reason ? strchr(reason + 1, ' ') : NULL;
	reason = reason ? reason + 1 : vs + strlen(vs);
	reason[strcspn(reason, "\n")] = '\0';
	stop = as->cb(as->arg, key, key + klen + 1, t, reason);
	free(vs);
	return stop;
}

int mg_journal_scan_abandoned(struct mg_journal *j, const char *tid,
			      int (*cb)(void *arg, const char *key,
					const char *upload_id, int64_t t_ns,
					const char *reason),
			      void *arg)
{
	struct abandoned_scan as = { cb, arg };

	return scan_kind(j, 'a', tid, abandoned_scan_one, &as);
}

/* ---- dedupe index ---- */

static void hash_key(struct mg_buf *b, const char *sha256, const char *tid,
		     const char *key)
{
	mg_buf_reset(b);
	mg_buf_addf(b, "h/%s/%s/", sha256, tid);
	if (key)
		mg_buf_adds(b, key);
}

int mg_journal_put_hash(struct mg_journal *j, const char *sha256,
			const char *tid, const char *key, int sync)
{
	struct mg_buf k = MG_BUF_INIT;

	hash_key(&k, sha256, tid, key);
	return put_key(j, &k, "", 0, sync);
}

int mg_journal_del_hash(struct mg_journal *j, const char *sha256,
			const char *tid, const char *key, int sync)
{
	struct mg_buf k = MG_BUF_INIT;

	hash_key(&k, sha256, tid, key);
	return del_key(j, &k, sync);
}

int mg_journal_find_hash(struct mg_journal *j, const char *sha256,
			 const char *tid, char **key_out)
{
	struct mg_buf p = MG_BUF_INIT;
	leveldb_iterator_t *it;
	int r = MG_ABSENT;

	*key_out = NULL;
	hash_key(&p, sha256, tid, NULL);
	it = leveldb_create_iterator(j->db, j->ropts);
	leveldb_iter_seek(it, p.buf, p.len);
	if (leveldb_iter_valid(it)) {
		size_t n;
		const char *k = leveldb_iter_key(it, &n);

		if (n > p.len && !memcmp(k, p.buf, p.len)) {
			*key_out = mg_strndup(k + p.len, n - p.len);
			r = MG_OK;
		}
	}
	leveldb_iter_destroy(it);
	mg_buf_release(&p);
	return r;
}

/* ---- pending deletions ---- */

int mg_journal_put_gone(struct mg_journal *j, const char *tid, const char *key,
			uint64_t size)
{
	char v[24];
	int n = snprintf(v, sizeof(v), "%" PRIu64, size);

	return put_rec(j, 'd', tid, key, v, (size_t)n, 0);
}

int mg_journal_del_gone(struct mg_journal *j, const char *tid, const char *key)
{
	return del_rec(j, 'd', tid, key, 0);
}

int mg_journal_scan_gone(struct mg_journal *j, const char *tid,
			 int (*cb)(void *arg, const char *key, uint64_t size),
			 void *arg)
{
	struct mg_buf p = MG_BUF_INIT, key = MG_BUF_INIT;
	leveldb_iterator_t *it = leveldb_create_iterator(j->db, j->ropts);

	make_key(&p, 'd', tid, NULL);
	for (leveldb_iter_seek(it, p.buf, p.len); leveldb_iter_valid(it);
	     leveldb_iter_next(it)) {
		size_t kn, vn;
		const char *k = leveldb_iter_key(it, &kn);
		const char *v = leveldb_iter_value(it, &vn);
		char num[24];

		if (kn < p.len || memcmp(k, p.buf, p.len))
			break;
		mg_buf_reset(&key);
		mg_buf_add(&key, k + p.len, kn - p.len);
		snprintf(num, sizeof(num), "%.*s", (int)(vn < 23 ? vn : 23), v);
		if (cb(arg, key.buf, strtoull(num, NULL, 10)))
			break;
	}
	leveldb_iter_destroy(it);
	mg_buf_release(&p);
	mg_buf_release(&key);
	return MG_OK;
}

/* ---- runs and meta ---- */

int mg_journal_put_run(struct mg_journal *j, int64_t start_ns, const char *json)
{
	char k[32];
	int n = snprintf(k, sizeof(k), "r/%020" PRId64, start_ns);

	return put(j, k, (size_t)n, json, strlen(json), 1);
}

int mg_journal_list_runs(struct mg_journal *j, size_t max,
			 int (*cb)(void *arg, int64_t start_ns, const char *json),
			 void *arg)
{
	leveldb_iterator_t *it = leveldb_create_iterator(j->db, j->ropts);
	size_t count = 0;

	/* Runs are keyed by start time: walk backwards from the end of r/. */
	leveldb_iter_seek(it, "r0", 2);	/* '0' is the byte after '/' */
	if (leveldb_iter_valid(it))
		leveldb_iter_prev(it);
	else
		leveldb_iter_seek_to_last(it);
	for (; leveldb_iter_valid(it) && count < max; leveldb_iter_prev(it)) {
		size_t kn, vn;
		const char *k = leveldb_iter_key(it, &kn);
		const char *v;
		char *json;
		int stop;

		if (kn < 3 || memcmp(k, "r/", 2))
			break;
		v = leveldb_iter_value(it, &vn);
		json = mg_strndup(v, vn);
		stop = cb(arg, strtoll(k + 2, NULL, 10), json);
		free(json);
		count++;
		if (stop)
			break;
	}
	leveldb_iter_destroy(it);
	return MG_OK;
}

int mg_journal_put_meta(struct mg_journal *j, const char *name, const char *value)
{
	struct mg_buf k = MG_BUF_INIT;

	mg_buf_addf(&k, "m/%s", name);
	return put_key(j, &k, value, strlen(value), 1);
}

int mg_journal_put_meta_unsynced(struct mg_journal *j, const char *name, const char *value)
{
	struct mg_buf k = MG_BUF_INIT;

	mg_buf_addf(&k, "m/%s", name);
	return put_key(j, &k, value, strlen(value), 0);
}

char *mg_journal_get_meta(struct mg_journal *j, const char *name)
{
	struct mg_buf k = MG_BUF_INIT;
	char *v;

	mg_buf_addf(&k, "m/%s", name);
	v = get(j, k.buf, k.len, NULL);
	mg_buf_release(&k);
	return v;
}

/* ---- group commit ---- */

struct mg_journal_batch {
	leveldb_writebatch_t *wb;
	size_t n;
	struct mg_buf k, v;	/* scratch */
};

struct mg_journal_batch *mg_journal_batch_new(void)
{
	struct mg_journal_batch *b = mg_calloc(1, sizeof(*b));

	b->wb = leveldb_writebatch_create();
	return b;
}

void mg_journal_batch_free(struct mg_journal_batch *b)
{
	if (!b)
		return;
	leveldb_writebatch_destroy(b->wb);
	mg_buf_release(&b->k);
	mg_buf_release(&b->v);
	free(b);
}

void mg_journal_batch_put_obj(struct mg_journal_batch *b, const char *tid,
			      const char *key, const struct mg_obj_record *rec)
{
	make_key(&b->k, 'o', tid, key);
	mg_buf_reset(&b->v);
	obj_format(&b->v, rec);
	leveldb_writebatch_put(b->wb, b->k.buf, b->k.len, b->v.buf, b->v.len);
	b->n++;
}

void mg_journal_batch_del_upload(struct mg_journal_batch *b, const char *tid,
				 const char *key)
{
	make_key(&b->k, 'u', tid, key);
	leveldb_writebatch_delete(b->wb, b->k.buf, b->k.len);
	b->n++;
}

void mg_journal_batch_put_hash(struct mg_journal_batch *b, const char *sha256,
			       const char *tid, const char *key)
{
	hash_key(&b->k, sha256, tid, key);
	leveldb_writebatch_put(b->wb, b->k.buf, b->k.len, "", 0);
	b->n++;
}

size_t mg_journal_batch_count(const struct mg_journal_batch *b)
{
	return b->n;
}

int mg_journal_batch_write(struct mg_journal *j, struct mg_journal_batch *b)
{
	char *err = NULL;

	if (b->n)
		leveldb_write(j->db, j->wsync, b->wb, &err);
	leveldb_writebatch_clear(b->wb);
	b->n = 0;
	if (err) {
		fprintf(stderr, "migrate: journal write failed: %s\n", err);
		leveldb_free(err);
		return MG_FATAL;
	}
	return MG_OK;
}
