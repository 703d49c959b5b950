/*-------------------------------------------------------------------------
 *
 * runner.h
 *	  Handler processes of the node agent: one child per task, signals, and
 *	  the poll loop that serves both the children and the server socket.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_NODE_RUNNER_H
#define RC_NODE_RUNNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A task as fetched from the server; every string is malloc'd */
typedef struct NodeTask
{
	char	   *id;				/* bigint, as text */
	char	   *task_type;
	char	   *kind;
	char	   *shard_key;		/* NULL when the task has none */
	char	   *attempt;
	/* to_jsonb of the task row, the handler's stdin */
	char	   *json;
} NodeTask;

typedef enum SlotState
{
	SLOT_FREE,
	SLOT_RUNNING,				/* the handler has not been reaped yet */
	SLOT_DONE					/* reaped; the result waits to be reported */
} SlotState;

/* What a finished handler produced */
typedef enum SlotOutcome
{
	OUTCOME_OK,					/* exit status 0: complete the task */
	OUTCOME_FAILED,				/* non-zero exit or killed: fail the task */
	OUTCOME_KILLED,				/* killed by the agent: handed back */
	OUTCOME_SUPERSEDED			/* its task was given to the node again:
								 * the result is not this run's to report */
} SlotOutcome;

typedef struct RunnerSlot RunnerSlot;
typedef struct Runner Runner;

extern void runner_init_signals(void);
extern int	runner_stop_requests(void);

extern Runner *runner_create(int nslots, const char *cmd, const char *node_id);
extern void runner_destroy(Runner *r);
extern int	runner_free_slots(const Runner *r);
extern int	runner_running(const Runner *r);
extern bool runner_start(Runner *r, NodeTask *task);
extern void runner_kill_all(Runner *r);
extern int	runner_supersede(Runner *r, const char *task_id);
extern int	runner_supersede_all(Runner *r);
extern RunnerSlot *runner_next_done(Runner *r);
extern int	runner_reports_due(Runner *r, int64_t now_ms, RunnerSlot **slots);
extern int64_t runner_next_report_at(const Runner *r);
extern void runner_slot_defer(RunnerSlot *slot, int64_t until_ms);
extern const NodeTask *runner_slot_task(const RunnerSlot *slot);
extern SlotOutcome runner_slot_outcome(const RunnerSlot *slot, char **message);
extern void runner_slot_clear(RunnerSlot *slot);
extern short runner_wait(Runner *r, int fd, short events, int timeout_ms);

extern void node_task_free(NodeTask *task);

#endif							/* RC_NODE_RUNNER_H */
