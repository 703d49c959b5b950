/*-------------------------------------------------------------------------
 *
 * rc_type.c
 *	  The task_group and listener_group types (ClusterTaskGroup and
 *	  ClusterListenerGroup): text and binary I/O, equality, hashing,
 *	  containment, jsonb casts, accessors, and the task type list with the
 *	  enum-value-to-ordinal map that the other modules use.
 *
 * Text input takes three spellings of a value:
 *	- the seed's JSON:	{"@type": "EnableSome", "taskTypes": ["metricsPush"]}
 *	- the set form:		{"@type": "EnableSome",
 *						 "taskTypes": {"metricsPush": true}}
 *	  where entries whose value is false or null are dropped;
 *	- a short form:		EnableAll, DisableSome(metricsPush, searchIndexing),
 *	  whose items are bare tokens or JSON strings ("imap 1").
 * listener_group is the same with "listenerIds" and listener ids for task
 * types.  Key order and white space never matter.  JSON goes through
 * PostgreSQL's own parser (common/jsonapi.h) and the short form's quoted
 * items through its lexer.  Output is one canonical JSON text: task types in
 * ordinal order, listener ids in byte order, spaced as jsonb prints it, so
 * output read back gives the same value and equal values print the same.
 *
 * Input is strict.  SQLSTATE 22P02 (invalid_text_representation) reports
 * what is wrong with the form of the input: not JSON, wrong shape, a missing,
 * unknown or repeated key, a wrong-typed value, an unknown variant or task
 * type, a list where none belongs or none where one is due.  22023
 * (invalid_parameter_value) reports a well-formed entry whose value is not
 * allowed: a repeated entry, an empty, overlong or badly encoded listener
 * id, too many ids.  22P03 (invalid_binary_representation) reports binary
 * input that no text input could have produced.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/jsonapi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "rc_group.h"

/* Longest listener id, in bytes of the database encoding */
#define RC_MAX_LISTENER_ID_LEN	255

/* Most listener ids one listener_group may list */
#define RC_MAX_LISTENER_IDS		1024

/* Bytes of an offending value that an error message shows */
#define RC_SHOW_MAX				64

/* Bytes of the JSON parser's detail message that an error shows */
#define RC_SHOW_DETAIL_MAX		200

/* The bits of a task_group mask that name task types */
#define RC_TASK_MASK_ALL		((1U << RC_NUM_TASK_TYPES) - 1)

#define VARIANT_IS_SOME(v)		((v) == RC_ENABLE_SOME || (v) == RC_DISABLE_SOME)

const char *const rc_task_type_names[RC_NUM_TASK_TYPES] = {
	"storeMaintenance",
	"accountMaintenance",
	"metricsCalculate",
	"metricsPush",
	"pushNotifications",
	"searchIndexing",
	"spamClassifierTraining",
	"outboundMta",
	"taskQueueProcessing",
	"taskScheduler"
};

static const char *const rc_variant_names[RC_NUM_VARIANTS] = {
	"EnableAll",
	"DisableAll",
	"EnableSome",
	"DisableSome"
};

/* What differs between the two types' text forms */
typedef struct GroupKind
{
	const char *typname;		/* SQL type name, for messages */
	const char *payload_key;	/* "taskTypes" or "listenerIds" */
	const char *entry_noun;		/* "task type" or "listener id" */
	bool		is_task;		/* task_group (else listener_group) */
} GroupKind;

static const GroupKind task_kind = {"task_group", "taskTypes", "task type", true};
static const GroupKind listener_kind = {"listener_group", "listenerIds", "listener id", false};

/* One listener id of the input, and whether the input enables it */
typedef struct ListenerEntry
{
	char	   *id;
	bool		on;
} ListenerEntry;

/* A group value being read from text */
typedef struct GroupParse
{
	const GroupKind *kind;
	const char *input;			/* the whole input, for messages */
	int			inputlen;
	int			variant;		/* an RcGroupVariant, or -1 while unknown */
	bool		has_payload;	/* a list was given */
	uint32		mask;			/* task_group: task types listed as on */
	uint32		seen;			/* task_group: every task type named */
	ListenerEntry *entries;		/* listener_group: every id named */
	int			nentries;
	int			maxentries;
} GroupParse;

/* Where the JSON parser is, for the semantic actions */
typedef enum JsonGroupField
{
	FIELD_NONE,
	FIELD_TYPE,					/* inside the value of "@type" */
	FIELD_PAYLOAD				/* inside the value of the payload key */
} JsonGroupField;

typedef struct JsonGroupState
{
	GroupParse *p;
	int			depth;			/* objects and arrays open */
	JsonGroupField field;		/* top-level key whose value is being read */
	bool		seen_type;		/* "@type" was given */
	bool		seen_payload;	/* the payload key was given */
	bool		payload_is_set; /* the payload is an object (set form) */
	char	   *set_key;		/* set form: key whose value comes next */
} JsonGroupState;

/* Enum value OIDs of role_cluster.task_type, by ordinal, per backend */
static Oid	task_type_oids[RC_NUM_TASK_TYPES];
static Oid	task_type_typid = InvalidOid;
static bool task_type_oids_valid = false;
static uint64 task_type_inval_count = 0;

static void enum_syscache_callback(Datum arg, int cacheid, uint32 hashvalue);
static void syntax_error(GroupParse *p,
						 const char *detail) pg_attribute_noreturn();
static void json_bad_value(JsonGroupState *s,
						   const char *shown) pg_attribute_noreturn();

/*
 * Register the invalidation callback of the task type map.  Called once
 * per process from _PG_init.
 */
void
rc_type_init(void)
{
	CacheRegisterSyscacheCallback(ENUMOID, enum_syscache_callback, (Datum) 0);
}

/*
 * A pg_enum row changed: forget the task type map.  Only flips flags, so it
 * is safe wherever invalidations are processed.
 */
static void
enum_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	task_type_oids_valid = false;
	task_type_inval_count++;
}

/*
 * Fill the task type map from the enum type typid, one label at a time by
 * name, so that a C list that disagrees with the SQL enum is an error.
 */
