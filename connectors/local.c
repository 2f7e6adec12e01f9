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
 * Writes are atomic: bytes go to a temporary file in "<root>/.migrate-tmp/"
 * named after our PID, which is fsync'ed, gets the source mtime, and is
 * renamed into place; the containing folder is fsync'ed so the rename
 * survives a crash.  Temporary files of dead processes (a kill -9) are
 * removed when a later run opens the target.  The temp folder is skipped
 * when listing and removed when empty.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "connector.h"
#include "plan.h"

#define TMPDIR_NAME ".migrate-tmp"

/* Names temporary and probe files uniquely within the process: several
 * workers open the same target at once. */
static unsigned long tmp_counter;

struct local {
	char *root;		/* no trailing '/' */
	unsigned flags;
	struct mg_buf path;	/* scratch for root + key */
	struct mg_entry st;	/* stat() answer */
	char *st_key;
};

static const char *full_path(struct local *l, const char *key)
{
	mg_buf_reset(&l->path);
	mg_buf_adds(&l->path, l->root);
	mg_buf_add(&l->path, "/", 1);
	mg_buf_adds(&l->path, key);
	return l->path.buf;
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

static int sys_status(int err)
{
	/* A full disk or an I/O error fails the object; the engine decides
	 * whether to go on.  Nothing local is worth retrying. */
	(void)err;
	return MG_FAILED;
}

/* mkdir -p for the folders above path (path itself is a file). */
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

/* Removes temporary files left by processes that are gone. */
static void clean_stale_temps(struct local *l)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/" TMPDIR_NAME, l->root);
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		long pid = strtol(de->d_name, NULL, 10);

		if (de->d_name[0] == '.' || pid <= 0)
			continue;
		if (pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
	rmdir(dir);	/* only succeeds when empty */
}

static int local_open(struct mg_conn *conn, unsigned flags)
{
	const struct mg_endpoint *ep = conn->ep;
	struct local *l = mg_calloc(1, sizeof(*l));
	struct stat st;
	size_t n;

	conn->priv = l;
	l->flags = flags;
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
					    "target '%s' is not a folder", l->root);
	} else if (flags & MG_OPEN_TARGET) {
		char probe[PATH_MAX];
		int fd;

		snprintf(probe, sizeof(probe), "%s/x", l->root);
		if (make_parents(probe) < 0 || stat(l->root, &st) < 0)
			return mg_error_set(&conn->err, MG_FATAL, errno, 0, "open",
					    "cannot create target folder '%s': %s",
					    l->root, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return mg_error_set(&conn->err, MG_FATAL, ENOTDIR, 0, "open",
					    "target '%s' is not a folder", l->root);
		/* access(W_OK) says yes to root on a read-only mount:
		 * really create a file to know. */
		snprintf(probe, sizeof(probe), "%s/.migrate-probe-%ld-%lu", l->root,
			 (long)getpid(),
			 __atomic_add_fetch(&tmp_counter, 1, __ATOMIC_RELAXED));
		fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd < 0)
			return mg_error_set(&conn->err, MG_FATAL, errno, 0, "open",
					    "target folder '%s' is not writable: %s",
					    l->root, strerror(errno));
		close(fd);
		unlink(probe);
		clean_stale_temps(l);
	} else {
		if (stat(l->root, &st) < 0)
			return mg_error_set(&conn->err, MG_FATAL, errno, 0, "open",
					    "cannot open source folder '%s': %s",
					    l->root, strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return mg_error_set(&conn->err, MG_FATAL, ENOTDIR, 0, "open",
					    "source '%s' is not a folder", l->root);
	}
	return MG_OK;
}

static void local_close(struct mg_conn *conn)
{
	struct local *l = conn->priv;
	char dir[PATH_MAX];

	if (!l)
		return;
	if ((l->flags & MG_OPEN_TARGET) && !(l->flags & MG_OPEN_LOOK)) {
		snprintf(dir, sizeof(dir), "%s/" TMPDIR_NAME, l->root);
		rmdir(dir);
	}
	mg_buf_release(&l->path);
	free(l->root);
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
};

