/*-------------------------------------------------------------------------
 *
 * rc_shard.h
 *	  Push shard of a subscriber: XXH3-64 of the key's UTF-8 bytes, then
 *	  Lamping and Veach's jump consistent hash, plus one.
 *
 * The algorithm is documented with test vectors in README.md ("Sharding
 * algorithm") so that a node written in any language computes the same
 * shard as role_cluster.shard_for().
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_SHARD_H
#define RC_SHARD_H

/*
 * Shard (1..nshards) of a key given in the server encoding; converts it to
 * UTF-8 first when the database encoding is neither UTF8 nor SQL_ASCII.
 */
extern int32 rc_shard_of_server_text(const char *key, int len, int32 nshards);

#endif							/* RC_SHARD_H */