static void
task_type_oids_load(Oid typid)
{
	for (;;)
	{
		uint64		before = task_type_inval_count;

		for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
		{
			Oid			oid;

			oid = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
								  ObjectIdGetDatum(typid),
								  CStringGetDatum(rc_task_type_names[i]));
			if (!OidIsValid(oid))
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("enum %s has no label \"%s\"",
								format_type_extended(typid, -1, FORMAT_TYPE_FORCE_QUALIFY),
								rc_task_type_names[i]),
						 errdetail("The task types compiled into role_cluster do not match the SQL enum."),
						 errhint("Reinstall the extension so that its library and SQL script match.")));
			task_type_oids[i] = oid;
		}
		task_type_typid = typid;
		/* An invalidation that arrived while loading may concern this map */
		if (before == task_type_inval_count)
			break;
	}
	task_type_oids_valid = true;
}

/*
 * Load the task type map from role_cluster.task_type unless it is loaded.
 */
static void
task_type_oids_ensure(void)
{
	Oid			nsp;
	Oid			typid;

	if (task_type_oids_valid)
		return;
	nsp = get_namespace_oid("role_cluster", false);
	typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
							CStringGetDatum("task_type"),
							ObjectIdGetDatum(nsp));
	if (!OidIsValid(typid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("type role_cluster.task_type does not exist"),
				 errhint("Reinstall the extension so that its library and SQL script match.")));
	task_type_oids_load(typid);
}

/*
 * rc_task_type_ordinal's slow path: look the value up in pg_enum, load the
 * map for its type and search again.
 */
static pg_noinline int
task_type_ordinal_slow(Oid enumval)
{
	HeapTuple	tup;
	Oid			typid;
	char	   *label;

	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(enumval));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for enum value %u", enumval);
	typid = ((Form_pg_enum) GETSTRUCT(tup))->enumtypid;
	label = pstrdup(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel));
	ReleaseSysCache(tup);

	task_type_oids_load(typid);
	for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
		if (task_type_oids[i] == enumval)
			return i;

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("task type \"%s\" is not known to the role_cluster library",
					label),
			 errdetail("The SQL enum %s has a label that the library's task type list lacks.",
					   format_type_be(typid)),
			 errhint("Reinstall the extension so that its library and SQL script match.")));
	return -1;					/* keep the compiler quiet */
}

/*
 * The ordinal (0..RC_NUM_TASK_TYPES-1) of a role_cluster.task_type value.
 *
 * Memoised per backend: once the map is loaded this does no catalog access.
 * Enum values created together usually have consecutive OIDs, so the first
 * probe mostly hits; otherwise ten compares.
 */
int
rc_task_type_ordinal(Oid enumval)
{
	if (likely(task_type_oids_valid))
	{
		uint32		guess = (uint32) (enumval - task_type_oids[0]);

		if (guess < RC_NUM_TASK_TYPES && task_type_oids[guess] == enumval)
			return (int) guess;
		for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
			if (task_type_oids[i] == enumval)
				return i;
	}
	return task_type_ordinal_slow(enumval);
}

/*
 * The role_cluster.task_type value (its pg_enum OID) of an ordinal
 * (0..RC_NUM_TASK_TYPES-1).  Memoised like rc_task_type_ordinal.
 */
Oid
rc_task_type_oid(int ordinal)
{
	if (ordinal < 0 || ordinal >= RC_NUM_TASK_TYPES)
		elog(ERROR, "task type ordinal %d out of range", ordinal);
	task_type_oids_ensure();
	return task_type_oids[ordinal];
}

/*
 * Does the task group enable the task type of this ordinal?
 */
bool
task_group_enables(TaskGroup group, int ordinal)
{
	bool		listed;

	if (ordinal < 0 || ordinal >= RC_NUM_TASK_TYPES)
		elog(ERROR, "task type ordinal %d out of range", ordinal);
	listed = (TASK_GROUP_MASK(group) & (1U << ordinal)) != 0;
	switch (TASK_GROUP_VARIANT(group))
	{
		case RC_ENABLE_ALL:
			return true;
		case RC_DISABLE_ALL:
			return false;
		case RC_ENABLE_SOME:
			return listed;
		case RC_DISABLE_SOME:
			return !listed;
	}
	elog(ERROR, "invalid task_group variant %d", (int) TASK_GROUP_VARIANT(group));
	return false;				/* keep the compiler quiet */
}

/*
 * Does the listener group list this id (in either *Some variant)?  The ids
 * are sorted, so the scan stops at the first id past the one looked for.
 */
static bool
listener_group_names(const ListenerGroup *group, const char *id)
{
	const char *p = group->ids;

	for (int i = 0; i < group->nids; i++)
	{
		int			cmp = strcmp(p, id);

		if (cmp == 0)
			return true;
		if (cmp > 0)
			return false;
		p += strlen(p) + 1;
	}
	return false;
}

/*
 * Does the listener group enable the listener with this id?
 */
bool
listener_group_enables(const ListenerGroup *group, const char *id)
{
	switch ((RcGroupVariant) group->variant)
	{
		case RC_ENABLE_ALL:
			return true;
		case RC_DISABLE_ALL:
			return false;
		case RC_ENABLE_SOME:
			return listener_group_names(group, id);
		case RC_DISABLE_SOME:
			return !listener_group_names(group, id);
	}
	elog(ERROR, "invalid listener_group variant %d", (int) group->variant);
	return false;				/* keep the compiler quiet */
}

/* ---------------------------------------------------------------------
 * Messages
 * ---------------------------------------------------------------------
 */

/*
 * The encoding listener ids must be valid in: the database's, or UTF-8 when
 * the database is SQL_ASCII (which would accept any byte soup).
 */
static int
id_encoding(void)
{
	int			enc = GetDatabaseEncoding();

	return enc == PG_SQL_ASCII ? PG_UTF8 : enc;
}

/*
 * A value fit for an error message: at most max bytes of it, cut at a
 * character boundary and ended with "..." when cut; control characters and
 * bytes that are no valid character are shown as \xNN.
 */
