/* agent/svcrules: Services as nftables rules on one node. Owns the pure
 * function from the Services and Endpoints of the local replica (v1 JSON as
 * the API stores them) to one nft transaction that replaces the node's table
 * `ip skiff-<node>` as a whole, and the applier that feeds it to `nft -f -`.
 * Knows nothing of watches or the API client: the caller (the agent) keeps
 * the last text it applied and skips applying when the new one is identical,
 * which it is whenever the input is (everything is sorted).
 *
 * The rules follow kube-proxy's nftables mode: a verdict map from
 * ClusterIP . proto . port (and, on the node's addresses, proto . nodePort)
 * to one chain per service port, which picks an endpoint with
 * `numgen random mod N vmap`, one chain per endpoint doing the DNAT;
 * masquerade (mark 0x4000, then masquerade in postrouting) for hairpin
 * traffic (an endpoint reaching its own service), for NodePort traffic from
 * outside the node's pod CIDR and, when a cluster CIDR is given, for
 * ClusterIP traffic from outside it; sessionAffinity ClientIP through one
 * dynamic set with timeout per endpoint keyed by the client address; a
 * reject for service ports with no ready endpoint. Headless and
 * ExternalName services are skipped; only `addresses` (ready) are used.
 *
 * Threads: agent__svc_ruleset is pure (any thread); apply/remove block on
 * nft (thread pool). */
#ifndef SKIFF_AGENT_SVCRULES_H
#define SKIFF_AGENT_SVCRULES_H

#include <stddef.h>

#include <jansson.h>

#include "lib/err.h"

#define AGENT_SVC_TABLE_PREFIX "skiff-"
#define AGENT_SVC_MASQ_MARK    "0x4000"
#define AGENT_SVC_AFFINITY_S   10800 /* sessionAffinityConfig.clientIP.timeoutSeconds default */
#define AGENT_SVC_NODE_IPS_MAX 16

/* The node the rules are for. Borrowed strings. */
struct agent__svc_node {
    const char *name;             /* node name (DNS subdomain); the table is skiff-<name> */
    const char *pod_cidr;         /* this node's pod CIDR; NULL: masquerade all NodePort traffic */
    const char *cluster_cidr;     /* NULL: no masquerade of ClusterIP traffic from outside */
    const char *const *addresses; /* IPv4 addresses NodePorts answer on */
    size_t n_addresses;
};

/* What went into a ruleset. skip_reason: the first object skipped and why
 * ("service default/web: spec.ports[1].port: ..."), "" when none. */
struct agent__svc_stats {
    size_t services;  /* services with rules */
    size_t ports;     /* service ports with rules */
    size_t endpoints; /* endpoint chains */
    size_t rejects;   /* service ports with no ready endpoint */
    size_t skipped;   /* objects ignored because a field is invalid */
    char skip_reason[ERR_MSG_SIZE];
};

/* "skiff-<node>" into buf. Returns 0 or ERR_INVALID (not a DNS subdomain,
 * too long). */
int agent__svc_table_name(const char *node, char *buf, size_t cap, struct err *e);

/* Builds the whole nft transaction for node from services and endpoints
 * (JSON arrays of v1 Service / v1 Endpoints objects, borrowed; NULL = none):
 *     table ip skiff-<node>
 *     delete table ip skiff-<node>
 *     table ip skiff-<node> { ... }
 * (create-if-missing, delete, recreate: one atomic transaction). An object
 * with an invalid field is skipped (counted in *st; st may be NULL), never
 * written, so one bad object cannot break every service. Returns 0 with
 * *out owned (free()), ERR_INVALID (node: name, pod_cidr, cluster_cidr or an
 * address) or ERR_NOMEM. */
int agent__svc_ruleset(const struct agent__svc_node *node, const json_t *services,
                       const json_t *endpoints, char **out, struct agent__svc_stats *st,
                       struct err *e);

/* Runs `nft -f -` with ruleset on stdin (nft: binary path or name in PATH,
 * NULL → "nft"). Returns 0, ERR_IO with nft's first error lines, ERR_NOTFOUND
 * (no nft) or ERR_TIMEOUT. */
int agent__svc_apply(const char *nft, const char *ruleset, int timeout_ms, struct err *e);

/* The nft script that turns the table of old_text into new_text (both
 * from agent__svc_ruleset, old_text the one applied last) without
 * rebuilding it: new sets, maps and chains added; changed chains flushed
 * and refilled; set and map elements replaced; chains, sets and maps that
 * are gone deleted; all in one transaction when fed to agent__svc_apply.
 * Returns 0 with *out owned (free()), or ERR_INVALID when only a whole
 * replacement will do (no old text, a base chain or a declaration
 * changed, text not in the generator's shape), ERR_NOMEM. Pure. */
int agent__svc_diff(const char *old_text, const char *new_text, char **out, struct err *e);

/* Removes the node's table (idempotent: a missing table is fine). */
int agent__svc_remove(const char *nft, const char *node, int timeout_ms, struct err *e);

#endif
