/* sched/internal.h: shared by the sched/ sources only. The leader-loop
 * framework (sched/sched.c): informers (a cache per kind fed by the store
 * watch), per-controller work queues, delayed requeues, writes through
 * consensus, and "expectations" that keep a controller from acting twice
 * on a create or delete it has not yet seen come back through the watch. */
#ifndef SKIFF_SCHED_INTERNAL_H
#define SKIFF_SCHED_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "sched/sched.h"
#include "store/store.h"

/* The kinds the loops cache, by index. */
enum {
    SK_NAMESPACE,
    SK_NODE,
    SK_POD,
    SK_SERVICE,
    SK_ENDPOINTS,
    SK_SECRET,
    SK_CONFIGMAP,
    SK_DEPLOYMENT,
    SK_REPLICASET,
    SK_DAEMONSET,
    SK_JOB,
    SK_CRONJOB,
    SK_LEASE,
    SK_HPA, /* HorizontalPodAutoscaler (autoscaling/v2) */
    SK__COUNT
};

struct sched;
struct sched_ctrl;

/* A controller. on_event sees every change of every cached kind (old NULL
 * on ADDED, obj NULL on DELETED; both borrowed) and enqueues the keys it
 * must look at; sync reconciles one queued key (its own encoding, usually
 * the primary object's store key); tick runs once a second. Any may be
 * NULL. */
struct sched_ctrl {
    const char *name;
    void (*start)(struct sched *s, struct sched_ctrl *c); /* caches are synced */
    void (*stop)(struct sched *s, struct sched_ctrl *c);  /* leadership lost */
    void (*on_event)(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj);
    void (*sync)(struct sched *s, struct sched_ctrl *c, const char *key);
    void (*tick)(struct sched *s, struct sched_ctrl *c);
    void *state;
    json_t *queue__; /* key set */
};

/* ---- controllers (each file adds one) ---- */
extern struct sched_ctrl sched__ctrl_scheduler;
extern struct sched_ctrl sched__ctrl_replicaset;
extern struct sched_ctrl sched__ctrl_deployment;
extern struct sched_ctrl sched__ctrl_job;
extern struct sched_ctrl sched__ctrl_cronjob;
extern struct sched_ctrl sched__ctrl_daemonset;
extern struct sched_ctrl sched__ctrl_gc;
extern struct sched_ctrl sched__ctrl_nodes;
extern struct sched_ctrl sched__ctrl_endpoints;
extern struct sched_ctrl sched__ctrl_ipam;
extern struct sched_ctrl sched__ctrl_hpa;

/* ---- caches ---- */

const struct api_kind *sched__kind(int kind);
/* Every cached object of a kind: store key -> object (with
 * metadata.resourceVersion). Borrowed, valid until the next event. */
/* Cuts obj down to what the informer of that kind keeps: for kinds no
 * controller reads beyond metadata (ConfigMap, Secret), apiVersion, kind and
 * metadata without managedFields and annotations; others untouched. */
void sched__slim(int kind, json_t *obj);
json_t *sched__objs(struct sched *s, int kind);
/* One object by store key, or NULL. */
json_t *sched__get(struct sched *s, int kind, const char *key);
/* Calls fn for every object of kind whose key starts with prefix, until fn
 * returns non-zero (which is returned). The informers of ConfigMaps and
 * Secrets hold only the objects the garbage collector has to act on, so for
 * those kinds this reads the store (obj is then a slim copy, valid during
 * the call). */
typedef int (*sched_each_fn)(const char *key, json_t *obj, void *data);
int sched__each_in(struct sched *s, int kind, const char *prefix, sched_each_fn fn, void *data);
/* Store key of an object ("/registry/pods/ns/name") into buf. */
int sched__key(int kind, const json_t *obj, char *buf, size_t size);
int sched__key_of(int kind, const char *ns, const char *name, char *buf, size_t size);
/* Objects whose controller ownerReference names uid: store key -> kind
 * index (integer). Borrowed; NULL when none. */
json_t *sched__owned(struct sched *s, const char *uid);
/* The object's controller owner uid, or NULL. */
const char *sched__controller_uid(const json_t *obj);
/* Leader's view of node reachability from consensus (the leader probes
 * every member): true when name was reached within the last grace period.
 * Nodes that are not members (no skiff process) are never reachable. */
bool sched__node_reachable(struct sched *s, const char *name);
uint64_t sched__now_ms(struct sched *s);
/* Milliseconds since this node became leader (a new leader gives every node
 * a full grace period). */
uint64_t sched__leading_ms(struct sched *s);
const struct sched_config *sched__config(struct sched *s);
/* The local replica (read-only use: settings like api/netconf.h). */
struct store *sched__store(struct sched *s);
/* The loop the leader loops run on (for a controller's uv_queue_work). */
uv_loop_t *sched__loop(struct sched *s);
/* Pending seen by the scheduler -> bound, in seconds (ctrl_scheduler.c
 * observes, sched_prom_write reads). Lives as long as s. */
struct prom_hist *sched__bind_latency(struct sched *s);

/* ---- queues ---- */

void sched__enqueue(struct sched *s, struct sched_ctrl *c, const char *key);
void sched__enqueue_after(struct sched *s, struct sched_ctrl *c, const char *key, uint64_t ms);

/* ---- expectations ----
 * A controller that creates or deletes N objects for an owner records it;
 * the watch events of those objects (or the failed writes) settle it. While
 * unsettled the owner is not synced again (it is requeued when settled). */
void sched__expect(struct sched *s, struct sched_ctrl *c, const char *owner_uid,
                   const char *owner_key, int creates, int deletes);
bool sched__settled(struct sched *s, const char *owner_uid);

/* ---- writes (through consensus; results come back through the watch) ----
 * obj is stolen. Errors are logged with the controller's name; a write that
 * lost a race (compare failed) requeues key in c when key is not NULL. */
int sched__create(struct sched *s, struct sched_ctrl *c, int kind, const char *ns, json_t *obj,
                  const char *owner_uid, const char *requeue_key);
/* Replace old (compare on its resourceVersion) by obj. */
int sched__update(struct sched *s, struct sched_ctrl *c, int kind, const json_t *old, json_t *obj,
                  const char *requeue_key);
/* Delete: an object with finalizers, or a Pod bound to a node and not
 * finished, gets a deletionTimestamp (the agent finishes it); others go at
 * once. force: remove the key whatever it holds. */
int sched__delete(struct sched *s, struct sched_ctrl *c, int kind, const json_t *old,
                  const char *owner_uid, bool force, const char *requeue_key);

/* ---- helpers for controllers ---- */

/* Kubernetes label selector ({matchLabels, matchExpressions}) against a
 * labels object; an empty or NULL selector matches nothing when
 * empty_matches is false. */
bool sched__selector_matches(const json_t *selector, const json_t *labels, bool empty_matches);
/* A pod counts as active: not terminated (Succeeded/Failed) and not being
 * deleted. */
bool sched__pod_active(const json_t *pod);
bool sched__pod_ready(const json_t *pod);
/* RFC 3339 now into buf[21]. */
void sched__now_rfc3339(struct sched *s, char buf[21]);
/* A new pod from a template (PodTemplateSpec), owned by owner (kind k) as
 * controller, named prefix + random suffix (generateName). New reference. */
json_t *sched__pod_from_template(const json_t *tmpl, const json_t *owner, int owner_kind,
                                 const char *generate_name);
/* ownerReference entry for owner (controller: true, blockOwnerDeletion). */
json_t *sched__owner_ref(const json_t *owner, int owner_kind);

#endif