static char *
show_value_max(const char *s, int len, int max)
{
	StringInfoData buf;
	int			enc = id_encoding();
	int			i = 0;

	initStringInfo(&buf);
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		int			l;

		if (buf.len >= max)
		{
			appendStringInfoString(&buf, "...");
			break;
		}
		if (c < 0x20 || c == 0x7f)
		{
			appendStringInfo(&buf, "\\x%02x", c);
			i++;
			continue;
		}
		if (c < 0x80)
		{
			appendStringInfoChar(&buf, (char) c);
			i++;
			continue;
		}
		l = pg_encoding_verifymbchar(enc, s + i, len - i);
		if (l <= 0)
		{
			appendStringInfo(&buf, "\\x%02x", c);
			i++;
			continue;
		}
		appendBinaryStringInfo(&buf, s + i, l);
		i += l;
	}
	return buf.data;
}

/* show_value_max for an offending value */
static char *
show_value(const char *s, int len)
{
	return show_value_max(s, len, RC_SHOW_MAX);
}

/* show_value of a NUL-terminated string */
static char *
show_cstr(const char *s)
{
	return show_value(s, strlen(s));
}

/* The JSON parser's detail message for an error, fit for our message */
static char *
json_detail(JsonParseErrorType rc, JsonLexContext *lex)
{
	char	   *detail = json_errdetail(rc, lex);

	return show_value_max(detail, strlen(detail), RC_SHOW_DETAIL_MAX);
}

/* "Valid <what> are a, b, ... and z." */
static char *
names_hint(const char *what, const char *const *names, int n)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "Valid %s are ", what);
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, i == n - 1 ? " and " : ", ");
		appendStringInfoString(&buf, names[i]);
	}
	appendStringInfoChar(&buf, '.');
	return buf.data;
}

/* The hint naming the four variants */
static char *
variants_hint(void)
{
	return names_hint("variants", rc_variant_names, RC_NUM_VARIANTS);
}

/* The hint naming the ten task types */
char *
rc_task_types_hint(void)
{
	return names_hint("task types", rc_task_type_names, RC_NUM_TASK_TYPES);
}

/* Ordinal of the task type named name, or -1 when there is none */
int
rc_task_type_by_name(const char *name)
{
	for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
		if (strcmp(name, rc_task_type_names[i]) == 0)
			return i;
	return -1;
}

/* The hint that shows what input looks like */
static char *
syntax_hint(const GroupKind *kind)
{
	if (kind->is_task)
		return pstrdup("Write JSON such as {\"@type\": \"EnableSome\", \"taskTypes\": [\"metricsPush\"]} "
					   "or a short form such as EnableAll, DisableAll or EnableSome(metricsPush, searchIndexing).");
	return pstrdup("Write JSON such as {\"@type\": \"EnableSome\", \"listenerIds\": [\"imap\"]} "
				   "or a short form such as EnableAll, DisableAll or EnableSome(imap, smtp).");
}

/* The hint about which variants carry a list */
static char *
payload_hint(const GroupKind *kind)
{
	return psprintf("Only EnableSome and DisableSome carry a list of %ss (\"%s\"), which may be empty.",
					kind->entry_noun, kind->payload_key);
}

/*
 * Report input whose form is wrong, showing the whole input and a detail
 * sentence.
 */
static void
syntax_error(GroupParse *p, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: \"%s\"",
					p->kind->typname, show_value(p->input, p->inputlen)),
			 errdetail_internal("%s", detail),
			 errhint("%s", syntax_hint(p->kind))));
}

/* ---------------------------------------------------------------------
 * Reading a group: what the JSON and the short form share
 * ---------------------------------------------------------------------
 */

/*
 * Set the variant from its name.
 */
static void
group_set_variant(GroupParse *p, const char *name)
{
	for (int i = 0; i < RC_NUM_VARIANTS; i++)
	{
		if (strcmp(name, rc_variant_names[i]) == 0)
		{
			p->variant = i;
			return;
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid %s variant \"%s\"", p->kind->typname, show_cstr(name)),
			 errhint("%s", variants_hint())));
}

/*
 * Check a listener id of len bytes that should be valid in encoding enc:
 * non-empty, not too long (only in the database encoding, which the limit
 * counts bytes of: sized says that enc is it), valid characters and no
 * control characters.  what says where it comes from, for the message (""
 * or " in binary input").
 */
static void
check_listener_id(const char *id, int len, int enc, bool sized, const char *what)
{
	const char *problem = NULL;

	if (len == 0)
		problem = _("A listener id must not be empty.");
	else if (sized && len > RC_MAX_LISTENER_ID_LEN)
		problem = psprintf(_("A listener id is at most %d bytes long; this one has %d."),
						   RC_MAX_LISTENER_ID_LEN, len);
	else if (!pg_verify_mbstr(enc, id, len, true))
		problem = psprintf(_("The id is not valid %s."), pg_encoding_to_char(enc));
	else
	{
		for (int i = 0; i < len; i++)
		{
			unsigned char c = (unsigned char) id[i];

			if (c < 0x20 || c == 0x7f)
			{
				problem = _("A listener id must not contain control characters.");
				break;
			}
		}
	}
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid listener id \"%s\"%s", show_value(id, len), what),
				 errdetail_internal("%s", problem),
				 errhint("A listener id is 1 to %d bytes of printable characters.",
						 RC_MAX_LISTENER_ID_LEN)));
}

/*
 * Record one entry of the list: a task type or listener id, listed as on
 * (the array form, the short form, true in the set form) or off (false or
 * null in the set form, which still counts for duplicates).
 */
