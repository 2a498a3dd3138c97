/* agent/svcrules: Services + Endpoints → one nftables transaction (see
 * svcrules.h). Every string written into the ruleset is either one of our
 * literals or checked here (DNS names, port names, addresses re-printed by
 * inet_ntop, integers), so an object cannot smuggle nft syntax in. */
#include "agent/svcrules.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cni.h"

#define NAME_MAX_LEN 253

/* One ready endpoint of a service port. */
struct ep {
    uint32_t ip; /* host order, for sorting */
    uint16_t port;
};

/* One service port: the unit the rules are made of. */
struct sport {
    char id[NAME_MAX_LEN + 64 + 32]; /* "ns/name/tcp/portname-or-number" */
    char proto[8];                   /* "tcp", "udp", "sctp" */
    uint32_t cluster_ip;             /* host order; 0: none */
    uint16_t port, node_port;        /* node_port 0: none */
    int affinity_s;                  /* 0: no session affinity */
    struct ep *eps;
    size_t n_eps;
};

struct build {
    struct sport *ports;
    size_t n, cap;
    struct agent__svc_stats *st;
    bool oom;
};

/* ---- checks ---- */

/* RFC 1123 subdomain (namespace and service names are labels, node names
 * subdomains: both pass). */
static bool dns_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > NAME_MAX_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

/* IANA_SVC_NAME as the API validates port names: [a-z0-9-], <= 15. */
static bool port_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n > 15)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

static bool ipv4(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

static const char *ipstr(uint32_t ip, char *buf)
{
    struct in_addr a = {htonl(ip)};
    return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* "a.b.c.d/n" normalised into buf; false when not one. */
static bool cidr_ok(const char *s, char *buf, size_t cap)
{
    char ip[INET_ADDRSTRLEN], *end;
    const char *slash = s ? strchr(s, '/') : NULL;
    uint32_t a;
    long bits;

    if (slash == NULL || (size_t)(slash - s) >= sizeof ip)
        return false;
    memcpy(ip, s, (size_t)(slash - s));
    ip[slash - s] = '\0';
    bits = strtol(slash + 1, &end, 10);
    if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > 32 || !ipv4(ip, &a))
        return false;
    a &= bits == 0 ? 0 : ~0u << (32 - bits);
    return snprintf(buf, cap, "%s/%ld", ipstr(a, ip), bits) < (int)cap;
}

static const char *proto_of(const json_t *p)
{
    const char *s = p ? json_string_value(p) : "TCP";
    if (s == NULL)
        return NULL;
    if (strcmp(s, "TCP") == 0)
        return "tcp";
    if (strcmp(s, "UDP") == 0)
        return "udp";
    if (strcmp(s, "SCTP") == 0)
        return "sctp";
    return NULL;
}

static int port_of(const json_t *v)
{
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : -1;
    return n >= 1 && n <= 65535 ? (int)n : -1;
}

static void skip(struct build *b, const char *fmt, const char *ns, const char *name,
                 const char *why)
{
    b->st->skipped++;
    if (b->st->skip_reason[0] == '\0')
        snprintf(b->st->skip_reason, sizeof b->st->skip_reason, fmt, ns ? ns : "?",
                 name ? name : "?", why);
}

/* ---- endpoints index ---- */

struct epref {
    const char *ns, *name;
    const json_t *obj;
};

static int epref_cmp(const void *a, const void *b)
{
    const struct epref *x = a, *y = b;
    int c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->name, y->name);
}

static const char *meta_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(json_object_get(o, "metadata"), k));
}

static int ep_cmp(const void *a, const void *b)
{
    const struct ep *x = a, *y = b;
    if (x->ip != y->ip)
        return x->ip < y->ip ? -1 : 1;
    return (int)x->port - (int)y->port;
}

/* The ready endpoints of service port (name, proto) from an Endpoints object:
 * every addresses[].ip of each subset with a port of that name and
 * protocol, at that port. Sorted and deduplicated. */
