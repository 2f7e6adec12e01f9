/*
 * sftp.c - the SFTP connector over libssh2 (sftp://user@host:port/path).
 *
 * Safe by default: the server's host key is checked against an OpenSSH
 * known_hosts file before a single credential is sent, and a changed key
 * is refused.  Fast: reads go through a large window so that libssh2 keeps
 * many SFTP read requests in flight (pipelining), and a dropped connection
 * is re-established and the read resumes at its offset.
 *
 * Authentication, in this order; each step only if the server offers the
 * method, the first one accepted wins:
 *   1. the plan's identity_file, its passphrase from the environment
 *      variable the plan names in passphrase_env;
 *   2. the keys of a running ssh-agent (SSH_AUTH_SOCK);
 *   3. only when the plan names no identity_file: the default keys
 *      ~/.ssh/id_ed25519, ~/.ssh/id_ecdsa, ~/.ssh/id_rsa, as ssh(1) would;
 *   4. the password from the environment variable named in password_env
 *      ("password", then "keyboard-interactive").
 * Keys before passwords, and the plan's own key before whatever an agent
 * happens to hold: the plan decides which identity is used, and an agent
 * full of keys cannot use up the server's MaxAuthTries before it.
 *
 * Host keys: OpenSSH known_hosts (hashed |1| entries and [host]:port
 * names included), the plan's known_hosts or ~/.ssh/known_hosts.  A key
 * on an "@revoked" line is refused whatever other lines say, as ssh(1)
 * does; "@cert-authority" lines are skipped (no certificates).  A
 * host_key_fingerprint "SHA256:..." pins the key and replaces the file
 * check; accept_new_host_keys records an unknown key (never a changed one).
 *
 * Listing walks the tree depth first with a stack of folders; each folder
 * is read whole, its names sorted, and no handle stays open between calls
 * (so a reconnect never invalidates a listing).  A folder "d" is walked as
 * the prefix "d/", so it sorts by its '/' byte: "d-e" < "d.txt" < "d/x".
 * Memory is the depth of the tree times the width of one folder.  A folder
 * that cannot be read is one MG_ENTRY_ERROR with the key "d/" (the place
 * it sorts at) and the reason; the walk goes on.
 *
 * A lost connection (reset, peer gone, timeout) is replaced by a new
 * session, SFTP_RECONNECTS tries at most, and a read resumes at its offset;
 * a listing never holds a handle across calls, so it just goes on.
 *
 * As a target: objects are written to "<key>.migrate-tmp-XXXXXXXX",
 * fsync'ed when the server has fsync@openssh.com, given the source mtime,
 * then renamed over the key.  libssh2 1.10 has no posix-rename@openssh.com
 * and SFTP v3's rename refuses an existing target, so an existing object is
 * removed just before the rename: for that instant the key is absent, but a
 * partial object is never visible under it.  The temporary file is created
 * exclusively (never through a link), with the source's permission bits
 * masked by this process's umask, and set to exactly those at commit (the
 * server's umask may differ).  Every folder beneath the root is looked at
 * with lstat before it is used: a symbolic link planted there fails the
 * object, so nothing is written, renamed or removed through it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "connector.h"
#include "plan.h"
#include "sftp_bigread.h"
#include "sftp_ranged.h"

/* ------------------------------------------------------------ the plan */

/* What an sftp:// endpoint takes in a plan (plans/README.md). */
struct sftp_options {
	char *identity_file;		/* ~ expanded */
	char *passphrase_env;		/* env var with the key's passphrase */
	char *password_env;		/* env var with the password */
	char *known_hosts;		/* NULL: ~/.ssh/known_hosts */
	char *host_key_fingerprint;	/* "SHA256:..." pin */
	int accept_new_host_keys;	/* explicit opt-in; records the key */
	int symlinks;			/* enum mg_symlinks */
	int64_t parallel_reads;		/* connections for one large read; 0: default */
};

#define SFTP_OPT(x) offsetof(struct sftp_options, x)

static int fingerprint_check(const struct mg_option *o, const char *v,
			     char *msg, size_t msglen)
{
	if (strncmp(v, "SHA256:", 7) == 0 && v[7])
		return 0;
	snprintf(msg, msglen,
		 "'%s' must look like 'SHA256:...' as 'ssh-keygen -lf' prints it, got '%s'",
		 o->name, v);
	return -1;
}

static const struct mg_option sftp_keys[] = {
	{ .name = "identity_file", .type = MG_OPT_PATH, .off = SFTP_OPT(identity_file),
	  .doc = "private key file; unset: the agent, then ~/.ssh/id_*" },
	{ .name = "passphrase_env", .type = MG_OPT_ENV, .off = SFTP_OPT(passphrase_env),
	  .doc = "environment variable holding the key's passphrase" },
	{ .name = "password_env", .type = MG_OPT_ENV, .off = SFTP_OPT(password_env),
	  .doc = "environment variable holding the password" },
	{ .name = "known_hosts", .type = MG_OPT_PATH, .off = SFTP_OPT(known_hosts),
	  .doc = "known_hosts file; unset: ~/.ssh/known_hosts" },
	{ .name = "host_key_fingerprint", .type = MG_OPT_STRING,
	  .off = SFTP_OPT(host_key_fingerprint), .check = fingerprint_check,
	  .doc = "pin the server's key: SHA256:... as ssh-keygen -lf prints it" },
	{ .name = "accept_new_host_keys", .type = MG_OPT_BOOL,
	  .off = SFTP_OPT(accept_new_host_keys), .def = "false",
	  .doc = "trust and record a host key seen for the first time" },
	{ .name = "symlinks", .type = MG_OPT_CHOICE, .off = SFTP_OPT(symlinks),
	  .def = "skip", .words = mg_symlinks_words, .listed = MG_SYMLINKS_LISTED,
	  .doc = "links met while walking: skip, follow (inside the folder), follow-all, record" },
	{ .name = "parallel_reads", .type = MG_OPT_INT, .off = SFTP_OPT(parallel_reads),
	  .min = 1, .max = 8,
	  .doc = "SSH connections reading one file of 32 MiB or more at once; 1: off (the default)" },
};

static int sftp_options_check(const struct mg_endpoint *ep,
			      struct mg_option_note *err,
			      struct mg_option_note *warn)
{
	const struct sftp_options *o = ep->opts;

	(void)warn;
	if (o->host_key_fingerprint && o->accept_new_host_keys) {
		err->key = "accept_new_host_keys";
		snprintf(err->msg, sizeof(err->msg),
			 "use either 'host_key_fingerprint' or 'accept_new_host_keys', not both");
		return -1;
	}
	return 0;
}

/* For an endpoint made by hand, without the plan's option struct. */
static const struct sftp_options sftp_defaults = { .symlinks = MG_SYMLINKS_SKIP };

static const struct sftp_options *sftp_opts(const struct mg_endpoint *ep)
{
	return ep->opts ? ep->opts : &sftp_defaults;
}

/* sftp://[user@]host[:port][/path], host may be [v6]. */
static int sftp_url_parse(struct mg_endpoint *ep, const char *scheme,
			  const char *rest, unsigned flags, char *msg,
			  size_t msglen)
{
	const char *slash = strchr(rest, '/');
	const char *auth_end = slash ? slash : rest + strlen(rest);
	const char *at = NULL, *h, *hend, *port = NULL;

	(void)scheme;
	(void)flags;

	for (const char *p = rest; p < auth_end; p++)
		if (*p == '@')
			at = p;
	if (at) {
		if (memchr(rest, ':', (size_t)(at - rest))) {
			/* never echo the url: it holds the password */
			snprintf(msg, msglen,
				 "passwords in urls are not accepted: remove it and name an environment variable holding it with 'password_env'");
			return -1;
		}
		ep->user = mg_pct_decode(rest, (size_t)(at - rest), MG_PCT_STRICT, NULL);
		if (!ep->user || !*ep->user) {
			snprintf(msg, msglen, "bad user name in '%s'", ep->url);
			return -1;
		}
		h = at + 1;
	} else {
		h = rest;
	}
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(auth_end - h));

		if (!close || close == h + 1) {
			snprintf(msg, msglen,
				 "bad ipv6 address in '%s': write it as [::1]",
				 ep->url);
			return -1;
		}
		for (const char *p = h + 1; p < close; p++) {
			if (!isxdigit((unsigned char)*p) && *p != ':' &&
			    *p != '.') {
				snprintf(msg, msglen,
					 "bad ipv6 address in '%s'", ep->url);
				return -1;
			}
		}
		ep->host = mg_strndup(h + 1, (size_t)(close - h - 1));
		hend = close + 1;
		if (hend < auth_end && *hend != ':') {
			snprintf(msg, msglen, "bad host in '%s'", ep->url);
			return -1;
		}
	} else {
		hend = memchr(h, ':', (size_t)(auth_end - h));
		if (!hend)
			hend = auth_end;
		ep->host = mg_strndup(h, (size_t)(hend - h));
		for (const char *p = ep->host; *p; p++) {
			if (!isalnum((unsigned char)*p) && *p != '.' &&
			    *p != '-' && *p != '_') {
				snprintf(msg, msglen, "bad host name '%s' in '%s'",
					 ep->host, ep->url);
				return -1;
			}
		}
	}
	if (!*ep->host) {
		snprintf(msg, msglen,
			 "missing host in '%s': write sftp://user@host/path",
			 ep->url);
		return -1;
	}
	ep->port = 22;
	if (hend < auth_end && *hend == ':') {
		long v = 0;

		port = hend + 1;
		if (port == auth_end)
			v = -1;
		for (const char *p = port; p < auth_end && v >= 0; p++) {
			if (!isdigit((unsigned char)*p) || v > 65535)
				v = -1;
			else
				v = v * 10 + (*p - '0');
		}
		if (v < 1 || v > 65535) {
			snprintf(msg, msglen,
				 "bad port in '%s': use a number from 1 to 65535",
				 ep->url);
			return -1;
		}
		ep->port = (int)v;
	}
	if (!slash) {
		/* "sftp://host": the folder the server logs the user into */
		ep->path = mg_strdup("");
		return 0;
	}
	ep->path = mg_url_path_decode(slash, strlen(slash), ep->url, msg, msglen);
	return ep->path ? 0 : -1;
}

/* The place: user, host (case does not matter) and port, then the path. */
static void sftp_url_identity(const struct mg_endpoint *ep, struct mg_buf *b)
{
	mg_buf_addf(b, "%s@", ep->user ? ep->user : "");
	for (const char *h = ep->host ? ep->host : ""; *h; h++)
		mg_buf_addf(b, "%c", tolower((unsigned char)*h));
	mg_buf_addf(b, ":%d", ep->port);
	mg_buf_adds(b, ep->path ? ep->path : "");
}

/* A blocking call that waits this long for the server is a dead peer: long
 * enough for a busy NAS to answer a stat on a cold disk. */
#define SFTP_TIMEOUT_MS		(120 * 1000)
/* Read window.  libssh2 1.10 keeps up to four times the buffer it is given
 * in flight (capped at 8 MiB), as 30000-byte SFTP requests: 2 MiB gives
 * that whole 8 MiB, about 280 requests, which fills a gigabit WAN link at
 * 60 ms and loopback alike.  OpenSSH 9's sftp keeps up to 64 requests of
 * the server's read limit in flight (255 KiB from OpenSSH's sftp-server,
 * its limits@openssh.com): a ninth of libssh2's requests for the bytes. */
#define SFTP_READ_WINDOW	(2u << 20)
/* libssh2 1.10's largest SFTP read request (MAX_SFTP_READ_SIZE). */
#define SFTP_REQ_MAX		30000u
/* Reconnects for one operation before giving up.  Each one costs a TCP and
 * SSH handshake; three cover a restarted sshd or a NAT that dropped the flow,
 * while a server that is really gone is reported within seconds. */
#define SFTP_RECONNECTS		3
/* A read of this much or more goes over parallel_reads connections
 * (sftp_ranged.c): below it, the extra handshakes cost more than they save. */
#define SFTP_RANGED_MIN		((uint64_t)32 << 20)
#define SFTP_PARALLEL_READS	1
/* A read of this much or more goes over a channel of its own in 255 KiB
 * requests (sftp_bigread.c): below it, the channel's setup (five round
 * trips, and a process on the server) costs more than it saves. */
#define SFTP_BIGREAD_MIN	((uint64_t)8 << 20)
#define SFTP_CONNECT_MS		(30 * 1000)
#define SFTP_NAME_MAX		4096

struct sftp_conn {
	struct mg_conn *conn;
	int sock;
	LIBSSH2_SESSION *ssh;
	LIBSSH2_SFTP *sftp;
	/* Bumped for every new session: a handle opened under an older
	 * generation died with its session and is reopened, never closed. */
	unsigned gen;
	char *user;
	char *root;		/* absolute remote folder of the endpoint */
	char hostport[300];	/* "host" or "[host]:port", as known_hosts names it */
	char where[320];	/* "user@host:port" for messages */
	const char *kbd_password;	/* only during keyboard-interactive */
	struct mg_buf path;	/* scratch: root + "/" + key */
	char *made_dir;		/* key prefix ("a/b") whose every folder was
				 * seen to be a real folder, not a link */
	char *stat_key;		/* storage for stat()'s out->key */
	unsigned flags;		/* enum mg_open_flags */
};

