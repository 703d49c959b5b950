/*-------------------------------------------------------------------------
 *
 * role_cluster.c
 *	  Module load: settings that every backend needs, and the hooks of the
 *	  modules that must be installed once per process.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "rc_cache.h"
#include "rc_flush.h"
#include "rc_group.h"
#include "rc_queue.h"
#include "rc_task.h"
#include "rc_worker.h"
#include "rc_write.h"
#include "role_cluster.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

int			rc_unknown_role = RC_UNKNOWN_ROLE_ERROR;

static const struct config_enum_entry unknown_role_options[] = {
	{"error", RC_UNKNOWN_ROLE_ERROR, false},
	{"enable_all", RC_UNKNOWN_ROLE_ENABLE_ALL, false},
	{NULL, 0, false}
};

/*
 * Module load callback.
 *
 * The evaluation functions work whether or not the library is preloaded;
 * the background worker and its shared memory need shared_preload_libraries.
 */
void
_PG_init(void)
{
	DefineCustomEnumVariable("role_cluster.unknown_role",
							 "What a role name that no cluster_role row carries enables.",
							 "\"error\" raises an error (SQLSTATE 42704); \"enable_all\" "
							 "treats the node as enabled for everything, as the original "
							 "system does.",
							 &rc_unknown_role,
							 RC_UNKNOWN_ROLE_ERROR,
							 unknown_role_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	/* first: its transaction callback is then called after the others */
	rc_flush_init();
	rc_type_init();
	rc_cache_init();
	rc_queue_init();
	rc_task_init();
	rc_worker_init();
	rc_write_init();

	/*
	 * Only when preloaded: role_cluster.database exists only then, and a
	 * session that loads the library would otherwise warn about it, and
	 * drop it, wherever postgresql.conf sets it.
	 */
	if (process_shared_preload_libraries_in_progress)
		MarkGUCPrefixReserved("role_cluster");
}
