/*
 * estimate.c - `migrate estimate`: price what the walk counted.
 *
 * The engine walks the source, the journal and the target exactly as a run
 * does and counts, instead of issuing, the requests each object would take
 * (the connectors' estimate_* methods say what they send per read and per
 * write).  This file only turns those counters into a bill with the price
 * table (pricing.c) and prints it (report.c).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>

#include "engine.h"
#include "pricing.h"
#include "report.h"

/* Short names people type for --compare. */
static const char *provider_alias(const char *name)
{
	static const struct { const char *alias, *name; } aliases[] = {
		{ "b2", "backblaze-b2" }, { "r2", "cloudflare-r2" },
		{ "s3", "aws-s3" }, { "aws", "aws-s3" }, { "azure", "azure-blob" },
		{ "google", "gcs" },
	};

	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (!strcmp(name, aliases[i].alias))
			return aliases[i].name;
	return name;
}

static int price(const struct mg_pricing *table, const struct mg_plan *plan,
		 struct mg_scenario *sc, uint64_t dedupe_unknown)
{
	char msg[512];

	if (mg_estimate_compute(table, &sc->in, &sc->out, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "migrate: %s\n", msg);
		return -1;
	}
	if (mg_retries_compute(table, sc, plan->pricing_error_rate, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "migrate: %s\n", msg);
		return -1;
	}
	/* issue 18.2: an archive's reads, the estimate's own */
	if (mg_tarest_price(table, sc, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "migrate: %s\n", msg);
		return -1;
	}
	if (sc->counts.failed_objects && sc->out.nwarn < MG_COST_MAX_WARN)
		snprintf(sc->out.warn[sc->out.nwarn++], sizeof(sc->out.warn[0]),
			 "%" PRIu64 " object%s (%" PRIu64 " bytes) cannot be sent to this target "
			 "(above its largest single upload below multipart_threshold, or "
			 "beyond its limit on parts): the run fails %s; lower multipart_threshold",
			 sc->counts.failed_objects, sc->counts.failed_objects == 1 ? "" : "s",
			 sc->counts.failed_bytes, sc->counts.failed_objects == 1 ? "it" : "them");
	/* issue 15.5: Object Lock keeps what the plan's retention locked */
	if (sc->counts.locked_objects && sc->out.nwarn < MG_COST_MAX_WARN)
		snprintf(sc->out.warn[sc->out.nwarn++], sizeof(sc->out.warn[0]),
			 "%" PRIu64 " object%s (%" PRIu64 " bytes) that sync would delete "
			 "%s locked by Object Lock (retention not over, or a legal hold): "
			 "%s delete%s will fail, the object%s stay%s stored and billed, and "
			 "the run exits 1 until the lock ends",
			 sc->counts.locked_objects, sc->counts.locked_objects == 1 ? "" : "s",
			 sc->counts.locked_bytes, sc->counts.locked_objects == 1 ? "is" : "are",
			 sc->counts.locked_objects == 1 ? "its" : "their",
			 sc->counts.locked_objects == 1 ? "" : "s",
			 sc->counts.locked_objects == 1 ? "" : "s",
			 sc->counts.locked_objects == 1 ? "s" : "");
	/* Content is not read to estimate: duplicates are foreseen where
	 * `migrate inventory` or the journal knows the content (estages.c);
	 * the rest may hold some the run finds. */
	if (plan->transfer.dedupe && dedupe_unknown > 1 && sc->out.nwarn < MG_COST_MAX_WARN)
		snprintf(sc->out.warn[sc->out.nwarn++], sizeof(sc->out.warn[0]),
			 "dedupe: the content of %" PRIu64 " objects to send is unknown: "
			 "duplicates among them are not foreseen (PUTs and bytes may be "
			 "fewer); run `migrate inventory` on the plan first", dedupe_unknown);
	return 0;
}

/* issue 16.3 (parthint.c): the part size the run uses, and the probe's
 * if it found another faster; not for --compare (one move, many tables) */
static void part_size_json(json_t *j, const struct mg_plan *plan, const struct mg_run_opts *o,
			   const struct mg_target_tally *tally, size_t ntargets)
{
	json_t *scs = json_object_get(j, "scenarios");

	for (size_t i = 0; !o->compare && i < ntargets && i < json_array_size(scs); i++)
		json_object_set_new(json_array_get(scs, i), "part_size",
				    mg_part_size_json(plan, &tally[i]));
}

static void part_hints(FILE *f, const struct mg_plan *plan, const struct mg_run_opts *o,
		       const struct mg_target_tally *tally, size_t ntargets)
{
	char hint[300];

	for (size_t i = 0; !o->compare && i < ntargets; i++) {
		mg_part_hint(plan, &tally[i], hint, sizeof(hint));
		if (hint[0])
			fprintf(f, "hint: %s%s%s\n", ntargets > 1 ? plan->targets[i].url : "",
				ntargets > 1 ? ": " : "", hint);
	}
}

