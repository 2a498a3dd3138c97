/* agent/nodenet: the node's side of the cluster network, kept equal to the
 * local replica. Owns, for one node:
 *   - its pod network: once the leader has given the Node a spec.podCIDR,
 *     the node's bridge (agent__nodenet_bridge: one name per node, so that
 *     test nodes sharing one network namespace do not collide) with the
 *     CIDR's first address as gateway, IPv4 forwarding, bridged traffic
 *     through netfilter (so a pod reaching a Service served by a pod on the
 *     same bridge is un-NATed on the way back), and the CNI conflist
 *     (agent/cni.h) in DIR/cni/net.d that pod sandboxes are attached with;
 *   - routes to every other node's pod CIDR through that node's address
 *     (agent/netroutes.h), skipped when that address is this machine's own
 *     (nodes sharing a network namespace reach each other's bridges
 *     directly);
 *   - the nftables table of Services and Endpoints (agent/svcrules.h),
 *     replaced as a whole when the text changes;
 *   - the cluster DNS server on the gateway address, port 53 (agent/dns.h).
 * Everything is level-triggered: any change of a Node, Service or
 * Endpoints schedules one pass (debounced); a pass that fails is retried.
 *
 * Threads: loop thread; the blocking parts (ip, nft, files) run one at a
 * time in the thread pool. */
#ifndef SKIFF_AGENT_NODENET_H
#define SKIFF_AGENT_NODENET_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <uv.h>

#include "lib/err.h"
#include "store/store.h"

#define AGENT_NODENET_DEBOUNCE_MS 50
#define AGENT_NODENET_RETRY_MS    2000
#define AGENT_NODENET_DNS_PORT    53

struct agent__nodenet;

struct agent__nodenet_config {
    const char *node_name; /* required */
    const char *dir;       /* the agent dir: DIR/cni/{net.d,cache,ipam} live here */
    const char *node_ip;   /* this node's address (NodePorts, routes of the others) */
};

/* The bridge of node into buf[16]: "skb" + 8 hex digits of a hash of the
 * name (interface names are at most 15 bytes). */
void agent__nodenet_bridge(const char *node, char buf[16]);

int agent__nodenet_new(uv_loop_t *loop, struct store *s, const struct agent__nodenet_config *cfg,
                       struct agent__nodenet **out, struct err *e);

/* The address pods use as their nameserver (the gateway, where the DNS
 * server answers), or NULL while the node has no pod network yet. */
const char *agent__nodenet_dns(const struct agent__nodenet *n);

/* The CNI config dir, cache dir and plugin path for pod sandboxes. */
const char *agent__nodenet_conf_dir(const struct agent__nodenet *n);

/* Services of namespace ns, as a new JSON array of v1 Service objects
 * (for the service environment variables). */
json_t *agent__nodenet_services(const struct agent__nodenet *n, const char *ns);

/* Stops watching and answering; cb(data) fires later once every handle is
 * closed and the job in flight is done. The rules, routes and bridge stay
 * (pods keep working while the node restarts; `skiff reset` removes them). */
void agent__nodenet_close(struct agent__nodenet *n, void (*cb)(void *data), void *data);

#endif
