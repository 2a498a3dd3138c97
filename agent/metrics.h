/* agent/metrics: the node's resource-usage sampler (issue 9). Every period
 * it walks this node's pod cgroups (/skiff-<node>/pod<uid>/<ctr>, cgroup v1,
 * hybrid or v2, as agent/cgroup.c lays them out) and the machine's
 * /proc/stat and /proc/meminfo, and keeps the last two samples in memory:
 * CPU is a rate between them, memory the working set of the latest. Nothing
 * goes through Raft; the API reads the snapshot on request (api_metrics_fn).
 *
 * Threads: the walk (small file reads) runs on the libuv thread pool, the
 * result is published and read on the loop thread only. */
#ifndef SKIFF_AGENT_METRICS_H
#define SKIFF_AGENT_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "agent/runtime.h"
#include "lib/err.h"

#define AGENT_METRICS_PERIOD_MS 10000 /* kubelet's and metrics-server's resolution */

struct agent_metrics_config {
    const char *node_name;
    int period_ms;         /* <= 0: AGENT_METRICS_PERIOD_MS */
    const char *mountinfo; /* cgroup mounts as /proc/self/mountinfo text (tests); NULL: read it */
    const char *proc_root; /* where stat and meminfo are (tests); NULL: "/proc" */
};

struct agent_metrics;

/* Creates the sampler and starts it: a first walk now, then one per period.
 * Strings are copied. A machine without cgroup mounts still samples the
 * node. On success *out is owned: agent_metrics_close.
 * Returns 0, ERR_INVALID (bad node name or mountinfo), ERR_NOMEM. */
int agent_metrics_new(uv_loop_t *loop, const struct agent_metrics_config *cfg,
                      struct agent_metrics **out, struct err *e);

/* This node's latest rates, a new reference (json_decref), NULL before the
 * second sample or on ENOMEM:
 *   {"node": {"name", "cpu", "memory", "ts", "window"},
 *    "pods": {UID: {"ts", "window", "containers": {NAME: {"cpu", "memory"}}}}}
 * cpu in nanocores (integer), memory (working set) in bytes, ts the RFC 3339
 * UTC time of the latest sample, window the ms between the two samples. A
 * container seen only once (new, or restarted: its counter went back) is
 * left out; so is a pod left with none. Loop thread. */
json_t *agent_metrics_snapshot(const struct agent_metrics *m);

/* Stops the timer and frees m once the walk in flight (if any) is done;
 * the loop keeps running until then. NULL is fine. */
void agent_metrics_close(struct agent_metrics *m);

/* ---- the pure pieces (exposed for tests) ---- */

/* "cpuacct.usage" (v1: ns) or "cpu.stat" (v2: usage_usec) text -> ns.
 * Returns 0 or ERR_INVALID. */
int agent__metrics_parse_cpuacct(const char *text, uint64_t *ns, struct err *e);
int agent__metrics_parse_cpu_stat(const char *text, uint64_t *ns, struct err *e);
/* The value of "key N" in memory.stat-like text; ERR_NOTFOUND when absent. */
int agent__metrics_parse_keyed(const char *text, const char *key, uint64_t *out, struct err *e);
/* Working set as kubelet: usage - inactive_file (v1: total_inactive_file),
 * 0 when the latter is larger. */
uint64_t agent__metrics_working_set(uint64_t usage, uint64_t inactive_file);
/* /proc/stat's first "cpu" line -> busy (everything but idle and iowait)
 * and total time in ns. ERR_INVALID. */
int agent__metrics_parse_proc_stat(const char *text, long clk_tck, uint64_t *busy_ns,
                                   uint64_t *total_ns, struct err *e);
/* /proc/meminfo -> MemTotal - MemAvailable in bytes. ERR_INVALID. */
int agent__metrics_parse_meminfo(const char *text, uint64_t *used_bytes, struct err *e);

/* One raw (cumulative) sample of the machine and this node's containers. */
struct agent__metrics_ctr {
    char uid[64], name[64];
    uint64_t cpu_ns;       /* cumulative */
    uint64_t memory_bytes; /* working set */
    bool has_cpu;
};
struct agent__metrics_raw {
    int64_t mono_ms; /* CLOCK_MONOTONIC when taken */
    int64_t wall_s;  /* CLOCK_REALTIME seconds when taken */
    bool has_node;
    uint64_t node_busy_ns, node_memory_bytes;
    struct agent__metrics_ctr *ctrs; /* owned */
    size_t n_ctrs, cap_ctrs;
};
void agent__metrics_raw_free(struct agent__metrics_raw *r); /* r too; NULL ok */

/* Walks cg's tree for this node (the memory hierarchy lists pods and
 * containers; cpuacct, or cpu.stat on v2, gives CPU) and proc_root's stat
 * and meminfo. Pods or containers vanishing mid-walk are skipped. *out owned
 * (agent__metrics_raw_free). Returns 0 or ERR_NOMEM. */
int agent__metrics_walk(const struct agent__cg *cg, bool have_cg, const char *proc_root,
                        struct agent__metrics_raw **out, struct err *e);
/* The snapshot JSON (agent_metrics_snapshot) from two raw samples. prev may
 * be NULL (then: NULL). node names the node. New reference or NULL. */
json_t *agent__metrics_rates(const char *node, const struct agent__metrics_raw *prev,
                             const struct agent__metrics_raw *cur);

#endif
