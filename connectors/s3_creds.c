/*
 * s3_creds.c - where the S3 connector's credentials come from: the AWS
 * SDKs' chain, and the refresh of temporary credentials during a run.
 *
 * The order is the SDKs' (plans/README.md, "Where credentials come
 * from"): the plan's keys; the environment (AWS_ACCESS_KEY_ID...); web
 * identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, what an EKS
 * service account hands a pod); the profile (role_arn with
 * source_profile, web_identity_token_file or credential_source; static
 * keys; credential_process); ECS/EKS container credentials; EC2
 * instance metadata (IMDSv2).  s3_config_resolve() decides which source
 * applies without any network; s3_creds_open() then fetches a first set.
 *
 * Sharing: every conn of an endpoint (one per worker) signs with the same
 * provider, found in a process-wide list by what it resolves to, so eight
 * workers cause one STS call, not eight.  A set of credentials is
 * immutable and reference-counted: a refresh publishes a new set, and a
 * request in flight keeps the set it signed with until it is done.
 *
 * Secrets (secret keys, session tokens, web identity tokens, the
 * authorization token of the container endpoint, the output of a
 * credential_process) never go into a message: errors name the source,
 * the role, the url, the HTTP status and the service's error code.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>

#define MG_S3_INTERNAL 1
#include "s3_private.h"
#include "plan.h"

extern char **environ;

/* Refresh this long before a set expires (the SDKs use 5 to 15 minutes),
 * or at half its life when it lives shorter than twice that. */
#define CREDS_REFRESH_BEFORE_S 300
/* A set this close to its expiry is not used any more: a request signed
 * now may reach the server a little later. */
#define CREDS_MARGIN_S 10
/* After a failed refresh while the old set is still good: try again in. */
#define CREDS_RETRY_S 15
/* Nested profiles (role chaining) deeper than this are a loop. */
#define PROFILE_DEPTH 5
/* Answers of STS, the container endpoint and IMDS are small. */
#define CREDS_BODY_CAP (256 * 1024)
/* credential_process writes one JSON document. */
#define PROCESS_OUT_CAP (1024 * 1024)
/* IMDS: the SDKs wait 1 s per request and try twice; a host that is not
 * on EC2 must not hold up a run for long. */
#define IMDS_TIMEOUT_MS 1000
#define IMDS_TRIES 2
#define IMDS_TOKEN_TTL "21600"
/* STS and the container endpoint. */
#define STS_TIMEOUT_MS 10000
#define STS_TRIES 3

enum src_kind {
	SRC_STATIC, SRC_WEB_IDENTITY, SRC_ASSUME_ROLE, SRC_PROCESS, SRC_CONTAINER,
	SRC_IMDS,
};

/* One resolved source: what to do to get a set of credentials. */
struct s3_src {
	enum src_kind kind;
	char *what;		/* for check and messages: "web identity (role ...)" */
	char *ak, *sk, *tok;	/* STATIC */
	char *role_arn, *session, *external_id, *token_file;	/* roles */
	long duration;		/* DurationSeconds, 0: the service's default */
	char *sts_url;		/* https://sts.REGION.amazonaws.com */
	char *region;		/* signs AssumeRole */
	struct s3_src *base;	/* ASSUME_ROLE: whose credentials sign it */
	char *command;		/* PROCESS */
	char *profile;		/* PROCESS: for messages */
	char *url;		/* CONTAINER */
	char *auth, *auth_file;	/* CONTAINER: Authorization header (secret) */
	char *imds;		/* IMDS base url */
	int imds_v1;		/* IMDSv1 allowed when the token PUT is refused */
};

/* The shared provider of one source. */
struct s3_creds {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct s3_src *src;
	char *id;		/* what it resolves to: the sharing key */
	struct s3_credset *cur;
	int64_t refresh_at;	/* unix seconds; 0: never */
	int64_t retry_at;	/* after a failed refresh */
	int refreshing;		/* one refresher at a time */
	int refs;		/* conns holding it (under list_mu) */
	struct s3_creds *next;
};

static pthread_mutex_t list_mu = PTHREAD_MUTEX_INITIALIZER;
static struct s3_creds *list_head;

/* ---- small helpers ---------------------------------------------------- */

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static void wipe_free(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

/* Frees a key id, a secret and a token, and clears the pointers. */
static void keys_free(char **ak, char **sk, char **tok)
{
	free(*ak);
	wipe_free(*sk);
	wipe_free(*tok);
	*ak = *sk = *tok = NULL;
}

/* Releases a buffer that held a secret (a token, a form, an answer). */
static void buf_wipe(struct mg_buf *b)
{
	if (b->buf)
		memset(b->buf, 0, b->alloc);
	mg_buf_release(b);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? mg_strdup(s) : NULL;
}

/*
 * One value from an AWS ini file: key in [section], or in the indented
 * block under "sub =" inside it (config's "s3 =\n  endpoint_url = ...").
 */
static char *ini_get(const char *file, const char *section, const char *sub,
		     const char *key)
{
	FILE *f;
	char line[4096], *val = NULL;
	int in_sec = 0, in_sub = 0;

	if (!file || !(f = fopen(file, "r")))
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		int indented = line[0] == ' ' || line[0] == '\t';
		char *t = trim(line), *eq;

		if (!*t || *t == '#' || *t == ';')
			continue;
		if (*t == '[') {
			char *e = strchr(t, ']');

			if (e)
				*e = '\0';
			in_sec = strcmp(trim(t + 1), section) == 0;
			in_sub = 0;
			continue;
		}
		if (!in_sec || !(eq = strchr(t, '=')))
			continue;
		*eq = '\0';
		char *k = trim(t), *v = trim(eq + 1);

		if (!indented) {
			in_sub = sub && strcmp(k, sub) == 0 && !*v;
			if (!sub && strcmp(k, key) == 0 && *v) {
				wipe_free(val);
				val = mg_strdup(v);
			}
		} else if (sub && in_sub && strcmp(k, key) == 0) {
			wipe_free(val);
			val = mg_strdup(v);
		}
	}
	memset(line, 0, sizeof(line));	/* may have held a secret */
	fclose(f);
	return val;
}

/* Does [section] exist in file? */
static int ini_has(const char *file, const char *section)
{
	FILE *f;
	char line[4096];
	int found = 0;

	if (!file || !(f = fopen(file, "r")))
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *t = trim(line), *e;

		if (*t == '[' && (e = strchr(t, ']'))) {
			*e = '\0';
			found = strcmp(trim(t + 1), section) == 0;
		}
	}
	memset(line, 0, sizeof(line));
	fclose(f);
	return found;
}

static char *env_dup(const char *name)
{
	return dup_or_null(getenv(name));
}