static void collect_eps(struct build *b, struct sport *sp, const char *pname, const json_t *epobj,
                        const char *ns, const char *name)
{
    const json_t *subset, *p, *a;
    size_t i, j, k, cap = 0;

    json_array_foreach (json_object_get(epobj, "subsets"), i, subset) {
        json_array_foreach (json_object_get(subset, "ports"), j, p) {
            const char *n = json_string_value(json_object_get(p, "name"));
            const char *pr = proto_of(json_object_get(p, "protocol"));
            int port = port_of(json_object_get(p, "port"));
            if (strcmp(n ? n : "", pname) != 0 || pr == NULL || strcmp(pr, sp->proto) != 0)
                continue;
            if (port < 0) {
                skip(b, "endpoints %s/%s: %s", ns, name, "subsets[].ports[].port: out of range");
                continue;
            }
            json_array_foreach (json_object_get(subset, "addresses"), k, a) {
                uint32_t ip;
                if (!ipv4(json_string_value(json_object_get(a, "ip")), &ip)) {
                    skip(b, "endpoints %s/%s: %s", ns, name,
                         "subsets[].addresses[].ip: not an IPv4 address");
                    continue;
                }
                if (sp->n_eps == cap) {
                    struct ep *q = realloc(sp->eps, (cap ? cap * 2 : 4) * sizeof *q);
                    if (q == NULL) {
                        b->oom = true;
                        return;
                    }
                    sp->eps = q;
                    cap = cap ? cap * 2 : 4;
                }
                sp->eps[sp->n_eps++] = (struct ep){ip, (uint16_t)port};
            }
        }
    }
    if (sp->n_eps > 1) {
        size_t w = 1;
        qsort(sp->eps, sp->n_eps, sizeof *sp->eps, ep_cmp);
        for (i = 1; i < sp->n_eps; i++)
            if (ep_cmp(&sp->eps[i], &sp->eps[w - 1]) != 0)
                sp->eps[w++] = sp->eps[i];
        sp->n_eps = w;
    }
}

/* ---- services ---- */

static struct sport *add_port(struct build *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct sport *p = realloc(b->ports, cap * sizeof *p);
        if (p == NULL) {
            b->oom = true;
            return NULL;
        }
        b->ports = p;
        b->cap = cap;
    }
    memset(&b->ports[b->n], 0, sizeof b->ports[b->n]);
    return &b->ports[b->n++];
}

static int affinity_of(const json_t *spec)
{
    const json_t *t;
    if (strcmp(json_string_value(json_object_get(spec, "sessionAffinity")) ?: "", "ClientIP") != 0)
        return 0;
    t = json_object_get(json_object_get(json_object_get(spec, "sessionAffinityConfig"), "clientIP"),
                        "timeoutSeconds");
    if (json_is_integer(t) && json_integer_value(t) > 0 && json_integer_value(t) <= 86400)
        return (int)json_integer_value(t);
    return AGENT_SVC_AFFINITY_S;
}

/* Checks one service port and appends it; false when the whole service
 * must be skipped. */
static bool add_service_port(struct build *b, const char *ns, const char *name, uint32_t cip,
                             int affinity, const json_t *p, size_t idx, const json_t *epobj)
{
    const char *pname = json_string_value(json_object_get(p, "name"));
    const char *proto = proto_of(json_object_get(p, "protocol"));
    int port = port_of(json_object_get(p, "port"));
    const json_t *np = json_object_get(p, "nodePort");
    struct sport *sp;
    char why[64];

    pname = pname ? pname : "";
    snprintf(why, sizeof why, "spec.ports[%zu]: invalid name, protocol or port", idx);
    if (!port_name_ok(pname) || proto == NULL || port < 0 ||
        (np != NULL && !json_is_null(np) && port_of(np) < 0 && json_integer_value(np) != 0)) {
        skip(b, "service %s/%s: %s", ns, name, why);
        return false;
    }
    sp = add_port(b);
    if (sp == NULL)
        return false;
    snprintf(sp->id, sizeof sp->id, "%s/%s/%s/", ns, name, proto);
    if (*pname != '\0')
        snprintf(sp->id + strlen(sp->id), sizeof sp->id - strlen(sp->id), "%s", pname);
    else
        snprintf(sp->id + strlen(sp->id), sizeof sp->id - strlen(sp->id), "%d", port);
    snprintf(sp->proto, sizeof sp->proto, "%s", proto);
    sp->cluster_ip = cip;
    sp->port = (uint16_t)port;
    sp->node_port = port_of(np) > 0 ? (uint16_t)port_of(np) : 0;
    sp->affinity_s = affinity;
    if (epobj != NULL)
        collect_eps(b, sp, pname, epobj, ns, name);
    return !b->oom;
}

