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

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/rand.h>

#include "api/api.h"
#include "cli/daemon.h"
#include "consensus/consensus.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/pki.h"
#include "store/store.h"

#define DEFAULT_DATA_DIR  "/var/lib/skiff"
#define DEFAULT_API_PORT  6443
#define DEFAULT_PEER_PORT 6444

struct node_conf {
    char name[64];
    uint64_t id;
    char api_listen[64];
    char peer_listen[64];
    char advertise[64];
    unsigned election_ms, heartbeat_ms, snapshot_threshold, voters, dead_voter_ms, store_mb;
};

struct daemon {
    uv_loop_t loop;
    struct store *store;
    struct cons *cons;
    struct api *api;
    uv_signal_t sigint, sigterm;
    uv_timer_t trim;
    uv_timer_t stop_watchdog;
    uint64_t trim_seen_rev;
    char data_dir[1024];
    struct node_conf conf;
    bool bootstrapping; /* init: write the first objects once leader */
    struct cons_propose boot;
    char *boot_token; /* init: the first join token, written to DIR/join-token */
    char *admin_token;
    int exit_code;
    bool stopping;
};

/* ---- options ---- */

struct opts {
    const char *data_dir, *listen, *peer_listen, *advertise, *name, *server, *token;
    unsigned election_ms, heartbeat_ms, snapshot_threshold, voters, dead_voter_ms, store_mb;
    long token_ttl_s;
};

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
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage_daemon(FILE *f, const char *cmd)
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

static int parse_opts(const char *cmd, int argc, char **argv, struct opts *o)
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
            usage_daemon(stdout, cmd);
            return 1;
        default:
            usage_daemon(stderr, cmd);
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

static void path_join(char *out, size_t n, const char *dir, const char *file)
{
    snprintf(out, n, "%s/%s", dir, file);
}

static int conf_save(const char *dir, const struct node_conf *nc, struct err *e)
{
    char path[1200], tmp[1300];
    json_t *j =
        json_pack("{s:s, s:I, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i}", "name", nc->name, "id",
                  (json_int_t)nc->id, "apiListen", nc->api_listen, "peerListen", nc->peer_listen,
                  "advertise", nc->advertise, "electionTimeoutMs", (int)nc->election_ms,
                  "heartbeatMs", (int)nc->heartbeat_ms, "snapshotThreshold",
                  (int)nc->snapshot_threshold, "voters", (int)nc->voters, "deadVoterTimeoutMs",
                  (int)nc->dead_voter_ms, "storeSizeMb", (int)nc->store_mb);
    int rv;
    path_join(path, sizeof path, dir, "node.json");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    rv = json_dump_file(j, tmp, JSON_INDENT(2));
    json_decref(j);
    if (rv != 0 || rename(tmp, path) != 0)
        return err_setf(e, ERR_IO, "write %s: %s", path, strerror(errno));
    return 0;
}

static int conf_load(const char *dir, struct node_conf *nc, struct err *e)
{
    char path[1200];
    json_error_t je;
    json_t *j;
    const char *name = NULL, *api = NULL, *peer = NULL, *adv = NULL;
    json_int_t id = 0;
    int el = 0, hb = 0, snap = 0, voters = 0, dead = 0, store_mb = 0;
    path_join(path, sizeof path, dir, "node.json");
    j = json_load_file(path, 0, &je);
    if (j == NULL) {
        if (access(path, F_OK) != 0)
            return err_setf(e, ERR_NOTFOUND,
                            "%s: no node here (run skiff init or skiff join first)", dir);
        return err_setf(e, ERR_INVALID, "%s: line %d: %s", path, je.line, je.text);
    }
    if (json_unpack_ex(j, &je, 0, "{s:s, s:I, s:s, s:s, s:s, s?i, s?i, s?i, s?i, s?i, s?i}", "name",
                       &name, "id", &id, "apiListen", &api, "peerListen", &peer, "advertise", &adv,
                       "electionTimeoutMs", &el, "heartbeatMs", &hb, "snapshotThreshold", &snap,
                       "voters", &voters, "deadVoterTimeoutMs", &dead, "storeSizeMb",
                       &store_mb) != 0) {
        json_decref(j);
        return err_setf(e, ERR_INVALID, "%s: %s", path, je.text);
    }
    memset(nc, 0, sizeof *nc);
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
    json_decref(j);
    return 0;
}