static int env_true(const char *name)
{
	const char *v = getenv(name);

	return v && strcasecmp(v, "true") == 0;
}

static char *home_file(const char *env, const char *rel)
{
	const char *v = getenv(env), *home = getenv("HOME");
	struct mg_buf b = MG_BUF_INIT;

	if (v && *v)
		return mg_strdup(v);
	if (!home || !*home)
		return NULL;
	mg_buf_addf(&b, "%s/%s", home, rel);
	return mg_buf_detach(&b);
}

/* The two files a profile lives in. */
struct aws_files {
	char *cred, *conf;
};

static void files_init(struct aws_files *f)
{
	f->cred = home_file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
	f->conf = home_file("AWS_CONFIG_FILE", ".aws/config");
}

static void files_release(struct aws_files *f)
{
	free(f->cred);
	free(f->conf);
}

static void conf_section(const char *profile, char *sec, size_t len)
{
	/* the config file names sections "profile x", except the default */
	if (strcmp(profile, "default") == 0)
		snprintf(sec, len, "default");
	else
		snprintf(sec, len, "profile %s", profile);
}

/* A key of a profile: the credentials file ([x]) wins over the config
 * file ([profile x]), as the SDKs merge them. */
static char *pget(const struct aws_files *f, const char *profile, const char *key)
{
	char sec[300];
	char *v = ini_get(f->cred, profile, NULL, key);

	if (v)
		return v;
	conf_section(profile, sec, sizeof(sec));
	return ini_get(f->conf, sec, NULL, key);
}

static int profile_exists(const struct aws_files *f, const char *profile)
{
	char sec[300];

	conf_section(profile, sec, sizeof(sec));
	return ini_has(f->cred, profile) || ini_has(f->conf, sec);
}

/* ---- sources ---------------------------------------------------------- */

static void src_free(struct s3_src *s)
{
	if (!s)
		return;
	src_free(s->base);
	free(s->what);
	keys_free(&s->ak, &s->sk, &s->tok);
	free(s->role_arn);
	free(s->session);
	free(s->external_id);
	free(s->token_file);
	free(s->sts_url);
	free(s->region);
	free(s->command);
	free(s->profile);
	free(s->url);
	wipe_free(s->auth);
	free(s->auth_file);
	free(s->imds);
	free(s);
}

