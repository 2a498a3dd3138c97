/* The daemon subcommands: skiff init, skiff join, skiff run.
 *
 * Data dir layout (0700):
 *   node.json          this node's identity and settings (name, raft id, addresses, tuning)
 *   pki/ca.crt         the cluster CA certificate
 *   pki/node.crt/.key  this node's certificate (peer mTLS and API TLS)
 *   store/             the LMDB replica
 *   raft/              the raft log and snapshots
 *   admin.kubeconfig   (init only) admin credentials
 *   join-token         (init only) the first join token
 */
#include "cli/cli.h"

#include <curl/curl.h>
#include <jansson.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/rand.h>

#include "agent/agent.h"
#include "agent/metrics.h"
#include "api/api.h"
#include "api/netconf.h"
#include "cli/daemon.h"
#include "cli/hpa_metrics.h"
#include "consensus/consensus.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "sched/sched.h"
#include "store/store.h"

struct daemon {
    uv_loop_t loop;
    struct store *store;
    struct cons *cons;
    struct api *api;
    struct sched *sched;
    struct agent *agent;
    struct agent_metrics *metrics;      /* NULL until running */
    struct cli_hpa_metrics hpa_metrics; /* the HPA controller's source (read from threads) */
    uv_signal_t sigint, sigterm;
    uv_timer_t trim;
    uv_timer_t stop_watchdog;
    uint64_t trim_seen_rev;
    char data_dir[1024];
    struct node_conf conf;
    bool bootstrapping; /* init: write the first objects once leader */
    struct api_netconf netconf; /* init: the cluster's network settings */
    struct cons_propose boot;
    char *boot_token; /* init: the first join token, written to DIR/join-token */
    char *admin_token;
    int exit_code;
    bool stopping;
};

/* ---- the running node ---- */

static void on_cons_closed(void *data)
{
    struct daemon *d = data;
    d->cons = NULL;
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->trim, NULL);
    uv_close((uv_handle_t *)&d->stop_watchdog, NULL);
}

static void on_sched_closed(void *data)
{
    struct daemon *d = data;
    d->sched = NULL;
    if (d->cons)
        cons_close(d->cons, on_cons_closed, d);
    else
        on_cons_closed(d);
}

static void on_agent_closed(void *data)
{
    struct daemon *d = data;
    d->agent = NULL;
    if (d->sched)
        sched_close(d->sched, on_sched_closed, d);
    else
        on_sched_closed(d);
}

/* stop order: api, agent, sched, consensus (each closes after the one
 * that uses it) */
static void on_api_closed(void *data)
{
    struct daemon *d = data;
    d->api = NULL;
    agent_metrics_close(d->metrics); /* frees itself once its walk is done */
    d->metrics = NULL;
    if (d->agent)
        agent_close(d->agent, on_agent_closed, d);
    else
        on_agent_closed(d);
}

/* api_metrics_fn: the sampler starts after the api, so NULL until then */
static json_t *metrics_snapshot(void *data)
{
    struct daemon *d = data;
    return agent_metrics_snapshot(d->metrics);
}

/* Memory policy of a long-running node: once the store has been idle for a
 * couple of seconds, give back what bursts (snapshots, request floods) left
 * in the heap and unmap LMDB pages (they stay in the page cache), so an idle
 * node's RSS is its working set rather than every page it ever touched. */
#define TRIM_CHECK_MS 2000

static void on_trim(uv_timer_t *t)
{
    struct daemon *d = t->data;
    uint64_t rev = store_revision(d->store);
    if (rev != d->trim_seen_rev) { /* busy since the last check: wait */
        d->trim_seen_rev = rev;
        return;
    }
    /* again at every check while idle: background work (an idle snapshot,
     * a follower catching up) touches pages too, and an idle trim costs
     * about a millisecond */
    store_trim(d->store);
    malloc_trim(0);
}

