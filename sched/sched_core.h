/* sched_core: the scheduler's pure core. Owns an in-memory cache of Nodes and
 * Pods (fed by the caller from store watch events, so a decision reads no
 * LMDB), the filters and scores that choose a node for a pod, the
 * kube-scheduler "0/N nodes are available: ..." message when none fits, and
 * assume/forget, which keep consecutive decisions from overcommitting while a
 * bind is in flight through consensus. Knows nothing of the store, Raft or
 * the scheduling queue: the scheduler loop (sched/, leader only) decodes
 * events, calls these functions and proposes the bind txn. Objects are the
 * Kubernetes JSON (jansson) the API stores. Not thread-safe: one cache per
 * scheduler, used from the loop thread only.
 *
 * Included only by sched/ files and sched's own tests. */
#ifndef SKIFF_SCHED_SCHED_CORE_H
#define SKIFF_SCHED_SCHED_CORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"

#define SCHED_MAX_NODE_SCORE 100
#define SCHED_MESSAGE_MAX    1024 /* a pick's "0/N nodes are available" text, truncated */

/* Score plugin weights, as kube-scheduler's default profile weighs them. */
#define SCHED_WEIGHT_LEAST_ALLOCATED 1 /* NodeResourcesFit (LeastAllocated) */
#define SCHED_WEIGHT_NODE_AFFINITY   2 /* NodeAffinity (preferred terms) */
#define SCHED_WEIGHT_TAINT           3 /* TaintToleration (PreferNoSchedule) */
#define SCHED_WEIGHT_SPREAD          2 /* PodTopologySpread's place: pods of one owner */

/* Non-zero defaults for scoring pods that request nothing (kube's
 * DefaultMilliCPURequest / DefaultMemoryRequest): 10 such pods must not all
 * look free. Filters use the real requests. */
#define SCHED_NONZERO_CPU_M 100
#define SCHED_NONZERO_MEM   (200LL * 1024 * 1024)

/* ---- quantities ---- */

/* Parses a Kubernetes quantity ("100m", "0.5", "64Mi", "1G", "1e3", "-2")
 * exactly and returns it in units of 10^scale, rounded up like
 * resource.Quantity's Value (scale 0) and MilliValue (scale -3).
 * ERR_INVALID (syntax, or beyond int64) naming nothing: callers wrap with the
 * field path. */
int sched_quantity_parse(const char *s, int scale, int64_t *out, struct err *e);

/* ---- parsed objects ---- */

/* Every string below points into the owning pod's or node's arena. */
struct sched_arena {
    struct sched_chunk *head;
};

struct sched_kv {
    const char *key;
    const char *value;
};

enum {
    SCHED_OP_IN = 1,
    SCHED_OP_NOT_IN,
    SCHED_OP_EXISTS,
    SCHED_OP_DOES_NOT_EXIST,
    SCHED_OP_GT,
    SCHED_OP_LT,
    SCHED_OP_BAD, /* unknown operator: the requirement matches nothing */
};

/* One matchExpressions / matchFields requirement. */
struct sched_expr {
    const char *key;
    int op; /* SCHED_OP_* */
    const char **values;
    size_t n_values;
    int64_t num; /* Gt/Lt: values[0] as an integer */
    bool num_ok; /* Gt/Lt: values[0] parsed */
};

/* A nodeSelectorTerm: expressions AND fields; an empty term matches nothing. */
struct sched_node_term {
    struct sched_expr *exprs;
    size_t n_exprs;
    struct sched_expr *fields; /* metadata.name only (In/NotIn) */
    size_t n_fields;
};

struct sched_pref_term {
    int64_t weight;
    struct sched_node_term term;
};

/* A metav1.LabelSelector. A NULL selector in an affinity term matches nothing;
 * an empty one matches everything. */
struct sched_selector {
    struct sched_kv *labels; /* matchLabels */
    size_t n_labels;
    struct sched_expr *exprs; /* In/NotIn/Exists/DoesNotExist */
    size_t n_exprs;
};