static pthread_once_t sftp_once = PTHREAD_ONCE_INIT;
static int sftp_init_rc;
static unsigned sftp_umask = 022;	/* this process's, read once */

/* The umask without changing it: umask(2) can only be read by setting it,
 * and for that instant a file another thread creates would get the wrong
 * mode.  Linux says it in /proc (4.7 and later); elsewhere, at init. */
static unsigned read_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	unsigned m = 0;
	mode_t old;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Umask: %o", &m) == 1) {
			fclose(f);
			return m & 0777;
		}
	if (f)
		fclose(f);
	old = umask(022);
	umask(old);
	return (unsigned)old & 0777;
}

static void sftp_global_init(void)
{
	sftp_init_rc = libssh2_init(0);
	sftp_umask = read_umask();
}

/* libssh2 sends with plain send(): a peer that vanished would raise SIGPIPE
 * and kill the whole process, where a lost connection must only fail (and
 * reconnect) this one. */
static LIBSSH2_SEND_FUNC(sock_send)
{
	ssize_t n;

	(void)abstract;
	n = send(socket, buffer, length, flags | MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

static LIBSSH2_USERAUTH_KBDINT_RESPONSE_FUNC(kbd_answer)
{
	struct sftp_conn *s = *abstract;

	(void)name; (void)name_len; (void)instruction; (void)instruction_len;
	for (int i = 0; i < num_prompts; i++) {
		/* Only a prompt that hides its answer is asking for the password. */
		if (prompts[i].echo || !s->kbd_password)
			continue;
		responses[i].text = strdup(s->kbd_password);
		responses[i].length = responses[i].text ? strlen(s->kbd_password) : 0;
	}
}

static const char *ssh_errmsg(struct sftp_conn *s)
{
	char *msg = NULL;

	if (!s->ssh)
		return "no session";
	libssh2_session_last_error(s->ssh, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown error";
}

static const char *fx_text(unsigned long fx)
{
	switch (fx) {
	case LIBSSH2_FX_EOF: return "end of file";
	case LIBSSH2_FX_NO_SUCH_FILE: return "no such file or folder";
	case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
	case LIBSSH2_FX_FAILURE: return "the server reported a failure";
	case LIBSSH2_FX_BAD_MESSAGE: return "bad message";
	case LIBSSH2_FX_OP_UNSUPPORTED: return "operation not supported by the server";
	case LIBSSH2_FX_INVALID_HANDLE: return "invalid handle";
	case LIBSSH2_FX_NO_SUCH_PATH: return "no such path";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS: return "already exists";
	case LIBSSH2_FX_WRITE_PROTECT: return "write protected";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: return "no space left on the server";
	case LIBSSH2_FX_QUOTA_EXCEEDED: return "quota exceeded";
	case LIBSSH2_FX_DIR_NOT_EMPTY: return "folder not empty";
	case LIBSSH2_FX_NOT_A_DIRECTORY: return "not a folder";
	case LIBSSH2_FX_INVALID_FILENAME: return "invalid file name";
	case LIBSSH2_FX_LINK_LOOP: return "too many levels of symbolic links";
	default: return "sftp error";
	}
}

/* A libssh2 error that is not an SFTP status reply leaves the session in an
 * unknown state (peer gone, reset, timeout, garbled transport): the only
 * cure is a new session. */
static int ssh_lost(int rc)
{
	return rc < 0 && rc != LIBSSH2_ERROR_SFTP_PROTOCOL &&
	       rc != LIBSSH2_ERROR_EAGAIN && rc != LIBSSH2_ERROR_ALLOC &&
	       rc != LIBSSH2_ERROR_BUFFER_TOO_SMALL;
}

static unsigned long sftp_status(struct sftp_conn *s, int rc)
{
	return rc == LIBSSH2_ERROR_SFTP_PROTOCOL && s->sftp ?
		libssh2_sftp_last_error(s->sftp) : 0;
}

/*
 * Records the error of an SFTP operation on what (a remote path) and
 * returns its grade.  A status reply concerns this object alone; a lost
 * connection is worth retrying; a full disk stops the connection.
 */
static int sftp_fail(struct sftp_conn *s, int rc, const char *op,
		     const char *what)
{
	unsigned long fx = sftp_status(s, rc);
	char w[256];

	/* names come from other people's listings: escaped for a terminal */
	mg_printable(what, w, sizeof(w));
	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
		int grade = (fx == LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM ||
			     fx == LIBSSH2_FX_QUOTA_EXCEEDED) ? MG_FATAL : MG_FAILED;

		return mg_error_set(&s->conn->err, grade, 0, (long)fx, op,
				    "%s '%s' on %s: %s", op, w, s->where,
				    fx_text(fx));
	}
	return mg_error_set(&s->conn->err, MG_RETRY, 0, rc, op,
			    "%s '%s' on %s: connection lost (%s)", op, w,
			    s->where, ssh_errmsg(s));
}

/* root + "/" + key in s->path; the key "" is the root itself. */
static const char *remote_path(struct sftp_conn *s, const char *key, size_t keylen)
{
	mg_buf_reset(&s->path);
	mg_buf_adds(&s->path, s->root);
	if (keylen) {
		if (s->path.len && s->path.buf[s->path.len - 1] != '/')
			mg_buf_add(&s->path, "/", 1);
		mg_buf_add(&s->path, key, keylen);
	}
	return s->path.buf;
}

static char *path_join(const char *root, const char *key)
{
	struct mg_buf b = MG_BUF_INIT;
	size_t n = strlen(root);

	mg_buf_adds(&b, root);
	if (*key && n && root[n - 1] != '/')
		mg_buf_add(&b, "/", 1);
	mg_buf_adds(&b, key);
	return mg_buf_detach(&b);
}

static char *home_path(const char *rest)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (!home || !*home) {
		pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : "/";
	}
	return path_join(home, rest);
}

/* "~/x" -> "$HOME/x"; anything else copied. */
static char *expand_tilde(const char *p)
{
	if (p[0] == '~' && (p[1] == '/' || p[1] == '\0'))
		return home_path(p[1] ? p + 2 : "");
	return mg_strdup(p);
}

/* ------------------------------------------------------------------ */
/* Host keys */

struct keytype {
	int session_type;	/* LIBSSH2_HOSTKEY_TYPE_* */
	int kh_type;		/* LIBSSH2_KNOWNHOST_KEY_* */
	const char *name;	/* as known_hosts writes it */
	const char *algs;	/* hostkey algorithms that use this key */
};

/* OpenSSH's preference order. */
static const struct keytype keytypes[] = {
	{ LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519,
	  "ssh-ed25519", "ssh-ed25519" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256,
	  "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384,
	  "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384" },
	{ LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521,
	  "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521" },
	{ LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA,
	  "ssh-rsa", "rsa-sha2-512,rsa-sha2-256,ssh-rsa" },
	{ LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS,
	  "ssh-dss", "ssh-dss" },
};
#define NKEYTYPES (sizeof(keytypes) / sizeof(keytypes[0]))

static char *known_hosts_file(const struct mg_endpoint *ep)
{
	if (sftp_opts(ep)->known_hosts && *sftp_opts(ep)->known_hosts)
		return expand_tilde(sftp_opts(ep)->known_hosts);
	return home_path(".ssh/known_hosts");
}

/*
 * A key that a known_hosts line marks "@revoked".  ssh(1) refuses such a
 * key for every host the line's pattern names, even when another line
 * accepts it: a revocation is kept in the same file as the keys it
 * overrides.  libssh2 knows no markers, so these lines are parsed here.
 */
struct kh_revoked {
	char *hosts;		/* the host field: patterns or a |1| hash */
	unsigned char *blob;	/* the key, decoded */
	size_t len;
	unsigned line;
};

struct known_hosts {
	LIBSSH2_KNOWNHOSTS *kh;	/* the plain lines, as libssh2 reads them */
	struct kh_revoked *rev;
	size_t nrev;
};

static void known_hosts_free(struct known_hosts *k)
{
	if (k->kh)
		libssh2_knownhost_free(k->kh);
	for (size_t i = 0; i < k->nrev; i++) {
		free(k->rev[i].hosts);
		free(k->rev[i].blob);
	}
	free(k->rev);
	memset(k, 0, sizeof(*k));
}

/* Standard base64 of n characters into a new buffer; NULL when it is not
 * base64.  EVP_DecodeBlock counts the padding as zero bytes: drop them. */
static unsigned char *b64_decode(const char *in, size_t n, size_t *outlen)
{
	unsigned char *out;
	size_t pad = 0;
	int len;

	if (n == 0 || n % 4 != 0 || n > 65536)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(in[i] >= 'A' && in[i] <= 'Z') && !(in[i] >= 'a' && in[i] <= 'z') &&
		    !(in[i] >= '0' && in[i] <= '9') && in[i] != '+' && in[i] != '/' &&
		    !(in[i] == '=' && i >= n - 2))
			return NULL;
	while (pad < 2 && in[n - 1 - pad] == '=')
		pad++;
	out = mg_malloc(n / 4 * 3 + 1);
	len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0 || (size_t)len < pad) {
		free(out);
		return NULL;
	}
	*outlen = (size_t)len - pad;
	return out;
}

/* ssh(1)'s wildcard match: '*' any run, '?' one character, letters
 * compared without case (host names are).  Only the last '*' is ever
 * backtracked to, which gives the same answers as trying every split
 * in time linear in pattern times name, whatever the pattern. */
static int glob_match(const char *s, const char *p, const char *pend)
{
	const char *star = NULL, *from = NULL;

	while (*s) {
		if (p < pend && *p == '*') {
			star = ++p;
			from = s;
		} else if (p < pend && (*p == '?' || tolower((unsigned char)*p) ==
						     tolower((unsigned char)*s))) {
			p++;
			s++;
		} else if (star) {
			p = star;
			s = ++from;
		} else {
			return 0;
		}
	}
	while (p < pend && *p == '*')
		p++;
	return p == pend;
}

/* Does a known_hosts host field name host ("name" or "[name]:port")?  As
 * ssh(1) reads it: a hashed "|1|salt|hash" entry, or comma-separated
 * patterns where a matching "!pattern" vetoes the whole line. */
