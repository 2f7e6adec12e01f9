/*
 * safefile.h - creating the files migrate writes outside its targets
 * (metrics, reports, event logs) so that nobody can redirect them.
 *
 * The folder of a metrics file or a report is often one that other users
 * can write into (/var/lib/node_exporter/textfile, /tmp).  A predictable
 * temporary name ("<file>.tmp.<pid>") opened with O_CREAT|O_TRUNC follows
 * a symlink planted under that name and truncates whatever it points to,
 * with our privileges.  So a file that is replaced whole is written to a
 * fresh name made by mkstemp() in the destination's folder (O_EXCL: a
 * planted name makes it pick another), synced, and renamed over the
 * destination.  rename() replaces a destination that is a symlink by the
 * new file: it never writes through the link.
 *
 *   struct mg_safefile sf;
 *
 *   if (mg_safefile_open(path, 0644, &sf, &err) != MG_OK) ...
 *   write(sf.fd, ...) or fprintf(sf.f, ...)
 *   if (mg_safefile_commit(&sf, &err) != MG_OK) ...   (or _abort on error)
 *
 * A file that is appended to (--log-json) cannot be renamed into place;
 * mg_safefile_append() opens it without following a final symlink and
 * only if it is a regular file of ours.
 */
#ifndef MG_SAFEFILE_H
#define MG_SAFEFILE_H

#include <stdio.h>
#include <sys/types.h>
#include "mg.h"

struct mg_safefile {
	char *path;	/* the destination */
	char *tmp;	/* the temporary name mkstemp() chose */
	int fd;		/* open on tmp for writing */
	FILE *f;	/* a stdio stream on fd, made on first mg_safefile_stream() */
	mode_t mode;
};

/* Creates the temporary file next to path: created 0600, then set to
 * mode (masked by the umask, never wider than asked).  MG_OK, or
 * MG_FAILED with err set (the message names path). */
int mg_safefile_open(const char *path, mode_t mode, struct mg_safefile *sf,
		     struct mg_error *err);

/* A stdio stream writing to the temporary file (owned by sf: do not
 * fclose it).  NULL when out of memory. */
FILE *mg_safefile_stream(struct mg_safefile *sf);

/* Flushes, fsyncs and renames the temporary file over path, then syncs
 * the folder.  On failure the temporary file is removed and err says
 * why.  sf is released either way. */
int mg_safefile_commit(struct mg_safefile *sf, struct mg_error *err);

/* Removes the temporary file; path is untouched.  sf is released. */
void mg_safefile_abort(struct mg_safefile *sf);

/* Opens path for appending, created with mode if absent.  Refused (-1,
 * errno ELOOP) when path is a symlink, (EINVAL) when it is not a regular
 * file, (EPERM) when another user owns it.  Returns the descriptor. */
int mg_safefile_append(const char *path, mode_t mode);

#endif
