/* sched_bench: the scheduler core against the real store, in one process.
 *
 * Per cluster size (1,000 and 5,000 nodes by default): a fresh store in a temp
 * dir gets N Node objects and P pending Pod objects (msgpack values as the API
 * writes them: api_object_encode). Pods request cpu 100m-1 and memory
 * 64Mi-1Gi; they belong to ReplicaSets of 10-50 replicas; 10% carry a zone
 * nodeSelector, 10% tolerate the "dedicated" taint that 10% of nodes carry.
 * The cache is filled from a store range (LIST), then follows a store watch
 * on /registry/pods/ (WATCH). Then, for every pending pod in turn:
 *     pick -> assume -> bind = one store txn (compare the pod's MOD_REV, put
 *     the object with spec.nodeName), applied directly with store_txn_apply
 * and the watch event the txn emits confirms the assumed pod in the cache.
 * There is NO Raft here: the txn is applied as the FSM would apply it, so the
 * numbers are the scheduler + store cost, not consensus latency.
 *
 * Bind latency = pick + assume + building/encoding the object + the txn
 * (with its synchronous watch delivery and cache update). Prints:
 *   RESULT nodes=N pods=P fill_s=F bound=B unschedulable=U secs=F pods_s=F
 *          p50_us=F p99_us=F pick_p50_us=F pick_p99_us=F */
#include "sched/sched_core.h"

#include "api/api.h"
#include "lib/fs.h"
#include "lib/jsonmp.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NODE_PREFIX "/registry/minions/"
#define POD_PREFIX  "/registry/pods/"
#define BATCH       500

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "sched_bench: %s: %s\n", what, msg);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long rng = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *zones[] = {"zone-a", "zone-b", "zone-c"};

static json_t *make_node(long i)
{
    char name[64];
    snprintf(name, sizeof name, "node-%05ld", i);
    json_t *n =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}}, s:{}, s:{s:{s:s, s:s, s:s, s:s}, "
                  "s:{s:s, s:s, s:s, s:s}, s:[{s:s, s:s}]}}",
                  "kind", "Node", "apiVersion", "v1", "metadata", "name", name, "uid", name,
                  "labels", "kubernetes.io/hostname", name, "topology.kubernetes.io/zone",
                  zones[i % 3], "kubernetes.io/os", "linux", "spec", "status", "capacity", "cpu",
                  "32", "memory", "128Gi", "pods", "110", "ephemeral-storage", "500Gi",
                  "allocatable", "cpu", "31500m", "memory", "125Gi", "pods", "110",
                  "ephemeral-storage", "450Gi", "conditions", "type", "Ready", "status", "True");
    if (n != NULL && i % 10 == 7)
        json_object_set_new(json_object_get(n, "spec"), "taints",
                            json_pack("[{s:s, s:s, s:s}]", "key", "dedicated", "value", "infra",
                                      "effect", "NoSchedule"));
    return n;
}

static const char *cpus[] = {"100m", "250m", "500m", "1"};
static const char *mems[] = {"64Mi", "128Mi", "256Mi", "512Mi", "1Gi"};

/* Pod i of ReplicaSet rs (replicas share labels, owner and placement rules). */
static json_t *make_pod(long i, long rs, unsigned kind)
{
    char name[64], rsname[64], uid[64], rsuid[64];
    snprintf(rsname, sizeof rsname, "app-%05ld", rs);
    snprintf(name, sizeof name, "%s-%06ld", rsname, i);
    snprintf(uid, sizeof uid, "pod-uid-%08ld", i);
    snprintf(rsuid, sizeof rsuid, "rs-uid-%05ld", rs);
    json_t *p = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s, s:s, s:b}]}, "
        "s:{s:[{s:s, s:s, s:{s:{s:s, s:s}, s:{s:s}}, s:[{s:i}]}], s:s, s:s, s:i}, "
        "s:{s:s}}",
        "kind", "Pod", "apiVersion", "v1", "metadata", "name", name, "namespace", "default", "uid",
        uid, "labels", "app", rsname, "pod-template-hash", "5d8f7c", "ownerReferences",
        "apiVersion", "apps/v1", "kind", "ReplicaSet", "name", rsname, "uid", rsuid, "controller",
        1, "spec", "containers", "name", "main", "image", "registry.local/app:1", "resources",
        "requests", "cpu", cpus[kind % 4], "memory", mems[(kind / 4) % 5], "limits", "memory",
        mems[(kind / 4) % 5], "ports", "containerPort", 8080, "restartPolicy", "Always",
        "schedulerName", "default-scheduler", "terminationGracePeriodSeconds", 30, "status",
        "phase", "Pending");
    if (p == NULL)
        return NULL;
    json_t *spec = json_object_get(p, "spec");
    if (kind % 10 == 3)
        json_object_set_new(spec, "nodeSelector",
                            json_pack("{s:s}", "topology.kubernetes.io/zone", zones[rs % 3]));
    if (kind % 10 == 5)
        json_object_set_new(spec, "tolerations",
                            json_pack("[{s:s, s:s, s:s}]", "key", "dedicated", "operator", "Exists",
                                      "effect", "NoSchedule"));
    return p;
}