static void memory_policy(void)
{
    /* Fixed thresholds: glibc's dynamic mmap threshold grows after the first
     * large free, after which multi-MB snapshot buffers stay in the heap for
     * good; and per-thread arenas keep the thread pool's peaks. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 2);
}

/* A clean stop takes milliseconds; if something keeps it from finishing,
 * say so and exit rather than hang a supervisor's restart. */
#define STOP_DEADLINE_MS 5000

static void on_stop_watchdog(uv_timer_t *t)
{
    struct daemon *d = t->data;
    size_t conns = 0, reqs = 0;
    bool listener = false;
    if (d->api != NULL)
        api_stats(d->api, &conns, &reqs, &listener);
    LOG_ERROR("node", "stop_stuck",
              "after_ms=%d api=%s consensus=%s api_conns=%zu api_reqs=%zu api_listener=%s",
              STOP_DEADLINE_MS, d->api ? "closing" : "closed", d->cons ? "closing" : "closed",
              conns, reqs, listener ? "closing" : "closed");
    _exit(1);
}

static void daemon_stop(struct daemon *d, int code)
{
    if (d->stopping)
        return;
    d->stopping = true;
    d->exit_code = code;
    LOG_INFO("node", "stopping", "code=%d", code);
    uv_timer_start(&d->stop_watchdog, on_stop_watchdog, STOP_DEADLINE_MS, 0);
    uv_unref((uv_handle_t *)&d->stop_watchdog); /* never the reason the loop runs */
    if (d->api)
        api_close(d->api, on_api_closed, d);
    else
        on_api_closed(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    LOG_INFO("node", "signal", "signal=%d", signum);
    if (d->stopping) { /* a second signal: the operator wants out now */
        LOG_WARN("node", "forced_exit", "signal=%d", signum);
        _exit(1);
    }
    daemon_stop(d, 0);
}

/* init: once this (single) node leads, write the cluster's first objects. */
static void on_boot_done(struct cons_propose *req, int status)
{
    struct daemon *d = req->data;
    char path[1200];
    struct err e;
    if (status != 0 || req->result.failed_cmp >= 0) {
        LOG_ERROR("node", "init_failed", "err=\"%s\"",
                  status ? req->err.msg : "cluster objects already exist");
        daemon_stop(d, 1);
        return;
    }
    cli__path_join(path, sizeof path, d->data_dir, "join-token");
    if (cli__file_write(path, d->boot_token, 0600, &e) != 0) {
        LOG_ERROR("node", "init_failed", "err=\"%s\"", e.msg);
        daemon_stop(d, 1);
        return;
    }
    OPENSSL_cleanse(d->boot_token, strlen(d->boot_token));
    /* the marker that init completed: skiff run refuses a half-made node */
    cli__path_join(path, sizeof path, d->data_dir, "initialized");
    cli__file_write(path, "ok\n", 0600, &e);
    LOG_INFO("node", "cluster_initialized", "node=%s rev=%llu", d->conf.name,
             (unsigned long long)req->result.rev);
    fprintf(stderr,
            "\nskiff: cluster created.\n  admin kubeconfig: %s/admin.kubeconfig\n"
            "  join token:       %s/join-token\n"
            "  add a node:       skiff join --server %s:%d --token $(cat %s/join-token)\n\n",
            d->data_dir, d->data_dir, d->conf.advertise, cli__port_of(d->conf.api_listen),
            d->data_dir);
}

static long boot_token_ttl_s = 24 * 3600;

struct boot_kv {
    char key[STORE_KEY_MAX + 1];
    void *val;
    size_t len;
    bool owned;
};

static int boot_propose(struct daemon *d, struct err *e)
{
    static const char *const namespaces[] = {"default", "kube-system", "kube-public",
                                             "kube-node-lease"};
    struct boot_kv kv[10];
    struct store_cmp cmps[10];
    struct store_op ops[10];
    struct store_txn txn = {cmps, 10, ops, 10};
    char path[1200], *ca_key = NULL, *ca_cert = NULL, peer[128], apiaddr[128];
    struct pki_token t;
    json_t *node = NULL;
    const char *addrs[1];
    int rv, n = 0;

    memset(kv, 0, sizeof kv);
    cli__path_join(path, sizeof path, d->data_dir, "pki/ca.key");
    rv = pki_key_load(path, &ca_key, e);
    cli__path_join(path, sizeof path, d->data_dir, "pki/ca.crt");
    if (rv == 0)
        rv = pki_cert_load(path, &ca_cert, e);
    if (rv != 0)
        goto out;
    /* 0: the CA key, replicated so that any node can sign joining nodes */
    snprintf(kv[n].key, sizeof kv[n].key, "%s", API_CA_KEY);
    kv[n].val = ca_key;
    kv[n].len = strlen(ca_key);
    n++;
    /* 1: the admin bearer token (its hash is the key) */
    rv = api_admin_token_key(d->admin_token, kv[n].key, sizeof kv[n].key, e);
    if (rv != 0)
        goto out;
    kv[n].val = strdup("admin");
    kv[n].len = 5;
    kv[n].owned = true;
    n++;
    /* 2: the first join token */
    rv = pki_token_new(ca_cert, &t, e);
    if (rv != 0)
        goto out;
    d->boot_token = malloc(PKI_TOKEN_SIZE);
    pki_token_format(&t, d->boot_token);
    rv = api_token_kv(&t, (int64_t)time(NULL) + boot_token_ttl_s, "bootstrap", kv[n].key,
                      sizeof kv[n].key, &kv[n].val, &kv[n].len, e);
    pki_token_wipe(&t);
    if (rv != 0)
        goto out;
    kv[n].owned = true;
    n++;
    /* 3: this node's member record, 4: its Node object */
    cli__addr_fmt(peer, sizeof peer, d->conf.advertise, d->conf.peer_listen);
    cli__addr_fmt(apiaddr, sizeof apiaddr, d->conf.advertise, d->conf.api_listen);
    snprintf(kv[n].key, sizeof kv[n].key, "%s%s", CONS_MEMBER_PREFIX, d->conf.name);
    rv = cons_member_encode(d->conf.name, d->conf.id, peer, apiaddr, &kv[n].val, &kv[n].len, e);
    if (rv != 0)
        goto out;
    kv[n].owned = true;
    n++;
    addrs[0] = peer;
    rv = api_node_build(d->conf.name, addrs, 1, &node, e);
    if (rv == 0)
        rv = api_node_kv(node, kv[n].key, sizeof kv[n].key, &kv[n].val, &kv[n].len, e);
    json_decref(node);
    if (rv != 0)
        goto out;
    kv[n].owned = true;
    n++;
    /* 5: the network settings (api/netconf.h) */
    snprintf(kv[n].key, sizeof kv[n].key, "%s", API_NETCONF_KEY);
    rv = api_netconf_encode(&d->netconf, &kv[n].val, &kv[n].len, e);
    if (rv != 0)
        goto out;
    kv[n].owned = true;
    n++;
    /* 6..9: the namespaces every Kubernetes cluster has */
    for (size_t i = 0; i < sizeof namespaces / sizeof namespaces[0]; i++) {
        rv =
            api_namespace_kv(namespaces[i], kv[n].key, sizeof kv[n].key, &kv[n].val, &kv[n].len, e);
        if (rv != 0)
            goto out;
        kv[n].owned = true;
        n++;
    }
    for (int i = 0; i < n; i++) {
        cmps[i] = (struct store_cmp){STORE_CMP_ABSENT, kv[i].key, 0};
        ops[i] = (struct store_op){STORE_OP_PUT, kv[i].key, kv[i].val, kv[i].len};
    }
    d->boot.data = d;
    rv = cons_propose(d->cons, &d->boot, &txn, 10000, on_boot_done);
    if (rv != 0)
        *e = d->boot.err;
out:
    for (int i = 0; i < n; i++)
        if (kv[i].owned)
            free(kv[i].val);
    pki_key_pem_free(ca_key);
    free(ca_cert);
    return rv;
}

static void on_leader(void *data, bool leader)
{
    struct daemon *d = data;
    struct err e;
    if (!leader || !d->bootstrapping)
        return;
    d->bootstrapping = false;
    if (boot_propose(d, &e) != 0) {
        LOG_ERROR("node", "init_failed", "err=\"%s\"", e.msg);
        daemon_stop(d, 1);
    }
}

static int daemon_run(struct daemon *d, bool bootstrap, struct err *e)
{
    char store_dir[1200], cert[1200], key[1200], ca[1200], peer[128], apiaddr[128];
    struct cons_config cc;
    struct api_config ac;
    struct store_opts so;
    int rv;

    log_set_node(d->conf.name);
    cli__path_join(store_dir, sizeof store_dir, d->data_dir, "store");
    cli__path_join(cert, sizeof cert, d->data_dir, "pki/node.crt");
    cli__path_join(key, sizeof key, d->data_dir, "pki/node.key");
    cli__path_join(ca, sizeof ca, d->data_dir, "pki/ca.crt");
    cli__addr_fmt(peer, sizeof peer, d->conf.advertise, d->conf.peer_listen);
    cli__addr_fmt(apiaddr, sizeof apiaddr, d->conf.advertise, d->conf.api_listen);

    memory_policy();
    memset(&so, 0, sizeof so);
    /* The raft log is fsync'ed before anything is acknowledged, and replay
     * re-applies what LMDB lost in a crash (the applied index lives in the
     * same LMDB txn), so the store itself need not sync every commit. */
    so.no_sync = true;
    /* tests stand in for /proc/sys/kernel/random/boot_id to act out a reboot */
    so.boot_id_path = getenv("SKIFF_TEST_BOOT_ID_FILE");
    so.map_size_bytes = (size_t)d->conf.store_mb << 20;
    rv = store_open(store_dir, &so, &d->store, e);
    if (rv != 0)
        return rv;
    uv_loop_init(&d->loop);
    /* handles first: every exit path below closes them (on_cons_closed) */
    uv_signal_init(&d->loop, &d->sigint);
    uv_signal_init(&d->loop, &d->sigterm);
    uv_timer_init(&d->loop, &d->trim);
    uv_timer_init(&d->loop, &d->stop_watchdog);
    d->sigint.data = d->sigterm.data = d;
    d->trim.data = d->stop_watchdog.data = d;
    memset(&cc, 0, sizeof cc);
    cc.data_dir = d->data_dir;
    cc.name = d->conf.name;
    cc.id = d->conf.id;
    cc.peer_address = peer;
    cc.peer_bind = d->conf.peer_listen;
    cc.api_address = apiaddr;
    cc.cert_file = cert;
    cc.key_file = key;
    cc.ca_file = ca;
    cc.election_timeout_ms = d->conf.election_ms;
    cc.heartbeat_ms = d->conf.heartbeat_ms;
    cc.snapshot_threshold = d->conf.snapshot_threshold;
    cc.max_voters = d->conf.voters;
    cc.dead_voter_ms = d->conf.dead_voter_ms;
    rv = cons_new(&d->loop, d->store, &cc, &d->cons, e);
    if (rv != 0) {
        on_cons_closed(d); /* closes the daemon's own handles */
        uv_run(&d->loop, UV_RUN_DEFAULT);
        goto out_loop;
    }
    cons_on_leader(d->cons, on_leader, d);
    {
        struct sched_config sc = {.node_grace_ms = d->conf.node_grace_ms,
                                  .pod_eviction_ms = d->conf.pod_eviction_ms};
        char agent_dir[1200];
        struct cli_hpa_metrics *hm = &d->hpa_metrics;
        /* the HPA asks this node's own API, which gathers from every node */
        snprintf(hm->api_addr, sizeof hm->api_addr, "%s", apiaddr);
        snprintf(hm->cert, sizeof hm->cert, "%s", cert);
        snprintf(hm->key, sizeof hm->key, "%s", key);
        snprintf(hm->ca, sizeof hm->ca, "%s", ca);
        snprintf(hm->fake_file, sizeof hm->fake_file, "%s", d->conf.fake_metrics);
        sc.pod_metrics = cli__hpa_pod_metrics;
        sc.pod_metrics_data = hm;
        sc.hpa_sync_ms = d->conf.hpa_sync_ms;
        sc.hpa_downscale_window_ms = d->conf.hpa_downscale_window_ms;
        struct agent_config agc = {d->conf.name,
                                   d->conf.fake_runtime,
                                   d->conf.capacity,
                                   d->conf.no_runtime ? NULL : agent_dir,
                                   d->conf.advertise,
                                   !d->conf.no_pod_network};
        cli__path_join(agent_dir, sizeof agent_dir, d->data_dir, "agent");
        rv = d->conf.no_controllers ? 0 : sched_new(&d->loop, d->cons, &sc, &d->sched, e);
        if (rv == 0)
            rv = agent_new(&d->loop, d->cons, &agc, &d->agent, e);
        if (rv != 0)
            goto out_cons;
    }
    if (bootstrap) {
        rv = cons_bootstrap(d->cons, e);
        if (rv != 0)
            goto out_cons;
    }
    memset(&ac, 0, sizeof ac);
    ac.listen = d->conf.api_listen;
    ac.cert_file = cert;
    ac.key_file = key;
    ac.ca_file = ca;
    ac.node_name = d->conf.name;
    ac.log_path = agent_log_path;
    ac.log_path_data = d->agent;
    if (!d->conf.fake_runtime && !d->conf.no_runtime) {
        ac.exec = agent_exec; /* needs only the runc root under the data dir */
        ac.exec_data = d->data_dir;
    }
    ac.metrics = metrics_snapshot;
    ac.metrics_data = d;
    rv = api_new(&d->loop, d->cons, &ac, &d->api, e);
    if (rv != 0)
        goto out_cons;
    if (d->sched != NULL) /* the api closes before the scheduler */
        rv = api_prom_add(d->api, sched_prom_write, d->sched, e);
    if (rv != 0)
        goto out_api;
    /* bind the API first: a port in use must fail before raft starts */
    rv = api_start(d->api, e);
    if (rv == 0)
        rv = cons_start(d->cons, e);
    if (rv != 0)
        goto out_api;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_timer_start(&d->trim, on_trim, TRIM_CHECK_MS, TRIM_CHECK_MS);
    {
        struct agent_metrics_config mc = {d->conf.name, (int)d->conf.metrics_period_ms, NULL,
                                          NULL};
        struct err me;
        /* no metrics is a degraded node, not a dead one */
        if (agent_metrics_new(&d->loop, &mc, &d->metrics, &me) != 0)
            LOG_WARN("node", "metrics_off", "node=%s err=\"%s\"", d->conf.name, me.msg);
    }
    LOG_INFO("node", "running", "node=%s api=%s peer=%s data_dir=%s", d->conf.name, apiaddr, peer,
             d->data_dir);
    uv_run(&d->loop, UV_RUN_DEFAULT);
    rv = d->exit_code;
    goto out_loop;

out_api:
    d->stopping = true;
    api_close(d->api, on_api_closed, d);
    d->api = NULL;
    uv_run(&d->loop, UV_RUN_DEFAULT);
    goto out_loop;
out_cons:
    if (d->agent)
        agent_close(d->agent, NULL, NULL);
    d->agent = NULL;
    if (d->sched)
        sched_close(d->sched, NULL, NULL);
    d->sched = NULL;
    cons_close(d->cons, on_cons_closed, d);
    uv_run(&d->loop, UV_RUN_DEFAULT);
out_loop:
    if (uv_loop_close(&d->loop) != 0)
        LOG_WARN("node", "loop_not_empty", "%s", "handles left open at exit");
    store_close(d->store);
    return rv;
}

/* ---- init ---- */

static int init_files(const char *dir, const struct node_conf *nc, char *admin_token,
                      size_t tok_size, struct err *e)
{
    char *ca_cert = NULL, *ca_key = NULL, *node_key = NULL, *node_cert = NULL, path[1200];
    char *admin_key = NULL, *admin_cert = NULL, server[128];
    struct pki_ca ca;
    const char *ips[2] = {nc->advertise, "127.0.0.1"};
    int rv;

    rv = pki_ca_new(&ca_cert, &ca_key, e);
    if (rv == 0)
        rv = pki_key_new(&node_key, e);
    ca.cert_pem = ca_cert;
    ca.key_pem = ca_key;
    if (rv == 0)
        rv = pki_node_cert_new(&ca, node_key, nc->name, ips, 2, &node_cert, e);
    cli__path_join(path, sizeof path, dir, "pki/ca.crt");
    if (rv == 0)
        rv = pki_cert_save(path, ca_cert, e);
    cli__path_join(path, sizeof path, dir, "pki/ca.key");
    if (rv == 0)
        rv = pki_key_save(path, ca_key, e);
    cli__path_join(path, sizeof path, dir, "pki/node.crt");
    if (rv == 0)
        rv = pki_cert_save(path, node_cert, e);
    cli__path_join(path, sizeof path, dir, "pki/node.key");
    if (rv == 0)
        rv = pki_key_save(path, node_key, e);
    cli__token_random(admin_token, tok_size);
    snprintf(server, sizeof server, "%s:%d", nc->advertise, cli__port_of(nc->api_listen));
    cli__path_join(path, sizeof path, dir, "admin.kubeconfig");
    /* the admin's client certificate (O=system:masters), next to the token */
    if (rv == 0)
        rv = pki_key_new(&admin_key, e);
    if (rv == 0)
        rv = pki_admin_cert_new(&ca, admin_key, &admin_cert, e);
    if (rv == 0)
        rv = cli_kubeconfig_write(path, server, ca_cert, admin_token, admin_cert, admin_key, e);
    if (rv == 0)
        rv = cli__conf_save(dir, nc, e);
    free(ca_cert);
    pki_key_pem_free(ca_key);
    pki_key_pem_free(node_key);
    free(node_cert);
    pki_key_pem_free(admin_key);
    free(admin_cert);
    return rv;
}

int cli_init(int argc, char **argv)
{
    struct opts o;
    struct daemon *d;
    struct err e;
    char path[1200], admin_token[64];
    int rv = cli__opts_parse("init", argc, argv, &o);
    if (rv != 0)
        return rv == 1 ? 0 : rv;
    d = calloc(1, sizeof *d);
    snprintf(d->data_dir, sizeof d->data_dir, "%s", o.data_dir);
    cli__path_join(path, sizeof path, o.data_dir, "node.json");
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "skiff init: %s already holds a node; use 'skiff run --data-dir %s'\n",
                o.data_dir, o.data_dir);
        free(d);
        return 1;
    }
    api_netconf_defaults(&d->netconf);
    if (o.cluster_cidr != NULL)
        snprintf(d->netconf.cluster_cidr, sizeof d->netconf.cluster_cidr, "%s", o.cluster_cidr);
    if (o.service_cidr != NULL)
        snprintf(d->netconf.service_cidr, sizeof d->netconf.service_cidr, "%s", o.service_cidr);
    if (o.node_mask != 0)
        d->netconf.node_mask = (int)o.node_mask;
    if ((o.cluster_cidr != NULL && strlen(o.cluster_cidr) >= sizeof d->netconf.cluster_cidr) ||
        (o.service_cidr != NULL && strlen(o.service_cidr) >= sizeof d->netconf.service_cidr)) {
        fprintf(stderr, "skiff init: --cluster-cidr/--service-cidr: not an IPv4 CIDR\n");
        free(d);
        return 2;
    }
    if (api_netconf_check(&d->netconf, &e) != 0 || cli__conf_from_opts(&o, &d->conf, &e) != 0) {
        fprintf(stderr, "skiff init: %s\n", e.msg);
        free(d);
        return 2;
    }
    if (cli__dirs_make(o.data_dir, &e) != 0) {
        fprintf(stderr, "skiff init: %s\n", e.msg);
        cli__node_files_remove(o.data_dir);
        free(d);
        return 1;
    }
    d->conf.id = cli__id_random();
    fprintf(stderr, "skiff init: creating cluster CA and node certificate in %s/pki\n", o.data_dir);
    if (init_files(o.data_dir, &d->conf, admin_token, sizeof admin_token, &e) != 0) {
        fprintf(stderr, "skiff init: %s\n", e.msg);
        cli__node_files_remove(o.data_dir);
        free(d);
        return 1;
    }
    d->admin_token = admin_token;
    d->bootstrapping = true;
    boot_token_ttl_s = o.token_ttl_s;
    rv = daemon_run(d, true, &e);
    if (rv != 0 && e.code != 0)
        fprintf(stderr, "skiff init: %s\n", e.msg);
    cli__path_join(path, sizeof path, o.data_dir, "initialized");
    if (rv != 0 && access(path, F_OK) != 0) {
        fprintf(stderr, "skiff init: the cluster was not created; removed what init wrote in %s\n",
                o.data_dir);
        cli__node_files_remove(o.data_dir);
    }
    OPENSSL_cleanse(admin_token, sizeof admin_token);
    if (d->boot_token) {
        OPENSSL_cleanse(d->boot_token, strlen(d->boot_token));
        free(d->boot_token);
    }
    free(d);
    return rv ? 1 : 0;
}