static void add_service(struct build *b, const json_t *svc, const struct epref *idx, size_t n_idx)
{
    const char *ns = meta_str(svc, "namespace"), *name = meta_str(svc, "name");
    const json_t *spec = json_object_get(svc, "spec"), *p;
    const char *type = json_string_value(json_object_get(spec, "type"));
    const char *cip_s = json_string_value(json_object_get(spec, "clusterIP"));
    struct epref key = {ns, name, NULL}, *hit;
    size_t i, first = b->n;
    uint32_t cip = 0;

    if (!dns_name_ok(ns) || !dns_name_ok(name) || !json_is_object(spec)) {
        skip(b, "service %s/%s: %s", ns, name, "metadata.name/namespace or spec: invalid");
        return;
    }
    if ((type != NULL && strcmp(type, "ExternalName") == 0) || cip_s == NULL || *cip_s == '\0' ||
        strcmp(cip_s, "None") == 0)
        return; /* headless / ExternalName / not allocated yet: no VIP to program */
    if (!ipv4(cip_s, &cip)) {
        skip(b, "service %s/%s: %s", ns, name, "spec.clusterIP: not an IPv4 address");
        return;
    }
    hit = n_idx ? bsearch(&key, idx, n_idx, sizeof *idx, epref_cmp) : NULL;
    json_array_foreach (json_object_get(spec, "ports"), i, p) {
        if (!add_service_port(b, ns, name, cip, affinity_of(spec), p, i, hit ? hit->obj : NULL)) {
            /* drop the ports of this service added so far */
            for (size_t j = first; j < b->n; j++)
                free(b->ports[j].eps);
            b->n = first;
            return;
        }
    }
    if (b->n > first)
        b->st->services++;
}

static int sport_cmp(const void *a, const void *b)
{
    return strcmp(((const struct sport *)a)->id, ((const struct sport *)b)->id);
}

/* ---- writing ---- */

static void ep_chain(char *buf, size_t cap, const char *prefix, const struct sport *sp,
                     const struct ep *ep)
{
    char ip[INET_ADDRSTRLEN];
    snprintf(buf, cap, "%s-%s/%s/%u", prefix, sp->id, ipstr(ep->ip, ip), ep->port);
}

enum map { MAP_SERVICE_IPS, MAP_NODEPORTS, MAP_NO_EP_SERVICES, MAP_NO_EP_NODEPORTS };

static const struct {
    const char *name, *type;
} maps[] = {
    {"service-ips", "ipv4_addr . inet_proto . inet_service"},
    {"service-nodeports", "inet_proto . inet_service"},
    {"no-endpoint-services", "ipv4_addr . inet_proto . inet_service"},
    {"no-endpoint-nodeports", "inet_proto . inet_service"},
};

/* One verdict map: service ports with endpoints go to their chains, the
 * others to the reject chain; ClusterIP keys, or NodePort keys for ports
 * that have one. An empty map has no elements line (nft refuses "{ }"). */
static void write_map(FILE *f, const struct build *b, enum map m)
{
    bool reject = m == MAP_NO_EP_SERVICES || m == MAP_NO_EP_NODEPORTS;
    bool nodeport = m == MAP_NODEPORTS || m == MAP_NO_EP_NODEPORTS;
    const char *sep = "\t\telements = { ";
    char ip[INET_ADDRSTRLEN];

    fprintf(f, "\tmap %s {\n\t\ttype %s : verdict\n", maps[m].name, maps[m].type);
    for (size_t i = 0; i < b->n; i++) {
        const struct sport *sp = &b->ports[i];
        if ((sp->n_eps == 0) != reject || (nodeport && sp->node_port == 0))
            continue;
        if (nodeport)
            fprintf(f, "%s%s . %u : goto ", sep, sp->proto, sp->node_port);
        else
            fprintf(f, "%s%s . %s . %u : goto ", sep, ipstr(sp->cluster_ip, ip), sp->proto,
                    sp->port);
        if (reject)
            fprintf(f, "reject-chain");
        else
            fprintf(f, "%s-%s", nodeport ? "ext" : "svc", sp->id);
        sep = ",\n\t\t\t     ";
    }
    fprintf(f, "%s\t}\n", sep[0] == ',' ? " }\n" : "");
}

