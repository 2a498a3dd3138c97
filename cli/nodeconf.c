/* Node configuration for the daemon subcommands: options, node.json, the
 * data dir's files, addresses. See cli/daemon.h. */
#include "cli/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "consensus/consensus.h"
#include "lib/fs.h"
#include "lib/pki.h"

enum {
    OPT_DATA_DIR = 256,
    OPT_LISTEN,
    OPT_PEER_LISTEN,
    OPT_ADVERTISE,
    OPT_NAME,
    OPT_SERVER,
    OPT_TOKEN,
    OPT_ELECTION,
    OPT_HEARTBEAT,
    OPT_SNAPSHOT,
    OPT_VOTERS,
    OPT_DEAD_VOTER,
    OPT_TOKEN_TTL,
    OPT_STORE_SIZE,
    OPT_NODE_GRACE,
    OPT_POD_EVICTION,
    OPT_METRICS_PERIOD,
    OPT_HPA_SYNC,
    OPT_HPA_DOWN_WINDOW,
    OPT_FAKE_METRICS,
    OPT_FAKE_RUNTIME,
    OPT_CAPACITY,
    OPT_NO_CONTROLLERS,
    OPT_NO_RUNTIME,
    OPT_NO_POD_NETWORK,
    OPT_CLUSTER_CIDR,
    OPT_SERVICE_CIDR,
    OPT_NODE_MASK,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"peer-listen", required_argument, NULL, OPT_PEER_LISTEN},
    {"advertise", required_argument, NULL, OPT_ADVERTISE},
    {"name", required_argument, NULL, OPT_NAME},
    {"server", required_argument, NULL, OPT_SERVER},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"election-timeout-ms", required_argument, NULL, OPT_ELECTION},
    {"heartbeat-ms", required_argument, NULL, OPT_HEARTBEAT},
    {"snapshot-threshold", required_argument, NULL, OPT_SNAPSHOT},
    {"voters", required_argument, NULL, OPT_VOTERS},
    {"dead-voter-timeout-ms", required_argument, NULL, OPT_DEAD_VOTER},
    {"token-ttl", required_argument, NULL, OPT_TOKEN_TTL},
    {"store-size-mb", required_argument, NULL, OPT_STORE_SIZE},
    {"node-grace-ms", required_argument, NULL, OPT_NODE_GRACE},
    {"pod-eviction-ms", required_argument, NULL, OPT_POD_EVICTION},
    {"metrics-period-ms", required_argument, NULL, OPT_METRICS_PERIOD},
    {"hpa-sync-ms", required_argument, NULL, OPT_HPA_SYNC},
    {"hpa-downscale-window-ms", required_argument, NULL, OPT_HPA_DOWN_WINDOW},
    {"fake-metrics", required_argument, NULL, OPT_FAKE_METRICS},
    {"fake-runtime", no_argument, NULL, OPT_FAKE_RUNTIME},
    {"no-controllers", no_argument, NULL, OPT_NO_CONTROLLERS},
    {"no-runtime", no_argument, NULL, OPT_NO_RUNTIME},
    {"no-pod-network", no_argument, NULL, OPT_NO_POD_NETWORK},
    {"cluster-cidr", required_argument, NULL, OPT_CLUSTER_CIDR},
    {"service-cidr", required_argument, NULL, OPT_SERVICE_CIDR},
    {"node-cidr-mask-size", required_argument, NULL, OPT_NODE_MASK},
    {"capacity", required_argument, NULL, OPT_CAPACITY},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

