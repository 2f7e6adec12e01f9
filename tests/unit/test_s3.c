/*
 * test_s3.c - the parts of the S3 connector that need no server: the
 * streamed ListObjectsV2 parser, error bodies, addressing, the credential
 * chain (with a throw-away HOME) and the grading of answers.  What needs
 * a server is in tests/integration/s3_conn.c, run against Ceph RGW.
 * The credential chain's parsing (credential_process, container and IMDS
 * JSON; STS XML), refresh arithmetic and source order are here too; its
 * fetching runs in tests/integration/s3_creds.sh.
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
#include <curl/curl.h>

#define MG_S3_INTERNAL 1
#include "s3_private.h"
#include "plan.h"
#include "testutil.h"

static const char list_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	"<Name>b</Name><Prefix>p%2F</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
	"<EncodingType>url</EncodingType>"
	"<IsTruncated>true</IsTruncated>"
	"<Contents><Key>p/a+b%2Bc%20d</Key>"
	"<LastModified>2024-01-02T03:04:05.678Z</LastModified>"
	"<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>"
	"<Size>1234</Size><StorageClass>STANDARD</StorageClass></Contents>\n"
	"<Contents><Key>p/%E2%82%AC/x%25y</Key>"
	"<LastModified>2024-01-02T03:04:05Z</LastModified>"
	"<ETag>\"d41d8cd98f00b204e9800998ecf8427e-2\"</ETag><Size>0</Size></Contents>"
	"<Contents><Key>p//z</Key><Size>18446744073709551615</Size></Contents>"
	"<NextContinuationToken>1/ab+c==</NextContinuationToken>"
	"</ListBucketResult>";

/* Fed one byte at a time: the parser must not care where chunks end. */
static void test_list_page_streamed(void **state)
{
	struct s3_list_page p;

	(void)state;
	s3_list_page_init(&p);
	for (size_t i = 0; i < sizeof(list_xml) - 1; i++)
		assert_int_equal(s3_list_page_feed(&p, &list_xml[i], 1, 0), 0);
	assert_int_equal(s3_list_page_feed(&p, "", 0, 1), 0);
	assert_int_equal(p.n, 3);
	assert_true(p.truncated);
	assert_true(p.url_encoded);
	assert_string_equal(p.next_token, "1/ab+c==");
	assert_string_equal(p.items[0].key, "p/a b+c d");
	assert_int_equal(p.items[0].size, 1234);
	assert_string_equal(p.items[0].etag, "9b2cf535f27731c974343645a3985328");
	assert_int_equal(p.items[0].mtime_ns, 1704164645678000000LL);
	assert_string_equal(p.items[1].key, "p/\xe2\x82\xac/x%y");
	assert_string_equal(p.items[1].etag, "d41d8cd98f00b204e9800998ecf8427e-2");
	assert_int_equal(p.items[1].mtime_ns, 1704164645000000000LL);
	assert_string_equal(p.items[2].key, "p//z");
	assert_true(p.items[2].size == UINT64_MAX);
	assert_string_equal(p.items[2].etag, "");
	assert_null(p.error_code);
	s3_list_page_release(&p);
}

/* Without EncodingType the keys are taken as they are: '+' stays. */
static void test_list_page_raw_keys(void **state)
{
	static const char xml[] =
		"<ListBucketResult><IsTruncated>false</IsTruncated>"
		"<Contents><Key>a+b%20</Key><Size>1</Size></Contents></ListBucketResult>";
	struct s3_list_page p;

	(void)state;
	s3_list_page_init(&p);
	assert_int_equal(s3_list_page_feed(&p, xml, sizeof(xml) - 1, 1), 0);
	assert_int_equal(p.n, 1);
	assert_false(p.truncated);
	assert_string_equal(p.items[0].key, "a+b%20");
	s3_list_page_release(&p);
}

static void test_list_page_bad_xml(void **state)
{
	static const char xml[] = "<ListBucketResult><Contents><Key>a</Contents>";
	struct s3_list_page p;

	(void)state;
	s3_list_page_init(&p);
	assert_int_equal(s3_list_page_feed(&p, xml, sizeof(xml) - 1, 1), -1);
	/* and it stays failed */
	assert_int_equal(s3_list_page_feed(&p, "", 0, 1), -1);
	s3_list_page_release(&p);
}

static void test_error_parse(void **state)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code>"
		"<Message>The request signature we calculated does not match</Message>"
		"<RequestId>tx1</RequestId></Error>";
	char *code, *msg;

	(void)state;
	s3_error_parse(xml, sizeof(xml) - 1, &code, &msg);
	assert_string_equal(code, "SignatureDoesNotMatch");
	assert_string_equal(msg, "The request signature we calculated does not match");
	free(code);
	free(msg);
	s3_error_parse("", 0, &code, &msg);
	assert_null(code);
	assert_null(msg);
	s3_error_parse("not xml", 7, &code, &msg);
	assert_null(code);
	free(msg);
}