static void
group_add_entry(GroupParse *p, char *value, bool on)
{
	if (p->kind->is_task)
	{
		int			ord = rc_task_type_by_name(value);

		if (ord < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid task type \"%s\"", show_cstr(value)),
					 errhint("%s", rc_task_types_hint())));
		if (p->seen & (1U << ord))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("duplicate task type \"%s\" in %s input",
							value, p->kind->typname),
					 errhint("Name each task type at most once.")));
		p->seen |= 1U << ord;
		if (on)
			p->mask |= 1U << ord;
		return;
	}

	check_listener_id(value, strlen(value), id_encoding(), true, "");
	if (p->nentries >= RC_MAX_LISTENER_IDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many listener ids in listener_group input: more than %d",
						RC_MAX_LISTENER_IDS),
				 errhint("A listener_group lists at most %d listener ids.",
						 RC_MAX_LISTENER_IDS)));
	if (p->nentries >= p->maxentries)
	{
		p->maxentries = p->maxentries ? p->maxentries * 2 : 8;
		if (p->entries)
			p->entries = repalloc(p->entries, p->maxentries * sizeof(ListenerEntry));
		else
			p->entries = palloc(p->maxentries * sizeof(ListenerEntry));
	}
	p->entries[p->nentries].id = value;
	p->entries[p->nentries].on = on;
	p->nentries++;
}

/* qsort comparator of ListenerEntry by id, in byte order */
static int
listener_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const ListenerEntry *) a)->id, ((const ListenerEntry *) b)->id);
}

/*
 * Check that the variant and the presence of a list agree, and for
 * listener_group sort the ids and reject duplicates.
 */
static void
group_parse_finish(GroupParse *p)
{
	const char *vname = rc_variant_names[p->variant];

	if (VARIANT_IS_SOME(p->variant) && !p->has_payload)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("variant %s of %s needs a list of %ss",
						vname, p->kind->typname, p->kind->entry_noun),
				 errhint("%s", payload_hint(p->kind))));
	if (!VARIANT_IS_SOME(p->variant) && p->has_payload)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("variant %s of %s takes no list of %ss",
						vname, p->kind->typname, p->kind->entry_noun),
				 errhint("%s", payload_hint(p->kind))));

	if (!p->kind->is_task && p->nentries > 1)
	{
		qsort(p->entries, p->nentries, sizeof(ListenerEntry), listener_entry_cmp);
		for (int i = 1; i < p->nentries; i++)
			if (strcmp(p->entries[i - 1].id, p->entries[i].id) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("duplicate listener id \"%s\" in listener_group input",
								show_cstr(p->entries[i].id)),
						 errhint("Name each listener id at most once.")));
	}
}

/* ---------------------------------------------------------------------
 * Reading the JSON forms
 * ---------------------------------------------------------------------
 */

/*
 * Report a JSON value of the wrong kind where the state is, shown as
 * given (a token, or [...] or {...} for a structure).
 */
static void
json_bad_value(JsonGroupState *s, const char *shown)
{
	GroupParse *p = s->p;
	const GroupKind *k = p->kind;

	if (s->depth == 0)
		syntax_error(p, "The input must be a JSON object with an \"@type\" key, "
					 "or a short form such as EnableAll.");
	if (s->depth == 1 && s->field == FIELD_TYPE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid value for \"@type\" in %s input: %s",
						k->typname, shown),
				 errdetail("The value of \"@type\" must be a string naming the variant."),
				 errhint("%s", variants_hint())));
	if (s->depth == 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid value for \"%s\" in %s input: %s",
						k->payload_key, k->typname, shown),
				 errdetail("The value of \"%s\" must be an array of %ss or an object that maps %ss to true or false.",
						   k->payload_key, k->entry_noun, k->entry_noun),
				 errhint("%s", syntax_hint(k))));
	if (!s->payload_is_set)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid entry in \"%s\" in %s input: %s",
						k->payload_key, k->typname, shown),
				 errdetail("The entries of \"%s\" must be strings.", k->payload_key),
				 errhint("%s", syntax_hint(k))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid value for \"%s\" in \"%s\" in %s input: %s",
					show_cstr(s->set_key), k->payload_key, k->typname, shown),
			 errdetail("In the object form of \"%s\", each value must be true, false or null.",
					   k->payload_key),
			 errhint("%s", syntax_hint(k))));
}

/* JSON semantic action: an object starts */
static void
json_object_start(void *state)
{
	JsonGroupState *s = (JsonGroupState *) state;

	if (s->depth == 0)
	{
		s->depth = 1;
		return;
	}
	if (s->depth == 1 && s->field == FIELD_PAYLOAD)
	{
		s->payload_is_set = true;
		s->p->has_payload = true;
		s->depth = 2;
		return;
	}
	json_bad_value(s, "{...}");
}

/* JSON semantic action: an array starts */
static void
json_array_start(void *state)
{
	JsonGroupState *s = (JsonGroupState *) state;

	if (s->depth == 1 && s->field == FIELD_PAYLOAD)
	{
		s->payload_is_set = false;
		s->p->has_payload = true;
		s->depth = 2;
		return;
	}
	json_bad_value(s, "[...]");
}

/* JSON semantic action: an object or array ends */
static void
json_struct_end(void *state)
{
	JsonGroupState *s = (JsonGroupState *) state;

	s->depth--;
}

/* JSON semantic action: a key of an object */
static void
json_field_start(void *state, char *fname, bool isnull)
{
	JsonGroupState *s = (JsonGroupState *) state;
	const GroupKind *k = s->p->kind;

	if (s->depth == 2)
	{
		/* the set form: the key is an entry, its value comes next */
		s->set_key = fname;
		return;
	}

	if (strcmp(fname, "@type") == 0)
	{
		if (s->seen_type)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("duplicate key \"@type\" in %s input", k->typname),
					 errhint("Give each key once.")));
		s->seen_type = true;
		s->field = FIELD_TYPE;
	}
	else if (strcmp(fname, k->payload_key) == 0)
	{
		if (s->seen_payload)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("duplicate key \"%s\" in %s input", k->payload_key, k->typname),
					 errhint("Give each key once.")));
		s->seen_payload = true;
		s->field = FIELD_PAYLOAD;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("unexpected key \"%s\" in %s input", show_cstr(fname), k->typname),
				 errhint("Valid keys are \"@type\" and \"%s\".", k->payload_key)));
}

/* JSON semantic action: the value of a key was read */
static void
json_field_end(void *state, char *fname, bool isnull)
{
	JsonGroupState *s = (JsonGroupState *) state;

	if (s->depth == 1)
		s->field = FIELD_NONE;
}