void cli__daemon_usage(FILE *f, const char *cmd)
{
    if (strcmp(cmd, "init") == 0)
        fprintf(f,
                "usage: skiff init [--data-dir DIR] [--listen IP:PORT] [--peer-listen IP:PORT]\n"
                "                  [--advertise IP] [--name NAME] [--token-ttl DURATION] [tuning]\n"
                "Creates a new cluster (CA, node certificate, admin kubeconfig, join token) and\n"
                "runs its first node in the foreground. Writes DIR/admin.kubeconfig and\n"
                "DIR/join-token.\n");
    else if (strcmp(cmd, "join") == 0)
        fprintf(f, "usage: skiff join --server IP:PORT --token TOKEN [--data-dir DIR]\n"
                   "                  [--listen IP:PORT] [--peer-listen IP:PORT] [--advertise IP]\n"
                   "                  [--name NAME] [tuning]\n"
                   "Joins a running cluster through any member's API and runs the node. The token\n"
                   "pins the cluster CA: a server whose CA does not match is refused.\n");
    else
        fprintf(f, "usage: skiff run [--data-dir DIR]\n"
                   "Restarts an existing node (made by init or join) from its data dir.\n");
    fprintf(f,
            "\noptions:\n"
            "  --data-dir DIR              node state (default %s)\n"
            "  --listen IP:PORT            API (HTTPS) listen address (default 0.0.0.0:%d)\n"
            "  --peer-listen IP:PORT       raft/peer (mTLS) listen address (default 0.0.0.0:%d)\n"
            "  --advertise IP              address other nodes use to reach this one\n"
            "                              (default: first non-loopback IPv4, else 127.0.0.1)\n"
            "  --name NAME                 node name, a DNS-1123 subdomain (default: hostname)\n"
            "tuning (init/join; stored in node.json):\n"
            "  --election-timeout-ms N     raft election timeout (default %d; randomised to 2x)\n"
            "  --heartbeat-ms N            raft heartbeat (default %d)\n"
            "  --snapshot-threshold N      entries between snapshots (default: adaptive, the\n"
            "                              number of keys within %d..%d)\n"
            "  --voters N                  maximum voters (default 5: 3 below 5 nodes)\n"
            "  --dead-voter-timeout-ms N   replace a voter unreachable this long (default %d)\n"
            "  --store-size-mb N           LMDB map size; writes are refused above 90%% (default "
            "1024)\n"
            "  --node-grace-ms N           leader: a node unreachable this long is NotReady "
            "(default 15000)\n"
            "  --pod-eviction-ms N         leader: then its pods are deleted after this long "
            "(default 30000)\n"
            "  --metrics-period-ms N       sample pod and node CPU/memory this often "
            "(default 10000)\n"
            "  --hpa-sync-ms N             leader: measure each autoscaler this often (default "
            "15000)\n"
            "  --hpa-downscale-window-ms N leader: scale-down stabilisation of autoscalers\n"
            "                              without a behavior window (default 300000)\n"
            "  --fake-metrics FILE         the autoscalers read pod metrics (a PodMetricsList)\n"
            "                              from FILE instead of the metrics API (tests)\n"
            "  --fake-runtime              the agent reports pods Running without starting "
            "containers (tests)\n"
            "  --no-controllers            never run the scheduler and controllers here (API "
            "tests)\n"
            "  --no-runtime                the agent runs no pods at all (control-plane tests)\n"
            "  --no-pod-network            pods get loopback only: no CNI, routes, service rules\n"
            "                              or cluster DNS on this node\n"
            "  --cluster-cidr CIDR         init: pod addresses, one node CIDR per node (default "
            "10.244.0.0/16)\n"
            "  --node-cidr-mask-size N     init: prefix length of each node's pod CIDR (default 24)\n"
            "  --service-cidr CIDR         init: ClusterIPs come from here (default 10.96.0.0/16)\n"
            "  --capacity LIST             the node's capacity and allocatable as reported, e.g.\n"
            "                              cpu=2,memory=4Gi,pods=20 (default: the machine's)\n"
            "  --token-ttl DURATION        init: first join token lifetime, e.g. 24h, 30m (default "
            "24h)\n",
            DEFAULT_DATA_DIR, DEFAULT_API_PORT, DEFAULT_PEER_PORT, CONS_DEFAULT_ELECTION_MS,
            CONS_DEFAULT_HEARTBEAT_MS, CONS_SNAP_THRESHOLD_MIN, CONS_SNAP_THRESHOLD_MAX,
            CONS_DEFAULT_DEAD_VOTER_MS);
}

static int parse_uint(const char *flag, const char *v, unsigned *out)
{
    char *end;
    unsigned long n;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0' || n == 0 || n > 100000000UL) {
        fprintf(stderr, "skiff: --%s: want a positive integer, got \"%s\"\n", flag, v);
        return -1;
    }
    *out = (unsigned)n;
    return 0;
}