static int kh_hosts_match(const char *field, const char *host)
{
	int hit = 0;

	if (strncmp(field, "|1|", 3) == 0) {
		const char *salt = field + 3, *bar = strchr(salt, '|');
		unsigned char *k, *h, md[EVP_MAX_MD_SIZE];
		size_t klen = 0, hlen = 0;
		unsigned int mdlen = 0;
		char *low = mg_strdup(host);

		if (!bar)
			goto out_free_low;
		k = b64_decode(salt, (size_t)(bar - salt), &klen);
		h = b64_decode(bar + 1, strlen(bar + 1), &hlen);
		for (char *c = low; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		if (k && h && HMAC(EVP_sha1(), k, (int)klen, (unsigned char *)low,
				   strlen(low), md, &mdlen) && mdlen == hlen &&
		    memcmp(md, h, hlen) == 0)
			hit = 1;
		free(k);
		free(h);
out_free_low:
		free(low);
		return hit;
	}
	for (const char *p = field; *p;) {
		const char *e = strchr(p, ',');
		const char *end = e ? e : p + strlen(p);
		int neg = *p == '!';

		if (glob_match(host, p + neg, end)) {
			if (neg)
				return 0;
			hit = 1;
		}
		p = e ? e + 1 : end;
	}
	return hit;
}

/* "@revoked hosts keytype base64 [comment]" (marker already skipped):
 * recorded in k, or ignored when it does not parse, as ssh(1) ignores
 * lines it cannot read. */
static void kh_add_revoked(struct known_hosts *k, const char *p, unsigned lineno)
{
	const char *f[3];
	size_t n[3];
	struct kh_revoked *r;
	unsigned char *blob;
	size_t len = 0;

	for (int i = 0; i < 3; i++) {
		p += strspn(p, " \t");
		f[i] = p;
		n[i] = strcspn(p, " \t\r\n");
		if (!n[i])
			return;
		p += n[i];
	}
	blob = b64_decode(f[2], n[2], &len);
	if (!blob)
		return;
	k->rev = mg_realloc(k->rev, (k->nrev + 1) * sizeof(*k->rev));
	r = &k->rev[k->nrev++];
	r->hosts = mg_strndup(f[0], n[0]);
	r->blob = blob;
	r->len = len;
	r->line = lineno;
}

/*
 * Loads the file line by line rather than with knownhost_readfile(), which
 * stops at the first line libssh2 cannot parse (security key types): such
 * a line is skipped, as ssh(1) skips what it does not know.  Marker lines
 * are sorted out here, the one place that reads the file: "@revoked" keys
 * go to k->rev, "@cert-authority" lines (certificates are not supported)
 * and unknown markers are skipped whole, so their host field is never
 * taken for a host.  A missing file is an empty one.
 */
static int known_hosts_load(struct sftp_conn *s, const char *file,
			    struct known_hosts *k, struct mg_error *err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	FILE *f;

	memset(k, 0, sizeof(*k));
	k->kh = libssh2_knownhost_init(s->ssh);
	if (!k->kh)
		return mg_error_set(err, MG_FATAL, 0, 0, "host key",
				    "cannot set up known hosts: %s", ssh_errmsg(s));
	f = fopen(file, "re");
	if (!f && errno != ENOENT) {
		int e = errno;

		known_hosts_free(k);
		return mg_error_set(err, MG_FATAL, e, 0, "host key",
				    "cannot read known hosts file '%s': %s",
				    file, strerror(e));
	}
	while (f && (n = getline(&line, &cap, f)) > 0) {
		const char *p = line + strspn(line, " \t");

		lineno++;
		if (*p == '@') {
			if (strncmp(p, "@revoked", 8) == 0 && (p[8] == ' ' || p[8] == '\t'))
				kh_add_revoked(k, p + 8, lineno);
			continue;
		}
		libssh2_knownhost_readline(k->kh, line, (size_t)n,
					   LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	}
	free(line);
	if (f)
		fclose(f);
	return MG_OK;
}

/* Does the file hold a key of this type for our host?  check() compares
 * keys only between entries of the asked type, so a dummy key answers
 * MISMATCH exactly when there is one. */
static int known_hosts_has_type(struct sftp_conn *s, LIBSSH2_KNOWNHOSTS *kh,
				int kh_type)
{
	return libssh2_knownhost_check(kh, s->hostport, "x", 1,
				       LIBSSH2_KNOWNHOST_TYPE_PLAIN |
				       LIBSSH2_KNOWNHOST_KEYENC_RAW | kh_type,
				       NULL) == LIBSSH2_KNOWNHOST_CHECK_MISMATCH;
}

/* Appends the names of list (comma-separated) that libssh2 supports.
 * libssh2 1.10's method_pref() drops unsupported names with an
 * overlapping memcpy(), so it must only ever see supported ones. */
static void pref_add(struct mg_buf *pref, const char **algs, int nalgs,
		     const char *list)
{
	while (*list) {
		size_t n = strcspn(list, ",");

		for (int i = 0; i < nalgs; i++) {
			if (strlen(algs[i]) != n || memcmp(algs[i], list, n) != 0)
				continue;
			if (pref->len)
				mg_buf_add(pref, ",", 1);
			mg_buf_add(pref, list, n);
			break;
		}
		list += n;
		if (*list == ',')
			list++;
	}
}

static void method_pref(struct sftp_conn *s, int method, const char *list)
{
	struct mg_buf pref = MG_BUF_INIT;
	const char **algs = NULL;
	int n = libssh2_session_supported_algs(s->ssh, method, &algs);

	if (n <= 0)
		return;
	pref_add(&pref, algs, n, list);
	if (pref.len)
		libssh2_session_method_pref(s->ssh, method, pref.buf);
	mg_buf_release(&pref);
	libssh2_free(s->ssh, algs);
}

/* Ask first for the key types the file knows for this host, as ssh(1)
 * does: otherwise a server with an RSA and an ed25519 key could present the
 * one we have no record of and be refused as unknown. */
static void hostkey_prefs(struct sftp_conn *s, LIBSSH2_KNOWNHOSTS *kh)
{
	struct mg_buf pref = MG_BUF_INIT;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < NKEYTYPES; i++) {
			int known = kh && known_hosts_has_type(s, kh, keytypes[i].kh_type);

			if (known != (pass == 0))
				continue;
			if (pref.len)
				mg_buf_add(&pref, ",", 1);
			mg_buf_adds(&pref, keytypes[i].algs);
		}
	method_pref(s, LIBSSH2_METHOD_HOSTKEY, pref.buf);
	mg_buf_release(&pref);
}

/* OpenSSH's "SHA256:" fingerprint: base64 of SHA-256 of the key blob,
 * without the '=' padding. */
static void fingerprint(const char *blob, size_t len, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[64];
	int n;

	EVP_Digest(blob, len, md, &mdlen, EVP_sha256(), NULL);
	n = EVP_EncodeBlock(b64, md, (int)mdlen);
	while (n > 0 && b64[n - 1] == '=')
		n--;
	b64[n] = '\0';
	snprintf(out, outlen, "SHA256:%s", b64);
}

static char *known_hosts_line(struct sftp_conn *s, const struct keytype *kt,
			      const char *blob, size_t len)
{
	struct mg_buf b = MG_BUF_INIT;
	unsigned char *b64 = mg_malloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock(b64, (const unsigned char *)blob, (int)len);
	mg_buf_addf(&b, "%s %s %s", s->hostport, kt->name, (char *)b64);
	free(b64);
	return mg_buf_detach(&b);
}

static int known_hosts_has_line(int fd, const char *want)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0, n = strlen(want);
	ssize_t got;
	int found = 0;
	int dupfd = dup(fd);

	if (dupfd < 0 || lseek(dupfd, 0, SEEK_SET) < 0 || !(f = fdopen(dupfd, "r"))) {
		if (dupfd >= 0)
			close(dupfd);
		return 0;
	}
	while (!found && (got = getline(&line, &cap, f)) > 0)
		found = (size_t)got >= n && memcmp(line, want, n) == 0 &&
			(line[n] == '\n' || line[n] == '\0');
	free(line);
	fclose(f);
	return found;
}

/* Appends one line, creating the file (0600) and, for the default
 * location, ~/.ssh (0700). */
static int known_hosts_add(const char *file, const char *line, struct mg_error *err)
{
	char *dir = mg_strdup(file), *slash = strrchr(dir, '/');
	int fd, e;
	size_t len = strlen(line);

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			e = errno;
			free(dir);
			return mg_error_set(err, MG_FATAL, e, 0, "host key",
					    "cannot create '%s' to record the host key: %s",
					    file, strerror(e));
		}
	}
	free(dir);
	fd = open(file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	/* The workers of one run connect at once and would each add the
	 * line: under the lock, a line another one added is not added again. */
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		goto fail;
	if (known_hosts_has_line(fd, line))
		goto out;
	if (write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0)
		goto fail;
out:
	close(fd);
	return MG_OK;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	return mg_error_set(err, MG_FATAL, e, 0, "host key",
			    "cannot record the host key in '%s': %s",
			    file, strerror(e));
}

static int hostkey_verify(struct sftp_conn *s, const struct known_hosts *k,
			  const char *file, struct mg_error *err)
{
	const struct mg_endpoint *ep = s->conn->ep;
	const struct keytype *kt = NULL;
	const char *blob;
	size_t len = 0;
	int type = 0, r, rc;
	char fp[80];
	char *line;

	blob = libssh2_session_hostkey(s->ssh, &len, &type);
	for (size_t i = 0; i < NKEYTYPES; i++)
		if (keytypes[i].session_type == type)
			kt = &keytypes[i];
	if (!blob || !kt)
		return mg_error_set(err, MG_FATAL, 0, 0, "host key",
				    "the server at '%s' offered no host key of a type this "
				    "program knows", s->hostport);
	fingerprint(blob, len, fp, sizeof(fp));

	if (sftp_opts(ep)->host_key_fingerprint && *sftp_opts(ep)->host_key_fingerprint) {
		const char *pin = sftp_opts(ep)->host_key_fingerprint;
		size_t plen = strlen(pin);

		if (strncmp(pin, "SHA256:", 7) != 0)
			return mg_error_set(err, MG_FATAL, 0, 0, "host key",
					    "host_key_fingerprint '%s' is not a SHA256 "
					    "fingerprint; write it as ssh-keygen -lf prints it: "
					    "\"SHA256:...\"", pin);
		while (plen > 7 && pin[plen - 1] == '=')
			plen--;
		if (plen == strlen(fp) && memcmp(pin, fp, plen) == 0)
			return MG_OK;
		return mg_error_set(err, MG_FATAL, 0, 0, "host key",
				    "host key for '%s' does not match the pinned "
				    "host_key_fingerprint: the plan pins %s, the server "
				    "offered %s %s. refusing to connect; someone may be "
				    "intercepting the connection, or the server's key was "
				    "replaced (then update the pin)",
				    s->hostport, pin, kt->name, fp);
	}

	/* A revoked key is refused before any line may accept it. */
	for (size_t i = 0; i < k->nrev; i++) {
		const struct kh_revoked *rv = &k->rev[i];

		if (rv->len != len || memcmp(rv->blob, blob, len) != 0 ||
		    !kh_hosts_match(rv->hosts, s->hostport))
			continue;
		return mg_error_set(err, MG_FATAL, 0, 0, "host key",
				    "host key for '%s' is REVOKED: '%s' line %u marks the "
				    "%s key %s the server offered as @revoked. refusing to "
				    "connect, whatever other lines accept; get the server's "
				    "new key from its administrator, and remove that line "
				    "only if the revocation was a mistake",
				    s->hostport, file, rv->line, kt->name, fp);
	}
	r = libssh2_knownhost_check(k->kh, s->hostport, blob, len,
				    LIBSSH2_KNOWNHOST_TYPE_PLAIN |
				    LIBSSH2_KNOWNHOST_KEYENC_RAW | kt->kh_type, NULL);
	switch (r) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		return MG_OK;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		return mg_error_set(err, MG_FATAL, 0, 0, "host key",
				    "host key for '%s' has CHANGED: '%s' holds another "
				    "%s key. someone may be intercepting the connection "
				    "(man-in-the-middle), or the server was reinstalled. "
				    "the server offered %s. refusing to connect; if the "
				    "change is expected, remove the old entry with "
				    "ssh-keygen -R '%s' -f '%s' and connect again",
				    s->hostport, file, kt->name, fp, s->hostport, file);
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		break;
	default:
		return mg_error_set(err, MG_FATAL, 0, 0, "host key",
				    "cannot check the host key of '%s' against '%s': %s",
				    s->hostport, file, ssh_errmsg(s));
	}

	line = known_hosts_line(s, kt, blob, len);
	if (sftp_opts(ep)->accept_new_host_keys) {
		rc = known_hosts_add(file, line, err);
		free(line);
		return rc;
	}
	/* The full line fits for ed25519 and ECDSA keys; an RSA key's line is
	 * longer than an error message may be. */
	if (strlen(line) < 200)
		mg_error_set(err, MG_FATAL, 0, 0, "host key",
			     "host key for '%s' is not known (not in '%s'): the server "
			     "offered %s %s. if that is the server's key, add this "
			     "line to '%s':\n%s\nor pin it in the plan with "
			     "host_key_fingerprint: \"%s\"",
			     s->hostport, file, kt->name, fp, file, line, fp);
	else
		mg_error_set(err, MG_FATAL, 0, 0, "host key",
			     "host key for '%s' is not known (not in '%s'): the server "
			     "offered %s %s. if that is the server's key, add it with "
			     "ssh-keyscan -t %s -p %d '%s' >> '%s', or pin it in the "
			     "plan with host_key_fingerprint: \"%s\"",
			     s->hostport, file, kt->name, fp, kt->name,
			     ep->port > 0 ? ep->port : 22, ep->host, file, fp);
	free(line);
	return MG_FATAL;
}

/* ------------------------------------------------------------------ */
/* Authentication (order and reasons at the top of this file) */

