/* skiff up / skiff down: a local multi-node cluster on one machine.
 *
 * Every node gets a network namespace NAME-nK whose eth0 is one end of a
 * veth pair; the host ends (NAME-vK) sit on a bridge NAME-br that holds the
 * host's address (.1 of the subnet), so the nodes reach each other over the
 * bridge at layer 2 and the host reaches every node's API. Nothing else of
 * the host is touched: no host route, no forwarding, no firewall rule (the
 * nft table NAME-up is reserved for one and removed by down all the same).
 *
 * Node 1 runs `skiff init`, the others `skiff join` with node 1's first
 * token, each as a child of this process that entered its namespace with
 * setns(2) and then exec'd /proc/self/exe, so the daemon is exactly this
 * binary. The child keeps the host's mount namespace: data dirs, mounts and
 * cgroups of the nodes are all visible from the host (down needs that).
 *
 * DIR/up.json records names, addresses and pids, written before anything is
 * made and rewritten as nodes start, so down can undo a half-made up (a
 * failed up undoes itself the same way). down is idempotent: every step
 * tolerates what it removes being gone already. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agent/cni.h"
#include "agent/image.h"
#include "cli/internal.h"

#define UP_NODES_DEFAULT 3
#define UP_NODES_MAX     64
#define UP_IFNAME_MAX    15 /* IFNAMSIZ - 1 */
#define UP_NAME_MAX      32
#define UP_DIR_DEFAULT   "skiff-local"
#define UP_NAME_DEFAULT  "skiff"
#define UP_SUBNET        "10.250.0.0/24"
#define UP_API_PORT      6443
#define UP_PEER_PORT     6444
#define UP_IMAGES_MAX    16
#define UP_EXTRA_MAX     32
#define UP_START_S       30  /* node 1: join token and API */
#define UP_READY_S       120 /* every node Ready */
#define UP_STOP_S        10  /* SIGTERM, then SIGKILL */
#define UP_EXEC_MS       20000

struct up_node {
    char name[UP_NAME_MAX + 8];   /* NAME-nK: node name and netns name */
    char veth[UP_IFNAME_MAX + 1]; /* NAME-vK: the host end */
    char ip[INET_ADDRSTRLEN];
    char data_dir[PATH_MAX];
    long pid; /* 0: not started */
};

/* What up made, or is about to make: the contents of DIR/up.json. */
struct up_state {
    char name[UP_NAME_MAX];
    char dir[PATH_MAX];
    char subnet[24];
    char bridge[UP_IFNAME_MAX + 1];
    char host_ip[INET_ADDRSTRLEN];
    char nft_table[UP_NAME_MAX + 8];
    size_t n;
    struct up_node nodes[UP_NODES_MAX];
};

/* ---- pure parts ---- */

static unsigned digits(unsigned v)
{
    unsigned d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

/* name prefixes every interface, namespace and node: a DNS label (lower
 * case letters, digits, '-', starting with a letter, not ending with '-')
 * short enough that the longest veth name NAME-vN fits in IFNAMSIZ. */
static int up_name_check(const char *name, unsigned nodes, struct err *e)
{
    size_t len = strlen(name), i, max;
    if (len == 0)
        return err_setf(e, ERR_INVALID, "--name: must not be empty");
    max = UP_IFNAME_MAX - 2 - digits(nodes);
    if (len > max)
        return err_setf(e, ERR_INVALID,
                        "--name: \"%s\" is too long: at most %zu characters for %u nodes "
                        "(interface names are at most %d)",
                        name, max, nodes, UP_IFNAME_MAX);
    if (name[0] < 'a' || name[0] > 'z')
        return err_setf(e, ERR_INVALID, "--name: \"%s\" must start with a lower-case letter", name);
    for (i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return err_setf(e, ERR_INVALID,
                            "--name: \"%s\": only lower-case letters, digits and '-' allowed",
                            name);
    }
    if (name[len - 1] == '-')
        return err_setf(e, ERR_INVALID, "--name: \"%s\" must not end with '-'", name);
    return 0;
}

/* "A.B.C.0/24" → the network address in host byte order. Only a /24 with
 * host part 0: the host is .1 and node k is .(k+1), which keeps the
 * addresses readable and the arithmetic trivial. */
static int up_subnet_parse(const char *cidr, uint32_t *net, struct err *e)
{
    char a[INET_ADDRSTRLEN];
    const char *slash = strchr(cidr, '/');
    struct in_addr in;
    size_t len;

    if (slash == NULL || strcmp(slash, "/24") != 0)
        return err_setf(e, ERR_INVALID, "--subnet: want A.B.C.0/24, got \"%s\"", cidr);
    len = (size_t)(slash - cidr);
    if (len == 0 || len >= sizeof a)
        return err_setf(e, ERR_INVALID, "--subnet: want A.B.C.0/24, got \"%s\"", cidr);
    memcpy(a, cidr, len);
    a[len] = '\0';
    if (inet_pton(AF_INET, a, &in) != 1)
        return err_setf(e, ERR_INVALID, "--subnet: \"%s\" is not an IPv4 address", a);
    *net = ntohl(in.s_addr);
    if ((*net & 0xff) != 0)
        return err_setf(e, ERR_INVALID, "--subnet: \"%s\": the host part must be 0", cidr);
    return 0;
}

/* The address of host number host (1..254) in net. */
static void up_addr(uint32_t net, unsigned host, char *buf, size_t size)
{
    struct in_addr in = {.s_addr = htonl(net | (host & 0xff))};
    inet_ntop(AF_INET, &in, buf, (socklen_t)size);
}

/* Fills st for a cluster of n nodes named name in dir (absolute) on subnet. */
static int up_state_init(struct up_state *st, const char *name, const char *dir, const char *subnet,
                         unsigned n, struct err *e)
{
    uint32_t net;
    int rv;
    unsigned k;

    memset(st, 0, sizeof *st);
    if (n < 1 || n > UP_NODES_MAX)
        return err_setf(e, ERR_INVALID, "--nodes: want 1..%d, got %u", UP_NODES_MAX, n);
    if ((rv = up_name_check(name, n, e)) != 0 || (rv = up_subnet_parse(subnet, &net, e)) != 0)
        return rv;
    if (dir[0] != '/' || strlen(dir) + 16 >= sizeof st->dir)
        return err_setf(e, ERR_INVALID, "--dir: \"%s\": want an absolute path", dir);
    snprintf(st->name, sizeof st->name, "%s", name);
    snprintf(st->dir, sizeof st->dir, "%s", dir);
    snprintf(st->subnet, sizeof st->subnet, "%s", subnet);
    snprintf(st->bridge, sizeof st->bridge, "%s-br", name);
    snprintf(st->nft_table, sizeof st->nft_table, "%s-up", name);
    up_addr(net, 1, st->host_ip, sizeof st->host_ip);
    st->n = n;
    for (k = 1; k <= n; k++) {
        struct up_node *nd = &st->nodes[k - 1];
        snprintf(nd->name, sizeof nd->name, "%s-n%u", name, k);
        snprintf(nd->veth, sizeof nd->veth, "%s-v%u", name, k);
        up_addr(net, k + 1, nd->ip, sizeof nd->ip);
        snprintf(nd->data_dir, sizeof nd->data_dir, "%s/n%u", dir, k);
    }
    return 0;
}

static json_t *up_state_to_json(const struct up_state *st)
{
    json_t *nodes = json_array(), *j;
    size_t i;
    for (i = 0; i < st->n; i++) {
        const struct up_node *nd = &st->nodes[i];
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:s, s:s, s:I}", "name", nd->name,
                                               "veth", nd->veth, "ip", nd->ip, "dataDir",
                                               nd->data_dir, "pid", (json_int_t)nd->pid));
    }
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "name", st->name, "dir", st->dir, "subnet",
                  st->subnet, "bridge", st->bridge, "hostIP", st->host_ip, "nftTable",
                  st->nft_table, "nodes", nodes);
    return j;
}

