/* GET /metrics: this node's figures in the Prometheus text format 0.0.4.
 * There is no registry: every module keeps its counters in its own struct
 * and this handler gathers them at scrape time (consensus through
 * cons_metrics, the store through its accessors, the API from struct api,
 * modules above api through api_prom_add sources). Cluster gauges (pods by
 * phase, container restarts, ready nodes) come from this node's replica, so
 * every node answers without asking the leader. Admin and node identities
 * may scrape; anonymous clients get 401 like on every other route. */
#include "api/api.h"
#include "api/internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/prom.h"

/* A scrape walks the pods on the loop thread: past this many it stops and
 * says so (skiff_pods_scan_truncated) rather than stall the API. */
#define PROM_SCAN_MAX 50000

static const char *const verb_names[API_VERB__COUNT] = {"GET", "LIST",  "WATCH",  "POST",
                                                        "PUT", "PATCH", "DELETE", "OTHER"};

const char *api__prom_verb_name(int verb)
{
    return verb >= 0 && verb < API_VERB__COUNT ? verb_names[verb] : "OTHER";
}

int api_prom_add(struct api *a, api_prom_fn fn, void *data, struct err *e)
{
    struct api__prom *p = api__prom(a);
    if (p->n_src == API_PROM_SOURCES_MAX)
        return err_setf(e, ERR_NOMEM, "api: more than %d /metrics sources", API_PROM_SOURCES_MAX);
    p->src[p->n_src].fn = fn;
    p->src[p->n_src].data = data;
    p->n_src++;
    return 0;
}

/* The apiserver's LIST: a GET of a collection of a known kind,
 * /api/v1[/namespaces/NS]/RES or /apis/G/V[/namespaces/NS]/RES. */
static bool is_list(const char *path)
{
    char group[64] = "", res[64];
    const char *p = path, *end;
    size_t n;

    if (strncmp(p, "/api/v1/", 8) == 0) {
        p += 8;
    } else if (strncmp(p, "/apis/", 6) == 0) {
        p += 6;
        end = strchr(p, '/');
        if (end == NULL || (size_t)(end - p) >= sizeof group)
            return false;
        memcpy(group, p, (size_t)(end - p));
        group[end - p] = '\0';
        p = strchr(end + 1, '/'); /* skip the version */
        if (p == NULL)
            return false;
        p++;
    } else {
        return false;
    }
    /* namespaces/NS/RES: a namespaced collection; namespaces alone is one too */
    if (strncmp(p, "namespaces/", 11) == 0 && (end = strchr(p + 11, '/')) != NULL)
        p = end + 1;
    n = strcspn(p, "/");
    if (n == 0 || n >= sizeof res || (p[n] == '/' && p[n + 1] != '\0'))
        return false;
    memcpy(res, p, n);
    res[n] = '\0';
    return api_kind_by_resource(group, res) != NULL;
}

int api__prom_verb(const char *method, const char *path, const char *watch)
{
    const char *m = method ? method : "";
    if (strcmp(m, "GET") == 0) {
        if (watch != NULL && (strcmp(watch, "1") == 0 || strcmp(watch, "true") == 0))
            return API_VERB_WATCH;
        return path != NULL && is_list(path) ? API_VERB_LIST : API_VERB_GET;
    }
    if (strcmp(m, "POST") == 0)
        return API_VERB_POST;
    if (strcmp(m, "PUT") == 0)
        return API_VERB_PUT;
    if (strcmp(m, "PATCH") == 0)
        return API_VERB_PATCH;
    if (strcmp(m, "DELETE") == 0)
        return API_VERB_DELETE;
    return API_VERB_OTHER;
}