static int auth_offered(const char *methods, const char *m)
{
	size_t n = strlen(m);

	for (const char *p = methods; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && memcmp(p, m, n) == 0)
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

static void tried_add(struct mg_buf *tried, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void tried_add(struct mg_buf *tried, const char *fmt, ...)
{
	va_list ap;

	if (tried->len)
		mg_buf_adds(tried, "; ");
	va_start(ap, fmt);
	mg_buf_vaddf(tried, fmt, ap);
	va_end(ap);
}

/* 1 when the key logged us in, 0 when not (the reason is in tried). */
static int auth_keyfile(struct sftp_conn *s, const char *file, int explicit,
			struct mg_buf *tried)
{
	const struct mg_endpoint *ep = s->conn->ep;
	const char *pass = NULL;
	int rc;

	if (access(file, R_OK) < 0) {
		if (explicit)
			tried_add(tried, "identity file '%s' (cannot read it: %s)",
				  file, strerror(errno));
		return 0;
	}
	if (sftp_opts(ep)->passphrase_env && *sftp_opts(ep)->passphrase_env) {
		pass = getenv(sftp_opts(ep)->passphrase_env);
		if (!pass && explicit)
			tried_add(tried, "(passphrase variable '%s' is not set)",
				  sftp_opts(ep)->passphrase_env);
	}
	rc = libssh2_userauth_publickey_fromfile_ex(s->ssh, s->user,
						    (unsigned)strlen(s->user),
						    NULL, file, pass ? pass : "");
	if (rc == 0)
		return 1;
	if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED)
		tried_add(tried, "identity file '%s' (refused by the server)", file);
	else if (ssh_lost(rc) && rc != LIBSSH2_ERROR_FILE &&
		 rc != LIBSSH2_ERROR_KEYFILE_AUTH_FAILED &&
		 rc != LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED &&
		 rc != LIBSSH2_ERROR_METHOD_NOT_SUPPORTED)
		tried_add(tried, "identity file '%s' (%s)", file, ssh_errmsg(s));
	else
		tried_add(tried, "identity file '%s' (cannot load it: wrong or missing "
			  "passphrase%s%s, or a key format libssh2 cannot read)",
			  file, sftp_opts(ep)->passphrase_env ? " in $" : "",
			  sftp_opts(ep)->passphrase_env ? sftp_opts(ep)->passphrase_env : "");
	return 0;
}

static int auth_agent(struct sftp_conn *s, struct mg_buf *tried)
{
	struct libssh2_agent_publickey *id = NULL;
	LIBSSH2_AGENT *agent;
	int ok = 0, n = 0;

	if (!getenv("SSH_AUTH_SOCK")) {
		tried_add(tried, "ssh-agent (SSH_AUTH_SOCK is not set)");
		return 0;
	}
	agent = libssh2_agent_init(s->ssh);
	if (!agent || libssh2_agent_connect(agent) != 0 ||
	    libssh2_agent_list_identities(agent) != 0) {
		tried_add(tried, "ssh-agent (cannot talk to it)");
		goto out;
	}
	while (!ok && libssh2_agent_get_identity(agent, &id, id) == 0) {
		n++;
		ok = libssh2_agent_userauth(agent, s->user, id) == 0;
	}
	if (!ok)
		tried_add(tried, "ssh-agent (%d key%s refused)", n, n == 1 ? "" : "s");
out:
	if (agent) {
		libssh2_agent_disconnect(agent);
		libssh2_agent_free(agent);
	}
	return ok;
}

static int auth_password(struct sftp_conn *s, const char *methods,
			 struct mg_buf *tried)
{
	const struct mg_endpoint *ep = s->conn->ep;
	const char *pw;
	unsigned ulen = (unsigned)strlen(s->user);

	if (!sftp_opts(ep)->password_env || !*sftp_opts(ep)->password_env) {
		tried_add(tried, "password (no password_env in the plan)");
		return 0;
	}
	pw = getenv(sftp_opts(ep)->password_env);
	if (!pw) {
		tried_add(tried, "password (variable '%s' is not set)", sftp_opts(ep)->password_env);
		return 0;
	}
	if (auth_offered(methods, "password") &&
	    libssh2_userauth_password_ex(s->ssh, s->user, ulen, pw,
					 (unsigned)strlen(pw), NULL) == 0)
		return 1;
	if (auth_offered(methods, "keyboard-interactive")) {
		int rc;

		s->kbd_password = pw;
		rc = libssh2_userauth_keyboard_interactive_ex(s->ssh, s->user, ulen,
							      kbd_answer);
		s->kbd_password = NULL;
		if (rc == 0)
			return 1;
	}
	if (auth_offered(methods, "password") ||
	    auth_offered(methods, "keyboard-interactive"))
		tried_add(tried, "password from $%s (refused by the server)",
			  sftp_opts(ep)->password_env);
	else
		tried_add(tried, "password (the server does not accept passwords)");
	return 0;
}

static int authenticate(struct sftp_conn *s, struct mg_error *err)
{
	const struct mg_endpoint *ep = s->conn->ep;
	struct mg_buf tried = MG_BUF_INIT;
	char *methods;
	int ok = 0;

	methods = libssh2_userauth_list(s->ssh, s->user, (unsigned)strlen(s->user));
	if (!methods) {
		if (libssh2_userauth_authenticated(s->ssh))
			return MG_OK;	/* the server took "none" */
		return mg_error_set(err, MG_FATAL, 0, 0, "login",
				    "cannot log in to %s: the server did not list its "
				    "authentication methods (%s)", s->where, ssh_errmsg(s));
	}
	/* userauth_list's string lives in the session and is overwritten by
	 * the next call: keep a copy. */
	methods = mg_strdup(methods);

	if (auth_offered(methods, "publickey")) {
		if (sftp_opts(ep)->identity_file && *sftp_opts(ep)->identity_file) {
			char *f = expand_tilde(sftp_opts(ep)->identity_file);

			ok = auth_keyfile(s, f, 1, &tried);
			free(f);
		}
		if (!ok)
			ok = auth_agent(s, &tried);
		if (!ok && !(sftp_opts(ep)->identity_file && *sftp_opts(ep)->identity_file)) {
			static const char *const defaults[] = {
				".ssh/id_ed25519", ".ssh/id_ecdsa", ".ssh/id_rsa",
			};
			size_t before = tried.len;

			for (size_t i = 0; !ok && i < 3; i++) {
				char *f = home_path(defaults[i]);

				ok = auth_keyfile(s, f, 0, &tried);
				free(f);
			}
			if (!ok && tried.len == before)
				tried_add(&tried, "default keys (no identity_file in the "
					  "plan and no ~/.ssh/id_* key)");
		}
	} else {
		tried_add(&tried, "public keys (the server does not accept them)");
	}
	if (!ok && (!libssh2_userauth_authenticated(s->ssh)))
		ok = auth_password(s, methods, &tried);

	if (!ok)
		mg_error_set(err, MG_FATAL, 0, 0, "login",
			     "cannot log in to %s as user '%s' on host '%s'; tried: %s. "
			     "the server accepts: %s. check identity_file and the "
			     "server's authorized_keys, or set password_env",
			     s->where, s->user, ep->host, tried.buf ? tried.buf : "nothing",
			     methods);
	free(methods);
	mg_buf_release(&tried);
	return ok ? MG_OK : MG_FATAL;
}

/* ------------------------------------------------------------------ */
/* Sessions */

/* Drops the session without a goodbye: after a lost connection every
 * further send would fail or block, so the socket is shut first. */
static void session_drop(struct sftp_conn *s, int graceful)
{
	if (!graceful && s->sock >= 0)
		shutdown(s->sock, SHUT_RDWR);
	if (s->sftp)
		libssh2_sftp_shutdown(s->sftp);
	s->sftp = NULL;
	if (s->ssh) {
		if (graceful)
			libssh2_session_disconnect(s->ssh, "done");
		libssh2_session_free(s->ssh);
	}
	s->ssh = NULL;
	if (s->sock >= 0)
		close(s->sock);
	s->sock = -1;
}

/* connect() that gives up after SFTP_CONNECT_MS: a host that drops SYNs
 * would otherwise hold a worker for the kernel's two minutes of retries. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len)
{
	int flags = fcntl(fd, F_GETFL), e = 0, r;
	socklen_t elen = sizeof(e);
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	fcntl(fd, F_SETFL, flags | O_NONBLOCK);
	r = connect(fd, sa, len);
	if (r < 0 && errno == EINPROGRESS) {
		do
			r = poll(&p, 1, SFTP_CONNECT_MS);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (r > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) == 0 && e) {
			errno = e;
			return -1;
		}
		r = r > 0 ? 0 : -1;
	}
	if (r == 0)
		fcntl(fd, F_SETFL, flags);
	return r;
}

static int tcp_connect(struct sftp_conn *s, struct mg_error *err)
{
	const struct mg_endpoint *ep = s->conn->ep;
	struct addrinfo hints, *res = NULL, *ai;
	char port[16];
	int fd = -1, e = 0, rc, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", ep->port > 0 ? ep->port : 22);
	rc = getaddrinfo(ep->host, port, &hints, &res);
	if (rc != 0)	/* remote_code 1: the name does not resolve */
		return mg_error_set(err, MG_FATAL, 0, 1, "connect",
				    "cannot resolve host '%s': %s; check the host in '%s'",
				    ep->host, gai_strerror(rc), ep->url ? ep->url : "");
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
			    ai->ai_protocol);
		if (fd < 0) {
			e = errno;
			continue;
		}
		if (connect_timeout(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return mg_error_set(err, MG_FATAL, e, 0, "connect",
				    "cannot connect to '%s' port %s: %s; check that sshd "
				    "runs there and the port is right",
				    ep->host, port, strerror(e));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	s->sock = fd;
	return MG_OK;
}

/* A complete connection: TCP, SSH handshake, host key, login, SFTP. */
static int session_start(struct sftp_conn *s, struct mg_error *err)
{
	const struct mg_endpoint *ep = s->conn->ep;
	struct known_hosts kh = { NULL, NULL, 0 };
	char *khfile = NULL;
	int rc;

	rc = tcp_connect(s, err);
	if (rc != MG_OK)
		return rc;
	s->ssh = libssh2_session_init_ex(NULL, NULL, NULL, s);
	if (!s->ssh) {
		rc = mg_error_set(err, MG_FATAL, 0, 0, "connect",
				  "cannot create an ssh session (out of memory?)");
		goto fail;
	}
	libssh2_session_callback_set(s->ssh, LIBSSH2_CALLBACK_SEND, (void *)sock_send);
	libssh2_session_set_blocking(s->ssh, 1);
	libssh2_session_set_timeout(s->ssh, SFTP_TIMEOUT_MS);
	/* The ciphers ssh(1) offers by default that libssh2 1.10 has (no
	 * chacha20 or GCM), AES-128 first as ssh(1) orders them: it costs a
	 * quarter less CPU per byte than AES-256, which shows on a fast link. */
	method_pref(s, LIBSSH2_METHOD_CRYPT_CS, "aes128-ctr,aes192-ctr,aes256-ctr");
	method_pref(s, LIBSSH2_METHOD_CRYPT_SC, "aes128-ctr,aes192-ctr,aes256-ctr");

	if (!(sftp_opts(ep)->host_key_fingerprint && *sftp_opts(ep)->host_key_fingerprint)) {
		khfile = known_hosts_file(ep);
		rc = known_hosts_load(s, khfile, &kh, err);
		if (rc != MG_OK)
			goto fail;
	}
	hostkey_prefs(s, kh.kh);

	rc = libssh2_session_handshake(s->ssh, s->sock);
	if (rc != 0) {
		rc = mg_error_set(err, MG_FATAL, 0, rc, "connect",
				  "ssh handshake with '%s' failed: %s; is it an ssh server?",
				  s->hostport, ssh_errmsg(s));
		goto fail;
	}
	rc = hostkey_verify(s, &kh, khfile, err);
	if (rc != MG_OK)
		goto fail;
	rc = authenticate(s, err);
	if (rc != MG_OK)
		goto fail;
	s->sftp = libssh2_sftp_init(s->ssh);
	if (!s->sftp) {
		rc = mg_error_set(err, MG_FATAL, 0, 0, "connect",
				  "%s refused the sftp subsystem: %s; check 'Subsystem sftp' "
				  "in its sshd_config", s->where, ssh_errmsg(s));
		goto fail;
	}
	s->gen++;
	known_hosts_free(&kh);
	free(khfile);
	return MG_OK;
fail:
	known_hosts_free(&kh);
	free(khfile);
	session_drop(s, 0);
	return rc;
}

static int sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	return nanosleep(&ts, NULL);
}

/*
 * A session, tried up to SFTP_RECONNECTS times while the failure is in
 * reaching the server: sshd drops connections beyond MaxStartups (10 by
 * default) while they are not yet logged in, so workers that connect at
 * once can be turned away and do get in a moment later.  Host key and
 * login failures are final at once.
 */
static int session_start_retry(struct sftp_conn *s, struct mg_error *e,
			       int patient)
{
	static const long pause_ms[SFTP_RECONNECTS] = { 0, 500, 2000 };
	int rc = MG_FATAL;

	for (int i = 0; i < SFTP_RECONNECTS; i++) {
		/* jitter: workers turned away together come back apart */
		if (pause_ms[i])
			sleep_ms(pause_ms[i] + (long)(mg_mono_ns() / 1000 % 250));
		mg_error_clear(e);
		rc = session_start(s, e);
		if (rc == MG_OK || strcmp(e->op, "connect") != 0)
			break;
		/* Nothing listens there, or no such host: at the first
		 * connection that is a mistake in the plan, not a busy server;
		 * after a drop it may be sshd restarting. */
		if (!patient && (e->sys_errno == ECONNREFUSED || e->remote_code == 1))
			break;
	}
	return rc;
}

/*
 * Replaces a lost session with a new one.  The error goes to conn->err
 * only when giving up, so a reconnect that succeeds leaves no stale error;
 * a server that cannot be reached now is worth retrying later (MG_RETRY).
 */
static int session_restart(struct sftp_conn *s)
{
	struct mg_error e;

	session_drop(s, 0);
	if (session_start_retry(s, &e, 1) == MG_OK)
		return MG_OK;
	if (e.status == MG_FATAL && strcmp(e.op, "connect") == 0)
		e.status = MG_RETRY;
	return mg_error_set(&s->conn->err, e.status, e.sys_errno, e.remote_code,
			    e.op, "the connection to %s was lost and could not be "
			    "made again: %s", s->where, e.msg);
}

/* Before an operation: a session lost earlier is replaced first. */
static int session_ensure(struct sftp_conn *s)
{
	return s->sftp ? MG_OK : session_restart(s);
}