/* JSON semantic action: a scalar */
static void
json_scalar(void *state, char *token, JsonTokenType tokentype)
{
	JsonGroupState *s = (JsonGroupState *) state;
	char	   *shown;

	if (tokentype == JSON_TOKEN_STRING)
	{
		if (s->depth == 1 && s->field == FIELD_TYPE)
		{
			group_set_variant(s->p, token);
			return;
		}
		if (s->depth == 2 && !s->payload_is_set)
		{
			group_add_entry(s->p, token, true);
			return;
		}
		shown = psprintf("\"%s\"", show_cstr(token));
	}
	else
	{
		if (s->depth == 2 && s->payload_is_set)
		{
			if (tokentype == JSON_TOKEN_TRUE)
			{
				group_add_entry(s->p, s->set_key, true);
				return;
			}
			if (tokentype == JSON_TOKEN_FALSE || tokentype == JSON_TOKEN_NULL)
			{
				group_add_entry(s->p, s->set_key, false);
				return;
			}
		}
		shown = show_cstr(token);
	}
	json_bad_value(s, shown);
}

/*
 * Read the JSON forms with PostgreSQL's JSON parser.  The semantic actions
 * reject any structure deeper than the payload when it starts, so deep
 * nesting never recurses far.
 */
static void
group_parse_json(GroupParse *p, char *json, int len)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	JsonGroupState state;
	JsonParseErrorType rc;

	memset(&state, 0, sizeof(state));
	state.p = p;
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &state;
	sem.object_start = json_object_start;
	sem.object_end = json_struct_end;
	sem.array_start = json_array_start;
	sem.array_end = json_struct_end;
	sem.object_field_start = json_field_start;
	sem.object_field_end = json_field_end;
	sem.scalar = json_scalar;

	lex = makeJsonLexContextCstringLen(json, len, GetDatabaseEncoding(), true);
	rc = pg_parse_json(lex, &sem);
	if (rc != JSON_SUCCESS)
		syntax_error(p, json_detail(rc, lex));
	if (!state.seen_type)
		syntax_error(p, "The object has no \"@type\" key.");
}

/* ---------------------------------------------------------------------
 * Reading the short form
 * ---------------------------------------------------------------------
 */

/* White space of the short form */
static inline bool
short_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* May c be part of a bare token of the short form? */
static inline bool
short_isbare(char c)
{
	return c != '\0' && !short_isspace(c) && c != '(' && c != ')' && c != ',' && c != '"';
}

/* Skip white space */
static const char *
short_skip_space(const char *s)
{
	while (short_isspace(*s))
		s++;
	return s;
}

/*
 * Read one list item of the short form at *sp: a bare token, or a JSON
 * string read by PostgreSQL's JSON lexer.  Advances *sp past it.
 */
static char *
short_read_item(GroupParse *p, const char **sp)
{
	const char *s = *sp;
	const char *start = s;

	if (*s == '"')
	{
		JsonLexContext *lex;
		JsonParseErrorType rc;

		lex = makeJsonLexContextCstringLen((char *) s,
										   p->inputlen - (s - p->input),
										   GetDatabaseEncoding(), true);
		rc = json_lex(lex);
		if (rc != JSON_SUCCESS)
			syntax_error(p, json_detail(rc, lex));
		if (lex->token_type != JSON_TOKEN_STRING)
			elog(ERROR, "JSON lexer read no string at a double quote");
		*sp = lex->token_terminator;
		return pstrdup(lex->strval->data);
	}

	while (short_isbare(*s))
		s++;
	if (s == start)
		syntax_error(p, *s ? psprintf("Expected a %s at \"%s\".", p->kind->entry_noun, show_cstr(s))
					 : psprintf("Expected a %s at the end of the input.", p->kind->entry_noun));
	*sp = s;
	return pnstrdup(start, s - start);
}

/*
 * Read the short form: a variant name, then for the *Some variants a
 * parenthesised list, possibly empty, of comma-separated items.
 */
static void
group_parse_short(GroupParse *p, const char *s)
{
	const char *start = s;

	while (short_isbare(*s))
		s++;
	if (s == start)
		syntax_error(p, "Expected a variant name or a JSON object.");
	group_set_variant(p, pnstrdup(start, s - start));
	s = short_skip_space(s);
	if (*s == '\0')
		return;
	if (*s != '(')
		syntax_error(p, psprintf("Unexpected \"%s\" after the variant name.", show_cstr(s)));
	p->has_payload = true;
	s = short_skip_space(s + 1);
	if (*s == ')')
		s++;
	else
	{
		for (;;)
		{
			group_add_entry(p, short_read_item(p, &s), true);
			s = short_skip_space(s);
			if (*s == ',')
			{
				s = short_skip_space(s + 1);
				continue;
			}
			if (*s == ')')
			{
				s++;
				break;
			}
			syntax_error(p, *s ? psprintf("Expected \",\" or \")\" at \"%s\".", show_cstr(s))
						 : pstrdup("The list has no closing \")\"."));
		}
	}
	s = short_skip_space(s);
	if (*s != '\0')
		syntax_error(p, psprintf("Unexpected \"%s\" after the list.", show_cstr(s)));
}

/*
 * Read a group of either kind from text: JSON when it starts like a JSON
 * object, array or string (only an object is valid), else the short form.
 */
static void
group_parse(GroupParse *p, const GroupKind *kind, char *input)
{
	char	   *s;
	int			len;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->input = input;
	p->inputlen = strlen(input);
	p->variant = -1;

	s = (char *) short_skip_space(input);
	len = p->inputlen - (s - input);
	while (len > 0 && short_isspace(s[len - 1]))
		len--;
	if (len == 0)
		syntax_error(p, "The input is empty.");

	if (*s == '{' || *s == '[' || *s == '"')
		group_parse_json(p, s, len);
	else
		group_parse_short(p, s);
	group_parse_finish(p);
}

/* ---------------------------------------------------------------------
 * task_group
 * ---------------------------------------------------------------------
 */

/* Read a task_group from text */
static TaskGroup
task_group_from_cstring(char *input)
{
	GroupParse	p;

	group_parse(&p, &task_kind, input);
	return TASK_GROUP_MAKE(p.variant, VARIANT_IS_SOME(p.variant) ? p.mask : 0);
}