/* Applies ops as one txn (setup only: batches of puts, no compares). */
static void put_batch(struct store *s, uint64_t *raft_index, struct store_op *ops, size_t n)
{
    struct store_txn t = {.ops = ops, .n_ops = n};
    struct store_txn_result r;
    struct err e = {0};
    if (store_txn_apply(s, ++*raft_index, &t, &r, &e) != 0)
        die("store_txn_apply", e.msg);
    for (size_t i = 0; i < n; i++) {
        free((void *)ops[i].key);
        free((void *)ops[i].value);
    }
}

static void put_object(struct store *s, uint64_t *raft_index, struct store_op *ops, size_t *n,
                       const char *resource, json_t *obj)
{
    char key[STORE_KEY_MAX + 1];
    struct err e = {0};
    json_t *meta = json_object_get(obj, "metadata");
    void *val;
    size_t len;
    if (api_object_key(resource, json_string_value(json_object_get(meta, "namespace")),
                       json_string_value(json_object_get(meta, "name")), key, sizeof key,
                       &e) != 0 ||
        api_object_encode(obj, &val, &len, &e) != 0)
        die("encode", e.msg);
    ops[*n] = (struct store_op){STORE_OP_PUT, strdup(key), val, len};
    if (++*n == BATCH) {
        put_batch(s, raft_index, ops, *n);
        *n = 0;
    }
}

/* ---- the scheduler side ---- */

struct pending {
    char *key;
    char *ns, *name;
};

struct bench {
    struct store *s;
    struct sched_cache *c;
    uint64_t raft_index;
    long confirmed; /* watch events that carried a nodeName */
    long warnings;
};

/* Decodes a stored object and gives it its resourceVersion (the key's
 * mod_rev, as the API does on reads). */
static json_t *decode(const struct store_kv *kv)
{
    json_t *obj;
    char rv[32];
    struct err e = {0};
    if (jsonmp_unpack(kv->value, kv->value_len, &obj, &e) != 0)
        die("jsonmp_unpack", e.msg);
    snprintf(rv, sizeof rv, "%llu", (unsigned long long)kv->mod_rev);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(rv));
    return obj;
}

static void on_pod_event(struct store_watch *w, const struct store_event *ev)
{
    struct bench *b = w->data;
    struct err e = {0}, warn = {0};
    json_t *obj;
    if (ev->type == STORE_EVENT_RESET)
        return; /* the bench's store is never restored */
    obj = decode(&ev->kv);
    json_t *meta = json_object_get(obj, "metadata");
    if (ev->type == STORE_EVENT_DELETE) {
        sched_cache_pod_remove(b->c, json_string_value(json_object_get(meta, "namespace")),
                               json_string_value(json_object_get(meta, "name")));
    } else {
        if (sched_cache_pod_upsert(b->c, obj, &warn, &e) != 0)
            die("pod upsert", e.msg);
        if (json_object_get(json_object_get(obj, "spec"), "nodeName") != NULL)
            b->confirmed++;
    }
    b->warnings += warn.code != 0;
    json_decref(obj);
}