static int port_of(const char *addr)
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

static int conf_from_opts(const struct opts *o, struct node_conf *nc, struct err *e)
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
    if (port_of(nc->api_listen) <= 0 || port_of(nc->peer_listen) <= 0)
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
    return 0;
}

static void addr_fmt(char *out, size_t n, const char *ip, const char *listen)
{
    snprintf(out, n, "%s:%d", ip, port_of(listen));
}

/* ---- files ---- */

static int write_file(const char *path, const char *data, mode_t mode, struct err *e)
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

static int make_dirs(const char *dir, struct err *e)
{
    char p[1200];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "mkdir %s: %s", dir, strerror(errno));
    path_join(p, sizeof p, dir, "pki");
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "mkdir %s: %s", p, strerror(errno));
    path_join(p, sizeof p, dir, "store");
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
        return err_setf(e, ERR_IO, "mkdir %s: %s", p, strerror(errno));
    return 0;
}

/* Undoes a failed init/join: removes what it created (the data dir held no
 * node before, which init/join checked), and the dir itself if now empty.
 * Bad input or a failed start must leave nothing half-made behind. */
static void remove_node_files(const char *dir)
{
    static const char *made[] = {"pki",           "store",       "raft",       "node.json",
                                 "node.json.tmp", "initialized", "join-token", "admin.kubeconfig"};
    char p[1200];
    for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
        path_join(p, sizeof p, dir, made[i]);
        fs_rmtree(p);
    }
    rmdir(dir);
}

static void random_token(char *out, size_t n)
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

static uint64_t random_id(void)
{
    uint64_t id = 0;
    while (id == 0) {
        RAND_bytes((unsigned char *)&id, sizeof id);
        id >>= 1; /* positive as a JSON int64 */
    }
    return id;
}

/* ---- the running node ---- */

static void on_closed_all(void *data)
{
    struct daemon *d = data;
    (void)d;
}

static void on_cons_closed(void *data)
{
    struct daemon *d = data;
    d->cons = NULL;
    uv_close((uv_handle_t *)&d->sigint, NULL);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->trim, NULL);
    uv_close((uv_handle_t *)&d->stop_watchdog, NULL);
    on_closed_all(d);
}

