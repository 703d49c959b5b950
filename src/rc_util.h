/*-------------------------------------------------------------------------
 *
 * rc_util.h
 *	  Small helpers that several modules share: statements prepared once
 *	  and kept for the session, and column numbers looked up by name.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_UTIL_H
#define RC_UTIL_H

#include "executor/spi.h"
#include "utils/relcache.h"

/*
 * Prepares sql with SPI (inside SPI_connect) and keeps the plan for the
 * session; raises if it cannot.
 */
extern SPIPlanPtr rc_prepare_kept_plan(const char *sql, int nargs, Oid *argtypes);

/* Column number of a relation's column, by name; raises if it has none */
extern AttrNumber rc_column_attnum(Relation rel, const char *name);

#endif							/* RC_UTIL_H */
