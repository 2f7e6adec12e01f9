/*
 * local.c - a folder on a local file system, as source and as target.
 *
 * Keys are '/'-separated paths relative to the root folder.  Any byte but
 * NUL and '/' may appear in a name (spaces, newlines, non-UTF-8), so keys
 * pass through untouched.
 *
 * Listing walks one directory at a time: each directory's names are read,
 * sorted so that a folder "d" sorts as "d/" (the key of everything in it
 * starts with "d/"), and emitted in order, descending into folders as they
 * come.  Memory is the names of the directories on the current path, not
 * the tree.
 *
 * Contained (issue 13): the root is resolved once, at open, into a folder
 * descriptor; the user named it, so a link there is their choice.  Below
 * it nothing follows a link: resolve_parent() is the one place a key
 * becomes a folder descriptor and a name, component by component with
 * O_NOFOLLOW (or one openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) where
 * the kernel has it), and every create, rename, stat and unlink is made
 * relative to that descriptor.  Someone who can write into the target
 * can plant "dst/sub -> /elsewhere": the object under it fails, and
 * nothing is written or removed outside.
 *
 * Writes are atomic: bytes go to a temporary file in "<root>/.migrate-tmp/"
 * named after our PID, which gets the mode and the source mtime, is
 * fsync'ed, and is renamed into place; the containing folder is fsync'ed
 * so the rename survives a crash.  Temporary files of dead processes (a
 * kill -9) are removed when a later run opens the target.  The temp
 * folder must be a real folder owned by us (a link or someone else's
 * folder is refused: they could swap our files), is skipped when listing
 * and removed when empty.
 *
 * ETags: a local file has none, so the connector makes one the way web
 * servers do for files (nginx: mtime and size), "<mtime ns>-<size>" in
 * hex, in listings and in what write_commit() and copy() return (so the
 * journal keeps it).  The mtime is the source's, set by us, so the tag
 * changes when the file is written again out of band; copy() honours it
 * as the copy_if_match precondition.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "connector.h"
#include "latency.h"
#include "plan.h"
#include "local_direct.h"

/* ------------------------------------------------------------ the plan */

/* What a folder takes in a plan (plans/README.md, "Endpoints"). */
struct local_options {
	int symlinks;		/* enum mg_symlinks */
};

static const struct mg_option local_keys[] = {
	{ .name = "symlinks", .type = MG_OPT_CHOICE,
	  .off = offsetof(struct local_options, symlinks), .def = "skip",
	  .words = mg_symlinks_words, .listed = MG_SYMLINKS_LISTED,
	  .doc = "links met while walking: skip, follow (inside the folder), follow-all, record" },
};

/* For an endpoint made by hand, without the plan's option struct. */
static const struct local_options local_defaults = { MG_SYMLINKS_SKIP };

static const struct local_options *local_opts(const struct mg_endpoint *ep)
{
	return ep->opts ? ep->opts : &local_defaults;
}

/* file:///path, file://localhost/path; also the file under tar:// (then
 * scheme is "tar" and the path must name a file). */
static int local_url_parse(struct mg_endpoint *ep, const char *scheme,
			   const char *rest, unsigned flags, char *msg,
			   size_t msglen)
{
	const char *p = rest;
	char *dec;

	if (strncasecmp(p, "localhost/", 10) == 0)
		p += 9;
	if (*p != '/') {
		snprintf(msg, msglen,
			 "'%s' must hold an absolute path: write %s:///path (three slashes)",
			 ep->url, scheme);
		return -1;
	}
	dec = mg_url_path_decode(p, strlen(p), ep->url, msg, msglen);
	if (!dec)
		return -1;
	if ((flags & MG_URL_WRAPPED) && dec[strlen(dec) - 1] == '/') {
		snprintf(msg, msglen,
			 "'%s' must name an archive file, not a folder", ep->url);
		free(dec);
		return -1;
	}
	ep->path = mg_path_join("/", dec);
	free(dec);
	return 0;
}

/* The place is the absolute path (the id: "file:///abs/dir"). */
static void local_url_identity(const struct mg_endpoint *ep, struct mg_buf *b)
{
	mg_buf_adds(b, ep->path ? ep->path : "");
}

#define TMPDIR_NAME ".migrate-tmp"

/* Names temporary and probe files uniquely within the process: several
 * workers open the same target at once. */
static unsigned long tmp_counter;

struct local {
	char *root;		/* no trailing '/' */
	char *rootreal;		/* realpath of root: "follow" stays beneath it */
	int rootfd;		/* the root, resolved once; -1: a look at a missing target */
	int tmpfd;		/* .migrate-tmp, -1 until a temp file is needed */
	int tmp_refused;	/* .migrate-tmp is not ours: leave it alone */
	unsigned flags;
	struct mg_buf path;	/* scratch for root + key */
	char shown[1024];	/* a path made printable for a message */
	struct mg_entry st;	/* stat() answer */
	char *st_key;
	char st_etag[80];
};

static const char *full_path(struct local *l, const char *key)
{
	mg_buf_reset(&l->path);
	mg_buf_adds(&l->path, l->root);
	mg_buf_add(&l->path, "/", 1);
	mg_buf_adds(&l->path, key);
	return l->path.buf;
}

/* root + "/" + the first n bytes of key, escaped for a person to read. */
static const char *show(struct local *l, const char *key, size_t n)
{
	struct mg_buf b = MG_BUF_INIT;

	mg_buf_adds(&b, l->root);
	if (key) {
		mg_buf_add(&b, "/", 1);
		mg_buf_add(&b, key, n);
	}
	mg_printable(b.buf, l->shown, sizeof(l->shown));
	mg_buf_release(&b);
	return l->shown;
}

static const char *show_key(struct local *l, const char *key)
{
	return show(l, key, strlen(key));
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static void make_etag(const struct stat *st, char *out, size_t n)
{
	snprintf(out, n, "%" PRIx64 "-%" PRIx64, (uint64_t)mtime_ns(st),
		 (uint64_t)st->st_size);
}

static int sys_status(int err)
{
	/* A full disk or an I/O error fails the object; the engine decides
	 * whether to go on.  Nothing local is worth retrying. */
	(void)err;
	return MG_FAILED;
}

/*
 * The process umask, read once.  umask(2) can only be read by setting it,
 * which races with other threads creating files, so Linux's
 * /proc/self/status is asked first.
 */
static pthread_once_t umask_once = PTHREAD_ONCE_INIT;
static mode_t cur_umask;

static void read_umask(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned m;

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Umask: %o", &m) == 1) {
				cur_umask = (mode_t)m & 0777;
				fclose(f);
				return;
			}
		fclose(f);
	}
	cur_umask = umask(022);
	umask(cur_umask);
}