struct seen {
	char buf[512];
};

static void collect(void *arg, const char *path, const char *text)
{
	struct seen *s = arg;
	size_t n = strlen(s->buf);

	snprintf(s->buf + n, sizeof(s->buf) - n, "%s=%s;", path, text);
}

static void test_xml_paths(void **state)
{
	static const char xml[] =
		"<ListPartsResult><Part><PartNumber>1</PartNumber><ETag>&quot;e&quot;</ETag>"
		"</Part><IsTruncated>false</IsTruncated></ListPartsResult>";
	struct seen s = { "" };
	struct s3_xml_cb cb = { collect, &s };

	(void)state;
	assert_int_equal(s3_xml_parse(xml, sizeof(xml) - 1, &cb), 0);
	/* paths are below the root; the root closes with "" */
	assert_string_equal(s.buf,
		"Part/PartNumber=1;Part/ETag=\"e\";Part=;IsTruncated=false;=;");
}

/*
 * Every answer the connector parses, under the root AWS and RGW use and
 * under another (moto answers ListParts with <ListPartsResponse>): the
 * same fields come out.  On the old code (full paths) the second root
 * gave no parts, so a resumable upload was aborted and started over.
 */
static const char *const roots[][2] = {
	{ "ListPartsResult", "ListPartsResponse" },
	{ "ListMultipartUploadsResult", "ListMultipartUploadsResponse" },
	{ "InitiateMultipartUploadResult", "CreateMultipartUploadResponse" },
	{ "CompleteMultipartUploadResult", "CompleteMultipartUploadResponse" },
	{ "CopyObjectResult", "CopyObjectResponse" },
	{ "CopyPartResult", "UploadPartCopyResponse" },
	{ "ListBucketResult", "ListObjectsV2Response" },
};

static char *with_root(const char *root, const char *inner, int ns_prefix)
{
	char *x = NULL;

	if (ns_prefix)
		assert_true(asprintf(&x, "<?xml version=\"1.0\"?><s3:%s xmlns:s3=\"http://s3."
				     "amazonaws.com/doc/2006-03-01/\">%s</s3:%s>", root, inner,
				     root) > 0);
	else
		assert_true(asprintf(&x, "<?xml version=\"1.0\"?><%s xmlns=\"http://s3."
				     "amazonaws.com/doc/2006-03-01/\">%s</%s>", root, inner,
				     root) > 0);
	return x;
}

static void test_xml_any_root_parts(void **state)
{
	static const char inner[] =
		"<Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>"
		"<PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>"
		"<MaxParts>2</MaxParts><IsTruncated>true</IsTruncated>"
		"<Part><PartNumber>1</PartNumber><LastModified>2024-01-01T00:00:00.000Z</LastModified>"
		"<ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>5242880</Size></Part>"
		"<Part><PartNumber>2</PartNumber><ETag>\"fedcba9876543210fedcba9876543210\"</ETag>"
		"<Size>17</Size></Part>";

	(void)state;
	for (int v = 0; v < 3; v++) {
		char *x = with_root(roots[0][v ? 1 : 0], inner, v == 2);
		struct s3_parts_page pg;

		assert_int_equal(s3_parts_parse(x, strlen(x), &pg), 0);
		assert_int_equal(pg.n, 2);
		assert_true(pg.truncated);
		assert_string_equal(pg.next_marker, "2");
		assert_int_equal(pg.parts[0].number, 1);
		assert_int_equal(pg.parts[0].size, 5242880);
		assert_string_equal(pg.parts[0].etag, "0123456789abcdef0123456789abcdef");
		assert_int_equal(pg.parts[0].md5[0], 0x01);
		assert_int_equal(pg.parts[1].number, 2);
		assert_int_equal(pg.parts[1].size, 17);
		assert_string_equal(pg.parts[1].etag, "fedcba9876543210fedcba9876543210");
		s3_parts_release(&pg);
		free(x);
	}
}

static void test_xml_any_root_uploads(void **state)
{
	static const char inner[] =
		"<Bucket>b</Bucket><KeyMarker></KeyMarker><NextKeyMarker>p/b</NextKeyMarker>"
		"<NextUploadIdMarker>id2</NextUploadIdMarker><IsTruncated>true</IsTruncated>"
		"<Upload><Key>p/a \xc3\xa9</Key><UploadId>id1</UploadId>"
		"<Initiated>2024-01-02T03:04:05.000Z</Initiated></Upload>"
		"<Upload><Key>p/b</Key><UploadId>id2</UploadId></Upload>";

	(void)state;
	for (int v = 0; v < 3; v++) {
		char *x = with_root(roots[1][v ? 1 : 0], inner, v == 2);
		struct s3_uploads_page pg;

		assert_int_equal(s3_uploads_parse(x, strlen(x), &pg), 0);
		assert_int_equal(pg.n, 2);
		assert_true(pg.truncated);
		assert_string_equal(pg.next_key, "p/b");
		assert_string_equal(pg.next_id, "id2");
		assert_string_equal(pg.ups[0].key, "p/a \xc3\xa9");
		assert_string_equal(pg.ups[0].upload_id, "id1");
		assert_int_equal(pg.ups[0].initiated_ns, 1704164645000000000LL);
		assert_string_equal(pg.ups[1].upload_id, "id2");
		s3_uploads_release(&pg);
		free(x);
	}
}

