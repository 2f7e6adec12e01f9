/*
 * estextra.h - estimate arithmetic beyond the walk's counts (issue 18.5):
 * the requests a server-side copy takes at an S3 target (one CopyObject up
 * to 5 GiB, a multipart copy above), and the retries an error rate makes
 * expected, with what they would add to the bill.
 */
#ifndef MG_ESTEXTRA_H
#define MG_ESTEXTRA_H

#include <stdint.h>
#include <stdio.h>
#include "connector.h"

struct mg_pricing;
struct mg_scenario;

/* The S3 connector's copy rules (connectors/s3.c: copy_threshold is
 * S3_MAX_PUT, copy_part_size 512 MiB, at most 10,000 parts).  They are
 * not plan keys, so the estimate uses the same constants. */
#define MG_COPY_MAX_SINGLE	(5ULL << 30)
#define MG_COPY_PART_SIZE	(512ULL << 20)
#define MG_COPY_MAX_PARTS	10000ULL

/* Adds to req[] what copying one object of size bytes takes: one COPY up
 * to threshold; above it Create, one UploadPartCopy (counted as COPY, as
 * the connector counts it) per part of part_size (grown so that no more
 * than max_parts are needed), Complete and the HEAD that checks the
 * result. */
void mg_copy_requests(uint64_t size, uint64_t threshold, uint64_t part_size,
		      uint64_t max_parts, uint64_t req[MG_REQ__COUNT]);

/* The error rate in the plan's words ("0.01", "1%"): 0 <= rate <= 0.5.
 * Returns 0, or -1 with msg set. */
int mg_error_rate_parse(const char *text, double *rate, char *msg, size_t msglen);

/* Expected retries of n requests each failing with probability rate and
 * tried again until it succeeds: n * rate / (1 - rate), rounded to the
 * nearest whole request. */
uint64_t mg_expected_retries(uint64_t n, double rate);

/* Fills sc's retries (counts per class, source and target) at rate and
 * prices them: the bill with the retries added minus the bill without.
 * Returns 0, or -1 with msg set (as mg_estimate_compute). */
int mg_retries_compute(const struct mg_pricing *t, struct mg_scenario *sc,
		       double rate, char *msg, size_t msglen);
/* The line of text of a scenario's retries (nothing when the rate is 0). */
void mg_retries_text(FILE *f, const struct mg_scenario *sc);

#endif