/* The bits a new file gets: the source's rwx bits (setuid, setgid and
 * sticky dropped), the backend default 0644 when the source has none,
 * then the umask, so the result is never wider than the source. */
static mode_t file_mode(unsigned mode)
{
	pthread_once(&umask_once, read_umask);
	mode &= 0777;
	if (!mode)
		mode = 0644;
	return (mode_t)mode & ~cur_umask;
}

/* mkdir -p for the folders above path (path itself is a file).  Used for
 * the root only: the user chose that path, links and all. */
static int make_parents(char *path)
{
	char *slash;

	for (slash = strchr(path + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			int e = errno;

			*slash = '/';
			errno = e;
			return -1;
		}
		*slash = '/';
	}
	return 0;
}

/* Opens the folder name in dfd, never through a link.  A folder we may
 * enter but not read (a drop box, 0333) still works as a place to create
 * and rename in: O_PATH then (its fsync is skipped, nothing else needs
 * reading). */
static int open_dir_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == EACCES)
		fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

static void release_dir(struct local *l, int fd)
{
	if (fd >= 0 && fd != l->rootfd)
		close(fd);
}

#ifdef SYS_openat2
/* 0 once the kernel (or a seccomp filter) said it has no openat2. */
static int have_openat2 = 1;
#endif

#define RES_CREATE 1	/* make missing folders (0777 under the umask, as mkdir -p) */
#define RES_SOURCE 2	/* reading a source: say so when refusing a link */

/*
 * The one place a key becomes a file beneath the root.  Returns a
 * descriptor of the folder that holds key's last segment (the root's own
 * descriptor for a top-level key; give it back with release_dir()) and
 * points *base at that segment inside key.  No link below the root is
 * followed: a segment that is a link fails the object, whatever it points
 * at.  Returns -1 with conn->err set (MG_FAILED), or -2 when a folder on
 * the way is missing or is not a folder and RES_CREATE is not set (the
 * object is absent; conn->err untouched).
 */