/* Copies string field key of obj into buf; ERR_INVALID naming path.key. */
static int get_str(const json_t *obj, const char *path, const char *key, char *buf, size_t size,
                   struct err *e)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        return err_setf(e, ERR_INVALID, "%s%s: required string", path, key);
    if (json_string_length(v) >= size || strlen(json_string_value(v)) != json_string_length(v))
        return err_setf(e, ERR_INVALID, "%s%s: too long or not a plain string", path, key);
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

/* Reads st back from j (borrowed). The names are checked again (down runs
 * `ip` with them), and must be the ones up derives from name: a hand-edited
 * up.json cannot make down delete somebody else's interface. */
static int up_state_from_json(const json_t *j, struct up_state *st, struct err *e)
{
    struct up_state want;
    const json_t *nodes, *v;
    char path[48];
    size_t i;
    int rv;

    memset(st, 0, sizeof *st);
    if (!json_is_object(j))
        return err_setf(e, ERR_INVALID, "up.json: want an object");
    nodes = json_object_get(j, "nodes");
    if (!json_is_array(nodes) || json_array_size(nodes) < 1 ||
        json_array_size(nodes) > UP_NODES_MAX)
        return err_setf(e, ERR_INVALID, "up.json: nodes: want 1..%d entries", UP_NODES_MAX);
    if ((rv = get_str(j, "", "name", st->name, sizeof st->name, e)) != 0 ||
        (rv = get_str(j, "", "dir", st->dir, sizeof st->dir, e)) != 0 ||
        (rv = get_str(j, "", "subnet", st->subnet, sizeof st->subnet, e)) != 0)
        return err_wrapf(e, "up.json");
    rv = up_state_init(&want, st->name, st->dir, st->subnet, (unsigned)json_array_size(nodes), e);
    if (rv != 0)
        return err_wrapf(e, "up.json");
    *st = want;
    for (i = 0; i < st->n; i++) {
        struct up_node *nd = &st->nodes[i];
        char name[sizeof nd->name];
        const json_t *o = json_array_get(nodes, i);
        snprintf(path, sizeof path, "nodes[%zu].", i);
        if (!json_is_object(o))
            return err_setf(e, ERR_INVALID, "up.json: nodes[%zu]: want an object", i);
        if ((rv = get_str(o, path, "name", name, sizeof name, e)) != 0)
            return err_wrapf(e, "up.json");
        if (strcmp(name, nd->name) != 0)
            return err_setf(e, ERR_INVALID, "up.json: %sname: want \"%s\", got \"%s\"", path,
                            nd->name, name);
        v = json_object_get(o, "pid");
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
            return err_setf(e, ERR_INVALID, "up.json: %spid: want an integer >= 0", path);
        nd->pid = (long)json_integer_value(v);
    }
    return 0;
}

/* ---- files ---- */

