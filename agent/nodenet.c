/* The node's side of the cluster network (see agent/nodenet.h). */
#include "agent/nodenet.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/cni.h"
#include "agent/dns.h"
#include "agent/netroutes.h"
#include "agent/svcrules.h"
#include "api/api.h"
#include "api/netconf.h"
#include "lib/log.h"

#define NODES_PREFIX     "/registry/minions/"
#define SERVICES_PREFIX  "/registry/services/"
#define SPECS_PREFIX     "/registry/services/specs/"
#define ENDPOINTS_PREFIX "/registry/services/endpoints/"
#define EXEC_TIMEOUT_MS  10000

struct job {
    uv_work_t req;
    struct agent__nodenet *n;
    /* in */
    bool do_bridge;
    char pod_cidr[24], gw[16], bridge[16];
    char conf_dir[PATH_MAX], ipam_dir[PATH_MAX];
    struct agent__route *routes; /* owned */
    size_t n_routes;
    char *routes_sig; /* owned; NULL: routes unchanged */
    char *rules;      /* owned; NULL: rules unchanged */
    const char *old_rules; /* the text applied last (n->rules, untouched while the job runs) */
    bool incremental, diff_failed; /* out: how the rules went in */
    /* out */
    int rv_bridge, rv_routes, rv_rules;
    struct err e_bridge, e_routes, e_rules;
};

struct agent__nodenet {
    uv_loop_t *loop;
    struct store *store;
    char node[256], node_ip[64], bridge[16];
    char conf_dir[PATH_MAX], ipam_dir[PATH_MAX];
    json_t *nodes, *services, *endpoints; /* store key -> object */
    struct store_watch wn, ws;
    bool wn_on, ws_on;
    uv_timer_t timer;
    bool timer_closed;
    struct job *busy; /* the job in flight */
    bool again;       /* something changed while it ran */
    /* what is in place */
    char bridge_cidr[24]; /* pod CIDR the bridge and conflist were made for */
    char gw[16];          /* its gateway, "" before */
    char *routes_sig;     /* routes last synced */
    char *rules;          /* ruleset last applied */
    struct agent__dns *dns;
    bool dns_closing;
    bool closing;
    void (*close_cb)(void *);
    void *close_data;
};

void agent__nodenet_bridge(const char *node, char buf[16])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)node; *p; p++)
        h = (h ^ *p) * 16777619u;
    snprintf(buf, 16, "skb%08x", h);
}

const char *agent__nodenet_dns(const struct agent__nodenet *n)
{
    return n != NULL && n->gw[0] != '\0' ? n->gw : NULL;
}

const char *agent__nodenet_conf_dir(const struct agent__nodenet *n)
{
    return n->conf_dir;
}

json_t *agent__nodenet_services(const struct agent__nodenet *n, const char *ns)
{
    json_t *out = json_array(), *v;
    char prefix[512];
    const char *key;
    size_t len = (size_t)snprintf(prefix, sizeof prefix, "%s%s/", SPECS_PREFIX, ns);
    if (out == NULL)
        return NULL;
    json_object_foreach (n->services, key, v)
        if (strncmp(key, prefix, len) == 0)
            json_array_append(out, v);
    return out;
}

/* ---- the pass ---- */

static const char *spec_str(const json_t *o, const char *f)
{
    return json_string_value(json_object_get(json_object_get(o, "spec"), f));
}

static const char *internal_ip(const json_t *node)
{
    size_t i;
    json_t *a;
    json_array_foreach (json_object_get(json_object_get(node, "status"), "addresses"), i, a) {
        const char *t = json_string_value(json_object_get(a, "type"));
        if (t != NULL && strcmp(t, "InternalIP") == 0)
            return json_string_value(json_object_get(a, "address"));
    }
    return NULL;
}

/* Is ip an address of this network namespace (or loopback)? Then the node
 * holding it shares our namespace and its bridge is directly connected. */
static bool local_address(const char *ip)
{
    struct ifaddrs *ifs, *i;
    struct in_addr want;
    bool found = false;
    if (inet_pton(AF_INET, ip, &want) != 1)
        return true; /* unusable as a gateway anyway */
    if ((ntohl(want.s_addr) >> 24) == 127)
        return true;
    if (getifaddrs(&ifs) != 0)
        return false;
    for (i = ifs; i != NULL && !found; i = i->ifa_next)
        if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET &&
            ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == want.s_addr)
            found = true;
    freeifaddrs(ifs);
    return found;
}