void api__prom_observe(struct api_req *r, int http_status)
{
    struct api__prom *p;
    int verb;
    size_t i;

    if (r->api == NULL) /* released from a closing api */
        return;
    p = api__prom(r->api);
    verb = api__prom_verb(r->method, r->path, api_req_query(r, "watch"));
    if (http_status < 100 || http_status > 599)
        http_status = 0;
    for (i = 0; i < p->n_reqs; i++)
        if (p->reqs[i].verb == verb && p->reqs[i].code == http_status)
            break;
    if (i == p->n_reqs) {
        if (p->n_reqs == API_PROM_SERIES_MAX) {
            /* bounded cardinality: an unusual pair lands in code="0" of the
             * last slot rather than growing the table */
            i = API_PROM_SERIES_MAX - 1;
        } else {
            p->reqs[i].verb = verb;
            p->reqs[i].code = http_status;
            p->reqs[i].n = 0;
            p->n_reqs++;
        }
    }
    p->reqs[i].n++;
    if (r->start_ns__ != 0)
        prom_hist_observe(&p->latency[verb], (double)(uv_hrtime() - r->start_ns__) / 1e9);
}

/* ---- raft and store ---- */

static void gauge_u64(struct buf *b, const char *name, const char *help, uint64_t v)
{
    prom_family(b, name, "gauge", help);
    prom_sample_u64(b, name, NULL, 0, v);
}

static void counter_u64(struct buf *b, const char *name, const char *help, uint64_t v)
{
    prom_family(b, name, "counter", help);
    prom_sample_u64(b, name, NULL, 0, v);
}

static void write_raft(struct buf *b, struct cons *c)
{
    struct cons_metrics m;
    cons_metrics(c, &m);
    gauge_u64(b, "skiff_raft_term", "Current Raft term on this node.", m.term);
    gauge_u64(b, "skiff_raft_commit_index", "Highest Raft log index known committed.",
              m.commit_index);
    gauge_u64(b, "skiff_raft_applied_index", "Highest Raft log index applied to the store here.",
              m.applied_index);
    gauge_u64(b, "skiff_raft_is_leader",
              "1 when this node is the Raft leader and has applied every committed entry.",
              m.is_leader ? 1 : 0);
    counter_u64(b, "skiff_raft_leader_changes_seen_total",
                "Leader changes this node has seen since it started.", m.leader_changes);
    counter_u64(b, "skiff_raft_proposals_total", "Proposals (writes) started on this node.",
                m.proposals);
    counter_u64(b, "skiff_raft_proposals_failed_total",
                "Proposals started on this node that were refused or failed.", m.proposals_failed);
    prom_family(b, "skiff_raft_proposal_duration_seconds", "histogram",
                "Time from a proposal on this node to its apply on this node's replica.");
    prom_hist_write(b, "skiff_raft_proposal_duration_seconds", NULL, 0, &m.propose_latency);
}

static void write_store(struct buf *b, struct store *s)
{
    uint64_t used, limit;
    store_usage(s, &used, &limit);
    gauge_u64(b, "skiff_store_size_bytes", "Bytes of the store's LMDB map in use (high-water).",
              used);
    gauge_u64(b, "skiff_store_quota_bytes", "Size of the store's LMDB map.", limit);
    gauge_u64(b, "skiff_store_revision", "Current store revision (resourceVersion).",
              store_revision(s));
    gauge_u64(b, "skiff_store_compact_revision", "Oldest revision a watch can resume from.",
              store_compact_revision(s));
    gauge_u64(b, "skiff_store_keys", "Keys in the store.", store_key_count(s));
}

/* ---- api ---- */