static int up_state_save(const struct up_state *st, struct err *e)
{
    char path[PATH_MAX + 16], tmp[PATH_MAX + 16];
    json_t *j = up_state_to_json(st);
    int rv = 0;

    snprintf(path, sizeof path, "%s/up.json", st->dir);
    snprintf(tmp, sizeof tmp, "%s/.up.json.tmp", st->dir);
    if (j == NULL)
        return err_setf(e, ERR_NOMEM, "up.json: out of memory");
    if (json_dump_file(j, tmp, JSON_INDENT(2)) != 0 || rename(tmp, path) != 0) {
        rv = err_setf(e, ERR_IO, "write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    json_decref(j);
    return rv;
}

/* ERR_NOTFOUND when dir has no up.json. */
static int up_state_load(const char *dir, struct up_state *st, struct err *e)
{
    char path[PATH_MAX + 16];
    json_error_t je;
    json_t *j;
    int rv;

    snprintf(path, sizeof path, "%s/up.json", dir);
    j = json_load_file(path, 0, &je);
    if (j == NULL) {
        if (access(path, F_OK) != 0)
            return err_setf(e, ERR_NOTFOUND, "%s: no such file", path);
        return err_setf(e, ERR_INVALID, "%s:%d: %s", path, je.line, je.text);
    }
    rv = up_state_from_json(j, st, e);
    json_decref(j);
    return rv;
}

/* An absolute form of dir (which need not exist yet): relative paths are
 * taken from the working directory; the node processes get it as given. */
static int abs_dir(const char *dir, char *out, size_t size, struct err *e)
{
    char cwd[PATH_MAX];
    size_t len;
    if (dir[0] == '/') {
        if (snprintf(out, size, "%s", dir) >= (int)size)
            return err_setf(e, ERR_INVALID, "--dir: too long");
    } else {
        if (getcwd(cwd, sizeof cwd) == NULL)
            return err_setf(e, ERR_IO, "getcwd: %s", strerror(errno));
        if (snprintf(out, size, "%s/%s", cwd, dir) >= (int)size)
            return err_setf(e, ERR_INVALID, "--dir: too long");
    }
    len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        out[--len] = '\0';
    return 0;
}

/* ---- processes and commands ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs argv (NULL-terminated) to its end. quiet: a failure is only
 * returned, not printed. ERR_IO with the command and the first line of its
 * stderr when it exits non-zero. */
static int cmd(bool quiet, struct err *e, const char *const *argv)
{
    struct agent__netexec x = {.argv = argv, .timeout_ms = UP_EXEC_MS};
    struct agent__netexec_out out;
    int rv = agent__netexec_run(&x, &out, e);
    if (rv == 0 && out.exit_code != 0) {
        size_t n = strcspn(out.err, "\n");
        char line[512] = "";
        size_t i, o = 0;
        for (i = 0; argv[i] != NULL && o < sizeof line - 1; i++)
            o += (size_t)snprintf(line + o, sizeof line - o, "%s%s", i ? " " : "", argv[i]);
        rv = err_setf(e, ERR_IO, "%s: %.*s (exit %d)", line, (int)(n > 200 ? 200 : n), out.err,
                      out.exit_code);
    }
    if (rv != 0 && !quiet)
        fprintf(stderr, "  %s\n", e->msg);
    agent__netexec_out_close(&out);
    return rv;
}

#define CMD(quiet, e, ...) cmd(quiet, e, (const char *const[]){__VA_ARGS__, NULL})

static bool netns_exists(const char *ns)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "/run/netns/%s", ns);
    return access(p, F_OK) == 0;
}

static bool link_exists(const char *ifname)
{
    return if_nametoindex(ifname) != 0;
}

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    if (path == NULL)
        path = "/usr/sbin:/usr/bin:/sbin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, prog);
        if (n > 0 && access(buf, X_OK) == 0)
            return true;
        path += n;
        if (*path == ':')
            path++;
    }
    return false;
}

/* True when pid is alive and its command line has data_dir as an argument:
 * the pid recorded in up.json is still our node, not a reused number. */
static bool pid_is_node(long pid, const char *data_dir)
{
    char p[64], buf[8192];
    ssize_t n;
    int fd;
    size_t i = 0;

    if (pid <= 0)
        return false;
    snprintf(p, sizeof p, "/proc/%ld/cmdline", pid);
    if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
        return false;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    while (i < (size_t)n) {
        if (strcmp(buf + i, data_dir) == 0)
            return true;
        i += strlen(buf + i) + 1;
    }
    return false;
}

/* Our own children are reaped here so that kill(pid, 0) stops finding them
 * once they exit; other processes' exits are seen by kill alone. */
static bool pid_alive(long pid)
{
    if (pid <= 0)
        return false;
    waitpid((pid_t)pid, NULL, WNOHANG);
    return kill((pid_t)pid, 0) == 0;
}

/* Forks a child that enters netns, starts a session, sends its output to
 * log (appended) and execs /proc/self/exe with argv. *pid is the child. */
static int spawn_in_netns(const char *netns, const char *const *argv, const char *log, pid_t *pid,
                          struct err *e)
{
    char nspath[PATH_MAX];
    int nsfd, logfd, nullfd;
    pid_t p;

    snprintf(nspath, sizeof nspath, "/run/netns/%s", netns);
    nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0)
        return err_setf(e, ERR_IO, "open %s: %s", nspath, strerror(errno));
    logfd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    if (log != NULL && logfd < 0) {
        close(nsfd);
        return err_setf(e, ERR_IO, "open %s: %s", log, strerror(errno));
    }
    fflush(stdout);
    fflush(stderr);
    p = fork();
    if (p < 0) {
        close(nsfd);
        if (logfd >= 0)
            close(logfd);
        return err_setf(e, ERR_IO, "fork: %s", strerror(errno));
    }
    if (p == 0) {
        /* child: only async-signal-safe calls until exec */
        if (setns(nsfd, CLONE_NEWNET) != 0)
            _exit(126);
        if (log != NULL) {
            /* a daemon: no terminal, output to its log */
            setsid();
            nullfd = open("/dev/null", O_RDONLY);
            if (nullfd >= 0)
                dup2(nullfd, 0);
            dup2(logfd, 1);
            dup2(logfd, 2);
        }
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    close(nsfd);
    if (logfd >= 0)
        close(logfd);
    *pid = p;
    return 0;
}

/* Every process whose network namespace is netns (other than ourselves). */
static size_t netns_pids(const char *netns, pid_t *out, size_t max)
{
    char p[PATH_MAX];
    struct stat ns, st;
    size_t n = 0;
    DIR *d;
    struct dirent *de;

    snprintf(p, sizeof p, "/run/netns/%s", netns);
    if (stat(p, &ns) != 0 || (d = opendir("/proc")) == NULL)
        return 0;
    while ((de = readdir(d)) != NULL && n < max) {
        char *end;
        long pid = strtol(de->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || pid == (long)getpid())
            continue;
        snprintf(p, sizeof p, "/proc/%ld/ns/net", pid);
        if (stat(p, &st) == 0 && st.st_ino == ns.st_ino && st.st_dev == ns.st_dev)
            out[n++] = (pid_t)pid;
    }
    closedir(d);
    return n;
}

/* ---- down ---- */

static int up_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* rm -rf that stays on dir's file system (FTW_MOUNT): should a mount be
 * left below dir after all, what it shows is not ours to delete. */