static const char *own_pod_cidr(struct agent__nodenet *n)
{
    char key[STORE_KEY_MAX + 1];
    snprintf(key, sizeof key, "%s%s", NODES_PREFIX, n->node);
    return spec_str(json_object_get(n->nodes, key), "podCIDR");
}

/* Routes wanted, with a signature to tell whether they changed. */
static int want_routes(struct agent__nodenet *n, struct job *j)
{
    const char *key;
    json_t *node;
    size_t cap = json_object_size(n->nodes) + 1, sig_len = 0;
    char *sig;

    j->routes = calloc(cap, sizeof *j->routes);
    sig = calloc(cap, 48);
    if (j->routes == NULL || sig == NULL) {
        free(sig);
        return ERR_NOMEM;
    }
    json_object_foreach (n->nodes, key, node) {
        const char *cidr = spec_str(node, "podCIDR"), *ip = internal_ip(node);
        struct agent__route r;
        struct err e;
        if (strcmp(key + strlen(NODES_PREFIX), n->node) == 0 || cidr == NULL || ip == NULL ||
            local_address(ip))
            continue;
        memset(&r, 0, sizeof r);
        snprintf(r.dst, sizeof r.dst, "%s", cidr);
        snprintf(r.via, sizeof r.via, "%s", ip);
        if (agent__route_check(&r, &e) != 0)
            continue;
        j->routes[j->n_routes++] = r;
        sig_len += (size_t)sprintf(sig + sig_len, "%s>%s;", r.dst, r.via);
    }
    if (n->routes_sig != NULL && strcmp(n->routes_sig, sig) == 0) {
        free(sig);
        return 0;
    }
    j->routes_sig = sig;
    return 0;
}

static json_t *values(json_t *map)
{
    json_t *a = json_array(), *v;
    const char *k;
    json_object_foreach (map, k, v)
        json_array_append(a, v);
    return a;
}

static int want_rules(struct agent__nodenet *n, const char *pod_cidr, struct job *j)
{
    struct api_netconf nc;
    const char *addrs[1] = {n->node_ip};
    struct agent__svc_node sn = {n->node, pod_cidr, NULL, addrs, 1};
    struct agent__svc_stats st;
    json_t *svcs = values(n->services), *eps = values(n->endpoints);
    char *text = NULL;
    struct err e;
    int rv;

    if (api_netconf_load(n->store, &nc, &e) == 0)
        sn.cluster_cidr = nc.cluster_cidr;
    rv = agent__svc_ruleset(&sn, svcs, eps, &text, &st, &e);
    json_decref(svcs);
    json_decref(eps);
    if (rv != 0) {
        LOG_WARN("agent", "svc_rules_failed", "node=%s err=\"%s\"", n->node, e.msg);
        return rv;
    }
    if (st.skipped > 0)
        LOG_DEBUG("agent", "svc_skipped", "count=%zu first=\"%s\"", st.skipped, st.skip_reason);
    if (n->rules != NULL && strcmp(n->rules, text) == 0) {
        free(text);
        return 0;
    }
    j->rules = text;
    j->old_rules = n->rules;
    return 0;
}

/* Runs ip; its stdout into *stdout_text (owned) when asked. */
static int run_ip_out(const char *const *argv, char **stdout_text, struct err *e)
{
    struct agent__netexec x = {argv, NULL, NULL, 0, EXEC_TIMEOUT_MS};
    struct agent__netexec_out out;
    int rv = agent__netexec_run(&x, &out, e);
    if (rv != 0 && rv != ERR_TIMEOUT)
        return rv;
    if (rv == 0 && out.exit_code != 0) {
        size_t l = strcspn(out.err, "\n");
        rv = err_setf(e, ERR_IO, "%s %s %s: %.*s", argv[0], argv[1], argv[2], (int)l, out.err);
    }
    if (rv == 0 && stdout_text != NULL) {
        *stdout_text = out.out;
        out.out = NULL;
    }
    agent__netexec_out_close(&out);
    return rv;
}

static int run_ip(const char *const *argv, struct err *e)
{
    return run_ip_out(argv, NULL, e);
}

