/*
 * latency.c - the log-linear histogram of latency.h.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include "connector.h"
#include "latency.h"

_Static_assert(MG_LAT_REQ_CLASSES == MG_REQ__COUNT,
	       "latency.h keeps one histogram per request class, then its own");

const char *mg_lat_name(int cls)
{
	static const char *const ops[MG_LAT_CLASSES - MG_LAT_REQ_CLASSES] = {
		"sftp_open", "sftp_read", "sftp_write", "sftp_stat", "archive_read",
		"file_open", "file_read", "file_write", "file_stat",
	};

	if (cls >= 0 && cls < MG_LAT_REQ_CLASSES)
		return mg_req_name((enum mg_req)cls);
	return cls >= 0 && cls < MG_LAT_CLASSES ? ops[cls - MG_LAT_REQ_CLASSES] : "unknown";
}

const double mg_lat_bounds[MG_LAT_NBOUNDS] = {
	.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10
};

static unsigned bucket_of(uint64_t us)
{
	unsigned e;

	if (us < MG_HIST_LINEAR)
		return (unsigned)us;
	e = 63u - (unsigned)__builtin_clzll(us);	/* 2^e <= us */
	if (e >= MG_HIST_TOP)
		return MG_HIST_BUCKETS - 1;
	/* the 6 bits below the top one pick one of 64 buckets */
	return MG_HIST_LINEAR + (e - 7) * MG_HIST_SUB +
	       (unsigned)((us >> (e - 6)) - MG_HIST_SUB);
}

/* The bucket's lowest value and width, in us. */
static void bucket_range(unsigned i, double *lo, double *width)
{
	unsigned e, k;

	if (i < MG_HIST_LINEAR) {
		*lo = i;
		*width = 1;
		return;
	}
	if (i == MG_HIST_BUCKETS - 1) {
		*lo = (double)(1ull << MG_HIST_TOP);
		*width = 0;
		return;
	}
	e = 7 + (i - MG_HIST_LINEAR) / MG_HIST_SUB;
	k = (i - MG_HIST_LINEAR) % MG_HIST_SUB;
	*lo = (double)((uint64_t)(MG_HIST_SUB + k) << (e - 6));
	*width = (double)(1ull << (e - 6));
}

/* Where a bucket's values are said to be: its middle (values below 128 us
 * are exact). */
static double bucket_mid_us(unsigned i)
{
	double lo, w;

	bucket_range(i, &lo, &w);
	return i < MG_HIST_LINEAR ? lo : lo + w / 2;
}

void mg_hist_record(struct mg_hist *h, int64_t ns)
{
	uint64_t us = ns > 0 ? (uint64_t)ns / 1000 : 0;
	uint64_t m = __atomic_load_n(&h->max_us, __ATOMIC_RELAXED);

	__atomic_add_fetch(&h->b[bucket_of(us)], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->sum_us, us, __ATOMIC_RELAXED);
	while (us > m && !__atomic_compare_exchange_n(&h->max_us, &m, us, 1,
						      __ATOMIC_RELAXED,
						      __ATOMIC_RELAXED))
		;
	__atomic_add_fetch(&h->count, 1, __ATOMIC_RELAXED);
}

void mg_hist_merge(struct mg_hist *dst, const struct mg_hist *src)
{
	for (unsigned i = 0; i < MG_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum_us += src->sum_us;
	if (src->max_us > dst->max_us)
		dst->max_us = src->max_us;
}

double mg_hist_pct(const struct mg_hist *h, double p)
{
	uint64_t rank, seen = 0;
	double v;

	if (!h->count)
		return 0;
	rank = (uint64_t)ceil(p / 100 * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (unsigned i = 0; i < MG_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			v = bucket_mid_us(i);
			/* the last bucket is open: its best answer is the max */
			if (v > (double)h->max_us || i == MG_HIST_BUCKETS - 1)
				v = (double)h->max_us;
			return v / 1e6;
		}
	}
	return (double)h->max_us / 1e6;
}

double mg_hist_max_s(const struct mg_hist *h)
{
	return (double)h->max_us / 1e6;
}

double mg_hist_sum_s(const struct mg_hist *h)
{
	return (double)h->sum_us / 1e6;
}

uint64_t mg_hist_count_le(const struct mg_hist *h, double le)
{
	uint64_t n = 0;
	double le_us = le * 1e6;

	for (unsigned i = 0; i < MG_HIST_BUCKETS; i++) {
		double v = bucket_mid_us(i);

		if (v > (double)h->max_us)
			v = (double)h->max_us;
		if (v > le_us)
			break;
		n += h->b[i];
	}
	return n;
}
