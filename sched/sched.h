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

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "lib/err.h"

#define SCHED_NODE_GRACE_MS   15000 /* unreachable this long -> NotReady */
#define SCHED_POD_EVICTION_MS 30000 /* NotReady this long -> its pods are deleted */

#define SCHED_HPA_SYNC_MS          15000  /* each HPA is measured this often */
#define SCHED_HPA_DOWNSCALE_WIN_MS 300000 /* scale-down stabilisation without behavior */

/* The HPA controller's metrics source: a metrics.k8s.io PodMetricsList
 * (*pod_metrics_list, a new reference) of the pods of namespace ns that
 * match selector (a label selector string, "app=web,tier in (a,b)").
 * BLOCKING: called on a uv work thread, never the loop thread; data must be
 * safe to use from there. 0 or an ERR_ code with e set. */
typedef int (*sched_pod_metrics_fn)(void *data, const char *ns, const char *selector,
                                    json_t **pod_metrics_list, struct err *e);

struct sched_config {
    unsigned node_grace_ms;   /* 0 = SCHED_NODE_GRACE_MS */
    unsigned pod_eviction_ms; /* 0 = SCHED_POD_EVICTION_MS */
    /* HPA: NULL pod_metrics = no metrics (every HPA reports
     * FailedGetResourceMetric). 0 intervals take the defaults above. */
    sched_pod_metrics_fn pod_metrics;
    void *pod_metrics_data;
    unsigned hpa_sync_ms;
    unsigned hpa_downscale_window_ms; /* when behavior.scaleDown has no window */
};

struct sched;

/* Creates the leader loops over c (borrowed, must outlive s) and subscribes
 * to leadership changes; nothing runs until this node leads. */
int sched_new(uv_loop_t *loop, struct cons *c, const struct sched_config *cfg, struct sched **out,
              struct err *e);

/* Stops every loop and frees s; cb fires later, once every handle is
 * closed. Writes still in flight inside consensus complete on their own. */
void sched_close(struct sched *s, void (*cb)(void *data), void *data);

/* Appends the scheduler's Prometheus families to out (struct buf,
 * lib/buf.h); sched is a struct sched *. The api_prom_fn shape, so the
 * daemon hands it to api_prom_add as is. Loop thread. */
struct buf;
void sched_prom_write(void *sched, struct buf *out);

#endif
