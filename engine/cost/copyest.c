/*
 * copyest.c - the requests of one server-side copy at an S3 target
 * (quarantine copies before a sync delete, issue 18.5): CopyObject up to
 * 5 GiB, above it a multipart copy (connectors/s3.c copy_multipart).
 */
#include "config.h"

#include "estextra.h"

void mg_copy_requests(uint64_t size, uint64_t threshold, uint64_t part_size,
		      uint64_t max_parts, uint64_t req[MG_REQ__COUNT])
{
	uint64_t psize = part_size ? part_size : 1;

	if (size <= threshold) {
		req[MG_REQ_COPY]++;
		return;
	}
	if (max_parts && (size + psize - 1) / psize > max_parts)
		psize = (size + max_parts - 1) / max_parts;
	req[MG_REQ_MP_CREATE]++;
	req[MG_REQ_COPY] += (size + psize - 1) / psize;	/* UploadPartCopy */
	req[MG_REQ_MP_COMPLETE]++;
	req[MG_REQ_HEAD]++;	/* the check of what Complete assembled */
}
