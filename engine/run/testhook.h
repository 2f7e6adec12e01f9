/*
 * testhook.h - named points where a test can make the process die.
 *
 * A crash test must kill `migrate` in the middle of a run.  Killing it
 * after a sleep lands anywhere: on a loaded machine the run may not have
 * started, or may be over.  Instead the test names a point and a count,
 *
 *	MG_TEST_KILL_AFTER=part:3 migrate plan.yaml
 *
 * and the process sends itself SIGKILL the moment the third "part" point
 * is passed: the same state on any machine, under any load.
 *
 * The points (each a one-line call where the state it names is durable):
 *	"part"    a multipart part uploaded and its record journaled
 *	"upload"  a new multipart upload created and its id journaled
 *	"object"  objects committed (their records synced to the journal);
 *	          a batch of n objects counts n, so "object:50" dies after
 *	          the batch that holds the 50th
 *	"batch"   objects sent by a batch PUT (batch.c), before their
 *	          records go to the committer: counts as "object" does
 *
 * Unset (every real run), a point costs one load and one compare.
 */
#ifndef MG_TESTHOOK_H
#define MG_TESTHOOK_H

#include <stdint.h>

/* Counts n passes of the point NAME; SIGKILL once the count named by
 * MG_TEST_KILL_AFTER is reached.  Safe from any thread. */
void mg_test_points(const char *name, uint64_t n);

/* One pass of the point NAME. */
static inline void mg_test_point(const char *name)
{
	mg_test_points(name, 1);
}

#endif