static void write_api(struct buf *b, struct api *a)
{
    struct api__prom *p = api__prom(a);
    size_t conns, reqs, v;
    bool listening;
    char code[8];

    prom_family(b, "skiff_api_requests_total", "counter",
                "API requests answered by this node, by verb and HTTP code (watch streams that "
                "started are counted in skiff_api_watches).");
    for (size_t i = 0; i < p->n_reqs; i++) {
        struct prom_label l[2] = {{"verb", api__prom_verb_name(p->reqs[i].verb)}, {"code", code}};
        snprintf(code, sizeof code, "%d", p->reqs[i].code);
        prom_sample_u64(b, "skiff_api_requests_total", l, 2, p->reqs[i].n);
    }
    prom_family(b, "skiff_api_request_duration_seconds", "histogram",
                "Time from a request's arrival to its reply, by verb.");
    for (v = 0; v < API_VERB__COUNT; v++) {
        struct prom_label l = {"verb", api__prom_verb_name((int)v)};
        if (p->latency[v].count > 0)
            prom_hist_write(b, "skiff_api_request_duration_seconds", &l, 1, &p->latency[v]);
    }
    api_stats(a, &conns, &reqs, &listening);
    gauge_u64(b, "skiff_api_watches", "Open watch streams on this node.", api__watch_count(a));
    gauge_u64(b, "skiff_api_connections", "Open client connections on this node.", conns);
    gauge_u64(b, "skiff_api_requests_in_flight", "Requests being served (watches included).", reqs);
}

/* ---- cluster objects, from this node's replica ---- */

static const char *const phases[] = {"Pending", "Running", "Succeeded", "Failed", "Unknown"};
#define N_PHASES (sizeof phases / sizeof phases[0])

struct scan {
    uint64_t pods[N_PHASES];
    uint64_t restarts;
    uint64_t nodes, nodes_ready;
    size_t seen;
    bool truncated;
};

static int scan_pod(const struct store_kv *kv, void *data)
{
    struct scan *sc = data;
    const json_t *status, *cs;
    const char *phase;
    json_t *pod = NULL, *c;
    struct err e;
    size_t i, k;

    if (++sc->seen > PROM_SCAN_MAX) {
        sc->truncated = true;
        return 1;
    }
    if (api_object_decode(kv->value, kv->value_len, kv->mod_rev, &pod, &e) != 0)
        return 0; /* not ours to judge here: the API reports it on reads */
    status = json_object_get(pod, "status");
    phase = json_string_value(json_object_get(status, "phase"));
    for (k = 0; k < N_PHASES - 1; k++)
        if (phase != NULL && strcmp(phase, phases[k]) == 0)
            break;
    /* a pod without a phase yet is Pending, as kubectl shows it */
    sc->pods[phase == NULL ? 0 : k]++;
    cs = json_object_get(status, "containerStatuses");
    json_array_foreach (cs, i, c) {
        json_int_t n = json_integer_value(json_object_get(c, "restartCount"));
        if (n > 0)
            sc->restarts += (uint64_t)n;
    }
    json_decref(pod);
    return 0;
}

static int scan_node(const struct store_kv *kv, void *data)
{
    struct scan *sc = data;
    const json_t *conds;
    json_t *node = NULL, *c;
    struct err e;
    size_t i;

    if (api_object_decode(kv->value, kv->value_len, kv->mod_rev, &node, &e) != 0)
        return 0;
    sc->nodes++;
    conds = json_object_get(json_object_get(node, "status"), "conditions");
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *st = json_string_value(json_object_get(c, "status"));
        if (t != NULL && st != NULL && strcmp(t, "Ready") == 0 && strcmp(st, "True") == 0)
            sc->nodes_ready++;
    }
    json_decref(node);
    return 0;
}