/* ---- run ---- */

int cli_run(int argc, char **argv)
{
    struct opts o;
    struct daemon *d;
    struct err e;
    char path[1200];
    int rv = cli__opts_parse("run", argc, argv, &o);
    if (rv != 0)
        return rv == 1 ? 0 : rv;
    d = calloc(1, sizeof *d);
    snprintf(d->data_dir, sizeof d->data_dir, "%s", o.data_dir);
    err_clear(&e);
    if (cli__conf_load(o.data_dir, &d->conf, &e) != 0) {
        fprintf(stderr, "skiff run: %s\n", e.msg);
        free(d);
        return 1;
    }
    cli__path_join(path, sizeof path, o.data_dir, "initialized");
    if (access(path, F_OK) != 0) {
        fprintf(stderr,
                "skiff run: %s: the node never finished init/join; remove the directory "
                "and init or join again\n",
                o.data_dir);
        free(d);
        return 1;
    }
    rv = daemon_run(d, false, &e);
    if (rv != 0 && e.code != 0)
        fprintf(stderr, "skiff run: %s\n", e.msg);
    free(d);
    return rv ? 1 : 0;
}

/* ---- join ---- */

struct membuf {
    char *p;
    size_t n;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *data)
{
    struct membuf *b = data;
    size_t n = size * nmemb;
    char *q;
    if (b->n + n > (4u << 20))
        return 0;
    q = realloc(b->p, b->n + n + 1);
    if (q == NULL)
        return 0;
    memcpy(q + b->n, ptr, n);
    b->p = q;
    b->n += n;
    b->p[b->n] = '\0';
    return n;
}