static void write_maps(FILE *f, const struct build *b, const struct agent__svc_node *node)
{
    const char *sep = "\t\telements = { ";

    fprintf(f, "\tset nodeport-ips {\n\t\ttype ipv4_addr\n");
    for (size_t i = 0; i < node->n_addresses; i++, sep = ", ")
        fprintf(f, "%s%s", sep, node->addresses[i]);
    fprintf(f, "%s\t}\n", node->n_addresses ? " }\n" : "");
    for (int m = MAP_SERVICE_IPS; m <= MAP_NO_EP_NODEPORTS; m++)
        write_map(f, b, (enum map)m);
}

/* The fixed part: hooks, the no-endpoint check, masquerading. Filter
 * chains run at -110, before nat's DNAT (-100), as kube-proxy's do. */
static void write_base(FILE *f, const char *pod_cidr, const char *cluster_cidr)
{
    fprintf(f, "\tchain nat-prerouting {\n"
               "\t\ttype nat hook prerouting priority -100; policy accept;\n"
               "\t\tjump services\n\t}\n"
               "\tchain nat-output {\n"
               "\t\ttype nat hook output priority -100; policy accept;\n"
               "\t\tjump services\n\t}\n"
               "\tchain nat-postrouting {\n"
               "\t\ttype nat hook postrouting priority 100; policy accept;\n"
               "\t\tjump masquerading\n");
    /* pods reach each other (on any node) with their own addresses, as
     * Kubernetes requires; only traffic leaving the cluster CIDR is
     * masqueraded (the CNI bridge's ipMasq would NAT pod-to-pod traffic
     * between nodes too) */
    if (pod_cidr != NULL && cluster_cidr != NULL)
        fprintf(f, "\t\tip saddr %s ip daddr != %s masquerade fully-random\n", pod_cidr,
                cluster_cidr);
    fprintf(f, "\t}\n"
               "\tchain filter-input {\n"
               "\t\ttype filter hook input priority -110; policy accept;\n"
               "\t\tct state new jump endpoints-check\n\t}\n"
               "\tchain filter-forward {\n"
               "\t\ttype filter hook forward priority -110; policy accept;\n"
               "\t\tct state new jump endpoints-check\n\t}\n"
               "\tchain filter-output {\n"
               "\t\ttype filter hook output priority -110; policy accept;\n"
               "\t\tct state new jump endpoints-check\n\t}\n"
               "\tchain endpoints-check {\n"
               "\t\tip daddr . meta l4proto . th dport vmap @no-endpoint-services\n"
               "\t\tip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports\n"
               "\t}\n"
               "\tchain reject-chain {\n\t\treject\n\t}\n"
               "\tchain mark-for-masquerade {\n"
               "\t\tmeta mark set meta mark or " AGENT_SVC_MASQ_MARK "\n\t}\n"
               "\tchain masquerading {\n"
               "\t\tmeta mark & " AGENT_SVC_MASQ_MARK " == 0 return\n"
               "\t\tmeta mark set meta mark xor " AGENT_SVC_MASQ_MARK "\n"
               "\t\tmasquerade fully-random\n\t}\n"
               "\tchain services {\n"
               "\t\tip daddr . meta l4proto . th dport vmap @service-ips\n"
               "\t\tip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports\n"
               "\t}\n");
}

