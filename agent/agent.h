/* agent: the node agent every node runs. Watches the Pods bound to this
 * node in the local replica and runs them; writes their status and finishes
 * their deletion. This slice has the fake runtime only (--fake-runtime):
 * pods are reported Running and Ready without starting containers, pods
 * that do not restart always (Job pods) succeed after a short while, and a
 * deleted pod is removed at once. The real runtime (runc, images, CNI) is
 * being built beside it (agent/runtime.h, agent/image.h). Loop thread only. */
#ifndef SKIFF_AGENT_AGENT_H
#define SKIFF_AGENT_AGENT_H

#include <stdbool.h>
#include <uv.h>

#include "consensus/consensus.h"
#include "lib/err.h"

#define AGENT_FAKE_RUN_MS 1000 /* fake runtime: a non-Always pod succeeds after this */

struct agent_config {
    const char *node_name;
    bool fake_runtime; /* without it the agent only watches (no runtime yet) */
    const char *capacity; /* "cpu=2,memory=4Gi,pods=20" (validated by the CLI), reported
                           * instead of the machine's values; NULL or "": the machine's.
                           * Copied. */
};

struct agent;

int agent_new(uv_loop_t *loop, struct cons *c, const struct agent_config *cfg, struct agent **out,
              struct err *e);
/* cb (may be NULL) fires once every handle is closed. */
void agent_close(struct agent *a, void (*cb)(void *data), void *data);

#endif