/* "90s", "30m", "24h", "7d" or plain seconds. */
int cli_parse_duration(const char *v, long *seconds)
{
    char *end;
    long n;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || n <= 0 || end == v)
        return -1;
    switch (*end) {
    case '\0':
    case 's':
        break;
    case 'm':
        n *= 60;
        break;
    case 'h':
        n *= 3600;
        break;
    case 'd':
        n *= 86400;
        break;
    default:
        return -1;
    }
    if (*end != '\0' && end[1] != '\0')
        return -1;
    *seconds = n;
    return 0;
}

int cli__opts_parse(const char *cmd, int argc, char **argv, struct opts *o)
{
    int c;
    memset(o, 0, sizeof *o);
    o->data_dir = DEFAULT_DATA_DIR;
    o->token_ttl_s = 24 * 3600;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_DATA_DIR:
            o->data_dir = optarg;
            break;
        case OPT_LISTEN:
            o->listen = optarg;
            break;
        case OPT_PEER_LISTEN:
            o->peer_listen = optarg;
            break;
        case OPT_ADVERTISE:
            o->advertise = optarg;
            break;
        case OPT_NAME:
            o->name = optarg;
            break;
        case OPT_SERVER:
            o->server = optarg;
            break;
        case OPT_TOKEN:
            o->token = optarg;
            break;
        case OPT_ELECTION:
            if (parse_uint("election-timeout-ms", optarg, &o->election_ms))
                return 2;
            break;
        case OPT_HEARTBEAT:
            if (parse_uint("heartbeat-ms", optarg, &o->heartbeat_ms))
                return 2;
            break;
        case OPT_SNAPSHOT:
            if (parse_uint("snapshot-threshold", optarg, &o->snapshot_threshold))
                return 2;
            break;
        case OPT_VOTERS:
            if (parse_uint("voters", optarg, &o->voters))
                return 2;
            break;
        case OPT_DEAD_VOTER:
            if (parse_uint("dead-voter-timeout-ms", optarg, &o->dead_voter_ms))
                return 2;
            break;
        case OPT_NODE_GRACE:
            if (parse_uint("node-grace-ms", optarg, &o->node_grace_ms))
                return 2;
            break;
        case OPT_POD_EVICTION:
            if (parse_uint("pod-eviction-ms", optarg, &o->pod_eviction_ms))
                return 2;
            break;
        case OPT_METRICS_PERIOD:
            if (parse_uint("metrics-period-ms", optarg, &o->metrics_period_ms))
                return 2;
            break;
        case OPT_HPA_SYNC:
            if (parse_uint("hpa-sync-ms", optarg, &o->hpa_sync_ms))
                return 2;
            break;
        case OPT_HPA_DOWN_WINDOW:
            if (parse_uint("hpa-downscale-window-ms", optarg, &o->hpa_downscale_window_ms))
                return 2;
            break;
        case OPT_FAKE_METRICS:
            o->fake_metrics = optarg;
            break;
        case OPT_FAKE_RUNTIME:
            o->fake_runtime = true;
            break;
        case OPT_NO_CONTROLLERS:
            o->no_controllers = true;
            break;
        case OPT_NO_RUNTIME:
            o->no_runtime = true;
            break;
        case OPT_NO_POD_NETWORK:
            o->no_pod_network = true;
            break;
        case OPT_CLUSTER_CIDR:
            o->cluster_cidr = optarg;
            break;
        case OPT_SERVICE_CIDR:
            o->service_cidr = optarg;
            break;
        case OPT_NODE_MASK:
            if (parse_uint("node-cidr-mask-size", optarg, &o->node_mask))
                return 2;
            break;
        case OPT_CAPACITY: {
            char canon[CAPACITY_MAX];
            struct err e;
            if (cli__capacity_check(optarg, canon, sizeof canon, &e) != 0) {
                fprintf(stderr, "skiff: --capacity: %s\n", e.msg);
                return 2;
            }
            o->capacity = optarg;
            break;
        }
        case OPT_STORE_SIZE:
            if (parse_uint("store-size-mb", optarg, &o->store_mb))
                return 2;
            break;
        case OPT_TOKEN_TTL:
            if (cli_parse_duration(optarg, &o->token_ttl_s) != 0) {
                fprintf(stderr, "skiff: --token-ttl: want a duration like 24h or 30m, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'h':
        case OPT_HELP:
            cli__daemon_usage(stdout, cmd);
            return 1;
        default:
            cli__daemon_usage(stderr, cmd);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "skiff %s: unexpected argument \"%s\"\n", cmd, argv[optind]);
        return 2;
    }
    return 0;
}