/* The canonical text of a task_group */
static char *
task_group_to_cstring(TaskGroup g)
{
	RcGroupVariant v = TASK_GROUP_VARIANT(g);
	StringInfoData buf;

	if ((int) v >= RC_NUM_VARIANTS)
		elog(ERROR, "invalid task_group variant %d", (int) v);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"@type\": ");
	escape_json(&buf, rc_variant_names[v]);
	if (VARIANT_IS_SOME(v))
	{
		bool		first = true;

		appendStringInfoString(&buf, ", \"taskTypes\": [");
		for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
		{
			if (!(TASK_GROUP_MASK(g) & (1U << i)))
				continue;
			if (!first)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, rc_task_type_names[i]);
			first = false;
		}
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

PG_FUNCTION_INFO_V1(task_group_in);
/* Text input of task_group */
Datum
task_group_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_DATUM(TaskGroupGetDatum(task_group_from_cstring(PG_GETARG_CSTRING(0))));
}

PG_FUNCTION_INFO_V1(task_group_out);
/* Text output of task_group: the canonical JSON */
Datum
task_group_out(PG_FUNCTION_ARGS)
{
	PG_RETURN_CSTRING(task_group_to_cstring(PG_GETARG_TASK_GROUP(0)));
}

/*
 * Binary form of task_group (task_group_send / task_group_recv):
 *	 int8	variant (0 EnableAll, 1 DisableAll, 2 EnableSome, 3 DisableSome)
 *	 int16	mask: bit i = the task type of ordinal i listed; zero unless the
 *			variant is EnableSome or DisableSome; bits 10..15 always zero
 */
PG_FUNCTION_INFO_V1(task_group_recv);
/* Binary input of task_group, checked as strictly as text input */
Datum
task_group_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			variant = pq_getmsgbyte(buf);
	uint32		mask = pq_getmsgint(buf, 2);

	if (variant < 0 || variant >= RC_NUM_VARIANTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid task_group variant %d in binary input", variant),
				 errhint("Variants are 0 to %d.", RC_NUM_VARIANTS - 1)));
	if (mask & ~RC_TASK_MASK_ALL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid task_group mask 0x%04x in binary input", mask),
				 errdetail("Only the low %d bits name task types.", RC_NUM_TASK_TYPES)));
	if (mask != 0 && !VARIANT_IS_SOME(variant))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("task_group variant %s carries no task types, but the binary input has mask 0x%04x",
						rc_variant_names[variant], mask)));
	PG_RETURN_DATUM(TaskGroupGetDatum(TASK_GROUP_MAKE(variant, mask)));
}

PG_FUNCTION_INFO_V1(task_group_send);
/* Binary output of task_group */
Datum
task_group_send(PG_FUNCTION_ARGS)
{
	TaskGroup	g = PG_GETARG_TASK_GROUP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, (uint8) TASK_GROUP_VARIANT(g));
	pq_sendint16(&buf, (uint16) TASK_GROUP_MASK(g));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------
 * listener_group
 * ---------------------------------------------------------------------
 */

/* Build a listener_group from ids that are sorted and unique */
static ListenerGroup *
listener_group_build(int variant, char **ids, int nids)
{
	Size		size = offsetof(ListenerGroup, ids);
	ListenerGroup *g;
	char	   *p;

	for (int i = 0; i < nids; i++)
		size += strlen(ids[i]) + 1;
	g = (ListenerGroup *) palloc0(size);
	SET_VARSIZE(g, size);
	g->variant = (uint8) variant;
	g->nids = nids;
	p = g->ids;
	for (int i = 0; i < nids; i++)
	{
		Size		l = strlen(ids[i]) + 1;

		memcpy(p, ids[i], l);
		p += l;
	}
	return g;
}

/* Read a listener_group from text */
static ListenerGroup *
listener_group_from_cstring(char *input)
{
	GroupParse	p;
	char	  **ids;
	int			nids = 0;

	group_parse(&p, &listener_kind, input);
	ids = palloc(sizeof(char *) * (p.nentries + 1));
	for (int i = 0; i < p.nentries; i++)
		if (p.entries[i].on)
			ids[nids++] = p.entries[i].id;
	return listener_group_build(p.variant, ids, nids);
}