static int resolve_parent(struct mg_conn *conn, const char *key, unsigned how,
			  const char **base)
{
	struct local *l = conn->priv;
	const char *why, *p, *slash;
	char comp[NAME_MAX + 1];
	int dfd, fd;

	if (mg_key_check(key, 0, &why) < 0)
		return mg_error_set(&conn->err, MG_FAILED, EINVAL, 0, "resolve",
				    "refusing '%s': the key %s", show_key(l, key), why), -1;
	/* a key must not reach our temporary files (nor the cleaner reach
	 * an object): the listing never shows this folder either */
	if (!strncmp(key, TMPDIR_NAME, sizeof(TMPDIR_NAME) - 1) &&
	    (key[sizeof(TMPDIR_NAME) - 1] == '/' || !key[sizeof(TMPDIR_NAME) - 1]))
		return mg_error_set(&conn->err, MG_FAILED, EINVAL, 0, "resolve",
				    "refusing '%s': '" TMPDIR_NAME "' is where migrate "
				    "keeps its temporary files", show_key(l, key)), -1;
	if (l->rootfd < 0)
		return -2;
	slash = strrchr(key, '/');
	*base = slash ? slash + 1 : key;
	if (!slash)
		return l->rootfd;
#ifdef SYS_openat2
	if (__atomic_load_n(&have_openat2, __ATOMIC_RELAXED)) {
		struct open_how oh = {
			.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
		};
		char *prefix = mg_strndup(key, (size_t)(slash - key));

		fd = (int)syscall(SYS_openat2, l->rootfd, prefix, &oh, sizeof(oh));
		free(prefix);
		if (fd >= 0)
			return fd;
		if (errno == ENOSYS || errno == EPERM || errno == E2BIG)
			__atomic_store_n(&have_openat2, 0, __ATOMIC_RELAXED);
		/* anything else (missing, a link, not a folder): the walk
		 * below creates what is missing and names what is wrong */
	}
#endif
	dfd = l->rootfd;
	for (p = key; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		size_t n = (size_t)(slash - p);
		struct stat st;
		int e;

		if (n > NAME_MAX) {
			release_dir(l, dfd);
			return mg_error_set(&conn->err, MG_FAILED, ENAMETOOLONG, 0, "resolve",
					    "cannot open folder '%s': %s",
					    show(l, key, (size_t)(slash - key)),
					    strerror(ENAMETOOLONG)), -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		fd = open_dir_at(dfd, comp);
		if (fd < 0 && errno == ENOENT && (how & RES_CREATE)) {
			if (mkdirat(dfd, comp, 0777) < 0 && errno != EEXIST) {
				e = errno;
				release_dir(l, dfd);
				return mg_error_set(&conn->err, sys_status(e), e, 0, "write",
						    "cannot create folder '%s': %s",
						    show(l, key, (size_t)(slash - key)),
						    strerror(e)), -1;
			}
			fd = open_dir_at(dfd, comp);
		}
		if (fd >= 0) {
			release_dir(l, dfd);
			dfd = fd;
			continue;
		}
		e = errno;
		/* O_DIRECTORY|O_NOFOLLOW says ENOTDIR for a link too: look */
		if (e == ENOTDIR && fstatat(dfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode)) {
			release_dir(l, dfd);
			if (how & RES_SOURCE)
				return mg_error_set(&conn->err, MG_FAILED, ELOOP, 0, "read",
						    "'%s' is a symbolic link: not followed "
						    "with 'symlinks: skip'",
						    show(l, key, (size_t)(slash - key))), -1;
			return mg_error_set(&conn->err, MG_FAILED, ELOOP, 0, "resolve",
					    "'%s' is a symbolic link: migrate does not write "
					    "through links in a target; remove it",
					    show(l, key, (size_t)(slash - key))), -1;
		}
		release_dir(l, dfd);
		if ((e == ENOENT || e == ENOTDIR) && !(how & RES_CREATE))
			return -2;
		if (e == ENOTDIR)
			return mg_error_set(&conn->err, MG_FAILED, e, 0, "resolve",
					    "'%s' is not a folder: remove it or choose "
					    "another target", show(l, key, (size_t)(slash - key))), -1;
		return mg_error_set(&conn->err, sys_status(e), e, 0, "resolve",
				    "cannot open folder '%s': %s",
				    show(l, key, (size_t)(slash - key)), strerror(e)), -1;
	}
	return dfd;
}

/*
 * Opens <root>/.migrate-tmp without following a link, creating it 0700
 * with create.  Temporary files are made and renamed through this
 * descriptor only, and the stale-temp cleaner unlinks through it, so the
 * folder must be ours: a link would send our files (and our unlinks)
 * elsewhere, another user's folder lets them swap files under us.
 * Returns the descriptor, -1 when absent (without create), or -2 with
 * conn->err set (MG_FATAL for a folder we must not use).
 */
static int tmpdir_open(struct mg_conn *conn, int create)
{
	struct local *l = conn->priv;
	struct stat st;
	int fd = -1, e = 0;

	/* Another conn may remove the folder when it closes and finds it
	 * empty, between our mkdirat() and openat(): try again then. */
	for (int tries = 0; tries < 4; tries++) {
		if (create && mkdirat(l->rootfd, TMPDIR_NAME, 0700) < 0 && errno != EEXIST) {
			e = errno;
			return mg_error_set(&conn->err, sys_status(e), e, 0, "write",
					    "cannot create '%s/" TMPDIR_NAME "': %s",
					    show(l, NULL, 0), strerror(e)), -2;
		}
		fd = openat(l->rootfd, TMPDIR_NAME,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 || errno != ENOENT || !create)
			break;
	}
	if (fd < 0) {
		e = errno;
		if (e == ENOENT && !create)
			return -1;
		l->tmp_refused = 1;
		if (fstatat(l->rootfd, TMPDIR_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISLNK(st.st_mode))
				return mg_error_set(&conn->err, MG_FATAL, ELOOP, 0, "open",
						    "'%s/" TMPDIR_NAME "' is a symbolic link: "
						    "migrate keeps its temporary files there and "
						    "follows no link in a target; remove it",
						    show(l, NULL, 0)), -2;
			if (!S_ISDIR(st.st_mode))
				return mg_error_set(&conn->err, MG_FATAL, ENOTDIR, 0, "open",
						    "'%s/" TMPDIR_NAME "' is not a folder: "
						    "migrate keeps its temporary files there; "
						    "remove it", show(l, NULL, 0)), -2;
		}
		return mg_error_set(&conn->err, MG_FATAL, e, 0, "open",
				    "cannot open '%s/" TMPDIR_NAME "': %s",
				    show(l, NULL, 0), strerror(e)), -2;
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return mg_error_set(&conn->err, MG_FATAL, e, 0, "open",
				    "cannot open '%s/" TMPDIR_NAME "': %s",
				    show(l, NULL, 0), strerror(e)), -2;
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		l->tmp_refused = 1;
		return mg_error_set(&conn->err, MG_FATAL, EPERM, 0, "open",
				    "'%s/" TMPDIR_NAME "' belongs to uid %u, not to the "
				    "user running migrate (uid %u): its owner could swap "
				    "the temporary files; remove it",
				    show(l, NULL, 0), (unsigned)st.st_uid,
				    (unsigned)geteuid()), -2;
	}
	return fd;
}

/* Our temporary files are "<pid>-<counter>": nothing else is touched. */
static long temp_name_pid(const char *name)
{
	char *end;
	long pid;

	if (name[0] < '1' || name[0] > '9')
		return 0;
	pid = strtol(name, &end, 10);
	if (*end != '-' || end[1] < '0' || end[1] > '9')
		return 0;
	strtoul(end + 1, &end, 10);
	return *end ? 0 : pid;
}

/* Removes temporary files left by processes that are gone: regular files
 * named like ours, in our folder, through its descriptor only. */
static void clean_stale_temps(int tmpfd)
{
	int fd = dup(tmpfd);
	struct dirent *de;
	DIR *d;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		long pid = temp_name_pid(de->d_name);
		struct stat st;

		if (pid <= 0 || pid == (long)getpid())
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (fstatat(tmpfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			unlinkat(tmpfd, de->d_name, 0);
	}
	closedir(d);
}

static int open_root_fd(struct mg_conn *conn, struct local *l, const char *what)
{
	l->rootfd = open(l->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (l->rootfd < 0 && errno == EACCES)
		l->rootfd = open(l->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (l->rootfd < 0)
		return mg_error_set(&conn->err, MG_FATAL, errno, 0, "open",
				    "cannot open %s folder '%s': %s", what,
				    show(l, NULL, 0), strerror(errno));
	return MG_OK;
}

static int local_open(struct mg_conn *conn, unsigned flags)
{
	const struct mg_endpoint *ep = conn->ep;
	struct local *l = mg_calloc(1, sizeof(*l));
	struct stat st;
	size_t n;

	conn->priv = l;
	l->flags = flags;
	l->rootfd = -1;
	l->tmpfd = -1;
	l->root = mg_strdup(ep->path && *ep->path ? ep->path : "/");
	n = strlen(l->root);
	while (n > 1 && l->root[n - 1] == '/')
		l->root[--n] = '\0';
	mg_buf_init(&l->path, 0);

	if ((flags & MG_OPEN_TARGET) && (flags & MG_OPEN_LOOK)) {
		/* estimate and dry-run: a target that does not exist yet
		 * is simply empty */
		if (stat(l->root, &st) == 0 && !S_ISDIR(st.st_mode))
			return mg_error_set(&conn->err, MG_FATAL, ENOTDIR, 0, "open",
					    "target '%s' is not a folder", show(l, NULL, 0));
		if (stat(l->root, &st) == 0) {
			if (open_root_fd(conn, l, "target") != MG_OK)
				return MG_FATAL;
			l->rootreal = realpath(l->root, NULL);
		}
	} else if (flags & MG_OPEN_TARGET) {
		char probe[64];
		int fd;

		mg_buf_addf(&l->path, "%s/x", l->root);
		if (make_parents(l->path.buf) < 0 || stat(l->root, &st) < 0)
			return mg_error_set(&conn->err, MG_FATAL, errno, 0, "open",
					    "cannot create target folder '%s': %s",
					    show(l, NULL, 0), strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return mg_error_set(&conn->err, MG_FATAL, ENOTDIR, 0, "open",
					    "target '%s' is not a folder", show(l, NULL, 0));
		if (open_root_fd(conn, l, "target") != MG_OK)
			return MG_FATAL;
		/* a target is listed too (sync): "follow" needs the root */
		l->rootreal = realpath(l->root, NULL);
		/* access(W_OK) says yes to root on a read-only mount:
		 * really create a file to know. */
		snprintf(probe, sizeof(probe), ".migrate-probe-%ld-%lu", (long)getpid(),
			 __atomic_add_fetch(&tmp_counter, 1, __ATOMIC_RELAXED));
		fd = openat(l->rootfd, probe,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return mg_error_set(&conn->err, MG_FATAL, errno, 0, "open",
					    "target folder '%s' is not writable: %s",
					    show(l, NULL, 0), strerror(errno));
		close(fd);
		unlinkat(l->rootfd, probe, 0);
		fd = tmpdir_open(conn, 0);
		if (fd == -2)
			return MG_FATAL;
		if (fd >= 0) {
			if (!(flags & MG_OPEN_NOCHECK))
				clean_stale_temps(fd);
			close(fd);
			/* only succeeds when empty; a link is never removed */
			unlinkat(l->rootfd, TMPDIR_NAME, AT_REMOVEDIR);
		}
	} else {
		if (stat(l->root, &st) < 0)
			return mg_error_set(&conn->err, MG_FATAL, errno, 0, "open",
					    "cannot open source folder '%s': %s",
					    show(l, NULL, 0), strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return mg_error_set(&conn->err, MG_FATAL, ENOTDIR, 0, "open",
					    "source '%s' is not a folder", show(l, NULL, 0));
		if (open_root_fd(conn, l, "source") != MG_OK)
			return MG_FATAL;
		l->rootreal = realpath(l->root, NULL);
		if (!l->rootreal)
			return mg_error_set(&conn->err, MG_FATAL, errno, 0, "open",
					    "cannot resolve source folder '%s': %s",
					    show(l, NULL, 0), strerror(errno));
	}
	return MG_OK;
}

static void local_close(struct mg_conn *conn)
{
	struct local *l = conn->priv;

	if (!l)
		return;
	if (l->tmpfd >= 0)
		close(l->tmpfd);
	if (l->rootfd >= 0) {
		if ((l->flags & MG_OPEN_TARGET) && !(l->flags & MG_OPEN_LOOK) &&
		    !l->tmp_refused)
			unlinkat(l->rootfd, TMPDIR_NAME, AT_REMOVEDIR);
		close(l->rootfd);
	}
	mg_buf_release(&l->path);
	free(l->root);
	free(l->rootreal);
	free(l->st_key);
	free(l);
	conn->priv = NULL;
}

/* ---- listing ---- */

struct child {
	char *name;		/* sort key: name, plus '/' for folders */
	size_t namelen;		/* without the '/' */
	struct stat st;
	int kind;		/* 0 file, 1 dir, 2 symlink, 3 special, 4 error */
	int err;
	int outside;		/* a link not followed: it leads outside the root */
};

struct frame {
	char *prefix;		/* key prefix of this folder: "" or "a/b/" */
	struct child *kids;
	size_t nkids, next;
	dev_t dev;
	ino_t ino;
};

struct mg_lister {
	struct mg_conn *conn;
	struct frame *stack;
	size_t depth, alloc;
	char *start_after;
	struct mg_buf key;
	char *link;
	char errmsg[256];
	char shown[1024];
};

static int child_cmp(const void *a, const void *b)
{
	const struct child *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* 1 when path, resolved through every link, is the root or beneath it. */
static int resolves_inside(const struct local *l, const char *path)
{
	char *real;
	size_t n;
	int in;

	if (!l->rootreal || !(real = realpath(path, NULL)))
		return 0;
	n = strlen(l->rootreal);
	if (n == 1)	/* the root is "/" */
		n = 0;
	in = !strncmp(real, l->rootreal, n) && (real[n] == '/' || real[n] == '\0');
	free(real);
	return in;
}

static int classify(struct mg_lister *it, const char *path, struct child *c)
{
	const struct local_options *ep = local_opts(it->conn->ep);

	if (lstat(path, &c->st) < 0) {
		c->kind = 4;
		c->err = errno;
		return 0;
	}
	if (S_ISLNK(c->st.st_mode) && (ep->symlinks == MG_SYMLINKS_FOLLOW ||
				       ep->symlinks == MG_SYMLINKS_FOLLOW_ALL)) {
		struct stat t;

		/* "follow" stays inside the source folder (a link to
		 * /etc/passwd must not be copied because someone who can
		 * write into the source planted it); "follow-all" is the
		 * user saying links may go anywhere.  A dangling link stays
		 * a link and is reported. */
		if (stat(path, &t) == 0) {
			if (ep->symlinks == MG_SYMLINKS_FOLLOW_ALL ||
			    resolves_inside(it->conn->priv, path))
				c->st = t;
			else
				c->outside = 1;
		}
	}
	if (S_ISREG(c->st.st_mode))
		c->kind = 0;
	else if (S_ISDIR(c->st.st_mode))
		c->kind = 1;
	else if (S_ISLNK(c->st.st_mode))
		c->kind = 2;
	else
		c->kind = 3;
	return 0;
}

static void frame_release(struct frame *f)
{
	for (size_t i = 0; i < f->nkids; i++)
		free(f->kids[i].name);
	free(f->kids);
	free(f->prefix);
}

/* Reads one folder into a new frame.  Returns 0, or -1 with errno. */
static int push_dir(struct mg_lister *it, const char *prefix, dev_t dev, ino_t ino)
{
	struct local *l = it->conn->priv;
	struct frame f = { 0 };
	size_t alloc = 0;
	struct dirent *de;
	DIR *d;
	struct mg_buf p = MG_BUF_INIT;

	mg_buf_adds(&p, l->root);
	mg_buf_add(&p, "/", 1);
	mg_buf_adds(&p, prefix);
	d = opendir(p.buf);
	if (!d) {
		int e = errno;

		mg_buf_release(&p);
		errno = e;
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct child c = { 0 };
		size_t base = p.len;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!*prefix && !strcmp(de->d_name, TMPDIR_NAME))
			continue;
		mg_buf_adds(&p, de->d_name);
		classify(it, p.buf, &c);
		p.len = base;
		p.buf[base] = '\0';
		c.namelen = strlen(de->d_name);
		c.name = mg_malloc(c.namelen + 2);
		memcpy(c.name, de->d_name, c.namelen);
		c.name[c.namelen] = c.kind == 1 ? '/' : '\0';
		c.name[c.namelen + 1] = '\0';
		if (f.nkids == alloc) {
			alloc = alloc ? 2 * alloc : 16;
			f.kids = mg_realloc(f.kids, alloc * sizeof(*f.kids));
		}
		f.kids[f.nkids++] = c;
	}
	closedir(d);
	mg_buf_release(&p);
	if (f.nkids)	/* an empty folder has no array: qsort(NULL) is UB */
		qsort(f.kids, f.nkids, sizeof(*f.kids), child_cmp);
	f.prefix = mg_strdup(prefix);
	f.dev = dev;
	f.ino = ino;
	if (it->depth == it->alloc) {
		it->alloc = it->alloc ? 2 * it->alloc : 8;
		it->stack = mg_realloc(it->stack, it->alloc * sizeof(*it->stack));
	}
	it->stack[it->depth++] = f;
	return 0;
}

static int local_list_open(struct mg_conn *conn, const char *start_after,
			   struct mg_lister **out)
{
	struct local *l = conn->priv;
	struct mg_lister *it = mg_calloc(1, sizeof(*it));
	struct stat st;

	it->conn = conn;
	it->start_after = start_after ? mg_strdup(start_after) : NULL;
	mg_buf_init(&it->key, 0);
	if (stat(l->root, &st) < 0 || push_dir(it, "", st.st_dev, st.st_ino) < 0) {
		int e = errno;

		free(it->start_after);
		free(it);
		return mg_error_set(&conn->err, MG_FATAL, e, 0, "list",
				    "cannot read source folder '%s': %s",
				    l->root, strerror(e));
	}
	*out = it;
	return MG_OK;
}

static int on_stack(struct mg_lister *it, const struct stat *st)
{
	for (size_t i = 0; i < it->depth; i++)
		if (it->stack[i].dev == st->st_dev && it->stack[i].ino == st->st_ino)
			return 1;
	return 0;
}

static int local_list_next(struct mg_lister *it, struct mg_entry *out)
{
	struct local *l = it->conn->priv;

	while (it->depth > 0) {
		struct frame *f = &it->stack[it->depth - 1];
		struct child *c;

		if (f->next == f->nkids) {
			frame_release(f);
			it->depth--;
			continue;
		}
		c = &f->kids[f->next++];
		mg_buf_reset(&it->key);
		mg_buf_adds(&it->key, f->prefix);
		mg_buf_add(&it->key, c->name, c->namelen);

		if (c->kind == 1) {
			/* A folder: descend unless everything in it sorts at or
			 * before start_after, or it is a loop through a link. */
			mg_buf_add(&it->key, "/", 1);
			if (it->start_after &&
			    strncmp(it->start_after, it->key.buf, it->key.len) != 0 &&
			    strcmp(it->key.buf, it->start_after) < 0)
				continue;
			/* A folder that cannot be walked is reported under
			 * "d/", where its keys would sort, so the listing
			 * stays in order ("d-e" < "d/"). */
			if (on_stack(it, &c->st)) {
				memset(out, 0, sizeof(*out));
				out->key = it->key.buf;
				out->kind = MG_ENTRY_ERROR;
				out->error = "symbolic link loop: not followed again";
				return MG_OK;
			}
			char *prefix = mg_strdup(it->key.buf);
			int r = push_dir(it, prefix, c->st.st_dev, c->st.st_ino);
			int e = errno;

			free(prefix);
			if (r < 0) {
				memset(out, 0, sizeof(*out));
				out->key = it->key.buf;
				out->kind = MG_ENTRY_ERROR;
				snprintf(it->errmsg, sizeof(it->errmsg),
					 "cannot read folder: %s", strerror(e));
				out->error = it->errmsg;
				return MG_OK;
			}
			continue;
		}
		if (it->start_after && strcmp(it->key.buf, it->start_after) <= 0)
			continue;

		memset(out, 0, sizeof(*out));
		out->key = it->key.buf;
		out->size = (uint64_t)c->st.st_size;
		out->mtime_ns = mtime_ns(&c->st);
		out->mode = (unsigned)c->st.st_mode & 07777;
		switch (c->kind) {
		case 0:
			out->kind = MG_ENTRY_FILE;
			make_etag(&c->st, out->etag, sizeof(out->etag));
			break;
		case 2: {
			char path[PATH_MAX];
			ssize_t n;

			out->kind = MG_ENTRY_SYMLINK;
			free(it->link);
			it->link = mg_malloc(PATH_MAX);
			snprintf(path, sizeof(path), "%s/%s", l->root, it->key.buf);
			n = readlink(path, it->link, PATH_MAX - 1);
			it->link[n < 0 ? 0 : n] = '\0';
			out->link_target = it->link;
			out->size = 0;
			if (c->outside) {
				snprintf(it->errmsg, sizeof(it->errmsg),
					 "the link leads outside the source folder '%s': "
					 "not followed ('symlinks: follow-all' follows it anyway)",
					 mg_printable(l->root, it->shown, sizeof(it->shown)));
				out->error = it->errmsg;
			}
			break;
		}
		case 3:
			out->kind = MG_ENTRY_SPECIAL;
			out->size = 0;
			break;
		default:
			out->kind = MG_ENTRY_ERROR;
			snprintf(it->errmsg, sizeof(it->errmsg), "%s", strerror(c->err));
			out->error = it->errmsg;
			break;
		}
		return MG_OK;
	}
	return MG_DONE;
}

static void local_list_close(struct mg_lister *it)
{
	if (!it)
		return;
	while (it->depth > 0)
		frame_release(&it->stack[--it->depth]);
	free(it->stack);
	free(it->start_after);
	free(it->link);
	mg_buf_release(&it->key);
	free(it);
}

/* ---- reading ---- */

struct mg_reader {
	struct mg_conn *conn;
	int fd;
	uint64_t left;		/* bytes still to deliver, UINT64_MAX: to EOF */
	int bounded;
	int advised;		/* readahead widened (the file is not small) */
	uint64_t done;		/* bytes delivered */
	int eof;		/* a read came back short: the file ends there */
	char *key;
	int64_t busy_ns, first_ns;	/* latency.h MG_LAT_FILE_READ; first: 0 none yet */
};

/* 1 when the open file fd is the root or beneath it: asks the kernel
 * which file it opened, so a link swapped in after the listing looked
 * cannot lead the read elsewhere. */
static int fd_inside(const struct local *l, int fd, const char *path)
{
	char proc[64], real[PATH_MAX];
	size_t n;
	ssize_t got;

	if (!l->rootreal)
		return 0;
	n = strlen(l->rootreal);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	got = readlink(proc, real, sizeof(real) - 1);
	if (got < 0)		/* no /proc: resolve the name instead */
		return resolves_inside(l, path);
	real[got] = '\0';
	if (n == 1)
		n = 0;
	return !strncmp(real, l->rootreal, n) && (real[n] == '/' || real[n] == '\0');
}

/*
 * Opens key at the source without following a link the listing did not
 * allow: with "skip" (and "record") no link at all, through
 * resolve_parent(); with "follow" links that stay inside the source
 * folder; with "follow-all" any.
 */
static int source_open(struct mg_conn *conn, const char *key)
{
	struct local *l = conn->priv;
	enum mg_symlinks how = local_opts(conn->ep)->symlinks;
	const char *base;
	int pfd, fd, e;

	if (how == MG_SYMLINKS_FOLLOW || how == MG_SYMLINKS_FOLLOW_ALL) {
		const char *path = full_path(l, key);
		const char *why;

		if (mg_key_check(key, 0, &why) < 0)
			return mg_error_set(&conn->err, MG_FAILED, EINVAL, 0, "read",
					    "refusing '%s': the key %s", show_key(l, key), why), -1;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return mg_error_set(&conn->err, MG_FAILED, errno, 0, "read",
					    "cannot open '%s': %s", show_key(l, key),
					    strerror(errno)), -1;
		if (how == MG_SYMLINKS_FOLLOW && !fd_inside(l, fd, path)) {
			close(fd);
			return mg_error_set(&conn->err, MG_FAILED, EXDEV, 0, "read",
					    "'%s' leads outside the source folder through a "
					    "link: not read ('symlinks: follow-all' follows it "
					    "anyway)", show_key(l, key)), -1;
		}
		return fd;
	}
	pfd = resolve_parent(conn, key, RES_SOURCE, &base);
	if (pfd == -1)
		return -1;
	if (pfd == -2)
		return mg_error_set(&conn->err, MG_FAILED, ENOENT, 0, "read",
				    "cannot open '%s': %s", show_key(l, key),
				    strerror(ENOENT)), -1;
	fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	e = errno;
	release_dir(l, pfd);
	if (fd < 0 && e == ELOOP)
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "read",
				    "'%s' is a symbolic link: not followed with "
				    "'symlinks: skip'", show_key(l, key)), -1;
	if (fd < 0)
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "read",
				    "cannot open '%s': %s", show_key(l, key), strerror(e)), -1;
	return fd;
}

static int local_read_open(struct mg_conn *conn, const char *key, uint64_t offset,
			   uint64_t length, struct mg_reader **out)
{
	struct local *l = conn->priv;
	struct mg_reader *r;
	int fd;

	fd = source_open(conn, key);
	mg_count_req(conn, MG_REQ_GET);
	if (fd < 0)
		return conn->err.status;
	if (offset && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		int e = errno;

		close(fd);
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "read",
				    "cannot seek in '%s': %s", show_key(l, key), strerror(e));
	}
	r = mg_calloc(1, sizeof(*r));
	r->conn = conn;
	r->fd = fd;
	r->left = length;
	r->bounded = length != UINT64_MAX;
	r->key = mg_strdup(key);
	*out = r;
	return MG_OK;
}

static int local_read(struct mg_reader *r, void *buf, size_t len, size_t *got)
{
	ssize_t n;

	*got = 0;
	if ((r->bounded && r->left == 0) || r->eof)
		return MG_OK;
	if (r->bounded && len > r->left)
		len = (size_t)r->left;
	/* past the first MiB: a large file, read past the page cache
	 * where it can be (local_direct.c) */
	do
		n = r->advised ? local_read_large(r->fd, buf, len) : read(r->fd, buf, len);
	while (n < 0 && errno == EINTR);
	/* On Linux a regular file's read(2) comes back short only at its
	 * end (the listing said regular; a signal does not cut a disk read
	 * short): the read that would only say so is saved, one of the five system calls
	 * of a small file (the engine asks one byte more than it was told,
	 * xfer.c read_whole).  A file that grows after that was read as it
	 * was when it was read, as with that read a moment later. */
	if (n >= 0 && (size_t)n < len && !r->bounded)
		r->eof = 1;
	if (n < 0)
		return mg_error_set(&r->conn->err, MG_FAILED, errno, 0, "read",
				    "cannot read '%s': %s", r->key, strerror(errno));
	if (n == 0 && r->bounded)
		return mg_error_set(&r->conn->err, MG_FAILED, 0, 0, "read",
				    "'%s' is shorter than expected (truncated while reading?)",
				    r->key);
	if (r->bounded)
		r->left -= (uint64_t)n;
	*got = (size_t)n;
	mg_count_read(r->conn, (uint64_t)n);
	/* A wider readahead pays off for a large file only: asked for once
	 * the first MiB is through, a small file costs no extra syscall. */
	r->done += (uint64_t)n;
	if (!r->advised && r->done >= (1u << 20)) {
		posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		r->advised = 1;
	}
	return MG_OK;
}

static void local_read_close(struct mg_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	free(r->key);
	free(r);
}

/* ---- writing ---- */

struct mg_writer {
	struct mg_conn *conn;
	int fd;
	char tmp[64];		/* name inside .migrate-tmp */
	char *key;
	int64_t mtime_ns;
	mode_t mode;	int64_t busy_ns, first_ns;	/* latency.h MG_LAT_FILE_WRITE; first: 0 none yet */
};

/* Creates a new temporary file in .migrate-tmp, never through a link and
 * never over an existing name; its name goes to name.  Returns the fd, or
 * -1 with conn->err set. */
static int open_temp(struct mg_conn *conn, struct local *l, mode_t mode,
		     char *name, size_t namelen)
{
	unsigned long n = __atomic_add_fetch(&tmp_counter, 1, __ATOMIC_RELAXED);
	int fd = -1, e = 0;

	snprintf(name, namelen, "%ld-%lu", (long)getpid(), n);
	for (int tries = 0; tries < 4; tries++) {
		if (l->tmpfd < 0 && (l->tmpfd = tmpdir_open(conn, 1)) < 0) {
			l->tmpfd = -1;
			return -1;
		}
		fd = openat(l->tmpfd, name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0)
			return fd;
		e = errno;
		if (e != ENOENT)
			break;
		/* another conn removed the folder when it found it empty:
		 * open (and check) it again */
		close(l->tmpfd);
		l->tmpfd = -1;
	}
	return mg_error_set(&conn->err, sys_status(e), e, 0, "write",
			    "cannot create a temporary file in '%s/" TMPDIR_NAME "': %s",
			    show(l, NULL, 0), strerror(e)), -1;
}

static int local_write_open(struct mg_conn *conn, const char *key,
			    const struct mg_put_info *info, struct mg_writer **out)
{
	struct local *l = conn->priv;
	struct mg_writer *w = mg_calloc(1, sizeof(*w));

	w->conn = conn;
	w->mode = file_mode(info ? info->mode : 0);
	w->fd = open_temp(conn, l, w->mode, w->tmp, sizeof(w->tmp));
	if (w->fd < 0) {
		free(w);
		return conn->err.status;
	}
	w->key = mg_strdup(key);
	w->mtime_ns = info ? info->mtime_ns : 0;
	*out = w;
	return MG_OK;
}

static int local_write(struct mg_writer *w, const void *buf, size_t len)
{
	struct local *l = w->conn->priv;
	const char *p = buf;

	if (mg_pace(w->conn, len))
		return mg_error_set(&w->conn->err, MG_FATAL, 0, 0, "write",
				    "writing '%s' stopped: the run is interrupted",
				    show_key(l, w->key));
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mg_error_set(&w->conn->err, sys_status(errno), errno, 0,
					    "write", "cannot write '%s': %s",
					    show_key(l, w->key), strerror(errno));
		p += n;
		len -= (size_t)n;
		mg_count_written(w->conn, (uint64_t)n);
	}
	return MG_OK;
}

static void writer_free(struct mg_writer *w)
{
	free(w->key);
	free(w);
}

static void drop_temp(struct local *l, const char *tmp)
{
	if (l->tmpfd >= 0)
		unlinkat(l->tmpfd, tmp, 0);
}

static void local_write_abort(struct mg_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	drop_temp(w->conn->priv, w->tmp);
	writer_free(w);
}

/*
 * Puts a finished temp file in place as key: exact mode, mtime, fsync,
 * rename into the folder resolve_parent() found, fsync that folder.
 * Closes fd.  etag (may be NULL) receives the published file's ETag.
 */
static int publish(struct mg_conn *conn, int fd, const char *tmp, const char *key,
		   int64_t mtime, mode_t mode, char *etag, size_t etaglen)
{
	struct local *l = conn->priv;
	struct timespec ts[2];
	struct stat st;
	const char *base;
	int pfd, e;

	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = mtime / 1000000000;
	ts[1].tv_nsec = mtime % 1000000000;
	/* the umask applied at create already; fchmod makes the bits exact
	 * whatever a default ACL of the folder added */
	if (fchmod(fd, mode) < 0 || (mtime && futimens(fd, ts) < 0) ||
	    fsync(fd) < 0 || fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "write",
				    "cannot write '%s': %s", show_key(l, key), strerror(e));
	}
	if (close(fd) < 0)
		return mg_error_set(&conn->err, MG_FAILED, errno, 0, "write",
				    "cannot write '%s': %s", show_key(l, key), strerror(errno));
	if (etag)
		make_etag(&st, etag, etaglen);
	pfd = resolve_parent(conn, key, RES_CREATE, &base);
	if (pfd < 0)
		return conn->err.status ? conn->err.status : MG_FAILED;
	if (renameat(l->tmpfd, tmp, pfd, base) < 0) {
		e = errno;
		release_dir(l, pfd);
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "write",
				    "cannot create '%s': %s", show_key(l, key), strerror(e));
	}
	fsync(pfd);
	release_dir(l, pfd);
	return MG_OK;
}

static int local_write_commit(struct mg_writer *w, const struct mg_put_final *fin,
			      struct mg_put_result *res)
{
	char etag[80];
	int r;

	(void)fin;
	r = publish(w->conn, w->fd, w->tmp, w->key, w->mtime_ns, w->mode,
		    etag, sizeof(etag));
	w->fd = -1;
	if (r != MG_OK) {
		drop_temp(w->conn->priv, w->tmp);
	} else {
		mg_count_req(w->conn, MG_REQ_PUT);
		if (res) {
			memset(res, 0, sizeof(*res));
			snprintf(res->etag, sizeof(res->etag), "%s", etag);
		}
	}
	writer_free(w);
	return r;
}

static int local_stat(struct mg_conn *conn, const char *key, struct mg_entry *out)
{
	struct local *l = conn->priv;
	const char *base;
	struct stat st;
	int pfd, e;

	mg_count_req(conn, MG_REQ_HEAD);
	pfd = resolve_parent(conn, key, 0, &base);
	if (pfd == -2)
		return MG_ABSENT;
	if (pfd < 0)
		return conn->err.status;
	e = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
	release_dir(l, pfd);
	if (e == ENOENT || e == ENOTDIR)
		return MG_ABSENT;
	if (e)
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "stat",
				    "cannot stat '%s': %s", show_key(l, key), strerror(e));
	free(l->st_key);
	l->st_key = mg_strdup(key);
	memset(out, 0, sizeof(*out));
	out->key = l->st_key;
	out->size = (uint64_t)st.st_size;
	out->mtime_ns = mtime_ns(&st);
	out->mode = (unsigned)st.st_mode & 07777;
	out->kind = S_ISREG(st.st_mode) ? MG_ENTRY_FILE :
		    S_ISLNK(st.st_mode) ? MG_ENTRY_SYMLINK : MG_ENTRY_SPECIAL;
	/* no ETag here: verify's cheap check stays size-only on a local
	 * disk (a touched file is not "different"; --deep re-hashes) */
	return MG_OK;
}

