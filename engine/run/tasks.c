/*
 * tasks.c - the bounded queue between the walk (one producer) and the
 * workers.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

/* A signal handler cannot signal a condition variable, so waiters wake
 * every 200 ms to look at mg_interrupted. */
void queue_wait(struct run *run, pthread_cond_t *cv)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 200 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(cv, &run->mu, &ts);
}

/* Whether the run is stopping (a fatal error for every target): the
 * walk asks before each entry. */
int run_stopped(struct run *run)
{
	int stop;

	pthread_mutex_lock(&run->mu);
	stop = run->stop;
	pthread_mutex_unlock(&run->mu);
	return stop;
}

/* Takes ownership of *tk.  Returns 0, or -1 when the run is stopping. */
int queue_push(struct run *run, struct task *tk)
{
	pthread_mutex_lock(&run->mu);
	while (run->qlen == run->qcap && !run->stop && !mg_interrupted) {
		run->push_waiting = 1;
		queue_wait(run, &run->can_push);
	}
	if (run->stop || mg_interrupted) {
		pthread_mutex_unlock(&run->mu);
		free(tk->key);
		return -1;
	}
	run->q[(run->qhead + run->qlen) % run->qcap] = *tk;
	run->qlen++;
	if (!run->batch) {
		pthread_cond_signal(&run->can_pop);
	} else {
		/* batches: a small task is the batchers', any other anyone's */
		pthread_cond_signal(&run->can_batch);
		if (!batch_fits(run, tk))
			pthread_cond_signal(&run->can_pop);
	}
	pthread_mutex_unlock(&run->mu);
	return 0;
}

int queue_pop(struct run *run, struct task *out)
{
	pthread_mutex_lock(&run->mu);
	while (run->qlen == 0 && !run->closed && !run->stop && !mg_interrupted)
		queue_wait(run, &run->can_pop);
	if (run->qlen == 0 || run->stop || mg_interrupted) {
		pthread_mutex_unlock(&run->mu);
		return -1;
	}
	*out = run->q[run->qhead];
	run->qhead = (run->qhead + 1) % run->qcap;
	run->qlen--;
	run->busy_workers++;
	/* Wake the walker only once the queue is half empty: it then refills
	 * it in one go instead of trading a wakeup with a worker per task. */
	if (run->push_waiting && run->qlen <= run->qcap / 2) {
		run->push_waiting = 0;
		pthread_cond_signal(&run->can_push);
	}
	pthread_mutex_unlock(&run->mu);
	return 0;
}

/* A task for this worker at the head of the queue, room under hold_max. */
static int pop_ready(const struct run *run, int batcher)
{
	return run->qlen && run->held < run->hold_max &&
	       (batcher || !batch_fits(run, &run->q[run->qhead]));
}

int queue_pop_batch(struct run *run, struct task *out, size_t max, int batcher)
{
	size_t n = 0;

	pthread_mutex_lock(&run->mu);
	/* an empty queue, the workers hold the concurrency already, or (a
	 * worker that does not batch) small tasks first */
	while (!pop_ready(run, batcher) && !(run->qlen == 0 && run->closed) &&
	       !run->stop && !mg_interrupted)
		queue_wait(run, batcher ? &run->can_batch : &run->can_pop);
	if (!pop_ready(run, batcher) || run->stop || mg_interrupted) {
		pthread_mutex_unlock(&run->mu);
		return -1;
	}
	do {
		out[n++] = run->q[run->qhead];
		run->qhead = (run->qhead + 1) % run->qcap;
		run->qlen--;
		run->held++;
	} while (batcher && n < max && run->qlen && run->held < run->hold_max &&
		 batch_fits(run, &out[0]) && batch_fits(run, &run->q[run->qhead]));
	run->busy_workers++;
	if (run->push_waiting && run->qlen <= run->qcap / 2) {
		run->push_waiting = 0;
		pthread_cond_signal(&run->can_push);
	}
	pthread_mutex_unlock(&run->mu);
	return (int)n;
}

void queue_done(struct run *run, size_t n)
{
	pthread_mutex_lock(&run->mu);
	run->held -= n;
	run->busy_workers--;
	/* a worker may wait for room under hold_max: one is enough (it
	 * takes what there is room for); waking every idle worker at every
	 * batch's end cost 13 futex calls per object */
	pthread_cond_signal(&run->can_batch);
	if (run->qlen && !batch_fits(run, &run->q[run->qhead]))
		pthread_cond_signal(&run->can_pop);
	pthread_mutex_unlock(&run->mu);
}