static void up_rmtree(const char *dir)
{
    nftw(dir, up_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* SIGTERM to every node still running, up to UP_STOP_S for all of them to
 * exit, then SIGKILL. */
static void stop_nodes(struct up_state *st)
{
    double deadline = now_s() + UP_STOP_S;
    size_t i, left;

    for (i = 0; i < st->n; i++) {
        struct up_node *nd = &st->nodes[i];
        if (pid_is_node(nd->pid, nd->data_dir)) {
            printf("stopping %s (pid %ld)\n", nd->name, nd->pid);
            kill((pid_t)nd->pid, SIGTERM);
        } else {
            nd->pid = 0;
        }
    }
    for (;;) {
        for (i = 0, left = 0; i < st->n; i++)
            if (st->nodes[i].pid > 0 && pid_alive(st->nodes[i].pid))
                left++;
        if (left == 0 || now_s() >= deadline)
            break;
        sleep_ms(50);
    }
    for (i = 0; i < st->n; i++) {
        struct up_node *nd = &st->nodes[i];
        if (nd->pid > 0 && pid_alive(nd->pid)) {
            printf("%s did not stop in %d s: SIGKILL\n", nd->name, UP_STOP_S);
            kill((pid_t)nd->pid, SIGKILL);
            for (int t = 0; t < 100 && pid_alive(nd->pid); t++)
                sleep_ms(20);
        }
        nd->pid = 0;
    }
}

/* skiff reset for a node, inside its namespace (or with --no-net when the
 * namespace is gone: the network steps would hit the host's instead). */
static int reset_node(const struct up_node *nd, bool keep_data)
{
    bool has_ns = netns_exists(nd->name);
    const char *argv[] = {"skiff",  "reset",  "--data-dir",  nd->data_dir,
                          "--name", nd->name, "--keep-data", has_ns ? NULL : "--no-net",
                          NULL};
    struct err e;
    pid_t pid;
    int status = 0;
    (void)keep_data; /* down removes DIR as a whole afterwards */

    if (access(nd->data_dir, F_OK) != 0)
        return 0;
    printf("resetting %s\n", nd->name);
    if (has_ns) {
        if (spawn_in_netns(nd->name, argv, NULL, &pid, &e) != 0) {
            fprintf(stderr, "skiff down: %s: %s\n", nd->name, e.msg);
            return 1;
        }
    } else {
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
            execv("/proc/self/exe", (char *const *)argv);
            _exit(127);
        }
        if (pid < 0)
            return 1;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

/* Undoes everything st names; what is gone already is skipped. Returns the
 * number of steps that failed. */
static int down_state(struct up_state *st, bool keep_data)
{
    int failed = 0;
    size_t i;
    struct err e;
    pid_t pids[256];

    stop_nodes(st);
    (void)up_state_save(st, &e); /* pids are 0 now: a second down skips them */
    for (i = 0; i < st->n; i++) {
        struct up_node *nd = &st->nodes[i];
        size_t n = netns_pids(nd->name, pids, sizeof pids / sizeof pids[0]), k;
        for (k = 0; k < n; k++) {
            printf("killing pid %d left in %s\n", (int)pids[k], nd->name);
            kill(pids[k], SIGKILL);
        }
        for (int t = 0; t < 100 && netns_pids(nd->name, pids, 1) > 0; t++)
            sleep_ms(20);
        failed += reset_node(nd, keep_data);
    }
    for (i = 0; i < st->n; i++) {
        struct up_node *nd = &st->nodes[i];
        /* the host end first: deleting it deletes the pair, whereas after
         * `ip netns del` the pair lingers until the kernel has cleaned up
         * the namespace */
        if (link_exists(nd->veth)) {
            printf("deleting veth %s\n", nd->veth);
            if (CMD(true, &e, "ip", "link", "del", nd->veth) != 0 && link_exists(nd->veth)) {
                fprintf(stderr, "  %s\n", e.msg);
                failed++;
            }
        }
        if (netns_exists(nd->name)) {
            printf("deleting netns %s\n", nd->name);
            failed += CMD(false, &e, "ip", "netns", "del", nd->name) != 0;
        }
    }
    if (link_exists(st->bridge)) {
        printf("deleting bridge %s\n", st->bridge);
        failed += CMD(false, &e, "ip", "link", "del", st->bridge) != 0;
    }
    if (in_path("nft") && CMD(true, &e, "nft", "list", "table", "ip", st->nft_table) == 0) {
        printf("deleting nft table ip %s\n", st->nft_table);
        failed += CMD(false, &e, "nft", "delete", "table", "ip", st->nft_table) != 0;
    }
    if (failed == 0 && !keep_data) {
        /* reset unmounted everything below the data dirs; a mount left
         * elsewhere below DIR is not walked into, and keeps DIR */
        printf("removing %s\n", st->dir);
        up_rmtree(st->dir);
        if (access(st->dir, F_OK) == 0) {
            fprintf(stderr, "  %s: not removed entirely (a mount below it?)\n", st->dir);
            failed++;
        }
    } else if (failed == 0) {
        char p[PATH_MAX + 16];
        snprintf(p, sizeof p, "%s/up.json", st->dir);
        unlink(p);
        printf("kept %s (--keep-data)\n", st->dir);
    }
    return failed;
}

static void down_usage(FILE *f)
{
    fprintf(f, "usage: skiff down [--dir DIR] [--keep-data]\n"
               "\n"
               "Stops the local cluster 'skiff up' made in DIR (default ./" UP_DIR_DEFAULT "),\n"
               "resets every node (containers, mounts, cgroups), deletes the network\n"
               "namespaces, veths and bridge, and removes DIR unless --keep-data.\n"
               "Running it again, or after a failed 'skiff up', is fine.\n");
}

int cli_down(int argc, char **argv)
{
    static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
                                         {"keep-data", no_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dir_arg = UP_DIR_DEFAULT;
    char dir[PATH_MAX];
    bool keep = false;
    struct up_state *st;
    struct err e;
    int c, rv;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir_arg = optarg;
            break;
        case 'k':
            keep = true;
            break;
        case 'h':
            down_usage(stdout);
            return 0;
        default:
            down_usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        down_usage(stderr);
        return 2;
    }
    if (abs_dir(dir_arg, dir, sizeof dir, &e) != 0) {
        fprintf(stderr, "skiff down: %s\n", e.msg);
        return 2;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "skiff down: must run as root (network namespaces, mounts, cgroups)\n");
        return 1;
    }
    st = calloc(1, sizeof *st);
    if (st == NULL)
        return 1;
    rv = up_state_load(dir, st, &e);
    if (rv == ERR_NOTFOUND) {
        printf("skiff down: no cluster in %s (no up.json): nothing to do\n", dir);
        free(st);
        return 0;
    }
    if (rv != 0) {
        fprintf(stderr, "skiff down: %s\n", e.msg);
        free(st);
        return 1;
    }
    if (strcmp(st->dir, dir) != 0)
        fprintf(stderr, "skiff down: note: %s was made as %s\n", dir, st->dir);
    rv = down_state(st, keep);
    if (rv != 0)
        fprintf(stderr, "skiff down: %d step(s) failed (see above); run it again when fixed\n", rv);
    else
        printf("cluster %s is down\n", st->name);
    free(st);
    return rv != 0 ? 1 : 0;
}

/* ---- up ---- */

struct up_args {
    unsigned nodes;
    const char *dir, *name, *subnet;
    const char *images[UP_IMAGES_MAX];
    size_t n_images;
    const char *extra[UP_EXTRA_MAX];
    size_t n_extra;
};

static void up_usage(FILE *f)
{
    fprintf(f,
            "usage: skiff up [--nodes N] [--dir DIR] [--name NAME] [--image ARCHIVE]...\n"
            "                [--subnet A.B.C.0/24] [-- DAEMON-FLAGS...]\n"
            "\n"
            "Starts a local cluster of N nodes (default %d) on this machine, one network\n"
            "namespace per node (NAME-n1, NAME-n2, ...) on the bridge NAME-br (default\n"
            "name \"" UP_NAME_DEFAULT "\", subnet " UP_SUBNET ": the host is .1, node k is .k+1).\n"
            "Node 1 runs 'skiff init', the others 'skiff join'; their data dirs and logs\n"
            "are DIR/nK (default DIR ./" UP_DIR_DEFAULT "). Each --image archive (OCI or\n"
            "docker-save) is imported into every node. Waits until every node is Ready\n"
            "and writes DIR/admin.kubeconfig. Flags after -- go to every daemon\n"
            "(e.g. -- --fake-runtime). Undo with 'skiff down --dir DIR'. Needs root and ip.\n",
            UP_NODES_DEFAULT);
}

/* 0, 1 (--help: exit 0) or 2 (usage error, printed) */
static int up_args_parse(int argc, char **argv, struct up_args *a)
{
    static const struct option opts[] = {{"nodes", required_argument, NULL, 'n'},
                                         {"dir", required_argument, NULL, 'd'},
                                         {"name", required_argument, NULL, 'N'},
                                         {"image", required_argument, NULL, 'i'},
                                         {"subnet", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    memset(a, 0, sizeof *a);
    a->nodes = UP_NODES_DEFAULT;
    a->dir = UP_DIR_DEFAULT;
    a->name = UP_NAME_DEFAULT;
    a->subnet = UP_SUBNET;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        char *end;
        long v;
        switch (c) {
        case 'n':
            v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 1 || v > UP_NODES_MAX) {
                fprintf(stderr, "skiff up: --nodes: want 1..%d, got \"%s\"\n", UP_NODES_MAX,
                        optarg);
                return 2;
            }
            a->nodes = (unsigned)v;
            break;
        case 'd':
            a->dir = optarg;
            break;
        case 'N':
            a->name = optarg;
            break;
        case 's':
            a->subnet = optarg;
            break;
        case 'i':
            if (a->n_images == UP_IMAGES_MAX) {
                fprintf(stderr, "skiff up: at most %d --image\n", UP_IMAGES_MAX);
                return 2;
            }
            a->images[a->n_images++] = optarg;
            break;
        case 'h':
            up_usage(stdout);
            return 1;
        default:
            up_usage(stderr);
            return 2;
        }
    }
    /* getopt stops at "--" (consumed) or at the first non-option */
    if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
        fprintf(stderr, "skiff up: unexpected argument \"%s\" (daemon flags go after --)\n",
                argv[optind]);
        return 2;
    }
    for (; optind < argc; optind++) {
        if (a->n_extra == UP_EXTRA_MAX) {
            fprintf(stderr, "skiff up: at most %d daemon flags\n", UP_EXTRA_MAX);
            return 2;
        }
        a->extra[a->n_extra++] = argv[optind];
    }
    return 0;
}

static void log_tail(const char *data_dir)
{
    char p[PATH_MAX + 16], line[1024];
    long pos;
    FILE *f;
    snprintf(p, sizeof p, "%s/skiff.log", data_dir);
    if ((f = fopen(p, "r")) == NULL)
        return;
    fseek(f, 0, SEEK_END);
    pos = ftell(f);
    fseek(f, pos > 3000 ? pos - 3000 : 0, SEEK_SET);
    if (pos > 3000 && fgets(line, sizeof line, f) == NULL) /* skip a partial line */
        pos = 0;
    fprintf(stderr, "---- last lines of %s\n", p);
    while (fgets(line, sizeof line, f) != NULL)
        fputs(line, stderr);
    fclose(f);
}

/* Makes the bridge and, per node, the namespace, the veth pair, addresses
 * and routes. */
static int net_make(const struct up_state *st, struct err *e)
{
    char cidr[32];
    size_t i;
    int rv;

    snprintf(cidr, sizeof cidr, "%s/24", st->host_ip);
    printf("bridge %s with %s\n", st->bridge, cidr);
    if ((rv = CMD(false, e, "ip", "link", "add", st->bridge, "type", "bridge")) != 0 ||
        (rv = CMD(false, e, "ip", "addr", "add", cidr, "dev", st->bridge)) != 0 ||
        (rv = CMD(false, e, "ip", "link", "set", st->bridge, "up")) != 0)
        return rv;
    for (i = 0; i < st->n; i++) {
        const struct up_node *nd = &st->nodes[i];
        snprintf(cidr, sizeof cidr, "%s/24", nd->ip);
        printf("netns %s: eth0 %s (host end %s)\n", nd->name, cidr, nd->veth);
        if ((rv = CMD(false, e, "ip", "netns", "add", nd->name)) != 0 ||
            (rv = CMD(false, e, "ip", "link", "add", nd->veth, "type", "veth", "peer", "name",
                      "eth0", "netns", nd->name)) != 0 ||
            (rv = CMD(false, e, "ip", "link", "set", nd->veth, "master", st->bridge, "up")) != 0 ||
            (rv = CMD(false, e, "ip", "-n", nd->name, "addr", "add", cidr, "dev", "eth0")) != 0 ||
            (rv = CMD(false, e, "ip", "-n", nd->name, "link", "set", "eth0", "up")) != 0 ||
            (rv = CMD(false, e, "ip", "-n", nd->name, "link", "set", "lo", "up")) != 0 ||
            (rv = CMD(false, e, "ip", "-n", nd->name, "route", "add", "default", "via",
                      st->host_ip)) != 0)
            return rv;
    }
    return 0;
}

/* Imports every archive into every node's image store (before the nodes
 * start, so their first lookup finds them). */
static int images_import(const struct up_state *st, const struct up_args *a, struct err *e)
{
    size_t i, k, r;
    int rv = 0;

    for (i = 0; i < a->n_images; i++) {
        for (k = 0; k < st->n; k++) {
            char dir[PATH_MAX + 32], digest[AGENT_IMAGE_DIGEST_SIZE];
            struct agent_image_store *s = NULL;
            struct agent_image_info *rows = NULL;
            size_t n = 0;

            snprintf(dir, sizeof dir, "%s/agent", st->nodes[k].data_dir);
            mkdir(st->nodes[k].data_dir, 0700);
            mkdir(dir, 0755);
            snprintf(dir, sizeof dir, "%s/agent/images", st->nodes[k].data_dir);
            mkdir(dir, 0755);
            rv = agent_image_store_open(dir, &s, e);
            if (rv == 0)
                rv = agent_image_import(s, a->images[i], NULL, NULL, digest, e);
            if (rv == 0 && agent_image_list(s, &rows, &n, e) == 0) {
                bool named = false;
                for (r = 0; r < n; r++) {
                    if (strcmp(rows[r].digest, digest) == 0 && rows[r].ref[0] != '\0') {
                        printf("%s: imported %s as %s\n", st->nodes[k].name, a->images[i],
                               rows[r].ref);
                        named = true;
                    }
                }
                if (!named)
                    printf("%s: imported %s (%.19s, no name: pods can use it by digest)\n",
                           st->nodes[k].name, a->images[i], digest);
            }
            rv = rv == 0 ? 0 : err_wrapf(e, "image %s into %s", a->images[i], st->nodes[k].name);
            free(rows);
            agent_image_store_free(s);
            if (rv != 0)
                return rv;
        }
    }
    return 0;
}

/* Starts node i (0: init, else join with token). */
static int node_start(struct up_state *st, size_t i, const struct up_args *a, const char *token,
                      struct err *e)
{
    struct up_node *nd = &st->nodes[i];
    char listen[40], peer[40], server[40], log[PATH_MAX + 16];
    const char *argv[24 + UP_EXTRA_MAX];
    size_t n = 0, k;
    pid_t pid;
    int rv;

    snprintf(listen, sizeof listen, "%s:%d", nd->ip, UP_API_PORT);
    snprintf(peer, sizeof peer, "%s:%d", nd->ip, UP_PEER_PORT);
    snprintf(server, sizeof server, "%s:%d", st->nodes[0].ip, UP_API_PORT);
    snprintf(log, sizeof log, "%s/skiff.log", nd->data_dir);
    mkdir(nd->data_dir, 0700);
    argv[n++] = "skiff";
    argv[n++] = i == 0 ? "init" : "join";
    argv[n++] = "--data-dir";
    argv[n++] = nd->data_dir;
    argv[n++] = "--listen";
    argv[n++] = listen;
    argv[n++] = "--peer-listen";
    argv[n++] = peer;
    argv[n++] = "--advertise";
    argv[n++] = nd->ip;
    argv[n++] = "--name";
    argv[n++] = nd->name;
    if (i > 0) {
        argv[n++] = "--server";
        argv[n++] = server;
        argv[n++] = "--token";
        argv[n++] = token;
    }
    for (k = 0; k < a->n_extra; k++)
        argv[n++] = a->extra[k];
    argv[n] = NULL;
    printf("starting %s: skiff %s in netns %s (log %s)\n", nd->name, argv[1], nd->name, log);
    rv = spawn_in_netns(nd->name, argv, log, &pid, e);
    if (rv != 0)
        return rv;
    nd->pid = pid;
    return up_state_save(st, e);
}

/* ERR_IO when a started node has exited. */
static int nodes_alive(const struct up_state *st, struct err *e)
{
    size_t i;
    for (i = 0; i < st->n; i++) {
        if (st->nodes[i].pid > 0 && !pid_alive(st->nodes[i].pid)) {
            log_tail(st->nodes[i].data_dir);
            return err_setf(e, ERR_IO, "%s exited (log: %s/skiff.log)", st->nodes[i].name,
                            st->nodes[i].data_dir);
        }
    }
    return 0;
}

/* GET path as JSON (new reference), or NULL when the API does not answer
 * 200 with JSON. */
static json_t *get_json(struct cli_client *c, const char *path)
{
    struct cli_resp r = {0};
    struct err e;
    json_t *j;
    if (cli__request(c, "GET", path, NULL, NULL, NULL, &r, &e) != 0)
        return NULL;
    j = r.status == 200 ? cli__resp_json(&r) : NULL;
    cli__resp_free(&r);
    return j;
}

static bool is_ours(const struct up_state *st, const char *name)
{
    size_t k;
    for (k = 0; name != NULL && k < st->n; k++)
        if (strcmp(name, st->nodes[k].name) == 0)
            return true;
    return false;
}

/* How many of our nodes are settled Raft members (reachable, past
 * "joining"), and how many of them are voters; -1 when the API does not
 * answer. A leader killed before the joiners have been promoted would take
 * the quorum with it, so up waits for this as well. */
static int members_settled(struct cli_client *c, const struct up_state *st, int *voters)
{
    json_t *status = get_json(c, "/skiff/v1/cluster/status"), *m;
    size_t i;
    int n = 0;

    *voters = 0;
    if (status == NULL)
        return -1;
    json_array_foreach (json_object_get(status, "members"), i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (!is_ours(st, json_string_value(json_object_get(m, "name"))) || role == NULL ||
            strcmp(role, "joining") == 0 || !json_is_true(json_object_get(m, "reachable")))
            continue;
        n++;
        *voters += strcmp(role, "voter") == 0;
    }
    json_decref(status);
    return n;
}

/* How many of our nodes the API lists with condition Ready=True and the
 * agent's own report (nodeInfo.containerRuntimeVersion: a Node that join
 * registered but whose agent has not reported yet has none); -1 when the
 * API does not answer. */
static int nodes_ready(struct cli_client *c, const struct up_state *st)
{
    json_t *list = get_json(c, "/api/v1/nodes"), *node, *cond, *status;
    size_t i, j;
    int ready = 0;

    if (list == NULL)
        return -1;
    json_array_foreach (json_object_get(list, "items"), i, node) {
        const char *rt;
        status = json_object_get(node, "status");
        rt = json_string_value(
            json_object_get(json_object_get(status, "nodeInfo"), "containerRuntimeVersion"));
        if (!is_ours(st, json_string_value(
                             json_object_get(json_object_get(node, "metadata"), "name"))) ||
            rt == NULL || rt[0] == '\0')
            continue;
        json_array_foreach (json_object_get(status, "conditions"), j, cond) {
            const char *t = json_string_value(json_object_get(cond, "type"));
            const char *s = json_string_value(json_object_get(cond, "status"));
            if (t && s && strcmp(t, "Ready") == 0 && strcmp(s, "True") == 0)
                ready++;
        }
    }
    json_decref(list);
    return ready;
}

static int file_copy(const char *from, const char *to, struct err *e)
{
    char buf[65536], tmp[PATH_MAX + 16];
    int in, out, rv = 0;
    ssize_t n;

    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    if ((in = open(from, O_RDONLY | O_CLOEXEC)) < 0)
        return err_setf(e, ERR_IO, "open %s: %s", from, strerror(errno));
    if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        close(in);
        return err_setf(e, ERR_IO, "open %s: %s", tmp, strerror(errno));
    }
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            rv = err_setf(e, ERR_IO, "write %s: %s", tmp, strerror(errno));
            break;
        }
    if (n < 0)
        rv = err_setf(e, ERR_IO, "read %s: %s", from, strerror(errno));
    close(in);
    if (close(out) != 0 && rv == 0)
        rv = err_setf(e, ERR_IO, "write %s: %s", tmp, strerror(errno));
    if (rv == 0 && rename(tmp, to) != 0)
        rv = err_setf(e, ERR_IO, "rename %s: %s", to, strerror(errno));
    if (rv != 0)
        unlink(tmp);
    return rv;
}

