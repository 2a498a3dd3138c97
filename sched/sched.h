/* sched: the loops only the Raft leader runs: the scheduler and the
 * controllers (ReplicaSet, Deployment, Job, CronJob, DaemonSet, garbage
 * collection, node lifecycle, endpoints). Started when this node becomes
 * leader and its replica has applied everything committed before; stopped
 * when it loses leadership. They work from in-memory caches fed by the
 * local store's watch and write through consensus with a compare on the
 * revision they read, so they are idempotent: a new leader simply resumes.
 * Knows Kubernetes objects through api/api.h; never touches Raft
 * internals. Everything runs on the loop thread. */
#ifndef SKIFF_SCHED_SCHED_H
#define SKIFF_SCHED_SCHED_H

#include <stdbool.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "lib/err.h"

#define SCHED_NODE_GRACE_MS   15000 /* unreachable this long -> NotReady */
#define SCHED_POD_EVICTION_MS 30000 /* NotReady this long -> its pods are deleted */

struct sched_config {
    unsigned node_grace_ms;   /* 0 = SCHED_NODE_GRACE_MS */
    unsigned pod_eviction_ms; /* 0 = SCHED_POD_EVICTION_MS */
};

struct sched;

/* Creates the leader loops over c (borrowed, must outlive s) and subscribes
 * to leadership changes; nothing runs until this node leads. */
int sched_new(uv_loop_t *loop, struct cons *c, const struct sched_config *cfg, struct sched **out,
              struct err *e);

/* Stops every loop and frees s; cb fires later, once every handle is
 * closed. Writes still in flight inside consensus complete on their own. */
void sched_close(struct sched *s, void (*cb)(void *data), void *data);

#endif
