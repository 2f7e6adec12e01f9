/*
 * tar.c - an archive as a source: every entry libarchive can read (tar in
 * all its dialects, zip, 7z, cpio, iso9660, under any compression filter)
 * becomes one object, streamed from wherever the archive sits:
 *
 *   tar:///path/data.tar.zst       a local file
 *   tar+sftp://host/path/x.tgz     read through the "sftp" connector
 *   tar+s3://bucket/key.tar        read through the "s3" connector
 *
 * The archive is never copied to a temporary file: libarchive pulls bytes
 * through its read/skip/seek callbacks from the inner connector (ranged
 * reads make skip and seek cheap when the inner connector has them).
 *
 * Names become keys by one rule:
 *   - a name that is not valid UTF-8 is percent-escaped: every byte that is
 *     not part of a valid UTF-8 sequence becomes "%XX" (upper-case hex), and
 *     in such a name every '%' becomes "%25" too, so the escaped name can be
 *     decoded back to the original bytes.  Valid UTF-8 names are left as
 *     they are, '%' included (a name like "100%.txt" stays readable).  An
 *     escaped name could thus equal a real name ("a%FC" vs. "a\xfc"); both
 *     then share one key and the later one in the archive wins, as it does
 *     for duplicate names and for `bsdtar -x`.
 *   - "." and empty components are dropped ("./a//b" is "a/b").
 *   - a name that is absolute ("/x", "\x"), starts with a drive letter
 *     ("C:"), or has a ".." component (split on '/' and '\') is hostile: it
 *     is listed as an MG_ENTRY_ERROR naming the entry and never read, so
 *     nothing lands outside the target's prefix.  A NUL cannot reach us:
 *     libarchive hands names over as C strings, cut at the first NUL.
 *   - the plan's prefix (if any) is put in front, joined with one '/'.
 * Directories are not objects.  Every name of a hard-linked file is listed
 * as a file with the file's size, and its reads serve the file's data
 * wherever the format keeps it (cpio newc and crc: with the last link
 * only; see index_finish).  An entry's permission bits (07777) are listed
 * as its mode.  Symlinks, devices, fifos and sockets are
 * listed as MG_ENTRY_SYMLINK / MG_ENTRY_SPECIAL so the engine counts them
 * skipped; with `symlinks: record` a symlink is a small file whose content
 * is the link target (and link_target carries it too); with `symlinks:
 * follow` a symlink that resolves, inside the archive and inside the
 * prefix, to a regular file is listed as a copy of that file.
 *
 * Order against one pass.  The contract wants keys in byte-wise order, an
 * archive gives them in archive order, and a compressed archive can only be
 * read front to back.  So:
 *   1. list_open() reads the archive once, headers only (data is skipped:
 *      a seek for an uncompressed archive on a seekable transport, a full
 *      decompression pass for a compressed one), and builds a sorted index
 *      of every entry: memory proportional to the number of entries (about
 *      150 bytes plus the name each), which is fine for archives; the
 *      engine never sees more than the listing.  Small entries met in this
 *      pass are kept in a bounded cache (below) instead of skipped.
 *   2. read_open(key) serves the entry from the cache if it is there, else
 *      from a sequential reader: an idle one that has not passed the entry
 *      skips forward to it; if all have passed it, the archive is opened
 *      again and read up to it.  Idle readers of a local archive are
 *      shared by the endpoint's conns (at most TAR_POOL_MAX); a remote one
 *      stays with its conn, whose inner connection it reads.
 *   3. While a reader skips forward it keeps the entries it passes (at most
 *      16 MiB each) that the engine will ask for later, in a cache of at
 *      most 64 MiB shared by all conns of the endpoint.  The engine asks in
 *      key order, so an entry's rank in the listing tells when it will be
 *      needed: when the cache is full the entry needed last is dropped
 *      (Belady's rule), and entries the engine has moved past (filtered
 *      out, or done in an earlier run) are dropped as it goes.
 *   The cost: the archive is read once more for every 64 MiB of small
 *   entries that sit out of key order, and for every large entry (over 16
 *   MiB) that sits behind every idle reader; for a compressed archive each
 *   re-read is a decompression from the start up to the entry.  An archive
 *   made from a folder tree (`tar czf`: folders in readdir order) of 3,000
 *   files and 240 MB took 5 passes in all, 4 workers reading; the same
 *   entries fully shuffled took 14.  Memory stays bounded whatever the
 *   archive: index + 64 MiB + libarchive's buffers for each reader.
 *   Reading archive order end to end (an engine that scheduled its copies
 *   by the entries' archive position) would make every run one pass.
 *
 * Limits against decompression bombs: an entry larger than max_entry_size
 * (default 1 TiB) fails, and an entry whose data grows past 64 MiB and
 * past max_ratio (default 1000) times the archive bytes consumed while it
 * was read fails too; holes of sparse files do not count.  Either failure
 * is for that entry only.
 */
#define _GNU_SOURCE	/* strchrnul, memrchr */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "connector.h"
#include "plan.h"

/* ------------------------------------------------------------ the plan */

/* What an archive endpoint takes in a plan, besides the keys of the
 * connector it reads the archive through (plans/README.md). */
struct tar_options {
	int symlinks;		/* enum mg_symlinks */
	char *prefix;		/* key prefix under which entries land; NULL none */
	uint64_t max_entry_size;	/* decompression-bomb guards, 0 = default */
	int64_t max_ratio;
};

#define TAR_OPT(x) offsetof(struct tar_options, x)

/* tar:// is tar over a local file */
#define TAR_WRAPS_DEFAULT "file"

/* An archive's links cannot lead out of it: 'follow' already follows
 * every one that resolves. */
static int tar_symlinks_check(const struct mg_option *o, const char *v,
			      char *msg, size_t msglen)
{
	(void)o;
	if (strcmp(v, "follow-all") != 0)
		return 0;
	snprintf(msg, msglen,
		 "'symlinks: follow-all' is for folders and sftp://: in an archive, 'follow' already follows every link that resolves inside it");
	return -1;
}

static const struct mg_option tar_keys[] = {
	{ .name = "symlinks", .type = MG_OPT_CHOICE, .off = TAR_OPT(symlinks),
	  .def = "skip", .words = mg_symlinks_words, .listed = MG_SYMLINKS_LISTED,
	  .check = tar_symlinks_check,
	  .doc = "symlink entries: skip, follow (to an entry inside), record" },
	{ .name = "prefix", .type = MG_OPT_STRING, .off = TAR_OPT(prefix),
	  .doc = "key prefix put in front of every entry's name" },
	{ .name = "max_entry_size", .type = MG_OPT_SIZE, .off = TAR_OPT(max_entry_size),
	  .doc = "an entry larger than this fails (default 1TiB)" },
	{ .name = "max_ratio", .type = MG_OPT_INT, .off = TAR_OPT(max_ratio),
	  .min = 1, .max = 1000000000,
	  .doc = "an entry that grows past this many times its compressed bytes fails (default 1000)" },
};

static const struct tar_options tar_defaults = { .symlinks = MG_SYMLINKS_SKIP };

static const struct tar_options *tar_opts(const struct mg_endpoint *ep)
{
	return ep->opts ? ep->opts : &tar_defaults;
}

/* all cached entry data, per endpoint */
#define TAR_CACHE_CAP		(64ULL << 20)
/* MG_TAR_CACHE_CAP=<bytes> in the environment lowers the cap: the tests use
 * it to make eviction and re-reading happen with small archives. */
#define TAR_CACHE_CAP_ENV	"MG_TAR_CACHE_CAP"
#define TAR_CACHE_ITEM_MAX	(16ULL << 20)	/* larger entries are never cached */
/* Workers ask for keys nearly, not exactly, in order: an entry a little
 * behind the furthest request may still be on its way to a worker. */
#define TAR_SLACK		1024
#define TAR_DEFAULT_MAX_ENTRY	(1ULL << 40)	/* 1 TiB */
#define TAR_DEFAULT_MAX_RATIO	1000
/* Read-ahead makes the ratio meaningless for small amounts of data. */
#define TAR_RATIO_GRACE		(64ULL << 20)
#define TAR_IO_BUF		(256 * 1024)	/* inner-connector read size */
/* A skip shorter than this is cheaper read than asked for with a new
 * ranged request (one round trip costs about what 8 MiB takes to arrive). */
#define TAR_SKIP_MIN		(8 * 1024 * 1024)
#define TAR_LINK_DEPTH		16
/* Idle readers of a local archive kept for the next reads: each is a
 * position in the archive that need not be reached again from its start
 * (a decompression pass).  Workers read neighbouring keys at once, so one
 * would rarely be free. */
#define TAR_POOL_MAX		4

enum tar_kind {
	TAR_DIR = 0,		/* not an object */
	TAR_FILE,		/* regular file with its own data */
	TAR_HARDLINK,		/* serves another entry's data */
	TAR_SYMLINK,
	TAR_SPECIAL,
	TAR_ERROR,		/* hostile or unresolvable name */
};

