/*-------------------------------------------------------------------------
 *
 * agent.h
 *	  The "run" command of the node agent: register, wait for routed tasks,
 *	  run their handlers, report, heartbeat, reconnect, stop cleanly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RC_NODE_AGENT_H
#define RC_NODE_AGENT_H

#include "node.h"

extern int	agent_run(const NodeConfig *cfg);

#endif							/* RC_NODE_AGENT_H */