static int read_token(const char *data_dir, char *buf, size_t size)
{
    char p[PATH_MAX + 16];
    FILE *f;
    size_t n;
    snprintf(p, sizeof p, "%s/join-token", data_dir);
    if ((f = fopen(p, "r")) == NULL)
        return -1;
    n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, " \r\n\t")] = '\0';
    return buf[0] != '\0' ? 0 : -1;
}

/* The steps after the network is made: images, node 1, the others, Ready. */
static int up_run(struct up_state *st, const struct up_args *a, struct err *e)
{
    char token[512], kc[PATH_MAX + 32];
    struct cli_opts o = {0};
    struct cli_client c = {0};
    bool client = false;
    double start = now_s(), deadline, last_print = 0;
    int rv, ready, last = -2, members, last_members = -2, voters = 0, want_voters;
    size_t i;

    if ((rv = images_import(st, a, e)) != 0)
        return rv;
    if ((rv = node_start(st, 0, a, NULL, e)) != 0)
        return rv;
    /* node 1: the join token, then the API */
    snprintf(kc, sizeof kc, "%s/admin.kubeconfig", st->nodes[0].data_dir);
    deadline = now_s() + UP_START_S;
    printf("waiting for %s to create the cluster", st->nodes[0].name);
    fflush(stdout);
    while (read_token(st->nodes[0].data_dir, token, sizeof token) != 0 || access(kc, R_OK) != 0) {
        if ((rv = nodes_alive(st, e)) != 0 || now_s() >= deadline) {
            printf("\n");
            if (rv == 0) {
                log_tail(st->nodes[0].data_dir);
                rv = err_setf(e, ERR_TIMEOUT, "%s: no join token after %d s", st->nodes[0].name,
                              UP_START_S);
            }
            return rv;
        }
        if (now_s() - last_print >= 1) {
            printf(".");
            fflush(stdout);
            last_print = now_s();
        }
        sleep_ms(100);
    }
    printf(" done\n");
    o.kubeconfig = kc;
    o.request_timeout = "5s";
    if ((rv = cli__client_open(&c, &o, e)) != 0)
        goto out;
    client = true;
    for (i = 1; i < st->n; i++)
        if ((rv = node_start(st, i, a, token, e)) != 0)
            goto out;
    /* the daemons' default: 3 voters from 3 nodes on; --voters after --
     * changes it, and then any number is accepted */
    want_voters = st->n >= 3 ? 3 : 1;
    for (i = 0; i < a->n_extra; i++)
        if (strncmp(a->extra[i], "--voters", 8) == 0)
            want_voters = 1;
    deadline = now_s() + UP_READY_S;
    for (;;) {
        if ((rv = nodes_alive(st, e)) != 0)
            goto out;
        ready = nodes_ready(&c, st);
        members = ready == (int)st->n ? members_settled(&c, st, &voters) : -1;
        if (members == (int)st->n && voters >= want_voters)
            break;
        if (ready != last || members != last_members || now_s() - last_print >= 5) {
            if (ready < 0)
                printf("waiting for %zu nodes: API not answering yet\n", st->n);
            else if (members < 0)
                printf("waiting for %zu nodes: %d Ready\n", st->n, ready);
            else
                printf("waiting for %zu nodes: %d Ready, %d Raft voters of %d\n", st->n, ready,
                       voters, want_voters);
            fflush(stdout);
            last = ready;
            last_members = members;
            last_print = now_s();
        }
        if (now_s() >= deadline) {
            for (i = 0; i < st->n; i++)
                log_tail(st->nodes[i].data_dir);
            rv = err_setf(e, ERR_TIMEOUT, "only %d of %zu nodes Ready after %d s",
                          ready < 0 ? 0 : ready, st->n, UP_READY_S);
            goto out;
        }
        sleep_ms(250);
    }
    printf("%zu nodes Ready and %d Raft voters after %.1f s\n", st->n, voters, now_s() - start);
    {
        char to[PATH_MAX + 32];
        snprintf(to, sizeof to, "%s/admin.kubeconfig", st->dir);
        rv = file_copy(kc, to, e);
    }
out:
    if (client)
        cli__client_close(&c);
    return rv;
}

