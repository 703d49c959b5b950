/*-------------------------------------------------------------------------
 *
 * rc_shard.c
 *	  role_cluster.shard_for(): the push shard of a subscriber.
 *
 * shard = jump(XXH3_64bits(utf8 bytes of the key, seed 0), nshards) + 1
 *
 * XXH3 spreads any key evenly over 64 bits; the jump consistent hash of
 * Lamping and Veach ("A Fast, Minimal Memory, Consistent Hash Algorithm",
 * 2014) maps that to a bucket so that going from N to N+1 buckets moves
 * only about 1/(N+1) of the keys, and only into the new bucket.  The
 * result is 1-based to match STALWART_PUSH_SHARD.
 *
 * Keys are hashed as UTF-8 so that a node in any language agrees: in a
 * database whose encoding is not UTF8 the text is converted first (in a
 * SQL_ASCII database the bytes are hashed as they are stored).  The bigint
 * form hashes the number's decimal text, so 42 and '42' share a shard.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <xxhash.h>

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "rc_shard.h"

PG_FUNCTION_INFO_V1(shard_for_text);
PG_FUNCTION_INFO_V1(shard_for_bigint);

/*
 * Multiplier of the 64-bit linear congruential generator that drives the
 * jumps (the one the paper uses; with increment 1 it has full period).
 */
#define RC_JUMP_LCG_MULTIPLIER	UINT64CONST(2862933555777941757)

/*
 * Jump consistent hash: a bucket in 0..nbuckets-1.
 *
 * Picture the buckets being added one at a time.  When their number grows
 * from i to i+1, a key moves into the new bucket (number i) with
 * probability 1/(i+1) and otherwise stays: that keeps the buckets even and
 * moves keys only into the new one.  Rather than toss a coin for every i,
 * the loop jumps from one move to the next: a key that moved into bucket b
 * next moves into bucket j with P(j >= i) = (b+1)/i, that is
 * j = floor((b+1) / r) for r uniform in (0, 1].  Its bucket for nbuckets
 * buckets is the last b before j reaches nbuckets.
 *
 * r comes from a 64-bit linear congruential generator seeded with the key:
 * r = ((state >> 33) + 1) / 2^31.  1/r and the product are computed in
 * IEEE-754 double precision exactly as written, which implementations in
 * other languages must reproduce bit for bit.
 */
static inline int32
jump_consistent_hash(uint64 key, int32 nbuckets)
{
	uint64		state = key;
	int64		bucket = -1;
	int64		next = 0;

	Assert(nbuckets >= 1);

	while (next < nbuckets)
	{
		double		inverse_r;

		bucket = next;
		state = state * RC_JUMP_LCG_MULTIPLIER + 1;
		inverse_r = (double) (INT64CONST(1) << 31) / (double) ((state >> 33) + 1);
		next = (int64) ((double) (bucket + 1) * inverse_r);
	}

	return (int32) bucket;
}

/*
 * Shard (1..nshards) of a key already in UTF-8.
 */
static inline int32
shard_of_utf8(const char *key, size_t len, int32 nshards)
{
	return jump_consistent_hash((uint64) XXH3_64bits(key, len), nshards) + 1;
}

/* Are the len bytes at s all ASCII? */
static inline bool
ascii_only(const char *s, int len)
{
	for (int i = 0; i < len; i++)
		if (IS_HIGHBIT_SET(s[i]))
			return false;
	return true;
}

/*
 * Shard (1..nshards) of a key in the server encoding.
 *
 * A key of ASCII bytes only is the same bytes in UTF-8, whatever the
 * server encoding (every server encoding is a superset of ASCII), so it is
 * hashed as it is: that spares the conversion, and works in a
 * MULE_INTERNAL database, which PostgreSQL cannot convert to UTF-8 (a
 * non-ASCII key there raises its error).  pg_server_to_any returns its
 * input unchanged when the server encoding is UTF8 or SQL_ASCII; otherwise
 * it returns a palloc'd, NUL-terminated conversion.
 */
static inline int32
shard_of_server_text(const char *key, int len, int32 nshards)
{
	const char *utf8 = key;
	size_t		utf8len = len;
	int			encoding = GetDatabaseEncoding();
	int32		shard;

	if (encoding != PG_UTF8 && encoding != PG_SQL_ASCII &&
		!ascii_only(key, len))
	{
		utf8 = pg_server_to_any(key, len, PG_UTF8);
		if (utf8 != key)
			utf8len = strlen(utf8);
	}

	shard = shard_of_utf8(utf8, utf8len, nshards);

	if (utf8 != key)
		pfree(unconstify(char *, utf8));
	return shard;
}

/*
 * Shard (1..nshards) of a key in the server encoding: the exported form of
 * shard_of_server_text(), for other modules.
 */
int32
rc_shard_of_server_text(const char *key, int len, int32 nshards)
{
	return shard_of_server_text(key, len, nshards);
}

/*
 * Reject a shard count below 1.
 */
static void
check_nshards(int32 nshards)
{
	if (nshards < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid number of shards: %d", nshards),
				 errdetail("The number of shards must be 1 or more."),
				 errhint("Pass the cluster's shard count, role_cluster.cluster_settings.push_shards_total.")));
}

/*
 * role_cluster.shard_for(subscriber text, nshards int) returns int
 */
Datum
shard_for_text(PG_FUNCTION_ARGS)
{
	text	   *subscriber = PG_GETARG_TEXT_PP(0);
	int32		nshards = PG_GETARG_INT32(1);
	int32		shard;

	check_nshards(nshards);
	shard = shard_of_server_text(VARDATA_ANY(subscriber),
								 VARSIZE_ANY_EXHDR(subscriber), nshards);
	PG_FREE_IF_COPY(subscriber, 0);
	PG_RETURN_INT32(shard);
}

/*
 * role_cluster.shard_for(subscriber bigint, nshards int) returns int
 *
 * Hashes the decimal text of the number (ASCII, hence already UTF-8).
 */
Datum
shard_for_bigint(PG_FUNCTION_ARGS)
{
	int64		subscriber = PG_GETARG_INT64(0);
	int32		nshards = PG_GETARG_INT32(1);
	char		buf[MAXINT8LEN + 1];
	int			len;

	check_nshards(nshards);
	len = pg_lltoa(subscriber, buf);
	PG_RETURN_INT32(shard_of_utf8(buf, len, nshards));
}