/* ---- node.json ---- */

void cli__path_join(char *out, size_t n, const char *dir, const char *file)
{
    snprintf(out, n, "%s/%s", dir, file);
}

int cli__conf_save(const char *dir, const struct node_conf *nc, struct err *e)
{
    char path[1200], tmp[1300];
    json_t *j = json_pack(
        "{s:s, s:I, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:b, s:b}", "name",
        nc->name, "id", (json_int_t)nc->id, "apiListen", nc->api_listen, "peerListen",
        nc->peer_listen, "advertise", nc->advertise, "electionTimeoutMs", (int)nc->election_ms,
        "heartbeatMs", (int)nc->heartbeat_ms, "snapshotThreshold", (int)nc->snapshot_threshold,
        "voters", (int)nc->voters, "deadVoterTimeoutMs", (int)nc->dead_voter_ms, "storeSizeMb",
        (int)nc->store_mb, "nodeGraceMs", (int)nc->node_grace_ms, "podEvictionMs",
        (int)nc->pod_eviction_ms, "fakeRuntime", nc->fake_runtime, "noControllers",
        nc->no_controllers, "noRuntime", nc->no_runtime);
    int rv;
    if (j == NULL)
        return err_setf(e, ERR_NOMEM, "node.json: out of memory");
    if (nc->no_pod_network)
        json_object_set_new(j, "noPodNetwork", json_true());
    if (nc->metrics_period_ms != 0)
        json_object_set_new(j, "metricsPeriodMs", json_integer((json_int_t)nc->metrics_period_ms));
    if (nc->hpa_sync_ms != 0)
        json_object_set_new(j, "hpaSyncMs", json_integer((json_int_t)nc->hpa_sync_ms));
    if (nc->hpa_downscale_window_ms != 0)
        json_object_set_new(j, "hpaDownscaleWindowMs",
                            json_integer((json_int_t)nc->hpa_downscale_window_ms));
    if (nc->fake_metrics[0] != '\0')
        json_object_set_new(j, "fakeMetrics", json_string(nc->fake_metrics));
    if (nc->capacity[0] != '\0')
        json_object_set_new(j, "capacity", json_string(nc->capacity));
    cli__path_join(path, sizeof path, dir, "node.json");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    rv = json_dump_file(j, tmp, JSON_INDENT(2));
    json_decref(j);
    if (rv != 0 || rename(tmp, path) != 0)
        return err_setf(e, ERR_IO, "write %s: %s", path, strerror(errno));
    return 0;
}