/* The canonical text of a listener_group */
static char *
listener_group_to_cstring(const ListenerGroup *g)
{
	StringInfoData buf;

	if (g->variant >= RC_NUM_VARIANTS)
		elog(ERROR, "invalid listener_group variant %d", (int) g->variant);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"@type\": ");
	escape_json(&buf, rc_variant_names[g->variant]);
	if (VARIANT_IS_SOME(g->variant))
	{
		const char *p = g->ids;

		appendStringInfoString(&buf, ", \"listenerIds\": [");
		for (int i = 0; i < g->nids; i++)
		{
			if (i > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, p);
			p += strlen(p) + 1;
		}
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

PG_FUNCTION_INFO_V1(listener_group_in);
/* Text input of listener_group */
Datum
listener_group_in(PG_FUNCTION_ARGS)
{
	PG_RETURN_POINTER(listener_group_from_cstring(PG_GETARG_CSTRING(0)));
}

PG_FUNCTION_INFO_V1(listener_group_out);
/* Text output of listener_group: the canonical JSON */
Datum
listener_group_out(PG_FUNCTION_ARGS)
{
	ListenerGroup *g = PG_GETARG_LISTENER_GROUP_P(0);
	char	   *s = listener_group_to_cstring(g);

	PG_FREE_IF_COPY(g, 0);
	PG_RETURN_CSTRING(s);
}

/*
 * Binary form of listener_group (listener_group_send / listener_group_recv):
 *	 int8	variant (0 EnableAll, 1 DisableAll, 2 EnableSome, 3 DisableSome)
 *	 int32	count of listener ids (zero unless EnableSome or DisableSome;
 *			at most RC_MAX_LISTENER_IDS)
 *	 count times: int32 byte length, then the id in the client encoding
 *			(pq_sendcountedtext), unique; send writes them in ascending
 *			byte order of its server encoding, recv takes any order
 */
/* qsort comparator of C strings (char *), in byte order */
static int
cstring_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

PG_FUNCTION_INFO_V1(listener_group_recv);
/* Binary input of listener_group, checked as strictly as text input */
Datum
listener_group_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			variant = pq_getmsgbyte(buf);
	int32		nids = (int32) pq_getmsgint(buf, 4);
	int			clientenc = pg_get_client_encoding();
	char	  **ids;

	if (variant < 0 || variant >= RC_NUM_VARIANTS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid listener_group variant %d in binary input", variant),
				 errhint("Variants are 0 to %d.", RC_NUM_VARIANTS - 1)));
	if (nids < 0 || nids > RC_MAX_LISTENER_IDS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid listener id count %d in binary input", nids),
				 errhint("A listener_group lists at most %d listener ids.",
						 RC_MAX_LISTENER_IDS)));
	if (nids != 0 && !VARIANT_IS_SOME(variant))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("listener_group variant %s carries no listener ids, but the binary input has %d",
						rc_variant_names[variant], nids)));

	ids = palloc(sizeof(char *) * (nids + 1));
	for (int i = 0; i < nids; i++)
	{
		int32		len = (int32) pq_getmsgint(buf, 4);
		int			nbytes;

		if (len < 0 || len > buf->len - buf->cursor)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid listener id length %d in binary input", len)));

		/*
		 * Check the raw bytes first, in the encoding they are in, so that a
		 * bad id gets this message rather than the conversion's; its length
		 * counts once converted (a LATIN1 "é" is two bytes in UTF8).
		 */
		check_listener_id(&buf->data[buf->cursor], len,
						  clientenc == PG_SQL_ASCII ? id_encoding() : clientenc,
						  false, " in binary input");
		ids[i] = pq_getmsgtext(buf, len, &nbytes);
		check_listener_id(ids[i], nbytes, id_encoding(), true, " in binary input");
	}

	/*
	 * Sorted here rather than required sorted: the sender sorted them in
	 * its own server encoding, whose byte order another encoding does not
	 * keep (WIN1251 puts "ё" before "а", UTF-8 after), so a binary COPY or
	 * replication between databases of different encodings would refuse
	 * them.
	 */
	qsort(ids, nids, sizeof(char *), cstring_ptr_cmp);
	for (int i = 1; i < nids; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("duplicate listener id \"%s\" in binary input",
							show_cstr(ids[i]))));
	PG_RETURN_POINTER(listener_group_build(variant, ids, nids));
}

PG_FUNCTION_INFO_V1(listener_group_send);
/* Binary output of listener_group */
Datum
listener_group_send(PG_FUNCTION_ARGS)
{
	ListenerGroup *g = PG_GETARG_LISTENER_GROUP_P(0);
	StringInfoData buf;
	const char *p = g->ids;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, g->variant);
	pq_sendint32(&buf, g->nids);
	for (int i = 0; i < g->nids; i++)
	{
		int			l = strlen(p);

		pq_sendcountedtext(&buf, p, l, false);
		p += l + 1;
	}
	PG_FREE_IF_COPY(g, 0);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------------
 * Equality, hashing and containment
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(task_group_eq);
/* task_group = task_group */
Datum
task_group_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_TASK_GROUP(0) == PG_GETARG_TASK_GROUP(1));
}

PG_FUNCTION_INFO_V1(task_group_ne);
/* task_group <> task_group */
Datum
task_group_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(PG_GETARG_TASK_GROUP(0) != PG_GETARG_TASK_GROUP(1));
}

PG_FUNCTION_INFO_V1(task_group_hash);
/* Hash of a task_group, for the hash operator class */
Datum
task_group_hash(PG_FUNCTION_ARGS)
{
	return hash_uint32((uint32) PG_GETARG_TASK_GROUP(0));
}

PG_FUNCTION_INFO_V1(task_group_hash_extended);
/* Seeded 64-bit hash of a task_group, for the hash operator class */
Datum
task_group_hash_extended(PG_FUNCTION_ARGS)
{
	return hash_uint32_extended((uint32) PG_GETARG_TASK_GROUP(0),
								(uint64) PG_GETARG_INT64(1));
}

/*
 * Are two listener groups equal?  Their forms are canonical (sorted ids,
 * zeroed padding), so equal groups are equal byte for byte.
 */
static bool
listener_group_equal(const ListenerGroup *a, const ListenerGroup *b)
{
	return VARSIZE(a) == VARSIZE(b) &&
		memcmp(VARDATA(a), VARDATA(b), VARSIZE(a) - VARHDRSZ) == 0;
}

