/*
 * local_direct.c - large reads of a local file past the page cache.
 *
 * Why: a multipart upload reads a large file in pieces of megabytes
 * (engine/run/multipart.c) and hashes and sends them from its own buffer.
 * Through the page cache each byte is copied once by the kernel into that
 * buffer (read(2)): about 0.2 CPU-s per GiB here, a tenth of the upload's
 * client CPU over http (docs/BENCHMARKS.md, "Fifth session").  O_DIRECT
 * has the device write into the buffer instead: `dd bs=4M` of a 1 GiB
 * file took 0.06 system seconds O_DIRECT against 0.25 through the cache.
 * Small reads are not worth it (at 256 KiB O_DIRECT cost as much as the
 * copy: one request to the device each), so only reads of a MiB or more
 * go direct, and only when buffer, length and offset are aligned as
 * O_DIRECT wants; the rest (the unaligned tail of a file, small files,
 * other callers' buffers) is read through the cache as before.
 *
 * Not mmap: a mapping of a file that another process truncates raises
 * SIGBUS at the first touch of a page past the new end, and a handler for
 * that in a threaded process is worse than the copy (the third session
 * also measured mmap slower: faults on every page).  With O_DIRECT a file
 * that shrinks reads short, and a file written while it is read is read
 * as it is on the device after the kernel writes back what is dirty in
 * the range (the same data a buffered read returns); the engine checks
 * the file's size and time again before the upload completes.
 *
 * The flag is switched on the descriptor the connector opened (F_SETFL),
 * so the open that refuses links stays the only one.  A file system
 * without O_DIRECT (F_SETFL says EINVAL) or one that wants another
 * alignment (read says EINVAL) is read through the cache.
 */
#define _GNU_SOURCE 1
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "local_direct.h"

static int aligned(int fd, const void *buf, size_t len)
{
	off_t pos;

	if (len < LOCAL_DIRECT_MIN || (uintptr_t)buf % LOCAL_DIRECT_ALIGN ||
	    len % LOCAL_DIRECT_ALIGN)
		return 0;
	pos = lseek(fd, 0, SEEK_CUR);
	return pos >= 0 && pos % LOCAL_DIRECT_ALIGN == 0;
}

ssize_t local_read_large(int fd, void *buf, size_t len)
{
	int fl = fcntl(fd, F_GETFL), want;
	ssize_t n;

	if (fl < 0)
		return read(fd, buf, len);
	want = aligned(fd, buf, len);
	if (want && !(fl & O_DIRECT) && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0)
		fl |= O_DIRECT;
	else if (!want && (fl & O_DIRECT) && fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0)
		fl &= ~O_DIRECT;
	n = read(fd, buf, len);
	if (n < 0 && errno == EINVAL && (fl & O_DIRECT) &&
	    fcntl(fd, F_SETFL, fl & ~O_DIRECT) == 0)
		n = read(fd, buf, len);
	return n;
}