/* UploadId, the ETag of Complete, CopyObject and UploadPartCopy. */
static void test_xml_any_root_fields(void **state)
{
	static const char *const inner[] = {
		"<Bucket>b</Bucket><Key>k</Key><UploadId>abc.123</UploadId>",
		"<Location>http://x/b/k</Location><Bucket>b</Bucket><Key>k</Key>"
		"<ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>",
		"<LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>9b2cf535f27731c974343645a3985328</ETag>",
		"<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>",
	};
	static const char *const field[] = { "UploadId", "ETag", "ETag", "ETag" };
	static const char *const want[] = {
		"abc.123", "\"3858f62230ac3c915f300c664312c11f-9\"",
		"9b2cf535f27731c974343645a3985328", "\"9b2cf535f27731c974343645a3985328\"",
	};

	(void)state;
	for (int i = 0; i < 4; i++)
		for (int v = 0; v < 3; v++) {
			char *x = with_root(roots[2 + i][v ? 1 : 0], inner[i], v == 2);
			char *got = s3_xml_field(x, strlen(x), field[i]);

			assert_non_null(got);
			assert_string_equal(got, want[i]);
			free(got);
			free(x);
		}
	assert_null(s3_xml_field("not xml", 7, "ETag"));
	assert_null(s3_xml_field("<a><b>1</b></a>", 15, "ETag"));
}

/* The streamed listing under another root, and with a namespace prefix. */
static void test_xml_any_root_list(void **state)
{
	static const char inner[] =
		"<IsTruncated>true</IsTruncated><NextContinuationToken>t1</NextContinuationToken>"
		"<Contents><Key>a</Key><Size>3</Size><ETag>\"e\"</ETag></Contents>";

	(void)state;
	for (int v = 0; v < 3; v++) {
		char *x = with_root(roots[6][v ? 1 : 0], inner, v == 2);
		struct s3_list_page p;

		s3_list_page_init(&p);
		assert_int_equal(s3_list_page_feed(&p, x, strlen(x), 1), 0);
		assert_int_equal(p.n, 1);
		assert_string_equal(p.items[0].key, "a");
		assert_int_equal(p.items[0].size, 3);
		assert_true(p.truncated);
		assert_string_equal(p.next_token, "t1");
		s3_list_page_release(&p);
		free(x);
	}
}

/* An <Error> answer, plain or prefixed; a DeleteResult's per-key
 * <Error><Code> is not an error of the request. */
static void test_error_any_form(void **state)
{
	static const char del[] =
		"<DeleteResult><Error><Key>k</Key><Code>AccessDenied</Code>"
		"<Message>no</Message></Error></DeleteResult>";
	static const char pre[] =
		"<s3:Error xmlns:s3=\"x\"><s3:Code>SlowDown</s3:Code><s3:Message>m</s3:Message></s3:Error>";
	char *code, *msg;

	(void)state;
	s3_error_parse(del, sizeof(del) - 1, &code, &msg);
	assert_null(code);
	assert_null(msg);
	s3_error_parse(pre, sizeof(pre) - 1, &code, &msg);
	assert_string_equal(code, "SlowDown");
	assert_string_equal(msg, "m");
	free(code);
	free(msg);
}

static void test_decode_and_dates(void **state)
{
	char *d;

	(void)state;
	d = s3_uri_decode("a+b%2B%zz%4", 11, 1);
	assert_string_equal(d, "a b+%zz%4");
	free(d);
	d = s3_uri_decode("a+b%20", 6, 0);
	assert_string_equal(d, "a+b ");
	free(d);
	assert_int_equal(s3_parse_iso8601("1970-01-01T00:00:01.5Z"), 1500000000LL);
	assert_int_equal(s3_parse_iso8601("garbage"), 0);
	assert_int_equal(s3_parse_http_date("Thu, 01 Jan 1970 00:00:10 GMT"), 10000000000LL);
	assert_int_equal(s3_parse_http_date(""), 0);
}