int cli__conf_load(const char *dir, struct node_conf *nc, struct err *e)
{
    char path[1200];
    json_error_t je;
    json_t *j;
    const char *name = NULL, *api = NULL, *peer = NULL, *adv = NULL, *capacity = NULL;
    json_int_t id = 0;
    int el = 0, hb = 0, snap = 0, voters = 0, dead = 0, store_mb = 0, grace = 0, evict = 0;
    int fake = 0, noctl = 0, nort = 0;
    cli__path_join(path, sizeof path, dir, "node.json");
    j = json_load_file(path, 0, &je);
    if (j == NULL) {
        if (access(path, F_OK) != 0)
            return err_setf(e, ERR_NOTFOUND,
                            "%s: no node here (run skiff init or skiff join first)", dir);
        return err_setf(e, ERR_INVALID, "%s: line %d: %s", path, je.line, je.text);
    }
    if (json_unpack_ex(
            j, &je, 0,
            "{s:s, s:I, s:s, s:s, s:s, s?i, s?i, s?i, s?i, s?i, s?i, s?i, s?i, s?b, s?s, s?b, s?b}",
            "name", &name, "id", &id, "apiListen", &api, "peerListen", &peer, "advertise", &adv,
            "electionTimeoutMs", &el, "heartbeatMs", &hb, "snapshotThreshold", &snap, "voters",
            &voters, "deadVoterTimeoutMs", &dead, "storeSizeMb", &store_mb, "nodeGraceMs", &grace,
            "podEvictionMs", &evict, "fakeRuntime", &fake, "capacity", &capacity, "noControllers",
            &noctl, "noRuntime", &nort) != 0) {
        json_decref(j);
        return err_setf(e, ERR_INVALID, "%s: %s", path, je.text);
    }
    memset(nc, 0, sizeof *nc);
    if (capacity != NULL &&
        cli__capacity_check(capacity, nc->capacity, sizeof nc->capacity, e) != 0) {
        json_decref(j);
        return err_wrapf(e, "%s: capacity", path);
    }
    snprintf(nc->name, sizeof nc->name, "%s", name);
    nc->id = (uint64_t)id;
    snprintf(nc->api_listen, sizeof nc->api_listen, "%s", api);
    snprintf(nc->peer_listen, sizeof nc->peer_listen, "%s", peer);
    snprintf(nc->advertise, sizeof nc->advertise, "%s", adv);
    nc->election_ms = (unsigned)el;
    nc->heartbeat_ms = (unsigned)hb;
    nc->snapshot_threshold = (unsigned)snap;
    nc->voters = (unsigned)voters;
    nc->dead_voter_ms = (unsigned)dead;
    nc->store_mb = (unsigned)store_mb;
    nc->node_grace_ms = (unsigned)grace;
    nc->pod_eviction_ms = (unsigned)evict;
    nc->fake_runtime = fake != 0;
    nc->no_controllers = noctl != 0;
    nc->no_runtime = nort != 0;
    nc->no_pod_network = json_is_true(json_object_get(j, "noPodNetwork"));
    {
        json_int_t mp = json_integer_value(json_object_get(j, "metricsPeriodMs"));
        nc->metrics_period_ms = mp > 0 && mp <= 3600000 ? (unsigned)mp : 0; /* else default */
    }
    {
        json_int_t hs = json_integer_value(json_object_get(j, "hpaSyncMs"));
        json_int_t hw = json_integer_value(json_object_get(j, "hpaDownscaleWindowMs"));
        const char *fm = json_string_value(json_object_get(j, "fakeMetrics"));
        nc->hpa_sync_ms = hs > 0 && hs <= 3600000 ? (unsigned)hs : 0;
        nc->hpa_downscale_window_ms = hw > 0 && hw <= 3600000 ? (unsigned)hw : 0;
        snprintf(nc->fake_metrics, sizeof nc->fake_metrics, "%s", fm ? fm : "");
    }
    json_decref(j);
    return 0;
}

int cli__port_of(const char *addr)
{
    const char *colon = strrchr(addr, ':');
    return colon ? atoi(colon + 1) : 0;
}

static void default_advertise(char *out, size_t n)
{
    struct ifaddrs *ifs, *i;
    snprintf(out, n, "127.0.0.1");
    if (getifaddrs(&ifs) != 0)
        return;
    for (i = ifs; i != NULL; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
            continue;
        struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
        if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
            continue;
        inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)n);
        break;
    }
    freeifaddrs(ifs);
}

