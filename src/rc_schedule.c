/*-------------------------------------------------------------------------
 *
 * rc_schedule.c
 *	  The BEFORE INSERT OR UPDATE trigger of role_cluster.schedule.
 *
 * The rules for a schedule's row (validate its timing, fill in next_due)
 * are role_cluster.schedule_fill(), in PL/pgSQL.  They need one fact that
 * PL/pgSQL cannot see: whether the UPDATE statement sets next_due itself.
 * A statement that changes the timing and sets next_due to the value it
 * already has (a provisioning script that writes every column, an operator
 * keeping an anchor) means to keep it; one that leaves next_due out means
 * to start the new timing from now.  Both give NEW.next_due = OLD.next_due.
 * This trigger reads the statement's updated columns and passes the answer
 * on.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "nodes/bitmapset.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/rel.h"

#include "rc_util.h"

PG_FUNCTION_INFO_V1(rc_schedule_before_write);

/*
 * role_cluster.schedule_before_write() → trigger
 *
 * Calls role_cluster.schedule_fill(inserting, new, old, next_due_given)
 * and returns the row it returns.
 */
Datum
rc_schedule_before_write(PG_FUNCTION_ARGS)
{
	static const char *const tables[] = {"schedule", NULL};
	TriggerData *trigdata;
	TupleDesc	desc;
	bool		inserting;
	HeapTuple	newtup;
	int			attnum;
	bool		given;
	Oid			argtypes[4];
	Oid			fill;
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fill_fcinfo, 4);
	Datum		result;
	HeapTupleHeader th;
	HeapTupleData tmptup;

	trigdata = rc_trigger_data(fcinfo, "schedule_before_write");
	rc_trigger_require_fired(TRIGGER_FIRED_BEFORE(trigdata->tg_event) &&
							 TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) &&
							 (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event) ||
							  TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)),
							 "schedule_before_write", "BEFORE INSERT OR UPDATE FOR EACH ROW");
	rc_trigger_require_table(trigdata, "schedule_before_write", tables,
							 "role_cluster.schedule");

	desc = RelationGetDescr(trigdata->tg_relation);
	inserting = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);
	newtup = inserting ? trigdata->tg_trigtuple : trigdata->tg_newtuple;
	attnum = SPI_fnumber(desc, "next_due");
	if (attnum <= 0)
		elog(ERROR, "role_cluster.schedule has no column next_due");
	given = inserting ||
		bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber,
					  trigdata->tg_updatedcols);

	argtypes[0] = BOOLOID;
	argtypes[1] = desc->tdtypeid;
	argtypes[2] = desc->tdtypeid;
	argtypes[3] = BOOLOID;
	fill = LookupFuncName(list_make2(makeString("role_cluster"),
									 makeString("schedule_fill")),
						  4, argtypes, false);
	fmgr_info(fill, &flinfo);
	InitFunctionCallInfoData(*fill_fcinfo, &flinfo, 4, InvalidOid, NULL, NULL);
	fill_fcinfo->args[0].value = BoolGetDatum(inserting);
	fill_fcinfo->args[0].isnull = false;
	fill_fcinfo->args[1].value = heap_copy_tuple_as_datum(newtup, desc);
	fill_fcinfo->args[1].isnull = false;
	fill_fcinfo->args[2].value = inserting ? (Datum) 0 :
		heap_copy_tuple_as_datum(trigdata->tg_trigtuple, desc);
	fill_fcinfo->args[2].isnull = inserting;
	fill_fcinfo->args[3].value = BoolGetDatum(given);
	fill_fcinfo->args[3].isnull = false;
	result = FunctionCallInvoke(fill_fcinfo);
	if (fill_fcinfo->isnull)
		elog(ERROR, "role_cluster.schedule_fill() returned NULL");

	/* the row it returned, as a tuple of the table */
	th = DatumGetHeapTupleHeader(result);
	tmptup.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tmptup.t_self);
	tmptup.t_tableOid = RelationGetRelid(trigdata->tg_relation);
	tmptup.t_data = th;
	return PointerGetDatum(heap_copytuple(&tmptup));
}