PG_FUNCTION_INFO_V1(listener_group_eq);
/* listener_group = listener_group */
Datum
listener_group_eq(PG_FUNCTION_ARGS)
{
	ListenerGroup *a = PG_GETARG_LISTENER_GROUP_P(0);
	ListenerGroup *b = PG_GETARG_LISTENER_GROUP_P(1);
	bool		result = listener_group_equal(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_BOOL(result);
}

PG_FUNCTION_INFO_V1(listener_group_ne);
/* listener_group <> listener_group */
Datum
listener_group_ne(PG_FUNCTION_ARGS)
{
	ListenerGroup *a = PG_GETARG_LISTENER_GROUP_P(0);
	ListenerGroup *b = PG_GETARG_LISTENER_GROUP_P(1);
	bool		result = !listener_group_equal(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_BOOL(result);
}

PG_FUNCTION_INFO_V1(listener_group_hash);
/* Hash of a listener_group, for the hash operator class */
Datum
listener_group_hash(PG_FUNCTION_ARGS)
{
	ListenerGroup *g = PG_GETARG_LISTENER_GROUP_P(0);
	Datum		result;

	result = hash_any((unsigned char *) VARDATA(g), VARSIZE(g) - VARHDRSZ);
	PG_FREE_IF_COPY(g, 0);
	return result;
}

PG_FUNCTION_INFO_V1(listener_group_hash_extended);
/* Seeded 64-bit hash of a listener_group, for the hash operator class */
Datum
listener_group_hash_extended(PG_FUNCTION_ARGS)
{
	ListenerGroup *g = PG_GETARG_LISTENER_GROUP_P(0);
	Datum		result;

	result = hash_any_extended((unsigned char *) VARDATA(g), VARSIZE(g) - VARHDRSZ,
							   (uint64) PG_GETARG_INT64(1));
	PG_FREE_IF_COPY(g, 0);
	return result;
}

PG_FUNCTION_INFO_V1(task_group_contains);
/* task_group @> task_type: does the group enable the task type? */
Datum
task_group_contains(PG_FUNCTION_ARGS)
{
	TaskGroup	g = PG_GETARG_TASK_GROUP(0);

	PG_RETURN_BOOL(task_group_enables(g, rc_task_type_ordinal(PG_GETARG_OID(1))));
}

PG_FUNCTION_INFO_V1(listener_group_contains);
/* listener_group @> text: does the group enable the listener? */
Datum
listener_group_contains(PG_FUNCTION_ARGS)
{
	ListenerGroup *g = PG_GETARG_LISTENER_GROUP_P(0);
	char	   *id = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		result = listener_group_enables(g, id);

	PG_FREE_IF_COPY(g, 0);
	PG_RETURN_BOOL(result);
}

/* ---------------------------------------------------------------------
 * Casts and accessors
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(task_group_to_jsonb);
/* task_group::jsonb, the canonical JSON */
Datum
task_group_to_jsonb(PG_FUNCTION_ARGS)
{
	char	   *s = task_group_to_cstring(PG_GETARG_TASK_GROUP(0));

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
}

/*
 * Raises for a JSON null cast to a group type, as PostgreSQL's casts from
 * jsonb do: read as text, it would pass for a group named "null".
 */
static void
group_reject_json_null(Jsonb *jb, const char *type_name)
{
	JsonbValue	v;

	if (JB_ROOT_IS_SCALAR(jb) && JsonbExtractScalar(&jb->root, &v) && v.type == jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot cast jsonb null to type %s", type_name),
				 errhint("A group is a JSON object such as {\"@type\": \"EnableAll\"}.")));
}

PG_FUNCTION_INFO_V1(jsonb_to_task_group);
/* jsonb::task_group, read through the text input */
Datum
jsonb_to_task_group(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	char	   *s;

	group_reject_json_null(jb, "task_group");
	s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

	PG_RETURN_DATUM(TaskGroupGetDatum(task_group_from_cstring(s)));
}

PG_FUNCTION_INFO_V1(listener_group_to_jsonb);
/* listener_group::jsonb, the canonical JSON */
Datum
listener_group_to_jsonb(PG_FUNCTION_ARGS)
{
	ListenerGroup *g = PG_GETARG_LISTENER_GROUP_P(0);
	char	   *s = listener_group_to_cstring(g);

	PG_FREE_IF_COPY(g, 0);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
}

PG_FUNCTION_INFO_V1(jsonb_to_listener_group);
/* jsonb::listener_group, read through the text input */
Datum
jsonb_to_listener_group(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	char	   *s;

	group_reject_json_null(jb, "listener_group");
	s = JsonbToCString(NULL, &jb->root, VARSIZE(jb));

	PG_RETURN_POINTER(listener_group_from_cstring(s));
}

PG_FUNCTION_INFO_V1(task_group_variant);
/* The variant of a task_group, by name */
Datum
task_group_variant(PG_FUNCTION_ARGS)
{
	RcGroupVariant v = TASK_GROUP_VARIANT(PG_GETARG_TASK_GROUP(0));

	if ((int) v >= RC_NUM_VARIANTS)
		elog(ERROR, "invalid task_group variant %d", (int) v);
	PG_RETURN_TEXT_P(cstring_to_text(rc_variant_names[v]));
}

PG_FUNCTION_INFO_V1(task_group_task_types);
/*
 * The task types a task_group lists, in ordinal order, as a task_type[]:
 * those enabled by EnableSome, those disabled by DisableSome, none for
 * EnableAll and DisableAll.
 */
Datum
task_group_task_types(PG_FUNCTION_ARGS)
{
	TaskGroup	g = PG_GETARG_TASK_GROUP(0);
	Datum		elems[RC_NUM_TASK_TYPES];
	int			n = 0;

	task_type_oids_ensure();
	for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
		if (TASK_GROUP_MASK(g) & (1U << i))
			elems[n++] = ObjectIdGetDatum(task_type_oids[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, task_type_typid,
										  sizeof(Oid), true, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(listener_group_variant);
/* The variant of a listener_group, by name */
Datum
listener_group_variant(PG_FUNCTION_ARGS)
{
	ListenerGroup *g = PG_GETARG_LISTENER_GROUP_P(0);
	int			v = g->variant;

	PG_FREE_IF_COPY(g, 0);
	if (v >= RC_NUM_VARIANTS)
		elog(ERROR, "invalid listener_group variant %d", v);
	PG_RETURN_TEXT_P(cstring_to_text(rc_variant_names[v]));
}

PG_FUNCTION_INFO_V1(listener_group_ids);
/*
 * The listener ids a listener_group lists, in byte order, as a text[]:
 * empty for EnableAll and DisableAll.
 */
Datum
listener_group_ids(PG_FUNCTION_ARGS)
{
	ListenerGroup *g = PG_GETARG_LISTENER_GROUP_P(0);
	Datum	   *elems = palloc(sizeof(Datum) * (g->nids + 1));
	const char *p = g->ids;

	for (int i = 0; i < g->nids; i++)
	{
		elems[i] = PointerGetDatum(cstring_to_text(p));
		p += strlen(p) + 1;
	}
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, g->nids, TEXTOID,
										  -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(task_type_labels);
/* The C list of task types, to check against the SQL enum */
Datum
task_type_labels(PG_FUNCTION_ARGS)
{
	Datum		elems[RC_NUM_TASK_TYPES];

	for (int i = 0; i < RC_NUM_TASK_TYPES; i++)
		elems[i] = PointerGetDatum(cstring_to_text(rc_task_type_names[i]));
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, RC_NUM_TASK_TYPES, TEXTOID,
										  -1, false, TYPALIGN_INT));
}