/* A required podAntiAffinity term. */
struct sched_pod_term {
    struct sched_selector *sel; /* NULL: matches no pod */
    const char **namespaces;    /* none and !all_ns: the pod's own namespace */
    size_t n_namespaces;
    bool all_ns;   /* namespaceSelector: {} */
    bool hostname; /* topologyKey kubernetes.io/hostname (the only one enforced) */
};

enum { SCHED_EFFECT_NO_SCHEDULE = 1, SCHED_EFFECT_PREFER_NO_SCHEDULE, SCHED_EFFECT_NO_EXECUTE };

struct sched_taint {
    const char *key;
    const char *value; /* "" when absent */
    int effect;        /* SCHED_EFFECT_*; 0 = unknown (ignored) */
};

struct sched_toleration {
    const char *key;   /* "" with exists: every key */
    const char *value; /* Equal only */
    bool exists;       /* operator Exists (else Equal) */
    int effect;        /* 0 = every effect */
};

enum { SCHED_PROTO_TCP = 0, SCHED_PROTO_UDP, SCHED_PROTO_SCTP };

struct sched_port {
    int port; /* hostPort, 1..65535 */
    int proto;
    const char *ip; /* hostIP; "0.0.0.0" when absent: every address */
};

/* An extended resource ("nvidia.com/gpu", "hugepages-2Mi") and its amount. */
struct sched_scalar {
    const char *name;
    int64_t value;
};

enum {
    SCHED_PHASE_PENDING = 0,
    SCHED_PHASE_RUNNING,
    SCHED_PHASE_SUCCEEDED,
    SCHED_PHASE_FAILED,
    SCHED_PHASE_UNKNOWN,
};

/* A Pod reduced to what scheduling needs, parsed once. */
struct sched_pod {
    const char *ns;
    const char *name;
    const char *uid;       /* "" when absent */
    const char *node_name; /* spec.nodeName; NULL when unbound */
    const char *owner_uid; /* the controller ownerReference's uid; NULL if none */
    uint64_t uid_hash;     /* tie-break seed */
    uint64_t mod_rev;      /* metadata.resourceVersion as a number (0 if absent) */
    int phase;             /* SCHED_PHASE_* */
    bool preempt_never;    /* spec.preemptionPolicy: Never */

    /* requests: max(sum(containers), max(initContainers)) + overhead */
    int64_t cpu_m;
    int64_t mem;
    int64_t eph;
    int64_t nz_cpu_m; /* the same with non-zero defaults, for scoring */
    int64_t nz_mem;
    struct sched_scalar *ext;
    size_t n_ext;

    struct sched_port *ports;
    size_t n_ports;
    struct sched_kv *labels;
    size_t n_labels;
    struct sched_toleration *tols;
    size_t n_tols;
    struct sched_kv *node_selector;
    size_t n_node_selector;
    bool has_required;                /* requiredDuringScheduling... present (even with no terms) */
    struct sched_node_term *required; /* ORed */
    size_t n_required;
    struct sched_pref_term *preferred;
    size_t n_preferred;
    struct sched_pod_term *anti; /* required podAntiAffinity */
    size_t n_anti;

    /* private: the cache's bookkeeping */
    struct sched_arena arena__;
    int node__; /* node slot counted on, -1 if none */
    bool assumed__;
    struct sched_pod *prev__, *next__; /* the node's pod list */
    struct sched_owner *owner__;
};

/* Parses a v1 Pod (borrowed). On success *out is owned: sched_pod_free.
 * Defects that kube-scheduler would tolerate (an unparsable quantity, an
 * unknown operator, an unsupported field) do not fail the parse: the value
 * counts as 0 / matches nothing, and warn (may be NULL) gets ERR_INVALID and
 * a message naming the first such field, for the caller to log.
 * Errors: ERR_INVALID (not an object, no metadata.name), ERR_NOMEM. */
int sched_pod_parse(const json_t *pod, struct sched_pod **out, struct err *warn, struct err *e);
/* Frees p; NULL is fine. Never for a pod the cache owns. */
void sched_pod_free(struct sched_pod *p);

/* One node slot. present=false marks a ghost: a slot kept because bound pods
 * name a node whose object is gone (or not yet seen); ghosts are never
 * candidates nor counted in "0/N". Owned by the cache. */