static void on_api_closed(void *data)
{
    struct daemon *d = data;
    d->api = NULL;
    if (d->cons)
        cons_close(d->cons, on_cons_closed, d);
    else
        on_cons_closed(d);
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
    path_join(path, sizeof path, d->data_dir, "join-token");
    if (write_file(path, d->boot_token, 0600, &e) != 0) {
        LOG_ERROR("node", "init_failed", "err=\"%s\"", e.msg);
        daemon_stop(d, 1);
        return;
    }
    OPENSSL_cleanse(d->boot_token, strlen(d->boot_token));
    /* the marker that init completed: skiff run refuses a half-made node */
    path_join(path, sizeof path, d->data_dir, "initialized");
    write_file(path, "ok\n", 0600, &e);
    LOG_INFO("node", "cluster_initialized", "node=%s rev=%llu", d->conf.name,
             (unsigned long long)req->result.rev);
    fprintf(stderr,
            "\nskiff: cluster created.\n  admin kubeconfig: %s/admin.kubeconfig\n"
            "  join token:       %s/join-token\n"
            "  add a node:       skiff join --server %s:%d --token $(cat %s/join-token)\n\n",
            d->data_dir, d->data_dir, d->conf.advertise, port_of(d->conf.api_listen), d->data_dir);
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
    struct boot_kv kv[5];
    struct store_cmp cmps[5];
    struct store_op ops[5];
    struct store_txn txn = {cmps, 5, ops, 5};
    char path[1200], *ca_key = NULL, *ca_cert = NULL, peer[128], apiaddr[128];
    struct pki_token t;
    json_t *node = NULL;
    const char *addrs[1];
    int rv, n = 0;

    memset(kv, 0, sizeof kv);
    path_join(path, sizeof path, d->data_dir, "pki/ca.key");
    rv = pki_key_load(path, &ca_key, e);
    path_join(path, sizeof path, d->data_dir, "pki/ca.crt");
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
    addr_fmt(peer, sizeof peer, d->conf.advertise, d->conf.peer_listen);
    addr_fmt(apiaddr, sizeof apiaddr, d->conf.advertise, d->conf.api_listen);
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
    path_join(store_dir, sizeof store_dir, d->data_dir, "store");
    path_join(cert, sizeof cert, d->data_dir, "pki/node.crt");
    path_join(key, sizeof key, d->data_dir, "pki/node.key");
    path_join(ca, sizeof ca, d->data_dir, "pki/ca.crt");
    addr_fmt(peer, sizeof peer, d->conf.advertise, d->conf.peer_listen);
    addr_fmt(apiaddr, sizeof apiaddr, d->conf.advertise, d->conf.api_listen);

    memory_policy();
    memset(&so, 0, sizeof so);
    /* The raft log is fsync'ed before anything is acknowledged, and replay
     * re-applies what LMDB lost in a crash (the applied index lives in the
     * same LMDB txn), so the store itself need not sync every commit. */
    so.no_sync = true;
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
    rv = api_new(&d->loop, d->cons, &ac, &d->api, e);
    if (rv != 0)
        goto out_cons;
    /* bind the API first: a port in use must fail before raft starts */
    rv = api_start(d->api, e);
    if (rv == 0)
        rv = cons_start(d->cons, e);
    if (rv != 0)
        goto out_api;
    uv_signal_start(&d->sigint, on_signal, SIGINT);
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_timer_start(&d->trim, on_trim, TRIM_CHECK_MS, TRIM_CHECK_MS);
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
    char server[128];
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
    path_join(path, sizeof path, dir, "pki/ca.crt");
    if (rv == 0)
        rv = pki_cert_save(path, ca_cert, e);
    path_join(path, sizeof path, dir, "pki/ca.key");
    if (rv == 0)
        rv = pki_key_save(path, ca_key, e);
    path_join(path, sizeof path, dir, "pki/node.crt");
    if (rv == 0)
        rv = pki_cert_save(path, node_cert, e);
    path_join(path, sizeof path, dir, "pki/node.key");
    if (rv == 0)
        rv = pki_key_save(path, node_key, e);
    random_token(admin_token, tok_size);
    snprintf(server, sizeof server, "%s:%d", nc->advertise, port_of(nc->api_listen));
    path_join(path, sizeof path, dir, "admin.kubeconfig");
    if (rv == 0)
        rv = cli_kubeconfig_write(path, server, ca_cert, admin_token, e);
    if (rv == 0)
        rv = conf_save(dir, nc, e);
    free(ca_cert);
    pki_key_pem_free(ca_key);
    pki_key_pem_free(node_key);
    free(node_cert);
    return rv;
}