static int local_remove(struct mg_conn *conn, const char *key)
{
	struct local *l = conn->priv;
	const char *base;
	char *dir;
	int pfd, e;

	mg_count_req(conn, MG_REQ_DELETE);
	pfd = resolve_parent(conn, key, 0, &base);
	if (pfd == -2)
		return MG_OK;		/* a folder on the way is gone: so is key */
	if (pfd < 0)
		return conn->err.status;
	e = unlinkat(pfd, base, 0) < 0 ? errno : 0;
	release_dir(l, pfd);
	if (e && e != ENOENT)
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "delete",
				    "cannot delete '%s': %s", show_key(l, key), strerror(e));
	/* Folders exist only to hold objects: drop the ones left empty,
	 * each through its own resolved parent. */
	dir = mg_strdup(key);
	for (char *slash; (slash = strrchr(dir, '/')) != NULL;) {
		*slash = '\0';
		pfd = resolve_parent(conn, dir, 0, &base);
		if (pfd < 0)
			break;
		e = unlinkat(pfd, base, AT_REMOVEDIR);
		release_dir(l, pfd);
		if (e < 0)
			break;
	}
	mg_error_clear(&conn->err);	/* a folder left behind is no error */
	free(dir);
	return MG_OK;
}

/*
 * A "server-side" copy on a local disk: the bytes never reach our buffers
 * when the kernel can copy_file_range() (reflinks on btrfs/xfs).  The
 * copy source is a key of this target, resolved like any other (a link
 * there is not followed).  With copy_if_match the source must still have
 * that ETag, before and after the bytes are copied, else MG_ABSENT with
 * remote_code 412 and the engine sends the bytes itself.
 */