struct sched_node {
    char *name; /* NULL: free slot */
    uint64_t name_hash;
    bool present;
    bool unschedulable;
    int64_t alloc_cpu_m, alloc_mem, alloc_eph, alloc_pods;
    int64_t req_cpu_m, req_mem, req_eph, n_pods;
    int64_t nz_cpu_m, nz_mem;       /* non-zero requests, for scoring */
    struct sched_scalar *alloc_ext; /* extended resources the node advertises */
    int64_t *req_ext;               /* requested of each, parallel to alloc_ext */
    size_t n_ext;
    struct sched_kv *labels;
    size_t n_labels;
    struct sched_taint *taints; /* with a synthetic not-ready/unreachable taint */
    size_t n_taints;
    size_t n_hard_taints;         /* NoSchedule + NoExecute */
    size_t n_soft_taints;         /* PreferNoSchedule */
    struct sched_port_use *ports; /* host ports in use */
    size_t n_ports, cap_ports;
    size_t n_anti_pods;       /* counted pods with required anti-affinity */
    struct sched_pod *pods;   /* counted pods (bound or assumed, not terminal) */
    struct sched_arena arena; /* the node object's strings */
};

struct sched_port_use {
    int port;
    int proto;
    const char *ip; /* borrowed from a pod using it */
    int refs;
};

/* ---- the cache ---- */

struct sched_cache;

/* A new empty cache; *out owned: sched_cache_free. ERR_NOMEM. */
int sched_cache_new(struct sched_cache **out, struct err *e);
/* Frees the cache and every pod and node in it; NULL is fine. */
void sched_cache_free(struct sched_cache *c);

/* Adds or replaces a v1 Node (borrowed; parsed, not kept). Pods already bound
 * to it stay counted. warn as for sched_pod_parse. ERR_INVALID, ERR_NOMEM;
 * on error the cache is unchanged. */
int sched_cache_node_upsert(struct sched_cache *c, const json_t *node, struct err *warn,
                            struct err *e);
/* Removes a node (a watch DELETE). Its bound pods stay (as on a ghost slot)
 * until their own events remove them. No-op if unknown. */
void sched_cache_node_remove(struct sched_cache *c, const char *name);

/* Adds or replaces a v1 Pod by namespace/name. A pod counts on its node
 * (requests, pod count, ports, owner spread) when spec.nodeName is set or it
 * is assumed, and its phase is neither Succeeded nor Failed. An assumed pod
 * that arrives with spec.nodeName set is confirmed; one that arrives still
 * without it stays assumed where it was. O(1) amortised besides parsing. */
int sched_cache_pod_upsert(struct sched_cache *c, const json_t *pod, struct err *warn,
                           struct err *e);
/* The same with a pod already parsed: takes ownership of p (also on error). */
int sched_cache_pod_upsert_parsed(struct sched_cache *c, struct sched_pod *p, struct err *e);
/* Removes a pod (a watch DELETE), freeing what it held. No-op if unknown. */
void sched_cache_pod_remove(struct sched_cache *c, const char *ns, const char *name);

/* Borrowed views, valid until the next change of that pod / node. NULL if absent. */
const struct sched_pod *sched_cache_pod_get(struct sched_cache *c, const char *ns,
                                            const char *name);
const struct sched_node *sched_cache_node_get(struct sched_cache *c, const char *name);
/* Present nodes and cached pods (any state). */
size_t sched_cache_node_count(struct sched_cache *c);
size_t sched_cache_pod_count(struct sched_cache *c);

/* Counts the cached, unbound pod ns/name on node_name as if bound, until the
 * watch confirms it (an upsert with spec.nodeName) or sched_cache_forget.
 * ERR_NOTFOUND (pod or node unknown), ERR_CONFLICT (already bound or assumed). */
int sched_cache_assume(struct sched_cache *c, const char *ns, const char *name,
                       const char *node_name, struct err *e);
/* Undoes an assume after a failed bind. ERR_NOTFOUND if the pod is unknown,
 * ERR_CONFLICT if it is not assumed (e.g. the bind was already confirmed). */
