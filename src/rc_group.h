/*-------------------------------------------------------------------------
 *
 * rc_group.h
 *	  The ClusterTaskGroup and ClusterListenerGroup types (task_group and
 *	  listener_group in SQL) and the task type list.
 *
 * task_group is passed by value: an int32 whose high 16 bits hold the
 * variant and whose low 16 bits hold a bit per task type (bit i is the task
 * type of ordinal i).  listener_group is a varlena holding the variant and
 * the listener ids, sorted by byte order (strcmp) and without duplicates,
 * so that equal groups are equal byte for byte.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_GROUP_H
#define RC_GROUP_H

#include "fmgr.h"

/* The four variants shared by both group types */
typedef enum RcGroupVariant
{
	RC_ENABLE_ALL = 0,
	RC_DISABLE_ALL = 1,
	RC_ENABLE_SOME = 2,
	RC_DISABLE_SOME = 3
} RcGroupVariant;

#define RC_NUM_VARIANTS 4

/*
 * The task types, in the order of the SQL enum role_cluster.task_type.
 * Ordinals are stable: a new type is only ever appended.
 */
#define RC_NUM_TASK_TYPES 10
extern const char *const rc_task_type_names[RC_NUM_TASK_TYPES];

/* Ordinal of pushNotifications, the type routed by push shard */
#define RC_PUSH_NOTIFICATIONS 4

/* Ordinal (0..RC_NUM_TASK_TYPES-1) of a task_type enum value */
extern int	rc_task_type_ordinal(Oid enumval);

/* The task_type enum value (pg_enum OID) of an ordinal */
extern Oid	rc_task_type_oid(int ordinal);

/* Ordinal of the task type named name, or -1 when there is none */
extern int	rc_task_type_by_name(const char *name);

/* The hint for an unknown task type: "Valid task types are ... ." */
extern char *rc_task_types_hint(void);

/* Per-process setup (the task type map's invalidation); called by _PG_init */
extern void rc_type_init(void);

/* task_group, passed by value */
typedef int32 TaskGroup;

#define TASK_GROUP_MAKE(variant, mask) ((TaskGroup) (((uint32) (variant) << 16) | ((uint32) (mask) & 0xFFFF)))
#define TASK_GROUP_VARIANT(g)	((RcGroupVariant) (((uint32) (g)) >> 16))
#define TASK_GROUP_MASK(g)		((uint32) (g) & 0xFFFF)
#define DatumGetTaskGroup(d)	DatumGetInt32(d)
#define TaskGroupGetDatum(g)	Int32GetDatum(g)
#define PG_GETARG_TASK_GROUP(n) DatumGetTaskGroup(PG_GETARG_DATUM(n))

/* Does the group enable the task type of this ordinal? */
extern bool task_group_enables(TaskGroup group, int ordinal);

/* listener_group, a varlena */
typedef struct ListenerGroup
{
	int32		vl_len_;		/* varlena header (do not touch directly!) */
	uint8		variant;		/* an RcGroupVariant */
	uint8		reserved[3];	/* always zero */
	int32		nids;			/* number of listener ids */
	/* nids NUL-terminated ids, sorted */
	char		ids[FLEXIBLE_ARRAY_MEMBER];
} ListenerGroup;

#define DatumGetListenerGroupP(d)	((ListenerGroup *) PG_DETOAST_DATUM(d))
#define PG_GETARG_LISTENER_GROUP_P(n) DatumGetListenerGroupP(PG_GETARG_DATUM(n))

/* Does the group enable the listener with this id? */
extern bool listener_group_enables(const ListenerGroup *group, const char *id);

#endif							/* RC_GROUP_H */