static void test_addressing(void **state)
{
	struct s3_addr a;
	struct mg_buf b = MG_BUF_INIT;
	char msg[256];

	(void)state;
	/* AWS: virtual-host by default */
	assert_int_equal(s3_addr_init(&a, NULL, "eu-west-1", "photos", -1, msg, sizeof(msg)), MG_OK);
	assert_string_equal(a.base, "https://photos.s3.eu-west-1.amazonaws.com");
	assert_string_equal(a.host, "photos.s3.eu-west-1.amazonaws.com");
	s3_addr_path(&a, "a b/c", &b);
	assert_string_equal(b.buf, "/a b/c");
	s3_addr_path(&a, NULL, &b);
	assert_string_equal(b.buf, "/");
	s3_addr_release(&a);

	/* a dot in the bucket breaks the wildcard certificate: path style */
	assert_int_equal(s3_addr_init(&a, NULL, "us-east-1", "my.bucket", -1, msg, sizeof(msg)), MG_OK);
	assert_true(a.path_style);
	assert_string_equal(a.base, "https://s3.us-east-1.amazonaws.com");
	s3_addr_path(&a, "k", &b);
	assert_string_equal(b.buf, "/my.bucket/k");
	s3_addr_path(&a, NULL, &b);
	assert_string_equal(b.buf, "/my.bucket");
	s3_addr_release(&a);

	/* IP and localhost endpoints: path style */
	assert_int_equal(s3_addr_init(&a, "http://127.0.0.1:8000", NULL, "b1b", -1, msg, sizeof(msg)), MG_OK);
	assert_true(a.path_style);
	assert_string_equal(a.base, "http://127.0.0.1:8000");
	assert_string_equal(a.host, "127.0.0.1:8000");
	s3_addr_release(&a);
	assert_int_equal(s3_addr_init(&a, "http://localhost:9000/", NULL, "bkt", -1, msg, sizeof(msg)), MG_OK);
	assert_true(a.path_style);
	assert_string_equal(a.host, "localhost:9000");
	s3_addr_release(&a);
	assert_int_equal(s3_addr_init(&a, "http://[::1]:9000", NULL, "bkt", -1, msg, sizeof(msg)), MG_OK);
	assert_true(a.path_style);
	s3_addr_release(&a);

	/* a provider host name: virtual unless the plan says path */
	assert_int_equal(s3_addr_init(&a, "s3.us-west-004.backblazeb2.com", NULL, "bkt", -1,
				      msg, sizeof(msg)), MG_OK);
	assert_false(a.path_style);
	assert_string_equal(a.base, "https://bkt.s3.us-west-004.backblazeb2.com");
	s3_addr_release(&a);
	assert_int_equal(s3_addr_init(&a, "https://minio.example.com", NULL, "bkt", 1,
				      msg, sizeof(msg)), MG_OK);
	assert_true(a.path_style);
	assert_string_equal(a.base, "https://minio.example.com");
	s3_addr_release(&a);
	/* forced virtual even on an IP (a proxy may route it) */
	assert_int_equal(s3_addr_init(&a, "http://127.0.0.1:1", NULL, "bkt", 0, msg, sizeof(msg)), MG_OK);
	assert_false(a.path_style);
	assert_string_equal(a.host, "bkt.127.0.0.1:1");
	s3_addr_release(&a);

	assert_int_equal(s3_addr_init(&a, "ftp://x", NULL, "bkt", -1, msg, sizeof(msg)), MG_FATAL);
	assert_non_null(strstr(msg, "'ftp://x'"));
	assert_int_equal(s3_addr_init(&a, NULL, NULL, "", -1, msg, sizeof(msg)), MG_FATAL);
	mg_buf_release(&b);
}

/* ---- the credential chain, in a temporary HOME ---- */

static char home[256];

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

static const char *const aws_env[] = {
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL
};