static int local_copy(struct mg_conn *conn, const char *src_key, const char *dst_key,
		      const struct mg_put_info *info, const struct mg_put_final *fin,
		      struct mg_put_result *res)
{
	struct local *l = conn->priv;
	const char *match = info && info->copy_if_match && info->copy_if_match[0] ?
			    info->copy_if_match : NULL;
	char tmp[64], etag[80], now[80];
	const char *base;
	int in = -1, out, pfd, r = MG_OK, e;
	mode_t mode = file_mode(info ? info->mode : 0);
	struct stat st, st2;

	(void)fin;
	if (res)
		memset(res, 0, sizeof(*res));
	pfd = resolve_parent(conn, src_key, 0, &base);
	if (pfd == -1)
		return conn->err.status;
	e = ENOENT;
	if (pfd >= 0) {
		in = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		e = in < 0 ? errno : fstat(in, &st) < 0 ? errno :
		    !S_ISREG(st.st_mode) ? EINVAL : 0;
		release_dir(l, pfd);
	}
	if (e) {
		if (in >= 0)
			close(in);
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "copy",
				    "cannot open '%s': %s", show_key(l, src_key),
				    e == ELOOP ? "it is a symbolic link" :
				    e == EINVAL ? "not a regular file" : strerror(e));
	}
	make_etag(&st, now, sizeof(now));
	if (match && strcmp(now, match)) {
		close(in);
		return mg_error_set(&conn->err, MG_ABSENT, 0, 412, "copy",
				    "'%s' changed since it was written (ETag %s, the "
				    "journal has %s): not copied from", show_key(l, src_key),
				    now, match);
	}
	out = open_temp(conn, l, mode, tmp, sizeof(tmp));
	if (out < 0) {
		close(in);
		return conn->err.status;
	}
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n <= 0) {
			e = n < 0 ? errno : EIO;
			r = mg_error_set(&conn->err, MG_FAILED, e, 0, "copy",
					 "cannot copy into '%s': %s", show_key(l, dst_key),
					 n < 0 ? strerror(e) : "the source shrank");
			break;
		}
		left -= n;
	}
	/* the source changed while we copied it: what we hold is not what
	 * the journal knows */
	if (r == MG_OK && match && (fstat(in, &st2) < 0 || (make_etag(&st2, etag, sizeof(etag)),
							    strcmp(etag, match))))
		r = mg_error_set(&conn->err, MG_ABSENT, 0, 412, "copy",
				 "'%s' changed while it was copied: not copied from",
				 show_key(l, src_key));
	close(in);
	if (r != MG_OK) {
		close(out);
		drop_temp(l, tmp);
		return r;
	}
	r = publish(conn, out, tmp, dst_key, info ? info->mtime_ns : 0, mode,
		    etag, sizeof(etag));
	if (r != MG_OK) {
		drop_temp(l, tmp);
		return r;
	}
	mg_count_req(conn, MG_REQ_COPY);
	if (res)
		snprintf(res->etag, sizeof(res->etag), "%s", etag);
	return MG_OK;
}