/* LIST: every key under prefix into the cache; pods also into *pending. */
static uint64_t fill(struct bench *b, const char *prefix, struct pending **pending,
                     size_t *n_pending)
{
    char after[STORE_KEY_MAX + 1] = "";
    struct err e = {0}, warn = {0};
    uint64_t rev = 0;
    for (;;) {
        struct store_list l;
        if (store_range(b->s, prefix, after, 1000, &l, &e) != 0)
            die("store_range", e.msg);
        rev = l.rev;
        for (size_t i = 0; i < l.n; i++) {
            json_t *obj = decode(&l.kvs[i]);
            int rv = pending ? sched_cache_pod_upsert(b->c, obj, &warn, &e)
                             : sched_cache_node_upsert(b->c, obj, &warn, &e);
            if (rv != 0)
                die("upsert", e.msg);
            if (pending != NULL) {
                json_t *meta = json_object_get(obj, "metadata");
                struct pending *p = &(*pending)[(*n_pending)++];
                p->key = strdup(l.kvs[i].key);
                p->ns = strdup(json_string_value(json_object_get(meta, "namespace")));
                p->name = strdup(json_string_value(json_object_get(meta, "name")));
            }
            json_decref(obj);
        }
        if (l.n > 0)
            snprintf(after, sizeof after, "%s", l.kvs[l.n - 1].key);
        bool more = l.more;
        store_list_close(&l);
        if (!more)
            break;
    }
    return rev;
}

/* Binds one pod: the object as stored now, with spec.nodeName, put if its
 * mod_rev is still the one the cache saw. 0 bound, 1 lost the compare. */