/* One HTTPS request. ca_pem NULL = no verification (only for fetching the CA,
 * which is then checked against the token's pinned hash). */
static int https(const char *url, const char *ca_pem, const char *body, long *code,
                 struct membuf *out, struct err *e)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    struct curl_blob blob;
    CURLcode rc;
    if (h == NULL)
        return err_setf(e, ERR_NOMEM, "curl: init failed");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (ca_pem == NULL) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        blob.data = (void *)ca_pem;
        blob.len = strlen(ca_pem);
        blob.flags = CURL_BLOB_COPY;
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (body != NULL) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (rc != CURLE_OK)
        return err_setf(e, ERR_UNAVAILABLE, "%s: %s", url, curl_easy_strerror(rc));
    return 0;
}

static int join_request(const struct opts *o, const struct node_conf *nc, const char *dir,
                        uint64_t *id, struct err *e)
{
    struct pki_token t;
    struct membuf b = {NULL, 0};
    char url[512], hash[PKI_HASH_SIZE], peer[128], apiaddr[128], path[1200];
    char *ca = NULL, *key = NULL, *csr = NULL, *req_body = NULL;
    json_t *resp = NULL;
    const char *cert, *msg;
    long code = 0;
    int rv;

    rv = pki_token_parse(o->token, &t, e);
    if (rv != 0)
        return err_wrapf(e, "--token");
    /* 1. discovery: fetch the CA unverified, then pin it by the token's hash */
    fprintf(stderr, "skiff join: fetching the cluster CA from %s\n", o->server);
    snprintf(url, sizeof url, "https://%s/skiff/v1/ca", o->server);
    rv = https(url, NULL, NULL, &code, &b, e);
    if (rv == 0 && code != 200)
        rv = err_setf(e, ERR_UNAVAILABLE, "%s: HTTP %ld", url, code);
    if (rv == 0)
        rv = pki_ca_hash(b.p, hash, e);
    if (rv != 0)
        goto out;
    if (!pki_hash_equal(hash, t.ca_hash)) {
        rv = err_setf(e, ERR_DENIED,
                      "server %s has a different cluster CA than the token pins (token: "
                      "sha256:%.12s..., server: sha256:%.12s...): refusing to join",
                      o->server, t.ca_hash, hash);
        goto out;
    }
    ca = b.p;
    b.p = NULL;
    b.n = 0;
    /* 2. key + CSR, join over TLS verified with the pinned CA */
    fprintf(stderr, "skiff join: CA verified (sha256:%.12s...); requesting a node certificate\n",
            hash);
    rv = pki_key_new(&key, e);
    if (rv == 0)
        rv = pki_csr_new(key, nc->name, &csr, e);
    if (rv != 0)
        goto out;
    cli__addr_fmt(peer, sizeof peer, nc->advertise, nc->peer_listen);
    cli__addr_fmt(apiaddr, sizeof apiaddr, nc->advertise, nc->api_listen);
    {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "token", o->token, "csr", csr, "peerAddress",
                              peer, "apiAddress", apiaddr);
        req_body = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    snprintf(url, sizeof url, "https://%s/skiff/v1/join", o->server);
    rv = https(url, ca, req_body, &code, &b, e);
    if (rv != 0)
        goto out;
    resp = b.p ? json_loads(b.p, 0, NULL) : NULL;
    if (code != 201) {
        msg = resp ? json_string_value(json_object_get(resp, "message")) : NULL;
        rv = err_setf(e, code == 401 || code == 403 ? ERR_DENIED : ERR_INVALID,
                      "join refused by %s (HTTP %ld): %s", o->server, code,
                      msg ? msg : "no reason given");
        goto out;
    }
    cert = json_string_value(json_object_get(resp, "certificate"));
    *id = (uint64_t)json_integer_value(json_object_get(resp, "id"));
    if (cert == NULL || *id == 0) {
        rv = err_setf(e, ERR_INVALID, "join: malformed answer from %s", o->server);
        goto out;
    }
    /* 3. persist: pki, then node.json last (its presence means "a node") */
    cli__path_join(path, sizeof path, dir, "pki/ca.crt");
    rv = pki_cert_save(path, ca, e);
    cli__path_join(path, sizeof path, dir, "pki/node.key");
    if (rv == 0)
        rv = pki_key_save(path, key, e);
    cli__path_join(path, sizeof path, dir, "pki/node.crt");
    if (rv == 0)
        rv = pki_cert_save(path, cert, e);
out:
    pki_token_wipe(&t);
    json_decref(resp);
    if (req_body) {
        OPENSSL_cleanse(req_body, strlen(req_body));
        free(req_body);
    }
    free(b.p);
    free(ca);
    pki_key_pem_free(key);
    free(csr);
    return rv;
}

