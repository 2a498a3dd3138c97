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
    bool pod_network;     /* real runtime: CNI per pod, routes, service rules, cluster DNS
                           * (agent/nodenet.h); false: pods get loopback only */
};

struct agent;

int agent_new(uv_loop_t *loop, struct cons *c, const struct agent_config *cfg, struct agent **out,
              struct err *e);
/* Where the real runtime writes a container's log (DIR/logs/...), for the
 * API's pods/NAME/log; ERR_NOTFOUND when the node runs no real runtime.
 * Usable as an api_log_path_fn with data = the agent. */
int agent_log_path(void *agent, const char *ns, const char *pod, const char *uid, const char *ctr,
                   int restart, char *buf, size_t size);
/* Runs argv in container ctr of the pod with uid on this node (`runc exec`
 * of "<uid>_<ctr>" under DATA_DIR/agent/runc), for the API's pods/NAME/exec.
 * data_dir: the node's data dir (const char *, borrowed, outlives the api).
 * Usable as an api_exec_fn; thread-safe, blocking (thread pool). A program
 * that cannot be started gives exit code 127 (not found) or 126 with
 * runc's message as stderr. Returns 0, ERR_NOTFOUND (container not
 * running), ERR_INVALID, ERR_NOMEM. */
struct api_exec_result;
int agent_exec(void *data_dir, const char *uid, const char *ctr, const char *const *argv,
               int timeout_ms, struct api_exec_result *res, struct err *e);
/* cb (may be NULL) fires once every handle is closed. */
void agent_close(struct agent *a, void (*cb)(void *data), void *data);

#endif
