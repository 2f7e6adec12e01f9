/*
 * local_direct.h - large reads of a local file past the page cache
 * (local_direct.c).  Private to the local connector.
 */
#ifndef MG_LOCAL_DIRECT_H
#define MG_LOCAL_DIRECT_H

#include <stddef.h>
#include <sys/types.h>

/* The smallest read, and the alignment of buffer, length and file
 * offset, that goes O_DIRECT */
#define LOCAL_DIRECT_MIN (1u << 20)
#define LOCAL_DIRECT_ALIGN 4096u

/* read(2) of len bytes at fd's offset into buf, O_DIRECT where the read
 * is large and aligned and the file system takes it, else through the
 * page cache as before.  Returns what read(2) returns. */
ssize_t local_read_large(int fd, void *buf, size_t len);

#endif