static void write_objects(struct buf *b, struct store *s)
{
    struct scan sc;
    uint64_t rev;
    struct err e;
    size_t k;

    memset(&sc, 0, sizeof sc);
    /* scan_pod's stop (truncated) comes back as its non-zero return */
    if (store_range_each(s, "/registry/pods/", 256, scan_pod, &sc, &rev, &e) != 0 && !sc.truncated)
        LOG_WARN("api", "metrics_scan", "prefix=/registry/pods/ err=\"%s\"", e.msg);
    if (store_range_each(s, API_NODE_PREFIX, 256, scan_node, &sc, &rev, &e) != 0)
        LOG_WARN("api", "metrics_scan", "prefix=%s err=\"%s\"", API_NODE_PREFIX, e.msg);
    prom_family(b, "skiff_pods", "gauge", "Pods in this node's replica, by status.phase.");
    for (k = 0; k < N_PHASES; k++) {
        struct prom_label l = {"phase", phases[k]};
        prom_sample_u64(b, "skiff_pods", &l, 1, sc.pods[k]);
    }
    gauge_u64(b, "skiff_pods_scan_truncated",
              "1 when the pods above were counted only up to the scan limit.",
              sc.truncated ? 1 : 0);
    gauge_u64(b, "skiff_container_restarts",
              "Sum of restartCount over the containers of existing pods (drops when pods go).",
              sc.restarts);
    prom_family(b, "skiff_nodes", "gauge", "Nodes by Ready condition.");
    {
        struct prom_label l = {"ready", "true"};
        prom_sample_u64(b, "skiff_nodes", &l, 1, sc.nodes_ready);
        l.value = "false";
        prom_sample_u64(b, "skiff_nodes", &l, 1, sc.nodes - sc.nodes_ready);
    }
}

/* ---- process, from /proc/self (procfs: no disk I/O) ---- */

static void write_process(struct buf *b)
{
    char line[1024], *p;
    unsigned long long utime = 0, stime = 0, start_ticks = 0, rss_pages = 0, btime = 0;
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    uint64_t fds = 0;
    FILE *f;
    DIR *d;

    f = fopen("/proc/self/stat", "r");
    if (f != NULL) {
        /* fields after the ")" that ends comm (which may hold spaces):
         * 3 state ... 14 utime 15 stime ... 22 starttime 23 vsize 24 rss */
        if (fgets(line, sizeof line, f) != NULL && (p = strrchr(line, ')')) != NULL)
            sscanf(p + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                   "%*d %llu %*u %llu",
                   &utime, &stime, &start_ticks, &rss_pages);
        fclose(f);
    }
    f = fopen("/proc/stat", "r");
    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL)
            if (sscanf(line, "btime %llu", &btime) == 1)
                break;
        fclose(f);
    }
    d = opendir("/proc/self/fd");
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL)
            fds += de->d_name[0] != '.';
        closedir(d);
        fds -= fds > 0; /* the directory's own fd */
    }
    if (ticks <= 0)
        ticks = 100;
    prom_family(b, "process_cpu_seconds_total", "counter", "User and system CPU time spent.");
    prom_sample(b, "process_cpu_seconds_total", NULL, 0, (double)(utime + stime) / (double)ticks);
    gauge_u64(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
              rss_pages * (unsigned long long)(page > 0 ? page : 4096));
    gauge_u64(b, "process_open_fds", "Open file descriptors.", fds);
    prom_family(b, "process_start_time_seconds", "gauge",
                "Start time of the process since the Unix epoch.");
    prom_sample(b, "process_start_time_seconds", NULL, 0,
                (double)btime + (double)start_ticks / (double)ticks);
}

/* ---- the handler ---- */

static void h_metrics(struct api_req *r)
{
    struct api__prom *p = api__prom(r->api);
    struct buf b = {0};

    if (strcmp(r->identity, "admin") != 0 && strncmp(r->identity, "system:node:", 12) != 0) {
        api_reply_status(r, 403, "Forbidden", "%s cannot get /metrics", r->identity);
        return;
    }
    write_raft(&b, r->cons);
    write_store(&b, r->store);
    write_api(&b, r->api);
    write_objects(&b, r->store);
    for (size_t i = 0; i < p->n_src; i++)
        p->src[i].fn(p->src[i].data, &b);
    write_process(&b);
    if (b.oom) {
        buf_close(&b);
        api_reply_error(r, ERR_NOMEM, "metrics: out of memory");
        return;
    }
    api_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "", b.len);
    buf_close(&b);
}

static const struct api_route prom_route = {"GET", "/metrics", 0, h_metrics};

int api__prom_routes_add(struct api *a, struct err *e)
{
    return api_route_add(a, &prom_route, e);
}