/* Gives the bridge exactly the address want ("10.244.1.1/24"): the bridge
 * plugin refuses a bridge holding another one (a CIDR of an earlier
 * cluster on this machine), and replacing an address that is already right
 * would cut the pods running on it for a moment. */
static int bridge_addr(const char *bridge, const char *want, struct err *e)
{
    const char *show[] = {"ip", "-4", "-o", "addr", "show", "dev", bridge, NULL};
    const char *flush[] = {"ip", "-4", "addr", "flush", "dev", bridge, NULL};
    const char *add[] = {"ip", "addr", "add", want, "dev", bridge, NULL};
    char *text = NULL, needle[48], *p;
    bool ok = false, other = false;
    int rv = run_ip_out(show, &text, e);
    if (rv != 0)
        return rv;
    snprintf(needle, sizeof needle, "inet %s ", want);
    for (p = text; p != NULL && (p = strstr(p, "inet ")) != NULL; p += 5) {
        if (strncmp(p, needle, strlen(needle)) == 0)
            ok = true;
        else
            other = true;
    }
    free(text);
    if (ok && !other)
        return 0;
    if (other && (rv = run_ip(flush, e)) != 0)
        return rv;
    return run_ip(add, e);
}

static void write_proc(const char *path, const char *v)
{
    FILE *f = fopen(path, "w");
    if (f != NULL) {
        fputs(v, f);
        fclose(f);
    }
}