/* One archive header, in archive order (items[ord]). */
struct tar_item {
	char *key;		/* with prefix; NULL for directories */
	char *link;		/* symlink target, or hard link target's key */
	const char *error;	/* TAR_ERROR: why (static string) */
	uint64_t size;
	int64_t mtime_ns;
	uint64_t name_hash;	/* of the raw name: a re-read must see the same */
	long ord;
	long data_ord;		/* whose data a read serves; -1: none */
	/* Hard links (index_finish): a member of a link group holds the ord
	 * of the group's first entry (its root, an earlier entry); the root
	 * holds the ord of the group's last entry with data of its own (or
	 * its own ord), so root iff group >= ord.  -1: not a regular file. */
	long group;
	long rank;		/* position in the listing, -1 if not listed */
	long rank_lo, rank_hi;	/* listing ranks of the keys reading this data */
	long heap_pos;		/* in the cache heap, -1 if not there */
	unsigned kind:3;
	unsigned encrypted:1;
	unsigned sparse:1;
	unsigned record:1;	/* symlink listed as a file holding its target */
	unsigned cached:1;	/* data is in cache (may be 0 bytes) */
	unsigned reserved:1;	/* cache space reserved, data being read */
	unsigned served:1;	/* every key reading this data was asked for */
	unsigned hardlink:1;	/* the header names another entry (link) */
	unsigned multi:1;	/* cpio SVR4 entry with nlink > 1 */
	unsigned mode:12;	/* permission bits from the header */
	unsigned char *cache;
};

/* State shared by every conn of one endpoint (the engine opens one conn
 * per worker plus one for listing; they must agree on one index). */
struct tar_shared {
	struct tar_shared *next;
	const struct mg_endpoint *ep;
	int refs;

	/* identity of the archive, taken at the first open */
	uint64_t arch_size;
	int64_t arch_mtime;
	char arch_etag[80];

	uint64_t max_entry;
	uint64_t max_ratio;
	uint64_t cache_cap;
	char *prefix;		/* the plan's prefix without '/' at its ends, or NULL */
	size_t plen;		/* length of the prefix part of keys, with its '/' */

	pthread_mutex_t build_lock;	/* one index pass at a time */
	int built;
	int build_status;	/* MG_OK, or the fatal grade of a failed pass */
	struct mg_error build_err;
	struct mg_error list_err;	/* the archive broke: reported after the entries */

	struct tar_item *items;
	long nitems;
	struct tar_item **listing;	/* sorted, one per key */
	long nlisted;

	pthread_mutex_t pass_lock;	/* one read from the archive's start at a time */
	pthread_mutex_t lock;	/* guards everything below */
	struct tar_item **heap;	/* max-heap of cached items by rank_lo */
	struct tar_item **victims;	/* scratch for cache_reserve, as large */
	long nheap;
	uint64_t cache_used;
	long frontier;		/* highest rank asked for */
	long dead_pos;		/* ranks below this were swept */
	/* idle streams of a local archive, any conn may take one (a stream
	 * of a remote archive uses its conn's inner connection: it stays on
	 * that conn, tar_conn.idle) */
	struct tar_stream *pool[TAR_POOL_MAX];
	int npool;
	uint64_t tick;
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tar_shared *shared_list;

/* A sequential libarchive reader over the archive. */
struct tar_stream {
	struct archive *a;
	struct mg_conn *conn;
	long next_ord;		/* ordinal of the next header */
	int fresh;		/* the data of entry next_ord-1 is untouched */
	uint64_t last_used;	/* in the pool: for dropping the oldest */
	int broken;
	/* the inner connector failed (not the archive): its grade, message in
	 * the conn's error, so a dropped connection is not called damage */
	int io_status;
	/* inner-connector transport */
	struct mg_reader *rd;
	uint64_t pos;
	char *buf;
};

struct tar_conn {
	struct tar_shared *sh;
	int remote;
	const char *path;		/* tar://: the archive file */
	struct mg_endpoint inner_ep;	/* tar+sftp, tar+s3: the folder */
	struct mg_conn inner;
	int inner_open;
	char *inner_path;
	char *inner_key;		/* the archive's name in that folder */
	int can_range;
	int can_seek;
	struct tar_stream *idle;	/* remote archives: kept between reads */
};

/* ---- locale ---- */

/*
 * libarchive converts names through the current locale; under "C" a UTF-8
 * zip name comes back as NULL.  Every libarchive call that touches names
 * runs under C.UTF-8 on this thread only (uselocale), whatever the
 * process's locale is.
 */
static pthread_once_t locale_once = PTHREAD_ONCE_INIT;
static locale_t utf8_locale;

static void locale_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (!utf8_locale)
		utf8_locale = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
}

static locale_t locale_enter(void)
{
	pthread_once(&locale_once, locale_init);
	return utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
}

static void locale_leave(locale_t old)
{
	if (old)
		uselocale(old);
}

/* ---- names ---- */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Length of the valid UTF-8 sequence at s, or 0 (overlong forms,
 * surrogates and code points past U+10FFFF are invalid). */
static int utf8_seq(const unsigned char *s)
{
	unsigned c = s[0];
	int n, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

static int utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int n;

	while (*p) {
		n = utf8_seq(p);
		if (!n)
			return 0;
		p += n;
	}
	return 1;
}

/* The rule at the top of this file: returns a malloc'd copy, escaped only
 * if s is not valid UTF-8. */
static char *name_escape(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct mg_buf b = MG_BUF_INIT;
	int n;

	if (utf8_valid(s))
		return mg_strdup(s);
	while (*p) {
		n = *p == '%' ? 0 : utf8_seq(p);
		if (n) {
			mg_buf_add(&b, p, (size_t)n);
			p += n;
		} else {
			mg_buf_addf(&b, "%%%02X", *p);
			p++;
		}
	}
	return mg_buf_detach(&b);
}