static int bind_pod(struct bench *b, const struct pending *pp, uint64_t mod_rev, const char *node)
{
    struct store_kv kv;
    struct err e = {0};
    json_t *obj;
    void *val;
    size_t len;
    /* the real binder holds the object from the watch; here it is re-read
     * and decoded, outside the timed section's pick but inside the bind */
    if (store_get(b->s, pp->key, &kv, &e) != 0)
        die("store_get", e.msg);
    if (jsonmp_unpack(kv.value, kv.value_len, &obj, &e) != 0)
        die("jsonmp_unpack", e.msg);
    store_kv_close(&kv);
    json_object_set_new(json_object_get(obj, "spec"), "nodeName", json_string(node));
    if (api_object_encode(obj, &val, &len, &e) != 0)
        die("api_object_encode", e.msg);
    json_decref(obj);
    struct store_cmp cmp = {STORE_CMP_MOD_REV, pp->key, mod_rev};
    struct store_op op = {STORE_OP_PUT, pp->key, val, len};
    struct store_txn t = {&cmp, 1, &op, 1};
    struct store_txn_result r;
    if (store_txn_apply(b->s, ++b->raft_index, &t, &r, &e) != 0)
        die("store_txn_apply", e.msg);
    free(val);
    return r.failed_cmp == -1 ? 0 : 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static void run(const char *base, long n_nodes, long n_pods)
{
    char dir[4096];
    struct store_opts so = {
        .map_size_bytes = (size_t)8 << 30, .no_sync = true, .history_max_revs = 1000};
    struct bench b = {0};
    struct err e = {0};
    struct store_op *ops = calloc(BATCH, sizeof *ops);
    size_t n_ops = 0, n_pending = 0;
    struct pending *pending = calloc((size_t)n_pods, sizeof *pending);
    double *lat = calloc((size_t)n_pods, sizeof *lat), *plat = calloc((size_t)n_pods, sizeof *plat);
    long bound = 0, unsched = 0, lost = 0;

    if (ops == NULL || pending == NULL || lat == NULL || plat == NULL)
        die("calloc", strerror(errno));
    snprintf(dir, sizeof dir, "%s/n%ld", base, n_nodes);
    if (mkdir(dir, 0700) != 0)
        die("mkdir", strerror(errno));
    if (store_open(dir, &so, &b.s, &e) != 0)
        die("store_open", e.msg);

    rng = 88172645463325252ULL;
    for (long i = 0; i < n_nodes; i++) {
        json_t *n = make_node(i);
        put_object(b.s, &b.raft_index, ops, &n_ops, "minions", n);
        json_decref(n);
    }
    for (long i = 0, rs = 0; i < n_pods; rs++) {
        long replicas = 10 + rnd(41);
        unsigned kind = rnd(1000);
        for (long k = 0; k < replicas && i < n_pods; k++, i++) {
            json_t *p = make_pod(i, rs, kind);
            put_object(b.s, &b.raft_index, ops, &n_ops, "pods", p);
            json_decref(p);
        }
    }
    if (n_ops > 0)
        put_batch(b.s, &b.raft_index, ops, n_ops);

    /* LIST then WATCH, as the scheduler does when it becomes leader */
    double t0 = now_s();
    if (sched_cache_new(&b.c, &e) != 0)
        die("sched_cache_new", e.msg);
    fill(&b, NODE_PREFIX, NULL, NULL);
    uint64_t rev = fill(&b, POD_PREFIX, &pending, &n_pending);
    struct store_watch w = {.data = &b};
    if (store_watch_start(b.s, &w, POD_PREFIX, rev, on_pod_event, &e) != 0)
        die("store_watch_start", e.msg);
    double fill_s = now_s() - t0;

    struct sched_pick m;
    double start = now_s();
    for (size_t i = 0; i < n_pending; i++) {
        const struct sched_pod *p = sched_cache_pod_get(b.c, pending[i].ns, pending[i].name);
        double a = now_s();
        if (p == NULL)
            die("pending pod", "not in the cache");
        uint64_t mod_rev = p->mod_rev;
        int rv = sched_pick(b.c, p, &m, &e);
        double picked = now_s();
        plat[i] = picked - a;
        if (rv == ERR_NOTFOUND) {
            unsched++;
            continue;
        }
        if (rv != 0)
            die("sched_pick", e.msg);
        if (sched_cache_assume(b.c, pending[i].ns, pending[i].name, m.node_name, &e) != 0)
            die("sched_cache_assume", e.msg);
        if (bind_pod(&b, &pending[i], mod_rev, m.node_name) != 0) {
            lost++;
            sched_cache_forget(b.c, pending[i].ns, pending[i].name, &e);
            continue;
        }
        lat[bound++] = now_s() - a;
    }
    double secs = now_s() - start;
    store_watch_stop(&w);
    if (b.confirmed != bound)
        die("confirm", "watch did not deliver every bind");

    /* the cache's own books must show no node over its allocatable */
    for (long i = 0; i < n_nodes; i++) {
        char name[64];
        snprintf(name, sizeof name, "node-%05ld", i);
        const struct sched_node *n = sched_cache_node_get(b.c, name);
        if (n == NULL || n->req_cpu_m > n->alloc_cpu_m || n->req_mem > n->alloc_mem ||
            n->n_pods > n->alloc_pods)
            die("check", "a node is overcommitted or missing");
    }
    qsort(lat, (size_t)bound, sizeof *lat, cmp_double);
    qsort(plat, n_pending, sizeof *plat, cmp_double);
    printf("RESULT nodes=%ld pods=%zu fill_s=%.3f bound=%ld unschedulable=%ld lost=%ld "
           "warnings=%ld secs=%.3f pods_s=%.0f p50_us=%.1f p99_us=%.1f pick_p50_us=%.1f "
           "pick_p99_us=%.1f\n",
           n_nodes, n_pending, fill_s, bound, unsched, lost, b.warnings, secs,
           secs > 0 ? (double)bound / secs : 0, pct(lat, (size_t)bound, 0.50) * 1e6,
           pct(lat, (size_t)bound, 0.99) * 1e6, pct(plat, n_pending, 0.50) * 1e6,
           pct(plat, n_pending, 0.99) * 1e6);
    fflush(stdout);

    sched_cache_free(b.c);
    store_close(b.s);
    for (size_t i = 0; i < n_pending; i++) {
        free(pending[i].key);
        free(pending[i].ns);
        free(pending[i].name);
    }
    free(pending);
    free(lat);
    free(plat);
    free(ops);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long nodes[2] = {1000, 5000}, n_pods = 30000;
    size_t n_runs = 2;
    char tmp[] = "/tmp/sched_bench.XXXXXX";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            n_pods = 5000;
        else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--pods") == 0 && i + 1 < argc)
            n_pods = atol(argv[++i]);
        else if (strcmp(argv[i], "--nodes") == 0 && i + 1 < argc)
            nodes[0] = atol(argv[++i]), n_runs = 1;
        else {
            fprintf(stderr, "usage: sched_bench [--quick] [--dir DIR] [--nodes N] [--pods N]\n"
                            "  default: 1000 and 5000 nodes, 30000 pods (--quick: 5000 pods)\n");
            return 2;
        }
    }
    if (n_pods < 1 || nodes[0] < 1)
        die("usage", "--pods and --nodes must be positive");
    if (dir == NULL) {
        if (mkdtemp(tmp) == NULL)
            die("mkdtemp", strerror(errno));
        dir = tmp;
    }
    for (size_t i = 0; i < n_runs; i++)
        run(dir, nodes[i], n_pods);
    if (dir == tmp)
        fs_rmtree(tmp);
    return 0;
}