static int home_setup(void **state)
{
	char path[512];

	(void)state;
	snprintf(home, sizeof(home), "%s/mg-s3-home.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(home));
	snprintf(path, sizeof(path), "%s/.aws", home);
	mkdir(path, 0700);
	setenv("HOME", home, 1);
	for (int i = 0; aws_env[i]; i++)
		unsetenv(aws_env[i]);
	/* the last link of the chain would ask 169.254.169.254 */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	write_file(".aws/credentials",
		   "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = SKDEFAULT\n"
		   "\n[work]\naws_access_key_id=AKWORK\naws_secret_access_key = SKWORK\n"
		   "aws_session_token = TOKWORK\n");
	write_file(".aws/config",
		   "[default]\nregion = eu-central-1\n"
		   "[profile work]\nregion = ap-south-1\ns3 =\n  endpoint_url = http://10.0.0.1:9000\n"
		   "  addressing_style = path\n"
		   "[profile cfgonly]\naws_access_key_id = AKCFG\naws_secret_access_key = SKCFG\n"
		   "endpoint_url = https://r2.example.com\n");
	return 0;
}

static int home_teardown(void **state)
{
	(void)state;
	return tu_rmtree(home);
}

/* The S3 keys of the endpoint ep_init() makes (the plan would fill them). */
static struct s3_options opt;

static void ep_init(struct mg_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	memset(&opt, 0, sizeof(opt));
	ep->host = "bkt";	/* the bucket */
	ep->path = "";
	ep->opts = &opt;
	opt.path_style = -1;
}

static void test_creds_plan_first(void **state)
{
	struct mg_endpoint ep;
	struct s3_config c;
	char msg[512];

	(void)state;
	ep_init(&ep);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
	opt.access_key_id = "AKPLAN";
	opt.secret_access_key = "SKPLAN";
	opt.region = "us-west-2";
	opt.endpoint = "http://127.0.0.1:1";
	assert_int_equal(s3_config_resolve(&ep, &c, msg, sizeof(msg)), MG_OK);
	assert_string_equal(c.access_key, "AKPLAN");
	assert_string_equal(c.secret_key, "SKPLAN");
	assert_null(c.token);
	assert_string_equal(c.region, "us-west-2");
	assert_string_equal(c.endpoint, "http://127.0.0.1:1");
	assert_string_equal(c.source, "plan");
	s3_config_release(&c);

	/* half a pair in the plan is a mistake, not a reason to fall back */
	opt.secret_access_key = NULL;
	assert_int_equal(s3_config_resolve(&ep, &c, msg, sizeof(msg)), MG_FATAL);
	assert_non_null(strstr(msg, "only one of"));
	s3_config_release(&c);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
}

static void test_creds_env(void **state)
{
	struct mg_endpoint ep;
	struct s3_config c;
	char msg[512];

	(void)state;
	ep_init(&ep);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
	setenv("AWS_SESSION_TOKEN", "TOKENV", 1);
	setenv("AWS_REGION", "sa-east-1", 1);
	assert_int_equal(s3_config_resolve(&ep, &c, msg, sizeof(msg)), MG_OK);
	assert_string_equal(c.access_key, "AKENV");
	assert_string_equal(c.secret_key, "SKENV");
	assert_string_equal(c.token, "TOKENV");
	assert_string_equal(c.region, "sa-east-1");
	assert_null(c.endpoint);
	assert_string_equal(c.source, "environment");
	s3_config_release(&c);
	for (int i = 0; aws_env[i]; i++)
		unsetenv(aws_env[i]);
}

static void test_creds_profiles(void **state)
{
	struct mg_endpoint ep;
	struct s3_config c;
	char msg[512];

	(void)state;
	ep_init(&ep);
	/* default profile: credentials file, region from config */
	assert_int_equal(s3_config_resolve(&ep, &c, msg, sizeof(msg)), MG_OK);
	assert_string_equal(c.access_key, "AKDEFAULT");
	assert_string_equal(c.secret_key, "SKDEFAULT");
	assert_string_equal(c.region, "eu-central-1");
	assert_null(c.endpoint);
	assert_string_equal(c.source, "profile 'default'");
	s3_config_release(&c);

	/* AWS_PROFILE: token, region and the nested s3 endpoint_url */
	setenv("AWS_PROFILE", "work", 1);
	assert_int_equal(s3_config_resolve(&ep, &c, msg, sizeof(msg)), MG_OK);
	assert_string_equal(c.access_key, "AKWORK");
	assert_string_equal(c.token, "TOKWORK");
	assert_string_equal(c.region, "ap-south-1");
	assert_string_equal(c.endpoint, "http://10.0.0.1:9000");
	s3_config_release(&c);

	/* the plan's profile beats AWS_PROFILE and the environment's keys */
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
	opt.profile = "cfgonly";
	assert_int_equal(s3_config_resolve(&ep, &c, msg, sizeof(msg)), MG_OK);
	assert_string_equal(c.access_key, "AKCFG");
	assert_string_equal(c.endpoint, "https://r2.example.com");
	assert_string_equal(c.region, "us-east-1");
	s3_config_release(&c);

	/* a profile that exists nowhere */
	opt.profile = "nosuch";
	assert_int_equal(s3_config_resolve(&ep, &c, msg, sizeof(msg)), MG_FATAL);
	assert_non_null(strstr(msg, "profile 'nosuch'"));
	s3_config_release(&c);
	for (int i = 0; aws_env[i]; i++)
		unsetenv(aws_env[i]);
}

static void test_creds_none(void **state)
{
	struct mg_endpoint ep;
	struct s3_config c;
	char msg[512], path[512];

	(void)state;
	ep_init(&ep);
	snprintf(path, sizeof(path), "%s/nothing", home);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_CONFIG_FILE", path, 1);
	assert_int_equal(s3_config_resolve(&ep, &c, msg, sizeof(msg)), MG_FATAL);
	assert_non_null(strstr(msg, "no credentials for s3://bkt"));
	s3_config_release(&c);
	for (int i = 0; aws_env[i]; i++)
		unsetenv(aws_env[i]);
}

static void test_grade(void **state)
{
	(void)state;
	assert_int_equal(s3_grade(CURLE_OK, 200, NULL, 0), MG_OK);
	assert_int_equal(s3_grade(CURLE_OK, 204, NULL, 0), MG_OK);
	assert_int_equal(s3_grade(CURLE_OK, 500, "InternalError", 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_OK, 503, "SlowDown", 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_OK, 502, NULL, 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_OK, 501, "NotImplemented", 0), MG_FAILED);
	assert_int_equal(s3_grade(CURLE_OK, 429, NULL, 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_OK, 400, "RequestTimeout", 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_OK, 200, "InternalError", 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_OK, 403, "SignatureDoesNotMatch", 0), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_OK, 403, "InvalidAccessKeyId", 0), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_OK, 403, "RequestTimeTooSkewed", 0), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_OK, 404, "NoSuchBucket", 0), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_OK, 403, "AccessDenied", 0), MG_FAILED);
	assert_int_equal(s3_grade(CURLE_OK, 403, "AccessDenied", 1), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_OK, 403, NULL, 1), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_OK, 404, "NoSuchKey", 0), MG_FAILED);
	assert_int_equal(s3_grade(CURLE_OK, 404, NULL, 0), MG_FAILED);
	/* a body damaged on the way is refused and sent again */
	assert_int_equal(s3_grade(CURLE_OK, 400, "BadDigest", 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_OK, 400, "XAmzContentSHA256Mismatch", 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_OK, 400, "InvalidDigest", 0), MG_FAILED);
	assert_int_equal(s3_grade(CURLE_OK, 400, "EntityTooSmall", 0), MG_FAILED);
	assert_int_equal(s3_grade(CURLE_COULDNT_RESOLVE_HOST, 0, NULL, 0), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_COULDNT_CONNECT, 0, NULL, 1), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_COULDNT_CONNECT, 0, NULL, 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_PEER_FAILED_VERIFICATION, 0, NULL, 0), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_SSL_CONNECT_ERROR, 0, NULL, 0), MG_FATAL);
	assert_int_equal(s3_grade(CURLE_OPERATION_TIMEDOUT, 0, NULL, 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_RECV_ERROR, 0, NULL, 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_SEND_ERROR, 0, NULL, 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_GOT_NOTHING, 0, NULL, 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_PARTIAL_FILE, 0, NULL, 0), MG_RETRY);
	assert_int_equal(s3_grade(CURLE_WRITE_ERROR, 0, NULL, 0), MG_FAILED);
	/* a body curl could not rewind: the next try starts it over */
	assert_int_equal(s3_grade(CURLE_SEND_FAIL_REWIND, 0, NULL, 0), MG_RETRY);
	/* the progress callback: the run is stopping */
	assert_int_equal(s3_grade(CURLE_ABORTED_BY_CALLBACK, 0, NULL, 0), MG_FATAL);
	/* a failed copy precondition is an answer, not worth a retry */
	assert_int_equal(s3_grade(CURLE_OK, 412, "PreconditionFailed", 0), MG_FAILED);
}

