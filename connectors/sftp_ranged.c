/*
 * sftp_ranged.c - one large read over several connections at once
 * (sftp_ranged.h).  libssh2 1.10 decrypts on the thread that reads; one
 * connection per thread puts that work on every core.
 *
 * Chunk k goes to ring slot k % RANGED_SLOTS(n); a thread claims the next
 * chunk only while its slot is free (k < the chunk being consumed + the
 * ring's size), so memory is bounded whatever the speed of the consumer.
 * Each chunk is its own ranged read (open, read, close) on the thread's
 * connection: a file cut short meanwhile ends a range early, and that is
 * MG_FAILED ("truncated") from the connector itself.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "connector.h"
#include "sftp_ranged.h"

/* 4 MiB: twice the SFTP read window, so each chunk keeps libssh2's
 * requests in flight for a while; two slots per thread. */
#define RANGED_CHUNK	((size_t)4 << 20)
#define RANGED_SLOTS(n)	((n) * 2u)

struct ranged_slot {
	char *buf;
	size_t len;
	uint64_t idx;
	int ready;
};

struct ranged_worker {
	struct mg_ranged *r;
	struct mg_conn c;
	int opened;
	int started;
	pthread_t t;
};

struct mg_ranged {
	struct mg_conn *conn;
	unsigned flags;
	char *key;
	uint64_t base, end, nchunks;
	unsigned nslots, nworkers;
	struct ranged_slot *slots;
	struct ranged_worker *w;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t next;		/* next chunk to claim */
	uint64_t cur;		/* chunk being consumed */
	size_t off;		/* bytes of cur already handed out */
	int stop;
	int status;		/* first error's grade, MG_OK while none */
	struct mg_error err;
};

/* Reads chunk k into buf on the worker's own connection. */
static int ranged_fetch(struct ranged_worker *w, uint64_t k, char *buf, size_t *len)
{
	struct mg_ranged *r = w->r;
	uint64_t off = r->base + k * RANGED_CHUNK;
	size_t want = r->end - off < RANGED_CHUNK ? (size_t)(r->end - off) : RANGED_CHUNK;
	struct mg_reader *rd = NULL;
	size_t got = 0, n;
	int rc;

	if (!w->opened) {
		rc = mg_conn_open(&w->c, r->conn->ops, r->conn->ep, r->conn->counters,
				  r->flags);
		w->opened = 1;
		w->c.abandoned = r->conn->abandoned;
		if (rc != MG_OK)
			return rc;
	}
	mg_error_clear(&w->c.err);
	rc = mg_read_open(&w->c, r->key, off, want, &rd);
	while (rc == MG_OK && got < want) {
		if (mg_conn_stopping(r->conn)) {
			rc = mg_error_set(&w->c.err, MG_FATAL, 0, 0, "read",
					  "reading '%s' stopped", r->key);
			break;
		}
		rc = mg_read(&w->c, rd, buf + got, want - got, &n);
		if (rc == MG_OK && n == 0)
			rc = mg_error_set(&w->c.err, MG_FAILED, 0, 0, "read",
					  "'%s' ended at byte %llu, short of its %llu bytes; "
					  "it changed while it was read and will be copied again",
					  r->key, (unsigned long long)(off + got),
					  (unsigned long long)r->end);
		got += n;
	}
	mg_read_close(&w->c, rd);
	*len = got;
	return rc;
}

static void *ranged_thread(void *arg)
{
	struct ranged_worker *w = arg;
	struct mg_ranged *r = w->r;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct ranged_slot *sl;
		uint64_t k;
		size_t len = 0;
		int rc;

		while (!r->stop && r->next < r->nchunks && r->next >= r->cur + r->nslots)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stop || r->next >= r->nchunks)
			break;
		k = r->next++;
		sl = &r->slots[k % r->nslots];
		pthread_mutex_unlock(&r->mu);
		rc = ranged_fetch(w, k, sl->buf, &len);
		pthread_mutex_lock(&r->mu);
		if (rc != MG_OK) {
			if (r->status == MG_OK) {
				r->status = rc;
				mg_error_copy(&r->err, &w->c.err);
				if (!r->err.msg[0])
					mg_error_set(&r->err, rc, 0, 0, "read",
						     "reading '%s' failed", r->key);
			}
			r->stop = 1;
			pthread_cond_broadcast(&r->cv);
			break;
		}
		sl->len = len;
		sl->idx = k;
		sl->ready = 1;
		pthread_cond_broadcast(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int mg_ranged_open(struct mg_conn *conn, unsigned flags, const char *key,
		   uint64_t off, uint64_t len, unsigned n, struct mg_ranged **out)
{
	struct mg_ranged *r = mg_calloc(1, sizeof(*r));

	*out = NULL;
	r->conn = conn;
	r->flags = flags;
	r->key = mg_strdup(key);
	r->base = off;
	r->end = off + len;
	r->nchunks = (len + RANGED_CHUNK - 1) / RANGED_CHUNK;
	if (n > r->nchunks)
		n = (unsigned)r->nchunks;
	r->nworkers = n;
	r->nslots = RANGED_SLOTS(n);
	r->slots = mg_calloc(r->nslots, sizeof(*r->slots));
	for (unsigned i = 0; i < r->nslots; i++)
		r->slots[i].buf = mg_malloc(RANGED_CHUNK);
	r->w = mg_calloc(n, sizeof(*r->w));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	for (unsigned i = 0; i < n; i++) {
		r->w[i].r = r;
		if (pthread_create(&r->w[i].t, NULL, ranged_thread, &r->w[i]) != 0) {
			mg_error_set(&conn->err, MG_RETRY, 0, 0, "read",
				     "cannot start a thread to read '%s'", key);
			mg_ranged_close(r);
			return MG_RETRY;
		}
		r->w[i].started = 1;
	}
	*out = r;
	return MG_OK;
}

int mg_ranged_read(struct mg_ranged *r, void *buf, size_t len, size_t *got)
{
	struct ranged_slot *sl;

	*got = 0;
	pthread_mutex_lock(&r->mu);
	if (r->cur >= r->nchunks && r->status == MG_OK) {
		pthread_mutex_unlock(&r->mu);
		return MG_OK;
	}
	sl = &r->slots[r->cur % r->nslots];
	while (r->status == MG_OK && !(sl->ready && sl->idx == r->cur))
		pthread_cond_wait(&r->cv, &r->mu);
	if (r->status != MG_OK) {
		int rc = r->status;

		mg_error_copy(&r->conn->err, &r->err);
		pthread_mutex_unlock(&r->mu);
		return rc;
	}
	pthread_mutex_unlock(&r->mu);
	/* the slot is the caller's until cur moves on */
	*got = sl->len - r->off < len ? sl->len - r->off : len;
	memcpy(buf, sl->buf + r->off, *got);
	r->off += *got;
	if (r->off == sl->len) {
		pthread_mutex_lock(&r->mu);
		sl->ready = 0;
		r->cur++;
		r->off = 0;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	return MG_OK;
}

void mg_ranged_close(struct mg_ranged *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	for (unsigned i = 0; i < r->nworkers; i++) {
		if (r->w[i].started)
			pthread_join(r->w[i].t, NULL);
		if (r->w[i].opened)
			mg_conn_close(&r->w[i].c);
	}
	for (unsigned i = 0; i < r->nslots; i++)
		free(r->slots[i].buf);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	free(r->slots);
	free(r->w);
	free(r->key);
	free(r);
}