static void write_port(FILE *f, const struct sport *sp, const char *pod_cidr,
                       const char *cluster_cidr)
{
    char ip[INET_ADDRSTRLEN], chain[sizeof sp->id + 48];
    size_t i;

    for (i = 0; i < sp->n_eps && sp->affinity_s > 0; i++) {
        ep_chain(chain, sizeof chain, "aff", sp, &sp->eps[i]);
        fprintf(f,
                "\tset %s {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n"
                "\t\ttimeout %ds\n\t}\n",
                chain, sp->affinity_s);
    }
    fprintf(f, "\tchain svc-%s {\n", sp->id);
    if (cluster_cidr != NULL)
        fprintf(f, "\t\tip daddr %s ip saddr != %s jump mark-for-masquerade\n",
                ipstr(sp->cluster_ip, ip), cluster_cidr);
    for (i = 0; i < sp->n_eps && sp->affinity_s > 0; i++) {
        char ep[sizeof chain];
        ep_chain(chain, sizeof chain, "aff", sp, &sp->eps[i]);
        ep_chain(ep, sizeof ep, "ep", sp, &sp->eps[i]);
        fprintf(f, "\t\tip saddr @%s goto %s\n", chain, ep);
    }
    if (sp->n_eps == 1) {
        ep_chain(chain, sizeof chain, "ep", sp, &sp->eps[0]);
        fprintf(f, "\t\tgoto %s\n", chain);
    } else {
        fprintf(f, "\t\tnumgen random mod %zu vmap {", sp->n_eps);
        for (i = 0; i < sp->n_eps; i++) {
            ep_chain(chain, sizeof chain, "ep", sp, &sp->eps[i]);
            fprintf(f, "%s%zu : goto %s", i ? ",\n\t\t\t" : " ", i, chain);
        }
        fprintf(f, " }\n");
    }
    fprintf(f, "\t}\n");
    if (sp->node_port != 0) {
        fprintf(f, "\tchain ext-%s {\n", sp->id);
        if (pod_cidr != NULL)
            fprintf(f, "\t\tip saddr != %s jump mark-for-masquerade\n", pod_cidr);
        else
            fprintf(f, "\t\tjump mark-for-masquerade\n");
        fprintf(f, "\t\tgoto svc-%s\n\t}\n", sp->id);
    }
    for (i = 0; i < sp->n_eps; i++) {
        const struct ep *ep = &sp->eps[i];
        ep_chain(chain, sizeof chain, "ep", sp, ep);
        fprintf(f, "\tchain %s {\n", chain);
        /* hairpin: the endpoint reaching its own service must see the reply
         * come from the node, not from itself */
        fprintf(f, "\t\tip saddr %s jump mark-for-masquerade\n", ipstr(ep->ip, ip));
        if (sp->affinity_s > 0) {
            ep_chain(chain, sizeof chain, "aff", sp, ep);
            fprintf(f, "\t\tupdate @%s { ip saddr }\n", chain);
        }
        fprintf(f, "\t\tmeta l4proto %s dnat to %s:%u\n\t}\n", sp->proto, ipstr(ep->ip, ip),
                ep->port);
    }
}

int agent__svc_table_name(const char *node, char *buf, size_t cap, struct err *e)
{
    if (!dns_name_ok(node) || strlen(node) > 200)
        return err_setf(e, ERR_INVALID, "node name: not a DNS subdomain: \"%s\"", node ? node : "");
    if (snprintf(buf, cap, AGENT_SVC_TABLE_PREFIX "%s", node) >= (int)cap)
        return err_setf(e, ERR_INVALID, "node name: too long");
    return 0;
}

static int check_node(const struct agent__svc_node *node, char *table, size_t tcap, char *pod_cidr,
                      char *cluster_cidr, size_t ccap, struct err *e)
{
    uint32_t a;
    int rv = agent__svc_table_name(node->name, table, tcap, e);
    if (rv != 0)
        return rv;
    if (node->pod_cidr != NULL && !cidr_ok(node->pod_cidr, pod_cidr, ccap))
        return err_setf(e, ERR_INVALID, "pod cidr: not an IPv4 CIDR");
    if (node->cluster_cidr != NULL && !cidr_ok(node->cluster_cidr, cluster_cidr, ccap))
        return err_setf(e, ERR_INVALID, "cluster cidr: not an IPv4 CIDR");
    if (node->n_addresses > AGENT_SVC_NODE_IPS_MAX)
        return err_setf(e, ERR_INVALID, "node addresses: more than %d", AGENT_SVC_NODE_IPS_MAX);
    for (size_t i = 0; i < node->n_addresses; i++) {
        char canon[INET_ADDRSTRLEN];
        if (!ipv4(node->addresses[i], &a) || strcmp(ipstr(a, canon), node->addresses[i]) != 0)
            return err_setf(e, ERR_INVALID, "node addresses[%zu]: not an IPv4 address", i);
    }
    return 0;
}

static int index_endpoints(const json_t *endpoints, struct epref **out, size_t *n)
{
    const json_t *o;
    size_t i;

    *out = NULL;
    *n = 0;
    if (json_array_size(endpoints) == 0)
        return 0;
    *out = calloc(json_array_size(endpoints), sizeof **out);
    if (*out == NULL)
        return -1;
    json_array_foreach (endpoints, i, o) {
        const char *ns = meta_str(o, "namespace"), *name = meta_str(o, "name");
        if (ns != NULL && name != NULL)
            (*out)[(*n)++] = (struct epref){ns, name, o};
    }
    qsort(*out, *n, sizeof **out, epref_cmp);
    return 0;
}