/* Refuses, before anything is made, when dir already holds a cluster or a
 * name of ours is taken. */
static int up_preflight(const struct up_state *st, struct err *e)
{
    char p[PATH_MAX + 32];
    size_t i;

    if (geteuid() != 0)
        return err_setf(e, ERR_DENIED, "must run as root (network namespaces, veths, a bridge)");
    if (!in_path("ip"))
        return err_setf(e, ERR_NOTFOUND, "ip (iproute2) not found in PATH");
    snprintf(p, sizeof p, "%s/up.json", st->dir);
    if (access(p, F_OK) == 0)
        return err_setf(e, ERR_CONFLICT,
                        "%s already holds a cluster (up.json); 'skiff down --dir %s' first",
                        st->dir, st->dir);
    for (i = 0; i < st->n; i++) {
        snprintf(p, sizeof p, "%s/node.json", st->nodes[i].data_dir);
        if (access(p, F_OK) == 0)
            return err_setf(e, ERR_CONFLICT, "%s already holds a node", st->nodes[i].data_dir);
        if (netns_exists(st->nodes[i].name))
            return err_setf(e, ERR_CONFLICT,
                            "network namespace %s exists: name \"%s\" in use (--name)",
                            st->nodes[i].name, st->name);
        if (link_exists(st->nodes[i].veth))
            return err_setf(e, ERR_CONFLICT, "interface %s exists: name \"%s\" in use (--name)",
                            st->nodes[i].veth, st->name);
    }
    if (link_exists(st->bridge))
        return err_setf(e, ERR_CONFLICT, "interface %s exists: name \"%s\" in use (--name)",
                        st->bridge, st->name);
    return 0;
}

