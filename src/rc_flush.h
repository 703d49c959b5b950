/*-------------------------------------------------------------------------
 *
 * rc_flush.h
 *	  Whether a transaction that only claims tasks waits for its WAL to
 *	  reach disk at commit.
 *
 * A node's hold on a task lasts no longer than the session that
 * registered the node, and a server crash ends every session: it hands
 * back everything every node held.  A claim that a crash loses therefore
 * loses nothing a flushed one would keep, except the count of its
 * attempt.  So a transaction that writes nothing but claim_tasks() calls
 * commits as synchronous_commit = off would, unless
 * role_cluster.flush_claims is on.  A transaction that writes anything
 * else, before or after a claim, commits as its settings say.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_FLUSH_H
#define RC_FLUSH_H

/* role_cluster.flush_claims: flush claim-only transactions too */
extern bool rc_flush_claims;

/* Defines role_cluster.flush_claims; registers the pre-commit callback */
extern void rc_flush_init(void);

/* Around one claim_tasks() call: the WAL between them is the claim's */
extern void rc_claim_wal_begin(void);
extern void rc_claim_wal_end(void);

#endif							/* RC_FLUSH_H */
