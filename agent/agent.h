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
/* cb (may be NULL) fires once every handle is closed. */
void agent_close(struct agent *a, void (*cb)(void *data), void *data);

#endif