static void test_registered(void **state)
{
	const struct mg_connector *c = mg_connector_find("s3");

	(void)state;
	assert_non_null(c);
	assert_int_equal(c->version, MG_CONNECTOR_VERSION);
	assert_true(c->caps & MG_CAP_SOURCE);
	assert_true(c->caps & MG_CAP_TARGET);
	assert_true(c->caps & MG_CAP_RANGE_READ);
	assert_true(c->caps & MG_CAP_MULTIPART);
	assert_true(c->caps & MG_CAP_PART_COPY);
	assert_non_null(c->mp_list_parts);
	assert_non_null(c->mp_list_uploads);
	assert_non_null(c->mp_copy_part);
	assert_non_null(c->copy);
	assert_non_null(c->remove);
}

/* open() without any credentials fails fatally before touching the
 * network, and says where it looked. */
static void test_open_without_credentials(void **state)
{
	struct mg_endpoint ep;
	struct mg_conn conn;
	char path[512];

	(void)state;
	ep_init(&ep);
	opt.endpoint = "http://127.0.0.1:1";
	snprintf(path, sizeof(path), "%s/nothing", home);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_CONFIG_FILE", path, 1);
	assert_int_equal(mg_conn_open(&conn, mg_connector_find("s3"), &ep, NULL,
				      MG_OPEN_SOURCE), MG_FATAL);
	assert_int_equal(conn.err.status, MG_FATAL);
	assert_non_null(strstr(conn.err.msg, "no credentials"));
	mg_conn_close(&conn);
	for (int i = 0; aws_env[i]; i++)
		unsetenv(aws_env[i]);
}

