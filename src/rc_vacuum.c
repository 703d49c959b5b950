/*-------------------------------------------------------------------------
 *
 * rc_vacuum.c
 *	  The background worker vacuums the queue tables itself.
 *
 * Every task is written four times (enqueued, routed, running, done) and
 * then deleted by prune(): at thousands of tasks a second, tens of
 * thousands of dead row versions a second.  Autovacuum visits a database
 * at most once per autovacuum_naptime, a minute by default, whatever the
 * tables' own settings say; and a btree index never gives back the pages
 * it grew to hold the dead versions of its worst minute.  With the default
 * naptime, a million tasks at full rate left the task table's indexes at
 * 24 MB (against 1.1 MB after ten thousand) and ran at a third of the rate
 * they reached with a naptime of one second; with this vacuum every
 * second, 5.7 MB at that same rate (test/bench_worker.sh).
 *
 * So the worker vacuums the queue tables every role_cluster.vacuum_interval
 * when the cumulative statistics show that one has at least
 * RC_VACUUM_MIN_DEAD dead rows and nobody (autovacuum or a person) has
 * vacuumed it since the worker last looked.  It is a plain VACUUM with
 * SKIP_LOCKED (a table another vacuum is busy with is left to it) and
 * without parallel workers, run the way a session runs the command: its
 * own transaction per table, and the caller's transaction committed first.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/vacuum.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "pgstat.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "rc_vacuum.h"

/* Settings */
int			rc_vacuum_interval_s = 1;

/* The queue tables: what every task passes through or leaves behind */
static const char *const rc_queue_tables[] = {"task", "node", "schedule_firing"};

/* Whether the statistics say relid needs the worker's vacuum */
static bool
rc_needs_vacuum(Oid relid, TimestampTz not_since)
{
	PgStat_StatTabEntry *e = pgstat_fetch_stat_tabentry(relid);

	if (e == NULL || e->n_dead_tuples < RC_VACUUM_MIN_DEAD)
		return false;
	return e->vacuum_timestamp < not_since && e->autovac_vacuum_timestamp < not_since;
}

/*
 * Runs a VACUUM statement with portal_cxt as its PortalContext.  Commits
 * the caller's transaction, and starts one again at the end, as it does for
 * a session.
 */
static void
rc_exec_vacuum(VacuumStmt *stmt, MemoryContext portal_cxt)
{
	MemoryContext old_portal = PortalContext;

	PortalContext = portal_cxt;
	PG_TRY();
	{
		ExecVacuum(make_parsestate(NULL), stmt, true);
	}
	PG_FINALLY();
	{
		PortalContext = old_portal;
	}
	PG_END_TRY();
}

/*
 * Vacuums the queue tables that need it; see the file header.  Returns how
 * many it vacuumed, going by their statistics afterwards: a table skipped
 * because another vacuum held it does not count.
 *
 * The VacuumRelation nodes must outlive the transaction that builds them
 * (VACUUM keeps them across its own transactions), and VACUUM's working
 * memory is a child of PortalContext, which a background worker has no
 * portal to provide: both go in a context of their own, as autovacuum does
 * it.  After an error, the caller's memory context takes it along.
 */
int
rc_vacuum_queue_tables(TimestampTz not_since)
{
	MemoryContext vac_cxt;
	MemoryContext oldcxt = CurrentMemoryContext;
	Oid			relids[lengthof(rc_queue_tables)];
	List	   *rels = NIL;
	int			nrels = 0;
	int			vacuumed = 0;
	Oid			nspid;

	vac_cxt = AllocSetContextCreate(CurrentMemoryContext, "role_cluster vacuum",
									ALLOCSET_DEFAULT_SIZES);

	StartTransactionCommand();
	nspid = get_namespace_oid("role_cluster", true);
	for (size_t i = 0; OidIsValid(nspid) && i < lengthof(rc_queue_tables); i++)
	{
		Oid			relid = get_relname_relid(rc_queue_tables[i], nspid);

		if (OidIsValid(relid) && rc_needs_vacuum(relid, not_since))
		{
			MemoryContextSwitchTo(vac_cxt);
			rels = lappend(rels,
						   makeVacuumRelation(makeRangeVar("role_cluster",
														   pstrdup(rc_queue_tables[i]), -1),
											  relid, NIL));
			MemoryContextSwitchTo(TopTransactionContext);
			relids[nrels++] = relid;
		}
	}

	if (nrels > 0)
	{
		TimestampTz began = GetCurrentTimestamp();
		VacuumStmt *stmt;

		MemoryContextSwitchTo(vac_cxt);
		stmt = makeNode(VacuumStmt);
		stmt->options = list_make2(makeDefElem("skip_locked", NULL, -1),
								   makeDefElem("parallel", (Node *) makeInteger(0), -1));
		stmt->rels = rels;
		stmt->is_vacuumcmd = true;
		rc_exec_vacuum(stmt, vac_cxt);

		/* a new transaction: fresh statistics */
		for (int i = 0; i < nrels; i++)
		{
			PgStat_StatTabEntry *e = pgstat_fetch_stat_tabentry(relids[i]);

			if (e != NULL && e->vacuum_timestamp >= began)
				vacuumed++;
		}
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(vac_cxt);
	return vacuumed;
}