int cli_init(int argc, char **argv)
{
    struct opts o;
    struct daemon *d;
    struct err e;
    char path[1200], admin_token[64];
    int rv = parse_opts("init", argc, argv, &o);
    if (rv != 0)
        return rv == 1 ? 0 : rv;
    d = calloc(1, sizeof *d);
    snprintf(d->data_dir, sizeof d->data_dir, "%s", o.data_dir);
    path_join(path, sizeof path, o.data_dir, "node.json");
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "skiff init: %s already holds a node; use 'skiff run --data-dir %s'\n",
                o.data_dir, o.data_dir);
        free(d);
        return 1;
    }
    if (conf_from_opts(&o, &d->conf, &e) != 0) {
        fprintf(stderr, "skiff init: %s\n", e.msg);
        free(d);
        return 2;
    }
    if (make_dirs(o.data_dir, &e) != 0) {
        fprintf(stderr, "skiff init: %s\n", e.msg);
        remove_node_files(o.data_dir);
        free(d);
        return 1;
    }
    d->conf.id = random_id();
    fprintf(stderr, "skiff init: creating cluster CA and node certificate in %s/pki\n", o.data_dir);
    if (init_files(o.data_dir, &d->conf, admin_token, sizeof admin_token, &e) != 0) {
        fprintf(stderr, "skiff init: %s\n", e.msg);
        remove_node_files(o.data_dir);
        free(d);
        return 1;
    }
    d->admin_token = admin_token;
    d->bootstrapping = true;
    boot_token_ttl_s = o.token_ttl_s;
    rv = daemon_run(d, true, &e);
    if (rv != 0 && e.code != 0)
        fprintf(stderr, "skiff init: %s\n", e.msg);
    path_join(path, sizeof path, o.data_dir, "initialized");
    if (rv != 0 && access(path, F_OK) != 0) {
        fprintf(stderr, "skiff init: the cluster was not created; removed what init wrote in %s\n",
                o.data_dir);
        remove_node_files(o.data_dir);
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
    int rv = parse_opts("run", argc, argv, &o);
    if (rv != 0)
        return rv == 1 ? 0 : rv;
    d = calloc(1, sizeof *d);
    snprintf(d->data_dir, sizeof d->data_dir, "%s", o.data_dir);
    err_clear(&e);
    if (conf_load(o.data_dir, &d->conf, &e) != 0) {
        fprintf(stderr, "skiff run: %s\n", e.msg);
        free(d);
        return 1;
    }
    path_join(path, sizeof path, o.data_dir, "initialized");
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
    addr_fmt(peer, sizeof peer, nc->advertise, nc->peer_listen);
    addr_fmt(apiaddr, sizeof apiaddr, nc->advertise, nc->api_listen);
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
    path_join(path, sizeof path, dir, "pki/ca.crt");
    rv = pki_cert_save(path, ca, e);
    path_join(path, sizeof path, dir, "pki/node.key");
    if (rv == 0)
        rv = pki_key_save(path, key, e);
    path_join(path, sizeof path, dir, "pki/node.crt");
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
    int rv = parse_opts("join", argc, argv, &o);
    if (rv != 0)
        return rv == 1 ? 0 : rv;
    if (o.server == NULL || o.token == NULL) {
        fprintf(stderr, "skiff join: --server and --token are required\n");
        usage_daemon(stderr, "join");
        return 2;
    }
    d = calloc(1, sizeof *d);
    snprintf(d->data_dir, sizeof d->data_dir, "%s", o.data_dir);
    path_join(path, sizeof path, o.data_dir, "node.json");
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "skiff join: %s already holds a node; use 'skiff run --data-dir %s'\n",
                o.data_dir, o.data_dir);
        free(d);
        return 1;
    }
    if (conf_from_opts(&o, &d->conf, &e) != 0) {
        fprintf(stderr, "skiff join: %s\n", e.msg);
        free(d);
        return 2;
    }
    if (make_dirs(o.data_dir, &e) != 0) {
        fprintf(stderr, "skiff join: %s\n", e.msg);
        remove_node_files(o.data_dir);
        free(d);
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rv = join_request(&o, &d->conf, o.data_dir, &d->conf.id, &e);
    curl_global_cleanup();
    if (rv == 0)
        rv = conf_save(o.data_dir, &d->conf, &e);
    path_join(path, sizeof path, o.data_dir, "initialized");
    if (rv == 0)
        rv = write_file(path, "ok\n", 0600, &e);
    if (rv != 0) {
        fprintf(stderr, "skiff join: %s\n", e.msg);
        remove_node_files(o.data_dir);
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
