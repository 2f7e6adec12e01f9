/*
 * s3_multi.c - one S3 request driven through a curl multi handle by
 * socket events (curl_multi_socket_action), in place of curl_easy_perform.
 *
 * Why (docs/BENCHMARKS.md, "Fourth session"): curl_easy_perform runs its
 * own multi handle through curl_multi_poll, which for one small request on
 * a reused connection costs five poll(2) calls: a zero-timeout poll of the
 * multi's wakeup socketpair before anything else, curl's liveness check
 * of the kept connection, a zero-timeout readiness check after the send,
 * the real wait (the socket and the wakeup pair), and another readiness
 * check before the answer is read.  Told by the socket callback which
 * descriptor to wait on and how long, this loop waits itself and tells
 * curl what became ready (CURL_CSELECT_*), so curl skips its own readiness
 * checks: three polls per request (liveness, after-send, the wait) and no
 * wakeup socketpair.
 *
 * The multi handle keeps the conn's connections, DNS and TLS sessions
 * between requests (curl keeps them in the multi's cache when the easy
 * handle is removed), so reuse is as with the easy interface.  The loop
 * wakes at least once a second to run every transfer (curl_multi_perform):
 * the progress callback (a stopping run, the attempt's deadline) and the
 * low-speed check keep the pace they had under curl_easy_perform.
 *
 * One conn, one thread (engine/connector.h): no locking.
 */
#define MG_S3_INTERNAL 1
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "s3_private.h"

/* happy eyeballs opens two per transfer, curl's resolver one; a batch
 * (s3_loop_run) has up to S3_BATCH_MAX transfers at once */
#define LOOP_MAX_SOCKS	(2 * S3_BATCH_MAX + 8)
#define LOOP_TICK_MS	1000	/* what curl_easy_perform waits at most */

struct s3_loop {
	CURLM *multi;
	struct pollfd fds[LOOP_MAX_SOCKS];
	int nfds;
	long timer_ms;		/* curl's timer: -1 none, else ms from when set */
	int64_t timer_at_ns;	/* when it was set */
	int overflow;		/* more sockets than fds[]: fall back to ticks */
	int adding;		/* transfers in the multi, not yet reported done */
	CURL *added[S3_BATCH_MAX];	/* which they are */
};

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *sockp)
{
	struct s3_loop *l = arg;
	int i;

	(void)easy;
	(void)sockp;
	for (i = 0; i < l->nfds && l->fds[i].fd != fd; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < l->nfds)
			l->fds[i] = l->fds[--l->nfds];
		return 0;
	}
	if (i == l->nfds) {
		if (l->nfds == LOOP_MAX_SOCKS) {
			l->overflow = 1;
			return 0;
		}
		l->nfds++;
	}
	l->fds[i].fd = fd;
	l->fds[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
				   ((what & CURL_POLL_OUT) ? POLLOUT : 0));
	l->fds[i].revents = 0;
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct s3_loop *l = arg;

	(void)multi;
	l->timer_ms = timeout_ms;
	l->timer_at_ns = mg_mono_ns();
	return 0;
}

struct s3_loop *s3_loop_new(void)
{
	struct s3_loop *l = mg_calloc(1, sizeof(*l));

	l->timer_ms = -1;
	l->multi = curl_multi_init();
	if (!l->multi) {
		free(l);
		return NULL;
	}
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	/* one transfer at a time: keep a few idle connections, as the easy
	 * interface's own cache did */
	curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 4L);
	return l;
}

void s3_loop_free(struct s3_loop *l)
{
	if (!l)
		return;
	curl_multi_cleanup(l->multi);	/* closes the kept connections */
	free(l);
}

/* One transfer ended: out of the multi, and told. */
static void loop_done(struct s3_loop *l, CURLMsg *msg,
		      void (*done)(void *arg, void *easy, int result), void *arg)
{
	CURL *easy = msg->easy_handle;
	int cc = (int)msg->data.result;

	if (msg->msg != CURLMSG_DONE)
		return;
	curl_multi_remove_handle(l->multi, easy);
	for (int i = 0; i < l->adding; i++)
		if (l->added[i] == easy) {
			l->added[i] = l->added[--l->adding];
			break;
		}
	done(arg, easy, cc);
}

/* ms until curl's timer fires (0: now), capped at LOOP_TICK_MS */
static int timer_left(const struct s3_loop *l)
{
	int64_t left;

	if (l->timer_ms < 0)
		return LOOP_TICK_MS;
	left = l->timer_ms - (mg_mono_ns() - l->timer_at_ns) / 1000000;
	if (left <= 0)
		return 0;
	return left > LOOP_TICK_MS ? LOOP_TICK_MS : (int)left;
}