/* A refused connection at open is fatal and names the endpoint; the
 * secret appears nowhere in the message. */
static void test_open_refused(void **state)
{
	struct mg_endpoint ep;
	struct mg_conn conn;

	(void)state;
	ep_init(&ep);
	opt.endpoint = "http://127.0.0.1:1";
	opt.access_key_id = "AKREFUSED";
	opt.secret_access_key = "SECRET-NOT-SHOWN";
	assert_int_equal(mg_conn_open(&conn, mg_connector_find("s3"), &ep, NULL,
				      MG_OPEN_SOURCE), MG_FATAL);
	assert_non_null(strstr(conn.err.msg, "cannot connect to 'http://127.0.0.1:1'"));
	assert_null(strstr(conn.err.msg, "SECRET"));
	mg_conn_close(&conn);
}

/*
 * Keys from a listing with encoding-type=url are decoded exactly: a '+'
 * is a space, %2B a '+', %25 a '%', UTF-8 stays.  A key that decodes to
 * a NUL byte keeps its encoded form and is flagged: cut at the NUL it
 * would name another object (on the old code "a%00b" became "a").
 */
static void test_list_nul_key(void **state)
{
	static const char xml[] =
		"<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
		"<Contents><Key>p/a</Key><Size>1</Size></Contents>"
		"<Contents><Key>p/a%00b</Key><Size>2</Size></Contents>"
		"<Contents><Key>p/a%2B+%25%C3%A9</Key><Size>3</Size></Contents>"
		"</ListBucketResult>";
	struct s3_list_page p;
	size_t n;
	char *d;

	(void)state;
	s3_list_page_init(&p);
	assert_int_equal(s3_list_page_feed(&p, xml, sizeof(xml) - 1, 1), 0);
	assert_int_equal(p.n, 3);
	assert_string_equal(p.items[0].key, "p/a");
	assert_false(p.items[0].has_nul);
	assert_true(p.items[1].has_nul);
	assert_string_equal(p.items[1].key, "p/a%00b");
	assert_false(p.items[2].has_nul);
	assert_string_equal(p.items[2].key, "p/a+ %\xc3\xa9");
	s3_list_page_release(&p);

	d = s3_uri_decode_len("x%00y%41", 8, 0, &n);
	assert_int_equal(n, 4);
	assert_memory_equal(d, "x\0yA", 4);
	free(d);
}

/* An SSE-C key is never sent over plain http: open refuses it before
 * any request, naming the plan key and what to do. */
