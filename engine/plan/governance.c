/*
 * governance.c - the substitutions in the plan's tags and metadata
 * (issue 15.4), shared by every connector that writes them.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "plan.h"

void mg_gov_expand(const struct mg_governance *g, const char *tmpl,
		   const char *key, int64_t mtime_ns, const char *sha256,
		   struct mg_buf *out)
{
	const char *p = tmpl;

	while (*p) {
		const char *open = strchr(p, '{'), *close;
		char mt[32] = "";

		if (!open || !(close = strchr(open, '}'))) {
			mg_buf_adds(out, p);
			return;
		}
		mg_buf_add(out, p, (size_t)(open - p));
#define VAR(name) ((size_t)(close - open - 1) == strlen(name) && \
		   strncmp(open + 1, name, strlen(name)) == 0)
		if (VAR("plan")) {
			mg_buf_adds(out, g->plan ? g->plan : "");
		} else if (VAR("run")) {
			mg_buf_adds(out, g->run ? g->run : "");
		} else if (VAR("source_url")) {
			mg_buf_adds(out, g->source_url ? g->source_url : "");
		} else if (VAR("key")) {
			mg_buf_adds(out, key ? key : "");
		} else if (VAR("mtime")) {
			if (mtime_ns) {
				time_t t = (time_t)(mtime_ns / 1000000000);
				struct tm tm;

				gmtime_r(&t, &tm);
				strftime(mt, sizeof(mt), "%Y-%m-%dT%H:%M:%SZ", &tm);
			}
			mg_buf_adds(out, mt);
		} else if (VAR("sha256")) {
			mg_buf_adds(out, sha256 ? sha256 : "");
		} else {
			/* the plan loader refuses others: keep it as written */
			mg_buf_add(out, open, (size_t)(close - open + 1));
		}
#undef VAR
		p = close + 1;
	}
}
