/* agent: the node agent every node runs. Watches the Pods bound to this
 * node in the local replica and runs them; writes their status and finishes
 * their deletion. Two runtimes: the real one (agent/pods.h: runc, OCI
 * images, volumes, probes, logs; no pod network yet) and a fake one
 * (--fake-runtime): pods are reported Running and Ready without starting
 * containers, pods that do not restart always (Job pods) succeed after a
 * short while, and a deleted pod is removed at once. Loop thread only. */
#ifndef SKIFF_AGENT_AGENT_H
#define SKIFF_AGENT_AGENT_H

#include <stdbool.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "lib/err.h"

#define AGENT_FAKE_RUN_MS 1000 /* fake runtime: a non-Always pod succeeds after this */

struct agent_config {
    const char *node_name;
    bool fake_runtime;    /* pods "run" without containers (tests) */
    const char *capacity; /* "cpu=2,memory=4Gi,pods=20" (validated by the CLI), reported
                           * instead of the machine's values; NULL or "": the machine's.
                           * Copied. */
    const char *dir;      /* the real runtime's state (images, pods, logs, runc root) */
    const char *node_ip;  /* status.hostIP and hostNetwork pods' podIP */
};

struct agent;

int agent_new(uv_loop_t *loop, struct cons *c, const struct agent_config *cfg, struct agent **out,
              struct err *e);
/* Where the real runtime writes a container's log (DIR/logs/...), for the
 * API's pods/NAME/log; ERR_NOTFOUND when the node runs no real runtime.
 * Usable as an api_log_path_fn with data = the agent. */
int agent_log_path(void *agent, const char *ns, const char *pod, const char *uid, const char *ctr,
                   int restart, char *buf, size_t size);
/* cb (may be NULL) fires once every handle is closed. */
void agent_close(struct agent *a, void (*cb)(void *data), void *data);

#endif