/* ---- timing (issue 16.1) ----
 *
 * A local folder's operations are timed into latency.h's file_* classes
 * as SFTP's are into sftp_*: an open, a file read whole (the time spent in
 * read() from the first call to the last, the engine's time between calls
 * left out; the first call's time as the time to first byte), a file
 * written whole with its commit, a stat.  The wrappers sit around the
 * methods above and leave them as they are.
 */
static int64_t since(int64_t t0)
{
	int64_t d = mg_mono_ns() - t0;

	return d > 0 ? d : 1;	/* 0 means "none yet" below */
}

static int timed_read_open(struct mg_conn *conn, const char *key, uint64_t offset,
			   uint64_t length, struct mg_reader **out)
{
	int64_t t0 = mg_mono_ns();
	int rc = local_read_open(conn, key, offset, length, out);
	int64_t d = since(t0);

	mg_count_time(conn, MG_LAT_FILE_OPEN, d, d);
	return rc;
}

static int timed_read(struct mg_reader *r, void *buf, size_t len, size_t *got)
{
	int64_t t0 = mg_mono_ns();
	int rc = local_read(r, buf, len, got);
	int64_t d = since(t0);

	r->busy_ns += d;
	if (!r->first_ns)
		r->first_ns = d;
	return rc;
}

static void timed_read_close(struct mg_reader *r)
{
	if (r && r->first_ns)
		mg_count_time(r->conn, MG_LAT_FILE_READ, r->busy_ns, r->first_ns);
	local_read_close(r);
}