/* Keeps n idle connections in the multi's cache (a batch reuses one per
 * transfer it runs at once), never fewer than the single transfer's 4. */
void s3_loop_keep(struct s3_loop *l, long n)
{
	curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, n > 4 ? n : 4L);
}

int s3_loop_add(struct s3_loop *l, void *easy)
{
	CURLMcode mc;

	if (l->adding == S3_BATCH_MAX)
		return (int)CURLE_FAILED_INIT;	/* the caller's bug */
	mc = curl_multi_add_handle(l->multi, easy);
	if (mc == CURLM_OK)
		l->added[l->adding++] = easy;
	return mc == CURLM_OK ? (int)CURLE_OK :
	       mc == CURLM_OUT_OF_MEMORY ? (int)CURLE_OUT_OF_MEMORY : (int)CURLE_FAILED_INIT;
}

/*
 * Drives every transfer added since the last run to its end, on one
 * poll(2) over all their sockets, and calls done(arg, easy, result) for
 * each as it ends (the handle is out of the multi by then).  With one
 * transfer it makes the same system calls as curl_easy_perform's three
 * polls (see above); with many, one wakeup serves every socket that
 * became ready together.  A transfer that curl never reported done
 * (the multi failed) ends with CURLE_RECV_ERROR, or CURLE_OUT_OF_MEMORY.
 */
void s3_loop_run(struct s3_loop *l, void (*done)(void *arg, void *easy, int result),
		 void *arg)
{
	CURLMcode mc;
	CURLMsg *msg;
	int running = 1, left;

	l->nfds = 0;
	l->overflow = 0;
	l->timer_ms = -1;
	if (!l->adding)
		return;
	/* adding set a timer of 0: start the transfers now */
	mc = curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	while (mc == CURLM_OK && running) {
		int wait = timer_left(l), n;

		while ((msg = curl_multi_info_read(l->multi, &left)))
			loop_done(l, msg, done, arg);
		if (wait > 0 && l->overflow) {
			/* sockets curl could not tell us all of: wait as the
			 * easy interface does */
			mc = curl_multi_poll(l->multi, NULL, 0, wait, NULL);
			if (mc == CURLM_OK)
				mc = curl_multi_perform(l->multi, &running);
			continue;
		}
		n = wait > 0 ? poll(l->fds, (nfds_t)l->nfds, wait) : 0;
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0) {
			/* curl's timer (it runs the low-speed check, and with
			 * it the progress callback, every second of a transfer),
			 * or a quiet second */
			if (timer_left(l) == 0)
				l->timer_ms = -1;
			mc = curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0,
						      &running);
			continue;
		}
		/* what became ready; curl's callback may reorder fds[] */
		for (;;) {
			int i, bits = 0;
			struct pollfd p;

			for (i = 0; i < l->nfds && !l->fds[i].revents; i++)
				;
			if (i == l->nfds || mc != CURLM_OK)
				break;
			p = l->fds[i];
			l->fds[i].revents = 0;
			if (p.revents & (POLLIN | POLLHUP))
				bits |= CURL_CSELECT_IN;
			if (p.revents & POLLOUT)
				bits |= CURL_CSELECT_OUT;
			if (p.revents & (POLLERR | POLLNVAL))
				bits |= CURL_CSELECT_ERR;
			mc = curl_multi_socket_action(l->multi, p.fd, bits, &running);
		}
	}
	while ((msg = curl_multi_info_read(l->multi, &left)))
		loop_done(l, msg, done, arg);
	/* the multi failed, or a transfer is neither running nor done */
	while (l->adding) {
		CURL *easy = l->added[--l->adding];

		curl_multi_remove_handle(l->multi, easy);
		done(arg, easy, mc == CURLM_OUT_OF_MEMORY ? (int)CURLE_OUT_OF_MEMORY :
					      (int)CURLE_RECV_ERROR);
	}
}

struct one_done {
	void *easy;
	int result;
	int got;
};

static void perform_done(void *arg, void *easy, int result)
{
	struct one_done *d = arg;

	if (easy == d->easy) {
		d->result = result;
		d->got = 1;
	}
}

int s3_loop_perform(struct s3_loop *l, void *easy)
{
	struct one_done d = { easy, CURLE_RECV_ERROR, 0 };
	int cc = s3_loop_add(l, easy);

	if (cc != CURLE_OK)
		return cc;
	s3_loop_run(l, perform_done, &d);
	return d.result;
}
