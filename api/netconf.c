/* The cluster's network settings (see api/netconf.h). */
#include "api/netconf.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_cidr_parse(const char *s, uint32_t *net, int *len, struct err *e)
{
    char ip[20], *end;
    const char *slash = s ? strchr(s, '/') : NULL;
    struct in_addr a;
    long n;

    if (slash == NULL || (size_t)(slash - s) >= sizeof ip)
        return err_setf(e, ERR_INVALID, "\"%s\": not an IPv4 CIDR (a.b.c.d/n)", s ? s : "");
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    n = strtol(slash + 1, &end, 10);
    if (inet_pton(AF_INET, ip, &a) != 1 || slash[1] == '\0' || *end != '\0' || n < 0 || n > 32)
        return err_setf(e, ERR_INVALID, "\"%s\": not an IPv4 CIDR (a.b.c.d/n)", s);
    *len = (int)n;
    *net = ntohl(a.s_addr) & (n == 0 ? 0 : 0xffffffffu << (32 - n));
    return 0;
}

static void fmt_cidr(uint32_t net, int len, char *buf, size_t cap)
{
    snprintf(buf, cap, "%u.%u.%u.%u/%d", net >> 24, (net >> 16) & 255, (net >> 8) & 255, net & 255,
             len);
}

void api_netconf_defaults(struct api_netconf *nc)
{
    memset(nc, 0, sizeof *nc);
    snprintf(nc->cluster_cidr, sizeof nc->cluster_cidr, "%s", API_DEFAULT_CLUSTER_CIDR);
    snprintf(nc->service_cidr, sizeof nc->service_cidr, "%s", API_DEFAULT_SERVICE_CIDR);
    nc->node_mask = API_DEFAULT_NODE_MASK;
}

int api_netconf_check(struct api_netconf *nc, struct err *e)
{
    uint32_t cnet, snet, cmask, smask;
    int clen, slen;

    if (api_cidr_parse(nc->cluster_cidr, &cnet, &clen, e) != 0)
        return err_wrapf(e, "--cluster-cidr");
    if (api_cidr_parse(nc->service_cidr, &snet, &slen, e) != 0)
        return err_wrapf(e, "--service-cidr");
    if (clen < 8 || clen > 28)
        return err_setf(e, ERR_INVALID, "--cluster-cidr: prefix /%d: want /8 to /28", clen);
    if (slen < 8 || slen > 28)
        return err_setf(e, ERR_INVALID, "--service-cidr: prefix /%d: want /8 to /28", slen);
    if (nc->node_mask <= clen || nc->node_mask > 28)
        return err_setf(e, ERR_INVALID,
                        "--node-cidr-mask-size: %d: want longer than the cluster prefix /%d and "
                        "at most 28",
                        nc->node_mask, clen);
    cmask = 0xffffffffu << (32 - clen);
    smask = 0xffffffffu << (32 - slen);
    if ((cnet & smask) == snet || (snet & cmask) == cnet)
        return err_setf(e, ERR_INVALID, "--service-cidr %s overlaps --cluster-cidr %s",
                        nc->service_cidr, nc->cluster_cidr);
    fmt_cidr(cnet, clen, nc->cluster_cidr, sizeof nc->cluster_cidr);
    fmt_cidr(snet, slen, nc->service_cidr, sizeof nc->service_cidr);
    return 0;
}

int api_netconf_encode(const struct api_netconf *nc, void **val, size_t *len, struct err *e)
{
    json_t *j = json_pack("{s:s, s:s, s:i}", "clusterCIDR", nc->cluster_cidr, "serviceCIDR",
                          nc->service_cidr, "nodeCIDRMaskSize", nc->node_mask);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (s == NULL)
        return err_setf(e, ERR_NOMEM, "netconf: out of memory");
    *val = s;
    *len = strlen(s);
    return 0;
}

int api_netconf_load(struct store *s, struct api_netconf *nc, struct err *e)
{
    struct store_kv kv;
    json_error_t je;
    const char *cc, *sc;
    json_int_t mask;
    json_t *j;
    int rv;

    api_netconf_defaults(nc);
    rv = store_get(s, API_NETCONF_KEY, &kv, e);
    if (rv == ERR_NOTFOUND) {
        err_clear(e);
        return 0;
    }
    if (rv != 0)
        return rv;
    j = json_loadb(kv.value, kv.value_len, 0, &je);
    store_kv_close(&kv);
    cc = json_string_value(json_object_get(j, "clusterCIDR"));
    sc = json_string_value(json_object_get(j, "serviceCIDR"));
    mask = json_integer_value(json_object_get(j, "nodeCIDRMaskSize"));
    if (cc == NULL || sc == NULL || mask <= 0 || mask > 32) {
        json_decref(j);
        return err_setf(e, ERR_INVALID, "%s: not a network config", API_NETCONF_KEY);
    }
    snprintf(nc->cluster_cidr, sizeof nc->cluster_cidr, "%s", cc);
    snprintf(nc->service_cidr, sizeof nc->service_cidr, "%s", sc);
    nc->node_mask = (int)mask;
    json_decref(j);
    return api_netconf_check(nc, e);
}

uint32_t api_netconf_node_cidrs(const struct api_netconf *nc)
{
    uint32_t net;
    int len;
    if (api_cidr_parse(nc->cluster_cidr, &net, &len, NULL) != 0 || nc->node_mask <= len ||
        nc->node_mask > 32)
        return 0;
    return nc->node_mask - len >= 32 ? 0xffffffffu : 1u << (nc->node_mask - len);
}

int api_netconf_node_cidr(const struct api_netconf *nc, uint32_t i, char *buf, size_t cap,
                          struct err *e)
{
    uint32_t net;
    int len;
    if (i >= api_netconf_node_cidrs(nc))
        return err_setf(e, ERR_NOTFOUND, "cluster CIDR %s: no pod CIDR left", nc->cluster_cidr);
    api_cidr_parse(nc->cluster_cidr, &net, &len, NULL);
    fmt_cidr(net + (i << (32 - nc->node_mask)), nc->node_mask, buf, cap);
    return 0;
}