/* ------------------------------------------------------------------ */
/* Paths on the server */

static int rstat(struct sftp_conn *s, const char *path, int how,
		 LIBSSH2_SFTP_ATTRIBUTES *a)
{
	memset(a, 0, sizeof(*a));
	return libssh2_sftp_stat_ex(s->sftp, path, (unsigned)strlen(path), how, a);
}

static int attrs_is_dir(const LIBSSH2_SFTP_ATTRIBUTES *a)
{
	return (a->flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
	       LIBSSH2_SFTP_S_ISDIR(a->permissions);
}

/* mkdir -p: the folders that exist already answer FAILURE, which is fine;
 * the final stat decides. */
static int mkdirs(struct sftp_conn *s, const char *path)
{
	LIBSSH2_SFTP_ATTRIBUTES a;
	char *p = mg_strdup(path);
	int rc;

	if (rstat(s, p, LIBSSH2_SFTP_STAT, &a) == 0 && attrs_is_dir(&a)) {
		free(p);
		return 0;
	}
	for (char *q = p + 1; ; q++) {
		if (*q == '/' || *q == '\0') {
			char c = *q;

			*q = '\0';
			rc = libssh2_sftp_mkdir_ex(s->sftp, p, (unsigned)strlen(p), 0755);
			*q = c;
			if (rc < 0 && ssh_lost(rc)) {
				free(p);
				return rc;
			}
			if (!c)
				break;
		}
	}
	rc = rstat(s, p, LIBSSH2_SFTP_STAT, &a);
	if (rc == 0 && !attrs_is_dir(&a))
		rc = LIBSSH2_ERROR_SFTP_PROTOCOL;
	free(p);
	return rc;
}

/* Keys come from another endpoint's listing.  The engine refuses the ones
 * that would step outside the root (mg_key_check); this connector asks
 * the same function again before it touches a path, so a caller that
 * forgot cannot make it write outside. */
static int key_refused(struct sftp_conn *s, const char *op, const char *key)
{
	const char *why = NULL;
	char k[256];

	if (mg_key_check(key, MG_KEY_FILE, &why) == 0)
		return 0;
	mg_printable(key, k, sizeof(k));
	return mg_error_set(&s->conn->err, MG_FAILED, 0, 0, op,
			    "%s: key '%s' cannot be used over sftp: it %s", op, k,
			    why ? why : "is not a safe name");
}

/* Length of the longest run of whole folders a and b ("x/y", key
 * prefixes) start with: "a/b" and "a/bc" share "a". */
static size_t common_dirs(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, last = 0;

	while (i < alen && i < blen && a[i] == b[i]) {
		i++;
		if ((i == alen || a[i] == '/') && (i == blen || b[i] == '/'))
			last = i;
	}
	return last;
}

/* The error for a folder component of key that is a link or no folder. */
static int parent_refused(struct sftp_conn *s, const char *op, const char *key,
			  const char *path, int is_link)
{
	char k[256], p[512], t[256];
	char buf[SFTP_NAME_MAX];
	int n = -1;

	mg_printable(key, k, sizeof(k));
	mg_printable(path, p, sizeof(p));
	if (!is_link)
		return mg_error_set(&s->conn->err, MG_FAILED, 0, 0, op,
				    "%s '%s' on %s: '%s' is not a folder, so nothing can "
				    "be placed beneath it; rename or remove it and run "
				    "again", op, k, s->where, p);
	if (s->sftp)
		n = libssh2_sftp_symlink_ex(s->sftp, path, (unsigned)strlen(path), buf,
					    sizeof(buf) - 1, LIBSSH2_SFTP_READLINK);
	if (n >= 0) {
		buf[n] = '\0';
		mg_printable(buf, t, sizeof(t));
	}
	return mg_error_set(&s->conn->err, MG_FAILED, 0, 0, op,
			    "%s '%s' on %s: '%s' is a symbolic link%s%s%s; nothing is "
			    "written, renamed or removed through a link inside the "
			    "target folder. remove the link (or put a real folder in "
			    "its place) and run again", op, k, s->where, p,
			    n >= 0 ? " to '" : "", n >= 0 ? t : "", n >= 0 ? "'" : "");
}

/*
 * Makes the folders of key beneath the root safe to use, one component at
 * a time with lstat: a symbolic link or something that is not a folder
 * fails the object (MG_FAILED, conn->err set); a missing folder is made
 * when create is set, else the answer is MG_ABSENT.  The chain checked
 * last is remembered, so the objects of one folder cost no request and a
 * sibling folder one, as a single stat did before.
 *
 * SFTP has no openat(): a link swapped in by someone racing this check is
 * not caught (the temporary file is still created exclusively, so no
 * existing file is ever opened through one).  Every link present before
 * is.
 */
static int parents_check(struct sftp_conn *s, const char *key, const char *op,
			 int create)
{
	const char *slash = strrchr(key, '/');
	LIBSSH2_SFTP_ATTRIBUTES a;
	size_t dlen, done = 0, e;
	char *path;
	int rc = 0;

	if (!slash)
		return MG_OK;
	dlen = (size_t)(slash - key);
	if (s->made_dir)
		done = common_dirs(s->made_dir, strlen(s->made_dir), key, dlen);
	if (done == dlen)
		return MG_OK;
	for (e = done; e < dlen; ) {
		e++;
		e += strcspn(key + e, "/");
		if (e > dlen)
			e = dlen;
		remote_path(s, key, e);
		path = mg_strdup(s->path.buf);
		rc = rstat(s, path, LIBSSH2_SFTP_LSTAT, &a);
		if (rc < 0 && create &&
		    sftp_status(s, rc) == LIBSSH2_FX_NO_SUCH_FILE) {
			int m = libssh2_sftp_mkdir_ex(s->sftp, path,
						      (unsigned)strlen(path), 0755);

			/* FAILURE is "exists": made by someone else meanwhile,
			 * and the lstat decides what it is */
			rc = m == 0 || (m == LIBSSH2_ERROR_SFTP_PROTOCOL &&
					sftp_status(s, m) == LIBSSH2_FX_FAILURE) ?
				rstat(s, path, LIBSSH2_SFTP_LSTAT, &a) : m;
		}
		if (rc < 0) {
			unsigned long fx = sftp_status(s, rc);

			free(path);
			if (!create && (fx == LIBSSH2_FX_NO_SUCH_FILE ||
					fx == LIBSSH2_FX_NO_SUCH_PATH)) {
				rc = MG_ABSENT;
				break;
			}
			if (ssh_lost(rc))
				session_drop(s, 0);
			return sftp_fail(s, rc, op, key);
		}
		if (!(a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) ||
		    !LIBSSH2_SFTP_S_ISDIR(a.permissions)) {
			rc = parent_refused(s, op, key, path,
					    (a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
					    LIBSSH2_SFTP_S_ISLNK(a.permissions));
			free(path);
			return rc;
		}
		free(path);
		done = e;
	}
	/* what is known good now: the chain up to done */
	free(s->made_dir);
	s->made_dir = done ? mg_strndup(key, done) : NULL;
	return rc == MG_ABSENT ? MG_ABSENT : MG_OK;
}

static int resolve_root(struct sftp_conn *s, unsigned flags)
{
	const struct mg_endpoint *ep = s->conn->ep;
	LIBSSH2_SFTP_ATTRIBUTES a;
	char buf[SFTP_NAME_MAX];
	const char *p = ep->path && *ep->path ? ep->path : ".";
	int rc;

	/* sftp://host/~/x names x in the login folder, as scp and curl do. */
	if (strcmp(p, "/~") == 0)
		p = ".";
	else if (strncmp(p, "/~/", 3) == 0)
		p += 3;
	rc = libssh2_sftp_symlink_ex(s->sftp, p, (unsigned)strlen(p), buf,
				     sizeof(buf) - 1, LIBSSH2_SFTP_REALPATH);
	if (rc < 0 && (flags & MG_OPEN_TARGET) && !ssh_lost(rc)) {
		rc = mkdirs(s, p);
		if (rc == 0)
			rc = libssh2_sftp_symlink_ex(s->sftp, p, (unsigned)strlen(p),
						     buf, sizeof(buf) - 1,
						     LIBSSH2_SFTP_REALPATH);
	}
	if (rc < 0) {
		sftp_fail(s, rc, "open folder", p);
		s->conn->err.status = MG_FATAL;
		return MG_FATAL;
	}
	buf[rc] = '\0';
	s->root = mg_strdup(buf);
	rc = rstat(s, s->root, LIBSSH2_SFTP_STAT, &a);
	if (rc < 0 && (flags & MG_OPEN_TARGET) &&
	    sftp_status(s, rc) == LIBSSH2_FX_NO_SUCH_FILE) {
		/* newer servers resolve a path whose last part is missing */
		rc = mkdirs(s, s->root);
		if (rc == 0)
			rc = rstat(s, s->root, LIBSSH2_SFTP_STAT, &a);
	}
	if (rc < 0) {
		sftp_fail(s, rc, "open folder", s->root);
		s->conn->err.status = MG_FATAL;
		return MG_FATAL;
	}
	if (!attrs_is_dir(&a))
		return mg_error_set(&s->conn->err, MG_FATAL, 0, 0, "open",
				    "'%s' on %s is not a folder; an sftp endpoint names "
				    "a folder", s->root, s->where);
	return MG_OK;
}

static int sftp_open(struct mg_conn *conn, unsigned flags)
{
	const struct mg_endpoint *ep = conn->ep;
	struct sftp_conn *s;
	struct mg_error e;
	int rc, port = ep->port > 0 ? ep->port : 22;

	pthread_once(&sftp_once, sftp_global_init);
	if (sftp_init_rc != 0)
		return mg_error_set(&conn->err, MG_FATAL, 0, sftp_init_rc, "open",
				    "cannot initialise libssh2");
	if (!ep->host || !*ep->host)
		return mg_error_set(&conn->err, MG_FATAL, 0, 0, "open",
				    "'%s' names no host; write sftp://user@host:port/path",
				    ep->url ? ep->url : "");
	s = mg_calloc(1, sizeof(*s));
	s->conn = conn;
	s->sock = -1;
	s->flags = flags;
	conn->priv = s;
	if (ep->user && *ep->user) {
		s->user = mg_strdup(ep->user);
	} else {
		struct passwd *pw = getpwuid(getuid());

		s->user = mg_strdup(pw ? pw->pw_name : "root");
	}
	/* known_hosts names a host on another port "[host]:port". */
	if (port == 22)
		snprintf(s->hostport, sizeof(s->hostport), "%s", ep->host);
	else
		snprintf(s->hostport, sizeof(s->hostport), "[%s]:%d", ep->host, port);
	snprintf(s->where, sizeof(s->where), "'%s@%s:%d'", s->user, ep->host, port);

	rc = session_start_retry(s, &e, 0);
	if (rc != MG_OK) {
		mg_error_copy(&conn->err, &e);
		return MG_FATAL;
	}
	return resolve_root(s, flags);
}

static void sftp_close(struct mg_conn *conn)
{
	struct sftp_conn *s = conn->priv;

	if (!s)
		return;
	session_drop(s, 1);
	free(s->user);
	free(s->root);
	free(s->made_dir);
	free(s->stat_key);
	mg_buf_release(&s->path);
	free(s);
	conn->priv = NULL;
}

/* ------------------------------------------------------------------ */
/* Listing */

struct sftp_child {
	char *name;		/* sort key: the name, plus '/' for a folder */
	size_t len;		/* of the name without that '/' */
	int is_dir;		/* walk it as "name/" */
	int loop;		/* followed link back to a folder on the stack */
	int outside;		/* `follow`: a link that leads outside the root */
	LIBSSH2_SFTP_ATTRIBUTES a;
	const char *error;	/* static text, for a link that cannot be followed */
};

struct sftp_frame {
	char *prefix;		/* key prefix: "" or "a/b/" */
	char *real;		/* realpath, only when following links */
	struct sftp_child *kids;
	size_t n, next;
};

struct mg_lister {
	struct sftp_conn *s;
	struct sftp_frame *stack;
	size_t depth, alloc;
	char *start_after;	/* NULL once passed */
	int started;
	struct mg_buf key;
	char link[SFTP_NAME_MAX];
	char errmsg[256];
};

static int child_cmp(const void *a, const void *b)
{
	const struct sftp_child *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static void frame_release(struct sftp_frame *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->kids[i].name);
	free(f->kids);
	free(f->prefix);
	free(f->real);
}

static int follow_links(const struct sftp_conn *s)
{
	return sftp_opts(s->conn->ep)->symlinks == MG_SYMLINKS_FOLLOW ||
	       sftp_opts(s->conn->ep)->symlinks == MG_SYMLINKS_FOLLOW_ALL;
}

/* 1 if real (a realpath) is root_real or below it. */
static int real_inside(const char *real, const char *root_real)
{
	size_t n = strlen(root_real);

	if (n == 1 && root_real[0] == '/')
		return 1;
	return !strncmp(real, root_real, n) && (real[n] == '/' || real[n] == '\0');
}

static int realpath_of(struct sftp_conn *s, const char *path, char **out)
{
	char buf[SFTP_NAME_MAX];
	int rc = libssh2_sftp_symlink_ex(s->sftp, path, (unsigned)strlen(path), buf,
					 sizeof(buf) - 1, LIBSSH2_SFTP_REALPATH);

	if (rc < 0)
		return rc;
	buf[rc] = '\0';
	*out = mg_strdup(buf);
	return 0;
}

/* Is real the folder of a frame on the stack (an ancestor, or the folder
 * being read)?  Then following the link would walk in a circle. */
static int on_stack(struct mg_lister *it, const char *real, const char *self)
{
	if (self && strcmp(self, real) == 0)
		return 1;
	for (size_t i = 0; i < it->depth; i++)
		if (it->stack[i].real && strcmp(it->stack[i].real, real) == 0)
			return 1;
	return 0;
}

/*
 * Reads the folder prefix (a key prefix, "" for the root) whole into f.
 * Returns 0 or a libssh2 error.  With links followed, a link is judged
 * here, while its folder is read, because its kind decides where it sorts.
 */
static int dir_read(struct mg_lister *it, const char *prefix, struct sftp_frame *f)
{
	struct sftp_conn *s = it->s;
	size_t plen = strlen(prefix);
	char *dir = mg_strndup(prefix, plen ? plen - 1 : 0);
	char *dpath = path_join(s->root, dir);
	LIBSSH2_SFTP_HANDLE *h;
	char name[SFTP_NAME_MAX];
	size_t alloc = 0;
	int rc = 0;

	memset(f, 0, sizeof(*f));
	free(dir);
	mg_count_req(s->conn, MG_REQ_LIST);
	if (follow_links(s)) {
		rc = realpath_of(s, dpath, &f->real);
		if (rc < 0)
			goto out;
	}
	h = libssh2_sftp_open_ex(s->sftp, dpath, (unsigned)strlen(dpath), 0, 0,
				 LIBSSH2_SFTP_OPENDIR);
	if (!h) {
		rc = libssh2_session_last_errno(s->ssh);
		if (rc == 0)
			rc = LIBSSH2_ERROR_SFTP_PROTOCOL;
		goto out;
	}
	for (;;) {
		LIBSSH2_SFTP_ATTRIBUTES a;
		struct sftp_child *c;

		memset(&a, 0, sizeof(a));
		rc = libssh2_sftp_readdir_ex(h, name, sizeof(name) - 1, NULL, 0, &a);
		if (rc <= 0)
			break;
		name[rc] = '\0';
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
		    strchr(name, '/'))
			continue;
		if (f->n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			f->kids = mg_realloc(f->kids, alloc * sizeof(*f->kids));
		}
		c = &f->kids[f->n++];
		memset(c, 0, sizeof(*c));
		c->len = (size_t)rc;
		c->a = a;
		if ((a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
		    LIBSSH2_SFTP_S_ISLNK(a.permissions) && follow_links(s)) {
			char *lpath = path_join(dpath, name);
			LIBSSH2_SFTP_ATTRIBUTES t;
			int r = rstat(s, lpath, LIBSSH2_SFTP_STAT, &t);

			if (r == 0) {
				char *real = NULL;
				/* `follow` stays inside the source root: a
				 * link leading elsewhere is reported, not
				 * copied (`follow-all` takes it anyway) */
				const char *root = it->depth ? it->stack[0].real : f->real;

				r = realpath_of(s, lpath, &real);
				if (r == 0 && sftp_opts(s->conn->ep)->symlinks == MG_SYMLINKS_FOLLOW &&
				    root && !real_inside(real, root))
					c->outside = 1;
				else if (r == 0)
					c->a = t;
				if (r == 0 && !c->outside && attrs_is_dir(&t) &&
				    on_stack(it, real, f->real))
					c->loop = 1;
				free(real);
			}
			if (r < 0 && ssh_lost(r)) {
				free(lpath);
				rc = r;
				break;
			}
			if (r < 0) {
				unsigned long fx = sftp_status(s, r);

				c->error = fx == LIBSSH2_FX_NO_SUCH_FILE ?
					"broken symbolic link (its target does not exist)" :
					"cannot follow symbolic link";
			}
			free(lpath);
		}
		c->is_dir = !c->loop && !c->outside && !c->error && attrs_is_dir(&c->a);
		c->name = mg_malloc(c->len + 2);
		memcpy(c->name, name, c->len);
		c->name[c->len] = '/';
		c->name[c->len + c->is_dir] = '\0';
	}
	libssh2_sftp_close_handle(h);
	if (rc == 0)
		qsort(f->kids, f->n, sizeof(*f->kids), child_cmp);
out:
	free(dpath);
	if (rc < 0) {
		frame_release(f);
		memset(f, 0, sizeof(*f));
	}
	return rc;
}

/*
 * Reads a folder, reconnecting when the connection drops meanwhile.
 * Returns MG_OK; MG_FAILED with why filled when this folder cannot be
 * read (the listing goes on); MG_RETRY or MG_FATAL with conn->err set when
 * the connection is gone.
 */
static int dir_read_retry(struct mg_lister *it, const char *prefix,
			  struct sftp_frame *f, char *why, size_t whylen)
{
	struct sftp_conn *s = it->s;
	int rc;

	for (int tries = 0; ; tries++) {
		rc = session_ensure(s);
		if (rc != MG_OK)
			return rc;
		rc = dir_read(it, prefix, f);
		if (rc == 0)
			return MG_OK;
		if (!ssh_lost(rc)) {
			unsigned long fx = sftp_status(s, rc);

			snprintf(why, whylen, "cannot list folder: %s",
				 fx ? fx_text(fx) : ssh_errmsg(s));
			return MG_FAILED;
		}
		if (tries >= SFTP_RECONNECTS) {
			rc = sftp_fail(s, rc, "list folder", prefix);
			session_drop(s, 0);
			return rc;
		}
		session_drop(s, 0);
	}
}

static void frame_push(struct mg_lister *it, struct sftp_frame *f, const char *prefix)
{
	if (it->depth == it->alloc) {
		it->alloc = it->alloc ? it->alloc * 2 : 16;
		it->stack = mg_realloc(it->stack, it->alloc * sizeof(*it->stack));
	}
	f->prefix = mg_strdup(prefix);
	it->stack[it->depth++] = *f;
}

static int sftp_list_open(struct mg_conn *conn, const char *start_after,
			  struct mg_lister **out)
{
	struct mg_lister *it = mg_calloc(1, sizeof(*it));

	it->s = conn->priv;
	it->start_after = start_after ? mg_strdup(start_after) : NULL;
	*out = it;
	return MG_OK;
}

static void sftp_list_close(struct mg_lister *it)
{
	if (!it)
		return;
	while (it->depth)
		frame_release(&it->stack[--it->depth]);
	free(it->stack);
	free(it->start_after);
	mg_buf_release(&it->key);
	free(it);
}

/* Is every key under the folder prefix dkey ("d/") at or before
 * start_after?  Then the whole folder is skipped unread. */
static int before_start(const char *dkey, size_t dlen, const char *sa)
{
	return sa && strncmp(sa, dkey, dlen) != 0 && strcmp(dkey, sa) < 0;
}

static int sftp_list_next(struct mg_lister *it, struct mg_entry *out)
{
	struct sftp_conn *s = it->s;
	struct sftp_frame f;
	int rc;

	if (!it->started) {
		it->started = 1;
		rc = dir_read_retry(it, "", &f, it->errmsg, sizeof(it->errmsg));
		if (rc == MG_FAILED)
			return mg_error_set(&s->conn->err, MG_FAILED, 0, 0, "list",
					    "'%s' on %s: %s", s->root, s->where,
					    it->errmsg);
		if (rc != MG_OK)
			return rc;
		frame_push(it, &f, "");
	}
	for (;;) {
		struct sftp_frame *top;
		struct sftp_child *c;
		const char *target;

		if (it->depth == 0)
			return MG_DONE;
		top = &it->stack[it->depth - 1];
		if (top->next == top->n) {
			frame_release(top);
			it->depth--;
			continue;
		}
		c = &top->kids[top->next++];
		mg_buf_reset(&it->key);
		mg_buf_adds(&it->key, top->prefix);
		mg_buf_adds(&it->key, c->name);

		memset(out, 0, sizeof(*out));
		out->key = it->key.buf;
		if (c->is_dir) {
			if (before_start(it->key.buf, it->key.len, it->start_after))
				continue;
			rc = dir_read_retry(it, it->key.buf, &f, it->errmsg,
					    sizeof(it->errmsg));
			if (rc == MG_FAILED) {
				/* An unreadable folder fails alone; its key keeps the
				 * '/' it sorted by, so the order holds. */
				if (it->start_after &&
				    strcmp(it->key.buf, it->start_after) <= 0)
					continue;
				out->kind = MG_ENTRY_ERROR;
				out->error = it->errmsg;
				return MG_OK;
			}
			if (rc != MG_OK)
				return rc;
			frame_push(it, &f, it->key.buf);
			continue;
		}
		if (it->start_after) {
			if (strcmp(it->key.buf, it->start_after) <= 0)
				continue;
			free(it->start_after);
			it->start_after = NULL;
		}
		if (c->a.flags & LIBSSH2_SFTP_ATTR_SIZE)
			out->size = c->a.filesize;
		if (c->a.flags & LIBSSH2_SFTP_ATTR_ACMODTIME)
			out->mtime_ns = (int64_t)c->a.mtime * 1000000000;
		if (c->a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS)
			out->mode = (unsigned)c->a.permissions & 07777;
		if (c->error) {
			out->kind = MG_ENTRY_ERROR;
			out->error = c->error;
			return MG_OK;
		}
		if (c->loop || c->outside || ((c->a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
					      LIBSSH2_SFTP_S_ISLNK(c->a.permissions))) {
			/* Reported and skipped.  A followed link that leads back to
			 * a folder being walked is a loop: its content is copied
			 * through the real path already. */
			out->kind = MG_ENTRY_SYMLINK;
			out->size = 0;
			if (c->loop)
				out->error = "symbolic link loop: not followed";
			if (c->outside)
				out->error = "symbolic link leads outside the source folder: "
					     "not followed (symlinks: follow-all follows it)";
			if (!s->sftp)
				return MG_OK;
			target = remote_path(s, it->key.buf, it->key.len);
			rc = libssh2_sftp_symlink_ex(s->sftp, target, (unsigned)strlen(target),
						     it->link, sizeof(it->link) - 1,
						     LIBSSH2_SFTP_READLINK);
			if (rc >= 0) {
				it->link[rc] = '\0';
				out->link_target = it->link;
			}
			return MG_OK;
		}
		if ((c->a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS) &&
		    !LIBSSH2_SFTP_S_ISREG(c->a.permissions)) {
			out->kind = MG_ENTRY_SPECIAL;
			return MG_OK;
		}
		out->kind = MG_ENTRY_FILE;
		return MG_OK;
	}
}

/* ------------------------------------------------------------------ */
/* Reading */

struct mg_reader {
	struct sftp_conn *s;
	char *path;
	char *key;
	LIBSSH2_SFTP_HANDLE *h;
	unsigned gen;		/* session the handle belongs to */
	uint64_t hpos;		/* offset of the handle: bytes fetched so far */
	uint64_t end;		/* offset + length, UINT64_MAX: to the end */
	uint64_t size;		/* at open: a reopen checks nothing changed */
	unsigned long mtime;
	int fails;		/* reconnects since the last byte arrived */
	char *win;		/* read window, see SFTP_READ_WINDOW */
	size_t woff, wlen;
	struct mg_ranged *par;	/* set: a large read over several connections */
	struct mg_bigread *big;	/* set: a large read on a channel of its own */
	unsigned big_gen;	/* the session that channel belongs to */
	int64_t busy_ns, first_ns;	/* latency.h MG_LAT_SFTP_READ; first: 0 none yet */
};

/* Issue 16.1: one round trip of class cls, sent at t0, was answered. */
static void round_trip(struct mg_conn *conn, int cls, int64_t t0)
{
	int64_t d = mg_mono_ns() - t0;

	mg_count_time(conn, cls, d, d);
}

/* Opens (or after a reconnect, reopens) the handle at r->hpos. */
static int reader_open_handle(struct mg_reader *r)
{
	struct sftp_conn *s = r->s;
	LIBSSH2_SFTP_ATTRIBUTES a;
	int64_t t0 = mg_mono_ns();
	int rc;

	r->h = libssh2_sftp_open_ex(s->sftp, r->path, (unsigned)strlen(r->path),
				    LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
	round_trip(s->conn, MG_LAT_SFTP_OPEN, t0);
	if (!r->h) {
		rc = libssh2_session_last_errno(s->ssh);
		return rc ? rc : LIBSSH2_ERROR_SFTP_PROTOCOL;
	}
	r->gen = s->gen;
	mg_count_req(s->conn, MG_REQ_GET);
	memset(&a, 0, sizeof(a));
	rc = libssh2_sftp_fstat_ex(r->h, &a, 0);
	if (rc < 0)
		return rc;
	if (r->size == UINT64_MAX) {
		r->size = a.filesize;
		r->mtime = a.mtime;
	} else if (a.filesize != r->size || a.mtime != r->mtime) {
		return 1;	/* changed meanwhile */
	}
	if (r->hpos)
		libssh2_sftp_seek64(r->h, r->hpos);
	return 0;
}

/* A new session, then the handle again at the offset reached. */
static int reader_reconnect(struct mg_reader *r)
{
	int rc;

	if (++r->fails > SFTP_RECONNECTS)
		return mg_error_set(&r->s->conn->err, MG_RETRY, 0, 0, "read",
				    "reading '%s' from %s: the connection dropped %d "
				    "times without progress", r->key, r->s->where,
				    SFTP_RECONNECTS);
	/* The handle dies with its session; closing it on the broken one
	 * only frees what libssh2 queued for it. */
	if (r->h && r->gen == r->s->gen && r->s->sftp)
		libssh2_sftp_close_handle(r->h);
	r->h = NULL;
	rc = session_restart(r->s);
	if (rc != MG_OK)
		return rc;
	for (;;) {
		rc = reader_open_handle(r);
		if (rc == 1)
			return mg_error_set(&r->s->conn->err, MG_FAILED, 0, 0, "read",
					    "'%s' on %s changed while it was read; it "
					    "will be copied again", r->key, r->s->where);
		if (rc == 0)
			return MG_OK;
		if (!ssh_lost(rc))
			return sftp_fail(r->s, rc, "read", r->key);
		if (++r->fails > SFTP_RECONNECTS)
			return sftp_fail(r->s, rc, "read", r->key);
		r->h = NULL;
		rc = session_restart(r->s);
		if (rc != MG_OK)
			return rc;
	}
}

static void reader_free(struct mg_reader *r)
{
	/* a channel of a replaced session went with it */
	mg_bigread_close(r->big, r->big_gen == r->s->gen && r->s->ssh);
	if (r->h && r->gen == r->s->gen && r->s->sftp)
		libssh2_sftp_close_handle(r->h);
	free(r->path);
	free(r->key);
	free(r->win);
	mg_ranged_close(r->par);
	free(r);
}

/* A large read goes over parallel_reads connections of its own (the handle
 * just opened only told the size); a small one stays on this one. */
static int reader_go_parallel(struct mg_reader *r, uint64_t offset, uint64_t length)
{
	struct sftp_conn *s = r->s;
	int64_t n = sftp_opts(s->conn->ep)->parallel_reads;
	uint64_t len;

	if (n == 0)
		n = SFTP_PARALLEL_READS;
	if (n < 2 || offset >= r->size)
		return MG_OK;
	len = length != UINT64_MAX ? length : r->size - offset;
	if (len < SFTP_RANGED_MIN)
		return MG_OK;
	if (r->h && r->gen == s->gen && s->sftp)
		libssh2_sftp_close_handle(r->h);
	r->h = NULL;
	return mg_ranged_open(s->conn, s->flags, r->key, offset, len, (unsigned)n,
			      &r->par);
}

/* sftp_fail's message for a key: names come from other people's listings. */
static int read_failed(struct mg_reader *r, int grade, long code, const char *what)
{
	char w[256];

	mg_printable(r->key, w, sizeof(w));
	return mg_error_set(&r->s->conn->err, grade, 0, code, "read",
			    "reading '%s' from %s: %s", w, r->s->where, what);
}

/*
 * A large read goes on a channel of its own, in 255 KiB requests where
 * libssh2 1.10 asks for 30000 bytes (sftp_bigread.c): the server answers
 * a ninth of the requests.  A server that refuses a second channel or
 * answers it strangely leaves the read to libssh2's handle.
 */
static int reader_go_big(struct mg_reader *r, uint64_t offset, uint64_t length)
{
	struct sftp_conn *s = r->s;
	uint64_t len;
	int rc;

	if (offset >= r->size)
		return MG_OK;
	len = length != UINT64_MAX && length < r->size - offset ? length : r->size - offset;
	if (len < SFTP_BIGREAD_MIN)
		return MG_OK;
	rc = mg_bigread_open(s->ssh, r->path, offset, r->end, r->size,
			     (uint32_t)r->mtime, &r->big);
	r->big_gen = s->gen;
	if (rc == 0)
		return MG_OK;
	if (rc == MG_BIG_CHANGED)
		return read_failed(r, MG_FAILED, 0, "it changed while it was read; it "
				   "will be copied again");
	/* a lost session frees the channel itself, at the reconnect */
	mg_bigread_close(r->big, rc > 0 || rc == LIBSSH2_ERROR_CHANNEL_FAILURE ||
			 rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED);
	r->big = NULL;
	return MG_OK;
}

static int sftp_read_open(struct mg_conn *conn, const char *key, uint64_t offset,
			  uint64_t length, struct mg_reader **out)
{
	struct sftp_conn *s = conn->priv;
	struct mg_reader *r;
	int rc;

	*out = NULL;
	rc = session_ensure(s);
	if (rc != MG_OK)
		return rc;
	r = mg_calloc(1, sizeof(*r));
	r->s = s;
	r->key = mg_strdup(key);
	r->path = mg_strdup(remote_path(s, key, strlen(key)));
	r->hpos = offset;
	r->end = length == UINT64_MAX || offset > UINT64_MAX - length ?
		UINT64_MAX : offset + length;
	r->size = UINT64_MAX;
	rc = reader_open_handle(r);
	while (rc < 0 && ssh_lost(rc)) {
		rc = reader_reconnect(r);
		if (rc != MG_OK) {
			reader_free(r);
			return rc;
		}
		rc = 0;
	}
	if (rc < 0) {
		rc = sftp_fail(s, rc, "open", key);
		reader_free(r);
		return rc;
	}
	r->fails = 0;
	rc = reader_go_parallel(r, offset, length);
	if (rc != MG_OK) {
		reader_free(r);
		return rc;
	}
	if (!r->par) {
		rc = reader_go_big(r, offset, length);
		if (rc != MG_OK) {
			reader_free(r);
			return rc;
		}
	}
	*out = r;
	return MG_OK;
}

/*
 * libssh2 1.10 keeps four times the buffer it is given in flight, and the
 * server reads and encrypts every one of those requests: asked for 2 MiB
 * 100 KiB before the end (of a range, of a small file), it would send 8 MiB
 * of requests and throw the answers away.  So ask for a quarter of what is
 * left (at least one 30000-byte request's worth), which keeps what is in
 * flight inside the bytes really wanted.
 */
static size_t readahead_cap(const struct mg_reader *r, size_t want)
{
	uint64_t limit = r->end < r->size ? r->end : r->size, q;

	if (limit == UINT64_MAX)
		return want;
	/* Every byte the size promised is in: the read that follows only
	 * has to learn the end (or that the file grew).  A quarter of one
	 * request's worth keeps libssh2 to that one request; the whole
	 * window here sent 8 MiB of requests past the end of every file,
	 * ~280 answers of "end of file" that sshd made, encrypted and
	 * sent (3x OpenSSH's server CPU on 2,000 x 256 KiB). */
	if (r->hpos >= limit)
		return SFTP_REQ_MAX / 4 < want ? SFTP_REQ_MAX / 4 : want;
	q = (limit - r->hpos + 3) / 4;
	if (q < SFTP_REQ_MAX)
		q = limit - r->hpos < SFTP_REQ_MAX ? limit - r->hpos : SFTP_REQ_MAX;
	return q < want ? (size_t)q : want;
}

/*
 * One libssh2 read of up to cap bytes into dst at the handle's offset,
 * reconnecting when the connection drops.  MG_OK with *n = 0 is the end
 * (of the file or the range); short of the range it is "truncated".
 */
static int reader_fetch(struct mg_reader *r, char *dst, size_t cap, size_t *n)
{
	ssize_t got;
	int rc;

	*n = 0;
	for (;;) {
		size_t want = cap;

		if (r->end != UINT64_MAX) {
			if (r->hpos >= r->end)
				return MG_OK;
			if (r->end - r->hpos < want)
				want = (size_t)(r->end - r->hpos);
		}
		want = readahead_cap(r, want);
		if (!r->s->sftp || r->gen != r->s->gen || !r->h) {
			/* another reader on this conn replaced the session */
			rc = r->s->sftp ? reader_open_handle(r) : LIBSSH2_ERROR_SOCKET_DISCONNECT;
			if (rc == 1)
				return mg_error_set(&r->s->conn->err, MG_FAILED, 0, 0, "read",
						    "'%s' on %s changed while it was read",
						    r->key, r->s->where);
			if (rc < 0) {
				if (!ssh_lost(rc))
					return sftp_fail(r->s, rc, "read", r->key);
				rc = reader_reconnect(r);
				if (rc != MG_OK)
					return rc;
			}
		}
		{
			int64_t t0 = mg_mono_ns();

			got = libssh2_sftp_read(r->h, dst, want);
			r->busy_ns += mg_mono_ns() - t0;
			if (!r->first_ns)
				r->first_ns = r->busy_ns ? r->busy_ns : 1;
		}
		if (got > 0) {
			r->hpos += (uint64_t)got;
			r->fails = 0;
			mg_count_read(r->s->conn, (uint64_t)got);
			*n = (size_t)got;
			return MG_OK;
		}
		if (got == 0) {
			if (r->end != UINT64_MAX && r->hpos < r->end)
				return mg_error_set(&r->s->conn->err, MG_FAILED, 0, 0, "read",
						    "'%s' on %s: truncated at byte %llu of "
						    "the range ending at %llu", r->key,
						    r->s->where, (unsigned long long)r->hpos,
						    (unsigned long long)r->end);
			return MG_OK;
		}
		if (!ssh_lost((int)got))
			return sftp_fail(r->s, (int)got, "read", r->key);
		rc = reader_reconnect(r);
		if (rc != MG_OK)
			return rc;
	}
}

/* A read on the reader's own channel.  1: the channel is gone (its
 * session was lost and made again), go on with libssh2's handle at hpos. */
static int reader_big(struct mg_reader *r, void *buf, size_t len, size_t *got)
{
	struct sftp_conn *s = r->s;
	int64_t t0 = mg_mono_ns();
	int rc;

	if (r->big_gen != s->gen || !s->ssh) {
		/* another reader on this conn replaced the session */
		mg_bigread_close(r->big, 0);
		r->big = NULL;
		return 1;
	}
	rc = mg_bigread_read(r->big, buf, len, got);
	r->busy_ns += mg_mono_ns() - t0;
	if (!r->first_ns)
		r->first_ns = r->busy_ns ? r->busy_ns : 1;
	if (rc == 0 && *got) {
		r->hpos += *got;
		r->fails = 0;
		mg_count_read(s->conn, (uint64_t)*got);
		return MG_OK;
	}
	if (rc == 0) {
		char what[96];

		if (r->end == UINT64_MAX || r->hpos >= r->end)
			return MG_OK;
		snprintf(what, sizeof(what), "truncated at byte %llu of the range "
			 "ending at %llu", (unsigned long long)r->hpos,
			 (unsigned long long)r->end);
		return read_failed(r, MG_FAILED, 0, what);
	}
	if (rc == MG_BIG_STATUS)
		return read_failed(r, MG_FAILED, (long)mg_bigread_code(r->big),
				   fx_text(mg_bigread_code(r->big)));
	if (rc == MG_BIG_CHANGED || rc == MG_BIG_PROTO) {
		char what[256];

		snprintf(what, sizeof(what), "%s; %s", mg_bigread_why(r->big),
			 rc == MG_BIG_CHANGED ? "it changed while it was read and "
			 "will be copied again" : "the file will be tried again");
		return read_failed(r, MG_FAILED, 0, what);
	}
	/* the session is lost: a new one, and libssh2's handle from hpos */
	mg_bigread_close(r->big, 0);
	r->big = NULL;
	rc = reader_reconnect(r);
	return rc == MG_OK ? 1 : rc;
}

static int sftp_read(struct mg_reader *r, void *buf, size_t len, size_t *got)
{
	size_t n;
	int rc;

	*got = 0;
	if (r->par)
		return mg_ranged_read(r->par, buf, len, got);
	if (r->big) {
		rc = reader_big(r, buf, len, got);
		if (rc != 1)
			return rc;
	}
	if (!r->win)
		r->win = mg_malloc(SFTP_READ_WINDOW);
	if (r->woff == r->wlen) {
		/* Always through the window, whatever the caller's buffer: its
		 * size sets how many requests libssh2 keeps in flight.  (Reading
		 * large buffers straight into the caller's saved no CPU.) */
		rc = reader_fetch(r, r->win, SFTP_READ_WINDOW, &n);
		if (rc != MG_OK || n == 0)
			return rc;
		r->woff = 0;
		r->wlen = n;
	}
	*got = r->wlen - r->woff < len ? r->wlen - r->woff : len;
	memcpy(buf, r->win + r->woff, *got);
	r->woff += *got;
	return MG_OK;
}

static void sftp_read_close(struct mg_reader *r)
{
	if (r && r->first_ns)
		mg_count_time(r->s->conn, MG_LAT_SFTP_READ, r->busy_ns, r->first_ns);
	if (r)
		reader_free(r);
}

/* ------------------------------------------------------------------ */
/* Writing (target) */

struct mg_writer {
	struct sftp_conn *s;
	char *key;
	char *path;
	char *tmp;
	LIBSSH2_SFTP_HANDLE *h;
	unsigned gen;
	int64_t mtime_ns;
	unsigned mode;		/* set exactly at commit */
	int64_t busy_ns, first_ns;	/* latency.h MG_LAT_SFTP_WRITE; first: 0 none yet */
};

static void writer_free(struct mg_writer *w, int remove_tmp)
{
	struct sftp_conn *s = w->s;

	if (w->h && w->gen == s->gen && s->sftp)
		libssh2_sftp_close_handle(w->h);
	if (remove_tmp && w->tmp && s->sftp)
		libssh2_sftp_unlink_ex(s->sftp, w->tmp, (unsigned)strlen(w->tmp));
	free(w->key);
	free(w->path);
	free(w->tmp);
	free(w);
}

static int sftp_write_open(struct mg_conn *conn, const char *key,
			   const struct mg_put_info *info, struct mg_writer **out)
{
	struct sftp_conn *s = conn->priv;
	struct mg_writer *w;
	unsigned char rnd[4];
	char hex[9];
	int rc;

	*out = NULL;
	if (key_refused(s, "write", key))
		return MG_FAILED;
	rc = session_ensure(s);
	if (rc != MG_OK)
		return rc;
	rc = parents_check(s, key, "write", 1);
	if (rc != MG_OK)
		return rc;
	w = mg_calloc(1, sizeof(*w));
	w->s = s;
	w->key = mg_strdup(key);
	w->path = mg_strdup(remote_path(s, key, strlen(key)));
	w->mtime_ns = info ? info->mtime_ns : 0;
	/* The source's permission bits, never wider: no setuid, setgid or
	 * sticky bit, and this process's umask as for a local file. */
	w->mode = (info && info->mode ? info->mode & 0777 : 0644) & ~sftp_umask;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		uint64_t t = (uint64_t)mg_mono_ns() ^ (uint64_t)getpid();

		memcpy(rnd, &t, sizeof(rnd));
	}
	mg_hex(rnd, sizeof(rnd), hex);
	w->tmp = mg_malloc(strlen(w->path) + 32);
	sprintf(w->tmp, "%s.migrate-tmp-%s", w->path, hex);

	/* EXCL: a name someone planted (a link above all) is never opened;
	 * the server's umask may narrow the mode further until commit. */
	{
		int64_t t0 = mg_mono_ns();

		w->h = libssh2_sftp_open_ex(s->sftp, w->tmp, (unsigned)strlen(w->tmp),
					    LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT |
					    LIBSSH2_FXF_EXCL, (long)w->mode,
					    LIBSSH2_SFTP_OPENFILE);
		round_trip(conn, MG_LAT_SFTP_OPEN, t0);
	}
	if (!w->h) {
		rc = libssh2_session_last_errno(s->ssh);
		if (rc == 0)
			rc = LIBSSH2_ERROR_SFTP_PROTOCOL;
	}
	if (rc < 0) {
		if (ssh_lost(rc))
			session_drop(s, 0);
		rc = sftp_fail(s, rc, "create", key);
		free(w->tmp);
		w->tmp = NULL;
		writer_free(w, 0);
		return rc;
	}
	w->gen = s->gen;
	*out = w;
	return MG_OK;
}

static int writer_lost(struct mg_writer *w, int rc, const char *op)
{
	rc = sftp_fail(w->s, rc, op, w->key);
	if (rc == MG_RETRY) {
		/* frees what libssh2 queued for the handle; the session is
		 * replaced by the next operation */
		if (w->h && w->gen == w->s->gen && w->s->sftp)
			libssh2_sftp_close_handle(w->h);
		w->h = NULL;
		session_drop(w->s, 0);
	}
	return rc;
}

static int sftp_write(struct mg_writer *w, const void *buf, size_t len)
{
	const char *p = buf;

	if (w->gen != w->s->gen || !w->s->sftp)
		return mg_error_set(&w->s->conn->err, MG_RETRY, 0, 0, "write",
				    "writing '%s' to %s: the connection was replaced",
				    w->key, w->s->where);
	/* libssh2 pipelines a large buffer itself and answers with what the
	 * server acknowledged so far. */
	if (mg_pace(w->s->conn, len))
		return mg_error_set(&w->s->conn->err, MG_FATAL, 0, 0, "write",
				    "writing '%s' to %s stopped: the run is interrupted",
				    w->key, w->s->where);
	while (len) {
		int64_t t0 = mg_mono_ns();
		ssize_t n = libssh2_sftp_write(w->h, p, len);

		w->busy_ns += mg_mono_ns() - t0;
		if (!w->first_ns)
			w->first_ns = w->busy_ns ? w->busy_ns : 1;
		if (n < 0)
			return writer_lost(w, (int)n, "write");
		p += n;
		len -= (size_t)n;
		mg_count_written(w->s->conn, (uint64_t)n);
	}
	return MG_OK;
}

static int write_commit(struct mg_writer *w, const struct mg_put_final *fin,
			struct mg_put_result *res);

/* Issue 16.1: a file's write is timed whole, its commit included. */
static int sftp_write_commit(struct mg_writer *w, const struct mg_put_final *fin,
			     struct mg_put_result *res)
{
	struct mg_conn *conn = w->s->conn;
	int64_t t0 = mg_mono_ns(), busy = w->busy_ns, first = w->first_ns;
	int rc = write_commit(w, fin, res);	/* frees w */

	busy += mg_mono_ns() - t0;
	mg_count_time(conn, MG_LAT_SFTP_WRITE, busy, first ? first : busy);
	return rc;
}

static int write_commit(struct mg_writer *w, const struct mg_put_final *fin,
			struct mg_put_result *res)
{
	struct sftp_conn *s = w->s;
	LIBSSH2_SFTP_ATTRIBUTES a;
	int rc;

	(void)fin;
	if (res)
		memset(res, 0, sizeof(*res));
	if (w->gen != s->gen || !s->sftp) {
		rc = mg_error_set(&s->conn->err, MG_RETRY, 0, 0, "write",
				  "writing '%s' to %s: the connection was replaced",
				  w->key, s->where);
		writer_free(w, 0);
		return rc;
	}
	/* Mode and mtime on the handle, not by name: the file we created is
	 * the one changed, whatever was put at its name since.  The mode is
	 * set exactly: the server applied its own umask at open. */
	memset(&a, 0, sizeof(a));
	a.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
	a.permissions = w->mode;
	if (w->mtime_ns > 0) {
		a.flags |= LIBSSH2_SFTP_ATTR_ACMODTIME;
		a.atime = a.mtime = (unsigned long)(w->mtime_ns / 1000000000);
	}
	rc = libssh2_sftp_fstat_ex(w->h, &a, 1);
	if (rc < 0)
		goto fail;
	/* Durable before it becomes visible: a server without the extension
	 * answers OP_UNSUPPORTED, and then close is all we can ask for. */
	rc = libssh2_sftp_fsync(w->h);
	if (rc < 0 && !(rc == LIBSSH2_ERROR_SFTP_PROTOCOL &&
			sftp_status(s, rc) == LIBSSH2_FX_OP_UNSUPPORTED))
		goto fail;
	rc = libssh2_sftp_close_handle(w->h);
	w->h = NULL;
	if (rc < 0)
		goto fail;
	mg_count_req(s->conn, MG_REQ_PUT);
	rc = libssh2_sftp_rename_ex(s->sftp, w->tmp, (unsigned)strlen(w->tmp),
				    w->path, (unsigned)strlen(w->path),
				    LIBSSH2_SFTP_RENAME_OVERWRITE |
				    LIBSSH2_SFTP_RENAME_ATOMIC |
				    LIBSSH2_SFTP_RENAME_NATIVE);
	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
		/* SFTP v3 will not rename over an existing file (see the top). */
		libssh2_sftp_unlink_ex(s->sftp, w->path, (unsigned)strlen(w->path));
		rc = libssh2_sftp_rename_ex(s->sftp, w->tmp, (unsigned)strlen(w->tmp),
					    w->path, (unsigned)strlen(w->path),
					    LIBSSH2_SFTP_RENAME_OVERWRITE |
					    LIBSSH2_SFTP_RENAME_ATOMIC |
					    LIBSSH2_SFTP_RENAME_NATIVE);
	}
	if (rc < 0)
		goto fail;
	writer_free(w, 0);
	return MG_OK;
fail:
	rc = writer_lost(w, rc, "commit");
	writer_free(w, 1);
	return rc;
}

static void sftp_write_abort(struct mg_writer *w)
{
	if (w)
		writer_free(w, 1);
}

static int sftp_stat(struct mg_conn *conn, const char *key, struct mg_entry *out)
{
	struct sftp_conn *s = conn->priv;
	LIBSSH2_SFTP_ATTRIBUTES a;
	int rc;

	if (key_refused(s, "stat", key))
		return MG_FAILED;
	rc = session_ensure(s);
	if (rc != MG_OK)
		return rc;
	mg_count_req(conn, MG_REQ_HEAD);
	/* what lies beyond a planted link is not this target's */
	rc = parents_check(s, key, "stat", 0);
	if (rc != MG_OK)
		return rc;
	{
		int64_t t0 = mg_mono_ns();	/* issue 16.1: one round trip */

		rc = rstat(s, remote_path(s, key, strlen(key)), LIBSSH2_SFTP_LSTAT, &a);
		round_trip(conn, MG_LAT_SFTP_STAT, t0);
	}
	if (rc < 0) {
		unsigned long fx = sftp_status(s, rc);

		if (fx == LIBSSH2_FX_NO_SUCH_FILE || fx == LIBSSH2_FX_NO_SUCH_PATH)
			return MG_ABSENT;
		if (ssh_lost(rc))
			session_drop(s, 0);
		return sftp_fail(s, rc, "stat", key);
	}
	free(s->stat_key);
	s->stat_key = mg_strdup(key);
	memset(out, 0, sizeof(*out));
	out->key = s->stat_key;
	out->size = a.filesize;
	out->mtime_ns = (int64_t)a.mtime * 1000000000;
	if (a.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS)
		out->mode = (unsigned)a.permissions & 07777;
	if (LIBSSH2_SFTP_S_ISLNK(a.permissions))
		out->kind = MG_ENTRY_SYMLINK;
	else if (!LIBSSH2_SFTP_S_ISREG(a.permissions))
		out->kind = MG_ENTRY_SPECIAL;
	else
		out->kind = MG_ENTRY_FILE;
	return MG_OK;
}

static int sftp_remove(struct mg_conn *conn, const char *key)
{
	struct sftp_conn *s = conn->priv;
	const char *path;
	int rc;

	if (key_refused(s, "delete", key))
		return MG_FAILED;
	rc = session_ensure(s);
	if (rc != MG_OK)
		return rc;
	/* never unlink through a link planted as one of the folders */
	rc = parents_check(s, key, "delete", 0);
	if (rc == MG_ABSENT)
		return MG_OK;
	if (rc != MG_OK)
		return rc;
	mg_count_req(conn, MG_REQ_DELETE);
	path = remote_path(s, key, strlen(key));
	rc = libssh2_sftp_unlink_ex(s->sftp, path, (unsigned)strlen(path));
	if (rc < 0) {
		unsigned long fx = sftp_status(s, rc);

		if (fx == LIBSSH2_FX_NO_SUCH_FILE || fx == LIBSSH2_FX_NO_SUCH_PATH)
			return MG_OK;
		if (ssh_lost(rc))
			session_drop(s, 0);
		return sftp_fail(s, rc, "delete", key);
	}
	return MG_OK;
}

const struct mg_connector mg_connector_sftp = {
	.version = MG_CONNECTOR_VERSION,
	.scheme = "sftp",
	.caps = MG_CAP_SOURCE | MG_CAP_TARGET | MG_CAP_RANGE_READ | MG_CAP_FILES |
		MG_CAP_DELETE,
	.open = sftp_open,
	.close = sftp_close,
	.list_open = sftp_list_open,
	.list_next = sftp_list_next,
	.list_close = sftp_list_close,
	.read_open = sftp_read_open,
	.read = sftp_read,
	.read_close = sftp_read_close,
	.write_open = sftp_write_open,
	.write = sftp_write,
	.write_commit = sftp_write_commit,
	.write_abort = sftp_write_abort,
	.stat = sftp_stat,
	.remove = sftp_remove,
	.url_parse = sftp_url_parse,
	.url_identity = sftp_url_identity,
	.options = sftp_keys,
	.noptions = sizeof(sftp_keys) / sizeof(sftp_keys[0]),
	.options_size = sizeof(struct sftp_options),
	.options_check = sftp_options_check,
	.provider = "sftp",
};