static int child_cmp(const void *a, const void *b)
{
	const struct child *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int classify(struct mg_lister *it, const char *path, struct child *c)
{
	const struct mg_endpoint *ep = it->conn->ep;

	if (lstat(path, &c->st) < 0) {
		c->kind = 4;
		c->err = errno;
		return 0;
	}
	if (S_ISLNK(c->st.st_mode) && ep->symlinks == MG_SYMLINKS_FOLLOW) {
		struct stat t;

		if (stat(path, &t) == 0)
			c->st = t;
		/* a dangling link stays a link and is reported */
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
		switch (c->kind) {
		case 0:
			out->kind = MG_ENTRY_FILE;
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
	char *key;
};

static int local_read_open(struct mg_conn *conn, const char *key, uint64_t offset,
			   uint64_t length, struct mg_reader **out)
{
	struct local *l = conn->priv;
	const char *path = full_path(l, key);
	int flags = O_RDONLY | O_CLOEXEC;
	struct mg_reader *r;
	int fd;

	if (conn->ep->symlinks != MG_SYMLINKS_FOLLOW)
		flags |= O_NOFOLLOW;
	fd = open(path, flags);
	mg_count_req(conn, MG_REQ_GET);
	if (fd < 0)
		return mg_error_set(&conn->err, MG_FAILED, errno, 0, "read",
				    "cannot open '%s': %s", path, strerror(errno));
	if (offset && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
		int e = errno;

		close(fd);
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "read",
				    "cannot seek in '%s': %s", path, strerror(e));
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
	if (r->bounded && r->left == 0)
		return MG_OK;
	if (r->bounded && len > r->left)
		len = (size_t)r->left;
	do
		n = read(r->fd, buf, len);
	while (n < 0 && errno == EINTR);
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
	char *tmp;
	char *dest;
	int64_t mtime_ns;
};

static int open_temp(struct mg_conn *conn, struct local *l, char **tmp_out)
{
	struct mg_buf t = MG_BUF_INIT;
	unsigned long n = __atomic_add_fetch(&tmp_counter, 1, __ATOMIC_RELAXED);
	int fd;

	mg_buf_addf(&t, "%s/" TMPDIR_NAME, l->root);
	/* Another conn may rmdir() the temp folder when it closes and finds
	 * it empty, between our mkdir() and open(): try again then. */
	for (int tries = 0;; tries++) {
		size_t dirlen = t.len;

		if (mkdir(t.buf, 0700) < 0 && errno != EEXIST) {
			int e = errno;

			mg_error_set(&conn->err, MG_FAILED, e, 0, "write",
				     "cannot create '%s': %s", t.buf, strerror(e));
			mg_buf_release(&t);
			return -1;
		}
		mg_buf_addf(&t, "/%ld-%lu", (long)getpid(), n);
		fd = open(t.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != ENOENT || tries == 3)
			break;
		t.len = dirlen;
		t.buf[dirlen] = '\0';
	}
	if (fd < 0) {
		int e = errno;

		mg_error_set(&conn->err, sys_status(e), e, 0, "write",
			     "cannot create '%s': %s", t.buf, strerror(e));
		mg_buf_release(&t);
		return -1;
	}
	*tmp_out = mg_buf_detach(&t);
	return fd;
}

static int local_write_open(struct mg_conn *conn, const char *key,
			    const struct mg_put_info *info, struct mg_writer **out)
{
	struct local *l = conn->priv;
	struct mg_writer *w;
	char *tmp;
	int fd;

	fd = open_temp(conn, l, &tmp);
	if (fd < 0)
		return conn->err.status;
	w = mg_calloc(1, sizeof(*w));
	w->conn = conn;
	w->fd = fd;
	w->tmp = tmp;
	w->dest = mg_strdup(full_path(l, key));
	w->mtime_ns = info->mtime_ns;
	*out = w;
	return MG_OK;
}

static int local_write(struct mg_writer *w, const void *buf, size_t len)
{
	const char *p = buf;

	if (mg_pace(w->conn, len))
		return mg_error_set(&w->conn->err, MG_FATAL, 0, 0, "write",
				    "writing '%s' stopped: the run is interrupted", w->dest);
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return mg_error_set(&w->conn->err, sys_status(errno), errno, 0,
					    "write", "cannot write '%s': %s",
					    w->dest, strerror(errno));
		p += n;
		len -= (size_t)n;
		mg_count_written(w->conn, (uint64_t)n);
	}
	return MG_OK;
}

static void writer_free(struct mg_writer *w)
{
	free(w->tmp);
	free(w->dest);
	free(w);
}

static void local_write_abort(struct mg_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp);
	writer_free(w);
}

static int fsync_parent(const char *path)
{
	char *dir = mg_strdup(path);
	char *slash = strrchr(dir, '/');
	int fd, r = 0;

	if (slash)
		*slash = '\0';
	fd = open(slash && *dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		r = fsync(fd);
		close(fd);
	}
	free(dir);
	return r;
}

/* Puts a finished temp file in place: fsync, mtime, rename, fsync folder. */
static int publish(struct mg_conn *conn, int fd, const char *tmp, const char *dest,
		   int64_t mtime)
{
	struct timespec ts[2];
	char *d;

	if (fsync(fd) < 0)
		return mg_error_set(&conn->err, MG_FAILED, errno, 0, "write",
				    "cannot write '%s': %s", dest, strerror(errno));
	if (mtime) {
		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1].tv_sec = mtime / 1000000000;
		ts[1].tv_nsec = mtime % 1000000000;
		futimens(fd, ts);
	}
	if (close(fd) < 0)
		return mg_error_set(&conn->err, MG_FAILED, errno, 0, "write",
				    "cannot write '%s': %s", dest, strerror(errno));
	d = mg_strdup(dest);
	if (make_parents(d) < 0 || rename(tmp, dest) < 0) {
		int e = errno;

		free(d);
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "write",
				    "cannot create '%s': %s", dest, strerror(e));
	}
	free(d);
	fsync_parent(dest);
	return MG_OK;
}