int sched_cache_forget(struct sched_cache *c, const char *ns, const char *name, struct err *e);

/* ---- deciding ---- */

struct sched_pick {
    const char
        *node_name;    /* chosen node (borrowed from the cache until it changes); NULL if none */
    int64_t score;     /* its weighted score */
    size_t n_feasible; /* nodes that passed every filter */
    char message[SCHED_MESSAGE_MAX]; /* when none: kube-scheduler's FitError text */
};

/* Chooses a node for pod (borrowed; cached or not): every filter, then the
 * weighted scores; equal scores are broken by a hash of pod uid and node name
 * (spread, yet reproducible). Reads only the cache; allocates nothing unless
 * no node fits. Returns 0 with out->node_name set, or ERR_NOTFOUND with
 * out->message like "0/3 nodes are available: 1 node(s) didn't match Pod's
 * node affinity/selector, 2 Insufficient memory. preemption: 0/3 nodes are
 * available: 1 Preemption is not helpful for scheduling, 2 No preemption
 * victims found for incoming pod." (e gets it too, truncated), or ERR_NOMEM.
 * Does not assume: the caller does, after choosing to bind. */
int sched_pick(struct sched_cache *c, const struct sched_pod *pod, struct sched_pick *out,
               struct err *e);

/* ---- module-internal: the sched/ files only ---- */

void *sched__arena_alloc(struct sched_arena *a, size_t size);
char *sched__arena_strdup(struct sched_arena *a, const char *s);
void sched__arena_free(struct sched_arena *a);

uint64_t sched__hash_str(const char *s);

/* Node parsing into n (zeroed by the caller; n->arena receives the strings). */
int sched__node_parse(const json_t *node, struct sched_node *n, struct err *warn, struct err *e);

/* Filters (filter.c). Each returns true when node n admits pod p. */
bool sched__labels_match_selector(const struct sched_kv *labels, size_t n_labels,
                                  const struct sched_selector *sel);
bool sched__node_term_matches(const struct sched_node *n, const struct sched_node_term *t);
bool sched__fits_unschedulable(const struct sched_node *n, const struct sched_pod *p);
/* The first untolerated NoSchedule/NoExecute taint, or NULL. */
const struct sched_taint *sched__untolerated_taint(const struct sched_node *n,
                                                   const struct sched_pod *p);
bool sched__fits_affinity(const struct sched_node *n, const struct sched_pod *p);
bool sched__fits_ports(const struct sched_node *n, const struct sched_pod *p);
bool sched__fits_resources(const struct sched_node *n, const struct sched_pod *p);
/* 0 fits; 1 the pod's anti-affinity rejects; 2 an existing pod's anti-affinity rejects. */
int sched__fits_anti_affinity(const struct sched_node *n, const struct sched_pod *p);
/* The kube-scheduler FitError text for a pod no node admits, into buf. */
int sched__fit_message(struct sched_node *nodes, size_t n_slots, const struct sched_pod *p,
                       char *buf, size_t size, struct err *e);

/* Scores (score.c): raw per-node values, normalised over the feasible set by pick. */
int64_t sched__score_least_allocated(const struct sched_node *n, const struct sched_pod *p);
int64_t sched__score_preferred_affinity(const struct sched_node *n, const struct sched_pod *p);
int64_t sched__count_prefer_no_schedule(const struct sched_node *n, const struct sched_pod *p);

/* Cache internals pick needs (cache.c). */
struct sched_node *sched__cache_nodes(struct sched_cache *c, size_t *n_slots);
/* Scratch arrays sized to the node slots, owned by the cache. */
struct sched__scratch {
    int *feasible;
    int64_t *la, *aff, *taint, *spread;
    uint32_t *owner_count; /* per slot; zero between picks */
};
struct sched__scratch *sched__cache_scratch(struct sched_cache *c);
/* Writes the owner's per-node pod counts into counts (per slot) and returns
 * the largest; sched__owner_unscatter zeroes them again. */
uint32_t sched__owner_scatter(struct sched_cache *c, const char *owner_uid, uint32_t *counts);
void sched__owner_unscatter(struct sched_cache *c, const char *owner_uid, uint32_t *counts);

#endif