static int timed_write_open(struct mg_conn *conn, const char *key,
			    const struct mg_put_info *info, struct mg_writer **out)
{
	int64_t t0 = mg_mono_ns();
	int rc = local_write_open(conn, key, info, out);
	int64_t d = since(t0);

	mg_count_time(conn, MG_LAT_FILE_OPEN, d, d);
	return rc;
}

static int timed_write(struct mg_writer *w, const void *buf, size_t len)
{
	int64_t t0 = mg_mono_ns();
	int rc = local_write(w, buf, len);
	int64_t d = since(t0);

	w->busy_ns += d;
	if (!w->first_ns)
		w->first_ns = d;
	return rc;
}

/* The commit (fsync, rename, the folder's fsync) is part of the write. */
static int timed_write_commit(struct mg_writer *w, const struct mg_put_final *fin,
			      struct mg_put_result *res)
{
	struct mg_conn *conn = w->conn;
	int64_t busy = w->busy_ns, first = w->first_ns, t0 = mg_mono_ns();
	int rc = local_write_commit(w, fin, res);	/* frees w */

	busy += since(t0);
	mg_count_time(conn, MG_LAT_FILE_WRITE, busy, first ? first : busy);
	return rc;
}

static int timed_stat(struct mg_conn *conn, const char *key, struct mg_entry *out)
{
	int64_t t0 = mg_mono_ns();
	int rc = local_stat(conn, key, out);
	int64_t d = since(t0);

	mg_count_time(conn, MG_LAT_FILE_STAT, d, d);
	return rc;
}

const struct mg_connector mg_connector_local = {
	.version = MG_CONNECTOR_VERSION,
	.scheme = "file",
	.caps = MG_CAP_SOURCE | MG_CAP_TARGET | MG_CAP_RANGE_READ | MG_CAP_FILES |
		MG_CAP_SERVER_COPY | MG_CAP_DELETE,
	.open = local_open,
	.close = local_close,
	.list_open = local_list_open,
	.list_next = local_list_next,
	.list_close = local_list_close,
	.read_open = timed_read_open,
	.read = timed_read,
	.read_close = timed_read_close,
	.write_open = timed_write_open,
	.write = timed_write,
	.write_commit = timed_write_commit,
	.write_abort = local_write_abort,
	.stat = timed_stat,
	.remove = local_remove,
	.copy = local_copy,
	.url_parse = local_url_parse,
	.url_identity = local_url_identity,
	.options = local_keys,
	.noptions = sizeof(local_keys) / sizeof(local_keys[0]),
	.options_size = sizeof(struct local_options),
	.provider = "local",
};