/* Thread pool: bridge + forwarding + conflist, routes, rules. */
static void job_work(uv_work_t *req)
{
    struct job *j = req->data;
    if (j->do_bridge) {
        char addr[32];
        int plen = atoi(strchr(j->pod_cidr, '/') + 1);
        const char *add[] = {"ip", "link", "add", j->bridge, "type", "bridge", NULL};
        const char *up[] = {"ip", "link", "set", j->bridge, "up", NULL};
        const char *show[] = {"ip", "link", "show", j->bridge, NULL};
        struct err e2;
        snprintf(addr, sizeof addr, "%s/%d", j->gw, plen);
        if (run_ip(show, &e2) != 0)
            j->rv_bridge = run_ip(add, &j->e_bridge);
        if (j->rv_bridge == 0)
            j->rv_bridge = bridge_addr(j->bridge, addr, &j->e_bridge);
        if (j->rv_bridge == 0)
            j->rv_bridge = run_ip(up, &j->e_bridge);
        if (j->rv_bridge == 0)
            j->rv_bridge = agent__ip_forward(true, &j->e_bridge);
        /* bridged pod-to-pod replies of a Service connection must pass
         * conntrack to be un-DNATed; best effort (not every kernel has it) */
        write_proc("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
        if (j->rv_bridge == 0)
            j->rv_bridge = agent__cni_write_default(j->conf_dir, j->pod_cidr, j->bridge,
                                                    j->ipam_dir, &j->e_bridge);
    }
    if (j->routes_sig != NULL)
        j->rv_routes = agent__routes_sync(NULL, j->routes, j->n_routes, EXEC_TIMEOUT_MS,
                                          &j->e_routes);
    if (j->rules != NULL) {
        /* an update changes a few chains and elements: send only those;
         * anything unexpected (the first apply, a changed frame, nft
         * refusing the update because the table drifted) gets the whole
         * table, which always converges */
        char *diff = NULL;
        struct err e2;
        j->rv_rules = ERR_INVALID;
        if (j->old_rules != NULL && agent__svc_diff(j->old_rules, j->rules, &diff, &e2) == 0) {
            j->rv_rules = agent__svc_apply(NULL, diff, EXEC_TIMEOUT_MS, &j->e_rules);
            j->diff_failed = j->rv_rules != 0;
            j->incremental = j->rv_rules == 0;
        }
        free(diff);
        if (j->rv_rules != 0)
            j->rv_rules = agent__svc_apply(NULL, j->rules, EXEC_TIMEOUT_MS, &j->e_rules);
    }
}

static void job_free(struct job *j)
{
    free(j->routes);
    free(j->routes_sig);
    free(j->rules);
    free(j);
}

static void maybe_closed(struct agent__nodenet *n);
static void schedule(struct agent__nodenet *n, uint64_t ms);

static int dns_lookup(void *data, const char *ns, const char *svc, struct agent__dns_records *out)
{
    struct agent__nodenet *n = data;
    char key[STORE_KEY_MAX + 1];
    const json_t *s, *ep, *ss, *a;
    const char *ip;
    struct in_addr in;
    size_t i, k;

    snprintf(key, sizeof key, "%s%s/%s", SPECS_PREFIX, ns, svc);
    if ((s = json_object_get(n->services, key)) == NULL)
        return ERR_NOTFOUND;
    out->n_ips = 0;
    ip = spec_str(s, "clusterIP");
    if (ip != NULL && strcmp(ip, "None") != 0 && ip[0] != '\0') {
        if (inet_pton(AF_INET, ip, &in) == 1)
            out->ips[out->n_ips++] = in.s_addr;
        return 0;
    }
    /* headless: the ready endpoints */
    snprintf(key, sizeof key, "%s%s/%s", ENDPOINTS_PREFIX, ns, svc);
    ep = json_object_get(n->endpoints, key);
    json_array_foreach (json_object_get(ep, "subsets"), i, ss)
        json_array_foreach (json_object_get(ss, "addresses"), k, a) {
            ip = json_string_value(json_object_get(a, "ip"));
            if (ip != NULL && out->n_ips < AGENT_DNS_IPS_MAX && inet_pton(AF_INET, ip, &in) == 1)
                out->ips[out->n_ips++] = in.s_addr;
        }
    return 0;
}

static void start_dns(struct agent__nodenet *n)
{
    struct agent__dns_config dc = {NULL, dns_lookup, n};
    struct err e;
    if (n->dns != NULL || n->dns_closing || n->gw[0] == '\0')
        return;
    if (agent__dns_new(n->loop, &dc, n->gw, AGENT_NODENET_DNS_PORT, &n->dns, &e) != 0) {
        LOG_WARN("agent", "dns_failed", "node=%s addr=%s err=\"%s\"", n->node, n->gw, e.msg);
        n->dns = NULL;
        schedule(n, AGENT_NODENET_RETRY_MS);
        return;
    }
    LOG_INFO("agent", "dns_started", "node=%s addr=%s:%d", n->node, n->gw,
             AGENT_NODENET_DNS_PORT);
}

static void job_done(uv_work_t *req, int status)
{
    struct job *j = req->data;
    struct agent__nodenet *n = j->n;
    bool retry = false;
    (void)status;
    n->busy = NULL;
    if (j->do_bridge) {
        if (j->rv_bridge == 0) {
            snprintf(n->bridge_cidr, sizeof n->bridge_cidr, "%s", j->pod_cidr);
            snprintf(n->gw, sizeof n->gw, "%s", j->gw);
            LOG_INFO("agent", "pod_network_ready", "node=%s cidr=%s bridge=%s gateway=%s",
                     n->node, j->pod_cidr, j->bridge, j->gw);
        } else {
            LOG_WARN("agent", "pod_network_failed", "node=%s err=\"%s\"", n->node,
                     j->e_bridge.msg);
            retry = true;
        }
    }
    if (j->routes_sig != NULL) {
        if (j->rv_routes == 0) {
            free(n->routes_sig);
            n->routes_sig = j->routes_sig;
            j->routes_sig = NULL;
        } else {
            LOG_WARN("agent", "routes_failed", "node=%s err=\"%s\"", n->node, j->e_routes.msg);
            retry = true;
        }
    }
    if (j->rules != NULL) {
        if (j->rv_rules == 0) {
            free(n->rules);
            n->rules = j->rules;
            j->rules = NULL;
            LOG_DEBUG("agent", "svc_rules_applied", "node=%s incremental=%d", n->node,
                      (int)j->incremental);
            if (j->diff_failed)
                /* nft refused the update (the table drifted, or a diff
                 * bug): the whole table went in instead */
                LOG_WARN("agent", "svc_rules_diff_refused", "node=%s err=\"%s\"", n->node,
                         j->e_rules.msg);
        } else {
            LOG_WARN("agent", "svc_rules_failed", "node=%s err=\"%s\"", n->node, j->e_rules.msg);
            retry = true;
        }
    }
    job_free(j);
    if (n->closing) {
        maybe_closed(n);
        return;
    }
    start_dns(n);
    if (n->again || retry)
        schedule(n, n->again ? AGENT_NODENET_DEBOUNCE_MS : AGENT_NODENET_RETRY_MS);
    n->again = false;
}

static void pass(uv_timer_t *t)
{
    struct agent__nodenet *n = t->data;
    const char *cidr = own_pod_cidr(n);
    struct job *j;
    uint32_t net;
    int len;
    struct err e;

    if (n->closing)
        return;
    if (n->busy != NULL) {
        n->again = true;
        return;
    }
    if ((j = calloc(1, sizeof *j)) == NULL) {
        schedule(n, AGENT_NODENET_RETRY_MS);
        return;
    }
    j->n = n;
    j->req.data = j;
    if (cidr != NULL && strcmp(cidr, n->bridge_cidr) != 0) {
        if (api_cidr_parse(cidr, &net, &len, &e) != 0 || len > 30) {
            LOG_WARN("agent", "pod_cidr_invalid", "node=%s cidr=%s", n->node, cidr);
        } else {
            uint32_t g = net + 1;
            j->do_bridge = true;
            snprintf(j->pod_cidr, sizeof j->pod_cidr, "%s", cidr);
            snprintf(j->gw, sizeof j->gw, "%u.%u.%u.%u", g >> 24, (g >> 16) & 255, (g >> 8) & 255,
                     g & 255);
            snprintf(j->bridge, sizeof j->bridge, "%s", n->bridge);
            snprintf(j->conf_dir, sizeof j->conf_dir, "%s", n->conf_dir);
            snprintf(j->ipam_dir, sizeof j->ipam_dir, "%s", n->ipam_dir);
        }
    }
    if (want_routes(n, j) != 0 || want_rules(n, cidr, j) != 0) {
        job_free(j);
        schedule(n, AGENT_NODENET_RETRY_MS);
        return;
    }
    if (!j->do_bridge && j->routes_sig == NULL && j->rules == NULL) {
        job_free(j);
        return;
    }
    n->busy = j;
    if (uv_queue_work(n->loop, &j->req, job_work, job_done) != 0) {
        n->busy = NULL;
        job_free(j);
        schedule(n, AGENT_NODENET_RETRY_MS);
    }
}

static void schedule(struct agent__nodenet *n, uint64_t ms)
{
    if (n->closing)
        return;
    /* a change soon after another: the earlier deadline stands */
    if (uv_is_active((uv_handle_t *)&n->timer) && uv_timer_get_due_in(&n->timer) <= ms)
        return;
    uv_timer_start(&n->timer, pass, ms, 0);
}

/* ---- the replica ---- */

static json_t *map_for(struct agent__nodenet *n, const char *key)
{
    if (strncmp(key, NODES_PREFIX, strlen(NODES_PREFIX)) == 0)
        return n->nodes;
    if (strncmp(key, SPECS_PREFIX, strlen(SPECS_PREFIX)) == 0)
        return n->services;
    if (strncmp(key, ENDPOINTS_PREFIX, strlen(ENDPOINTS_PREFIX)) == 0)
        return n->endpoints;
    return NULL;
}

static void put(struct agent__nodenet *n, const char *key, const void *val, size_t len,
                uint64_t rev)
{
    json_t *map = map_for(n, key), *obj;
    struct err e;
    if (map == NULL || api_object_decode(val, len, rev, &obj, &e) != 0)
        return;
    json_object_set_new(map, key, obj);
}

static int list_one(const struct store_kv *kv, void *data)
{
    put(data, kv->key, kv->value, kv->value_len, kv->mod_rev);
    return 0;
}

/* The replica jumped to a Raft snapshot: reload what this watch follows. */
static void reload(struct agent__nodenet *n, struct store_watch *w)
{
    const char *prefix = w == &n->wn ? NODES_PREFIX : SERVICES_PREFIX;
    json_t *maps[3] = {n->nodes, n->services, n->endpoints};
    uint64_t rev;
    struct err e;
    for (int i = 0; i < 3; i++) {
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(maps[i], tmp, key, v)
        {
            if (strncmp(key, prefix, strlen(prefix)) == 0)
                json_object_del(maps[i], key);
        }
    }
    if (store_range_each(n->store, prefix, 1000, list_one, n, &rev, &e) != 0)
        LOG_ERROR("agent", "net_reload_failed", "node=%s err=\"%s\"", n->node, e.msg);
    schedule(n, AGENT_NODENET_DEBOUNCE_MS);
}

static void on_event(struct store_watch *w, const struct store_event *ev)
{
    struct agent__nodenet *n = w->data;
    json_t *map;
    if (ev->type == STORE_EVENT_RESET) {
        reload(n, w);
        return;
    }
    map = map_for(n, ev->kv.key);
    if (map == NULL)
        return;
    if (ev->type == STORE_EVENT_DELETE)
        json_object_del(map, ev->kv.key);
    else
        put(n, ev->kv.key, ev->kv.value, ev->kv.value_len, ev->kv.mod_rev);
    schedule(n, AGENT_NODENET_DEBOUNCE_MS);
}

static int watch(struct agent__nodenet *n, struct store_watch *w, const char *prefix, bool *on,
                 struct err *e)
{
    uint64_t rev;
    int rv = store_range_each(n->store, prefix, 1000, list_one, n, &rev, e);
    if (rv != 0)
        return rv;
    w->data = n;
    rv = store_watch_start(n->store, w, prefix, rev, on_event, e);
    *on = rv == 0;
    return rv;
}

/* ---- life cycle ---- */

static void free_n(struct agent__nodenet *n)
{
    json_decref(n->nodes);
    json_decref(n->services);
    json_decref(n->endpoints);
    free(n->routes_sig);
    free(n->rules);
    free(n);
}

int agent__nodenet_new(uv_loop_t *loop, struct store *s, const struct agent__nodenet_config *cfg,
                       struct agent__nodenet **out, struct err *e)
{
    struct agent__nodenet *n = calloc(1, sizeof *n);
    int rv;

    *out = NULL;
    if (n == NULL)
        return err_setf(e, ERR_NOMEM, "nodenet: out of memory");
    n->loop = loop;
    n->store = s;
    snprintf(n->node, sizeof n->node, "%s", cfg->node_name);
    snprintf(n->node_ip, sizeof n->node_ip, "%s", cfg->node_ip ? cfg->node_ip : "127.0.0.1");
    agent__nodenet_bridge(n->node, n->bridge);
    snprintf(n->conf_dir, sizeof n->conf_dir, "%s/cni", cfg->dir);
    mkdir(cfg->dir, 0755);
    mkdir(n->conf_dir, 0755); /* DIR/cni: net.d (conflist), ipam, cache */
    snprintf(n->conf_dir, sizeof n->conf_dir, "%s/cni/net.d", cfg->dir);
    snprintf(n->ipam_dir, sizeof n->ipam_dir, "%s/cni/ipam", cfg->dir);
    n->nodes = json_object();
    n->services = json_object();
    n->endpoints = json_object();
    uv_timer_init(loop, &n->timer);
    n->timer.data = n;
    rv = watch(n, &n->wn, NODES_PREFIX, &n->wn_on, e);
    if (rv == 0)
        rv = watch(n, &n->ws, SERVICES_PREFIX, &n->ws_on, e);
    if (rv != 0) {
        agent__nodenet_close(n, NULL, NULL);
        return rv;
    }
    schedule(n, 0);
    *out = n;
    return 0;
}

static void maybe_closed(struct agent__nodenet *n)
{
    void (*cb)(void *) = n->close_cb;
    void *data = n->close_data;
    if (n->busy != NULL || !n->timer_closed || n->dns != NULL || n->dns_closing)
        return;
    free_n(n);
    if (cb != NULL)
        cb(data);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct agent__nodenet *n = h->data;
    n->timer_closed = true;
    maybe_closed(n);
}

static void on_dns_closed(void *data)
{
    struct agent__nodenet *n = data;
    n->dns_closing = false;
    maybe_closed(n);
}

void agent__nodenet_close(struct agent__nodenet *n, void (*cb)(void *data), void *data)
{
    n->closing = true;
    n->close_cb = cb;
    n->close_data = data;
    if (n->wn_on)
        store_watch_stop(&n->wn);
    if (n->ws_on)
        store_watch_stop(&n->ws);
    n->wn_on = n->ws_on = false;
    if (n->dns != NULL) {
        n->dns_closing = true;
        agent__dns_close(n->dns, on_dns_closed, n);
        n->dns = NULL;
    }
    uv_close((uv_handle_t *)&n->timer, on_timer_closed);
}
