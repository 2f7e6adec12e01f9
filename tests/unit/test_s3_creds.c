/*
 * test_s3_creds.c - the credential chain's parts that need no server
 * (connectors/s3_creds.c): the JSON of credential_process, the container
 * endpoint and IMDS; STS answers and errors; when a set is refreshed;
 * which source the chain picks, in the SDKs' order, from a throw-away
 * HOME; which container urls are allowed.  The fetching itself runs
 * against moto and tests/imds_server.py in tests/integration/s3_creds.sh.
 */
#define _GNU_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MG_S3_INTERNAL 1
#include "s3_private.h"
#include "plan.h"

static char home[256];
static struct s3_options opt;

static const char *const env_names[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"MG_TEST_CREDS_REFRESH_BEFORE", NULL
};

static void clear_env(void)
{
	for (int i = 0; env_names[i]; i++)
		unsetenv(env_names[i]);
}

static void write_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char path[512];

	(void)state;
	snprintf(home, sizeof(home), "%s/mg-creds-home.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(home));
	snprintf(path, sizeof(path), "%s/.aws", home);
	mkdir(path, 0700);
	setenv("HOME", home, 1);
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	clear_env();
	write_file(".aws/credentials",
		   "[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n"
		   "[self]\naws_access_key_id = AKSELF\naws_secret_access_key = SKSELF\n"
		   "role_arn = arn:aws:iam::1:role/self\nsource_profile = self\n");
	write_file(".aws/config",
		   "[default]\nregion = eu-west-1\n"
		   "[profile a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = base\n"
		   "sts =\n  endpoint_url = http://127.0.0.1:9\n"
		   "[profile b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = a\n"
		   "[profile loop1]\nrole_arn = arn:aws:iam::1:role/l1\nsource_profile = loop2\n"
		   "[profile loop2]\nrole_arn = arn:aws:iam::1:role/l2\nsource_profile = loop1\n"
		   "[profile wi]\nrole_arn = arn:aws:iam::1:role/wi\n"
		   "web_identity_token_file = /var/run/token\n"
		   "[profile proc]\ncredential_process = /bin/echo hi\n"
		   "[profile norole]\nrole_arn = arn:aws:iam::1:role/x\n"
		   "[profile empty]\nregion = us-west-1\n");
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", home);
	return system(cmd) == 0 ? 0 : -1;
}

static void ep_init(struct mg_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	memset(&opt, 0, sizeof(opt));
	ep->host = "bkt";
	ep->path = "";
	ep->opts = &opt;
	opt.path_style = -1;
	clear_env();
}

static int resolve(struct mg_endpoint *ep, struct s3_config *c, char *msg)
{
	return s3_config_resolve(ep, c, msg, 512);
}