int mg_estimate_output(const struct mg_plan *plan, const struct mg_run_opts *o,
		       const struct mg_counters *src,
		       const struct mg_target_tally *tally, size_t ntargets)
{
	struct mg_pricing table;
	struct mg_error err = { 0 };
	struct mg_scenario *sc;
	struct mg_report rep;
	struct mg_plan_total total;
	char *path;
	size_t n = 0, cap = ntargets;
	char *cmp = NULL, msg[1024];
	int rc = MG_EXIT_OK;

	path = mg_pricing_locate(plan->pricing_file, NULL, &err);
	if (!path || mg_pricing_load(path, &table, &err) != MG_OK) {
		fprintf(stderr, "migrate: %s\n", err.msg);
		free(path);
		return MG_EXIT_USAGE;
	}
	if (mg_tiering_priced(&table, plan, msg, sizeof(msg)) < 0) {
		fprintf(stderr, "migrate: %s\n", msg);
		rc = MG_EXIT_USAGE;
		mg_pricing_release(&table);
		free(path);
		return rc;
	}
	if (o->compare) {
		cap++;
		for (const char *p = o->compare; *p; p++)
			cap += *p == ',';
	}
	sc = mg_calloc(cap, sizeof(*sc));
	for (size_t i = 0; i < ntargets; i++, n++) {
		sc[n].label = plan->targets[i].url;
		sc[n].counts = tally[i].counts;
		sc[n].bytes_written = tally[i].counters.bytes_written;
		mg_estimate_in_fill(&sc[n].in, plan, &plan->targets[i], src,
				    &tally[i].counters);
		sc[n].in.target_stored_bytes = tally[i].stored_after;
		sc[n].in.deleted = tally[i].deleted;
		sc[n].in.small = tally[i].small;
		/* an archive in a store: what the run reads of it (18.2) */
		mg_tarest_source(plan, &sc[n], sc[n].counts.new_objects +
				 sc[n].counts.changed_objects + sc[n].counts.dedup_objects);
		if (o->bwlimit_set)
			sc[n].in.bandwidth = o->bwlimit;
		/* unlimited stretches go at what `migrate probe` measured */
		sc[n].in.link_rate = tally[i].measured_rate;
		sc[n].in.link_measured_at = tally[i].measured_at;
		sc[n].in.start = time(NULL);
		if (price(&table, plan, &sc[n], o->compare ? 0 : tally[i].dedupe_unknown) < 0) {
			rc = MG_EXIT_USAGE;
			goto out;
		}
		/* issue 15.3: each storage class at its own prices */
		sc[n].reclassed = tally[i].reclassed;
		sc[n].nclasses = tally[i].nclasses;
		if (tally[i].nclasses &&
		    mg_tier_price(&table, &sc[n].in, tally[i].classes, tally[i].nclasses,
				  &sc[n].out, sc[n].classes, msg, sizeof(msg)) < 0) {
			fprintf(stderr, "migrate: %s\n", msg);
			rc = MG_EXIT_USAGE;
			goto out;
		}
	}
	if (o->compare && ntargets > 0) {
		/* The same move (the first target's counts) priced at each
		 * provider: only the price table changes. */
		char *save = NULL, *name;
		size_t first = n;

		cmp = mg_strdup(o->compare);
		for (name = strtok_r(cmp, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
			while (*name == ' ')
				name++;
			if (!*name)
				continue;
			sc[n] = sc[0];
			sc[n].label = provider_alias(name);
			sc[n].in.target_provider = provider_alias(name);
			sc[n].in.target_class = NULL;
			sc[n].nclasses = 0;	/* another provider's classes differ */
			/* the same move everywhere: a dedupe note is the plan's */
			if (price(&table, plan, &sc[n], tally[0].dedupe_unknown) < 0) {
				rc = MG_EXIT_USAGE;
				goto out;
			}
			n++;
		}
		mg_scenarios_sort(sc + first, n - first);
		memmove(sc, sc + first, (n - first) * sizeof(*sc));
		n -= first;
	}

	memset(&rep, 0, sizeof(rep));
	if (!o->compare && n > 1) {
		uint64_t *bytes = mg_calloc(n, sizeof(*bytes));

		for (size_t i = 0; i < n; i++)
			bytes[i] = tally[i].counters.bytes_written;
		mg_plan_total_compute(sc, n, bytes, &total);
		free(bytes);
		rep.plan_total = &total;
	}
	rep.plan_name = plan->name;
	rep.source_url = plan->source.url;
	rep.pricing_file = path;
	rep.sc = sc;
	rep.n = n;
	rep.compare = o->compare != NULL;
	if (o->estimate_result) {	/* the caller shows it (probe.c) */
		struct mg_estimate_result *res = o->estimate_result;
		json_t *j = mg_report_json(&rep);

		/* the figure --json prints (rounded as it rounds) */
		res->set = 1;
		res->total_usd = json_number_value(rep.plan_total ?
			json_object_get(json_object_get(j, "plan_total"), "total_usd") :
			json_object_get(json_object_get(json_array_get(json_object_get(j,
				"scenarios"), 0), "cost_usd"), "total"));
		res->duration_s = rep.plan_total ? total.duration_s :
				  n ? sc[0].out.duration_s : -1;
		part_size_json(j, plan, o, tally, ntargets);
		res->json = j;
		goto out;
	}
	if (o->json) {
		json_t *j = mg_report_json(&rep);

		part_size_json(j, plan, o, tally, ntargets);
		json_dumpf(j, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		fflush(stdout);	/* whole before any word on stderr */
		json_decref(j);
	} else {
		mg_report_text(stdout, &rep);
		part_hints(stdout, plan, o, tally, ntargets);
	}
	fflush(stdout);
	if (o->html) {
		if (mg_report_html_file(o->html, &rep, &err) != MG_OK) {
			fprintf(stderr, "migrate: %s\n", err.msg);
			rc = MG_EXIT_FATAL;
		} else if (!o->quiet) {
			fprintf(stderr, "report written to '%s'\n", o->html);
		}
	}
out:
	free(cmp);
	free(sc);
	free(path);
	mg_pricing_release(&table);
	return rc;
}