static int local_write_commit(struct mg_writer *w, const struct mg_put_final *fin,
			      struct mg_put_result *res)
{
	int r;

	(void)fin;
	r = publish(w->conn, w->fd, w->tmp, w->dest, w->mtime_ns);
	w->fd = -1;
	if (r != MG_OK) {
		unlink(w->tmp);
	} else {
		mg_count_req(w->conn, MG_REQ_PUT);
		if (res)
			memset(res, 0, sizeof(*res));
	}
	writer_free(w);
	return r;
}

static int local_stat(struct mg_conn *conn, const char *key, struct mg_entry *out)
{
	struct local *l = conn->priv;
	struct stat st;

	mg_count_req(conn, MG_REQ_HEAD);
	if (lstat(full_path(l, key), &st) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return MG_ABSENT;
		return mg_error_set(&conn->err, MG_FAILED, errno, 0, "stat",
				    "cannot stat '%s': %s", l->path.buf, strerror(errno));
	}
	free(l->st_key);
	l->st_key = mg_strdup(key);
	memset(out, 0, sizeof(*out));
	out->key = l->st_key;
	out->size = (uint64_t)st.st_size;
	out->mtime_ns = mtime_ns(&st);
	out->kind = S_ISREG(st.st_mode) ? MG_ENTRY_FILE :
		    S_ISLNK(st.st_mode) ? MG_ENTRY_SYMLINK : MG_ENTRY_SPECIAL;
	return MG_OK;
}

static int local_remove(struct mg_conn *conn, const char *key)
{
	struct local *l = conn->priv;
	char *path = mg_strdup(full_path(l, key));
	size_t rootlen = strlen(l->root);
	char *slash;

	mg_count_req(conn, MG_REQ_DELETE);
	if (unlink(path) < 0 && errno != ENOENT) {
		int e = errno;

		free(path);
		return mg_error_set(&conn->err, MG_FAILED, e, 0, "delete",
				    "cannot delete '%s': %s", l->path.buf, strerror(e));
	}
	/* Folders exist only to hold objects: drop the ones left empty. */
	while ((slash = strrchr(path, '/')) != NULL && (size_t)(slash - path) > rootlen) {
		*slash = '\0';
		if (rmdir(path) < 0)
			break;
	}
	free(path);
	return MG_OK;
}

/* A "server-side" copy on a local disk: the bytes never reach our buffers
 * when the kernel can copy_file_range() (reflinks on btrfs/xfs). */
static int local_copy(struct mg_conn *conn, const char *src_key, const char *dst_key,
		      const struct mg_put_info *info, const struct mg_put_final *fin,
		      struct mg_put_result *res)
{
	struct local *l = conn->priv;
	char *src = mg_strdup(full_path(l, src_key));
	char *dst = mg_strdup(full_path(l, dst_key));
	char *tmp = NULL;
	int in, out, r = MG_OK;
	struct stat st;

	(void)fin;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		r = mg_error_set(&conn->err, MG_FAILED, errno, 0, "copy",
				 "cannot open '%s': %s", src, strerror(errno));
		goto done;
	}
	out = open_temp(conn, l, &tmp);
	if (out < 0) {
		r = conn->err.status;
		goto done;
	}
	for (off_t left = st.st_size; left > 0;) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n <= 0) {
			r = mg_error_set(&conn->err, MG_FAILED, n < 0 ? errno : EIO, 0,
					 "copy", "cannot copy '%s' to '%s': %s", src, dst,
					 n < 0 ? strerror(errno) : "source shrank");
			close(out);
			unlink(tmp);
			goto done;
		}
		left -= n;
	}
	r = publish(conn, out, tmp, dst, info ? info->mtime_ns : 0);
	if (r != MG_OK)
		unlink(tmp);
	else
		mg_count_req(conn, MG_REQ_COPY);
	if (res)
		memset(res, 0, sizeof(*res));
done:
	if (in >= 0)
		close(in);
	free(src);
	free(dst);
	free(tmp);
	return r;
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
	.read_open = local_read_open,
	.read = local_read,
	.read_close = local_read_close,
	.write_open = local_write_open,
	.write = local_write,
	.write_commit = local_write_commit,
	.write_abort = local_write_abort,
	.stat = local_stat,
	.remove = local_remove,
	.copy = local_copy,
};
