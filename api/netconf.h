/* api/netconf: the cluster's network settings, chosen at `skiff init` and
 * stored once under API_NETCONF_KEY (JSON) so that every node reads the
 * same values from its replica: the cluster CIDR the leader cuts into one
 * pod CIDR per node, the node CIDR size, and the service CIDR ClusterIPs
 * come from. A cluster made before the key existed reads the defaults.
 * Pure functions plus one store read; any thread. */
#ifndef SKIFF_API_NETCONF_H
#define SKIFF_API_NETCONF_H

#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "store/store.h"

#define API_NETCONF_KEY          "/skiff/config/network"
#define API_DEFAULT_CLUSTER_CIDR "10.244.0.0/16"
#define API_DEFAULT_SERVICE_CIDR "10.96.0.0/16"
#define API_DEFAULT_NODE_MASK    24

struct api_netconf {
    char cluster_cidr[20]; /* "10.244.0.0/16", normalised (host bits clear) */
    char service_cidr[20];
    int node_mask; /* prefix length of each node's pod CIDR */
};

/* An IPv4 CIDR "a.b.c.d/n": *net (host order, host bits cleared) and *len.
 * Returns 0 or ERR_INVALID. */
int api_cidr_parse(const char *s, uint32_t *net, int *len, struct err *e);

/* Fills nc with the defaults. */
void api_netconf_defaults(struct api_netconf *nc);

/* Checks and normalises nc: both CIDRs IPv4 with a prefix of 8..28, the
 * node mask longer than the cluster prefix and at most 28 (room for a
 * gateway and pods), the two ranges disjoint. ERR_INVALID names the
 * setting ("--cluster-cidr: ..."). */
int api_netconf_check(struct api_netconf *nc, struct err *e);

/* JSON text of nc ({"clusterCIDR":..., "serviceCIDR":..., "nodeCIDRMaskSize":N}),
 * owned (free()). */
int api_netconf_encode(const struct api_netconf *nc, void **val, size_t *len, struct err *e);

/* Reads the settings from the store (defaults when the key is absent).
 * ERR_INVALID when the stored value does not parse. */
int api_netconf_load(struct store *s, struct api_netconf *nc, struct err *e);

/* Number of node CIDRs the cluster CIDR holds, and the i-th of them
 * ("10.244.3.0/24") into buf. ERR_NOTFOUND past the last. */
uint32_t api_netconf_node_cidrs(const struct api_netconf *nc);
int api_netconf_node_cidr(const struct api_netconf *nc, uint32_t i, char *buf, size_t cap,
                          struct err *e);

#endif
