/*
 * retries.c - the retries an error rate makes expected (issue 18.5).
 *
 * No run is free of failed requests: a provider's 503 SlowDown, a reset
 * connection.  Each failed request is sent again, and billed again.  The
 * estimate counts what a clean run sends; with `pricing: { error_rate: R }`
 * it also shows, per request class, the expected number of retries if
 * each attempt fails with probability R (the run tries again until one
 * succeeds: n * R / (1 - R) extra attempts; the connectors give up after a
 * fixed number of tries, so the figure is high by at most R^tries of it),
 * and what they add to the bill.  The bytes of a retried upload are sent
 * again too (time, not money, at most providers: ingress is free), which
 * this leaves out.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estextra.h"
#include "report.h"

int mg_error_rate_parse(const char *text, double *rate, char *msg, size_t msglen)
{
	char *end;
	double v;

	v = strtod(text, &end);
	if (end != text && *end == '%' && end[1] == '\0') {
		v /= 100;
	} else if (end == text || *end) {
		snprintf(msg, msglen, "'error_rate': '%s' is not a number: give a fraction "
			 "of requests (0.01) or a percentage (1%%)", text);
		return -1;
	}
	if (!(v >= 0 && v <= 0.5)) {
		snprintf(msg, msglen, "'error_rate': '%s' is out of range: give a value "
			 "from 0 to 0.5 (50%%)", text);
		return -1;
	}
	*rate = v;
	return 0;
}

uint64_t mg_expected_retries(uint64_t n, double rate)
{
	if (rate <= 0 || rate >= 1)
		return 0;
	return (uint64_t)llround((double)n * rate / (1 - rate));
}

int mg_retries_compute(const struct mg_pricing *t, struct mg_scenario *sc,
		       double rate, char *msg, size_t msglen)
{
	struct mg_estimate_in in = sc->in;
	struct mg_estimate_out *out;
	int rc;

	memset(&sc->retries, 0, sizeof(sc->retries));
	sc->retries.rate = rate;
	if (rate <= 0)
		return 0;
	for (int r = 0; r < MG_REQ__COUNT; r++) {
		sc->retries.src[r] = mg_expected_retries(sc->in.source_req[r], rate);
		sc->retries.dst[r] = mg_expected_retries(sc->in.target_req[r], rate);
		in.source_req[r] += sc->retries.src[r];
		in.target_req[r] += sc->retries.dst[r];
	}
	out = mg_calloc(1, sizeof(*out));
	rc = mg_estimate_compute(t, &in, out, msg, msglen);
	if (rc == 0)
		sc->retries.usd = (out->cost[MG_COST_SRC_REQ] + out->cost[MG_COST_DST_REQ]) -
				  (sc->out.cost[MG_COST_SRC_REQ] + sc->out.cost[MG_COST_DST_REQ]);
	free(out);
	return rc;
}

void mg_retries_text(FILE *f, const struct mg_scenario *sc)
{
	const struct mg_retries *rt = &sc->retries;
	uint64_t n = 0;
	char usd[32];

	if (rt->rate <= 0)
		return;
	for (int r = 0; r < MG_REQ__COUNT; r++)
		n += rt->src[r] + rt->dst[r];
	mg_fmt_usd(rt->usd, usd, sizeof(usd));
	fprintf(f, "  retries at an error rate of %g%%: about %llu more requests, "
		"+%s USD (not in the total above)\n", rt->rate * 100,
		(unsigned long long)n, usd);
}