static struct s3_src *src_new(enum src_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static struct s3_src *src_new(enum src_kind kind, const char *fmt, ...)
{
	struct s3_src *s = mg_calloc(1, sizeof(*s));
	struct mg_buf b = MG_BUF_INIT;
	va_list ap;

	s->kind = kind;
	va_start(ap, fmt);
	mg_buf_vaddf(&b, fmt, ap);
	va_end(ap);
	s->what = mg_buf_detach(&b);
	return s;
}

/* The STS endpoint: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, the profile's
 * "sts =\n endpoint_url" or endpoint_url, else STS in the region. */
static char *sts_url(const struct aws_files *f, const char *profile, const char *region)
{
	char sec[300], *v;
	struct mg_buf b = MG_BUF_INIT;

	if ((v = env_dup("AWS_ENDPOINT_URL_STS")) || (v = env_dup("AWS_ENDPOINT_URL")))
		return v;
	conf_section(profile, sec, sizeof(sec));
	if ((v = ini_get(f->conf, sec, "sts", "endpoint_url")) ||
	    (v = ini_get(f->conf, sec, NULL, "endpoint_url")))
		return v;
	mg_buf_addf(&b, "https://sts.%s.amazonaws.com", region && *region ? region : "us-east-1");
	return mg_buf_detach(&b);
}

static char *session_name(char *configured)
{
	struct mg_buf b = MG_BUF_INIT;

	if (configured)
		return configured;
	/* what the SDKs do: a name with the time (botocore-session-<t>) */
	mg_buf_addf(&b, "migrate-session-%lld", (long long)time(NULL));
	return mg_buf_detach(&b);
}

static struct s3_src *web_identity_src(const char *role, const char *token_file,
				       char *session, const char *sts, const char *region)
{
	struct s3_src *s = src_new(SRC_WEB_IDENTITY, "web identity (role %s)", role);

	s->role_arn = mg_strdup(role);
	s->token_file = mg_strdup(token_file);
	s->session = session_name(session);
	s->sts_url = mg_strdup(sts);
	s->region = dup_or_null(region);
	return s;
}

static struct s3_src *container_src(void)
{
	const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	struct s3_src *s;

	if (rel && *rel) {
		/* ECS: always the task metadata address, no token */
		s = src_new(SRC_CONTAINER, "container credentials (http://169.254.170.2%s)", rel);
		s->url = mg_malloc(strlen(rel) + 32);
		sprintf(s->url, "http://169.254.170.2%s", rel);
		return s;
	}
	if (!full || !*full)
		return NULL;
	s = src_new(SRC_CONTAINER, "container credentials (%s)", full);
	s->url = mg_strdup(full);
	s->auth_file = env_dup("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	if (!s->auth_file)
		s->auth = env_dup("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	return s;
}

static struct s3_src *imds_src(void)
{
	struct s3_src *s;
	char *ep;

	if (env_true("AWS_EC2_METADATA_DISABLED"))
		return NULL;
	ep = env_dup("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!ep)
		ep = mg_strdup("http://169.254.169.254");
	while (*ep && ep[strlen(ep) - 1] == '/')
		ep[strlen(ep) - 1] = '\0';
	s = src_new(SRC_IMDS, "EC2 instance metadata (%s)", ep);
	s->imds = ep;
	s->imds_v1 = !env_true("AWS_EC2_METADATA_V1_DISABLED");
	return s;
}

static struct s3_src *static_src(const char *ak, const char *sk, const char *tok,
				 const char *what)
{
	struct s3_src *s = src_new(SRC_STATIC, "%s", what);

	s->ak = mg_strdup(ak);
	s->sk = mg_strdup(sk);
	s->tok = dup_or_null(tok);
	return s;
}

/*
 * What profile p holds: *out set (MG_OK), nothing (MG_ABSENT), or an
 * error (MG_FATAL, msg).  The SDKs' order inside a profile: a role
 * (role_arn with web_identity_token_file, source_profile or
 * credential_source), static keys, credential_process.
 */
static int profile_src(const struct aws_files *f, const char *p, const char *region,
		       int depth, struct s3_src **out, char *msg, size_t msglen)
{
	char *role = NULL, *v = NULL, *ak = NULL, *sk = NULL, *tok = NULL;
	struct s3_src *base = NULL;
	char *sts = NULL;
	int r = MG_ABSENT;

	*out = NULL;
	if (depth > PROFILE_DEPTH) {
		snprintf(msg, msglen, "profile '%s': source_profile chain longer than %d (a loop?): fix ~/.aws/config",
			 p, PROFILE_DEPTH);
		return MG_FATAL;
	}
	ak = pget(f, p, "aws_access_key_id");
	sk = pget(f, p, "aws_secret_access_key");
	tok = pget(f, p, "aws_session_token");
	role = pget(f, p, "role_arn");
	if (role) {
		sts = sts_url(f, p, region);
		if ((v = pget(f, p, "web_identity_token_file"))) {
			*out = web_identity_src(role, v, pget(f, p, "role_session_name"), sts, region);
			r = MG_OK;
			goto out;
		}
		if ((v = pget(f, p, "source_profile"))) {
			if (strcmp(v, p) == 0) {
				/* a profile that names itself: its own keys sign */
				if (!ak || !sk) {
					snprintf(msg, msglen, "profile '%s' is its own source_profile but has no aws_access_key_id and aws_secret_access_key",
						 p);
					r = MG_FATAL;
					goto out;
				}
				base = static_src(ak, sk, tok, "");
				free(base->what);
				base->what = mg_malloc(strlen(p) + 16);
				sprintf(base->what, "profile '%s'", p);
			} else {
				r = profile_src(f, v, region, depth + 1, &base, msg, msglen);
				if (r == MG_ABSENT) {
					snprintf(msg, msglen, "profile '%s': its source_profile '%s' holds no credentials: fix ~/.aws/config",
						 p, v);
					r = MG_FATAL;
				}
				if (r != MG_OK)
					goto out;
			}
		} else if ((v = pget(f, p, "credential_source"))) {
			if (strcmp(v, "Environment") == 0 && getenv("AWS_ACCESS_KEY_ID") &&
			    getenv("AWS_SECRET_ACCESS_KEY"))
				base = static_src(getenv("AWS_ACCESS_KEY_ID"),
						  getenv("AWS_SECRET_ACCESS_KEY"),
						  getenv("AWS_SESSION_TOKEN"), "environment");
			else if (strcmp(v, "EcsContainer") == 0)
				base = container_src();
			else if (strcmp(v, "Ec2InstanceMetadata") == 0)
				base = imds_src();
			if (!base) {
				snprintf(msg, msglen, "profile '%s': credential_source '%s' gives no credentials here (Environment, EcsContainer or Ec2InstanceMetadata)",
					 p, v);
				r = MG_FATAL;
				goto out;
			}
		} else {
			snprintf(msg, msglen, "profile '%s' has role_arn but no source_profile, credential_source or web_identity_token_file: add one",
				 p);
			r = MG_FATAL;
			goto out;
		}
		*out = src_new(SRC_ASSUME_ROLE, "assume role (role %s, signed by %s)", role, base->what);
		(*out)->base = base;
		base = NULL;
		(*out)->role_arn = role;
		role = NULL;
		(*out)->session = session_name(pget(f, p, "role_session_name"));
		(*out)->external_id = pget(f, p, "external_id");
		(*out)->sts_url = sts;
		sts = NULL;
		(*out)->region = dup_or_null(region);
		free(v);
		v = pget(f, p, "duration_seconds");
		(*out)->duration = v ? atol(v) : 0;
		r = MG_OK;
		goto out;
	}
	if (ak && sk) {
		char what[300];

		snprintf(what, sizeof(what), "profile '%s'", p);
		*out = static_src(ak, sk, tok, what);
		r = MG_OK;
	} else if ((v = pget(f, p, "credential_process"))) {
		*out = src_new(SRC_PROCESS, "credential_process (profile '%s')", p);
		(*out)->command = v;
		(*out)->profile = mg_strdup(p);
		v = NULL;
		r = MG_OK;
	}
out:
	src_free(base);
	free(role);
	free(v);
	free(sts);
	free(ak);
	wipe_free(sk);
	wipe_free(tok);
	return r;
}

/* Everything that makes two sources the same: the sharing key. */
static void src_id(const struct s3_src *s, struct mg_buf *b)
{
	char h[65];

	/* not the session name: a default one holds the time, and conns
	 * opened a second apart must still share */
	mg_buf_addf(b, "%d|%s|%s|%s|%s|%s|%s|%ld|%s|%s|%s|%s|%s|", (int)s->kind,
		    s->what, s->ak ? s->ak : "", s->role_arn ? s->role_arn : "",
		    s->token_file ? s->token_file : "", s->external_id ? s->external_id : "",
		    s->sts_url ? s->sts_url : "", s->duration, s->command ? s->command : "",
		    s->url ? s->url : "", s->auth_file ? s->auth_file : "",
		    s->imds ? s->imds : "", s->region ? s->region : "");
	/* secrets only as a hash: the id is never printed, but need not
	 * hold them either */
	if (s->sk) {
		s3_sha256_hex(s->sk, strlen(s->sk), h);
		mg_buf_adds(b, h);
	}
	if (s->tok) {
		s3_sha256_hex(s->tok, strlen(s->tok), h);
		mg_buf_adds(b, h);
	}
	if (s->auth) {
		s3_sha256_hex(s->auth, strlen(s->auth), h);
		mg_buf_adds(b, h);
	}
	if (s->base) {
		mg_buf_adds(b, "<");
		src_id(s->base, b);
	}
}

/* ---- configuration ---------------------------------------------------- */

int s3_config_resolve(const struct mg_endpoint *ep, struct s3_config *cfg,
		      char *msg, size_t msglen)
{
	const struct s3_options *o = s3_opts(ep);
	struct aws_files f;
	char section[300];
	const char *profile;
	int named, r = MG_OK;
	struct s3_src *src = NULL;

	memset(cfg, 0, sizeof(*cfg));
	files_init(&f);
	named = (o->profile && *o->profile) || (getenv("AWS_PROFILE") && *getenv("AWS_PROFILE"));
	profile = o->profile && *o->profile ? o->profile : getenv("AWS_PROFILE");
	if (!profile || !*profile)
		profile = "default";
	cfg->profile = mg_strdup(profile);
	conf_section(profile, section, sizeof(section));

	/* the region first: STS is signed and addressed in it */
	if (o->region && *o->region)
		cfg->region = mg_strdup(o->region);
	else if (!(cfg->region = env_dup("AWS_REGION")) &&
		 !(cfg->region = env_dup("AWS_DEFAULT_REGION")) &&
		 !(cfg->region = ini_get(f.conf, section, NULL, "region")))
		cfg->region = mg_strdup("us-east-1");

	if (o->access_key_id || o->secret_access_key) {
		if (!o->access_key_id || !o->secret_access_key) {
			snprintf(msg, msglen, "s3://%s: the plan sets only one of access_key_id "
				 "and secret_access_key: set both or neither", ep->host);
			r = MG_FATAL;
			goto out;
		}
		src = static_src(o->access_key_id, o->secret_access_key, o->session_token, "plan");
	} else if (!(o->profile && *o->profile) && getenv("AWS_ACCESS_KEY_ID") &&
		   getenv("AWS_SECRET_ACCESS_KEY")) {
		src = static_src(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"),
				 getenv("AWS_SESSION_TOKEN"), "environment");
	} else if (!(o->profile && *o->profile) && getenv("AWS_WEB_IDENTITY_TOKEN_FILE") &&
		   *getenv("AWS_WEB_IDENTITY_TOKEN_FILE") && getenv("AWS_ROLE_ARN") &&
		   *getenv("AWS_ROLE_ARN")) {
		char *sts = sts_url(&f, profile, cfg->region);

		src = web_identity_src(getenv("AWS_ROLE_ARN"), getenv("AWS_WEB_IDENTITY_TOKEN_FILE"),
				       env_dup("AWS_ROLE_SESSION_NAME"), sts, cfg->region);
		free(sts);
	} else {
		r = profile_src(&f, profile, cfg->region, 0, &src, msg, msglen);
		if (r == MG_FATAL)
			goto out;
		if (r == MG_ABSENT && named && !profile_exists(&f, profile)) {
			snprintf(msg, msglen, "no credentials for s3://%s: profile '%s' is in neither "
				 "~/.aws/credentials nor ~/.aws/config: fix the name or add it",
				 ep->host ? ep->host : "", profile);
			r = MG_FATAL;
			goto out;
		}
		r = MG_OK;
		if (!src && !(src = container_src()) && !(src = imds_src())) {
			snprintf(msg, msglen, "no credentials for s3://%s: set access_key_id and "
				 "secret_access_key in the plan, AWS_ACCESS_KEY_ID and "
				 "AWS_SECRET_ACCESS_KEY, AWS_WEB_IDENTITY_TOKEN_FILE and "
				 "AWS_ROLE_ARN, or profile '%s' in ~/.aws/credentials "
				 "(instance metadata is off: AWS_EC2_METADATA_DISABLED)",
				 ep->host ? ep->host : "", profile);
			r = MG_FATAL;
			goto out;
		}
	}
	cfg->source = mg_strdup(src->what);
	if (src->kind == SRC_STATIC) {
		cfg->access_key = mg_strdup(src->ak);
		cfg->secret_key = mg_strdup(src->sk);
		cfg->token = dup_or_null(src->tok);
	}
	cfg->src = src;
	src = NULL;

	if (o->endpoint && *o->endpoint)
		cfg->endpoint = mg_strdup(o->endpoint);
	else if (!(cfg->endpoint = env_dup("AWS_ENDPOINT_URL_S3")) &&
		 !(cfg->endpoint = env_dup("AWS_ENDPOINT_URL")) &&
		 !(cfg->endpoint = ini_get(f.conf, section, "s3", "endpoint_url")))
		cfg->endpoint = ini_get(f.conf, section, NULL, "endpoint_url");
out:
	src_free(src);
	files_release(&f);
	return r;
}

void s3_config_release(struct s3_config *cfg)
{
	keys_free(&cfg->access_key, &cfg->secret_key, &cfg->token);
	free(cfg->region);
	free(cfg->endpoint);
	free(cfg->profile);
	free(cfg->source);
	src_free(cfg->src);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- credential sets -------------------------------------------------- */

static struct s3_credset *credset_new(void)
{
	struct s3_credset *c = mg_calloc(1, sizeof(*c));

	c->refs = 1;
	return c;
}

void s3_credset_release(struct s3_credset *c)
{
	keys_free(&c->access_key, &c->secret_key, &c->token);
	free(c->role);
	c->role = NULL;
}

void s3_credset_put(struct s3_credset *c)
{
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		s3_credset_release(c);
		free(c);
	}
}

int64_t s3_creds_refresh_at(int64_t now, int64_t expires)
{
	const char *t = getenv("MG_TEST_CREDS_REFRESH_BEFORE");
	int64_t before = CREDS_REFRESH_BEFORE_S, life = expires - now;

	if (!expires)
		return 0;
	/* test hook: refresh this many seconds before the expiry, so a
	 * test sees a refresh without waiting out STS's 15 minutes */
	if (t && *t)
		before = atoll(t);
	else if (life < 2 * before)
		before = life / 2;	/* a short life: refresh at half of it */
	if (before < 0)
		before = 0;
	return expires - before;
}

/* Case-sensitive names as the three JSON answers spell them. */
static const char *jstr(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

int s3_creds_parse_json(const char *data, size_t len, int want_version,
			struct s3_credset *out, char *msg, size_t msglen)
{
	json_error_t je;
	json_t *j = json_loadb(data, len, 0, &je);
	const char *ak, *sk, *tok, *exp, *code;
	int r = -1, refs = out->refs;

	memset(out, 0, sizeof(*out));
	out->refs = refs;
	if (!j || !json_is_object(j)) {
		/* je.text may quote the document: never shown */
		snprintf(msg, msglen, "the answer is not a JSON object");
		goto out;
	}
	if (want_version) {
		json_t *v = json_object_get(j, "Version");

		if (!json_is_integer(v) || json_integer_value(v) != want_version) {
			snprintf(msg, msglen, "the output has no \"Version\": %d", want_version);
			goto out;
		}
	}
	/* IMDS says "Code": "Success"; anything else is its error */
	code = jstr(j, "Code");
	if (code && strcmp(code, "Success") != 0) {
		char pc[64];

		snprintf(msg, msglen, "the answer says \"Code\": \"%s\"",
			 mg_printable(code, pc, sizeof(pc)));
		goto out;
	}
	ak = jstr(j, "AccessKeyId");
	sk = jstr(j, "SecretAccessKey");
	tok = jstr(j, "Token");		/* container and IMDS */
	if (!tok)
		tok = jstr(j, "SessionToken");	/* credential_process */
	exp = jstr(j, "Expiration");
	if (!ak || !*ak || !sk || !*sk) {
		snprintf(msg, msglen, "the answer has no AccessKeyId and SecretAccessKey");
		goto out;
	}
	if (exp && !(out->expires = s3_parse_iso8601(exp) / 1000000000)) {
		snprintf(msg, msglen, "the answer's Expiration is not an ISO 8601 time");
		goto out;
	}
	out->access_key = mg_strdup(ak);
	out->secret_key = mg_strdup(sk);
	out->token = dup_or_null(tok);
	r = 0;
out:
	if (j)
		json_decref(j);
	return r;
}

struct sts_fields {
	struct s3_credset *set;
	char *exp, *code, *message;
};

static int ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && strcmp(s + a - b, tail) == 0 && (a == b || s[a - b - 1] == '/');
}

static void sts_elem(void *arg, const char *path, const char *text)
{
	struct sts_fields *f = arg;
	char **to = NULL;

	if (ends_with(path, "Credentials/AccessKeyId"))
		to = &f->set->access_key;
	else if (ends_with(path, "Credentials/SecretAccessKey"))
		to = &f->set->secret_key;
	else if (ends_with(path, "Credentials/SessionToken"))
		to = &f->set->token;
	else if (ends_with(path, "Credentials/Expiration"))
		to = &f->exp;
	else if (ends_with(path, "AssumedRoleUser/Arn"))
		to = &f->set->role;
	else if (strcmp(path, "Error/Code") == 0)
		to = &f->code;
	else if (strcmp(path, "Error/Message") == 0)
		to = &f->message;
	if (to && !*to)
		*to = mg_strdup(text);
}

int s3_sts_parse(const char *data, size_t len, struct s3_credset *out,
		 char *msg, size_t msglen)
{
	struct sts_fields f = { .set = out };
	struct s3_xml_cb cb = { sts_elem, &f };
	int r = -1, refs = out->refs;

	memset(out, 0, sizeof(*out));
	out->refs = refs;
	if (s3_xml_parse(data, len, &cb) != 0) {
		snprintf(msg, msglen, "the answer is not XML");
	} else if (f.code) {
		char pc[64], pm[200];

		snprintf(msg, msglen, "%s%s%s", mg_printable(f.code, pc, sizeof(pc)),
			 f.message ? ": " : "",
			 f.message ? mg_printable(f.message, pm, sizeof(pm)) : "");
	} else if (!out->access_key || !out->secret_key || !out->token) {
		snprintf(msg, msglen, "the answer holds no Credentials");
	} else if (!f.exp || !(out->expires = s3_parse_iso8601(f.exp) / 1000000000)) {
		snprintf(msg, msglen, "the answer's Expiration is not an ISO 8601 time");
	} else {
		r = 0;
	}
	if (r != 0)
		s3_credset_release(out);
	free(f.exp);
	free(f.code);
	free(f.message);
	return r;
}

/* ---- HTTP ------------------------------------------------------------- */

struct http_ans {
	long status;
	int cc;
	struct mg_buf body;
	char err[CURL_ERROR_SIZE];
};

static size_t http_body(char *data, size_t sz, size_t n, void *arg)
{
	struct http_ans *a = arg;

	return mg_buf_add(&a->body, data, sz * n) == 0 ? sz * n : 0;
}

/* One request; the answer's body in a->body (capped).  0 when an answer
 * came (any status), -1 when none did (a->err says why). */
static int http_call(const char *method, const char *url, struct curl_slist *hdrs,
		     const char *body, long timeout_ms, struct http_ans *a)
{
	CURL *c = curl_easy_init();
	const char *ca = getenv("AWS_CA_BUNDLE");

	mg_buf_release(&a->body);
	mg_buf_init(&a->body, CREDS_BODY_CAP);
	a->status = 0;
	a->err[0] = '\0';
	if (!c) {
		snprintf(a->err, sizeof(a->err), "cannot start libcurl");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, a->err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "migrate/" PACKAGE_VERSION);
	/* credentials never follow a redirect to another host */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");	/* metadata addresses are local */
	if (ca && *ca)
		curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "PUT") == 0 && !body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	}
	a->cc = (int)curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
	curl_easy_cleanup(c);
	if (a->cc != CURLE_OK) {
		if (!a->err[0])
			snprintf(a->err, sizeof(a->err), "%s", curl_easy_strerror(a->cc));
		return -1;
	}
	return 0;
}

/* Transient: worth another try (no answer, throttled, a server error). */
static int http_transient(int rc, const struct http_ans *a)
{
	return rc != 0 || a->status == 429 || a->status >= 500;
}

static const char *body_str(const struct http_ans *a)
{
	return a->body.buf ? a->body.buf : "";
}

/* The token in a file (a web identity token, a container authorization
 * token), surrounding white space dropped; NULL with msg when it cannot
 * be read or is empty.  The caller wipes it. */
static char *token_read(const char *path, const char *what, const char *name,
			char *msg, size_t msglen)
{
	FILE *f = fopen(path, "r");
	struct mg_buf b = MG_BUF_INIT;
	char chunk[4096], *t;
	size_t n;

	if (!f) {
		snprintf(msg, msglen, "%s: cannot read %s '%s': %s", what, name, path,
			 strerror(errno));
		return NULL;
	}
	mg_buf_init(&b, 1 << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && mg_buf_add(&b, chunk, n) == 0)
		;
	fclose(f);
	memset(chunk, 0, sizeof(chunk));
	t = b.buf ? mg_strdup(trim(b.buf)) : NULL;
	buf_wipe(&b);
	if (!t || !*t) {
		wipe_free(t);
		snprintf(msg, msglen, "%s: %s '%s' is empty", what, name, path);
		return NULL;
	}
	return t;
}

/* ---- STS -------------------------------------------------------------- */

static void form_add(struct mg_buf *b, const char *name, const char *value)
{
	if (b->len)
		mg_buf_adds(b, "&");
	mg_buf_adds(b, name);
	mg_buf_adds(b, "=");
	s3_uri_encode(b, value, strlen(value), 0);
}

/* The host[:port] and the path of an http(s) url, or -1. */
static int url_split(const char *url, char *host, size_t hostlen, const char **path)
{
	const char *p = strstr(url, "://"), *e;

	if (!p)
		return -1;
	p += 3;
	e = p + strcspn(p, "/?#");
	if (e == p || (size_t)(e - p) >= hostlen)
		return -1;
	memcpy(host, p, (size_t)(e - p));
	host[e - p] = '\0';
	*path = *e == '/' ? e : "/";
	return 0;
}

static int creds_fetch(struct s3_src *s, struct s3_credset **out, char *msg, size_t msglen);

/*
 * AssumeRole (signed with the base's credentials) or
 * AssumeRoleWithWebIdentity (unsigned: the token is the proof), as a
 * POST form to STS.
 */
static int sts_fetch(struct s3_src *s, struct s3_credset **out, char *msg, size_t msglen)
{
	struct mg_buf form = MG_BUF_INIT, line = MG_BUF_INIT;
	struct s3_credset *base = NULL, *set;
	struct curl_slist *sl = NULL;
	struct http_ans a = { 0 };
	char host[256], dur[24], why[300];
	const char *path, *action;
	int r = MG_FATAL, rc = -1;

	if (url_split(s->sts_url, host, sizeof(host), &path) != 0) {
		snprintf(msg, msglen, "%s: bad STS endpoint '%s': fix AWS_ENDPOINT_URL_STS or the profile's endpoint_url",
			 s->what, s->sts_url);
		return MG_FATAL;
	}
	action = s->kind == SRC_WEB_IDENTITY ? "AssumeRoleWithWebIdentity" : "AssumeRole";
	form_add(&form, "Action", action);
	form_add(&form, "Version", "2011-06-15");
	form_add(&form, "RoleArn", s->role_arn);
	form_add(&form, "RoleSessionName", s->session);
	if (s->duration > 0) {
		snprintf(dur, sizeof(dur), "%ld", s->duration);
		form_add(&form, "DurationSeconds", dur);
	}
	if (s->external_id)
		form_add(&form, "ExternalId", s->external_id);
	if (s->kind == SRC_WEB_IDENTITY) {
		/* read every time: the kubelet rotates the file */
		char *tok = token_read(s->token_file, s->what, "the token file", msg, msglen);

		if (!tok)
			goto out;
		form_add(&form, "WebIdentityToken", tok);
		wipe_free(tok);
	} else if (creds_fetch(s->base, &base, why, sizeof(why)) != MG_OK) {
		snprintf(msg, msglen, "%s: %s", s->what, why);
		goto out;
	}

	for (int attempt = 1; attempt <= STS_TRIES; attempt++) {
		struct s3_signed sig;

		curl_slist_free_all(sl);
		sl = curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
		sl = curl_slist_append(sl, "Accept: application/xml");
		sl = curl_slist_append(sl, "Expect:");
		s3_signed_init(&sig);
		if (base) {
			char hash[65];
			struct s3_kv h[] = {
				{ "Content-Type", "application/x-www-form-urlencoded; charset=utf-8" },
				{ "Host", host },
			};
			struct s3_sign_cfg cfg = {
				.access_key = base->access_key, .secret_key = base->secret_key,
				.token = base->token, .region = s->region ? s->region : "us-east-1",
				.service = "sts", .when = time(NULL), .normalize = 1,
			};
			struct s3_sign_req sr = {
				.method = "POST", .path = path, .headers = h, .nheaders = 2,
				.payload_hash = hash,
			};

			s3_sha256_hex(form.buf, form.len, hash);
			s3_sign_header(&cfg, &sr, &sig);
			mg_buf_reset(&line);
			mg_buf_addf(&line, "X-Amz-Date: %s", sig.amz_date);
			sl = curl_slist_append(sl, line.buf);
			if (base->token) {
				mg_buf_reset(&line);
				mg_buf_addf(&line, "X-Amz-Security-Token: %s", base->token);
				sl = curl_slist_append(sl, line.buf);
			}
			mg_buf_reset(&line);
			mg_buf_addf(&line, "Authorization: %s", sig.authorization.buf);
			sl = curl_slist_append(sl, line.buf);
			memset(line.buf, 0, line.alloc);
		}
		s3_signed_release(&sig);
		rc = http_call("POST", s->sts_url, sl, form.buf, STS_TIMEOUT_MS, &a);
		if (!http_transient(rc, &a) || attempt == STS_TRIES)
			break;
		if (mg_nap(200L << attempt) < 0)
			break;
	}
	if (rc != 0) {
		snprintf(msg, msglen, "%s: no answer from STS at '%s' (%s): check AWS_ENDPOINT_URL_STS and the network",
			 s->what, s->sts_url, a.err);
		goto out;
	}
	set = credset_new();
	if (s3_sts_parse(body_str(&a), a.body.len, set, why, sizeof(why)) != 0) {
		free(set);
		snprintf(msg, msglen, "%s: STS at '%s' refused %s (http %ld): %s", s->what,
			 s->sts_url, action, a.status, why);
		r = a.status == 429 || a.status >= 500 ? MG_RETRY : MG_FATAL;
		goto out;
	}
	*out = set;
	r = MG_OK;
out:
	curl_slist_free_all(sl);
	s3_credset_put(base);
	buf_wipe(&form);
	mg_buf_release(&line);
	buf_wipe(&a.body);
	return r;
}

/* ---- credential_process ----------------------------------------------- */

/*
 * Runs the command through /bin/sh -c, as the Go and Java SDKs do
 * (botocore splits it shell-like and runs it without a shell; quoting
 * that works there works here).  stdin and stderr are ours; stdout is
 * read as the JSON document and never shown, not even on error.
 */
static int process_fetch(struct s3_src *s, struct s3_credset **out, char *msg, size_t msglen)
{
	posix_spawn_file_actions_t fa;
	char *argv[] = { "sh", "-c", s->command, NULL };
	struct mg_buf o = MG_BUF_INIT;
	struct s3_credset *set;
	int fd[2], st = 0, r = MG_FATAL, err;
	char chunk[4096], why[200];
	pid_t pid;
	ssize_t n;

	if (pipe2(fd, O_CLOEXEC) != 0) {
		snprintf(msg, msglen, "%s: cannot make a pipe: %s", s->what, strerror(errno));
		return MG_FATAL;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
	err = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(fd[1]);
	if (err != 0) {
		close(fd[0]);
		snprintf(msg, msglen, "%s: cannot run /bin/sh: %s", s->what, strerror(err));
		return MG_FATAL;
	}
	mg_buf_init(&o, PROCESS_OUT_CAP);
	while ((n = read(fd[0], chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || mg_buf_add(&o, chunk, (size_t)n) != 0)
			break;
	}
	close(fd[0]);
	memset(chunk, 0, sizeof(chunk));
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFEXITED(st))
			snprintf(msg, msglen, "%s: the command exited with status %d (its output is not shown: it may hold secrets)",
				 s->what, WEXITSTATUS(st));
		else
			snprintf(msg, msglen, "%s: the command was killed by signal %d",
				 s->what, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		goto out;
	}
	set = credset_new();
	if (s3_creds_parse_json(o.buf ? o.buf : "", o.len, 1, set, why, sizeof(why)) != 0) {
		free(set);
		snprintf(msg, msglen, "%s: %s (expected the AWS credential_process JSON, Version 1)",
			 s->what, why);
		goto out;
	}
	*out = set;
	r = MG_OK;
out:
	buf_wipe(&o);
	return r;
}

/* The set in a container or IMDS answer, or NULL with msg. */
static struct s3_credset *json_set(const struct s3_src *s, const struct http_ans *a,
				   char *msg, size_t msglen)
{
	struct s3_credset *set = credset_new();
	char why[200];

	if (s3_creds_parse_json(body_str(a), a->body.len, 0, set, why, sizeof(why)) == 0)
		return set;
	free(set);
	snprintf(msg, msglen, "%s: %s", s->what, why);
	return NULL;
}

/* ---- container credentials -------------------------------------------- */

/*
 * AWS_CONTAINER_CREDENTIALS_FULL_URI over http only to a loopback
 * address or the ECS/EKS agents' link-local ones, as the SDKs require:
 * the token travels with the request.
 */
int s3_container_url_ok(const char *url)
{
	char host[256];
	const char *path, *h;
	size_t l;
	struct in_addr a4;

	if (strncasecmp(url, "https://", 8) == 0)
		return 1;
	if (strncasecmp(url, "http://", 7) != 0 || url_split(url, host, sizeof(host), &path) != 0)
		return 0;
	h = host;
	if (*h == '[') {
		char *e = strchr(host, ']');

		if (!e)
			return 0;
		*e = '\0';
		h = host + 1;
		return strcmp(h, "::1") == 0 || strcasecmp(h, "fd00:ec2::23") == 0;
	}
	l = strcspn(h, ":");
	host[h - host + l] = '\0';
	if (strcasecmp(h, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, h, &a4) != 1)
		return 0;
	return (ntohl(a4.s_addr) >> 24) == 127 || strcmp(h, "169.254.170.2") == 0 ||
	       strcmp(h, "169.254.170.23") == 0;
}

static int container_fetch(struct s3_src *s, struct s3_credset **out, char *msg, size_t msglen)
{
	struct curl_slist *sl = NULL;
	struct http_ans a = { 0 };
	struct mg_buf line = MG_BUF_INIT;
	struct s3_credset *set;
	int r = MG_FATAL, rc = -1;

	if (!s3_container_url_ok(s->url)) {
		snprintf(msg, msglen, "%s: AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback address or 169.254.170.2/169.254.170.23",
			 s->what);
		return MG_FATAL;
	}
	if (s->auth_file || s->auth) {
		char *tok = NULL;

		/* the file is read every time: EKS rotates it */
		tok = s->auth_file ? token_read(s->auth_file, s->what,
						"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", msg, msglen)
				   : mg_strdup(s->auth);
		if (!tok)
			return MG_FATAL;
		if (strpbrk(tok, "\r\n")) {
			wipe_free(tok);
			snprintf(msg, msglen, "%s: the authorization token holds a line break",
				 s->what);
			return MG_FATAL;
		}
		mg_buf_addf(&line, "Authorization: %s", tok);
		wipe_free(tok);
		sl = curl_slist_append(sl, line.buf);
		memset(line.buf, 0, line.alloc);
	}
	sl = curl_slist_append(sl, "Accept: application/json");
	for (int attempt = 1; attempt <= STS_TRIES; attempt++) {
		rc = http_call("GET", s->url, sl, NULL, STS_TIMEOUT_MS / 2, &a);
		if (!http_transient(rc, &a) || attempt == STS_TRIES || mg_nap(200L << attempt) < 0)
			break;
	}
	if (rc != 0) {
		snprintf(msg, msglen, "%s: no answer (%s)", s->what, a.err);
		goto out;
	}
	if (a.status != 200) {
		snprintf(msg, msglen, "%s: http %ld%s", s->what, a.status,
			 a.status == 401 || a.status == 403 ? " (check the authorization token)" : "");
		r = a.status >= 500 ? MG_RETRY : MG_FATAL;
		goto out;
	}
	if (!(set = json_set(s, &a, msg, msglen)))
		goto out;
	*out = set;
	r = MG_OK;
out:
	curl_slist_free_all(sl);
	mg_buf_release(&line);
	buf_wipe(&a.body);
	return r;
}

/* ---- EC2 instance metadata -------------------------------------------- */

/* One IMDS request with the token (NULL: IMDSv1), tried IMDS_TRIES times. */
static int imds_call(const struct s3_src *s, const char *method, const char *path,
		     const char *token, struct http_ans *a)
{
	struct mg_buf url = MG_BUF_INIT, line = MG_BUF_INIT;
	struct curl_slist *sl = NULL;
	int rc = -1;

	mg_buf_addf(&url, "%s%s", s->imds, path);
	if (token) {
		mg_buf_addf(&line, "X-aws-ec2-metadata-token: %s", token);
		sl = curl_slist_append(sl, line.buf);
		memset(line.buf, 0, line.alloc);
	} else if (strcmp(method, "PUT") == 0) {
		sl = curl_slist_append(sl, "X-aws-ec2-metadata-token-ttl-seconds: " IMDS_TOKEN_TTL);
	}
	for (int attempt = 1; attempt <= IMDS_TRIES; attempt++) {
		rc = http_call(method, url.buf, sl, NULL, IMDS_TIMEOUT_MS, a);
		if (!http_transient(rc, a))
			break;
	}
	curl_slist_free_all(sl);
	mg_buf_release(&url);
	mg_buf_release(&line);
	return rc;
}

/*
 * IMDSv2: PUT /latest/api/token (TTL header), then the role name and the
 * role's credentials with the token.  IMDSv1 (no token) only when the
 * PUT is answered 403, 404 or 405 (an IMDS that predates tokens or
 * refuses them: botocore and the Go and Java SDKs fall back then), and
 * never with AWS_EC2_METADATA_V1_DISABLED=true.  A PUT with no answer
 * is not a reason to fall back: in a container behind a hop limit of 1
 * the token's answer never arrives, and the message says to raise it.
 */
static int imds_fetch(struct s3_src *s, struct s3_credset **out, char *msg, size_t msglen)
{
	struct http_ans a = { 0 };
	char *token = NULL, *role = NULL;
	struct mg_buf path = MG_BUF_INIT;
	struct s3_credset *set;
	int r = MG_FATAL;

	if (imds_call(s, "PUT", "/latest/api/token", NULL, &a) != 0) {
		snprintf(msg, msglen, "%s: no token (%s): not on EC2, or the hop limit of the instance's metadata options is 1 where a container needs 2",
			 s->what, a.err);
		goto out;
	}
	if (a.status == 200 && a.body.len) {
		token = mg_strdup(body_str(&a));
	} else if (!(s->imds_v1 && (a.status == 403 || a.status == 404 || a.status == 405))) {
		snprintf(msg, msglen, "%s: the token request was answered http %ld%s", s->what,
			 a.status, s->imds_v1 ? "" : " (IMDSv1 is off: AWS_EC2_METADATA_V1_DISABLED)");
		goto out;
	}
	if (imds_call(s, "GET", "/latest/meta-data/iam/security-credentials/", token, &a) != 0 ||
	    a.status != 200 || !a.body.len) {
		snprintf(msg, msglen, "%s: no IAM role on this instance (%s%ld): attach an instance profile",
			 s->what, a.err[0] ? a.err : "http ", a.err[0] ? 0L : a.status);
		goto out;
	}
	role = mg_strndup(body_str(&a), strcspn(body_str(&a), "\r\n"));
	if (!*role || strchr(role, '/') || strchr(role, '?') || strchr(role, '#')) {
		snprintf(msg, msglen, "%s: the role name it gave is not usable", s->what);
		goto out;
	}
	mg_buf_addf(&path, "/latest/meta-data/iam/security-credentials/%s", role);
	if (imds_call(s, "GET", path.buf, token, &a) != 0 || a.status != 200) {
		char pr[128];

		snprintf(msg, msglen, "%s: no credentials for role '%s' (%s%ld)", s->what,
			 mg_printable(role, pr, sizeof(pr)), a.err[0] ? a.err : "http ",
			 a.err[0] ? 0L : a.status);
		r = MG_RETRY;
		goto out;
	}
	if (!(set = json_set(s, &a, msg, msglen)))
		goto out;
	set->role = role;
	role = NULL;
	*out = set;
	r = MG_OK;
out:
	wipe_free(token);
	free(role);
	mg_buf_release(&path);
	buf_wipe(&a.body);
	return r;
}

/* ---- the provider ----------------------------------------------------- */

/* A fresh set from s (no caching: the provider caches). */
static int creds_fetch(struct s3_src *s, struct s3_credset **out, char *msg, size_t msglen)
{
	struct s3_credset *c;

	*out = NULL;
	switch (s->kind) {
	case SRC_STATIC:
		c = credset_new();
		c->access_key = mg_strdup(s->ak);
		c->secret_key = mg_strdup(s->sk);
		c->token = dup_or_null(s->tok);
		*out = c;
		return MG_OK;
	case SRC_WEB_IDENTITY:
	case SRC_ASSUME_ROLE:
		return sts_fetch(s, out, msg, msglen);
	case SRC_PROCESS:
		return process_fetch(s, out, msg, msglen);
	case SRC_CONTAINER:
		return container_fetch(s, out, msg, msglen);
	case SRC_IMDS:
		return imds_fetch(s, out, msg, msglen);
	}
	snprintf(msg, msglen, "unknown credential source");
	return MG_FATAL;
}

/* Needs c->mu.  Publishes set as the current one. */
static void creds_publish(struct s3_creds *c, struct s3_credset *set, int64_t now)
{
	s3_credset_put(c->cur);
	c->cur = set;
	c->refresh_at = s3_creds_refresh_at(now, set->expires);
	c->retry_at = 0;
}

static int set_usable(const struct s3_credset *set, int64_t now)
{
	return set && (!set->expires || now < set->expires - CREDS_MARGIN_S);
}

struct s3_credset *s3_creds_get(struct s3_creds *c, char *msg, size_t msglen)
{
	struct s3_credset *set = NULL;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		int64_t now = (int64_t)time(NULL);

		if (c->cur && (!c->refresh_at || now < c->refresh_at || now < c->retry_at) &&
		    set_usable(c->cur, now))
			break;
		if (c->refreshing) {
			/* another worker refreshes: keep signing with the
			 * current set while it is good, else wait for the new */
			if (set_usable(c->cur, now))
				break;
			pthread_cond_wait(&c->cv, &c->mu);
			continue;
		}
		c->refreshing = 1;
		pthread_mutex_unlock(&c->mu);
		{
			struct s3_credset *fresh = NULL;
			int r = creds_fetch(c->src, &fresh, msg, msglen);

			pthread_mutex_lock(&c->mu);
			c->refreshing = 0;
			pthread_cond_broadcast(&c->cv);
			now = (int64_t)time(NULL);
			if (r == MG_OK) {
				creds_publish(c, fresh, now);
				break;
			}
			if (set_usable(c->cur, now)) {
				/* the old set still works: try again later */
				c->retry_at = now + CREDS_RETRY_S;
				break;
			}
			pthread_mutex_unlock(&c->mu);
			return NULL;
		}
	}
	set = c->cur;
	__atomic_add_fetch(&set->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&c->mu);
	return set;
}

void s3_creds_expired(struct s3_creds *c, const struct s3_credset *seen)
{
	pthread_mutex_lock(&c->mu);
	/* only if no one replaced it yet: one refresh per expiry */
	if (c->cur == seen && c->src->kind != SRC_STATIC) {
		c->refresh_at = 1;
		c->retry_at = 0;
		c->cur->expires = 1;	/* unusable: every worker waits for the new set */
	}
	pthread_mutex_unlock(&c->mu);
}

int s3_creds_refreshable(const struct s3_creds *c)
{
	return c->src->kind != SRC_STATIC;
}

const char *s3_creds_source(const struct s3_creds *c)
{
	return c->src->what;
}

int s3_creds_open(struct s3_config *cfg, struct s3_creds **out, char *msg, size_t msglen)
{
	struct mg_buf id = MG_BUF_INIT;
	struct s3_creds *c;
	struct s3_credset *set;
	char why[400];

	*out = NULL;
	if (!cfg->src) {
		snprintf(msg, msglen, "no credential source");
		return MG_FATAL;
	}
	src_id(cfg->src, &id);
	pthread_mutex_lock(&list_mu);
	for (c = list_head; c; c = c->next)
		if (strcmp(c->id, id.buf) == 0)
			break;
	if (c) {
		c->refs++;
		mg_buf_release(&id);
	} else {
		c = mg_calloc(1, sizeof(*c));
		pthread_mutex_init(&c->mu, NULL);
		pthread_cond_init(&c->cv, NULL);
		c->src = cfg->src;
		cfg->src = NULL;
		c->id = mg_buf_detach(&id);
		c->refs = 1;
		c->next = list_head;
		list_head = c;
	}
	pthread_mutex_unlock(&list_mu);

	/* the first set now: a source that gives none fails the open */
	set = s3_creds_get(c, why, sizeof(why));
	if (!set) {
		snprintf(msg, msglen, "cannot get credentials for this endpoint from %s", why);
		s3_creds_close(c);
		return MG_FATAL;
	}
	s3_credset_put(set);
	*out = c;
	return MG_OK;
}

void s3_creds_close(struct s3_creds *c)
{
	struct s3_creds **pp;

	if (!c)
		return;
	pthread_mutex_lock(&list_mu);
	if (--c->refs > 0) {
		pthread_mutex_unlock(&list_mu);
		return;
	}
	for (pp = &list_head; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_mutex_unlock(&list_mu);
	s3_credset_put(c->cur);
	src_free(c->src);
	free(c->id);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

int s3_describe(const struct mg_endpoint *ep, struct mg_buf *out)
{
	struct s3_config cfg;
	char msg[512];

	/* a plan checked on a machine without the run's credentials (CI)
	 * is still a valid plan: say so, do not fail */
	if (s3_config_resolve(ep, &cfg, msg, sizeof(msg)) == MG_OK)
		mg_buf_addf(out, "credentials: %s", cfg.source);
	else
		mg_buf_addf(out, "credentials: none here (%s)", msg);
	s3_config_release(&cfg);
	return 0;
}
