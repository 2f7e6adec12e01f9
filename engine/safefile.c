/*
 * safefile.c - files replaced whole through mkstemp() + rename(), and
 * append-only files opened without following links; see safefile.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"

static void safefile_release(struct mg_safefile *sf)
{
	if (sf->f)
		fclose(sf->f);	/* closes fd too */
	else if (sf->fd >= 0)
		close(sf->fd);
	sf->f = NULL;
	sf->fd = -1;
	free(sf->path);
	free(sf->tmp);
	sf->path = sf->tmp = NULL;
}

int mg_safefile_open(const char *path, mode_t mode, struct mg_safefile *sf,
		     struct mg_error *err)
{
	struct mg_buf b = MG_BUF_INIT;
	mode_t mask;

	memset(sf, 0, sizeof(*sf));
	sf->fd = -1;
	if (mg_buf_addf(&b, "%s.XXXXXX", path) < 0)
		return mg_error_set(err, MG_FAILED, ENOMEM, 0, "create",
				    "cannot write '%s': out of memory", path);
	/* mkstemp creates the name with O_EXCL and 0600: a planted file or
	 * link under any name makes it choose another, never open it. */
	sf->fd = mkostemp(b.buf, O_CLOEXEC);
	if (sf->fd < 0) {
		int e = errno;

		mg_buf_release(&b);
		return mg_error_set(err, MG_FAILED, e, 0, "create",
				    "cannot write '%s': %s: check that its folder exists "
				    "and is writable", path, strerror(e));
	}
	sf->tmp = mg_buf_detach(&b);
	sf->path = mg_strdup(path);
	/* The wanted mode as open(2) would give it: under the umask.  The
	 * umask can only be read by setting it; 077 for that instant only
	 * makes a file created meanwhile more private. */
	mask = umask(077);
	umask(mask);
	sf->mode = mode & ~mask & 07777;
	if (fchmod(sf->fd, sf->mode) < 0) {
		int e = errno;

		mg_safefile_abort(sf);
		return mg_error_set(err, MG_FAILED, e, 0, "create",
				    "cannot set the mode of '%s': %s", path, strerror(e));
	}
	return MG_OK;
}

FILE *mg_safefile_stream(struct mg_safefile *sf)
{
	if (!sf->f && sf->fd >= 0)
		sf->f = fdopen(sf->fd, "w");
	return sf->f;
}

/* Makes the rename durable: the new directory entry is on disk once the
 * folder is synced.  Best effort: some file systems refuse to sync a
 * directory, and the content itself is already synced. */
static void sync_folder(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd;

	if (!slash)
		dir = mg_strdup(".");
	else if (slash == path)
		dir = mg_strdup("/");
	else
		dir = mg_strndup(path, (size_t)(slash - path));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	free(dir);
}

int mg_safefile_commit(struct mg_safefile *sf, struct mg_error *err)
{
	int e = 0;

	errno = 0;
	if (sf->f && (fflush(sf->f) == EOF || ferror(sf->f)))
		e = errno ? errno : EIO;
	if (!e && fsync(sf->fd) < 0)
		e = errno;
	if (!e) {
		int fd = sf->fd;

		if (sf->f) {
			e = fclose(sf->f) == 0 ? 0 : errno;
			sf->f = NULL;
		} else {
			e = close(fd) == 0 ? 0 : errno;
		}
		sf->fd = -1;
	}
	/* rename() swaps the directory entry: a destination that is a
	 * symlink is replaced by our file, the file it pointed to is not
	 * opened at all. */
	if (!e && rename(sf->tmp, sf->path) < 0)
		e = errno;
	if (e) {
		mg_error_set(err, MG_FAILED, e, 0, "write", "cannot write '%s': %s",
			     sf->path, strerror(e));
		mg_safefile_abort(sf);
		return MG_FAILED;
	}
	sync_folder(sf->path);
	safefile_release(sf);
	return MG_OK;
}

void mg_safefile_abort(struct mg_safefile *sf)
{
	if (sf->tmp)
		unlink(sf->tmp);
	safefile_release(sf);
}

int mg_safefile_append(const char *path, mode_t mode)
{
	struct stat st;
	int fd;

	/* O_NOFOLLOW: a final component that is a symlink fails with ELOOP
	 * instead of appending to whatever it names. */
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
		  O_NONBLOCK, mode);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	/* O_NONBLOCK kept a planted FIFO from blocking the open; only a
	 * regular file is a log, and only one of ours: another user's file
	 * we may write to is theirs to keep. */
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		errno = S_ISREG(st.st_mode) ? EPERM : EINVAL;
		return -1;
	}
	if (fcntl(fd, F_SETFL, O_APPEND) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