int cli_join(int argc, char **argv)
{
    struct opts o;
    struct daemon *d;
    struct err e;
    char path[1200];
    int rv = cli__opts_parse("join", argc, argv, &o);
    if (rv != 0)
        return rv == 1 ? 0 : rv;
    if (o.server == NULL || o.token == NULL) {
        fprintf(stderr, "skiff join: --server and --token are required\n");
        cli__daemon_usage(stderr, "join");
        return 2;
    }
    d = calloc(1, sizeof *d);
    snprintf(d->data_dir, sizeof d->data_dir, "%s", o.data_dir);
    cli__path_join(path, sizeof path, o.data_dir, "node.json");
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "skiff join: %s already holds a node; use 'skiff run --data-dir %s'\n",
                o.data_dir, o.data_dir);
        free(d);
        return 1;
    }
    if (cli__conf_from_opts(&o, &d->conf, &e) != 0) {
        fprintf(stderr, "skiff join: %s\n", e.msg);
        free(d);
        return 2;
    }
    if (cli__dirs_make(o.data_dir, &e) != 0) {
        fprintf(stderr, "skiff join: %s\n", e.msg);
        cli__node_files_remove(o.data_dir);
        free(d);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rv = join_request(&o, &d->conf, o.data_dir, &d->conf.id, &e);
    curl_global_cleanup();
    if (rv == 0)
        rv = cli__conf_save(o.data_dir, &d->conf, &e);
    cli__path_join(path, sizeof path, o.data_dir, "initialized");
    if (rv == 0)
        rv = cli__file_write(path, "ok\n", 0600, &e);
    if (rv != 0) {
        fprintf(stderr, "skiff join: %s\n", e.msg);
        cli__node_files_remove(o.data_dir);
        free(d);
        return 1;
    }
    fprintf(stderr, "skiff join: joined as %s (id %llu); starting the node\n", d->conf.name,
            (unsigned long long)d->conf.id);
    rv = daemon_run(d, false, &e);
    if (rv != 0 && e.code != 0)
        fprintf(stderr, "skiff join: %s\n", e.msg);
    if (rv != 0)
        fprintf(stderr,
                "skiff join: the node is a member now; fix the problem and start it with "
                "'skiff run --data-dir %s'\n",
                o.data_dir);
    free(d);
    return rv ? 1 : 0;
}
