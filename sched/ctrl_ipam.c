/* Node IPAM controller (kube-controller-manager's nodeipam, range
 * allocator): gives every Node without spec.podCIDR the lowest free node
 * CIDR of the cluster CIDR (api/netconf.h, read from the replica at each
 * sync so a changed setting needs no restart), written as spec.podCIDR and
 * spec.podCIDRs. A CIDR is never taken from a node that has one; a node's
 * CIDR is free again once its Node object is gone.
 *
 * Two nodes cannot get the same CIDR: only the leader assigns, it counts
 * the CIDRs of its own writes still travelling through Raft as used, and a
 * new leader starts after every entry of the old one has been applied or
 * dropped (see sched.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/netconf.h"
#include "lib/log.h"
#include "sched/internal.h"

#define FULL_RETRY_MS    30000 /* the cluster CIDR is full: look again this late */
#define PENDING_MAX_MS   10000 /* a write not seen back this long failed: try again */

struct state {
    json_t *pending; /* node name -> [CIDR, ms proposed], not yet seen back */
    bool warned_full;
};

static const json_t *spec_of(const json_t *node)
{
    return json_object_get(node, "spec");
}

static const char *pod_cidr(const json_t *node)
{
    return json_string_value(json_object_get(spec_of(node), "podCIDR"));
}

static const char *name_of(const json_t *node)
{
    return json_string_value(json_object_get(json_object_get(node, "metadata"), "name"));
}

static void start(struct sched *s, struct sched_ctrl *c)
{
    struct state *st = calloc(1, sizeof *st);
    const char *key;
    json_t *node;
    if (st == NULL)
        return;
    st->pending = json_object();
    c->state = st;
    json_object_foreach (sched__objs(s, SK_NODE), key, node)
        if (pod_cidr(node) == NULL)
            sched__enqueue(s, c, key);
}

static void stop(struct sched *s, struct sched_ctrl *c)
{
    struct state *st = c->state;
    (void)s;
    if (st == NULL)
        return;
    json_decref(st->pending);
    free(st);
    c->state = NULL;
}

static void on_event(struct sched *s, struct sched_ctrl *c, int kind, const char *key,
                     const json_t *old, const json_t *obj)
{
    struct state *st = c->state;
    const char *name;
    if (st == NULL || kind != SK_NODE)
        return;
    name = name_of(obj ? obj : old);
    if (name != NULL && (obj == NULL || pod_cidr(obj) != NULL))
        json_object_del(st->pending, name); /* our write came back, or the node went */
    if (obj != NULL && pod_cidr(obj) == NULL)
        sched__enqueue(s, c, key);
}

/* Is cidr held by a node (or promised to one)? */
static bool used(struct sched *s, struct state *st, const char *cidr)
{
    const char *k;
    json_t *v;
    json_object_foreach (sched__objs(s, SK_NODE), k, v) {
        const char *pc = pod_cidr(v);
        if (pc != NULL && strcmp(pc, cidr) == 0)
            return true;
    }
    json_object_foreach (st->pending, k, v)
        if (strcmp(json_string_value(json_array_get(v, 0)), cidr) == 0)
            return true;
    return false;
}

static void ipam_sync(struct sched *s, struct sched_ctrl *c, const char *key)
{
    struct state *st = c->state;
    json_t *node = sched__get(s, SK_NODE, key), *neu, *spec;
    struct api_netconf nc;
    char cidr[24];
    struct err e;
    uint32_t i, n;
    json_t *pend;

    if (st == NULL || node == NULL || pod_cidr(node) != NULL || name_of(node) == NULL)
        return;
    pend = json_object_get(st->pending, name_of(node));
    if (pend != NULL) {
        json_int_t at = json_integer_value(json_array_get(pend, 1));
        if (sched__now_ms(s) < (uint64_t)at + PENDING_MAX_MS) {
            sched__enqueue_after(s, c, key, PENDING_MAX_MS);
            return;
        }
        json_object_del(st->pending, name_of(node));
    }
    if (api_netconf_load(sched__store(s), &nc, &e) != 0) {
        LOG_WARN("sched", "ipam_config", "err=\"%s\"", e.msg);
        sched__enqueue_after(s, c, key, FULL_RETRY_MS);
        return;
    }
    n = api_netconf_node_cidrs(&nc);
    for (i = 0; i < n; i++) {
        if (api_netconf_node_cidr(&nc, i, cidr, sizeof cidr, &e) != 0)
            break;
        if (!used(s, st, cidr))
            break;
    }
    if (i >= n) {
        if (!st->warned_full)
            LOG_WARN("sched", "ipam_full", "node=%s cluster_cidr=%s err=\"no pod CIDR left\"",
                     name_of(node), nc.cluster_cidr);
        st->warned_full = true;
        sched__enqueue_after(s, c, key, FULL_RETRY_MS);
        return;
    }
    neu = json_deep_copy(node);
    if (neu == NULL)
        return;
    spec = json_object_get(neu, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(neu, "spec", spec);
    }
    json_object_set_new(spec, "podCIDR", json_string(cidr));
    json_object_set_new(spec, "podCIDRs", json_pack("[s]", cidr));
    if (sched__update(s, c, SK_NODE, node, neu, key) == 0) {
        json_object_set_new(st->pending, name_of(node),
                            json_pack("[s, I]", cidr, (json_int_t)sched__now_ms(s)));
        LOG_INFO("sched", "pod_cidr_assigned", "node=%s cidr=%s", name_of(node), cidr);
    }
}

struct sched_ctrl sched__ctrl_ipam = {
    .name = "ipam",
    .start = start,
    .stop = stop,
    .on_event = on_event,
    .sync = ipam_sync,
};
