/*-------------------------------------------------------------------------
 *
 * role_cluster.h
 *	  Settings and module entry points shared across role_cluster.
 *
 * Each module (one .c file per concern) declares its interface in its own
 * header; this one holds only what _PG_init and several modules need.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ROLE_CLUSTER_H
#define ROLE_CLUSTER_H

/* Values of role_cluster.unknown_role */
typedef enum RcUnknownRole
{
	RC_UNKNOWN_ROLE_ERROR,		/* an unknown role name raises 42704 */
	RC_UNKNOWN_ROLE_ENABLE_ALL	/* the original's fail-open behaviour */
} RcUnknownRole;

/* role_cluster.unknown_role */
extern int	rc_unknown_role;

#endif							/* ROLE_CLUSTER_H */