int agent__svc_ruleset(const struct agent__svc_node *node, const json_t *services,
                       const json_t *endpoints, char **out, struct agent__svc_stats *st,
                       struct err *e)
{
    char table[256], pod_cidr[32], cluster_cidr[32], *text = NULL;
    struct agent__svc_stats st_local;
    struct build b = {0};
    struct epref *idx = NULL;
    size_t n_idx, i, len = 0;
    const json_t *svc;
    FILE *f;
    int rv;

    st = st ? st : &st_local;
    memset(st, 0, sizeof *st);
    b.st = st;
    rv = check_node(node, table, sizeof table, pod_cidr, cluster_cidr, sizeof pod_cidr, e);
    if (rv != 0)
        return rv;
    if (index_endpoints(endpoints, &idx, &n_idx) != 0)
        return err_setf(e, ERR_NOMEM, "service rules: out of memory");
    json_array_foreach (services, i, svc) {
        add_service(&b, svc, idx, n_idx);
        if (b.oom)
            break;
    }
    free(idx);
    if (b.oom) {
        rv = err_setf(e, ERR_NOMEM, "service rules: out of memory");
        goto out;
    }
    if (b.n > 1)
        qsort(b.ports, b.n, sizeof *b.ports, sport_cmp);
    f = open_memstream(&text, &len);
    if (f == NULL) {
        rv = err_setf(e, ERR_NOMEM, "service rules: out of memory");
        goto out;
    }
    fprintf(f, "table ip %s\ndelete table ip %s\ntable ip %s {\n", table, table, table);
    write_maps(f, &b, node);
    write_base(f, node->pod_cidr ? pod_cidr : NULL, node->cluster_cidr ? cluster_cidr : NULL);
    for (i = 0; i < b.n; i++) {
        st->ports++;
        st->endpoints += b.ports[i].n_eps;
        st->rejects += b.ports[i].n_eps == 0;
        if (b.ports[i].n_eps > 0)
            write_port(f, &b.ports[i], node->pod_cidr ? pod_cidr : NULL,
                       node->cluster_cidr ? cluster_cidr : NULL);
    }
    fprintf(f, "}\n");
    if (ferror(f) | fclose(f)) {
        free(text);
        rv = err_setf(e, ERR_NOMEM, "service rules: out of memory");
        goto out;
    }
    *out = text;
out:
    for (i = 0; i < b.n; i++)
        free(b.ports[i].eps);
    free(b.ports);
    return rv;
}

/* ---- applying ---- */

static int run_nft(const char *nft, const char *text, int timeout_ms, const char *what,
                   struct err *e)
{
    const char *argv[] = {nft ? nft : "nft", "-f", "-", NULL};
    struct agent__netexec x = {argv, NULL, text, strlen(text), timeout_ms};
    struct agent__netexec_out out;
    int rv = agent__netexec_run(&x, &out, e);

    if (rv == 0 && out.exit_code != 0) {
        /* nft prints the failing line and a caret line; the first two lines
         * carry the message */
        int n = (int)strcspn(out.err, "\n");
        if (out.err[n] == '\n')
            n += 1 + (int)strcspn(out.err + n + 1, "\n");
        rv = err_setf(e, ERR_IO, "nft exit %d: %.*s", out.exit_code, n, out.err);
    }
    agent__netexec_out_close(&out);
    if (rv != 0)
        err_wrapf(e, "%s", what);
    return rv;
}

int agent__svc_apply(const char *nft, const char *ruleset, int timeout_ms, struct err *e)
{
    return run_nft(nft, ruleset, timeout_ms, "apply service rules", e);
}

int agent__svc_remove(const char *nft, const char *node, int timeout_ms, struct err *e)
{
    char table[256], text[600];
    int rv = agent__svc_table_name(node, table, sizeof table, e);
    if (rv != 0)
        return rv;
    /* create-if-missing first, so deleting a table that is gone succeeds */
    snprintf(text, sizeof text, "table ip %s\ndelete table ip %s\n", table, table);
    return run_nft(nft, text, timeout_ms, "remove service rules", e);
}