static void test_chain_order(void **state)
{
	struct mg_endpoint ep;
	struct s3_config c;
	char msg[512];

	(void)state;
	ep_init(&ep);
	/* web identity in the environment, static keys in the environment:
	 * the keys come first */
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/t", 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/env", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_OK);
	assert_string_equal(c.source, "environment");
	s3_config_release(&c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	/* then web identity, before any profile */
	setenv("AWS_PROFILE", "a", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_OK);
	assert_string_equal(c.source, "web identity (role arn:aws:iam::1:role/env)");
	assert_null(c.access_key);	/* nothing static: fetched at open */
	s3_config_release(&c);
	/* the plan's profile beats the environment's web identity */
	opt.profile = "proc";
	assert_int_equal(resolve(&ep, &c, msg), MG_OK);
	assert_string_equal(c.source, "credential_process (profile 'proc')");
	s3_config_release(&c);
	opt.profile = NULL;
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	/* a role chained two deep, with the STS endpoint of the profile */
	setenv("AWS_PROFILE", "b", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_OK);
	assert_string_equal(c.source, "assume role (role arn:aws:iam::1:role/b, signed by "
			    "assume role (role arn:aws:iam::1:role/a, signed by profile 'base'))");
	s3_config_release(&c);
	/* a profile that is its own source_profile signs with its keys */
	setenv("AWS_PROFILE", "self", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_OK);
	assert_string_equal(c.source, "assume role (role arn:aws:iam::1:role/self, signed by profile 'self')");
	s3_config_release(&c);
	setenv("AWS_PROFILE", "wi", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_OK);
	assert_string_equal(c.source, "web identity (role arn:aws:iam::1:role/wi)");
	s3_config_release(&c);
	/* broken chains are errors that say what to fix */
	setenv("AWS_PROFILE", "loop1", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_FATAL);
	assert_non_null(strstr(msg, "a loop?"));
	s3_config_release(&c);
	setenv("AWS_PROFILE", "norole", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_FATAL);
	assert_non_null(strstr(msg, "profile 'norole' has role_arn but no source_profile"));
	s3_config_release(&c);
	/* a profile with nothing: container credentials, then IMDS */
	setenv("AWS_PROFILE", "empty", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/c", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_OK);
	assert_string_equal(c.source, "container credentials (http://169.254.170.2/v2/credentials/x)");
	s3_config_release(&c);
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	assert_int_equal(resolve(&ep, &c, msg), MG_OK);
	assert_string_equal(c.source, "container credentials (http://127.0.0.1:1/c)");
	s3_config_release(&c);
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:2/", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_OK);
	assert_string_equal(c.source, "EC2 instance metadata (http://127.0.0.1:2)");
	s3_config_release(&c);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	assert_int_equal(resolve(&ep, &c, msg), MG_FATAL);
	assert_non_null(strstr(msg, "no credentials for s3://bkt"));
	s3_config_release(&c);
	clear_env();
}

static void test_describe(void **state)
{
	struct mg_endpoint ep;
	struct mg_buf b = MG_BUF_INIT;

	(void)state;
	ep_init(&ep);
	opt.access_key_id = "AKPLAN";
	opt.secret_access_key = "SKPLANSECRET";
	assert_int_equal(s3_describe(&ep, &b), 0);
	assert_string_equal(b.buf, "credentials: plan");
	mg_buf_release(&b);
	opt.access_key_id = opt.secret_access_key = NULL;
	setenv("AWS_PROFILE", "nosuch", 1);
	assert_int_equal(s3_describe(&ep, &b), 0);
	assert_non_null(strstr(b.buf, "credentials: none here (no credentials for s3://bkt: profile 'nosuch'"));
	mg_buf_release(&b);
	clear_env();
}

static void test_json(void **state)
{
	struct s3_credset s = { 0 };
	char msg[256];
	const char proc[] = "{\"Version\": 1, \"AccessKeyId\": \"AKP\", \"SecretAccessKey\": \"SKP\","
			    " \"SessionToken\": \"TP\", \"Expiration\": \"2030-01-02T03:04:05Z\"}";
	const char imds[] = "{\"Code\": \"Success\", \"LastUpdated\": \"2030-01-01T00:00:00Z\","
			    " \"Type\": \"AWS-HMAC\", \"AccessKeyId\": \"AKI\", \"SecretAccessKey\": \"SKI\","
			    " \"Token\": \"TI\", \"Expiration\": \"2030-01-02T03:04:05.123Z\"}";

	(void)state;
	assert_int_equal(s3_creds_parse_json(proc, strlen(proc), 1, &s, msg, sizeof(msg)), 0);
	assert_string_equal(s.access_key, "AKP");
	assert_string_equal(s.secret_key, "SKP");
	assert_string_equal(s.token, "TP");
	assert_int_equal(s.expires, 1893553445);
	s3_credset_release(&s);
	assert_int_equal(s3_creds_parse_json(imds, strlen(imds), 0, &s, msg, sizeof(msg)), 0);
	assert_string_equal(s.token, "TI");
	assert_int_equal(s.expires, 1893553445);
	s3_credset_release(&s);
	/* no Version 1: refused, and the message quotes nothing of it */
	assert_int_equal(s3_creds_parse_json(imds, strlen(imds), 1, &s, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "Version"));
	assert_null(strstr(msg, "SKI"));
	/* a static set from a process: no token, no expiry */
	{
		const char st[] = "{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}";

		assert_int_equal(s3_creds_parse_json(st, strlen(st), 1, &s, msg, sizeof(msg)), 0);
		assert_null(s.token);
		assert_int_equal(s.expires, 0);
		s3_credset_release(&s);
	}
	assert_int_equal(s3_creds_parse_json("not json SECRETX", 16, 0, &s, msg, sizeof(msg)), -1);
	assert_null(strstr(msg, "SECRETX"));
	{
		const char bad[] = "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":\"A\"}";

		assert_int_equal(s3_creds_parse_json(bad, strlen(bad), 0, &s, msg, sizeof(msg)), -1);
		assert_non_null(strstr(msg, "AssumeRoleUnauthorizedAccess"));
	}
	{
		const char noexp[] = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"soon\"}";

		assert_int_equal(s3_creds_parse_json(noexp, strlen(noexp), 0, &s, msg, sizeof(msg)), -1);
		assert_non_null(strstr(msg, "Expiration"));
	}
}

static void test_sts(void **state)
{
	struct s3_credset s = { 0 };
	char msg[256];
	const char ok[] =
		"<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
		"<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAX</AccessKeyId>"
		"<SecretAccessKey>SKX</SecretAccessKey><SessionToken>TX</SessionToken>"
		"<Expiration>2030-01-02T03:04:05.921223Z</Expiration></Credentials>"
		"<AssumedRoleUser><AssumedRoleId>ARO:s</AssumedRoleId>"
		"<Arn>arn:aws:sts::1:assumed-role/x/s</Arn></AssumedRoleUser>"
		"</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
	const char err[] =
		"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error>"
		"<Type>Sender</Type><Code>InvalidIdentityToken</Code>"
		"<Message>Incorrect token audience</Message></Error></ErrorResponse>";

	(void)state;
	assert_int_equal(s3_sts_parse(ok, strlen(ok), &s, msg, sizeof(msg)), 0);
	assert_string_equal(s.access_key, "ASIAX");
	assert_string_equal(s.secret_key, "SKX");
	assert_string_equal(s.token, "TX");
	assert_string_equal(s.role, "arn:aws:sts::1:assumed-role/x/s");
	assert_int_equal(s.expires, 1893553445);
	s3_credset_release(&s);
	assert_int_equal(s3_sts_parse(err, strlen(err), &s, msg, sizeof(msg)), -1);
	assert_string_equal(msg, "InvalidIdentityToken: Incorrect token audience");
	assert_null(s.access_key);
	assert_int_equal(s3_sts_parse("<x>", 3, &s, msg, sizeof(msg)), -1);
	assert_int_equal(s3_sts_parse("<R><Credentials><AccessKeyId>A</AccessKeyId></Credentials></R>",
				      62, &s, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "no Credentials"));
}

static void test_refresh_at(void **state)
{
	(void)state;
	unsetenv("MG_TEST_CREDS_REFRESH_BEFORE");
	assert_int_equal(s3_creds_refresh_at(1000, 0), 0);	/* static: never */
	/* an hour: 5 minutes before */
	assert_int_equal(s3_creds_refresh_at(1000, 1000 + 3600), 1000 + 3600 - 300);
	/* 15 minutes (STS's least): still 5 minutes before */
	assert_int_equal(s3_creds_refresh_at(1000, 1000 + 900), 1000 + 600);
	/* shorter than 10 minutes: at half its life */
	assert_int_equal(s3_creds_refresh_at(1000, 1000 + 120), 1000 + 60);
	/* already expired: at once */
	assert_true(s3_creds_refresh_at(1000, 990) <= 1000);
	setenv("MG_TEST_CREDS_REFRESH_BEFORE", "899", 1);
	assert_int_equal(s3_creds_refresh_at(1000, 1000 + 900), 1001);
	unsetenv("MG_TEST_CREDS_REFRESH_BEFORE");
}

static void test_container_urls(void **state)
{
	(void)state;
	assert_true(s3_container_url_ok("https://creds.example.com/x"));
	assert_true(s3_container_url_ok("http://127.0.0.1:8080/creds"));
	assert_true(s3_container_url_ok("http://127.1.2.3/creds"));
	assert_true(s3_container_url_ok("http://localhost/creds"));
	assert_true(s3_container_url_ok("http://[::1]:80/creds"));
	assert_true(s3_container_url_ok("http://169.254.170.2/v2/credentials"));
	assert_true(s3_container_url_ok("http://169.254.170.23/v1/credentials"));
	assert_true(s3_container_url_ok("http://[fd00:ec2::23]/v1/credentials"));
	assert_false(s3_container_url_ok("http://192.0.2.1/creds"));
	assert_false(s3_container_url_ok("http://example.com/creds"));
	assert_false(s3_container_url_ok("http://127.0.0.1.evil.com/creds"));
	assert_false(s3_container_url_ok("ftp://127.0.0.1/creds"));
}

/* A static source through the provider: shared, one set, never refreshed. */
static void test_provider_static(void **state)
{
	struct mg_endpoint ep;
	struct s3_config c1, c2;
	struct s3_creds *p1, *p2;
	struct s3_credset *a, *b;
	char msg[512];

	(void)state;
	ep_init(&ep);
	opt.access_key_id = "AKPLAN";
	opt.secret_access_key = "SKPLAN";
	assert_int_equal(resolve(&ep, &c1, msg), MG_OK);
	assert_int_equal(resolve(&ep, &c2, msg), MG_OK);
	assert_int_equal(s3_creds_open(&c1, &p1, msg, sizeof(msg)), MG_OK);
	assert_int_equal(s3_creds_open(&c2, &p2, msg, sizeof(msg)), MG_OK);
	assert_ptr_equal(p1, p2);	/* two conns, one provider */
	assert_false(s3_creds_refreshable(p1));
	a = s3_creds_get(p1, msg, sizeof(msg));
	b = s3_creds_get(p2, msg, sizeof(msg));
	assert_ptr_equal(a, b);
	assert_string_equal(a->access_key, "AKPLAN");
	s3_creds_expired(p1, a);	/* ignored for keys that never expire */
	s3_credset_put(b);
	b = s3_creds_get(p1, msg, sizeof(msg));
	assert_ptr_equal(a, b);
	s3_credset_put(a);
	s3_credset_put(b);
	s3_creds_close(p1);
	s3_creds_close(p2);
	s3_config_release(&c1);
	s3_config_release(&c2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_order),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_sts),
		cmocka_unit_test(test_refresh_at),
		cmocka_unit_test(test_container_urls),
		cmocka_unit_test(test_provider_static),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