int cli_up(int argc, char **argv)
{
    struct up_args a;
    struct up_state *st;
    char dir[PATH_MAX];
    struct err e;
    bool made_dir = false;
    int rv = up_args_parse(argc, argv, &a);

    if (rv != 0)
        return rv == 1 ? 0 : rv;
    if (abs_dir(a.dir, dir, sizeof dir, &e) != 0) {
        fprintf(stderr, "skiff up: %s\n", e.msg);
        return 2;
    }
    st = calloc(1, sizeof *st);
    if (st == NULL)
        return 1;
    if (up_state_init(st, a.name, dir, a.subnet, a.nodes, &e) != 0) {
        fprintf(stderr, "skiff up: %s\n", e.msg);
        free(st);
        return 2;
    }
    if (up_preflight(st, &e) != 0) {
        fprintf(stderr, "skiff up: %s\n", e.msg);
        free(st);
        return 1;
    }
    for (size_t i = 0; i < a.n_images; i++) {
        if (access(a.images[i], R_OK) != 0) {
            fprintf(stderr, "skiff up: --image %s: %s\n", a.images[i], strerror(errno));
            free(st);
            return 1;
        }
    }
    if (mkdir(dir, 0755) == 0)
        made_dir = true;
    else if (errno != EEXIST) {
        fprintf(stderr, "skiff up: mkdir %s: %s\n", dir, strerror(errno));
        free(st);
        return 1;
    }
    printf("skiff up: %zu nodes \"%s\" in %s\n", st->n, st->name, st->dir);
    /* up.json first: whatever happens next, down can find it */
    rv = up_state_save(st, &e);
    if (rv == 0)
        rv = net_make(st, &e);
    if (rv == 0)
        rv = up_run(st, &a, &e);
    if (rv != 0) {
        fprintf(stderr, "skiff up: %s\nskiff up: undoing what this run made\n", e.msg);
        /* a dir that existed before keeps whatever else it held: only the
         * node dirs (none held a node, see up_preflight) and our files go */
        if (down_state(st, !made_dir) == 0 && !made_dir) {
            char p[PATH_MAX + 32];
            for (size_t i = 0; i < st->n; i++)
                up_rmtree(st->nodes[i].data_dir);
            snprintf(p, sizeof p, "%s/admin.kubeconfig", dir);
            unlink(p);
        }
        free(st);
        return 1;
    }
    printf("\ncluster \"%s\" is up: %zu nodes, API at https://%s:%d\n"
           "\n"
           "  export KUBECONFIG=%s/admin.kubeconfig\n"
           "  skiff get nodes\n"
           "  kubectl get nodes --kubeconfig %s/admin.kubeconfig\n"
           "\n"
           "node logs: %s/nK/skiff.log; a shell on node K: ip netns exec %s-nK sh\n"
           "stop and remove everything: skiff down --dir %s\n",
           st->name, st->n, st->nodes[0].ip, UP_API_PORT, st->dir, st->dir, st->dir, st->name,
           st->dir);
    free(st);
    return 0;
}
