/*
 * sha2x.h - two SHA-256 states fed the same bytes in one pass (sha2x.c).
 */
#ifndef MG_SHA2X_H
#define MG_SHA2X_H

#include <stddef.h>
#include <openssl/sha.h>

/* Both a and b take the len bytes at data, as SHA256_Update(a, ...) and
 * SHA256_Update(b, ...) would; a and b may be at different points of
 * their messages (the object's hash and one part's). */
void mg_sha256_update2(SHA256_CTX *a, SHA256_CTX *b, const void *data, size_t len);

/* The SHA extensions path on (1) or off (0), -1 to only ask; returns
 * whether it was on.  On only where the CPU has them.  For tests and
 * the before/after measurement (MG_SHA2X=0 in the environment). */
int mg_sha256_2x_hw(int on);

#endif
