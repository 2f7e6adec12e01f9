/*
 * fuzz_plan.c - the plan loader (mg_plan_load_string).
 *
 * Properties: the loader returns MG_OK or MG_FAILED with a message of the
 * form "NAME:LINE:COL: ..." (or "NAME: ..."); a plan it accepts dumps to
 * YAML that loads again into the same endpoints (the dump is documented
 * as a plan that means the same); nothing leaks, nothing reads out of
 * bounds (ASan), no undefined behaviour (UBSan).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plan.h"
#include "fuzz.h"

static void setup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	/* what a ${VAR} or an *_env key may name in the corpus */
	setenv("MG_FUZZ_SET", "value", 1);
	setenv("MG_FUZZ_KEY", "c2VjcmV0", 1);
	unsetenv("MG_FUZZ_UNSET");
}

/* Option key reads the same on both endpoints (or neither has it). */
static int same_opt(const struct mg_endpoint *a, const struct mg_endpoint *b,
		    const char *key)
{
	char ba[64], bb[64];
	const char *va = mg_endpoint_text(a, key, ba, sizeof(ba));
	const char *vb = mg_endpoint_text(b, key, bb, sizeof(bb));

	return (!va && !vb) || (va && vb && strcmp(va, vb) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_plan p, q;
	struct mg_error e = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	setup();
	/* mg_plan_load() caps a file at 1 MiB before this is reached */
	if (size > 1024 * 1024)
		return 0;
	r = mg_plan_load_string("/fuzz/plan.yaml", (const char *)data, size, &p, &e);
	if (r != MG_OK) {
		FUZZ_CHECK(r == MG_FAILED, "status %d", r);
		FUZZ_CHECK(strncmp(e.msg, "/fuzz/plan.yaml:", 16) == 0, "message '%s'", e.msg);
		FUZZ_CHECK(p.name == NULL && p.targets == NULL, "a failed load left state");
		return 0;
	}
	FUZZ_CHECK(p.ntargets >= 1 && p.ntargets <= MG_PLAN_MAX_TARGETS,
		   "%zu targets", p.ntargets);

	f = open_memstream(&buf, &len);
	if (!f)
		abort();
	mg_plan_dump(&p, f);
	fclose(f);
	mg_error_clear(&e);
	r = mg_plan_load_string("/fuzz/plan.yaml", buf, len, &q, &e);
	FUZZ_CHECK(r == MG_OK, "the dump does not load: %s\n%s", e.msg, buf);
	FUZZ_CHECK(q.ntargets == p.ntargets, "%zu targets, then %zu", p.ntargets,
		   q.ntargets);
	FUZZ_CHECK(strcmp(q.source.id, p.source.id) == 0, "source id changed\n%s", buf);
	for (size_t i = 0; i < p.ntargets; i++)
		FUZZ_CHECK(strcmp(q.targets[i].id, p.targets[i].id) == 0,
			   "target %zu id changed\n%s", i, buf);
	FUZZ_CHECK(q.mode == p.mode && q.preserve.mode == p.preserve.mode &&
		   same_opt(&q.source, &p.source, "symlinks"),
		   "mode, preserve or symlinks changed\n%s", buf);
	mg_plan_release(&q);
	mg_plan_release(&p);
	free(buf);
	return 0;
}