/* Why a (escaped) name is hostile, or NULL if it is not. */
static const char *name_hostile(const char *s)
{
	const char *p, *c;

	if (s[0] == '/' || s[0] == '\\')
		return "refused: an absolute name (it would land outside the target)";
	if (((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')) && s[1] == ':')
		return "refused: the name starts with a drive letter (it would land outside the target)";
	for (c = s;; c = p + 1) {
		p = c + strcspn(c, "/\\");
		if (p - c == 2 && c[0] == '.' && c[1] == '.')
			return "refused: the name has a '..' component (it would land outside the target)";
		if (!*p)
			break;
	}
	return NULL;
}

/* "./a//b/" -> "a/b" with prefix in front; "" if nothing is left. */
static char *name_normalize(const char *s, const char *prefix)
{
	struct mg_buf b = MG_BUF_INIT;
	const char *p, *c;
	size_t n;

	mg_buf_adds(&b, "");
	if (prefix && *prefix) {
		mg_buf_adds(&b, prefix);
		mg_buf_adds(&b, "/");
	}
	n = b.len;
	for (c = s;; c = p + 1) {
		p = strchrnul(c, '/');
		if (p > c && !(p - c == 1 && c[0] == '.')) {
			if (b.len > n)
				mg_buf_add(&b, "/", 1);
			mg_buf_add(&b, c, (size_t)(p - c));
		}
		if (!*p)
			break;
	}
	if (b.len == n)
		b.buf[0] = '\0', b.len = 0;
	return mg_buf_detach(&b);
}

/* The raw name of an entry: UTF-8 when libarchive can give it, else the
 * bytes as stored (then escaped by the caller). */
static const char *entry_name(struct archive_entry *e)
{
	const char *s = archive_entry_pathname_utf8(e);

	return s ? s : archive_entry_pathname(e);
}

/* ---- the shared index: cache heap ---- */

static void heap_swap(struct tar_shared *sh, long i, long j)
{
	struct tar_item *t = sh->heap[i];

	sh->heap[i] = sh->heap[j];
	sh->heap[j] = t;
	sh->heap[i]->heap_pos = i;
	sh->heap[j]->heap_pos = j;
}

static void heap_up(struct tar_shared *sh, long i)
{
	while (i > 0 && sh->heap[(i - 1) / 2]->rank_lo < sh->heap[i]->rank_lo) {
		heap_swap(sh, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct tar_shared *sh, long i)
{
	for (;;) {
		long l = 2 * i + 1, r = l + 1, m = i;

		if (l < sh->nheap && sh->heap[l]->rank_lo > sh->heap[m]->rank_lo)
			m = l;
		if (r < sh->nheap && sh->heap[r]->rank_lo > sh->heap[m]->rank_lo)
			m = r;
		if (m == i)
			return;
		heap_swap(sh, i, m);
		i = m;
	}
}

/* The heap never holds more than the item count; its array is sized once. */
static void heap_push(struct tar_shared *sh, struct tar_item *it)
{
	it->heap_pos = sh->nheap;
	sh->heap[sh->nheap++] = it;
	heap_up(sh, it->heap_pos);
}

static void heap_remove(struct tar_shared *sh, struct tar_item *it)
{
	long i = it->heap_pos;

	if (i < 0)
		return;
	it->heap_pos = -1;
	if (i != --sh->nheap) {
		sh->heap[i] = sh->heap[sh->nheap];
		sh->heap[i]->heap_pos = i;
		heap_up(sh, i);
		heap_down(sh, sh->heap[i]->heap_pos);
	}
}

/* Caller holds sh->lock. */
static void cache_drop(struct tar_shared *sh, struct tar_item *it)
{
	if (!it->cached)
		return;
	heap_remove(sh, it);
	sh->cache_used -= it->size;
	free(it->cache);
	it->cache = NULL;
	it->cached = 0;
}

/*
 * Reserves room for it's data if the engine will still ask for it and it
 * is needed sooner than what it would push out.  Caller holds sh->lock.
 */
static int cache_reserve(struct tar_shared *sh, struct tar_item *it)
{
	uint64_t room;
	long n = 0, i;

	if (it->kind != TAR_FILE || it->encrypted || it->cached || it->reserved ||
	    it->served || it->size > TAR_CACHE_ITEM_MAX || it->rank_lo < 0 ||
	    it->rank_hi < sh->frontier - TAR_SLACK || it->size > sh->cache_cap)
		return 0;
	/* take out the entries needed later than it until it fits; if it
	 * still does not fit they go back, the cache unchanged */
	room = sh->cache_cap - sh->cache_used;
	while (room < it->size && n < sh->nheap &&
	       sh->heap[0]->rank_lo > it->rank_lo) {
		struct tar_item *far = sh->heap[0];

		heap_remove(sh, far);
		sh->victims[n++] = far;
		room += far->size;
	}
	if (room < it->size) {
		for (i = 0; i < n; i++)
			heap_push(sh, sh->victims[i]);
		return 0;
	}
	for (i = 0; i < n; i++)
		cache_drop(sh, sh->victims[i]);	/* out of the heap already */
	sh->cache_used += it->size;
	it->reserved = 1;
	return 1;
}

/* Ends a reservation: with the data (buf owned by the cache now), or
 * without it (buf NULL and ok 0).  Caller holds sh->lock. */
static void cache_fill(struct tar_shared *sh, struct tar_item *it,
		       unsigned char *buf, int ok)
{
	it->reserved = 0;
	if (!ok) {
		sh->cache_used -= it->size;
		free(buf);
		return;
	}
	it->cache = buf;
	it->cached = 1;
	if (sh->heap)
		heap_push(sh, it);
}

/* The engine asked for rank: entries it has moved past are dropped.
 * Caller holds sh->lock. */
static void cache_advance(struct tar_shared *sh, long rank)
{
	if (rank > sh->frontier)
		sh->frontier = rank;
	for (; sh->dead_pos < sh->frontier - TAR_SLACK; sh->dead_pos++) {
		struct tar_item *l = sh->listing[sh->dead_pos];
		struct tar_item *d;

		if (l->data_ord < 0)
			continue;
		d = &sh->items[l->data_ord];
		if (d->cached && d->rank_hi < sh->frontier - TAR_SLACK)
			cache_drop(sh, d);
	}
}

/* ---- transport ---- */

static la_ssize_t remote_read(struct archive *a, void *data, const void **buf)
{
	struct tar_stream *st = data;
	struct tar_conn *tc = st->conn->priv;
	size_t got = 0;
	int rc;

	if (tc->sh->arch_size && st->pos >= tc->sh->arch_size)
		return 0;
	if (!st->rd) {
		mg_error_clear(&tc->inner.err);
		rc = mg_read_open(&tc->inner, tc->inner_key, st->pos,
				  UINT64_MAX, &st->rd);
		if (rc != MG_OK) {
			st->rd = NULL;
			st->io_status = rc;
			archive_set_error(a, EIO, "%s", tc->inner.err.msg);
			return -1;
		}
	}
	rc = tc->inner.ops->read(st->rd, st->buf, TAR_IO_BUF, &got);
	if (rc != MG_OK) {
		st->io_status = rc;
		archive_set_error(a, EIO, "%s", tc->inner.err.msg);
		return -1;
	}
	st->pos += got;
	*buf = st->buf;
	return (la_ssize_t)got;
}

static void remote_drop_reader(struct tar_stream *st)
{
	struct tar_conn *tc;

	if (!st->rd)
		return;
	tc = st->conn->priv;
	tc->inner.ops->read_close(st->rd);
	st->rd = NULL;
}

/* A long skip becomes a new ranged read; a short one, or any skip without
 * ranged reads, is left to libarchive (it reads and discards). */
static la_int64_t remote_skip(struct archive *a, void *data, la_int64_t req)
{
	struct tar_stream *st = data;
	struct tar_conn *tc = st->conn->priv;
	uint64_t n = (uint64_t)req;

	(void)a;
	if (!tc->can_range || req < TAR_SKIP_MIN)
		return 0;
	if (st->pos + n > tc->sh->arch_size)
		n = tc->sh->arch_size - st->pos;
	remote_drop_reader(st);
	st->pos += n;
	return (la_int64_t)n;
}

static la_int64_t remote_seek(struct archive *a, void *data, la_int64_t off, int whence)
{
	struct tar_stream *st = data;
	struct tar_conn *tc = st->conn->priv;
	int64_t to;

	switch (whence) {
	case SEEK_SET: to = off; break;
	case SEEK_CUR: to = (int64_t)st->pos + off; break;
	case SEEK_END: to = (int64_t)tc->sh->arch_size + off; break;
	default: to = -1; break;
	}
	if (to < 0 || (uint64_t)to > tc->sh->arch_size) {
		archive_set_error(a, EINVAL, "seek outside the archive");
		return ARCHIVE_FATAL;
	}
	if ((uint64_t)to != st->pos) {
		remote_drop_reader(st);
		st->pos = (uint64_t)to;
	}
	return to;
}

static int remote_close_cb(struct archive *a, void *data)
{
	(void)a;
	remote_drop_reader(data);
	return ARCHIVE_OK;
}

/* Size, mtime and ETag of the archive now. */
static int archive_identity(struct mg_conn *conn, uint64_t *size, int64_t *mtime,
			    char *etag)
{
	struct tar_conn *tc = conn->priv;
	struct mg_entry e;
	struct stat st;
	int rc;

	etag[0] = '\0';
	if (!tc->remote) {
		if (stat(tc->path, &st) < 0)
			return mg_error_set(&conn->err, MG_FATAL, errno, 0, "open",
					    "cannot open archive '%s': %s", tc->path,
					    strerror(errno));
		if (!S_ISREG(st.st_mode))
			return mg_error_set(&conn->err, MG_FATAL, 0, 0, "open",
					    "archive '%s' is not a regular file", tc->path);
		*size = (uint64_t)st.st_size;
		*mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		return MG_OK;
	}
	if (!tc->inner.ops->stat) {
		*size = 0;
		*mtime = 0;
		return MG_OK;
	}
	rc = mg_stat(&tc->inner, tc->inner_key, &e);
	if (rc == MG_ABSENT)
		return mg_error_set(&conn->err, MG_FATAL, 0, 0, "open",
				    "archive '%s' does not exist", conn->ep->url);
	if (rc != MG_OK) {
		mg_error_copy(&conn->err, &tc->inner.err);
		return mg_error_set(&conn->err, MG_FATAL, 0, 0, "open",
				    "cannot reach archive '%s'", conn->ep->url);
	}
	*size = e.size;
	*mtime = e.mtime_ns;
	snprintf(etag, 80, "%s", e.etag);
	return MG_OK;
}

static void stream_free(struct tar_stream *st)
{
	if (!st)
		return;
	if (st->a)
		archive_read_free(st->a);
	remote_drop_reader(st);
	free(st->buf);
	free(st);
}

/*
 * Opens the archive from its start.  The archive must still be the one the
 * index was built from: a changed archive would hand the wrong bytes to the
 * keys already listed.
 */
static int stream_open(struct mg_conn *conn, struct tar_stream **out)
{
	struct tar_conn *tc = conn->priv;
	struct tar_shared *sh = tc->sh;
	struct tar_stream *st;
	uint64_t size;
	int64_t mtime;
	char etag[80];
	int rc;

	*out = NULL;
	rc = archive_identity(conn, &size, &mtime, etag);
	if (rc != MG_OK)
		return rc;
	if (size != sh->arch_size ||
	    (etag[0] && sh->arch_etag[0] ? strcmp(etag, sh->arch_etag) != 0
					  : mtime != sh->arch_mtime))
		return mg_error_set(&conn->err, MG_FATAL, 0, 0, "open",
				    "archive '%s' changed while it was being read "
				    "(size or modification time differs): run again",
				    conn->ep->url);
	st = mg_calloc(1, sizeof(*st));
	st->conn = conn;
	st->a = archive_read_new();
	archive_read_support_filter_all(st->a);
	archive_read_support_format_all(st->a);
	if (!tc->remote) {
		rc = archive_read_open_filename(st->a, tc->path, 64 * 1024);
	} else {
		st->buf = mg_malloc(TAR_IO_BUF);
		archive_read_set_callback_data(st->a, st);
		archive_read_set_read_callback(st->a, remote_read);
		archive_read_set_skip_callback(st->a, remote_skip);
		if (tc->can_seek)
			archive_read_set_seek_callback(st->a, remote_seek);
		archive_read_set_close_callback(st->a, remote_close_cb);
		rc = archive_read_open1(st->a);
	}
	if (rc != ARCHIVE_OK) {
		/* a transport error keeps the inner connector's grade (a retry
		 * may help); anything else means the archive cannot be read */
		rc = st->io_status ? st->io_status : MG_FATAL;
		mg_error_set(&conn->err, rc, archive_errno(st->a), 0, "open",
			     "cannot read archive '%s': %s", conn->ep->url,
			     archive_error_string(st->a) ? archive_error_string(st->a)
							 : "unknown error");
		stream_free(st);
		return rc;
	}
	*out = st;
	return MG_OK;
}

/* libarchive's "not OK" that is not the end: RETRY is a damaged header
 * here, since nothing would make a second try read other bytes. */
static int arch_bad(int r)
{
	return r != ARCHIVE_OK && r != ARCHIVE_WARN && r != ARCHIVE_EOF;
}

static const char *arch_msg(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s ? s : "unknown error";
}

/* Bytes of the archive itself consumed so far (compressed). */
static uint64_t stream_raw_bytes(struct tar_stream *st)
{
	la_int64_t n = archive_filter_bytes(st->a, -1);

	return n > 0 ? (uint64_t)n : 0;
}

/* ---- building the index ---- */

static int item_cmp(const void *pa, const void *pb)
{
	const struct tar_item *a = *(struct tar_item *const *)pa;
	const struct tar_item *b = *(struct tar_item *const *)pb;
	int c = strcmp(a->key, b->key);

	if (c)
		return c;
	return (a->ord > b->ord) - (a->ord < b->ord);
}

/* A key to report an entry without a usable name by: "(entry N)". */
static char *unnamed_key(const char *prefix, long ord)
{
	struct mg_buf b = MG_BUF_INIT;

	mg_buf_addf(&b, "%s%s(entry %ld)", prefix ? prefix : "", prefix ? "/" : "",
		    ord + 1);
	return mg_buf_detach(&b);
}

/* Fills it from the header e. */
static void item_from_entry(struct tar_shared *sh, struct tar_item *it,
			    struct archive_entry *e, int format)
{
	const char *prefix = sh->prefix;
	const char *raw = entry_name(e);
	const char *why;
	char *esc;
	mode_t type = archive_entry_filetype(e);
	const char *hl = archive_entry_hardlink_utf8(e);

	if (!hl)
		hl = archive_entry_hardlink(e);
	it->data_ord = -1;
	it->rank = it->rank_lo = it->rank_hi = -1;
	it->heap_pos = -1;
	it->size = archive_entry_size_is_set(e) && archive_entry_size(e) > 0
		   ? (uint64_t)archive_entry_size(e) : 0;
	if (archive_entry_mtime_is_set(e))
		it->mtime_ns = mg_time_ns((int64_t)archive_entry_mtime(e),
					  archive_entry_mtime_nsec(e));
	it->encrypted = archive_entry_is_data_encrypted(e) > 0;
	it->sparse = archive_entry_sparse_count(e) > 0;
	if (!raw) {
		it->kind = TAR_ERROR;
		it->error = "the entry's name cannot be read";
		it->key = unnamed_key(prefix, it->ord);
		return;
	}
	it->name_hash = fnv1a(raw);
	if (type == AE_IFDIR) {
		it->kind = TAR_DIR;
		return;
	}
	esc = name_escape(raw);
	why = name_hostile(esc);
	if (why) {
		struct mg_buf b = MG_BUF_INIT;

		if (prefix && *prefix)
			mg_buf_addf(&b, "%s/", prefix);
		mg_buf_adds(&b, esc);
		it->key = mg_buf_detach(&b);
		it->kind = TAR_ERROR;
		it->error = why;
		free(esc);
		return;
	}
	it->key = name_normalize(esc, prefix);
	if (!*it->key) {
		it->kind = TAR_ERROR;
		it->error = "the entry has an empty name";
		free(it->key);
		it->key = *esc ? esc : unnamed_key(prefix, it->ord);
		if (!*esc)
			free(esc);
		return;
	}
	free(esc);
	it->mode = archive_entry_perm(e) & 07777;
	/* cpio's newc and crc formats keep a multiply-linked file's data with
	 * its last link only; libarchive names the first link in the later
	 * ones, so the first looks like an empty file until they come */
	it->multi = archive_entry_nlink(e) > 1 &&
		    (format == ARCHIVE_FORMAT_CPIO_SVR4_NOCRC ||
		     format == ARCHIVE_FORMAT_CPIO_SVR4_CRC);
	if (hl && (type == AE_IFREG || type == 0)) {
		/* A hard link.  Where its data is depends on the format
		 * (index_finish): with this entry when it has a size (cpio
		 * newc/crc: the last link; odc: every link; tar: rarely), else
		 * with another entry of its group. */
		char *t = name_escape(hl);

		it->kind = it->size ? TAR_FILE : TAR_HARDLINK;
		if (it->size)
			it->data_ord = it->ord;
		if (!name_hostile(t)) {
			it->link = name_normalize(t, prefix);
			it->hardlink = 1;
		} else if (!it->size) {
			it->kind = TAR_ERROR;
			it->error = "refused: a hard link to a name outside the archive's root";
		}
		free(t);
	} else if (type == AE_IFREG) {
		it->kind = TAR_FILE;
		it->data_ord = it->ord;
	} else if (type == AE_IFLNK) {
		const char *s = archive_entry_symlink_utf8(e);

		if (!s)
			s = archive_entry_symlink(e);
		it->kind = TAR_SYMLINK;
		it->link = name_escape(s ? s : "");
	} else {
		it->kind = TAR_SPECIAL;
	}
}

/* Last item with key and ord < before (-1: any ord), from the sorted
 * array of all keyed items. */
static struct tar_item *find_key(struct tar_item **v, long n, const char *key, long before)
{
	long lo = 0, hi = n;
	struct tar_item *best = NULL;

	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid]->key, key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && strcmp(v[lo]->key, key) == 0; lo++)
		if (before < 0 || v[lo]->ord < before)
			best = v[lo];
	return best;
}

/* Resolves a symlink inside the archive for `symlinks: follow`.  Returns
 * the regular file it ends at, or NULL (dangling, a loop, or outside). */
static struct tar_item *follow_symlink(struct tar_shared *sh, struct tar_item *it)
{
	struct mg_buf b = MG_BUF_INIT;
	struct tar_item *cur = it;
	int depth;

	for (depth = 0; depth < TAR_LINK_DEPTH; depth++) {
		const char *rel = cur->key + sh->plen;
		const char *slash = strrchr(rel, '/');
		const char *p, *c;
		struct tar_item *next;
		size_t root;

		if (cur->kind == TAR_FILE ||
		    (cur->kind == TAR_HARDLINK && cur->data_ord >= 0))
			break;
		if (cur->kind != TAR_SYMLINK || !cur->link || cur->link[0] == '/')
			goto fail;
		/* base folder of the link, then each component of the target */
		mg_buf_reset(&b);
		mg_buf_add(&b, cur->key, sh->plen);
		root = b.len;
		if (slash)
			mg_buf_add(&b, rel, (size_t)(slash - rel));
		for (c = cur->link;; c = p + 1) {
			p = strchrnul(c, '/');
			if (p - c == 2 && c[0] == '.' && c[1] == '.') {
				char *up;

				if (b.len == root)
					goto fail;	/* escapes the root */
				up = memrchr(b.buf + root, '/', b.len - root);
				b.len = up ? (size_t)(up - b.buf) : root;
				b.buf[b.len] = '\0';
			} else if (p > c && !(p - c == 1 && c[0] == '.')) {
				if (b.len > root)
					mg_buf_add(&b, "/", 1);
				mg_buf_add(&b, c, (size_t)(p - c));
			}
			if (!*p)
				break;
		}
		if (b.len == root)
			goto fail;
		next = find_key(sh->listing, sh->nlisted, b.buf, -1);
		if (!next)
			goto fail;
		cur = next;
	}
	if (depth == TAR_LINK_DEPTH)
		goto fail;
	mg_buf_release(&b);
	return cur;
fail:
	mg_buf_release(&b);
	return NULL;
}

static void index_finish(struct tar_shared *sh)
{
	struct tar_item **all;
	long nall = 0, i;

	all = mg_malloc(sizeof(*all) * (size_t)(sh->nitems + 1));
	for (i = 0; i < sh->nitems; i++)
		if (sh->items[i].key)
			all[nall++] = &sh->items[i];
	qsort(all, (size_t)nall, sizeof(*all), item_cmp);

	/*
	 * Hard links: every name of a hard-linked file must serve its whole
	 * content, but formats keep that content in different places.  tar
	 * (GNU, bsdtar, pax, 7-Zip) keeps it with the first entry and later
	 * ones name it with no data; cpio odc repeats it with every link; cpio
	 * newc and crc keep it with the last link only, the earlier ones have
	 * size 0 (libarchive names the first link in every later one).  This
	 * is what libarchive's archive_entry_linkify() sorts out for writers;
	 * for reading, the index does the same bookkeeping: entries that name
	 * each other form a group (in archive order, so a link to a link
	 * finds its group); an entry with data of its own serves it, one
	 * without serves the group's last entry with data, which is what
	 * `bsdtar -x` leaves in the shared file.  The cost is one ord per
	 * entry (group), no data: the group's data is read, or cached, once
	 * for all its names like any entry's (rank_lo..rank_hi below).
	 */
	for (i = 0; i < sh->nitems; i++) {
		struct tar_item *it = &sh->items[i], *t, *root;

		it->group = -1;
		if (it->kind != TAR_FILE && it->kind != TAR_HARDLINK)
			continue;
		it->group = it->ord;
		if (!it->hardlink)
			continue;
		t = find_key(all, nall, it->link, it->ord);
		if (!t || t->group < 0) {
			if (it->kind == TAR_HARDLINK) {
				it->kind = TAR_ERROR;
				it->group = -1;
				it->error = "hard link to an entry that is not an earlier "
					    "file in the archive";
			}
			continue;	/* with data: a file of its own */
		}
		root = t->group >= t->ord ? t : &sh->items[t->group];
		it->group = root->ord;
		if (it->kind == TAR_FILE && it->size > 0)
			root->group = it->ord;	/* the group's last data so far */
	}
	for (i = 0; i < sh->nitems; i++) {
		struct tar_item *it = &sh->items[i], *root, *d;

		if (it->group < 0 || (it->kind == TAR_FILE && it->size > 0))
			continue;
		root = it->group >= it->ord ? it : &sh->items[it->group];
		d = &sh->items[root->group];
		if (d->size == 0 && (it->multi || d->multi) && sh->list_err.status) {
			/* its data was to come with a later link */
			it->kind = TAR_ERROR;
			it->error = "hard-linked file whose data comes with a later "
				    "link, past the point where the archive is damaged";
			continue;
		}
		it->data_ord = d->ord;
		it->size = d->size;
		it->encrypted = d->encrypted;
	}

	/* one key, one object: the last entry of a name wins, as on extraction */
	sh->listing = all;
	sh->nlisted = 0;
	for (i = 0; i < nall; i++) {
		if (i + 1 < nall && strcmp(all[i]->key, all[i + 1]->key) == 0)
			continue;
		all[i]->rank = sh->nlisted;
		all[sh->nlisted++] = all[i];
	}

	for (i = 0; i < sh->nlisted; i++) {
		struct tar_item *it = sh->listing[i], *t;

		if (it->kind != TAR_SYMLINK)
			continue;
		if (tar_opts(sh->ep)->symlinks == MG_SYMLINKS_RECORD) {
			it->record = 1;
			it->size = strlen(it->link);
		} else if (tar_opts(sh->ep)->symlinks == MG_SYMLINKS_FOLLOW &&
			   (t = follow_symlink(sh, it)) != NULL) {
			it->kind = TAR_HARDLINK;
			it->data_ord = t->data_ord;
			it->mode = t->mode;	/* as stat() through a link */
			it->size = sh->items[t->data_ord].size;
			it->encrypted = sh->items[t->data_ord].encrypted;
		}
	}

	for (i = 0; i < sh->nlisted; i++) {
		struct tar_item *it = sh->listing[i], *d;

		if (it->data_ord < 0 || (it->kind != TAR_FILE && it->kind != TAR_HARDLINK))
			continue;
		d = &sh->items[it->data_ord];
		if (d->rank_lo < 0 || i < d->rank_lo)
			d->rank_lo = i;
		if (i > d->rank_hi)
			d->rank_hi = i;
	}

	/* the cache from the listing pass: keep what will be asked for */
	sh->heap = mg_malloc(sizeof(*sh->heap) * (size_t)(sh->nitems + 1));
	sh->victims = mg_malloc(sizeof(*sh->victims) * (size_t)(sh->nitems + 1));
	for (i = 0; i < sh->nitems; i++) {
		struct tar_item *d = &sh->items[i];

		if (!d->cached)
			continue;
		if (d->rank_lo < 0) {
			sh->cache_used -= d->size;
			free(d->cache);
			d->cache = NULL;
			d->cached = 0;
		} else {
			heap_push(sh, d);
		}
	}
}

/*
 * Reads the whole data of the current entry into a new buffer (entries of
 * at most TAR_CACHE_ITEM_MAX bytes).  Returns the buffer, or NULL with
 * *failed set when the archive broke.
 */
static unsigned char *read_small(struct tar_stream *st, uint64_t size, int sparse,
				 int *failed)
{
	unsigned char *buf = mg_malloc(size ? size : 1);
	uint64_t got = 0;
	la_ssize_t n;

	*failed = 0;
	st->fresh = 0;
	while (got < size) {
		n = archive_read_data(st->a, buf + got, size - got);
		if (n < 0) {
			*failed = 1;
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		got += (uint64_t)n;
	}
	/* a sparse file may end in a hole: libarchive stops at its last data */
	if (got < size && sparse) {
		memset(buf + got, 0, size - got);
		got = size;
	}
	if (got != size) {
		*failed = 1;
		free(buf);
		return NULL;
	}
	return buf;
}

/* Counts the data of an entry whose header has no size (streamed zip). */
static int count_data(struct tar_shared *sh, struct tar_stream *st, uint64_t *out)
{
	const void *blk;
	size_t len;
	la_int64_t off;
	uint64_t end = 0;
	int r;

	st->fresh = 0;
	while (!arch_bad(r = archive_read_data_block(st->a, &blk, &len, &off)) &&
	       r != ARCHIVE_EOF) {
		if ((uint64_t)off + len > end)
			end = (uint64_t)off + len;
		if (end > sh->max_entry)
			return 1;
	}
	*out = end;
	return r == ARCHIVE_EOF ? 0 : -1;
}

static void index_damaged(struct mg_conn *conn, struct tar_stream *st, long ord,
			  const char *name)
{
	struct tar_shared *sh = ((struct tar_conn *)conn->priv)->sh;

	if (st->io_status) {
		mg_error_set(&sh->list_err, MG_FAILED, 0, 0, "list",
			     "reading archive '%s' failed at entry %ld: %s",
			     conn->ep->url, ord + 1, arch_msg(st->a));
		return;
	}
	mg_error_set(&sh->list_err, MG_FAILED, archive_errno(st->a), 0, "list",
		     "archive '%s' is truncated or damaged at entry %ld%s%s%s "
		     "(offset %lld): %s",
		     conn->ep->url, ord + 1, name ? " '" : "", name ? name : "",
		     name ? "'" : "", (long long)archive_read_header_position(st->a),
		     arch_msg(st->a));
}

static int index_build(struct mg_conn *conn)
{
	struct tar_conn *tc = conn->priv;
	struct tar_shared *sh = tc->sh;
	struct tar_stream *st;
	struct archive_entry *e;
	long cap = 0;
	int rc, r;

	rc = stream_open(conn, &st);
	if (rc != MG_OK)
		return rc;
	mg_count_req(conn, MG_REQ_LIST);
	for (;;) {
		struct tar_item *it;

		r = archive_read_next_header(st->a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (arch_bad(r)) {
			if (sh->nitems == 0) {
				rc = mg_error_set(&conn->err, MG_FATAL, archive_errno(st->a),
						  0, "list", "cannot read archive '%s': %s",
						  conn->ep->url, arch_msg(st->a));
				goto out;
			}
			index_damaged(conn, st, sh->nitems, NULL);
			break;
		}
		if (sh->nitems == cap) {
			cap = cap ? cap * 2 : 256;
			sh->items = mg_realloc(sh->items, sizeof(*sh->items) * (size_t)cap);
		}
		it = &sh->items[sh->nitems];
		memset(it, 0, sizeof(*it));
		it->ord = sh->nitems;
		item_from_entry(sh, it, e, archive_format(st->a));
		st->fresh = 1;

		if (it->kind == TAR_FILE && !it->encrypted &&
		    !archive_entry_size_is_set(e)) {
			int c = count_data(sh, st, &it->size);

			if (c > 0) {
				it->kind = TAR_ERROR;
				it->error = "the entry is larger than max_entry_size";
				r = archive_read_data_skip(st->a);
			} else {
				r = c == 0 ? ARCHIVE_OK : ARCHIVE_FATAL;
			}
		} else if (it->kind == TAR_FILE && !it->encrypted &&
			   it->size <= TAR_CACHE_ITEM_MAX &&
			   sh->cache_used + it->size <= sh->cache_cap) {
			int failed;

			it->cache = read_small(st, it->size, it->sparse, &failed);
			if (!failed) {
				it->cached = 1;
				sh->cache_used += it->size;
				r = ARCHIVE_OK;
			} else {
				r = ARCHIVE_FATAL;
			}
		} else {
			r = archive_read_data_skip(st->a);
		}
		if (arch_bad(r)) {
			/* the entry's data is not all there: it is not listed */
			index_damaged(conn, st, it->ord, it->key ? it->key : entry_name(e));
			free(it->key);
			free(it->link);
			free(it->cache);
			it->cached = 0;
			break;
		}
		sh->nitems++;
	}
	index_finish(sh);
	rc = MG_OK;
out:
	stream_free(st);
	return rc;
}

/* Builds the index once per endpoint, on whichever conn needs it first. */
static int index_ensure(struct mg_conn *conn)
{
	struct tar_shared *sh = ((struct tar_conn *)conn->priv)->sh;
	locale_t old;
	int rc;

	pthread_mutex_lock(&sh->build_lock);
	if (!sh->built) {
		old = locale_enter();
		rc = index_build(conn);
		locale_leave(old);
		sh->built = 1;
		sh->build_status = rc;
		if (rc != MG_OK)
			mg_error_copy(&sh->build_err, &conn->err);
	} else if (sh->build_status != MG_OK) {
		mg_error_copy(&conn->err, &sh->build_err);
	}
	rc = sh->build_status;
	pthread_mutex_unlock(&sh->build_lock);
	return rc;
}

/* ---- open / close ---- */

static void shared_release(struct tar_shared *sh)
{
	long i;

	if (!sh)
		return;
	pthread_mutex_lock(&shared_lock);
	if (--sh->refs > 0) {
		pthread_mutex_unlock(&shared_lock);
		return;
	}
	for (struct tar_shared **p = &shared_list; *p; p = &(*p)->next)
		if (*p == sh) {
			*p = sh->next;
			break;
		}
	pthread_mutex_unlock(&shared_lock);
	for (i = 0; i < sh->npool; i++)
		stream_free(sh->pool[i]);
	for (i = 0; i < sh->nitems; i++) {
		free(sh->items[i].key);
		free(sh->items[i].link);
		free(sh->items[i].cache);
	}
	free(sh->items);
	free(sh->listing);
	free(sh->heap);
	free(sh->victims);
	free(sh->prefix);
	pthread_mutex_destroy(&sh->lock);
	pthread_mutex_destroy(&sh->pass_lock);
	pthread_mutex_destroy(&sh->build_lock);
	free(sh);
}

static struct tar_shared *shared_get(const struct mg_endpoint *ep, int *fresh)
{
	struct tar_shared *sh;

	pthread_mutex_lock(&shared_lock);
	for (sh = shared_list; sh; sh = sh->next)
		if (sh->ep == ep)
			break;
	*fresh = !sh;
	if (!sh) {
		sh = mg_calloc(1, sizeof(*sh));
		sh->ep = ep;
		pthread_mutex_init(&sh->lock, NULL);
		pthread_mutex_init(&sh->pass_lock, NULL);
		pthread_mutex_init(&sh->build_lock, NULL);
		const struct tar_options *o = tar_opts(ep);

		sh->max_entry = o->max_entry_size ? o->max_entry_size
						  : TAR_DEFAULT_MAX_ENTRY;
		sh->max_ratio = o->max_ratio ? (uint64_t)o->max_ratio
					     : TAR_DEFAULT_MAX_RATIO;
		if (o->prefix && *o->prefix) {
			sh->prefix = name_normalize(o->prefix, NULL);
			if (!*sh->prefix) {
				free(sh->prefix);
				sh->prefix = NULL;
			}
		}
		sh->plen = sh->prefix ? strlen(sh->prefix) + 1 : 0;
		sh->frontier = -1;
		sh->cache_cap = TAR_CACHE_CAP;
		if (getenv(TAR_CACHE_CAP_ENV)) {
			unsigned long long v = strtoull(getenv(TAR_CACHE_CAP_ENV), NULL, 10);

			if (v < TAR_CACHE_CAP)
				sh->cache_cap = v;
		}
		sh->next = shared_list;
		shared_list = sh;
	}
	sh->refs++;
	pthread_mutex_unlock(&shared_lock);
	return sh;
}

/*
 * tar+X: the archive is one object of the inner connector X, any with
 * ranged reads.  Its root is the archive's folder, its key the name: on a
 * file system (MG_CAP_FILES) the folder without its last '/' ("/" at the
 * top), in an object store the key prefix with it ("" at the top of the
 * bucket).
 */
static int open_inner(struct mg_conn *conn, struct tar_conn *tc)
{
	const struct mg_endpoint *ep = conn->ep, *in = ep->inner;
	const struct mg_connector *ops = in->ops;
	const char *path = in->path ? in->path : "";
	const char *slash = strrchr(path, '/');
	int files = (ops->caps & MG_CAP_FILES) != 0;
	int rc;

	if (!*path || path[strlen(path) - 1] == '/' || (!slash && files))
		return mg_error_set(&conn->err, MG_FATAL, 0, 0, "open",
				    "'%s' does not name an archive file: give its full path",
				    ep->url);
	tc->inner_key = mg_strdup(slash ? slash + 1 : path);
	if (!files)
		tc->inner_path = slash ? mg_strndup(path, (size_t)(slash - path) + 1)
				       : mg_strdup("");
	else
		tc->inner_path = slash == path ? mg_strdup("/")
					       : mg_strndup(path, (size_t)(slash - path));
	tc->inner_ep = *in;
	tc->inner_ep.path = tc->inner_path;
	tc->inner_ep.stall_timeout = ep->stall_timeout;
	rc = mg_conn_open(&tc->inner, ops, &tc->inner_ep, conn->counters, MG_OPEN_SOURCE);
	tc->inner_open = 1;
	if (rc != MG_OK) {
		mg_error_copy(&conn->err, &tc->inner.err);
		return mg_error_set(&conn->err, MG_FATAL, 0, 0, "open",
				    "cannot reach archive '%s'", ep->url);
	}
	tc->can_range = mg_conn_has(&tc->inner, MG_CAP_RANGE_READ);
	return MG_OK;
}

static int tar_open(struct mg_conn *conn, unsigned flags)
{
	const struct mg_endpoint *ep = conn->ep;
	struct tar_conn *tc;
	struct tar_shared *sh;
	uint64_t size;
	int64_t mtime;
	char etag[80];
	int fresh, rc;

	if (flags & MG_OPEN_TARGET)
		return mg_error_set(&conn->err, MG_FATAL, 0, 0, "open",
				    "'%s' is an archive: it can only be a source", ep->url);
	tc = mg_calloc(1, sizeof(*tc));
	conn->priv = tc;
	/* over a local file (tar://, the default inner) libarchive opens and
	 * seeks the file itself; anything else goes through its connector */
	if (ep->inner && strcmp(ep->inner->connector,
				TAR_WRAPS_DEFAULT) != 0) {
		tc->remote = 1;
		rc = open_inner(conn, tc);
		if (rc != MG_OK)
			return rc;
	} else {
		tc->path = ep->path;
		if (!tc->path || !*tc->path)
			return mg_error_set(&conn->err, MG_FATAL, 0, 0, "open",
					    "'%s' does not name an archive file", ep->url);
	}
	rc = archive_identity(conn, &size, &mtime, etag);
	if (rc != MG_OK)
		return rc;
	/* seeking needs the size (zip and 7z seek from the end) */
	tc->can_seek = tc->remote && tc->can_range && size > 0;
	sh = shared_get(ep, &fresh);
	tc->sh = sh;
	if (fresh) {
		sh->arch_size = size;
		sh->arch_mtime = mtime;
		memcpy(sh->arch_etag, etag, sizeof(etag));
	}
	return MG_OK;
}

static void tar_close(struct mg_conn *conn)
{
	struct tar_conn *tc = conn->priv;

	if (!tc)
		return;
	stream_free(tc->idle);
	if (tc->inner_open)
		mg_conn_close(&tc->inner);
	shared_release(tc->sh);
	free(tc->inner_path);
	free(tc->inner_key);
	free(tc);
	conn->priv = NULL;
}

/* ---- listing ---- */

struct mg_lister {
	struct mg_conn *conn;
	struct tar_shared *sh;
	long pos;
	int reported;
};

static int tar_list_open(struct mg_conn *conn, const char *start_after,
			 struct mg_lister **out)
{
	struct tar_conn *tc = conn->priv;
	struct tar_shared *sh = tc->sh;
	struct mg_lister *it;
	long lo = 0, hi;
	int rc;

	*out = NULL;
	rc = index_ensure(conn);
	if (rc != MG_OK)
		return rc;
	hi = sh->nlisted;
	if (start_after)
		while (lo < hi) {
			long mid = lo + (hi - lo) / 2;

			if (strcmp(sh->listing[mid]->key, start_after) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	it = mg_calloc(1, sizeof(*it));
	it->conn = conn;
	it->sh = sh;
	it->pos = lo;
	*out = it;
	return MG_OK;
}

static int tar_list_next(struct mg_lister *lt, struct mg_entry *out)
{
	struct tar_shared *sh = lt->sh;
	struct tar_item *it;

	if (lt->pos >= sh->nlisted) {
		if (sh->list_err.status) {
			mg_error_copy(&lt->conn->err, &sh->list_err);
			return sh->list_err.status;
		}
		return MG_DONE;
	}
	it = sh->listing[lt->pos++];
	memset(out, 0, sizeof(*out));
	out->key = it->key;
	out->size = it->size;
	out->mtime_ns = it->mtime_ns;
	switch (it->kind) {
	case TAR_FILE:
	case TAR_HARDLINK:
		out->kind = MG_ENTRY_FILE;
		out->mode = it->mode;
		break;
	case TAR_SYMLINK:
		out->kind = it->record ? MG_ENTRY_FILE : MG_ENTRY_SYMLINK;
		out->size = it->record ? it->size : 0;
		out->link_target = it->link;
		break;
	case TAR_SPECIAL:
		out->kind = MG_ENTRY_SPECIAL;
		out->size = 0;
		break;
	default:
		out->kind = MG_ENTRY_ERROR;
		out->size = 0;
		out->error = it->error;
		break;
	}
	return MG_OK;
}

static void tar_list_close(struct mg_lister *it)
{
	free(it);
}

/* ---- reading ---- */

struct mg_reader {
	struct mg_conn *conn;
	const char *key;		/* the listed item's key */
	uint64_t size;			/* of the entry */
	uint64_t want;			/* bytes to deliver: min(length, size) */
	uint64_t length;		/* as asked, UINT64_MAX: to the end */
	uint64_t pos;
	/* from memory (cache, or a recorded symlink) */
	const unsigned char *mem;
	unsigned char *owned;
	/* from the archive */
	struct tar_stream *st;
	struct tar_item *data;
	const unsigned char *blk;
	size_t blk_len;
	uint64_t blk_off;
	uint64_t data_bytes;		/* non-hole bytes seen */
	uint64_t raw_start;
	int eof;
	int failed;
	int64_t found_ns, busy_ns;	/* latency.h MG_LAT_ARCHIVE_READ */
};

static int stream_usable(const struct tar_stream *st, long ord)
{
	return !st->broken && (st->next_ord - 1 < ord ||
			       (st->next_ord - 1 == ord && st->fresh));
}

/* The idle stream furthest along that has not passed entry ord, or NULL. */
static struct tar_stream *stream_take(struct tar_conn *tc, long ord)
{
	struct tar_shared *sh = tc->sh;
	struct tar_stream *st = NULL;
	int i, best = -1;

	if (tc->remote) {
		st = tc->idle;
		tc->idle = NULL;
		if (st && !stream_usable(st, ord)) {
			stream_free(st);
			st = NULL;
		}
		return st;
	}
	pthread_mutex_lock(&sh->lock);
	for (i = 0; i < sh->npool; i++)
		if (stream_usable(sh->pool[i], ord) &&
		    (best < 0 || sh->pool[i]->next_ord > sh->pool[best]->next_ord))
			best = i;
	if (best >= 0) {
		st = sh->pool[best];
		sh->pool[best] = sh->pool[--sh->npool];
	}
	pthread_mutex_unlock(&sh->lock);
	return st;
}

/* Keeps a stream for later reads (takes ownership). */
static void stream_give(struct tar_conn *tc, struct tar_stream *st)
{
	struct tar_shared *sh = tc->sh;
	struct tar_stream *drop = NULL;
	int i, old = 0;

	if (st->broken) {
		stream_free(st);
		return;
	}
	if (tc->remote) {
		stream_free(tc->idle);
		tc->idle = st;
		return;
	}
	pthread_mutex_lock(&sh->lock);
	st->last_used = ++sh->tick;
	if (sh->npool < TAR_POOL_MAX) {
		sh->pool[sh->npool++] = st;
	} else {
		for (i = 1; i < sh->npool; i++)
			if (sh->pool[i]->last_used < sh->pool[old]->last_used)
				old = i;
		drop = sh->pool[old];
		sh->pool[old] = st;
	}
	pthread_mutex_unlock(&sh->lock);
	stream_free(drop);
}

static struct tar_item *listed_find(struct tar_shared *sh, const char *key)
{
	long lo = 0, hi = sh->nlisted;

	while (lo < hi) {
		long mid = lo + (hi - lo) / 2;
		int c = strcmp(sh->listing[mid]->key, key);

		if (!c)
			return sh->listing[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Moves st to the header of entry `target`, keeping on the way the small
 * entries the engine will ask for later.
 */
static int stream_advance(struct mg_conn *conn, struct tar_stream *st, long target)
{
	struct tar_shared *sh = ((struct tar_conn *)conn->priv)->sh;
	struct archive_entry *e;
	int r;

	while (st->next_ord <= target) {
		struct tar_item *it = &sh->items[st->next_ord];
		const char *raw;
		int keep;

		r = archive_read_next_header(st->a, &e);
		if (arch_bad(r) || r == ARCHIVE_EOF) {
			st->broken = 1;
			return mg_error_set(&conn->err,
					    st->io_status ? st->io_status : MG_FAILED,
					    archive_errno(st->a), 0, "read",
					    "archive '%s' could not be read again up to "
					    "entry %ld: %s", conn->ep->url, target + 1,
					    r == ARCHIVE_EOF ? "it ended early"
							     : arch_msg(st->a));
		}
		raw = entry_name(e);
		if (!raw || fnv1a(raw) != it->name_hash) {
			st->broken = 1;
			return mg_error_set(&conn->err, MG_FATAL, 0, 0, "read",
					    "archive '%s' changed while it was being read "
					    "(entry %ld differs): run again", conn->ep->url,
					    st->next_ord + 1);
		}
		st->next_ord++;
		st->fresh = 1;
		if (st->next_ord - 1 == target)
			break;
		pthread_mutex_lock(&sh->lock);
		keep = cache_reserve(sh, it);
		pthread_mutex_unlock(&sh->lock);
		if (keep) {
			int failed;
			unsigned char *buf = read_small(st, it->size, it->sparse, &failed);

			pthread_mutex_lock(&sh->lock);
			cache_fill(sh, it, buf, !failed);
			pthread_mutex_unlock(&sh->lock);
			if (failed) {
				st->broken = 1;
				return mg_error_set(&conn->err, MG_FAILED,
						    archive_errno(st->a), 0, "read",
						    "archive '%s' is damaged at entry %ld: %s",
						    conn->ep->url, it->ord + 1, arch_msg(st->a));
			}
		}
	}
	return MG_OK;
}

/* Serves d from the cache into r if it is there (taking the bytes when no
 * later key reads them).  Returns 1 if it did. */
static int cache_take(struct tar_shared *sh, struct tar_item *it,
		      struct tar_item *d, struct mg_reader *r)
{
	pthread_mutex_lock(&sh->lock);
	if (!d->cached) {
		pthread_mutex_unlock(&sh->lock);
		return 0;
	}
	if (d->rank_hi <= it->rank) {
		r->owned = d->cache;
		d->cache = NULL;
		heap_remove(sh, d);
		sh->cache_used -= d->size;
		d->cached = 0;
	} else {
		r->owned = mg_malloc(d->size ? d->size : 1);
		memcpy(r->owned, d->cache, d->size);
		if (d->rank_lo <= it->rank) {
			/* its next reader is the last alias */
			d->rank_lo = d->rank_hi;
			heap_up(sh, d->heap_pos);
		}
	}
	pthread_mutex_unlock(&sh->lock);
	r->mem = r->owned ? r->owned : (const unsigned char *)"";
	return 1;
}

static int entry_open(struct mg_conn *conn, const char *key, uint64_t offset,
		      uint64_t length, struct mg_reader **out);

/* Issue 16.1: an entry's read is timed from here (finding it: its first
 * byte) through its blocks to its close, the engine's time left out. */
static int tar_read_open(struct mg_conn *conn, const char *key, uint64_t offset,
			 uint64_t length, struct mg_reader **out)
{
	int64_t t0 = mg_mono_ns();
	int rc = entry_open(conn, key, offset, length, out);

	if (*out)
		(*out)->found_ns = (*out)->busy_ns = mg_mono_ns() - t0;
	return rc;
}

static int entry_open(struct mg_conn *conn, const char *key, uint64_t offset,
		      uint64_t length, struct mg_reader **out)
{
	struct tar_conn *tc = conn->priv;
	struct tar_shared *sh = tc->sh;
	struct tar_item *it, *d;
	struct tar_stream *st;
	struct mg_reader *r;
	locale_t old;
	int rc, fresh_pass = 0;

	*out = NULL;
	if (offset)
		return mg_error_set(&conn->err, MG_FAILED, 0, 0, "read",
				    "archive entries are read from their start ('%s')", key);
	rc = index_ensure(conn);
	if (rc != MG_OK)
		return rc;
	it = listed_find(sh, key);
	if (!it)
		return mg_error_set(&conn->err, MG_FAILED, 0, 0, "read",
				    "entry '%s' is not in archive '%s'", key, conn->ep->url);
	mg_count_req(conn, MG_REQ_GET);
	r = mg_calloc(1, sizeof(*r));
	r->conn = conn;
	r->key = it->key;
	r->length = length;
	if (it->kind == TAR_SYMLINK && it->record) {
		r->mem = (const unsigned char *)it->link;
		r->size = it->size;
		r->want = length < r->size ? length : r->size;
		*out = r;
		return MG_OK;
	}
	if ((it->kind != TAR_FILE && it->kind != TAR_HARDLINK) || it->data_ord < 0) {
		free(r);
		return mg_error_set(&conn->err, MG_FAILED, 0, 0, "read",
				    "entry '%s' is not a regular file in archive '%s'",
				    key, conn->ep->url);
	}
	d = &sh->items[it->data_ord];
	r->data = d;
	r->size = d->size;
	r->want = length < r->size ? length : r->size;
	if (d->encrypted) {
		free(r);
		return mg_error_set(&conn->err, MG_FAILED, 0, 0, "read",
				    "entry '%s' is encrypted: migrate cannot decrypt "
				    "archive entries; extract it with the password", key);
	}
	if (d->size > sh->max_entry) {
		free(r);
		return mg_error_set(&conn->err, MG_FAILED, 0, 0, "read",
				    "entry '%s' is larger than max_entry_size (%llu bytes "
				    "> %llu): raise max_entry_size in the plan if the "
				    "archive is trusted", key, (unsigned long long)d->size,
				    (unsigned long long)sh->max_entry);
	}

	pthread_mutex_lock(&sh->lock);
	cache_advance(sh, it->rank);
	/* a reader passing it later must not keep it for nobody */
	if (it->rank >= d->rank_hi)
		d->served = 1;
	pthread_mutex_unlock(&sh->lock);

	/*
	 * From the cache, else from an idle stream that has not passed the
	 * entry, else from the archive's start.  Passes from the start go one
	 * at a time: workers asking at once for entries behind every stream
	 * would each decompress the same bytes, where one pass keeps the
	 * others' entries on its way; so the second asks the cache again.
	 */
	for (;;) {
		if (cache_take(sh, it, d, r)) {
			if (fresh_pass)
				pthread_mutex_unlock(&sh->pass_lock);
			*out = r;
			return MG_OK;
		}
		st = stream_take(tc, d->ord);
		if (st || fresh_pass)
			break;
		pthread_mutex_lock(&sh->pass_lock);
		fresh_pass = 1;
	}
	old = locale_enter();
	rc = st ? MG_OK : stream_open(conn, &st);
	if (rc == MG_OK && st->next_ord - 1 != d->ord)
		rc = stream_advance(conn, st, d->ord);
	locale_leave(old);
	if (fresh_pass)
		pthread_mutex_unlock(&sh->pass_lock);
	if (rc != MG_OK) {
		stream_free(st);
		free(r);
		return rc;
	}
	st->fresh = 0;
	r->st = st;
	r->raw_start = stream_raw_bytes(st);
	*out = r;
	return MG_OK;
}

static int reader_fail(struct mg_reader *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fails this read (and only this entry); the stream is not reused. */
static int reader_fail(struct mg_reader *r, int status, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->failed = 1;
	if (r->st)
		r->st->broken = 1;
	return mg_error_set(&r->conn->err, status, 0, 0, "read", "%s", msg);
}

/* Next data block from the archive, with the bomb checks. */
static int reader_block(struct mg_reader *r)
{
	struct tar_shared *sh = ((struct tar_conn *)r->conn->priv)->sh;
	const void *blk;
	size_t len;
	la_int64_t off;
	int rc;

	rc = archive_read_data_block(r->st->a, &blk, &len, &off);
	if (rc == ARCHIVE_EOF) {
		r->eof = 1;
		r->blk_len = 0;
		return MG_OK;
	}
	if (arch_bad(rc) && r->st->io_status)
		return reader_fail(r, r->st->io_status, "entry '%s' cannot be read: %s",
				   r->key, arch_msg(r->st->a));
	if (arch_bad(rc))
		return reader_fail(r, MG_FAILED, "entry '%s' cannot be read: %s "
				   "(the archive is truncated or damaged)", r->key,
				   arch_msg(r->st->a));
	r->blk = blk;
	r->blk_len = len;
	r->blk_off = (uint64_t)off;
	r->data_bytes += len;
	if (r->blk_off + len > r->size)
		return reader_fail(r, MG_FAILED, "entry '%s' holds more data than "
				   "its header says (%llu bytes): stopped, the archive "
				   "is damaged or hostile", r->key,
				   (unsigned long long)r->size);
	if (r->data_bytes > TAR_RATIO_GRACE &&
	    r->data_bytes / sh->max_ratio > stream_raw_bytes(r->st) - r->raw_start)
		return reader_fail(r, MG_FAILED, "entry '%s' expands more than "
				   "%llu:1 over the archive bytes it comes from: stopped "
				   "as a likely decompression bomb (raise max_ratio in "
				   "the plan if the archive is trusted)", r->key,
				   (unsigned long long)sh->max_ratio);
	return MG_OK;
}

static int entry_read(struct mg_reader *r, void *buf, size_t len, size_t *got);

static int tar_read(struct mg_reader *r, void *buf, size_t len, size_t *got)
{
	int64_t t0 = mg_mono_ns();
	int rc = entry_read(r, buf, len, got);

	r->busy_ns += mg_mono_ns() - t0;
	return rc;
}

static int entry_read(struct mg_reader *r, void *buf, size_t len, size_t *got)
{
	unsigned char *out = buf;
	size_t n = 0;
	int rc;

	*got = 0;
	if (r->failed)
		return r->conn->err.status ? r->conn->err.status : MG_FAILED;
	if (r->want - r->pos < len)
		len = (size_t)(r->want - r->pos);
	if (r->mem) {
		memcpy(out, r->mem + r->pos, len);
		r->pos += len;
		*got = len;
		goto check_end;
	}
	while (n < len) {
		uint64_t take;

		if (r->blk_len == 0 || r->pos >= r->blk_off + r->blk_len) {
			if (r->eof)
				break;
			rc = reader_block(r);
			if (rc != MG_OK)
				return rc;
			continue;
		}
		if (r->pos < r->blk_off) {	/* a hole of a sparse file */
			take = r->blk_off - r->pos;
			if (take > len - n)
				take = len - n;
			memset(out + n, 0, take);
		} else {
			take = r->blk_off + r->blk_len - r->pos;
			if (take > len - n)
				take = len - n;
			memcpy(out + n, r->blk + (r->pos - r->blk_off), take);
		}
		n += take;
		r->pos += take;
	}
	/* a sparse file may end in a hole: libarchive stops at the last data */
	if (n < len && r->eof && r->data->sparse) {
		memset(out + n, 0, len - n);
		r->pos += len - n;
		n = len;
	}
	*got = n;
	if (n == 0 && r->pos < r->want)
		return reader_fail(r, MG_FAILED, "entry '%s' is truncated: the archive ends "
				   "after %llu of its %llu bytes", r->key,
				   (unsigned long long)r->pos, (unsigned long long)r->size);
check_end:
	if (!((struct tar_conn *)r->conn->priv)->remote)
		mg_count_read(r->conn, *got);
	if (*got == 0 && r->length != UINT64_MAX && r->length > r->size) {
		r->failed = 1;
		return mg_error_set(&r->conn->err, MG_FAILED, 0, 0, "read",
				    "entry '%s' is truncated: %llu bytes asked, it has %llu",
				    r->key, (unsigned long long)r->length,
				    (unsigned long long)r->size);
	}
	return MG_OK;
}

static void tar_read_close(struct mg_reader *r)
{
	struct tar_conn *tc;

	if (!r)
		return;
	mg_count_time(r->conn, MG_LAT_ARCHIVE_READ, r->busy_ns, r->found_ns);
	tc = r->conn->priv;
	if (r->st)
		stream_give(tc, r->st);
	free(r->owned);
	free(r);
}

const struct mg_connector mg_connector_tar = {
	.version = MG_CONNECTOR_VERSION,
	.scheme = "tar",
	.caps = MG_CAP_SOURCE | MG_CAP_ARCHIVE,
	.open = tar_open,
	.close = tar_close,
	.list_open = tar_list_open,
	.list_next = tar_list_next,
	.list_close = tar_list_close,
	.read_open = tar_read_open,
	.read = tar_read,
	.read_close = tar_read_close,
	/* urls: the inner connector's parser and identity */
	.options = tar_keys,
	.noptions = sizeof(tar_keys) / sizeof(tar_keys[0]),
	.options_size = sizeof(struct tar_options),
	.wraps_default = TAR_WRAPS_DEFAULT,
};