static void test_sse_c_needs_https(void **state)
{
	struct mg_endpoint ep;
	struct mg_conn conn;

	(void)state;
	setenv("MG_UNIT_SSEC", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", 1);
	ep_init(&ep);
	opt.endpoint = "http://127.0.0.1:1";
	opt.access_key_id = "AK";
	opt.secret_access_key = "SK";
	opt.sse_c_key_env = "MG_UNIT_SSEC";
	assert_int_equal(mg_conn_open(&conn, mg_connector_find("s3"), &ep, NULL,
				      MG_OPEN_TARGET), MG_FATAL);
	assert_non_null(strstr(conn.err.msg, "sse_c_key_env 'MG_UNIT_SSEC'"));
	assert_non_null(strstr(conn.err.msg, "use an https:// endpoint"));
	assert_null(strstr(conn.err.msg, "MDEy"));
	/* not a connection error: nothing was sent */
	assert_null(strstr(conn.err.msg, "cannot connect"));
	mg_conn_close(&conn);
	unsetenv("MG_UNIT_SSEC");
}

/* ---- the credential chain (s3_creds.c) ---- */

static void creds_env_clear(void)
{
	static const char *const more[] = {
		"AWS_ENDPOINT_URL_STS", "AWS_ROLE_SESSION_NAME",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_EC2_METADATA_SERVICE_ENDPOINT", "MG_TEST_CREDS_REFRESH_BEFORE", NULL
	};

	for (int i = 0; aws_env[i]; i++)
		unsetenv(aws_env[i]);
	for (int i = 0; more[i]; i++)
		unsetenv(more[i]);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void creds_ep_init(struct mg_endpoint *ep)
{
	ep_init(ep);
	creds_env_clear();
}

/* Profiles that chain roles, in files of their own. */
static void chain_files(void)
{
	char path[512];

	write_file("chain-credentials",
		   "[base]\naws_access_key_id = AKBASE\naws_secret_access_key = SKBASE\n"
		   "[self]\naws_access_key_id = AKSELF\naws_secret_access_key = SKSELF\n"
		   "role_arn = arn:aws:iam::1:role/self\nsource_profile = self\n");
	write_file("chain-config",
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
	snprintf(path, sizeof(path), "%s/chain-credentials", home);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	snprintf(path, sizeof(path), "%s/chain-config", home);
	setenv("AWS_CONFIG_FILE", path, 1);
}

static int resolve(struct mg_endpoint *ep, struct s3_config *c, char *msg)
{
	return s3_config_resolve(ep, c, msg, 512);
}

/* The chain picks the source named want (as `migrate check` says it). */
static void expect_source(struct mg_endpoint *ep, const char *want)
{
	struct s3_config c;
	char msg[512];

	assert_int_equal(resolve(ep, &c, msg), MG_OK);
	assert_string_equal(c.source, want);
	s3_config_release(&c);
}

/* The chain fails with a message holding want. */
static void expect_error(struct mg_endpoint *ep, const char *want)
{
	struct s3_config c;
	char msg[512];

	assert_int_equal(resolve(ep, &c, msg), MG_FATAL);
	assert_non_null(strstr(msg, want));
	s3_config_release(&c);
}

static void test_chain_order(void **state)
{
	struct mg_endpoint ep;
	struct s3_config c;
	char msg[512];

	(void)state;
	creds_ep_init(&ep);
	chain_files();
	/* web identity in the environment, static keys in the environment:
	 * the keys come first */
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/t", 1);
	setenv("AWS_ROLE_ARN", "arn:aws:iam::1:role/env", 1);
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "SKENV", 1);
	expect_source(&ep, "environment");
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
	expect_source(&ep, "credential_process (profile 'proc')");
	opt.profile = NULL;
	unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
	/* a role chained two deep, with the STS endpoint of the profile */
	setenv("AWS_PROFILE", "b", 1);
	expect_source(&ep, "assume role (role arn:aws:iam::1:role/b, signed by "
			    "assume role (role arn:aws:iam::1:role/a, signed by profile 'base'))");
	/* a profile that is its own source_profile signs with its keys */
	setenv("AWS_PROFILE", "self", 1);
	expect_source(&ep, "assume role (role arn:aws:iam::1:role/self, signed by profile 'self')");
	setenv("AWS_PROFILE", "wi", 1);
	expect_source(&ep, "web identity (role arn:aws:iam::1:role/wi)");
	/* broken chains are errors that say what to fix */
	setenv("AWS_PROFILE", "loop1", 1);
	expect_error(&ep, "a loop?");
	setenv("AWS_PROFILE", "norole", 1);
	expect_error(&ep, "profile 'norole' has role_arn but no source_profile");
	/* a profile with nothing: container credentials, then IMDS */
	setenv("AWS_PROFILE", "empty", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x", 1);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/c", 1);
	expect_source(&ep, "container credentials (http://169.254.170.2/v2/credentials/x)");
	unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	expect_source(&ep, "container credentials (http://127.0.0.1:1/c)");
	unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	unsetenv("AWS_EC2_METADATA_DISABLED");
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:2/", 1);
	expect_source(&ep, "EC2 instance metadata (http://127.0.0.1:2)");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	expect_error(&ep, "no credentials for s3://bkt");
	creds_env_clear();
}

static void test_describe(void **state)
{
	struct mg_endpoint ep;
	struct mg_buf b = MG_BUF_INIT;

	(void)state;
	creds_ep_init(&ep);
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
	creds_env_clear();
}

static void test_creds_json(void **state)
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
	creds_ep_init(&ep);
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
		cmocka_unit_test(test_list_page_streamed),
		cmocka_unit_test(test_list_page_raw_keys),
		cmocka_unit_test(test_list_page_bad_xml),
		cmocka_unit_test(test_error_parse),
		cmocka_unit_test(test_xml_paths),
		cmocka_unit_test(test_xml_any_root_parts),
		cmocka_unit_test(test_xml_any_root_uploads),
		cmocka_unit_test(test_xml_any_root_fields),
		cmocka_unit_test(test_xml_any_root_list),
		cmocka_unit_test(test_error_any_form),
		cmocka_unit_test(test_decode_and_dates),
		cmocka_unit_test(test_addressing),
		cmocka_unit_test(test_creds_plan_first),
		cmocka_unit_test(test_creds_env),
		cmocka_unit_test(test_creds_profiles),
		cmocka_unit_test(test_creds_none),
		cmocka_unit_test(test_grade),
		cmocka_unit_test(test_registered),
		cmocka_unit_test(test_open_without_credentials),
		cmocka_unit_test(test_open_refused),
		cmocka_unit_test(test_list_nul_key),
		cmocka_unit_test(test_sse_c_needs_https),
		cmocka_unit_test(test_chain_order),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_creds_json),
		cmocka_unit_test(test_sts),
		cmocka_unit_test(test_refresh_at),
		cmocka_unit_test(test_container_urls),
		cmocka_unit_test(test_provider_static),
	};

	return cmocka_run_group_tests(tests, home_setup, home_teardown);
}
