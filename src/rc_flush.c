/*-------------------------------------------------------------------------
 *
 * rc_flush.c
 *	  Claim-only transactions commit without waiting for their WAL flush
 *	  (see rc_flush.h for why that loses nothing).
 *
 * A transaction is claim-only if it had no transaction id when its first
 * claim started (so it had written nothing that its commit must flush:
 * what PostgreSQL writes without one, such as a page's pruning, it never
 * flushes at commit), and if XactLastRecEnd, the end of the last WAL
 * record this backend wrote, has not moved since, except inside
 * claim_tasks() calls.  Its commit is made asynchronous by a SET LOCAL of
 * synchronous_commit in the pre-commit callback, after every statement of
 * the transaction ran; the transaction's end undoes it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "utils/guc.h"

#include "rc_flush.h"

bool		rc_flush_claims = false;

/* What this transaction's WAL has been, so far */
typedef enum RcClaimWal
{
	RC_CLAIM_WAL_NONE,			/* no claim yet */
	RC_CLAIM_WAL_ONLY,			/* all it wrote with an id, claims */
	RC_CLAIM_WAL_MIXED			/* it wrote something else too */
} RcClaimWal;

static RcClaimWal claim_wal = RC_CLAIM_WAL_NONE;
static XLogRecPtr claim_wal_end = InvalidXLogRecPtr;	/* the last claim's */

static void rc_flush_xact_callback(XactEvent event, void *arg);

/*
 * Defines role_cluster.flush_claims, and registers the pre-commit look at
 * the transaction's WAL.  Registered at load, before the transaction
 * callbacks that code registers later, it is called after them (the last
 * registered is called first), and so sees what they write.
 */
void
rc_flush_init(void)
{
	DefineCustomBoolVariable("role_cluster.flush_claims",
							 "Whether a transaction that only claims tasks waits for its WAL flush.",
							 "Off: it commits as with synchronous_commit = off.  A crash that "
							 "loses such a claim also ends the session of the node that made it, "
							 "and so hands the task back as the claim's survival would, "
							 "without counting the attempt.  A transaction that writes anything "
							 "else commits as synchronous_commit says, either way.",
							 &rc_flush_claims, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	RegisterXactCallback(rc_flush_xact_callback, NULL);
}

/*
 * Notes that a claim starts: the transaction is claim-only if it has no
 * transaction id yet, and stays so if it wrote nothing since the last
 * claim ended
 */
void
rc_claim_wal_begin(void)
{
	if (claim_wal == RC_CLAIM_WAL_NONE)
		claim_wal = FullTransactionIdIsValid(GetTopFullTransactionIdIfAny()) ?
			RC_CLAIM_WAL_MIXED : RC_CLAIM_WAL_ONLY;
	else if (claim_wal == RC_CLAIM_WAL_ONLY && XactLastRecEnd != claim_wal_end)
		claim_wal = RC_CLAIM_WAL_MIXED;
}

/* Notes that a claim ended: what it wrote, up to here, is a claim's */
void
rc_claim_wal_end(void)
{
	claim_wal_end = XactLastRecEnd;
}

/*
 * Before a commit: a claim-only transaction that wrote WAL commits without
 * waiting for it, unless role_cluster.flush_claims is on or
 * synchronous_commit is off already.  At the transaction's end, the next
 * one starts afresh.
 */
static void
rc_flush_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (claim_wal == RC_CLAIM_WAL_ONLY && XactLastRecEnd == claim_wal_end &&
				XactLastRecEnd != InvalidXLogRecPtr && !rc_flush_claims &&
				synchronous_commit > SYNCHRONOUS_COMMIT_OFF)
				(void) set_config_option("synchronous_commit", "off",
										 PGC_USERSET, PGC_S_SESSION,
										 GUC_ACTION_LOCAL, true, 0, false);
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
			claim_wal = RC_CLAIM_WAL_NONE;
			claim_wal_end = InvalidXLogRecPtr;
			break;
		default:
			break;
	}
}