int cli__conf_from_opts(const struct opts *o, struct node_conf *nc, struct err *e)
{
    char host[256];
    memset(nc, 0, sizeof *nc);
    if (o->name) {
        snprintf(nc->name, sizeof nc->name, "%s", o->name);
    } else {
        if (gethostname(host, sizeof host) != 0)
            snprintf(host, sizeof host, "node");
        snprintf(nc->name, sizeof nc->name, "%s", host);
    }
    if (pki_node_name_check(nc->name, e) != 0 || strlen(nc->name) > 63)
        return err_setf(e, ERR_INVALID,
                        "--name: \"%s\" is not a valid node name (lowercase "
                        "letters, digits, '-' and '.', at most 63)",
                        nc->name);
    snprintf(nc->api_listen, sizeof nc->api_listen, "%s", o->listen ? o->listen : "0.0.0.0:6443");
    snprintf(nc->peer_listen, sizeof nc->peer_listen, "%s",
             o->peer_listen ? o->peer_listen : "0.0.0.0:6444");
    if (cli__port_of(nc->api_listen) <= 0 || cli__port_of(nc->peer_listen) <= 0)
        return err_setf(e, ERR_INVALID, "--listen/--peer-listen: want IP:PORT");
    if (o->advertise) {
        struct in_addr a;
        if (inet_pton(AF_INET, o->advertise, &a) != 1)
            return err_setf(e, ERR_INVALID, "--advertise: \"%s\" is not an IPv4 address",
                            o->advertise);
        snprintf(nc->advertise, sizeof nc->advertise, "%s", o->advertise);
    } else {
        default_advertise(nc->advertise, sizeof nc->advertise);
    }
    nc->election_ms = o->election_ms;
    nc->heartbeat_ms = o->heartbeat_ms;
    nc->snapshot_threshold = o->snapshot_threshold;
    nc->voters = o->voters;
    nc->dead_voter_ms = o->dead_voter_ms;
    nc->store_mb = o->store_mb;
    nc->node_grace_ms = o->node_grace_ms;
    nc->pod_eviction_ms = o->pod_eviction_ms;
    nc->metrics_period_ms = o->metrics_period_ms;
    nc->hpa_sync_ms = o->hpa_sync_ms;
    nc->hpa_downscale_window_ms = o->hpa_downscale_window_ms;
    if (o->fake_metrics != NULL) {
        /* absolute: `skiff run` may start from another directory */
        if (o->fake_metrics[0] != '/' ||
            strlen(o->fake_metrics) >= sizeof nc->fake_metrics)
            return err_setf(e, ERR_INVALID, "--fake-metrics: \"%s\": not an absolute path",
                            o->fake_metrics);
        snprintf(nc->fake_metrics, sizeof nc->fake_metrics, "%s", o->fake_metrics);
    }
    nc->fake_runtime = o->fake_runtime;
    nc->no_controllers = o->no_controllers;
    nc->no_runtime = o->no_runtime;
    nc->no_pod_network = o->no_pod_network;
    if (o->capacity != NULL &&
        cli__capacity_check(o->capacity, nc->capacity, sizeof nc->capacity, e) != 0)
        return err_wrapf(e, "--capacity");
    return 0;
}

/* ---- --capacity ---- */

/* A resource.Quantity as the apiserver's regular expression
 * ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$ and suffix table take it,
 * restricted to what a node can have: positive, no sign. Reason or NULL. */
