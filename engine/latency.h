/*
 * latency.h - request latency: a fixed-memory log-linear histogram
 * (HdrHistogram's idea) and the per-endpoint set of them, one per request
 * class, that the connectors feed through mg_count_time() (connector.h).
 *
 * Values are kept in microseconds.  Below 128 us every value has its own
 * bucket; above, each power of two is cut into 64 equal buckets, so a
 * bucket is never wider than 1/64 of its value and a percentile (the
 * bucket's middle, never above the largest value seen) is within 0.8% of
 * the true one.  Values from 2^27 us (134 s) up share the last bucket;
 * the largest value is kept exactly.  11 KiB per histogram, no locks:
 * every field is bumped with a relaxed atomic from any thread.
 */
#ifndef MG_LATENCY_H
#define MG_LATENCY_H

#include <stdint.h>

#define MG_HIST_LINEAR 128	/* exact buckets below this many us */
#define MG_HIST_SUB 64		/* buckets per power of two above */
#define MG_HIST_TOP 27		/* 2^27 us: the last bucket starts here */
#define MG_HIST_BUCKETS (MG_HIST_LINEAR + (MG_HIST_TOP - 7) * MG_HIST_SUB + 1)

struct mg_hist {
	uint64_t count;
	uint64_t sum_us;
	uint64_t max_us;
	uint64_t b[MG_HIST_BUCKETS];
};

/* Record one value, in nanoseconds (negative counts as 0).  Thread-safe. */
void mg_hist_record(struct mg_hist *h, int64_t ns);
/* dst += src.  src must be quiet (its workers joined). */
void mg_hist_merge(struct mg_hist *dst, const struct mg_hist *src);
/* The p-th percentile (0 < p <= 100) in seconds; 0 when empty. */
double mg_hist_pct(const struct mg_hist *h, double p);
double mg_hist_max_s(const struct mg_hist *h);
double mg_hist_sum_s(const struct mg_hist *h);
/* Values counted at or below le seconds (a Prometheus bucket), each value
 * placed at its bucket's middle. */
uint64_t mg_hist_count_le(const struct mg_hist *h, double le);

/* Prometheus' conventional bounds (client_golang's DefBuckets), seconds:
 * the run record keeps a count per bound so the daemon adds runs up. */
#define MG_LAT_NBOUNDS 11
extern const double mg_lat_bounds[MG_LAT_NBOUNDS];

/*
 * Which classes are timed: connector.h's request classes (enum mg_req,
 * MG_LAT_REQ_CLASSES of them) first, then the operations of protocols
 * whose requests are not those (issue 16.1).  Those are timed only: they
 * are not requests a provider bills, so they have no counter in struct
 * mg_counters and no price.  An SFTP file is read and written through
 * many pipelined packets that libssh2 hides, so its read and its write are
 * timed whole, as an S3 GET or PUT is: the time spent in the connector
 * from the first packet to the last answer (the engine's time between
 * calls left out), the first call's time as the time to first byte.
 */
#define MG_LAT_REQ_CLASSES 11
enum mg_lat_op {
	MG_LAT_SFTP_OPEN = MG_LAT_REQ_CLASSES,	/* one SSH_FXP_OPEN (a read or a write) */
	MG_LAT_SFTP_READ,	/* one file read, first READ to the last byte or EOF */
	MG_LAT_SFTP_WRITE,	/* one file written: its WRITEs and commit (fsync, close, rename) */
	MG_LAT_SFTP_STAT,	/* one LSTAT */
	MG_LAT_ARCHIVE_READ,	/* one archive entry: found (first byte), then its blocks */
	/* a local folder (connectors/local.c), timed as SFTP is: a slow or
	 * network-mounted disk shows here, and it is billed by no one */
	MG_LAT_FILE_OPEN,	/* one open (a read's, or a write's temporary file) */
	MG_LAT_FILE_READ,	/* one file read, first read() to the last byte or EOF */
	MG_LAT_FILE_WRITE,	/* one file written: its write()s and commit (fsync, rename) */
	MG_LAT_FILE_STAT,	/* one stat of a key (a HEAD) */
	MG_LAT__END
};
#define MG_LAT_CLASSES MG_LAT__END

/* "put", "sftp_open", ...: the name summaries, --json and metrics use. */
const char *mg_lat_name(int cls);

/* One endpoint's latencies: whole request (first byte sent to last byte
 * received) and time to first byte, per class, and retries per class.
 * Allocated by the engine for the endpoints it reports on; 360 KiB. */
struct mg_latency {
	struct mg_hist total[MG_LAT_CLASSES];
	struct mg_hist ttfb[MG_LAT_CLASSES];
	uint64_t retries[MG_LAT_CLASSES];
};

/* One object's own requests, for --log-json: set on a worker's conns and
 * cleared per object (one thread: no atomics). */
struct mg_req_times {
	uint32_t n[MG_LAT_CLASSES];
	uint32_t retries[MG_LAT_CLASSES];
	uint64_t sum_ns[MG_LAT_CLASSES];
	uint64_t max_ns[MG_LAT_CLASSES];
	uint64_t ttfb_max_ns[MG_LAT_CLASSES];
};

#endif