static const char *quantity_error(const char *q, bool integer)
{
    static const char *const suffixes[] = {"",  "n", "u",  "m",  "k",  "M",  "G",  "T",
                                           "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    const char *p = q;
    size_t digits = 0, dots = 0;
    bool nonzero = false;
    for (; (*p >= '0' && *p <= '9') || *p == '.'; p++) {
        if (*p == '.')
            dots++;
        else
            digits++;
        if (*p >= '1' && *p <= '9')
            nonzero = true;
    }
    if (digits == 0 || dots > 1 || digits > 18)
        return "not a quantity (want e.g. 2, 500m, 4Gi)";
    if (integer && (dots > 0 || *p != '\0'))
        return "want a whole number";
    if (!nonzero)
        return "must be positive";
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (strcmp(p, suffixes[i]) == 0)
            return NULL;
    if (*p == 'e' || *p == 'E') {
        const char *x = p + 1;
        if (*x == '+' || *x == '-')
            x++;
        if (*x != '\0' && strspn(x, "0123456789") == strlen(x) && strlen(x) <= 2)
            return NULL;
    }
    return "unable to parse quantity's suffix";
}

int cli__capacity_check(const char *v, char *out, size_t size, struct err *e)
{
    static const char *const keys[] = {"cpu", "memory", "pods", "ephemeral-storage"};
    bool seen[4] = {false, false, false, false};
    const char *p = v;
    size_t used = 0;
    if (v == NULL || v[0] == '\0')
        return err_setf(e, ERR_INVALID, "empty (want e.g. cpu=2,memory=4Gi,pods=20)");
    while (*p != '\0') {
        size_t len = strcspn(p, ","), klen, i;
        const char *eq = memchr(p, '=', len);
        char val[64];
        const char *why;
        int n;
        if (eq == NULL)
            return err_setf(e, ERR_INVALID, "\"%.*s\": want KEY=QUANTITY", (int)len, p);
        klen = (size_t)(eq - p);
        for (i = 0; i < 4; i++)
            if (strlen(keys[i]) == klen && strncmp(p, keys[i], klen) == 0)
                break;
        if (i == 4)
            return err_setf(e, ERR_INVALID,
                            "\"%.*s\": unknown resource (want cpu, memory, pods or "
                            "ephemeral-storage)",
                            (int)klen, p);
        if (seen[i])
            return err_setf(e, ERR_INVALID, "\"%s\": given twice", keys[i]);
        seen[i] = true;
        if (len - klen - 1 >= sizeof val)
            return err_setf(e, ERR_INVALID, "%s: value too long", keys[i]);
        snprintf(val, sizeof val, "%.*s", (int)(len - klen - 1), eq + 1);
        why = quantity_error(val, i == 2);
        if (why != NULL)
            return err_setf(e, ERR_INVALID, "%s=\"%s\": %s", keys[i], val, why);
        n = snprintf(out + used, size - used, "%s%s=%s", used ? "," : "", keys[i], val);
        if (n < 0 || (size_t)n >= size - used)
            return err_setf(e, ERR_INVALID, "too long (at most %zu characters)", size - 1);
        used += (size_t)n;
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0')
                return err_setf(e, ERR_INVALID, "trailing \",\"");
        }
    }
    return 0;
}

void cli__addr_fmt(char *out, size_t n, const char *ip, const char *listen)
{
    snprintf(out, n, "%s:%d", ip, cli__port_of(listen));
}

/* ---- files ---- */

int cli__file_write(const char *path, const char *data, mode_t mode, struct err *e)
{
    char tmp[1300];
    FILE *f;
    int fd;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return err_setf(e, ERR_IO, "write %s: %s", path, strerror(errno));
    f = fdopen(fd, "w");
    if (f == NULL || fputs(data, f) < 0 || fflush(f) != 0 || fsync(fd) != 0) {
        int saved = errno;
        if (f)
            fclose(f);
        else
            close(fd);
        unlink(tmp);
        return err_setf(e, ERR_IO, "write %s: %s", path, strerror(saved));
    }
    fclose(f);
    if (rename(tmp, path) != 0)
        return err_setf(e, ERR_IO, "rename %s: %s", path, strerror(errno));
    return 0;
}

int cli__dirs_make(const char *dir, struct err *e)
{
    char p[1200];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "mkdir %s: %s", dir, strerror(errno));
    cli__path_join(p, sizeof p, dir, "pki");
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "mkdir %s: %s", p, strerror(errno));
    cli__path_join(p, sizeof p, dir, "store");
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "mkdir %s: %s", p, strerror(errno));
    return 0;
}

/* Undoes a failed init/join: removes what it created (the data dir held no
 * node before, which init/join checked), and the dir itself if now empty.
 * Bad input or a failed start must leave nothing half-made behind. */
void cli__node_files_remove(const char *dir)
{
    static const char *made[] = {"pki",           "store",       "raft",       "node.json",
                                 "node.json.tmp", "initialized", "join-token", "admin.kubeconfig"};
    char p[1200];
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        cli__path_join(p, sizeof p, dir, made[i]);
        fs_rmtree(p);
    }
    rmdir(dir);
}

void cli__token_random(char *out, size_t n)
{
    unsigned char b[24];
    static const char hex[] = "0123456789abcdef";
    RAND_priv_bytes(b, sizeof b);
    for (size_t i = 0; i < sizeof b && 2 * i + 2 < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
        out[2 * i + 2] = '\0';
    }
    OPENSSL_cleanse(b, sizeof b);
}

uint64_t cli__id_random(void)
{
    uint64_t id = 0;
    while (id == 0) {
        RAND_bytes((unsigned char *)&id, sizeof id);
        id >>= 1; /* positive as a JSON int64 */
    }
    return id;
}
